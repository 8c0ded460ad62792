/*  master.c - the master's event loop: wires store, dedup, waiters and
    health to its three sockets.

    client ROUTER  APPEND / LIST / STATUS; a waiting append only parks its
                   envelope, so no client ever blocks another.
    repl PUB       BATCH frames (everything appended in one loop turn) and
                   HEARTBEATs carrying the head, so a lost tail is visible.
    peer ROUTER    HELLO / ACK / FETCH from secondaries; FILLs back.

    Batching: the client handler drains every request that is readable (up
    to drain_max), appends them, then publishes one BATCH for the lot. At
    low load a batch is one entry; nothing ever waits to fill a batch.
*/
#include "master.h"
#include "config.h"
#include "dedup.h"
#include "epoch.h"
#include "security.h"
#include "health.h"
#include "log.h"
#include "proto.h"
#include "quota.h"
#include "store.h"
#include "waiters.h"
#include "wire.h"

#define MAX_PEERS     32
#define TICK_MS       5
#define DEDUP_CLIENTS 4096
#define DEDUP_WINDOW  1024

typedef struct {
    char id[PROTO_NODE_ID_MAX + 1];
    uint8_t route[WIRE_ENVELOPE_MAX];
    size_t route_size;
    uint64_t acked;
    health_t *health;
    health_state_t logged; //  last state written to the log
    int64_t last_fetch;    //  monotonic ms of its last FETCH, -1 if none
    char key[41];          //  CURVE public key its id is bound to ("" without CURVE)
} peer_t;

//  An append of the current loop turn: if the batch cannot be written, its
//  dedup record is undone so a retry is not answered with a lost seq.
typedef struct {
    uint8_t client_id[ENTRY_CLIENT_ID_MAX];
    size_t client_id_size;
    uint64_t req_id;
    uint64_t seq;
} fresh_t;

#define FRESH_MAX 4096

typedef struct {
    config_t cfg;
    zsock_t *pipe;
    zsock_t *client;
    zsock_t *pub;
    zsock_t *peer;
    zloop_t *loop;
    store_t *store;
    dedup_t *dedup;
    waiters_t *waiters;
    proto_decoder_t *decoder;
    proto_encoder_t *encoder;
    security_t *security; //  NULL unless CURVE is configured
    quota_t *quota;       //  parked appends per client connection
    int64_t last_sync;    //  monotonic ms of the last fsync (batch policy)
    uint64_t epoch;
    peer_t peers[MAX_PEERS];
    size_t peer_count;
    uint64_t acked[MAX_PEERS]; //  scratch for waiters_release
    uint32_t quorum;
    uint32_t healthy;
    bool read_only;
    uint64_t published;       //  last seq handed to the PUB
    fresh_t fresh[FRESH_MAX]; //  appends of this loop turn, not yet written
    size_t fresh_count;
    char disk_error[160];                     //  last failed write/fsync, "" once one succeeds
    char history_error[256];                  //  set when a secondary holds more than this log
    char history_peer[PROTO_NODE_ID_MAX + 1]; //  ... and which one
    wire_ratelimit_t disk_log;
    int ports[3];
    wire_ratelimit_t bad_input_log;
    wire_ratelimit_t busy_log;
} master_t;

static void s_update_mode (master_t *self);

static const char *s_read_only_reason (master_t *self, char *buf, size_t size)
{
    if (self->history_error[0]) {
        //  Cut to the caller's buffer (status has a shorter field).
        size_t n = strnlen (self->history_error, size - 1);
        memcpy (buf, self->history_error, n);
        buf[n] = 0;
    } else
        snprintf (buf, size, "%u of %u nodes healthy, quorum needs %u", self->healthy,
                  self->cfg.replicas + 1, self->quorum);
    return buf;
}

//  What the master itself counts as holding: fsynced under "always"; written
//  under "batch" (fsynced at most fsync-ms later) and "never".
static uint64_t s_durable (master_t *self)
{
    return self->cfg.fsync == CONFIG_FSYNC_ALWAYS ? store_synced (self->store)
                                                  : store_written (self->store);
}

static uint32_t s_acks (master_t *self, uint64_t seq)
{
    uint32_t acks = seq <= s_durable (self) ? 1 : 0;
    for (size_t i = 0; i < self->peer_count; i++)
        if (self->peers[i].acked >= seq)
            acks++;
    return acks;
}

static void s_reply (master_t *self, const uint8_t *id, size_t id_size)
{
    if (wire_send_reply (self->client, id, id_size, proto_encoder_data (self->encoder),
                         proto_encoder_size (self->encoder)) != 0)
        log_debug ("client reply lost: %s", zmq_strerror (zmq_errno ()));
}

