/*  test_proto.c - unit tests for the frame codec (src/proto.c).

    Round trips of every frame type with boundary values, the exact wire
    layout of a few frames, and a hostile-input battery: truncations,
    trailing bytes, wrong counts and types at every position, huge declared
    lengths, deep nesting, and random / mutated buffers. Every decode reads
    from a heap copy of exactly the frame's size, so ASan catches any read
    past the end.
*/
#include "proto.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAYLOAD 1000

//  --------------------------------------------------------------------------
//  Helpers

typedef struct {
    uint8_t *data;
    size_t size;
} frame_t;

//  A heap copy of exactly SIZE bytes (at least one byte allocated).
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

static frame_t s_take_sbuf (msgpack_sbuffer *sbuf)
{
    frame_t frame = {s_dup (sbuf->data, sbuf->size), sbuf->size};
    return frame;
}

//  Decode a heap copy of exactly SIZE bytes; the copy is freed, so only
//  the return code may be used afterwards.
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

//  A frame built by hand with the msgpack packer.
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

static void s_pack_cstr (msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body (pk, s, strlen (s));
}

static int s_decode_builder (proto_decoder_t *dec, builder_t *b)
{
    return s_decode_bytes (dec, b->sbuf.data, b->sbuf.size);
}

static void s_sample_status (rlog_status_t *st, size_t secondaries)
{
    memset (st, 0, sizeof *st);
    snprintf (st->role, sizeof st->role, "secondary");
    snprintf (st->node_id, sizeof st->node_id, "node-b");
    st->epoch = 1700000000123ULL;
    st->head = UINT64_MAX;
    snprintf (st->mode, sizeof st->mode, "catching-up");
    snprintf (st->reason, sizeof st->reason, "only 1 of 3 nodes healthy, 2 needed");
    st->nodes = 3;
    st->healthy = UINT32_MAX;
    st->quorum = 2;
    st->waiting = 0;
    st->secondary_count = secondaries;
    for (size_t i = 0; i < secondaries; i++) {
        rlog_secondary_status_t *sec = &st->secondaries[i];
        snprintf (sec->id, sizeof sec->id, "sec-%zu", i);
        snprintf (sec->state, sizeof sec->state, i % 2 ? "suspected" : "healthy");
        sec->acked = i * 1000;
        sec->lag = i == 1 ? UINT64_MAX : i;
        sec->last_heard_ms = i == 0 ? -1 : i == 1 ? INT64_MIN : (int64_t)i * 250;
        sec->catching_up = i % 2;
    }
    snprintf (st->master, sizeof st->master, "tcp://10.0.0.1:5557");
    st->master_reachable = true;
    st->master_last_heard_ms = -42;
    st->master_head = 77;
    st->held_back = 5;
    st->duplicates = UINT64_MAX;
}

//  One valid frame of every type; returns the count.
#define SAMPLE_MAX 16

static size_t s_sample_frames (frame_t *frames)
{
    proto_encoder_t *enc = proto_encoder_new ();
    cr_assert_not_null (enc);
    size_t n = 0;
    uint8_t cid[64];
    uint8_t payload[40];
    s_fill (cid, sizeof cid, 3);
    s_fill (payload, sizeof payload, 0);

    cr_assert_eq (proto_encode_append (enc, cid, 16, 7, 2, 500, payload, 12), 0);
    frames[n++] = s_take (enc);
    cr_assert_eq (proto_encode_list (enc, 1, 100), 0);
    frames[n++] = s_take (enc);
    cr_assert_eq (proto_encode_status (enc), 0);
    frames[n++] = s_take (enc);
    for (int type = PROTO_BATCH; type <= PROTO_FILL; type += PROTO_FILL - PROTO_BATCH) {
        cr_assert_eq (proto_encode_batch_begin (enc, type, 9, 100, 3), 0);
        for (size_t i = 0; i < 3; i++) {
            entry_t e = {5 + i, 10 + i, cid, i == 0 ? 0 : i == 1 ? 16 : 64, payload, 1 + i * 10};
            cr_assert_eq (proto_encode_batch_entry (enc, &e), 0);
        }
        frames[n++] = s_take (enc);
    }
    cr_assert_eq (proto_encode_heartbeat (enc, 9, 300), 0);
    frames[n++] = s_take (enc);
    cr_assert_eq (proto_encode_hello (enc, "node-b", 9, 299), 0);
    frames[n++] = s_take (enc);
    cr_assert_eq (proto_encode_ack (enc, 299), 0);
    frames[n++] = s_take (enc);
    cr_assert_eq (proto_encode_fetch (enc, 200, 1024), 0);
    frames[n++] = s_take (enc);
    cr_assert_eq (proto_encode_welcome (enc, 9, 300, 250), 0);
    frames[n++] = s_take (enc);
    cr_assert_eq (proto_encode_append_reply (enc, RLOG_TIMEOUT, 301, 1, 2, "timed out", 77), 0);
    frames[n++] = s_take (enc);
    cr_assert_eq (proto_encode_list_begin (enc, RLOG_OK, 300, 1, 2), 0);
    cr_assert_eq (proto_encode_list_entry (enc, payload, 5), 0);
    cr_assert_eq (proto_encode_list_entry (enc, payload, 40), 0);
    frames[n++] = s_take (enc);
    rlog_status_t st;
    s_sample_status (&st, 2);
    cr_assert_eq (proto_encode_status_reply (enc, &st), 0);
    frames[n++] = s_take (enc);
    cr_assert_eq (proto_encode_error (enc, RLOG_REFUSED, "cluster full"), 0);
    frames[n++] = s_take (enc);

    cr_assert_leq (n, SAMPLE_MAX);
    proto_encoder_destroy (&enc);
    return n;
}

static void s_free_frames (frame_t *frames, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free (frames[i].data);
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
    proto_encoder_destroy (&enc);
    cr_assert_null (enc);
    proto_encoder_destroy (&enc);
}

Test (proto, type_names)
{
    cr_assert_str_eq (proto_type_name (PROTO_APPEND), "APPEND");
    cr_assert_str_eq (proto_type_name (PROTO_LIST), "LIST");
    cr_assert_str_eq (proto_type_name (PROTO_STATUS), "STATUS");
    cr_assert_str_eq (proto_type_name (PROTO_BATCH), "BATCH");
    cr_assert_str_eq (proto_type_name (PROTO_HEARTBEAT), "HEARTBEAT");
    cr_assert_str_eq (proto_type_name (PROTO_HELLO), "HELLO");
    cr_assert_str_eq (proto_type_name (PROTO_ACK), "ACK");
    cr_assert_str_eq (proto_type_name (PROTO_FETCH), "FETCH");
    cr_assert_str_eq (proto_type_name (PROTO_WELCOME), "WELCOME");
    cr_assert_str_eq (proto_type_name (PROTO_FILL), "FILL");
    cr_assert_str_eq (proto_type_name (PROTO_APPEND_REPLY), "APPEND_REPLY");
    cr_assert_str_eq (proto_type_name (PROTO_LIST_REPLY), "LIST_REPLY");
    cr_assert_str_eq (proto_type_name (PROTO_STATUS_REPLY), "STATUS_REPLY");
    cr_assert_str_eq (proto_type_name (PROTO_ERROR), "ERROR");
    cr_assert_str_eq (proto_type_name (0), "unknown");
    cr_assert_str_eq (proto_type_name (77), "unknown");
    cr_assert_str_eq (proto_type_name (-1), "unknown");
}

Test (proto, wire_layout)
{
    //  The exact bytes of docs/PROTOCOL.md for a few frames.
    proto_encoder_t *enc = proto_encoder_new ();
    cr_assert_eq (proto_encode_heartbeat (enc, 5, 7), 0);
    const uint8_t heartbeat[] = {0x94, 0x01, 0x0b, 0x05, 0x07};
    cr_assert_eq (proto_encoder_size (enc), sizeof heartbeat);
    cr_assert_arr_eq (proto_encoder_data (enc), heartbeat, sizeof heartbeat);

    cr_assert_eq (proto_encode_status (enc), 0);
    const uint8_t status[] = {0x92, 0x01, 0x03};
    cr_assert_eq (proto_encoder_size (enc), sizeof status);
    cr_assert_arr_eq (proto_encoder_data (enc), status, sizeof status);

    const uint8_t cid[] = {0xaa};
    cr_assert_eq (proto_encode_append (enc, cid, 1, 1, 2, 0, "x", 1), 0);
    const uint8_t append[] = {0x97, 0x01, 0x01, 0xc4, 0x01, 0xaa,
                              0x01, 0x02, 0x00, 0xc4, 0x01, 'x'};
    cr_assert_eq (proto_encoder_size (enc), sizeof append);
    cr_assert_arr_eq (proto_encoder_data (enc), append, sizeof append);

    cr_assert_eq (proto_encode_error (enc, RLOG_MALFORMED, "bad"), 0);
    const uint8_t error[] = {0x94, 0x01, 0x31, 0x08, 0xa3, 'b', 'a', 'd'};
    cr_assert_eq (proto_encoder_size (enc), sizeof error);
    cr_assert_arr_eq (proto_encoder_data (enc), error, sizeof error);

    cr_assert_eq (proto_encode_batch_begin (enc, PROTO_FILL, 3, 4, 1), 0);
    entry_t e = {2, 9, NULL, 0, (const uint8_t *)"\0", 1};
    cr_assert_eq (proto_encode_batch_entry (enc, &e), 0);
    const uint8_t fill[] = {0x95, 0x01, 0x1f, 0x03, 0x04, 0x91, 0x94,
                            0x02, 0xc4, 0x00, 0x09, 0xc4, 0x01, 0x00};
    cr_assert_eq (proto_encoder_size (enc), sizeof fill);
    cr_assert_arr_eq (proto_encoder_data (enc), fill, sizeof fill);
    proto_encoder_destroy (&enc);
}

