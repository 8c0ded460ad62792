/*  test_failover.c - elected clusters (rlogd node --peers) on real
    processes: a master killed or paused under load is replaced, nothing a
    majority acknowledged is lost or doubled, the old master rejoins as a
    secondary, a retry across the failover gets its original seq, and
    votes count only from members (and, with CURVE, only under their key).
*/
#define _GNU_SOURCE //  unshare
#include "harness.h"
#include "proto.h"
#include <criterion/criterion.h>
#include <czmq.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <unistd.h>

#define NODES   3
#define HB_MS   100
#define WRITERS 3
#define VALUES  4096 //  per writer at most

static h_cluster_t s_cluster;

static void s_teardown (void)
{
    h_cluster_destroy (&s_cluster);
}

TestSuite (failover, .fini = s_teardown, .timeout = 180.0);

static void s_start_all (const char *extra)
{
    h_elected_init (&s_cluster, NODES, HB_MS);
    cr_assert_eq (s_cluster.node_count, NODES, "could not reserve ports");
    for (int i = 0; i < NODES; i++)
        cr_assert (h_start_node (&s_cluster, i, extra), "node %d did not start", i + 1);
}

static h_node_t *s_node (int i)
{
    return &s_cluster.secondaries[i];
}

//  Writers: unique values appended w=2 through the endpoint list; every
//  acknowledged one recorded with its seq and the time it was answered.
typedef struct {
    int index;
    atomic_bool stop;
    char endpoints[256];
    uint64_t seqs[VALUES];
    int64_t answered[VALUES];
    int acked; //  values 0..acked-1 were sent; seqs[i] != 0 when acknowledged
} writer_t;

static void *s_writer (void *arg)
{
    writer_t *w = (writer_t *)arg;
    rlog_client_t *client = rlog_client_new (w->endpoints);
    cr_assert (client);
    rlog_client_set_retry (client, 300, 20);
    for (int i = 0; i < VALUES && !atomic_load (&w->stop); i++) {
        char text[32];
        int len = snprintf (text, sizeof text, "w%d-%d", w->index, i);
        rlog_append_result_t result;
        if (rlog_client_append (client, text, (size_t)len, 2, 0, &result) == RLOG_OK) {
            w->seqs[i] = result.seq;
            w->answered[i] = zclock_mono ();
        }
        w->acked = i + 1;
    }
    rlog_client_destroy (&client);
    return NULL;
}

//  Every node's log equal, every acknowledged value in it once, at its seq.
static void s_check_logs (writer_t *writers, int count)
{
    h_list_t lists[NODES];
    for (int n = 0; n < NODES; n++)
        cr_assert_eq (h_list (s_node (n), &lists[n]), 0, "list of n%d", n + 1);
    for (int n = 1; n < NODES; n++) {
        cr_assert_eq (lists[n].count, lists[0].count, "n%d holds %zu messages, n1 %zu", n + 1,
                      lists[n].count, lists[0].count);
        for (size_t i = 0; i < lists[0].count; i++)
            cr_assert_str_eq (lists[n].items[i], lists[0].items[i], "message %zu differs", i);
    }
    //  No value twice.
    for (size_t i = 0; i < lists[0].count; i++)
        for (size_t j = i + 1; j < lists[0].count; j++)
            cr_assert_str_neq (lists[0].items[i], lists[0].items[j], "'%s' is there twice",
                               lists[0].items[i]);
    //  Every acknowledged value, once, at its seq (seqs count epoch markers,
    //  which list skips: read each acknowledged seq back directly).
    rlog_client_t *client = h_client (s_node (0));
    for (int w = 0; w < count; w++)
        for (int i = 0; i < writers[w].acked; i++) {
            if (!writers[w].seqs[i])
                continue;
            char want[32];
            snprintf (want, sizeof want, "w%d-%d", w, i);
            bool found = false;
            for (size_t k = 0; k < lists[0].count && !found; k++)
                found = streq (lists[0].items[k], want);
            cr_assert (found, "acknowledged '%s' (seq %llu) is lost", want,
                       (unsigned long long)writers[w].seqs[i]);
        }
    rlog_client_destroy (&client);
    for (int n = 0; n < NODES; n++)
        h_list_free (&lists[n]);
}

