/*  gen_corpus_proto.c - writes the seed corpus of fuzz_proto (protocol v2).

    Usage: gen_corpus_proto DIR   (make fuzz-corpus: DIR is fuzz/corpus)

    DIR/fuzz_proto/<socket>-<name>: real frames made by proto_encode, one
    family per socket that decodes them (client = a node's client ROUTER,
    peer = the master's peer ROUTER, sub = a follower's SUB, dealer = a
    follower's DEALER, reply = the client library), plus hostile frames
    packed by hand (other versions, unknown type, huge declared lengths,
    deep nesting, wrong field types, out-of-bound values, bad UTF-8).

    The output is deterministic, so regenerating changes nothing unless the
    protocol changes. (fuzz/gen_corpus.c writes the fuzz_recovery seeds.)
*/
#include "proto.h"
#include "rlog.h"

#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char dir[512];
    size_t files;
    size_t bytes;
    proto_encoder_t *enc;
    msgpack_sbuffer sbuf; //  hand-packed frames
    msgpack_packer pk;
} gen_t;

static void s_die (const char *what)
{
    fprintf (stderr, "gen_corpus_proto: %s: %s\n", what, strerror (errno));
    exit (1);
}

static void s_emit (gen_t *g, const char *name, const void *data, size_t size)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", g->dir, name);
    FILE *file = fopen (path, "wb");
    if (!file || (size && fwrite (data, 1, size, file) != size) || fclose (file))
        s_die (path);
    g->files++;
    g->bytes += size;
}

//  Encode MSG and write it as seed NAME.
static void s_frame (gen_t *g, const char *name, const proto_msg_t *msg)
{
    if (proto_encode (g->enc, msg))
        s_die (name);
    s_emit (g, name, proto_encoder_data (g->enc), proto_encoder_size (g->enc));
}

//  Start a hand-packed frame of ELEMENTS elements: [VERSION, TYPE, ...
static msgpack_packer *s_begin (gen_t *g, size_t elements, uint64_t version, uint64_t type)
{
    msgpack_sbuffer_clear (&g->sbuf);
    msgpack_pack_array (&g->pk, elements);
    msgpack_pack_uint64 (&g->pk, version);
    msgpack_pack_uint64 (&g->pk, type);
    return &g->pk;
}

static void s_raw (gen_t *g, const char *name)
{
    s_emit (g, name, g->sbuf.data, g->sbuf.size);
}

static void s_cstr (msgpack_packer *pk, const char *text)
{
    msgpack_pack_str_with_body (pk, text, strlen (text));
}

static const uint8_t s_id[16] = {0x9f, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
                                 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};

//  An entry section of COUNT entries (record.h: varint req_delta, varint
//  size, payload) into BUF; returns its size.
static size_t s_entries (uint8_t *buf, size_t max, size_t count, size_t payload)
{
    size_t n = 0;
    for (size_t i = 0; i < count && n + 2 + payload <= max; i++) {
        buf[n++] = i ? 1 : 0;
        buf[n++] = (uint8_t)payload; //  payload < 128: one varint byte
        for (size_t k = 0; k < payload; k++)
            buf[n++] = (uint8_t)('a' + (i + k) % 26);
    }
    return n;
}

//  ==========================================================================
//  Real frames, per socket

static void s_client (gen_t *g)
{
    proto_msg_t m = {.type = PROTO_APPEND,
                     .client_id = s_id,
                     .client_id_size = 16,
                     .req_id = 1,
                     .w = 1,
                     .data = (const uint8_t *)"hello",
                     .size = 5};
    s_frame (g, "client-append", &m);
    m.req_id = UINT64_MAX;
    m.w = 3;
    m.timeout_ms = 5000;
    m.data = (const uint8_t *)"a payload over 16 bytes";
    m.size = 23;
    s_frame (g, "client-append-large-ids", &m);
    s_frame (g, "client-list-all", &(proto_msg_t){.type = PROTO_LIST});
    s_frame (g, "client-list-page", &(proto_msg_t){.type = PROTO_LIST, .from = 4097, .count = 100});
    s_frame (g, "client-status", &(proto_msg_t){.type = PROTO_STATUS});
    s_frame (g, "client-open", &(proto_msg_t){.type = PROTO_OPEN});
    uint8_t entries[512];
    m = (proto_msg_t){.type = PROTO_APPEND_BATCH,
                      .client_id = s_id,
                      .client_id_size = 16,
                      .req_id = 100,
                      .w = 2,
                      .timeout_ms = 1000,
                      .count = 5,
                      .data = entries,
                      .size = s_entries (entries, sizeof entries, 5, 20)};
    s_frame (g, "client-append-batch-5", &m);
    m.count = PROTO_BATCH_MAX_ENTRIES;
    m.size = s_entries (entries, sizeof entries, 100, 1);
    s_frame (g, "client-append-batch-max-count", &m);
}

