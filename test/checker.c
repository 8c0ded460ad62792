/*  checker.c - fault-injection checker for rlog (Jepsen-style; docs/CHECKER.md).

    Starts a real cluster (master + 2 secondaries) on free 127.0.0.1 ports,
    runs concurrent appending clients and a master-status poller while a
    seeded nemesis kills, pauses and reconfigures nodes, then heals the
    cluster, waits for convergence, reads every node's whole log and checks
    the recorded history against it. Prints one verdict line and, as the last
    line, "N passed, N failed". Exits 0 only on PASS.

    By default every node keeps its log in its own --data-dir under the
    run's temp dir, and the nemesis also kill -9s the master and restarts it
    on the same data dir, and restarts killed secondaries on their data dirs
    (or on an emptied one). --in-memory runs the nodes without data dirs
    (the master is then only ever paused).

    Every child is started from the main thread with PR_SET_PDEATHSIG (the
    "parent" of that setting is the forking thread, so no other thread ever
    forks), killed and reaped on every exit path, and the whole run is
    bounded by a watchdog alarm.
*/
#include "rlog.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef RLOG_BUILD_DIR
#define RLOG_BUILD_DIR "build"
#endif

extern char **environ;

#define NODES         3 //  master + 2 secondaries
#define MAX_CLIENTS   16
#define MAX_EVENTS    4096
#define MAX_PRINTED   40 //  violation lines printed in full
#define SAMPLE_EVERY  25 //  one ok w>=2 append in this many is sampled
#define POLL_MS       50
#define POLL_GAP_MS   100 //  largest gap between polls the read-only rule bridges
#define LOG_MARGIN_MS 5   //  slack around master log timestamps (ms precision)

//  --------------------------------------------------------------------------
//  Options and global state

enum { FSYNC_ALWAYS, FSYNC_BATCH, FSYNC_NEVER, FSYNC_RANDOM };
static const char *g_fsync_names[] = {"always", "batch", "never", "random"};
#define FSYNC_BATCH_MS 20

static struct {
    int seconds;
    uint64_t seed;
    int clients;
    int heartbeat_ms;
    int timeout_ms;
    int converge_s;
    bool keep;
    bool data_dirs; //  each node on its own --data-dir (default)
    int fsync;      //  FSYNC_*; RANDOM picks one per run from the seed
    char build_dir[PATH_MAX];
} g_opt = {.seconds = 60,
           .seed = 0,
           .clients = 6,
           .heartbeat_ms = 50,
           .timeout_ms = 2000,
           .converge_s = 30,
           .keep = false,
           .data_dirs = true,
           .fsync = FSYNC_RANDOM,
           .build_dir = RLOG_BUILD_DIR};

//  Per run, derived from the seed (data-dir mode): the fsync policy of every
//  node and the segment size (0 = rlogd's default), small sizes so that
//  segments roll over during the faults.
static int g_fsync = FSYNC_ALWAYS;
static long g_segment_bytes;
//  The clients' retry budget: RETRIES silent tries of about 2 x 500 ms each
//  (wait, then a STATUS probe) before UNREACHABLE. With data dirs it rides
//  out a master restart of a few seconds.
#define RETRY_MS 500
static int g_retries = 3;
static int g_budget_ms = 3000;

typedef struct {
    char name[16]; //  "master", "s1", "s2" in messages
    char id[32];   //  a secondary's --id: unlikely to match other people's commands
    bool master;
    atomic_int client_port;
    pid_t pid; //  0 when not running
    bool stopped;
    int incarnation;
    int delay_ms;
    double fail_rate;
    double drop_rate;
    uint64_t seed;
    char log_path[PATH_MAX];
    char ready_path[PATH_MAX]; //  rlogd's --ready-file: the ports it bound
    char data_dir[PATH_MAX];   //  "" in memory mode
} node_t;

static node_t g_nodes[NODES];
static volatile pid_t g_pids[NODES]; //  mirror for the signal handler
static int g_pub_port, g_peer_port;
static char g_dir[128];
static char **g_env;       //  environ without RLOG_*
static int64_t g_t0;       //  monotonic us when the workload started
static int64_t g_wall_off; //  realtime us - monotonic us
static atomic_bool g_stop; //  clients and poller stop
static FILE *g_faults_log; //  nemesis events, also on stdout
static char g_abort_msg[512];
static uint64_t g_rng; //  nemesis PRNG (main thread only)

//  Times a secondary lost its in-memory log (killed, stopped cleanly or by
//  someone else), for the in-run ack samples: it happened within from..to.
static struct {
    int64_t from, to;
    int node;
} g_kills[MAX_EVENTS];
static size_t g_kill_count;
static int64_t g_alive_at[NODES]; //  last time each node was seen running
static int g_external;            //  nodes stopped by someone other than us

//  Periods when a secondary could not store or acknowledge anything: from
//  the moment it was dead (reaped) or sent SIGSTOP, to the moment it was
//  started again or sent SIGCONT.
typedef struct {
    int64_t from, to;
    int node;
} down_t;
static down_t g_down[MAX_EVENTS];
static size_t g_down_count;
static int64_t g_down_since[NODES]; //  0 = available now

//  Highest seq of any ok or timed-out reply so far (the clients raise it):
//  a master restarted on its data dir must come back with at least this
//  head, since everything acknowledged was written before the kill.
static _Atomic uint64_t g_max_acked;
static struct {
    int master;        //  master kill -9 + restart on its data dir
    int kept, emptied; //  secondary restarts on its data dir / an emptied one
} g_restarts;
//  Each master restart: when it was killed, when it answered again, and the
//  head it recovered (for the exactly-once statistics).
static struct {
    int64_t killed, up;
    uint64_t head;
} g_master_up[MAX_EVENTS];
static size_t g_master_up_count;

//  --------------------------------------------------------------------------
//  Small helpers

static int64_t s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t s_wall_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void s_sleep_ms (int ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep (&ts, &ts) != 0 && errno == EINTR)
        ;
}