static bool s_pred_role (const rlog_status_t *status, void *arg)
{
    return streq (status->role, (const char *)arg);
}

static bool s_pred_head_at_least (const rlog_status_t *status, void *arg)
{
    return status->head >= *(uint64_t *)arg;
}

static void s_wait_converged (void)
{
    int m = h_find_master (&s_cluster, 20000);
    cr_assert_geq (m, 0, "no master");
    rlog_status_t status;
    rlog_client_t *client = h_client (s_node (m));
    cr_assert_eq (rlog_client_status (client, &status), RLOG_OK);
    rlog_client_destroy (&client);
    for (int n = 0; n < NODES; n++)
        cr_assert (h_wait_status (s_node (n), s_pred_head_at_least, &status.head, 20000),
                   "n%d never caught up to %llu", n + 1, (unsigned long long)status.head);
}

Test (failover, kill_master_under_load_loses_no_majority_write)
{
    s_start_all ("");
    int m = h_find_master (&s_cluster, 20000);
    cr_assert_geq (m, 0, "no master elected");
    static writer_t writers[WRITERS];
    pthread_t threads[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        memset (&writers[w], 0, sizeof writers[w]);
        writers[w].index = w;
        h_endpoints (&s_cluster, writers[w].endpoints, sizeof writers[w].endpoints);
        cr_assert_eq (pthread_create (&threads[w], NULL, s_writer, &writers[w]), 0);
    }
    zclock_sleep (1500); //  load before the fault: what is measured runs meanwhile
    int64_t killed = zclock_mono ();
    h_stop (s_node (m), SIGKILL);
    int next = h_find_master (&s_cluster, 20000);
    cr_assert_geq (next, 0, "no new master after the kill");
    cr_assert_neq (next, m);
    zclock_sleep (1500); //  load after the failover
    for (int w = 0; w < WRITERS; w++)
        atomic_store (&writers[w].stop, true);
    for (int w = 0; w < WRITERS; w++)
        pthread_join (threads[w], NULL);
    //  Appends resumed after the kill.
    int64_t first = INT64_MAX;
    for (int w = 0; w < WRITERS; w++)
        for (int i = 0; i < writers[w].acked; i++)
            if (writers[w].seqs[i] && writers[w].answered[i] > killed &&
                writers[w].answered[i] < first)
                first = writers[w].answered[i];
    cr_assert_neq (first, INT64_MAX, "no append was acknowledged after the kill");
    cr_log_info ("first w=2 append acknowledged %lld ms after the master's kill",
                 (long long)(first - killed));
    //  The old master rejoins as a secondary.
    cr_assert (h_start_node (&s_cluster, m, ""));
    cr_assert (h_wait_status (s_node (m), s_pred_role, (void *)"secondary", 20000),
               "the old master did not rejoin as a secondary");
    s_wait_converged ();
    s_check_logs (writers, WRITERS);
}

Test (failover, paused_master_steps_down_and_follows)
{
    s_start_all ("");
    int m = h_find_master (&s_cluster, 20000);
    cr_assert_geq (m, 0);
    static writer_t writer;
    memset (&writer, 0, sizeof writer);
    //  The paused master first in the list: the writer must find the new one.
    int at = snprintf (writer.endpoints, sizeof writer.endpoints, "tcp://127.0.0.1:%d",
                       s_node (m)->client_port);
    for (int n = 0; n < NODES; n++)
        if (n != m)
            at += snprintf (writer.endpoints + at, sizeof writer.endpoints - (size_t)at,
                            ",tcp://127.0.0.1:%d", s_node (n)->client_port);
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_writer, &writer), 0);
    zclock_sleep (500); //  load before the fault
    h_stop (s_node (m), SIGSTOP);
    int next = -1;
    int64_t deadline = zclock_mono () + 20000;
    while (next < 0 && zclock_mono () < deadline) {
        next = h_find_master (&s_cluster, 200);
        if (next == m)
            next = -1; //  a stopped node cannot answer; never it
    }
    cr_assert_geq (next, 0, "no new master while the old one is stopped");
    zclock_sleep (1000); //  load on the new master
    kill (s_node (m)->pid, SIGCONT);
    cr_assert (h_wait_status (s_node (m), s_pred_role, (void *)"secondary", 20000),
               "the old master did not step down");
    zclock_sleep (500); //  load after it is back
    atomic_store (&writer.stop, true);
    pthread_join (thread, NULL);
    s_wait_converged ();
    s_check_logs (&writer, 1);
}

