/*  holdback.c - a secondary's out-of-order buffer.

    A ring of capacity slots (a power of two) indexed by seq & mask. A slot
    holds one malloc'd block: the seq, the entry, and copies of its client
    id and payload, so a put costs one allocation.

    Every held seq lies in next .. next + capacity - 1 for the NEXT of its
    put, so while the receiver's next only grows, one slot never has two
    live claimants. A slot can still hold an entry left below a later next
    (the caller appended past it without draining); that entry is garbage
    and a put to the same slot replaces it.

    Finding the lowest held seq uses LO, a lower bound of every held seq
    (exact after s_settle), and an occupancy bitmap, so the search from LO to
    the next held slot reads one bit per empty slot. Discarding entries
    below a new next walks slots from LO only, never the whole ring unless
    next has moved a full capacity or more (then the walk is paid for by
    the capacity-many entries the receiver took meanwhile).
*/
#include "holdback.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t seq;
    entry_t entry; //  points into bytes
    uint8_t bytes[];
} held_t;

struct _holdback_t {
    held_t **slots;
    uint64_t *bits; //  one bit per occupied slot
    size_t nwords;
    size_t capacity; //  power of two
    size_t mask;
    size_t count;
    uint64_t lo; //  no held seq is below it (meaningless when empty)
};

//  --------------------------------------------------------------------------
//  Create a buffer of CAPACITY entries, rounded up to a power of two

holdback_t *holdback_new (size_t capacity)
{
    assert (capacity >= 1);
    size_t rounded = 1;
    while (rounded < capacity) {
        if (rounded > SIZE_MAX / 2)
            return NULL;
        rounded *= 2;
    }
    holdback_t *self = (holdback_t *)calloc (1, sizeof (holdback_t));
    if (!self)
        return NULL;
    self->capacity = rounded;
    self->mask = rounded - 1;
    self->nwords = (rounded + 63) / 64;
    self->slots = (held_t **)calloc (rounded, sizeof (held_t *));
    self->bits = (uint64_t *)calloc (self->nwords, sizeof (uint64_t));
    if (!self->slots || !self->bits)
        holdback_destroy (&self);
    return self;
}

//  --------------------------------------------------------------------------
//  Destroy the buffer and every entry it holds