static uint64_t s_next (uint64_t *state)
{
    //  splitmix64: small, seedable, good enough for schedules
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int s_rand (uint64_t *state, int lo, int hi) //  lo..hi inclusive
{
    return lo + (int)(s_next (state) % (uint64_t)(hi - lo + 1));
}

static double s_elapsed (int64_t t)
{
    return (double)(t - g_t0) / 1e6;
}

static void s_record_kill (int index, int64_t from, int64_t to)
{
    if (g_kill_count < MAX_EVENTS) {
        g_kills[g_kill_count].from = from;
        g_kills[g_kill_count].to = to;
        g_kills[g_kill_count++].node = index;
    }
}

static void s_mark_down (int index)
{
    if (g_down_since[index] == 0)
        g_down_since[index] = s_now_us ();
}

static void s_mark_up (int index)
{
    if (g_down_since[index] != 0 && g_down_count < MAX_EVENTS) {
        g_down[g_down_count].from = g_down_since[index];
        g_down[g_down_count].to = s_now_us ();
        g_down[g_down_count++].node = index;
    }
    g_down_since[index] = 0;
}

static void s_event (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
static void s_event (const char *format, ...)
{
    char text[512];
    va_list ap;
    va_start (ap, format);
    vsnprintf (text, sizeof text, format, ap);
    va_end (ap);
    int64_t now = s_now_us ();
    time_t wall = (time_t)(s_wall_us () / 1000000);
    struct tm tm;
    char stamp[32] = "";
    if (gmtime_r (&wall, &tm))
        strftime (stamp, sizeof stamp, "%H:%M:%S", &tm);
    printf ("[%8.3fs %s] %s\n", g_t0 ? s_elapsed (now) : 0.0, stamp, text);
    fflush (stdout);
    if (g_faults_log) {
        fprintf (g_faults_log, "%.3f %" PRId64 " %s\n", g_t0 ? s_elapsed (now) : 0.0,
                 s_wall_us () / 1000, text);
        fflush (g_faults_log);
    }
}

//  --------------------------------------------------------------------------
//  Violations: counted by kind, the first kept for the verdict line

static struct {
    long total;
    char first[400];
    struct {
        const char *kind;
        long count;
    } kinds[32];
    size_t kind_count;
    long printed;
} g_viol;

static void s_violation (const char *kind, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
static void s_violation (const char *kind, const char *format, ...)
{
    char text[360];
    va_list ap;
    va_start (ap, format);
    vsnprintf (text, sizeof text, format, ap);
    va_end (ap);
    if (g_viol.total++ == 0)
        snprintf (g_viol.first, sizeof g_viol.first, "%s: %s", kind, text);
    size_t i = 0;
    while (i < g_viol.kind_count && strcmp (g_viol.kinds[i].kind, kind) != 0)
        i++;
    if (i == g_viol.kind_count && i < 32) {
        g_viol.kinds[i].kind = kind;
        g_viol.kind_count++;
    }
    if (i < 32)
        g_viol.kinds[i].count++;
    if (g_viol.printed++ < MAX_PRINTED)
        printf ("violation: %s: %s\n", kind, text);
}

//  --------------------------------------------------------------------------
//  Processes

//  Endpoint for a socket that binds PORT, or any free port when PORT is 0.
//  No port is picked here and handed over (something else could take it in
//  between): rlogd binds "*[FIRST-LAST]", the first free port from FIRST
//  up, and reports it in its --ready-file. FIRST is random, and the range
//  lies below the kernel's ephemeral range when there is room: a node's
//  port stays fixed across its restarts, and while it is down an outgoing
//  connection (the clients open thousands) could otherwise be given that
//  very port as its local port and keep the node from binding again.
static void s_bind_endpoint (char *buf, size_t size, int port)
{
    static uint64_t rng;
    static int low = -1;
    if (port > 0) {
        snprintf (buf, size, "tcp://127.0.0.1:%d", port);
        return;
    }
    if (low < 0) {
        low = 0;
        FILE *f = fopen ("/proc/sys/net/ipv4/ip_local_port_range", "r");
        if (f) {
            if (fscanf (f, "%d", &low) != 1)
                low = 0;
            fclose (f);
        }
        rng = (uint64_t)s_wall_us () ^ ((uint64_t)getpid () << 20);
    }
    int first = 10000, last = low - 1;
    if (last - first < 4000) {
        first = 49152;
        last = 65535;
    }
    snprintf (buf, size, "tcp://127.0.0.1:*[%d-%d]", s_rand (&rng, first, last - 1000), last);
}

static const char *s_endpoint (int node, char *buf, size_t size)
{
    snprintf (buf, size, "tcp://127.0.0.1:%d", atomic_load (&g_nodes[node].client_port));
    return buf;
}

static void s_build_env (void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    g_env = (char **)calloc (n + 1, sizeof (char *));
    size_t k = 0;
    for (size_t i = 0; i < n && g_env; i++)
        if (strncmp (environ[i], "RLOG_", 5) != 0)
            g_env[k++] = environ[i];
}

static void s_kill_all_now (void) //  async-signal-safe
{
    for (int i = 0; i < NODES; i++)
        if (g_pids[i] > 0)
            kill (g_pids[i], SIGKILL);
}

static void s_on_signal (int sig)
{
    s_kill_all_now ();
    const char *what = sig == SIGALRM ? "checker: FAIL watchdog: the run exceeded its time bound"
                                      : "checker: FAIL interrupted by a signal";
    ssize_t rc = write (STDOUT_FILENO, what, strlen (what));
    rc = write (STDOUT_FILENO, g_abort_msg, strlen (g_abort_msg));
    (void)rc;
    _exit (1);
}

static void s_append_marker (node_t *node, const char *text)
{
    int fd = open (node->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char line[1400];
    int n = snprintf (line, sizeof line, "#checker t=%.3f %s\n",
                      g_t0 ? s_elapsed (s_now_us ()) : 0.0, text);
    if (n > 0 && write (fd, line, (size_t)n) < 0)
        n = 0;
    close (fd);
}

//  Fork and exec one rlogd. Only the main thread calls this.
static pid_t s_spawn (int index)
{
    node_t *node = &g_nodes[index];
    char rlogd[PATH_MAX + 8], client[64], pub[64], peer[64], hb[16], suspect[16], unhealthy[16],
        recover[16], delay[16], fail[32], drop[32], seed[32];
    snprintf (rlogd, sizeof rlogd, "%s/rlogd", g_opt.build_dir);
    s_bind_endpoint (client, sizeof client, atomic_load (&node->client_port));
    if (node->master) {
        s_bind_endpoint (pub, sizeof pub, g_pub_port);
        s_bind_endpoint (peer, sizeof peer, g_peer_port);
    } else {
        snprintf (pub, sizeof pub, "tcp://127.0.0.1:%d", g_pub_port);
        snprintf (peer, sizeof peer, "tcp://127.0.0.1:%d", g_peer_port);
    }
    snprintf (hb, sizeof hb, "%d", g_opt.heartbeat_ms);
    snprintf (suspect, sizeof suspect, "%d", 5 * g_opt.heartbeat_ms);
    snprintf (unhealthy, sizeof unhealthy, "%d", 15 * g_opt.heartbeat_ms);
    snprintf (recover, sizeof recover, "%d", 5 * g_opt.heartbeat_ms);
    snprintf (delay, sizeof delay, "%d", node->delay_ms);
    snprintf (fail, sizeof fail, "%.3f", node->fail_rate);
    snprintf (drop, sizeof drop, "%.3f", node->drop_rate);
    snprintf (seed, sizeof seed, "%" PRIu64, node->seed);
    //  The master admits only the secondary ids it is given.
    char members[2 * sizeof node->id + 2];
    snprintf (members, sizeof members, "%s,%s", g_nodes[1].id, g_nodes[2].id);
    char *argv[40];
    int n = 0;
    argv[n++] = rlogd;
    if (node->master) {
        argv[n++] = (char *)"master";
        argv[n++] = (char *)"--replicas";
        argv[n++] = (char *)"2";
        argv[n++] = (char *)"--secondaries";
        argv[n++] = members;
        argv[n++] = (char *)"--pub";
        argv[n++] = pub;
        argv[n++] = (char *)"--peer";
        argv[n++] = peer;
        argv[n++] = (char *)"--recover-ms";
        argv[n++] = recover;
    } else {
        argv[n++] = (char *)"secondary";
        argv[n++] = (char *)"--id";
        argv[n++] = node->id;
        argv[n++] = (char *)"--master-pub";
        argv[n++] = pub;
        argv[n++] = (char *)"--master-peer";
        argv[n++] = peer;
        argv[n++] = (char *)"--delay-ms";
        argv[n++] = delay;
        argv[n++] = (char *)"--fail-rate";
        argv[n++] = fail;
        argv[n++] = (char *)"--drop-rate";
        argv[n++] = drop;
        argv[n++] = (char *)"--seed";
        argv[n++] = seed;
    }
    argv[n++] = (char *)"--client";
    argv[n++] = client;
    argv[n++] = (char *)"--heartbeat-ms";
    argv[n++] = hb;
    argv[n++] = (char *)"--suspect-ms";
    argv[n++] = suspect;
    argv[n++] = (char *)"--unhealthy-ms";
    argv[n++] = unhealthy;
    argv[n++] = (char *)"--ready-file";
    argv[n++] = node->ready_path;
    char fsync_ms[16], segment[24];
    if (node->data_dir[0]) {
        argv[n++] = (char *)"--data-dir";
        argv[n++] = node->data_dir;
        argv[n++] = (char *)"--fsync";
        argv[n++] = (char *)g_fsync_names[g_fsync];
        if (g_fsync == FSYNC_BATCH) {
            snprintf (fsync_ms, sizeof fsync_ms, "%d", FSYNC_BATCH_MS);
            argv[n++] = (char *)"--fsync-ms";
            argv[n++] = fsync_ms;
        }
        if (g_segment_bytes) {
            snprintf (segment, sizeof segment, "%ld", g_segment_bytes);
            argv[n++] = (char *)"--segment-bytes";
            argv[n++] = segment;
        }
    }
    argv[n] = NULL;

    char cmd[1024] = "";
    size_t used = 0;
    for (int i = 0; i < n && used < sizeof cmd; i++) {
        int rc = snprintf (cmd + used, sizeof cmd - used, "%s%s", i ? " " : "", argv[i]);
        used += rc > 0 ? (size_t)rc : 0;
    }
    char marker[1200];
    snprintf (marker, sizeof marker, "start incarnation %d: %s", node->incarnation + 1, cmd);
    s_append_marker (node, marker);

    int fd = open (node->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    pid_t parent = getpid ();
    s_mark_up (index);
    pid_t pid = fork ();
    if (pid == 0) {
        //  Async-signal-safe calls only: the parent has threads.
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (127);
        dup2 (fd, STDOUT_FILENO);
        dup2 (fd, STDERR_FILENO);
        execve (rlogd, argv, g_env);
        _exit (127);
    }
    close (fd);
    if (pid > 0) {
        node->pid = pid;
        g_pids[index] = pid;
        g_alive_at[index] = s_now_us ();
        node->stopped = false;
        node->incarnation++;
    }
    return pid;
}

static void s_reaped (int index)
{
    g_nodes[index].pid = 0;
    g_pids[index] = 0;
    g_nodes[index].stopped = false;
}

//  Kill with SIG (SIGKILL or SIGTERM) and reap; SIGKILL after 3 s.
static void s_kill (int index, int sig)
{
    node_t *node = &g_nodes[index];
    if (node->pid <= 0)
        return;
    int64_t sent = s_now_us ();
    if (sig != SIGKILL && node->stopped)
        s_mark_up (index);
    kill (node->pid, sig);
    if (sig != SIGKILL && node->stopped)
        kill (node->pid, SIGCONT);
    int64_t deadline = s_now_us () + 3000000;
    for (;;) {
        int status;
        pid_t rc = waitpid (node->pid, &status, sig == SIGKILL ? 0 : WNOHANG);
        //  A clean stop must be clean: exit 0, within 3 s.
        if (rc == node->pid && sig != SIGKILL && !(WIFEXITED (status) && WEXITSTATUS (status) == 0))
            s_violation ("shutdown", "%s (pid %d) ended with %s %d on SIGTERM; see %s", node->name,
                         (int)node->pid, WIFEXITED (status) ? "exit status" : "signal",
                         WIFEXITED (status) ? WEXITSTATUS (status) : WTERMSIG (status),
                         node->log_path);
        if (rc == node->pid || (rc < 0 && errno != EINTR))
            break;
        if (rc == 0 && s_now_us () > deadline) {
            s_violation ("shutdown", "%s (pid %d) did not stop within 3 s of SIGTERM; see %s",
                         node->name, (int)node->pid, node->log_path);
            kill (node->pid, SIGKILL);
            sig = SIGKILL;
        } else if (rc == 0)
            s_sleep_ms (5);
    }
    s_record_kill (index, sent, s_now_us ());
    s_reaped (index);
    s_mark_down (index);
}

static void s_signal_node (int index, int sig)
{
    node_t *node = &g_nodes[index];
    if (node->pid <= 0)
        return;
    if (sig == SIGCONT)
        s_mark_up (index);
    kill (node->pid, sig);
    if (sig == SIGSTOP) {
        node->stopped = true;
        s_mark_down (index);
    } else if (sig == SIGCONT)
        node->stopped = false;
}

static void s_cleanup (void)
{
    for (int i = 0; i < NODES; i++)
        if (g_nodes[i].pid > 0) {
            kill (g_nodes[i].pid, SIGKILL);
            waitpid (g_nodes[i].pid, NULL, 0);
            s_reaped (i);
        }
}

//  Did the node's last incarnation end with rlogd's clean-shutdown line?
//  rlogd exits 0 that way only after SIGINT/SIGTERM, and the checker never
//  sends those without reaping the node itself: someone else did.
static bool s_clean_shutdown (const node_t *node)
{
    FILE *f = fopen (node->log_path, "r");
    if (!f)
        return false;
    char tail[4097];
    long size = fseek (f, 0, SEEK_END) == 0 ? ftell (f) : 0;
    long from = size > 4096 ? size - 4096 : 0;
    size_t got = fseek (f, from, SEEK_SET) == 0 ? fread (tail, 1, 4096, f) : 0;
    tail[got] = 0;
    fclose (f);
    const char *last_start = strstr (tail, "#checker t=");
    for (const char *p = last_start; p; p = strstr (p + 1, "#checker t="))
        last_start = p;
    return strstr (last_start ? last_start : tail, "signal received: shutting down") != NULL;
}

static int g_faults;
static bool g_master_lost;
static void s_restart (int index);
static void s_restart_master (void);

//  A node that exited without being told to. A crash (signal, non-zero
//  status) is a violation. A clean shutdown on someone else's SIGTERM or
//  SIGINT is not rlog's fault: the node is restarted (one more, unplanned,
//  fault) on its data dir; in memory the master cannot be (a new history),
//  so that ends the run. Returns true if the master is gone.
static bool s_reap_check (void)
{
    bool master_gone = false;
    for (int i = 0; i < NODES; i++) {
        node_t *node = &g_nodes[i];
        if (node->pid <= 0)
            continue;
        int status;
        int64_t before = s_now_us ();
        if (waitpid (node->pid, &status, WNOHANG) != node->pid) {
            g_alive_at[i] = before;
            continue;
        }
        char how[64];
        if (WIFSIGNALED (status))
            snprintf (how, sizeof how, "killed by signal %d", WTERMSIG (status));
        else
            snprintf (how, sizeof how, "exit status %d", WEXITSTATUS (status));
        bool external = WIFEXITED (status) && WEXITSTATUS (status) == 0 && s_clean_shutdown (node);
        pid_t pid = node->pid;
        s_record_kill (i, g_alive_at[i], s_now_us ());
        s_reaped (i);
        s_mark_down (i);
        if (external) {
            g_external++;
            s_event ("WARNING: %s (pid %d) was shut down by a SIGTERM/SIGINT the checker did not "
                     "send (another process on this machine?)",
                     node->name, (int)pid);
            if (i == 0 && !g_opt.data_dirs)
                s_violation ("disturbed",
                             "the master (pid %d) was shut down by a signal the checker did not "
                             "send; the run cannot go on (not an rlog fault)",
                             (int)pid);
            else if (i == 0) {
                s_restart_master ();
                continue;
            } else
                s_restart (i);
        } else {
            s_violation ("crash", "%s (pid %d, incarnation %d) exited by itself: %s; see %s",
                         node->name, (int)pid, node->incarnation, how, node->log_path);
            s_event ("%s exited unexpectedly (%s)", node->name, how);
        }
        if (i == 0)
            master_gone = true;
    }
    return master_gone;
}

static bool s_status_of (int index, rlog_status_t *status, int retry_ms)
{
    char ep[64];
    rlog_client_t *client = rlog_client_new (s_endpoint (index, ep, sizeof ep));
    if (!client)
        return false;
    rlog_client_set_retry (client, retry_ms, 1);
    int rc = rlog_client_status (client, status);
    rlog_client_destroy (&client);
    return rc == RLOG_OK;
}

//  The ports node INDEX reported in its ready file, once it is there (rlogd
//  renames it into place whole). False while it is not.
static bool s_read_ready (int index)
{
    node_t *node = &g_nodes[index];
    FILE *f = fopen (node->ready_path, "r");
    if (!f)
        return false;
    char line[128] = "";
    if (!fgets (line, sizeof line, f))
        line[0] = 0;
    fclose (f);
    int client = 0, pub = 0, peer = 0;
    int n = sscanf (line, "client=%d pub=%d peer=%d", &client, &pub, &peer);
    if (client <= 0 || (node->master && (n != 3 || pub <= 0 || peer <= 0)))
        return false;
    atomic_store (&node->client_port, client);
    if (node->master) {
        g_pub_port = pub;
        g_peer_port = peer;
    }
    return true;
}

//  Start node INDEX and wait until it has reported its ports and answers
//  STATUS (5 s). A secondary whose port was taken by someone else while it
//  was down gets any free one.
static bool s_start (int index)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        unlink (g_nodes[index].ready_path);
        if (s_spawn (index) <= 0)
            return false;
        int64_t deadline = s_now_us () + 5000000;
        bool ready = false;
        while (s_now_us () < deadline) {
            rlog_status_t status;
            if (!ready && !(ready = s_read_ready (index)))
                s_sleep_ms (5); //  polling interval of a condition, not a guess
            else if (s_status_of (index, &status, 200))
                return true;
            int st;
            if (waitpid (g_nodes[index].pid, &st, WNOHANG) == g_nodes[index].pid) {
                if (WIFSIGNALED (st))
                    s_violation ("crash", "%s died of signal %d while starting; see %s",
                                 g_nodes[index].name, WTERMSIG (st), g_nodes[index].log_path);
                s_reaped (index);
                s_mark_down (index);
                break;
            }
        }
        if (g_nodes[index].pid > 0)
            s_kill (index, SIGKILL);
        if (index == 0)
            return false; //  the others know the master's ports
        s_event ("%s did not come up on port %d; retrying on any free port", g_nodes[index].name,
                 atomic_load (&g_nodes[index].client_port));
        atomic_store (&g_nodes[index].client_port, 0);
    }
    return false;
}

//  --------------------------------------------------------------------------
//  History: client operations, polls, samples

enum { OUT_OK, OUT_REFUSED, OUT_TIMEOUT, OUT_INDET };

typedef struct {
    int64_t inv; //  monotonic us before the call
    int64_t cmp; //  monotonic us after it returned
    uint64_t seq;
    uint32_t acks;
    uint32_t reply_w;
    uint8_t w;
    int8_t rc;
    uint8_t outcome;
} op_t;

typedef struct {
    size_t op;
    int64_t end;
    int holders;
    int unanswered; //  bit i: node i did not answer
} sample_t;

typedef struct {
    int id;
    pthread_t thread;
    uint64_t rng;
    op_t *ops;
    size_t count, cap;
    sample_t *samples;
    size_t sample_count, sample_cap;
    bool failed_to_start;
} client_t;

typedef struct {
    int64_t send, recv;
    uint64_t head;
    uint8_t state; //  0 no answer, 1 read-write, 2 read-only
} obs_t;

static client_t g_clients[MAX_CLIENTS];
static obs_t *g_obs;
static size_t g_obs_count, g_obs_cap;

static int s_outcome (int rc)
{
    switch (rc) {
    case RLOG_OK:
        return OUT_OK;
    case RLOG_TIMEOUT:
        return OUT_TIMEOUT;
    //  Documented as "nothing appended" (docs/PROTOCOL.md).
    case RLOG_READ_ONLY:
    case RLOG_BAD_W:
    case RLOG_TOO_LARGE:
    case RLOG_EMPTY:
    case RLOG_NOT_MASTER:
    case RLOG_BUSY:
    case RLOG_STALE:
    case RLOG_INVALID:
        return OUT_REFUSED;
    default:
        //  UNREACHABLE, INTERNAL, and client-side decode failures of a reply
        //  (MALFORMED, ...): the append may or may not have happened.
        return OUT_INDET;
    }
}

static void s_sample (client_t *self, size_t op_index, uint64_t seq)
{
    sample_t sample = {op_index, 0, 0, 0};
    for (int i = 0; i < NODES; i++) {
        rlog_status_t status;
        if (!s_status_of (i, &status, 200))
            sample.unanswered |= 1 << i;
        else if (status.head >= seq)
            sample.holders++;
    }
    sample.end = s_now_us ();
    if (self->sample_count == self->sample_cap) {
        size_t cap = self->sample_cap ? self->sample_cap * 2 : 256;
        sample_t *grown = (sample_t *)realloc (self->samples, cap * sizeof (sample_t));
        if (!grown)
            return;
        self->samples = grown;
        self->sample_cap = cap;
    }
    self->samples[self->sample_count++] = sample;
}

static void *s_client_main (void *arg)
{
    client_t *self = (client_t *)arg;
    char ep[64];
    rlog_client_t *client = rlog_client_new (s_endpoint (0, ep, sizeof ep));
    if (!client) {
        self->failed_to_start = true;
        return NULL;
    }
    //  Lost replies are retried with the same request id; silence for about
    //  g_budget_ms (g_retries x (500 ms wait + 500 ms probe)) ends as
    //  UNREACHABLE. A master restarting on its data dir within that time
    //  answers the retry with the original seq if it had stored the entry.
    rlog_client_set_retry (client, RETRY_MS, g_retries);
    while (!atomic_load (&g_stop)) {
        if (self->count == self->cap) {
            size_t cap = self->cap ? self->cap * 2 : 4096;
            op_t *grown = (op_t *)realloc (self->ops, cap * sizeof (op_t));
            if (!grown)
                break;
            self->ops = grown;
            self->cap = cap;
        }
        op_t *op = &self->ops[self->count];
        memset (op, 0, sizeof *op);
        op->w = (uint8_t)s_rand (&self->rng, 1, NODES);
        char value[32];
        int size = snprintf (value, sizeof value, "c%d-%zu", self->id, self->count);
        rlog_append_result_t result;
        op->inv = s_now_us ();
        int rc = rlog_client_append (client, value, (size_t)size, op->w, g_opt.timeout_ms, &result);
        op->cmp = s_now_us ();
        op->rc = (int8_t)rc;
        op->seq = result.seq;
        op->acks = result.acks;
        op->reply_w = result.w;
        op->outcome = (uint8_t)s_outcome (rc);
        size_t index = self->count++;
        if (op->outcome == OUT_OK || op->outcome == OUT_TIMEOUT) {
            uint64_t seen = atomic_load (&g_max_acked);
            while (result.seq > seen &&
                   !atomic_compare_exchange_weak (&g_max_acked, &seen, result.seq))
                ;
        }
        if (rc == RLOG_OK && op->w >= 2 && s_rand (&self->rng, 1, SAMPLE_EVERY) == 1)
            s_sample (self, index, result.seq);
        if (op->outcome == OUT_REFUSED)
            s_sleep_ms (s_rand (&self->rng, 10, 30));
        else
            s_sleep_ms (s_rand (&self->rng, 0, 4));
    }
    rlog_client_destroy (&client);
    return NULL;
}

static void *s_poller_main (void *arg)
{
    (void)arg;
    char ep[64];
    rlog_client_t *client = rlog_client_new (s_endpoint (0, ep, sizeof ep));
    if (!client)
        return NULL;
    rlog_client_set_retry (client, 100, 1);
    while (!atomic_load (&g_stop)) {
        if (g_obs_count == g_obs_cap) {
            size_t cap = g_obs_cap ? g_obs_cap * 2 : 4096;
            obs_t *grown = (obs_t *)realloc (g_obs, cap * sizeof (obs_t));
            if (!grown)
                break;
            g_obs = grown;
            g_obs_cap = cap;
        }
        obs_t *obs = &g_obs[g_obs_count];
        rlog_status_t status;
        obs->send = s_now_us ();
        int rc = rlog_client_status (client, &status);
        obs->recv = s_now_us ();
        obs->head = rc == RLOG_OK ? status.head : 0;
        obs->state = rc != RLOG_OK ? 0 : strcmp (status.mode, "read-only") == 0 ? 2 : 1;
        g_obs_count++;
        s_sleep_ms (POLL_MS);
    }
    rlog_client_destroy (&client);
    return NULL;
}

//  --------------------------------------------------------------------------
//  Nemesis (main thread)

//  Sleep MS, watching for crashed nodes. Returns false if the master died.
static bool s_wait (int ms)
{
    int64_t end = s_now_us () + (int64_t)ms * 1000;
    while (s_now_us () < end) {
        if (s_reap_check () || g_master_lost) {
            g_master_lost = true;
            return false;
        }
        int64_t left = (end - s_now_us ()) / 1000;
        s_sleep_ms (left < 20 ? (int)left : 20);
    }
    return !g_master_lost;
}

static void s_restart (int index)
{
    node_t *node = &g_nodes[index];
    if (s_start (index))
        s_event ("  start %s (pid %d, delay-ms %d, fail-rate %.3f, drop-rate %.3f)", node->name,
                 (int)node->pid, node->delay_ms, node->fail_rate, node->drop_rate);
    else
        s_violation ("crash", "%s could not be restarted; see %s", node->name, node->log_path);
}

//  rm -r PATH without following symlinks; 0 if PATH is gone afterwards.
static int s_remove_tree (const char *path)
{
    struct stat st;
    if (lstat (path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR (st.st_mode))
        return unlink (path);
    DIR *dir = opendir (path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir)) != NULL) {
            if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
                continue;
            char child[PATH_MAX];
            if (snprintf (child, sizeof child, "%s/%s", path, entry->d_name) < (int)sizeof child)
                s_remove_tree (child);
        }
        closedir (dir);
    }
    return rmdir (path);
}

static void s_collect_rollbacks (int index);

//  Restart secondary INDEX after a kill. With data dirs it comes back on its
//  own log, or, if EMPTY, on an emptied data dir (a replaced disk); in memory
//  it always comes back empty.
static void s_restart_secondary (int index, bool empty)
{
    node_t *node = &g_nodes[index];
    if (node->data_dir[0] && empty) {
        s_collect_rollbacks (index); //  evidence of truncations, before it goes
        if (s_remove_tree (node->data_dir) != 0)
            s_violation ("setup", "could not empty %s: %s", node->data_dir, strerror (errno));
        g_restarts.emptied++;
        s_append_marker (node, "data dir emptied");
        s_event ("  %s: data dir emptied", node->name);
    } else if (node->data_dir[0])
        g_restarts.kept++;
    s_restart (index);
}

//  Start the master again on its data dir. Everything it acknowledged (ok
//  or timed out) was written before the kill, and the page cache survives a
//  kill -9, so its head must come back at least as high as the highest seq
//  any client was ever given.
static void s_restart_master (void)
{
    uint64_t acked = atomic_load (&g_max_acked);
    int64_t killed = g_down_since[0];
    if (!s_start (0)) {
        s_violation ("crash", "the master could not be restarted on its data dir; see %s",
                     g_nodes[0].log_path);
        s_event ("master did not come back: the run ends");
        g_master_lost = true;
        return;
    }
    g_restarts.master++;
    rlog_status_t status;
    if (s_status_of (0, &status, 1000)) {
        s_event ("  start master (pid %d) on its data dir: head %" PRIu64 " (highest seq "
                 "acknowledged so far %" PRIu64 "), %s",
                 (int)g_nodes[0].pid, status.head, acked, status.mode);
        if (killed && g_master_up_count < MAX_EVENTS) {
            g_master_up[g_master_up_count].killed = killed;
            g_master_up[g_master_up_count].up = s_now_us ();
            g_master_up[g_master_up_count++].head = status.head;
        }
        if (status.head < acked)
            s_violation ("master-head",
                         "the master came back on its data dir with head %" PRIu64
                         ", but seq %" PRIu64 " had been acknowledged before the kill; see %s",
                         status.head, acked, g_nodes[0].log_path);
    } else
        s_event ("  start master (pid %d) on its data dir (no STATUS answer right after)",
                 (int)g_nodes[0].pid);
}

//  Kill -9 a secondary and restart it: on its data dir (KEEP) or empty.
static void s_fault_kill_restart (bool keep)
{
    int i = s_rand (&g_rng, 1, 2);
    int down = s_rand (&g_rng, 50, 1500);
    s_event ("fault %d: kill -9 %s (pid %d), down %d ms, restart %s", g_faults, g_nodes[i].name,
             (int)g_nodes[i].pid, down, keep ? "on its data dir" : "empty");
    s_kill (i, SIGKILL);
    s_wait (down);
    s_restart_secondary (i, !keep);
}

static void s_fault_pause_secondary (bool long_pause)
{
    int i = s_rand (&g_rng, 1, 2);
    int hb = g_opt.heartbeat_ms;
    //  Long: past Unhealthy (15 beats); short: past Suspected (5) only.
    int ms = long_pause ? s_rand (&g_rng, 15 * hb + 250, 15 * hb + 2000)
                        : s_rand (&g_rng, 5 * hb + 50, 12 * hb);
    s_event ("fault %d: SIGSTOP %s (pid %d) for %d ms (%s)", g_faults, g_nodes[i].name,
             (int)g_nodes[i].pid, ms, long_pause ? "past unhealthy" : "past suspected");
    s_signal_node (i, SIGSTOP);
    s_wait (ms);
    s_signal_node (i, SIGCONT);
    s_event ("  SIGCONT %s", g_nodes[i].name);
}

static void s_fault_pause_master (void)
{
    int hb = g_opt.heartbeat_ms;
    int kind = s_rand (&g_rng, 1, 100);
    //  Mostly short; some past the secondaries' unhealthy threshold (the
    //  master finds them all silent on resume); a few past the clients'
    //  retry budget, which makes their appends indeterminate.
    int ms = kind <= 60   ? s_rand (&g_rng, 100, 10 * hb)
             : kind <= 85 ? s_rand (&g_rng, 15 * hb + 100, 15 * hb + 1000)
                          : s_rand (&g_rng, g_budget_ms + 500, g_budget_ms + 1500);
    s_event ("fault %d: SIGSTOP master (pid %d) for %d ms%s", g_faults, (int)g_nodes[0].pid, ms,
             kind <= 60   ? ""
             : kind <= 85 ? " (past unhealthy)"
                          : " (past the client retries)");
    s_signal_node (0, SIGSTOP);
    s_wait (ms);
    s_signal_node (0, SIGCONT);
    s_event ("  SIGCONT master");
}

//  Data dirs only: kill -9 the master mid-workload and restart it on its
//  data dir after a random downtime. Mostly within the clients' retry budget
//  (they ride it out, retrying with the same request ids: exactly-once
//  across the restart), some past it (indeterminate appends).
static void s_fault_kill_master (void)
{
    int kind = s_rand (&g_rng, 1, 100);
    int down = kind <= 70   ? s_rand (&g_rng, 50, 1500)
               : kind <= 88 ? s_rand (&g_rng, 1500, g_budget_ms - 2000)
                            : s_rand (&g_rng, g_budget_ms + 500, g_budget_ms + 1500);
    s_event ("fault %d: kill -9 master (pid %d), down %d ms%s, restart on its data dir", g_faults,
             (int)g_nodes[0].pid, down, kind > 88 ? " (past the client retries)" : "");
    s_kill (0, SIGKILL);
    s_wait (down);
    s_restart_master ();
}

//  Data dirs only: kill -9 every node at once (a whole-cluster crash that
//  the page cache survives), restart all on their data dirs, in either order.
static void s_fault_kill_all (void)
{
    int down = s_rand (&g_rng, 100, 2500);
    bool master_first = s_rand (&g_rng, 0, 1) == 1;
    int gap = s_rand (&g_rng, 0, 500);
    s_event ("fault %d: kill -9 all three nodes, down %d ms, restart on their data dirs (%s "
             "first, then %d ms)",
             g_faults, down, master_first ? "master" : "secondaries", gap);
    for (int i = 0; i < NODES; i++)
        if (g_nodes[i].pid > 0)
            kill (g_nodes[i].pid, SIGKILL);
    for (int i = 0; i < NODES; i++)
        s_kill (i, SIGKILL);
    s_wait (down);
    if (master_first) {
        s_restart_master ();
        s_wait (gap);
    }
    for (int i = 1; i < NODES; i++)
        s_restart_secondary (i, false);
    if (!master_first) {
        s_wait (gap);
        s_restart_master ();
    }
}

static void s_fault_knobs (void)
{
    int i = s_rand (&g_rng, 1, 2);
    node_t *node = &g_nodes[i];
    bool term = s_rand (&g_rng, 0, 1) == 1;
    node->drop_rate = node->drop_rate > 0 ? 0 : (double)s_rand (&g_rng, 5, 30) / 100.0;
    node->delay_ms = s_rand (&g_rng, 1, 3) == 1 ? s_rand (&g_rng, 5, 80) : 0;
    node->fail_rate = s_rand (&g_rng, 1, 3) == 1 ? (double)s_rand (&g_rng, 5, 20) / 100.0 : 0;
    node->seed = s_next (&g_rng) | 1;
    int down = s_rand (&g_rng, 0, 500);
    //  In memory every restart is empty; the schedule stays as it was.
    bool empty = !g_opt.data_dirs || s_rand (&g_rng, 1, 3) == 1;
    s_event ("fault %d: %s %s (pid %d), down %d ms, restart %s with drop-rate %.2f "
             "delay-ms %d fail-rate %.2f",
             g_faults, term ? "SIGTERM" : "kill -9", node->name, (int)node->pid, down,
             empty ? "empty" : "on its data dir", node->drop_rate, node->delay_ms, node->fail_rate);
    s_kill (i, term ? SIGTERM : SIGKILL);
    s_wait (down);
    s_restart_secondary (i, empty);
}

static void s_fault_both_down (void)
{
    int hb = g_opt.heartbeat_ms;
    int mode = s_rand (&g_rng, 0, 2); //  0 kill both, 1 stop both, 2 stop one kill other
    int ms = s_rand (&g_rng, 15 * hb + 250, 15 * hb + 2500);
    int first = s_rand (&g_rng, 1, 2), other = 3 - first;
    const char *names[] = {"kill -9 both secondaries", "SIGSTOP both secondaries",
                           "SIGSTOP one secondary, kill -9 the other"};
    //  Data dirs: each killed one comes back empty one time in four.
    bool empty[NODES] = {false, true, true};
    if (g_opt.data_dirs)
        for (int i = 1; i < NODES; i++)
            empty[i] = s_rand (&g_rng, 1, 4) == 1;
    s_event ("fault %d: %s for %d ms (master must go read-only)", g_faults, names[mode], ms);
    if (mode == 0) {
        s_kill (first, SIGKILL);
        s_kill (other, SIGKILL);
    } else if (mode == 1) {
        s_signal_node (first, SIGSTOP);
        s_signal_node (other, SIGSTOP);
    } else {
        s_signal_node (first, SIGSTOP);
        s_wait (s_rand (&g_rng, 0, 10 * hb));
        s_kill (other, SIGKILL);
    }
    s_wait (ms);
    for (int i = 1; i < NODES; i++) {
        if (g_nodes[i].stopped) {
            s_signal_node (i, SIGCONT);
            s_event ("  SIGCONT %s", g_nodes[i].name);
        } else if (g_nodes[i].pid <= 0) {
            if (g_opt.data_dirs)
                s_event ("  %s restarts %s", g_nodes[i].name,
                         empty[i] ? "empty" : "on its data dir");
            s_restart_secondary (i, empty[i]);
        }
    }
}

static void s_nemesis (void)
{
    int64_t end = g_t0 + (int64_t)g_opt.seconds * 1000000;
    while (s_now_us () < end && !g_master_lost) {
        int64_t left_ms = (end - s_now_us ()) / 1000;
        int gap = s_rand (&g_rng, 200, 1500);
        if (!s_wait ((int)(gap < left_ms ? gap : left_ms)) || s_now_us () >= end)
            break;
        g_faults++;
        int pick = s_rand (&g_rng, 0, 99);
        if (!g_opt.data_dirs) {
            //  In memory: the master is never killed (it would lose its log).
            if (pick < 24)
                s_fault_kill_restart (false);
            else if (pick < 42)
                s_fault_pause_secondary (true);
            else if (pick < 50)
                s_fault_pause_secondary (false);
            else if (pick < 68)
                s_fault_pause_master ();
            else if (pick < 87)
                s_fault_knobs ();
            else
                s_fault_both_down ();
        } else if (pick < 15)
            s_fault_kill_restart (true);
        else if (pick < 24)
            s_fault_kill_restart (false);
        else if (pick < 36)
            s_fault_pause_secondary (true);
        else if (pick < 42)
            s_fault_pause_secondary (false);
        else if (pick < 53)
            s_fault_pause_master ();
        else if (pick < 70)
            s_fault_kill_master ();
        else if (pick < 83)
            s_fault_knobs ();
        else if (pick < 95)
            s_fault_both_down ();
        else
            s_fault_kill_all ();
    }
}

static void s_heal (void)
{
    s_event ("heal: every node running, none stopped");
    for (int i = 0; i < NODES; i++) {
        if (g_nodes[i].stopped) {
            s_signal_node (i, SIGCONT);
            s_event ("  SIGCONT %s", g_nodes[i].name);
        } else if (g_nodes[i].pid <= 0 && i > 0)
            s_restart_secondary (i, false);
        else if (g_nodes[i].pid <= 0 && g_opt.data_dirs && !g_master_lost)
            s_restart_master ();
    }
}

//  --------------------------------------------------------------------------
//  Final reads

typedef struct {
    uint64_t *keys; //  (client + 1) << 32 | n, or 0 if unparseable
    size_t count, cap;
    int node;
    bool bad_seq;
} nodelog_t;

static nodelog_t g_logs[NODES];

static uint64_t s_parse_value (const void *data, size_t size)
{
    const char *s = (const char *)data;
    if (size < 4 || s[0] != 'c')
        return 0;
    size_t i = 1;
    uint64_t c = 0, n = 0;
    size_t digits = 0;
    while (i < size && s[i] >= '0' && s[i] <= '9' && digits < 9) {
        c = c * 10 + (uint64_t)(s[i++] - '0');
        digits++;
    }
    if (digits == 0 || i >= size || s[i] != '-' || (digits > 1 && s[1] == '0'))
        return 0;
    size_t start = ++i;
    digits = 0;
    while (i < size && s[i] >= '0' && s[i] <= '9' && digits < 9) {
        n = n * 10 + (uint64_t)(s[i++] - '0');
        digits++;
    }
    if (digits == 0 || i != size || (digits > 1 && s[start] == '0'))
        return 0;
    if (c >= (uint64_t)g_opt.clients || n >= g_clients[c].count)
        return 0;
    return ((c + 1) << 32) | n;
}

static void s_printable (const void *data, size_t size, char *out, size_t out_size)
{
    const unsigned char *s = (const unsigned char *)data;
    size_t k = 0;
    for (size_t i = 0; i < size && k + 5 < out_size; i++)
        k += (size_t)snprintf (out + k, out_size - k, s[i] >= 32 && s[i] < 127 ? "%c" : "\\x%02x",
                               s[i]);
    out[k] = 0;
}

static int s_collect (uint64_t seq, const void *data, size_t size, void *arg)
{
    nodelog_t *log = (nodelog_t *)arg;
    if (seq != log->count + 1) {
        log->bad_seq = true;
        return -1;
    }
    if (log->count == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 65536;
        uint64_t *grown = (uint64_t *)realloc (log->keys, cap * sizeof (uint64_t));
        if (!grown)
            return -1;
        log->keys = grown;
        log->cap = cap;
    }
    uint64_t key = s_parse_value (data, size);
    if (key == 0) {
        char text[80];
        s_printable (data, size < 60 ? size : 60, text, sizeof text);
        s_violation ("unexpected", "%s holds \"%s\" at seq %" PRIu64 ", a value never sent",
                     g_nodes[log->node].name, text, seq);
    }
    log->keys[log->count++] = key;
    return 0;
}

static bool s_read_log (int index)
{
    nodelog_t *log = &g_logs[index];
    log->node = index;
    char ep[64];
    rlog_client_t *client = rlog_client_new (s_endpoint (index, ep, sizeof ep));
    if (!client)
        return false;
    rlog_client_set_retry (client, 2000, 3);
    int rc = rlog_client_list (client, 1, 0, s_collect, log);
    if (rc != RLOG_OK)
        s_violation ("read", "listing %s failed: %s", g_nodes[index].name,
                     rlog_client_error (client));
    else if (log->bad_seq)
        s_violation ("gap", "%s listed a non-contiguous seq after %zu entries", g_nodes[index].name,
                     log->count);
    rlog_client_destroy (&client);
    return rc == RLOG_OK && !log->bad_seq;
}

//  Every node's head == the master's head (clients have stopped).
static bool s_converge (uint64_t *heads)
{
    int64_t deadline = s_now_us () + (int64_t)g_opt.converge_s * 1000000;
    for (;;) {
        bool ok = true;
        for (int i = 0; i < NODES; i++) {
            rlog_status_t status;
            if (s_status_of (i, &status, 300))
                heads[i] = status.head;
            else
                ok = false;
        }
        for (int i = 1; i < NODES && ok; i++)
            ok = heads[i] == heads[0];
        if (ok)
            return true;
        if (s_now_us () > deadline)
            return false;
        s_reap_check ();
        s_sleep_ms (50);
    }
}

//  --------------------------------------------------------------------------
//  Checks

static const char *s_code_name (int rc)
{
    static const char *names[] = {"OK",          "TIMEOUT",     "READ_ONLY",    "BAD_W",
                                  "TOO_LARGE",   "EMPTY",       "NOT_MASTER",   "BUSY",
                                  "MALFORMED",   "BAD_VERSION", "UNKNOWN_TYPE", "STALE",
                                  "UNREACHABLE", "INTERNAL",    "INVALID",      "REFUSED"};
    return rc >= 0 && rc < (int)(sizeof names / sizeof names[0]) ? names[rc] : "?";
}

//  Per-node value checks: duplicates, refused values; returns per-client
//  position arrays (seq of each op's value on that node, 0 = absent).
static uint64_t **s_positions (int index, size_t *entries_checked)
{
    nodelog_t *log = &g_logs[index];
    uint64_t **pos = (uint64_t **)calloc ((size_t)g_opt.clients, sizeof (uint64_t *));
    for (int c = 0; pos && c < g_opt.clients; c++)
        pos[c] = (uint64_t *)calloc (g_clients[c].count + 1, sizeof (uint64_t));
    for (size_t i = 0; pos && i < log->count; i++) {
        uint64_t key = log->keys[i];
        if (key == 0)
            continue;
        int c = (int)(key >> 32) - 1;
        size_t n = (size_t)(key & 0xffffffffu);
        uint64_t seq = i + 1;
        if (!pos[c])
            continue;
        if (pos[c][n])
            s_violation ("duplicate", "c%d-%zu appears at seq %" PRIu64 " and %" PRIu64 " on %s", c,
                         n, pos[c][n], seq, g_nodes[index].name);
        else
            pos[c][n] = seq;
        const op_t *op = &g_clients[c].ops[n];
        if (op->outcome == OUT_REFUSED)
            s_violation ("refused-read",
                         "c%d-%zu was refused (%s) but appears at seq %" PRIu64 " on %s", c, n,
                         s_code_name (op->rc), seq, g_nodes[index].name);
        (*entries_checked)++;
    }
    return pos;
}

static void s_free_positions (uint64_t **pos)
{
    for (int c = 0; pos && c < g_opt.clients; c++)
        free (pos[c]);
    free (pos);
}

static void s_check_acked (int index, uint64_t **pos)
{
    for (int c = 0; c < g_opt.clients && pos; c++)
        for (size_t n = 0; n < g_clients[c].count && pos[c]; n++) {
            const op_t *op = &g_clients[c].ops[n];
            if (op->outcome != OUT_OK && op->outcome != OUT_TIMEOUT)
                continue;
            const char *what = op->outcome == OUT_OK ? "ok" : "timed-out (appended)";
            if (pos[c][n] == 0)
                s_violation (op->outcome == OUT_OK ? "lost-ack" : "lost-appended",
                             "c%d-%zu %s w=%u seq=%" PRIu64 " acks=%u (answered at %.3fs) is "
                             "missing on %s",
                             c, n, what, op->w, op->seq, op->acks, s_elapsed (op->cmp),
                             g_nodes[index].name);
            else if (pos[c][n] != op->seq)
                s_violation ("seq-mismatch",
                             "c%d-%zu %s with seq %" PRIu64 " but is at seq %" PRIu64 " on %s", c,
                             n, what, op->seq, pos[c][n], g_nodes[index].name);
        }
}

static void s_check_history (void)
{
    const nodelog_t *m = &g_logs[0];
    for (int i = 1; i < NODES; i++) {
        const nodelog_t *s = &g_logs[i];
        size_t common = s->count < m->count ? s->count : m->count;
        for (size_t k = 0; k < common; k++)
            if (s->keys[k] != m->keys[k]) {
                s_violation ("divergence",
                             "seq %zu: master holds c%d-%u, %s holds c%d-%u (first difference)",
                             k + 1, (int)(m->keys[k] >> 32) - 1,
                             (unsigned)(m->keys[k] & 0xffffffffu), g_nodes[i].name,
                             (int)(s->keys[k] >> 32) - 1, (unsigned)(s->keys[k] & 0xffffffffu));
                break;
            }
        if (s->count != m->count)
            s_violation ("divergence", "%s holds %zu entries, the master %zu", g_nodes[i].name,
                         s->count, m->count);
    }
}

static void s_check_replies (void)
{
    for (int c = 0; c < g_opt.clients; c++) {
        uint64_t last_seq = 0;
        size_t last_n = 0;
        for (size_t n = 0; n < g_clients[c].count; n++) {
            const op_t *op = &g_clients[c].ops[n];
            if (op->outcome == OUT_OK && (op->seq == 0 || op->acks < op->w || op->reply_w != op->w))
                s_violation ("ack-honesty",
                             "c%d-%zu ok with seq=%" PRIu64 " acks=%u w=%u (asked w=%u)", c, n,
                             op->seq, op->acks, op->reply_w, op->w);
            if (op->outcome == OUT_TIMEOUT && (op->seq == 0 || op->acks >= op->w))
                s_violation ("ack-honesty",
                             "c%d-%zu timed out with seq=%" PRIu64 " acks=%u for w=%u", c, n,
                             op->seq, op->acks, op->w);
            if (op->outcome != OUT_OK && op->outcome != OUT_TIMEOUT)
                continue;
            if (op->seq <= last_seq && last_seq)
                s_violation ("client-order",
                             "c%d-%zu got seq %" PRIu64 " after c%d-%zu got seq %" PRIu64, c, n,
                             op->seq, c, last_n, last_seq);
            last_seq = op->seq;
            last_n = n;
        }
    }
}

#define DOWN_MARGIN_US 50000 //  a signal takes effect well within this

//  Was secondary NODE down (dead or stopped) for the whole of FROM..TO?
//  Its down period must have begun DOWN_MARGIN_US before FROM.
static bool s_down_throughout (int node, int64_t from, int64_t to)
{
    for (size_t i = 0; i < g_down_count; i++)
        if (g_down[i].node == node && g_down[i].from + DOWN_MARGIN_US <= from && g_down[i].to >= to)
            return true;
    return g_down_since[node] != 0 && g_down_since[node] + DOWN_MARGIN_US <= from;
}

//  Nodes that could hold an entry appended during FROM..TO: the master,
//  and each secondary that was not down for the whole of it. An entry that
//  did not exist before FROM cannot be on (or acked by) a node that was
//  dead or stopped from before FROM until TO.
static int s_possible_holders (int64_t from, int64_t to, char *why, size_t why_size)
{
    int possible = 1;
    size_t used = 0;
    why[0] = 0;
    for (int i = 1; i < NODES; i++) {
        if (!s_down_throughout (i, from, to))
            possible++;
        else if (used < why_size) {
            int rc = snprintf (why + used, why_size - used, "%s%s down", used ? ", " : "",
                               g_nodes[i].name);
            used += rc > 0 ? (size_t)rc : 0;
        }
    }
    return possible;
}

//  An ok (or timed-out) reply may not count more nodes than could hold it.
static void s_check_possible (void)
{
    for (int c = 0; c < g_opt.clients; c++)
        for (size_t n = 0; n < g_clients[c].count; n++) {
            const op_t *op = &g_clients[c].ops[n];
            if (op->outcome != OUT_OK && op->outcome != OUT_TIMEOUT)
                continue;
            char why[64];
            int possible = s_possible_holders (op->inv, op->cmp, why, sizeof why);
            if ((int)op->acks > possible)
                s_violation ("ack-impossible",
                             "c%d-%zu %s w=%u acks=%u seq=%" PRIu64 " sent at %.3fs, answered at "
                             "%.3fs, but only %d node(s) could hold it (%s throughout)",
                             c, n, op->outcome == OUT_OK ? "ok" : "timed out", op->w, op->acks,
                             op->seq, s_elapsed (op->inv), s_elapsed (op->cmp), possible,
                             why[0] ? why : "no secondary down");
        }
}

//  The in-run samples: right after an ok with w=k, at least k nodes must
//  hold the entry, unless a secondary was killed (losing its in-memory log)
//  between the request and the sample. A node that did not answer (paused)
//  is counted as a possible holder.
static long s_check_samples (long *skipped)
{
    long checked = 0;
    for (int c = 0; c < g_opt.clients; c++)
        for (size_t k = 0; k < g_clients[c].sample_count; k++) {
            const sample_t *s = &g_clients[c].samples[k];
            const op_t *op = &g_clients[c].ops[s->op];
            bool killed = false;
            for (size_t e = 0; e < g_kill_count && !killed; e++)
                killed = g_kills[e].to >= op->inv && g_kills[e].from <= s->end;
            if (killed) {
                (*skipped)++;
                continue;
            }
            checked++;
            //  A silent node is a possible holder unless it was down from
            //  before the request until after the sample.
            int unanswered = 0;
            for (int i = 0; i < NODES; i++)
                if ((s->unanswered & (1 << i)) &&
                    !(i > 0 && s_down_throughout (i, op->inv, s->end)))
                    unanswered++;
            if (s->holders + unanswered < op->w)
                s_violation ("ack-sample",
                             "c%d-%zu ok w=%u seq=%" PRIu64 " at %.3fs, but right after only %d "
                             "node(s) held it (%d did not answer, no kill in between)",
                             c, s->op, op->w, op->seq, s_elapsed (op->cmp), s->holders, unanswered);
        }
    return checked;
}

//  Was the master killed between FROM and TO? A read-write period that
//  ends with a kill can be arbitrarily short, so a chain of read-only polls
//  must not bridge a master restart (even one quick enough to answer the
//  next poll within POLL_GAP_MS).
static bool s_master_killed_between (int64_t from, int64_t to)
{
    for (size_t i = 0; i < g_kill_count; i++)
        if (g_kills[i].node == 0 && g_kills[i].to >= from && g_kills[i].from <= to)
            return true;
    return false;
}

//  Poller rule. An append (ok or timed out) is flagged only if a chain of
//  read-only polls covers its whole request: one answered before the
//  request was sent, one sent after its reply came back, all polls between
//  them answered read-only, and no two consecutive polls more than
//  POLL_GAP_MS apart (from the earlier send to the later answer). A
//  read-write period of the master lasts at least suspect - heartbeat ms
//  (4 beats), longer than POLL_GAP_MS, so it cannot hide between two polls.
static void s_check_read_only_polls (long *ro_polls)
{
    for (size_t i = 0; i < g_obs_count; i++)
        if (g_obs[i].state == 2)
            (*ro_polls)++;
    for (int c = 0; c < g_opt.clients; c++)
        for (size_t n = 0; n < g_clients[c].count; n++) {
            const op_t *op = &g_clients[c].ops[n];
            if (op->outcome != OUT_OK && op->outcome != OUT_TIMEOUT)
                continue;
            //  Last poll answered before the request was sent.
            size_t lo = 0, hi = g_obs_count;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (g_obs[mid].recv < op->inv)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo == 0)
                continue;
            size_t j = lo - 1;
            if (g_obs[j].state != 2)
                continue;
            bool covered = false;
            for (size_t k = j + 1; k < g_obs_count; k++) {
                if (g_obs[k].state != 2 ||
                    g_obs[k].recv - g_obs[k - 1].send > (int64_t)POLL_GAP_MS * 1000 ||
                    s_master_killed_between (g_obs[k - 1].send, g_obs[k].recv))
                    break;
                if (g_obs[k].send > op->cmp) {
                    covered = true;
                    break;
                }
            }
            if (covered)
                s_violation ("read-only-ack",
                             "c%d-%zu %s w=%u seq=%" PRIu64 " sent at %.3fs, answered at %.3fs, "
                             "while every status poll around it saw the master read-only",
                             c, n, op->outcome == OUT_OK ? "ok" : "timed out (appended)", op->w,
                             op->seq, s_elapsed (op->inv), s_elapsed (op->cmp));
        }
    uint64_t last = 0;
    for (size_t i = 0; i < g_obs_count; i++)
        if (g_obs[i].state != 0) {
            if (g_obs[i].head < last)
                s_violation ("master-head",
                             "master head went back from %" PRIu64 " to %" PRIu64 " at %.3fs", last,
                             g_obs[i].head, s_elapsed (g_obs[i].recv));
            last = g_obs[i].head;
        }
}

