/*  fuzz_recovery.c - libFuzzer harness for log recovery (src/core:
    store_disk.c, recovery.c, segment.c, record.c).

    The input becomes one or two segment files in a fresh directory, then
    store_disk_open recovers it strict and non-strict and every record is
    read back. Input layout (see fuzz/README.md):

        [u8 flags][u8 name1][u8 name2][u16 split, little-endian][bytes...]

      flags bit 0   two segments: BYTES[0..split) is the first, the rest the
                    second (split is cut to the length of BYTES)
      flags bit 1   the first segment is named NAME1 instead of 1
      flags bit 2   fix the CRCs: walk each segment record by record (by its
                    size field, while it fits) and store the right CRC-32C,
                    so the fuzzer gets past the CRC to the checks behind it
                    (header fields, entries, seq order, segment names)
      flags bit 3   payloads above 16 bytes are too large (else 1 MiB)
      name2         first seq of the second segment (its file name)
      bytes         record batches as src/core/record.h lays them out

    fuzz/gen_corpus.c writes seeds in this layout from segments written by
    the disk store itself; fuzz/to_c.py turns one into a C array for a
    regression test.

    Oracles, beyond ASan/UBSan/LSan (and SIGBUS, should a read ever go past
    a segment's end inside its mapping):
    1. every record 1..head reads back, passes record_check, and lies within
       the input (ASan cannot see into mappings, so the bytes are summed
       and the sizes checked against the input); slices cover the log once;
       epochs and agreement are consistent;
    2. strict either succeeds, or fails with EBADMSG on a corrupt middle and
       leaves the files byte for byte as they were;
    3. non-strict always succeeds on a readable directory and keeps the same
       entries as a successful strict;
    4. with one segment named 1, the pure scan (recovery_scan) predicts both
       opens: what non-strict keeps, and whether strict fails;
    5. after non-strict, the directory reopens strict with nothing to cut
       and the same entries, takes one more record, and truncates back to
       where it was with the record in a rollback file.

    Work directory: $RLOG_FUZZ_DIR, or /tmp, + /rlog-fuzz-recovery.<pid>,
    emptied before each input and removed after it. RLOG_FUZZ_VERBOSE=1
    prints what each open found (for looking at seeds: run the harness
    with the seed files as arguments).
*/
#include "crc32c.h"
#include "recovery.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEGMENT_BYTES STORE_SEGMENT_MIN
#define HEADER        5

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf (stderr, "fuzz_recovery: check failed at line %d: %s\n", __LINE__, #cond);     \
            abort ();                                                                              \
        }                                                                                          \
    } while (0)

static char s_dir[256];
static char s_rollback[300];
static bool s_verbose;

typedef struct {
    char name[32];
    const uint8_t *data;
    size_t size;
} segment_file_t;

static void s_report (const char *what, store_t *store, const store_recovery_t *r, const char *err)
{
    if (!s_verbose)
        return;
    if (store)
        fprintf (stderr,
                 "%s: %" PRIu64 " records, %" PRIu64 " entries, cut %" PRIu64 " bytes / %" PRIu64
                 " records, middle %d%s%s\n",
                 what, r->records, r->entries, r->cut_bytes, r->cut_records, r->corrupt_middle,
                 r->reason[0] ? ": " : "", r->reason);
    else
        fprintf (stderr, "%s: failed: %s\n", what, err);
}

static void s_path (char *path, size_t size, const char *name)
{
    snprintf (path, size, "%s/%s", s_dir, name);
}

//  Remove every file in the work directory, then the directory.
static void s_clean (void)
{
    DIR *dir = opendir (s_dir);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (!strcmp (entry->d_name, ".") || !strcmp (entry->d_name, ".."))
                continue;
            char path[512];
            s_path (path, sizeof path, entry->d_name);
            unlink (path);
        }
        closedir (dir);
    }
    rmdir (s_dir);
    unlink (s_rollback);
}

static void s_write (const segment_file_t *file)
{
    char path[512];
    s_path (path, sizeof path, file->name);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK (fd >= 0);
    size_t done = 0;
    while (done < file->size) {
        ssize_t rc = write (fd, file->data + done, file->size - done);
        CHECK (rc > 0);
        done += (size_t)rc;
    }
    CHECK (close (fd) == 0);
}

static void s_write_all (const segment_file_t *files, size_t count)
{
    s_clean ();
    CHECK (mkdir (s_dir, 0755) == 0);
    for (size_t i = 0; i < count; i++)
        s_write (&files[i]);
}

//  True if the directory holds exactly FILES with their original bytes.
static bool s_unchanged (const segment_file_t *files, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        char path[512];
        s_path (path, sizeof path, files[i].name);
        FILE *file = fopen (path, "rb");
        if (!file)
            return false;
        uint8_t *bytes = (uint8_t *)malloc (files[i].size + 1);
        CHECK (bytes);
        size_t got = fread (bytes, 1, files[i].size + 1, file);
        fclose (file);
        bool same = got == files[i].size && (got == 0 || memcmp (bytes, files[i].data, got) == 0);
        free (bytes);
        if (!same)
            return false;
    }
    return true;
}

