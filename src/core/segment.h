/*  segment.h - one segment file of the disk store, and its mapping.

    A segment is DIR/<seq of its first record, 20 digits>.log, e.g.
    00000000000000000001.log, holding whole records back to back. Each is
    mapped read-only (MAP_SHARED) once, at a fixed size of at least the
    store's segment size rounded up to a page, so the mapping never moves
    and pointers into it stay valid until the segment is unlinked. Only the
    bytes below the file's size are ever touched (past EOF is SIGBUS), and
    writes go through a descriptor (pwrite), never through the mapping, so
    resident memory does not grow with the data. One mapping per segment:
    keep segments large so their count stays far below vm.max_map_count.

    segment_t is a plain value owned by the store's segment table; these
    functions fill, map, cut and remove it. None syncs: the caller decides
    (and can inject sync failures).
*/
#ifndef SEGMENT_H_INCLUDED
#define SEGMENT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEGMENT_NAME_SIZE 32 //  "<20 digits>.log" and a NUL

typedef struct {
    uint64_t first_seq; //  its name
    uint64_t size;      //  bytes of whole records in the file
    uint8_t *map;       //  read-only mapping of map_size bytes
    size_t map_size;
    bool touched; //  read since its pages were last dropped
} segment_t;

//  The file name of the segment starting at FIRST_SEQ into NAME.
void segment_name (char *name, uint64_t first_seq);

//  First seq from a segment file name; false if NAME is not one.
bool segment_parse (const char *name, uint64_t *first_seq);

//  First seqs of the segment files in DIR, sorted, into *SEQS (malloc'd,
//  never NULL on success) and *COUNT. 0, or -1 with errno.
int segment_list (const char *dir, uint64_t **seqs, size_t *count);

//  Map the existing segment FIRST_SEQ of the directory DIR_FD read-only,
//  for at least MAP_BYTES: fills SELF (size from the file). 0 or -1.
int segment_load (segment_t *self, int dir_fd, uint64_t first_seq, size_t map_bytes);

//  Create the segment FIRST_SEQ (it must not exist), mapped for at least
//  MAP_BYTES. Returns its read-write descriptor, or -1 (nothing left).
int segment_create (segment_t *self, int dir_fd, uint64_t first_seq, size_t map_bytes);

//  Open the segment read-write. Returns the descriptor or -1.
int segment_open (const segment_t *self, int dir_fd);

//  Map an empty segment again for at least MAP_BYTES (a record bigger than
//  its mapping is about to go in). 0, or -1 with the old mapping kept.
int segment_remap (segment_t *self, int fd, size_t map_bytes);

//  Remove the file and its mapping. 0, or -1 (the segment is unchanged).
int segment_unlink (segment_t *self, int dir_fd);

void segment_unmap (segment_t *self);

//  Drop the mapped pages of a touched segment from this process (they stay
//  in the page cache; the next access faults them back), so reading a log
//  does not leave it resident. Advisory.
void segment_drop_pages (segment_t *self);

#endif
