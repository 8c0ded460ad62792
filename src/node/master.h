/*  master.h - the master role of a node (node.h): appends in, replication
    out. Created when the node starts leading (pinned, or elected), in the
    epoch it leads; destroyed when it stops or steps down, after answering
    every waiting append with how far it got.
*/
#ifndef MASTER_H_INCLUDED
#define MASTER_H_INCLUDED

#include "node.h"

master_t *master_new (node_t *node, uint64_t epoch, char *err, size_t err_size);
void master_destroy (master_t **self_p);

//  A newly elected master's first entry in its epoch, the marker (Raft
//  5.4.2): until secondaries hold it, their ACKs count toward no w, so an
//  entry of an older epoch is acknowledged only through it. 0, or -1
//  (errno) when the log refuses it.
int master_mark_epoch (master_t *self);

//  APPEND, APPEND_BATCH or OPEN from a client (decoded).
void master_client (master_t *self, const wire_route_t *route, const proto_msg_t *msg);
//  The end of a turn on the client socket: group commit, publish, answer.
void master_turn (master_t *self);

//  HELLO, ACK or FETCH from a secondary (decoded; BODY for its CURVE key).
void master_peer (master_t *self, const wire_route_t *route, zmq_msg_t *body,
                  const proto_msg_t *msg);
//  The end of a turn on the peer socket: answer what the ACKs released.
void master_peer_turn (master_t *self);

void master_heartbeat (master_t *self);
void master_tick (master_t *self);

//  Fill the master's part of a status reply.
void master_status (master_t *self, proto_status_t *st);

uint64_t master_epoch (master_t *self);

#endif
