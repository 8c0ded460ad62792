/*  test_holdback.c - out-of-order buffer: holds, duplicates, bounds, drains.
 */
#include "holdback.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Each seq gets a distinct payload and client id, so order and content
//  can be checked from the seq alone.
typedef struct {
    uint8_t id[8];
    uint8_t data[40];
    entry_t entry;
} sample_t;

static size_t s_size_of (uint64_t seq)
{
    return 1 + seq % 40;
}

static const entry_t *s_sample (sample_t *sample, uint64_t seq)
{
    size_t size = s_size_of (seq);
    for (size_t i = 0; i < size; i++)
        sample->data[i] = (uint8_t)(seq * 31 + i * 7); //  includes NULs
    memcpy (sample->id, &seq, sizeof sample->id);
    sample->entry = (entry_t){seq / 100, seq + 1000, sample->id, seq % 9, sample->data, size};
    return &sample->entry;
}

static void s_check_entry (uint64_t seq, const entry_t *entry)
{
    sample_t expected;
    s_sample (&expected, seq);
    cr_assert_eq (entry->epoch, seq / 100);
    cr_assert_eq (entry->req_id, seq + 1000);
    cr_assert_eq (entry->size, s_size_of (seq));
    cr_assert_eq (memcmp (entry->data, expected.data, entry->size), 0, "seq %lu",
                  (unsigned long)seq);
    cr_assert_eq (entry->client_id_size, seq % 9);
    if (entry->client_id_size)
        cr_assert_eq (memcmp (entry->client_id, expected.id, entry->client_id_size), 0);
}

static holdback_result_t s_put (holdback_t *holdback, uint64_t next, uint64_t seq)
{
    sample_t sample;
    return holdback_put (holdback, next, seq, s_sample (&sample, seq));
}

//  Drain receiver: records seqs, checks content, may refuse at a seq.
typedef struct {
    uint64_t seqs[4096];
    size_t count;
    uint64_t refuse; //  return non-zero for this seq (0 = never)
} sink_t;

static int s_sink (uint64_t seq, const entry_t *entry, void *arg)
{
    sink_t *sink = (sink_t *)arg;
    if (seq == sink->refuse)
        return 1;
    s_check_entry (seq, entry);
    cr_assert_lt (sink->count, 4096);
    sink->seqs[sink->count++] = seq;
    return 0;
}

Test (holdback, new_destroy)
{
    holdback_t *holdback = holdback_new (1);
    cr_assert_not_null (holdback);
    cr_assert_eq (holdback_capacity (holdback), 1);
    cr_assert_eq (holdback_size (holdback), 0);
    cr_assert_eq (holdback_lowest (holdback), 0);
    holdback_destroy (&holdback);
    cr_assert_null (holdback);
    holdback_destroy (&holdback);

    size_t caps[][2] = {{2, 2}, {3, 4}, {5, 8}, {64, 64}, {65, 128}, {1000, 1024}};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        holdback = holdback_new (caps[i][0]);
        cr_assert_eq (holdback_capacity (holdback), caps[i][1]);
        holdback_destroy (&holdback);
    }
}

Test (holdback, in_order_and_out_of_order)
{
    holdback_t *holdback = holdback_new (16);
    sink_t sink = {.count = 0};
    //  Out of order ahead of a gap at 1
    cr_assert_eq (s_put (holdback, 1, 4), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 1, 2), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 1, 3), HOLDBACK_HELD);
    cr_assert_eq (holdback_size (holdback), 3);
    cr_assert_eq (holdback_lowest (holdback), 2);
    cr_assert_eq (holdback_drain (holdback, 1, s_sink, &sink), 0, "1 is missing");
    cr_assert_eq (holdback_size (holdback), 3);
    //  seq == next may be held too
    cr_assert_eq (s_put (holdback, 1, 1), HOLDBACK_HELD);
    cr_assert_eq (holdback_lowest (holdback), 1);
    cr_assert_eq (holdback_drain (holdback, 1, s_sink, &sink), 4);
    cr_assert_eq (sink.count, 4);
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq (sink.seqs[i], i + 1);
    cr_assert_eq (holdback_size (holdback), 0);
    cr_assert_eq (holdback_lowest (holdback), 0);

    //  In order, with a gap in the middle
    sink.count = 0;
    cr_assert_eq (s_put (holdback, 5, 5), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 5, 6), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 5, 8), HOLDBACK_HELD);
    cr_assert_eq (holdback_drain (holdback, 5, s_sink, &sink), 2);
    cr_assert_eq (holdback_lowest (holdback), 8);
    cr_assert_eq (s_put (holdback, 7, 7), HOLDBACK_HELD);
    cr_assert_eq (holdback_drain (holdback, 7, s_sink, &sink), 2);
    cr_assert_eq (sink.count, 4);
    cr_assert_eq (sink.seqs[0], 5);
    cr_assert_eq (sink.seqs[1], 6);
    cr_assert_eq (sink.seqs[2], 7);
    cr_assert_eq (sink.seqs[3], 8);
    cr_assert_eq (holdback_drain (holdback, 9, s_sink, &sink), 0, "empty");
    holdback_destroy (&holdback);
}

