/*  proto.c - rlog frame codec: the only code that knows msgpack.

    Encoding packs straight into one msgpack_sbuffer per encoder, cleared at
    the start of every frame, so a steady stream of frames allocates nothing.

    Decoding never trusts its input. Before msgpack-c sees a byte, s_prescan
    walks the raw msgpack structure iteratively and checks that every
    declared array, map, str, bin and ext length fits in the bytes that
    remain (an array element takes at least one byte, a map pair two), that
    containers nest at most S_MAX_DEPTH deep, and that the frame is exactly
    one value. That bounds what msgpack-c reserves for container headers by
    the frame size. Then msgpack_unpack_next builds the object tree, and each
    frame type checks its element count and every field's type, in the order
    docs/PROTOCOL.md lists under "Decoding rules". Decoded str/bin pointers
    borrow the input; entries and the status go into decoder-owned storage
    that is reused from one decode to the next.
*/
#include "proto.h"

#include <assert.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Containers may nest this deep (the top-level array counts as 1).
#define S_MAX_DEPTH 8

//  No entry index: the field is a top-level one.
#define S_TOP SIZE_MAX

struct _proto_decoder_t {
    size_t max_payload;        //  largest payload accepted
    msgpack_unpacked unpacked; //  object tree of the last frame
    entry_t *entries;          //  BATCH / FILL / LIST_REPLY entries
    size_t entries_max;        //  allocated slots in entries
    rlog_status_t status;      //  STATUS_REPLY body
    char error[160];           //  reason of the last failure
};

struct _proto_encoder_t {
    msgpack_sbuffer sbuf; //  the frame being built
    msgpack_packer pk;    //  writes into sbuf
    size_t pending;       //  entries promised by a *_begin, not yet added
};

//  --------------------------------------------------------------------------
//  Names

const char *proto_type_name (int type)
{
    switch (type) {
    case PROTO_APPEND:
        return "APPEND";
    case PROTO_LIST:
        return "LIST";
    case PROTO_STATUS:
        return "STATUS";
    case PROTO_BATCH:
        return "BATCH";
    case PROTO_HEARTBEAT:
        return "HEARTBEAT";
    case PROTO_HELLO:
        return "HELLO";
    case PROTO_ACK:
        return "ACK";
    case PROTO_FETCH:
        return "FETCH";
    case PROTO_WELCOME:
        return "WELCOME";
    case PROTO_FILL:
        return "FILL";
    case PROTO_APPEND_REPLY:
        return "APPEND_REPLY";
    case PROTO_LIST_REPLY:
        return "LIST_REPLY";
    case PROTO_STATUS_REPLY:
        return "STATUS_REPLY";
    case PROTO_ERROR:
        return "ERROR";
    default:
        return "unknown";
    }
}

//  --------------------------------------------------------------------------
//  Number of top-level elements a frame of TYPE has, 0 if TYPE is unknown.

static uint32_t s_element_count (uint64_t type)
{
    switch (type) {
    case PROTO_APPEND:
        return 7;
    case PROTO_LIST:
        return 4;
    case PROTO_STATUS:
        return 2;
    case PROTO_BATCH:
    case PROTO_FILL:
        return 5;
    case PROTO_HEARTBEAT:
        return 4;
    case PROTO_HELLO:
        return 5;
    case PROTO_ACK:
        return 3;
    case PROTO_FETCH:
        return 4;
    case PROTO_WELCOME:
        return 5;
    case PROTO_APPEND_REPLY:
        return 8;
    case PROTO_LIST_REPLY:
        return 6;
    case PROTO_STATUS_REPLY:
        return 4;
    case PROTO_ERROR:
        return 4;
    default:
        return 0;
    }
}

//  ==========================================================================
//  Decoder

proto_decoder_t *proto_decoder_new (size_t max_payload)
{
    proto_decoder_t *self = (proto_decoder_t *)calloc (1, sizeof (proto_decoder_t));
    if (!self)
        return NULL;
    self->max_payload = max_payload;
    msgpack_unpacked_init (&self->unpacked);
    snprintf (self->error, sizeof self->error, "no error");
    return self;
}

void proto_decoder_destroy (proto_decoder_t **self_p)
{
    assert (self_p);
    proto_decoder_t *self = *self_p;
    if (self) {
        msgpack_unpacked_destroy (&self->unpacked);
        free (self->entries);
        free (self);
        *self_p = NULL;
    }
}

const char *proto_decoder_error (proto_decoder_t *self)
{
    assert (self);
    return self->error;
}

//  --------------------------------------------------------------------------
//  Record a failure reason and return CODE.

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

//  Failure of field FIELD (NAME) of the frame, or of entry ENTRY if that is
//  not S_TOP; WHAT says what it should have been.

static int s_fail_field (proto_decoder_t *self, int code, size_t entry, unsigned field,
                         const char *name, const char *what)
{
    if (entry == S_TOP)
        return s_fail (self, code, "field %u (%s) %s", field, name, what);
    else
        return s_fail (self, code, "entry %zu field %u (%s) %s", entry, field, name, what);
}

//  --------------------------------------------------------------------------
//  Structural pre-scan of the raw msgpack bytes. Iterative: LEFT[d] counts
//  the values still expected at depth d, PENDING their total over all
//  depths; each needs at least one byte, so PENDING may never exceed the
//  bytes that remain. Returns RLOG_OK or RLOG_MALFORMED.

static uint64_t s_be (const uint8_t *p, size_t width)
{
    uint64_t value = 0;
    for (size_t i = 0; i < width; i++)
        value = (value << 8) | p[i];
    return value;
}

