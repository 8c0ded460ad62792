/*  proto.h - rlog frame codec, protocol version 2.

    Every frame is one msgpack array [version, type, fields...]; each message
    is declared once, in the table in proto.c (name, socket, fields with
    their kinds and bounds), and encoding, decoding, element counts and
    validation all come from that table. docs/PROTOCOL.md lists the same.

    Decoding happens in place, in one pass, with a bounds-checked msgpack
    reader (mpr.h): no object tree, no allocation on the hot path. Every
    length is checked against the bytes that remain before it is used,
    containers nest at most 8 deep, a frame is exactly one value. Decoded
    pointers (client ids, payloads, record and entry sections, texts) borrow
    the input frame; lists (LIST_REPLY payloads, APPEND_BATCH_REPLY
    exceptions) and the status go to decoder-owned storage reused by the
    next decode.

    Record sections (BATCH, FILL) and entry sections (APPEND_BATCH) are
    msgpack bins whose contents follow record.h; proto checks only that they
    are bins within bounds: record_check, at the receiver, checks their
    insides once.

    Messages (type: fields after version and type):

    client -> node (client ROUTER)
      1  APPEND        client_id bin(16), req_id, w, timeout_ms, payload bin
      2  LIST          from, limit
      3  STATUS
      4  OPEN
      5  APPEND_BATCH  client_id bin(16), first_req, w, timeout_ms, count, entries bin
    node -> client
      40 APPEND_REPLY  req_id, code, seq, acks, w, text str(0..255), leader str(0..255)
      41 LIST_REPLY    code, head, first_seq, payloads [bin...]
      42 STATUS_REPLY  code, status map
      43 OPEN_REPLY    code, client_id bin(0|16), max_msg, max_batch, text, leader
      45 APPEND_BATCH_REPLY  first_req, count, code, first_seq, acks, w, text, leader,
                       exceptions [[index, code, seq]...]
      49 ERROR         code, text
    master PUB -> followers
      10 BATCH         epoch, records bin
      11 HEARTBEAT     epoch, head, history bin(16), leader_id str(0..63)
    follower DEALER -> master peer ROUTER
      20 HELLO         node_id str(1..63), history bin(0|16), last_epoch, last_seq,
                       last_crc, epoch
      21 ACK           epoch, acked
      22 FETCH         epoch, from, count
      23 VOTE_REQUEST  epoch, node_id, last_epoch, last_seq
    master peer ROUTER -> follower
      30 WELCOME       epoch, history bin(16), head, truncate_to, at_epoch, at_crc,
                       leader str(0..255)
      31 FILL          epoch, records bin
      32 VOTE          epoch, node_id, granted bool
      49 ERROR

    All integers are unsigned (uint64) unless noted; codes are rlog_err_t,
    CRCs (last_crc, at_crc) 32-bit.
*/
#ifndef PROTO_H_INCLUDED
#define PROTO_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 2

typedef enum {
    PROTO_APPEND = 1,
    PROTO_LIST = 2,
    PROTO_STATUS = 3,
    PROTO_OPEN = 4,
    PROTO_APPEND_BATCH = 5,
    PROTO_BATCH = 10,
    PROTO_HEARTBEAT = 11,
    PROTO_HELLO = 20,
    PROTO_ACK = 21,
    PROTO_FETCH = 22,
    PROTO_VOTE_REQUEST = 23,
    PROTO_WELCOME = 30,
    PROTO_FILL = 31,
    PROTO_VOTE = 32,
    PROTO_APPEND_REPLY = 40,
    PROTO_LIST_REPLY = 41,
    PROTO_STATUS_REPLY = 42,
    PROTO_OPEN_REPLY = 43,
    PROTO_APPEND_BATCH_REPLY = 45,
    PROTO_ERROR = 49
} proto_type_t;