//  A request, in raw frames, on a DEALER to PORT; its reply decoded into
//  REP (its frame kept alive in *KEEP).
static void s_call (int port, const proto_msg_t *req, proto_msg_t *rep, zframe_t **keep,
                    proto_decoder_t *dec)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    zsock_set_linger (sock, 0);
    zsock_set_rcvtimeo (sock, 5000);
    cr_assert_eq (zsock_connect (sock, "tcp://127.0.0.1:%d", port), 0);
    proto_encoder_t *enc = proto_encoder_new ();
    cr_assert_eq (proto_encode (enc, req), 0);
    cr_assert_eq (
        zmq_send (zsock_resolve (sock), proto_encoder_data (enc), proto_encoder_size (enc), 0),
        (int)proto_encoder_size (enc));
    zframe_destroy (keep);
    *keep = zframe_recv (sock);
    cr_assert (*keep, "no reply");
    cr_assert_eq (proto_decode (dec, zframe_data (*keep), zframe_size (*keep), rep), 0);
    proto_encoder_destroy (&enc);
    zsock_destroy (&sock);
}

Test (failover, retry_across_a_failover_gets_its_original_seq)
{
    s_start_all ("");
    int m = h_find_master (&s_cluster, 20000);
    cr_assert_geq (m, 0);
    proto_decoder_t *dec = proto_decoder_new (1 << 20);
    zframe_t *keep = NULL;
    proto_msg_t open = {.type = PROTO_OPEN}, rep;
    s_call (s_node (m)->client_port, &open, &rep, &keep, dec);
    uint8_t id[PROTO_CLIENT_ID_SIZE];
    memcpy (id, rep.client_id, sizeof id);
    proto_msg_t append = {.type = PROTO_APPEND,
                          .client_id = id,
                          .client_id_size = sizeof id,
                          .req_id = 1,
                          .w = 2,
                          .data = (const uint8_t *)"once",
                          .size = 4};
    s_call (s_node (m)->client_port, &append, &rep, &keep, dec);
    cr_assert_eq (rep.code, RLOG_OK, "%s", rep.text);
    uint64_t seq = rep.seq;
    h_stop (s_node (m), SIGKILL);
    int next = h_find_master (&s_cluster, 20000);
    cr_assert_geq (next, 0);
    //  The same request, to the new master: its original seq, no second entry.
    s_call (s_node (next)->client_port, &append, &rep, &keep, dec);
    cr_assert_eq (rep.code, RLOG_OK, "%s", rep.text);
    cr_assert_eq (rep.seq, seq, "a retry after the failover got seq %llu, not %llu",
                  (unsigned long long)rep.seq, (unsigned long long)seq);
    zframe_destroy (&keep);
    proto_decoder_destroy (&dec);
}

//  A vote request on node I's peer socket, as ID for EPOCH: the VOTE back.
static void s_ask_vote (int i, const char *id, uint64_t epoch, proto_msg_t *vote, zframe_t **keep,
                        proto_decoder_t *dec)
{
    proto_msg_t req = {
        .type = PROTO_VOTE_REQUEST, .epoch = epoch, .last_epoch = 1 << 20, .last_seq = 1 << 20};
    snprintf (req.node_id, sizeof req.node_id, "%s", id);
    s_call (s_node (i)->client_port + 2, &req, vote, keep, dec);
    cr_assert_eq (vote->type, PROTO_VOTE);
}

static int s_lines (const char *path, const char *text)
{
    FILE *f = fopen (path, "r");
    char line[1024];
    int n = 0;
    while (f && fgets (line, sizeof line, f))
        n += strstr (line, text) != NULL;
    if (f)
        fclose (f);
    return n;
}

