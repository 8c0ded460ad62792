/*  test_peers.c - the master's rules for its secondaries: who may join
    (membership, keys, one connection per id), where histories agree, the
    shorter-log rule, what counts toward w, FETCH ranges, health and quorum.
    Time is explicit; the log is a memory store built record by record.
*/
#include <criterion/criterion.h>

#include "peers.h"
#include "record.h"
#include "rlog.h"
#include "store.h"

#include <stdio.h>
#include <string.h>

#define LINES_MAX 128

typedef struct {
    size_t count;
    peers_level_t level[LINES_MAX];
    char text[LINES_MAX][512];
} s_lines_t;

static void s_capture (void *arg, peers_level_t level, const char *text)
{
    s_lines_t *lines = (s_lines_t *)arg;
    cr_assert_lt (lines->count, LINES_MAX, "too many log lines");
    lines->level[lines->count] = level;
    snprintf (lines->text[lines->count], sizeof lines->text[0], "%s", text);
    lines->count++;
}

//  Lines logged that contain NEEDLE (at LEVEL, or any level if -1).
static size_t s_seen (const s_lines_t *lines, int level, const char *needle)
{
    size_t n = 0;
    for (size_t i = 0; i < lines->count; i++)
        if ((level < 0 || (int)lines->level[i] == level) && strstr (lines->text[i], needle))
            n++;
    return n;
}

static const uint8_t s_history[PEERS_HISTORY_SIZE] = {0x9c, 0x01, 0x22, 0x33, 4,  5,  6,  7,
                                                      8,    9,    10,   11,   12, 13, 14, 15};
static const uint8_t s_foreign[PEERS_HISTORY_SIZE] = {0x3f, 0x2a, 0x10, 0x20, 1, 1, 1, 1,
                                                      1,    1,    1,    1,    1, 1, 1, 1};

static const char *s_key1 = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
static const char *s_key2 = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
static const char *s_key3 = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

static const uint8_t s_route_a[5] = {0, 0x80, 0, 0, 0x29};
static const uint8_t s_route_b[5] = {0, 0x80, 0, 0, 0x2a};
static const uint8_t s_route_c[5] = {0, 0x80, 0, 0, 0x2b};

typedef struct {
    peers_config_t config;
    peers_t *peers;
    store_t *store;
    peers_log_t log;
    s_lines_t lines;
} s_fixture_t;

//  A master of SECONDARIES members s1..sN, quorum QUORUM (0: default).
static void s_setup (s_fixture_t *f, size_t secondaries, uint32_t quorum, bool curve)
{
    memset (f, 0, sizeof *f);
    const char *keys[] = {s_key1, s_key2, s_key3};
    for (size_t i = 0; i < secondaries; i++) {
        snprintf (f->config.members[i].id, sizeof f->config.members[i].id, "s%zu", i + 1);
        if (curve)
            snprintf (f->config.members[i].key, sizeof f->config.members[i].key, "%s", keys[i]);
    }
    f->config.count = secondaries;
    f->config.quorum = quorum;
    f->config.health =
        (health_config_t){.suspect_ms = 300, .unhealthy_ms = 1000, .recover_ms = 2000};
    f->config.heartbeat_ms = 100;
    f->config.fetch_max = 10;
    f->config.curve = curve;
    f->store = store_mem_new ();
    cr_assert_not_null (f->store);
    f->log = (peers_log_t){.history = s_history, .epoch = 3, .store = f->store};
    f->peers = peers_new (&f->config, s_capture, &f->lines);
    cr_assert_not_null (f->peers);
}

static void s_teardown (s_fixture_t *f)
{
    peers_destroy (&f->peers);
    cr_assert_null (f->peers);
    store_destroy (&f->store);
}

//  Append one record of COUNT entries in EPOCH; returns its CRC.
static uint32_t s_append (s_fixture_t *f, uint64_t epoch, uint32_t count)
{
    uint8_t entries[64 * (1 + ENTRIES_OVERHEAD)];
    cr_assert_leq (count, 64);
    size_t size = 0;
    for (uint32_t i = 0; i < count; i++)
        size += entries_put (entries + size, i ? 1 : 0, "x", 1);
    const uint8_t client[1] = {'c'};
    uint8_t record[sizeof entries + RECORD_HEADER + sizeof client];
    uint64_t first = store_head (f->store) + 1;
    size_t n =
        record_write (record, epoch, first, count, 0, client, sizeof client, first, entries, size);
    cr_assert_eq (n, record_size (sizeof client, size));
    cr_assert_eq (store_append (f->store, record, n), 0);
    record_t r;
    cr_assert_eq (store_record (f->store, first, &r), 0);
    return r.crc;
}

static peers_origin_t s_from (const uint8_t *route, const char *key)
{
    return (peers_origin_t){.route = route, .route_size = 5, .key = key};
}

