/*  test_follower.c - a secondary's replication state machine, driven with
    explicit time against a memory store and a sink that records every
    action (HELLO, ACK, FETCH, store, truncate, adopt) and log line.
*/
#include "follower.h"
#include "knobs.h"
#include "rlog.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAYLOAD ((size_t)1024)
#define ACTIONS_MAX 512
#define LOGS_MAX    64

typedef enum { A_HELLO, A_ACK, A_FETCH, A_STORE, A_TRUNCATE, A_ADOPT } kind_t;

typedef struct {
    kind_t kind;
    bool has_history;
    uint8_t history[FOLLOWER_HISTORY_SIZE];
    uint64_t epoch;
    uint64_t a; //  HELLO last_seq, ACK acked, FETCH from, STORE first, TRUNCATE last
    uint64_t b; //  HELLO last_epoch, FETCH count, STORE count
    uint32_t crc;
    char reason[32];
} action_t;

typedef struct {
    store_t *store;
    action_t actions[ACTIONS_MAX];
    size_t count;
    int fail_in; //  the FAIL_IN-th store from now fails (0: none)
    bool fail_truncate;
    char logs[LOGS_MAX][512];
    size_t nlogs;
} rec_t;

static rec_t *s_rec;
static follower_t *s_follower;
static follower_config_t s_config;

static const uint8_t s_history_a[FOLLOWER_HISTORY_SIZE] = "history-AAAAAAA";
static const uint8_t s_history_b[FOLLOWER_HISTORY_SIZE] = "history-BBBBBBB";
static const uint8_t s_client[16] = "client-id-000001";

//  ---------------------------------------------------------------------
//  The recording sink

static action_t *s_push (rec_t *rec, kind_t kind)
{
    cr_assert_lt (rec->count, ACTIONS_MAX);
    action_t *a = &rec->actions[rec->count++];
    memset (a, 0, sizeof *a);
    a->kind = kind;
    return a;
}

static int s_send_hello (void *arg, const uint8_t *history, uint64_t last_epoch, uint64_t last_seq,
                         uint32_t last_crc, uint64_t epoch)
{
    action_t *a = s_push ((rec_t *)arg, A_HELLO);
    a->has_history = history != NULL;
    if (history)
        memcpy (a->history, history, FOLLOWER_HISTORY_SIZE);
    a->b = last_epoch;
    a->a = last_seq;
    a->crc = last_crc;
    a->epoch = epoch;
    return 0;
}

static int s_send_ack (void *arg, uint64_t epoch, uint64_t acked)
{
    action_t *a = s_push ((rec_t *)arg, A_ACK);
    a->epoch = epoch;
    a->a = acked;
    return 0;
}

static int s_send_fetch (void *arg, uint64_t epoch, uint64_t from, uint64_t count)
{
    action_t *a = s_push ((rec_t *)arg, A_FETCH);
    a->epoch = epoch;
    a->a = from;
    a->b = count;
    return 0;
}

static int s_store (void *arg, const uint8_t *bytes, size_t size)
{
    rec_t *rec = (rec_t *)arg;
    record_t r;
    cr_assert_eq (record_check (bytes, size, MAX_PAYLOAD, &r), RECORD_OK);
    cr_assert_eq (r.size, size);
    cr_assert_eq (r.first_seq, store_head (rec->store) + 1, "stores only at next");
    action_t *a = s_push (rec, A_STORE);
    a->a = r.first_seq;
    a->b = r.count;
    if (rec->fail_in > 0 && --rec->fail_in == 0)
        return -1;
    return store_append (rec->store, bytes, size);
}

static int s_truncate (void *arg, uint64_t last, const char *reason)
{
    rec_t *rec = (rec_t *)arg;
    action_t *a = s_push (rec, A_TRUNCATE);
    a->a = last;
    snprintf (a->reason, sizeof a->reason, "%s", reason);
    if (rec->fail_truncate)
        return -1;
    return store_truncate (rec->store, last, NULL);
}

static int s_adopt (void *arg, const uint8_t *history, uint64_t epoch)
{
    action_t *a = s_push ((rec_t *)arg, A_ADOPT);
    a->has_history = history != NULL;
    if (history)
        memcpy (a->history, history, FOLLOWER_HISTORY_SIZE);
    a->epoch = epoch;
    return 0;
}

static void s_log (void *arg, follower_level_t level, const char *text)
{
    rec_t *rec = (rec_t *)arg;
    (void)level;
    if (rec->nlogs < LOGS_MAX)
        snprintf (rec->logs[rec->nlogs++], sizeof rec->logs[0], "%s", text);
}

//  ---------------------------------------------------------------------
//  Helpers

static bool s_logged (const char *text)
{
    for (size_t i = 0; i < s_rec->nlogs; i++)
        if (strstr (s_rec->logs[i], text))
            return true;
    return false;
}

static size_t s_count (kind_t kind)
{
    size_t n = 0;
    for (size_t i = 0; i < s_rec->count; i++)
        n += s_rec->actions[i].kind == kind;
    return n;
}

//  The last action of KIND (must exist).
static action_t *s_last (kind_t kind)
{
    for (size_t i = s_rec->count; i-- > 0;)
        if (s_rec->actions[i].kind == kind)
            return &s_rec->actions[i];
    cr_assert_fail ("no action of kind %d", (int)kind);
    return NULL;
}

static void s_clear_actions (void)
{
    s_rec->count = 0;
    s_rec->nlogs = 0;
}

//  Write a record of COUNT one-byte-ish entries from FIRST into OUT.
static size_t s_record (uint8_t *out, uint64_t epoch, uint64_t first, uint32_t count)
{
    uint8_t entries[4096];
    size_t size = 0;
    for (uint32_t i = 0; i < count; i++) {
        char payload[32];
        int n = snprintf (payload, sizeof payload, "entry %llu", (unsigned long long)(first + i));
        cr_assert_lt (size + (size_t)n + ENTRIES_OVERHEAD, sizeof entries);
        size += entries_put (entries + size, i == 0 ? 0 : 1, payload, (size_t)n);
    }
    return record_write (out, epoch, first, count, 0, s_client, sizeof s_client, 100 + first,
                         entries, size);
}

