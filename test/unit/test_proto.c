/*  test_proto.c - unit tests for the frame codec, protocol version 2
    (src/lib/proto.c).

    Round trips of every message type with boundary values, the exact wire
    layout of a few frames, the encoder's buffer handling, and a hostile
    battery: every truncation of every frame type, trailing bytes, wrong
    element counts, a wrong type at every position of every frame, unknown
    versions and types, hostile lengths (4 GiB bins, arrays of 2^32
    elements, nesting 60,000 deep), field bounds, req_id_known on failures,
    the status schema with unknown and missing keys, and random / mutated
    buffers. Every decode reads a heap copy of exactly the frame's size, so
    ASan catches any read past the end.
*/
#include "proto.h"
#include "rlog.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAYLOAD 1000

//  --------------------------------------------------------------------------
//  Helpers

typedef struct {
    uint8_t *data;
    size_t size;
} frame_t;

static uint8_t *s_dup (const void *data, size_t size)
{
    uint8_t *copy = (uint8_t *)malloc (size ? size : 1);
    cr_assert_not_null (copy);
    if (size)
        memcpy (copy, data, size);
    return copy;
}

static frame_t s_take (proto_encoder_t *enc)
{
    frame_t frame = {s_dup (proto_encoder_data (enc), proto_encoder_size (enc)),
                     proto_encoder_size (enc)};
    return frame;
}

//  Decode a heap copy of exactly SIZE bytes; only the code survives.
static int s_decode_bytes (proto_decoder_t *dec, const void *data, size_t size)
{
    uint8_t *copy = s_dup (data, size);
    proto_msg_t msg;
    int rc = proto_decode (dec, copy, size, &msg);
    free (copy);
    return rc;
}

static bool s_is_decode_code (int rc)
{
    return rc == RLOG_OK || rc == RLOG_MALFORMED || rc == RLOG_BAD_VERSION ||
           rc == RLOG_UNKNOWN_TYPE || rc == RLOG_TOO_LARGE || rc == RLOG_EMPTY;
}

static void s_fill (uint8_t *data, size_t size, uint8_t seed)
{
    for (size_t i = 0; i < size; i++)
        data[i] = (uint8_t)(seed + i * 7);
}

//  Fixed-seed PRNG (xorshift64*).
static uint64_t s_rand (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

//  A frame packed by hand.
typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} builder_t;

static void s_builder_init (builder_t *b)
{
    msgpack_sbuffer_init (&b->sbuf);
    msgpack_packer_init (&b->pk, &b->sbuf, msgpack_sbuffer_write);
}

static void s_builder_fini (builder_t *b)
{
    msgpack_sbuffer_destroy (&b->sbuf);
}

//  Start a frame [2, TYPE, ...] of ELEMENTS elements in all.
static void s_head (builder_t *b, size_t elements, uint64_t type)
{
    msgpack_sbuffer_clear (&b->sbuf);
    msgpack_pack_array (&b->pk, elements);
    msgpack_pack_uint64 (&b->pk, PROTO_VERSION);
    msgpack_pack_uint64 (&b->pk, type);
}

static void s_pack_cstr (msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body (pk, s, strlen (s));
}

static int s_decode_builder (proto_decoder_t *dec, builder_t *b)
{
    return s_decode_bytes (dec, b->sbuf.data, b->sbuf.size);
}

//  Every field of two messages that a frame carries.
static void s_assert_same (const proto_msg_t *a, const proto_msg_t *b)
{
    cr_assert_eq (a->type, b->type);
    const uint64_t ua[] = {a->epoch,    a->head,       a->req_id,   a->w,        a->timeout_ms,
                           a->count,    a->from,       a->seq,      a->acks,     a->acked,
                           a->code,     a->last_epoch, a->last_seq, a->last_crc, a->truncate_to,
                           a->at_epoch, a->at_crc,     a->max_msg,  a->max_batch};
    const uint64_t ub[] = {b->epoch,    b->head,       b->req_id,   b->w,        b->timeout_ms,
                           b->count,    b->from,       b->seq,      b->acks,     b->acked,
                           b->code,     b->last_epoch, b->last_seq, b->last_crc, b->truncate_to,
                           b->at_epoch, b->at_crc,     b->max_msg,  b->max_batch};
    for (size_t i = 0; i < sizeof ua / sizeof ua[0]; i++)
        cr_assert_eq (ua[i], ub[i], "%s: integer %zu", proto_type_name (a->type), i);
    cr_assert_eq (a->granted, b->granted);
    cr_assert_eq (a->client_id_size, b->client_id_size);
    if (a->client_id_size)
        cr_assert_arr_eq (a->client_id, b->client_id, a->client_id_size);
    cr_assert_eq (a->history_size, b->history_size);
    if (a->history_size)
        cr_assert_arr_eq (a->history, b->history, a->history_size);
    cr_assert_eq (a->size, b->size);
    if (a->size)
        cr_assert_arr_eq (a->data, b->data, a->size);
    cr_assert_str_eq (a->node_id, b->node_id);
    cr_assert_str_eq (a->text, b->text);
    cr_assert_str_eq (a->leader, b->leader);
    cr_assert_eq (a->payload_count, b->payload_count);
    for (size_t i = 0; i < a->payload_count; i++) {
        cr_assert_eq (a->payloads[i].size, b->payloads[i].size);
        cr_assert_arr_eq (a->payloads[i].data, b->payloads[i].data, a->payloads[i].size);
    }
    cr_assert_eq (a->exception_count, b->exception_count);
    if (a->exception_count)
        cr_assert_arr_eq (a->exceptions, b->exceptions,
                          a->exception_count * sizeof (proto_exception_t));
    cr_assert_eq (a->status == NULL, b->status == NULL);
    if (a->status)
        cr_assert_eq (memcmp (a->status, b->status, sizeof *a->status), 0);
}

//  --------------------------------------------------------------------------
//  One message of every type, its values derived from V

static const int s_types[] = {PROTO_APPEND,
                              PROTO_LIST,
                              PROTO_STATUS,
                              PROTO_OPEN,
                              PROTO_APPEND_BATCH,
                              PROTO_BATCH,
                              PROTO_HEARTBEAT,
                              PROTO_HELLO,
                              PROTO_ACK,
                              PROTO_FETCH,
                              PROTO_VOTE_REQUEST,
                              PROTO_WELCOME,
                              PROTO_FILL,
                              PROTO_VOTE,
                              PROTO_APPEND_REPLY,
                              PROTO_LIST_REPLY,
                              PROTO_STATUS_REPLY,
                              PROTO_OPEN_REPLY,
                              PROTO_APPEND_BATCH_REPLY,
                              PROTO_ERROR};
#define TYPES (sizeof s_types / sizeof s_types[0])

static const uint64_t s_values[] = {0,
                                    1,
                                    127,
                                    128,
                                    255,
                                    256,
                                    65535,
                                    65536,
                                    UINT32_MAX,
                                    (uint64_t)UINT32_MAX + 1,
                                    UINT64_MAX - 1,
                                    UINT64_MAX};
#define VALUES (sizeof s_values / sizeof s_values[0])

//  What sample messages point at; zero-initialised statics would be
//  globals, so each test owns one.
typedef struct {
    uint8_t id[PROTO_CLIENT_ID_SIZE];
    uint8_t history[PROTO_HISTORY_SIZE];
    uint8_t bytes[64];
    proto_payload_t payloads[3];
    proto_exception_t exceptions[2];
    proto_status_t status;
} sample_t;

static void s_sample_status (proto_status_t *st, size_t peers, uint64_t v)
{
    memset (st, 0, sizeof *st);
    snprintf (st->role, sizeof st->role, "secondary");
    snprintf (st->node_id, sizeof st->node_id, "node-b");
    st->epoch = v;
    st->head = UINT64_MAX;
    st->last_epoch = v / 2;
    snprintf (st->mode, sizeof st->mode, "catching-up");
    snprintf (st->reason, sizeof st->reason, "only 1 of 3 nodes healthy, 2 needed");
    snprintf (st->history, sizeof st->history, "00112233445566778899aabbccddeeff");
    st->nodes = 3;
    st->healthy = UINT32_MAX;
    st->quorum = 2;
    st->waiting = UINT64_MAX;
    st->max_msg = 1 << 20;
    snprintf (st->leader, sizeof st->leader, "master");
    snprintf (st->leader_client, sizeof st->leader_client, "tcp://10.0.0.1:5555");
    st->peer_count = peers;
    for (size_t i = 0; i < peers; i++) {
        proto_peer_status_t *p = &st->peers[i];
        snprintf (p->id, sizeof p->id, "sec-%zu", i);
        snprintf (p->role, sizeof p->role, "secondary");
        snprintf (p->state, sizeof p->state, i % 2 ? "suspected" : "healthy");
        p->acked = i * 1000;
        p->lag = i == 1 ? UINT64_MAX : i;
        p->last_heard_ms = i == 0 ? -1 : i == 1 ? INT64_MIN : (int64_t)i * 250;
        p->catching_up = i % 2;
        p->last_epoch = v;
    }
    snprintf (st->master_peer, sizeof st->master_peer, "tcp://10.0.0.1:5557");
    st->master_reachable = true;
    st->master_last_heard_ms = -42;
    st->master_head = 77;
    st->held_back = 5;
    st->duplicates = UINT64_MAX;
}

//  Epochs are bounded by PROTO_EPOCH_MAX: big boundary values fold below it.
static uint64_t s_epoch (uint64_t v)
{
    return v > PROTO_EPOCH_MAX ? PROTO_EPOCH_MAX - (v % 3) : v;
}