static void s_reply_error (master_t *self, const wire_envelope_t *env, int code, const char *text)
{
    if (proto_encode_error (self->encoder, code, text) == 0)
        s_reply (self, env->id, env->id_size);
}

static void s_reply_append (master_t *self, const uint8_t *id, size_t id_size, int code,
                            uint64_t seq, uint32_t w, uint64_t req_id)
{
    uint32_t acks = seq ? s_acks (self, seq) : 0;
    char text[128] = "";
    if (code == RLOG_TIMEOUT)
        snprintf (text, sizeof text, "timed out: stored on %u of %u nodes", acks, w);
    if (proto_encode_append_reply (self->encoder, code, seq, acks, w, text, req_id) == 0)
        s_reply (self, id, id_size);
}

//  An append refused before anything was stored: seq 0, the reason in TEXT.
static void s_refuse_append (master_t *self, const wire_envelope_t *env, const proto_msg_t *msg,
                             int code, const char *text)
{
    if (proto_encode_append_reply (self->encoder, code, 0, 0, msg->w, text, msg->req_id) == 0)
        s_reply (self, env->id, env->id_size);
}

//  A waiter's tag is the request id followed by the client's routing id, so
//  the reply can be sent and matched long after the request was read.
typedef struct {
    uint8_t bytes[8 + WIRE_ENVELOPE_MAX];
    size_t size;
} reply_tag_t;

static void s_make_tag (reply_tag_t *tag, const wire_envelope_t *env, uint64_t req_id)
{
    memcpy (tag->bytes, &req_id, 8);
    memcpy (tag->bytes + 8, env->id, env->id_size);
    tag->size = 8 + env->id_size;
}

//  Waiters call back here when a write concern is met or a deadline passes.
static void s_on_waiter (void *arg, int code, uint64_t seq, uint32_t w, const uint8_t *tag,
                         size_t tag_size)
{
    master_t *self = (master_t *)arg;
    uint64_t req_id;
    memcpy (&req_id, tag, 8);
    quota_give (self->quota, tag + 8, tag_size - 8);
    if (code == RLOG_INTERNAL) {
        //  Rolled back: the entry does not exist, whatever seq it was given.
        if (proto_encode_append_reply (self->encoder, code, 0, 0, w, self->disk_error, req_id) == 0)
            s_reply (self, tag + 8, tag_size - 8);
        return;
    }
    s_reply_append (self, tag + 8, tag_size - 8, code, seq, w, req_id);
}

static void s_release (master_t *self)
{
    for (size_t i = 0; i < self->peer_count; i++)
        self->acked[i] = self->peers[i].acked;
    waiters_release (self->waiters, s_durable (self), self->acked, self->peer_count, s_on_waiter,
                     self);
}

static int64_t s_deadline (const proto_msg_t *msg)
{
    //  Saturate: a timeout of centuries is "no timeout", not an overflow.
    const uint64_t cap = (uint64_t)INT64_MAX / 4;
    if (msg->timeout_ms == 0 || msg->timeout_ms > cap)
        return -1;
    return zclock_mono () + (int64_t)msg->timeout_ms;
}

//  Park a waiter for SEQ, or answer at once if enough nodes hold it.
static void s_wait_for (master_t *self, const wire_envelope_t *env, const proto_msg_t *msg,
                        uint64_t seq)
{
    uint32_t w = (uint32_t)msg->w;
    if (s_acks (self, seq) >= w) {
        s_reply_append (self, env->id, env->id_size, RLOG_OK, seq, w, msg->req_id);
        return;
    }
    reply_tag_t tag;
    s_make_tag (&tag, env, msg->req_id);
    uint64_t handle;
    if (quota_take (self->quota, env->id, env->id_size) != 0) {
        s_refuse_append (self, env, msg, RLOG_BUSY, "this client has too many appends waiting");
        return;
    }
    if (waiters_add (self->waiters, w, seq, s_deadline (msg), tag.bytes, tag.size, &handle) != 0) {
        quota_give (self->quota, env->id, env->id_size);
        //  Counted before appending, so only a retry can land here.
        s_refuse_append (self, env, msg, RLOG_BUSY,
                         "too many appends waiting for their write concern");
        return;
    }
    dedup_set_tag (self->dedup, msg->client_id, msg->client_id_size, msg->req_id, handle);
}

