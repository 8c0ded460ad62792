/*  logcli.c - command-line client: flag parsing and output formatting over
    librlog. Exit codes: 0 ok, 2 usage, 3 refused, 4 timed out, 5 unreachable.
*/
#include "rlog.h"
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool streq_opt (const char *a, const char *b)
{
    return strcmp (a, b) == 0;
}

#define EXIT_USAGE       2
#define EXIT_REFUSED     3
#define EXIT_TIMEDOUT    4
#define EXIT_UNREACHABLE 5

static const char *s_usage_text =
    "usage: logcli [-e ENDPOINT] COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  append [-w N] [-t MS] MESSAGE   append MESSAGE; prints its seq\n"
    "      -w N    write concern: master + N-1 secondaries hold it (default 1)\n"
    "      -t MS   give up waiting after MS ms: the entry stays and keeps\n"
    "              replicating (default 0 = wait as long as it takes)\n"
    "  list [--from SEQ] [--limit N] [--json]\n"
    "              the node's gap-free log, one message per line, in seq order;\n"
    "              --json: one object per line {\"seq\":N,\"message\":\"...\"}, or\n"
    "              {\"seq\":N,\"base64\":\"...\"} when the message is not UTF-8\n"
    "  status [--json]                 role, head, mode and per-secondary state\n"
    "\n"
    "options:\n"
    "  -e, --endpoint ENDPOINT   node to talk to (env RLOG_ENDPOINT,\n"
    "                            default tcp://127.0.0.1:5555)\n"
    "  --retry-ms MS             wait for a reply before probing/retrying (1000)\n"
    "  --retries N               silent tries before giving up (3)\n"
    "  -h, --help                this text\n"
    "\n"
    "exit status: 0 ok, 2 usage error, 3 refused (read-only, bad w, too large,\n"
    "not master, busy, ...), 4 timed out (the entry was stored and stays),\n"
    "5 unreachable.\n";

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

typedef struct {
    bool json;
} list_opts_t;

static int s_print_entry (uint64_t seq, const void *data, size_t size, void *arg)
{
    list_opts_t *opts = (list_opts_t *)arg;
    if (opts->json) {
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
    return ferror (stdout) ? -1 : 0;
}

static int s_append (rlog_client_t *client, int argc, char **argv)
{
    uint64_t w = 1, timeout = 0;
    const char *message = NULL;
    for (int i = 0; i < argc; i++) {
        if (streq_opt (argv[i], "-w") || streq_opt (argv[i], "-t")) {
            uint64_t *target = argv[i][1] == 'w' ? &w : &timeout;
            if (i + 1 >= argc || s_number (argv[i + 1], target) != 0)
                return s_usage_error ("append: %s needs a non-negative number", argv[i]);
            i++;
        } else if (argv[i][0] == '-' && argv[i][1] && !message)
            return s_usage_error ("append: unknown option '%s'", argv[i]);
        else if (!message)
            message = argv[i];
        else
            return s_usage_error ("append: one MESSAGE only (quote it): '%s'", argv[i]);
    }
    if (!message)
        return s_usage_error ("append: missing MESSAGE%s", "");
    if (w < 1 || w > 1000)
        return s_usage_error ("append: -w must be at least 1%s", "");
    if (timeout > INT32_MAX)
        return s_usage_error ("append: -t is too large%s", "");
    rlog_append_result_t result;
    int rc = rlog_client_append (client, message, strlen (message), (int)w, (int)timeout, &result);
    if (rc != RLOG_OK)
        return s_fail (client, "append", rc);
    printf ("%" PRIu64 "\n", result.seq);
    return 0;
}

static int s_list (rlog_client_t *client, int argc, char **argv)
{
    uint64_t from = 1, limit = 0;
    list_opts_t opts = {false};
    for (int i = 0; i < argc; i++) {
        if (streq_opt (argv[i], "--json"))
            opts.json = true;
        else if (streq_opt (argv[i], "--from") || streq_opt (argv[i], "--limit")) {
            uint64_t *target = argv[i][2] == 'f' ? &from : &limit;
            if (i + 1 >= argc || s_number (argv[i + 1], target) != 0)
                return s_usage_error ("list: %s needs a non-negative number", argv[i]);
            i++;
        } else
            return s_usage_error ("list: unknown argument '%s'", argv[i]);
    }
    int rc = rlog_client_list (client, from, limit, s_print_entry, &opts);
    if (rc != RLOG_OK)
        return s_fail (client, "list", rc);
    return fflush (stdout) == 0 ? 0 : 1;
}

static void s_status_json (const rlog_status_t *st)
{
    printf ("{\"role\":");
    s_json_string (stdout, st->role, strlen (st->role));
    printf (",\"node_id\":");
    s_json_string (stdout, st->node_id, strlen (st->node_id));
    printf (",\"epoch\":%" PRIu64 ",\"head\":%" PRIu64 ",\"mode\":", st->epoch, st->head);
    s_json_string (stdout, st->mode, strlen (st->mode));
    if (streq_opt (st->role, "master")) {
        printf (",\"reason\":");
        s_json_string (stdout, st->reason, strlen (st->reason));
        printf (",\"nodes\":%u,\"healthy\":%u,\"quorum\":%u,\"waiting\":%u,\"secondaries\":[",
                st->nodes, st->healthy, st->quorum, st->waiting);
        for (size_t i = 0; i < st->secondary_count; i++) {
            const rlog_secondary_status_t *s = &st->secondaries[i];
            printf ("%s{\"id\":", i ? "," : "");
            s_json_string (stdout, s->id, strlen (s->id));
            printf (",\"state\":\"%s\",\"acked\":%" PRIu64 ",\"lag\":%" PRIu64
                    ",\"last_heard_ms\":%" PRId64 ",\"catching_up\":%s}",
                    s->state, s->acked, s->lag, s->last_heard_ms,
                    s->catching_up ? "true" : "false");
        }
        printf ("]");
    } else {
        printf (",\"master\":");
        s_json_string (stdout, st->master, strlen (st->master));
        printf (",\"master_reachable\":%s,\"master_last_heard_ms\":%" PRId64
                ",\"master_head\":%" PRIu64 ",\"held_back\":%" PRIu64 ",\"duplicates\":%" PRIu64,
                st->master_reachable ? "true" : "false", st->master_last_heard_ms, st->master_head,
                st->held_back, st->duplicates);
    }
    printf ("}\n");
}

static void s_status_text (const rlog_status_t *st)
{
    printf ("role       %s\n", st->role);
    if (streq_opt (st->role, "master")) {
        printf ("epoch      %" PRIu64 "\n", st->epoch);
        printf ("head       %" PRIu64 "\n", st->head);
        printf ("mode       %s%s%s%s\n", st->mode, st->reason[0] ? " (" : "", st->reason,
                st->reason[0] ? ")" : "");
        printf ("nodes      %u (healthy %u, quorum %u)\n", st->nodes, st->healthy, st->quorum);
        printf ("waiting    %u appends\n", st->waiting);
        if (st->secondary_count == 0) {
            printf ("\nno secondary has joined yet\n");
            return;
        }
        printf ("\n%-16s %-10s %12s %10s %12s  %s\n", "SECONDARY", "STATE", "ACKED", "LAG",
                "LAST HEARD", "CATCHING UP");
        for (size_t i = 0; i < st->secondary_count; i++) {
            const rlog_secondary_status_t *s = &st->secondaries[i];
            printf ("%-16s %-10s %12" PRIu64 " %10" PRIu64 " %9" PRId64 " ms  %s\n", s->id,
                    s->state, s->acked, s->lag, s->last_heard_ms, s->catching_up ? "yes" : "no");
        }
        return;
    }
    printf ("id         %s\n", st->node_id);
    printf ("head       %" PRIu64 "\n", st->head);
    printf ("mode       %s\n", st->mode);
    printf ("master     %s (%s", st->master, st->master_reachable ? "reachable" : "unreachable");
    if (st->master_last_heard_ms >= 0)
        printf (", heard %" PRId64 " ms ago", st->master_last_heard_ms);
    printf (", head %" PRIu64 ", epoch %" PRIu64 ")\n", st->master_head, st->epoch);
    printf ("held back  %" PRIu64 "\n", st->held_back);
    printf ("duplicates %" PRIu64 " dropped\n", st->duplicates);
}

static int s_status (rlog_client_t *client, int argc, char **argv)
{
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (streq_opt (argv[i], "--json"))
            json = true;
        else
            return s_usage_error ("status: unknown argument '%s'", argv[i]);
    }
    rlog_status_t status;
    int rc = rlog_client_status (client, &status);
    if (rc != RLOG_OK)
        return s_fail (client, "status", rc);
    if (json)
        s_status_json (&status);
    else
        s_status_text (&status);
    return 0;
}

