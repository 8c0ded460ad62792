/*  test_hostile.c - hostile-input integration suite (issue 7, item 5).

    Every test starts its own live cluster (master + 2 secondaries, 50 ms
    heartbeats, free ports) and throws hostile input at its sockets through
    raw ZeroMQ sockets:

      master client ROUTER   a DEALER sending [""][body], as REQ would
      master peer ROUTER     a DEALER sending [body]; anonymous (it never says
                             HELLO) unless a test poses as a secondary
      s1, s2 client ROUTER   as the master's client socket

    Not covered: the master's PUB -> secondary SUB stream and the replies on
    a secondary's DEALER. A secondary only connects out to the endpoints it
    was given and listens on nothing but its client socket, so those frames
    can only come from whoever is the master (the fuzz harnesses drive their
    decoders directly).

    After the hostile part every test ends with s_survived: every node's
    process is still running, its log is what it was before plus the appends
    the master acknowledged with a seq and nothing else (byte for byte), every
    node lists the same, no node log holds a sanitizer report, and a normal
    w=3 append succeeds and reaches every node.

    The tests, one cluster each:
       1 random_bytes                      8 hello_with_a_node_id_in_use
       2 truncated_msgpack                 9 flood_beyond_max_waiters
       3 huge_declared_lengths            10 per_client_limit
       4 wrong_types_in_every_field       11 client_that_never_reads
       5 unknown_versions_and_types       12 oversized_frames
       6 wrong_envelopes                  13 extreme_values
       7 bogus_ack_and_fetch_beyond_head  14 hijack_claiming_a_longer_log
    Behaviour that only authentication can change (a DEALER taking a
    secondary's routing id) is recorded in "OBSERVED" warnings, not
    asserted.

    Deterministic: random input comes from a fixed-seed PRNG, requests go in
    lock step (send, then wait for the answer with a deadline), and every
    wait is a poll of a condition with a deadline. A few checks wait for
    something NOT to happen (no reply, no ack); those wait a bounded time
    that is many heartbeats long.
*/
#include "harness.h"
#include "proto.h"
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>

//  Behaviour worth knowing that the suite records rather than asserts.
//  Plain stderr: criterion's warnings would make the whole run exit 1.
static void s_observed (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fputs ("[note] ", stderr);
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
    va_end (args);
}
#include <czmq.h>
#include <msgpack.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#define HB_MS      50   //  heartbeat of every node
#define REPLY_MS   3000 //  an answer that takes longer than this is lost
#define QUIET_MS   400  //  how long "no answer" is waited for (8 heartbeats)
#define DECODE_MAX (64u * 1024 * 1024)

static h_cluster_t s_cluster;

//  ==========================================================================
//  Deterministic PRNG (splitmix64)

static uint64_t s_rng_state;

static void s_srand (uint64_t seed)
{
    s_rng_state = seed;
}

static uint64_t s_rand (void)
{
    uint64_t z = (s_rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void s_fill_random (uint8_t *buf, size_t size)
{
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        uint64_t r = s_rand ();
        memcpy (buf + i, &r, 8);
    }
    for (; i < size; i++)
        buf[i] = (uint8_t)s_rand ();
}

//  ==========================================================================
//  Byte strings, and what each node's log must hold

typedef struct {
    uint8_t *data;
    size_t size;
} blob_t;

typedef struct {
    blob_t *items;
    size_t count;
    size_t max;
    bool broken; //  the listing skipped a seq
} blobs_t;

static void s_blobs_push (blobs_t *list, const void *data, size_t size)
{
    if (list->count == list->max) {
        list->max = list->max ? list->max * 2 : 64;
        list->items = (blob_t *)realloc (list->items, list->max * sizeof (blob_t));
        cr_assert_not_null (list->items);
    }
    blob_t *b = &list->items[list->count++];
    b->data = (uint8_t *)malloc (size ? size : 1);
    cr_assert_not_null (b->data);
    if (size)
        memcpy (b->data, data, size);
    b->size = size;
}

static void s_blobs_free (blobs_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        free (list->items[i].data);
    free (list->items);
    memset (list, 0, sizeof *list);
}

static bool s_blob_eq (const blob_t *a, const blob_t *b)
{
    return a->size == b->size && memcmp (a->data, b->data, a->size) == 0;
}

static int s_blob_cmp (const void *x, const void *y)
{
    const blob_t *a = (const blob_t *)x, *b = (const blob_t *)y;
    size_t n = a->size < b->size ? a->size : b->size;
    int c = memcmp (a->data, b->data, n);
    return c ? c : (a->size > b->size) - (a->size < b->size);
}

//  Short printable rendering of a blob for failure messages.
static const char *s_show (const blob_t *b, char *buf, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < b->size && n + 5 < size && i < 40; i++)
        n += (size_t)snprintf (buf + n, size - n,
                               b->data[i] >= 32 && b->data[i] < 127 ? "%c" : "\\x%02x", b->data[i]);
    if (b->size > 40 && n + 4 < size)
        snprintf (buf + n, size - n, "...");
    else if (n < size)
        buf[n] = 0;
    return buf;
}

static int s_collect (uint64_t seq, const void *data, size_t size, void *arg)
{
    blobs_t *list = (blobs_t *)arg;
    if (seq != list->count + 1) {
        list->broken = true;
        return -1;
    }
    s_blobs_push (list, data, size);
    return 0;
}

//  NODE's whole log, byte exact.
static void s_list (const h_node_t *node, blobs_t *list)
{
    memset (list, 0, sizeof *list);
    rlog_client_t *client = h_client (node);
    cr_assert_not_null (client);
    int rc = rlog_client_list (client, 1, 0, s_collect, list);
    cr_assert_eq (rc, RLOG_OK, "list on %s: %s", node->id, rlog_client_error (client));
    cr_assert (!list->broken, "list on %s skipped a seq", node->id);
    rlog_client_destroy (&client);
}

//  The expected log: what the master acknowledged at a known seq, plus
//  appends whose seq the test never learnt (a client that never reads).
typedef struct {
    blobs_t at; //  items[seq - 1]; data NULL = not known
    blobs_t bag;
} expect_t;

static expect_t s_expect;
static blobs_t s_before; //  the master's log before the hostile part

static void s_expect_seq (uint64_t seq, const void *data, size_t size, bool dedup_ok)
{
    cr_assert (seq >= 1, "expected entry without a seq");
    while (s_expect.at.count < seq) {
        s_blobs_push (&s_expect.at, "", 0);
        free (s_expect.at.items[s_expect.at.count - 1].data);
        s_expect.at.items[s_expect.at.count - 1].data = NULL;
    }
    blob_t *slot = &s_expect.at.items[seq - 1];
    blob_t want = {(uint8_t *)data, size};
    if (slot->data) {
        //  The same seq acknowledged twice must be the same request (dedup).
        char a[200], b[200];
        cr_assert (dedup_ok || s_blob_eq (slot, &want),
                   "seq %llu acknowledged for two different payloads: '%s' and '%s'",
                   (unsigned long long)seq, s_show (slot, a, sizeof a),
                   s_show (&want, b, sizeof b));
        return;
    }
    slot->data = (uint8_t *)malloc (size ? size : 1);
    memcpy (slot->data, data, size);
    slot->size = size;
}

static void s_expect_str (uint64_t seq, const char *text)
{
    s_expect_seq (seq, text, strlen (text), false);
}

static void s_expect_unordered (const char *text)
{
    s_blobs_push (&s_expect.bag, text, strlen (text));
}

//  ==========================================================================
//  Cluster and normal clients

static proto_encoder_t *s_enc;
static proto_decoder_t *s_dec;

static void s_never_reader_stop (void);
static void s_close_all (void);

static void s_teardown (void)
{
    s_never_reader_stop ();
    s_close_all ();
    h_cluster_destroy (&s_cluster);
    s_blobs_free (&s_expect.at);
    s_blobs_free (&s_expect.bag);
    s_blobs_free (&s_before);
    proto_encoder_destroy (&s_enc);
    proto_decoder_destroy (&s_dec);
}

TestSuite (hostile, .fini = s_teardown, .timeout = 40.0);

static h_node_t *s_node (int i)
{
    return i == 0 ? &s_cluster.master : &s_cluster.secondaries[i - 1];
}

static void s_wait_head (const h_node_t *node, uint64_t head)
{
    cr_assert (h_wait_status (node, h_pred_head, &head, 10000), "%s never reached head %llu",
               node->id, (unsigned long long)head);
}

static void s_status (const h_node_t *node, rlog_status_t *status)
{
    rlog_client_t *client = h_client (node);
    cr_assert_eq (rlog_client_status (client, status), RLOG_OK, "status of %s: %s", node->id,
                  rlog_client_error (client));
    rlog_client_destroy (&client);
}

static const rlog_secondary_status_t *s_peer_status (const rlog_status_t *status, const char *id)
{
    for (size_t i = 0; i < status->secondary_count; i++)
        if (streq (status->secondaries[i].id, id))
            return &status->secondaries[i];
    cr_assert_fail ("master does not list secondary %s", id);
    return NULL;
}

//  A normal append through librlog; the entry joins the expected log.
static uint64_t s_append (const char *text, int w, int timeout_ms, int expect)
{
    rlog_client_t *client = h_client (&s_cluster.master);
    rlog_append_result_t result;
    int rc = rlog_client_append (client, text, strlen (text), w, timeout_ms, &result);
    cr_assert_eq (rc, expect, "append '%s' w=%d: got %s (%s), expected %s", text, w,
                  rlog_strerror (rc), rlog_client_error (client), rlog_strerror (expect));
    if (result.seq)
        s_expect_str (result.seq, text);
    rlog_client_destroy (&client);
    return result.seq;
}

//  Start master + 2 secondaries and wait until all three are healthy; then
//  append three entries with w=3 and remember the log as it is.
static void s_start (const char *master_extra, const char *secondary_extra)
{
    h_cluster_init (&s_cluster, 2, HB_MS);
    //  "%s" in the master's flags stands for the cluster's temp dir.
    char extra[512];
    snprintf (extra, sizeof extra, master_extra, s_cluster.dir);
    h_start_master (&s_cluster, extra);
    h_start_secondary (&s_cluster, 0, secondary_extra);
    h_start_secondary (&s_cluster, 1, secondary_extra);
    int three = 3;
    cr_assert (h_wait_status (&s_cluster.master, h_pred_healthy, &three, 10000),
               "master never saw 3 healthy nodes");
    s_enc = proto_encoder_new ();
    s_dec = proto_decoder_new (DECODE_MAX);
    cr_assert (s_enc && s_dec);
    for (int i = 1; i <= 3; i++) {
        char text[32];
        snprintf (text, sizeof text, "seed-%d", i);
        cr_assert_eq (s_append (text, 3, 5000, RLOG_OK), (uint64_t)i);
    }
    s_list (&s_cluster.master, &s_before);
    cr_assert_eq (s_before.count, 3);
}

static bool s_alive (h_node_t *node, char *why, size_t size)
{
    if (node->pid <= 0) {
        snprintf (why, size, "not running");
        return false;
    }
    int status = 0;
    pid_t rc = waitpid (node->pid, &status, WNOHANG);
    if (rc == 0)
        return true;
    if (rc == node->pid && WIFSIGNALED (status))
        snprintf (why, size, "killed by signal %d", WTERMSIG (status));
    else if (rc == node->pid)
        snprintf (why, size, "exited with status %d", WEXITSTATUS (status));
    else
        snprintf (why, size, "waitpid: %s", strerror (errno));
    node->pid = 0;
    return false;
}

static size_t s_count_in_file (const char *path, const char *needle)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    size_t count = 0;
    char line[4096];
    while (fgets (line, sizeof line, file))
        if (strstr (line, needle))
            count++;
    fclose (file);
    return count;
}

static void s_no_sanitizer_reports (void)
{
    const char *needles[] = {"AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                             "runtime error:"};
    for (int n = 0; n < 3; n++)
        for (size_t k = 0; k < sizeof needles / sizeof needles[0]; k++)
            cr_assert_eq (s_count_in_file (s_node (n)->log_path, needles[k]), 0,
                          "%s log %s has a '%s' report", s_node (n)->id, s_node (n)->log_path,
                          needles[k]);
}

static void s_assert_same_log (const blobs_t *want, const blobs_t *got, const char *who)
{
    cr_assert_eq (got->count, want->count, "%s lists %zu entries, the master %zu", who, got->count,
                  want->count);
    for (size_t i = 0; i < want->count; i++) {
        char a[200], b[200];
        cr_assert (s_blob_eq (&want->items[i], &got->items[i]),
                   "%s seq %zu is '%s', master has '%s'", who, i + 1,
                   s_show (&got->items[i], a, sizeof a), s_show (&want->items[i], b, sizeof b));
    }
}

//  The master's log is the log before, plus exactly the acknowledged
//  appends: known seqs byte for byte, the rest a permutation of the bag.
static void s_assert_expected (const blobs_t *log)
{
    char a[200], b[200];
    cr_assert_geq (log->count, s_before.count);
    for (size_t i = 0; i < s_before.count; i++)
        cr_assert (s_blob_eq (&s_before.items[i], &log->items[i]),
                   "seq %zu changed from '%s' to '%s'", i + 1,
                   s_show (&s_before.items[i], a, sizeof a), s_show (&log->items[i], b, sizeof b));
    size_t known = 0;
    for (size_t i = 0; i < s_expect.at.count; i++)
        if (s_expect.at.items[i].data)
            known++;
    cr_assert_leq (s_expect.at.count, log->count, "an append acknowledged at seq %zu is missing",
                   s_expect.at.count);
    cr_assert_eq (log->count, known + s_expect.bag.count,
                  "the master holds %zu entries, but only %zu were acknowledged (%zu at known "
                  "seqs, %zu unordered): something was stored that should not have been",
                  log->count, known + s_expect.bag.count, known, s_expect.bag.count);
    blob_t *rest = (blob_t *)calloc (s_expect.bag.count + 1, sizeof (blob_t));
    size_t n = 0;
    for (size_t i = 0; i < log->count; i++) {
        if (i < s_expect.at.count && s_expect.at.items[i].data)
            cr_assert (s_blob_eq (&s_expect.at.items[i], &log->items[i]),
                       "seq %zu holds '%s', the master acknowledged '%s' there", i + 1,
                       s_show (&log->items[i], a, sizeof a),
                       s_show (&s_expect.at.items[i], b, sizeof b));
        else
            rest[n++] = log->items[i];
    }
    cr_assert_eq (n, s_expect.bag.count);
    blob_t *bag = (blob_t *)calloc (n + 1, sizeof (blob_t));
    if (n)
        memcpy (bag, s_expect.bag.items, n * sizeof (blob_t));
    qsort (rest, n, sizeof (blob_t), s_blob_cmp);
    qsort (bag, n, sizeof (blob_t), s_blob_cmp);
    for (size_t i = 0; i < n; i++)
        cr_assert (s_blob_eq (&rest[i], &bag[i]), "unexpected entry '%s' (or '%s' missing)",
                   s_show (&rest[i], a, sizeof a), s_show (&bag[i], b, sizeof b));
    free (rest);
    free (bag);
}

//  The common end of every test (see the top of the file).
static void s_survived (void)
{
    for (int i = 0; i < 3; i++) {
        char why[64];
        cr_assert (s_alive (s_node (i), why, sizeof why), "%s is gone: %s (see %s)", s_node (i)->id,
                   why, s_node (i)->log_path);
    }
    blobs_t master;
    s_list (&s_cluster.master, &master);
    s_assert_expected (&master);
    for (int i = 1; i < 3; i++) {
        s_wait_head (s_node (i), master.count);
        blobs_t log;
        s_list (s_node (i), &log);
        s_assert_same_log (&master, &log, s_node (i)->id);
        s_blobs_free (&log);
    }
    //  A normal w=3 append still works and lands on every node.
    uint64_t seq = s_append ("after the storm", 3, 5000, RLOG_OK);
    cr_assert_eq (seq, master.count + 1);
    s_blobs_push (&master, "after the storm", strlen ("after the storm"));
    for (int i = 0; i < 3; i++) {
        s_wait_head (s_node (i), seq);
        blobs_t log;
        s_list (s_node (i), &log);
        s_assert_same_log (&master, &log, s_node (i)->id);
        s_blobs_free (&log);
    }
    s_blobs_free (&master);
    s_no_sanitizer_reports ();
}

//  ==========================================================================
//  Raw sockets

//  Every raw socket a test opens, so that teardown closes what a failed
//  assertion left open (no dangling sockets, no leak reports).
#define SOCKETS_MAX 64
static zsock_t *s_sockets[SOCKETS_MAX];

static void s_close (zsock_t **sock_p)
{
    for (int i = 0; i < SOCKETS_MAX; i++)
        if (s_sockets[i] && s_sockets[i] == *sock_p)
            s_sockets[i] = NULL;
    zsock_destroy (sock_p);
}

static void s_close_all (void)
{
    for (int i = 0; i < SOCKETS_MAX; i++)
        zsock_destroy (&s_sockets[i]);
}

static zsock_t *s_dealer_new (const void *identity, size_t identity_size)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (sock);
    int slot = 0;
    while (slot < SOCKETS_MAX && s_sockets[slot])
        slot++;
    cr_assert_lt (slot, SOCKETS_MAX, "too many raw sockets");
    s_sockets[slot] = sock;
    zsock_set_linger (sock, 0);
    zsock_set_sndtimeo (sock, 5000); //  a send never blocks a test for ever
    zsock_set_rcvhwm (sock, 100000);
    if (identity)
        cr_assert_eq (
            zmq_setsockopt (zsock_resolve (sock), ZMQ_ROUTING_ID, identity, identity_size), 0);
    return sock;
}

