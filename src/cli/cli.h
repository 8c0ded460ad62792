/*  cli.h - what logcli's command files share.

    logcli.c reads the global options, builds one cli_context_t (the
    client of librlog and how to reach the node) and hands it with the
    command's own arguments to one cmd_* function, whose return value is
    the exit status. The helpers below are defined in logcli.c: the usage
    error format, the mapping from rlog_err_t to exit status, and number
    parsing, so that every command fails the same way.
*/
#ifndef CLI_H_INCLUDED
#define CLI_H_INCLUDED

#include "rlog.h"

#include <stdbool.h>
#include <stdint.h>

//  Exit status (0 ok, 1 local failure), as --help and logcli(1) list them.
#define CLI_EXIT_LOCAL       1
#define CLI_EXIT_USAGE       2
#define CLI_EXIT_REFUSED     3
#define CLI_EXIT_TIMEDOUT    4
#define CLI_EXIT_UNREACHABLE 5
#define CLI_EXIT_INTERRUPTED 130

//  What every command gets: the node (or list of nodes), and how to reach
//  it. The client is made, with retry and CURVE set, before the command
//  runs; commands that open connections of their own (append -) use the
//  rest.
typedef struct {
    rlog_client_t *client;
    const char *endpoint; //  as given: one endpoint or a comma-separated list
    int retry_ms;
    int retries;
    const char *curve_secret; //  NULL without CURVE
    const char *server_key;
} cli_context_t;

//  Print "logcli: " FORMAT (with ARG) and the pointer to --help on stderr;
//  returns CLI_EXIT_USAGE.
int cli_usage_error (const char *format, const char *arg);

//  The exit status for a librlog result RC (130 once a signal came in).
int cli_exit_code (int rc);

//  Report the failure RC of COMMAND on CLIENT ("logcli: list: no reply
//  from ...") and return its exit status.
int cli_fail (rlog_client_t *client, const char *command, int rc);

//  A decimal number of digits only (no sign, no space) into *VALUE; 0, or
//  -1 if TEXT is not one.
int cli_number (const char *text, uint64_t *value);

//  Sleep MS milliseconds, less if a signal comes in (what the loops want).
void cli_sleep_ms (int64_t ms);

//  The commands: each takes the arguments after its name and returns the
//  exit status.
int cmd_append (cli_context_t *ctx, int argc, char **argv);
int cmd_list (cli_context_t *ctx, int argc, char **argv);
int cmd_status (cli_context_t *ctx, int argc, char **argv);
int cmd_keygen (int argc, char **argv);

#endif
