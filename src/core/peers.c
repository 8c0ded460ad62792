/*  peers.c - the master's view of its secondaries (see peers.h).

    Owns one slot per configured member, made at peers_new and never
    reassigned: an id that is not configured never takes a slot. A slot is
    bound to a route only by a WELCOME (an accepted HELLO) and stays bound
    until another HELLO of that id is accepted on another route, or a HELLO
    on the bound route itself is refused (that connection no longer agrees
    with this log). A refused HELLO from any other route changes nothing
    for the slot, so nobody can evict a member by claiming its id.

    Each slot keeps what its ACKs said (counted only after the first ACK
    following the WELCOME), when it last fetched, its health (health.h,
    created at its first WELCOME; before that it is not healthy) and, when
    its HELLO claimed more of this history than the master holds, that
    claim: the shorter-log rule. A claim keeps the master read-only until
    that id agrees again: an accepted HELLO, or an ACK from its bound route
    when the claim came from another one (a forged claim cannot outlive the
    real node's next ACK).

    What a HELLO says of the node's own epoch is not used here: a node that
    has seen a higher epoch than this master's is the business of elections,
    not of these rules.

    Health and mode are refreshed after every frame and at every tick;
    transitions of both are logged once, as they happen. Repeated refusals
    are logged at most once a second per member (one limiter is shared by
    frames that name no member).
*/
#include "peers.h"
#include "rlog.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef RLOG_OTHER_HISTORY
#define RLOG_OTHER_HISTORY 16
#endif

#define LOG_INTERVAL_MS 1000
#define REASON_MAX      256

typedef struct {
    peers_member_t conf;
    bool joined;      //  welcomed at least once
    bool bound;       //  ROUTE is its welcomed connection
    bool acked_valid; //  an ACK arrived since the WELCOME
    uint8_t route[PEERS_ROUTE_MAX];
    size_t route_size;
    uint64_t acked;
    health_t *health;      //  NULL until its first WELCOME
    health_state_t logged; //  last state reported in the log
    int64_t last_fetch;    //  -1: none since the WELCOME
    bool log_used;         //  LAST_LOG is valid
    int64_t last_log;
    //  The shorter-log rule: its HELLO claimed more than this log holds.
    bool claim;
    uint8_t claim_route[PEERS_ROUTE_MAX];
    size_t claim_route_size;
    char claim_text[REASON_MAX];
} s_member_t;

struct _peers_t {
    peers_config_t config;
    peers_event_fn *fn;
    void *arg;
    s_member_t members[PEERS_MAX];
    uint32_t quorum;
    uint32_t healthy; //  as of the last refresh, the master included
    bool read_only;
    bool log_used; //  the limiter for frames that name no member
    int64_t last_log;
};

