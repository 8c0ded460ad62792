/*  node.c - one rlog node: the event loop, the sockets, the storage, and
    the role that works on them (see node.h).

    Every handler reads the clock once (node.now) and drains its socket in
    bounded turns (drain_max frames, drain_bytes bytes), so timers and the
    other sockets are never starved. Client and peer frames are decoded
    here once and handed to the role decoded; a secondary gets the frames
    from its master raw (its knobs may hold a copy). LIST and STATUS are
    answered here whatever the role.
*/
#include "node_self.h"
#include "log.h"
#include "master.h"
#include "reads.h"
#include "rlog.h"
#include "secondary.h"

#define TICK_MS 5
//  Replies waiting for a client that reads slowly: per connection, in all.
#define OUTBOX_ROUTE_BYTES ((size_t)16 * 1024 * 1024)
#define OUTBOX_TOTAL_BYTES ((size_t)256 * 1024 * 1024)

typedef node_self_t self_t;

//  -------------------------------------------------------------------------
//  For the roles

//  The encoded frame to ROUTE on the client socket, through the outbox
//  (large frames handed over without a copy).
static int s_reply_encoded (node_t *self, const uint8_t *route, size_t route_size)
{
    proto_encoder_t *enc = self->encoder;
    if (proto_encoder_size (enc) < 4096)
        return outbox_send (self->outbox, route, route_size, proto_encoder_data (enc),
                            proto_encoder_size (enc));
    void *data;
    size_t size;
    zmq_msg_t frame;
    if (proto_encoder_take (enc, &data, &size) != 0)
        return -1;
    if (zmq_msg_init_data (&frame, data, size, proto_encoder_free, NULL) != 0) {
        proto_encoder_free (data, NULL);
        return -1;
    }
    return outbox_send_msg (self->outbox, route, route_size, &frame);
}

int node_send (node_t *self, zsock_t *sock, const uint8_t *route, size_t route_size,
               const proto_msg_t *msg)
{
    if (proto_encode (self->encoder, msg) != 0)
        return -1;
    if (sock == self->client && route)
        return s_reply_encoded (self, route, route_size);
    if (wire_send_encoded (sock, route, route_size, self->encoder) == 0)
        return 0;
    log_debug ("%s lost: %s", proto_type_name (msg->type), zmq_strerror (zmq_errno ()));
    return -1;
}

uint64_t node_durable (node_t *self)
{
    store_t *store = self->storage.store;
    return self->cfg.fsync == CONFIG_FSYNC_ALWAYS ? store_synced (store) : store_written (store);
}

//  "always" fsyncs every commit; "batch" fsyncs at once when the last fsync
//  is at least fsync-ms old, else the tick does it when that time comes, so
//  an idle node answers at once and a busy one fsyncs at most every fsync-ms.
bool node_sync_due (node_t *self)
{
    return self->cfg.fsync == CONFIG_FSYNC_ALWAYS ||
           (self->cfg.fsync == CONFIG_FSYNC_BATCH &&
            self->now - self->last_sync >= self->cfg.fsync_ms);
}

int node_commit (node_t *self, bool sync)
{
    store_t *store = self->storage.store;
    if (!store_is_durable (store))
        return 0;
    if (store_head (store) == store_written (store) &&
        (!sync || store_synced (store) == store_written (store)))
        return 0;
    if (sync)
        self->last_sync = self->now;
    return store_commit (store, sync);
}

//  -------------------------------------------------------------------------
//  The client socket: LIST and STATUS here, the rest to the role

static void s_status (self_t *self, const wire_route_t *route)
{
    node_t *node = &self->node;
    proto_status_t *st = &self->status;
    memset (st, 0, sizeof *st);
    store_t *store = node->storage.store;
    st->head = store_head (store);
    st->last_epoch = store_epoch_of (store, st->head);
    st->max_msg = node->cfg.max_msg;
    st->master_last_heard_ms = -1;
    if (node->storage.meta.has_history)
        meta_history_hex (node->storage.meta.history, st->history, sizeof st->history);
    snprintf (st->node_id, sizeof st->node_id, "%s", node->cfg.id);
    if (self->master)
        master_status (self->master, st);
    else if (self->secondary)
        secondary_status (self->secondary, st);
    if (self->election)
        elect_status (self, st);
    proto_msg_t msg = {.type = PROTO_STATUS_REPLY, .code = RLOG_OK, .status = st};
    node_send (node, node->client, route->bytes, route->size, &msg);
}

