/*  fsdir.h - the one place that knows how to make files and directories
    durable: mkdir -p, fsync of a directory, the directory lock, write
    loops, and atomic file replacement. Used by the disk store (segments,
    rollback files) and by meta.

    Functions return 0 (or a count) on success, -1 with errno set on
    failure; none prints or keeps state.
*/
#ifndef FSDIR_H_INCLUDED
#define FSDIR_H_INCLUDED

#include <stddef.h>
#include <sys/types.h>

//  Create DIR and any missing parents (mode 0755); each directory created
//  is fsync'ed into its parent, so it survives a crash. An existing DIR is
//  fine. On failure errno says why (ENOTDIR, EACCES...).
int fsdir_make (const char *dir);

//  fsync the directory DIR (after creating, renaming or unlinking in it).
int fsdir_sync (const char *dir);

//  fsync the directory that holds PATH.
int fsdir_sync_parent (const char *path);

//  Open DIR and take an exclusive flock on it without waiting. Returns the
//  descriptor (close it to unlock), or -1: errno EWOULDBLOCK when another
//  open file description holds the lock.
int fsdir_lock (const char *dir);

//  Write SIZE bytes to FD at OFFSET (at the file position if OFFSET < 0),
//  through partial writes and EINTR. Returns the bytes written: fewer than
//  SIZE means an error, in errno.
size_t fsdir_write_all (int fd, const void *data, size_t size, off_t offset);

//  Replace PATH with SIZE bytes of DATA atomically and durably: PATH.tmp is
//  written and fsync'ed, renamed over PATH, and the directory fsync'ed. A
//  crash leaves either the old or the new file.
int fsdir_write_atomic (const char *path, const void *data, size_t size);

#endif
