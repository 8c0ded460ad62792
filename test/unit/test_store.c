/*  test_store.c - the store's behaviour, the same tests on both engines:
    append, record, slice, truncation at record boundaries (and refusal
    elsewhere), epochs and agreement, reserve + append_reserved, the
    watermarks, rollback files, records bigger than a chunk or segment,
    and a random model. Memory engine only: cost per entry, pointers that
    never move.

    BOTH(name) defines store_mem::name and store_disk::name; the disk one
    works in a fresh directory, and its "reopen" is a real close and open
    (recovery included), so every check after a reopen also checks
    recovery. Records are generated from (first seq, count, epoch, salt),
    so checks compare bytes without keeping copies.
*/
#include "records.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEGMENT     4096
#define MAX_PAYLOAD ((size_t)16 * 1024 * 1024)
#define BIG         ((size_t)5 * 1024 * 1024 + 3) //  above the 4 MiB chunk, and a segment

//  --------------------------------------------------------------------------
//  Engines. Criterion runs each test in its own process: these are per test.

typedef struct {
    const char *name;
    bool durable;
} engine_t;

static const engine_t s_mem_engine = {"memory", false};
static const engine_t s_disk_engine = {"disk", true};
static const engine_t *s_engine;
static char s_dir[64];
static int s_opened;

static void s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/store-test-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
}

static void s_teardown (void)
{
    gen_rmtree (s_dir);
}

//  A new empty store (disk: in a directory of its own).
static store_t *s_new (void)
{
    if (!s_engine->durable) {
        store_t *store = store_mem_new ();
        cr_assert_not_null (store);
        return store;
    }
    char dir[128], err[600] = "";
    snprintf (dir, sizeof dir, "%s/log%d", s_dir, s_opened++);
    store_t *store = store_disk_open (dir, SEGMENT, true, MAX_PAYLOAD, NULL, err, sizeof err);
    cr_assert_not_null (store, "open %s: %s", dir, err);
    cr_assert_eq (store_head (store), 0);
    return store;
}

//  Disk: commit, close, and open again, with nothing to recover. Memory:
//  nothing happens.
static void s_reopen (store_t **store)
{
    if (!s_engine->durable)
        return;
    cr_assert_eq (store_commit (*store, true), 0);
    uint64_t head = store_head (*store);
    store_destroy (store);
    char dir[128], err[600] = "";
    snprintf (dir, sizeof dir, "%s/log%d", s_dir, s_opened - 1);
    store_recovery_t recovery;
    *store = store_disk_open (dir, SEGMENT, true, MAX_PAYLOAD, &recovery, err, sizeof err);
    cr_assert_not_null (*store, "reopen %s: %s", dir, err);
    cr_assert_eq (recovery.cut_bytes, 0);
    cr_assert_not (recovery.corrupt_middle);
    cr_assert_eq (store_head (*store), head);
    cr_assert_eq (store_synced (*store), head);
}

#define BOTH(name)                                                                                 \
    static void s_test_##name (void);                                                              \
    Test (store_mem, name, .timeout = 120.0)                                                       \
    {                                                                                              \
        s_engine = &s_mem_engine;                                                                  \
        s_test_##name ();                                                                          \
    }                                                                                              \
    Test (store_disk, name, .init = s_setup, .fini = s_teardown, .timeout = 120.0)                 \
    {                                                                                              \
        s_engine = &s_disk_engine;                                                                 \
        s_test_##name ();                                                                          \
    }                                                                                              \
    static void s_test_##name (void)

//  --------------------------------------------------------------------------

BOTH (empty)
{
    store_t *store = s_new ();
    cr_assert_eq (store_is_durable (store), s_engine->durable);
    cr_assert_eq (store_head (store), 0);
    cr_assert_eq (store_written (store), 0);
    cr_assert_eq (store_synced (store), 0);
    cr_assert_eq (store_records (store), 0);
    cr_assert_not (store_failed (store));
    cr_assert_gt (store_memory (store), 0);
    cr_assert_eq (store_epoch_of (store, 1), 0);
    cr_assert_eq (store_agreement (store, 5, 5), 0);
    cr_assert_eq (store_agreement (store, 0, 0), 0);
    cr_assert_eq (store_commit (store, true), 0);
    cr_assert_eq (store_truncate (store, 0, NULL), 0);
    cr_assert_eq (store_truncate (store, 7, NULL), 0);
    store_slice_t slice;
    cr_assert_eq (store_slice (store, 1, 1, 100, &slice), -1);
    cr_assert_eq (errno, ENOENT);
    record_t r;
    cr_assert_eq (store_record (store, 1, &r), -1);
    s_reopen (&store);
    cr_assert_eq (store_head (store), 0);
    store_destroy (&store);
    cr_assert_null (store);
    store_destroy (&store);
}

