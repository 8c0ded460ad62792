/*  fuzz_proto.c - libFuzzer harness for the frame codec, protocol version 2
    (src/lib/proto.c, src/lib/mpr.c).

    The input is one frame body exactly as a socket hands it to
    proto_decode: the client ROUTER (APPEND LIST STATUS OPEN APPEND_BATCH),
    the peer ROUTER (HELLO ACK FETCH VOTE_REQUEST), a follower's SUB (BATCH
    HEARTBEAT) and DEALER (WELCOME FILL VOTE ERROR), and the client library
    (the replies) all use the same decoder, so one harness covers every
    socket; the seed corpus (fuzz/corpus/fuzz_proto/) holds real frames of
    each, named after the socket that receives them.

    Oracles, beyond ASan/UBSan/LSan:
    1. the decoder returns one of its documented codes, with an error text;
       every byte a decoded message points at lies in the input (each is
       read), its texts are NUL-terminated within their arrays, its lists
       within their bounds;
    2. decoding the same bytes again on the same decoder (whose list and
       status storage is reused, as on a live socket) gives the same result
       and the same fields;
    3. a decoder with a small payload limit agrees with the default one,
       except that it may turn OK into TOO_LARGE (a malformed frame stays
       malformed and EMPTY stays EMPTY: those come first);
    4. a frame that decodes re-encodes (proto_encode never refuses what
       proto_decode accepted) to a frame that decodes to the same fields,
       and encoding that again gives the very same bytes.
    Any violation aborts (a crash for libFuzzer).

    The input is copied into a heap buffer of exactly its size, so ASan sees
    any read past the end however the harness is driven.
*/
#include "proto.h"
#include "rlog.h"

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
           rc == RLOG_UNKNOWN_TYPE || rc == RLOG_TOO_LARGE || rc == RLOG_EMPTY;
}

static bool s_same_bytes (const uint8_t *a, size_t a_size, const uint8_t *b, size_t b_size)
{
    return a_size == b_size && (a_size == 0 || memcmp (a, b, a_size) == 0);
}

//  Every field a frame carries.
static void s_compare (const proto_msg_t *a, const proto_msg_t *b)
{
    CHECK (a->type == b->type);
    CHECK (a->epoch == b->epoch && a->head == b->head && a->seq == b->seq);
    CHECK (a->req_id == b->req_id && a->req_id_known == b->req_id_known);
    CHECK (a->w == b->w && a->timeout_ms == b->timeout_ms && a->count == b->count);
    CHECK (a->from == b->from && a->acks == b->acks && a->acked == b->acked);
    CHECK (a->code == b->code && a->last_epoch == b->last_epoch && a->last_seq == b->last_seq);
    CHECK (a->last_crc == b->last_crc && a->truncate_to == b->truncate_to);
    CHECK (a->at_epoch == b->at_epoch && a->at_crc == b->at_crc);
    CHECK (a->max_msg == b->max_msg && a->max_batch == b->max_batch);
    CHECK (a->granted == b->granted);
    CHECK (s_same_bytes (a->client_id, a->client_id_size, b->client_id, b->client_id_size));
    CHECK (s_same_bytes (a->history, a->history_size, b->history, b->history_size));
    CHECK (s_same_bytes (a->data, a->size, b->data, b->size));
    CHECK (strcmp (a->node_id, b->node_id) == 0);
    CHECK (strcmp (a->text, b->text) == 0);
    CHECK (strcmp (a->leader, b->leader) == 0);
    CHECK (a->payload_count == b->payload_count);
    for (size_t i = 0; i < a->payload_count; i++)
        CHECK (s_same_bytes (a->payloads[i].data, a->payloads[i].size, b->payloads[i].data,
                             b->payloads[i].size));
    CHECK (a->exception_count == b->exception_count);
    CHECK (a->exception_count == 0 ||
           memcmp (a->exceptions, b->exceptions, a->exception_count * sizeof (proto_exception_t)) ==
               0);
    CHECK ((a->status == NULL) == (b->status == NULL));
    CHECK (!a->status || memcmp (a->status, b->status, sizeof *a->status) == 0);
}

static bool s_within (const uint8_t *p, size_t size, const uint8_t *input, size_t input_size)
{
    return size == 0 || (p >= input && p + size <= input + input_size);
}

static bool s_terminated (const char *text, size_t size)
{
    return memchr (text, 0, size) != NULL;
}

