/*  appends.h - the master's appends, from admission to reply.

    Lifecycle of one client request (an APPEND is a batch of one):

      begin     whole-request checks, in this order: w in 1..max_w (BAD_W);
                count >= 1 (MALFORMED); a retry of a request still parked
                (same client id, first_req, count) moves that request to the
                new route and is done (its outcome is known even if dedup
                forgot the client since); the client id is known (else
                STALE: see dedup.h); the route's and the table's parking
                limits (BUSY). A refusal is answered at once and begin
                returns -1.
      entry     per entry, in order: payload size (EMPTY, TOO_LARGE), then
                dedup: seen before -> a duplicate at its original seq;
                below the window -> STALE; else new, unless new entries are
                refused now (READ_ONLY, with the master's reason) -> refused.
                The master copies each new entry into the record it builds.
      end       the new entries got seqs FIRST_SEQ.. (the master appended
                them as one record); dedup remembers them. The request waits
                for the highest seq it names (new or duplicate) to be held by
                w nodes: answered now if it already is, else parked until
                durable() finds it held or its deadline passes.
      durable   after ACKs or a commit: every parked request whose seq is
                held by w nodes is answered OK (one FIFO per w, so the
                answers are a prefix of each FIFO).
      expire    deadlines passed: TIMEOUT "stored on m of w nodes" (the
                entries stay and keep replicating).
      rollback  the log could not write entries above WRITTEN: requests
                waiting for a seq there are answered INTERNAL "not stored"
                and dedup forgets the ids of the lost entries, so a retry
                appends them again.
      shutdown  every parked request is answered with its progress.

    One record per parked request carries the client id, first request id,
    count, w, seq waited for, deadline and reply route; the per-w FIFOs, the
    deadline heap, the retry index and the per-route counts are indexes on
    it. Pure: no sockets, no clock (NOW is passed in); replies go out through
    the callback given to appends_new.

    HELD describes which seqs nodes hold: HELD[i] is the highest seq node i
    holds with no gap (the master's own durable seq among them), in any
    order, N <= APPENDS_MAX_NODES.
*/
#ifndef APPENDS_H_INCLUDED
#define APPENDS_H_INCLUDED

#include "dedup.h"
#include "record.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APPENDS_ROUTE_MAX 256 //  bytes of an opaque reply address
#define APPENDS_MAX_NODES 33  //  master + 32 secondaries

typedef struct {
    uint32_t max_w;          //  nodes: master + secondaries
    size_t max_payload;      //  largest entry accepted (--max-msg)
    size_t max_parked;       //  requests parked at once (--max-waiters)
    size_t max_route_parked; //  ... from one route (--max-client-waiting)
    size_t dedup_clients;    //  dedup.h bounds (0 = its defaults)
    size_t dedup_window;
    size_t dedup_runs;
    uint64_t nonce; //  seeds issued client ids
} appends_config_t;

//  One request, as the master decoded it.
typedef struct {
    const uint8_t *route; //  where the reply goes (opaque, <= APPENDS_ROUTE_MAX)
    size_t route_size;
    const uint8_t *client_id; //  DEDUP_ID_SIZE bytes
    uint64_t first_req;
    uint32_t count; //  entries (1 for APPEND)
    uint64_t w;
    uint64_t timeout_ms; //  0 = wait as long as it takes
    bool batch;          //  answer with an APPEND_BATCH_REPLY
    bool may_park;       //  it may wait (w > 1, or a log that answers after a write):
                         //  only then do the parking limits apply
} appends_request_t;

//  An entry of a batch that is not "new, at the next seq".
typedef struct {
    uint32_t index;
    uint32_t code; //  RLOG_OK for a duplicate (at SEQ), else the refusal
    uint64_t seq;
} appends_exception_t;

//  A reply to send. Pointers are valid during the callback only.
typedef struct {
    const uint8_t *route;
    size_t route_size;
    bool batch;
    uint64_t first_req;
    uint32_t count;
    int code;           //  OK / TIMEOUT / INTERNAL, or the whole-request refusal,
                        //  or (every entry refused) the first entry's refusal
    uint64_t first_seq; //  seq of the first new entry; 0 if none
    uint64_t seq;       //  APPEND: the entry's seq (new or original); 0 if refused
    uint32_t acks;      //  nodes holding the highest seq it waited for
    uint32_t w;
    const appends_exception_t *exceptions;
    size_t exception_count;
    const char *text; //  human summary, "" if none
} appends_reply_t;

typedef void (appends_reply_fn) (void *arg, const appends_reply_t *reply);

typedef enum {
    APPENDS_NEW = 0,    //  store it: it gets the next seq
    APPENDS_DUP = 1,    //  already stored: nothing to store
    APPENDS_REFUSED = 2 //  nothing stored
} appends_verdict_t;

typedef struct _appends_t appends_t;

appends_t *appends_new (const appends_config_t *config, appends_reply_fn *fn, void *arg);
void appends_destroy (appends_t **self_p);

//  Issue a client id (OPEN) into ID (DEDUP_ID_SIZE bytes). 0 or -1.
int appends_open (appends_t *self, uint8_t *id);

//  Rebuild the dedup table from one checked record of the log, in seq
//  order (recovery; markers and records without a client id are skipped).
int appends_recover (appends_t *self, const record_t *record);

//  Start admitting REQ. REFUSE_NEW (0 = none) is the code every new entry
//  gets instead of being stored (RLOG_READ_ONLY), with REFUSE_TEXT. Returns
//  0 (go on with appends_entry for each entry, then appends_end), or -1
//  (answered already: refused, or a parked retry rebound to the new route).
int appends_begin (appends_t *self, const appends_request_t *req, int refuse_new,
                   const char *refuse_text, int64_t now);

//  The next entry of the request begun: its request id and payload size.
appends_verdict_t appends_entry (appends_t *self, uint64_t req_id, size_t size);

//  Finish the request begun: its new entries got seqs FIRST_SEQ.. (0 if
//  none was new). Answers now or parks it (see above).
void appends_end (appends_t *self, uint64_t first_seq, const uint64_t *held, size_t n, int64_t now);

//  Abandon the request begun without storing its new entries (the log
//  refused the append): answered CODE with TEXT.
void appends_abort (appends_t *self, int code, const char *text);

//  Answer what HELD now covers. Returns how many requests were answered.
size_t appends_durable (appends_t *self, const uint64_t *held, size_t n);

//  Answer TIMEOUT every request whose deadline is <= NOW.
size_t appends_expire (appends_t *self, int64_t now, const uint64_t *held, size_t n);

//  The log lost everything above WRITTEN (see above).
size_t appends_rollback (appends_t *self, uint64_t written, const char *text);

//  Answer every parked request with its progress (TIMEOUT, or OK if HELD
//  meets its w), e.g. at stop.
size_t appends_shutdown (appends_t *self, const uint64_t *held, size_t n);

//  Earliest deadline of a parked request, -1 if none.
int64_t appends_next_deadline (appends_t *self);

size_t appends_parked (appends_t *self);
size_t appends_route_parked (appends_t *self, const uint8_t *route, size_t route_size);
dedup_t *appends_dedup (appends_t *self);

#endif