Test (holdback, entries_are_copied)
{
    holdback_t *holdback = holdback_new (8);
    sample_t sample;
    cr_assert_eq (holdback_put (holdback, 1, 3, s_sample (&sample, 3)), HOLDBACK_HELD);
    memset (&sample, 0xAA, sizeof sample); //  the frame dies
    sink_t sink = {.count = 0};
    cr_assert_eq (s_put (holdback, 1, 1), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 1, 2), HOLDBACK_HELD);
    cr_assert_eq (holdback_drain (holdback, 1, s_sink, &sink), 3);
    //  Empty client id and NULL pointer for it
    entry_t entry = {1, 2, NULL, 0, (const uint8_t *)"\0z", 2};
    cr_assert_eq (holdback_put (holdback, 4, 5, &entry), HOLDBACK_HELD);
    holdback_destroy (&holdback); //  frees what is held
}

Test (holdback, duplicates)
{
    holdback_t *holdback = holdback_new (8);
    cr_assert_eq (s_put (holdback, 10, 9), HOLDBACK_DUP, "below next");
    cr_assert_eq (s_put (holdback, 10, 0), HOLDBACK_DUP);
    cr_assert_eq (s_put (holdback, 10, 12), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 10, 12), HOLDBACK_DUP, "already held");
    cr_assert_eq (s_put (holdback, 11, 12), HOLDBACK_DUP, "already held, next moved");
    cr_assert_eq (s_put (holdback, 10, 10), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 10, 10), HOLDBACK_DUP);
    cr_assert_eq (holdback_size (holdback), 2);
    holdback_destroy (&holdback);
}

Test (holdback, full_boundary)
{
    holdback_t *holdback = holdback_new (8);
    cr_assert_eq (s_put (holdback, 100, 108), HOLDBACK_FULL);
    cr_assert_eq (s_put (holdback, 100, UINT64_MAX), HOLDBACK_FULL);
    cr_assert_eq (s_put (holdback, 100, 107), HOLDBACK_HELD, "next + capacity - 1");
    cr_assert_eq (s_put (holdback, 100, 108), HOLDBACK_FULL, "next + capacity");
    for (uint64_t seq = 101; seq < 107; seq++)
        cr_assert_eq (s_put (holdback, 100, seq), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 100, 100), HOLDBACK_HELD);
    cr_assert_eq (holdback_size (holdback), 8);
    cr_assert_eq (holdback_lowest (holdback), 100);
    cr_assert_eq (s_put (holdback, 100, 108), HOLDBACK_FULL);
    //  Once next moves on, room frees up
    sink_t sink = {.count = 0, .refuse = 104};
    cr_assert_eq (holdback_drain (holdback, 100, s_sink, &sink), 4);
    cr_assert_eq (s_put (holdback, 104, 111), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 104, 112), HOLDBACK_FULL);
    cr_assert_eq (holdback_size (holdback), 5);
    holdback_destroy (&holdback);

    //  Capacity one: only next itself fits
    holdback = holdback_new (1);
    cr_assert_eq (s_put (holdback, 5, 6), HOLDBACK_FULL);
    cr_assert_eq (s_put (holdback, 5, 5), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 5, 5), HOLDBACK_DUP);
    sink.count = 0;
    sink.refuse = 0;
    cr_assert_eq (holdback_drain (holdback, 5, s_sink, &sink), 1);
    cr_assert_eq (s_put (holdback, 6, 6), HOLDBACK_HELD);
    holdback_destroy (&holdback);
}