static zsock_t *s_dealer (int port, const void *identity, size_t identity_size)
{
    zsock_t *sock = s_dealer_new (identity, identity_size);
    cr_assert_eq (zsock_connect (sock, "tcp://127.0.0.1:%d", port), 0);
    return sock;
}

//  Send one message of N frames.
static void s_sendv (zsock_t *sock, int n, const void *const *data, const size_t *size)
{
    void *handle = zsock_resolve (sock);
    for (int i = 0; i < n; i++)
        cr_assert_geq (zmq_send (handle, data[i], size[i], i + 1 < n ? ZMQ_SNDMORE : 0), 0,
                       "send: %s", zmq_strerror (zmq_errno ()));
}

static void s_send_client (zsock_t *sock, const void *data, size_t size)
{
    const void *parts[2] = {"", data};
    size_t sizes[2] = {0, size};
    s_sendv (sock, 2, parts, sizes);
}

static void s_send_peer (zsock_t *sock, const void *data, size_t size)
{
    s_sendv (sock, 1, &data, &size);
}

typedef struct {
    int frames; //  frames in the message
    int type;
    int code;
    uint64_t seq; //  APPEND_REPLY seq; FILL / LIST_REPLY first seq
    uint64_t acks;
    uint64_t w;
    uint64_t req_id;
    uint64_t head;
    uint64_t epoch;
    uint64_t truncate_to;
    size_t entries;
    char text[PROTO_TEXT_MAX + 1];
} reply_t;

//  Wait up to TIMEOUT_MS for one message on SOCK and decode its last frame
//  (which must be a valid rlog frame). Returns false if nothing came.
static bool s_recv (zsock_t *sock, int timeout_ms, reply_t *reply)
{
    memset (reply, 0, sizeof *reply);
    void *handle = zsock_resolve (sock);
    zmq_pollitem_t item = {handle, 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, timeout_ms) <= 0)
        return false;
    zmq_msg_t last;
    zmq_msg_init (&last);
    bool more = true;
    while (more) {
        zmq_msg_close (&last);
        zmq_msg_init (&last);
        cr_assert_geq (zmq_msg_recv (&last, handle, 0), 0);
        more = zmq_msg_more (&last);
        reply->frames++;
        if (more)
            cr_assert_eq (zmq_msg_size (&last), 0, "reply envelope frame is not empty");
    }
    proto_msg_t msg;
    int rc = proto_decode (s_dec, zmq_msg_data (&last), zmq_msg_size (&last), &msg);
    cr_assert_eq (rc, RLOG_OK, "undecodable reply (%s)", proto_decoder_error (s_dec));
    zmq_msg_close (&last);
    reply->type = msg.type;
    reply->code = (int)msg.code;
    reply->seq = msg.seq;
    reply->acks = msg.acked;
    reply->w = msg.w;
    reply->req_id = msg.req_id;
    reply->head = msg.head;
    reply->epoch = msg.epoch;
    reply->truncate_to = msg.truncate_to;
    reply->entries = msg.entry_count;
    snprintf (reply->text, sizeof reply->text, "%s", msg.text);
    return true;
}

//  The sockets of the cluster a test throws frames at.
typedef struct {
    const char *name;
    int port;
    bool peer;   //  the master's peer ROUTER: [body], not [""][body]
    bool master; //  a socket of the master
    zsock_t *sock;
} target_t;

#define TARGETS 4
static target_t s_targets[TARGETS];

static void s_targets_open (void)
{
    s_targets[0] = (target_t){"master client", s_cluster.master.client_port, false, true, NULL};
    s_targets[1] = (target_t){"master peer", s_cluster.peer_port, true, true, NULL};
    s_targets[2] =
        (target_t){"s1 client", s_cluster.secondaries[0].client_port, false, false, NULL};
    s_targets[3] =
        (target_t){"s2 client", s_cluster.secondaries[1].client_port, false, false, NULL};
    for (int t = 0; t < TARGETS; t++)
        s_targets[t].sock = s_dealer (s_targets[t].port, NULL, 0);
}

static void s_targets_close (void)
{
    for (int t = 0; t < TARGETS; t++)
        s_close (&s_targets[t].sock);
}

static void s_target_send (target_t *t, const void *data, size_t size)
{
    if (t->peer)
        s_send_peer (t->sock, data, size);
    else
        s_send_client (t->sock, data, size);
}

//  Send one frame and wait for its answer (every frame with a sound
//  envelope gets exactly one on these sockets; the peer DEALER is not a
//  secondary, so even ACK and FETCH are answered, with REFUSED).
static void s_call (target_t *t, const void *data, size_t size, reply_t *reply, const char *what)
{
    s_target_send (t, data, size);
    cr_assert (s_recv (t->sock, REPLY_MS, reply), "%s: no answer to %s (%zu bytes)", t->name, what,
               size);
    cr_assert_eq (reply->frames, t->peer ? 1 : 2, "%s: answer to %s has %d frames", t->name, what,
                  reply->frames);
}

static void s_expect_reply (target_t *t, const void *data, size_t size, int type, int code,
                            const char *what)
{
    reply_t r;
    s_call (t, data, size, &r, what);
    cr_assert (r.type == type && r.code == code, "%s: %s: answered %s %s (%s), expected %s %s",
               t->name, what, proto_type_name (r.type), rlog_strerror (r.code), r.text,
               proto_type_name (type), rlog_strerror (code));
    if (r.type == PROTO_APPEND_REPLY)
        cr_assert_eq (r.seq, 0, "%s: %s was appended at %llu", t->name, what,
                      (unsigned long long)r.seq);
}

//  The same error on every socket.
static void s_expect_everywhere (const void *data, size_t size, int code, const char *what)
{
    for (int t = 0; t < TARGETS; t++)
        s_expect_reply (&s_targets[t], data, size, PROTO_ERROR, code, what);
}

//  ==========================================================================
//  Valid frames of every type (encoded by src/proto.c), to cut and mutate

typedef struct {
    const char *name;
    int type;
    blob_t frame;
} template_t;

#define TEMPLATES 14
static template_t s_templates[TEMPLATES];

static const uint8_t s_cid[16] = "hostile-client-1";

static void s_template (int i, const char *name, int type)
{
    s_templates[i].name = name;
    s_templates[i].type = type;
    size_t size = proto_encoder_size (s_enc);
    s_templates[i].frame.data = (uint8_t *)malloc (size);
    memcpy (s_templates[i].frame.data, proto_encoder_data (s_enc), size);
    s_templates[i].frame.size = size;
}

static void s_templates_build (void)
{
    entry_t entries[2] = {{.epoch = 7,
                           .req_id = 1,
                           .client_id = s_cid,
                           .client_id_size = 16,
                           .data = (const uint8_t *)"one",
                           .size = 3},
                          {.epoch = 7,
                           .req_id = 2,
                           .client_id = s_cid,
                           .client_id_size = 16,
                           .data = (const uint8_t *)"two",
                           .size = 3}};
    //  w=9 is outside 1..3: even a mutation that still decodes is refused.
    cr_assert_eq (proto_encode_append (s_enc, s_cid, 16, 1, 9, 1000, "hostile", 7), 0);
    s_template (0, "APPEND", PROTO_APPEND);
    proto_encode_list (s_enc, 1, 2);
    s_template (1, "LIST", PROTO_LIST);
    proto_encode_status (s_enc);
    s_template (2, "STATUS", PROTO_STATUS);
    proto_encode_batch_begin (s_enc, PROTO_BATCH, 7, 1, 2);
    proto_encode_batch_entry (s_enc, &entries[0]);
    proto_encode_batch_entry (s_enc, &entries[1]);
    s_template (3, "BATCH", PROTO_BATCH);
    proto_encode_heartbeat (s_enc, 7, 3);
    s_template (4, "HEARTBEAT", PROTO_HEARTBEAT);
    proto_encode_hello (s_enc, "s1", 7, 3);
    s_template (5, "HELLO", PROTO_HELLO);
    proto_encode_ack (s_enc, 2);
    s_template (6, "ACK", PROTO_ACK);
    proto_encode_fetch (s_enc, 1, 5);
    s_template (7, "FETCH", PROTO_FETCH);
    proto_encode_welcome (s_enc, 7, 3, 0);
    s_template (8, "WELCOME", PROTO_WELCOME);
    proto_encode_batch_begin (s_enc, PROTO_FILL, 7, 1, 2);
    proto_encode_batch_entry (s_enc, &entries[0]);
    proto_encode_batch_entry (s_enc, &entries[1]);
    s_template (9, "FILL", PROTO_FILL);
    proto_encode_append_reply (s_enc, RLOG_OK, 4, 3, 3, "ok", 9);
    s_template (10, "APPEND_REPLY", PROTO_APPEND_REPLY);
    proto_encode_list_begin (s_enc, RLOG_OK, 3, 1, 2);
    proto_encode_list_entry (s_enc, "one", 3);
    proto_encode_list_entry (s_enc, "two", 3);
    s_template (11, "LIST_REPLY", PROTO_LIST_REPLY);
    rlog_status_t status;
    memset (&status, 0, sizeof status);
    snprintf (status.role, sizeof status.role, "master");
    snprintf (status.node_id, sizeof status.node_id, "master");
    snprintf (status.mode, sizeof status.mode, "read-write");
    status.head = 3;
    status.nodes = 3;
    status.secondary_count = 2;
    snprintf (status.secondaries[0].id, sizeof status.secondaries[0].id, "s1");
    snprintf (status.secondaries[0].state, sizeof status.secondaries[0].state, "healthy");
    snprintf (status.secondaries[1].id, sizeof status.secondaries[1].id, "s2");
    snprintf (status.secondaries[1].state, sizeof status.secondaries[1].state, "healthy");
    proto_encode_status_reply (s_enc, &status);
    s_template (12, "STATUS_REPLY", PROTO_STATUS_REPLY);
    proto_encode_error (s_enc, RLOG_MALFORMED, "x");
    s_template (13, "ERROR", PROTO_ERROR);
}

static void s_templates_free (void)
{
    for (int i = 0; i < TEMPLATES; i++)
        free (s_templates[i].frame.data);
    memset (s_templates, 0, sizeof s_templates);
}

//  What a complete, valid frame of TYPE gets on target T.
static void s_expected_for_valid (const target_t *t, int type, int *rtype, int *code)
{
    *rtype = PROTO_ERROR;
    *code = RLOG_UNKNOWN_TYPE;
    if (t->peer) {
        //  Not a secondary: HELLO with an id that is not its routing id,
        //  ACK and FETCH before any HELLO are refused.
        if (type == PROTO_HELLO || type == PROTO_ACK || type == PROTO_FETCH)
            *code = RLOG_REFUSED;
    } else if (type == PROTO_LIST) {
        *rtype = PROTO_LIST_REPLY;
        *code = RLOG_OK;
    } else if (type == PROTO_STATUS) {
        *rtype = PROTO_STATUS_REPLY;
        *code = RLOG_OK;
    } else if (type == PROTO_APPEND) {
        *rtype = t->master ? PROTO_APPEND_REPLY : PROTO_ERROR;
        *code = t->master ? RLOG_BAD_W : RLOG_NOT_MASTER;
    }
}

//  ==========================================================================
//  1. Random bytes: thousands of frames of random length (0 to 64 KiB on
//  every socket, up to --max-msg on the master's client socket, which takes
//  max-msg + 64 KiB), a third pure noise, a third shaped like msgpack
//  arrays with version 1 and a known type, a third valid frames with a few
//  bytes mutated. Every one must be answered with an error, a read-only
//  reply or a refused append; a mutated APPEND that happens to decode and
//  is stored counts as a legitimate append (the master acknowledged it).

#define RANDOM_FRAMES 2500

static bool s_send_blob (int port, bool peer, const uint8_t *body, size_t size, const char *who);

static size_t s_random_size (size_t i, size_t cap)
{
    if (i % 97 == 0)
        return 0;
    uint64_t r = s_rand () % 1000;
    if (r < 500)
        return 1 + s_rand () % 16;
    if (r < 800)
        return 17 + s_rand () % 496;
    if (r < 950)
        return 513 + s_rand () % 7680;
    if (r < 995 || cap <= 65536)
        return 8193 + s_rand () % (65536 - 8192);
    return r == 999 ? cap : 65537 + s_rand () % (cap - 65536);
}

static void s_random_frame (uint8_t *buf, size_t size)
{
    s_fill_random (buf, size);
    if (size == 0)
        return;
    switch (s_rand () % 3) {
    case 0:
        break;
    case 1:
        buf[0] = (uint8_t)(0x90 | (s_rand () % 16));
        if (size > 1 && s_rand () % 8)
            buf[1] = 1;
        if (size > 2)
            buf[2] = (uint8_t)s_templates[s_rand () % TEMPLATES].type;
        break;
    default: {
        const blob_t *t = &s_templates[s_rand () % TEMPLATES].frame;
        size_t n = size < t->size ? size : t->size;
        memcpy (buf, t->data, n);
        for (uint64_t k = 1 + s_rand () % 4; k > 0; k--)
            buf[s_rand () % n] = (uint8_t)s_rand ();
    }
    }
}

static void s_check_random_reply (const target_t *t, const reply_t *r, const uint8_t *frame,
                                  size_t size, size_t i)
{
    if (r->type == PROTO_ERROR) {
        bool ok = r->code == RLOG_MALFORMED || r->code == RLOG_BAD_VERSION ||
                  r->code == RLOG_UNKNOWN_TYPE || r->code == RLOG_TOO_LARGE ||
                  r->code == RLOG_EMPTY || (t->peer && r->code == RLOG_REFUSED) ||
                  (!t->master && r->code == RLOG_NOT_MASTER);
        cr_assert (ok, "%s: random frame %zu answered %s (%s)", t->name, i, rlog_strerror (r->code),
                   r->text);
        return;
    }
    cr_assert (!t->peer, "%s: random frame %zu answered with %s", t->name, i,
               proto_type_name (r->type));
    if (r->type == PROTO_LIST_REPLY || r->type == PROTO_STATUS_REPLY)
        return; //  it happened to be a valid read
    cr_assert (r->type == PROTO_APPEND_REPLY && t->master, "%s: random frame %zu answered with %s",
               t->name, i, proto_type_name (r->type));
    if (r->seq) {
        //  Decoded as a sound APPEND and stored: legitimate, as acknowledged.
        proto_decoder_t *dec = proto_decoder_new (DECODE_MAX);
        proto_msg_t msg;
        cr_assert_eq (proto_decode (dec, frame, size, &msg), RLOG_OK);
        s_expect_seq (r->seq, msg.data, msg.size, true);
        proto_decoder_destroy (&dec);
    }
}

