/*  logcli.c - command-line client over librlog: flag parsing, output
    formatting, and the loops behind append -, list --follow and
    status --watch. Exit codes: 0 ok, 1 local failure, 2 usage, 3 refused,
    4 timed out, 5 unreachable, 130 interrupted.

    Signals: zsys_init() installs czmq's SIGINT / SIGTERM handler, the one
    librlog's blocking calls already honour, so one flag (zsys_interrupted)
    ends both our loops and a request in progress.
*/
#include "rlog.h"
#include <czmq.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static bool streq_opt (const char *a, const char *b)
{
    return strcmp (a, b) == 0;
}

#define EXIT_USAGE       2
#define EXIT_REFUSED     3
#define EXIT_TIMEDOUT    4
#define EXIT_UNREACHABLE 5
#define EXIT_INTERRUPTED 130

#define FOLLOW_POLL_MS 100
#define WATCH_MS       1000
#define LIST_PAGE      4096 //  entries in a full LIST reply
#define WINDOW_DEFAULT 1000
//  The master remembers the last 1024 request ids per client; resending a
//  whole window after a silence must stay inside that, or it gets STALE.
#define WINDOW_MAX 1000
//  Errors of a bulk append printed one by one before only counting them.
#define ERRORS_SHOWN 5
//  A message longer than this is checked against the node's --max-msg
//  (asked once, with STATUS) and not sent if it is over. A node drops a
//  frame above max-msg + 64 KiB together with the connection, so such a
//  message would only ever meet silence; a shorter one that is still too
//  large gets the node's own TOO_LARGE answer.
#define SIZE_CHECK_ABOVE 32768

static const char *s_usage_text =
    "usage: logcli [-e ENDPOINT] COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  append [-w N] [-t MS] MESSAGE   append MESSAGE; prints its seq\n"
    "  append [-w N] [-t MS] [--window N] -\n"
    "              append each line of stdin as one message (the newline is not\n"
    "              part of it; empty lines are skipped), keeping up to N appends in\n"
    "              flight (--window, 1..1000, default 1000); a progress bar with\n"
    "              the rate on a terminal; ends with \"appended N of M (K refused,\n"
    "              T timed out)\" on stderr\n"
    "      -w N    write concern: master + N-1 secondaries hold it (default 1);\n"
    "              below 1 is a usage error (exit 2), above the cluster's node\n"
    "              count the master refuses it (exit 3)\n"
    "      -t MS   give up waiting after MS ms: the entry stays and keeps\n"
    "              replicating (default 0 = wait as long as it takes)\n"
    "  list [--from SEQ] [--limit N] [--json] [--follow]\n"
    "              the node's gap-free log, one message per line, in seq order,\n"
    "              from SEQ (default 1), at most N entries (default 0: all),\n"
    "              fetched page by page; --json: one object per line\n"
    "              {\"seq\":N,\"message\":\"...\"}, or {\"seq\":N,\"base64\":\"...\"} when\n"
    "              the message is not UTF-8; --follow: then keep printing new\n"
    "              entries as they arrive (polls every 100 ms) until Ctrl-C\n"
    "  status [--json] [--watch]       role, head, mode and per-secondary state;\n"
    "              colours on a terminal; --watch: refresh every second until\n"
    "              Ctrl-C\n"
    "  keygen NAME                     write a CURVE certificate: NAME (public;\n"
    "              goes into the nodes' allow directory) and NAME_secret (private)\n"
    "\n"
    "options (before or after the command; \"--\" ends them, so append -- -x\n"
    "appends -x):\n"
    "  -e, --endpoint ENDPOINT   node to talk to (env RLOG_ENDPOINT,\n"
    "                            default tcp://127.0.0.1:5555)\n"
    "  --curve-secret FILE       CURVE: our certificate (FILE and FILE_secret,\n"
    "                            env RLOG_CURVE_SECRET), for nodes that require keys\n"
    "  --server-key FILE         CURVE: the node's public certificate (env\n"
    "                            RLOG_SERVER_KEY); goes with --curve-secret\n"
    "  --retry-ms MS             wait for a reply before probing/retrying (1000)\n"
    "  --retries N               silent tries before giving up (3)\n"
    "  -h, --help                this text\n"
    "\n"
    "environment: RLOG_ENDPOINT, RLOG_CURVE_SECRET, RLOG_SERVER_KEY (as the\n"
    "options), NO_COLOR (no colours).\n"
    "\n"
    "exit status: 0 ok, 1 local failure (reading stdin, writing stdout), 2 usage\n"
    "error (including -w below 1), 3 refused (read-only, w above the number of\n"
    "nodes, too large, not master, busy, ...), 4 timed out (the entry was stored\n"
    "and stays), 5 unreachable, 130 interrupted (an append interrupted while it\n"
    "waits may be stored already; list --follow and status --watch exit 0 on\n"
    "Ctrl-C). append - exits 5 if some appends got no answer, else 3 if any was\n"
    "refused, else 4 if any timed out.\n";

static int s_usage_error (const char *format, const char *arg)
{
    fprintf (stderr, "logcli: ");
    fprintf (stderr, format, arg);
    fprintf (stderr, "\n(see logcli --help)\n");
    return EXIT_USAGE;
}

static int s_exit_code (int rc)
{
    if (rc == RLOG_OK)
        return 0;
    if (zsys_interrupted)
        return EXIT_INTERRUPTED;
    if (rc == RLOG_TIMEOUT)
        return EXIT_TIMEDOUT;
    if (rc == RLOG_UNREACHABLE)
        return EXIT_UNREACHABLE;
    if (rc == RLOG_INVALID)
        return EXIT_USAGE;
    return EXIT_REFUSED;
}

static int s_fail (rlog_client_t *client, const char *command, int rc)
{
    fprintf (stderr, "logcli: %s: %s\n", command,
             rlog_client_error (client)[0] ? rlog_client_error (client) : rlog_strerror (rc));
    return s_exit_code (rc);
}

static int s_number (const char *text, uint64_t *value)
{
    char *end = NULL;
    errno = 0;
    if (!text || !isdigit ((unsigned char)*text))
        return -1;
    unsigned long long n = strtoull (text, &end, 10);
    if (errno || *end)
        return -1;
    *value = n;
    return 0;
}

