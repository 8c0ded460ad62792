/*  secondary.c - a secondary's event loop.

    SUB       live BATCHes and HEARTBEATs from the master (may lose frames)
    DEALER    HELLO / ACK / FETCH to the master; WELCOME / FILL back
    ROUTER    LIST / STATUS for clients (APPEND is answered NOT_MASTER)

    recv_next is the next seq this node expects. An entry equal to it is
    accepted (stored, or queued when --delay-ms is set); one ahead of it is
    held back; one below it is a duplicate. Every gap - seen from a held-back
    entry or from a heartbeat head beyond recv_next - is fetched with one
    credit-bounded FETCH at a time, retried with backoff and jitter.
    The SUB is connected before the HELLO goes out (Clone pattern), so the
    live stream and the catch-up overlap instead of leaving a hole.
*/
#include "secondary.h"
#include "backoff.h"
#include "config.h"
#include "holdback.h"
#include "log.h"
#include "proto.h"
#include "security.h"
#include "store.h"
#include "wire.h"

#define TICK_MS             5
#define HELLO_BASE_MS       100
#define HELLO_CAP_MS        5000
#define FETCH_BASE_MS       200
#define FETCH_CAP_MS        5000
#define CATCHUP_LOG_ENTRIES 1000

//  An entry waiting out --delay-ms, with its bytes in the same allocation.
typedef struct delayed_s {
    struct delayed_s *next;
    int64_t due;
    entry_t entry;
} delayed_t;

typedef struct {
    config_t cfg;
    zsock_t *sub;
    zsock_t *dealer;
    zsock_t *client;
    zloop_t *loop;
    store_t *store;
    holdback_t *holdback;
    proto_decoder_t *decoder;
    proto_encoder_t *encoder;
    prng_t prng;
    uint64_t master_epoch;
    uint64_t master_head;
    int64_t master_heard; //  monotonic ms, -1 before first contact
    bool master_reachable;
    bool welcomed;
    backoff_t hello_backoff;
    int64_t hello_due;
    uint64_t recv_next;
    delayed_t *delay_head;
    delayed_t *delay_tail;
    size_t delayed;
    bool fetching;
    uint64_t fetch_to;
    int64_t fetch_due;
    backoff_t fetch_backoff;
    bool catching_up; //  a large gap is being fetched (logged)
    uint64_t catchup_from;
    int64_t catchup_started;
    uint64_t acked_sent;
    uint64_t duplicates;
    int client_port;
    wire_ratelimit_t bad_input_log;
    wire_ratelimit_t disk_log;
    security_t *security; //  NULL unless CURVE is configured
    int64_t last_sync;    //  monotonic ms of the last fsync (batch policy)
} secondary_t;

static bool s_chance (secondary_t *self, double p)
{
    return p > 0 && prng_unit (&self->prng) < p;
}

static void s_send (secondary_t *self)
{
    //  IMMEDIATE is set: with no connection the frame is dropped, not
    //  queued, so a returning master never sees a backlog of stale frames.
    wire_send (self->dealer, proto_encoder_data (self->encoder),
               proto_encoder_size (self->encoder));
}

static void s_send_hello (secondary_t *self, int64_t now)
{
    uint64_t head = store_head (self->store);
    if (proto_encode_hello (self->encoder, self->cfg.id, store_epoch_of (self->store, head),
                            head) == 0)
        s_send (self);
    self->hello_due = now + backoff_next (&self->hello_backoff, &self->prng);
}

static void s_rehello (secondary_t *self, const char *why)
{
    if (self->welcomed)
        log_info ("re-joining the master: %s", why);
    self->welcomed = false;
    self->fetching = false;
    s_send_hello (self, zclock_mono ());
}

//  A secondary acknowledges only what its fsync policy made durable.
static uint64_t s_durable (secondary_t *self)
{
    return self->cfg.fsync == CONFIG_FSYNC_ALWAYS ? store_synced (self->store)
                                                  : store_written (self->store);
}

