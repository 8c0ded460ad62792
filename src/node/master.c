/*  master.c - the master role: it moves frames between the node's sockets
    and the pure modules, and decides nothing itself.

    client ROUTER  OPEN / APPEND / APPEND_BATCH (LIST and STATUS: node.c)
    pub PUB        BATCH frames (slices of the log) and HEARTBEATs
    peer ROUTER    HELLO / ACK / FETCH from secondaries; WELCOME / FILL back

    The life of an append (appends.h has the rules, peers.h the secondaries):
      1. The node drains the client socket in bounded turns (node.c).
      2. Each request is admitted entry by entry (appends_begin/entry); its
         new entries become ONE record, written in place at the end of the
         log with its CRC computed once (ingest.h).
      3. End of the turn: one write, and under --fsync always one fdatasync,
         for every record of the turn (group commit); then the new records
         go out on the PUB as slices of the log's bytes, not re-encoded.
      4. ACKs move what each secondary holds; after each burst
         appends_durable answers every request whose w is met.
      5. A tick expires deadlines and runs the batch fsync; when the role
         ends, every parked request learns how far it got.
*/
#include "master.h"
#include "appends.h"
#include "ingest.h"
#include "log.h"
#include "peers.h"
#include "rlog.h"

struct _master_t {
    node_t *node;
    store_t *store;
    uint64_t epoch;
    appends_t *appends;
    peers_t *peers;
    uint64_t published;
    uint64_t marker; //  seq of this epoch's marker (elected masters), 0 none
    uint64_t held[APPENDS_MAX_NODES];
    uint8_t verdicts[PROTO_BATCH_MAX_ENTRIES];
    proto_exception_t exceptions[PROTO_EXCEPTIONS_MAX];
    char disk_error[160];
    wire_ratelimit_t busy_log;
    wire_ratelimit_t stale_epoch_log;
};

//  Who holds what, for the write concern, into self->held; returns how
//  many nodes that is. A secondary counts only up to what the master
//  itself holds: w means the master AND w-1 secondaries, even when the
//  master's own fsync lags (or failed). After an election, a node counts
//  only once it holds the epoch marker. The count is the return value only:
//  a count kept beside the array and passed in the same call's arguments
//  may be read before this runs (C leaves the order of evaluation open),
//  and then a node that left is counted with what the previous call put in
//  its slot (another node's acked seq: one ACK counted twice).
static size_t s_held (master_t *self)
{
    uint64_t mine = node_durable (self->node);
    self->held[0] = mine;
    size_t n = 1 + peers_held (self->peers, self->held + 1, APPENDS_MAX_NODES - 1);
    for (size_t i = 0; i < n; i++) {
        if (self->held[i] > mine)
            self->held[i] = mine;
        if (self->held[i] < self->marker)
            self->held[i] = 0;
    }
    return n;
}

//  Answer every waiting append whose w is met now.
static void s_answer_durable (master_t *self)
{
    size_t n = s_held (self);
    appends_durable (self->appends, self->held, n);
}

int master_mark_epoch (master_t *self)
{
    size_t size = record_size (0, entries_size (0, 0));
    uint8_t *out = store_reserve (self->store, size);
    if (!out)
        return -1;
    uint64_t seq = store_head (self->store) + 1;
    size_t at = record_write_header (out, self->epoch, seq, 1, RECORD_F_MARKER, NULL, 0, 0);
    at += entries_put (out + at, 0, NULL, 0);
    record_seal (out, at);
    if (store_append_reserved (self->store) != 0)
        return -1;
    self->marker = seq;
    return 0;
}

static peers_log_t s_log_view (master_t *self)
{
    return (peers_log_t){self->node->storage.meta.history, self->epoch, self->store};
}

