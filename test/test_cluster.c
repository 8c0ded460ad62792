/*  test_cluster.c - integration tests: real rlogd and logcli processes.
 */
#include "harness.h"
#include "proto.h"
#include <criterion/criterion.h>
#include <czmq.h>
#include <pthread.h>
#include <signal.h>
#include <dirent.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static h_cluster_t s_cluster;

static void s_teardown (void)
{
    h_cluster_destroy (&s_cluster);
}

TestSuite (cluster, .fini = s_teardown, .timeout = 60.0);

static void s_wait_healthy (int nodes)
{
    cr_assert (h_wait_status (&s_cluster.master, h_pred_healthy, &nodes, 10000),
               "master never saw %d healthy nodes", nodes);
}

static void s_wait_head (const h_node_t *node, uint64_t head)
{
    cr_assert (h_wait_status (node, h_pred_head, &head, 20000), "%s never reached head %llu",
               node->id, (unsigned long long)head);
}

//  A restarted secondary: the master's status may still show its previous
//  connection healthy, so wait for the secondary to say it was welcomed.
static void s_wait_joined (const h_node_t *node)
{
    cr_assert (h_wait_status (node, h_pred_joined, NULL, 15000), "%s never joined", node->id);
}

static uint64_t s_append (rlog_client_t *client, const char *text, int w, int timeout_ms,
                          int expect)
{
    rlog_append_result_t result;
    int rc = rlog_client_append (client, text, strlen (text), w, timeout_ms, &result);
    cr_assert_eq (rc, expect, "append '%s' w=%d: got %d (%s), expected %d", text, w, rc,
                  rlog_client_error (client), expect);
    return result.seq;
}

//  An append in a thread of its own. RC and SEQ are read after the join;
//  DONE is read while it runs.
typedef struct {
    h_node_t *node;
    const char *text;
    int w;
    int rc;
    uint64_t seq;
    atomic_bool done;
    int retry_ms; //  0: h_client's
    int retries;
} async_append_t;

static void *s_append_thread (void *arg)
{
    async_append_t *a = (async_append_t *)arg;
    rlog_client_t *client = h_client (a->node);
    if (a->retry_ms)
        rlog_client_set_retry (client, a->retry_ms, a->retries);
    rlog_append_result_t result;
    a->rc = rlog_client_append (client, a->text, strlen (a->text), a->w, 0, &result);
    a->seq = result.seq;
    rlog_client_destroy (&client);
    atomic_store (&a->done, true);
    return NULL;
}

static void s_assert_list (const h_node_t *node, const char **expect, size_t count)
{
    h_list_t list;
    cr_assert_eq (h_list (node, &list), RLOG_OK, "list on %s failed", node->id);
    cr_assert_eq (list.count, count, "%s lists %zu entries, expected %zu", node->id, list.count,
                  count);
    for (size_t i = 0; i < count; i++)
        cr_assert_str_eq (list.items[i], expect[i], "%s entry %zu", node->id, i + 1);
    h_list_free (&list);
}

//  The task's self-check: M + S1 up; w=1, w=2 OK; w=3 waits while another
//  client's w=1 returns at once; S2 starts; the w=3 completes; S2 has all.
Test (cluster, selfcheck)
{
    h_cluster_init (&s_cluster, 2, 50);
    h_start_master (&s_cluster, "");
    h_start_secondary (&s_cluster, 0, "");
    s_wait_healthy (2);
    rlog_client_t *client = h_client (&s_cluster.master);
    cr_assert_eq (s_append (client, "Msg1", 1, 0, RLOG_OK), 1);
    cr_assert_eq (s_append (client, "Msg2", 2, 0, RLOG_OK), 2);

    async_append_t msg3 = {&s_cluster.master, "Msg3", 3, -1, 0, false, 0, 0};
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_append_thread, &msg3), 0);
    //  Msg3 is parked; Msg4 from another client must not wait behind it.
    uint64_t s3 = 3;
    s_wait_head (&s_cluster.master, s3);
    int64_t start = zclock_mono ();
    cr_assert_eq (s_append (client, "Msg4", 1, 0, RLOG_OK), 4);
    cr_assert_lt (zclock_mono () - start, 3000, "w=1 append waited behind a w=3 one");
    cr_assert (!atomic_load (&msg3.done), "w=3 completed with only 2 of 3 nodes up");

    h_start_secondary (&s_cluster, 1, "");
    cr_assert_eq (pthread_join (thread, NULL), 0);
    cr_assert_eq (msg3.rc, RLOG_OK, "Msg3 failed: %d", msg3.rc);
    cr_assert_eq (msg3.seq, 3);
    const char *expect[] = {"Msg1", "Msg2", "Msg3", "Msg4"};
    s_wait_head (&s_cluster.secondaries[1], 4);
    s_assert_list (&s_cluster.secondaries[1], expect, 4);
    s_assert_list (&s_cluster.secondaries[0], expect, 4);
    s_assert_list (&s_cluster.master, expect, 4);
    rlog_client_destroy (&client);
}

Test (cluster, write_concern_errors)
{
    h_cluster_init (&s_cluster, 1, 50);
    h_start_master (&s_cluster, "");
    h_start_secondary (&s_cluster, 0, "");
    s_wait_healthy (2);
    rlog_client_t *client = h_client (&s_cluster.master);
    s_append (client, "bad-w", 3, 0, RLOG_BAD_W);
    cr_assert (strstr (rlog_client_error (client), "outside 1..2"), "error text: %s",
               rlog_client_error (client));
    rlog_append_result_t result;
    cr_assert_eq (rlog_client_append (client, "", 0, 1, 0, &result), RLOG_EMPTY);
    //  Nothing was appended by the refusals.
    cr_assert_eq (s_append (client, "first", 2, 0, RLOG_OK), 1);
    //  A secondary answers NOT_MASTER naming the master, and the client
    //  appends there: the entry is the master's next.
    rlog_client_t *sec = h_client (&s_cluster.secondaries[0]);
    cr_assert_eq (s_append (sec, "via s1", 1, 0, RLOG_OK), 2);
    rlog_client_destroy (&sec);
    rlog_client_destroy (&client);
}