static void s_append_duplicate (master_t *self, const wire_envelope_t *env, const proto_msg_t *msg,
                                uint64_t seq, uint64_t tag)
{
    //  A retry: the reply goes to the new envelope; the old one is gone.
    reply_tag_t reply_tag;
    s_make_tag (&reply_tag, env, msg->req_id);
    size_t old_size = 0;
    const uint8_t *old = tag ? waiters_tag (self->waiters, tag, &old_size) : NULL;
    if (s_acks (self, seq) < msg->w && old) {
        //  The parked reply moves to the new connection, and its quota too,
        //  unless that connection is at its limit already.
        bool same = old_size - 8 == env->id_size && memcmp (old + 8, env->id, env->id_size) == 0;
        if (!same &&
            quota_held (self->quota, env->id, env->id_size) >= self->cfg.max_client_waiting) {
            s_refuse_append (self, env, msg, RLOG_BUSY, "this client has too many appends waiting");
            return;
        }
        quota_give (self->quota, old + 8, old_size - 8);
        waiters_rebind (self->waiters, tag, reply_tag.bytes, reply_tag.size);
        quota_take (self->quota, env->id, env->id_size);
        return;
    }
    s_wait_for (self, env, msg, seq);
}

static void s_append (master_t *self, const wire_envelope_t *env, const proto_msg_t *msg)
{
    char text[400];
    uint32_t nodes = self->cfg.replicas + 1;
    if (msg->w < 1 || msg->w > nodes) {
        snprintf (text, sizeof text, "w=%llu is outside 1..%u (master + %u secondaries)",
                  (unsigned long long)msg->w, nodes, self->cfg.replicas);
        s_refuse_append (self, env, msg, RLOG_BAD_W, text);
        return;
    }
    uint64_t seq = 0, tag = 0;
    dedup_result_t seen =
        dedup_lookup (self->dedup, msg->client_id, msg->client_id_size, msg->req_id, &seq, &tag);
    if (seen == DEDUP_FOUND) {
        s_append_duplicate (self, env, msg, seq, tag);
        return;
    }
    if (seen == DEDUP_STALE) {
        s_refuse_append (self, env, msg, RLOG_STALE,
                         "request id is older than this client's dedup window");
        return;
    }
    if (self->read_only) {
        char reason[sizeof self->history_error + 64];
        snprintf (text, sizeof text, "read-only: %s",
                  s_read_only_reason (self, reason, sizeof reason));
        s_refuse_append (self, env, msg, RLOG_READ_ONLY, text);
        return;
    }
    bool may_wait = msg->w > 1 || store_is_durable (self->store);
    if (may_wait &&
        quota_held (self->quota, env->id, env->id_size) >= self->cfg.max_client_waiting) {
        if (wire_ratelimit (&self->busy_log, zclock_mono (), 1000))
            log_warn ("busy: a client has %zu appends waiting (--max-client-waiting)",
                      self->cfg.max_client_waiting);
        s_refuse_append (self, env, msg, RLOG_BUSY, "this client has too many appends waiting");
        return;
    }
    if (may_wait && (waiters_count (self->waiters) >= self->cfg.max_waiters ||
                     self->fresh_count >= FRESH_MAX)) {
        if (wire_ratelimit (&self->busy_log, zclock_mono (), 1000))
            log_warn ("busy: %zu appends waiting for their write concern (limit)",
                      waiters_count (self->waiters));
        s_refuse_append (self, env, msg, RLOG_BUSY,
                         "too many appends waiting for their write concern");
        return;
    }
    entry_t entry = {.epoch = self->epoch,
                     .req_id = msg->req_id,
                     .client_id = msg->client_id,
                     .client_id_size = msg->client_id_size,
                     .data = msg->data,
                     .size = msg->size};
    if (store_append (self->store, &entry) != 0) {
        log_error ("out of memory appending %zu bytes", msg->size);
        s_refuse_append (self, env, msg, RLOG_INTERNAL, "out of memory");
        return;
    }
    seq = store_head (self->store);
    dedup_record (self->dedup, msg->client_id, msg->client_id_size, msg->req_id, seq, 0);
    if (store_is_durable (self->store)) {
        fresh_t *fresh = &self->fresh[self->fresh_count++];
        memcpy (fresh->client_id, msg->client_id, msg->client_id_size);
        fresh->client_id_size = msg->client_id_size;
        fresh->req_id = msg->req_id;
        fresh->seq = seq;
    }
    //  In memory a w=1 append is answered here; on disk it waits for the
    //  batch's write (and fsync) at the end of this loop turn.
    s_wait_for (self, env, msg, seq);
}

//  The batch could not be written: the store has dropped it. Undo what the
//  appends recorded and tell their clients nothing was stored.
static void s_rollback (master_t *self, int error)
{
    uint64_t written = store_written (self->store);
    snprintf (self->disk_error, sizeof self->disk_error, "disk write failed (%s): not stored",
              strerror (error));
    size_t lost = 0;
    while (self->fresh_count > 0) {
        fresh_t *fresh = &self->fresh[--self->fresh_count];
        if (fresh->seq > written) {
            dedup_forget (self->dedup, fresh->client_id, fresh->client_id_size, fresh->req_id);
            lost++;
        }
    }
    if (wire_ratelimit (&self->disk_log, zclock_mono (), 1000))
        log_error ("%s: %zu appends refused, head back to %llu", self->disk_error, lost,
                   (unsigned long long)written);
    waiters_cancel_above (self->waiters, written, RLOG_INTERNAL, s_on_waiter, self);
}

