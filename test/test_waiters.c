/*  test_waiters.c - write-concern waiters: release, expiry, handles, pool.
 */
#include <criterion/criterion.h>

#include "rlog.h"
#include "backoff.h"
#include "waiters.h"

#include <stdlib.h>
#include <string.h>

#define MAX_CALLS 4096

typedef struct {
    int code;
    uint64_t seq;
    uint32_t w;
    uint8_t tag[WAITERS_TAG_MAX];
    size_t tag_size;
} call_t;

typedef struct {
    size_t count;
    call_t calls[MAX_CALLS];
} recorder_t;

static recorder_t *s_recorder_new (void)
{
    recorder_t *self = calloc (1, sizeof *self);
    cr_assert_not_null (self);
    return self;
}

static void s_record (void *arg, int code, uint64_t seq, uint32_t w, const uint8_t *tag,
                      size_t tag_size)
{
    recorder_t *self = arg;
    cr_assert_lt (self->count, MAX_CALLS);
    call_t *call = &self->calls[self->count++];
    call->code = code;
    call->seq = seq;
    call->w = w;
    cr_assert_leq (tag_size, WAITERS_TAG_MAX);
    memcpy (call->tag, tag, tag_size);
    call->tag_size = tag_size;
}

//  Tags in these tests are a 32-bit id, so calls can be matched to adds.
static uint64_t s_add (waiters_t *waiters, uint32_t w, uint64_t seq, int64_t deadline, uint32_t id)
{
    uint64_t handle = 0;
    int rc = waiters_add (waiters, w, seq, deadline, &id, sizeof id, &handle);
    cr_assert_eq (rc, 0, "add w=%u seq=%llu failed", w, (unsigned long long)seq);
    cr_assert_neq (handle, 0);
    return handle;
}

static uint32_t s_call_id (const call_t *call)
{
    uint32_t id;
    cr_assert_eq (call->tag_size, sizeof id);
    memcpy (&id, call->tag, sizeof id);
    return id;
}

static void s_expect_ids (recorder_t *rec, size_t from, const uint32_t *ids, size_t count)
{
    cr_assert_eq (rec->count - from, count, "expected %zu calls, got %zu", count,
                  rec->count - from);
    for (size_t i = 0; i < count; i++)
        cr_assert_eq (s_call_id (&rec->calls[from + i]), ids[i], "call %zu: id %u, expected %u", i,
                      s_call_id (&rec->calls[from + i]), ids[i]);
}

Test (waiters, new_destroy)
{
    waiters_t *waiters = waiters_new (3, 16);
    cr_assert_not_null (waiters);
    cr_assert_eq (waiters_count (waiters), 0);
    cr_assert_eq (waiters_next_deadline (waiters), -1);
    waiters_destroy (&waiters);
    cr_assert_null (waiters);
    waiters_destroy (&waiters);
    cr_assert_null (waiters_new (0, 16));
}

Test (waiters, w1_released_by_master_durable)
{
    waiters_t *waiters = waiters_new (3, 16);
    recorder_t *rec = s_recorder_new ();
    s_add (waiters, 1, 1, -1, 1);
    s_add (waiters, 1, 2, -1, 2);
    s_add (waiters, 1, 3, -1, 3);

    cr_assert_eq (waiters_release (waiters, 0, NULL, 0, s_record, rec), 0);
    cr_assert_eq (waiters_release (waiters, 2, NULL, 0, s_record, rec), 2);
    s_expect_ids (rec, 0, (uint32_t[]){1, 2}, 2);
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq (rec->calls[i].code, RLOG_OK);
        cr_assert_eq (rec->calls[i].w, 1);
        cr_assert_eq (rec->calls[i].seq, i + 1);
    }
    cr_assert_eq (waiters_count (waiters), 1);
    //  Secondaries' acks are irrelevant to w = 1.
    uint64_t acked[] = {100, 100};
    cr_assert_eq (waiters_release (waiters, 2, acked, 2, s_record, rec), 0);
    cr_assert_eq (waiters_release (waiters, 3, NULL, 0, s_record, rec), 1);
    cr_assert_eq (rec->count, 3);
    cr_assert_eq (waiters_count (waiters), 0);
    waiters_destroy (&waiters);
    free (rec);
}