static void s_peer (gen_t *g)
{
    proto_msg_t m = {.type = PROTO_HELLO,
                     .history = s_id,
                     .history_size = 16,
                     .last_epoch = 3,
                     .last_seq = 1234,
                     .last_crc = 0xdeadbeef,
                     .epoch = 4};
    snprintf (m.node_id, sizeof m.node_id, "s1");
    s_frame (g, "peer-hello", &m);
    m = (proto_msg_t){.type = PROTO_HELLO};
    snprintf (m.node_id, sizeof m.node_id, "%s",
              "secondary-with-a-node-id-of-exactly-sixty-three-bytes-012345678");
    s_frame (g, "peer-hello-empty-log-long-id", &m);
    s_frame (g, "peer-ack", &(proto_msg_t){.type = PROTO_ACK, .epoch = 4, .acked = 123456789});
    s_frame (g, "peer-ack-0", &(proto_msg_t){.type = PROTO_ACK});
    s_frame (g, "peer-fetch",
             &(proto_msg_t){.type = PROTO_FETCH, .epoch = 4, .from = 1, .count = 8192});
    s_frame (
        g, "peer-fetch-max",
        &(proto_msg_t){
            .type = PROTO_FETCH, .epoch = UINT64_MAX, .from = UINT64_MAX, .count = UINT64_MAX});
    m = (proto_msg_t){.type = PROTO_VOTE_REQUEST, .epoch = 5, .last_epoch = 4, .last_seq = 99};
    snprintf (m.node_id, sizeof m.node_id, "s2");
    s_frame (g, "peer-vote-request", &m);
}

static void s_sub_dealer (gen_t *g)
{
    //  Records as the log holds them; proto only bounds the bin
    uint8_t records[600];
    for (size_t i = 0; i < sizeof records; i++)
        records[i] = (uint8_t)(i * 31 + 7);
    s_frame (g, "sub-batch",
             &(proto_msg_t){.type = PROTO_BATCH, .epoch = 2, .data = records, .size = 120});
    s_frame (g, "sub-batch-empty", &(proto_msg_t){.type = PROTO_BATCH, .epoch = 2});
    proto_msg_t m = {
        .type = PROTO_HEARTBEAT, .epoch = 3, .head = 4096, .history = s_id, .history_size = 16};
    snprintf (m.node_id, sizeof m.node_id, "master");
    s_frame (g, "sub-heartbeat", &m);
    m.node_id[0] = 0;
    m.head = 0;
    s_frame (g, "sub-heartbeat-no-leader", &m);

    m = (proto_msg_t){.type = PROTO_WELCOME,
                      .epoch = 2,
                      .history = s_id,
                      .history_size = 16,
                      .head = 500,
                      .truncate_to = 480,
                      .at_epoch = 1,
                      .at_crc = UINT32_MAX};
    snprintf (m.leader, sizeof m.leader, "tcp://10.0.0.1:5555");
    s_frame (g, "dealer-welcome", &m);
    s_frame (g, "dealer-fill",
             &(proto_msg_t){.type = PROTO_FILL, .epoch = 2, .data = records, .size = 300});
    s_frame (g, "dealer-fill-600",
             &(proto_msg_t){.type = PROTO_FILL, .epoch = 9, .data = records, .size = 600});
    m = (proto_msg_t){.type = PROTO_VOTE, .epoch = 5, .granted = true};
    snprintf (m.node_id, sizeof m.node_id, "s3");
    s_frame (g, "dealer-vote", &m);
    m = (proto_msg_t){.type = PROTO_ERROR, .code = RLOG_REFUSED};
    snprintf (m.text, sizeof m.text, "node id s1 is already in use");
    s_frame (g, "dealer-error-refused", &m);
    m = (proto_msg_t){.type = PROTO_ERROR, .code = RLOG_OTHER_HISTORY};
    snprintf (m.text, sizeof m.text, "another history than the master's");
    s_frame (g, "dealer-error-other-history", &m);
}

