/*  test_disklog.c - the log on disk: round trips across segments, recovery
    of torn tails and corrupt middles, truncation with rollback files, memory
    bounded by the index, and disk errors (full tmpfs, failed fsync).

    Each test works in its own mkdtemp directory, removed by the fini.
*/
#include "disklog.h"
#include "crc32c.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define SEGMENT 4096

//  Per test process (criterion forks one per test)
static char s_dir[64];
static char s_mount[128];

static void s_rmtree (const char *path)
{
    DIR *dir = opendir (path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (!strcmp (entry->d_name, ".") || !strcmp (entry->d_name, ".."))
                continue;
            char child[512];
            snprintf (child, sizeof child, "%s/%s", path, entry->d_name);
            struct stat st;
            if (lstat (child, &st) == 0 && S_ISDIR (st.st_mode))
                s_rmtree (child);
            else
                unlink (child);
        }
        closedir (dir);
    }
    rmdir (path);
}

static void s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/disklog-test-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    s_mount[0] = 0;
}

static void s_teardown (void)
{
    if (s_mount[0]) {
        char log[256];
        snprintf (log, sizeof log, "%s/log", s_mount);
        s_rmtree (log);
        umount2 (s_mount, MNT_DETACH);
    }
    s_rmtree (s_dir);
}

TestSuite (disklog, .init = s_setup, .fini = s_teardown, .timeout = 60.0);

//  --------------------------------------------------------------------------
//  Generated entries: everything is a function of the seq, so checks need no
//  copies. Sizes vary 1..700, a few entries are bigger than a segment,
//  client ids are binary (with zeros) or empty, epochs rise in steps.

typedef struct {
    uint64_t epoch;
    uint64_t req_id;
    size_t size;
    uint8_t client_id[ENTRY_CLIENT_ID_MAX];
    size_t client_id_size;
} spec_t;

static uint8_t s_byte (uint64_t tag, size_t offset)
{
    uint64_t x = (tag + 1) * 0x9E3779B97F4A7C15u + offset * 0xBF58476D1CE4E5B9u;
    x ^= x >> 29;
    return (uint8_t)(x ^ (x >> 7));
}

static uint64_t s_epoch (uint64_t seq)
{
    return seq < 40 ? 1 : seq < 90 ? 2 : seq < 95 ? 7 : 9;
}

static spec_t s_spec (uint64_t seq, uint64_t salt)
{
    spec_t spec;
    memset (&spec, 0, sizeof spec);
    spec.epoch = s_epoch (seq) + salt * 100;
    spec.req_id = seq * 1000 + salt;
    spec.size = 1 + (size_t)((seq * 7919 + salt) % 700);
    if (seq % 37 == 5)
        spec.size = SEGMENT * 3 + 17; //  bigger than a segment
    spec.client_id_size = seq % 4 == 0 ? 0 : seq % 4 == 3 ? ENTRY_CLIENT_ID_MAX : 16;
    for (size_t i = 0; i < spec.client_id_size; i++)
        spec.client_id[i] = (uint8_t)(i % 5 == 0 ? 0 : (seq % 4) * 31 + i);
    return spec;
}

static void s_append (disklog_t *log, uint64_t salt)
{
    uint64_t seq = disklog_head (log) + 1;
    spec_t spec = s_spec (seq, salt);
    uint8_t *data = (uint8_t *)malloc (spec.size);
    cr_assert_not_null (data);
    for (size_t i = 0; i < spec.size; i++)
        data[i] = s_byte (spec.req_id, i);
    entry_t entry = {spec.epoch, spec.req_id, spec.client_id, spec.client_id_size, data, spec.size};
    cr_assert_eq (disklog_append (log, &entry), 0, "append %" PRIu64, seq);
    free (data);
    cr_assert_eq (disklog_head (log), seq);
}

static void s_check_entry (const entry_t *out, uint64_t seq, uint64_t salt)
{
    spec_t spec = s_spec (seq, salt);
    cr_assert_eq (out->epoch, spec.epoch, "seq %" PRIu64 " epoch", seq);
    cr_assert_eq (out->req_id, spec.req_id, "seq %" PRIu64 " req_id", seq);
    cr_assert_eq (out->size, spec.size, "seq %" PRIu64 " size", seq);
    cr_assert_eq (out->client_id_size, spec.client_id_size, "seq %" PRIu64 " id size", seq);
    cr_assert (out->client_id_size == 0 ||
               memcmp (out->client_id, spec.client_id, spec.client_id_size) == 0);
    for (size_t i = 0; i < spec.size; i++)
        cr_assert_eq (out->data[i], s_byte (spec.req_id, i), "seq %" PRIu64 " byte %zu", seq, i);
}

static void s_check (disklog_t *log, uint64_t seq, uint64_t salt)
{
    entry_t out;
    cr_assert_eq (disklog_get (log, seq, &out), 0, "get %" PRIu64, seq);
    s_check_entry (&out, seq, salt);
    cr_assert_eq (disklog_epoch_of (log, seq), out.epoch);
}

//  Check 1..head (all written); SALT_FROM: first seq appended with SALT.
static void s_check_all (disklog_t *log, uint64_t salt_from, uint64_t salt)
{
    for (uint64_t seq = 1; seq <= disklog_head (log); seq++)
        s_check (log, seq, seq >= salt_from ? salt : 0);
    entry_t out;
    cr_assert_eq (disklog_get (log, disklog_head (log) + 1, &out), -1);
    cr_assert_eq (disklog_get (log, 0, &out), -1);
}

static disklog_t *s_open (const char *dir, disklog_mode_t mode, disklog_recovery_t *recovery)
{
    char err[600] = "";
    disklog_t *log = disklog_open (dir, SEGMENT, mode, recovery, err, sizeof err);
    cr_assert_not_null (log, "open %s: %s", dir, err);
    return log;
}

