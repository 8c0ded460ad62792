/*  waiters.c - appends parked until their write concern is met.

    All memory is taken in waiters_new: the record pool, the deadline heap,
    the per-level FIFO heads and the scratch used by waiters_release. The pool
    is calloc'd and handed out bump-first (slots below the high-water mark are
    recycled through a free list), so a large max_waiters only costs the
    pages that were ever used, and nothing is allocated on the hot path.

    A handle is (generation << 32) | (slot + 1): never 0, and a handle whose
    waiter was answered no longer matches the slot's generation.

    Callbacks must not call back into the same waiters object. Even so, a
    waiter is unlinked from its FIFO and the heap, and its handle made stale,
    before its callback runs; the slot only returns to the free list after
    the callback, so the tag passed to it stays valid throughout.
*/
#include "waiters.h"

#include "rlog.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

//  "No slot" in FIFO links, the free list and heap indexes.
#define NIL UINT32_MAX

typedef struct {
    uint64_t seq;
    uint64_t serial;  //  order of arrival, breaks deadline ties
    int64_t deadline; //  < 0: none, not in the heap
    uint32_t w;
    uint32_t generation; //  bumped when answered, makes old handles stale
    uint32_t prev;       //  FIFO links within level w
    uint32_t next;       //  also the free-list link when not parked
    uint32_t heap_index; //  NIL when not in the heap
    uint16_t tag_size;
    bool parked;
    uint8_t tag[WAITERS_TAG_MAX];
} waiter_t;

typedef struct {
    uint32_t head;
    uint32_t tail;
} fifo_t;

struct _waiters_t {
    uint32_t max_w;
    size_t max_waiters;
    waiter_t *pool; //  max_waiters records, touched only below hwm
    size_t hwm;     //  slots ever handed out
    uint32_t free;  //  recycled slots, linked through next
    size_t count;   //  parked waiters
    uint32_t *heap; //  slots with a deadline, min-heap on (deadline, serial)
    size_t heap_size;
    fifo_t *fifos; //  level w at fifos[w - 1]
    uint64_t *top; //  release scratch: highest acks, descending
    uint64_t serial;
};

waiters_t *waiters_new (uint32_t max_w, size_t max_waiters)
{
    //  Slot numbers and heap indexes are 32-bit, with NIL reserved.
    if (max_w == 0 || max_waiters >= NIL)
        return NULL;

    waiters_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->max_w = max_w;
    self->max_waiters = max_waiters;
    self->free = NIL;
    //  calloc (0, ...) may return NULL legitimately; ask for at least one.
    size_t slots = max_waiters ? max_waiters : 1;
    self->pool = calloc (slots, sizeof *self->pool);
    self->heap = calloc (slots, sizeof *self->heap);
    self->fifos = calloc (max_w, sizeof *self->fifos);
    self->top = calloc (max_w, sizeof *self->top);
    if (!self->pool || !self->heap || !self->fifos || !self->top) {
        waiters_destroy (&self);
        return NULL;
    }
    for (uint32_t level = 0; level < max_w; level++)
        self->fifos[level].head = self->fifos[level].tail = NIL;
    return self;
}

void waiters_destroy (waiters_t **self_p)
{
    assert (self_p);
    waiters_t *self = *self_p;
    if (self) {
        free (self->pool);
        free (self->heap);
        free (self->fifos);
        free (self->top);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Deadline heap

static bool s_heap_less (waiters_t *self, uint32_t a, uint32_t b)
{
    const waiter_t *wa = &self->pool[a];
    const waiter_t *wb = &self->pool[b];
    if (wa->deadline != wb->deadline)
        return wa->deadline < wb->deadline;
    return wa->serial < wb->serial;
}

static void s_heap_place (waiters_t *self, size_t index, uint32_t slot)
{
    self->heap[index] = slot;
    self->pool[slot].heap_index = (uint32_t)index;
}

static void s_heap_sift_up (waiters_t *self, size_t index)
{
    uint32_t slot = self->heap[index];
    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (!s_heap_less (self, slot, self->heap[parent]))
            break;
        s_heap_place (self, index, self->heap[parent]);
        index = parent;
    }
    s_heap_place (self, index, slot);
}

static void s_heap_sift_down (waiters_t *self, size_t index)
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

static void s_heap_push (waiters_t *self, uint32_t slot)
{
    size_t index = self->heap_size++;
    s_heap_place (self, index, slot);
    s_heap_sift_up (self, index);
}

static void s_heap_remove (waiters_t *self, uint32_t slot)
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
        s_heap_sift_up (self, index);
    else
        s_heap_sift_down (self, index);
}