static int s_prescan (proto_decoder_t *self, const uint8_t *p, size_t size)
{
    uint64_t left[S_MAX_DEPTH + 1];
    uint64_t pending = 1;
    size_t depth = 0;
    size_t pos = 0;
    left[0] = 1;

    while (true) {
        while (left[depth] == 0 && depth > 0)
            depth--;
        if (left[depth] == 0)
            break; //  the top-level value is complete
        if (pos >= size)
            return s_fail (self, RLOG_MALFORMED, "truncated frame (%zu bytes)", size);

        uint8_t byte = p[pos++];
        left[depth]--;
        pending--;

        //  What follows the type byte: a length of LEN_WIDTH bytes, then
        //  (for blobs) that many bytes plus EXTRA, or a fixed SKIP, or
        //  CHILDREN values (per element) of a container.
        size_t len_width = 0;
        uint64_t skip = 0;
        uint64_t extra = 0;
        bool blob = false;
        bool container = false;
        uint64_t per_item = 1; //  values per declared item: 2 for a map

        if (byte <= 0x7f || byte >= 0xe0) {
            //  positive / negative fixint: nothing follows
        } else if (byte <= 0x8f) {
            container = true;
            per_item = 2;
            skip = byte & 0x0f;
        } else if (byte <= 0x9f) {
            container = true;
            skip = byte & 0x0f;
        } else if (byte <= 0xbf)
            skip = byte & 0x1f; //  fixstr
        else {
            switch (byte) {
            case 0xc0: //  nil
            case 0xc2: //  false
            case 0xc3: //  true
                break;
            case 0xc4: //  bin 8
            case 0xd9: //  str 8
                blob = true;
                len_width = 1;
                break;
            case 0xc5: //  bin 16
            case 0xda: //  str 16
                blob = true;
                len_width = 2;
                break;
            case 0xc6: //  bin 32
            case 0xdb: //  str 32
                blob = true;
                len_width = 4;
                break;
            case 0xc7: //  ext 8: length, type, data
                blob = true;
                len_width = 1;
                extra = 1;
                break;
            case 0xc8: //  ext 16
                blob = true;
                len_width = 2;
                extra = 1;
                break;
            case 0xc9: //  ext 32
                blob = true;
                len_width = 4;
                extra = 1;
                break;
            case 0xcc: //  uint 8
            case 0xd0: //  int 8
                skip = 1;
                break;
            case 0xcd: //  uint 16
            case 0xd1: //  int 16
                skip = 2;
                break;
            case 0xca: //  float 32
            case 0xce: //  uint 32
            case 0xd2: //  int 32
                skip = 4;
                break;
            case 0xcb: //  float 64
            case 0xcf: //  uint 64
            case 0xd3: //  int 64
                skip = 8;
                break;
            case 0xd4: //  fixext 1: type + 1
                skip = 2;
                break;
            case 0xd5: //  fixext 2
                skip = 3;
                break;
            case 0xd6: //  fixext 4
                skip = 5;
                break;
            case 0xd7: //  fixext 8
                skip = 9;
                break;
            case 0xd8: //  fixext 16
                skip = 17;
                break;
            case 0xdc: //  array 16
                container = true;
                len_width = 2;
                break;
            case 0xdd: //  array 32
                container = true;
                len_width = 4;
                break;
            case 0xde: //  map 16
                container = true;
                len_width = 2;
                per_item = 2;
                break;
            case 0xdf: //  map 32
                container = true;
                len_width = 4;
                per_item = 2;
                break;
            default: //  0xc1, never used
                return s_fail (self, RLOG_MALFORMED, "invalid msgpack byte 0x%02x at offset %zu",
                               byte, pos - 1);
            }
        }
        if (len_width) {
            if (size - pos < len_width)
                return s_fail (self, RLOG_MALFORMED, "truncated frame (%zu bytes)", size);
            skip = s_be (p + pos, len_width);
            pos += len_width;
        }
        if (container) {
            if (depth >= S_MAX_DEPTH)
                return s_fail (self, RLOG_MALFORMED, "containers nested deeper than %d",
                               S_MAX_DEPTH);
            uint64_t children = skip * per_item; //  at most 2 * (2^32 - 1)
            if (children > 0) {
                pending += children;
                if (pending > size - pos)
                    return s_fail (self, RLOG_MALFORMED,
                                   "declared %s of %" PRIu64 " items exceeds the frame",
                                   per_item == 2 ? "map" : "array", skip);
                depth++;
                left[depth] = children;
            }
        } else {
            if (blob)
                skip += extra;
            if (skip > size - pos)
                return s_fail (self, RLOG_MALFORMED,
                               "declared length %" PRIu64 " exceeds the frame", skip);
            pos += (size_t)skip;
        }
    }
    if (pos != size)
        return s_fail (self, RLOG_MALFORMED, "%zu trailing bytes after the frame", size - pos);
    return RLOG_OK;
}

//  --------------------------------------------------------------------------
//  Field readers. Each returns RLOG_OK, or RLOG_MALFORMED with a reason.

static int s_get_uint (proto_decoder_t *self, const msgpack_object *o, size_t entry, unsigned field,
                       const char *name, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return s_fail_field (self, RLOG_MALFORMED, entry, field, name,
                             "must be an unsigned integer");
    *out = o->via.u64;
    return RLOG_OK;
}

//  A reply code outside rlog_err_t would reach callers as some other error
//  (2^32+1 truncates to TIMEOUT, "stored"): refuse it here.
static int s_get_code (proto_decoder_t *self, const msgpack_object *o, uint64_t *out)
{
    if (s_get_uint (self, o, S_TOP, 2, "code", out))
        return -1;
    if (*out >= RLOG_ERR_MAX) {
        s_fail (self, RLOG_MALFORMED, "field 2 (code) %llu is not an rlog error code",
                (unsigned long long)*out);
        return -1;
    }
    return 0;
}

