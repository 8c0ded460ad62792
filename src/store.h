/*  store.h - the log itself: an in-memory sequence of entries, seq 1..head.

    Entries live in large append-only chunks, so an entry's pointers stay
    valid until it is truncated or the store is destroyed, and the per-entry
    cost is a small fixed header plus the payload (no allocation per entry).
    Client ids are interned: each record keeps a 32-bit index, not the bytes.
*/
#ifndef STORE_H_INCLUDED
#define STORE_H_INCLUDED

#include "disklog.h"
#include "entry.h"
#include <stdbool.h>

typedef struct _store_t store_t;

store_t *store_new (void);
void store_destroy (store_t **self_p);

//  Last seq held (0 when empty). Seqs are 1-based and gap-free.
uint64_t store_head (store_t *self);

//  Append ENTRY as seq head+1 (data and client id are copied).
//  Returns 0, or -1 when memory cannot be had (nothing appended).
int store_append (store_t *self, const entry_t *entry);

//  Fill OUT with entry SEQ. Returns 0, or -1 if SEQ is not in 1..head.
int store_get (store_t *self, uint64_t seq, entry_t *out);

//  Drop every entry after LAST (keep 1..LAST). LAST >= head is a no-op.
void store_truncate (store_t *self, uint64_t last);

//  Epoch of entry SEQ, 0 if absent.
uint64_t store_epoch_of (store_t *self, uint64_t seq);

//  Where a follower whose last entry is (EPOCH, SEQ) agrees with this log:
//  the largest s <= SEQ such that entry s exists here and every entry up to s
//  has epoch <= EPOCH. 0 means no common prefix.
uint64_t store_agreement (store_t *self, uint64_t epoch, uint64_t seq);

//  Write appended entries out (one write per batch), and fsync them if SYNC.
//  Returns 0, or -1 with errno set: the unwritten entries are then dropped
//  (head falls back to store_written) and nothing new counts as synced.
int store_commit (store_t *self, bool sync);

//  Last seq written to the file / written and fsynced. In memory: the head.
uint64_t store_written (store_t *self);
uint64_t store_synced (store_t *self);

//  Open the log kept in DIR (segment files of SEGMENT_BYTES), recovering it:
//  a torn tail is cut; corruption in the middle fails the open when STRICT,
//  else the good prefix is kept. RECOVERY says what was found.
store_t *store_open (const char *dir, size_t segment_bytes, bool strict,
                     disklog_recovery_t *recovery, char *err, size_t err_size);

//  Truncate to LAST like store_truncate, first saving the entries cut to
//  ROLLBACK_PATH (if not NULL, durable stores only). Returns 0 or -1.
int store_cut (store_t *self, uint64_t last, const char *rollback_path);

//  True when the store lives in a data directory.
bool store_is_durable (store_t *self);

//  Bytes of memory the store holds (chunks + index), for status and bench.
size_t store_memory (store_t *self);

#endif