//  Log rule: the master's own "read-only (appends refused)" / "read-write
//  again" lines delimit its read-only intervals; no append may have been
//  both sent and answered strictly inside one of them.
typedef struct {
    int64_t from, to; //  monotonic us
} interval_t;

static size_t s_master_ro_intervals (interval_t *out, size_t max)
{
    FILE *f = fopen (g_nodes[0].log_path, "r");
    if (!f)
        return 0;
    char line[1200];
    size_t count = 0;
    bool open_ro = false;
    while (fgets (line, sizeof line, f)) {
        bool to_ro = strstr (line, "read-only (appends refused)") != NULL;
        bool to_rw = strstr (line, "read-write again") != NULL;
        if (!to_ro && !to_rw)
            continue;
        struct tm tm;
        memset (&tm, 0, sizeof tm);
        int ms = 0;
        if (sscanf (line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
            continue;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        int64_t wall = (int64_t)timegm (&tm) * 1000000 + (int64_t)ms * 1000;
        int64_t mono = wall - g_wall_off;
        if (to_ro && !open_ro && count < max) {
            out[count].from = mono;
            out[count].to = INT64_MAX;
            open_ro = true;
        } else if (to_rw && open_ro) {
            out[count++].to = mono;
            open_ro = false;
        }
    }
    if (open_ro && count < max)
        count++;
    fclose (f);
    return count;
}

static void s_check_read_only_log (size_t *intervals, double *ro_seconds)
{
    static interval_t ro[4096];
    size_t count = s_master_ro_intervals (ro, 4096);
    *intervals = count;
    for (size_t i = 0; i < count; i++)
        if (ro[i].to != INT64_MAX && ro[i].to > g_t0)
            *ro_seconds += (double)(ro[i].to - (ro[i].from > g_t0 ? ro[i].from : g_t0)) / 1e6;
    int64_t margin = (int64_t)LOG_MARGIN_MS * 1000;
    for (int c = 0; c < g_opt.clients; c++)
        for (size_t n = 0; n < g_clients[c].count; n++) {
            const op_t *op = &g_clients[c].ops[n];
            if (op->outcome != OUT_OK && op->outcome != OUT_TIMEOUT)
                continue;
            for (size_t i = 0; i < count; i++)
                if (ro[i].from + margin < op->inv && op->cmp + margin < ro[i].to) {
                    s_violation ("read-only-ack",
                                 "c%d-%zu %s w=%u seq=%" PRIu64 " sent at %.3fs, answered at "
                                 "%.3fs, inside the master's logged read-only interval "
                                 "%.3fs..%.3fs",
                                 c, n, op->outcome == OUT_OK ? "ok" : "timed out", op->w, op->seq,
                                 s_elapsed (op->inv), s_elapsed (op->cmp), s_elapsed (ro[i].from),
                                 ro[i].to == INT64_MAX ? -1.0 : s_elapsed (ro[i].to));
                    break;
                }
        }
}

//  Real-time order across clients: if the reply to A (ok or timed out)
//  came back before B was sent, B's entry was appended after A's, so it
//  must have a higher seq. B is an ok or timed-out append (its reply's seq)
//  or an indeterminate one found in the master's log (its position there:
//  an append the client gave up on may land late, but never in the past).
typedef struct {
    int64_t cmp;
    uint64_t seq;
    int c;
    size_t n;
} done_t;

static int s_done_order (const void *a, const void *b)
{
    const done_t *x = (const done_t *)a, *y = (const done_t *)b;
    return x->cmp < y->cmp ? -1 : x->cmp > y->cmp;
}

static void s_check_realtime (uint64_t **master_pos)
{
    size_t count = 0;
    for (int c = 0; c < g_opt.clients; c++)
        for (size_t n = 0; n < g_clients[c].count; n++)
            count +=
                g_clients[c].ops[n].outcome == OUT_OK || g_clients[c].ops[n].outcome == OUT_TIMEOUT;
    done_t *done = (done_t *)calloc (count + 1, sizeof (done_t));
    size_t *best = (size_t *)calloc (count + 1, sizeof (size_t)); //  argmax seq of done[0..i]
    if (!done || !best) {
        free (done);
        free (best);
        return;
    }
    size_t k = 0;
    for (int c = 0; c < g_opt.clients; c++)
        for (size_t n = 0; n < g_clients[c].count; n++) {
            const op_t *op = &g_clients[c].ops[n];
            if (op->outcome == OUT_OK || op->outcome == OUT_TIMEOUT)
                done[k++] = (done_t){op->cmp, op->seq, c, n};
        }
    qsort (done, count, sizeof (done_t), s_done_order);
    for (size_t i = 0; i < count; i++)
        best[i] = i > 0 && done[best[i - 1]].seq >= done[i].seq ? best[i - 1] : i;
    for (int c = 0; c < g_opt.clients; c++)
        for (size_t n = 0; n < g_clients[c].count; n++) {
            const op_t *op = &g_clients[c].ops[n];
            uint64_t seq = 0;
            if (op->outcome == OUT_OK || op->outcome == OUT_TIMEOUT)
                seq = op->seq;
            else if (op->outcome == OUT_INDET && master_pos && master_pos[c])
                seq = master_pos[c][n];
            if (seq == 0)
                continue;
            size_t lo = 0, hi = count; //  done[0..lo) answered before op was sent
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (done[mid].cmp < op->inv)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo == 0)
                continue;
            const done_t *a = &done[best[lo - 1]];
            if (a->seq >= seq)
                s_violation ("realtime-order",
                             "c%d-%zu (%s) sent at %.3fs is at seq %" PRIu64 ", but c%d-%zu had "
                             "already been answered with seq %" PRIu64 " at %.3fs",
                             c, n, op->outcome == OUT_INDET ? "indeterminate, in the log" : "acked",
                             s_elapsed (op->inv), seq, a->c, a->n, a->seq, s_elapsed (a->cmp));
        }
    free (done);
    free (best);
}

//  Entries a secondary truncated after a WELCOME (saved to rollback files in
//  its data dir). The payloads are kept as text and parsed at the end.
typedef struct {
    uint64_t seq;
    uint64_t epoch;
    int node;
    uint8_t size;
    char value[32];
} rolled_t;

static rolled_t *g_rolled;
static size_t g_rolled_count, g_rolled_cap;
static long g_rolled_files, g_rolled_unreadable;

static uint64_t s_le (const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

//  A LEB128 varint at *P (below END); false if it runs past END.
static bool s_varint (const unsigned char **p, const unsigned char *end, uint64_t *value)
{
    *value = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        unsigned char byte = *(*p)++;
        *value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80))
            return true;
    }
    return false;
}

