/*  records.h - test helpers shared by the store tests: record batches
    generated from (first seq, count, epoch, salt), so a check compares
    bytes without keeping copies; a model of the records a store should
    hold; small file helpers. Header-only (static inline), criterion
    asserts inside.
*/
#ifndef TEST_RECORDS_H_INCLUDED
#define TEST_RECORDS_H_INCLUDED

#include "record.h"
#include "store.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MAX_PAYLOAD
#define MAX_PAYLOAD ((size_t)16 * 1024 * 1024)
#endif

typedef struct {
    uint64_t first_seq;
    uint32_t count;
    uint64_t epoch;
    uint64_t salt;
    size_t big; //  one payload of this size, if not 0
} spec_t;

static inline uint8_t gen_byte (uint64_t tag, size_t offset)
{
    uint64_t x = (tag + 1) * 0x9E3779B97F4A7C15u + offset * 0xBF58476D1CE4E5B9u;
    x ^= x >> 29;
    return (uint8_t)(x ^ (x >> 7));
}

static inline size_t gen_payload_size (const spec_t *spec, uint32_t i)
{
    return spec->big ? spec->big : 1 + (size_t)((spec->first_seq + i + spec->salt) * 13 % 100);
}

static inline size_t gen_id_size (const spec_t *spec)
{
    return spec->first_seq % 3 == 0 ? 0 : 16;
}

static inline size_t gen_spec_size (const spec_t *spec)
{
    size_t entries = 0;
    for (uint32_t i = 0; i < spec->count; i++)
        entries += entries_size (i ? 1 : 0, gen_payload_size (spec, i));
    return record_size (gen_id_size (spec), entries);
}

//  Write the record of SPEC into OUT (gen_spec_size bytes).
static inline size_t gen_write (const spec_t *spec, uint8_t *out)
{
    uint8_t id[16];
    for (size_t i = 0; i < sizeof id; i++)
        id[i] = (uint8_t)(spec->salt + i);
    size_t used = record_write_header (out, spec->epoch, spec->first_seq, spec->count, 0, id,
                                       gen_id_size (spec), spec->first_seq * 10);
    for (uint32_t i = 0; i < spec->count; i++) {
        size_t size = gen_payload_size (spec, i);
        used += entries_varint_put (out + used, i ? 1 : 0);
        used += entries_varint_put (out + used, size);
        for (size_t j = 0; j < size; j++)
            out[used + j] = gen_byte (spec->first_seq + i + spec->salt, j);
        used += size;
    }
    record_seal (out, used);
    return used;
}

static inline uint8_t *gen_make (const spec_t *spec, size_t *size)
{
    *size = gen_spec_size (spec);
    uint8_t *bytes = (uint8_t *)malloc (*size);
    cr_assert_not_null (bytes);
    cr_assert_eq (gen_write (spec, bytes), *size);
    return bytes;
}

typedef struct {
    spec_t *specs;
    size_t count;
    size_t cap;
} model_t;

static inline void gen_model_free (model_t *model)
{
    free (model->specs);
    memset (model, 0, sizeof *model);
}

static inline void gen_push (model_t *model, const spec_t *spec)
{
    if (model->count == model->cap) {
        model->cap = model->cap ? model->cap * 2 : 64;
        model->specs = (spec_t *)realloc (model->specs, model->cap * sizeof (spec_t));
        cr_assert_not_null (model->specs);
    }
    model->specs[model->count++] = *spec;
}

//  Append a record of COUNT entries to STORE and MODEL.
static inline void gen_add (store_t *store, model_t *model, uint32_t count, uint64_t epoch,
                            uint64_t salt, size_t big)
{
    spec_t spec = {store_head (store) + 1, count, epoch, salt, big};
    size_t size;
    uint8_t *bytes = gen_make (&spec, &size);
    cr_assert_eq (store_append (store, bytes, size), 0, "append at %" PRIu64 ": %s", spec.first_seq,
                  strerror (errno));
    free (bytes);
    gen_push (model, &spec);
    cr_assert_eq (store_head (store), spec.first_seq + count - 1);
}

//  Records of 1..20 entries, until head reaches TO.
static inline void gen_fill (store_t *store, model_t *model, uint64_t to, uint64_t epoch,
                             uint64_t salt)
{
    while (store_head (store) < to) {
        uint64_t left = to - store_head (store);
        uint32_t count = 1 + (uint32_t)((store_head (store) * 7 + salt) % 20);
        gen_add (store, model, count < left ? count : (uint32_t)left, epoch, salt, 0);
    }
}