static void s_send_ack (secondary_t *self)
{
    uint64_t durable = s_durable (self);
    if (proto_encode_ack (self->encoder, durable) == 0)
        s_send (self);
    self->acked_sent = durable;
}

static void s_clear_delayed (secondary_t *self);

//  As on the master: "batch" fsyncs at once if the last fsync is fsync-ms old.
static bool s_sync_due (secondary_t *self)
{
    return self->cfg.fsync == CONFIG_FSYNC_ALWAYS ||
           (self->cfg.fsync == CONFIG_FSYNC_BATCH &&
            zclock_mono () - self->last_sync >= self->cfg.fsync_ms);
}

//  Write (and under "always" fsync) what was stored this turn. A failed
//  write drops the unwritten entries: expect them again from the master.
static void s_commit (secondary_t *self, bool sync)
{
    if (!store_is_durable (self->store))
        return;
    if (sync)
        self->last_sync = zclock_mono ();
    if (store_commit (self->store, sync) == 0)
        return;
    int error = errno;
    if (wire_ratelimit (&self->disk_log, zclock_mono (), 1000))
        log_error ("disk write failed (%s): back to %llu entries, will fetch again",
                   strerror (error), (unsigned long long)store_head (self->store));
    s_clear_delayed (self);
    self->recv_next = store_head (self->store) + 1;
    self->fetching = false;
}

static int s_store (secondary_t *self, const entry_t *entry)
{
    if (store_append (self->store, entry) != 0) {
        log_error ("out of memory storing entry %llu",
                   (unsigned long long)store_head (self->store) + 1);
        return -1;
    }
    return 0;
}

static int s_accept (secondary_t *self, const entry_t *entry)
{
    if (self->cfg.delay_ms == 0)
        return s_store (self, entry);
    //  Bounded like the hold-back buffer: past it, entries are refused here
    //  and fetched again once the queue has drained.
    if (self->delayed >= self->cfg.holdback_max)
        return -1;
    delayed_t *d = (delayed_t *)malloc (sizeof (delayed_t) + entry->size + entry->client_id_size);
    if (!d) {
        log_error ("out of memory delaying an entry");
        return -1;
    }
    uint8_t *bytes = (uint8_t *)(d + 1);
    memcpy (bytes, entry->data, entry->size);
    if (entry->client_id_size)
        memcpy (bytes + entry->size, entry->client_id, entry->client_id_size);
    d->next = NULL;
    d->due = zclock_mono () + self->cfg.delay_ms;
    d->entry = *entry;
    d->entry.data = bytes;
    d->entry.client_id = bytes + entry->size;
    if (self->delay_tail)
        self->delay_tail->next = d;
    else
        self->delay_head = d;
    self->delay_tail = d;
    self->delayed++;
    return 0;
}

static void s_clear_delayed (secondary_t *self)
{
    while (self->delay_head) {
        delayed_t *d = self->delay_head;
        self->delay_head = d->next;
        free (d);
    }
    self->delay_tail = NULL;
    self->delayed = 0;
}

static int s_drained (uint64_t seq, const entry_t *entry, void *arg)
{
    secondary_t *self = (secondary_t *)arg;
    (void)seq;
    if (s_accept (self, entry) != 0)
        return -1;
    self->recv_next++;
    return 0;
}

static void s_offer (secondary_t *self, uint64_t seq, const entry_t *entry)
{
    if (seq < self->recv_next) {
        self->duplicates++;
        return;
    }
    if (seq > self->recv_next) {
        if (holdback_put (self->holdback, self->recv_next, seq, entry) == HOLDBACK_DUP)
            self->duplicates++;
        //  FULL or NOMEM: dropped here, fetched again when its turn comes.
        return;
    }
    if (s_accept (self, entry) != 0)
        return;
    self->recv_next++;
    if (holdback_size (self->holdback) > 0)
        holdback_drain (self->holdback, self->recv_next, s_drained, self);
}

