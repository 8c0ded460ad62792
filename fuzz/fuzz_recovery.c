/*  fuzz_recovery.c - libFuzzer harness for log-file recovery (src/disklog.c).

    The input becomes one or two segment files in a fresh directory, then
    disklog_open recovers it in STRICT and in CUT mode and every entry is
    read back with disklog_get. Input layout (see fuzz/README.md):

        [u8 flags][u8 name1][u8 name2][u16 split, little-endian][bytes...]

      flags bit 0   two segments: BYTES[0..split) is the first, the rest the
                    second (split is cut to the length of BYTES)
      flags bit 1   the first segment is named NAME1 instead of 1
      flags bit 2   fix the CRCs: walk each segment record by record (by
                    LEN, while it fits) and store the right crc32c, so the
                    fuzzer gets past the CRC to the checks behind it (client
                    id size, seq order, segment names, epochs)
      name2         first seq of the second segment (its file name)
      bytes         record format of disklog.h:
                    [u32 len][u32 crc32c][u64 epoch][u64 seq][u64 req_id]
                    [u8 client_id_size][client_id][payload]

    fuzz/gen_corpus.c writes seeds in this layout from segments produced by
    disklog itself; fuzz/to_c.py turns one into a C array for a regression
    test.

    Oracles, beyond ASan/UBSan/LSan (and SIGBUS, should a read ever go past
    a segment's end inside its mapping):
    1. every entry 1..head reads back, and its pointers stay inside the
       segment's record (ASan cannot see into mappings, so the bytes are
       summed and the lengths checked against the file);
    2. STRICT either succeeds, or fails with EBADMSG on a corrupt middle and
       leaves the files byte for byte as they were;
    3. CUT always succeeds on a readable directory and keeps the same entries
       as a successful STRICT;
    4. after CUT, the directory reopens in STRICT with nothing to cut and the
       same entries, and takes one more append.

    Work directory: $RLOG_FUZZ_DIR, or /tmp, + /rlog-fuzz-recovery.<pid>,
    emptied before each input and removed after it. RLOG_FUZZ_VERBOSE=1
    prints what each open found (for looking at seeds: run the harness
    with the seed files as arguments).
*/
#include "crc32c.h"
#include "disklog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEGMENT_BYTES DISKLOG_SEGMENT_MIN
#define HEADER        5

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf (stderr, "fuzz_recovery: check failed at line %d: %s\n", __LINE__, #cond);     \
            abort ();                                                                              \
        }                                                                                          \
    } while (0)

static char s_dir[256];
static bool s_verbose;

static void s_report (const char *what, const disklog_t *log, const disklog_recovery_t *r,
                      const char *err)
{
    if (!s_verbose)
        return;
    if (log)
        fprintf (stderr,
                 "%s: %" PRIu64 " entries, cut %" PRIu64 " bytes / %" PRIu64
                 " records, middle %d%s%s\n",
                 what, r->entries, r->cut_bytes, r->cut_entries, r->corrupt_middle,
                 r->reason[0] ? ": " : "", r->reason);
    else
        fprintf (stderr, "%s: failed: %s\n", what, err);
}

typedef struct {
    char name[32];
    const uint8_t *data;
    size_t size;
} segment_file_t;

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

//  Read every entry back; returns a checksum so the reads are not elided.
static unsigned s_read_all (disklog_t *log, size_t max_bytes)
{
    uint64_t head = disklog_head (log);
    CHECK (disklog_written (log) == head && disklog_synced (log) == head);
    unsigned sum = 0;
    entry_t entry;
    for (uint64_t seq = 1; seq <= head; seq++) {
        CHECK (disklog_get (log, seq, &entry) == 0);
        CHECK (entry.client_id_size <= ENTRY_CLIENT_ID_MAX);
        //  A record holds its header, client id and payload: all of it came
        //  from the input
        CHECK (entry.size + entry.client_id_size + DISKLOG_RECORD_HEADER <= max_bytes);
        CHECK (entry.data == entry.client_id + entry.client_id_size);
        for (size_t i = 0; i < entry.client_id_size; i++)
            sum += entry.client_id[i];
        for (size_t i = 0; i < entry.size; i++)
            sum += entry.data[i];
        sum += (unsigned)entry.epoch + (unsigned)entry.req_id;
        CHECK (disklog_epoch_of (log, seq) == entry.epoch);
    }
    CHECK (disklog_get (log, 0, &entry) == -1 && errno == ENOENT);
    CHECK (disklog_get (log, head + 1, &entry) == -1 && errno == ENOENT);
    CHECK (disklog_agreement (log, UINT64_MAX, head) == head);
    CHECK (disklog_agreement (log, 1, head) <= head);
    return sum;
}