Test (cluster, timeout_reports_progress)
{
    h_cluster_init (&s_cluster, 2, 50);
    h_start_master (&s_cluster, "");
    h_start_secondary (&s_cluster, 0, "");
    s_wait_healthy (2);
    rlog_client_t *client = h_client (&s_cluster.master);
    rlog_append_result_t result;
    int64_t start = zclock_mono ();
    int rc = rlog_client_append (client, "slow", 4, 3, 300, &result);
    int64_t took = zclock_mono () - start;
    cr_assert_eq (rc, RLOG_TIMEOUT, "rc %d: %s", rc, rlog_client_error (client));
    cr_assert_geq (took, 290);
    cr_assert_lt (took, 5000);
    cr_assert_eq (result.seq, 1);
    cr_assert_eq (result.acks, 2);
    cr_assert (strstr (rlog_client_error (client), "stored on 2 of 3 nodes"), "%s",
               rlog_client_error (client));
    //  Not rolled back: it is in the log and keeps replicating.
    h_start_secondary (&s_cluster, 1, "");
    s_wait_head (&s_cluster.secondaries[1], 1);
    const char *expect[] = {"slow"};
    s_assert_list (&s_cluster.secondaries[1], expect, 1);
    rlog_client_destroy (&client);
}

Test (cluster, quorum_read_only)
{
    h_cluster_init (&s_cluster, 2, 50);
    h_start_master (&s_cluster, "");
    rlog_client_t *client = h_client (&s_cluster.master);
    //  Alone, the master has 1 of 3 healthy nodes: read-only, nothing stored.
    s_append (client, "refused", 1, 0, RLOG_READ_ONLY);
    cr_assert (strstr (rlog_client_error (client), "1 of 3 nodes healthy, quorum needs 2"), "%s",
               rlog_client_error (client));
    h_start_secondary (&s_cluster, 0, "");
    s_wait_healthy (2);
    cr_assert_eq (s_append (client, "accepted", 1, 0, RLOG_OK), 1);
    //  Losing the secondary loses the quorum again, by itself.
    h_stop (&s_cluster.secondaries[0], SIGKILL);
    rlog_status_t status;
    int64_t deadline = zclock_mono () + 5000;
    do {
        cr_assert_eq (rlog_client_status (client, &status), RLOG_OK);
    } while (!streq (status.mode, "read-only") && zclock_mono () < deadline);
    cr_assert_str_eq (status.mode, "read-only");
    s_append (client, "refused again", 1, 0, RLOG_READ_ONLY);
    h_list_t list;
    cr_assert_eq (h_list (&s_cluster.master, &list), RLOG_OK);
    cr_assert_eq (list.count, 1, "read-only master stored a refused append");
    h_list_free (&list);
    rlog_client_destroy (&client);
}

//  A hop between clients and the master: each client connection (its
//  routing id) gets a DEALER of its own toward the master, so every reply
//  finds its way back in the shape it was asked (a DEALER's [body], a REQ's
//  [""][body]). It counts the appends that pass (APPEND and APPEND_BATCH,
//  protocol v2) and can lose append replies on the way back: a lost reply
//  with a master that is alive, which only a resend under the same ids
//  can recover.
#define HOP_ROUTES 64

typedef struct {
    int master_port;
    int port;              //  clients connect here (set before the actor signals)
    atomic_int appends;    //  APPEND / APPEND_BATCH requests forwarded
    atomic_int append_ids; //  distinct (client id, request id) among them
    atomic_int drop;       //  append replies still to lose
    atomic_int dropped;    //  append replies lost
    uint8_t keys[HOP_ROUTES][32];
} hop_t;

//  Count an append REQ, and whether its (client id, request id) is new.
static void s_hop_count (hop_t *hop, const proto_msg_t *req)
{
    uint8_t key[32] = {0};
    memcpy (key, &req->req_id, sizeof req->req_id);
    memcpy (key + 8, req->client_id, req->client_id_size < 16 ? req->client_id_size : 16);
    int seen = atomic_load (&hop->append_ids);
    bool fresh = true;
    for (int i = 0; i < seen && fresh; i++)
        fresh = memcmp (hop->keys[i], key, sizeof key) != 0;
    if (fresh && seen < HOP_ROUTES) {
        memcpy (hop->keys[seen], key, sizeof key);
        atomic_store (&hop->append_ids, seen + 1);
    }
    atomic_fetch_add (&hop->appends, 1);
}

static bool s_hop_is (proto_decoder_t *decoder, zmsg_t *msg, int type_a, int type_b,
                      proto_msg_t *out)
{
    zframe_t *body = msg ? zmsg_last (msg) : NULL;
    return body && proto_decode (decoder, zframe_data (body), zframe_size (body), out) == RLOG_OK &&
           (out->type == type_a || out->type == type_b);
}

//  A request from a client: to its route's DEALER (made on first sight).
static void s_hop_forward (hop_t *hop, zsock_t *front, zframe_t **ids, zsock_t **backs,
                           size_t *routes, zpoller_t *poller, proto_decoder_t *decoder)
{
    zmsg_t *msg = zmsg_recv (front); //  [routing id][""][body] or [routing id][body]
    zframe_t *id = msg ? zmsg_pop (msg) : NULL;
    size_t r = 0;
    while (id && r < *routes && !zframe_eq (ids[r], id))
        r++;
    if (id && r == *routes && *routes < HOP_ROUTES) {
        ids[r] = zframe_dup (id);
        backs[r] = zsock_new (ZMQ_DEALER);
        zsock_set_linger (backs[r], 0);
        zsock_connect (backs[r], "tcp://127.0.0.1:%d", hop->master_port);
        zpoller_add (poller, backs[r]);
        (*routes)++;
    }
    proto_msg_t req;
    if (s_hop_is (decoder, msg, PROTO_APPEND, PROTO_APPEND_BATCH, &req))
        s_hop_count (hop, &req);
    if (id && r < *routes)
        zmsg_send (&msg, backs[r]);
    zframe_destroy (&id);
    zmsg_destroy (&msg);
}

static void s_hop_actor (zsock_t *pipe, void *args)
{
    hop_t *hop = (hop_t *)args;
    zsock_t *front = zsock_new (ZMQ_ROUTER);
    hop->port = zsock_bind (front, "tcp://127.0.0.1:*");
    zframe_t *ids[HOP_ROUTES];
    zsock_t *backs[HOP_ROUTES];
    size_t routes = 0;
    zpoller_t *poller = zpoller_new (pipe, front, NULL);
    proto_decoder_t *decoder = proto_decoder_new (1 << 20);
    zsock_signal (pipe, 0);
    while (hop->port > 0) {
        void *which = zpoller_wait (poller, -1);
        if (!which || which == pipe)
            break;
        if (which == front) {
            s_hop_forward (hop, front, ids, backs, &routes, poller, decoder);
            continue;
        }
        for (size_t r = 0; r < routes; r++)
            if (which == backs[r]) {
                zmsg_t *reply = zmsg_recv (backs[r]);
                proto_msg_t msg;
                if (s_hop_is (decoder, reply, PROTO_APPEND_REPLY, PROTO_APPEND_BATCH_REPLY, &msg) &&
                    atomic_load (&hop->drop) > 0) {
                    atomic_fetch_sub (&hop->drop, 1);
                    atomic_fetch_add (&hop->dropped, 1);
                    zmsg_destroy (&reply);
                    continue;
                }
                zframe_t *id = zframe_dup (ids[r]);
                if (reply && zmsg_prepend (reply, &id) == 0)
                    zmsg_send (&reply, front); //  a closed client's reply is dropped
                zframe_destroy (&id);
                zmsg_destroy (&reply);
            }
    }
    for (size_t r = 0; r < routes; r++) {
        zframe_destroy (&ids[r]);
        zsock_destroy (&backs[r]);
    }
    proto_decoder_destroy (&decoder);
    zpoller_destroy (&poller);
    zsock_destroy (&front);
}

