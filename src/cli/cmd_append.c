/*  cmd_append.c - logcli append MESSAGE, and append - (each line of stdin).

    append MESSAGE: one rlog_client_append on the context's client, which
    retries a lost reply under the same request id and follows a
    secondary's NOT_MASTER to the master; prints the seq.

    append -: the lines of stdin through an rlog_bulk_t, which keeps up to
    --window appends in flight, resends them under their request ids when
    the cluster goes silent and gives up after --retries silent probes. A
    line's life: read into the input buffer (raw reads, so stdin can wait
    in poll() while answers come in), skipped if empty, refused here if it
    is longer than the node's --max-msg (asked once), else handed to the
    bulk appender under its line number as tag; its outcome comes back
    through s_on_result exactly once, and lands in the counts of the
    summary (ok + refused + timed out + unanswered = messages). The first
    few distinct errors are printed with their line numbers. A refusal that
    every later line would get too (a wrong w, no way to the master) stops
    the reading. Unanswered (RLOG_UNREACHABLE: the run gave up, or the
    answer was lost) and never answered (Ctrl-C) appends may or may not be
    stored.

    Lines are handed over only while rlog_bulk_in_flight() is below the
    window, so that logcli rarely waits inside rlog_bulk_append with a line
    in hand: between calls it polls stdin and the bulk appender, redraws
    the bar, and a refusal that stops the reading stops it before the next
    line goes out.
*/
#include "cli.h"
#include "output.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WINDOW_DEFAULT 1000
//  --window stays at most 1000, as it always was: resending a whole window
//  after a silence must stay inside the master's deduplication window.
#define WINDOW_MAX 1000
//  Errors of a bulk append printed one by one before only counting them.
#define ERRORS_SHOWN 5
//  A message longer than this is checked against the node's --max-msg
//  (asked once, with STATUS) and not sent if it is over. A node drops a
//  frame above max-msg + 64 KiB together with the connection, so such a
//  message would only ever meet silence; a shorter one that is still too
//  large gets the node's own TOO_LARGE answer.
#define SIZE_CHECK_ABOVE 32768

//  The command line, parsed.
typedef struct {
    uint64_t w;
    uint64_t timeout_ms;
    uint64_t window; //  0: not given
    const char *message;
} args_t;

//  The node's --max-msg, asked the first time it matters.
typedef struct {
    cli_context_t *ctx;
    bool asked;
    uint64_t max_msg; //  0 when unknown
} limit_t;

//  stdin, read raw so it can be polled while answers come in.
typedef struct {
    char *buf;
    size_t start, len, cap;
    bool eof;
    uint64_t line_no;     //  of the last line taken
    uint64_t total_bytes; //  0 when stdin is not a regular file
    uint64_t done_bytes;
} input_t;

//  One run of append -.
typedef struct {
    rlog_bulk_t *bulk;
    size_t window;
    limit_t limit;
    input_t in;
    //  Counts for the summary: ok + refused + timed_out + unanswered = messages.
    uint64_t messages, ok, refused, timed_out, skipped;
    int errors; //  distinct error texts shown
    char shown[ERRORS_SHOWN][256];
    bool stop_reading;  //  every further append would be refused the same way
    bool gave_up;       //  silence: the run ended, every append in flight unanswered
    uint64_t lost_line; //  first line answered UNREACHABLE by the last call, 0 if none
    char lost_text[256];
    bool interrupted;
    output_progress_t progress;
} feed_t;

//  --------------------------------------------------------------------------
//  The node's size limit

//  The node's --max-msg; 0 when the node does not answer or does not say
//  (then the message goes out and the node judges it).
static uint64_t s_max_msg (limit_t *limit)
{
    if (!limit->asked) {
        limit->asked = true;
        rlog_status_t status;
        if (rlog_client_status (limit->ctx->client, &status) == RLOG_OK)
            limit->max_msg = status.max_msg;
    }
    return limit->max_msg;
}

//  True, with the reason in TEXT, if SIZE bytes exceed the node's limit.
static bool s_too_large (limit_t *limit, size_t size, char *text, size_t text_size)
{
    if (size <= SIZE_CHECK_ABOVE)
        return false;
    uint64_t max = s_max_msg (limit);
    if (!max || size <= max)
        return false;
    snprintf (text, text_size, "longer than the node's --max-msg of %" PRIu64 " bytes: not sent",
              max);
    return true;
}

