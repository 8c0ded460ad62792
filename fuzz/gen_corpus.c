/*  gen_corpus.c - writes the seed corpus of fuzz_recovery.

    Usage: gen_corpus DIR   (make fuzz-corpus: DIR is fuzz/corpus)

    DIR/fuzz_recovery/<name>: real segment files written by the disk store
    (src/core/store_disk.c), wrapped in fuzz_recovery's input layout
    (fuzz/fuzz_recovery.c), intact and damaged: torn tail, flipped byte in
    the middle, header fields and entries made wrong behind a fixed CRC,
    misnamed or missing segment, garbage tail, a record in its own segment,
    a payload above a low limit, and the directories the fuzzer once found
    worth keeping (empty segments, a size-0 header, a misnamed junk tail).

    The output is deterministic, so regenerating changes nothing unless the
    formats change. (fuzz/gen_corpus_proto.c writes the fuzz_proto seeds.)
*/
#include "record.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEGMENT_BYTES STORE_SEGMENT_MIN

static char s_out[512];
static size_t s_files;
static size_t s_bytes;

static void s_die (const char *what)
{
    fprintf (stderr, "gen_corpus: %s: %s\n", what, strerror (errno));
    exit (1);
}

static void s_mkdir (const char *path)
{
    if (mkdir (path, 0755) && errno != EEXIST)
        s_die (path);
}

static void s_emit (const char *name, const void *data, size_t size)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/fuzz_recovery/%s", s_out, name);
    FILE *file = fopen (path, "wb");
    if (!file || (size && fwrite (data, 1, size, file) != size) || fclose (file))
        s_die (path);
    s_files++;
    s_bytes += size;
}

static char s_tmp[256];

static void s_rm_tmp (void)
{
    DIR *dir = opendir (s_tmp);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (!strcmp (entry->d_name, ".") || !strcmp (entry->d_name, ".."))
                continue;
            char path[600];
            snprintf (path, sizeof path, "%s/%s", s_tmp, entry->d_name);
            unlink (path);
        }
        closedir (dir);
    }
    rmdir (s_tmp);
}

typedef struct {
    uint64_t first_seq;
    uint8_t *data;
    size_t size;
} seg_t;

//  One record of log LOG: record I (0-based) holds I % 3 + 1 entries of
//  SIZES[I % NSIZES] bytes; its epoch rises every EPOCH_EVERY records.
static void s_append (store_t *log, uint64_t i, const size_t *sizes, size_t nsizes,
                      uint64_t epoch_every)
{
    static uint8_t payload[2048];
    uint8_t id[RECORD_CLIENT_ID_MAX];
    for (size_t k = 0; k < sizeof payload; k++)
        payload[k] = (uint8_t)(k * 31 + 7);
    for (size_t k = 0; k < sizeof id; k++)
        id[k] = (uint8_t)(k + 1);
    uint32_t count = (uint32_t)(i % 3) + 1;
    size_t size = sizes[i % nsizes];
    size_t id_size = (size_t)((i * 11) % 3 == 0 ? 0 : (i * 11) % 65);
    uint8_t *room = store_reserve (log, record_size (id_size, count * (size + 2 + 2)));
    if (!room)
        s_die ("store_reserve");
    size_t used = record_write_header (room, 1 + i / epoch_every, store_head (log) + 1, count, 0,
                                       id, id_size, i * 3);
    for (uint32_t e = 0; e < count; e++)
        used += entries_put (room + used, e ? 1 : 0, payload, size);
    record_seal (room, used);
    if (store_append_reserved (log))
        s_die ("store_append_reserved");
}

//  A fresh log of COUNT records; its segments go into SEGS.
static size_t s_make_log (uint64_t count, const size_t *sizes, size_t nsizes, uint64_t epoch_every,
                          seg_t *segs, size_t max_segs)
{
    s_rm_tmp ();
    char err[600];
    store_t *log = store_disk_open (s_tmp, SEGMENT_BYTES, true, 1 << 20, NULL, err, sizeof err);
    if (!log) {
        fprintf (stderr, "gen_corpus: %s\n", err);
        exit (1);
    }
    for (uint64_t i = 0; i < count; i++)
        s_append (log, i, sizes, nsizes, epoch_every);
    uint64_t head = store_head (log);
    if (store_commit (log, false))
        s_die ("store_commit");
    store_destroy (&log);

    //  Read the segments back, in seq order
    size_t n = 0;
    for (uint64_t seq = 1; seq <= head + 1 && n < max_segs; seq++) {
        char path[600];
        snprintf (path, sizeof path, "%s/%020" PRIu64 ".log", s_tmp, seq);
        FILE *file = fopen (path, "rb");
        if (!file)
            continue;
        fseek (file, 0, SEEK_END);
        long size = ftell (file);
        fseek (file, 0, SEEK_SET);
        segs[n].first_seq = seq;
        segs[n].size = (size_t)size;
        segs[n].data = (uint8_t *)malloc ((size_t)size + 1);
        if (!segs[n].data || fread (segs[n].data, 1, (size_t)size, file) != (size_t)size)
            s_die (path);
        fclose (file);
        n++;
    }
    return n;
}