Test (hostile, random_bytes, .timeout = 60.0)
{
    s_start ("", "");
    s_templates_build ();
    s_targets_open ();
    s_srand (0x5eed0001);
    uint8_t *buf = (uint8_t *)malloc (1 << 20);
    int errors[RLOG_ERR_MAX] = {0}, others = 0;
    int64_t start = zclock_mono ();
    for (int t = 0; t < TARGETS; t++) {
        target_t *target = &s_targets[t];
        //  The largest frame the socket takes without dropping the connection.
        size_t cap = target->master && !target->peer ? (1 << 20) : 65536;
        for (size_t i = 0; i < RANDOM_FRAMES; i++) {
            size_t size = s_random_size (i, cap);
            s_random_frame (buf, size);
            reply_t r;
            s_call (target, buf, size, &r, "a random frame");
            s_check_random_reply (target, &r, buf, size, i);
            if (r.type == PROTO_ERROR && r.code < RLOG_ERR_MAX)
                errors[r.code]++;
            else
                others++;
        }
        cr_log_info ("%s: %d random frames: MALFORMED %d, BAD_VERSION %d, UNKNOWN_TYPE %d, "
                     "REFUSED %d, NOT_MASTER %d, TOO_LARGE %d, EMPTY %d, other replies %d",
                     target->name, RANDOM_FRAMES, errors[RLOG_MALFORMED], errors[RLOG_BAD_VERSION],
                     errors[RLOG_UNKNOWN_TYPE], errors[RLOG_REFUSED], errors[RLOG_NOT_MASTER],
                     errors[RLOG_TOO_LARGE], errors[RLOG_EMPTY], others);
        memset (errors, 0, sizeof errors);
        others = 0;
    }
    //  Random frames above 64 KiB on the sockets that take at most that:
    //  libzmq drops the connection (a secondary's client socket should take
    //  max-msg + 64 KiB by PROTOCOL.md; either outcome is accepted here).
    for (int t = 1; t < TARGETS; t++)
        for (int k = 0; k < 3; k++) {
            size_t size = 65537 + s_rand () % (300000 - 65536);
            s_fill_random (buf, size);
            s_send_blob (s_targets[t].port, s_targets[t].peer, buf, size, s_targets[t].name);
        }
    //  Protocol errors are logged at most once a second per node.
    int64_t seconds = (zclock_mono () - start) / 1000 + 2;
    size_t lines = s_count_in_file (s_cluster.master.log_path, "bad request") +
                   s_count_in_file (s_cluster.master.log_path, "bad frame");
    cr_assert_leq (lines, (size_t)seconds, "master logged %zu bad-input lines in %lld s", lines,
                   (long long)seconds);
    for (int n = 1; n < 3; n++) {
        lines = s_count_in_file (s_node (n)->log_path, "bad request");
        cr_assert_leq (lines, (size_t)seconds, "%s logged %zu bad-input lines in %lld s",
                       s_node (n)->id, lines, (long long)seconds);
    }
    free (buf);
    s_targets_close ();
    s_templates_free ();
    s_survived ();
}

//  ==========================================================================
//  2. Truncated msgpack: every proper prefix (0 .. size-1 bytes) of a valid
//  frame of each of the 14 message types is MALFORMED on every socket; the
//  whole frame gets what that type gets on that socket (a read, or
//  UNKNOWN_TYPE for a type the socket does not take, or REFUSED for a peer
//  message from a DEALER that is not a secondary).

Test (hostile, truncated_msgpack)
{
    s_start ("", "");
    s_templates_build ();
    s_targets_open ();
    for (int k = 0; k < TEMPLATES; k++) {
        const template_t *tp = &s_templates[k];
        for (int t = 0; t < TARGETS; t++) {
            for (size_t cut = 0; cut < tp->frame.size; cut++) {
                char what[64];
                snprintf (what, sizeof what, "%s cut to %zu of %zu bytes", tp->name, cut,
                          tp->frame.size);
                s_expect_reply (&s_targets[t], tp->frame.data, cut, PROTO_ERROR, RLOG_MALFORMED,
                                what);
            }
            int type, code;
            s_expected_for_valid (&s_targets[t], tp->type, &type, &code);
            char what[64];
            snprintf (what, sizeof what, "a whole %s", tp->name);
            s_expect_reply (&s_targets[t], tp->frame.data, tp->frame.size, type, code, what);
        }
    }
    s_targets_close ();
    s_templates_free ();
    s_survived ();
}

//  ==========================================================================
//  3. Huge declared lengths: arrays, maps, strs, bins and exts that claim
//  up to 4 GiB at the top level and in the fields of real message types,
//  deep nesting, and element counts that do fit the frame but are absurd
//  (a million nils). Nothing may allocate by the declared length; every one
//  is MALFORMED.

typedef struct {
    const char *what;
    const uint8_t *bytes;
    size_t size;
} raw_t;

#define RAW(what, ...)                                                                             \
    {                                                                                              \
        what, (const uint8_t[]){__VA_ARGS__}, sizeof ((const uint8_t[]){__VA_ARGS__})              \
    }

static const raw_t s_huge[] = {
    RAW ("array32 of 4G", 0xdd, 0xff, 0xff, 0xff, 0xff),
    RAW ("array32 of 4G then bytes", 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01, 0xc0),
    RAW ("array16 of 65535", 0xdc, 0xff, 0xff, 0x01, 0x01),
    RAW ("map32 of 4G", 0xdf, 0xff, 0xff, 0xff, 0xff),
    RAW ("map16 of 65535", 0xde, 0xff, 0xff, 0xa1, 0x61, 0x01),
    RAW ("fixmap of 15 pairs, 1 given", 0x8f, 0xa1, 0x61, 0x01),
    RAW ("str32 of 4G", 0xdb, 0xff, 0xff, 0xff, 0xff, 0x61),
    RAW ("str16 of 65535", 0xda, 0xff, 0xff, 0x61),
    RAW ("str8 of 255", 0xd9, 0xff, 0x61),
    RAW ("bin32 of 4G", 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00),
    RAW ("bin16 of 65535", 0xc5, 0xff, 0xff, 0x00),
    RAW ("bin8 of 255", 0xc4, 0xff, 0x00),
    RAW ("ext32 of 4G", 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00),
    RAW ("ext16 of 65535", 0xc8, 0xff, 0xff, 0x01),
    RAW ("ext8 of 255", 0xc7, 0xff, 0x01),
    RAW ("fixext16 cut", 0xd8, 0x01, 0x00),
    RAW ("APPEND: client_id bin32 of 4G", 0x97, 0x01, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x01,
         0x01, 0x00, 0xc4, 0x01, 0x61),
    RAW ("APPEND: payload bin32 of 2G", 0x97, 0x01, 0x01, 0xc4, 0x00, 0x01, 0x01, 0x00, 0xc6, 0x7f,
         0xff, 0xff, 0xff, 0x61, 0x62, 0x63),
    RAW ("APPEND: payload str32 of 4G", 0x97, 0x01, 0x01, 0xc4, 0x00, 0x01, 0x01, 0x00, 0xdb, 0xff,
         0xff, 0xff, 0xff, 0x61),
    RAW ("APPEND: req_id array32 of 4G", 0x97, 0x01, 0x01, 0xc4, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xff,
         0x01, 0x00, 0xc4, 0x01, 0x61),
    RAW ("APPEND: w map32 of 4G", 0x97, 0x01, 0x01, 0xc4, 0x00, 0x01, 0xdf, 0xff, 0xff, 0xff, 0xff,
         0x00, 0xc4, 0x01, 0x61),
    RAW ("APPEND header, 7 declared, 2 given", 0x97, 0x01, 0x01),
    RAW ("array32 APPEND header of 4G elements", 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01),
    RAW ("HELLO: node_id str32 of 4G", 0x95, 0x01, 0x14, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x73, 0x00,
         0x00),
    RAW ("ACK: acked ext32 of 4G", 0x93, 0x01, 0x15, 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01),
    RAW ("FETCH: count map16 of 65535", 0x94, 0x01, 0x16, 0x01, 0xde, 0xff, 0xff),
    RAW ("BATCH: entries array32 of 4G", 0x95, 0x01, 0x0a, 0x07, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff,
         0x94, 0x07, 0xc4, 0x00, 0x01, 0xc4, 0x01, 0x61),
    RAW ("FILL: entry array32 of 4G", 0x95, 0x01, 0x1f, 0x07, 0x01, 0x91, 0xdd, 0xff, 0xff, 0xff,
         0xff, 0x07),
    RAW ("FILL: entry payload bin32 of 4G", 0x95, 0x01, 0x1f, 0x07, 0x01, 0x91, 0x94, 0x07, 0xc4,
         0x00, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x61),
    RAW ("LIST_REPLY: payloads array32 of 4G", 0x96, 0x01, 0x29, 0x00, 0x03, 0x01, 0xdd, 0xff, 0xff,
         0xff, 0xff, 0xc4, 0x01, 0x61),
    RAW ("STATUS_REPLY: status map32 of 4G", 0x94, 0x01, 0x2a, 0x00, 0xdf, 0xff, 0xff, 0xff, 0xff,
         0xa4, 0x72, 0x6f, 0x6c, 0x65),
    RAW ("STATUS_REPLY: secondaries array32 of 4G", 0x94, 0x01, 0x2a, 0x00, 0x81, 0xab, 's', 'e',
         'c', 'o', 'n', 'd', 'a', 'r', 'i', 'e', 's', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x80),
    RAW ("ERROR: text str32 of 4G", 0x94, 0x01, 0x31, 0x08, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x61),
    RAW ("nested 8 deep (the limit) with a wrong field", 0x93, 0x01, 0x15, 0x91, 0x91, 0x91, 0x91,
         0x91, 0x91, 0x91, 0x01),
    RAW ("nested 9 deep", 0x93, 0x01, 0x15, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x01),
    RAW ("map key nested 9 deep", 0x93, 0x01, 0x15, 0x81, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91,
         0x91, 0x01, 0xc0),
    RAW ("trailing bytes after a STATUS", 0x92, 0x01, 0x03, 0x00),
    RAW ("two STATUS frames in one", 0x92, 0x01, 0x03, 0x92, 0x01, 0x03),
    RAW ("the never-used byte 0xc1", 0x92, 0x01, 0xc1),
};

//  An array of COUNT nils, declared with HEADER (array16 or array32).
static blob_t s_nils (size_t count)
{
    blob_t b;
    b.size = 5 + count;
    b.data = (uint8_t *)malloc (b.size);
    b.data[0] = 0xdd;
    b.data[1] = (uint8_t)(count >> 24);
    b.data[2] = (uint8_t)(count >> 16);
    b.data[3] = (uint8_t)(count >> 8);
    b.data[4] = (uint8_t)count;
    memset (b.data + 5, 0xc0, count);
    return b;
}

//  COUNT nested one-element arrays around a 1.
static blob_t s_nested (size_t count)
{
    blob_t b;
    b.size = count + 1;
    b.data = (uint8_t *)malloc (b.size);
    memset (b.data, 0x91, count);
    b.data[count] = 0x01;
    return b;
}

Test (hostile, huge_declared_lengths)
{
    s_start ("", "");
    s_targets_open ();
    for (size_t i = 0; i < sizeof s_huge / sizeof s_huge[0]; i++)
        s_expect_everywhere (s_huge[i].bytes, s_huge[i].size, RLOG_MALFORMED, s_huge[i].what);
    //  Counts that do fit the bytes: every element is there, but absurd.
    //  65,000 nils fit any socket; a million (about 1 MB) only the master's
    //  client socket, where msgpack-c builds 24 MB of objects per frame.
    blob_t nils = s_nils (65000);
    s_expect_everywhere (nils.data, nils.size, RLOG_MALFORMED, "an array of 65,000 nils");
    free (nils.data);
    nils = s_nils (1000000);
    for (int k = 0; k < 8; k++)
        s_expect_reply (&s_targets[0], nils.data, nils.size, PROTO_ERROR, RLOG_MALFORMED,
                        "an array of 1,000,000 nils");
    free (nils.data);
    //  Deep nesting, past msgpack-c's own stack (32) and far beyond.
    size_t depths[] = {9, 33, 1000, 60000};
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        blob_t deep = s_nested (depths[i]);
        char what[64];
        snprintf (what, sizeof what, "arrays nested %zu deep", depths[i]);
        s_expect_everywhere (deep.data, deep.size, RLOG_MALFORMED, what);
        free (deep.data);
    }
    s_targets_close ();
    s_survived ();
}

//  ==========================================================================
//  4. Wrong types in every field of every message type, wrong element
//  counts, and values of the right type that are out of range. The
//  decoder checks fields before it looks at the socket, so everything here
//  is MALFORMED everywhere, except the APPEND payload size refusals, which
//  the master answers with an APPEND_REPLY (seq 0) and the others with an
//  ERROR of the same code.

typedef enum { K_UINT, K_CID, K_PAYLOAD, K_NODE_ID, K_TEXT, K_ENTRIES, K_PAYLOADS, K_MAP } kind_t;

typedef struct {
    int type;
    const char *name;
    int fields;
    kind_t kinds[8];
} spec_t;

static const spec_t s_specs[] = {
    {PROTO_APPEND, "APPEND", 7, {K_UINT, K_UINT, K_CID, K_UINT, K_UINT, K_UINT, K_PAYLOAD}},
    {PROTO_LIST, "LIST", 4, {K_UINT, K_UINT, K_UINT, K_UINT}},
    {PROTO_STATUS, "STATUS", 2, {K_UINT, K_UINT}},
    {PROTO_BATCH, "BATCH", 5, {K_UINT, K_UINT, K_UINT, K_UINT, K_ENTRIES}},
    {PROTO_HEARTBEAT, "HEARTBEAT", 4, {K_UINT, K_UINT, K_UINT, K_UINT}},
    {PROTO_HELLO, "HELLO", 5, {K_UINT, K_UINT, K_NODE_ID, K_UINT, K_UINT}},
    {PROTO_ACK, "ACK", 3, {K_UINT, K_UINT, K_UINT}},
    {PROTO_FETCH, "FETCH", 4, {K_UINT, K_UINT, K_UINT, K_UINT}},
    {PROTO_WELCOME, "WELCOME", 5, {K_UINT, K_UINT, K_UINT, K_UINT, K_UINT}},
    {PROTO_FILL, "FILL", 5, {K_UINT, K_UINT, K_UINT, K_UINT, K_ENTRIES}},
    {PROTO_APPEND_REPLY,
     "APPEND_REPLY",
     8,
     {K_UINT, K_UINT, K_UINT, K_UINT, K_UINT, K_UINT, K_TEXT, K_UINT}},
    {PROTO_LIST_REPLY, "LIST_REPLY", 6, {K_UINT, K_UINT, K_UINT, K_UINT, K_UINT, K_PAYLOADS}},
    {PROTO_STATUS_REPLY, "STATUS_REPLY", 4, {K_UINT, K_UINT, K_UINT, K_MAP}},
    {PROTO_ERROR, "ERROR", 4, {K_UINT, K_UINT, K_UINT, K_TEXT}},
};

typedef enum {
    V_NIL,
    V_TRUE,
    V_FALSE,
    V_NEG,
    V_INT64_MIN,
    V_FLOAT,
    V_DOUBLE,
    V_STR,
    V_STR8,
    V_BIN,
    V_ARRAY0,
    V_ARRAY1,
    V_MAP0,
    V_MAP1,
    V_FIXEXT,
    V_EXT8,
    V_UINT,
    V_UINT_MAX,
    V_COUNT
} value_t;

static const char *s_value_names[V_COUNT] = {
    "nil",   "true", "false", "-1", "INT64_MIN", "a float",  "a double", "a str", "an str8",
    "a bin", "[]",   "[1]",   "{}", "{a: 1}",    "a fixext", "an ext8",  "7",     "UINT64_MAX"};