//  "1,234,567": progress counts are read at a glance, not parsed.
static const char *s_grouped (uint64_t n, char *buf, size_t size)
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

static void s_sleep_ms (int64_t ms)
{
    //  Returns early on a signal, which is what the loops want.
    if (ms > 0)
        zclock_sleep ((int)ms);
}

//  --------------------------------------------------------------------------
//  Colours: only on a terminal, never with NO_COLOR set (no-color.org) or a
//  dumb terminal.

typedef struct {
    const char *green, *yellow, *red, *bold, *off;
} palette_t;

static const palette_t s_plain = {"", "", "", "", ""};
static const palette_t s_ansi = {"\033[32m", "\033[33m", "\033[31m", "\033[1m", "\033[0m"};

static bool s_terminal (int fd)
{
    const char *term = getenv ("TERM");
    return isatty (fd) && !(term && streq_opt (term, "dumb"));
}

static const palette_t *s_palette (void)
{
    const char *no_color = getenv ("NO_COLOR");
    if ((no_color && *no_color) || !s_terminal (STDOUT_FILENO))
        return &s_plain;
    return &s_ansi;
}

static const char *s_state_colour (const palette_t *p, const char *state)
{
    if (streq_opt (state, "healthy") || streq_opt (state, "read-write") ||
        streq_opt (state, "following") || streq_opt (state, "reachable"))
        return p->green;
    if (streq_opt (state, "suspected") || streq_opt (state, "catching-up"))
        return p->yellow;
    if (streq_opt (state, "unhealthy") || streq_opt (state, "read-only") ||
        streq_opt (state, "disconnected") || streq_opt (state, "unreachable"))
        return p->red;
    return "";
}

//  --------------------------------------------------------------------------
//  JSON output

//  JSON string body: escapes quotes, backslashes and control characters.
static void s_json_string (FILE *out, const char *text, size_t size)
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

static bool s_valid_utf8 (const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n || (len == 2 && c < 0xc2))
            return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        if (len == 3) {
            uint32_t cp = ((c & 0x0fu) << 12) | ((s[i + 1] & 0x3fu) << 6) | (s[i + 2] & 0x3fu);
            if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))
                return false;
        }
        if (len == 4) {
            uint32_t cp = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3fu) << 12) |
                          ((s[i + 2] & 0x3fu) << 6) | (s[i + 3] & 0x3fu);
            if (cp < 0x10000 || cp > 0x10ffff)
                return false;
        }
        i += len;
    }
    return true;
}

static void s_base64 (FILE *out, const uint8_t *s, size_t n)
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

//  What every command gets: the node, and how to reach it.
typedef struct {
    rlog_client_t *client;
    const char *endpoint;
    int retry_ms;
    int retries;
    const char *curve_secret; //  NULL without CURVE
    const char *server_key;
    bool max_msg_asked;
    uint64_t max_msg; //  the node's --max-msg, 0 if unknown
} context_t;

//  The node's --max-msg, asked the first time it matters; 0 when the node
//  does not answer or does not say (then the message goes out and the node
//  judges it).
static uint64_t s_max_msg (context_t *ctx)
{
    if (!ctx->max_msg_asked) {
        ctx->max_msg_asked = true;
        rlog_status_t status;
        if (rlog_client_status (ctx->client, &status) == RLOG_OK)
            ctx->max_msg = status.max_msg;
    }
    return ctx->max_msg;
}

//  True, with the reason in TEXT, if SIZE bytes exceed the node's limit.
static bool s_too_large (context_t *ctx, size_t size, char *text, size_t text_size)
{
    if (size <= SIZE_CHECK_ABOVE)
        return false;
    uint64_t max = s_max_msg (ctx);
    if (!max || size <= max)
        return false;
    snprintf (text, text_size, "longer than the node's --max-msg of %" PRIu64 " bytes: not sent",
              max);
    return true;
}

//  --------------------------------------------------------------------------
//  append

typedef struct {
    bool used;     //  holds a line from read to completion
    bool sent;     //  submitted at least once
    uint64_t id;   //  request id it was (or will be) submitted under
    uint64_t line; //  input line number, for error messages
    char *data;
    size_t size;
    size_t cap;
} slot_t;

typedef struct {
    context_t *ctx;
    const char *endpoint;
    rlog_client_t *client; //  probes the node when replies stop coming
    rlog_pipeline_t *pipe;
    int retry_ms;
    int retries;
    //  Window: the line submitted as request id k lives in slots[(k-1) % window]
    //  until answered, so it can be resent under the same id.
    slot_t *slots;
    size_t window;
    size_t in_flight; //  sent and not answered
    uint64_t next_id; //  id of the next submit (the pipeline counts the same)
    //  Counts for the summary: ok + refused + timed_out + unanswered = messages.
    uint64_t messages, ok, refused, timed_out, unanswered, skipped;
    int errors; //  distinct error texts shown
    char shown[ERRORS_SHOWN][256];
    bool stop_reading; //  every further append would be refused the same way
    //  Input: raw reads, so stdin can be polled together with the replies.
    char *buf;
    size_t start, len, cap;
    bool eof;
    uint64_t line_no;
    uint64_t total_bytes; //  0 when stdin is not a regular file
    uint64_t done_bytes;
    //  Progress bar
    bool progress;
    int64_t started, last_draw, rate_mark, last_answer;
    uint64_t rate_mark_ok;
    double rate;
} bulk_t;

static void s_progress_clear (bulk_t *b)
{
    if (b->progress)
        fputs ("\r\033[K", stderr);
}