static peers_hello_t s_hello (const char *id, const uint8_t *history, uint64_t last_epoch,
                              uint64_t last_seq, uint32_t last_crc)
{
    return (peers_hello_t){.node_id = id,
                           .history = history,
                           .last_epoch = last_epoch,
                           .last_seq = last_seq,
                           .last_crc = last_crc,
                           .epoch = last_epoch};
}

static void s_do_hello (s_fixture_t *f, const uint8_t *route, const char *key, peers_hello_t hello,
                        int64_t now, peers_decision_t *out)
{
    peers_origin_t from = s_from (route, key);
    peers_hello (f->peers, &from, &hello, &f->log, now, out);
}

//  An empty node joins as ID on ROUTE: WELCOME.
static void s_join (s_fixture_t *f, const char *id, const uint8_t *route, const char *key,
                    int64_t now)
{
    peers_decision_t d;
    s_do_hello (f, route, key, s_hello (id, NULL, 0, 0, 0), now, &d);
    cr_assert_eq (d.verdict, PEERS_ACCEPT, "%s: %s", id, d.text);
}

static peers_verdict_t s_ack (s_fixture_t *f, const uint8_t *route, const char *key, uint64_t acked,
                              int64_t now, peers_decision_t *out)
{
    peers_origin_t from = s_from (route, key);
    peers_ack (f->peers, &from, acked, &f->log, now, out);
    return out->verdict;
}

static peers_verdict_t s_fetch (s_fixture_t *f, const uint8_t *route, uint64_t first,
                                uint64_t count, int64_t now, peers_decision_t *out)
{
    peers_origin_t from = s_from (route, NULL);
    peers_fetch (f->peers, &from, first, count, &f->log, now, out);
    return out->verdict;
}

static size_t s_held (s_fixture_t *f, uint64_t *held)
{
    return peers_held (f->peers, held, PEERS_MAX);
}

//  D is a refusal with CODE whose text contains NEEDLE.
static void s_refused (const peers_decision_t *d, int code, const char *needle)
{
    cr_assert_eq (d->verdict, PEERS_REFUSE, "%s", d->text);
    cr_assert_eq (d->code, code, "%s", d->text);
    cr_assert (strstr (d->text, needle), "'%s' lacks '%s'", d->text, needle);
}

//  ---------------------------------------------------------------------
//  Configuration

Test (peers, config_checked)
{
    peers_config_t config = {0};
    config.heartbeat_ms = 100;
    config.count = PEERS_MAX + 1;
    cr_assert_null (peers_new (&config, NULL, NULL));
    config.count = 2;
    snprintf (config.members[0].id, sizeof config.members[0].id, "s1");
    snprintf (config.members[1].id, sizeof config.members[1].id, "s1");
    cr_assert_null (peers_new (&config, NULL, NULL), "duplicate ids");
    config.members[1].id[0] = 0;
    cr_assert_null (peers_new (&config, NULL, NULL), "empty id");
    snprintf (config.members[1].id, sizeof config.members[1].id, "s2");
    peers_t *peers = peers_new (&config, NULL, NULL);
    cr_assert_not_null (peers);
    cr_assert_eq (peers_count (peers), 2);
    cr_assert_eq (peers_quorum (peers), 2, "default quorum: a majority of 3");
    cr_assert_eq (peers_healthy (peers), 1);
    peers_destroy (&peers);
    peers_destroy (&peers);
}

//  ---------------------------------------------------------------------
//  HELLO: membership, keys, one connection per id

Test (peers, unknown_id_refused)
{
    s_fixture_t f;
    s_setup (&f, 2, 1, false);
    peers_decision_t d;
    s_do_hello (&f, s_route_a, NULL, s_hello ("s9", NULL, 0, 0, 0), 0, &d);
    s_refused (&d, RLOG_REFUSED, "unknown node id 's9': not a configured secondary");
    cr_assert_eq (s_seen (&f.lines, PEERS_WARN, "refused HELLO: unknown node id 's9'"), 1);
    //  Repeats within a second are refused but not logged again.
    s_do_hello (&f, s_route_a, NULL, s_hello ("s9", NULL, 0, 0, 0), 500, &d);
    cr_assert_eq (d.verdict, PEERS_REFUSE);
    cr_assert_eq (s_seen (&f.lines, -1, "unknown node id"), 1);
    s_do_hello (&f, s_route_a, NULL, s_hello ("s9", NULL, 0, 0, 0), 1000, &d);
    cr_assert_eq (s_seen (&f.lines, -1, "unknown node id"), 2);
    //  No id at all.
    s_do_hello (&f, s_route_a, NULL, s_hello (NULL, NULL, 0, 0, 0), 2000, &d);
    s_refused (&d, RLOG_REFUSED, "unknown node id '': not a configured secondary");
    //  An unknown id takes no slot: both members still join.
    s_join (&f, "s1", s_route_b, NULL, 2000);
    s_join (&f, "s2", s_route_c, NULL, 2000);
    for (size_t i = 0; i < 2; i++) {
        peers_member_status_t st;
        peers_member (f.peers, i, 0, 2000, &st);
        cr_assert (st.joined);
    }
    s_teardown (&f);
}

