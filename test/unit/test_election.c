/*  test_election.c - Raft's election rules on rlog's epochs: timeouts,
    candidacy, votes (one per epoch, the election restriction, the
    live-master guard), step-down on a higher epoch, persistence before
    anything depends on it, and role reports exactly once per change.
    Time is explicit; the sink records every call in order.
*/
#include <criterion/criterion.h>

#include "election.h"

#include <stdio.h>
#include <string.h>

#define EVENTS_MAX 128
#define TEXT_MAX   256
#define MIN_MS     150
#define MAX_MS     300

typedef enum { EV_PERSIST, EV_REQUEST, EV_ROLE, EV_LOG } s_kind_t;

typedef struct {
    s_kind_t kind;
    uint64_t epoch;
    char id[ELECTION_ID_MAX + 1]; //  voted_for or leader_id
    uint64_t last_epoch;
    uint64_t last_seq;
    election_role_t role;
    election_level_t level;
    char text[TEXT_MAX];
} s_event_t;

//  The recording sink, and the "disk" its persist writes.
typedef struct {
    s_event_t events[EVENTS_MAX];
    size_t count;
    int fail;      //  persists left to fail; -1: all
    int fail_skip; //  persists to let through before failing
    uint64_t disk_epoch;
    char disk_vote[ELECTION_ID_MAX + 1];
    char trace[4096];
} s_rec_t;

static s_event_t *s_push (s_rec_t *rec, s_kind_t kind)
{
    cr_assert_lt (rec->count, EVENTS_MAX, "too many sink calls");
    s_event_t *ev = &rec->events[rec->count++];
    memset (ev, 0, sizeof *ev);
    ev->kind = kind;
    return ev;
}

static int s_persist (void *arg, uint64_t epoch, const char *voted_for)
{
    s_rec_t *rec = (s_rec_t *)arg;
    s_event_t *ev = s_push (rec, EV_PERSIST);
    ev->epoch = epoch;
    snprintf (ev->id, sizeof ev->id, "%s", voted_for);
    if (rec->fail_skip > 0)
        rec->fail_skip--;
    else if (rec->fail != 0) {
        if (rec->fail > 0)
            rec->fail--;
        snprintf (ev->text, sizeof ev->text, "failed");
        return -1;
    }
    rec->disk_epoch = epoch;
    snprintf (rec->disk_vote, sizeof rec->disk_vote, "%s", voted_for);
    return 0;
}

static void s_request (void *arg, uint64_t epoch, uint64_t last_epoch, uint64_t last_seq)
{
    s_event_t *ev = s_push ((s_rec_t *)arg, EV_REQUEST);
    ev->epoch = epoch;
    ev->last_epoch = last_epoch;
    ev->last_seq = last_seq;
}

static void s_role (void *arg, election_role_t role, uint64_t epoch, const char *leader_id)
{
    s_event_t *ev = s_push ((s_rec_t *)arg, EV_ROLE);
    ev->role = role;
    ev->epoch = epoch;
    snprintf (ev->id, sizeof ev->id, "%s", leader_id);
}

static void s_logline (void *arg, election_level_t level, const char *text)
{
    s_event_t *ev = s_push ((s_rec_t *)arg, EV_LOG);
    ev->level = level;
    snprintf (ev->text, sizeof ev->text, "%s", text);
}

//  The non-log calls since the last clear, as "persist(4,n1) candidate(4,)
//  ask(4,3,10) leader(4,n1)"; "persist!" marks a failed persist.
static const char *s_trace (s_rec_t *rec)
{
    char *p = rec->trace;
    size_t left = sizeof rec->trace;
    p[0] = 0;
    for (size_t i = 0; i < rec->count; i++) {
        const s_event_t *ev = &rec->events[i];
        int n = 0;
        const char *sep = p == rec->trace ? "" : " ";
        if (ev->kind == EV_PERSIST)
            n = snprintf (p, left, "%spersist%s(%lu,%s)", sep, ev->text[0] ? "!" : "",
                          (unsigned long)ev->epoch, ev->id);
        else if (ev->kind == EV_REQUEST)
            n = snprintf (p, left, "%sask(%lu,%lu,%lu)", sep, (unsigned long)ev->epoch,
                          (unsigned long)ev->last_epoch, (unsigned long)ev->last_seq);
        else if (ev->kind == EV_ROLE)
            n = snprintf (p, left, "%s%s(%lu,%s)", sep, election_role_name (ev->role),
                          (unsigned long)ev->epoch, ev->id);
        cr_assert (n >= 0 && (size_t)n < left, "trace too long");
        p += n;
        left -= (size_t)n;
    }
    return rec->trace;
}

//  Log lines at LEVEL containing NEEDLE since the last clear.
static size_t s_logged (const s_rec_t *rec, election_level_t level, const char *needle)
{
    size_t n = 0;
    for (size_t i = 0; i < rec->count; i++)
        if (rec->events[i].kind == EV_LOG && rec->events[i].level == level &&
            strstr (rec->events[i].text, needle))
            n++;
    return n;
}

static size_t s_warns (const s_rec_t *rec)
{
    return s_logged (rec, ELECTION_WARN, "");
}

static void s_clear (s_rec_t *rec)
{
    rec->count = 0;
}

#define TRACE_IS(rec, expected)                                                                    \
    cr_assert_str_eq (s_trace (rec), expected, "trace: '%s'", s_trace (rec))

typedef struct {
    election_config_t config;
    election_sink_t sink;
    s_rec_t rec;
    election_t *e;
} s_node_t;