//  Idempotent retry: a client whose append reply is lost, while the master
//  is alive, resends the same (client id, request id) and gets the original
//  seq. The hop loses the reply and shows the resend happen (no guessing
//  how long is long enough); the master gets the append twice and stores
//  it once.
Test (cluster, lost_reply_is_retried_and_deduplicated)
{
    h_cluster_init (&s_cluster, 0, 50);
    h_start_master (&s_cluster, "");
    int one = 1;
    s_wait_healthy (one);
    hop_t hop;
    memset (&hop, 0, sizeof hop);
    hop.master_port = s_cluster.master.client_port;
    zactor_t *hop_actor = zactor_new (s_hop_actor, &hop);
    cr_assert (hop_actor && hop.port > 0, "cannot start the hop");
    h_node_t via_hop = {.client_port = hop.port, .id = "hop"};
    rlog_client_t *client = h_client (&via_hop);
    rlog_client_set_retry (client, 200, 5);
    cr_assert_eq (s_append (client, "before", 1, 0, RLOG_OK), 1);
    cr_assert_eq (atomic_load (&hop.appends), 1);
    atomic_store (&hop.drop, 1);
    cr_assert_eq (s_append (client, "during", 1, 0, RLOG_OK), 2);
    rlog_client_destroy (&client);
    zactor_destroy (&hop_actor);
    cr_assert_eq (atomic_load (&hop.dropped), 1, "the hop lost no reply");
    cr_assert_geq (atomic_load (&hop.appends), 3, "the client never resent the append (%d seen)",
                   atomic_load (&hop.appends));
    cr_assert_eq (atomic_load (&hop.append_ids), 2, "a resend carried new ids");
    const char *expect[] = {"before", "during"};
    s_assert_list (&s_cluster.master, expect, 2);
}

//  rlogd binds any free port for "*" or 0 and names them in its ready file,
//  written whole (no temporary file left behind) once every socket is bound.
Test (cluster, rlogd_reports_bound_ports_in_ready_file)
{
    h_cluster_init (&s_cluster, 1, 50);
    //  The last --client wins over the harness's own.
    cr_assert (h_start_master (&s_cluster, "--client tcp://127.0.0.1:0"));
    cr_assert (h_start_secondary (&s_cluster, 0, "--client tcp://127.0.0.1:*"));
    FILE *f = fopen (s_cluster.master.ready_path, "r");
    cr_assert_not_null (f);
    char line[128] = "", more[16] = "";
    cr_assert_not_null (fgets (line, sizeof line, f));
    cr_assert_null (fgets (more, sizeof more, f), "a second line: %s", more);
    fclose (f);
    char expect[128];
    snprintf (expect, sizeof expect, "client=%d pub=%d peer=%d\n", s_cluster.master.client_port,
              s_cluster.pub_port, s_cluster.peer_port);
    cr_assert_str_eq (line, expect);
    cr_assert_gt (s_cluster.master.client_port, 0);
    f = fopen (s_cluster.secondaries[0].ready_path, "r");
    cr_assert_not_null (f);
    cr_assert_not_null (fgets (line, sizeof line, f));
    fclose (f);
    snprintf (expect, sizeof expect, "client=%d\n", s_cluster.secondaries[0].client_port);
    cr_assert_str_eq (line, expect);
    //  The ports are the real ones: the secondary found the master through
    //  them, and both answer on theirs.
    s_wait_healthy (2);
    rlog_client_t *client = h_client (&s_cluster.secondaries[0]);
    rlog_status_t status;
    cr_assert_eq (rlog_client_status (client, &status), RLOG_OK, "%s", rlog_client_error (client));
    cr_assert_str_eq (status.role, "secondary");
    rlog_client_destroy (&client);
    char cmd[400], out[256];
    snprintf (cmd, sizeof cmd, "ls -a '%s' | grep -c tmp", s_cluster.dir);
    FILE *p = popen (cmd, "r");
    cr_assert_not_null (p);
    cr_assert_not_null (fgets (out, sizeof out, p));
    pclose (p);
    cr_assert_str_eq (out, "0\n", "temporary files left in %s", s_cluster.dir);
}

//  A signal that lands on the actor's thread rather than the main one ends
//  the actor's loop first (zloop stops on EINTR); rlogd must still shut down
//  and exit 0, not wait forever for an actor that is already gone.
static pid_t s_actor_thread (pid_t pid)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *tasks = opendir (path);
    if (!tasks)
        return -1;
    pid_t found = -1;
    struct dirent *e;
    while ((e = readdir (tasks)) && found < 0) {
        pid_t tid = (pid_t)atoi (e->d_name);
        char comm_path[128], comm[32] = "";
        snprintf (comm_path, sizeof comm_path, "%s/%d/comm", path, (int)tid);
        FILE *f = fopen (comm_path, "r");
        if (f) {
            if (!fgets (comm, sizeof comm, f))
                comm[0] = 0;
            fclose (f);
        }
        //  libzmq names its threads ZMQbg/...; the actor keeps rlogd's name.
        if (tid > 0 && tid != pid && strncmp (comm, "ZMQbg", 5) != 0)
            found = tid;
    }
    closedir (tasks);
    return found;
}

Test (cluster, signal_on_the_actor_thread_still_exits_cleanly)
{
    h_cluster_init (&s_cluster, 1, 50);
    cr_assert (h_start_master (&s_cluster, ""));
    cr_assert (h_start_secondary (&s_cluster, 0, ""));
    s_wait_healthy (2);
    h_node_t *nodes[] = {&s_cluster.master, &s_cluster.secondaries[0]};
    for (int n = 0; n < 2; n++) {
        pid_t pid = nodes[n]->pid;
        pid_t tid = s_actor_thread (pid);
        cr_assert_gt (tid, 0, "no actor thread in %s", nodes[n]->id);
        cr_assert_eq (syscall (SYS_tgkill, pid, tid, SIGTERM), 0);
        int status = 0;
        pid_t got = 0;
        int64_t deadline = zclock_mono () + 10000;
        while ((got = waitpid (pid, &status, WNOHANG)) == 0 && zclock_mono () < deadline)
            zclock_sleep (10); //  polling interval of a condition, not a guess
        cr_assert_eq (got, pid, "%s did not exit after SIGTERM on its actor thread", nodes[n]->id);
        nodes[n]->pid = 0;
        cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "%s: status %d", nodes[n]->id,
                   status);
    }
}

