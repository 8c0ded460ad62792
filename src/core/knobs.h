/*  knobs.h - a secondary's fault knobs (--drop-rate, --delay-ms,
    --fail-rate), as a wrapper around the follower so that the follower
    itself has no test branches.

    In front of the follower, for every frame from the master (SUB or
    DEALER), before it is decoded:

      drop   a droppable frame (BATCH, FILL, HEARTBEAT: what PUB/SUB may
             lose anyway) is dropped with probability drop_rate.
      delay  with delay_ms > 0 every frame is copied into a FIFO timer queue
             and comes back from knobs_due once delay_ms has passed, in
             arrival order; the event loop keeps running meanwhile. The
             queue is bounded (frames and bytes): a frame that does not fit
             is dropped, as a lossy link would, and the follower fetches
             what it missed.

    Behind the follower, for its ACKs (knobs_ack):

      fail   after a store, with probability fail_rate, plays "internal
             error after storing": the ACK of the new entries is withheld
             and a FETCH of the same range goes out instead, so the entries
             come back and must be dropped as duplicates.

    Pure: time is an argument, the PRNG is seeded (backoff.h), so a run
    replays exactly from its seed. All knobs at 0 pass everything through.
*/
#ifndef KNOBS_H_INCLUDED
#define KNOBS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    double drop_rate;    //  0..1
    int64_t delay_ms;    //  0 = no delay
    double fail_rate;    //  0..1
    size_t delay_frames; //  the delay queue holds at most this many frames
    size_t delay_bytes;  //  ... and bytes
    uint64_t seed;
} knobs_config_t;

typedef enum {
    KNOBS_PASS = 0, //  handle the frame now
    KNOBS_DROP = 1, //  forget it
    KNOBS_HELD = 2  //  copied: it comes back from knobs_due
} knobs_verdict_t;

//  What to send instead of one ACK.
typedef struct {
    bool ack;   //  send the ACK as the follower asked
    bool fetch; //  send FETCH(from, count) instead
    uint64_t from;
    uint64_t count;
} knobs_ack_t;

typedef struct _knobs_t knobs_t;

//  NULL when memory runs out.
knobs_t *knobs_new (const knobs_config_t *config);
void knobs_destroy (knobs_t **self_p);

//  A frame from the master (DROPPABLE: BATCH, FILL or HEARTBEAT).
knobs_verdict_t knobs_frame (knobs_t *self, bool droppable, const void *frame, size_t size,
                             int64_t now);

//  The oldest held frame if its delay is over, else NULL. The bytes stay
//  valid until the next knobs_due or knobs_destroy. Call it until NULL.
const uint8_t *knobs_due (knobs_t *self, int64_t now, size_t *size);

//  When the oldest held frame is due, INT64_MAX when none is held.
int64_t knobs_next_due (knobs_t *self);

//  The follower wants to ACK ACKED: what to send (OUT).
void knobs_ack (knobs_t *self, uint64_t acked, knobs_ack_t *out);

size_t knobs_queued (knobs_t *self);     //  frames held now
uint64_t knobs_dropped (knobs_t *self);  //  by drop_rate
uint64_t knobs_overflow (knobs_t *self); //  by the delay queue's bounds
uint64_t knobs_failed (knobs_t *self);   //  ACKs withheld by fail_rate

#endif
