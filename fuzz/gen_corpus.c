/*  gen_corpus.c - writes the seed corpora of the fuzz harnesses.

    Usage: gen_corpus DIR   (make fuzz-corpus: DIR is fuzz/corpus)

    DIR/fuzz_proto/<socket>-<name>: real frames made by src/proto.c's
    encoders, one family per socket that decodes them (client = the client
    ROUTER, peer = the master's peer ROUTER, sub = a secondary's SUB,
    dealer = a secondary's DEALER, reply = the client library), plus a few
    hostile frames packed by hand (bad version, unknown type, huge declared
    lengths, deep nesting, wrong field types).

    DIR/fuzz_recovery/<name>: real segment files written by src/disklog.c,
    wrapped in fuzz_recovery's input layout (fuzz/fuzz_recovery.c), intact
    and damaged (torn tail, flipped byte in the middle, misnamed or missing
    segment, garbage tail, an oversized record in its own segment).

    The output is deterministic, so regenerating changes nothing unless the
    formats change.
*/
#include "disklog.h"
#include "proto.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEGMENT_BYTES DISKLOG_SEGMENT_MIN

static char s_out[512];
static size_t s_files;
static size_t s_bytes;

static void s_die (const char *what)
{
    fprintf (stderr, "gen_corpus: %s: %s\n", what, strerror (errno));
    exit (1);
}

static void s_mkdir (const char *path)
{
    if (mkdir (path, 0755) && errno != EEXIST)
        s_die (path);
}

static void s_emit (const char *harness, const char *name, const void *data, size_t size)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s/%s", s_out, harness, name);
    FILE *file = fopen (path, "wb");
    if (!file || (size && fwrite (data, 1, size, file) != size) || fclose (file))
        s_die (path);
    s_files++;
    s_bytes += size;
}

//  ==========================================================================
//  Frames

static proto_encoder_t *s_enc;

static void s_frame (const char *name)
{
    s_emit ("fuzz_proto", name, proto_encoder_data (s_enc), proto_encoder_size (s_enc));
}

static void s_raw (const char *name, const msgpack_sbuffer *sbuf)
{
    s_emit ("fuzz_proto", name, sbuf->data, sbuf->size);
}

static void s_bytes_frame (const char *name, const void *data, size_t size)
{
    s_emit ("fuzz_proto", name, data, size);
}

static const uint8_t s_id16[16] = {0x9f, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
                                   0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};

static void s_batch (const char *name, int type, uint64_t epoch, uint64_t first, size_t count,
                     size_t payload_size)
{
    uint8_t payload[64];
    uint8_t id[64];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)('a' + i % 26);
    for (size_t i = 0; i < sizeof id; i++)
        id[i] = (uint8_t)(i * 7);
    if (proto_encode_batch_begin (s_enc, type, epoch, first, count))
        s_die ("encode");
    for (size_t i = 0; i < count; i++) {
        size_t id_size = (i * 13) % 65; //  0, 13, 26, ... up to 64
        entry_t entry = {epoch - (i % 2 && epoch ? 1 : 0),       i + 1, id, id_size, payload,
                         1 + (payload_size + i) % sizeof payload};
        if (proto_encode_batch_entry (s_enc, &entry))
            s_die ("encode");
    }
    s_frame (name);
}

static void s_status (const char *name, bool master, size_t secondaries)
{
    rlog_status_t st;
    memset (&st, 0, sizeof st);
    snprintf (st.role, sizeof st.role, "%s", master ? "master" : "secondary");
    snprintf (st.node_id, sizeof st.node_id, "%s", master ? "master" : "s2");
    st.epoch = 3;
    st.head = 1234;
    snprintf (st.mode, sizeof st.mode, "%s", master ? "read-only" : "catching-up");
    snprintf (st.reason, sizeof st.reason, "%s", master ? "1 of 3 healthy, 2 needed" : "");
    st.nodes = 3;
    st.healthy = 1;
    st.quorum = 2;
    st.waiting = 7;
    st.secondary_count = secondaries;
    for (size_t i = 0; i < secondaries; i++) {
        rlog_secondary_status_t *sec = &st.secondaries[i];
        snprintf (sec->id, sizeof sec->id, "s%zu", i + 1);
        snprintf (sec->state, sizeof sec->state, "%s", i ? "suspected" : "healthy");
        sec->acked = 1000 + i;
        sec->lag = 234 - i;
        sec->last_heard_ms = i ? 1500 : -1;
        sec->catching_up = i % 2;
    }
    if (!master) {
        snprintf (st.master, sizeof st.master, "tcp://127.0.0.1:5556");
        st.master_reachable = true;
        st.master_last_heard_ms = 12;
        st.master_head = 1300;
        st.held_back = 5;
        st.duplicates = 2;
    } else
        st.master_last_heard_ms = -1;
    if (proto_encode_status_reply (s_enc, &st))
        s_die ("encode");
    s_frame (name);
}