//  --------------------------------------------------------------------------
//  Round trips

Test (proto, roundtrip_append)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_msg_t msg;

    //  Smallest: no client id, zero ids, 1-byte payload.
    cr_assert_eq (proto_encode_append (enc, NULL, 0, 0, 0, 0, "\0", 1), 0);
    frame_t f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK, "%s",
                  proto_decoder_error (dec));
    cr_assert_eq (msg.type, PROTO_APPEND);
    cr_assert_eq (msg.client_id_size, 0);
    cr_assert_eq (msg.req_id, 0);
    cr_assert_eq (msg.w, 0);
    cr_assert_eq (msg.timeout_ms, 0);
    cr_assert_eq (msg.size, 1);
    cr_assert_eq (msg.data[0], 0);
    cr_assert_null (msg.entries);
    cr_assert_null (msg.status);
    free (f.data);

    //  Largest: 64-byte client id, UINT64_MAX ids, max payload with NULs.
    uint8_t cid[ENTRY_CLIENT_ID_MAX];
    s_fill (cid, sizeof cid, 1);
    uint8_t *payload = (uint8_t *)calloc (1, MAX_PAYLOAD);
    s_fill (payload, MAX_PAYLOAD, 0);
    payload[MAX_PAYLOAD - 1] = 0;
    cr_assert_eq (proto_encode_append (enc, cid, sizeof cid, UINT64_MAX, UINT64_MAX, UINT64_MAX,
                                       payload, MAX_PAYLOAD),
                  0);
    f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK, "%s",
                  proto_decoder_error (dec));
    cr_assert_eq (msg.type, PROTO_APPEND);
    cr_assert_eq (msg.client_id_size, ENTRY_CLIENT_ID_MAX);
    cr_assert_arr_eq (msg.client_id, cid, sizeof cid);
    cr_assert_eq (msg.req_id, UINT64_MAX);
    cr_assert_eq (msg.w, UINT64_MAX);
    cr_assert_eq (msg.timeout_ms, UINT64_MAX);
    cr_assert_eq (msg.size, MAX_PAYLOAD);
    cr_assert_arr_eq (msg.data, payload, MAX_PAYLOAD);
    //  Pointers borrow the input buffer.
    cr_assert (msg.data > f.data && msg.data + msg.size <= f.data + f.size);

    //  The same frame, decoded again into a dirty msg, after another type.
    cr_assert_eq (proto_encode_ack (enc, 3), 0);
    frame_t ack = s_take (enc);
    cr_assert_eq (proto_decode (dec, ack.data, ack.size, &msg), RLOG_OK);
    cr_assert_eq (msg.type, PROTO_ACK);
    cr_assert_eq (msg.acked, 3);
    cr_assert_null (msg.client_id);
    cr_assert_null (msg.data);
    cr_assert_eq (msg.size, 0);
    cr_assert_eq (msg.req_id, 0);
    free (ack.data);
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
    proto_msg_t msg;

    cr_assert_eq (proto_encode_append (enc, NULL, 0, 1, 1, 0, payload, max), 0);
    frame_t f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_eq (msg.size, max);
    cr_assert_arr_eq (msg.data, payload, max);
    free (f.data);

    cr_assert_eq (proto_encode_append (enc, NULL, 0, 1, 1, 0, payload, max + 1), 0);
    f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_TOO_LARGE);
    free (f.data);
    free (payload);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, roundtrip_simple_types)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_msg_t msg;
    uint64_t values[] = {0,
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
    size_t nvalues = sizeof values / sizeof values[0];

    for (size_t i = 0; i < nvalues; i++) {
        uint64_t a = values[i];
        uint64_t b = values[nvalues - 1 - i];
        uint64_t c = values[(i + 3) % nvalues];
        frame_t f;

        cr_assert_eq (proto_encode_list (enc, a, b), 0);
        f = s_take (enc);
        cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
        cr_assert_eq (msg.type, PROTO_LIST);
        cr_assert_eq (msg.from, a);
        cr_assert_eq (msg.count, b);
        free (f.data);

        cr_assert_eq (proto_encode_heartbeat (enc, a, b), 0);
        f = s_take (enc);
        cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
        cr_assert_eq (msg.type, PROTO_HEARTBEAT);
        cr_assert_eq (msg.epoch, a);
        cr_assert_eq (msg.head, b);
        free (f.data);

        cr_assert_eq (proto_encode_ack (enc, a), 0);
        f = s_take (enc);
        cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
        cr_assert_eq (msg.type, PROTO_ACK);
        cr_assert_eq (msg.acked, a);
        free (f.data);

        cr_assert_eq (proto_encode_fetch (enc, a, b), 0);
        f = s_take (enc);
        cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
        cr_assert_eq (msg.type, PROTO_FETCH);
        cr_assert_eq (msg.from, a);
        cr_assert_eq (msg.count, b);
        free (f.data);

        cr_assert_eq (proto_encode_welcome (enc, a, b, c), 0);
        f = s_take (enc);
        cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
        cr_assert_eq (msg.type, PROTO_WELCOME);
        cr_assert_eq (msg.epoch, a);
        cr_assert_eq (msg.head, b);
        cr_assert_eq (msg.truncate_to, c);
        free (f.data);

        cr_assert_eq (
            proto_encode_append_reply (enc, (int)(i % RLOG_ERR_MAX), a, b, c, "ok", a ^ c), 0);
        f = s_take (enc);
        cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
        cr_assert_eq (msg.type, PROTO_APPEND_REPLY);
        cr_assert_eq (msg.code, i % RLOG_ERR_MAX);
        cr_assert_eq (msg.seq, a);
        cr_assert_eq (msg.acked, b);
        cr_assert_eq (msg.w, c);
        cr_assert_str_eq (msg.text, "ok");
        cr_assert_eq (msg.req_id, a ^ c);
        free (f.data);
    }
    cr_assert_eq (proto_encode_status (enc), 0);
    frame_t f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_eq (msg.type, PROTO_STATUS);
    free (f.data);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, roundtrip_hello)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_msg_t msg;
    char id[PROTO_NODE_ID_MAX + 1];
    memset (id, 'n', PROTO_NODE_ID_MAX);
    id[PROTO_NODE_ID_MAX] = 0;

    cr_assert_eq (proto_encode_hello (enc, id, UINT64_MAX, 0), 0);
    frame_t f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_eq (msg.type, PROTO_HELLO);
    cr_assert_str_eq (msg.text, id);
    cr_assert_eq (msg.last_epoch, UINT64_MAX);
    cr_assert_eq (msg.last_seq, 0);
    free (f.data);

    cr_assert_eq (proto_encode_hello (enc, "b", 0, UINT64_MAX), 0);
    f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_str_eq (msg.text, "b");
    cr_assert_eq (msg.last_epoch, 0);
    cr_assert_eq (msg.last_seq, UINT64_MAX);
    free (f.data);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, roundtrip_texts)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_msg_t msg;
    char text[400];

    //  Empty and NULL texts.
    cr_assert_eq (proto_encode_error (enc, RLOG_OK, ""), 0);
    frame_t f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_eq (msg.type, PROTO_ERROR);
    cr_assert_eq (msg.code, 0);
    cr_assert_str_eq (msg.text, "");
    free (f.data);
    cr_assert_eq (proto_encode_append_reply (enc, RLOG_OK, 1, 1, 1, NULL, 1), 0);
    f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_str_eq (msg.text, "");
    free (f.data);

    //  Exactly 255 bytes.
    memset (text, 'e', PROTO_TEXT_MAX);
    text[PROTO_TEXT_MAX] = 0;
    cr_assert_eq (proto_encode_error (enc, RLOG_REFUSED, text), 0);
    f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_eq (msg.code, RLOG_REFUSED);
    cr_assert_str_eq (msg.text, text);
    free (f.data);

    //  Longer texts are cut to 255 bytes by the encoder.
    memset (text, 'x', sizeof text - 1);
    text[sizeof text - 1] = 0;
    cr_assert_eq (proto_encode_append_reply (enc, RLOG_TIMEOUT, 5, 1, 3, text, 9), 0);
    f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_eq (strlen (msg.text), PROTO_TEXT_MAX);
    cr_assert_eq (msg.code, RLOG_TIMEOUT);
    free (f.data);

    //  ... at a UTF-8 character boundary: 254 ASCII + a 2-byte character.
    memset (text, 'a', 254);
    strcpy (text + 254, "\xc3\xa9 tail");
    cr_assert_eq (proto_encode_error (enc, RLOG_INTERNAL, text), 0);
    f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_eq (strlen (msg.text), 254);
    free (f.data);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, roundtrip_batch_fill)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_msg_t msg;
    uint8_t cid[ENTRY_CLIENT_ID_MAX];
    s_fill (cid, sizeof cid, 200);
    uint8_t *big = (uint8_t *)calloc (1, MAX_PAYLOAD); //  all NUL bytes
    const uint8_t one = 0;
    entry_t in[] = {
        {0, 0, NULL, 0, &one, 1},
        {UINT64_MAX, UINT64_MAX, cid, ENTRY_CLIENT_ID_MAX, big, MAX_PAYLOAD},
        {7, 8, cid, 16, (const uint8_t *)"a\0b", 3},
    };
    size_t count = sizeof in / sizeof in[0];

    for (int type = PROTO_BATCH; type <= PROTO_FILL; type += PROTO_FILL - PROTO_BATCH) {
        cr_assert_eq (proto_encode_batch_begin (enc, type, UINT64_MAX, 1, count), 0);
        for (size_t i = 0; i < count; i++)
            cr_assert_eq (proto_encode_batch_entry (enc, &in[i]), 0);
        frame_t f = s_take (enc);
        cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK, "%s",
                      proto_decoder_error (dec));
        cr_assert_eq (msg.type, type);
        cr_assert_eq (msg.epoch, UINT64_MAX);
        cr_assert_eq (msg.seq, 1);
        cr_assert_eq (msg.entry_count, count);
        cr_assert_not_null (msg.entries);
        for (size_t i = 0; i < count; i++) {
            const entry_t *e = &msg.entries[i];
            cr_assert_eq (e->epoch, in[i].epoch);
            cr_assert_eq (e->req_id, in[i].req_id);
            cr_assert_eq (e->client_id_size, in[i].client_id_size);
            if (e->client_id_size)
                cr_assert_arr_eq (e->client_id, in[i].client_id, e->client_id_size);
            cr_assert_eq (e->size, in[i].size);
            cr_assert_arr_eq (e->data, in[i].data, e->size);
            cr_assert (e->data >= f.data && e->data + e->size <= f.data + f.size);
        }
        free (f.data);
    }

    //  A single entry at the last seq, and seq 0 / epoch 0.
    cr_assert_eq (proto_encode_batch_begin (enc, PROTO_BATCH, 0, UINT64_MAX, 1), 0);
    cr_assert_eq (proto_encode_batch_entry (enc, &in[0]), 0);
    frame_t f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_eq (msg.seq, UINT64_MAX);
    cr_assert_eq (msg.epoch, 0);
    cr_assert_eq (msg.entry_count, 1);
    free (f.data);

    //  Two entries from UINT64_MAX would wrap the seq.
    cr_assert_eq (proto_encode_batch_begin (enc, PROTO_BATCH, 0, UINT64_MAX, 2), 0);
    cr_assert_eq (proto_encode_batch_entry (enc, &in[0]), 0);
    cr_assert_eq (proto_encode_batch_entry (enc, &in[0]), 0);
    f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_MALFORMED);
    free (f.data);
    free (big);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, roundtrip_big_batch_reuses_entries)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_msg_t msg;
    uint8_t cid[16];
    s_fill (cid, sizeof cid, 1);
    size_t sizes[] = {5000, 3, 20000, 1, 700};

    for (size_t round = 0; round < sizeof sizes / sizeof sizes[0]; round++) {
        size_t count = sizes[round];
        cr_assert_eq (proto_encode_batch_begin (enc, PROTO_FILL, round, 1000, count), 0);
        for (size_t i = 0; i < count; i++) {
            uint64_t value = i * 31 + round;
            entry_t e = {round, value, cid, i % 17, (const uint8_t *)&value, sizeof value};
            cr_assert_eq (proto_encode_batch_entry (enc, &e), 0);
        }
        frame_t f = s_take (enc);
        cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK, "%s",
                      proto_decoder_error (dec));
        cr_assert_eq (msg.entry_count, count);
        for (size_t i = 0; i < count; i++) {
            uint64_t value = i * 31 + round;
            cr_assert_eq (msg.entries[i].req_id, value);
            cr_assert_eq (msg.entries[i].client_id_size, i % 17);
            cr_assert_eq (msg.entries[i].size, sizeof value);
            cr_assert_eq (memcmp (msg.entries[i].data, &value, sizeof value), 0);
        }
        free (f.data);
    }
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, roundtrip_list_reply)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_msg_t msg;

    //  End of log: no payloads.
    cr_assert_eq (proto_encode_list_begin (enc, RLOG_OK, 10, 11, 0), 0);
    frame_t f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_eq (msg.type, PROTO_LIST_REPLY);
    cr_assert_eq (msg.code, RLOG_OK);
    cr_assert_eq (msg.head, 10);
    cr_assert_eq (msg.seq, 11);
    cr_assert_eq (msg.entry_count, 0);
    free (f.data);

    uint8_t *big = (uint8_t *)malloc (MAX_PAYLOAD);
    s_fill (big, MAX_PAYLOAD, 0);
    cr_assert_eq (proto_encode_list_begin (enc, RLOG_OK, UINT64_MAX, 1, 3), 0);
    cr_assert_eq (proto_encode_list_entry (enc, "\0", 1), 0);
    cr_assert_eq (proto_encode_list_entry (enc, big, MAX_PAYLOAD), 0);
    cr_assert_eq (proto_encode_list_entry (enc, "hello", 5), 0);
    f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK, "%s",
                  proto_decoder_error (dec));
    cr_assert_eq (msg.head, UINT64_MAX);
    cr_assert_eq (msg.seq, 1);
    cr_assert_eq (msg.entry_count, 3);
    cr_assert_eq (msg.entries[0].size, 1);
    cr_assert_eq (msg.entries[0].data[0], 0);
    cr_assert_eq (msg.entries[1].size, MAX_PAYLOAD);
    cr_assert_arr_eq (msg.entries[1].data, big, MAX_PAYLOAD);
    cr_assert_eq (msg.entries[2].size, 5);
    cr_assert_arr_eq (msg.entries[2].data, "hello", 5);
    cr_assert_null (msg.entries[2].client_id);
    cr_assert_eq (msg.entries[2].epoch, 0);
    free (f.data);

    //  A code other than OK travels too.
    cr_assert_eq (proto_encode_list_begin (enc, RLOG_BUSY, 0, 0, 0), 0);
    f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_eq (msg.code, RLOG_BUSY);
    free (f.data);
    free (big);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, roundtrip_status_reply)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_msg_t msg;
    rlog_status_t *st = (rlog_status_t *)calloc (1, sizeof *st);
    size_t counts[] = {0, 3, RLOG_MAX_SECONDARIES};

    for (size_t round = 0; round < 3; round++) {
        s_sample_status (st, counts[round]);
        cr_assert_eq (proto_encode_status_reply (enc, st), 0);
        frame_t f = s_take (enc);
        cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK, "%s",
                      proto_decoder_error (dec));
        cr_assert_eq (msg.type, PROTO_STATUS_REPLY);
        cr_assert_eq (msg.code, RLOG_OK);
        cr_assert_not_null (msg.status);
        const rlog_status_t *out = msg.status;
        cr_assert_str_eq (out->role, "secondary");
        cr_assert_str_eq (out->node_id, "node-b");
        cr_assert_eq (out->epoch, st->epoch);
        cr_assert_eq (out->head, UINT64_MAX);
        cr_assert_str_eq (out->mode, "catching-up");
        cr_assert_str_eq (out->reason, st->reason);
        cr_assert_eq (out->nodes, 3);
        cr_assert_eq (out->healthy, UINT32_MAX);
        cr_assert_eq (out->quorum, 2);
        cr_assert_eq (out->waiting, 0);
        cr_assert_eq (out->secondary_count, counts[round]);
        for (size_t i = 0; i < out->secondary_count; i++) {
            cr_assert_str_eq (out->secondaries[i].id, st->secondaries[i].id);
            cr_assert_str_eq (out->secondaries[i].state, st->secondaries[i].state);
            cr_assert_eq (out->secondaries[i].acked, st->secondaries[i].acked);
            cr_assert_eq (out->secondaries[i].lag, st->secondaries[i].lag);
            cr_assert_eq (out->secondaries[i].last_heard_ms, st->secondaries[i].last_heard_ms);
            cr_assert_eq (out->secondaries[i].catching_up, st->secondaries[i].catching_up);
        }
        cr_assert_str_eq (out->master, "tcp://10.0.0.1:5557");
        cr_assert_eq (out->master_reachable, true);
        cr_assert_eq (out->master_last_heard_ms, -42);
        cr_assert_eq (out->master_head, 77);
        cr_assert_eq (out->held_back, 5);
        cr_assert_eq (out->duplicates, UINT64_MAX);
        cr_assert_eq (memcmp (out, st, sizeof *st), 0);
        free (f.data);
    }

    //  Strings filling their fields exactly (size - 1 bytes).
    memset (st, 0, sizeof *st);
    memset (st->role, 'r', sizeof st->role - 1);
    memset (st->node_id, 'n', sizeof st->node_id - 1);
    memset (st->mode, 'm', sizeof st->mode - 1);
    memset (st->reason, 'w', sizeof st->reason - 1);
    memset (st->master, 't', sizeof st->master - 1);
    st->secondary_count = 1;
    memset (st->secondaries[0].id, 'i', sizeof st->secondaries[0].id - 1);
    memset (st->secondaries[0].state, 's', sizeof st->secondaries[0].state - 1);
    st->secondaries[0].last_heard_ms = INT64_MAX;
    st->master_last_heard_ms = INT64_MIN;
    cr_assert_eq (proto_encode_status_reply (enc, st), 0);
    frame_t f = s_take (enc);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK, "%s",
                  proto_decoder_error (dec));
    cr_assert_eq (memcmp (msg.status, st, sizeof *st), 0);
    free (f.data);
    free (st);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}