//  A late secondary catches up 100,000 entries, then follows live.
Test (cluster, late_secondary_catches_up, .timeout = 120.0)
{
    h_cluster_init (&s_cluster, 2, 100);
    h_start_master (&s_cluster, "");
    h_start_secondary (&s_cluster, 0, "");
    s_wait_healthy (2);
    rlog_client_t *client = h_client (&s_cluster.master);
    char text[32];
    const uint64_t total = 100000;
    for (uint64_t i = 1; i <= total; i++) {
        snprintf (text, sizeof text, "e%llu", (unsigned long long)i);
        rlog_append_result_t result;
        cr_assert_eq (rlog_client_append (client, text, strlen (text), 1, 0, &result), RLOG_OK);
        cr_assert_eq (result.seq, i);
    }
    h_start_secondary (&s_cluster, 1, "");
    s_wait_head (&s_cluster.secondaries[1], total);
    //  ... and then follows the live stream.
    cr_assert_eq (s_append (client, "live", 3, 5000, RLOG_OK), total + 1);
    h_list_t list;
    cr_assert_eq (h_list (&s_cluster.secondaries[1], &list), RLOG_OK);
    cr_assert_eq (list.count, total + 1);
    for (uint64_t i = 1; i <= total; i++) {
        snprintf (text, sizeof text, "e%llu", (unsigned long long)i);
        cr_assert_str_eq (list.items[i - 1], text);
    }
    cr_assert_str_eq (list.items[total], "live");
    h_list_free (&list);
    rlog_client_destroy (&client);
}

//  Concurrent writers with mixed w against secondaries that drop frames,
//  fail after storing and delay; one is killed and restarted empty mid-run.
//  Afterwards every node lists the same sequence, each acknowledged message
//  exactly once at the seq it was given.
#define WRITERS    4
#define PER_WRITER 300

typedef struct {
    h_node_t *master;
    int writer;
    uint64_t seqs[PER_WRITER]; //  0 = not acknowledged
    bool refused[PER_WRITER];  //  READ_ONLY: definitely not stored
    int failures;              //  anything else
} writer_t;

static void *s_writer (void *arg)
{
    writer_t *wr = (writer_t *)arg;
    rlog_client_t *client = h_client (wr->master);
    rlog_client_set_retry (client, 300, 30);
    for (int i = 0; i < PER_WRITER; i++) {
        char text[32];
        snprintf (text, sizeof text, "w%d-%d", wr->writer, i);
        int w = 1 + (wr->writer + i) % 3;
        rlog_append_result_t result;
        int rc = rlog_client_append (client, text, strlen (text), w, 0, &result);
        if (rc == RLOG_OK)
            wr->seqs[i] = result.seq;
        else if (rc == RLOG_READ_ONLY)
            //  Legitimate while s2 is down and s1's frames are being dropped
            //  on a loaded machine: the quorum may lapse for a moment.
            wr->refused[i] = true;
        else
            wr->failures++;
    }
    rlog_client_destroy (&client);
    return NULL;
}

static bool s_pred_head_at_least (const rlog_status_t *status, void *arg)
{
    return status->head >= *(uint64_t *)arg;
}

Test (cluster, faults_converge, .timeout = 120.0)
{
    h_cluster_init (&s_cluster, 2, 100);
    h_start_master (&s_cluster, "");
    h_start_secondary (&s_cluster, 0, "--drop-rate 0.2 --fail-rate 0.2 --seed 7");
    h_start_secondary (&s_cluster, 1, "--delay-ms 20 --drop-rate 0.1 --seed 11");
    s_wait_healthy (3);
    writer_t writers[WRITERS];
    pthread_t threads[WRITERS];
    for (int k = 0; k < WRITERS; k++) {
        memset (&writers[k], 0, sizeof writers[k]);
        writers[k].master = &s_cluster.master;
        writers[k].writer = k;
        cr_assert_eq (pthread_create (&threads[k], NULL, s_writer, &writers[k]), 0);
    }
    //  Kill s2 once a third of the load is in, restart it with an empty log.
    uint64_t third = WRITERS * PER_WRITER / 3;
    cr_assert (h_wait_status (&s_cluster.master, s_pred_head_at_least, &third, 30000));
    h_stop (&s_cluster.secondaries[1], SIGKILL);
    h_start_secondary (&s_cluster, 1, "--delay-ms 20 --drop-rate 0.1 --seed 13");
    for (int k = 0; k < WRITERS; k++)
        pthread_join (threads[k], NULL);
    for (int k = 0; k < WRITERS; k++)
        cr_assert_eq (writers[k].failures, 0, "writer %d had %d failed appends", k,
                      writers[k].failures);

    h_list_t master;
    cr_assert_eq (h_list (&s_cluster.master, &master), RLOG_OK);
    size_t acked = 0;
    for (int k = 0; k < WRITERS; k++)
        for (int i = 0; i < PER_WRITER; i++) {
            char text[32];
            snprintf (text, sizeof text, "w%d-%d", k, i);
            uint64_t seq = writers[k].seqs[i];
            if (writers[k].refused[i]) {
                for (size_t j = 0; j < master.count; j++)
                    cr_assert_str_neq (master.items[j], text, "refused %s was stored", text);
                continue;
            }
            acked++;
            cr_assert (seq >= 1 && seq <= master.count);
            cr_assert_str_eq (master.items[seq - 1], text, "seq %llu", (unsigned long long)seq);
        }
    //  Every entry is an acknowledged one: nothing else was ever sent.
    cr_assert_eq (master.count, acked, "master holds %zu entries, %zu acknowledged", master.count,
                  acked);
    for (int n = 0; n < 2; n++) {
        s_wait_head (&s_cluster.secondaries[n], master.count);
        h_list_t list;
        cr_assert_eq (h_list (&s_cluster.secondaries[n], &list), RLOG_OK);
        cr_assert_eq (list.count, master.count, "s%d holds %zu of %zu", n + 1, list.count,
                      master.count);
        for (size_t i = 0; i < list.count; i++)
            cr_assert_str_eq (list.items[i], master.items[i], "s%d seq %zu", n + 1, i + 1);
        h_list_free (&list);
    }
    //  The knobs really fired: s1 saw duplicates (fail-rate re-fetches).
    rlog_client_t *s1 = h_client (&s_cluster.secondaries[0]);
    rlog_status_t status;
    cr_assert_eq (rlog_client_status (s1, &status), RLOG_OK);
    cr_assert_gt (status.duplicates, 0, "fail-rate produced no duplicates to drop");
    rlog_client_destroy (&s1);
    h_list_free (&master);
}