Test (waiters, w2_w3_watermarks)
{
    //  acked {5, 9}: w2 is covered up to 9, w3 up to 5, in either order.
    const uint64_t orders[2][2] = {{5, 9}, {9, 5}};
    for (int o = 0; o < 2; o++) {
        waiters_t *waiters = waiters_new (3, 16);
        recorder_t *rec = s_recorder_new ();
        s_add (waiters, 2, 5, -1, 25);
        s_add (waiters, 2, 9, -1, 29);
        s_add (waiters, 2, 10, -1, 210);
        s_add (waiters, 3, 5, -1, 35);
        s_add (waiters, 3, 6, -1, 36);

        cr_assert_eq (waiters_release (waiters, 100, orders[o], 2, s_record, rec), 3);
        s_expect_ids (rec, 0, (uint32_t[]){25, 29, 35}, 3);
        cr_assert_eq (waiters_count (waiters), 2);
        waiters_destroy (&waiters);
        free (rec);
    }
}

Test (waiters, three_secondaries_any_order)
{
    const uint64_t orders[6][3] = {{3, 5, 7}, {3, 7, 5}, {5, 3, 7},
                                   {5, 7, 3}, {7, 3, 5}, {7, 5, 3}};
    for (int o = 0; o < 6; o++) {
        waiters_t *waiters = waiters_new (4, 32);
        recorder_t *rec = s_recorder_new ();
        for (uint32_t w = 1; w <= 4; w++)
            for (uint64_t seq = 1; seq <= 8; seq++)
                s_add (waiters, w, seq, -1, w * 100 + (uint32_t)seq);
        //  Watermarks: w1 8 (master), w2 7, w3 5, w4 3.
        size_t answered = waiters_release (waiters, 8, orders[o], 3, s_record, rec);
        cr_assert_eq (answered, 8 + 7 + 5 + 3);
        size_t per_level[5] = {0};
        uint64_t top[5] = {0};
        for (size_t i = 0; i < rec->count; i++) {
            per_level[rec->calls[i].w]++;
            cr_assert_gt (rec->calls[i].seq, top[rec->calls[i].w], "order within level");
            top[rec->calls[i].w] = rec->calls[i].seq;
        }
        cr_assert_eq (per_level[1], 8);
        cr_assert_eq (per_level[2], 7);
        cr_assert_eq (per_level[3], 5);
        cr_assert_eq (per_level[4], 3);
        waiters_destroy (&waiters);
        free (rec);
    }
}

Test (waiters, too_few_secondaries_hold_level)
{
    waiters_t *waiters = waiters_new (4, 16);
    recorder_t *rec = s_recorder_new ();
    //  A first release with three acks, so nothing from it may linger.
    uint64_t three[] = {100, 100, 100};
    cr_assert_eq (waiters_release (waiters, 100, three, 3, s_record, rec), 0);
    s_add (waiters, 3, 5, -1, 1);
    s_add (waiters, 4, 5, -1, 2);
    uint64_t two[] = {100, 100};
    //  Two secondaries can satisfy w3 but never w4.
    cr_assert_eq (waiters_release (waiters, 100, two, 2, s_record, rec), 1);
    s_expect_ids (rec, 0, (uint32_t[]){1}, 1);
    cr_assert_eq (waiters_release (waiters, 100, two, 1, s_record, rec), 0);
    cr_assert_eq (waiters_release (waiters, 100, NULL, 0, s_record, rec), 0);
    cr_assert_eq (waiters_count (waiters), 1);
    cr_assert_eq (waiters_release (waiters, 100, three, 3, s_record, rec), 1);
    waiters_destroy (&waiters);
    free (rec);
}

Test (waiters, never_beyond_master_durable)
{
    waiters_t *waiters = waiters_new (3, 16);
    recorder_t *rec = s_recorder_new ();
    s_add (waiters, 1, 4, -1, 1);
    s_add (waiters, 2, 4, -1, 2);
    s_add (waiters, 3, 4, -1, 3);
    //  Secondaries can be ahead of the master's own durable head (they
    //  fsync faster); the master's disk still gates every level.
    uint64_t acked[] = {50, 60};
    cr_assert_eq (waiters_release (waiters, 3, acked, 2, s_record, rec), 0);
    cr_assert_eq (waiters_release (waiters, 4, acked, 2, s_record, rec), 3);
    s_expect_ids (rec, 0, (uint32_t[]){1, 2, 3}, 3);
    waiters_destroy (&waiters);
    free (rec);
}