Test (proto, status_missing_and_unknown_keys)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_msg_t msg;
    builder_t b;
    s_builder_init (&b);
    msgpack_pack_array (&b.pk, 4);
    msgpack_pack_uint64 (&b.pk, 1);
    msgpack_pack_uint64 (&b.pk, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (&b.pk, 0);
    msgpack_pack_map (&b.pk, 5);
    s_pack_cstr (&b.pk, "future_key");
    msgpack_pack_map (&b.pk, 1);
    s_pack_cstr (&b.pk, "x");
    msgpack_pack_double (&b.pk, 2.5);
    s_pack_cstr (&b.pk, "role");
    s_pack_cstr (&b.pk, "master");
    s_pack_cstr (&b.pk, "another");
    msgpack_pack_nil (&b.pk);
    s_pack_cstr (&b.pk, "secondaries");
    msgpack_pack_array (&b.pk, 1);
    msgpack_pack_map (&b.pk, 2);
    s_pack_cstr (&b.pk, "id");
    s_pack_cstr (&b.pk, "s1");
    s_pack_cstr (&b.pk, "unknown");
    msgpack_pack_int64 (&b.pk, -5);
    s_pack_cstr (&b.pk, "head");
    msgpack_pack_uint64 (&b.pk, 12);

    frame_t f = s_take_sbuf (&b.sbuf);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK, "%s",
                  proto_decoder_error (dec));
    const rlog_status_t *st = msg.status;
    cr_assert_str_eq (st->role, "master");
    cr_assert_eq (st->head, 12);
    cr_assert_eq (st->epoch, 0);
    cr_assert_str_eq (st->node_id, "");
    cr_assert_eq (st->secondary_count, 1);
    cr_assert_str_eq (st->secondaries[0].id, "s1");
    cr_assert_eq (st->secondaries[0].last_heard_ms, 0);
    cr_assert_eq (st->master_last_heard_ms, -1);
    cr_assert_eq (st->master_reachable, false);
    free (f.data);

    //  An empty map: all zero, master_last_heard_ms -1.
    msgpack_sbuffer_clear (&b.sbuf);
    msgpack_pack_array (&b.pk, 4);
    msgpack_pack_uint64 (&b.pk, 1);
    msgpack_pack_uint64 (&b.pk, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (&b.pk, RLOG_INTERNAL);
    msgpack_pack_map (&b.pk, 0);
    f = s_take_sbuf (&b.sbuf);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_eq (msg.code, RLOG_INTERNAL);
    cr_assert_eq (msg.status->secondary_count, 0);
    cr_assert_eq (msg.status->master_last_heard_ms, -1);
    cr_assert_str_eq (msg.status->role, "");
    free (f.data);
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

//  --------------------------------------------------------------------------
//  Malformed: framing

Test (proto, empty_buffer)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_msg_t msg;
    uint8_t byte = 0x92;
    cr_assert_eq (proto_decode (dec, &byte, 0, &msg), RLOG_MALFORMED);
    cr_assert_eq (proto_decode (dec, NULL, 0, &msg), RLOG_MALFORMED);
    cr_assert_eq (s_decode_bytes (dec, "", 0), RLOG_MALFORMED);
    cr_assert_eq (msg.type, 0);
    proto_decoder_destroy (&dec);
}