//  One record read back: whole, checked, within the input. Returns a sum
//  of its bytes so the reads are not elided.
static unsigned s_read_record (store_t *store, uint64_t seq, size_t max_bytes, size_t max_payload,
                               uint64_t *next)
{
    record_t r, checked;
    CHECK (store_record (store, seq, &r) == 0);
    CHECK (r.first_seq == seq && r.size <= max_bytes);
    CHECK (record_check (r.bytes, r.size, max_payload, &checked) == RECORD_OK);
    CHECK (checked.size == r.size);
    CHECK (store_epoch_of (store, seq) == r.epoch);
    CHECK (store_epoch_of (store, record_last_seq (&r)) == r.epoch);
    unsigned sum = (unsigned)r.epoch;
    record_iter_t it;
    record_entry_t entry;
    record_iter_init (&it, &r);
    uint32_t count = 0;
    while (record_next (&it, &entry)) {
        CHECK (entry.seq == seq + count && entry.size <= max_payload);
        CHECK (entry.data >= r.bytes && entry.data + entry.size <= r.bytes + r.size);
        for (size_t i = 0; i < entry.size; i++)
            sum += entry.data[i];
        count++;
    }
    CHECK (count == r.count);
    *next = record_last_seq (&r) + 1;
    return sum;
}

//  Read every record back, then slices over the whole log.
static unsigned s_read_all (store_t *store, size_t max_bytes, size_t max_payload)
{
    uint64_t head = store_head (store);
    CHECK (store_written (store) == head && store_synced (store) == head);
    unsigned sum = 0;
    uint64_t records = 0;
    for (uint64_t seq = 1; seq <= head; records++)
        sum += s_read_record (store, seq, max_bytes, max_payload, &seq);
    CHECK (records == store_records (store));
    uint64_t covered = 0;
    for (uint64_t seq = 1; seq <= head;) {
        store_slice_t slice;
        CHECK (store_slice (store, seq, UINT64_MAX, SIZE_MAX, &slice) == 0);
        CHECK (slice.first_seq == seq && slice.size <= max_bytes && slice.records >= 1);
        covered += slice.records;
        seq = slice.last_seq + 1;
    }
    CHECK (covered == records);
    record_t r;
    CHECK (store_record (store, 0, &r) == -1 && errno == ENOENT);
    CHECK (store_record (store, head + 1, &r) == -1 && errno == ENOENT);
    CHECK (store_agreement (store, UINT64_MAX, head) == head);
    uint64_t agreed = store_agreement (store, 1, head);
    CHECK (agreed <= head);
    if (agreed)
        CHECK (store_record (store, agreed, &r) == 0 && record_last_seq (&r) == agreed);
    return sum;
}

//  Strict: opens with no corrupt middle, or fails with EBADMSG and leaves
//  the files alone. Returns the head it opened with, or UINT64_MAX.
static uint64_t s_strict (const segment_file_t *files, size_t count, size_t total,
                          size_t max_payload, volatile unsigned *sink)
{
    char err[600];
    store_recovery_t recovery;
    s_write_all (files, count);
    store_t *store =
        store_disk_open (s_dir, SEGMENT_BYTES, true, max_payload, &recovery, err, sizeof err);
    s_report ("strict", store, &recovery, err);
    if (!store) {
        int error = errno;
        if (error != EBADMSG)
            fprintf (stderr, "fuzz_recovery: strict open failed: %s\n", err);
        CHECK (error == EBADMSG);
        CHECK (recovery.corrupt_middle);
        CHECK (s_unchanged (files, count));
        return UINT64_MAX;
    }
    CHECK (!recovery.corrupt_middle);
    uint64_t head = store_head (store);
    CHECK (recovery.records == store_records (store));
    *sink += s_read_all (store, total, max_payload);
    store_destroy (&store);
    return head;
}

//  What non-strict left is clean, takes a record, and truncates it away
//  again into a rollback file.
static void s_reopen_and_append (uint64_t head, uint64_t records, size_t total, size_t max_payload,
                                 volatile unsigned *sink)
{
    char err[600];
    store_recovery_t recovery;
    store_t *store =
        store_disk_open (s_dir, SEGMENT_BYTES, true, max_payload, &recovery, err, sizeof err);
    if (!store)
        fprintf (stderr, "fuzz_recovery: strict reopen failed: %s\n", err);
    CHECK (store);
    CHECK (store_head (store) == head && store_records (store) == records);
    CHECK (recovery.cut_bytes == 0 && recovery.cut_records == 0 && !recovery.corrupt_middle);
    *sink += s_read_all (store, total, max_payload);
    uint8_t record[128], entries[16];
    static const uint8_t id[3] = {1, 2, 3};
    size_t used = entries_put (entries, 0, "hello", 5);
    size_t size =
        record_write (record, UINT64_MAX, head + 1, 1, 0, id, sizeof id, 7, entries, used);
    CHECK (store_append (store, record, size) == 0);
    CHECK (store_commit (store, false) == 0);
    CHECK (store_head (store) == head + 1);
    record_t r;
    CHECK (store_record (store, head + 1, &r) == 0);
    CHECK (r.size == size && memcmp (r.bytes, record, size) == 0);
    CHECK (store_epoch_of (store, head + 1) == UINT64_MAX);
    CHECK (store_truncate (store, head, s_rollback) == 0);
    CHECK (store_head (store) == head);
    store_destroy (&store);
    //  The rollback file holds exactly that record
    FILE *file = fopen (s_rollback, "rb");
    CHECK (file);
    uint8_t back[sizeof record + 1];
    CHECK (fread (back, 1, sizeof back, file) == size);
    fclose (file);
    CHECK (memcmp (back, record, size) == 0);
    unlink (s_rollback);
}