static void s_free_segs (seg_t *segs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free (segs[i].data);
}

//  One fuzz_recovery input: header + segment A (+ segment B), each cut to
//  CUT_A / CUT_B bytes when those are not 0.
static void s_recovery (const char *name, uint8_t flags, uint8_t name1, const seg_t *a,
                        const seg_t *b, size_t cut_a, size_t cut_b)
{
    size_t size_a = a ? (cut_a && cut_a < a->size ? cut_a : a->size) : 0;
    size_t size_b = b ? (cut_b && cut_b < b->size ? cut_b : b->size) : 0;
    size_t total = 5 + size_a + size_b;
    uint8_t *input = (uint8_t *)malloc (total);
    if (!input)
        s_die ("malloc");
    input[0] = (uint8_t)(flags | (b ? 1 : 0));
    input[1] = name1;
    input[2] = b ? (uint8_t)b->first_seq : 0;
    input[3] = (uint8_t)(size_a & 0xff);
    input[4] = (uint8_t)(size_a >> 8);
    if (size_a)
        memcpy (input + 5, a->data, size_a);
    if (size_b)
        memcpy (input + 5 + size_a, b->data, size_b);
    s_emit (name, input, total);
    free (input);
}

//  A copy of SEG with byte OFFSET set to VALUE (the CRC left as it was).
static void s_damaged (const char *name, uint8_t flags, const seg_t *seg, size_t offset,
                       uint8_t value)
{
    seg_t bad = *seg;
    bad.data = (uint8_t *)malloc (bad.size);
    if (!bad.data)
        s_die ("malloc");
    memcpy (bad.data, seg->data, bad.size);
    if (offset < bad.size)
        bad.data[offset] = value;
    s_recovery (name, flags, 0, &bad, NULL, 0, 0);
    free (bad.data);
}

//  Bytes of the first record of SEG.
static size_t s_first_size (const seg_t *seg)
{
    record_t r;
    if (record_peek (seg->data, seg->size, &r) != RECORD_OK)
        s_die ("record_peek");
    return r.size;
}

static void s_one_segment_seeds (void)
{
    seg_t segs[8];
    static const size_t small[] = {1, 5, 17, 40};
    size_t n = s_make_log (6, small, 4, 2, segs, 8);
    if (n != 1)
        s_die ("one segment expected");
    const seg_t *seg = &segs[0];
    size_t first = s_first_size (seg);
    s_recovery ("one-segment", 0, 0, seg, NULL, 0, 0);
    s_recovery ("one-segment-fixcrc", 4, 0, seg, NULL, 0, 0);
    s_recovery ("one-segment-limit-16", 8, 0, seg, NULL, 0, 0);
    s_recovery ("torn-tail", 0, 0, seg, NULL, seg->size - 3, 0);
    s_recovery ("torn-header", 0, 0, seg, NULL, seg->size - (seg->size > 60 ? 60 : 1), 0);
    s_recovery ("misnamed-first", 2, 5, seg, NULL, 0, 0);
    s_recovery ("misnamed-zero", 2, 0, seg, NULL, 0, 0);
    //  A flipped payload byte in the second record: corrupt middle; with
    //  the CRC fixed up the change is "valid"
    s_damaged ("corrupt-middle", 0, seg, first + RECORD_HEADER + 20, 0x40);
    s_damaged ("corrupt-middle-fixcrc", 4, seg, first + RECORD_HEADER + 20, 0x40);
    //  Header fields and entries made wrong behind a good CRC
    s_damaged ("bad-id-size-fixcrc", 4, seg, 29, 65);
    s_damaged ("bad-flags-fixcrc", 4, seg, 28, 0x02);
    s_damaged ("count-zero-fixcrc", 4, seg, 24, 0);
    s_damaged ("count-plus-one-fixcrc", 4, seg, first + 24, 3);
    s_damaged ("seq-jump-fixcrc", 4, seg, first + 16, 9);
    s_damaged ("first-delta-fixcrc", 4, seg, RECORD_HEADER, 1);
    s_damaged ("varint-not-minimal-fixcrc", 4, seg, RECORD_HEADER, 0x80);
    s_damaged ("size-field-short", 0, seg, 0, 0x10);
    {
        //  Garbage after the last record
        seg_t tail = *seg;
        tail.data = (uint8_t *)malloc (tail.size + 40);
        memcpy (tail.data, seg->data, tail.size);
        for (size_t i = 0; i < 40; i++)
            tail.data[tail.size + i] = (uint8_t)(i * 37);
        tail.size += 40;
        s_recovery ("garbage-tail", 0, 0, &tail, NULL, 0, 0);
        free (tail.data);
    }
    s_free_segs (segs, n);
}