Test (peers, hello_key_must_be_the_ids_key)
{
    s_fixture_t f;
    s_setup (&f, 2, 1, true);
    peers_decision_t d;
    //  s2's key (an allowed key) posing as s1; no key at all.
    s_do_hello (&f, s_route_a, s_key2, s_hello ("s1", NULL, 0, 0, 0), 0, &d);
    s_refused (&d, RLOG_REFUSED, "not authenticated as 's1'");
    cr_assert_eq (s_seen (&f.lines, PEERS_WARN, "not the one configured for 's1'"), 1);
    s_do_hello (&f, s_route_a, NULL, s_hello ("s1", NULL, 0, 0, 0), 100, &d);
    s_refused (&d, RLOG_REFUSED, "not authenticated as 's1'");
    peers_member_status_t st;
    peers_member (f.peers, 0, 0, 100, &st);
    cr_assert_not (st.joined);
    //  The right key joins.
    s_join (&f, "s1", s_route_a, s_key1, 200);
    s_join (&f, "s2", s_route_b, s_key2, 200);
    s_teardown (&f);
}

Test (peers, ack_and_fetch_key_checked)
{
    s_fixture_t f;
    s_setup (&f, 2, 1, true);
    s_append (&f, 1, 5);
    s_join (&f, "s1", s_route_a, s_key1, 0);
    peers_decision_t d;
    uint64_t held[PEERS_MAX];
    s_ack (&f, s_route_a, s_key2, 5, 10, &d);
    s_refused (&d, RLOG_REFUSED, "not authenticated as 's1'");
    cr_assert_eq (s_ack (&f, s_route_a, NULL, 5, 20, &d), PEERS_REFUSE);
    cr_assert_eq (s_held (&f, held), 0, "an unauthenticated ACK counts nothing");
    peers_origin_t from = s_from (s_route_a, s_key3);
    peers_fetch (f.peers, &from, 1, 5, &f.log, 30, &d);
    s_refused (&d, RLOG_REFUSED, "not authenticated as 's1'");
    cr_assert_geq (s_seen (&f.lines, PEERS_WARN, "not authenticated as 's1'"), 1);
    //  With its own key.
    cr_assert_eq (s_ack (&f, s_route_a, s_key1, 5, 40, &d), PEERS_ACCEPT);
    cr_assert_eq (s_held (&f, held), 1);
    cr_assert_eq (held[0], 5);
    from.key = s_key1;
    peers_fetch (f.peers, &from, 1, 5, &f.log, 50, &d);
    cr_assert_eq (d.verdict, PEERS_ACCEPT);
    s_teardown (&f);
}

Test (peers, id_in_use_on_another_live_route)
{
    s_fixture_t f;
    s_setup (&f, 2, 1, false);
    uint32_t crc5 = s_append (&f, 1, 5);
    s_join (&f, "s1", s_route_a, NULL, 0);
    peers_decision_t d;
    cr_assert_eq (s_ack (&f, s_route_a, NULL, 5, 100, &d), PEERS_ACCEPT);
    //  A second node with id s1, within 2 heartbeats of the first's ACK.
    s_do_hello (&f, s_route_b, NULL, s_hello ("s1", NULL, 0, 0, 0), 300, &d);
    s_refused (&d, RLOG_REFUSED, "node id 's1' is in use by another connection");
    cr_assert_eq (s_seen (&f.lines, PEERS_WARN, "node id 's1' is in use by another connection"), 1);
    //  The first keeps its place and its ACKs count.
    cr_assert_eq (s_ack (&f, s_route_a, NULL, 5, 301, &d), PEERS_ACCEPT);
    uint64_t held[PEERS_MAX];
    cr_assert_eq (s_held (&f, held), 1);
    //  The same HELLO again on its own route is fine (re-WELCOME).
    s_do_hello (&f, s_route_a, NULL, s_hello ("s1", s_history, 1, 5, crc5), 302, &d);
    cr_assert_eq (d.verdict, PEERS_ACCEPT, "%s", d.text);
    //  Once the first has been silent for over 2 heartbeats, the id is free:
    //  the new connection is welcomed and the old one is no longer s1.
    s_do_hello (&f, s_route_b, NULL, s_hello ("s1", NULL, 0, 0, 0), 503, &d);
    cr_assert_eq (d.verdict, PEERS_ACCEPT, "%s", d.text);
    s_ack (&f, s_route_a, NULL, 5, 504, &d);
    s_refused (&d, RLOG_REFUSED, "unknown secondary: send HELLO first");
    cr_assert_eq (s_ack (&f, s_route_b, NULL, 5, 505, &d), PEERS_ACCEPT);
    s_teardown (&f);
}

//  ---------------------------------------------------------------------
//  HELLO: histories

