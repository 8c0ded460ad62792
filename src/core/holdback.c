/*  holdback.c - a follower's out-of-order buffer of record batches.

    The held records sit in a ring of pointers sorted by first_seq, with no
    empty slots: the lowest is the ring's front (O(1) for holdback_lowest),
    draining and discarding pop the front, and the usual arrival (the live
    stream running ahead of a gap) lands at the back in O(1). An arrival in
    the middle shifts the shorter side of the ring by one slot; a binary
    search finds its place. The ring doubles when full; the record bound
    keeps it small. Each held record is one allocation: its seqs and a copy
    of its bytes.
*/
#include "holdback.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t first;
    uint64_t last;
    uint32_t count;
    size_t size;
    uint8_t bytes[];
} held_t;

struct _holdback_t {
    held_t **ring;
    size_t cap; //  power of two, 0 before the first put
    size_t start;
    size_t count; //  records held
    size_t max_records;
    size_t max_bytes;
    size_t bytes;
    uint64_t entries;
    uint64_t discarded;
};

//  --------------------------------------------------------------------------
//  Create a buffer of at most MAX_RECORDS records and MAX_BYTES bytes

holdback_t *holdback_new (size_t max_records, size_t max_bytes)
{
    assert (max_records >= 1);
    assert (max_bytes >= 1);
    holdback_t *self = (holdback_t *)calloc (1, sizeof (holdback_t));
    if (!self)
        return NULL;
    self->max_records = max_records;
    self->max_bytes = max_bytes;
    return self;
}

//  --------------------------------------------------------------------------
//  Destroy the buffer and every record it holds

void holdback_destroy (holdback_t **self_p)
{
    assert (self_p);
    holdback_t *self = *self_p;
    if (!self)
        return;
    holdback_clear (self);
    free (self->ring);
    free (self);
    *self_p = NULL;
}

//  Slot of the I-th held record, lowest first.
static held_t **s_slot (holdback_t *self, size_t i)
{
    return &self->ring[(self->start + i) & (self->cap - 1)];
}

static held_t *s_at (holdback_t *self, size_t i)
{
    return *s_slot (self, i);
}

//  Take the lowest (FRONT) or highest record out of the ring; the caller
//  frees it.
static held_t *s_pop (holdback_t *self, bool front)
{
    assert (self->count);
    held_t *held = front ? s_at (self, 0) : s_at (self, self->count - 1);
    if (front)
        self->start = (self->start + 1) & (self->cap - 1);
    self->count--;
    self->bytes -= held->size;
    self->entries -= held->count;
    return held;
}

static void s_discard_front (holdback_t *self)
{
    held_t *held = s_pop (self, true);
    self->discarded += held->count;
    free (held);
}

//  Discard held records that end below NEXT: entries the log has already.
static void s_discard_stale (holdback_t *self, uint64_t next)
{
    while (self->count && s_at (self, 0)->last < next)
        s_discard_front (self);
}

//  Index where a record starting at FIRST belongs: records before it start
//  below FIRST.
static size_t s_position (holdback_t *self, uint64_t first)
{
    if (self->count == 0 || s_at (self, self->count - 1)->first < first)
        return self->count; //  the usual case: the live stream, in order
    size_t low = 0, high = self->count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (s_at (self, mid)->first < first)
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

static int s_grow (holdback_t *self)
{
    size_t cap = self->cap ? self->cap * 2 : 8;
    if (cap < self->cap || cap > SIZE_MAX / sizeof (held_t *))
        return -1;
    held_t **ring = (held_t **)malloc (cap * sizeof (held_t *));
    if (!ring)
        return -1;
    for (size_t i = 0; i < self->count; i++)
        ring[i] = s_at (self, i);
    free (self->ring);
    self->ring = ring;
    self->cap = cap;
    self->start = 0;
    return 0;
}

//  Put HELD at index AT, shifting the shorter side of the ring by one.
static void s_insert (holdback_t *self, size_t at, held_t *held)
{
    assert (self->count < self->cap);
    if (at < self->count - at) {
        self->start = (self->start + self->cap - 1) & (self->cap - 1);
        for (size_t i = 0; i < at; i++)
            *s_slot (self, i) = s_at (self, i + 1);
    } else {
        for (size_t i = self->count; i > at; i--)
            *s_slot (self, i) = s_at (self, i - 1);
    }
    *s_slot (self, at) = held;
    self->count++;
    self->bytes += held->size;
    self->entries += held->count;
}

//  Make room for SIZE more bytes and one more record by evicting held
//  records above index AT. Returns false if that is not enough.
static bool s_make_room (holdback_t *self, size_t at, size_t size)
{
    if (size > self->max_bytes)
        return false;
    while (self->count >= self->max_records || self->bytes > self->max_bytes - size) {
        if (at >= self->count)
            return false;
        free (s_pop (self, false));
    }
    return true;
}

//  --------------------------------------------------------------------------
//  Offer a record while the log expects NEXT

holdback_result_t holdback_put (holdback_t *self, uint64_t next, const record_t *record)
{
    assert (self);
    assert (record);
    assert (record->bytes && record->size && record->count);
    s_discard_stale (self, next);
    uint64_t first = record->first_seq;
    uint64_t last = record_last_seq (record);
    if (first < next)
        return HOLDBACK_DUP;
    size_t at = s_position (self, first);
    if ((at > 0 && s_at (self, at - 1)->last >= first) ||
        (at < self->count && s_at (self, at)->first <= last))
        return HOLDBACK_DUP;
    if (!s_make_room (self, at, record->size))
        return HOLDBACK_FULL;
    if (record->size > SIZE_MAX - sizeof (held_t))
        return HOLDBACK_NOMEM;
    held_t *held = (held_t *)malloc (sizeof (held_t) + record->size);
    if (!held)
        return HOLDBACK_NOMEM;
    if (self->count == self->cap && s_grow (self) != 0) {
        free (held);
        return HOLDBACK_NOMEM;
    }
    held->first = first;
    held->last = last;
    held->count = record->count;
    held->size = record->size;
    memcpy (held->bytes, record->bytes, record->size);
    s_insert (self, at, held);
    return HOLDBACK_HELD;
}

//  --------------------------------------------------------------------------
//  Hand over held records in order from NEXT

size_t holdback_drain (holdback_t *self, uint64_t next, holdback_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    size_t handed = 0;
    while (self->count) {
        held_t *held = s_at (self, 0);
        if (held->first > next)
            break;
        if (held->first < next) {
            //  Stale, or straddling NEXT: never a record of this log
            s_discard_front (self);
            continue;
        }
        if (fn (arg, held->bytes, held->size, held->first, held->count) != 0)
            break;
        next = held->last + 1;
        free (s_pop (self, true));
        handed++;
    }
    return handed;
}

//  --------------------------------------------------------------------------

uint64_t holdback_lowest (holdback_t *self)
{
    assert (self);
    return self->count ? s_at (self, 0)->first : 0;
}

size_t holdback_records (holdback_t *self)
{
    assert (self);
    return self->count;
}

size_t holdback_bytes (holdback_t *self)
{
    assert (self);
    return self->bytes;
}

uint64_t holdback_entries (holdback_t *self)
{
    assert (self);
    return self->entries;
}

uint64_t holdback_discarded (holdback_t *self)
{
    assert (self);
    return self->discarded;
}

//  --------------------------------------------------------------------------
//  Drop everything held

void holdback_clear (holdback_t *self)
{
    assert (self);
    while (self->count)
        free (s_pop (self, true));
    self->start = 0;
}