//  Raw request on a fresh REQ socket; returns the decoded reply code or -1.
static int s_raw_request (int port, const void *data, size_t size, int *type)
{
    zsock_t *req = zsock_new (ZMQ_REQ);
    zsock_set_linger (req, 0);
    zsock_connect (req, "tcp://127.0.0.1:%d", port);
    zframe_t *frame = zframe_new (data, size);
    zframe_send (&frame, req, 0);
    zpoller_t *poller = zpoller_new (req, NULL);
    int code = -1;
    if (zpoller_wait (poller, 3000) == req) {
        zframe_t *reply = zframe_recv (req);
        proto_decoder_t *decoder = proto_decoder_new (1 << 20);
        proto_msg_t msg;
        if (proto_decode (decoder, zframe_data (reply), zframe_size (reply), &msg) == RLOG_OK) {
            code = (int)msg.code;
            *type = msg.type;
        }
        proto_decoder_destroy (&decoder);
        zframe_destroy (&reply);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&req);
    return code;
}

static int s_raw_peer (int port, const char *identity, const void *data, size_t size, char *text,
                       size_t text_size)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_linger (dealer, 0);
    zsock_set_identity (dealer, identity);
    zsock_connect (dealer, "tcp://127.0.0.1:%d", port);
    zframe_t *frame = zframe_new (data, size);
    zframe_send (&frame, dealer, 0);
    zpoller_t *poller = zpoller_new (dealer, NULL);
    int code = -1;
    if (zpoller_wait (poller, 3000) == dealer) {
        zframe_t *reply = zframe_recv (dealer);
        proto_decoder_t *decoder = proto_decoder_new (1 << 20);
        proto_msg_t msg;
        if (proto_decode (decoder, zframe_data (reply), zframe_size (reply), &msg) == RLOG_OK) {
            code = msg.type == PROTO_ERROR ? (int)msg.code : 0;
            snprintf (text, text_size, "%s", msg.text);
        }
        proto_decoder_destroy (&decoder);
        zframe_destroy (&reply);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    return code;
}

//  Frames a REQ client or a peer DEALER may send that are not rlog's, in
//  protocol v2 (src/lib/proto.h): each gets the error its decoding names.
Test (cluster, malformed_frames_get_errors)
{
    h_cluster_init (&s_cluster, 2, 50);
    h_start_master (&s_cluster, "");
    h_start_secondary (&s_cluster, 0, "");
    h_start_secondary (&s_cluster, 1, "");
    s_wait_healthy (3);
    rlog_client_t *client = h_client (&s_cluster.master);
    rlog_status_t status;
    cr_assert_eq (rlog_client_status (client, &status), RLOG_OK);
    int ports[2] = {s_cluster.master.client_port, s_cluster.secondaries[0].client_port};
    const uint8_t garbage[] = {0xc1, 0xff, 0x00, 0x13};
    const uint8_t version1[] = {0x93, 0x01, 0x01, 0xc0};   //  [1, 1, nil]: v1
    const uint8_t unknown[] = {0x92, 0x02, 0x4d};          //  [2, 77]
    const uint8_t ack[] = {0x94, 0x02, 0x15, 0x01, 0x05};  //  [2, ACK, 1, 5]
    const uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff}; //  array of 4G elements
    const uint8_t wrong[] = {0x96, 0x02, 0x01, 0xc4, 0x00, 0xa1, 0x78, 0x01, 0x00, 0xc4};
    for (int p = 0; p < 2; p++) {
        int type = 0;
        cr_assert_eq (s_raw_request (ports[p], garbage, sizeof garbage, &type), RLOG_MALFORMED);
        cr_assert_eq (type, PROTO_ERROR);
        cr_assert_eq (s_raw_request (ports[p], version1, sizeof version1, &type), RLOG_BAD_VERSION);
        cr_assert_eq (s_raw_request (ports[p], unknown, sizeof unknown, &type), RLOG_UNKNOWN_TYPE);
        cr_assert_eq (s_raw_request (ports[p], ack, sizeof ack, &type), RLOG_UNKNOWN_TYPE);
        cr_assert_eq (s_raw_request (ports[p], huge, sizeof huge, &type), RLOG_MALFORMED);
        cr_assert_eq (s_raw_request (ports[p], wrong, sizeof wrong, &type), RLOG_MALFORMED);
        cr_assert_eq (s_raw_request (ports[p], "", 0, &type), RLOG_MALFORMED);
    }
    //  Peer socket: garbage, an ACK before HELLO (of the master's epoch: one
    //  of another epoch is meant for another master and is dropped), a HELLO
    //  from an id that is not configured, and a third secondary in a cluster
    //  of two.
    char text[256] = "";
    cr_assert_eq (
        s_raw_peer (s_cluster.peer_port, "x1", garbage, sizeof garbage, text, sizeof text),
        RLOG_MALFORMED);
    proto_encoder_t *enc = proto_encoder_new ();
    proto_msg_t msg = {.type = PROTO_ACK, .epoch = status.epoch, .acked = 1};
    cr_assert_eq (proto_encode (enc, &msg), 0);
    cr_assert_eq (s_raw_peer (s_cluster.peer_port, "x2", proto_encoder_data (enc),
                              proto_encoder_size (enc), text, sizeof text),
                  RLOG_REFUSED);
    cr_assert (strstr (text, "send HELLO first"), "%s", text);
    const char *strangers[] = {"liar", "s3", "s9"};
    for (int i = 0; i < 3; i++) {
        msg = (proto_msg_t){.type = PROTO_HELLO};
        snprintf (msg.node_id, sizeof msg.node_id, "%s", strangers[i]);
        cr_assert_eq (proto_encode (enc, &msg), 0);
        cr_assert_eq (s_raw_peer (s_cluster.peer_port, strangers[i], proto_encoder_data (enc),
                                  proto_encoder_size (enc), text, sizeof text),
                      RLOG_REFUSED);
        cr_assert (strstr (text, "not a configured secondary"), "%s", text);
    }
    //  An oversized append is refused, naming its request, and stores nothing.
    size_t big = 1024 * 1024 + 1;
    uint8_t *payload = (uint8_t *)calloc (1, big);
    memset (payload, 'x', big);
    uint8_t cid[PROTO_CLIENT_ID_SIZE] = {1};
    msg = (proto_msg_t){.type = PROTO_APPEND,
                        .client_id = cid,
                        .client_id_size = sizeof cid,
                        .req_id = 7,
                        .w = 1,
                        .data = payload,
                        .size = big};
    cr_assert_eq (proto_encode (enc, &msg), 0);
    int type = 0;
    cr_assert_eq (
        s_raw_request (ports[0], proto_encoder_data (enc), proto_encoder_size (enc), &type),
        RLOG_TOO_LARGE);
    cr_assert_eq (type, PROTO_APPEND_REPLY);
    free (payload);
    proto_encoder_destroy (&enc);
    //  Still fully working: a w=3 append succeeds and is the first entry.
    cr_assert_eq (s_append (client, "still alive", 3, 5000, RLOG_OK), 1);
    rlog_client_destroy (&client);
}