//  --------------------------------------------------------------------------
//  Per-level FIFOs

static void s_fifo_insert (waiters_t *self, uint32_t slot)
{
    waiter_t *waiter = &self->pool[slot];
    fifo_t *fifo = &self->fifos[waiter->w - 1];
    //  Usually the new seq is the largest and this loop does not run; a
    //  retry of an old seq walks back to its place, after equal seqs so
    //  that waiters for one seq are answered in arrival order.
    uint32_t after = fifo->tail;
    while (after != NIL && self->pool[after].seq > waiter->seq)
        after = self->pool[after].prev;

    waiter->prev = after;
    waiter->next = after == NIL ? fifo->head : self->pool[after].next;
    if (waiter->prev == NIL)
        fifo->head = slot;
    else
        self->pool[waiter->prev].next = slot;
    if (waiter->next == NIL)
        fifo->tail = slot;
    else
        self->pool[waiter->next].prev = slot;
}

static void s_fifo_remove (waiters_t *self, uint32_t slot)
{
    waiter_t *waiter = &self->pool[slot];
    fifo_t *fifo = &self->fifos[waiter->w - 1];
    if (waiter->prev == NIL)
        fifo->head = waiter->next;
    else
        self->pool[waiter->prev].next = waiter->next;
    if (waiter->next == NIL)
        fifo->tail = waiter->prev;
    else
        self->pool[waiter->next].prev = waiter->prev;
    waiter->prev = waiter->next = NIL;
}

//  --------------------------------------------------------------------------
//  Slots and handles

static waiter_t *s_lookup (waiters_t *self, uint64_t handle)
{
    uint64_t slot_plus_one = handle & 0xFFFFFFFFu;
    if (slot_plus_one == 0 || slot_plus_one > self->hwm)
        return NULL;
    waiter_t *waiter = &self->pool[slot_plus_one - 1];
    if (!waiter->parked || waiter->generation != (uint32_t)(handle >> 32))
        return NULL;
    return waiter;
}

//  Unlinks the waiter and makes its handle stale before the callback runs;
//  the slot is recycled only afterwards so the tag stays readable.
static void s_answer (waiters_t *self, uint32_t slot, int code, waiters_fn *fn, void *arg)
{
    waiter_t *waiter = &self->pool[slot];
    s_fifo_remove (self, slot);
    if (waiter->heap_index != NIL)
        s_heap_remove (self, slot);
    waiter->parked = false;
    waiter->generation++;
    self->count--;

    if (fn)
        fn (arg, code, waiter->seq, waiter->w, waiter->tag, waiter->tag_size);

    waiter->next = self->free;
    self->free = slot;
}

//  --------------------------------------------------------------------------

int waiters_add (waiters_t *self, uint32_t w, uint64_t seq, int64_t deadline, const void *tag,
                 size_t tag_size, uint64_t *handle_p)
{
    assert (self);
    assert (tag || tag_size == 0);
    if (w < 1 || w > self->max_w || tag_size > WAITERS_TAG_MAX)
        return -1;

    uint32_t slot;
    if (self->free != NIL) {
        slot = self->free;
        self->free = self->pool[slot].next;
    } else if (self->hwm < self->max_waiters)
        slot = (uint32_t)self->hwm++;
    else
        return -1;

    waiter_t *waiter = &self->pool[slot];
    waiter->seq = seq;
    waiter->serial = self->serial++;
    waiter->deadline = deadline < 0 ? -1 : deadline;
    waiter->w = w;
    waiter->heap_index = NIL;
    waiter->tag_size = (uint16_t)tag_size;
    if (tag_size)
        memcpy (waiter->tag, tag, tag_size);
    waiter->parked = true;
    self->count++;

    s_fifo_insert (self, slot);
    if (waiter->deadline >= 0)
        s_heap_push (self, slot);

    if (handle_p)
        *handle_p = (uint64_t)waiter->generation << 32 | ((uint64_t)slot + 1);
    return 0;
}

