/*  store.c - the log itself: an in-memory sequence of entries, seq 1..head.

    Layout, chosen so an append costs no malloc and ~30 bytes over its payload:

    * Records {client, size, req_id, payload} are packed 8-aligned into large
      chunks that never move, so store_get can hand out pointers into them.
      Regular chunks double from STORE_CHUNK_MIN up to STORE_CHUNK_MAX; a
      record bigger than STORE_CHUNK_MAX gets a chunk of its own. The chunk
      table is ordered by the first seq each chunk received, which is what
      makes truncation a matter of popping chunks off its end.
    * Regular records are laid out in seq order across regular chunks, and
      only the last regular chunk (the "fill" chunk) takes new records. So
      after a truncation the fill chunk's free space starts right after the
      last kept regular record, and appends reuse it.
    * The index maps seq-1 to the record's address (8 bytes per entry); it is
      the only thing that is realloc'd, since records stay put.
    * Epochs change rarely (once per master start), so they are kept as runs
      "epoch E from seq S", each with the largest epoch up to it, which turns
      store_agreement into a binary search even if epochs ever went down.
    * Client ids are interned once (bytes in a never-freed arena, looked up in
      an open-addressing table) and records keep a 32-bit index.
*/
#include "store.h"
#include "disklog.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#define STORE_CHUNK_MIN ((size_t)64 * 1024)
#define STORE_CHUNK_MAX ((size_t)4 * 1024 * 1024)
#define STORE_INDEX_MIN ((size_t)1024)
#define STORE_IDS_BLOCK ((size_t)4096)
#define STORE_SLOTS_MIN ((size_t)64)
#define STORE_NO_CHUNK  SIZE_MAX
#define STORE_NO_CLIENT UINT32_MAX

//  Header of a record in a chunk; the payload follows it.
typedef struct {
    uint32_t client; //  interned client index
    uint32_t size;   //  payload bytes
    uint64_t req_id;
} record_t;

typedef struct {
    uint8_t *base;
    size_t size;
    size_t used;
    uint64_t first_seq; //  seq of the first record put in it
} chunk_t;

typedef struct {
    uint64_t start;     //  first seq of the run
    uint64_t epoch;     //  epoch of seqs start .. next run's start - 1
    uint64_t max_epoch; //  largest epoch of this run and all before it
} run_t;

typedef struct {
    const uint8_t *bytes; //  in the id arena, never moves
    uint32_t size;
    uint32_t hash;
} client_t;

typedef struct _idblock_t idblock_t;
struct _idblock_t {
    idblock_t *next;
    size_t used;
    uint8_t bytes[STORE_IDS_BLOCK];
};

struct _store_t {
    disklog_t *disk; //  set when the log lives in a data directory
    uint8_t **index; //  index [seq - 1] is the record of seq
    size_t index_cap;
    uint64_t head;

    chunk_t *chunks; //  ordered by first_seq
    size_t nchunks;
    size_t chunks_cap;
    size_t fill;            //  regular chunk taking appends, or STORE_NO_CHUNK
    size_t next_chunk_size; //  size of the next regular chunk
    size_t chunk_bytes;     //  sum of chunk sizes

    run_t *runs;
    size_t nruns;
    size_t runs_cap;

    client_t *clients;
    uint32_t nclients;
    size_t clients_cap;
    uint32_t *slots; //  client index + 1, 0 when free
    size_t nslots;   //  power of two
    idblock_t *idblocks;
    size_t idblocks_count;
    uint32_t last_client; //  appends come in bursts per client
};

//  --------------------------------------------------------------------------
//  Record sizes are rounded up to 8 so every header stays aligned.

static size_t s_record_size (size_t payload)
{
    return (sizeof (record_t) + payload + 7) & ~(size_t)7;
}

static bool s_chunk_is_own (const chunk_t *chunk)
{
    //  Regular chunks never exceed STORE_CHUNK_MAX; only oversized records do
    return chunk->size > STORE_CHUNK_MAX;
}

//  --------------------------------------------------------------------------
//  Create a new, empty store

