/*  test_htab.c - the one hash table: put/find/remove/iterate, growth,
    removal that keeps probe chains whole, long keys, against a model.
*/
#include "htab.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY(s) (s), strlen (s)

Test (htab, new_destroy)
{
    htab_t *htab = htab_new ();
    cr_assert_not_null (htab);
    cr_assert_eq (htab_size (htab), 0);
    cr_assert_null (htab_find (htab, KEY ("x")));
    cr_assert_not (htab_remove (htab, KEY ("x")));
    size_t cursor = 0;
    cr_assert_not (htab_next (htab, &cursor, NULL, NULL, NULL));
    htab_destroy (&htab);
    cr_assert_null (htab);
    htab_destroy (&htab);
}

Test (htab, put_find_remove)
{
    htab_t *htab = htab_new ();
    bool added = false;
    htab_value_t *v = htab_put (htab, KEY ("alpha"), &added);
    cr_assert_not_null (v);
    cr_assert (added);
    cr_assert_eq (v->u64, 0, "a new key's value starts at zero");
    v->u64 = 42;
    v = htab_put (htab, KEY ("alpha"), &added);
    cr_assert_not (added);
    cr_assert_eq (v->u64, 42);
    int object;
    htab_put (htab, KEY ("beta"), NULL)->ptr = &object;
    cr_assert_eq (htab_size (htab), 2);
    cr_assert_eq (htab_find (htab, KEY ("beta"))->ptr, &object);
    cr_assert_eq (htab_find (htab, KEY ("alpha"))->u64, 42);
    cr_assert_null (htab_find (htab, KEY ("alph")));
    cr_assert_null (htab_find (htab, KEY ("alphaa")));
    cr_assert (htab_remove (htab, KEY ("alpha")));
    cr_assert_not (htab_remove (htab, KEY ("alpha")));
    cr_assert_null (htab_find (htab, KEY ("alpha")));
    cr_assert_eq (htab_size (htab), 1);
    htab_destroy (&htab);
}

Test (htab, keys_by_bytes_and_size)
{
    htab_t *htab = htab_new ();
    const uint8_t bytes[] = {'a', 'b', 0, 'c', 0};
    //  Same bytes, different lengths (with NULs), including the empty key
    for (size_t len = 0; len <= sizeof bytes; len++)
        htab_put (htab, bytes, len, NULL)->u64 = 100 + len;
    cr_assert_eq (htab_size (htab), sizeof bytes + 1);
    for (size_t len = 0; len <= sizeof bytes; len++)
        cr_assert_eq (htab_find (htab, bytes, len)->u64, 100 + len);
    cr_assert_not_null (htab_find (htab, NULL, 0), "the empty key");
    const uint8_t other[] = {'a', 'b', 0, 'd'};
    cr_assert_null (htab_find (htab, other, sizeof other));
    htab_destroy (&htab);
}

Test (htab, long_keys)
{
    htab_t *htab = htab_new ();
    uint8_t key[HTAB_KEY_MAX + 1];
    memset (key, 'k', sizeof key);
    size_t base = htab_memory (htab);
    htab_put (htab, key, HTAB_INLINE, NULL)->u64 = 1;
    size_t inline_memory = htab_memory (htab);
    htab_put (htab, key, HTAB_INLINE + 1, NULL)->u64 = 2;
    htab_put (htab, key, HTAB_KEY_MAX, NULL)->u64 = 3;
    cr_assert_gt (inline_memory, base);
    cr_assert_eq (htab_memory (htab), inline_memory + HTAB_INLINE + 1 + HTAB_KEY_MAX,
                  "only keys above HTAB_INLINE are copied to the heap");
    cr_assert_null (htab_put (htab, key, HTAB_KEY_MAX + 1, NULL), "too long");
    cr_assert_null (htab_find (htab, key, HTAB_KEY_MAX + 1));
    cr_assert_eq (htab_size (htab), 3);
    key[HTAB_KEY_MAX - 1] = 'x';
    cr_assert_null (htab_find (htab, key, HTAB_KEY_MAX), "last byte differs");
    key[HTAB_KEY_MAX - 1] = 'k';
    cr_assert_eq (htab_find (htab, key, HTAB_KEY_MAX)->u64, 3);
    cr_assert_eq (htab_find (htab, key, HTAB_INLINE + 1)->u64, 2);
    cr_assert (htab_remove (htab, key, HTAB_KEY_MAX));
    cr_assert_eq (htab_memory (htab), inline_memory + HTAB_INLINE + 1);
    htab_destroy (&htab); //  frees the remaining heap key (ASan checks)
}

