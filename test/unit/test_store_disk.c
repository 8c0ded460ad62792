/*  test_store_disk.c - what only the disk engine does: segment files and
    their names, recovery of torn tails (cut at every byte), garbage tails
    and corrupt middles (strict fails naming file and offset, non-strict
    keeps the prefix), payloads above a lowered limit, truncation across
    segments with rollback files, the directory lock, memory bounded by the
    index, and disk errors (a full tmpfs, a failed fsync).

    Each test works in its own mkdtemp directory, removed by the fini.
*/
#include "records.h"

#include <sys/mount.h>

#define SEGMENT 4096
#define BIG     ((size_t)SEGMENT * 3 + 17) //  a record bigger than a segment

//  Per test process (criterion forks one per test)
static char s_dir[64];
static char s_log[128];
static char s_mount[128];

static void s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/store-disk-test-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    snprintf (s_log, sizeof s_log, "%s/log", s_dir);
    s_mount[0] = 0;
}

static void s_teardown (void)
{
    if (s_mount[0]) {
        char log[256];
        snprintf (log, sizeof log, "%s/log", s_mount);
        gen_rmtree (log);
        umount2 (s_mount, MNT_DETACH);
    }
    gen_rmtree (s_dir);
}

TestSuite (disk, .init = s_setup, .fini = s_teardown, .timeout = 120.0);

static store_t *s_open (bool strict, store_recovery_t *recovery)
{
    char err[600] = "";
    store_t *store =
        store_disk_open (s_log, SEGMENT, strict, MAX_PAYLOAD, recovery, err, sizeof err);
    cr_assert_not_null (store, "open %s: %s", s_log, err);
    return store;
}

//  Records 1.. of a log: 1 to 5 entries, epochs rising in steps, every
//  37th record bigger than a segment.
static void s_grow (store_t *store, model_t *model, size_t records, uint64_t salt)
{
    for (size_t i = 0; i < records; i++) {
        size_t n = model->count;
        uint64_t epoch = n < 40 ? 1 : n < 90 ? 2 : n < 95 ? 7 : 9;
        bool big = n % 37 == 5;
        gen_add (store, model, big ? 1 : 1 + (uint32_t)(n % 5), epoch + salt * 100, salt,
                 big ? BIG : 0);
    }
}

static int s_compare_names (const void *a, const void *b)
{
    return strcmp ((const char *)a, (const char *)b);
}

