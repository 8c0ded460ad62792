/*  test_security.c - CURVE on a live cluster (issue 11, item 3): node keys
    and client keys are two sets. The nodes directory holds one public
    certificate per secondary, named by its node id (s1, s2): the peer socket
    admits only those keys, and each id is bound to its own key from the
    start. The clients directory holds the keys of clients (alice): they may
    append and read, but cannot even connect to the peer socket.

    Raw sockets here speak protocol v2 frames (src/lib/proto.h) as a
    secondary would, over CURVE with a chosen certificate.
*/
#include "harness.h"
#include "proto.h"
#include <criterion/criterion.h>
#include <czmq.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define HB_MS    50
#define REPLY_MS 3000
#define QUIET_MS 600 //  how long "no answer" is waited for (12 heartbeats)

static h_cluster_t s_cluster;
static zsock_t *s_raw; //  the test's raw socket, closed by teardown too

static void s_teardown (void)
{
    zsock_destroy (&s_raw);
    h_cluster_destroy (&s_cluster);
}

TestSuite (security, .fini = s_teardown, .timeout = 60.0);

static void s_path (char *buf, size_t size, const char *name)
{
    snprintf (buf, size, "%s/%s", s_cluster.dir, name);
}

//  A certificate NAME (NAME and NAME_secret in the cluster's dir), its
//  public half copied into SUBDIR ("nodes", "clients" or NULL: none).
static void s_keygen (const char *name, const char *subdir)
{
    char path[400];
    zcert_t *cert = zcert_new ();
    cr_assert_not_null (cert);
    s_path (path, sizeof path, name);
    cr_assert_eq (zcert_save (cert, path), 0);
    if (subdir) {
        char dir[300];
        s_path (dir, sizeof dir, subdir);
        mkdir (dir, 0755);
        snprintf (path, sizeof path, "%s/%s", dir, name);
        cr_assert_eq (zcert_save_public (cert, path), 0);
    }
    zcert_destroy (&cert);
}

//  The cluster's keys: master, s1, s2 (nodes/ holds s1 and s2), alice (in
//  clients/), mallory (nowhere).
static void s_keys (uint32_t replicas)
{
    h_cluster_init (&s_cluster, replicas, HB_MS);
    s_keygen ("master", NULL);
    s_keygen ("s1", "nodes");
    s_keygen ("s2", "nodes");
    s_keygen ("alice", "clients");
    s_keygen ("mallory", NULL);
}

static const char *s_master_flags (char *buf, size_t size)
{
    const char *d = s_cluster.dir;
    snprintf (buf, size,
              "--curve-secret %s/master --curve-allow-nodes %s/nodes "
              "--curve-allow-clients %s/clients",
              d, d, d);
    return buf;
}

//  A secondary with the certificate WHO (normally its own id).
static const char *s_secondary_flags (const char *who, char *buf, size_t size)
{
    const char *d = s_cluster.dir;
    snprintf (buf, size,
              "--curve-secret %s/%s --curve-allow-clients %s/clients "
              "--master-key %s/master",
              d, who, d, d);
    return buf;
}

static rlog_client_t *s_curve_client (const h_node_t *node, const char *who, const char *server)
{
    rlog_client_t *client = h_client (node);
    char secret[300], key[300];
    s_path (secret, sizeof secret, who);
    s_path (key, sizeof key, server);
    cr_assert_eq (rlog_client_set_curve (client, secret, key), RLOG_OK, "%s",
                  rlog_client_error (client));
    return client;
}

static bool s_status (const h_node_t *node, const char *server, rlog_status_t *status)
{
    rlog_client_t *client = s_curve_client (node, "alice", server);
    rlog_client_set_retry (client, 200, 1);
    bool ok = rlog_client_status (client, status) == RLOG_OK;
    rlog_client_destroy (&client);
    return ok;
}

