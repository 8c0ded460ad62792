/*  test_backoff.c - seeded PRNG and exponential backoff with equal jitter.
 */
#include <criterion/criterion.h>

#include "backoff.h"

Test (backoff, doubles_to_cap)
{
    prng_t prng;
    prng_seed (&prng, 1);
    backoff_t backoff;
    backoff_init (&backoff, 100, 1000);
    cr_assert_eq (backoff.current_ms, 0);
    const int64_t nominal[] = {100, 200, 400, 800, 1000, 1000, 1000};
    for (size_t i = 0; i < sizeof nominal / sizeof nominal[0]; i++) {
        int64_t delay = backoff_next (&backoff, &prng);
        cr_assert_eq (backoff.current_ms, nominal[i]);
        cr_assert_geq (delay, nominal[i] / 2, "delay %lld", (long long)delay);
        cr_assert_leq (delay, nominal[i], "delay %lld", (long long)delay);
    }
}

Test (backoff, jitter_range)
{
    prng_t prng;
    prng_seed (&prng, 42);
    backoff_t backoff;
    //  Odd nominal: [3/2, 3] = [1, 3], and both ends are reachable.
    bool seen[4] = {false};
    for (int i = 0; i < 1000; i++) {
        backoff_init (&backoff, 3, 1000);
        int64_t delay = backoff_next (&backoff, &prng);
        cr_assert (delay >= 1 && delay <= 3, "delay %lld", (long long)delay);
        seen[delay] = true;
    }
    cr_assert (seen[1] && seen[2] && seen[3]);

    backoff_init (&backoff, 250, 60000);
    for (int round = 0; round < 200; round++) {
        backoff_reset (&backoff);
        for (int i = 0; i < 12; i++) {
            int64_t delay = backoff_next (&backoff, &prng);
            int64_t n = backoff.current_ms;
            cr_assert (delay >= n / 2 && delay <= n, "delay %lld nominal %lld", (long long)delay,
                       (long long)n);
        }
    }
}

Test (backoff, reset)
{
    prng_t prng;
    prng_seed (&prng, 7);
    backoff_t backoff;
    backoff_init (&backoff, 50, 400);
    for (int i = 0; i < 5; i++)
        backoff_next (&backoff, &prng);
    cr_assert_eq (backoff.current_ms, 400);
    backoff_reset (&backoff);
    cr_assert_eq (backoff.current_ms, 0);
    int64_t delay = backoff_next (&backoff, &prng);
    cr_assert_eq (backoff.current_ms, 50);
    cr_assert (delay >= 25 && delay <= 50);
}

Test (backoff, edge_configs)
{
    prng_t prng;
    prng_seed (&prng, 3);
    backoff_t backoff;
    //  No overflow when doubling near the top of int64.
    backoff_init (&backoff, INT64_MAX / 4, INT64_MAX);
    for (int i = 0; i < 5; i++) {
        int64_t delay = backoff_next (&backoff, &prng);
        cr_assert_geq (delay, backoff.current_ms / 2);
    }
    cr_assert_eq (backoff.current_ms, INT64_MAX);
    //  Base above cap: the cap wins.
    backoff_init (&backoff, 500, 200);
    cr_assert_leq (backoff_next (&backoff, &prng), 200);
    cr_assert_eq (backoff.current_ms, 200);
    //  Zero base: no delay, and no stuck state.
    backoff_init (&backoff, 0, 100);
    cr_assert_eq (backoff_next (&backoff, &prng), 0);
}

Test (backoff, deterministic_for_seed)
{
    prng_t a, b, c;
    prng_seed (&a, 12345);
    prng_seed (&b, 12345);
    prng_seed (&c, 12346);
    bool differs = false;
    for (int i = 0; i < 1000; i++) {
        uint64_t va = prng_next (&a);
        cr_assert_eq (va, prng_next (&b));
        differs |= va != prng_next (&c);
    }
    cr_assert (differs);

    backoff_t ba, bb;
    backoff_init (&ba, 10, 10000);
    backoff_init (&bb, 10, 10000);
    prng_seed (&a, 99);
    prng_seed (&b, 99);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq (backoff_next (&ba, &a), backoff_next (&bb, &b));
        if (i % 9 == 8) {
            backoff_reset (&ba);
            backoff_reset (&bb);
        }
    }
}

Test (backoff, seed_zero_works)
{
    prng_t prng;
    prng_seed (&prng, 0);
    uint64_t first = prng_next (&prng);
    uint64_t second = prng_next (&prng);
    cr_assert_neq (first, 0);
    cr_assert_neq (first, second);
    //  The state is one word: copying it replays the stream.
    prng_t copy = prng;
    cr_assert_eq (prng_next (&copy), prng_next (&prng));
}

Test (backoff, prng_unit_uniform)
{
    enum { DRAWS = 1000000, BUCKETS = 20 };
    prng_t prng;
    prng_seed (&prng, 2026);
    size_t bucket[BUCKETS] = {0};
    double sum = 0;
    for (int i = 0; i < DRAWS; i++) {
        double u = prng_unit (&prng);
        cr_assert (u >= 0.0 && u < 1.0, "draw %d: %f", i, u);
        bucket[(int)(u * BUCKETS)]++;
        sum += u;
    }
    //  Expected 50000 per bucket, sd ~218: 2% (1000) is ~4.6 sd.
    for (int b = 0; b < BUCKETS; b++)
        cr_assert (bucket[b] > 49000 && bucket[b] < 51000, "bucket %d: %zu", b, bucket[b]);
    double mean = sum / DRAWS;
    cr_assert (mean > 0.499 && mean < 0.501, "mean %f", mean);
}