Test (peers, empty_node_welcomed_from_zero)
{
    s_fixture_t f;
    s_setup (&f, 2, 1, false);
    s_append (&f, 1, 5);
    peers_decision_t d;
    s_do_hello (&f, s_route_a, NULL, s_hello ("s1", NULL, 0, 0, 0), 0, &d);
    cr_assert_eq (d.verdict, PEERS_ACCEPT);
    cr_assert_eq (d.truncate_to, 0);
    cr_assert_eq (d.at_epoch, 0);
    cr_assert_eq (d.at_crc, 0);
    cr_assert_eq (s_seen (&f.lines, PEERS_INFO, "secondary 's1' joined empty"), 1);
    //  A node that holds a history but no entry has nothing to lose either.
    s_do_hello (&f, s_route_b, NULL, s_hello ("s2", s_foreign, 0, 0, 0), 0, &d);
    cr_assert_eq (d.verdict, PEERS_ACCEPT);
    cr_assert_eq (d.truncate_to, 0);
    s_teardown (&f);
}

Test (peers, other_history_refused_and_never_counted)
{
    s_fixture_t f;
    s_setup (&f, 2, 2, false);
    s_append (&f, 1, 60);
    peers_decision_t d;
    //  More entries and a higher epoch than ours: still another history.
    s_do_hello (&f, s_route_a, NULL, s_hello ("s2", s_foreign, 9, 50, 0), 0, &d);
    s_refused (&d, RLOG_OTHER_HISTORY,
               "secondary 's2' holds another history (3f2a1020..., 50 entries) than this "
               "master's (9c012233...)");
    cr_assert (strstr (d.text, "--discard-foreign-log"), "%s", d.text);
    cr_assert_eq (s_seen (&f.lines, PEERS_WARN, "holds another history"), 1);
    s_do_hello (&f, s_route_a, NULL, s_hello ("s2", s_foreign, 9, 50, 0), 999, &d);
    cr_assert_eq (d.code, RLOG_OTHER_HISTORY);
    cr_assert_eq (s_seen (&f.lines, -1, "holds another history"), 1, "rate-limited");
    s_do_hello (&f, s_route_a, NULL, s_hello ("s2", s_foreign, 9, 50, 0), 1000, &d);
    cr_assert_eq (s_seen (&f.lines, -1, "holds another history"), 2);
    //  Not counted toward w, not healthy, its ACKs refused.
    uint64_t held[PEERS_MAX];
    cr_assert_eq (s_ack (&f, s_route_a, NULL, 50, 1001, &d), PEERS_REFUSE);
    cr_assert_eq (s_held (&f, held), 0);
    cr_assert_eq (peers_healthy (f.peers), 1);
    cr_assert (peers_read_only (f.peers, NULL, 0));
    //  Entries without any history are not ours either.
    s_do_hello (&f, s_route_b, NULL, s_hello ("s1", NULL, 1, 5, 0), 0, &d);
    cr_assert_eq (d.code, RLOG_OTHER_HISTORY);
    cr_assert (strstr (d.text, "(none, 5 entries)"), "%s", d.text);
    s_teardown (&f);
}

Test (peers, welcomed_member_refused_later_stops_counting)
{
    s_fixture_t f;
    s_setup (&f, 1, 2, false);
    s_append (&f, 1, 5);
    s_join (&f, "s1", s_route_a, NULL, 0);
    peers_decision_t d;
    s_ack (&f, s_route_a, NULL, 5, 10, &d);
    cr_assert_not (peers_read_only (f.peers, NULL, 0));
    //  The same connection now claims another history.
    s_do_hello (&f, s_route_a, NULL, s_hello ("s1", s_foreign, 1, 5, 0), 20, &d);
    cr_assert_eq (d.code, RLOG_OTHER_HISTORY);
    uint64_t held[PEERS_MAX];
    cr_assert_eq (s_held (&f, held), 0);
    cr_assert_eq (peers_healthy (f.peers), 1);
    cr_assert (peers_read_only (f.peers, NULL, 0));
    cr_assert_eq (s_ack (&f, s_route_a, NULL, 5, 30, &d), PEERS_REFUSE);
    s_teardown (&f);
}

Test (peers, divergent_tail_truncated_at_agreement)
{
    s_fixture_t f;
    s_setup (&f, 2, 1, false);
    s_append (&f, 1, 3);                 //  1..3
    uint32_t crc5 = s_append (&f, 1, 2); //  4..5
    s_append (&f, 3, 3);                 //  6..8, epoch 3
    peers_decision_t d;
    //  It holds 1..9, the tail from an epoch-2 master this one never saw.
    s_do_hello (&f, s_route_a, NULL, s_hello ("s1", s_history, 2, 9, 0x1234), 0, &d);
    cr_assert_eq (d.verdict, PEERS_ACCEPT, "%s", d.text);
    cr_assert_eq (d.truncate_to, 5);
    cr_assert_eq (d.at_epoch, 1);
    cr_assert_eq (d.at_crc, crc5);
    cr_assert_eq (s_seen (&f.lines, PEERS_WARN, "only 1..5 match"), 1);
    cr_assert_eq (s_seen (&f.lines, PEERS_INFO, "secondary 's1' joined: holds 5 entries"), 1);
    //  Its last entry falls inside our first record: nothing in common.
    s_do_hello (&f, s_route_b, NULL, s_hello ("s2", s_history, 1, 2, 0x1234), 0, &d);
    cr_assert_eq (d.verdict, PEERS_ACCEPT, "%s", d.text);
    cr_assert_eq (d.truncate_to, 0);
    cr_assert_eq (d.at_epoch, 0);
    cr_assert_eq (d.at_crc, 0);
    s_teardown (&f);
}