static void s_sample (int type, uint64_t v, sample_t *s, proto_msg_t *msg)
{
    s_fill (s->id, sizeof s->id, (uint8_t)v);
    s_fill (s->history, sizeof s->history, (uint8_t)(v + 1));
    s_fill (s->bytes, sizeof s->bytes, (uint8_t)(v + 2));
    memset (msg, 0, sizeof *msg);
    msg->type = type;
    switch (type) {
    case PROTO_APPEND:
    case PROTO_APPEND_BATCH:
        msg->client_id = s->id;
        msg->client_id_size = sizeof s->id;
        msg->req_id = v;
        msg->w = ~v;
        msg->timeout_ms = v / 3;
        msg->data = s->bytes;
        msg->size = 1 + v % 40;
        msg->count = type == PROTO_APPEND ? 0 : 1 + v % PROTO_BATCH_MAX_ENTRIES;
        break;
    case PROTO_LIST:
        msg->from = v;
        msg->count = ~v;
        break;
    case PROTO_BATCH:
    case PROTO_FILL:
        msg->epoch = s_epoch (v);
        msg->data = s->bytes;
        msg->size = v % 50; //  may be empty: record code judges
        break;
    case PROTO_HEARTBEAT:
        msg->epoch = s_epoch (v);
        msg->head = ~v;
        msg->history = s->history;
        msg->history_size = sizeof s->history;
        snprintf (msg->node_id, sizeof msg->node_id, v % 2 ? "" : "master-%llu",
                  (unsigned long long)v);
        break;
    case PROTO_HELLO:
    case PROTO_VOTE_REQUEST:
        snprintf (msg->node_id, sizeof msg->node_id, "node-%llu", (unsigned long long)v);
        msg->last_epoch = s_epoch (v);
        msg->last_seq = ~v;
        msg->epoch = s_epoch (v / 7);
        if (type == PROTO_HELLO) {
            msg->history = v % 2 ? NULL : s->history;
            msg->history_size = v % 2 ? 0 : sizeof s->history;
            msg->last_crc = v & UINT32_MAX;
        }
        break;
    case PROTO_ACK:
        msg->epoch = s_epoch (v);
        msg->acked = ~v;
        break;
    case PROTO_FETCH:
        msg->epoch = s_epoch (v);
        msg->from = ~v;
        msg->count = v / 5;
        break;
    case PROTO_WELCOME:
        msg->epoch = s_epoch (v);
        msg->history = s->history;
        msg->history_size = sizeof s->history;
        msg->head = ~v;
        msg->truncate_to = v / 2;
        msg->at_epoch = s_epoch (v / 3);
        msg->at_crc = UINT32_MAX - (v & UINT32_MAX);
        snprintf (msg->leader, sizeof msg->leader, "tcp://master:%llu", (unsigned long long)v);
        break;
    case PROTO_VOTE:
        msg->epoch = s_epoch (v);
        snprintf (msg->node_id, sizeof msg->node_id, "n%llu", (unsigned long long)v);
        msg->granted = v % 2;
        break;
    case PROTO_APPEND_REPLY:
    case PROTO_APPEND_BATCH_REPLY:
        msg->req_id = v;
        msg->code = v % RLOG_ERR_MAX;
        msg->seq = ~v;
        msg->acks = v / 2;
        msg->w = v / 3;
        snprintf (msg->text, sizeof msg->text, "reply %llu", (unsigned long long)v);
        snprintf (msg->leader, sizeof msg->leader, "tcp://leader:%llu", (unsigned long long)v);
        if (type == PROTO_APPEND_BATCH_REPLY) {
            msg->count = v % (PROTO_BATCH_MAX_ENTRIES + 1);
            s->exceptions[0] = (proto_exception_t){0, RLOG_OK, v};
            s->exceptions[1] = (proto_exception_t){(uint32_t)msg->count - 1, RLOG_ERR_MAX - 1, 0};
            msg->exceptions = s->exceptions;
            msg->exception_count = msg->count < 2 ? msg->count : 2;
        }
        break;
    case PROTO_LIST_REPLY:
        msg->code = v % RLOG_ERR_MAX;
        msg->head = ~v;
        msg->seq = v;
        for (size_t i = 0; i < 3; i++)
            s->payloads[i] = (proto_payload_t){s->bytes + i, 1 + i * 20};
        msg->payloads = s->payloads;
        msg->payload_count = v > UINT64_MAX - 2 ? 1 : 3;
        break;
    case PROTO_STATUS_REPLY:
        msg->code = v % RLOG_ERR_MAX;
        s_sample_status (&s->status, v % 4, v);
        msg->status = &s->status;
        break;
    case PROTO_OPEN_REPLY:
        msg->code = v % RLOG_ERR_MAX;
        msg->client_id = v % 2 ? NULL : s->id;
        msg->client_id_size = v % 2 ? 0 : sizeof s->id;
        msg->max_msg = v;
        msg->max_batch = ~v;
        snprintf (msg->text, sizeof msg->text, "open %llu", (unsigned long long)v);
        break;
    case PROTO_ERROR:
        msg->code = v % RLOG_ERR_MAX;
        snprintf (msg->text, sizeof msg->text, "error %llu", (unsigned long long)v);
        break;
    default: //  STATUS, OPEN: no fields
        break;
    }
}

//  The encoded sample frame of TYPE for V.
static frame_t s_sample_frame (proto_encoder_t *enc, int type, uint64_t v)
{
    sample_t *s = (sample_t *)calloc (1, sizeof *s);
    proto_msg_t msg;
    s_sample (type, v, s, &msg);
    cr_assert_eq (proto_encode (enc, &msg), 0, "%s", proto_type_name (type));
    free (s);
    return s_take (enc);
}

//  Encode, decode, compare.
static void s_round_trip (proto_encoder_t *enc, proto_decoder_t *dec, const proto_msg_t *in)
{
    cr_assert_eq (proto_encode (enc, in), 0, "%s", proto_type_name (in->type));
    frame_t f = s_take (enc);
    proto_msg_t out;
    cr_assert_eq (proto_decode (dec, f.data, f.size, &out), RLOG_OK, "%s: %s",
                  proto_type_name (in->type), proto_decoder_error (dec));
    s_assert_same (in, &out);
    //  Canonical: the decoded message encodes to the very same bytes
    cr_assert_eq (proto_encode (enc, &out), 0);
    cr_assert_eq (proto_encoder_size (enc), f.size);
    cr_assert_arr_eq (proto_encoder_data (enc), f.data, f.size);
    free (f.data);
}

//  --------------------------------------------------------------------------
//  Basics

Test (proto, new_destroy)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    cr_assert_not_null (dec);
    cr_assert_not_null (proto_decoder_error (dec));
    proto_decoder_destroy (&dec);
    cr_assert_null (dec);
    proto_decoder_destroy (&dec);

    proto_encoder_t *enc = proto_encoder_new ();
    cr_assert_not_null (enc);
    cr_assert_eq (proto_encoder_size (enc), 0);
    void *data;
    size_t size;
    cr_assert_eq (proto_encoder_take (enc, &data, &size), -1, "nothing encoded yet");
    proto_encoder_destroy (&enc);
    cr_assert_null (enc);
    proto_encoder_destroy (&enc);
}

Test (proto, type_names)
{
    const char *names[] = {"APPEND",
                           "LIST",
                           "STATUS",
                           "OPEN",
                           "APPEND_BATCH",
                           "BATCH",
                           "HEARTBEAT",
                           "HELLO",
                           "ACK",
                           "FETCH",
                           "VOTE_REQUEST",
                           "WELCOME",
                           "FILL",
                           "VOTE",
                           "APPEND_REPLY",
                           "LIST_REPLY",
                           "STATUS_REPLY",
                           "OPEN_REPLY",
                           "APPEND_BATCH_REPLY",
                           "ERROR"};
    for (size_t i = 0; i < TYPES; i++)
        cr_assert_str_eq (proto_type_name (s_types[i]), names[i]);
    int unknown[] = {0, 6, 9, 12, 19, 24, 29, 33, 39, 44, 46, 48, 50, 77, 255, -1, INT32_MIN};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        cr_assert_str_eq (proto_type_name (unknown[i]), "unknown");
}

Test (proto, frame_max)
{
    cr_assert_eq (proto_frame_max (0), 65536);
    cr_assert_eq (proto_frame_max (1024 * 1024), 1024 * 1024 + 65536);
    cr_assert_eq (proto_frame_max (SIZE_MAX - 10), SIZE_MAX);
}

Test (proto, wire_layout)
{
    //  The exact bytes of a few frames: [version, type, fields...]
    proto_encoder_t *enc = proto_encoder_new ();
    const uint8_t history[16] = {0xaa};
    proto_msg_t hb = {
        .type = PROTO_HEARTBEAT, .epoch = 5, .head = 7, .history = history, .history_size = 16};
    snprintf (hb.node_id, sizeof hb.node_id, "m");
    cr_assert_eq (proto_encode (enc, &hb), 0);
    uint8_t heartbeat[25] = {0x96, 0x02, 0x0b, 0x05, 0x07, 0xc4, 0x10, 0xaa};
    heartbeat[23] = 0xa1; //  fixstr of 1
    heartbeat[24] = 'm';
    cr_assert_eq (proto_encoder_size (enc), sizeof heartbeat);
    cr_assert_arr_eq (proto_encoder_data (enc), heartbeat, sizeof heartbeat);

    proto_msg_t status = {.type = PROTO_STATUS};
    cr_assert_eq (proto_encode (enc, &status), 0);
    const uint8_t status_bytes[] = {0x92, 0x02, 0x03};
    cr_assert_eq (proto_encoder_size (enc), sizeof status_bytes);
    cr_assert_arr_eq (proto_encoder_data (enc), status_bytes, sizeof status_bytes);

    uint8_t cid[16];
    memset (cid, 0x11, sizeof cid);
    proto_msg_t append = {.type = PROTO_APPEND,
                          .client_id = cid,
                          .client_id_size = 16,
                          .req_id = 1,
                          .w = 2,
                          .data = (const uint8_t *)"x",
                          .size = 1};
    cr_assert_eq (proto_encode (enc, &append), 0);
    uint8_t append_bytes[27] = {0x97, 0x02, 0x01, 0xc4, 0x10};
    memset (append_bytes + 5, 0x11, 16);
    memcpy (append_bytes + 21, "\x01\x02\x00\xc4\x01x", 6);
    cr_assert_eq (proto_encoder_size (enc), sizeof append_bytes);
    cr_assert_arr_eq (proto_encoder_data (enc), append_bytes, sizeof append_bytes);

    proto_msg_t error = {.type = PROTO_ERROR, .code = RLOG_MALFORMED};
    snprintf (error.text, sizeof error.text, "bad");
    cr_assert_eq (proto_encode (enc, &error), 0);
    const uint8_t error_bytes[] = {0x94, 0x02, 0x31, 0x08, 0xa3, 'b', 'a', 'd'};
    cr_assert_eq (proto_encoder_size (enc), sizeof error_bytes);
    cr_assert_arr_eq (proto_encoder_data (enc), error_bytes, sizeof error_bytes);

    proto_msg_t fill = {.type = PROTO_FILL, .epoch = 3, .data = (const uint8_t *)"\0", .size = 1};
    cr_assert_eq (proto_encode (enc, &fill), 0);
    const uint8_t fill_bytes[] = {0x94, 0x02, 0x1f, 0x03, 0xc4, 0x01, 0x00};
    cr_assert_eq (proto_encoder_size (enc), sizeof fill_bytes);
    cr_assert_arr_eq (proto_encoder_data (enc), fill_bytes, sizeof fill_bytes);
    proto_encoder_destroy (&enc);
}

//  --------------------------------------------------------------------------
//  Round trips

