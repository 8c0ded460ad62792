/*  proto.c - rlog frame codec, protocol version 2: the only code that knows
    msgpack.

    One table, s_messages, indexed by type, declares every message: its name
    and its fields in wire order, each with a kind, its bounds, and where it
    lives in proto_msg_t (offsetof). proto_decode, proto_encode, the element
    counts, the bounds checks and the type names all walk that table; the
    status map has its own table (key, kind, offset, size) that both
    directions walk too. Adding a field is one line.

    Decoding is one pass with mpr (mpr.h): in place, no object tree, no
    allocation. In order:
      1. the frame is an array of at least 2 elements whose count fits the
         bytes (each element takes one at least): else MALFORMED;
      2. element 0, the version, an unsigned integer: another value than 2
         is BAD_VERSION whatever follows;
      3. element 1, the type: unknown is UNKNOWN_TYPE;
      4. the element count of that type, then each field in order, its type
         and its bounds: MALFORMED, "field N (name) ...";
      5. nothing after the last field: MALFORMED;
      6. only then the refusals noted on the way (an empty APPEND payload is
         EMPTY, a payload above the decoder's limit TOO_LARGE): a malformed
         frame wins over them, and a refused APPEND is complete for its reply.
    Containers nest at most S_DEPTH_MAX deep: the schema itself never goes
    deeper than 4 (frame, status, peers, a peer), and values skipped under
    unknown status keys get what is left. Lists (LIST_REPLY payloads,
    exceptions, the status) go into decoder-owned arrays of their maximum
    size, allocated with the decoder; calloc hands large blocks over as
    untouched pages, so a decoder that never sees a list costs no memory.

    Encoding packs with msgpack-c into one sbuffer per encoder, cleared for
    each frame, so steady frames allocate nothing; proto_encoder_take hands
    the buffer over (for zmq_msg_init_data) and the next frame starts a new
    one. The encoder checks the same bounds as the decoder, so it never
    writes a frame the decoder would refuse (out of bounds is a caller bug:
    asserted, or -1 under NDEBUG). Texts are cut at a UTF-8 character
    boundary and invalid UTF-8 is replaced by '?'.
*/
#include "proto.h"
#include "mpr.h"
#include "rlog.h"

#include <assert.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Containers may nest this deep (the frame's own array counts as 1).
#define S_DEPTH_MAX 8
//  Most fields any message has (APPEND_BATCH_REPLY), and types 0..49.
#define S_FIELDS_MAX 9
#define S_TYPES      (PROTO_ERROR + 1)
#define S_COUNT(a)   (sizeof (a) / sizeof ((a)[0]))

//  ==========================================================================
//  The message table

typedef enum {
    K_UINT = 1,   //  uint64 within [min, max]
    K_REQ,        //  the request id: a K_UINT that also sets req_id_known
    K_BOOL,       //  bool
    K_BIN,        //  bin of min..max bytes: pointer at off, size at off2
    K_ID,         //  bin of 0 or max bytes (a history or client id, or none)
    K_STR,        //  str of min..max bytes, UTF-8 without NUL, copied
                  //  NUL-terminated into the char array (max + 1) at off
    K_PAYLOAD,    //  bin of min..max bytes to encode; decoded, below min is
                  //  EMPTY, above the decoder's max_payload TOO_LARGE
    K_PAYLOADS,   //  [bin, ...] of at most max payloads, each 0..max_payload (0: a marker)
    K_EXCEPTIONS, //  [[index, code, seq], ...] of at most max, index < count
    K_STATUS      //  the status map (s_status_keys)
} s_kind_t;

typedef struct {
    const char *name;
    uint8_t kind;  //  s_kind_t
    uint16_t off;  //  where the value goes in proto_msg_t
    uint16_t off2; //  its size or count, for bins and lists
    uint64_t min;
    uint64_t max;
} s_field_t;

typedef struct {
    const char *name;
    unsigned count; //  fields after version and type
    s_field_t fields[S_FIELDS_MAX];
} s_message_t;

// clang-format off
#define OFF(m)                  ((uint16_t)offsetof (proto_msg_t, m))
#define UINT(name, m)           {name, K_UINT, OFF (m), 0, 0, UINT64_MAX}
#define RANGE(name, m, lo, hi)  {name, K_UINT, OFF (m), 0, lo, hi}
#define REQ(name)               {name, K_REQ, OFF (req_id), 0, 0, UINT64_MAX}
#define CODE                    RANGE ("code", code, 0, RLOG_ERR_MAX - 1)
#define CRC(name, m)            RANGE (name, m, 0, UINT32_MAX)
#define EPOCH(name, m)          RANGE (name, m, 0, PROTO_EPOCH_MAX)
#define BOOL(name, m)           {name, K_BOOL, OFF (m), 0, 0, 1}
#define BIN(name, m, n, lo, hi) {name, K_BIN, OFF (m), OFF (n), lo, hi}
#define MAYBE(name, m, n, size) {name, K_ID, OFF (m), OFF (n), 0, size}
#define STR(name, m, lo, hi)    {name, K_STR, OFF (m), 0, lo, hi}
#define CLIENT_ID BIN ("client_id", client_id, client_id_size, PROTO_CLIENT_ID_SIZE, PROTO_CLIENT_ID_SIZE)
#define HISTORY   BIN ("history", history, history_size, PROTO_HISTORY_SIZE, PROTO_HISTORY_SIZE)
#define RECORDS   BIN ("records", data, size, 0, UINT32_MAX)
#define NODE_ID   STR ("node_id", node_id, 1, PROTO_NODE_ID_MAX)
#define TEXT      STR ("text", text, 0, PROTO_TEXT_MAX)
#define LEADER    STR ("leader", leader, 0, PROTO_ENDPOINT_MAX)
// clang-format on

