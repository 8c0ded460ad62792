/*  election.c - Raft's election rules on rlog's epochs (see election.h).

    Owns this node's election state: role, epoch, the vote cast in that
    epoch, the master it knows for that epoch, the election timer, the
    votes counted while a candidate, and when it last heard a live master.
    Created from what was persisted (epoch, voted_for); every change of
    either goes through sink->persist before anything that depends on it
    (a vote request, a granted vote, acting in a new epoch).

    Choices the header leaves open:

    - Timer. Reset (to a fresh random draw in [timeout_min, timeout_max])
      when the master of the epoch is heard, when a vote is granted, when
      an election starts and when a leader steps down. Adopting a higher
      epoch otherwise keeps the running timer (Raft: a stale or disruptive
      node must not hold back an election by talking). A leader has no
      timer: its deadline is INT64_MAX and tick does nothing.
    - Live-master guard. A vote request that arrives within timeout_min of
      hearing the master of the current epoch is ignored entirely: not
      granted and its epoch not adopted (Raft §4.2.3 of the dissertation).
      Only a follower that knows its master can be under the guard: a node
      never counts itself as the live master it heard, so a LEADER asked
      for a vote of a higher epoch steps down, adopts that epoch and
      decides the vote as any follower would (whether the cluster still
      hears it is for the caller's read-only rule, not for this module).
      Adopting a higher epoch forgets the master heard in the old one, so
      the guard holds only while the current epoch's master is heard.
    - Persist failure. Nothing that depends on it is done or sent: a
      candidate does not ask (its timer restarts, so it retries after a
      timeout rather than at every tick), a voter does not grant, a higher
      epoch is not adopted; each failure is logged as a WARN. One
      exception: a LEADER that sees a higher epoch stands down even when it
      cannot persist that epoch (it becomes a follower of its own epoch
      with no known master). Standing down needs nothing durable, and a
      master of an epoch the cluster has left can only mislead clients.
    - Role reports. sink->role is called once for each change of the
      triple (role, epoch, leader id) and never otherwise: a follower
      learning its epoch's master, or moving to a higher epoch, is a
      change the caller needs (NOT_MASTER redirects, refusing old epochs).
      election_new reports nothing: the caller made it a follower.
    - Two masters in one epoch (heard_leader of an epoch whose master is
      already known, naming another node) break the election's one
      guarantee; it is logged as a WARN once per (epoch, id) and the first
      master is kept.
    - Frames naming a non-member (or this node itself as the sender of a
      vote or a vote request) are refused and logged as WARN.
*/
#include "election.h"
#include "backoff.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEVER    INT64_MAX
#define TEXT_MAX 256

struct _election_t {
    election_config_t config; //  SELF points into self_id, not the caller's
    char self_id[ELECTION_ID_MAX + 1];
    size_t self_index;
    election_sink_t sink;
    prng_t prng;

    election_role_t role;
    uint64_t epoch;
    char voted_for[ELECTION_ID_MAX + 1]; //  "" when no vote in EPOCH
    char leader[ELECTION_ID_MAX + 1];    //  master of EPOCH, "" when unknown
    int64_t deadline;
    bool heard;                         //  HEARD_AT is when LEADER was last heard
    int64_t heard_at;                   //  (only while LEADER is another node)
    bool granted[ELECTION_MEMBERS_MAX]; //  votes counted while a candidate
    size_t votes;

    //  What sink->role was last told (or the start state).
    election_role_t told_role;
    uint64_t told_epoch;
    char told_leader[ELECTION_ID_MAX + 1];

    //  Last two-masters conflict logged, so a rogue master's every frame
    //  does not log again.
    uint64_t conflict_epoch;
    char conflict_id[ELECTION_ID_MAX + 1];
};

