/*  rlogd.c - the node daemon: flag and RLOG_* environment parsing, then one
    actor (master or secondary) until SIGINT/SIGTERM.
*/
#include "config.h"
#include "log.h"
#include "node.h"
#include "quiet.h"
#include <czmq.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <stdlib.h>

typedef enum {
    OPT_STR,
    OPT_BIND,    //  endpoint of a socket this node binds
    OPT_CONNECT, //  endpoint of a socket this node connects
    OPT_U32,
    OPT_SIZE,
    OPT_MS,
    OPT_RATE,
    OPT_U64,
    OPT_FLAG,
    OPT_FSYNC,
    OPT_LIST, //  the secondaries' ids
    OPT_PEERS //  an elected cluster's members
} opt_type_t;

#define FOR_MASTER    1
#define FOR_SECONDARY 2
#define FOR_NODE      4 //  an elected node (rlogd node)
#define FOR_PINNED    3
#define FOR_ALL       7

typedef struct {
    const char *name; //  flag without "--"; env is RLOG_ + upper-cased name
    opt_type_t type;
    size_t offset;
    int roles;
    const char *help;
} option_t;

#define OFF(field) offsetof (config_t, field)

static const option_t s_options[] = {
    {"replicas", OPT_U32, OFF (replicas), FOR_MASTER,
     "number of secondaries N, ids s1..sN (default 2)"},
    {"secondaries", OPT_LIST, OFF (secondaries), FOR_MASTER,
     "the secondaries' ids, comma separated (sets N): only they may join"},
    {"quorum", OPT_U32, OFF (quorum), FOR_MASTER,
     "healthy nodes needed to accept appends (default: majority of N+1)"},
    {"client", OPT_BIND, OFF (client_ep), FOR_PINNED,
     "client ROUTER endpoint (tcp://*:5555; port * or 0: any free one)"},
    {"pub", OPT_BIND, OFF (pub_ep), FOR_MASTER, "replication PUB endpoint (tcp://*:5556)"},
    {"peer", OPT_BIND, OFF (peer_ep), FOR_MASTER, "peer ROUTER endpoint (tcp://*:5557)"},
    {"id", OPT_STR, OFF (id), FOR_SECONDARY | FOR_NODE, "this node's unique name (required)"},
    {"peers", OPT_PEERS, OFF (members), FOR_NODE,
     "every member: ID=HOST:PORT,... (clients on PORT, PUB on PORT+1, peers on PORT+2)"},
    {"advertise", OPT_STR, OFF (advertise), FOR_MASTER,
     "client endpoint secondaries give out for this master (default: the bound one)"},
    {"election-min-ms", OPT_MS, OFF (election_min_ms), FOR_NODE,
     "silence from the master before an election, at least (suspect-ms)"},
    {"election-max-ms", OPT_MS, OFF (election_max_ms), FOR_NODE,
     "... and at most: each node draws its timeout in between (2 x election-min-ms)"},
    {"master-pub", OPT_CONNECT, OFF (master_pub), FOR_SECONDARY,
     "master's PUB endpoint (tcp://127.0.0.1:5556)"},
    {"master-peer", OPT_CONNECT, OFF (master_peer), FOR_SECONDARY,
     "master's peer endpoint (tcp://127.0.0.1:5557)"},
    {"heartbeat-ms", OPT_MS, OFF (heartbeat_ms), FOR_ALL, "heartbeat interval (200)"},
    {"suspect-ms", OPT_MS, OFF (suspect_ms), FOR_ALL,
     "silence before a peer is Suspected (5 heartbeats)"},
    {"unhealthy-ms", OPT_MS, OFF (unhealthy_ms), FOR_ALL,
     "silence before a peer is Unhealthy / the master unreachable (15 heartbeats)"},
    {"recover-ms", OPT_MS, OFF (recover_ms), FOR_MASTER | FOR_NODE,
     "steady contact before an Unhealthy peer is Healthy again (5 heartbeats)"},
    {"max-msg", OPT_SIZE, OFF (max_msg), FOR_ALL, "largest message in bytes (1048576)"},
    {"max-waiters", OPT_SIZE, OFF (max_waiters), FOR_MASTER | FOR_NODE,
     "appends parked for their write concern before BUSY (100000)"},
    {"max-client-waiting", OPT_SIZE, OFF (max_client_waiting), FOR_MASTER | FOR_NODE,
     "appends one client connection may have waiting before BUSY (10000)"},
    {"max-connections", OPT_SIZE, OFF (max_connections), FOR_ALL,
     "connections held at most; past it new ones are refused, the others stay served (4096)"},
    {"fetch-max", OPT_SIZE, OFF (fetch_max), FOR_ALL, "entries per gap-fill request (8192)"},
    {"holdback", OPT_SIZE, OFF (holdback_max), FOR_SECONDARY | FOR_NODE,
     "out-of-order records held back at most (65536)"},
    {"holdback-bytes", OPT_SIZE, OFF (holdback_bytes), FOR_SECONDARY | FOR_NODE,
     "... and their bytes at most (67108864)"},
    {"discard-foreign-log", OPT_FLAG, OFF (discard_foreign), FOR_SECONDARY | FOR_NODE,
     "if this node's log is another history than the master's, move it to a rollback file "
     "and join empty (default: refuse to follow)"},
    {"delay-ms", OPT_MS, OFF (delay_ms), FOR_SECONDARY | FOR_NODE,
     "test knob: entries become visible and are ACKed MS later (0)"},
    {"fail-rate", OPT_RATE, OFF (fail_rate), FOR_SECONDARY | FOR_NODE,
     "test knob: probability of failing after storing: no ACK, re-fetch (0)"},
    {"drop-rate", OPT_RATE, OFF (drop_rate), FOR_SECONDARY | FOR_NODE,
     "test knob: probability of dropping an incoming replication frame (0)"},
    {"seed", OPT_U64, OFF (seed), FOR_SECONDARY | FOR_NODE, "seed for the test knobs (0 = random)"},
    {"data-dir", OPT_STR, OFF (data_dir), FOR_ALL,
     "keep the log in DIR (segment files, CRC-checked); default: in memory"},
    {"fsync", OPT_FSYNC, OFF (fsync), FOR_ALL,
     "always|batch|never: when an entry counts as held (always)"},
    {"fsync-ms", OPT_MS, OFF (fsync_ms), FOR_ALL,
     "batch policy: longest time a written entry waits for its fsync (50)"},
    {"segment-bytes", OPT_SIZE, OFF (segment_bytes), FOR_ALL,
     "log segment file size, 4096..1073741824 (67108864)"},
    {"repair", OPT_FLAG, OFF (repair), FOR_MASTER,
     "cut a corrupt master log at the first bad record instead of refusing to start"},
    {"accept-shorter-log", OPT_FLAG, OFF (accept_shorter), FOR_MASTER,
     "serve even if secondaries hold more of this history (they truncate)"},
    {"curve-secret", OPT_STR, OFF (curve_secret), FOR_ALL,
     "CURVE: this node's certificate (FILE and FILE_secret, from logcli keygen)"},
    {"curve-allow-nodes", OPT_STR, OFF (curve_nodes), FOR_ALL,
     "CURVE: directory of the nodes' public certificates, each named by its node id"},
    {"curve-allow-clients", OPT_STR, OFF (curve_clients), FOR_ALL,
     "CURVE: directory of the public certificates of clients allowed to connect"},
    {"curve-client-cert", OPT_STR, OFF (curve_client_cert), FOR_ALL,
     "CURVE: the certificate the client socket presents (default: --curve-secret's); the "
     "same FILE on every node lets a client use one server key for all of them"},
    {"master-key", OPT_STR, OFF (master_key), FOR_SECONDARY,
     "CURVE: the master's public certificate file"},
    {"ready-file", OPT_STR, OFF (ready_file), FOR_ALL,
     "once bound, write the ports to FILE: 'client=P pub=P peer=P' (secondary: 'client=P')"},
    {"verbose", OPT_FLAG, OFF (verbose), FOR_ALL, "debug logging (also -v)"},
};

