/*  wire.h - socket plumbing shared by the node roles: routes on ROUTER
    sockets, non-blocking sends, frames of records, binding, rate limits.

    A route is how a reply finds its way back on a ROUTER: the routing id
    the ROUTER gave the connection, and the shape of the request. A DEALER
    client sends [body] (the ROUTER sees [id][body]); a REQ client sends
    [empty][body] (the ROUTER sees [id][empty][body]); the reply goes back in
    the same shape. Routes are opaque bytes to the pure modules (appends
    keeps one per parked request), at most WIRE_ROUTE_MAX of them.
*/
#ifndef WIRE_H_INCLUDED
#define WIRE_H_INCLUDED

#include "proto.h"
#include <czmq.h>
#include <stdbool.h>

#define WIRE_ROUTE_MAX    256 //  1 shape byte + a routing id of at most 255
#define WIRE_SHAPE_DEALER 0   //  route[0]: the request came as [id][body]
#define WIRE_SHAPE_REQ    1   //  ... as [id][empty][body]

typedef struct {
    uint8_t bytes[WIRE_ROUTE_MAX];
    size_t size;
} wire_route_t;

//  Receive one request from a ROUTER without blocking: its route and body
//  (an initialised zmq_msg_t the caller closes). Returns 1, 0 when nothing
//  is waiting, -1 when a message arrived with no answerable shape (already
//  consumed: the caller logs it, rate-limited).
int wire_recv (zsock_t *router, wire_route_t *route, zmq_msg_t *body);

//  Send DATA to ROUTE on ROUTER, never blocking: a vanished or stuck peer
//  loses it (-1).
int wire_send_route (zsock_t *router, const uint8_t *route, size_t route_size, const void *data,
                     size_t size);

//  Send the frame a proto encoder holds without copying it again (the
//  encoder hands its buffer to libzmq). ROUTE NULL: a PUB or DEALER.
int wire_send_encoded (zsock_t *sock, const uint8_t *route, size_t route_size,
                       proto_encoder_t *encoder);

//  Send one frame of records (BATCH or FILL of EPOCH) built from the bytes
//  RECORDS..+SIZE with one copy; PREFIX is a scratch encoder for the few
//  bytes before them. ROUTE NULL: a PUB.
int wire_send_records (zsock_t *sock, const uint8_t *route, size_t route_size,
                       proto_encoder_t *prefix, int type, uint64_t epoch, const void *records,
                       size_t size);

//  Non-blocking send of one frame on a PUB or DEALER.
int wire_send (zsock_t *sock, const void *data, size_t size);

//  Bind SOCK to ENDPOINT. Returns the port (0 for non-TCP transports), or
//  -1 with the reason in ERR (with a hint when ENDPOINT lacks "tcp://").
int wire_bind (zsock_t *sock, const char *endpoint, char *err, size_t err_size);

//  An actor that failed to start: report "ERROR" TEXT on PIPE, then wait for
//  $TERM so zactor_destroy finds it.
void wire_actor_failed (zsock_t *pipe, const char *text);

//  The authenticated CURVE key (Z85) of the sender of MSG, NULL without.
const char *wire_peer_key (zmq_msg_t *msg);

//  Rate limit for repeated warnings: true at most once per INTERVAL_MS.
typedef struct {
    int64_t last;
    uint64_t suppressed;
} wire_ratelimit_t;
bool wire_ratelimit (wire_ratelimit_t *self, int64_t now, int64_t interval_ms);

#endif
