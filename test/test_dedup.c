/*  test_dedup.c - idempotency table: windows, gaps, LRU eviction.
 */
#include "dedup.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID(s) (const uint8_t *)(s), strlen (s)

Test (dedup, new_destroy)
{
    dedup_t *dedup = dedup_new (1, 1);
    cr_assert_not_null (dedup);
    cr_assert_eq (dedup_clients (dedup), 0);
    dedup_destroy (&dedup);
    cr_assert_null (dedup);
    dedup_destroy (&dedup);
}

Test (dedup, new_record_found)
{
    dedup_t *dedup = dedup_new (16, 8);
    uint64_t seq = 99, tag = 99;
    cr_assert_eq (dedup_lookup (dedup, ID ("alice"), 1, &seq, &tag), DEDUP_NEW);
    cr_assert_eq (seq, 99, "untouched unless found");
    cr_assert_eq (dedup_clients (dedup), 0, "a lookup does not create a client");

    cr_assert_eq (dedup_record (dedup, ID ("alice"), 1, 100, 7), 0);
    cr_assert_eq (dedup_clients (dedup), 1);
    cr_assert_eq (dedup_lookup (dedup, ID ("alice"), 1, &seq, &tag), DEDUP_FOUND);
    cr_assert_eq (seq, 100);
    cr_assert_eq (tag, 7);
    cr_assert_eq (dedup_lookup (dedup, ID ("alice"), 2, &seq, &tag), DEDUP_NEW);

    cr_assert_eq (dedup_record (dedup, ID ("alice"), 2, 101, 8), 0);
    cr_assert_eq (dedup_record (dedup, ID ("alice"), 5, 105, 9), 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("alice"), 5, &seq, &tag), DEDUP_FOUND);
    cr_assert_eq (seq, 105);
    cr_assert_eq (tag, 9);
    cr_assert_eq (dedup_lookup (dedup, ID ("alice"), 2, &seq, &tag), DEDUP_FOUND);
    cr_assert_eq (seq, 101);
    cr_assert_eq (tag, 8);

    //  Not above the last recorded id: ignored, the original stays
    cr_assert_eq (dedup_record (dedup, ID ("alice"), 5, 200, 0), -1);
    cr_assert_eq (dedup_record (dedup, ID ("alice"), 1, 200, 0), -1);
    cr_assert_eq (dedup_lookup (dedup, ID ("alice"), 5, &seq, &tag), DEDUP_FOUND);
    cr_assert_eq (seq, 105);
    cr_assert_eq (dedup_lookup (dedup, ID ("alice"), 1, &seq, &tag), DEDUP_FOUND);
    cr_assert_eq (seq, 100);

    //  Output pointers are optional
    cr_assert_eq (dedup_lookup (dedup, ID ("alice"), 1, NULL, NULL), DEDUP_FOUND);
    //  Other clients are independent
    cr_assert_eq (dedup_lookup (dedup, ID ("bob"), 1, &seq, &tag), DEDUP_NEW);
    cr_assert_eq (dedup_record (dedup, ID ("bob"), 1, 300, 1), 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("bob"), 1, &seq, &tag), DEDUP_FOUND);
    cr_assert_eq (seq, 300);
    //  Extreme ids
    cr_assert_eq (dedup_record (dedup, ID ("carol"), 0, 1, 0), 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("carol"), 0, &seq, NULL), DEDUP_FOUND);
    cr_assert_eq (dedup_record (dedup, ID ("carol"), UINT64_MAX, 2, 0), 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("carol"), UINT64_MAX, &seq, NULL), DEDUP_FOUND);
    cr_assert_eq (seq, 2);
    cr_assert_eq (dedup_clients (dedup), 3);
    dedup_destroy (&dedup);
}

