/*  ingest.h - one client request into the log, and the log back into the
    dedup table.

    A request (an APPEND, or an APPEND_BATCH whose entry section is already
    in record.h's entry format) is walked once to check it, then once more
    with appends_entry deciding each entry; the new entries become ONE
    record written in place at the end of the store. When every entry is
    new (the usual case) the client's entry section is copied as is; else
    the new entries are re-packed with their request-id deltas recomputed.
    Pure: the store and the appends table are data, not sockets.
*/
#ifndef INGEST_H_INCLUDED
#define INGEST_H_INCLUDED

#include "appends.h"
#include "store.h"

typedef struct {
    const uint8_t *client_id; //  DEDUP_ID_SIZE bytes
    uint64_t first_req;
    uint64_t count; //  entries: 1 for an APPEND
    bool batch;     //  DATA is an entry section (else one payload)
    const uint8_t *data;
    size_t size;
} ingest_request_t;

//  Check an APPEND_BATCH's entry section: exactly COUNT minimal entries,
//  the first with delta 0 and the others with deltas >= 1. 0, or -1 with
//  a reason in WHY ("entry 3 of the batch is malformed").
int ingest_check (const ingest_request_t *req, char *why, size_t why_size);

//  Decide every entry of REQ (begun with appends_begin) and append the new
//  ones as one record of EPOCH. VERDICTS has room for COUNT verdicts.
//  Returns the seq of the first new entry, 0 when none was new, or -1
//  (errno set) when the store refused the record.
int64_t ingest_run (appends_t *appends, store_t *store, uint64_t epoch, const ingest_request_t *req,
                    uint8_t *verdicts);

//  Feed every record of STORE to appends_recover. 0, or -1.
int ingest_recover (appends_t *appends, store_t *store);

#endif
