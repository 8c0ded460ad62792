/*  test_actors.c - the roles as zactors inside the test process, as
    Malamute's selftest runs its server: a master and secondaries on
    tcp://127.0.0.1:* with the ports read back from their READY message,
    spoken to in protocol v2 frames over a DEALER. These reach what black-box
    tests cannot name exactly: batched appends (order, a retried batch, a
    batch partly refused by size, write concern per entry, a batch arriving
    at a secondary), the refusals' request ids, and a restart in process.
*/
#include "config.h"
#include "log.h"
#include "node.h"
#include "proto.h"
#include "record.h"
#include "rlog.h"

#include <criterion/criterion.h>
#include <czmq.h>

#define A_NODES_MAX 4

typedef struct {
    config_t mcfg;
    config_t scfg[A_NODES_MAX];
    zactor_t *master;
    zactor_t *secondaries[A_NODES_MAX];
    int client_port, pub_port, peer_port;
    int secondary_port[A_NODES_MAX];
    zsock_t *dealer;
    proto_encoder_t *enc;
    proto_decoder_t *dec;
    uint8_t client_id[PROTO_CLIENT_ID_SIZE];
} cluster_t;

static cluster_t c;

//  Start an actor and read its READY ports (or fail the test with ERROR).
static zactor_t *s_start (zactor_fn *fn, config_t *cfg, int *ports, int count)
{
    zactor_t *actor = zactor_new (fn, cfg);
    cr_assert (actor);
    char *status = zstr_recv (actor);
    cr_assert (status);
    if (!streq (status, "READY")) {
        char *why = zstr_recv (actor);
        cr_assert (false, "actor did not start: %s", why ? why : "?");
    }
    zstr_free (&status);
    for (int i = 0; i < count; i++) {
        char *port = zstr_recv (actor);
        cr_assert (port);
        ports[i] = atoi (port);
        zstr_free (&port);
    }
    return actor;
}

static void s_start_secondary (int i)
{
    config_t *cfg = &c.scfg[i];
    config_defaults (cfg, CONFIG_SECONDARY);
    snprintf (cfg->id, sizeof cfg->id, "s%d", i + 1);
    snprintf (cfg->client_ep, sizeof cfg->client_ep, "tcp://127.0.0.1:*");
    snprintf (cfg->master_pub, sizeof cfg->master_pub, "tcp://127.0.0.1:%d", c.pub_port);
    snprintf (cfg->master_peer, sizeof cfg->master_peer, "tcp://127.0.0.1:%d", c.peer_port);
    cfg->heartbeat_ms = 50;
    char err[256];
    cr_assert_eq (config_finish (cfg, CONFIG_SECONDARY, err, sizeof err), 0, "%s", err);
    c.secondaries[i] = s_start (secondary_actor, cfg, &c.secondary_port[i], 1);
}

static void s_setup (uint32_t replicas, size_t max_msg, uint32_t quorum)
{
    memset (&c, 0, sizeof c);
    log_set_ident ("actors");
    config_defaults (&c.mcfg, CONFIG_MASTER);
    c.mcfg.replicas = replicas;
    c.mcfg.heartbeat_ms = 50;
    c.mcfg.max_msg = max_msg;
    c.mcfg.quorum = quorum;
    snprintf (c.mcfg.client_ep, sizeof c.mcfg.client_ep, "tcp://127.0.0.1:*");
    snprintf (c.mcfg.pub_ep, sizeof c.mcfg.pub_ep, "tcp://127.0.0.1:*");
    snprintf (c.mcfg.peer_ep, sizeof c.mcfg.peer_ep, "tcp://127.0.0.1:*");
    char err[256];
    cr_assert_eq (config_finish (&c.mcfg, CONFIG_MASTER, err, sizeof err), 0, "%s", err);
    int ports[3];
    c.master = s_start (master_actor, &c.mcfg, ports, 3);
    c.client_port = ports[0];
    c.pub_port = ports[1];
    c.peer_port = ports[2];
    c.dealer = zsock_new_dealer (NULL);
    cr_assert (c.dealer);
    zsock_set_linger (c.dealer, 0);
    cr_assert_eq (zsock_connect (c.dealer, "tcp://127.0.0.1:%d", c.client_port), 0);
    c.enc = proto_encoder_new ();
    c.dec = proto_decoder_new (1 << 24);
}