//  A run of records FIRST..LAST, PER entries each (the last may be short).
static size_t s_run (uint8_t *out, uint64_t epoch, uint64_t first, uint64_t last, uint32_t per)
{
    size_t size = 0;
    for (uint64_t s = first; s <= last; s += per) {
        uint32_t count = (uint32_t)(last - s + 1 < per ? last - s + 1 : per);
        size += s_record (out + size, epoch, s, count);
    }
    return size;
}

//  Deliver records FIRST..LAST (PER entries each) in one frame.
static void s_frame (bool fill, uint64_t epoch, uint64_t first, uint64_t last, uint32_t per,
                     int64_t now)
{
    static uint8_t buf[1 << 20];
    size_t size = s_run (buf, epoch, first, last, per);
    follower_records (s_follower, fill, epoch, buf, size, MAX_PAYLOAD, now);
}

//  Put records straight into the store (this node's log before start).
static void s_preload (uint64_t epoch, uint64_t first, uint64_t last, uint32_t per)
{
    uint8_t buf[1 << 16];
    size_t size = s_run (buf, epoch, first, last, per);
    for (size_t off = 0; off < size;) {
        record_t r;
        cr_assert_eq (record_check (buf + off, size - off, MAX_PAYLOAD, &r), RECORD_OK);
        cr_assert_eq (store_append (s_rec->store, r.bytes, r.size), 0);
        off += r.size;
    }
}

static void s_new_follower (const uint8_t *history)
{
    follower_sink_t sink = {s_rec,   s_send_hello, s_send_ack, s_send_fetch,
                            s_store, s_truncate,   s_adopt,    s_log};
    follower_destroy (&s_follower);
    s_follower = follower_new (&s_config, s_rec->store, history, &sink);
    cr_assert_not_null (s_follower);
}

static void s_setup (void)
{
    s_rec = (rec_t *)calloc (1, sizeof (rec_t));
    cr_assert_not_null (s_rec);
    s_rec->store = store_mem_new ();
    cr_assert_not_null (s_rec->store);
    s_config = (follower_config_t){.id = "s1",
                                   .heartbeat_ms = 1000,
                                   .unhealthy_ms = 3000,
                                   .fetch_max = 100,
                                   .holdback_records = 64,
                                   .holdback_bytes = 1 << 20,
                                   .discard_foreign = false,
                                   .seed = 7};
    s_follower = NULL;
    s_new_follower (NULL);
}

static void s_teardown (void)
{
    follower_destroy (&s_follower);
    store_destroy (&s_rec->store);
    free (s_rec);
}

//  Start at NOW and take a WELCOME of epoch 3, history A, master head HEAD.
static void s_join (uint64_t head, int64_t now)
{
    follower_start (s_follower, now);
    follower_welcome (s_follower, 3, s_history_a, head, store_head (s_rec->store), 0, 0,
                      "tcp://master:5555", now);
}

//  The CRC of this node's record ending at SEQ.
static uint32_t s_crc_at (uint64_t seq)
{
    record_t r;
    cr_assert_eq (store_record (s_rec->store, seq, &r), 0);
    return r.crc;
}

TestSuite (follower, .init = s_setup, .fini = s_teardown);

//  ---------------------------------------------------------------------
//  HELLO

Test (follower, hello_on_start_with_backoff)
{
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_CONNECTING);
    cr_assert_eq (follower_next_due (s_follower), INT64_MAX, "nothing before start");
    follower_start (s_follower, 1000);
    cr_assert_eq (s_count (A_HELLO), 1);
    action_t *hello = s_last (A_HELLO);
    cr_assert_not (hello->has_history);
    cr_assert_eq (hello->a, 0);
    cr_assert_eq (hello->b, 0);
    cr_assert_eq (hello->crc, 0);
    cr_assert_str_eq (follower_reason (s_follower), "no answer from the master yet");
    cr_assert_str_eq (follower_mode_name (follower_mode (s_follower)), "connecting");
    cr_assert_not (follower_reachable (s_follower));
    cr_assert_eq (follower_last_heard (s_follower), -1);

    //  Retried at 100, 200, 400 ... 5000 ms nominal, each drawn in [n/2, n]
    int64_t now = 1000;
    int64_t nominal[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
    for (size_t i = 0; i < sizeof nominal / sizeof nominal[0]; i++) {
        int64_t due = follower_next_due (s_follower);
        cr_assert_geq (due - now, nominal[i] / 2, "retry %zu", i);
        cr_assert_leq (due - now, nominal[i], "retry %zu", i);
        follower_tick (s_follower, due - 1);
        cr_assert_eq (s_count (A_HELLO), i + 1, "not before it is due");
        follower_tick (s_follower, due);
        cr_assert_eq (s_count (A_HELLO), i + 2);
        now = due;
    }
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_CONNECTING);
}

Test (follower, hello_says_what_this_node_holds)
{
    s_preload (2, 1, 5, 2); //  records 1..2, 3..4, 5
    s_new_follower (s_history_a);
    follower_start (s_follower, 0);
    action_t *hello = s_last (A_HELLO);
    cr_assert (hello->has_history);
    cr_assert_eq (memcmp (hello->history, s_history_a, FOLLOWER_HISTORY_SIZE), 0);
    cr_assert_eq (hello->a, 5);
    cr_assert_eq (hello->b, 2);
    cr_assert_eq (hello->crc, s_crc_at (5));
    cr_assert_eq (hello->epoch, 2, "highest epoch seen: its own records'");
}

//  ---------------------------------------------------------------------
//  WELCOME

Test (follower, welcome_on_empty_node_adopts_history)
{
    follower_start (s_follower, 0);
    s_clear_actions ();
    follower_welcome (s_follower, 3, s_history_a, 0, 0, 0, 0, "tcp://master:5555", 10);
    cr_assert_eq (s_rec->count, 2);
    cr_assert_eq (s_rec->actions[0].kind, A_ADOPT);
    cr_assert_eq (memcmp (s_rec->actions[0].history, s_history_a, FOLLOWER_HISTORY_SIZE), 0);
    cr_assert_eq (s_rec->actions[0].epoch, 3);
    cr_assert_eq (s_rec->actions[1].kind, A_ACK);
    cr_assert_eq (s_rec->actions[1].epoch, 3);
    cr_assert_eq (s_rec->actions[1].a, 0);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_FOLLOWING);
    cr_assert_str_eq (follower_reason (s_follower), "");
    cr_assert_str_eq (follower_leader (s_follower), "tcp://master:5555");
    cr_assert_eq (follower_master_epoch (s_follower), 3);
    cr_assert (follower_reachable (s_follower));
    cr_assert_eq (follower_last_heard (s_follower), 10);
    cr_assert_not_null (follower_history (s_follower));
    cr_assert (s_logged ("joined master epoch 3: have 0 entries, master head 0"));
    //  HELLO is no longer retried: the next thing due is the periodic ACK
    cr_assert_eq (follower_next_due (s_follower), 10 + 1000);
}

