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

//  With CURVE, a vote request as n3 from n2's key is refused: ids are bound
//  to their keys.
Test (failover, votes_count_only_under_the_members_key)
{
    h_elected_init (&s_cluster, NODES, HB_MS);
    char nodes[200], path[300];
    snprintf (nodes, sizeof nodes, "%s/nodes", s_cluster.dir);
    cr_assert_eq (mkdir (nodes, 0700), 0);
    for (int i = 0; i < NODES; i++) {
        zcert_t *cert = zcert_new ();
        snprintf (path, sizeof path, "%s/key-n%d", s_cluster.dir, i + 1);
        cr_assert_eq (zcert_save (cert, path), 0);
        snprintf (path, sizeof path, "%s/n%d", nodes, i + 1);
        cr_assert_eq (zcert_save_public (cert, path), 0);
        zcert_destroy (&cert);
    }
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