//  A request that cannot be served: an append's refusal names its request
//  (and the master, for NOT_MASTER); anything else gets an ERROR.
void node_refuse (node_t *self, const wire_route_t *route, const proto_msg_t *req, int code,
                  const char *text, const char *leader)
{
    proto_msg_t msg = {.type = PROTO_ERROR, .code = (uint64_t)code};
    bool append = req->type == PROTO_APPEND || req->type == PROTO_APPEND_BATCH;
    if (append && (req->req_id_known || code == RLOG_NOT_MASTER)) {
        msg.type = req->type == PROTO_APPEND ? PROTO_APPEND_REPLY : PROTO_APPEND_BATCH_REPLY;
        msg.req_id = req->req_id;
        msg.count = req->type == PROTO_APPEND ? 1 : req->count;
        msg.w = req->w;
    } else if (req->type == PROTO_OPEN)
        msg.type = PROTO_OPEN_REPLY;
    snprintf (msg.text, sizeof msg.text, "%s", text);
    snprintf (msg.leader, sizeof msg.leader, "%s", leader ? leader : "");
    node_send (self, self->client, route->bytes, route->size, &msg);
}

static void s_client_frame (self_t *self, const wire_route_t *route, zmq_msg_t *body)
{
    node_t *node = &self->node;
    proto_msg_t msg;
    int rc = proto_decode (node->decoder, zmq_msg_data (body), zmq_msg_size (body), &msg);
    if (rc != RLOG_OK) {
        if (wire_ratelimit (&node->bad_input_log, node->now, 1000))
            log_warn ("client sent a bad request (%s): %s", rlog_strerror (rc),
                      proto_decoder_error (node->decoder));
        node_refuse (node, route, &msg, rc, proto_decoder_error (node->decoder), NULL);
    } else if (msg.type == PROTO_STATUS)
        s_status (self, route);
    else if (msg.type == PROTO_LIST) {
        if (reads_list (node->encoder, node->storage.store, msg.from, msg.count,
                        self->list_scratch) == 0)
            s_reply_encoded (node, route->bytes, route->size);
    } else if (msg.type == PROTO_APPEND || msg.type == PROTO_APPEND_BATCH ||
               msg.type == PROTO_OPEN) {
        if (self->master)
            master_client (self->master, route, &msg);
        else if (self->secondary)
            secondary_client (self->secondary, route, &msg);
        else
            node_refuse (node, route, &msg, RLOG_NOT_MASTER,
                         "no master is known yet: an election is under way",
                         self->election ? elect_leader (self) : NULL);
    } else {
        char text[96];
        snprintf (text, sizeof text, "%s is not accepted on the client socket",
                  proto_type_name (msg.type));
        if (wire_ratelimit (&node->bad_input_log, node->now, 1000))
            log_warn ("client sent %s", text);
        msg.type = PROTO_ERROR;
        node_refuse (node, route, &msg, RLOG_UNKNOWN_TYPE, text, NULL);
    }
}

//  Drain a ROUTER in one bounded turn, handing each frame to FN.
typedef void (frame_fn) (self_t *self, const wire_route_t *route, zmq_msg_t *body);

static void s_drain_router (self_t *self, zsock_t *router, frame_fn *fn, const char *what)
{
    node_t *node = &self->node;
    size_t bytes = 0;
    for (size_t n = 0; n < node->cfg.drain_max && bytes < node->cfg.drain_bytes; n++) {
        wire_route_t route;
        zmq_msg_t body;
        int rc = wire_recv (router, &route, &body);
        if (rc == 0)
            break;
        if (rc < 0) {
            if (wire_ratelimit (&node->bad_input_log, node->now, 1000))
                log_warn ("dropped a %s message with no answerable envelope", what);
            continue;
        }
        bytes += zmq_msg_size (&body);
        fn (self, &route, &body);
        zmq_msg_close (&body);
    }
}

static int s_on_client (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    self_t *self = (self_t *)arg;
    self->node.now = zclock_mono ();
    s_drain_router (self, reader, s_client_frame, "client");
    if (self->master)
        master_turn (self->master);
    outbox_flush (self->node.outbox);
    return 0;
}

