/*  appends.c - the master's appends, from admission to reply (appends.h).

    One pending_t per request from appends_begin to its reply, in a pool
    that only grows to the most requests ever parked at once (plus the one
    being admitted) and recycles slots through a free list: the steady path
    allocates nothing. Indexes on the pool, all by slot number:
      fifos     one list per w, in order of the seq waited for (a retry of
                an old seq walks back to its place, after equal seqs), so
                durable() answers a prefix of each;
      heap      a min-heap on (deadline, arrival) of the requests that have
                a deadline;
      retries   htab: client id + first_req + count -> slot, so a retry of
                a parked request moves it to the new route instead of
                parking it twice;
      routes    htab: reply route -> requests parked from it (the key goes
                when the count drops to 0).
    A request holds its retry key and its route key from appends_begin
    (made then, so nothing can fail once entries are stored), and counts on
    its route only while parked.

    Replies: a whole-request refusal has no seq and no exceptions. A batch
    whose every entry is refused is answered at once with the first
    refusal's code and text (nothing to wait for), its exceptions listing
    them all. Otherwise the request waits for the highest seq it names and
    its reply is OK, TIMEOUT or INTERNAL, with the exceptions (duplicates
    at their original seq, refusals with their code) of a batch; the text
    speaks of the reply's code only.

    Memory: 120 bytes a slot (routes up to ROUTE_INLINE bytes inline,
    longer ones copied to the heap), 4 of heap, one 48-byte slot in the
    retry htab (at most 3/4 full), a route slot per route; a parked batch
    with exceptions adds 16 bytes an exception. Scratch for the request
    being admitted grows to the largest batch seen.

    Callbacks must not call back into the same appends_t.
*/
#include "appends.h"
#include "grow.h"
#include "htab.h"
#include "rlog.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NIL            UINT32_MAX
#define ROUTE_INLINE   24
#define RETRY_KEY_SIZE (DEDUP_ID_SIZE + 8 + 4)
#define TEXT_MAX       256

typedef enum { SLOT_FREE = 0, SLOT_BEGUN, SLOT_PARKED } slot_state_t;

typedef struct {
    uint8_t client_id[DEDUP_ID_SIZE];
    uint64_t first_req;
    uint64_t seq;                    //  the highest seq it names: the one it waits for
    uint64_t first_seq;              //  of its first new entry, 0 if none
    int64_t deadline;                //  -1: none
    uint64_t serial;                 //  arrival order, breaks deadline ties
    appends_exception_t *exceptions; //  a parked batch's, NULL if none
    uint32_t exception_count;
    uint32_t count;
    uint32_t w;
    uint32_t prev; //  FIFO of level w
    uint32_t next; //  ... also the free list
    uint32_t heap_index;
    uint16_t route_size;
    uint8_t state;
    bool batch;
    union {
        uint8_t bytes[ROUTE_INLINE];
        uint8_t *heap;
    } route;
} pending_t;

//  What a parked request costs (see the note at the top); keep it so.
_Static_assert(sizeof (pending_t) <= 120, "pending_t grew");

typedef struct {
    uint32_t head;
    uint32_t tail;
} fifo_t;

//  Consecutive request ids among the new entries of the request begun.
typedef struct {
    uint64_t first_req;
    uint64_t count;
} id_run_t;

//  The request between appends_begin and appends_end / abort.
typedef struct {
    bool active;
    uint32_t slot;
    int refuse_new;
    char refuse_text[TEXT_MAX];
    uint32_t entries; //  seen so far
    uint64_t dup_seq; //  highest seq of a duplicate, 0 if none
    uint64_t new_count;
    uint64_t timeout_ms;
    int first_code; //  first refusal, 0 if none
    char first_text[TEXT_MAX];
} current_t;

