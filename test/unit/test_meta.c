/*  test_meta.c - DIR/meta: round trips, a missing file, strict parsing of
    bad files, atomic replacement, fresh history ids.
*/
#include "meta.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[64];

static void s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/meta-test-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
}

static void s_teardown (void)
{
    char path[128];
    snprintf (path, sizeof path, "%s/meta", s_dir);
    unlink (path);
    snprintf (path, sizeof path, "%s/meta.tmp", s_dir);
    unlink (path);
    rmdir (s_dir);
}

TestSuite (meta, .init = s_setup, .fini = s_teardown);

static void s_write (const char *text)
{
    char path[128];
    snprintf (path, sizeof path, "%s/meta", s_dir);
    FILE *file = fopen (path, "wb");
    cr_assert_not_null (file);
    cr_assert_eq (fwrite (text, 1, strlen (text), file), strlen (text));
    cr_assert_eq (fclose (file), 0);
}

static char *s_read (void)
{
    static char text[4096];
    char path[128];
    snprintf (path, sizeof path, "%s/meta", s_dir);
    FILE *file = fopen (path, "rb");
    cr_assert_not_null (file);
    size_t size = fread (text, 1, sizeof text - 1, file);
    text[size] = 0;
    fclose (file);
    return text;
}

Test (meta, missing_file_is_empty)
{
    meta_t meta;
    memset (&meta, 0xAA, sizeof meta);
    char err[256] = "";
    cr_assert_eq (meta_load (s_dir, &meta, err, sizeof err), 0, "%s", err);
    cr_assert_not (meta.has_history);
    cr_assert_eq (meta.epoch, 0);
    cr_assert_eq (meta.voted_epoch, 0);
    cr_assert_str_empty (meta.voted_for);
}

Test (meta, round_trip)
{
    meta_t meta;
    memset (&meta, 0, sizeof meta);
    meta_new_history (&meta);
    cr_assert (meta.has_history);
    meta.epoch = 17;
    meta.voted_epoch = UINT64_MAX;
    strcpy (meta.voted_for, "n2");
    char err[256] = "";
    cr_assert_eq (meta_save (s_dir, &meta, err, sizeof err), 0, "%s", err);
    char hex[33];
    meta_history_hex (meta.history, hex, sizeof hex);
    cr_assert_eq (strlen (hex), 32);
    char expect[512];
    snprintf (expect, sizeof expect,
              "format 2\nhistory %s\nepoch 17\nvoted_epoch 18446744073709551615\nvoted_for n2\n",
              hex);
    cr_assert_str_eq (s_read (), expect);
    meta_t back;
    cr_assert_eq (meta_load (s_dir, &back, err, sizeof err), 0, "%s", err);
    cr_assert (back.has_history);
    cr_assert_eq (memcmp (back.history, meta.history, META_HISTORY_SIZE), 0);
    cr_assert_eq (back.epoch, 17);
    cr_assert_eq (back.voted_epoch, UINT64_MAX);
    cr_assert_str_eq (back.voted_for, "n2");

    //  No history and no vote: dashes; the temporary file is gone
    memset (&meta, 0, sizeof meta);
    meta.epoch = 3;
    cr_assert_eq (meta_save (s_dir, &meta, err, sizeof err), 0);
    cr_assert_str_eq (s_read (), "format 2\nhistory -\nepoch 3\nvoted_epoch 0\nvoted_for -\n");
    cr_assert_eq (meta_load (s_dir, &back, err, sizeof err), 0);
    cr_assert_not (back.has_history);
    cr_assert_eq (back.epoch, 3);
    cr_assert_str_empty (back.voted_for);
    char tmp[128];
    snprintf (tmp, sizeof tmp, "%s/meta.tmp", s_dir);
    cr_assert_neq (access (tmp, F_OK), 0);

    //  A node id longer than 63 or with a space cannot be saved
    memset (meta.voted_for, 'x', sizeof meta.voted_for);
    cr_assert_eq (meta_save (s_dir, &meta, err, sizeof err), -1);
    strcpy (meta.voted_for, "a b");
    cr_assert_eq (meta_save (s_dir, &meta, err, sizeof err), -1);
    cr_assert_str_eq (s_read (), "format 2\nhistory -\nepoch 3\nvoted_epoch 0\nvoted_for -\n");
}