BOTH (append_record_slice)
{
    store_t *store = s_new ();
    model_t model = {0};
    gen_fill (store, &model, 300, 1, 0);
    gen_fill (store, &model, 700, 2, 0);
    gen_verify (store, &model);
    //  Any seq of a record finds it; slices from every record
    for (size_t i = 0; i < model.count; i += 7) {
        const spec_t *spec = &model.specs[i];
        for (uint64_t seq = spec->first_seq; seq <= gen_last (spec); seq++) {
            record_t r;
            cr_assert_eq (store_record (store, seq, &r), 0);
            cr_assert_eq (r.first_seq, spec->first_seq);
        }
        gen_check_slices (store, &model, i, SIZE_MAX);
        gen_check_slices (store, &model, i, 1); //  one record at a time
        gen_check_slices (store, &model, i, 3000);
    }
    //  TO caps a slice at the record holding it; TO below FROM: one record
    const spec_t *a = &model.specs[10], *b = &model.specs[12];
    store_slice_t slice;
    cr_assert_eq (store_slice (store, a->first_seq, b->first_seq, SIZE_MAX, &slice), 0);
    cr_assert_eq (slice.first_seq, a->first_seq);
    cr_assert_leq (slice.last_seq, gen_last (b));
    cr_assert_eq (store_slice (store, gen_last (a), a->first_seq - 5, SIZE_MAX, &slice), 0);
    cr_assert_eq (slice.records, 1);
    cr_assert_eq (slice.last_seq, gen_last (a));
    s_reopen (&store);
    gen_verify (store, &model);
    gen_fill (store, &model, 800, 3, 0);
    gen_verify (store, &model);
    store_destroy (&store);
    gen_model_free (&model);
}

BOTH (append_refuses_bad_records)
{
    store_t *store = s_new ();
    model_t model = {0};
    gen_fill (store, &model, 10, 1, 0);
    spec_t spec = {11, 3, 1, 0, 0};
    size_t size;
    uint8_t *bytes = gen_make (&spec, &size);
    //  Wrong first seq (a gap, a repeat)
    spec_t gap = {12, 3, 1, 0, 0};
    size_t gap_size;
    uint8_t *gap_bytes = gen_make (&gap, &gap_size);
    cr_assert_eq (store_append (store, gap_bytes, gap_size), -1);
    cr_assert_eq (errno, EINVAL);
    spec_t again = {10, 1, 1, 0, 0};
    size_t again_size;
    uint8_t *again_bytes = gen_make (&again, &again_size);
    cr_assert_eq (store_append (store, again_bytes, again_size), -1);
    //  Sizes that do not match the record's
    cr_assert_eq (store_append (store, bytes, size - 1), -1);
    uint8_t *longer = (uint8_t *)calloc (1, size + 1);
    memcpy (longer, bytes, size);
    cr_assert_eq (store_append (store, longer, size + 1), -1);
    cr_assert_eq (store_append (store, bytes, 3), -1);
    cr_assert_eq (store_head (store), 10);
    cr_assert_eq (store_records (store), model.count);
    gen_verify (store, &model);
    cr_assert_eq (store_append (store, bytes, size), 0);
    gen_push (&model, &spec);
    gen_verify (store, &model);
    free (longer);
    free (bytes);
    free (gap_bytes);
    free (again_bytes);
    store_destroy (&store);
    gen_model_free (&model);
}

BOTH (truncate_at_boundaries)
{
    //  A store of 20 records; cut after each one (and refuse inside one),
    //  re-append with another epoch, reopen, check
    for (size_t keep = 0; keep <= 20; keep++) {
        store_t *store = s_new ();
        model_t model = {0};
        for (int i = 0; i < 20; i++)
            gen_add (store, &model, 1 + (uint32_t)(i % 4), 1, 0, 0);
        s_reopen (&store);
        uint64_t last = keep ? gen_last (&model.specs[keep - 1]) : 0;
        if (keep < 20 && model.specs[keep].count > 1) {
            cr_assert_eq (store_truncate (store, last + 1, NULL), -1);
            cr_assert_eq (errno, EINVAL);
            cr_assert_eq (store_head (store), gen_last (&model.specs[19]));
        }
        cr_assert_eq (store_truncate (store, last, NULL), 0, "keep %zu", keep);
        model.count = keep;
        cr_assert_eq (store_head (store), last);
        cr_assert_leq (store_written (store), last);
        cr_assert_leq (store_synced (store), last);
        gen_verify (store, &model);
        gen_fill (store, &model, last + 25, 2, 9);
        gen_verify (store, &model);
        s_reopen (&store);
        gen_verify (store, &model);
        store_destroy (&store);
        gen_model_free (&model);
    }
}

