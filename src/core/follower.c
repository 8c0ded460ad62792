/*  follower.c - a secondary's replication state machine (see follower.h).

    Owns the hold-back buffer, the fetch window, the HELLO and FETCH
    backoffs and the catch-up bookkeeping; reads the store for its head and
    last record and changes it only through the sink. NEXT, the seq the log
    expects, is always store_head + 1, so a store that loses records (a
    failed write) needs no bookkeeping here beyond fetching again.

    State: CONNECTING (HELLO sent, no WELCOME yet), WELCOMED (following or
    catching up: the records decide which), REFUSED (an ERROR or a log that
    does not match: HELLO retried slowly) and DISCONNECTED (welcomed once,
    then silence: HELLO retried). Only WELCOMED takes records; before it,
    the live stream is only noted (it tells status that the master is
    there but not answering).

    Bad input (a record that fails record_check, an epoch above its frame's,
    a record straddling NEXT) is dropped and logged at most once a second,
    with a count of what was not logged.
*/
#include "follower.h"
#include "holdback.h"
#include "rlog.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELLO_BASE_MS       100
#define HELLO_CAP_MS        5000
#define REFUSED_BASE_MS     1000
#define REFUSED_CAP_MS      5000
#define FETCH_BASE_MS       200
#define FETCH_CAP_MS        5000
#define CATCHUP_LOG_ENTRIES 1000
#define HELLO_HINT_AFTER    3 //  unanswered HELLOs before status suspects the endpoint
#define BAD_LOG_MS          1000
#define REASON_MAX          256
#define LEADER_MAX          256
#define ID_MAX              64
#define NEVER               INT64_MAX

typedef enum { S_CONNECTING, S_WELCOMED, S_REFUSED, S_DISCONNECTED } s_state_t;

struct _follower_t {
    follower_config_t config;
    char id[ID_MAX];
    store_t *store; //  read only: changes go through the sink
    follower_sink_t sink;
    holdback_t *holdback;
    prng_t prng;

    bool has_history;
    uint8_t history[FOLLOWER_HISTORY_SIZE];
    s_state_t state;
    char reason[REASON_MAX];
    uint64_t seen_epoch; //  highest epoch seen in any frame
    uint64_t master_epoch;
    uint64_t master_head;
    char leader[LEADER_MAX];
    int64_t last_heard; //  -1 never
    bool reachable;
    bool heard_stream;   //  frames from the master while not welcomed
    uint32_t unanswered; //  HELLOs since the last WELCOME or ERROR

    backoff_t hello_backoff;
    backoff_t refused_backoff;
    int64_t hello_due; //  while not welcomed

    bool fetching;
    uint64_t fetch_to;
    int64_t fetch_due;
    backoff_t fetch_backoff;
    bool catching_up; //  a large gap is being fetched (logged)
    uint64_t catchup_from;
    int64_t catchup_started;

    uint64_t durable; //  as the caller reported
    uint64_t acked_sent;
    int64_t ack_due;
    uint64_t duplicates; //  entries dropped on arrival (the hold-back adds its own)
    bool store_failed;   //  set by s_store, for the caller of a drain

    int64_t bad_logged; //  rate limit of bad-input lines
    uint64_t bad_unlogged;
};

//  --------------------------------------------------------------------------
//  Logging

static void s_vlog (follower_t *self, follower_level_t level, const char *format, va_list args)
{
    if (!self->sink.log)
        return;
    char text[512];
    vsnprintf (text, sizeof text, format, args);
    self->sink.log (self->sink.arg, level, text);
}

