/*  health.c - one peer's liveness, from the times it was last heard.

    Silence is measured from the last time heard, so health_heard first
    applies the silence that just ended: the result is the same whether or
    not health_update ran during the silence. A peer coming back from
    Unhealthy is Suspected and "recovering" until it has been heard with no
    gap longer than suspect_ms for recover_ms; a longer gap restarts the
    recovery, and a gap longer than unhealthy_ms makes it Unhealthy again.
*/
#include "health.h"

#include <assert.h>
#include <stdlib.h>

struct _health_t {
    health_config_t config;
    health_state_t state;
    int64_t last_heard;
    bool recovering;          //  Suspected on the way back from Unhealthy
    int64_t recovering_since; //  valid while recovering
};

health_t *health_new (const health_config_t *config, int64_t now)
{
    assert (config);
    health_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->state = HEALTH_HEALTHY;
    self->last_heard = now;
    return self;
}

void health_destroy (health_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

//  Downgrades only; the way up is health_heard's business.
static void s_apply_silence (health_t *self, int64_t now)
{
    int64_t silence = now - self->last_heard;
    if (silence > self->config.unhealthy_ms) {
        self->state = HEALTH_UNHEALTHY;
        self->recovering = false;
    } else if (silence > self->config.suspect_ms && self->state == HEALTH_HEALTHY)
        self->state = HEALTH_SUSPECTED;
}

void health_heard (health_t *self, int64_t now)
{
    assert (self);
    //  A timestamp older than the last one (reordered events) says nothing
    //  new about liveness.
    if (now < self->last_heard)
        return;
    int64_t gap = now - self->last_heard;
    s_apply_silence (self, now);

    if (self->state == HEALTH_UNHEALTHY) {
        self->state = HEALTH_SUSPECTED;
        self->recovering = true;
        self->recovering_since = now;
    } else if (self->recovering) {
        if (gap > self->config.suspect_ms)
            self->recovering_since = now;
        else if (now - self->recovering_since >= self->config.recover_ms) {
            self->state = HEALTH_HEALTHY;
            self->recovering = false;
        }
    } else
        self->state = HEALTH_HEALTHY;
    self->last_heard = now;
}

health_state_t health_update (health_t *self, int64_t now)
{
    assert (self);
    s_apply_silence (self, now);
    return self->state;
}

health_state_t health_state (health_t *self)
{
    assert (self);
    return self->state;
}

int64_t health_last_heard (health_t *self)
{
    assert (self);
    return self->last_heard;
}

const char *health_state_name (health_state_t state)
{
    switch (state) {
    case HEALTH_HEALTHY:
        return "healthy";
    case HEALTH_SUSPECTED:
        return "suspected";
    case HEALTH_UNHEALTHY:
        return "unhealthy";
    }
    return "unknown";
}

uint32_t health_default_quorum (uint32_t secondaries)
{
    //  64-bit so that secondaries + 1 cannot wrap.
    return (uint32_t)(((uint64_t)secondaries + 1) / 2 + 1);
}