//  A member N of a cluster n1..nCOUNT, its sink recording into its own REC.
static void s_config (s_node_t *node, size_t count, size_t n, uint64_t seed)
{
    memset (node, 0, sizeof *node);
    for (size_t i = 0; i < count; i++)
        snprintf (node->config.members[i], sizeof node->config.members[i], "n%zu", i + 1);
    node->config.count = count;
    node->config.self = node->config.members[n - 1];
    node->config.timeout_min_ms = MIN_MS;
    node->config.timeout_max_ms = MAX_MS;
    node->config.seed = seed;
    node->sink = (election_sink_t){.arg = &node->rec,
                                   .persist = s_persist,
                                   .request_votes = s_request,
                                   .role = s_role,
                                   .log = s_logline};
}

static void s_start (s_node_t *node, size_t count, size_t n, uint64_t epoch, const char *voted,
                     int64_t now)
{
    s_config (node, count, n, 1000 + n);
    node->e = election_new (&node->config, &node->sink, epoch, voted, now);
    cr_assert_not_null (node->e);
}

static void s_stop (s_node_t *node)
{
    election_destroy (&node->e);
    cr_assert_null (node->e);
}

//  The deadline is a fresh draw from NOW.
static void s_deadline_from (s_node_t *node, int64_t now)
{
    int64_t d = election_deadline (node->e);
    cr_assert (d >= now + MIN_MS && d <= now + MAX_MS, "deadline %ld not in [%ld, %ld]", (long)d,
               (long)(now + MIN_MS), (long)(now + MAX_MS));
}

//  Node (member 1 of COUNT) made leader of EPOCH+1 from EPOCH; returns now.
static int64_t s_make_leader (s_node_t *node, size_t count, uint64_t epoch)
{
    s_start (node, count, 1, epoch, "", 0);
    int64_t now = election_deadline (node->e);
    election_tick (node->e, now, epoch, 10);
    for (size_t i = 2; election_role (node->e) != ELECTION_LEADER && i <= count; i++) {
        char id[8];
        snprintf (id, sizeof id, "n%zu", i);
        election_vote (node->e, epoch + 1, id, true, now);
    }
    cr_assert_eq (election_role (node->e), ELECTION_LEADER);
    s_clear (&node->rec);
    return now;
}

static bool s_ask (s_node_t *node, uint64_t epoch, const char *candidate, uint64_t last_epoch,
                   uint64_t last_seq, uint64_t my_last_epoch, uint64_t my_last_seq, int64_t now,
                   uint64_t *epoch_p)
{
    return election_vote_request (node->e, epoch, candidate, last_epoch, last_seq, my_last_epoch,
                                  my_last_seq, now, epoch_p);
}

//  ---------------------------------------------------------------------
//  Configuration and start