static void s_rolled_push (uint64_t seq, uint64_t epoch, int node, const unsigned char *data,
                           size_t size)
{
    if (g_rolled_count == g_rolled_cap) {
        size_t cap = g_rolled_cap ? g_rolled_cap * 2 : 256;
        rolled_t *grown = (rolled_t *)realloc (g_rolled, cap * sizeof (rolled_t));
        if (!grown)
            return;
        g_rolled = grown;
        g_rolled_cap = cap;
    }
    rolled_t *r = &g_rolled[g_rolled_count++];
    r->seq = seq;
    r->epoch = epoch;
    r->node = node;
    r->size = (uint8_t)(size < sizeof r->value ? size : sizeof r->value);
    memcpy (r->value, data, r->size);
}

//  One record batch at P (SIZE bytes left; src/core/record.h): [u32 size]
//  [u32 crc][u64 epoch][u64 first_seq][u32 count][u8 flags][u8 id_size]
//  [u64 first_req][client id], then COUNT entries [varint req_delta]
//  [varint size][payload]. Returns the bytes it takes, 0 if unreadable.
static size_t s_rolled_record (const unsigned char *p, size_t size, int node)
{
    if (size < 38)
        return 0;
    uint64_t len = s_le (p, 4);
    if (len < 34 || len > size - 4)
        return 0;
    uint64_t epoch = s_le (p + 8, 8), seq = s_le (p + 16, 8), count = s_le (p + 24, 4);
    size_t id_size = p[29];
    const unsigned char *at = p + 38 + id_size, *end = p + 4 + len;
    if (at > end)
        return 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t delta, bytes;
        if (!s_varint (&at, end, &delta) || !s_varint (&at, end, &bytes) ||
            bytes > (uint64_t)(end - at))
            return 0;
        if (bytes > 0) //  an epoch marker holds no message
            s_rolled_push (seq + i, epoch, node, at, (size_t)bytes);
        at += bytes;
    }
    return at == end ? (size_t)len + 4 : 0;
}

