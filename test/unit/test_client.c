/*  test_client.c - librlog against fake nodes: the synchronous client
    (src/lib/client.c), the pipeline (pipeline.c), the bulk appender
    (bulk.c) and what they share (session.c, entries.c).

    A fake node is a ROUTER on tcp://127.0.0.1:* in an actor thread that
    speaks protocol v2 through proto.h: it issues client ids (OPEN), keeps
    a dedup table, gives new entries consecutive seqs, answers APPEND and
    APPEND_BATCH (duplicates and refusals as exceptions), STATUS and LIST.
    Fake nodes of one test share a cluster (issued ids, entries), so a
    second node can play the master a secondary names. Knobs script what
    goes wrong: a secondary with a leader, replies dropped (the request
    processed), requests lost, clients forgotten, replies held back, total
    silence, whole-batch refusals. Every frame a node receives is recorded
    (type, client id, first request id, each entry's request id, whether
    the deltas were right) for the assertions.

    No sleeps stand in for conditions: tests wait for recorded frames with
    a bounded condition wait; retry times are short and bounded.
*/
#include "entries.h"
#include "proto.h"
#include "rlog.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <pthread.h>

#define MAX_FRAMES  4096
#define MAX_ENTRIES 8192
#define FRAME_REQS  64

typedef struct {
    int node;
    int type;
    uint8_t client_id[PROTO_CLIENT_ID_SIZE];
    uint64_t first_req;
    uint32_t count;
    bool deltas_ok;
    uint64_t reqs[FRAME_REQS];
} frame_rec_t;

typedef struct {
    uint8_t client_id[PROTO_CLIENT_ID_SIZE];
    uint64_t req_id;
    char payload[64];
    size_t size;
} entry_rec_t;

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    uint8_t known[64][PROTO_CLIENT_ID_SIZE];
    size_t known_count;
    uint64_t issued;
    size_t opens;
    entry_rec_t entries[MAX_ENTRIES]; //  entry i has seq i + 1
    size_t entry_count;
    frame_rec_t frames[MAX_FRAMES];
    size_t frame_count;
} cluster_t;

typedef struct {
    uint8_t route[256];
    size_t route_size;
    zframe_t *frame;
} held_t;

typedef struct {
    cluster_t *cluster;
    int index;
    zactor_t *actor;
    char endpoint[64];
    //  Script (under the cluster's lock)
    bool secondary;
    char leader[PROTO_ENDPOINT_MAX + 1];
    int drop_replies;       //  append replies not sent (the request is processed)
    bool forget_after_drop; //  ... and then the cluster forgets every client
    int lose_requests;      //  appends ignored whole (neither processed nor answered)
    bool silent;            //  nothing answered at all
    int refuse_all;         //  code refusing every append request whole
    size_t hold;            //  hold append replies until this many entries came
    size_t entries_seen;
    size_t seen_at_first_reply;
    bool replied;
    held_t held[64];
    size_t held_count;
    proto_status_t status;
    //  Actor-side codec
    proto_encoder_t *encoder;
    proto_decoder_t *decoder;
} fake_t;

//  --------------------------------------------------------------------------
//  The fake node

static bool s_known (cluster_t *c, const uint8_t *id)
{
    for (size_t i = 0; i < c->known_count; i++)
        if (memcmp (c->known[i], id, PROTO_CLIENT_ID_SIZE) == 0)
            return true;
    return false;
}

static uint64_t s_lookup (cluster_t *c, const uint8_t *id, uint64_t req_id)
{
    for (size_t i = 0; i < c->entry_count; i++)
        if (c->entries[i].req_id == req_id &&
            memcmp (c->entries[i].client_id, id, PROTO_CLIENT_ID_SIZE) == 0)
            return i + 1;
    return 0;
}

static uint64_t s_store (cluster_t *c, const uint8_t *id, uint64_t req_id, const uint8_t *data,
                         size_t size)
{
    cr_assert (c->entry_count < MAX_ENTRIES);
    entry_rec_t *e = &c->entries[c->entry_count++];
    memcpy (e->client_id, id, PROTO_CLIENT_ID_SIZE);
    e->req_id = req_id;
    e->size = size < sizeof e->payload ? size : sizeof e->payload;
    if (e->size)
        memcpy (e->payload, data, e->size);
    return c->entry_count;
}

static frame_rec_t *s_record (fake_t *fake, const proto_msg_t *msg)
{
    cluster_t *c = fake->cluster;
    cr_assert (c->frame_count < MAX_FRAMES);
    frame_rec_t *f = &c->frames[c->frame_count++];
    memset (f, 0, sizeof *f);
    f->node = fake->index;
    f->type = msg->type;
    if (msg->client_id_size == PROTO_CLIENT_ID_SIZE)
        memcpy (f->client_id, msg->client_id, PROTO_CLIENT_ID_SIZE);
    f->first_req = msg->req_id;
    f->count = msg->type == PROTO_APPEND ? 1 : (uint32_t)msg->count;
    f->reqs[0] = msg->req_id;
    f->deltas_ok = true;
    pthread_cond_broadcast (&c->changed);
    return f;
}

static void s_send (fake_t *fake, zsock_t *router, const uint8_t *route, size_t route_size)
{
    void *handle = zsock_resolve (router);
    zmq_send (handle, route, route_size, ZMQ_SNDMORE);
    zmq_send (handle, proto_encoder_data (fake->encoder), proto_encoder_size (fake->encoder), 0);
}

static void s_on_open (fake_t *fake, proto_msg_t *reply, uint8_t *id)
{
    cluster_t *c = fake->cluster;
    reply->type = PROTO_OPEN_REPLY;
    if (fake->secondary) {
        reply->code = RLOG_NOT_MASTER;
        snprintf (reply->leader, sizeof reply->leader, "%s", fake->leader);
        return;
    }
    memset (id, 0, PROTO_CLIENT_ID_SIZE);
    memcpy (id, "fake", 4);
    uint64_t n = ++c->issued;
    memcpy (id + 8, &n, sizeof n);
    cr_assert (c->known_count < 64);
    memcpy (c->known[c->known_count++], id, PROTO_CLIENT_ID_SIZE);
    c->opens++;
    reply->code = RLOG_OK;
    reply->client_id = id;
    reply->client_id_size = PROTO_CLIENT_ID_SIZE;
    reply->max_msg = 1000;
    reply->max_batch = 1000 + ENTRIES_OVERHEAD;
}

//  One entry of a request: new, a duplicate, or refused (payloads that
//  start with "refuse").
static void s_entry (fake_t *fake, const proto_msg_t *req, uint32_t index, uint64_t req_id,
                     const uint8_t *data, size_t size, proto_msg_t *reply, proto_exception_t *exc)
{
    cluster_t *c = fake->cluster;
    uint64_t seq = s_lookup (c, req->client_id, req_id);
    if (size >= 6 && memcmp (data, "refuse", 6) == 0) {
        exc[reply->exception_count++] = (proto_exception_t){index, RLOG_TOO_LARGE, 0};
        snprintf (reply->text, sizeof reply->text, "entry %u: refused for the test", index);
    } else if (seq)
        exc[reply->exception_count++] = (proto_exception_t){index, RLOG_OK, seq};
    else {
        seq = s_store (c, req->client_id, req_id, data, size);
        if (!reply->seq)
            reply->seq = seq;
    }
    fake->entries_seen++;
}