//  --------------------------------------------------------------------------
//  Input

//  Next complete line into *LINE/*SIZE (not NUL-terminated, newline
//  removed; a last line without one counts at the end). Returns 1, or 0
//  when none is buffered.
static int s_next_line (input_t *in, const char **line, size_t *size)
{
    if (in->start >= in->len)
        return 0;
    char *base = in->buf + in->start;
    size_t avail = in->len - in->start;
    char *nl = (char *)memchr (base, '\n', avail);
    if (!nl && !in->eof)
        return 0;
    size_t n = nl ? (size_t)(nl - base) : avail;
    *line = base;
    *size = n;
    in->start += nl ? n + 1 : n;
    in->done_bytes += nl ? n + 1 : n;
    in->line_no++;
    return 1;
}

static bool s_line_ready (const input_t *in)
{
    return in->start < in->len &&
           (in->eof || memchr (in->buf + in->start, '\n', in->len - in->start));
}

//  Room for at least 64 KiB more at the end of the buffer: what was taken
//  is dropped from the front first. -1 out of memory.
static int s_make_room (input_t *in)
{
    if (in->start > 0 && in->start == in->len)
        in->start = in->len = 0;
    else if (in->start > in->cap / 2) {
        memmove (in->buf, in->buf + in->start, in->len - in->start);
        in->len -= in->start;
        in->start = 0;
    }
    if (in->cap - in->len >= 65536)
        return 0;
    size_t cap = in->cap ? in->cap * 2 : 262144;
    char *buf = (char *)realloc (in->buf, cap);
    if (!buf) {
        fprintf (stderr, "logcli: append: out of memory for a %zu-byte line\n", in->len);
        return -1;
    }
    in->buf = buf;
    in->cap = cap;
    return 0;
}

//  Read what stdin has, waiting up to WAIT_MS for it. -1 on a read error.
static int s_read_input (input_t *in, int wait_ms)
{
    struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
    int ready = poll (&pfd, 1, wait_ms);
    if (ready <= 0)
        return 0; //  nothing yet, or a signal (the caller checks for it)
    if (s_make_room (in) != 0)
        return -1;
    ssize_t got = read (STDIN_FILENO, in->buf + in->len, in->cap - in->len);
    if (got < 0 && errno == EINTR)
        return 0;
    if (got < 0) {
        fprintf (stderr, "logcli: append: reading stdin: %s\n", strerror (errno));
        return -1;
    }
    if (got == 0)
        in->eof = true;
    in->len += (size_t)got;
    return 0;
}

//  The size of what is left of stdin, for the bar; 0 if it is no file.
static uint64_t s_input_size (void)
{
    struct stat st;
    off_t pos = lseek (STDIN_FILENO, 0, SEEK_CUR);
    if (fstat (STDIN_FILENO, &st) == 0 && S_ISREG (st.st_mode) && pos >= 0 && st.st_size > pos)
        return (uint64_t)(st.st_size - pos);
    return 0;
}

//  --------------------------------------------------------------------------
//  Outcomes

static void s_draw (feed_t *f)
{
    output_counts_t counts = {f->ok,
                              f->refused,
                              f->timed_out,
                              f->bulk ? rlog_bulk_in_flight (f->bulk) : 0,
                              f->in.done_bytes,
                              f->in.total_bytes};
    output_progress_draw (&f->progress, &counts, zclock_mono ());
}

//  Shows each distinct error once (up to ERRORS_SHOWN of them): a thousand
//  lines refused for the same reason need one line, and the summary counts.
static void s_show_error (feed_t *f, uint64_t line, int code, uint64_t seq, const char *detail)
{
    const char *text = detail && *detail ? detail : rlog_strerror (code);
    for (int i = 0; i < f->errors && i < ERRORS_SHOWN; i++)
        if (streq (f->shown[i], text))
            return;
    if (f->errors > ERRORS_SHOWN)
        return;
    output_progress_clear (&f->progress);
    if (f->errors == ERRORS_SHOWN) {
        fprintf (stderr, "logcli: append: more errors follow, counted but not shown\n");
        f->errors++;
        return;
    }
    snprintf (f->shown[f->errors++], sizeof f->shown[0], "%s", text);
    if (seq)
        fprintf (stderr, "logcli: append: line %" PRIu64 ": %s (seq %" PRIu64 ")\n", line, text,
                 seq);
    else
        fprintf (stderr, "logcli: append: line %" PRIu64 ": %s\n", line, text);
}