//  -------------------------------------------------------------------------
//  The peer socket (a node that may lead)

static void s_peer_frame (self_t *self, const wire_route_t *route, zmq_msg_t *body)
{
    node_t *node = &self->node;
    proto_msg_t msg;
    int rc = proto_decode (node->decoder, zmq_msg_data (body), zmq_msg_size (body), &msg);
    proto_msg_t refusal = {.type = PROTO_ERROR, .code = (uint64_t)rc};
    if (rc != RLOG_OK) {
        if (wire_ratelimit (&node->bad_input_log, node->now, 1000))
            log_warn ("peer sent a bad frame (%s): %s", rlog_strerror (rc),
                      proto_decoder_error (node->decoder));
        snprintf (refusal.text, sizeof refusal.text, "%s", proto_decoder_error (node->decoder));
    } else if (self->election && elect_peer_frame (self, route, body, &msg))
        return;
    else if (self->master &&
             (msg.type == PROTO_HELLO || msg.type == PROTO_ACK || msg.type == PROTO_FETCH)) {
        master_peer (self->master, route, body, &msg);
        return;
    } else {
        refusal.code = self->master ? RLOG_UNKNOWN_TYPE : RLOG_NOT_MASTER;
        snprintf (refusal.text, sizeof refusal.text, "%s %s", proto_type_name (msg.type),
                  self->master ? "is not accepted on the peer socket" : "sent to a non-master");
    }
    node_send (node, node->peer, route->bytes, route->size, &refusal);
}

static int s_on_peer (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    self_t *self = (self_t *)arg;
    self->node.now = zclock_mono ();
    s_drain_router (self, reader, s_peer_frame, "peer");
    if (self->master)
        master_peer_turn (self->master);
    outbox_flush (self->node.outbox);
    return 0;
}

//  -------------------------------------------------------------------------
//  The master's stream (a node that may follow)

//  Which link READER is (its SUB or its DEALER), -1 if none.
static int s_link_of (self_t *self, zsock_t *reader)
{
    for (size_t i = 0; i < self->node.link_count; i++)
        if (self->node.subs[i] == reader || self->node.dealers[i] == reader)
            return (int)i;
    return -1;
}

//  An elected node decodes each frame once more here, for the election
//  (votes, epochs); the secondary decodes its own (its knobs hold raw
//  frames), and gets only those of the link it follows.
static void s_link_frame (self_t *self, int link, const void *data, size_t size)
{
    node_t *node = &self->node;
    if (self->election) {
        proto_msg_t msg;
        if (proto_decode (node->decoder, data, size, &msg) != RLOG_OK)
            return; //  the secondary would log it; nobody else needs it
        if (!elect_link_frame (self, (size_t)link, &msg))
            return;
    }
    if (self->secondary && link == self->follow_link)
        secondary_frame (self->secondary, data, size);
}

static int s_on_follow (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    self_t *self = (self_t *)arg;
    node_t *node = &self->node;
    node->now = zclock_mono ();
    int link = s_link_of (self, reader);
    void *handle = zsock_resolve (reader);
    size_t bytes = 0;
    for (size_t n = 0; n < node->cfg.drain_max && bytes < node->cfg.drain_bytes; n++) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&frame);
            break;
        }
        bytes += zmq_msg_size (&frame);
        //  Our peers send single frames; anything else is not from rlog.
        if (!zmq_msg_more (&frame) && link >= 0)
            s_link_frame (self, link, zmq_msg_data (&frame), zmq_msg_size (&frame));
        zmq_msg_close (&frame);
    }
    if (self->secondary)
        secondary_turn (self->secondary);
    return 0;
}

//  -------------------------------------------------------------------------
//  Timers and the pipe

//  Timers judge silence (health, reachability, elections), so frames that
//  wait in the sockets are read first: after a long turn (a stalled disk
//  write, a starved CPU), the silence was this node's, not its peers'.
static void s_read_pending (self_t *self)
{
    node_t *node = &self->node;
    if (node->peer)
        s_on_peer (self->loop, node->peer, self);
    for (size_t i = 0; i < node->link_count; i++) {
        s_on_follow (self->loop, node->subs[i], self);
        s_on_follow (self->loop, node->dealers[i], self);
    }
}