struct _appends_t {
    appends_config_t config;
    appends_reply_fn *fn;
    void *arg;
    dedup_t *dedup;
    pending_t *pool;
    size_t pool_cap;
    size_t hwm;    //  slots ever handed out
    uint32_t free; //  recycled slots
    size_t parked;
    uint32_t *heap;
    size_t heap_cap;
    size_t heap_size;
    fifo_t *fifos; //  level w at fifos[w - 1]
    htab_t *retries;
    htab_t *routes;
    uint64_t serial;
    current_t cur;
    appends_exception_t *exc; //  scratch of the request begun
    size_t exc_cap;
    size_t exc_count;
    id_run_t *runs; //  scratch of the request begun
    size_t runs_cap;
    size_t nruns;
    uint64_t top[APPENDS_MAX_NODES]; //  durable(): HELD, highest first
};

appends_t *appends_new (const appends_config_t *config, appends_reply_fn *fn, void *arg)
{
    assert (config && fn);
    if (config->max_w < 1 || config->max_w > APPENDS_MAX_NODES)
        return NULL;
    appends_t *self = (appends_t *)calloc (1, sizeof (appends_t));
    if (!self)
        return NULL;
    self->config = *config;
    //  Slot numbers are 32-bit with NIL reserved; one slot is the request
    //  being admitted.
    if (self->config.max_parked > NIL - 2)
        self->config.max_parked = NIL - 2;
    self->fn = fn;
    self->arg = arg;
    self->free = NIL;
    const appends_config_t *c = config;
    self->dedup = dedup_new (c->dedup_clients ? c->dedup_clients : DEDUP_MAX_CLIENTS,
                             c->dedup_window ? c->dedup_window : DEDUP_WINDOW,
                             c->dedup_runs ? c->dedup_runs : DEDUP_MAX_RUNS, c->nonce);
    self->fifos = (fifo_t *)malloc (config->max_w * sizeof (fifo_t));
    self->retries = htab_new ();
    self->routes = htab_new ();
    if (!self->dedup || !self->fifos || !self->retries || !self->routes) {
        appends_destroy (&self);
        return NULL;
    }
    for (uint32_t i = 0; i < config->max_w; i++)
        self->fifos[i].head = self->fifos[i].tail = NIL;
    return self;
}

static const uint8_t *s_route (const pending_t *p)
{
    return p->route_size > ROUTE_INLINE ? p->route.heap : p->route.bytes;
}

void appends_destroy (appends_t **self_p)
{
    assert (self_p);
    appends_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->hwm; i++) {
        pending_t *p = &self->pool[i];
        if (p->state != SLOT_FREE && p->route_size > ROUTE_INLINE)
            free (p->route.heap);
        if (p->state != SLOT_FREE)
            free (p->exceptions);
    }
    free (self->pool);
    free (self->heap);
    free (self->fifos);
    free (self->exc);
    free (self->runs);
    htab_destroy (&self->retries);
    htab_destroy (&self->routes);
    dedup_destroy (&self->dedup);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Deadline heap

static bool s_heap_less (appends_t *self, uint32_t a, uint32_t b)
{
    const pending_t *pa = &self->pool[a], *pb = &self->pool[b];
    if (pa->deadline != pb->deadline)
        return pa->deadline < pb->deadline;
    return pa->serial < pb->serial;
}

static void s_heap_place (appends_t *self, size_t index, uint32_t slot)
{
    self->heap[index] = slot;
    self->pool[slot].heap_index = (uint32_t)index;
}

static void s_heap_up (appends_t *self, size_t index)
{
    uint32_t slot = self->heap[index];
    while (index > 0 && s_heap_less (self, slot, self->heap[(index - 1) / 2])) {
        s_heap_place (self, index, self->heap[(index - 1) / 2]);
        index = (index - 1) / 2;
    }
    s_heap_place (self, index, slot);
}

static void s_heap_down (appends_t *self, size_t index)
{
    uint32_t slot = self->heap[index];
    while (true) {
        size_t child = 2 * index + 1;
        if (child >= self->heap_size)
            break;
        if (child + 1 < self->heap_size &&
            s_heap_less (self, self->heap[child + 1], self->heap[child]))
            child++;
        if (!s_heap_less (self, self->heap[child], slot))
            break;
        s_heap_place (self, index, self->heap[child]);
        index = child;
    }
    s_heap_place (self, index, slot);
}