store_t *store_new (void)
{
    store_t *self = (store_t *)calloc (1, sizeof (store_t));
    if (!self)
        return NULL;
    self->fill = STORE_NO_CHUNK;
    self->next_chunk_size = STORE_CHUNK_MIN;
    self->last_client = STORE_NO_CLIENT;
    return self;
}

//  --------------------------------------------------------------------------
//  Destroy the store and everything it holds

void store_destroy (store_t **self_p)
{
    assert (self_p);
    store_t *self = *self_p;
    if (!self)
        return;
    disklog_destroy (&self->disk);
    for (size_t i = 0; i < self->nchunks; i++)
        free (self->chunks[i].base);
    free (self->chunks);
    free (self->index);
    free (self->runs);
    free (self->clients);
    free (self->slots);
    while (self->idblocks) {
        idblock_t *next = self->idblocks->next;
        free (self->idblocks);
        self->idblocks = next;
    }
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------

uint64_t store_head (store_t *self)
{
    if (self->disk)
        return disklog_head (self->disk);
    assert (self);
    return self->head;
}

//  --------------------------------------------------------------------------
//  FNV-1a: client ids are short, and librlog makes them random anyway.

static uint32_t s_hash (const uint8_t *bytes, size_t size)
{
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < size; i++) {
        hash ^= bytes[i];
        hash *= 16777619u;
    }
    return hash;
}

static bool s_client_is (const client_t *client, uint32_t hash, const uint8_t *bytes, size_t size)
{
    return client->hash == hash && client->size == size &&
           (size == 0 || memcmp (client->bytes, bytes, size) == 0);
}

//  Slot where client id lives, or the free slot where it would go.
static size_t s_slot_find (store_t *self, uint32_t hash, const uint8_t *bytes, size_t size)
{
    size_t mask = self->nslots - 1;
    size_t slot = hash & mask;
    while (self->slots[slot]) {
        if (s_client_is (&self->clients[self->slots[slot] - 1], hash, bytes, size))
            break;
        slot = (slot + 1) & mask;
    }
    return slot;
}

static int s_slots_grow (store_t *self)
{
    size_t nslots = self->nslots ? self->nslots * 2 : STORE_SLOTS_MIN;
    if (nslots > SIZE_MAX / sizeof (uint32_t))
        return -1;
    uint32_t *slots = (uint32_t *)calloc (nslots, sizeof (uint32_t));
    if (!slots)
        return -1;
    uint32_t *old = self->slots;
    size_t old_n = self->nslots;
    self->slots = slots;
    self->nslots = nslots;
    for (size_t i = 0; i < old_n; i++)
        if (old[i]) {
            client_t *client = &self->clients[old[i] - 1];
            size_t slot = s_slot_find (self, client->hash, client->bytes, client->size);
            self->slots[slot] = old[i];
        }
    free (old);
    return 0;
}

//  Copy of the id bytes in the arena; blocks are never freed before destroy
//  so interned ids (and pointers store_get hands out) never move.
static const uint8_t *s_id_copy (store_t *self, const uint8_t *bytes, size_t size)
{
    assert (size <= STORE_IDS_BLOCK);
    idblock_t *block = self->idblocks;
    if (!block || STORE_IDS_BLOCK - block->used < size) {
        block = (idblock_t *)malloc (sizeof (idblock_t));
        if (!block)
            return NULL;
        block->next = self->idblocks;
        block->used = 0;
        self->idblocks = block;
        self->idblocks_count++;
    }
    uint8_t *copy = block->bytes + block->used;
    if (size)
        memcpy (copy, bytes, size);
    block->used += size;
    return copy;
}