static void s_log (election_t *self, election_level_t level, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void s_log (election_t *self, election_level_t level, const char *format, ...)
{
    if (!self->sink.log)
        return;
    char text[TEXT_MAX];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    self->sink.log (self->sink.arg, level, text);
}

//  Copy an id known to fit (checked at the boundary).
static void s_set_id (char *dest, const char *id)
{
    snprintf (dest, ELECTION_ID_MAX + 1, "%s", id ? id : "");
}

//  Index of ID among the members, or -1.
static int s_member_index (const election_t *self, const char *id)
{
    if (!id)
        return -1;
    for (size_t i = 0; i < self->config.count; i++)
        if (strcmp (self->config.members[i], id) == 0)
            return (int)i;
    return -1;
}

//  A fresh election timeout, uniform in [timeout_min, timeout_max].
static void s_reset_timer (election_t *self, int64_t now)
{
    uint64_t span = (uint64_t)(self->config.timeout_max_ms - self->config.timeout_min_ms) + 1;
    int64_t draw = (int64_t)(prng_unit (&self->prng) * (double)span);
    if ((uint64_t)draw >= span) //  rounding of a huge span; keep the bound
        draw = (int64_t)(span - 1);
    self->deadline = now + self->config.timeout_min_ms + draw;
}

//  Tell the sink when (role, epoch, leader) changed since it was last told.
static void s_report (election_t *self)
{
    if (self->told_role == self->role && self->told_epoch == self->epoch &&
        strcmp (self->told_leader, self->leader) == 0)
        return;
    self->told_role = self->role;
    self->told_epoch = self->epoch;
    s_set_id (self->told_leader, self->leader);
    self->sink.role (self->sink.arg, self->role, self->epoch, self->leader);
}

static void s_become_follower (election_t *self, const char *leader, int64_t now)
{
    bool was_leader = self->role == ELECTION_LEADER;
    self->role = ELECTION_FOLLOWER;
    s_set_id (self->leader, leader);
    self->heard = leader && leader[0];
    self->heard_at = now;
    self->votes = 0;
    memset (self->granted, 0, sizeof self->granted);
    if (was_leader)
        s_reset_timer (self, now);
}

//  Move to EPOCH (> the current one), persisting (EPOCH, "") first; the
//  node becomes a follower of it with no known master. Returns 0, or -1
//  when the persist failed (nothing adopted; a leader still stands down).
static int s_adopt (election_t *self, uint64_t epoch, const char *why, int64_t now)
{
    assert (epoch > self->epoch);
    if (self->sink.persist (self->sink.arg, epoch, "") != 0) {
        s_log (self, ELECTION_WARN, "cannot persist epoch %" PRIu64 " (%s): staying at %" PRIu64,
               epoch, why, self->epoch);
        if (self->role == ELECTION_LEADER) {
            s_become_follower (self, "", now);
            s_log (self, ELECTION_WARN, "leader of epoch %" PRIu64 " steps down", self->epoch);
            s_report (self);
        }
        return -1;
    }
    if (self->role != ELECTION_FOLLOWER)
        s_log (self, ELECTION_INFO, "%s of epoch %" PRIu64 " steps down: epoch %" PRIu64 " (%s)",
               election_role_name (self->role), self->epoch, epoch, why);
    else
        s_log (self, ELECTION_INFO, "epoch %" PRIu64 " -> %" PRIu64 " (%s)", self->epoch, epoch,
               why);
    self->epoch = epoch;
    self->voted_for[0] = 0;
    s_become_follower (self, "", now);
    return 0;
}

//  ---------------------------------------------------------------------
//  Lifecycle

static bool s_config_ok (const election_config_t *config)
{
    if (!config || config->count == 0 || config->count > ELECTION_MEMBERS_MAX)
        return false;
    if (config->timeout_min_ms < 0 || config->timeout_min_ms > config->timeout_max_ms)
        return false;
    bool self_found = false;
    for (size_t i = 0; i < config->count; i++) {
        const char *id = config->members[i];
        if (!id[0] || strnlen (id, ELECTION_ID_MAX + 1) > ELECTION_ID_MAX)
            return false;
        for (size_t j = 0; j < i; j++)
            if (strcmp (config->members[j], id) == 0)
                return false; //  a duplicate would skew the majority
        if (config->self && strcmp (config->self, id) == 0)
            self_found = true;
    }
    return self_found;
}

election_t *election_new (const election_config_t *config, const election_sink_t *sink,
                          uint64_t epoch, const char *voted_for, int64_t now)
{
    if (!s_config_ok (config) || !sink || !sink->persist || !sink->request_votes || !sink->role)
        return NULL;
    if (voted_for && strnlen (voted_for, ELECTION_ID_MAX + 1) > ELECTION_ID_MAX)
        return NULL;
    election_t *self = (election_t *)calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    s_set_id (self->self_id, config->self);
    self->config.self = self->self_id;
    self->self_index = (size_t)s_member_index (self, self->self_id);
    self->sink = *sink;
    prng_seed (&self->prng, config->seed);

    self->role = ELECTION_FOLLOWER;
    self->epoch = epoch;
    s_set_id (self->voted_for, voted_for);
    s_reset_timer (self, now);
    self->told_role = self->role;
    self->told_epoch = self->epoch;
    return self;
}

void election_destroy (election_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

//  ---------------------------------------------------------------------
//  Frames

//  A master of this epoch that is not the one already known.
static void s_two_masters (election_t *self, const char *leader_id)
{
    if (self->conflict_epoch == self->epoch && strcmp (self->conflict_id, leader_id) == 0)
        return;
    self->conflict_epoch = self->epoch;
    s_set_id (self->conflict_id, leader_id);
    s_log (self, ELECTION_WARN,
           "two masters in epoch %" PRIu64 ": %s and %s; keeping %s (safety violation)",
           self->epoch, self->leader, leader_id, self->leader);
}

void election_heard_leader (election_t *self, uint64_t epoch, const char *leader_id, int64_t now)
{
    assert (self);
    if (epoch < self->epoch)
        return;
    if (s_member_index (self, leader_id) < 0) {
        s_log (self, ELECTION_WARN, "master frame from non-member '%s' ignored",
               leader_id ? leader_id : "");
        return;
    }
    if (strcmp (leader_id, self->self_id) == 0) {
        //  Someone speaks as this node: only this node's own epochs may.
        if (!(self->role == ELECTION_LEADER && epoch == self->epoch))
            s_log (self, ELECTION_WARN, "master frame of epoch %" PRIu64 " claims to be from %s",
                   epoch, leader_id);
        return;
    }
    if (epoch > self->epoch) {
        if (s_adopt (self, epoch, "a master's frame", now) != 0)
            return;
    } else if (self->leader[0] && strcmp (self->leader, leader_id) != 0) {
        s_two_masters (self, leader_id);
        return;
    }
    s_become_follower (self, leader_id, now);
    s_reset_timer (self, now);
    s_report (self);
}

void election_saw_epoch (election_t *self, uint64_t epoch, int64_t now)
{
    assert (self);
    if (epoch <= self->epoch)
        return;
    if (s_adopt (self, epoch, "seen in a frame", now) == 0)
        s_report (self);
}

//  Is the candidate's last entry at least this node's (Raft §5.4.1)?
static bool s_log_ok (uint64_t last_epoch, uint64_t last_seq, uint64_t my_last_epoch,
                      uint64_t my_last_seq)
{
    return last_epoch > my_last_epoch || (last_epoch == my_last_epoch && last_seq >= my_last_seq);
}

//  Does this node hear a live master (not itself) of its epoch?
static bool s_hears_master (const election_t *self, int64_t now)
{
    return self->role == ELECTION_FOLLOWER && self->heard && self->leader[0] &&
           strcmp (self->leader, self->self_id) != 0 &&
           now - self->heard_at < self->config.timeout_min_ms;
}

//  The request is of this node's epoch (adopted if it was higher): grant?
static bool s_decide (election_t *self, const char *candidate, uint64_t last_epoch,
                      uint64_t last_seq, uint64_t my_last_epoch, uint64_t my_last_seq, int64_t now)
{
    if (self->voted_for[0] && strcmp (self->voted_for, candidate) != 0) {
        s_log (self, ELECTION_INFO, "vote for %s in epoch %" PRIu64 " refused: voted for %s",
               candidate, self->epoch, self->voted_for);
        return false;
    }
    if (!s_log_ok (last_epoch, last_seq, my_last_epoch, my_last_seq)) {
        s_log (self, ELECTION_INFO,
               "vote for %s in epoch %" PRIu64 " refused: its log ends at (%" PRIu64 ", %" PRIu64
               "), mine at (%" PRIu64 ", %" PRIu64 ")",
               candidate, self->epoch, last_epoch, last_seq, my_last_epoch, my_last_seq);
        return false;
    }
    if (strcmp (self->voted_for, candidate) != 0) {
        if (self->sink.persist (self->sink.arg, self->epoch, candidate) != 0) {
            s_log (self, ELECTION_WARN,
                   "vote for %s in epoch %" PRIu64 " refused: cannot persist it", candidate,
                   self->epoch);
            return false;
        }
        s_set_id (self->voted_for, candidate);
        s_log (self, ELECTION_INFO, "vote for %s in epoch %" PRIu64 " granted", candidate,
               self->epoch);
    }
    s_reset_timer (self, now);
    return true;
}

bool election_vote_request (election_t *self, uint64_t epoch, const char *candidate,
                            uint64_t last_epoch, uint64_t last_seq, uint64_t my_last_epoch,
                            uint64_t my_last_seq, int64_t now, uint64_t *epoch_p)
{
    assert (self);
    bool granted = false;
    if (s_member_index (self, candidate) < 0 || strcmp (candidate, self->self_id) == 0)
        s_log (self, ELECTION_WARN, "vote request from '%s' refused: not another member",
               candidate ? candidate : "");
    else if (epoch < self->epoch)
        s_log (self, ELECTION_INFO,
               "vote for %s refused: its epoch %" PRIu64 " is older than %" PRIu64, candidate,
               epoch, self->epoch);
    else if (s_hears_master (self, now))
        s_log (self, ELECTION_INFO,
               "vote request from %s (epoch %" PRIu64 ") ignored: master %s heard %" PRId64
               " ms ago",
               candidate, epoch, self->leader, now - self->heard_at);
    else if (epoch == self->epoch || s_adopt (self, epoch, "a vote request", now) == 0) {
        s_report (self);
        granted = s_decide (self, candidate, last_epoch, last_seq, my_last_epoch, my_last_seq, now);
    }
    if (epoch_p)
        *epoch_p = self->epoch;
    return granted;
}

static void s_elected (election_t *self)
{
    self->role = ELECTION_LEADER;
    s_set_id (self->leader, self->self_id);
    self->heard = false;
    self->deadline = NEVER;
    s_log (self, ELECTION_INFO, "elected master of epoch %" PRIu64 " (%zu of %zu votes)",
           self->epoch, self->votes, self->config.count);
    s_report (self);
}

void election_vote (election_t *self, uint64_t epoch, const char *voter, bool granted, int64_t now)
{
    assert (self);
    int index = s_member_index (self, voter);
    if (index < 0 || (size_t)index == self->self_index) {
        s_log (self, ELECTION_WARN, "vote from '%s' ignored: not another member",
               voter ? voter : "");
        return;
    }
    if (epoch > self->epoch) {
        if (s_adopt (self, epoch, "a vote", now) == 0)
            s_report (self);
        return;
    }
    if (epoch < self->epoch || self->role != ELECTION_CANDIDATE || !granted || self->granted[index])
        return; //  stale, late, refused or a duplicate
    self->granted[index] = true;
    self->votes++;
    if (self->votes >= election_majority (self))
        s_elected (self);
}

//  ---------------------------------------------------------------------
//  Timers

void election_tick (election_t *self, int64_t now, uint64_t my_last_epoch, uint64_t my_last_seq)
{
    assert (self);
    if (self->role == ELECTION_LEADER || now < self->deadline)
        return;
    uint64_t epoch = self->epoch + 1;
    s_reset_timer (self, now);
    if (self->sink.persist (self->sink.arg, epoch, self->self_id) != 0) {
        s_log (self, ELECTION_WARN,
               "cannot persist a vote for myself in epoch %" PRIu64 ": no election until %" PRId64,
               epoch, self->deadline);
        return;
    }
    self->role = ELECTION_CANDIDATE;
    self->epoch = epoch;
    s_set_id (self->voted_for, self->self_id);
    self->leader[0] = 0;
    self->heard = false;
    memset (self->granted, 0, sizeof self->granted);
    self->granted[self->self_index] = true;
    self->votes = 1;
    s_log (self, ELECTION_INFO, "no master heard: candidate for epoch %" PRIu64, epoch);
    s_report (self);
    if (self->votes >= election_majority (self))
        s_elected (self);
    else
        self->sink.request_votes (self->sink.arg, epoch, my_last_epoch, my_last_seq);
}

//  ---------------------------------------------------------------------
//  Accessors

election_role_t election_role (election_t *self)
{
    assert (self);
    return self->role;
}

uint64_t election_epoch (election_t *self)
{
    assert (self);
    return self->epoch;
}

const char *election_leader (election_t *self)
{
    assert (self);
    return self->leader;
}

const char *election_voted_for (election_t *self)
{
    assert (self);
    return self->voted_for;
}

int64_t election_deadline (election_t *self)
{
    assert (self);
    return self->deadline;
}

const char *election_role_name (election_role_t role)
{
    switch (role) {
    case ELECTION_FOLLOWER:
        return "follower";
    case ELECTION_CANDIDATE:
        return "candidate";
    case ELECTION_LEADER:
        return "leader";
    }
    return "unknown";
}

bool election_is_member (election_t *self, const char *id)
{
    assert (self);
    return s_member_index (self, id) >= 0;
}

size_t election_majority (election_t *self)
{
    assert (self);
    return self->config.count / 2 + 1;
}
