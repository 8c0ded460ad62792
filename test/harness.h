/*  harness.h - integration tests: real rlogd processes on 127.0.0.1.

    Every process is started with PR_SET_PDEATHSIG, so it dies with the test
    worker even when the worker crashes or times out, and h_cluster_destroy
    kills and reaps all of them on the normal path. Waits are polls of a
    condition with a deadline, never bare sleeps.

    Ports: criterion runs tests in parallel, so no port is picked by the
    harness and handed over (another test could take it in between). A
    node's first start binds free ports itself and reports them in its
    --ready-file, which h_start_* waits for; a restarted node asks for the
    ports it had, so clients and secondaries find it where it was.
*/
#ifndef HARNESS_H_INCLUDED
#define HARNESS_H_INCLUDED

#include "rlog.h"
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define H_MAX_NODES 8

typedef struct {
    pid_t pid;
    int client_port; //  0 until the node has started once
    char id[32];
    char log_path[320];   //  by position (master.log, s1.log, ...), whatever its id
    char ready_path[320]; //  where rlogd reports its bound ports
    char extra[512];      //  extra flags, space separated
} h_node_t;

typedef struct {
    char dir[128]; //  temp dir with one log file per process
    int pub_port;  //  the master's, 0 until it has started once
    int peer_port;
    int heartbeat_ms;
    uint32_t replicas;
    h_node_t master;
    h_node_t secondaries[H_MAX_NODES];
    //  An elected cluster (h_elected_init): the nodes are secondaries[0..n),
    //  ids n1..nN, each with its base port reserved for the whole test.
    int node_count;
    int reserved[3 * H_MAX_NODES]; //  descriptors holding the ports, -1 none
    char peers[512];               //  the --peers list
} h_cluster_t;

//  A port on 127.0.0.1 where nothing listens: connections to it are
//  refused. *FD holds it (bound, not listening) so that nobody else can
//  listen there meanwhile; close it when done.
int h_dead_port (int *fd);

//  Fill CLUSTER for a master with REPLICAS secondaries (nothing started).
void h_cluster_init (h_cluster_t *cluster, uint32_t replicas, int heartbeat_ms);

//  Start the master; EXTRA are extra rlogd flags ("" for none). Returns
//  once its sockets are bound (true), or once it has exited or failed to
//  report its ports in time (false; an exited node is left unreaped, so the
//  caller can waitpid for its status).
bool h_start_master (h_cluster_t *cluster, const char *extra);
//  Start secondary I (0-based, id "s<I+1>") with EXTRA flags, the same way.
//  The master must have been started before (its ports are the secondary's
//  to connect to).
bool h_start_secondary (h_cluster_t *cluster, int i, const char *extra);

//  An elected cluster of COUNT nodes n1..nN (rlogd node), nothing started.
//  Their --peers need every port before any node starts, so each node's
//  three ports (PORT, PORT+1, PORT+2) are reserved here and held until
//  h_cluster_destroy: bound without SO_REUSEADDR (so that nobody holds them
//  now), then given SO_REUSEADDR (so that rlogd, which sets it too, can
//  listen there while no other test can bind them). A restarted node gets
//  its ports back for sure.
void h_elected_init (h_cluster_t *cluster, int count, int heartbeat_ms);

//  Start elected node I (0-based) on its data dir CLUSTER->dir/nI+1, with
//  EXTRA flags. True once its sockets are bound.
bool h_start_node (h_cluster_t *cluster, int i, const char *extra);

//  Index of the node that is master and read-write, among those running,
//  polled until TIMEOUT_MS; -1 if none.
int h_find_master (h_cluster_t *cluster, int timeout_ms);

//  The endpoint list of every node ("tcp://127.0.0.1:P1,...").
const char *h_endpoints (const h_cluster_t *cluster, char *buf, size_t size);

//  Send SIG to a node and wait for it to exit (SIGKILL after 5 s).
void h_stop (h_node_t *node, int sig);

//  Kill and reap everything, remove the temp dir unless H_KEEP is set.
void h_cluster_destroy (h_cluster_t *cluster);

//  Endpoint "tcp://127.0.0.1:PORT" of a node's client socket.
const char *h_endpoint (const h_node_t *node, char *buf, size_t size);

//  A client of NODE with short retries for tests.
rlog_client_t *h_client (const h_node_t *node);

//  Poll STATUS of NODE until PRED is true or TIMEOUT_MS passes.
typedef bool (h_status_pred) (const rlog_status_t *status, void *arg);
bool h_wait_status (const h_node_t *node, h_status_pred *pred, void *arg, int timeout_ms);

//  Predicates: master has at least *(int*)arg healthy nodes and is read-write;
//  node's head >= *(uint64_t*)arg.
bool h_pred_healthy (const rlog_status_t *status, void *arg);
bool h_pred_head (const rlog_status_t *status, void *arg);
//  A secondary says it was welcomed (following or catching up): after a
//  restart, the master's status may still show its previous connection.
bool h_pred_joined (const rlog_status_t *status, void *arg);

//  Read NODE's whole log into a malloc'd array of malloc'd strings.
typedef struct {
    char **items;
    size_t count;
    uint64_t last_seq; //  seqs increase; epoch markers take a seq, no message
} h_list_t;
int h_list (const h_node_t *node, h_list_t *list);
void h_list_free (h_list_t *list);

//  Run logcli with ARGS (a printf format); capture stdout into OUT.
//  Returns the exit status (or -1).
int h_logcli (char *out, size_t out_size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

#endif
