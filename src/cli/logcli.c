/*  logcli.c - logcli's main: global options, dispatch, usage.

    logcli is a command-line client over librlog's public API (rlog.h)
    only. This file reads the global options wherever they stand (before
    or after the command, as with git or kubectl; "--" ends them), makes
    the one rlog_client_t every command uses, and runs the command:

      cmd_append.c   append MESSAGE, append - (lines of stdin, rlog_bulk)
      cmd_list.c     list, list --follow
      cmd_status.c   status, status --json, status --watch
      cmd_keygen.c   keygen NAME (no node involved)
      output.c       colours, JSON, base64, progress bar

    Exit status: 0 ok, 1 local failure, 2 usage, 3 refused, 4 timed out,
    5 unreachable, 130 interrupted (cli_exit_code).

    Signals: zsys_init() installs czmq's SIGINT / SIGTERM handler, the one
    librlog's blocking calls already honour, so one flag (zsys_interrupted)
    ends both our loops and a request in progress.
*/
#include "cli.h"

#include "quiet.h"
#include <czmq.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    "  status [--json] [--watch]       the node's role, epoch, the master (its id\n"
    "              and client endpoint), history, head (seq and epoch of its last\n"
    "              entry) and mode, and per other node its role, state and last\n"
    "              (epoch, seq); colours on a terminal; --json: every field;\n"
    "              --watch: refresh every second until Ctrl-C\n"
    "  keygen NAME                     write a CURVE certificate: NAME (public;\n"
    "              goes into the nodes' allow directory) and NAME_secret (private)\n"
    "\n"
    "options (before or after the command; \"--\" ends them, so append -- -x\n"
    "appends -x):\n"
    "  -e, --endpoint ENDPOINT   node to talk to, or a comma-separated list of a\n"
    "                            cluster's nodes, tried in turn (env\n"
    "                            RLOG_ENDPOINT, default tcp://127.0.0.1:5555);\n"
    "                            any node takes appends: a secondary names the\n"
    "                            master and logcli sends them on there\n"
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
    "nodes, too large, no endpoint led to the master, busy, ...), 4 timed out\n"
    "(the entry was stored and stays), 5 unreachable, 130 interrupted (an append\n"
    "interrupted while it waits may be stored already; list --follow and status\n"
    "--watch exit 0 on Ctrl-C). append - exits 5 if some appends got no answer,\n"
    "else 3 if any was refused, else 4 if any timed out.\n";

//  --------------------------------------------------------------------------
//  What the command files share (cli.h)

int cli_usage_error (const char *format, const char *arg)
{
    fprintf (stderr, "logcli: ");
    fprintf (stderr, format, arg);
    fprintf (stderr, "\n(see logcli --help)\n");
    return CLI_EXIT_USAGE;
}

int cli_exit_code (int rc)
{
    if (rc == RLOG_OK)
        return 0;
    if (zsys_interrupted)
        return CLI_EXIT_INTERRUPTED;
    if (rc == RLOG_TIMEOUT)
        return CLI_EXIT_TIMEDOUT;
    if (rc == RLOG_UNREACHABLE)
        return CLI_EXIT_UNREACHABLE;
    if (rc == RLOG_INVALID)
        return CLI_EXIT_USAGE;
    return CLI_EXIT_REFUSED;
}

int cli_fail (rlog_client_t *client, const char *command, int rc)
{
    fprintf (stderr, "logcli: %s: %s\n", command,
             rlog_client_error (client)[0] ? rlog_client_error (client) : rlog_strerror (rc));
    return cli_exit_code (rc);
}

int cli_number (const char *text, uint64_t *value)
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

void cli_sleep_ms (int64_t ms)
{
    if (ms > 0)
        zclock_sleep ((int)ms);
}

//  --------------------------------------------------------------------------
//  Running a command

//  The global options, from the environment and then the command line.
typedef struct {
    const char *endpoint;
    const char *curve_secret;
    const char *server_key;
    uint64_t retry_ms;
    uint64_t retries;
} options_t;

//  The context for a command that talks to a node, its client made; exit
//  status 0, or a usage error (bad endpoint, bad or half CURVE keys).
static int s_context (const options_t *opts, cli_context_t *ctx)
{
    const char *curve_secret =
        opts->curve_secret && *opts->curve_secret ? opts->curve_secret : NULL;
    const char *server_key = opts->server_key && *opts->server_key ? opts->server_key : NULL;
    if (!curve_secret != !server_key)
        return cli_usage_error ("--curve-secret and --server-key go together%s", "");
    //  An endpoint list goes to the library as it is: it tries them in turn
    //  and follows a secondary's NOT_MASTER to the master.
    *ctx = (cli_context_t){rlog_client_new (opts->endpoint),
                           opts->endpoint,
                           (int)opts->retry_ms,
                           (int)opts->retries,
                           curve_secret,
                           server_key};
    if (!ctx->client)
        return cli_usage_error ("bad endpoint '%s' (expected e.g. tcp://127.0.0.1:5555)",
                                opts->endpoint);
    rlog_client_set_retry (ctx->client, ctx->retry_ms, ctx->retries);
    if (curve_secret && rlog_client_set_curve (ctx->client, curve_secret, server_key) != RLOG_OK) {
        int rc = cli_usage_error ("%s", rlog_client_error (ctx->client));
        rlog_client_destroy (&ctx->client);
        return rc;
    }
    return 0;
}