static void s_log_dir (char *path, size_t size)
{
    snprintf (path, size, "%s/log", s_dir);
}

static int s_compare_names (const void *a, const void *b)
{
    return strcmp ((const char *)a, (const char *)b);
}

//  Segment files in DIR, sorted; returns the count, names in NAMES.
static size_t s_segments (const char *dir, char names[][32], size_t max)
{
    DIR *handle = opendir (dir);
    cr_assert_not_null (handle);
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir (handle)))
        if (strlen (entry->d_name) == 24 && strstr (entry->d_name, ".log")) {
            cr_assert_lt (count, max);
            memcpy (names[count++], entry->d_name, 25);
        }
    closedir (handle);
    qsort (names, count, 32, s_compare_names);
    return count;
}

static uint64_t s_file_size (const char *path)
{
    struct stat st;
    cr_assert_eq (stat (path, &st), 0, "stat %s", path);
    return (uint64_t)st.st_size;
}

static uint8_t *s_read_file (const char *path, size_t *size)
{
    *size = (size_t)s_file_size (path);
    uint8_t *data = (uint8_t *)malloc (*size + 1);
    cr_assert_not_null (data);
    FILE *file = fopen (path, "rb");
    cr_assert_not_null (file);
    cr_assert_eq (fread (data, 1, *size, file), *size);
    fclose (file);
    return data;
}

static void s_write_file (const char *path, const uint8_t *data, size_t size, const char *mode)
{
    FILE *file = fopen (path, mode);
    cr_assert_not_null (file, "open %s", path);
    cr_assert (size == 0 || fwrite (data, 1, size, file) == size);
    cr_assert_eq (fclose (file), 0);
}

static void s_flip (const char *path, uint64_t offset)
{
    size_t size;
    uint8_t *data = s_read_file (path, &size);
    cr_assert_lt (offset, size);
    data[offset] ^= 0x40;
    s_write_file (path, data, size, "wb");
    free (data);
}

//  Naive model of the agreement rule over s_epoch.
static uint64_t s_model_agreement (uint64_t head, uint64_t salt_from, uint64_t salt, uint64_t epoch,
                                   uint64_t seq)
{
    uint64_t agreed = 0;
    for (uint64_t s = 1; s <= head && s <= seq; s++) {
        if (s_spec (s, s >= salt_from ? salt : 0).epoch > epoch)
            break;
        agreed = s;
    }
    return agreed;
}

static void s_check_agreement (disklog_t *log, uint64_t salt_from, uint64_t salt)
{
    uint64_t head = disklog_head (log);
    uint64_t epochs[] = {0, 1, 2, 3, 7, 8, 9, 10, 100, 102, 109, 1000};
    for (size_t e = 0; e < sizeof epochs / sizeof epochs[0]; e++)
        for (uint64_t seq = 0; seq <= head + 2; seq += 3)
            cr_assert_eq (disklog_agreement (log, epochs[e], seq),
                          s_model_agreement (head, salt_from, salt, epochs[e], seq),
                          "agreement (%" PRIu64 ", %" PRIu64 ")", epochs[e], seq);
}

//  --------------------------------------------------------------------------

Test (disklog, empty_and_bad_arguments)
{
    char dir[128], err[600] = "";
    s_log_dir (dir, sizeof dir);
    disklog_recovery_t recovery;
    cr_assert_null (disklog_open (dir, 100, DISKLOG_STRICT, &recovery, err, sizeof err));
    cr_assert (strstr (err, "segment size"), "%s", err);
    char deep[256];
    snprintf (deep, sizeof deep, "%s/no/such/dir", s_dir);
    cr_assert_null (disklog_open (deep, SEGMENT, DISKLOG_STRICT, &recovery, err, sizeof err));
    cr_assert_eq (errno, ENOENT);
    cr_assert (strstr (err, "cannot create"), "%s", err);

    disklog_t *log = s_open (dir, DISKLOG_STRICT, &recovery);
    cr_assert_eq (recovery.entries, 0);
    cr_assert_eq (recovery.cut_bytes, 0);
    cr_assert_str_empty (recovery.file);
    cr_assert_eq (disklog_head (log), 0);
    cr_assert_eq (disklog_written (log), 0);
    cr_assert_eq (disklog_synced (log), 0);
    cr_assert_eq (disklog_agreement (log, 5, 5), 0);
    cr_assert_eq (disklog_epoch_of (log, 1), 0);
    entry_t out;
    cr_assert_eq (disklog_get (log, 1, &out), -1);
    cr_assert_eq (errno, ENOENT);
    cr_assert_eq (disklog_commit (log, true), 0);
    cr_assert_eq (disklog_segments (log), 0);
    cr_assert_eq (disklog_truncate (log, 0, NULL), 0);

    //  A second open of the same directory is refused while the first lives
    err[0] = 0;
    cr_assert_null (disklog_open (dir, SEGMENT, DISKLOG_STRICT, NULL, err, sizeof err));
    cr_assert (strstr (err, "in use"), "%s", err);
    disklog_destroy (&log);
    cr_assert_null (log);
    disklog_destroy (&log);
    log = s_open (dir, DISKLOG_STRICT, NULL);
    disklog_destroy (&log);
}

