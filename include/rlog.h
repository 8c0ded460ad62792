/*  rlog.h - librlog, the client library of rlog: a replicated, totally
    ordered, exactly-once message log on ZeroMQ.

    Link with -lrlog (pkg-config: rlog). Three kinds of client:

    * rlog_client_t: synchronous calls (append, list, status). Each call
      blocks the calling thread only, until the node answers or the retry
      budget runs out. Lost replies are retried on a fresh socket under the
      same request id, so an append is stored once however often it is sent.
    * rlog_pipeline_t: many appends in flight on one connection, packed into
      batches, for throughput. Submit never waits; completions are
      collected later.
    * rlog_bulk_t: a pipeline with a window, resending and a callback per
      append: hand it appends one by one, it keeps WINDOW of them in flight,
      resends what goes unanswered and gives up when the cluster is silent.
      What logcli's `append -` is made of.

    Endpoints: every constructor takes one node endpoint ("tcp://a:5555")
    or a comma-separated list of a cluster's nodes ("tcp://a:5555,tcp://b:
    5555,tcp://c:5555"; at most 16, each under 256 bytes). Calls start with
    the first; appends go to the master: a secondary answers NOT_MASTER
    naming the master's client endpoint when it knows it, and the library
    moves there (else to the next endpoint of the list) and resends under
    the same ids. A silent node makes the library try the next endpoint.

    Exactly once: the master issues each client its id (a session, opened
    by the first append) and remembers the request ids it appended. A
    retry under the same (client id, request id) gets the original seq. A
    master that does not know the client id (it forgot it, or a new master
    never had the client's entries) answers STALE: for a request the client
    never sent before, the library opens a new session and sends it once
    more; for one it did send before, it reports RLOG_STALE (the outcome is
    unknown: it may be stored).

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
      NOT_MASTER, BUSY, INTERNAL) store nothing; RLOG_TIMEOUT means the
      entry is stored and stays; RLOG_UNREACHABLE and RLOG_STALE after an
      append mean it may or may not have been stored.
    * Security: against nodes started with CURVE keys, call
      rlog_client_set_curve (or rlog_bulk_set_curve, or use
      rlog_pipeline_new_curve) first.
    * Signals: the library runs on czmq, which catches SIGINT and SIGTERM
      when the first client is created (set ZSYS_SIGHANDLER=false before
      that to keep your own handlers). Once one has arrived, a blocking call
      returns RLOG_UNREACHABLE with a detail that starts with "interrupted"
      and says whether an append may already be stored.
    * Symbols: the library exports only rlog_* names (RLOG_EXPORT below).

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

//  The library is built with -fvisibility=hidden -DRLOG_BUILDING: only the
//  functions marked here are exported.
#if defined(RLOG_BUILDING)
#define RLOG_EXPORT __attribute__ ((visibility ("default")))
#else
#define RLOG_EXPORT
#endif

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
    RLOG_STALE = 11,         //  the master cannot tell if it has the request
    RLOG_UNREACHABLE = 12,   //  client side: no answer from the endpoint
    RLOG_INTERNAL = 13,      //  node-side failure (out of memory, ...)
    RLOG_INVALID = 14,       //  client side: bad argument
    RLOG_REFUSED = 15,       //  peer refused (unknown node, cluster full)
    RLOG_OTHER_HISTORY = 16, //  peer holds another history than the master's
    RLOG_ERR_MAX = 17
} rlog_err_t;

//  Static English text for an error code ("read-only: not enough healthy
//  nodes"); "unknown error" outside the enum. Never NULL, never freed.
RLOG_EXPORT const char *rlog_strerror (int code);

//  Largest number of secondaries (peers) a status reply describes: the
//  protocol's limit too (PROTO_STATUS_PEERS_MAX; client.c checks they agree).
#define RLOG_MAX_SECONDARIES 32

//  One of the other nodes, as the node asked sees it.
typedef struct {
    char id[64];
    char role[16];         //  "secondary", "master", "candidate", "unknown"
    char state[16];        //  "healthy", "suspected", "unhealthy"
    uint64_t acked;        //  highest seq it holds with no gap
    uint64_t lag;          //  master head - acked
    int64_t last_heard_ms; //  ms since the node asked last heard it; -1 never
    bool catching_up;      //  it is fetching a range it lacks
    uint64_t last_epoch;   //  epoch of its last entry, as it last said
} rlog_secondary_status_t;

typedef struct {
    char role[16];           //  "master" or "secondary" (or "candidate")
    char node_id[64];        //  secondary id, "master" for the master
    uint64_t epoch;          //  master's epoch (as known to a secondary)
    uint64_t head;           //  last seq of this node's gap-free prefix
    uint64_t last_epoch;     //  epoch of this node's last entry
    char history[33];        //  history id, 32 hex digits; "" before the first
    char mode[16];           //  master: "read-write" or "read-only"; secondary:
                             //  "following", "catching-up" or "disconnected"
    char reason[256];        //  why read-only (or not following); empty otherwise
    uint32_t nodes;          //  master + configured secondaries
    uint32_t healthy;        //  master + healthy secondaries
    uint32_t quorum;         //  healthy nodes needed for appends
    uint32_t waiting;        //  appends parked for their write concern
    char leader[64];         //  node id of the master, "" if unknown
    char leader_client[256]; //  the master's client endpoint, "" if unknown
    size_t secondary_count;
    rlog_secondary_status_t secondaries[RLOG_MAX_SECONDARIES];
    //  Secondary role only
    char master[256]; //  the master endpoint it follows (its peer socket)
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
//  endpoint of a node's client socket, or a comma-separated list of them
//  (see "Endpoints" above). The string is copied. No traffic and no socket
//  until the first call, so a node that is down is only noticed then.
//  Returns NULL if ENDPOINT is NULL, an endpoint has no "://" or is 256
//  bytes or longer, there are more than 16, or memory runs out. Free it
//  with rlog_client_destroy.
RLOG_EXPORT rlog_client_t *rlog_client_new (const char *endpoint);

//  Close the client's socket, free it and set *SELF_P to NULL. Safe on NULL
//  and on a pointer to NULL. Never blocks (sockets close with linger 0).
RLOG_EXPORT void rlog_client_destroy (rlog_client_t **self_p);

//  Talk CURVE to nodes started with CURVE keys: authenticate with the
//  certificate CERT_PATH (the files CERT_PATH and CERT_PATH_secret, as
//  written by `logcli keygen`) and accept only the node whose public
//  certificate is the file SERVER_CERT_PATH. Both files are read now; the
//  keys are used from the next call on. Returns RLOG_OK, or RLOG_INVALID
//  (a file missing or not a certificate, or a libzmq without CURVE) with
//  the reason in rlog_client_error, and the client unchanged. A node that
//  does not allow this key, or a wrong server key, never answers: calls then
//  end RLOG_UNREACHABLE after the retry budget.
RLOG_EXPORT int rlog_client_set_curve (rlog_client_t *self, const char *cert_path,
                                       const char *server_cert_path);

//  Lost-reply handling: wait RETRY_MS for each reply, then retry. Appends
//  probe the node with a STATUS on a second socket after a silence: a live
//  node means the append is waiting for its write concern, so the client
//  keeps waiting (resending the same request id); RETRIES silent probes in a
//  row give RLOG_UNREACHABLE. List and status give RLOG_UNREACHABLE after
//  RETRIES unanswered tries. With several endpoints, each silent try moves
//  to the next one. Defaults 1000 ms and 3; RETRY_MS <= 0 means 1000,
//  RETRIES <= 0 means 1. Takes effect from the next call.
RLOG_EXPORT void rlog_client_set_retry (rlog_client_t *self, int retry_ms, int retries);

//  Append SIZE bytes at DATA (copied; 1..the node's --max-msg, 1 MiB by
//  default) with write concern W: the call returns RLOG_OK once the master
//  and W-1 secondaries hold the entry. TIMEOUT_MS 0 waits as long as it
//  takes; otherwise the master answers RLOG_TIMEOUT after that long, with
//  RESULT->seq set and RESULT->acks < W: the entry is stored and keeps
//  replicating (not rolled back). RESULT may be NULL; it is zeroed first and
//  filled whenever the master answered.
//
//  The first append opens a session (the master issues the client id).
//  Blocks until the master answers; a live master waiting for W keeps the
//  call waiting however long that takes. A lost reply is retried with the
//  same request id, so the master answers with the original seq and never
//  stores the entry twice; NOT_MASTER is followed to the master it names.
//
//  Returns RLOG_OK; RLOG_TIMEOUT (stored, see above); a refusal, nothing
//  stored: RLOG_READ_ONLY, RLOG_BAD_W, RLOG_TOO_LARGE, RLOG_NOT_MASTER (no
//  endpoint led to the master), RLOG_BUSY, RLOG_INTERNAL; RLOG_STALE (the
//  master forgot this client while the append was unanswered: it may or
//  may not be stored); client-side: RLOG_EMPTY (DATA NULL or SIZE 0),
//  RLOG_INVALID (W < 1 or TIMEOUT_MS < 0), RLOG_UNREACHABLE (no reply
//  after the retry budget, or interrupted: the detail says whether the
//  entry may be stored), RLOG_MALFORMED (the reply made no sense).
RLOG_EXPORT int rlog_client_append (rlog_client_t *self, const void *data, size_t size, int w,
                                    int timeout_ms, rlog_append_result_t *result);

//  Called for each listed entry, in seq order. DATA points into the reply
//  being read: valid only during the call, not NUL-terminated, may contain
//  any bytes. Return 0 to go on, non-zero to stop listing.
typedef int (rlog_entry_fn) (uint64_t seq, const void *data, size_t size, void *arg);

//  Call FN(seq, data, size, ARG) for the entries FROM seq on (0 or 1 = from
//  the start), at most LIMIT of them (0 = up to the node's head), out of the
//  node's gap-free prefix. Works on any node (the first endpoint that
//  answers). Fetches page by page (at most 4096 entries / ~256 KiB per
//  reply), so memory stays bounded however long the log is; the node's head
//  may grow while it runs, and the listing follows it to wherever the head
//  is when a page comes back empty. The empty entry a new master appends
//  first in its epoch (an epoch marker) takes a seq but is no message: FN
//  never sees it, and LIMIT counts messages only.
//
//  Blocks until done. Returns RLOG_OK also when FN stopped it early or
//  FROM is past the head (FN never called); RLOG_INVALID if FN is NULL;
//  RLOG_UNREACHABLE after the retry budget (FN may have seen some entries:
//  resume from the last seq + 1); RLOG_MALFORMED on a reply that does not
//  match the request; the node's code if it refused.
RLOG_EXPORT int rlog_client_list (rlog_client_t *self, uint64_t from, uint64_t limit,
                                  rlog_entry_fn *fn, void *arg);

//  Copy the node's view of itself and its peers into STATUS (caller-owned;
//  about 5.5 KiB, so it may live on the stack). Works on any node (the first
//  endpoint that answers). Blocks for one round trip; RLOG_UNREACHABLE
//  after the retry budget, RLOG_INVALID if STATUS is NULL.
RLOG_EXPORT int rlog_client_status (rlog_client_t *self, rlog_status_t *status);

//  Detail text of the last failed call on this client ("" after a success).
//  Owned by the client: valid until its next call or destroy.
RLOG_EXPORT const char *rlog_client_error (rlog_client_t *self);

//  --------------------------------------------------------------------------
//  Pipelined appends: one DEALER keeps many appends in flight. Submit never
//  waits for earlier appends; completions come back as they are answered
//  (w=1 at once, higher w when their write concern is met), one per append,
//  each tagged with the request id submit returned. The node appends in
//  submission order.
//
//  Batches: appends travel in APPEND_BATCH frames. Submit adds an append to
//  the open batch; the batch goes out when it reaches its entry or byte
//  limit (rlog_pipeline_set_batch), at rlog_pipeline_collect or
//  rlog_pipeline_flush, or at a submit or collect once the linger time has
//  passed since it opened (rlog_pipeline_set_linger; default 0: no waiting,
//  so the usual loop "submit until the window is full, then collect" sends
//  full batches by itself, and a caller that collects after each submit
//  sends batches of one with no added latency).
//
//  Session: the pipeline asks the master for a client id as soon as it is
//  created; appends submitted before the answer wait for it. A node that
//  does not answer within the retry time (rlog_pipeline_set_retry) is asked
//  again, trying the next endpoint of the list.
//
//  What the pipeline retries by itself: batches refused with NOT_MASTER go
//  to the master named (with every batch still in flight), and a batch
//  the master refuses as STALE because it does not know the client goes
//  once more under a new client id if it was never sent before. Lost
//  replies are not retried: a caller that wants exactly-once across a lost
//  connection resubmits with rlog_pipeline_resubmit, keeping the appends
//  in flight within the master's dedup window (65,536 request ids per
//  client) - or uses rlog_bulk_t, which does that.

typedef struct _rlog_pipeline_t rlog_pipeline_t;

typedef struct {
    uint64_t req_id; //  as returned by submit; 0 for an ERROR that cannot
                     //  name its request (the node could not decode it)
    int code;        //  rlog_err_t, with the meaning it has for append
    uint64_t seq;    //  0 if not appended
    uint32_t acks;   //  nodes known to hold it when answered
} rlog_completion_t;

//  Connect a pipeline to ENDPOINT (one, or a list; copied), to append with
//  write concern W and TIMEOUT_MS (as for rlog_client_append) every append
//  submitted. Connecting is asynchronous: a node that is down shows up as
//  missing completions. Returns NULL on a bad endpoint, W < 1, TIMEOUT_MS
//  < 0 or out of memory. Free it with rlog_pipeline_destroy.
RLOG_EXPORT rlog_pipeline_t *rlog_pipeline_new (const char *endpoint, int w, int timeout_ms);

//  As rlog_pipeline_new, over CURVE with the certificates of
//  rlog_client_set_curve. NULL also when a certificate cannot be loaded;
//  the reason goes to ERR (ERR_SIZE bytes; ERR may be NULL).
RLOG_EXPORT rlog_pipeline_t *rlog_pipeline_new_curve (const char *endpoint, int w, int timeout_ms,
                                                      const char *cert_path,
                                                      const char *server_cert_path, char *err,
                                                      size_t err_size);

//  Close the connection (appends still queued are dropped, answers not yet
//  collected are lost), free it and set *SELF_P to NULL. Safe on NULL.
RLOG_EXPORT void rlog_pipeline_destroy (rlog_pipeline_t **self_p);

//  Batch limits: a batch goes out once it holds MAX_ENTRIES appends or
//  MAX_BYTES bytes of entries (an append larger than MAX_BYTES goes alone).
//  0 keeps the default (256 entries, 256 KiB: a window of a thousand appends
//  is then four batches in flight, which overlap on the wire and at the
//  secondaries, where one batch of a thousand would wait for a whole round
//  trip before the next is sent). Never above the protocol's
//  4096 entries nor the node's limit (said when the session opens); 1 entry
//  sends every append in its own frame. Applies to batches opened from now.
RLOG_EXPORT void rlog_pipeline_set_batch (rlog_pipeline_t *self, size_t max_entries,
                                          size_t max_bytes);

//  Let a batch wait up to LINGER_MS for more appends before a submit sends
//  it (as Kafka's linger.ms): fewer, fuller frames at low rates, at the
//  cost of that much latency. 0 (the default) or less: no waiting.
RLOG_EXPORT void rlog_pipeline_set_linger (rlog_pipeline_t *self, int linger_ms);

//  How long to wait for the node to answer the session's OPEN before
//  asking again, at the next endpoint of the list (default 1000 ms; <= 0
//  means 1000).
RLOG_EXPORT void rlog_pipeline_set_retry (rlog_pipeline_t *self, int retry_ms);

//  Queue one append of SIZE bytes at DATA (copied). Never blocks. Returns
//  its request id (1, 2, 3, ... in submission order), or 0 if DATA is empty
//  or too many appends wait to be sent (65,536: collect, then submit
//  again). An append above the node's --max-msg completes RLOG_TOO_LARGE
//  without being sent, once the node has said its limit.
RLOG_EXPORT uint64_t rlog_pipeline_submit (rlog_pipeline_t *self, const void *data, size_t size);

//  Send DATA again under an earlier REQ_ID (idempotent retry): the master
//  answers with the seq it gave the first time, or appends it if it never
//  got it. Counts as one more in flight. Never blocks; resubmits of
//  consecutive ids share batches, and go after the batch open before them.
//  0, or -1 if REQ_ID was never issued, DATA is empty or too many appends
//  wait to be sent.
RLOG_EXPORT int rlog_pipeline_resubmit (rlog_pipeline_t *self, uint64_t req_id, const void *data,
                                        size_t size);

//  Send the open batch now, with any batch waiting for room on the socket.
//  Never blocks. RLOG_OK when every append submitted has gone to the
//  socket; RLOG_BUSY when some still wait (the session is not open yet, or
//  the socket is full): a later submit, collect or flush sends them.
RLOG_EXPORT int rlog_pipeline_flush (rlog_pipeline_t *self);

//  Send the open batch (as flush), wait up to WAIT_MS (0 = do not wait, -1 =
//  forever) for at least one completion, then store up to MAX that are
//  ready in OUT (caller-owned, MAX entries). A batch's reply becomes one
//  completion per append, over as many collects as MAX requires. Returns
//  how many; 0 when none came in time or a signal interrupted the wait.
RLOG_EXPORT size_t rlog_pipeline_collect (rlog_pipeline_t *self, int wait_ms,
                                          rlog_completion_t *out, size_t max);

//  The node's text for OUT[INDEX] of the last collect ("w=4 is outside
//  1..3 (master + 2 secondaries)", "timed out: stored on 1 of 2 nodes");
//  "" when it gave none or INDEX is out of range. Owned by the pipeline:
//  valid until the next collect or destroy.
RLOG_EXPORT const char *rlog_pipeline_detail (rlog_pipeline_t *self, size_t index);

//  Appends submitted (and resubmitted) and not yet completed.
RLOG_EXPORT size_t rlog_pipeline_in_flight (rlog_pipeline_t *self);

//  --------------------------------------------------------------------------
//  Bulk appends: a window of appends in flight over a pipeline, resent
//  under the same request ids when the cluster goes silent, one callback
//  per append. For feeding a log from a stream (logcli append -, loaders,
//  test drivers): exactly once within the run, however often it resends.
//
//  rlog_bulk_append hands over one append; it returns at once while the
//  window has room, else it collects answers (calling the callback) until
//  there is. Appends go out in batches of up to half the window, and at
//  every rlog_bulk_poll and rlog_bulk_finish: a caller that appends
//  slowly (lines from a terminal) calls rlog_bulk_poll now and then.
//
//  Silence: when no answer came for RETRY_MS while appends are in flight,
//  the node is probed with a STATUS on a second socket. A live node that
//  holds appends parked for their write concern keeps the run waiting; a
//  live node holding none has lost them (a dropped connection) and a
//  silent one may have died: either way every append in flight is resent,
//  oldest first, under its request id (a silent node's turn passes to the
//  next endpoint of the list). After RETRIES silent probes in a row, or
//  RETRIES + 1 rounds in a row where a live node held none of them, the
//  run gives up: every append in flight completes RLOG_UNREACHABLE (it may
//  or may not be stored).

typedef struct _rlog_bulk_t rlog_bulk_t;

//  The outcome of one append.
typedef struct {
    uint64_t tag;       //  as passed to rlog_bulk_append
    int code;           //  rlog_err_t, with the meaning it has for append
    uint64_t seq;       //  0 if not appended
    uint32_t acks;      //  nodes known to hold it when answered
    const char *detail; //  the node's or the library's text, "" if none;
                        //  valid during the callback only
} rlog_bulk_result_t;

//  Called once per append, from inside rlog_bulk_append, rlog_bulk_poll or
//  rlog_bulk_finish, in the order answers arrive (not necessarily the
//  order of the appends). It must not call the rlog_bulk_t back.
typedef void (rlog_bulk_fn) (const rlog_bulk_result_t *result, void *arg);

//  A bulk appender to ENDPOINT (one, or a list; copied) with write concern
//  W and TIMEOUT_MS (as for rlog_client_append) for every append, at most
//  WINDOW (1..65536) appends in flight, FN(result, ARG) per append. No
//  traffic until the first append. NULL on a bad endpoint, W < 1,
//  TIMEOUT_MS < 0, WINDOW out of range, FN NULL or out of memory. Free it
//  with rlog_bulk_destroy.
RLOG_EXPORT rlog_bulk_t *rlog_bulk_new (const char *endpoint, int w, int timeout_ms, size_t window,
                                        rlog_bulk_fn *fn, void *arg);

//  CURVE, as rlog_client_set_curve; only before the first append.
//  RLOG_OK, or RLOG_INVALID with the reason in rlog_bulk_error (also when
//  appends were made already).
RLOG_EXPORT int rlog_bulk_set_curve (rlog_bulk_t *self, const char *cert_path,
                                     const char *server_cert_path);

//  Silence handling (see above): defaults 1000 ms and 3; RETRY_MS <= 0
//  means 1000, RETRIES <= 0 means 1.
RLOG_EXPORT void rlog_bulk_set_retry (rlog_bulk_t *self, int retry_ms, int retries);

//  Hand over SIZE bytes at DATA (copied) under the caller's TAG. Blocks
//  while the window is full. Returns RLOG_OK when the append was taken:
//  its outcome comes through the callback, exactly once. Not taken (no
//  callback for it): RLOG_EMPTY (DATA NULL or SIZE 0); RLOG_UNREACHABLE
//  when, waiting for room, the run gave up (the appends in flight got
//  their callbacks) or a signal interrupted it (they stay in flight), the
//  reason in rlog_bulk_error; RLOG_INTERNAL out of memory.
RLOG_EXPORT int rlog_bulk_append (rlog_bulk_t *self, const void *data, size_t size, uint64_t tag);

//  Send what waits, take the answers that came (up to WAIT_MS for a first
//  one: 0 = do not wait) and deal with a silence. RLOG_OK, or
//  RLOG_UNREACHABLE when the run gave up or was interrupted (as above).
RLOG_EXPORT int rlog_bulk_poll (rlog_bulk_t *self, int wait_ms);

//  Wait until every append taken has its callback. RLOG_OK, or
//  RLOG_UNREACHABLE when the run gave up (their callbacks said so) or a
//  signal interrupted the wait (rlog_bulk_in_flight says how many are left
//  without an answer; rlog_bulk_error says they may be stored).
RLOG_EXPORT int rlog_bulk_finish (rlog_bulk_t *self);

//  Appends taken and not yet called back.
RLOG_EXPORT size_t rlog_bulk_in_flight (rlog_bulk_t *self);

//  Why the last call that failed did ("" if none did). Owned by the bulk
//  appender: valid until its next call or destroy.
RLOG_EXPORT const char *rlog_bulk_error (rlog_bulk_t *self);

//  Close the connection and free it; appends still in flight get no
//  callback. Sets *SELF_P to NULL; safe on NULL.
RLOG_EXPORT void rlog_bulk_destroy (rlog_bulk_t **self_p);

#ifdef __cplusplus
}
#endif

#endif