int waiters_rebind (waiters_t *self, uint64_t handle, const void *tag, size_t tag_size)
{
    assert (self);
    assert (tag || tag_size == 0);
    waiter_t *waiter = s_lookup (self, handle);
    if (!waiter || tag_size > WAITERS_TAG_MAX)
        return -1;
    if (tag_size)
        memmove (waiter->tag, tag, tag_size);
    waiter->tag_size = (uint16_t)tag_size;
    return 0;
}

const uint8_t *waiters_tag (waiters_t *self, uint64_t handle, size_t *size_p)
{
    assert (self);
    waiter_t *waiter = s_lookup (self, handle);
    if (!waiter)
        return NULL;
    *size_p = waiter->tag_size;
    return waiter->tag;
}

size_t waiters_release (waiters_t *self, uint64_t master_durable, const uint64_t *acked, size_t n,
                        waiters_fn *fn, void *arg)
{
    assert (self);
    assert (acked || n == 0);

    //  Only the max_w - 1 highest acks matter: keep them in descending order.
    //  The insertion costs O(n * max_w), and max_w is small.
    size_t wanted = self->max_w - 1;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t value = acked[i];
        if (kept == wanted && (kept == 0 || value <= self->top[kept - 1]))
            continue;
        size_t pos = kept < wanted ? kept++ : kept - 1;
        while (pos > 0 && self->top[pos - 1] < value) {
            self->top[pos] = self->top[pos - 1];
            pos--;
        }
        self->top[pos] = value;
    }

    size_t answered = 0;
    for (uint32_t w = 1; w <= self->max_w; w++) {
        //  Level w needs the master plus w - 1 secondaries: with fewer acks
        //  reported, nothing at that level can be covered yet.
        if (w - 1 > kept)
            break;
        uint64_t watermark = master_durable;
        if (w >= 2 && self->top[w - 2] < watermark)
            watermark = self->top[w - 2];

        fifo_t *fifo = &self->fifos[w - 1];
        while (fifo->head != NIL && self->pool[fifo->head].seq <= watermark) {
            s_answer (self, fifo->head, RLOG_OK, fn, arg);
            answered++;
        }
    }
    return answered;
}

size_t waiters_expire (waiters_t *self, int64_t now, waiters_fn *fn, void *arg)
{
    assert (self);
    size_t answered = 0;
    while (self->heap_size > 0 && self->pool[self->heap[0]].deadline <= now) {
        s_answer (self, self->heap[0], RLOG_TIMEOUT, fn, arg);
        answered++;
    }
    return answered;
}

size_t waiters_flush (waiters_t *self, waiters_fn *fn, void *arg)
{
    assert (self);
    size_t answered = 0;
    for (uint32_t w = 1; w <= self->max_w; w++) {
        fifo_t *fifo = &self->fifos[w - 1];
        while (fifo->head != NIL) {
            s_answer (self, fifo->head, RLOG_TIMEOUT, fn, arg);
            answered++;
        }
    }
    return answered;
}

size_t waiters_cancel_above (waiters_t *self, uint64_t seq, int code, waiters_fn *fn, void *arg)
{
    assert (self);
    size_t answered = 0;
    for (uint32_t w = 1; w <= self->max_w; w++) {
        fifo_t *fifo = &self->fifos[w - 1];
        while (fifo->tail != NIL && self->pool[fifo->tail].seq > seq) {
            s_answer (self, fifo->tail, code, fn, arg);
            answered++;
        }
    }
    return answered;
}

int64_t waiters_next_deadline (waiters_t *self)
{
    assert (self);
    return self->heap_size > 0 ? self->pool[self->heap[0]].deadline : -1;
}

size_t waiters_count (waiters_t *self)
{
    assert (self);
    return self->count;
}
