/*  test_store.c - the in-memory log: append/get, truncate, epochs, memory.
 */
#include "store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Payload bytes are a function of (tag, offset), so a check needs no copy.
static uint8_t s_byte (uint64_t tag, size_t offset)
{
    uint64_t x = (tag + 1) * 0x9E3779B97F4A7C15u + offset * 0xBF58476D1CE4E5B9u;
    x ^= x >> 29;
    return (uint8_t)(x ^ (x >> 7));
}

static void s_fill (uint8_t *buffer, size_t size, uint64_t tag)
{
    for (size_t i = 0; i < size; i++)
        buffer[i] = s_byte (tag, i);
}

static bool s_matches (const uint8_t *data, size_t size, uint64_t tag)
{
    for (size_t i = 0; i < size; i++)
        if (data[i] != s_byte (tag, i))
            return false;
    return true;
}

//  Append a generated entry: payload from TAG, client id "c<client>".
static void s_append (store_t *store, uint64_t epoch, uint64_t tag, size_t size, int client)
{
    uint8_t *data = (uint8_t *)malloc (size ? size : 1);
    cr_assert_not_null (data);
    s_fill (data, size, tag);
    uint8_t id[16];
    int id_size = snprintf ((char *)id, sizeof id, "c%d", client);
    entry_t entry = {epoch, tag, id, (size_t)id_size, data, size};
    cr_assert_eq (store_append (store, &entry), 0);
    free (data);
}

static void s_check (store_t *store, uint64_t seq, uint64_t epoch, uint64_t tag, size_t size,
                     int client)
{
    entry_t out;
    cr_assert_eq (store_get (store, seq, &out), 0, "seq %lu", (unsigned long)seq);
    cr_assert_eq (out.epoch, epoch, "seq %lu epoch", (unsigned long)seq);
    cr_assert_eq (out.req_id, tag, "seq %lu req_id", (unsigned long)seq);
    cr_assert_eq (out.size, size, "seq %lu size", (unsigned long)seq);
    cr_assert (s_matches (out.data, size, tag), "seq %lu payload", (unsigned long)seq);
    char id[16];
    int id_size = snprintf (id, sizeof id, "c%d", client);
    cr_assert_eq (out.client_id_size, (size_t)id_size);
    cr_assert_eq (memcmp (out.client_id, id, (size_t)id_size), 0);
}

Test (store, new_destroy)
{
    store_t *store = store_new ();
    cr_assert_not_null (store);
    cr_assert_eq (store_head (store), 0);
    cr_assert_gt (store_memory (store), 0);
    store_destroy (&store);
    cr_assert_null (store);
    store_destroy (&store); //  idempotent
}

Test (store, round_trip_binary)
{
    store_t *store = store_new ();
    const uint8_t bin[] = {0, 1, 0, 255, 0, 0, 7, 0};
    const uint8_t id16[16] = {0, 9, 8, 0, 1, 2, 3, 0, 0, 0, 5, 6, 7, 8, 9, 0};
    const uint8_t id64[ENTRY_CLIENT_ID_MAX] = {1};
    entry_t in[] = {
        {5, 1, id16, sizeof id16, bin, sizeof bin},
        {5, 2, NULL, 0, bin, 1}, //  empty client id, one NUL byte
        {5, UINT64_MAX, id64, sizeof id64, bin + 1, 3},
        {6, 0, (const uint8_t *)"", 0, (const uint8_t *)"x", 1},
        {6, 2, id16, sizeof id16, bin, sizeof bin}, //  same client again
    };
    size_t count = sizeof in / sizeof in[0];
    for (size_t i = 0; i < count; i++)
        cr_assert_eq (store_append (store, &in[i]), 0);
    cr_assert_eq (store_head (store), count);

    for (size_t i = 0; i < count; i++) {
        entry_t out;
        cr_assert_eq (store_get (store, i + 1, &out), 0);
        cr_assert_eq (out.epoch, in[i].epoch);
        cr_assert_eq (out.req_id, in[i].req_id);
        cr_assert_eq (out.size, in[i].size);
        cr_assert_eq (memcmp (out.data, in[i].data, in[i].size), 0);
        cr_assert_eq (out.client_id_size, in[i].client_id_size);
        if (in[i].client_id_size)
            cr_assert_eq (memcmp (out.client_id, in[i].client_id, in[i].client_id_size), 0);
        cr_assert_neq (out.data, in[i].data, "payload must be copied");
        cr_assert_eq (store_epoch_of (store, i + 1), in[i].epoch);
    }
    //  Interned: both entries of id16 share one copy
    entry_t a, b;
    store_get (store, 1, &a);
    store_get (store, 5, &b);
    cr_assert_eq (a.client_id, b.client_id);
    store_destroy (&store);
}