int main (int argc, char **argv)
{
    const char *endpoint = getenv ("RLOG_ENDPOINT");
    if (!endpoint || !*endpoint)
        endpoint = "tcp://127.0.0.1:5555";
    uint64_t retry_ms = 1000, retries = 3;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (streq_opt (argv[i], "-h") || streq_opt (argv[i], "--help")) {
            fputs (s_usage_text, stdout);
            return 0;
        }
        if (i + 1 >= argc)
            return s_usage_error ("%s needs a value", argv[i]);
        if (streq_opt (argv[i], "-e") || streq_opt (argv[i], "--endpoint"))
            endpoint = argv[++i];
        else if (streq_opt (argv[i], "--retry-ms") || streq_opt (argv[i], "--retries")) {
            uint64_t *target = argv[i][7] == '-' ? &retry_ms : &retries;
            if (s_number (argv[i + 1], target) != 0 || *target < 1 || *target > 3600000)
                return s_usage_error ("%s needs a positive number", argv[i]);
            i++;
        } else
            return s_usage_error ("unknown option '%s'", argv[i]);
    }
    if (i >= argc)
        return s_usage_error ("missing COMMAND (append, list or status)%s", "");
    const char *command = argv[i++];
    bool help = false;
    for (int k = i; k < argc; k++)
        help |= streq_opt (argv[k], "-h") || streq_opt (argv[k], "--help");
    if (help) {
        fputs (s_usage_text, stdout);
        return 0;
    }
    int (*run) (rlog_client_t *, int, char **) = NULL;
    if (streq_opt (command, "append"))
        run = s_append;
    else if (streq_opt (command, "list"))
        run = s_list;
    else if (streq_opt (command, "status"))
        run = s_status;
    else
        return s_usage_error ("unknown command '%s' (append, list or status)", command);
    rlog_client_t *client = rlog_client_new (endpoint);
    if (!client)
        return s_usage_error ("bad endpoint '%s' (expected e.g. tcp://127.0.0.1:5555)", endpoint);
    rlog_client_set_retry (client, (int)retry_ms, (int)retries);
    int rc = run (client, argc - i, argv + i);
    rlog_client_destroy (&client);
    return rc;
}