Test (failover, votes_only_from_members)
{
    s_start_all ("");
    int m = h_find_master (&s_cluster, 20000);
    cr_assert_geq (m, 0);
    int other = (m + 1) % NODES;
    rlog_status_t before;
    rlog_client_t *client = h_client (s_node (other));
    cr_assert_eq (rlog_client_status (client, &before), RLOG_OK);
    proto_decoder_t *dec = proto_decoder_new (1 << 20);
    zframe_t *keep = NULL;
    proto_msg_t vote;
    s_ask_vote (other, "stranger", before.epoch + 5, &vote, &keep, dec);
    cr_assert (!vote.granted, "a stranger got a vote");
    rlog_status_t after;
    cr_assert_eq (rlog_client_status (client, &after), RLOG_OK);
    cr_assert_eq (after.epoch, before.epoch, "a stranger's vote request moved the epoch");
    cr_assert_gt (s_lines (s_node (other)->log_path, "stranger"), 0,
                  "the refused vote request was not logged");
    //  The master stays master.
    cr_assert_eq (h_find_master (&s_cluster, 5000), m);
    rlog_client_destroy (&client);
    zframe_destroy (&keep);
    proto_decoder_destroy (&dec);
}

//  A new certificate: DIR/NAME and DIR/NAME_secret, and its public half as
//  DIR/SUBDIR/PUBLIC too when SUBDIR is given (created if missing).
static void s_keygen (const char *name, const char *subdir, const char *public_name)
{
    char path[400];
    zcert_t *cert = zcert_new ();
    cr_assert_not_null (cert);
    snprintf (path, sizeof path, "%s/%s", s_cluster.dir, name);
    cr_assert_eq (zcert_save (cert, path), 0);
    if (subdir) {
        snprintf (path, sizeof path, "%s/%s", s_cluster.dir, subdir);
        mkdir (path, 0700);
        snprintf (path, sizeof path, "%s/%s/%s", s_cluster.dir, subdir, public_name);
        cr_assert_eq (zcert_save_public (cert, path), 0);
    }
    zcert_destroy (&cert);
}

//  Each node its own certificate, DIR/key-nI, its public half in DIR/nodes
//  named by its id (the node directory every node is given).
static void s_node_keys (void)
{
    for (int i = 0; i < NODES; i++) {
        char name[24], id[24];
        snprintf (name, sizeof name, "key-n%d", i + 1);
        snprintf (id, sizeof id, "n%d", i + 1);
        s_keygen (name, "nodes", id);
    }
}