//  An APPEND or APPEND_BATCH into REPLY. False if the request is lost.
static bool s_on_append (fake_t *fake, const proto_msg_t *req, frame_rec_t *f, proto_msg_t *reply,
                         proto_exception_t *exc)
{
    bool batch = req->type == PROTO_APPEND_BATCH;
    reply->type = batch ? PROTO_APPEND_BATCH_REPLY : PROTO_APPEND_REPLY;
    reply->req_id = req->req_id;
    reply->count = batch ? req->count : 1;
    reply->w = req->w;
    reply->acks = 1;
    reply->exceptions = exc;
    if (fake->secondary) {
        reply->code = RLOG_NOT_MASTER;
        snprintf (reply->leader, sizeof reply->leader, "%s", fake->leader);
        return true;
    }
    if (!s_known (fake->cluster, req->client_id)) {
        reply->code = RLOG_STALE;
        snprintf (reply->text, sizeof reply->text, "client id unknown to this master");
        return true;
    }
    if (fake->refuse_all) {
        reply->code = (uint64_t)fake->refuse_all;
        snprintf (reply->text, sizeof reply->text, "refused whole for the test");
        return true;
    }
    if (!batch) {
        s_entry (fake, req, 0, req->req_id, req->data, req->size, reply, exc);
        if (reply->exception_count)
            reply->seq = exc[0].seq, reply->code = exc[0].code;
        return true;
    }
    const uint8_t *p = req->data, *end = req->data + req->size;
    uint64_t req_id = req->req_id;
    for (uint32_t i = 0; i < req->count; i++) {
        uint64_t delta;
        const uint8_t *data;
        size_t size, used = entries_get (p, end, &delta, &data, &size);
        cr_assert (used > 0, "entry %u of a batch does not decode", i);
        if (i == 0 ? delta != 0 : delta == 0)
            f->deltas_ok = false;
        req_id += delta;
        if (i < FRAME_REQS)
            f->reqs[i] = req_id;
        s_entry (fake, req, i, req_id, data, size, reply, exc);
        p += used;
    }
    if (p != end)
        f->deltas_ok = false;
    if (reply->exception_count == req->count && req->count)
        reply->code = exc[0].code == RLOG_OK ? RLOG_OK : exc[0].code;
    return true;
}

static void s_on_list (fake_t *fake, const proto_msg_t *req, proto_msg_t *reply,
                       proto_payload_t *payloads)
{
    cluster_t *c = fake->cluster;
    uint64_t from = req->from ? req->from : 1;
    reply->type = PROTO_LIST_REPLY;
    reply->head = c->entry_count;
    reply->seq = from;
    reply->payloads = payloads;
    //  Pages of at most 3 entries, so that listing takes several
    for (uint64_t seq = from; seq <= c->entry_count && reply->payload_count < 3; seq++) {
        if (req->count && reply->payload_count == req->count)
            break;
        payloads[reply->payload_count].data = (const uint8_t *)c->entries[seq - 1].payload;
        payloads[reply->payload_count++].size = c->entries[seq - 1].size;
    }
}

//  Drop, hold or send the append reply now in the encoder.
static void s_deliver (fake_t *fake, zsock_t *router, const uint8_t *route, size_t route_size)
{
    if (fake->drop_replies > 0) {
        fake->drop_replies--;
        if (fake->forget_after_drop) {
            fake->cluster->known_count = 0;
            fake->forget_after_drop = false;
        }
        return;
    }
    if (fake->hold && fake->held_count < 64) {
        held_t *h = &fake->held[fake->held_count++];
        memcpy (h->route, route, route_size);
        h->route_size = route_size;
        h->frame =
            zframe_new (proto_encoder_data (fake->encoder), proto_encoder_size (fake->encoder));
        if (fake->entries_seen < fake->hold)
            return;
        fake->hold = 0; //  one shot: release what was held
        fake->seen_at_first_reply = fake->entries_seen;
        fake->replied = true;
        for (size_t i = 0; i < fake->held_count; i++) {
            void *handle = zsock_resolve (router);
            zmq_send (handle, fake->held[i].route, fake->held[i].route_size, ZMQ_SNDMORE);
            zmq_send (handle, zframe_data (fake->held[i].frame), zframe_size (fake->held[i].frame),
                      0);
            zframe_destroy (&fake->held[i].frame);
        }
        fake->held_count = 0;
        return;
    }
    if (!fake->replied)
        fake->seen_at_first_reply = fake->entries_seen;
    fake->replied = true;
    s_send (fake, router, route, route_size);
}

static void s_handle (fake_t *fake, zsock_t *router, zframe_t *route, zframe_t *body)
{
    static proto_exception_t exc[PROTO_EXCEPTIONS_MAX];
    static proto_payload_t payloads[8];
    uint8_t id[PROTO_CLIENT_ID_SIZE];
    proto_msg_t req, reply = {.type = 0};
    int rc = proto_decode (fake->decoder, zframe_data (body), zframe_size (body), &req);
    cr_assert_eq (rc, RLOG_OK, "fake node got a bad frame: %s",
                  proto_decoder_error (fake->decoder));
    frame_rec_t *f = s_record (fake, &req);
    if (fake->silent)
        return;
    bool append = req.type == PROTO_APPEND || req.type == PROTO_APPEND_BATCH;
    if (append && fake->lose_requests > 0) {
        fake->lose_requests--;
        return;
    }
    if (req.type == PROTO_OPEN)
        s_on_open (fake, &reply, id);
    else if (req.type == PROTO_STATUS)
        reply = (proto_msg_t){.type = PROTO_STATUS_REPLY, .status = &fake->status};
    else if (req.type == PROTO_LIST)
        s_on_list (fake, &req, &reply, payloads);
    else if (append)
        s_on_append (fake, &req, f, &reply, exc);
    cr_assert_eq (proto_encode (fake->encoder, &reply), 0);
    if (append)
        s_deliver (fake, router, zframe_data (route), zframe_size (route));
    else
        s_send (fake, router, zframe_data (route), zframe_size (route));
}

static void s_fake_actor (zsock_t *pipe, void *args)
{
    fake_t *fake = (fake_t *)args;
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_set_linger (router, 0);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    cr_assert (port > 0);
    snprintf (fake->endpoint, sizeof fake->endpoint, "tcp://127.0.0.1:%d", port);
    fake->encoder = proto_encoder_new ();
    fake->decoder = proto_decoder_new (1 << 20);
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    zsock_signal (pipe, 0);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which != router)
            break; //  $TERM on the pipe, or interrupted
        zmsg_t *msg = zmsg_recv (router);
        zframe_t *route = zmsg_pop (msg), *body = zmsg_pop (msg);
        cr_assert (route && body && zmsg_size (msg) == 0, "a DEALER sends one frame");
        pthread_mutex_lock (&fake->cluster->lock);
        s_handle (fake, router, route, body);
        pthread_mutex_unlock (&fake->cluster->lock);
        zframe_destroy (&route);
        zframe_destroy (&body);
        zmsg_destroy (&msg);
    }
    for (size_t i = 0; i < fake->held_count; i++)
        zframe_destroy (&fake->held[i].frame);
    zpoller_destroy (&poller);
    proto_encoder_destroy (&fake->encoder);
    proto_decoder_destroy (&fake->decoder);
    zsock_destroy (&router);
}

static cluster_t *s_cluster_new (void)
{
    cluster_t *c = (cluster_t *)calloc (1, sizeof (cluster_t));
    cr_assert_not_null (c);
    pthread_mutex_init (&c->lock, NULL);
    pthread_cond_init (&c->changed, NULL);
    return c;
}

static fake_t *s_fake_new (cluster_t *cluster, int index)
{
    fake_t *fake = (fake_t *)calloc (1, sizeof (fake_t));
    cr_assert_not_null (fake);
    fake->cluster = cluster;
    fake->index = index;
    snprintf (fake->status.role, sizeof fake->status.role, "master");
    fake->actor = zactor_new (s_fake_actor, fake);
    cr_assert_not_null (fake->actor);
    return fake;
}

static void s_fake_destroy (fake_t **fake_p)
{
    zactor_destroy (&(*fake_p)->actor);
    free (*fake_p);
    *fake_p = NULL;
}

static void s_cluster_destroy (cluster_t **c_p)
{
    pthread_mutex_destroy (&(*c_p)->lock);
    pthread_cond_destroy (&(*c_p)->changed);
    free (*c_p);
    *c_p = NULL;
}

#define LOCKED(c, code)                                                                            \
    do {                                                                                           \
        pthread_mutex_lock (&(c)->lock);                                                           \
        code;                                                                                      \
        pthread_mutex_unlock (&(c)->lock);                                                         \
    } while (0)