//  Segment files in the log, sorted; returns the count.
static size_t s_segments (char names[][32], size_t max)
{
    DIR *handle = opendir (s_log);
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

static void s_path (char *path, size_t size, const char *name)
{
    snprintf (path, size, "%s/%.31s", s_log, name);
}

static uint64_t s_file_size (const char *path)
{
    struct stat st;
    cr_assert_eq (stat (path, &st), 0, "stat %s", path);
    return (uint64_t)st.st_size;
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
    uint8_t *data = gen_read_file (path, &size);
    cr_assert_lt (offset, size);
    data[offset] ^= 0x40;
    s_write_file (path, data, size, "wb");
    free (data);
}

static uint64_t s_entries (const model_t *model, size_t records)
{
    uint64_t entries = 0;
    for (size_t i = 0; i < records; i++)
        entries += model->specs[i].count;
    return entries;
}

//  --------------------------------------------------------------------------

Test (disk, open_arguments_and_lock)
{
    char err[600] = "";
    store_recovery_t recovery;
    cr_assert_null (store_disk_open (s_log, 100, true, MAX_PAYLOAD, &recovery, err, sizeof err));
    cr_assert_eq (errno, EINVAL);
    cr_assert (strstr (err, "segment size"), "%s", err);
    cr_assert_null (
        store_disk_open (s_log, STORE_SEGMENT_MAX + 1, true, MAX_PAYLOAD, NULL, err, sizeof err));
    //  Parents are made; a file in the way is not a directory
    char deep[256];
    snprintf (deep, sizeof deep, "%s/a/b/c", s_dir);
    store_t *store = store_disk_open (deep, 0, true, MAX_PAYLOAD, NULL, err, sizeof err);
    cr_assert_not_null (store, "%s", err);
    store_destroy (&store);
    char file[256], under[300];
    snprintf (file, sizeof file, "%s/file", s_dir);
    s_write_file (file, (const uint8_t *)"x", 1, "wb");
    snprintf (under, sizeof under, "%s/log", file);
    cr_assert_null (store_disk_open (under, 0, true, MAX_PAYLOAD, NULL, err, sizeof err));
    cr_assert_eq (errno, ENOTDIR);
    cr_assert (strstr (err, "cannot create"), "%s", err);

    store = s_open (true, &recovery);
    cr_assert_eq (recovery.entries, 0);
    cr_assert_eq (recovery.records, 0);
    cr_assert_eq (recovery.cut_bytes, 0);
    cr_assert_str_empty (recovery.file);
    cr_assert (store_is_durable (store));
    //  A second open of the same directory is refused while the first lives
    err[0] = 0;
    cr_assert_null (store_disk_open (s_log, SEGMENT, true, MAX_PAYLOAD, NULL, err, sizeof err));
    cr_assert_eq (errno, EWOULDBLOCK);
    cr_assert (strstr (err, "in use"), "%s", err);
    store_destroy (&store);
    cr_assert_null (store);
    store = s_open (true, NULL);
    store_destroy (&store);
}

Test (disk, segment_larger_than_4_gib)
{
    //  No store writes one; a sparse file stands for a damaged directory
    cr_assert_eq (mkdir (s_log, 0755), 0);
    char path[256], err[600] = "";
    snprintf (path, sizeof path, "%s/00000000000000000001.log", s_log);
    s_write_file (path, NULL, 0, "wb");
    cr_assert_eq (truncate (path, (off_t)1 << 32 | 1), 0);
    cr_assert_null (store_disk_open (s_log, SEGMENT, false, MAX_PAYLOAD, NULL, err, sizeof err));
    cr_assert_eq (errno, EFBIG);
    cr_assert (strstr (err, "larger than 4 GiB"), "%s", err);
    cr_assert_eq (s_file_size (path), ((uint64_t)1 << 32) + 1);
}

Test (disk, segments_on_disk_and_reopen)
{
    store_t *store = s_open (true, NULL);
    model_t model = {0};
    //  Commit in batches of 1, 2, 3, ... records so some span segments
    for (size_t batch = 1; model.count < 150; batch++) {
        s_grow (store, &model, batch, 0);
        cr_assert_eq (store_commit (store, batch % 2 == 0), 0);
        cr_assert_eq (store_written (store), store_head (store));
        if (batch % 2 == 0)
            cr_assert_eq (store_synced (store), store_head (store));
    }
    gen_verify (store, &model);
    //  Pointers stay valid across later appends and commits
    record_t first;
    cr_assert_eq (store_record (store, 1, &first), 0);
    s_grow (store, &model, 1, 0);
    cr_assert_eq (store_commit (store, true), 0);
    size_t size;
    uint8_t *bytes = gen_make (&model.specs[0], &size);
    cr_assert_eq (memcmp (first.bytes, bytes, size), 0);
    free (bytes);
    store_destroy (&store);

    //  Named by first seq; a record bigger than a segment sits alone
    char names[512][32], path[256];
    size_t count = s_segments (names, 512);
    cr_assert_gt (count, 10);
    cr_assert_str_eq (names[0], "00000000000000000001.log");
    const spec_t *big = &model.specs[5];
    cr_assert_eq (big->big, BIG);
    char name[32];
    snprintf (name, sizeof name, "%020" PRIu64 ".log", big->first_seq);
    bool found = false;
    for (size_t i = 0; i + 1 < count; i++)
        if (!strcmp (names[i], name)) {
            uint64_t next = strtoull (names[i + 1], NULL, 10);
            cr_assert_eq (next, big->first_seq + 1);
            s_path (path, sizeof path, names[i]);
            cr_assert_eq (s_file_size (path), gen_spec_size (big));
            found = true;
        }
    cr_assert (found);

    store_recovery_t recovery;
    store = s_open (true, &recovery);
    cr_assert_eq (recovery.entries, s_entries (&model, model.count));
    cr_assert_eq (recovery.records, model.count);
    cr_assert_eq (recovery.cut_bytes, 0);
    cr_assert_eq (recovery.cut_records, 0);
    cr_assert_not (recovery.corrupt_middle);
    cr_assert_eq (store_synced (store), store_head (store));
    gen_verify (store, &model);
    s_grow (store, &model, 30, 0);
    cr_assert_eq (store_commit (store, false), 0);
    store_destroy (&store);
    store = s_open (true, NULL);
    gen_verify (store, &model);
    store_destroy (&store);
    gen_model_free (&model);
}

Test (disk, buffered_records_are_lost_on_close)
{
    store_t *store = s_open (true, NULL);
    model_t model = {0};
    s_grow (store, &model, 10, 0);
    cr_assert_eq (store_commit (store, false), 0);
    uint64_t written = store_head (store);
    s_grow (store, &model, 5, 0);
    cr_assert_eq (store_written (store), written);
    cr_assert_gt (store_head (store), written);
    cr_assert_eq (store_epoch_of (store, store_head (store)), model.specs[14].epoch);
    gen_verify (store, &model); //  buffered records read like written ones
    store_destroy (&store);
    store = s_open (true, NULL);
    model.count = 10;
    gen_verify (store, &model);
    cr_assert_lt (store_memory (store), 128 * 1024);
    store_destroy (&store);
    gen_model_free (&model);
}

Test (disk, slices_stay_in_one_segment)
{
    store_t *store = s_open (true, NULL);
    model_t model = {0};
    s_grow (store, &model, 60, 0);
    cr_assert_eq (store_commit (store, true), 0);
    //  Whole segments at most: a slice never holds more than a segment,
    //  unless it is one record bigger than one
    for (uint64_t seq = 1; seq <= store_head (store);) {
        store_slice_t slice;
        cr_assert_eq (store_slice (store, seq, UINT64_MAX, SIZE_MAX, &slice), 0);
        cr_assert (slice.size <= SEGMENT || slice.records == 1);
        seq = slice.last_seq + 1;
    }
    //  Written and buffered records of the last segment are two slices
    gen_add (store, &model, 1, 9, 0, 0);
    uint64_t written = store_written (store);
    const spec_t *last_written = &model.specs[model.count - 2];
    store_slice_t slice;
    cr_assert_eq (store_slice (store, gen_last (last_written), UINT64_MAX, SIZE_MAX, &slice), 0);
    cr_assert_eq (slice.last_seq, written);
    cr_assert_eq (store_slice (store, written + 1, UINT64_MAX, SIZE_MAX, &slice), 0);
    cr_assert_eq (slice.first_seq, written + 1);
    cr_assert_eq (slice.last_seq, store_head (store));
    gen_verify (store, &model);
    store_destroy (&store);
    gen_model_free (&model);
}

//  Build RECORDS records (the last one bigger than a segment if OWN, else
//  one that shares its segment), then cut the last segment at every
//  length from the last record's start to its end - 1: the record goes,
//  the rest stays.
static void s_torn_every_byte (bool own)
{
    store_t *store = s_open (true, NULL);
    model_t model = {0};
    char names[256][32], path[256];
    s_grow (store, &model, 20, 0);
    cr_assert_eq (store_commit (store, true), 0);
    size_t before = s_segments (names, 256);
    if (own)
        gen_add (store, &model, 1, 3, 0, BIG);
    else
        while (true) {
            gen_add (store, &model, 2, 3, 0, 0);
            cr_assert_eq (store_commit (store, true), 0);
            size_t now = s_segments (names, 256);
            if (now == before)
                break; //  it went after others in a segment
            before = now;
        }
    cr_assert_eq (store_commit (store, true), 0);
    store_destroy (&store);

    size_t nnames = s_segments (names, 256);
    s_path (path, sizeof path, names[nnames - 1]);
    size_t size;
    uint8_t *original = gen_read_file (path, &size);
    const spec_t *last = &model.specs[model.count - 1];
    size_t record = gen_spec_size (last);
    size_t start = size - record;
    cr_assert_eq (start == 0, own);
    for (size_t cut = 0; cut < record; cut++) {
        s_write_file (path, original, start + cut, "wb");
        store_recovery_t recovery;
        store = s_open (true, &recovery);
        cr_assert_eq (recovery.records, model.count - 1, "cut %zu", cut);
        cr_assert_eq (recovery.entries, s_entries (&model, model.count - 1));
        cr_assert_eq (recovery.cut_bytes, cut, "cut %zu", cut);
        cr_assert_eq (recovery.cut_records, 0, "cut %zu", cut);
        cr_assert_not (recovery.corrupt_middle, "cut %zu", cut);
        if (cut) {
            cr_assert_str_eq (recovery.file, path);
            cr_assert_eq (recovery.offset, start);
        } else
            cr_assert_str_empty (recovery.file);
        cr_assert_eq (store_head (store), last->first_seq - 1);
        if (start)
            cr_assert_eq (s_file_size (path), start, "cut %zu", cut);
        model.count--;
        gen_check_record (store, 1, &model.specs[0]);
        gen_check_record (store, store_head (store), &model.specs[model.count - 1]);
        if (cut % 16 == 1) {
            //  Appending again puts the record back, readable after reopen
            gen_add (store, &model, last->count, last->epoch, last->salt, last->big);
            cr_assert_eq (store_commit (store, true), 0);
            store_destroy (&store);
            store = s_open (true, &recovery);
            cr_assert_eq (recovery.cut_bytes, 0);
            gen_verify (store, &model);
        } else
            model.count++;
        store_destroy (&store);
    }
    s_write_file (path, original, size, "wb");
    store = s_open (true, NULL);
    gen_verify (store, &model);
    store_destroy (&store);
    free (original);
    gen_model_free (&model);
}

Test (disk, torn_tail_every_byte)
{
    s_torn_every_byte (false);
}

Test (disk, torn_tail_every_byte_own_segment)
{
    s_torn_every_byte (true);
}

Test (disk, garbage_tail)
{
    store_t *store = s_open (true, NULL);
    model_t model = {0};
    s_grow (store, &model, 60, 0);
    cr_assert_eq (store_commit (store, true), 0);
    store_destroy (&store);
    char names[256][32], path[256];
    size_t nnames = s_segments (names, 256);
    s_path (path, sizeof path, names[nnames - 1]);
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
        store_recovery_t recovery;
        store = s_open (true, &recovery);
        cr_assert_eq (recovery.records, 60, "round %d", round);
        cr_assert_eq (recovery.cut_bytes, sizeof garbage, "round %d", round);
        cr_assert_not (recovery.corrupt_middle);
        cr_assert_str_eq (recovery.file, path);
        cr_assert_eq (recovery.offset, size);
        cr_assert_eq (s_file_size (path), size);
        gen_verify (store, &model);
        store_destroy (&store);
    }

    //  A whole record with a bad CRC at the tail is a cut record
    const spec_t *last = &model.specs[59];
    size_t record;
    uint8_t *copy = gen_make (last, &record);
    copy[16] ^= 0x7F; //  a seq byte, under the CRC
    s_write_file (path, copy, record, "ab");
    store_recovery_t recovery;
    store = s_open (false, &recovery);
    cr_assert_eq (recovery.records, 60);
    cr_assert_eq (recovery.cut_records, 1);
    cr_assert_eq (recovery.cut_bytes, record);
    cr_assert_str_eq (recovery.reason, "crc mismatch");
    cr_assert_not (recovery.corrupt_middle);
    store_destroy (&store);
    //  And so is a good record with the wrong seq (a repeat of the last)
    copy[16] ^= 0x7F;
    s_write_file (path, copy, record, "ab");
    store = s_open (true, &recovery);
    cr_assert_eq (recovery.cut_records, 1);
    char expect[64];
    snprintf (expect, sizeof expect, "seq %" PRIu64 ", expected %" PRIu64, last->first_seq,
              gen_last (last) + 1);
    cr_assert_str_eq (recovery.reason, expect);
    cr_assert_not (recovery.corrupt_middle);
    gen_verify (store, &model);
    store_destroy (&store);
    free (copy);
    gen_model_free (&model);
}

