/*  rlog.h - client library for rlog, a replicated, totally ordered,
    exactly-once message log on ZeroMQ.

    Every call is synchronous and blocks only the calling thread. A client
    object is not thread-safe: use one per thread. Errors are returned as
    rlog_err_t values (0 = RLOG_OK); rlog_client_error() gives the detail
    text of the last failure on that client.
*/
#ifndef RLOG_H_INCLUDED
#define RLOG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RLOG_VERSION_MAJOR 0
#define RLOG_VERSION_MINOR 1
#define RLOG_VERSION_PATCH 0

//  Error codes. The same numbers travel on the wire (docs/PROTOCOL.md).
typedef enum {
    RLOG_OK = 0,
    RLOG_TIMEOUT = 1,       //  appended, but fewer than w nodes hold it yet
    RLOG_READ_ONLY = 2,     //  master lacks a quorum of healthy nodes
    RLOG_BAD_W = 3,         //  w outside 1..replicas+1
    RLOG_TOO_LARGE = 4,     //  message larger than the node's limit
    RLOG_EMPTY = 5,         //  empty messages are refused
    RLOG_NOT_MASTER = 6,    //  appends go to the master only
    RLOG_BUSY = 7,          //  a bounded queue is full; retry later
    RLOG_MALFORMED = 8,     //  frame could not be decoded
    RLOG_BAD_VERSION = 9,   //  unknown protocol version
    RLOG_UNKNOWN_TYPE = 10, //  unknown or misplaced message type
    RLOG_STALE = 11,        //  request id older than the dedup window
    RLOG_UNREACHABLE = 12,  //  client side: no answer from the endpoint
    RLOG_INTERNAL = 13,     //  node-side failure (out of memory, ...)
    RLOG_INVALID = 14,      //  client side: bad argument
    RLOG_REFUSED = 15,      //  peer refused (unknown node, cluster full)
    RLOG_ERR_MAX = 16
} rlog_err_t;

//  Static English text for an error code; never NULL.
const char *rlog_strerror (int code);

//  Largest number of secondaries a status reply describes.
#define RLOG_MAX_SECONDARIES 32

typedef struct {
    char id[64];
    char state[16];        //  "healthy", "suspected", "unhealthy"
    uint64_t acked;        //  highest seq it holds with no gap
    uint64_t lag;          //  master head - acked
    int64_t last_heard_ms; //  ms since the master last heard it
    bool catching_up;      //  it is fetching a range it lacks
} rlog_secondary_status_t;

typedef struct {
    char role[16];    //  "master" or "secondary"
    char node_id[64]; //  secondary id, "master" for the master
    uint64_t epoch;   //  master's epoch (as known to a secondary)
    uint64_t head;    //  last seq of this node's gap-free prefix
    char mode[16];    //  "read-write" or "read-only"
    char reason[128]; //  why read-only; empty otherwise
    uint32_t nodes;   //  master + configured secondaries
    uint32_t healthy; //  master + healthy secondaries
    uint32_t quorum;  //  healthy nodes needed for appends
    uint32_t waiting; //  appends parked for their write concern
    size_t secondary_count;
    rlog_secondary_status_t secondaries[RLOG_MAX_SECONDARIES];
    //  Secondary role only
    char master[256]; //  master's replication endpoint
    bool master_reachable;
    int64_t master_last_heard_ms; //  -1 if never heard
    uint64_t master_head;         //  master head as last announced
    uint64_t held_back;           //  entries waiting for a gap to fill
    uint64_t duplicates;          //  entries dropped as already held
} rlog_status_t;

typedef struct {
    uint64_t seq;  //  the entry's position; 0 if not appended
    uint32_t acks; //  nodes known to hold it when answered
    uint32_t w;    //  write concern asked for
} rlog_append_result_t;

typedef struct _rlog_client_t rlog_client_t;

//  Create a client for ENDPOINT (e.g. "tcp://127.0.0.1:5555"). No traffic
//  until the first call. Returns NULL if the endpoint is not valid.
rlog_client_t *rlog_client_new (const char *endpoint);

//  Destroy the client and null the pointer. Safe on NULL.
void rlog_client_destroy (rlog_client_t **self_p);

//  Lost-reply handling: wait RETRY_MS for a reply, then probe the endpoint;
//  give up with RLOG_UNREACHABLE after RETRIES silent probes in a row.
//  Defaults: 1000 ms, 3 probes.
void rlog_client_set_retry (rlog_client_t *self, int retry_ms, int retries);

//  Append DATA (1..limit bytes) with write concern W (1 = master only).
//  TIMEOUT_MS 0 waits as long as it takes; otherwise the master answers
//  RLOG_TIMEOUT after that long with result->acks < w (not rolled back).
//  Retries after a lost reply reuse the same request id, so the entry is
//  appended once. RESULT may be NULL.
int rlog_client_append (rlog_client_t *self, const void *data, size_t size, int w, int timeout_ms,
                        rlog_append_result_t *result);

//  Called for each listed entry, in seq order. Return non-zero to stop.
typedef int (rlog_entry_fn) (uint64_t seq, const void *data, size_t size, void *arg);

//  List entries FROM seq (1 = start), at most LIMIT (0 = all), from the
//  node's gap-free prefix. Fetches page by page; memory stays bounded.
int rlog_client_list (rlog_client_t *self, uint64_t from, uint64_t limit, rlog_entry_fn *fn,
                      void *arg);

//  Fill STATUS with the node's view of itself and its peers.
int rlog_client_status (rlog_client_t *self, rlog_status_t *status);

//  Detail of the last error on this client (static buffer inside it).
const char *rlog_client_error (rlog_client_t *self);

//  Pipelined appends: one DEALER keeps many appends in flight. Submit never
//  waits for earlier appends; completions come back as they are answered
//  (w=1 at once, higher w when their write concern is met), each tagged
//  with the request id submit returned. Not retried: a caller that wants
//  exactly-once across a lost connection resubmits with rlog_pipeline_resubmit.
typedef struct _rlog_pipeline_t rlog_pipeline_t;

typedef struct {
    uint64_t req_id; //  as returned by submit
    int code;        //  rlog_err_t
    uint64_t seq;    //  0 if not appended
    uint32_t acks;
} rlog_completion_t;

//  W and TIMEOUT_MS as for rlog_client_append, for every append submitted.
rlog_pipeline_t *rlog_pipeline_new (const char *endpoint, int w, int timeout_ms);
void rlog_pipeline_destroy (rlog_pipeline_t **self_p);

//  Queue one append. Returns its request id (>= 1), or 0 if DATA is empty or
//  the socket cannot take more right now (collect, then submit again).
uint64_t rlog_pipeline_submit (rlog_pipeline_t *self, const void *data, size_t size);

//  Send DATA again under an earlier REQ_ID (idempotent retry). 0 or -1.
int rlog_pipeline_resubmit (rlog_pipeline_t *self, uint64_t req_id, const void *data, size_t size);

//  Wait up to WAIT_MS (0 = do not wait, -1 = forever) for at least one
//  completion, then take up to MAX that are ready. Returns how many.
size_t rlog_pipeline_collect (rlog_pipeline_t *self, int wait_ms, rlog_completion_t *out,
                              size_t max);

//  Appends submitted and not yet completed.
size_t rlog_pipeline_in_flight (rlog_pipeline_t *self);

#ifdef __cplusplus
}
#endif

#endif