static void s_heap_remove (appends_t *self, uint32_t slot)
{
    size_t index = self->pool[slot].heap_index;
    assert (index < self->heap_size && self->heap[index] == slot);
    self->pool[slot].heap_index = NIL;
    size_t last = --self->heap_size;
    if (index == last)
        return;
    //  The last element may belong above or below the hole it fills.
    s_heap_place (self, index, self->heap[last]);
    if (index > 0 && s_heap_less (self, self->heap[index], self->heap[(index - 1) / 2]))
        s_heap_up (self, index);
    else
        s_heap_down (self, index);
}

//  --------------------------------------------------------------------------
//  Per-w FIFOs

static void s_fifo_insert (appends_t *self, uint32_t slot)
{
    pending_t *p = &self->pool[slot];
    fifo_t *fifo = &self->fifos[p->w - 1];
    //  Usually the new seq is the highest and this loop does not run.
    uint32_t after = fifo->tail;
    while (after != NIL && self->pool[after].seq > p->seq)
        after = self->pool[after].prev;
    p->prev = after;
    p->next = after == NIL ? fifo->head : self->pool[after].next;
    if (p->prev == NIL)
        fifo->head = slot;
    else
        self->pool[p->prev].next = slot;
    if (p->next == NIL)
        fifo->tail = slot;
    else
        self->pool[p->next].prev = slot;
}

static void s_fifo_remove (appends_t *self, uint32_t slot)
{
    pending_t *p = &self->pool[slot];
    fifo_t *fifo = &self->fifos[p->w - 1];
    if (p->prev == NIL)
        fifo->head = p->next;
    else
        self->pool[p->prev].next = p->next;
    if (p->next == NIL)
        fifo->tail = p->prev;
    else
        self->pool[p->next].prev = p->prev;
    p->prev = p->next = NIL;
}

//  --------------------------------------------------------------------------
//  Keys, routes, slots

static void s_retry_key (uint8_t *key, const uint8_t *client_id, uint64_t first_req, uint32_t count)
{
    memcpy (key, client_id, DEDUP_ID_SIZE);
    for (int i = 0; i < 8; i++)
        key[DEDUP_ID_SIZE + i] = (uint8_t)(first_req >> (8 * i));
    for (int i = 0; i < 4; i++)
        key[DEDUP_ID_SIZE + 8 + i] = (uint8_t)(count >> (8 * i));
}

static void s_pending_key (const pending_t *p, uint8_t *key)
{
    s_retry_key (key, p->client_id, p->first_req, p->count);
}

//  Point P's route at ROUTE. -1 (P unchanged) on out of memory.
static int s_set_route (pending_t *p, const uint8_t *route, size_t size)
{
    uint8_t *heap = NULL;
    if (size > ROUTE_INLINE && !(heap = (uint8_t *)malloc (size)))
        return -1;
    if (p->route_size > ROUTE_INLINE)
        free (p->route.heap);
    if (heap) {
        memcpy (heap, route, size);
        p->route.heap = heap;
    } else if (size)
        memcpy (p->route.bytes, route, size);
    p->route_size = (uint16_t)size;
    return 0;
}

//  One request less parked from ROUTE; the key goes at zero.
static void s_route_release (appends_t *self, const uint8_t *route, size_t size, bool counted)
{
    htab_value_t *count = htab_find (self->routes, route, size);
    if (!count)
        return; //  a request whose admission failed half way
    if (counted) {
        assert (count->u64 > 0);
        count->u64--;
    }
    if (count->u64 == 0)
        htab_remove (self->routes, route, size);
}

//  A slot for the request begun, with room in the heap for it to park.
static int s_slot_take (appends_t *self, uint32_t *slot_p)
{
    if (self->free != NIL) {
        *slot_p = self->free;
        self->free = self->pool[self->free].next;
        return 0;
    }
    if (grow_array ((void **)&self->pool, &self->pool_cap, self->hwm + 1, sizeof (pending_t), 16) !=
            0 ||
        grow_array ((void **)&self->heap, &self->heap_cap, self->hwm + 1, sizeof (uint32_t), 16) !=
            0)
        return -1;
    *slot_p = (uint32_t)self->hwm++;
    return 0;
}