static void s_teardown (void)
{
    zsock_destroy (&c.dealer);
    for (int i = 0; i < A_NODES_MAX; i++)
        zactor_destroy (&c.secondaries[i]);
    zactor_destroy (&c.master);
    proto_encoder_destroy (&c.enc);
    proto_decoder_destroy (&c.dec);
}

//  One request on SOCK, its reply decoded into OUT (waits up to 5 s).
static void s_call (zsock_t *sock, const proto_msg_t *req, proto_msg_t *out)
{
    cr_assert_eq (proto_encode (c.enc, req), 0);
    cr_assert_eq (
        zmq_send (zsock_resolve (sock), proto_encoder_data (c.enc), proto_encoder_size (c.enc), 0),
        (int)proto_encoder_size (c.enc));
    zpoller_t *poller = zpoller_new (sock, NULL);
    cr_assert (zpoller_wait (poller, 5000) == sock, "no reply");
    zpoller_destroy (&poller);
    zframe_t *frame = zframe_recv (sock);
    cr_assert (frame);
    //  The frame stays alive in a static so that OUT's pointers stay valid.
    static zframe_t *last = NULL;
    zframe_destroy (&last);
    last = frame;
    cr_assert_eq (proto_decode (c.dec, zframe_data (frame), zframe_size (frame), out), RLOG_OK,
                  "%s", proto_decoder_error (c.dec));
}

static void s_open (void)
{
    proto_msg_t req = {.type = PROTO_OPEN}, rep;
    s_call (c.dealer, &req, &rep);
    cr_assert_eq (rep.type, PROTO_OPEN_REPLY);
    cr_assert_eq (rep.code, RLOG_OK);
    cr_assert_eq (rep.client_id_size, PROTO_CLIENT_ID_SIZE);
    memcpy (c.client_id, rep.client_id, PROTO_CLIENT_ID_SIZE);
}

static void s_status (zsock_t *sock, proto_status_t *out)
{
    proto_msg_t req = {.type = PROTO_STATUS}, rep;
    s_call (sock, &req, &rep);
    cr_assert_eq (rep.type, PROTO_STATUS_REPLY);
    *out = *rep.status;
}

static zsock_t *s_client_of (int port)
{
    zsock_t *sock = zsock_new_dealer (NULL);
    zsock_set_linger (sock, 0);
    cr_assert_eq (zsock_connect (sock, "tcp://127.0.0.1:%d", port), 0);
    return sock;
}

//  Poll until the master has HEALTHY healthy nodes and is read-write.
static void s_wait_healthy (uint32_t healthy)
{
    for (int i = 0; i < 200; i++) {
        proto_status_t st;
        s_status (c.dealer, &st);
        if (st.healthy >= healthy && streq (st.mode, "read-write"))
            return;
        zclock_sleep (25);
    }
    cr_assert (false, "master never had %u healthy nodes", healthy);
}

//  Poll a node until its head reaches SEQ.
static void s_wait_head (int port, uint64_t seq)
{
    zsock_t *sock = s_client_of (port);
    for (int i = 0; i < 400; i++) {
        proto_status_t st;
        s_status (sock, &st);
        if (st.head >= seq) {
            zsock_destroy (&sock);
            return;
        }
        zclock_sleep (25);
    }
    zsock_destroy (&sock);
    cr_assert (false, "node on port %d never reached head %llu", port, (unsigned long long)seq);
}