//  Poll the master's status (as alice, trusting the server key in the
//  certificate SERVER) until it has NODES healthy nodes.
static bool s_wait_healthy (const char *server, uint32_t nodes)
{
    int64_t deadline = zclock_mono () + 10000;
    while (zclock_mono () < deadline) {
        rlog_status_t status;
        if (s_status (&s_cluster.master, server, &status) && status.healthy >= nodes &&
            streq (status.mode, "read-write"))
            return true;
        zclock_sleep (20); //  polling interval of a condition, not a guess
    }
    return false;
}

static void s_start_all (uint32_t replicas)
{
    char flags[1200];
    s_keys (replicas);
    cr_assert (h_start_master (&s_cluster, s_master_flags (flags, sizeof flags)));
    for (uint32_t i = 0; i < replicas; i++) {
        char who[16];
        snprintf (who, sizeof who, "s%u", i + 1);
        cr_assert (
            h_start_secondary (&s_cluster, (int)i, s_secondary_flags (who, flags, sizeof flags)));
    }
    cr_assert (s_wait_healthy ("master", replicas + 1), "the secondaries did not join over CURVE");
}

//  A w=WANT append as alice: returns the code, RESULT filled.
static int s_append (const char *text, int w, int timeout_ms, rlog_append_result_t *result,
                     char *error, size_t error_size)
{
    rlog_client_t *alice = s_curve_client (&s_cluster.master, "alice", "master");
    int rc = rlog_client_append (alice, text, strlen (text), w, timeout_ms, result);
    snprintf (error, error_size, "%s", rlog_client_error (alice));
    rlog_client_destroy (&alice);
    return rc;
}

//  A DEALER to the master's peer socket authenticated as WHO.
static zsock_t *s_peer_dealer (const char *who)
{
    char secret[300], server[300];
    s_path (secret, sizeof secret, who);
    s_path (server, sizeof server, "master");
    zcert_t *mine = zcert_load (secret);
    zcert_t *theirs = zcert_load (server);
    cr_assert (mine && theirs);
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (sock);
    zsock_set_linger (sock, 0);
    zcert_apply (mine, sock);
    zsock_set_curve_serverkey (sock, zcert_public_txt (theirs));
    zcert_destroy (&mine);
    zcert_destroy (&theirs);
    cr_assert_eq (zsock_connect (sock, "tcp://127.0.0.1:%d", s_cluster.peer_port), 0);
    return sock;
}

//  An empty node's HELLO as ID on SOCK, and its answer (false: none).
static bool s_hello (zsock_t *sock, const char *id, int wait_ms, proto_msg_t *reply, char *text,
                     size_t text_size)
{
    proto_encoder_t *enc = proto_encoder_new ();
    proto_msg_t hello = {.type = PROTO_HELLO};
    snprintf (hello.node_id, sizeof hello.node_id, "%s", id);
    cr_assert_eq (proto_encode (enc, &hello), 0);
    zframe_t *frame = zframe_new (proto_encoder_data (enc), proto_encoder_size (enc));
    proto_encoder_destroy (&enc);
    cr_assert_eq (zframe_send (&frame, sock, 0), 0);
    zpoller_t *poller = zpoller_new (sock, NULL);
    bool answered = zpoller_wait (poller, wait_ms) == sock;
    zpoller_destroy (&poller);
    if (!answered)
        return false;
    zframe_t *got = zframe_recv (sock);
    cr_assert_not_null (got);
    proto_decoder_t *dec = proto_decoder_new (1 << 20);
    cr_assert_eq (proto_decode (dec, zframe_data (got), zframe_size (got), reply), RLOG_OK);
    snprintf (text, text_size, "%s", reply->text);
    reply->text[0] = 0;
    proto_decoder_destroy (&dec);
    zframe_destroy (&got);
    return true;
}

static bool s_log_has (const h_node_t *node, const char *text)
{
    FILE *f = fopen (node->log_path, "r");
    char line[2048];
    bool found = false;
    while (f && !found && fgets (line, sizeof line, f))
        found = strstr (line, text) != NULL;
    if (f)
        fclose (f);
    return found;
}

