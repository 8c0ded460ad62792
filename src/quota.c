/*  quota.c - per-key counters in a chained hash table; an entry is freed
    when its count drops to zero.
*/
#include "quota.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct _item_t item_t;
struct _item_t {
    item_t *next;
    size_t count;
    size_t key_size;
    uint8_t key[];
};

struct _quota_t {
    size_t limit;
    item_t **buckets;
    size_t nbuckets; //  power of two
    size_t nkeys;
};

quota_t *quota_new (size_t limit)
{
    assert (limit >= 1);
    quota_t *self = (quota_t *)calloc (1, sizeof (quota_t));
    if (!self)
        return NULL;
    self->limit = limit;
    self->nbuckets = 256;
    self->buckets = (item_t **)calloc (self->nbuckets, sizeof (item_t *));
    if (!self->buckets) {
        free (self);
        return NULL;
    }
    return self;
}

void quota_destroy (quota_t **self_p)
{
    assert (self_p);
    quota_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nbuckets; i++)
        while (self->buckets[i]) {
            item_t *item = self->buckets[i];
            self->buckets[i] = item->next;
            free (item);
        }
    free (self->buckets);
    free (self);
    *self_p = NULL;
}

static item_t **s_find (quota_t *self, const uint8_t *key, size_t key_size)
{
    uint64_t hash = 1469598103934665603ULL; //  FNV-1a
    for (size_t i = 0; i < key_size; i++)
        hash = (hash ^ key[i]) * 1099511628211ULL;
    item_t **link = &self->buckets[hash & (self->nbuckets - 1)];
    while (*link && ((*link)->key_size != key_size || memcmp ((*link)->key, key, key_size) != 0))
        link = &(*link)->next;
    return link;
}

//  Grow before chains get long: the master may hold many clients at once.
static void s_grow (quota_t *self)
{
    size_t n = self->nbuckets * 2;
    item_t **buckets = (item_t **)calloc (n, sizeof (item_t *));
    if (!buckets)
        return; //  longer chains, still correct
    item_t **old = self->buckets;
    size_t old_n = self->nbuckets;
    self->buckets = buckets;
    self->nbuckets = n;
    for (size_t i = 0; i < old_n; i++)
        while (old[i]) {
            item_t *item = old[i];
            old[i] = item->next;
            item_t **link = s_find (self, item->key, item->key_size);
            item->next = *link;
            *link = item;
        }
    free (old);
}

int quota_take (quota_t *self, const uint8_t *key, size_t key_size)
{
    assert (self);
    item_t **link = s_find (self, key, key_size);
    if (*link) {
        if ((*link)->count >= self->limit)
            return -1;
        (*link)->count++;
        return 0;
    }
    item_t *item = (item_t *)malloc (sizeof (item_t) + key_size);
    if (!item)
        return -1;
    item->next = NULL;
    item->count = 1;
    item->key_size = key_size;
    if (key_size)
        memcpy (item->key, key, key_size);
    *link = item;
    if (++self->nkeys > self->nbuckets)
        s_grow (self);
    return 0;
}

void quota_give (quota_t *self, const uint8_t *key, size_t key_size)
{
    assert (self);
    item_t **link = s_find (self, key, key_size);
    item_t *item = *link;
    if (!item)
        return;
    if (--item->count == 0) {
        *link = item->next;
        free (item);
        self->nkeys--;
    }
}

size_t quota_held (quota_t *self, const uint8_t *key, size_t key_size)
{
    assert (self);
    item_t *item = *s_find (self, key, key_size);
    return item ? item->count : 0;
}

size_t quota_keys (quota_t *self)
{
    assert (self);
    return self->nkeys;
}
