/*  dedup.c - the master's idempotency table (dedup.h).

    Clients sit in an htab (client id -> client_t) and on an LRU list. A
    client keeps its window as a ring of runs in request-id order; a run
    (first_req, first_seq, count) says requests first_req.. got seqs
    first_seq.., so a batch, or a client whose appends follow each other in
    the log, is one run however long. Out-of-order ids go in at their place
    and merge with their neighbours when ids and seqs both follow on.

    Bounds, enforced after each record:
      window    a client holds at most WINDOW ids: the lowest leave first,
                and every id at or below one that left is STALE from then
                on (stale_below).
      runs      at most MAX_RUNS runs over all clients: least recently used
                clients are evicted; if the client just recorded is the only
                one left over budget, its own oldest runs leave (STALE).
      clients   at most MAX_CLIENTS: the least recently used is evicted.
    A ring halves when it is a quarter full, so the memory of a client
    follows the runs it holds (at most 4x, plus its fixed part).

    Memory (64-bit): a client is 80 bytes of client_t plus one 48-byte htab
    slot (at most 3/4 full: up to 64 bytes a client), plus 24 bytes a run
    slot. dedup_memory counts all of it (malloc's own overhead aside).

    The table never fails open: when memory runs out while forgetting ids
    (a run must split), the client is evicted, so its next request is
    UNKNOWN (STALE at the master), never a second entry.
*/
#include "dedup.h"
#include "grow.h"
#include "htab.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define RUNS_MIN ((size_t)4)

typedef struct {
    uint64_t first_req;
    uint64_t first_seq;
    uint64_t count;
} run_t;

typedef struct _client_t client_t;
struct _client_t {
    uint8_t id[DEDUP_ID_SIZE];
    client_t *newer; //  LRU neighbours
    client_t *older;
    run_t *runs;  //  ring of CAP (0 or a power of two) slots
    size_t cap;   //  slots
    size_t first; //  slot of the oldest run
    size_t nruns;
    uint64_t ids;         //  ids held: the sum of the run counts
    uint64_t stale_below; //  ids below it left the window (0: none did)
};

struct _dedup_t {
    size_t max_clients;
    size_t window;
    size_t max_runs;
    uint64_t nonce;
    uint64_t issued; //  counter of the last id dedup_open issued
    htab_t *table;   //  client id -> client_t
    client_t *newest;
    client_t *oldest;
    size_t nruns; //  over all clients
    size_t bytes; //  clients and their rings
};

dedup_t *dedup_new (size_t max_clients, size_t window, size_t max_runs, uint64_t nonce)
{
    assert (max_clients >= 1 && window >= 1 && max_runs >= 1);
    dedup_t *self = (dedup_t *)calloc (1, sizeof (dedup_t));
    if (!self)
        return NULL;
    self->max_clients = max_clients;
    self->window = window;
    self->max_runs = max_runs;
    self->nonce = nonce;
    self->table = htab_new ();
    if (!self->table) {
        free (self);
        return NULL;
    }
    return self;
}