Test (follower, welcome_behind_fetches)
{
    follower_start (s_follower, 0);
    follower_welcome (s_follower, 3, s_history_a, 50, 0, 0, 0, "", 10);
    action_t *fetch = s_last (A_FETCH);
    cr_assert_eq (fetch->epoch, 3);
    cr_assert_eq (fetch->a, 1);
    cr_assert_eq (fetch->b, 50);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_CATCHING_UP);
    cr_assert_eq (follower_master_head (s_follower), 50);
}

Test (follower, welcome_with_matching_crc_truncates_into_rollback)
{
    s_preload (1, 1, 3, 3); //  1..3 in epoch 1
    s_preload (2, 4, 6, 3); //  4..6 in epoch 2, not the master's
    s_new_follower (s_history_a);
    follower_start (s_follower, 0);
    s_clear_actions ();
    follower_welcome (s_follower, 5, s_history_a, 20, 3, 1, s_crc_at (3), "", 10);
    cr_assert_eq (s_rec->actions[0].kind, A_TRUNCATE);
    cr_assert_eq (s_rec->actions[0].a, 3);
    cr_assert_str_eq (s_rec->actions[0].reason, "rollback");
    cr_assert_eq (store_head (s_rec->store), 3);
    cr_assert (s_logged ("truncating 3 entries (4..6)"));
    cr_assert_eq (s_last (A_ADOPT)->epoch, 5);
    cr_assert_eq (s_last (A_ACK)->a, 3);
    action_t *fetch = s_last (A_FETCH);
    cr_assert_eq (fetch->a, 4);
    cr_assert_eq (fetch->b, 17);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_CATCHING_UP);
}

Test (follower, welcome_with_other_crc_refuses_and_keeps_the_log)
{
    s_preload (1, 1, 6, 3);
    s_new_follower (s_history_a);
    follower_start (s_follower, 0);
    s_clear_actions ();
    follower_welcome (s_follower, 5, s_history_a, 20, 3, 1, s_crc_at (3) ^ 1, "", 10);
    cr_assert_eq (s_count (A_TRUNCATE), 0, "never truncates a log that does not match");
    cr_assert_eq (s_count (A_ADOPT), 0);
    cr_assert_eq (s_count (A_ACK), 0);
    cr_assert_eq (store_head (s_rec->store), 6);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_REFUSED);
    cr_assert_not_null (strstr (follower_reason (s_follower), "differs from the master's"));
    cr_assert (s_logged ("differs from the master's"));
    //  HELLO again, slowly: 1 s nominal, drawn in [500, 1000]
    int64_t due = follower_next_due (s_follower);
    cr_assert_geq (due - 10, 500);
    cr_assert_leq (due - 10, 1000);
    //  Records are not taken while refused
    s_frame (false, 5, 7, 8, 1, 20);
    cr_assert_eq (store_head (s_rec->store), 6);
    follower_tick (s_follower, due);
    cr_assert_eq (s_count (A_HELLO), 1);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_REFUSED);
    //  The epoch at the agreement point is checked too
    follower_welcome (s_follower, 5, s_history_a, 20, 3, 2, s_crc_at (3), "", 30);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_REFUSED);
    //  And the point must end a record here
    follower_welcome (s_follower, 5, s_history_a, 20, 2, 1, s_crc_at (3), "", 40);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_REFUSED);
    cr_assert_not_null (strstr (follower_reason (s_follower), "not the end of a record"));
    cr_assert_eq (s_count (A_TRUNCATE), 0);
    cr_assert_eq (store_head (s_rec->store), 6);
    //  A matching answer later is taken
    follower_welcome (s_follower, 5, s_history_a, 20, 6, 1, s_crc_at (6), "", 50);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_CATCHING_UP);
}

Test (follower, welcome_of_another_history_refuses)
{
    s_preload (1, 1, 6, 3);
    s_new_follower (s_history_a);
    follower_start (s_follower, 0);
    follower_welcome (s_follower, 5, s_history_b, 20, 3, 1, s_crc_at (3), "", 10);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_REFUSED);
    cr_assert_not_null (strstr (follower_reason (s_follower), "history"));
    cr_assert_eq (s_count (A_TRUNCATE), 0);
    cr_assert_eq (s_count (A_ADOPT), 0);

    //  A log with no history and nothing in common: not adopted either
    s_new_follower (NULL);
    follower_start (s_follower, 100);
    follower_welcome (s_follower, 5, s_history_b, 20, 0, 0, 0, "", 110);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_REFUSED);
    cr_assert_not_null (strstr (follower_reason (s_follower), "no history"));
    cr_assert_eq (s_count (A_TRUNCATE), 0);
    cr_assert_eq (store_head (s_rec->store), 6);
}

Test (follower, repeated_welcome_is_ignored)
{
    follower_start (s_follower, 0);
    follower_welcome (s_follower, 3, s_history_a, 0, 0, 0, 0, "", 10);
    s_frame (false, 3, 1, 4, 2, 20);
    cr_assert_eq (store_head (s_rec->store), 4);
    s_clear_actions ();
    //  The answer to a second HELLO sent before the first WELCOME came
    follower_welcome (s_follower, 3, s_history_a, 0, 0, 0, 0, "", 30);
    cr_assert_eq (s_rec->count, 0);
    cr_assert_eq (store_head (s_rec->store), 4);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_FOLLOWING);
}

//  ---------------------------------------------------------------------
//  Records, hold-back, duplicates