Test (htab, growth_keeps_everything)
{
    htab_t *htab = htab_new ();
    char key[32];
    size_t last_memory = htab_memory (htab);
    for (uint64_t i = 0; i < 100000; i++) {
        snprintf (key, sizeof key, "key-%llu", (unsigned long long)i);
        bool added = false;
        htab_put (htab, KEY (key), &added)->u64 = i * 3;
        cr_assert (added);
        cr_assert_geq (htab_memory (htab), last_memory);
        last_memory = htab_memory (htab);
    }
    cr_assert_eq (htab_size (htab), 100000);
    //  At most 3/4 full: 48-byte slots, so at most 128 bytes a key
    cr_assert_leq (htab_memory (htab), 100000 * 128 + 1024);
    for (uint64_t i = 0; i < 100000; i++) {
        snprintf (key, sizeof key, "key-%llu", (unsigned long long)i);
        cr_assert_eq (htab_find (htab, KEY (key))->u64, i * 3);
    }
    htab_destroy (&htab);
}

Test (htab, iterate_sees_each_once)
{
    htab_t *htab = htab_new ();
    char key[16];
    for (int i = 0; i < 500; i++) {
        snprintf (key, sizeof key, "%d", i);
        htab_put (htab, KEY (key), NULL)->u64 = (uint64_t)i;
    }
    bool seen[500] = {false};
    size_t cursor = 0, count = 0;
    const uint8_t *k;
    size_t size;
    htab_value_t *value;
    while (htab_next (htab, &cursor, &k, &size, &value)) {
        char text[16] = "";
        cr_assert_lt (size, sizeof text);
        memcpy (text, k, size);
        cr_assert_eq (atoi (text), (int)value->u64);
        cr_assert_not (seen[value->u64]);
        seen[value->u64] = true;
        count++;
    }
    cr_assert_eq (count, 500);
    cr_assert_not (htab_next (htab, &cursor, &k, &size, &value), "stays at the end");
    htab_destroy (&htab);
}

//  Random puts and removes against a plain array model: removal shifts
//  entries back, and every key must stay findable through wrap-around.
static uint64_t s_rand (uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

Test (htab, random_model)
{
    enum { KEYS = 2000 };
    htab_t *htab = htab_new ();
    uint64_t *model = calloc (KEYS, sizeof *model); //  0 = absent, else value
    cr_assert_not_null (model);
    size_t present = 0;
    uint64_t rng = 0x5EED;
    for (int step = 0; step < 200000; step++) {
        uint32_t k = (uint32_t)(s_rand (&rng) % KEYS);
        uint8_t key[40];
        //  Some keys are long enough to live on the heap
        size_t size = k % 7 == 0 ? 40 : 4;
        memset (key, 0xAB, sizeof key);
        memcpy (key, &k, 4);
        int op = (int)(s_rand (&rng) % 3);
        if (op == 0) {
            bool added;
            htab_value_t *v = htab_put (htab, key, size, &added);
            cr_assert_not_null (v);
            cr_assert_eq (added, model[k] == 0);
            if (added)
                present++;
            v->u64 = model[k] = (uint64_t)step + 1;
        } else if (op == 1) {
            cr_assert_eq (htab_remove (htab, key, size), model[k] != 0);
            if (model[k])
                present--;
            model[k] = 0;
        } else {
            htab_value_t *v = htab_find (htab, key, size);
            if (model[k])
                cr_assert (v && v->u64 == model[k], "key %u", k);
            else
                cr_assert_null (v, "key %u", k);
        }
        cr_assert_eq (htab_size (htab), present);
    }
    for (uint32_t k = 0; k < KEYS; k++) {
        uint8_t key[40];
        memset (key, 0xAB, sizeof key);
        memcpy (key, &k, 4);
        htab_value_t *v = htab_find (htab, key, k % 7 == 0 ? 40 : 4);
        cr_assert_eq (v ? v->u64 : 0, model[k]);
    }
    free (model);
    htab_destroy (&htab);
}