Test (election, config_checked)
{
    s_node_t node;
    s_config (&node, 3, 1, 7);
    election_config_t bad = node.config;
    bad.self = "n9";
    cr_assert_null (election_new (&bad, &node.sink, 0, "", 0), "self not a member");
    bad = node.config;
    bad.self = NULL;
    cr_assert_null (election_new (&bad, &node.sink, 0, "", 0), "no self");
    bad = node.config;
    bad.count = 0;
    cr_assert_null (election_new (&bad, &node.sink, 0, "", 0), "no members");
    bad = node.config;
    bad.count = ELECTION_MEMBERS_MAX + 1;
    cr_assert_null (election_new (&bad, &node.sink, 0, "", 0), "too many members");
    bad = node.config;
    bad.timeout_min_ms = MAX_MS + 1;
    cr_assert_null (election_new (&bad, &node.sink, 0, "", 0), "min > max");
    bad = node.config;
    snprintf (bad.members[2], sizeof bad.members[2], "n2");
    cr_assert_null (election_new (&bad, &node.sink, 0, "", 0), "duplicate member");
    bad = node.config;
    bad.members[2][0] = 0;
    cr_assert_null (election_new (&bad, &node.sink, 0, "", 0), "empty member id");
    election_sink_t sink = node.sink;
    sink.persist = NULL;
    cr_assert_null (election_new (&node.config, &sink, 0, "", 0), "no persist");
    cr_assert_null (election_new (&node.config, NULL, 0, "", 0), "no sink");
    char long_id[ELECTION_ID_MAX + 2];
    memset (long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    cr_assert_null (election_new (&node.config, &node.sink, 0, long_id, 0), "vote id too long");
    cr_assert_eq (node.rec.count, 0);

    //  Equal bounds are allowed: the timeout is then fixed.
    election_config_t fixed = node.config;
    fixed.timeout_min_ms = fixed.timeout_max_ms = 200;
    election_t *e = election_new (&fixed, &node.sink, 0, NULL, 50);
    cr_assert_not_null (e);
    cr_assert_eq (election_deadline (e), 250);
    cr_assert_str_eq (election_voted_for (e), "");
    election_destroy (&e);
    election_destroy (&e);
}

Test (election, starts_as_follower_without_reporting)
{
    s_node_t node;
    s_start (&node, 3, 2, 7, "n3", 1000);
    cr_assert_eq (election_role (node.e), ELECTION_FOLLOWER);
    cr_assert_eq (election_epoch (node.e), 7);
    cr_assert_str_eq (election_voted_for (node.e), "n3");
    cr_assert_str_eq (election_leader (node.e), "");
    s_deadline_from (&node, 1000);
    cr_assert_eq (node.rec.count, 0, "nothing reported or persisted at start");
    cr_assert_eq (election_majority (node.e), 2);
    cr_assert (election_is_member (node.e, "n1"));
    cr_assert (election_is_member (node.e, "n3"));
    cr_assert_not (election_is_member (node.e, "n4"));
    cr_assert_not (election_is_member (node.e, ""));
    cr_assert_not (election_is_member (node.e, NULL));
    cr_assert_str_eq (election_role_name (ELECTION_FOLLOWER), "follower");
    cr_assert_str_eq (election_role_name (ELECTION_CANDIDATE), "candidate");
    cr_assert_str_eq (election_role_name (ELECTION_LEADER), "leader");
    s_stop (&node);
}

Test (election, majority_of_all_members)
{
    size_t expected[] = {0, 1, 2, 2, 3, 3, 4};
    for (size_t count = 1; count <= 6; count++) {
        s_node_t node;
        s_start (&node, count, 1, 0, "", 0);
        cr_assert_eq (election_majority (node.e), expected[count], "%zu members", count);
        s_stop (&node);
    }
}

Test (election, timeouts_random_in_range_and_seeded)
{
    //  Same seed, same draws (replayable); other seeds, other draws.
    s_node_t a, b, c;
    s_config (&a, 3, 1, 42);
    s_config (&b, 3, 1, 42);
    s_config (&c, 3, 1, 43);
    a.e = election_new (&a.config, &a.sink, 0, "", 0);
    b.e = election_new (&b.config, &b.sink, 0, "", 0);
    c.e = election_new (&c.config, &c.sink, 0, "", 0);
    int64_t low = MAX_MS, high = MIN_MS;
    bool differ = false;
    for (int64_t now = 0; now < 100 * 1000; now += 1000) {
        election_heard_leader (a.e, 1, "n2", now);
        election_heard_leader (b.e, 1, "n2", now);
        election_heard_leader (c.e, 1, "n2", now);
        cr_assert_eq (election_deadline (a.e), election_deadline (b.e));
        differ = differ || election_deadline (a.e) != election_deadline (c.e);
        s_deadline_from (&a, now);
        int64_t t = election_deadline (a.e) - now;
        low = t < low ? t : low;
        high = t > high ? t : high;
    }
    cr_assert (differ, "another seed draws other timeouts");
    cr_assert_lt (low, MIN_MS + 50, "draws spread over the range");
    cr_assert_gt (high, MAX_MS - 50, "draws spread over the range");
    s_stop (&a);
    s_stop (&b);
    s_stop (&c);
}

//  ---------------------------------------------------------------------
//  Elections

Test (election, single_node_elects_itself)
{
    s_node_t node;
    s_start (&node, 1, 1, 0, "", 0);
    int64_t deadline = election_deadline (node.e);
    election_tick (node.e, deadline - 1, 0, 0);
    cr_assert_eq (node.rec.count, 0, "not before the timeout");
    election_tick (node.e, deadline, 0, 0);
    TRACE_IS (&node.rec, "persist(1,n1) candidate(1,) leader(1,n1)");
    cr_assert_eq (election_role (node.e), ELECTION_LEADER);
    cr_assert_eq (election_epoch (node.e), 1);
    cr_assert_str_eq (election_leader (node.e), "n1");
    cr_assert_str_eq (election_voted_for (node.e), "n1");
    cr_assert_eq (election_deadline (node.e), INT64_MAX, "a leader has no election timer");
    s_clear (&node.rec);
    election_tick (node.e, deadline + 100000, 0, 0);
    cr_assert_eq (node.rec.count, 0, "a leader's tick does nothing");
    s_stop (&node);
}

Test (election, follower_times_out_and_wins_with_one_vote)
{
    s_node_t node;
    s_start (&node, 3, 1, 3, "", 0);
    election_heard_leader (node.e, 3, "n2", 100);
    s_clear (&node.rec);
    int64_t deadline = election_deadline (node.e);
    election_tick (node.e, deadline - 1, 3, 10);
    cr_assert_eq (node.rec.count, 0);

    election_tick (node.e, deadline, 3, 10);
    //  Persisted (epoch + 1, self) before asking anyone.
    TRACE_IS (&node.rec, "persist(4,n1) candidate(4,) ask(4,3,10)");
    cr_assert_eq (node.rec.events[0].kind, EV_PERSIST);
    cr_assert_eq (node.rec.disk_epoch, 4);
    cr_assert_str_eq (node.rec.disk_vote, "n1");
    cr_assert_eq (election_role (node.e), ELECTION_CANDIDATE);
    cr_assert_eq (election_epoch (node.e), 4);
    cr_assert_str_eq (election_leader (node.e), "", "the old master is forgotten");
    s_deadline_from (&node, deadline);

    s_clear (&node.rec);
    election_vote (node.e, 4, "n2", true, deadline + 5);
    TRACE_IS (&node.rec, "leader(4,n1)");
    cr_assert_eq (election_role (node.e), ELECTION_LEADER);
    cr_assert_str_eq (election_leader (node.e), "n1");

    s_clear (&node.rec);
    election_vote (node.e, 4, "n3", true, deadline + 6);
    election_vote (node.e, 4, "n2", true, deadline + 7);
    cr_assert_eq (node.rec.count, 0, "late votes change nothing");
    s_stop (&node);
}

Test (election, duplicated_votes_count_once)
{
    s_node_t node;
    s_start (&node, 5, 1, 0, "", 0);
    int64_t now = election_deadline (node.e);
    election_tick (node.e, now, 0, 0);
    cr_assert_eq (election_majority (node.e), 3);
    s_clear (&node.rec);
    election_vote (node.e, 1, "n2", true, now);
    election_vote (node.e, 1, "n2", true, now);
    election_vote (node.e, 1, "n2", true, now);
    cr_assert_eq (election_role (node.e), ELECTION_CANDIDATE, "one voter is one vote");
    cr_assert_eq (node.rec.count, 0);
    election_vote (node.e, 1, "n4", true, now);
    TRACE_IS (&node.rec, "leader(1,n1)");
    s_stop (&node);
}

Test (election, votes_of_other_epochs_non_members_and_refusals_ignored)
{
    s_node_t node;
    s_start (&node, 3, 1, 3, "", 0);
    int64_t now = election_deadline (node.e);
    election_tick (node.e, now, 3, 10);
    s_clear (&node.rec);

    election_vote (node.e, 3, "n2", true, now); //  an older election's vote
    election_vote (node.e, 4, "n2", false, now);
    cr_assert_eq (node.rec.count, 0);
    election_vote (node.e, 4, "n9", true, now);
    election_vote (node.e, 4, NULL, true, now);
    election_vote (node.e, 4, "n1", true, now); //  itself, over the wire
    cr_assert_eq (s_warns (&node.rec), 3);
    TRACE_IS (&node.rec, "");
    cr_assert_eq (election_role (node.e), ELECTION_CANDIDATE);

    //  n2's refusal counted nothing; n3's grant is the majority.
    election_vote (node.e, 4, "n3", true, now);
    TRACE_IS (&node.rec, "leader(4,n1)");
    s_stop (&node);
}

Test (election, higher_epoch_vote_makes_candidate_follower)
{
    s_node_t node;
    s_start (&node, 3, 1, 3, "", 0);
    int64_t now = election_deadline (node.e);
    election_tick (node.e, now, 3, 10);
    int64_t deadline = election_deadline (node.e);
    s_clear (&node.rec);
    election_vote (node.e, 6, "n2", false, now + 1);
    TRACE_IS (&node.rec, "persist(6,) follower(6,)");
    cr_assert_eq (election_role (node.e), ELECTION_FOLLOWER);
    cr_assert_eq (election_epoch (node.e), 6);
    cr_assert_str_eq (election_voted_for (node.e), "");
    cr_assert_eq (election_deadline (node.e), deadline, "adopting an epoch keeps the timer");
    s_clear (&node.rec);
    election_vote (node.e, 6, "n3", true, now + 2);
    cr_assert_eq (node.rec.count, 0, "a follower counts no votes");
    s_stop (&node);
}

Test (election, split_votes_resolve_at_next_epoch)
{
    //  n3 is down; n1 and n2 time out together and each votes for itself.
    s_node_t n1, n2;
    s_start (&n1, 3, 1, 0, "", 0);
    s_start (&n2, 3, 2, 0, "", 0);
    int64_t now = MAX_MS; //  both deadlines have passed
    election_tick (n1.e, now, 0, 0);
    election_tick (n2.e, now, 0, 0);
    TRACE_IS (&n1.rec, "persist(1,n1) candidate(1,) ask(1,0,0)");
    TRACE_IS (&n2.rec, "persist(1,n2) candidate(1,) ask(1,0,0)");
    s_clear (&n1.rec);
    s_clear (&n2.rec);

    uint64_t epoch = 0;
    cr_assert_not (s_ask (&n2, 1, "n1", 0, 0, 0, 0, now + 1, &epoch), "n2 voted for itself");
    cr_assert_eq (epoch, 1);
    cr_assert_not (s_ask (&n1, 1, "n2", 0, 0, 0, 0, now + 1, &epoch), "n1 voted for itself");
    election_vote (n1.e, 1, "n2", false, now + 2);
    election_vote (n2.e, 1, "n1", false, now + 2);
    cr_assert_eq (election_role (n1.e), ELECTION_CANDIDATE);
    cr_assert_eq (election_role (n2.e), ELECTION_CANDIDATE);
    TRACE_IS (&n1.rec, "");
    TRACE_IS (&n2.rec, "");

    //  Their new timeouts were drawn at random: the first to fire wins.
    s_deadline_from (&n1, now);
    s_deadline_from (&n2, now);
    cr_assert_neq (election_deadline (n1.e), election_deadline (n2.e));
    s_node_t *first = election_deadline (n1.e) < election_deadline (n2.e) ? &n1 : &n2;
    s_node_t *second = first == &n1 ? &n2 : &n1;
    const char *first_id = first == &n1 ? "n1" : "n2";
    const char *second_id = first == &n1 ? "n2" : "n1";
    now = election_deadline (first->e);
    s_clear (&n1.rec);
    s_clear (&n2.rec);
    election_tick (second->e, now, 0, 0);
    cr_assert_eq (second->rec.count, 0, "the other one's timeout has not passed");
    election_tick (first->e, now, 0, 0);
    char expected[128];
    snprintf (expected, sizeof expected, "persist(2,%s) candidate(2,) ask(2,0,0)", first_id);
    TRACE_IS (&first->rec, expected);

    cr_assert (s_ask (second, 2, first_id, 0, 0, 0, 0, now + 1, &epoch));
    cr_assert_eq (epoch, 2);
    snprintf (expected, sizeof expected, "persist(2,) follower(2,) persist(2,%s)", first_id);
    TRACE_IS (&second->rec, expected);
    s_clear (&first->rec);
    election_vote (first->e, epoch, second_id, true, now + 2);
    snprintf (expected, sizeof expected, "leader(2,%s)", first_id);
    TRACE_IS (&first->rec, expected);
    s_stop (&n1);
    s_stop (&n2);
}

Test (election, candidate_hearing_master_of_its_epoch_follows)
{
    s_node_t node;
    s_start (&node, 3, 1, 3, "", 0);
    int64_t now = election_deadline (node.e);
    election_tick (node.e, now, 3, 10);
    s_clear (&node.rec);
    election_heard_leader (node.e, 3, "n2", now + 1);
    cr_assert_eq (node.rec.count, 0, "a master of an older epoch is ignored");
    election_heard_leader (node.e, 4, "n2", now + 2);
    TRACE_IS (&node.rec, "follower(4,n2)");
    cr_assert_str_eq (election_voted_for (node.e), "n1", "its own vote stays");
    cr_assert_str_eq (election_leader (node.e), "n2");
    s_deadline_from (&node, now + 2);
    s_clear (&node.rec);
    election_vote (node.e, 4, "n3", true, now + 3);
    cr_assert_eq (node.rec.count, 0);
    cr_assert_eq (election_role (node.e), ELECTION_FOLLOWER);
    s_stop (&node);
}

//  ---------------------------------------------------------------------
//  Votes

Test (election, stale_candidate_refused)
{
    s_node_t node;
    s_start (&node, 3, 1, 5, "", 0);
    uint64_t epoch = 0;
    cr_assert_not (s_ask (&node, 4, "n2", 9, 999, 3, 10, 1000, &epoch));
    cr_assert_eq (epoch, 5, "the answer carries this node's epoch");
    TRACE_IS (&node.rec, "");
    cr_assert_eq (election_epoch (node.e), 5);
    cr_assert_str_eq (election_voted_for (node.e), "");
    cr_assert_eq (s_logged (&node.rec, ELECTION_INFO, "older"), 1);
    s_stop (&node);
}

Test (election, shorter_log_refused_equal_log_granted)
{
    s_node_t node;
    s_start (&node, 3, 1, 5, "", 0);
    uint64_t epoch = 0;
    //  Lower last epoch, however long: refused, but the epoch is adopted.
    cr_assert_not (s_ask (&node, 6, "n2", 4, 200, 5, 100, 1000, &epoch));
    cr_assert_eq (epoch, 6);
    TRACE_IS (&node.rec, "persist(6,) follower(6,)");
    cr_assert_str_eq (election_voted_for (node.e), "");
    cr_assert_eq (s_logged (&node.rec, ELECTION_INFO, "its log ends at (4, 200)"), 1);
    s_clear (&node.rec);
    //  Same last epoch, lower seq: refused.
    cr_assert_not (s_ask (&node, 6, "n3", 5, 99, 5, 100, 1001, &epoch));
    TRACE_IS (&node.rec, "");
    //  Equal log: granted.
    cr_assert (s_ask (&node, 6, "n3", 5, 100, 5, 100, 1002, &epoch));
    TRACE_IS (&node.rec, "persist(6,n3)");
    cr_assert_str_eq (election_voted_for (node.e), "n3");
    s_stop (&node);

    //  A higher last epoch wins over a longer log of an older epoch.
    s_start (&node, 3, 1, 5, "", 0);
    cr_assert (s_ask (&node, 6, "n2", 5, 1, 4, 900, 1000, &epoch));
    TRACE_IS (&node.rec, "persist(6,) follower(6,) persist(6,n2)");
    s_stop (&node);

    //  A longer log of the same epoch, in the current epoch: granted.
    s_start (&node, 3, 1, 5, "", 0);
    cr_assert (s_ask (&node, 5, "n2", 5, 101, 5, 100, 1000, &epoch));
    cr_assert_eq (epoch, 5);
    TRACE_IS (&node.rec, "persist(5,n2)");
    s_stop (&node);
}

Test (election, one_vote_per_epoch)
{
    s_node_t node;
    s_start (&node, 3, 1, 5, "", 0);
    uint64_t epoch = 0;
    cr_assert (s_ask (&node, 6, "n2", 5, 10, 5, 10, 1000, &epoch));
    TRACE_IS (&node.rec, "persist(6,) follower(6,) persist(6,n2)");
    //  The vote was durable before the answer.
    cr_assert_eq (node.rec.disk_epoch, 6);
    cr_assert_str_eq (node.rec.disk_vote, "n2");
    s_clear (&node.rec);

    cr_assert_not (s_ask (&node, 6, "n3", 5, 10, 5, 10, 1001, &epoch), "a second candidate");
    cr_assert_eq (epoch, 6);
    cr_assert_eq (s_logged (&node.rec, ELECTION_INFO, "voted for n2"), 1);
    TRACE_IS (&node.rec, "");
    cr_assert (s_ask (&node, 6, "n2", 5, 10, 5, 10, 1002, &epoch), "the same one: idempotent");
    TRACE_IS (&node.rec, "");
    cr_assert_str_eq (election_voted_for (node.e), "n2");

    //  The next epoch forgets the vote.
    s_clear (&node.rec);
    cr_assert (s_ask (&node, 7, "n3", 5, 10, 5, 10, 1003, &epoch));
    cr_assert_eq (epoch, 7);
    TRACE_IS (&node.rec, "persist(7,) follower(7,) persist(7,n3)");
    s_stop (&node);
}

Test (election, vote_survives_restart)
{
    s_node_t node;
    s_start (&node, 3, 1, 5, "", 0);
    uint64_t epoch = 0;
    cr_assert (s_ask (&node, 6, "n2", 5, 10, 5, 10, 1000, &epoch));
    uint64_t disk_epoch = node.rec.disk_epoch;
    char disk_vote[ELECTION_ID_MAX + 1];
    snprintf (disk_vote, sizeof disk_vote, "%s", node.rec.disk_vote);
    s_stop (&node);

    //  Restarted from what was persisted.
    s_start (&node, 3, 1, disk_epoch, disk_vote, 5000);
    cr_assert_not (s_ask (&node, 6, "n3", 5, 10, 5, 10, 5001, &epoch));
    cr_assert_eq (epoch, 6);
    TRACE_IS (&node.rec, "");
    cr_assert (s_ask (&node, 6, "n2", 5, 10, 5, 10, 5002, &epoch), "n2 again: the same vote");
    TRACE_IS (&node.rec, "");
    s_stop (&node);

    //  A node restarted as a candidate of epoch 6 voted for itself.
    s_start (&node, 3, 1, 6, "n1", 0);
    cr_assert_not (s_ask (&node, 6, "n2", 5, 10, 5, 10, 1, &epoch));
    TRACE_IS (&node.rec, "");
    s_stop (&node);
}

Test (election, vote_requests_from_non_members_refused)
{
    s_node_t node;
    s_start (&node, 3, 1, 5, "", 0);
    uint64_t epoch = 0;
    cr_assert_not (s_ask (&node, 9, "n9", 5, 10, 5, 10, 1000, &epoch));
    cr_assert_eq (epoch, 5, "an outsider's epoch is not adopted");
    cr_assert_not (s_ask (&node, 9, NULL, 5, 10, 5, 10, 1000, &epoch));
    cr_assert_not (s_ask (&node, 9, "n1", 5, 10, 5, 10, 1000, &epoch), "itself over the wire");
    cr_assert_eq (s_logged (&node.rec, ELECTION_WARN, "not another member"), 3);
    TRACE_IS (&node.rec, "");
    //  EPOCH_P may be NULL.
    cr_assert (s_ask (&node, 6, "n2", 5, 10, 5, 10, 1000, NULL));
    s_stop (&node);
}

Test (election, disruptive_candidate_ignored_while_master_heard)
{
    s_node_t node;
    s_start (&node, 3, 1, 5, "", 0);
    election_heard_leader (node.e, 5, "n2", 1000);
    s_clear (&node.rec);
    int64_t deadline = election_deadline (node.e);
    uint64_t epoch = 0;

    //  10 ms after hearing the master: ignored entirely, epoch included.
    cr_assert_not (s_ask (&node, 6, "n3", 5, 10, 5, 10, 1010, &epoch));
    cr_assert_eq (epoch, 5);
    TRACE_IS (&node.rec, "");
    cr_assert_eq (election_epoch (node.e), 5);
    cr_assert_str_eq (election_leader (node.e), "n2");
    cr_assert_eq (election_deadline (node.e), deadline);
    cr_assert_eq (s_logged (&node.rec, ELECTION_INFO, "ignored: master n2 heard 10 ms ago"), 1);
    cr_assert_not (s_ask (&node, 6, "n3", 5, 10, 5, 10, 1000 + MIN_MS - 1, &epoch));
    TRACE_IS (&node.rec, "");

    //  timeout_min after hearing it: the master may be gone; vote normally.
    cr_assert (s_ask (&node, 6, "n3", 5, 10, 5, 10, 1000 + MIN_MS, &epoch));
    cr_assert_eq (epoch, 6);
    TRACE_IS (&node.rec, "persist(6,) follower(6,) persist(6,n3)");
    s_stop (&node);
}

Test (election, guard_needs_a_master_of_the_current_epoch)
{
    //  A follower that moved to a higher epoch knows no master: no guard.
    s_node_t node;
    s_start (&node, 3, 1, 5, "", 0);
    election_heard_leader (node.e, 5, "n2", 1000);
    election_saw_epoch (node.e, 6, 1001);
    s_clear (&node.rec);
    uint64_t epoch = 0;
    cr_assert (s_ask (&node, 7, "n3", 5, 10, 5, 10, 1002, &epoch));
    TRACE_IS (&node.rec, "persist(7,) follower(7,) persist(7,n3)");
    s_stop (&node);

    //  A node that never heard a master: no guard.
    s_start (&node, 3, 1, 5, "", 1000);
    cr_assert (s_ask (&node, 6, "n3", 5, 10, 5, 10, 1001, &epoch));
    s_stop (&node);
}

//  ---------------------------------------------------------------------
//  Step-down on a higher epoch

Test (election, leader_steps_down_on_heard_leader)
{
    s_node_t node;
    int64_t now = s_make_leader (&node, 3, 3);
    election_heard_leader (node.e, 4, "n2", now + 1);
    TRACE_IS (&node.rec, "");
    cr_assert_eq (s_warns (&node.rec), 1, "two masters in epoch 4");
    cr_assert_eq (election_role (node.e), ELECTION_LEADER, "the first master is kept");
    s_clear (&node.rec);
    election_heard_leader (node.e, 4, "n1", now + 1); //  its own frame, echoed
    cr_assert_eq (node.rec.count, 0);

    election_heard_leader (node.e, 5, "n2", now + 2);
    TRACE_IS (&node.rec, "persist(5,) follower(5,n2)");
    cr_assert_eq (election_role (node.e), ELECTION_FOLLOWER);
    cr_assert_str_eq (election_leader (node.e), "n2");
    s_deadline_from (&node, now + 2);
    s_stop (&node);
}

Test (election, leader_steps_down_on_saw_epoch)
{
    s_node_t node;
    int64_t now = s_make_leader (&node, 3, 3);
    election_saw_epoch (node.e, 3, now + 1);
    election_saw_epoch (node.e, 4, now + 1);
    cr_assert_eq (node.rec.count, 0, "lower and equal epochs change nothing");
    election_saw_epoch (node.e, 7, now + 2);
    TRACE_IS (&node.rec, "persist(7,) follower(7,)");
    cr_assert_eq (election_epoch (node.e), 7);
    cr_assert_str_eq (election_leader (node.e), "");
    s_deadline_from (&node, now + 2);
    s_stop (&node);
}

Test (election, leader_steps_down_on_vote_request)
{
    s_node_t node;
    int64_t now = s_make_leader (&node, 3, 3);
    uint64_t epoch = 0;
    //  Its own epoch: it voted for itself.
    cr_assert_not (s_ask (&node, 4, "n2", 4, 20, 4, 20, now + 1, &epoch));
    cr_assert_eq (epoch, 4);
    TRACE_IS (&node.rec, "");
    //  A higher epoch: it steps down at once (a node never counts itself
    //  as the live master it heard), then votes as a follower would.
    cr_assert (s_ask (&node, 5, "n2", 4, 20, 4, 20, now + 2, &epoch));
    cr_assert_eq (epoch, 5);
    TRACE_IS (&node.rec, "persist(5,) follower(5,) persist(5,n2)");
    cr_assert_eq (election_role (node.e), ELECTION_FOLLOWER);
    s_deadline_from (&node, now + 2);
    s_stop (&node);

    //  Stepping down does not mean voting for a shorter log.
    now = s_make_leader (&node, 3, 3);
    cr_assert_not (s_ask (&node, 5, "n2", 3, 90, 4, 1, now + 1, &epoch));
    TRACE_IS (&node.rec, "persist(5,) follower(5,)");
    s_stop (&node);
}

Test (election, leader_steps_down_on_vote)
{
    s_node_t node;
    int64_t now = s_make_leader (&node, 3, 3);
    election_vote (node.e, 4, "n3", true, now + 1);
    cr_assert_eq (node.rec.count, 0);
    election_vote (node.e, 5, "n3", false, now + 1);
    TRACE_IS (&node.rec, "persist(5,) follower(5,)");
    s_stop (&node);
}

Test (election, follower_adopts_higher_epochs_ignores_lower)
{
    s_node_t node;
    s_start (&node, 3, 1, 5, "n2", 0);
    election_heard_leader (node.e, 4, "n2", 10);
    election_saw_epoch (node.e, 4, 10);
    election_saw_epoch (node.e, 5, 10);
    cr_assert_eq (node.rec.count, 0);
    int64_t deadline = election_deadline (node.e);
    election_saw_epoch (node.e, 6, 20);
    TRACE_IS (&node.rec, "persist(6,) follower(6,)");
    cr_assert_str_eq (election_voted_for (node.e), "", "the old epoch's vote is forgotten");
    cr_assert_eq (election_deadline (node.e), deadline);
    s_clear (&node.rec);
    election_heard_leader (node.e, 8, "n3", 30);
    TRACE_IS (&node.rec, "persist(8,) follower(8,n3)");
    s_deadline_from (&node, 30);
    s_stop (&node);
}

Test (election, non_member_master_ignored)
{
    s_node_t node;
    s_start (&node, 3, 1, 5, "", 0);
    election_heard_leader (node.e, 9, "n9", 10);
    election_heard_leader (node.e, 9, NULL, 10);
    cr_assert_eq (s_warns (&node.rec), 2);
    TRACE_IS (&node.rec, "");
    election_heard_leader (node.e, 9, "n1", 10);
    cr_assert_eq (s_logged (&node.rec, ELECTION_WARN, "claims to be from n1"), 1);
    TRACE_IS (&node.rec, "");
    cr_assert_eq (election_epoch (node.e), 5);
    s_stop (&node);
}

Test (election, two_masters_in_one_epoch_keeps_the_first)
{
    s_node_t node;
    s_start (&node, 3, 1, 5, "", 0);
    election_heard_leader (node.e, 5, "n2", 100);
    TRACE_IS (&node.rec, "follower(5,n2)");
    s_clear (&node.rec);
    int64_t deadline = election_deadline (node.e);
    election_heard_leader (node.e, 5, "n3", 110);
    election_heard_leader (node.e, 5, "n3", 120);
    cr_assert_eq (s_logged (&node.rec, ELECTION_WARN, "two masters in epoch 5: n2 and n3"), 1,
                  "logged once, not per frame");
    TRACE_IS (&node.rec, "");
    cr_assert_str_eq (election_leader (node.e), "n2");
    cr_assert_eq (election_deadline (node.e), deadline, "the second master does not reset it");
    election_heard_leader (node.e, 5, "n2", 130);
    cr_assert_neq (election_deadline (node.e), deadline, "the first one does");
    s_stop (&node);
}

//  ---------------------------------------------------------------------
//  Persist failures: nothing that depends on them happens

Test (election, candidate_does_not_ask_without_persisting)
{
    s_node_t node;
    s_start (&node, 3, 1, 3, "", 0);
    node.rec.fail = 1;
    int64_t now = election_deadline (node.e);
    election_tick (node.e, now, 3, 10);
    TRACE_IS (&node.rec, "persist!(4,n1)");
    cr_assert_eq (s_logged (&node.rec, ELECTION_WARN, "cannot persist"), 1);
    cr_assert_eq (election_role (node.e), ELECTION_FOLLOWER);
    cr_assert_eq (election_epoch (node.e), 3);
    cr_assert_str_eq (election_voted_for (node.e), "");
    //  Retried after a timeout, not at every tick.
    s_deadline_from (&node, now);
    s_clear (&node.rec);
    election_tick (node.e, now + 1, 3, 10);
    cr_assert_eq (node.rec.count, 0);
    now = election_deadline (node.e);
    election_tick (node.e, now, 3, 10);
    TRACE_IS (&node.rec, "persist(4,n1) candidate(4,) ask(4,3,10)");
    s_stop (&node);

    //  A single node does not become leader without persisting either.
    s_start (&node, 1, 1, 0, "", 0);
    node.rec.fail = -1;
    election_tick (node.e, election_deadline (node.e), 0, 0);
    TRACE_IS (&node.rec, "persist!(1,n1)");
    cr_assert_eq (election_role (node.e), ELECTION_FOLLOWER);
    s_stop (&node);
}

Test (election, voter_does_not_grant_without_persisting)
{
    s_node_t node;
    s_start (&node, 3, 1, 5, "", 0);
    uint64_t epoch = 0;
    //  The epoch cannot be adopted: nothing changes.
    node.rec.fail = 1;
    cr_assert_not (s_ask (&node, 6, "n2", 5, 10, 5, 10, 1000, &epoch));
    cr_assert_eq (epoch, 5);
    TRACE_IS (&node.rec, "persist!(6,)");
    cr_assert_eq (s_warns (&node.rec), 1);
    cr_assert_eq (election_epoch (node.e), 5);
    s_clear (&node.rec);

    //  The epoch is adopted but the vote cannot be persisted: refused.
    node.rec.fail_skip = 1;
    node.rec.fail = 1;
    int64_t deadline = election_deadline (node.e);
    cr_assert_not (s_ask (&node, 6, "n2", 5, 10, 5, 10, 1001, &epoch));
    cr_assert_eq (epoch, 6);
    TRACE_IS (&node.rec, "persist(6,) follower(6,) persist!(6,n2)");
    cr_assert_eq (s_logged (&node.rec, ELECTION_WARN, "cannot persist it"), 1);
    cr_assert_str_eq (election_voted_for (node.e), "");
    cr_assert_eq (election_deadline (node.e), deadline, "no vote, no timer reset");
    s_clear (&node.rec);

    //  Asked again once the disk works: granted.
    cr_assert (s_ask (&node, 6, "n2", 5, 10, 5, 10, 1002, &epoch));
    TRACE_IS (&node.rec, "persist(6,n2)");
    s_stop (&node);
}

Test (election, higher_epoch_not_adopted_without_persisting)
{
    s_node_t node;
    s_start (&node, 3, 1, 5, "", 0);
    election_heard_leader (node.e, 5, "n2", 100);
    s_clear (&node.rec);
    node.rec.fail = -1;
    election_heard_leader (node.e, 6, "n3", 110);
    election_saw_epoch (node.e, 7, 120);
    election_vote (node.e, 8, "n3", false, 130);
    TRACE_IS (&node.rec, "persist!(6,) persist!(7,) persist!(8,)");
    cr_assert_eq (s_warns (&node.rec), 3);
    cr_assert_eq (election_epoch (node.e), 5);
    cr_assert_str_eq (election_leader (node.e), "n2");
    s_stop (&node);

    //  A candidate stays a candidate of its own epoch.
    s_start (&node, 3, 1, 3, "", 0);
    int64_t now = election_deadline (node.e);
    election_tick (node.e, now, 3, 10);
    s_clear (&node.rec);
    node.rec.fail = -1;
    election_saw_epoch (node.e, 9, now + 1);
    TRACE_IS (&node.rec, "persist!(9,)");
    cr_assert_eq (election_role (node.e), ELECTION_CANDIDATE);
    cr_assert_eq (election_epoch (node.e), 4);
    s_stop (&node);
}

Test (election, leader_stands_down_even_without_persisting)
{
    s_node_t node;
    int64_t now = s_make_leader (&node, 3, 3);
    node.rec.fail = -1;
    election_saw_epoch (node.e, 7, now + 1);
    TRACE_IS (&node.rec, "persist!(7,) follower(4,)");
    cr_assert_eq (s_logged (&node.rec, ELECTION_WARN, "steps down"), 1);
    cr_assert_eq (election_role (node.e), ELECTION_FOLLOWER);
    cr_assert_eq (election_epoch (node.e), 4, "the higher epoch was not adopted");
    cr_assert_str_eq (election_voted_for (node.e), "n1");
    s_deadline_from (&node, now + 1);
    s_stop (&node);
}

//  ---------------------------------------------------------------------
//  Timers and role reports

Test (election, timer_resets)
{
    s_node_t node;
    s_start (&node, 3, 1, 5, "", 0);
    s_deadline_from (&node, 0);
    //  Hearing the master resets it, each time.
    election_heard_leader (node.e, 5, "n2", 100);
    s_deadline_from (&node, 100);
    election_heard_leader (node.e, 5, "n2", 200);
    s_deadline_from (&node, 200);
    //  A refused or ignored request does not.
    int64_t deadline = election_deadline (node.e);
    uint64_t epoch = 0;
    cr_assert_not (s_ask (&node, 4, "n3", 5, 10, 5, 10, 250, &epoch));
    cr_assert_not (s_ask (&node, 6, "n3", 5, 10, 5, 10, 260, &epoch));
    cr_assert_eq (election_deadline (node.e), deadline);
    //  Nothing heard: the timer fires at its deadline, not before.
    election_tick (node.e, deadline - 1, 5, 10);
    cr_assert_eq (election_role (node.e), ELECTION_FOLLOWER);
    //  A granted vote resets it (the voter gives the candidate time).
    int64_t now = deadline - 1 < 200 + MIN_MS ? 200 + MIN_MS : deadline - 1;
    cr_assert (s_ask (&node, 6, "n3", 5, 10, 5, 10, now, &epoch));
    s_deadline_from (&node, now);
    //  A candidate whose timeout passes runs again at the next epoch.
    now = election_deadline (node.e);
    election_tick (node.e, now, 5, 10);
    cr_assert_eq (election_epoch (node.e), 7);
    s_deadline_from (&node, now);
    s_clear (&node.rec);
    now = election_deadline (node.e);
    election_tick (node.e, now, 5, 10);
    TRACE_IS (&node.rec, "persist(8,n1) candidate(8,) ask(8,5,10)");
    s_deadline_from (&node, now);
    s_stop (&node);
}

Test (election, role_reported_once_per_change)
{
    s_node_t node;
    s_start (&node, 3, 1, 5, "", 0);
    for (int64_t now = 10; now < 100; now += 10)
        election_heard_leader (node.e, 5, "n2", now);
    TRACE_IS (&node.rec, "follower(5,n2)");
    s_clear (&node.rec);
    election_saw_epoch (node.e, 5, 100);
    for (int64_t now = 110; now < 200; now += 10)
        election_heard_leader (node.e, 6, "n2", now);
    TRACE_IS (&node.rec, "persist(6,) follower(6,n2)");
    s_clear (&node.rec);

    //  Candidate, then a repeated election: one report per epoch.
    int64_t now = election_deadline (node.e);
    election_tick (node.e, now, 6, 1);
    election_tick (node.e, now, 6, 1);
    now = election_deadline (node.e);
    election_tick (node.e, now, 6, 1);
    TRACE_IS (&node.rec, "persist(7,n1) candidate(7,) ask(7,6,1) "
                         "persist(8,n1) candidate(8,) ask(8,6,1)");
    s_clear (&node.rec);
    election_vote (node.e, 8, "n2", true, now);
    election_vote (node.e, 8, "n3", true, now);
    election_heard_leader (node.e, 8, "n1", now);
    election_saw_epoch (node.e, 8, now);
    TRACE_IS (&node.rec, "leader(8,n1)");
    s_stop (&node);
}
