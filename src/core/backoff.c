/*  backoff.c - exponential backoff with equal jitter, and a splitmix64 PRNG.

    splitmix64 walks a Weyl sequence through a bijective mixer, so every
    seed, 0 included, gives a full-period stream, and the whole state is one
    word that a test can record and replay.
*/
#include "backoff.h"

#include <assert.h>

void prng_seed (prng_t *self, uint64_t seed)
{
    assert (self);
    self->state = seed;
}

uint64_t prng_next (prng_t *self)
{
    assert (self);
    uint64_t z = (self->state += UINT64_C (0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C (0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C (0x94D049BB133111EB);
    return z ^ (z >> 31);
}

double prng_unit (prng_t *self)
{
    //  53 bits fill a double's mantissa exactly, so the result is never 1.0.
    return (double)(prng_next (self) >> 11) * 0x1.0p-53;
}

void backoff_init (backoff_t *self, int64_t base_ms, int64_t cap_ms)
{
    assert (self);
    self->base_ms = base_ms;
    self->cap_ms = cap_ms;
    self->current_ms = 0;
}

int64_t backoff_next (backoff_t *self, prng_t *prng)
{
    assert (self);
    assert (prng);
    int64_t nominal;
    if (self->current_ms <= 0)
        nominal = self->base_ms;
    else if (self->current_ms > self->cap_ms / 2)
        nominal = self->cap_ms; //  also keeps current * 2 from overflowing
    else
        nominal = self->current_ms * 2;
    //  A base above the cap is a configuration slip: the cap wins.
    if (nominal > self->cap_ms)
        nominal = self->cap_ms;
    if (nominal <= 0) {
        self->current_ms = 0;
        return 0;
    }
    self->current_ms = nominal;

    int64_t low = nominal / 2;
    uint64_t span = (uint64_t)(nominal - low) + 1;
    //  Modulo bias is at most span / 2^64: irrelevant for delays.
    return low + (int64_t)(prng_next (prng) % span);
}

void backoff_reset (backoff_t *self)
{
    assert (self);
    self->current_ms = 0;
}
