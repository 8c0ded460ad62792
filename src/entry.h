/*  entry.h - one log entry as every module sees it.

    Pointers borrow memory owned by whoever produced the entry (a decoded
    frame, the store, the hold-back buffer); copy before that owner moves on.
*/
#ifndef ENTRY_H_INCLUDED
#define ENTRY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  Client ids are opaque bytes; librlog makes 16 random bytes.
#define ENTRY_CLIENT_ID_MAX 64

typedef struct {
    uint64_t epoch;           //  master epoch that first appended it
    uint64_t req_id;          //  client's request id (dedup key, with client_id)
    const uint8_t *client_id; //  0..ENTRY_CLIENT_ID_MAX bytes
    size_t client_id_size;
    const uint8_t *data; //  payload, 1..max message size bytes
    size_t size;
} entry_t;

#endif
