/*  store_disk.c - the disk engine of the store (store.h, store_engine.h).

    Owns the data directory: its lock, the segment files (segment.h) and
    their mappings, the write buffer, and recovery on open. The common
    layer (store.c) keeps the index; a locator here is segment index << 32
    | offset in the segment, planned when a record is appended, so it names
    the record's place before and after it is written.

    Write path. Appends land in one growable write buffer (no syscall). The
    buffer is cut into chunks, one per segment it will touch, planned at
    append time: a record goes to the current segment if it still fits in
    the segment size (or the segment is empty), else it starts a new one; a
    record bigger than a segment gets one of its own. store_commit does one
    pwrite per chunk, then fdatasync when asked. Before a new segment is
    created the full one is fdatasync'ed, so every segment but the last is
    durable; the new file is created with O_EXCL and the directory synced.
    Buffered records are read from the buffer (they count for slices).

    Disk errors (as store.h says). A failed write or segment creation keeps
    the records written whole (the file is cut after them), drops the rest
    (head falls back to written) and a later commit may succeed. A failed
    fsync is final: what the kernel did with those pages is unknown (it may
    have dropped them and marked them clean, and a retry may "succeed"
    without the data ever reaching the disk), so the engine is failed and
    refuses writes until reopened; recovery then re-reads and re-syncs.

    Recovery (s_recover): map every segment, check every record with the
    pure scan (recovery.h), index the good prefix, and decide: a bad record
    with nothing valid after it in the last segment is a torn tail, cut and
    reported; anything else is corruption in the middle: a strict open
    fails naming file and offset and touches nothing, a non-strict one
    keeps the prefix. A record whose only fault is a payload above the
    limit is never taken for a torn tail: it is valid data (the limit may
    have been lowered), so it counts as corruption in the middle.

    Reads go through the mappings. Every 32 MiB served, the pages of the
    segments read are dropped from the process (not from the page cache),
    as they are after recovery, so reading the whole log does not leave it
    resident: memory is the index and the write buffer.
*/
#include "fsdir.h"
#include "grow.h"
#include "recovery.h"
#include "segment.h"
#include "store_engine.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DISK_BUFFER_MIN  ((size_t)64 * 1024)
#define DISK_BUFFER_KEEP ((size_t)4 * 1024 * 1024)
#define DISK_TRIM_BYTES  ((size_t)32 * 1024 * 1024)
#define DISK_NO_UNIT     SIZE_MAX

//  Part of the write buffer that goes to one segment
typedef struct {
    uint64_t first_record; //  number of its first record
    uint64_t first_seq;    //  of its first record: the name of a new segment
    size_t unit;           //  segment index it goes to
    size_t buf_start;      //  where its bytes start in the buffer
    uint64_t file_start;   //  where they go in the segment
    bool new_segment;      //  the segment does not exist yet: create it
} wchunk_t;

typedef struct {
    char *dir;
    int dir_fd; //  holds the flock
    size_t segment_bytes;

    segment_t *segs; //  ordered by first seq
    size_t nsegs;
    size_t segs_cap;
    int fd; //  last segment, -1 if not open

    uint64_t records; //  held, buffered or written
    uint64_t written; //  in the files
    uint64_t synced;  //  made durable by a successful fdatasync

    uint8_t *buf; //  the buffered records, records written .. records - 1
    size_t buf_used;
    size_t buf_cap;
    wchunk_t *chunks;
    size_t nchunks;
    size_t chunks_cap;
    uint64_t plan_size; //  size of the last segment once the buffer is written

    wchunk_t reserve;  //  planned by reserve, for append
    bool reserve_push; //  append pushes it as a new chunk

    size_t read_bytes;     //  served since pages were last dropped
    bool failed;           //  an fsync failed: refuse writes until reopened
    int inject_sync_error; //  tests: errno for the next sync
} disk_t;