#define OPTION_COUNT (sizeof s_options / sizeof s_options[0])

static void s_usage (FILE *out, int roles)
{
    fprintf (out, "usage: rlogd master --replicas N [options]\n"
                  "       rlogd secondary --id NAME [options]\n"
                  "       rlogd node --id NAME --peers ID=HOST:PORT,... --data-dir DIR "
                  "[options]\n\n"
                  "Runs one rlog node until SIGINT or SIGTERM (then exits 0). Logs go to "
                  "stderr.\nmaster and secondary pin the node's role; node elects the master "
                  "among the members\nof --peers (every member is given the same list).\n"
                  "Every option also reads RLOG_<NAME> from the environment "
                  "(e.g. --heartbeat-ms: RLOG_HEARTBEAT_MS);\na flag wins over the "
                  "environment. Without --data-dir the log is held in memory.\n");
    const char *titles[] = {"", "master options", "secondary options", "", "node options"};
    for (int role = FOR_MASTER; role <= FOR_NODE; role <<= 1) {
        if (!(roles & role))
            continue;
        fprintf (out, "\n%s:\n", titles[role]);
        for (size_t i = 0; i < OPTION_COUNT; i++)
            if (s_options[i].roles & role)
                fprintf (out, "  --%-20s %s\n", s_options[i].name, s_options[i].help);
    }
    fprintf (out, "  -h, --help             this text\n");
}