Test (disk, crc_mismatch_in_the_middle)
{
    char names[256][32], path[256], err[600] = "";
    store_t *store = s_open (true, NULL);
    model_t model = {0};
    s_grow (store, &model, 100, 0);
    cr_assert_eq (store_commit (store, true), 0);
    store_destroy (&store);
    uint64_t offset = gen_spec_size (&model.specs[0]) + gen_spec_size (&model.specs[1]);
    size_t nnames = s_segments (names, 256);
    cr_assert_gt (nnames, 5);
    uint64_t total = 0;
    for (size_t i = 0; i < nnames; i++) {
        s_path (path, sizeof path, names[i]);
        total += s_file_size (path);
    }
    s_path (path, sizeof path, names[0]);
    s_flip (path, offset + gen_spec_size (&model.specs[2]) - 1); //  a payload byte of record 3

    //  Strict refuses, naming file and offset, and leaves the files alone
    store_recovery_t recovery;
    cr_assert_null (
        store_disk_open (s_log, SEGMENT, true, MAX_PAYLOAD, &recovery, err, sizeof err));
    cr_assert_eq (errno, EBADMSG);
    char expect[600];
    snprintf (expect, sizeof expect, "corrupt record in %s at offset %" PRIu64 ": crc mismatch",
              path, offset);
    cr_assert_str_eq (err, expect);
    cr_assert (recovery.corrupt_middle);
    cr_assert_str_eq (recovery.file, path);
    cr_assert_eq (recovery.offset, offset);
    cr_assert_eq (recovery.records, 2);
    cr_assert_eq (recovery.entries, s_entries (&model, 2));
    cr_assert_eq (recovery.cut_records, 98);
    cr_assert_eq (recovery.cut_bytes, total - offset);
    cr_assert_str_eq (recovery.reason, "crc mismatch");
    char names2[256][32];
    cr_assert_eq (s_segments (names2, 256), nnames);

    //  Non-strict keeps records 1..2, and the log goes on from there
    store = s_open (false, &recovery);
    cr_assert (recovery.corrupt_middle);
    cr_assert_eq (recovery.records, 2);
    cr_assert_eq (recovery.cut_records, 98);
    cr_assert_eq (s_segments (names2, 256), 1);
    model.count = 2;
    gen_verify (store, &model);
    s_grow (store, &model, 50, 3);
    cr_assert_eq (store_commit (store, true), 0);
    store_destroy (&store);
    store = s_open (true, &recovery);
    cr_assert_eq (recovery.cut_bytes, 0);
    gen_verify (store, &model);
    store_destroy (&store);
    gen_model_free (&model);
}