Test (proto, every_truncation)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    frame_t frames[SAMPLE_MAX];
    size_t count = s_sample_frames (frames);
    for (size_t i = 0; i < count; i++) {
        cr_assert_eq (s_decode_bytes (dec, frames[i].data, frames[i].size), RLOG_OK, "%s",
                      proto_decoder_error (dec));
        for (size_t len = 0; len < frames[i].size; len++)
            cr_assert_eq (s_decode_bytes (dec, frames[i].data, len), RLOG_MALFORMED,
                          "frame %zu cut to %zu of %zu bytes", i, len, frames[i].size);
    }
    s_free_frames (frames, count);
    proto_decoder_destroy (&dec);
}

Test (proto, trailing_garbage)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    frame_t frames[SAMPLE_MAX];
    size_t count = s_sample_frames (frames);
    const uint8_t tails[][3] = {{0xc0}, {0x00}, {0x92, 0x01, 0x03}};
    const size_t tail_sizes[] = {1, 1, 3};
    for (size_t i = 0; i < count; i++) {
        for (size_t t = 0; t < 3; t++) {
            size_t size = frames[i].size + tail_sizes[t];
            uint8_t *buf = (uint8_t *)malloc (size);
            memcpy (buf, frames[i].data, frames[i].size);
            memcpy (buf + frames[i].size, tails[t], tail_sizes[t]);
            cr_assert_eq (s_decode_bytes (dec, buf, size), RLOG_MALFORMED, "frame %zu tail %zu", i,
                          t);
            cr_assert_not_null (strstr (proto_decoder_error (dec), "trailing"), "%s",
                                proto_decoder_error (dec));
            free (buf);
        }
    }
    s_free_frames (frames, count);
    proto_decoder_destroy (&dec);
}

Test (proto, not_an_array)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    const uint8_t nil[] = {0xc0};
    const uint8_t number[] = {0x01};
    const uint8_t str[] = {0xa2, 'h', 'i'};
    const uint8_t bin[] = {0xc4, 0x01, 0x01};
    const uint8_t map[] = {0x82, 0x01, 0x01, 0x02, 0x03}; //  {1: 1, 2: 3}
    const uint8_t map16[] = {0xde, 0x00, 0x01, 0xa1, 'v', 0x01};
    const uint8_t fl[] = {0xcb, 0, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq (s_decode_bytes (dec, nil, sizeof nil), RLOG_MALFORMED);
    cr_assert_eq (s_decode_bytes (dec, number, sizeof number), RLOG_MALFORMED);
    cr_assert_eq (s_decode_bytes (dec, str, sizeof str), RLOG_MALFORMED);
    cr_assert_eq (s_decode_bytes (dec, bin, sizeof bin), RLOG_MALFORMED);
    cr_assert_eq (s_decode_bytes (dec, map, sizeof map), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "frame is not an array");
    cr_assert_eq (s_decode_bytes (dec, map16, sizeof map16), RLOG_MALFORMED);
    cr_assert_eq (s_decode_bytes (dec, fl, sizeof fl), RLOG_MALFORMED);

    //  Arrays too short to hold version and type.
    const uint8_t empty[] = {0x90};
    const uint8_t one[] = {0x91, 0x01};
    cr_assert_eq (s_decode_bytes (dec, empty, sizeof empty), RLOG_MALFORMED);
    cr_assert_eq (s_decode_bytes (dec, one, sizeof one), RLOG_MALFORMED);
    const uint8_t version2_alone[] = {0x91, 0x02};
    cr_assert_eq (s_decode_bytes (dec, version2_alone, sizeof version2_alone), RLOG_MALFORMED);

    //  Array 16 / 32 headers are accepted as well as fixarray.
    const uint8_t array16[] = {0xdc, 0x00, 0x03, 0x01, 0x15, 0x07};
    const uint8_t array32[] = {0xdd, 0x00, 0x00, 0x00, 0x03, 0x01, 0x15, 0xcf,
                               0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07};
    cr_assert_eq (s_decode_bytes (dec, array16, sizeof array16), RLOG_OK);
    cr_assert_eq (s_decode_bytes (dec, array32, sizeof array32), RLOG_OK);
    proto_decoder_destroy (&dec);
}