static void s_status (gen_t *g, const char *name, bool master, size_t peers)
{
    proto_status_t st;
    memset (&st, 0, sizeof st);
    snprintf (st.role, sizeof st.role, "%s", master ? "master" : "secondary");
    snprintf (st.node_id, sizeof st.node_id, "%s", master ? "master" : "s2");
    st.epoch = 3;
    st.head = 1234;
    st.last_epoch = 3;
    snprintf (st.mode, sizeof st.mode, "%s", master ? "read-only" : "catching-up");
    snprintf (st.reason, sizeof st.reason, "%s", master ? "1 of 3 healthy, 2 needed" : "");
    snprintf (st.history, sizeof st.history, "9f00112233445566778899aabbccddee");
    st.nodes = 3;
    st.healthy = 1;
    st.quorum = 2;
    st.waiting = 7;
    st.max_msg = 1 << 20;
    snprintf (st.leader, sizeof st.leader, "master");
    snprintf (st.leader_client, sizeof st.leader_client, "tcp://127.0.0.1:5555");
    st.peer_count = peers;
    for (size_t i = 0; i < peers; i++) {
        proto_peer_status_t *p = &st.peers[i];
        snprintf (p->id, sizeof p->id, "s%zu", i + 1);
        snprintf (p->role, sizeof p->role, "secondary");
        snprintf (p->state, sizeof p->state, "%s", i ? "suspected" : "healthy");
        p->acked = 1000 + i;
        p->lag = 234 - i;
        p->last_heard_ms = i ? 1500 : -1;
        p->catching_up = i % 2;
        p->last_epoch = 3;
    }
    st.master_last_heard_ms = -1;
    if (!master) {
        snprintf (st.master_peer, sizeof st.master_peer, "tcp://127.0.0.1:5557");
        st.master_reachable = true;
        st.master_last_heard_ms = 12;
        st.master_head = 1300;
        st.held_back = 5;
        st.duplicates = 2;
    }
    s_frame (g, name, &(proto_msg_t){.type = PROTO_STATUS_REPLY, .status = &st});
}