Test (disklog, round_trip_segments_reopen)
{
    char dir[128];
    s_log_dir (dir, sizeof dir);
    disklog_t *log = s_open (dir, DISKLOG_STRICT, NULL);
    //  Commit in batches of 1, 2, 3, ... so some span several segments
    uint64_t batch = 1;
    while (disklog_head (log) < 150) {
        for (uint64_t i = 0; i < batch && disklog_head (log) < 150; i++)
            s_append (log, 0);
        cr_assert_eq (disklog_written (log) + (disklog_head (log) - disklog_written (log)),
                      disklog_head (log));
        entry_t out;
        if (disklog_head (log) > disklog_written (log))
            cr_assert_eq (disklog_get (log, disklog_head (log), &out), -1);
        cr_assert_eq (disklog_commit (log, batch % 2 == 0), 0);
        cr_assert_eq (disklog_written (log), disklog_head (log));
        if (batch % 2 == 0)
            cr_assert_eq (disklog_synced (log), disklog_head (log));
        batch++;
    }
    s_check_all (log, UINT64_MAX, 0);
    s_check_agreement (log, UINT64_MAX, 0);
    cr_assert_gt (disklog_segments (log), 20);

    //  Pointers from get stay valid across later appends and commits
    entry_t first;
    cr_assert_eq (disklog_get (log, 1, &first), 0);
    s_append (log, 0);
    cr_assert_eq (disklog_commit (log, true), 0);
    s_check_entry (&first, 1, 0);
    size_t segments = disklog_segments (log);
    disklog_destroy (&log);

    //  On disk: segments named by first seq; an oversized record (seq 5)
    //  sits alone in a segment of its own
    char names[256][32];
    size_t count = s_segments (dir, names, 256);
    cr_assert_eq (count, segments);
    cr_assert_str_eq (names[0], "00000000000000000001.log");
    bool found = false;
    for (size_t i = 0; i + 1 < count; i++)
        if (!strcmp (names[i], "00000000000000000005.log")) {
            cr_assert_str_eq (names[i + 1], "00000000000000000006.log");
            char path[256];
            snprintf (path, sizeof path, "%s/%.31s", dir, names[i]);
            spec_t spec = s_spec (5, 0);
            cr_assert_eq (s_file_size (path),
                          DISKLOG_RECORD_HEADER + spec.client_id_size + spec.size);
            found = true;
        }
    cr_assert (found);

    disklog_recovery_t recovery;
    log = s_open (dir, DISKLOG_STRICT, &recovery);
    cr_assert_eq (recovery.entries, 151);
    cr_assert_eq (recovery.cut_bytes, 0);
    cr_assert_eq (recovery.cut_entries, 0);
    cr_assert_not (recovery.corrupt_middle);
    cr_assert_eq (disklog_head (log), 151);
    cr_assert_eq (disklog_synced (log), 151);
    s_check_all (log, UINT64_MAX, 0);
    s_check_agreement (log, UINT64_MAX, 0);
    //  And it keeps appending where it stopped
    for (int i = 0; i < 30; i++)
        s_append (log, 0);
    cr_assert_eq (disklog_commit (log, false), 0);
    disklog_destroy (&log);
    log = s_open (dir, DISKLOG_STRICT, NULL);
    cr_assert_eq (disklog_head (log), 181);
    s_check_all (log, UINT64_MAX, 0);
    disklog_destroy (&log);
}

Test (disklog, buffered_records_are_not_written)
{
    char dir[128];
    s_log_dir (dir, sizeof dir);
    disklog_t *log = s_open (dir, DISKLOG_STRICT, NULL);
    for (int i = 0; i < 10; i++)
        s_append (log, 0);
    cr_assert_eq (disklog_commit (log, false), 0);
    for (int i = 0; i < 5; i++)
        s_append (log, 0);
    cr_assert_eq (disklog_head (log), 15);
    cr_assert_eq (disklog_written (log), 10);
    cr_assert_eq (disklog_epoch_of (log, 15), s_spec (15, 0).epoch);
    entry_t out;
    cr_assert_eq (disklog_get (log, 11, &out), -1);
    disklog_destroy (&log);
    log = s_open (dir, DISKLOG_STRICT, NULL);
    cr_assert_eq (disklog_head (log), 10);
    s_check_all (log, UINT64_MAX, 0);
    cr_assert_lt (disklog_memory (log), 64 * 1024);
    disklog_destroy (&log);
}

//  Build 1..COUNT, then cut the last segment at every length from the last
//  record's start to its end - 1: the record goes, the rest stays.
static void s_torn_every_byte (uint64_t count)
{
    char dir[128];
    s_log_dir (dir, sizeof dir);
    disklog_t *log = s_open (dir, DISKLOG_STRICT, NULL);
    for (uint64_t i = 1; i < count; i++)
        s_append (log, 0);
    cr_assert_eq (disklog_commit (log, true), 0);
    size_t segments = disklog_segments (log);
    s_append (log, 0);
    cr_assert_eq (disklog_commit (log, true), 0);
    bool own_segment = disklog_segments (log) > segments;
    disklog_destroy (&log);

    char names[256][32], path[256];
    size_t nnames = s_segments (dir, names, 256);
    snprintf (path, sizeof path, "%s/%.31s", dir, names[nnames - 1]);
    size_t size;
    uint8_t *original = s_read_file (path, &size);
    spec_t spec = s_spec (count, 0);
    size_t record = DISKLOG_RECORD_HEADER + spec.client_id_size + spec.size;
    cr_assert_geq (size, record);
    size_t start = size - record;
    cr_assert_eq (start == 0, own_segment);

    for (size_t cut = 0; cut < record; cut++) {
        s_write_file (path, original, start + cut, "wb");
        disklog_recovery_t recovery;
        log = s_open (dir, DISKLOG_STRICT, &recovery);
        cr_assert_eq (recovery.entries, count - 1, "cut %zu", cut);
        cr_assert_eq (recovery.cut_bytes, cut, "cut %zu", cut);
        cr_assert_eq (recovery.cut_entries, 0, "cut %zu", cut);
        cr_assert_not (recovery.corrupt_middle, "cut %zu", cut);
        if (cut) {
            cr_assert_str_eq (recovery.file, path);
            cr_assert_eq (recovery.offset, start);
        } else
            cr_assert_str_empty (recovery.file);
        cr_assert_eq (disklog_head (log), count - 1);
        entry_t out;
        cr_assert_eq (disklog_get (log, count, &out), -1);
        s_check (log, count - 1, 0);
        s_check (log, 1, 0);
        if (start) //  the segment is cut at the record
            cr_assert_eq (s_file_size (path), start, "cut %zu", cut);
        if (cut % 16 == 1) {
            //  Appending again puts the record back, readable after reopen
            s_append (log, 0);
            cr_assert_eq (disklog_commit (log, true), 0);
            disklog_destroy (&log);
            log = s_open (dir, DISKLOG_STRICT, &recovery);
            cr_assert_eq (recovery.cut_bytes, 0);
            cr_assert_eq (disklog_head (log), count);
            s_check (log, count, 0);
        }
        disklog_destroy (&log);
    }
    //  The complete record (no cut) is all there
    s_write_file (path, original, size, "wb");
    log = s_open (dir, DISKLOG_STRICT, NULL);
    s_check_all (log, UINT64_MAX, 0);
    disklog_destroy (&log);
    free (original);
}