//  "always" fsyncs every batch; "batch" fsyncs at once when the last fsync
//  is at least fsync-ms old, else the tick does it when that time comes, so
//  an idle node answers at once and a busy one fsyncs at most every fsync-ms.
static bool s_sync_due (master_t *self)
{
    return self->cfg.fsync == CONFIG_FSYNC_ALWAYS ||
           (self->cfg.fsync == CONFIG_FSYNC_BATCH &&
            zclock_mono () - self->last_sync >= self->cfg.fsync_ms);
}

//  Group commit: one write (and one fsync under "always") per loop turn.
static void s_commit (master_t *self, bool sync)
{
    if (!store_is_durable (self->store))
        return;
    if (sync)
        self->last_sync = zclock_mono ();
    if (store_commit (self->store, sync) != 0)
        s_rollback (self, errno);
    else {
        if (self->disk_error[0])
            log_info ("disk writes succeed again");
        self->disk_error[0] = 0;
    }
    self->fresh_count = 0;
}

static void s_status (master_t *self, rlog_status_t *st)
{
    memset (st, 0, sizeof *st);
    int64_t now = zclock_mono ();
    uint64_t head = store_head (self->store);
    snprintf (st->role, sizeof st->role, "master");
    snprintf (st->node_id, sizeof st->node_id, "master");
    st->epoch = self->epoch;
    st->head = head;
    snprintf (st->mode, sizeof st->mode, "%s", self->read_only ? "read-only" : "read-write");
    if (self->read_only)
        s_read_only_reason (self, st->reason, sizeof st->reason);
    st->nodes = self->cfg.replicas + 1;
    st->healthy = self->healthy;
    st->quorum = self->quorum;
    st->waiting = (uint32_t)waiters_count (self->waiters);
    st->max_msg = self->cfg.max_msg;
    st->master_last_heard_ms = -1;
    st->secondary_count = self->peer_count;
    for (size_t i = 0; i < self->peer_count; i++) {
        peer_t *peer = &self->peers[i];
        rlog_secondary_status_t *s = &st->secondaries[i];
        snprintf (s->id, sizeof s->id, "%s", peer->id);
        snprintf (s->state, sizeof s->state, "%s", health_state_name (health_state (peer->health)));
        s->acked = peer->acked;
        s->lag = head > peer->acked ? head - peer->acked : 0;
        s->last_heard_ms = now - health_last_heard (peer->health);
        s->catching_up = peer->last_fetch >= 0 && now - peer->last_fetch < self->cfg.suspect_ms &&
                         peer->acked < head;
    }
}

static void s_client_request (master_t *self, const wire_envelope_t *env, zmq_msg_t *body)
{
    proto_msg_t msg;
    int rc = proto_decode (self->decoder, zmq_msg_data (body), zmq_msg_size (body), &msg);
    if (rc != RLOG_OK) {
        if (wire_ratelimit (&self->bad_input_log, zclock_mono (), 1000))
            log_warn ("client sent a bad request (%s): %s", rlog_strerror (rc),
                      proto_decoder_error (self->decoder));
        //  An APPEND refused for its payload still has its request id.
        if (msg.type == PROTO_APPEND && (rc == RLOG_TOO_LARGE || rc == RLOG_EMPTY))
            s_refuse_append (self, env, &msg, rc, proto_decoder_error (self->decoder));
        else
            s_reply_error (self, env, rc, proto_decoder_error (self->decoder));
        return;
    }
    if (msg.type == PROTO_APPEND)
        s_append (self, env, &msg);
    else if (msg.type == PROTO_LIST) {
        if (wire_encode_list (self->encoder, self->store, msg.from, msg.count) == 0)
            s_reply (self, env->id, env->id_size);
        else
            s_reply_error (self, env, RLOG_INTERNAL, "out of memory");
    } else if (msg.type == PROTO_STATUS) {
        rlog_status_t status;
        s_status (self, &status);
        if (proto_encode_status_reply (self->encoder, &status) == 0)
            s_reply (self, env->id, env->id_size);
    } else {
        char text[96];
        snprintf (text, sizeof text, "%s is not accepted on the client socket",
                  proto_type_name (msg.type));
        s_reply_error (self, env, RLOG_UNKNOWN_TYPE, text);
    }
}

static int s_pub_frame (const void *data, size_t size, void *arg)
{
    //  A full PUB queue drops the frame; the secondaries repair by FETCH.
    wire_send (((master_t *)arg)->pub, data, size);
    return 0;
}