//  An endpoint is checked here, so that a bare port or a missing scheme gets
//  a hint instead of libzmq's "Invalid argument" at bind time. On a socket
//  we bind, port 0 means any free port, as "*" does (czmq's spelling).
static int s_set_endpoint (char *field, bool bind, const char *value, const char *source)
{
    const char *host = bind ? "*" : "127.0.0.1";
    if (!strstr (value, "://")) {
        fprintf (stderr,
                 "rlogd: %s: '%s' is not an endpoint; an endpoint looks like tcp://HOST:PORT",
                 source, value);
        if (*value && strspn (value, "0123456789") == strlen (value))
            fprintf (stderr, " (did you mean tcp://%s:%s?)\n", host, value);
        else if (strchr (value, ':'))
            fprintf (stderr, " (did you mean tcp://%s?)\n", value);
        else
            fprintf (stderr, ", e.g. tcp://%s:5555\n", host);
        return -1;
    }
    size_t len = strlen (value);
    const char *port = NULL;
    if (strncmp (value, "tcp://", 6) == 0) {
        const char *colon = strrchr (value + 6, ':');
        if (!colon || colon == value + 6 || !colon[1]) {
            fprintf (stderr,
                     "rlogd: %s: '%s' has no port; an endpoint looks like tcp://HOST:PORT, "
                     "e.g. tcp://%s:5555\n",
                     source, value, host);
            return -1;
        }
        port = colon + 1;
    }
    if (len >= CONFIG_ENDPOINT_MAX) {
        fprintf (stderr, "rlogd: %s: value too long\n", source);
        return -1;
    }
    if (bind && port && streq (port, "0"))
        snprintf (field, CONFIG_ENDPOINT_MAX, "%.*s*", (int)(port - value), value);
    else
        snprintf (field, CONFIG_ENDPOINT_MAX, "%s", value);
    return 0;
}