static bool s_pred_not_following_yet (const rlog_status_t *status, void *arg)
{
    (void)arg;
    return strstr (status->reason, "peer port") != NULL;
}

//  11.7: a secondary whose --master-peer is the master's CLIENT port hears
//  the stream (its --master-pub is right) but is never welcomed: it must
//  never say "following"; its status and its log say what is wrong, and
//  the master logs the HELLO it got on its client socket.
Test (cluster, secondary_on_the_client_port_is_not_following)
{
    h_cluster_init (&s_cluster, 2, 50);
    h_start_master (&s_cluster, "");
    h_start_secondary (&s_cluster, 0, "");
    s_wait_healthy (2);
    rlog_client_t *client = h_client (&s_cluster.master);
    for (int i = 0; i < 20; i++)
        s_append (client, "x", 2, 5000, RLOG_OK);
    char extra[128];
    //  The last --master-peer wins over the harness's own.
    snprintf (extra, sizeof extra, "--master-peer tcp://127.0.0.1:%d",
              s_cluster.master.client_port);
    h_start_secondary (&s_cluster, 1, extra);
    cr_assert (h_wait_status (&s_cluster.secondaries[1], s_pred_not_following_yet, NULL, 10000),
               "s2 never said its peer endpoint is wrong");
    //  It stays so: a dozen heartbeats later, it is still not following.
    int64_t until = zclock_mono () + 600;
    rlog_client_t *s2 = h_client (&s_cluster.secondaries[1]);
    rlog_status_t status;
    do {
        cr_assert_eq (rlog_client_status (s2, &status), RLOG_OK);
        cr_assert (streq (status.mode, "connecting") || streq (status.mode, "refused"),
                   "s2 is '%s' though it was never welcomed", status.mode);
        cr_assert_eq (status.head, 0, "s2 holds %llu entries", (unsigned long long)status.head);
        zclock_sleep (50); //  sampling interval
    } while (zclock_mono () < until);
    cr_assert (strstr (status.reason, "is the peer endpoint the master's peer port?"), "%s",
               status.reason);
    rlog_client_destroy (&s2);
    FILE *f = fopen (s_cluster.secondaries[1].log_path, "r");
    char line[1024];
    bool said = false;
    while (f && !said && fgets (line, sizeof line, f))
        said = strstr (line, "master's peer port") != NULL;
    if (f)
        fclose (f);
    cr_assert (said, "s2's log does not say its peer endpoint may be wrong (%s)",
               s_cluster.secondaries[1].log_path);
    f = fopen (s_cluster.master.log_path, "r");
    said = false;
    while (f && !said && fgets (line, sizeof line, f))
        said = strstr (line, "HELLO is not accepted on the client socket") != NULL;
    if (f)
        fclose (f);
    cr_assert (said, "the master did not log the HELLO on its client socket");
    //  The master does not count it either.
    cr_assert_eq (rlog_client_status (client, &status), RLOG_OK);
    cr_assert_eq (status.healthy, 2);
    s_append (client, "w3", 3, 300, RLOG_TIMEOUT);
    rlog_client_destroy (&client);
}

Test (cluster, logcli_black_box)
{
    h_cluster_init (&s_cluster, 1, 50);
    char out[4096], ep[64], sep[64];
    //  Nothing listening: unreachable, exit 5, one clear line.
    int dead_fd;
    int dead = h_dead_port (&dead_fd);
    cr_assert_gt (dead, 0);
    cr_assert_eq (
        h_logcli (out, sizeof out, "-e tcp://127.0.0.1:%d --retry-ms 100 --retries 2 status", dead),
        5);
    close (dead_fd);
    cr_assert (strstr (out, "no reply from"), "%s", out);
    h_start_master (&s_cluster, "");
    h_endpoint (&s_cluster.master, ep, sizeof ep);
    int one = 1;
    //  Master alone with 1 secondary configured: quorum 2, so read-only.
    cr_assert (h_wait_status (&s_cluster.master, h_pred_head, &(uint64_t){0}, 5000));
    (void)one;
    cr_assert_eq (h_logcli (out, sizeof out, "-e %s append hello", ep), 3, "%s", out);
    cr_assert (strstr (out, "read-only"), "%s", out);
    h_start_secondary (&s_cluster, 0, "");
    h_endpoint (&s_cluster.secondaries[0], sep, sizeof sep);
    s_wait_healthy (2);
    cr_assert_eq (h_logcli (out, sizeof out, "-e %s append -w 2 'hello world'", ep), 0, "%s", out);
    cr_assert_str_eq (out, "1\n");
    cr_assert_eq (h_logcli (out, sizeof out, "-e %s append -w 3 x", ep), 3, "%s", out);
    cr_assert (strstr (out, "outside 1..2"), "%s", out);
    cr_assert_eq (h_logcli (out, sizeof out, "-e %s append -w 2 second", ep), 0);
    s_wait_head (&s_cluster.secondaries[0], 2);
    cr_assert_eq (h_logcli (out, sizeof out, "-e %s list", sep), 0);
    cr_assert_str_eq (out, "hello world\nsecond\n");
    cr_assert_eq (h_logcli (out, sizeof out, "-e %s list --from 2 --json", ep), 0);
    cr_assert_str_eq (out, "{\"seq\":2,\"message\":\"second\"}\n");
    cr_assert_eq (h_logcli (out, sizeof out, "-e %s status --json", ep), 0);
    cr_assert (strstr (out, "\"role\":\"master\""), "%s", out);
    cr_assert (strstr (out, "\"id\":\"s1\",\"state\":\""), "%s", out);
    cr_assert_eq (h_logcli (out, sizeof out, "-e %s status", sep), 0);
    cr_assert (strstr (out, "role       secondary"), "%s", out);
    cr_assert (strstr (out, "reachable"), "%s", out);
    //  An append given to a secondary goes to the master it names.
    cr_assert_eq (h_logcli (out, sizeof out, "-e %s append -w 2 third", sep), 0, "%s", out);
    cr_assert_str_eq (out, "3\n");
    cr_assert_eq (h_logcli (out, sizeof out, "-e %s append", ep), 2);
    cr_assert_eq (h_logcli (out, sizeof out, "frobnicate"), 2);
    cr_assert_eq (h_logcli (out, sizeof out, "--help"), 0);
    cr_assert (strstr (out, "exit status"), "%s", out);
    //  A timeout: s1 is healthy but holds entries back 2 s, so w=2 cannot be
    //  met in 200 ms (and the quorum stays met, so the answer is TIMEOUT).
    h_stop (&s_cluster.secondaries[0], SIGKILL);
    h_start_secondary (&s_cluster, 0, "--delay-ms 2000");
    s_wait_joined (&s_cluster.secondaries[0]);
    s_wait_healthy (2);
    cr_assert_eq (h_logcli (out, sizeof out, "-e %s append -w 2 -t 200 late", ep), 4, "%s", out);
    cr_assert (strstr (out, "timed out: stored on 1 of 2 nodes"), "%s", out);
}