static void s_log (peers_t *self, peers_level_t level, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void s_log (peers_t *self, peers_level_t level, const char *format, ...)
{
    if (!self->fn)
        return;
    char text[512];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    self->fn (self->arg, level, text);
}

//  True when a line may be logged now for this limiter (and takes it).
static bool s_may_log (bool *used, int64_t *last, int64_t now)
{
    if (*used && now - *last < LOG_INTERVAL_MS && now >= *last)
        return false;
    *used = true;
    *last = now;
    return true;
}

static bool s_route_eq (const uint8_t *a, size_t a_size, const peers_origin_t *from)
{
    return a_size == from->route_size && (a_size == 0 || memcmp (a, from->route, a_size) == 0);
}

static s_member_t *s_member_by_id (peers_t *self, const char *id)
{
    for (size_t i = 0; i < self->config.count; i++)
        if (strcmp (self->members[i].conf.id, id) == 0)
            return &self->members[i];
    return NULL;
}

static s_member_t *s_member_by_route (peers_t *self, const peers_origin_t *from)
{
    for (size_t i = 0; i < self->config.count; i++) {
        s_member_t *m = &self->members[i];
        if (m->bound && s_route_eq (m->route, m->route_size, from))
            return m;
    }
    return NULL;
}

//  With CURVE, the frame's key must be the one configured for the id.
static bool s_key_ok (peers_t *self, const s_member_t *m, const peers_origin_t *from)
{
    if (!self->config.curve)
        return true;
    return m->conf.key[0] && from->key && strcmp (m->conf.key, from->key) == 0;
}

static void s_refuse (peers_decision_t *out, int code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void s_refuse (peers_decision_t *out, int code, const char *format, ...)
{
    out->verdict = PEERS_REFUSE;
    out->code = code;
    va_list args;
    va_start (args, format);
    vsnprintf (out->text, sizeof out->text, format, args);
    va_end (args);
}

static void s_decision_init (peers_decision_t *out)
{
    memset (out, 0, sizeof *out);
    out->verdict = PEERS_ACCEPT;
    out->code = RLOG_OK;
}

//  ---------------------------------------------------------------------
//  Health and mode

//  What the member counts as now: only a bound member can be healthy.
static health_state_t s_state (s_member_t *m, int64_t now)
{
    if (!m->health)
        return HEALTH_UNHEALTHY;
    health_state_t state = health_update (m->health, now);
    return m->bound ? state : HEALTH_UNHEALTHY;
}

static void s_quorum_text (peers_t *self, const char *verb, char *buf, size_t size)
{
    snprintf (buf, size, "%" PRIu32 " of %zu nodes healthy, quorum %s %" PRIu32, self->healthy,
              self->config.count + 1, verb, self->quorum);
}

static const s_member_t *s_first_claim (peers_t *self)
{
    for (size_t i = 0; i < self->config.count; i++)
        if (self->members[i].claim)
            return &self->members[i];
    return NULL;
}

static void s_update_mode (peers_t *self)
{
    const s_member_t *claim = s_first_claim (self);
    bool read_only = self->healthy < self->quorum || claim;
    if (read_only == self->read_only)
        return;
    self->read_only = read_only;
    char text[REASON_MAX];
    s_quorum_text (self, "is", text, sizeof text);
    if (read_only && claim)
        s_log (self, PEERS_WARN, "read-only (appends refused): %s (%s)", claim->claim_text, text);
    else
        s_log (self, PEERS_WARN, "%s: %s",
               read_only ? "read-only (appends refused)" : "read-write again", text);
}

static void s_refresh (peers_t *self, int64_t now)
{
    uint32_t healthy = 1;
    for (size_t i = 0; i < self->config.count; i++) {
        s_member_t *m = &self->members[i];
        health_state_t state = s_state (m, now);
        if (state == HEALTH_HEALTHY)
            healthy++;
        if (state != m->logged) {
            long long ago = m->health ? (long long)(now - health_last_heard (m->health)) : -1;
            s_log (self, PEERS_INFO,
                   "secondary '%s': %s -> %s (last heard %lld ms ago, acked %" PRIu64 ")",
                   m->conf.id, health_state_name (m->logged), health_state_name (state), ago,
                   m->acked_valid ? m->acked : 0);
            m->logged = state;
        }
    }
    self->healthy = healthy;
    s_update_mode (self);
}

static void s_clear_claim (peers_t *self, s_member_t *m, const char *how)
{
    if (!m->claim)
        return;
    m->claim = false;
    s_log (self, PEERS_INFO,
           "secondary '%s' now agrees with this log (%s): the shorter-log refusal is cleared",
           m->conf.id, how);
}

//  ---------------------------------------------------------------------
//  HELLO

//  Short hex of a history for log lines and refusals ("none" without one).
static const char *s_history_hex (const uint8_t *history, char *buf, size_t size)
{
    if (!history)
        snprintf (buf, size, "none");
    else
        snprintf (buf, size, "%02x%02x%02x%02x...", history[0], history[1], history[2], history[3]);
    return buf;
}

//  Refusal checks before the log is looked at: membership, key, a live
//  connection of the same id. Returns the member, or NULL (OUT refused).
static s_member_t *s_hello_admit (peers_t *self, const peers_origin_t *from,
                                  const peers_hello_t *hello, int64_t now, peers_decision_t *out)
{
    const char *id = hello->node_id ? hello->node_id : "";
    s_member_t *m = id[0] ? s_member_by_id (self, id) : NULL;
    if (!m) {
        s_refuse (out, RLOG_REFUSED, "unknown node id '%.*s': not a configured secondary",
                  PEERS_ID_MAX, id);
        if (s_may_log (&self->log_used, &self->last_log, now))
            s_log (self, PEERS_WARN, "refused HELLO: %s", out->text);
        return NULL;
    }
    if (from->route_size > PEERS_ROUTE_MAX) {
        s_refuse (out, RLOG_REFUSED, "routing id too long");
        return NULL;
    }
    if (!s_key_ok (self, m, from)) {
        s_refuse (out, RLOG_REFUSED, "not authenticated as '%s'", m->conf.id);
        if (s_may_log (&m->log_used, &m->last_log, now))
            s_log (self, PEERS_WARN,
                   "refused HELLO as '%s': its CURVE key is not the one configured for '%s'",
                   m->conf.id, m->conf.id);
        return NULL;
    }
    if (m->bound && !s_route_eq (m->route, m->route_size, from) && m->health &&
        now - health_last_heard (m->health) <= 2 * self->config.heartbeat_ms) {
        s_refuse (out, RLOG_REFUSED, "node id '%s' is in use by another connection", m->conf.id);
        if (s_may_log (&m->log_used, &m->last_log, now))
            s_log (self, PEERS_WARN,
                   "refused HELLO as '%s': %s (heard %lld ms ago): two nodes with one id?",
                   m->conf.id, out->text, (long long)(now - health_last_heard (m->health)));
        return NULL;
    }
    return m;
}

//  A refusal of the connection the member is bound to ends that binding.
static void s_unbind_if_route (s_member_t *m, const peers_origin_t *from)
{
    if (m->bound && s_route_eq (m->route, m->route_size, from)) {
        m->bound = false;
        m->acked_valid = false;
        m->last_fetch = -1;
    }
}

static void s_refuse_history (peers_t *self, s_member_t *m, const peers_origin_t *from,
                              const peers_hello_t *hello, const peers_log_t *log, int64_t now,
                              peers_decision_t *out)
{
    char theirs[24], ours[24];
    s_refuse (out, RLOG_OTHER_HISTORY,
              "secondary '%s' holds another history (%s, %" PRIu64
              " entries) than this master's (%s): wipe its data dir or start it with "
              "--discard-foreign-log",
              m->conf.id, s_history_hex (hello->history, theirs, sizeof theirs), hello->last_seq,
              s_history_hex (log->history, ours, sizeof ours));
    if (s_may_log (&m->log_used, &m->last_log, now))
        s_log (self, PEERS_WARN, "refused HELLO: %s", out->text);
    s_unbind_if_route (m, from);
}

static void s_refuse_shorter (peers_t *self, s_member_t *m, const peers_origin_t *from,
                              const peers_hello_t *hello, uint64_t head, peers_decision_t *out)
{
    //  The secondary holds all of this log and more: this master lost its
    //  tail (or its data dir is an old copy). Truncating the secondary could
    //  drop acknowledged entries, so refuse to lead until that id agrees.
    snprintf (m->claim_text, sizeof m->claim_text,
              "log shorter than secondary '%s' (%" PRIu64 " vs %" PRIu64
              " entries): restore the data dir or start with --accept-shorter-log",
              m->conf.id, head, hello->last_seq);
    bool was = m->claim;
    m->claim = true;
    memcpy (m->claim_route, from->route, from->route_size);
    m->claim_route_size = from->route_size;
    s_refuse (out, RLOG_REFUSED, "%s", m->claim_text);
    if (!was)
        s_log (self, PEERS_ERROR, "refusing to serve as master: %s", m->claim_text);
    s_unbind_if_route (m, from);
}

//  The master's record ending at SEQ (epoch and CRC); false if SEQ is not
//  the last seq of a record here.
static bool s_record_end (store_t *store, uint64_t seq, uint64_t *epoch, uint32_t *crc)
{
    record_t r;
    if (store_record (store, seq, &r) != 0 || record_last_seq (&r) != seq)
        return false;
    *epoch = r.epoch;
    *crc = r.crc;
    return true;
}

//  Where the histories agree: fills the WELCOME fields of OUT, or refuses.
//  Returns true for a WELCOME.
static bool s_hello_agree (peers_t *self, s_member_t *m, const peers_origin_t *from,
                           const peers_hello_t *hello, const peers_log_t *log, int64_t now,
                           peers_decision_t *out)
{
    if (hello->last_seq == 0)
        return true; //  empty: it adopts this history from seq 1
    if (!hello->history || memcmp (hello->history, log->history, PEERS_HISTORY_SIZE) != 0) {
        s_refuse_history (self, m, from, hello, log, now, out);
        return false;
    }
    uint64_t head = store_head (log->store);
    uint64_t agree = store_agreement (log->store, hello->last_epoch, hello->last_seq);
    if (hello->last_seq > head && agree == head && !self->config.accept_shorter) {
        s_refuse_shorter (self, m, from, hello, head, out);
        return false;
    }
    out->truncate_to = agree;
    if (agree == 0)
        return true;
    if (!s_record_end (log->store, agree, &out->at_epoch, &out->at_crc)) {
        s_refuse (out, RLOG_INTERNAL, "cannot read this master's record at seq %" PRIu64, agree);
        s_log (self, PEERS_ERROR, "HELLO from '%s': %s", m->conf.id, out->text);
        return false;
    }
    if (agree == hello->last_seq && out->at_crc != hello->last_crc) {
        s_refuse (out, RLOG_OTHER_HISTORY,
                  "history mismatch at seq %" PRIu64
                  ": its entry there is not this master's; wipe its data dir or start it with "
                  "--discard-foreign-log",
                  agree);
        if (s_may_log (&m->log_used, &m->last_log, now))
            s_log (self, PEERS_WARN, "refused HELLO from '%s': %s", m->conf.id, out->text);
        s_unbind_if_route (m, from);
        return false;
    }
    return true;
}

static void s_welcome (peers_t *self, s_member_t *m, const peers_origin_t *from,
                       const peers_hello_t *hello, const peers_log_t *log, int64_t now,
                       const peers_decision_t *out)
{
    bool again = m->bound && s_route_eq (m->route, m->route_size, from);
    memcpy (m->route, from->route, from->route_size);
    m->route_size = from->route_size;
    m->bound = true;
    //  Counted from its first ACK, which says what is durable on it: what
    //  a HELLO says may not be.
    m->acked_valid = false;
    m->acked = 0;
    m->last_fetch = -1;
    if (m->health)
        health_heard (m->health, now);
    else {
        m->health = health_new (&self->config.health, now);
        m->logged = HEALTH_HEALTHY; //  a first join is no transition
    }
    m->joined = true;
    s_clear_claim (self, m, "HELLO");

    //  A HELLO repeated on the same connection is news once a second.
    if (again && !s_may_log (&m->log_used, &m->last_log, now))
        return;
    uint64_t head = store_head (log->store);
    char ours[24];
    if (hello->last_seq == 0) {
        s_log (self, PEERS_INFO,
               "secondary '%s' joined empty: it adopts history %s, master head %" PRIu64,
               m->conf.id, s_history_hex (log->history, ours, sizeof ours), head);
        return;
    }
    if (out->truncate_to < hello->last_seq)
        s_log (self, PEERS_WARN,
               "secondary '%s' holds %" PRIu64 " entries; only 1..%" PRIu64
               " match this master's history: it will truncate the rest",
               m->conf.id, hello->last_seq, out->truncate_to);
    s_log (self, PEERS_INFO,
           "secondary '%s' joined: holds %" PRIu64 " entries of ours, master head %" PRIu64,
           m->conf.id, out->truncate_to, head);
}

void peers_hello (peers_t *self, const peers_origin_t *from, const peers_hello_t *hello,
                  const peers_log_t *log, int64_t now, peers_decision_t *out)
{
    assert (self && from && hello && log && log->history && log->store && out);
    s_decision_init (out);
    s_member_t *m = s_hello_admit (self, from, hello, now, out);
    if (m && s_hello_agree (self, m, from, hello, log, now, out))
        s_welcome (self, m, from, hello, log, now, out);
    s_refresh (self, now);
}

//  ---------------------------------------------------------------------
//  ACK and FETCH

//  The member an ACK or FETCH comes from: its bound route, and its key.
//  NULL when refused (OUT says why).
static s_member_t *s_sender (peers_t *self, const peers_origin_t *from, const char *what,
                             int64_t now, peers_decision_t *out)
{
    s_member_t *m = s_member_by_route (self, from);
    if (!m) {
        s_refuse (out, RLOG_REFUSED, "unknown secondary: send HELLO first");
        if (s_may_log (&self->log_used, &self->last_log, now))
            s_log (self, PEERS_WARN, "refused %s from a connection that has no WELCOME: %s", what,
                   out->text);
        return NULL;
    }
    if (!s_key_ok (self, m, from)) {
        s_refuse (out, RLOG_REFUSED, "not authenticated as '%s'", m->conf.id);
        if (s_may_log (&m->log_used, &m->last_log, now))
            s_log (self, PEERS_WARN, "refused %s on the connection of '%s': %s", what, m->conf.id,
                   out->text);
        return NULL;
    }
    health_heard (m->health, now);
    return m;
}

void peers_ack (peers_t *self, const peers_origin_t *from, uint64_t acked, const peers_log_t *log,
                int64_t now, peers_decision_t *out)
{
    assert (self && from && log && log->store && out);
    s_decision_init (out);
    s_member_t *m = s_sender (self, from, "ACK", now, out);
    if (m) {
        uint64_t head = store_head (log->store);
        if (acked > head) {
            out->verdict = PEERS_IGNORE;
            if (s_may_log (&m->log_used, &m->last_log, now))
                s_log (self, PEERS_WARN,
                       "protocol violation: '%s' acked %" PRIu64 " beyond head %" PRIu64
                       " (ignored)",
                       m->conf.id, acked, head);
        } else {
            m->acked = acked;
            m->acked_valid = true;
            //  The claim came from another connection than the one this
            //  id was welcomed on, which now shows it holds this history.
            if (m->claim && !s_route_eq (m->claim_route, m->claim_route_size, from))
                s_clear_claim (self, m, "ACK from its welcomed connection");
        }
    }
    s_refresh (self, now);
}

void peers_fetch (peers_t *self, const peers_origin_t *from, uint64_t first, uint64_t count,
                  const peers_log_t *log, int64_t now, peers_decision_t *out)
{
    assert (self && from && log && log->store && out);
    s_decision_init (out);
    s_member_t *m = s_sender (self, from, "FETCH", now, out);
    if (m) {
        m->last_fetch = now;
        uint64_t head = store_head (log->store);
        uint64_t start = first ? first : 1;
        if (start > head || count == 0)
            out->verdict = PEERS_IGNORE;
        else {
            uint64_t span = count;
            if (self->config.fetch_max && span > self->config.fetch_max)
                span = self->config.fetch_max;
            if (span > head - start + 1)
                span = head - start + 1;
            out->from = start;
            out->to = start + span - 1;
        }
    }
    s_refresh (self, now);
}

//  ---------------------------------------------------------------------
//  Lifecycle and queries

static bool s_config_ok (const peers_config_t *config)
{
    if (config->count > PEERS_MAX || config->heartbeat_ms <= 0)
        return false;
    for (size_t i = 0; i < config->count; i++) {
        const peers_member_t *a = &config->members[i];
        if (!a->id[0] || strnlen (a->id, sizeof a->id) == sizeof a->id ||
            strnlen (a->key, sizeof a->key) == sizeof a->key)
            return false;
        for (size_t j = 0; j < i; j++)
            if (strcmp (a->id, config->members[j].id) == 0)
                return false;
    }
    return true;
}

peers_t *peers_new (const peers_config_t *config, peers_event_fn *fn, void *arg)
{
    assert (config);
    if (!s_config_ok (config))
        return NULL;
    peers_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->fn = fn;
    self->arg = arg;
    self->quorum =
        config->quorum ? config->quorum : health_default_quorum ((uint32_t)config->count);
    for (size_t i = 0; i < config->count; i++) {
        s_member_t *m = &self->members[i];
        m->conf = config->members[i];
        m->logged = HEALTH_UNHEALTHY;
        m->last_fetch = -1;
    }
    //  Nobody has joined yet: the master alone may already lack a quorum.
    self->healthy = 1;
    s_update_mode (self);
    return self;
}

void peers_destroy (peers_t **self_p)
{
    assert (self_p);
    peers_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->config.count; i++)
        health_destroy (&self->members[i].health);
    free (self);
    *self_p = NULL;
}

void peers_tick (peers_t *self, int64_t now)
{
    assert (self);
    s_refresh (self, now);
}

bool peers_read_only (peers_t *self, char *reason, size_t size)
{
    assert (self);
    if (reason && size) {
        const s_member_t *claim = s_first_claim (self);
        if (!self->read_only)
            reason[0] = 0;
        else if (claim)
            snprintf (reason, size, "%s", claim->claim_text);
        else
            s_quorum_text (self, "needs", reason, size);
    }
    return self->read_only;
}

size_t peers_held (peers_t *self, uint64_t *held, size_t max)
{
    assert (self);
    size_t n = 0;
    for (size_t i = 0; i < self->config.count && n < max; i++) {
        const s_member_t *m = &self->members[i];
        if (m->bound && m->acked_valid)
            held[n++] = m->acked;
    }
    return n;
}

uint32_t peers_healthy (peers_t *self)
{
    assert (self);
    return self->healthy;
}

uint32_t peers_quorum (peers_t *self)
{
    assert (self);
    return self->quorum;
}

size_t peers_count (peers_t *self)
{
    assert (self);
    return self->config.count;
}

void peers_member (peers_t *self, size_t i, uint64_t head, int64_t now, peers_member_status_t *out)
{
    assert (self && out && i < self->config.count);
    s_member_t *m = &self->members[i];
    memset (out, 0, sizeof *out);
    out->id = m->conf.id;
    out->state = s_state (m, now);
    out->joined = m->joined;
    out->acked = m->acked_valid ? m->acked : 0;
    out->last_heard_ms = m->health ? now - health_last_heard (m->health) : -1;
    out->catching_up = m->last_fetch >= 0 && now - m->last_fetch < self->config.health.suspect_ms &&
                       out->acked < head;
}
