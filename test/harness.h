/*  harness.h - integration tests: real rlogd processes on 127.0.0.1.

    Every process is started with PR_SET_PDEATHSIG, so it dies with the test
    worker even when the worker crashes or times out, and h_cluster_destroy
    kills and reaps all of them on the normal path. Waits are polls of a
    condition with a deadline, never bare sleeps.
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
    int client_port;
    char id[32];
    char log_path[320];
    char extra[512]; //  extra flags, space separated
} h_node_t;

typedef struct {
    char dir[128]; //  temp dir with one log file per process
    int pub_port;
    int peer_port;
    int heartbeat_ms;
    uint32_t replicas;
    h_node_t master;
    h_node_t secondaries[H_MAX_NODES];
} h_cluster_t;

//  A free TCP port on 127.0.0.1 (bound then released).
int h_free_port (void);

//  Fill CLUSTER for a master with REPLICAS secondaries (nothing started).
void h_cluster_init (h_cluster_t *cluster, uint32_t replicas, int heartbeat_ms);

//  Start the master; EXTRA are extra rlogd flags ("" for none).
void h_start_master (h_cluster_t *cluster, const char *extra);
//  Start secondary I (0-based, id "s<I+1>") with EXTRA flags.
void h_start_secondary (h_cluster_t *cluster, int i, const char *extra);

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

//  Read NODE's whole log into a malloc'd array of malloc'd strings.
typedef struct {
    char **items;
    size_t count;
} h_list_t;
int h_list (const h_node_t *node, h_list_t *list);
void h_list_free (h_list_t *list);

//  Run logcli with ARGS (a printf format); capture stdout into OUT.
//  Returns the exit status (or -1).
int h_logcli (char *out, size_t out_size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

#endif