//  An APPEND_BATCH of COUNT payloads "m<first+i>" (payload I of size
//  BIG_SIZE instead when I == BIG), request ids FIRST_REQ...
static void s_batch (uint64_t first_req, size_t count, uint64_t w, uint64_t timeout_ms, size_t big,
                     size_t big_size, proto_msg_t *rep)
{
    static uint8_t section[1 << 20];
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        char text[32];
        int len = snprintf (text, sizeof text, "m%llu", (unsigned long long)(first_req + i));
        if (i == big) {
            static uint8_t blob[1 << 16];
            memset (blob, 'x', sizeof blob);
            at += entries_put (section + at, i ? 1 : 0, blob, big_size);
        } else
            at += entries_put (section + at, i ? 1 : 0, text, (size_t)len);
    }
    proto_msg_t req = {.type = PROTO_APPEND_BATCH,
                       .client_id = c.client_id,
                       .client_id_size = PROTO_CLIENT_ID_SIZE,
                       .req_id = first_req,
                       .w = w,
                       .timeout_ms = timeout_ms,
                       .count = count,
                       .data = section,
                       .size = at};
    s_call (c.dealer, &req, rep);
    cr_assert_eq (rep->type, PROTO_APPEND_BATCH_REPLY);
    cr_assert_eq (rep->req_id, first_req);
    cr_assert_eq (rep->count, count);
}

//  The payloads of NODE's log from seq 1, as "m.." strings, must be
//  m1..mN in order.
static void s_assert_log (int port, uint64_t n)
{
    zsock_t *sock = s_client_of (port);
    proto_msg_t req = {.type = PROTO_LIST, .from = 1, .count = 0}, rep;
    s_call (sock, &req, &rep);
    cr_assert_eq (rep.type, PROTO_LIST_REPLY);
    cr_assert_eq (rep.payload_count, n);
    for (size_t i = 0; i < n; i++) {
        char want[32];
        snprintf (want, sizeof want, "m%zu", i + 1);
        cr_assert_eq (rep.payloads[i].size, strlen (want));
        cr_assert (memcmp (rep.payloads[i].data, want, strlen (want)) == 0, "seq %zu", i + 1);
    }
    zsock_destroy (&sock);
}

TestSuite (actors, .timeout = 60);

Test (actors, batch_order_and_retry_and_secondary)
{
    s_setup (2, 1024 * 1024, 0);
    s_start_secondary (0);
    s_start_secondary (1);
    s_wait_healthy (3);
    s_open ();
    proto_msg_t rep;
    s_batch (1, 100, 3, 0, SIZE_MAX, 0, &rep);
    cr_assert_eq (rep.code, RLOG_OK, "%s", rep.text);
    cr_assert_eq (rep.seq, 1);
    cr_assert_eq (rep.acks, 3);
    cr_assert_eq (rep.exception_count, 0);
    s_batch (101, 50, 2, 0, SIZE_MAX, 0, &rep);
    cr_assert_eq (rep.seq, 101);
    //  The same batch again: nothing new, every entry at its original seq.
    s_batch (1, 100, 3, 0, SIZE_MAX, 0, &rep);
    cr_assert_eq (rep.code, RLOG_OK);
    cr_assert_eq (rep.exception_count, 100);
    for (size_t i = 0; i < 100; i++) {
        cr_assert_eq (rep.exceptions[i].index, i);
        cr_assert_eq (rep.exceptions[i].code, RLOG_OK);
        cr_assert_eq (rep.exceptions[i].seq, i + 1);
    }
    s_wait_head (c.secondary_port[0], 150);
    s_wait_head (c.secondary_port[1], 150);
    s_assert_log (c.client_port, 150);
    s_assert_log (c.secondary_port[0], 150);
    s_assert_log (c.secondary_port[1], 150);
    s_teardown ();
}

Test (actors, batch_partly_refused_by_size)
{
    s_setup (1, 4096, 0);
    s_start_secondary (0);
    s_wait_healthy (2);
    s_open ();
    proto_msg_t rep;
    s_batch (1, 10, 2, 0, 3, 5000, &rep);
    cr_assert_eq (rep.code, RLOG_OK, "%s", rep.text);
    cr_assert_eq (rep.exception_count, 1);
    cr_assert_eq (rep.exceptions[0].index, 3);
    cr_assert_eq (rep.exceptions[0].code, RLOG_TOO_LARGE);
    cr_assert_eq (rep.exceptions[0].seq, 0);
    //  Nine entries stored, in order, at seqs 1..9.
    cr_assert_eq (rep.seq, 1);
    s_wait_head (c.secondary_port[0], 9);
    s_teardown ();
}