static void s_log (follower_t *self, follower_level_t level, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
static void s_log (follower_t *self, follower_level_t level, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_vlog (self, level, format, args);
    va_end (args);
}

//  A warning about bad input from the master: at most one a second.
static void s_bad_input (follower_t *self, int64_t now, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
static void s_bad_input (follower_t *self, int64_t now, const char *format, ...)
{
    if (self->bad_logged >= 0 && now - self->bad_logged < BAD_LOG_MS && now >= self->bad_logged) {
        self->bad_unlogged++;
        return;
    }
    char text[400];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    if (self->bad_unlogged)
        s_log (self, FOLLOWER_WARN, "%s (and %" PRIu64 " more bad records since)", text,
               self->bad_unlogged);
    else
        s_log (self, FOLLOWER_WARN, "%s", text);
    self->bad_logged = now;
    self->bad_unlogged = 0;
}

//  Enter STATE with a reason; the reason is logged at LEVEL when it is
//  news, so a refusal repeated at every HELLO is logged once.
static void s_set_state (follower_t *self, s_state_t state, follower_level_t level,
                         const char *format, ...) __attribute__ ((format (printf, 4, 5)));
static void s_set_state (follower_t *self, s_state_t state, follower_level_t level,
                         const char *format, ...)
{
    char reason[REASON_MAX];
    va_list args;
    va_start (args, format);
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    bool news = state != self->state || strcmp (reason, self->reason) != 0;
    self->state = state;
    snprintf (self->reason, sizeof self->reason, "%s", reason);
    if (news && reason[0])
        s_log (self, level, "%s", reason);
}

static const char *s_hex (const uint8_t *history, char *buf, size_t size)
{
    assert (size >= 2 * FOLLOWER_HISTORY_SIZE + 1);
    for (size_t i = 0; i < FOLLOWER_HISTORY_SIZE; i++)
        snprintf (buf + 2 * i, 3, "%02x", history[i]);
    return buf;
}

//  --------------------------------------------------------------------------
//  Create and destroy

follower_t *follower_new (const follower_config_t *config, store_t *store, const uint8_t *history,
                          const follower_sink_t *sink)
{
    assert (config && store && sink);
    assert (sink->send_hello && sink->send_ack && sink->send_fetch);
    assert (sink->store && sink->truncate && sink->adopt);
    follower_t *self = (follower_t *)calloc (1, sizeof (follower_t));
    if (!self)
        return NULL;
    self->config = *config;
    snprintf (self->id, sizeof self->id, "%s", config->id ? config->id : "");
    self->config.id = self->id;
    if (self->config.fetch_max == 0)
        self->config.fetch_max = 1;
    self->store = store;
    self->sink = *sink;
    self->holdback = holdback_new (config->holdback_records ? config->holdback_records : 1,
                                   config->holdback_bytes ? config->holdback_bytes : 1);
    if (!self->holdback) {
        free (self);
        return NULL;
    }
    prng_seed (&self->prng, config->seed);
    if (history) {
        self->has_history = true;
        memcpy (self->history, history, FOLLOWER_HISTORY_SIZE);
    }
    self->state = S_CONNECTING;
    self->last_heard = -1;
    self->bad_logged = -1;
    self->hello_due = NEVER;
    self->durable = store_head (store); //  an opened store is synced
    backoff_init (&self->hello_backoff, HELLO_BASE_MS, HELLO_CAP_MS);
    backoff_init (&self->refused_backoff, REFUSED_BASE_MS, REFUSED_CAP_MS);
    backoff_init (&self->fetch_backoff, FETCH_BASE_MS, FETCH_CAP_MS);
    return self;
}

void follower_destroy (follower_t **self_p)
{
    assert (self_p);
    follower_t *self = *self_p;
    if (!self)
        return;
    holdback_destroy (&self->holdback);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Frames out

static uint64_t s_head (follower_t *self)
{
    return store_head (self->store);
}

static void s_send_hello (follower_t *self, int64_t now)
{
    uint64_t head = s_head (self);
    uint64_t last_epoch = 0;
    uint32_t last_crc = 0;
    record_t last;
    if (head > 0 && store_record (self->store, head, &last) == 0) {
        last_epoch = last.epoch;
        last_crc = last.crc;
    }
    uint64_t epoch = self->seen_epoch > last_epoch ? self->seen_epoch : last_epoch;
    //  A HELLO that cannot go out is retried like one that got no answer.
    self->sink.send_hello (self->sink.arg, self->has_history ? self->history : NULL, last_epoch,
                           head, last_crc, epoch);
    self->unanswered++;
    backoff_t *backoff = self->state == S_REFUSED ? &self->refused_backoff : &self->hello_backoff;
    self->hello_due = now + backoff_next (backoff, &self->prng);
}

//  ACK what the store holds durably; the ACK is also the heartbeat.
static void s_send_ack (follower_t *self, int64_t now)
{
    uint64_t head = s_head (self);
    uint64_t acked = self->durable < head ? self->durable : head;
    self->sink.send_ack (self->sink.arg, self->master_epoch, acked);
    self->acked_sent = acked;
    self->ack_due = now + self->config.heartbeat_ms;
}

static void s_send_fetch (follower_t *self, uint64_t from, uint64_t count, int64_t now)
{
    self->sink.send_fetch (self->sink.arg, self->master_epoch, from, count);
    self->fetching = true;
    self->fetch_to = from + count - 1;
    self->fetch_due = now + backoff_next (&self->fetch_backoff, &self->prng);
}

//  --------------------------------------------------------------------------
//  Leaving and entering the welcomed state

//  Forget what following built up: a new WELCOME starts over.
static void s_unwelcome (follower_t *self)
{
    self->fetching = false;
    self->catching_up = false;
    holdback_clear (self->holdback);
}

//  Say HELLO again at once, in STATE with the reason given.
static void s_rejoin (follower_t *self, s_state_t state, follower_level_t level, int64_t now,
                      const char *why)
{
    s_unwelcome (self);
    s_set_state (self, state, level, "%s", why);
    backoff_reset (&self->hello_backoff);
    s_send_hello (self, now);
}

//  Not following, and HELLO retried slowly: the master refused us or its
//  log does not match ours.
static void s_refuse (follower_t *self, follower_level_t level, int64_t now, const char *why)
{
    s_unwelcome (self);
    s_set_state (self, S_REFUSED, level, "%s", why);
    self->hello_due = now + backoff_next (&self->refused_backoff, &self->prng);
}

static void s_heard (follower_t *self, int64_t now)
{
    if (!self->reachable)
        s_log (self, FOLLOWER_INFO,
               self->last_heard < 0 ? "master reachable" : "master reachable again");
    self->reachable = true;
    self->last_heard = now;
}

static void s_note_epoch (follower_t *self, uint64_t epoch)
{
    if (epoch > self->seen_epoch)
        self->seen_epoch = epoch;
}

//  A frame of another epoch than the one we were welcomed in: a new master
//  (or the old one restarted). Join it; frames until its WELCOME are moot.
static void s_epoch_changed (follower_t *self, uint64_t epoch, int64_t now)
{
    char why[REASON_MAX];
    snprintf (why, sizeof why, "master epoch changed %" PRIu64 " -> %" PRIu64 ": joining again",
              self->master_epoch, epoch);
    s_rejoin (self, S_CONNECTING, FOLLOWER_INFO, now, why);
}

//  A BATCH, FILL or HEARTBEAT of EPOCH arrived: whether to act on it. Only
//  a follower welcomed in that epoch does; before a WELCOME the stream
//  only shows the master is there.
static bool s_stream_frame (follower_t *self, uint64_t epoch, int64_t now)
{
    s_heard (self, now);
    s_note_epoch (self, epoch);
    if (self->state != S_WELCOMED) {
        self->heard_stream = true;
        return false;
    }
    if (epoch != self->master_epoch) {
        s_epoch_changed (self, epoch, now);
        return false;
    }
    return true;
}

//  --------------------------------------------------------------------------
//  Catching up: one FETCH at a time, for the gap before the lowest held
//  record or, with nothing held, up to the master's head.

static void s_caught_up (follower_t *self, int64_t now)
{
    if (!self->catching_up || holdback_records (self->holdback) > 0)
        return;
    uint64_t head = s_head (self);
    uint64_t got = head + 1 > self->catchup_from ? head + 1 - self->catchup_from : 0;
    s_log (self, FOLLOWER_INFO, "caught up: %" PRIu64 " entries in %" PRId64 " ms, head %" PRIu64,
           got, now - self->catchup_started, head);
    self->catching_up = false;
}

static void s_check_gap (follower_t *self, int64_t now)
{
    if (self->state != S_WELCOMED || self->fetching)
        return;
    uint64_t next = s_head (self) + 1;
    uint64_t lowest = holdback_lowest (self->holdback);
    uint64_t want_to = 0;
    if (lowest > next)
        want_to = lowest - 1;
    else if (self->master_head >= next)
        want_to = self->master_head;
    if (want_to < next) {
        s_caught_up (self, now);
        return;
    }
    uint64_t behind = self->master_head >= next ? self->master_head + 1 - next : 0;
    if (!self->catching_up && behind >= CATCHUP_LOG_ENTRIES) {
        s_log (self, FOLLOWER_INFO,
               "catching up: have 1..%" PRIu64 ", master head %" PRIu64 " (%" PRIu64
               " entries behind)",
               next - 1, self->master_head, behind);
        self->catching_up = true;
        self->catchup_from = next;
        self->catchup_started = now;
    }
    uint64_t count = want_to - next + 1;
    if (count > self->config.fetch_max)
        count = self->config.fetch_max;
    s_send_fetch (self, next, count, now);
}

//  The store holds less than before: nothing above its head is durable.
static void s_clamp (follower_t *self)
{
    uint64_t head = s_head (self);
    if (self->durable > head)
        self->durable = head;
    if (self->acked_sent > head)
        self->acked_sent = head;
}

//  Back to what the store holds (it lost records, or refused one).
static void s_reset (follower_t *self, int64_t now)
{
    s_clamp (self);
    self->fetching = false;
    s_check_gap (self, now);
}

//  --------------------------------------------------------------------------
//  WELCOME

//  Whether the master's answer fits this log: same history (or none here
//  yet, with nothing to lose), and the record ending at TRUNCATE_TO is the
//  master's (epoch and CRC). If not, WHY says how they differ.
static bool s_welcome_matches (follower_t *self, const uint8_t *history, uint64_t truncate_to,
                               uint64_t at_epoch, uint32_t at_crc, char *why, size_t why_size)
{
    uint64_t head = s_head (self);
    char ours[2 * FOLLOWER_HISTORY_SIZE + 1], theirs[2 * FOLLOWER_HISTORY_SIZE + 1];
    if (self->has_history && memcmp (self->history, history, FOLLOWER_HISTORY_SIZE) != 0) {
        snprintf (why, why_size, "this log is of history %s, the master's is %s",
                  s_hex (self->history, ours, sizeof ours), s_hex (history, theirs, sizeof theirs));
        return false;
    }
    if (!self->has_history && head > 0 && truncate_to == 0) {
        snprintf (why, why_size,
                  "this log (%" PRIu64 " entries) has no history and nothing in common with the "
                  "master's",
                  head);
        return false;
    }
    if (truncate_to == 0)
        return true;
    record_t r;
    if (store_record (self->store, truncate_to, &r) != 0 || record_last_seq (&r) != truncate_to) {
        snprintf (why, why_size, "seq %" PRIu64 " is not the end of a record in this log",
                  truncate_to);
        return false;
    }
    if (r.epoch != at_epoch || r.crc != at_crc) {
        snprintf (why, why_size,
                  "the record ending at seq %" PRIu64 " differs from the master's (epoch %" PRIu64
                  " crc %08x here, epoch %" PRIu64 " crc %08x there)",
                  truncate_to, r.epoch, (unsigned)r.crc, at_epoch, (unsigned)at_crc);
        return false;
    }
    return true;
}

//  Move this node's whole log to a rollback file and forget its history,
//  then join as an empty node (--discard-foreign-log).
static void s_discard (follower_t *self, const char *why, int64_t now)
{
    uint64_t head = s_head (self);
    if (head == 0 && !self->has_history) {
        //  Nothing to discard: the master refuses even an empty node.
        s_refuse (self, FOLLOWER_ERROR, now, why);
        return;
    }
    s_log (self, FOLLOWER_WARN,
           "discarding this node's log (%s): %" PRIu64 " entries go to a rollback file", why, head);
    if ((head > 0 && self->sink.truncate (self->sink.arg, 0, "foreign") != 0) ||
        (self->has_history && self->sink.adopt (self->sink.arg, NULL, 0) != 0)) {
        s_refuse (self, FOLLOWER_ERROR, now, "could not discard this node's foreign log");
        return;
    }
    self->has_history = false;
    s_clamp (self);
    s_rejoin (self, S_CONNECTING, FOLLOWER_INFO, now,
              "discarded the foreign log: joining as an empty node");
}

//  Keep 1..LAST: the rest is not in the master's history.
static int s_truncate (follower_t *self, uint64_t last)
{
    uint64_t head = s_head (self);
    s_log (self, FOLLOWER_WARN,
           "truncating %" PRIu64 " entries (%" PRIu64 "..%" PRIu64
           ") that are not in the master's history, into a rollback file",
           head - last, last + 1, head);
    if (self->sink.truncate (self->sink.arg, last, "rollback") != 0) {
        char why[REASON_MAX];
        snprintf (why, sizeof why, "could not truncate this log to %" PRIu64, last);
        s_unwelcome (self);
        s_set_state (self, S_CONNECTING, FOLLOWER_ERROR, "%s", why);
        return -1;
    }
    s_clamp (self);
    return 0;
}

static void s_welcomed (follower_t *self, uint64_t epoch, uint64_t head, const char *leader,
                        int64_t now)
{
    s_unwelcome (self);
    self->master_epoch = epoch;
    self->master_head = head;
    snprintf (self->leader, sizeof self->leader, "%s", leader ? leader : "");
    self->heard_stream = false;
    self->hello_due = NEVER;
    backoff_reset (&self->hello_backoff);
    backoff_reset (&self->refused_backoff);
    backoff_reset (&self->fetch_backoff);
    s_set_state (self, S_WELCOMED, FOLLOWER_INFO, "%s", "");
    s_log (self, FOLLOWER_INFO,
           "joined master epoch %" PRIu64 ": have %" PRIu64 " entries, master head %" PRIu64, epoch,
           s_head (self), head);
    s_send_ack (self, now);
    s_check_gap (self, now);
}

void follower_welcome (follower_t *self, uint64_t epoch, const uint8_t *history, uint64_t head,
                       uint64_t truncate_to, uint64_t at_epoch, uint32_t at_crc, const char *leader,
                       int64_t now)
{
    assert (self);
    s_heard (self, now);
    self->unanswered = 0;
    s_note_epoch (self, epoch);
    if (!history) {
        s_bad_input (self, now, "WELCOME without a history (ignored)");
        return;
    }
    bool same = self->has_history && memcmp (self->history, history, FOLLOWER_HISTORY_SIZE) == 0;
    //  A second answer to a repeated HELLO: what it says about truncation
    //  is older than what we stored since the first.
    if (self->state == S_WELCOMED && epoch == self->master_epoch && same)
        return;
    if (truncate_to > s_head (self)) {
        //  An answer to a HELLO sent before the store lost records.
        s_rejoin (self, S_CONNECTING, FOLLOWER_WARN, now,
                  "WELCOME does not fit this log (it has fewer entries than the HELLO said)");
        return;
    }
    char why[REASON_MAX - 32];
    if (!s_welcome_matches (self, history, truncate_to, at_epoch, at_crc, why, sizeof why)) {
        if (self->config.discard_foreign)
            s_discard (self, why, now);
        else {
            char text[REASON_MAX];
            snprintf (text, sizeof text, "not following: %s", why);
            s_refuse (self, FOLLOWER_ERROR, now, text);
        }
        return;
    }
    if (truncate_to < s_head (self) && s_truncate (self, truncate_to) != 0) {
        self->hello_due = now + backoff_next (&self->hello_backoff, &self->prng);
        return;
    }
    if (self->sink.adopt (self->sink.arg, history, epoch) != 0) {
        s_unwelcome (self);
        s_set_state (self, S_CONNECTING, FOLLOWER_ERROR,
                     "could not record the master's history and epoch %" PRIu64, epoch);
        self->hello_due = now + backoff_next (&self->hello_backoff, &self->prng);
        return;
    }
    self->has_history = true;
    memcpy (self->history, history, FOLLOWER_HISTORY_SIZE);
    s_welcomed (self, epoch, head, leader, now);
}

//  --------------------------------------------------------------------------
//  Records

static int s_store (follower_t *self, const uint8_t *bytes, size_t size, uint64_t first,
                    uint32_t count)
{
    if (self->sink.store (self->sink.arg, bytes, size) == 0)
        return 0;
    s_log (self, FOLLOWER_ERROR,
           "could not store entries %" PRIu64 "..%" PRIu64 ": back to %" PRIu64
           ", will fetch them again",
           first, first + count - 1, s_head (self));
    self->store_failed = true;
    return -1;
}

static int s_drained (void *arg, const uint8_t *bytes, size_t size, uint64_t first_seq,
                      uint32_t count)
{
    return s_store ((follower_t *)arg, bytes, size, first_seq, count);
}

//  One checked record: stored at NEXT, held ahead of it, dropped below it.
//  Returns -1 when the store failed.
static int s_offer (follower_t *self, const record_t *r, int64_t now)
{
    uint64_t next = s_head (self) + 1;
    uint64_t last = record_last_seq (r);
    if (last > self->master_head)
        self->master_head = last;
    if (last < next) {
        self->duplicates += r->count;
        return 0;
    }
    if (r->first_seq < next) {
        s_bad_input (self, now,
                     "record %" PRIu64 "..%" PRIu64 " straddles seq %" PRIu64
                     ", where this log's records end (dropped)",
                     r->first_seq, last, next);
        return 0;
    }
    if (r->first_seq > next) {
        //  FULL or NOMEM: dropped here, fetched when its turn comes.
        if (holdback_put (self->holdback, next, r) == HOLDBACK_DUP)
            self->duplicates += r->count;
        return 0;
    }
    self->store_failed = false;
    if (s_store (self, r->bytes, r->size, r->first_seq, r->count) != 0)
        return -1;
    if (holdback_records (self->holdback) > 0)
        holdback_drain (self->holdback, s_head (self) + 1, s_drained, self);
    return self->store_failed ? -1 : 0;
}

void follower_records (follower_t *self, bool fill, uint64_t epoch, const uint8_t *records,
                       size_t size, size_t max_payload, int64_t now)
{
    assert (self);
    assert (records || size == 0);
    if (!s_stream_frame (self, epoch, now))
        return;
    const char *what = fill ? "FILL" : "BATCH";
    uint64_t head_before = s_head (self);
    for (size_t offset = 0; offset < size;) {
        record_t r;
        record_error_t error = record_check (records + offset, size - offset, max_payload, &r);
        if (error != RECORD_OK) {
            //  Where the next record starts is unknown: the rest goes too.
            s_bad_input (self, now, "bad record in %s at byte %zu: %s (rest of the frame dropped)",
                         what, offset, record_error_text (error));
            break;
        }
        offset += r.size;
        if (r.epoch > epoch) {
            s_bad_input (self, now,
                         "record %" PRIu64 "..%" PRIu64 " in %s has epoch %" PRIu64
                         ", above its frame's %" PRIu64 " (dropped)",
                         r.first_seq, record_last_seq (&r), what, r.epoch, epoch);
            continue;
        }
        if (s_offer (self, &r, now) != 0) {
            s_reset (self, now);
            return;
        }
    }
    if (self->fetching && s_head (self) >= self->fetch_to) {
        self->fetching = false;
        backoff_reset (&self->fetch_backoff);
    } else if (self->fetching && fill && s_head (self) > head_before)
        //  A FILL that makes progress: the master is answering this fetch.
        self->fetch_due = now + self->fetch_backoff.current_ms;
    s_check_gap (self, now);
}

//  --------------------------------------------------------------------------
//  HEARTBEAT and ERROR

void follower_heartbeat (follower_t *self, uint64_t epoch, uint64_t head, const uint8_t *history,
                         int64_t now)
{
    assert (self);
    if (!s_stream_frame (self, epoch, now))
        return;
    if (history && memcmp (history, self->history, FOLLOWER_HISTORY_SIZE) != 0) {
        s_rejoin (self, S_CONNECTING, FOLLOWER_WARN, now,
                  "the master's history changed: joining again");
        return;
    }
    if (head > self->master_head)
        self->master_head = head;
    s_check_gap (self, now);
}

void follower_error (follower_t *self, int code, const char *text, int64_t now)
{
    assert (self);
    s_heard (self, now);
    self->unanswered = 0;
    char why[REASON_MAX];
    snprintf (why, sizeof why, "%s", text && text[0] ? text : rlog_strerror (code));
    if (code == RLOG_OTHER_HISTORY && self->config.discard_foreign) {
        s_discard (self, why, now);
        return;
    }
    char reason[2 * REASON_MAX];
    if (code == RLOG_OTHER_HISTORY)
        snprintf (reason, sizeof reason,
                  "the master holds another history: %s; this node does not follow it", why);
    else
        //  A peer that does not know HELLO is likely the master's client port.
        snprintf (reason, sizeof reason, "the master refused: %s (%s)%s", why, rlog_strerror (code),
                  code == RLOG_UNKNOWN_TYPE ? "; is the peer endpoint the master's peer port?"
                                            : "");
    s_refuse (self, code == RLOG_OTHER_HISTORY ? FOLLOWER_ERROR : FOLLOWER_WARN, now, reason);
}

//  --------------------------------------------------------------------------
//  The caller's reports and timers

void follower_start (follower_t *self, int64_t now)
{
    assert (self);
    s_set_state (self, S_CONNECTING, FOLLOWER_INFO, "no answer from the master yet");
    backoff_reset (&self->hello_backoff);
    s_send_hello (self, now);
}

void follower_durable (follower_t *self, uint64_t durable, int64_t now)
{
    assert (self);
    self->durable = durable;
    uint64_t head = s_head (self);
    uint64_t acked = durable < head ? durable : head;
    if (self->state == S_WELCOMED && acked > self->acked_sent)
        s_send_ack (self, now);
}

void follower_reset (follower_t *self, int64_t now)
{
    assert (self);
    s_log (self, FOLLOWER_WARN, "the store lost entries: back to %" PRIu64 ", fetching again",
           s_head (self));
    s_reset (self, now);
}

//  Nothing heard for unhealthy_ms: the master is unreachable.
static void s_check_silence (follower_t *self, int64_t now)
{
    if (!self->reachable || now - self->last_heard < self->config.unhealthy_ms)
        return;
    self->reachable = false;
    char why[REASON_MAX];
    snprintf (why, sizeof why, "master unreachable: nothing heard for %" PRId64 " ms",
              now - self->last_heard);
    if (self->state == S_WELCOMED)
        s_rejoin (self, S_DISCONNECTED, FOLLOWER_WARN, now, why);
    else
        s_log (self, FOLLOWER_WARN, "%s", why);
}

void follower_tick (follower_t *self, int64_t now)
{
    assert (self);
    s_check_silence (self, now);
    if (self->state != S_WELCOMED) {
        if (now < self->hello_due)
            return;
        if (self->state == S_CONNECTING && self->heard_stream && self->reachable &&
            self->unanswered >= HELLO_HINT_AFTER)
            s_set_state (self, S_CONNECTING, FOLLOWER_WARN, "%s",
                         "the master's stream is heard but HELLO gets no answer (is the peer "
                         "endpoint the master's peer port?)");
        s_send_hello (self, now);
        return;
    }
    if (self->fetching && now >= self->fetch_due) {
        //  No FILL in time: ask again from where the log is, backing off.
        self->fetching = false;
        s_check_gap (self, now);
    }
    if (now >= self->ack_due)
        s_send_ack (self, now);
}

int64_t follower_next_due (follower_t *self)
{
    assert (self);
    int64_t due = NEVER;
    if (self->state != S_WELCOMED)
        due = self->hello_due;
    else {
        due = self->ack_due;
        if (self->fetching && self->fetch_due < due)
            due = self->fetch_due;
    }
    if (self->reachable && self->last_heard + self->config.unhealthy_ms < due)
        due = self->last_heard + self->config.unhealthy_ms;
    return due;
}

//  --------------------------------------------------------------------------
//  Status

follower_mode_t follower_mode (follower_t *self)
{
    assert (self);
    switch (self->state) {
    case S_CONNECTING:
        return FOLLOWER_CONNECTING;
    case S_REFUSED:
        return FOLLOWER_REFUSED;
    case S_DISCONNECTED:
        return FOLLOWER_DISCONNECTED;
    case S_WELCOMED:
        break;
    }
    if (self->fetching || s_head (self) < self->master_head ||
        holdback_records (self->holdback) > 0)
        return FOLLOWER_CATCHING_UP;
    return FOLLOWER_FOLLOWING;
}

const char *follower_mode_name (follower_mode_t mode)
{
    switch (mode) {
    case FOLLOWER_CONNECTING:
        return "connecting";
    case FOLLOWER_CATCHING_UP:
        return "catching-up";
    case FOLLOWER_FOLLOWING:
        return "following";
    case FOLLOWER_REFUSED:
        return "refused";
    case FOLLOWER_DISCONNECTED:
        return "disconnected";
    }
    return "unknown";
}

const char *follower_reason (follower_t *self)
{
    assert (self);
    return self->state == S_WELCOMED ? "" : self->reason;
}

uint64_t follower_master_epoch (follower_t *self)
{
    assert (self);
    return self->master_epoch;
}

uint64_t follower_master_head (follower_t *self)
{
    assert (self);
    return self->master_head;
}

int64_t follower_last_heard (follower_t *self)
{
    assert (self);
    return self->last_heard;
}

bool follower_reachable (follower_t *self)
{
    assert (self);
    return self->reachable;
}

const char *follower_leader (follower_t *self)
{
    assert (self);
    return self->leader;
}

uint64_t follower_held_back (follower_t *self)
{
    assert (self);
    return holdback_entries (self->holdback);
}

uint64_t follower_duplicates (follower_t *self)
{
    assert (self);
    return self->duplicates + holdback_discarded (self->holdback);
}

const uint8_t *follower_history (follower_t *self)
{
    assert (self);
    return self->has_history ? self->history : NULL;
}