//  Read every rollback-*.log of secondary INDEX's data dir: whole records,
//  as the log holds them (a slice of the log's bytes; src/core/record.h).
static void s_collect_rollbacks (int index)
{
    const node_t *node = &g_nodes[index];
    DIR *dir = node->data_dir[0] ? opendir (node->data_dir) : NULL;
    if (!dir)
        return;
    struct dirent *entry;
    while ((entry = readdir (dir)) != NULL) {
        char path[PATH_MAX];
        if (strncmp (entry->d_name, "rollback-", 9) != 0 ||
            snprintf (path, sizeof path, "%s/%s", node->data_dir, entry->d_name) >=
                (int)sizeof path)
            continue;
        FILE *f = fopen (path, "rb");
        if (!f)
            continue;
        g_rolled_files++;
        unsigned char *bytes = NULL;
        long size = -1;
        if (fseek (f, 0, SEEK_END) == 0 && (size = ftell (f)) >= 0 && fseek (f, 0, SEEK_SET) == 0)
            bytes = (unsigned char *)malloc ((size_t)size + 1);
        if (!bytes || fread (bytes, 1, (size_t)size, f) != (size_t)size)
            g_rolled_unreadable++;
        else
            for (size_t at = 0; at < (size_t)size;) {
                size_t used = s_rolled_record (bytes + at, (size_t)size - at, index);
                if (used == 0) {
                    g_rolled_unreadable++;
                    break;
                }
                at += used;
            }
        free (bytes);
        fclose (f);
    }
    closedir (dir);
}