#define MESSAGE(type, text, ...)                                                                   \
    [type] = {.name = text,                                                                        \
              .count = sizeof ((const s_field_t[]){__VA_ARGS__}) / sizeof (s_field_t),             \
              .fields = {__VA_ARGS__}}
#define EMPTY_MESSAGE(type, text) [type] = {.name = text}

static const s_message_t s_messages[S_TYPES] = {
    //  client -> node
    MESSAGE (PROTO_APPEND, "APPEND", CLIENT_ID, REQ ("req_id"), UINT ("w", w),
             UINT ("timeout_ms", timeout_ms),
             {"payload", K_PAYLOAD, OFF (data), OFF (size), 1, UINT32_MAX}),
    MESSAGE (PROTO_LIST, "LIST", UINT ("from", from), UINT ("limit", count)),
    EMPTY_MESSAGE (PROTO_STATUS, "STATUS"),
    EMPTY_MESSAGE (PROTO_OPEN, "OPEN"),
    MESSAGE (PROTO_APPEND_BATCH, "APPEND_BATCH", CLIENT_ID, REQ ("first_req"), UINT ("w", w),
             UINT ("timeout_ms", timeout_ms), RANGE ("count", count, 1, PROTO_BATCH_MAX_ENTRIES),
             BIN ("entries", data, size, 1, UINT32_MAX)),
    //  master PUB -> followers
    MESSAGE (PROTO_BATCH, "BATCH", EPOCH ("epoch", epoch), RECORDS),
    MESSAGE (PROTO_HEARTBEAT, "HEARTBEAT", EPOCH ("epoch", epoch), UINT ("head", head), HISTORY,
             STR ("leader_id", node_id, 0, PROTO_NODE_ID_MAX)),
    //  follower DEALER -> master peer ROUTER
    MESSAGE (PROTO_HELLO, "HELLO", NODE_ID,
             MAYBE ("history", history, history_size, PROTO_HISTORY_SIZE),
             EPOCH ("last_epoch", last_epoch), UINT ("last_seq", last_seq),
             CRC ("last_crc", last_crc), EPOCH ("epoch", epoch)),
    MESSAGE (PROTO_ACK, "ACK", EPOCH ("epoch", epoch), UINT ("acked", acked)),
    MESSAGE (PROTO_FETCH, "FETCH", EPOCH ("epoch", epoch), UINT ("from", from),
             UINT ("count", count)),
    MESSAGE (PROTO_VOTE_REQUEST, "VOTE_REQUEST", EPOCH ("epoch", epoch), NODE_ID,
             EPOCH ("last_epoch", last_epoch), UINT ("last_seq", last_seq)),
    //  master peer ROUTER -> follower
    MESSAGE (PROTO_WELCOME, "WELCOME", EPOCH ("epoch", epoch), HISTORY, UINT ("head", head),
             UINT ("truncate_to", truncate_to), EPOCH ("at_epoch", at_epoch),
             CRC ("at_crc", at_crc), LEADER),
    MESSAGE (PROTO_FILL, "FILL", EPOCH ("epoch", epoch), RECORDS),
    MESSAGE (PROTO_VOTE, "VOTE", EPOCH ("epoch", epoch), NODE_ID, BOOL ("granted", granted)),
    //  node -> client
    MESSAGE (PROTO_APPEND_REPLY, "APPEND_REPLY", REQ ("req_id"), CODE, UINT ("seq", seq),
             UINT ("acks", acks), UINT ("w", w), TEXT, LEADER),
    MESSAGE (
        PROTO_LIST_REPLY, "LIST_REPLY", CODE, UINT ("head", head), UINT ("first_seq", seq),
        {"payloads", K_PAYLOADS, OFF (payloads), OFF (payload_count), 0, PROTO_LIST_MAX_ENTRIES}),
    MESSAGE (PROTO_STATUS_REPLY, "STATUS_REPLY", CODE,
             {"status", K_STATUS, OFF (status), 0, 0, PROTO_STATUS_PEERS_MAX}),
    MESSAGE (PROTO_OPEN_REPLY, "OPEN_REPLY", CODE,
             MAYBE ("client_id", client_id, client_id_size, PROTO_CLIENT_ID_SIZE),
             UINT ("max_msg", max_msg), UINT ("max_batch", max_batch), TEXT, LEADER),
    MESSAGE (PROTO_APPEND_BATCH_REPLY, "APPEND_BATCH_REPLY", REQ ("first_req"),
             RANGE ("count", count, 0, PROTO_BATCH_MAX_ENTRIES), CODE, UINT ("first_seq", seq),
             UINT ("acks", acks), UINT ("w", w), TEXT, LEADER,
             {"exceptions", K_EXCEPTIONS, OFF (exceptions), OFF (exception_count), 0,
              PROTO_EXCEPTIONS_MAX}),
    MESSAGE (PROTO_ERROR, "ERROR", CODE, TEXT),
};

//  SIZE bytes fit blob field F (K_ID: none or exactly max).
static bool s_size_fits (const s_field_t *f, size_t size)
{
    if (f->kind == K_ID)
        return size == 0 || size == f->max;
    return size >= f->min && size <= f->max;
}

static const s_message_t *s_message (uint64_t type)
{
    if (type >= S_TYPES || !s_messages[type].name)
        return NULL;
    return &s_messages[type];
}

const char *proto_type_name (int type)
{
    const s_message_t *m = type < 0 ? NULL : s_message ((uint64_t)type);
    return m ? m->name : "unknown";
}

size_t proto_frame_max (size_t max_payload)
{
    size_t headroom = 64 * 1024;
    return max_payload > SIZE_MAX - headroom ? SIZE_MAX : max_payload + headroom;
}

//  ==========================================================================
//  The status table: every key of the STATUS_REPLY map and of each peer's.