//  Shows each distinct error once (up to ERRORS_SHOWN of them): a thousand
//  lines refused for the same reason need one line, and the summary counts.
static void s_bulk_error (bulk_t *b, uint64_t line, int code, uint64_t seq, const char *detail)
{
    const char *text = detail && *detail ? detail : rlog_strerror (code);
    for (int i = 0; i < b->errors && i < ERRORS_SHOWN; i++)
        if (streq_opt (b->shown[i], text))
            return;
    if (b->errors > ERRORS_SHOWN)
        return;
    s_progress_clear (b);
    if (b->errors == ERRORS_SHOWN) {
        fprintf (stderr, "logcli: append: more errors follow, counted but not shown\n");
        b->errors++;
        return;
    }
    snprintf (b->shown[b->errors++], sizeof b->shown[0], "%s", text);
    if (seq)
        fprintf (stderr, "logcli: append: line %" PRIu64 ": %s (seq %" PRIu64 ")\n", line, text,
                 seq);
    else
        fprintf (stderr, "logcli: append: line %" PRIu64 ": %s\n", line, text);
}

static void s_progress_draw (bulk_t *b)
{
    if (!b->progress)
        return;
    int64_t now = zclock_mono ();
    if (now - b->last_draw < 100)
        return;
    b->last_draw = now;
    //  Rate over the last second or so: steadier than per-draw, current
    //  enough to show a stall.
    if (now - b->rate_mark >= 1000) {
        b->rate = (double)(b->ok - b->rate_mark_ok) * 1000.0 / (double)(now - b->rate_mark);
        b->rate_mark = now;
        b->rate_mark_ok = b->ok;
    } else if (b->rate_mark == b->started && now > b->started)
        b->rate = (double)b->ok * 1000.0 / (double)(now - b->started);
    char ok[32], rate[32], flight[32];
    s_grouped (b->ok, ok, sizeof ok);
    s_grouped ((uint64_t)(b->rate + 0.5), rate, sizeof rate);
    s_grouped (b->in_flight, flight, sizeof flight);
    fputs ("\r", stderr);
    if (b->total_bytes) {
        const int width = 30;
        double frac = (double)b->done_bytes / (double)b->total_bytes;
        frac = frac > 1 ? 1 : frac;
        int fill = (int)(frac * width);
        fputc ('[', stderr);
        for (int i = 0; i < width; i++)
            fputc (i < fill ? '#' : '-', stderr);
        fprintf (stderr, "] %3d%%  ", (int)(frac * 100));
    }
    fprintf (stderr, "%s appended  %s/s  %s in flight", ok, rate, flight);
    if (b->refused)
        fprintf (stderr, "  %" PRIu64 " refused", b->refused);
    if (b->timed_out)
        fprintf (stderr, "  %" PRIu64 " timed out", b->timed_out);
    fputs ("\033[K", stderr);
    fflush (stderr);
}

//  Next complete line of input into *LINE/*SIZE (not NUL-terminated,
//  newline removed). Returns 1, or 0 when none is buffered.
static int s_next_line (bulk_t *b, const char **line, size_t *size)
{
    if (b->start >= b->len)
        return 0;
    char *base = b->buf + b->start;
    size_t avail = b->len - b->start;
    char *nl = (char *)memchr (base, '\n', avail);
    if (!nl && !b->eof)
        return 0;
    size_t n = nl ? (size_t)(nl - base) : avail;
    *line = base;
    *size = n;
    b->start += nl ? n + 1 : n;
    b->done_bytes += nl ? n + 1 : n;
    b->line_no++;
    return 1;
}

static bool s_line_ready (const bulk_t *b)
{
    return b->start < b->len && (b->eof || memchr (b->buf + b->start, '\n', b->len - b->start));
}

//  Read what stdin has, waiting up to WAIT_MS for it. -1 on a read error.
static int s_read_input (bulk_t *b, int wait_ms)
{
    struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
    int ready = poll (&pfd, 1, wait_ms);
    if (ready <= 0)
        return 0; //  nothing yet, or a signal (the caller checks for it)
    if (b->start > 0 && b->start == b->len)
        b->start = b->len = 0;
    else if (b->start > b->cap / 2) {
        memmove (b->buf, b->buf + b->start, b->len - b->start);
        b->len -= b->start;
        b->start = 0;
    }
    if (b->cap - b->len < 65536) {
        size_t cap = b->cap ? b->cap * 2 : 262144;
        char *buf = (char *)realloc (b->buf, cap);
        if (!buf) {
            fprintf (stderr, "logcli: append: out of memory for a %zu-byte line\n", b->len);
            return -1;
        }
        b->buf = buf;
        b->cap = cap;
    }
    ssize_t got = read (STDIN_FILENO, b->buf + b->len, b->cap - b->len);
    if (got < 0 && errno == EINTR)
        return 0;
    if (got < 0) {
        fprintf (stderr, "logcli: append: reading stdin: %s\n", strerror (errno));
        return -1;
    }
    if (got == 0)
        b->eof = true;
    b->len += (size_t)got;
    return 0;
}

static slot_t *s_slot (bulk_t *b, uint64_t id)
{
    return &b->slots[(id - 1) % b->window];
}

//  Move complete input lines into free slots and submit them, as far as
//  the window and the socket allow. -1 on a fatal error.
static int s_fill_window (bulk_t *b)
{
    while (true) {
        slot_t *slot = s_slot (b, b->next_id);
        if (slot->used && slot->sent)
            return 0; //  window full
        if (!slot->used) {
            const char *line;
            size_t size;
            if (b->stop_reading || !s_next_line (b, &line, &size))
                return 0;
            if (size == 0) {
                b->skipped++;
                continue;
            }
            char why[128];
            if (s_too_large (b->ctx, size, why, sizeof why)) {
                b->messages++;
                b->refused++;
                s_bulk_error (b, b->line_no, RLOG_TOO_LARGE, 0, why);
                continue;
            }
            if (size > slot->cap) {
                char *data = (char *)realloc (slot->data, size);
                if (!data) {
                    fprintf (stderr, "logcli: append: out of memory\n");
                    return -1;
                }
                slot->data = data;
                slot->cap = size;
            }
            memcpy (slot->data, line, size);
            slot->size = size;
            slot->used = true;
            slot->sent = false;
            slot->id = b->next_id;
            slot->line = b->line_no;
            b->messages++;
        }
        uint64_t id = rlog_pipeline_submit (b->pipe, slot->data, slot->size);
        if (id == 0)
            return 0; //  socket full: it stays in its slot for the next turn
        if (id != slot->id) {
            fprintf (stderr, "logcli: append: internal error: request ids out of step\n");
            return -1;
        }
        slot->sent = true;
        b->in_flight++;
        b->next_id++;
    }
}