//  Is value V of the right type for a field of KIND (then it is skipped)?
static bool s_fits (kind_t kind, value_t v)
{
    switch (kind) {
    case K_UINT:
        return v == V_UINT || v == V_UINT_MAX;
    case K_CID:
    case K_PAYLOAD:
        return v == V_BIN;
    case K_NODE_ID:
    case K_TEXT:
        return v == V_STR || v == V_STR8;
    case K_ENTRIES:
    case K_PAYLOADS:
        return v == V_ARRAY0 || v == V_ARRAY1;
    case K_MAP:
        return v == V_MAP0 || v == V_MAP1;
    }
    return false;
}

static void s_pack_value (msgpack_packer *pk, value_t v)
{
    static const char str8[40] = "0123456789012345678901234567890123456789";
    switch (v) {
    case V_NIL:
        msgpack_pack_nil (pk);
        break;
    case V_TRUE:
        msgpack_pack_true (pk);
        break;
    case V_FALSE:
        msgpack_pack_false (pk);
        break;
    case V_NEG:
        msgpack_pack_int64 (pk, -1);
        break;
    case V_INT64_MIN:
        msgpack_pack_int64 (pk, INT64_MIN);
        break;
    case V_FLOAT:
        msgpack_pack_float (pk, 1.5f);
        break;
    case V_DOUBLE:
        msgpack_pack_double (pk, 2.5);
        break;
    case V_STR:
        msgpack_pack_str_with_body (pk, "x", 1);
        break;
    case V_STR8:
        msgpack_pack_str_with_body (pk, str8, sizeof str8);
        break;
    case V_BIN:
        msgpack_pack_bin_with_body (pk, "x", 1);
        break;
    case V_ARRAY0:
        msgpack_pack_array (pk, 0);
        break;
    case V_ARRAY1:
        msgpack_pack_array (pk, 1);
        msgpack_pack_uint64 (pk, 1);
        break;
    case V_MAP0:
        msgpack_pack_map (pk, 0);
        break;
    case V_MAP1:
        msgpack_pack_map (pk, 1);
        msgpack_pack_str_with_body (pk, "a", 1);
        msgpack_pack_uint64 (pk, 1);
        break;
    case V_FIXEXT:
        msgpack_pack_ext_with_body (pk, "x", 1, 1);
        break;
    case V_EXT8:
        msgpack_pack_ext_with_body (pk, str8, sizeof str8, 2);
        break;
    case V_UINT:
        msgpack_pack_uint64 (pk, 7);
        break;
    case V_UINT_MAX:
        msgpack_pack_uint64 (pk, UINT64_MAX);
        break;
    case V_COUNT:
        break;
    }
}

//  A valid entry [epoch, client_id, req_id, payload]; field BAD (0..3) gets
//  value V instead, if BAD >= 0.
static void s_pack_entry (msgpack_packer *pk, int bad, value_t v)
{
    msgpack_pack_array (pk, 4);
    kind_t kinds[4] = {K_UINT, K_CID, K_UINT, K_PAYLOAD};
    for (int i = 0; i < 4; i++) {
        if (i == bad)
            s_pack_value (pk, v);
        else if (kinds[i] == K_UINT)
            msgpack_pack_uint64 (pk, 7);
        else if (kinds[i] == K_CID)
            msgpack_pack_bin_with_body (pk, s_cid, sizeof s_cid);
        else
            msgpack_pack_bin_with_body (pk, "entry", 5);
    }
}

//  The valid value of field I of SPEC.
static void s_pack_field (msgpack_packer *pk, const spec_t *spec, int i)
{
    if (i == 0) {
        msgpack_pack_uint64 (pk, 1);
        return;
    }
    if (i == 1) {
        msgpack_pack_uint64 (pk, (uint64_t)spec->type);
        return;
    }
    switch (spec->kinds[i]) {
    case K_UINT:
        //  APPEND: req_id 1, w 1, timeout 1 (never reached: something is wrong)
        msgpack_pack_uint64 (pk, 1);
        break;
    case K_CID:
        msgpack_pack_bin_with_body (pk, s_cid, sizeof s_cid);
        break;
    case K_PAYLOAD:
        msgpack_pack_bin_with_body (pk, "payload", 7);
        break;
    case K_NODE_ID:
        msgpack_pack_str_with_body (pk, "s1", 2);
        break;
    case K_TEXT:
        msgpack_pack_str_with_body (pk, "text", 4);
        break;
    case K_ENTRIES:
        msgpack_pack_array (pk, 1);
        s_pack_entry (pk, -1, V_NIL);
        break;
    case K_PAYLOADS:
        msgpack_pack_array (pk, 1);
        msgpack_pack_bin_with_body (pk, "p", 1);
        break;
    case K_MAP:
        msgpack_pack_map (pk, 1);
        msgpack_pack_str_with_body (pk, "head", 4);
        msgpack_pack_uint64 (pk, 3);
        break;
    }
}

typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} mp_t;

static void s_mp_begin (mp_t *mp)
{
    msgpack_sbuffer_clear (&mp->sbuf);
}

//  Start a frame: an array of COUNT elements, version 1, TYPE.
static void s_mp_head (mp_t *mp, size_t count, uint64_t type)
{
    s_mp_begin (mp);
    msgpack_pack_array (&mp->pk, count);
    msgpack_pack_uint64 (&mp->pk, 1);
    msgpack_pack_uint64 (&mp->pk, type);
}

//  SPEC with field BAD replaced by value V (BAD < 0: none), and COUNT
//  top-level elements (fields beyond the spec are nils).
static void s_build (mp_t *mp, const spec_t *spec, int bad, value_t v, int count)
{
    s_mp_begin (mp);
    msgpack_pack_array (&mp->pk, (size_t)count);
    for (int i = 0; i < count; i++) {
        if (i == bad)
            s_pack_value (&mp->pk, v);
        else if (i < spec->fields)
            s_pack_field (&mp->pk, spec, i);
        else
            msgpack_pack_nil (&mp->pk);
    }
}