Test (follower, records_in_order_are_stored_and_acked)
{
    s_join (0, 0);
    s_clear_actions ();
    s_frame (false, 3, 1, 5, 2, 10); //  1..2, 3..4, 5
    cr_assert_eq (s_count (A_STORE), 3);
    cr_assert_eq (store_head (s_rec->store), 5);
    cr_assert_eq (s_count (A_FETCH), 0);
    cr_assert_eq (s_count (A_ACK), 0, "ACKs follow what is durable");
    follower_durable (s_follower, 3, 11);
    cr_assert_eq (s_last (A_ACK)->a, 3);
    follower_durable (s_follower, 3, 12);
    cr_assert_eq (s_count (A_ACK), 1, "nothing new");
    follower_durable (s_follower, 5, 13);
    cr_assert_eq (s_last (A_ACK)->a, 5);
    cr_assert_eq (s_last (A_ACK)->epoch, 3);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_FOLLOWING);
    cr_assert_eq (follower_master_head (s_follower), 5);
}

Test (follower, ahead_of_next_held_then_drained)
{
    s_join (0, 0);
    s_clear_actions ();
    s_frame (false, 3, 4, 5, 2, 10);
    s_frame (false, 3, 6, 6, 1, 10);
    cr_assert_eq (store_head (s_rec->store), 0);
    cr_assert_eq (follower_held_back (s_follower), 3);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_CATCHING_UP);
    //  The gap before the held record is fetched, once
    cr_assert_eq (s_count (A_FETCH), 1);
    cr_assert_eq (s_last (A_FETCH)->a, 1);
    cr_assert_eq (s_last (A_FETCH)->b, 3);
    s_frame (true, 3, 1, 3, 3, 20);
    cr_assert_eq (store_head (s_rec->store), 6);
    cr_assert_eq (follower_held_back (s_follower), 0);
    cr_assert_eq (s_count (A_STORE), 3);
    cr_assert_eq (s_rec->actions[s_rec->count - 3].a, 1);
    cr_assert_eq (s_rec->actions[s_rec->count - 2].a, 4);
    cr_assert_eq (s_rec->actions[s_rec->count - 1].a, 6);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_FOLLOWING);
    cr_assert_eq (s_count (A_FETCH), 1);
}

Test (follower, duplicates_are_counted_and_dropped)
{
    s_join (0, 0);
    s_frame (false, 3, 1, 4, 2, 10);
    s_clear_actions ();
    s_frame (false, 3, 1, 4, 2, 11); //  again
    cr_assert_eq (s_count (A_STORE), 0);
    cr_assert_eq (follower_duplicates (s_follower), 4);
    //  A held record offered twice
    s_frame (false, 3, 7, 8, 2, 12);
    s_frame (false, 3, 7, 8, 2, 13);
    cr_assert_eq (follower_duplicates (s_follower), 6);
    cr_assert_eq (follower_held_back (s_follower), 2);
    cr_assert_eq (store_head (s_rec->store), 4);
}

Test (follower, straddling_record_is_dropped)
{
    s_join (0, 0);
    s_frame (false, 3, 1, 4, 2, 10);
    s_clear_actions ();
    s_frame (false, 3, 3, 6, 4, 11); //  3..6 while this log's records end at 4
    cr_assert_eq (s_count (A_STORE), 0);
    cr_assert_eq (store_head (s_rec->store), 4);
    cr_assert (s_logged ("straddles seq 5"));
}

Test (follower, bad_records_are_dropped_and_logged)
{
    s_join (0, 0);
    uint8_t buf[4096];
    size_t a = s_record (buf, 3, 1, 2);
    size_t b = s_record (buf + a, 3, 3, 1);
    buf[a + 20] ^= 0xFF; //  the second record's CRC no longer matches
    s_clear_actions ();
    follower_records (s_follower, false, 3, buf, a + b, MAX_PAYLOAD, 10);
    cr_assert_eq (s_count (A_STORE), 1, "the good record before it is kept");
    cr_assert_eq (store_head (s_rec->store), 2);
    cr_assert (s_logged ("bad record in BATCH at byte"));

    //  A record of an epoch above its frame's: dropped, the next one taken
    a = s_record (buf, 4, 3, 1);
    b = s_record (buf + a, 3, 4, 1);
    follower_records (s_follower, true, 3, buf, a + b, MAX_PAYLOAD, 2000);
    cr_assert (s_logged ("has epoch 4, above its frame's 3"));
    cr_assert_eq (store_head (s_rec->store), 2);
    cr_assert_eq (follower_held_back (s_follower), 1, "4 is held: 3 is missing");

    //  Bad input is logged at most once a second
    size_t lines = s_rec->nlogs;
    follower_records (s_follower, false, 3, buf, a + b, MAX_PAYLOAD, 2100);
    cr_assert_eq (s_rec->nlogs, lines);
    follower_records (s_follower, false, 3, buf, a + b, MAX_PAYLOAD, 3100);
    cr_assert_eq (s_rec->nlogs, lines + 1);
    cr_assert (s_logged ("and 1 more bad records since"));
}

Test (follower, records_before_welcome_are_ignored)
{
    follower_start (s_follower, 0);
    s_frame (false, 3, 1, 2, 1, 10);
    cr_assert_eq (s_count (A_STORE), 0);
    cr_assert_eq (follower_held_back (s_follower), 0);
    cr_assert (follower_reachable (s_follower));
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_CONNECTING);
}

//  ---------------------------------------------------------------------
//  The fetch window

Test (follower, one_fetch_at_a_time_with_credit)
{
    s_join (0, 0);
    s_clear_actions ();
    //  A heartbeat head far ahead: one FETCH of fetch_max entries
    follower_heartbeat (s_follower, 3, 1000, s_history_a, 10);
    cr_assert_eq (s_count (A_FETCH), 1);
    cr_assert_eq (s_last (A_FETCH)->a, 1);
    cr_assert_eq (s_last (A_FETCH)->b, 100);
    cr_assert_eq (s_last (A_FETCH)->epoch, 3);
    //  More gaps while it is outstanding: no second FETCH
    follower_heartbeat (s_follower, 3, 1200, s_history_a, 20);
    s_frame (false, 3, 1201, 1201, 1, 30);
    cr_assert_eq (s_count (A_FETCH), 1);
    //  Its FILL completes it; the next window starts where the log is
    s_frame (true, 3, 1, 100, 10, 40);
    cr_assert_eq (store_head (s_rec->store), 100);
    cr_assert_eq (s_count (A_FETCH), 2);
    cr_assert_eq (s_last (A_FETCH)->a, 101);
    cr_assert_eq (s_last (A_FETCH)->b, 100);
}