typedef enum {
    ST_STR = 1, //  char[size]: str of at most size - 1 bytes
    ST_UINT,    //  uint32_t or uint64_t, by size
    ST_INT,     //  int64_t
    ST_BOOL,    //  bool
    ST_PEERS    //  [peer map, ...], at most PROTO_STATUS_PEERS_MAX
} s_status_kind_t;

typedef struct {
    const char *key;
    uint8_t kind;
    uint16_t offset;
    uint16_t size;
} s_key_t;

#define SKEY(kind, m)                                                                              \
    {                                                                                              \
#m, kind, offsetof(proto_status_t, m), sizeof(((proto_status_t *)0)->m)                    \
    }
#define PKEY(kind, m)                                                                              \
    {                                                                                              \
#m, kind, offsetof(proto_peer_status_t, m), sizeof(((proto_peer_status_t *)0)->m)          \
    }

static const s_key_t s_status_keys[] = {
    SKEY (ST_STR, role),
    SKEY (ST_STR, node_id),
    SKEY (ST_UINT, epoch),
    SKEY (ST_UINT, head),
    SKEY (ST_UINT, last_epoch),
    SKEY (ST_STR, mode),
    SKEY (ST_STR, reason),
    SKEY (ST_STR, history),
    SKEY (ST_UINT, nodes),
    SKEY (ST_UINT, healthy),
    SKEY (ST_UINT, quorum),
    SKEY (ST_UINT, waiting),
    SKEY (ST_UINT, max_msg),
    SKEY (ST_STR, leader),
    SKEY (ST_STR, leader_client),
    SKEY (ST_PEERS, peers),
    SKEY (ST_STR, master_peer),
    SKEY (ST_BOOL, master_reachable),
    SKEY (ST_INT, master_last_heard_ms),
    SKEY (ST_UINT, master_head),
    SKEY (ST_UINT, held_back),
    SKEY (ST_UINT, duplicates),
};

static const s_key_t s_peer_keys[] = {
    PKEY (ST_STR, id),           PKEY (ST_STR, role),        PKEY (ST_STR, state),
    PKEY (ST_UINT, acked),       PKEY (ST_UINT, lag),        PKEY (ST_INT, last_heard_ms),
    PKEY (ST_BOOL, catching_up), PKEY (ST_UINT, last_epoch),
};

static const s_key_t *s_find_key (const s_key_t *keys, size_t count, const uint8_t *key,
                                  size_t size)
{
    for (size_t i = 0; i < count; i++)
        if (strlen (keys[i].key) == size && memcmp (keys[i].key, key, size) == 0)
            return &keys[i];
    return NULL;
}

//  ==========================================================================
//  Texts: UTF-8 without NUL

//  Bytes in the valid UTF-8 character at P (N available), 0 if invalid.
static size_t s_utf8_char (const uint8_t *p, size_t n)
{
    uint8_t lead = p[0];
    size_t size;
    uint32_t cp, min;
    if (lead < 0x80)
        return 1;
    if (lead >= 0xc2 && lead <= 0xdf) {
        size = 2, cp = lead & 0x1f, min = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
        size = 3, cp = lead & 0x0f, min = 0x800;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        size = 4, cp = lead & 0x07, min = 0x10000;
    } else
        return 0;
    if (n < size)
        return 0;
    for (size_t i = 1; i < size; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return size;
}

//  What is wrong with the text P[0..N), or NULL.
static const char *s_text_fault (const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (p[i] == 0)
            return "must not contain a NUL byte";
        size_t size = p[i] < 0x80 ? 1 : s_utf8_char (p + i, n - i);
        if (size == 0)
            return "must be valid UTF-8";
        i += size;
    }
    return NULL;
}

//  ==========================================================================
//  Decoder

struct _proto_decoder_t {
    size_t max_payload; //  largest payload accepted
    int deferred;       //  EMPTY / TOO_LARGE noted on the way (rule 6)
    char error[256];    //  reason of the last failure
    proto_status_t status;
    proto_payload_t payloads[PROTO_LIST_MAX_ENTRIES];
    proto_exception_t exceptions[PROTO_EXCEPTIONS_MAX];
};

proto_decoder_t *proto_decoder_new (size_t max_payload)
{
    proto_decoder_t *self = (proto_decoder_t *)calloc (1, sizeof (proto_decoder_t));
    if (!self)
        return NULL;
    self->max_payload = max_payload;
    snprintf (self->error, sizeof self->error, "no error");
    return self;
}

