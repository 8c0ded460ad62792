/*  recovery.c - the pure recovery scan of one segment (recovery.h).

    Finding valid records after a bad spot tries every byte offset, so the
    cheap header checks (record_peek: size within the bytes, sane fields,
    seq high enough) come before the CRC, which only runs on candidates.
*/
#include "recovery.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

//  First offset >= FROM where a valid record with seq >= MIN_SEQ starts
//  (its size into *RECORD), or SIZE when there is none.
static size_t s_find_valid (const uint8_t *bytes, size_t size, size_t from, uint64_t min_seq,
                            size_t *record)
{
    for (size_t off = from; off < size && size - off >= RECORD_HEADER; off++) {
        record_t r;
        if (record_peek (bytes + off, size - off, &r) != RECORD_OK || r.first_seq < min_seq)
            continue;
        if (record_check (bytes + off, size - off, SIZE_MAX, &r) == RECORD_OK) {
            *record = r.size;
            return off;
        }
    }
    return size;
}

uint64_t recovery_count_valid (const uint8_t *bytes, size_t size, size_t from, uint64_t min_seq)
{
    assert (bytes || size == 0);
    uint64_t count = 0;
    while (from < size) {
        size_t record = 0;
        size_t off = s_find_valid (bytes, size, from, min_seq, &record);
        if (off == size)
            break;
        count++;
        from = off + record;
    }
    return count;
}

void recovery_scan (const uint8_t *bytes, size_t size, uint64_t first_seq, size_t max_payload,
                    recovery_scan_t *out)
{
    assert (bytes || size == 0);
    assert (out);
    memset (out, 0, sizeof *out);
    out->next_seq = first_seq;
    size_t off = 0;
    while (off < size) {
        record_t r;
        record_error_t error = record_check (bytes + off, size - off, max_payload, &r);
        if (error == RECORD_OK && r.first_seq == out->next_seq) {
            off += r.size;
            out->records++;
            out->entries += r.count;
            out->next_seq = record_last_seq (&r) + 1;
            if (r.epoch > out->max_epoch)
                out->max_epoch = r.epoch;
            continue;
        }
        out->bad = true;
        out->error = error;
        //  Torn: the size is not sane or the bytes stop before it ends
        out->whole = error != RECORD_SHORT && error != RECORD_BAD_SIZE;
        if (error == RECORD_OK)
            snprintf (out->reason, sizeof out->reason, "seq %" PRIu64 ", expected %" PRIu64,
                      r.first_seq, out->next_seq);
        else
            snprintf (out->reason, sizeof out->reason, "%s", record_error_text (error));
        out->valid_after = recovery_count_valid (bytes, size, off + 1, out->next_seq);
        break;
    }
    out->valid_bytes = off;
}