Test (peers, agreement_point_crc_checked)
{
    s_fixture_t f;
    s_setup (&f, 1, 1, false);
    s_append (&f, 1, 3);
    uint32_t crc5 = s_append (&f, 1, 2);
    s_append (&f, 3, 1);
    peers_decision_t d;
    s_do_hello (&f, s_route_a, NULL, s_hello ("s1", s_history, 1, 5, crc5 ^ 1), 0, &d);
    s_refused (&d, RLOG_OTHER_HISTORY, "history mismatch at seq 5");
    cr_assert_eq (s_seen (&f.lines, PEERS_WARN, "history mismatch at seq 5"), 1);
    uint64_t held[PEERS_MAX];
    cr_assert_eq (s_held (&f, held), 0);
    //  The same entry: a prefix of ours, nothing to cut.
    s_do_hello (&f, s_route_a, NULL, s_hello ("s1", s_history, 1, 5, crc5), 1, &d);
    cr_assert_eq (d.verdict, PEERS_ACCEPT, "%s", d.text);
    cr_assert_eq (d.truncate_to, 5);
    cr_assert_eq (d.at_epoch, 1);
    cr_assert_eq (d.at_crc, crc5);
    s_teardown (&f);
}

//  ---------------------------------------------------------------------
//  The shorter-log rule

Test (peers, shorter_log_read_only_until_an_agreeing_hello)
{
    s_fixture_t f;
    s_setup (&f, 2, 1, false);
    uint32_t crc5 = s_append (&f, 1, 5);
    cr_assert_not (peers_read_only (f.peers, NULL, 0));
    peers_decision_t d;
    s_do_hello (&f, s_route_a, NULL, s_hello ("s1", s_history, 1, 8, 0), 0, &d);
    cr_assert_eq (d.verdict, PEERS_REFUSE);
    cr_assert_eq (d.code, RLOG_REFUSED);
    const char *reason = "log shorter than secondary 's1' (5 vs 8 entries): restore the data "
                         "dir or start with --accept-shorter-log";
    cr_assert_str_eq (d.text, reason);
    char text[256];
    cr_assert (peers_read_only (f.peers, text, sizeof text));
    cr_assert_str_eq (text, reason);
    cr_assert_eq (s_seen (&f.lines, PEERS_ERROR, "refusing to serve as master: log shorter"), 1);
    cr_assert_eq (s_seen (&f.lines, PEERS_WARN, "read-only (appends refused): log shorter"), 1);
    //  Another member agreeing does not clear s1's claim.
    s_join (&f, "s2", s_route_b, NULL, 10);
    cr_assert (peers_read_only (f.peers, NULL, 0));
    //  s1 comes back agreeing (its data dir restored).
    s_do_hello (&f, s_route_a, NULL, s_hello ("s1", s_history, 1, 5, crc5), 20, &d);
    cr_assert_eq (d.verdict, PEERS_ACCEPT, "%s", d.text);
    cr_assert_not (peers_read_only (f.peers, text, sizeof text));
    cr_assert_str_eq (text, "");
    cr_assert_eq (s_seen (&f.lines, PEERS_INFO, "secondary 's1' now agrees with this log"), 1);
    cr_assert_eq (s_seen (&f.lines, PEERS_WARN, "read-write again"), 1);
    s_teardown (&f);
}

Test (peers, shorter_log_accepted_when_told)
{
    s_fixture_t f;
    memset (&f, 0, sizeof f);
    s_setup (&f, 1, 1, false);
    peers_destroy (&f.peers);
    f.config.accept_shorter = true;
    f.peers = peers_new (&f.config, s_capture, &f.lines);
    uint32_t crc5 = s_append (&f, 1, 5);
    peers_decision_t d;
    s_do_hello (&f, s_route_a, NULL, s_hello ("s1", s_history, 1, 8, 0), 0, &d);
    cr_assert_eq (d.verdict, PEERS_ACCEPT, "%s", d.text);
    cr_assert_eq (d.truncate_to, 5);
    cr_assert_eq (d.at_epoch, 1);
    cr_assert_eq (d.at_crc, crc5);
    cr_assert_not (peers_read_only (f.peers, NULL, 0));
    s_teardown (&f);
}