Test (disk, corrupt_non_last_segment_and_gap)
{
    char names[256][32], path[256], err[600] = "";
    store_t *store = s_open (true, NULL);
    model_t model = {0};
    s_grow (store, &model, 100, 0);
    cr_assert_eq (store_commit (store, true), 0);
    uint64_t head = store_head (store);
    store_destroy (&store);
    size_t nnames = s_segments (names, 256);
    cr_assert_gt (nnames, 5);

    //  Garbage at the end of a middle segment is corruption, not a tail
    s_path (path, sizeof path, names[2]);
    uint64_t size = s_file_size (path);
    s_write_file (path, (const uint8_t *)"garbage!", 8, "ab");
    store_recovery_t recovery;
    cr_assert_null (
        store_disk_open (s_log, SEGMENT, true, MAX_PAYLOAD, &recovery, err, sizeof err));
    cr_assert (strstr (err, path) && strstr (err, "at offset"), "%s", err);
    cr_assert (recovery.corrupt_middle);
    cr_assert_eq (recovery.offset, size);
    uint64_t first3 = strtoull (names[3], NULL, 10);
    cr_assert_eq (recovery.entries, first3 - 1);
    cr_assert_eq (truncate (path, (off_t)size), 0);

    //  A missing segment is corruption at the start of the next one
    s_path (path, sizeof path, names[3]);
    cr_assert_eq (unlink (path), 0);
    s_path (path, sizeof path, names[4]);
    cr_assert_null (
        store_disk_open (s_log, SEGMENT, true, MAX_PAYLOAD, &recovery, err, sizeof err));
    cr_assert (strstr (err, path) && strstr (err, "at offset 0: segment starts at seq"), "%s", err);
    store = s_open (false, &recovery);
    cr_assert (recovery.corrupt_middle);
    cr_assert_eq (store_head (store), first3 - 1);
    //  Every record from the 5th segment on is lost (and counted)
    uint64_t first4 = strtoull (names[4], NULL, 10);
    size_t lost = 0;
    for (size_t i = 0; i < model.count; i++)
        lost += model.specs[i].first_seq >= first4;
    cr_assert_eq (recovery.cut_records, lost);
    cr_assert_lt (first4, head);
    size_t kept = 0;
    while (kept < model.count && gen_last (&model.specs[kept]) < first3)
        kept++;
    model.count = kept;
    gen_verify (store, &model);
    cr_assert_eq (s_segments (names, 256), 3);
    store_destroy (&store);
    gen_model_free (&model);
}