Test (waiters, same_seq_and_increasing)
{
    waiters_t *waiters = waiters_new (2, 16);
    recorder_t *rec = s_recorder_new ();
    s_add (waiters, 2, 7, -1, 1);
    s_add (waiters, 2, 7, -1, 2);
    s_add (waiters, 2, 7, -1, 3);
    s_add (waiters, 2, 8, -1, 4);
    s_add (waiters, 2, 9, -1, 5);
    uint64_t acked[] = {6};
    cr_assert_eq (waiters_release (waiters, 100, acked, 1, s_record, rec), 0);
    acked[0] = 7;
    cr_assert_eq (waiters_release (waiters, 100, acked, 1, s_record, rec), 3);
    s_expect_ids (rec, 0, (uint32_t[]){1, 2, 3}, 3);
    acked[0] = 9;
    cr_assert_eq (waiters_release (waiters, 100, acked, 1, s_record, rec), 2);
    s_expect_ids (rec, 3, (uint32_t[]){4, 5}, 2);
    waiters_destroy (&waiters);
    free (rec);
}

Test (waiters, retry_of_old_seq_in_order)
{
    waiters_t *waiters = waiters_new (2, 16);
    recorder_t *rec = s_recorder_new ();
    s_add (waiters, 2, 10, -1, 10);
    s_add (waiters, 2, 20, -1, 20);
    s_add (waiters, 2, 30, -1, 30);
    s_add (waiters, 2, 15, -1, 15); //  retry lands between 10 and 20
    s_add (waiters, 2, 5, -1, 5);   //  retry lands at the head
    s_add (waiters, 2, 20, -1, 21); //  after the other 20
    uint64_t acked[] = {4};
    cr_assert_eq (waiters_release (waiters, 100, acked, 1, s_record, rec), 0);
    acked[0] = 5;
    cr_assert_eq (waiters_release (waiters, 100, acked, 1, s_record, rec), 1);
    acked[0] = 20;
    cr_assert_eq (waiters_release (waiters, 100, acked, 1, s_record, rec), 4);
    acked[0] = 30;
    cr_assert_eq (waiters_release (waiters, 100, acked, 1, s_record, rec), 1);
    s_expect_ids (rec, 0, (uint32_t[]){5, 10, 15, 20, 21, 30}, 6);
    cr_assert_eq (waiters_count (waiters), 0);
    waiters_destroy (&waiters);
    free (rec);
}

Test (waiters, expiry_by_deadline)
{
    waiters_t *waiters = waiters_new (2, 16);
    recorder_t *rec = s_recorder_new ();
    s_add (waiters, 1, 1, 500, 1);
    s_add (waiters, 1, 2, -1, 2);
    s_add (waiters, 2, 3, 100, 3);
    s_add (waiters, 2, 4, 300, 4);
    s_add (waiters, 1, 5, 100, 5);
    s_add (waiters, 2, 6, -1, 6);
    s_add (waiters, 2, 7, 200, 7);
    cr_assert_eq (waiters_next_deadline (waiters), 100);

    cr_assert_eq (waiters_expire (waiters, 99, s_record, rec), 0);
    //  Equal deadlines expire in arrival order; deadline == now expires.
    cr_assert_eq (waiters_expire (waiters, 100, s_record, rec), 2);
    s_expect_ids (rec, 0, (uint32_t[]){3, 5}, 2);
    cr_assert_eq (waiters_next_deadline (waiters), 200);
    cr_assert_eq (waiters_expire (waiters, 350, s_record, rec), 2);
    s_expect_ids (rec, 2, (uint32_t[]){7, 4}, 2);
    cr_assert_eq (waiters_next_deadline (waiters), 500);
    cr_assert_eq (waiters_expire (waiters, INT64_MAX, s_record, rec), 1);
    s_expect_ids (rec, 4, (uint32_t[]){1}, 1);
    cr_assert_eq (waiters_next_deadline (waiters), -1);
    for (size_t i = 0; i < rec->count; i++)
        cr_assert_eq (rec->calls[i].code, RLOG_TIMEOUT);
    //  The two without a deadline never expire.
    cr_assert_eq (waiters_count (waiters), 2);
    waiters_destroy (&waiters);
    free (rec);
}

