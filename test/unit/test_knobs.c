/*  test_knobs.c - the fault knobs around the follower: drop, delay (order
    and bounds), fail after store (refetch, duplicates), replay by seed.
*/
#include "follower.h"
#include "knobs.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static knobs_t *s_new (double drop, int64_t delay, double fail, size_t frames, size_t bytes,
                       uint64_t seed)
{
    knobs_config_t config = {drop, delay, fail, frames, bytes, seed};
    knobs_t *knobs = knobs_new (&config);
    cr_assert_not_null (knobs);
    return knobs;
}

Test (knobs, all_off_passes_everything)
{
    knobs_t *knobs = s_new (0, 0, 0, 0, 0, 1);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq (knobs_frame (knobs, true, "x", 1, i), KNOBS_PASS);
        cr_assert_eq (knobs_frame (knobs, false, "y", 1, i), KNOBS_PASS);
        knobs_ack_t out;
        knobs_ack (knobs, (uint64_t)i, &out);
        cr_assert (out.ack);
        cr_assert_not (out.fetch);
    }
    size_t size;
    cr_assert_null (knobs_due (knobs, 1000, &size));
    cr_assert_eq (knobs_next_due (knobs), INT64_MAX);
    cr_assert_eq (knobs_dropped (knobs), 0);
    cr_assert_eq (knobs_failed (knobs), 0);
    knobs_destroy (&knobs);
    cr_assert_null (knobs);
    knobs_destroy (&knobs);
}

Test (knobs, drop_rate)
{
    knobs_t *knobs = s_new (1.0, 0, 0, 0, 0, 1);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq (knobs_frame (knobs, true, "x", 1, i), KNOBS_DROP);
        //  WELCOME, ERROR: never dropped
        cr_assert_eq (knobs_frame (knobs, false, "y", 1, i), KNOBS_PASS);
    }
    cr_assert_eq (knobs_dropped (knobs), 100);
    knobs_destroy (&knobs);

    knobs = s_new (0.0, 0, 0, 0, 0, 1);
    for (int i = 0; i < 100; i++)
        cr_assert_eq (knobs_frame (knobs, true, "x", 1, i), KNOBS_PASS);
    cr_assert_eq (knobs_dropped (knobs), 0);
    knobs_destroy (&knobs);

    //  In between: about that share
    knobs = s_new (0.25, 0, 0, 0, 0, 99);
    for (int i = 0; i < 10000; i++)
        knobs_frame (knobs, true, "x", 1, i);
    cr_assert_geq (knobs_dropped (knobs), 2200);
    cr_assert_leq (knobs_dropped (knobs), 2800);
    knobs_destroy (&knobs);
}

Test (knobs, delay_keeps_order_and_copies)
{
    knobs_t *knobs = s_new (0, 100, 0, 16, 1024, 1);
    char frame[32];
    for (int i = 0; i < 5; i++) {
        snprintf (frame, sizeof frame, "frame %d", i);
        //  Droppable or not, every frame waits
        cr_assert_eq (knobs_frame (knobs, i % 2, frame, strlen (frame) + 1, 1000 + i * 10),
                      KNOBS_HELD);
    }
    memset (frame, 0, sizeof frame);
    cr_assert_eq (knobs_queued (knobs), 5);
    cr_assert_eq (knobs_next_due (knobs), 1100);
    size_t size;
    cr_assert_null (knobs_due (knobs, 1099, &size), "not before its delay");
    for (int i = 0; i < 5; i++) {
        const uint8_t *got = knobs_due (knobs, 1100 + i * 10, &size);
        cr_assert_not_null (got, "frame %d", i);
        snprintf (frame, sizeof frame, "frame %d", i);
        cr_assert_eq (size, strlen (frame) + 1);
        cr_assert_str_eq ((const char *)got, frame);
        //  The next one is not due yet at this time
        if (i < 4)
            cr_assert_null (knobs_due (knobs, 1100 + i * 10, &size));
    }
    cr_assert_eq (knobs_queued (knobs), 0);
    cr_assert_eq (knobs_next_due (knobs), INT64_MAX);

    //  Everything due at once comes out in arrival order
    for (int i = 0; i < 4; i++) {
        snprintf (frame, sizeof frame, "late %d", i);
        knobs_frame (knobs, true, frame, strlen (frame) + 1, 2000);
    }
    const uint8_t *got;
    int n = 0;
    while ((got = knobs_due (knobs, 5000, &size))) {
        snprintf (frame, sizeof frame, "late %d", n++);
        cr_assert_str_eq ((const char *)got, frame);
    }
    cr_assert_eq (n, 4);
    //  Held frames are freed on destroy
    knobs_frame (knobs, true, "left", 5, 6000);
    knobs_frame (knobs, true, "over", 5, 6000);
    got = knobs_due (knobs, 6100, &size);
    cr_assert_not_null (got);
    knobs_destroy (&knobs);
}