Test (proto, roundtrip_every_type_boundaries)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    sample_t *s = (sample_t *)calloc (1, sizeof *s);
    for (size_t t = 0; t < TYPES; t++)
        for (size_t v = 0; v < VALUES; v++) {
            proto_msg_t msg;
            s_sample (s_types[t], s_values[v], s, &msg);
            s_round_trip (enc, dec, &msg);
        }
    free (s);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, roundtrip_append)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    uint8_t cid[PROTO_CLIENT_ID_SIZE];
    s_fill (cid, sizeof cid, 1);
    uint8_t *payload = (uint8_t *)calloc (1, MAX_PAYLOAD);
    s_fill (payload, MAX_PAYLOAD, 0);
    payload[MAX_PAYLOAD - 1] = 0;
    proto_msg_t in = {.type = PROTO_APPEND,
                      .client_id = cid,
                      .client_id_size = sizeof cid,
                      .req_id = UINT64_MAX,
                      .w = UINT64_MAX,
                      .timeout_ms = UINT64_MAX,
                      .data = payload,
                      .size = MAX_PAYLOAD};
    cr_assert_eq (proto_encode (enc, &in), 0);
    frame_t f = s_take (enc);
    proto_msg_t msg;
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK, "%s",
                  proto_decoder_error (dec));
    s_assert_same (&in, &msg);
    cr_assert (msg.req_id_known);
    //  Pointers borrow the input buffer
    cr_assert (msg.data > f.data && msg.data + msg.size == f.data + f.size);
    cr_assert (msg.client_id > f.data && msg.client_id + 16 < f.data + f.size);
    cr_assert_null (msg.payloads);
    cr_assert_null (msg.status);

    //  Another type into the same, dirty msg: only its fields are set
    proto_msg_t ack = {.type = PROTO_ACK, .epoch = 4, .acked = 3};
    cr_assert_eq (proto_encode (enc, &ack), 0);
    frame_t g = s_take (enc);
    cr_assert_eq (proto_decode (dec, g.data, g.size, &msg), RLOG_OK);
    s_assert_same (&ack, &msg);
    cr_assert_not (msg.req_id_known);
    free (g.data);
    free (f.data);
    free (payload);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, roundtrip_max_payload_1mib)
{
    size_t max = 1024 * 1024;
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (max);
    uint8_t *payload = (uint8_t *)malloc (max + 1);
    s_fill (payload, max + 1, 9);
    uint8_t cid[16] = {1};
    proto_msg_t in = {.type = PROTO_APPEND,
                      .client_id = cid,
                      .client_id_size = 16,
                      .req_id = 9,
                      .w = 1,
                      .data = payload,
                      .size = max};
    proto_msg_t msg;
    cr_assert_eq (proto_encode (enc, &in), 0);
    frame_t f = s_take (enc);
    cr_assert_leq (f.size, proto_frame_max (max));
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_eq (msg.size, max);
    cr_assert_arr_eq (msg.data, payload, max);
    free (f.data);

    in.size = max + 1;
    cr_assert_eq (proto_encode (enc, &in), 0);
    f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_TOO_LARGE);
    cr_assert_str_eq (proto_decoder_error (dec), "payload of 1048577 bytes exceeds 1048576");
    //  A refused APPEND is complete: the master can answer it
    cr_assert_eq (msg.type, PROTO_APPEND);
    cr_assert (msg.req_id_known);
    cr_assert_eq (msg.req_id, 9);
    cr_assert_eq (msg.size, max + 1);
    free (f.data);
    free (payload);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, roundtrip_texts)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_msg_t in = {.type = PROTO_ERROR, .code = RLOG_REFUSED}, msg;

    //  Empty, exactly 255 bytes, multi-byte characters
    const char *texts[] = {"", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "e"};
    for (size_t i = 0; i < 3; i++) {
        snprintf (in.text, sizeof in.text, "%s", texts[i]);
        s_round_trip (enc, dec, &in);
    }
    memset (in.text, 'e', PROTO_TEXT_MAX);
    in.text[PROTO_TEXT_MAX] = 0;
    s_round_trip (enc, dec, &in);

    //  No NUL within 256 bytes: cut to 255
    memset (in.text, 'x', sizeof in.text);
    cr_assert_eq (proto_encode (enc, &in), 0);
    frame_t f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_eq (strlen (msg.text), PROTO_TEXT_MAX);
    free (f.data);

    //  ... at a character boundary: 254 ASCII bytes + a 2-byte character
    memset (in.text, 'a', 254);
    memcpy (in.text + 254, "\xc3\xa9", 2);
    cr_assert_eq (proto_encode (enc, &in), 0);
    f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_eq (strlen (msg.text), 254);
    free (f.data);

    //  Invalid UTF-8 becomes '?', byte for byte, so the frame decodes
    snprintf (in.text, sizeof in.text,
              "a\xff"
              "b\xc3"
              "c\xed\xa0\x80");
    cr_assert_eq (proto_encode (enc, &in), 0);
    f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK, "%s",
                  proto_decoder_error (dec));
    cr_assert_str_eq (msg.text, "a?b?c???");
    free (f.data);

    //  The same for leader, node ids and status strings
    proto_msg_t vote = {.type = PROTO_VOTE, .epoch = 1};
    memset (vote.node_id, 'n', sizeof vote.node_id);
    vote.node_id[0] = (char)0x80;
    cr_assert_eq (proto_encode (enc, &vote), 0);
    f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK, "%s",
                  proto_decoder_error (dec));
    cr_assert_eq (strlen (msg.node_id), PROTO_NODE_ID_MAX);
    cr_assert_eq (msg.node_id[0], '?');
    free (f.data);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, roundtrip_list_reply)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    //  End of the log: no payloads
    proto_msg_t in = {.type = PROTO_LIST_REPLY, .code = RLOG_OK, .head = 10, .seq = 11};
    s_round_trip (enc, dec, &in);

    //  The most payloads a reply holds, of 1 and MAX_PAYLOAD bytes, NULs
    proto_payload_t *list = (proto_payload_t *)calloc (PROTO_LIST_MAX_ENTRIES, sizeof *list);
    uint8_t *big = (uint8_t *)calloc (1, MAX_PAYLOAD);
    for (size_t i = 0; i < PROTO_LIST_MAX_ENTRIES; i++)
        list[i] = (proto_payload_t){big, i % 100 ? 1 + i % 7 : MAX_PAYLOAD};
    in = (proto_msg_t){.type = PROTO_LIST_REPLY,
                       .head = UINT64_MAX,
                       .seq = UINT64_MAX - (PROTO_LIST_MAX_ENTRIES - 1),
                       .payloads = list,
                       .payload_count = PROTO_LIST_MAX_ENTRIES};
    s_round_trip (enc, dec, &in);

    //  Decoded payloads borrow the frame; the list is the decoder's
    cr_assert_eq (proto_encode (enc, &in), 0);
    frame_t f = s_take (enc);
    proto_msg_t msg;
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    for (size_t i = 0; i < msg.payload_count; i++)
        cr_assert (msg.payloads[i].data > f.data &&
                   msg.payloads[i].data + msg.payloads[i].size <= f.data + f.size);
    free (f.data);
    free (big);
    free (list);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, roundtrip_append_batch_and_reply)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    uint8_t cid[16], entries[300];
    s_fill (cid, sizeof cid, 4);
    s_fill (entries, sizeof entries, 5);
    uint64_t counts[] = {1, 2, PROTO_BATCH_MAX_ENTRIES};
    for (size_t i = 0; i < 3; i++) {
        proto_msg_t in = {.type = PROTO_APPEND_BATCH,
                          .client_id = cid,
                          .client_id_size = 16,
                          .req_id = UINT64_MAX - i,
                          .w = 3,
                          .timeout_ms = 1000,
                          .count = counts[i],
                          .data = entries,
                          .size = sizeof entries};
        s_round_trip (enc, dec, &in);
    }
    //  A reply listing an exception for every entry of the largest batch
    proto_exception_t *ex = (proto_exception_t *)calloc (PROTO_EXCEPTIONS_MAX, sizeof *ex);
    for (uint32_t i = 0; i < PROTO_EXCEPTIONS_MAX; i++)
        ex[i] = (proto_exception_t){i, i % RLOG_ERR_MAX, i % 2 ? 0 : UINT64_MAX - i};
    proto_msg_t reply = {.type = PROTO_APPEND_BATCH_REPLY,
                         .req_id = 7,
                         .count = PROTO_BATCH_MAX_ENTRIES,
                         .code = RLOG_TIMEOUT,
                         .seq = 100,
                         .acks = 1,
                         .w = 3,
                         .exceptions = ex,
                         .exception_count = PROTO_EXCEPTIONS_MAX};
    snprintf (reply.text, sizeof reply.text, "timed out: stored on 1 of 3 nodes");
    snprintf (reply.leader, sizeof reply.leader, "tcp://10.0.0.1:5555");
    s_round_trip (enc, dec, &reply);
    //  A whole refusal: count 0, no exceptions
    reply.count = 0;
    reply.exception_count = 0;
    reply.code = RLOG_MALFORMED;
    s_round_trip (enc, dec, &reply);
    free (ex);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, roundtrip_status_reply)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_status_t *st = (proto_status_t *)calloc (1, sizeof *st);
    size_t counts[] = {0, 3, PROTO_STATUS_PEERS_MAX};
    for (size_t round = 0; round < 3; round++) {
        s_sample_status (st, counts[round], 1700000000123ULL);
        proto_msg_t in = {.type = PROTO_STATUS_REPLY, .code = RLOG_OK, .status = st};
        s_round_trip (enc, dec, &in);
    }
    //  Strings filling their fields exactly (size - 1 bytes); extremes
    memset (st, 0, sizeof *st);
    memset (st->role, 'r', sizeof st->role - 1);
    memset (st->node_id, 'n', sizeof st->node_id - 1);
    memset (st->mode, 'm', sizeof st->mode - 1);
    memset (st->reason, 'w', sizeof st->reason - 1);
    memset (st->history, 'h', sizeof st->history - 1);
    memset (st->leader, 'l', sizeof st->leader - 1);
    memset (st->leader_client, 'c', sizeof st->leader_client - 1);
    memset (st->master_peer, 't', sizeof st->master_peer - 1);
    st->peer_count = 1;
    memset (st->peers[0].id, 'i', sizeof st->peers[0].id - 1);
    memset (st->peers[0].role, 'o', sizeof st->peers[0].role - 1);
    memset (st->peers[0].state, 's', sizeof st->peers[0].state - 1);
    st->peers[0].last_heard_ms = INT64_MAX;
    st->master_last_heard_ms = INT64_MIN;
    st->nodes = st->healthy = st->quorum = UINT32_MAX;
    proto_msg_t in = {.type = PROTO_STATUS_REPLY, .code = RLOG_ERR_MAX - 1, .status = st};
    s_round_trip (enc, dec, &in);
    free (st);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

//  A STATUS_REPLY with PAIRS keys; the caller packs them.
static void s_status_begin (builder_t *b, uint32_t pairs)
{
    s_head (b, 4, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (&b->pk, RLOG_OK);
    msgpack_pack_map (&b->pk, pairs);
}

Test (proto, status_unknown_and_missing_keys)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);
    s_status_begin (&b, 6);
    s_pack_cstr (&b.pk, "future_key");
    msgpack_pack_map (&b.pk, 1);
    s_pack_cstr (&b.pk, "x");
    msgpack_pack_double (&b.pk, 2.5);
    s_pack_cstr (&b.pk, "role");
    s_pack_cstr (&b.pk, "master");
    s_pack_cstr (&b.pk, "another");
    msgpack_pack_ext_with_body (&b.pk, "abc", 3, 9);
    s_pack_cstr (&b.pk, "peers");
    msgpack_pack_array (&b.pk, 1);
    msgpack_pack_map (&b.pk, 3);
    s_pack_cstr (&b.pk, "id");
    s_pack_cstr (&b.pk, "s1");
    s_pack_cstr (&b.pk, "unknown");
    msgpack_pack_array (&b.pk, 2);
    msgpack_pack_int64 (&b.pk, -5);
    msgpack_pack_nil (&b.pk);
    s_pack_cstr (&b.pk, "acked");
    msgpack_pack_uint64 (&b.pk, 9);
    s_pack_cstr (&b.pk, "head");
    msgpack_pack_uint64 (&b.pk, 12);
    //  The same key twice: the last one wins
    s_pack_cstr (&b.pk, "head");
    msgpack_pack_uint64 (&b.pk, 13);

    uint8_t *copy = s_dup (b.sbuf.data, b.sbuf.size);
    proto_msg_t msg;
    cr_assert_eq (proto_decode (dec, copy, b.sbuf.size, &msg), RLOG_OK, "%s",
                  proto_decoder_error (dec));
    const proto_status_t *st = msg.status;
    cr_assert_not_null (st);
    cr_assert_str_eq (st->role, "master");
    cr_assert_eq (st->head, 13);
    //  Missing keys are zero
    cr_assert_eq (st->epoch, 0);
    cr_assert_str_eq (st->node_id, "");
    cr_assert_eq (st->master_last_heard_ms, 0);
    cr_assert_eq (st->master_reachable, false);
    cr_assert_eq (st->peer_count, 1);
    cr_assert_str_eq (st->peers[0].id, "s1");
    cr_assert_eq (st->peers[0].acked, 9);
    cr_assert_eq (st->peers[0].last_heard_ms, 0);
    free (copy);

    //  An empty map: everything zero; the reply's code travels
    s_head (&b, 4, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (&b.pk, RLOG_INTERNAL);
    msgpack_pack_map (&b.pk, 0);
    copy = s_dup (b.sbuf.data, b.sbuf.size);
    cr_assert_eq (proto_decode (dec, copy, b.sbuf.size, &msg), RLOG_OK);
    cr_assert_eq (msg.code, RLOG_INTERNAL);
    proto_status_t zero;
    memset (&zero, 0, sizeof zero);
    cr_assert_eq (memcmp (msg.status, &zero, sizeof zero), 0, "a previous status leaked");
    free (copy);
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

Test (proto, status_unknown_key_depth)
{
    //  The status map is at depth 2: an unknown value may nest 6 more
    //  levels, one inside a peer's map (depth 4) 4 more
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);
    for (int levels = 5; levels <= 7; levels++) {
        s_status_begin (&b, 1);
        s_pack_cstr (&b.pk, "later");
        for (int i = 0; i < levels; i++)
            msgpack_pack_array (&b.pk, 1);
        msgpack_pack_nil (&b.pk);
        int rc = s_decode_builder (dec, &b);
        cr_assert_eq (rc, levels <= 6 ? RLOG_OK : RLOG_MALFORMED, "%d: %s", levels,
                      proto_decoder_error (dec));
    }
    cr_assert_str_eq (proto_decoder_error (dec),
                      "field 3 (status): containers nested deeper than 8");
    for (int levels = 3; levels <= 5; levels++) {
        s_status_begin (&b, 1);
        s_pack_cstr (&b.pk, "peers");
        msgpack_pack_array (&b.pk, 1);
        msgpack_pack_map (&b.pk, 1);
        s_pack_cstr (&b.pk, "later");
        for (int i = 0; i < levels; i++)
            msgpack_pack_array (&b.pk, 1);
        msgpack_pack_true (&b.pk);
        int rc = s_decode_builder (dec, &b);
        cr_assert_eq (rc, levels <= 4 ? RLOG_OK : RLOG_MALFORMED, "%d: %s", levels,
                      proto_decoder_error (dec));
    }
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

//  --------------------------------------------------------------------------
//  The encoder

Test (proto, encode_prefix)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_encoder_t *pre = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    uint8_t records[70000];
    s_fill (records, sizeof records, 3);
    int types[] = {PROTO_BATCH, PROTO_FILL};
    size_t sizes[] = {0, 1, 255, 256, 65535, 65536, sizeof records};
    for (size_t t = 0; t < 2; t++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            proto_msg_t msg = {.type = types[t], .epoch = i, .data = records, .size = sizes[i]};
            cr_assert_eq (proto_encode (enc, &msg), 0);
            cr_assert_eq (proto_encode_prefix (pre, &msg), 0);
            //  prefix + the caller's bytes == the whole frame
            size_t head = proto_encoder_size (pre);
            cr_assert_eq (head + sizes[i], proto_encoder_size (enc));
            cr_assert_arr_eq (proto_encoder_data (pre), proto_encoder_data (enc), head);
            cr_assert_leq (head, 16);
            uint8_t *frame = (uint8_t *)malloc (head + sizes[i] + 1);
            memcpy (frame, proto_encoder_data (pre), head);
            memcpy (frame + head, records, sizes[i]);
            proto_msg_t out;
            cr_assert_eq (proto_decode (dec, frame, head + sizes[i], &out), RLOG_OK);
            cr_assert_eq (out.size, sizes[i]);
            cr_assert_eq (out.epoch, i);
            free (frame);
        }
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&pre);
    proto_encoder_destroy (&enc);
}