//  A number (sizes, counts, times) into FIELD, by OPT's type and range.
static int s_set_number (void *field, const option_t *opt, const char *value, const char *source)
{
    char *end = NULL;
    errno = 0;
    if (*value == '-') {
        fprintf (stderr, "rlogd: %s: expected a non-negative number, got '%s'\n", source, value);
        return -1;
    }
    unsigned long long n = strtoull (value, &end, 10);
    if (errno || end == value || *end) {
        fprintf (stderr, "rlogd: %s: expected a number, got '%s'\n", source, value);
        return -1;
    }
    if (opt->type == OPT_U32 && n > UINT32_MAX) {
        fprintf (stderr, "rlogd: %s: %s is too large\n", source, value);
        return -1;
    }
    if (opt->offset == OFF (segment_bytes) && (n < CONFIG_SEGMENT_MIN || n > CONFIG_SEGMENT_MAX)) {
        fprintf (stderr,
                 "rlogd: %s: %s is out of range: a segment file holds %zu..%zu bytes (4 KiB..1 "
                 "GiB)\n",
                 source, value, CONFIG_SEGMENT_MIN, CONFIG_SEGMENT_MAX);
        return -1;
    }
    if (opt->type == OPT_U32)
        *(uint32_t *)field = (uint32_t)n;
    else if (opt->type == OPT_SIZE)
        *(size_t *)field = (size_t)n;
    else if (opt->type == OPT_MS)
        *(int64_t *)field = n > INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)n;
    else
        *(uint64_t *)field = (uint64_t)n;
    return 0;
}

//  A list (--peers, --secondaries), through the config's own parser.
static int s_set_list (config_t *cfg, const option_t *opt, const char *value, const char *source)
{
    char err[200];
    int rc = opt->type == OPT_PEERS ? config_set_peers (cfg, value, err, sizeof err)
                                    : config_set_secondaries (cfg, value, err, sizeof err);
    if (rc != 0)
        fprintf (stderr, "rlogd: %s: %s\n", source, err);
    return rc;
}

static int s_set (config_t *cfg, const option_t *opt, const char *value, const char *source)
{
    void *field = (char *)cfg + opt->offset;
    if (opt->type == OPT_BIND || opt->type == OPT_CONNECT)
        return s_set_endpoint ((char *)field, opt->type == OPT_BIND, value, source);
    if (opt->type == OPT_PEERS || opt->type == OPT_LIST)
        return s_set_list (cfg, opt, value, source);
    if (opt->type == OPT_STR) {
        if (strlen (value) >= CONFIG_ENDPOINT_MAX ||
            (opt->offset == OFF (id) && strlen (value) > 63)) {
            fprintf (stderr, "rlogd: %s: value too long\n", source);
            return -1;
        }
        snprintf ((char *)field, opt->offset == OFF (id) ? 64 : CONFIG_ENDPOINT_MAX, "%s", value);
        return 0;
    }
    if (opt->type == OPT_FSYNC) {
        const char *names[] = {"always", "batch", "never"};
        for (int i = 0; i < 3; i++)
            if (streq (value, names[i])) {
                *(config_fsync_t *)field = (config_fsync_t)i;
                return 0;
            }
        fprintf (stderr, "rlogd: %s: expected always, batch or never, got '%s'\n", source, value);
        return -1;
    }
    if (opt->type == OPT_FLAG) {
        *(bool *)field = !streq (value, "0") && !streq (value, "false") && !streq (value, "");
        return 0;
    }
    if (opt->type == OPT_RATE) {
        char *end = NULL;
        errno = 0;
        double d = strtod (value, &end);
        if (errno || end == value || *end || d < 0 || d > 1) {
            fprintf (stderr, "rlogd: %s: expected a probability 0..1, got '%s'\n", source, value);
            return -1;
        }
        *(double *)field = d;
        return 0;
    }
    return s_set_number (field, opt, value, source);
}

