/*  test_epoch.c - the persisted epoch only grows.
 */
#include "epoch.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char s_dir[64];

static void s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/rlog-epoch-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
}

static void s_teardown (void)
{
    char path[128];
    snprintf (path, sizeof path, "%s/epoch", s_dir);
    unlink (path);
    rmdir (s_dir);
}

TestSuite (epoch, .init = s_setup, .fini = s_teardown);

Test (epoch, grows_across_starts_even_if_the_clock_goes_back)
{
    char err[256];
    uint64_t e1, e2, e3, e4;
    cr_assert_eq (epoch_next (s_dir, 1000, 0, &e1, err, sizeof err), 0, "%s", err);
    cr_assert_eq (e1, 1000);
    cr_assert_eq (epoch_next (s_dir, 500, 0, &e2, err, sizeof err), 0, "%s", err);
    cr_assert_eq (e2, 1001, "clock went back: previous + 1");
    cr_assert_eq (epoch_next (s_dir, 5000, 0, &e3, err, sizeof err), 0);
    cr_assert_eq (e3, 5000);
    //  The log may know a newer epoch than the file (file restored).
    cr_assert_eq (epoch_next (s_dir, 10, 9000, &e4, err, sizeof err), 0);
    cr_assert_eq (e4, 9001);
}

Test (epoch, garbage_file_is_a_clear_error)
{
    char path[128], err[256];
    snprintf (path, sizeof path, "%s/epoch", s_dir);
    FILE *f = fopen (path, "w");
    fputs ("not a number\n", f);
    fclose (f);
    uint64_t e;
    cr_assert_eq (epoch_next (s_dir, 1000, 0, &e, err, sizeof err), -1);
    cr_assert (strstr (err, "holds no epoch number"), "%s", err);
}
