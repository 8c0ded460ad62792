/*  storage.c - open a node's log and meta together, take epochs.
 */
#include "storage.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void s_report (const store_recovery_t *r, bool strict)
{
    if (!r->cut_bytes && !r->cut_records)
        return;
    log_warn ("recovery cut %llu bytes (%llu records) of %s at offset %llu (%s)%s",
              (unsigned long long)r->cut_bytes, (unsigned long long)r->cut_records, r->file,
              (unsigned long long)r->offset, r->reason,
              r->corrupt_middle ? (strict ? " (--repair: corruption in the middle)"
                                          : " (corruption in the middle: the master will "
                                            "refill it)")
                                : "");
}

static int s_open_disk (storage_t *self, bool strict, char *err, size_t err_size)
{
    const config_t *cfg = self->cfg;
    store_recovery_t recovery;
    self->store = store_disk_open (cfg->data_dir, cfg->segment_bytes, strict, cfg->max_msg,
                                   &recovery, err, err_size);
    if (!self->store) {
        if (strict && errno == EBADMSG) {
            size_t len = strlen (err);
            snprintf (err + len, err_size - len,
                      " (refusing to serve a damaged log: restore it, or start with --repair "
                      "to cut it there)");
        }
        return -1;
    }
    s_report (&recovery, strict);
    if (meta_load (cfg->data_dir, &self->meta, err, err_size) != 0)
        return -1;
    if (store_head (self->store) > 0 && !self->meta.has_history) {
        snprintf (err, err_size,
                  "%s holds %llu entries but no history identity (%s/meta is missing): restore "
                  "it, or wipe the directory",
                  cfg->data_dir, (unsigned long long)store_head (self->store), cfg->data_dir);
        return -1;
    }
    log_info ("recovered %llu entries from %s", (unsigned long long)store_head (self->store),
              cfg->data_dir);
    return 0;
}

int storage_open (storage_t *self, const config_t *cfg, bool strict, char *err, size_t err_size)
{
    memset (self, 0, sizeof *self);
    self->cfg = cfg;
    int rc = 0;
    if (cfg->data_dir[0])
        rc = s_open_disk (self, strict, err, err_size);
    else if (!(self->store = store_mem_new ())) {
        snprintf (err, err_size, "out of memory");
        rc = -1;
    }
    if (rc != 0)
        storage_close (self);
    return rc;
}

void storage_close (storage_t *self)
{
    store_destroy (&self->store);
}

int storage_save (storage_t *self, char *err, size_t err_size)
{
    if (!self->cfg->data_dir[0])
        return 0;
    return meta_save (self->cfg->data_dir, &self->meta, err, err_size);
}

int storage_ensure_history (storage_t *self, char *err, size_t err_size)
{
    if (self->meta.has_history)
        return 0;
    if (store_head (self->store) > 0) {
        snprintf (err, err_size, "a log without a history identity cannot be led");
        return -1;
    }
    meta_new_history (&self->meta);
    return storage_save (self, err, err_size);
}

int storage_new_epoch (storage_t *self, uint64_t *epoch, char *err, size_t err_size)
{
    if (storage_ensure_history (self, err, err_size) != 0)
        return -1;
    uint64_t last = store_epoch_of (self->store, store_head (self->store));
    uint64_t next = (self->meta.epoch > last ? self->meta.epoch : last) + 1;
    self->meta.epoch = next;
    if (storage_save (self, err, err_size) != 0)
        return -1;
    *epoch = next;
    return 0;
}

int storage_see_epoch (storage_t *self, uint64_t epoch, char *err, size_t err_size)
{
    if (epoch <= self->meta.epoch)
        return 0;
    self->meta.epoch = epoch;
    return storage_save (self, err, err_size);
}

const char *storage_rollback_path (storage_t *self, const char *reason, char *buf, size_t size)
{
    if (!self->cfg->data_dir[0]) {
        if (size)
            buf[0] = 0;
        return buf;
    }
    //  Wall-clock milliseconds only make the name unique and readable.
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    long long ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    //  Divergent entries: rollback-EPOCH-MS.log; another history's:
    //  rollback-foreign-EPOCH-MS.log.
    bool plain = strcmp (reason, "rollback") == 0;
    snprintf (buf, size, "%s/rollback-%s%s%llu-%lld.log", self->cfg->data_dir, plain ? "" : reason,
              plain ? "" : "-", (unsigned long long)self->meta.epoch, ms);
    return buf;
}

void storage_last (storage_t *self, uint64_t *seq, uint64_t *epoch, uint32_t *crc)
{
    *seq = store_head (self->store);
    *epoch = 0;
    *crc = 0;
    record_t rec;
    if (*seq > 0 && store_record (self->store, *seq, &rec) == 0) {
        *epoch = rec.epoch;
        *crc = rec.crc;
    }
}