//  Wait (at most 5 s) until the cluster recorded COUNT frames.
static bool s_wait_frames (cluster_t *c, size_t count)
{
    struct timespec until;
    clock_gettime (CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock (&c->lock);
    int rc = 0;
    while (c->frame_count < count && rc == 0)
        rc = pthread_cond_timedwait (&c->changed, &c->lock, &until);
    bool got = c->frame_count >= count;
    pthread_mutex_unlock (&c->lock);
    return got;
}

//  Copy of recorded frame I (frames of TYPE only, if TYPE > 0).
static frame_rec_t s_frame (cluster_t *c, int type, size_t i)
{
    frame_rec_t out = {.type = -1};
    pthread_mutex_lock (&c->lock);
    for (size_t k = 0; k < c->frame_count; k++)
        if (type <= 0 || c->frames[k].type == type) {
            if (i-- == 0) {
                out = c->frames[k];
                break;
            }
        }
    pthread_mutex_unlock (&c->lock);
    return out;
}

static size_t s_count_frames (cluster_t *c, int type)
{
    size_t n = 0;
    LOCKED (c, for (size_t k = 0; k < c->frame_count; k++) n += c->frames[k].type == type);
    return n;
}

static size_t s_opens (cluster_t *c)
{
    size_t n;
    LOCKED (c, n = c->opens);
    return n;
}

static size_t s_entry_count (cluster_t *c)
{
    size_t n;
    LOCKED (c, n = c->entry_count);
    return n;
}

//  Collect until N completions are in OUT (at most 5 s).
static size_t s_collect_n (rlog_pipeline_t *pipe, rlog_completion_t *out, size_t n,
                           char (*detail)[256])
{
    size_t got = 0;
    int64_t until = zclock_mono () + 5000;
    while (got < n && zclock_mono () < until) {
        size_t k = rlog_pipeline_collect (pipe, 200, out + got, n - got);
        for (size_t i = 0; detail && i < k; i++)
            snprintf (detail[got + i], 256, "%s", rlog_pipeline_detail (pipe, i));
        got += k;
    }
    return got;
}

typedef struct {
    int count;
    int stop_after; //  0: never
    uint64_t seqs[8];
    char seen[8][16];
} listing_t;

static int s_list_fn (uint64_t seq, const void *data, size_t size, void *arg)
{
    listing_t *l = (listing_t *)arg;
    cr_assert (l->count < 8);
    cr_assert (l->count == 0 || seq > l->seqs[l->count - 1], "entries come in seq order");
    cr_assert_gt (size, 0, "markers are not messages");
    l->seqs[l->count] = seq;
    snprintf (l->seen[l->count++], 16, "%.*s", (int)size, (const char *)data);
    return l->stop_after && l->count == l->stop_after;
}

//  --------------------------------------------------------------------------
//  Endpoints

Test (client, endpoint_lists)
{
    rlog_client_t *c = rlog_client_new ("tcp://127.0.0.1:1, tcp://127.0.0.1:2 ,tcp://[::1]:3");
    cr_assert_not_null (c);
    rlog_client_destroy (&c);
    cr_assert_null (rlog_client_new (NULL));
    cr_assert_null (rlog_client_new (""));
    cr_assert_null (rlog_client_new ("127.0.0.1:5555"));
    cr_assert_null (rlog_client_new ("tcp://a:1,,tcp://b:2"));
    cr_assert_null (rlog_client_new ("tcp://a:1,"));
    char many[2048] = "";
    for (int i = 0; i < 17; i++)
        snprintf (many + strlen (many), sizeof many - strlen (many), "%stcp://h:%d", i ? "," : "",
                  i + 1);
    cr_assert_null (rlog_client_new (many), "17 endpoints are too many");
    char *cut = strrchr (many, ',');
    *cut = 0;
    c = rlog_client_new (many);
    cr_assert_not_null (c, "16 endpoints are fine");
    rlog_client_destroy (&c);
    char longer[300];
    memset (longer, 'a', sizeof longer);
    memcpy (longer, "tcp://", 6);
    longer[sizeof longer - 1] = 0;
    cr_assert_null (rlog_client_new (longer));
}

//  --------------------------------------------------------------------------
//  Synchronous client

Test (client, open_then_append_and_list, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    rlog_client_t *client = rlog_client_new (node->endpoint);
    rlog_client_set_retry (client, 500, 3);
    rlog_append_result_t result;
    const char *messages[] = {"one", "two", "three", "four", "five"};
    for (int i = 0; i < 5; i++) {
        int rc = rlog_client_append (client, messages[i], strlen (messages[i]), 2, 0, &result);
        cr_assert_eq (rc, RLOG_OK, "%s", rlog_client_error (client));
        cr_assert_eq (result.seq, (uint64_t)i + 1);
        cr_assert_eq (result.w, 2);
        cr_assert_eq (result.acks, 1);
    }
    //  One OPEN, then APPENDs under the issued id with ids 1..5
    cr_assert_eq (s_count_frames (cl, PROTO_OPEN), 1);
    cr_assert_eq (s_opens (cl), 1);
    for (size_t i = 0; i < 5; i++) {
        frame_rec_t f = s_frame (cl, PROTO_APPEND, i);
        cr_assert_eq (f.first_req, i + 1);
        cr_assert_eq (memcmp (f.client_id, cl->known[0], PROTO_CLIENT_ID_SIZE), 0);
    }
    //  Refusals store nothing and say why
    cr_assert_eq (rlog_client_append (client, "refuse me", 9, 1, 0, &result), RLOG_TOO_LARGE);
    cr_assert_eq (result.seq, 0);
    cr_assert (strstr (rlog_client_error (client), "refused for the test"));
    //  Above the node's --max-msg (1000, said in OPEN_REPLY): not even sent
    char big[1001];
    memset (big, 'b', sizeof big);
    size_t appends = s_count_frames (cl, PROTO_APPEND);
    cr_assert_eq (rlog_client_append (client, big, sizeof big, 1, 0, &result), RLOG_TOO_LARGE);
    cr_assert (strstr (rlog_client_error (client), "--max-msg of 1000"));
    cr_assert_eq (s_count_frames (cl, PROTO_APPEND), appends);
    cr_assert_eq (rlog_client_append (client, "", 0, 1, 0, NULL), RLOG_EMPTY);
    cr_assert_eq (rlog_client_append (client, "x", 1, 0, 0, NULL), RLOG_INVALID);

    //  An epoch marker (seq 6), then one more message (seq 7)
    static const uint8_t no_client[PROTO_CLIENT_ID_SIZE] = {0};
    LOCKED (cl, s_store (cl, no_client, 0, NULL, 0));
    cr_assert_eq (rlog_client_append (client, "six", 3, 1, 0, &result), RLOG_OK);
    cr_assert_eq (result.seq, 7);

    //  Listing goes page by page (the fake node answers 3 at a time) and
    //  passes over the marker
    listing_t listing = {0};
    int rc = rlog_client_list (client, 2, 0, s_list_fn, &listing);
    cr_assert_eq (rc, RLOG_OK, "%s", rlog_client_error (client));
    cr_assert_eq (listing.count, 5);
    cr_assert_eq (listing.seqs[0], 2);
    cr_assert_str_eq (listing.seen[0], "two");
    cr_assert_str_eq (listing.seen[3], "five");
    cr_assert_eq (listing.seqs[4], 7);
    cr_assert_str_eq (listing.seen[4], "six");
    //  LIMIT counts messages; FN may stop the listing
    listing = (listing_t){0};
    cr_assert_eq (rlog_client_list (client, 4, 3, s_list_fn, &listing), RLOG_OK);
    cr_assert_eq (listing.count, 3);
    cr_assert_eq (listing.seqs[2], 7);
    listing = (listing_t){.stop_after = 2};
    cr_assert_eq (rlog_client_list (client, 0, 0, s_list_fn, &listing), RLOG_OK);
    cr_assert_eq (listing.count, 2);
    listing = (listing_t){0};
    cr_assert_eq (rlog_client_list (client, 100, 0, s_list_fn, &listing), RLOG_OK);
    cr_assert_eq (listing.count, 0);
    cr_assert_eq (rlog_client_list (client, 1, 0, NULL, NULL), RLOG_INVALID);
    rlog_client_destroy (&client);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (client, lost_reply_is_retried_with_the_same_ids, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    rlog_client_t *client = rlog_client_new (node->endpoint);
    rlog_client_set_retry (client, 200, 3);
    rlog_append_result_t result;
    cr_assert_eq (rlog_client_append (client, "a", 1, 1, 0, &result), RLOG_OK);
    LOCKED (cl, node->drop_replies = 1);
    int rc = rlog_client_append (client, "b", 1, 1, 0, &result);
    cr_assert_eq (rc, RLOG_OK, "%s", rlog_client_error (client));
    cr_assert_eq (result.seq, 2, "the retry gets the original seq");
    cr_assert_eq (s_entry_count (cl), 2, "stored once");
    //  APPEND 2 went twice, same client id and request id; a STATUS probe
    //  came in between
    frame_rec_t first = s_frame (cl, PROTO_APPEND, 1), again = s_frame (cl, PROTO_APPEND, 2);
    cr_assert_eq (first.first_req, 2);
    cr_assert_eq (again.first_req, 2);
    cr_assert_eq (memcmp (first.client_id, again.client_id, PROTO_CLIENT_ID_SIZE), 0);
    cr_assert_geq (s_count_frames (cl, PROTO_STATUS), 1);
    cr_assert_eq (s_opens (cl), 1);
    rlog_client_destroy (&client);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (client, a_live_node_keeps_a_waiting_append_waiting, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    rlog_client_t *client = rlog_client_new (node->endpoint);
    //  Three silences in a row would end a call; the node drops four
    //  replies, but answers the probes in between: the call waits on
    rlog_client_set_retry (client, 250, 3);
    cr_assert_eq (rlog_client_append (client, "a", 1, 1, 0, NULL), RLOG_OK);
    LOCKED (cl, node->drop_replies = 4);
    rlog_append_result_t result;
    int rc = rlog_client_append (client, "b", 1, 3, 0, &result);
    cr_assert_eq (rc, RLOG_OK, "%s", rlog_client_error (client));
    cr_assert_eq (result.seq, 2);
    cr_assert_eq (s_count_frames (cl, PROTO_APPEND), 6);
    cr_assert_geq (s_count_frames (cl, PROTO_STATUS), 4);
    cr_assert_eq (s_entry_count (cl), 2);
    rlog_client_destroy (&client);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (client, a_silent_node_ends_the_call_unreachable, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    rlog_client_t *client = rlog_client_new (node->endpoint);
    rlog_client_set_retry (client, 100, 2);
    cr_assert_eq (rlog_client_append (client, "a", 1, 1, 0, NULL), RLOG_OK);
    LOCKED (cl, node->silent = true);
    int rc = rlog_client_append (client, "b", 1, 1, 0, NULL);
    cr_assert_eq (rc, RLOG_UNREACHABLE);
    cr_assert (strstr (rlog_client_error (client), "may or may not have been stored"), "%s",
               rlog_client_error (client));
    rlog_status_t status;
    cr_assert_eq (rlog_client_status (client, &status), RLOG_UNREACHABLE);
    rlog_client_destroy (&client);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (client, a_silent_endpoint_passes_the_turn_to_the_next, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *dead = s_fake_new (cl, 0), *live = s_fake_new (cl, 1);
    LOCKED (cl, dead->silent = true);
    char endpoints[256];
    snprintf (endpoints, sizeof endpoints, "%s,%s", dead->endpoint, live->endpoint);
    rlog_client_t *client = rlog_client_new (endpoints);
    rlog_client_set_retry (client, 300, 3);
    rlog_append_result_t result;
    int rc = rlog_client_append (client, "a", 1, 1, 0, &result);
    cr_assert_eq (rc, RLOG_OK, "%s", rlog_client_error (client));
    cr_assert_eq (result.seq, 1);
    frame_rec_t tried = s_frame (cl, PROTO_OPEN, 0);
    cr_assert_eq (tried.node, 0, "the first endpoint was tried first");
    cr_assert_eq (s_frame (cl, PROTO_APPEND, 0).node, 1);
    rlog_client_destroy (&client);
    s_fake_destroy (&dead);
    s_fake_destroy (&live);
    s_cluster_destroy (&cl);
}

Test (client, not_master_is_followed_with_the_same_ids, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *a = s_fake_new (cl, 0), *b = s_fake_new (cl, 1);
    rlog_client_t *client = rlog_client_new (a->endpoint);
    rlog_client_set_retry (client, 500, 3);
    cr_assert_eq (rlog_client_append (client, "one", 3, 1, 0, NULL), RLOG_OK);
    //  A steps down; B is the master now, and A says so
    LOCKED (cl, a->secondary = true; snprintf (a->leader, sizeof a->leader, "%s", b->endpoint));
    rlog_append_result_t result;
    int rc = rlog_client_append (client, "two", 3, 1, 0, &result);
    cr_assert_eq (rc, RLOG_OK, "%s", rlog_client_error (client));
    cr_assert_eq (result.seq, 2);
    frame_rec_t at_a = s_frame (cl, PROTO_APPEND, 1), at_b = s_frame (cl, PROTO_APPEND, 2);
    cr_assert_eq (at_a.node, 0);
    cr_assert_eq (at_b.node, 1);
    cr_assert_eq (at_a.first_req, 2);
    cr_assert_eq (at_b.first_req, 2, "the same request id at the new master");
    cr_assert_eq (memcmp (at_a.client_id, at_b.client_id, PROTO_CLIENT_ID_SIZE), 0,
                  "and the same client id: no new session");
    cr_assert_eq (s_opens (cl), 1);
    //  Next appends go straight to B
    cr_assert_eq (rlog_client_append (client, "three", 5, 1, 0, NULL), RLOG_OK);
    cr_assert_eq (s_frame (cl, PROTO_APPEND, 3).node, 1);

    //  A secondary that knows no master: NOT_MASTER, with its text
    rlog_client_t *lost = rlog_client_new (a->endpoint);
    LOCKED (cl, a->leader[0] = 0);
    cr_assert_eq (rlog_client_append (lost, "x", 1, 1, 0, NULL), RLOG_NOT_MASTER);
    rlog_client_destroy (&lost);
    //  A leader with a wildcard host cannot be reached: the same
    lost = rlog_client_new (a->endpoint);
    LOCKED (cl, snprintf (a->leader, sizeof a->leader, "tcp://*:5555"));
    cr_assert_eq (rlog_client_append (lost, "x", 1, 1, 0, NULL), RLOG_NOT_MASTER);
    rlog_client_destroy (&lost);
    //  Two nodes naming each other: the round ends, NOT_MASTER
    lost = rlog_client_new (a->endpoint);
    LOCKED (cl, b->secondary = true; snprintf (b->leader, sizeof b->leader, "%s", a->endpoint);
            snprintf (a->leader, sizeof a->leader, "%s", b->endpoint));
    cr_assert_eq (rlog_client_append (lost, "x", 1, 1, 0, NULL), RLOG_NOT_MASTER);
    rlog_client_destroy (&lost);

    rlog_client_destroy (&client);
    s_fake_destroy (&a);
    s_fake_destroy (&b);
    s_cluster_destroy (&cl);
}

Test (client, open_at_a_secondary_follows_to_the_master, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *a = s_fake_new (cl, 0), *b = s_fake_new (cl, 1);
    LOCKED (cl, a->secondary = true; snprintf (a->leader, sizeof a->leader, "%s", b->endpoint));
    rlog_client_t *client = rlog_client_new (a->endpoint);
    rlog_client_set_retry (client, 500, 3);
    rlog_append_result_t result;
    cr_assert_eq (rlog_client_append (client, "x", 1, 1, 0, &result), RLOG_OK, "%s",
                  rlog_client_error (client));
    cr_assert_eq (s_frame (cl, PROTO_OPEN, 0).node, 0);
    cr_assert_eq (s_frame (cl, PROTO_OPEN, 1).node, 1);
    cr_assert_eq (s_count_frames (cl, PROTO_APPEND), 1, "the append went to the master only");
    rlog_client_destroy (&client);
    s_fake_destroy (&a);
    s_fake_destroy (&b);
    s_cluster_destroy (&cl);
}

Test (client, stale_on_a_first_send_opens_a_new_session, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    rlog_client_t *client = rlog_client_new (node->endpoint);
    rlog_client_set_retry (client, 500, 3);
    cr_assert_eq (rlog_client_append (client, "a", 1, 1, 0, NULL), RLOG_OK);
    //  A new master that never had this client's entries
    LOCKED (cl, cl->known_count = 0);
    rlog_append_result_t result;
    int rc = rlog_client_append (client, "b", 1, 1, 0, &result);
    cr_assert_eq (rc, RLOG_OK, "%s", rlog_client_error (client));
    cr_assert_eq (result.seq, 2);
    cr_assert_eq (s_opens (cl), 2);
    frame_rec_t refused = s_frame (cl, PROTO_APPEND, 1), resent = s_frame (cl, PROTO_APPEND, 2);
    cr_assert_eq (refused.first_req, 2);
    cr_assert_eq (resent.first_req, 2);
    cr_assert_neq (memcmp (refused.client_id, resent.client_id, PROTO_CLIENT_ID_SIZE), 0,
                   "resent under the new client id");
    //  Only once: a master that forgets us again gets STALE back
    LOCKED (cl, cl->known_count = 0);
    cr_assert_eq (rlog_client_append (client, "c", 1, 1, 0, NULL), RLOG_OK);
    cr_assert_eq (s_opens (cl), 3);
    rlog_client_destroy (&client);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (client, stale_on_a_resend_is_the_answer, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    rlog_client_t *client = rlog_client_new (node->endpoint);
    rlog_client_set_retry (client, 200, 3);
    cr_assert_eq (rlog_client_append (client, "a", 1, 1, 0, NULL), RLOG_OK);
    //  The append is stored, its reply lost, and the master forgets us
    LOCKED (cl, node->drop_replies = 1; node->forget_after_drop = true);
    rlog_append_result_t result;
    int rc = rlog_client_append (client, "b", 1, 1, 0, &result);
    cr_assert_eq (rc, RLOG_STALE, "%s", rlog_client_error (client));
    cr_assert (strstr (rlog_client_error (client), "may or may not"), "%s",
               rlog_client_error (client));
    cr_assert_eq (s_opens (cl), 1, "no new session for a request that may be stored");
    cr_assert_eq (s_entry_count (cl), 2, "and no second copy");
    rlog_client_destroy (&client);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

//  Sets czmq's interrupted flag (as its SIGINT handler does) once the
//  cluster recorded ARG's count of frames.
typedef struct {
    cluster_t *cl;
    size_t frames;
} interrupter_t;

static void *s_interrupter (void *arg)
{
    interrupter_t *it = (interrupter_t *)arg;
    cr_assert (s_wait_frames (it->cl, it->frames));
    zsys_interrupted = 1;
    return NULL;
}

Test (client, an_interrupted_append_says_whether_it_may_be_stored, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    rlog_client_t *client = rlog_client_new (node->endpoint);
    rlog_client_set_retry (client, 5000, 3);
    cr_assert_eq (rlog_client_append (client, "a", 1, 1, 0, NULL), RLOG_OK);
    //  Interrupted while the append waits for its reply (held back)
    LOCKED (cl, node->hold = 100);
    interrupter_t it = {cl, 3}; //  OPEN, APPEND 1, APPEND 2
    pthread_t thread;
    pthread_create (&thread, NULL, s_interrupter, &it);
    cr_assert_eq (rlog_client_append (client, "b", 1, 3, 0, NULL), RLOG_UNREACHABLE);
    pthread_join (thread, NULL);
    cr_assert_str_eq (rlog_client_error (client),
                      "interrupted while waiting for w=3: the master may already hold the entry "
                      "(appends are never rolled back)");
    //  Interrupted before sending: nothing stored
    cr_assert_eq (rlog_client_append (client, "c", 1, 1, 0, NULL), RLOG_UNREACHABLE);
    cr_assert_str_eq (rlog_client_error (client),
                      "interrupted before the append was sent: nothing stored");
    cr_assert_eq (s_count_frames (cl, PROTO_APPEND), 2);
    zsys_interrupted = 0;
    rlog_client_destroy (&client);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (client, status_is_converted, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    pthread_mutex_lock (&cl->lock);
    proto_status_t *st = &node->status;
    snprintf (st->role, sizeof st->role, "secondary");
    snprintf (st->node_id, sizeof st->node_id, "s1");
    st->epoch = 7;
    st->head = 42;
    st->last_epoch = 6;
    snprintf (st->mode, sizeof st->mode, "following");
    memset (st->reason, 'r', PROTO_TEXT_MAX);
    st->reason[PROTO_TEXT_MAX] = 0;
    snprintf (st->history, sizeof st->history, "00112233445566778899aabbccddeeff");
    st->nodes = 3;
    st->healthy = 2;
    st->quorum = 2;
    st->waiting = 5;
    st->max_msg = 1000;
    snprintf (st->leader, sizeof st->leader, "master");
    snprintf (st->leader_client, sizeof st->leader_client, "tcp://m:5555");
    st->peer_count = PROTO_STATUS_PEERS_MAX;
    for (size_t i = 0; i < st->peer_count; i++) {
        snprintf (st->peers[i].id, sizeof st->peers[i].id, "s%zu", i + 2);
        snprintf (st->peers[i].role, sizeof st->peers[i].role, "secondary");
        snprintf (st->peers[i].state, sizeof st->peers[i].state, "suspected");
        st->peers[i].acked = 40 + i;
        st->peers[i].lag = 2;
        st->peers[i].last_heard_ms = i == 0 ? -1 : 12;
        st->peers[i].catching_up = i == 1;
        st->peers[i].last_epoch = 6;
    }
    snprintf (st->master_peer, sizeof st->master_peer, "tcp://m:5557");
    st->master_reachable = true;
    st->master_last_heard_ms = 15;
    st->master_head = 44;
    st->held_back = 3;
    st->duplicates = 9;
    pthread_mutex_unlock (&cl->lock);

    rlog_client_t *client = rlog_client_new (node->endpoint);
    rlog_status_t status;
    memset (&status, 0xff, sizeof status);
    cr_assert_eq (rlog_client_status (client, &status), RLOG_OK, "%s", rlog_client_error (client));
    cr_assert_str_eq (status.role, "secondary");
    cr_assert_str_eq (status.node_id, "s1");
    cr_assert_eq (status.epoch, 7);
    cr_assert_eq (status.head, 42);
    cr_assert_eq (status.last_epoch, 6);
    cr_assert_str_eq (status.mode, "following");
    cr_assert_eq (strlen (status.reason), PROTO_TEXT_MAX, "reason is 255 bytes, not cut");
    cr_assert_str_eq (status.history, "00112233445566778899aabbccddeeff");
    cr_assert_eq (status.nodes, 3);
    cr_assert_eq (status.healthy, 2);
    cr_assert_eq (status.quorum, 2);
    cr_assert_eq (status.waiting, 5);
    cr_assert_eq (status.max_msg, 1000);
    cr_assert_str_eq (status.leader, "master");
    cr_assert_str_eq (status.leader_client, "tcp://m:5555");
    cr_assert_eq (status.secondary_count, RLOG_MAX_SECONDARIES);
    cr_assert_str_eq (status.secondaries[0].id, "s2");
    cr_assert_str_eq (status.secondaries[31].id, "s33");
    cr_assert_str_eq (status.secondaries[5].role, "secondary");
    cr_assert_str_eq (status.secondaries[5].state, "suspected");
    cr_assert_eq (status.secondaries[5].acked, 45);
    cr_assert_eq (status.secondaries[5].lag, 2);
    cr_assert_eq (status.secondaries[0].last_heard_ms, -1);
    cr_assert_eq (status.secondaries[5].last_heard_ms, 12);
    cr_assert (status.secondaries[1].catching_up);
    cr_assert (!status.secondaries[2].catching_up);
    cr_assert_eq (status.secondaries[7].last_epoch, 6);
    cr_assert_str_eq (status.master, "tcp://m:5557");
    cr_assert (status.master_reachable);
    cr_assert_eq (status.master_last_heard_ms, 15);
    cr_assert_eq (status.master_head, 44);
    cr_assert_eq (status.held_back, 3);
    cr_assert_eq (status.duplicates, 9);
    cr_assert_eq (rlog_client_status (client, NULL), RLOG_INVALID);
    rlog_client_destroy (&client);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

//  --------------------------------------------------------------------------
//  Pipeline

//  A pipeline whose session is open (one append done: seq 1).
static rlog_pipeline_t *s_pipeline_open (const char *endpoint)
{
    rlog_pipeline_t *pipe = rlog_pipeline_new (endpoint, 1, 0);
    cr_assert_not_null (pipe);
    rlog_pipeline_set_retry (pipe, 500);
    cr_assert_eq (rlog_pipeline_submit (pipe, "first", 5), 1);
    rlog_completion_t c;
    cr_assert_eq (s_collect_n (pipe, &c, 1, NULL), 1);
    cr_assert_eq (c.code, RLOG_OK);
    return pipe;
}

Test (pipeline, submits_before_open_go_as_one_batch, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    rlog_pipeline_t *pipe = rlog_pipeline_new (node->endpoint, 2, 0);
    cr_assert_not_null (pipe);
    char payload[16];
    for (int i = 0; i < 10; i++) {
        snprintf (payload, sizeof payload, "m%d", i);
        cr_assert_eq (rlog_pipeline_submit (pipe, payload, strlen (payload)), (uint64_t)i + 1);
    }
    cr_assert_eq (rlog_pipeline_in_flight (pipe), 10);
    rlog_completion_t out[16];
    cr_assert_eq (s_collect_n (pipe, out, 10, NULL), 10);
    for (int i = 0; i < 10; i++) {
        cr_assert_eq (out[i].req_id, (uint64_t)i + 1);
        cr_assert_eq (out[i].code, RLOG_OK);
        cr_assert_eq (out[i].seq, (uint64_t)i + 1);
        cr_assert_eq (out[i].acks, 1);
    }
    cr_assert_eq (rlog_pipeline_in_flight (pipe), 0);
    cr_assert_eq (s_count_frames (cl, PROTO_APPEND_BATCH), 1, "one frame for the ten");
    frame_rec_t f = s_frame (cl, PROTO_APPEND_BATCH, 0);
    cr_assert_eq (f.count, 10);
    cr_assert_eq (f.first_req, 1);
    cr_assert (f.deltas_ok, "first delta 0, then 1s");
    for (int i = 0; i < 10; i++)
        cr_assert_eq (f.reqs[i], (uint64_t)i + 1);
    cr_assert_str_eq (cl->entries[9].payload, "m9");
    rlog_pipeline_destroy (&pipe);
    cr_assert_null (pipe);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (pipeline, linger_zero_sends_at_collect, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    rlog_pipeline_t *pipe = s_pipeline_open (node->endpoint);
    //  Submit then collect: a batch of one each time, no waiting
    rlog_completion_t out[8];
    for (int i = 0; i < 3; i++) {
        cr_assert_neq (rlog_pipeline_submit (pipe, "x", 1), 0);
        cr_assert_eq (s_collect_n (pipe, out, 1, NULL), 1);
    }
    cr_assert_eq (s_count_frames (cl, PROTO_APPEND_BATCH), 4);
    cr_assert_eq (s_frame (cl, PROTO_APPEND_BATCH, 3).count, 1);
    //  Submits that come together go together, at the collect
    for (int i = 0; i < 5; i++)
        rlog_pipeline_submit (pipe, "y", 1);
    cr_assert_eq (s_collect_n (pipe, out, 5, NULL), 5);
    cr_assert_eq (s_count_frames (cl, PROTO_APPEND_BATCH), 5);
    cr_assert_eq (s_frame (cl, PROTO_APPEND_BATCH, 4).count, 5);
    cr_assert_eq (s_frame (cl, PROTO_APPEND_BATCH, 4).first_req, 5);
    rlog_pipeline_destroy (&pipe);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (pipeline, limits_cut_batches, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    rlog_pipeline_t *pipe = s_pipeline_open (node->endpoint);
    rlog_pipeline_set_batch (pipe, 4, 0);
    rlog_completion_t out[16];
    for (int i = 0; i < 10; i++)
        rlog_pipeline_submit (pipe, "z", 1);
    //  Two full batches went at submit, before any collect
    cr_assert (s_wait_frames (cl, 1 + 1 + 2));
    cr_assert_eq (s_frame (cl, PROTO_APPEND_BATCH, 1).count, 4);
    cr_assert_eq (s_frame (cl, PROTO_APPEND_BATCH, 2).count, 4);
    cr_assert_eq (s_collect_n (pipe, out, 10, NULL), 10);
    cr_assert_eq (s_frame (cl, PROTO_APPEND_BATCH, 3).count, 2);
    cr_assert_eq (s_frame (cl, PROTO_APPEND_BATCH, 3).first_req, 10);
    //  Bytes: 30-byte payloads take 32 bytes each, 3 fit in 100
    rlog_pipeline_set_batch (pipe, 0, 100);
    char payload[30];
    memset (payload, 'p', sizeof payload);
    for (int i = 0; i < 10; i++)
        rlog_pipeline_submit (pipe, payload, sizeof payload);
    cr_assert_eq (s_collect_n (pipe, out, 10, NULL), 10);
    size_t counts[] = {3, 3, 3, 1};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq (s_frame (cl, PROTO_APPEND_BATCH, 4 + i).count, counts[i]);
    //  Above the node's --max-msg (1000): refused here, never sent
    char big[1001];
    memset (big, 'b', sizeof big);
    uint64_t id = rlog_pipeline_submit (pipe, big, sizeof big);
    cr_assert_neq (id, 0);
    cr_assert_eq (s_collect_n (pipe, out, 1, NULL), 1);
    cr_assert_eq (out[0].req_id, id);
    cr_assert_eq (out[0].code, RLOG_TOO_LARGE);
    cr_assert (strstr (rlog_pipeline_detail (pipe, 0), "--max-msg of 1000"));
    cr_assert_eq (s_count_frames (cl, PROTO_APPEND_BATCH), 8);
    rlog_pipeline_destroy (&pipe);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (pipeline, flush_and_linger_send_without_collect, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    rlog_pipeline_t *pipe = s_pipeline_open (node->endpoint);
    rlog_completion_t out[8];
    for (int i = 0; i < 3; i++)
        rlog_pipeline_submit (pipe, "f", 1);
    cr_assert_eq (rlog_pipeline_flush (pipe), RLOG_OK);
    cr_assert (s_wait_frames (cl, 3), "flush sent the batch");
    cr_assert_eq (s_frame (cl, PROTO_APPEND_BATCH, 1).count, 3);
    cr_assert_eq (s_collect_n (pipe, out, 3, NULL), 3);
    //  Linger: a batch older than it goes at the next submit
    rlog_pipeline_set_linger (pipe, 50);
    rlog_pipeline_submit (pipe, "l", 1);
    int64_t opened = zclock_mono ();
    //  The condition is time itself: let the linger pass
    while (zclock_mono () - opened < 60)
        zclock_sleep (10);
    rlog_pipeline_submit (pipe, "m", 1);
    cr_assert (s_wait_frames (cl, 4), "the second submit sent the lingering batch");
    cr_assert_eq (s_frame (cl, PROTO_APPEND_BATCH, 2).count, 2);
    cr_assert_eq (s_collect_n (pipe, out, 2, NULL), 2);
    rlog_pipeline_destroy (&pipe);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (pipeline, batch_replies_expand_with_exceptions, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    rlog_pipeline_t *pipe = s_pipeline_open (node->endpoint); //  seq 1
    rlog_completion_t out[8];
    char detail[8][256];
    //  New, refused, new: the refused one takes no seq
    rlog_pipeline_submit (pipe, "x2", 2);
    rlog_pipeline_submit (pipe, "refuse3", 7);
    rlog_pipeline_submit (pipe, "x4", 2);
    cr_assert_eq (s_collect_n (pipe, out, 3, detail), 3);
    cr_assert_eq (out[0].req_id, 2);
    cr_assert_eq (out[0].code, RLOG_OK);
    cr_assert_eq (out[0].seq, 2);
    cr_assert_str_eq (detail[0], "");
    cr_assert_eq (out[1].req_id, 3);
    cr_assert_eq (out[1].code, RLOG_TOO_LARGE);
    cr_assert_eq (out[1].seq, 0);
    cr_assert_eq (out[1].acks, 0);
    cr_assert_str_eq (detail[1], "entry 1: refused for the test");
    cr_assert_eq (out[2].req_id, 4);
    cr_assert_eq (out[2].seq, 3);
    //  Duplicates and new ones in one batch: 5 and 6 are lost on the way,
    //  then 4..7 go again (4 a duplicate, 5 and 6 new, 7 new too)
    LOCKED (cl, node->lose_requests = 1);
    rlog_pipeline_submit (pipe, "x5", 2);
    rlog_pipeline_submit (pipe, "x6", 2);
    cr_assert_eq (rlog_pipeline_flush (pipe), RLOG_OK);
    cr_assert (s_wait_frames (cl, 3));
    cr_assert_eq (rlog_pipeline_resubmit (pipe, 4, "x4", 2), 0);
    cr_assert_eq (rlog_pipeline_resubmit (pipe, 5, "x5", 2), 0);
    cr_assert_eq (rlog_pipeline_resubmit (pipe, 6, "x6", 2), 0);
    cr_assert_eq (s_collect_n (pipe, out, 3, NULL), 3);
    frame_rec_t f = s_frame (cl, PROTO_APPEND_BATCH, 3);
    cr_assert_eq (f.first_req, 4);
    cr_assert_eq (f.count, 3, "consecutive resubmits share a batch");
    uint64_t want[][3] = {{4, RLOG_OK, 3}, {5, RLOG_OK, 4}, {6, RLOG_OK, 5}};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq (out[i].req_id, want[i][0]);
        cr_assert_eq (out[i].code, (int)want[i][1]);
        cr_assert_eq (out[i].seq, want[i][2]);
    }
    //  A whole-batch refusal answers every entry with its code
    LOCKED (cl, node->refuse_all = RLOG_READ_ONLY);
    rlog_pipeline_submit (pipe, "r1", 2);
    rlog_pipeline_submit (pipe, "r2", 2);
    cr_assert_eq (s_collect_n (pipe, out, 2, detail), 2);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq (out[i].code, RLOG_READ_ONLY);
        cr_assert_eq (out[i].seq, 0);
        cr_assert_str_eq (detail[i], "refused whole for the test");
    }
    cr_assert_eq (rlog_pipeline_in_flight (pipe), 2, "the lost originals of 5 and 6");
    rlog_pipeline_destroy (&pipe);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (pipeline, collect_hands_a_batch_out_over_several_calls, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    rlog_pipeline_t *pipe = s_pipeline_open (node->endpoint);
    for (int i = 0; i < 100; i++)
        rlog_pipeline_submit (pipe, "k", 1);
    rlog_completion_t out[7];
    uint64_t next = 2;
    int64_t until = zclock_mono () + 5000;
    while (next < 102 && zclock_mono () < until) {
        size_t n = rlog_pipeline_collect (pipe, 200, out, 7);
        cr_assert_leq (n, 7);
        for (size_t i = 0; i < n; i++, next++) {
            cr_assert_eq (out[i].req_id, next);
            cr_assert_eq (out[i].seq, next);
        }
    }
    cr_assert_eq (next, 102);
    cr_assert_eq (s_count_frames (cl, PROTO_APPEND_BATCH), 2);
    rlog_pipeline_destroy (&pipe);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (pipeline, resubmits_close_the_open_batch_and_keep_their_order, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    rlog_pipeline_t *pipe = s_pipeline_open (node->endpoint);
    for (int i = 0; i < 6; i++)
        rlog_pipeline_submit (pipe, "s", 1); //  ids 2..7
    rlog_completion_t out[16];
    cr_assert_eq (s_collect_n (pipe, out, 6, NULL), 6);
    rlog_pipeline_submit (pipe, "t", 1); //  8, open
    rlog_pipeline_submit (pipe, "t", 1); //  9, open
    cr_assert_eq (rlog_pipeline_resubmit (pipe, 3, "s", 1), 0);
    cr_assert_eq (rlog_pipeline_resubmit (pipe, 5, "s", 1), 0);
    cr_assert_eq (rlog_pipeline_resubmit (pipe, 6, "s", 1), 0);
    cr_assert_eq (rlog_pipeline_resubmit (pipe, 10, "s", 1), -1, "never issued");
    cr_assert_eq (rlog_pipeline_resubmit (pipe, 0, "s", 1), -1);
    cr_assert_eq (rlog_pipeline_resubmit (pipe, 3, "", 0), -1);
    cr_assert_eq (s_collect_n (pipe, out, 5, NULL), 5);
    //  [8, 9], then [3], then [5, 6]
    frame_rec_t f = s_frame (cl, PROTO_APPEND_BATCH, 2);
    cr_assert_eq (f.first_req, 8);
    cr_assert_eq (f.count, 2);
    f = s_frame (cl, PROTO_APPEND_BATCH, 3);
    cr_assert_eq (f.first_req, 3);
    cr_assert_eq (f.count, 1);
    f = s_frame (cl, PROTO_APPEND_BATCH, 4);
    cr_assert_eq (f.first_req, 5);
    cr_assert_eq (f.count, 2);
    cr_assert (f.deltas_ok);
    //  The duplicates got their original seqs
    for (size_t i = 2; i < 5; i++)
        cr_assert_eq (out[i].seq, out[i].req_id);
    cr_assert_eq (s_entry_count (cl), 9);
    rlog_pipeline_destroy (&pipe);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (pipeline, not_master_resends_to_the_leader, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *a = s_fake_new (cl, 0), *b = s_fake_new (cl, 1);
    rlog_pipeline_t *pipe = s_pipeline_open (a->endpoint);
    LOCKED (cl, a->secondary = true; snprintf (a->leader, sizeof a->leader, "%s", b->endpoint));
    for (int i = 0; i < 3; i++)
        rlog_pipeline_submit (pipe, "n", 1); //  2..4
    rlog_completion_t out[8];
    cr_assert_eq (s_collect_n (pipe, out, 3, NULL), 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq (out[i].code, RLOG_OK);
        cr_assert_eq (out[i].seq, (uint64_t)i + 2);
    }
    frame_rec_t at_a = s_frame (cl, PROTO_APPEND_BATCH, 1),
                at_b = s_frame (cl, PROTO_APPEND_BATCH, 2);
    cr_assert_eq (at_a.node, 0);
    cr_assert_eq (at_b.node, 1);
    cr_assert_eq (at_b.first_req, 2);
    cr_assert_eq (at_b.count, 3);
    cr_assert_eq (memcmp (at_a.client_id, at_b.client_id, PROTO_CLIENT_ID_SIZE), 0);
    cr_assert_eq (s_opens (cl), 1);
    rlog_pipeline_destroy (&pipe);

    //  A pipeline started at a secondary opens its session at the master
    pipe = rlog_pipeline_new (a->endpoint, 1, 0);
    rlog_pipeline_submit (pipe, "o", 1);
    cr_assert_eq (s_collect_n (pipe, out, 1, NULL), 1);
    cr_assert_eq (out[0].code, RLOG_OK);
    cr_assert_eq (s_opens (cl), 2);
    rlog_pipeline_destroy (&pipe);

    //  No master anywhere: the appends waiting complete NOT_MASTER
    LOCKED (cl, a->leader[0] = 0);
    pipe = rlog_pipeline_new (a->endpoint, 1, 0);
    rlog_pipeline_submit (pipe, "o", 1);
    char detail[1][256];
    cr_assert_eq (s_collect_n (pipe, out, 1, detail), 1);
    cr_assert_eq (out[0].code, RLOG_NOT_MASTER);
    rlog_pipeline_destroy (&pipe);
    s_fake_destroy (&a);
    s_fake_destroy (&b);
    s_cluster_destroy (&cl);
}

Test (pipeline, stale_for_a_batch_never_sent_renews_the_session, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    rlog_pipeline_t *pipe = s_pipeline_open (node->endpoint);
    LOCKED (cl, cl->known_count = 0);
    rlog_pipeline_submit (pipe, "u", 1);
    rlog_pipeline_submit (pipe, "v", 1);
    rlog_completion_t out[8];
    cr_assert_eq (s_collect_n (pipe, out, 2, NULL), 2);
    cr_assert_eq (out[0].code, RLOG_OK);
    cr_assert_eq (out[0].seq, 2);
    cr_assert_eq (out[1].seq, 3);
    cr_assert_eq (s_opens (cl), 2);
    frame_rec_t refused = s_frame (cl, PROTO_APPEND_BATCH, 1),
                resent = s_frame (cl, PROTO_APPEND_BATCH, 2);
    cr_assert_eq (refused.first_req, 2);
    cr_assert_eq (resent.first_req, 2);
    cr_assert_eq (resent.count, 2);
    cr_assert_neq (memcmp (refused.client_id, resent.client_id, PROTO_CLIENT_ID_SIZE), 0);
    //  A resubmit may be stored under the old id: STALE is its answer
    LOCKED (cl, cl->known_count = 0);
    cr_assert_eq (rlog_pipeline_resubmit (pipe, 2, "u", 1), 0);
    cr_assert_eq (s_collect_n (pipe, out, 1, NULL), 1);
    cr_assert_eq (out[0].code, RLOG_STALE);
    cr_assert_eq (s_opens (cl), 2);
    rlog_pipeline_destroy (&pipe);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

//  --------------------------------------------------------------------------
//  Bulk

typedef struct {
    size_t calls;
    size_t ok;
    int codes[64];
    uint64_t seqs[64];
    size_t per_tag[64];
    char detail[256];
} outcomes_t;

static void s_bulk_fn (const rlog_bulk_result_t *r, void *arg)
{
    outcomes_t *o = (outcomes_t *)arg;
    cr_assert_lt (r->tag, 64);
    o->calls++;
    o->ok += r->code == RLOG_OK;
    o->codes[r->tag] = r->code;
    o->seqs[r->tag] = r->seq;
    o->per_tag[r->tag]++;
    snprintf (o->detail, sizeof o->detail, "%s", r->detail);
}

Test (bulk, window_bounds_what_is_in_flight, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    LOCKED (cl, node->hold = 4);
    outcomes_t o = {0};
    rlog_bulk_t *bulk = rlog_bulk_new (node->endpoint, 1, 0, 4, s_bulk_fn, &o);
    cr_assert_not_null (bulk);
    rlog_bulk_set_retry (bulk, 2000, 3);
    for (uint64_t tag = 0; tag < 10; tag++)
        cr_assert_eq (rlog_bulk_append (bulk, "w", 1, tag), RLOG_OK, "%s", rlog_bulk_error (bulk));
    cr_assert_eq (rlog_bulk_finish (bulk), RLOG_OK, "%s", rlog_bulk_error (bulk));
    cr_assert_eq (rlog_bulk_in_flight (bulk), 0);
    cr_assert_eq (o.calls, 10);
    cr_assert_eq (o.ok, 10);
    bool seen[11] = {false};
    for (int tag = 0; tag < 10; tag++) {
        cr_assert_eq (o.per_tag[tag], 1, "one callback per append");
        cr_assert (o.seqs[tag] >= 1 && o.seqs[tag] <= 10 && !seen[o.seqs[tag]]);
        seen[o.seqs[tag]] = true;
    }
    size_t seen_first;
    LOCKED (cl, seen_first = node->seen_at_first_reply);
    cr_assert_eq (seen_first, 4, "no more than the window went before an answer (%zu)", seen_first);
    //  Batches of half the window
    cr_assert_eq (s_frame (cl, PROTO_APPEND_BATCH, 0).count, 2);
    rlog_bulk_destroy (&bulk);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (bulk, silence_resends_under_the_same_ids, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    outcomes_t o = {0};
    rlog_bulk_t *bulk = rlog_bulk_new (node->endpoint, 1, 0, 8, s_bulk_fn, &o);
    rlog_bulk_set_retry (bulk, 250, 3);
    //  The first batch is stored but its reply lost
    LOCKED (cl, node->drop_replies = 1);
    for (uint64_t tag = 0; tag < 4; tag++)
        cr_assert_eq (rlog_bulk_append (bulk, "q", 1, tag), RLOG_OK);
    cr_assert_eq (rlog_bulk_finish (bulk), RLOG_OK, "%s", rlog_bulk_error (bulk));
    cr_assert_eq (o.ok, 4);
    for (int tag = 0; tag < 4; tag++) {
        cr_assert_eq (o.per_tag[tag], 1);
        cr_assert_eq (o.seqs[tag], (uint64_t)tag + 1, "the original seqs");
    }
    cr_assert_eq (s_entry_count (cl), 4, "stored once");
    frame_rec_t sent = s_frame (cl, PROTO_APPEND_BATCH, 0),
                again = s_frame (cl, PROTO_APPEND_BATCH, 1);
    cr_assert_eq (sent.first_req, 1);
    cr_assert_eq (sent.count, 4);
    cr_assert_eq (again.first_req, 1);
    cr_assert_eq (again.count, 4);
    cr_assert_eq (memcmp (sent.client_id, again.client_id, PROTO_CLIENT_ID_SIZE), 0);
    cr_assert_geq (s_count_frames (cl, PROTO_STATUS), 1, "it probed first");
    rlog_bulk_destroy (&bulk);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (bulk, a_silent_cluster_is_given_up, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    outcomes_t o = {0};
    rlog_bulk_t *bulk = rlog_bulk_new (node->endpoint, 1, 0, 8, s_bulk_fn, &o);
    rlog_bulk_set_retry (bulk, 100, 2);
    cr_assert_eq (rlog_bulk_append (bulk, "g", 1, 0), RLOG_OK);
    cr_assert_eq (rlog_bulk_finish (bulk), RLOG_OK);
    LOCKED (cl, node->silent = true);
    for (uint64_t tag = 1; tag < 4; tag++)
        cr_assert_eq (rlog_bulk_append (bulk, "g", 1, tag), RLOG_OK);
    cr_assert_eq (rlog_bulk_finish (bulk), RLOG_UNREACHABLE);
    cr_assert_eq (o.calls, 4);
    for (int tag = 1; tag < 4; tag++)
        cr_assert_eq (o.codes[tag], RLOG_UNREACHABLE);
    cr_assert (strstr (o.detail, "may or may not have been stored"), "%s", o.detail);
    cr_assert_str_eq (rlog_bulk_error (bulk), o.detail);
    cr_assert_eq (rlog_bulk_in_flight (bulk), 0);
    //  The run can go on once the node is back (a new session)
    LOCKED (cl, node->silent = false);
    cr_assert_eq (rlog_bulk_append (bulk, "h", 1, 9), RLOG_OK);
    cr_assert_eq (rlog_bulk_finish (bulk), RLOG_OK, "%s", rlog_bulk_error (bulk));
    cr_assert_eq (o.codes[9], RLOG_OK);
    rlog_bulk_destroy (&bulk);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (bulk, an_interrupted_run_leaves_its_appends_in_flight, .timeout = 20)
{
    cluster_t *cl = s_cluster_new ();
    fake_t *node = s_fake_new (cl, 0);
    LOCKED (cl, node->hold = 100);
    outcomes_t o = {0};
    rlog_bulk_t *bulk = rlog_bulk_new (node->endpoint, 1, 0, 8, s_bulk_fn, &o);
    rlog_bulk_set_retry (bulk, 5000, 3);
    cr_assert_eq (rlog_bulk_append (bulk, "i", 1, 0), RLOG_OK);
    cr_assert_eq (rlog_bulk_append (bulk, "j", 1, 1), RLOG_OK);
    interrupter_t it = {cl, 2}; //  OPEN, the batch
    pthread_t thread;
    pthread_create (&thread, NULL, s_interrupter, &it);
    cr_assert_eq (rlog_bulk_finish (bulk), RLOG_UNREACHABLE);
    pthread_join (thread, NULL);
    cr_assert_eq (o.calls, 0);
    cr_assert_eq (rlog_bulk_in_flight (bulk), 2);
    cr_assert_str_eq (rlog_bulk_error (bulk),
                      "interrupted with 2 appends unanswered: the master may already hold them "
                      "(appends are never rolled back)");
    zsys_interrupted = 0;
    rlog_bulk_destroy (&bulk);
    s_fake_destroy (&node);
    s_cluster_destroy (&cl);
}

Test (bulk, arguments)
{
    outcomes_t o = {0};
    cr_assert_null (rlog_bulk_new ("nope", 1, 0, 8, s_bulk_fn, &o));
    cr_assert_null (rlog_bulk_new ("tcp://127.0.0.1:1", 0, 0, 8, s_bulk_fn, &o));
    cr_assert_null (rlog_bulk_new ("tcp://127.0.0.1:1", 1, -1, 8, s_bulk_fn, &o));
    cr_assert_null (rlog_bulk_new ("tcp://127.0.0.1:1", 1, 0, 0, s_bulk_fn, &o));
    cr_assert_null (rlog_bulk_new ("tcp://127.0.0.1:1", 1, 0, 65537, s_bulk_fn, &o));
    cr_assert_null (rlog_bulk_new ("tcp://127.0.0.1:1", 1, 0, 8, NULL, &o));
    rlog_bulk_t *bulk = rlog_bulk_new ("tcp://127.0.0.1:1", 1, 0, 8, s_bulk_fn, &o);
    cr_assert_not_null (bulk);
    cr_assert_eq (rlog_bulk_append (bulk, NULL, 1, 0), RLOG_EMPTY);
    cr_assert_eq (rlog_bulk_set_curve (bulk, "/nonexistent/cert", "/nonexistent/server"),
                  RLOG_INVALID);
    cr_assert (strlen (rlog_bulk_error (bulk)) > 0);
    cr_assert_eq (rlog_bulk_finish (bulk), RLOG_OK, "nothing to wait for");
    rlog_bulk_destroy (&bulk);
    cr_assert_null (bulk);
    rlog_bulk_destroy (&bulk);
}
