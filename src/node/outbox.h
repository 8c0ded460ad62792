/*  outbox.h - replies on the client socket, bounded in bytes per client.

    libzmq bounds what waits for a client in messages (the socket's send
    high-water mark), not bytes, and past it a ROUTER drops. A client that
    pipelines a thousand appends may be answered in one burst, and one that
    never reads may be sent LIST pages of a megabyte each. So the client
    socket's high-water mark is small (OUTBOX_PIPE messages) and what it
    cannot take at once waits here, per connection, in order, until libzmq
    takes it: at most max_route bytes for one connection and max_total for
    all. A reply past either bound is dropped and counted (the client gets
    it again by retrying: appends are idempotent). Replies to a connection
    that is gone are dropped at once.

    Lifecycle: outbox_send for every reply; outbox_flush at the end of each
    loop turn and on the tick, which hands over what libzmq now takes.
*/
#ifndef OUTBOX_H_INCLUDED
#define OUTBOX_H_INCLUDED

#include <czmq.h>

//  The client socket's send high-water mark that goes with an outbox.
#define OUTBOX_PIPE 64

typedef struct _outbox_t outbox_t;

outbox_t *outbox_new (zsock_t *router, size_t max_route, size_t max_total);
void outbox_destroy (outbox_t **self_p);

//  Send DATA (SIZE bytes, copied) to ROUTE (wire.h's route: shape byte and
//  routing id), behind what already waits for it. 0 when sent or queued,
//  -1 when dropped (over a bound, or the connection is gone).
int outbox_send (outbox_t *self, const uint8_t *route, size_t route_size, const void *data,
                 size_t size);

//  The same, handing over MSG (a zmq_msg_t the outbox closes whatever
//  happens).
int outbox_send_msg (outbox_t *self, const uint8_t *route, size_t route_size, zmq_msg_t *msg);

//  Hand libzmq what it takes now. Returns the bytes still waiting.
size_t outbox_flush (outbox_t *self);

size_t outbox_bytes (outbox_t *self);
uint64_t outbox_dropped (outbox_t *self);

#endif