static void s_once (const segment_file_t *files, size_t count, size_t total)
{
    char err[600];
    disklog_recovery_t recovery;
    volatile unsigned sink = 0;

    //  STRICT
    s_write_all (files, count);
    disklog_t *log =
        disklog_open (s_dir, SEGMENT_BYTES, DISKLOG_STRICT, &recovery, err, sizeof err);
    s_report ("STRICT", log, &recovery, err);
    bool strict_ok = log != NULL;
    uint64_t strict_entries = 0;
    if (log) {
        CHECK (!recovery.corrupt_middle);
        strict_entries = disklog_head (log);
        CHECK (recovery.entries == strict_entries);
        sink += s_read_all (log, total);
        disklog_destroy (&log);
    } else {
        int error = errno;
        if (error != EBADMSG)
            fprintf (stderr, "fuzz_recovery: STRICT open failed: %s\n", err);
        CHECK (error == EBADMSG);
        CHECK (recovery.corrupt_middle);
        CHECK (s_unchanged (files, count));
    }

    //  CUT, on the original files again
    s_write_all (files, count);
    log = disklog_open (s_dir, SEGMENT_BYTES, DISKLOG_CUT, &recovery, err, sizeof err);
    s_report ("CUT", log, &recovery, err);
    if (!log)
        fprintf (stderr, "fuzz_recovery: CUT open failed: %s\n", err);
    CHECK (log);
    uint64_t cut_entries = disklog_head (log);
    CHECK (recovery.entries == cut_entries);
    if (strict_ok)
        CHECK (cut_entries == strict_entries);
    sink += s_read_all (log, total);
    disklog_destroy (&log);

    //  What CUT left is clean: STRICT finds nothing to cut
    log = disklog_open (s_dir, SEGMENT_BYTES, DISKLOG_STRICT, &recovery, err, sizeof err);
    if (!log)
        fprintf (stderr, "fuzz_recovery: STRICT reopen after CUT failed: %s\n", err);
    CHECK (log);
    CHECK (disklog_head (log) == cut_entries);
    CHECK (recovery.cut_bytes == 0 && recovery.cut_entries == 0 && !recovery.corrupt_middle);
    sink += s_read_all (log, total);

    //  ... and takes an append after the recovered tail
    static const uint8_t id[3] = {1, 2, 3};
    static const uint8_t payload[5] = {'h', 'e', 'l', 'l', 'o'};
    entry_t entry = {UINT64_MAX, 7, id, sizeof id, payload, sizeof payload};
    CHECK (disklog_append (log, &entry) == 0);
    CHECK (disklog_commit (log, false) == 0);
    CHECK (disklog_head (log) == cut_entries + 1);
    entry_t out;
    CHECK (disklog_get (log, cut_entries + 1, &out) == 0);
    CHECK (out.size == sizeof payload && memcmp (out.data, payload, sizeof payload) == 0);
    CHECK (out.client_id_size == sizeof id && memcmp (out.client_id, id, sizeof id) == 0);
    CHECK (out.epoch == UINT64_MAX && out.req_id == 7);
    disklog_destroy (&log);
    (void)sink;
}

//  Store the right CRC in every record of BYTES[0..SIZE) that its LEN says
//  is whole, walking from the start as recovery does.
static void s_fix_crcs (uint8_t *bytes, size_t size)
{
    size_t off = 0;
    while (size - off >= 8) {
        uint32_t len = (uint32_t)bytes[off] | (uint32_t)bytes[off + 1] << 8 |
                       (uint32_t)bytes[off + 2] << 16 | (uint32_t)bytes[off + 3] << 24;
        if (len > size - off - 8)
            break;
        uint32_t crc = crc32c (bytes + off + 8, len);
        for (int i = 0; i < 4; i++)
            bytes[off + 4 + i] = (uint8_t)(crc >> (8 * i));
        off += 8 + (size_t)len;
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
    snprintf (s_dir, sizeof s_dir, "%s/rlog-fuzz-recovery.%ld", base && *base ? base : "/tmp",
              (long)getpid ());
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
    //  written from it, and STRICT's "untouched" check compares against it
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
    s_once (files, count, rest);
    s_clean ();
    free (bytes);
    return 0;
}