Test (disklog, torn_tail_every_byte)
{
    s_torn_every_byte (30); //  seq 30 sits after others in its segment
}

Test (disklog, torn_tail_every_byte_own_segment)
{
    s_torn_every_byte (17); //  seq 17 does not fit after 6..16: it starts a segment
}

Test (disklog, garbage_tail)
{
    char dir[128], names[256][32], path[256];
    s_log_dir (dir, sizeof dir);
    disklog_t *log = s_open (dir, DISKLOG_STRICT, NULL);
    for (int i = 0; i < 60; i++)
        s_append (log, 0);
    cr_assert_eq (disklog_commit (log, true), 0);
    disklog_destroy (&log);
    size_t nnames = s_segments (dir, names, 256);
    snprintf (path, sizeof path, "%s/%.31s", dir, names[nnames - 1]);
    uint64_t size = s_file_size (path);

    //  Random bytes, then zeros, then 0xFF: each is cut, nothing else
    uint8_t garbage[1000];
    uint64_t x = 0x2545F4914F6CDD1Du;
    for (size_t i = 0; i < sizeof garbage; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        garbage[i] = (uint8_t)x;
    }
    for (int round = 0; round < 3; round++) {
        if (round == 1)
            memset (garbage, 0, sizeof garbage);
        if (round == 2)
            memset (garbage, 0xFF, sizeof garbage);
        s_write_file (path, garbage, sizeof garbage, "ab");
        disklog_recovery_t recovery;
        log = s_open (dir, DISKLOG_STRICT, &recovery);
        cr_assert_eq (recovery.entries, 60, "round %d", round);
        cr_assert_eq (recovery.cut_bytes, sizeof garbage, "round %d", round);
        cr_assert_not (recovery.corrupt_middle);
        cr_assert_str_eq (recovery.file, path);
        cr_assert_eq (recovery.offset, size);
        cr_assert_eq (s_file_size (path), size);
        s_check_all (log, UINT64_MAX, 0);
        disklog_destroy (&log);
    }

    //  A whole record with a bad CRC at the tail counts as a cut entry
    size_t bytes;
    uint8_t *data = s_read_file (path, &bytes);
    spec_t spec = s_spec (60, 0);
    size_t record = DISKLOG_RECORD_HEADER + spec.client_id_size + spec.size;
    uint8_t *copy = (uint8_t *)malloc (record);
    cr_assert_not_null (copy);
    memcpy (copy, data + bytes - record, record);
    copy[16] = 61; //  seq 61, but the CRC is of seq 60
    s_write_file (path, copy, record, "ab");
    disklog_recovery_t recovery;
    log = s_open (dir, DISKLOG_CUT, &recovery);
    cr_assert_eq (recovery.entries, 60);
    cr_assert_eq (recovery.cut_entries, 1);
    cr_assert_eq (recovery.cut_bytes, record);
    cr_assert_str_eq (recovery.reason, "crc mismatch");
    cr_assert_not (recovery.corrupt_middle);
    disklog_destroy (&log);
    free (copy);
    free (data);
}