Test (holdback, drain_stops_early)
{
    holdback_t *holdback = holdback_new (16);
    for (uint64_t seq = 1; seq <= 6; seq++)
        s_put (holdback, 1, seq);
    sink_t sink = {.count = 0, .refuse = 3};
    cr_assert_eq (holdback_drain (holdback, 1, s_sink, &sink), 2);
    cr_assert_eq (sink.count, 2);
    cr_assert_eq (holdback_size (holdback), 4, "3 stays held");
    cr_assert_eq (holdback_lowest (holdback), 3);
    //  Refused again
    cr_assert_eq (holdback_drain (holdback, 3, s_sink, &sink), 0);
    cr_assert_eq (holdback_size (holdback), 4);
    sink.refuse = 0;
    cr_assert_eq (holdback_drain (holdback, 3, s_sink, &sink), 4);
    cr_assert_eq (sink.count, 6);
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq (sink.seqs[i], i + 1);
    cr_assert_eq (holdback_size (holdback), 0);
    holdback_destroy (&holdback);
}

Test (holdback, discard_below_next)
{
    holdback_t *holdback = holdback_new (16);
    sink_t sink = {.count = 0};
    s_put (holdback, 1, 5);
    s_put (holdback, 1, 6);
    s_put (holdback, 1, 9);
    s_put (holdback, 1, 12);
    //  The receiver got 1..7 some other way: 5 and 6 are stale
    cr_assert_eq (holdback_drain (holdback, 8, s_sink, &sink), 0);
    cr_assert_eq (holdback_size (holdback), 2);
    cr_assert_eq (holdback_lowest (holdback), 9);
    //  Same when the drain itself moves past them: 9 handed, 12 kept
    s_put (holdback, 8, 8);
    cr_assert_eq (holdback_drain (holdback, 8, s_sink, &sink), 2);
    cr_assert_eq (holdback_size (holdback), 1);
    cr_assert_eq (holdback_lowest (holdback), 12);
    //  A jump by more than the capacity discards everything below
    s_put (holdback, 10, 20);
    s_put (holdback, 10, 25);
    cr_assert_eq (holdback_drain (holdback, 100, s_sink, &sink), 0);
    cr_assert_eq (holdback_size (holdback), 0);
    cr_assert_eq (holdback_lowest (holdback), 0);
    cr_assert_eq (sink.count, 2);
    //  A put with a later next drops stale entries as well
    s_put (holdback, 100, 100);
    s_put (holdback, 100, 102);
    s_put (holdback, 101, 104); //  the receiver took 100 directly
    cr_assert_eq (holdback_size (holdback), 2);
    cr_assert_eq (holdback_lowest (holdback), 102);
    cr_assert_eq (s_put (holdback, 103, 102), HOLDBACK_DUP);
    cr_assert_eq (holdback_size (holdback), 1);
    cr_assert_eq (holdback_lowest (holdback), 104);
    holdback_destroy (&holdback);
}

Test (holdback, stale_slot_replaced)
{
    //  An entry left below next shares a slot with a new one: the put wins
    holdback_t *holdback = holdback_new (4);
    cr_assert_eq (s_put (holdback, 1, 3), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 5, 7), HOLDBACK_HELD); //  slot of 3
    cr_assert_eq (holdback_size (holdback), 1);
    cr_assert_eq (holdback_lowest (holdback), 7);
    sink_t sink = {.count = 0};
    cr_assert_eq (s_put (holdback, 5, 5), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 5, 6), HOLDBACK_HELD);
    cr_assert_eq (holdback_drain (holdback, 5, s_sink, &sink), 3);
    cr_assert_eq (sink.seqs[2], 7);
    holdback_destroy (&holdback);
}

Test (holdback, next_goes_backwards)
{
    //  Not the normal use, but lowest must stay right
    holdback_t *holdback = holdback_new (8);
    sink_t sink = {.count = 0};
    cr_assert_eq (s_put (holdback, 100, 107), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 1, 1), HOLDBACK_HELD);
    cr_assert_eq (holdback_lowest (holdback), 1);
    cr_assert_eq (holdback_drain (holdback, 1, s_sink, &sink), 1);
    cr_assert_eq (holdback_lowest (holdback), 107);
    cr_assert_eq (s_put (holdback, 2, 4), HOLDBACK_HELD);
    cr_assert_eq (holdback_lowest (holdback), 4);
    cr_assert_eq (holdback_size (holdback), 2);
    //  Same slot as 107, which is a lap ahead: the nearer one takes it
    cr_assert_eq (s_put (holdback, 2, 3), HOLDBACK_HELD);
    cr_assert_eq (holdback_size (holdback), 2);
    cr_assert_eq (holdback_lowest (holdback), 3);
    sink.count = 0;
    cr_assert_eq (holdback_drain (holdback, 3, s_sink, &sink), 2);
    cr_assert_eq (holdback_size (holdback), 0);
    holdback_destroy (&holdback);
}