Test (peers, forged_shorter_claim_cleared_by_real_acks)
{
    s_fixture_t f;
    s_setup (&f, 2, 1, false);
    s_append (&f, 1, 5);
    s_join (&f, "s1", s_route_a, NULL, 0);
    peers_decision_t d;
    s_ack (&f, s_route_a, NULL, 5, 0, &d);
    //  The real s1 is quiet for a moment; a forger claims s1 holds more.
    s_do_hello (&f, s_route_b, NULL, s_hello ("s1", s_history, 1, 900, 0), 250, &d);
    s_refused (&d, RLOG_REFUSED, "log shorter than secondary 's1' (5 vs 900 entries)");
    cr_assert (peers_read_only (f.peers, NULL, 0));
    //  The forger's route is nobody.
    cr_assert_eq (s_ack (&f, s_route_b, NULL, 5, 260, &d), PEERS_REFUSE);
    cr_assert (peers_read_only (f.peers, NULL, 0));
    //  The real s1's connection is still bound: its next ACK shows it agrees.
    cr_assert_eq (s_ack (&f, s_route_a, NULL, 5, 270, &d), PEERS_ACCEPT);
    cr_assert_not (peers_read_only (f.peers, NULL, 0));
    cr_assert_eq (s_seen (&f.lines, PEERS_INFO, "ACK from its welcomed connection"), 1);
    cr_assert_eq (s_seen (&f.lines, PEERS_WARN, "read-write again"), 1);
    uint64_t held[PEERS_MAX];
    cr_assert_eq (s_held (&f, held), 1);
    cr_assert_eq (held[0], 5);
    s_teardown (&f);
}

Test (peers, genuine_shorter_claim_not_cleared_by_acks)
{
    s_fixture_t f;
    s_setup (&f, 2, 1, false);
    s_append (&f, 1, 5);
    s_join (&f, "s1", s_route_a, NULL, 0);
    peers_decision_t d;
    s_ack (&f, s_route_a, NULL, 5, 0, &d);
    //  Its own connection claims more: that ends its welcome.
    s_do_hello (&f, s_route_a, NULL, s_hello ("s1", s_history, 1, 8, 0), 10, &d);
    s_refused (&d, RLOG_REFUSED, "log shorter than secondary 's1' (5 vs 8 entries)");
    s_ack (&f, s_route_a, NULL, 5, 20, &d);
    s_refused (&d, RLOG_REFUSED, "unknown secondary: send HELLO first");
    cr_assert (peers_read_only (f.peers, NULL, 0));
    uint64_t held[PEERS_MAX];
    cr_assert_eq (s_held (&f, held), 0);
    s_teardown (&f);
}

//  ---------------------------------------------------------------------
//  ACK and FETCH

Test (peers, ack_counts_from_the_first_ack_after_welcome)
{
    s_fixture_t f;
    s_setup (&f, 2, 1, false);
    uint32_t crc5 = s_append (&f, 1, 5);
    peers_decision_t d;
    uint64_t held[PEERS_MAX];
    s_do_hello (&f, s_route_a, NULL, s_hello ("s1", s_history, 1, 5, crc5), 0, &d);
    cr_assert_eq (d.verdict, PEERS_ACCEPT);
    cr_assert_eq (s_held (&f, held), 0, "a HELLO counts nothing");
    peers_member_status_t st;
    peers_member (f.peers, 0, 5, 0, &st);
    cr_assert_eq (st.acked, 0);
    cr_assert_eq (s_ack (&f, s_route_a, NULL, 3, 10, &d), PEERS_ACCEPT);
    cr_assert_eq (s_held (&f, held), 1);
    cr_assert_eq (held[0], 3);
    //  A new WELCOME starts over.
    s_do_hello (&f, s_route_a, NULL, s_hello ("s1", s_history, 1, 5, crc5), 20, &d);
    cr_assert_eq (d.verdict, PEERS_ACCEPT);
    cr_assert_eq (s_held (&f, held), 0);
    cr_assert_eq (s_ack (&f, s_route_a, NULL, 5, 30, &d), PEERS_ACCEPT);
    cr_assert_eq (s_held (&f, held), 1);
    cr_assert_eq (held[0], 5);
    s_teardown (&f);
}

Test (peers, ack_from_unknown_route_refused)
{
    s_fixture_t f;
    s_setup (&f, 2, 1, false);
    s_append (&f, 1, 5);
    peers_decision_t d;
    s_ack (&f, s_route_a, NULL, 5, 0, &d);
    s_refused (&d, RLOG_REFUSED, "unknown secondary: send HELLO first");
    s_fetch (&f, s_route_a, 1, 5, 0, &d);
    s_refused (&d, RLOG_REFUSED, "unknown secondary: send HELLO first");
    cr_assert_eq (s_seen (&f.lines, PEERS_WARN, "send HELLO first"), 1, "rate-limited");
    uint64_t held[PEERS_MAX];
    cr_assert_eq (s_held (&f, held), 0);
    s_teardown (&f);
}