Test (disk, payload_above_a_lowered_limit)
{
    char err[600] = "";
    store_t *store = s_open (true, NULL);
    model_t model = {0};
    for (int i = 0; i < 10; i++)
        gen_add (store, &model, 1, 1, 0, 50);
    gen_add (store, &model, 1, 1, 0, 500); //  the last record, in the last segment
    cr_assert_eq (store_commit (store, true), 0);
    store_destroy (&store);
    //  A limit of 100 now: the last record is valid data, not a torn tail
    store_recovery_t recovery;
    cr_assert_null (store_disk_open (s_log, SEGMENT, true, 100, &recovery, err, sizeof err));
    cr_assert_eq (errno, EBADMSG);
    cr_assert (strstr (err, "payload too large"), "%s", err);
    cr_assert (recovery.corrupt_middle);
    cr_assert_eq (recovery.records, 10);
    cr_assert_eq (recovery.cut_records, 1);
    //  With the limit back, all is there
    store = s_open (true, &recovery);
    gen_verify (store, &model);
    store_destroy (&store);
    //  Non-strict, with the low limit, keeps the prefix
    store = store_disk_open (s_log, SEGMENT, false, 100, &recovery, err, sizeof err);
    cr_assert_not_null (store, "%s", err);
    model.count = 10;
    gen_verify (store, &model);
    store_destroy (&store);
    gen_model_free (&model);
}

//  The rollback file holds the records SPECS[0..COUNT) from OFFSET on,
//  each one passing record_check. Returns where they end.
static size_t s_check_rollback (const char *path, size_t offset, const spec_t *specs, size_t count)
{
    size_t size;
    uint8_t *data = gen_read_file (path, &size);
    for (size_t i = 0; i < count; i++) {
        record_t r;
        cr_assert_eq (record_check (data + offset, size - offset, MAX_PAYLOAD, &r), RECORD_OK,
                      "rollback record %zu", i);
        cr_assert_eq (r.first_seq, specs[i].first_seq);
        size_t record;
        uint8_t *bytes = gen_make (&specs[i], &record);
        cr_assert_eq (r.size, record);
        cr_assert_eq (memcmp (data + offset, bytes, record), 0);
        free (bytes);
        offset += r.size;
    }
    cr_assert_eq (offset, size);
    free (data);
    return offset;
}

Test (disk, truncate_with_rollback_and_segments)
{
    char rollback[256], names[512][32];
    snprintf (rollback, sizeof rollback, "%s/rollback.rec", s_dir);
    store_t *store = s_open (true, NULL);
    model_t model = {0};
    s_grow (store, &model, 120, 0);
    cr_assert_eq (store_commit (store, true), 0);
    s_grow (store, &model, 10, 0); //  buffered: they go to the rollback file too
    size_t segments = s_segments (names, 512);

    //  Cut inside the buffer only, then into the files
    cr_assert_eq (store_truncate (store, gen_last (&model.specs[124]), rollback), 0);
    size_t end = s_check_rollback (rollback, 0, model.specs + 125, 5);
    model.count = 125;
    cr_assert_eq (store_truncate (store, gen_last (&model.specs[46]), rollback), 0);
    s_check_rollback (rollback, end, model.specs + 47, 125 - 47);
    model.count = 47;
    cr_assert_eq (store_written (store), store_head (store));
    cr_assert_eq (store_synced (store), store_head (store));
    cr_assert_lt (s_segments (names, 512), segments);
    gen_verify (store, &model);
    //  A new history from there, reopened
    s_grow (store, &model, 60, 5);
    cr_assert_eq (store_commit (store, true), 0);
    store_destroy (&store);
    store = s_open (true, NULL);
    gen_verify (store, &model);

    //  Keep exactly the segments before the 4th: nothing to cut inside one
    size_t count = s_segments (names, 512);
    cr_assert_gt (count, 4);
    uint64_t first = strtoull (names[3], NULL, 10);
    cr_assert_eq (store_truncate (store, first - 1, NULL), 0);
    cr_assert_eq (s_segments (names, 512), 3);
    while (model.specs[model.count - 1].first_seq >= first)
        model.count--;
    gen_verify (store, &model);
    //  Keep up to record 6, bigger than a segment, alone in its segment
    cr_assert_eq (store_truncate (store, gen_last (&model.specs[5]), NULL), 0);
    model.count = 6;
    cr_assert_eq (s_segments (names, 512), 2);
    char name[32];
    snprintf (name, sizeof name, "%020" PRIu64 ".log", model.specs[5].first_seq);
    cr_assert_str_eq (names[1], name);
    s_grow (store, &model, 20, 2);
    cr_assert_eq (store_commit (store, true), 0);
    cr_assert_geq (s_segments (names, 512), 3);
    snprintf (name, sizeof name, "%020" PRIu64 ".log", model.specs[6].first_seq);
    cr_assert_str_eq (names[2], name);
    store_destroy (&store);
    store = s_open (true, NULL);
    gen_verify (store, &model);
    //  To nothing: no segment left, and the log starts again at 1
    cr_assert_eq (store_truncate (store, 0, NULL), 0);
    cr_assert_eq (s_segments (names, 512), 0);
    model.count = 0;
    s_grow (store, &model, 3, 0);
    cr_assert_eq (store_commit (store, true), 0);
    store_destroy (&store);
    store = s_open (true, NULL);
    gen_verify (store, &model);
    store_destroy (&store);
    gen_model_free (&model);
}

