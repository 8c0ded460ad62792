/*  storage.h - a node's durable state, opened together: its log (store.h)
    and what it remembers beside it (meta.h), under the node's config.

    A data dir holds both; without one both live in memory and a restart
    starts a new history. Opening checks that they belong together: a log
    with entries but no history identity is refused (restore DIR/meta, or
    wipe the dir), never silently given a new identity.
*/
#ifndef STORAGE_H_INCLUDED
#define STORAGE_H_INCLUDED

#include "config.h"
#include "meta.h"
#include "store.h"

typedef struct {
    store_t *store;
    meta_t meta;
    const config_t *cfg;
} storage_t;

//  Open CFG's log (STRICT: refuse corruption in the middle, as a master
//  does unless --repair) and meta, logging what recovery cut. 0, or -1
//  with the reason in ERR (the storage is then closed).
int storage_open (storage_t *self, const config_t *cfg, bool strict, char *err, size_t err_size);
void storage_close (storage_t *self);

//  Persist the meta (no-op in memory). 0, or -1 with ERR.
int storage_save (storage_t *self, char *err, size_t err_size);

//  Take a new epoch for a master: above every epoch this node has seen or
//  taken and above the last entry's, whatever the clock says; persisted
//  before it is used. Starts a new history first when the log is empty and
//  has none. 0, or -1 with ERR.
int storage_new_epoch (storage_t *self, uint64_t *epoch, char *err, size_t err_size);

//  Give an empty log without one a new history identity (persisted): a
//  master about to lead it. 0, or -1 with ERR.
int storage_ensure_history (storage_t *self, char *err, size_t err_size);

//  Remember EPOCH as seen (persisted when it is above the last one).
int storage_see_epoch (storage_t *self, uint64_t epoch, char *err, size_t err_size);

//  Path of a new rollback file for entries cut for REASON ("" in memory).
const char *storage_rollback_path (storage_t *self, const char *reason, char *buf, size_t size);

//  The entry count, the last entry's epoch and CRC of its record.
void storage_last (storage_t *self, uint64_t *seq, uint64_t *epoch, uint32_t *crc);

#endif