void dedup_destroy (dedup_t **self_p)
{
    assert (self_p);
    dedup_t *self = *self_p;
    if (!self)
        return;
    while (self->oldest) {
        client_t *client = self->oldest;
        self->oldest = client->newer;
        free (client->runs);
        free (client);
    }
    htab_destroy (&self->table);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  LRU list and the client table

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

static client_t *s_find (dedup_t *self, const uint8_t *id)
{
    htab_value_t *value = htab_find (self->table, id, DEDUP_ID_SIZE);
    return value ? (client_t *)value->ptr : NULL;
}

static void s_evict (dedup_t *self, client_t *client)
{
    bool removed = htab_remove (self->table, client->id, DEDUP_ID_SIZE);
    assert (removed);
    (void)removed;
    s_lru_unlink (self, client);
    self->nruns -= client->nruns;
    self->bytes -= sizeof (client_t) + client->cap * sizeof (run_t);
    free (client->runs);
    free (client);
}

//  A known client with no runs, most recently used. NULL on out of memory.
static client_t *s_create (dedup_t *self, const uint8_t *id)
{
    client_t *client = (client_t *)calloc (1, sizeof (client_t));
    if (!client)
        return NULL;
    memcpy (client->id, id, DEDUP_ID_SIZE);
    htab_value_t *value = htab_put (self->table, client->id, DEDUP_ID_SIZE, NULL);
    if (!value) {
        free (client);
        return NULL;
    }
    value->ptr = client;
    s_lru_push (self, client);
    self->bytes += sizeof (client_t);
    //  Evict after the new client is in, so a failure above costs nobody
    //  their history.
    if (htab_size (self->table) > self->max_clients)
        s_evict (self, self->oldest);
    return client;
}

//  --------------------------------------------------------------------------
//  The ring of runs: index 0 is the oldest (lowest ids)

static run_t *s_run (client_t *client, size_t index)
{
    return &client->runs[(client->first + index) & (client->cap - 1)];
}

//  Index of the first run whose first_req is above REQ (nruns if none).
static size_t s_upper (client_t *client, uint64_t req)
{
    size_t lo = 0, hi = client->nruns;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s_run (client, mid)->first_req <= req)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

//  The run holding REQ, or NULL.
static run_t *s_holding (client_t *client, uint64_t req)
{
    size_t pos = s_upper (client, req);
    if (pos == 0)
        return NULL;
    run_t *run = s_run (client, pos - 1);
    return req - run->first_req < run->count ? run : NULL;
}

//  Room for one more run. A doubled ring that wrapped gets its wrapped
//  part moved up past the old end, so it reads in order again.
static int s_ring_reserve (dedup_t *self, client_t *client)
{
    size_t old_cap = client->cap;
    if (grow_array ((void **)&client->runs, &client->cap, client->nruns + 1, sizeof (run_t),
                    RUNS_MIN) != 0)
        return -1;
    if (client->cap != old_cap && client->first + client->nruns > old_cap) {
        size_t wrapped = client->first + client->nruns - old_cap;
        memcpy (client->runs + old_cap, client->runs, wrapped * sizeof (run_t));
    }
    self->bytes += (client->cap - old_cap) * sizeof (run_t);
    return 0;
}

//  A ring a quarter full halves, as many times as that holds.
static void s_ring_shrink (dedup_t *self, client_t *client)
{
    if (client->cap <= RUNS_MIN || client->nruns * 4 > client->cap)
        return;
    size_t cap = client->cap / 2;
    while (cap > RUNS_MIN && client->nruns * 4 <= cap)
        cap /= 2;
    run_t *runs = (run_t *)malloc (cap * sizeof (run_t));
    if (!runs)
        return; //  keeps the larger ring: still correct
    for (size_t i = 0; i < client->nruns; i++)
        runs[i] = *s_run (client, i);
    free (client->runs);
    client->runs = runs;
    self->bytes -= (client->cap - cap) * sizeof (run_t);
    client->cap = cap;
    client->first = 0;
}

static int s_insert_run (dedup_t *self, client_t *client, size_t pos, run_t run)
{
    if (s_ring_reserve (self, client) != 0)
        return -1;
    for (size_t i = client->nruns; i > pos; i--)
        *s_run (client, i) = *s_run (client, i - 1);
    *s_run (client, pos) = run;
    client->nruns++;
    self->nruns++;
    return 0;
}

static void s_remove_run (dedup_t *self, client_t *client, size_t pos)
{
    assert (pos < client->nruns);
    if (pos == 0)
        client->first = (client->first + 1) & (client->cap - 1);
    else
        for (size_t i = pos; i + 1 < client->nruns; i++)
            *s_run (client, i) = *s_run (client, i + 1);
    client->nruns--;
    self->nruns--;
}

//  Two runs are one when both their ids and their seqs follow on.
static bool s_follows (const run_t *a, const run_t *b)
{
    return a->first_req + a->count == b->first_req && a->first_seq + a->count == b->first_seq;
}

//  Put RUN (ids not held yet) at POS, merged with its neighbours.
static int s_place (dedup_t *self, client_t *client, size_t pos, run_t run)
{
    size_t at;
    if (pos > 0 && s_follows (s_run (client, pos - 1), &run)) {
        at = pos - 1;
        s_run (client, at)->count += run.count;
    } else {
        if (s_insert_run (self, client, pos, run) != 0)
            return -1;
        at = pos;
    }
    if (at + 1 < client->nruns && s_follows (s_run (client, at), s_run (client, at + 1))) {
        s_run (client, at)->count += s_run (client, at + 1)->count;
        s_remove_run (self, client, at + 1);
    }
    client->ids += run.count;
    return 0;
}

//  Ids A.. (N of them, not past 2^64-1) got seqs SEQ..: add the ones not
//  held yet, around the runs that already hold some.
static int s_add_range (dedup_t *self, client_t *client, uint64_t a, uint64_t seq, uint64_t n)
{
    while (n > 0) {
        size_t pos = s_upper (client, a);
        if (pos > 0) {
            run_t *prev = s_run (client, pos - 1);
            if (a - prev->first_req < prev->count) {
                uint64_t held = prev->count - (a - prev->first_req);
                if (held >= n)
                    return 0;
                a += held, seq += held, n -= held;
                continue;
            }
        }
        uint64_t len = n;
        if (pos < client->nruns && s_run (client, pos)->first_req - a < len)
            len = s_run (client, pos)->first_req - a;
        if (s_place (self, client, pos, (run_t){a, seq, len}) != 0)
            return -1;
        a += len, seq += len, n -= len;
    }
    return 0;
}

//  The K lowest ids leave the window: they and all below are STALE.
static void s_drop_lowest (dedup_t *self, client_t *client, uint64_t k)
{
    while (k > 0 && client->nruns > 0) {
        run_t *run = s_run (client, 0);
        uint64_t drop = run->count < k ? run->count : k;
        uint64_t last = run->first_req + (drop - 1);
        uint64_t bound = last == UINT64_MAX ? UINT64_MAX : last + 1;
        if (bound > client->stale_below)
            client->stale_below = bound;
        client->ids -= drop;
        k -= drop;
        if (drop == run->count)
            s_remove_run (self, client, 0);
        else {
            run->first_req += drop;
            run->first_seq += drop;
            run->count -= drop;
        }
    }
}

//  The run budget: other clients go, least recently used first; the
//  client just recorded (CLIENT) gives up its oldest runs only when it is
//  the last one over budget.
static void s_enforce_runs (dedup_t *self, client_t *client)
{
    while (self->nruns > self->max_runs) {
        if (self->oldest != client)
            s_evict (self, self->oldest);
        else
            s_drop_lowest (self, client, s_run (client, 0)->count);
    }
}

//  --------------------------------------------------------------------------

int dedup_open (dedup_t *self, uint8_t *id)
{
    assert (self);
    assert (id);
    do {
        self->issued++;
        for (int i = 0; i < 8; i++) {
            id[i] = (uint8_t)(self->nonce >> (8 * i));
            id[8 + i] = (uint8_t)(self->issued >> (8 * i));
        }
    } while (s_find (self, id)); //  an id recovered from the log: never reissue
    return s_create (self, id) ? 0 : -1;
}

dedup_result_t dedup_lookup (dedup_t *self, const uint8_t *id, uint64_t req_id, uint64_t *seq_p)
{
    assert (self);
    assert (id);
    client_t *client = s_find (self, id);
    if (!client)
        return DEDUP_UNKNOWN;
    s_touch (self, client);
    if (req_id < client->stale_below)
        return DEDUP_STALE;
    run_t *run = s_holding (client, req_id);
    if (!run)
        return DEDUP_NEW;
    if (seq_p)
        *seq_p = run->first_seq + (req_id - run->first_req);
    return DEDUP_FOUND;
}

int dedup_record (dedup_t *self, const uint8_t *id, uint64_t first_req, uint64_t first_seq,
                  uint64_t count)
{
    assert (self);
    assert (id);
    if (count == 0)
        return 0;
    client_t *client = s_find (self, id);
    if (client)
        s_touch (self, client);
    else if (!(client = s_create (self, id)))
        return -1;
    if (count - 1 > UINT64_MAX - first_req)
        count = UINT64_MAX - first_req + 1;
    if (first_req < client->stale_below) {
        uint64_t skip = client->stale_below - first_req;
        if (skip >= count)
            return 0;
        first_req += skip, first_seq += skip, count -= skip;
    }
    int rc = s_add_range (self, client, first_req, first_seq, count);
    if (client->ids > self->window)
        s_drop_lowest (self, client, client->ids - self->window);
    s_enforce_runs (self, client);
    s_ring_shrink (self, client);
    return rc;
}

//  Cut the ids [A, A+N) out of run POS, which holds A or starts in the
//  range. Returns the index of the next run to look at, or SIZE_MAX if
//  memory ran out splitting it.
static size_t s_cut (dedup_t *self, client_t *client, size_t pos, uint64_t a, uint64_t n)
{
    run_t *run = s_run (client, pos);
    uint64_t off = a > run->first_req ? a - run->first_req : 0;
    uint64_t skipped = a < run->first_req ? run->first_req - a : 0;
    uint64_t len = run->count - off;
    if (n - skipped < len)
        len = n - skipped;
    client->ids -= len;
    if (off == 0 && len == run->count) {
        s_remove_run (self, client, pos);
        return pos;
    }
    if (off == 0) {
        run->first_req += len, run->first_seq += len, run->count -= len;
        return pos + 1;
    }
    run_t tail = {run->first_req + off + len, run->first_seq + off + len, run->count - off - len};
    run->count = off;
    if (tail.count == 0)
        return pos + 1;
    return s_insert_run (self, client, pos + 1, tail) == 0 ? pos + 2 : SIZE_MAX;
}

void dedup_forget (dedup_t *self, const uint8_t *id, uint64_t first_req, uint64_t count)
{
    assert (self);
    assert (id);
    client_t *client = s_find (self, id);
    if (!client || count == 0)
        return;
    if (count - 1 > UINT64_MAX - first_req)
        count = UINT64_MAX - first_req + 1;
    size_t pos = s_upper (client, first_req);
    if (pos > 0 && first_req - s_run (client, pos - 1)->first_req < s_run (client, pos - 1)->count)
        pos--;
    while (pos < client->nruns) {
        run_t *run = s_run (client, pos);
        if (run->first_req > first_req && run->first_req - first_req >= count)
            break;
        pos = s_cut (self, client, pos, first_req, count);
        if (pos == SIZE_MAX) {
            //  Holding ids it cannot split off, the table forgets the
            //  whole client: UNKNOWN is safe, a stale seq is not.
            s_evict (self, client);
            return;
        }
    }
    s_ring_shrink (self, client);
}

size_t dedup_clients (dedup_t *self)
{
    assert (self);
    return htab_size (self->table);
}

size_t dedup_runs (dedup_t *self)
{
    assert (self);
    return self->nruns;
}

size_t dedup_memory (dedup_t *self)
{
    assert (self);
    return sizeof (dedup_t) + self->bytes + htab_memory (self->table);
}