//  The bulk appender's callback: one per line handed over (the tag is the
//  line number).
static void s_on_result (const rlog_bulk_result_t *result, void *arg)
{
    feed_t *f = (feed_t *)arg;
    const char *detail = result->detail;
    if (result->code == RLOG_OK)
        f->ok++;
    else if (result->code == RLOG_TIMEOUT) {
        f->timed_out++;
        s_show_error (f, result->tag, result->code, result->seq, detail);
    } else if (result->code == RLOG_UNREACHABLE) {
        //  Unanswered (it may be stored). Whether the run gave up, or only
        //  this append was lost, shows when the call returns (s_after).
        if (!f->lost_line) {
            f->lost_line = result->tag;
            snprintf (f->lost_text, sizeof f->lost_text, "%s", detail ? detail : "");
        }
    } else {
        f->refused++;
        s_show_error (f, result->tag, result->code, 0, detail);
        //  Wrong w or no way to the master: every later line would be
        //  refused the same way, so stop reading instead of refusing them all.
        if (result->code == RLOG_BAD_W || result->code == RLOG_NOT_MASTER)
            f->stop_reading = true;
    }
}

//  After each bulk call, with what it returned: RLOG_UNREACHABLE when the
//  run gave up (or was interrupted), and the appends it answered so were
//  the ones in flight, which the call's own error sums up; any other time
//  an append answered so was lost on its own, and is shown as its line's
//  error. 0 to go on, or to end the run with the counts as they are
//  (interrupted, or gave up); 1 for a local failure.
static int s_after (feed_t *f, int rc)
{
    if (rc == RLOG_OK && f->lost_line)
        s_show_error (f, f->lost_line, RLOG_UNREACHABLE, 0, f->lost_text);
    f->lost_line = 0;
    if (rc == RLOG_OK)
        return 0;
    if (zsys_interrupted) {
        f->interrupted = true;
        return 0;
    }
    output_progress_clear (&f->progress);
    fprintf (stderr, "logcli: append: %s\n", rlog_bulk_error (f->bulk));
    if (rc == RLOG_UNREACHABLE) {
        f->gave_up = true;
        return 0;
    }
    return CLI_EXIT_LOCAL;
}

//  --------------------------------------------------------------------------
//  The run

//  Hand complete input lines to the bulk appender while the window has
//  room. 0, or 1 on a local failure.
static int s_feed (feed_t *f)
{
    const char *line;
    size_t size;
    while (!f->stop_reading && !f->gave_up && !f->interrupted &&
           rlog_bulk_in_flight (f->bulk) < f->window && s_next_line (&f->in, &line, &size)) {
        char why[128];
        if (size == 0)
            f->skipped++;
        else if (s_too_large (&f->limit, size, why, sizeof why)) {
            f->messages++;
            f->refused++;
            s_show_error (f, f->in.line_no, RLOG_TOO_LARGE, 0, why);
        } else {
            int rc = rlog_bulk_append (f->bulk, line, size, f->in.line_no);
            if (rc == RLOG_OK)
                f->messages++;
            if ((rc = s_after (f, rc)) != 0)
                return rc;
        }
    }
    return 0;
}

