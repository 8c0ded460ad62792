/*  config.h - parsed configuration of a node (master or secondary).

    rlogd fills it from flags and RLOG_* variables; tests fill it directly to
    run roles as actors inside one process.
*/
#ifndef CONFIG_H_INCLUDED
#define CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_ENDPOINT_MAX 256
//  --segment-bytes range; the disk log refuses a larger segment when it opens
#define CONFIG_SEGMENT_MIN ((size_t)4096)
#define CONFIG_SEGMENT_MAX ((size_t)1024 * 1024 * 1024)

typedef enum {
    CONFIG_FSYNC_ALWAYS = 0, //  fsync each batch before it counts (default)
    CONFIG_FSYNC_BATCH = 1,  //  count once written; fsync at most fsync_ms later
    CONFIG_FSYNC_NEVER = 2   //  count once written; the OS flushes
} config_fsync_t;

typedef struct {
    //  Both roles
    char client_ep[CONFIG_ENDPOINT_MAX]; //  ROUTER for logcli / librlog
    int64_t heartbeat_ms;
    int64_t suspect_ms;   //  silence before a peer is Suspected
    int64_t unhealthy_ms; //  silence before a peer is Unhealthy
    int64_t recover_ms;   //  steady contact before Unhealthy -> Healthy
    size_t max_msg;       //  largest payload accepted
    bool verbose;
    char data_dir[CONFIG_ENDPOINT_MAX]; //  "" = in memory
    config_fsync_t fsync;
    int64_t fsync_ms;                       //  batch policy interval
    size_t segment_bytes;                   //  log segment size
    bool repair;                            //  master: cut a corrupt log instead of refusing
    bool accept_shorter;                    //  master: let secondaries truncate to a shorter log
    char curve_secret[CONFIG_ENDPOINT_MAX]; //  this node's certificate ("" = no CURVE)
    char curve_allow[CONFIG_ENDPOINT_MAX];  //  public certificates allowed to connect
    char master_key[CONFIG_ENDPOINT_MAX];   //  secondary: the master's public certificate
    char ready_file[CONFIG_ENDPOINT_MAX];   //  rlogd writes the bound ports here ("" = none)
    //  Master
    uint32_t replicas;
    uint32_t quorum; //  0 = majority of master + replicas
    char pub_ep[CONFIG_ENDPOINT_MAX];
    char peer_ep[CONFIG_ENDPOINT_MAX];
    size_t max_waiters;        //  appends parked for their write concern
    size_t max_client_waiting; //  ... of them from one client connection
    size_t fetch_max;          //  entries served per FETCH
    size_t drain_max;          //  requests drained per loop turn (batch bound)
    //  Secondary
    char id[64];
    char master_pub[CONFIG_ENDPOINT_MAX];
    char master_peer[CONFIG_ENDPOINT_MAX];
    int64_t delay_ms;
    double fail_rate;
    double drop_rate;
    uint64_t seed; //  0 = from time and pid
    size_t holdback_max;
} config_t;

//  Defaults for ROLE "master" or "secondary" (client_ep etc. included).
void config_defaults (config_t *self, bool master);

//  "in memory (no data dir)" or "data dir DIR, fsync POLICY", for logs.
const char *config_storage (const config_t *self, char *buf, size_t size);

//  Derive the health thresholds that were left at 0 from heartbeat_ms, and
//  check ranges. Returns 0, or -1 with a reason in ERR (ERR_SIZE bytes).
int config_finish (config_t *self, bool master, char *err, size_t err_size);

#endif