static int s_on_client (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    master_t *self = (master_t *)arg;
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
        s_client_request (self, &env, &body);
        zmq_msg_close (&body);
    }
    if (store_head (self->store) > store_written (self->store) || self->fresh_count)
        s_commit (self, s_sync_due (self));
    uint64_t written = store_written (self->store);
    if (written > self->published) {
        wire_send_range (self->encoder, self->store, PROTO_BATCH, self->epoch, self->published + 1,
                         written, s_pub_frame, self);
        self->published = written;
    }
    s_release (self);
    return 0;
}

static peer_t *s_peer_by_route (master_t *self, const wire_envelope_t *env)
{
    for (size_t i = 0; i < self->peer_count; i++) {
        peer_t *peer = &self->peers[i];
        if (peer->route_size == env->id_size && memcmp (peer->route, env->id, env->id_size) == 0)
            return peer;
    }
    return NULL;
}

static void s_peer_error (master_t *self, const wire_envelope_t *env, int code, const char *text)
{
    if (proto_encode_error (self->encoder, code, text) == 0)
        wire_send_peer (self->peer, env->id, env->id_size, proto_encoder_data (self->encoder),
                        proto_encoder_size (self->encoder));
}

static void s_peer_hello (master_t *self, const wire_envelope_t *env, const proto_msg_t *msg,
                          const char *key)
{
    char text[160];
    size_t len = strlen (msg->text);
    if (len != env->id_size || memcmp (msg->text, env->id, len) != 0) {
        log_warn ("refused HELLO: node id '%s' differs from its routing id", msg->text);
        s_peer_error (self, env, RLOG_REFUSED, "node id must equal the socket routing id");
        return;
    }
    peer_t *peer = NULL;
    for (size_t i = 0; i < self->peer_count && !peer; i++)
        if (streq (self->peers[i].id, msg->text))
            peer = &self->peers[i];
    if (peer && peer->key[0] && (!key || !streq (peer->key, key))) {
        //  An authenticated id belongs to the key that first claimed it: a
        //  second node with another key cannot take it over (or its acks).
        log_warn ("refused HELLO: node id '%s' is bound to another key", msg->text);
        s_peer_error (self, env, RLOG_REFUSED, "node id is in use by another key");
        return;
    }
    int64_t now = zclock_mono ();
    if (!peer) {
        if (self->peer_count >= self->cfg.replicas) {
            snprintf (text, sizeof text, "cluster full: %u secondaries configured",
                      self->cfg.replicas);
            log_warn ("refused secondary '%s': %s", msg->text, text);
            s_peer_error (self, env, RLOG_REFUSED, text);
            return;
        }
        health_config_t hc = {self->cfg.suspect_ms, self->cfg.unhealthy_ms, self->cfg.recover_ms};
        peer = &self->peers[self->peer_count];
        memset (peer, 0, sizeof *peer);
        peer->health = health_new (&hc, now);
        if (!peer->health) {
            s_peer_error (self, env, RLOG_INTERNAL, "out of memory");
            return;
        }
        self->peer_count++;
        if (key)
            snprintf (peer->key, sizeof peer->key, "%s", key);
        size_t id_len = strnlen (msg->text, sizeof peer->id - 1);
        memcpy (peer->id, msg->text, id_len);
        peer->id[id_len] = 0;
        peer->logged = HEALTH_HEALTHY;
    } else
        health_heard (peer->health, now);
    memcpy (peer->route, env->id, env->id_size);
    peer->route_size = env->id_size;
    peer->last_fetch = -1;
    uint64_t head = store_head (self->store);
    uint64_t agree = store_agreement (self->store, msg->last_epoch, msg->last_seq);
    if (store_is_durable (self->store) && !self->cfg.accept_shorter && msg->last_seq > head &&
        agree == head) {
        //  The secondary holds all of this log and more: our disk lost its
        //  tail (or was restored from an old copy). Truncating the secondary
        //  could drop acknowledged entries, so refuse to lead this history.
        snprintf (self->history_error, sizeof self->history_error,
                  "log shorter than secondary '%s' (%llu vs %llu entries): restore the data "
                  "dir or start with --accept-shorter-log",
                  peer->id, (unsigned long long)head, (unsigned long long)msg->last_seq);
        snprintf (self->history_peer, sizeof self->history_peer, "%s", peer->id);
        log_error ("refusing to serve as master: %s", self->history_error);
        s_peer_error (self, env, RLOG_REFUSED, self->history_error);
        s_update_mode (self);
        return;
    }
    //  The claim came from this id; if it now agrees with the log (it was an
    //  impostor, or its data dir was restored), serve again by ourselves.
    if (self->history_error[0] && streq (self->history_peer, peer->id)) {
        log_info ("secondary '%s' now agrees with this log: serving again", peer->id);
        self->history_error[0] = 0;
        self->history_peer[0] = 0;
        s_update_mode (self);
    }
    //  Counted from its first ACK (sent right after WELCOME), which carries
    //  what is durable on it: a HELLO's last seq may not be.
    peer->acked = 0;
    if (agree < msg->last_seq)
        log_warn ("secondary '%s' holds %llu entries; only 1..%llu match this master's "
                  "history: it will truncate the rest",
                  peer->id, (unsigned long long)msg->last_seq, (unsigned long long)agree);
    log_info ("secondary '%s' joined: holds %llu entries of ours, master head %llu", peer->id,
              (unsigned long long)agree, (unsigned long long)head);
    if (proto_encode_welcome (self->encoder, self->epoch, head, agree) == 0)
        wire_send_peer (self->peer, env->id, env->id_size, proto_encoder_data (self->encoder),
                        proto_encoder_size (self->encoder));
    s_update_mode (self);
}