Test (disklog, crc_mismatch_in_the_middle)
{
    char dir[128], names[256][32], path[256], err[600] = "";
    s_log_dir (dir, sizeof dir);
    disklog_t *log = s_open (dir, DISKLOG_STRICT, NULL);
    for (int i = 0; i < 100; i++)
        s_append (log, 0);
    cr_assert_eq (disklog_commit (log, true), 0);
    //  Seq 3 starts where seqs 1 and 2 end, in the first segment
    entry_t out;
    cr_assert_eq (disklog_get (log, 3, &out), 0);
    uint64_t offset = 0;
    for (uint64_t seq = 1; seq < 3; seq++) {
        spec_t spec = s_spec (seq, 0);
        offset += DISKLOG_RECORD_HEADER + spec.client_id_size + spec.size;
    }
    disklog_destroy (&log);
    size_t nnames = s_segments (dir, names, 256);
    cr_assert_gt (nnames, 5);
    uint64_t total = 0;
    for (size_t i = 0; i < nnames; i++) {
        snprintf (path, sizeof path, "%s/%.31s", dir, names[i]);
        total += s_file_size (path);
    }
    snprintf (path, sizeof path, "%s/%.31s", dir, names[0]);
    s_flip (path, offset + DISKLOG_RECORD_HEADER + 20); //  a client id byte of seq 3

    //  STRICT refuses, naming file and offset, and leaves the files alone
    disklog_recovery_t recovery;
    cr_assert_null (disklog_open (dir, SEGMENT, DISKLOG_STRICT, &recovery, err, sizeof err));
    cr_assert_eq (errno, EBADMSG);
    char expect[600];
    snprintf (expect, sizeof expect, "corrupt record in %s at offset %" PRIu64 ": crc mismatch",
              path, offset);
    cr_assert_str_eq (err, expect);
    cr_assert (recovery.corrupt_middle);
    cr_assert_str_eq (recovery.file, path);
    cr_assert_eq (recovery.offset, offset);
    cr_assert_eq (recovery.entries, 2);
    cr_assert_eq (recovery.cut_entries, 98);
    cr_assert_eq (recovery.cut_bytes, total - offset);
    cr_assert_str_eq (recovery.reason, "crc mismatch");
    char names2[256][32];
    cr_assert_eq (s_segments (dir, names2, 256), nnames);

    //  CUT keeps 1..2, and the log goes on from there
    log = s_open (dir, DISKLOG_CUT, &recovery);
    cr_assert (recovery.corrupt_middle);
    cr_assert_eq (recovery.entries, 2);
    cr_assert_eq (recovery.cut_entries, 98);
    cr_assert_eq (recovery.cut_bytes, total - offset);
    cr_assert_eq (disklog_head (log), 2);
    cr_assert_eq (disklog_segments (log), 1);
    cr_assert_eq (s_segments (dir, names2, 256), 1);
    s_check_all (log, UINT64_MAX, 0);
    for (int i = 0; i < 50; i++)
        s_append (log, 3);
    cr_assert_eq (disklog_commit (log, true), 0);
    disklog_destroy (&log);
    log = s_open (dir, DISKLOG_STRICT, &recovery);
    cr_assert_eq (recovery.cut_bytes, 0);
    cr_assert_eq (disklog_head (log), 52);
    s_check_all (log, 3, 3);
    s_check_agreement (log, 3, 3);
    disklog_destroy (&log);
}

Test (disklog, corrupt_non_last_segment_and_gap)
{
    char dir[128], names[256][32], path[256], err[600] = "";
    s_log_dir (dir, sizeof dir);
    disklog_t *log = s_open (dir, DISKLOG_STRICT, NULL);
    for (int i = 0; i < 100; i++)
        s_append (log, 0);
    cr_assert_eq (disklog_commit (log, true), 0);
    disklog_destroy (&log);
    size_t nnames = s_segments (dir, names, 256);
    cr_assert_gt (nnames, 5);

    //  Garbage at the end of a middle segment is corruption, not a tail
    snprintf (path, sizeof path, "%s/%.31s", dir, names[2]);
    uint64_t size = s_file_size (path);
    s_write_file (path, (const uint8_t *)"garbage!", 8, "ab");
    disklog_recovery_t recovery;
    cr_assert_null (disklog_open (dir, SEGMENT, DISKLOG_STRICT, &recovery, err, sizeof err));
    cr_assert (strstr (err, path) && strstr (err, "at offset"), "%s", err);
    cr_assert (recovery.corrupt_middle);
    cr_assert_eq (recovery.offset, size);
    uint64_t first3 = strtoull (names[3], NULL, 10);
    cr_assert_eq (recovery.entries, first3 - 1);
    cr_assert_eq (truncate (path, (off_t)size), 0);

    //  A missing segment is corruption at the start of the next one
    snprintf (path, sizeof path, "%s/%.31s", dir, names[3]);
    cr_assert_eq (unlink (path), 0);
    snprintf (path, sizeof path, "%s/%.31s", dir, names[4]);
    cr_assert_null (disklog_open (dir, SEGMENT, DISKLOG_STRICT, &recovery, err, sizeof err));
    cr_assert (strstr (err, path) && strstr (err, "at offset 0: segment starts at seq"), "%s", err);
    log = s_open (dir, DISKLOG_CUT, &recovery);
    cr_assert (recovery.corrupt_middle);
    cr_assert_eq (disklog_head (log), first3 - 1);
    cr_assert_eq (recovery.cut_entries, 100 - (strtoull (names[4], NULL, 10) - 1));
    s_check_all (log, UINT64_MAX, 0);
    cr_assert_eq (s_segments (dir, names, 256), 3);
    disklog_destroy (&log);
}

//  Parse a rollback file: records seq FIRST.. with valid CRCs; returns the count.
static uint64_t s_check_rollback (const char *path, uint64_t first, uint64_t salt_from,
                                  uint64_t salt)
{
    size_t size;
    uint8_t *data = s_read_file (path, &size);
    size_t off = 0;
    uint64_t count = 0;
    while (off < size) {
        cr_assert_geq (size - off, (size_t)DISKLOG_RECORD_HEADER);
        uint32_t len, crc;
        uint64_t epoch, seq, req_id;
        memcpy (&len, data + off, 4);
        memcpy (&crc, data + off + 4, 4);
        memcpy (&epoch, data + off + 8, 8);
        memcpy (&seq, data + off + 16, 8);
        memcpy (&req_id, data + off + 24, 8);
        cr_assert_leq (len, size - off - 8);
        cr_assert_eq (crc, crc32c (data + off + 8, len), "rollback crc at %zu", off);
        cr_assert_eq (seq, first + count);
        entry_t entry;
        entry.epoch = epoch;
        entry.req_id = req_id;
        entry.client_id_size = data[off + 32];
        entry.client_id = data + off + DISKLOG_RECORD_HEADER;
        entry.data = entry.client_id + entry.client_id_size;
        entry.size = len - 25 - entry.client_id_size;
        s_check_entry (&entry, seq, seq >= salt_from ? salt : 0);
        off += 8 + len;
        count++;
    }
    free (data);
    return count;
}