//  After new entries became visible: ACK them, unless --fail-rate strikes.
//  A strike plays "internal error after storing": no ACK, and the node asks
//  for the same entries again, which must come back as dropped duplicates.
static void s_after_store (secondary_t *self)
{
    if (store_head (self->store) > store_written (self->store))
        s_commit (self, s_sync_due (self));
    uint64_t head = s_durable (self);
    if (head <= self->acked_sent)
        return;
    if (s_chance (self, self->cfg.fail_rate) && !self->fetching) {
        uint64_t from = self->acked_sent + 1;
        log_debug ("fail-rate: withholding the ACK of %llu..%llu and fetching them again",
                   (unsigned long long)from, (unsigned long long)head);
        if (proto_encode_fetch (self->encoder, from, head - from + 1) == 0)
            s_send (self);
        self->fetching = true;
        self->fetch_to = head;
        self->fetch_due = zclock_mono () + backoff_next (&self->fetch_backoff, &self->prng);
        return;
    }
    s_send_ack (self);
}

static void s_check_gap (secondary_t *self)
{
    if (!self->welcomed || self->fetching)
        return;
    uint64_t want_to = 0;
    uint64_t lowest = holdback_lowest (self->holdback);
    if (lowest > self->recv_next)
        want_to = lowest - 1;
    else if (self->master_head >= self->recv_next)
        want_to = self->master_head;
    if (want_to < self->recv_next) {
        if (self->catching_up && holdback_size (self->holdback) == 0) {
            int64_t ms = zclock_mono () - self->catchup_started;
            uint64_t got = self->recv_next - self->catchup_from;
            log_info ("caught up: %llu entries in %lld ms, head %llu", (unsigned long long)got,
                      (long long)ms, (unsigned long long)store_head (self->store));
            self->catching_up = false;
        }
        return;
    }
    uint64_t count = want_to - self->recv_next + 1;
    if (!self->catching_up && self->master_head + 1 - self->recv_next >= CATCHUP_LOG_ENTRIES) {
        log_info ("catching up: have 1..%llu, master head %llu (%llu entries behind)",
                  (unsigned long long)(self->recv_next - 1), (unsigned long long)self->master_head,
                  (unsigned long long)(self->master_head + 1 - self->recv_next));
        self->catching_up = true;
        self->catchup_from = self->recv_next;
        self->catchup_started = zclock_mono ();
    }
    if (count > self->cfg.fetch_max)
        count = self->cfg.fetch_max;
    if (proto_encode_fetch (self->encoder, self->recv_next, count) == 0)
        s_send (self);
    self->fetching = true;
    self->fetch_to = self->recv_next + count - 1;
    self->fetch_due = zclock_mono () + backoff_next (&self->fetch_backoff, &self->prng);
}

static void s_heard_master (secondary_t *self)
{
    self->master_heard = zclock_mono ();
    if (!self->master_reachable) {
        log_info ("master reachable at %s", self->cfg.master_peer);
        self->master_reachable = true;
    }
}

static void s_take_entries (secondary_t *self, const proto_msg_t *msg)
{
    for (size_t i = 0; i < msg->entry_count; i++)
        s_offer (self, msg->seq + i, &msg->entries[i]);
}