static int s_on_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    self_t *self = (self_t *)arg;
    s_read_pending (self);
    self->node.now = zclock_mono ();
    if (self->master)
        master_heartbeat (self->master);
    return 0;
}

static int s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    self_t *self = (self_t *)arg;
    s_read_pending (self);
    self->node.now = zclock_mono ();
    if (self->master)
        master_tick (self->master);
    if (self->secondary)
        secondary_tick (self->secondary);
    if (self->election)
        elect_tick (self);
    outbox_flush (self->node.outbox);
    return 0;
}

static int s_on_pipe (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    (void)arg;
    char *command = zstr_recv (reader);
    bool term = !command || streq (command, "$TERM");
    zstr_free (&command);
    return term ? -1 : 0;
}

//  -------------------------------------------------------------------------
//  Set-up and tear-down

static void s_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    node_t *node = &self->node;
    elect_stop (self);
    door_destroy (&self->door);
    master_destroy (&self->master);
    secondary_destroy (&self->secondary);
    zloop_destroy (&self->loop);
    zsock_destroy (&node->client);
    zsock_destroy (&node->pub);
    zsock_destroy (&node->peer);
    for (size_t i = 0; i < node->link_count; i++) {
        zsock_destroy (&node->subs[i]);
        zsock_destroy (&node->dealers[i]);
    }
    auth_destroy (&node->auth);
    outbox_destroy (&node->outbox);
    storage_close (&node->storage);
    proto_decoder_destroy (&node->decoder);
    proto_encoder_destroy (&node->encoder);
    proto_encoder_destroy (&node->prefix);
    free (self);
    *self_p = NULL;
}

//  Socket options that bound what a peer can make a node hold: replies a
//  client does not read, frames a client sends faster than they are read
//  (counted in frames by libzmq, so derived from the largest frame), and
//  what a stuck subscriber or secondary can queue.
static void s_set_limits (self_t *self)
{
    node_t *node = &self->node;
    size_t frame_max = proto_frame_max (node->cfg.max_msg);
    int per_connection = (int)(32 * 1024 * 1024 / frame_max);
    zsock_set_router_mandatory (node->client, 1);
    zsock_set_sndhwm (node->client, OUTBOX_PIPE);
    zsock_set_rcvhwm (node->client, per_connection < 8 ? 8 : per_connection);
    zsock_set_maxmsgsize (node->client, (int)frame_max);
    zsock_set_linger (node->client, 500);
    if (node->pub) {
        zsock_set_sndhwm (node->pub, 16);
        zsock_set_linger (node->pub, 0);
    }
    if (node->peer) {
        zsock_set_router_mandatory (node->peer, 1);
        zsock_set_sndhwm (node->peer, 16);
        zsock_set_maxmsgsize (node->peer, 64 * 1024);
        zsock_set_linger (node->peer, 0);
    }
}

//  A follower's links: ZMTP heartbeats tear down a connection whose peer
//  vanished without a FIN (a partition, a container back on another
//  address), so libzmq reconnects - resolving the name again - instead of
//  waiting on a dead TCP connection for ever. The DEALER is IMMEDIATE: with
//  no connection a frame is dropped, not queued, so a returning master never
//  sees a backlog of stale frames.
static void s_set_link (node_t *node, zsock_t *sub, zsock_t *dealer)
{
    int frame_max = (int)proto_frame_max (node->cfg.max_msg) + 1024 * 1024;
    zsock_set_subscribe (sub, "");
    zsock_set_rcvhwm (sub, 256);
    zsock_set_maxmsgsize (sub, frame_max);
    zsock_set_immediate (dealer, 1);
    zsock_set_sndhwm (dealer, 100);
    zsock_set_rcvhwm (dealer, 64);
    zsock_set_maxmsgsize (dealer, frame_max);
    zsock_t *both[2] = {sub, dealer};
    for (int i = 0; i < 2; i++) {
        zsock_set_heartbeat_ivl (both[i], (int)node->cfg.heartbeat_ms);
        zsock_set_heartbeat_timeout (both[i], (int)node->cfg.unhealthy_ms);
        zsock_set_reconnect_ivl (both[i], 100);
        zsock_set_reconnect_ivl_max (both[i], 1000);
        zsock_set_linger (both[i], 0);
    }
}

