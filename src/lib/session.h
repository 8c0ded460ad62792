/*  session.h - librlog's link to a cluster: endpoints, one DEALER, the
    client id, following the master.

    A session owns the list of node endpoints it was given ("tcp://a:5555"
    or "tcp://a:5555,tcp://b:5555,tcp://c:5555"), the endpoint in use (one
    of them, or a master some node named), one DEALER connected to it (a
    DEALER sends [body] and receives [body]: no envelope), the CURVE keys,
    the frame codec, and the client id the master issued (OPEN) with the
    limits it announced.

    Lifecycle: session_new parses the endpoints; the socket is created on
    first use and replaced whenever the session moves (session_next after a
    silence, session_follow after NOT_MASTER) or is reset (a socket whose
    request went unanswered is dropped, as in the Lazy Pirate pattern), so
    a socket's replies always answer what was sent on it; each new socket
    bumps the generation. The client id outlives sockets: ids are issued by
    the master and known to every master that holds the client's entries,
    so retries after a move keep their (client id, request id).

    Following: a NOT_MASTER reply names the master's client endpoint when
    the node knows it; the session moves there, else to the next endpoint
    of the list. A round of following ends when a node serves us
    (session_settle), or fails when every endpoint of the list refused
    without naming a master, or after too many hops (two nodes naming each
    other): the caller then reports NOT_MASTER. A leader whose host is a
    wildcard ("*", "0.0.0.0": a node that advertises its bind address)
    cannot be connected to and counts as unknown.

    Callers: client.c (synchronous calls), pipeline.c (and bulk.c through
    it). Not thread-safe: one session per object per thread.
*/
#ifndef SESSION_H_INCLUDED
#define SESSION_H_INCLUDED

#include "cert.h"
#include "proto.h"
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define SESSION_ENDPOINTS_MAX 16
//  Largest reply accepted (a LIST_REPLY page is far smaller)
#define SESSION_REPLY_MAX (64 * 1024 * 1024)

typedef struct _session_t session_t;

//  ENDPOINTS: one endpoint or a comma-separated list (spaces around the
//  commas ignored), each with "://" and under 256 bytes, at most
//  SESSION_ENDPOINTS_MAX. NULL on a bad list or out of memory. Sets czmq
//  up once per process.
session_t *session_new (const char *endpoints);
void session_destroy (session_t **self_p);

//  Use these CURVE keys (ownership taken; NULL: none) from the next socket
//  on; the current socket is closed.
void session_set_curve (session_t *self, cert_curve_t *curve);

//  Send and receive high-water marks of the sockets created from now on.
void session_set_hwm (session_t *self, int hwm);

//  The DEALER to the endpoint in use, created and connected on first use;
//  NULL if that fails (the reason in session_error).
zsock_t *session_socket (session_t *self);

//  Drop the socket (and what is queued on it); the next use makes a new one.
void session_reset (session_t *self);

//  Bumped each time a new socket is made.
uint64_t session_generation (session_t *self);

const char *session_endpoint (session_t *self);
size_t session_endpoint_count (session_t *self);
const char *session_error (session_t *self);

//  Move to the next endpoint of the list (after a silence).
void session_next (session_t *self);

//  After a NOT_MASTER reply naming LEADER ("" when the node did not know):
//  move there, or to the next endpoint of the list. 0, or -1 when the
//  round of following failed (the caller reports NOT_MASTER; the next
//  NOT_MASTER starts a new round where the session now is).
int session_follow (session_t *self, const char *leader);

//  A node served us (any reply but NOT_MASTER): a new round of following
//  begins at the next NOT_MASTER.
void session_settle (session_t *self);

//  The client id, once a master issued one.
bool session_opened (session_t *self);
const uint8_t *session_client_id (session_t *self);
//  Bumped each time a new client id is taken.
uint64_t session_id_generation (session_t *self);
//  The node's --max-msg and largest entry section, from OPEN (0: not said)
uint64_t session_max_msg (session_t *self);
uint64_t session_max_batch (session_t *self);

//  Encode an OPEN request into the session's encoder.
int session_encode_open (session_t *self);

//  Take the id and limits of an OPEN_REPLY. Returns RLOG_OK, the reply's
//  code when it refused (NOT_MASTER, ...), or RLOG_MALFORMED when it said
//  OK without an id.
int session_open_reply (session_t *self, const proto_msg_t *msg);

//  The master no longer knows our id (STALE for a request never sent
//  before): the next OPEN takes a new one.
void session_forget_id (session_t *self);

proto_encoder_t *session_encoder (session_t *self);
proto_decoder_t *session_decoder (session_t *self);

//  Send DATA (SIZE bytes) on the socket without blocking. 0, or -1 (no
//  socket, or its queue is full).
int session_send (session_t *self, const void *data, size_t size);

//  Wait until the socket has something to read or DEADLINE (zclock_mono
//  ms; -1: no deadline) passes. 1 readable, 0 timed out, -1 interrupted by
//  a signal (czmq's zsys_interrupted) or no socket.
int session_wait (session_t *self, int64_t deadline);

//  Receive one frame without blocking into MSG (initialised by the
//  caller, closed by the caller). 0, or -1 when none is waiting.
int session_recv (session_t *self, zmq_msg_t *msg);

//  Liveness probe: a STATUS to the endpoint in use, on a socket of its
//  own, answered within WAIT_MS? 1 (the node's count of parked appends in
//  *WAITING_P, 0 if it did not say), 0 silent, -1 interrupted.
int session_probe (session_t *self, int wait_ms, uint64_t *waiting_p);

#endif