//  appends.h calls back here whenever a request is answered.
static void s_on_reply (void *arg, const appends_reply_t *r)
{
    master_t *self = (master_t *)arg;
    size_t exceptions =
        r->exception_count < PROTO_EXCEPTIONS_MAX ? r->exception_count : PROTO_EXCEPTIONS_MAX;
    proto_msg_t msg = {.type = r->batch ? PROTO_APPEND_BATCH_REPLY : PROTO_APPEND_REPLY,
                       .req_id = r->first_req,
                       .count = r->count,
                       .code = (uint64_t)r->code,
                       .seq = r->batch ? r->first_seq : r->seq,
                       .acks = r->acks,
                       .w = r->w,
                       .exceptions = self->exceptions,
                       .exception_count = exceptions};
    snprintf (msg.text, sizeof msg.text, "%s", r->text ? r->text : "");
    node_t *node = self->node;
    if (r->code == RLOG_BUSY && wire_ratelimit (&self->busy_log, node->now, 1000))
        log_warn ("busy: %s (%zu parked; --max-waiters %zu, --max-client-waiting %zu)",
                  r->text ? r->text : "", appends_parked (self->appends), node->cfg.max_waiters,
                  node->cfg.max_client_waiting);
    for (size_t i = 0; i < exceptions; i++)
        self->exceptions[i] = (proto_exception_t){r->exceptions[i].index, r->exceptions[i].code,
                                                  r->exceptions[i].seq};
    node_send (self->node, self->node->client, r->route, r->route_size, &msg);
}

//  -------------------------------------------------------------------------
//  The client socket

static void s_append (master_t *self, const wire_route_t *route, const proto_msg_t *msg)
{
    node_t *node = self->node;
    bool batch = msg->type == PROTO_APPEND_BATCH;
    ingest_request_t req = {msg->client_id, msg->req_id, batch ? msg->count : 1,
                            batch,          msg->data,   msg->size};
    char text[PROTO_TEXT_MAX + 1] = "read-only: ";
    if (ingest_check (&req, text, sizeof text) != 0) {
        node_refuse (node, route, msg, RLOG_MALFORMED, text, NULL);
        return;
    }
    bool read_only = peers_read_only (self->peers, text + 11, sizeof text - 11);
    //  In memory a w=1 append is answered in this turn; on disk it waits
    //  for the turn's write (and fsync).
    bool may_park = msg->w > 1 || store_is_durable (self->store);
    appends_request_t ar = {
        route->bytes, route->size,     msg->client_id, msg->req_id, (uint32_t)req.count,
        msg->w,       msg->timeout_ms, batch,          may_park};
    if (appends_begin (self->appends, &ar, read_only ? RLOG_READ_ONLY : 0, text, node->now) != 0)
        return;
    int64_t first_seq = ingest_run (self->appends, self->store, self->epoch, &req, self->verdicts);
    if (first_seq < 0) {
        snprintf (text, sizeof text, "cannot append: %s", strerror (errno));
        log_error ("%s", text);
        appends_abort (self->appends, RLOG_INTERNAL, text);
        return;
    }
    size_t held = s_held (self);
    appends_end (self->appends, (uint64_t)first_seq, self->held, held, node->now);
}

static void s_open_session (master_t *self, const wire_route_t *route)
{
    uint8_t id[PROTO_CLIENT_ID_SIZE];
    node_t *node = self->node;
    proto_msg_t msg = {.type = PROTO_OPEN_REPLY,
                       .code = RLOG_OK,
                       .max_msg = node->cfg.max_msg,
                       .max_batch = node->cfg.max_msg + ENTRIES_OVERHEAD,
                       .client_id = id,
                       .client_id_size = sizeof id};
    if (appends_open (self->appends, id) != 0) {
        msg.code = RLOG_INTERNAL;
        msg.client_id_size = 0;
        snprintf (msg.text, sizeof msg.text, "out of memory");
    }
    node_send (node, node->client, route->bytes, route->size, &msg);
}

void master_client (master_t *self, const wire_route_t *route, const proto_msg_t *msg)
{
    if (msg->type == PROTO_OPEN)
        s_open_session (self, route);
    else
        s_append (self, route, msg);
}

//  -------------------------------------------------------------------------
//  The end of a turn: group commit, publish, answer

