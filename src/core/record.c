/*  record.c - the record batch format (record.h): check, read, build.

    Owns nothing but code: every function works on bytes the caller holds.
    record_check is the one gate for bytes that come from outside (a frame,
    a file): it bounds every length against the bytes that remain before
    using it, so a record it accepts can be walked (record_next) and sliced
    without further checks. record_peek trusts the CRC and entries (bytes
    this node already checked) but still bounds the header, so a store
    handing out a record never reads past what it holds.

    Integers are read and written byte by byte, little-endian: records sit
    unaligned in chunks, segments and frames.
*/
#include "record.h"
#include "crc32c.h"

#include <assert.h>
#include <string.h>

//  Offsets of the header fields
#define R_SIZE      0
#define R_CRC       4
#define R_EPOCH     8
#define R_FIRST_SEQ 16
#define R_COUNT     24
#define R_FLAGS     28
#define R_ID_SIZE   29
#define R_FIRST_REQ 30
//  The size field counts the bytes after itself
#define R_SIZE_MIN ((uint32_t)(RECORD_HEADER - 4))

static void s_put32 (uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void s_put64 (uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t s_get32 (const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t s_get64 (const uint8_t *p)
{
    return (uint64_t)s_get32 (p) | (uint64_t)s_get32 (p + 4) << 32;
}

const char *record_error_text (record_error_t error)
{
    switch (error) {
    case RECORD_OK:
        return "ok";
    case RECORD_SHORT:
        return "record runs past the end";
    case RECORD_BAD_SIZE:
        return "bad record size";
    case RECORD_BAD_CRC:
        return "crc mismatch";
    case RECORD_BAD_FIELD:
        return "bad record header";
    case RECORD_BAD_ENTRY:
        return "bad entry";
    case RECORD_TOO_LARGE:
        return "payload too large";
    }
    return "unknown record error";
}

//  --------------------------------------------------------------------------
//  Reading

//  The record's whole size from its size field, bounded by the SIZE bytes
//  available: the first check of every reader.
static record_error_t s_extent (const uint8_t *p, size_t size, size_t *total)
{
    if (size < 4)
        return RECORD_SHORT;
    uint32_t field = s_get32 (p + R_SIZE);
    if (field < R_SIZE_MIN || field > RECORD_SIZE_MAX)
        return RECORD_BAD_SIZE;
    if ((size_t)field > size - 4)
        return RECORD_SHORT;
    *total = 4 + (size_t)field;
    return RECORD_OK;
}

//  Size field and header fields, without the CRC or the entries.
record_error_t record_peek (const void *data, size_t size, record_t *out)
{
    assert (data || size == 0);
    assert (out);
    const uint8_t *p = (const uint8_t *)data;
    size_t total;
    record_error_t error = s_extent (p, size, &total);
    if (error != RECORD_OK)
        return error;
    uint64_t epoch = s_get64 (p + R_EPOCH);
    uint64_t first_seq = s_get64 (p + R_FIRST_SEQ);
    uint32_t count = s_get32 (p + R_COUNT);
    uint8_t flags = p[R_FLAGS];
    uint8_t id_size = p[R_ID_SIZE];
    if (epoch == 0 || first_seq == 0 || count == 0 || (flags & ~RECORD_F_MARKER) ||
        id_size > RECORD_CLIENT_ID_MAX || RECORD_HEADER + (size_t)id_size > total ||
        first_seq - 1 > UINT64_MAX - count)
        return RECORD_BAD_FIELD;
    out->bytes = p;
    out->size = total;
    out->crc = s_get32 (p + R_CRC);
    out->epoch = epoch;
    out->first_seq = first_seq;
    out->count = count;
    out->flags = flags;
    out->client_id = p + RECORD_HEADER;
    out->client_id_size = id_size;
    out->first_req = s_get64 (p + R_FIRST_REQ);
    out->entries = p + RECORD_HEADER + id_size;
    out->entries_size = total - RECORD_HEADER - id_size;
    return RECORD_OK;
}

//  Walk the entry section of R: COUNT whole minimal entries filling it
//  exactly, payloads within bounds, req ids not wrapping, marker rules.
static record_error_t s_check_entries (const record_t *r, size_t max_payload)
{
    const uint8_t *p = r->entries;
    const uint8_t *end = r->entries + r->entries_size;
    bool marker = (r->flags & RECORD_F_MARKER) != 0;
    if (marker && (r->count != 1 || r->client_id_size != 0))
        return RECORD_BAD_ENTRY;
    uint64_t req_id = r->first_req;
    for (uint32_t i = 0; i < r->count; i++) {
        uint64_t delta;
        const uint8_t *data;
        size_t size;
        size_t used = entries_get (p, end, &delta, &data, &size);
        if (used == 0 || (i == 0 && delta != 0) || delta > UINT64_MAX - req_id)
            return RECORD_BAD_ENTRY;
        req_id += delta;
        if (marker ? size != 0 : size == 0)
            return RECORD_BAD_ENTRY;
        if (size > max_payload)
            return RECORD_TOO_LARGE;
        p += used;
    }
    return p == end ? RECORD_OK : RECORD_BAD_ENTRY;
}

record_error_t record_check (const void *data, size_t size, size_t max_payload, record_t *out)
{
    assert (out);
    const uint8_t *p = (const uint8_t *)data;
    record_t r;
    //  Size bounds first: the CRC needs to know how far the record goes
    size_t total;
    record_error_t error = s_extent (p, size, &total);
    if (error != RECORD_OK)
        return error;
    if (crc32c (p + R_EPOCH, total - R_EPOCH) != s_get32 (p + R_CRC))
        return RECORD_BAD_CRC;
    error = record_peek (data, size, &r);
    if (error == RECORD_OK)
        error = s_check_entries (&r, max_payload);
    if (error == RECORD_OK)
        *out = r;
    return error;
}

void record_iter_init (record_iter_t *it, const record_t *r)
{
    assert (it && r);
    it->p = r->entries;
    it->end = r->entries + r->entries_size;
    it->seq = r->first_seq;
    it->req_id = r->first_req;
    it->left = r->count;
}

bool record_next (record_iter_t *it, record_entry_t *out)
{
    assert (it && out);
    if (it->left == 0)
        return false;
    uint64_t delta;
    size_t used = entries_get (it->p, it->end, &delta, &out->data, &out->size);
    if (used == 0) {
        it->left = 0; //  not a checked record: stop rather than read on
        return false;
    }
    it->p += used;
    it->req_id += delta;
    out->seq = it->seq++;
    out->req_id = it->req_id;
    it->left--;
    return true;
}

//  --------------------------------------------------------------------------
//  Building

size_t record_size (size_t id_size, size_t entries_size)
{
    return RECORD_HEADER + id_size + entries_size;
}

size_t record_write_header (uint8_t *out, uint64_t epoch, uint64_t first_seq, uint32_t count,
                            uint8_t flags, const uint8_t *client_id, size_t id_size,
                            uint64_t first_req)
{
    assert (out);
    assert (id_size <= RECORD_CLIENT_ID_MAX);
    assert (client_id || id_size == 0);
    s_put32 (out + R_SIZE, 0); //  sealed later
    s_put32 (out + R_CRC, 0);
    s_put64 (out + R_EPOCH, epoch);
    s_put64 (out + R_FIRST_SEQ, first_seq);
    s_put32 (out + R_COUNT, count);
    out[R_FLAGS] = flags;
    out[R_ID_SIZE] = (uint8_t)id_size;
    s_put64 (out + R_FIRST_REQ, first_req);
    if (id_size)
        memcpy (out + RECORD_HEADER, client_id, id_size);
    return RECORD_HEADER + id_size;
}

void record_seal (uint8_t *out, size_t size)
{
    assert (out);
    assert (size >= RECORD_HEADER && size - 4 <= RECORD_SIZE_MAX);
    s_put32 (out + R_SIZE, (uint32_t)(size - 4));
    s_put32 (out + R_CRC, crc32c (out + R_EPOCH, size - R_EPOCH));
}

size_t record_write (uint8_t *out, uint64_t epoch, uint64_t first_seq, uint32_t count,
                     uint8_t flags, const uint8_t *client_id, size_t id_size, uint64_t first_req,
                     const void *entries, size_t entries_size)
{
    assert (entries || entries_size == 0);
    size_t size =
        record_write_header (out, epoch, first_seq, count, flags, client_id, id_size, first_req);
    if (entries_size)
        memcpy (out + size, entries, entries_size);
    size += entries_size;
    record_seal (out, size);
    return size;
}