static bool s_wait_log (const h_node_t *node, const char *text, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (!s_log_has (node, text)) {
        if (zclock_mono () >= deadline)
            return false;
        zclock_sleep (20); //  polling interval of a condition, not a guess
    }
    return true;
}

static void s_assert_w3_times_out (const char *why)
{
    rlog_append_result_t result;
    char error[256];
    int rc = s_append (why, 3, 500, &result, error, sizeof error);
    cr_assert_eq (rc, RLOG_TIMEOUT, "w=3 %s: %s (%s)", why, rlog_strerror (rc), error);
    cr_assert_eq (result.acks, 2, "w=3 %s: acks %u", why, result.acks);
    cr_assert (strstr (error, "2 of 3"), "%s", error);
}

//  A client key cannot reach the peer socket at all: its HELLO as s2, while
//  s2 is down, gets no answer, so nothing it does counts toward w.
Test (security, client_key_cannot_reach_the_peer_socket)
{
    s_start_all (2);
    rlog_append_result_t result;
    char error[256];
    cr_assert_eq (s_append ("before", 3, 5000, &result, error, sizeof error), RLOG_OK, "%s", error);
    h_stop (&s_cluster.secondaries[1], SIGKILL);
    struct stat st;
    cr_assert_eq (stat (s_cluster.master.log_path, &st), 0);
    long from = (long)st.st_size;
    s_raw = s_peer_dealer ("alice");
    proto_msg_t reply;
    char text[256];
    cr_assert (!s_hello (s_raw, "s2", QUIET_MS, &reply, text, sizeof text),
               "a client key's HELLO as s2 was answered: %s %s", proto_type_name (reply.type),
               text);
    zsock_destroy (&s_raw);
    s_assert_w3_times_out ("with s2 down and alice's HELLO as s2");
    rlog_status_t status;
    cr_assert (s_status (&s_cluster.master, "master", &status));
    for (size_t i = 0; i < status.secondary_count; i++)
        if (streq (status.secondaries[i].id, "s2"))
            cr_assert_str_neq (status.secondaries[i].state, "healthy");
    //  Not even refused: the master never heard it (the handshake failed).
    FILE *f = fopen (s_cluster.master.log_path, "r");
    cr_assert_not_null (f);
    cr_assert_eq (fseek (f, from, SEEK_SET), 0);
    char line[2048];
    while (fgets (line, sizeof line, f))
        cr_assert (!strstr (line, "HELLO") && !strstr (line, "joined"), "the master heard it: %s",
                   line);
    fclose (f);
}

//  s1's key (a node key, so it reaches the peer socket) HELLOing as s2 is
//  refused: not authenticated as 's2'. The w=3 append still needs the real s2.
Test (security, node_key_cannot_pose_as_another_node)
{
    s_start_all (2);
    h_stop (&s_cluster.secondaries[1], SIGKILL);
    s_raw = s_peer_dealer ("s1");
    proto_msg_t reply;
    char text[256];
    cr_assert (s_hello (s_raw, "s2", REPLY_MS, &reply, text, sizeof text),
               "no answer to s1's key HELLOing as s2");
    cr_assert_eq (reply.type, PROTO_ERROR, "s1's key as s2 got %s", proto_type_name (reply.type));
    cr_assert_eq (reply.code, RLOG_REFUSED);
    cr_assert (strstr (text, "not authenticated as 's2'"), "%s", text);
    cr_assert (
        s_wait_log (&s_cluster.master, "its CURVE key is not the one configured for 's2'", 5000));
    zsock_destroy (&s_raw);
    s_assert_w3_times_out ("with s2 down and s1's key HELLOing as s2");
    //  The real s1 was not disturbed: w=2 is met by it.
    rlog_append_result_t result;
    char error[256];
    cr_assert_eq (s_append ("w2", 2, 5000, &result, error, sizeof error), RLOG_OK, "%s", error);
    cr_assert_eq (result.acks, 2);
}