static void s_err (char *err, size_t err_size, const char *format, ...)
{
    if (!err || err_size == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (err, err_size, format, args);
    va_end (args);
}

//  fdatasync FD (fsync if FULL), or fail as a test asked.
static int s_sync (disk_t *self, int fd, bool full)
{
    if (self->inject_sync_error) {
        errno = self->inject_sync_error;
        self->inject_sync_error = 0;
        return -1;
    }
    return full ? fsync (fd) : fdatasync (fd);
}

static int s_active_open (disk_t *self)
{
    if (self->fd >= 0 || self->nsegs == 0)
        return 0;
    self->fd = segment_open (&self->segs[self->nsegs - 1], self->dir_fd);
    return self->fd < 0 ? -1 : 0;
}

static void s_active_close (disk_t *self)
{
    if (self->fd >= 0)
        close (self->fd); //  synced, or about to be unlinked: nothing to lose
    self->fd = -1;
}

static int s_segs_grow (disk_t *self)
{
    void *table = self->segs;
    int rc = grow_array (&table, &self->segs_cap, self->nsegs + 1, sizeof (segment_t), 16);
    self->segs = (segment_t *)table;
    return rc;
}

//  Size the last segment will have once the buffer is written.
static uint64_t s_plan_size (disk_t *self)
{
    if (self->nchunks) {
        const wchunk_t *chunk = &self->chunks[self->nchunks - 1];
        return chunk->file_start + (self->buf_used - chunk->buf_start);
    }
    return self->nsegs ? self->segs[self->nsegs - 1].size : 0;
}

//  Forget every buffered record: the engine holds what is written.
static void s_pending_drop (disk_t *self)
{
    self->records = self->written;
    self->buf_used = 0;
    self->nchunks = 0;
    if (self->buf_cap > DISK_BUFFER_KEEP) {
        free (self->buf);
        self->buf = NULL;
        self->buf_cap = 0;
    }
    self->plan_size = s_plan_size (self);
}

//  --------------------------------------------------------------------------
//  Appending

static uint8_t *s_reserve (void *engine, uint64_t first_seq, size_t size, uint64_t *loc)
{
    disk_t *self = (disk_t *)engine;
    bool new_segment = (self->nchunks == 0 && self->nsegs == 0) ||
                       (self->plan_size > 0 && self->plan_size + size > self->segment_bytes);
    bool new_chunk = new_segment || self->nchunks == 0;
    void *table = self->chunks;
    int rc = new_chunk
                 ? grow_array (&table, &self->chunks_cap, self->nchunks + 1, sizeof (wchunk_t), 4)
                 : 0;
    self->chunks = (wchunk_t *)table;
    table = self->buf;
    if (rc == 0 && size <= SIZE_MAX - self->buf_used)
        rc = grow_array (&table, &self->buf_cap, self->buf_used + size, 1, DISK_BUFFER_MIN);
    self->buf = (uint8_t *)table;
    if (rc || size > SIZE_MAX - self->buf_used) {
        errno = ENOMEM;
        return NULL;
    }
    size_t unit = self->nchunks ? self->chunks[self->nchunks - 1].unit
                  : self->nsegs ? self->nsegs - 1
                                : DISK_NO_UNIT;
    if (new_segment)
        unit = unit == DISK_NO_UNIT ? 0 : unit + 1;
    uint64_t start = new_segment ? 0 : self->plan_size;
    self->reserve = (wchunk_t){self->records, first_seq, unit, self->buf_used, start, new_segment};
    self->reserve_push = new_chunk;
    *loc = STORE_LOC (unit, start);
    return self->buf + self->buf_used;
}

static void s_append (void *engine, size_t size)
{
    disk_t *self = (disk_t *)engine;
    if (self->reserve_push)
        self->chunks[self->nchunks++] = self->reserve;
    self->plan_size = self->reserve.file_start + size;
    self->buf_used += size;
    self->records++;
}

static void s_cancel (void *engine)
{
    (void)engine; //  nothing was planned for good until append
}

//  --------------------------------------------------------------------------
//  Commit. Each helper returns 0 or -1 with errno set.

//  The full last segment is synced and closed, and the segment of CHUNK
//  created for BYTES bytes.
static int s_segment_roll (disk_t *self, const wchunk_t *chunk, size_t bytes)
{
    assert (chunk->unit == self->nsegs);
    if (s_segs_grow (self))
        return -1;
    if (self->nsegs && self->written > self->synced) {
        if (s_active_open (self))
            return -1;
        if (s_sync (self, self->fd, false)) {
            self->failed = true;
            return -1;
        }
        self->synced = self->written;
    }
    segment_t segment;
    size_t map_bytes = bytes > self->segment_bytes ? bytes : self->segment_bytes;
    int fd = segment_create (&segment, self->dir_fd, chunk->first_seq, map_bytes);
    if (fd < 0)
        return -1;
    s_active_close (self);
    self->fd = fd;
    self->segs[self->nsegs++] = segment;
    if (s_sync (self, self->dir_fd, true)) {
        self->failed = true;
        return -1;
    }
    return 0;
}

//  The last segment can take bytes up to END (an empty one is remapped).
static int s_segment_fit (disk_t *self, uint64_t end)
{
    segment_t *segment = &self->segs[self->nsegs - 1];
    if (s_active_open (self))
        return -1;
    if (end <= segment->map_size)
        return 0;
    if (segment->size > 0 || end > SIZE_MAX) {
        errno = EFBIG; //  cannot happen: records only go where they fit
        return -1;
    }
    return segment_remap (segment, self->fd, (size_t)end);
}

//  A write of CHUNK stopped after DONE bytes: keep the records written
//  whole, cut the file after them.
static void s_chunk_keep_whole (disk_t *self, const wchunk_t *chunk, size_t done)
{
    size_t kept = 0;
    uint64_t records = 0;
    record_t r;
    while (record_peek (self->buf + chunk->buf_start + kept, done - kept, &r) == RECORD_OK) {
        kept += r.size;
        records++;
    }
    segment_t *segment = &self->segs[self->nsegs - 1];
    if (ftruncate (self->fd, (off_t)(chunk->file_start + kept)))
        self->failed = true; //  the file holds a torn record we cannot remove
    segment->size = chunk->file_start + kept;
    self->written = chunk->first_record + records;
}

//  Write CHUNK I of the buffer. 0 or -1 (errno; pending records dropped).
static int s_chunk_write (disk_t *self, size_t i)
{
    const wchunk_t *chunk = &self->chunks[i];
    bool last = i + 1 == self->nchunks;
    size_t end = last ? self->buf_used : self->chunks[i + 1].buf_start;
    size_t bytes = end - chunk->buf_start;
    int rc = chunk->new_segment ? s_segment_roll (self, chunk, bytes)
                                : s_segment_fit (self, chunk->file_start + bytes);
    size_t done = 0;
    if (rc == 0)
        done = fsdir_write_all (self->fd, self->buf + chunk->buf_start, bytes,
                                (off_t)chunk->file_start);
    int error = errno;
    if (rc == 0 && done < bytes)
        s_chunk_keep_whole (self, chunk, done);
    if (rc || done < bytes) {
        s_pending_drop (self);
        errno = error;
        return -1;
    }
    self->segs[self->nsegs - 1].size = chunk->file_start + bytes;
    self->written = last ? self->records : self->chunks[i + 1].first_record;
    return 0;
}

static int s_commit (void *engine, bool sync)
{
    disk_t *self = (disk_t *)engine;
    if (self->failed) {
        errno = EIO;
        return -1;
    }
    for (size_t i = 0; i < self->nchunks; i++)
        if (s_chunk_write (self, i))
            return -1;
    s_pending_drop (self); //  all written: resets the buffer
    if (sync && self->written > self->synced) {
        if (s_sync (self, self->fd, false)) {
            self->failed = true;
            return -1;
        }
        self->synced = self->written;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Reading

static const uint8_t *s_bytes (void *engine, uint64_t loc, size_t *avail)
{
    disk_t *self = (disk_t *)engine;
    size_t unit = STORE_LOC_UNIT (loc), offset = STORE_LOC_OFFSET (loc);
    if (unit < self->nsegs && offset < self->segs[unit].size) {
        *avail = (size_t)(self->segs[unit].size - offset);
        return self->segs[unit].map + offset;
    }
    //  Buffered: in the last chunk of that segment starting at or before it
    for (size_t k = self->nchunks; k-- > 0;) {
        const wchunk_t *chunk = &self->chunks[k];
        if (chunk->unit != unit || chunk->file_start > offset)
            continue;
        size_t end = k + 1 < self->nchunks ? self->chunks[k + 1].buf_start : self->buf_used;
        size_t start = chunk->buf_start + (size_t)(offset - chunk->file_start);
        if (start >= end)
            return NULL;
        *avail = end - start;
        return self->buf + start;
    }
    return NULL;
}

static void s_trim (disk_t *self)
{
    for (size_t i = 0; i < self->nsegs; i++)
        segment_drop_pages (&self->segs[i]);
    self->read_bytes = 0;
}

static void s_served (void *engine, uint64_t loc, size_t size)
{
    disk_t *self = (disk_t *)engine;
    size_t unit = STORE_LOC_UNIT (loc);
    if (unit >= self->nsegs || STORE_LOC_OFFSET (loc) >= self->segs[unit].size)
        return; //  from the buffer
    self->segs[unit].touched = true;
    self->read_bytes += size;
    if (self->read_bytes >= DISK_TRIM_BYTES)
        s_trim (self);
}

//  --------------------------------------------------------------------------
//  Truncation

//  Drop buffered records from KEEP on (KEEP >= written), the first of them
//  at LOC.
static void s_pending_cut (disk_t *self, uint64_t keep, uint64_t loc)
{
    if (keep == self->written) {
        s_pending_drop (self);
        return;
    }
    size_t k = self->nchunks;
    while (k > 1 && self->chunks[k - 1].first_record > keep)
        k--;
    const wchunk_t *chunk = &self->chunks[k - 1];
    self->buf_used = chunk->buf_start + (size_t)(STORE_LOC_OFFSET (loc) - chunk->file_start);
    self->nchunks = chunk->first_record == keep ? k - 1 : k;
    self->records = keep;
    self->plan_size = s_plan_size (self);
}

//  Remove the segments after UNIT, and UNIT itself unless OFFSET > 0, then
//  cut UNIT at OFFSET. 0, or -1 with errno.
static int s_segments_cut (disk_t *self, size_t unit, uint64_t offset)
{
    bool unlinked = false;
    while (self->nsegs > unit + (offset > 0 ? 1 : 0)) {
        s_active_close (self);
        if (segment_unlink (&self->segs[self->nsegs - 1], self->dir_fd))
            return -1;
        unlinked = true;
        self->nsegs--;
    }
    if (offset > 0 && offset < self->segs[unit].size) {
        if (s_active_open (self) || ftruncate (self->fd, (off_t)offset) ||
            s_sync (self, self->fd, true))
            return -1;
        self->segs[unit].size = offset;
    }
    if (unlinked && s_sync (self, self->dir_fd, true))
        return -1;
    return s_active_open (self);
}

static int s_truncate (void *engine, const store_slot_t *index, uint64_t keep, uint64_t records)
{
    disk_t *self = (disk_t *)engine;
    assert (keep < records && records == self->records);
    uint64_t loc = index[keep].loc;
    if (self->failed) {
        errno = EIO;
        return -1;
    }
    if (keep >= self->written) {
        s_pending_cut (self, keep, loc);
        return 0;
    }
    s_pending_drop (self); //  buffered records all come after KEEP
    int rc = s_segments_cut (self, STORE_LOC_UNIT (loc), STORE_LOC_OFFSET (loc));
    int error = errno;
    //  Whatever happened to the files, the engine holds KEEP records
    self->records = self->written = keep;
    if (self->synced > keep)
        self->synced = keep;
    self->plan_size = s_plan_size (self);
    if (rc) {
        self->failed = true;
        errno = error;
    }
    return rc;
}

//  --------------------------------------------------------------------------

static uint64_t s_written (void *engine)
{
    return ((disk_t *)engine)->written;
}

static uint64_t s_synced (void *engine)
{
    return ((disk_t *)engine)->synced;
}

static bool s_failed (void *engine)
{
    return ((disk_t *)engine)->failed;
}

static size_t s_memory (void *engine)
{
    disk_t *self = (disk_t *)engine;
    return sizeof (disk_t) + strlen (self->dir) + 1 + self->segs_cap * sizeof (segment_t) +
           self->buf_cap + self->chunks_cap * sizeof (wchunk_t);
}

static void s_inject_sync_error (void *engine, int error)
{
    ((disk_t *)engine)->inject_sync_error = error;
}

static void s_destroy (void *engine)
{
    disk_t *self = (disk_t *)engine;
    for (size_t i = 0; i < self->nsegs; i++)
        segment_unmap (&self->segs[i]);
    s_active_close (self);
    if (self->dir_fd >= 0)
        close (self->dir_fd); //  also drops the flock
    free (self->segs);
    free (self->buf);
    free (self->chunks);
    free (self->dir);
    free (self);
}

static const store_engine_t s_disk_engine = {
    .durable = true,
    .destroy = s_destroy,
    .reserve = s_reserve,
    .append = s_append,
    .cancel = s_cancel,
    .commit = s_commit,
    .bytes = s_bytes,
    .served = s_served,
    .truncate = s_truncate,
    .written = s_written,
    .synced = s_synced,
    .failed = s_failed,
    .memory = s_memory,
    .inject_sync_error = s_inject_sync_error,
};

//  --------------------------------------------------------------------------
//  Recovery. Each step returns 0, or -1 with ERR and errno set.

//  What the scan of the segments found, before anything is cut.
typedef struct {
    size_t bad_seg; //  segment of the first bad record, or DISK_NO_UNIT
    uint64_t bad_off;
    bool misnamed; //  the segment itself starts at the wrong seq
    recovery_scan_t scan;
    uint64_t entries;
} found_t;

static int s_load_segments (disk_t *self, char *err, size_t err_size)
{
    uint64_t *seqs;
    size_t count;
    if (segment_list (self->dir, &seqs, &count)) {
        s_err (err, err_size, "cannot list %s: %s", self->dir, strerror (errno));
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (s_segs_grow (self) ||
            segment_load (&self->segs[self->nsegs], self->dir_fd, seqs[i], self->segment_bytes)) {
            int error = errno;
            char name[SEGMENT_NAME_SIZE];
            segment_name (name, seqs[i]);
            s_err (err, err_size, "cannot map %s/%s: %s", self->dir, name, strerror (error));
            free (seqs);
            errno = error;
            return -1;
        }
        //  Locators hold 32-bit offsets; no segment this store writes
        //  comes near 4 GiB (at most 1 GiB, or one record of 2 GiB)
        if (self->segs[self->nsegs++].size > UINT32_MAX) {
            char name[SEGMENT_NAME_SIZE];
            segment_name (name, seqs[i]);
            s_err (err, err_size, "%s/%s: segment larger than 4 GiB", self->dir, name);
            free (seqs);
            errno = EFBIG;
            return -1;
        }
    }
    free (seqs);
    return 0;
}

//  Index the good records of every segment up to the first bad one.
static int s_index_segments (disk_t *self, store_t *store, size_t max_payload, found_t *found,
                             char *err, size_t err_size)
{
    uint64_t expected = 1;
    found->bad_seg = DISK_NO_UNIT;
    for (size_t i = 0; i < self->nsegs; i++) {
        segment_t *segment = &self->segs[i];
        if (segment->first_seq != expected) {
            found->bad_seg = i;
            found->misnamed = true;
            found->scan.next_seq = expected;
            snprintf (found->scan.reason, sizeof found->scan.reason,
                      "segment starts at seq %" PRIu64 ", expected %" PRIu64, segment->first_seq,
                      expected);
            return 0;
        }
        recovery_scan (segment->map, (size_t)segment->size, expected, max_payload, &found->scan);
        for (size_t off = 0; off < found->scan.valid_bytes;) {
            record_t r;
            if (record_peek (segment->map + off, (size_t)segment->size - off, &r) != RECORD_OK ||
                store_engine_add (store, segment->map + off, r.size, STORE_LOC (i, off))) {
                s_err (err, err_size, "cannot index %s: %s", self->dir, strerror (errno));
                return -1;
            }
            off += r.size;
            self->records++;
        }
        found->entries += found->scan.entries;
        expected = found->scan.next_seq;
        if (found->scan.bad) {
            found->bad_seg = i;
            found->bad_off = found->scan.valid_bytes;
            return 0;
        }
    }
    return 0;
}

//  The report of what a cut at FOUND removes, and whether that is a torn
//  tail or corruption in the middle.
static void s_report (disk_t *self, const found_t *found, store_recovery_t *report)
{
    const segment_t *bad = &self->segs[found->bad_seg];
    const recovery_scan_t *scan = &found->scan;
    //  After a misnamed segment every valid record counts as lost
    uint64_t min_seq = found->misnamed ? 1 : scan->next_seq;
    uint64_t in_bad = found->misnamed
                          ? recovery_count_valid (bad->map, (size_t)bad->size, 0, min_seq)
                          : scan->valid_after;
    report->corrupt_middle = found->bad_seg + 1 < self->nsegs || in_bad > 0 ||
                             (!found->misnamed && scan->error == RECORD_TOO_LARGE);
    report->cut_bytes = bad->size - found->bad_off;
    report->cut_records = (!found->misnamed && scan->whole ? 1 : 0) + in_bad;
    for (size_t i = found->bad_seg + 1; i < self->nsegs; i++) {
        const segment_t *later = &self->segs[i];
        report->cut_bytes += later->size;
        report->cut_records += recovery_count_valid (later->map, (size_t)later->size, 0, min_seq);
    }
    char name[SEGMENT_NAME_SIZE];
    segment_name (name, bad->first_seq);
    snprintf (report->file, sizeof report->file, "%s/%s", self->dir, name);
    report->offset = found->bad_off;
    snprintf (report->reason, sizeof report->reason, "%s", scan->reason);
}

//  Cut the log at FOUND: later segments go (last first, so a crash leaves
//  no gap), then the bad one is shortened, or goes too if nothing in it is
//  kept.
static int s_cut (disk_t *self, const found_t *found, char *err, size_t err_size)
{
    if (s_segments_cut (self, found->bad_seg, found->bad_off)) {
        s_err (err, err_size, "cannot cut %s at %s: %s", self->dir, "the first bad record",
               strerror (errno));
        return -1;
    }
    return 0;
}

static int s_recover (disk_t *self, store_t *store, bool strict, size_t max_payload,
                      store_recovery_t *report, char *err, size_t err_size)
{
    found_t found;
    memset (&found, 0, sizeof found);
    if (s_load_segments (self, err, err_size) ||
        s_index_segments (self, store, max_payload, &found, err, err_size))
        return -1;
    self->written = self->synced = self->records;
    report->entries = found.entries;
    report->records = self->records;
    if (found.bad_seg != DISK_NO_UNIT) {
        s_report (self, &found, report);
        if (report->corrupt_middle && strict) {
            s_err (err, err_size, "corrupt record in %s at offset %" PRIu64 ": %s", report->file,
                   report->offset, report->reason);
            errno = EBADMSG;
            return -1;
        }
        if (s_cut (self, &found, err, err_size))
            return -1;
    }
    s_trim (self);
    self->plan_size = s_plan_size (self);
    //  A crashed writer may have left pages the disk never saw
    if (self->nsegs && (s_active_open (self) ||
                        (self->segs[self->nsegs - 1].size && s_sync (self, self->fd, false)))) {
        char name[SEGMENT_NAME_SIZE];
        segment_name (name, self->segs[self->nsegs - 1].first_seq);
        s_err (err, err_size, "cannot open and sync %s/%s: %s", self->dir, name, strerror (errno));
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------

//  The engine with its directory made and locked; NULL with ERR.
static disk_t *s_disk_new (const char *dir, size_t segment_bytes, char *err, size_t err_size)
{
    disk_t *self = (disk_t *)calloc (1, sizeof (disk_t));
    if (!self || !(self->dir = strdup (dir))) {
        free (self);
        s_err (err, err_size, "out of memory");
        errno = ENOMEM;
        return NULL;
    }
    self->dir_fd = self->fd = -1;
    self->segment_bytes = segment_bytes;
    const char *what = "create";
    if (fsdir_make (dir) == 0) {
        what = "lock";
        self->dir_fd = fsdir_lock (dir);
    }
    if (self->dir_fd < 0) {
        int error = errno;
        if (error == EWOULDBLOCK)
            s_err (err, err_size, "%s is in use: locked by another open store", dir);
        else
            s_err (err, err_size, "cannot %s %s: %s", what, dir, strerror (error));
        s_destroy (self);
        errno = error;
        return NULL;
    }
    return self;
}

store_t *store_disk_open (const char *dir, size_t segment_bytes, bool strict, size_t max_payload,
                          store_recovery_t *recovery, char *err, size_t err_size)
{
    assert (dir);
    store_recovery_t report;
    memset (&report, 0, sizeof report);
    if (recovery)
        *recovery = report;
    if (segment_bytes == 0)
        segment_bytes = STORE_SEGMENT_DEFAULT;
    if (segment_bytes < STORE_SEGMENT_MIN || segment_bytes > STORE_SEGMENT_MAX) {
        s_err (err, err_size, "segment size %zu out of range %zu..%zu", segment_bytes,
               STORE_SEGMENT_MIN, STORE_SEGMENT_MAX);
        errno = EINVAL;
        return NULL;
    }
    disk_t *disk = s_disk_new (dir, segment_bytes, err, err_size);
    if (!disk)
        return NULL;
    store_t *store = store_engine_new (&s_disk_engine, disk);
    if (!store) {
        s_err (err, err_size, "out of memory");
        return NULL;
    }
    int rc = s_recover (disk, store, strict, max_payload, &report, err, err_size);
    if (recovery)
        *recovery = report;
    if (rc) {
        int error = errno;
        store_destroy (&store);
        errno = error;
        return NULL;
    }
    return store;
}