Test (dedup, set_tag)
{
    dedup_t *dedup = dedup_new (4, 4);
    uint64_t seq, tag;
    cr_assert_eq (dedup_set_tag (dedup, ID ("x"), 1, 5), -1, "unknown client");
    dedup_record (dedup, ID ("x"), 1, 10, 0);
    dedup_record (dedup, ID ("x"), 2, 11, 0);
    dedup_record (dedup, ID ("x"), 4, 12, 0);
    cr_assert_eq (dedup_set_tag (dedup, ID ("x"), 2, 77), 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("x"), 2, &seq, &tag), DEDUP_FOUND);
    cr_assert_eq (seq, 11);
    cr_assert_eq (tag, 77);
    cr_assert_eq (dedup_lookup (dedup, ID ("x"), 1, &seq, &tag), DEDUP_FOUND);
    cr_assert_eq (tag, 0, "other records keep their tag");
    cr_assert_eq (dedup_set_tag (dedup, ID ("x"), 3, 1), -1, "gap");
    cr_assert_eq (dedup_set_tag (dedup, ID ("x"), 5, 1), -1, "not yet recorded");
    cr_assert_eq (dedup_set_tag (dedup, ID ("x"), 0, 1), -1, "below window");
    cr_assert_eq (dedup_set_tag (dedup, ID ("x"), 4, UINT64_MAX), 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("x"), 4, &seq, &tag), DEDUP_FOUND);
    cr_assert_eq (tag, UINT64_MAX);
    dedup_destroy (&dedup);
}

Test (dedup, window_eviction_stale)
{
    dedup_t *dedup = dedup_new (4, 4);
    uint64_t seq, tag;
    for (uint64_t req = 1; req <= 10; req++)
        cr_assert_eq (dedup_record (dedup, ID ("w"), req, req * 10, req + 1000), 0);
    for (uint64_t req = 0; req <= 6; req++)
        cr_assert_eq (dedup_lookup (dedup, ID ("w"), req, &seq, &tag), DEDUP_STALE, "req %lu",
                      (unsigned long)req);
    for (uint64_t req = 7; req <= 10; req++) {
        cr_assert_eq (dedup_lookup (dedup, ID ("w"), req, &seq, &tag), DEDUP_FOUND);
        cr_assert_eq (seq, req * 10);
        cr_assert_eq (tag, req + 1000);
    }
    cr_assert_eq (dedup_lookup (dedup, ID ("w"), 11, &seq, &tag), DEDUP_NEW);
    cr_assert_eq (dedup_set_tag (dedup, ID ("w"), 6, 1), -1);
    dedup_destroy (&dedup);
}

Test (dedup, window_of_one)
{
    dedup_t *dedup = dedup_new (2, 1);
    uint64_t seq;
    dedup_record (dedup, ID ("a"), 1, 1, 0);
    dedup_record (dedup, ID ("a"), 2, 2, 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("a"), 1, &seq, NULL), DEDUP_STALE);
    cr_assert_eq (dedup_lookup (dedup, ID ("a"), 2, &seq, NULL), DEDUP_FOUND);
    cr_assert_eq (seq, 2);
    cr_assert_eq (dedup_lookup (dedup, ID ("a"), 3, &seq, NULL), DEDUP_NEW);
    dedup_destroy (&dedup);
}

