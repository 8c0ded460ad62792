/*  cmd_status.c - logcli status [--json] [--watch].

    One STATUS round trip (rlog_client_status) shown as a table or as one
    JSON object. The table: the node asked (role, id, epoch, the master
    as leader id and client endpoint, history, head with the epoch of its
    last entry, mode), then the master's counts (nodes, quorum, waiting) or
    a secondary's view of the master it follows, then one row per other
    node it knows (role, state, last (epoch, seq), lag, last heard). The
    JSON object has every field of rlog_status_t, whatever the role, with
    the keys of the status reply; scripts read it with a regex, so each
    top-level key appears once and "max_msg" stays last.

    --watch: a frame a second until Ctrl-C (exit 0), redrawn in place on a
    terminal; a node that stops answering shows its error in place of the
    table and the watch goes on.
*/
#include "cli.h"
#include "output.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WATCH_MS 1000

//  --------------------------------------------------------------------------
//  JSON

static void s_json_key (FILE *out, const char *key, const char *text)
{
    fprintf (out, ",\"%s\":", key);
    output_json_text (out, text);
}

static void s_json_peers (FILE *out, const rlog_status_t *st)
{
    fprintf (out, ",\"secondaries\":[");
    for (size_t i = 0; i < st->secondary_count && i < RLOG_MAX_SECONDARIES; i++) {
        const rlog_secondary_status_t *s = &st->secondaries[i];
        //  "id" then "state", side by side: scripts match the pair
        fprintf (out, "%s{\"id\":", i ? "," : "");
        output_json_text (out, s->id);
        s_json_key (out, "state", s->state);
        s_json_key (out, "role", s->role);
        fprintf (out,
                 ",\"acked\":%" PRIu64 ",\"last_epoch\":%" PRIu64 ",\"lag\":%" PRIu64
                 ",\"last_heard_ms\":%" PRId64 ",\"catching_up\":%s}",
                 s->acked, s->last_epoch, s->lag, s->last_heard_ms,
                 s->catching_up ? "true" : "false");
    }
    fprintf (out, "]");
}

static void s_status_json (FILE *out, const rlog_status_t *st)
{
    fprintf (out, "{\"role\":");
    output_json_text (out, st->role);
    s_json_key (out, "node_id", st->node_id);
    fprintf (out, ",\"epoch\":%" PRIu64 ",\"head\":%" PRIu64 ",\"last_epoch\":%" PRIu64, st->epoch,
             st->head, st->last_epoch);
    s_json_key (out, "history", st->history);
    s_json_key (out, "mode", st->mode);
    s_json_key (out, "reason", st->reason);
    fprintf (out, ",\"nodes\":%u,\"healthy\":%u,\"quorum\":%u,\"waiting\":%u", st->nodes,
             st->healthy, st->quorum, st->waiting);
    s_json_key (out, "leader", st->leader);
    s_json_key (out, "leader_client", st->leader_client);
    s_json_peers (out, st);
    s_json_key (out, "master", st->master);
    fprintf (out,
             ",\"master_reachable\":%s,\"master_last_heard_ms\":%" PRId64
             ",\"master_head\":%" PRIu64 ",\"held_back\":%" PRIu64 ",\"duplicates\":%" PRIu64,
             st->master_reachable ? "true" : "false", st->master_last_heard_ms, st->master_head,
             st->held_back, st->duplicates);
    fprintf (out, ",\"max_msg\":%" PRIu64 "}\n", st->max_msg);
}

//  --------------------------------------------------------------------------
//  Table. Colour codes go around padded fields, so columns line up either
//  way.

//  What every role shows first: who it is, where the log is, the master.
static void s_text_self (FILE *out, const rlog_status_t *st, const output_palette_t *p)
{
    fprintf (out, "role       %s\n", st->role);
    fprintf (out, "id         %s\n", st->node_id);
    fprintf (out, "epoch      %" PRIu64 "\n", st->epoch);
    if (st->leader[0] && st->leader_client[0])
        fprintf (out, "leader     %s, client %s\n", st->leader, st->leader_client);
    else if (st->leader[0] || st->leader_client[0])
        fprintf (out, "leader     %s%s\n", st->leader[0] ? "" : "client ",
                 st->leader[0] ? st->leader : st->leader_client);
    else
        fprintf (out, "leader     unknown\n");
    fprintf (out, "history    %s\n", st->history[0] ? st->history : "none yet");
    fprintf (out, "head       %" PRIu64, st->head);
    if (st->head)
        fprintf (out, " (last entry of epoch %" PRIu64 ")", st->last_epoch);
    fprintf (out, "\n");
    const char *colour = output_state_colour (p, st->mode);
    fprintf (out, "mode       %s%s%s%s%s%s\n", colour, st->mode, st->reason[0] ? " (" : "",
             st->reason, st->reason[0] ? ")" : "", *colour ? p->off : "");
}

//  An epoch in a column: 0 is none a node has said (epochs start at 1).
static const char *s_epoch (uint64_t epoch, char *buf, size_t size)
{
    if (epoch)
        snprintf (buf, size, "%" PRIu64, epoch);
    else
        snprintf (buf, size, "-");
    return buf;
}