//  A status map {KEY: V} as the last field of a STATUS_REPLY.
static void s_build_status (mp_t *mp, const char *key, value_t v)
{
    s_mp_head (mp, 4, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (&mp->pk, 0);
    msgpack_pack_map (&mp->pk, 1);
    msgpack_pack_str_with_body (&mp->pk, key, strlen (key));
    s_pack_value (&mp->pk, v);
}

static void s_expect_mp (mp_t *mp, int code, const char *what)
{
    s_expect_everywhere (mp->sbuf.data, mp->sbuf.size, code, what);
}

Test (hostile, wrong_types_in_every_field)
{
    //  --max-msg 2048 on every node: a too large payload stays a small frame.
    s_start ("--max-msg 2048", "--max-msg 2048");
    s_targets_open ();
    mp_t mp;
    msgpack_sbuffer_init (&mp.sbuf);
    msgpack_packer_init (&mp.pk, &mp.sbuf, msgpack_sbuffer_write);
    char what[160];
    size_t sent = 0;
    for (size_t s = 0; s < sizeof s_specs / sizeof s_specs[0]; s++) {
        const spec_t *spec = &s_specs[s];
        //  Every field, every value of another type.
        for (int f = 0; f < spec->fields; f++)
            for (int v = 0; v < V_COUNT; v++) {
                kind_t kind = f < 2 ? K_UINT : spec->kinds[f];
                if (s_fits (kind, (value_t)v))
                    continue;
                s_build (&mp, spec, f, (value_t)v, spec->fields);
                snprintf (what, sizeof what, "%s with field %d = %s", spec->name, f,
                          s_value_names[v]);
                s_expect_mp (&mp, RLOG_MALFORMED, what);
                sent++;
            }
        //  One element missing, one too many, none at all.
        s_build (&mp, spec, -1, V_NIL, spec->fields - 1);
        snprintf (what, sizeof what, "%s without its last field", spec->name);
        s_expect_mp (&mp, RLOG_MALFORMED, what);
        s_build (&mp, spec, -1, V_NIL, spec->fields + 1);
        snprintf (what, sizeof what, "%s with a trailing nil field", spec->name);
        s_expect_mp (&mp, RLOG_MALFORMED, what);
        //  The same list, as a map instead of an array.
        s_mp_begin (&mp);
        msgpack_pack_map (&mp.pk, 1);
        msgpack_pack_uint64 (&mp.pk, 1);
        msgpack_pack_uint64 (&mp.pk, (uint64_t)spec->type);
        snprintf (what, sizeof what, "%s as a map", spec->name);
        s_expect_mp (&mp, RLOG_MALFORMED, what);
    }
    s_build (&mp, &s_specs[2], -1, V_NIL, 0);
    s_expect_mp (&mp, RLOG_MALFORMED, "an empty array");
    s_build (&mp, &s_specs[2], -1, V_NIL, 1);
    s_expect_mp (&mp, RLOG_MALFORMED, "[1]");

    //  Inside BATCH / FILL entries: every field of an entry, wrong.
    for (int type = 0; type < 2; type++)
        for (int f = 0; f < 4; f++)
            for (int v = 0; v < V_COUNT; v++) {
                kind_t kinds[4] = {K_UINT, K_CID, K_UINT, K_PAYLOAD};
                if (s_fits (kinds[f], (value_t)v))
                    continue;
                s_mp_head (&mp, 5, type ? PROTO_FILL : PROTO_BATCH);
                msgpack_pack_uint64 (&mp.pk, 7);
                msgpack_pack_uint64 (&mp.pk, 1);
                msgpack_pack_array (&mp.pk, 2);
                s_pack_entry (&mp.pk, -1, V_NIL);
                s_pack_entry (&mp.pk, f, (value_t)v);
                snprintf (what, sizeof what, "%s entry 2 field %d = %s", type ? "FILL" : "BATCH", f,
                          s_value_names[v]);
                s_expect_mp (&mp, RLOG_MALFORMED, what);
            }
    //  Entries that are not 4-element arrays.
    for (int v = 0; v < V_COUNT; v++) {
        s_mp_head (&mp, 5, PROTO_BATCH);
        msgpack_pack_uint64 (&mp.pk, 7);
        msgpack_pack_uint64 (&mp.pk, 1);
        msgpack_pack_array (&mp.pk, 1);
        s_pack_value (&mp.pk, (value_t)v);
        snprintf (what, sizeof what, "BATCH with entry %s", s_value_names[v]);
        s_expect_mp (&mp, RLOG_MALFORMED, what);
    }
    //  LIST_REPLY payloads that are not bins.
    for (int v = 0; v < V_COUNT; v++) {
        if (v == V_BIN)
            continue;
        s_mp_head (&mp, 6, PROTO_LIST_REPLY);
        msgpack_pack_uint64 (&mp.pk, 0);
        msgpack_pack_uint64 (&mp.pk, 3);
        msgpack_pack_uint64 (&mp.pk, 1);
        msgpack_pack_array (&mp.pk, 2);
        msgpack_pack_bin_with_body (&mp.pk, "p", 1);
        s_pack_value (&mp.pk, (value_t)v);
        snprintf (what, sizeof what, "LIST_REPLY with payload %s", s_value_names[v]);
        s_expect_mp (&mp, RLOG_MALFORMED, what);
    }
    //  STATUS_REPLY: known keys with values of the wrong type.
    const char *str_keys[] = {"role", "node_id", "mode", "reason", "master"};
    const char *uint_keys[] = {"epoch",   "head",        "nodes",     "healthy",   "quorum",
                               "waiting", "master_head", "held_back", "duplicates"};
    for (int v = 0; v < V_COUNT; v++) {
        for (size_t k = 0; k < sizeof str_keys / sizeof str_keys[0]; k++) {
            if (v == V_STR ||
                (v == V_STR8 && !streq (str_keys[k], "role") && !streq (str_keys[k], "mode")))
                continue; //  right type (a 40-byte role or mode is too long: still bad)
            s_build_status (&mp, str_keys[k], (value_t)v);
            snprintf (what, sizeof what, "STATUS_REPLY {%s: %s}", str_keys[k], s_value_names[v]);
            s_expect_mp (&mp, RLOG_MALFORMED, what);
        }
        for (size_t k = 0; k < sizeof uint_keys / sizeof uint_keys[0]; k++) {
            if (v == V_UINT ||
                (v == V_UINT_MAX &&
                 (streq (uint_keys[k], "epoch") || streq (uint_keys[k], "head") ||
                  streq (uint_keys[k], "master_head") || streq (uint_keys[k], "held_back") ||
                  streq (uint_keys[k], "duplicates"))))
                continue; //  right type (UINT64_MAX overflows the 32-bit ones)
            s_build_status (&mp, uint_keys[k], (value_t)v);
            snprintf (what, sizeof what, "STATUS_REPLY {%s: %s}", uint_keys[k], s_value_names[v]);
            s_expect_mp (&mp, RLOG_MALFORMED, what);
        }
        if (v != V_TRUE && v != V_FALSE) {
            s_build_status (&mp, "master_reachable", (value_t)v);
            s_expect_mp (&mp, RLOG_MALFORMED, "STATUS_REPLY {master_reachable: not a bool}");
        }
        if (v != V_UINT && v != V_NEG && v != V_INT64_MIN) {
            s_build_status (&mp, "master_last_heard_ms", (value_t)v);
            snprintf (what, sizeof what, "STATUS_REPLY {master_last_heard_ms: %s}",
                      s_value_names[v]);
            s_expect_mp (&mp, RLOG_MALFORMED, what);
        }
        if (v != V_ARRAY0) {
            s_build_status (&mp, "secondaries", (value_t)v);
            snprintf (what, sizeof what, "STATUS_REPLY {secondaries: %s}", s_value_names[v]);
            s_expect_mp (&mp, RLOG_MALFORMED, what);
        }
    }
    //  A status map with a non-string key, and 33 secondaries (32 at most).
    s_mp_head (&mp, 4, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (&mp.pk, 0);
    msgpack_pack_map (&mp.pk, 1);
    msgpack_pack_uint64 (&mp.pk, 1);
    msgpack_pack_uint64 (&mp.pk, 1);
    s_expect_mp (&mp, RLOG_MALFORMED, "STATUS_REPLY with a uint key");
    s_mp_head (&mp, 4, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (&mp.pk, 0);
    msgpack_pack_map (&mp.pk, 1);
    msgpack_pack_str_with_body (&mp.pk, "secondaries", 11);
    msgpack_pack_array (&mp.pk, 33);
    for (int i = 0; i < 33; i++)
        msgpack_pack_map (&mp.pk, 0);
    s_expect_mp (&mp, RLOG_MALFORMED, "STATUS_REPLY with 33 secondaries");
    s_mp_head (&mp, 4, PROTO_STATUS_REPLY);
    msgpack_pack_uint64 (&mp.pk, 0);
    msgpack_pack_map (&mp.pk, 1);
    msgpack_pack_str_with_body (&mp.pk, "secondaries", 11);
    msgpack_pack_array (&mp.pk, 1);
    msgpack_pack_map (&mp.pk, 1);
    msgpack_pack_str_with_body (&mp.pk, "acked", 5);
    msgpack_pack_str_with_body (&mp.pk, "x", 1);
    s_expect_mp (&mp, RLOG_MALFORMED, "STATUS_REPLY with a secondary {acked: \"x\"}");

    //  The right types with values out of range.
    uint8_t big[3000];
    memset (big, 'b', sizeof big);
    uint8_t cid65[65];
    memset (cid65, 'c', sizeof cid65);
    s_mp_head (&mp, 7, PROTO_APPEND);
    msgpack_pack_bin_with_body (&mp.pk, cid65, sizeof cid65);
    msgpack_pack_uint64 (&mp.pk, 1);
    msgpack_pack_uint64 (&mp.pk, 1);
    msgpack_pack_uint64 (&mp.pk, 0);
    msgpack_pack_bin_with_body (&mp.pk, "x", 1);
    s_expect_mp (&mp, RLOG_MALFORMED, "APPEND with a 65-byte client id");
    const char *bad_ids[] = {"",
                             "0123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < 2; i++) {
        s_mp_head (&mp, 5, PROTO_HELLO);
        msgpack_pack_str_with_body (&mp.pk, bad_ids[i], strlen (bad_ids[i]));
        msgpack_pack_uint64 (&mp.pk, 0);
        msgpack_pack_uint64 (&mp.pk, 0);
        snprintf (what, sizeof what, "HELLO with a %zu-byte node id", strlen (bad_ids[i]));
        s_expect_mp (&mp, RLOG_MALFORMED, what);
    }
    s_mp_head (&mp, 5, PROTO_HELLO);
    msgpack_pack_str_with_body (&mp.pk, "s1\0x", 4);
    msgpack_pack_uint64 (&mp.pk, 0);
    msgpack_pack_uint64 (&mp.pk, 0);
    s_expect_mp (&mp, RLOG_MALFORMED, "HELLO with a NUL in the node id");
    s_mp_head (&mp, 4, PROTO_ERROR);
    msgpack_pack_uint64 (&mp.pk, 8);
    msgpack_pack_str_with_body (&mp.pk, big, 256);
    s_expect_mp (&mp, RLOG_MALFORMED, "ERROR with a 256-byte text");
    s_mp_head (&mp, 5, PROTO_BATCH);
    msgpack_pack_uint64 (&mp.pk, 7);
    msgpack_pack_uint64 (&mp.pk, 1);
    msgpack_pack_array (&mp.pk, 0);
    s_expect_mp (&mp, RLOG_MALFORMED, "BATCH without entries");
    s_mp_head (&mp, 5, PROTO_FILL);
    msgpack_pack_uint64 (&mp.pk, 7);
    msgpack_pack_uint64 (&mp.pk, UINT64_MAX);
    msgpack_pack_array (&mp.pk, 2);
    s_pack_entry (&mp.pk, -1, V_NIL);
    s_pack_entry (&mp.pk, -1, V_NIL);
    s_expect_mp (&mp, RLOG_MALFORMED, "FILL whose seqs wrap around");
    s_mp_head (&mp, 5, PROTO_BATCH);
    msgpack_pack_uint64 (&mp.pk, 7);
    msgpack_pack_uint64 (&mp.pk, 1);
    msgpack_pack_array (&mp.pk, 1);
    msgpack_pack_array (&mp.pk, 4);
    msgpack_pack_uint64 (&mp.pk, 7);
    msgpack_pack_bin_with_body (&mp.pk, s_cid, 16);
    msgpack_pack_uint64 (&mp.pk, 1);
    msgpack_pack_bin_with_body (&mp.pk, "", 0);
    s_expect_mp (&mp, RLOG_MALFORMED, "BATCH with an empty payload");
    s_mp_head (&mp, 6, PROTO_LIST_REPLY);
    msgpack_pack_uint64 (&mp.pk, 0);
    msgpack_pack_uint64 (&mp.pk, 3);
    msgpack_pack_uint64 (&mp.pk, UINT64_MAX);
    msgpack_pack_array (&mp.pk, 2);
    msgpack_pack_bin_with_body (&mp.pk, "p", 1);
    msgpack_pack_bin_with_body (&mp.pk, "q", 1);
    s_expect_mp (&mp, RLOG_MALFORMED, "LIST_REPLY whose seqs wrap around");

    //  APPEND payloads refused for their size: the master answers with an
    //  APPEND_REPLY naming the request, everyone else with an ERROR.
    struct {
        const void *data;
        size_t size;
        int code;
        const char *what;
    } sized[] = {{"", 0, RLOG_EMPTY, "APPEND with an empty payload"},
                 {big, 2049, RLOG_TOO_LARGE, "APPEND of 2049 bytes (--max-msg 2048)"},
                 {big, sizeof big, RLOG_TOO_LARGE, "APPEND of 3000 bytes (--max-msg 2048)"}};
    for (size_t i = 0; i < sizeof sized / sizeof sized[0]; i++) {
        proto_encode_append (s_enc, s_cid, 16, 100 + i, 1, 0, sized[i].data, sized[i].size);
        for (int t = 0; t < TARGETS; t++) {
            target_t *target = &s_targets[t];
            bool master_client = target->master && !target->peer;
            reply_t r;
            s_call (target, proto_encoder_data (s_enc), proto_encoder_size (s_enc), &r,
                    sized[i].what);
            cr_assert_eq (r.type, master_client ? PROTO_APPEND_REPLY : PROTO_ERROR,
                          "%s: %s answered %s", target->name, sized[i].what,
                          proto_type_name (r.type));
            cr_assert_eq (r.code, sized[i].code, "%s: %s answered %s", target->name, sized[i].what,
                          rlog_strerror (r.code));
            if (master_client) {
                cr_assert_eq (r.seq, 0);
                cr_assert_eq (r.req_id, 100 + i, "the refusal names request %llu",
                              (unsigned long long)r.req_id);
            }
        }
    }
    cr_assert_gt (sent, 500);
    msgpack_sbuffer_destroy (&mp.sbuf);
    s_targets_close ();
    s_survived ();
}

//  ==========================================================================
//  5. Unknown versions and message types: a version other than 1 is
//  BAD_VERSION whatever follows; an unknown type is UNKNOWN_TYPE; a known
//  type on the wrong socket is UNKNOWN_TYPE too (covered by the whole
//  frames in truncated_msgpack).

Test (hostile, unknown_versions_and_types)
{
    s_start ("", "");
    s_targets_open ();
    mp_t mp;
    msgpack_sbuffer_init (&mp.sbuf);
    msgpack_packer_init (&mp.pk, &mp.sbuf, msgpack_sbuffer_write);
    char what[128];
    uint64_t versions[] = {0, 2, 3, 127, 128, 255, 256, 65535, 65536, 1ULL << 32, UINT64_MAX};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        //  A sound STATUS, a sound APPEND, and garbage after the version.
        s_mp_begin (&mp);
        msgpack_pack_array (&mp.pk, 2);
        msgpack_pack_uint64 (&mp.pk, versions[i]);
        msgpack_pack_uint64 (&mp.pk, PROTO_STATUS);
        snprintf (what, sizeof what, "STATUS of version %llu", (unsigned long long)versions[i]);
        s_expect_mp (&mp, RLOG_BAD_VERSION, what);
        s_mp_begin (&mp);
        msgpack_pack_array (&mp.pk, 7);
        msgpack_pack_uint64 (&mp.pk, versions[i]);
        msgpack_pack_uint64 (&mp.pk, PROTO_APPEND);
        msgpack_pack_bin_with_body (&mp.pk, s_cid, 16);
        msgpack_pack_uint64 (&mp.pk, 1);
        msgpack_pack_uint64 (&mp.pk, 1);
        msgpack_pack_uint64 (&mp.pk, 0);
        msgpack_pack_bin_with_body (&mp.pk, "v", 1);
        snprintf (what, sizeof what, "APPEND of version %llu", (unsigned long long)versions[i]);
        s_expect_mp (&mp, RLOG_BAD_VERSION, what);
        s_mp_begin (&mp);
        msgpack_pack_array (&mp.pk, 4);
        msgpack_pack_uint64 (&mp.pk, versions[i]);
        msgpack_pack_str_with_body (&mp.pk, "type", 4);
        msgpack_pack_nil (&mp.pk);
        msgpack_pack_map (&mp.pk, 0);
        snprintf (what, sizeof what, "version %llu then garbage", (unsigned long long)versions[i]);
        s_expect_mp (&mp, RLOG_BAD_VERSION, what);
    }
    uint64_t types[] = {
        0,         4,   5,   9,   12,    19,    23,
        29,        32,  39,  43,  48,    50,    100,
        127,       128, 255, 256, 65535, 65536, (uint64_t)PROTO_APPEND + (1ULL << 32),
        UINT64_MAX};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        for (int extra = 0; extra <= 5; extra += 5) {
            s_mp_head (&mp, 2 + (size_t)extra, types[i]);
            for (int e = 0; e < extra; e++)
                msgpack_pack_uint64 (&mp.pk, 1);
            snprintf (what, sizeof what, "type %llu with %d fields", (unsigned long long)types[i],
                      extra);
            s_expect_mp (&mp, RLOG_UNKNOWN_TYPE, what);
        }
    }
    //  A version alone: the decoder wants two elements before it looks at
    //  the version, so this is MALFORMED (PROTOCOL.md's "BAD_VERSION
    //  whatever the remaining elements are" assumes there is a type).
    s_mp_begin (&mp);
    msgpack_pack_array (&mp.pk, 1);
    msgpack_pack_uint64 (&mp.pk, 2);
    for (int t = 0; t < TARGETS; t++) {
        reply_t r;
        s_call (&s_targets[t], mp.sbuf.data, mp.sbuf.size, &r, "[2]");
        cr_assert (r.type == PROTO_ERROR &&
                       (r.code == RLOG_MALFORMED || r.code == RLOG_BAD_VERSION),
                   "%s: [2] answered %s %s", s_targets[t].name, proto_type_name (r.type),
                   rlog_strerror (r.code));
    }
    msgpack_sbuffer_destroy (&mp.sbuf);
    s_targets_close ();
    s_survived ();
}

//  ==========================================================================
//  6. Wrong envelopes: multi-frame messages a REQ would never send. They
//  have no answerable envelope, so they are dropped (and logged) without a
//  reply: the first answer the DEALER then gets is the one to its next
//  sound request.

static void s_send_parts (zsock_t *sock, int n, ...)
{
    const void *data[16];
    size_t size[16];
    va_list ap;
    va_start (ap, n);
    for (int i = 0; i < n; i++) {
        data[i] = va_arg (ap, const void *);
        size[i] = va_arg (ap, size_t);
    }
    va_end (ap);
    s_sendv (sock, n, data, size);
}

//  After the bad messages on SOCK, a sound request must be the first thing
//  answered, and nothing may follow it.
static void s_only_answer (zsock_t *sock, bool peer, const char *who)
{
    proto_encode_status (s_enc);
    if (peer)
        s_send_peer (sock, proto_encoder_data (s_enc), proto_encoder_size (s_enc));
    else
        s_send_client (sock, proto_encoder_data (s_enc), proto_encoder_size (s_enc));
    reply_t r;
    cr_assert (s_recv (sock, REPLY_MS, &r), "%s: no answer after the bad envelopes", who);
    int want = peer ? PROTO_ERROR : PROTO_STATUS_REPLY;
    cr_assert_eq (r.type, want, "%s: the first answer is %s %s, not to the STATUS", who,
                  proto_type_name (r.type), rlog_strerror (r.code));
    cr_assert (!s_recv (sock, QUIET_MS, &r), "%s: an answer to a bad envelope came after", who);
}

Test (hostile, wrong_envelopes)
{
    s_start ("", "");
    proto_encode_status (s_enc);
    blob_t status = {(uint8_t *)malloc (proto_encoder_size (s_enc)), proto_encoder_size (s_enc)};
    memcpy (status.data, proto_encoder_data (s_enc), status.size);
    const void *st = status.data;
    size_t sz = status.size;
    int ports[3] = {s_cluster.master.client_port, s_cluster.secondaries[0].client_port,
                    s_cluster.secondaries[1].client_port};
    const char *names[3] = {"master client", "s1 client", "s2 client"};
    s_srand (0x5eed0006);
    int64_t start = zclock_mono ();
    for (int p = 0; p < 3; p++) {
        zsock_t *d = s_dealer (ports[p], NULL, 0);
        s_send_parts (d, 1, st, sz);                               //  no delimiter
        s_send_parts (d, 2, "x", (size_t)1, st, sz);               //  delimiter not empty
        s_send_parts (d, 2, st, sz, "", (size_t)0);                //  body first
        s_send_parts (d, 3, "", (size_t)0, "", (size_t)0, st, sz); //  two delimiters
        s_send_parts (d, 3, "", (size_t)0, st, sz, st, sz);        //  a frame after the body
        s_send_parts (d, 3, "", (size_t)0, st, sz, "", (size_t)0);
        s_send_parts (d, 1, "", (size_t)0); //  a delimiter alone
        const void *many[16];
        size_t many_size[16];
        for (int i = 0; i < 16; i++) {
            many[i] = i % 2 ? st : "";
            many_size[i] = i % 2 ? sz : 0;
        }
        s_sendv (d, 16, many, many_size);
        //  500 random multi-part messages, none of them [""][body].
        uint8_t buf[512];
        for (int m = 0; m < 500; m++) {
            int n = 1 + (int)(s_rand () % 6);
            const void *data[6];
            size_t size[6];
            uint8_t *at = buf;
            for (int i = 0; i < n; i++) {
                size[i] = s_rand () % 3 == 0 ? 0 : 1 + s_rand () % 80;
                s_fill_random (at, size[i]);
                data[i] = at;
                at += size[i];
            }
            if (n == 2 && size[0] == 0)
                size[0] = 1; //  that would be a sound envelope
            s_sendv (d, n, data, size);
        }
        s_only_answer (d, false, names[p]);
        s_close (&d);
    }
    //  The peer socket takes exactly one frame after the identity.
    zsock_t *d = s_dealer (s_cluster.peer_port, NULL, 0);
    proto_encode_ack (s_enc, 1);
    s_send_parts (d, 2, st, sz, st, sz);
    s_send_parts (d, 2, "", (size_t)0, proto_encoder_data (s_enc), proto_encoder_size (s_enc));
    s_send_parts (d, 2, proto_encoder_data (s_enc), proto_encoder_size (s_enc), "", (size_t)0);
    s_send_parts (d, 3, st, sz, st, sz, st, sz);
    for (int m = 0; m < 300; m++) {
        uint8_t buf[512];
        int n = 2 + (int)(s_rand () % 5);
        const void *data[6];
        size_t size[6];
        uint8_t *at = buf;
        for (int i = 0; i < n; i++) {
            size[i] = s_rand () % 80;
            s_fill_random (at, size[i]);
            data[i] = at;
            at += size[i];
        }
        s_sendv (d, n, data, size);
    }
    s_only_answer (d, true, "master peer");
    s_close (&d);
    //  The longest routing id ZeroMQ allows (255 bytes) is answered, and can
    //  wait for a write concern (its reply tag is the id plus 8 bytes).
    uint8_t long_id[255];
    memset (long_id, 'L', sizeof long_id);
    long_id[0] = 1;
    d = s_dealer (s_cluster.master.client_port, long_id, sizeof long_id);
    proto_encode_append (s_enc, s_cid, 16, 1, 3, 5000, "long routing id", 15);
    s_send_client (d, proto_encoder_data (s_enc), proto_encoder_size (s_enc));
    reply_t r;
    cr_assert (s_recv (d, REPLY_MS, &r), "no answer to a 255-byte routing id");
    cr_assert_eq (r.type, PROTO_APPEND_REPLY);
    cr_assert_eq (r.code, RLOG_OK, "w=3 append from a 255-byte routing id: %s (%s)",
                  rlog_strerror (r.code), r.text);
    s_expect_str (r.seq, "long routing id");
    s_close (&d);
    d = s_dealer (s_cluster.peer_port, long_id, sizeof long_id);
    proto_encode_ack (s_enc, 1);
    s_send_peer (d, proto_encoder_data (s_enc), proto_encoder_size (s_enc));
    cr_assert (s_recv (d, REPLY_MS, &r), "peer: no answer to a 255-byte routing id");
    cr_assert_eq (r.code, RLOG_REFUSED);
    s_close (&d);
    free (status.data);
    s_survived ();
    //  Dropped messages are logged, like every protocol error at most once
    //  a second (README: "protocol errors (rate-limited to one line per
    //  second)"): about 1,800 were sent within a few seconds.
    int64_t seconds = (zclock_mono () - start) / 1000 + 2;
    for (int n = 0; n < 3; n++) {
        size_t lines = s_count_in_file (s_node (n)->log_path, "no valid envelope");
        cr_assert_geq (lines, 1, "%s did not log the dropped messages", s_node (n)->id);
        cr_assert_leq (lines, (size_t)seconds,
                       "%s logged %zu lines for dropped messages in %lld s: a client can fill "
                       "the disk with log lines (wire.c logs every one, unlike decode errors)",
                       s_node (n)->id, lines, (long long)seconds);
    }
}

//  ==========================================================================
//  Helpers for the tests that pose as peers or flood appends

//  SIGSTOP NODE and wait until the kernel shows it stopped.
static void s_pause (h_node_t *node)
{
    cr_assert_eq (kill (node->pid, SIGSTOP), 0);
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int)node->pid);
    int64_t deadline = zclock_mono () + 3000;
    while (zclock_mono () < deadline) {
        char buf[512] = "";
        FILE *file = fopen (path, "r");
        if (file) {
            if (!fgets (buf, sizeof buf, file))
                buf[0] = 0;
            fclose (file);
        }
        char *end = strrchr (buf, ')');
        if (end && end[1] == ' ' && end[2] == 'T')
            return;
        zclock_sleep (5);
    }
    cr_assert_fail ("%s did not stop", node->id);
}