//  The request leaves its indexes (it is no longer parked, or never was)
//  and its slot returns to the free list.
static void s_slot_release (appends_t *self, uint32_t slot)
{
    pending_t *p = &self->pool[slot];
    uint8_t key[RETRY_KEY_SIZE];
    s_pending_key (p, key);
    htab_remove (self->retries, key, sizeof key);
    s_route_release (self, s_route (p), p->route_size, p->state == SLOT_PARKED);
    if (p->route_size > ROUTE_INLINE)
        free (p->route.heap);
    free (p->exceptions);
    memset (p, 0, sizeof *p);
    p->next = self->free;
    self->free = slot;
}

//  --------------------------------------------------------------------------
//  Replies

static uint32_t s_acks (const uint64_t *held, size_t n, uint64_t seq)
{
    uint32_t acks = 0;
    for (size_t i = 0; i < n && i < APPENDS_MAX_NODES; i++)
        if (held[i] >= seq)
            acks++;
    return acks;
}

static uint32_t s_w32 (uint64_t w)
{
    return w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
}

//  A whole request refused, before anything was stored.
static void s_refuse (appends_t *self, const appends_request_t *req, int code, const char *text)
{
    appends_reply_t reply = {.route = req->route,
                             .route_size = req->route_size,
                             .batch = req->batch,
                             .first_req = req->first_req,
                             .count = req->count,
                             .code = code,
                             .w = s_w32 (req->w),
                             .text = text};
    self->fn (self->arg, &reply);
}

//  Answer the request in SLOT with CODE; EXC are its exceptions (a batch's).
static void s_reply (appends_t *self, uint32_t slot, int code, uint32_t acks, const char *text,
                     const appends_exception_t *exc, size_t exc_count)
{
    const pending_t *p = &self->pool[slot];
    bool lost = code == RLOG_INTERNAL;
    appends_reply_t reply = {.route = s_route (p),
                             .route_size = p->route_size,
                             .batch = p->batch,
                             .first_req = p->first_req,
                             .count = p->count,
                             .code = code,
                             .first_seq = lost ? 0 : p->first_seq,
                             .seq = lost ? 0 : p->seq,
                             .acks = acks,
                             .w = p->w,
                             .exceptions = p->batch ? exc : NULL,
                             .exception_count = p->batch ? exc_count : 0,
                             .text = text ? text : ""};
    self->fn (self->arg, &reply);
}

//  Answer a parked request: it leaves every index first, then the callback
//  runs, then the slot is recycled.
static void s_answer (appends_t *self, uint32_t slot, int code, uint32_t acks, const char *text)
{
    pending_t *p = &self->pool[slot];
    assert (p->state == SLOT_PARKED);
    s_fifo_remove (self, slot);
    if (p->heap_index != NIL)
        s_heap_remove (self, slot);
    self->parked--;
    s_reply (self, slot, code, acks, text, p->exceptions, p->exception_count);
    s_slot_release (self, slot);
}

//  "stored on m of w nodes", after PREFIX.
static const char *s_progress (char *text, size_t size, const char *prefix, uint32_t acks,
                               uint32_t w)
{
    snprintf (text, size, "%sstored on %" PRIu32 " of %" PRIu32 " nodes", prefix, acks, w);
    return text;
}

//  --------------------------------------------------------------------------
//  Admission

int appends_open (appends_t *self, uint8_t *id)
{
    assert (self);
    return dedup_open (self->dedup, id);
}

