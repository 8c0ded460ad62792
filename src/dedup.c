/*  dedup.c - the master's idempotency table: (client id, request id) -> seq.

    Each client has a ring of (req_id, seq, tag) records in increasing
    request-id order, grown on demand up to the window so idle or short-lived
    clients stay small; lookups binary-search it. Clients sit in a chained
    hash table (chains make eviction a plain unlink) and on an LRU list.

    What a lookup can tell, for a known client:
    * req_id in the window: FOUND.
    * req_id above the last recorded one: NEW.
    * req_id at or below the highest id ever dropped from the window: STALE
      (a client's requests may arrive out of order over several connections,
      so "below the oldest record" alone proves nothing).
    * req_id inside the window's range but absent: NEW. Such gaps appear when
      the master refused a request (nothing appended, nothing recorded) and
      the client moved on. A retry of it is really new; dedup_record then
      puts it at its place in id order, so a further retry finds it.
    A client evicted by LRU has lost its history, so it looks NEW again.
*/
#include "dedup.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define DEDUP_RING_MIN    ((size_t)8)
#define DEDUP_BUCKETS_MIN ((size_t)16)

typedef struct {
    uint64_t req_id;
    uint64_t seq;
    uint64_t tag;
} record_t;

typedef struct _client_t client_t;
struct _client_t {
    client_t *chain; //  next in the same hash bucket
    client_t *newer; //  LRU neighbours
    client_t *older;
    record_t *ring;
    size_t cap;           //  ring slots, <= window
    size_t first;         //  slot of the oldest record
    size_t count;         //  records held, >= 1 once the client exists
    uint64_t stale_below; //  ids below it were dropped from the window (0: none)
    uint64_t hash;
    size_t id_size;
    uint8_t id[];
};

struct _dedup_t {
    size_t max_clients;
    size_t window;
    client_t **buckets;
    size_t nbuckets; //  power of two
    size_t nclients;
    client_t *newest; //  LRU list ends
    client_t *oldest;
};

//  --------------------------------------------------------------------------
//  Create a table of MAX_CLIENTS clients of WINDOW records each

dedup_t *dedup_new (size_t max_clients, size_t window)
{
    assert (max_clients >= 1);
    assert (window >= 1);
    dedup_t *self = (dedup_t *)calloc (1, sizeof (dedup_t));
    if (!self)
        return NULL;
    self->max_clients = max_clients;
    self->window = window;
    self->nbuckets = DEDUP_BUCKETS_MIN;
    self->buckets = (client_t **)calloc (self->nbuckets, sizeof (client_t *));
    if (!self->buckets) {
        free (self);
        return NULL;
    }
    return self;
}

//  --------------------------------------------------------------------------
//  Destroy the table