//  The pipelined API keeps a window of appends in flight on one DEALER;
//  every completion names its request, and seqs are dense and unique.
Test (cluster, pipeline_window)
{
    h_cluster_init (&s_cluster, 2, 50);
    h_start_master (&s_cluster, "");
    h_start_secondary (&s_cluster, 0, "");
    h_start_secondary (&s_cluster, 1, "--drop-rate 0.05 --seed 3");
    s_wait_healthy (3);
    char ep[64];
    rlog_pipeline_t *pipe = rlog_pipeline_new (h_endpoint (&s_cluster.master, ep, sizeof ep), 3, 0);
    cr_assert_not_null (pipe);
    const size_t total = 20000, window = 1000;
    uint64_t *seq_of = (uint64_t *)calloc (total + 1, sizeof (uint64_t));
    bool *seen = (bool *)calloc (total + 1, sizeof (bool));
    size_t submitted = 0, completed = 0;
    rlog_completion_t done[256];
    int64_t deadline = zclock_mono () + 30000;
    while (completed < total && zclock_mono () < deadline) {
        while (submitted < total && rlog_pipeline_in_flight (pipe) < window) {
            char text[32];
            snprintf (text, sizeof text, "p%zu", submitted + 1);
            uint64_t id = rlog_pipeline_submit (pipe, text, strlen (text));
            cr_assert_eq (id, submitted + 1);
            submitted++;
        }
        size_t n = rlog_pipeline_collect (pipe, 100, done, 256);
        for (size_t i = 0; i < n; i++) {
            cr_assert_eq (done[i].code, RLOG_OK, "req %llu code %d",
                          (unsigned long long)done[i].req_id, done[i].code);
            cr_assert (done[i].req_id >= 1 && done[i].req_id <= total);
            cr_assert (done[i].acks >= 3);
            seq_of[done[i].req_id] = done[i].seq;
            cr_assert (done[i].seq >= 1 && done[i].seq <= total);
            cr_assert (!seen[done[i].seq], "seq %llu given twice", (unsigned long long)done[i].seq);
            seen[done[i].seq] = true;
        }
        completed += n;
    }
    cr_assert_eq (completed, total);
    cr_assert_eq (rlog_pipeline_in_flight (pipe), 0);
    //  One DEALER, one connection: the master appends in submission order.
    for (size_t r = 1; r <= total; r++)
        cr_assert_eq (seq_of[r], r);
    rlog_pipeline_destroy (&pipe);
    free (seq_of);
    free (seen);
}

static bool s_pred_state (const rlog_status_t *status, void *arg)
{
    const char *want = (const char *)arg; //  "s1=unhealthy"
    for (size_t i = 0; i < status->secondary_count; i++) {
        char pair[96];
        snprintf (pair, sizeof pair, "%s=%s", status->secondaries[i].id,
                  status->secondaries[i].state);
        if (streq (pair, want))
            return true;
    }
    return false;
}

static bool s_pred_reachable (const rlog_status_t *status, void *arg)
{
    return status->master_reachable == *(bool *)arg;
}

//  SIGSTOP a secondary past the Unhealthy threshold: the master sees it go
//  Suspected, then Unhealthy; after SIGCONT it is Healthy again and has every
//  entry appended meanwhile, once.
Test (cluster, pause_and_resume_secondary)
{
    h_cluster_init (&s_cluster, 2, 50);
    h_start_master (&s_cluster, "--suspect-ms 250 --unhealthy-ms 600 --recover-ms 200");
    h_start_secondary (&s_cluster, 0, "");
    h_start_secondary (&s_cluster, 1, "");
    s_wait_healthy (3);
    rlog_client_t *client = h_client (&s_cluster.master);
    s_append (client, "a", 3, 5000, RLOG_OK);
    kill (s_cluster.secondaries[1].pid, SIGSTOP);
    cr_assert (h_wait_status (&s_cluster.master, s_pred_state, "s2=suspected", 5000));
    cr_assert (h_wait_status (&s_cluster.master, s_pred_state, "s2=unhealthy", 5000));
    for (int i = 0; i < 50; i++)
        s_append (client, "b", 2, 5000, RLOG_OK);
    kill (s_cluster.secondaries[1].pid, SIGCONT);
    cr_assert (h_wait_status (&s_cluster.master, s_pred_state, "s2=healthy", 5000));
    s_wait_head (&s_cluster.secondaries[1], 51);
    h_list_t list;
    cr_assert_eq (h_list (&s_cluster.secondaries[1], &list), RLOG_OK);
    cr_assert_eq (list.count, 51);
    h_list_free (&list);
    rlog_client_destroy (&client);
}

//  SIGSTOP the master: secondaries report it unreachable, then reachable
//  again after SIGCONT, and replication resumes.
Test (cluster, pause_and_resume_master)
{
    h_cluster_init (&s_cluster, 1, 50);
    h_start_master (&s_cluster, "");
    h_start_secondary (&s_cluster, 0, "--unhealthy-ms 400");
    s_wait_healthy (2);
    bool reachable = false;
    kill (s_cluster.master.pid, SIGSTOP);
    cr_assert (h_wait_status (&s_cluster.secondaries[0], s_pred_reachable, &reachable, 5000));
    kill (s_cluster.master.pid, SIGCONT);
    reachable = true;
    cr_assert (h_wait_status (&s_cluster.secondaries[0], s_pred_reachable, &reachable, 5000));
    rlog_client_t *client = h_client (&s_cluster.master);
    s_wait_healthy (2);
    cr_assert_eq (s_append (client, "after", 2, 5000, RLOG_OK), 1);
    rlog_client_destroy (&client);
}