//  Feed lines, wait for input or answers, until the input is done and
//  every append answered, or the run ends early. 0, or 1 on a local
//  failure.
static int s_loop (feed_t *f)
{
    while (true) {
        if (zsys_interrupted) {
            f->interrupted = true;
            return 0;
        }
        int rc = s_feed (f);
        if (rc != 0 || f->interrupted || f->gave_up)
            return rc;
        bool input_done = f->stop_reading || (f->in.eof && !s_line_ready (&f->in));
        size_t in_flight = rlog_bulk_in_flight (f->bulk);
        if (input_done && in_flight == 0)
            return 0;
        if (in_flight < f->window && !input_done) {
            //  Wait on stdin, but briefly while answers are due.
            if (s_read_input (&f->in, in_flight ? 5 : 200) != 0)
                return CLI_EXIT_LOCAL;
            rc = rlog_bulk_poll (f->bulk, 0);
        } else
            rc = rlog_bulk_poll (f->bulk, 100);
        if ((rc = s_after (f, rc)) != 0)
            return rc;
        if (f->interrupted || f->gave_up)
            return 0;
        s_draw (f);
    }
}

static void s_summary (const feed_t *f, uint64_t unanswered)
{
    fprintf (stderr,
             "%sappended %" PRIu64 " of %" PRIu64 " (%" PRIu64 " refused, %" PRIu64 " timed out",
             f->interrupted ? "interrupted: " : "", f->ok, f->messages, f->refused, f->timed_out);
    if (unanswered)
        fprintf (stderr, ", %" PRIu64 " unanswered", unanswered);
    if (f->skipped)
        fprintf (stderr, ", %" PRIu64 " empty line%s skipped", f->skipped,
                 f->skipped == 1 ? "" : "s");
    if (f->stop_reading && !(f->in.eof && !s_line_ready (&f->in)))
        fprintf (stderr, "; stopped reading input");
    fprintf (stderr, ")\n");
    if (f->interrupted && unanswered)
        fprintf (stderr,
                 "logcli: append: interrupted with %" PRIu64 " append%s unanswered: the master "
                 "may already hold %s; sending the same lines again is not idempotent across "
                 "logcli runs\n",
                 unanswered, unanswered == 1 ? "" : "s", unanswered == 1 ? "it" : "them");
}

//  The bulk appender for CTX, or NULL with the reason on stderr.
static rlog_bulk_t *s_bulk_new (cli_context_t *ctx, const args_t *args, feed_t *f)
{
    rlog_bulk_t *bulk = rlog_bulk_new (ctx->endpoint, (int)args->w, (int)args->timeout_ms,
                                       f->window, s_on_result, f);
    if (!bulk) {
        fprintf (stderr, "logcli: append: cannot connect to %s: out of memory\n", ctx->endpoint);
        return NULL;
    }
    if (ctx->curve_secret &&
        rlog_bulk_set_curve (bulk, ctx->curve_secret, ctx->server_key) != RLOG_OK) {
        fprintf (stderr, "logcli: append: cannot connect to %s: %s\n", ctx->endpoint,
                 rlog_bulk_error (bulk));
        rlog_bulk_destroy (&bulk);
        return NULL;
    }
    rlog_bulk_set_retry (bulk, ctx->retry_ms, ctx->retries);
    return bulk;
}

static int s_append_stdin (cli_context_t *ctx, const args_t *args)
{
    feed_t f;
    memset (&f, 0, sizeof f);
    f.window = args->window ? (size_t)args->window : WINDOW_DEFAULT;
    f.limit.ctx = ctx;
    f.bulk = s_bulk_new (ctx, args, &f);
    if (!f.bulk)
        return CLI_EXIT_LOCAL;
    f.in.total_bytes = s_input_size ();
    output_progress_start (&f.progress, output_terminal (STDERR_FILENO), zclock_mono ());
    int rc = s_loop (&f);
    if (rc == 0 && !f.interrupted && !f.gave_up)
        rc = s_after (&f, rlog_bulk_finish (f.bulk));
    uint64_t unanswered = f.messages - f.ok - f.refused - f.timed_out;
    output_progress_clear (&f.progress);
    s_summary (&f, unanswered);
    rlog_bulk_destroy (&f.bulk);
    free (f.in.buf);
    if (rc != 0)
        return rc;
    if (f.interrupted)
        return CLI_EXIT_INTERRUPTED;
    if (unanswered || f.gave_up)
        return CLI_EXIT_UNREACHABLE;
    if (f.refused)
        return CLI_EXIT_REFUSED;
    return f.timed_out ? CLI_EXIT_TIMEDOUT : 0;
}

//  --------------------------------------------------------------------------
//  append MESSAGE