void dedup_destroy (dedup_t **self_p)
{
    assert (self_p);
    dedup_t *self = *self_p;
    if (!self)
        return;
    while (self->oldest) {
        client_t *client = self->oldest;
        self->oldest = client->newer;
        free (client->ring);
        free (client);
    }
    free (self->buckets);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  FNV-1a, 64-bit

static uint64_t s_hash (const uint8_t *bytes, size_t size)
{
    uint64_t hash = 14695981039346656037u;
    for (size_t i = 0; i < size; i++) {
        hash ^= bytes[i];
        hash *= 1099511628211u;
    }
    return hash;
}

static client_t *s_client_find (dedup_t *self, const uint8_t *id, size_t id_size, uint64_t hash)
{
    client_t *client = self->buckets[hash & (self->nbuckets - 1)];
    while (client) {
        if (client->hash == hash && client->id_size == id_size &&
            (id_size == 0 || memcmp (client->id, id, id_size) == 0))
            return client;
        client = client->chain;
    }
    return NULL;
}

static void s_lru_unlink (dedup_t *self, client_t *client)
{
    if (client->newer)
        client->newer->older = client->older;
    else
        self->newest = client->older;
    if (client->older)
        client->older->newer = client->newer;
    else
        self->oldest = client->newer;
    client->newer = client->older = NULL;
}

static void s_lru_push (dedup_t *self, client_t *client)
{
    client->older = self->newest;
    client->newer = NULL;
    if (self->newest)
        self->newest->newer = client;
    else
        self->oldest = client;
    self->newest = client;
}

static void s_touch (dedup_t *self, client_t *client)
{
    if (self->newest != client) {
        s_lru_unlink (self, client);
        s_lru_push (self, client);
    }
}

//  Keeps chains short as clients arrive; a failure only costs longer chains.
static void s_buckets_grow (dedup_t *self)
{
    size_t nbuckets = self->nbuckets * 2;
    if (nbuckets > SIZE_MAX / sizeof (client_t *))
        return;
    client_t **buckets = (client_t **)calloc (nbuckets, sizeof (client_t *));
    if (!buckets)
        return;
    for (size_t i = 0; i < self->nbuckets; i++) {
        client_t *client = self->buckets[i];
        while (client) {
            client_t *next = client->chain;
            size_t bucket = client->hash & (nbuckets - 1);
            client->chain = buckets[bucket];
            buckets[bucket] = client;
            client = next;
        }
    }
    free (self->buckets);
    self->buckets = buckets;
    self->nbuckets = nbuckets;
}

static void s_client_remove (dedup_t *self, client_t *client)
{
    client_t **link = &self->buckets[client->hash & (self->nbuckets - 1)];
    while (*link != client)
        link = &(*link)->chain;
    *link = client->chain;
    s_lru_unlink (self, client);
    self->nclients--;
    free (client->ring);
    free (client);
}

static void s_evict_oldest (dedup_t *self)
{
    assert (self->oldest);
    s_client_remove (self, self->oldest);
}

//  --------------------------------------------------------------------------
//  Ring helpers: records are addressed by age, 0 = oldest.

static record_t *s_record_at (client_t *client, size_t age)
{
    size_t slot = client->first + age;
    if (slot >= client->cap)
        slot -= client->cap;
    return &client->ring[slot];
}

static record_t *s_record_find (client_t *client, uint64_t req_id)
{
    size_t lo = 0, hi = client->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        record_t *record = s_record_at (client, mid);
        if (record->req_id == req_id)
            return record;
        if (record->req_id < req_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

//  Ring grows only as a client's history does; most clients never fill it.
static int s_ring_grow (dedup_t *self, client_t *client)
{
    size_t cap = client->cap * 2;
    if (cap > self->window || cap < client->cap)
        cap = self->window;
    if (cap > SIZE_MAX / sizeof (record_t))
        return -1;
    record_t *ring = (record_t *)malloc (cap * sizeof (record_t));
    if (!ring)
        return -1;
    for (size_t age = 0; age < client->count; age++)
        ring[age] = *s_record_at (client, age);
    free (client->ring);
    client->ring = ring;
    client->cap = cap;
    client->first = 0;
    return 0;
}

//  REQ_ID leaves the window: it and every id below it are STALE from now on.
static void s_drop_below (client_t *client, uint64_t req_id)
{
    uint64_t bound = req_id == UINT64_MAX ? UINT64_MAX : req_id + 1;
    if (bound > client->stale_below)
        client->stale_below = bound;
}

//  An id older than the newest one: a request refused once (never recorded)
//  and sent again after newer ones. It goes in at its place in id order, so
//  a further retry finds it; below the oldest record it cannot be placed.
static int s_record_older (dedup_t *self, client_t *client, uint64_t req_id, uint64_t seq,
                           uint64_t tag)
{
    if (req_id < client->stale_below || s_record_find (client, req_id))
        return -1;
    if (client->count == client->cap &&
        (client->cap == self->window || s_ring_grow (self, client))) {
        //  Full: the oldest record makes room. If the new one would be the
        //  oldest itself, it cannot be kept: marking it stale makes a retry
        //  STALE (outcome unknown) rather than a second copy.
        if (req_id < s_record_at (client, 0)->req_id) {
            s_drop_below (client, req_id);
            return -1;
        }
        s_drop_below (client, s_record_at (client, 0)->req_id);
        client->first = client->first + 1 == client->cap ? 0 : client->first + 1;
        client->count--;
    }
    size_t age = client->count;
    while (age > 0 && s_record_at (client, age - 1)->req_id > req_id) {
        *s_record_at (client, age) = *s_record_at (client, age - 1);
        age--;
    }
    *s_record_at (client, age) = (record_t){req_id, seq, tag};
    client->count++;
    return 0;
}

//  --------------------------------------------------------------------------
//  Look up REQ_ID of CLIENT_ID. A lookup of a known client counts as use.

dedup_result_t dedup_lookup (dedup_t *self, const uint8_t *client_id, size_t client_id_size,
                             uint64_t req_id, uint64_t *seq_p, uint64_t *tag_p)
{
    assert (self);
    assert (client_id || client_id_size == 0);
    client_t *client =
        s_client_find (self, client_id, client_id_size, s_hash (client_id, client_id_size));
    if (!client)
        return DEDUP_NEW;
    s_touch (self, client);
    if (req_id > s_record_at (client, client->count - 1)->req_id)
        return DEDUP_NEW;
    if (req_id < client->stale_below)
        return DEDUP_STALE;
    record_t *record = s_record_find (client, req_id);
    if (!record)
        return DEDUP_NEW; //  a gap: see the note at the top
    if (seq_p)
        *seq_p = record->seq;
    if (tag_p)
        *tag_p = record->tag;
    return DEDUP_FOUND;
}

//  --------------------------------------------------------------------------
//  Remember that REQ_ID of CLIENT_ID got SEQ. Returns 0, or -1 if REQ_ID is
//  not above the client's last recorded one or memory cannot be had.

int dedup_record (dedup_t *self, const uint8_t *client_id, size_t client_id_size, uint64_t req_id,
                  uint64_t seq, uint64_t tag)
{
    assert (self);
    assert (client_id || client_id_size == 0);
    uint64_t hash = s_hash (client_id, client_id_size);
    client_t *client = s_client_find (self, client_id, client_id_size, hash);
    if (client) {
        s_touch (self, client);
        if (req_id <= s_record_at (client, client->count - 1)->req_id)
            return s_record_older (self, client, req_id, seq, tag);
    } else {
        if (client_id_size > SIZE_MAX - sizeof (client_t))
            return -1;
        client = (client_t *)malloc (sizeof (client_t) + client_id_size);
        if (!client)
            return -1;
        client->cap = self->window < DEDUP_RING_MIN ? self->window : DEDUP_RING_MIN;
        client->ring = (record_t *)malloc (client->cap * sizeof (record_t));
        if (!client->ring) {
            free (client);
            return -1;
        }
        client->first = 0;
        client->count = 0;
        client->stale_below = 0;
        client->hash = hash;
        client->id_size = client_id_size;
        if (client_id_size)
            memcpy (client->id, client_id, client_id_size);

        if (self->nclients >= self->nbuckets)
            s_buckets_grow (self);
        size_t bucket = hash & (self->nbuckets - 1);
        client->chain = self->buckets[bucket];
        self->buckets[bucket] = client;
        s_lru_push (self, client);
        self->nclients++;
        //  Evict after the new client is in, so a failed allocation above
        //  never costs another client its history
        if (self->nclients > self->max_clients)
            s_evict_oldest (self);
    }
    if (client->count == client->cap) {
        //  If the ring cannot grow, the record still goes in at the cost of
        //  the oldest one: a smaller window beats forgetting the newest id
        if (client->cap == self->window || s_ring_grow (self, client)) {
            s_drop_below (client, s_record_at (client, 0)->req_id);
            client->first = client->first + 1 == client->cap ? 0 : client->first + 1;
            client->count--;
        }
    }
    client->count++;
    *s_record_at (client, client->count - 1) = (record_t){req_id, seq, tag};
    return 0;
}

//  --------------------------------------------------------------------------
//  Undo the record of REQ_ID (a write that did not reach the disk must not be
//  found by a retry).

int dedup_forget (dedup_t *self, const uint8_t *client_id, size_t client_id_size, uint64_t req_id)
{
    assert (self);
    assert (client_id || client_id_size == 0);
    client_t *client =
        s_client_find (self, client_id, client_id_size, s_hash (client_id, client_id_size));
    record_t *record = client ? s_record_find (client, req_id) : NULL;
    if (!record)
        return -1;
    if (client->count == 1) {
        s_client_remove (self, client);
        return 0;
    }
    //  Close the hole: later records move one place towards the oldest.
    size_t age = 0;
    while (s_record_at (client, age) != record)
        age++;
    for (; age + 1 < client->count; age++)
        *s_record_at (client, age) = *s_record_at (client, age + 1);
    client->count--;
    return 0;
}

//  --------------------------------------------------------------------------
//  Change the tag of a recorded request. Returns 0, or -1 if not found.

int dedup_set_tag (dedup_t *self, const uint8_t *client_id, size_t client_id_size, uint64_t req_id,
                   uint64_t tag)
{
    assert (self);
    assert (client_id || client_id_size == 0);
    client_t *client =
        s_client_find (self, client_id, client_id_size, s_hash (client_id, client_id_size));
    if (!client)
        return -1;
    s_touch (self, client);
    record_t *record = s_record_find (client, req_id);
    if (!record)
        return -1;
    record->tag = tag;
    return 0;
}

//  --------------------------------------------------------------------------

size_t dedup_clients (dedup_t *self)
{
    assert (self);
    return self->nclients;
}
