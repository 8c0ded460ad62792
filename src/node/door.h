/*  door.h - how many connections a node holds, and what happens past that.

    libzmq accepts every TCP connection its listeners see; when accept fails
    (EMFILE: out of file descriptors) its I/O thread retries at once, for
    ever, at full CPU, and every client starves. So the node raises its
    open-files limit to what --max-connections needs (door_fit_limit; fewer
    connections, with a warning, when the hard limit is lower) and watches
    its client socket with a socket monitor: a connection accepted beyond the
    limit is shut down at once (its peer sees the connection close), so the
    descriptors never run out and the connections already made keep being
    served. libzmq drops a peer that never sends its ZMTP greeting after
    the handshake interval the node sets on its listeners (10 s), so
    half-open connections cannot hold the limit either. Refusals and failed accepts are logged, at
   most once a second.

    Unbinding the listener instead would not do: libzmq ends every
    connection accepted through an endpoint when it is unbound.
*/
#ifndef DOOR_H_INCLUDED
#define DOOR_H_INCLUDED

#include <czmq.h>

typedef struct _door_t door_t;

//  Watch listeners through LOOP; at most MAX connections over all of them.
door_t *door_new (zloop_t *loop, size_t max);
void door_destroy (door_t **self_p);

//  Watch SOCK (bound to a tcp:// endpoint). 0 or -1.
int door_watch (door_t *self, zsock_t *sock);

//  Connections held now, and refused so far.
size_t door_connections (door_t *self);
uint64_t door_refused (door_t *self);

//  Raise this process's soft limit on open files to what MAX connections
//  need (plus a reserve for the log and the node's own sockets), up to the
//  hard limit. Returns the connections the limit allows (MAX, or fewer).
size_t door_fit_limit (size_t max);

#endif