//  A frame from the master (SUB or DEALER), already decoded.
static void s_master_frame (secondary_t *self, const proto_msg_t *msg)
{
    s_heard_master (self);
    if (msg->type == PROTO_WELCOME) {
        uint64_t head = store_head (self->store);
        if (msg->truncate_to < head) {
            //  Entries the master's history does not have: keep them aside
            //  for the operator, then drop them.
            char rollback[CONFIG_ENDPOINT_MAX + 64] = "";
            if (store_is_durable (self->store))
                snprintf (rollback, sizeof rollback, "%s/rollback-%llu-%lld.log",
                          self->cfg.data_dir, (unsigned long long)msg->epoch,
                          (long long)zclock_time ());
            log_warn ("truncating %llu entries (%llu..%llu) that are not in the master's "
                      "history%s%s",
                      (unsigned long long)(head - msg->truncate_to),
                      (unsigned long long)msg->truncate_to + 1, (unsigned long long)head,
                      rollback[0] ? "; saved to " : "", rollback);
            if (store_cut (self->store, msg->truncate_to, rollback[0] ? rollback : NULL) != 0)
                log_error ("could not save the truncated entries to %s: %s", rollback,
                           strerror (errno));
        }
        holdback_clear (self->holdback);
        s_clear_delayed (self);
        self->recv_next = store_head (self->store) + 1;
        self->master_epoch = msg->epoch;
        self->master_head = msg->head;
        self->welcomed = true;
        self->fetching = false;
        backoff_reset (&self->hello_backoff);
        log_info ("joined master epoch %llu: have %llu entries, master head %llu",
                  (unsigned long long)msg->epoch, (unsigned long long)(self->recv_next - 1),
                  (unsigned long long)msg->head);
        s_send_ack (self);
        return;
    }
    if (msg->type == PROTO_ERROR) {
        log_warn ("master refused us: %s (%s)", msg->text, rlog_strerror ((int)msg->code));
        self->welcomed = false;
        return;
    }
    if (msg->type != PROTO_BATCH && msg->type != PROTO_FILL && msg->type != PROTO_HEARTBEAT) {
        log_warn ("unexpected %s from the master (ignored)", proto_type_name (msg->type));
        return;
    }
    if (!self->welcomed)
        return;
    if (msg->epoch != self->master_epoch) {
        char why[96];
        snprintf (why, sizeof why, "master epoch changed %llu -> %llu",
                  (unsigned long long)self->master_epoch, (unsigned long long)msg->epoch);
        s_rehello (self, why);
        return;
    }
    if (msg->type == PROTO_HEARTBEAT) {
        self->master_head = msg->head;
        return;
    }
    uint64_t last = msg->seq + msg->entry_count - 1;
    if (last > self->master_head)
        self->master_head = last;
    s_take_entries (self, msg);
    if (msg->type == PROTO_FILL && self->fetching && self->recv_next > self->fetch_to) {
        self->fetching = false;
        backoff_reset (&self->fetch_backoff);
    }
}

//  Drain one socket of master frames; DROPPABLE frames obey --drop-rate.
static void s_drain_master (secondary_t *self, zsock_t *reader)
{
    void *handle = zsock_resolve (reader);
    for (size_t n = 0; n < self->cfg.drain_max; n++) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&frame);
            break;
        }
        if (zmq_msg_more (&frame)) {
            //  Our peers send single frames; anything else is not from rlog.
            zmq_msg_close (&frame);
            continue;
        }
        proto_msg_t msg;
        int rc = proto_decode (self->decoder, zmq_msg_data (&frame), zmq_msg_size (&frame), &msg);
        if (rc != RLOG_OK) {
            if (wire_ratelimit (&self->bad_input_log, zclock_mono (), 1000))
                log_warn ("bad frame from the master side (%s): %s", rlog_strerror (rc),
                          proto_decoder_error (self->decoder));
        } else {
            bool replication =
                msg.type == PROTO_BATCH || msg.type == PROTO_FILL || msg.type == PROTO_HEARTBEAT;
            if (!(replication && s_chance (self, self->cfg.drop_rate)))
                s_master_frame (self, &msg);
        }
        zmq_msg_close (&frame);
    }
    s_after_store (self);
    s_check_gap (self);
}

static int s_on_master (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    s_drain_master ((secondary_t *)arg, reader);
    return 0;
}

static void s_status (secondary_t *self, rlog_status_t *st)
{
    memset (st, 0, sizeof *st);
    int64_t now = zclock_mono ();
    snprintf (st->role, sizeof st->role, "secondary");
    snprintf (st->node_id, sizeof st->node_id, "%s", self->cfg.id);
    st->epoch = self->master_epoch;
    st->head = store_head (self->store);
    const char *mode = !self->master_reachable                                    ? "disconnected"
                       : (self->fetching || self->recv_next <= self->master_head) ? "catching-up"
                                                                                  : "following";
    snprintf (st->mode, sizeof st->mode, "%s", mode);
    snprintf (st->master, sizeof st->master, "%s", self->cfg.master_peer);
    st->master_reachable = self->master_reachable;
    st->master_last_heard_ms = self->master_heard < 0 ? -1 : now - self->master_heard;
    st->master_head = self->master_head;
    st->held_back = holdback_size (self->holdback) + self->delayed;
    st->duplicates = self->duplicates;
    st->max_msg = self->cfg.max_msg;
}

