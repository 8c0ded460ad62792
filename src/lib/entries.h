/*  entries.h - the entry section a client sends in APPEND_BATCH.

    Each entry is `varint req_delta, varint size, payload`: req_delta is the
    entry's request id minus the previous entry's (0 for the first entry,
    whose id is the frame's first_req; at least 1 after it), size the
    payload's bytes. Varints are unsigned LEB128, minimal, at most 10 bytes.
    This is the entry section of src/core/record.h's record batch, so the
    master stores what the client built without re-encoding it: the client
    library and the node share this one writer and reader of it.
*/
#ifndef ENTRIES_H_INCLUDED
#define ENTRIES_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define ENTRIES_VARINT_MAX 10
//  An entry's bytes beyond its payload, at most (two varints)
#define ENTRIES_OVERHEAD (2 * ENTRIES_VARINT_MAX)

//  Varints: put returns the bytes written (1..10); get the bytes read, 0
//  when truncated, over 10 bytes or not minimal.
size_t entries_varint_size (uint64_t value);
size_t entries_varint_put (uint8_t *out, uint64_t value);
size_t entries_varint_get (const uint8_t *p, const uint8_t *end, uint64_t *value);

//  Bytes entries_put writes for these values.
size_t entries_size (uint64_t req_delta, size_t size);

//  Write one entry at OUT (room for entries_size bytes). Returns the bytes
//  written.
size_t entries_put (uint8_t *out, uint64_t req_delta, const void *data, size_t size);

//  Read the entry at P (bytes up to END): returns the bytes it takes, or 0
//  when they do not hold a whole entry with minimal varints.
size_t entries_get (const uint8_t *p, const uint8_t *end, uint64_t *req_delta, const uint8_t **data,
                    size_t *size);

#endif