Test (waiters, expire_removes_from_fifo)
{
    waiters_t *waiters = waiters_new (2, 16);
    recorder_t *rec = s_recorder_new ();
    s_add (waiters, 2, 1, 100, 1);
    s_add (waiters, 2, 2, -1, 2);
    s_add (waiters, 2, 3, 100, 3);
    cr_assert_eq (waiters_expire (waiters, 100, s_record, rec), 2);
    uint64_t acked[] = {10};
    cr_assert_eq (waiters_release (waiters, 10, acked, 1, s_record, rec), 1);
    s_expect_ids (rec, 0, (uint32_t[]){1, 3, 2}, 3);
    cr_assert_eq (rec->calls[2].code, RLOG_OK);
    cr_assert_eq (waiters_count (waiters), 0);
    waiters_destroy (&waiters);
    free (rec);
}

Test (waiters, release_removes_from_heap)
{
    waiters_t *waiters = waiters_new (2, 16);
    recorder_t *rec = s_recorder_new ();
    s_add (waiters, 1, 1, 300, 1);
    s_add (waiters, 1, 2, 100, 2);
    s_add (waiters, 1, 3, 200, 3);
    s_add (waiters, 1, 4, 400, 4);
    cr_assert_eq (waiters_release (waiters, 2, NULL, 0, s_record, rec), 2);
    cr_assert_eq (waiters_next_deadline (waiters), 200);
    cr_assert_eq (waiters_expire (waiters, 1000, s_record, rec), 2);
    s_expect_ids (rec, 0, (uint32_t[]){1, 2, 3, 4}, 4);
    cr_assert_eq (rec->calls[2].code, RLOG_TIMEOUT);
    cr_assert_eq (waiters_next_deadline (waiters), -1);
    waiters_destroy (&waiters);
    free (rec);
}

Test (waiters, rebind)
{
    waiters_t *waiters = waiters_new (1, 4);
    recorder_t *rec = s_recorder_new ();
    uint64_t handle = s_add (waiters, 1, 1, -1, 1);
    uint32_t id = 77;
    cr_assert_eq (waiters_rebind (waiters, handle, &id, sizeof id), 0);
    uint8_t big[WAITERS_TAG_MAX + 1] = {0};
    cr_assert_eq (waiters_rebind (waiters, handle, big, sizeof big), -1);
    cr_assert_eq (waiters_release (waiters, 1, NULL, 0, s_record, rec), 1);
    s_expect_ids (rec, 0, (uint32_t[]){77}, 1);
    cr_assert_eq (waiters_rebind (waiters, handle, &id, sizeof id), -1);
    cr_assert_eq (waiters_rebind (waiters, 0, &id, sizeof id), -1);
    cr_assert_eq (waiters_rebind (waiters, 12345, &id, sizeof id), -1);

    //  Rebind to an empty tag and to a full-size one.
    handle = s_add (waiters, 1, 2, -1, 2);
    cr_assert_eq (waiters_rebind (waiters, handle, NULL, 0), 0);
    cr_assert_eq (waiters_release (waiters, 2, NULL, 0, s_record, rec), 1);
    cr_assert_eq (rec->calls[1].tag_size, 0);
    uint8_t full[WAITERS_TAG_MAX];
    for (size_t i = 0; i < sizeof full; i++)
        full[i] = (uint8_t)i;
    handle = s_add (waiters, 1, 3, -1, 3);
    cr_assert_eq (waiters_rebind (waiters, handle, full, sizeof full), 0);
    cr_assert_eq (waiters_release (waiters, 3, NULL, 0, s_record, rec), 1);
    cr_assert_eq (rec->calls[2].tag_size, sizeof full);
    cr_assert_arr_eq (rec->calls[2].tag, full, sizeof full);
    waiters_destroy (&waiters);
    free (rec);
}