//  Epochs are below 2^62, so that a node can always take the next one
//  (a larger value is MALFORMED).
#define PROTO_EPOCH_MAX      ((uint64_t)1 << 62)
#define PROTO_CLIENT_ID_SIZE 16 //  client ids are issued by the master (OPEN)
#define PROTO_HISTORY_SIZE   16 //  history identities
#define PROTO_NODE_ID_MAX    63
#define PROTO_TEXT_MAX       255
#define PROTO_ENDPOINT_MAX   255
//  LIST_REPLY: at most this many payloads, this many payload bytes
#define PROTO_LIST_MAX_ENTRIES 4096
#define PROTO_LIST_MAX_BYTES   (256 * 1024)
//  APPEND_BATCH: at most this many entries per frame
#define PROTO_BATCH_MAX_ENTRIES 4096
//  APPEND_BATCH_REPLY: exceptions listed at most (= entries per batch)
#define PROTO_EXCEPTIONS_MAX PROTO_BATCH_MAX_ENTRIES
//  Peers listed in a status reply
#define PROTO_STATUS_PEERS_MAX 32

//  One entry of an APPEND_BATCH_REPLY that is not "new, at the next seq".
typedef struct {
    uint32_t index; //  0-based position in the batch
    uint32_t code;  //  rlog_err_t: OK (a duplicate, at SEQ) or a refusal
    uint64_t seq;   //  the original seq of a duplicate; 0 for a refusal
} proto_exception_t;

//  A payload of a LIST_REPLY.
typedef struct {
    const uint8_t *data;
    size_t size;
} proto_payload_t;

//  The status of a node as it travels (not the public rlog_status_t: the
//  client library converts). Strings are NUL-terminated, cut to their size.
typedef struct {
    char id[PROTO_NODE_ID_MAX + 1];
    char role[16];  //  "master", "secondary", "candidate", "unknown"
    char state[16]; //  "healthy", "suspected", "unhealthy"
    uint64_t acked;
    uint64_t lag;
    int64_t last_heard_ms; //  -1: never
    bool catching_up;
    uint64_t last_epoch; //  epoch of its last entry, as it last said
} proto_peer_status_t;

typedef struct {
    char role[16];
    char node_id[PROTO_NODE_ID_MAX + 1];
    uint64_t epoch;
    uint64_t head;
    uint64_t last_epoch; //  epoch of this node's last entry
    char mode[16];
    char reason[PROTO_TEXT_MAX + 1];
    char history[2 * PROTO_HISTORY_SIZE + 1]; //  hex, "" if none yet
    uint32_t nodes;
    uint32_t healthy;
    uint32_t quorum;
    uint64_t waiting;
    uint64_t max_msg;
    char leader[PROTO_NODE_ID_MAX + 1];         //  id of the master, "" unknown
    char leader_client[PROTO_ENDPOINT_MAX + 1]; //  its client endpoint, "" unknown
    size_t peer_count;
    proto_peer_status_t peers[PROTO_STATUS_PEERS_MAX];
    //  follower side
    char master_peer[PROTO_ENDPOINT_MAX + 1]; //  the endpoint it follows
    bool master_reachable;
    int64_t master_last_heard_ms; //  -1: never
    uint64_t master_head;
    uint64_t held_back;
    uint64_t duplicates;
} proto_status_t;