Test (proto, encode_prefix_needs_a_final_bin, .signal = SIGABRT)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_msg_t msg = {.type = PROTO_ACK, .epoch = 1, .acked = 1};
    proto_encode_prefix (enc, &msg);
}

Test (proto, encoder_reuses_its_buffer_and_hands_it_over)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    uint8_t cid[16] = {0};
    proto_msg_t msg = {.type = PROTO_APPEND,
                       .client_id = cid,
                       .client_id_size = 16,
                       .data = (const uint8_t *)"payload",
                       .size = 7};
    cr_assert_eq (proto_encode (enc, &msg), 0);
    const void *buffer = proto_encoder_data (enc);
    //  Steady frames: the same buffer, no reallocation
    for (uint64_t i = 0; i < 1000; i++) {
        msg.req_id = i * 1000003;
        cr_assert_eq (proto_encode (enc, &msg), 0);
        cr_assert_eq (proto_encoder_data (enc), buffer);
    }
    //  Take it: the frame is ours, the encoder starts a new buffer
    void *data;
    size_t size;
    cr_assert_eq (proto_encoder_take (enc, &data, &size), 0);
    cr_assert_eq (data, buffer);
    cr_assert_eq (proto_encoder_size (enc), 0);
    cr_assert_eq (proto_encoder_take (enc, &data, &size) == 0 ? 1 : 0, 0);
    proto_msg_t out;
    cr_assert_eq (proto_decode (dec, buffer, size, &out), RLOG_OK);
    cr_assert_eq (out.req_id, 999 * 1000003);
    proto_encoder_free ((void *)buffer, NULL);
    cr_assert_eq (proto_encode (enc, &msg), 0);
    cr_assert_gt (proto_encoder_size (enc), 0);
    cr_assert_eq (proto_encoder_take (enc, &data, &size), 0);
    proto_encoder_free (data, NULL);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

//  Each of these is a caller's bug: fatal in a debug build.
static void s_encode_bug (proto_msg_t *msg)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_encode (enc, msg);
    proto_encoder_destroy (&enc);
}

Test (proto, encode_bug_client_id_size, .signal = SIGABRT)
{
    uint8_t cid[15] = {0};
    proto_msg_t msg = {
        .type = PROTO_APPEND, .client_id = cid, .client_id_size = 15, .data = cid, .size = 1};
    s_encode_bug (&msg);
}

Test (proto, encode_bug_empty_payload, .signal = SIGABRT)
{
    uint8_t cid[16] = {0};
    proto_msg_t msg = {.type = PROTO_APPEND, .client_id = cid, .client_id_size = 16};
    s_encode_bug (&msg);
}

Test (proto, encode_bug_code, .signal = SIGABRT)
{
    proto_msg_t msg = {.type = PROTO_ERROR, .code = RLOG_ERR_MAX};
    s_encode_bug (&msg);
}

Test (proto, encode_bug_empty_node_id, .signal = SIGABRT)
{
    proto_msg_t msg = {.type = PROTO_HELLO};
    s_encode_bug (&msg);
}

Test (proto, encode_bug_crc, .signal = SIGABRT)
{
    proto_msg_t msg = {.type = PROTO_HELLO, .last_crc = (uint64_t)UINT32_MAX + 1};
    snprintf (msg.node_id, sizeof msg.node_id, "a");
    s_encode_bug (&msg);
}

Test (proto, encode_bug_exception_index, .signal = SIGABRT)
{
    proto_exception_t e = {2, RLOG_OK, 1};
    proto_msg_t msg = {
        .type = PROTO_APPEND_BATCH_REPLY, .count = 2, .exceptions = &e, .exception_count = 1};
    s_encode_bug (&msg);
}

Test (proto, encode_bug_peers, .signal = SIGABRT)
{
    proto_status_t *st = (proto_status_t *)calloc (1, sizeof *st);
    st->peer_count = PROTO_STATUS_PEERS_MAX + 1;
    proto_msg_t msg = {.type = PROTO_STATUS_REPLY, .status = st};
    s_encode_bug (&msg);
}

Test (proto, encode_bug_unknown_type, .signal = SIGABRT)
{
    proto_msg_t msg = {.type = 77};
    s_encode_bug (&msg);
}

Test (proto, encode_bug_list_seq_wrap, .signal = SIGABRT)
{
    proto_payload_t p[2] = {{(const uint8_t *)"a", 1}, {(const uint8_t *)"b", 1}};
    proto_msg_t msg = {
        .type = PROTO_LIST_REPLY, .seq = UINT64_MAX, .payloads = p, .payload_count = 2};
    s_encode_bug (&msg);
}

//  --------------------------------------------------------------------------
//  Malformed: framing, version, type

Test (proto, empty_buffer)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_msg_t msg;
    uint8_t byte = 0x92;
    cr_assert_eq (proto_decode (dec, &byte, 0, &msg), RLOG_MALFORMED);
    cr_assert_eq (proto_decode (dec, NULL, 0, &msg), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "empty frame");
    cr_assert_eq (msg.type, 0);
    proto_decoder_destroy (&dec);
}

Test (proto, every_truncation_of_every_frame)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    for (size_t t = 0; t < TYPES; t++)
        for (size_t v = 0; v < VALUES; v += 3) {
            frame_t f = s_sample_frame (enc, s_types[t], s_values[v]);
            cr_assert_eq (s_decode_bytes (dec, f.data, f.size), RLOG_OK, "%s",
                          proto_decoder_error (dec));
            for (size_t len = 0; len < f.size; len++)
                cr_assert_eq (s_decode_bytes (dec, f.data, len), RLOG_MALFORMED,
                              "%s cut to %zu of %zu bytes: %s", proto_type_name (s_types[t]), len,
                              f.size, proto_decoder_error (dec));
            free (f.data);
        }
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, trailing_bytes)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    const uint8_t tails[][3] = {{0xc0}, {0x00}, {0x92, 0x02, 0x03}};
    const size_t tail_sizes[] = {1, 1, 3};
    for (size_t t = 0; t < TYPES; t++) {
        frame_t f = s_sample_frame (enc, s_types[t], 1000);
        for (size_t k = 0; k < 3; k++) {
            size_t size = f.size + tail_sizes[k];
            uint8_t *buf = (uint8_t *)malloc (size);
            memcpy (buf, f.data, f.size);
            memcpy (buf + f.size, tails[k], tail_sizes[k]);
            cr_assert_eq (s_decode_bytes (dec, buf, size), RLOG_MALFORMED, "%s tail %zu",
                          proto_type_name (s_types[t]), k);
            cr_assert_not_null (strstr (proto_decoder_error (dec), "trailing"), "%s",
                                proto_decoder_error (dec));
            free (buf);
        }
        free (f.data);
    }
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, not_an_array)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    const uint8_t nil[] = {0xc0};
    const uint8_t number[] = {0x02};
    const uint8_t str[] = {0xa2, 'h', 'i'};
    const uint8_t bin[] = {0xc4, 0x01, 0x01};
    const uint8_t map[] = {0x82, 0x02, 0x01, 0x02, 0x03};
    const uint8_t fl[] = {0xcb, 0, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t *cases[] = {nil, number, str, bin, map, fl};
    const size_t sizes[] = {1, 1, 3, 3, 5, 9};
    for (size_t i = 0; i < 6; i++) {
        cr_assert_eq (s_decode_bytes (dec, cases[i], sizes[i]), RLOG_MALFORMED);
        cr_assert_str_eq (proto_decoder_error (dec), "frame is not an array");
    }
    const uint8_t c1[] = {0xc1};
    cr_assert_eq (s_decode_bytes (dec, c1, 1), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "frame: invalid msgpack byte 0xc1");

    //  Arrays too short to hold version and type
    const uint8_t empty[] = {0x90};
    const uint8_t one[] = {0x91, 0x02};
    cr_assert_eq (s_decode_bytes (dec, empty, sizeof empty), RLOG_MALFORMED);
    cr_assert_eq (s_decode_bytes (dec, one, sizeof one), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "frame has 1 elements, at least 2 needed");

    //  Array 16 / 32 headers and wide integers are accepted as well
    const uint8_t array16[] = {0xdc, 0x00, 0x04, 0x02, 0x15, 0x07, 0x08};
    const uint8_t array32[] = {0xdd, 0x00, 0x00, 0x00, 0x04, 0xcc, 0x02, 0x15, 0xcf, 0x00,
                               0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0xd0, 0x08};
    cr_assert_eq (s_decode_bytes (dec, array16, sizeof array16), RLOG_OK);
    cr_assert_eq (s_decode_bytes (dec, array32, sizeof array32), RLOG_OK);
    proto_decoder_destroy (&dec);
}