Test (proto, version_checks)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);

    //  Version not an unsigned integer: MALFORMED.
    for (int kind = 0; kind < 6; kind++) {
        msgpack_sbuffer_clear (&b.sbuf);
        msgpack_pack_array (&b.pk, 3);
        switch (kind) {
        case 0:
            msgpack_pack_int64 (&b.pk, -1);
            break;
        case 1:
            s_pack_cstr (&b.pk, "1");
            break;
        case 2:
            msgpack_pack_nil (&b.pk);
            break;
        case 3:
            msgpack_pack_double (&b.pk, 1.0);
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
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED, "kind %d", kind);
        cr_assert_str_eq (proto_decoder_error (dec),
                          "field 0 (version) must be an unsigned integer");
    }

    //  Another version: BAD_VERSION, whatever follows.
    uint64_t versions[] = {0, 2, 255, 65536, UINT64_MAX};
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

        msgpack_sbuffer_clear (&b.sbuf);
        msgpack_pack_array (&b.pk, 2);
        msgpack_pack_uint64 (&b.pk, versions[i]);
        msgpack_pack_uint64 (&b.pk, 999);
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_BAD_VERSION);
    }
    //  Version 2 with a valid-looking v1 APPEND body.
    const uint8_t v2[] = {0x97, 0x02, 0x01, 0xc4, 0x00, 0x01, 0x01, 0x00, 0xc4, 0x01, 'x'};
    cr_assert_eq (s_decode_bytes (dec, v2, sizeof v2), RLOG_BAD_VERSION);
    cr_assert_str_eq (proto_decoder_error (dec), "unsupported protocol version 2");
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

Test (proto, unknown_type)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);
    uint64_t types[] = {0, 4, 9, 12, 19, 23, 29, 32, 39, 43, 48, 50, 77, 255, UINT64_MAX};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        for (int extra = 0; extra < 3; extra++) {
            msgpack_sbuffer_clear (&b.sbuf);
            msgpack_pack_array (&b.pk, 2 + extra);
            msgpack_pack_uint64 (&b.pk, 1);
            msgpack_pack_uint64 (&b.pk, types[i]);
            for (int k = 0; k < extra; k++)
                msgpack_pack_nil (&b.pk);
            cr_assert_eq (s_decode_builder (dec, &b), RLOG_UNKNOWN_TYPE, "type %zu", i);
        }
    }
    const uint8_t t77[] = {0x92, 0x01, 0x4d};
    cr_assert_eq (s_decode_bytes (dec, t77, sizeof t77), RLOG_UNKNOWN_TYPE);
    cr_assert_str_eq (proto_decoder_error (dec), "unknown message type 77");

    //  A type that is not an unsigned integer is malformed.
    const uint8_t neg[] = {0x92, 0x01, 0xff};
    const uint8_t str[] = {0x92, 0x01, 0xa1, 'A'};
    cr_assert_eq (s_decode_bytes (dec, neg, sizeof neg), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "field 1 (type) must be an unsigned integer");
    cr_assert_eq (s_decode_bytes (dec, str, sizeof str), RLOG_MALFORMED);
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

//  --------------------------------------------------------------------------
//  Malformed: counts and field types, generated from valid frames

//  Pack O, replacing the object at TARGET by replacement KIND.
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

//  Every node of a tree, with the key it is the value of (if any).
typedef struct {
    const msgpack_object *node;
    const msgpack_object *key;
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

//  Replacement KIND is still valid for the status value under KEY.
static bool s_replacement_valid (const msgpack_object *key, int kind)
{
    if (s_key_is (key, "last_heard_ms") || s_key_is (key, "master_last_heard_ms"))
        return kind == 1 || kind == 2;
    if (s_key_is (key, "catching_up") || s_key_is (key, "master_reachable"))
        return kind == 5 || kind == 6;
    return false;
}

Test (proto, wrong_type_at_every_position)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    frame_t frames[SAMPLE_MAX];
    size_t count = s_sample_frames (frames);
    builder_t b;
    s_builder_init (&b);
    size_t checked = 0;

    for (size_t i = 0; i < count; i++) {
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        size_t off = 0;
        cr_assert_eq (
            msgpack_unpack_next (&unpacked, (const char *)frames[i].data, frames[i].size, &off),
            MSGPACK_UNPACK_SUCCESS);
        node_t nodes[512];
        size_t nnodes = 0;
        s_collect (&unpacked.data, NULL, nodes, &nnodes, 512);
        for (size_t n = 0; n < nnodes; n++) {
            for (int kind = 0; kind < REPLACEMENTS; kind++) {
                msgpack_sbuffer_clear (&b.sbuf);
                s_pack_tree (&b.pk, &unpacked.data, nodes[n].node, kind);
                int rc = s_decode_builder (dec, &b);
                int expected = s_replacement_valid (nodes[n].key, kind) ? RLOG_OK : RLOG_MALFORMED;
                cr_assert_eq (rc, expected, "frame %zu node %zu kind %d: rc %d (%s)", i, n, kind,
                              rc, proto_decoder_error (dec));
                checked++;
            }
        }
        msgpack_unpacked_destroy (&unpacked);
    }
    cr_assert_gt (checked, 1000);
    s_builder_fini (&b);
    s_free_frames (frames, count);
    proto_decoder_destroy (&dec);
}

Test (proto, wrong_element_count)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    frame_t frames[SAMPLE_MAX];
    size_t count = s_sample_frames (frames);
    builder_t b;
    s_builder_init (&b);

    for (size_t i = 0; i < count; i++) {
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        size_t off = 0;
        cr_assert_eq (
            msgpack_unpack_next (&unpacked, (const char *)frames[i].data, frames[i].size, &off),
            MSGPACK_UNPACK_SUCCESS);
        const msgpack_object_array *root = &unpacked.data.via.array;

        //  One element short, one element over (nil or a valid-looking uint).
        for (int variant = 0; variant < 3; variant++) {
            msgpack_sbuffer_clear (&b.sbuf);
            uint32_t size = variant == 0 ? root->size - 1 : root->size + 1;
            msgpack_pack_array (&b.pk, size);
            for (uint32_t k = 0; k < root->size && k < size; k++)
                msgpack_pack_object (&b.pk, root->ptr[k]);
            if (variant == 1)
                msgpack_pack_nil (&b.pk);
            if (variant == 2)
                msgpack_pack_uint64 (&b.pk, 1);
            cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED, "frame %zu variant %d", i,
                          variant);
        }

        //  BATCH / FILL entries with 3 or 5 elements.
        if (root->ptr[1].via.u64 == PROTO_BATCH || root->ptr[1].via.u64 == PROTO_FILL) {
            const msgpack_object_array *entries = &root->ptr[4].via.array;
            for (int variant = 0; variant < 2; variant++) {
                msgpack_sbuffer_clear (&b.sbuf);
                msgpack_pack_array (&b.pk, 5);
                for (int k = 0; k < 4; k++)
                    msgpack_pack_object (&b.pk, root->ptr[k]);
                msgpack_pack_array (&b.pk, entries->size);
                for (uint32_t e = 0; e < entries->size; e++) {
                    const msgpack_object_array *entry = &entries->ptr[e].via.array;
                    if (e != 1)
                        msgpack_pack_object (&b.pk, entries->ptr[e]);
                    else {
                        msgpack_pack_array (&b.pk, variant ? 5 : 3);
                        for (uint32_t k = 0; k < 3; k++)
                            msgpack_pack_object (&b.pk, entry->ptr[k]);
                        if (variant) {
                            msgpack_pack_object (&b.pk, entry->ptr[3]);
                            msgpack_pack_uint64 (&b.pk, 0);
                        }
                    }
                }
                cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
                cr_assert_str_eq (proto_decoder_error (dec),
                                  "entry 1 must be an array of 4 elements");
            }
        }
        msgpack_unpacked_destroy (&unpacked);
    }
    s_builder_fini (&b);
    s_free_frames (frames, count);
    proto_decoder_destroy (&dec);
}