static int s_append_one (cli_context_t *ctx, const args_t *args)
{
    limit_t limit = {ctx, false, 0};
    const char *message = args->message;
    char why[128];
    if (s_too_large (&limit, strlen (message), why, sizeof why)) {
        fprintf (stderr, "logcli: append: the message is %s\n", why);
        return CLI_EXIT_REFUSED;
    }
    rlog_append_result_t result;
    int rc = rlog_client_append (ctx->client, message, strlen (message), (int)args->w,
                                 (int)args->timeout_ms, &result);
    if (rc != RLOG_OK && zsys_interrupted) {
        //  The request has most likely reached the master, which then stores
        //  the entry whatever happens to us; a new logcli run has a new
        //  client id, so the master cannot tell its append from this one.
        fprintf (stderr,
                 "logcli: append: interrupted while waiting for w=%" PRIu64
                 ": the master may already hold the entry (appends are never rolled back); "
                 "running the same append again is not idempotent across logcli runs\n",
                 args->w);
        return CLI_EXIT_INTERRUPTED;
    }
    if (rc != RLOG_OK)
        return cli_fail (ctx->client, "append", rc);
    printf ("%" PRIu64 "\n", result.seq);
    return 0;
}

//  --------------------------------------------------------------------------
//  Arguments

//  VALUE (NULL if there was none) of NAME, an option that takes a number
//  (-w, -t, --window), into ARGS; 0, or the usage error's exit status.
static int s_parse_number (const char *name, const char *value, args_t *args)
{
    if (streq (name, "-w")) {
        if (cli_number (value, &args->w) != 0)
            return cli_usage_error ("append: -w needs a number: the write concern, 1 for the "
                                    "master alone%s",
                                    "");
    } else if (streq (name, "-t")) {
        if (cli_number (value, &args->timeout_ms) != 0)
            return cli_usage_error ("append: -t needs a number of milliseconds (0: wait as "
                                    "long as it takes)%s",
                                    "");
    } else if (cli_number (value, &args->window) != 0 || args->window < 1 ||
               args->window > WINDOW_MAX)
        return cli_usage_error ("append: --window needs a number 1..1000%s", "");
    return 0;
}

static int s_parse (int argc, char **argv, args_t *args)
{
    bool literal = false; //  after "--": a message, whatever it looks like
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool option = !literal && a[0] == '-' && a[1];
        if (option && streq (a, "--"))
            literal = true;
        else if (option && (streq (a, "-w") || streq (a, "-t") || streq (a, "--window"))) {
            int rc = s_parse_number (a, i + 1 < argc ? argv[i + 1] : NULL, args);
            if (rc != 0)
                return rc;
            i++;
        } else if (option && !args->message)
            return cli_usage_error ("append: unknown option '%s'", a);
        else if (args->message)
            return cli_usage_error ("append: one MESSAGE only (quote it): '%s'", a);
        else
            args->message = a;
    }
    return 0;
}

//  The arguments make sense together; 0, or the usage error's status.
static int s_check (const args_t *args)
{
    if (!args->message)
        return cli_usage_error ("append: missing MESSAGE (or - to read lines from stdin)%s", "");
    //  A w that no cluster can meet is a usage error; one this cluster
    //  cannot meet (more than its nodes) is the master's to refuse: exit 3.
    if (args->w < 1)
        return cli_usage_error ("append: -w 0 can never be met: the write concern counts the "
                                "master, so it is at least 1%s",
                                "");
    if (args->w > INT32_MAX)
        return cli_usage_error ("append: -w is too large%s", "");
    if (args->timeout_ms > INT32_MAX)
        return cli_usage_error ("append: -t is too large%s", "");
    if (args->window && !streq (args->message, "-"))
        return cli_usage_error ("append: --window applies to append - only%s", "");
    return 0;
}

int cmd_append (cli_context_t *ctx, int argc, char **argv)
{
    args_t args = {1, 0, 0, NULL};
    int rc = s_parse (argc, argv, &args);
    if (rc == 0)
        rc = s_check (&args);
    if (rc != 0)
        return rc;
    if (streq (args.message, "-"))
        return s_append_stdin (ctx, &args);
    return s_append_one (ctx, &args);
}