Test (proto, version_checks)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);

    //  Version not an unsigned integer: MALFORMED
    for (int kind = 0; kind < 6; kind++) {
        msgpack_sbuffer_clear (&b.sbuf);
        msgpack_pack_array (&b.pk, 4);
        switch (kind) {
        case 0:
            msgpack_pack_int64 (&b.pk, -2);
            break;
        case 1:
            s_pack_cstr (&b.pk, "2");
            break;
        case 2:
            msgpack_pack_nil (&b.pk);
            break;
        case 3:
            msgpack_pack_double (&b.pk, 2.0);
            break;
        case 4:
            msgpack_pack_true (&b.pk);
            break;
        default:
            msgpack_pack_array (&b.pk, 0);
            break;
        }
        msgpack_pack_uint64 (&b.pk, PROTO_ACK);
        msgpack_pack_uint64 (&b.pk, 1);
        msgpack_pack_uint64 (&b.pk, 1);
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED, "kind %d", kind);
        cr_assert_str_eq (proto_decoder_error (dec),
                          "field 0 (version) must be an unsigned integer");
    }

    //  Another version: BAD_VERSION, whatever follows (even truncated)
    uint64_t versions[] = {0, 1, 3, 255, 65536, UINT64_MAX};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        msgpack_sbuffer_clear (&b.sbuf);
        msgpack_pack_array (&b.pk, 7);
        msgpack_pack_uint64 (&b.pk, versions[i]);
        s_pack_cstr (&b.pk, "garbage");
        msgpack_pack_nil (&b.pk);
        msgpack_pack_double (&b.pk, 3.5);
        msgpack_pack_map (&b.pk, 0);
        msgpack_pack_array (&b.pk, 2);
        msgpack_pack_int64 (&b.pk, -7);
        msgpack_pack_bin_with_body (&b.pk, "\0\0", 2);
        msgpack_pack_ext_with_body (&b.pk, "abcd", 4, 5);
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_BAD_VERSION, "version %zu", i);
        cr_assert_eq (s_decode_bytes (dec, b.sbuf.data, b.sbuf.size - 1), RLOG_BAD_VERSION);

        msgpack_sbuffer_clear (&b.sbuf);
        msgpack_pack_array (&b.pk, 2);
        msgpack_pack_uint64 (&b.pk, versions[i]);
        msgpack_pack_uint64 (&b.pk, 999);
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_BAD_VERSION);
    }
    //  A version 1 APPEND, as rlog 0.1 sent it
    const uint8_t v1[] = {0x97, 0x01, 0x01, 0xc4, 0x00, 0x01, 0x01, 0x00, 0xc4, 0x01, 'x'};
    proto_msg_t msg;
    uint8_t *copy = s_dup (v1, sizeof v1);
    cr_assert_eq (proto_decode (dec, copy, sizeof v1, &msg), RLOG_BAD_VERSION);
    cr_assert_str_eq (proto_decoder_error (dec),
                      "unsupported protocol version 1: this node speaks version 2");
    cr_assert_eq (msg.type, 0);
    cr_assert_not (msg.req_id_known);
    free (copy);
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

Test (proto, unknown_type)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);
    uint64_t types[] = {0, 6, 9, 12, 19, 24, 29, 33, 39, 44, 46, 48, 50, 77, 255, UINT64_MAX};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        for (int extra = 0; extra < 3; extra++) {
            s_head (&b, 2 + extra, types[i]);
            for (int k = 0; k < extra; k++)
                msgpack_pack_nil (&b.pk);
            cr_assert_eq (s_decode_builder (dec, &b), RLOG_UNKNOWN_TYPE, "type %zu", i);
        }
    }
    const uint8_t t77[] = {0x92, 0x02, 0x4d};
    cr_assert_eq (s_decode_bytes (dec, t77, sizeof t77), RLOG_UNKNOWN_TYPE);
    cr_assert_str_eq (proto_decoder_error (dec), "unknown message type 77");

    //  A type that is not an unsigned integer is malformed
    const uint8_t neg[] = {0x92, 0x02, 0xff};
    const uint8_t str[] = {0x92, 0x02, 0xa1, 'A'};
    cr_assert_eq (s_decode_bytes (dec, neg, sizeof neg), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "field 1 (type) must be an unsigned integer");
    cr_assert_eq (s_decode_bytes (dec, str, sizeof str), RLOG_MALFORMED);
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

//  --------------------------------------------------------------------------
//  Malformed: counts and field types, generated from valid frames

#define REPLACEMENTS 10

static void s_pack_replacement (msgpack_packer *pk, const msgpack_object *orig, int kind)
{
    switch (kind) {
    case 0:
        msgpack_pack_nil (pk);
        break;
    case 1:
        msgpack_pack_int64 (pk, -1);
        break;
    case 2:
        msgpack_pack_int64 (pk, INT64_MIN);
        break;
    case 3:
        msgpack_pack_double (pk, 1.5);
        break;
    case 4:
        msgpack_pack_float (pk, 2.0f);
        break;
    case 5:
        msgpack_pack_true (pk);
        break;
    case 6:
        msgpack_pack_false (pk);
        break;
    case 7:
        msgpack_pack_ext_with_body (pk, "\x01", 1, 3);
        break;
    case 8: //  the other blob kind
        if (orig->type == MSGPACK_OBJECT_STR)
            msgpack_pack_bin_with_body (pk, "7", 1);
        else
            msgpack_pack_str_with_body (pk, "7", 1);
        break;
    default: //  the other container kind
        if (orig->type == MSGPACK_OBJECT_ARRAY)
            msgpack_pack_map (pk, 0);
        else if (orig->type == MSGPACK_OBJECT_MAP)
            msgpack_pack_array (pk, 0);
        else {
            msgpack_pack_array (pk, 1);
            msgpack_pack_uint64 (pk, 1);
        }
        break;
    }
}

static void s_pack_tree (msgpack_packer *pk, const msgpack_object *o, const msgpack_object *target,
                         int kind)
{
    if (o == target) {
        s_pack_replacement (pk, o, kind);
        return;
    }
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        msgpack_pack_array (pk, o->via.array.size);
        for (uint32_t i = 0; i < o->via.array.size; i++)
            s_pack_tree (pk, &o->via.array.ptr[i], target, kind);
    } else if (o->type == MSGPACK_OBJECT_MAP) {
        msgpack_pack_map (pk, o->via.map.size);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            s_pack_tree (pk, &o->via.map.ptr[i].key, target, kind);
            s_pack_tree (pk, &o->via.map.ptr[i].val, target, kind);
        }
    } else
        msgpack_pack_object (pk, *o);
}

typedef struct {
    const msgpack_object *node;
    const msgpack_object *key; //  the key it is the value of, if any
} node_t;

static void s_collect (const msgpack_object *o, const msgpack_object *key, node_t *nodes,
                       size_t *count, size_t max)
{
    cr_assert_lt (*count, max);
    nodes[*count].node = o;
    nodes[*count].key = key;
    (*count)++;
    if (o->type == MSGPACK_OBJECT_ARRAY)
        for (uint32_t i = 0; i < o->via.array.size; i++)
            s_collect (&o->via.array.ptr[i], NULL, nodes, count, max);
    else if (o->type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            s_collect (&o->via.map.ptr[i].key, NULL, nodes, count, max);
            s_collect (&o->via.map.ptr[i].val, &o->via.map.ptr[i].key, nodes, count, max);
        }
}

static bool s_key_is (const msgpack_object *key, const char *name)
{
    return key && key->type == MSGPACK_OBJECT_STR && key->via.str.size == strlen (name) &&
           memcmp (key->via.str.ptr, name, key->via.str.size) == 0;
}

//  Replacement KIND is still valid for NODE (the value of KEY, if any).
static bool s_replacement_valid (const node_t *n, int kind)
{
    if (s_key_is (n->key, "last_heard_ms") || s_key_is (n->key, "master_last_heard_ms"))
        return kind == 1 || kind == 2;
    if (n->node->type == MSGPACK_OBJECT_BOOLEAN) //  VOTE granted and status flags
        return kind == 5 || kind == 6;
    return false;
}

Test (proto, wrong_type_at_every_position, .timeout = 60.0)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);
    size_t checked = 0;
    for (size_t t = 0; t < TYPES; t++) {
        frame_t f = s_sample_frame (enc, s_types[t], 2); //  2 peers in a status
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        size_t off = 0;
        cr_assert_eq (msgpack_unpack_next (&unpacked, (const char *)f.data, f.size, &off),
                      MSGPACK_UNPACK_SUCCESS);
        node_t nodes[512];
        size_t nnodes = 0;
        s_collect (&unpacked.data, NULL, nodes, &nnodes, 512);
        for (size_t n = 0; n < nnodes; n++)
            for (int kind = 0; kind < REPLACEMENTS; kind++) {
                msgpack_sbuffer_clear (&b.sbuf);
                s_pack_tree (&b.pk, &unpacked.data, nodes[n].node, kind);
                int rc = s_decode_builder (dec, &b);
                int expected = s_replacement_valid (&nodes[n], kind) ? RLOG_OK : RLOG_MALFORMED;
                cr_assert_eq (rc, expected, "%s node %zu kind %d: rc %d (%s)",
                              proto_type_name (s_types[t]), n, kind, rc, proto_decoder_error (dec));
                checked++;
            }
        msgpack_unpacked_destroy (&unpacked);
        free (f.data);
    }
    cr_assert_gt (checked, 2000);
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, wrong_element_count)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);
    for (size_t t = 0; t < TYPES; t++) {
        frame_t f = s_sample_frame (enc, s_types[t], 5);
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        size_t off = 0;
        cr_assert_eq (msgpack_unpack_next (&unpacked, (const char *)f.data, f.size, &off),
                      MSGPACK_UNPACK_SUCCESS);
        const msgpack_object_array *root = &unpacked.data.via.array;
        //  One element short (never below the 2 of version and type), or
        //  one over (nil, or a valid-looking uint)
        for (int variant = 0; variant < 3; variant++) {
            if (variant == 0 && root->size == 2)
                continue;
            msgpack_sbuffer_clear (&b.sbuf);
            uint32_t size = variant == 0 ? root->size - 1 : root->size + 1;
            msgpack_pack_array (&b.pk, size);
            for (uint32_t k = 0; k < root->size && k < size; k++)
                msgpack_pack_object (&b.pk, root->ptr[k]);
            if (variant == 1)
                msgpack_pack_nil (&b.pk);
            if (variant == 2)
                msgpack_pack_uint64 (&b.pk, 1);
            cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED, "%s variant %d",
                          proto_type_name (s_types[t]), variant);
            char expect[64];
            snprintf (expect, sizeof expect, "%s needs %u elements, not %u",
                      proto_type_name (s_types[t]), root->size, size);
            cr_assert_str_eq (proto_decoder_error (dec), expect);
        }
        msgpack_unpacked_destroy (&unpacked);
        free (f.data);
    }
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, field_error_texts)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    //  APPEND with req_id = "x"
    uint8_t f[30] = {0x97, 0x02, 0x01, 0xc4, 0x10};
    memcpy (f + 21, "\xa1x\x01\x00\xc4\x01p", 7);
    cr_assert_eq (s_decode_bytes (dec, f, 28), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "field 3 (req_id) must be an unsigned integer");
    //  ACK with a negative number (-128 packed as int 8)
    const uint8_t neg[] = {0x94, 0x02, 0x15, 0x01, 0xd0, 0x80};
    cr_assert_eq (s_decode_bytes (dec, neg, sizeof neg), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "field 3 (acked) must be an unsigned integer");
    //  Non-negative values in signed encodings are unsigned integers
    const uint8_t pos[] = {0x94, 0x02, 0x15, 0x01, 0xd3, 0, 0, 0, 0, 0, 0, 0, 5};
    cr_assert_eq (s_decode_bytes (dec, pos, sizeof pos), RLOG_OK);
    //  A truncated field names itself
    const uint8_t cut[] = {0x94, 0x02, 0x15, 0x01, 0xcf, 0, 0};
    cr_assert_eq (s_decode_bytes (dec, cut, sizeof cut), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec),
                      "field 3 (acked) is truncated: the frame ends first");
    proto_decoder_destroy (&dec);
}

//  --------------------------------------------------------------------------
//  Field bounds, req_id_known