static int s_on_client (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    secondary_t *self = (secondary_t *)arg;
    for (size_t n = 0; n < self->cfg.drain_max; n++) {
        wire_envelope_t env;
        zmq_msg_t body;
        int rc = wire_recv_request (reader, &env, &body);
        if (rc == 0)
            break;
        if (rc < 0) {
            if (wire_ratelimit (&self->bad_input_log, zclock_mono (), 1000))
                log_warn ("dropped a message with no valid envelope");
            continue;
        }
        proto_msg_t msg;
        rc = proto_decode (self->decoder, zmq_msg_data (&body), zmq_msg_size (&body), &msg);
        char text[160];
        int ok = -1;
        if (rc != RLOG_OK) {
            if (wire_ratelimit (&self->bad_input_log, zclock_mono (), 1000))
                log_warn ("client sent a bad request (%s): %s", rlog_strerror (rc),
                          proto_decoder_error (self->decoder));
            ok = proto_encode_error (self->encoder, rc, proto_decoder_error (self->decoder));
        } else if (msg.type == PROTO_LIST)
            ok = wire_encode_list (self->encoder, self->store, msg.from, msg.count);
        else if (msg.type == PROTO_STATUS) {
            rlog_status_t status;
            s_status (self, &status);
            ok = proto_encode_status_reply (self->encoder, &status);
        } else if (msg.type == PROTO_APPEND) {
            snprintf (text, sizeof text, "appends go to the master; this is secondary '%s'",
                      self->cfg.id);
            ok = proto_encode_error (self->encoder, RLOG_NOT_MASTER, text);
        } else {
            snprintf (text, sizeof text, "%s is not accepted on the client socket",
                      proto_type_name (msg.type));
            ok = proto_encode_error (self->encoder, RLOG_UNKNOWN_TYPE, text);
        }
        if (ok == 0)
            wire_send_reply (reader, env.id, env.id_size, proto_encoder_data (self->encoder),
                             proto_encoder_size (self->encoder));
        zmq_msg_close (&body);
    }
    return 0;
}

static int s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    secondary_t *self = (secondary_t *)arg;
    int64_t now = zclock_mono ();
    bool released = false;
    while (self->delay_head && self->delay_head->due <= now) {
        delayed_t *d = self->delay_head;
        if (s_store (self, &d->entry) != 0)
            break;
        self->delay_head = d->next;
        if (!self->delay_head)
            self->delay_tail = NULL;
        self->delayed--;
        free (d);
        released = true;
    }
    if (released)
        s_after_store (self);
    if (!self->welcomed && now >= self->hello_due)
        s_send_hello (self, now);
    if (self->fetching && now >= self->fetch_due) {
        log_debug ("fetch up to %llu timed out; asking again from %llu",
                   (unsigned long long)self->fetch_to, (unsigned long long)self->recv_next);
        self->fetching = false;
    }
    if (store_synced (self->store) < store_written (self->store) && s_sync_due (self)) {
        s_commit (self, true);
        s_after_store (self);
    }
    s_check_gap (self);
    return 0;
}

static int s_on_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    secondary_t *self = (secondary_t *)arg;
    if (self->welcomed)
        s_send_ack (self); //  the cumulative ACK is our heartbeat
    int64_t silent = zclock_mono () - self->master_heard;
    if (self->master_reachable && silent > self->cfg.unhealthy_ms) {
        log_warn ("master unreachable: nothing heard for %lld ms", (long long)silent);
        self->master_reachable = false;
    }
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