Test (holdback, lowest_tracking)
{
    holdback_t *holdback = holdback_new (64);
    sink_t sink = {.count = 0};
    cr_assert_eq (holdback_lowest (holdback), 0);
    s_put (holdback, 1, 50);
    cr_assert_eq (holdback_lowest (holdback), 50);
    s_put (holdback, 1, 60);
    cr_assert_eq (holdback_lowest (holdback), 50);
    s_put (holdback, 1, 30);
    cr_assert_eq (holdback_lowest (holdback), 30);
    s_put (holdback, 1, 31);
    //  Fill 1..29: drain takes 1..31 and the lowest jumps to 50
    for (uint64_t seq = 1; seq < 30; seq++)
        s_put (holdback, 1, seq);
    cr_assert_eq (holdback_lowest (holdback), 1);
    cr_assert_eq (holdback_drain (holdback, 1, s_sink, &sink), 31);
    cr_assert_eq (holdback_lowest (holdback), 50);
    //  Lowest across the ring's wrap point (slot 63 -> 0)
    s_put (holdback, 32, 63);
    s_put (holdback, 32, 65);
    cr_assert_eq (holdback_lowest (holdback), 50);
    cr_assert_eq (holdback_drain (holdback, 51, s_sink, &sink), 0); //  drops 50
    cr_assert_eq (holdback_lowest (holdback), 60);
    cr_assert_eq (holdback_drain (holdback, 64, s_sink, &sink), 0); //  drops 60, 63
    cr_assert_eq (holdback_lowest (holdback), 65);
    cr_assert_eq (holdback_size (holdback), 1);
    holdback_destroy (&holdback);
}

Test (holdback, clear)
{
    holdback_t *holdback = holdback_new (32);
    for (uint64_t seq = 3; seq < 30; seq += 2)
        s_put (holdback, 1, seq);
    cr_assert_eq (holdback_size (holdback), 14);
    holdback_clear (holdback);
    cr_assert_eq (holdback_size (holdback), 0);
    cr_assert_eq (holdback_lowest (holdback), 0);
    holdback_clear (holdback);
    //  Usable afterwards, from any next
    cr_assert_eq (s_put (holdback, 1, 3), HOLDBACK_HELD);
    cr_assert_eq (holdback_lowest (holdback), 3);
    sink_t sink = {.count = 0};
    cr_assert_eq (s_put (holdback, 1, 1), HOLDBACK_HELD);
    cr_assert_eq (s_put (holdback, 1, 2), HOLDBACK_HELD);
    cr_assert_eq (holdback_drain (holdback, 1, s_sink, &sink), 3);
    holdback_destroy (&holdback);
}