//  A retry of a parked request: it moves to REQ's route (unless that route
//  is at its limit: BUSY, and the request stays where it was). Returns
//  true if REQ was such a retry (handled), false otherwise.
static bool s_rebind (appends_t *self, const appends_request_t *req)
{
    uint8_t key[RETRY_KEY_SIZE];
    s_retry_key (key, req->client_id, req->first_req, req->count);
    htab_value_t *found = htab_find (self->retries, key, sizeof key);
    if (!found)
        return false;
    pending_t *p = &self->pool[found->u64];
    assert (p->state == SLOT_PARKED);
    if (p->route_size == req->route_size && memcmp (s_route (p), req->route, req->route_size) == 0)
        return true; //  the same route again: still parked, nothing moves
    bool added;
    htab_value_t *count = htab_put (self->routes, req->route, req->route_size, &added);
    if (!count || count->u64 >= self->config.max_route_parked) {
        if (count && added)
            htab_remove (self->routes, req->route, req->route_size);
        s_refuse (self, req, count ? RLOG_BUSY : RLOG_INTERNAL,
                  count ? "this client has too many appends waiting" : "out of memory");
        return true;
    }
    uint8_t old[APPENDS_ROUTE_MAX];
    size_t old_size = p->route_size;
    memcpy (old, s_route (p), old_size);
    if (s_set_route (p, req->route, req->route_size) != 0) {
        if (added)
            htab_remove (self->routes, req->route, req->route_size);
        s_refuse (self, req, RLOG_INTERNAL, "out of memory");
        return true;
    }
    count->u64++;
    s_route_release (self, old, old_size, true);
    return true;
}

//  The limits, then a slot and the request's keys. 0, or -1 (answered).
static int s_admit (appends_t *self, const appends_request_t *req)
{
    htab_value_t *count = htab_find (self->routes, req->route, req->route_size);
    if (req->may_park && count && count->u64 >= self->config.max_route_parked) {
        s_refuse (self, req, RLOG_BUSY, "this client has too many appends waiting");
        return -1;
    }
    if (req->may_park && self->parked >= self->config.max_parked) {
        s_refuse (self, req, RLOG_BUSY, "too many appends waiting for their write concern");
        return -1;
    }
    uint32_t slot;
    uint8_t key[RETRY_KEY_SIZE];
    s_retry_key (key, req->client_id, req->first_req, req->count);
    htab_value_t *retry = NULL;
    if (grow_array ((void **)&self->exc, &self->exc_cap, req->count, sizeof (*self->exc), 16) ||
        grow_array ((void **)&self->runs, &self->runs_cap, req->count, sizeof (*self->runs), 16) ||
        s_slot_take (self, &slot) != 0) {
        s_refuse (self, req, RLOG_INTERNAL, "out of memory");
        return -1;
    }
    pending_t *p = &self->pool[slot];
    *p = (pending_t){.first_req = req->first_req,
                     .count = req->count,
                     .w = (uint32_t)req->w,
                     .batch = req->batch,
                     .state = SLOT_BEGUN,
                     .deadline = -1,
                     .prev = NIL,
                     .next = NIL,
                     .heap_index = NIL};
    memcpy (p->client_id, req->client_id, DEDUP_ID_SIZE);
    if (s_set_route (p, req->route, req->route_size) != 0 ||
        !htab_put (self->routes, req->route, req->route_size, NULL) ||
        !(retry = htab_put (self->retries, key, sizeof key, NULL))) {
        s_refuse (self, req, RLOG_INTERNAL, "out of memory");
        s_slot_release (self, slot);
        return -1;
    }
    retry->u64 = slot;
    self->cur.slot = slot;
    return 0;
}

int appends_begin (appends_t *self, const appends_request_t *req, int refuse_new,
                   const char *refuse_text, int64_t now)
{
    assert (self && req);
    assert (!self->cur.active);
    assert (req->route_size <= APPENDS_ROUTE_MAX && req->client_id);
    (void)now;
    if (req->route_size > APPENDS_ROUTE_MAX)
        return -1; //  nowhere to answer
    char text[TEXT_MAX];
    if (req->w < 1 || req->w > self->config.max_w) {
        snprintf (text, sizeof text,
                  "w=%" PRIu64 " is outside 1..%" PRIu32 " (master + %" PRIu32 " secondaries)",
                  req->w, self->config.max_w, self->config.max_w - 1);
        s_refuse (self, req, RLOG_BAD_W, text);
        return -1;
    }
    if (req->count == 0) {
        s_refuse (self, req, RLOG_MALFORMED, "a request of no entries");
        return -1;
    }
    if (s_rebind (self, req))
        return -1;
    if (dedup_lookup (self->dedup, req->client_id, req->first_req, NULL) == DEDUP_UNKNOWN) {
        s_refuse (self, req, RLOG_STALE,
                  "client id unknown to this master (evicted or never issued): "
                  "open a new session");
        return -1;
    }
    if (s_admit (self, req) != 0)
        return -1;
    current_t *cur = &self->cur;
    uint32_t slot = cur->slot;
    *cur = (current_t){
        .active = true, .slot = slot, .refuse_new = refuse_new, .timeout_ms = req->timeout_ms};
    snprintf (cur->refuse_text, sizeof cur->refuse_text, "%s", refuse_text ? refuse_text : "");
    self->exc_count = 0;
    self->nruns = 0;
    return 0;
}

