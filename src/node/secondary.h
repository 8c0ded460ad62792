/*  secondary.h - the secondary role of a node (node.h): it follows a master
    through the node's SUB and one of its DEALERs (follower.h has the rules,
    knobs.h the test knobs in front of them).
*/
#ifndef SECONDARY_H_INCLUDED
#define SECONDARY_H_INCLUDED

#include "node.h"

//  Follow the master whose peer socket DEALER is connected to (at
//  MASTER_PEER, for status and logs).
secondary_t *secondary_new (node_t *node, zsock_t *dealer, const char *master_peer, char *err,
                            size_t err_size);
void secondary_destroy (secondary_t **self_p);

//  Say HELLO.
void secondary_start (secondary_t *self);

//  A raw frame from the master (SUB or the DEALER).
void secondary_frame (secondary_t *self, const void *data, size_t size);
//  The end of a turn: commit what was stored, ACK what is durable.
void secondary_turn (secondary_t *self);
void secondary_tick (secondary_t *self);

//  APPEND, APPEND_BATCH or OPEN from a client: NOT_MASTER, naming the
//  master when it is known.
void secondary_client (secondary_t *self, const wire_route_t *route, const proto_msg_t *msg);

//  Fill the secondary's part of a status reply.
void secondary_status (secondary_t *self, proto_status_t *st);

//  The master's client endpoint, "" when unknown.
const char *secondary_leader (secondary_t *self);

#endif
