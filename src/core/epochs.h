/*  epochs.h - which epoch appended each seq of a log, as runs.

    Epochs change rarely (once per master), so a log's epochs are kept as
    runs "epoch E from seq S", each with the largest epoch of it and every
    run before it. That makes epoch_of and agreement binary searches, and
    keeps agreement right even if epochs ever went down. The store (store.c)
    keeps one of these for both engines; it adds a run only where a record
    starts, so every run boundary is a record boundary.

    Lifecycle: epochs_new, then epochs_add for each record in seq order,
    epochs_cut when the log is truncated, epochs_destroy.
*/
#ifndef EPOCHS_H_INCLUDED
#define EPOCHS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct _epochs_t epochs_t;

//  NULL when memory runs out.
epochs_t *epochs_new (void);
void epochs_destroy (epochs_t **self_p);

//  Seqs from FIRST_SEQ on (above every seq added before) have EPOCH.
//  Returns 0, or -1 (ENOMEM, nothing changed).
int epochs_add (epochs_t *self, uint64_t first_seq, uint64_t epoch);

//  Forget everything above seq LAST.
void epochs_cut (epochs_t *self, uint64_t last);

//  Epoch of SEQ: that of the last run starting at or below it; 0 when SEQ
//  is below the first run. The caller knows where the log ends.
uint64_t epochs_of (epochs_t *self, uint64_t seq);

//  Largest s <= UPTO such that no seq up to s has an epoch above EPOCH
//  (runs after the last seq added do not count: the caller caps UPTO).
uint64_t epochs_agreement (epochs_t *self, uint64_t epoch, uint64_t upto);

//  Largest epoch held, 0 if none.
uint64_t epochs_max (epochs_t *self);

//  Runs held, and heap bytes.
size_t epochs_runs (epochs_t *self);
size_t epochs_memory (epochs_t *self);

#endif