static int s_get_bin (proto_decoder_t *self, const msgpack_object *o, size_t entry, unsigned field,
                      const char *name, const uint8_t **data, size_t *size)
{
    if (o->type != MSGPACK_OBJECT_BIN)
        return s_fail_field (self, RLOG_MALFORMED, entry, field, name, "must be bin");
    *data = (const uint8_t *)o->via.bin.ptr;
    *size = o->via.bin.size;
    return RLOG_OK;
}

//  A client id: bin of 0..ENTRY_CLIENT_ID_MAX bytes.
static int s_get_client_id (proto_decoder_t *self, const msgpack_object *o, size_t entry,
                            unsigned field, const uint8_t **data, size_t *size)
{
    if (s_get_bin (self, o, entry, field, "client_id", data, size))
        return RLOG_MALFORMED;
    if (*size > ENTRY_CLIENT_ID_MAX)
        return s_fail_field (self, RLOG_MALFORMED, entry, field, "client_id",
                             "must be at most 64 bytes");
    return RLOG_OK;
}

//  A str of MIN..MAX bytes without NUL, copied NUL-terminated into DEST
//  (which holds MAX + 1 bytes).
static int s_get_text (proto_decoder_t *self, const msgpack_object *o, unsigned field,
                       const char *name, size_t min, size_t max, char *dest)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return s_fail_field (self, RLOG_MALFORMED, S_TOP, field, name, "must be a string");
    size_t size = o->via.str.size;
    if (size < min || size > max)
        return s_fail (self, RLOG_MALFORMED, "field %u (%s) must be %zu..%zu bytes, not %zu", field,
                       name, min, max, size);
    if (size && memchr (o->via.str.ptr, 0, size))
        return s_fail_field (self, RLOG_MALFORMED, S_TOP, field, name,
                             "must not contain a NUL byte");
    if (size)
        memcpy (dest, o->via.str.ptr, size);
    dest[size] = 0;
    return RLOG_OK;
}

//  --------------------------------------------------------------------------
//  Make room for COUNT entries. Returns RLOG_OK or RLOG_INTERNAL.

static int s_reserve_entries (proto_decoder_t *self, size_t count)
{
    if (count <= self->entries_max)
        return RLOG_OK;
    size_t want = self->entries_max ? self->entries_max : 16;
    while (want < count)
        want = want > SIZE_MAX / 2 ? count : want * 2;
    if (want > SIZE_MAX / sizeof (entry_t))
        return s_fail (self, RLOG_INTERNAL, "out of memory for %zu entries", count);
    entry_t *entries = (entry_t *)realloc (self->entries, want * sizeof (entry_t));
    if (!entries)
        return s_fail (self, RLOG_INTERNAL, "out of memory for %zu entries", count);
    self->entries = entries;
    self->entries_max = want;
    return RLOG_OK;
}

//  FIRST_SEQ .. FIRST_SEQ + COUNT - 1 must not wrap around.
static int s_check_seq_range (proto_decoder_t *self, uint64_t first_seq, size_t count)
{
    if (count > 0 && first_seq > UINT64_MAX - (uint64_t)(count - 1))
        return s_fail (self, RLOG_MALFORMED,
                       "first_seq %" PRIu64 " + %zu entries overflows the seq range", first_seq,
                       count);
    return RLOG_OK;
}

//  --------------------------------------------------------------------------
//  BATCH and FILL: [1, type, epoch, first_seq, [[epoch, client_id, req_id,
//  payload], ...]]

static int s_decode_batch (proto_decoder_t *self, const msgpack_object *f, proto_msg_t *msg)
{
    if (s_get_uint (self, &f[2], S_TOP, 2, "epoch", &msg->epoch) ||
        s_get_uint (self, &f[3], S_TOP, 3, "first_seq", &msg->seq))
        return RLOG_MALFORMED;
    if (f[4].type != MSGPACK_OBJECT_ARRAY)
        return s_fail_field (self, RLOG_MALFORMED, S_TOP, 4, "entries", "must be an array");
    size_t count = f[4].via.array.size;
    if (count == 0)
        return s_fail_field (self, RLOG_MALFORMED, S_TOP, 4, "entries",
                             "must hold at least one entry");
    if (s_check_seq_range (self, msg->seq, count))
        return RLOG_MALFORMED;
    int rc = s_reserve_entries (self, count);
    if (rc)
        return rc;

    const msgpack_object *items = f[4].via.array.ptr;
    for (size_t i = 0; i < count; i++) {
        const msgpack_object *item = &items[i];
        if (item->type != MSGPACK_OBJECT_ARRAY || item->via.array.size != 4)
            return s_fail (self, RLOG_MALFORMED, "entry %zu must be an array of 4 elements", i);
        const msgpack_object *e = item->via.array.ptr;
        entry_t *entry = &self->entries[i];
        if (s_get_uint (self, &e[0], i, 0, "epoch", &entry->epoch) ||
            s_get_client_id (self, &e[1], i, 1, &entry->client_id, &entry->client_id_size) ||
            s_get_uint (self, &e[2], i, 2, "req_id", &entry->req_id) ||
            s_get_bin (self, &e[3], i, 3, "payload", &entry->data, &entry->size))
            return RLOG_MALFORMED;
        if (entry->size == 0)
            return s_fail_field (self, RLOG_MALFORMED, i, 3, "payload", "must not be empty");
        if (entry->size > self->max_payload)
            return s_fail (self, RLOG_TOO_LARGE, "entry %zu payload of %zu bytes exceeds %zu", i,
                           entry->size, self->max_payload);
    }
    msg->entries = self->entries;
    msg->entry_count = count;
    return RLOG_OK;
}

