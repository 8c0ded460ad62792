/*  node_self.h - the node's own state, shared by node.c (sockets, loop,
    pinned roles) and elect.c (elections: votes, epochs, role changes).
    Internal to those two files.
*/
#ifndef NODE_SELF_H_INCLUDED
#define NODE_SELF_H_INCLUDED

#include "door.h"
#include "election.h"
#include "node.h"

typedef enum { NODE_MASTER = 0, NODE_SECONDARY = 1, NODE_ELECTED = 2 } node_kind_t;

typedef struct {
    node_t node; //  what roles see; first, so the two pointers are one
    node_kind_t kind;
    zsock_t *pipe;
    zloop_t *loop;
    master_t *master;       //  while leading
    secondary_t *secondary; //  while following
    int follow_link;        //  the link the secondary follows, -1 none
    election_t *election;   //  elected nodes only
    door_t *door;           //  the connection limit on the listeners
    int ports[3];
    char leader_client[CONFIG_ENDPOINT_MAX]; //  elect_leader's answer
    proto_payload_t list_scratch[PROTO_LIST_MAX_ENTRIES];
    proto_status_t status;
} node_self_t;

//  elect.c: start the election (after the sockets and storage), stop it.
int elect_start (node_self_t *self, char *err, size_t err_size);
void elect_stop (node_self_t *self);

//  A frame (decoded) that came in on LINK: votes, and the epoch rules for
//  the rest. True when it should go on to the secondary role.
bool elect_link_frame (node_self_t *self, size_t link, const proto_msg_t *msg);

//  A frame (decoded) on the peer socket: a vote request is answered here
//  (true); otherwise the epoch rules apply and false lets it go on.
bool elect_peer_frame (node_self_t *self, const wire_route_t *route, zmq_msg_t *body,
                       const proto_msg_t *msg);

void elect_tick (node_self_t *self);

//  The election's part of a status reply (after the role's).
void elect_status (node_self_t *self, proto_status_t *st);

//  The client endpoint of the master this node knows of, "" if none.
const char *elect_leader (node_self_t *self);

#endif