Test (follower, gap_from_held_record_fetches_up_to_it)
{
    s_join (0, 0);
    s_frame (false, 3, 1, 2, 2, 10);
    s_clear_actions ();
    s_frame (false, 3, 9, 10, 2, 20);
    cr_assert_eq (s_count (A_FETCH), 1);
    cr_assert_eq (s_last (A_FETCH)->a, 3);
    cr_assert_eq (s_last (A_FETCH)->b, 6, "3..8, up to the held record");
}

Test (follower, fetch_timeout_asks_again_with_backoff)
{
    //  No periodic ACK or silence in the way of the FETCH timer
    s_config.heartbeat_ms = 600000;
    s_config.unhealthy_ms = 600000;
    s_new_follower (NULL);
    s_join (0, 0);
    follower_heartbeat (s_follower, 3, 50, s_history_a, 0);
    cr_assert_eq (s_count (A_FETCH), 1);
    int64_t now = 0;
    int64_t nominal[] = {200, 400, 800, 1600, 3200, 5000, 5000};
    for (size_t i = 0; i < sizeof nominal / sizeof nominal[0]; i++) {
        int64_t due = follower_next_due (s_follower);
        cr_assert_geq (due - now, nominal[i] / 2, "fetch %zu", i);
        cr_assert_leq (due - now, nominal[i], "fetch %zu", i);
        follower_tick (s_follower, due);
        cr_assert_eq (s_count (A_FETCH), i + 2);
        cr_assert_eq (s_last (A_FETCH)->a, 1);
        cr_assert_eq (s_last (A_FETCH)->b, 50);
        now = due;
    }
}

Test (follower, fill_completing_a_fetch_resets_the_backoff)
{
    s_config.heartbeat_ms = 600000;
    s_config.unhealthy_ms = 600000;
    s_new_follower (NULL);
    s_join (0, 0);
    follower_heartbeat (s_follower, 3, 50, s_history_a, 0);
    int64_t now = 0;
    for (int i = 0; i < 4; i++) { //  back off to 3200 ms nominal
        now = follower_next_due (s_follower);
        follower_tick (s_follower, now);
    }
    cr_assert_eq (s_count (A_FETCH), 5);
    cr_assert_geq (follower_next_due (s_follower) - now, 1600);
    s_frame (true, 3, 1, 50, 10, now + 10);
    cr_assert_eq (store_head (s_rec->store), 50);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_FOLLOWING);
    //  The next gap is fetched with the base delay again
    follower_heartbeat (s_follower, 3, 60, s_history_a, now + 20);
    int64_t due = follower_next_due (s_follower);
    cr_assert_geq (due - (now + 20), 100);
    cr_assert_leq (due - (now + 20), 200);
}

Test (follower, partial_fill_keeps_the_fetch_alive)
{
    s_join (0, 0);
    follower_heartbeat (s_follower, 3, 50, s_history_a, 0);
    int64_t due = follower_next_due (s_follower);
    s_frame (true, 3, 1, 20, 10, due - 1);
    cr_assert_gt (follower_next_due (s_follower), due, "progress pushes the timeout out");
    s_frame (true, 3, 21, 50, 10, due + 10);
    cr_assert_eq (s_count (A_FETCH), 1, "no second FETCH");
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_FOLLOWING);
}

Test (follower, catch_up_is_logged)
{
    s_config.fetch_max = 1000;
    s_new_follower (NULL);
    s_join (2500, 0);
    cr_assert (s_logged ("catching up: have 1..0, master head 2500 (2500 entries behind)"));
    for (uint64_t from = 1; from <= 2500; from += 1000) {
        uint64_t to = from + 999 < 2500 ? from + 999 : 2500;
        cr_assert_eq (s_last (A_FETCH)->a, from);
        s_frame (true, 3, from, to, 50, (int64_t)to);
    }
    cr_assert_eq (store_head (s_rec->store), 2500);
    cr_assert (s_logged ("caught up: 2500 entries in 2500 ms, head 2500"));
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_FOLLOWING);
}

//  ---------------------------------------------------------------------
//  Epochs, errors, history

Test (follower, new_epoch_says_hello_again)
{
    s_join (0, 0);
    s_frame (false, 3, 1, 2, 2, 10);
    s_clear_actions ();
    s_frame (false, 4, 3, 4, 2, 20);
    cr_assert_eq (s_count (A_HELLO), 1);
    cr_assert_eq (s_last (A_HELLO)->epoch, 4, "the highest epoch seen");
    cr_assert_eq (s_last (A_HELLO)->a, 2);
    cr_assert_eq (s_count (A_STORE), 0);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_CONNECTING);
    cr_assert_not_null (strstr (follower_reason (s_follower), "epoch changed 3 -> 4"));
    //  Frames until the WELCOME do nothing
    follower_heartbeat (s_follower, 4, 10, s_history_a, 30);
    cr_assert_eq (s_count (A_HELLO), 1);
    cr_assert_eq (s_count (A_FETCH), 0);
    follower_welcome (s_follower, 4, s_history_a, 4, 2, 3, s_crc_at (2), "", 40);
    cr_assert_eq (follower_master_epoch (s_follower), 4);
    cr_assert_eq (s_last (A_FETCH)->a, 3);
    cr_assert_eq (s_last (A_FETCH)->epoch, 4);

    //  A heartbeat of another epoch, or another history, too
    follower_heartbeat (s_follower, 5, 4, s_history_a, 50);
    cr_assert_eq (s_count (A_HELLO), 2);
    follower_welcome (s_follower, 5, s_history_a, 4, 2, 3, s_crc_at (2), "", 60);
    follower_heartbeat (s_follower, 5, 4, s_history_b, 70);
    cr_assert_eq (s_count (A_HELLO), 3);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_CONNECTING);
}