//  --------------------------------------------------------------------------
//  LIST_REPLY: [1, 41, code, head, first_seq, [payload, ...]]

static int s_decode_list_reply (proto_decoder_t *self, const msgpack_object *f, proto_msg_t *msg)
{
    if (s_get_code (self, &f[2], &msg->code) ||
        s_get_uint (self, &f[3], S_TOP, 3, "head", &msg->head) ||
        s_get_uint (self, &f[4], S_TOP, 4, "first_seq", &msg->seq))
        return RLOG_MALFORMED;
    if (f[5].type != MSGPACK_OBJECT_ARRAY)
        return s_fail_field (self, RLOG_MALFORMED, S_TOP, 5, "payloads", "must be an array");
    size_t count = f[5].via.array.size;
    if (s_check_seq_range (self, msg->seq, count))
        return RLOG_MALFORMED;
    int rc = s_reserve_entries (self, count);
    if (rc)
        return rc;

    const msgpack_object *items = f[5].via.array.ptr;
    for (size_t i = 0; i < count; i++) {
        const msgpack_object *item = &items[i];
        if (item->type != MSGPACK_OBJECT_BIN)
            return s_fail (self, RLOG_MALFORMED, "payload %zu must be bin", i);
        if (item->via.bin.size == 0)
            return s_fail (self, RLOG_MALFORMED, "payload %zu must not be empty", i);
        if (item->via.bin.size > self->max_payload)
            return s_fail (self, RLOG_TOO_LARGE, "payload %zu of %" PRIu32 " bytes exceeds %zu", i,
                           item->via.bin.size, self->max_payload);
        entry_t *entry = &self->entries[i];
        memset (entry, 0, sizeof *entry);
        entry->data = (const uint8_t *)item->via.bin.ptr;
        entry->size = item->via.bin.size;
    }
    msg->entries = self->entries;
    msg->entry_count = count;
    return RLOG_OK;
}

//  --------------------------------------------------------------------------
//  STATUS_REPLY map values. KEY names the field in failure reasons.

static bool s_key_is (const msgpack_object *key, const char *name)
{
    size_t size = strlen (name);
    return key->via.str.size == size && memcmp (key->via.str.ptr, name, size) == 0;
}

static int s_status_fail (proto_decoder_t *self, const msgpack_object *key, const char *what)
{
    int size = key->via.str.size > 40 ? 40 : (int)key->via.str.size;
    return s_fail (self, RLOG_MALFORMED, "status key '%.*s' %s", size, key->via.str.ptr, what);
}

static int s_status_str (proto_decoder_t *self, const msgpack_object *key,
                         const msgpack_object *value, char *dest, size_t dest_size)
{
    if (value->type != MSGPACK_OBJECT_STR)
        return s_status_fail (self, key, "must be a string");
    size_t size = value->via.str.size;
    if (size >= dest_size)
        return s_status_fail (self, key, "is too long");
    if (size && memchr (value->via.str.ptr, 0, size))
        return s_status_fail (self, key, "must not contain a NUL byte");
    if (size)
        memcpy (dest, value->via.str.ptr, size);
    dest[size] = 0;
    return RLOG_OK;
}

static int s_status_uint (proto_decoder_t *self, const msgpack_object *key,
                          const msgpack_object *value, uint64_t *dest)
{
    if (value->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return s_status_fail (self, key, "must be an unsigned integer");
    *dest = value->via.u64;
    return RLOG_OK;
}

static int s_status_u32 (proto_decoder_t *self, const msgpack_object *key,
                         const msgpack_object *value, uint32_t *dest)
{
    if (value->type != MSGPACK_OBJECT_POSITIVE_INTEGER || value->via.u64 > UINT32_MAX)
        return s_status_fail (self, key, "must be an unsigned 32-bit integer");
    *dest = (uint32_t)value->via.u64;
    return RLOG_OK;
}

static int s_status_int (proto_decoder_t *self, const msgpack_object *key,
                         const msgpack_object *value, int64_t *dest)
{
    if (value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *dest = value->via.i64;
    else if (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER && value->via.u64 <= INT64_MAX)
        *dest = (int64_t)value->via.u64;
    else
        return s_status_fail (self, key, "must be a 64-bit integer");
    return RLOG_OK;
}

static int s_status_bool (proto_decoder_t *self, const msgpack_object *key,
                          const msgpack_object *value, bool *dest)
{
    if (value->type != MSGPACK_OBJECT_BOOLEAN)
        return s_status_fail (self, key, "must be a boolean");
    *dest = value->via.boolean;
    return RLOG_OK;
}

//  One secondary's map; unknown keys are ignored.
static int s_decode_secondary (proto_decoder_t *self, size_t index, const msgpack_object *o,
                               rlog_secondary_status_t *sec)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return s_fail (self, RLOG_MALFORMED, "status secondary %zu must be a map", index);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *key = &o->via.map.ptr[i].key;
        const msgpack_object *value = &o->via.map.ptr[i].val;
        int rc = RLOG_OK;
        if (key->type != MSGPACK_OBJECT_STR)
            return s_fail (self, RLOG_MALFORMED, "status secondary %zu has a non-string key",
                           index);
        if (s_key_is (key, "id"))
            rc = s_status_str (self, key, value, sec->id, sizeof sec->id);
        else if (s_key_is (key, "state"))
            rc = s_status_str (self, key, value, sec->state, sizeof sec->state);
        else if (s_key_is (key, "acked"))
            rc = s_status_uint (self, key, value, &sec->acked);
        else if (s_key_is (key, "lag"))
            rc = s_status_uint (self, key, value, &sec->lag);
        else if (s_key_is (key, "last_heard_ms"))
            rc = s_status_int (self, key, value, &sec->last_heard_ms);
        else if (s_key_is (key, "catching_up"))
            rc = s_status_bool (self, key, value, &sec->catching_up);
        if (rc)
            return rc;
    }
    return RLOG_OK;
}