Test (waiters, full_pool_and_reuse)
{
    waiters_t *waiters = waiters_new (1, 3);
    recorder_t *rec = s_recorder_new ();
    uint64_t h1 = s_add (waiters, 1, 1, -1, 1);
    uint64_t h2 = s_add (waiters, 1, 2, 100, 2);
    uint64_t h3 = s_add (waiters, 1, 3, -1, 3);
    cr_assert (h1 != h2 && h2 != h3 && h1 != h3);
    uint64_t handle = 0;
    uint32_t id = 4;
    cr_assert_eq (waiters_add (waiters, 1, 4, -1, &id, sizeof id, &handle), -1);
    cr_assert_eq (waiters_count (waiters), 3);

    cr_assert_eq (waiters_expire (waiters, 100, s_record, rec), 1);
    uint64_t h4 = s_add (waiters, 1, 4, -1, 4);
    cr_assert_neq (h4, h2);
    cr_assert_eq (waiters_rebind (waiters, h2, &id, sizeof id), -1);
    cr_assert_eq (waiters_rebind (waiters, h4, &id, sizeof id), 0);
    cr_assert_eq (waiters_add (waiters, 1, 5, -1, &id, sizeof id, &handle), -1);

    //  Cycle one slot many times: every handle is fresh, none is 0.
    cr_assert_eq (waiters_release (waiters, 4, NULL, 0, s_record, rec), 3);
    uint64_t previous = h4;
    for (uint32_t i = 0; i < 1000; i++) {
        uint64_t h = s_add (waiters, 1, 10 + i, -1, i);
        cr_assert_neq (h, previous);
        cr_assert_eq (waiters_rebind (waiters, previous, &id, sizeof id), -1);
        cr_assert_eq (waiters_release (waiters, 10 + i, NULL, 0, s_record, rec), 1);
        previous = h;
    }
    cr_assert_eq (rec->count, 1 + 3 + 1000);
    waiters_destroy (&waiters);
    free (rec);
}

Test (waiters, rejects_bad_arguments)
{
    waiters_t *waiters = waiters_new (3, 4);
    uint64_t handle = 99;
    uint8_t tag[WAITERS_TAG_MAX + 1] = {0};
    cr_assert_eq (waiters_add (waiters, 0, 1, -1, tag, 1, &handle), -1);
    cr_assert_eq (waiters_add (waiters, 4, 1, -1, tag, 1, &handle), -1);
    cr_assert_eq (waiters_add (waiters, 1, 1, -1, tag, sizeof tag, &handle), -1);
    cr_assert_eq (handle, 99);
    cr_assert_eq (waiters_count (waiters), 0);
    cr_assert_eq (waiters_add (waiters, 3, 1, -1, tag, WAITERS_TAG_MAX, &handle), 0);
    cr_assert_eq (waiters_add (waiters, 1, 1, -1, NULL, 0, NULL), 0);
    cr_assert_eq (waiters_count (waiters), 2);
    waiters_destroy (&waiters);
}

Test (waiters, large_pool)
{
    //  Slots are handed out from the bottom of the pool, so a large pool
    //  with few waiters touches only the first few pages.
    waiters_t *waiters = waiters_new (3, 100000);
    cr_assert_not_null (waiters);
    recorder_t *rec = s_recorder_new ();
    for (uint32_t i = 0; i < 100; i++)
        s_add (waiters, 1 + i % 3, i, i, i);
    cr_assert_eq (waiters_expire (waiters, 49, s_record, rec), 50);
    cr_assert_eq (waiters_count (waiters), 50);
    waiters_destroy (&waiters);
    free (rec);
}

//  --------------------------------------------------------------------------
//  Randomized comparison against a brute-force model

#define MODEL_MAX_W     4
#define MODEL_SECONDARY 3
#define MODEL_POOL      12

typedef struct {
    bool parked;
    uint32_t w;
    uint64_t seq;
    int64_t deadline;
    uint64_t serial;
    uint32_t id;
    uint64_t handle;
} model_t;

static int s_model_cmp_seq (const void *a, const void *b)
{
    const model_t *ma = *(model_t *const *)a, *mb = *(model_t *const *)b;
    if (ma->seq != mb->seq)
        return ma->seq < mb->seq ? -1 : 1;
    return ma->serial < mb->serial ? -1 : ma->serial > mb->serial;
}

static int s_model_cmp_deadline (const void *a, const void *b)
{
    const model_t *ma = *(model_t *const *)a, *mb = *(model_t *const *)b;
    if (ma->deadline != mb->deadline)
        return ma->deadline < mb->deadline ? -1 : 1;
    return ma->serial < mb->serial ? -1 : ma->serial > mb->serial;
}

