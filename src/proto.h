/*  proto.h - rlog frame codec: the only code that knows msgpack.

    Every frame is one msgpack array [version, type, ...]; docs/PROTOCOL.md
    lists each one. Decoding never trusts the input: a structural pre-scan
    bounds every container by the bytes that remain, so a hostile length
    cannot make msgpack-c reserve memory, and every field is type-checked
    before use. Decoded pointers borrow the input buffer.
*/
#ifndef PROTO_H_INCLUDED
#define PROTO_H_INCLUDED

#include "entry.h"
#include "rlog.h"
#include <stdbool.h>

#define PROTO_VERSION 1

typedef enum {
    //  client -> node (client ROUTER)
    PROTO_APPEND = 1,
    PROTO_LIST = 2,
    PROTO_STATUS = 3,
    //  master PUB -> secondary SUB
    PROTO_BATCH = 10,
    PROTO_HEARTBEAT = 11,
    //  secondary DEALER -> master peer ROUTER
    PROTO_HELLO = 20,
    PROTO_ACK = 21,
    PROTO_FETCH = 22,
    //  master peer ROUTER -> secondary DEALER
    PROTO_WELCOME = 30,
    PROTO_FILL = 31,
    //  node -> client, and error replies on any request socket
    PROTO_APPEND_REPLY = 40,
    PROTO_LIST_REPLY = 41,
    PROTO_STATUS_REPLY = 42,
    PROTO_ERROR = 49
} proto_type_t;

//  Node ids (HELLO) and error texts are bounded strings.
#define PROTO_NODE_ID_MAX 63
#define PROTO_TEXT_MAX    255

//  A decoded frame. Only the fields of its type are set; the rest are 0.
typedef struct {
    int type;
    uint64_t epoch;           //  BATCH FILL HEARTBEAT WELCOME
    uint64_t seq;             //  BATCH FILL LIST_REPLY: first seq; APPEND_REPLY: seq
    uint64_t head;            //  HEARTBEAT WELCOME LIST_REPLY
    uint64_t req_id;          //  APPEND APPEND_REPLY
    uint64_t w;               //  APPEND APPEND_REPLY
    uint64_t timeout_ms;      //  APPEND
    uint64_t from;            //  LIST FETCH
    uint64_t count;           //  LIST (limit) FETCH (credit)
    uint64_t acked;           //  ACK; APPEND_REPLY: acks
    uint64_t last_epoch;      //  HELLO
    uint64_t last_seq;        //  HELLO
    uint64_t truncate_to;     //  WELCOME
    uint64_t code;            //  APPEND_REPLY LIST_REPLY STATUS_REPLY ERROR
    const uint8_t *client_id; //  APPEND
    size_t client_id_size;
    const uint8_t *data; //  APPEND: payload
    size_t size;
    char text[PROTO_TEXT_MAX + 1]; //  HELLO: node id; ERROR: message
    entry_t *entries;              //  BATCH FILL: entries; LIST_REPLY: data/size only
    size_t entry_count;
    rlog_status_t *status; //  STATUS_REPLY (owned by the decoder)
} proto_msg_t;

typedef struct _proto_decoder_t proto_decoder_t;

//  MAX_PAYLOAD bounds any one payload; larger ones decode as RLOG_TOO_LARGE.
proto_decoder_t *proto_decoder_new (size_t max_payload);
void proto_decoder_destroy (proto_decoder_t **self_p);

//  Decode one frame into MSG. Returns RLOG_OK, or RLOG_MALFORMED,
//  RLOG_BAD_VERSION, RLOG_UNKNOWN_TYPE, RLOG_TOO_LARGE, RLOG_EMPTY with a
//  reason in proto_decoder_error(). MSG's pointers stay valid until the next
//  decode on this decoder and as long as DATA lives.
int proto_decode (proto_decoder_t *self, const void *data, size_t size, proto_msg_t *msg);
const char *proto_decoder_error (proto_decoder_t *self);

typedef struct _proto_encoder_t proto_encoder_t;

proto_encoder_t *proto_encoder_new (void);
void proto_encoder_destroy (proto_encoder_t **self_p);

//  The frame built by the last encode call; valid until the next one.
const void *proto_encoder_data (proto_encoder_t *self);
size_t proto_encoder_size (proto_encoder_t *self);

//  Each encode call starts a new frame. They return 0, or -1 on out of memory.
int proto_encode_append (proto_encoder_t *self, const uint8_t *client_id, size_t client_id_size,
                         uint64_t req_id, uint64_t w, uint64_t timeout_ms, const void *data,
                         size_t size);
int proto_encode_list (proto_encoder_t *self, uint64_t from, uint64_t limit);
int proto_encode_status (proto_encoder_t *self);
int proto_encode_heartbeat (proto_encoder_t *self, uint64_t epoch, uint64_t head);
int proto_encode_hello (proto_encoder_t *self, const char *node_id, uint64_t last_epoch,
                        uint64_t last_seq);
int proto_encode_ack (proto_encoder_t *self, uint64_t acked);
int proto_encode_fetch (proto_encoder_t *self, uint64_t from, uint64_t count);
int proto_encode_welcome (proto_encoder_t *self, uint64_t epoch, uint64_t head,
                          uint64_t truncate_to);
int proto_encode_append_reply (proto_encoder_t *self, int code, uint64_t seq, uint64_t acks,
                               uint64_t w, const char *text, uint64_t req_id);
int proto_encode_status_reply (proto_encoder_t *self, const rlog_status_t *status);
int proto_encode_error (proto_encoder_t *self, int code, const char *text);

//  BATCH and FILL: begin with the entry count, then add exactly COUNT
//  entries of consecutive seqs starting at FIRST_SEQ.
int proto_encode_batch_begin (proto_encoder_t *self, int type, uint64_t epoch, uint64_t first_seq,
                              size_t count);
int proto_encode_batch_entry (proto_encoder_t *self, const entry_t *entry);

//  LIST_REPLY: begin, then exactly COUNT payloads of consecutive seqs.
int proto_encode_list_begin (proto_encoder_t *self, int code, uint64_t head, uint64_t first_seq,
                             size_t count);
int proto_encode_list_entry (proto_encoder_t *self, const void *data, size_t size);

//  Bytes a BATCH/FILL entry adds beyond its payload and client id (upper
//  bound), so senders can cut batches by frame size.
#define PROTO_ENTRY_OVERHEAD 32

//  Human name of a type, "unknown" otherwise.
const char *proto_type_name (int type);

#endif
