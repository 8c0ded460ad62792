/*  secondary.c - the secondary role: it moves frames between the node's
    sockets, the follower (follower.h: every replication rule) and the
    store, and decides nothing itself.

    SUB       live BATCHes and HEARTBEATs from the master (may lose frames)
    DEALER    HELLO / ACK / FETCH to the master; WELCOME / FILL / ERROR back
    client    appends and sessions are answered NOT_MASTER, naming the
              master's client endpoint when it is known

    From HELLO to following: the node connects the SUB before the first
    HELLO (the zguide's Clone pattern), so the live stream and the catch-up
    overlap instead of leaving a hole. The follower says HELLO; the WELCOME
    says where the histories agree; records then arrive on both sockets and
    the follower stores them in order, holds back what is early and fetches
    what is missing. After each burst the role commits what was stored
    (write, and fdatasync under --fsync always) and tells the follower what
    is durable, which it ACKs. The test knobs (knobs.h) sit in front of the
    follower (drop, delay) and behind it (fail after store).
*/
#include "secondary.h"
#include "follower.h"
#include "knobs.h"
#include "log.h"
#include "rlog.h"

struct _secondary_t {
    node_t *node;
    store_t *store;
    zsock_t *dealer;
    char master_peer[CONFIG_ENDPOINT_MAX];
    follower_t *follower;
    knobs_t *knobs; //  NULL when every knob is off
};

//  -------------------------------------------------------------------------
//  The follower's sink: what it asks of the sockets, the store and the meta

static int s_send_peer (secondary_t *self, const proto_msg_t *msg)
{
    return node_send (self->node, self->dealer, NULL, 0, msg);
}

static int s_send_hello (void *arg, const uint8_t *history, uint64_t last_epoch, uint64_t last_seq,
                         uint32_t last_crc, uint64_t epoch)
{
    secondary_t *self = (secondary_t *)arg;
    proto_msg_t msg = {.type = PROTO_HELLO,
                       .history = history,
                       .history_size = history ? PROTO_HISTORY_SIZE : 0,
                       .last_epoch = last_epoch,
                       .last_seq = last_seq,
                       .last_crc = last_crc,
                       .epoch = epoch};
    snprintf (msg.node_id, sizeof msg.node_id, "%s", self->node->cfg.id);
    return s_send_peer (self, &msg);
}

//  The knobs may withhold an ACK and fetch the same range again instead.
static int s_send_ack (void *arg, uint64_t epoch, uint64_t acked)
{
    secondary_t *self = (secondary_t *)arg;
    proto_msg_t msg = {.type = PROTO_ACK, .epoch = epoch, .acked = acked};
    knobs_ack_t instead = {.ack = true};
    if (self->knobs)
        knobs_ack (self->knobs, acked, &instead);
    if (instead.fetch)
        msg = (proto_msg_t){
            .type = PROTO_FETCH, .epoch = epoch, .from = instead.from, .count = instead.count};
    return instead.ack || instead.fetch ? s_send_peer (self, &msg) : 0;
}

static int s_send_fetch (void *arg, uint64_t epoch, uint64_t from, uint64_t count)
{
    secondary_t *self = (secondary_t *)arg;
    proto_msg_t msg = {.type = PROTO_FETCH, .epoch = epoch, .from = from, .count = count};
    return s_send_peer (self, &msg);
}

static int s_store (void *arg, const uint8_t *record, size_t size)
{
    secondary_t *self = (secondary_t *)arg;
    if (store_append (self->store, record, size) == 0)
        return 0;
    if (wire_ratelimit (&self->node->disk_log, self->node->now, 1000))
        log_error ("cannot store entry %llu: %s", (unsigned long long)store_head (self->store) + 1,
                   strerror (errno));
    return -1;
}

static int s_truncate (void *arg, uint64_t last, const char *reason)
{
    secondary_t *self = (secondary_t *)arg;
    char path[CONFIG_ENDPOINT_MAX + 96];
    storage_rollback_path (&self->node->storage, reason, path, sizeof path);
    uint64_t head = store_head (self->store);
    log_warn ("moving entries %llu..%llu aside (%s)%s%s", (unsigned long long)last + 1,
              (unsigned long long)head, reason, path[0] ? ": saved to " : ": in memory, dropped",
              path);
    if (store_truncate (self->store, last, path[0] ? path : NULL) == 0)
        return 0;
    log_error ("could not truncate to %llu (%s): %s", (unsigned long long)last,
               path[0] ? path : "in memory", strerror (errno));
    return -1;
}

