/*  test_dedup.c - the idempotency table: issued ids, unknown clients,
    windows of runs, the STALE rule, LRU and run-budget eviction, forget,
    out-of-order ids, bounded memory; the issue-11 scenario.
*/
#include "dedup.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t bytes[DEDUP_ID_SIZE];
} id_t_;

//  A client id that the table never issued (recovery creates such ones).
static id_t_ s_id (uint32_t n)
{
    id_t_ id;
    memset (id.bytes, 0xEE, sizeof id.bytes);
    memcpy (id.bytes, &n, sizeof n);
    return id;
}

#define ID(n) (s_id (n).bytes)

static dedup_result_t s_lookup (dedup_t *d, const uint8_t *id, uint64_t req, uint64_t *seq)
{
    *seq = 0;
    return dedup_lookup (d, id, req, seq);
}

Test (dedup, new_destroy)
{
    dedup_t *dedup = dedup_new (1, 1, 1, 0);
    cr_assert_not_null (dedup);
    cr_assert_eq (dedup_clients (dedup), 0);
    cr_assert_eq (dedup_runs (dedup), 0);
    cr_assert_gt (dedup_memory (dedup), 0);
    dedup_destroy (&dedup);
    cr_assert_null (dedup);
    dedup_destroy (&dedup);
}

