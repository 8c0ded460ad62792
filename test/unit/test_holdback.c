/*  test_holdback.c - the out-of-order buffer of record batches: holds,
    duplicates and overlaps, bounds and eviction, drains, stale discards.

    The buffer only reads first_seq, count, bytes and size of a record, so
    the records here are made by hand: their bytes are a pattern derived
    from first_seq, checked when they come back.
*/
#include "holdback.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define BYTES_MAX 64

typedef struct {
    uint8_t bytes[BYTES_MAX];
    record_t record;
} sample_t;

static size_t s_size_of (uint64_t first)
{
    return 8 + first % (BYTES_MAX - 8);
}

static const record_t *s_make (sample_t *sample, uint64_t first, uint32_t count)
{
    size_t size = s_size_of (first);
    for (size_t i = 0; i < size; i++)
        sample->bytes[i] = (uint8_t)(first * 31 + i * 7 + count);
    memset (&sample->record, 0, sizeof sample->record);
    sample->record.bytes = sample->bytes;
    sample->record.size = size;
    sample->record.first_seq = first;
    sample->record.count = count;
    sample->record.epoch = 1;
    return &sample->record;
}

static holdback_result_t s_put (holdback_t *holdback, uint64_t next, uint64_t first, uint32_t count)
{
    sample_t sample;
    return holdback_put (holdback, next, s_make (&sample, first, count));
}

//  Drain receiver: records (first, count) handed over, checks the bytes,
//  may refuse the record that starts at REFUSE.
typedef struct {
    uint64_t first[4096];
    uint32_t count[4096];
    size_t records;
    uint64_t refuse;
} sink_t;

static int s_sink (void *arg, const uint8_t *bytes, size_t size, uint64_t first, uint32_t count)
{
    sink_t *sink = (sink_t *)arg;
    if (first == sink->refuse)
        return 1;
    sample_t expected;
    s_make (&expected, first, count);
    cr_assert_eq (size, expected.record.size, "size of %lu", (unsigned long)first);
    cr_assert_eq (memcmp (bytes, expected.bytes, size), 0, "bytes of %lu", (unsigned long)first);
    cr_assert_lt (sink->records, 4096);
    sink->first[sink->records] = first;
    sink->count[sink->records] = count;
    sink->records++;
    return 0;
}

Test (holdback, new_destroy)
{
    holdback_t *holdback = holdback_new (1, 1);
    cr_assert_not_null (holdback);
    cr_assert_eq (holdback_records (holdback), 0);
    cr_assert_eq (holdback_bytes (holdback), 0);
    cr_assert_eq (holdback_entries (holdback), 0);
    cr_assert_eq (holdback_lowest (holdback), 0);
    cr_assert_eq (holdback_discarded (holdback), 0);
    holdback_destroy (&holdback);
    cr_assert_null (holdback);
    holdback_destroy (&holdback);
}

Test (holdback, out_of_order_records_drain_in_order)
{
    holdback_t *holdback = holdback_new (16, 4096);
    sink_t sink = {.records = 0};
    cr_assert_eq (s_put (holdback, 1, 5, 3), HOLDBACK_HELD); //  5..7
    cr_assert_eq (s_put (holdback, 1, 8, 1), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 1, 2, 3), HOLDBACK_HELD); //  2..4
    cr_assert_eq (holdback_records (holdback), 3);
    cr_assert_eq (holdback_entries (holdback), 7);
    cr_assert_eq (holdback_bytes (holdback), s_size_of (5) + s_size_of (8) + s_size_of (2));
    cr_assert_eq (holdback_lowest (holdback), 2);
    cr_assert_eq (holdback_drain (holdback, 1, s_sink, &sink), 0, "1 is missing");
    cr_assert_eq (holdback_records (holdback), 3);
    //  A record at NEXT may be held too
    cr_assert_eq (s_put (holdback, 1, 1, 1), HOLDBACK_HELD);
    cr_assert_eq (holdback_lowest (holdback), 1);
    cr_assert_eq (holdback_drain (holdback, 1, s_sink, &sink), 4);
    cr_assert_eq (sink.records, 4);
    uint64_t firsts[] = {1, 2, 5, 8};
    uint32_t counts[] = {1, 3, 3, 1};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq (sink.first[i], firsts[i]);
        cr_assert_eq (sink.count[i], counts[i]);
    }
    cr_assert_eq (holdback_records (holdback), 0);
    cr_assert_eq (holdback_bytes (holdback), 0);
    cr_assert_eq (holdback_entries (holdback), 0);
    cr_assert_eq (holdback_lowest (holdback), 0);
    cr_assert_eq (holdback_discarded (holdback), 0);

    //  A gap between held records stops the drain at the gap
    sink.records = 0;
    cr_assert_eq (s_put (holdback, 9, 10, 2), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 9, 14, 1), HOLDBACK_HELD);
    cr_assert_eq (holdback_drain (holdback, 10, s_sink, &sink), 1);
    cr_assert_eq (holdback_lowest (holdback), 14);
    cr_assert_eq (holdback_drain (holdback, 12, s_sink, &sink), 0);
    cr_assert_eq (holdback_drain (holdback, 14, s_sink, &sink), 1);
    cr_assert_eq (sink.records, 2);
    holdback_destroy (&holdback);
}