//  APPEND / APPEND_BATCH with the given sizes; COUNT < 0: an APPEND.
static void s_pack_append (builder_t *b, int64_t count, size_t client_id_size, size_t payload_size)
{
    uint8_t *buf = (uint8_t *)calloc (1, client_id_size + payload_size + 1);
    s_head (b, count < 0 ? 7 : 8, count < 0 ? PROTO_APPEND : PROTO_APPEND_BATCH);
    msgpack_pack_bin_with_body (&b->pk, buf, client_id_size);
    msgpack_pack_uint64 (&b->pk, 42);
    msgpack_pack_uint64 (&b->pk, 2);
    msgpack_pack_uint64 (&b->pk, 100);
    if (count >= 0)
        msgpack_pack_uint64 (&b->pk, (uint64_t)count);
    msgpack_pack_bin_with_body (&b->pk, buf, payload_size);
    free (buf);
}

Test (proto, append_payload_bounds)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_msg_t msg;
    builder_t b;
    s_builder_init (&b);

    s_pack_append (&b, -1, 16, 0);
    uint8_t *copy = s_dup (b.sbuf.data, b.sbuf.size);
    cr_assert_eq (proto_decode (dec, copy, b.sbuf.size, &msg), RLOG_EMPTY);
    cr_assert_str_eq (proto_decoder_error (dec), "empty payload");
    //  The frame itself was sound: the master can still answer the APPEND
    cr_assert_eq (msg.type, PROTO_APPEND);
    cr_assert (msg.req_id_known);
    cr_assert_eq (msg.req_id, 42);
    cr_assert_eq (msg.client_id_size, 16);
    cr_assert_eq (msg.timeout_ms, 100);
    free (copy);

    s_pack_append (&b, -1, 16, MAX_PAYLOAD + 1);
    copy = s_dup (b.sbuf.data, b.sbuf.size);
    cr_assert_eq (proto_decode (dec, copy, b.sbuf.size, &msg), RLOG_TOO_LARGE);
    cr_assert_eq (msg.type, PROTO_APPEND);
    cr_assert_eq (msg.w, 2);
    free (copy);

    s_pack_append (&b, -1, 16, MAX_PAYLOAD);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_OK);
    //  A malformed frame wins over a refusal noted on the way
    s_pack_append (&b, -1, 16, 0);
    msgpack_pack_nil (&b.pk); //  trailing byte
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    s_pack_append (&b, -1, 16, MAX_PAYLOAD + 1);
    msgpack_pack_nil (&b.pk);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);

    //  A decoder limited to 0 bytes refuses every payload; EMPTY first
    proto_decoder_t *tiny = proto_decoder_new (0);
    s_pack_append (&b, -1, 16, 1);
    cr_assert_eq (s_decode_builder (tiny, &b), RLOG_TOO_LARGE);
    s_pack_append (&b, -1, 16, 0);
    cr_assert_eq (s_decode_builder (tiny, &b), RLOG_EMPTY);
    proto_decoder_destroy (&tiny);
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

Test (proto, client_id_and_history_bounds)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);
    size_t sizes[] = {0, 1, 15, 16, 17, 64};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int expect = sizes[i] == 16 ? RLOG_OK : RLOG_MALFORMED;
        s_pack_append (&b, -1, sizes[i], 1);
        cr_assert_eq (s_decode_builder (dec, &b), expect, "APPEND %zu", sizes[i]);
        s_pack_append (&b, 3, sizes[i], 9);
        cr_assert_eq (s_decode_builder (dec, &b), expect, "APPEND_BATCH %zu", sizes[i]);
        if (expect)
            cr_assert_not_null (
                strstr (proto_decoder_error (dec), "field 2 (client_id) must be 16 bytes"));

        //  OPEN_REPLY and HELLO: 0 or 16 bytes; HEARTBEAT and WELCOME: 16
        uint8_t id[64] = {0};
        int maybe = sizes[i] == 0 || sizes[i] == 16 ? RLOG_OK : RLOG_MALFORMED;
        s_head (&b, 8, PROTO_OPEN_REPLY);
        msgpack_pack_uint64 (&b.pk, 0);
        msgpack_pack_bin_with_body (&b.pk, id, sizes[i]);
        msgpack_pack_uint64 (&b.pk, 1);
        msgpack_pack_uint64 (&b.pk, 1);
        s_pack_cstr (&b.pk, "");
        s_pack_cstr (&b.pk, "");
        cr_assert_eq (s_decode_builder (dec, &b), maybe, "OPEN_REPLY %zu", sizes[i]);
        s_head (&b, 8, PROTO_HELLO);
        s_pack_cstr (&b.pk, "s1");
        msgpack_pack_bin_with_body (&b.pk, id, sizes[i]);
        for (int k = 0; k < 4; k++)
            msgpack_pack_uint64 (&b.pk, 1);
        cr_assert_eq (s_decode_builder (dec, &b), maybe, "HELLO %zu", sizes[i]);
        if (maybe)
            cr_assert_not_null (
                strstr (proto_decoder_error (dec), "field 3 (history) must be 0 or 16 bytes"));
        s_head (&b, 6, PROTO_HEARTBEAT);
        msgpack_pack_uint64 (&b.pk, 1);
        msgpack_pack_uint64 (&b.pk, 1);
        msgpack_pack_bin_with_body (&b.pk, id, sizes[i]);
        s_pack_cstr (&b.pk, "m");
        cr_assert_eq (s_decode_builder (dec, &b), expect, "HEARTBEAT %zu", sizes[i]);
    }
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

Test (proto, append_batch_bounds)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);
    int64_t counts[] = {0, 1, PROTO_BATCH_MAX_ENTRIES, PROTO_BATCH_MAX_ENTRIES + 1};
    int codes[] = {RLOG_MALFORMED, RLOG_OK, RLOG_OK, RLOG_MALFORMED};
    for (int i = 0; i < 4; i++) {
        s_pack_append (&b, counts[i], 16, 10);
        uint8_t *copy = s_dup (b.sbuf.data, b.sbuf.size);
        proto_msg_t msg;
        cr_assert_eq (proto_decode (dec, copy, b.sbuf.size, &msg), codes[i], "count %lld",
                      (long long)counts[i]);
        //  The first request id is known either way
        cr_assert (msg.req_id_known);
        cr_assert_eq (msg.req_id, 42);
        free (copy);
    }
    cr_assert_str_eq (proto_decoder_error (dec), "field 6 (count) must be 1..4096, not 4097");
    //  Entries must not be empty; their insides are record code's to judge
    s_pack_append (&b, 1, 16, 0);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec),
                      "field 7 (entries) must be 1..4294967295 bytes, not 0");
    //  ... and are not a payload: no TOO_LARGE here
    s_pack_append (&b, 1, 16, MAX_PAYLOAD * 3);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_OK);
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

Test (proto, req_id_known_on_failures)
{
    //  Break each field of APPEND and APPEND_BATCH in turn: the request id
    //  is known iff the failure comes after it
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);
    uint8_t cid[16] = {0};
    for (int batch = 0; batch < 2; batch++) {
        unsigned fields = batch ? 6 : 5;
        for (unsigned broken = 0; broken < fields; broken++) {
            s_head (&b, 2 + fields, batch ? PROTO_APPEND_BATCH : PROTO_APPEND);
            for (unsigned i = 0; i < fields; i++) {
                if (i == broken)
                    msgpack_pack_int64 (&b.pk, -1);
                else if (i == 0)
                    msgpack_pack_bin_with_body (&b.pk, cid, 16);
                else if (i + 1 == fields)
                    msgpack_pack_bin_with_body (&b.pk, "p", 1);
                else
                    msgpack_pack_uint64 (&b.pk, i == 1 ? 77 : 1);
            }
            uint8_t *copy = s_dup (b.sbuf.data, b.sbuf.size);
            proto_msg_t msg;
            cr_assert_eq (proto_decode (dec, copy, b.sbuf.size, &msg), RLOG_MALFORMED);
            cr_assert_eq (msg.type, batch ? PROTO_APPEND_BATCH : PROTO_APPEND);
            cr_assert_eq (msg.req_id_known, broken > 1, "batch %d broken %u", batch, broken);
            cr_assert_eq (msg.req_id, broken > 1 ? 77 : 0);
            cr_assert_eq (msg.client_id_size, broken > 0 ? 16 : 0);
            free (copy);
        }
    }
    //  Cut short after the request id: known too
    s_pack_append (&b, -1, 16, 5);
    uint8_t *copy = s_dup (b.sbuf.data, b.sbuf.size);
    proto_msg_t msg;
    cr_assert_eq (proto_decode (dec, copy, b.sbuf.size - 3, &msg), RLOG_MALFORMED);
    cr_assert (msg.req_id_known);
    cr_assert_eq (msg.req_id, 42);
    free (copy);
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

Test (proto, list_reply_bounds)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);
    uint8_t *buf = (uint8_t *)calloc (1, MAX_PAYLOAD + 1);
    //  An empty payload is an epoch marker: a seq with no message.
    size_t sizes[] = {0, 1, MAX_PAYLOAD, MAX_PAYLOAD + 1};
    int codes[] = {RLOG_OK, RLOG_OK, RLOG_OK, RLOG_TOO_LARGE};
    for (int i = 0; i < 4; i++) {
        s_head (&b, 6, PROTO_LIST_REPLY);
        msgpack_pack_uint64 (&b.pk, 0);
        msgpack_pack_uint64 (&b.pk, 5);
        msgpack_pack_uint64 (&b.pk, 1);
        msgpack_pack_array (&b.pk, 2);
        msgpack_pack_bin_with_body (&b.pk, buf, 1);
        msgpack_pack_bin_with_body (&b.pk, buf, sizes[i]);
        cr_assert_eq (s_decode_builder (dec, &b), codes[i], "size %zu", sizes[i]);
    }
    //  At most PROTO_LIST_MAX_ENTRIES payloads
    for (size_t n = PROTO_LIST_MAX_ENTRIES; n <= PROTO_LIST_MAX_ENTRIES + 1; n++) {
        s_head (&b, 6, PROTO_LIST_REPLY);
        msgpack_pack_uint64 (&b.pk, 0);
        msgpack_pack_uint64 (&b.pk, 5);
        msgpack_pack_uint64 (&b.pk, 1);
        msgpack_pack_array (&b.pk, n);
        for (size_t i = 0; i < n; i++)
            msgpack_pack_bin_with_body (&b.pk, "x", 1);
        cr_assert_eq (s_decode_builder (dec, &b),
                      n <= PROTO_LIST_MAX_ENTRIES ? RLOG_OK : RLOG_MALFORMED);
    }
    //  first_seq + payloads must not wrap
    for (int n = 1; n <= 2; n++) {
        s_head (&b, 6, PROTO_LIST_REPLY);
        msgpack_pack_uint64 (&b.pk, 0);
        msgpack_pack_uint64 (&b.pk, 5);
        msgpack_pack_uint64 (&b.pk, UINT64_MAX);
        msgpack_pack_array (&b.pk, n);
        for (int i = 0; i < n; i++)
            msgpack_pack_bin_with_body (&b.pk, "x", 1);
        cr_assert_eq (s_decode_builder (dec, &b), n == 1 ? RLOG_OK : RLOG_MALFORMED);
    }
    cr_assert_not_null (strstr (proto_decoder_error (dec), "overflows"));
    free (buf);
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

//  APPEND_BATCH_REPLY of COUNT entries with one exception [INDEX, CODE, SEQ].
static void s_pack_exception (builder_t *b, uint64_t count, uint64_t index, uint64_t code,
                              int arity)
{
    s_head (b, 11, PROTO_APPEND_BATCH_REPLY);
    msgpack_pack_uint64 (&b->pk, 1);
    msgpack_pack_uint64 (&b->pk, count);
    msgpack_pack_uint64 (&b->pk, RLOG_OK);
    msgpack_pack_uint64 (&b->pk, 10);
    msgpack_pack_uint64 (&b->pk, 1);
    msgpack_pack_uint64 (&b->pk, 1);
    s_pack_cstr (&b->pk, "");
    s_pack_cstr (&b->pk, "");
    msgpack_pack_array (&b->pk, 1);
    msgpack_pack_array (&b->pk, arity);
    uint64_t values[] = {index, code, 5, 6};
    for (int i = 0; i < arity; i++)
        msgpack_pack_uint64 (&b->pk, values[i]);
}