void holdback_destroy (holdback_t **self_p)
{
    assert (self_p);
    holdback_t *self = *self_p;
    if (!self)
        return;
    if (self->slots && self->bits)
        holdback_clear (self);
    free (self->slots);
    free (self->bits);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------

static void s_remove (holdback_t *self, size_t slot)
{
    assert (self->slots[slot]);
    free (self->slots[slot]);
    self->slots[slot] = NULL;
    self->bits[slot / 64] &= ~((uint64_t)1 << (slot % 64));
    self->count--;
}

//  First occupied slot at or after SLOT, wrapping; the buffer is not empty.
static size_t s_next_occupied (holdback_t *self, size_t slot)
{
    size_t word_index = slot / 64;
    uint64_t word = self->bits[word_index] & (~(uint64_t)0 << (slot % 64));
    //  nwords + 1 visits: the start word's low bits come last
    for (size_t i = 0; i <= self->nwords; i++) {
        if (word)
            return word_index * 64 + (size_t)__builtin_ctzll (word);
        word_index = word_index + 1 == self->nwords ? 0 : word_index + 1;
        word = self->bits[word_index];
    }
    assert (false);
    return 0;
}

//  Make LO the lowest held seq.
static void s_settle (holdback_t *self)
{
    if (self->count == 0)
        return;
    size_t from = self->lo & self->mask;
    size_t slot = s_next_occupied (self, from);
    uint64_t seq = self->lo + ((slot - from) & self->mask);
    if (self->slots[slot]->seq == seq) {
        //  Slots for lo .. seq - 1 are empty, and nothing is below lo
        self->lo = seq;
        return;
    }
    //  An entry a lap or more ahead of lo: only possible if the caller's
    //  next went backwards. Rare enough for a full scan.
    uint64_t lowest = UINT64_MAX;
    for (size_t i = 0; i < self->capacity; i++)
        if (self->slots[i] && self->slots[i]->seq < lowest)
            lowest = self->slots[i]->seq;
    self->lo = lowest;
}

//  --------------------------------------------------------------------------
//  Discard every held entry below NEXT.

static void s_discard_below (holdback_t *self, uint64_t next)
{
    if (self->count == 0 || self->lo >= next)
        return;
    if (next - self->lo >= self->capacity) {
        for (size_t slot = 0; slot < self->capacity; slot++)
            if (self->slots[slot] && self->slots[slot]->seq < next)
                s_remove (self, slot);
    } else {
        //  Every held seq below next is in lo .. next - 1, whose slots are
        //  all distinct
        for (uint64_t seq = self->lo; seq < next && self->count; seq++) {
            size_t slot = seq & self->mask;
            if (self->slots[slot] && self->slots[slot]->seq < next)
                s_remove (self, slot);
        }
    }
    self->lo = next;
}

//  --------------------------------------------------------------------------
//  Offer entry SEQ while the receiver expects NEXT.

holdback_result_t holdback_put (holdback_t *self, uint64_t next, uint64_t seq, const entry_t *entry)
{
    assert (self);
    assert (entry);
    assert (entry->client_id || entry->client_id_size == 0);
    assert (entry->data || entry->size == 0);
    //  Whatever sits below next is dead; dropping it here too keeps
    //  holdback_lowest honest when the receiver took entries directly
    s_discard_below (self, next);
    if (seq < next)
        return HOLDBACK_DUP;
    if (seq - next >= self->capacity)
        return HOLDBACK_FULL;
    size_t slot = seq & self->mask;
    held_t *old = self->slots[slot];
    if (old && old->seq == seq)
        return HOLDBACK_DUP;

    size_t extra = entry->client_id_size + entry->size;
    if (extra < entry->size || extra > SIZE_MAX - sizeof (held_t))
        return HOLDBACK_NOMEM;
    held_t *held = (held_t *)malloc (sizeof (held_t) + extra);
    if (!held)
        return HOLDBACK_NOMEM;
    held->seq = seq;
    held->entry = *entry;
    held->entry.client_id = held->bytes;
    held->entry.data = held->bytes + entry->client_id_size;
    if (entry->client_id_size)
        memcpy (held->bytes, entry->client_id, entry->client_id_size);
    if (entry->size)
        memcpy (held->bytes + entry->client_id_size, entry->data, entry->size);

    bool was_empty = self->count == 0;
    if (old)
        s_remove (self, slot); //  a lap ahead: next went backwards
    self->slots[slot] = held;
    self->bits[slot / 64] |= (uint64_t)1 << (slot % 64);
    self->count++;
    if (was_empty || seq < self->lo)
        self->lo = seq;
    return HOLDBACK_HELD;
}

//  --------------------------------------------------------------------------
//  Hand over entries NEXT, NEXT+1, ... while held, then discard any held
//  entry below the new next. Returns how many were handed over.

size_t holdback_drain (holdback_t *self, uint64_t next, holdback_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    size_t drained = 0;
    while (self->count) {
        size_t slot = next & self->mask;
        held_t *held = self->slots[slot];
        if (!held || held->seq != next)
            break;
        if (fn (next, &held->entry, arg))
            break;
        s_remove (self, slot);
        next++;
        drained++;
    }
    s_discard_below (self, next);
    return drained;
}

//  --------------------------------------------------------------------------
//  Lowest held seq, 0 when empty.

uint64_t holdback_lowest (holdback_t *self)
{
    assert (self);
    s_settle (self);
    return self->count ? self->lo : 0;
}

//  --------------------------------------------------------------------------

size_t holdback_size (holdback_t *self)
{
    assert (self);
    return self->count;
}

size_t holdback_capacity (holdback_t *self)
{
    assert (self);
    return self->capacity;
}

//  --------------------------------------------------------------------------
//  Drop everything held.

void holdback_clear (holdback_t *self)
{
    assert (self);
    for (size_t slot = 0; self->count && slot < self->capacity; slot++)
        if (self->slots[slot])
            s_remove (self, slot);
    memset (self->bits, 0, self->nwords * sizeof (uint64_t));
}