//  The public key of the node at the other end of link I.
static int s_link_key (self_t *self, size_t i, char *key, char *err, size_t err_size)
{
    node_t *node = &self->node;
    int member = node->link_member[i];
    if (member < 0)
        return auth_load_public (node->cfg.master_key, key, err, err_size);
    const char *id = node->cfg.members[member].id;
    const char *bound = auth_node_key (node->auth, id);
    if (!bound) {
        snprintf (err, err_size, "no key for node '%s' in %s (a certificate named %s)", id,
                  node->cfg.curve_nodes, id);
        return -1;
    }
    snprintf (key, 41, "%s", bound);
    return 0;
}

static int s_security (self_t *self, char *err, size_t err_size)
{
    node_t *node = &self->node;
    const config_t *cfg = &node->cfg;
    if (!cfg->curve_secret[0])
        return 0;
    node->auth = auth_new (cfg->curve_secret, cfg->curve_client_cert, cfg->curve_nodes,
                           cfg->curve_clients, err, err_size);
    if (!node->auth)
        return -1;
    auth_server (node->auth, node->client, AUTH_CLIENTS);
    if (node->pub)
        auth_server (node->auth, node->pub, AUTH_NODES);
    if (node->peer)
        auth_server (node->auth, node->peer, AUTH_NODES);
    for (size_t i = 0; i < node->link_count; i++) {
        char key[41];
        if (s_link_key (self, i, key, err, err_size) != 0)
            return -1;
        auth_client (node->auth, node->subs[i], key);
        auth_client (node->auth, node->dealers[i], key);
    }
    return 0;
}

//  Link I's endpoints: the pinned master's, or member M's base port + 1/+2.
static void s_link_endpoints (self_t *self, size_t i, char *pub, char *peer, size_t size)
{
    const config_t *cfg = &self->node.cfg;
    int m = self->node.link_member[i];
    if (m < 0) {
        snprintf (pub, size, "%s", cfg->master_pub);
        snprintf (peer, size, "%s", cfg->master_peer);
    } else {
        snprintf (pub, size, "tcp://%s:%d", cfg->members[m].host, cfg->members[m].port + 1);
        snprintf (peer, size, "tcp://%s:%d", cfg->members[m].host, cfg->members[m].port + 2);
    }
}

static int s_bind_connect (self_t *self, char *err, size_t err_size)
{
    node_t *node = &self->node;
    const config_t *cfg = &node->cfg;
    const char *eps[3] = {cfg->client_ep, cfg->pub_ep, cfg->peer_ep};
    zsock_t *socks[3] = {node->client, node->pub, node->peer};
    self->door = door_new (self->loop, door_fit_limit (cfg->max_connections));
    if (!self->door) {
        snprintf (err, err_size, "out of memory");
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        if (!socks[i])
            continue;
        //  A peer that never sends its ZMTP greeting is dropped after this.
        zsock_set_handshake_ivl (socks[i], 10000);
        if ((self->ports[i] = wire_bind (socks[i], eps[i], err, err_size)) < 0)
            return -1;
        //  Only the client socket is watched: the others take nodes only
        //  (with CURVE), and each watched socket costs every loop turn.
        if (i == 0 && door_watch (self->door, socks[i]) != 0) {
            snprintf (err, err_size, "cannot watch the connections of %s", eps[i]);
            return -1;
        }
    }
    //  SUB first, then the DEALER that says HELLO: no hole between the two.
    for (size_t i = 0; i < node->link_count; i++) {
        char pub[CONFIG_ENDPOINT_MAX], peer[CONFIG_ENDPOINT_MAX];
        s_link_endpoints (self, i, pub, peer, sizeof pub);
        if (zsock_connect (node->subs[i], "%s", pub) != 0 ||
            zsock_connect (node->dealers[i], "%s", peer) != 0) {
            snprintf (err, err_size, "cannot connect to %s / %s: %s", pub, peer,
                      zmq_strerror (zmq_errno ()));
            return -1;
        }
    }
    return 0;
}