//  Hand-packed frames: [1, TYPE, ...] with something wrong.
static void s_hostile (void)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);

    //  Version 2 of an otherwise sound ACK
    msgpack_pack_array (&pk, 3);
    msgpack_pack_uint64 (&pk, 2);
    msgpack_pack_uint64 (&pk, PROTO_ACK);
    msgpack_pack_uint64 (&pk, 5);
    s_raw ("hostile-version-2", &sbuf);

    //  Unknown type
    msgpack_sbuffer_clear (&sbuf);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, 99);
    s_raw ("hostile-unknown-type", &sbuf);

    //  APPEND with every field of the wrong type
    msgpack_sbuffer_clear (&sbuf);
    msgpack_pack_array (&pk, 7);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, PROTO_APPEND);
    msgpack_pack_str_with_body (&pk, "id", 2);
    msgpack_pack_int64 (&pk, -1);
    msgpack_pack_double (&pk, 3.0);
    msgpack_pack_nil (&pk);
    msgpack_pack_str_with_body (&pk, "payload", 7);
    s_raw ("hostile-append-wrong-types", &sbuf);

    //  BATCH whose entry is a map and whose epoch is negative
    msgpack_sbuffer_clear (&sbuf);
    msgpack_pack_array (&pk, 5);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, PROTO_BATCH);
    msgpack_pack_int64 (&pk, -3);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_array (&pk, 1);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_true (&pk);
    msgpack_pack_false (&pk);
    s_raw ("hostile-batch-map-entry", &sbuf);

    //  STATUS_REPLY with a non-string key, a too-long role and 33 secondaries
    msgpack_sbuffer_clear (&sbuf);
    msgpack_pack_array (&pk, 4);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (&pk, 0);
    msgpack_pack_map (&pk, 3);
    msgpack_pack_str_with_body (&pk, "role", 4);
    msgpack_pack_str_with_body (&pk, "a-role-name-longer-than-16", 26);
    msgpack_pack_uint64 (&pk, 7);
    msgpack_pack_uint64 (&pk, 7);
    msgpack_pack_str_with_body (&pk, "secondaries", 11);
    msgpack_pack_array (&pk, 33);
    for (int i = 0; i < 33; i++)
        msgpack_pack_map (&pk, 0);
    s_raw ("hostile-status-keys", &sbuf);

    //  Extension types and floats where integers go
    msgpack_sbuffer_clear (&sbuf);
    msgpack_pack_array (&pk, 4);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, PROTO_FETCH);
    msgpack_pack_ext_with_body (&pk, "abcd", 4, 5);
    msgpack_pack_float (&pk, 1.5f);
    s_raw ("hostile-fetch-ext-float", &sbuf);

    //  HELLO with a NUL in the node id, and one with 64 bytes
    msgpack_sbuffer_clear (&sbuf);
    msgpack_pack_array (&pk, 5);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, PROTO_HELLO);
    msgpack_pack_str_with_body (&pk, "s\0x", 3);
    msgpack_pack_uint64 (&pk, 0);
    msgpack_pack_uint64 (&pk, 0);
    s_raw ("hostile-hello-nul", &sbuf);
    msgpack_sbuffer_clear (&sbuf);
    msgpack_pack_array (&pk, 5);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, PROTO_HELLO);
    msgpack_pack_str_with_body (
        &pk, "0123456789012345678901234567890123456789012345678901234567890123", 64);
    msgpack_pack_uint64 (&pk, 0);
    msgpack_pack_uint64 (&pk, 0);
    s_raw ("hostile-hello-64", &sbuf);

    //  BATCH whose seqs would wrap
    msgpack_sbuffer_clear (&sbuf);
    msgpack_pack_array (&pk, 5);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, PROTO_BATCH);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, UINT64_MAX);
    msgpack_pack_array (&pk, 2);
    for (int i = 0; i < 2; i++) {
        msgpack_pack_array (&pk, 4);
        msgpack_pack_uint64 (&pk, 1);
        msgpack_pack_bin_with_body (&pk, "", 0);
        msgpack_pack_uint64 (&pk, 1);
        msgpack_pack_bin_with_body (&pk, "x", 1);
    }
    s_raw ("hostile-batch-seq-wrap", &sbuf);

    //  LIST_REPLY whose seqs would wrap
    msgpack_sbuffer_clear (&sbuf);
    msgpack_pack_array (&pk, 6);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, PROTO_LIST_REPLY);
    msgpack_pack_uint64 (&pk, 0);
    msgpack_pack_uint64 (&pk, 5);
    msgpack_pack_uint64 (&pk, UINT64_MAX);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_bin_with_body (&pk, "a", 1);
    msgpack_pack_bin_with_body (&pk, "b", 1);
    s_raw ("hostile-list-reply-seq-wrap", &sbuf);

    //  STATUS_REPLY listing 33 secondaries (at most 32)
    msgpack_sbuffer_clear (&sbuf);
    msgpack_pack_array (&pk, 4);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (&pk, 0);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "secondaries", 11);
    msgpack_pack_array (&pk, 33);
    for (int i = 0; i < 33; i++)
        msgpack_pack_map (&pk, 0);
    s_raw ("hostile-status-33-secondaries", &sbuf);
    msgpack_sbuffer_destroy (&sbuf);

    //  Raw bytes: huge declared lengths, nesting, trailing and missing bytes
    static const uint8_t array32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x0a};
    s_bytes_frame ("hostile-array32-huge", array32, sizeof array32);
    static const uint8_t map32[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa1, 0x61, 0x01};
    s_bytes_frame ("hostile-map32-huge", map32, sizeof map32);
    static const uint8_t bin32[] = {0x97, 0x01, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xf0, 0x00};
    s_bytes_frame ("hostile-bin32-huge", bin32, sizeof bin32);
    static const uint8_t str32[] = {0x94, 0x01, 0x31, 0x01, 0xdb, 0x10, 0x00, 0x00, 0x00, 0x41};
    s_bytes_frame ("hostile-str32-huge", str32, sizeof str32);
    static const uint8_t deep[] = {0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x01};
    s_bytes_frame ("hostile-nested-9", deep, sizeof deep);
    static const uint8_t trailing[] = {0x93, 0x01, 0x15, 0x05, 0x00};
    s_bytes_frame ("hostile-ack-trailing", trailing, sizeof trailing);
    static const uint8_t truncated[] = {0x94, 0x01, 0x16, 0xcf, 0x00, 0x00};
    s_bytes_frame ("hostile-fetch-truncated", truncated, sizeof truncated);
    static const uint8_t never_used[] = {0x92, 0x01, 0xc1};
    s_bytes_frame ("hostile-c1", never_used, sizeof never_used);
    static const uint8_t fixext[] = {0x94, 0x01, 0x0b, 0xd8, 0x01, 0, 0, 0, 0, 0, 0,
                                     0,    0,    0,    0,    0,    0, 0, 0, 0, 0, 0x00};
    s_bytes_frame ("hostile-heartbeat-fixext16", fixext, sizeof fixext);
}