Test (store, get_out_of_range)
{
    store_t *store = store_new ();
    entry_t out;
    cr_assert_eq (store_get (store, 0, &out), -1);
    cr_assert_eq (store_get (store, 1, &out), -1);
    cr_assert_eq (store_epoch_of (store, 1), 0);
    s_append (store, 3, 1, 10, 1);
    s_append (store, 3, 2, 10, 1);
    cr_assert_eq (store_get (store, 0, &out), -1);
    cr_assert_eq (store_get (store, 3, &out), -1);
    cr_assert_eq (store_get (store, UINT64_MAX, &out), -1);
    cr_assert_eq (store_get (store, 2, &out), 0);
    cr_assert_eq (store_epoch_of (store, 0), 0);
    cr_assert_eq (store_epoch_of (store, 3), 0);
    store_destroy (&store);
}

Test (store, million_entries_memory, .timeout = 120.0)
{
    store_t *store = store_new ();
    const uint64_t count = 1000000;
    uint8_t data[64];
    uint8_t id[16];
    for (uint64_t seq = 1; seq <= count; seq++) {
        memset (data, 0, sizeof data);
        memcpy (data, &seq, sizeof seq);
        memset (id, (int)(seq % 100), sizeof id); //  100 clients
        entry_t entry = {1 + seq / 250000, seq, id, sizeof id, data, sizeof data};
        cr_assert_eq (store_append (store, &entry), 0);
    }
    cr_assert_eq (store_head (store), count);
    for (uint64_t seq = 1000; seq <= count; seq += 1000) {
        entry_t out;
        cr_assert_eq (store_get (store, seq, &out), 0);
        uint64_t stored;
        memcpy (&stored, out.data, sizeof stored);
        cr_assert_eq (stored, seq);
        cr_assert_eq (out.size, 64);
        cr_assert_eq (out.req_id, seq);
        cr_assert_eq (out.epoch, 1 + seq / 250000);
        cr_assert_eq (out.client_id_size, 16);
        cr_assert_eq (out.client_id[0], seq % 100);
    }
    double per_entry = (double)store_memory (store) / (double)count - 64.0;
    cr_log_info ("store: %.2f bytes/entry over a 64-byte payload", per_entry);
    cr_assert_lt (per_entry, 48.0, "overhead %.2f bytes/entry", per_entry);
    cr_assert_lt (per_entry, 40.0, "overhead %.2f bytes/entry", per_entry);
    store_destroy (&store);
}

