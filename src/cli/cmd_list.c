/*  cmd_list.c - logcli list [--from SEQ] [--limit N] [--json] [--follow].

    Prints a node's gap-free log through rlog_client_list, one page (4096
    entries) per call, flushing stdout after each, so that a reader at the
    other end of a pipe sees entries as they come and memory stays bounded
    however long the log is. The state between calls is the seq of the next
    entry and how many were printed (for --limit). --follow: once a page
    comes back short, poll every 100 ms until Ctrl-C (exit 0) or the node
    stops answering (exit 5). --json: one object per line, the message as a
    JSON string when it is UTF-8, else as base64, so every payload
    round-trips byte for byte.
*/
#include "cli.h"
#include "output.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>

#define FOLLOW_POLL_MS 100
#define LIST_PAGE      4096 //  entries in a full LIST reply

typedef struct {
    bool json;
    bool follow;
    uint64_t next;    //  seq of the next entry to print
    uint64_t printed; //  entries printed so far
    uint64_t limit;   //  0 = no limit
} list_state_t;

static void s_print_json (uint64_t seq, const void *data, size_t size)
{
    printf ("{\"seq\":%" PRIu64 ",", seq);
    if (output_valid_utf8 ((const uint8_t *)data, size)) {
        fputs ("\"message\":", stdout);
        output_json_string (stdout, (const char *)data, size);
    } else {
        fputs ("\"base64\":\"", stdout);
        output_base64 (stdout, (const uint8_t *)data, size);
        fputc ('"', stdout);
    }
    fputs ("}\n", stdout);
}

static int s_print_entry (uint64_t seq, const void *data, size_t size, void *arg)
{
    list_state_t *state = (list_state_t *)arg;
    if (state->json)
        s_print_json (seq, data, size);
    else {
        fwrite (data, 1, size, stdout);
        fputc ('\n', stdout);
    }
    state->next = seq + 1;
    state->printed++;
    if (state->limit && state->printed >= state->limit)
        return 1;
    return ferror (stdout) ? -1 : 0;
}

//  The options into STATE; 0 or a usage error's exit status.
static int s_parse (int argc, char **argv, list_state_t *state)
{
    uint64_t from = 1;
    for (int i = 0; i < argc; i++) {
        if (streq (argv[i], "--"))
            continue;
        if (streq (argv[i], "--json"))
            state->json = true;
        else if (streq (argv[i], "--follow"))
            state->follow = true;
        else if (streq (argv[i], "--from") || streq (argv[i], "--limit")) {
            uint64_t *target = argv[i][2] == 'f' ? &from : &state->limit;
            if (i + 1 >= argc || cli_number (argv[i + 1], target) != 0)
                return cli_usage_error ("list: %s needs a non-negative number", argv[i]);
            i++;
        } else
            return cli_usage_error ("list: unknown argument '%s'", argv[i]);
    }
    state->next = from ? from : 1;
    return 0;
}

int cmd_list (cli_context_t *ctx, int argc, char **argv)
{
    list_state_t state = {false, false, 0, 0, 0};
    int rc = s_parse (argc, argv, &state);
    if (rc != 0)
        return rc;
    while (true) {
        uint64_t chunk = LIST_PAGE;
        if (state.limit && state.limit - state.printed < chunk)
            chunk = state.limit - state.printed;
        uint64_t before = state.printed;
        rc = rlog_client_list (ctx->client, state.next, chunk, s_print_entry, &state);
        if (fflush (stdout) != 0 || ferror (stdout))
            return CLI_EXIT_LOCAL;
        if (state.follow && zsys_interrupted)
            return 0;
        if (rc != RLOG_OK)
            return cli_fail (ctx->client, "list", rc);
        if (state.limit && state.printed >= state.limit)
            return 0;
        if (state.printed - before == chunk)
            continue; //  more may be there already
        if (!state.follow)
            return 0;
        cli_sleep_ms (FOLLOW_POLL_MS);
        if (zsys_interrupted)
            return 0;
    }
}