static void s_secondary_destroy (secondary_t **self_p)
{
    secondary_t *self = *self_p;
    if (!self)
        return;
    zloop_destroy (&self->loop);
    zsock_destroy (&self->sub);
    zsock_destroy (&self->dealer);
    zsock_destroy (&self->client);
    security_destroy (&self->security);
    s_clear_delayed (self);
    store_destroy (&self->store);
    holdback_destroy (&self->holdback);
    proto_decoder_destroy (&self->decoder);
    proto_encoder_destroy (&self->encoder);
    free (self);
    *self_p = NULL;
}

//  A secondary keeps the good prefix of a damaged log and fetches the rest:
//  the master holds every entry, so nothing is lost by cutting here.
static int s_open_log (secondary_t *self, char *err, size_t err_size)
{
    const config_t *cfg = &self->cfg;
    if (!cfg->data_dir[0]) {
        self->store = store_new ();
        if (!self->store)
            snprintf (err, err_size, "out of memory");
        return self->store ? 0 : -1;
    }
    disklog_recovery_t recovery;
    self->store = store_open (cfg->data_dir, cfg->segment_bytes, false, &recovery, err, err_size);
    if (!self->store)
        return -1;
    if (recovery.cut_bytes || recovery.cut_entries)
        log_warn ("recovery cut %llu bytes (%llu records) of %s at offset %llu%s; the master "
                  "will refill them",
                  (unsigned long long)recovery.cut_bytes, (unsigned long long)recovery.cut_entries,
                  recovery.file, (unsigned long long)recovery.offset,
                  recovery.corrupt_middle ? " (corruption in the middle)" : "");
    log_info ("recovered %llu entries from %s", (unsigned long long)store_head (self->store),
              cfg->data_dir);
    return 0;
}