Test (disk, empty_last_segment_is_used)
{
    store_t *store = s_open (true, NULL);
    model_t model = {0};
    s_grow (store, &model, 25, 0);
    cr_assert_eq (store_commit (store, true), 0);
    store_destroy (&store);
    //  A crash right after creating the next segment leaves it empty
    char path[256];
    uint64_t next = gen_last (&model.specs[24]) + 1;
    snprintf (path, sizeof path, "%s/%020" PRIu64 ".log", s_log, next);
    s_write_file (path, NULL, 0, "wb");
    store_recovery_t recovery;
    store = s_open (true, &recovery);
    cr_assert_eq (recovery.cut_bytes, 0);
    cr_assert_str_empty (recovery.file);
    //  ... and it takes the next record, even one bigger than a segment
    gen_add (store, &model, 1, 3, 0, SEGMENT * 5);
    cr_assert_eq (store_commit (store, true), 0);
    cr_assert_eq (s_file_size (path), gen_spec_size (&model.specs[25]));
    gen_verify (store, &model);
    store_destroy (&store);
    store = s_open (true, NULL);
    gen_verify (store, &model);
    store_destroy (&store);
    gen_model_free (&model);
}

Test (disk, failed_fsync_is_final)
{
    store_t *store = s_open (true, NULL);
    model_t model = {0};
    s_grow (store, &model, 10, 0);
    cr_assert_eq (store_commit (store, true), 0);
    uint64_t synced = store_synced (store);
    s_grow (store, &model, 1, 0);
    store_inject_sync_error (store, EIO);
    cr_assert_eq (store_commit (store, true), -1);
    cr_assert_eq (errno, EIO);
    cr_assert (store_failed (store));
    cr_assert_eq (store_written (store), store_head (store));
    cr_assert_eq (store_synced (store), synced);
    //  Reads go on; writes are refused until reopened
    gen_verify (store, &model);
    spec_t spec = {store_head (store) + 1, 1, 1, 0, 0};
    size_t size;
    uint8_t *bytes = gen_make (&spec, &size);
    cr_assert_eq (store_append (store, bytes, size), -1);
    cr_assert_eq (errno, EIO);
    cr_assert_null (store_reserve (store, size));
    cr_assert_eq (errno, EIO);
    cr_assert_eq (store_commit (store, true), -1);
    cr_assert_eq (errno, EIO);
    cr_assert_eq (store_truncate (store, gen_last (&model.specs[4]), NULL), -1);
    cr_assert_eq (errno, EIO);
    cr_assert_eq (store_synced (store), synced);
    free (bytes);
    store_destroy (&store);
    store = s_open (true, NULL);
    cr_assert_not (store_failed (store));
    cr_assert_eq (store_synced (store), store_head (store));
    gen_verify (store, &model);

    //  A sync failing when a full segment is closed is as final
    char names[256][32];
    size_t segments = s_segments (names, 256);
    store_inject_sync_error (store, EIO);
    while (s_segments (names, 256) < segments + 3 && !store_failed (store)) {
        s_grow (store, &model, 1, 0);
        if (store_commit (store, false))
            model.count--;
    }
    cr_assert (store_failed (store));
    cr_assert_lt (store_synced (store), store_written (store));
    store_destroy (&store);
    gen_model_free (&model);
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

Test (disk, memory_bounded_by_index)
{
    //  250,000 records of one 1 KiB entry: about 270 MB of files
    const uint64_t count = 250000;
    char err[600] = "";
    store_t *store =
        store_disk_open (s_log, 64 * 1024 * 1024, true, MAX_PAYLOAD, NULL, err, sizeof err);
    cr_assert_not_null (store, "%s", err);
    size_t size = record_size (16, entries_size (0, 1024));
    uint8_t payload[1024];
    memset (payload, 0x5A, sizeof payload);
    uint8_t id[16] = "client-01234567";
    long before = s_rss_kib ();
    for (uint64_t seq = 1; seq <= count; seq++) {
        uint8_t *room = store_reserve (store, size);
        cr_assert_not_null (room);
        memcpy (payload, &seq, sizeof seq);
        size_t used = record_write_header (room, 1 + seq / 100000, seq, 1, 0, id, 16, seq);
        used += entries_put (room + used, 0, payload, sizeof payload);
        record_seal (room, used);
        cr_assert_eq (store_append_reserved (store), 0);
        if (seq % 1000 == 0)
            cr_assert_eq (store_commit (store, false), 0);
    }
    cr_assert_eq (store_commit (store, true), 0);
    long after = s_rss_kib ();
    size_t memory = store_memory (store);
    cr_log_info ("store_disk: %" PRIu64 " records, memory %zu bytes (%.2f bytes/record), "
                 "VmRSS %ld -> %ld KiB",
                 count, memory, (double)memory / (double)count, before, after);
    cr_assert_lt ((double)memory / (double)count, 32.0);
    cr_assert_lt (after - before, 48 * 1024, "RSS grew by %ld KiB", after - before);
    store_destroy (&store);

    //  Recovery reads every record, then every record is read: the mapped
    //  pages must not stay resident
    long closed = s_rss_kib ();
    store_recovery_t recovery;
    store =
        store_disk_open (s_log, 64 * 1024 * 1024, true, MAX_PAYLOAD, &recovery, err, sizeof err);
    cr_assert_not_null (store, "%s", err);
    cr_assert_eq (recovery.records, count);
    long reopened = s_rss_kib ();
    for (uint64_t seq = 1; seq <= count; seq++) {
        record_t r;
        cr_assert_eq (store_record (store, seq, &r), 0);
        record_iter_t it;
        record_entry_t entry;
        record_iter_init (&it, &r);
        cr_assert (record_next (&it, &entry));
        uint64_t stamp;
        memcpy (&stamp, entry.data, sizeof stamp);
        cr_assert_eq (stamp, seq);
        cr_assert_eq (r.epoch, 1 + seq / 100000);
    }
    long read = s_rss_kib ();
    cr_log_info ("store_disk: reopen VmRSS %ld -> %ld KiB, after reading all %ld KiB", closed,
                 reopened, read);
    cr_assert_lt (reopened - closed, 48 * 1024, "RSS grew by %ld KiB", reopened - closed);
    cr_assert_lt (read - closed, 80 * 1024, "RSS grew by %ld KiB", read - closed);
    store_destroy (&store);
}

//  One record of one 3000-byte entry, each byte its seq.
static int s_append_3000 (store_t *store, uint8_t fill)
{
    uint8_t payload[3000];
    memset (payload, fill, sizeof payload);
    uint8_t *room = store_reserve (store, record_size (1, entries_size (0, 3000)));
    cr_assert_not_null (room);
    size_t used =
        record_write_header (room, 1, store_head (store) + 1, 1, 0, (const uint8_t *)"c", 1, 0);
    used += entries_put (room + used, 0, payload, sizeof payload);
    record_seal (room, used);
    return store_append_reserved (store);
}

static uint8_t s_last_byte (store_t *store, uint64_t seq)
{
    record_t r;
    cr_assert_eq (store_record (store, seq, &r), 0, "record %" PRIu64, seq);
    return r.bytes[r.size - 1];
}

Test (disk, full_disk)
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

    store_t *store = store_disk_open (dir, 64 * 1024, true, MAX_PAYLOAD, NULL, err, sizeof err);
    cr_assert_not_null (store, "%s", err);
    //  Commits of three 3000-byte records until the disk is full
    int rc = 0;
    for (int batches = 0; rc == 0; batches++) {
        for (int i = 0; i < 3; i++)
            cr_assert_eq (s_append_3000 (store, (uint8_t)(store_head (store) + 1)), 0);
        rc = store_commit (store, true);
        cr_assert_lt (batches, 1000, "the disk never filled up");
    }
    cr_assert_eq (errno, ENOSPC, "commit failed with %s", strerror (errno));
    cr_assert_not (store_failed (store));
    uint64_t written = store_written (store);
    cr_assert_gt (written, 10);
    cr_assert_eq (store_head (store), written);
    cr_assert_leq (store_synced (store), written);
    cr_assert_gt (store_synced (store) + 3, written);
    for (uint64_t seq = 1; seq <= written; seq++)
        cr_assert_eq (s_last_byte (store, seq), (uint8_t)seq);
    //  Still full: a retry fails cleanly again
    for (int i = 0; i < 5; i++)
        cr_assert_eq (s_append_3000 (store, 0x11), 0);
    cr_assert_eq (store_commit (store, true), -1);
    cr_assert_eq (errno, ENOSPC);
    cr_assert_eq (store_head (store), written);
    cr_assert_eq (store_written (store), written);

    //  One page comes back: a five-record commit writes part of it, keeps
    //  the records written whole (one 3043-byte record fits in 4096), cuts
    //  the torn one and fails
    cr_assert_eq (unlink (page), 0);
    for (int i = 0; i < 5; i++)
        cr_assert_eq (s_append_3000 (store, 0x11), 0);
    cr_assert_eq (store_commit (store, true), -1);
    cr_assert_eq (errno, ENOSPC);
    cr_assert_gt (store_written (store), written, "nothing of the page was used");
    cr_assert_lt (store_written (store), written + 5);
    cr_assert_eq (store_head (store), store_written (store));
    for (uint64_t seq = 1; seq <= store_written (store); seq++)
        s_last_byte (store, seq);
    written = store_written (store);

    //  Space comes back: commits succeed again
    cr_assert_eq (unlink (filler), 0);
    for (int i = 0; i < 5; i++)
        cr_assert_eq (s_append_3000 (store, 0x22), 0);
    cr_assert_eq (store_commit (store, true), 0);
    cr_assert_eq (store_synced (store), written + 5);
    store_destroy (&store);

    store_recovery_t recovery;
    store = store_disk_open (dir, 64 * 1024, true, MAX_PAYLOAD, &recovery, err, sizeof err);
    cr_assert_not_null (store, "%s", err);
    cr_assert_eq (recovery.cut_bytes, 0);
    cr_assert_eq (store_head (store), written + 5);
    cr_assert_eq (s_last_byte (store, written + 5), 0x22);
    store_destroy (&store);
}