Test (actors, batch_write_concern_waits_and_times_out)
{
    s_setup (2, 1024 * 1024, 0);
    s_start_secondary (0);
    s_wait_healthy (2);
    s_open ();
    proto_msg_t rep;
    s_batch (1, 20, 2, 0, SIZE_MAX, 0, &rep);
    cr_assert_eq (rep.code, RLOG_OK);
    cr_assert_eq (rep.acks, 2);
    //  w=3 with s2 absent: the whole batch waits, then times out with its
    //  progress; the entries stay.
    s_batch (21, 20, 3, 300, SIZE_MAX, 0, &rep);
    cr_assert_eq (rep.code, RLOG_TIMEOUT, "%s", rep.text);
    cr_assert_eq (rep.seq, 21);
    cr_assert_eq (rep.acks, 2);
    cr_assert (strstr (rep.text, "2 of 3"), "%s", rep.text);
    //  s2 joins late, catches up, and a retry of the batch is answered OK
    //  at the original seqs.
    s_start_secondary (1);
    s_wait_head (c.secondary_port[1], 40);
    s_batch (21, 20, 3, 0, SIZE_MAX, 0, &rep);
    cr_assert_eq (rep.code, RLOG_OK, "%s", rep.text);
    cr_assert_eq (rep.acks, 3);
    cr_assert_eq (rep.exception_count, 20);
    cr_assert_eq (rep.exceptions[19].seq, 40);
    s_assert_log (c.secondary_port[1], 40);
    s_teardown ();
}

Test (actors, refusals_carry_the_request_id)
{
    s_setup (1, 1024, 0);
    s_start_secondary (0);
    s_wait_healthy (2);
    //  A client the master never issued: STALE, with its request id.
    uint8_t stranger[PROTO_CLIENT_ID_SIZE] = {1, 2, 3};
    proto_msg_t req = {.type = PROTO_APPEND,
                       .client_id = stranger,
                       .client_id_size = sizeof stranger,
                       .req_id = 77,
                       .w = 1,
                       .data = (const uint8_t *)"x",
                       .size = 1},
                rep;
    s_call (c.dealer, &req, &rep);
    cr_assert_eq (rep.type, PROTO_APPEND_REPLY);
    cr_assert_eq (rep.code, RLOG_STALE);
    cr_assert_eq (rep.req_id, 77);
    //  Too large: TOO_LARGE, with its request id.
    s_open ();
    static uint8_t big[2048];
    req.client_id = c.client_id;
    req.req_id = 78;
    req.data = big;
    req.size = sizeof big;
    s_call (c.dealer, &req, &rep);
    cr_assert_eq (rep.type, PROTO_APPEND_REPLY);
    cr_assert_eq (rep.code, RLOG_TOO_LARGE);
    cr_assert_eq (rep.req_id, 78);
    //  At a secondary: NOT_MASTER, with its request id and the master's
    //  client endpoint.
    zsock_t *sec = s_client_of (c.secondary_port[0]);
    req.size = 1;
    req.req_id = 79;
    s_call (sec, &req, &rep);
    cr_assert_eq (rep.type, PROTO_APPEND_REPLY);
    cr_assert_eq (rep.code, RLOG_NOT_MASTER);
    cr_assert_eq (rep.req_id, 79);
    cr_assert (strstr (rep.leader, "tcp://127.0.0.1:"), "%s", rep.leader);
    zsock_destroy (&sec);
    s_teardown ();
}

Test (actors, secondary_restarted_in_process_catches_up)
{
    s_setup (1, 1024 * 1024, 1); //  quorum 1: the master alone takes w=1
    s_start_secondary (0);
    s_wait_healthy (2);
    s_open ();
    proto_msg_t rep;
    s_batch (1, 30, 2, 0, SIZE_MAX, 0, &rep);
    cr_assert_eq (rep.code, RLOG_OK);
    zactor_destroy (&c.secondaries[0]);
    s_batch (31, 30, 1, 0, SIZE_MAX, 0, &rep);
    cr_assert_eq (rep.code, RLOG_OK);
    s_start_secondary (0);
    s_wait_head (c.secondary_port[0], 60);
    s_assert_log (c.secondary_port[0], 60);
    s_teardown ();
}
