/*  waiters.h - appends parked until their write concern is met.

    One FIFO per w level: within a level seqs only grow, so after each ACK
    the waiters to answer are a prefix of each FIFO. The watermark for w is
    the lowest of the master's own durable seq and the (w-1)-th highest seq
    acked among secondaries. Deadlines sit in a min-heap, so expiry costs
    O(log n) per expired waiter. Each waiter carries an opaque tag of up to
    WAITERS_TAG_MAX bytes (the master keeps the client's routing envelope).
*/
#ifndef WAITERS_H_INCLUDED
#define WAITERS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define WAITERS_TAG_MAX 264

typedef struct _waiters_t waiters_t;

//  CODE is RLOG_OK (write concern met) or RLOG_TIMEOUT (deadline passed).
typedef void (waiters_fn) (void *arg, int code, uint64_t seq, uint32_t w, const uint8_t *tag,
                           size_t tag_size);

//  W levels 1..MAX_W; at most MAX_WAITERS parked at once.
waiters_t *waiters_new (uint32_t max_w, size_t max_waiters);
void waiters_destroy (waiters_t **self_p);

//  Park a waiter for SEQ with write concern W until DEADLINE (monotonic ms,
//  or -1 for none). Seqs must not decrease within one w level, except for
//  retries of old seqs, which are placed in order. On success returns 0 and
//  sets *HANDLE_P (never 0). Returns -1 if full, W is out of range or the tag
//  is too large.
int waiters_add (waiters_t *self, uint32_t w, uint64_t seq, int64_t deadline, const void *tag,
                 size_t tag_size, uint64_t *handle_p);

//  Replace the tag of a waiter still parked. Returns 0, or -1 if the handle
//  is gone (answered or expired).
int waiters_rebind (waiters_t *self, uint64_t handle, const void *tag, size_t tag_size);

//  The tag of a waiter still parked (*SIZE_P set), or NULL if it is gone.
const uint8_t *waiters_tag (waiters_t *self, uint64_t handle, size_t *size_p);

//  Answer (RLOG_OK) every waiter whose seq is covered: MASTER_DURABLE is the
//  master's own durable head, ACKED[0..N-1] the cumulative acks of the
//  secondaries. Returns how many were answered.
size_t waiters_release (waiters_t *self, uint64_t master_durable, const uint64_t *acked, size_t n,
                        waiters_fn *fn, void *arg);

//  Answer (RLOG_TIMEOUT) every waiter whose deadline <= NOW.
size_t waiters_expire (waiters_t *self, int64_t now, waiters_fn *fn, void *arg);

//  Answer (RLOG_TIMEOUT) every parked waiter, e.g. at shutdown.
size_t waiters_flush (waiters_t *self, waiters_fn *fn, void *arg);

//  Answer with CODE every waiter whose seq is above SEQ (entries that were
//  rolled back and will never exist). Returns how many.
size_t waiters_cancel_above (waiters_t *self, uint64_t seq, int code, waiters_fn *fn, void *arg);

//  Earliest pending deadline, -1 if none.
int64_t waiters_next_deadline (waiters_t *self);

size_t waiters_count (waiters_t *self);

#endif
