/*  wire.h - socket plumbing shared by the master and the secondary:
    request envelopes on a client ROUTER, replies, and the LIST answer.
*/
#ifndef WIRE_H_INCLUDED
#define WIRE_H_INCLUDED

#include "proto.h"
#include "store.h"
#include <czmq.h>

//  A client's routing envelope: the identity frame ROUTER prepends.
#define WIRE_ENVELOPE_MAX 255

typedef struct {
    uint8_t id[WIRE_ENVELOPE_MAX];
    size_t id_size;
} wire_envelope_t;

//  Receive one request from a client ROUTER without blocking.
//  Returns 1 with ENV and BODY (an initialised zmq_msg_t the caller closes),
//  0 if nothing is waiting, -1 if a message arrived that has no answerable
//  envelope (already consumed; the caller decides whether to log it).
int wire_recv_request (zsock_t *router, wire_envelope_t *env, zmq_msg_t *body);

//  Send DATA to the client behind ENV (identity, empty delimiter, body).
//  Never blocks; a vanished or stuck client loses its reply (returns -1).
int wire_send_reply (zsock_t *router, const uint8_t *id, size_t id_size, const void *data,
                     size_t size);

//  Receive one [identity][body] message from a peer ROUTER without blocking;
//  same return convention as wire_recv_request.
int wire_recv_peer (zsock_t *router, wire_envelope_t *env, zmq_msg_t *body);

//  Send one frame to a peer on a ROUTER (identity then body), non-blocking.
int wire_send_peer (zsock_t *router, const uint8_t *id, size_t id_size, const void *data,
                    size_t size);

//  Non-blocking send of one frame on a PUB or DEALER. Returns 0 or -1.
int wire_send (zsock_t *sock, const void *data, size_t size);

//  Encode a LIST_REPLY of STORE's entries FROM.. (at most LIMIT, 0 = as many
//  as one reply holds) into ENC.
int wire_encode_list (proto_encoder_t *enc, store_t *store, uint64_t from, uint64_t limit);

//  Largest entry count and payload bytes in one LIST_REPLY / FILL / BATCH.
#define WIRE_LIST_MAX_ENTRIES  4096
#define WIRE_LIST_MAX_BYTES    (256 * 1024)
#define WIRE_BATCH_MAX_ENTRIES 1024
#define WIRE_BATCH_MAX_BYTES   (1024 * 1024)

//  Encode entries FROM..TO of STORE as BATCH/FILL frames (TYPE), each cut at
//  WIRE_BATCH_MAX_*, and hand each to SEND. Stops at the first SEND failure.
//  Returns the last seq handed over (FROM-1 if none).
typedef int (wire_frame_fn) (const void *data, size_t size, void *arg);
uint64_t wire_send_range (proto_encoder_t *enc, store_t *store, int type, uint64_t epoch,
                          uint64_t from, uint64_t to, wire_frame_fn *send, void *arg);

//  Bind SOCK to ENDPOINT. Returns the port (0 for non-TCP transports), or
//  -1 with the reason in ERR.
int wire_bind (zsock_t *sock, const char *endpoint, char *err, size_t err_size);

//  An actor that failed to start: report "ERROR" TEXT on PIPE, then wait for
//  $TERM so zactor_destroy finds it.
void wire_actor_failed (zsock_t *pipe, const char *text);

//  Rate limit for repeated warnings: true at most once per INTERVAL_MS.
typedef struct {
    int64_t last;
    uint64_t suppressed;
} wire_ratelimit_t;
bool wire_ratelimit (wire_ratelimit_t *self, int64_t now, int64_t interval_ms);

#endif