//  Checks that calls[from..] are exactly SELECTED (in order), then unparks them.
static void s_model_check (recorder_t *rec, size_t from, model_t **selected, size_t count, int code)
{
    cr_assert_eq (rec->count - from, count, "model expects %zu answers, got %zu", count,
                  rec->count - from);
    for (size_t i = 0; i < count; i++) {
        const call_t *call = &rec->calls[from + i];
        cr_assert_eq (s_call_id (call), selected[i]->id, "answer %zu: id %u, model %u", i,
                      s_call_id (call), selected[i]->id);
        cr_assert_eq (call->code, code);
        cr_assert_eq (call->seq, selected[i]->seq);
        cr_assert_eq (call->w, selected[i]->w);
        selected[i]->parked = false;
    }
}

Test (waiters, randomized_against_model)
{
    //  Model entries are never reused, so the array bounds the whole run.
    enum { STEPS = 20000 };
    model_t *model = calloc (STEPS, sizeof *model);
    model_t **selected = calloc (STEPS, sizeof *selected);
    recorder_t *rec = s_recorder_new ();
    cr_assert (model && selected);
    size_t entries = 0;
    waiters_t *waiters = waiters_new (MODEL_MAX_W, MODEL_POOL);

    prng_t prng;
    prng_seed (&prng, 20261126);
    uint64_t head = 0;
    uint64_t durable = 0;
    uint64_t acked[MODEL_SECONDARY] = {0};
    int64_t now = 0;
    uint64_t serial = 0;
    size_t answered_total = 0;
    size_t full = 0;

    for (int step = 0; step < STEPS; step++) {
        uint64_t r = prng_next (&prng) % 100;
        rec->count = 0;
        if (r < 35) {
            //  Add: usually the next seq, sometimes a retry of an old one.
            uint32_t w = 1 + (uint32_t)(prng_next (&prng) % MODEL_MAX_W);
            uint64_t seq;
            if (head > 0 && prng_next (&prng) % 8 == 0)
                seq = 1 + prng_next (&prng) % head;
            else
                seq = ++head;
            int64_t deadline =
                prng_next (&prng) % 4 == 0 ? -1 : now + (int64_t)(prng_next (&prng) % 200);
            size_t parked = 0;
            for (size_t i = 0; i < entries; i++)
                parked += model[i].parked;
            uint32_t id = (uint32_t)entries;
            uint64_t handle = 0;
            int rc = waiters_add (waiters, w, seq, deadline, &id, sizeof id, &handle);
            if (parked == MODEL_POOL) {
                cr_assert_eq (rc, -1, "pool full at step %d", step);
                full++;
                continue;
            }
            cr_assert_eq (rc, 0, "add at step %d", step);
            model[entries++] = (model_t){true, w, seq, deadline, serial++, id, handle};
        } else if (r < 80) {
            //  Release: the master and the secondaries move forward
            //  independently, sometimes past each other.
            //  Secondaries advance at different rates, so each watermark
            //  level is the binding one some of the time.
            if (prng_next (&prng) % 2)
                durable += prng_next (&prng) % 8;
            if (durable > head)
                durable = head;
            for (int s = 0; s < MODEL_SECONDARY; s++)
                if (prng_next (&prng) % 20 == 0)
                    acked[s] = head; //  caught up
                else if (prng_next (&prng) % 2) {
                    acked[s] += prng_next (&prng) % (uint64_t)(3 + 2 * s);
                    if (acked[s] > head)
                        acked[s] = head;
                }
            size_t n = prng_next (&prng) % (MODEL_SECONDARY + 1);
            size_t count = 0;
            for (uint32_t w = 1; w <= MODEL_MAX_W; w++) {
                if (w - 1 > n)
                    break;
                //  Brute force: the (w-1)-th highest is the largest value
                //  that at least w-1 of the secondaries have reached.
                uint64_t wm = durable;
                if (w >= 2) {
                    uint64_t best = 0;
                    for (size_t c = 0; c < n; c++) {
                        size_t reached = 0;
                        for (size_t d = 0; d < n; d++)
                            reached += acked[d] >= acked[c];
                        if (reached >= w - 1 && acked[c] > best)
                            best = acked[c];
                    }
                    if (best < wm)
                        wm = best;
                }
                size_t level_from = count;
                for (size_t i = 0; i < entries; i++)
                    if (model[i].parked && model[i].w == w && model[i].seq <= wm)
                        selected[count++] = &model[i];
                qsort (selected + level_from, count - level_from, sizeof *selected,
                       s_model_cmp_seq);
            }
            size_t got = waiters_release (waiters, durable, acked, n, s_record, rec);
            cr_assert_eq (got, count, "release at step %d: %zu, model %zu", step, got, count);
            s_model_check (rec, 0, selected, count, RLOG_OK);
            answered_total += count;
        } else if (r < 95) {
            now += (int64_t)(prng_next (&prng) % 60);
            size_t count = 0;
            for (size_t i = 0; i < entries; i++)
                if (model[i].parked && model[i].deadline >= 0 && model[i].deadline <= now)
                    selected[count++] = &model[i];
            qsort (selected, count, sizeof *selected, s_model_cmp_deadline);
            size_t got = waiters_expire (waiters, now, s_record, rec);
            cr_assert_eq (got, count, "expire at step %d: %zu, model %zu", step, got, count);
            s_model_check (rec, 0, selected, count, RLOG_TIMEOUT);
            answered_total += count;
        } else {
            //  Rebind a random entry: works iff the model says it is parked.
            if (entries == 0)
                continue;
            model_t *target = &model[prng_next (&prng) % entries];
            uint32_t id = target->id;
            int rc = waiters_rebind (waiters, target->handle, &id, sizeof id);
            cr_assert_eq (rc, target->parked ? 0 : -1, "rebind at step %d", step);
        }

        size_t parked = 0;
        int64_t next = -1;
        for (size_t i = 0; i < entries; i++)
            if (model[i].parked) {
                parked++;
                if (model[i].deadline >= 0 && (next < 0 || model[i].deadline < next))
                    next = model[i].deadline;
            }
        cr_assert_eq (waiters_count (waiters), parked, "count at step %d", step);
        cr_assert_eq (waiters_next_deadline (waiters), next, "next deadline at step %d", step);
    }
    //  The run must actually exercise both paths.
    cr_assert_gt (answered_total, 1000);
    cr_assert_gt (full, 0);
    cr_log_info ("answered %zu, rejected as full %zu", answered_total, full);
    waiters_destroy (&waiters);
    free (model);
    free (selected);
    free (rec);
}

