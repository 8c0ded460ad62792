/*  reads.c - LIST pages out of the log's records.

    Payloads are pointers into the store's slices, valid until the next
    append, so the reply is encoded before this returns.
*/
#include "reads.h"
#include "rlog.h"

int reads_list (proto_encoder_t *enc, store_t *store, uint64_t from, uint64_t limit,
                proto_payload_t *scratch)
{
    //  Readers see what is in the files, not what is still being written.
    uint64_t head = store_written (store);
    if (from == 0)
        from = 1;
    if (limit == 0 || limit > PROTO_LIST_MAX_ENTRIES)
        limit = PROTO_LIST_MAX_ENTRIES;
    size_t count = 0, bytes = 0;
    uint64_t seq = from;
    bool full = false;
    while (seq <= head && !full) {
        store_slice_t slice;
        if (store_slice (store, seq, head, PROTO_LIST_MAX_BYTES, &slice) != 0)
            break;
        size_t offset = 0;
        for (uint32_t r = 0; r < slice.records && !full; r++) {
            record_t rec;
            if (record_peek (slice.bytes + offset, slice.size - offset, &rec) != RECORD_OK)
                return -1;
            offset += rec.size;
            record_iter_t it;
            record_iter_init (&it, &rec);
            record_entry_t e;
            while (record_next (&it, &e)) {
                if (e.seq < seq)
                    continue;
                if (count == limit || (count > 0 && bytes + e.size > PROTO_LIST_MAX_BYTES)) {
                    full = true;
                    break;
                }
                scratch[count].data = e.data;
                scratch[count].size = e.size;
                bytes += e.size;
                count++;
                seq = e.seq + 1;
            }
        }
    }
    proto_msg_t msg = {.type = PROTO_LIST_REPLY,
                       .code = RLOG_OK,
                       .head = head,
                       .seq = from,
                       .payloads = scratch,
                       .payload_count = count};
    return proto_encode (enc, &msg);
}
