/*  store_mem.c - the memory engine of the store (store.h, store_engine.h).

    Records are kept byte for byte in large chunks that never move, so a
    pointer handed out stays valid until its record is truncated or the
    store destroyed, and an append costs no malloc. Regular chunks double
    from MEM_CHUNK_MIN to MEM_CHUNK_MAX; a record bigger than MEM_CHUNK_MAX
    gets a chunk of its own. Only the last regular chunk (the "fill" chunk)
    takes new records, so after a truncation its free space starts right
    after the last regular record kept and appends reuse it. The chunk
    table is in the order chunks were created, and each chunk's first
    record number says which records it may hold: truncation pops every
    chunk whose first record goes, then rewinds the fill chunk.

    A locator is chunk index << 32 | offset in the chunk. Records are not
    padded: the record format is read byte by byte.
*/
#include "store_engine.h"
#include "grow.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#define MEM_CHUNK_MIN ((size_t)64 * 1024)
#define MEM_CHUNK_MAX ((size_t)4 * 1024 * 1024)
#define MEM_NO_CHUNK  SIZE_MAX

typedef struct {
    uint8_t *base;
    size_t size;
    size_t used;
    uint64_t first_record; //  number of the first record put in it
} chunk_t;

typedef struct {
    chunk_t *chunks;
    size_t nchunks;
    size_t chunks_cap;
    size_t fill;            //  regular chunk taking appends, or MEM_NO_CHUNK
    size_t next_chunk_size; //  of the next regular chunk
    size_t chunk_bytes;     //  sum of chunk sizes
    uint64_t records;
    size_t reserve_chunk; //  where the reservation is
    bool reserve_new;     //  the reservation made that chunk
} mem_t;

static bool s_is_own (const chunk_t *chunk)
{
    //  Regular chunks never exceed MEM_CHUNK_MAX; only oversized records do
    return chunk->size > MEM_CHUNK_MAX;
}

//  The last regular chunk, which is the fill chunk, or MEM_NO_CHUNK.
static size_t s_last_regular (mem_t *self)
{
    for (size_t i = self->nchunks; i-- > 0;)
        if (!s_is_own (&self->chunks[i]))
            return i;
    return MEM_NO_CHUNK;
}

static void s_chunk_pop (mem_t *self)
{
    chunk_t *chunk = &self->chunks[--self->nchunks];
    self->chunk_bytes -= chunk->size;
    free (chunk->base);
}

//  A new chunk of SIZE bytes for record number self->records. Its index,
//  or MEM_NO_CHUNK (ENOMEM).
static size_t s_chunk_add (mem_t *self, size_t size)
{
    void *table = self->chunks;
    int rc = grow_array (&table, &self->chunks_cap, self->nchunks + 1, sizeof (chunk_t), 16);
    self->chunks = (chunk_t *)table;
    uint8_t *base = rc ? NULL : (uint8_t *)malloc (size);
    if (!base) {
        errno = ENOMEM;
        return MEM_NO_CHUNK;
    }
    self->chunks[self->nchunks] = (chunk_t){base, size, 0, self->records};
    self->chunk_bytes += size;
    return self->nchunks++;
}

//  --------------------------------------------------------------------------
//  Engine operations

static void s_destroy (void *engine)
{
    mem_t *self = (mem_t *)engine;
    while (self->nchunks)
        s_chunk_pop (self);
    free (self->chunks);
    free (self);
}

static uint8_t *s_reserve (void *engine, uint64_t first_seq, size_t size, uint64_t *loc)
{
    mem_t *self = (mem_t *)engine;
    (void)first_seq;
    size_t index;
    self->reserve_new = true;
    if (size > MEM_CHUNK_MAX)
        index = s_chunk_add (self, size);
    else if (self->fill != MEM_NO_CHUNK &&
             self->chunks[self->fill].size - self->chunks[self->fill].used >= size) {
        index = self->fill;
        self->reserve_new = false;
    } else {
        size_t chunk_size = self->next_chunk_size;
        while (chunk_size < size)
            chunk_size *= 2;
        index = s_chunk_add (self, chunk_size);
        if (index != MEM_NO_CHUNK) {
            self->fill = index;
            if (chunk_size < MEM_CHUNK_MAX)
                self->next_chunk_size = chunk_size * 2;
        }
    }
    if (index == MEM_NO_CHUNK)
        return NULL;
    chunk_t *chunk = &self->chunks[index];
    self->reserve_chunk = index;
    *loc = STORE_LOC (index, chunk->used);
    return chunk->base + chunk->used;
}