void proto_decoder_destroy (proto_decoder_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

const char *proto_decoder_error (proto_decoder_t *self)
{
    assert (self);
    return self->error;
}

//  --------------------------------------------------------------------------
//  Failure reasons (only ever formatted on failure)

static int s_fail (proto_decoder_t *self, int code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static int s_fail (proto_decoder_t *self, int code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
    return code;
}

//  A refusal to return if the frame proves sound to its end (rule 6); the
//  first one wins.
static void s_defer (proto_decoder_t *self, int code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void s_defer (proto_decoder_t *self, int code, const char *format, ...)
{
    if (self->deferred)
        return;
    self->deferred = code;
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
}

//  A read that failed with mpr code RC at WHERE ("field 3 (req_id)"),
//  which should have been WHAT ("an unsigned integer").
static int s_bad_read (proto_decoder_t *self, const mpr_t *r, int rc, const char *where,
                       const char *what)
{
    switch (rc) {
    case MPR_TRUNCATED:
        return s_fail (self, RLOG_MALFORMED, "%s is truncated: the frame ends first", where);
    case MPR_LENGTH:
        return s_fail (self, RLOG_MALFORMED,
                       "%s: declared length %" PRIu64 " exceeds the frame (%zu bytes left)", where,
                       r->declared, mpr_left (r));
    case MPR_COUNT:
        return s_fail (self, RLOG_MALFORMED,
                       "%s: declared %" PRIu64 " elements exceed the frame (%zu bytes left)", where,
                       r->declared, mpr_left (r));
    case MPR_DEPTH:
        return s_fail (self, RLOG_MALFORMED, "%s: containers nested deeper than %d", where,
                       S_DEPTH_MAX);
    case MPR_INVALID:
        return s_fail (self, RLOG_MALFORMED, "%s: invalid msgpack byte 0xc1", where);
    default: //  MPR_TYPE, MPR_RANGE
        return s_fail (self, RLOG_MALFORMED, "%s must be %s", where, what);
    }
}

static int s_bad_field (proto_decoder_t *self, const mpr_t *r, int rc, unsigned index,
                        const char *name, const char *what)
{
    char where[64];
    snprintf (where, sizeof where, "field %u (%s)", index, name);
    return s_bad_read (self, r, rc, where, what);
}

static int s_bad_size (proto_decoder_t *self, unsigned index, const s_field_t *f, size_t size)
{
    if (f->kind == K_ID)
        return s_fail (self, RLOG_MALFORMED,
                       "field %u (%s) must be 0 or %" PRIu64 " bytes, not %zu", index, f->name,
                       f->max, size);
    if (f->min == f->max)
        return s_fail (self, RLOG_MALFORMED, "field %u (%s) must be %" PRIu64 " bytes, not %zu",
                       index, f->name, f->max, size);
    return s_fail (self, RLOG_MALFORMED,
                   "field %u (%s) must be %" PRIu64 "..%" PRIu64 " bytes, not %zu", index, f->name,
                   f->min, f->max, size);
}

//  --------------------------------------------------------------------------
//  Field readers: each returns RLOG_OK or a refusal with its reason.

static int s_decode_uint (proto_decoder_t *self, mpr_t *r, const s_field_t *f, unsigned index,
                          uint64_t *value)
{
    int rc = mpr_uint (r, value);
    if (rc != MPR_OK)
        return s_bad_field (self, r, rc, index, f->name, "an unsigned integer");
    if (*value < f->min || *value > f->max)
        return s_fail (self, RLOG_MALFORMED,
                       "field %u (%s) must be %" PRIu64 "..%" PRIu64 ", not %" PRIu64, index,
                       f->name, f->min, f->max, *value);
    return RLOG_OK;
}

//  Bins and strs are read apart (one shared reader would not be inlined:
//  a fifth of an APPEND's decode).
static int s_decode_bin (proto_decoder_t *self, mpr_t *r, const s_field_t *f, unsigned index,
                         proto_msg_t *msg)
{
    const uint8_t *data;
    size_t size;
    int rc = mpr_bin (r, &data, &size);
    if (rc != MPR_OK)
        return s_bad_field (self, r, rc, index, f->name, "bin");
    if (f->kind != K_PAYLOAD && !s_size_fits (f, size))
        return s_bad_size (self, index, f, size);
    if (f->kind == K_PAYLOAD && size < f->min)
        s_defer (self, RLOG_EMPTY, "empty payload");
    else if (f->kind == K_PAYLOAD && size > self->max_payload)
        s_defer (self, RLOG_TOO_LARGE, "payload of %zu bytes exceeds %zu", size, self->max_payload);
    memcpy ((uint8_t *)msg + f->off, &data, sizeof data);
    memcpy ((uint8_t *)msg + f->off2, &size, sizeof size);
    return RLOG_OK;
}

static int s_decode_str (proto_decoder_t *self, mpr_t *r, const s_field_t *f, unsigned index,
                         proto_msg_t *msg)
{
    const uint8_t *data;
    size_t size;
    int rc = mpr_str (r, &data, &size);
    if (rc != MPR_OK)
        return s_bad_field (self, r, rc, index, f->name, "a string");
    if (!s_size_fits (f, size))
        return s_bad_size (self, index, f, size);
    const char *fault = s_text_fault (data, size);
    if (fault)
        return s_fail (self, RLOG_MALFORMED, "field %u (%s) %s", index, f->name, fault);
    char *dest = (char *)msg + f->off;
    memcpy (dest, data, size);
    dest[size] = 0;
    return RLOG_OK;
}

//  The header of list field F: at most F->max elements.
static int s_read_list (proto_decoder_t *self, mpr_t *r, const s_field_t *f, unsigned index,
                        uint32_t *count)
{
    int rc = mpr_array (r, count);
    if (rc != MPR_OK)
        return s_bad_field (self, r, rc, index, f->name, "an array");
    if (*count > f->max)
        return s_fail (self, RLOG_MALFORMED, "field %u (%s) lists %" PRIu32 ", at most %" PRIu64,
                       index, f->name, *count, f->max);
    return RLOG_OK;
}

//  LIST_REPLY payloads: payloads[i] is entry first_seq + i.
static int s_decode_payloads (proto_decoder_t *self, mpr_t *r, const s_field_t *f, unsigned index,
                              proto_msg_t *msg)
{
    uint32_t count;
    int rc = s_read_list (self, r, f, index, &count);
    if (rc != RLOG_OK)
        return rc;
    if (count > 0 && msg->seq > UINT64_MAX - (count - 1))
        return s_fail (self, RLOG_MALFORMED,
                       "field %u (%s): first_seq %" PRIu64 " + %" PRIu32
                       " payloads overflows the seq range",
                       index, f->name, msg->seq, count);
    for (uint32_t i = 0; i < count; i++) {
        proto_payload_t *payload = &self->payloads[i];
        rc = mpr_bin (r, &payload->data, &payload->size);
        if (rc != MPR_OK) {
            char where[64];
            snprintf (where, sizeof where, "field %u (%s) payload %" PRIu32, index, f->name, i);
            return s_bad_read (self, r, rc, where, "bin");
        }
        //  An empty payload is an epoch marker: a seq with no message.
        if (payload->size > self->max_payload)
            s_defer (self, RLOG_TOO_LARGE, "payload %" PRIu32 " of %zu bytes exceeds %zu", i,
                     payload->size, self->max_payload);
    }
    msg->payloads = self->payloads;
    msg->payload_count = count;
    return RLOG_OK;
}

//  Exception I of field F: [index (below the reply's count), code, seq].
static int s_decode_exception (proto_decoder_t *self, mpr_t *r, const s_field_t *f, unsigned field,
                               uint32_t i, proto_msg_t *msg)
{
    uint32_t three;
    uint64_t index = 0, code = 0, seq = 0;
    int rc = mpr_array (r, &three);
    if (rc == MPR_OK && three != 3)
        rc = MPR_TYPE;
    if (rc == MPR_OK && (rc = mpr_uint (r, &index)) == MPR_OK &&
        (rc = mpr_uint (r, &code)) == MPR_OK)
        rc = mpr_uint (r, &seq);
    if (rc == MPR_OK && index < msg->count && code < RLOG_ERR_MAX) {
        self->exceptions[i] = (proto_exception_t){(uint32_t)index, (uint32_t)code, seq};
        return RLOG_OK;
    }
    char where[64];
    snprintf (where, sizeof where, "field %u (%s) exception %" PRIu32, field, f->name, i);
    if (rc != MPR_OK)
        return s_bad_read (self, r, rc, where, "an array of 3 unsigned integers");
    if (index >= msg->count)
        return s_fail (self, RLOG_MALFORMED, "%s index %" PRIu64 " is not below count %" PRIu64,
                       where, index, msg->count);
    return s_fail (self, RLOG_MALFORMED, "%s code %" PRIu64 " is not an rlog error code", where,
                   code);
}

static int s_decode_exceptions (proto_decoder_t *self, mpr_t *r, const s_field_t *f, unsigned index,
                                proto_msg_t *msg)
{
    uint32_t count;
    int rc = s_read_list (self, r, f, index, &count);
    if (rc != RLOG_OK)
        return rc;
    for (uint32_t i = 0; i < count; i++)
        if ((rc = s_decode_exception (self, r, f, index, i, msg)) != RLOG_OK)
            return rc;
    msg->exceptions = self->exceptions;
    msg->exception_count = count;
    return RLOG_OK;
}

//  --------------------------------------------------------------------------
//  The status map. Unknown keys are skipped, missing keys stay zero.

static int s_decode_map (proto_decoder_t *self, mpr_t *r, const char *where, const s_key_t *keys,
                         size_t nkeys, void *base, unsigned depth);

static int s_decode_peers (proto_decoder_t *self, mpr_t *r, const char *where, proto_status_t *st,
                           unsigned depth)
{
    uint32_t count;
    int rc = mpr_array (r, &count);
    if (rc != MPR_OK)
        return s_bad_read (self, r, rc, where, "an array");
    if (count > PROTO_STATUS_PEERS_MAX)
        return s_fail (self, RLOG_MALFORMED, "%s lists %" PRIu32 " peers, at most %d", where, count,
                       PROTO_STATUS_PEERS_MAX);
    memset (st->peers, 0, sizeof st->peers);
    st->peer_count = 0;
    for (uint32_t i = 0; i < count; i++) {
        char peer[128];
        snprintf (peer, sizeof peer, "%s peer %" PRIu32, where, i);
        rc = s_decode_map (self, r, peer, s_peer_keys, S_COUNT (s_peer_keys), &st->peers[i],
                           depth + 1);
        if (rc)
            return rc;
    }
    st->peer_count = count;
    return RLOG_OK;
}

//  A failure of key K's value in the map at WHERE.
static int s_bad_key (proto_decoder_t *self, const mpr_t *r, int rc, const char *where,
                      const s_key_t *k, const char *what)
{
    char at[192];
    snprintf (at, sizeof at, "%s key '%s'", where, k->key);
    if (rc == MPR_OK) //  read, but out of bounds: WHAT says how
        return s_fail (self, RLOG_MALFORMED, "%s %s", at, what);
    return s_bad_read (self, r, rc, at, what);
}

//  The value of key K (in a map at DEPTH) into BASE.
static int s_decode_value (proto_decoder_t *self, mpr_t *r, const char *where, const s_key_t *k,
                           void *base, unsigned depth)
{
    uint8_t *dest = (uint8_t *)base + k->offset;
    const uint8_t *data;
    size_t size;
    uint64_t u;
    int64_t i;
    bool b;
    int rc;
    switch (k->kind) {
    case ST_STR: {
        if ((rc = mpr_str (r, &data, &size)) != MPR_OK)
            return s_bad_key (self, r, rc, where, k, "a string");
        if (size >= k->size) {
            char what[64];
            snprintf (what, sizeof what, "is too long: %zu bytes, at most %u", size, k->size - 1u);
            return s_bad_key (self, r, rc, where, k, what);
        }
        const char *fault = s_text_fault (data, size);
        if (fault)
            return s_bad_key (self, r, rc, where, k, fault);
        memcpy (dest, data, size);
        dest[size] = 0;
        return RLOG_OK;
    }
    case ST_UINT:
        if ((rc = mpr_uint (r, &u)) != MPR_OK)
            return s_bad_key (self, r, rc, where, k, "an unsigned integer");
        if (k->size == sizeof (uint32_t)) {
            if (u > UINT32_MAX)
                return s_bad_key (self, r, rc, where, k, "must be an unsigned 32-bit integer");
            uint32_t u32 = (uint32_t)u;
            memcpy (dest, &u32, sizeof u32);
        } else
            memcpy (dest, &u, sizeof u);
        return RLOG_OK;
    case ST_INT:
        if ((rc = mpr_int (r, &i)) != MPR_OK)
            return s_bad_key (self, r, rc, where, k, "a 64-bit integer");
        memcpy (dest, &i, sizeof i);
        return RLOG_OK;
    case ST_BOOL:
        if ((rc = mpr_bool (r, &b)) != MPR_OK)
            return s_bad_key (self, r, rc, where, k, "a boolean");
        memcpy (dest, &b, sizeof b);
        return RLOG_OK;
    default: { //  ST_PEERS
        char at[96];
        snprintf (at, sizeof at, "%s key '%s'", where, k->key);
        return s_decode_peers (self, r, at, (proto_status_t *)base, depth + 1);
    }
    }
}

//  A map at DEPTH (the frame's array is 1) whose known keys fill BASE.
static int s_decode_map (proto_decoder_t *self, mpr_t *r, const char *where, const s_key_t *keys,
                         size_t nkeys, void *base, unsigned depth)
{
    uint32_t pairs;
    int rc = mpr_map (r, &pairs);
    if (rc != MPR_OK)
        return s_bad_read (self, r, rc, where, "a map");
    for (uint32_t n = 0; n < pairs; n++) {
        const uint8_t *key;
        size_t size;
        rc = mpr_str (r, &key, &size);
        if (rc == MPR_TYPE)
            return s_fail (self, RLOG_MALFORMED, "%s has a non-string key", where);
        if (rc != MPR_OK)
            return s_bad_read (self, r, rc, where, "a string key");
        const s_key_t *k = s_find_key (keys, nkeys, key, size);
        if (k) {
            if ((rc = s_decode_value (self, r, where, k, base, depth)) != RLOG_OK)
                return rc;
        } else if ((rc = mpr_skip (r, S_DEPTH_MAX - depth)) != MPR_OK)
            return s_bad_read (self, r, rc, where, "a value");
    }
    return RLOG_OK;
}

static int s_decode_status (proto_decoder_t *self, mpr_t *r, const s_field_t *f, unsigned index,
                            proto_msg_t *msg)
{
    char where[64];
    snprintf (where, sizeof where, "field %u (%s)", index, f->name);
    memset (&self->status, 0, sizeof self->status);
    int rc =
        s_decode_map (self, r, where, s_status_keys, S_COUNT (s_status_keys), &self->status, 2);
    if (rc == RLOG_OK)
        msg->status = &self->status;
    return rc;
}

//  --------------------------------------------------------------------------

//  Field F, element INDEX of the frame, into MSG.
static int s_decode_field (proto_decoder_t *self, mpr_t *r, const s_field_t *f, unsigned index,
                           proto_msg_t *msg)
{
    uint64_t value;
    bool flag;
    int rc;
    switch (f->kind) {
    case K_UINT:
    case K_REQ:
        if ((rc = s_decode_uint (self, r, f, index, &value)) != RLOG_OK)
            return rc;
        memcpy ((uint8_t *)msg + f->off, &value, sizeof value);
        //  From here on a refusal can name its request
        if (f->kind == K_REQ)
            msg->req_id_known = true;
        return RLOG_OK;
    case K_BOOL:
        if ((rc = mpr_bool (r, &flag)) != MPR_OK)
            return s_bad_field (self, r, rc, index, f->name, "a boolean");
        memcpy ((uint8_t *)msg + f->off, &flag, sizeof flag);
        return RLOG_OK;
    case K_BIN:
    case K_ID:
    case K_PAYLOAD:
        return s_decode_bin (self, r, f, index, msg);
    case K_STR:
        return s_decode_str (self, r, f, index, msg);
    case K_PAYLOADS:
        return s_decode_payloads (self, r, f, index, msg);
    case K_EXCEPTIONS:
        return s_decode_exceptions (self, r, f, index, msg);
    default: //  K_STATUS
        return s_decode_status (self, r, f, index, msg);
    }
}

//  The three text arrays are contiguous, between the numbers and the lists.
_Static_assert(offsetof (proto_msg_t, text) ==
                       offsetof (proto_msg_t, node_id) + sizeof ((proto_msg_t *)0)->node_id &&
                   offsetof (proto_msg_t, leader) ==
                       offsetof (proto_msg_t, text) + sizeof ((proto_msg_t *)0)->text &&
                   offsetof (proto_msg_t, payloads) ==
                       offsetof (proto_msg_t, leader) + sizeof ((proto_msg_t *)0)->leader,
               "proto_msg_t texts moved: fix s_clear");

//  Zero MSG, its texts made empty: their first byte is enough, and they
//  are two thirds of the struct (a third of an APPEND's decode if cleared).
static void s_clear (proto_msg_t *msg)
{
    memset (msg, 0, offsetof (proto_msg_t, node_id));
    msg->node_id[0] = msg->text[0] = msg->leader[0] = 0;
    size_t lists = offsetof (proto_msg_t, payloads);
    memset ((uint8_t *)msg + lists, 0, sizeof *msg - lists);
}

int proto_decode (proto_decoder_t *self, const void *data, size_t size, proto_msg_t *msg)
{
    assert (self);
    assert (msg);
    s_clear (msg);
    self->deferred = RLOG_OK;
    if (!data || size == 0)
        return s_fail (self, RLOG_MALFORMED, "empty frame");

    //  Rule 1: an array whose elements can fit the frame
    mpr_t r;
    mpr_init (&r, data, size);
    uint32_t count;
    int rc = mpr_array (&r, &count);
    if (rc == MPR_TYPE)
        return s_fail (self, RLOG_MALFORMED, "frame is not an array");
    if (rc != MPR_OK)
        return s_bad_read (self, &r, rc, "frame", "an array");
    if (count < 2)
        return s_fail (self, RLOG_MALFORMED, "frame has %" PRIu32 " elements, at least 2 needed",
                       count);

    //  Rules 2 and 3: version, then type
    uint64_t version, type;
    if ((rc = mpr_uint (&r, &version)) != MPR_OK)
        return s_bad_field (self, &r, rc, 0, "version", "an unsigned integer");
    if (version != PROTO_VERSION)
        return s_fail (self, RLOG_BAD_VERSION,
                       "unsupported protocol version %" PRIu64 ": this node speaks version %d",
                       version, PROTO_VERSION);
    if ((rc = mpr_uint (&r, &type)) != MPR_OK)
        return s_bad_field (self, &r, rc, 1, "type", "an unsigned integer");
    const s_message_t *m = s_message (type);
    if (!m)
        return s_fail (self, RLOG_UNKNOWN_TYPE, "unknown message type %" PRIu64, type);
    msg->type = (int)type;

    //  Rule 4: element count, then each field
    if (count != 2 + m->count)
        return s_fail (self, RLOG_MALFORMED, "%s needs %u elements, not %" PRIu32, m->name,
                       2 + m->count, count);
    for (unsigned i = 0; i < m->count; i++)
        if ((rc = s_decode_field (self, &r, &m->fields[i], 2 + i, msg)) != RLOG_OK)
            return rc;

    //  Rule 5: exactly one value; rule 6: what was noted on the way
    if (r.p != r.end)
        return s_fail (self, RLOG_MALFORMED, "%zu trailing bytes after the frame", mpr_left (&r));
    return self->deferred;
}

//  ==========================================================================
//  Encoder

struct _proto_encoder_t {
    msgpack_sbuffer sbuf; //  the frame being built
    msgpack_packer pk;    //  writes into sbuf
};

proto_encoder_t *proto_encoder_new (void)
{
    proto_encoder_t *self = (proto_encoder_t *)calloc (1, sizeof (proto_encoder_t));
    if (!self)
        return NULL;
    msgpack_sbuffer_init (&self->sbuf);
    msgpack_packer_init (&self->pk, &self->sbuf, msgpack_sbuffer_write);
    return self;
}

void proto_encoder_destroy (proto_encoder_t **self_p)
{
    assert (self_p);
    proto_encoder_t *self = *self_p;
    if (self) {
        msgpack_sbuffer_destroy (&self->sbuf);
        free (self);
        *self_p = NULL;
    }
}

const void *proto_encoder_data (proto_encoder_t *self)
{
    assert (self);
    return self->sbuf.data;
}

size_t proto_encoder_size (proto_encoder_t *self)
{
    assert (self);
    return self->sbuf.size;
}

int proto_encoder_take (proto_encoder_t *self, void **data_p, size_t *size_p)
{
    assert (self);
    assert (data_p && size_p);
    if (!self->sbuf.data || self->sbuf.size == 0)
        return -1;
    *size_p = self->sbuf.size;
    *data_p = msgpack_sbuffer_release (&self->sbuf);
    return 0;
}

void proto_encoder_free (void *data, void *hint)
{
    (void)hint;
    free (data); //  sbuffer memory comes from malloc / realloc
}

//  --------------------------------------------------------------------------
//  Packing helpers: each returns 0, or -1 (out of memory, out of bounds).

//  A value out of the table's bounds: the caller's bug, fatal in debug
//  builds (named on stderr first), -1 otherwise.
static int s_out_of_bounds (const char *what)
{
#ifndef NDEBUG
    fprintf (stderr, "proto_encode: %s out of its bounds\n", what);
    abort ();
#else
    (void)what;
    return -1;
#endif
}

static int s_pack_bin (msgpack_packer *pk, const void *data, size_t size)
{
    if (size > UINT32_MAX || (size && !data))
        return s_out_of_bounds ("bin");
    if (msgpack_pack_bin (pk, size))
        return -1;
    return size ? msgpack_pack_bin_body (pk, data, size) : 0;
}

static int s_pack_str (msgpack_packer *pk, const char *text, size_t size)
{
    if (msgpack_pack_str (pk, size))
        return -1;
    return size ? msgpack_pack_str_body (pk, text, size) : 0;
}

//  The text in a char array of MAX + 1 bytes: up to its NUL, cut to MAX
//  bytes at a character boundary, invalid UTF-8 replaced by '?'; it must
//  keep MIN bytes.
static int s_pack_text (msgpack_packer *pk, const char *text, uint64_t min, uint64_t max)
{
    size_t size = strnlen (text, (size_t)max + 1);
    if (size > max) {
        size = (size_t)max;
        while (size > 0 && ((uint8_t)text[size] & 0xc0) == 0x80)
            size--;
    }
    if (size < min)
        return s_out_of_bounds ("text");
    if (!s_text_fault ((const uint8_t *)text, size))
        return s_pack_str (pk, text, size);
    char clean[PROTO_ENDPOINT_MAX + 1];
    assert (size < sizeof clean);
    for (size_t i = 0; i < size;) {
        size_t n = s_utf8_char ((const uint8_t *)text + i, size - i);
        if (n == 0) {
            clean[i++] = '?';
            continue;
        }
        memcpy (clean + i, text + i, n);
        i += n;
    }
    return s_pack_str (pk, clean, size);
}

static int s_encode_map (msgpack_packer *pk, const s_key_t *keys, size_t nkeys, const void *base);

static int s_encode_peers (msgpack_packer *pk, const proto_status_t *st)
{
    if (st->peer_count > PROTO_STATUS_PEERS_MAX)
        return s_out_of_bounds ("peer_count");
    if (msgpack_pack_array (pk, st->peer_count))
        return -1;
    for (size_t i = 0; i < st->peer_count; i++)
        if (s_encode_map (pk, s_peer_keys, S_COUNT (s_peer_keys), &st->peers[i]))
            return -1;
    return 0;
}

static int s_encode_value (msgpack_packer *pk, const s_key_t *k, const void *base)
{
    const uint8_t *src = (const uint8_t *)base + k->offset;
    uint64_t u = 0;
    int64_t i;
    bool b;
    switch (k->kind) {
    case ST_STR:
        return s_pack_text (pk, (const char *)src, 0, k->size - 1u);
    case ST_UINT:
        if (k->size == sizeof (uint32_t)) {
            uint32_t u32;
            memcpy (&u32, src, sizeof u32);
            u = u32;
        } else
            memcpy (&u, src, sizeof u);
        return msgpack_pack_uint64 (pk, u);
    case ST_INT:
        memcpy (&i, src, sizeof i);
        return msgpack_pack_int64 (pk, i);
    case ST_BOOL:
        memcpy (&b, src, sizeof b);
        return b ? msgpack_pack_true (pk) : msgpack_pack_false (pk);
    default: //  ST_PEERS
        return s_encode_peers (pk, (const proto_status_t *)base);
    }
}

//  Every key of KEYS, in table order.
static int s_encode_map (msgpack_packer *pk, const s_key_t *keys, size_t nkeys, const void *base)
{
    if (msgpack_pack_map (pk, nkeys))
        return -1;
    for (size_t i = 0; i < nkeys; i++)
        if (s_pack_str (pk, keys[i].key, strlen (keys[i].key)) ||
            s_encode_value (pk, &keys[i], base))
            return -1;
    return 0;
}

static int s_encode_payloads (msgpack_packer *pk, const s_field_t *f, const proto_msg_t *msg)
{
    size_t count = msg->payload_count;
    if (count > f->max || (count && !msg->payloads) ||
        (count > 0 && msg->seq > UINT64_MAX - (count - 1)))
        return s_out_of_bounds ("payloads");
    if (msgpack_pack_array (pk, count))
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (s_pack_bin (pk, msg->payloads[i].data, msg->payloads[i].size))
            return -1;
    }
    return 0;
}

static int s_encode_exceptions (msgpack_packer *pk, const s_field_t *f, const proto_msg_t *msg)
{
    size_t count = msg->exception_count;
    if (count > f->max || (count && !msg->exceptions))
        return s_out_of_bounds ("exceptions");
    if (msgpack_pack_array (pk, count))
        return -1;
    for (size_t i = 0; i < count; i++) {
        const proto_exception_t *e = &msg->exceptions[i];
        if (e->index >= msg->count || e->code >= RLOG_ERR_MAX)
            return s_out_of_bounds ("exception");
        if (msgpack_pack_array (pk, 3) || msgpack_pack_uint64 (pk, e->index) ||
            msgpack_pack_uint64 (pk, e->code) || msgpack_pack_uint64 (pk, e->seq))
            return -1;
    }
    return 0;
}

//  Field F of MSG; HEAD_ONLY: a bin's header, its bytes to follow.
static int s_encode_field (msgpack_packer *pk, const s_field_t *f, const proto_msg_t *msg,
                           bool head_only)
{
    const uint8_t *base = (const uint8_t *)msg;
    uint64_t value;
    const uint8_t *data;
    size_t size;
    switch (f->kind) {
    case K_UINT:
    case K_REQ:
        memcpy (&value, base + f->off, sizeof value);
        if (value < f->min || value > f->max)
            return s_out_of_bounds (f->name);
        return msgpack_pack_uint64 (pk, value);
    case K_BOOL:
        return *(const bool *)(base + f->off) ? msgpack_pack_true (pk) : msgpack_pack_false (pk);
    case K_BIN:
    case K_ID:
    case K_PAYLOAD:
        memcpy (&data, base + f->off, sizeof data);
        memcpy (&size, base + f->off2, sizeof size);
        if (!s_size_fits (f, size))
            return s_out_of_bounds (f->name);
        if (head_only)
            return msgpack_pack_bin (pk, size);
        return s_pack_bin (pk, data, size);
    case K_STR:
        return s_pack_text (pk, (const char *)base + f->off, f->min, f->max);
    case K_PAYLOADS:
        return s_encode_payloads (pk, f, msg);
    case K_EXCEPTIONS:
        return s_encode_exceptions (pk, f, msg);
    default: //  K_STATUS
        if (!msg->status)
            return s_out_of_bounds ("status");
        return s_encode_map (pk, s_status_keys, S_COUNT (s_status_keys), msg->status);
    }
}

static int s_encode (proto_encoder_t *self, const proto_msg_t *msg, bool prefix)
{
    assert (self);
    assert (msg);
    const s_message_t *m = msg->type < 0 ? NULL : s_message ((uint64_t)msg->type);
    if (!m)
        return s_out_of_bounds ("type");
    if (prefix && (m->count == 0 || m->fields[m->count - 1].kind != K_BIN))
        return s_out_of_bounds ("prefix of a frame that does not end with a bin");
    msgpack_sbuffer_clear (&self->sbuf);
    msgpack_packer *pk = &self->pk;
    if (msgpack_pack_array (pk, 2 + m->count) || msgpack_pack_uint64 (pk, PROTO_VERSION) ||
        msgpack_pack_uint64 (pk, (uint64_t)msg->type))
        return -1;
    for (unsigned i = 0; i < m->count; i++)
        if (s_encode_field (pk, &m->fields[i], msg, prefix && i + 1 == m->count))
            return -1;
    return 0;
}

int proto_encode (proto_encoder_t *self, const proto_msg_t *msg)
{
    return s_encode (self, msg, false);
}

int proto_encode_prefix (proto_encoder_t *self, const proto_msg_t *msg)
{
    return s_encode (self, msg, true);
}