Test (store, payload_larger_than_chunk)
{
    store_t *store = store_new ();
    size_t big = 5 * 1024 * 1024 + 3; //  above the 4 MiB chunk size
    s_append (store, 1, 1, 100, 1);
    s_append (store, 1, 2, big, 2);
    s_append (store, 1, 3, 100, 1);
    s_append (store, 1, 4, big * 2, 3);
    s_append (store, 1, 5, 7, 1);
    cr_assert_gt (store_memory (store), big * 3);
    s_check (store, 1, 1, 1, 100, 1);
    s_check (store, 2, 1, 2, big, 2);
    s_check (store, 3, 1, 3, 100, 1);
    s_check (store, 4, 1, 4, big * 2, 3);
    s_check (store, 5, 1, 5, 7, 1);

    //  Cut just after a big one, then after a small one behind a big one
    store_truncate (store, 4);
    s_append (store, 2, 50, 30, 4);
    s_check (store, 4, 1, 4, big * 2, 3);
    s_check (store, 5, 2, 50, 30, 4);
    store_truncate (store, 3);
    cr_assert_lt (store_memory (store), big * 2);
    s_append (store, 2, 60, 40, 4);
    s_append (store, 2, 61, big, 4);
    s_append (store, 2, 62, 40, 4);
    s_check (store, 1, 1, 1, 100, 1);
    s_check (store, 2, 1, 2, big, 2);
    s_check (store, 3, 1, 3, 100, 1);
    s_check (store, 4, 2, 60, 40, 4);
    s_check (store, 5, 2, 61, big, 4);
    s_check (store, 6, 2, 62, 40, 4);
    store_truncate (store, 0);
    cr_assert_eq (store_head (store), 0);
    s_append (store, 3, 70, big, 5);
    s_check (store, 1, 3, 70, big, 5);
    store_destroy (&store);
}

//  Entries of varied sizes spanning several chunks.
static void s_populate (store_t *store, uint64_t from, uint64_t to, uint64_t epoch, uint64_t salt)
{
    for (uint64_t seq = from; seq <= to; seq++)
        s_append (store, epoch, seq * 1000 + salt, 1 + (seq * 37) % 300, (int)(seq % 7));
}

static void s_verify (store_t *store, uint64_t from, uint64_t to, uint64_t epoch, uint64_t salt)
{
    for (uint64_t seq = from; seq <= to; seq++)
        s_check (store, seq, epoch, seq * 1000 + salt, 1 + (seq * 37) % 300, (int)(seq % 7));
}

Test (store, truncate)
{
    store_t *store = store_new ();
    uint64_t n = 50000; //  ~8 MB: several chunks of growing size
    s_populate (store, 1, n, 1, 0);
    size_t full = store_memory (store);

    store_truncate (store, n + 1); //  > head: no-op
    cr_assert_eq (store_head (store), n);
    store_truncate (store, n); //  head: no-op
    cr_assert_eq (store_head (store), n);
    cr_assert_eq (store_memory (store), full);
    s_verify (store, n - 10, n, 1, 0);

    //  Middle: whole chunks past the cut are released
    store_truncate (store, 12345);
    cr_assert_eq (store_head (store), 12345);
    cr_assert_lt (store_memory (store), full / 2);
    entry_t out;
    cr_assert_eq (store_get (store, 12346, &out), -1);
    cr_assert_eq (store_epoch_of (store, 12346), 0);
    s_populate (store, 12346, n + 5000, 2, 1);
    s_verify (store, 1, 12345, 1, 0);
    s_verify (store, 12346, n + 5000, 2, 1);

    //  A cut in the middle of what was just re-appended
    store_truncate (store, 30000);
    s_populate (store, 30001, 31000, 3, 2);
    s_verify (store, 1, 12345, 1, 0);
    s_verify (store, 12346, 30000, 2, 1);
    s_verify (store, 30001, 31000, 3, 2);
    cr_assert_eq (store_epoch_of (store, 12345), 1);
    cr_assert_eq (store_epoch_of (store, 12346), 2);
    cr_assert_eq (store_epoch_of (store, 31000), 3);

    //  To zero: back to (almost) nothing, and usable again
    store_truncate (store, 0);
    cr_assert_eq (store_head (store), 0);
    cr_assert_eq (store_get (store, 1, &out), -1);
    cr_assert_lt (store_memory (store), 64 * 1024);
    s_populate (store, 1, 2000, 4, 3);
    s_verify (store, 1, 2000, 4, 3);
    cr_assert_eq (store_head (store), 2000);
    store_destroy (&store);
}