static void s_reply (gen_t *g)
{
    proto_msg_t m = {.type = PROTO_APPEND_REPLY, .req_id = 7, .seq = 42, .acks = 3, .w = 3};
    s_frame (g, "reply-append-ok", &m);
    m = (proto_msg_t){.type = PROTO_APPEND_REPLY,
                      .req_id = 8,
                      .code = RLOG_TIMEOUT,
                      .seq = 43,
                      .acks = 2,
                      .w = 3};
    snprintf (m.text, sizeof m.text, "timed out: stored on 2 of 3 nodes");
    s_frame (g, "reply-append-timeout", &m);
    m = (proto_msg_t){.type = PROTO_APPEND_REPLY, .req_id = 9, .code = RLOG_NOT_MASTER, .w = 1};
    snprintf (m.text, sizeof m.text, "not the master");
    snprintf (m.leader, sizeof m.leader, "tcp://10.0.0.1:5555");
    s_frame (g, "reply-append-not-master", &m);
    s_frame (g, "reply-list-end", &(proto_msg_t){.type = PROTO_LIST_REPLY, .head = 10, .seq = 11});
    proto_payload_t list[4] = {{(const uint8_t *)"one", 3},
                               {(const uint8_t *)"two", 3},
                               {(const uint8_t *)"three and more than sixteen", 27},
                               {(const uint8_t *)"4", 1}};
    s_frame (
        g, "reply-list-4",
        &(proto_msg_t){
            .type = PROTO_LIST_REPLY, .head = 10, .seq = 3, .payloads = list, .payload_count = 4});
    s_status (g, "reply-status-master", true, 2);
    s_status (g, "reply-status-secondary", false, 0);
    m = (proto_msg_t){.type = PROTO_OPEN_REPLY,
                      .client_id = s_id,
                      .client_id_size = 16,
                      .max_msg = 1 << 20,
                      .max_batch = (1 << 20) + 20};
    s_frame (g, "reply-open", &m);
    m = (proto_msg_t){.type = PROTO_OPEN_REPLY, .code = RLOG_NOT_MASTER};
    snprintf (m.leader, sizeof m.leader, "tcp://10.0.0.1:5555");
    s_frame (g, "reply-open-not-master", &m);
    proto_exception_t ex[3] = {{0, RLOG_OK, 17}, {3, RLOG_TOO_LARGE, 0}, {4, RLOG_OK, 20}};
    m = (proto_msg_t){.type = PROTO_APPEND_BATCH_REPLY,
                      .req_id = 100,
                      .count = 5,
                      .seq = 30,
                      .acks = 2,
                      .w = 2,
                      .exceptions = ex,
                      .exception_count = 3};
    s_frame (g, "reply-append-batch-exceptions", &m);
    m = (proto_msg_t){.type = PROTO_ERROR, .code = RLOG_MALFORMED};
    snprintf (m.text, sizeof m.text, "field 3 (req_id) must be an unsigned integer");
    s_frame (g, "reply-error-malformed", &m);
    s_frame (g, "reply-error-empty-text",
             &(proto_msg_t){.type = PROTO_ERROR, .code = RLOG_UNKNOWN_TYPE});
}

//  ==========================================================================
//  Hostile frames, packed by hand