//  COMMAND with its ARGC arguments ARGV, global options already read.
static int s_run (const char *command, int argc, char **argv, const options_t *opts)
{
    if (streq (command, "keygen"))
        return cmd_keygen (argc, argv);
    int (*run) (cli_context_t *, int, char **) = NULL;
    if (streq (command, "append"))
        run = cmd_append;
    else if (streq (command, "list"))
        run = cmd_list;
    else if (streq (command, "status"))
        run = cmd_status;
    else
        return cli_usage_error ("unknown command '%s' (append, list, status or keygen)", command);
    cli_context_t ctx;
    int rc = s_context (opts, &ctx);
    if (rc != 0)
        return rc;
    //  Installs czmq's SIGINT/SIGTERM handler now rather than at the first
    //  socket, so a signal is never the default kill in our loops.
    zsys_init ();
    rc = run (&ctx, argc, argv);
    if (zsys_interrupted) {
        //  czmq restores the default action when it shuts down at exit; a
        //  second Ctrl-C then would turn the exit status we chose into
        //  death by signal. We are on our way out: ignore further ones.
        quiet_interrupts ();
    }
    rlog_client_destroy (&ctx.client);
    return rc;
}

//  --------------------------------------------------------------------------
//  Global options

//  A command option that takes a value: the value is passed along with it,
//  never read as a global option ("-w -e" is a bad -w, not -e).
static bool s_command_takes_value (const char *arg)
{
    return streq (arg, "-w") || streq (arg, "-t") || streq (arg, "--window") ||
           streq (arg, "--from") || streq (arg, "--limit");
}

static bool s_global (const char *arg)
{
    return streq (arg, "-e") || streq (arg, "--endpoint") || streq (arg, "--curve-secret") ||
           streq (arg, "--server-key") || streq (arg, "--retry-ms") || streq (arg, "--retries");
}

//  The global option NAME with its VALUE (NULL: there was none). 0, or
//  the usage error's exit status.
static int s_set_global (options_t *opts, const char *name, const char *value)
{
    if (!value)
        return cli_usage_error ("%s needs a value", name);
    if (streq (name, "-e") || streq (name, "--endpoint"))
        opts->endpoint = value;
    else if (streq (name, "--curve-secret"))
        opts->curve_secret = value;
    else if (streq (name, "--server-key"))
        opts->server_key = value;
    else {
        uint64_t *target = streq (name, "--retry-ms") ? &opts->retry_ms : &opts->retries;
        if (cli_number (value, target) != 0 || *target < 1 || *target > 3600000)
            return cli_usage_error ("%s needs a positive number", name);
    }
    return 0;
}

//  Sorts ARGV into the global options (OPTS), the command and its
//  arguments (ARGS, *NARGS), in order. 0 to go on; -1 after --help; else
//  a usage error's exit status.
static int s_parse (int argc, char **argv, options_t *opts, const char **command, char **args,
                    int *nargs)
{
    bool literal = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!literal && streq (a, "--")) {
            literal = true;
            if (*command)
                args[(*nargs)++] = a;
        } else if (literal || a[0] != '-' || !a[1]) {
            if (*command)
                args[(*nargs)++] = a;
            else
                *command = a;
        } else if (streq (a, "-h") || streq (a, "--help")) {
            fputs (s_usage_text, stdout);
            return -1;
        } else if (!s_global (a) && *command) {
            //  The command's own option: its parser judges it.
            args[(*nargs)++] = a;
            if (s_command_takes_value (a) && i + 1 < argc)
                args[(*nargs)++] = argv[++i];
        } else if (!s_global (a))
            return cli_usage_error ("unknown option '%s'", a);
        else {
            int rc = s_set_global (opts, a, i + 1 < argc ? argv[i + 1] : NULL);
            if (rc != 0)
                return rc;
            i++;
        }
    }
    return 0;
}

int main (int argc, char **argv)
{
    options_t opts = {getenv ("RLOG_ENDPOINT"), getenv ("RLOG_CURVE_SECRET"),
                      getenv ("RLOG_SERVER_KEY"), 1000, 3};
    if (!opts.endpoint || !*opts.endpoint)
        opts.endpoint = "tcp://127.0.0.1:5555";
    const char *command = NULL;
    char **args = (char **)calloc ((size_t)argc + 1, sizeof (char *));
    if (!args) {
        fprintf (stderr, "logcli: out of memory\n");
        return CLI_EXIT_LOCAL;
    }
    int nargs = 0;
    int rc = s_parse (argc, argv, &opts, &command, args, &nargs);
    if (rc == 0 && !command)
        rc = cli_usage_error ("missing COMMAND (append, list, status or keygen)%s", "");
    else if (rc == 0)
        rc = s_run (command, nargs, args, &opts);
    free (args);
    return rc < 0 ? 0 : rc;
}
