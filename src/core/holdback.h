/*  holdback.h - a follower's out-of-order buffer of record batches.

    A record that arrives ahead of the next seq the log expects (NEXT) waits
    here, as a copy of its bytes (the frame it came in dies after decoding),
    until the records before it are stored; then the buffer hands the held
    records over in order. Records are atomic, so the buffer works in whole
    records keyed by first_seq and never splits one.

    Bounds: at most MAX_RECORDS records and MAX_BYTES bytes. A record that
    does not fit is refused (FULL); it is fetched again when its turn comes.
    A record lower than some held ones may evict the highest held records to
    make room, since it drains sooner than they would.

    Within one history two different records never overlap, so a record
    that overlaps one already held (or straddles NEXT when the buffer
    drains) is a duplicate or garbage: it is dropped, never split.
*/
#ifndef HOLDBACK_H_INCLUDED
#define HOLDBACK_H_INCLUDED

#include "record.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    HOLDBACK_HELD = 0, //  kept until its turn
    HOLDBACK_DUP = 1,  //  ends below NEXT, or overlaps a held record: dropped
    HOLDBACK_FULL = 2, //  over a bound: dropped, fetch it later
    HOLDBACK_NOMEM = 3 //  the copy failed: dropped
} holdback_result_t;

typedef struct _holdback_t holdback_t;

//  MAX_RECORDS >= 1 records and MAX_BYTES >= 1 bytes at most. NULL when
//  memory runs out.
holdback_t *holdback_new (size_t max_records, size_t max_bytes);
void holdback_destroy (holdback_t **self_p);

//  Offer RECORD (checked, RECORD->bytes and size set) while the log expects
//  NEXT. The bytes are copied. Held records that end below NEXT are
//  discarded first. A record starting at NEXT may be held too.
holdback_result_t holdback_put (holdback_t *self, uint64_t next, const record_t *record);

//  Called for each record handed over, lowest first; BYTES is freed after
//  it returns. Return non-zero to stop before this record (it stays held).
typedef int (holdback_fn) (void *arg, const uint8_t *bytes, size_t size, uint64_t first_seq,
                           uint32_t count);

//  Hand over the held record that starts at NEXT, then the one that starts
//  right after it, and so on. Held records that end below NEXT (or below
//  the NEXT that handing over reached), or straddle it, are discarded.
//  Returns the records handed over.
size_t holdback_drain (holdback_t *self, uint64_t next, holdback_fn *fn, void *arg);

//  first_seq of the lowest held record, 0 when empty (where the gap to
//  fetch ends).
uint64_t holdback_lowest (holdback_t *self);

size_t holdback_records (holdback_t *self);
size_t holdback_bytes (holdback_t *self);
uint64_t holdback_entries (holdback_t *self);

//  Entries discarded since creation by put and drain as stale (below NEXT)
//  or straddling NEXT; refused offers (the put result) do not count.
uint64_t holdback_discarded (holdback_t *self);

//  Drop everything held (not counted as discarded).
void holdback_clear (holdback_t *self);

#endif