static void s_hostile_fields (gen_t *g)
{
    //  A v1 APPEND, as rlog 0.1 sent it; version 3 of a sound ACK
    msgpack_packer *pk = s_begin (g, 7, 1, PROTO_APPEND);
    msgpack_pack_bin_with_body (pk, s_id, 16);
    for (int i = 0; i < 3; i++)
        msgpack_pack_uint64 (pk, 1);
    msgpack_pack_bin_with_body (pk, "x", 1);
    s_raw (g, "hostile-version-1-append");
    pk = s_begin (g, 4, 3, PROTO_ACK);
    msgpack_pack_uint64 (pk, 1);
    msgpack_pack_uint64 (pk, 5);
    s_raw (g, "hostile-version-3");
    s_begin (g, 2, PROTO_VERSION, 99);
    s_raw (g, "hostile-unknown-type");

    //  APPEND with every field of the wrong type; with a 17-byte client id
    pk = s_begin (g, 7, PROTO_VERSION, PROTO_APPEND);
    s_cstr (pk, "id");
    msgpack_pack_int64 (pk, -1);
    msgpack_pack_double (pk, 3.0);
    msgpack_pack_nil (pk);
    s_cstr (pk, "payload");
    s_raw (g, "hostile-append-wrong-types");
    pk = s_begin (g, 7, PROTO_VERSION, PROTO_APPEND);
    msgpack_pack_bin_with_body (pk, "0123456789abcdefg", 17);
    for (int i = 0; i < 3; i++)
        msgpack_pack_uint64 (pk, 1);
    msgpack_pack_bin_with_body (pk, "x", 1);
    s_raw (g, "hostile-append-client-id-17");
    pk = s_begin (g, 7, PROTO_VERSION, PROTO_APPEND);
    msgpack_pack_bin_with_body (pk, s_id, 16);
    for (int i = 0; i < 3; i++)
        msgpack_pack_uint64 (pk, 2);
    msgpack_pack_bin_with_body (pk, "", 0);
    s_raw (g, "hostile-append-empty");

    //  APPEND_BATCH of 0 entries; one with an empty entry section
    for (int k = 0; k < 2; k++) {
        pk = s_begin (g, 8, PROTO_VERSION, PROTO_APPEND_BATCH);
        msgpack_pack_bin_with_body (pk, s_id, 16);
        msgpack_pack_uint64 (pk, 1);
        msgpack_pack_uint64 (pk, 1);
        msgpack_pack_uint64 (pk, 0);
        msgpack_pack_uint64 (pk, k ? 1 : 0);
        msgpack_pack_bin_with_body (pk, "\x00\x01x", k ? 0 : 3);
        s_raw (g, k ? "hostile-append-batch-no-entries" : "hostile-append-batch-count-0");
    }

    //  APPEND_BATCH with a 15-byte client id; HELLO with an empty node id
    pk = s_begin (g, 8, PROTO_VERSION, PROTO_APPEND_BATCH);
    msgpack_pack_bin_with_body (pk, s_id, 15);
    for (int i = 0; i < 4; i++)
        msgpack_pack_uint64 (pk, 1);
    msgpack_pack_bin_with_body (pk, "\x00\x01x", 3);
    s_raw (g, "hostile-append-batch-client-id-15");
    pk = s_begin (g, 8, PROTO_VERSION, PROTO_HELLO);
    s_cstr (pk, "");
    msgpack_pack_bin_with_body (pk, "", 0);
    for (int i = 0; i < 4; i++)
        msgpack_pack_uint64 (pk, 0);
    s_raw (g, "hostile-hello-empty-id");

    //  Extension types and floats where integers go
    pk = s_begin (g, 5, PROTO_VERSION, PROTO_FETCH);
    msgpack_pack_uint64 (pk, 1);
    msgpack_pack_ext_with_body (pk, "abcd", 4, 5);
    msgpack_pack_float (pk, 1.5f);
    s_raw (g, "hostile-fetch-ext-float");

    //  HELLO: a NUL in the node id, 64 bytes, bad UTF-8, a CRC over 32 bits
    const char *ids[] = {"s\0x", "0123456789012345678901234567890123456789012345678901234567890123",
                         "s\xc0\x80", "s1"};
    const size_t id_sizes[] = {3, 64, 3, 2};
    const char *names[] = {"hostile-hello-nul", "hostile-hello-64", "hostile-hello-overlong-utf8",
                           "hostile-hello-crc-33-bits"};
    for (int k = 0; k < 4; k++) {
        pk = s_begin (g, 8, PROTO_VERSION, PROTO_HELLO);
        msgpack_pack_str_with_body (pk, ids[k], id_sizes[k]);
        msgpack_pack_bin_with_body (pk, "", 0);
        msgpack_pack_uint64 (pk, 0);
        msgpack_pack_uint64 (pk, 0);
        msgpack_pack_uint64 (pk, k == 3 ? (uint64_t)UINT32_MAX + 1 : 0);
        msgpack_pack_uint64 (pk, 0);
        s_raw (g, names[k]);
    }

    //  LIST_REPLY whose seqs would wrap
    pk = s_begin (g, 6, PROTO_VERSION, PROTO_LIST_REPLY);
    msgpack_pack_uint64 (pk, 0);
    msgpack_pack_uint64 (pk, 5);
    msgpack_pack_uint64 (pk, UINT64_MAX);
    msgpack_pack_array (pk, 2);
    msgpack_pack_bin_with_body (pk, "a", 1);
    msgpack_pack_bin_with_body (pk, "b", 1);
    s_raw (g, "hostile-list-reply-seq-wrap");

    //  APPEND_BATCH_REPLY: an exception beyond the batch; a code of 2^32 + 1
    pk = s_begin (g, 11, PROTO_VERSION, PROTO_APPEND_BATCH_REPLY);
    for (int i = 0; i < 6; i++)
        msgpack_pack_uint64 (pk, i == 1 ? 2 : 1);
    s_cstr (pk, "");
    s_cstr (pk, "");
    msgpack_pack_array (pk, 1);
    msgpack_pack_array (pk, 3);
    msgpack_pack_uint64 (pk, 2);
    msgpack_pack_uint64 (pk, 0);
    msgpack_pack_uint64 (pk, 0);
    s_raw (g, "hostile-exception-index");
    pk = s_begin (g, 9, PROTO_VERSION, PROTO_APPEND_REPLY);
    msgpack_pack_uint64 (pk, 1);
    msgpack_pack_uint64 (pk, (uint64_t)UINT32_MAX + 2);
    for (int i = 0; i < 3; i++)
        msgpack_pack_uint64 (pk, 1);
    s_cstr (pk, "");
    s_cstr (pk, "");
    s_raw (g, "hostile-reply-code-2-32");
}