Test (disklog, truncate_with_rollback)
{
    char dir[128], rollback[256];
    s_log_dir (dir, sizeof dir);
    snprintf (rollback, sizeof rollback, "%s/rollback.rec", s_dir);
    disklog_t *log = s_open (dir, DISKLOG_STRICT, NULL);
    for (int i = 0; i < 120; i++)
        s_append (log, 0);
    cr_assert_eq (disklog_commit (log, true), 0);
    for (int i = 0; i < 10; i++)
        s_append (log, 0); //  buffered, go to the rollback file too
    size_t segments = disklog_segments (log);

    //  Cut inside the buffer only
    char buffered[256];
    snprintf (buffered, sizeof buffered, "%s/buffered.rec", s_dir);
    cr_assert_eq (disklog_truncate (log, 125, buffered), 0);
    cr_assert_eq (disklog_head (log), 125);
    cr_assert_eq (disklog_written (log), 120);
    cr_assert_eq (s_check_rollback (buffered, 126, UINT64_MAX, 0), 5);

    cr_assert_eq (disklog_truncate (log, 47, rollback), 0);
    cr_assert_eq (disklog_head (log), 47);
    cr_assert_eq (disklog_written (log), 47);
    cr_assert_eq (disklog_synced (log), 47);
    cr_assert_lt (disklog_segments (log), segments);
    cr_assert_eq (s_check_rollback (rollback, 48, UINT64_MAX, 0), 125 - 47);
    s_check_all (log, UINT64_MAX, 0);
    s_check_agreement (log, UINT64_MAX, 0);
    cr_assert_eq (disklog_epoch_of (log, 48), 0);

    //  New history from 48 on, with a new epoch
    for (int i = 0; i < 60; i++)
        s_append (log, 5);
    cr_assert_eq (disklog_commit (log, true), 0);
    s_check_all (log, 48, 5);
    s_check_agreement (log, 48, 5);
    disklog_destroy (&log);
    disklog_recovery_t recovery;
    log = s_open (dir, DISKLOG_STRICT, &recovery);
    cr_assert_eq (recovery.cut_bytes, 0);
    cr_assert_eq (disklog_head (log), 107);
    s_check_all (log, 48, 5);
    s_check_agreement (log, 48, 5);

    //  A second cut appends to the rollback file; then cut to nothing
    uint64_t size = s_file_size (rollback);
    cr_assert_eq (disklog_truncate (log, 100, rollback), 0);
    uint64_t added = 0;
    for (uint64_t seq = 101; seq <= 107; seq++) {
        spec_t spec = s_spec (seq, 5);
        added += DISKLOG_RECORD_HEADER + spec.client_id_size + spec.size;
    }
    cr_assert_eq (s_file_size (rollback), size + added);
    cr_assert_eq (disklog_truncate (log, 0, NULL), 0);
    cr_assert_eq (disklog_head (log), 0);
    cr_assert_eq (disklog_segments (log), 0);
    char names[256][32];
    cr_assert_eq (s_segments (dir, names, 256), 0);
    s_append (log, 0);
    cr_assert_eq (disklog_commit (log, true), 0);
    disklog_destroy (&log);
    log = s_open (dir, DISKLOG_STRICT, NULL);
    cr_assert_eq (disklog_head (log), 1);
    s_check_all (log, UINT64_MAX, 0);
    disklog_destroy (&log);
}

Test (disklog, truncate_at_segment_boundaries)
{
    char dir[128], names[256][32];
    s_log_dir (dir, sizeof dir);
    disklog_t *log = s_open (dir, DISKLOG_STRICT, NULL);
    for (int i = 0; i < 60; i++)
        s_append (log, 0);
    cr_assert_eq (disklog_commit (log, false), 0);
    size_t count = s_segments (dir, names, 256);
    cr_assert_gt (count, 4);
    //  Keep exactly the segments before the 4th: nothing to cut inside one
    uint64_t first = strtoull (names[3], NULL, 10);
    cr_assert_eq (disklog_truncate (log, first - 1, NULL), 0);
    cr_assert_eq (disklog_segments (log), 3);
    cr_assert_eq (s_segments (dir, names, 256), 3);
    s_check_all (log, UINT64_MAX, 0);
    //  Keep 1..5, seq 5 being the oversized record alone in its segment
    cr_assert_eq (disklog_truncate (log, 5, NULL), 0);
    cr_assert_eq (s_segments (dir, names, 256), 2);
    cr_assert_str_eq (names[1], "00000000000000000005.log");
    for (int i = 0; i < 20; i++)
        s_append (log, 2);
    cr_assert_eq (disklog_commit (log, true), 0);
    cr_assert_eq (disklog_synced (log), 25);
    cr_assert_geq (s_segments (dir, names, 256), 3);
    cr_assert_str_eq (names[2], "00000000000000000006.log");
    cr_assert_str_eq (names[2], "00000000000000000006.log");
    disklog_destroy (&log);
    log = s_open (dir, DISKLOG_STRICT, NULL);
    cr_assert_eq (disklog_head (log), 25);
    s_check_all (log, 6, 2);
    disklog_destroy (&log);

    //  An empty last segment (a crash right after creating it) is kept and
    //  used, even for a record bigger than a segment
    char path[256];
    snprintf (path, sizeof path, "%s/00000000000000000026.log", dir);
    s_write_file (path, NULL, 0, "wb");
    disklog_recovery_t recovery;
    log = s_open (dir, DISKLOG_STRICT, &recovery);
    cr_assert_eq (recovery.cut_bytes, 0);
    cr_assert_str_empty (recovery.file);
    size_t size = SEGMENT * 5;
    uint8_t *data = (uint8_t *)calloc (1, size);
    cr_assert_not_null (data);
    data[size - 1] = 0x5A;
    entry_t entry = {3, 26, NULL, 0, data, size};
    cr_assert_eq (disklog_append (log, &entry), 0);
    cr_assert_eq (disklog_commit (log, true), 0);
    free (data);
    entry_t out;
    cr_assert_eq (disklog_get (log, 26, &out), 0);
    cr_assert_eq (out.size, size);
    cr_assert_eq (out.data[size - 1], 0x5A);
    disklog_destroy (&log);
    cr_assert_eq (s_file_size (path), DISKLOG_RECORD_HEADER + size);
    log = s_open (dir, DISKLOG_STRICT, NULL);
    cr_assert_eq (disklog_head (log), 26);
    cr_assert_eq (disklog_get (log, 26, &out), 0);
    cr_assert_eq (out.data[size - 1], 0x5A);
    disklog_destroy (&log);
}