static int s_parse (config_t *cfg, int role, int argc, char **argv)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (!(s_options[i].roles & role))
            continue;
        char env[64] = "RLOG_";
        for (const char *p = s_options[i].name; *p && strlen (env) < sizeof env - 1; p++) {
            size_t len = strlen (env);
            env[len] = *p == '-' ? '_' : (char)toupper ((unsigned char)*p);
            env[len + 1] = 0;
        }
        const char *value = getenv (env);
        if (value && *value && s_set (cfg, &s_options[i], value, env) != 0)
            return -1;
    }
    for (int arg = 2; arg < argc; arg++) {
        const char *a = argv[arg];
        if (streq (a, "-h") || streq (a, "--help")) {
            s_usage (stdout, role);
            exit (0);
        }
        if (streq (a, "-v")) {
            cfg->verbose = true;
            continue;
        }
        const option_t *opt = NULL;
        const char *value = NULL;
        if (strncmp (a, "--", 2) == 0) {
            const char *name = a + 2;
            const char *eq = strchr (name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen (name);
            for (size_t i = 0; i < OPTION_COUNT && !opt; i++)
                if ((s_options[i].roles & role) && strlen (s_options[i].name) == len &&
                    strncmp (s_options[i].name, name, len) == 0)
                    opt = &s_options[i];
            if (opt && eq)
                value = eq + 1;
        }
        if (!opt) {
            fprintf (stderr, "rlogd: unknown option '%s' for %s (see --help)\n", a, argv[1]);
            return -1;
        }
        if (opt->type == OPT_FLAG && !value)
            value = "1";
        if (!value) {
            if (arg + 1 >= argc) {
                fprintf (stderr, "rlogd: %s needs a value\n", a);
                return -1;
            }
            value = argv[++arg];
        }
        if (s_set (cfg, opt, value, a) != 0)
            return -1;
    }
    return 0;
}

//  PATH gets LINE whole or not at all: written to a temporary file next to
//  it, then renamed over it, so a reader polling for PATH never sees half.
static int s_write_ready (const char *path, const char *line)
{
    char tmp[CONFIG_ENDPOINT_MAX + 32];
    snprintf (tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid ());
    FILE *f = fopen (tmp, "w");
    bool ok = f && fputs (line, f) >= 0;
    if (f && fclose (f) != 0)
        ok = false;
    if (ok && rename (tmp, path) == 0)
        return 0;
    log_error ("cannot write the ready file %s: %s", path, strerror (errno));
    unlink (tmp);
    return -1;
}

//  The actor's first word: "READY" and the bound ports (client, then pub
//  and peer unless a pinned secondary), written to the ready file; or
//  "ERROR" and why. 0 when it is up.
static int s_await_ready (zactor_t *actor, const config_t *cfg, bool three_ports)
{
    char *status = NULL, *detail = NULL, *pub = NULL, *peer = NULL;
    zstr_recvx (actor, &status, &detail, &pub, &peer, NULL);
    int rc = 0;
    if (!status || !streq (status, "READY")) {
        const char *hint = "";
        if (detail && strstr (detail, "cannot bind") && strstr (detail, "in use"))
            hint = " (another process listens there: stop it, or choose another port; "
                   "port * takes any free one)";
        else if (detail && strstr (detail, "cannot bind"))
            hint = " (an endpoint to bind looks like tcp://*:PORT for every interface, or "
                   "tcp://ADDRESS:PORT for one)";
        log_error ("cannot start: %s%s", detail ? detail : "interrupted", hint);
        rc = 1;
    } else if (cfg->ready_file[0]) {
        char line[128];
        if (three_ports)
            snprintf (line, sizeof line, "client=%s pub=%s peer=%s\n", detail ? detail : "0",
                      pub ? pub : "0", peer ? peer : "0");
        else
            snprintf (line, sizeof line, "client=%s\n", detail ? detail : "0");
        if (s_write_ready (cfg->ready_file, line) != 0)
            rc = 1;
        else
            log_info ("ports written to %s: %.*s", cfg->ready_file, (int)strcspn (line, "\n"),
                      line);
    }
    zstr_free (&status);
    zstr_free (&detail);
    zstr_free (&pub);
    zstr_free (&peer);
    return rc;
}