static void s_segment_seeds (void)
{
    seg_t segs[8];
    //  Several segments of 1 KiB, epochs rising every 2 records
    static const size_t medium[] = {100, 250, 33, 400, 7};
    size_t n = s_make_log (12, medium, 5, 2, segs, 8);
    if (n >= 2) {
        s_recovery ("two-segments", 0, 0, &segs[0], &segs[1], 0, 0);
        s_recovery ("two-segments-fixcrc", 4, 0, &segs[0], &segs[1], 0, 0);
        s_recovery ("two-segments-torn-second", 0, 0, &segs[0], &segs[1], 0, segs[1].size / 2);
        s_recovery ("two-segments-torn-first", 0, 0, &segs[0], &segs[1], segs[0].size - 9, 0);
        //  The second segment named as if one entry were missing: a gap
        seg_t gap = segs[1];
        gap.first_seq++;
        s_recovery ("two-segments-gap", 0, 0, &segs[0], &gap, 0, 0);
        //  Second segment alone, named 1
        seg_t alone = segs[1];
        alone.first_seq = 1;
        s_recovery ("second-segment-alone", 0, 0, &alone, NULL, 0, 0);
    }
    if (n >= 3)
        s_recovery ("segments-2-and-3", 2, (uint8_t)segs[1].first_seq, &segs[1], &segs[2], 0, 0);
    s_free_segs (segs, n);

    //  A record bigger than a segment gets a segment of its own
    static const size_t big[] = {20, 1500, 20};
    n = s_make_log (3, big, 3, 1, segs, 8);
    if (n >= 2)
        s_recovery ("oversized-record", 0, 0, &segs[0], &segs[1], 0, 0);
    if (n >= 3)
        s_recovery ("oversized-then-small", 2, (uint8_t)segs[1].first_seq, &segs[1], &segs[2], 0,
                    0);
    s_free_segs (segs, n);
}

//  Directories the fuzzer found worth keeping, and the smallest inputs.
static void s_small_seeds (void)
{
    s_recovery ("empty-dir", 0, 0, NULL, NULL, 0, 0);
    seg_t empty = {1, NULL, 0};
    s_recovery ("empty-segment", 1, 0, &empty, &empty, 0, 0);
    seg_t zero = {0, NULL, 0};
    s_recovery ("found-empty-segments-0-and-1", 2, 0, &zero, &empty, 0, 0);
    static uint8_t junk[1] = {0x5a};
    seg_t one = {1, junk, 1};
    s_recovery ("one-junk-byte", 0, 0, &one, NULL, 0, 0);
    static uint8_t zeros[16];
    seg_t size0 = {1, zeros, 8};
    s_recovery ("found-size-0-tail", 0, 0, &size0, NULL, 0, 0);
    seg_t size0b = {1, zeros, 16};
    seg_t later = {98, NULL, 0};
    s_recovery ("found-size-0-then-empty-segment", 0, 0, &size0b, &later, 0, 0);
    seg_t misnamed = {5, zeros, 8};
    s_recovery ("found-misnamed-tail", 0, 0, &empty, &misnamed, 0, 0);
    //  A marker record (what a new master appends first), then a record
    uint8_t marker[128], entries[16];
    size_t used = entries_put (entries, 0, "", 0);
    size_t size = record_write (marker, 3, 1, 1, RECORD_F_MARKER, NULL, 0, 0, entries, used);
    used = entries_put (entries, 0, "abc", 3);
    size += record_write (marker + size, 3, 2, 1, 0, (const uint8_t *)"id", 2, 5, entries, used);
    seg_t with_marker = {1, marker, size};
    s_recovery ("marker-then-record", 0, 0, &with_marker, NULL, 0, 0);
}

int main (int argc, char *argv[])
{
    if (argc != 2) {
        fprintf (stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    snprintf (s_out, sizeof s_out, "%s", argv[1]);
    snprintf (s_tmp, sizeof s_tmp, "/tmp/rlog-gen-corpus.%ld", (long)getpid ());
    char path[600];
    s_mkdir (s_out);
    snprintf (path, sizeof path, "%s/fuzz_recovery", s_out);
    s_mkdir (path);
    s_one_segment_seeds ();
    s_segment_seeds ();
    s_small_seeds ();
    s_rm_tmp ();
    printf ("gen_corpus: %zu seeds, %zu bytes in %s\n", s_files, s_bytes, s_out);
    return 0;
}
