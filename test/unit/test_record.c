/*  test_record.c - the record batch format: varints, round trips, and a
    check that refuses every malformed record (truncations, bit flips,
    field and entry rules, marker rules, sizes).
*/
#include "crc32c.h"
#include "record.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAYLOAD 1000

//  A record of COUNT entries (payload i has i % 7 + 1 bytes of value i,
//  req ids first_req, +1, +3, +6 ...), client id of ID_SIZE bytes.
static size_t s_build (uint8_t *out, uint64_t epoch, uint64_t first_seq, uint32_t count,
                       size_t id_size, uint64_t first_req)
{
    uint8_t entries[4096];
    size_t used = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint8_t payload[8];
        memset (payload, (int)i, sizeof payload);
        used += entries_put (entries + used, i, payload, i % 7 + 1);
    }
    uint8_t id[RECORD_CLIENT_ID_MAX];
    for (size_t i = 0; i < id_size; i++)
        id[i] = (uint8_t)(i * 3);
    return record_write (out, epoch, first_seq, count, 0, id, id_size, first_req, entries, used);
}

//  Recompute only the CRC (the size field stays as it is).
static void s_recrc (uint8_t *record, size_t total)
{
    uint32_t crc = crc32c (record + 8, total - 8);
    for (int i = 0; i < 4; i++)
        record[4 + i] = (uint8_t)(crc >> (8 * i));
}

static record_error_t s_check (const uint8_t *bytes, size_t size)
{
    record_t r;
    return record_check (bytes, size, MAX_PAYLOAD, &r);
}

