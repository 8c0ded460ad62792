/*  test_recovery.c - the pure recovery scan: good prefixes, torn tails at
    every byte, bad records at the tail and in the middle, wrong seqs,
    payloads above the limit, resynchronisation past junk, and every bit
    flip of a small segment.
*/
#include "recovery.h"
#include "records.h"

//  A segment of COUNT records from FIRST_SEQ; record starts in STARTS
//  (COUNT + 1 of them, the last one is the end).
static uint8_t *s_segment (uint64_t first_seq, size_t count, size_t *starts)
{
    size_t total = 0;
    spec_t spec = {first_seq, 0, 1, 0, 0};
    for (size_t i = 0; i < count; i++) {
        spec.count = 1 + (uint32_t)(i % 4);
        spec.epoch = 1 + i / 3;
        total += gen_spec_size (&spec);
        spec.first_seq += spec.count;
    }
    uint8_t *bytes = (uint8_t *)malloc (total + 1);
    cr_assert_not_null (bytes);
    spec.first_seq = first_seq;
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
        spec.count = 1 + (uint32_t)(i % 4);
        spec.epoch = 1 + i / 3;
        starts[i] = off;
        off += gen_write (&spec, bytes + off);
        spec.first_seq += spec.count;
    }
    starts[count] = off;
    return bytes;
}

//  Entries of the first N records s_segment makes.
static uint64_t s_entries (size_t n)
{
    uint64_t entries = 0;
    for (size_t i = 0; i < n; i++)
        entries += 1 + i % 4;
    return entries;
}

Test (recovery, empty_and_good)
{
    recovery_scan_t scan;
    recovery_scan (NULL, 0, 7, MAX_PAYLOAD, &scan);
    cr_assert_not (scan.bad);
    cr_assert_eq (scan.valid_bytes, 0);
    cr_assert_eq (scan.records, 0);
    cr_assert_eq (scan.next_seq, 7);
    cr_assert_eq (scan.max_epoch, 0);

    size_t starts[11];
    uint8_t *bytes = s_segment (5, 10, starts);
    recovery_scan (bytes, starts[10], 5, MAX_PAYLOAD, &scan);
    cr_assert_not (scan.bad);
    cr_assert_eq (scan.valid_bytes, starts[10]);
    cr_assert_eq (scan.records, 10);
    cr_assert_eq (scan.entries, s_entries (10));
    cr_assert_eq (scan.next_seq, 5 + s_entries (10));
    cr_assert_eq (scan.max_epoch, 4);
    cr_assert_str_empty (scan.reason);
    cr_assert_eq (recovery_count_valid (bytes, starts[10], 0, 1), 10);
    cr_assert_eq (recovery_count_valid (bytes, starts[10], 1, 1), 9);
    cr_assert_eq (recovery_count_valid (bytes, starts[10], 0, 5 + s_entries (4)), 6);

    //  The segment must start at its first seq
    recovery_scan (bytes, starts[10], 4, MAX_PAYLOAD, &scan);
    cr_assert (scan.bad);
    cr_assert_eq (scan.valid_bytes, 0);
    cr_assert_eq (scan.error, RECORD_OK);
    cr_assert (scan.whole);
    cr_assert_str_eq (scan.reason, "seq 5, expected 4");
    cr_assert_eq (scan.valid_after, 9);
    free (bytes);
}

Test (recovery, torn_tail_every_byte)
{
    size_t starts[9];
    uint8_t *bytes = s_segment (1, 8, starts);
    for (size_t cut = starts[7] + 1; cut < starts[8]; cut++) {
        //  An exact heap copy: ASan sees any read past the cut
        uint8_t *copy = (uint8_t *)malloc (cut);
        memcpy (copy, bytes, cut);
        recovery_scan_t scan;
        recovery_scan (copy, cut, 1, MAX_PAYLOAD, &scan);
        cr_assert (scan.bad, "cut %zu", cut);
        cr_assert_eq (scan.valid_bytes, starts[7], "cut %zu", cut);
        cr_assert_eq (scan.records, 7);
        cr_assert_eq (scan.entries, s_entries (7));
        cr_assert_eq (scan.error, RECORD_SHORT);
        cr_assert_not (scan.whole);
        cr_assert_eq (scan.valid_after, 0);
        cr_assert_str_eq (scan.reason, "record runs past the end");
        free (copy);
    }
    free (bytes);
}