//  A secondary only ever holds entries the master wrote (the master
//  publishes after its write), and a kill -9 loses nothing written, so an
//  entry a secondary truncated must still be in the master's log at that
//  seq: it was cut needlessly (e.g. it arrived while the HELLO was in
//  flight). If the master holds something else there, or ends before, the
//  master lost part of its history.
static void s_check_rollbacks (long *needless)
{
    const nodelog_t *m = &g_logs[0];
    for (size_t i = 0; i < g_rolled_count; i++) {
        const rolled_t *r = &g_rolled[i];
        uint64_t key = s_parse_value (r->value, r->size);
        if (key && r->seq >= 1 && r->seq <= m->count && m->keys[r->seq - 1] == key) {
            (*needless)++;
            continue;
        }
        char text[80];
        s_printable (r->value, r->size, text, sizeof text);
        if (r->seq >= 1 && r->seq <= m->count)
            s_violation ("rollback",
                         "%s truncated \"%s\" at seq %" PRIu64 " (epoch %" PRIu64
                         "), but the master's log holds c%d-%u there",
                         g_nodes[r->node].name, text, r->seq, r->epoch,
                         (int)(m->keys[r->seq - 1] >> 32) - 1,
                         (unsigned)(m->keys[r->seq - 1] & 0xffffffffu));
        else
            s_violation ("rollback",
                         "%s truncated \"%s\" at seq %" PRIu64 " (epoch %" PRIu64
                         "), beyond the master's final log (%zu entries)",
                         g_nodes[r->node].name, text, r->seq, r->epoch, m->count);
    }
}