Test (proto, field_error_text)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    //  APPEND with req_id = "x".
    const uint8_t f[] = {0x97, 0x01, 0x01, 0xc4, 0x00, 0xa1, 'x', 0x01, 0x00, 0xc4, 0x01, 'p'};
    cr_assert_eq (s_decode_bytes (dec, f, sizeof f), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "field 3 (req_id) must be an unsigned integer");
    //  ACK with a negative number (-128 packed as int 8).
    const uint8_t neg[] = {0x93, 0x01, 0x15, 0xd0, 0x80};
    cr_assert_eq (s_decode_bytes (dec, neg, sizeof neg), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "field 2 (acked) must be an unsigned integer");
    //  Non-negative values in signed encodings are unsigned integers.
    const uint8_t pos[] = {0x93, 0x01, 0x15, 0xd3, 0, 0, 0, 0, 0, 0, 0, 5};
    cr_assert_eq (s_decode_bytes (dec, pos, sizeof pos), RLOG_OK);
    proto_decoder_destroy (&dec);
}

//  --------------------------------------------------------------------------
//  Malformed: semantic field bounds

static void s_pack_append (builder_t *b, size_t client_id_size, size_t payload_size)
{
    uint8_t *buf = (uint8_t *)calloc (1, client_id_size + payload_size + 1);
    msgpack_sbuffer_clear (&b->sbuf);
    msgpack_pack_array (&b->pk, 7);
    msgpack_pack_uint64 (&b->pk, 1);
    msgpack_pack_uint64 (&b->pk, PROTO_APPEND);
    msgpack_pack_bin_with_body (&b->pk, buf, client_id_size);
    msgpack_pack_uint64 (&b->pk, 42);
    msgpack_pack_uint64 (&b->pk, 2);
    msgpack_pack_uint64 (&b->pk, 100);
    msgpack_pack_bin_with_body (&b->pk, buf, payload_size);
    free (buf);
}

Test (proto, append_payload_bounds)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_msg_t msg;
    builder_t b;
    s_builder_init (&b);

    s_pack_append (&b, 16, 0);
    frame_t f = s_take_sbuf (&b.sbuf);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_EMPTY);
    //  The frame itself was sound: the master can still answer the APPEND.
    cr_assert_eq (msg.type, PROTO_APPEND);
    cr_assert_eq (msg.req_id, 42);
    cr_assert_eq (msg.client_id_size, 16);
    free (f.data);

    s_pack_append (&b, 16, MAX_PAYLOAD + 1);
    f = s_take_sbuf (&b.sbuf);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_TOO_LARGE);
    cr_assert_eq (msg.type, PROTO_APPEND);
    cr_assert_eq (msg.w, 2);
    free (f.data);

    s_pack_append (&b, 0, MAX_PAYLOAD);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_OK);
    s_pack_append (&b, ENTRY_CLIENT_ID_MAX, 1);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_OK);
    s_pack_append (&b, ENTRY_CLIENT_ID_MAX + 1, 1);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    //  A malformed frame wins over an empty payload.
    s_pack_append (&b, ENTRY_CLIENT_ID_MAX + 1, 0);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);

    //  A decoder limited to 0 bytes refuses every payload.
    proto_decoder_t *tiny = proto_decoder_new (0);
    s_pack_append (&b, 0, 1);
    cr_assert_eq (s_decode_builder (tiny, &b), RLOG_TOO_LARGE);
    proto_decoder_destroy (&tiny);
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

static void s_pack_batch (builder_t *b, size_t count, size_t client_id_size, size_t payload_size)
{
    uint8_t *buf = (uint8_t *)calloc (1, client_id_size + payload_size + 1);
    msgpack_sbuffer_clear (&b->sbuf);
    msgpack_pack_array (&b->pk, 5);
    msgpack_pack_uint64 (&b->pk, 1);
    msgpack_pack_uint64 (&b->pk, PROTO_BATCH);
    msgpack_pack_uint64 (&b->pk, 3);
    msgpack_pack_uint64 (&b->pk, 1);
    msgpack_pack_array (&b->pk, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_pack_array (&b->pk, 4);
        msgpack_pack_uint64 (&b->pk, 3);
        msgpack_pack_bin_with_body (&b->pk, buf, i + 1 == count ? client_id_size : 0);
        msgpack_pack_uint64 (&b->pk, i);
        msgpack_pack_bin_with_body (&b->pk, buf, i + 1 == count ? payload_size : 1);
    }
    free (buf);
}

Test (proto, batch_entry_bounds)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);

    s_pack_batch (&b, 0, 0, 1);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    s_pack_batch (&b, 3, 0, 1);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_OK);
    s_pack_batch (&b, 3, 0, 0);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "entry 2 field 3 (payload) must not be empty");
    s_pack_batch (&b, 3, 0, MAX_PAYLOAD);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_OK);
    s_pack_batch (&b, 3, 0, MAX_PAYLOAD + 1);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_TOO_LARGE);
    s_pack_batch (&b, 2, ENTRY_CLIENT_ID_MAX, 1);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_OK);
    s_pack_batch (&b, 2, ENTRY_CLIENT_ID_MAX + 1, 1);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec),
                      "entry 1 field 1 (client_id) must be at most 64 bytes");
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

Test (proto, list_reply_payload_bounds)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);
    uint8_t *buf = (uint8_t *)calloc (1, MAX_PAYLOAD + 1);
    size_t sizes[] = {0, MAX_PAYLOAD + 1};
    int codes[] = {RLOG_MALFORMED, RLOG_TOO_LARGE};
    for (int i = 0; i < 2; i++) {
        msgpack_sbuffer_clear (&b.sbuf);
        msgpack_pack_array (&b.pk, 6);
        msgpack_pack_uint64 (&b.pk, 1);
        msgpack_pack_uint64 (&b.pk, PROTO_LIST_REPLY);
        msgpack_pack_uint64 (&b.pk, 0);
        msgpack_pack_uint64 (&b.pk, 5);
        msgpack_pack_uint64 (&b.pk, 1);
        msgpack_pack_array (&b.pk, 2);
        msgpack_pack_bin_with_body (&b.pk, buf, 1);
        msgpack_pack_bin_with_body (&b.pk, buf, sizes[i]);
        cr_assert_eq (s_decode_builder (dec, &b), codes[i]);
    }
    free (buf);
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

static void s_pack_hello_id (builder_t *b, const char *id, size_t size)
{
    msgpack_sbuffer_clear (&b->sbuf);
    msgpack_pack_array (&b->pk, 5);
    msgpack_pack_uint64 (&b->pk, 1);
    msgpack_pack_uint64 (&b->pk, PROTO_HELLO);
    msgpack_pack_str_with_body (&b->pk, id, size);
    msgpack_pack_uint64 (&b->pk, 1);
    msgpack_pack_uint64 (&b->pk, 1);
}

Test (proto, hello_node_id_bounds)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);
    char id[80];
    memset (id, 'q', sizeof id);

    s_pack_hello_id (&b, "a\0b", 3);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "field 2 (node_id) must not contain a NUL byte");
    s_pack_hello_id (&b, "\0", 1);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    s_pack_hello_id (&b, "", 0);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    s_pack_hello_id (&b, id, PROTO_NODE_ID_MAX);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_OK);
    s_pack_hello_id (&b, id, PROTO_NODE_ID_MAX + 1);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    //  As bin instead of str.
    msgpack_sbuffer_clear (&b.sbuf);
    msgpack_pack_array (&b.pk, 5);
    msgpack_pack_uint64 (&b.pk, 1);
    msgpack_pack_uint64 (&b.pk, PROTO_HELLO);
    msgpack_pack_bin_with_body (&b.pk, "id", 2);
    msgpack_pack_uint64 (&b.pk, 1);
    msgpack_pack_uint64 (&b.pk, 1);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