static void s_resume (h_node_t *node)
{
    cr_assert_eq (kill (node->pid, SIGCONT), 0);
}

static void s_send_append (zsock_t *sock, const char *cid, uint64_t req_id, uint64_t w,
                           uint64_t timeout_ms, const char *payload)
{
    cr_assert_eq (proto_encode_append (s_enc, (const uint8_t *)cid, strlen (cid), req_id, w,
                                       timeout_ms, payload, strlen (payload)),
                  0);
    s_send_client (sock, proto_encoder_data (s_enc), proto_encoder_size (s_enc));
}

static void s_send_ack (zsock_t *sock, uint64_t acked)
{
    proto_encode_ack (s_enc, acked);
    s_send_peer (sock, proto_encoder_data (s_enc), proto_encoder_size (s_enc));
}

static void s_send_fetch (zsock_t *sock, uint64_t from, uint64_t count)
{
    proto_encode_fetch (s_enc, from, count);
    s_send_peer (sock, proto_encoder_data (s_enc), proto_encoder_size (s_enc));
}

static void s_send_hello (zsock_t *sock, const char *id, uint64_t epoch, uint64_t seq)
{
    proto_encode_hello (s_enc, id, epoch, seq);
    s_send_peer (sock, proto_encoder_data (s_enc), proto_encoder_size (s_enc));
}

static void s_expect_append_reply (zsock_t *sock, int code, uint64_t req_id, reply_t *r,
                                   const char *what)
{
    cr_assert (s_recv (sock, REPLY_MS, r), "no answer to %s", what);
    cr_assert_eq (r->type, PROTO_APPEND_REPLY, "%s answered %s", what, proto_type_name (r->type));
    cr_assert_eq (r->code, code, "%s answered %s (%s), expected %s", what, rlog_strerror (r->code),
                  r->text, rlog_strerror (code));
    cr_assert_eq (r->req_id, req_id, "%s: the answer names request %llu", what,
                  (unsigned long long)r->req_id);
    if (code != RLOG_OK && code != RLOG_TIMEOUT)
        cr_assert_eq (r->seq, 0, "%s was refused but given seq %llu", what,
                      (unsigned long long)r->seq);
}

static bool s_pred_state (const rlog_status_t *status, void *arg)
{
    const char *want = (const char *)arg; //  "s1=healthy"
    for (size_t i = 0; i < status->secondary_count; i++) {
        char pair[96];
        snprintf (pair, sizeof pair, "%s=%s", status->secondaries[i].id,
                  status->secondaries[i].state);
        if (streq (pair, want))
            return true;
    }
    return false;
}

//  Everything back to three healthy nodes, every secondary at the head.
static void s_wait_all_healthy (void)
{
    int three = 3;
    cr_assert (h_wait_status (&s_cluster.master, h_pred_healthy, &three, 10000),
               "the cluster never got back to 3 healthy nodes");
}

//  ==========================================================================
//  7. An ACK for a seq never sent and FETCHes beyond the head.
//
//  From a DEALER that never said HELLO both are REFUSED. To reach the code
//  that handles them, the test speaks from the routing id of a secondary
//  the master knows: s2 is killed (its routing id is free, the master keeps
//  it as a member) and a DEALER with routing id "s2" takes its place. An
//  ACK above the head must be ignored: a w=3 append with s2 gone must still
//  time out, and the master must still show s2's last real ack. FETCHes
//  beyond the head are answered with nothing, a huge credit stops at the
//  head.

Test (hostile, bogus_ack_and_fetch_beyond_head)
{
    s_start ("", "");
    uint64_t head = 3;
    zsock_t *anon = s_dealer (s_cluster.peer_port, NULL, 0);
    uint64_t acks[] = {head + 1, head + 1000, UINT64_MAX};
    reply_t r;
    for (size_t i = 0; i < 3; i++) {
        s_send_ack (anon, acks[i]);
        cr_assert (s_recv (anon, REPLY_MS, &r) && r.type == PROTO_ERROR && r.code == RLOG_REFUSED,
                   "an ACK from a stranger was not refused");
    }
    s_send_fetch (anon, head + 1, 10);
    cr_assert (s_recv (anon, REPLY_MS, &r) && r.code == RLOG_REFUSED);
    s_send_fetch (anon, 1, 10); //  no data for strangers
    cr_assert (s_recv (anon, REPLY_MS, &r) && r.type == PROTO_ERROR && r.code == RLOG_REFUSED,
               "a stranger's FETCH got %s", proto_type_name (r.type));
    s_close (&anon);

    rlog_status_t status;
    s_status (&s_cluster.master, &status);
    h_stop (&s_cluster.secondaries[1], SIGKILL);
    zsock_t *ghost = s_dealer (s_cluster.peer_port, "s2", 2);
    //  Observed: before any HELLO, the master already takes it for s2.
    s_send_fetch (ghost, 1, 1);
    bool answered = s_recv (ghost, REPLY_MS, &r);
    s_observed ("OBSERVED: s2 killed; a FETCH 1+1 from a new DEALER with routing id 's2' and "
                "no HELLO was answered %s %s",
                answered ? proto_type_name (r.type) : "nothing",
                answered && r.type == PROTO_ERROR ? rlog_strerror (r.code) : "");
    //  It re-joins as s2 would after a restart, holding 1..head.
    s_send_hello (ghost, "s2", status.epoch, head);
    cr_assert (s_recv (ghost, REPLY_MS, &r), "no WELCOME");
    cr_assert (r.type == PROTO_WELCOME && r.truncate_to == head && r.head == head,
               "HELLO of a returning s2 got %s %s (truncate_to %llu)", proto_type_name (r.type),
               rlog_strerror (r.code), (unsigned long long)r.truncate_to);

    //  ACKs for seqs never sent, FETCHes past the head, zero credit.
    for (size_t i = 0; i < 3; i++)
        s_send_ack (ghost, acks[i]);
    s_send_fetch (ghost, head + 1, 100);
    s_send_fetch (ghost, head + 1, UINT64_MAX);
    s_send_fetch (ghost, UINT64_MAX, UINT64_MAX);
    s_send_fetch (ghost, UINT64_MAX, 1);
    s_send_fetch (ghost, 1, 0);
    s_send_fetch (ghost, head, 0);
    //  None of them is answered: the next answer is to this one.
    s_send_fetch (ghost, head, 1);
    cr_assert (s_recv (ghost, REPLY_MS, &r), "no FILL for a sound FETCH");
    cr_assert (r.type == PROTO_FILL && r.seq == head && r.entries == 1,
               "the first answer is %s %llu+%zu, not the FILL of %llu", proto_type_name (r.type),
               (unsigned long long)r.seq, r.entries, (unsigned long long)head);
    //  A credit of 2^64-1 from seq 2 stops at the head.
    s_send_fetch (ghost, 2, UINT64_MAX);
    cr_assert (s_recv (ghost, REPLY_MS, &r) && r.type == PROTO_FILL);
    cr_assert (r.seq == 2 && r.entries == head - 1, "FILL %llu+%zu for a huge credit",
               (unsigned long long)r.seq, r.entries);
    cr_assert (!s_recv (ghost, QUIET_MS, &r), "a FILL beyond the head: %s %llu+%zu",
               proto_type_name (r.type), (unsigned long long)r.seq, r.entries);
    s_status (&s_cluster.master, &status);
    //  A HELLO counts nothing until a sound ACK (it may name entries that are
    //  not durable yet), and ACKs beyond the head are ignored: still 0.
    cr_assert_eq (s_peer_status (&status, "s2")->acked, 0, "the bogus ACKs moved s2's ack to %llu",
                  (unsigned long long)s_peer_status (&status, "s2")->acked);
    cr_assert_eq (status.head, head);

    //  The bogus ACKs counted for nothing: with s2 gone w=3 times out.
    rlog_client_t *client = h_client (&s_cluster.master);
    rlog_append_result_t result;
    int rc = rlog_client_append (client, "w3 without s2", 13, 3, 300, &result);
    cr_assert_eq (rc, RLOG_TIMEOUT, "w=3 with s2 dead: %s (%s)", rlog_strerror (rc),
                  rlog_client_error (client));
    cr_assert_eq (result.acks, 2);
    s_expect_str (result.seq, "w3 without s2");
    //  An ACK one past the new head is still one never sent (the FETCH
    //  behind it on the same connection makes sure the master has read it
    //  before the next append exists).
    s_send_ack (ghost, result.seq + 1);
    s_send_fetch (ghost, 1, 1);
    cr_assert (s_recv (ghost, REPLY_MS, &r) && r.type == PROTO_FILL);
    rc = rlog_client_append (client, "w3 again", 8, 3, 300, &result);
    cr_assert_eq (rc, RLOG_TIMEOUT, "w=3 after an ACK of a future seq: %s (%s)", rlog_strerror (rc),
                  rlog_client_error (client));
    cr_assert_eq (result.acks, 2);
    s_expect_str (result.seq, "w3 again");
    s_status (&s_cluster.master, &status);
    cr_assert_eq (s_peer_status (&status, "s2")->acked, 0);

    //  Observed, not asserted (impersonation, which CURVE closes): an ACK
    //  of a seq that does exist, from whoever claimed s2's routing id,
    //  counts as s2's. A w=3 append waiting for it completes.
    zsock_t *writer = s_dealer (s_cluster.master.client_port, NULL, 0);
    s_send_append (writer, "impersonated", 1, 3, 3000, "forged ack");
    uint64_t next = result.seq + 1;
    s_wait_head (&s_cluster.master, next);
    s_send_ack (ghost, next);
    answered = s_recv (writer, REPLY_MS + 1000, &r);
    cr_assert (answered, "no answer to the w=3 append");
    s_observed ("OBSERVED: with s2 dead, an ACK %llu from a DEALER that took s2's routing id "
                "made a w=3 append answer %s with acks %llu (s2 holds nothing)",
                (unsigned long long)next, rlog_strerror (r.code), (unsigned long long)r.acks);
    cr_assert_eq (r.seq, next);
    s_expect_str (r.seq, "forged ack");
    s_close (&writer);
    s_close (&ghost);
    rlog_client_destroy (&client);

    //  The real s2 comes back (empty, in memory) and catches up.
    h_start_secondary (&s_cluster, 1, "");
    s_wait_all_healthy ();
    s_survived ();
}

//  ==========================================================================
//  8. A HELLO with a node id already in use.
//
//  From a different routing id it must be refused, and the real secondary
//  stays healthy with its acks counted. From the SAME routing id as the
//  live secondary, ROUTER_HANDOVER gives the new connection the route: the
//  test records what happens (cr_log_warn lines starting "OBSERVED") and
//  only asserts that the cluster recovers once the impostor is gone.

Test (hostile, hello_with_a_node_id_in_use)
{
    s_start ("", "");
    rlog_status_t status;
    s_status (&s_cluster.master, &status);
    uint64_t epoch = status.epoch;
    reply_t r;
    struct {
        const uint8_t *id;
        size_t size;
    } routes[] = {{(const uint8_t *)"evil", 4},
                  {(const uint8_t *)"s1x", 3},
                  {(const uint8_t *)"S1", 2},
                  {(const uint8_t *)"s1\0", 3},
                  {(const uint8_t *)"s2", 2}};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (i == 4)
            continue; //  s2 is live: that is the handover case below
        zsock_t *d = s_dealer (s_cluster.peer_port, routes[i].id, routes[i].size);
        uint64_t claims[][2] = {{0, 0}, {epoch, 3}, {UINT64_MAX, UINT64_MAX}};
        for (int c = 0; c < 3; c++) {
            s_send_hello (d, "s1", claims[c][0], claims[c][1]);
            cr_assert (s_recv (d, REPLY_MS, &r), "no answer to a HELLO claiming s1");
            cr_assert (r.type == PROTO_ERROR && r.code == RLOG_REFUSED,
                       "a HELLO claiming s1 from another routing id got %s %s",
                       proto_type_name (r.type), rlog_strerror (r.code));
        }
        //  Nor do its ACKs or FETCHes count: it is nobody.
        s_send_ack (d, 3);
        cr_assert (s_recv (d, REPLY_MS, &r) && r.code == RLOG_REFUSED);
        s_close (&d);
    }
    cr_assert_geq (s_count_in_file (s_cluster.master.log_path, "refused HELLO"), 1);
    //  s1 is untouched: healthy, acked to the head, and its acks count (w=2
    //  with s2 paused needs exactly s1's).
    s_status (&s_cluster.master, &status);
    cr_assert_str_eq (status.mode, "read-write");
    cr_assert_str_eq (s_peer_status (&status, "s1")->state, "healthy");
    cr_assert_eq (s_peer_status (&status, "s1")->acked, 3);
    s_pause (&s_cluster.secondaries[1]);
    cr_assert_eq (s_append ("w2 by s1", 2, 3000, RLOG_OK), 4);
    s_resume (&s_cluster.secondaries[1]);
    s_wait_all_healthy ();
    cr_assert_eq (s_append ("w3 by both", 3, 5000, RLOG_OK), 5);

    //  The same routing id as the live s1: observe.
    zsock_t *impostor = s_dealer_new (NULL, 0);
    zactor_t *monitor = zactor_new (zmonitor, impostor);
    zstr_sendx (monitor, "LISTEN", "DISCONNECTED", NULL);
    zstr_sendx (monitor, "START", NULL);
    zsock_wait (monitor);
    cr_assert_eq (zmq_setsockopt (zsock_resolve (impostor), ZMQ_ROUTING_ID, "s1", 2), 0);
    cr_assert_eq (zsock_connect (impostor, "tcp://127.0.0.1:%d", s_cluster.peer_port), 0);
    int64_t hijacked = zclock_mono ();
    s_send_hello (impostor, "s1", 0, 0);
    bool welcomed = s_recv (impostor, REPLY_MS, &r);
    s_observed ("OBSERVED hijack: HELLO 's1' (last 0, 0) from a second DEALER with routing id "
                "'s1' while s1 is live: %s %s (head %llu, truncate_to %llu)",
                welcomed ? proto_type_name (r.type) : "no answer",
                welcomed && r.type == PROTO_ERROR ? rlog_strerror (r.code) : "",
                (unsigned long long)r.head, (unsigned long long)r.truncate_to);
    s_status (&s_cluster.master, &status);
    uint64_t head = status.head;
    s_observed ("OBSERVED hijack: right after it the master shows s1 %s, acked %llu (head %llu)",
                s_peer_status (&status, "s1")->state,
                (unsigned long long)s_peer_status (&status, "s1")->acked, (unsigned long long)head);
    //  What it can do in s1's place: read the log, ack for s1.
    s_send_fetch (impostor, 1, 1000);
    size_t fetched = 0;
    while (s_recv (impostor, 200, &r) && r.type == PROTO_FILL) {
        fetched += r.entries;
        if (fetched >= head)
            break;
    }
    zsock_t *writer = s_dealer (s_cluster.master.client_port, NULL, 0);
    s_send_append (writer, "hijack-writer", 1, 3, 3000, "during the hijack");
    s_wait_head (&s_cluster.master, head + 1);
    s_send_ack (impostor, head + 1);
    int64_t start = zclock_mono ();
    bool answered = s_recv (writer, REPLY_MS + 1000, &r);
    s_observed ("OBSERVED hijack: the impostor FETCHed %zu entries; a w=3 append it ACKed was "
                "answered %s after %lld ms with acks %llu",
                fetched, answered ? rlog_strerror (r.code) : "never",
                (long long)(zclock_mono () - start), (unsigned long long)r.acks);
    cr_assert (answered && r.seq == head + 1, "the append during the hijack was lost");
    s_expect_str (r.seq, "during the hijack");
    s_close (&writer);
    //  How long it keeps s1's route: until its FETCHes go unanswered.
    int64_t held = -1;
    int64_t deadline = zclock_mono () + 5000;
    while (zclock_mono () < deadline) {
        s_send_fetch (impostor, 1, 1);
        if (!s_recv (impostor, 100, &r)) {
            held = zclock_mono () - hijacked;
            break;
        }
    }
    int drops = 0;
    zpoller_t *poller = zpoller_new (monitor, NULL);
    while (zpoller_wait (poller, 0) == monitor) {
        zmsg_t *event = zmsg_recv (monitor);
        drops++;
        zmsg_destroy (&event);
    }
    zpoller_destroy (&poller);
    s_status (&s_cluster.master, &status);
    s_observed ("OBSERVED hijack: the impostor held s1's route for %lld ms (-1: still after 5 s), "
                "its connection was dropped %d times; the master now shows s1 %s, acked %llu",
                (long long)held, drops, s_peer_status (&status, "s1")->state,
                (unsigned long long)s_peer_status (&status, "s1")->acked);
    zactor_destroy (&monitor);
    s_close (&impostor);

    //  Once the impostor is gone the real s1 is s1 again.
    cr_assert (h_wait_status (&s_cluster.master, s_pred_state, "s1=healthy", 10000),
               "s1 never became healthy again after the impostor left");
    s_wait_all_healthy ();
    s_survived ();
}