static void s_commit (master_t *self, bool sync)
{
    node_t *node = self->node;
    if (node_commit (node, sync) == 0) {
        if (self->disk_error[0])
            log_info ("disk writes succeed again");
        self->disk_error[0] = 0;
        return;
    }
    //  The records not written are gone: their requests learn it, and
    //  dedup forgets them so that a retry appends them again.
    uint64_t written = store_written (self->store);
    snprintf (self->disk_error, sizeof self->disk_error, "disk write failed (%s): not stored",
              strerror (errno));
    size_t lost = appends_rollback (self->appends, written, self->disk_error);
    if (wire_ratelimit (&node->disk_log, node->now, 1000))
        log_error ("%s: %zu appends refused, head back to %llu", self->disk_error, lost,
                   (unsigned long long)written);
}

//  New records go out as they lie in the log; a full PUB queue drops a
//  frame, which the secondaries then fetch.
static void s_publish (master_t *self)
{
    node_t *node = self->node;
    uint64_t written = store_written (self->store);
    while (self->published < written) {
        store_slice_t slice;
        if (store_slice (self->store, self->published + 1, written, 1024 * 1024, &slice) != 0)
            break;
        wire_send_records (node->pub, NULL, 0, node->prefix, PROTO_BATCH, self->epoch, slice.bytes,
                           slice.size);
        self->published = slice.last_seq;
    }
}

void master_turn (master_t *self)
{
    if (store_head (self->store) > store_written (self->store))
        s_commit (self, node_sync_due (self->node));
    s_publish (self);
    s_answer_durable (self);
}

//  -------------------------------------------------------------------------
//  The peer socket

static void s_fill (master_t *self, const wire_route_t *route, uint64_t from, uint64_t to)
{
    node_t *node = self->node;
    while (from <= to) {
        store_slice_t slice;
        if (store_slice (self->store, from, to, 1024 * 1024, &slice) != 0 ||
            wire_send_records (node->peer, route->bytes, route->size, node->prefix, PROTO_FILL,
                               self->epoch, slice.bytes, slice.size) != 0)
            break; //  its queue is full: it asks again after a timeout
        from = slice.last_seq + 1;
    }
}

//  A pinned master never steps down: a secondary that has seen a higher
//  epoch (this data dir was restored from an older copy) makes it take an
//  epoch above that one, so epochs keep growing along the history.
static void s_see_epoch (master_t *self, uint64_t epoch)
{
    if (epoch <= self->epoch)
        return;
    char err[256];
    uint64_t next;
    storage_t *storage = &self->node->storage;
    if (storage_see_epoch (storage, epoch, err, sizeof err) != 0 ||
        storage_new_epoch (storage, &next, err, sizeof err) != 0) {
        log_error ("cannot take an epoch above %llu: %s", (unsigned long long)epoch, err);
        return;
    }
    log_warn ("a secondary has seen epoch %llu: this master moves from epoch %llu to %llu",
              (unsigned long long)epoch, (unsigned long long)self->epoch, (unsigned long long)next);
    self->epoch = next;
}

static void s_hello (master_t *self, const wire_route_t *route, const peers_origin_t *from,
                     const proto_msg_t *msg, peers_decision_t *d)
{
    node_t *node = self->node;
    peers_hello_t hello = {msg->node_id,
                           msg->history_size ? msg->history : NULL,
                           msg->last_epoch,
                           msg->last_seq,
                           (uint32_t)msg->last_crc,
                           msg->epoch};
    peers_log_t view = s_log_view (self);
    peers_hello (self->peers, from, &hello, &view, node->now, d);
    if (d->verdict != PEERS_ACCEPT)
        return;
    //  Only a secondary the master accepts may move its epoch.
    s_see_epoch (self, msg->epoch);
    proto_msg_t welcome = {.type = PROTO_WELCOME,
                           .epoch = self->epoch,
                           .history = node->storage.meta.history,
                           .history_size = PROTO_HISTORY_SIZE,
                           .head = self->published,
                           .truncate_to = d->truncate_to,
                           .at_epoch = d->at_epoch,
                           .at_crc = d->at_crc};
    snprintf (welcome.leader, sizeof welcome.leader, "%s", node->cfg.advertise);
    node_send (node, node->peer, route->bytes, route->size, &welcome);
}