//  --------------------------------------------------------------------------
//  Directories the fuzzer found interesting (fuzz/corpus/fuzz_recovery),
//  built in the record format: what a strict open says, what a
//  non-strict one keeps, and that what it leaves reopens clean.

typedef struct {
    uint64_t name; //  first seq in the file name
    uint8_t bytes[512];
    size_t size;
} seg_file_t;

typedef struct {
    const char *what;
    seg_file_t files[2];
    size_t count;
    bool strict_opens;
    uint64_t entries; //  kept by the non-strict open
} dir_case_t;

//  A record of one entry "abc" at OUT with these fields; the CRC is right.
static size_t s_raw (uint8_t *out, uint64_t first_seq, uint8_t id_size)
{
    uint8_t entries[8];
    size_t used = entries_put (entries, 0, "abc", 3);
    uint8_t id[RECORD_CLIENT_ID_MAX] = {0};
    size_t size =
        record_write (out, 1, first_seq, 1, 0, id, id_size > 64 ? 0 : id_size, 9, entries, used);
    if (id_size > 64) {
        out[29] = id_size;
        record_seal (out, size);
    }
    return size;
}

static void s_dir_case_files (const dir_case_t *c)
{
    gen_rmtree (s_log);
    cr_assert_eq (mkdir (s_log, 0755), 0);
    for (size_t i = 0; i < c->count; i++) {
        char path[256];
        snprintf (path, sizeof path, "%s/%020" PRIu64 ".log", s_log, c->files[i].name);
        s_write_file (path, c->files[i].bytes, c->files[i].size, "wb");
    }
}