Test (holdback, bytes_are_copied)
{
    holdback_t *holdback = holdback_new (8, 4096);
    sample_t sample;
    cr_assert_eq (holdback_put (holdback, 1, s_make (&sample, 3, 2)), HOLDBACK_HELD);
    memset (&sample, 0xAA, sizeof sample); //  the frame dies
    sink_t sink = {.records = 0};
    cr_assert_eq (holdback_drain (holdback, 3, s_sink, &sink), 1);
    cr_assert_eq (sink.first[0], 3);
    //  Destroy frees what is held
    cr_assert_eq (s_put (holdback, 1, 7, 1), HOLDBACK_HELD);
    holdback_destroy (&holdback);
}

Test (holdback, duplicates_and_overlaps)
{
    holdback_t *holdback = holdback_new (16, 4096);
    cr_assert_eq (s_put (holdback, 10, 9, 1), HOLDBACK_DUP, "ends below next");
    cr_assert_eq (s_put (holdback, 10, 5, 5), HOLDBACK_DUP, "ends right below next");
    cr_assert_eq (s_put (holdback, 10, 8, 4), HOLDBACK_DUP, "straddles next");
    cr_assert_eq (s_put (holdback, 10, 20, 5), HOLDBACK_HELD); //  20..24
    cr_assert_eq (s_put (holdback, 10, 20, 5), HOLDBACK_DUP, "already held");
    cr_assert_eq (s_put (holdback, 10, 20, 1), HOLDBACK_DUP, "same first, other size");
    cr_assert_eq (s_put (holdback, 10, 22, 1), HOLDBACK_DUP, "inside a held one");
    cr_assert_eq (s_put (holdback, 10, 24, 3), HOLDBACK_DUP, "overlaps its end");
    cr_assert_eq (s_put (holdback, 10, 18, 3), HOLDBACK_DUP, "overlaps its start");
    cr_assert_eq (s_put (holdback, 10, 15, 20), HOLDBACK_DUP, "covers it");
    cr_assert_eq (s_put (holdback, 10, 18, 2), HOLDBACK_HELD, "right before it");
    cr_assert_eq (s_put (holdback, 10, 25, 1), HOLDBACK_HELD, "right after it");
    cr_assert_eq (s_put (holdback, 10, 30, 1), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 10, 26, 5), HOLDBACK_DUP, "overlaps the next one");
    cr_assert_eq (s_put (holdback, 11, 20, 5), HOLDBACK_DUP, "already held, next moved");
    cr_assert_eq (holdback_records (holdback), 4);
    cr_assert_eq (holdback_entries (holdback), 9);
    cr_assert_eq (holdback_discarded (holdback), 0, "refusals are not discards");
    holdback_destroy (&holdback);
}