//  With CURVE, a vote request as n3 from n2's key is refused: ids are bound
//  to their keys.
Test (failover, votes_count_only_under_the_members_key)
{
    h_elected_init (&s_cluster, NODES, HB_MS);
    char nodes[200], path[300];
    snprintf (nodes, sizeof nodes, "%s/nodes", s_cluster.dir);
    s_node_keys ();
    for (int i = 0; i < NODES; i++) {
        char extra[700];
        snprintf (extra, sizeof extra, "--curve-secret %s/key-n%d --curve-allow-nodes %s",
                  s_cluster.dir, i + 1, nodes);
        cr_assert (h_start_node (&s_cluster, i, extra));
    }
    //  Elected with CURVE on every link.
    int64_t deadline = zclock_mono () + 20000;
    int m = -1;
    while (m < 0 && zclock_mono () < deadline) {
        for (int i = 0; i < NODES && m < 0; i++)
            if (s_lines (s_node (i)->log_path, "elected master of epoch") > 0)
                m = i;
        zclock_sleep (50); //  polling a condition
    }
    cr_assert_geq (m, 0, "no master elected with CURVE");
    //  n2's key speaking as n3 to n1's peer socket.
    snprintf (path, sizeof path, "%s/key-n2", s_cluster.dir);
    zcert_t *n2 = zcert_load (path);
    snprintf (path, sizeof path, "%s/n1", nodes);
    zcert_t *n1 = zcert_load (path);
    cr_assert (n2 && n1);
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    zsock_set_linger (sock, 0);
    zsock_set_rcvtimeo (sock, 5000);
    zcert_apply (n2, sock);
    zsock_set_curve_serverkey (sock, zcert_public_txt (n1));
    cr_assert_eq (zsock_connect (sock, "tcp://127.0.0.1:%d", s_node (0)->client_port + 2), 0);
    proto_msg_t req = {
        .type = PROTO_VOTE_REQUEST, .epoch = 1 << 30, .last_epoch = 1 << 20, .last_seq = 1 << 20};
    snprintf (req.node_id, sizeof req.node_id, "n3");
    proto_encoder_t *enc = proto_encoder_new ();
    cr_assert_eq (proto_encode (enc, &req), 0);
    zmq_send (zsock_resolve (sock), proto_encoder_data (enc), proto_encoder_size (enc), 0);
    zframe_t *frame = zframe_recv (sock);
    cr_assert (frame, "no answer");
    proto_decoder_t *dec = proto_decoder_new (1 << 20);
    proto_msg_t vote;
    cr_assert_eq (proto_decode (dec, zframe_data (frame), zframe_size (frame), &vote), 0);
    cr_assert_eq (vote.type, PROTO_VOTE);
    cr_assert (!vote.granted, "a vote went to n3's id under n2's key");
    cr_assert_lt (vote.epoch, 1 << 30, "the forged request moved n1's epoch");
    cr_assert_gt (s_lines (s_node (0)->log_path, "not from the key bound to that id"), 0);
    zframe_destroy (&frame);
    proto_decoder_destroy (&dec);
    proto_encoder_destroy (&enc);
    zsock_destroy (&sock);
    zcert_destroy (&n1);
    zcert_destroy (&n2);
}

//  An elected cluster with CURVE: each node its own certificate and the
//  client key alice (DIR/alice, public half in DIR/clients); with SHARED,
//  every node's client socket presents DIR/shared instead of its own.
static void s_start_curve (bool shared)
{
    h_elected_init (&s_cluster, NODES, HB_MS);
    cr_assert_eq (s_cluster.node_count, NODES, "could not reserve ports");
    s_node_keys ();
    s_keygen ("alice", "clients", "alice");
    if (shared)
        s_keygen ("shared", NULL, NULL);
    const char *d = s_cluster.dir;
    for (int i = 0; i < NODES; i++) {
        char extra[1024], client_cert[200] = "";
        if (shared)
            snprintf (client_cert, sizeof client_cert, " --curve-client-cert %s/shared", d);
        snprintf (extra, sizeof extra,
                  "--curve-secret %s/key-n%d --curve-allow-nodes %s/nodes "
                  "--curve-allow-clients %s/clients%s",
                  d, i + 1, d, d, client_cert);
        cr_assert (h_start_node (&s_cluster, i, extra), "node %d did not start", i + 1);
    }
}

//  A client of ENDPOINTS as alice, trusting the server key in DIR/SERVER.
static rlog_client_t *s_alice (const char *endpoints, const char *server, int retry_ms, int retries)
{
    char secret[300], key[300];
    snprintf (secret, sizeof secret, "%s/alice", s_cluster.dir);
    snprintf (key, sizeof key, "%s/%s", s_cluster.dir, server);
    rlog_client_t *client = rlog_client_new (endpoints);
    cr_assert_not_null (client);
    cr_assert_eq (rlog_client_set_curve (client, secret, key), RLOG_OK, "%s",
                  rlog_client_error (client));
    rlog_client_set_retry (client, retry_ms, retries);
    return client;
}

//  Does node I answer STATUS to alice trusting DIR/SERVER? One try.
static bool s_curve_status (int i, const char *server, rlog_status_t *status)
{
    char ep[64];
    rlog_client_t *client = s_alice (h_endpoint (s_node (i), ep, sizeof ep), server, 300, 1);
    bool ok = rlog_client_status (client, status) == RLOG_OK;
    rlog_client_destroy (&client);
    return ok;
}

