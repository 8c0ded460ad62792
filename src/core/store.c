/*  store.c - the log's common layer: index, epochs, watermarks (store.h).

    What it owns, for both engines:
    * the index: one slot per record batch {first seq, engine locator},
      sorted by first seq, so the record holding a seq is a binary search
      and the cost is 16 bytes per record whatever its entry count;
    * the epoch runs (epochs.h), one run per change of epoch;
    * head, and the conversion of the engine's record counts (written,
      synced) to seqs;
    * slicing: a run of records whose locators follow each other is one
      contiguous piece of memory, sent as is;
    * truncation rules (record boundaries only) and the rollback file, which
      is written from slices, so it holds the records byte for byte.

    The engine behind the vtable (store_engine.h) only places and keeps
    bytes. Nothing here knows which engine it talks to.

    Lifecycle: store_mem_new / store_disk_open build an engine and call
    store_engine_new; appends go reserve -> engine bytes -> append_reserved
    (store_append is the copy into a reservation); commit, slice, truncate;
    store_destroy destroys the engine too.
*/
#include "store_engine.h"
#include "epochs.h"
#include "fsdir.h"
#include "grow.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_INDEX_MIN ((size_t)256)

struct _store_t {
    const store_engine_t *ops;
    void *engine;
    store_slot_t *index; //  one slot per record, by first seq
    size_t nrecords;
    size_t index_cap;
    epochs_t *epochs;
    uint64_t head;
    //  The reservation between store_reserve and store_append_reserved
    bool reserved;
    uint8_t *reserve_bytes;
    size_t reserve_size;
    uint64_t reserve_loc;
};

store_t *store_engine_new (const store_engine_t *ops, void *engine)
{
    assert (ops && engine);
    store_t *self = (store_t *)calloc (1, sizeof (store_t));
    if (self)
        self->epochs = epochs_new ();
    if (!self || !self->epochs) {
        free (self);
        ops->destroy (engine);
        errno = ENOMEM;
        return NULL;
    }
    self->ops = ops;
    self->engine = engine;
    return self;
}