Test (record, varints)
{
    uint64_t values[] = {
        0,       1,          127,        128,        255,        16383,          16384,     2097151,
        2097152, UINT32_MAX, 1ull << 56, 1ull << 62, 1ull << 63, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        uint8_t buf[ENTRIES_VARINT_MAX];
        size_t size = entries_varint_put (buf, values[i]);
        cr_assert_eq (size, entries_varint_size (values[i]));
        cr_assert_leq (size, ENTRIES_VARINT_MAX);
        uint64_t back = 0;
        cr_assert_eq (entries_varint_get (buf, buf + size, &back), size);
        cr_assert_eq (back, values[i]);
        //  Every shorter read is truncated
        for (size_t cut = 0; cut < size; cut++)
            cr_assert_eq (entries_varint_get (buf, buf + cut, &back), 0);
    }
    cr_assert_eq (entries_varint_size (UINT64_MAX), 10);
    cr_assert_eq (entries_varint_size (127), 1);
    cr_assert_eq (entries_varint_size (128), 2);

    //  Not minimal, too long, or past 64 bits
    const uint8_t zero2[] = {0x80, 0x00};
    const uint8_t one3[] = {0x81, 0x80, 0x00};
    const uint8_t long11[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x81, 0x00};
    const uint8_t over64[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02};
    const uint8_t max64[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    uint64_t value;
    cr_assert_eq (entries_varint_get (zero2, zero2 + 2, &value), 0);
    cr_assert_eq (entries_varint_get (one3, one3 + 3, &value), 0);
    cr_assert_eq (entries_varint_get (long11, long11 + 11, &value), 0);
    cr_assert_eq (entries_varint_get (over64, over64 + 10, &value), 0);
    cr_assert_eq (entries_varint_get (max64, max64 + 10, &value), 10);
    cr_assert_eq (value, UINT64_MAX);
    const uint8_t zero[] = {0x00};
    cr_assert_eq (entries_varint_get (zero, zero + 1, &value), 1);
    cr_assert_eq (value, 0);
}

Test (record, entries)
{
    uint8_t buf[64];
    const uint8_t payload[] = {0, 1, 2, 0};
    size_t size = entries_put (buf, 300, payload, sizeof payload);
    cr_assert_eq (size, entries_size (300, sizeof payload));
    cr_assert_eq (size, 2 + 1 + 4);
    uint64_t delta;
    const uint8_t *data;
    size_t data_size;
    cr_assert_eq (entries_get (buf, buf + size, &delta, &data, &data_size), size);
    cr_assert_eq (delta, 300);
    cr_assert_eq (data_size, 4);
    cr_assert_eq (memcmp (data, payload, 4), 0);
    for (size_t cut = 0; cut < size; cut++)
        cr_assert_eq (entries_get (buf, buf + cut, &delta, &data, &data_size), 0);
    //  A payload size beyond the end, in a minimal varint
    uint8_t big[] = {0x00, 0x7F, 1, 2};
    cr_assert_eq (entries_get (big, big + sizeof big, &delta, &data, &data_size), 0);
    cr_assert_leq (entries_size (UINT64_MAX, SIZE_MAX / 2) - SIZE_MAX / 2, ENTRIES_OVERHEAD);
}

Test (record, round_trip)
{
    size_t id_sizes[] = {0, 16, RECORD_CLIENT_ID_MAX};
    for (size_t k = 0; k < 3; k++) {
        uint8_t buf[8192];
        size_t size = s_build (buf, 7, 1000, 50, id_sizes[k], 900);
        cr_assert_eq (size, buf[0] + 256u * buf[1] + 4);
        record_t r;
        cr_assert_eq (record_check (buf, size, MAX_PAYLOAD, &r), RECORD_OK);
        cr_assert_eq (r.bytes, buf);
        cr_assert_eq (r.size, size);
        cr_assert_eq (r.epoch, 7);
        cr_assert_eq (r.first_seq, 1000);
        cr_assert_eq (r.count, 50);
        cr_assert_eq (record_last_seq (&r), 1049);
        cr_assert_eq (r.flags, 0);
        cr_assert_eq (r.client_id_size, id_sizes[k]);
        cr_assert_eq (r.client_id, buf + RECORD_HEADER);
        for (size_t i = 0; i < id_sizes[k]; i++)
            cr_assert_eq (r.client_id[i], (uint8_t)(i * 3));
        cr_assert_eq (r.first_req, 900);
        cr_assert_eq (r.entries, buf + RECORD_HEADER + id_sizes[k]);
        cr_assert_eq (r.entries + r.entries_size, buf + size);
        cr_assert_eq (size, record_size (id_sizes[k], r.entries_size));

        record_iter_t it;
        record_iter_init (&it, &r);
        record_entry_t e;
        uint64_t req = 900;
        for (uint32_t i = 0; i < 50; i++) {
            cr_assert (record_next (&it, &e));
            req += i;
            cr_assert_eq (e.seq, 1000 + i);
            cr_assert_eq (e.req_id, req);
            cr_assert_eq (e.size, i % 7 + 1);
            for (size_t j = 0; j < e.size; j++)
                cr_assert_eq (e.data[j], (uint8_t)i);
        }
        cr_assert_not (record_next (&it, &e));
        cr_assert_not (record_next (&it, &e));

        //  Peek reads the same header without the CRC
        record_t p;
        cr_assert_eq (record_peek (buf, size, &p), RECORD_OK);
        cr_assert (p.bytes == r.bytes && p.size == r.size && p.crc == r.crc && p.epoch == r.epoch &&
                   p.first_seq == r.first_seq && p.count == r.count && p.flags == r.flags &&
                   p.client_id == r.client_id && p.client_id_size == r.client_id_size &&
                   p.first_req == r.first_req && p.entries == r.entries &&
                   p.entries_size == r.entries_size);
        //  Followed by more bytes: the record still says where it ends
        memset (buf + size, 0xEE, 100);
        cr_assert_eq (record_check (buf, size + 100, MAX_PAYLOAD, &r), RECORD_OK);
        cr_assert_eq (r.size, size);
    }
}

Test (record, built_in_pieces_is_the_same)
{
    uint8_t whole[512], pieces[512];
    size_t size = s_build (whole, 3, 5, 4, 16, 77);
    uint8_t id[16];
    for (size_t i = 0; i < 16; i++)
        id[i] = (uint8_t)(i * 3);
    size_t used = record_write_header (pieces, 3, 5, 4, 0, id, 16, 77);
    cr_assert_eq (used, RECORD_HEADER + 16);
    for (uint32_t i = 0; i < 4; i++) {
        uint8_t payload[8];
        memset (payload, (int)i, sizeof payload);
        used += entries_put (pieces + used, i, payload, i % 7 + 1);
    }
    record_seal (pieces, used);
    cr_assert_eq (used, size);
    cr_assert_eq (memcmp (whole, pieces, size), 0);
}

Test (record, back_to_back)
{
    uint8_t buf[4096];
    size_t a = s_build (buf, 1, 1, 3, 0, 1);
    size_t b = s_build (buf + a, 1, 4, 10, 16, 50);
    record_t r;
    cr_assert_eq (record_check (buf, a + b, MAX_PAYLOAD, &r), RECORD_OK);
    cr_assert_eq (r.size, a);
    cr_assert_eq (record_check (buf + r.size, a + b - r.size, MAX_PAYLOAD, &r), RECORD_OK);
    cr_assert_eq (r.first_seq, 4);
}

Test (record, every_truncation)
{
    uint8_t buf[2048];
    size_t size = s_build (buf, 9, 100, 20, 16, 5);
    uint8_t *copy = (uint8_t *)malloc (size);
    cr_assert_not_null (copy);
    for (size_t cut = 0; cut < size; cut++) {
        //  A heap copy of exactly CUT bytes: ASan sees any read past it
        memcpy (copy, buf, cut);
        record_t r;
        cr_assert_eq (record_check (copy, cut, MAX_PAYLOAD, &r), RECORD_SHORT, "cut %zu", cut);
        cr_assert_neq (record_peek (copy, cut, &r), RECORD_OK, "cut %zu", cut);
    }
    memcpy (copy, buf, size);
    cr_assert_eq (s_check (copy, size), RECORD_OK);
    free (copy);
}

Test (record, every_bit_flip)
{
    uint8_t buf[1024];
    size_t size = s_build (buf, 9, 100, 12, 16, 5);
    uint8_t *copy = (uint8_t *)malloc (size);
    cr_assert_not_null (copy);
    for (size_t byte = 0; byte < size; byte++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy (copy, buf, size);
            copy[byte] ^= (uint8_t)(1u << bit);
            cr_assert_neq (s_check (copy, size), RECORD_OK, "byte %zu bit %d", byte, bit);
        }
    free (copy);
}

//  Field rules behind a good CRC: change the record, fix the CRC, check.
Test (record, header_fields)
{
    uint8_t buf[1024], bad[1024];
    size_t size = s_build (buf, 9, 100, 3, 16, 5);
    struct {
        size_t offset;
        uint8_t value;
        record_error_t expect;
    } cases[] = {
        {24, 0, RECORD_BAD_FIELD},                                //  count 0
        {28, 0x02, RECORD_BAD_FIELD},                             //  unknown flag
        {28, 0x80, RECORD_BAD_FIELD}, {29, 65, RECORD_BAD_FIELD}, //  client id above 64
        {29, 255, RECORD_BAD_FIELD},  {24, 4, RECORD_BAD_ENTRY},  //  count 4, 3 entries
        {24, 2, RECORD_BAD_ENTRY},                                //  count 2, a third entry trails
        {29, 15, RECORD_BAD_ENTRY}, //  id one shorter: entries misread
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy (bad, buf, size);
        bad[cases[i].offset] = cases[i].value;
        s_recrc (bad, size);
        cr_assert_eq (s_check (bad, size), cases[i].expect, "case %zu", i);
    }
    //  Epoch 0, first seq 0
    memcpy (bad, buf, size);
    memset (bad + 8, 0, 8);
    s_recrc (bad, size);
    cr_assert_eq (s_check (bad, size), RECORD_BAD_FIELD);
    memcpy (bad, buf, size);
    memset (bad + 16, 0, 8);
    s_recrc (bad, size);
    cr_assert_eq (s_check (bad, size), RECORD_BAD_FIELD);
    //  Last seq past 2^64 - 1: first seq 2^64 - 2 with 3 entries
    memcpy (bad, buf, size);
    memset (bad + 16, 0xFF, 8);
    bad[16] = 0xFE;
    s_recrc (bad, size);
    cr_assert_eq (s_check (bad, size), RECORD_BAD_FIELD);
    bad[16] = 0xFD; //  ends exactly at 2^64 - 1
    s_recrc (bad, size);
    cr_assert_eq (s_check (bad, size), RECORD_OK);
}

Test (record, size_field)
{
    uint8_t buf[1024], bad[1024];
    size_t size = s_build (buf, 9, 100, 3, 0, 5);
    //  Below the header
    memcpy (bad, buf, size);
    bad[0] = RECORD_HEADER - 5;
    bad[1] = 0;
    s_recrc (bad, size);
    cr_assert_eq (s_check (bad, size), RECORD_BAD_SIZE);
    //  Above 2^31, with all the bytes claimed "available"
    memcpy (bad, buf, size);
    bad[0] = 1;
    bad[1] = bad[2] = 0;
    bad[3] = 0x80;
    cr_assert_eq (s_check (bad, size), RECORD_BAD_SIZE);
    record_t r;
    cr_assert_eq (record_peek (bad, SIZE_MAX, &r), RECORD_BAD_SIZE);
    //  Exactly the header: no entries, count 1
    uint8_t bare[RECORD_HEADER];
    record_write_header (bare, 1, 1, 1, 0, NULL, 0, 0);
    record_seal (bare, sizeof bare);
    cr_assert_eq (s_check (bare, sizeof bare), RECORD_BAD_ENTRY);
    cr_assert_eq (record_peek (bare, sizeof bare, &r), RECORD_OK);
}

//  A record of one or two hand-made entry sections.
static size_t s_raw (uint8_t *out, uint32_t count, uint8_t flags, size_t id_size,
                     const uint8_t *entries, size_t size)
{
    uint8_t id[RECORD_CLIENT_ID_MAX] = {0};
    return record_write (out, 1, 1, count, flags, id, id_size, 10, entries, size);
}

Test (record, entry_rules)
{
    uint8_t buf[4096];
    record_t r;
    struct {
        const char *name;
        uint8_t entries[16];
        size_t size;
        uint32_t count;
        record_error_t expect;
    } cases[] = {
        {"good", {0, 1, 'a', 1, 2, 'b', 'c'}, 7, 2, RECORD_OK},
        {"first delta not 0", {1, 1, 'a'}, 3, 1, RECORD_BAD_ENTRY},
        {"non-minimal delta", {0x80, 0x00, 1, 'a'}, 4, 1, RECORD_BAD_ENTRY},
        {"non-minimal size", {0, 0x81, 0x00, 'a'}, 4, 1, RECORD_BAD_ENTRY},
        {"empty payload", {0, 0}, 2, 1, RECORD_BAD_ENTRY},
        {"payload overruns", {0, 3, 'a', 'b'}, 4, 1, RECORD_BAD_ENTRY},
        {"varint overruns", {0, 0x81}, 2, 1, RECORD_BAD_ENTRY},
        {"trailing byte", {0, 1, 'a', 0}, 4, 1, RECORD_BAD_ENTRY},
        {"missing entry", {0, 1, 'a'}, 3, 2, RECORD_BAD_ENTRY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t size = s_raw (buf, cases[i].count, 0, 16, cases[i].entries, cases[i].size);
        cr_assert_eq (record_check (buf, size, MAX_PAYLOAD, &r), cases[i].expect, "%s",
                      cases[i].name);
    }
    //  req ids must not wrap: first_req 10 + delta 2^64 - 10
    uint8_t wrap[32] = {0, 1, 'a'};
    size_t used = 3 + entries_varint_put (wrap + 3, UINT64_MAX - 9);
    wrap[used++] = 1;
    wrap[used++] = 'b';
    size_t size = s_raw (buf, 2, 0, 0, wrap, used);
    cr_assert_eq (record_check (buf, size, MAX_PAYLOAD, &r), RECORD_BAD_ENTRY);
    used = 3 + entries_varint_put (wrap + 3, UINT64_MAX - 10); //  exactly 2^64 - 1
    wrap[used++] = 1;
    wrap[used++] = 'b';
    size = s_raw (buf, 2, 0, 0, wrap, used);
    cr_assert_eq (record_check (buf, size, MAX_PAYLOAD, &r), RECORD_OK);
}

Test (record, payload_sizes)
{
    uint8_t *entries = (uint8_t *)calloc (1, MAX_PAYLOAD + 32);
    uint8_t *buf = (uint8_t *)malloc (MAX_PAYLOAD + 256);
    cr_assert (entries && buf);
    uint8_t *payload = (uint8_t *)calloc (1, MAX_PAYLOAD + 1);
    record_t r;
    size_t used = entries_put (entries, 0, payload, MAX_PAYLOAD);
    size_t size = s_raw (buf, 1, 0, 0, entries, used);
    cr_assert_eq (record_check (buf, size, MAX_PAYLOAD, &r), RECORD_OK);
    cr_assert_eq (record_check (buf, size, MAX_PAYLOAD - 1, &r), RECORD_TOO_LARGE);
    used = entries_put (entries, 0, payload, MAX_PAYLOAD + 1);
    size = s_raw (buf, 1, 0, 0, entries, used);
    cr_assert_eq (record_check (buf, size, MAX_PAYLOAD, &r), RECORD_TOO_LARGE);
    //  A payload size that claims more than 2^32 bytes is an overrun
    used = entries_varint_put (entries, 0);
    used += entries_varint_put (entries + used, (uint64_t)1 << 40);
    size = s_raw (buf, 1, 0, 0, entries, used);
    cr_assert_eq (record_check (buf, size, SIZE_MAX, &r), RECORD_BAD_ENTRY);
    free (payload);
    free (entries);
    free (buf);
}

Test (record, marker)
{
    uint8_t buf[256];
    record_t r;
    const uint8_t empty[] = {0, 0};
    size_t size = s_raw (buf, 1, RECORD_F_MARKER, 0, empty, sizeof empty);
    cr_assert_eq (record_check (buf, size, MAX_PAYLOAD, &r), RECORD_OK);
    cr_assert_eq (r.flags, RECORD_F_MARKER);
    record_iter_t it;
    record_entry_t e;
    record_iter_init (&it, &r);
    cr_assert (record_next (&it, &e));
    cr_assert_eq (e.size, 0);
    cr_assert_not (record_next (&it, &e));
    //  Marker with a client id, two entries, or a payload
    size = s_raw (buf, 1, RECORD_F_MARKER, 16, empty, sizeof empty);
    cr_assert_eq (record_check (buf, size, MAX_PAYLOAD, &r), RECORD_BAD_ENTRY);
    const uint8_t two[] = {0, 0, 0, 0};
    size = s_raw (buf, 2, RECORD_F_MARKER, 0, two, sizeof two);
    cr_assert_eq (record_check (buf, size, MAX_PAYLOAD, &r), RECORD_BAD_ENTRY);
    const uint8_t one[] = {0, 1, 'x'};
    size = s_raw (buf, 1, RECORD_F_MARKER, 0, one, sizeof one);
    cr_assert_eq (record_check (buf, size, MAX_PAYLOAD, &r), RECORD_BAD_ENTRY);
}

Test (record, error_texts)
{
    cr_assert_str_eq (record_error_text (RECORD_BAD_CRC), "crc mismatch");
    for (int i = RECORD_OK; i <= RECORD_TOO_LARGE; i++) {
        cr_assert_not_null (record_error_text ((record_error_t)i));
        for (int j = RECORD_OK; j < i; j++)
            cr_assert_str_neq (record_error_text ((record_error_t)i),
                               record_error_text ((record_error_t)j));
    }
}