//  Index of the client id, interning it if new. Returns 0 or -1 (no memory).
static int s_intern (store_t *self, const uint8_t *bytes, size_t size, uint32_t *index_p)
{
    uint32_t hash = s_hash (bytes, size);
    if (self->last_client != STORE_NO_CLIENT &&
        s_client_is (&self->clients[self->last_client], hash, bytes, size)) {
        *index_p = self->last_client;
        return 0;
    }
    if (self->nslots) {
        size_t slot = s_slot_find (self, hash, bytes, size);
        if (self->slots[slot]) {
            *index_p = self->last_client = self->slots[slot] - 1;
            return 0;
        }
    }
    //  New client: get every resource first so a failure leaves no trace
    if (self->nclients >= STORE_NO_CLIENT - 1)
        return -1;
    if ((size_t)self->nclients + 1 > self->nslots / 2) {
        //  A failed grow is fine while there is still room to probe into
        if (s_slots_grow (self) && (size_t)self->nclients + 1 >= self->nslots)
            return -1;
    }
    if (self->nclients == self->clients_cap) {
        size_t cap = self->clients_cap ? self->clients_cap * 2 : 16;
        client_t *clients = (client_t *)realloc (self->clients, cap * sizeof (client_t));
        if (!clients)
            return -1;
        self->clients = clients;
        self->clients_cap = cap;
    }
    const uint8_t *copy = s_id_copy (self, bytes, size);
    if (!copy)
        return -1;
    uint32_t index = self->nclients++;
    self->clients[index] = (client_t){copy, (uint32_t)size, hash};
    self->slots[s_slot_find (self, hash, bytes, size)] = index + 1;
    *index_p = self->last_client = index;
    return 0;
}

//  --------------------------------------------------------------------------
//  Chunk space for a record of SIZE bytes (already rounded), as the record of
//  seq head + 1. Returns NULL when memory cannot be had.

static chunk_t *s_chunk_add (store_t *self, size_t size)
{
    if (self->nchunks == self->chunks_cap) {
        size_t cap = self->chunks_cap ? self->chunks_cap * 2 : 16;
        chunk_t *chunks = (chunk_t *)realloc (self->chunks, cap * sizeof (chunk_t));
        if (!chunks)
            return NULL;
        self->chunks = chunks;
        self->chunks_cap = cap;
    }
    uint8_t *base = (uint8_t *)malloc (size);
    if (!base)
        return NULL;
    chunk_t *chunk = &self->chunks[self->nchunks++];
    *chunk = (chunk_t){base, size, 0, self->head + 1};
    self->chunk_bytes += size;
    return chunk;
}

static uint8_t *s_record_alloc (store_t *self, size_t size)
{
    chunk_t *chunk = NULL;
    if (size > STORE_CHUNK_MAX)
        chunk = s_chunk_add (self, size);
    else if (self->fill != STORE_NO_CHUNK &&
             self->chunks[self->fill].size - self->chunks[self->fill].used >= size)
        chunk = &self->chunks[self->fill];
    else {
        size_t chunk_size = self->next_chunk_size;
        while (chunk_size < size)
            chunk_size *= 2;
        chunk = s_chunk_add (self, chunk_size);
        if (chunk) {
            self->fill = self->nchunks - 1;
            if (chunk_size < STORE_CHUNK_MAX)
                self->next_chunk_size = chunk_size * 2;
        }
    }
    if (!chunk)
        return NULL;
    uint8_t *record = chunk->base + chunk->used;
    chunk->used += size;
    return record;
}

//  --------------------------------------------------------------------------
//  Append ENTRY as seq head+1 (data and client id are copied).

