/*  master.h - the master role as a czmq actor.

    zactor_t *m = zactor_new (master_actor, &config);   // config is copied
    then read one reply: "READY" client-port pub-port peer-port, or
    "ERROR" text (the actor then waits for $TERM). zactor_destroy stops it
    gracefully: parked appends are answered, sockets linger briefly.
*/
#ifndef MASTER_H_INCLUDED
#define MASTER_H_INCLUDED

#include <czmq.h>

void master_actor (zsock_t *pipe, void *args);

#endif