Test (disklog, failed_fsync_is_final)
{
    char dir[128];
    s_log_dir (dir, sizeof dir);
    disklog_t *log = s_open (dir, DISKLOG_STRICT, NULL);
    for (int i = 0; i < 10; i++)
        s_append (log, 0);
    cr_assert_eq (disklog_commit (log, true), 0);
    s_append (log, 0);
    disklog_inject_sync_error (log, EIO);
    cr_assert_eq (disklog_commit (log, true), -1);
    cr_assert_eq (errno, EIO);
    cr_assert (disklog_failed (log));
    cr_assert_eq (disklog_written (log), 11);
    cr_assert_eq (disklog_synced (log), 10);
    //  Reads go on; writes are refused until reopened
    s_check_all (log, UINT64_MAX, 0);
    spec_t spec = s_spec (12, 0);
    entry_t entry = {spec.epoch,          spec.req_id,          spec.client_id,
                     spec.client_id_size, (const uint8_t *)"x", 1};
    cr_assert_eq (disklog_append (log, &entry), -1);
    cr_assert_eq (errno, EIO);
    cr_assert_eq (disklog_commit (log, true), -1);
    cr_assert_eq (errno, EIO);
    cr_assert_eq (disklog_truncate (log, 5, NULL), -1);
    cr_assert_eq (disklog_synced (log), 10);
    disklog_destroy (&log);
    log = s_open (dir, DISKLOG_STRICT, NULL);
    cr_assert_not (disklog_failed (log));
    cr_assert_eq (disklog_synced (log), 11);
    s_check_all (log, UINT64_MAX, 0);

    //  A sync failing when a full segment is closed is as final
    disklog_inject_sync_error (log, EIO);
    while (disklog_segments (log) < 6 && !disklog_failed (log)) {
        s_append (log, 0);
        disklog_commit (log, false);
    }
    cr_assert (disklog_failed (log));
    cr_assert_lt (disklog_synced (log), disklog_written (log));
    disklog_destroy (&log);
}

static long s_rss_kib (void)
{
    FILE *file = fopen ("/proc/self/status", "r");
    cr_assert_not_null (file);
    char line[256];
    long rss = -1;
    while (fgets (line, sizeof line, file))
        if (!strncmp (line, "VmRSS:", 6))
            rss = strtol (line + 6, NULL, 10);
    fclose (file);
    return rss;
}

Test (disklog, memory_bounded_by_index)
{
    //  1,000,000 x 1 KiB (about 1 GB of files); a fifth of that under valgrind
    uint64_t count = RUNNING_ON_VALGRIND ? 200000 : 1000000;
    char dir[128], err[600] = "";
    s_log_dir (dir, sizeof dir);
    disklog_t *log = disklog_open (dir, 64 * 1024 * 1024, DISKLOG_STRICT, NULL, err, sizeof err);
    cr_assert_not_null (log, "%s", err);
    uint8_t payload[1024];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 13);
    uint8_t client_id[16];
    memcpy (client_id, "client-012345678", sizeof client_id);
    long before = s_rss_kib ();
    for (uint64_t seq = 1; seq <= count; seq++) {
        memcpy (payload, &seq, sizeof seq);
        entry_t entry = {1 + seq / 300000, seq,     client_id,
                         sizeof client_id, payload, sizeof payload};
        cr_assert_eq (disklog_append (log, &entry), 0);
        if (seq % 1000 == 0)
            cr_assert_eq (disklog_commit (log, false), 0);
    }
    cr_assert_eq (disklog_commit (log, true), 0);
    long after = s_rss_kib ();
    size_t memory = disklog_memory (log);
    cr_log_info ("disklog: %" PRIu64 " entries, memory %zu bytes (%.2f bytes/entry), "
                 "VmRSS %ld -> %ld KiB (+%ld KiB)",
                 count, memory, (double)memory / (double)count, before, after, after - before);
    cr_assert_lt ((double)memory / (double)count, 32.0);
    //  About 6 MB of index and buffer for 1 GB of data; allow for noise
    cr_assert_lt (after - before, 64 * 1024, "RSS grew by %ld KiB", after - before);
    disklog_destroy (&log);

    //  Recovery reads every record, and then every entry is read: the
    //  mapped pages must not stay resident
    long closed = s_rss_kib ();
    disklog_recovery_t recovery;
    log = disklog_open (dir, 64 * 1024 * 1024, DISKLOG_STRICT, &recovery, err, sizeof err);
    cr_assert_not_null (log, "%s", err);
    cr_assert_eq (recovery.entries, count);
    cr_assert_eq (recovery.cut_bytes, 0);
    long reopened = s_rss_kib ();
    for (uint64_t seq = 1; seq <= count; seq++) {
        entry_t out;
        cr_assert_eq (disklog_get (log, seq, &out), 0);
        uint64_t stamp;
        memcpy (&stamp, out.data, sizeof stamp);
        cr_assert_eq (stamp, seq);
        cr_assert_eq (out.size, sizeof payload);
        cr_assert_eq (out.epoch, 1 + seq / 300000);
    }
    long read = s_rss_kib ();
    cr_log_info ("disklog: reopen VmRSS %ld -> %ld KiB, after reading all %ld KiB", closed,
                 reopened, read);
    cr_assert_lt (reopened - closed, 64 * 1024, "RSS grew by %ld KiB", reopened - closed);
    cr_assert_lt (read - closed, 100 * 1024, "RSS grew by %ld KiB", read - closed);
    disklog_destroy (&log);
}

