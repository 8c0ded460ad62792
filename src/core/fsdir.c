/*  fsdir.c - durable files and directories (fsdir.h).

    Why each fsync: a new or renamed name lives in its directory's data, so
    a file is only durable once the directory holding its name is synced
    too; a new directory likewise needs its parent synced.
*/
#include "fsdir.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

//  fsync FD, then close it; the first error wins.
static int s_sync_close (int fd)
{
    int rc = fsync (fd);
    int error = errno;
    if (close (fd) && rc == 0)
        return -1;
    errno = error;
    return rc;
}

int fsdir_sync (const char *dir)
{
    assert (dir);
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    return s_sync_close (fd);
}

//  The directory part of PATH into PARENT (SIZE bytes): "." when none.
static int s_parent (const char *path, char *parent, size_t size)
{
    size_t length = strlen (path);
    if (length + 2 > size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy (parent, path, length + 1);
    while (length > 1 && parent[length - 1] == '/')
        parent[--length] = 0;
    char *slash = strrchr (parent, '/');
    if (!slash)
        strcpy (parent, ".");
    else if (slash == parent)
        parent[1] = 0;
    else
        *slash = 0;
    return 0;
}

int fsdir_sync_parent (const char *path)
{
    assert (path);
    char parent[4096];
    if (s_parent (path, parent, sizeof parent))
        return -1;
    return fsdir_sync (parent);
}

int fsdir_make (const char *dir)
{
    assert (dir);
    char path[4096];
    size_t length = strlen (dir);
    if (length == 0 || length >= sizeof path) {
        errno = length ? ENAMETOOLONG : ENOENT;
        return -1;
    }
    memcpy (path, dir, length + 1);
    //  Each prefix ending before a '/', then the whole path
    for (size_t i = 1; i <= length; i++) {
        if (path[i] != '/' && path[i] != 0)
            continue;
        char saved = path[i];
        path[i] = 0;
        if (mkdir (path, 0755) == 0) {
            if (fsdir_sync_parent (path))
                return -1;
        } else if (errno != EEXIST) {
            return -1;
        } else {
            struct stat st;
            if (stat (path, &st))
                return -1;
            if (!S_ISDIR (st.st_mode)) {
                errno = ENOTDIR;
                return -1;
            }
        }
        path[i] = saved;
    }
    return 0;
}

int fsdir_lock (const char *dir)
{
    assert (dir);
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (flock (fd, LOCK_EX | LOCK_NB)) {
        int error = errno;
        close (fd);
        errno = error;
        return -1;
    }
    return fd;
}

size_t fsdir_write_all (int fd, const void *data, size_t size, off_t offset)
{
    assert (data || size == 0);
    const uint8_t *bytes = (const uint8_t *)data;
    size_t done = 0;
    while (done < size) {
        size_t part = size - done;
        if (part > (size_t)1 << 30)
            part = (size_t)1 << 30;
        ssize_t rc = offset < 0 ? write (fd, bytes + done, part)
                                : pwrite (fd, bytes + done, part, offset + (off_t)done);
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

int fsdir_write_atomic (const char *path, const void *data, size_t size)
{
    assert (path);
    char tmp[4096];
    if (snprintf (tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    if (fsdir_write_all (fd, data, size, -1) < size) {
        int error = errno;
        close (fd);
        unlink (tmp);
        errno = error;
        return -1;
    }
    if (s_sync_close (fd) || rename (tmp, path)) {
        int error = errno;
        unlink (tmp);
        errno = error;
        return -1;
    }
    return fsdir_sync_parent (path);
}