Test (holdback, record_bound)
{
    holdback_t *holdback = holdback_new (3, 1 << 20);
    cr_assert_eq (s_put (holdback, 1, 10, 1), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 1, 20, 1), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 1, 30, 1), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 1, 40, 1), HOLDBACK_FULL, "above all held: refused");
    cr_assert_eq (holdback_records (holdback), 3);
    //  A lower one evicts the highest: it drains sooner
    cr_assert_eq (s_put (holdback, 1, 25, 1), HOLDBACK_HELD);
    cr_assert_eq (holdback_records (holdback), 3);
    cr_assert_eq (s_put (holdback, 1, 5, 1), HOLDBACK_HELD);
    cr_assert_eq (holdback_records (holdback), 3);
    cr_assert_eq (holdback_discarded (holdback), 0, "evictions are not discards");
    sink_t sink = {.records = 0};
    cr_assert_eq (holdback_drain (holdback, 5, s_sink, &sink), 1);
    cr_assert_eq (holdback_drain (holdback, 10, s_sink, &sink), 1);
    cr_assert_eq (holdback_drain (holdback, 20, s_sink, &sink), 1);
    cr_assert_eq (holdback_lowest (holdback), 0, "30 and 25 were evicted");
    holdback_destroy (&holdback);

    //  One record at most
    holdback = holdback_new (1, 1 << 20);
    cr_assert_eq (s_put (holdback, 1, 9, 2), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 1, 12, 1), HOLDBACK_FULL);
    cr_assert_eq (s_put (holdback, 1, 3, 1), HOLDBACK_HELD);
    cr_assert_eq (holdback_lowest (holdback), 3);
    cr_assert_eq (holdback_entries (holdback), 1);
    holdback_destroy (&holdback);
}

Test (holdback, byte_bound)
{
    //  Records 10, 11, 12 take 18, 19 and 20 bytes
    holdback_t *holdback = holdback_new (100, 40);
    cr_assert_eq (s_put (holdback, 1, 10, 1), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 1, 11, 1), HOLDBACK_HELD);
    cr_assert_eq (holdback_bytes (holdback), 37);
    cr_assert_eq (s_put (holdback, 1, 12, 1), HOLDBACK_FULL);
    //  Lower ones evict the highest until they fit
    cr_assert_eq (s_put (holdback, 1, 2, 1), HOLDBACK_HELD, "10 bytes: evicts 11");
    cr_assert_eq (holdback_records (holdback), 2);
    cr_assert_eq (holdback_bytes (holdback), 28);
    cr_assert_eq (s_put (holdback, 1, 5, 5), HOLDBACK_HELD, "13 bytes: evicts 10");
    cr_assert_eq (holdback_records (holdback), 2);
    cr_assert_eq (holdback_lowest (holdback), 2);
    cr_assert_eq (holdback_bytes (holdback), 23);
    //  A record larger than the whole bound never fits, even evicting all
    cr_assert_eq (s_put (holdback, 1, 55, 1), HOLDBACK_FULL, "63 bytes > 40");
    cr_assert_eq (holdback_records (holdback), 2);
    holdback_destroy (&holdback);
}

Test (holdback, drain_stops_when_refused)
{
    holdback_t *holdback = holdback_new (16, 4096);
    for (uint64_t first = 1; first <= 11; first += 2)
        cr_assert_eq (s_put (holdback, 1, first, 2), HOLDBACK_HELD);
    sink_t sink = {.records = 0, .refuse = 5};
    cr_assert_eq (holdback_drain (holdback, 1, s_sink, &sink), 2);
    cr_assert_eq (holdback_records (holdback), 4, "5..6 stays held");
    cr_assert_eq (holdback_lowest (holdback), 5);
    cr_assert_eq (holdback_drain (holdback, 5, s_sink, &sink), 0, "refused again");
    sink.refuse = 0;
    cr_assert_eq (holdback_drain (holdback, 5, s_sink, &sink), 4);
    cr_assert_eq (sink.records, 6);
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq (sink.first[i], 1 + 2 * i);
    holdback_destroy (&holdback);
}

