/*  test_quota.c - per-client limits on parked appends.
 */
#include "quota.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define KEY(s) (const uint8_t *)(s), strlen (s)

Test (quota, limit_per_key_and_release)
{
    quota_t *quota = quota_new (2);
    cr_assert_eq (quota_take (quota, KEY ("a")), 0);
    cr_assert_eq (quota_take (quota, KEY ("a")), 0);
    cr_assert_eq (quota_take (quota, KEY ("a")), -1, "third over a limit of 2");
    cr_assert_eq (quota_take (quota, KEY ("ab")), 0, "keys sharing a prefix are distinct");
    cr_assert_eq (quota_held (quota, KEY ("a")), 2);
    cr_assert_eq (quota_keys (quota), 2);
    quota_give (quota, KEY ("a"));
    cr_assert_eq (quota_take (quota, KEY ("a")), 0, "room again after a release");
    quota_give (quota, KEY ("a"));
    quota_give (quota, KEY ("a"));
    quota_give (quota, KEY ("a")); //  more gives than takes: harmless
    cr_assert_eq (quota_held (quota, KEY ("a")), 0);
    cr_assert_eq (quota_keys (quota), 1, "an empty key holds no entry");
    quota_destroy (&quota);
    cr_assert_null (quota);
}

Test (quota, many_keys_grow_the_table)
{
    quota_t *quota = quota_new (3);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf (key, sizeof key, "client-%d", i);
        cr_assert_eq (quota_take (quota, KEY (key)), 0);
        cr_assert_eq (quota_take (quota, KEY (key)), 0);
    }
    cr_assert_eq (quota_keys (quota), 5000);
    for (int i = 0; i < 5000; i++) {
        snprintf (key, sizeof key, "client-%d", i);
        cr_assert_eq (quota_held (quota, KEY (key)), 2);
        quota_give (quota, KEY (key));
        quota_give (quota, KEY (key));
    }
    cr_assert_eq (quota_keys (quota), 0);
    quota_destroy (&quota);
}
