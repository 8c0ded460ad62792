/*  store.h - the log: record batches of seqs 1..head, in memory or on disk.

    One interface, two engines. The common part (store.c) keeps what both
    need: the index from seq to record (one slot per record batch, not per
    entry), the epoch runs (epochs.h) and the three watermarks

        head >= written >= synced
        head     last seq appended (maybe only buffered)
        written  last seq the engine holds (memory: = head; disk: in the files)
        synced   last seq made durable by a successful fdatasync (memory: = head)

    The engines (store_mem.c: chunks that never move; store_disk.c:
    segment files, mmaps, recovery) only hold bytes. Callers never branch
    on the engine.

    Records are stored exactly as record.h lays them out, so a slice of the
    log (store_slice) is what BATCH and FILL frames carry and what a
    secondary stores as it arrives. Every record is whole: truncation and
    slices happen at record boundaries.

    Disk errors: a failed write (ENOSPC, EIO...) drops the records not
    written (head falls back to written), returns -1 with errno, and a later
    commit may succeed. A failed fdatasync is not retried: the store becomes
    failed (store_failed), synced never moves again and appends, commits and
    truncations fail with EIO until the store is destroyed and reopened.
*/
#ifndef STORE_H_INCLUDED
#define STORE_H_INCLUDED

#include "record.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _store_t store_t;

//  Segment size bounds for the disk engine; 0 asks for the default.
#define STORE_SEGMENT_MIN     ((size_t)1024)
#define STORE_SEGMENT_MAX     ((size_t)1024 * 1024 * 1024)
#define STORE_SEGMENT_DEFAULT ((size_t)64 * 1024 * 1024)

//  What opening a data dir found. A torn or garbage tail (a bad record with
//  nothing valid after it, in the last segment) is cut and reported; it is
//  never an error.
typedef struct {
    uint64_t entries;     //  entries kept
    uint64_t records;     //  records kept
    uint64_t cut_bytes;   //  bytes removed (or that a non-strict open would remove)
    uint64_t cut_records; //  whole records removed
    bool corrupt_middle;  //  a bad record was followed by valid ones
    char file[512];       //  where the first bad record is ("" if none)
    uint64_t offset;
    char reason[64]; //  why that record is bad ("" if none)
} store_recovery_t;

//  An empty log in memory. NULL when memory runs out.
store_t *store_mem_new (void);

//  Open the log kept in DIR (created if missing, parents too), segments of
//  SEGMENT_BYTES (0 = default; else within STORE_SEGMENT_MIN..MAX), and
//  recover it: every record is checked (record_check with MAX_PAYLOAD,
//  contiguous seqs, segment names); a torn tail is cut; corruption in the
//  middle fails the open when STRICT (naming file and offset: "corrupt
//  record in DIR/...01.log at offset 740: crc mismatch", errno EBADMSG, the
//  files untouched), else the good prefix is kept. A record whose only
//  fault is a payload above MAX_PAYLOAD (the limit was lowered) is valid
//  data, never a torn tail: it counts as corruption in the middle, so a
//  strict open refuses rather than cut acknowledged entries. The last
//  segment is fdatasync'ed, so head == written == synced after open. The
//  directory is locked (flock): a second open fails with EWOULDBLOCK.
//  RECOVERY (may be NULL) is filled in either case. NULL on failure,
//  reason in ERR.
store_t *store_disk_open (const char *dir, size_t segment_bytes, bool strict, size_t max_payload,
                          store_recovery_t *recovery, char *err, size_t err_size);

//  Buffered records not committed are lost.
void store_destroy (store_t **self_p);

bool store_is_durable (store_t *self);
uint64_t store_head (store_t *self);
uint64_t store_written (store_t *self);
uint64_t store_synced (store_t *self);
bool store_failed (store_t *self);

//  Append one checked record (record_check passed, first_seq == head + 1).
//  The bytes are copied. Returns 0, or -1 with errno (EINVAL wrong seq,
//  ENOMEM, EIO when failed); nothing is appended on failure.
int store_append (store_t *self, const void *record, size_t size);

//  The same without a copy: reserve SIZE bytes at the end of the log,
//  record_write into them, then store_append_reserved. The record may be
//  shorter than SIZE (reserve an upper bound, build in place): only its
//  own bytes are kept. Nothing else may be called in between. NULL (errno)
//  when the bytes cannot be had. store_append_reserved fails with EINVAL,
//  appending nothing, when the bytes are not a record for head + 1.
uint8_t *store_reserve (store_t *self, size_t size);
int store_append_reserved (store_t *self);

//  Write buffered records out (one write per segment touched) and fdatasync
//  if SYNC. Memory: no-op. Returns 0 or -1 with errno (see above).
int store_commit (store_t *self, bool sync);

//  A contiguous run of whole records, as store_slice returns it.
typedef struct {
    const uint8_t *bytes;
    size_t size;
    uint64_t first_seq; //  of the first record (may be below the FROM asked)
    uint64_t last_seq;
    uint32_t records;
} store_slice_t;

//  The records from the one that holds FROM up to the one that holds TO
//  (TO capped at head), contiguous in memory and at most MAX_BYTES, but
//  always at least one record; fewer when the run crosses a chunk or
//  segment boundary (ask again from last_seq + 1). Buffered records count.
//  Pointers are valid until the next append, commit or truncate.
//  Returns 0, or -1 if FROM is not in 1..head.
int store_slice (store_t *self, uint64_t from, uint64_t to, size_t max_bytes, store_slice_t *out);

//  The record holding SEQ (pointers valid as for store_slice). 0 or -1.
int store_record (store_t *self, uint64_t seq, record_t *out);

//  Epoch of entry SEQ, 0 if absent. Epoch of the last entry: seq = head.
uint64_t store_epoch_of (store_t *self, uint64_t seq);

//  Where a follower whose last entry is (EPOCH, SEQ) agrees with this log
//  by epochs: the largest s <= SEQ, s <= head, such that no entry up to s
//  has an epoch above EPOCH, and s is the last seq of a record here. 0 means
//  no common prefix. (The caller also compares the records' CRCs there.)
uint64_t store_agreement (store_t *self, uint64_t epoch, uint64_t seq);

//  Keep 1..LAST; LAST must be 0 or the last seq of a record (else -1 with
//  EINVAL); LAST >= head is a no-op. If ROLLBACK_PATH is not NULL, the
//  records cut are first appended to that file (record format) and it is
//  fsync'ed; a failure there changes nothing. Returns 0 or -1 with errno.
int store_truncate (store_t *self, uint64_t last, const char *rollback_path);

//  Heap bytes held (index, runs, chunks or write buffer; not the mappings).
size_t store_memory (store_t *self);

//  Record batches held.
uint64_t store_records (store_t *self);

//  For tests (disk engine): the next fdatasync fails with ERROR. 0 clears.
void store_inject_sync_error (store_t *self, int error);

#endif