//  One row per other node: role, state, last (epoch, seq), lag, heard.
static void s_text_peers (FILE *out, const rlog_status_t *st, const output_palette_t *p)
{
    fprintf (out, "\n%s%-16s %-10s %-10s %10s %12s %10s %12s  %s%s\n", p->bold, "NODE", "ROLE",
             "STATE", "LAST EPOCH", "ACKED", "LAG", "LAST HEARD", "CATCHING UP", p->off);
    for (size_t i = 0; i < st->secondary_count && i < RLOG_MAX_SECONDARIES; i++) {
        const rlog_secondary_status_t *s = &st->secondaries[i];
        const char *colour = output_state_colour (p, s->state);
        char epoch[24], heard[24];
        //  A negative age: this master has never heard that node.
        if (s->last_heard_ms >= 0)
            snprintf (heard, sizeof heard, "%" PRId64 " ms", s->last_heard_ms);
        else
            snprintf (heard, sizeof heard, "never");
        fprintf (out, "%-16s %-10s %s%-10s%s %10s %12" PRIu64 " %10" PRIu64 " %12s  %s%s%s\n",
                 s->id, s->role, colour, s->state, *colour ? p->off : "",
                 s_epoch (s->last_epoch, epoch, sizeof epoch), s->acked, s->lag, heard,
                 s->catching_up ? p->yellow : "", s->catching_up ? "yes" : "no",
                 s->catching_up ? p->off : "");
    }
}

static void s_text_master (FILE *out, const rlog_status_t *st, const output_palette_t *p)
{
    fprintf (out, "nodes      %u (healthy %u, quorum %u)\n", st->nodes, st->healthy, st->quorum);
    fprintf (out, "waiting    %u appends\n", st->waiting);
    if (st->secondary_count == 0)
        fprintf (out, "\nno secondary has joined yet\n");
    else
        s_text_peers (out, st, p);
}

//  A secondary (or a candidate): the master it follows, as it sees it.
static void s_text_follower (FILE *out, const rlog_status_t *st, const output_palette_t *p)
{
    const char *reach = st->master_reachable ? "reachable" : "unreachable";
    const char *reach_colour = output_state_colour (p, reach);
    if (st->nodes)
        fprintf (out, "nodes      %u (quorum %u)\n", st->nodes, st->quorum);
    fprintf (out, "master     %s (%s%s%s", st->master, reach_colour, reach,
             *reach_colour ? p->off : "");
    if (st->master_last_heard_ms >= 0)
        fprintf (out, ", heard %" PRId64 " ms ago", st->master_last_heard_ms);
    fprintf (out, ", head %" PRIu64 ", epoch %" PRIu64 ")\n", st->master_head, st->epoch);
    fprintf (out, "held back  %" PRIu64 "\n", st->held_back);
    fprintf (out, "duplicates %" PRIu64 " dropped\n", st->duplicates);
    if (st->secondary_count)
        s_text_peers (out, st, p);
}

static void s_status_text (FILE *out, const rlog_status_t *st, const output_palette_t *p)
{
    s_text_self (out, st, p);
    if (streq (st->role, "master"))
        s_text_master (out, st, p);
    else
        s_text_follower (out, st, p);
}

//  --------------------------------------------------------------------------
//  --watch

//  One frame's text into OUT: a header line and the table (or the error).
static void s_watch_text (FILE *out, const cli_context_t *ctx, int rc, const rlog_status_t *st,
                          const output_palette_t *p)
{
    time_t now = time (NULL);
    struct tm tm;
    char clock[16] = "";
    if (localtime_r (&now, &tm))
        strftime (clock, sizeof clock, "%H:%M:%S", &tm);
    fprintf (out, "%s%s  every 1 s  %s%s\n\n", p->bold, ctx->endpoint, clock, p->off);
    if (rc == RLOG_OK)
        s_status_text (out, st, p);
    else
        fprintf (out, "%s%s%s\n", p->red, rlog_client_error (ctx->client), p->off);
}

//  On a terminal the frame is redrawn in place (cursor home, each line
//  cleared to its end, the rest of the screen cleared), which does not
//  flicker the way clearing the whole screen first does.
static void s_watch_show (const char *frame, size_t size, bool json, bool terminal)
{
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
}

static void s_watch_frame (const cli_context_t *ctx, bool json, bool terminal,
                           const output_palette_t *p)
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
    if (json && rc == RLOG_OK)
        s_status_json (out, &status);
    else if (json)
        fprintf (stderr, "logcli: status: %s\n", rlog_client_error (ctx->client));
    else
        s_watch_text (out, ctx, rc, &status, p);
    fclose (out);
    s_watch_show (frame, size, json, terminal);
    free (frame);
}

static int s_watch (const cli_context_t *ctx, bool json, const output_palette_t *p)
{
    bool terminal = output_terminal (STDOUT_FILENO);
    if (terminal && !json)
        fputs ("\033[H\033[2J", stdout);
    while (!zsys_interrupted) {
        int64_t start = zclock_mono ();
        s_watch_frame (ctx, json, terminal, p);
        //  A failed frame can take the whole retry budget; never sleep
        //  less than a tenth of a second between frames.
        int64_t left = WATCH_MS - (zclock_mono () - start);
        cli_sleep_ms (left > 100 ? left : 100);
    }
    return 0;
}

int cmd_status (cli_context_t *ctx, int argc, char **argv)
{
    bool json = false, watch = false;
    for (int i = 0; i < argc; i++) {
        if (streq (argv[i], "--"))
            continue;
        if (streq (argv[i], "--json"))
            json = true;
        else if (streq (argv[i], "--watch"))
            watch = true;
        else
            return cli_usage_error ("status: unknown argument '%s'", argv[i]);
    }
    const output_palette_t *palette = json ? output_plain () : output_palette ();
    if (watch)
        return s_watch (ctx, json, palette);
    rlog_status_t status;
    int rc = rlog_client_status (ctx->client, &status);
    if (rc != RLOG_OK)
        return cli_fail (ctx->client, "status", rc);
    if (json)
        s_status_json (stdout, &status);
    else
        s_status_text (stdout, &status, palette);
    return 0;
}
