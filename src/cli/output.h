/*  output.h - logcli's output formatting: colours, JSON, base64, grouped
    numbers and the progress bar of append -.

    Pure formatting: nothing here talks to a node. The progress bar takes
    the time as an argument (milliseconds of a monotonic clock) so that its
    rate and redraw throttling do not read a clock of their own.
*/
#ifndef OUTPUT_H_INCLUDED
#define OUTPUT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

//  Escape sequences to wrap around a word; all "" in the plain palette.
typedef struct {
    const char *green, *yellow, *red, *bold, *off;
} output_palette_t;

//  No colours at all (JSON, pipes).
const output_palette_t *output_plain (void);

//  Colours when stdout is a terminal, TERM is not "dumb" and NO_COLOR is
//  unset or empty (no-color.org); the plain palette otherwise.
const output_palette_t *output_palette (void);

//  True if FD is a terminal that understands escape sequences.
bool output_terminal (int fd);

//  The colour of a state word ("healthy", "read-only", ...): green, yellow
//  or red from P, "" for a word that has no colour.
const char *output_state_colour (const output_palette_t *p, const char *state);

//  TEXT (SIZE bytes) as a JSON string with its quotes: quotes, backslashes
//  and control characters escaped; other bytes as they are.
void output_json_string (FILE *out, const char *text, size_t size);

//  The same for a NUL-terminated TEXT.
void output_json_text (FILE *out, const char *text);

//  True if the N bytes at S are valid UTF-8 (no overlongs, no surrogates,
//  nothing above U+10FFFF).
bool output_valid_utf8 (const uint8_t *s, size_t n);

//  The N bytes at S in standard base64 with padding.
void output_base64 (FILE *out, const uint8_t *s, size_t n);

//  N with thousands separators ("1,234,567") into BUF (SIZE bytes);
//  returns BUF.
const char *output_grouped (uint64_t n, char *buf, size_t size);

//  --------------------------------------------------------------------------
//  Progress bar of a bulk append, on stderr: a bar with a percentage when
//  the input's size is known, then the count acknowledged, the rate and
//  what is in flight, redrawn in place at most every 100 ms.

//  What the bar shows.
typedef struct {
    uint64_t ok;          //  appends acknowledged
    uint64_t refused;     //  shown when not 0
    uint64_t timed_out;   //  shown when not 0
    size_t in_flight;     //  appends sent and not answered
    uint64_t done_bytes;  //  input consumed
    uint64_t total_bytes; //  input size, 0 when unknown (a pipe): no bar
} output_counts_t;

typedef struct {
    bool on; //  stderr is a terminal: draw; otherwise every call is a no-op
    int64_t started;
    int64_t last_draw;
    int64_t rate_mark; //  start of the current rate interval
    uint64_t rate_mark_ok;
    double rate; //  acknowledged appends per second
} output_progress_t;

//  Start a bar at NOW; ON false makes it draw nothing.
void output_progress_start (output_progress_t *self, bool on, int64_t now);

//  Redraw with COUNTS, unless the last draw was under 100 ms ago.
void output_progress_draw (output_progress_t *self, const output_counts_t *counts, int64_t now);

//  Wipe the bar, so that a message or the summary takes its line.
void output_progress_clear (const output_progress_t *self);

#endif
