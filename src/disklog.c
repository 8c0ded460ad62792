/*  disklog.c - the log on disk: an append-only segmented file log, seq 1..head.

    Layout in memory, chosen so the cost per entry is one 32-bit offset:

    * Segments: one row per file {first seq, bytes written, mapping}. Every
      segment is mapped read-only (MAP_SHARED) once, at a fixed size of at
      least SEGMENT_BYTES rounded up to a page, so mappings never move and
      entry pointers stay valid until truncate/destroy. Only the bytes below
      a segment's written size are ever touched (past EOF is SIGBUS), and
      appends go through pwrite, never through the mapping, so resident
      memory does not grow with the data. Only the last (active) segment
      keeps a file descriptor open.
    * The index maps seq-1 to the record's offset in its segment (uint32_t:
      records start below SEGMENT_BYTES <= 1 GiB, or at 0 for an oversized
      record); the segment of a seq is found by binary search on first seq.
    * Epochs are runs "epoch E from seq S" with the largest epoch so far,
      exactly as store.c keeps them, so agreement is a binary search.
    * Appends are encoded (CRC included) into one growable write buffer. The
      buffer is cut into "chunks", one per segment it will touch, planned at
      append time: a record goes to the current segment if it still fits in
      SEGMENT_BYTES (or the segment is empty), otherwise it starts a new
      segment. disklog_commit does one pwrite per chunk.
    * Before a new segment is created, the full one is fdatasync'ed and
      closed, so every segment except the last is durable; the new file is
      created with O_EXCL and the directory fsync'ed.

    Recovery reads every segment through its mapping, checks each record
    (length within the file, CRC, client id size, seq contiguous from the
    segment's name) and stops at the first bad one. It then decides whether
    that is a torn tail (last segment, no valid record anywhere after it) or
    a corrupt middle, by scanning the rest byte by byte for anything that
    parses as a record with a good CRC and a plausible seq.
*/
#include "disklog.h"
#include "crc32c.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define DISKLOG_INDEX_MIN   ((size_t)1024)
#define DISKLOG_BUFFER_MIN  ((size_t)64 * 1024)
#define DISKLOG_BUFFER_KEEP ((size_t)4 * 1024 * 1024)
#define DISKLOG_TRIM_BYTES  ((size_t)32 * 1024 * 1024)
#define DISKLOG_NAME_SIZE   32 //  "<20 digits>.log" and a NUL
#define DISKLOG_NO_SEGMENT  SIZE_MAX

//  Bytes covered by LEN: epoch, seq, req_id, id size
#define DISKLOG_LEN_MIN ((uint32_t)25)

typedef struct {
    uint64_t first_seq; //  seq of its first record (its name)
    uint64_t size;      //  bytes of whole records in the file
    uint8_t *map;       //  read-only mapping of map_size bytes
    size_t map_size;
    bool touched; //  read since the last trim
} segment_t;

//  Part of the write buffer that goes to one segment
typedef struct {
    uint64_t first_seq;  //  first record in the chunk
    size_t buf_start;    //  where its bytes start in the buffer
    uint64_t file_start; //  where they go in the segment
    bool new_segment;    //  the segment does not exist yet: create it
} chunk_t;

typedef struct {
    uint64_t start;     //  first seq of the run
    uint64_t epoch;     //  epoch of seqs start .. next run's start - 1
    uint64_t max_epoch; //  largest epoch of this run and all before it
} run_t;

struct _disklog_t {
    char *dir;
    int dir_fd; //  holds the flock
    size_t segment_bytes;
    size_t page_size;

    segment_t *segs; //  ordered by first seq
    size_t nsegs;
    size_t segs_cap;
    int fd; //  last segment, -1 if none open

    uint32_t *offsets; //  offsets [seq - 1]: record start in its segment
    size_t offsets_cap;
    run_t *runs;
    size_t nruns;
    size_t runs_cap;

    uint64_t head;
    uint64_t written;
    uint64_t synced;

    uint8_t *buf; //  encoded records head - (head - written) + 1 .. head
    size_t buf_used;
    size_t buf_cap;
    chunk_t *chunks;
    size_t nchunks;
    size_t chunks_cap;
    uint64_t plan_size; //  size of the last segment once the buffer is written

    size_t read_bytes; //  served by disklog_get since the last trim

    bool failed;           //  an fsync failed: refuse writes until reopened
    int inject_sync_error; //  tests: errno for the next sync
};

//  --------------------------------------------------------------------------
//  Little-endian encoding, byte by byte (no alignment assumptions).