static void s_proto_corpus (void)
{
    s_enc = proto_encoder_new ();
    if (!s_enc)
        s_die ("proto_encoder_new");
    uint8_t id64[64];
    for (size_t i = 0; i < sizeof id64; i++)
        id64[i] = (uint8_t)(255 - i);

    //  Client ROUTER: APPEND LIST STATUS
    proto_encode_append (s_enc, s_id16, sizeof s_id16, 1, 1, 0, "hello", 5);
    s_frame ("client-append");
    proto_encode_append (s_enc, NULL, 0, UINT64_MAX, 3, 5000, "x", 1);
    s_frame ("client-append-anonymous");
    proto_encode_append (s_enc, id64, sizeof id64, 300, 2, 65536, "a payload over 16 bytes", 23);
    s_frame ("client-append-id64-large");
    proto_encode_append (s_enc, s_id16, sizeof s_id16, 2, 1, 0, NULL, 0);
    s_frame ("client-append-empty");
    proto_encode_list (s_enc, 0, 0);
    s_frame ("client-list-all");
    proto_encode_list (s_enc, 4097, 100);
    s_frame ("client-list-page");
    proto_encode_status (s_enc);
    s_frame ("client-status");

    //  Master's peer ROUTER: HELLO ACK FETCH
    proto_encode_hello (s_enc, "s1", 0, 0);
    s_frame ("peer-hello");
    proto_encode_hello (s_enc, "secondary-with-a-node-id-of-exactly-sixty-three-bytes-012345678", 4,
                        1u << 20);
    s_frame ("peer-hello-long-id");
    proto_encode_ack (s_enc, 0);
    s_frame ("peer-ack-0");
    proto_encode_ack (s_enc, 123456789);
    s_frame ("peer-ack");
    proto_encode_fetch (s_enc, 1, 8192);
    s_frame ("peer-fetch");
    proto_encode_fetch (s_enc, UINT64_MAX, UINT64_MAX);
    s_frame ("peer-fetch-max");

    //  Secondary's SUB: BATCH HEARTBEAT
    s_batch ("sub-batch-1", PROTO_BATCH, 1, 1, 1, 5);
    s_batch ("sub-batch-5", PROTO_BATCH, 2, 100, 5, 20);
    s_batch ("sub-batch-17-over-limit", PROTO_BATCH, 7, 1u << 16, 17, 40);
    s_batch ("sub-batch-last-seq", PROTO_BATCH, 1, UINT64_MAX - 1, 2, 3);
    proto_encode_heartbeat (s_enc, 3, 4096);
    s_frame ("sub-heartbeat");
    proto_encode_heartbeat (s_enc, 0, 0);
    s_frame ("sub-heartbeat-empty");

    //  Secondary's DEALER: WELCOME FILL ERROR
    proto_encode_welcome (s_enc, 2, 500, 480);
    s_frame ("dealer-welcome");
    s_batch ("dealer-fill-3", PROTO_FILL, 2, 481, 3, 10);
    s_batch ("dealer-fill-9", PROTO_FILL, 9, 1, 9, 0);
    proto_encode_error (s_enc, RLOG_REFUSED, "node id s1 is already in use");
    s_frame ("dealer-error-refused");

    //  Client library: APPEND_REPLY LIST_REPLY STATUS_REPLY ERROR
    proto_encode_append_reply (s_enc, RLOG_OK, 42, 3, 3, "", 7);
    s_frame ("reply-append-ok");
    proto_encode_append_reply (s_enc, RLOG_TIMEOUT, 43, 2, 3, "timed out: stored on 2 of 3 nodes",
                               8);
    s_frame ("reply-append-timeout");
    proto_encode_append_reply (s_enc, RLOG_BUSY, 0, 0, 3, "busy: 1024 appends waiting", 9);
    s_frame ("reply-append-busy");
    proto_encode_list_begin (s_enc, RLOG_OK, 10, 11, 0);
    s_frame ("reply-list-end");
    proto_encode_list_begin (s_enc, RLOG_OK, 10, 3, 4);
    proto_encode_list_entry (s_enc, "one", 3);
    proto_encode_list_entry (s_enc, "two", 3);
    proto_encode_list_entry (s_enc, "three and more than sixteen", 27);
    proto_encode_list_entry (s_enc, "4", 1);
    s_frame ("reply-list-4");
    s_status ("reply-status-master", true, 2);
    s_status ("reply-status-secondary", false, 0);
    proto_encode_error (s_enc, RLOG_MALFORMED, "field 3 (req_id) must be an unsigned integer");
    s_frame ("reply-error-malformed");
    proto_encode_error (s_enc, RLOG_UNKNOWN_TYPE, "");
    s_frame ("reply-error-empty-text");

    s_hostile ();
    proto_encoder_destroy (&s_enc);
}