static int s_status_secondaries (proto_decoder_t *self, const msgpack_object *key,
                                 const msgpack_object *value, rlog_status_t *status)
{
    if (value->type != MSGPACK_OBJECT_ARRAY)
        return s_status_fail (self, key, "must be an array");
    if (value->via.array.size > RLOG_MAX_SECONDARIES)
        return s_fail (self, RLOG_MALFORMED, "status lists %" PRIu32 " secondaries, at most %d",
                       value->via.array.size, RLOG_MAX_SECONDARIES);
    memset (status->secondaries, 0, sizeof status->secondaries);
    status->secondary_count = 0;
    for (uint32_t i = 0; i < value->via.array.size; i++) {
        int rc = s_decode_secondary (self, i, &value->via.array.ptr[i], &status->secondaries[i]);
        if (rc)
            return rc;
    }
    status->secondary_count = value->via.array.size;
    return RLOG_OK;
}

//  STATUS_REPLY: [1, 42, code, {key: value, ...}]
static int s_decode_status_reply (proto_decoder_t *self, const msgpack_object *f, proto_msg_t *msg)
{
    rlog_status_t *st = &self->status;
    memset (st, 0, sizeof *st);
    st->master_last_heard_ms = -1;

    if (s_get_code (self, &f[2], &msg->code))
        return RLOG_MALFORMED;
    if (f[3].type != MSGPACK_OBJECT_MAP)
        return s_fail_field (self, RLOG_MALFORMED, S_TOP, 3, "status", "must be a map");

    const msgpack_object_map *map = &f[3].via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *key = &map->ptr[i].key;
        const msgpack_object *value = &map->ptr[i].val;
        int rc = RLOG_OK;
        if (key->type != MSGPACK_OBJECT_STR)
            return s_fail (self, RLOG_MALFORMED, "status has a non-string key");
        if (s_key_is (key, "role"))
            rc = s_status_str (self, key, value, st->role, sizeof st->role);
        else if (s_key_is (key, "node_id"))
            rc = s_status_str (self, key, value, st->node_id, sizeof st->node_id);
        else if (s_key_is (key, "epoch"))
            rc = s_status_uint (self, key, value, &st->epoch);
        else if (s_key_is (key, "head"))
            rc = s_status_uint (self, key, value, &st->head);
        else if (s_key_is (key, "mode"))
            rc = s_status_str (self, key, value, st->mode, sizeof st->mode);
        else if (s_key_is (key, "reason"))
            rc = s_status_str (self, key, value, st->reason, sizeof st->reason);
        else if (s_key_is (key, "nodes"))
            rc = s_status_u32 (self, key, value, &st->nodes);
        else if (s_key_is (key, "healthy"))
            rc = s_status_u32 (self, key, value, &st->healthy);
        else if (s_key_is (key, "quorum"))
            rc = s_status_u32 (self, key, value, &st->quorum);
        else if (s_key_is (key, "waiting"))
            rc = s_status_u32 (self, key, value, &st->waiting);
        else if (s_key_is (key, "secondaries"))
            rc = s_status_secondaries (self, key, value, st);
        else if (s_key_is (key, "master"))
            rc = s_status_str (self, key, value, st->master, sizeof st->master);
        else if (s_key_is (key, "master_reachable"))
            rc = s_status_bool (self, key, value, &st->master_reachable);
        else if (s_key_is (key, "master_last_heard_ms"))
            rc = s_status_int (self, key, value, &st->master_last_heard_ms);
        else if (s_key_is (key, "master_head"))
            rc = s_status_uint (self, key, value, &st->master_head);
        else if (s_key_is (key, "held_back"))
            rc = s_status_uint (self, key, value, &st->held_back);
        else if (s_key_is (key, "duplicates"))
            rc = s_status_uint (self, key, value, &st->duplicates);
        else if (s_key_is (key, "max_msg"))
            rc = s_status_uint (self, key, value, &st->max_msg);
        if (rc)
            return rc;
    }
    msg->status = st;
    return RLOG_OK;
}

//  --------------------------------------------------------------------------
//  Fields of one frame, whose element count is already checked.