//  An entry refused: its exception, and the first refusal's code and text
//  (the text of a batch's reply is shared by all its entries, so it does
//  not name one: the exceptions say which entries were refused).
static appends_verdict_t s_refused (appends_t *self, uint32_t index, int code, const char *text)
{
    current_t *cur = &self->cur;
    self->exc[self->exc_count++] = (appends_exception_t){index, (uint32_t)code, 0};
    if (!cur->first_code) {
        cur->first_code = code;
        snprintf (cur->first_text, sizeof cur->first_text, "%s", text);
    }
    return APPENDS_REFUSED;
}

//  A new entry's request id joins the runs of consecutive ids.
static void s_new_id (appends_t *self, uint64_t req_id)
{
    id_run_t *last = self->nruns ? &self->runs[self->nruns - 1] : NULL;
    if (last && last->first_req + last->count == req_id)
        last->count++;
    else
        self->runs[self->nruns++] = (id_run_t){req_id, 1};
    self->cur.new_count++;
}

appends_verdict_t appends_entry (appends_t *self, uint64_t req_id, size_t size)
{
    assert (self);
    current_t *cur = &self->cur;
    assert (cur->active);
    const pending_t *p = &self->pool[cur->slot];
    assert (cur->entries < p->count);
    if (!cur->active || cur->entries >= p->count)
        return APPENDS_REFUSED; //  more entries than the request named
    uint32_t index = cur->entries++;
    char text[TEXT_MAX];
    if (size == 0)
        return s_refused (self, index, RLOG_EMPTY, "empty messages are refused");
    if (size > self->config.max_payload) {
        snprintf (text, sizeof text, "payload of %zu bytes exceeds %zu", size,
                  self->config.max_payload);
        return s_refused (self, index, RLOG_TOO_LARGE, text);
    }
    uint64_t seq = 0;
    dedup_result_t seen = dedup_lookup (self->dedup, p->client_id, req_id, &seq);
    if (seen == DEDUP_FOUND) {
        self->exc[self->exc_count++] = (appends_exception_t){index, RLOG_OK, seq};
        if (seq > cur->dup_seq)
            cur->dup_seq = seq;
        return APPENDS_DUP;
    }
    if (seen != DEDUP_NEW)
        return s_refused (self, index, RLOG_STALE,
                          "request id is older than this client's dedup window");
    if (cur->refuse_new)
        return s_refused (self, index, cur->refuse_new, cur->refuse_text);
    s_new_id (self, req_id);
    return APPENDS_NEW;
}

//  Saturating: a timeout of centuries is "no deadline", not an overflow.
static int64_t s_deadline (int64_t now, uint64_t timeout_ms)
{
    const uint64_t cap = (uint64_t)INT64_MAX / 4;
    if (timeout_ms == 0 || timeout_ms > cap || now > INT64_MAX - (int64_t)timeout_ms)
        return -1;
    return now + (int64_t)timeout_ms;
}

//  Park the request begun. -1 if its exceptions cannot be kept.
static int s_park (appends_t *self, uint32_t slot, int64_t now)
{
    pending_t *p = &self->pool[slot];
    if (p->batch && self->exc_count) {
        size_t bytes = self->exc_count * sizeof (appends_exception_t);
        if (!(p->exceptions = (appends_exception_t *)malloc (bytes)))
            return -1;
        memcpy (p->exceptions, self->exc, bytes);
        p->exception_count = (uint32_t)self->exc_count;
    }
    p->deadline = s_deadline (now, self->cur.timeout_ms);
    p->serial = self->serial++;
    p->state = SLOT_PARKED;
    s_fifo_insert (self, slot);
    if (p->deadline >= 0) {
        self->heap[self->heap_size++] = slot;
        s_heap_up (self, self->heap_size - 1);
    }
    htab_value_t *count = htab_find (self->routes, s_route (p), p->route_size);
    assert (count);
    count->u64++;
    self->parked++;
    return 0;
}

