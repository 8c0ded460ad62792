/*  test_epochs.c - epoch runs: epoch_of, agreement (also with epochs that
    go down), cut, against a plain per-seq model.
*/
#include "epochs.h"

#include <criterion/criterion.h>
#include <stdlib.h>

Test (epochs, empty)
{
    epochs_t *epochs = epochs_new ();
    cr_assert_not_null (epochs);
    cr_assert_eq (epochs_of (epochs, 1), 0);
    cr_assert_eq (epochs_agreement (epochs, 5, 10), 10);
    cr_assert_eq (epochs_max (epochs), 0);
    cr_assert_eq (epochs_runs (epochs), 0);
    cr_assert_gt (epochs_memory (epochs), 0);
    epochs_cut (epochs, 0);
    epochs_destroy (&epochs);
    cr_assert_null (epochs);
    epochs_destroy (&epochs);
}

Test (epochs, runs_and_agreement)
{
    epochs_t *epochs = epochs_new ();
    //  Records at 1, 4, 11, 13, 16, 20: epochs 5, 5, 7, 7, 9, 9
    uint64_t starts[] = {1, 4, 11, 13, 16, 20};
    uint64_t values[] = {5, 5, 7, 7, 9, 9};
    for (int i = 0; i < 6; i++)
        cr_assert_eq (epochs_add (epochs, starts[i], values[i]), 0);
    cr_assert_eq (epochs_runs (epochs), 3);
    cr_assert_eq (epochs_max (epochs), 9);
    cr_assert_eq (epochs_of (epochs, 1), 5);
    cr_assert_eq (epochs_of (epochs, 10), 5);
    cr_assert_eq (epochs_of (epochs, 11), 7);
    cr_assert_eq (epochs_of (epochs, 15), 7);
    cr_assert_eq (epochs_of (epochs, 16), 9);
    cr_assert_eq (epochs_of (epochs, 1000), 9);
    cr_assert_eq (epochs_of (epochs, 0), 0);
    cr_assert_eq (epochs_agreement (epochs, 9, 22), 22);
    cr_assert_eq (epochs_agreement (epochs, 12, 18), 18);
    cr_assert_eq (epochs_agreement (epochs, 5, 14), 10);
    cr_assert_eq (epochs_agreement (epochs, 6, 30), 10);
    cr_assert_eq (epochs_agreement (epochs, 7, 30), 15);
    cr_assert_eq (epochs_agreement (epochs, 8, 12), 12);
    cr_assert_eq (epochs_agreement (epochs, 4, 10), 0);
    cr_assert_eq (epochs_agreement (epochs, 0, 3), 0);
    epochs_cut (epochs, 12);
    cr_assert_eq (epochs_runs (epochs), 2);
    cr_assert_eq (epochs_max (epochs), 7);
    cr_assert_eq (epochs_agreement (epochs, 9, 20), 20);
    cr_assert_eq (epochs_add (epochs, 13, 11), 0);
    cr_assert_eq (epochs_of (epochs, 12), 7);
    cr_assert_eq (epochs_of (epochs, 13), 11);
    cr_assert_eq (epochs_agreement (epochs, 9, 20), 12);
    epochs_cut (epochs, 0);
    cr_assert_eq (epochs_runs (epochs), 0);
    cr_assert_eq (epochs_of (epochs, 3), 0);
    epochs_destroy (&epochs);
}

Test (epochs, epoch_goes_down)
{
    epochs_t *epochs = epochs_new ();
    epochs_add (epochs, 1, 8);
    epochs_add (epochs, 6, 3);
    epochs_add (epochs, 11, 9);
    cr_assert_eq (epochs_of (epochs, 7), 3);
    cr_assert_eq (epochs_max (epochs), 9);
    cr_assert_eq (epochs_agreement (epochs, 3, 12), 0);
    cr_assert_eq (epochs_agreement (epochs, 8, 12), 10);
    cr_assert_eq (epochs_agreement (epochs, 9, 12), 12);
    epochs_destroy (&epochs);
}

static uint64_t s_rand (uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

Test (epochs, random_against_model)
{
    enum { MAX = 5000 };
    uint64_t *model = (uint64_t *)calloc (MAX + 1, sizeof (uint64_t));
    cr_assert_not_null (model);
    epochs_t *epochs = epochs_new ();
    uint64_t head = 0, rng = 0x9E3779B97F4A7C15u;
    for (int round = 0; round < 400; round++) {
        //  A few records of random lengths, epochs mostly rising
        for (int i = 0; i < 5 && head < MAX - 20; i++) {
            uint64_t epoch = 1 + s_rand (&rng) % 12;
            uint64_t count = 1 + s_rand (&rng) % 20;
            cr_assert_eq (epochs_add (epochs, head + 1, epoch), 0);
            for (uint64_t s = head + 1; s <= head + count; s++)
                model[s] = epoch;
            head += count;
        }
        if (s_rand (&rng) % 3 == 0) {
            //  Cut at the start of some run or anywhere: runs above go
            head = s_rand (&rng) % (head + 1);
            epochs_cut (epochs, head);
            //  A cut inside a record leaves the record's run: the model
            //  keeps seqs up to head, which have those epochs
        }
        for (int probe = 0; probe < 30 && head; probe++) {
            uint64_t seq = 1 + s_rand (&rng) % head;
            cr_assert_eq (epochs_of (epochs, seq), model[seq], "seq %lu", (unsigned long)seq);
            uint64_t epoch = s_rand (&rng) % 14;
            uint64_t expect = 0;
            for (uint64_t s = 1; s <= seq && model[s] <= epoch; s++)
                expect = s;
            cr_assert_eq (epochs_agreement (epochs, epoch, seq), expect);
        }
    }
    epochs_destroy (&epochs);
    free (model);
}