void master_peer (master_t *self, const wire_route_t *route, zmq_msg_t *body,
                  const proto_msg_t *msg)
{
    node_t *node = self->node;
    peers_origin_t from = {route->bytes, route->size, node->auth ? wire_peer_key (body) : NULL};
    peers_log_t view = s_log_view (self);
    peers_decision_t d = {.verdict = PEERS_IGNORE};
    //  An ACK or FETCH of another epoch was meant for another master (or
    //  this one before it changed epoch): its sender says HELLO again.
    if (msg->type != PROTO_HELLO && msg->epoch != self->epoch) {
        if (wire_ratelimit (&self->stale_epoch_log, node->now, 1000))
            log_info ("ignored a %s of epoch %llu: this master is in epoch %llu (its sender says "
                      "HELLO again when it sees the new epoch)",
                      proto_type_name (msg->type), (unsigned long long)msg->epoch,
                      (unsigned long long)self->epoch);
        return;
    }
    if (msg->type == PROTO_HELLO)
        s_hello (self, route, &from, msg, &d);
    else if (msg->type == PROTO_ACK)
        peers_ack (self->peers, &from, msg->acked, &view, node->now, &d);
    else {
        peers_fetch (self->peers, &from, msg->from, msg->count, &view, node->now, &d);
        if (d.verdict == PEERS_ACCEPT)
            s_fill (self, route, d.from, d.to);
    }
    if (d.verdict == PEERS_REFUSE) {
        proto_msg_t refusal = {.type = PROTO_ERROR, .code = (uint64_t)d.code};
        snprintf (refusal.text, sizeof refusal.text, "%s", d.text);
        node_send (node, node->peer, route->bytes, route->size, &refusal);
    }
}

void master_peer_turn (master_t *self)
{
    s_answer_durable (self);
}

//  -------------------------------------------------------------------------
//  Timers and status

void master_heartbeat (master_t *self)
{
    node_t *node = self->node;
    proto_msg_t msg = {.type = PROTO_HEARTBEAT,
                       .epoch = self->epoch,
                       .head = self->published,
                       .history = node->storage.meta.history,
                       .history_size = PROTO_HISTORY_SIZE};
    snprintf (msg.node_id, sizeof msg.node_id, "%s", node->cfg.id);
    node_send (node, node->pub, NULL, 0, &msg);
    peers_tick (self->peers, node->now);
}

void master_tick (master_t *self)
{
    node_t *node = self->node;
    int64_t next = appends_next_deadline (self->appends);
    if (next >= 0 && next <= node->now)
        appends_expire (self->appends, node->now, self->held, s_held (self));
    if (store_synced (self->store) < store_written (self->store) && node_sync_due (node)) {
        s_commit (self, true);
        s_answer_durable (self);
    }
}

void master_status (master_t *self, proto_status_t *st)
{
    node_t *node = self->node;
    snprintf (st->role, sizeof st->role, "master");
    snprintf (st->node_id, sizeof st->node_id, "%s", node->cfg.id);
    st->epoch = self->epoch;
    bool read_only = peers_read_only (self->peers, st->reason, sizeof st->reason);
    snprintf (st->mode, sizeof st->mode, "%s", read_only ? "read-only" : "read-write");
    st->nodes = (uint32_t)peers_count (self->peers) + 1;
    st->healthy = peers_healthy (self->peers);
    st->quorum = peers_quorum (self->peers);
    st->waiting = appends_parked (self->appends);
    snprintf (st->leader, sizeof st->leader, "%s", node->cfg.id);
    snprintf (st->leader_client, sizeof st->leader_client, "%s", node->cfg.advertise);
    st->peer_count = peers_count (self->peers);
    for (size_t i = 0; i < st->peer_count && i < PROTO_STATUS_PEERS_MAX; i++) {
        peers_member_status_t m;
        peers_member (self->peers, i, st->head, node->now, &m);
        proto_peer_status_t *p = &st->peers[i];
        snprintf (p->id, sizeof p->id, "%s", m.id);
        snprintf (p->role, sizeof p->role, "secondary");
        snprintf (p->state, sizeof p->state, "%s", health_state_name (m.state));
        p->acked = m.acked;
        p->last_epoch = store_epoch_of (self->store, m.acked);
        p->lag = st->head > m.acked ? st->head - m.acked : 0;
        p->last_heard_ms = m.last_heard_ms;
        p->catching_up = m.catching_up;
    }
}

