/*  store_engine.h - what the common store layer (store.c) asks of a
    storage engine (store_mem.c, store_disk.c). Internal to those three.

    An engine only holds bytes. It places each record somewhere and names
    the place with a locator: unit << 32 | offset, where a unit is a memory
    chunk or a segment file. Two records are adjacent in memory exactly
    when the second's locator is the first's plus its size, which is how
    store.c builds slices without asking the engine record by record.

    The engine counts records (not seqs): how many it holds, how many are
    written to its files, how many are synced. The memory engine's three
    counts are all the same. store.c keeps the index (first seq and locator
    of each record), the epochs and the watermarks, and converts counts to
    seqs.

    Appending is reserve (room for a record of at most SIZE bytes), then the
    caller fills it, then append (the record turned out SIZE bytes, at most
    what was reserved) or cancel. Nothing else is called in between.
*/
#ifndef STORE_ENGINE_H_INCLUDED
#define STORE_ENGINE_H_INCLUDED

#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  One index slot per record
typedef struct {
    uint64_t first_seq;
    uint64_t loc;
} store_slot_t;

#define STORE_LOC(unit, offset) (((uint64_t)(unit) << 32) | (uint64_t)(uint32_t)(offset))
#define STORE_LOC_UNIT(loc)     ((size_t)((loc) >> 32))
#define STORE_LOC_OFFSET(loc)   ((size_t)((loc)&0xFFFFFFFFu))

typedef struct {
    bool durable; //  keeps its records in files
    void (*destroy) (void *engine);
    //  Room for a record of up to SIZE bytes that will hold FIRST_SEQ on;
    //  *LOC gets its locator. NULL with errno (ENOMEM...) on failure.
    uint8_t *(*reserve) (void *engine, uint64_t first_seq, size_t size, uint64_t *loc);
    void (*append) (void *engine, size_t size);
    void (*cancel) (void *engine);
    //  Write buffered records, fdatasync if SYNC. On failure the records not
    //  written are dropped (records == written afterwards). 0 or -1, errno.
    int (*commit) (void *engine, bool sync);
    //  Bytes at LOC and how many follow contiguously in its unit (only
    //  whole records, and never past what is written or buffered there).
    const uint8_t *(*bytes) (void *engine, uint64_t loc, size_t *avail);
    //  SIZE bytes from LOC were handed to a reader (disk: drops pages now
    //  and then so reads do not stay resident).
    void (*served) (void *engine, uint64_t loc, size_t size);
    //  Keep records 0..KEEP-1 of the RECORDS in INDEX. 0, or -1 with errno
    //  (the engine then holds KEEP records all the same, and has failed).
    int (*truncate) (void *engine, const store_slot_t *index, uint64_t keep, uint64_t records);
    uint64_t (*written) (void *engine);
    uint64_t (*synced) (void *engine);
    bool (*failed) (void *engine);
    size_t (*memory) (void *engine);
    void (*inject_sync_error) (void *engine, int error);
} store_engine_t;

//  A store over ENGINE (taken over: destroyed with the store, or at once if
//  this fails). NULL when memory runs out.
store_t *store_engine_new (const store_engine_t *ops, void *engine);

//  For an engine that opens existing records (disk recovery): index the
//  record at LOC, whose bytes (already checked) are BYTES[0..SIZE), as the
//  next record (its first seq must be head + 1), written and synced.
//  Returns 0, or -1 (errno EINVAL for a wrong seq, ENOMEM).
int store_engine_add (store_t *self, const uint8_t *bytes, size_t size, uint64_t loc);

#endif