//  The running node that is master and read-write, asked over CURVE
//  trusting DIR/SERVER, polled until TIMEOUT_MS; -1 if none.
static int s_curve_master (const char *server, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    do {
        for (int i = 0; i < NODES; i++) {
            rlog_status_t status;
            if (s_node (i)->pid > 0 && s_curve_status (i, server, &status) &&
                streq (status.role, "master") && streq (status.mode, "read-write"))
                return i;
        }
        zclock_sleep (20); //  polling interval of a condition
    } while (zclock_mono () < deadline);
    return -1;
}

//  A vote request as n3 on node I's peer socket, under the shared client
//  certificate, trusting node I's own key: answered or not within WAIT_MS.
static bool s_shared_cert_votes (int i, int wait_ms)
{
    char path[300];
    snprintf (path, sizeof path, "%s/shared", s_cluster.dir);
    zcert_t *shared = zcert_load (path);
    snprintf (path, sizeof path, "%s/nodes/n%d", s_cluster.dir, i + 1);
    zcert_t *node = zcert_load (path);
    cr_assert (shared && node);
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    zsock_set_linger (sock, 0);
    zcert_apply (shared, sock);
    zsock_set_curve_serverkey (sock, zcert_public_txt (node));
    cr_assert_eq (zsock_connect (sock, "tcp://127.0.0.1:%d", s_node (i)->client_port + 2), 0);
    proto_msg_t req = {.type = PROTO_VOTE_REQUEST, .epoch = 1 << 30};
    snprintf (req.node_id, sizeof req.node_id, "n3");
    proto_encoder_t *enc = proto_encoder_new ();
    cr_assert_eq (proto_encode (enc, &req), 0);
    zmq_send (zsock_resolve (sock), proto_encoder_data (enc), proto_encoder_size (enc),
              ZMQ_DONTWAIT);
    zpoller_t *poller = zpoller_new (sock, NULL);
    bool answered = zpoller_wait (poller, wait_ms) == sock;
    zpoller_destroy (&poller);
    proto_encoder_destroy (&enc);
    zsock_destroy (&sock);
    zcert_destroy (&node);
    zcert_destroy (&shared);
    return answered;
}

//  One --curve-client-cert on every node: a CURVE client with that one
//  server key and every endpoint follows the master across a failover,
//  while node links keep each node's own key (the elections and the w=2
//  acknowledgements run over them) and the shared secret cannot speak as a
//  node.
Test (failover, shared_client_cert_lets_one_server_key_follow_a_failover)
{
    s_start_curve (true);
    for (int i = 0; i < NODES; i++)
        cr_assert_gt (s_lines (s_node (i)->log_path, "presents the shared certificate"), 0,
                      "n%d did not log its shared client certificate", i + 1);
    int m = s_curve_master ("shared", 20000);
    cr_assert_geq (m, 0, "no master elected with CURVE");
    char endpoints[256];
    h_endpoints (&s_cluster, endpoints, sizeof endpoints);
    //  Each silent try moves to the next endpoint: 10 x 500 ms per call is
    //  room for a loaded machine, not a wait for the election.
    rlog_client_t *client = s_alice (endpoints, "shared", 500, 10);
    rlog_append_result_t before, after;
    cr_assert_eq (rlog_client_append (client, "before", 6, 2, 0, &before), RLOG_OK, "%s",
                  rlog_client_error (client));
    cr_assert_geq (before.acks, 2);
    h_stop (s_node (m), SIGKILL);
    int next = s_curve_master ("shared", 20000);
    cr_assert_geq (next, 0, "no new master after the kill");
    cr_assert_neq (next, m);
    cr_assert_eq (rlog_client_append (client, "after", 5, 2, 0, &after), RLOG_OK,
                  "the same client did not follow the failover: %s", rlog_client_error (client));
    cr_assert_geq (after.acks, 2);
    cr_assert_gt (after.seq, before.seq);
    rlog_client_destroy (&client);
    //  logcli, with the same one server key and every endpoint.
    char out[1024];
    int rc = h_logcli (out, sizeof out,
                       "-e %s --curve-secret %s/alice --server-key %s/shared append -w 2 logcli",
                       endpoints, s_cluster.dir, s_cluster.dir);
    cr_assert_eq (rc, 0, "logcli after the failover: %s", out);
    //  The shared certificate is no node key: a node's peer socket does not
    //  even complete its handshake.
    cr_assert (!s_shared_cert_votes (next, 1000),
               "the shared client certificate reached a peer socket");
}