Test (follower, error_refused)
{
    follower_start (s_follower, 0);
    s_clear_actions ();
    follower_error (s_follower, RLOG_REFUSED, "node id 's1' is in use by another connection", 10);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_REFUSED);
    cr_assert_str_eq (follower_mode_name (FOLLOWER_REFUSED), "refused");
    cr_assert_not_null (strstr (follower_reason (s_follower), "the master refused: node id 's1'"));
    cr_assert (s_logged ("the master refused"));
    int64_t due = follower_next_due (s_follower);
    cr_assert_geq (due - 10, 500);
    cr_assert_leq (due - 10, 1000);
    //  The same refusal at every retry is logged once
    size_t lines = s_rec->nlogs;
    follower_tick (s_follower, due);
    follower_error (s_follower, RLOG_REFUSED, "node id 's1' is in use by another connection",
                    due + 1);
    cr_assert_eq (s_rec->nlogs, lines);
    //  A WELCOME clears it
    follower_welcome (s_follower, 3, s_history_a, 0, 0, 0, 0, "", due + 2);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_FOLLOWING);
    cr_assert_str_eq (follower_reason (s_follower), "");
}

Test (follower, error_from_a_client_port_hints_at_the_endpoint)
{
    follower_start (s_follower, 0);
    follower_error (s_follower, RLOG_UNKNOWN_TYPE, "HELLO is not a client request", 10);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_REFUSED);
    cr_assert_not_null (strstr (follower_reason (s_follower), "peer port"));
    //  Without a text, the code's own
    follower_error (s_follower, RLOG_REFUSED, NULL, 20);
    cr_assert_not_null (strstr (follower_reason (s_follower), "the master refused: refused"));
}

Test (follower, error_other_history_refuses)
{
    s_preload (1, 1, 6, 3);
    s_new_follower (s_history_b);
    follower_start (s_follower, 0);
    s_clear_actions ();
    follower_error (s_follower, RLOG_OTHER_HISTORY, "secondary 's1' holds another history", 10);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_REFUSED);
    cr_assert_not_null (strstr (follower_reason (s_follower), "another history"));
    cr_assert_eq (s_count (A_TRUNCATE), 0);
    cr_assert_eq (store_head (s_rec->store), 6);
}

Test (follower, error_other_history_with_discard_foreign)
{
    s_preload (1, 1, 6, 3);
    s_config.discard_foreign = true;
    s_new_follower (s_history_b);
    follower_start (s_follower, 0);
    s_clear_actions ();
    follower_error (s_follower, RLOG_OTHER_HISTORY, "secondary 's1' holds another history", 10);
    cr_assert_eq (s_rec->count, 3);
    cr_assert_eq (s_rec->actions[0].kind, A_TRUNCATE);
    cr_assert_eq (s_rec->actions[0].a, 0);
    cr_assert_str_eq (s_rec->actions[0].reason, "foreign");
    cr_assert_eq (s_rec->actions[1].kind, A_ADOPT);
    cr_assert_not (s_rec->actions[1].has_history, "the history is forgotten");
    cr_assert_eq (s_rec->actions[2].kind, A_HELLO);
    cr_assert_not (s_rec->actions[2].has_history);
    cr_assert_eq (s_rec->actions[2].a, 0);
    cr_assert_eq (store_head (s_rec->store), 0);
    cr_assert_null (follower_history (s_follower));
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_CONNECTING);
    cr_assert (s_logged ("discarding this node's log"));
    //  Joins empty: adopts the master's history
    follower_welcome (s_follower, 3, s_history_a, 6, 0, 0, 0, "", 20);
    cr_assert_eq (memcmp (s_last (A_ADOPT)->history, s_history_a, FOLLOWER_HISTORY_SIZE), 0);
    cr_assert_eq (s_last (A_FETCH)->a, 1);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_CATCHING_UP);
    //  An empty node refused anyway has nothing to discard: refused
    follower_error (s_follower, RLOG_OTHER_HISTORY, "no", 30);
    s_clear_actions ();
    follower_destroy (&s_follower);
    s_new_follower (NULL);
    follower_start (s_follower, 40);
    follower_error (s_follower, RLOG_OTHER_HISTORY, "no", 50);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_REFUSED);
    cr_assert_eq (s_count (A_TRUNCATE), 0);
}

Test (follower, mismatching_welcome_with_discard_foreign)
{
    s_preload (1, 1, 6, 3);
    s_config.discard_foreign = true;
    s_new_follower (s_history_a);
    follower_start (s_follower, 0);
    follower_welcome (s_follower, 5, s_history_b, 20, 0, 0, 0, "", 10);
    cr_assert_eq (s_last (A_TRUNCATE)->a, 0);
    cr_assert_str_eq (s_last (A_TRUNCATE)->reason, "foreign");
    cr_assert_eq (store_head (s_rec->store), 0);
    cr_assert_not (s_last (A_HELLO)->has_history);
}

//  ---------------------------------------------------------------------
//  Failures, silence, ACKs

Test (follower, store_failure_goes_back_and_fetches_again)
{
    s_join (0, 0);
    s_frame (false, 3, 1, 2, 2, 10);
    s_clear_actions ();
    s_rec->fail_in = 1;
    s_frame (false, 3, 3, 6, 2, 20); //  3..4 fails; 5..6 is not tried
    cr_assert_eq (store_head (s_rec->store), 2);
    cr_assert_eq (s_count (A_STORE), 1);
    cr_assert (s_logged ("could not store entries 3..4"));
    cr_assert_eq (s_count (A_FETCH), 1);
    cr_assert_eq (s_last (A_FETCH)->a, 3);
    s_frame (true, 3, 3, 6, 2, 30);
    cr_assert_eq (store_head (s_rec->store), 6);

    //  A store that loses records later (a failed write): follower_reset
    follower_durable (s_follower, 6, 40);
    cr_assert_eq (s_last (A_ACK)->a, 6);
    cr_assert_eq (store_truncate (s_rec->store, 4, NULL), 0);
    s_clear_actions ();
    follower_reset (s_follower, 50);
    cr_assert_eq (s_count (A_FETCH), 1);
    cr_assert_eq (s_last (A_FETCH)->a, 5);
    cr_assert_eq (s_last (A_FETCH)->b, 2);
    s_frame (true, 3, 5, 6, 2, 60);
    follower_durable (s_follower, 6, 61);
    cr_assert_eq (s_last (A_ACK)->a, 6, "ACKed again once held again");
}