static void s_put32 (uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void s_put64 (uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t s_get32 (const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t s_get64 (const uint8_t *p)
{
    return (uint64_t)s_get32 (p) | (uint64_t)s_get32 (p + 4) << 32;
}

//  --------------------------------------------------------------------------

static void s_err (char *err, size_t err_size, const char *format, ...)
{
    if (!err || err_size == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (err, err_size, format, args);
    va_end (args);
}

static void s_segment_name (char *name, uint64_t first_seq)
{
    snprintf (name, DISKLOG_NAME_SIZE, "%020" PRIu64 ".log", first_seq);
}

//  First seq from a segment file name, or false if NAME is not one.
static bool s_segment_parse (const char *name, uint64_t *first_seq)
{
    if (strlen (name) != 24 || strcmp (name + 20, ".log") != 0)
        return false;
    uint64_t value = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        uint64_t digit = (uint64_t)(name[i] - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    *first_seq = value;
    return true;
}

static size_t s_round_up (size_t size, size_t page)
{
    return (size + page - 1) / page * page;
}

//  fdatasync FD (fsync if FULL), or fail as a test asked.
static int s_sync (disklog_t *self, int fd, bool full)
{
    if (self->inject_sync_error) {
        errno = self->inject_sync_error;
        self->inject_sync_error = 0;
        return -1;
    }
    return full ? fsync (fd) : fdatasync (fd);
}

//  fsync the directory holding PATH (after creating PATH).
static int s_fsync_parent (const char *path)
{
    size_t size = strlen (path);
    char *parent = (char *)malloc (size + 2);
    if (!parent)
        return -1;
    memcpy (parent, path, size + 1);
    while (size > 1 && parent[size - 1] == '/')
        parent[--size] = 0;
    char *slash = strrchr (parent, '/');
    if (!slash)
        strcpy (parent, ".");
    else if (slash == parent)
        parent[1] = 0;
    else
        *slash = 0;
    int fd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free (parent);
    if (fd < 0)
        return -1;
    int rc = fsync (fd);
    int error = errno;
    if (close (fd) && rc == 0)
        return -1;
    errno = error;
    return rc;
}

//  Write SIZE bytes at OFFSET (or at the file position if OFFSET < 0),
//  through partial writes and EINTR. Returns the bytes written; fewer than
//  SIZE means an error, in errno.
static size_t s_write_all (int fd, const uint8_t *data, size_t size, off_t offset)
{
    size_t done = 0;
    while (done < size) {
        size_t part = size - done;
        if (part > (size_t)1 << 30)
            part = (size_t)1 << 30;
        ssize_t rc = offset < 0 ? write (fd, data + done, part)
                                : pwrite (fd, data + done, part, offset + (off_t)done);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (rc == 0) {
            errno = EIO;
            break;
        }
        done += (size_t)rc;
    }
    return done;
}

//  --------------------------------------------------------------------------
//  Table growth. Each returns 0 or -1 (ENOMEM) and changes nothing on failure.

static int s_grow (void **table, size_t *cap, size_t need, size_t item, size_t min)
{
    if (need <= *cap)
        return 0;
    size_t new_cap = *cap ? *cap : min;
    while (new_cap < need) {
        if (new_cap > SIZE_MAX / 2 / item) {
            errno = ENOMEM;
            return -1;
        }
        new_cap *= 2;
    }
    void *grown = realloc (*table, new_cap * item);
    if (!grown) {
        errno = ENOMEM;
        return -1;
    }
    *table = grown;
    *cap = new_cap;
    return 0;
}

static int s_offsets_grow (disklog_t *self, size_t need)
{
    void *table = self->offsets;
    int rc = s_grow (&table, &self->offsets_cap, need, sizeof (uint32_t), DISKLOG_INDEX_MIN);
    self->offsets = (uint32_t *)table;
    return rc;
}

static int s_runs_grow (disklog_t *self, size_t need)
{
    void *table = self->runs;
    int rc = s_grow (&table, &self->runs_cap, need, sizeof (run_t), 8);
    self->runs = (run_t *)table;
    return rc;
}

static int s_segs_grow (disklog_t *self, size_t need)
{
    void *table = self->segs;
    int rc = s_grow (&table, &self->segs_cap, need, sizeof (segment_t), 16);
    self->segs = (segment_t *)table;
    return rc;
}

static int s_chunks_grow (disklog_t *self, size_t need)
{
    void *table = self->chunks;
    int rc = s_grow (&table, &self->chunks_cap, need, sizeof (chunk_t), 4);
    self->chunks = (chunk_t *)table;
    return rc;
}

static int s_buf_grow (disklog_t *self, size_t need)
{
    void *table = self->buf;
    int rc = s_grow (&table, &self->buf_cap, need, 1, DISKLOG_BUFFER_MIN);
    self->buf = (uint8_t *)table;
    return rc;
}

//  --------------------------------------------------------------------------
//  Epoch runs (room must have been made with s_runs_grow).

static void s_run_push (disklog_t *self, uint64_t seq, uint64_t epoch)
{
    if (self->nruns && self->runs[self->nruns - 1].epoch == epoch)
        return;
    uint64_t max_epoch = epoch;
    if (self->nruns && self->runs[self->nruns - 1].max_epoch > max_epoch)
        max_epoch = self->runs[self->nruns - 1].max_epoch;
    self->runs[self->nruns++] = (run_t){seq, epoch, max_epoch};
}

static bool s_run_needed (disklog_t *self, uint64_t epoch)
{
    return self->nruns == 0 || self->runs[self->nruns - 1].epoch != epoch;
}

static void s_runs_cut (disklog_t *self, uint64_t last)
{
    while (self->nruns && self->runs[self->nruns - 1].start > last)
        self->nruns--;
}

//  Run holding SEQ, which must be in 1..head.
static const run_t *s_run_of (disklog_t *self, uint64_t seq)
{
    size_t lo = 0, hi = self->nruns;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->runs[mid].start <= seq)
            lo = mid;
        else
            hi = mid;
    }
    return &self->runs[lo];
}

//  --------------------------------------------------------------------------
//  Segment holding written SEQ (binary search on first seq).

static size_t s_segment_of (disklog_t *self, uint64_t seq)
{
    size_t lo = 0, hi = self->nsegs;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->segs[mid].first_seq <= seq)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static void s_segment_unmap (segment_t *segment)
{
    if (segment->map)
        munmap (segment->map, segment->map_size);
    segment->map = NULL;
}

//  Drop the mapped pages of segments read lately from our page tables, so
//  reads do not pile up resident (file) memory. The data stays in the page
//  cache and pointers stay valid: a later access faults the page back in.
//  Advisory only, so a failure is of no consequence.
static void s_trim (disklog_t *self)
{
    for (size_t i = 0; i < self->nsegs; i++) {
        segment_t *segment = &self->segs[i];
        if (segment->touched && segment->map)
            (void)madvise (segment->map, segment->map_size, MADV_DONTNEED);
        segment->touched = false;
    }
    self->read_bytes = 0;
}

//  Map FD for a segment of SIZE bytes; NULL (errno set) on failure.
static uint8_t *s_map (disklog_t *self, int fd, uint64_t size, size_t *map_size)
{
    if (size > SIZE_MAX - self->page_size) {
        errno = EFBIG;
        return NULL;
    }
    size_t want = (size_t)size > self->segment_bytes ? (size_t)size : self->segment_bytes;
    *map_size = s_round_up (want, self->page_size);
    void *map = mmap (NULL, *map_size, PROT_READ, MAP_SHARED, fd, 0);
    return map == MAP_FAILED ? NULL : (uint8_t *)map;
}

//  Open the last segment for writing if it is not already.
static int s_active_open (disklog_t *self)
{
    if (self->fd >= 0 || self->nsegs == 0)
        return 0;
    char name[DISKLOG_NAME_SIZE];
    s_segment_name (name, self->segs[self->nsegs - 1].first_seq);
    self->fd = openat (self->dir_fd, name, O_RDWR | O_CLOEXEC);
    return self->fd < 0 ? -1 : 0;
}

static void s_active_close (disklog_t *self)
{
    if (self->fd >= 0)
        close (self->fd); //  read-only use since the last sync: nothing to lose
    self->fd = -1;
}

//  --------------------------------------------------------------------------
//  Record checks, shared by recovery and reads.

typedef enum {
    RECORD_OK,
    RECORD_TORN,    //  not a whole record: bad length, or runs past the end
    RECORD_INVALID, //  whole (sane length, all bytes there) but bad
} record_check_t;

//  Check the record at OFF in BASE[0..SIZE). EXACT_SEQ (if not 0) is the seq
//  it must carry; otherwise any seq >= MIN_SEQ will do. Sets *LEN_P, and
//  writes why it is bad into WHY.
static record_check_t s_record_check (const uint8_t *base, uint64_t size, uint64_t off,
                                      uint64_t exact_seq, uint64_t min_seq, uint32_t *len_p,
                                      char *why, size_t why_size)
{
    if (off > UINT32_MAX) {
        snprintf (why, why_size, "segment too large");
        return RECORD_TORN;
    }
    if (size - off < 8) {
        snprintf (why, why_size, "torn record header");
        return RECORD_TORN;
    }
    uint32_t len = s_get32 (base + off);
    *len_p = len;
    if (len < DISKLOG_LEN_MIN) {
        snprintf (why, why_size, "bad record length %" PRIu32, len);
        return RECORD_TORN;
    }
    if (len > size - off - 8) {
        snprintf (why, why_size, "record runs past end of file");
        return RECORD_TORN;
    }
    if (crc32c (base + off + 8, len) != s_get32 (base + off + 4)) {
        snprintf (why, why_size, "crc mismatch");
        return RECORD_INVALID;
    }
    uint8_t id_size = base[off + 32];
    if (id_size > ENTRY_CLIENT_ID_MAX || DISKLOG_LEN_MIN + id_size > len) {
        snprintf (why, why_size, "bad client id size %u", (unsigned)id_size);
        return RECORD_INVALID;
    }
    uint64_t seq = s_get64 (base + off + 16);
    if ((exact_seq && seq != exact_seq) || seq < min_seq) {
        snprintf (why, why_size, "seq %" PRIu64 ", expected %" PRIu64, seq,
                  exact_seq ? exact_seq : min_seq);
        return RECORD_INVALID;
    }
    return RECORD_OK;
}

//  First offset >= FROM where a valid record with seq >= MIN_SEQ starts,
//  or UINT64_MAX. Cheap field checks come before the CRC.
static uint64_t s_find_valid (const uint8_t *base, uint64_t size, uint64_t from, uint64_t min_seq,
                              uint32_t *len_p)
{
    char why[64];
    for (uint64_t off = from; off < size && size - off >= DISKLOG_RECORD_HEADER; off++) {
        uint32_t len = s_get32 (base + off);
        if (len < DISKLOG_LEN_MIN || len > size - off - 8)
            continue;
        uint8_t id_size = base[off + 32];
        if (id_size > ENTRY_CLIENT_ID_MAX || DISKLOG_LEN_MIN + id_size > len)
            continue;
        if (s_get64 (base + off + 16) < min_seq)
            continue;
        if (s_record_check (base, size, off, 0, min_seq, len_p, why, sizeof why) == RECORD_OK)
            return off;
    }
    return UINT64_MAX;
}

//  Records that look valid in BASE[FROM..SIZE), resynchronising past junk.
static uint64_t s_count_valid (const uint8_t *base, uint64_t size, uint64_t from, uint64_t min_seq)
{
    uint64_t count = 0;
    uint32_t len;
    while (from < size) {
        uint64_t off = s_find_valid (base, size, from, min_seq, &len);
        if (off == UINT64_MAX)
            break;
        count++;
        from = off + 8 + len;
    }
    return count;
}

//  --------------------------------------------------------------------------
//  Recovery. Maps every segment, indexes records up to the first bad one,
//  and cuts there (always for a tail; in the middle only in CUT mode).
//  Returns 0, or -1 with ERR and errno set.

static int s_segment_load (disklog_t *self, uint64_t first_seq, char *err, size_t err_size)
{
    char name[DISKLOG_NAME_SIZE];
    s_segment_name (name, first_seq);
    int fd = openat (self->dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        s_err (err, err_size, "cannot open %s/%s: %s", self->dir, name, strerror (errno));
        return -1;
    }
    struct stat st;
    uint8_t *map = NULL;
    size_t map_size = 0;
    int rc = fstat (fd, &st);
    if (rc == 0)
        map = s_map (self, fd, (uint64_t)st.st_size, &map_size);
    int error = errno;
    close (fd); //  read-only: nothing to lose
    if (rc || !map || s_segs_grow (self, self->nsegs + 1)) {
        error = rc || !map ? error : errno;
        if (map)
            munmap (map, map_size);
        s_err (err, err_size, "cannot map %s/%s: %s", self->dir, name, strerror (error));
        errno = error;
        return -1;
    }
    self->segs[self->nsegs++] = (segment_t){first_seq, (uint64_t)st.st_size, map, map_size, true};
    return 0;
}

static int s_compare_seq (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

//  Segment names in the directory, sorted; *COUNT_P gets their number.
static uint64_t *s_segment_list (disklog_t *self, size_t *count_p, char *err, size_t err_size)
{
    DIR *dir = opendir (self->dir);
    if (!dir) {
        s_err (err, err_size, "cannot list %s: %s", self->dir, strerror (errno));
        return NULL;
    }
    uint64_t *seqs = NULL;
    size_t count = 0, cap = 0;
    int error = 0;
    while (true) {
        errno = 0;
        struct dirent *entry = readdir (dir);
        if (!entry) {
            error = errno;
            break;
        }
        uint64_t first_seq;
        if (!s_segment_parse (entry->d_name, &first_seq))
            continue;
        void *table = seqs;
        if (s_grow (&table, &cap, count + 1, sizeof (uint64_t), 64)) {
            error = errno;
            break;
        }
        seqs = (uint64_t *)table;
        seqs[count++] = first_seq;
    }
    closedir (dir);
    if (error) {
        free (seqs);
        s_err (err, err_size, "cannot list %s: %s", self->dir, strerror (error));
        errno = error;
        return NULL;
    }
    if (count)
        qsort (seqs, count, sizeof (uint64_t), s_compare_seq);
    *count_p = count;
    //  An empty directory is no error: hand back a non-NULL empty list
    return seqs ? seqs : (uint64_t *)calloc (1, sizeof (uint64_t));
}

static int s_recover (disklog_t *self, disklog_mode_t mode, disklog_recovery_t *recovery, char *err,
                      size_t err_size)
{
    size_t count = 0;
    uint64_t *seqs = s_segment_list (self, &count, err, err_size);
    if (!seqs)
        return -1;
    for (size_t i = 0; i < count; i++)
        if (s_segment_load (self, seqs[i], err, err_size)) {
            free (seqs);
            return -1;
        }
    free (seqs);

    //  Index records up to the first bad one
    uint64_t expected = 1;
    size_t bad_seg = DISKLOG_NO_SEGMENT;
    uint64_t bad_off = 0;
    bool bad_whole = false;
    bool misnamed = false;
    char why[64] = "";
    for (size_t i = 0; i < self->nsegs && bad_seg == DISKLOG_NO_SEGMENT; i++) {
        segment_t *segment = &self->segs[i];
        if (segment->first_seq != expected) {
            snprintf (why, sizeof why, "segment starts at seq %" PRIu64 ", expected %" PRIu64,
                      segment->first_seq, expected);
            bad_seg = i;
            misnamed = true;
            break;
        }
        uint64_t off = 0;
        while (off < segment->size) {
            uint32_t len = 0;
            record_check_t check = s_record_check (segment->map, segment->size, off, expected,
                                                   expected, &len, why, sizeof why);
            if (check != RECORD_OK) {
                bad_seg = i;
                bad_off = off;
                bad_whole = check == RECORD_INVALID;
                break;
            }
            uint64_t epoch = s_get64 (segment->map + off + 8);
            if (s_offsets_grow (self, (size_t)expected) ||
                (s_run_needed (self, epoch) && s_runs_grow (self, self->nruns + 1))) {
                s_err (err, err_size, "out of memory indexing %s", self->dir);
                return -1;
            }
            self->offsets[expected - 1] = (uint32_t)off;
            s_run_push (self, expected, epoch);
            expected++;
            off += 8 + (uint64_t)len;
        }
        if (bad_seg == DISKLOG_NO_SEGMENT) {
            (void)madvise (segment->map, segment->map_size, MADV_DONTNEED); //  as s_trim
            segment->touched = false;
        }
    }
    self->head = self->written = self->synced = expected - 1;
    disklog_recovery_t report;
    memset (&report, 0, sizeof report);
    report.entries = expected - 1;
    if (bad_seg == DISKLOG_NO_SEGMENT) {
        if (recovery)
            *recovery = report;
        return 0;
    }

    //  Is anything valid after the bad spot? Seqs there are >= EXPECTED
    segment_t *bad = &self->segs[bad_seg];
    //  (a misnamed segment: any valid record in it counts as "after")
    uint64_t min_seq = misnamed ? 1 : expected;
    uint64_t from = misnamed ? 0 : bad_off + 1;
    uint32_t len;
    report.corrupt_middle = bad_seg + 1 < self->nsegs ||
                            s_find_valid (bad->map, bad->size, from, min_seq, &len) != UINT64_MAX;
    report.cut_bytes = bad->size - bad_off;
    report.cut_entries = (bad_whole ? 1 : 0) + s_count_valid (bad->map, bad->size, from, min_seq);
    for (size_t i = bad_seg + 1; i < self->nsegs; i++) {
        report.cut_bytes += self->segs[i].size;
        report.cut_entries += s_count_valid (self->segs[i].map, self->segs[i].size, 0, min_seq);
    }
    char name[DISKLOG_NAME_SIZE];
    s_segment_name (name, bad->first_seq);
    snprintf (report.file, sizeof report.file, "%s/%s", self->dir, name);
    report.offset = bad_off;
    snprintf (report.reason, sizeof report.reason, "%s", why);
    if (recovery)
        *recovery = report;
    s_trim (self);
    if (report.corrupt_middle && mode == DISKLOG_STRICT) {
        s_err (err, err_size, "corrupt record in %s at offset %" PRIu64 ": %s", report.file,
               bad_off, why);
        errno = EBADMSG;
        return -1;
    }

    //  Cut: later segments go (last first, so a crash leaves no gap), then
    //  the bad one is shortened, or goes too if nothing in it is kept
    bool unlinked = false;
    while (self->nsegs > bad_seg + (bad_off > 0 ? 1 : 0)) {
        segment_t *segment = &self->segs[self->nsegs - 1];
        s_segment_name (name, segment->first_seq);
        if (unlinkat (self->dir_fd, name, 0)) {
            s_err (err, err_size, "cannot remove %s/%s: %s", self->dir, name, strerror (errno));
            return -1;
        }
        unlinked = true;
        s_segment_unmap (segment);
        self->nsegs--;
    }
    if (bad_off > 0) {
        s_segment_name (name, bad->first_seq);
        int fd = openat (self->dir_fd, name, O_RDWR | O_CLOEXEC);
        if (fd < 0 || ftruncate (fd, (off_t)bad_off) || s_sync (self, fd, true)) {
            int error = errno;
            s_err (err, err_size, "cannot cut %s/%s at %" PRIu64 ": %s", self->dir, name, bad_off,
                   strerror (error));
            if (fd >= 0)
                close (fd);
            errno = error;
            return -1;
        }
        close (fd); //  synced: nothing to lose
        bad->size = bad_off;
    }
    if (unlinked && s_sync (self, self->dir_fd, true)) {
        s_err (err, err_size, "cannot fsync %s: %s", self->dir, strerror (errno));
        return -1;
    }
    return 0;
}

static void s_destroy_keep_errno (disklog_t **self_p)
{
    int error = errno;
    disklog_destroy (self_p);
    errno = error;
}

//  --------------------------------------------------------------------------
//  Open (creating DIR if missing) and recover the log in DIR.

disklog_t *disklog_open (const char *dir, size_t segment_bytes, disklog_mode_t mode,
                         disklog_recovery_t *recovery, char *err, size_t err_size)
{
    assert (dir);
    if (recovery)
        memset (recovery, 0, sizeof *recovery);
    if (segment_bytes == 0)
        segment_bytes = DISKLOG_SEGMENT_DEFAULT;
    if (segment_bytes < DISKLOG_SEGMENT_MIN || segment_bytes > DISKLOG_SEGMENT_MAX) {
        s_err (err, err_size, "segment size %zu out of range %zu..%zu", segment_bytes,
               DISKLOG_SEGMENT_MIN, DISKLOG_SEGMENT_MAX);
        errno = EINVAL;
        return NULL;
    }
    long page_size = sysconf (_SC_PAGESIZE);
    disklog_t *self = (disklog_t *)calloc (1, sizeof (disklog_t));
    if (!self || page_size <= 0 || !(self->dir = strdup (dir))) {
        s_err (err, err_size, "out of memory");
        free (self);
        errno = ENOMEM;
        return NULL;
    }
    self->dir_fd = -1;
    self->fd = -1;
    self->segment_bytes = segment_bytes;
    self->page_size = (size_t)page_size;

    if (mkdir (dir, 0755) == 0) {
        if (s_fsync_parent (dir)) {
            s_err (err, err_size, "cannot fsync the parent of %s: %s", dir, strerror (errno));
            goto failed;
        }
    } else if (errno != EEXIST) {
        s_err (err, err_size, "cannot create %s: %s", dir, strerror (errno));
        goto failed;
    }
    self->dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->dir_fd < 0) {
        s_err (err, err_size, "cannot open %s: %s", dir, strerror (errno));
        goto failed;
    }
    if (flock (self->dir_fd, LOCK_EX | LOCK_NB)) {
        s_err (err, err_size, "%s is in use: %s", dir,
               errno == EWOULDBLOCK ? "locked by another open disklog" : strerror (errno));
        goto failed;
    }
    if (s_recover (self, mode, recovery, err, err_size))
        goto failed;
    if (self->nsegs) {
        const segment_t *last = &self->segs[self->nsegs - 1];
        self->plan_size = last->size;
        //  A crashed writer may have left pages the disk never saw
        if (s_active_open (self) || (last->size && s_sync (self, self->fd, false))) {
            char name[DISKLOG_NAME_SIZE];
            s_segment_name (name, last->first_seq);
            s_err (err, err_size, "cannot open and sync %s/%s: %s", dir, name, strerror (errno));
            goto failed;
        }
    }
    return self;

failed:
    s_destroy_keep_errno (&self);
    return NULL;
}

//  --------------------------------------------------------------------------
//  Unmap and close everything.

void disklog_destroy (disklog_t **self_p)
{
    assert (self_p);
    disklog_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nsegs; i++)
        s_segment_unmap (&self->segs[i]);
    s_active_close (self);
    if (self->dir_fd >= 0)
        close (self->dir_fd); //  also drops the flock
    free (self->segs);
    free (self->offsets);
    free (self->runs);
    free (self->buf);
    free (self->chunks);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------

uint64_t disklog_head (disklog_t *self)
{
    assert (self);
    return self->head;
}

uint64_t disklog_written (disklog_t *self)
{
    assert (self);
    return self->written;
}

uint64_t disklog_synced (disklog_t *self)
{
    assert (self);
    return self->synced;
}

bool disklog_failed (disklog_t *self)
{
    assert (self);
    return self->failed;
}

size_t disklog_segments (disklog_t *self)
{
    assert (self);
    return self->nsegs;
}

void disklog_inject_sync_error (disklog_t *self, int error)
{
    assert (self);
    self->inject_sync_error = error;
}

//  --------------------------------------------------------------------------
//  Size the last segment will have once the buffer is written.

static uint64_t s_plan_size (disklog_t *self)
{
    if (self->nchunks) {
        const chunk_t *chunk = &self->chunks[self->nchunks - 1];
        return chunk->file_start + (self->buf_used - chunk->buf_start);
    }
    return self->nsegs ? self->segs[self->nsegs - 1].size : 0;
}

//  Forget every buffered record: head falls back to written.
static void s_pending_drop (disklog_t *self)
{
    self->head = self->written;
    s_runs_cut (self, self->head);
    self->buf_used = 0;
    self->nchunks = 0;
    if (self->buf_cap > DISKLOG_BUFFER_KEEP) {
        free (self->buf);
        self->buf = NULL;
        self->buf_cap = 0;
    }
    self->plan_size = s_plan_size (self);
}

//  --------------------------------------------------------------------------
//  Append ENTRY as seq head+1, buffered in memory.

int disklog_append (disklog_t *self, const entry_t *entry)
{
    assert (self);
    assert (entry);
    assert (entry->client_id_size <= ENTRY_CLIENT_ID_MAX);
    assert (entry->client_id || entry->client_id_size == 0);
    assert (entry->data || entry->size == 0);

    if (self->failed) {
        errno = EIO;
        return -1;
    }
    if (entry->size > UINT32_MAX - DISKLOG_LEN_MIN - entry->client_id_size - 8) {
        errno = EMSGSIZE;
        return -1;
    }
    uint32_t len = DISKLOG_LEN_MIN + (uint32_t)entry->client_id_size + (uint32_t)entry->size;
    size_t record = 8 + (size_t)len;
    bool new_segment = (self->nchunks == 0 && self->nsegs == 0) ||
                       (self->plan_size > 0 && self->plan_size + record > self->segment_bytes);
    bool new_chunk = new_segment || self->nchunks == 0;
    //  Grow every table first, so a failure appends nothing
    if (self->head >= SIZE_MAX || s_offsets_grow (self, (size_t)self->head + 1) ||
        (s_run_needed (self, entry->epoch) && s_runs_grow (self, self->nruns + 1)) ||
        (new_chunk && s_chunks_grow (self, self->nchunks + 1)) ||
        self->buf_used > SIZE_MAX - record || s_buf_grow (self, self->buf_used + record)) {
        errno = ENOMEM;
        return -1;
    }
    uint64_t seq = self->head + 1;
    uint8_t *p = self->buf + self->buf_used;
    s_put32 (p, len);
    s_put64 (p + 8, entry->epoch);
    s_put64 (p + 16, seq);
    s_put64 (p + 24, entry->req_id);
    p[32] = (uint8_t)entry->client_id_size;
    if (entry->client_id_size)
        memcpy (p + DISKLOG_RECORD_HEADER, entry->client_id, entry->client_id_size);
    if (entry->size)
        memcpy (p + DISKLOG_RECORD_HEADER + entry->client_id_size, entry->data, entry->size);
    s_put32 (p + 4, crc32c (p + 8, len));

    if (new_chunk) {
        uint64_t start = new_segment ? 0 : self->plan_size;
        self->chunks[self->nchunks++] = (chunk_t){seq, self->buf_used, start, new_segment};
        self->plan_size = start;
    }
    self->offsets[seq - 1] = (uint32_t)self->plan_size;
    self->plan_size += record;
    self->buf_used += record;
    self->head = seq;
    s_run_push (self, seq, entry->epoch);
    return 0;
}

//  --------------------------------------------------------------------------
//  Commit helpers. Each returns 0 or -1 with errno set.

//  The full last segment is synced and closed, and a new one holding
//  FIRST_SEQ created for BYTES bytes. Nothing changes if creation fails.
static int s_segment_roll (disklog_t *self, uint64_t first_seq, size_t bytes)
{
    if (s_segs_grow (self, self->nsegs + 1))
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
    char name[DISKLOG_NAME_SIZE];
    s_segment_name (name, first_seq);
    int fd = openat (self->dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t map_size;
    uint8_t *map = s_map (self, fd, bytes, &map_size);
    if (!map) {
        int error = errno;
        close (fd);
        if (unlinkat (self->dir_fd, name, 0))
            self->failed = true; //  an empty stray file would make a gap
        errno = error;
        return -1;
    }
    s_active_close (self);
    self->fd = fd;
    self->segs[self->nsegs++] = (segment_t){first_seq, 0, map, map_size, false};
    if (s_sync (self, self->dir_fd, true)) {
        self->failed = true;
        return -1;
    }
    return 0;
}

//  The last segment can take bytes up to END (an empty one is remapped).
static int s_segment_fit (disklog_t *self, uint64_t end)
{
    segment_t *segment = &self->segs[self->nsegs - 1];
    if (s_active_open (self))
        return -1;
    if (end <= segment->map_size)
        return 0;
    if (segment->size > 0) {
        errno = EFBIG; //  cannot happen: records only go where they fit
        return -1;
    }
    size_t map_size;
    uint8_t *map = s_map (self, self->fd, end, &map_size);
    if (!map)
        return -1;
    s_segment_unmap (segment);
    segment->map = map;
    segment->map_size = map_size;
    return 0;
}

//  A write of CHUNK stopped after DONE bytes: keep the records written
//  whole, cut the file after them.
static void s_chunk_keep_whole (disklog_t *self, const chunk_t *chunk, size_t done)
{
    size_t kept = 0;
    uint64_t records = 0;
    while (done - kept >= 8) {
        size_t record = 8 + (size_t)s_get32 (self->buf + chunk->buf_start + kept);
        if (record > done - kept)
            break;
        kept += record;
        records++;
    }
    segment_t *segment = &self->segs[self->nsegs - 1];
    if (ftruncate (self->fd, (off_t)(chunk->file_start + kept)))
        self->failed = true; //  the file holds a torn record we cannot remove
    segment->size = chunk->file_start + kept;
    self->written = chunk->first_seq + records - 1;
}

//  --------------------------------------------------------------------------
//  Write the buffered records, then fdatasync if SYNC.

int disklog_commit (disklog_t *self, bool sync)
{
    assert (self);
    if (self->failed) {
        errno = EIO;
        return -1;
    }
    for (size_t i = 0; i < self->nchunks; i++) {
        const chunk_t *chunk = &self->chunks[i];
        size_t end = i + 1 < self->nchunks ? self->chunks[i + 1].buf_start : self->buf_used;
        uint64_t last = i + 1 < self->nchunks ? self->chunks[i + 1].first_seq - 1 : self->head;
        size_t bytes = end - chunk->buf_start;
        int rc = chunk->new_segment ? s_segment_roll (self, chunk->first_seq, bytes)
                                    : s_segment_fit (self, chunk->file_start + bytes);
        if (rc) {
            int error = errno;
            s_pending_drop (self);
            errno = error;
            return -1;
        }
        size_t done =
            s_write_all (self->fd, self->buf + chunk->buf_start, bytes, (off_t)chunk->file_start);
        if (done < bytes) {
            int error = errno;
            s_chunk_keep_whole (self, chunk, done);
            s_pending_drop (self);
            errno = error;
            return -1;
        }
        self->segs[self->nsegs - 1].size = chunk->file_start + bytes;
        self->written = last;
    }
    self->nchunks = 0;
    s_pending_drop (self); //  nothing left pending: resets the buffer
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
//  Fill OUT with written entry SEQ.

int disklog_get (disklog_t *self, uint64_t seq, entry_t *out)
{
    assert (self);
    assert (out);
    if (seq == 0 || seq > self->written) {
        errno = ENOENT;
        return -1;
    }
    segment_t *segment = &self->segs[s_segment_of (self, seq)];
    uint64_t off = self->offsets[seq - 1];
    uint32_t len;
    char why[64];
    if (off >= segment->size || s_record_check (segment->map, segment->size, off, seq, seq, &len,
                                                why, sizeof why) != RECORD_OK) {
        errno = EBADMSG;
        return -1;
    }
    segment->touched = true;
    self->read_bytes += 8 + (size_t)len;
    if (self->read_bytes >= DISKLOG_TRIM_BYTES)
        s_trim (self);
    const uint8_t *p = segment->map + off;
    out->epoch = s_get64 (p + 8);
    out->req_id = s_get64 (p + 24);
    out->client_id_size = p[32];
    out->client_id = p + DISKLOG_RECORD_HEADER;
    out->data = p + DISKLOG_RECORD_HEADER + out->client_id_size;
    out->size = len - DISKLOG_LEN_MIN - out->client_id_size;
    return 0;
}

//  --------------------------------------------------------------------------
//  Where record SEQ (written) ends in its segment.

static uint64_t s_record_end (disklog_t *self, uint64_t seq)
{
    size_t index = s_segment_of (self, seq);
    if (seq < self->written && s_segment_of (self, seq + 1) == index)
        return self->offsets[seq];
    return self->segs[index].size;
}

//  Append records LAST+1..head, as they are in the files and the buffer,
//  to PATH, and fsync it.
static int s_rollback_write (disklog_t *self, uint64_t last, const char *path)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int rc = 0;
    uint64_t seq = last + 1;
    while (rc == 0 && seq <= self->written) {
        size_t index = s_segment_of (self, seq);
        const segment_t *segment = &self->segs[index];
        uint64_t start = self->offsets[seq - 1];
        if (s_write_all (fd, segment->map + start, segment->size - start, -1) <
            segment->size - start)
            rc = -1;
        seq = index + 1 < self->nsegs ? self->segs[index + 1].first_seq : self->written + 1;
    }
    if (rc == 0 && self->head > self->written) {
        size_t start = 0;
        if (last > self->written) {
            //  Position of LAST+1 in the buffer, from its chunk
            size_t k = self->nchunks;
            while (k > 1 && self->chunks[k - 1].first_seq > last + 1)
                k--;
            const chunk_t *chunk = &self->chunks[k - 1];
            start = chunk->buf_start + (size_t)(self->offsets[last] - chunk->file_start);
        }
        if (s_write_all (fd, self->buf + start, self->buf_used - start, -1) <
            self->buf_used - start)
            rc = -1;
    }
    if (rc == 0 && fsync (fd))
        rc = -1;
    int error = errno;
    if (close (fd) && rc == 0) {
        rc = -1;
        error = errno;
    }
    if (rc == 0 && s_fsync_parent (path)) {
        rc = -1;
        error = errno;
    }
    errno = error;
    return rc;
}

//  Drop buffered records after LAST (LAST >= written).
static void s_pending_cut (disklog_t *self, uint64_t last)
{
    if (last == self->written) {
        s_pending_drop (self);
        return;
    }
    size_t k = self->nchunks;
    while (k > 1 && self->chunks[k - 1].first_seq > last + 1)
        k--;
    const chunk_t *chunk = &self->chunks[k - 1];
    self->buf_used = chunk->buf_start + (size_t)(self->offsets[last] - chunk->file_start);
    self->nchunks = chunk->first_seq == last + 1 ? k - 1 : k;
    self->head = last;
    s_runs_cut (self, last);
    self->plan_size = s_plan_size (self);
}

//  --------------------------------------------------------------------------
//  Drop every entry after LAST (keep 1..LAST).

int disklog_truncate (disklog_t *self, uint64_t last, const char *rollback_path)
{
    assert (self);
    if (last >= self->head)
        return 0;
    if (self->failed) {
        errno = EIO;
        return -1;
    }
    if (rollback_path && s_rollback_write (self, last, rollback_path))
        return -1;
    if (last >= self->written) {
        s_pending_cut (self, last);
        return 0;
    }

    //  Written records go: find where LAST ends before the index changes
    uint64_t end = last ? s_record_end (self, last) : 0;
    self->head = self->written; //  buffered records are all after LAST
    s_pending_drop (self);
    int rc = 0, error = 0;
    bool unlinked = false;
    char name[DISKLOG_NAME_SIZE];
    while (self->nsegs && self->segs[self->nsegs - 1].first_seq > last) {
        segment_t *segment = &self->segs[self->nsegs - 1];
        s_active_close (self);
        s_segment_name (name, segment->first_seq);
        if (unlinkat (self->dir_fd, name, 0)) {
            rc = -1;
            error = errno;
            break;
        }
        unlinked = true;
        s_segment_unmap (segment);
        self->nsegs--;
    }
    if (rc == 0 && self->nsegs) {
        segment_t *segment = &self->segs[self->nsegs - 1];
        if (end < segment->size) {
            if (s_active_open (self) || ftruncate (self->fd, (off_t)end) ||
                s_sync (self, self->fd, true)) {
                rc = -1;
                error = errno;
            } else
                segment->size = end;
        }
    }
    if (rc == 0 && unlinked && s_sync (self, self->dir_fd, true)) {
        rc = -1;
        error = errno;
    }
    if (rc == 0 && s_active_open (self)) {
        rc = -1;
        error = errno;
    }
    //  The index forgets the records whatever happened to the files
    self->head = self->written = last;
    if (self->synced > last)
        self->synced = last;
    s_runs_cut (self, last);
    self->plan_size = s_plan_size (self);
    size_t cap = self->offsets_cap;
    while (cap > DISKLOG_INDEX_MIN && self->head < cap / 4)
        cap /= 2;
    if (cap < self->offsets_cap) {
        uint32_t *offsets = (uint32_t *)realloc (self->offsets, cap * sizeof (uint32_t));
        if (offsets) {
            self->offsets = offsets;
            self->offsets_cap = cap;
        }
    }
    if (rc) {
        self->failed = true;
        errno = error;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Epoch of entry SEQ, 0 if absent.

uint64_t disklog_epoch_of (disklog_t *self, uint64_t seq)
{
    assert (self);
    if (seq == 0 || seq > self->head)
        return 0;
    return s_run_of (self, seq)->epoch;
}

//  --------------------------------------------------------------------------
//  Largest s <= SEQ held here with every epoch up to s <= EPOCH, or 0.

uint64_t disklog_agreement (disklog_t *self, uint64_t epoch, uint64_t seq)
{
    assert (self);
    uint64_t agreed = seq < self->head ? seq : self->head;
    if (agreed == 0)
        return 0;
    size_t lo = 0, hi = self->nruns;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->runs[mid].max_epoch > epoch)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo < self->nruns && self->runs[lo].start - 1 < agreed)
        agreed = self->runs[lo].start - 1;
    return agreed;
}

//  --------------------------------------------------------------------------
//  Heap bytes held.

size_t disklog_memory (disklog_t *self)
{
    assert (self);
    return sizeof (disklog_t) + strlen (self->dir) + 1 + self->offsets_cap * sizeof (uint32_t) +
           self->runs_cap * sizeof (run_t) + self->segs_cap * sizeof (segment_t) + self->buf_cap +
           self->chunks_cap * sizeof (chunk_t);
}