Test (holdback, stale_and_straddling_records_are_discarded)
{
    holdback_t *holdback = holdback_new (16, 4096);
    sink_t sink = {.records = 0};
    cr_assert_eq (s_put (holdback, 1, 5, 2), HOLDBACK_HELD);  //  5..6
    cr_assert_eq (s_put (holdback, 1, 9, 3), HOLDBACK_HELD);  //  9..11
    cr_assert_eq (s_put (holdback, 1, 14, 1), HOLDBACK_HELD); //  14
    //  The log got 1..7 another way: 5..6 is stale
    cr_assert_eq (holdback_drain (holdback, 8, s_sink, &sink), 0);
    cr_assert_eq (holdback_discarded (holdback), 2);
    cr_assert_eq (holdback_lowest (holdback), 9);
    //  The log reached 10: 9..11 straddles it, never a record of this log
    cr_assert_eq (holdback_drain (holdback, 10, s_sink, &sink), 0);
    cr_assert_eq (holdback_discarded (holdback), 5);
    cr_assert_eq (holdback_lowest (holdback), 14);
    cr_assert_eq (holdback_entries (holdback), 1);
    //  A put with a later next discards stale records first
    cr_assert_eq (s_put (holdback, 14, 20, 1), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 15, 22, 1), HOLDBACK_HELD);
    cr_assert_eq (holdback_discarded (holdback), 6);
    cr_assert_eq (holdback_lowest (holdback), 20);
    cr_assert_eq (holdback_records (holdback), 2);
    //  Handing one over moves on to the record right after it
    cr_assert_eq (s_put (holdback, 15, 15, 6), HOLDBACK_DUP, "15..20 overlaps 20");
    cr_assert_eq (s_put (holdback, 15, 15, 5), HOLDBACK_HELD);
    cr_assert_eq (holdback_drain (holdback, 15, s_sink, &sink), 2);
    cr_assert_eq (sink.first[0], 15);
    cr_assert_eq (sink.first[1], 20);
    cr_assert_eq (holdback_lowest (holdback), 22);
    holdback_destroy (&holdback);
}

Test (holdback, clear)
{
    holdback_t *holdback = holdback_new (32, 1 << 16);
    for (uint64_t first = 3; first < 60; first += 4)
        s_put (holdback, 1, first, 2);
    cr_assert_eq (holdback_records (holdback), 15);
    holdback_clear (holdback);
    cr_assert_eq (holdback_records (holdback), 0);
    cr_assert_eq (holdback_bytes (holdback), 0);
    cr_assert_eq (holdback_entries (holdback), 0);
    cr_assert_eq (holdback_lowest (holdback), 0);
    cr_assert_eq (holdback_discarded (holdback), 0);
    holdback_clear (holdback);
    //  Usable afterwards, from any next
    cr_assert_eq (s_put (holdback, 1, 3, 1), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 1, 1, 2), HOLDBACK_HELD);
    sink_t sink = {.records = 0};
    cr_assert_eq (holdback_drain (holdback, 1, s_sink, &sink), 2);
    holdback_destroy (&holdback);
}

//  ---------------------------------------------------------------------
//  Randomized: a log cut into records, arriving shuffled with duplicates,
//  against a model of what the buffer must hold.

