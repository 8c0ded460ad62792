/*  test_health.c - peer liveness thresholds, hysteresis, default quorum.
 */
#include <criterion/criterion.h>

#include "health.h"

static const health_config_t s_config = {
    .suspect_ms = 300, .unhealthy_ms = 1000, .recover_ms = 2000};

//  Beats every STEP ms from FROM to TO inclusive, checking the state before each.
static void s_beat (health_t *health, int64_t from, int64_t to, int64_t step,
                    health_state_t expected)
{
    for (int64_t t = from; t <= to; t += step) {
        cr_assert_eq (health_update (health, t), expected, "at %lld", (long long)t);
        health_heard (health, t);
        cr_assert_eq (health_state (health), expected, "after beat at %lld", (long long)t);
    }
}

Test (health, new_destroy)
{
    health_t *health = health_new (&s_config, 5000);
    cr_assert_not_null (health);
    cr_assert_eq (health_state (health), HEALTH_HEALTHY);
    cr_assert_eq (health_last_heard (health), 5000);
    health_destroy (&health);
    cr_assert_null (health);
    health_destroy (&health);
}

Test (health, thresholds_at_boundary)
{
    health_t *health = health_new (&s_config, 1000);
    cr_assert_eq (health_update (health, 1000), HEALTH_HEALTHY);
    cr_assert_eq (health_update (health, 1300), HEALTH_HEALTHY);
    cr_assert_eq (health_update (health, 1301), HEALTH_SUSPECTED);
    cr_assert_eq (health_update (health, 2000), HEALTH_SUSPECTED);
    cr_assert_eq (health_update (health, 2001), HEALTH_UNHEALTHY);
    cr_assert_eq (health_state (health), HEALTH_UNHEALTHY);
    cr_assert_eq (health_last_heard (health), 1000);
    //  Time alone never improves the state.
    cr_assert_eq (health_update (health, 9999), HEALTH_UNHEALTHY);
    health_destroy (&health);
}

Test (health, late_beat_from_healthy)
{
    health_t *health = health_new (&s_config, 0);
    cr_assert_eq (health_update (health, 301), HEALTH_SUSPECTED);
    health_heard (health, 301);
    cr_assert_eq (health_state (health), HEALTH_HEALTHY);
    cr_assert_eq (health_last_heard (health), 301);
    //  The same late beat with no update in between ends up Healthy too.
    health_heard (health, 700);
    cr_assert_eq (health_state (health), HEALTH_HEALTHY);
    cr_assert_eq (health_update (health, 1000), HEALTH_HEALTHY);
    health_destroy (&health);
}

Test (health, recovery_hysteresis)
{
    health_t *health = health_new (&s_config, 0);
    cr_assert_eq (health_update (health, 1001), HEALTH_UNHEALTHY);
    //  Heard once: Suspected, not Healthy.
    health_heard (health, 1500);
    cr_assert_eq (health_state (health), HEALTH_SUSPECTED);
    cr_assert_eq (health_last_heard (health), 1500);
    //  Steady beats for just under recover_ms: still Suspected.
    s_beat (health, 1600, 3400, 100, HEALTH_SUSPECTED);
    cr_assert_eq (health_update (health, 3499), HEALTH_SUSPECTED);
    //  recover_ms after the first beat: Healthy.
    health_heard (health, 3500);
    cr_assert_eq (health_state (health), HEALTH_HEALTHY);
    health_destroy (&health);
}

Test (health, recovery_gap_restarts)
{
    health_t *health = health_new (&s_config, 0);
    health_update (health, 1001);
    health_heard (health, 1500);
    s_beat (health, 1800, 2700, 300, HEALTH_SUSPECTED); //  gaps of exactly suspect_ms are fine
    //  A 301 ms gap: silence > suspect_ms restarts the recovery at 3001.
    cr_assert_eq (health_update (health, 3001), HEALTH_SUSPECTED);
    health_heard (health, 3001);
    cr_assert_eq (health_state (health), HEALTH_SUSPECTED);
    s_beat (health, 3201, 4801, 200, HEALTH_SUSPECTED);
    health_heard (health, 5000);
    cr_assert_eq (health_state (health), HEALTH_SUSPECTED);
    health_heard (health, 5001);
    cr_assert_eq (health_state (health), HEALTH_HEALTHY);
    health_destroy (&health);
}

Test (health, recovery_gap_without_update)
{
    //  health_heard alone sees the gaps: no update runs in this test.
    health_t *health = health_new (&s_config, 0);
    health_heard (health, 2000); //  silent 2 s: was Unhealthy, now recovering
    cr_assert_eq (health_state (health), HEALTH_SUSPECTED);
    health_heard (health, 2200);
    health_heard (health, 2600); //  400 ms gap: recovery restarts at 2600
    for (int64_t t = 2800; t < 4600; t += 200) {
        health_heard (health, t);
        cr_assert_eq (health_state (health), HEALTH_SUSPECTED, "at %lld", (long long)t);
    }
    //  A 2 s silence mid-recovery: Unhealthy again, recovery from scratch.
    health_heard (health, 6400);
    cr_assert_eq (health_state (health), HEALTH_SUSPECTED);
    for (int64_t t = 6600; t < 8400; t += 200) {
        health_heard (health, t);
        cr_assert_eq (health_state (health), HEALTH_SUSPECTED, "at %lld", (long long)t);
    }
    health_heard (health, 8400);
    cr_assert_eq (health_state (health), HEALTH_HEALTHY);
    health_destroy (&health);
}

Test (health, unhealthy_during_recovery)
{
    health_t *health = health_new (&s_config, 0);
    health_update (health, 1500);
    health_heard (health, 1500);
    cr_assert_eq (health_update (health, 2400), HEALTH_SUSPECTED);
    cr_assert_eq (health_update (health, 2501), HEALTH_UNHEALTHY);
    health_heard (health, 2600);
    cr_assert_eq (health_state (health), HEALTH_SUSPECTED);
    s_beat (health, 2700, 4500, 100, HEALTH_SUSPECTED);
    health_heard (health, 4600);
    cr_assert_eq (health_state (health), HEALTH_HEALTHY);
    health_destroy (&health);
}

Test (health, heard_long_after_silence)
{
    //  No update ran during the silence: heard still sees it was Unhealthy.
    health_t *health = health_new (&s_config, 0);
    health_heard (health, 5000);
    cr_assert_eq (health_state (health), HEALTH_SUSPECTED);
    health_destroy (&health);
}

Test (health, stale_timestamp_ignored)
{
    health_t *health = health_new (&s_config, 1000);
    health_heard (health, 900);
    cr_assert_eq (health_last_heard (health), 1000);
    cr_assert_eq (health_state (health), HEALTH_HEALTHY);
    health_destroy (&health);
}

Test (health, state_names)
{
    cr_assert_str_eq (health_state_name (HEALTH_HEALTHY), "healthy");
    cr_assert_str_eq (health_state_name (HEALTH_SUSPECTED), "suspected");
    cr_assert_str_eq (health_state_name (HEALTH_UNHEALTHY), "unhealthy");
}

Test (health, default_quorum)
{
    const uint32_t expected[][2] = {{0, 1}, {1, 2}, {2, 2}, {3, 3},
                                    {4, 3}, {5, 4}, {6, 4}, {32, 17}};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        cr_assert_eq (health_default_quorum (expected[i][0]), expected[i][1], "n=%u: %u",
                      expected[i][0], health_default_quorum (expected[i][0]));
    cr_assert_eq (health_default_quorum (UINT32_MAX), 0x80000001u);
}