Test (knobs, delay_queue_is_bounded)
{
    //  At most 3 frames and 100 bytes
    knobs_t *knobs = s_new (0, 50, 0, 3, 100, 1);
    uint8_t big[200];
    memset (big, 7, sizeof big);
    cr_assert_eq (knobs_frame (knobs, true, big, 40, 0), KNOBS_HELD);
    cr_assert_eq (knobs_frame (knobs, true, big, 40, 0), KNOBS_HELD);
    cr_assert_eq (knobs_frame (knobs, true, big, 21, 0), KNOBS_DROP, "101 bytes");
    cr_assert_eq (knobs_frame (knobs, true, big, 20, 0), KNOBS_HELD, "exactly 100");
    cr_assert_eq (knobs_frame (knobs, true, big, 0, 0), KNOBS_DROP, "a fourth frame");
    cr_assert_eq (knobs_frame (knobs, false, big, 200, 0), KNOBS_DROP, "above the bound");
    cr_assert_eq (knobs_overflow (knobs), 3);
    cr_assert_eq (knobs_queued (knobs), 3);
    size_t size;
    cr_assert_not_null (knobs_due (knobs, 50, &size));
    cr_assert_eq (size, 40);
    cr_assert_eq (knobs_frame (knobs, true, big, 40, 60), KNOBS_HELD, "room again");
    knobs_destroy (&knobs);
}

Test (knobs, fail_rate_withholds_the_ack_and_fetches_again)
{
    knobs_t *knobs = s_new (0, 0, 1.0, 0, 0, 1);
    knobs_ack_t out;
    knobs_ack (knobs, 0, &out);
    cr_assert (out.ack, "nothing new: nothing to fail");
    knobs_ack (knobs, 5, &out);
    cr_assert_not (out.ack);
    cr_assert (out.fetch);
    cr_assert_eq (out.from, 1);
    cr_assert_eq (out.count, 5);
    //  The periodic ACK of the same entries fails again
    knobs_ack (knobs, 5, &out);
    cr_assert (out.fetch);
    cr_assert_eq (out.from, 1);
    cr_assert_eq (knobs_failed (knobs), 2);
    knobs_destroy (&knobs);

    knobs = s_new (0, 0, 0.0, 0, 0, 1);
    knobs_ack (knobs, 5, &out);
    cr_assert (out.ack);
    cr_assert_not (out.fetch);
    knobs_destroy (&knobs);

    //  After a pass, a failure covers only what is new since
    knobs = s_new (0, 0, 0.5, 0, 0, 3);
    uint64_t acked = 0;
    for (uint64_t head = 1; head <= 200; head++) {
        knobs_ack (knobs, head, &out);
        cr_assert (out.ack != out.fetch);
        if (out.ack)
            acked = head;
        else {
            cr_assert_eq (out.from, acked + 1);
            cr_assert_eq (out.count, head - acked);
        }
    }
    cr_assert_gt (knobs_failed (knobs), 50);
    cr_assert_lt (knobs_failed (knobs), 150);
    knobs_destroy (&knobs);
}

Test (knobs, same_seed_replays)
{
    uint8_t verdicts[2][600];
    for (int run = 0; run < 2; run++) {
        knobs_t *knobs = s_new (0.3, 0, 0.3, 0, 0, 12345);
        for (int i = 0; i < 300; i++) {
            verdicts[run][i] = (uint8_t)knobs_frame (knobs, true, "x", 1, i);
            knobs_ack_t out;
            knobs_ack (knobs, (uint64_t)i + 1, &out);
            verdicts[run][300 + i] = out.ack;
        }
        knobs_destroy (&knobs);
    }
    cr_assert_eq (memcmp (verdicts[0], verdicts[1], sizeof verdicts[0]), 0);
    knobs_t *other = s_new (0.3, 0, 0.3, 0, 0, 54321);
    int differ = 0;
    for (int i = 0; i < 300; i++)
        differ += (uint8_t)knobs_frame (other, true, "x", 1, i) != verdicts[0][i];
    cr_assert_gt (differ, 0, "another seed, another run");
    knobs_destroy (&other);
}