Test (waiters, flush_answers_everyone_once)
{
    waiters_t *waiters = waiters_new (3, 16);
    recorder_t *rec = s_recorder_new ();
    s_add (waiters, 2, 1, 100, 1);
    s_add (waiters, 3, 2, -1, 2);
    s_add (waiters, 1, 3, -1, 3);
    cr_assert_eq (waiters_flush (waiters, s_record, rec), 3);
    s_expect_ids (rec, 0, (uint32_t[]){3, 1, 2}, 3);
    for (size_t i = 0; i < rec->count; i++)
        cr_assert_eq (rec->calls[i].code, RLOG_TIMEOUT);
    cr_assert_eq (waiters_count (waiters), 0);
    cr_assert_eq (waiters_next_deadline (waiters), -1);
    //  Nothing is left to answer twice.
    cr_assert_eq (waiters_expire (waiters, INT64_MAX, s_record, rec), 0);
    uint64_t acked[] = {10, 10};
    cr_assert_eq (waiters_release (waiters, 10, acked, 2, s_record, rec), 0);
    waiters_destroy (&waiters);
    free (rec);
}

Test (waiters, cancel_above_answers_only_rolled_back_seqs)
{
    waiters_t *waiters = waiters_new (3, 16);
    recorder_t *rec = s_recorder_new ();
    s_add (waiters, 1, 4, -1, 1);
    s_add (waiters, 1, 6, 100, 2);
    s_add (waiters, 2, 5, -1, 3);
    s_add (waiters, 3, 7, -1, 4);
    cr_assert_eq (waiters_cancel_above (waiters, 5, RLOG_INTERNAL, s_record, rec), 2);
    s_expect_ids (rec, 0, (uint32_t[]){2, 4}, 2);
    cr_assert_eq (rec->calls[0].code, RLOG_INTERNAL);
    cr_assert_eq (waiters_count (waiters), 2);
    //  The cancelled one left the heap too.
    cr_assert_eq (waiters_next_deadline (waiters), -1);
    uint64_t acked[] = {9, 9};
    cr_assert_eq (waiters_release (waiters, 9, acked, 2, s_record, rec), 2);
    s_expect_ids (rec, 2, (uint32_t[]){1, 3}, 2);
    waiters_destroy (&waiters);
    free (rec);
}