Test (store, truncate_each_position)
{
    //  Small store: cut at every position, re-append, check everything
    for (uint64_t cut = 0; cut <= 20; cut++) {
        store_t *store = store_new ();
        s_populate (store, 1, 20, 1, 0);
        store_truncate (store, cut);
        cr_assert_eq (store_head (store), cut);
        s_populate (store, cut + 1, 25, 2, 9);
        s_verify (store, 1, cut, 1, 0);
        s_verify (store, cut + 1, 25, 2, 9);
        store_destroy (&store);
    }
}

Test (store, epochs_and_agreement)
{
    store_t *store = store_new ();
    //  Empty store: nothing in common with anyone
    cr_assert_eq (store_agreement (store, 0, 0), 0);
    cr_assert_eq (store_agreement (store, 5, 10), 0);

    //  seqs 1..10 epoch 5, 11..15 epoch 7, 16..20 epoch 9
    s_populate (store, 1, 10, 5, 0);
    s_populate (store, 11, 15, 7, 0);
    s_populate (store, 16, 20, 9, 0);
    cr_assert_eq (store_epoch_of (store, 1), 5);
    cr_assert_eq (store_epoch_of (store, 10), 5);
    cr_assert_eq (store_epoch_of (store, 11), 7);
    cr_assert_eq (store_epoch_of (store, 15), 7);
    cr_assert_eq (store_epoch_of (store, 16), 9);
    cr_assert_eq (store_epoch_of (store, 20), 9);

    //  Empty follower
    cr_assert_eq (store_agreement (store, 0, 0), 0);
    //  Follower in sync, or behind in the same history
    cr_assert_eq (store_agreement (store, 9, 20), 20);
    cr_assert_eq (store_agreement (store, 7, 13), 13);
    cr_assert_eq (store_agreement (store, 5, 4), 4);
    //  Follower ahead of this log: only what is held here
    cr_assert_eq (store_agreement (store, 9, 100), 20);
    //  Follower with a newer epoch than any here
    cr_assert_eq (store_agreement (store, 12, 18), 18);
    cr_assert_eq (store_agreement (store, 12, 30), 20);
    //  Follower with an older epoch whose tail diverges: its entries after
    //  10 came from a deposed epoch-5 master
    cr_assert_eq (store_agreement (store, 5, 14), 10);
    cr_assert_eq (store_agreement (store, 6, 30), 10);
    cr_assert_eq (store_agreement (store, 7, 30), 15);
    cr_assert_eq (store_agreement (store, 8, 17), 15);
    //  Older than anything here: no common prefix
    cr_assert_eq (store_agreement (store, 4, 10), 0);
    cr_assert_eq (store_agreement (store, 0, 3), 0);

    //  Epoch runs follow truncation
    store_truncate (store, 12);
    cr_assert_eq (store_agreement (store, 9, 20), 12);
    cr_assert_eq (store_epoch_of (store, 12), 7);
    s_populate (store, 13, 14, 11, 0);
    cr_assert_eq (store_epoch_of (store, 12), 7);
    cr_assert_eq (store_epoch_of (store, 13), 11);
    cr_assert_eq (store_agreement (store, 9, 20), 12);
    cr_assert_eq (store_agreement (store, 11, 20), 14);
    store_truncate (store, 10);
    cr_assert_eq (store_agreement (store, 5, 20), 10);
    store_truncate (store, 0);
    cr_assert_eq (store_agreement (store, 5, 20), 0);
    store_destroy (&store);
}

Test (store, agreement_epoch_goes_down)
{
    //  Not expected in practice, but "every entry up to s" must still hold
    store_t *store = store_new ();
    s_populate (store, 1, 5, 8, 0);
    s_populate (store, 6, 10, 3, 0);
    s_populate (store, 11, 12, 9, 0);
    cr_assert_eq (store_epoch_of (store, 7), 3);
    cr_assert_eq (store_agreement (store, 3, 12), 0);
    cr_assert_eq (store_agreement (store, 8, 12), 10);
    cr_assert_eq (store_agreement (store, 9, 12), 12);
    store_destroy (&store);
}

