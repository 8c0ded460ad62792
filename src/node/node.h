/*  node.h - one rlog node: its sockets, its storage and its role, run as a
    czmq actor.

    A node is pinned to a role (`rlogd master`, `rlogd secondary`) or elects
    one (`rlogd node --peers ...`, election.h). Whatever the role, the node
    owns the event loop, the sockets and the storage; the role (master.c or
    secondary.c) only works on them while it lasts, so a node changes role
    without closing a socket or reopening its log:

      client ROUTER  every node: LIST and STATUS here; appends and sessions
                     go to the master role, or are answered NOT_MASTER
      pub PUB        a node that may lead: BATCH and HEARTBEAT
      peer ROUTER    a node that may lead: HELLO / ACK / FETCH; and every
                     elected node: VOTE_REQUEST
      links          a node that may follow: for each node it may follow (the
                     master, pinned; every other member, elected), a SUB to
                     its PUB and a DEALER to its peer socket. One pair per
                     node, so a frame's sender is known by where it came in,
                     and each link can be a CURVE client of that node's key.

    Actors: zactor_new (node_actor, &config) with config.role set; once set
    up it sends "READY" and the bound ports (client, pub, peer; a pinned
    secondary only its client port) or "ERROR" TEXT on the pipe; "$TERM"
    stops it after the master role has answered every waiting append.
    master_actor and secondary_actor are the pinned forms.
*/
#ifndef NODE_H_INCLUDED
#define NODE_H_INCLUDED

#include "auth.h"
#include "config.h"
#include "outbox.h"
#include "proto.h"
#include "storage.h"
#include "wire.h"
#include <czmq.h>

typedef struct _master_t master_t;
typedef struct _secondary_t secondary_t;
typedef struct _election_t election_t;

//  What roles see of their node (the node's own fields are in node.c).
typedef struct {
    config_t cfg;
    zsock_t *client, *pub, *peer;
    zsock_t *subs[CONFIG_MEMBERS_MAX];    //  link i: SUB to its node's PUB
    zsock_t *dealers[CONFIG_MEMBERS_MAX]; //  link i: DEALER to its node's peer socket
    int link_member[CONFIG_MEMBERS_MAX];  //  link i: index in cfg.members (-1 pinned)
    size_t link_count;
    storage_t storage;
    auth_t *auth;     //  NULL without CURVE
    outbox_t *outbox; //  replies on the client socket
    proto_decoder_t *decoder;
    proto_encoder_t *encoder;
    proto_encoder_t *prefix;
    int64_t now;       //  monotonic ms, read once per handler
    int64_t last_sync; //  of the last fsync (batch policy)
    wire_ratelimit_t bad_input_log;
    wire_ratelimit_t disk_log;
} node_t;

void node_actor (zsock_t *pipe, void *args);
void master_actor (zsock_t *pipe, void *args);
void secondary_actor (zsock_t *pipe, void *args);

//  Send the frame MSG to ROUTE on SOCK (NULL route: a PUB or DEALER).
//  Replies on the client socket go through the outbox (bounded in bytes).
int node_send (node_t *self, zsock_t *sock, const uint8_t *route, size_t route_size,
               const proto_msg_t *msg);

//  A request that cannot be served here: an append gets its reply type with
//  its request id (and LEADER, the master's client endpoint, if known), an
//  OPEN an OPEN_REPLY, anything else an ERROR, all with CODE and TEXT.
void node_refuse (node_t *self, const wire_route_t *route, const proto_msg_t *req, int code,
                  const char *text, const char *leader);

//  "always": what is fsynced; otherwise what is written.
uint64_t node_durable (node_t *self);

//  Group commit: write what was appended (fsync when SYNC); returns 0, or
//  -1 with errno when the store dropped what it could not write.
int node_commit (node_t *self, bool sync);

//  Is an fsync due now under the batch policy ("always": every commit)?
bool node_sync_due (node_t *self);

#endif