static void s_hostile_status (gen_t *g)
{
    //  A non-string key, a too-long role, 33 peers
    msgpack_packer *pk = s_begin (g, 4, PROTO_VERSION, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (pk, 0);
    msgpack_pack_map (pk, 3);
    s_cstr (pk, "role");
    s_cstr (pk, "a-role-name-longer-than-16");
    msgpack_pack_uint64 (pk, 7);
    msgpack_pack_uint64 (pk, 7);
    s_cstr (pk, "peers");
    msgpack_pack_array (pk, 33);
    for (int i = 0; i < 33; i++)
        msgpack_pack_map (pk, 0);
    s_raw (g, "hostile-status-keys");
    pk = s_begin (g, 4, PROTO_VERSION, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (pk, 0);
    msgpack_pack_map (pk, 1);
    s_cstr (pk, "peers");
    msgpack_pack_array (pk, 33);
    for (int i = 0; i < 33; i++)
        msgpack_pack_map (pk, 0);
    s_raw (g, "hostile-status-33-peers");

    //  Unknown keys: skipped, 6 levels deep (the limit) and 7
    for (int levels = 6; levels <= 7; levels++) {
        pk = s_begin (g, 4, PROTO_VERSION, PROTO_STATUS_REPLY);
        msgpack_pack_uint64 (pk, 0);
        msgpack_pack_map (pk, 2);
        s_cstr (pk, "from_the_future");
        for (int i = 0; i < levels; i++)
            msgpack_pack_array (pk, 1);
        msgpack_pack_ext_with_body (pk, "e", 1, 1);
        s_cstr (pk, "head");
        msgpack_pack_uint64 (pk, 12);
        s_raw (g, levels == 6 ? "hostile-status-unknown-6-deep" : "hostile-status-unknown-7-deep");
    }
    //  A peer with a non-string key; a peer that is not a map; nodes > u32
    pk = s_begin (g, 4, PROTO_VERSION, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (pk, 0);
    msgpack_pack_map (pk, 1);
    s_cstr (pk, "peers");
    msgpack_pack_array (pk, 2);
    msgpack_pack_map (pk, 1);
    s_cstr (pk, "id");
    s_cstr (pk, "s1");
    msgpack_pack_map (pk, 1);
    msgpack_pack_uint64 (pk, 1);
    s_cstr (pk, "x");
    s_raw (g, "hostile-status-peer-key");
    pk = s_begin (g, 4, PROTO_VERSION, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (pk, 0);
    msgpack_pack_map (pk, 2);
    s_cstr (pk, "nodes");
    msgpack_pack_uint64 (pk, (uint64_t)UINT32_MAX + 1);
    s_cstr (pk, "peers");
    msgpack_pack_array (pk, 1);
    msgpack_pack_array (pk, 0);
    s_raw (g, "hostile-status-nodes-u33");
    pk = s_begin (g, 4, PROTO_VERSION, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (pk, 0);
    msgpack_pack_map (pk, 0);
    s_raw (g, "hostile-status-empty");
    //  Sound keys, then a str where an int goes; a NUL in a string; a peer
    //  that is not a map
    pk = s_begin (g, 4, PROTO_VERSION, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (pk, 0);
    msgpack_pack_map (pk, 3);
    s_cstr (pk, "role");
    s_cstr (pk, "secondary");
    s_cstr (pk, "master_reachable");
    msgpack_pack_false (pk);
    s_cstr (pk, "master_last_heard_ms");
    s_cstr (pk, "12");
    s_raw (g, "hostile-status-last-heard-str");
    pk = s_begin (g, 4, PROTO_VERSION, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (pk, 0);
    msgpack_pack_map (pk, 1);
    s_cstr (pk, "master_peer");
    msgpack_pack_str_with_body (pk, "tcp://\0x", 8);
    s_raw (g, "hostile-status-master-peer-nul");
    pk = s_begin (g, 4, PROTO_VERSION, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (pk, 0);
    msgpack_pack_map (pk, 1);
    s_cstr (pk, "peers");
    msgpack_pack_array (pk, 2);
    msgpack_pack_map (pk, 0);
    s_cstr (pk, "s2");
    s_raw (g, "hostile-status-peer-not-map");
}

static void s_hostile_bytes (gen_t *g)
{
    //  Huge declared lengths, nesting, trailing and missing bytes
    static const uint8_t array32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x02, 0x0a};
    s_emit (g, "hostile-array32-huge", array32, sizeof array32);
    static const uint8_t map32[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa1, 0x61, 0x01};
    s_emit (g, "hostile-map32-huge", map32, sizeof map32);
    static const uint8_t bin32[] = {0x94, 0x02, 0x0a, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xf0, 0x00};
    s_emit (g, "hostile-batch-bin32-huge", bin32, sizeof bin32);
    static const uint8_t str32[] = {0x94, 0x02, 0x31, 0x01, 0xdb, 0x10, 0x00, 0x00, 0x00, 0x41};
    s_emit (g, "hostile-error-str32-huge", str32, sizeof str32);
    static const uint8_t list32[] = {0x96, 0x02, 0x29, 0x00, 0x01, 0x01,
                                     0xdd, 0xff, 0xff, 0xff, 0xff, 0xc4};
    s_emit (g, "hostile-list-reply-array32-huge", list32, sizeof list32);
    static const uint8_t deep[] = {0x94, 0x02, 0x15, 0x91, 0x91, 0x91, 0x91,
                                   0x91, 0x91, 0x91, 0x91, 0x91, 0x01, 0x01};
    s_emit (g, "hostile-ack-nested-9", deep, sizeof deep);
    static const uint8_t trailing[] = {0x94, 0x02, 0x15, 0x01, 0x05, 0x00};
    s_emit (g, "hostile-ack-trailing", trailing, sizeof trailing);
    static const uint8_t truncated[] = {0x95, 0x02, 0x16, 0x01, 0xcf, 0x00, 0x00};
    s_emit (g, "hostile-fetch-truncated", truncated, sizeof truncated);
    static const uint8_t never_used[] = {0x94, 0x02, 0x15, 0x01, 0xc1};
    s_emit (g, "hostile-c1", never_used, sizeof never_used);
    static const uint8_t fixext[] = {0x96, 0x02, 0x0b, 0xd8, 0x01, 0, 0, 0, 0, 0, 0, 0,   0,
                                     0,    0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0xa0};
    s_emit (g, "hostile-heartbeat-fixext16", fixext, sizeof fixext);
}

int main (int argc, char *argv[])
{
    if (argc != 2) {
        fprintf (stderr, "usage: gen_corpus_proto DIR\n");
        return 2;
    }
    gen_t g;
    memset (&g, 0, sizeof g);
    if (mkdir (argv[1], 0755) && errno != EEXIST)
        s_die (argv[1]);
    snprintf (g.dir, sizeof g.dir, "%s/fuzz_proto", argv[1]);
    if (mkdir (g.dir, 0755) && errno != EEXIST)
        s_die (g.dir);
    g.enc = proto_encoder_new ();
    if (!g.enc)
        s_die ("proto_encoder_new");
    msgpack_sbuffer_init (&g.sbuf);
    msgpack_packer_init (&g.pk, &g.sbuf, msgpack_sbuffer_write);
    s_client (&g);
    s_peer (&g);
    s_sub_dealer (&g);
    s_reply (&g);
    s_hostile_fields (&g);
    s_hostile_status (&g);
    s_hostile_bytes (&g);
    msgpack_sbuffer_destroy (&g.sbuf);
    proto_encoder_destroy (&g.enc);
    printf ("gen_corpus_proto: %zu seeds, %zu bytes in %s\n", g.files, g.bytes, g.dir);
    return 0;
}