Test (peers, ack_beyond_head_ignored)
{
    s_fixture_t f;
    s_setup (&f, 2, 1, false);
    s_append (&f, 1, 5);
    s_join (&f, "s1", s_route_a, NULL, 0);
    peers_decision_t d;
    uint64_t held[PEERS_MAX];
    cr_assert_eq (s_ack (&f, s_route_a, NULL, 4, 0, &d), PEERS_ACCEPT);
    cr_assert_eq (s_ack (&f, s_route_a, NULL, 99, 10, &d), PEERS_IGNORE);
    cr_assert_eq (s_held (&f, held), 1);
    cr_assert_eq (held[0], 4, "the violation changed nothing");
    cr_assert_eq (
        s_seen (&f.lines, PEERS_WARN, "protocol violation: 's1' acked 99 beyond head 5 (ignored)"),
        1);
    cr_assert_eq (s_ack (&f, s_route_a, NULL, 99, 20, &d), PEERS_IGNORE);
    cr_assert_eq (s_seen (&f.lines, -1, "protocol violation"), 1, "rate-limited");
    cr_assert_eq (s_ack (&f, s_route_a, NULL, 99, 1010, &d), PEERS_IGNORE);
    cr_assert_eq (s_seen (&f.lines, -1, "protocol violation"), 2);
    //  The head itself is fine.
    cr_assert_eq (s_ack (&f, s_route_a, NULL, 5, 1020, &d), PEERS_ACCEPT);
    cr_assert_eq (s_held (&f, held), 1);
    cr_assert_eq (held[0], 5);
    s_teardown (&f);
}