//  A node id is bound to its configured key from the start, not to the
//  first key that claims it: a secondary process with s2's certificate and
//  --id s1 that comes first is refused (both sides say so); the real s1
//  then joins.
Test (security, node_id_is_bound_to_its_key_from_the_start)
{
    char flags[1200];
    s_keys (1);
    cr_assert (h_start_master (&s_cluster, s_master_flags (flags, sizeof flags)));
    h_node_t *impostor = &s_cluster.secondaries[1]; //  its log: s2.log
    snprintf (impostor->id, sizeof impostor->id, "s1");
    cr_assert (h_start_secondary (&s_cluster, 1, s_secondary_flags ("s2", flags, sizeof flags)));
    cr_assert (
        s_wait_log (&s_cluster.master, "its CURVE key is not the one configured for 's1'", 10000),
        "the master did not refuse s1's id under s2's key");
    cr_assert (s_wait_log (impostor, "not authenticated as 's1'", 10000),
               "the refused node did not log the refusal (see %s)", impostor->log_path);
    rlog_status_t status;
    cr_assert (s_status (impostor, "s2", &status));
    cr_assert_str_eq (status.mode, "refused");
    cr_assert (strstr (status.reason, "not authenticated"), "%s", status.reason);
    cr_assert (s_status (&s_cluster.master, "master", &status));
    cr_assert_str_eq (status.mode, "read-only", "the impostor made the master read-write");
    h_stop (impostor, SIGTERM);
    cr_assert (h_start_secondary (&s_cluster, 0, s_secondary_flags ("s1", flags, sizeof flags)));
    cr_assert (s_wait_healthy ("master", 2), "the real s1 did not join");
    rlog_append_result_t result;
    char error[256];
    cr_assert_eq (s_append ("w2", 2, 5000, &result, error, sizeof error), RLOG_OK, "%s", error);
    cr_assert_eq (result.acks, 2);
}

static int s_count_entry (uint64_t seq, const void *data, size_t size, void *arg)
{
    (void)seq;
    (void)data;
    (void)size;
    (*(int *)arg)++;
    return 0;
}

//  A client with an allowed client key appends and lists, on the master
//  and on a secondary (whose own key is the server key there); no key, or
//  a key in neither directory, gets no answer at all.
Test (security, allowed_client_keys_append_and_list)
{
    s_start_all (2);
    rlog_client_t *alice = s_curve_client (&s_cluster.master, "alice", "master");
    rlog_append_result_t result;
    cr_assert_eq (rlog_client_append (alice, "secret", 6, 3, 5000, &result), RLOG_OK, "%s",
                  rlog_client_error (alice));
    cr_assert_eq (result.seq, 1);
    cr_assert_eq (result.acks, 3);
    int listed = 0;
    cr_assert_eq (rlog_client_list (alice, 1, 0, s_count_entry, &listed), RLOG_OK);
    cr_assert_eq (listed, 1);
    rlog_client_destroy (&alice);
    rlog_client_t *reader = s_curve_client (&s_cluster.secondaries[0], "alice", "s1");
    listed = 0;
    cr_assert_eq (rlog_client_list (reader, 1, 0, s_count_entry, &listed), RLOG_OK, "%s",
                  rlog_client_error (reader));
    cr_assert_eq (listed, 1);
    rlog_client_destroy (&reader);

    rlog_client_t *anon = h_client (&s_cluster.master);
    rlog_client_set_retry (anon, 200, 2);
    cr_assert_eq (rlog_client_append (anon, "x", 1, 1, 0, &result), RLOG_UNREACHABLE);
    rlog_client_destroy (&anon);
    rlog_client_t *mallory = s_curve_client (&s_cluster.master, "mallory", "master");
    rlog_client_set_retry (mallory, 200, 2);
    cr_assert_eq (rlog_client_append (mallory, "x", 1, 1, 0, &result), RLOG_UNREACHABLE);
    rlog_client_destroy (&mallory);
    //  Nothing of theirs was stored.
    alice = s_curve_client (&s_cluster.master, "alice", "master");
    listed = 0;
    cr_assert_eq (rlog_client_list (alice, 1, 0, s_count_entry, &listed), RLOG_OK);
    cr_assert_eq (listed, 1);
    rlog_client_destroy (&alice);
}

