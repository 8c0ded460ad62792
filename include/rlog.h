/*  rlog.h - librlog, the client library of rlog: a replicated, totally
    ordered, exactly-once message log on ZeroMQ.

    Link with -lrlog (pkg-config: rlog). Two kinds of client:

    * rlog_client_t: synchronous calls (append, list, status). Each call
      blocks the calling thread only, until the node answers or the retry
      budget runs out. Lost replies are retried on a fresh socket under the
      same request id, so an append is stored once however often it is sent.
    * rlog_pipeline_t: many appends in flight on one connection, for
      throughput. Submit never waits; completions are collected later.

    Conventions for every call below:

    * Threads: an object is not thread-safe; use one per thread. Different
      objects may be used from different threads at the same time.
    * Ownership: the library copies what you pass in (endpoints, payloads).
      Pointers it hands out (error texts, entry data in a list callback)
      belong to the library and are valid only as long as stated.
    * Errors: calls that can fail return an rlog_err_t (0 = RLOG_OK).
      rlog_strerror() names a code; rlog_client_error() gives the detail of
      the last failure on a client (e.g. "read-only: 1 of 3 nodes healthy,
      quorum needs 2"). Refusals (READ_ONLY, BAD_W, TOO_LARGE, EMPTY,
      NOT_MASTER, BUSY, STALE, INTERNAL) store nothing; RLOG_TIMEOUT means
      the entry is stored and stays; RLOG_UNREACHABLE after an append means
      it may or may not have been stored.
    * Security: against nodes started with CURVE keys, call
      rlog_client_set_curve (or use rlog_pipeline_new_curve) first.
    * Signals: the library runs on czmq, which catches SIGINT and SIGTERM
      when the first socket is created (set ZSYS_SIGHANDLER=false before
      that to keep your own handlers). Once one has arrived, a blocking call
      returns RLOG_UNREACHABLE with the detail "interrupted".

    The wire protocol under these calls is in docs/PROTOCOL.md.
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
    RLOG_TIMEOUT = 1,        //  appended, but fewer than w nodes hold it yet
    RLOG_READ_ONLY = 2,      //  master lacks a quorum of healthy nodes
    RLOG_BAD_W = 3,          //  w outside 1..replicas+1
    RLOG_TOO_LARGE = 4,      //  message larger than the node's limit
    RLOG_EMPTY = 5,          //  empty messages are refused
    RLOG_NOT_MASTER = 6,     //  appends go to the master only
    RLOG_BUSY = 7,           //  a bounded queue is full; retry later
    RLOG_MALFORMED = 8,      //  frame could not be decoded
    RLOG_BAD_VERSION = 9,    //  unknown protocol version
    RLOG_UNKNOWN_TYPE = 10,  //  unknown or misplaced message type
    RLOG_STALE = 11,         //  request id older than the dedup window
    RLOG_UNREACHABLE = 12,   //  client side: no answer from the endpoint
    RLOG_INTERNAL = 13,      //  node-side failure (out of memory, ...)
    RLOG_INVALID = 14,       //  client side: bad argument
    RLOG_REFUSED = 15,       //  peer refused (unknown node, cluster full)
    RLOG_OTHER_HISTORY = 16, //  peer holds another history than the master's
    RLOG_ERR_MAX = 17
} rlog_err_t;

//  Static English text for an error code ("read-only: not enough healthy
//  nodes"); "unknown error" outside the enum. Never NULL, never freed.
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
    char mode[16];    //  master: "read-write" or "read-only"; secondary:
                      //  "following", "catching-up" or "disconnected"
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
    //  Both roles
    uint64_t max_msg; //  largest message it accepts (--max-msg); 0: not said
} rlog_status_t;

typedef struct {
    uint64_t seq;  //  the entry's position; 0 if not appended
    uint32_t acks; //  nodes known to hold it when answered
    uint32_t w;    //  write concern asked for
} rlog_append_result_t;

//  --------------------------------------------------------------------------
//  Synchronous client

typedef struct _rlog_client_t rlog_client_t;

//  Create a client for ENDPOINT (e.g. "tcp://127.0.0.1:5555"), a ZeroMQ
//  endpoint of a node's client socket. The string is copied. No traffic and
//  no socket until the first call, so a node that is down is only noticed
//  then. Returns NULL if ENDPOINT is NULL, has no "://", is 256 bytes or
//  longer, or memory runs out. Free it with rlog_client_destroy.
rlog_client_t *rlog_client_new (const char *endpoint);

//  Close the client's socket, free it and set *SELF_P to NULL. Safe on NULL
//  and on a pointer to NULL. Never blocks (sockets close with linger 0).
void rlog_client_destroy (rlog_client_t **self_p);

//  Talk CURVE to a node started with --curve-secret: authenticate with the
//  certificate CERT_PATH (the files CERT_PATH and CERT_PATH_secret, as
//  written by `logcli keygen`) and accept only the node whose public
//  certificate is the file SERVER_CERT_PATH. Both files are read now; the
//  keys are used from the next call on. Returns RLOG_OK, or RLOG_INVALID
//  (a file missing or not a certificate, or a libzmq without CURVE) with
//  the reason in rlog_client_error, and the client unchanged. A node that
//  does not allow this key, or a wrong server key, never answers: calls then
//  end RLOG_UNREACHABLE after the retry budget.
int rlog_client_set_curve (rlog_client_t *self, const char *cert_path,
                           const char *server_cert_path);

//  Lost-reply handling: wait RETRY_MS for each reply, then retry. Appends
//  probe the node with a STATUS on a second socket after a silence: a live
//  node means the append is waiting for its write concern, so the client
//  keeps waiting (resending the same request id); RETRIES silent probes in a
//  row give RLOG_UNREACHABLE. List and status give RLOG_UNREACHABLE after
//  RETRIES unanswered tries. Defaults 1000 ms and 3; RETRY_MS <= 0 means
//  1000, RETRIES <= 0 means 1. Takes effect from the next call.
void rlog_client_set_retry (rlog_client_t *self, int retry_ms, int retries);

//  Append SIZE bytes at DATA (copied; 1..the node's --max-msg, 1 MiB by
//  default) with write concern W: the call returns RLOG_OK once the master
//  and W-1 secondaries hold the entry. TIMEOUT_MS 0 waits as long as it
//  takes; otherwise the master answers RLOG_TIMEOUT after that long, with
//  RESULT->seq set and RESULT->acks < W: the entry is stored and keeps
//  replicating (not rolled back). RESULT may be NULL; it is zeroed first and
//  filled whenever the master answered.
//
//  Blocks until the master answers; a live master waiting for W keeps the
//  call waiting however long that takes. A lost reply is retried with the
//  same request id, so the master answers with the original seq and never
//  stores the entry twice.
//
//  Returns RLOG_OK; RLOG_TIMEOUT (stored, see above); a refusal, nothing
//  stored: RLOG_READ_ONLY, RLOG_BAD_W, RLOG_TOO_LARGE, RLOG_NOT_MASTER (sent
//  to a secondary), RLOG_BUSY, RLOG_STALE, RLOG_INTERNAL; client-side:
//  RLOG_EMPTY (DATA NULL or SIZE 0), RLOG_INVALID (W < 1 or TIMEOUT_MS < 0),
//  RLOG_UNREACHABLE (no reply after the retry budget: the entry may or may
//  not be stored), RLOG_MALFORMED (the reply made no sense).
int rlog_client_append (rlog_client_t *self, const void *data, size_t size, int w, int timeout_ms,
                        rlog_append_result_t *result);

//  Called for each listed entry, in seq order. DATA points into the reply
//  being read: valid only during the call, not NUL-terminated, may contain
//  any bytes. Return 0 to go on, non-zero to stop listing.
typedef int (rlog_entry_fn) (uint64_t seq, const void *data, size_t size, void *arg);

//  Call FN(seq, data, size, ARG) for the entries FROM seq on (0 or 1 = from
//  the start), at most LIMIT of them (0 = up to the node's head), out of the
//  node's gap-free prefix. Works on any node. Fetches page by page (at most
//  4096 entries / ~4 MiB per reply), so memory stays bounded however long
//  the log is; the node's head may grow while it runs, and the listing
//  follows it to wherever the head is when a page comes back empty.
//
//  Blocks until done. Returns RLOG_OK also when FN stopped it early or
//  FROM is past the head (FN never called); RLOG_INVALID if FN is NULL;
//  RLOG_UNREACHABLE after the retry budget (FN may have seen some entries:
//  resume from the last seq + 1); RLOG_MALFORMED on a reply that does not
//  match the request.
int rlog_client_list (rlog_client_t *self, uint64_t from, uint64_t limit, rlog_entry_fn *fn,
                      void *arg);

//  Copy the node's view of itself and its peers into STATUS (caller-owned;
//  about 5 KiB, so it may live on the stack). Works on any node. Blocks for
//  one round trip; RLOG_UNREACHABLE after the retry budget, RLOG_INVALID if
//  STATUS is NULL.
int rlog_client_status (rlog_client_t *self, rlog_status_t *status);

//  Detail text of the last failed call on this client ("" after a success).
//  Owned by the client: valid until its next call or destroy.
const char *rlog_client_error (rlog_client_t *self);

//  --------------------------------------------------------------------------
//  Pipelined appends: one DEALER keeps many appends in flight. Submit never
//  waits for earlier appends; completions come back as they are answered
//  (w=1 at once, higher w when their write concern is met), each tagged
//  with the request id submit returned. The node appends in submission
//  order. Not retried: a caller that wants exactly-once across a lost
//  connection resubmits with rlog_pipeline_resubmit, keeping the appends in
//  flight within the master's dedup window (the last 1024 request ids).

typedef struct _rlog_pipeline_t rlog_pipeline_t;

typedef struct {
    uint64_t req_id; //  as returned by submit; 0 for an ERROR that cannot
                     //  name its request (the node could not decode it)
    int code;        //  rlog_err_t, with the meaning it has for append
    uint64_t seq;    //  0 if not appended
    uint32_t acks;   //  nodes known to hold it when answered
} rlog_completion_t;

//  Connect a pipeline to ENDPOINT (copied), to append with write concern W
//  and TIMEOUT_MS (as for rlog_client_append) every append submitted.
//  Connecting is asynchronous: a node that is down shows up as missing
//  completions. Returns NULL on a bad endpoint, W < 1, TIMEOUT_MS < 0 or out
//  of memory. Free it with rlog_pipeline_destroy.
rlog_pipeline_t *rlog_pipeline_new (const char *endpoint, int w, int timeout_ms);

//  As rlog_pipeline_new, over CURVE with the certificates of
//  rlog_client_set_curve. NULL also when a certificate cannot be loaded;
//  the reason goes to ERR (ERR_SIZE bytes; ERR may be NULL).
rlog_pipeline_t *rlog_pipeline_new_curve (const char *endpoint, int w, int timeout_ms,
                                          const char *cert_path, const char *server_cert_path,
                                          char *err, size_t err_size);

//  Close the connection (appends still queued are dropped, answers not yet
//  collected are lost), free it and set *SELF_P to NULL. Safe on NULL.
void rlog_pipeline_destroy (rlog_pipeline_t **self_p);

//  Queue one append of SIZE bytes at DATA (copied). Never blocks. Returns
//  its request id (1, 2, 3, ... in submission order), or 0 if DATA is empty
//  or the socket cannot take more right now (collect, then submit again).
uint64_t rlog_pipeline_submit (rlog_pipeline_t *self, const void *data, size_t size);

//  Send DATA again under an earlier REQ_ID (idempotent retry): the master
//  answers with the seq it gave the first time, or appends it if it never
//  got it. Counts as one more in flight. Never blocks. 0, or -1 if REQ_ID
//  was never issued, DATA is empty or the socket is full.
int rlog_pipeline_resubmit (rlog_pipeline_t *self, uint64_t req_id, const void *data, size_t size);

//  Wait up to WAIT_MS (0 = do not wait, -1 = forever) for at least one
//  completion, then store up to MAX that are ready in OUT (caller-owned,
//  MAX entries). Returns how many; 0 when none came in time or a signal
//  interrupted the wait.
size_t rlog_pipeline_collect (rlog_pipeline_t *self, int wait_ms, rlog_completion_t *out,
                              size_t max);

//  The node's text for OUT[INDEX] of the last collect ("w=4 is outside
//  1..3 (master + 2 secondaries)", "timed out: stored on 1 of 2 nodes");
//  "" when it gave none or INDEX is out of range. Owned by the pipeline:
//  valid until the next collect or destroy.
const char *rlog_pipeline_detail (rlog_pipeline_t *self, size_t index);

//  Appends submitted (and resubmitted) and not yet completed.
size_t rlog_pipeline_in_flight (rlog_pipeline_t *self);

#ifdef __cplusplus
}
#endif

#endif