typedef struct {
    master_t *self;
    const wire_envelope_t *env;
} fill_target_t;

static int s_fill_frame (const void *data, size_t size, void *arg)
{
    fill_target_t *t = (fill_target_t *)arg;
    return wire_send_peer (t->self->peer, t->env->id, t->env->id_size, data, size);
}

static void s_peer_message (master_t *self, const wire_envelope_t *env, const proto_msg_t *msg,
                            const char *key)
{
    if (msg->type == PROTO_HELLO) {
        s_peer_hello (self, env, msg, key);
        return;
    }
    if (msg->type != PROTO_ACK && msg->type != PROTO_FETCH) {
        s_peer_error (self, env, RLOG_UNKNOWN_TYPE, "not accepted on the peer socket");
        return;
    }
    peer_t *peer = s_peer_by_route (self, env);
    if (!peer) {
        s_peer_error (self, env, RLOG_REFUSED, "unknown secondary: send HELLO first");
        return;
    }
    if (peer->key[0] && (!key || !streq (peer->key, key))) {
        s_peer_error (self, env, RLOG_REFUSED, "not authenticated as this node");
        return;
    }
    int64_t now = zclock_mono ();
    health_heard (peer->health, now);
    uint64_t head = store_head (self->store);
    if (msg->type == PROTO_ACK) {
        if (msg->acked > head) {
            if (wire_ratelimit (&self->bad_input_log, now, 1000))
                log_warn ("protocol violation: '%s' acked %llu beyond head %llu (ignored)",
                          peer->id, (unsigned long long)msg->acked, (unsigned long long)head);
            return;
        }
        peer->acked = msg->acked;
        return;
    }
    peer->last_fetch = now;
    uint64_t from = msg->from ? msg->from : 1;
    if (from > head || msg->count == 0)
        return;
    uint64_t count = msg->count < self->cfg.fetch_max ? msg->count : self->cfg.fetch_max;
    uint64_t to = from - 1 + count < head ? from - 1 + count : head;
    fill_target_t target = {self, env};
    wire_send_range (self->encoder, self->store, PROTO_FILL, self->epoch, from, to, s_fill_frame,
                     &target);
}

static int s_on_peer (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    master_t *self = (master_t *)arg;
    for (size_t n = 0; n < self->cfg.drain_max; n++) {
        wire_envelope_t env;
        zmq_msg_t body;
        int rc = wire_recv_peer (reader, &env, &body);
        if (rc == 0)
            break;
        if (rc < 0) {
            if (wire_ratelimit (&self->bad_input_log, zclock_mono (), 1000))
                log_warn ("dropped a message with no valid envelope");
            continue;
        }
        proto_msg_t msg;
        rc = proto_decode (self->decoder, zmq_msg_data (&body), zmq_msg_size (&body), &msg);
        if (rc == RLOG_OK)
            s_peer_message (self, &env, &msg, security_peer_key (&body));
        else {
            if (wire_ratelimit (&self->bad_input_log, zclock_mono (), 1000))
                log_warn ("peer sent a bad frame (%s): %s", rlog_strerror (rc),
                          proto_decoder_error (self->decoder));
            s_peer_error (self, &env, rc, proto_decoder_error (self->decoder));
        }
        zmq_msg_close (&body);
    }
    s_release (self);
    return 0;
}

static void s_update_mode (master_t *self)
{
    uint32_t healthy = 1;
    for (size_t i = 0; i < self->peer_count; i++)
        if (health_state (self->peers[i].health) == HEALTH_HEALTHY)
            healthy++;
    bool read_only = healthy < self->quorum || self->history_error[0];
    if (read_only != self->read_only)
        log_warn ("%s: %u of %u nodes healthy, quorum is %u%s",
                  read_only ? "read-only (appends refused)" : "read-write again", healthy,
                  self->cfg.replicas + 1, self->quorum,
                  self->history_error[0] ? " (log shorter than a secondary's)" : "");
    self->healthy = healthy;
    self->read_only = read_only;
}

