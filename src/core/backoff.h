/*  backoff.h - exponential backoff with jitter, and the seeded PRNG that
    drives it and the fault knobs (so tests can replay a run exactly).
*/
#ifndef BACKOFF_H_INCLUDED
#define BACKOFF_H_INCLUDED

#include <stdint.h>

typedef struct {
    uint64_t state;
} prng_t;

void prng_seed (prng_t *self, uint64_t seed);
uint64_t prng_next (prng_t *self);
//  Uniform in [0, 1).
double prng_unit (prng_t *self);

typedef struct {
    int64_t base_ms;
    int64_t cap_ms;
    int64_t current_ms; //  0 before the first delay
} backoff_t;

void backoff_init (backoff_t *self, int64_t base_ms, int64_t cap_ms);

//  Next delay: the nominal delay doubles from base to cap; the result is
//  drawn uniformly from [nominal/2, nominal] ("equal jitter").
int64_t backoff_next (backoff_t *self, prng_t *prng);

//  Back to base after a success.
void backoff_reset (backoff_t *self);

#endif
