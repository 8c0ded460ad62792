/*  auth.h - CURVE on a node: its certificate, who may connect to which
    socket, and which key each node id is bound to.

    Two sets of public keys, kept apart so a client key can never pose as a
    node: the nodes directory holds one public certificate per node, named
    after its node id (`logcli keygen s1` writes s1 and s1_secret; copy s1
    into the directory), which binds each id to exactly one key; the
    clients directory holds the keys of clients (logcli, applications).
    Node sockets (the master's PUB and peer ROUTER) admit node keys only;
    client sockets admit client keys and node keys (an operator on a node
    may use that node's certificate).

    The client socket may present a certificate other than the node's own
    (--curve-client-cert): every node of a cluster given the same one, a
    client needs one server key for every endpoint and follows NOT_MASTER
    across a failover. The node's other sockets and its links keep the
    node's own certificate, so holding the shared secret lets one pose as a
    node to clients but never to other nodes.

    The ZAP handler is an actor of our own (czmq's zauth has one key set per
    process): it answers libzmq's ZAP requests by the socket's ZAP domain,
    and sets the User-Id of every admitted connection to its Z85 key, which
    wire_peer_key reads back from each frame.
*/
#ifndef AUTH_H_INCLUDED
#define AUTH_H_INCLUDED

#include <czmq.h>

#define AUTH_NODES   "nodes"
#define AUTH_CLIENTS "clients"

typedef struct _auth_t auth_t;

//  SECRET: this node's certificate (SECRET and SECRET_secret). CLIENT_SECRET:
//  the certificate of the client socket, the same way (NULL or "": SECRET's).
//  NODES_DIR, CLIENTS_DIR: directories of public certificates (NULL or ""
//  for none; a node that only connects needs neither). NULL with the reason
//  in ERR.
auth_t *auth_new (const char *secret, const char *client_secret, const char *nodes_dir,
                  const char *clients_dir, char *err, size_t err_size);
void auth_destroy (auth_t **self_p);

//  Make SOCK a CURVE server (before bind) admitting DOMAIN's keys; under
//  AUTH_CLIENTS it presents the client socket's certificate.
void auth_server (auth_t *self, zsock_t *sock, const char *domain);

//  Make SOCK a CURVE client of the server whose public key is SERVER_KEY.
void auth_client (auth_t *self, zsock_t *sock, const char *server_key);

//  The key node ID is bound to (from the nodes directory), NULL if none.
const char *auth_node_key (auth_t *self, const char *id);

//  Load the public certificate at PATH; its key (Z85) into KEY (41 bytes).
int auth_load_public (const char *path, char *key, char *err, size_t err_size);

//  Our public key, Z85 text.
const char *auth_public_key (auth_t *self);

//  The public key the client socket presents (ours unless CLIENT_SECRET).
const char *auth_client_public_key (auth_t *self);

//  Is PATH (PATH and PATH_secret) a certificate with a secret key? 0, or -1
//  with the reason in ERR: for rlogd to refuse a bad file before starting.
int auth_check_secret (const char *path, char *err, size_t err_size);

#endif