void appends_end (appends_t *self, uint64_t first_seq, const uint64_t *held, size_t n, int64_t now)
{
    assert (self);
    current_t *cur = &self->cur;
    assert (cur->active);
    assert (first_seq > 0 || cur->new_count == 0);
    if (cur->new_count && !first_seq) {
        appends_abort (self, RLOG_INTERNAL, "not stored");
        return;
    }
    cur->active = false;
    uint32_t slot = cur->slot;
    pending_t *p = &self->pool[slot];
    uint64_t seq = first_seq;
    for (size_t i = 0; i < self->nruns; i++) {
        //  Failing here (out of memory) leaves those ids NEW to a retry;
        //  nothing else can be done for entries already stored.
        dedup_record (self->dedup, p->client_id, self->runs[i].first_req, seq, self->runs[i].count);
        seq += self->runs[i].count;
    }
    p->first_seq = cur->new_count ? first_seq : 0;
    p->seq = cur->new_count ? first_seq + cur->new_count - 1 : 0;
    if (cur->dup_seq > p->seq)
        p->seq = cur->dup_seq;
    char text[TEXT_MAX];
    if (p->seq == 0) //  every entry refused: nothing to wait for
        s_reply (self, slot, cur->first_code, 0, cur->first_text, self->exc, self->exc_count);
    else {
        uint32_t acks = s_acks (held, n, p->seq);
        if (acks >= p->w)
            s_reply (self, slot, RLOG_OK, acks, "", self->exc, self->exc_count);
        else if (s_park (self, slot, now) == 0)
            return;
        else //  stored, but its answer could not be kept for later
            s_reply (self, slot, RLOG_TIMEOUT, acks,
                     s_progress (text, sizeof text, "out of memory: ", acks, p->w), self->exc,
                     self->exc_count);
    }
    s_slot_release (self, slot);
}

void appends_abort (appends_t *self, int code, const char *text)
{
    assert (self);
    assert (self->cur.active);
    if (!self->cur.active)
        return;
    self->cur.active = false;
    uint32_t slot = self->cur.slot;
    pending_t *p = &self->pool[slot];
    p->first_seq = p->seq = 0;
    s_reply (self, slot, code, 0, text, NULL, 0);
    s_slot_release (self, slot);
}

//  --------------------------------------------------------------------------
//  Answers

size_t appends_durable (appends_t *self, const uint64_t *held, size_t n)
{
    assert (self);
    assert (held || n == 0);
    if (n > APPENDS_MAX_NODES)
        n = APPENDS_MAX_NODES;
    //  Level w is met up to the w-th highest seq held.
    for (size_t i = 0; i < n; i++) {
        size_t pos = i;
        while (pos > 0 && self->top[pos - 1] < held[i]) {
            self->top[pos] = self->top[pos - 1];
            pos--;
        }
        self->top[pos] = held[i];
    }
    size_t answered = 0;
    for (uint32_t w = 1; w <= self->config.max_w && w <= n; w++) {
        fifo_t *fifo = &self->fifos[w - 1];
        while (fifo->head != NIL && self->pool[fifo->head].seq <= self->top[w - 1]) {
            uint32_t slot = fifo->head;
            s_answer (self, slot, RLOG_OK, s_acks (held, n, self->pool[slot].seq), "");
            answered++;
        }
    }
    return answered;
}

size_t appends_expire (appends_t *self, int64_t now, const uint64_t *held, size_t n)
{
    assert (self);
    size_t answered = 0;
    char text[TEXT_MAX];
    while (self->heap_size > 0 && self->pool[self->heap[0]].deadline <= now) {
        uint32_t slot = self->heap[0];
        const pending_t *p = &self->pool[slot];
        uint32_t acks = s_acks (held, n, p->seq);
        s_answer (self, slot, RLOG_TIMEOUT, acks,
                  s_progress (text, sizeof text, "timed out: ", acks, p->w));
        answered++;
    }
    return answered;
}

