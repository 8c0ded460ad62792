/*  disklog.h - the log on disk: an append-only segmented file log, seq 1..head.

    Same behaviour as store.h (seqs 1-based and gap-free, epochs, agreement,
    truncation), but entries live in files under one directory and memory
    holds only the index (about 4-8 bytes per entry), so RSS does not grow
    with the payload bytes. Reads are served from read-only mappings of the
    segment files; pages read are dropped from the process (not from the
    page cache) every 32 MiB read and after recovery, so reading the whole
    log does not leave it resident either. One mapping per segment: keep
    SEGMENT_BYTES large (the default 64 MiB) so the segment count stays far
    below vm.max_map_count (65530 by default).

    Directory layout: DIR/<seq of its first record, 20 digits>.log, e.g.
    DIR/00000000000000000001.log. Each segment is a sequence of records

        [u32 len][u32 crc32c][u64 epoch][u64 seq][u64 req_id]
        [u8 client_id_size][client_id][payload]

    little-endian; LEN counts the bytes after the crc, and the crc32c covers
    exactly those bytes. A segment holds at most SEGMENT_BYTES, except that a
    record bigger than that gets a segment of its own.

    Write path: disklog_append buffers records in memory (no syscall);
    disklog_commit writes them with one pwrite per segment touched, then
    fdatasyncs when asked. Three watermarks, head >= written >= synced:
      head     last seq appended (buffered or written)
      written  last seq in the files (readable with disklog_get)
      synced   last seq written and made durable by a successful fdatasync;
               a node must only acknowledge entries up to synced.
    When a segment fills up it is fdatasync'ed and closed before the next one
    is created (so every segment but the last is durable; synced moves along).

    Disk errors:
    * A failed write (ENOSPC, EIO, EFBIG...) or a failed segment creation is
      recoverable: commit returns -1 with errno set, the file is cut back to
      the last record written whole, the records not written are dropped
      (head falls back to written), and a later commit may succeed once space
      returns. Records written whole before the failure stay (written moves).
    * A failed fdatasync/fsync is not: what the kernel did with those pages is
      unknown (it may have dropped them and marked them clean), and retrying
      fsync may "succeed" without the data ever reaching the disk. So the
      disklog becomes failed: synced never moves again, and every further
      append, commit and truncate returns -1 with errno EIO, until the
      disklog is destroyed and reopened (recovery then re-reads the files and
      re-syncs them). Reads keep working.

    Only one disklog may have a directory open at a time (flock on DIR).
*/
#ifndef DISKLOG_H_INCLUDED
#define DISKLOG_H_INCLUDED

#include "entry.h"
#include <stdbool.h>

typedef struct _disklog_t disklog_t;

//  Segment size bounds; 0 asks for the default.
#define DISKLOG_SEGMENT_MIN     ((size_t)1024)
#define DISKLOG_SEGMENT_MAX     ((size_t)1024 * 1024 * 1024)
#define DISKLOG_SEGMENT_DEFAULT ((size_t)64 * 1024 * 1024)

//  Bytes of a record before its client id: len, crc, epoch, seq, req_id, id size
#define DISKLOG_RECORD_HEADER 33

typedef enum {
    //  A bad record followed by good data (corruption in the middle) fails
    //  the open with the file and offset.
    DISKLOG_STRICT = 0,
    //  Keep the good prefix, drop everything from the first bad record.
    DISKLOG_CUT = 1
} disklog_mode_t;

//  What recovery found. In both modes a torn or garbage tail (a bad record
//  with nothing valid after it, in the last segment) is cut and reported
//  here; it is never an error.
typedef struct {
    uint64_t entries;     //  valid entries kept
    uint64_t cut_bytes;   //  bytes removed (or that CUT would remove)
    uint64_t cut_entries; //  complete records removed (bad CRC or after the cut)
    bool corrupt_middle;  //  a bad record was followed by valid records
    char file[512];       //  where the first bad record is ("" if none)
    uint64_t offset;
    char reason[64]; //  why that record is bad ("" if none)
} disklog_recovery_t;