static secondary_t *s_secondary_new (zsock_t *pipe, const config_t *cfg, char *err, size_t err_size)
{
    secondary_t *self = (secondary_t *)zmalloc (sizeof (secondary_t));
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->master_heard = -1;
    self->recv_next = 1;
    prng_seed (&self->prng,
               cfg->seed ? cfg->seed : (uint64_t)zclock_usecs () ^ ((uint64_t)getpid () << 32));
    backoff_init (&self->hello_backoff, HELLO_BASE_MS, HELLO_CAP_MS);
    backoff_init (&self->fetch_backoff, FETCH_BASE_MS, FETCH_CAP_MS);
    self->sub = zsock_new (ZMQ_SUB);
    self->dealer = zsock_new (ZMQ_DEALER);
    self->client = zsock_new (ZMQ_ROUTER);
    self->loop = zloop_new ();
    if (s_open_log (self, err, err_size) != 0) {
        s_secondary_destroy (&self);
        return NULL;
    }
    self->holdback = holdback_new (cfg->holdback_max);
    self->decoder = proto_decoder_new (cfg->max_msg);
    self->encoder = proto_encoder_new ();
    if (!self->sub || !self->dealer || !self->client || !self->loop || !self->store ||
        !self->holdback || !self->decoder || !self->encoder) {
        snprintf (err, err_size, "out of memory");
        s_secondary_destroy (&self);
        return NULL;
    }
    int frame_max = (int)(cfg->max_msg + WIRE_BATCH_MAX_BYTES + 65536);
    zsock_set_subscribe (self->sub, "");
    zsock_set_rcvhwm (self->sub, 1000);
    zsock_set_maxmsgsize (self->sub, frame_max);
    zsock_set_identity (self->dealer, cfg->id);
    zsock_set_immediate (self->dealer, 1);
    zsock_set_sndhwm (self->dealer, 100);
    zsock_set_maxmsgsize (self->dealer, frame_max);
    zsock_set_reconnect_ivl (self->dealer, 100);
    zsock_set_reconnect_ivl_max (self->dealer, 1000);
    //  ZMTP heartbeats tear down a connection whose peer vanished without a
    //  FIN (a partition, a container that came back on another address), so
    //  libzmq reconnects - resolving the master's name again - instead of
    //  waiting on a dead TCP connection for ever.
    zsock_set_heartbeat_ivl (self->dealer, (int)cfg->heartbeat_ms);
    zsock_set_heartbeat_timeout (self->dealer, (int)cfg->unhealthy_ms);
    zsock_set_heartbeat_ivl (self->sub, (int)cfg->heartbeat_ms);
    zsock_set_heartbeat_timeout (self->sub, (int)cfg->unhealthy_ms);
    zsock_set_reconnect_ivl (self->sub, 100);
    zsock_set_reconnect_ivl_max (self->sub, 1000);
    zsock_set_router_mandatory (self->client, 1);
    zsock_set_maxmsgsize (self->client, (int)(cfg->max_msg + 65536));
    zsock_set_sndhwm (self->client, 10000);
    zsock_set_linger (self->sub, 0);
    zsock_set_linger (self->dealer, 0);
    zsock_set_linger (self->client, 200);
    if (cfg->curve_secret[0]) {
        self->security =
            security_new (cfg->curve_secret, cfg->curve_allow, cfg->master_key, err, err_size);
        if (!self->security) {
            s_secondary_destroy (&self);
            return NULL;
        }
        security_client (self->security, self->sub);
        security_client (self->security, self->dealer);
        security_server (self->security, self->client);
    }
    self->client_port = wire_bind (self->client, cfg->client_ep, err, err_size);
    if (self->client_port < 0) {
        s_secondary_destroy (&self);
        return NULL;
    }
    //  SUB first, then the DEALER that says HELLO: no hole between the two.
    if (zsock_connect (self->sub, "%s", cfg->master_pub) != 0 ||
        zsock_connect (self->dealer, "%s", cfg->master_peer) != 0) {
        snprintf (err, err_size, "cannot connect to %s / %s: %s", cfg->master_pub, cfg->master_peer,
                  zmq_strerror (zmq_errno ()));
        s_secondary_destroy (&self);
        return NULL;
    }
    zloop_set_nonstop (self->loop, true);
    if (zloop_reader (self->loop, self->sub, s_on_master, self) != 0 ||
        zloop_reader (self->loop, self->dealer, s_on_master, self) != 0 ||
        zloop_reader (self->loop, self->client, s_on_client, self) != 0 ||
        zloop_reader (self->loop, pipe, s_on_pipe, self) != 0 ||
        zloop_timer (self->loop, TICK_MS, 0, s_on_tick, self) < 0 ||
        zloop_timer (self->loop, (size_t)cfg->heartbeat_ms, 0, s_on_heartbeat, self) < 0) {
        snprintf (err, err_size, "cannot set up the event loop");
        s_secondary_destroy (&self);
        return NULL;
    }
    return self;
}

void secondary_actor (zsock_t *pipe, void *args)
{
    char err[1024] = "";
    secondary_t *self = s_secondary_new (pipe, (const config_t *)args, err, sizeof err);
    zsock_signal (pipe, 0);
    if (!self) {
        wire_actor_failed (pipe, err);
        return;
    }
    char storage[CONFIG_ENDPOINT_MAX + 64];
    config_storage (&self->cfg, storage, sizeof storage);
    log_info ("secondary '%s' up: master %s + %s, client %s, heartbeat %lld ms, %s, delay %lld "
              "ms, fail-rate %g, drop-rate %g",
              self->cfg.id, self->cfg.master_pub, self->cfg.master_peer, self->cfg.client_ep,
              (long long)self->cfg.heartbeat_ms, storage, (long long)self->cfg.delay_ms,
              self->cfg.fail_rate, self->cfg.drop_rate);
    if (self->security)
        log_info ("CURVE on: public key %s, connections allowed from the keys in %s",
                  security_public_key (self->security), self->cfg.curve_allow);
    char port[16];
    snprintf (port, sizeof port, "%d", self->client_port);
    zstr_sendx (pipe, "READY", port, NULL);
    s_send_hello (self, zclock_mono ());
    zloop_start (self->loop);
    log_info ("secondary '%s' stopping: head %llu", self->cfg.id,
              (unsigned long long)store_head (self->store));
    s_secondary_destroy (&self);
}
