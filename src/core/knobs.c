/*  knobs.c - a secondary's fault knobs (see knobs.h).

    The delay queue is a singly linked FIFO of frames, each one allocation
    with its bytes; since every frame waits the same delay, the oldest is
    always the first due. The frame last handed out by knobs_due is kept
    until the next call, so the caller can decode it in place.
*/
#include "knobs.h"
#include "backoff.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct s_frame_t {
    struct s_frame_t *next;
    int64_t due;
    size_t size;
    uint8_t bytes[];
} s_frame_t;

struct _knobs_t {
    knobs_config_t config;
    prng_t prng;
    s_frame_t *head;
    s_frame_t *tail;
    s_frame_t *taken; //  handed out by knobs_due, freed at the next call
    size_t queued;
    size_t queued_bytes;
    uint64_t acked; //  the last ACK let through
    uint64_t dropped;
    uint64_t overflow;
    uint64_t failed;
};

knobs_t *knobs_new (const knobs_config_t *config)
{
    assert (config);
    knobs_t *self = (knobs_t *)calloc (1, sizeof (knobs_t));
    if (!self)
        return NULL;
    self->config = *config;
    prng_seed (&self->prng, config->seed);
    return self;
}

void knobs_destroy (knobs_t **self_p)
{
    assert (self_p);
    knobs_t *self = *self_p;
    if (!self)
        return;
    while (self->head) {
        s_frame_t *frame = self->head;
        self->head = frame->next;
        free (frame);
    }
    free (self->taken);
    free (self);
    *self_p = NULL;
}

//  True with probability P; draws nothing when P is 0.
static bool s_chance (knobs_t *self, double p)
{
    return p > 0 && prng_unit (&self->prng) < p;
}

static knobs_verdict_t s_hold (knobs_t *self, const void *bytes, size_t size, int64_t now)
{
    if (self->queued >= self->config.delay_frames || size > self->config.delay_bytes ||
        self->queued_bytes > self->config.delay_bytes - size ||
        size > SIZE_MAX - sizeof (s_frame_t)) {
        self->overflow++;
        return KNOBS_DROP;
    }
    s_frame_t *frame = (s_frame_t *)malloc (sizeof (s_frame_t) + size);
    if (!frame) {
        self->overflow++;
        return KNOBS_DROP;
    }
    frame->next = NULL;
    frame->due = now + self->config.delay_ms;
    frame->size = size;
    if (size)
        memcpy (frame->bytes, bytes, size);
    if (self->tail)
        self->tail->next = frame;
    else
        self->head = frame;
    self->tail = frame;
    self->queued++;
    self->queued_bytes += size;
    return KNOBS_HELD;
}

knobs_verdict_t knobs_frame (knobs_t *self, bool droppable, const void *frame, size_t size,
                             int64_t now)
{
    assert (self);
    assert (frame || size == 0);
    if (droppable && s_chance (self, self->config.drop_rate)) {
        self->dropped++;
        return KNOBS_DROP;
    }
    if (self->config.delay_ms <= 0)
        return KNOBS_PASS;
    return s_hold (self, frame, size, now);
}

const uint8_t *knobs_due (knobs_t *self, int64_t now, size_t *size)
{
    assert (self);
    assert (size);
    free (self->taken);
    self->taken = NULL;
    s_frame_t *frame = self->head;
    if (!frame || frame->due > now)
        return NULL;
    self->head = frame->next;
    if (!self->head)
        self->tail = NULL;
    self->queued--;
    self->queued_bytes -= frame->size;
    self->taken = frame;
    *size = frame->size;
    return frame->bytes;
}

int64_t knobs_next_due (knobs_t *self)
{
    assert (self);
    return self->head ? self->head->due : INT64_MAX;
}

void knobs_ack (knobs_t *self, uint64_t acked, knobs_ack_t *out)
{
    assert (self);
    assert (out);
    memset (out, 0, sizeof *out);
    if (acked > self->acked && s_chance (self, self->config.fail_rate)) {
        //  The ACK the master would have had stays at self->acked.
        out->fetch = true;
        out->from = self->acked + 1;
        out->count = acked - self->acked;
        self->failed++;
        return;
    }
    out->ack = true;
    self->acked = acked;
}

size_t knobs_queued (knobs_t *self)
{
    assert (self);
    return self->queued;
}

uint64_t knobs_dropped (knobs_t *self)
{
    assert (self);
    return self->dropped;
}

uint64_t knobs_overflow (knobs_t *self)
{
    assert (self);
    return self->overflow;
}

uint64_t knobs_failed (knobs_t *self)
{
    assert (self);
    return self->failed;
}
