/*  log.c - one line per event on stderr: UTC timestamp, level, ident, text.

    Each line is built in a bounded local buffer and handed to stdio in one
    fwrite, which holds the stream lock for the whole line, so lines from
    different threads never interleave. The verbosity and ident are parsed
    configuration, set once at startup, hence file-static.
*/
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

//  Longer lines are cut; a log line is not a transport for bulk data.
#define LOG_LINE_MAX  1024
#define LOG_IDENT_MAX 64

static bool s_verbose = false;
static char s_ident[LOG_IDENT_MAX] = "rlog";

void log_set_verbose (bool verbose)
{
    s_verbose = verbose;
}

bool log_verbose (void)
{
    return s_verbose;
}

void log_set_ident (const char *ident)
{
    if (!ident || !*ident)
        ident = "rlog";
    size_t size = strlen (ident);
    if (size >= sizeof s_ident)
        size = sizeof s_ident - 1;
    memcpy (s_ident, ident, size);
    s_ident[size] = '\0';
}

static void s_log (char level, const char *format, va_list args)
{
    //  Callers often log a failure and then inspect errno.
    int saved_errno = errno;
    char line[LOG_LINE_MAX];
    size_t size = 0;

    struct timespec now;
    struct tm tm;
    if (clock_gettime (CLOCK_REALTIME, &now) == 0 && gmtime_r (&now.tv_sec, &tm))
        size = strftime (line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    if (size > 0) {
        int rc =
            snprintf (line + size, sizeof line - size, ".%03dZ ", (int)(now.tv_nsec / 1000000));
        size += rc > 0 ? (size_t)rc : 0;
    }
    int rc = snprintf (line + size, sizeof line - size, "%c %s: ", level, s_ident);
    if (rc > 0)
        size += (size_t)rc;
    //  Leave room for the newline; the ident is bounded well below this.
    if (size < sizeof line - 1) {
        errno = saved_errno; //  so %m, if used, reports the caller's error
        rc = vsnprintf (line + size, sizeof line - 1 - size, format, args);
        if (rc > 0)
            size += (size_t)rc < sizeof line - 1 - size ? (size_t)rc : sizeof line - 2 - size;
    } else
        size = sizeof line - 2;
    //  A message that brings its own newline should not leave a blank line.
    while (size > 0 && line[size - 1] == '\n')
        size--;
    line[size++] = '\n';
    fwrite (line, 1, size, stderr);
    errno = saved_errno;
}

void log_debug (const char *format, ...)
{
    if (!s_verbose)
        return;
    va_list args;
    va_start (args, format);
    s_log ('D', format, args);
    va_end (args);
}

void log_info (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_log ('I', format, args);
    va_end (args);
}

void log_warn (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_log ('W', format, args);
    va_end (args);
}

void log_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_log ('E', format, args);
    va_end (args);
}

void log_at (int level, const char *text)
{
    if (level >= 2)
        log_error ("%s", text);
    else if (level == 1)
        log_warn ("%s", text);
    else
        log_info ("%s", text);
}