//  The client endpoint other nodes give out for this one (NOT_MASTER): the
//  bound one, with a wildcard host replaced by this host's name, unless
//  --advertise (or an elected node's --peers entry) says otherwise.
static void s_advertise (self_t *self)
{
    config_t *cfg = &self->node.cfg;
    const char *ep = cfg->client_ep;
    const char *colon = strrchr (ep, ':');
    if (cfg->advertise[0] || strncmp (ep, "tcp://", 6) != 0 || !colon || colon < ep + 6) {
        if (!cfg->advertise[0])
            snprintf (cfg->advertise, sizeof cfg->advertise, "%s", ep);
        return;
    }
    char host[200];
    snprintf (host, sizeof host, "%.*s", (int)(colon - ep - 6), ep + 6);
    if (streq (host, "*") || streq (host, "0.0.0.0")) {
        if (gethostname (host, sizeof host) != 0)
            snprintf (host, sizeof host, "localhost");
        host[sizeof host - 1] = 0;
    }
    snprintf (cfg->advertise, sizeof cfg->advertise, "tcp://%s:%d", host, self->ports[0]);
}

//  libzmq resolves a peer's host name in the I/O thread of the connecting
//  socket, and getaddrinfo can hang for seconds (a DNS server that does not
//  answer, a pod that does not exist yet). So when the context has two I/O
//  threads (rlogd asks for them), the links to other nodes run on the
//  second and the bound sockets, clients' above all, on the first.
static void s_set_affinity (node_t *node)
{
    if (zmq_ctx_get (zsys_init (), ZMQ_IO_THREADS) < 2)
        return;
    zsock_t *bound[3] = {node->client, node->pub, node->peer};
    for (int i = 0; i < 3; i++)
        if (bound[i])
            zsock_set_affinity (bound[i], 1);
    for (size_t i = 0; i < node->link_count; i++) {
        zsock_set_affinity (node->subs[i], 2);
        zsock_set_affinity (node->dealers[i], 2);
    }
}

//  Which sockets a node has: a pinned master listens on three; a pinned
//  secondary has its client socket and one link (to the master); an elected
//  node has both kinds, with a link to every other member.
static int s_make_sockets (self_t *self, char *err, size_t err_size)
{
    node_t *node = &self->node;
    const config_t *cfg = &node->cfg;
    bool ok = (node->client = zsock_new (ZMQ_ROUTER)) != NULL &&
              (node->outbox = outbox_new (node->client, OUTBOX_ROUTE_BYTES, OUTBOX_TOTAL_BYTES));
    if (self->kind != NODE_SECONDARY)
        ok = ok && (node->pub = zsock_new (ZMQ_PUB)) && (node->peer = zsock_new (ZMQ_ROUTER));
    if (self->kind == NODE_SECONDARY)
        node->link_member[node->link_count++] = -1;
    for (size_t m = 0; self->kind == NODE_ELECTED && m < cfg->member_count; m++)
        if (!streq (cfg->members[m].id, cfg->id))
            node->link_member[node->link_count++] = (int)m;
    for (size_t i = 0; ok && i < node->link_count; i++) {
        ok = (node->subs[i] = zsock_new (ZMQ_SUB)) && (node->dealers[i] = zsock_new (ZMQ_DEALER));
        if (ok)
            s_set_link (node, node->subs[i], node->dealers[i]);
    }
    if (!ok) {
        snprintf (err, err_size, "out of memory");
        return -1;
    }
    s_set_limits (self);
    s_set_affinity (node);
    if (s_security (self, err, err_size) != 0 || s_bind_connect (self, err, err_size) != 0)
        return -1;
    s_advertise (self);
    return 0;
}

static int s_start_loop (self_t *self, char *err, size_t err_size)
{
    node_t *node = &self->node;
    zloop_t *loop = self->loop;
    zloop_set_nonstop (loop, true);
    int rc = zloop_reader (loop, node->client, s_on_client, self);
    if (rc == 0 && node->peer)
        rc = zloop_reader (loop, node->peer, s_on_peer, self);
    for (size_t i = 0; rc == 0 && i < node->link_count; i++)
        if ((rc = zloop_reader (loop, node->subs[i], s_on_follow, self)) == 0)
            rc = zloop_reader (loop, node->dealers[i], s_on_follow, self);
    if (rc == 0)
        rc = zloop_reader (loop, self->pipe, s_on_pipe, self);
    if (rc == 0 &&
        (zloop_timer (loop, (size_t)node->cfg.heartbeat_ms, 0, s_on_heartbeat, self) < 0 ||
         zloop_timer (loop, TICK_MS, 0, s_on_tick, self) < 0))
        rc = -1;
    if (rc != 0)
        snprintf (err, err_size, "cannot set up the event loop");
    return rc;
}