static inline uint64_t gen_last (const spec_t *spec)
{
    return spec->first_seq + spec->count - 1;
}

//  The record holding SEQ is SPEC, byte for byte.
static inline void gen_check_record (store_t *store, uint64_t seq, const spec_t *spec)
{
    record_t r;
    cr_assert_eq (store_record (store, seq, &r), 0, "record %" PRIu64, seq);
    size_t size;
    uint8_t *bytes = gen_make (spec, &size);
    cr_assert_eq (r.size, size, "record %" PRIu64 " size", seq);
    cr_assert_eq (memcmp (r.bytes, bytes, size), 0, "record %" PRIu64 " bytes", seq);
    cr_assert_eq (r.first_seq, spec->first_seq);
    cr_assert_eq (r.count, spec->count);
    cr_assert_eq (r.epoch, spec->epoch);
    cr_assert_eq (store_epoch_of (store, seq), spec->epoch);
    record_t checked;
    cr_assert_eq (record_check (r.bytes, r.size, MAX_PAYLOAD, &checked), RECORD_OK);
    free (bytes);
}

//  Slices from FROM cover the model's records from the one holding FROM
//  to the end, each record once and whole, in order.
static inline void gen_check_slices (store_t *store, const model_t *model, size_t from_record,
                                     size_t max_bytes)
{
    size_t next = from_record;
    uint64_t seq = gen_last (&model->specs[from_record]); //  any seq in it
    while (seq <= store_head (store)) {
        store_slice_t slice;
        cr_assert_eq (store_slice (store, seq, UINT64_MAX, max_bytes, &slice), 0);
        cr_assert_eq (slice.first_seq, model->specs[next].first_seq);
        cr_assert_geq (slice.records, 1);
        cr_assert (slice.records == 1 || slice.size <= max_bytes);
        size_t off = 0;
        for (uint32_t i = 0; i < slice.records; i++, next++) {
            record_t r;
            cr_assert_eq (record_check (slice.bytes + off, slice.size - off, MAX_PAYLOAD, &r),
                          RECORD_OK);
            cr_assert_eq (r.first_seq, model->specs[next].first_seq);
            cr_assert_eq (r.count, model->specs[next].count);
            off += r.size;
        }
        cr_assert_eq (off, slice.size);
        cr_assert_eq (slice.last_seq, gen_last (&model->specs[next - 1]));
        seq = slice.last_seq + 1;
    }
    cr_assert_eq (next, model->count);
}

static inline void gen_verify (store_t *store, const model_t *model)
{
    uint64_t head = model->count ? gen_last (&model->specs[model->count - 1]) : 0;
    cr_assert_eq (store_head (store), head);
    cr_assert_eq (store_records (store), model->count);
    for (size_t i = 0; i < model->count; i++) {
        const spec_t *spec = &model->specs[i];
        gen_check_record (store, spec->first_seq, spec);
        if (spec->count > 1)
            gen_check_record (store, gen_last (spec), spec);
    }
    record_t r;
    store_slice_t slice;
    cr_assert_eq (store_record (store, 0, &r), -1);
    cr_assert_eq (store_record (store, head + 1, &r), -1);
    cr_assert_eq (store_slice (store, 0, 10, 100, &slice), -1);
    cr_assert_eq (store_slice (store, head + 1, head + 10, 100, &slice), -1);
    cr_assert_eq (store_epoch_of (store, head + 1), 0);
    cr_assert_eq (store_epoch_of (store, 0), 0);
    if (model->count)
        gen_check_slices (store, model, 0, SIZE_MAX);
}

static inline void gen_rmtree (const char *path)
{
    DIR *dir = opendir (path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (!strcmp (entry->d_name, ".") || !strcmp (entry->d_name, ".."))
                continue;
            char child[1024];
            if (snprintf (child, sizeof child, "%s/%s", path, entry->d_name) >= (int)sizeof child)
                continue;
            struct stat st;
            if (lstat (child, &st) == 0 && S_ISDIR (st.st_mode))
                gen_rmtree (child);
            else
                unlink (child);
        }
        closedir (dir);
    }
    rmdir (path);
}

static inline uint8_t *gen_read_file (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    cr_assert_not_null (file, "open %s", path);
    cr_assert_eq (fseek (file, 0, SEEK_END), 0);
    *size = (size_t)ftell (file);
    rewind (file);
    uint8_t *data = (uint8_t *)malloc (*size + 1);
    cr_assert_not_null (data);
    cr_assert_eq (fread (data, 1, *size, file), *size);
    fclose (file);
    return data;
}

#endif