Test (dedup, open_issues_unique_known_ids)
{
    dedup_t *dedup = dedup_new (16, 8, 64, 0x0102030405060708u);
    uint8_t a[DEDUP_ID_SIZE], b[DEDUP_ID_SIZE];
    uint64_t seq;
    cr_assert_eq (dedup_open (dedup, a), 0);
    cr_assert_eq (dedup_open (dedup, b), 0);
    //  nonce (little-endian) || counter (little-endian)
    const uint8_t expect_a[DEDUP_ID_SIZE] = {8, 7, 6, 5, 4, 3, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t expect_b[DEDUP_ID_SIZE] = {8, 7, 6, 5, 4, 3, 2, 1, 2, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_arr_eq (a, expect_a, DEDUP_ID_SIZE);
    cr_assert_arr_eq (b, expect_b, DEDUP_ID_SIZE);
    cr_assert_eq (dedup_clients (dedup), 2);
    cr_assert_eq (dedup_runs (dedup), 0, "a client that never appended holds no run");
    //  Known, nothing sent yet: NEW
    cr_assert_eq (s_lookup (dedup, a, 1, &seq), DEDUP_NEW);
    cr_assert_eq (s_lookup (dedup, b, 1, &seq), DEDUP_NEW);
    //  Never issued: UNKNOWN, and a lookup does not create it
    cr_assert_eq (s_lookup (dedup, ID (1), 1, &seq), DEDUP_UNKNOWN);
    cr_assert_eq (seq, 0, "untouched unless found");
    cr_assert_eq (dedup_clients (dedup), 2);
    //  Another master (nonce) never issues the same ids
    dedup_t *other = dedup_new (16, 8, 64, 0x0102030405060709u);
    uint8_t c[DEDUP_ID_SIZE];
    cr_assert_eq (dedup_open (other, c), 0);
    cr_assert (memcmp (a, c, DEDUP_ID_SIZE) != 0);
    cr_assert_eq (s_lookup (other, a, 1, &seq), DEDUP_UNKNOWN);
    dedup_destroy (&other);
    dedup_destroy (&dedup);
}

Test (dedup, open_skips_ids_recovered_from_the_log)
{
    dedup_t *dedup = dedup_new (16, 8, 64, 0);
    uint8_t id[DEDUP_ID_SIZE] = {0};
    id[8] = 1; //  what the first dedup_open would issue with nonce 0
    cr_assert_eq (dedup_record (dedup, id, 1, 10, 1), 0);
    uint8_t issued[DEDUP_ID_SIZE];
    cr_assert_eq (dedup_open (dedup, issued), 0);
    cr_assert (memcmp (issued, id, DEDUP_ID_SIZE) != 0);
    cr_assert_eq (issued[8], 2);
    cr_assert_eq (dedup_clients (dedup), 2);
    dedup_destroy (&dedup);
}

Test (dedup, record_found_and_runs)
{
    dedup_t *dedup = dedup_new (16, 100, 1000, 0);
    uint64_t seq;
    //  A batch of 10 is one run
    cr_assert_eq (dedup_record (dedup, ID (1), 1, 100, 10), 0);
    cr_assert_eq (dedup_clients (dedup), 1, "record creates the client (recovery)");
    cr_assert_eq (dedup_runs (dedup), 1);
    for (uint64_t r = 1; r <= 10; r++) {
        cr_assert_eq (s_lookup (dedup, ID (1), r, &seq), DEDUP_FOUND);
        cr_assert_eq (seq, 99 + r);
    }
    cr_assert_eq (s_lookup (dedup, ID (1), 11, &seq), DEDUP_NEW);
    //  Ids and seqs that follow on extend the run
    cr_assert_eq (dedup_record (dedup, ID (1), 11, 110, 1), 0);
    cr_assert_eq (dedup_record (dedup, ID (1), 12, 111, 5), 0);
    cr_assert_eq (dedup_runs (dedup), 1);
    //  Another client in between: the seqs jump, a new run
    cr_assert_eq (dedup_record (dedup, ID (2), 1, 116, 1), 0);
    cr_assert_eq (dedup_record (dedup, ID (1), 17, 117, 1), 0);
    cr_assert_eq (dedup_runs (dedup), 3);
    cr_assert_eq (s_lookup (dedup, ID (1), 17, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 117);
    cr_assert_eq (s_lookup (dedup, ID (2), 1, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 116);
    //  Already held ids are not recorded twice: the originals stay
    cr_assert_eq (dedup_record (dedup, ID (1), 5, 500, 20), 0);
    cr_assert_eq (s_lookup (dedup, ID (1), 5, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 104);
    cr_assert_eq (s_lookup (dedup, ID (1), 17, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 117);
    cr_assert_eq (s_lookup (dedup, ID (1), 18, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 500 + 13, "only the ids not held were added");
    cr_assert_eq (s_lookup (dedup, ID (1), 24, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 519);
    cr_assert_eq (s_lookup (dedup, ID (1), 25, &seq), DEDUP_NEW);
    //  Count 0 records nothing; optional output pointer
    cr_assert_eq (dedup_record (dedup, ID (3), 1, 1, 0), 0);
    cr_assert_eq (dedup_clients (dedup), 2);
    cr_assert_eq (dedup_lookup (dedup, ID (1), 1, NULL), DEDUP_FOUND);
    //  Extreme ids: a range is cut at 2^64 - 1
    cr_assert_eq (dedup_record (dedup, ID (4), UINT64_MAX - 1, 7, 5), 0);
    cr_assert_eq (s_lookup (dedup, ID (4), UINT64_MAX, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 8);
    cr_assert_eq (s_lookup (dedup, ID (4), 0, &seq), DEDUP_NEW);
    cr_assert_eq (dedup_record (dedup, ID (4), 0, 1, 1), 0);
    cr_assert_eq (s_lookup (dedup, ID (4), 0, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 1);
    dedup_destroy (&dedup);
}

Test (dedup, window_eviction_stale)
{
    dedup_t *dedup = dedup_new (4, 4, 100, 0);
    uint64_t seq;
    //  Runs of one (seqs jump by 10)
    for (uint64_t req = 1; req <= 10; req++)
        cr_assert_eq (dedup_record (dedup, ID (1), req, req * 10, 1), 0);
    cr_assert_eq (dedup_runs (dedup), 4);
    for (uint64_t req = 0; req <= 6; req++)
        cr_assert_eq (s_lookup (dedup, ID (1), req, &seq), DEDUP_STALE, "req %lu",
                      (unsigned long)req);
    for (uint64_t req = 7; req <= 10; req++) {
        cr_assert_eq (s_lookup (dedup, ID (1), req, &seq), DEDUP_FOUND);
        cr_assert_eq (seq, req * 10);
    }
    cr_assert_eq (s_lookup (dedup, ID (1), 11, &seq), DEDUP_NEW);
    //  The window counts ids, not runs: a batch of 6 keeps its last 4
    cr_assert_eq (dedup_record (dedup, ID (2), 1, 100, 6), 0);
    cr_assert_eq (s_lookup (dedup, ID (2), 2, &seq), DEDUP_STALE);
    cr_assert_eq (s_lookup (dedup, ID (2), 3, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 102);
    cr_assert_eq (s_lookup (dedup, ID (2), 6, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 105);
    //  Ids below the stale bound are not recorded
    cr_assert_eq (dedup_record (dedup, ID (2), 1, 900, 2), 0);
    cr_assert_eq (s_lookup (dedup, ID (2), 1, &seq), DEDUP_STALE);
    cr_assert_eq (s_lookup (dedup, ID (2), 3, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 102);
    dedup_destroy (&dedup);
}

Test (dedup, window_of_one)
{
    dedup_t *dedup = dedup_new (2, 1, 10, 0);
    uint64_t seq;
    dedup_record (dedup, ID (1), 1, 1, 1);
    dedup_record (dedup, ID (1), 2, 2, 1);
    cr_assert_eq (s_lookup (dedup, ID (1), 1, &seq), DEDUP_STALE);
    cr_assert_eq (s_lookup (dedup, ID (1), 2, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 2);
    cr_assert_eq (s_lookup (dedup, ID (1), 3, &seq), DEDUP_NEW);
    dedup_destroy (&dedup);
}

Test (dedup, window_grows_and_wraps)
{
    //  The ring starts small, grows to the window and wraps; ids with gaps
    dedup_t *dedup = dedup_new (2, 100, 1000, 0);
    uint64_t seq;
    for (uint64_t req = 1; req <= 1000; req++) {
        cr_assert_eq (dedup_record (dedup, ID (1), req * 3, req, 1), 0);
        uint64_t oldest = req > 100 ? req - 99 : 1;
        cr_assert_eq (s_lookup (dedup, ID (1), oldest * 3, &seq), DEDUP_FOUND);
        cr_assert_eq (seq, oldest);
        cr_assert_eq (s_lookup (dedup, ID (1), req * 3, &seq), DEDUP_FOUND);
        cr_assert_eq (seq, req);
        if (oldest > 1)
            cr_assert_eq (s_lookup (dedup, ID (1), oldest * 3 - 3, &seq), DEDUP_STALE);
    }
    for (uint64_t id = 0; id <= 3010; id++) {
        dedup_result_t result = s_lookup (dedup, ID (1), id, &seq);
        if (id > 3000)
            cr_assert_eq (result, DEDUP_NEW);
        else if (id <= 900 * 3) //  up to the last id dropped from the window
            cr_assert_eq (result, DEDUP_STALE, "id %lu", (unsigned long)id);
        else if (id % 3 == 0) {
            cr_assert_eq (result, DEDUP_FOUND, "id %lu", (unsigned long)id);
            cr_assert_eq (seq, id / 3);
        } else
            cr_assert_eq (result, DEDUP_NEW, "gap id %lu", (unsigned long)id);
    }
    cr_assert_eq (dedup_runs (dedup), 100);
    dedup_destroy (&dedup);
}

Test (dedup, gaps_filled_out_of_order)
{
    dedup_t *dedup = dedup_new (4, 4, 100, 0);
    uint64_t seq;
    dedup_record (dedup, ID (1), 1, 1, 1);
    dedup_record (dedup, ID (1), 2, 2, 1);
    //  3 and 4 were refused, never recorded
    dedup_record (dedup, ID (1), 5, 3, 1);
    cr_assert_eq (dedup_runs (dedup), 2, "1-2 at seqs 1-2 is one run");
    cr_assert_eq (s_lookup (dedup, ID (1), 3, &seq), DEDUP_NEW);
    cr_assert_eq (s_lookup (dedup, ID (1), 4, &seq), DEDUP_NEW);
    cr_assert_eq (s_lookup (dedup, ID (1), 5, &seq), DEDUP_FOUND);
    //  A refused request sent again is appended once and then found
    cr_assert_eq (dedup_record (dedup, ID (1), 3, 9, 1), 0);
    cr_assert_eq (s_lookup (dedup, ID (1), 3, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 9);
    cr_assert_eq (dedup_record (dedup, ID (1), 3, 10, 1), 0);
    cr_assert_eq (s_lookup (dedup, ID (1), 3, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 9, "already recorded: the original stays");
    cr_assert_eq (s_lookup (dedup, ID (1), 5, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 3, "the newer record is untouched");
    //  The window (4) is full now: 1 2 3 5. Recording 4 drops the oldest (1).
    cr_assert_eq (dedup_record (dedup, ID (1), 4, 11, 1), 0);
    cr_assert_eq (s_lookup (dedup, ID (1), 1, &seq), DEDUP_STALE);
    cr_assert_eq (s_lookup (dedup, ID (1), 4, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 11);
    //  Older than the whole window: not kept
    cr_assert_eq (dedup_record (dedup, ID (1), 1, 12, 1), 0);
    cr_assert_eq (s_lookup (dedup, ID (1), 1, &seq), DEDUP_STALE);
    //  Once the window moves past them, old ids are STALE like any other.
    dedup_record (dedup, ID (1), 6, 4, 1);
    dedup_record (dedup, ID (1), 7, 5, 1);
    dedup_record (dedup, ID (1), 8, 6, 1);
    cr_assert_eq (s_lookup (dedup, ID (1), 3, &seq), DEDUP_STALE);
    cr_assert_eq (s_lookup (dedup, ID (1), 4, &seq), DEDUP_STALE);
    cr_assert_eq (s_lookup (dedup, ID (1), 5, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 3);
    cr_assert_eq (dedup_runs (dedup), 1, "5-8 at seqs 3-6 merged into one run");
    dedup_destroy (&dedup);
}

Test (dedup, out_of_order_arrival_is_not_stale)
{
    //  One client's requests over several connections may arrive in any
    //  order: 2 before 1 is not "older than the window", nothing was dropped.
    dedup_t *dedup = dedup_new (4, 8, 100, 0);
    uint64_t seq;
    cr_assert_eq (dedup_record (dedup, ID (1), 2, 20, 1), 0);
    cr_assert_eq (s_lookup (dedup, ID (1), 1, &seq), DEDUP_NEW);
    cr_assert_eq (dedup_record (dedup, ID (1), 1, 21, 1), 0);
    cr_assert_eq (s_lookup (dedup, ID (1), 1, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 21);
    cr_assert_eq (s_lookup (dedup, ID (1), 2, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 20);
    cr_assert_eq (s_lookup (dedup, ID (1), 0, &seq), DEDUP_NEW);
    //  Out of order and following on in both ids and seqs: merged
    cr_assert_eq (dedup_record (dedup, ID (2), 4, 13, 2), 0);
    cr_assert_eq (dedup_record (dedup, ID (2), 1, 10, 3), 0);
    cr_assert_eq (dedup_runs (dedup), 3, "client 2 holds one run 1..5 at 10..14");
    cr_assert_eq (s_lookup (dedup, ID (2), 5, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 14);
    dedup_destroy (&dedup);
}

Test (dedup, lru_eviction_makes_unknown)
{
    dedup_t *dedup = dedup_new (3, 4, 100, 0);
    uint64_t seq;
    dedup_record (dedup, ID (1), 1, 1, 1);
    dedup_record (dedup, ID (2), 1, 2, 1);
    dedup_record (dedup, ID (3), 1, 3, 1);
    //  A lookup is a use: 1 becomes the most recent, 2 the least
    cr_assert_eq (s_lookup (dedup, ID (1), 1, &seq), DEDUP_FOUND);
    dedup_record (dedup, ID (4), 1, 4, 1);
    cr_assert_eq (dedup_clients (dedup), 3);
    cr_assert_eq (s_lookup (dedup, ID (2), 1, &seq), DEDUP_UNKNOWN, "2 was evicted");
    cr_assert_eq (s_lookup (dedup, ID (1), 1, &seq), DEDUP_FOUND);
    cr_assert_eq (s_lookup (dedup, ID (3), 1, &seq), DEDUP_FOUND);
    cr_assert_eq (s_lookup (dedup, ID (4), 1, &seq), DEDUP_FOUND);
    //  Order (oldest first): 1, 3, 4. A record is a use too
    dedup_record (dedup, ID (1), 2, 5, 1);
    dedup_record (dedup, ID (5), 1, 6, 1);
    cr_assert_eq (s_lookup (dedup, ID (3), 1, &seq), DEDUP_UNKNOWN, "3 was evicted");
    //  So is a NEW answer: order 4, 1, 5 -> touch 4
    cr_assert_eq (s_lookup (dedup, ID (4), 9, &seq), DEDUP_NEW);
    //  dedup_open makes a client too, evicting the least recently used (1)
    uint8_t id[DEDUP_ID_SIZE];
    cr_assert_eq (dedup_open (dedup, id), 0);
    cr_assert_eq (s_lookup (dedup, ID (1), 1, &seq), DEDUP_UNKNOWN);
    cr_assert_eq (s_lookup (dedup, ID (4), 1, &seq), DEDUP_FOUND);
    cr_assert_eq (s_lookup (dedup, ID (5), 1, &seq), DEDUP_FOUND);
    cr_assert_eq (s_lookup (dedup, id, 1, &seq), DEDUP_NEW);
    cr_assert_eq (dedup_clients (dedup), 3);
    cr_assert_eq (dedup_runs (dedup), 2);
    dedup_destroy (&dedup);
}

Test (dedup, single_client_table)
{
    dedup_t *dedup = dedup_new (1, 2, 10, 0);
    uint64_t seq;
    dedup_record (dedup, ID (1), 1, 1, 1);
    dedup_record (dedup, ID (2), 1, 2, 1);
    cr_assert_eq (dedup_clients (dedup), 1);
    cr_assert_eq (s_lookup (dedup, ID (1), 1, &seq), DEDUP_UNKNOWN);
    cr_assert_eq (s_lookup (dedup, ID (2), 1, &seq), DEDUP_FOUND);
    dedup_destroy (&dedup);
}

Test (dedup, many_clients)
{
    size_t max = 1000;
    dedup_t *dedup = dedup_new (max, 16, 100000, 0);
    uint64_t seq;
    for (uint32_t c = 0; c < 5000; c++) {
        //  3 requests each, seqs not following on: 3 runs a client
        for (uint64_t req = 1; req <= 3; req++)
            cr_assert_eq (dedup_record (dedup, ID (c), req, c * 10 + req * 2, 1), 0);
        cr_assert_leq (dedup_clients (dedup), max);
    }
    cr_assert_eq (dedup_clients (dedup), max);
    cr_assert_eq (dedup_runs (dedup), max * 3, "evicted clients' runs are gone");
    for (uint32_t c = 0; c < 5000; c++) {
        dedup_result_t result = s_lookup (dedup, ID (c), 2, &seq);
        if (c < 4000)
            cr_assert_eq (result, DEDUP_UNKNOWN, "client %u evicted", c);
        else {
            cr_assert_eq (result, DEDUP_FOUND, "client %u kept", c);
            cr_assert_eq (seq, c * 10 + 4);
        }
    }
    dedup_destroy (&dedup);
}

//  Issue 11 item 2: client X appends request 1 (seq 1), 4,200 other opened
//  clients append once each, X retries request 1: never NEW.
static void s_issue_11 (size_t max_clients, dedup_result_t expected)
{
    dedup_t *dedup = dedup_new (max_clients, DEDUP_WINDOW, DEDUP_MAX_RUNS, 42);
    uint8_t x[DEDUP_ID_SIZE];
    uint64_t seq;
    cr_assert_eq (dedup_open (dedup, x), 0);
    cr_assert_eq (s_lookup (dedup, x, 1, &seq), DEDUP_NEW);
    cr_assert_eq (dedup_record (dedup, x, 1, 1, 1), 0);
    for (uint64_t i = 0; i < 4200; i++) {
        uint8_t other[DEDUP_ID_SIZE];
        cr_assert_eq (dedup_open (dedup, other), 0);
        cr_assert_eq (s_lookup (dedup, other, 1, &seq), DEDUP_NEW);
        cr_assert_eq (dedup_record (dedup, other, 1, 2 + i, 1), 0);
    }
    dedup_result_t result = s_lookup (dedup, x, 1, &seq);
    cr_assert_neq (result, DEDUP_NEW, "a retry must never append a second copy");
    cr_assert_eq (result, expected);
    if (result == DEDUP_FOUND)
        cr_assert_eq (seq, 1);
    dedup_destroy (&dedup);
}

Test (dedup, issue_11_evicted_client_is_unknown)
{
    s_issue_11 (4096, DEDUP_UNKNOWN); //  the old bound: X was evicted
}

Test (dedup, issue_11_default_bound_keeps_the_client)
{
    s_issue_11 (DEDUP_MAX_CLIENTS, DEDUP_FOUND);
}

Test (dedup, run_budget_evicts_least_recently_used)
{
    dedup_t *dedup = dedup_new (100, 100, 6, 0);
    uint64_t seq;
    //  Clients 1, 2, 3 hold 2 runs each: the budget is full
    for (uint32_t c = 1; c <= 3; c++)
        for (uint64_t req = 1; req <= 2; req++)
            cr_assert_eq (dedup_record (dedup, ID (c), req, c * 100 + req * 2, 1), 0);
    cr_assert_eq (dedup_runs (dedup), 6);
    cr_assert_eq (dedup_clients (dedup), 3);
    //  A batch is one run whatever its size: extending a run costs nothing
    cr_assert_eq (dedup_record (dedup, ID (3), 3, 305, 50), 0);
    cr_assert_eq (dedup_runs (dedup), 6);
    cr_assert_eq (dedup_clients (dedup), 3);
    //  Touch 1: 2 is now the least recently used. One more run evicts it
    cr_assert_eq (s_lookup (dedup, ID (1), 1, &seq), DEDUP_FOUND);
    cr_assert_eq (dedup_record (dedup, ID (4), 1, 900, 1), 0);
    cr_assert_eq (dedup_runs (dedup), 5);
    cr_assert_eq (dedup_clients (dedup), 3);
    cr_assert_eq (s_lookup (dedup, ID (2), 1, &seq), DEDUP_UNKNOWN);
    cr_assert_eq (s_lookup (dedup, ID (1), 2, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 104);
    cr_assert_eq (s_lookup (dedup, ID (3), 52, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 354);
    cr_assert_eq (s_lookup (dedup, ID (4), 1, &seq), DEDUP_FOUND);
    dedup_destroy (&dedup);
}

Test (dedup, run_budget_alone_drops_own_oldest)
{
    //  One client over the whole budget gives up its oldest runs: STALE
    dedup_t *dedup = dedup_new (4, 100, 3, 0);
    uint64_t seq;
    for (uint64_t req = 1; req <= 5; req++)
        cr_assert_eq (dedup_record (dedup, ID (1), req, req * 10, 1), 0);
    cr_assert_eq (dedup_runs (dedup), 3);
    cr_assert_eq (dedup_clients (dedup), 1);
    cr_assert_eq (s_lookup (dedup, ID (1), 2, &seq), DEDUP_STALE);
    cr_assert_eq (s_lookup (dedup, ID (1), 3, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 30);
    cr_assert_eq (s_lookup (dedup, ID (1), 5, &seq), DEDUP_FOUND);
    dedup_destroy (&dedup);
}

Test (dedup, forget)
{
    dedup_t *dedup = dedup_new (16, 100, 100, 0);
    uint64_t seq;
    dedup_forget (dedup, ID (9), 1, 1); //  unknown client: nothing happens
    cr_assert_eq (dedup_clients (dedup), 0);
    cr_assert_eq (dedup_record (dedup, ID (1), 1, 100, 10), 0); //  1..10 -> 100..109
    //  The middle of a run: it splits
    dedup_forget (dedup, ID (1), 4, 2);
    cr_assert_eq (dedup_runs (dedup), 2);
    for (uint64_t r = 1; r <= 10; r++) {
        dedup_result_t result = s_lookup (dedup, ID (1), r, &seq);
        if (r == 4 || r == 5)
            cr_assert_eq (result, DEDUP_NEW, "req %lu forgotten", (unsigned long)r);
        else {
            cr_assert_eq (result, DEDUP_FOUND);
            cr_assert_eq (seq, 99 + r);
        }
    }
    //  The head and the tail of runs, across the gap
    dedup_forget (dedup, ID (1), 3, 4); //  3..6
    cr_assert_eq (s_lookup (dedup, ID (1), 3, &seq), DEDUP_NEW);
    cr_assert_eq (s_lookup (dedup, ID (1), 6, &seq), DEDUP_NEW);
    cr_assert_eq (s_lookup (dedup, ID (1), 2, &seq), DEDUP_FOUND);
    cr_assert_eq (s_lookup (dedup, ID (1), 7, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 106);
    cr_assert_eq (dedup_runs (dedup), 2);
    //  Whole runs, and ids never held, in one range
    dedup_forget (dedup, ID (1), 0, 1000);
    cr_assert_eq (dedup_runs (dedup), 0);
    cr_assert_eq (dedup_clients (dedup), 1, "the client stays known");
    cr_assert_eq (s_lookup (dedup, ID (1), 1, &seq), DEDUP_NEW);
    //  A forgotten id is recorded again with its new seq
    cr_assert_eq (dedup_record (dedup, ID (1), 4, 200, 1), 0);
    cr_assert_eq (s_lookup (dedup, ID (1), 4, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 200);
    //  Forgetting does not make anything STALE, nor does count 0 do anything
    dedup_forget (dedup, ID (1), 4, 0);
    cr_assert_eq (s_lookup (dedup, ID (1), 4, &seq), DEDUP_FOUND);
    dedup_forget (dedup, ID (1), 4, 1);
    cr_assert_eq (s_lookup (dedup, ID (1), 3, &seq), DEDUP_NEW);
    //  Up to 2^64 - 1
    cr_assert_eq (dedup_record (dedup, ID (1), UINT64_MAX - 2, 300, 3), 0);
    dedup_forget (dedup, ID (1), UINT64_MAX - 1, 10);
    cr_assert_eq (s_lookup (dedup, ID (1), UINT64_MAX - 2, &seq), DEDUP_FOUND);
    cr_assert_eq (s_lookup (dedup, ID (1), UINT64_MAX, &seq), DEDUP_NEW);
    dedup_destroy (&dedup);
}

Test (dedup, memory_is_bounded_and_reported)
{
    dedup_t *dedup = dedup_new (1000, 1000, 100000, 0);
    size_t empty = dedup_memory (dedup);
    //  1000 clients, one run each
    for (uint32_t c = 0; c < 1000; c++)
        cr_assert_eq (dedup_record (dedup, ID (c), 1, c + 1, 1), 0);
    size_t per_client = (dedup_memory (dedup) - empty) / 1000;
    //  client_t, an htab slot (3/8 to 3/4 full: 64..128 bytes), a ring of 4
    cr_assert_leq (per_client, 80 + 128 + 4 * 24, "%zu bytes a client", per_client);
    //  More clients evict; memory stays where it was
    size_t full = dedup_memory (dedup);
    for (uint32_t c = 1000; c < 3000; c++)
        cr_assert_eq (dedup_record (dedup, ID (c), 1, c + 1, 1), 0);
    cr_assert_eq (dedup_memory (dedup), full);
    //  A client with 1000 runs, then trimmed back to a few by forget: its
    //  ring shrinks with it
    uint32_t big = 5000;
    for (uint64_t req = 1; req <= 1000; req++)
        cr_assert_eq (dedup_record (dedup, ID (big), req, req * 2, 1), 0);
    size_t grown = dedup_memory (dedup);
    cr_assert_geq (grown, full + 1000 * 24);
    dedup_forget (dedup, ID (big), 5, 996);
    cr_assert_leq (dedup_memory (dedup), full + 8 * 24);
    uint64_t seq;
    cr_assert_eq (s_lookup (dedup, ID (big), 4, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 8);
    dedup_destroy (&dedup);
}

//  Random records, batches, forgets and lookups against a plain model.
static uint64_t s_rand (uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

#define MODEL_CLIENTS 6
#define MODEL_WINDOW  12
#define MODEL_IDS     600

typedef struct {
    uint64_t seq[MODEL_IDS]; //  0: not held
    uint64_t stale_below;
} model_t;

//  The model's window: keep the WINDOW highest ids held.
static void s_model_trim (model_t *m)
{
    size_t held = 0;
    for (size_t r = MODEL_IDS; r-- > 0;)
        if (m->seq[r] && ++held > MODEL_WINDOW) {
            m->seq[r] = 0;
            if (r + 1 > m->stale_below)
                m->stale_below = r + 1;
        }
}

Test (dedup, random_model)
{
    dedup_t *dedup = dedup_new (MODEL_CLIENTS, MODEL_WINDOW, 100000, 0);
    model_t *models = calloc (MODEL_CLIENTS, sizeof *models);
    cr_assert_not_null (models);
    uint64_t rng = 0xC0FFEE, next_seq = 1;
    for (int step = 0; step < 30000; step++) {
        uint32_t c = (uint32_t)(s_rand (&rng) % MODEL_CLIENTS);
        model_t *m = &models[c];
        uint64_t req = 1 + s_rand (&rng) % (MODEL_IDS - 10);
        uint64_t op = s_rand (&rng) % 10, count = 1 + s_rand (&rng) % 4, seq = 0;
        if (op < 4) {
            cr_assert_eq (dedup_record (dedup, ID (c), req, next_seq, count), 0);
            for (uint64_t i = 0; i < count; i++)
                if (req + i >= m->stale_below && !m->seq[req + i])
                    m->seq[req + i] = next_seq + i;
            next_seq += count;
            s_model_trim (m);
        } else if (op < 5) {
            dedup_forget (dedup, ID (c), req, count);
            for (uint64_t i = 0; i < count; i++)
                m->seq[req + i] = 0;
        } else {
            dedup_result_t result = s_lookup (dedup, ID (c), req, &seq);
            dedup_result_t expected = req < m->stale_below ? DEDUP_STALE
                                      : m->seq[req]        ? DEDUP_FOUND
                                                           : DEDUP_NEW;
            if (result == DEDUP_UNKNOWN) //  never recorded yet
                for (uint64_t r = 0; r < MODEL_IDS; r++)
                    cr_assert_eq (m->seq[r], 0);
            else {
                cr_assert_eq (result, expected, "client %u req %lu", c, (unsigned long)req);
                if (expected == DEDUP_FOUND)
                    cr_assert_eq (seq, m->seq[req]);
            }
        }
    }
    free (models);
    dedup_destroy (&dedup);
}