static void s_complete (bulk_t *b, slot_t *slot, const rlog_completion_t *c, const char *detail)
{
    b->last_answer = zclock_mono ();
    if (c->code == RLOG_OK)
        b->ok++;
    else if (c->code == RLOG_TIMEOUT) {
        b->timed_out++;
        s_bulk_error (b, slot->line, c->code, c->seq, detail);
    } else {
        b->refused++;
        s_bulk_error (b, slot->line, c->code, 0, detail);
        //  Wrong w or not the master: every later line would be refused
        //  the same way, so stop reading instead of refusing them all.
        if (c->code == RLOG_BAD_W || c->code == RLOG_NOT_MASTER)
            b->stop_reading = true;
    }
    slot->used = false;
    slot->sent = false;
    b->in_flight--;
}

static slot_t *s_oldest_in_flight (bulk_t *b)
{
    uint64_t first = b->next_id > b->window ? b->next_id - b->window : 1;
    for (uint64_t id = first; id < b->next_id; id++) {
        slot_t *slot = s_slot (b, id);
        if (slot->used && slot->sent && slot->id == id)
            return slot;
    }
    return NULL;
}

static void s_collect (bulk_t *b, int wait_ms)
{
    rlog_completion_t done[256];
    size_t n = rlog_pipeline_collect (b->pipe, wait_ms, done, 256);
    for (size_t i = 0; i < n; i++) {
        const rlog_completion_t *c = &done[i];
        const char *detail = rlog_pipeline_detail (b->pipe, i);
        slot_t *slot = NULL;
        if (c->req_id) {
            slot = s_slot (b, c->req_id);
            //  A second answer to a resent append: already counted.
            if (!slot->used || !slot->sent || slot->id != c->req_id)
                continue;
        } else {
            //  An ERROR frame names no request (a secondary answers appends
            //  with NOT_MASTER this way). Nodes answer errors at once, in the
            //  order requests arrive, so it is the oldest one still open.
            slot = s_oldest_in_flight (b);
            if (!slot)
                continue;
        }
        s_complete (b, slot, c, detail);
    }
}

//  No answer for a while. A live node may simply be waiting for the write
//  concern, or the connection dropped and took requests or replies with it:
//  resending under the same ids costs the node a dedup lookup in the first
//  case and recovers the second. Returns false when it is time to give up.
static bool s_on_silence (bulk_t *b, int *lost_rounds)
{
    rlog_status_t status;
    int rc = rlog_client_status (b->client, &status);
    if (rc != RLOG_OK) {
        if (!zsys_interrupted) {
            s_progress_clear (b);
            fprintf (stderr, "logcli: append: %s (%zu appends may or may not have been stored)\n",
                     rlog_client_error (b->client), b->in_flight);
        }
        return false;
    }
    //  Nothing parked on the node and still no answers: the requests never
    //  arrive. A line above the node's frame limit drops the connection
    //  every time it is sent.
    *lost_rounds = status.waiting == 0 ? *lost_rounds + 1 : 0;
    if (*lost_rounds > b->retries) {
        s_progress_clear (b);
        fprintf (stderr,
                 "logcli: append: %s answers none of %zu appends (is a line longer than its "
                 "--max-msg?)\n",
                 b->endpoint, b->in_flight);
        return false;
    }
    uint64_t first = b->next_id > b->window ? b->next_id - b->window : 1;
    for (uint64_t id = first; id < b->next_id; id++) {
        slot_t *slot = s_slot (b, id);
        if (slot->used && slot->sent && slot->id == id &&
            rlog_pipeline_resubmit (b->pipe, id, slot->data, slot->size) != 0)
            break; //  socket full: the rest go in the next round
    }
    return true;
}