//  Every id of P's range whose entry is above WRITTEN leaves dedup: those
//  entries were never stored, so a retry must append them again.
static void s_forget_lost (appends_t *self, const pending_t *p, uint64_t written)
{
    uint64_t run_first = 0, run_count = 0;
    for (uint64_t i = 0; i <= p->count; i++) {
        uint64_t req = p->first_req + i, seq = 0;
        bool lost = i < p->count &&
                    dedup_lookup (self->dedup, p->client_id, req, &seq) == DEDUP_FOUND &&
                    seq > written;
        if (lost && run_count && run_first + run_count == req)
            run_count++;
        else {
            if (run_count)
                dedup_forget (self->dedup, p->client_id, run_first, run_count);
            run_first = req;
            run_count = lost ? 1 : 0;
        }
    }
}

size_t appends_rollback (appends_t *self, uint64_t written, const char *text)
{
    assert (self);
    size_t answered = 0;
    for (uint32_t w = 1; w <= self->config.max_w; w++) {
        fifo_t *fifo = &self->fifos[w - 1];
        while (fifo->tail != NIL && self->pool[fifo->tail].seq > written) {
            uint32_t slot = fifo->tail;
            pending_t *p = &self->pool[slot];
            s_forget_lost (self, p, written);
            //  Duplicates of lost entries are lost too.
            for (uint32_t i = 0; i < p->exception_count; i++)
                if (p->exceptions[i].code == RLOG_OK && p->exceptions[i].seq > written)
                    p->exceptions[i] =
                        (appends_exception_t){p->exceptions[i].index, RLOG_INTERNAL, 0};
            s_answer (self, slot, RLOG_INTERNAL, 0, text);
            answered++;
        }
    }
    return answered;
}

size_t appends_shutdown (appends_t *self, const uint64_t *held, size_t n)
{
    assert (self);
    size_t answered = 0;
    char text[TEXT_MAX];
    for (uint32_t w = 1; w <= self->config.max_w; w++) {
        fifo_t *fifo = &self->fifos[w - 1];
        while (fifo->head != NIL) {
            uint32_t slot = fifo->head;
            uint32_t acks = s_acks (held, n, self->pool[slot].seq);
            if (acks >= w)
                s_answer (self, slot, RLOG_OK, acks, "");
            else
                s_answer (self, slot, RLOG_TIMEOUT, acks,
                          s_progress (text, sizeof text, "master stopping: ", acks, w));
            answered++;
        }
    }
    return answered;
}

int64_t appends_next_deadline (appends_t *self)
{
    assert (self);
    return self->heap_size > 0 ? self->pool[self->heap[0]].deadline : -1;
}

//  --------------------------------------------------------------------------

int appends_recover (appends_t *self, const record_t *record)
{
    assert (self && record);
    if ((record->flags & RECORD_F_MARKER) || record->client_id_size != DEDUP_ID_SIZE)
        return 0;
    record_iter_t it;
    record_iter_init (&it, record);
    record_entry_t entry;
    uint64_t first_req = 0, first_seq = 0, count = 0;
    while (record_next (&it, &entry)) {
        if (count && first_req + count == entry.req_id) {
            count++;
            continue;
        }
        if (count && dedup_record (self->dedup, record->client_id, first_req, first_seq, count))
            return -1;
        first_req = entry.req_id, first_seq = entry.seq, count = 1;
    }
    if (count && dedup_record (self->dedup, record->client_id, first_req, first_seq, count))
        return -1;
    return 0;
}

size_t appends_parked (appends_t *self)
{
    assert (self);
    return self->parked;
}

size_t appends_route_parked (appends_t *self, const uint8_t *route, size_t route_size)
{
    assert (self);
    htab_value_t *count = htab_find (self->routes, route, route_size);
    return count ? (size_t)count->u64 : 0;
}

dedup_t *appends_dedup (appends_t *self)
{
    assert (self);
    return self->dedup;
}