static int s_on_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    master_t *self = (master_t *)arg;
    if (proto_encode_heartbeat (self->encoder, self->epoch, store_head (self->store)) == 0)
        wire_send (self->pub, proto_encoder_data (self->encoder),
                   proto_encoder_size (self->encoder));
    int64_t now = zclock_mono ();
    for (size_t i = 0; i < self->peer_count; i++) {
        peer_t *peer = &self->peers[i];
        health_state_t state = health_update (peer->health, now);
        if (state != peer->logged) {
            log_info ("secondary '%s': %s -> %s (last heard %lld ms ago, acked %llu)", peer->id,
                      health_state_name (peer->logged), health_state_name (state),
                      (long long)(now - health_last_heard (peer->health)),
                      (unsigned long long)peer->acked);
            peer->logged = state;
        }
    }
    s_update_mode (self);
    return 0;
}

static int s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    master_t *self = (master_t *)arg;
    int64_t next = waiters_next_deadline (self->waiters);
    if (next >= 0 && next <= zclock_mono ())
        waiters_expire (self->waiters, zclock_mono (), s_on_waiter, self);
    if (store_synced (self->store) < store_written (self->store) && s_sync_due (self)) {
        s_commit (self, true);
        s_release (self);
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

static void s_master_destroy (master_t **self_p)
{
    master_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->peer_count; i++)
        health_destroy (&self->peers[i].health);
    zloop_destroy (&self->loop);
    zsock_destroy (&self->client);
    zsock_destroy (&self->pub);
    zsock_destroy (&self->peer);
    security_destroy (&self->security);
    store_destroy (&self->store);
    dedup_destroy (&self->dedup);
    waiters_destroy (&self->waiters);
    quota_destroy (&self->quota);
    proto_decoder_destroy (&self->decoder);
    proto_encoder_destroy (&self->encoder);
    free (self);
    *self_p = NULL;
}

//  Open (and recover) the log, rebuild the dedup table from its records so
//  a retry after a restart still gets its original seq, and take an epoch.
static int s_open_log (master_t *self, char *err, size_t err_size)
{
    const config_t *cfg = &self->cfg;
    if (!cfg->data_dir[0]) {
        self->store = store_new ();
        self->epoch = (uint64_t)zclock_time ();
        if (!self->store)
            snprintf (err, err_size, "out of memory");
        return self->store ? 0 : -1;
    }
    disklog_recovery_t recovery;
    self->store =
        store_open (cfg->data_dir, cfg->segment_bytes, !cfg->repair, &recovery, err, err_size);
    if (!self->store) {
        if (!cfg->repair && strstr (err, "corrupt"))
            snprintf (err + strlen (err), err_size - strlen (err),
                      " (refusing to serve a damaged log: restore it, or start with --repair "
                      "to cut it there)");
        return -1;
    }
    if (recovery.cut_bytes || recovery.cut_entries)
        log_warn ("recovery cut %llu bytes (%llu records) of %s at offset %llu%s",
                  (unsigned long long)recovery.cut_bytes, (unsigned long long)recovery.cut_entries,
                  recovery.file, (unsigned long long)recovery.offset,
                  recovery.corrupt_middle ? " (--repair: corruption in the middle)" : "");
    uint64_t head = store_head (self->store);
    entry_t entry;
    for (uint64_t seq = 1; seq <= head; seq++)
        if (store_get (self->store, seq, &entry) == 0)
            dedup_record (self->dedup, entry.client_id, entry.client_id_size, entry.req_id, seq, 0);
    if (epoch_next (cfg->data_dir, (uint64_t)zclock_time (), store_epoch_of (self->store, head),
                    &self->epoch, err, err_size) != 0)
        return -1;
    //  The secondaries fetch what they lack; re-publishing the whole log on
    //  the first append would stall the loop for nothing.
    self->published = store_written (self->store);
    log_info ("recovered %llu entries from %s (%zu clients in the dedup table)",
              (unsigned long long)head, cfg->data_dir, dedup_clients (self->dedup));
    return 0;
}