static bool s_dir_case_unchanged (const dir_case_t *c)
{
    char names[8][32];
    if (s_segments (names, 8) != c->count)
        return false;
    for (size_t i = 0; i < c->count; i++) {
        char path[256];
        snprintf (path, sizeof path, "%s/%020" PRIu64 ".log", s_log, c->files[i].name);
        size_t size;
        uint8_t *data = gen_read_file (path, &size);
        bool same = size == c->files[i].size && memcmp (data, c->files[i].bytes, size) == 0;
        free (data);
        if (!same)
            return false;
    }
    return true;
}

static void s_dir_case_run (const dir_case_t *c)
{
    char err[600] = "";
    store_recovery_t recovery;
    s_dir_case_files (c);
    store_t *store =
        store_disk_open (s_log, SEGMENT, true, MAX_PAYLOAD, &recovery, err, sizeof err);
    cr_assert_eq (store != NULL, c->strict_opens, "%s: %s", c->what, err);
    if (store) {
        cr_assert_eq (store_head (store), c->entries, "%s", c->what);
        store_destroy (&store);
    } else {
        cr_assert_eq (errno, EBADMSG, "%s", c->what);
        cr_assert (recovery.corrupt_middle, "%s", c->what);
        cr_assert (s_dir_case_unchanged (c), "%s: files changed", c->what);
    }
    s_dir_case_files (c);
    store = store_disk_open (s_log, SEGMENT, false, MAX_PAYLOAD, &recovery, err, sizeof err);
    cr_assert_not_null (store, "%s: %s", c->what, err);
    cr_assert_eq (recovery.entries, c->entries, "%s", c->what);
    cr_assert_eq (store_head (store), c->entries, "%s", c->what);
    store_destroy (&store);
    store = store_disk_open (s_log, SEGMENT, true, MAX_PAYLOAD, &recovery, err, sizeof err);
    cr_assert_not_null (store, "%s: %s", c->what, err);
    cr_assert_eq (recovery.cut_bytes, 0, "%s", c->what);
    cr_assert_not (recovery.corrupt_middle, "%s", c->what);
    uint8_t record[64];
    size_t size = s_raw (record, c->entries + 1, 0);
    cr_assert_eq (store_append (store, record, size), 0, "%s", c->what);
    cr_assert_eq (store_commit (store, true), 0);
    store_destroy (&store);
}

Test (disk, directories_found_by_fuzzing)
{
    static dir_case_t cases[10];
    size_t n = 0;
    cases[n++] = (dir_case_t){"empty segments 0 and 1", {{0, {0}, 0}, {1, {0}, 0}}, 2, false, 0};
    cases[n++] = (dir_case_t){"misnamed junk tail", {{1, {0}, 0}, {5, {0}, 8}}, 2, true, 0};
    cases[n++] = (dir_case_t){"size 0 tail", {{1, {0}, 8}}, 1, true, 0};
    cases[n++] = (dir_case_t){"size 0 then a segment", {{1, {0}, 16}, {98, {0}, 0}}, 2, false, 0};
    cases[n] = (dir_case_t){"client id 76 tail", {{1, {0}, 0}}, 1, true, 0};
    cases[n].files[0].size = s_raw (cases[n].files[0].bytes, 1, 76);
    n++;
    cases[n] = (dir_case_t){"wrong seq tail", {{1, {0}, 0}}, 1, true, 0};
    cases[n].files[0].size = s_raw (cases[n].files[0].bytes, 100, 0);
    n++;
    cases[n] = (dir_case_t){"bad field then a valid record", {{1, {0}, 0}}, 1, false, 0};
    seg_file_t *f = &cases[n].files[0];
    f->size = s_raw (f->bytes, 1, 70);
    f->size += s_raw (f->bytes + f->size, 1, 0);
    n++;
    cases[n] =
        (dir_case_t){"runs past the end, then a segment", {{1, {0}, 0}, {5, {0}, 0}}, 2, false, 0};
    f = &cases[n].files[0];
    f->size = s_raw (f->bytes, 1, 0) - 1;
    n++;
    cases[n] = (dir_case_t){"torn header, then a segment", {{1, {0}, 0}, {5, {0}, 0}}, 2, false, 1};
    f = &cases[n].files[0];
    f->size = s_raw (f->bytes, 1, 0) + 1;
    f->bytes[f->size - 1] = 0x88;
    n++;
    cases[n] = (dir_case_t){"two good segments", {{1, {0}, 0}, {3, {0}, 0}}, 2, true, 3};
    f = &cases[n].files[0];
    f->size = s_raw (f->bytes, 1, 16);
    f->size += s_raw (f->bytes + f->size, 2, 0);
    cases[n].files[1].size = s_raw (cases[n].files[1].bytes, 3, 64);
    n++;
    for (size_t i = 0; i < n; i++)
        s_dir_case_run (&cases[i]);
}