Test (proto, exception_bounds)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);
    s_pack_exception (&b, 3, 2, RLOG_ERR_MAX - 1, 3);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_OK);
    s_pack_exception (&b, 3, 3, RLOG_OK, 3);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec),
                      "field 10 (exceptions) exception 0 index 3 is not below count 3");
    s_pack_exception (&b, 3, 0, RLOG_ERR_MAX, 3);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    s_pack_exception (&b, 3, (uint64_t)UINT32_MAX + 1, RLOG_OK, 3);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    s_pack_exception (&b, 3, 0, RLOG_OK, 2);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    s_pack_exception (&b, 3, 0, RLOG_OK, 4);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    s_pack_exception (&b, 0, 0, RLOG_OK, 3);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    s_pack_exception (&b, PROTO_BATCH_MAX_ENTRIES + 1, 0, RLOG_OK, 3);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    //  More exceptions than a batch has entries
    s_head (&b, 11, PROTO_APPEND_BATCH_REPLY);
    for (int i = 0; i < 6; i++)
        msgpack_pack_uint64 (&b.pk, i == 1 ? PROTO_BATCH_MAX_ENTRIES : 0);
    s_pack_cstr (&b.pk, "");
    s_pack_cstr (&b.pk, "");
    msgpack_pack_array (&b.pk, PROTO_EXCEPTIONS_MAX + 1);
    for (int i = 0; i <= PROTO_EXCEPTIONS_MAX; i++) {
        msgpack_pack_array (&b.pk, 3);
        msgpack_pack_uint64 (&b.pk, 0);
        msgpack_pack_uint64 (&b.pk, 0);
        msgpack_pack_uint64 (&b.pk, 0);
    }
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

static void s_pack_hello_id (builder_t *b, const char *id, size_t size)
{
    s_head (b, 8, PROTO_HELLO);
    msgpack_pack_str_with_body (&b->pk, id, size);
    msgpack_pack_bin_with_body (&b->pk, "", 0);
    for (int i = 0; i < 4; i++)
        msgpack_pack_uint64 (&b->pk, 1);
}

Test (proto, node_id_bounds_and_utf8)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);
    char id[80];
    memset (id, 'q', sizeof id);

    s_pack_hello_id (&b, "a\0b", 3);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "field 2 (node_id) must not contain a NUL byte");
    s_pack_hello_id (&b, "", 0);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "field 2 (node_id) must be 1..63 bytes, not 0");
    s_pack_hello_id (&b, id, PROTO_NODE_ID_MAX);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_OK);
    s_pack_hello_id (&b, id, PROTO_NODE_ID_MAX + 1);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    //  Valid UTF-8 of every length passes; invalid sequences do not
    const char *good[] = {"\xc2\x80",     "\xdf\xbf",         "\xe0\xa0\x80",    "\xed\x9f\xbf",
                          "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        s_pack_hello_id (&b, good[i], strlen (good[i]));
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_OK, "good %zu", i);
    }
    const char *bad[] = {"\x80",
                         "\xc0\x80",
                         "\xc1\xbf",
                         "\xc2",
                         "\xc2\x41",
                         "\xe0\x80\x80",
                         "\xed\xa0\x80",
                         "\xe2\x82",
                         "\xf0\x80\x80\x80",
                         "\xf4\x90\x80\x80",
                         "\xf5\x80\x80\x80",
                         "\xff",
                         "a\xfe"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_pack_hello_id (&b, bad[i], strlen (bad[i]));
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED, "bad %zu", i);
        cr_assert_str_eq (proto_decoder_error (dec), "field 2 (node_id) must be valid UTF-8");
    }
    //  As bin instead of str
    s_head (&b, 8, PROTO_HELLO);
    msgpack_pack_bin_with_body (&b.pk, "id", 2);
    msgpack_pack_bin_with_body (&b.pk, "", 0);
    for (int i = 0; i < 4; i++)
        msgpack_pack_uint64 (&b.pk, 1);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "field 2 (node_id) must be a string");
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

Test (proto, text_crc_and_code_bounds)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);
    char text[300];
    memset (text, 't', sizeof text);
    size_t sizes[] = {0, PROTO_TEXT_MAX, PROTO_TEXT_MAX + 1, 299};
    int codes[] = {RLOG_OK, RLOG_OK, RLOG_MALFORMED, RLOG_MALFORMED};
    for (int i = 0; i < 4; i++) {
        s_head (&b, 4, PROTO_ERROR);
        msgpack_pack_uint64 (&b.pk, RLOG_BUSY);
        msgpack_pack_str_with_body (&b.pk, text, sizes[i]);
        cr_assert_eq (s_decode_builder (dec, &b), codes[i], "size %zu", sizes[i]);
    }
    s_head (&b, 4, PROTO_ERROR);
    msgpack_pack_uint64 (&b.pk, RLOG_BUSY);
    msgpack_pack_str_with_body (&b.pk, "busy\0", 5);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);

    //  CRCs are 32-bit
    uint64_t crcs[] = {UINT32_MAX, (uint64_t)UINT32_MAX + 1};
    for (int i = 0; i < 2; i++) {
        s_head (&b, 8, PROTO_HELLO);
        s_pack_cstr (&b.pk, "s1");
        msgpack_pack_bin_with_body (&b.pk, "", 0);
        msgpack_pack_uint64 (&b.pk, 1);
        msgpack_pack_uint64 (&b.pk, 1);
        msgpack_pack_uint64 (&b.pk, crcs[i]);
        msgpack_pack_uint64 (&b.pk, 1);
        cr_assert_eq (s_decode_builder (dec, &b), i ? RLOG_MALFORMED : RLOG_OK);
    }
    cr_assert_str_eq (proto_decoder_error (dec),
                      "field 6 (last_crc) must be 0..4294967295, not 4294967296");

    //  Reply codes outside rlog_err_t, even 2^32 + 1 (TIMEOUT after a cast)
    uint64_t bad_codes[] = {RLOG_ERR_MAX, (uint64_t)UINT32_MAX + 2, UINT64_MAX};
    for (int i = 0; i < 3; i++) {
        s_head (&b, 9, PROTO_APPEND_REPLY);
        msgpack_pack_uint64 (&b.pk, 1);
        msgpack_pack_uint64 (&b.pk, bad_codes[i]);
        for (int k = 0; k < 3; k++)
            msgpack_pack_uint64 (&b.pk, 1);
        s_pack_cstr (&b.pk, "");
        s_pack_cstr (&b.pk, "");
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
        cr_assert_not_null (strstr (proto_decoder_error (dec), "field 3 (code)"));
    }
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

Test (proto, status_bounds)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_msg_t msg;
    builder_t b;
    s_builder_init (&b);
    char text[300];
    memset (text, 's', sizeof text);

    //  Each string key: size - 1 bytes fit, size bytes do not
    struct {
        const char *key;
        size_t field;
    } strs[] = {{"role", 16},    {"node_id", 64}, {"mode", 16},           {"reason", 256},
                {"history", 33}, {"leader", 64},  {"leader_client", 256}, {"master_peer", 256}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        s_status_begin (&b, 1);
        s_pack_cstr (&b.pk, strs[i].key);
        msgpack_pack_str_with_body (&b.pk, text, strs[i].field - 1);
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_OK, "%s", strs[i].key);
        s_status_begin (&b, 1);
        s_pack_cstr (&b.pk, strs[i].key);
        msgpack_pack_str_with_body (&b.pk, text, strs[i].field);
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED, "%s", strs[i].key);
        s_status_begin (&b, 1);
        s_pack_cstr (&b.pk, strs[i].key);
        msgpack_pack_str_with_body (&b.pk, "a\0", 2);
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED, "%s", strs[i].key);
    }
    cr_assert_str_eq (proto_decoder_error (dec),
                      "field 3 (status) key 'master_peer' must not contain a NUL byte");
    //  uint32 counters
    const char *u32[] = {"nodes", "healthy", "quorum"};
    for (size_t i = 0; i < 3; i++) {
        s_status_begin (&b, 1);
        s_pack_cstr (&b.pk, u32[i]);
        msgpack_pack_uint64 (&b.pk, UINT32_MAX);
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_OK);
        s_status_begin (&b, 1);
        s_pack_cstr (&b.pk, u32[i]);
        msgpack_pack_uint64 (&b.pk, (uint64_t)UINT32_MAX + 1);
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    }
    //  Signed values: any int64, not above INT64_MAX
    s_status_begin (&b, 1);
    s_pack_cstr (&b.pk, "master_last_heard_ms");
    msgpack_pack_uint64 (&b.pk, (uint64_t)INT64_MAX + 1);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    s_status_begin (&b, 1);
    s_pack_cstr (&b.pk, "master_last_heard_ms");
    msgpack_pack_int64 (&b.pk, -1234);
    uint8_t *copy = s_dup (b.sbuf.data, b.sbuf.size);
    cr_assert_eq (proto_decode (dec, copy, b.sbuf.size, &msg), RLOG_OK);
    cr_assert_eq (msg.status->master_last_heard_ms, -1234);
    free (copy);

    //  Peers: at most PROTO_STATUS_PEERS_MAX, each a map
    for (size_t n = PROTO_STATUS_PEERS_MAX; n <= PROTO_STATUS_PEERS_MAX + 1; n++) {
        s_status_begin (&b, 1);
        s_pack_cstr (&b.pk, "peers");
        msgpack_pack_array (&b.pk, n);
        for (size_t i = 0; i < n; i++)
            msgpack_pack_map (&b.pk, 0);
        cr_assert_eq (s_decode_builder (dec, &b),
                      n <= PROTO_STATUS_PEERS_MAX ? RLOG_OK : RLOG_MALFORMED);
    }
    cr_assert_str_eq (proto_decoder_error (dec),
                      "field 3 (status) key 'peers' lists 33 peers, at most 32");
    s_status_begin (&b, 1);
    s_pack_cstr (&b.pk, "peers");
    msgpack_pack_array (&b.pk, 2);
    msgpack_pack_map (&b.pk, 0);
    msgpack_pack_array (&b.pk, 0);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec),
                      "field 3 (status) key 'peers' peer 1 must be a map");
    //  Peer string fields
    const char *peer_keys[] = {"id", "role", "state"};
    size_t peer_sizes[] = {64, 16, 16};
    for (size_t i = 0; i < 3; i++)
        for (size_t extra = 0; extra < 2; extra++) {
            s_status_begin (&b, 1);
            s_pack_cstr (&b.pk, "peers");
            msgpack_pack_array (&b.pk, 1);
            msgpack_pack_map (&b.pk, 1);
            s_pack_cstr (&b.pk, peer_keys[i]);
            msgpack_pack_str_with_body (&b.pk, text, peer_sizes[i] - 1 + extra);
            cr_assert_eq (s_decode_builder (dec, &b), extra ? RLOG_MALFORMED : RLOG_OK);
        }
    //  Non-string keys, at the top and in a peer
    s_status_begin (&b, 1);
    msgpack_pack_uint64 (&b.pk, 1);
    msgpack_pack_uint64 (&b.pk, 1);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "field 3 (status) has a non-string key");
    s_status_begin (&b, 1);
    s_pack_cstr (&b.pk, "peers");
    msgpack_pack_array (&b.pk, 1);
    msgpack_pack_map (&b.pk, 1);
    msgpack_pack_bin_with_body (&b.pk, "id", 2);
    s_pack_cstr (&b.pk, "x");
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    cr_assert_not_null (strstr (proto_decoder_error (dec), "non-string key"));
    //  The status itself must be a map
    s_head (&b, 4, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (&b.pk, 0);
    msgpack_pack_array (&b.pk, 0);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "field 3 (status) must be a map");
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