static master_t *s_master_new (zsock_t *pipe, const config_t *cfg, char *err, size_t err_size)
{
    master_t *self = (master_t *)zmalloc (sizeof (master_t));
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->pipe = pipe;
    self->quorum = cfg->quorum ? cfg->quorum : health_default_quorum (cfg->replicas);
    self->client = zsock_new (ZMQ_ROUTER);
    self->pub = zsock_new (ZMQ_PUB);
    self->peer = zsock_new (ZMQ_ROUTER);
    self->loop = zloop_new ();
    self->dedup = dedup_new (DEDUP_CLIENTS, DEDUP_WINDOW);
    if (self->dedup && s_open_log (self, err, err_size) != 0) {
        s_master_destroy (&self);
        return NULL;
    }
    self->waiters = waiters_new (cfg->replicas + 1, cfg->max_waiters);
    self->quota = quota_new (cfg->max_client_waiting);
    self->decoder = proto_decoder_new (cfg->max_msg);
    self->encoder = proto_encoder_new ();
    if (!self->client || !self->pub || !self->peer || !self->loop || !self->store || !self->dedup ||
        !self->waiters || !self->quota || !self->decoder || !self->encoder) {
        snprintf (err, err_size, "out of memory");
        s_master_destroy (&self);
        return NULL;
    }
    //  ROUTER_MANDATORY: a reply to a vanished client fails loudly instead of
    //  vanishing; the HWMs bound what a stuck peer can cost us.
    zsock_set_router_mandatory (self->client, 1);
    //  Replies a client does not read queue here: at most 10000 per client
    //  connection, each at most a LIST page (256 KiB) or a small append reply.
    zsock_set_sndhwm (self->client, 10000);
    zsock_set_rcvhwm (self->client, 100000);
    zsock_set_maxmsgsize (self->client, (int)(cfg->max_msg + 65536));
    //  Caps what a stuck (SIGSTOPped) subscriber costs: 256 frames of at most
    //  WIRE_BATCH_MAX_BYTES each; anything it misses it fetches later.
    zsock_set_sndhwm (self->pub, 256);
    zsock_set_router_mandatory (self->peer, 1);
    zsock_set_router_handover (self->peer, 1);
    zsock_set_sndhwm (self->peer, 64);
    zsock_set_maxmsgsize (self->peer, 65536);
    zsock_set_linger (self->client, 500);
    zsock_set_linger (self->pub, 0);
    zsock_set_linger (self->peer, 0);
    if (cfg->curve_secret[0]) {
        self->security = security_new (cfg->curve_secret, cfg->curve_allow, NULL, err, err_size);
        if (!self->security) {
            s_master_destroy (&self);
            return NULL;
        }
        security_server (self->security, self->client);
        security_server (self->security, self->pub);
        security_server (self->security, self->peer);
    }
    const char *eps[3] = {cfg->client_ep, cfg->pub_ep, cfg->peer_ep};
    zsock_t *socks[3] = {self->client, self->pub, self->peer};
    for (int i = 0; i < 3; i++) {
        self->ports[i] = wire_bind (socks[i], eps[i], err, err_size);
        if (self->ports[i] < 0) {
            s_master_destroy (&self);
            return NULL;
        }
    }
    zloop_set_nonstop (self->loop, true);
    if (zloop_reader (self->loop, self->client, s_on_client, self) != 0 ||
        zloop_reader (self->loop, self->peer, s_on_peer, self) != 0 ||
        zloop_reader (self->loop, pipe, s_on_pipe, self) != 0 ||
        zloop_timer (self->loop, (size_t)cfg->heartbeat_ms, 0, s_on_heartbeat, self) < 0 ||
        zloop_timer (self->loop, TICK_MS, 0, s_on_tick, self) < 0) {
        snprintf (err, err_size, "cannot set up the event loop");
        s_master_destroy (&self);
        return NULL;
    }
    s_update_mode (self);
    return self;
}

void master_actor (zsock_t *pipe, void *args)
{
    char err[1024] = "";
    master_t *self = s_master_new (pipe, (const config_t *)args, err, sizeof err);
    zsock_signal (pipe, 0);
    if (!self) {
        wire_actor_failed (pipe, err);
        return;
    }
    char storage[CONFIG_ENDPOINT_MAX + 64];
    config_storage (&self->cfg, storage, sizeof storage);
    log_info ("master up: epoch %llu, %u secondaries, quorum %u, client %s, pub %s, peer %s, "
              "heartbeat %lld ms, %s",
              (unsigned long long)self->epoch, self->cfg.replicas, self->quorum,
              self->cfg.client_ep, self->cfg.pub_ep, self->cfg.peer_ep,
              (long long)self->cfg.heartbeat_ms, storage);
    if (self->security)
        log_info ("CURVE on: public key %s, connections allowed from the keys in %s",
                  security_public_key (self->security), self->cfg.curve_allow);
    char ports[3][16];
    for (int i = 0; i < 3; i++)
        snprintf (ports[i], sizeof ports[i], "%d", self->ports[i]);
    zstr_sendx (pipe, "READY", ports[0], ports[1], ports[2], NULL);
    zloop_start (self->loop);
    //  Shutdown: whoever still waits learns how far its entry got.
    size_t answered = waiters_flush (self->waiters, s_on_waiter, self);
    log_info ("master stopping: head %llu, %zu waiting appends answered",
              (unsigned long long)store_head (self->store), answered);
    s_master_destroy (&self);
}