//  A pinned node's role, for good; an elected node's comes from its votes.
static int s_start_role (self_t *self, char *err, size_t err_size)
{
    node_t *node = &self->node;
    if (self->kind == NODE_ELECTED)
        return elect_start (self, err, err_size);
    if (self->kind == NODE_MASTER) {
        uint64_t epoch;
        if (storage_new_epoch (&node->storage, &epoch, err, err_size) != 0)
            return -1;
        self->master = master_new (node, epoch, err, err_size);
        return self->master ? 0 : -1;
    }
    self->follow_link = 0;
    self->secondary = secondary_new (node, node->dealers[0], node->cfg.master_peer, err, err_size);
    return self->secondary ? 0 : -1;
}

static self_t *s_new (zsock_t *pipe, const config_t *cfg, node_kind_t kind, char *err,
                      size_t err_size)
{
    self_t *self = (self_t *)zmalloc (sizeof (self_t));
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    node_t *node = &self->node;
    node->cfg = *cfg;
    node->now = zclock_mono ();
    self->kind = kind;
    self->pipe = pipe;
    self->follow_link = -1;
    self->loop = zloop_new ();
    node->decoder = proto_decoder_new (cfg->max_msg);
    node->encoder = proto_encoder_new ();
    node->prefix = proto_encoder_new ();
    if (!self->loop || !node->decoder || !node->encoder || !node->prefix) {
        snprintf (err, err_size, "out of memory");
        s_destroy (&self);
        return NULL;
    }
    //  A pinned master refuses a log damaged in the middle (unless
    //  --repair); a node that may follow keeps the good prefix, since its
    //  master holds the rest (and an elected node with a cut log cannot win
    //  an election against the members that hold it whole).
    bool strict = kind == NODE_MASTER && !cfg->repair;
    if (s_make_sockets (self, err, err_size) != 0 ||
        storage_open (&node->storage, &node->cfg, strict, err, err_size) != 0 ||
        s_start_role (self, err, err_size) != 0 || s_start_loop (self, err, err_size) != 0) {
        s_destroy (&self);
        return NULL;
    }
    return self;
}

//  The CURVE set-up at start: which key each kind of socket presents, so an
//  operator can check that every node's client socket shows the same one
//  when they share --curve-client-cert.
static void s_log_curve (node_t *node)
{
    const config_t *cfg = &node->cfg;
    log_info ("CURVE on: public key %s; node keys from %s, client keys from %s",
              auth_public_key (node->auth), cfg->curve_nodes[0] ? cfg->curve_nodes : "(none)",
              cfg->curve_clients[0] ? cfg->curve_clients : "(none)");
    if (cfg->curve_client_cert[0])
        log_info ("CURVE: the client socket presents the shared certificate %s, public key "
                  "%s; the node's other sockets and links present its own",
                  cfg->curve_client_cert, auth_client_public_key (node->auth));
}

static void s_run (zsock_t *pipe, const config_t *cfg, node_kind_t kind)
{
    char err[1024] = "";
    self_t *self = s_new (pipe, cfg, kind, err, sizeof err);
    zsock_signal (pipe, 0);
    if (!self) {
        wire_actor_failed (pipe, err);
        return;
    }
    if (self->node.auth)
        s_log_curve (&self->node);
    char ports[3][16];
    for (int i = 0; i < 3; i++)
        snprintf (ports[i], sizeof ports[i], "%d", self->ports[i]);
    if (kind == NODE_SECONDARY)
        zstr_sendx (pipe, "READY", ports[0], NULL);
    else
        zstr_sendx (pipe, "READY", ports[0], ports[1], ports[2], NULL);
    if (self->secondary)
        secondary_start (self->secondary);
    zloop_start (self->loop);
    s_destroy (&self);
}

void master_actor (zsock_t *pipe, void *args)
{
    s_run (pipe, (const config_t *)args, NODE_MASTER);
}

void secondary_actor (zsock_t *pipe, void *args)
{
    s_run (pipe, (const config_t *)args, NODE_SECONDARY);
}

void node_actor (zsock_t *pipe, void *args)
{
    s_run (pipe, (const config_t *)args, NODE_ELECTED);
}