Test (follower, store_failure_while_draining)
{
    s_join (0, 0);
    s_frame (false, 3, 3, 4, 2, 10); //  held
    s_frame (false, 3, 5, 6, 2, 10); //  held
    s_clear_actions ();
    s_rec->fail_in = 2; //  1..2 is stored, then 3..4 from the hold-back fails
    s_frame (true, 3, 1, 2, 2, 20);
    cr_assert_eq (store_head (s_rec->store), 2);
    cr_assert_eq (follower_held_back (s_follower), 4, "3..4 and 5..6 stay held");
    cr_assert_eq (s_last (A_FETCH)->a, 3);
    cr_assert_eq (s_last (A_FETCH)->b, 4);
    //  The refetched 3..4 is stored; the held copy is discarded, 5..6 drains
    s_frame (true, 3, 3, 4, 2, 30);
    cr_assert_eq (store_head (s_rec->store), 6);
    cr_assert_eq (follower_held_back (s_follower), 0);
    cr_assert_eq (follower_duplicates (s_follower), 2);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_FOLLOWING);
}

Test (follower, silence_disconnects_and_says_hello_again)
{
    s_join (0, 0);
    follower_heartbeat (s_follower, 3, 0, s_history_a, 500);
    cr_assert_eq (follower_next_due (s_follower), 1000, "the periodic ACK first");
    follower_tick (s_follower, 1000);
    cr_assert_eq (follower_next_due (s_follower), 2000);
    follower_tick (s_follower, 2000);
    follower_tick (s_follower, 3000);
    cr_assert_eq (follower_next_due (s_follower), 3500, "then the silence deadline");
    s_clear_actions ();
    follower_tick (s_follower, 3499);
    cr_assert (follower_reachable (s_follower));
    follower_tick (s_follower, 3500);
    cr_assert_not (follower_reachable (s_follower));
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_DISCONNECTED);
    cr_assert_str_eq (follower_mode_name (FOLLOWER_DISCONNECTED), "disconnected");
    cr_assert_not_null (strstr (follower_reason (s_follower), "nothing heard for 3000 ms"));
    cr_assert_eq (s_count (A_HELLO), 1);
    //  HELLO retried with the fast backoff until answered
    int64_t due = follower_next_due (s_follower);
    cr_assert_geq (due - 3500, 50);
    cr_assert_leq (due - 3500, 100);
    follower_tick (s_follower, due);
    cr_assert_eq (s_count (A_HELLO), 2);
    follower_welcome (s_follower, 3, s_history_a, 0, 0, 0, 0, "", due + 5);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_FOLLOWING);
    cr_assert (follower_reachable (s_follower));
    cr_assert (s_logged ("master reachable again"));
}

Test (follower, stream_without_welcome_says_so)
{
    follower_start (s_follower, 0);
    follower_heartbeat (s_follower, 3, 200, s_history_a, 10);
    for (int i = 0; i < 3; i++) {
        int64_t due = follower_next_due (s_follower);
        follower_heartbeat (s_follower, 3, 200, s_history_a, due - 1);
        follower_tick (s_follower, due);
    }
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_CONNECTING);
    cr_assert (follower_reachable (s_follower));
    cr_assert_not_null (strstr (follower_reason (s_follower), "HELLO gets no answer"));
    cr_assert (s_logged ("HELLO gets no answer"));
}

Test (follower, periodic_ack)
{
    s_join (0, 100);
    s_frame (false, 3, 1, 3, 3, 150);
    follower_durable (s_follower, 3, 150);
    s_clear_actions ();
    follower_tick (s_follower, 1149);
    cr_assert_eq (s_count (A_ACK), 0);
    follower_tick (s_follower, 1150);
    cr_assert_eq (s_count (A_ACK), 1);
    cr_assert_eq (s_last (A_ACK)->a, 3);
    follower_heartbeat (s_follower, 3, 3, s_history_a, 2000);
    follower_tick (s_follower, 2150);
    cr_assert_eq (s_count (A_ACK), 2);
    //  ACKs only what is durable
    s_frame (false, 3, 4, 5, 2, 2200);
    follower_tick (s_follower, 3150);
    cr_assert_eq (s_last (A_ACK)->a, 3);
}

Test (follower, mode_names)
{
    cr_assert_str_eq (follower_mode_name (FOLLOWER_CONNECTING), "connecting");
    cr_assert_str_eq (follower_mode_name (FOLLOWER_CATCHING_UP), "catching-up");
    cr_assert_str_eq (follower_mode_name (FOLLOWER_FOLLOWING), "following");
    cr_assert_str_eq (follower_mode_name (FOLLOWER_REFUSED), "refused");
    cr_assert_str_eq (follower_mode_name (FOLLOWER_DISCONNECTED), "disconnected");
    cr_assert_str_eq (follower_mode_name ((follower_mode_t)99), "unknown");
}

Test (follower, truncate_failure_does_not_follow)
{
    s_preload (1, 1, 6, 3);
    s_new_follower (s_history_a);
    s_rec->fail_truncate = true;
    follower_start (s_follower, 0);
    follower_welcome (s_follower, 5, s_history_a, 20, 3, 1, s_crc_at (3), "", 10);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_CONNECTING);
    cr_assert_not_null (strstr (follower_reason (s_follower), "could not truncate"));
    cr_assert_eq (s_count (A_ADOPT), 0);
    cr_assert_eq (s_count (A_ACK), 0);
    cr_assert_lt (follower_next_due (s_follower), INT64_MAX, "HELLO again later");
}

//  ---------------------------------------------------------------------
//  Randomized: a master appends and publishes over a lossy, reordering,
//  duplicating stream and answers FETCHes (sometimes losing the FILL);
//  the follower must end with the master's log, byte for byte.

typedef struct {
    bool fill;
    int64_t due;
    size_t size;
    uint8_t *bytes;
} pending_t;

#define PENDING_MAX 64

typedef struct {
    pending_t frames[PENDING_MAX];
    size_t count;
    uint64_t rng;
    knobs_t *knobs; //  in front of the follower, when set
} net_t;