static int s_decode_fields (proto_decoder_t *self, const msgpack_object *f, proto_msg_t *msg)
{
    switch (msg->type) {
    case PROTO_APPEND:
        if (s_get_client_id (self, &f[2], S_TOP, 2, &msg->client_id, &msg->client_id_size) ||
            s_get_uint (self, &f[3], S_TOP, 3, "req_id", &msg->req_id) ||
            s_get_uint (self, &f[4], S_TOP, 4, "w", &msg->w) ||
            s_get_uint (self, &f[5], S_TOP, 5, "timeout_ms", &msg->timeout_ms) ||
            s_get_bin (self, &f[6], S_TOP, 6, "payload", &msg->data, &msg->size))
            return RLOG_MALFORMED;
        //  Semantic refusals: the frame itself is sound, so MSG is complete
        //  and the master can answer with an APPEND_REPLY.
        if (msg->size == 0)
            return s_fail (self, RLOG_EMPTY, "empty payload");
        if (msg->size > self->max_payload)
            return s_fail (self, RLOG_TOO_LARGE, "payload of %zu bytes exceeds %zu", msg->size,
                           self->max_payload);
        return RLOG_OK;

    case PROTO_LIST:
        if (s_get_uint (self, &f[2], S_TOP, 2, "from", &msg->from) ||
            s_get_uint (self, &f[3], S_TOP, 3, "limit", &msg->count))
            return RLOG_MALFORMED;
        return RLOG_OK;

    case PROTO_STATUS:
        return RLOG_OK;

    case PROTO_BATCH:
    case PROTO_FILL:
        return s_decode_batch (self, f, msg);

    case PROTO_HEARTBEAT:
        if (s_get_uint (self, &f[2], S_TOP, 2, "epoch", &msg->epoch) ||
            s_get_uint (self, &f[3], S_TOP, 3, "head", &msg->head))
            return RLOG_MALFORMED;
        return RLOG_OK;

    case PROTO_HELLO:
        if (s_get_text (self, &f[2], 2, "node_id", 1, PROTO_NODE_ID_MAX, msg->text) ||
            s_get_uint (self, &f[3], S_TOP, 3, "last_epoch", &msg->last_epoch) ||
            s_get_uint (self, &f[4], S_TOP, 4, "last_seq", &msg->last_seq))
            return RLOG_MALFORMED;
        return RLOG_OK;

    case PROTO_ACK:
        return s_get_uint (self, &f[2], S_TOP, 2, "acked", &msg->acked);

    case PROTO_FETCH:
        if (s_get_uint (self, &f[2], S_TOP, 2, "from", &msg->from) ||
            s_get_uint (self, &f[3], S_TOP, 3, "count", &msg->count))
            return RLOG_MALFORMED;
        return RLOG_OK;

    case PROTO_WELCOME:
        if (s_get_uint (self, &f[2], S_TOP, 2, "epoch", &msg->epoch) ||
            s_get_uint (self, &f[3], S_TOP, 3, "head", &msg->head) ||
            s_get_uint (self, &f[4], S_TOP, 4, "truncate_to", &msg->truncate_to))
            return RLOG_MALFORMED;
        return RLOG_OK;

    case PROTO_APPEND_REPLY:
        if (s_get_code (self, &f[2], &msg->code) ||
            s_get_uint (self, &f[3], S_TOP, 3, "seq", &msg->seq) ||
            s_get_uint (self, &f[4], S_TOP, 4, "acks", &msg->acked) ||
            s_get_uint (self, &f[5], S_TOP, 5, "w", &msg->w) ||
            s_get_text (self, &f[6], 6, "text", 0, PROTO_TEXT_MAX, msg->text) ||
            s_get_uint (self, &f[7], S_TOP, 7, "req_id", &msg->req_id))
            return RLOG_MALFORMED;
        return RLOG_OK;

    case PROTO_LIST_REPLY:
        return s_decode_list_reply (self, f, msg);

    case PROTO_STATUS_REPLY:
        return s_decode_status_reply (self, f, msg);

    case PROTO_ERROR:
        if (s_get_code (self, &f[2], &msg->code) ||
            s_get_text (self, &f[3], 3, "text", 0, PROTO_TEXT_MAX, msg->text))
            return RLOG_MALFORMED;
        return RLOG_OK;

    default:
        //  Not reached: the type was checked against s_element_count.
        return s_fail (self, RLOG_UNKNOWN_TYPE, "unknown message type %d", msg->type);
    }
}

//  --------------------------------------------------------------------------

