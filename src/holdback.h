/*  holdback.h - a secondary's out-of-order buffer.

    Entries that arrive ahead of the next expected seq wait here, bounded by
    a capacity in entries, until the gap before them is filled; then they
    drain in order. Entries are copied in, since frames die after decoding.
*/
#ifndef HOLDBACK_H_INCLUDED
#define HOLDBACK_H_INCLUDED

#include "entry.h"
#include <stdbool.h>

typedef enum {
    HOLDBACK_HELD = 0, //  kept until its turn
    HOLDBACK_DUP = 1,  //  already held, or below NEXT: dropped
    HOLDBACK_FULL = 2, //  SEQ >= NEXT + capacity: dropped, fetch later
    HOLDBACK_NOMEM = 3 //  copy failed: dropped
} holdback_result_t;

typedef struct _holdback_t holdback_t;

//  CAPACITY >= 1 entries (rounded up to a power of two internally).
holdback_t *holdback_new (size_t capacity);
void holdback_destroy (holdback_t **self_p);

//  Offer entry SEQ while the receiver expects NEXT (SEQ > NEXT for a hold).
holdback_result_t holdback_put (holdback_t *self, uint64_t next, uint64_t seq,
                                const entry_t *entry);

//  Called for each drained entry; ENTRY is freed after it returns.
//  Return non-zero to stop the drain before this entry (it stays held).
typedef int (holdback_fn) (uint64_t seq, const entry_t *entry, void *arg);

//  Hand over entries NEXT, NEXT+1, ... while held, then discard any held
//  entry below the new next. Returns how many were handed over.
size_t holdback_drain (holdback_t *self, uint64_t next, holdback_fn *fn, void *arg);

//  Lowest held seq, 0 when empty (the end of the gap to fetch).
uint64_t holdback_lowest (holdback_t *self);

size_t holdback_size (holdback_t *self);
size_t holdback_capacity (holdback_t *self);

//  Drop everything held.
void holdback_clear (holdback_t *self);

#endif