Test (dedup, window_grows_and_wraps)
{
    //  The ring starts small and grows to the window; then it wraps
    dedup_t *dedup = dedup_new (2, 100);
    uint64_t seq, tag;
    for (uint64_t req = 1; req <= 1000; req++) {
        cr_assert_eq (dedup_record (dedup, ID ("g"), req * 3, req, req ^ 0x55), 0);
        uint64_t oldest = req > 100 ? req - 99 : 1;
        //  Spot checks while it grows
        cr_assert_eq (dedup_lookup (dedup, ID ("g"), oldest * 3, &seq, &tag), DEDUP_FOUND);
        cr_assert_eq (seq, oldest);
        cr_assert_eq (dedup_lookup (dedup, ID ("g"), req * 3, &seq, &tag), DEDUP_FOUND);
        cr_assert_eq (seq, req);
        cr_assert_eq (tag, req ^ 0x55);
        if (oldest > 1)
            cr_assert_eq (dedup_lookup (dedup, ID ("g"), oldest * 3 - 3, &seq, &tag), DEDUP_STALE);
    }
    for (uint64_t id = 0; id <= 3010; id++) {
        dedup_result_t result = dedup_lookup (dedup, ID ("g"), id, &seq, &tag);
        if (id > 3000)
            cr_assert_eq (result, DEDUP_NEW);
        else if (id <= 900 * 3) //  up to the last id dropped from the window
            cr_assert_eq (result, DEDUP_STALE, "id %lu", (unsigned long)id);
        else if (id % 3 == 0) {
            cr_assert_eq (result, DEDUP_FOUND, "id %lu", (unsigned long)id);
            cr_assert_eq (seq, id / 3);
        } else
            cr_assert_eq (result, DEDUP_NEW, "gap id %lu", (unsigned long)id);
    }
    dedup_destroy (&dedup);
}

Test (dedup, gaps)
{
    dedup_t *dedup = dedup_new (4, 4);
    uint64_t seq;
    dedup_record (dedup, ID ("g"), 1, 1, 0);
    dedup_record (dedup, ID ("g"), 2, 2, 0);
    //  3 and 4 were refused, never recorded
    dedup_record (dedup, ID ("g"), 5, 3, 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("g"), 3, &seq, NULL), DEDUP_NEW);
    cr_assert_eq (dedup_lookup (dedup, ID ("g"), 4, &seq, NULL), DEDUP_NEW);
    cr_assert_eq (dedup_lookup (dedup, ID ("g"), 5, &seq, NULL), DEDUP_FOUND);
    //  A refused request sent again is appended once and then found: the
    //  record goes in at its place, so a third try is not a second copy.
    cr_assert_eq (dedup_record (dedup, ID ("g"), 3, 9, 0), 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("g"), 3, &seq, NULL), DEDUP_FOUND);
    cr_assert_eq (seq, 9);
    cr_assert_eq (dedup_record (dedup, ID ("g"), 3, 10, 0), -1, "already recorded");
    cr_assert_eq (dedup_lookup (dedup, ID ("g"), 5, &seq, NULL), DEDUP_FOUND);
    cr_assert_eq (seq, 3, "the newer record is untouched");
    //  The window (4) is full now: 1 2 3 5. Recording 4 drops the oldest (1).
    cr_assert_eq (dedup_record (dedup, ID ("g"), 4, 11, 0), 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("g"), 1, &seq, NULL), DEDUP_STALE);
    cr_assert_eq (dedup_lookup (dedup, ID ("g"), 4, &seq, NULL), DEDUP_FOUND);
    cr_assert_eq (seq, 11);
    //  Older than the whole window: cannot be placed.
    cr_assert_eq (dedup_record (dedup, ID ("g"), 1, 12, 0), -1);
    //  Once the window moves past them, old ids are STALE like any other.
    dedup_record (dedup, ID ("g"), 6, 4, 0);
    dedup_record (dedup, ID ("g"), 7, 5, 0);
    dedup_record (dedup, ID ("g"), 8, 6, 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("g"), 3, &seq, NULL), DEDUP_STALE);
    cr_assert_eq (dedup_lookup (dedup, ID ("g"), 4, &seq, NULL), DEDUP_STALE);
    cr_assert_eq (dedup_lookup (dedup, ID ("g"), 5, &seq, NULL), DEDUP_FOUND);
    cr_assert_eq (seq, 3);
    dedup_destroy (&dedup);
}