static void s_once (const segment_file_t *files, size_t count, size_t total, size_t max_payload)
{
    char err[600];
    store_recovery_t recovery;
    volatile unsigned sink = 0;

    uint64_t strict_head = s_strict (files, count, total, max_payload, &sink);

    //  Non-strict, on the original files again
    s_write_all (files, count);
    store_t *store =
        store_disk_open (s_dir, SEGMENT_BYTES, false, max_payload, &recovery, err, sizeof err);
    s_report ("non-strict", store, &recovery, err);
    if (!store)
        fprintf (stderr, "fuzz_recovery: non-strict open failed: %s\n", err);
    CHECK (store);
    uint64_t head = store_head (store);
    uint64_t records = store_records (store);
    CHECK (recovery.records == records);
    if (strict_head != UINT64_MAX)
        CHECK (head == strict_head);
    sink += s_read_all (store, total, max_payload);
    store_destroy (&store);

    //  One segment named 1: the pure scan says what both opens do
    if (count == 1 && strcmp (files[0].name, "00000000000000000001.log") == 0) {
        recovery_scan_t scan;
        recovery_scan (files[0].data, files[0].size, 1, max_payload, &scan);
        CHECK (scan.records == records && scan.entries == recovery.entries);
        CHECK (scan.next_seq == head + 1);
        bool middle = scan.bad && (scan.valid_after > 0 || scan.error == RECORD_TOO_LARGE);
        CHECK (middle == (strict_head == UINT64_MAX));
    }
    s_reopen_and_append (head, records, total, max_payload, &sink);
    (void)sink;
}

//  Store the right CRC in every record of BYTES[0..SIZE) that its size
//  field says is whole, walking from the start as recovery does.
static void s_fix_crcs (uint8_t *bytes, size_t size)
{
    size_t off = 0;
    while (size - off >= 8) {
        uint32_t field = (uint32_t)bytes[off] | (uint32_t)bytes[off + 1] << 8 |
                         (uint32_t)bytes[off + 2] << 16 | (uint32_t)bytes[off + 3] << 24;
        if (field < 4 || field > size - off - 4)
            break;
        uint32_t crc = crc32c (bytes + off + 8, field - 4);
        for (int i = 0; i < 4; i++)
            bytes[off + 4 + i] = (uint8_t)(crc >> (8 * i));
        off += 4 + (size_t)field;
    }
}

//  --------------------------------------------------------------------------

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *base = getenv ("RLOG_FUZZ_DIR");
    if (!base || !*base)
        base = "/tmp";
    snprintf (s_dir, sizeof s_dir, "%s/rlog-fuzz-recovery.%ld", base, (long)getpid ());
    snprintf (s_rollback, sizeof s_rollback, "%s.rollback", s_dir);
    s_clean ();
    atexit (s_clean);
    const char *verbose = getenv ("RLOG_FUZZ_VERBOSE");
    s_verbose = verbose && *verbose && strcmp (verbose, "0") != 0;
    return 0;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < HEADER)
        return 0;
    uint8_t flags = data[0];
    size_t split = (size_t)data[3] | (size_t)data[4] << 8;
    size_t rest = size - HEADER;
    uint8_t *bytes = (uint8_t *)malloc (rest ? rest : 1);
    CHECK (bytes);
    if (rest)
        memcpy (bytes, data + HEADER, rest);

    //  One writable copy of the bytes (for the CRC fix-up): the files are
    //  written from it, and strict's "untouched" check compares against it
    segment_file_t files[2];
    size_t count = 1;
    uint64_t first = flags & 2 ? data[1] : 1;
    snprintf (files[0].name, sizeof files[0].name, "%020" PRIu64 ".log", first);
    files[0].data = bytes;
    files[0].size = rest;
    if (flags & 1) {
        if (split > rest)
            split = rest;
        files[0].size = split;
        snprintf (files[1].name, sizeof files[1].name, "%020" PRIu64 ".log", (uint64_t)data[2]);
        files[1].data = bytes + split;
        files[1].size = rest - split;
        //  Two names alike: one file, as a directory would hold
        count = strcmp (files[0].name, files[1].name) ? 2 : 1;
    }
    if (flags & 4)
        for (size_t i = 0; i < count; i++)
            s_fix_crcs (bytes + (i ? split : 0), files[i].size);
    s_once (files, count, rest, flags & 8 ? 16 : 1024 * 1024);
    s_clean ();
    free (bytes);
    return 0;
}
