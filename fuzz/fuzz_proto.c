/*  fuzz_proto.c - libFuzzer harness for the frame decoder (src/proto.c).

    The input is one frame body exactly as a socket hands it to
    proto_decode: the client ROUTER (APPEND LIST STATUS), the peer ROUTER
    (HELLO ACK FETCH), a secondary's SUB (BATCH HEARTBEAT) and DEALER
    (WELCOME FILL ERROR), and the client library (APPEND_REPLY LIST_REPLY
    STATUS_REPLY ERROR) all use the same decoder, so one harness covers every
    socket; the seed corpus (fuzz/corpus/fuzz_proto/) holds real frames of
    each, named after the socket that receives them.

    Oracles, beyond ASan/UBSan/LSan:
    1. the decoder returns one of its documented codes, and an error text;
    2. decoding the same bytes again on the same decoder (whose entry and
       status storage is reused, as on a live socket) gives the same result;
    3. a decoder with a small payload limit agrees with the default one,
       except that it may answer TOO_LARGE (or EMPTY / TOO_LARGE for APPEND);
    4. a frame that decodes is re-encoded with the matching proto_encode_*;
       that canonical frame must decode to the same fields, and encoding it
       again must give the very same bytes.
    Any violation aborts (a crash for libFuzzer).

    The input is copied into a heap buffer of exactly its size, so ASan sees
    any read past the end (libFuzzer's own buffer is already exact, but the
    copy keeps that true however the harness is driven).
*/
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Payload limit of a node at its default --max-msg (1 MiB), and a small one
//  so that TOO_LARGE paths are reachable with small inputs.
#define BIG_LIMIT   ((size_t)1024 * 1024)
#define SMALL_LIMIT ((size_t)16)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf (stderr, "fuzz_proto: check failed at line %d: %s\n", __LINE__, #cond);        \
            abort ();                                                                              \
        }                                                                                          \
    } while (0)

static bool s_known_code (int rc)
{
    return rc == RLOG_OK || rc == RLOG_MALFORMED || rc == RLOG_BAD_VERSION ||
           rc == RLOG_UNKNOWN_TYPE || rc == RLOG_TOO_LARGE || rc == RLOG_EMPTY ||
           rc == RLOG_INTERNAL;
}

//  --------------------------------------------------------------------------
//  Re-encode a decoded MSG with the encoder of its type. Returns false when
//  the type has no encoder for these values (an APPEND_REPLY, LIST_REPLY or
//  ERROR whose code does not fit an int, which the encoders take).

static bool s_encode (proto_encoder_t *enc, const proto_msg_t *msg)
{
    int rc = 0;
    switch (msg->type) {
    case PROTO_APPEND:
        rc = proto_encode_append (enc, msg->client_id, msg->client_id_size, msg->req_id, msg->w,
                                  msg->timeout_ms, msg->data, msg->size);
        break;
    case PROTO_LIST:
        rc = proto_encode_list (enc, msg->from, msg->count);
        break;
    case PROTO_STATUS:
        rc = proto_encode_status (enc);
        break;
    case PROTO_BATCH:
    case PROTO_FILL:
        CHECK (msg->entry_count >= 1 && msg->entries);
        rc = proto_encode_batch_begin (enc, msg->type, msg->epoch, msg->seq, msg->entry_count);
        for (size_t i = 0; rc == 0 && i < msg->entry_count; i++)
            rc = proto_encode_batch_entry (enc, &msg->entries[i]);
        break;
    case PROTO_HEARTBEAT:
        rc = proto_encode_heartbeat (enc, msg->epoch, msg->head);
        break;
    case PROTO_HELLO:
        rc = proto_encode_hello (enc, msg->text, msg->last_epoch, msg->last_seq);
        break;
    case PROTO_ACK:
        rc = proto_encode_ack (enc, msg->acked);
        break;
    case PROTO_FETCH:
        rc = proto_encode_fetch (enc, msg->from, msg->count);
        break;
    case PROTO_WELCOME:
        rc = proto_encode_welcome (enc, msg->epoch, msg->head, msg->truncate_to);
        break;
    case PROTO_APPEND_REPLY:
        if (msg->code > (uint64_t)__INT_MAX__)
            return false;
        rc = proto_encode_append_reply (enc, (int)msg->code, msg->seq, msg->acked, msg->w,
                                        msg->text, msg->req_id);
        break;
    case PROTO_LIST_REPLY:
        if (msg->code > (uint64_t)__INT_MAX__)
            return false;
        rc = proto_encode_list_begin (enc, (int)msg->code, msg->head, msg->seq, msg->entry_count);
        for (size_t i = 0; rc == 0 && i < msg->entry_count; i++)
            rc = proto_encode_list_entry (enc, msg->entries[i].data, msg->entries[i].size);
        break;
    case PROTO_STATUS_REPLY:
        CHECK (msg->status);
        rc = proto_encode_status_reply (enc, msg->status);
        break;
    case PROTO_ERROR:
        if (msg->code > (uint64_t)__INT_MAX__)
            return false;
        rc = proto_encode_error (enc, (int)msg->code, msg->text);
        break;
    default:
        CHECK (!"decoded an unknown type");
    }
    CHECK (rc == 0);
    return true;
}