Test (dedup, lru_eviction)
{
    dedup_t *dedup = dedup_new (3, 4);
    uint64_t seq;
    dedup_record (dedup, ID ("a"), 1, 1, 0);
    dedup_record (dedup, ID ("b"), 1, 2, 0);
    dedup_record (dedup, ID ("c"), 1, 3, 0);
    cr_assert_eq (dedup_clients (dedup), 3);
    //  A lookup is a use: a becomes the most recent, b the least
    cr_assert_eq (dedup_lookup (dedup, ID ("a"), 1, &seq, NULL), DEDUP_FOUND);
    dedup_record (dedup, ID ("d"), 1, 4, 0);
    cr_assert_eq (dedup_clients (dedup), 3);
    cr_assert_eq (dedup_lookup (dedup, ID ("b"), 1, &seq, NULL), DEDUP_NEW, "b was evicted");
    cr_assert_eq (dedup_lookup (dedup, ID ("a"), 1, &seq, NULL), DEDUP_FOUND);
    cr_assert_eq (seq, 1);
    cr_assert_eq (dedup_lookup (dedup, ID ("c"), 1, &seq, NULL), DEDUP_FOUND);
    cr_assert_eq (dedup_lookup (dedup, ID ("d"), 1, &seq, NULL), DEDUP_FOUND);
    //  Order now (oldest first): a, c, d. A record is a use too
    dedup_record (dedup, ID ("a"), 2, 5, 0);
    dedup_record (dedup, ID ("e"), 1, 6, 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("c"), 1, &seq, NULL), DEDUP_NEW, "c was evicted");
    //  A STALE or NEW answer is a use as well: order d, a, e -> touch d
    cr_assert_eq (dedup_lookup (dedup, ID ("d"), 9, &seq, NULL), DEDUP_NEW);
    //  So is set_tag: touch a; order e, d, a
    cr_assert_eq (dedup_set_tag (dedup, ID ("a"), 2, 3), 0);
    dedup_record (dedup, ID ("f"), 1, 7, 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("e"), 1, &seq, NULL), DEDUP_NEW, "e was evicted");
    cr_assert_eq (dedup_lookup (dedup, ID ("d"), 1, &seq, NULL), DEDUP_FOUND);
    cr_assert_eq (dedup_lookup (dedup, ID ("a"), 2, &seq, NULL), DEDUP_FOUND);
    cr_assert_eq (dedup_lookup (dedup, ID ("f"), 1, &seq, NULL), DEDUP_FOUND);
    //  An evicted client starts over
    cr_assert_eq (dedup_record (dedup, ID ("b"), 1, 8, 0), 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("b"), 1, &seq, NULL), DEDUP_FOUND);
    cr_assert_eq (seq, 8);
    cr_assert_eq (dedup_clients (dedup), 3);
    dedup_destroy (&dedup);
}

Test (dedup, single_client_table)
{
    dedup_t *dedup = dedup_new (1, 2);
    uint64_t seq;
    dedup_record (dedup, ID ("a"), 1, 1, 0);
    dedup_record (dedup, ID ("b"), 1, 2, 0);
    cr_assert_eq (dedup_clients (dedup), 1);
    cr_assert_eq (dedup_lookup (dedup, ID ("a"), 1, &seq, NULL), DEDUP_NEW);
    cr_assert_eq (dedup_lookup (dedup, ID ("b"), 1, &seq, NULL), DEDUP_FOUND);
    dedup_destroy (&dedup);
}

Test (dedup, many_clients)
{
    size_t max = 1000;
    dedup_t *dedup = dedup_new (max, 16);
    uint64_t seq, tag;
    uint8_t id[16];
    //  5000 clients, 3 requests each, 16-byte binary ids
    for (uint32_t c = 0; c < 5000; c++) {
        memset (id, 0, sizeof id);
        memcpy (id, &c, sizeof c);
        for (uint64_t req = 1; req <= 3; req++)
            cr_assert_eq (dedup_record (dedup, id, sizeof id, req, c * 10 + req, c), 0);
        cr_assert_leq (dedup_clients (dedup), max);
    }
    cr_assert_eq (dedup_clients (dedup), max);
    for (uint32_t c = 0; c < 5000; c++) {
        memset (id, 0, sizeof id);
        memcpy (id, &c, sizeof c);
        if (c < 4000)
            cr_assert_eq (dedup_lookup (dedup, id, sizeof id, 2, &seq, &tag), DEDUP_NEW,
                          "client %u evicted", c);
        else {
            cr_assert_eq (dedup_lookup (dedup, id, sizeof id, 2, &seq, &tag), DEDUP_FOUND,
                          "client %u kept", c);
            cr_assert_eq (seq, c * 10 + 2);
            cr_assert_eq (tag, c);
        }
    }
    dedup_destroy (&dedup);
}