//  Start NODE with EXTRA (a bad key setup) and expect it to stop at once
//  with one line naming the problem (NEEDLE): the only line in its log
//  when ONLY, else the only one of rlogd's ("cannot start"). Returns its
//  exit status.
static int s_expect_start_failure (h_node_t *node, bool master, const char *extra,
                                   const char *needle, bool only)
{
    long from = 0;
    struct stat st;
    if (stat (node->log_path, &st) == 0)
        from = (long)st.st_size;
    bool started = master
                       ? h_start_master (&s_cluster, extra)
                       : h_start_secondary (&s_cluster, (int)(node - s_cluster.secondaries), extra);
    cr_assert (!started, "started with %s", extra);
    int status = 0;
    cr_assert_eq (waitpid (node->pid, &status, 0), node->pid);
    node->pid = 0;
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) != 0, "exit status %d for %s", status,
               extra);
    FILE *f = fopen (node->log_path, "r");
    cr_assert_not_null (f);
    cr_assert_eq (fseek (f, from, SEEK_SET), 0);
    char line[2048], said[2048] = "";
    int lines = 0;
    while (fgets (line, sizeof line, f)) {
        if (!only && !strstr (line, "cannot start"))
            continue;
        lines++;
        snprintf (said, sizeof said, "%s", line);
    }
    fclose (f);
    cr_assert_eq (lines, 1, "%d lines for %s (last: %s)", lines, extra, said);
    cr_assert (strstr (said, needle), "'%s' does not say '%s'", said, needle);
    return WEXITSTATUS (status);
}

//  Missing or invalid key files stop a node at start with one clear line.
Test (security, bad_key_files_are_one_clear_line)
{
    char flags[1200];
    s_keys (1);
    const char *d = s_cluster.dir;
    char garbage[300];
    snprintf (garbage, sizeof garbage, "%s/garbage_secret", d);
    FILE *f = fopen (garbage, "w");
    cr_assert_not_null (f);
    fputs ("this is not a certificate\n", f);
    fclose (f);
    snprintf (flags, sizeof flags,
              "--curve-secret %s/missing --curve-allow-nodes %s/nodes --curve-allow-clients "
              "%s/clients",
              d, d, d);
    s_expect_start_failure (&s_cluster.master, true, flags, "not found", true);
    snprintf (flags, sizeof flags,
              "--curve-secret %s/garbage --curve-allow-nodes %s/nodes --curve-allow-clients "
              "%s/clients",
              d, d, d);
    //  (czmq's own parser says "invalid syntax" first, on a line of its own.)
    s_expect_start_failure (&s_cluster.master, true, flags, "not a valid CURVE", false);
    snprintf (flags, sizeof flags,
              "--curve-secret %s/master --curve-allow-nodes %s/no-such-dir "
              "--curve-allow-clients %s/clients",
              d, d, d);
    s_expect_start_failure (&s_cluster.master, true, flags, "no-such-dir", true);
    //  A configured secondary without its certificate in the nodes dir.
    char nodes[300];
    snprintf (nodes, sizeof nodes, "%s/nodes-without-s1", d);
    cr_assert_eq (mkdir (nodes, 0755), 0);
    snprintf (flags, sizeof flags,
              "--curve-secret %s/master --curve-allow-nodes %s --curve-allow-clients %s/clients", d,
              nodes, d);
    s_expect_start_failure (&s_cluster.master, true, flags, "no key for secondary 's1'", true);
    //  A secondary whose --master-key file is missing.
    cr_assert (h_start_master (&s_cluster, s_master_flags (flags, sizeof flags)));
    snprintf (flags, sizeof flags,
              "--curve-secret %s/s1 --curve-allow-clients %s/clients --master-key %s/nowhere", d, d,
              d);
    s_expect_start_failure (&s_cluster.secondaries[0], false, flags, "nowhere", true);
}