Test (recovery, bad_tail_and_bad_middle)
{
    size_t starts[7];
    uint8_t *bytes = s_segment (1, 6, starts);
    size_t size = starts[6];
    recovery_scan_t scan;
    //  A payload byte of the last record: a whole record with a bad CRC
    bytes[size - 1] ^= 0x01;
    recovery_scan (bytes, size, 1, MAX_PAYLOAD, &scan);
    cr_assert (scan.bad && scan.whole);
    cr_assert_eq (scan.error, RECORD_BAD_CRC);
    cr_assert_str_eq (scan.reason, "crc mismatch");
    cr_assert_eq (scan.valid_bytes, starts[5]);
    cr_assert_eq (scan.valid_after, 0);
    bytes[size - 1] ^= 0x01;
    //  The same in record 2: the four after it are valid data
    bytes[starts[3] - 1] ^= 0x01;
    recovery_scan (bytes, size, 1, MAX_PAYLOAD, &scan);
    cr_assert (scan.bad && scan.whole);
    cr_assert_eq (scan.valid_bytes, starts[2]);
    cr_assert_eq (scan.records, 2);
    cr_assert_eq (scan.valid_after, 3);
    bytes[starts[3] - 1] ^= 0x01;
    //  A size field that runs past the end, in the middle
    bytes[starts[1] + 2] = 0x7F;
    recovery_scan (bytes, size, 1, MAX_PAYLOAD, &scan);
    cr_assert (scan.bad);
    cr_assert_not (scan.whole);
    cr_assert_eq (scan.valid_bytes, starts[1]);
    cr_assert_eq (scan.valid_after, 4);
    free (bytes);
}

Test (recovery, payload_above_the_limit)
{
    size_t starts[4];
    uint8_t *bytes = s_segment (1, 3, starts);
    recovery_scan_t scan;
    //  Payloads are at most 100 bytes; a limit of 10 refuses the first
    recovery_scan (bytes, starts[3], 1, 10, &scan);
    cr_assert (scan.bad && scan.whole);
    cr_assert_eq (scan.error, RECORD_TOO_LARGE);
    cr_assert_str_eq (scan.reason, "payload too large");
    cr_assert_eq (scan.valid_bytes, 0);
    cr_assert_eq (scan.valid_after, 2); //  found with any payload size
    free (bytes);
}

Test (recovery, junk_then_records)
{
    size_t starts[5];
    uint8_t *records = s_segment (1, 4, starts);
    size_t junk = 333;
    uint8_t *bytes = (uint8_t *)malloc (junk + starts[4]);
    uint64_t x = 0x2545F4914F6CDD1Du;
    for (size_t i = 0; i < junk; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes[i] = (uint8_t)x;
    }
    memcpy (bytes + junk, records, starts[4]);
    recovery_scan_t scan;
    recovery_scan (bytes, junk + starts[4], 1, MAX_PAYLOAD, &scan);
    cr_assert (scan.bad);
    cr_assert_eq (scan.valid_bytes, 0);
    cr_assert_eq (scan.valid_after, 4);
    //  Records with seqs below where the prefix ends do not count
    cr_assert_eq (recovery_count_valid (bytes, junk + starts[4], 0, 1000), 0);
    memset (bytes, 0, junk);
    cr_assert_eq (recovery_count_valid (bytes, junk, 0, 1), 0);
    memset (bytes, 0xFF, junk);
    cr_assert_eq (recovery_count_valid (bytes, junk, 0, 1), 0);
    free (bytes);
    free (records);
}

Test (recovery, every_bit_flip)
{
    size_t starts[4];
    uint8_t *bytes = s_segment (1, 3, starts);
    size_t size = starts[3];
    for (size_t k = 0; k < 3; k++)
        for (size_t byte = starts[k]; byte < starts[k + 1]; byte++)
            for (int bit = 0; bit < 8; bit++) {
                bytes[byte] ^= (uint8_t)(1u << bit);
                recovery_scan_t scan;
                recovery_scan (bytes, size, 1, MAX_PAYLOAD, &scan);
                cr_assert (scan.bad, "byte %zu bit %d", byte, bit);
                cr_assert_eq (scan.valid_bytes, starts[k], "byte %zu bit %d", byte, bit);
                cr_assert_eq (scan.records, k);
                cr_assert_eq (scan.valid_after, 2 - k, "byte %zu bit %d", byte, bit);
                bytes[byte] ^= (uint8_t)(1u << bit);
            }
    free (bytes);
}