uint64_t master_epoch (master_t *self)
{
    return self->epoch;
}

//  -------------------------------------------------------------------------
//  Set-up and tear-down

static void s_on_peers_event (void *arg, peers_level_t level, const char *text)
{
    (void)arg;
    log_at ((int)level, text);
}

static peers_t *s_new_peers (master_t *self, char *err, size_t err_size)
{
    node_t *node = self->node;
    const config_t *cfg = &node->cfg;
    peers_config_t pc = {.quorum =
                             cfg->quorum ? cfg->quorum : health_default_quorum (cfg->replicas),
                         .health = {cfg->suspect_ms, cfg->unhealthy_ms, cfg->recover_ms},
                         .heartbeat_ms = cfg->heartbeat_ms,
                         .fetch_max = cfg->fetch_max,
                         .accept_shorter = cfg->accept_shorter,
                         .curve = node->auth != NULL,
                         .count = cfg->replicas};
    for (size_t i = 0; i < cfg->replicas; i++) {
        snprintf (pc.members[i].id, sizeof pc.members[i].id, "%s", cfg->secondaries[i]);
        const char *key = node->auth ? auth_node_key (node->auth, cfg->secondaries[i]) : NULL;
        if (node->auth && !key) {
            snprintf (err, err_size, "no key for secondary '%s' in %s (a certificate named %s)",
                      cfg->secondaries[i], cfg->curve_nodes, cfg->secondaries[i]);
            return NULL;
        }
        snprintf (pc.members[i].key, sizeof pc.members[i].key, "%s", key ? key : "");
    }
    peers_t *peers = peers_new (&pc, s_on_peers_event, self);
    if (!peers)
        snprintf (err, err_size, "out of memory");
    return peers;
}

master_t *master_new (node_t *node, uint64_t epoch, char *err, size_t err_size)
{
    master_t *self = (master_t *)zmalloc (sizeof (master_t));
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    const config_t *cfg = &node->cfg;
    self->node = node;
    self->store = node->storage.store;
    self->epoch = epoch;
    appends_config_t ac = {cfg->replicas + 1,
                           cfg->max_msg,
                           cfg->max_waiters,
                           cfg->max_client_waiting,
                           0,
                           0,
                           0,
                           (uint64_t)zclock_usecs () ^ ((uint64_t)getpid () << 40)};
    self->appends = appends_new (&ac, s_on_reply, self);
    self->peers = self->appends ? s_new_peers (self, err, err_size) : NULL;
    //  Rebuild the dedup table from the log, so a retry after a restart (or
    //  a failover) gets its original seq.
    if (!self->peers || ingest_recover (self->appends, self->store) != 0) {
        if (self->peers)
            snprintf (err, err_size, "out of memory");
        master_destroy (&self);
        return NULL;
    }
    //  The secondaries fetch what they lack; re-publishing the whole log
    //  would stall the loop for nothing.
    self->published = store_written (self->store);
    char storage[CONFIG_ENDPOINT_MAX + 64], history[40];
    config_storage (cfg, storage, sizeof storage);
    log_info ("master up: history %s, epoch %llu, head %llu, %zu clients in the dedup table, %u "
              "secondaries, quorum %u, client %s, pub %s, peer %s, heartbeat %lld ms, %s",
              meta_history_hex (node->storage.meta.history, history, sizeof history),
              (unsigned long long)epoch, (unsigned long long)store_head (self->store),
              dedup_clients (appends_dedup (self->appends)), cfg->replicas,
              peers_quorum (self->peers), cfg->client_ep, cfg->pub_ep, cfg->peer_ep,
              (long long)cfg->heartbeat_ms, storage);
    return self;
}

void master_destroy (master_t **self_p)
{
    master_t *self = *self_p;
    if (!self)
        return;
    if (self->appends && self->peers) {
        //  Whoever still waits learns how far its entry got.
        size_t answered = appends_shutdown (self->appends, self->held, s_held (self));
        log_info ("master stopping: head %llu, %zu waiting appends answered",
                  (unsigned long long)store_head (self->store), answered);
    }
    appends_destroy (&self->appends);
    peers_destroy (&self->peers);
    free (self);
    *self_p = NULL;
}