//  Oracle 1 on a decoded MSG: read every byte it points at (so ASan checks
//  the bounds the decoder handed out), check texts and list bounds.
static unsigned s_touch (const proto_msg_t *msg, int rc, const uint8_t *input, size_t size)
{
    unsigned sum = 0;
    CHECK (s_within (msg->client_id, msg->client_id_size, input, size));
    CHECK (s_within (msg->history, msg->history_size, input, size));
    CHECK (s_within (msg->data, msg->size, input, size));
    for (size_t i = 0; i < msg->client_id_size; i++)
        sum += msg->client_id[i];
    for (size_t i = 0; i < msg->size; i++)
        sum += msg->data[i];
    CHECK (msg->payload_count <= PROTO_LIST_MAX_ENTRIES);
    for (size_t p = 0; p < msg->payload_count; p++) {
        //  Size 0 is an epoch marker's entry (PROTOCOL.md, LIST_REPLY).
        CHECK (msg->payloads[p].size <= BIG_LIMIT);
        CHECK (s_within (msg->payloads[p].data, msg->payloads[p].size, input, size));
        for (size_t i = 0; i < msg->payloads[p].size; i++)
            sum += msg->payloads[p].data[i];
    }
    CHECK (msg->exception_count <= PROTO_EXCEPTIONS_MAX);
    for (size_t e = 0; e < msg->exception_count; e++)
        CHECK (msg->exceptions[e].index < msg->count && msg->exceptions[e].code < RLOG_ERR_MAX);
    CHECK (s_terminated (msg->node_id, sizeof msg->node_id));
    CHECK (s_terminated (msg->text, sizeof msg->text));
    CHECK (s_terminated (msg->leader, sizeof msg->leader));
    if (rc == RLOG_OK && (msg->type == PROTO_HELLO || msg->type == PROTO_VOTE))
        CHECK (strlen (msg->node_id) >= 1);
    if (rc == RLOG_OK && (msg->type == PROTO_APPEND || msg->type == PROTO_APPEND_BATCH))
        CHECK (msg->req_id_known && msg->client_id_size == PROTO_CLIENT_ID_SIZE);
    if (msg->status) {
        const proto_status_t *st = msg->status;
        CHECK (st->peer_count <= PROTO_STATUS_PEERS_MAX);
        CHECK (s_terminated (st->role, sizeof st->role) &&
               s_terminated (st->mode, sizeof st->mode));
        CHECK (s_terminated (st->node_id, sizeof st->node_id));
        CHECK (s_terminated (st->reason, sizeof st->reason));
        CHECK (s_terminated (st->history, sizeof st->history));
        CHECK (s_terminated (st->leader, sizeof st->leader));
        CHECK (s_terminated (st->leader_client, sizeof st->leader_client));
        CHECK (s_terminated (st->master_peer, sizeof st->master_peer));
        for (size_t i = 0; i < st->peer_count; i++) {
            CHECK (s_terminated (st->peers[i].id, sizeof st->peers[i].id));
            CHECK (s_terminated (st->peers[i].role, sizeof st->peers[i].role));
            CHECK (s_terminated (st->peers[i].state, sizeof st->peers[i].state));
        }
    }
    return sum;
}

//  Decoders and encoders live across inputs, as on a live socket (where
//  one decoder serves every frame): nothing may leak from one decode into
//  the next. Made once, in LLVMFuzzerInitialize; never freed.
typedef struct {
    proto_decoder_t *big;   //  the default payload limit
    proto_decoder_t *small; //  a small one
    proto_decoder_t *check; //  decodes the re-encoded frames
    proto_encoder_t *enc1;
    proto_encoder_t *enc2;
} harness_t;

static harness_t s_harness;

int LLVMFuzzerInitialize (int *argc, char ***argv);

int LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    s_harness.big = proto_decoder_new (BIG_LIMIT);
    s_harness.small = proto_decoder_new (SMALL_LIMIT);
    s_harness.check = proto_decoder_new (BIG_LIMIT);
    s_harness.enc1 = proto_encoder_new ();
    s_harness.enc2 = proto_encoder_new ();
    CHECK (s_harness.big && s_harness.small && s_harness.check);
    CHECK (s_harness.enc1 && s_harness.enc2);
    return 0;
}

//  Oracle 4.
static void s_round_trip (harness_t *h, const proto_msg_t *msg)
{
    CHECK (proto_encode (h->enc1, msg) == 0);
    size_t size = proto_encoder_size (h->enc1);
    uint8_t *copy = (uint8_t *)malloc (size);
    CHECK (copy);
    memcpy (copy, proto_encoder_data (h->enc1), size);
    proto_msg_t again;
    int rc = proto_decode (h->check, copy, size, &again);
    if (rc != RLOG_OK)
        fprintf (stderr, "fuzz_proto: re-encoded %s does not decode: %s\n",
                 proto_type_name (msg->type), proto_decoder_error (h->check));
    CHECK (rc == RLOG_OK);
    s_compare (msg, &again);
    //  Canonical: encoding the decoded canonical frame changes nothing
    CHECK (proto_encode (h->enc2, &again) == 0);
    CHECK (proto_encoder_size (h->enc2) == size);
    CHECK (memcmp (proto_encoder_data (h->enc2), copy, size) == 0);
    free (copy);
}

//  --------------------------------------------------------------------------

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    harness_t *h = &s_harness;
    uint8_t *copy = (uint8_t *)malloc (size ? size : 1);
    CHECK (copy);
    if (size)
        memcpy (copy, data, size);

    //  1. A documented code, a reason, bounded fields
    proto_msg_t msg, again, limited;
    int rc = proto_decode (h->big, copy, size, &msg);
    CHECK (s_known_code (rc));
    CHECK (proto_decoder_error (h->big)[0]);
    volatile unsigned sink = s_touch (&msg, rc, copy, size);
    (void)sink;

    //  2. Same bytes, same decoder (its storage reused): same answer
    int rc2 = proto_decode (h->big, copy, size, &again);
    CHECK (rc2 == rc);
    if (rc == RLOG_OK)
        s_compare (&msg, &again);
    //  (MSG now borrows storage that AGAIN reused; from here on use AGAIN)

    //  3. A smaller payload limit only turns OK into TOO_LARGE
    int rc3 = proto_decode (h->small, copy, size, &limited);
    CHECK (s_known_code (rc3));
    if (rc3 != rc)
        CHECK (rc == RLOG_OK && rc3 == RLOG_TOO_LARGE);
    else if (rc == RLOG_OK)
        s_compare (&again, &limited);

    //  4. Round trip through the encoder
    if (rc == RLOG_OK)
        s_round_trip (h, &again);

    free (copy);
    return 0;
}