Test (meta, bad_files)
{
    const char *good_tail = "history -\nepoch 1\nvoted_epoch 0\nvoted_for -\n";
    struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"", "not an rlog meta file (format 2)"},
        {"format 1\nhistory -\nepoch 1\nvoted_epoch 0\nvoted_for -\n",
         "not an rlog meta file (format 2)"},
        {"12345\n", "not an rlog meta file (format 2)"},
        {"format 2\nhistory -\nepoch 1\nvoted_epoch 0\n", "a key is missing"},
        {"format 2\nhistory -\nepoch 1\nvoted_epoch 0\nvoted_for -", "not terminated"},
        {"format 2\nhistory -\nepoch 1\nepoch 2\nvoted_epoch 0\nvoted_for -\n", "bad line 4"},
        {"format 2\nhistory -\nepoch 01\nvoted_epoch 0\nvoted_for -\n", "bad line 3"},
        {"format 2\nhistory -\nepoch 18446744073709551616\nvoted_epoch 0\nvoted_for -\n",
         "bad line 3"},
        {"format 2\nhistory -\nepoch -1\nvoted_epoch 0\nvoted_for -\n", "bad line 3"},
        {"format 2\nhistory -\nepoch 1 \nvoted_epoch 0\nvoted_for -\n", "bad line 3"},
        {"format 2\nhistory 0123456789ABCDEF0123456789abcdef\nepoch 1\nvoted_epoch 0\n"
         "voted_for -\n",
         "bad line 2"},
        {"format 2\nhistory 0123456789abcdef\nepoch 1\nvoted_epoch 0\nvoted_for -\n", "bad line 2"},
        {"format 2\nhistory -\nepoch 1\nvoted_epoch 0\nvoted_for -\nextra 1\n", "bad line 6"},
        {"format 2\nhistory -\nepoch 1\nvoted_epoch 0\nvoted_for \n", "bad line 5"},
        {"format 2\n\nhistory -\nepoch 1\nvoted_epoch 0\nvoted_for -\n", "bad line 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_write (cases[i].text);
        meta_t meta;
        meta.epoch = 99;
        char err[256] = "";
        cr_assert_eq (meta_load (s_dir, &meta, err, sizeof err), -1, "case %zu", i);
        cr_assert (strstr (err, cases[i].why), "case %zu: %s", i, err);
        cr_assert (strstr (err, "/meta"), "case %zu: %s", i, err);
    }
    char text[256];
    snprintf (text, sizeof text, "format 2\n%s", good_tail);
    s_write (text);
    meta_t meta;
    char err[256] = "";
    cr_assert_eq (meta_load (s_dir, &meta, err, sizeof err), 0, "%s", err);
    cr_assert_eq (meta.epoch, 1);
    //  Too large, and binary
    char *big = (char *)malloc (10000);
    memset (big, 'x', 9999);
    big[9999] = 0;
    s_write (big);
    cr_assert_eq (meta_load (s_dir, &meta, err, sizeof err), -1);
    free (big);
}

Test (meta, unwritable_dir)
{
    meta_t meta;
    memset (&meta, 0, sizeof meta);
    char err[256] = "";
    cr_assert_eq (meta_save ("/nonexistent-meta-dir", &meta, err, sizeof err), -1);
    cr_assert (strstr (err, "cannot write /nonexistent-meta-dir/meta"), "%s", err);
}

Test (meta, new_histories_differ)
{
    meta_t a, b;
    memset (&a, 0, sizeof a);
    memset (&b, 0, sizeof b);
    meta_new_history (&a);
    meta_new_history (&b);
    cr_assert (a.has_history && b.has_history);
    cr_assert_neq (memcmp (a.history, b.history, META_HISTORY_SIZE), 0);
    char hex[33], small[8];
    cr_assert_eq (strlen (meta_history_hex (a.history, hex, sizeof hex)), 32);
    cr_assert_str_empty (meta_history_hex (a.history, small, sizeof small));
    cr_assert_str_empty (meta_history_hex (NULL, hex, sizeof hex));
    const uint8_t known[META_HISTORY_SIZE] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                              0x00, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60};
    cr_assert_str_eq (meta_history_hex (known, hex, sizeof hex),
                      "0123456789abcdef00ff102030405060");
}