void store_destroy (store_t **self_p)
{
    assert (self_p);
    store_t *self = *self_p;
    if (!self)
        return;
    self->ops->destroy (self->engine);
    epochs_destroy (&self->epochs);
    free (self->index);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Index

//  Last seq of the first N records.
static uint64_t s_seq_end (store_t *self, uint64_t n)
{
    if (n == 0)
        return 0;
    return n < self->nrecords ? self->index[n].first_seq - 1 : self->head;
}

//  Slot of the record holding SEQ, which must be in 1..head.
static size_t s_find (store_t *self, uint64_t seq)
{
    assert (seq >= 1 && seq <= self->head && self->nrecords);
    size_t lo = 0, hi = self->nrecords;
    if (self->index[hi - 1].first_seq <= seq)
        return hi - 1; //  the tail is where most reads go
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->index[mid].first_seq <= seq)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static int s_index_grow (store_t *self)
{
    void *table = self->index;
    int rc = grow_array (&table, &self->index_cap, self->nrecords + 1, sizeof (store_slot_t),
                         STORE_INDEX_MIN);
    self->index = (store_slot_t *)table;
    return rc;
}

//  Index record R at LOC as the next one, epochs included. 0 or -1.
static int s_index_push (store_t *self, const record_t *r, uint64_t loc)
{
    if (r->first_seq != self->head + 1) {
        errno = EINVAL;
        return -1;
    }
    if (s_index_grow (self) || epochs_add (self->epochs, r->first_seq, r->epoch)) {
        errno = ENOMEM;
        return -1;
    }
    self->index[self->nrecords++] = (store_slot_t){r->first_seq, loc};
    self->head = record_last_seq (r);
    return 0;
}

//  Forget records from N on (the engine has already let them go).
static void s_index_cut (store_t *self, size_t n)
{
    if (n >= self->nrecords)
        return;
    self->head = s_seq_end (self, n);
    self->nrecords = n;
    epochs_cut (self->epochs, self->head);
    //  Give index memory back after a big cut; failing to is harmless
    size_t cap = self->index_cap;
    while (cap > STORE_INDEX_MIN && self->nrecords < cap / 4)
        cap /= 2;
    if (cap < self->index_cap) {
        store_slot_t *index = (store_slot_t *)realloc (self->index, cap * sizeof (store_slot_t));
        if (index) {
            self->index = index;
            self->index_cap = cap;
        }
    }
}

int store_engine_add (store_t *self, const uint8_t *bytes, size_t size, uint64_t loc)
{
    assert (self);
    record_t r;
    if (record_peek (bytes, size, &r) != RECORD_OK) {
        errno = EINVAL;
        return -1;
    }
    return s_index_push (self, &r, loc);
}

//  --------------------------------------------------------------------------
//  Watermarks

bool store_is_durable (store_t *self)
{
    assert (self);
    return self->ops->durable;
}

uint64_t store_head (store_t *self)
{
    assert (self);
    return self->head;
}

uint64_t store_written (store_t *self)
{
    assert (self);
    return s_seq_end (self, self->ops->written (self->engine));
}

uint64_t store_synced (store_t *self)
{
    assert (self);
    return s_seq_end (self, self->ops->synced (self->engine));
}

bool store_failed (store_t *self)
{
    assert (self);
    return self->ops->failed (self->engine);
}

uint64_t store_records (store_t *self)
{
    assert (self);
    return self->nrecords;
}

size_t store_memory (store_t *self)
{
    assert (self);
    return sizeof (store_t) + self->index_cap * sizeof (store_slot_t) +
           epochs_memory (self->epochs) + self->ops->memory (self->engine);
}

void store_inject_sync_error (store_t *self, int error)
{
    assert (self);
    self->ops->inject_sync_error (self->engine, error);
}

//  --------------------------------------------------------------------------
//  Appending

uint8_t *store_reserve (store_t *self, size_t size)
{
    assert (self);
    assert (!self->reserved);
    if (self->ops->failed (self->engine)) {
        errno = EIO;
        return NULL;
    }
    if (size < RECORD_HEADER || size - 4 > RECORD_SIZE_MAX || self->head == UINT64_MAX) {
        errno = EINVAL;
        return NULL;
    }
    if (s_index_grow (self)) {
        errno = ENOMEM;
        return NULL;
    }
    uint64_t loc;
    uint8_t *bytes = self->ops->reserve (self->engine, self->head + 1, size, &loc);
    if (!bytes)
        return NULL;
    self->reserved = true;
    self->reserve_bytes = bytes;
    self->reserve_size = size;
    self->reserve_loc = loc;
    return bytes;
}

int store_append_reserved (store_t *self)
{
    assert (self);
    assert (self->reserved);
    self->reserved = false;
    record_t r;
    if (record_peek (self->reserve_bytes, self->reserve_size, &r) != RECORD_OK) {
        self->ops->cancel (self->engine);
        errno = EINVAL;
        return -1;
    }
    if (s_index_push (self, &r, self->reserve_loc)) {
        int error = errno;
        self->ops->cancel (self->engine);
        errno = error;
        return -1;
    }
    self->ops->append (self->engine, r.size);
    return 0;
}

int store_append (store_t *self, const void *record, size_t size)
{
    assert (self);
    record_t r;
    if (record_peek (record, size, &r) != RECORD_OK || r.size != size ||
        r.first_seq != self->head + 1) {
        errno = EINVAL;
        return -1;
    }
    uint8_t *bytes = store_reserve (self, size);
    if (!bytes)
        return -1;
    memcpy (bytes, record, size);
    return store_append_reserved (self);
}

int store_commit (store_t *self, bool sync)
{
    assert (self);
    if (self->ops->failed (self->engine)) {
        errno = EIO;
        return -1;
    }
    if (self->ops->commit (self->engine, sync) == 0)
        return 0;
    //  Records not written are gone: head falls back to written
    int error = errno;
    s_index_cut (self, (size_t)self->ops->written (self->engine));
    errno = error;
    return -1;
}

//  --------------------------------------------------------------------------
//  Reading

int store_slice (store_t *self, uint64_t from, uint64_t to, size_t max_bytes, store_slice_t *out)
{
    assert (self);
    assert (out);
    if (from == 0 || from > self->head) {
        errno = ENOENT;
        return -1;
    }
    size_t first = s_find (self, from);
    uint64_t loc = self->index[first].loc;
    size_t avail;
    const uint8_t *bytes = self->ops->bytes (self->engine, loc, &avail);
    record_t r;
    if (!bytes || record_peek (bytes, avail, &r) != RECORD_OK) {
        errno = EBADMSG;
        return -1;
    }
    //  Extend while the next record sits right after, within the unit
    size_t total = r.size;
    size_t next = first + 1;
    while (next < self->nrecords && self->index[next].first_seq <= to &&
           self->index[next].loc == loc + total && total < avail) {
        if (record_peek (bytes + total, avail - total, &r) != RECORD_OK || r.size > max_bytes ||
            total > max_bytes - r.size)
            break;
        total += r.size;
        next++;
    }
    self->ops->served (self->engine, loc, total);
    out->bytes = bytes;
    out->size = total;
    out->first_seq = self->index[first].first_seq;
    out->last_seq = s_seq_end (self, next);
    out->records = (uint32_t)(next - first);
    return 0;
}

int store_record (store_t *self, uint64_t seq, record_t *out)
{
    assert (self);
    assert (out);
    if (seq == 0 || seq > self->head) {
        errno = ENOENT;
        return -1;
    }
    uint64_t loc = self->index[s_find (self, seq)].loc;
    size_t avail;
    const uint8_t *bytes = self->ops->bytes (self->engine, loc, &avail);
    if (!bytes || record_peek (bytes, avail, out) != RECORD_OK) {
        errno = EBADMSG;
        return -1;
    }
    self->ops->served (self->engine, loc, out->size);
    return 0;
}

uint64_t store_epoch_of (store_t *self, uint64_t seq)
{
    assert (self);
    if (seq == 0 || seq > self->head)
        return 0;
    return epochs_of (self->epochs, seq);
}

uint64_t store_agreement (store_t *self, uint64_t epoch, uint64_t seq)
{
    assert (self);
    uint64_t upto = seq < self->head ? seq : self->head;
    if (upto == 0)
        return 0;
    //  Runs start on records, so only the cap at SEQ can split a record
    uint64_t agreed = epochs_agreement (self->epochs, epoch, upto);
    if (agreed == 0)
        return 0;
    size_t slot = s_find (self, agreed);
    if (s_seq_end (self, slot + 1) != agreed)
        agreed = self->index[slot].first_seq - 1;
    return agreed;
}

//  --------------------------------------------------------------------------
//  Truncation

//  Append the records after LAST to PATH, as slices of the log, and fsync
//  it. On failure the file is cut back to where it was.
static int s_rollback_write (store_t *self, uint64_t last, const char *path)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    struct stat st;
    int rc = fstat (fd, &st);
    uint64_t seq = last + 1;
    while (rc == 0 && seq <= self->head) {
        store_slice_t slice;
        if (store_slice (self, seq, self->head, SIZE_MAX, &slice) ||
            fsdir_write_all (fd, slice.bytes, slice.size, -1) < slice.size) {
            rc = -1;
            break;
        }
        seq = slice.last_seq + 1;
    }
    if (rc == 0)
        rc = fsync (fd);
    int error = errno;
    if (rc && st.st_size >= 0)
        (void)ftruncate (fd, st.st_size); //  best effort: no torn record left
    if (close (fd) && rc == 0) {
        rc = -1;
        error = errno;
    }
    if (rc == 0 && fsdir_sync_parent (path)) {
        rc = -1;
        error = errno;
    }
    errno = error;
    return rc;
}

int store_truncate (store_t *self, uint64_t last, const char *rollback_path)
{
    assert (self);
    if (last >= self->head)
        return 0;
    if (self->ops->failed (self->engine)) {
        errno = EIO;
        return -1;
    }
    size_t keep = 0;
    if (last > 0) {
        keep = s_find (self, last) + 1;
        if (s_seq_end (self, keep) != last) {
            errno = EINVAL;
            return -1;
        }
    }
    if (rollback_path && s_rollback_write (self, last, rollback_path))
        return -1;
    int rc = self->ops->truncate (self->engine, self->index, keep, self->nrecords);
    int error = errno;
    s_index_cut (self, keep);
    errno = error;
    return rc;
}