static void s_append (void *engine, size_t size)
{
    mem_t *self = (mem_t *)engine;
    chunk_t *chunk = &self->chunks[self->reserve_chunk];
    assert (size <= chunk->size - chunk->used);
    chunk->used += size;
    self->records++;
}

static void s_cancel (void *engine)
{
    mem_t *self = (mem_t *)engine;
    if (self->reserve_new) {
        assert (self->reserve_chunk == self->nchunks - 1);
        s_chunk_pop (self);
        self->fill = s_last_regular (self);
    }
}

static int s_commit (void *engine, bool sync)
{
    (void)engine;
    (void)sync;
    return 0; //  in memory, an appended record is as durable as it gets
}

static const uint8_t *s_bytes (void *engine, uint64_t loc, size_t *avail)
{
    mem_t *self = (mem_t *)engine;
    size_t index = STORE_LOC_UNIT (loc), offset = STORE_LOC_OFFSET (loc);
    if (index >= self->nchunks || offset >= self->chunks[index].used)
        return NULL;
    *avail = self->chunks[index].used - offset;
    return self->chunks[index].base + offset;
}

static void s_served (void *engine, uint64_t loc, size_t size)
{
    (void)engine;
    (void)loc;
    (void)size;
}

static int s_truncate (void *engine, const store_slot_t *index, uint64_t keep, uint64_t records)
{
    mem_t *self = (mem_t *)engine;
    assert (keep < records && records == self->records);
    while (self->nchunks && self->chunks[self->nchunks - 1].first_record >= keep)
        s_chunk_pop (self);
    self->fill = s_last_regular (self);
    if (self->fill != MEM_NO_CHUNK) {
        //  The fill chunk holds its first record (kept), so the last kept
        //  regular record is in it; only oversized records, one per chunk,
        //  can sit between that one and the cut
        uint64_t last = keep - 1;
        while (s_is_own (&self->chunks[STORE_LOC_UNIT (index[last].loc)]))
            last--;
        chunk_t *chunk = &self->chunks[self->fill];
        assert (STORE_LOC_UNIT (index[last].loc) == self->fill);
        size_t offset = STORE_LOC_OFFSET (index[last].loc);
        record_t r;
        if (record_peek (chunk->base + offset, chunk->used - offset, &r) != RECORD_OK) {
            assert (false); //  our own bytes: cannot happen
            r.size = chunk->used - offset;
        }
        chunk->used = offset + r.size;
    }
    self->records = keep;
    return 0;
}

static uint64_t s_written (void *engine)
{
    return ((mem_t *)engine)->records;
}

static bool s_failed (void *engine)
{
    (void)engine;
    return false;
}

static size_t s_memory (void *engine)
{
    mem_t *self = (mem_t *)engine;
    return sizeof (mem_t) + self->chunk_bytes + self->chunks_cap * sizeof (chunk_t);
}

static void s_inject_sync_error (void *engine, int error)
{
    (void)engine;
    (void)error;
}

static const store_engine_t s_mem_engine = {
    .durable = false,
    .destroy = s_destroy,
    .reserve = s_reserve,
    .append = s_append,
    .cancel = s_cancel,
    .commit = s_commit,
    .bytes = s_bytes,
    .served = s_served,
    .truncate = s_truncate,
    .written = s_written,
    .synced = s_written,
    .failed = s_failed,
    .memory = s_memory,
    .inject_sync_error = s_inject_sync_error,
};

store_t *store_mem_new (void)
{
    mem_t *self = (mem_t *)calloc (1, sizeof (mem_t));
    if (!self)
        return NULL;
    self->fill = MEM_NO_CHUNK;
    self->next_chunk_size = MEM_CHUNK_MIN;
    return store_engine_new (&s_mem_engine, self);
}