//  Lines of node INDEX's log (every incarnation) that contain NEEDLE.
static long s_count_lines (int index, const char *needle)
{
    FILE *f = fopen (g_nodes[index].log_path, "r");
    if (!f)
        return 0;
    char line[1400];
    long count = 0;
    while (fgets (line, sizeof line, f))
        count += strstr (line, needle) != NULL && strncmp (line, "#checker", 8) != 0;
    fclose (f);
    return count;
}

//  Appends in flight when the master was killed (sent before, answered
//  after): the client retried them with the same request id until the
//  restarted master answered or its budget ran out. An ok or timed-out one
//  at a seq the restarted master had recovered got the seq it was stored at
//  before the kill (through the recovered dedup table, unless the reply had
//  left just before the kill); one above it was appended by the new master.
typedef struct {
    long in_flight, stored_before, appended_after, refused, indet, indet_found;
} restart_stats_t;

static void s_restart_stats (uint64_t **master_pos, restart_stats_t *st)
{
    memset (st, 0, sizeof *st);
    for (int c = 0; c < g_opt.clients; c++)
        for (size_t n = 0; n < g_clients[c].count; n++) {
            const op_t *op = &g_clients[c].ops[n];
            for (size_t r = 0; r < g_master_up_count; r++) {
                if (!(op->inv < g_master_up[r].killed && op->cmp > g_master_up[r].killed))
                    continue;
                st->in_flight++;
                if (op->outcome == OUT_OK || op->outcome == OUT_TIMEOUT) {
                    if (op->seq <= g_master_up[r].head)
                        st->stored_before++;
                    else
                        st->appended_after++;
                } else if (op->outcome == OUT_REFUSED)
                    st->refused++;
                else {
                    st->indet++;
                    st->indet_found += master_pos && master_pos[c] && master_pos[c][n];
                }
                break;
            }
        }
}

static void s_write_history (void)
{
    char path[256];
    snprintf (path, sizeof path, "%s/history.tsv", g_dir);
    FILE *f = fopen (path, "w");
    if (!f)
        return;
    fprintf (f, "# value\tw\tinvoke_s\tcomplete_s\tcode\tseq\tacks\n");
    for (int c = 0; c < g_opt.clients; c++)
        for (size_t n = 0; n < g_clients[c].count; n++) {
            const op_t *op = &g_clients[c].ops[n];
            fprintf (f, "c%d-%zu\t%u\t%.6f\t%.6f\t%s\t%" PRIu64 "\t%u\n", c, n, op->w,
                     s_elapsed (op->inv), s_elapsed (op->cmp), s_code_name (op->rc), op->seq,
                     op->acks);
        }
    fclose (f);
    snprintf (path, sizeof path, "%s/polls.tsv", g_dir);
    f = fopen (path, "w");
    if (!f)
        return;
    fprintf (f, "# send_s\trecv_s\tstate(0=none,1=rw,2=ro)\thead\n");
    for (size_t i = 0; i < g_obs_count; i++)
        fprintf (f, "%.6f\t%.6f\t%u\t%" PRIu64 "\n", s_elapsed (g_obs[i].send),
                 s_elapsed (g_obs[i].recv), g_obs[i].state, g_obs[i].head);
    fclose (f);
}

static void s_remove_dir (void)
{
    //  Only ever the run's own mkdtemp dir: logs, tsv files, data dirs.
    if (strncmp (g_dir, "/tmp/rlog-faults-", 17) == 0)
        s_remove_tree (g_dir);
}

//  --------------------------------------------------------------------------

static void s_usage (void)
{
    printf ("usage: checker [--seconds N] [--seed S] [--clients N] [--heartbeat-ms MS]\n"
            "               [--timeout-ms MS] [--converge-s N] [--build-dir DIR] [--keep]\n"
            "               [--data-dirs | --in-memory] [--fsync always|batch|never|random]\n"
            "Fault-injection run against a master + 2 secondaries; see docs/CHECKER.md.\n"
            "--data-dirs (default): every node on its own --data-dir, master kill -9 and\n"
            "restart faults; --in-memory: no data dirs, the master is only paused.\n"
            "--fsync: the nodes' policy (data dirs); random (default) picks one per seed.\n");
}

static bool s_parse_args (int argc, char **argv)
{
    const char *env = getenv ("FAULTS_SECONDS");
    if (env && atoi (env) > 0)
        g_opt.seconds = atoi (env);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp (a, "--keep") == 0)
            g_opt.keep = true;
        else if (strcmp (a, "--data-dirs") == 0)
            g_opt.data_dirs = true;
        else if (strcmp (a, "--in-memory") == 0)
            g_opt.data_dirs = false;
        else if (strcmp (a, "-h") == 0 || strcmp (a, "--help") == 0) {
            s_usage ();
            exit (0);
        } else if (!v) {
            s_usage ();
            return false;
        } else {
            i++;
            if (strcmp (a, "--seconds") == 0)
                g_opt.seconds = atoi (v);
            else if (strcmp (a, "--seed") == 0)
                g_opt.seed = strtoull (v, NULL, 0);
            else if (strcmp (a, "--clients") == 0)
                g_opt.clients = atoi (v);
            else if (strcmp (a, "--heartbeat-ms") == 0)
                g_opt.heartbeat_ms = atoi (v);
            else if (strcmp (a, "--timeout-ms") == 0)
                g_opt.timeout_ms = atoi (v);
            else if (strcmp (a, "--converge-s") == 0)
                g_opt.converge_s = atoi (v);
            else if (strcmp (a, "--build-dir") == 0)
                snprintf (g_opt.build_dir, sizeof g_opt.build_dir, "%s", v);
            else if (strcmp (a, "--fsync") == 0) {
                g_opt.fsync = -1;
                for (int k = 0; k <= FSYNC_RANDOM; k++)
                    if (strcmp (v, g_fsync_names[k]) == 0)
                        g_opt.fsync = k;
                if (g_opt.fsync < 0) {
                    s_usage ();
                    return false;
                }
            } else {
                s_usage ();
                return false;
            }
        }
    }
    if (g_opt.seconds < 1 || g_opt.clients < 1 || g_opt.clients > MAX_CLIENTS ||
        g_opt.heartbeat_ms < 10 || g_opt.heartbeat_ms > 1000 || g_opt.timeout_ms < 1 ||
        g_opt.converge_s < 1) {
        printf ("checker: bad option value\n");
        return false;
    }
    if (g_opt.seed == 0)
        g_opt.seed = ((uint64_t)s_wall_us () ^ ((uint64_t)getpid () << 32)) % 1000000000ULL + 1;
    return true;
}

static int s_finish (bool pass, long appends, long ok, long refused, long timed_out, long indet,
                     size_t entries)
{
    char mode[48] = "in-memory";
    if (g_opt.data_dirs)
        snprintf (mode, sizeof mode, "data-dirs/fsync-%s", g_fsync_names[g_fsync]);
    if (pass) {
        printf ("checker: PASS appends=%ld ok=%ld refused=%ld timed_out=%ld indeterminate=%ld "
                "faults=%d entries_checked=%zu mode=%s seed=%" PRIu64 "\n",
                appends, ok, refused, timed_out, indet, g_faults, entries, mode, g_opt.seed);
        printf ("1 passed, 0 failed\n");
    } else {
        printf ("checker: FAIL %s (violations=%ld) appends=%ld ok=%ld refused=%ld timed_out=%ld "
                "indeterminate=%ld faults=%d entries_checked=%zu mode=%s seed=%" PRIu64
                " logs=%s\n",
                g_viol.first, g_viol.total, appends, ok, refused, timed_out, indet, g_faults,
                entries, mode, g_opt.seed, g_dir);
        printf ("0 passed, 1 failed\n");
    }
    fflush (stdout);
    return pass ? 0 : 1;
}