Test (dedup, ids_sharing_prefix)
{
    dedup_t *dedup = dedup_new (16, 4);
    uint64_t seq;
    const uint8_t bytes[] = {'a', 'b', 0, 'c', 0};
    //  Same bytes, different lengths, including an embedded NUL
    for (size_t len = 0; len <= sizeof bytes; len++)
        cr_assert_eq (dedup_record (dedup, bytes, len, 1, 100 + len, len), 0);
    cr_assert_eq (dedup_clients (dedup), sizeof bytes + 1);
    for (size_t len = 0; len <= sizeof bytes; len++) {
        cr_assert_eq (dedup_lookup (dedup, bytes, len, 1, &seq, NULL), DEDUP_FOUND);
        cr_assert_eq (seq, 100 + len, "len %zu", len);
    }
    const uint8_t other[] = {'a', 'b', 0, 'd'};
    cr_assert_eq (dedup_lookup (dedup, other, sizeof other, 1, &seq, NULL), DEDUP_NEW);
    dedup_destroy (&dedup);
}

Test (dedup, empty_client_id)
{
    dedup_t *dedup = dedup_new (4, 4);
    uint64_t seq, tag;
    cr_assert_eq (dedup_lookup (dedup, NULL, 0, 1, &seq, &tag), DEDUP_NEW);
    cr_assert_eq (dedup_record (dedup, NULL, 0, 1, 42, 5), 0);
    cr_assert_eq (dedup_lookup (dedup, NULL, 0, 1, &seq, &tag), DEDUP_FOUND);
    cr_assert_eq (seq, 42);
    cr_assert_eq (tag, 5);
    cr_assert_eq (dedup_lookup (dedup, (const uint8_t *)"", 0, 1, &seq, &tag), DEDUP_FOUND);
    cr_assert_eq (dedup_set_tag (dedup, NULL, 0, 1, 6), 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("x"), 1, &seq, &tag), DEDUP_NEW);
    dedup_destroy (&dedup);
}

