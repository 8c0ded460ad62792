/*  htab.h - the one hash table: byte-string keys to a pointer or a u64.

    Keys are byte strings of 0..HTAB_KEY_MAX bytes, copied into the table
    (inline up to HTAB_INLINE bytes, so the usual keys, client ids and
    ZeroMQ routing ids, cost no allocation). Each key holds one value slot,
    a pointer or a u64 (htab_value_t); a new key's value starts at zero.

    Open addressing with linear probing, at most 3/4 full, doubled through
    grow.h; removal shifts the following entries back, so there are no
    tombstones and a table that sees many inserts and removes stays fast.
    The table never shrinks: callers bound what they put in it.

    A value pointer returned by htab_find / htab_put stays valid until the
    next htab_put or htab_remove. Iteration (htab_next) must not be mixed
    with htab_put or htab_remove.
*/
#ifndef HTAB_H_INCLUDED
#define HTAB_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTAB_KEY_MAX 256
#define HTAB_INLINE  32

typedef union {
    void *ptr;
    uint64_t u64;
} htab_value_t;

typedef struct _htab_t htab_t;

//  An empty table (it allocates nothing until the first htab_put).
htab_t *htab_new (void);
//  Frees the table and its key copies; values are the caller's.
void htab_destroy (htab_t **self_p);

//  KEY's value, or NULL if KEY is not in the table.
htab_value_t *htab_find (htab_t *self, const void *key, size_t size);

//  KEY's value, adding KEY (value zero) if it is not there; *ADDED_P (if
//  not NULL) says which. NULL (nothing changed) when memory runs out or
//  SIZE > HTAB_KEY_MAX.
htab_value_t *htab_put (htab_t *self, const void *key, size_t size, bool *added_p);

//  Remove KEY. Returns true if it was there.
bool htab_remove (htab_t *self, const void *key, size_t size);

//  Walk every entry: start with *CURSOR = 0; each call yields one entry
//  and returns true, then false at the end. KEY_P, SIZE_P may be NULL.
bool htab_next (htab_t *self, size_t *cursor, const uint8_t **key_p, size_t *size_p,
                htab_value_t **value_p);

size_t htab_size (htab_t *self);
//  Bytes the table holds (slots and key copies), for memory reports.
size_t htab_memory (htab_t *self);

#endif