//  Without a shared client certificate each client socket presents its own
//  node's key: a client trusting n1's key is answered by n1 alone.
Test (failover, without_a_shared_client_cert_one_server_key_reaches_one_node)
{
    s_start_curve (false);
    rlog_status_t status;
    int64_t deadline = zclock_mono () + 10000;
    bool n1 = false;
    while (!(n1 = s_curve_status (0, "nodes/n1", &status)) && zclock_mono () < deadline)
        zclock_sleep (20); //  polling interval of a condition
    cr_assert (n1, "n1 did not answer a client trusting its own key");
    cr_assert_str_eq (status.node_id, "n1");
    for (int i = 1; i < NODES; i++)
        cr_assert (!s_curve_status (i, "nodes/n1", &status),
                   "n%d answered a client trusting n1's key", i + 1);
}

//  A resolver that never answers: a UDP socket on port 53 of a loopback
//  address of its own, named by a resolv.conf bind-mounted over the real one
//  in this test worker's own mount namespace (so only this test's processes
//  see it). Returns the socket, or -1 with the reason in WHY.
static int s_silent_resolver (char *why, size_t why_size)
{
    const char *addr = "127.83.0.1";
    int fd = socket (AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons (53)};
    inet_pton (AF_INET, addr, &sin.sin_addr);
    if (fd < 0 || bind (fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        snprintf (why, why_size, "cannot bind %s:53 (needs root): %s", addr, strerror (errno));
        if (fd >= 0)
            close (fd);
        return -1;
    }
    char conf[200];
    snprintf (conf, sizeof conf, "%s/resolv.conf", s_cluster.dir);
    FILE *f = fopen (conf, "w");
    bool ok = f && fprintf (f, "nameserver %s\noptions timeout:5 attempts:2\n", addr) > 0;
    ok = (f && fclose (f) == 0) && ok;
    if (!ok || unshare (CLONE_NEWNS) != 0 ||
        mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount (conf, "/etc/resolv.conf", NULL, MS_BIND, NULL) != 0) {
        snprintf (why, why_size, "cannot mount a resolv.conf of its own (needs root): %s",
                  strerror (errno));
        close (fd);
        return -1;
    }
    return fd;
}

//  Peers named by host names whose lookup hangs (a DNS server that does not
//  answer, as in a Kubernetes cluster where the other pods do not exist
//  yet) must not stall the node's client port: libzmq resolves a name in
//  the I/O thread of the connecting socket, so the links to peers run on an
//  I/O thread of their own.
Test (failover, hanging_peer_name_lookups_do_not_stall_clients)
{
    h_elected_init (&s_cluster, NODES, HB_MS);
    cr_assert_eq (s_cluster.node_count, NODES, "could not reserve ports");
    char why[200];
    int dns = s_silent_resolver (why, sizeof why);
    if (dns < 0)
        cr_skip_test ("%s", why);
    snprintf (s_cluster.peers, sizeof s_cluster.peers,
              "n1=127.0.0.1:%d,n2=n2.rlog-test.invalid:%d,n3=n3.rlog-test.invalid:%d",
              s_node (0)->client_port, s_node (1)->client_port, s_node (2)->client_port);
    cr_assert (h_start_node (&s_cluster, 0, ""), "n1 did not start");
    //  From the first query on, a lookup is under way and hangs for 10 s.
    zmq_pollitem_t item = {.fd = dns, .events = ZMQ_POLLIN};
    cr_assert_eq (zmq_poll (&item, 1, 20000), 1, "n1 never looked its peers' names up");
    rlog_client_t *client = h_client (s_node (0));
    cr_assert (client);
    rlog_client_set_retry (client, 1000, 1);
    for (int i = 0; i < 5; i++) {
        rlog_status_t status;
        cr_expect_eq (rlog_client_status (client, &status), RLOG_OK,
                      "status %d unanswered while a peer name lookup hangs", i + 1);
    }
    rlog_client_destroy (&client);
    close (dns);
}