//  --curve-client-cert: a file that is not a secret certificate, or the flag
//  without --curve-secret, is a usage error (exit 2) found with the flags; a
//  node's key as the shared client certificate stops the node at start.
Test (security, client_cert_is_checked_at_start)
{
    char flags[1600], base[1200];
    s_keys (1);
    const char *d = s_cluster.dir;
    s_master_flags (base, sizeof base);
    snprintf (flags, sizeof flags, "%s --curve-client-cert %s/nowhere", base, d);
    cr_assert_eq (
        s_expect_start_failure (&s_cluster.master, true, flags, "nowhere_secret not found", true),
        2);
    //  A public certificate alone: a server needs the secret.
    snprintf (flags, sizeof flags, "%s --curve-client-cert %s/nodes/s1", base, d);
    cr_assert_eq (s_expect_start_failure (&s_cluster.master, true, flags,
                                          "only its public half is there", true),
                  2);
    snprintf (flags, sizeof flags, "--curve-client-cert %s/alice", d);
    cr_assert_eq (s_expect_start_failure (&s_cluster.master, true, flags,
                                          "--curve-client-cert needs --curve-secret", true),
                  2);
    snprintf (flags, sizeof flags, "%s --curve-client-cert %s/s1", base, d);
    cr_assert_eq (
        s_expect_start_failure (&s_cluster.master, true, flags, "is node 's1''s key", true), 1);
}

//  Pinned roles take --curve-client-cert too: the master and its secondary
//  present the shared key to clients, and their own to each other (the
//  secondary joins under the master's key); a client trusting the master's
//  own key gets no answer from the master's client socket any more.
Test (security, pinned_nodes_present_a_shared_client_cert)
{
    char flags[1600], base[1200];
    s_keys (1);
    s_keygen ("shared", NULL);
    const char *d = s_cluster.dir;
    snprintf (flags, sizeof flags, "%s --curve-client-cert %s/shared",
              s_master_flags (base, sizeof base), d);
    cr_assert (h_start_master (&s_cluster, flags));
    snprintf (flags, sizeof flags, "%s --curve-client-cert %s/shared",
              s_secondary_flags ("s1", base, sizeof base), d);
    cr_assert (h_start_secondary (&s_cluster, 0, flags));
    cr_assert (s_wait_healthy ("shared", 2), "s1 did not join over CURVE");
    //  From the secondary (first in the list: NOT_MASTER) to the master,
    //  under one server key.
    char eps[200], first[64], second[64], secret[300], key[300];
    snprintf (eps, sizeof eps, "%s,%s", h_endpoint (&s_cluster.secondaries[0], first, sizeof first),
              h_endpoint (&s_cluster.master, second, sizeof second));
    s_path (secret, sizeof secret, "alice");
    s_path (key, sizeof key, "shared");
    rlog_client_t *alice = rlog_client_new (eps);
    cr_assert_not_null (alice);
    cr_assert_eq (rlog_client_set_curve (alice, secret, key), RLOG_OK);
    rlog_append_result_t result;
    cr_assert_eq (rlog_client_append (alice, "shared", 6, 2, 5000, &result), RLOG_OK, "%s",
                  rlog_client_error (alice));
    cr_assert_eq (result.acks, 2);
    rlog_client_destroy (&alice);
    rlog_status_t status;
    cr_assert (!s_status (&s_cluster.master, "master", &status),
               "the master's client socket still presents its own key");
}