static int s_append_stdin (context_t *ctx, int w, int timeout_ms, size_t window)
{
    bulk_t b;
    memset (&b, 0, sizeof b);
    b.ctx = ctx;
    b.endpoint = ctx->endpoint;
    b.client = ctx->client;
    b.retry_ms = ctx->retry_ms;
    b.retries = ctx->retries;
    b.window = window;
    b.next_id = 1;
    b.slots = (slot_t *)calloc (window, sizeof (slot_t));
    char err[512] = "out of memory";
    if (ctx->curve_secret)
        b.pipe = rlog_pipeline_new_curve (ctx->endpoint, w, timeout_ms, ctx->curve_secret,
                                          ctx->server_key, err, sizeof err);
    else
        b.pipe = rlog_pipeline_new (ctx->endpoint, w, timeout_ms);
    if (!b.slots || !b.pipe) {
        free (b.slots);
        rlog_pipeline_destroy (&b.pipe);
        fprintf (stderr, "logcli: append: cannot connect to %s: %s\n", ctx->endpoint, err);
        return 1;
    }
    struct stat st;
    off_t pos = lseek (STDIN_FILENO, 0, SEEK_CUR);
    if (fstat (STDIN_FILENO, &st) == 0 && S_ISREG (st.st_mode) && pos >= 0 && st.st_size > pos)
        b.total_bytes = (uint64_t)(st.st_size - pos);
    b.progress = s_terminal (STDERR_FILENO);
    b.started = b.last_answer = b.rate_mark = zclock_mono ();
    b.last_draw = b.started - 1000;

    int rc = 0, lost_rounds = 0;
    bool interrupted = false, gave_up = false;
    while (true) {
        if (zsys_interrupted) {
            interrupted = true;
            break;
        }
        if (s_fill_window (&b) != 0) {
            rc = 1;
            break;
        }
        bool input_done = b.eof && !s_line_ready (&b);
        slot_t *next = s_slot (&b, b.next_id);
        bool unsent = next->used && !next->sent; //  the socket would not take it yet
        if (((input_done && !unsent) || b.stop_reading) && b.in_flight == 0)
            break;
        bool room = !next->used;
        if (room && !b.eof && !b.stop_reading && !s_line_ready (&b)) {
            //  Wait on stdin, but briefly while answers are due.
            if (s_read_input (&b, b.in_flight ? 5 : 200) != 0) {
                rc = 1;
                break;
            }
            s_collect (&b, 0);
        } else
            s_collect (&b, room && !b.stop_reading && !input_done ? 0 : 100);
        //  A line the socket would not take (no connection to queue on)
        //  waits for an answer as much as one in flight.
        if (b.in_flight == 0 && !unsent)
            b.last_answer = zclock_mono ();
        else if (zclock_mono () - b.last_answer >= b.retry_ms) {
            if (!s_on_silence (&b, &lost_rounds)) {
                gave_up = true;
                break;
            }
            b.last_answer = zclock_mono ();
        }
        s_progress_draw (&b);
    }
    //  A line read but left unsent because every line would be refused the
    //  same way was never attempted: it is not in the count. One left unsent
    //  for want of a connection counts as unanswered.
    for (size_t i = 0; i < window && b.stop_reading; i++)
        if (b.slots[i].used && !b.slots[i].sent)
            b.messages--;
    b.unanswered = b.messages - b.ok - b.refused - b.timed_out;
    s_progress_clear (&b);
    fprintf (stderr,
             "%sappended %" PRIu64 " of %" PRIu64 " (%" PRIu64 " refused, %" PRIu64 " timed out",
             interrupted ? "interrupted: " : "", b.ok, b.messages, b.refused, b.timed_out);
    if (b.unanswered)
        fprintf (stderr, ", %" PRIu64 " unanswered", b.unanswered);
    if (b.skipped)
        fprintf (stderr, ", %" PRIu64 " empty line%s skipped", b.skipped,
                 b.skipped == 1 ? "" : "s");
    if (b.stop_reading && !(b.eof && !s_line_ready (&b)))
        fprintf (stderr, "; stopped reading input");
    fprintf (stderr, ")\n");
    if (interrupted && b.unanswered)
        fprintf (stderr,
                 "logcli: append: interrupted with %" PRIu64 " append%s unanswered: the master "
                 "may already hold %s; sending the same lines again is not idempotent across "
                 "logcli runs\n",
                 b.unanswered, b.unanswered == 1 ? "" : "s", b.unanswered == 1 ? "it" : "them");

    for (size_t i = 0; i < window; i++)
        free (b.slots[i].data);
    free (b.slots);
    free (b.buf);
    rlog_pipeline_destroy (&b.pipe);
    if (rc != 0)
        return rc;
    if (interrupted)
        return EXIT_INTERRUPTED;
    if (b.unanswered || gave_up)
        return EXIT_UNREACHABLE;
    if (b.refused)
        return EXIT_REFUSED;
    if (b.timed_out)
        return EXIT_TIMEDOUT;
    return 0;
}

static int s_append (context_t *ctx, int argc, char **argv)
{
    uint64_t w = 1, timeout = 0, window = 0;
    const char *message = NULL;
    bool literal = false; //  after "--": a message, whatever it looks like
    for (int i = 0; i < argc; i++) {
        if (literal) {
            if (message)
                return s_usage_error ("append: one MESSAGE only (quote it): '%s'", argv[i]);
            message = argv[i];
        } else if (streq_opt (argv[i], "--"))
            literal = true;
        else if (streq_opt (argv[i], "-w")) {
            if (i + 1 >= argc || s_number (argv[i + 1], &w) != 0)
                return s_usage_error ("append: -w needs a number: the write concern, 1 for the "
                                      "master alone%s",
                                      "");
            i++;
        } else if (streq_opt (argv[i], "-t")) {
            if (i + 1 >= argc || s_number (argv[i + 1], &timeout) != 0)
                return s_usage_error ("append: -t needs a number of milliseconds (0: wait as "
                                      "long as it takes)%s",
                                      "");
            i++;
        } else if (streq_opt (argv[i], "--window")) {
            if (i + 1 >= argc || s_number (argv[i + 1], &window) != 0 || window < 1 ||
                window > WINDOW_MAX)
                return s_usage_error ("append: --window needs a number 1..1000%s", "");
            i++;
        } else if (argv[i][0] == '-' && argv[i][1] && !message)
            return s_usage_error ("append: unknown option '%s'", argv[i]);
        else if (!message)
            message = argv[i];
        else
            return s_usage_error ("append: one MESSAGE only (quote it): '%s'", argv[i]);
    }
    if (!message)
        return s_usage_error ("append: missing MESSAGE (or - to read lines from stdin)%s", "");
    //  A w that no cluster can meet is a usage error; one this cluster
    //  cannot meet (more than its nodes) is the master's to refuse: exit 3.
    if (w < 1)
        return s_usage_error ("append: -w 0 can never be met: the write concern counts the "
                              "master, so it is at least 1%s",
                              "");
    if (w > INT32_MAX)
        return s_usage_error ("append: -w is too large%s", "");
    if (timeout > INT32_MAX)
        return s_usage_error ("append: -t is too large%s", "");
    bool bulk = streq_opt (message, "-");
    if (window && !bulk)
        return s_usage_error ("append: --window applies to append - only%s", "");
    if (bulk)
        return s_append_stdin (ctx, (int)w, (int)timeout, window ? (size_t)window : WINDOW_DEFAULT);
    char why[128];
    if (s_too_large (ctx, strlen (message), why, sizeof why)) {
        fprintf (stderr, "logcli: append: the message is %s\n", why);
        return EXIT_REFUSED;
    }
    rlog_append_result_t result;
    int rc =
        rlog_client_append (ctx->client, message, strlen (message), (int)w, (int)timeout, &result);
    if (rc != RLOG_OK && zsys_interrupted) {
        //  The request has most likely reached the master, which then stores
        //  the entry whatever happens to us; a new logcli run has a new
        //  client id, so the master cannot tell its append from this one.
        fprintf (stderr,
                 "logcli: append: interrupted while waiting for w=%" PRIu64
                 ": the master may already hold the entry (appends are never rolled back); "
                 "running the same append again is not idempotent across logcli runs\n",
                 w);
        return EXIT_INTERRUPTED;
    }
    if (rc != RLOG_OK)
        return s_fail (ctx->client, "append", rc);
    printf ("%" PRIu64 "\n", result.seq);
    return 0;
}