int proto_decode (proto_decoder_t *self, const void *data, size_t size, proto_msg_t *msg)
{
    assert (self);
    assert (msg);
    memset (msg, 0, sizeof *msg);

    if (size == 0 || !data)
        return s_fail (self, RLOG_MALFORMED, "empty frame");

    //  Rules 1 and 2: exactly one value, every length bounded by the frame.
    int rc = s_prescan (self, (const uint8_t *)data, size);
    if (rc)
        return rc;

    size_t offset = 0;
    msgpack_unpack_return urc =
        msgpack_unpack_next (&self->unpacked, (const char *)data, size, &offset);
    if (urc == MSGPACK_UNPACK_NOMEM_ERROR)
        //  The pre-scan bounds every reservation by the frame size and the
        //  depth far below msgpack-c's stack, so this is a real shortage.
        return s_fail (self, RLOG_INTERNAL, "out of memory decoding %zu bytes", size);
    if (urc != MSGPACK_UNPACK_SUCCESS || offset != size)
        return s_fail (self, RLOG_MALFORMED, "truncated or trailing bytes");

    const msgpack_object *root = &self->unpacked.data;
    if (root->type != MSGPACK_OBJECT_ARRAY)
        return s_fail (self, RLOG_MALFORMED, "frame is not an array");
    if (root->via.array.size < 2)
        return s_fail (self, RLOG_MALFORMED, "frame has %" PRIu32 " elements, at least 2 needed",
                       root->via.array.size);
    const msgpack_object *f = root->via.array.ptr;

    //  Rule 3: version, then type, then element count and field types.
    if (f[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return s_fail_field (self, RLOG_MALFORMED, S_TOP, 0, "version",
                             "must be an unsigned integer");
    if (f[0].via.u64 != PROTO_VERSION)
        return s_fail (self, RLOG_BAD_VERSION, "unsupported protocol version %" PRIu64,
                       f[0].via.u64);
    if (f[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return s_fail_field (self, RLOG_MALFORMED, S_TOP, 1, "type", "must be an unsigned integer");
    uint32_t expected = s_element_count (f[1].via.u64);
    if (expected == 0)
        return s_fail (self, RLOG_UNKNOWN_TYPE, "unknown message type %" PRIu64, f[1].via.u64);
    msg->type = (int)f[1].via.u64;
    if (root->via.array.size != expected)
        return s_fail (self, RLOG_MALFORMED, "%s needs %" PRIu32 " elements, not %" PRIu32,
                       proto_type_name (msg->type), expected, root->via.array.size);

    return s_decode_fields (self, f, msg);
}

//  ==========================================================================
//  Encoder

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

//  --------------------------------------------------------------------------
//  Packing helpers: each returns 0, or non-zero when the buffer cannot grow.

//  Start a new frame of ELEMENTS elements: [1, TYPE, ...
static int s_begin (proto_encoder_t *self, size_t elements, int type)
{
    msgpack_sbuffer_clear (&self->sbuf);
    self->pending = 0;
    return msgpack_pack_array (&self->pk, elements) ||
           msgpack_pack_uint64 (&self->pk, PROTO_VERSION) ||
           msgpack_pack_uint64 (&self->pk, (uint64_t)type);
}

static int s_pack_bin (msgpack_packer *pk, const void *data, size_t size)
{
    assert (size <= UINT32_MAX);
    assert (data || size == 0);
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

//  A C string cut to at most MAX bytes, at a UTF-8 character boundary.
static int s_pack_text (msgpack_packer *pk, const char *text, size_t max)
{
    if (!text)
        text = "";
    size_t size = strlen (text);
    if (size > max) {
        size = max;
        while (size > 0 && ((unsigned char)text[size] & 0xc0) == 0x80)
            size--;
    }
    return s_pack_str (pk, text, size);
}

//  A fixed-size char field: up to its NUL, at most FIELD_SIZE - 1 bytes.
static int s_pack_field (msgpack_packer *pk, const char *key, const char *field, size_t field_size)
{
    return s_pack_str (pk, key, strlen (key)) ||
           s_pack_str (pk, field, strnlen (field, field_size - 1));
}

static int s_pack_key_uint (msgpack_packer *pk, const char *key, uint64_t value)
{
    return s_pack_str (pk, key, strlen (key)) || msgpack_pack_uint64 (pk, value);
}

static int s_pack_key_int (msgpack_packer *pk, const char *key, int64_t value)
{
    return s_pack_str (pk, key, strlen (key)) || msgpack_pack_int64 (pk, value);
}

static int s_pack_key_bool (msgpack_packer *pk, const char *key, bool value)
{
    return s_pack_str (pk, key, strlen (key)) ||
           (value ? msgpack_pack_true (pk) : msgpack_pack_false (pk));
}

static int s_result (int failed)
{
    return failed ? -1 : 0;
}

//  --------------------------------------------------------------------------

int proto_encode_append (proto_encoder_t *self, const uint8_t *client_id, size_t client_id_size,
                         uint64_t req_id, uint64_t w, uint64_t timeout_ms, const void *data,
                         size_t size)
{
    assert (self);
    assert (client_id_size <= ENTRY_CLIENT_ID_MAX);
    msgpack_packer *pk = &self->pk;
    return s_result (s_begin (self, 7, PROTO_APPEND) ||
                     s_pack_bin (pk, client_id, client_id_size) ||
                     msgpack_pack_uint64 (pk, req_id) || msgpack_pack_uint64 (pk, w) ||
                     msgpack_pack_uint64 (pk, timeout_ms) || s_pack_bin (pk, data, size));
}

int proto_encode_list (proto_encoder_t *self, uint64_t from, uint64_t limit)
{
    assert (self);
    return s_result (s_begin (self, 4, PROTO_LIST) || msgpack_pack_uint64 (&self->pk, from) ||
                     msgpack_pack_uint64 (&self->pk, limit));
}

int proto_encode_status (proto_encoder_t *self)
{
    assert (self);
    return s_result (s_begin (self, 2, PROTO_STATUS));
}

int proto_encode_heartbeat (proto_encoder_t *self, uint64_t epoch, uint64_t head)
{
    assert (self);
    return s_result (s_begin (self, 4, PROTO_HEARTBEAT) || msgpack_pack_uint64 (&self->pk, epoch) ||
                     msgpack_pack_uint64 (&self->pk, head));
}

int proto_encode_hello (proto_encoder_t *self, const char *node_id, uint64_t last_epoch,
                        uint64_t last_seq)
{
    assert (self);
    assert (node_id);
    size_t size = strlen (node_id);
    assert (size >= 1 && size <= PROTO_NODE_ID_MAX);
    return s_result (s_begin (self, 5, PROTO_HELLO) || s_pack_str (&self->pk, node_id, size) ||
                     msgpack_pack_uint64 (&self->pk, last_epoch) ||
                     msgpack_pack_uint64 (&self->pk, last_seq));
}

int proto_encode_ack (proto_encoder_t *self, uint64_t acked)
{
    assert (self);
    return s_result (s_begin (self, 3, PROTO_ACK) || msgpack_pack_uint64 (&self->pk, acked));
}

int proto_encode_fetch (proto_encoder_t *self, uint64_t from, uint64_t count)
{
    assert (self);
    return s_result (s_begin (self, 4, PROTO_FETCH) || msgpack_pack_uint64 (&self->pk, from) ||
                     msgpack_pack_uint64 (&self->pk, count));
}

int proto_encode_welcome (proto_encoder_t *self, uint64_t epoch, uint64_t head,
                          uint64_t truncate_to)
{
    assert (self);
    return s_result (s_begin (self, 5, PROTO_WELCOME) || msgpack_pack_uint64 (&self->pk, epoch) ||
                     msgpack_pack_uint64 (&self->pk, head) ||
                     msgpack_pack_uint64 (&self->pk, truncate_to));
}

int proto_encode_append_reply (proto_encoder_t *self, int code, uint64_t seq, uint64_t acks,
                               uint64_t w, const char *text, uint64_t req_id)
{
    assert (self);
    assert (code >= 0);
    msgpack_packer *pk = &self->pk;
    return s_result (s_begin (self, 8, PROTO_APPEND_REPLY) ||
                     msgpack_pack_uint64 (pk, (uint64_t)code) || msgpack_pack_uint64 (pk, seq) ||
                     msgpack_pack_uint64 (pk, acks) || msgpack_pack_uint64 (pk, w) ||
                     s_pack_text (pk, text, PROTO_TEXT_MAX) || msgpack_pack_uint64 (pk, req_id));
}

int proto_encode_error (proto_encoder_t *self, int code, const char *text)
{
    assert (self);
    assert (code >= 0);
    return s_result (s_begin (self, 4, PROTO_ERROR) ||
                     msgpack_pack_uint64 (&self->pk, (uint64_t)code) ||
                     s_pack_text (&self->pk, text, PROTO_TEXT_MAX));
}

//  --------------------------------------------------------------------------
//  STATUS_REPLY always carries every key; the code is always OK (failures
//  are answered with ERROR).

#define S_STATUS_KEYS    18
#define S_SECONDARY_KEYS 6

static int s_pack_secondary (msgpack_packer *pk, const rlog_secondary_status_t *sec)
{
    return msgpack_pack_map (pk, S_SECONDARY_KEYS) ||
           s_pack_field (pk, "id", sec->id, sizeof sec->id) ||
           s_pack_field (pk, "state", sec->state, sizeof sec->state) ||
           s_pack_key_uint (pk, "acked", sec->acked) || s_pack_key_uint (pk, "lag", sec->lag) ||
           s_pack_key_int (pk, "last_heard_ms", sec->last_heard_ms) ||
           s_pack_key_bool (pk, "catching_up", sec->catching_up);
}

int proto_encode_status_reply (proto_encoder_t *self, const rlog_status_t *status)
{
    assert (self);
    assert (status);
    assert (status->secondary_count <= RLOG_MAX_SECONDARIES);
    msgpack_packer *pk = &self->pk;
    if (s_begin (self, 4, PROTO_STATUS_REPLY) || msgpack_pack_uint64 (pk, RLOG_OK) ||
        msgpack_pack_map (pk, S_STATUS_KEYS) ||
        s_pack_field (pk, "role", status->role, sizeof status->role) ||
        s_pack_field (pk, "node_id", status->node_id, sizeof status->node_id) ||
        s_pack_key_uint (pk, "epoch", status->epoch) ||
        s_pack_key_uint (pk, "head", status->head) ||
        s_pack_field (pk, "mode", status->mode, sizeof status->mode) ||
        s_pack_field (pk, "reason", status->reason, sizeof status->reason) ||
        s_pack_key_uint (pk, "nodes", status->nodes) ||
        s_pack_key_uint (pk, "healthy", status->healthy) ||
        s_pack_key_uint (pk, "quorum", status->quorum) ||
        s_pack_key_uint (pk, "waiting", status->waiting) ||
        s_pack_str (pk, "secondaries", strlen ("secondaries")) ||
        msgpack_pack_array (pk, status->secondary_count))
        return -1;
    for (size_t i = 0; i < status->secondary_count; i++)
        if (s_pack_secondary (pk, &status->secondaries[i]))
            return -1;
    return s_result (s_pack_field (pk, "master", status->master, sizeof status->master) ||
                     s_pack_key_bool (pk, "master_reachable", status->master_reachable) ||
                     s_pack_key_int (pk, "master_last_heard_ms", status->master_last_heard_ms) ||
                     s_pack_key_uint (pk, "master_head", status->master_head) ||
                     s_pack_key_uint (pk, "held_back", status->held_back) ||
                     s_pack_key_uint (pk, "duplicates", status->duplicates) ||
                     s_pack_key_uint (pk, "max_msg", status->max_msg));
}

//  --------------------------------------------------------------------------
//  BATCH / FILL and LIST_REPLY: a header, then entries packed one by one
//  straight into the frame.

int proto_encode_batch_begin (proto_encoder_t *self, int type, uint64_t epoch, uint64_t first_seq,
                              size_t count)
{
    assert (self);
    assert (type == PROTO_BATCH || type == PROTO_FILL);
    assert (count >= 1 && count <= UINT32_MAX);
    if (s_begin (self, 5, type) || msgpack_pack_uint64 (&self->pk, epoch) ||
        msgpack_pack_uint64 (&self->pk, first_seq) || msgpack_pack_array (&self->pk, count))
        return -1;
    self->pending = count;
    return 0;
}

int proto_encode_batch_entry (proto_encoder_t *self, const entry_t *entry)
{
    assert (self);
    assert (entry);
    assert (self->pending > 0);
    assert (entry->client_id_size <= ENTRY_CLIENT_ID_MAX);
    msgpack_packer *pk = &self->pk;
    self->pending--;
    return s_result (msgpack_pack_array (pk, 4) || msgpack_pack_uint64 (pk, entry->epoch) ||
                     s_pack_bin (pk, entry->client_id, entry->client_id_size) ||
                     msgpack_pack_uint64 (pk, entry->req_id) ||
                     s_pack_bin (pk, entry->data, entry->size));
}

int proto_encode_list_begin (proto_encoder_t *self, int code, uint64_t head, uint64_t first_seq,
                             size_t count)
{
    assert (self);
    assert (code >= 0);
    assert (count <= UINT32_MAX);
    if (s_begin (self, 6, PROTO_LIST_REPLY) || msgpack_pack_uint64 (&self->pk, (uint64_t)code) ||
        msgpack_pack_uint64 (&self->pk, head) || msgpack_pack_uint64 (&self->pk, first_seq) ||
        msgpack_pack_array (&self->pk, count))
        return -1;
    self->pending = count;
    return 0;
}

int proto_encode_list_entry (proto_encoder_t *self, const void *data, size_t size)
{
    assert (self);
    assert (self->pending > 0);
    self->pending--;
    return s_result (s_pack_bin (&self->pk, data, size));
}