//  A decoded frame. Only the fields of its type are set; the rest are 0
//  (texts empty: only their first byte is cleared).
typedef struct {
    int type;
    uint64_t epoch;           //  BATCH FILL HEARTBEAT ACK FETCH WELCOME VOTE* HELLO (highest seen)
    uint64_t head;            //  HEARTBEAT WELCOME LIST_REPLY
    uint64_t req_id;          //  APPEND APPEND_REPLY; APPEND_BATCH(_REPLY): first_req
    bool req_id_known;        //  set as soon as req_id decoded, even if a later field fails
    uint64_t w;               //  APPEND APPEND_BATCH *_REPLY
    uint64_t timeout_ms;      //  APPEND APPEND_BATCH
    uint64_t count;           //  APPEND_BATCH(_REPLY) entries; LIST limit; FETCH credit
    uint64_t from;            //  LIST FETCH
    uint64_t seq;             //  APPEND_REPLY seq; *_BATCH_REPLY first_seq; LIST_REPLY first_seq
    uint64_t acks;            //  *_REPLY
    uint64_t acked;           //  ACK
    uint64_t code;            //  replies, ERROR
    uint64_t last_epoch;      //  HELLO VOTE_REQUEST
    uint64_t last_seq;        //  HELLO VOTE_REQUEST
    uint64_t last_crc;        //  HELLO
    uint64_t truncate_to;     //  WELCOME
    uint64_t at_epoch;        //  WELCOME
    uint64_t at_crc;          //  WELCOME
    uint64_t max_msg;         //  OPEN_REPLY
    uint64_t max_batch;       //  OPEN_REPLY
    bool granted;             //  VOTE
    const uint8_t *client_id; //  APPEND APPEND_BATCH OPEN_REPLY
    size_t client_id_size;
    const uint8_t *history; //  HELLO WELCOME HEARTBEAT
    size_t history_size;
    const uint8_t *data; //  APPEND payload; APPEND_BATCH entries; BATCH FILL records
    size_t size;
    char node_id[PROTO_NODE_ID_MAX + 1]; //  HELLO VOTE_REQUEST VOTE HEARTBEAT(leader_id)
    char text[PROTO_TEXT_MAX + 1];       //  replies, ERROR
    char leader[PROTO_ENDPOINT_MAX + 1]; //  replies, WELCOME: the master's client endpoint
    const proto_payload_t *payloads;     //  LIST_REPLY (decoder-owned)
    size_t payload_count;
    const proto_exception_t *exceptions; //  APPEND_BATCH_REPLY (decoder-owned)
    size_t exception_count;
    const proto_status_t *status; //  STATUS_REPLY (decoder-owned)
} proto_msg_t;

typedef struct _proto_decoder_t proto_decoder_t;

//  MAX_PAYLOAD bounds one payload (APPEND, LIST_REPLY entries); a larger
//  APPEND payload decodes as RLOG_TOO_LARGE (with req_id_known set).
proto_decoder_t *proto_decoder_new (size_t max_payload);
void proto_decoder_destroy (proto_decoder_t **self_p);

//  Decode one frame into MSG. Returns RLOG_OK, or RLOG_MALFORMED,
//  RLOG_BAD_VERSION, RLOG_UNKNOWN_TYPE, RLOG_TOO_LARGE, RLOG_EMPTY with a
//  reason in proto_decoder_error(). On failure MSG->type and, for APPEND and
//  APPEND_BATCH, MSG->req_id / req_id_known are set as far as decoded, so
//  the refusal can name its request. Pointers stay valid until the next
//  decode on this decoder and as long as DATA lives.
int proto_decode (proto_decoder_t *self, const void *data, size_t size, proto_msg_t *msg);
const char *proto_decoder_error (proto_decoder_t *self);

typedef struct _proto_encoder_t proto_encoder_t;

proto_encoder_t *proto_encoder_new (void);
void proto_encoder_destroy (proto_encoder_t **self_p);

//  Encode MSG (its type's fields, by the table) as a new frame. Lists come
//  from MSG->payloads / exceptions / status. Returns 0, or -1 on out of
//  memory or a field out of its bounds (a bug: asserted in debug builds).
int proto_encode (proto_encoder_t *self, const proto_msg_t *msg);

//  As proto_encode, but the frame's last field (a bin: BATCH and FILL
//  records) is written as its header only, for MSG->size bytes that the
//  caller sends right after (one copy of the log's bytes, no re-encoding).
int proto_encode_prefix (proto_encoder_t *self, const proto_msg_t *msg);

//  The frame built by the last encode; valid until the next one.
const void *proto_encoder_data (proto_encoder_t *self);
size_t proto_encoder_size (proto_encoder_t *self);

//  Hand the frame's buffer over (for zmq_msg_init_data): *DATA_P and
//  *SIZE_P get it, proto_encoder_free must release it, and the encoder
//  starts a new buffer. Returns 0 or -1.
int proto_encoder_take (proto_encoder_t *self, void **data_p, size_t *size_p);
void proto_encoder_free (void *data, void *hint);

//  Human name of a type ("APPEND"), "unknown" otherwise.
const char *proto_type_name (int type);

//  Largest frame (bytes) a node should accept on a socket whose payloads
//  are at most MAX_PAYLOAD: used for ZMQ_MAXMSGSIZE.
size_t proto_frame_max (size_t max_payload);

#endif