//  Fields that survive a round trip (STATUS_REPLY's code is always
//  re-encoded as OK, and its body is compared through the bytes).
static void s_compare (const proto_msg_t *a, const proto_msg_t *b)
{
    CHECK (a->type == b->type);
    CHECK (a->epoch == b->epoch);
    CHECK (a->seq == b->seq);
    CHECK (a->head == b->head);
    CHECK (a->req_id == b->req_id);
    CHECK (a->w == b->w);
    CHECK (a->timeout_ms == b->timeout_ms);
    CHECK (a->from == b->from);
    CHECK (a->count == b->count);
    CHECK (a->acked == b->acked);
    CHECK (a->last_epoch == b->last_epoch);
    CHECK (a->last_seq == b->last_seq);
    CHECK (a->truncate_to == b->truncate_to);
    if (a->type != PROTO_STATUS_REPLY)
        CHECK (a->code == b->code);
    CHECK (strcmp (a->text, b->text) == 0);
    CHECK (a->client_id_size == b->client_id_size);
    CHECK (a->client_id_size == 0 || memcmp (a->client_id, b->client_id, a->client_id_size) == 0);
    CHECK (a->size == b->size);
    CHECK (a->size == 0 || memcmp (a->data, b->data, a->size) == 0);
    CHECK (a->entry_count == b->entry_count);
    for (size_t i = 0; i < a->entry_count; i++) {
        const entry_t *x = &a->entries[i], *y = &b->entries[i];
        CHECK (x->epoch == y->epoch && x->req_id == y->req_id);
        CHECK (x->client_id_size == y->client_id_size);
        CHECK (x->client_id_size == 0 ||
               memcmp (x->client_id, y->client_id, x->client_id_size) == 0);
        CHECK (x->size == y->size && x->size >= 1);
        CHECK (memcmp (x->data, y->data, x->size) == 0);
    }
    CHECK ((a->status == NULL) == (b->status == NULL));
}

