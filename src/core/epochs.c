/*  epochs.c - epoch runs of a log (epochs.h).

    The runs array is sorted by start; max_epoch never decreases along it,
    so "the first run bringing in an epoch above E" is a binary search.
*/
#include "epochs.h"
#include "grow.h"

#include <assert.h>
#include <stdlib.h>

typedef struct {
    uint64_t start;     //  first seq of the run
    uint64_t epoch;     //  epoch of seqs start .. next run's start - 1
    uint64_t max_epoch; //  largest epoch of this run and all before it
} run_t;

struct _epochs_t {
    run_t *runs;
    size_t nruns;
    size_t cap;
};

epochs_t *epochs_new (void)
{
    return (epochs_t *)calloc (1, sizeof (epochs_t));
}

void epochs_destroy (epochs_t **self_p)
{
    assert (self_p);
    epochs_t *self = *self_p;
    if (!self)
        return;
    free (self->runs);
    free (self);
    *self_p = NULL;
}

int epochs_add (epochs_t *self, uint64_t first_seq, uint64_t epoch)
{
    assert (self);
    assert (self->nruns == 0 || first_seq > self->runs[self->nruns - 1].start);
    if (self->nruns && self->runs[self->nruns - 1].epoch == epoch)
        return 0;
    void *table = self->runs;
    int rc = grow_array (&table, &self->cap, self->nruns + 1, sizeof (run_t), 8);
    self->runs = (run_t *)table;
    if (rc)
        return -1;
    uint64_t max_epoch = epoch;
    if (self->nruns && self->runs[self->nruns - 1].max_epoch > max_epoch)
        max_epoch = self->runs[self->nruns - 1].max_epoch;
    self->runs[self->nruns++] = (run_t){first_seq, epoch, max_epoch};
    return 0;
}

void epochs_cut (epochs_t *self, uint64_t last)
{
    assert (self);
    while (self->nruns && self->runs[self->nruns - 1].start > last)
        self->nruns--;
    //  Give memory back after a large cut; a failed shrink is harmless
    if (self->cap > 64 && self->nruns < self->cap / 4) {
        size_t cap = self->cap / 2;
        run_t *runs = (run_t *)realloc (self->runs, cap * sizeof (run_t));
        if (runs) {
            self->runs = runs;
            self->cap = cap;
        }
    }
}

uint64_t epochs_of (epochs_t *self, uint64_t seq)
{
    assert (self);
    if (self->nruns == 0 || seq < self->runs[0].start)
        return 0;
    //  Largest run whose start <= seq
    size_t lo = 0, hi = self->nruns;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->runs[mid].start <= seq)
            lo = mid;
        else
            hi = mid;
    }
    return self->runs[lo].epoch;
}

uint64_t epochs_agreement (epochs_t *self, uint64_t epoch, uint64_t upto)
{
    assert (self);
    //  First run whose max_epoch is above EPOCH: everything before it agrees
    size_t lo = 0, hi = self->nruns;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->runs[mid].max_epoch > epoch)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo < self->nruns && self->runs[lo].start - 1 < upto)
        return self->runs[lo].start - 1;
    return upto;
}

uint64_t epochs_max (epochs_t *self)
{
    assert (self);
    return self->nruns ? self->runs[self->nruns - 1].max_epoch : 0;
}

size_t epochs_runs (epochs_t *self)
{
    assert (self);
    return self->nruns;
}

size_t epochs_memory (epochs_t *self)
{
    assert (self);
    return sizeof (epochs_t) + self->cap * sizeof (run_t);
}