int main (int argc, char **argv)
{
    setvbuf (stdout, NULL, _IOLBF, 0);
    if (!s_parse_args (argc, argv)) {
        printf ("0 passed, 1 failed\n");
        return 1;
    }
    g_rng = g_opt.seed;
    //  Per-run choices come from their own PRNG, so that the fault schedule
    //  of an in-memory seed is what it was before data dirs existed.
    uint64_t knobs = g_opt.seed ^ 0x6461746164697273ULL;
    if (g_opt.data_dirs) {
        g_fsync = g_opt.fsync != FSYNC_RANDOM ? g_opt.fsync : s_rand (&knobs, 0, 2);
        const long segments[] = {0, 65536, 1048576};
        g_segment_bytes = segments[s_rand (&knobs, 0, 2)];
        g_retries = 6;
    }
    g_budget_ms = g_retries * 2 * RETRY_MS;
    g_wall_off = s_wall_us () - s_now_us ();
    snprintf (g_dir, sizeof g_dir, "/tmp/rlog-faults-XXXXXX");
    if (!mkdtemp (g_dir)) {
        printf ("checker: FAIL cannot create a temp dir: %s\n0 passed, 1 failed\n",
                strerror (errno));
        return 1;
    }
    snprintf (g_abort_msg, sizeof g_abort_msg, " (seed=%" PRIu64 " logs=%s)\n0 passed, 1 failed\n",
              g_opt.seed, g_dir);
    char path[256];
    snprintf (path, sizeof path, "%s/faults.log", g_dir);
    g_faults_log = fopen (path, "w");
    s_build_env ();
    const char *names[NODES] = {"master", "s1", "s2"};
    for (int i = 0; i < NODES; i++) {
        snprintf (g_nodes[i].name, sizeof g_nodes[i].name, "%s", names[i]);
        snprintf (g_nodes[i].id, sizeof g_nodes[i].id, "faults-%s-%d", names[i], (int)getpid ());
        g_nodes[i].master = i == 0;
        g_nodes[i].seed = s_next (&g_rng) | 1;
        snprintf (g_nodes[i].log_path, sizeof g_nodes[i].log_path, "%s/%s.log", g_dir, names[i]);
        snprintf (g_nodes[i].ready_path, sizeof g_nodes[i].ready_path, "%s/%s.ready", g_dir,
                  names[i]);
        if (g_opt.data_dirs)
            snprintf (g_nodes[i].data_dir, sizeof g_nodes[i].data_dir, "%s/%s.data", g_dir,
                      names[i]);
    }
    char mode[96] = "in memory";
    if (g_opt.data_dirs)
        snprintf (mode, sizeof mode, "data dirs, fsync %s%s, segment-bytes %ld",
                  g_fsync_names[g_fsync], g_fsync == FSYNC_BATCH ? " (20 ms)" : "",
                  g_segment_bytes ? g_segment_bytes : 64L * 1024 * 1024);
    printf ("checker: seed=%" PRIu64 " seconds=%d clients=%d heartbeat=%d ms timeout=%d ms "
            "client retry budget ~%d ms; %s; dir=%s\n",
            g_opt.seed, g_opt.seconds, g_opt.clients, g_opt.heartbeat_ms, g_opt.timeout_ms,
            g_budget_ms, mode, g_dir);
    printf ("checker: replay with --seed %" PRIu64 " (same fault schedule; timing differs)\n",
            g_opt.seed);

    //  The watchdog covers the run, the heal, convergence and the reads.
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction (SIGALRM, &sa, NULL);
    alarm ((unsigned)(g_opt.seconds + g_opt.converge_s + 120));

    atexit (s_cleanup);
    bool up = s_start (0);
    //  The first client call initialised czmq, which installs its own
    //  SIGINT/SIGTERM handlers: ours replace them so that Ctrl-C kills
    //  the nodes too.
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGHUP, &sa, NULL);
    for (int i = 1; i < NODES && up; i++)
        up = s_start (i);
    if (!up) {
        s_violation ("setup", "the cluster did not start; see %s", g_dir);
        s_cleanup ();
        return s_finish (false, 0, 0, 0, 0, 0, 0);
    }
    //  Wait for a writable master with both secondaries Healthy.
    int64_t deadline = s_now_us () + 10000000;
    bool ready = false;
    while (!ready && s_now_us () < deadline) {
        rlog_status_t status;
        ready = s_status_of (0, &status, 300) && status.healthy == NODES &&
                strcmp (status.mode, "read-write") == 0;
        if (!ready)
            s_sleep_ms (20);
    }
    if (!ready) {
        s_violation ("setup", "master never became read-write with 3 healthy nodes; see %s", g_dir);
        s_cleanup ();
        return s_finish (false, 0, 0, 0, 0, 0, 0);
    }

    g_t0 = s_now_us ();
    s_event ("cluster up: master pid %d, s1 pid %d, s2 pid %d; workload starts",
             (int)g_nodes[0].pid, (int)g_nodes[1].pid, (int)g_nodes[2].pid);
    pthread_t poller;
    pthread_create (&poller, NULL, s_poller_main, NULL);
    for (int c = 0; c < g_opt.clients; c++) {
        g_clients[c].id = c;
        g_clients[c].rng = g_opt.seed * 1000003ULL + (uint64_t)c + 1;
        pthread_create (&g_clients[c].thread, NULL, s_client_main, &g_clients[c]);
    }

    s_nemesis ();
    s_heal ();
    atomic_store (&g_stop, true);
    for (int c = 0; c < g_opt.clients; c++)
        pthread_join (g_clients[c].thread, NULL);
    pthread_join (poller, NULL);
    s_event ("workload stopped after %d faults", g_faults);

    uint64_t heads[NODES] = {0, 0, 0};
    int64_t converge_start = s_now_us ();
    bool converged = !g_master_lost && s_converge (heads);
    double converge_s = (double)(s_now_us () - converge_start) / 1e6;
    if (g_master_lost)
        s_violation ("crash", "the master died; the run was cut short");
    else if (!converged)
        s_violation ("convergence",
                     "heads after %d s: master %" PRIu64 ", s1 %" PRIu64 ", s2 %" PRIu64,
                     g_opt.converge_s, heads[0], heads[1], heads[2]);
    else
        s_event ("converged in %.2f s at head %" PRIu64, converge_s, heads[0]);

    bool read_ok = !g_master_lost;
    for (int i = 0; i < NODES && read_ok; i++)
        read_ok = s_read_log (i);
    s_reap_check ();
    //  Stop the nodes the clean way; a failed shutdown is worth knowing.
    for (int i = NODES - 1; i >= 0; i--)
        s_kill (i, SIGTERM);

    long appends = 0, ok = 0, refused = 0, timed_out = 0, indet = 0;
    long codes[RLOG_ERR_MAX + 1];
    memset (codes, 0, sizeof codes);
    for (int c = 0; c < g_opt.clients; c++) {
        if (g_clients[c].failed_to_start)
            s_violation ("setup", "client %d could not start", c);
        for (size_t n = 0; n < g_clients[c].count; n++) {
            const op_t *op = &g_clients[c].ops[n];
            appends++;
            ok += op->outcome == OUT_OK;
            refused += op->outcome == OUT_REFUSED;
            timed_out += op->outcome == OUT_TIMEOUT;
            indet += op->outcome == OUT_INDET;
            codes[op->rc >= 0 && op->rc < RLOG_ERR_MAX ? op->rc : RLOG_ERR_MAX]++;
        }
    }

    size_t entries = 0;
    long samples = 0, skipped = 0, ro_polls = 0;
    size_t ro_intervals = 0;
    double ro_seconds = 0;
    uint64_t **master_pos = NULL;
    if (read_ok) {
        for (int i = 0; i < NODES; i++) {
            uint64_t **pos = s_positions (i, &entries);
            s_check_acked (i, pos);
            if (i == 0)
                master_pos = pos;
            else
                s_free_positions (pos);
        }
        s_check_history ();
    }
    s_check_replies ();
    s_check_realtime (master_pos);
    restart_stats_t restarts;
    s_restart_stats (master_pos, &restarts);
    s_free_positions (master_pos);
    s_check_possible ();
    samples = s_check_samples (&skipped);
    s_check_read_only_polls (&ro_polls);
    s_check_read_only_log (&ro_intervals, &ro_seconds);
    //  Durability: what the nodes' own logs say about recovery.
    long needless = 0, truncations = 0, cut = 0;
    if (g_opt.data_dirs) {
        for (int i = 1; i < NODES; i++) {
            s_collect_rollbacks (i);
            truncations += s_count_lines (i, "that are not in the master's history");
        }
        if (read_ok)
            s_check_rollbacks (&needless);
        for (int i = 0; i < NODES; i++)
            cut += s_count_lines (i, "recovery cut");
        if (s_count_lines (0, "refusing to serve as master"))
            s_violation ("shorter-log",
                         "the master found a secondary holding more of its history than it "
                         "has (\"refusing to serve as master\" in %s): it lost written "
                         "entries in a kill -9",
                         g_nodes[0].log_path);
    }

    long recovered = 0;
    if (read_ok && g_logs[0].count) {
        for (size_t i = 0; i < g_logs[0].count; i++) {
            uint64_t key = g_logs[0].keys[i];
            if (key && g_clients[(key >> 32) - 1].ops[key & 0xffffffffu].outcome == OUT_INDET)
                recovered++;
        }
    }
    printf ("info: codes:");
    for (int rc = 0; rc <= RLOG_ERR_MAX; rc++)
        if (codes[rc])
            printf (" %s=%ld", rc < RLOG_ERR_MAX ? s_code_name (rc) : "other", codes[rc]);
    printf ("; indeterminate found in the log=%ld\n", recovered);
    printf ("info: master read-only %zu time(s), %.1f s in the run; polls=%zu (read-only %ld); "
            "ack samples checked=%ld (skipped after a kill: %ld); log length %zu; "
            "convergence %.2f s\n",
            ro_intervals, ro_seconds, g_obs_count, ro_polls, samples, skipped,
            read_ok ? g_logs[0].count : 0, converge_s);
    if (g_opt.data_dirs)
        printf ("info: appends in flight at a master kill=%ld: ok/timed out with the seq "
                "stored before the kill=%ld, appended after the restart=%ld, refused=%ld, "
                "indeterminate=%ld (found in the log %ld)\n",
                restarts.in_flight, restarts.stored_before, restarts.appended_after,
                restarts.refused, restarts.indet, restarts.indet_found);
    if (g_opt.data_dirs)
        printf ("info: data dirs (fsync %s): master restarts=%d, secondary restarts on their "
                "data dir=%d, emptied=%d; recoveries that cut a torn tail=%ld; secondary "
                "truncations=%ld (rollback files %ld, entries %zu, all still in the master's "
                "log: %ld%s)\n",
                g_fsync_names[g_fsync], g_restarts.master, g_restarts.kept, g_restarts.emptied, cut,
                truncations, g_rolled_files, g_rolled_count, needless,
                g_rolled_unreadable ? ", some unreadable" : "");
    if (g_external)
        printf ("info: WARNING: %d node(s) were shut down by signals the checker did not send "
                "(restarted; see the WARNING lines above)\n",
                g_external);
    for (size_t k = 0; k < g_viol.kind_count; k++)
        printf ("info: %ld violation(s) of kind %s\n", g_viol.kinds[k].count, g_viol.kinds[k].kind);

    bool pass = g_viol.total == 0;
    s_write_history ();
    if (g_faults_log)
        fclose (g_faults_log);
    g_faults_log = NULL;
    if (pass && !g_opt.keep)
        s_remove_dir ();
    else
        printf ("checker: node logs, faults.log, history.tsv and polls.tsv kept in %s\n", g_dir);
    for (int i = 0; i < NODES; i++)
        free (g_logs[i].keys);
    for (int c = 0; c < g_opt.clients; c++) {
        free (g_clients[c].ops);
        free (g_clients[c].samples);
    }
    free (g_obs);
    free (g_rolled);
    free (g_env);
    alarm (0);
    return s_finish (pass, appends, ok, refused, timed_out, indet, entries);
}