int store_append (store_t *self, const entry_t *entry)
{
    if (self->disk)
        return disklog_append (self->disk, entry);
    assert (self);
    assert (entry);
    assert (entry->client_id_size <= ENTRY_CLIENT_ID_MAX);
    assert (entry->client_id || entry->client_id_size == 0);
    assert (entry->data || entry->size == 0);

    if (entry->size > UINT32_MAX)
        return -1;
    //  Grow every table before touching anything, so a failure appends nothing
    if (self->head == self->index_cap) {
        size_t cap = self->index_cap ? self->index_cap * 2 : STORE_INDEX_MIN;
        if (cap > SIZE_MAX / sizeof (uint8_t *))
            return -1;
        uint8_t **index = (uint8_t **)realloc (self->index, cap * sizeof (uint8_t *));
        if (!index)
            return -1;
        self->index = index;
        self->index_cap = cap;
    }
    bool new_run = self->nruns == 0 || self->runs[self->nruns - 1].epoch != entry->epoch;
    if (new_run && self->nruns == self->runs_cap) {
        size_t cap = self->runs_cap ? self->runs_cap * 2 : 8;
        run_t *runs = (run_t *)realloc (self->runs, cap * sizeof (run_t));
        if (!runs)
            return -1;
        self->runs = runs;
        self->runs_cap = cap;
    }
    uint32_t client;
    if (s_intern (self, entry->client_id, entry->client_id_size, &client))
        return -1;
    uint8_t *record = s_record_alloc (self, s_record_size (entry->size));
    if (!record)
        return -1;

    record_t *header = (record_t *)record;
    header->client = client;
    header->size = (uint32_t)entry->size;
    header->req_id = entry->req_id;
    if (entry->size)
        memcpy (record + sizeof (record_t), entry->data, entry->size);
    self->index[self->head++] = record;
    if (new_run) {
        uint64_t max_epoch = entry->epoch;
        if (self->nruns && self->runs[self->nruns - 1].max_epoch > max_epoch)
            max_epoch = self->runs[self->nruns - 1].max_epoch;
        self->runs[self->nruns++] = (run_t){self->head, entry->epoch, max_epoch};
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Run holding SEQ, which must be in 1..head.

static const run_t *s_run_of (store_t *self, uint64_t seq)
{
    //  Largest run whose start <= seq; runs [0] starts at 1
    size_t lo = 0, hi = self->nruns;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->runs[mid].start <= seq)
            lo = mid;
        else
            hi = mid;
    }
    return &self->runs[lo];
}

//  --------------------------------------------------------------------------
//  Fill OUT with entry SEQ. Returns 0, or -1 if SEQ is not in 1..head.

int store_get (store_t *self, uint64_t seq, entry_t *out)
{
    if (self->disk)
        return disklog_get (self->disk, seq, out);
    assert (self);
    assert (out);
    if (seq == 0 || seq > self->head)
        return -1;
    const uint8_t *record = self->index[seq - 1];
    const record_t *header = (const record_t *)record;
    const client_t *client = &self->clients[header->client];
    out->epoch = s_run_of (self, seq)->epoch;
    out->req_id = header->req_id;
    out->client_id = client->bytes;
    out->client_id_size = client->size;
    out->data = record + sizeof (record_t);
    out->size = header->size;
    return 0;
}

//  --------------------------------------------------------------------------
//  Drop every entry after LAST (keep 1..LAST). LAST >= head is a no-op.

void store_truncate (store_t *self, uint64_t last)
{
    if (self->disk) {
        disklog_truncate (self->disk, last, NULL);
        return;
    }
    assert (self);
    if (last >= self->head)
        return;

    //  Chunks are ordered by first seq: everything that started after the
    //  cut holds only dropped records
    while (self->nchunks && self->chunks[self->nchunks - 1].first_seq > last) {
        chunk_t *chunk = &self->chunks[--self->nchunks];
        self->chunk_bytes -= chunk->size;
        free (chunk->base);
    }
    self->fill = STORE_NO_CHUNK;
    for (size_t i = self->nchunks; i-- > 0;)
        if (!s_chunk_is_own (&self->chunks[i])) {
            self->fill = i;
            break;
        }
    if (self->fill != STORE_NO_CHUNK) {
        //  The fill chunk holds its first seq (<= last), so the last kept
        //  regular record is in it; only oversized records, one per chunk,
        //  can sit between it and LAST
        chunk_t *chunk = &self->chunks[self->fill];
        uint64_t seq = last;
        while (s_record_size (((const record_t *)self->index[seq - 1])->size) > STORE_CHUNK_MAX)
            seq--;
        assert (seq >= chunk->first_seq);
        const uint8_t *record = self->index[seq - 1];
        chunk->used =
            (size_t)(record - chunk->base) + s_record_size (((const record_t *)record)->size);
    }
    while (self->nruns && self->runs[self->nruns - 1].start > last)
        self->nruns--;
    self->head = last;

    //  Give back index memory after a big cut; failing to is harmless
    size_t cap = self->index_cap;
    while (cap > STORE_INDEX_MIN && self->head < cap / 4)
        cap /= 2;
    if (cap < self->index_cap) {
        uint8_t **index = (uint8_t **)realloc (self->index, cap * sizeof (uint8_t *));
        if (index) {
            self->index = index;
            self->index_cap = cap;
        }
    }
}