//  ---------------------------------------------------------------------
//  Fail-rate around a real follower: the refetched entries come back as
//  duplicates, and nothing is stored twice.

#define MAX_PAYLOAD 256

typedef struct {
    store_t *store;
    knobs_t *knobs;
    uint64_t acks_sent; //  ACKs that reached the master
    uint64_t last_ack;
    uint64_t fetch_from; //  the last FETCH that went out (knob or follower)
    uint64_t fetch_count;
    int fetches;
} wire_t;

static int s_hello (void *arg, const uint8_t *h, uint64_t le, uint64_t ls, uint32_t lc, uint64_t e)
{
    (void)arg, (void)h, (void)le, (void)ls, (void)lc, (void)e;
    return 0;
}

static int s_fetch (void *arg, uint64_t epoch, uint64_t from, uint64_t count)
{
    wire_t *wire = (wire_t *)arg;
    (void)epoch;
    wire->fetch_from = from;
    wire->fetch_count = count;
    wire->fetches++;
    return 0;
}

//  The follower's ACK goes through the knob, as in the event loop.
static int s_ack (void *arg, uint64_t epoch, uint64_t acked)
{
    wire_t *wire = (wire_t *)arg;
    knobs_ack_t out;
    knobs_ack (wire->knobs, acked, &out);
    if (out.fetch)
        return s_fetch (wire, epoch, out.from, out.count);
    wire->acks_sent++;
    wire->last_ack = acked;
    return 0;
}

static int s_store_record (void *arg, const uint8_t *bytes, size_t size)
{
    return store_append (((wire_t *)arg)->store, bytes, size);
}

static int s_truncate (void *arg, uint64_t last, const char *reason)
{
    (void)reason;
    return store_truncate (((wire_t *)arg)->store, last, NULL);
}

static int s_adopt (void *arg, const uint8_t *history, uint64_t epoch)
{
    (void)arg, (void)history, (void)epoch;
    return 0;
}

static size_t s_record (uint8_t *out, uint64_t first)
{
    uint8_t entry[64];
    size_t size = entries_put (entry, 0, "payload", 7);
    return record_write (out, 1, first, 1, 0, NULL, 0, first, entry, size);
}

Test (knobs, fail_rate_refetch_comes_back_as_duplicates)
{
    static const uint8_t history[FOLLOWER_HISTORY_SIZE] = "history-AAAAAAA";
    wire_t wire = {.store = store_mem_new (), .knobs = s_new (0, 0, 1.0, 0, 0, 5)};
    cr_assert_not_null (wire.store);
    follower_config_t config = {"s1", 1000, 3000, 100, 64, 1 << 20, false, 1};
    follower_sink_t sink = {&wire,          s_hello,    s_ack,   s_fetch,
                            s_store_record, s_truncate, s_adopt, NULL};
    follower_t *follower = follower_new (&config, wire.store, NULL, &sink);
    cr_assert_not_null (follower);
    follower_start (follower, 0);
    //  The ACK at WELCOME (0) passes: nothing new
    follower_welcome (follower, 1, history, 0, 0, 0, 0, "", 0);
    cr_assert_eq (wire.acks_sent, 1);

    uint8_t buf[4096];
    size_t size = 0;
    for (uint64_t seq = 1; seq <= 3; seq++)
        size += s_record (buf + size, seq);
    follower_records (follower, false, 1, buf, size, MAX_PAYLOAD, 10);
    follower_durable (follower, store_head (wire.store), 10);
    //  The ACK of 1..3 was withheld, a FETCH of 1..3 went out instead
    cr_assert_eq (wire.acks_sent, 1);
    cr_assert_eq (wire.fetches, 1);
    cr_assert_eq (wire.fetch_from, 1);
    cr_assert_eq (wire.fetch_count, 3);
    //  The master answers it: the entries are dropped as duplicates
    follower_records (follower, true, 1, buf, size, MAX_PAYLOAD, 20);
    cr_assert_eq (follower_duplicates (follower), 3);
    cr_assert_eq (store_head (wire.store), 3, "nothing stored twice");
    cr_assert_eq (store_records (wire.store), 3);
    follower_destroy (&follower);
    knobs_destroy (&wire.knobs);
    store_destroy (&wire.store);
}
