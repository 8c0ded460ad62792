/*  epoch.c - durable epoch counter of a master's data directory.
 */
#include "epoch.h"
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int s_fail (char *err, size_t err_size, const char *what, const char *path)
{
    snprintf (err, err_size, "%s %s: %s", what, path, strerror (errno));
    return -1;
}

static int s_read (const char *path, uint64_t *value, char *err, size_t err_size)
{
    *value = 0;
    FILE *f = fopen (path, "r");
    if (!f)
        return errno == ENOENT ? 0 : s_fail (err, err_size, "cannot read", path);
    char line[64] = "";
    bool ok = fgets (line, sizeof line, f) != NULL;
    fclose (f);
    char *end = NULL;
    errno = 0;
    unsigned long long n = ok ? strtoull (line, &end, 10) : 0;
    if (!ok || errno || end == line || (*end && *end != '\n')) {
        snprintf (err, err_size, "%s holds no epoch number: fix or remove it", path);
        return -1;
    }
    *value = n;
    return 0;
}

int epoch_next (const char *dir, uint64_t now_ms, uint64_t floor, uint64_t *epoch_p, char *err,
                size_t err_size)
{
    char path[1024], tmp[1040];
    snprintf (path, sizeof path, "%s/epoch", dir);
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    uint64_t previous;
    if (s_read (path, &previous, err, err_size) != 0)
        return -1;
    uint64_t epoch = previous + 1;
    if (floor + 1 > epoch)
        epoch = floor + 1;
    if (now_ms > epoch)
        epoch = now_ms;
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return s_fail (err, err_size, "cannot write", tmp);
    char text[32];
    int len = snprintf (text, sizeof text, "%" PRIu64 "\n", epoch);
    bool ok = write (fd, text, (size_t)len) == len && fsync (fd) == 0;
    if (close (fd) != 0)
        ok = false;
    if (!ok || rename (tmp, path) != 0)
        return s_fail (err, err_size, "cannot write", path);
    int dfd = open (dir, O_RDONLY);
    if (dfd < 0 || fsync (dfd) != 0) {
        if (dfd >= 0)
            close (dfd);
        return s_fail (err, err_size, "cannot sync", dir);
    }
    close (dfd);
    *epoch_p = epoch;
    return 0;
}