//  ==========================================================================
//  9. A flood of appends beyond --max-waiters: with s2 stopped no w=3
//  append can complete, so the first 50 park and every later one is BUSY at
//  once, with seq 0, and stores nothing (the BUSY request ids are not even
//  remembered: sent again later they are appended, once). Other clients
//  are still served, and the busy warning is logged once per interval.

#define FLOOD 200
#define PARK  50

Test (hostile, flood_beyond_max_waiters)
{
    s_start ("--max-waiters 50 --max-client-waiting 1000", "");
    int64_t start = zclock_mono ();
    s_pause (&s_cluster.secondaries[1]);
    zsock_t *flood = s_dealer (s_cluster.master.client_port, NULL, 0);
    char text[64];
    for (uint64_t req = 1; req <= FLOOD; req++) {
        snprintf (text, sizeof text, "flood-%llu", (unsigned long long)req);
        s_send_append (flood, "flooder", req, 3, 0, text);
    }
    bool busy[FLOOD + 1] = {false};
    size_t refused = 0;
    reply_t r;
    int64_t deadline = zclock_mono () + 10000;
    while (refused < FLOOD - PARK && zclock_mono () < deadline) {
        if (!s_recv (flood, 100, &r))
            continue;
        cr_assert (r.type == PROTO_APPEND_REPLY && r.code == RLOG_BUSY,
                   "flood request %llu answered %s %s (%s)", (unsigned long long)r.req_id,
                   proto_type_name (r.type), rlog_strerror (r.code), r.text);
        cr_assert (r.seq == 0 && r.acks == 0, "a BUSY append got seq %llu",
                   (unsigned long long)r.seq);
        //  One connection is read in order: the first PARK are the parked.
        cr_assert (r.req_id > PARK && r.req_id <= FLOOD && !busy[r.req_id], "BUSY for request %llu",
                   (unsigned long long)r.req_id);
        busy[r.req_id] = true;
        refused++;
    }
    cr_assert_eq (refused, FLOOD - PARK, "%zu of %d appends were refused BUSY", refused,
                  FLOOD - PARK);
    rlog_status_t status;
    s_status (&s_cluster.master, &status);
    cr_assert_eq (status.waiting, PARK, "%u appends wait", status.waiting);
    cr_assert_eq (status.head, 3 + PARK, "head %llu: BUSY appends were stored",
                  (unsigned long long)status.head);

    //  Another client: anything that would have to wait is BUSY too (even
    //  w=2, which s1 alone could satisfy), w=1 needs no waiting and works.
    zsock_t *other = s_dealer (s_cluster.master.client_port, NULL, 0);
    for (uint64_t req = 1; req <= 20; req++) {
        s_send_append (other, "other", req, 2 + req % 2, 0, "other");
        s_expect_append_reply (other, RLOG_BUSY, req, &r, "an append while the waiters are full");
    }
    cr_assert_eq (s_append ("w1 during the flood", 1, 0, RLOG_OK), 4 + PARK);
    size_t warned = s_count_in_file (s_cluster.master.log_path, "busy:");
    int64_t seconds = (zclock_mono () - start) / 1000 + 1;
    cr_assert (warned >= 1 && warned <= (size_t)seconds + 1,
               "the master logged %zu busy lines in %lld s", warned, (long long)seconds);

    //  s2 is back: the parked appends complete, in order.
    s_resume (&s_cluster.secondaries[1]);
    bool done[PARK + 1] = {false};
    for (int i = 0; i < PARK; i++) {
        cr_assert (s_recv (flood, 10000, &r), "only %d parked appends completed", i);
        cr_assert (r.type == PROTO_APPEND_REPLY && r.code == RLOG_OK, "parked: %s %s",
                   proto_type_name (r.type), rlog_strerror (r.code));
        cr_assert (r.req_id >= 1 && r.req_id <= PARK && !done[r.req_id]);
        done[r.req_id] = true;
        cr_assert_eq (r.seq, 3 + r.req_id);
        snprintf (text, sizeof text, "flood-%llu", (unsigned long long)r.req_id);
        s_expect_str (r.seq, text);
    }
    //  A request refused BUSY was not remembered: now it is appended, once.
    s_send_append (flood, "flooder", PARK + 1, 3, 5000, "flood-51");
    s_expect_append_reply (flood, RLOG_OK, PARK + 1, &r, "a BUSY request sent again");
    cr_assert_eq (r.seq, 5 + PARK, "it was given seq %llu", (unsigned long long)r.seq);
    s_expect_str (r.seq, "flood-51");
    s_send_append (flood, "flooder", PARK + 1, 3, 5000, "flood-51");
    s_expect_append_reply (flood, RLOG_OK, PARK + 1, &r, "the same request a third time");
    cr_assert_eq (r.seq, 5 + PARK, "a retry got a new seq %llu", (unsigned long long)r.seq);
    s_close (&other);
    s_close (&flood);
    s_wait_all_healthy ();
    s_survived ();
}

//  ==========================================================================
//  10. The per-client limit (--max-client-waiting): past it a client gets
//  BUSY while others still park. Then the limit is checked across a retry
//  that moves a parked append from one connection to another: the mover
//  must not end up with more parked appends than the limit.

Test (hostile, per_client_limit)
{
    s_start ("--max-waiters 1000 --max-client-waiting 5", "");
    s_pause (&s_cluster.secondaries[1]);
    zsock_t *a = s_dealer (s_cluster.master.client_port, NULL, 0);
    zsock_t *b = s_dealer (s_cluster.master.client_port, NULL, 0);
    char text[64];
    reply_t r;
    for (uint64_t req = 1; req <= 5; req++) {
        snprintf (text, sizeof text, "quota-a-%llu", (unsigned long long)req);
        s_send_append (a, "quota-a", req, 3, 1000, text);
        snprintf (text, sizeof text, "quota-b-%llu", (unsigned long long)req);
        s_send_append (b, "quota-b", req, 3, 0, text);
    }
    s_send_append (a, "quota-a", 6, 3, 0, "quota-a-6");
    s_expect_append_reply (a, RLOG_BUSY, 6, &r, "a's 6th parked append");
    cr_assert (strstr (r.text, "this client"), "%s", r.text);
    s_send_append (b, "quota-b", 6, 3, 0, "quota-b-6");
    s_expect_append_reply (b, RLOG_BUSY, 6, &r, "b's 6th parked append");
    rlog_status_t status;
    s_status (&s_cluster.master, &status);
    cr_assert_eq (status.waiting, 10);
    //  Others are not limited by a and b.
    zsock_t *c = s_dealer (s_cluster.master.client_port, NULL, 0);
    s_send_append (c, "quota-c", 1, 2, 5000, "quota-c-1");
    s_expect_append_reply (c, RLOG_OK, 1, &r, "c's w=2 append");
    s_expect_str (r.seq, "quota-c-1");
    s_close (&c);

    //  b, at its limit, retries a's first request, which would move that
    //  parked reply to b. Whether the master moves it or refuses the retry
    //  BUSY, once a's appends time out (1 s) b must have its five, no more.
    s_send_append (b, "quota-a", 1, 3, 0, "quota-a-1");
    bool a_done[6] = {false}, moved_done = false;
    int64_t deadline = zclock_mono () + 5000;
    while (!(a_done[2] && a_done[3] && a_done[4] && a_done[5] && (a_done[1] || moved_done)) &&
           zclock_mono () < deadline) {
        if (s_recv (a, 20, &r)) {
            cr_assert (r.type == PROTO_APPEND_REPLY && r.code == RLOG_TIMEOUT && r.seq &&
                           r.req_id >= 1 && r.req_id <= 5,
                       "a: %s %s req %llu", proto_type_name (r.type), rlog_strerror (r.code),
                       (unsigned long long)r.req_id);
            a_done[r.req_id] = true;
            snprintf (text, sizeof text, "quota-a-%llu", (unsigned long long)r.req_id);
            s_expect_str (r.seq, text);
        }
        if (s_recv (b, 0, &r)) {
            cr_assert (r.type == PROTO_APPEND_REPLY && r.req_id == 1 &&
                           (r.code == RLOG_TIMEOUT || r.code == RLOG_BUSY),
                       "b: %s %s req %llu", proto_type_name (r.type), rlog_strerror (r.code),
                       (unsigned long long)r.req_id);
            if (r.code == RLOG_TIMEOUT) {
                moved_done = true;
                s_expect_str (r.seq, "quota-a-1");
            }
        }
    }
    cr_assert (a_done[2] && a_done[3] && a_done[4] && a_done[5] && (a_done[1] || moved_done),
               "a's appends never all timed out");
    s_status (&s_cluster.master, &status);
    cr_assert_eq (status.waiting, 5, "%u waiting: b's five", status.waiting);
    //  b still has its five parked: one more must be BUSY.
    s_send_append (b, "quota-b", 7, 3, 0, "quota-b-7");
    bool answered = s_recv (b, QUIET_MS, &r);
    s_status (&s_cluster.master, &status);
    cr_assert (answered && r.code == RLOG_BUSY,
               "per-client limit bypassed: b already has 5 appends parked "
               "(--max-client-waiting 5), its 7th was %s; the master now has %u waiting, all "
               "b's. (The retry moved a's parked append to b while b was at its limit; the "
               "quota_take for b failed silently, and the quota_give when that append timed "
               "out took one off b's count.)",
               answered ? rlog_strerror (r.code) : "parked (no answer)", status.waiting);
    s_resume (&s_cluster.secondaries[1]);
    for (int i = 0; i < 5; i++) {
        cr_assert (s_recv (b, 10000, &r), "only %d of b's appends completed", i);
        cr_assert (r.type == PROTO_APPEND_REPLY && r.code == RLOG_OK);
        snprintf (text, sizeof text, "quota-b-%llu", (unsigned long long)r.req_id);
        s_expect_str (r.seq, text);
    }
    s_close (&a);
    s_close (&b);
    s_wait_all_healthy ();
    s_survived ();
}

//  ==========================================================================
//  11. A client that connects and never reads. One DEALER (receive HWM 1,
//  4 KiB kernel buffer) pipelines 20,000 appends and reads none of the
//  answers; meanwhile and afterwards another client's w=3 appends must
//  complete quickly. Then the same kind of client asks for the largest LIST
//  replies there are (about 4 MB each) and never reads them: the master
//  must not buffer them without bound (asserted: less than MAX_GROW_MB of
//  RSS for LIST_ASKS requests; how long an append waits behind them is
//  reported, not asserted).

#define NEVER_READ  20000
#define LIST_ASKS   64
#define BIG_ENTRY   (1000 * 1000)
#define FAST_MS     500
#define MAX_GROW_MB 128

typedef struct {
    int port;
    volatile int sent;
    volatile bool sending_done;
    volatile bool stop;
    bool running;
    pthread_t thread;
} never_reader_t;

static never_reader_t s_never_reader_state;

static void *s_never_reader (void *arg)
{
    never_reader_t *nr = (never_reader_t *)arg;
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    zsock_set_linger (sock, 0);
    zsock_set_rcvhwm (sock, 1);
    zsock_set_rcvbuf (sock, 4096);
    zsock_set_sndhwm (sock, 100000);
    zsock_set_sndtimeo (sock, 5000);
    zsock_connect (sock, "tcp://127.0.0.1:%d", nr->port);
    proto_encoder_t *enc = proto_encoder_new ();
    void *handle = zsock_resolve (sock);
    char text[32];
    for (int i = 1; i <= NEVER_READ; i++) {
        snprintf (text, sizeof text, "nr-%d", i);
        proto_encode_append (enc, (const uint8_t *)"never-reads", 11, (uint64_t)i, 1, 0, text,
                             strlen (text));
        if (zmq_send (handle, "", 0, ZMQ_SNDMORE) < 0 ||
            zmq_send (handle, proto_encoder_data (enc), proto_encoder_size (enc), 0) < 0)
            break;
        nr->sent = i;
    }
    proto_encoder_destroy (&enc);
    nr->sending_done = true;
    //  Keep the connection (and the unread answers) until the test ends.
    while (!nr->stop)
        zclock_sleep (10);
    zsock_destroy (&sock);
    return NULL;
}

static void s_never_reader_stop (void)
{
    never_reader_t *nr = &s_never_reader_state;
    if (nr->running) {
        nr->stop = true;
        pthread_join (nr->thread, NULL);
        nr->running = false;
    }
}

static long s_rss_kb (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen (path, "r");
    long kb = -1;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "VmRSS:", 6) == 0)
            kb = strtol (line + 6, NULL, 10);
    if (file)
        fclose (file);
    return kb;
}

static int64_t s_timed_append (const char *text)
{
    int64_t start = zclock_mono ();
    s_append (text, 3, 5000, RLOG_OK);
    return zclock_mono () - start;
}

Test (hostile, client_that_never_reads, .timeout = 60.0)
{
    s_start ("", "");
    never_reader_t *nr = &s_never_reader_state;
    nr->port = s_cluster.master.client_port;
    cr_assert_eq (pthread_create (&nr->thread, NULL, s_never_reader, nr), 0);
    nr->running = true;
    int64_t worst = 0;
    char text[64];
    int probes = 0;
    while (!nr->sending_done || probes < 10) {
        snprintf (text, sizeof text, "probe-%d", ++probes);
        int64_t took = s_timed_append (text);
        worst = took > worst ? took : worst;
    }
    //  ... and after it has sent everything.
    for (int i = 0; i < 10; i++) {
        snprintf (text, sizeof text, "probe-%d", ++probes);
        int64_t took = s_timed_append (text);
        worst = took > worst ? took : worst;
    }
    cr_assert_eq (nr->sent, NEVER_READ, "the never-reading client could only send %d", nr->sent);
    cr_log_info ("%d w=3 appends next to a client that never reads: the slowest took %lld ms",
                 probes, (long long)worst);
    cr_assert_lt (worst, FAST_MS, "a w=3 append took %lld ms next to a client that never reads",
                  (long long)worst);
    //  All of its appends are stored (their seqs it never learnt).
    uint64_t head = 3 + (uint64_t)probes + NEVER_READ;
    s_wait_head (&s_cluster.master, head);
    for (int i = 1; i <= NEVER_READ; i++) {
        snprintf (text, sizeof text, "nr-%d", i);
        s_expect_unordered (text);
    }

    //  LIST replies of about 4 MB each, never read.
    char *big = (char *)malloc (BIG_ENTRY + 1);
    for (int i = 0; i < 4; i++) {
        memset (big, 'A' + i, BIG_ENTRY);
        big[BIG_ENTRY] = 0;
        s_append (big, 3, 5000, RLOG_OK);
    }
    free (big);
    head += 4;
    long before = s_rss_kb (s_cluster.master.pid);
    zsock_t *lister = s_dealer_new (NULL, 0);
    zsock_set_rcvhwm (lister, 1);
    zsock_set_rcvbuf (lister, 4096);
    cr_assert_eq (zsock_connect (lister, "tcp://127.0.0.1:%d", s_cluster.master.client_port), 0);
    for (int i = 0; i < LIST_ASKS; i++) {
        proto_encode_list (s_enc, head - 3, 0);
        s_send_client (lister, proto_encoder_data (s_enc), proto_encoder_size (s_enc));
    }
    //  Let the master serve them (a round trip behind them on another
    //  connection), then look at its memory.
    int64_t took = s_timed_append ("after the lists");
    long after = before;
    int64_t deadline = zclock_mono () + 2000;
    while (zclock_mono () < deadline) {
        long now = s_rss_kb (s_cluster.master.pid);
        after = now > after ? now : after;
        zclock_sleep (50);
    }
    long grown_mb = (after - before) / 1024;
    s_observed ("OBSERVED: %d unread LIST replies of ~4 MB: master RSS %ld -> %ld MB (+%ld MB); "
                "an append meanwhile took %lld ms",
                LIST_ASKS, before / 1024, after / 1024, grown_mb, (long long)took);
    s_close (&lister);
    s_never_reader_stop ();
    cr_assert_lt (grown_mb, MAX_GROW_MB,
                  "the master buffered %ld MB of LIST replies for one client that never reads "
                  "(%d requests of a few bytes each; client ROUTER SNDHWM is 100000 messages, so "
                  "up to ~400 GB could queue)",
                  grown_mb, LIST_ASKS);
    s_survived ();
}