//  Touch every byte a decoded MSG points at, so ASan checks the bounds the
//  decoder handed out (a borrowed pointer past the input would show here).
static unsigned s_touch (const proto_msg_t *msg, int rc)
{
    unsigned sum = 0;
    for (size_t i = 0; i < msg->client_id_size; i++)
        sum += msg->client_id[i];
    for (size_t i = 0; i < msg->size; i++)
        sum += msg->data[i];
    for (size_t e = 0; e < msg->entry_count; e++) {
        const entry_t *entry = &msg->entries[e];
        for (size_t i = 0; i < entry->client_id_size; i++)
            sum += entry->client_id[i];
        for (size_t i = 0; i < entry->size; i++)
            sum += entry->data[i];
    }
    CHECK (strlen (msg->text) <= PROTO_TEXT_MAX);
    if (rc == RLOG_OK && msg->type == PROTO_HELLO)
        CHECK (strlen (msg->text) >= 1 && strlen (msg->text) <= PROTO_NODE_ID_MAX);
    if (msg->status) {
        const rlog_status_t *st = msg->status;
        CHECK (st->secondary_count <= RLOG_MAX_SECONDARIES);
        CHECK (memchr (st->role, 0, sizeof st->role) && memchr (st->mode, 0, sizeof st->mode));
        CHECK (memchr (st->node_id, 0, sizeof st->node_id));
        CHECK (memchr (st->reason, 0, sizeof st->reason));
        CHECK (memchr (st->master, 0, sizeof st->master));
        for (size_t i = 0; i < st->secondary_count; i++) {
            CHECK (memchr (st->secondaries[i].id, 0, sizeof st->secondaries[i].id));
            CHECK (memchr (st->secondaries[i].state, 0, sizeof st->secondaries[i].state));
        }
    }
    return sum;
}

static void s_round_trip (const proto_msg_t *msg)
{
    proto_encoder_t *enc1 = proto_encoder_new ();
    proto_encoder_t *enc2 = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (BIG_LIMIT);
    CHECK (enc1 && enc2 && dec);
    if (s_encode (enc1, msg)) {
        size_t size = proto_encoder_size (enc1);
        uint8_t *copy = (uint8_t *)malloc (size);
        CHECK (copy);
        memcpy (copy, proto_encoder_data (enc1), size);
        proto_msg_t again;
        int rc = proto_decode (dec, copy, size, &again);
        if (rc != RLOG_OK)
            fprintf (stderr, "fuzz_proto: re-encoded %s does not decode: %s\n",
                     proto_type_name (msg->type), proto_decoder_error (dec));
        CHECK (rc == RLOG_OK);
        s_compare (msg, &again);
        //  Canonical: encoding the decoded canonical frame changes nothing
        CHECK (s_encode (enc2, &again));
        CHECK (proto_encoder_size (enc2) == size);
        CHECK (memcmp (proto_encoder_data (enc2), copy, size) == 0);
        free (copy);
    }
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc2);
    proto_encoder_destroy (&enc1);
}

//  --------------------------------------------------------------------------

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    uint8_t *copy = (uint8_t *)malloc (size ? size : 1);
    CHECK (copy);
    if (size)
        memcpy (copy, data, size);

    proto_decoder_t *big = proto_decoder_new (BIG_LIMIT);
    proto_decoder_t *small = proto_decoder_new (SMALL_LIMIT);
    CHECK (big && small);

    proto_msg_t msg, again, limited;
    int rc = proto_decode (big, copy, size, &msg);
    CHECK (s_known_code (rc));
    CHECK (proto_decoder_error (big)[0]);
    volatile unsigned sink = s_touch (&msg, rc);
    (void)sink;

    //  2. Same bytes, same decoder (its storage is reused): same answer
    int rc2 = proto_decode (big, copy, size, &again);
    CHECK (rc2 == rc);
    if (rc == RLOG_OK)
        s_compare (&msg, &again);
    //  (MSG now borrows storage that AGAIN reused; from here on use AGAIN)

    //  3. A smaller payload limit only adds TOO_LARGE: for a frame that
    //  decodes, or one whose fault the default limit met later (a bad entry
    //  after an entry the small limit already refused). APPEND checks EMPTY
    //  before the size, so EMPTY stays EMPTY.
    int rc3 = proto_decode (small, copy, size, &limited);
    CHECK (s_known_code (rc3));
    if (rc3 != rc) {
        CHECK (rc3 == RLOG_TOO_LARGE);
        CHECK (rc == RLOG_OK || rc == RLOG_MALFORMED);
    } else if (rc == RLOG_OK)
        s_compare (&again, &limited);

    //  4. Round trip through the encoder
    if (rc == RLOG_OK)
        s_round_trip (&again);

    proto_decoder_destroy (&small);
    proto_decoder_destroy (&big);
    free (copy);
    return 0;
}
