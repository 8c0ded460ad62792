/*  record.h - the one entry format: a record batch.

    A record batch is a run of consecutive entries appended by one client
    request in one epoch. It is the unit the master creates, both storage
    engines keep byte for byte, BATCH and FILL frames carry as slices of the
    log, and rollback files hold. Its CRC is computed once, by the master,
    and checked once by each node that receives it (record_check).

        offset size
        0      4    size        bytes after this field (>= RECORD_HEADER - 4)
        4      4    crc         CRC-32C of the bytes after this field
        8      8    epoch       master epoch that appended it (>= 1)
        16     8    first_seq   seq of its first entry (>= 1)
        24     4    count       entries (>= 1)
        28     1    flags       RECORD_F_* (unknown bits: malformed)
        29     1    id_size     client id bytes, 0..RECORD_CLIENT_ID_MAX
        30     8    first_req   request id of its first entry
        38     id   client id
        then count entries, each
               varint req_delta   req id minus the previous entry's (the
                                  first entry's minus first_req, so 0)
               varint size        payload bytes
               size   payload

    Integers little-endian; varints are unsigned LEB128 of at most 10 bytes,
    minimal length (no trailing 0x80 groups). Entry i has seq first_seq + i.
    The entry section (everything after the client id) is also what a
    client sends in APPEND_BATCH, so the master usually copies it as is.

    A marker record (RECORD_F_MARKER: count 1, no client id, one empty
    payload) is the entry a new master appends first in its epoch.
*/
#ifndef RECORD_H_INCLUDED
#define RECORD_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "entries.h"

#define RECORD_HEADER        38 //  bytes before the client id
#define RECORD_CLIENT_ID_MAX 64
#define RECORD_F_MARKER      0x01
//  Largest size field: a record takes at most 4 + 2^31 bytes
#define RECORD_SIZE_MAX ((uint32_t)1 << 31)

//  A record batch as read in place: pointers borrow the bytes checked.
typedef struct {
    const uint8_t *bytes; //  the whole record, from its size field
    size_t size;          //  4 + the size field
    uint32_t crc;
    uint64_t epoch;
    uint64_t first_seq;
    uint32_t count;
    uint8_t flags;
    const uint8_t *client_id;
    size_t client_id_size;
    uint64_t first_req;
    const uint8_t *entries; //  the entry section
    size_t entries_size;
} record_t;

//  One entry of a record, as record_next yields it.
typedef struct {
    uint64_t seq;
    uint64_t req_id;
    const uint8_t *data;
    size_t size;
} record_entry_t;

//  Walks a record's entries; set up with record_iter_init.
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
    uint64_t seq;
    uint64_t req_id;
    uint32_t left;
} record_iter_t;

//  Why record_check refused a record (stable texts for logs and tests).
typedef enum {
    RECORD_OK = 0,
    RECORD_SHORT,     //  fewer bytes than the size field says, or < header
    RECORD_BAD_SIZE,  //  size field below the header, or above RECORD_SIZE_MAX
    RECORD_BAD_CRC,   //  crc mismatch
    RECORD_BAD_FIELD, //  count 0, id_size > 64, unknown flag, epoch/seq 0,
                      //  last seq past 2^64 - 1
    RECORD_BAD_ENTRY, //  a varint or payload overruns, trailing bytes, bad marker
    RECORD_TOO_LARGE  //  a payload above MAX_PAYLOAD
} record_error_t;

const char *record_error_text (record_error_t error);

//  Parse and fully check the record that starts at DATA (SIZE bytes
//  available; the record may be followed by others): size field, CRC,
//  header fields, and every entry (varints, payload bounds, sizes 1 ..
//  MAX_PAYLOAD except the marker's 0, the first req_delta 0, req ids not
//  past 2^64 - 1, exactly COUNT entries, no trailing bytes). On RECORD_OK
//  fills OUT (OUT->size says where the next record starts). The only check
//  a received record needs.
record_error_t record_check (const void *data, size_t size, size_t max_payload, record_t *out);

//  As record_check without the CRC and entry walk: reads the header of a
//  record already checked (from a store), for index building and slicing.
record_error_t record_peek (const void *data, size_t size, record_t *out);

//  Last seq of a record.
static inline uint64_t record_last_seq (const record_t *r)
{
    return r->first_seq + r->count - 1;
}

void record_iter_init (record_iter_t *it, const record_t *r);
//  Next entry into OUT; false after the last. Only for checked records.
bool record_next (record_iter_t *it, record_entry_t *out);

//  ---------------------------------------------------------------------
//  Building records

//  Bytes a record takes for a client id of ID_SIZE and an entry section of
//  ENTRIES_SIZE bytes.
size_t record_size (size_t id_size, size_t entries_size);

//  Write a record into OUT (record_size(...) bytes available): header, the
//  client id and the entry section ENTRIES (COUNT entries, already in the
//  entry format), then the CRC. Returns the bytes written.
size_t record_write (uint8_t *out, uint64_t epoch, uint64_t first_seq, uint32_t count,
                     uint8_t flags, const uint8_t *client_id, size_t id_size, uint64_t first_req,
                     const void *entries, size_t entries_size);

//  The same in pieces, when the entry section is built in place: write the
//  header and client id (returns RECORD_HEADER + ID_SIZE), then the entries
//  right after it (entries_put), then seal: the size field and the CRC
//  over SIZE bytes in all.
size_t record_write_header (uint8_t *out, uint64_t epoch, uint64_t first_seq, uint32_t count,
                            uint8_t flags, const uint8_t *client_id, size_t id_size,
                            uint64_t first_req);
void record_seal (uint8_t *out, size_t size);

//  The entry section's format (varints, entries) is lib/entries.h: the
//  client library writes it, the node stores it as it came.

#endif