Test (disklog, full_disk)
{
    if (geteuid () != 0)
        cr_skip_test ("full_disk needs root to mount a tmpfs");
    snprintf (s_mount, sizeof s_mount, "%s/mnt", s_dir);
    cr_assert_eq (mkdir (s_mount, 0755), 0);
    if (mount ("tmpfs", s_mount, "tmpfs", 0, "size=1m")) {
        int error = errno;
        rmdir (s_mount);
        s_mount[0] = 0;
        cr_skip_test ("cannot mount a 1 MiB tmpfs: %s", strerror (error));
    }
    char dir[256], filler[256], page[256], err[600] = "";
    snprintf (dir, sizeof dir, "%s/log", s_mount);
    snprintf (filler, sizeof filler, "%s/filler", s_mount);
    snprintf (page, sizeof page, "%s/page", s_mount);
    uint8_t block[64 * 1024];
    memset (block, 0xAB, sizeof block);
    for (int i = 0; i < 4; i++)
        s_write_file (filler, block, sizeof block, "ab");
    s_write_file (page, block, 4096, "wb");

    disklog_t *log = disklog_open (dir, 64 * 1024, DISKLOG_STRICT, NULL, err, sizeof err);
    cr_assert_not_null (log, "%s", err);
    //  Batches of three 3000-byte entries until the disk is full
    uint8_t payload[3000];
    int rc = 0;
    uint64_t batches = 0;
    while (rc == 0) {
        for (int i = 0; i < 3; i++) {
            uint64_t seq = disklog_head (log) + 1;
            memset (payload, (int)(seq & 0xFF), sizeof payload);
            entry_t entry = {1, seq, (const uint8_t *)"c", 1, payload, sizeof payload};
            cr_assert_eq (disklog_append (log, &entry), 0);
        }
        rc = disklog_commit (log, true);
        batches++;
        cr_assert_lt (batches, 1000, "the disk never filled up");
    }
    cr_assert_eq (errno, ENOSPC, "commit failed with %s", strerror (errno));
    cr_assert_not (disklog_failed (log));
    uint64_t written = disklog_written (log);
    cr_assert_gt (written, 10);
    cr_assert_eq (disklog_head (log), written);
    cr_assert_leq (disklog_synced (log), written);
    cr_assert_gt (disklog_synced (log) + 3, written);
    for (uint64_t seq = 1; seq <= written; seq++) {
        entry_t out;
        cr_assert_eq (disklog_get (log, seq, &out), 0, "get %" PRIu64, seq);
        cr_assert_eq (out.data[2999], (uint8_t)(seq & 0xFF));
    }
    //  Still full: a retry fails cleanly again
    memset (payload, 0x11, sizeof payload);
    entry_t entry = {1, 0, (const uint8_t *)"c", 1, payload, sizeof payload};
    for (int i = 0; i < 5; i++)
        cr_assert_eq (disklog_append (log, &entry), 0);
    cr_assert_eq (disklog_commit (log, true), -1);
    cr_assert_eq (errno, ENOSPC);
    cr_assert_eq (disklog_head (log), disklog_written (log));
    cr_assert_eq (disklog_written (log), written);

    //  One page comes back: a five-record commit writes part of it, keeps
    //  the records written whole (one 3034-byte record fits in 4096), cuts
    //  the torn one and fails
    cr_assert_eq (unlink (page), 0);
    for (int i = 0; i < 5; i++)
        cr_assert_eq (disklog_append (log, &entry), 0);
    cr_assert_eq (disklog_commit (log, true), -1);
    cr_assert_eq (errno, ENOSPC);
    cr_assert_gt (disklog_written (log), written, "nothing of the page was used");
    cr_assert_lt (disklog_written (log), written + 5);
    cr_assert_eq (disklog_head (log), disklog_written (log));
    for (uint64_t seq = 1; seq <= disklog_written (log); seq++) {
        entry_t out;
        cr_assert_eq (disklog_get (log, seq, &out), 0, "get %" PRIu64, seq);
    }
    written = disklog_written (log);

    //  Space comes back: commits succeed again
    cr_assert_eq (unlink (filler), 0);
    for (int i = 0; i < 5; i++)
        cr_assert_eq (disklog_append (log, &entry), 0);
    cr_assert_eq (disklog_commit (log, true), 0);
    cr_assert_eq (disklog_synced (log), written + 5);
    disklog_destroy (&log);

    disklog_recovery_t recovery;
    log = disklog_open (dir, 64 * 1024, DISKLOG_STRICT, &recovery, err, sizeof err);
    cr_assert_not_null (log, "%s", err);
    cr_assert_eq (recovery.cut_bytes, 0);
    cr_assert_eq (disklog_head (log), written + 5);
    entry_t out;
    cr_assert_eq (disklog_get (log, written + 5, &out), 0);
    cr_assert_eq (out.data[0], 0x11);
    disklog_destroy (&log);
}
