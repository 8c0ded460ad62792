/*  output.c - logcli's output formatting (see output.h).

    Owns the look of what logcli prints, apart from the words of each
    command: the colour palette and which state gets which colour, JSON
    string escaping, the UTF-8 check that decides between "message" and
    "base64" in list --json, base64 itself, thousands separators, and the
    progress bar of append -. The commands decide what to print; this file
    decides how it looks.

    Colours: only on a terminal, never with NO_COLOR set (no-color.org) or
    a dumb terminal. The bar: stderr only, throttled to ten draws a second,
    wiped (carriage return, clear to end of line) before anything else is
    printed on its line.
*/
#include "output.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const output_palette_t s_plain = {"", "", "", "", ""};
static const output_palette_t s_ansi = {"\033[32m", "\033[33m", "\033[31m", "\033[1m", "\033[0m"};

const output_palette_t *output_plain (void)
{
    return &s_plain;
}

bool output_terminal (int fd)
{
    const char *term = getenv ("TERM");
    return isatty (fd) && !(term && strcmp (term, "dumb") == 0);
}

const output_palette_t *output_palette (void)
{
    const char *no_color = getenv ("NO_COLOR");
    if ((no_color && *no_color) || !output_terminal (STDOUT_FILENO))
        return &s_plain;
    return &s_ansi;
}

static bool s_one_of (const char *word, const char *const *list)
{
    for (; *list; list++)
        if (strcmp (word, *list) == 0)
            return true;
    return false;
}

const char *output_state_colour (const output_palette_t *p, const char *state)
{
    static const char *const good[] = {"healthy", "read-write", "following", "reachable", NULL};
    static const char *const doubt[] = {"suspected", "catching-up", NULL};
    static const char *const bad[] = {"unhealthy", "read-only", "disconnected", "unreachable",
                                      NULL};
    if (s_one_of (state, good))
        return p->green;
    if (s_one_of (state, doubt))
        return p->yellow;
    if (s_one_of (state, bad))
        return p->red;
    return "";
}

//  --------------------------------------------------------------------------
//  JSON, UTF-8, base64

void output_json_string (FILE *out, const char *text, size_t size)
{
    fputc ('"', out);
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\')
            fprintf (out, "\\%c", c);
        else if (c == '\n')
            fputs ("\\n", out);
        else if (c == '\t')
            fputs ("\\t", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf (out, "\\u%04x", c);
        else
            fputc (c, out);
    }
    fputc ('"', out);
}

void output_json_text (FILE *out, const char *text)
{
    output_json_string (out, text, strlen (text));
}

//  Length of the sequence that lead byte C starts, 0 if C cannot lead one.
static size_t s_utf8_length (uint8_t c)
{
    if (c < 0x80)
        return 1;
    if ((c >> 5) == 6)
        return 2;
    if ((c >> 4) == 14)
        return 3;
    return (c >> 3) == 30 ? 4 : 0;
}

//  The N bytes at S (one sequence of a length s_utf8_length allows, its
//  continuation bytes already checked) encode a code point in that
//  length's range, and not a surrogate.
static bool s_utf8_in_range (const uint8_t *s, size_t len)
{
    if (len == 2)
        return s[0] >= 0xc2;
    if (len == 3) {
        uint32_t cp = ((s[0] & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu);
        return cp >= 0x800 && !(cp >= 0xd800 && cp <= 0xdfff);
    }
    if (len == 4) {
        uint32_t cp = ((s[0] & 0x07u) << 18) | ((s[1] & 0x3fu) << 12) | ((s[2] & 0x3fu) << 6) |
                      (s[3] & 0x3fu);
        return cp >= 0x10000 && cp <= 0x10ffff;
    }
    return true;
}

bool output_valid_utf8 (const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t len = s_utf8_length (s[i]);
        if (len == 0 || i + len > n)
            return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        if (!s_utf8_in_range (s + i, len))
            return false;
        i += len;
    }
    return true;
}

void output_base64 (FILE *out, const uint8_t *s, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        fputc (alphabet[(v >> 18) & 63], out);
        fputc (alphabet[(v >> 12) & 63], out);
        fputc (i + 1 < n ? alphabet[(v >> 6) & 63] : '=', out);
        fputc (i + 2 < n ? alphabet[v & 63] : '=', out);
    }
}

//  Progress counts are read at a glance, not parsed: "1,234,567".
const char *output_grouped (uint64_t n, char *buf, size_t size)
{
    char digits[32];
    int len = snprintf (digits, sizeof digits, "%" PRIu64, n);
    size_t out = 0;
    for (int i = 0; i < len && out + 2 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[out++] = ',';
        buf[out++] = digits[i];
    }
    buf[out] = 0;
    return buf;
}

//  --------------------------------------------------------------------------
//  Progress bar

void output_progress_start (output_progress_t *self, bool on, int64_t now)
{
    memset (self, 0, sizeof *self);
    self->on = on;
    self->started = self->rate_mark = now;
    self->last_draw = now - 1000; //  the first draw is not throttled
}

void output_progress_clear (const output_progress_t *self)
{
    if (self->on)
        fputs ("\r\033[K", stderr);
}

//  Rate over the last second or so: steadier than per draw, current
//  enough to show a stall. Before the first full second, since the start.
static void s_progress_rate (output_progress_t *self, uint64_t ok, int64_t now)
{
    if (now - self->rate_mark >= 1000) {
        self->rate = (double)(ok - self->rate_mark_ok) * 1000.0 / (double)(now - self->rate_mark);
        self->rate_mark = now;
        self->rate_mark_ok = ok;
    } else if (self->rate_mark == self->started && now > self->started)
        self->rate = (double)ok * 1000.0 / (double)(now - self->started);
}

static void s_progress_bar (const output_counts_t *counts)
{
    const int width = 30;
    double frac = (double)counts->done_bytes / (double)counts->total_bytes;
    frac = frac > 1 ? 1 : frac;
    int fill = (int)(frac * width);
    fputc ('[', stderr);
    for (int i = 0; i < width; i++)
        fputc (i < fill ? '#' : '-', stderr);
    fprintf (stderr, "] %3d%%  ", (int)(frac * 100));
}

void output_progress_draw (output_progress_t *self, const output_counts_t *counts, int64_t now)
{
    if (!self->on || now - self->last_draw < 100)
        return;
    self->last_draw = now;
    s_progress_rate (self, counts->ok, now);
    char ok[32], rate[32], flight[32];
    output_grouped (counts->ok, ok, sizeof ok);
    output_grouped ((uint64_t)(self->rate + 0.5), rate, sizeof rate);
    output_grouped (counts->in_flight, flight, sizeof flight);
    fputs ("\r", stderr);
    if (counts->total_bytes)
        s_progress_bar (counts);
    fprintf (stderr, "%s appended  %s/s  %s in flight", ok, rate, flight);
    if (counts->refused)
        fprintf (stderr, "  %" PRIu64 " refused", counts->refused);
    if (counts->timed_out)
        fprintf (stderr, "  %" PRIu64 " timed out", counts->timed_out);
    fputs ("\033[K", stderr);
    fflush (stderr);
}
