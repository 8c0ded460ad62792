/*  meta.c - a node's history identity, epoch and vote (meta.h).

    The file is small text, so an operator can read it; it is parsed
    strictly (every line known, every value in range, format 2 first) and
    written whole through fsdir_write_atomic, so a crash leaves the old
    file or the new one, never a mix.
*/
#include "meta.h"
#include "fsdir.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define META_FILE_MAX 4096
#define META_FORMAT   "format 2"

static int s_fail (char *err, size_t err_size, const char *format, const char *dir,
                   const char *what)
{
    if (err && err_size)
        snprintf (err, err_size, format, dir, what);
    return -1;
}

const char *meta_history_hex (const uint8_t *history, char *buf, size_t size)
{
    assert (buf && size > 0);
    buf[0] = 0;
    if (!history || size < 2 * META_HISTORY_SIZE + 1)
        return buf;
    for (size_t i = 0; i < META_HISTORY_SIZE; i++)
        snprintf (buf + 2 * i, 3, "%02x", history[i]);
    return buf;
}

static int s_hex_digit (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

//  One decimal uint64 filling VALUE exactly.
static bool s_parse_u64 (const char *value, uint64_t *out)
{
    if (*value < '0' || *value > '9' || (value[0] == '0' && value[1]))
        return false;
    uint64_t n = 0;
    for (const char *p = value; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        uint64_t digit = (uint64_t)(*p - '0');
        if (n > (UINT64_MAX - digit) / 10)
            return false;
        n = n * 10 + digit;
    }
    *out = n;
    return true;
}

static bool s_parse_history (const char *value, meta_t *meta)
{
    if (strcmp (value, "-") == 0) {
        meta->has_history = false;
        return true;
    }
    if (strlen (value) != 2 * META_HISTORY_SIZE)
        return false;
    for (size_t i = 0; i < META_HISTORY_SIZE; i++) {
        int hi = s_hex_digit (value[2 * i]), lo = s_hex_digit (value[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        meta->history[i] = (uint8_t)(hi << 4 | lo);
    }
    meta->has_history = true;
    return true;
}

//  A node id: 1..META_ID_MAX printable bytes without spaces, or "-".
static bool s_parse_id (const char *value, meta_t *meta)
{
    size_t size = strlen (value);
    if (strcmp (value, "-") == 0) {
        meta->voted_for[0] = 0;
        return true;
    }
    if (size == 0 || size > META_ID_MAX)
        return false;
    for (size_t i = 0; i < size; i++)
        if (value[i] <= ' ' || value[i] > '~')
            return false;
    memcpy (meta->voted_for, value, size + 1);
    return true;
}

//  One "key value" line into META; SEEN marks the keys read. False if bad.
static bool s_parse_line (char *line, meta_t *meta, unsigned *seen)
{
    char *space = strchr (line, ' ');
    if (!space)
        return false;
    *space = 0;
    const char *key = line, *value = space + 1;
    static const char *keys[] = {"history", "epoch", "voted_epoch", "voted_for"};
    for (unsigned k = 0; k < 4; k++) {
        if (strcmp (key, keys[k]) != 0)
            continue;
        if (*seen & (1u << k))
            return false; //  twice
        *seen |= 1u << k;
        switch (k) {
        case 0:
            return s_parse_history (value, meta);
        case 1:
            return s_parse_u64 (value, &meta->epoch);
        case 2:
            return s_parse_u64 (value, &meta->voted_epoch);
        default:
            return s_parse_id (value, meta);
        }
    }
    return false;
}

//  Parse the whole file TEXT (NUL-terminated) into META.
static int s_parse (char *text, meta_t *meta, const char *path, char *err, size_t err_size)
{
    unsigned seen = 0;
    char *line = text;
    int number = 0;
    while (*line) {
        char *end = strchr (line, '\n');
        if (!end)
            return s_fail (err, err_size, "%s: %s", path, "last line not terminated");
        *end = 0;
        number++;
        if (number == 1) {
            if (strcmp (line, META_FORMAT) != 0)
                return s_fail (err, err_size, "%s: %s", path,
                               "not an rlog meta file (" META_FORMAT ")");
        } else if (!s_parse_line (line, meta, &seen)) {
            char why[64];
            snprintf (why, sizeof why, "bad line %d", number);
            return s_fail (err, err_size, "%s: %s", path, why);
        }
        line = end + 1;
    }
    if (number == 0)
        return s_fail (err, err_size, "%s: %s", path, "not an rlog meta file (" META_FORMAT ")");
    if (seen != 0xF)
        return s_fail (err, err_size, "%s: %s", path, "a key is missing");
    return 0;
}

int meta_load (const char *dir, meta_t *meta, char *err, size_t err_size)
{
    assert (dir && meta);
    memset (meta, 0, sizeof *meta);
    char path[4096];
    if (snprintf (path, sizeof path, "%s/meta", dir) >= (int)sizeof path)
        return s_fail (err, err_size, "%s/meta: %s", dir, "path too long");
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return s_fail (err, err_size, "cannot read %s: %s", path, strerror (errno));
    }
    char text[META_FILE_MAX + 1];
    size_t size = 0;
    ssize_t rc;
    while (size < sizeof text && (rc = read (fd, text + size, sizeof text - size)) != 0) {
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0) {
            int error = errno;
            close (fd);
            return s_fail (err, err_size, "cannot read %s: %s", path, strerror (error));
        }
        size += (size_t)rc;
    }
    close (fd); //  read only: nothing to lose
    if (size > META_FILE_MAX || memchr (text, 0, size))
        return s_fail (err, err_size, "%s: %s", path, "not an rlog meta file (" META_FORMAT ")");
    text[size] = 0;
    meta_t loaded;
    memset (&loaded, 0, sizeof loaded);
    if (s_parse (text, &loaded, path, err, err_size))
        return -1;
    *meta = loaded;
    return 0;
}

int meta_save (const char *dir, const meta_t *meta, char *err, size_t err_size)
{
    assert (dir && meta);
    char path[4096], hex[2 * META_HISTORY_SIZE + 1], text[256];
    if (snprintf (path, sizeof path, "%s/meta", dir) >= (int)sizeof path)
        return s_fail (err, err_size, "%s/meta: %s", dir, "path too long");
    size_t id_size = strnlen (meta->voted_for, sizeof meta->voted_for);
    meta_t check;
    if (id_size > META_ID_MAX || (id_size && !s_parse_id (meta->voted_for, &check)))
        return s_fail (err, err_size, "%s: %s", path, "voted_for is not a node id");
    int size = snprintf (
        text, sizeof text,
        META_FORMAT "\nhistory %s\nepoch %" PRIu64 "\nvoted_epoch %" PRIu64 "\nvoted_for %s\n",
        meta->has_history ? meta_history_hex (meta->history, hex, sizeof hex) : "-", meta->epoch,
        meta->voted_epoch, id_size ? meta->voted_for : "-");
    assert (size > 0 && (size_t)size < sizeof text);
    if (fsdir_write_atomic (path, text, (size_t)size))
        return s_fail (err, err_size, "cannot write %s: %s", path, strerror (errno));
    return 0;
}

//  SIZE random bytes from the kernel; false when none can be had.
static bool s_random (uint8_t *out, size_t size)
{
    size_t done = 0;
    while (done < size) {
        ssize_t rc = getrandom (out + done, size - done, 0);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            break;
        done += (size_t)rc;
    }
    if (done == size)
        return true;
    int fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = read (fd, out, size) == (ssize_t)size;
    close (fd);
    return ok;
}

void meta_new_history (meta_t *meta)
{
    assert (meta);
    if (!s_random (meta->history, META_HISTORY_SIZE)) {
        //  No kernel randomness at all: mix what differs between two starts
        //  (time, pid, an address) through splitmix64; unique enough that
        //  two histories do not collide, which is all the id must do
        struct timespec ts;
        clock_gettime (CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        x ^= (uint64_t)getpid () << 32 ^ (uint64_t)(uintptr_t)meta;
        for (size_t i = 0; i < META_HISTORY_SIZE; i += 8) {
            uint64_t z = (x += UINT64_C (0x9E3779B97F4A7C15));
            z = (z ^ (z >> 30)) * UINT64_C (0xBF58476D1CE4E5B9);
            z = (z ^ (z >> 27)) * UINT64_C (0x94D049BB133111EB);
            z ^= z >> 31;
            memcpy (meta->history + i, &z, 8);
        }
    }
    meta->has_history = true;
}