//  Wait for SIGINT/SIGTERM. After READY the actor speaks only when it
//  ends, which a signal also makes it do when it lands on the actor's
//  thread (zloop stops on EINTR). Its last word is the signal that
//  zactor_destroy waits for: it must be left there, or that wait is
//  forever. 0 on a signal, 1 if the node stopped on its own.
static int s_run_until_signal (zactor_t *actor, const char *role)
{
    zpoller_t *poller = zpoller_new (actor, NULL);
    bool ended = false;
    while (poller && !zsys_interrupted && !ended)
        ended = zpoller_wait (poller, 200) == actor;
    zpoller_destroy (&poller);
    if (zsys_interrupted) {
        log_info ("signal received: shutting down");
        return 0;
    }
    log_error ("the %s stopped on its own", role);
    return 1;
}

//  The role named on the command line (FOR_*), 0 if none.
static int s_role (const char *name)
{
    return streq (name, "master")      ? FOR_MASTER
           : streq (name, "secondary") ? FOR_SECONDARY
           : streq (name, "node")      ? FOR_NODE
                                       : 0;
}

//  Flags and environment into CFG, checked as a whole. The shared client
//  certificate is read here too, not only by the node: a bad file given to
//  one flag is a usage error like any other (exit 2), caught before a
//  socket is bound. 0, or -1 once said why on stderr.
static int s_configure (config_t *cfg, config_role_t kind, int role, int argc, char **argv)
{
    config_defaults (cfg, kind);
    char err[1024];
    if (s_parse (cfg, role, argc, argv) != 0)
        return -1;
    if (config_finish (cfg, kind, err, sizeof err) != 0) {
        fprintf (stderr, "rlogd: %s\n", err);
        return -1;
    }
    if (cfg->curve_client_cert[0] && auth_check_secret (cfg->curve_client_cert, err, sizeof err)) {
        fprintf (stderr, "rlogd: --curve-client-cert: %s\n", err);
        return -1;
    }
    return 0;
}

int main (int argc, char **argv)
{
    if (argc < 2 || streq (argv[1], "-h") || streq (argv[1], "--help")) {
        s_usage (argc < 2 ? stderr : stdout, FOR_ALL);
        return argc < 2 ? 2 : 0;
    }
    int role = s_role (argv[1]);
    if (!role) {
        fprintf (stderr, "rlogd: unknown role '%s': use master, secondary or node\n", argv[1]);
        return 2;
    }
    config_role_t kind = role == FOR_MASTER      ? CONFIG_MASTER
                         : role == FOR_SECONDARY ? CONFIG_SECONDARY
                                                 : CONFIG_NODE;
    config_t cfg;
    if (s_configure (&cfg, kind, role, argc, argv) != 0)
        return 2;
    log_set_ident (cfg.id);
    log_set_verbose (cfg.verbose);
    //  A file left by an earlier run must not announce this one's ports.
    if (cfg.ready_file[0] && unlink (cfg.ready_file) != 0 && errno != ENOENT) {
        fprintf (stderr, "rlogd: cannot remove the old ready file %s: %s\n", cfg.ready_file,
                 strerror (errno));
        return 1;
    }
    //  Two I/O threads: one for the bound sockets, one for the links to
    //  other nodes, whose name lookups may hang (node.c, s_set_affinity).
    zsys_set_io_threads (2);
    zactor_t *actor = zactor_new (kind == CONFIG_MASTER      ? master_actor
                                  : kind == CONFIG_SECONDARY ? secondary_actor
                                                             : node_actor,
                                  &cfg);
    if (!actor) {
        fprintf (stderr, "rlogd: cannot start the %s\n", argv[1]);
        return 1;
    }
    int rc = s_await_ready (actor, &cfg, kind != CONFIG_SECONDARY);
    if (rc == 0)
        rc = s_run_until_signal (actor, argv[1]);
    zactor_destroy (&actor);
    //  A second SIGINT/SIGTERM (Ctrl-C reaches the whole process group, and a
    //  supervisor may signal too) must not turn this exit into death by
    //  signal, the default action czmq puts back at exit; and no handler may
    //  run while LeakSanitizer stops the world at exit (it can hang then).
    //  Until the actor is gone its handler just sets a flag again.
    quiet_interrupts ();
    return rc;
}
