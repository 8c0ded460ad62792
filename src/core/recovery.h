/*  recovery.h - the pure scan behind opening a disk store: the bytes of
    one segment in, a report out. No files, no allocation, no state; the
    disk store (store_disk.c) and the fuzz harness both call it.

    A segment holds records back to back (record.h), the first one starting
    at the segment's first seq, each next one at the seq after the last.
    The scan keeps the longest prefix of records that pass record_check
    with those seqs. If something else follows, it says what and why, and
    whether a valid record (a good CRC, seq at or above where the prefix
    ends) starts anywhere after it, resynchronising byte by byte: that is
    what tells a torn tail (cut it) from corruption in the middle (valid
    data would be lost).
*/
#ifndef RECOVERY_H_INCLUDED
#define RECOVERY_H_INCLUDED

#include "record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t valid_bytes; //  prefix of good records
    uint64_t records;     //  good records in it
    uint64_t entries;     //  their entries
    uint64_t next_seq;    //  seq the next record must start at
    uint64_t max_epoch;   //  largest epoch in the prefix (0 if empty)
    //  What follows the prefix, if anything (bad is false otherwise)
    bool bad;
    record_error_t error; //  RECORD_OK when the record is fine but its seq is not
    bool whole;           //  the bad record has a sane size and all its bytes
    char reason[64];      //  record_error_text, or "seq S, expected E"
    uint64_t valid_after; //  valid records found after the bad offset
} recovery_scan_t;

//  Scan SIZE bytes of a segment whose first record must hold FIRST_SEQ;
//  payloads up to MAX_PAYLOAD.
void recovery_scan (const uint8_t *bytes, size_t size, uint64_t first_seq, size_t max_payload,
                    recovery_scan_t *out);

//  Valid records (any payload size, seq >= MIN_SEQ) in BYTES[FROM..SIZE),
//  resynchronising past junk: for bytes after a bad spot, and for whole
//  segments after it.
uint64_t recovery_count_valid (const uint8_t *bytes, size_t size, size_t from, uint64_t min_seq);

#endif