//  --------------------------------------------------------------------------
//  Epoch of entry SEQ, 0 if absent.

uint64_t store_epoch_of (store_t *self, uint64_t seq)
{
    if (self->disk)
        return disklog_epoch_of (self->disk, seq);
    assert (self);
    if (seq == 0 || seq > self->head)
        return 0;
    return s_run_of (self, seq)->epoch;
}

//  --------------------------------------------------------------------------
//  Largest s <= SEQ held here with every epoch up to s <= EPOCH, or 0.

uint64_t store_agreement (store_t *self, uint64_t epoch, uint64_t seq)
{
    if (self->disk)
        return disklog_agreement (self->disk, epoch, seq);
    assert (self);
    uint64_t agreed = seq < self->head ? seq : self->head;
    if (agreed == 0)
        return 0;
    //  max_epoch never decreases along the runs: find the first run that
    //  brings in an epoch newer than the follower's
    size_t lo = 0, hi = self->nruns;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->runs[mid].max_epoch > epoch)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo < self->nruns && self->runs[lo].start - 1 < agreed)
        agreed = self->runs[lo].start - 1;
    return agreed;
}

//  --------------------------------------------------------------------------
//  Bytes of memory the store holds (chunks + index + tables).

size_t store_memory (store_t *self)
{
    if (self->disk)
        return disklog_memory (self->disk);
    assert (self);
    return sizeof (store_t) + self->chunk_bytes + self->index_cap * sizeof (uint8_t *) +
           self->chunks_cap * sizeof (chunk_t) + self->runs_cap * sizeof (run_t) +
           self->clients_cap * sizeof (client_t) + self->nslots * sizeof (uint32_t) +
           self->idblocks_count * sizeof (idblock_t);
}

//  --------------------------------------------------------------------------
//  Durability. In memory there is nothing to write: an appended entry is as
//  durable as this store will ever make it.

int store_commit (store_t *self, bool sync)
{
    assert (self);
    return self->disk ? disklog_commit (self->disk, sync) : 0;
}

uint64_t store_written (store_t *self)
{
    return self->disk ? disklog_written (self->disk) : store_head (self);
}

uint64_t store_synced (store_t *self)
{
    return self->disk ? disklog_synced (self->disk) : store_head (self);
}

bool store_is_durable (store_t *self)
{
    return self->disk != NULL;
}

//  mkdir -p for DIR's parents: the disk log creates only DIR itself.
static int s_make_parents (const char *dir, char *err, size_t err_size)
{
    char path[1024];
    if (snprintf (path, sizeof path, "%s", dir) >= (int)sizeof path) {
        snprintf (err, err_size, "data dir path too long");
        return -1;
    }
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir (path, 0755) != 0 && errno != EEXIST) {
            snprintf (err, err_size, "cannot create %s: %s", path, strerror (errno));
            return -1;
        }
        *p = '/';
    }
    return 0;
}

store_t *store_open (const char *dir, size_t segment_bytes, bool strict,
                     disklog_recovery_t *recovery, char *err, size_t err_size)
{
    if (s_make_parents (dir, err, err_size) != 0)
        return NULL;
    store_t *self = (store_t *)calloc (1, sizeof (store_t));
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->disk = disklog_open (dir, segment_bytes, strict ? DISKLOG_STRICT : DISKLOG_CUT, recovery,
                               err, err_size);
    if (!self->disk) {
        free (self);
        return NULL;
    }
    return self;
}

int store_cut (store_t *self, uint64_t last, const char *rollback_path)
{
    if (self->disk)
        return disklog_truncate (self->disk, last, rollback_path);
    store_truncate (self, last);
    return 0;
}
