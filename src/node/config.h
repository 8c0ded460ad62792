/*  config.h - parsed configuration of a node (master or secondary).

    rlogd fills it from flags and RLOG_* variables; tests fill it directly to
    run the roles as actors inside one process. Nothing else is global.
*/
#ifndef CONFIG_H_INCLUDED
#define CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_ENDPOINT_MAX 256
#define CONFIG_SEGMENT_MIN  ((size_t)4096)
#define CONFIG_SEGMENT_MAX  ((size_t)1024 * 1024 * 1024)
#define CONFIG_MEMBERS_MAX  32
#define CONFIG_ID_MAX       63

typedef enum {
    CONFIG_FSYNC_ALWAYS = 0, //  fsync each batch before it counts (default)
    CONFIG_FSYNC_BATCH = 1,  //  count once written; fsync at most fsync_ms later
    CONFIG_FSYNC_NEVER = 2   //  count once written; the OS flushes
} config_fsync_t;

//  A member of an elected cluster (--peers): its id and base address; it
//  serves clients on PORT, publishes on PORT+1 and takes peers on PORT+2.
typedef struct {
    char id[CONFIG_ID_MAX + 1];
    char host[CONFIG_ENDPOINT_MAX - 32];
    int port;
} config_member_t;

//  What a node is: pinned master, pinned secondary, or elected (rlogd node).
typedef enum { CONFIG_MASTER = 0, CONFIG_SECONDARY = 1, CONFIG_NODE = 2 } config_role_t;

typedef struct {
    //  Every role
    char client_ep[CONFIG_ENDPOINT_MAX]; //  ROUTER for logcli / librlog
    char advertise[CONFIG_ENDPOINT_MAX]; //  the client endpoint other nodes name ("" = derived)
    int64_t heartbeat_ms;
    int64_t suspect_ms;   //  silence before a peer is Suspected
    int64_t unhealthy_ms; //  silence before a peer is Unhealthy
    int64_t recover_ms;   //  steady contact before Unhealthy -> Healthy
    size_t max_msg;       //  largest payload accepted
    bool verbose;
    char data_dir[CONFIG_ENDPOINT_MAX]; //  "" = in memory
    config_fsync_t fsync;
    int64_t fsync_ms;                        //  batch policy interval
    size_t segment_bytes;                    //  log segment size
    bool repair;                             //  master: cut a corrupt log instead of refusing
    bool accept_shorter;                     //  master: let secondaries truncate to a shorter log
    char curve_secret[CONFIG_ENDPOINT_MAX];  //  this node's certificate ("" = no CURVE)
    char curve_nodes[CONFIG_ENDPOINT_MAX];   //  public certificates of the nodes, named by id
    char curve_clients[CONFIG_ENDPOINT_MAX]; //  public certificates of the clients
    char curve_client_cert[CONFIG_ENDPOINT_MAX]; //  what the client socket presents ("" = own)
    char master_key[CONFIG_ENDPOINT_MAX];        //  secondary: the master's public certificate
    char ready_file[CONFIG_ENDPOINT_MAX];        //  rlogd writes the bound ports here ("" = none)
    size_t max_connections;                      //  connections held at most (every listener)
    size_t drain_max;                            //  frames drained per loop turn
    size_t drain_bytes;                          //  ... and bytes
    size_t fetch_max;                            //  entries per gap fill
    //  Master
    uint32_t replicas;
    char secondaries[CONFIG_MEMBERS_MAX][CONFIG_ID_MAX + 1]; //  their ids (s1..sN by default)
    uint32_t quorum;                                         //  0 = majority of master + replicas
    char pub_ep[CONFIG_ENDPOINT_MAX];
    char peer_ep[CONFIG_ENDPOINT_MAX];
    size_t max_waiters;         //  appends parked for their write concern
    size_t max_client_waiting;  //  ... of them from one client connection
    char id[CONFIG_ID_MAX + 1]; //  the node's id ("master" for a pinned master)
    //  Elected node (rlogd node): every member, this one included
    config_member_t members[CONFIG_MEMBERS_MAX];
    size_t member_count;
    int64_t election_min_ms; //  election timeout, drawn from min..max (0: derived)
    int64_t election_max_ms;
    //  Secondary
    char master_pub[CONFIG_ENDPOINT_MAX];
    char master_peer[CONFIG_ENDPOINT_MAX];
    bool discard_foreign; //  move another history's log aside and join empty
    int64_t delay_ms;
    double fail_rate;
    double drop_rate;
    uint64_t seed;         //  0 = from time and pid
    size_t holdback_max;   //  records held back
    size_t holdback_bytes; //  ... and their bytes
} config_t;

//  Defaults for a role (client_ep etc. included).
void config_defaults (config_t *self, config_role_t role);

//  "in memory (no data dir)" or "data dir DIR, fsync POLICY", for logs.
const char *config_storage (const config_t *self, char *buf, size_t size);

//  Parse "s1,s2,s3" into SELF->secondaries and replicas. 0, or -1 with ERR.
int config_set_secondaries (config_t *self, const char *list, char *err, size_t err_size);

//  Parse "n1=HOST:PORT,n2=HOST:PORT,..." into SELF->members. 0, or -1 with ERR.
int config_set_peers (config_t *self, const char *list, char *err, size_t err_size);

//  Index of member ID, -1 if none.
int config_member (const config_t *self, const char *id);

//  Derive what was left at 0 (health thresholds from heartbeat_ms, member
//  ids s1..sN, an elected node's endpoints from its --peers entry) and
//  check ranges. Returns 0, or -1 with a reason in ERR.
int config_finish (config_t *self, config_role_t role, char *err, size_t err_size);

#endif