//  ==========================================================================
//  Segments

static char s_tmp[256];

static void s_rm_tmp (void)
{
    DIR *dir = opendir (s_tmp);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (!strcmp (entry->d_name, ".") || !strcmp (entry->d_name, ".."))
                continue;
            char path[600];
            snprintf (path, sizeof path, "%s/%s", s_tmp, entry->d_name);
            unlink (path);
        }
        closedir (dir);
    }
    rmdir (s_tmp);
}

typedef struct {
    uint64_t first_seq;
    uint8_t *data;
    size_t size;
} seg_t;

//  A fresh log of COUNT entries (entry i: payload of SIZES[i % n] bytes,
//  epoch rising every EPOCH_EVERY); its segments go into SEGS.
static size_t s_make_log (uint64_t count, const size_t *sizes, size_t nsizes, uint64_t epoch_every,
                          seg_t *segs, size_t max_segs)
{
    s_rm_tmp ();
    char err[600];
    disklog_t *log = disklog_open (s_tmp, SEGMENT_BYTES, DISKLOG_STRICT, NULL, err, sizeof err);
    if (!log) {
        fprintf (stderr, "gen_corpus: %s\n", err);
        exit (1);
    }
    static uint8_t payload[2048];
    uint8_t id[64];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 31 + 7);
    for (size_t i = 0; i < sizeof id; i++)
        id[i] = (uint8_t)(i + 1);
    for (uint64_t seq = 1; seq <= count; seq++) {
        size_t size = sizes[(seq - 1) % nsizes];
        size_t id_size = (size_t)((seq * 11) % 3 == 0 ? 0 : (seq * 11) % 65);
        entry_t entry = {1 + (seq - 1) / epoch_every, seq * 3, id, id_size, payload, size};
        if (disklog_append (log, &entry))
            s_die ("disklog_append");
    }
    if (disklog_commit (log, false))
        s_die ("disklog_commit");
    disklog_destroy (&log);

    //  Read the segments back, in seq order
    size_t n = 0;
    for (uint64_t seq = 1; seq <= count + 1 && n < max_segs; seq++) {
        char path[600];
        snprintf (path, sizeof path, "%s/%020" PRIu64 ".log", s_tmp, seq);
        FILE *file = fopen (path, "rb");
        if (!file)
            continue;
        fseek (file, 0, SEEK_END);
        long size = ftell (file);
        fseek (file, 0, SEEK_SET);
        segs[n].first_seq = seq;
        segs[n].size = (size_t)size;
        segs[n].data = (uint8_t *)malloc ((size_t)size + 1);
        if (!segs[n].data || fread (segs[n].data, 1, (size_t)size, file) != (size_t)size)
            s_die (path);
        fclose (file);
        n++;
    }
    return n;
}