//  Deterministic PRNG for the randomized test.
static uint64_t s_rand (uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

typedef struct {
    uint64_t *out;
    size_t count;
    uint64_t next;
    uint64_t rng;
} receiver_t;

static int s_receive (uint64_t seq, const entry_t *entry, void *arg)
{
    receiver_t *receiver = (receiver_t *)arg;
    if (s_rand (&receiver->rng) % 50 == 0)
        return 1; //  the log refuses now and then; the entry must wait
    cr_assert_eq (seq, receiver->next);
    s_check_entry (seq, entry);
    receiver->out[receiver->count++] = seq;
    receiver->next++;
    return 0;
}

//  A secondary in miniature, with a model of what its buffer holds.
typedef struct {
    holdback_t *holdback;
    size_t capacity;
    receiver_t receiver;
    bool *held; //  held [seq]: the model thinks seq is in the buffer
    uint64_t cleared;
    uint64_t rng;
    size_t stats[4];
    size_t stale; //  held copies left below next, to be discarded
} sim_t;

static void s_arrive (sim_t *sim, uint64_t seq)
{
    receiver_t *receiver = &sim->receiver;
    if (seq == receiver->next && s_rand (&sim->rng) % 2) {
        //  In-order entries are mostly taken directly
        sample_t sample;
        s_receive (seq, s_sample (&sample, seq), receiver);
        return;
    }
    holdback_result_t expected = HOLDBACK_HELD;
    if (seq < receiver->next || sim->held[seq])
        expected = HOLDBACK_DUP;
    else if (seq >= receiver->next + sim->capacity)
        expected = HOLDBACK_FULL;
    holdback_result_t result = s_put (sim->holdback, receiver->next, seq);
    cr_assert_eq (result, expected, "seq %lu next %lu", (unsigned long)seq,
                  (unsigned long)receiver->next);
    sim->stats[result]++;
    if (result == HOLDBACK_HELD) {
        sim->held[seq] = true;
        if (seq == receiver->next && s_rand (&sim->rng) % 4 == 0) {
            //  A copy right behind it is taken directly: the held one is
            //  now stale, below next, until the next drain drops it
            sample_t sample;
            sim->stale += s_receive (seq, s_sample (&sample, seq), receiver) == 0;
        }
    }
}

static void s_drain_and_check (sim_t *sim)
{
    receiver_t *receiver = &sim->receiver;
    holdback_drain (sim->holdback, receiver->next, s_receive, receiver);
    for (; sim->cleared < receiver->next; sim->cleared++)
        sim->held[sim->cleared] = false;
    //  What is held is exactly the marked seqs from next on
    uint64_t lowest = 0;
    size_t count = 0;
    for (uint64_t s = receiver->next; s < receiver->next + sim->capacity; s++)
        if (sim->held[s]) {
            if (!lowest)
                lowest = s;
            count++;
        }
    cr_assert_eq (holdback_size (sim->holdback), count, "size at next %lu",
                  (unsigned long)receiver->next);
    cr_assert_eq (holdback_lowest (sim->holdback), lowest);
}

static void s_random_run (uint64_t seed, size_t capacity, uint64_t n)
{
    sim_t sim = {.holdback = holdback_new (capacity), .cleared = 1, .rng = seed};
    cr_assert_not_null (sim.holdback);
    sim.capacity = holdback_capacity (sim.holdback);
    sim.held = (bool *)calloc (n + sim.capacity + 1, sizeof (bool));
    sim.receiver = (receiver_t){(uint64_t *)malloc (n * sizeof (uint64_t)), 0, 1, ~seed};
    //  Arrivals: every seq once, plus duplicates, shuffled within windows
    //  wider than the capacity, so FULL, DUP and stale copies all happen
    size_t total = n + n / 3;
    uint64_t *queue = (uint64_t *)malloc (total * sizeof (uint64_t));
    cr_assert (queue && sim.held && sim.receiver.out);
    for (uint64_t seq = 1; seq <= n; seq++)
        queue[seq - 1] = seq;
    for (size_t i = n; i < total; i++)
        queue[i] = 1 + s_rand (&sim.rng) % n;
    size_t span = sim.capacity * 2;
    for (size_t i = 0; i < total; i++) {
        size_t j = i + s_rand (&sim.rng) % span;
        if (j < total) {
            uint64_t swap = queue[i];
            queue[i] = queue[j];
            queue[j] = swap;
        }
    }
    size_t head = 0;
    while (sim.receiver.next <= n) {
        if (head < total && s_rand (&sim.rng) % 16) {
            s_arrive (&sim, queue[head++]);
            //  Sometimes the receiver skips a drain, so next can be held
            //  while more arrives
            if (s_rand (&sim.rng) % 3 == 0)
                continue;
        } else {
            //  Fetch the gap, as a secondary would: next .. lowest - 1
            uint64_t lowest = holdback_lowest (sim.holdback);
            uint64_t from = sim.receiver.next;
            uint64_t to = lowest > from ? lowest - 1 : from + s_rand (&sim.rng) % 8;
            for (uint64_t seq = from; seq <= to && seq <= n; seq++)
                s_arrive (&sim, seq);
        }
        s_drain_and_check (&sim);
    }
    cr_log_info ("holdback: cap %zu held %zu dup %zu full %zu stale %zu", sim.capacity,
                 sim.stats[HOLDBACK_HELD], sim.stats[HOLDBACK_DUP], sim.stats[HOLDBACK_FULL],
                 sim.stale);
    cr_assert_eq (sim.receiver.count, n);
    for (uint64_t i = 0; i < n; i++)
        cr_assert_eq (sim.receiver.out[i], i + 1);
    cr_assert_gt (sim.stats[HOLDBACK_HELD], 0);
    cr_assert_gt (sim.stats[HOLDBACK_DUP], 0);
    cr_assert_gt (sim.stats[HOLDBACK_FULL], 0);
    cr_assert_gt (sim.stale, 0);
    free (queue);
    free (sim.held);
    free (sim.receiver.out);
    holdback_destroy (&sim.holdback);
}

Test (holdback, random_shuffled_with_duplicates)
{
    s_random_run (1, 64, 20000);
    s_random_run (42, 7, 5000);
    s_random_run (0x5EED, 1, 2000);
    s_random_run (977, 256, 30000);
}