//  Open (creating DIR if missing, one level) and recover the log in DIR.
//  SEGMENT_BYTES 0 means DISKLOG_SEGMENT_DEFAULT; else it must be within
//  DISKLOG_SEGMENT_MIN..DISKLOG_SEGMENT_MAX. Recovery verifies every record
//  (length, CRC, contiguous seqs, segment names), rebuilds the index, cuts a
//  torn tail, and in CUT mode cuts at the first bad record; then the last
//  segment is fdatasync'ed, so after open head == written == synced.
//  RECOVERY (may be NULL) is filled in either case. Returns NULL on failure,
//  with a message in ERR (may be NULL) and errno set: a corrupt middle in
//  STRICT mode reads "corrupt record in DIR/0000...0001.log at offset 4096:
//  crc mismatch" (errno EBADMSG) and leaves the files untouched.
disklog_t *disklog_open (const char *dir, size_t segment_bytes, disklog_mode_t mode,
                         disklog_recovery_t *recovery, char *err, size_t err_size);

//  Unmap and close everything. Buffered, uncommitted records are lost.
void disklog_destroy (disklog_t **self_p);

//  Last seq appended, buffered or written (0 when empty).
uint64_t disklog_head (disklog_t *self);

//  Last seq written to the files.
uint64_t disklog_written (disklog_t *self);

//  Last seq written and made durable by a successful fdatasync.
uint64_t disklog_synced (disklog_t *self);

//  True after a failed fsync: see "Disk errors" above.
bool disklog_failed (disklog_t *self);

//  Append ENTRY as seq head+1, buffered in memory (bytes are copied).
//  Returns 0, or -1 with errno: EMSGSIZE (record over 4 GiB), ENOMEM, EIO
//  (disklog failed). Nothing is appended on failure.
int disklog_append (disklog_t *self, const entry_t *entry);

//  Write the buffered records (one pwrite per segment touched), then
//  fdatasync if SYNC. Returns 0, or -1 with errno (see "Disk errors").
int disklog_commit (disklog_t *self, bool sync);

//  Fill OUT with written entry SEQ; pointers stay valid until the entry is
//  truncated or the disklog destroyed. The record's CRC is verified.
//  Returns 0, or -1 with errno ENOENT (SEQ not in 1..written) or EBADMSG
//  (the record changed on disk since it was checked).
int disklog_get (disklog_t *self, uint64_t seq, entry_t *out);

//  Drop every entry after LAST (keep 1..LAST); LAST >= head is a no-op.
//  If ROLLBACK_PATH is not NULL, the records cut (written and buffered
//  ones, in the record format above) are first appended to that file, which
//  is then fsync'ed. Then later segments are unlinked (last first), the
//  segment holding LAST is cut after it and fsync'ed, and the directory is
//  fsync'ed. Returns 0, or -1 with errno: a failure to write the rollback
//  file changes nothing; a failure while cutting the segments marks the
//  disklog failed (the index is still cut to LAST).
int disklog_truncate (disklog_t *self, uint64_t last, const char *rollback_path);

//  Epoch of entry SEQ (buffered or written), 0 if absent.
uint64_t disklog_epoch_of (disklog_t *self, uint64_t seq);

//  Same rule as store_agreement, over 1..head.
uint64_t disklog_agreement (disklog_t *self, uint64_t epoch, uint64_t seq);

//  Heap bytes held (index, epoch runs, segment table, write buffer).
//  The mappings are not counted: they are file pages, not heap.
size_t disklog_memory (disklog_t *self);

//  Number of segment files.
size_t disklog_segments (disklog_t *self);

//  For tests: make the next fdatasync/fsync fail with ERROR (e.g. EIO) as
//  if the kernel had returned it. 0 clears it.
void disklog_inject_sync_error (disklog_t *self, int error);

#endif