//  --------------------------------------------------------------------------
//  Hostile lengths and nesting

Test (proto, huge_declared_lengths)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    //  Top level: arrays of 2^32 - 1 elements, maps, bins, strs in 5 bytes
    const uint8_t array32[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    const uint8_t array16[] = {0xdc, 0xff, 0xff, 0x02, 0x01};
    const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    const uint8_t bin32[] = {0xc6, 0xff, 0xff, 0xff, 0xff};
    const uint8_t top[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x02, 0x0b, 0x00, 0x00};
    //  Inside frames: a 4 GiB client id and payload, a text, lists
    const uint8_t append_cid[] = {0x97, 0x02, 0x01, 0xc6, 0xff, 0xff, 0xff,
                                  0xff, 0x01, 0x01, 0x00, 0xc4, 0x01, 'x'};
    uint8_t append_payload[32] = {0x97, 0x02, 0x01, 0xc4, 0x10};
    memcpy (append_payload + 21, "\x01\x01\x00\xc6\xff\xff\xff\xff", 8);
    const uint8_t batch_records[] = {0x94, 0x02, 0x0a, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xff, 0};
    const uint8_t error_text[] = {0x94, 0x02, 0x31, 0x08, 0xdb, 0xff, 0xff, 0xff, 0xff, 'e'};
    const uint8_t list_reply[] = {0x96, 0x02, 0x29, 0x00, 0x01, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff};
    const uint8_t exceptions[] = {0x9b, 0x02, 0x2d, 0x01, 0x01, 0x00, 0x01, 0x01, 0x01,
                                  0xa0, 0xa0, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x93};
    const uint8_t status_map[] = {0x94, 0x02, 0x2a, 0x00, 0xdf, 0x80, 0x00, 0x00, 0x00};
    const uint8_t peers[] = {0x94, 0x02, 0x2a, 0x00, 0x81, 0xa5, 'p',  'e', 'e',
                             'r',  's',  0xdd, 0xff, 0xff, 0xff, 0xff, 0x80};
    //  ... and under an unknown status key, where values are skipped
    const uint8_t unknown_bin[] = {0x94, 0x02, 0x2a, 0x00, 0x81, 0xa1,
                                   'z',  0xc6, 0xff, 0xff, 0xff, 0xff};
    const uint8_t unknown_ext[] = {0x94, 0x02, 0x2a, 0x00, 0x81, 0xa1, 'z',
                                   0xc9, 0xff, 0xff, 0xff, 0xff, 0x01};
    const uint8_t unknown_array[] = {0x94, 0x02, 0x2a, 0x00, 0x81, 0xa1, 'z',
                                     0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
    const uint8_t unknown_map[] = {0x94, 0x02, 0x2a, 0x00, 0x81, 0xa1, 'z',
                                   0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0};
    struct {
        const uint8_t *data;
        size_t size;
        const char *reason;
    } cases[] = {
        {array32, sizeof array32, "frame: declared 4294967295 elements exceed the frame"},
        {array16, sizeof array16, "frame: declared 65535 elements"},
        {map32, sizeof map32, "frame is not an array"},
        {bin32, sizeof bin32, "frame is not an array"},
        {top, sizeof top, "frame: declared 4294967295 elements"},
        {append_cid, sizeof append_cid, "field 2 (client_id): declared length 4294967295"},
        {append_payload, 29, "field 6 (payload): declared length 4294967295"},
        {batch_records, sizeof batch_records, "field 3 (records): declared length"},
        {error_text, sizeof error_text, "field 3 (text): declared length"},
        {list_reply, sizeof list_reply, "field 5 (payloads): declared 4294967295 elements"},
        {exceptions, sizeof exceptions, "field 10 (exceptions): declared 4294967295"},
        {status_map, sizeof status_map, "field 3 (status): declared 2147483648 elements"},
        {peers, sizeof peers, "key 'peers': declared 4294967295 elements"},
        {unknown_bin, sizeof unknown_bin, "field 3 (status): declared length 4294967295"},
        {unknown_ext, sizeof unknown_ext, "field 3 (status): declared length 4294967295"},
        {unknown_array, sizeof unknown_array, "field 3 (status): declared 4294967295 elements"},
        {unknown_map, sizeof unknown_map, "field 3 (status): declared 4294967295 elements"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq (s_decode_bytes (dec, cases[i].data, cases[i].size), RLOG_MALFORMED,
                      "case %zu", i);
        cr_assert_not_null (strstr (proto_decoder_error (dec), cases[i].reason), "case %zu: %s", i,
                            proto_decoder_error (dec));
    }

    //  A large but honest array is read to its count check
    size_t n = 100000;
    uint8_t *buf = (uint8_t *)malloc (5 + n);
    buf[0] = 0xdd;
    buf[1] = 0;
    buf[2] = (uint8_t)(n >> 16);
    buf[3] = (uint8_t)(n >> 8);
    buf[4] = (uint8_t)n;
    memset (buf + 5, 0xc0, n);
    buf[5] = 0x02;
    buf[6] = 0x03;
    cr_assert_eq (s_decode_bytes (dec, buf, 5 + n), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "STATUS needs 2 elements, not 100000");
    free (buf);
    proto_decoder_destroy (&dec);
}

Test (proto, nesting_60000_deep)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    size_t deep = 60000;
    uint8_t *buf = (uint8_t *)malloc (deep + 32);
    //  At the top
    memset (buf, 0x91, deep);
    buf[deep] = 0x01;
    cr_assert_eq (s_decode_bytes (dec, buf, deep + 1), RLOG_MALFORMED);
    //  In a field: [2, ACK, [[[...]]], 1]
    memcpy (buf, "\x94\x02\x15", 3);
    memset (buf + 3, 0x91, deep);
    buf[3 + deep] = 0x01;
    buf[4 + deep] = 0x01;
    cr_assert_eq (s_decode_bytes (dec, buf, deep + 5), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "field 2 (epoch) must be an unsigned integer");
    //  Under an unknown status key, arrays and maps: skipped to the limit
    memcpy (buf, "\x94\x02\x2a\x00\x81\xa1z", 7);
    memset (buf + 7, 0x91, deep);
    buf[7 + deep] = 0x01;
    cr_assert_eq (s_decode_bytes (dec, buf, deep + 8), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec),
                      "field 3 (status): containers nested deeper than 8");
    for (size_t i = 0; i < deep / 2; i++) {
        buf[7 + 2 * i] = 0x81;
        buf[8 + 2 * i] = 0xc0;
    }
    buf[7 + deep] = 0x01;
    cr_assert_eq (s_decode_bytes (dec, buf, deep + 8), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec),
                      "field 3 (status): containers nested deeper than 8");
    //  In a payload list: each payload must be bin
    memcpy (buf, "\x96\x02\x29\x00\x01\x01\x91", 7);
    memset (buf + 7, 0x91, deep);
    buf[7 + deep] = 0x01;
    cr_assert_eq (s_decode_bytes (dec, buf, deep + 8), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "field 5 (payloads) payload 0 must be bin");
    free (buf);
    proto_decoder_destroy (&dec);
}

Test (proto, invalid_bytes)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    const uint8_t c1[] = {0x94, 0x02, 0x15, 0x01, 0xc1};
    cr_assert_eq (s_decode_bytes (dec, c1, sizeof c1), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "field 3 (acked): invalid msgpack byte 0xc1");
    //  Every scalar kind, in an ACK's acked field
    const uint8_t scalars[][10] = {
        {0xc0},          {0xc2},          {0xca, 0, 0, 0, 0},    {0xcb, 0, 0, 0, 0, 0, 0, 0, 0},
        {0xd4, 1, 1},    {0xd5, 1, 1, 1}, {0xd6, 1, 1, 1, 1, 1}, {0xd7, 1, 1, 1, 1, 1, 1, 1, 1, 1},
        {0xc7, 1, 1, 1}, {0xd9, 1, 'a'},
    };
    const size_t sizes[] = {1, 1, 5, 9, 3, 4, 6, 10, 4, 3};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t frame[16] = {0x94, 0x02, 0x15, 0x01};
        memcpy (frame + 4, scalars[i], sizes[i]);
        cr_assert_eq (s_decode_bytes (dec, frame, 4 + sizes[i]), RLOG_MALFORMED, "%zu", i);
        cr_assert_str_eq (proto_decoder_error (dec), "field 3 (acked) must be an unsigned integer");
    }
    proto_decoder_destroy (&dec);
}

//  --------------------------------------------------------------------------
//  Random input: never crash, never read past the end, always a decode code

static void s_check_random (proto_decoder_t *dec, const uint8_t *data, size_t size)
{
    uint8_t *copy = s_dup (data, size);
    proto_msg_t msg;
    int rc = proto_decode (dec, copy, size, &msg);
    cr_assert (s_is_decode_code (rc), "rc %d", rc);
    cr_assert_not_null (proto_decoder_error (dec));
    if (rc == RLOG_OK)
        cr_assert_neq (msg.type, 0);
    if (msg.data)
        cr_assert (msg.data >= copy && msg.data + msg.size <= copy + size);
    if (msg.client_id)
        cr_assert (msg.client_id >= copy && msg.client_id + msg.client_id_size <= copy + size);
    for (size_t i = 0; i < msg.payload_count; i++)
        cr_assert (msg.payloads[i].data >= copy &&
                   msg.payloads[i].data + msg.payloads[i].size <= copy + size);
    cr_assert_lt (strlen (msg.text), sizeof msg.text);
    cr_assert_lt (strlen (msg.node_id), sizeof msg.node_id);
    cr_assert_lt (strlen (msg.leader), sizeof msg.leader);
    free (copy);
}

Test (proto, random_buffers, .timeout = 60.0)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    uint64_t state = 0x9E3779B97F4A7C15ULL;
    uint8_t buf[512];
    for (int round = 0; round < 20000; round++) {
        size_t size = (size_t)(s_rand (&state) % sizeof buf);
        for (size_t i = 0; i < size; i++)
            buf[i] = (uint8_t)s_rand (&state);
        //  Most of them start like a frame, to get past the first checks
        if (round % 4 && size >= 3) {
            buf[0] = (uint8_t)(0x92 + s_rand (&state) % 10);
            buf[1] = 0x02;
            buf[2] = (uint8_t)s_types[s_rand (&state) % TYPES];
        }
        s_check_random (dec, buf, size);
    }
    proto_decoder_destroy (&dec);
}

Test (proto, mutated_frames, .timeout = 120.0)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    uint64_t state = 12345;
    for (size_t t = 0; t < TYPES; t++) {
        frame_t f = s_sample_frame (enc, s_types[t], 3);
        uint8_t *buf = (uint8_t *)malloc (f.size + 1);
        for (int round = 0; round < 2000; round++) {
            memcpy (buf, f.data, f.size);
            size_t size = f.size;
            size_t pos = (size_t)(s_rand (&state) % size);
            switch (round % 4) {
            case 0:
                buf[pos] = (uint8_t)s_rand (&state);
                break;
            case 1:
                buf[pos] ^= (uint8_t)(1u << (s_rand (&state) % 8));
                break;
            case 2:
                memmove (buf + pos, buf + pos + 1, size - pos - 1);
                size--;
                break;
            default:
                memmove (buf + pos + 1, buf + pos, size - pos);
                buf[pos] = (uint8_t)s_rand (&state);
                size++;
                break;
            }
            s_check_random (dec, buf, size);
        }
        //  Every byte value at every position of the small frames
        for (size_t p = 0; p < f.size && f.size < 128; p++)
            for (int v = 0; v < 256; v++) {
                memcpy (buf, f.data, f.size);
                buf[p] = (uint8_t)v;
                s_check_random (dec, buf, f.size);
            }
        free (buf);
        free (f.data);
    }
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}
