/*  htab.c - the one hash table (htab.h).

    A slot is 48 bytes: the low 32 bits of the key's hash (compared before
    the key, and its home slot), the key size (HTAB_FREE marks an empty
    slot), the value and the key, inline up to HTAB_INLINE bytes or a heap
    copy. Capacity is a power of two; a 32-bit hash is enough to index it
    because the capacity is kept below 2^31 slots.

    Removal is backward-shift deletion (Knuth 6.4, algorithm R): every
    entry after the hole that may move into it does, so a probe never has
    to step over tombstones.
*/
#include "htab.h"
#include "grow.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define HTAB_FREE    UINT32_MAX
#define HTAB_MIN_CAP ((size_t)16)
#define HTAB_MAX_CAP ((size_t)1 << 30)

typedef struct {
    uint32_t hash;
    uint32_t size;
    htab_value_t value;
    union {
        uint8_t bytes[HTAB_INLINE];
        uint8_t *heap;
    } key;
} slot_t;

struct _htab_t {
    slot_t *slots;
    size_t cap; //  0 or a power of two
    size_t count;
    size_t heap_bytes; //  key copies above HTAB_INLINE
};

htab_t *htab_new (void)
{
    return (htab_t *)calloc (1, sizeof (htab_t));
}

static const uint8_t *s_key (const slot_t *slot)
{
    return slot->size > HTAB_INLINE ? slot->key.heap : slot->key.bytes;
}

void htab_destroy (htab_t **self_p)
{
    assert (self_p);
    htab_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->cap; i++)
        if (self->slots[i].size != HTAB_FREE && self->slots[i].size > HTAB_INLINE)
            free (self->slots[i].key.heap);
    free (self->slots);
    free (self);
    *self_p = NULL;
}

//  FNV-1a over the bytes, then MurmurHash3's finalizer so that the low
//  bits, which pick the slot, depend on every byte.
static uint32_t s_hash (const uint8_t *key, size_t size)
{
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ key[i]) * 1099511628211u;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    return (uint32_t)h;
}

//  The slot holding KEY, or the empty slot where it would go.
static size_t s_probe (const htab_t *self, uint32_t hash, const uint8_t *key, size_t size)
{
    size_t mask = self->cap - 1;
    size_t i = hash & mask;
    while (self->slots[i].size != HTAB_FREE) {
        const slot_t *slot = &self->slots[i];
        if (slot->hash == hash && slot->size == size &&
            (size == 0 || memcmp (s_key (slot), key, size) == 0))
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

//  Double the slots (the first call makes HTAB_MIN_CAP). Entries move as
//  they are: key copies are not touched.
static int s_grow (htab_t *self)
{
    size_t want = self->cap ? self->cap * 2 : HTAB_MIN_CAP;
    if (want > HTAB_MAX_CAP)
        return -1;
    slot_t *slots = NULL;
    size_t cap = 0;
    if (grow_array ((void **)&slots, &cap, want, sizeof (slot_t), want) != 0)
        return -1;
    assert (cap == want);
    for (size_t i = 0; i < cap; i++)
        slots[i].size = HTAB_FREE;
    slot_t *old = self->slots;
    size_t old_cap = self->cap;
    self->slots = slots;
    self->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].size != HTAB_FREE)
            self->slots[s_probe (self, old[i].hash, s_key (&old[i]), old[i].size)] = old[i];
    free (old);
    return 0;
}

htab_value_t *htab_find (htab_t *self, const void *key, size_t size)
{
    assert (self);
    assert (key || size == 0);
    if (self->count == 0 || size > HTAB_KEY_MAX)
        return NULL;
    size_t i = s_probe (self, s_hash ((const uint8_t *)key, size), (const uint8_t *)key, size);
    return self->slots[i].size == HTAB_FREE ? NULL : &self->slots[i].value;
}

htab_value_t *htab_put (htab_t *self, const void *key, size_t size, bool *added_p)
{
    assert (self);
    assert (key || size == 0);
    if (size > HTAB_KEY_MAX)
        return NULL;
    uint32_t hash = s_hash ((const uint8_t *)key, size);
    if (self->count > 0) {
        size_t i = s_probe (self, hash, (const uint8_t *)key, size);
        if (self->slots[i].size != HTAB_FREE) {
            if (added_p)
                *added_p = false;
            return &self->slots[i].value;
        }
    }
    if ((self->count + 1) * 4 > self->cap * 3 && s_grow (self) != 0)
        return NULL;
    slot_t fresh = {.hash = hash, .size = (uint32_t)size};
    if (size > HTAB_INLINE) {
        fresh.key.heap = (uint8_t *)malloc (size);
        if (!fresh.key.heap)
            return NULL;
        self->heap_bytes += size;
    }
    if (size)
        memcpy (size > HTAB_INLINE ? fresh.key.heap : fresh.key.bytes, key, size);
    size_t i = s_probe (self, hash, (const uint8_t *)key, size);
    self->slots[i] = fresh;
    self->count++;
    if (added_p)
        *added_p = true;
    return &self->slots[i].value;
}

//  Close the hole at HOLE: each later entry of the run that would be
//  found no more (its home is not cyclically in (HOLE, J]) moves into it.
static void s_shift_back (htab_t *self, size_t hole)
{
    size_t mask = self->cap - 1;
    size_t j = hole;
    while (true) {
        j = (j + 1) & mask;
        if (self->slots[j].size == HTAB_FREE)
            break;
        size_t home = self->slots[j].hash & mask;
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (stays)
            continue;
        self->slots[hole] = self->slots[j];
        hole = j;
    }
    self->slots[hole].size = HTAB_FREE;
}

bool htab_remove (htab_t *self, const void *key, size_t size)
{
    assert (self);
    assert (key || size == 0);
    if (self->count == 0 || size > HTAB_KEY_MAX)
        return false;
    size_t i = s_probe (self, s_hash ((const uint8_t *)key, size), (const uint8_t *)key, size);
    slot_t *slot = &self->slots[i];
    if (slot->size == HTAB_FREE)
        return false;
    if (slot->size > HTAB_INLINE) {
        free (slot->key.heap);
        self->heap_bytes -= slot->size;
    }
    self->count--;
    s_shift_back (self, i);
    return true;
}

bool htab_next (htab_t *self, size_t *cursor, const uint8_t **key_p, size_t *size_p,
                htab_value_t **value_p)
{
    assert (self);
    assert (cursor);
    for (size_t i = *cursor; i < self->cap; i++) {
        slot_t *slot = &self->slots[i];
        if (slot->size == HTAB_FREE)
            continue;
        if (key_p)
            *key_p = s_key (slot);
        if (size_p)
            *size_p = slot->size;
        if (value_p)
            *value_p = &slot->value;
        *cursor = i + 1;
        return true;
    }
    *cursor = self->cap;
    return false;
}

size_t htab_size (htab_t *self)
{
    assert (self);
    return self->count;
}

size_t htab_memory (htab_t *self)
{
    assert (self);
    return sizeof (htab_t) + self->cap * sizeof (slot_t) + self->heap_bytes;
}