//  SIGTERM with an append parked: the client is told how far it got, and
//  the master exits 0.
Test (cluster, graceful_shutdown_answers_waiters)
{
    h_cluster_init (&s_cluster, 2, 50);
    h_start_master (&s_cluster, "");
    h_start_secondary (&s_cluster, 0, "");
    s_wait_healthy (2);
    async_append_t a = {&s_cluster.master, "parked", 3, -1, 0, false, 0, 0};
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_append_thread, &a), 0);
    uint64_t one = 1;
    s_wait_head (&s_cluster.master, one);
    kill (s_cluster.master.pid, SIGTERM);
    int status = 0;
    cr_assert_eq (waitpid (s_cluster.master.pid, &status, 0), s_cluster.master.pid);
    s_cluster.master.pid = 0;
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d", status);
    pthread_join (thread, NULL);
    cr_assert_eq (a.rc, RLOG_TIMEOUT, "parked append got %d", a.rc);
    cr_assert_eq (a.seq, 1);
    h_stop (&s_cluster.secondaries[0], SIGTERM);
}

//  A secondary that cannot keep up (--delay-ms 200) slows neither the other
//  secondary nor w=2 clients, and catches up when the load stops.
Test (cluster, slow_secondary_does_not_slow_others)
{
    h_cluster_init (&s_cluster, 2, 50);
    h_start_master (&s_cluster, "");
    h_start_secondary (&s_cluster, 0, "");
    h_start_secondary (&s_cluster, 1, "--delay-ms 200");
    s_wait_healthy (3);
    rlog_client_t *client = h_client (&s_cluster.master);
    int64_t start = zclock_mono ();
    for (int i = 1; i <= 300; i++)
        cr_assert_eq (s_append (client, "x", 2, 0, RLOG_OK), (uint64_t)i);
    int64_t took = zclock_mono () - start;
    //  Had s2 gated them, 300 appends would take at least 300 x 200 ms.
    cr_assert_lt (took, 15000, "300 w=2 appends took %lld ms", (long long)took);
    rlog_status_t status;
    cr_assert_eq (rlog_client_status (client, &status), RLOG_OK);
    bool lagging = false;
    for (size_t k = 0; k < status.secondary_count; k++)
        if (streq (status.secondaries[k].id, "s2"))
            lagging = status.secondaries[k].lag > 0;
    cr_assert (lagging, "s2 was not behind: the test did not exercise a slow secondary");
    s_wait_head (&s_cluster.secondaries[1], 300);
    rlog_client_destroy (&client);
}

//  Clients made and used in many threads at once, in a process that has not
//  touched czmq yet: the library's one-time set-up must not race. A barrier
//  releases the threads together so they meet in that set-up.
#define PARALLEL_CLIENTS 32

typedef struct {
    pthread_barrier_t *barrier;
    const char *endpoint;
} parallel_t;

static void *s_status_thread (void *arg)
{
    parallel_t *p = (parallel_t *)arg;
    pthread_barrier_wait (p->barrier);
    rlog_client_t *client = rlog_client_new (p->endpoint);
    rlog_client_set_retry (client, 50, 1);
    rlog_status_t status;
    int rc = rlog_client_status (client, &status);
    rlog_client_destroy (&client);
    return (void *)(intptr_t)rc;
}

Test (cluster, clients_in_parallel_threads)
{
    char ep[64];
    int dead_fd;
    int port = h_dead_port (&dead_fd);
    cr_assert_gt (port, 0);
    snprintf (ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    pthread_barrier_t barrier;
    pthread_barrier_init (&barrier, NULL, PARALLEL_CLIENTS);
    parallel_t p = {&barrier, ep};
    pthread_t threads[PARALLEL_CLIENTS];
    for (int i = 0; i < PARALLEL_CLIENTS; i++)
        cr_assert_eq (pthread_create (&threads[i], NULL, s_status_thread, &p), 0);
    for (int i = 0; i < PARALLEL_CLIENTS; i++) {
        void *rc;
        pthread_join (threads[i], &rc);
        cr_assert_eq ((int)(intptr_t)rc, RLOG_UNREACHABLE, "nothing listens there");
    }
    pthread_barrier_destroy (&barrier);
    close (dead_fd);
}

static bool s_pred_waiting (const rlog_status_t *status, void *arg)
{
    (void)arg;
    return status->waiting >= 1;
}

//  Acknowledgements count only nodes that hold the entry. A secondary that
//  leaves (SIGTERM) and comes back says HELLO on a new connection, which
//  ends what its old one had acked: a w=3 append waiting meanwhile must go
//  on waiting until the returning node holds it (its --delay-ms holds its
//  WELCOME and everything after back), not be answered at the HELLO with
//  the other secondary's ACK counted twice.
Test (cluster, returning_secondary_counts_only_once_it_holds_the_entry)
{
    h_cluster_init (&s_cluster, 2, 50);
    cr_assert (h_start_master (&s_cluster, ""));
    cr_assert (h_start_secondary (&s_cluster, 0, ""));
    cr_assert (h_start_secondary (&s_cluster, 1, ""));
    s_wait_healthy (3);
    rlog_client_t *client = h_client (&s_cluster.master);
    s_append (client, "before", 3, 0, RLOG_OK);
    rlog_client_destroy (&client);
    h_stop (&s_cluster.secondaries[0], SIGTERM);
    static async_append_t waiter;
    memset (&waiter, 0, sizeof waiter);
    waiter.node = &s_cluster.master;
    waiter.text = "waits for s1";
    waiter.w = 3;
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_append_thread, &waiter), 0);
    cr_assert (h_wait_status (&s_cluster.master, s_pred_waiting, NULL, 10000),
               "the w=3 append never waited");
    cr_assert (h_start_secondary (&s_cluster, 0, "--delay-ms 1500"));
    while (!atomic_load (&waiter.done))
        zclock_sleep (5); //  polling interval of a condition
    pthread_join (thread, NULL);
    cr_assert_eq (waiter.rc, RLOG_OK);
    //  Answered OK with w=3: s1 holds it now (a node never forgets what it
    //  acked while it runs).
    rlog_status_t status;
    client = h_client (&s_cluster.secondaries[0]);
    cr_assert_eq (rlog_client_status (client, &status), RLOG_OK);
    rlog_client_destroy (&client);
    cr_assert_geq (status.head, waiter.seq,
                   "a w=3 append was answered OK at seq %llu while s1 held only %llu",
                   (unsigned long long)waiter.seq, (unsigned long long)status.head);
}