Test (store, pointer_stability)
{
    store_t *store = store_new ();
    s_append (store, 1, 42, 64, 1);
    entry_t first;
    cr_assert_eq (store_get (store, 1, &first), 0);
    const uint8_t *data = first.data;
    const uint8_t *id = first.client_id;
    //  Many more appends: the index is reallocated many times, chunks added
    for (int i = 0; i < 200000; i++)
        s_append (store, 1 + i / 50000, (uint64_t)i, 64, i % 1000);
    cr_assert (s_matches (data, 64, 42));
    cr_assert_eq (memcmp (id, "c1", 2), 0);
    entry_t again;
    store_get (store, 1, &again);
    cr_assert_eq (again.data, data);
    cr_assert_eq (again.client_id, id);
    //  Pointers into kept entries survive a truncation too
    store_truncate (store, 1000);
    cr_assert (s_matches (data, 64, 42));
    store_destroy (&store);
}

Test (store, many_clients)
{
    //  Interning across table growth; ids share prefixes
    store_t *store = store_new ();
    for (int i = 0; i < 5000; i++)
        s_append (store, 1, (uint64_t)i, 8, i);
    for (int i = 0; i < 5000; i++)
        s_append (store, 1, (uint64_t)i + 5000, 8, 4999 - i);
    for (int i = 0; i < 5000; i++) {
        s_check (store, (uint64_t)i + 1, 1, (uint64_t)i, 8, i);
        s_check (store, (uint64_t)i + 5001, 1, (uint64_t)i + 5000, 8, 4999 - i);
        entry_t a, b;
        store_get (store, (uint64_t)i + 1, &a);
        store_get (store, 10000 - (uint64_t)i, &b);
        cr_assert_eq (a.client_id, b.client_id);
    }
    store_destroy (&store);
}

//  Random appends and truncations against a plain model.
typedef struct {
    uint64_t epoch;
    uint64_t tag;
    size_t size;
    int client;
} model_t;

static uint64_t s_rand (uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

Test (store, random_model, .timeout = 120.0)
{
    store_t *store = store_new ();
    size_t cap = 200000;
    model_t *model = (model_t *)calloc (cap, sizeof (model_t));
    cr_assert_not_null (model);
    uint64_t head = 0, epoch = 1, rng = 0x1234567u;
    for (int round = 0; round < 300; round++) {
        uint64_t burst = s_rand (&rng) % 2000;
        for (uint64_t i = 0; i < burst && head < cap; i++) {
            uint64_t r = s_rand (&rng);
            size_t size = r % 97 == 0 ? 5000 + r % 50000 : 1 + r % 200;
            if (r % 20011 == 0)
                size = 4 * 1024 * 1024 + r % 1000; //  oversized, rarely
            if (r % 500 == 0)
                epoch++;
            model[head] = (model_t){epoch, r, size, (int)(r % 50)};
            s_append (store, epoch, r, size, (int)(r % 50));
            head++;
        }
        if (s_rand (&rng) % 3 == 0 && head) {
            head = s_rand (&rng) % (head + 1);
            store_truncate (store, head);
        }
        cr_assert_eq (store_head (store), head);
        for (int probe = 0; probe < 50 && head; probe++) {
            uint64_t seq = 1 + s_rand (&rng) % head;
            model_t *m = &model[seq - 1];
            s_check (store, seq, m->epoch, m->tag, m->size, m->client);
        }
    }
    for (uint64_t seq = 1; seq <= head; seq++) {
        model_t *m = &model[seq - 1];
        s_check (store, seq, m->epoch, m->tag, m->size, m->client);
    }
    free (model);
    store_destroy (&store);
}