//  Random records and lookups against a plain model of each client's history.
static uint64_t s_rand (uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

#define MODEL_CLIENTS 8
#define MODEL_WINDOW  10
#define MODEL_MAX     4000

Test (dedup, random_model)
{
    //  Room for every client: no LRU eviction, only window behaviour
    dedup_t *dedup = dedup_new (MODEL_CLIENTS, MODEL_WINDOW);
    uint64_t (*reqs)[MODEL_MAX] = calloc (MODEL_CLIENTS, sizeof *reqs);
    size_t count[MODEL_CLIENTS] = {0};
    cr_assert_not_null (reqs);
    uint64_t rng = 0xC0FFEE;
    for (int step = 0; step < 20000; step++) {
        unsigned c = (unsigned)(s_rand (&rng) % MODEL_CLIENTS);
        char id[8];
        snprintf (id, sizeof id, "k%u", c);
        uint64_t last = count[c] ? reqs[c][count[c] - 1] : 0;
        if (s_rand (&rng) % 2 && count[c] < MODEL_MAX) {
            uint64_t req = last + 1 + s_rand (&rng) % 3; //  sometimes a gap
            cr_assert_eq (dedup_record (dedup, ID (id), req, req * 7, c), 0);
            reqs[c][count[c]++] = req;
        } else {
            uint64_t req = last + 2 > 40 ? last + 2 - s_rand (&rng) % 40 : s_rand (&rng) % 40;
            uint64_t seq = 0;
            dedup_result_t result = dedup_lookup (dedup, ID (id), req, &seq, NULL);
            size_t held = count[c] < MODEL_WINDOW ? count[c] : MODEL_WINDOW;
            const uint64_t *window = reqs[c] + count[c] - held;
            dedup_result_t expected = DEDUP_NEW;
            //  STALE: at or below the newest id that left the window.
            if (count[c] > held && req <= reqs[c][count[c] - held - 1])
                expected = DEDUP_STALE;
            else
                for (size_t i = 0; i < held; i++)
                    if (window[i] == req)
                        expected = DEDUP_FOUND;
            cr_assert_eq (result, expected, "client %u req %lu", c, (unsigned long)req);
            if (expected == DEDUP_FOUND)
                cr_assert_eq (seq, req * 7);
        }
    }
    free (reqs);
    dedup_destroy (&dedup);
}

Test (dedup, forget_undoes_one_record)
{
    dedup_t *dedup = dedup_new (16, 8);
    uint64_t seq = 0, tag = 0;
    cr_assert_eq (dedup_forget (dedup, ID ("bob"), 1), -1, "unknown client");
    cr_assert_eq (dedup_record (dedup, ID ("bob"), 1, 10, 0), 0);
    cr_assert_eq (dedup_record (dedup, ID ("bob"), 2, 11, 0), 0);
    cr_assert_eq (dedup_forget (dedup, ID ("bob"), 3), -1, "never recorded");
    cr_assert_eq (dedup_forget (dedup, ID ("bob"), 2), 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("bob"), 2, &seq, &tag), DEDUP_NEW);
    //  The id can be recorded again, with the seq it gets this time.
    cr_assert_eq (dedup_record (dedup, ID ("bob"), 2, 12, 0), 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("bob"), 2, &seq, &tag), DEDUP_FOUND);
    cr_assert_eq (seq, 12);
    cr_assert_eq (dedup_forget (dedup, ID ("bob"), 2), 0);
    cr_assert_eq (dedup_forget (dedup, ID ("bob"), 1), 0);
    cr_assert_eq (dedup_clients (dedup), 0, "a client with no records is gone");
    cr_assert_eq (dedup_lookup (dedup, ID ("bob"), 1, &seq, &tag), DEDUP_NEW);
    //  A record in the middle goes too; its neighbours stay.
    for (uint64_t r = 1; r <= 5; r++)
        cr_assert_eq (dedup_record (dedup, ID ("bob"), r, 100 + r, 0), 0);
    cr_assert_eq (dedup_forget (dedup, ID ("bob"), 3), 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("bob"), 3, &seq, &tag), DEDUP_NEW);
    for (uint64_t r = 1; r <= 5; r++)
        if (r != 3) {
            cr_assert_eq (dedup_lookup (dedup, ID ("bob"), r, &seq, &tag), DEDUP_FOUND);
            cr_assert_eq (seq, 100 + r);
        }
    dedup_destroy (&dedup);
}

Test (dedup, out_of_order_arrival_is_not_stale)
{
    //  One client's requests over several connections may arrive in any
    //  order: 2 before 1 is not "older than the window", nothing was dropped.
    dedup_t *dedup = dedup_new (4, 8);
    uint64_t seq = 0;
    cr_assert_eq (dedup_record (dedup, ID ("m"), 2, 20, 0), 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("m"), 1, &seq, NULL), DEDUP_NEW);
    cr_assert_eq (dedup_record (dedup, ID ("m"), 1, 21, 0), 0);
    cr_assert_eq (dedup_lookup (dedup, ID ("m"), 1, &seq, NULL), DEDUP_FOUND);
    cr_assert_eq (seq, 21);
    cr_assert_eq (dedup_lookup (dedup, ID ("m"), 0, &seq, NULL), DEDUP_NEW);
    dedup_destroy (&dedup);
}