static void s_free_segs (seg_t *segs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free (segs[i].data);
}

//  One fuzz_recovery input: header + segment A (+ segment B).
static void s_recovery (const char *name, uint8_t flags, uint8_t name1, const seg_t *a,
                        const seg_t *b, size_t cut_a, size_t cut_b)
{
    size_t size_a = a ? (cut_a && cut_a < a->size ? cut_a : a->size) : 0;
    size_t size_b = b ? (cut_b && cut_b < b->size ? cut_b : b->size) : 0;
    size_t total = 5 + size_a + size_b;
    uint8_t *input = (uint8_t *)malloc (total);
    if (!input)
        s_die ("malloc");
    input[0] = (uint8_t)(flags | (b ? 1 : 0));
    input[1] = name1;
    input[2] = b ? (uint8_t)b->first_seq : 0;
    input[3] = (uint8_t)(size_a & 0xff);
    input[4] = (uint8_t)(size_a >> 8);
    if (size_a)
        memcpy (input + 5, a->data, size_a);
    if (size_b)
        memcpy (input + 5 + size_a, b->data, size_b);
    s_emit ("fuzz_recovery", name, input, total);
    free (input);
}

static void s_recovery_corpus (void)
{
    snprintf (s_tmp, sizeof s_tmp, "/tmp/rlog-gen-corpus.%ld", (long)getpid ());
    seg_t segs[8];
    size_t n;

    //  Small entries, one segment, one epoch and several
    static const size_t small[] = {1, 5, 17, 40};
    n = s_make_log (6, small, 4, 100, segs, 8);
    s_recovery ("one-segment", 0, 0, &segs[0], NULL, 0, 0);
    s_recovery ("one-segment-fixcrc", 4, 0, &segs[0], NULL, 0, 0);
    s_recovery ("torn-tail", 0, 0, &segs[0], NULL, segs[0].size - 3, 0);
    s_recovery ("torn-header", 0, 0, &segs[0], NULL, segs[0].size - (segs[0].size > 60 ? 60 : 1),
                0);
    s_recovery ("misnamed-first", 2, 5, &segs[0], NULL, 0, 0);
    s_recovery ("misnamed-zero", 2, 0, &segs[0], NULL, 0, 0);
    {
        //  A byte flipped inside the second record: corrupt middle
        seg_t bad = segs[0];
        bad.data = (uint8_t *)malloc (bad.size);
        memcpy (bad.data, segs[0].data, bad.size);
        uint32_t len0 = (uint32_t)bad.data[0] | (uint32_t)bad.data[1] << 8;
        bad.data[8 + len0 + 8 + 20] ^= 0x40;
        s_recovery ("corrupt-middle", 0, 0, &bad, NULL, 0, 0);
        //  The same with the CRC fixed up: the payload change is "valid"
        s_recovery ("corrupt-middle-fixcrc", 4, 0, &bad, NULL, 0, 0);
        //  A client id size of 65 in the first record (CRC fixed by the flag)
        memcpy (bad.data, segs[0].data, bad.size);
        bad.data[32] = 65;
        s_recovery ("bad-id-size-fixcrc", 4, 0, &bad, NULL, 0, 0);
        //  The second record claims seq 9
        memcpy (bad.data, segs[0].data, bad.size);
        bad.data[8 + len0 + 16] = 9;
        s_recovery ("seq-jump-fixcrc", 4, 0, &bad, NULL, 0, 0);
        free (bad.data);
    }
    {
        //  Garbage after the last record
        seg_t tail = segs[0];
        tail.data = (uint8_t *)malloc (tail.size + 40);
        memcpy (tail.data, segs[0].data, tail.size);
        for (size_t i = 0; i < 40; i++)
            tail.data[tail.size + i] = (uint8_t)(i * 37);
        tail.size += 40;
        s_recovery ("garbage-tail", 0, 0, &tail, NULL, 0, 0);
        free (tail.data);
    }
    s_free_segs (segs, n);

    //  Several segments of 1 KiB, epochs rising every 4 entries
    static const size_t medium[] = {100, 250, 33, 400, 7};
    n = s_make_log (12, medium, 5, 4, segs, 8);
    if (n >= 2) {
        s_recovery ("two-segments", 0, 0, &segs[0], &segs[1], 0, 0);
        s_recovery ("two-segments-fixcrc", 4, 0, &segs[0], &segs[1], 0, 0);
        s_recovery ("two-segments-torn-second", 0, 0, &segs[0], &segs[1], 0, segs[1].size / 2);
        s_recovery ("two-segments-torn-first", 0, 0, &segs[0], &segs[1], segs[0].size - 9, 0);
        //  The second segment named as if one entry were missing: a gap
        seg_t gap = segs[1];
        gap.first_seq++;
        s_recovery ("two-segments-gap", 0, 0, &segs[0], &gap, 0, 0);
        //  Second segment alone, named 1
        seg_t alone = segs[1];
        alone.first_seq = 1;
        s_recovery ("second-segment-alone", 0, 0, &alone, NULL, 0, 0);
    }
    if (n >= 3)
        s_recovery ("segments-2-and-3", 2, (uint8_t)segs[1].first_seq, &segs[1], &segs[2], 0, 0);
    s_free_segs (segs, n);

    //  A record bigger than a segment gets a segment of its own
    static const size_t big[] = {20, 1500, 20};
    n = s_make_log (3, big, 3, 1, segs, 8);
    if (n >= 2)
        s_recovery ("oversized-record", 0, 0, &segs[0], &segs[1], 0, 0);
    if (n >= 3)
        s_recovery ("oversized-then-small", 2, (uint8_t)segs[1].first_seq, &segs[1], &segs[2], 0,
                    0);
    s_free_segs (segs, n);

    //  Nothing at all, an empty segment file, and one junk byte
    s_recovery ("empty-dir", 0, 0, NULL, NULL, 0, 0);
    seg_t empty = {1, NULL, 0};
    s_recovery ("empty-segment", 1, 0, &empty, &empty, 0, 0);
    static uint8_t junk[1] = {0x5a};
    seg_t one = {1, junk, 1};
    s_recovery ("one-junk-byte", 0, 0, &one, NULL, 0, 0);

    s_rm_tmp ();
}

int main (int argc, char *argv[])
{
    if (argc != 2) {
        fprintf (stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    snprintf (s_out, sizeof s_out, "%s", argv[1]);
    char path[600];
    s_mkdir (s_out);
    snprintf (path, sizeof path, "%s/fuzz_proto", s_out);
    s_mkdir (path);
    snprintf (path, sizeof path, "%s/fuzz_recovery", s_out);
    s_mkdir (path);
    s_proto_corpus ();
    s_recovery_corpus ();
    printf ("gen_corpus: %zu seeds, %zu bytes in %s\n", s_files, s_bytes, s_out);
    return 0;
}