//  --------------------------------------------------------------------------
//  list

typedef struct {
    bool json;
    uint64_t next;    //  seq of the next entry to print
    uint64_t printed; //  entries printed so far
    uint64_t limit;   //  0 = no limit
} list_state_t;

static int s_print_entry (uint64_t seq, const void *data, size_t size, void *arg)
{
    list_state_t *state = (list_state_t *)arg;
    if (state->json) {
        printf ("{\"seq\":%" PRIu64 ",", seq);
        if (s_valid_utf8 ((const uint8_t *)data, size)) {
            fputs ("\"message\":", stdout);
            s_json_string (stdout, (const char *)data, size);
        } else {
            fputs ("\"base64\":\"", stdout);
            s_base64 (stdout, (const uint8_t *)data, size);
            fputc ('"', stdout);
        }
        fputs ("}\n", stdout);
    } else {
        fwrite (data, 1, size, stdout);
        fputc ('\n', stdout);
    }
    state->next = seq + 1;
    state->printed++;
    if (state->limit && state->printed >= state->limit)
        return 1;
    return ferror (stdout) ? -1 : 0;
}

static int s_list (context_t *ctx, int argc, char **argv)
{
    uint64_t from = 1, limit = 0;
    bool follow = false;
    list_state_t state = {false, 0, 0, 0};
    for (int i = 0; i < argc; i++) {
        if (streq_opt (argv[i], "--"))
            continue;
        if (streq_opt (argv[i], "--json"))
            state.json = true;
        else if (streq_opt (argv[i], "--follow"))
            follow = true;
        else if (streq_opt (argv[i], "--from") || streq_opt (argv[i], "--limit")) {
            uint64_t *target = argv[i][2] == 'f' ? &from : &limit;
            if (i + 1 >= argc || s_number (argv[i + 1], target) != 0)
                return s_usage_error ("list: %s needs a non-negative number", argv[i]);
            i++;
        } else
            return s_usage_error ("list: unknown argument '%s'", argv[i]);
    }
    state.next = from ? from : 1;
    state.limit = limit;
    while (true) {
        //  One page per call, flushed, so a reader at the other end of a pipe
        //  sees entries as they come even while the log keeps growing.
        uint64_t chunk = LIST_PAGE;
        if (limit && limit - state.printed < chunk)
            chunk = limit - state.printed;
        uint64_t before = state.printed;
        int rc = rlog_client_list (ctx->client, state.next, chunk, s_print_entry, &state);
        if (fflush (stdout) != 0 || ferror (stdout))
            return 1;
        if (follow && zsys_interrupted)
            return 0;
        if (rc != RLOG_OK)
            return s_fail (ctx->client, "list", rc);
        if (limit && state.printed >= limit)
            return 0;
        if (state.printed - before == chunk)
            continue; //  more may be there already
        if (!follow)
            return 0;
        s_sleep_ms (FOLLOW_POLL_MS);
        if (zsys_interrupted)
            return 0;
    }
}

//  --------------------------------------------------------------------------
//  status

static void s_status_json (FILE *out, const rlog_status_t *st)
{
    fprintf (out, "{\"role\":");
    s_json_string (out, st->role, strlen (st->role));
    fprintf (out, ",\"node_id\":");
    s_json_string (out, st->node_id, strlen (st->node_id));
    fprintf (out, ",\"epoch\":%" PRIu64 ",\"head\":%" PRIu64 ",\"mode\":", st->epoch, st->head);
    s_json_string (out, st->mode, strlen (st->mode));
    if (streq_opt (st->role, "master")) {
        fprintf (out, ",\"reason\":");
        s_json_string (out, st->reason, strlen (st->reason));
        fprintf (out, ",\"nodes\":%u,\"healthy\":%u,\"quorum\":%u,\"waiting\":%u,\"secondaries\":[",
                 st->nodes, st->healthy, st->quorum, st->waiting);
        for (size_t i = 0; i < st->secondary_count; i++) {
            const rlog_secondary_status_t *s = &st->secondaries[i];
            fprintf (out, "%s{\"id\":", i ? "," : "");
            s_json_string (out, s->id, strlen (s->id));
            fprintf (out,
                     ",\"state\":\"%s\",\"acked\":%" PRIu64 ",\"lag\":%" PRIu64
                     ",\"last_heard_ms\":%" PRId64 ",\"catching_up\":%s}",
                     s->state, s->acked, s->lag, s->last_heard_ms,
                     s->catching_up ? "true" : "false");
        }
        fprintf (out, "]");
    } else {
        fprintf (out, ",\"master\":");
        s_json_string (out, st->master, strlen (st->master));
        fprintf (out,
                 ",\"master_reachable\":%s,\"master_last_heard_ms\":%" PRId64
                 ",\"master_head\":%" PRIu64 ",\"held_back\":%" PRIu64 ",\"duplicates\":%" PRIu64,
                 st->master_reachable ? "true" : "false", st->master_last_heard_ms, st->master_head,
                 st->held_back, st->duplicates);
    }
    fprintf (out, ",\"max_msg\":%" PRIu64 "}\n", st->max_msg);
}