static int s_adopt (void *arg, const uint8_t *history, uint64_t epoch)
{
    secondary_t *self = (secondary_t *)arg;
    meta_t *meta = &self->node->storage.meta;
    meta->has_history = history != NULL;
    if (history)
        memcpy (meta->history, history, META_HISTORY_SIZE);
    if (epoch > meta->epoch)
        meta->epoch = epoch;
    char err[256];
    if (storage_save (&self->node->storage, err, sizeof err) == 0)
        return 0;
    log_error ("cannot save the history identity: %s", err);
    return -1;
}

static void s_log (void *arg, follower_level_t level, const char *text)
{
    (void)arg;
    log_at ((int)level, text);
}

//  -------------------------------------------------------------------------
//  Frames from the master

static void s_master_frame (secondary_t *self, const proto_msg_t *msg)
{
    follower_t *f = self->follower;
    int64_t now = self->node->now;
    if (msg->type == PROTO_WELCOME)
        follower_welcome (f, msg->epoch, msg->history, msg->head, msg->truncate_to, msg->at_epoch,
                          (uint32_t)msg->at_crc, msg->leader, now);
    else if (msg->type == PROTO_HEARTBEAT)
        follower_heartbeat (f, msg->epoch, msg->head, msg->history, now);
    else if (msg->type == PROTO_BATCH || msg->type == PROTO_FILL)
        follower_records (f, msg->type == PROTO_FILL, msg->epoch, msg->data, msg->size,
                          self->node->cfg.max_msg, now);
    else if (msg->type == PROTO_ERROR)
        follower_error (f, (int)msg->code, msg->text, now);
    else if (wire_ratelimit (&self->node->bad_input_log, now, 1000))
        log_warn ("unexpected %s from the master (ignored)", proto_type_name (msg->type));
}

//  Decoded, then past the knobs (which may drop it, or hold a copy and
//  hand it back later: DELAYED frames have been through them already).
static void s_frame (secondary_t *self, const void *data, size_t size, bool delayed)
{
    node_t *node = self->node;
    proto_msg_t msg;
    int rc = proto_decode (node->decoder, data, size, &msg);
    if (rc != RLOG_OK) {
        if (wire_ratelimit (&node->bad_input_log, node->now, 1000))
            log_warn ("bad frame from the master side (%s): %s", rlog_strerror (rc),
                      proto_decoder_error (node->decoder));
        return;
    }
    if (self->knobs && !delayed) {
        bool droppable =
            msg.type == PROTO_BATCH || msg.type == PROTO_FILL || msg.type == PROTO_HEARTBEAT;
        if (knobs_frame (self->knobs, droppable, data, size, node->now) != KNOBS_PASS)
            return;
    }
    s_master_frame (self, &msg);
}

void secondary_frame (secondary_t *self, const void *data, size_t size)
{
    s_frame (self, data, size, false);
}

//  Write (and fsync) what was stored; a failed write drops the entries not
//  written, which the follower then fetches again. Then ACK what is durable.
static void s_commit (secondary_t *self, bool sync)
{
    node_t *node = self->node;
    if (node_commit (node, sync) != 0) {
        if (wire_ratelimit (&node->disk_log, node->now, 1000))
            log_error ("disk write failed (%s): back to %llu entries, will fetch again",
                       strerror (errno), (unsigned long long)store_head (self->store));
        follower_reset (self->follower, node->now);
    }
    follower_durable (self->follower, node_durable (node), node->now);
}

void secondary_turn (secondary_t *self)
{
    s_commit (self, node_sync_due (self->node));
}

void secondary_tick (secondary_t *self)
{
    node_t *node = self->node;
    size_t size;
    const uint8_t *frame;
    while (self->knobs && (frame = knobs_due (self->knobs, node->now, &size)))
        s_frame (self, frame, size, true);
    follower_tick (self->follower, node->now);
    bool sync = store_synced (self->store) < store_written (self->store) && node_sync_due (node);
    s_commit (self, sync);
}

//  -------------------------------------------------------------------------
//  Clients and status