//  ==========================================================================
//  12. Oversized frames: past ZMQ_MAXMSGSIZE libzmq drops the connection
//  (seen on the sender's socket monitor), nothing is answered, the node
//  goes on. Limits: the master's client socket max-msg + 64 KiB, its peer
//  socket 64 KiB, a secondary's client socket 64 KiB (PROTOCOL.md says
//  max-msg + 64 KiB there too; observed and reported, not asserted).

static zsock_t *s_monitored (int port, zactor_t **monitor)
{
    zsock_t *sock = s_dealer_new (NULL, 0);
    *monitor = zactor_new (zmonitor, sock);
    zstr_sendx (*monitor, "LISTEN", "DISCONNECTED", NULL);
    zstr_sendx (*monitor, "START", NULL);
    zsock_wait (*monitor);
    cr_assert_eq (zsock_connect (sock, "tcp://127.0.0.1:%d", port), 0);
    return sock;
}

static bool s_disconnected (zactor_t *monitor, int timeout_ms)
{
    zpoller_t *poller = zpoller_new (monitor, NULL);
    bool seen = false;
    if (zpoller_wait (poller, timeout_ms) == monitor) {
        zmsg_t *event = zmsg_recv (monitor);
        char *name = zmsg_popstr (event);
        seen = name && streq (name, "DISCONNECTED");
        zstr_free (&name);
        zmsg_destroy (&event);
    }
    zpoller_destroy (&poller);
    return seen;
}

//  Send BODY on a fresh monitored connection; returns true if libzmq
//  dropped the connection, false if the frame was answered (MALFORMED).
static bool s_send_blob (int port, bool peer, const uint8_t *body, size_t size, const char *who)
{
    zactor_t *monitor;
    zsock_t *sock = s_monitored (port, &monitor);
    //  First a sound request, so the connection is known to be up.
    proto_encode_status (s_enc);
    if (peer)
        s_send_peer (sock, proto_encoder_data (s_enc), proto_encoder_size (s_enc));
    else
        s_send_client (sock, proto_encoder_data (s_enc), proto_encoder_size (s_enc));
    reply_t r;
    cr_assert (s_recv (sock, REPLY_MS, &r), "%s: no answer to a STATUS", who);
    if (peer)
        s_send_peer (sock, body, size);
    else
        s_send_client (sock, body, size);
    bool dropped = false, answered = false;
    int64_t deadline = zclock_mono () + REPLY_MS;
    while (!dropped && !answered && zclock_mono () < deadline) {
        dropped = s_disconnected (monitor, 50);
        answered = s_recv (sock, 0, &r);
    }
    cr_assert (dropped || answered, "%s: a %zu-byte frame was neither answered nor dropped", who,
               size);
    if (answered)
        cr_assert (r.type == PROTO_ERROR && r.code == RLOG_MALFORMED, "%s: %zu bytes: %s %s", who,
                   size, proto_type_name (r.type), rlog_strerror (r.code));
    zactor_destroy (&monitor);
    s_close (&sock);
    return dropped;
}

//  The same with SIZE bytes that are never valid msgpack.
static bool s_send_big (int port, bool peer, size_t size, const char *who)
{
    uint8_t *body = (uint8_t *)malloc (size);
    memset (body, 0xc1, size);
    bool dropped = s_send_blob (port, peer, body, size, who);
    free (body);
    return dropped;
}

Test (hostile, oversized_frames)
{
    s_start ("--max-msg 4096", "--max-msg 4096");
    size_t client_max = 4096 + 65536;
    int mport = s_cluster.master.client_port;
    cr_assert (!s_send_big (mport, false, client_max, "master client"),
               "the master dropped a frame of max-msg + 64 KiB");
    cr_assert (s_send_big (mport, false, client_max + 1, "master client"),
               "the master took a frame of max-msg + 64 KiB + 1");
    cr_assert (s_send_big (mport, false, 8 << 20, "master client"));
    //  An APPEND at exactly the frame limit is refused by size, with its id.
    zsock_t *d = s_dealer (mport, NULL, 0);
    size_t payload = client_max - 64;
    char *data = (char *)malloc (client_max);
    memset (data, 'p', client_max);
    proto_encode_append (s_enc, s_cid, 16, 42, 1, 0, data, payload);
    while (proto_encoder_size (s_enc) < client_max)
        proto_encode_append (s_enc, s_cid, 16, 42, 1, 0, data, ++payload);
    cr_assert_eq (proto_encoder_size (s_enc), client_max);
    s_send_client (d, proto_encoder_data (s_enc), proto_encoder_size (s_enc));
    reply_t r;
    s_expect_append_reply (d, RLOG_TOO_LARGE, 42, &r, "an APPEND of max-msg + 64 KiB");
    s_close (&d);
    free (data);

    cr_assert (!s_send_big (s_cluster.peer_port, true, 65536, "master peer"));
    cr_assert (s_send_big (s_cluster.peer_port, true, 65537, "master peer"));
    for (int i = 0; i < 2; i++) {
        int port = s_cluster.secondaries[i].client_port;
        cr_assert (s_send_big (port, false, client_max + 1, s_cluster.secondaries[i].id));
        bool dropped = s_send_big (port, false, 65537, s_cluster.secondaries[i].id);
        s_observed ("OBSERVED: %s client socket (--max-msg 4096) %s a 65,537-byte frame; "
                    "PROTOCOL.md says client sockets take max-msg + 64 KiB = %zu",
                    s_cluster.secondaries[i].id, dropped ? "dropped" : "answered", client_max);
    }
    s_survived ();
}

//  ==========================================================================
//  13. Extreme values in sound frames: request ids 0 and 2^64-1, empty and
//  64-byte client ids, LIST ranges at the ends of the seq space, and
//  timeouts so large they mean "wait", which must not become an instant
//  deadline (or a signed overflow) when added to the clock.

Test (hostile, extreme_values)
{
    s_start ("", "");
    zsock_t *d = s_dealer (s_cluster.master.client_port, NULL, 0);
    reply_t r;
    uint64_t seq;
    s_send_append (d, "edge-a", UINT64_MAX, 1, 0, "req UINT64_MAX");
    s_expect_append_reply (d, RLOG_OK, UINT64_MAX, &r, "req_id 2^64-1");
    seq = r.seq;
    s_expect_str (seq, "req UINT64_MAX");
    s_send_append (d, "edge-a", UINT64_MAX, 1, 0, "req UINT64_MAX");
    s_expect_append_reply (d, RLOG_OK, UINT64_MAX, &r, "req_id 2^64-1 again");
    cr_assert_eq (r.seq, seq, "a retry of req 2^64-1 got seq %llu", (unsigned long long)r.seq);
    //  Nothing has left this client's window, so a lower id is a request
    //  that arrived late, not a stale one: appended once, then found.
    s_send_append (d, "edge-a", 1, 1, 0, "late");
    s_expect_append_reply (d, RLOG_OK, 1, &r, "req 1 after 2^64-1");
    seq = r.seq;
    s_expect_str (seq, "late");
    s_send_append (d, "edge-a", 1, 1, 0, "late");
    s_expect_append_reply (d, RLOG_OK, 1, &r, "req 1 again");
    cr_assert_eq (r.seq, seq, "a retry of req 1 got seq %llu", (unsigned long long)r.seq);
    s_send_append (d, "", 0, 1, 0, "empty client id, req 0");
    s_expect_append_reply (d, RLOG_OK, 0, &r, "empty client id, req 0");
    seq = r.seq;
    s_expect_str (seq, "empty client id, req 0");
    s_send_append (d, "", 0, 1, 0, "empty client id, req 0");
    s_expect_append_reply (d, RLOG_OK, 0, &r, "the same again");
    cr_assert_eq (r.seq, seq);
    char cid64[65];
    memset (cid64, 0x7f, 64);
    cid64[64] = 0;
    s_send_append (d, cid64, 1, 1, 0, "64-byte client id");
    s_expect_append_reply (d, RLOG_OK, 1, &r, "64-byte client id");
    s_expect_str (r.seq, "64-byte client id");
    uint64_t ws[] = {0, 4, 255, 1ULL << 32, UINT64_MAX};
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        s_send_append (d, "edge-w", 1 + i, ws[i], 0, "bad w");
        s_expect_append_reply (d, RLOG_BAD_W, 1 + i, &r, "an out-of-range w");
    }
    //  LIST at the ends of the seq space, on every node.
    uint64_t head = seq + 1;
    int ports[3] = {s_cluster.master.client_port, s_cluster.secondaries[0].client_port,
                    s_cluster.secondaries[1].client_port};
    for (int n = 0; n < 3; n++) {
        s_wait_head (s_node (n), head);
        zsock_t *l = s_dealer (ports[n], NULL, 0);
        uint64_t lists[][3] = {
            {UINT64_MAX, UINT64_MAX, 0}, {UINT64_MAX, 0, 0}, {head + 1, UINT64_MAX, 0},
            {head, UINT64_MAX, 1},       {0, 0, head},       {1, 1, 1},
            {0, UINT64_MAX, head}};
        for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
            proto_encode_list (s_enc, lists[i][0], lists[i][1]);
            s_send_client (l, proto_encoder_data (s_enc), proto_encoder_size (s_enc));
            cr_assert (s_recv (l, REPLY_MS, &r), "%s: no answer to LIST", s_node (n)->id);
            cr_assert (r.type == PROTO_LIST_REPLY && r.code == RLOG_OK, "%s: LIST got %s",
                       s_node (n)->id, proto_type_name (r.type));
            cr_assert_eq (r.entries, lists[i][2], "%s: LIST from %llu limit %llu gave %zu",
                          s_node (n)->id, (unsigned long long)lists[i][0],
                          (unsigned long long)lists[i][1], r.entries);
            cr_assert_eq (r.head, head);
        }
        s_close (&l);
    }

    //  Timeouts: with s2 stopped a w=3 append can only wait. A timeout of
    //  2^62 ms, of INT64_MAX ms and of UINT64_MAX ms all mean "longer than
    //  this test": none may be answered before s2 is back.
    s_pause (&s_cluster.secondaries[1]);
    uint64_t timeouts[] = {1ULL << 62, INT64_MAX, UINT64_MAX, (uint64_t)INT64_MAX + 1};
    const char *names[] = {"2^62", "INT64_MAX", "UINT64_MAX", "2^63"};
    char failures[512] = "";
    zsock_t *w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = s_dealer (s_cluster.master.client_port, NULL, 0);
        char text[64];
        snprintf (text, sizeof text, "timeout %s", names[i]);
        s_send_append (w[i], "edge-t", 1 + (uint64_t)i, 3, timeouts[i], text);
    }
    bool early[4] = {false};
    for (int i = 0; i < 4; i++) {
        char why[64];
        if (!s_alive (&s_cluster.master, why, sizeof why)) {
            snprintf (failures + strlen (failures), sizeof failures - strlen (failures),
                      " the master died (%s, see %s) after w=3 appends with huge timeout_ms;", why,
                      s_cluster.master.log_path);
            break;
        }
        char text[64];
        snprintf (text, sizeof text, "timeout %s", names[i]);
        if (s_recv (w[i], QUIET_MS, &r)) {
            early[i] = true;
            snprintf (failures + strlen (failures), sizeof failures - strlen (failures),
                      " timeout_ms %s was answered at once: %s (%s);", names[i],
                      rlog_strerror (r.code), r.text);
            if (r.seq) //  stored all the same
                s_expect_str (r.seq, text);
        }
    }
    cr_assert (strstr (failures, "died") == NULL, "huge timeouts:%s", failures);
    s_resume (&s_cluster.secondaries[1]);
    for (int i = 0; i < 4; i++) {
        if (early[i])
            continue;
        char text[64];
        snprintf (text, sizeof text, "timeout %s", names[i]);
        cr_assert (s_recv (w[i], 10000, &r), "timeout %s: never answered", names[i]);
        cr_assert_eq (r.code, RLOG_OK, "timeout %s: %s", names[i], rlog_strerror (r.code));
        s_expect_str (r.seq, text);
    }
    for (int i = 0; i < 4; i++)
        s_close (&w[i]);
    s_close (&d);
    s_wait_all_healthy ();
    s_survived ();
    cr_assert (failures[0] == 0, "huge timeouts:%s", failures);
}

//  ==========================================================================
//  14. The hijack of section 8 against a master with a data dir, where a
//  HELLO also claims a longer log than the master's. Observed and reported,
//  not asserted (CURVE binds node ids to keys when it is on); what is
//  asserted: no node dies and no log changes.

Test (hostile, hijack_claiming_a_longer_log)
{
    s_start ("--data-dir %s/master-data --fsync never", "");
    rlog_status_t status;
    s_status (&s_cluster.master, &status);
    zsock_t *impostor = s_dealer (s_cluster.peer_port, "s2", 2);
    s_send_hello (impostor, "s2", UINT64_MAX, status.head + 1000);
    reply_t r;
    bool answered = s_recv (impostor, REPLY_MS, &r);
    s_observed ("OBSERVED longer-log hijack: HELLO 's2' (epoch 2^64-1, last_seq head+1000) from a "
                "DEALER with s2's routing id: %s %s '%s'",
                answered ? proto_type_name (r.type) : "no answer",
                answered && r.type == PROTO_ERROR ? rlog_strerror (r.code) : "", r.text);
    s_close (&impostor);
    //  s2 takes its route back within its ZMTP heartbeat timeout.
    int64_t start = zclock_mono ();
    int three = 3;
    bool back = h_wait_status (&s_cluster.master, h_pred_healthy, &three, 5000);
    s_status (&s_cluster.master, &status);
    s_observed ("OBSERVED longer-log hijack: %lld ms later the master is %s%s%s (healthy %u)",
                (long long)(zclock_mono () - start), status.mode, status.reason[0] ? ": " : "",
                status.reason, status.healthy);
    rlog_client_t *client = h_client (&s_cluster.master);
    rlog_append_result_t result;
    int rc = rlog_client_append (client, "after the claim", 15, 3, 2000, &result);
    s_observed ("OBSERVED longer-log hijack: then a w=3 append: %s (%s)%s", rlog_strerror (rc),
                rlog_client_error (client), back ? "" : "; never back to read-write in 5 s");
    if (result.seq)
        s_expect_str (result.seq, "after the claim");
    rlog_client_destroy (&client);
    for (int i = 0; i < 3; i++) {
        char why[64];
        cr_assert (s_alive (s_node (i), why, sizeof why), "%s is gone: %s", s_node (i)->id, why);
    }
    blobs_t master;
    s_list (&s_cluster.master, &master);
    s_assert_expected (&master);
    for (int i = 1; i < 3; i++) {
        s_wait_head (s_node (i), master.count);
        blobs_t log;
        s_list (s_node (i), &log);
        s_assert_same_log (&master, &log, s_node (i)->id);
        s_blobs_free (&log);
    }
    s_blobs_free (&master);
    s_no_sanitizer_reports ();
}