//  Colour codes go around padded fields, so columns line up either way.
static void s_status_text (FILE *out, const rlog_status_t *st, const palette_t *p)
{
    fprintf (out, "role       %s\n", st->role);
    if (streq_opt (st->role, "master")) {
        fprintf (out, "epoch      %" PRIu64 "\n", st->epoch);
        fprintf (out, "head       %" PRIu64 "\n", st->head);
        fprintf (out, "mode       %s%s%s%s%s%s\n", s_state_colour (p, st->mode), st->mode,
                 st->reason[0] ? " (" : "", st->reason, st->reason[0] ? ")" : "",
                 *s_state_colour (p, st->mode) ? p->off : "");
        fprintf (out, "nodes      %u (healthy %u, quorum %u)\n", st->nodes, st->healthy,
                 st->quorum);
        fprintf (out, "waiting    %u appends\n", st->waiting);
        if (st->secondary_count == 0) {
            fprintf (out, "\nno secondary has joined yet\n");
            return;
        }
        fprintf (out, "\n%s%-16s %-10s %12s %10s %12s  %s%s\n", p->bold, "SECONDARY", "STATE",
                 "ACKED", "LAG", "LAST HEARD", "CATCHING UP", p->off);
        for (size_t i = 0; i < st->secondary_count; i++) {
            const rlog_secondary_status_t *s = &st->secondaries[i];
            const char *colour = s_state_colour (p, s->state);
            fprintf (out, "%-16s %s%-10s%s %12" PRIu64 " %10" PRIu64 " %9" PRId64 " ms  %s%s%s\n",
                     s->id, colour, s->state, *colour ? p->off : "", s->acked, s->lag,
                     s->last_heard_ms, s->catching_up ? p->yellow : "",
                     s->catching_up ? "yes" : "no", s->catching_up ? p->off : "");
        }
        return;
    }
    const char *mode_colour = s_state_colour (p, st->mode);
    const char *reach = st->master_reachable ? "reachable" : "unreachable";
    const char *reach_colour = s_state_colour (p, reach);
    fprintf (out, "id         %s\n", st->node_id);
    fprintf (out, "head       %" PRIu64 "\n", st->head);
    fprintf (out, "mode       %s%s%s\n", mode_colour, st->mode, *mode_colour ? p->off : "");
    fprintf (out, "master     %s (%s%s%s", st->master, reach_colour, reach,
             *reach_colour ? p->off : "");
    if (st->master_last_heard_ms >= 0)
        fprintf (out, ", heard %" PRId64 " ms ago", st->master_last_heard_ms);
    fprintf (out, ", head %" PRIu64 ", epoch %" PRIu64 ")\n", st->master_head, st->epoch);
    fprintf (out, "held back  %" PRIu64 "\n", st->held_back);
    fprintf (out, "duplicates %" PRIu64 " dropped\n", st->duplicates);
}

//  One --watch frame. On a terminal it is redrawn in place (cursor home,
//  each line cleared to its end, the rest of the screen cleared), which
//  does not flicker the way clearing the whole screen first does.
static void s_watch_frame (const context_t *ctx, bool json, bool terminal, const palette_t *p)
{
    char *frame = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&frame, &size);
    if (!out)
        return;
    rlog_status_t status;
    int rc = rlog_client_status (ctx->client, &status);
    if (zsys_interrupted) {
        fclose (out);
        free (frame);
        return;
    }
    if (json) {
        if (rc == RLOG_OK)
            s_status_json (out, &status);
        else
            fprintf (stderr, "logcli: status: %s\n", rlog_client_error (ctx->client));
    } else {
        time_t now = time (NULL);
        struct tm tm;
        char clock[16] = "";
        if (localtime_r (&now, &tm))
            strftime (clock, sizeof clock, "%H:%M:%S", &tm);
        fprintf (out, "%s%s  every 1 s  %s%s\n\n", p->bold, ctx->endpoint, clock, p->off);
        if (rc == RLOG_OK)
            s_status_text (out, &status, p);
        else
            fprintf (out, "%s%s%s\n", p->red, rlog_client_error (ctx->client), p->off);
    }
    fclose (out);
    if (terminal && !json) {
        fputs ("\033[H", stdout);
        for (size_t i = 0; i < size; i++) {
            if (frame[i] == '\n')
                fputs ("\033[K", stdout);
            fputc (frame[i], stdout);
        }
        fputs ("\033[J", stdout);
    } else {
        fwrite (frame, 1, size, stdout);
        if (!json)
            fputc ('\n', stdout);
    }
    fflush (stdout);
    free (frame);
}

static int s_status (context_t *ctx, int argc, char **argv)
{
    bool json = false, watch = false;
    for (int i = 0; i < argc; i++) {
        if (streq_opt (argv[i], "--"))
            continue;
        if (streq_opt (argv[i], "--json"))
            json = true;
        else if (streq_opt (argv[i], "--watch"))
            watch = true;
        else
            return s_usage_error ("status: unknown argument '%s'", argv[i]);
    }
    const palette_t *palette = json ? &s_plain : s_palette ();
    if (watch) {
        bool terminal = s_terminal (STDOUT_FILENO);
        if (terminal && !json)
            fputs ("\033[H\033[2J", stdout);
        while (!zsys_interrupted) {
            int64_t start = zclock_mono ();
            s_watch_frame (ctx, json, terminal, palette);
            //  A failed frame can take the whole retry budget; never sleep
            //  less than a tenth of a second between frames.
            int64_t left = WATCH_MS - (zclock_mono () - start);
            s_sleep_ms (left > 100 ? left : 100);
        }
        return 0;
    }
    rlog_status_t status;
    int rc = rlog_client_status (ctx->client, &status);
    if (rc != RLOG_OK)
        return s_fail (ctx->client, "status", rc);
    if (json)
        s_status_json (stdout, &status);
    else
        s_status_text (stdout, &status, palette);
    return 0;
}

//  --------------------------------------------------------------------------
//  keygen

static int s_keygen (int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-' || !argv[0][0])
        return s_usage_error ("keygen: needs one NAME (writes NAME and NAME_secret)%s", "");
    const char *name = argv[0];
    char secret[1100];
    snprintf (secret, sizeof secret, "%s_secret", name);
    if (zsys_file_exists (name) || zsys_file_exists (secret)) {
        fprintf (stderr, "logcli: keygen: %s or %s already exists; not overwriting a key\n", name,
                 secret);
        return 1;
    }
    if (!zsys_has_curve ()) {
        fprintf (stderr, "logcli: keygen: this libzmq has no CURVE support\n");
        return 1;
    }
    zcert_t *cert = zcert_new ();
    //  Created private, so the secret key is never readable by others, not
    //  even for a moment; the public half is then opened up.
    mode_t old_mask = umask (077);
    int rc = cert ? zcert_save (cert, name) : -1;
    umask (old_mask);
    if (rc != 0 || chmod (name, 0644) != 0) {
        fprintf (stderr, "logcli: keygen: cannot write %s and %s: %s\n", name, secret,
                 strerror (errno));
        zcert_destroy (&cert);
        return 1;
    }
    printf ("wrote %s (public certificate: copy it into the nodes' allow directory)\n"
            "wrote %s (secret certificate: keep it private)\n"
            "public key %s\n",
            name, secret, zcert_public_txt (cert));
    zcert_destroy (&cert);
    return 0;
}

