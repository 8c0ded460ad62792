/*  health.h - one peer's liveness, from the times it was last heard.

    Healthy -> Suspected when silent longer than suspect_ms; -> Unhealthy when
    silent longer than unhealthy_ms. Any valid traffic counts as heard. The
    way back has hysteresis: a Suspected peer that is heard is Healthy again,
    but an Unhealthy one must be heard steadily (no silence longer than
    suspect_ms) for recover_ms before it counts as Healthy; until then it is
    Suspected. Time is passed in (monotonic ms), never read here.
*/
#ifndef HEALTH_H_INCLUDED
#define HEALTH_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef enum { HEALTH_HEALTHY = 0, HEALTH_SUSPECTED = 1, HEALTH_UNHEALTHY = 2 } health_state_t;

typedef struct {
    int64_t suspect_ms;
    int64_t unhealthy_ms;
    int64_t recover_ms;
} health_config_t;

typedef struct _health_t health_t;

//  A peer first heard at NOW starts Healthy.
health_t *health_new (const health_config_t *config, int64_t now);
void health_destroy (health_t **self_p);

void health_heard (health_t *self, int64_t now);

//  Apply the passage of time; returns the state at NOW.
health_state_t health_update (health_t *self, int64_t now);

health_state_t health_state (health_t *self);
int64_t health_last_heard (health_t *self);

//  "healthy", "suspected", "unhealthy"
const char *health_state_name (health_state_t state);

//  Default quorum for master + N secondaries: a strict majority.
uint32_t health_default_quorum (uint32_t secondaries);

#endif