BOTH (truncate_buffered_and_written)
{
    store_t *store = s_new ();
    model_t model = {0};
    gen_fill (store, &model, 200, 1, 0);
    cr_assert_eq (store_commit (store, true), 0);
    gen_fill (store, &model, 260, 1, 0); //  buffered on disk
    //  Cut inside the buffered part, then into the written part
    size_t keep = model.count - 3;
    cr_assert_eq (store_truncate (store, gen_last (&model.specs[keep - 1]), NULL), 0);
    model.count = keep;
    gen_verify (store, &model);
    keep = model.count / 2;
    cr_assert_eq (store_truncate (store, gen_last (&model.specs[keep - 1]), NULL), 0);
    model.count = keep;
    gen_verify (store, &model);
    cr_assert_eq (store_written (store), store_head (store));
    gen_fill (store, &model, 400, 5, 1);
    s_reopen (&store);
    gen_verify (store, &model);
    cr_assert_eq (store_truncate (store, 0, NULL), 0);
    model.count = 0;
    gen_verify (store, &model);
    gen_fill (store, &model, 30, 6, 2);
    s_reopen (&store);
    gen_verify (store, &model);
    store_destroy (&store);
    gen_model_free (&model);
}

BOTH (epochs_and_agreement)
{
    store_t *store = s_new ();
    model_t model = {0};
    //  Records [1..3] [4..10] epoch 5, [11..12] [13..15] epoch 7, [16..20] epoch 9
    gen_add (store, &model, 3, 5, 0, 0);
    gen_add (store, &model, 7, 5, 0, 0);
    gen_add (store, &model, 2, 7, 0, 0);
    gen_add (store, &model, 3, 7, 0, 0);
    gen_add (store, &model, 5, 9, 0, 0);
    for (int pass = 0; pass < 2; pass++) {
        cr_assert_eq (store_epoch_of (store, 1), 5);
        cr_assert_eq (store_epoch_of (store, 10), 5);
        cr_assert_eq (store_epoch_of (store, 11), 7);
        cr_assert_eq (store_epoch_of (store, 15), 7);
        cr_assert_eq (store_epoch_of (store, 16), 9);
        cr_assert_eq (store_epoch_of (store, 20), 9);
        cr_assert_eq (store_epoch_of (store, 21), 0);
        struct {
            uint64_t epoch, seq, expect;
        } cases[] = {
            {0, 0, 0},   {9, 20, 20},  {9, 100, 20}, //  in sync, or ahead
            {7, 15, 15}, {7, 13, 12},                //  behind, inside a record
            {9, 18, 15}, {12, 18, 15}, {12, 30, 20}, //  newer epoch, inside a record
            {5, 4, 3},   {5, 2, 0},    {5, 14, 10},  //  deposed epoch-5 tail
            {6, 30, 10}, {7, 30, 15},  {8, 17, 15},  //
            {4, 10, 0},  {0, 3, 0},    {5, 10, 10},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            cr_assert_eq (store_agreement (store, cases[i].epoch, cases[i].seq), cases[i].expect,
                          "agreement (%" PRIu64 ", %" PRIu64 ")", cases[i].epoch, cases[i].seq);
        s_reopen (&store);
    }
    //  Runs follow truncation
    cr_assert_eq (store_truncate (store, 12, NULL), 0);
    cr_assert_eq (store_agreement (store, 9, 20), 12);
    cr_assert_eq (store_epoch_of (store, 12), 7);
    model.count = 3;
    gen_add (store, &model, 2, 11, 0, 0);
    cr_assert_eq (store_epoch_of (store, 13), 11);
    cr_assert_eq (store_agreement (store, 9, 20), 12);
    cr_assert_eq (store_agreement (store, 11, 20), 14);
    s_reopen (&store);
    cr_assert_eq (store_agreement (store, 11, 20), 14);
    cr_assert_eq (store_truncate (store, 0, NULL), 0);
    cr_assert_eq (store_agreement (store, 5, 20), 0);
    store_destroy (&store);
    gen_model_free (&model);
}

BOTH (agreement_epoch_goes_down)
{
    store_t *store = s_new ();
    model_t model = {0};
    gen_add (store, &model, 5, 8, 0, 0);
    gen_add (store, &model, 5, 3, 0, 0);
    gen_add (store, &model, 2, 9, 0, 0);
    cr_assert_eq (store_epoch_of (store, 7), 3);
    cr_assert_eq (store_agreement (store, 3, 12), 0);
    cr_assert_eq (store_agreement (store, 8, 12), 10);
    cr_assert_eq (store_agreement (store, 9, 12), 12);
    cr_assert_eq (store_agreement (store, 9, 11), 10);
    store_destroy (&store);
    gen_model_free (&model);
}

BOTH (reserve_and_append_reserved)
{
    store_t *store = s_new ();
    model_t model = {0};
    gen_fill (store, &model, 50, 1, 0);
    //  Reserve an upper bound, build in place, keep only what was written
    for (int round = 0; round < 40; round++) {
        spec_t spec = {store_head (store) + 1, 1 + (uint32_t)round % 9, 2, 4, 0};
        size_t size = gen_spec_size (&spec);
        size_t bound = size + (size_t)round * 10;
        uint8_t *room = store_reserve (store, bound);
        cr_assert_not_null (room, "reserve %zu: %s", bound, strerror (errno));
        cr_assert_eq (gen_write (&spec, room), size);
        cr_assert_eq (store_append_reserved (store), 0);
        gen_push (&model, &spec);
    }
    gen_verify (store, &model);
    //  A reservation that does not become a good next record appends nothing
    uint8_t *room = store_reserve (store, 200);
    cr_assert_not_null (room);
    memset (room, 0xAB, 200);
    cr_assert_eq (store_append_reserved (store), -1);
    cr_assert_eq (errno, EINVAL);
    spec_t wrong = {store_head (store) + 2, 1, 2, 4, 0};
    room = store_reserve (store, gen_spec_size (&wrong));
    gen_write (&wrong, room);
    cr_assert_eq (store_append_reserved (store), -1);
    //  ... including one that needed a chunk or segment of its own
    spec_t big = {store_head (store) + 2, 1, 2, 4, BIG};
    room = store_reserve (store, gen_spec_size (&big));
    cr_assert_not_null (room);
    gen_write (&big, room);
    cr_assert_eq (store_append_reserved (store), -1);
    //  Sizes no record can have
    cr_assert_null (store_reserve (store, RECORD_HEADER - 1));
    cr_assert_eq (errno, EINVAL);
    cr_assert_null (store_reserve (store, (size_t)RECORD_SIZE_MAX + 5));
    gen_verify (store, &model);
    gen_fill (store, &model, store_head (store) + 30, 3, 0);
    gen_add (store, &model, 1, 3, 0, BIG);
    gen_fill (store, &model, store_head (store) + 30, 3, 0);
    s_reopen (&store);
    gen_verify (store, &model);
    store_destroy (&store);
    gen_model_free (&model);
}

BOTH (watermarks)
{
    store_t *store = s_new ();
    model_t model = {0};
    gen_fill (store, &model, 40, 1, 0);
    cr_assert_eq (store_head (store), 40);
    cr_assert_leq (store_written (store), 40);
    cr_assert_leq (store_synced (store), store_written (store));
    if (!s_engine->durable) {
        cr_assert_eq (store_written (store), 40);
        cr_assert_eq (store_synced (store), 40);
    }
    //  Buffered records read like written ones
    gen_verify (store, &model);
    cr_assert_eq (store_commit (store, false), 0);
    cr_assert_eq (store_written (store), 40);
    cr_assert_leq (store_synced (store), 40);
    cr_assert_eq (store_commit (store, true), 0);
    cr_assert_eq (store_synced (store), 40);
    gen_fill (store, &model, 55, 1, 0);
    cr_assert_eq (store_head (store), 55);
    cr_assert_geq (store_written (store), 40);
    cr_assert_eq (store_commit (store, true), 0);
    cr_assert_eq (store_written (store), 55);
    cr_assert_eq (store_synced (store), 55);
    cr_assert_not (store_failed (store));
    gen_verify (store, &model);
    store_destroy (&store);
    gen_model_free (&model);
}

//  The file at PATH from OFFSET holds exactly the records SPECS[0..COUNT).
static size_t s_check_rollback (const char *path, size_t offset, const spec_t *specs, size_t count)
{
    size_t size;
    uint8_t *data = gen_read_file (path, &size);
    for (size_t i = 0; i < count; i++) {
        size_t record;
        uint8_t *bytes = gen_make (&specs[i], &record);
        cr_assert_leq (offset + record, size);
        cr_assert_eq (memcmp (data + offset, bytes, record), 0, "rollback record %zu", i);
        offset += record;
        free (bytes);
    }
    cr_assert_eq (offset, size);
    free (data);
    return offset;
}

BOTH (rollback_file)
{
    char path[128];
    snprintf (path, sizeof path, "%s/rollback.rec", s_engine->durable ? s_dir : "/tmp");
    if (!s_engine->durable) {
        snprintf (path, sizeof path, "/tmp/store-rollback-%ld.rec", (long)getpid ());
        unlink (path);
    }
    store_t *store = s_new ();
    model_t model = {0};
    gen_fill (store, &model, 300, 1, 0);
    cr_assert_eq (store_commit (store, true), 0);
    gen_fill (store, &model, 330, 2, 0); //  buffered on disk: they go too
    size_t keep = model.count / 3;
    cr_assert_eq (store_truncate (store, gen_last (&model.specs[keep - 1]), path), 0);
    size_t end = s_check_rollback (path, 0, model.specs + keep, model.count - keep);
    model.count = keep;
    gen_verify (store, &model);
    //  A second cut appends to the file
    gen_fill (store, &model, 400, 3, 1);
    keep = model.count - 5;
    cr_assert_eq (store_truncate (store, gen_last (&model.specs[keep - 1]), path), 0);
    s_check_rollback (path, end, model.specs + keep, 5);
    model.count = keep;
    s_reopen (&store);
    gen_verify (store, &model);
    //  A rollback file that cannot be written changes nothing
    uint64_t head = store_head (store);
    cr_assert_eq (store_truncate (store, 0, "/nonexistent-dir/rollback.rec"), -1);
    cr_assert_eq (errno, ENOENT);
    cr_assert_eq (store_head (store), head);
    gen_verify (store, &model);
    store_destroy (&store);
    gen_model_free (&model);
    if (!s_engine->durable)
        unlink (path);
}

BOTH (records_bigger_than_a_chunk)
{
    store_t *store = s_new ();
    model_t model = {0};
    gen_add (store, &model, 3, 1, 0, 0);
    gen_add (store, &model, 1, 1, 0, BIG);
    gen_add (store, &model, 2, 1, 0, 0);
    gen_add (store, &model, 1, 1, 0, BIG * 2);
    gen_add (store, &model, 1, 1, 0, 0);
    gen_verify (store, &model);
    if (!s_engine->durable)
        cr_assert_gt (store_memory (store), BIG * 3);
    //  Cut just after a big one, then after a small one behind a big one
    cr_assert_eq (store_truncate (store, gen_last (&model.specs[3]), NULL), 0);
    model.count = 4;
    gen_add (store, &model, 2, 2, 1, 0);
    gen_verify (store, &model);
    cr_assert_eq (store_truncate (store, gen_last (&model.specs[2]), NULL), 0);
    model.count = 3;
    if (!s_engine->durable)
        cr_assert_lt (store_memory (store), BIG * 2);
    gen_add (store, &model, 2, 2, 2, 0);
    gen_add (store, &model, 1, 2, 2, BIG);
    gen_add (store, &model, 4, 2, 2, 0);
    gen_verify (store, &model);
    s_reopen (&store);
    gen_verify (store, &model);
    cr_assert_eq (store_truncate (store, 0, NULL), 0);
    model.count = 0;
    gen_add (store, &model, 1, 3, 3, BIG);
    gen_add (store, &model, 1, 3, 3, 0);
    s_reopen (&store);
    gen_verify (store, &model);
    store_destroy (&store);
    gen_model_free (&model);
}

static uint64_t s_rand (uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

BOTH (random_model)
{
    store_t *store = s_new ();
    model_t model = {0};
    uint64_t rng = 0x1234567u, epoch = 1;
    for (int round = 0; round < 150; round++) {
        uint64_t burst = s_rand (&rng) % 40;
        for (uint64_t i = 0; i < burst; i++) {
            uint64_t r = s_rand (&rng);
            if (r % 50 == 0)
                epoch++;
            size_t big = r % 997 == 0 ? BIG : r % 13 == 0 ? 3000 + r % 5000 : 0;
            gen_add (store, &model, big ? 1 : 1 + (uint32_t)(r % 30), epoch, r % 1000, big);
        }
        uint64_t r = s_rand (&rng);
        if (r % 4 == 0 && model.count) {
            size_t keep = (size_t)(s_rand (&rng) % (model.count + 1));
            uint64_t last = keep ? gen_last (&model.specs[keep - 1]) : 0;
            cr_assert_eq (store_truncate (store, last, NULL), 0);
            model.count = keep;
        } else if (r % 4 == 1) {
            cr_assert_eq (store_commit (store, r % 8 == 1), 0);
        } else if (r % 16 == 2) {
            s_reopen (&store);
        }
        cr_assert_eq (store_records (store), model.count);
        for (int probe = 0; probe < 10 && model.count; probe++) {
            const spec_t *spec = &model.specs[s_rand (&rng) % model.count];
            gen_check_record (store, spec->first_seq + s_rand (&rng) % spec->count, spec);
        }
    }
    gen_verify (store, &model);
    s_reopen (&store);
    gen_verify (store, &model);
    store_destroy (&store);
    gen_model_free (&model);
}

//  --------------------------------------------------------------------------
//  Memory engine only

//  RECORDS records of PER entries of 64 bytes, 16-byte client id.
static double s_cost_per_entry (uint64_t records, uint32_t per)
{
    store_t *store = store_mem_new ();
    size_t size = record_size (16, per * entries_size (1, 64));
    for (uint64_t i = 0; i < records; i++) {
        uint8_t *room = store_reserve (store, size);
        cr_assert_not_null (room);
        uint8_t id[16] = {(uint8_t)(i % 100)};
        size_t used =
            record_write_header (room, 1 + i / 300, store_head (store) + 1, per, 0, id, 16, i);
        uint8_t payload[64];
        for (uint32_t e = 0; e < per; e++) {
            memset (payload, (int)e, sizeof payload);
            used += entries_put (room + used, e ? 1 : 0, payload, sizeof payload);
        }
        record_seal (room, used);
        cr_assert_eq (store_append_reserved (store), 0);
    }
    uint64_t entries = records * per;
    cr_assert_eq (store_head (store), entries);
    record_t r;
    cr_assert_eq (store_record (store, entries, &r), 0);
    cr_assert_eq (r.count, per);
    double cost = (double)store_memory (store) / (double)entries - 64.0;
    store_destroy (&store);
    return cost;
}

Test (store_mem, memory_per_entry, .timeout = 120.0)
{
    double batched = s_cost_per_entry (1000, 1000);
    cr_log_info ("store_mem: %.2f bytes/entry beyond a 64-byte payload, 1000 entries per record",
                 batched);
    cr_assert_lt (batched, 8.0, "%.2f bytes/entry", batched);
    double single = s_cost_per_entry (200000, 1);
    cr_log_info ("store_mem: %.2f bytes/entry beyond a 64-byte payload, 1 entry per record",
                 single);
    //  Header 38 + id 16 + varints 2 + index slot 16, plus chunk and index slack
    cr_assert_lt (single, 96.0, "%.2f bytes/entry", single);
}

Test (store_mem, pointers_never_move)
{
    store_t *store = store_mem_new ();
    model_t model = {0};
    gen_add (store, &model, 4, 1, 0, 0);
    record_t first;
    cr_assert_eq (store_record (store, 1, &first), 0);
    gen_fill (store, &model, 100000, 1, 0); //  many chunks, index reallocated
    record_t again;
    cr_assert_eq (store_record (store, 1, &again), 0);
    cr_assert_eq (again.bytes, first.bytes);
    cr_assert_eq (store_truncate (store, gen_last (&model.specs[10]), NULL), 0);
    cr_assert_eq (store_record (store, 1, &again), 0);
    cr_assert_eq (again.bytes, first.bytes);
    model.count = 11;
    gen_verify (store, &model);
    store_destroy (&store);
    gen_model_free (&model);
}

Test (store_mem, truncate_gives_memory_back)
{
    store_t *store = store_mem_new ();
    model_t model = {0};
    gen_fill (store, &model, 200000, 1, 0);
    size_t full = store_memory (store);
    cr_assert_eq (store_truncate (store, gen_last (&model.specs[model.count / 10]), NULL), 0);
    cr_assert_lt (store_memory (store), full / 2);
    cr_assert_eq (store_truncate (store, 0, NULL), 0);
    cr_assert_lt (store_memory (store), 128 * 1024);
    store_destroy (&store);
    gen_model_free (&model);
}