//  A command option that takes a value: the value is passed along with it,
//  never read as a global option ("-w -e" is a bad -w, not -e).
static bool s_command_takes_value (const char *arg)
{
    return streq_opt (arg, "-w") || streq_opt (arg, "-t") || streq_opt (arg, "--window") ||
           streq_opt (arg, "--from") || streq_opt (arg, "--limit");
}

//  From now on SIGINT/SIGTERM are ignored, with no moment in between under
//  their default action (death), which czmq's reset puts back: both stay
//  blocked in this thread meanwhile, and libzmq's threads block every
//  signal, so one that comes then waits and is discarded by SIG_IGN.
static void s_ignore_interrupts (void)
{
    sigset_t both, old;
    sigemptyset (&both);
    sigaddset (&both, SIGINT);
    sigaddset (&both, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &both, &old);
    zsys_handler_set (NULL);
    signal (SIGINT, SIG_IGN);
    signal (SIGTERM, SIG_IGN);
    pthread_sigmask (SIG_SETMASK, &old, NULL);
}

//  COMMAND with its ARGC arguments ARGV, global options already read.
static int s_run (const char *command, int argc, char **argv, const char *endpoint,
                  const char *curve_secret, const char *server_key, int retry_ms, int retries)
{
    if (streq_opt (command, "keygen"))
        return s_keygen (argc, argv);
    int (*run) (context_t *, int, char **) = NULL;
    if (streq_opt (command, "append"))
        run = s_append;
    else if (streq_opt (command, "list"))
        run = s_list;
    else if (streq_opt (command, "status"))
        run = s_status;
    else
        return s_usage_error ("unknown command '%s' (append, list, status or keygen)", command);
    if (curve_secret && !*curve_secret)
        curve_secret = NULL;
    if (server_key && !*server_key)
        server_key = NULL;
    if (!curve_secret != !server_key)
        return s_usage_error ("--curve-secret and --server-key go together%s", "");
    context_t ctx = {rlog_client_new (endpoint),
                     endpoint,
                     retry_ms,
                     retries,
                     curve_secret,
                     server_key,
                     false,
                     0};
    if (!ctx.client)
        return s_usage_error ("bad endpoint '%s' (expected e.g. tcp://127.0.0.1:5555)", endpoint);
    rlog_client_set_retry (ctx.client, retry_ms, retries);
    if (curve_secret && rlog_client_set_curve (ctx.client, curve_secret, server_key) != RLOG_OK) {
        int rc = s_usage_error ("%s", rlog_client_error (ctx.client));
        rlog_client_destroy (&ctx.client);
        return rc;
    }
    //  Installs czmq's SIGINT/SIGTERM handler now rather than at the first
    //  socket, so a signal is never the default kill in our loops.
    zsys_init ();
    int rc = run (&ctx, argc, argv);
    if (zsys_interrupted) {
        //  czmq restores the default action when it shuts down at exit; a
        //  second Ctrl-C then would turn the exit status we chose into
        //  death by signal. We are on our way out: ignore further ones.
        s_ignore_interrupts ();
    }
    rlog_client_destroy (&ctx.client);
    return rc;
}

int main (int argc, char **argv)
{
    const char *endpoint = getenv ("RLOG_ENDPOINT");
    if (!endpoint || !*endpoint)
        endpoint = "tcp://127.0.0.1:5555";
    const char *curve_secret = getenv ("RLOG_CURVE_SECRET");
    const char *server_key = getenv ("RLOG_SERVER_KEY");
    uint64_t retry_ms = 1000, retries = 3;
    //  Global options go anywhere, before or after the command, as with git
    //  or kubectl; "--" ends the options (what follows is the command's, even
    //  a message that starts with a dash). The rest, in order, is the
    //  command's.
    const char *command = NULL;
    char **args = (char **)calloc ((size_t)argc + 1, sizeof (char *));
    if (!args) {
        fprintf (stderr, "logcli: out of memory\n");
        return 1;
    }
    int nargs = 0;
    bool literal = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!literal && streq_opt (a, "--")) {
            literal = true;
            if (command)
                args[nargs++] = a;
            continue;
        }
        if (literal || a[0] != '-' || !a[1]) {
            if (command)
                args[nargs++] = a;
            else
                command = a;
            continue;
        }
        if (streq_opt (a, "-h") || streq_opt (a, "--help")) {
            free (args);
            fputs (s_usage_text, stdout);
            return 0;
        }
        bool global = streq_opt (a, "-e") || streq_opt (a, "--endpoint") ||
                      streq_opt (a, "--curve-secret") || streq_opt (a, "--server-key") ||
                      streq_opt (a, "--retry-ms") || streq_opt (a, "--retries");
        if (!global && command) {
            //  The command's own option: its parser judges it.
            args[nargs++] = a;
            if (s_command_takes_value (a) && i + 1 < argc)
                args[nargs++] = argv[++i];
            continue;
        }
        int rc = 0;
        if (!global)
            rc = s_usage_error ("unknown option '%s'", a);
        else if (i + 1 >= argc)
            rc = s_usage_error ("%s needs a value", a);
        else if (streq_opt (a, "-e") || streq_opt (a, "--endpoint"))
            endpoint = argv[++i];
        else if (streq_opt (a, "--curve-secret"))
            curve_secret = argv[++i];
        else if (streq_opt (a, "--server-key"))
            server_key = argv[++i];
        else {
            uint64_t *target = a[7] == '-' ? &retry_ms : &retries;
            if (s_number (argv[i + 1], target) != 0 || *target < 1 || *target > 3600000)
                rc = s_usage_error ("%s needs a positive number", a);
            i++;
        }
        if (rc) {
            free (args);
            return rc;
        }
    }
    if (!command) {
        free (args);
        return s_usage_error ("missing COMMAND (append, list, status or keygen)%s", "");
    }
    int rc = s_run (command, nargs, args, endpoint, curve_secret, server_key, (int)retry_ms,
                    (int)retries);
    free (args);
    return rc;
}