static uint64_t s_rand (uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

//  Queue a copy of a frame for delivery after a random latency (a full
//  queue loses it, as a full socket would).
static void s_send (net_t *net, bool fill, const uint8_t *bytes, size_t size, int64_t now)
{
    if (net->count == PENDING_MAX)
        return;
    pending_t *p = &net->frames[net->count++];
    p->fill = fill;
    p->due = now + (int64_t)(s_rand (&net->rng) % 40);
    p->size = size;
    p->bytes = (uint8_t *)malloc (size);
    cr_assert_not_null (p->bytes);
    memcpy (p->bytes, bytes, size);
}

//  A frame as the event loop gets it: a type byte (1 FILL, 0 BATCH), then
//  the records.
static void s_handle (const uint8_t *frame, size_t size, int64_t now)
{
    cr_assert_geq (size, 1);
    follower_records (s_follower, frame[0] == 1, 3, frame + 1, size - 1, MAX_PAYLOAD, now);
}

static void s_deliver (net_t *net, int64_t now)
{
    static uint8_t frame[1 << 16];
    for (size_t i = 0; i < net->count;) {
        pending_t p = net->frames[i];
        if (p.due > now) {
            i++;
            continue;
        }
        net->frames[i] = net->frames[--net->count];
        cr_assert_lt (p.size, sizeof frame);
        frame[0] = p.fill;
        memcpy (frame + 1, p.bytes, p.size);
        free (p.bytes);
        if (!net->knobs || knobs_frame (net->knobs, true, frame, p.size + 1, now) == KNOBS_PASS)
            s_handle (frame, p.size + 1, now);
    }
    const uint8_t *due;
    size_t size;
    while (net->knobs && (due = knobs_due (net->knobs, now, &size)))
        s_handle (due, size, now);
}

//  Answer the FETCHes the follower sent since the last call.
static void s_answer_fetches (net_t *net, store_t *master, int64_t now)
{
    for (size_t i = 0; i < s_rec->count; i++) {
        action_t *a = &s_rec->actions[i];
        if (a->kind != A_FETCH || s_rand (&net->rng) % 8 == 0)
            continue; //  not a FETCH, or its FILL is lost
        uint64_t to = a->a + a->b - 1;
        if (to > store_head (master))
            to = store_head (master);
        for (uint64_t from = a->a; from <= to;) {
            store_slice_t slice;
            cr_assert_eq (store_slice (master, from, to, 4096, &slice), 0);
            s_send (net, true, slice.bytes, slice.size, now);
            from = slice.last_seq + 1;
        }
    }
    s_clear_actions ();
}

static void s_assert_same_log (store_t *a, store_t *b)
{
    cr_assert_eq (store_head (a), store_head (b));
    for (uint64_t seq = 1; seq <= store_head (a);) {
        record_t ra, rb;
        cr_assert_eq (store_record (a, seq, &ra), 0);
        cr_assert_eq (store_record (b, seq, &rb), 0);
        cr_assert_eq (ra.size, rb.size, "record at %lu", (unsigned long)seq);
        cr_assert_eq (memcmp (ra.bytes, rb.bytes, ra.size), 0, "record at %lu", (unsigned long)seq);
        seq = record_last_seq (&ra) + 1;
    }
}

static void s_converge_run (uint64_t seed, uint64_t entries, knobs_t *knobs)
{
    store_t *master = store_mem_new ();
    cr_assert_not_null (master);
    net_t net = {.count = 0, .rng = seed, .knobs = knobs};
    s_join (0, 0);
    s_clear_actions ();
    int64_t now = 0;
    uint64_t max_held = 0;
    for (int step = 0; step < 40000; step++) {
        now += 5;
        if (store_head (master) < entries && s_rand (&net.rng) % 2) {
            uint8_t buf[1024];
            uint32_t count = 1 + (uint32_t)(s_rand (&net.rng) % 4);
            if (count > entries - store_head (master))
                count = (uint32_t)(entries - store_head (master));
            size_t size = s_record (buf, 3, store_head (master) + 1, count);
            cr_assert_eq (store_append (master, buf, size), 0);
            if (s_rand (&net.rng) % 5) //  PUB loses one in five
                s_send (&net, false, buf, size, now);
            if (s_rand (&net.rng) % 10 == 0) //  and repeats one in ten
                s_send (&net, false, buf, size, now);
        }
        if (now % 100 == 0)
            follower_heartbeat (s_follower, 3, store_head (master), s_history_a, now);
        s_deliver (&net, now);
        if (follower_next_due (s_follower) <= now)
            follower_tick (s_follower, now);
        follower_durable (s_follower, store_head (s_rec->store), now);
        s_answer_fetches (&net, master, now);
        if (follower_held_back (s_follower) > max_held)
            max_held = follower_held_back (s_follower);
        if (store_head (master) == entries && store_head (s_rec->store) == entries)
            break;
    }
    cr_assert_eq (store_head (master), entries);
    s_assert_same_log (master, s_rec->store);
    cr_assert_eq (follower_mode (s_follower), FOLLOWER_FOLLOWING);
    cr_assert_gt (follower_duplicates (s_follower), 0);
    cr_assert_gt (max_held, 0);
    for (size_t i = 0; i < net.count; i++)
        free (net.frames[i].bytes);
    store_destroy (&master);
}

Test (follower, converges_under_loss_reordering_and_duplicates)
{
    s_converge_run (12345, 3000, NULL);
}

Test (follower, converges_with_a_small_hold_back)
{
    s_config.holdback_records = 2;
    s_config.holdback_bytes = 300;
    s_config.fetch_max = 7;
    s_new_follower (NULL);
    s_converge_run (777, 1500, NULL);
}

Test (follower, converges_behind_drop_and_delay_knobs)
{
    knobs_config_t config = {
        .drop_rate = 0.3, .delay_ms = 50, .delay_frames = 8, .delay_bytes = 1 << 16, .seed = 3};
    knobs_t *knobs = knobs_new (&config);
    cr_assert_not_null (knobs);
    s_converge_run (4242, 1500, knobs);
    cr_assert_gt (knobs_dropped (knobs), 0);
    cr_assert_gt (knobs_overflow (knobs), 0);
    knobs_destroy (&knobs);
}