Test (proto, text_bounds)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    builder_t b;
    s_builder_init (&b);
    char text[300];
    memset (text, 't', sizeof text);
    size_t sizes[] = {0, PROTO_TEXT_MAX, PROTO_TEXT_MAX + 1, 299};
    int codes[] = {RLOG_OK, RLOG_OK, RLOG_MALFORMED, RLOG_MALFORMED};
    for (int i = 0; i < 4; i++) {
        msgpack_sbuffer_clear (&b.sbuf);
        msgpack_pack_array (&b.pk, 4);
        msgpack_pack_uint64 (&b.pk, 1);
        msgpack_pack_uint64 (&b.pk, PROTO_ERROR);
        msgpack_pack_uint64 (&b.pk, RLOG_BUSY);
        msgpack_pack_str_with_body (&b.pk, text, sizes[i]);
        cr_assert_eq (s_decode_builder (dec, &b), codes[i], "size %zu", sizes[i]);

        msgpack_sbuffer_clear (&b.sbuf);
        msgpack_pack_array (&b.pk, 8);
        msgpack_pack_uint64 (&b.pk, 1);
        msgpack_pack_uint64 (&b.pk, PROTO_APPEND_REPLY);
        msgpack_pack_uint64 (&b.pk, RLOG_OK);
        msgpack_pack_uint64 (&b.pk, 1);
        msgpack_pack_uint64 (&b.pk, 1);
        msgpack_pack_uint64 (&b.pk, 1);
        msgpack_pack_str_with_body (&b.pk, text, sizes[i]);
        msgpack_pack_uint64 (&b.pk, 1);
        cr_assert_eq (s_decode_builder (dec, &b), codes[i], "size %zu", sizes[i]);
    }
    msgpack_sbuffer_clear (&b.sbuf);
    msgpack_pack_array (&b.pk, 4);
    msgpack_pack_uint64 (&b.pk, 1);
    msgpack_pack_uint64 (&b.pk, PROTO_ERROR);
    msgpack_pack_uint64 (&b.pk, RLOG_BUSY);
    msgpack_pack_str_with_body (&b.pk, "busy\0", 5);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

//  A STATUS_REPLY with one key KEY whose value is packed by the caller.
static void s_status_begin (builder_t *b, const char *key)
{
    msgpack_sbuffer_clear (&b->sbuf);
    msgpack_pack_array (&b->pk, 4);
    msgpack_pack_uint64 (&b->pk, 1);
    msgpack_pack_uint64 (&b->pk, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (&b->pk, 0);
    msgpack_pack_map (&b->pk, 1);
    s_pack_cstr (&b->pk, key);
}

Test (proto, status_bounds)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    proto_msg_t msg;
    builder_t b;
    s_builder_init (&b);
    char text[300];
    memset (text, 's', sizeof text);

    //  Each string key: size - 1 bytes fit, size bytes do not.
    struct {
        const char *key;
        size_t field;
    } strs[] = {{"role", 16}, {"node_id", 64}, {"mode", 16}, {"reason", 128}, {"master", 256}};
    for (size_t i = 0; i < 5; i++) {
        s_status_begin (&b, strs[i].key);
        msgpack_pack_str_with_body (&b.pk, text, strs[i].field - 1);
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_OK, "%s", strs[i].key);
        s_status_begin (&b, strs[i].key);
        msgpack_pack_str_with_body (&b.pk, text, strs[i].field);
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED, "%s", strs[i].key);
        s_status_begin (&b, strs[i].key);
        msgpack_pack_str_with_body (&b.pk, "a\0", 2);
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED, "%s", strs[i].key);
    }
    //  uint32 counters.
    const char *u32[] = {"nodes", "healthy", "quorum", "waiting"};
    for (size_t i = 0; i < 4; i++) {
        s_status_begin (&b, u32[i]);
        msgpack_pack_uint64 (&b.pk, UINT32_MAX);
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_OK);
        s_status_begin (&b, u32[i]);
        msgpack_pack_uint64 (&b.pk, (uint64_t)UINT32_MAX + 1);
        cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    }
    //  Signed values: any int64, not above INT64_MAX.
    s_status_begin (&b, "master_last_heard_ms");
    msgpack_pack_uint64 (&b.pk, (uint64_t)INT64_MAX + 1);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    s_status_begin (&b, "master_last_heard_ms");
    msgpack_pack_int64 (&b.pk, 1234);
    frame_t f = s_take_sbuf (&b.sbuf);
    cr_assert_eq (proto_decode (dec, f.data, f.size, &msg), RLOG_OK);
    cr_assert_eq (msg.status->master_last_heard_ms, 1234);
    free (f.data);

    //  Too many secondaries.
    for (size_t n = RLOG_MAX_SECONDARIES; n <= RLOG_MAX_SECONDARIES + 1; n++) {
        s_status_begin (&b, "secondaries");
        msgpack_pack_array (&b.pk, n);
        for (size_t i = 0; i < n; i++)
            msgpack_pack_map (&b.pk, 0);
        cr_assert_eq (s_decode_builder (dec, &b),
                      n <= RLOG_MAX_SECONDARIES ? RLOG_OK : RLOG_MALFORMED);
    }
    //  Secondary string fields.
    const char *sec_keys[] = {"id", "state"};
    size_t sec_sizes[] = {64, 16};
    for (size_t i = 0; i < 2; i++) {
        for (size_t extra = 0; extra < 2; extra++) {
            s_status_begin (&b, "secondaries");
            msgpack_pack_array (&b.pk, 1);
            msgpack_pack_map (&b.pk, 1);
            s_pack_cstr (&b.pk, sec_keys[i]);
            msgpack_pack_str_with_body (&b.pk, text, sec_sizes[i] - 1 + extra);
            cr_assert_eq (s_decode_builder (dec, &b), extra ? RLOG_MALFORMED : RLOG_OK);
        }
    }
    //  Non-string keys.
    msgpack_sbuffer_clear (&b.sbuf);
    msgpack_pack_array (&b.pk, 4);
    msgpack_pack_uint64 (&b.pk, 1);
    msgpack_pack_uint64 (&b.pk, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (&b.pk, 0);
    msgpack_pack_map (&b.pk, 1);
    msgpack_pack_uint64 (&b.pk, 1);
    msgpack_pack_uint64 (&b.pk, 1);
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    s_status_begin (&b, "secondaries");
    msgpack_pack_array (&b.pk, 1);
    msgpack_pack_map (&b.pk, 1);
    msgpack_pack_bin_with_body (&b.pk, "id", 2);
    s_pack_cstr (&b.pk, "x");
    cr_assert_eq (s_decode_builder (dec, &b), RLOG_MALFORMED);
    s_builder_fini (&b);
    proto_decoder_destroy (&dec);
}

//  --------------------------------------------------------------------------
//  Malformed: hostile lengths and nesting

Test (proto, huge_declared_lengths)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    const uint8_t array32[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    const uint8_t array16[] = {0xdc, 0xff, 0xff, 0x01, 0x01};
    const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    const uint8_t map16[] = {0xde, 0x00, 0x02, 0x01, 0x01, 0x01}; //  2 pairs, 3 bytes
    const uint8_t bin32[] = {0xc6, 0xff, 0xff, 0xff, 0xff};
    const uint8_t str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff};
    const uint8_t ext32[] = {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01};
    const uint8_t hundred_m[] = {0xdd, 0x05, 0xf5, 0xe1, 0x00, 0x01, 0x01};
    //  Inside frames: BATCH entries, APPEND client id / payload, ERROR text.
    const uint8_t batch[] = {0x95, 0x01, 0x0a, 0x00, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff};
    const uint8_t batch2[] = {0x95, 0x01, 0x0a, 0x00, 0x01, 0x91, 0xdd, 0x7f, 0xff, 0xff, 0xff};
    const uint8_t append_cid[] = {0x97, 0x01, 0x01, 0xc6, 0xff, 0xff, 0xff,
                                  0xff, 0x01, 0x01, 0x00, 0xc4, 0x01, 'x'};
    const uint8_t append_payload[] = {0x97, 0x01, 0x01, 0xc4, 0x00, 0x01, 0x01,
                                      0x00, 0xc6, 0x7f, 0xff, 0xff, 0xff, 'x'};
    const uint8_t error_text[] = {0x94, 0x01, 0x31, 0x08, 0xdb, 0xff, 0xff, 0xff, 0xff, 'e'};
    const uint8_t status_map[] = {0x94, 0x01, 0x2a, 0x00, 0xdf, 0x80, 0x00, 0x00, 0x00};
    const uint8_t top_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x0b, 0x00, 0x00};
    struct {
        const uint8_t *data;
        size_t size;
    } cases[] = {
        {array32, sizeof array32},       {array16, sizeof array16},
        {map32, sizeof map32},           {map16, sizeof map16},
        {bin32, sizeof bin32},           {str32, sizeof str32},
        {ext32, sizeof ext32},           {hundred_m, sizeof hundred_m},
        {batch, sizeof batch},           {batch2, sizeof batch2},
        {append_cid, sizeof append_cid}, {append_payload, sizeof append_payload},
        {error_text, sizeof error_text}, {status_map, sizeof status_map},
        {top_array, sizeof top_array},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq (s_decode_bytes (dec, cases[i].data, cases[i].size), RLOG_MALFORMED,
                      "case %zu", i);

    //  A large but honest array passes the pre-scan.
    size_t n = 100000;
    uint8_t *buf = (uint8_t *)malloc (5 + n);
    buf[0] = 0xdd;
    buf[1] = 0;
    buf[2] = (uint8_t)(n >> 16);
    buf[3] = (uint8_t)(n >> 8);
    buf[4] = (uint8_t)n;
    memset (buf + 5, 0xc0, n);
    buf[5] = 0x01;
    buf[6] = 0x03;
    cr_assert_eq (s_decode_bytes (dec, buf, 5 + n), RLOG_MALFORMED);
    cr_assert_str_eq (proto_decoder_error (dec), "STATUS needs 2 elements, not 100000");
    free (buf);
    proto_decoder_destroy (&dec);
}