static uint64_t s_rand (uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

typedef struct {
    uint32_t *count_at; //  count_at[first]: the record starting there, 0 if none
    bool *held;         //  held[first]: the model thinks it is held
    uint64_t n;         //  seqs 1..n
    uint64_t next;
    uint64_t rng;
    size_t max_records;
    size_t stats[4];
} sim_t;

static int s_receive (void *arg, const uint8_t *bytes, size_t size, uint64_t first, uint32_t count)
{
    sim_t *sim = (sim_t *)arg;
    if (s_rand (&sim->rng) % 40 == 0)
        return 1; //  the store refuses now and then: the record stays
    cr_assert_eq (first, sim->next);
    cr_assert_eq (count, sim->count_at[first]);
    sample_t expected;
    s_make (&expected, first, count);
    cr_assert_eq (size, expected.record.size);
    cr_assert_eq (memcmp (bytes, expected.bytes, size), 0);
    sim->held[first] = false;
    sim->next += count;
    return 0;
}

//  What the model holds, from NEXT on: records, entries, lowest.
static void s_check_model (sim_t *sim, holdback_t *holdback)
{
    size_t records = 0;
    uint64_t entries = 0, lowest = 0;
    for (uint64_t s = 1; s <= sim->n; s++)
        if (sim->held[s] && s < sim->next)
            sim->held[s] = false; //  discarded as stale by the buffer
    for (uint64_t s = sim->next; s <= sim->n; s++)
        if (sim->held[s]) {
            lowest = lowest ? lowest : s;
            records++;
            entries += sim->count_at[s];
        }
    cr_assert_eq (holdback_records (holdback), records, "records at next %lu",
                  (unsigned long)sim->next);
    cr_assert_eq (holdback_entries (holdback), entries);
    cr_assert_eq (holdback_lowest (holdback), lowest);
}

//  A put as the model predicts it; an eviction marks the evicted record.
static void s_arrive (sim_t *sim, holdback_t *holdback, uint64_t first)
{
    uint32_t count = sim->count_at[first];
    holdback_result_t expected = HOLDBACK_HELD;
    size_t held_now = 0;
    uint64_t highest = 0;
    for (uint64_t s = sim->next; s <= sim->n; s++)
        if (sim->held[s]) {
            held_now++;
            highest = s;
        }
    if (first < sim->next || sim->held[first])
        expected = HOLDBACK_DUP;
    else if (held_now >= sim->max_records && highest < first)
        expected = HOLDBACK_FULL;
    holdback_result_t result = s_put (holdback, sim->next, first, count);
    cr_assert_eq (result, expected, "first %lu next %lu", (unsigned long)first,
                  (unsigned long)sim->next);
    sim->stats[result]++;
    if (result == HOLDBACK_HELD) {
        if (held_now >= sim->max_records)
            sim->held[highest] = false; //  evicted for a lower one
        sim->held[first] = true;
    }
}

static void s_random_run (uint64_t seed, size_t max_records, uint64_t n)
{
    sim_t sim = {.n = n, .next = 1, .rng = seed, .max_records = max_records};
    sim.count_at = (uint32_t *)calloc (n + 2, sizeof (uint32_t));
    sim.held = (bool *)calloc (n + 2, sizeof (bool));
    uint64_t *firsts = (uint64_t *)malloc ((n + 1) * sizeof (uint64_t));
    cr_assert (sim.count_at && sim.held && firsts);
    size_t nrecords = 0;
    for (uint64_t s = 1; s <= n;) {
        uint32_t count = 1 + (uint32_t)(s_rand (&sim.rng) % 5);
        if (s + count - 1 > n)
            count = (uint32_t)(n - s + 1);
        sim.count_at[s] = count;
        firsts[nrecords++] = s;
        s += count;
    }
    holdback_t *holdback = holdback_new (max_records, SIZE_MAX);
    cr_assert_not_null (holdback);
    size_t cursor = 0;
    while (sim.next <= n) {
        uint64_t roll = s_rand (&sim.rng) % 16;
        if (roll < 11 && cursor < nrecords) {
            //  The live stream, mostly in order, some records lost, some
            //  swapped, some repeated
            size_t pick = cursor + s_rand (&sim.rng) % 3;
            if (pick >= nrecords)
                pick = nrecords - 1;
            if (s_rand (&sim.rng) % 5)
                s_arrive (&sim, holdback, firsts[pick]);
            cursor += s_rand (&sim.rng) % 2 ? 1 : 0;
        } else if (roll < 13) {
            //  A duplicate or a late one from anywhere below the cursor
            size_t pick = (size_t)(s_rand (&sim.rng) % (cursor + 1));
            s_arrive (&sim, holdback, firsts[pick < nrecords ? pick : nrecords - 1]);
        } else {
            //  The fetch of the gap: records from next on, held in turn
            for (uint64_t s = sim.next; s <= n && s < sim.next + 12; s += sim.count_at[s])
                s_arrive (&sim, holdback, s);
            if (cursor < nrecords && firsts[cursor] < sim.next)
                while (cursor < nrecords && firsts[cursor] < sim.next)
                    cursor++;
        }
        holdback_drain (holdback, sim.next, s_receive, &sim);
        s_check_model (&sim, holdback);
    }
    cr_assert_eq (sim.next, n + 1);
    cr_assert_gt (sim.stats[HOLDBACK_HELD], 0);
    cr_assert_gt (sim.stats[HOLDBACK_DUP], 0);
    if (max_records < 8)
        cr_assert_gt (sim.stats[HOLDBACK_FULL], 0);
    holdback_destroy (&holdback);
    free (firsts);
    free (sim.held);
    free (sim.count_at);
}

Test (holdback, random_shuffled_with_duplicates)
{
    s_random_run (1, 64, 3000);
    s_random_run (42, 5, 2000);
    s_random_run (0x5EED, 1, 800);
    s_random_run (977, 1000, 5000);
}