Test (peers, fetch_ranges)
{
    s_fixture_t f;
    s_setup (&f, 1, 1, false);
    for (int i = 0; i < 4; i++)
        s_append (&f, 1, 5); //  head 20
    s_join (&f, "s1", s_route_a, NULL, 0);
    peers_decision_t d;
    struct {
        uint64_t first, count;
        peers_verdict_t verdict;
        uint64_t from, to;
    } cases[] = {
        {0, 5, PEERS_ACCEPT, 1, 5},             //  from 0 means 1
        {1, 1, PEERS_ACCEPT, 1, 1},             //
        {3, 100, PEERS_ACCEPT, 3, 12},          //  capped by fetch_max
        {15, 100, PEERS_ACCEPT, 15, 20},        //  capped by the head
        {20, 1, PEERS_ACCEPT, 20, 20},          //
        {18, UINT64_MAX, PEERS_ACCEPT, 18, 20}, //  no overflow
        {21, 1, PEERS_IGNORE, 0, 0},            //  beyond the head
        {5, 0, PEERS_IGNORE, 0, 0},             //  no credit
        {UINT64_MAX, UINT64_MAX, PEERS_IGNORE, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq (s_fetch (&f, s_route_a, cases[i].first, cases[i].count, 10, &d),
                      cases[i].verdict, "case %zu", i);
        if (cases[i].verdict == PEERS_ACCEPT) {
            cr_assert_eq (d.from, cases[i].from, "case %zu", i);
            cr_assert_eq (d.to, cases[i].to, "case %zu", i);
        }
    }
    s_teardown (&f);
}

//  ---------------------------------------------------------------------
//  Health and quorum

Test (peers, health_transitions_and_quorum_mode)
{
    s_fixture_t f;
    s_setup (&f, 2, 0, false); //  default quorum: 2 of 3
    s_append (&f, 1, 5);
    char text[256];
    cr_assert_eq (peers_quorum (f.peers), 2);
    cr_assert (peers_read_only (f.peers, text, sizeof text), "the master alone");
    cr_assert_str_eq (text, "1 of 3 nodes healthy, quorum needs 2");
    cr_assert_eq (s_seen (&f.lines, PEERS_WARN,
                          "read-only (appends refused): 1 of 3 nodes healthy, quorum is 2"),
                  1);
    s_join (&f, "s1", s_route_a, NULL, 0);
    cr_assert_eq (peers_healthy (f.peers), 2);
    cr_assert_not (peers_read_only (f.peers, NULL, 0));
    cr_assert_eq (
        s_seen (&f.lines, PEERS_WARN, "read-write again: 2 of 3 nodes healthy, quorum is 2"), 1);
    cr_assert_eq (s_seen (&f.lines, -1, "->"), 0, "joining is not a transition");
    peers_decision_t d;
    for (int64_t t = 100; t <= 1000; t += 100)
        s_ack (&f, s_route_a, NULL, 5, t, &d);
    peers_tick (f.peers, 1300);
    cr_assert_eq (peers_healthy (f.peers), 2);
    //  Silent over suspect_ms: Suspected, and the quorum is lost.
    peers_tick (f.peers, 1301);
    cr_assert_eq (peers_healthy (f.peers), 1);
    cr_assert (peers_read_only (f.peers, NULL, 0));
    cr_assert_eq (s_seen (&f.lines, PEERS_INFO,
                          "secondary 's1': healthy -> suspected (last heard 301 ms ago, acked 5)"),
                  1);
    cr_assert_eq (s_seen (&f.lines, PEERS_WARN, "read-only (appends refused)"), 2);
    peers_tick (f.peers, 1302);
    cr_assert_eq (s_seen (&f.lines, -1, "->"), 1, "a transition is logged once");
    //  Over unhealthy_ms: Unhealthy.
    peers_tick (f.peers, 2001);
    cr_assert_eq (s_seen (&f.lines, PEERS_INFO, "secondary 's1': suspected -> unhealthy"), 1);
    peers_member_status_t st;
    peers_member (f.peers, 0, 5, 2001, &st);
    cr_assert_eq (st.state, HEALTH_UNHEALTHY);
    cr_assert_eq (st.last_heard_ms, 1001);
    //  Heard again: Suspected until heard steadily for recover_ms.
    s_ack (&f, s_route_a, NULL, 5, 2100, &d);
    cr_assert_eq (s_seen (&f.lines, PEERS_INFO, "secondary 's1': unhealthy -> suspected"), 1);
    for (int64_t t = 2200; t < 4100; t += 100) {
        s_ack (&f, s_route_a, NULL, 5, t, &d);
        cr_assert (peers_read_only (f.peers, NULL, 0), "at %lld", (long long)t);
    }
    s_ack (&f, s_route_a, NULL, 5, 4100, &d);
    cr_assert_eq (peers_healthy (f.peers), 2);
    cr_assert_not (peers_read_only (f.peers, NULL, 0));
    cr_assert_eq (s_seen (&f.lines, PEERS_INFO, "secondary 's1': suspected -> healthy"), 1);
    cr_assert_eq (s_seen (&f.lines, PEERS_WARN, "read-write again: 2 of 3 nodes healthy"), 2);
    //  A suspected member heard again is Healthy at once.
    peers_tick (f.peers, 4401);
    cr_assert (peers_read_only (f.peers, NULL, 0));
    s_ack (&f, s_route_a, NULL, 5, 4500, &d);
    cr_assert_not (peers_read_only (f.peers, NULL, 0));
    s_teardown (&f);
}

Test (peers, held_lists_welcomed_acked_members)
{
    s_fixture_t f;
    s_setup (&f, 3, 1, false);
    s_append (&f, 1, 5);
    s_join (&f, "s1", s_route_a, NULL, 0);
    s_join (&f, "s2", s_route_b, NULL, 0);
    s_join (&f, "s3", s_route_c, NULL, 0);
    peers_decision_t d;
    s_ack (&f, s_route_a, NULL, 3, 10, &d);
    s_ack (&f, s_route_c, NULL, 5, 10, &d);
    uint64_t held[PEERS_MAX];
    size_t n = s_held (&f, held);
    cr_assert_eq (n, 2, "s2 has not acked");
    cr_assert ((held[0] == 3 && held[1] == 5) || (held[0] == 5 && held[1] == 3));
    cr_assert_eq (peers_held (f.peers, held, 1), 1, "bounded by MAX");
    s_ack (&f, s_route_b, NULL, 0, 20, &d);
    cr_assert_eq (s_held (&f, held), 3, "an ACK of 0 still counts as an answer");
    //  Unhealthy members still hold what they acked.
    peers_tick (f.peers, 5000);
    cr_assert_eq (peers_healthy (f.peers), 1);
    cr_assert_eq (s_held (&f, held), 3);
    s_teardown (&f);
}

Test (peers, member_status)
{
    s_fixture_t f;
    s_setup (&f, 2, 1, false);
    s_append (&f, 1, 5);
    peers_member_status_t st;
    peers_member (f.peers, 1, 5, 0, &st);
    cr_assert_str_eq (st.id, "s2");
    cr_assert_eq (st.state, HEALTH_UNHEALTHY, "never joined");
    cr_assert_not (st.joined);
    cr_assert_eq (st.acked, 0);
    cr_assert_eq (st.last_heard_ms, -1);
    cr_assert_not (st.catching_up);

    s_join (&f, "s1", s_route_a, NULL, 1000);
    peers_decision_t d;
    s_ack (&f, s_route_a, NULL, 2, 1000, &d);
    peers_member (f.peers, 0, 5, 1050, &st);
    cr_assert_str_eq (st.id, "s1");
    cr_assert_eq (st.state, HEALTH_HEALTHY);
    cr_assert (st.joined);
    cr_assert_eq (st.acked, 2);
    cr_assert_eq (st.last_heard_ms, 50);
    cr_assert_not (st.catching_up, "behind but not fetching");
    s_fetch (&f, s_route_a, 3, 3, 1100, &d);
    peers_member (f.peers, 0, 5, 1399, &st);
    cr_assert (st.catching_up, "fetched within suspect_ms and behind");
    peers_member (f.peers, 0, 5, 1400, &st);
    cr_assert_not (st.catching_up, "no fetch for suspect_ms");
    s_fetch (&f, s_route_a, 3, 3, 1500, &d);
    s_ack (&f, s_route_a, NULL, 5, 1510, &d);
    peers_member (f.peers, 0, 5, 1520, &st);
    cr_assert_not (st.catching_up, "at the head");
    cr_assert_eq (st.acked, 5);
    s_teardown (&f);
}