void secondary_client (secondary_t *self, const wire_route_t *route, const proto_msg_t *msg)
{
    const char *leader = follower_leader (self->follower);
    char text[PROTO_TEXT_MAX + 1];
    snprintf (text, sizeof text, "appends go to the master%s%.140s; this is secondary '%s'",
              leader[0] ? " at " : "", leader, self->node->cfg.id);
    node_refuse (self->node, route, msg, RLOG_NOT_MASTER, text, leader);
}

void secondary_status (secondary_t *self, proto_status_t *st)
{
    follower_t *f = self->follower;
    node_t *node = self->node;
    snprintf (st->role, sizeof st->role, "secondary");
    snprintf (st->node_id, sizeof st->node_id, "%s", node->cfg.id);
    st->epoch = follower_master_epoch (f);
    snprintf (st->mode, sizeof st->mode, "%s", follower_mode_name (follower_mode (f)));
    snprintf (st->reason, sizeof st->reason, "%s", follower_reason (f));
    snprintf (st->leader_client, sizeof st->leader_client, "%s", follower_leader (f));
    snprintf (st->master_peer, sizeof st->master_peer, "%s", self->master_peer);
    st->master_reachable = follower_reachable (f);
    int64_t heard = follower_last_heard (f);
    st->master_last_heard_ms = heard < 0 ? -1 : node->now - heard;
    st->master_head = follower_master_head (f);
    st->held_back = follower_held_back (f) + (self->knobs ? knobs_queued (self->knobs) : 0);
    st->duplicates = follower_duplicates (f);
}

const char *secondary_leader (secondary_t *self)
{
    return follower_leader (self->follower);
}

//  -------------------------------------------------------------------------
//  Set-up and tear-down

secondary_t *secondary_new (node_t *node, zsock_t *dealer, const char *master_peer, char *err,
                            size_t err_size)
{
    secondary_t *self = (secondary_t *)zmalloc (sizeof (secondary_t));
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    const config_t *cfg = &node->cfg;
    self->node = node;
    self->store = node->storage.store;
    self->dealer = dealer;
    snprintf (self->master_peer, sizeof self->master_peer, "%s", master_peer);
    uint64_t seed = cfg->seed ? cfg->seed : (uint64_t)zclock_usecs () ^ ((uint64_t)getpid () << 32);
    follower_config_t fc = {
        cfg->id,           cfg->heartbeat_ms,   cfg->unhealthy_ms,    cfg->fetch_max,
        cfg->holdback_max, cfg->holdback_bytes, cfg->discard_foreign, seed};
    follower_sink_t sink = {self,    s_send_hello, s_send_ack, s_send_fetch,
                            s_store, s_truncate,   s_adopt,    s_log};
    const meta_t *meta = &node->storage.meta;
    self->follower =
        follower_new (&fc, self->store, meta->has_history ? meta->history : NULL, &sink);
    bool knobs = cfg->drop_rate > 0 || cfg->fail_rate > 0 || cfg->delay_ms > 0;
    if (knobs) {
        knobs_config_t kc = {cfg->drop_rate,    cfg->delay_ms,       cfg->fail_rate,
                             cfg->holdback_max, cfg->holdback_bytes, seed ^ 0x9e3779b9};
        self->knobs = knobs_new (&kc);
    }
    if (!self->follower || (knobs && !self->knobs)) {
        snprintf (err, err_size, "out of memory");
        secondary_destroy (&self);
        return NULL;
    }
    char storage[CONFIG_ENDPOINT_MAX + 64];
    config_storage (cfg, storage, sizeof storage);
    log_info ("secondary '%s' up: master %s, client %s, heartbeat %lld ms, %s, delay %lld ms, "
              "fail-rate %g, drop-rate %g",
              cfg->id, master_peer, cfg->client_ep, (long long)cfg->heartbeat_ms, storage,
              (long long)cfg->delay_ms, cfg->fail_rate, cfg->drop_rate);
    return self;
}

void secondary_start (secondary_t *self)
{
    follower_start (self->follower, self->node->now);
}

void secondary_destroy (secondary_t **self_p)
{
    secondary_t *self = *self_p;
    if (!self)
        return;
    log_info ("secondary '%s' stopping: head %llu", self->node->cfg.id,
              (unsigned long long)store_head (self->store));
    follower_destroy (&self->follower);
    knobs_destroy (&self->knobs);
    free (self);
    *self_p = NULL;
}
