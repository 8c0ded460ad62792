/*  ingest.c - one client request into the log (see ingest.h).
 */
#include "ingest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

//  The next entry of REQ at *P: one payload for an APPEND, else an entry of
//  the (checked) section.
static void s_next (const ingest_request_t *req, const uint8_t **p, uint64_t *delta,
                    const uint8_t **data, size_t *size)
{
    if (!req->batch) {
        *delta = 0;
        *data = req->data;
        *size = req->size;
        return;
    }
    *p += entries_get (*p, req->data + req->size, delta, data, size);
}

int ingest_check (const ingest_request_t *req, char *why, size_t why_size)
{
    if (!req->batch)
        return 0;
    const uint8_t *p = req->data, *end = req->data + req->size;
    for (uint64_t i = 0; i < req->count; i++) {
        uint64_t delta;
        const uint8_t *data;
        size_t size;
        size_t used = entries_get (p, end, &delta, &data, &size);
        if (used == 0 || (i == 0) != (delta == 0)) {
            snprintf (why, why_size, "entry %llu of the batch is malformed", (unsigned long long)i);
            return -1;
        }
        p += used;
    }
    if (p != end) {
        snprintf (why, why_size, "the batch holds more than its %llu entries",
                  (unsigned long long)req->count);
        return -1;
    }
    return 0;
}

//  Write the record of the new entries (NEW_COUNT of them, NEW_BYTES of
//  entry section, the first with request id FIRST_NEW) at the end of STORE.
static int64_t s_write (store_t *store, uint64_t epoch, const ingest_request_t *req,
                        const uint8_t *verdicts, size_t new_count, size_t new_bytes,
                        uint64_t first_new)
{
    uint8_t *out = store_reserve (store, record_size (DEDUP_ID_SIZE, new_bytes));
    if (!out)
        return -1;
    uint64_t first_seq = store_head (store) + 1;
    size_t at = record_write_header (out, epoch, first_seq, (uint32_t)new_count, 0, req->client_id,
                                     DEDUP_ID_SIZE, first_new);
    if (req->batch && new_count == req->count) {
        memcpy (out + at, req->data, req->size); //  the client's section, as is
        at += req->size;
    } else {
        const uint8_t *p = req->data;
        uint64_t req_id = req->first_req, last = first_new;
        for (uint64_t i = 0; i < req->count; i++) {
            uint64_t delta;
            const uint8_t *data;
            size_t size;
            s_next (req, &p, &delta, &data, &size);
            req_id += delta;
            if (verdicts[i] != APPENDS_NEW)
                continue;
            at += entries_put (out + at, req_id - last, data, size);
            last = req_id;
        }
    }
    record_seal (out, at);
    return store_append_reserved (store) == 0 ? (int64_t)first_seq : -1;
}

int64_t ingest_run (appends_t *appends, store_t *store, uint64_t epoch, const ingest_request_t *req,
                    uint8_t *verdicts)
{
    size_t new_count = 0, new_bytes = 0;
    uint64_t first_new = 0, last_new = 0, req_id = req->first_req;
    const uint8_t *p = req->data;
    for (uint64_t i = 0; i < req->count; i++) {
        uint64_t delta;
        const uint8_t *data;
        size_t size;
        s_next (req, &p, &delta, &data, &size);
        req_id += delta;
        verdicts[i] = (uint8_t)appends_entry (appends, req_id, size);
        if (verdicts[i] != APPENDS_NEW)
            continue;
        new_bytes += entries_size (new_count ? req_id - last_new : 0, size);
        if (!new_count)
            first_new = req_id;
        last_new = req_id;
        new_count++;
    }
    if (!new_count)
        return 0;
    return s_write (store, epoch, req, verdicts, new_count, new_bytes, first_new);
}

int ingest_recover (appends_t *appends, store_t *store)
{
    uint64_t head = store_head (store);
    for (uint64_t seq = 1; seq <= head;) {
        store_slice_t slice;
        if (store_slice (store, seq, head, 1024 * 1024, &slice) != 0)
            return -1;
        for (size_t at = 0; at < slice.size;) {
            record_t rec;
            if (record_peek (slice.bytes + at, slice.size - at, &rec) != RECORD_OK ||
                appends_recover (appends, &rec) != 0)
                return -1;
            at += rec.size;
        }
        seq = slice.last_seq + 1;
    }
    return 0;
}