Test (proto, deep_nesting)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    uint8_t buf[64];
    //  40 nested one-element arrays around a 1.
    memset (buf, 0x91, 40);
    buf[40] = 0x01;
    cr_assert_eq (s_decode_bytes (dec, buf, 41), RLOG_MALFORMED);
    cr_assert_not_null (strstr (proto_decoder_error (dec), "nested"));
    //  Same with maps.
    for (int i = 0; i < 20; i++) {
        buf[2 * i] = 0x81;
        buf[2 * i + 1] = 0x01;
    }
    buf[40] = 0x01;
    cr_assert_eq (s_decode_bytes (dec, buf, 41), RLOG_MALFORMED);
    cr_assert_not_null (strstr (proto_decoder_error (dec), "nested"));

    //  [1, 3, [[[[[[ ]]]]]]]: 8 levels pass the scan (wrong count), 9 do not.
    for (int levels = 8; levels <= 9; levels++) {
        size_t size = 0;
        buf[size++] = 0x93;
        buf[size++] = 0x01;
        buf[size++] = 0x03;
        for (int i = 0; i < levels - 2; i++)
            buf[size++] = 0x91;
        buf[size++] = 0x90;
        cr_assert_eq (s_decode_bytes (dec, buf, size), RLOG_MALFORMED);
        if (levels == 8)
            cr_assert_str_eq (proto_decoder_error (dec), "STATUS needs 2 elements, not 3");
        else
            cr_assert_not_null (strstr (proto_decoder_error (dec), "nested"));
    }
    proto_decoder_destroy (&dec);
}

Test (proto, invalid_bytes)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    const uint8_t c1[] = {0x93, 0x01, 0x15, 0xc1};
    cr_assert_eq (s_decode_bytes (dec, c1, sizeof c1), RLOG_MALFORMED);
    const uint8_t c1_top[] = {0xc1};
    cr_assert_eq (s_decode_bytes (dec, c1_top, sizeof c1_top), RLOG_MALFORMED);
    //  Every scalar kind, in an ACK's acked field.
    const uint8_t scalars[][10] = {
        {0xc0},          {0xc2},          {0xca, 0, 0, 0, 0},    {0xcb, 0, 0, 0, 0, 0, 0, 0, 0},
        {0xd4, 1, 1},    {0xd5, 1, 1, 1}, {0xd6, 1, 1, 1, 1, 1}, {0xd7, 1, 1, 1, 1, 1, 1, 1, 1, 1},
        {0xc7, 1, 1, 1}, {0xd9, 1, 'a'},
    };
    const size_t sizes[] = {1, 1, 5, 9, 3, 4, 6, 10, 4, 3};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t frame[16] = {0x93, 0x01, 0x15};
        memcpy (frame + 3, scalars[i], sizes[i]);
        cr_assert_eq (s_decode_bytes (dec, frame, 3 + sizes[i]), RLOG_MALFORMED, "%zu", i);
        cr_assert_str_eq (proto_decoder_error (dec), "field 2 (acked) must be an unsigned integer");
        //  One byte short is caught as truncated.
        cr_assert_eq (s_decode_bytes (dec, frame, 3 + sizes[i] - 1), RLOG_MALFORMED);
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
    if (rc == RLOG_OK) {
        cr_assert_neq (msg.type, 0);
        for (size_t i = 0; i < msg.entry_count; i++) {
            const entry_t *e = &msg.entries[i];
            cr_assert (e->data >= copy && e->data + e->size <= copy + size);
            cr_assert_leq (e->size, MAX_PAYLOAD);
            cr_assert_leq (e->client_id_size, ENTRY_CLIENT_ID_MAX);
        }
        if (msg.data)
            cr_assert (msg.data >= copy && msg.data + msg.size <= copy + size);
        cr_assert_lt (strlen (msg.text), sizeof msg.text);
    }
    free (copy);
}

Test (proto, random_buffers, .timeout = 60.0)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    uint64_t state = 0x9E3779B97F4A7C15ULL;
    uint8_t buf[512];
    const uint8_t types[] = {1, 2, 3, 10, 11, 20, 21, 22, 30, 31, 40, 41, 42, 49};
    for (int round = 0; round < 20000; round++) {
        size_t size = (size_t)(s_rand (&state) % sizeof buf);
        for (size_t i = 0; i < size; i++)
            buf[i] = (uint8_t)s_rand (&state);
        //  Half of them start like a frame, to get past the first checks.
        if (round % 2 && size >= 3) {
            buf[0] = (uint8_t)(0x92 + s_rand (&state) % 6);
            buf[1] = 0x01;
            buf[2] = types[s_rand (&state) % sizeof types];
        }
        s_check_random (dec, buf, size);
    }
    proto_decoder_destroy (&dec);
}

Test (proto, mutated_frames, .timeout = 60.0)
{
    proto_decoder_t *dec = proto_decoder_new (MAX_PAYLOAD);
    frame_t frames[SAMPLE_MAX];
    size_t count = s_sample_frames (frames);
    uint64_t state = 12345;
    for (size_t i = 0; i < count; i++) {
        uint8_t *buf = (uint8_t *)malloc (frames[i].size + 1);
        for (int round = 0; round < 2000; round++) {
            memcpy (buf, frames[i].data, frames[i].size);
            size_t size = frames[i].size;
            size_t pos = (size_t)(s_rand (&state) % size);
            switch (round % 4) {
            case 0: //  random byte
                buf[pos] = (uint8_t)s_rand (&state);
                break;
            case 1: //  bit flip
                buf[pos] ^= (uint8_t)(1u << (s_rand (&state) % 8));
                break;
            case 2: //  delete a byte
                memmove (buf + pos, buf + pos + 1, size - pos - 1);
                size--;
                break;
            default: //  insert a byte
                memmove (buf + pos + 1, buf + pos, size - pos);
                buf[pos] = (uint8_t)s_rand (&state);
                size++;
                break;
            }
            s_check_random (dec, buf, size);
        }
        //  Every single-byte value at every position.
        for (size_t p = 0; p < frames[i].size && frames[i].size < 128; p++) {
            for (int v = 0; v < 256; v++) {
                memcpy (buf, frames[i].data, frames[i].size);
                buf[p] = (uint8_t)v;
                s_check_random (dec, buf, frames[i].size);
            }
        }
        free (buf);
    }
    s_free_frames (frames, count);
    proto_decoder_destroy (&dec);
}

Test (proto, reply_codes_outside_rlog_err_are_malformed)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (1024);
    proto_msg_t msg;
    cr_assert_eq (proto_encode_error (enc, RLOG_ERR_MAX - 1, "last"), 0);
    cr_assert_eq (proto_decode (dec, proto_encoder_data (enc), proto_encoder_size (enc), &msg),
                  RLOG_OK);
    cr_assert_eq (proto_encode_error (enc, RLOG_ERR_MAX, "one past"), 0);
    cr_assert_eq (proto_decode (dec, proto_encoder_data (enc), proto_encoder_size (enc), &msg),
                  RLOG_MALFORMED);
    cr_assert (strstr (proto_decoder_error (dec), "code"), "%s", proto_decoder_error (dec));
    //  2^32 + 1 must not pass for TIMEOUT after a cast to int.
    cr_assert_eq (proto_encode_append_reply (enc, 0, 1, 1, 1, "", 1), 0);
    uint8_t frame[64];
    size_t size = proto_encoder_size (enc);
    memcpy (frame, proto_encoder_data (enc), size);
    //  [array header][version][type][code]...: the code is byte 3.
    cr_assert_eq (frame[3], 0x00, "code is a positive fixint 0");
    uint8_t wide[64];
    memcpy (wide, frame, 3);
    const uint8_t big[] = {0xcf, 0, 0, 0, 1, 0, 0, 0, 1};
    memcpy (wide + 3, big, sizeof big);
    memcpy (wide + 3 + sizeof big, frame + 4, size - 4);
    cr_assert_eq (proto_decode (dec, wide, size - 1 + sizeof big, &msg), RLOG_MALFORMED);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
}
