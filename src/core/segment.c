/*  segment.c - segment files and their mappings (segment.h).
 */
#include "segment.h"
#include "grow.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void segment_name (char *name, uint64_t first_seq)
{
    snprintf (name, SEGMENT_NAME_SIZE, "%020" PRIu64 ".log", first_seq);
}

bool segment_parse (const char *name, uint64_t *first_seq)
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

static int s_compare_seq (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int segment_list (const char *dir, uint64_t **seqs_p, size_t *count_p)
{
    DIR *handle = opendir (dir);
    if (!handle)
        return -1;
    uint64_t *seqs = NULL;
    size_t count = 0, cap = 0;
    int error = 0;
    while (true) {
        errno = 0;
        struct dirent *entry = readdir (handle);
        if (!entry) {
            error = errno;
            break;
        }
        uint64_t first_seq;
        if (!segment_parse (entry->d_name, &first_seq))
            continue;
        void *table = seqs;
        int rc = grow_array (&table, &cap, count + 1, sizeof (uint64_t), 64);
        seqs = (uint64_t *)table;
        if (rc) {
            error = errno;
            break;
        }
        seqs[count++] = first_seq;
    }
    closedir (handle);
    if (!error && !seqs && !(seqs = (uint64_t *)calloc (1, sizeof (uint64_t))))
        error = ENOMEM;
    if (error) {
        free (seqs);
        errno = error;
        return -1;
    }
    qsort (seqs, count, sizeof (uint64_t), s_compare_seq);
    *seqs_p = seqs;
    *count_p = count;
    return 0;
}

//  Map FD read-only for SIZE bytes or MAP_BYTES, whichever is larger,
//  rounded up to a page. NULL (errno) on failure.
static uint8_t *s_map (int fd, uint64_t size, size_t map_bytes, size_t *map_size)
{
    long page = sysconf (_SC_PAGESIZE);
    if (page <= 0 || size > SIZE_MAX - (size_t)page || map_bytes > SIZE_MAX - (size_t)page) {
        errno = EFBIG;
        return NULL;
    }
    size_t want = (size_t)size > map_bytes ? (size_t)size : map_bytes;
    *map_size = (want + (size_t)page - 1) / (size_t)page * (size_t)page;
    void *map = mmap (NULL, *map_size, PROT_READ, MAP_SHARED, fd, 0);
    return map == MAP_FAILED ? NULL : (uint8_t *)map;
}

int segment_load (segment_t *self, int dir_fd, uint64_t first_seq, size_t map_bytes)
{
    char name[SEGMENT_NAME_SIZE];
    segment_name (name, first_seq);
    int fd = openat (dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    size_t map_size = 0;
    uint8_t *map = NULL;
    if (fstat (fd, &st) == 0)
        map = s_map (fd, (uint64_t)st.st_size, map_bytes, &map_size);
    int error = errno;
    close (fd); //  read-only: nothing to lose
    if (!map) {
        errno = error;
        return -1;
    }
    *self = (segment_t){first_seq, (uint64_t)st.st_size, map, map_size, true};
    return 0;
}

int segment_create (segment_t *self, int dir_fd, uint64_t first_seq, size_t map_bytes)
{
    char name[SEGMENT_NAME_SIZE];
    segment_name (name, first_seq);
    int fd = openat (dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t map_size;
    uint8_t *map = s_map (fd, 0, map_bytes, &map_size);
    if (!map) {
        int error = errno;
        close (fd);
        (void)unlinkat (dir_fd, name, 0); //  empty: harmless if it stays
        errno = error;
        return -1;
    }
    *self = (segment_t){first_seq, 0, map, map_size, false};
    return fd;
}

int segment_open (const segment_t *self, int dir_fd)
{
    char name[SEGMENT_NAME_SIZE];
    segment_name (name, self->first_seq);
    return openat (dir_fd, name, O_RDWR | O_CLOEXEC);
}

int segment_remap (segment_t *self, int fd, size_t map_bytes)
{
    assert (self->size == 0);
    size_t map_size;
    uint8_t *map = s_map (fd, 0, map_bytes, &map_size);
    if (!map)
        return -1;
    segment_unmap (self);
    self->map = map;
    self->map_size = map_size;
    return 0;
}

int segment_unlink (segment_t *self, int dir_fd)
{
    char name[SEGMENT_NAME_SIZE];
    segment_name (name, self->first_seq);
    if (unlinkat (dir_fd, name, 0))
        return -1;
    segment_unmap (self);
    return 0;
}

void segment_unmap (segment_t *self)
{
    if (self->map)
        munmap (self->map, self->map_size);
    self->map = NULL;
    self->map_size = 0;
}

void segment_drop_pages (segment_t *self)
{
    if (self->touched && self->map)
        (void)madvise (self->map, self->map_size, MADV_DONTNEED);
    self->touched = false;
}
