/*  secondary.h - the secondary role as a czmq actor.

    zactor_t *s = zactor_new (secondary_actor, &config);  // config is copied
    then read one reply: "READY" client-port, or "ERROR" text.
*/
#ifndef SECONDARY_H_INCLUDED
#define SECONDARY_H_INCLUDED

#include <czmq.h>

void secondary_actor (zsock_t *pipe, void *args);

#endif
