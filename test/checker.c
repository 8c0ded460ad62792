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

    --elected runs three elected nodes (rlogd node --peers, on their data
    dirs) instead: the writers use librlog with the list of all three
    endpoints, and the nemesis kills, pauses and partitions whichever node
    is master at the time (docs/CHECKER.md, "Elected nodes"). The run then
    enters a network namespace of its own, where its iptables rules (the
    partitions) live and die with it.

    Every child is started from the main thread with PR_SET_PDEATHSIG (the
    "parent" of that setting is the forking thread, so no other thread ever
    forks), killed and reaped on every exit path, and the whole run is
    bounded by a watchdog alarm.
*/
#define _GNU_SOURCE //  unshare (--elected)
#include "rlog.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
    bool data_dirs;  //  each node on its own --data-dir (default)
    bool elected;    //  three elected nodes (rlogd node), data dirs
    int election_ms; //  elected: --election-min-ms (max: twice that)
    int fsync;       //  FSYNC_*; RANDOM picks one per run from the seed
    char build_dir[PATH_MAX];
} g_opt = {.seconds = 60,
           .seed = 0,
           .clients = 6,
           .heartbeat_ms = 50,
           .timeout_ms = 2000,
           .converge_s = 30,
           .keep = false,
           .data_dirs = true,
           .elected = false,
           .election_ms = 500,
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
    //  Elected mode: the node's base port (clients; PUB on +1, peer socket
    //  on +2), reserved for the whole run by three sockets bound to it, and
    //  the group id it runs under (the partitions' iptables rules find the
    //  connections it opens by that group).
    int base_port;
    int reserve_fd[3];
    unsigned gid;
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

static void s_net_cleanup (void);
static void s_net_cleanup_now (void);

static void s_on_signal (int sig)
{
    s_kill_all_now ();
    s_net_cleanup_now ();
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
    //  Elected: every member's id and base port; the timeouts in beats.
    char peers[NODES * (sizeof node->id + 24)] = "", emin[16], emax[16];
    for (int i = 0; i < NODES; i++) {
        size_t used = strlen (peers);
        snprintf (peers + used, sizeof peers - used, "%s%s=127.0.0.1:%d", i ? "," : "",
                  g_nodes[i].id, g_nodes[i].base_port);
    }
    snprintf (emin, sizeof emin, "%d", g_opt.election_ms);
    snprintf (emax, sizeof emax, "%d", 2 * g_opt.election_ms);
    char *argv[48];
    int n = 0;
    argv[n++] = rlogd;
    if (g_opt.elected) {
        argv[n++] = (char *)"node";
        argv[n++] = (char *)"--id";
        argv[n++] = node->id;
        argv[n++] = (char *)"--peers";
        argv[n++] = peers;
        argv[n++] = (char *)"--election-min-ms";
        argv[n++] = emin;
        argv[n++] = (char *)"--election-max-ms";
        argv[n++] = emax;
        argv[n++] = (char *)"--recover-ms";
        argv[n++] = recover;
    } else if (node->master) {
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
    if (!g_opt.elected) { //  an elected node listens where --peers says
        argv[n++] = (char *)"--client";
        argv[n++] = client;
    }
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
        //  Elected: the node's own group (a raw syscall: this thread only,
        //  the only one in the child), which marks the connections it opens.
        if (g_opt.elected && syscall (SYS_setgid, (gid_t)node->gid) != 0)
            _exit (126);
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
    s_net_cleanup ();
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
            if (g_opt.elected) { //  any elected node comes back on its data dir
                s_restart (i);
                continue;
            }
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
        if (i == 0 && !g_opt.elected)
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
        if (index == 0 || g_opt.elected)
            return false; //  the others know its ports
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
    int rot; //  elected: how often the endpoint list was rotated
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
    case RLOG_INVALID:
        return OUT_REFUSED;
    //  Elected: "may or may not be stored" (the new master never knew the
    //  client, and the request had been sent before).
    case RLOG_STALE:
        return g_opt.elected ? OUT_INDET : OUT_REFUSED;
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

//  Elected: the endpoints of all three nodes, starting at node FIRST.
static const char *s_endpoint_list (int first, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
    for (int k = 0; k < NODES && used < size; k++) {
        int rc = snprintf (buf + used, size - used, "%stcp://127.0.0.1:%d", k ? "," : "",
                           atomic_load (&g_nodes[(first + k) % NODES].client_port));
        used += rc > 0 ? (size_t)rc : 0;
    }
    return buf;
}

static rlog_client_t *s_writer_client (client_t *self)
{
    char ep[256];
    rlog_client_t *client =
        g_opt.elected
            ? rlog_client_new (s_endpoint_list ((self->id + self->rot) % NODES, ep, sizeof ep))
            : rlog_client_new (s_endpoint (0, ep, sizeof ep));
    //  Lost replies are retried with the same request id; silence for about
    //  g_budget_ms (g_retries x (500 ms wait + 500 ms probe)) ends as
    //  UNREACHABLE. A master restarting on its data dir within that time
    //  answers the retry with the original seq if it had stored the entry.
    //  Elected: each silent try moves to the next endpoint, NOT_MASTER is
    //  followed to the master it names.
    if (client)
        rlog_client_set_retry (client, RETRY_MS, g_retries);
    return client;
}

static void *s_client_main (void *arg)
{
    client_t *self = (client_t *)arg;
    rlog_client_t *client = s_writer_client (self);
    if (!client) {
        self->failed_to_start = true;
        return NULL;
    }
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
        if (rc == RLOG_OK && op->w >= 2 && !g_opt.elected &&
            s_rand (&self->rng, 1, SAMPLE_EVERY) == 1)
            s_sample (self, index, result.seq);
        //  Elected: a master cut off from the majority keeps answering
        //  READ_ONLY until it hears the new epoch, and a NOT_MASTER means no
        //  endpoint led to a master. Start from another node next time (a
        //  new session: the library follows NOT_MASTER from there).
        if (g_opt.elected && (rc == RLOG_READ_ONLY || rc == RLOG_NOT_MASTER)) {
            rlog_client_t *next;
            self->rot++;
            if ((next = s_writer_client (self)) != NULL) {
                rlog_client_destroy (&client);
                client = next;
            }
        }
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
//  Elected mode: reserved ports, the run's network namespace, partitions

//  Reserve node INDEX's three consecutive ports (base, +1, +2) for the whole
//  run. Each is bound on 0.0.0.0 WITHOUT SO_REUSEADDR, which fails if any
//  socket holds it; then SO_REUSEADDR is set on the bound socket, kept open
//  and never listened on: rlogd (libzmq binds with SO_REUSEADDR) can listen
//  on the port while nobody else can bind it, and the kernel never hands a
//  bound port out as the local port of an outgoing connection.
static bool s_reserve_ports (int index)
{
    static uint64_t rng;
    if (!rng)
        rng = (uint64_t)s_wall_us () ^ ((uint64_t)getpid () << 24);
    int low = 0;
    FILE *f = fopen ("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf (f, "%d", &low) != 1)
            low = 0;
        fclose (f);
    }
    int first = 10000, last = low - 1;
    if (last - first < 4000) {
        first = 49152;
        last = 65535;
    }
    node_t *node = &g_nodes[index];
    for (int attempt = 0; attempt < 500; attempt++) {
        int base = s_rand (&rng, first, last - 2);
        int fds[3] = {-1, -1, -1};
        bool ok = true;
        for (int k = 0; k < 3 && ok; k++) {
            fds[k] = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            struct sockaddr_in addr;
            memset (&addr, 0, sizeof addr);
            addr.sin_family = AF_INET;
            addr.sin_port = htons ((uint16_t)(base + k));
            addr.sin_addr.s_addr = htonl (INADDR_ANY);
            ok = fds[k] >= 0 && bind (fds[k], (struct sockaddr *)&addr, sizeof addr) == 0;
        }
        int one = 1;
        for (int k = 0; k < 3 && ok; k++)
            ok = setsockopt (fds[k], SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0;
        if (!ok) {
            for (int k = 0; k < 3; k++)
                if (fds[k] >= 0)
                    close (fds[k]);
            continue;
        }
        node->base_port = base;
        atomic_store (&node->client_port, base);
        memcpy (node->reserve_fd, fds, sizeof fds);
        return true;
    }
    return false;
}

//  Partitions. The run has a network namespace of its own (unshare, as
//  root): its loopback carries only the run's traffic, and its iptables
//  rules vanish with it, however the checker ends. Without one (not
//  allowed here) the rules go into the machine's namespace, in chains named
//  after the checker's pid, removed on every exit path the checker sees.
//  Each node runs under its own group id; a rule in the MARK chain stamps
//  every connection a node opens with its mark (node index + 1), so that
//  the PART chain can cut exactly the links between the isolated node and
//  the others: both directions of the connections to its PUB and peer
//  ports, and of the connections it opened to theirs. Its client port
//  stays reachable (the clients and the checker's status calls, as if
//  they sat on its side of the cut). New connections across the cut are
//  refused (ICMP port unreachable: libzmq retries at once after the heal);
//  packets of the ones already open are dropped (TCP stalls; ZMTP
//  heartbeats then close them).
static struct {
    bool private_ns; //  the run has its own network namespace
    bool rules;      //  the chains are installed
    char mark[32], part[32];
    char cleanup[700]; //  shell command removing them (machine namespace only)
    int isolated;      //  the node cut off now, -1 none
    char why[160];     //  why there is no private namespace
    long commands, failures;
} g_net = {.isolated = -1};

//  Run iptables with ARGS (split at spaces), output to the run's
//  iptables.log. Returns its exit status (-1 if it could not run). Only
//  the main thread calls this (or the setup before any thread).
static int s_iptables (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
static int s_iptables (const char *format, ...)
{
    char line[512];
    va_list ap;
    va_start (ap, format);
    vsnprintf (line, sizeof line, format, ap);
    va_end (ap);
    char *argv[40];
    int n = 0;
    argv[n++] = (char *)"iptables";
    argv[n++] = (char *)"-w";
    char *save = NULL;
    for (char *tok = strtok_r (line, " ", &save); tok && n < 39; tok = strtok_r (NULL, " ", &save))
        argv[n++] = tok;
    argv[n] = NULL;
    char path[256];
    snprintf (path, sizeof path, "%s/iptables.log", g_dir);
    int fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        char cmd[600] = "";
        size_t used = 0;
        for (int i = 0; i < n && used < sizeof cmd; i++) {
            int rc = snprintf (cmd + used, sizeof cmd - used, "%s%s", i ? " " : "", argv[i]);
            used += rc > 0 ? (size_t)rc : 0;
        }
        char stamp[700];
        int len = snprintf (stamp, sizeof stamp, "# t=%.3f %s\n",
                            g_t0 ? s_elapsed (s_now_us ()) : 0.0, cmd);
        if (len > 0 && write (fd, stamp, (size_t)len) < 0)
            len = 0;
    }
    g_net.commands++;
    pid_t pid = fork ();
    if (pid == 0) {
        if (fd >= 0) {
            dup2 (fd, STDOUT_FILENO);
            dup2 (fd, STDERR_FILENO);
        }
        const char *paths[] = {"/usr/sbin/iptables", "/sbin/iptables"};
        for (size_t i = 0; i < 2; i++)
            execve (paths[i], argv, g_env);
        execvp ("iptables", argv);
        _exit (127);
    }
    if (fd >= 0)
        close (fd);
    int status = 0;
    while (pid > 0 && waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    int rc = pid < 0 ? -1 : WIFEXITED (status) ? WEXITSTATUS (status) : -1;
    if (rc != 0)
        g_net.failures++;
    return rc;
}

static int s_loopback_up (void)
{
    int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct ifreq ifr;
    memset (&ifr, 0, sizeof ifr);
    snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    int rc = ioctl (fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl (fd, SIOCSIFFLAGS, &ifr);
    }
    close (fd);
    return rc;
}

//  Before any thread or child: the namespace, then the chains.
static bool s_net_setup (char *err, size_t err_size)
{
    if (unshare (CLONE_NEWNET) == 0) {
        if (s_loopback_up () != 0) {
            snprintf (err, err_size, "cannot bring up the loopback of the run's namespace: %s",
                      strerror (errno));
            return false;
        }
        g_net.private_ns = true;
        snprintf (g_net.mark, sizeof g_net.mark, "RLOGCHK-MARK");
        snprintf (g_net.part, sizeof g_net.part, "RLOGCHK-PART");
    } else {
        snprintf (g_net.why, sizeof g_net.why, "%s", strerror (errno));
        snprintf (g_net.mark, sizeof g_net.mark, "RLOGCHK-M%d", (int)getpid ());
        snprintf (g_net.part, sizeof g_net.part, "RLOGCHK-P%d", (int)getpid ());
        snprintf (g_net.cleanup, sizeof g_net.cleanup,
                  "for c in %s %s; do iptables -w -D OUTPUT -j $c; iptables -w -F $c; "
                  "iptables -w -X $c; done >/dev/null 2>&1",
                  g_net.mark, g_net.part);
    }
    g_net.rules = true; //  from here on, cleaned up on exit (machine namespace)
    bool ok = s_iptables ("-N %s", g_net.mark) == 0 && s_iptables ("-N %s", g_net.part) == 0 &&
              s_iptables ("-I OUTPUT 1 -j %s", g_net.part) == 0 &&
              s_iptables ("-I OUTPUT 1 -j %s", g_net.mark) == 0;
    for (int i = 0; i < NODES && ok; i++)
        ok = s_iptables ("-A %s -m conntrack --ctstate NEW -m owner --gid-owner %u -j CONNMARK "
                         "--set-mark %d",
                         g_net.mark, g_nodes[i].gid, i + 1) == 0;
    if (!ok)
        snprintf (err, err_size,
                  "iptables (with the owner, conntrack, connmark and multiport matches) failed; "
                  "partitions need it, as root (see %s/iptables.log)",
                  g_dir);
    return ok;
}

//  Remove the chains (only needed in the machine's namespace). Idempotent.
static void s_net_cleanup (void)
{
    if (!g_net.rules)
        return;
    g_net.rules = false;
    if (g_net.private_ns)
        return;
    const char *chains[] = {g_net.mark, g_net.part};
    for (int i = 0; i < 2; i++) {
        s_iptables ("-D OUTPUT -j %s", chains[i]);
        s_iptables ("-F %s", chains[i]);
        s_iptables ("-X %s", chains[i]);
    }
}

//  From a signal handler: fork and exec only.
static void s_net_cleanup_now (void)
{
    if (!g_net.rules || g_net.private_ns || !g_net.cleanup[0])
        return;
    pid_t pid = fork ();
    if (pid == 0) {
        char *argv[] = {(char *)"sh", (char *)"-c", g_net.cleanup, NULL};
        execve ("/bin/sh", argv, g_env ? g_env : environ);
        _exit (127);
    }
    int status;
    if (pid > 0)
        waitpid (pid, &status, 0);
}

static void s_ports_of_others (int x, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
    for (int j = 0; j < NODES; j++)
        if (j != x && used < size) {
            int rc = snprintf (buf + used, size - used, "%s%d,%d", used ? "," : "",
                               g_nodes[j].base_port + 1, g_nodes[j].base_port + 2);
            used += rc > 0 ? (size_t)rc : 0;
        }
}

//  Cut node X off from the two others (see above). False if a rule failed.
static bool s_isolate (int x)
{
    char own[32], others[64];
    snprintf (own, sizeof own, "%d,%d", g_nodes[x].base_port + 1, g_nodes[x].base_port + 2);
    s_ports_of_others (x, others, sizeof others);
    const char *part = g_net.part;
    bool ok = s_iptables ("-A %s -p tcp --syn -m multiport --ports %s -j REJECT", part, own) == 0 &&
              s_iptables ("-A %s -p tcp -m multiport --ports %s -j DROP", part, own) == 0 &&
              s_iptables ("-A %s -p tcp --syn -m connmark --mark %d -m multiport --ports %s -j "
                          "REJECT",
                          part, x + 1, others) == 0 &&
              s_iptables ("-A %s -p tcp -m connmark --mark %d -m multiport --ports %s -j DROP",
                          part, x + 1, others) == 0;
    g_net.isolated = x;
    return ok;
}

static bool s_reconnect (void)
{
    g_net.isolated = -1;
    return s_iptables ("-F %s", g_net.part) == 0;
}

//  --------------------------------------------------------------------------
//  Elected mode: who is master, the status poller

enum { ROLE_NONE, ROLE_MASTER, ROLE_SECONDARY, ROLE_CANDIDATE };

static int s_role_code (const rlog_status_t *st)
{
    if (strcmp (st->role, "master") == 0)
        return ROLE_MASTER;
    if (strcmp (st->role, "candidate") == 0)
        return ROLE_CANDIDATE;
    return ROLE_SECONDARY;
}

//  The node that is master now, and its epoch: the highest epoch among the
//  nodes that say they are (one cut off or paused may still say so in an
//  older epoch). -1 if none answers as master. EXCEPT is not asked.
static int s_current_master (int except, uint64_t *epoch_p)
{
    int best = -1;
    uint64_t best_epoch = 0;
    for (int i = 0; i < NODES; i++) {
        rlog_status_t st;
        if (i == except || g_nodes[i].pid <= 0 || g_nodes[i].stopped || !s_status_of (i, &st, 300))
            continue;
        if (s_role_code (&st) == ROLE_MASTER && (best < 0 || st.epoch > best_epoch)) {
            best = i;
            best_epoch = st.epoch;
        }
    }
    if (epoch_p)
        *epoch_p = best_epoch;
    return best;
}

//  Wait up to MS for a master other than EXCEPT, of an epoch above ABOVE.
static int s_await_master (int ms, int except, uint64_t above, uint64_t *epoch_p)
{
    int64_t end = s_now_us () + (int64_t)ms * 1000;
    for (;;) {
        uint64_t epoch;
        int m = s_current_master (except, &epoch);
        if (m >= 0 && epoch > above) {
            if (epoch_p)
                *epoch_p = epoch;
            return m;
        }
        if (s_now_us () >= end)
            return -1;
        s_wait (50);
    }
}

typedef struct {
    int64_t send, recv;
    uint64_t epoch, head;
    uint8_t node, role; //  role: ROLE_* (ROLE_NONE: no answer)
    uint8_t writable;   //  a master in read-write
} eobs_t;

static eobs_t *g_eobs;
static size_t g_eobs_count, g_eobs_cap;

//  Every node's STATUS in turn, every POLL_MS: who says it is master, in
//  which epoch (two nodes master in one epoch is a violation).
static void *s_epoller_main (void *arg)
{
    (void)arg;
    rlog_client_t *clients[NODES];
    for (int i = 0; i < NODES; i++) {
        char ep[64];
        clients[i] = rlog_client_new (s_endpoint (i, ep, sizeof ep));
        if (clients[i])
            rlog_client_set_retry (clients[i], 100, 1);
    }
    for (int turn = 0; !atomic_load (&g_stop); turn++) {
        int i = turn % NODES;
        if (!clients[i])
            continue;
        if (g_eobs_count == g_eobs_cap) {
            size_t cap = g_eobs_cap ? g_eobs_cap * 2 : 4096;
            eobs_t *grown = (eobs_t *)realloc (g_eobs, cap * sizeof (eobs_t));
            if (!grown)
                break;
            g_eobs = grown;
            g_eobs_cap = cap;
        }
        eobs_t *obs = &g_eobs[g_eobs_count];
        memset (obs, 0, sizeof *obs);
        rlog_status_t st;
        obs->node = (uint8_t)i;
        obs->send = s_now_us ();
        int rc = rlog_client_status (clients[i], &st);
        obs->recv = s_now_us ();
        if (rc == RLOG_OK) {
            obs->role = (uint8_t)s_role_code (&st);
            obs->epoch = st.epoch;
            obs->head = st.head;
            obs->writable = obs->role == ROLE_MASTER && strcmp (st.mode, "read-write") == 0;
        }
        g_eobs_count++;
        if (i == NODES - 1)
            s_sleep_ms (POLL_MS);
    }
    for (int i = 0; i < NODES; i++)
        rlog_client_destroy (&clients[i]);
    return NULL;
}

//  --------------------------------------------------------------------------
//  Elected mode: the nemesis (main thread)

static struct {
    int kill_master, quick_master, pause_master_long, pause_master_short, partition_master,
        partition_follower, kill_follower, pause_follower, double_failover, followers_down,
        split_vote, kill_all, restarts, no_master, partition_elected;
} g_ef;
//  When each fault on the master began (kill, long pause, partition).
static int64_t g_master_faults[MAX_EVENTS];
static size_t g_master_fault_count;

static void s_note_master_fault (void)
{
    if (g_master_fault_count < MAX_EVENTS)
        g_master_faults[g_master_fault_count++] = s_now_us ();
}

static void s_erestart (int index)
{
    node_t *node = &g_nodes[index];
    if (s_start (index)) {
        g_ef.restarts++;
        s_event ("  restart %s on its data dir (pid %d)", node->name, (int)node->pid);
    } else
        s_violation ("crash", "%s could not be restarted on its data dir; see %s", node->name,
                     node->log_path);
}

//  The master to hit: the one there is now, else (none found within 3 s) a
//  random node.
static int s_target_master (uint64_t *epoch_p)
{
    int m = s_await_master (3000, -1, 0, epoch_p);
    if (m < 0) {
        g_ef.no_master++;
        m = s_rand (&g_rng, 0, NODES - 1);
        s_event ("  no node answers as master: the fault hits %s instead", g_nodes[m].name);
        if (epoch_p)
            *epoch_p = 0;
    }
    return m;
}

//  A node that is not M, at random.
static int s_other (int m)
{
    return (m + s_rand (&g_rng, 1, NODES - 1)) % NODES;
}

static int s_emax (void)
{
    return 2 * g_opt.election_ms;
}

static void s_say_master_now (const char *when)
{
    uint64_t epoch;
    int m = s_current_master (-1, &epoch);
    if (m >= 0)
        s_event ("  %s: %s is master (epoch %" PRIu64 ")", when, g_nodes[m].name, epoch);
    else
        s_event ("  %s: no node answers as master", when);
}

static void s_efault_kill_master (bool quick)
{
    uint64_t epoch;
    int m = s_target_master (&epoch);
    int kind = s_rand (&g_rng, 1, 100);
    int down = quick        ? s_rand (&g_rng, 0, g_opt.election_ms / 2)
               : kind <= 75 ? s_rand (&g_rng, 200, 2500)
                            : s_rand (&g_rng, 2500, g_budget_ms);
    s_event ("fault %d: kill -9 master %s (pid %d, epoch %" PRIu64 "), down %d ms%s", g_faults,
             g_nodes[m].name, (int)g_nodes[m].pid, epoch, down,
             quick ? " (back before an election would start)" : "");
    if (quick)
        g_ef.quick_master++;
    else
        g_ef.kill_master++;
    s_note_master_fault ();
    s_kill (m, SIGKILL);
    s_wait (down);
    s_erestart (m);
}

static void s_efault_pause_master (bool long_pause)
{
    uint64_t epoch;
    int m = s_target_master (&epoch);
    int ms = long_pause ? s_emax () + s_rand (&g_rng, 200, 2500)
                        : s_rand (&g_rng, 100, g_opt.election_ms - 150);
    s_event ("fault %d: SIGSTOP master %s (pid %d, epoch %" PRIu64 ") for %d ms (%s)", g_faults,
             g_nodes[m].name, (int)g_nodes[m].pid, epoch, ms,
             long_pause ? "past the election timeout" : "shorter than the election timeout");
    if (long_pause) {
        g_ef.pause_master_long++;
        s_note_master_fault ();
    } else
        g_ef.pause_master_short++;
    s_signal_node (m, SIGSTOP);
    s_wait (ms);
    if (long_pause)
        s_say_master_now ("before SIGCONT");
    s_signal_node (m, SIGCONT);
    s_event ("  SIGCONT %s", g_nodes[m].name);
}

static void s_efault_partition (bool master)
{
    uint64_t epoch = 0;
    int x = master ? s_target_master (&epoch) : -1;
    if (!master) {
        int m = s_current_master (-1, NULL);
        x = m >= 0 ? s_other (m) : s_rand (&g_rng, 0, NODES - 1);
    }
    int ms = master ? s_emax () + s_rand (&g_rng, 500, 3500) : s_rand (&g_rng, 1000, 4000);
    s_event ("fault %d: partition: %s (pid %d%s) cut off from the two others for %d ms "
             "(clients still reach it)",
             g_faults, g_nodes[x].name, (int)g_nodes[x].pid,
             master ? ", the master" : ", a follower", ms);
    if (master) {
        g_ef.partition_master++;
        s_note_master_fault ();
    } else
        g_ef.partition_follower++;
    if (!s_isolate (x))
        s_violation ("setup", "an iptables rule of the partition failed; see %s/iptables.log",
                     g_dir);
    s_wait (ms);
    if (master) {
        uint64_t now_epoch;
        int other = s_current_master (x, &now_epoch);
        if (other >= 0 && now_epoch > epoch) {
            g_ef.partition_elected++;
            s_event ("  the majority side elected %s (epoch %" PRIu64 ")", g_nodes[other].name,
                     now_epoch);
        } else
            s_event ("  no master of a newer epoch on the majority side");
    }
    if (!s_reconnect ())
        s_violation ("setup", "removing the partition's rules failed; see %s/iptables.log", g_dir);
    s_event ("  partition healed");
}

static void s_efault_follower (bool kill_it)
{
    int m = s_current_master (-1, NULL);
    int x = m >= 0 ? s_other (m) : s_rand (&g_rng, 0, NODES - 1);
    int ms = kill_it ? s_rand (&g_rng, 50, 2000) : s_rand (&g_rng, 300, 2500);
    s_event ("fault %d: %s follower %s (pid %d) for %d ms", g_faults,
             kill_it ? "kill -9" : "SIGSTOP", g_nodes[x].name, (int)g_nodes[x].pid, ms);
    if (kill_it) {
        g_ef.kill_follower++;
        s_kill (x, SIGKILL);
        s_wait (ms);
        s_erestart (x);
    } else {
        g_ef.pause_follower++;
        s_signal_node (x, SIGSTOP);
        s_wait (ms);
        s_signal_node (x, SIGCONT);
        s_event ("  SIGCONT %s", g_nodes[x].name);
    }
}

//  Kill the master; once another is elected, kill that one too; bring the
//  first back (with the remaining node: a majority again), then the second.
static void s_efault_double_failover (void)
{
    uint64_t epoch;
    int m1 = s_target_master (&epoch);
    s_event ("fault %d: double failover: kill -9 master %s (pid %d, epoch %" PRIu64 "), then "
             "the next master",
             g_faults, g_nodes[m1].name, (int)g_nodes[m1].pid, epoch);
    g_ef.double_failover++;
    s_note_master_fault ();
    s_kill (m1, SIGKILL);
    uint64_t epoch2;
    int m2 = s_await_master (2 * s_emax () + 2000, m1, epoch, &epoch2);
    if (m2 < 0) {
        s_event ("  no new master within %d ms", 2 * s_emax () + 2000);
        s_erestart (m1);
        return;
    }
    s_wait (s_rand (&g_rng, 0, 500));
    s_event ("  kill -9 the new master %s (pid %d, epoch %" PRIu64 ")", g_nodes[m2].name,
             (int)g_nodes[m2].pid, epoch2);
    s_kill (m2, SIGKILL);
    s_wait (s_rand (&g_rng, 200, 1500));
    s_erestart (m1);
    s_wait (s_rand (&g_rng, 0, 1000));
    s_erestart (m2);
}

static void s_efault_followers_down (void)
{
    int m = s_current_master (-1, NULL);
    if (m < 0)
        m = s_rand (&g_rng, 0, NODES - 1);
    int a = (m + 1) % NODES, b = (m + 2) % NODES;
    int mode = s_rand (&g_rng, 0, 2);
    int ms = s_rand (&g_rng, 1000, 3000);
    const char *names[] = {"kill -9 both followers", "SIGSTOP both followers",
                           "SIGSTOP one follower, kill -9 the other"};
    s_event ("fault %d: %s (%s, %s) for %d ms: master %s must refuse appends", g_faults,
             names[mode], g_nodes[a].name, g_nodes[b].name, ms, g_nodes[m].name);
    g_ef.followers_down++;
    if (mode == 0) {
        s_kill (a, SIGKILL);
        s_kill (b, SIGKILL);
    } else if (mode == 1) {
        s_signal_node (a, SIGSTOP);
        s_signal_node (b, SIGSTOP);
    } else {
        s_signal_node (a, SIGSTOP);
        s_wait (s_rand (&g_rng, 0, 500));
        s_kill (b, SIGKILL);
    }
    s_wait (ms);
    for (int i = 0; i < NODES; i++) {
        if (g_nodes[i].stopped) {
            s_signal_node (i, SIGCONT);
            s_event ("  SIGCONT %s", g_nodes[i].name);
        } else if (g_nodes[i].pid <= 0)
            s_erestart (i);
    }
}

//  Both followers' election timers run out together: SIGSTOP both, then
//  kill -9 (or SIGSTOP) the master, wait past the election timeout and
//  SIGCONT the two at once. Each becomes a candidate of the same epoch and
//  votes for itself: a split vote, which a new election with fresh random
//  timeouts must resolve (a node that gave a second vote in one epoch would
//  make two masters of it).
static void s_efault_split_vote (void)
{
    uint64_t epoch;
    int m = s_target_master (&epoch);
    int a = (m + 1) % NODES, b = (m + 2) % NODES;
    int ms = s_emax () + s_rand (&g_rng, 200, 1000);
    bool kill_it = s_rand (&g_rng, 0, 1) == 1;
    int back = s_rand (&g_rng, 0, 1500);
    s_event ("fault %d: split vote: SIGSTOP %s and %s, %s master %s (pid %d, epoch %" PRIu64
             "), SIGCONT both together after %d ms, the master back %d ms later",
             g_faults, g_nodes[a].name, g_nodes[b].name, kill_it ? "kill -9" : "SIGSTOP",
             g_nodes[m].name, (int)g_nodes[m].pid, epoch, ms, back);
    g_ef.split_vote++;
    s_note_master_fault ();
    s_signal_node (a, SIGSTOP);
    s_signal_node (b, SIGSTOP);
    if (kill_it)
        s_kill (m, SIGKILL);
    else
        s_signal_node (m, SIGSTOP);
    s_wait (ms);
    s_signal_node (a, SIGCONT);
    s_signal_node (b, SIGCONT);
    s_wait (back);
    s_say_master_now ("before the old master is back");
    if (kill_it)
        s_erestart (m);
    else {
        s_signal_node (m, SIGCONT);
        s_event ("  SIGCONT %s", g_nodes[m].name);
    }
}

static void s_efault_kill_all (void)
{
    int down = s_rand (&g_rng, 100, 2500);
    int order[NODES] = {0, 1, 2};
    for (int i = NODES - 1; i > 0; i--) {
        int j = s_rand (&g_rng, 0, i), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    s_event ("fault %d: kill -9 all three nodes, down %d ms, restart %s, %s, %s", g_faults, down,
             g_nodes[order[0]].name, g_nodes[order[1]].name, g_nodes[order[2]].name);
    g_ef.kill_all++;
    s_note_master_fault ();
    for (int i = 0; i < NODES; i++)
        if (g_nodes[i].pid > 0)
            kill (g_nodes[i].pid, SIGKILL);
    for (int i = 0; i < NODES; i++)
        s_kill (i, SIGKILL);
    s_wait (down);
    for (int k = 0; k < NODES; k++) {
        if (k)
            s_wait (s_rand (&g_rng, 0, 500));
        s_erestart (order[k]);
    }
}

static void s_nemesis_elected (void)
{
    int64_t end = g_t0 + (int64_t)g_opt.seconds * 1000000;
    while (s_now_us () < end) {
        int64_t left_ms = (end - s_now_us ()) / 1000;
        int gap = s_rand (&g_rng, 200, 1500);
        if (!s_wait ((int)(gap < left_ms ? gap : left_ms)) || s_now_us () >= end)
            break;
        g_faults++;
        int pick = s_rand (&g_rng, 0, 99);
        //  Every run kills, pauses and cuts off the master at least once:
        //  one not done yet by a quarter, half, two thirds of the run is next.
        double done = (double)(s_now_us () - g_t0) / ((double)g_opt.seconds * 1e6);
        if (g_ef.kill_master == 0 && done > 0.25)
            pick = 0;
        else if (g_ef.pause_master_long == 0 && done > 0.5)
            pick = 20;
        else if (g_ef.partition_master == 0 && done > 0.67)
            pick = 35;
        if (pick < 16 || pick >= 94)
            s_efault_kill_master (false);
        else if (pick < 20)
            s_efault_kill_master (true);
        else if (pick < 30)
            s_efault_pause_master (true);
        else if (pick < 35)
            s_efault_pause_master (false);
        else if (pick < 47)
            s_efault_partition (true);
        else if (pick < 52)
            s_efault_partition (false);
        else if (pick < 60)
            s_efault_follower (true);
        else if (pick < 68)
            s_efault_follower (false);
        else if (pick < 75)
            s_efault_double_failover ();
        else if (pick < 82)
            s_efault_followers_down ();
        else if (pick < 88)
            s_efault_split_vote ();
        else
            s_efault_kill_all ();
    }
}

static void s_heal_elected (void)
{
    s_event ("heal: no partition, every node running, none stopped");
    if (g_net.isolated >= 0 && !s_reconnect ())
        s_violation ("setup", "removing the partition's rules failed; see %s/iptables.log", g_dir);
    for (int i = 0; i < NODES; i++) {
        if (g_nodes[i].stopped) {
            s_signal_node (i, SIGCONT);
            s_event ("  SIGCONT %s", g_nodes[i].name);
        } else if (g_nodes[i].pid <= 0)
            s_erestart (i);
    }
}

//  Converged: one master, read-write; the two others secondaries following
//  it in its epoch; one history; the same head everywhere. Twice in a row,
//  50 ms apart.
static bool s_converge_elected (uint64_t *heads, rlog_status_t *final)
{
    int64_t deadline = s_now_us () + (int64_t)g_opt.converge_s * 1000000;
    int steady = 0;
    for (;;) {
        bool ok = true;
        int masters = 0, master = -1;
        for (int i = 0; i < NODES; i++) {
            if (s_status_of (i, &final[i], 300)) {
                heads[i] = final[i].head;
                if (s_role_code (&final[i]) == ROLE_MASTER) {
                    masters++;
                    master = i;
                }
            } else
                ok = false;
        }
        ok = ok && masters == 1 && strcmp (final[master].mode, "read-write") == 0;
        for (int i = 0; i < NODES && ok; i++)
            ok = heads[i] == heads[master] && final[i].epoch == final[master].epoch &&
                 final[i].history[0] && strcmp (final[i].history, final[master].history) == 0 &&
                 (i == master || strcmp (final[i].mode, "following") == 0);
        steady = ok ? steady + 1 : 0;
        if (steady >= 2)
            return true;
        if (s_now_us () > deadline)
            return false;
        s_reap_check ();
        s_sleep_ms (50);
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

//  Elected: a seq LIST skips (librlog hides the empty payloads) holds an
//  epoch marker; the segment files say whether it really is one.
#define KEY_MARKER UINT64_MAX

static int s_log_push (nodelog_t *log, uint64_t key)
{
    if (log->count == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 65536;
        uint64_t *grown = (uint64_t *)realloc (log->keys, cap * sizeof (uint64_t));
        if (!grown)
            return -1;
        log->keys = grown;
        log->cap = cap;
    }
    log->keys[log->count++] = key;
    return 0;
}

static int s_collect (uint64_t seq, const void *data, size_t size, void *arg)
{
    nodelog_t *log = (nodelog_t *)arg;
    while (g_opt.elected && seq > log->count + 1)
        if (s_log_push (log, KEY_MARKER) != 0)
            return -1;
    if (seq != log->count + 1) {
        log->bad_seq = true;
        return -1;
    }
    uint64_t key = s_parse_value (data, size);
    if (key == 0) {
        char text[80];
        s_printable (data, size < 60 ? size : 60, text, sizeof text);
        s_violation ("unexpected", "%s holds \"%s\" at seq %" PRIu64 ", a value never sent",
                     g_nodes[log->node].name, text, seq);
    }
    return s_log_push (log, key);
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
        if (key == 0 || key == KEY_MARKER)
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
        if (op->outcome == OUT_REFUSED && !g_opt.elected) //  elected: s_check_acked_elected
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

static const char *s_key_text (uint64_t key, char *buf, size_t size)
{
    if (key == 0)
        snprintf (buf, size, "a value never sent");
    else if (key == KEY_MARKER)
        snprintf (buf, size, "an epoch marker");
    else
        snprintf (buf, size, "c%d-%u", (int)(key >> 32) - 1, (unsigned)(key & 0xffffffffu));
    return buf;
}

static void s_check_history (void)
{
    const nodelog_t *m = &g_logs[0];
    for (int i = 1; i < NODES; i++) {
        const nodelog_t *s = &g_logs[i];
        size_t common = s->count < m->count ? s->count : m->count;
        for (size_t k = 0; k < common; k++)
            if (s->keys[k] != m->keys[k]) {
                char a[40], b[40];
                s_violation ("divergence", "seq %zu: %s holds %s, %s holds %s (first difference)",
                             k + 1, g_nodes[0].name, s_key_text (m->keys[k], a, sizeof a),
                             g_nodes[i].name, s_key_text (s->keys[k], b, sizeof b));
                break;
            }
        if (s->count != m->count)
            s_violation ("divergence", "%s holds %zu entries, %s%s %zu", g_nodes[i].name, s->count,
                         g_opt.elected ? "" : "the ", g_nodes[0].name, m->count);
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
            //  Elected: a reply's seq may have been rolled back since; the
            //  order is checked on the final log (s_check_client_order).
            if ((op->outcome != OUT_OK && op->outcome != OUT_TIMEOUT) || g_opt.elected)
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
    //  Elected: any node may be the master; one down throughout cannot
    //  have answered nor held it.
    int possible = g_opt.elected ? 0 : 1;
    size_t used = 0;
    why[0] = 0;
    for (int i = g_opt.elected ? 0 : 1; i < NODES; i++) {
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
//  [varint size][payload]; flags bit 0: an epoch marker (one empty entry).
//  FN gets every entry. Returns the bytes it takes, 0 if unreadable.
typedef void (entry_fn) (uint64_t seq, uint64_t epoch, bool marker, const unsigned char *data,
                         size_t size, void *arg);

static size_t s_record (const unsigned char *p, size_t size, entry_fn *fn, void *arg)
{
    if (size < 38)
        return 0;
    uint64_t len = s_le (p, 4);
    if (len < 34 || len > size - 4)
        return 0;
    uint64_t epoch = s_le (p + 8, 8), seq = s_le (p + 16, 8), count = s_le (p + 24, 4);
    bool marker = (p[28] & 1) != 0;
    size_t id_size = p[29];
    const unsigned char *at = p + 38 + id_size, *end = p + 4 + len;
    if (at > end)
        return 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t delta, bytes;
        if (!s_varint (&at, end, &delta) || !s_varint (&at, end, &bytes) ||
            bytes > (uint64_t)(end - at))
            return 0;
        fn (seq + i, epoch, marker, at, (size_t)bytes, arg);
        at += bytes;
    }
    return at == end ? (size_t)len + 4 : 0;
}

static void s_rolled_entry (uint64_t seq, uint64_t epoch, bool marker, const unsigned char *data,
                            size_t size, void *arg)
{
    (void)marker;
    if (size > 0) //  an epoch marker holds no message
        s_rolled_push (seq, epoch, *(const int *)arg, data, size);
}

//  The whole file at PATH (malloc'd, *SIZE bytes), NULL if unreadable.
static unsigned char *s_slurp (const char *path, size_t *size_p)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    unsigned char *bytes = NULL;
    long size = -1;
    if (fseek (f, 0, SEEK_END) == 0 && (size = ftell (f)) >= 0 && fseek (f, 0, SEEK_SET) == 0)
        bytes = (unsigned char *)malloc ((size_t)size + 1);
    if (bytes && fread (bytes, 1, (size_t)size, f) != (size_t)size) {
        free (bytes);
        bytes = NULL;
    }
    fclose (f);
    *size_p = bytes ? (size_t)size : 0;
    return bytes;
}

//  Read every rollback-*.log of node INDEX's data dir: whole records,
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
        g_rolled_files++;
        size_t size;
        unsigned char *bytes = s_slurp (path, &size);
        if (!bytes)
            g_rolled_unreadable++;
        else
            for (size_t at = 0; at < size;) {
                size_t used = s_record (bytes + at, size - at, s_rolled_entry, &index);
                if (used == 0) {
                    g_rolled_unreadable++;
                    break;
                }
                at += used;
            }
        free (bytes);
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
//  Elected mode: the segment files, the checks, the run

//  A node's log as its segment files hold it, read after it stopped: seq
//  by seq, the epoch and the value (KEY_MARKER for an epoch marker).
typedef struct {
    uint64_t epoch, key;
} segent_t;

typedef struct {
    segent_t *e;
    size_t count, cap;
    bool bad;
    char why[240];
} seglog_t;

static seglog_t g_seg[NODES];

static void s_seg_entry (uint64_t seq, uint64_t epoch, bool marker, const unsigned char *data,
                         size_t size, void *arg)
{
    seglog_t *log = (seglog_t *)arg;
    if (log->bad)
        return;
    if (seq != log->count + 1 || (marker && size) || (!marker && !size)) {
        log->bad = true;
        snprintf (log->why, sizeof log->why, "seq %" PRIu64 " follows seq %zu%s", seq, log->count,
                  marker && size     ? " (a marker with a payload)"
                  : !marker && !size ? " (an empty payload in a record that is no marker)"
                                     : "");
        return;
    }
    if (log->count == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 65536;
        segent_t *grown = (segent_t *)realloc (log->e, cap * sizeof (segent_t));
        if (!grown) {
            log->bad = true;
            snprintf (log->why, sizeof log->why, "out of memory");
            return;
        }
        log->e = grown;
        log->cap = cap;
    }
    log->e[log->count].epoch = epoch;
    log->e[log->count++].key = marker ? KEY_MARKER : s_parse_value (data, size);
}

static int s_u64_order (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

//  Node INDEX's segment files (DIR/<20 digits>.log), in seq order.
static void s_read_segments (int index)
{
    const node_t *node = &g_nodes[index];
    seglog_t *log = &g_seg[index];
    DIR *dir = opendir (node->data_dir);
    if (!dir) {
        log->bad = true;
        snprintf (log->why, sizeof log->why, "cannot open %.160s", node->data_dir);
        return;
    }
    uint64_t firsts[4096];
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)) != NULL && count < 4096) {
        const char *name = entry->d_name;
        size_t len = strlen (name);
        if (len != 24 || strcmp (name + 20, ".log") != 0 || strspn (name, "0123456789") != 20)
            continue;
        firsts[count++] = strtoull (name, NULL, 10);
    }
    closedir (dir);
    qsort (firsts, count, sizeof firsts[0], s_u64_order);
    for (size_t k = 0; k < count && !log->bad; k++) {
        char path[PATH_MAX];
        snprintf (path, sizeof path, "%s/%020" PRIu64 ".log", node->data_dir, firsts[k]);
        size_t size;
        unsigned char *bytes = s_slurp (path, &size);
        if (!bytes) {
            log->bad = true;
            snprintf (log->why, sizeof log->why, "cannot read %.160s", path);
            break;
        }
        if (size && firsts[k] != log->count + 1) {
            log->bad = true;
            snprintf (log->why, sizeof log->why,
                      "segment %020" PRIu64 ".log starts at seq %" PRIu64 ", after seq %zu",
                      firsts[k], firsts[k], log->count);
        }
        for (size_t at = 0; at < size && !log->bad;) {
            size_t used = s_record (bytes + at, size - at, s_seg_entry, log);
            if (used == 0) {
                log->bad = true;
                snprintf (log->why, sizeof log->why, "unreadable record in %.160s at offset %zu",
                          path, at);
            }
            at += used;
        }
        free (bytes);
    }
}

//  Gap-free order and one history, from the files: each node's seqs run
//  1, 2, 3, ... up to its head; what LIST served is what the files hold
//  (the seqs LIST skipped are markers); epochs never go down along a log
//  and each new epoch begins with its marker (the new master appends it
//  first); and every node holds each seq from the same epoch.
static void s_check_segments (const uint64_t *heads)
{
    for (int i = 0; i < NODES; i++) {
        const seglog_t *g = &g_seg[i];
        const nodelog_t *l = &g_logs[i];
        const char *name = g_nodes[i].name;
        if (g->bad) {
            s_violation ("gap", "%s's segment files: %s", name, g->why);
            continue;
        }
        if (g->count != heads[i] || l->count != heads[i])
            s_violation ("gap",
                         "%s: head %" PRIu64 ", LIST served %zu seqs, its segment files hold %zu",
                         name, heads[i], l->count, g->count);
        size_t common = g->count < l->count ? g->count : l->count;
        for (size_t k = 0; k < common; k++)
            if (g->e[k].key != l->keys[k]) {
                char a[40], b[40];
                s_violation ("gap", "%s: seq %zu is %s in LIST but %s in its segment files", name,
                             k + 1, s_key_text (l->keys[k], a, sizeof a),
                             s_key_text (g->e[k].key, b, sizeof b));
                break;
            }
        for (size_t k = 0; k < g->count; k++) {
            uint64_t before = k ? g->e[k - 1].epoch : 0;
            if (g->e[k].epoch < before) {
                s_violation ("epoch-order",
                             "%s: seq %zu is of epoch %" PRIu64 ", after seq %zu of epoch %" PRIu64,
                             name, k + 1, g->e[k].epoch, k, before);
                break;
            }
            if (g->e[k].epoch != before && g->e[k].key != KEY_MARKER) {
                char a[40];
                s_violation ("epoch-order",
                             "%s: epoch %" PRIu64 " begins at seq %zu with %s, not its marker",
                             name, g->e[k].epoch, k + 1, s_key_text (g->e[k].key, a, sizeof a));
                break;
            }
        }
    }
    for (int i = 1; i < NODES; i++) {
        size_t common = g_seg[i].count < g_seg[0].count ? g_seg[i].count : g_seg[0].count;
        for (size_t k = 0; k < common; k++)
            if (g_seg[i].e[k].epoch != g_seg[0].e[k].epoch) {
                s_violation ("divergence",
                             "seq %zu: %s holds it from epoch %" PRIu64 ", %s from epoch %" PRIu64,
                             k + 1, g_nodes[0].name, g_seg[0].e[k].epoch, g_nodes[i].name,
                             g_seg[i].e[k].epoch);
                break;
            }
    }
}

//  At most one master per epoch: every node logs "elected master of epoch
//  N" when it wins; no epoch may be won by two nodes, and the election
//  module's own "(safety violation)" warning must never appear. The poller
//  agrees: no two nodes answered as master of one epoch, and a node that
//  answered as master of epoch N had logged winning it.
typedef struct {
    uint64_t epoch;
    int node;
} won_t;

static won_t g_won[MAX_EVENTS];
static size_t g_won_count;
static int g_failovers = -1, g_leader_changes;

static int s_won_order (const void *a, const void *b)
{
    const won_t *x = (const won_t *)a, *y = (const won_t *)b;
    return x->epoch < y->epoch ? -1 : x->epoch > y->epoch ? 1 : x->node - y->node;
}

static void s_check_elections (void)
{
    for (int i = 0; i < NODES; i++) {
        FILE *f = fopen (g_nodes[i].log_path, "r");
        if (!f)
            continue;
        char line[1400];
        while (fgets (line, sizeof line, f)) {
            if (strncmp (line, "#checker", 8) == 0)
                continue;
            line[strcspn (line, "\n")] = 0;
            const char *p = strstr (line, "elected master of epoch ");
            if (p && g_won_count < MAX_EVENTS) {
                uint64_t epoch = strtoull (p + 24, NULL, 10);
                bool seen = false;
                for (size_t k = 0; k < g_won_count && !seen; k++)
                    seen = g_won[k].epoch == epoch && g_won[k].node == i;
                if (!seen) {
                    g_won[g_won_count].epoch = epoch;
                    g_won[g_won_count++].node = i;
                }
            }
            if (strstr (line, "(safety violation)"))
                s_violation ("two-masters", "%s logged: %.300s", g_nodes[i].name, line);
        }
        fclose (f);
    }
    qsort (g_won, g_won_count, sizeof g_won[0], s_won_order);
    g_failovers = g_won_count ? (int)g_won_count - 1 : 0;
    for (size_t k = 1; k < g_won_count; k++) {
        if (g_won[k].epoch == g_won[k - 1].epoch)
            s_violation ("two-masters", "epoch %" PRIu64 " was won by %s and by %s (their logs)",
                         g_won[k].epoch, g_nodes[g_won[k - 1].node].name,
                         g_nodes[g_won[k].node].name);
        else if (g_won[k].node != g_won[k - 1].node)
            g_leader_changes++;
    }
    for (size_t k = 0; k < g_eobs_count; k++) {
        const eobs_t *o = &g_eobs[k];
        if (o->role != ROLE_MASTER)
            continue;
        bool logged = false;
        for (size_t j = 0; j < g_won_count && !logged; j++)
            logged = g_won[j].epoch == o->epoch && g_won[j].node == o->node;
        if (!logged) {
            s_violation ("two-masters",
                         "%s answered as master of epoch %" PRIu64 " at %.3fs but never logged "
                         "winning it",
                         g_nodes[o->node].name, o->epoch, s_elapsed (o->recv));
            break;
        }
    }
}

//  The write-concern rules on the final logs (every node's positions).
//  Acknowledged (ok, or timed out: appended) by a majority (acks >= 2 of 3):
//  on every node, once, at its seq. By fewer (a w=1 ok, a timeout with
//  acks 1): it may have been rolled back by a failover; then the node that
//  answered must have kept it in a rollback file, at that seq. One still in
//  the log but at another seq is the copy of an earlier send of the same
//  request (to another master) that survived instead.
typedef struct {
    long durable, weak, weak_rolled, weak_rolled_timeout, weak_elsewhere, refused_found,
        indet_found;
    long rolled_by[NODES];
    long refused_codes[RLOG_ERR_MAX + 1];
} estats_t;

static void s_check_acked_elected (uint64_t **pos[NODES], estats_t *st)
{
    uint32_t majority = NODES / 2 + 1;
    for (int c = 0; c < g_opt.clients; c++)
        for (size_t n = 0; n < g_clients[c].count; n++) {
            const op_t *op = &g_clients[c].ops[n];
            uint64_t p0 = pos[0] && pos[0][c] ? pos[0][c][n] : 0;
            if (op->outcome == OUT_REFUSED && p0) {
                //  A refusal proves nothing stored only when no other node
                //  was sent the request: the call saw no silence (no resend).
                if (op->cmp - op->inv < (int64_t)RETRY_MS * 1000)
                    s_violation ("refused-read",
                                 "c%d-%zu was refused (%s, answered in %.0f ms) but is at seq "
                                 "%" PRIu64,
                                 c, n, s_code_name (op->rc), (double)(op->cmp - op->inv) / 1e3, p0);
                else if (st->refused_codes[op->rc >= 0 && op->rc < RLOG_ERR_MAX ? op->rc
                                                                                : RLOG_ERR_MAX]++,
                         st->refused_found++ < 3)
                    printf ("note: c%d-%zu was refused (%s after %.2f s: an earlier send went "
                            "unanswered) but is at seq %" PRIu64 "\n",
                            c, n, s_code_name (op->rc), (double)(op->cmp - op->inv) / 1e6, p0);
            }
            if (op->outcome == OUT_INDET && p0)
                st->indet_found++;
            if (op->outcome != OUT_OK && op->outcome != OUT_TIMEOUT)
                continue;
            const char *what = op->outcome == OUT_OK ? "ok" : "timed-out (appended)";
            if (op->acks >= majority) {
                st->durable++;
                for (int i = 0; i < NODES; i++) {
                    uint64_t p = pos[i] && pos[i][c] ? pos[i][c][n] : 0;
                    if (p == 0)
                        s_violation (op->outcome == OUT_OK ? "lost-ack" : "lost-appended",
                                     "c%d-%zu %s w=%u seq=%" PRIu64 " acks=%u (a majority; "
                                     "answered at %.3fs) is missing on %s",
                                     c, n, what, op->w, op->seq, op->acks, s_elapsed (op->cmp),
                                     g_nodes[i].name);
                    else if (p != op->seq)
                        s_violation ("seq-mismatch",
                                     "c%d-%zu %s w=%u acks=%u with seq %" PRIu64
                                     " but is at seq %" PRIu64 " on %s",
                                     c, n, what, op->w, op->acks, op->seq, p, g_nodes[i].name);
                }
                continue;
            }
            st->weak++;
            if (p0) {
                st->weak_elsewhere += p0 != op->seq;
                continue;
            }
            st->weak_rolled++;
            st->weak_rolled_timeout += op->outcome == OUT_TIMEOUT;
            uint64_t key = ((uint64_t)(c + 1) << 32) | n;
            int holder = -1;
            for (size_t r = 0; r < g_rolled_count && holder < 0; r++)
                if (g_rolled[r].seq == op->seq &&
                    s_parse_value (g_rolled[r].value, g_rolled[r].size) == key)
                    holder = g_rolled[r].node;
            if (holder >= 0)
                st->rolled_by[holder]++;
            else
                s_violation ("lost-unreplicated",
                             "c%d-%zu %s w=%u seq=%" PRIu64 " acks=%u (answered at %.3fs) is in "
                             "no node's final log nor in any node's rollback file at that seq",
                             c, n, what, op->w, op->seq, op->acks, s_elapsed (op->cmp));
        }
}

//  Order on the final log. A's entry was appended before A's reply came
//  back (when it is the reply's own entry: at the seq the reply gave); B's
//  after B was sent. Two entries of one history keep the order in which
//  they were appended (epochs grow along the log, and a log that holds an
//  entry holds the same prefix before it as the master that appended it).
//  So when A (acknowledged, at its seq) was answered before B (any
//  outcome, in the log) was sent, B is after A. client-order is the same
//  within one client (each call completes before the next is sent).
static void s_check_order_elected (uint64_t **pos)
{
    if (!pos)
        return;
    size_t count = 0;
    for (int c = 0; c < g_opt.clients; c++)
        for (size_t n = 0; n < g_clients[c].count; n++) {
            const op_t *op = &g_clients[c].ops[n];
            count += (op->outcome == OUT_OK || op->outcome == OUT_TIMEOUT) && pos[c][n] &&
                     pos[c][n] == op->seq;
        }
    done_t *done = (done_t *)calloc (count + 1, sizeof (done_t));
    size_t *best = (size_t *)calloc (count + 1, sizeof (size_t));
    if (!done || !best) {
        free (done);
        free (best);
        return;
    }
    size_t k = 0;
    for (int c = 0; c < g_opt.clients; c++) {
        uint64_t last = 0;
        size_t last_n = 0;
        for (size_t n = 0; n < g_clients[c].count; n++) {
            const op_t *op = &g_clients[c].ops[n];
            uint64_t p = pos[c][n];
            if (!p)
                continue;
            if (last && p <= last)
                s_violation ("client-order",
                             "c%d-%zu (%s) is at seq %" PRIu64 ", but c%d-%zu, acknowledged "
                             "before it was sent, is at seq %" PRIu64,
                             c, n, s_code_name (op->rc), p, c, last_n, last);
            if ((op->outcome == OUT_OK || op->outcome == OUT_TIMEOUT) && p == op->seq) {
                done[k++] = (done_t){op->cmp, p, c, n};
                last = p;
                last_n = n;
            }
        }
    }
    qsort (done, count, sizeof (done_t), s_done_order);
    for (size_t i = 0; i < count; i++)
        best[i] = i > 0 && done[best[i - 1]].seq >= done[i].seq ? best[i - 1] : i;
    for (int c = 0; c < g_opt.clients; c++)
        for (size_t n = 0; n < g_clients[c].count; n++) {
            const op_t *op = &g_clients[c].ops[n];
            uint64_t seq = pos[c][n];
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
                             "already been acknowledged at seq %" PRIu64 " at %.3fs",
                             c, n, s_code_name (op->rc), s_elapsed (op->inv), seq, a->c, a->n,
                             a->seq, s_elapsed (a->cmp));
        }
    free (done);
    free (best);
}

//  After each fault on the master: how long until an append with w >= 2
//  sent after the fault began was acknowledged (median and worst, ms).
static void s_unavailability (double *median_ms, double *max_ms, size_t *measured)
{
    double gaps[MAX_EVENTS];
    size_t count = 0;
    for (size_t f = 0; f < g_master_fault_count; f++) {
        int64_t t = g_master_faults[f], first = INT64_MAX;
        for (int c = 0; c < g_opt.clients; c++)
            for (size_t n = 0; n < g_clients[c].count; n++) {
                const op_t *op = &g_clients[c].ops[n];
                if (op->outcome == OUT_OK && op->w >= 2 && op->inv >= t && op->cmp < first)
                    first = op->cmp;
            }
        if (first != INT64_MAX)
            gaps[count++] = (double)(first - t) / 1e3;
    }
    *measured = count;
    *median_ms = *max_ms = 0;
    for (size_t i = 1; i < count; i++)
        for (size_t j = i; j > 0 && gaps[j] < gaps[j - 1]; j--) {
            double t = gaps[j];
            gaps[j] = gaps[j - 1];
            gaps[j - 1] = t;
        }
    if (count) {
        *median_ms = gaps[count / 2];
        *max_ms = gaps[count - 1];
    }
}

static void s_write_epolls (void)
{
    char path[256];
    snprintf (path, sizeof path, "%s/polls.tsv", g_dir);
    FILE *f = fopen (path, "w");
    if (!f)
        return;
    fprintf (f, "# send_s\trecv_s\tnode\trole(0=none,1=master,2=secondary,3=candidate)\t"
                "epoch\thead\twritable\n");
    for (size_t i = 0; i < g_eobs_count; i++)
        fprintf (f, "%.6f\t%.6f\t%s\t%u\t%" PRIu64 "\t%" PRIu64 "\t%u\n",
                 s_elapsed (g_eobs[i].send), s_elapsed (g_eobs[i].recv),
                 g_nodes[g_eobs[i].node].name, g_eobs[i].role, g_eobs[i].epoch, g_eobs[i].head,
                 g_eobs[i].writable);
    fclose (f);
}

static int s_finish (bool pass, long appends, long ok, long refused, long timed_out, long indet,
                     size_t entries);

static int s_main_elected (void)
{
    //  Before any thread: the run's own network namespace and chains.
    char err[400] = "";
    for (int i = 0; i < NODES; i++)
        g_nodes[i].gid = 1375731712u + (unsigned)(getpid () % 1000000) * 4u + (unsigned)i;
    if (!s_net_setup (err, sizeof err)) {
        printf ("checker: %s\n", err);
        s_violation ("setup", "%s", err);
        s_net_cleanup ();
        return s_finish (false, 0, 0, 0, 0, 0, 0);
    }
    for (int i = 0; i < NODES; i++) {
        char name[8];
        snprintf (name, sizeof name, "n%d", i + 1);
        node_t *node = &g_nodes[i];
        snprintf (node->name, sizeof node->name, "%s", name);
        snprintf (node->id, sizeof node->id, "faults-%s-%d", name, (int)getpid ());
        snprintf (node->log_path, sizeof node->log_path, "%s/%s.log", g_dir, name);
        snprintf (node->ready_path, sizeof node->ready_path, "%s/%s.ready", g_dir, name);
        snprintf (node->data_dir, sizeof node->data_dir, "%s/%s.data", g_dir, name);
        if (!s_reserve_ports (i)) {
            s_violation ("setup", "no three free consecutive ports found for %s", name);
            s_net_cleanup ();
            return s_finish (false, 0, 0, 0, 0, 0, 0);
        }
    }
    printf ("checker: seed=%" PRIu64 " seconds=%d clients=%d heartbeat=%d ms timeout=%d ms "
            "client retry budget ~%d ms; elected nodes, election timeout %d..%d ms; data dirs, "
            "fsync %s%s, segment-bytes %ld; dir=%s\n",
            g_opt.seed, g_opt.seconds, g_opt.clients, g_opt.heartbeat_ms, g_opt.timeout_ms,
            g_budget_ms, g_opt.election_ms, 2 * g_opt.election_ms, g_fsync_names[g_fsync],
            g_fsync == FSYNC_BATCH ? " (20 ms)" : "",
            g_segment_bytes ? g_segment_bytes : 64L * 1024 * 1024, g_dir);
    printf ("checker: nodes n1, n2, n3 on base ports %d, %d, %d (reserved for the run); "
            "partitions: iptables in %s\n",
            g_nodes[0].base_port, g_nodes[1].base_port, g_nodes[2].base_port,
            g_net.private_ns ? "the run's own network namespace" : "the machine's namespace");
    if (!g_net.private_ns)
        printf ("checker: no network namespace of its own (unshare: %s); the chains %s and %s are "
                "removed on exit\n",
                g_net.why, g_net.mark, g_net.part);
    printf ("checker: replay with --elected --seed %" PRIu64 " (same fault schedule; timing "
            "differs)\n",
            g_opt.seed);

    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction (SIGALRM, &sa, NULL);
    alarm ((unsigned)(g_opt.seconds + g_opt.converge_s + 150));
    atexit (s_cleanup);
    bool up = true;
    for (int i = 0; i < NODES && up; i++) {
        up = s_start (i);
        if (i == 0) { //  the first client call set up czmq and its handlers
            sigaction (SIGINT, &sa, NULL);
            sigaction (SIGTERM, &sa, NULL);
            sigaction (SIGHUP, &sa, NULL);
        }
    }
    if (!up) {
        s_violation ("setup", "the nodes did not start; see %s", g_dir);
        s_cleanup ();
        return s_finish (false, 0, 0, 0, 0, 0, 0);
    }
    //  Ready: the state the end converges to, within 10 s.
    uint64_t heads[NODES] = {0, 0, 0};
    rlog_status_t final[NODES];
    int saved = g_opt.converge_s;
    g_opt.converge_s = 10;
    bool ready = s_converge_elected (heads, final);
    g_opt.converge_s = saved;
    if (!ready) {
        s_violation ("setup", "no master with two following secondaries within 10 s; see %s",
                     g_dir);
        s_cleanup ();
        return s_finish (false, 0, 0, 0, 0, 0, 0);
    }

    g_t0 = s_now_us ();
    uint64_t epoch0;
    int m0 = s_current_master (-1, &epoch0);
    s_event ("cluster up: n1 pid %d, n2 pid %d, n3 pid %d; master %s (epoch %" PRIu64 "); "
             "workload starts",
             (int)g_nodes[0].pid, (int)g_nodes[1].pid, (int)g_nodes[2].pid,
             m0 >= 0 ? g_nodes[m0].name : "?", epoch0);
    pthread_t poller;
    pthread_create (&poller, NULL, s_epoller_main, NULL);
    for (int c = 0; c < g_opt.clients; c++) {
        g_clients[c].id = c;
        g_clients[c].rng = g_opt.seed * 1000003ULL + (uint64_t)c + 1;
        pthread_create (&g_clients[c].thread, NULL, s_client_main, &g_clients[c]);
    }

    s_nemesis_elected ();
    s_heal_elected ();
    atomic_store (&g_stop, true);
    for (int c = 0; c < g_opt.clients; c++)
        pthread_join (g_clients[c].thread, NULL);
    pthread_join (poller, NULL);
    s_event ("workload stopped after %d faults", g_faults);

    int64_t converge_start = s_now_us ();
    bool converged = s_converge_elected (heads, final);
    double converge_s = (double)(s_now_us () - converge_start) / 1e6;
    if (!converged) {
        char view[900] = "";
        size_t used = 0;
        for (int i = 0; i < NODES; i++) {
            bool odd = strcmp (final[i].mode, "following") != 0 &&
                       strcmp (final[i].mode, "read-write") != 0 && final[i].reason[0];
            int rc =
                snprintf (view + used, sizeof view - used,
                          "%s%s %s %s epoch %" PRIu64 " head %" PRIu64 "%s%.110s%s", i ? "; " : "",
                          g_nodes[i].name, final[i].role, final[i].mode, final[i].epoch, heads[i],
                          odd ? " (" : "", odd ? final[i].reason : "", odd ? ")" : "");
            used += rc > 0 && (size_t)rc < sizeof view - used ? (size_t)rc : 0;
        }
        s_violation ("convergence", "not converged after %d s: %s", g_opt.converge_s, view);
    } else {
        int m = -1;
        for (int i = 0; i < NODES; i++)
            if (s_role_code (&final[i]) == ROLE_MASTER)
                m = i;
        s_event (
            "converged in %.2f s at head %" PRIu64 ": master %s, epoch %" PRIu64 ", history %s",
            converge_s, heads[0], m >= 0 ? g_nodes[m].name : "?", final[0].epoch, final[0].history);
    }
    bool read_ok = converged;
    for (int i = 0; i < NODES && read_ok; i++) {
        read_ok = s_read_log (i);
        //  Markers after the last message are not listed: pad to the head.
        while (read_ok && g_logs[i].count < heads[i])
            read_ok = s_log_push (&g_logs[i], KEY_MARKER) == 0;
    }
    if (read_ok)
        for (int i = 1; i < NODES; i++)
            if (strcmp (final[i].history, final[0].history) != 0)
                s_violation ("history", "%s is in history %s, %s in %s", g_nodes[i].name,
                             final[i].history, g_nodes[0].name, final[0].history);
    s_reap_check ();
    for (int i = NODES - 1; i >= 0; i--)
        s_kill (i, SIGTERM);
    s_net_cleanup ();

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

    for (int i = 0; i < NODES; i++)
        s_collect_rollbacks (i);
    size_t entries = 0;
    estats_t st;
    memset (&st, 0, sizeof st);
    uint64_t **pos[NODES] = {NULL, NULL, NULL};
    if (read_ok) {
        for (int i = 0; i < NODES; i++) {
            s_read_segments (i);
            pos[i] = s_positions (i, &entries);
        }
        s_check_history ();
        s_check_segments (heads);
        s_check_acked_elected (pos, &st);
        s_check_order_elected (pos[0]);
    }
    s_check_replies ();
    s_check_possible ();
    s_check_elections ();
    long needless = 0;
    for (size_t r = 0; r < g_rolled_count && read_ok; r++) {
        uint64_t key = s_parse_value (g_rolled[r].value, g_rolled[r].size);
        needless +=
            key && g_rolled[r].seq <= g_logs[0].count && g_logs[0].keys[g_rolled[r].seq - 1] == key;
    }
    double median_ms, max_ms;
    size_t measured;
    s_unavailability (&median_ms, &max_ms, &measured);

    printf ("info: codes:");
    for (int rc = 0; rc <= RLOG_ERR_MAX; rc++)
        if (codes[rc])
            printf (" %s=%ld", rc < RLOG_ERR_MAX ? s_code_name (rc) : "other", codes[rc]);
    printf ("; indeterminate found in the log=%ld; refused after a silence (an earlier send may "
            "have been stored) found in the log=%ld",
            st.indet_found, st.refused_found);
    for (int rc = 0; rc <= RLOG_ERR_MAX; rc++)
        if (st.refused_codes[rc])
            printf (" %s=%ld", rc < RLOG_ERR_MAX ? s_code_name (rc) : "other",
                    st.refused_codes[rc]);
    printf ("\n");
    printf ("info: elections=%zu (failovers=%d, the master changed node %d times); faults on the "
            "master: kill -9 %d (+%d back at once), long SIGSTOP %d, partition %d (a new master "
            "on the majority side %d times), double failover %d, split vote %d, all killed %d; "
            "short master SIGSTOP %d; followers: kill -9 %d, SIGSTOP %d, partition %d, both "
            "down %d; restarts %d; no master found %d\n",
            g_won_count, g_failovers, g_leader_changes, g_ef.kill_master, g_ef.quick_master,
            g_ef.pause_master_long, g_ef.partition_master, g_ef.partition_elected,
            g_ef.double_failover, g_ef.split_vote, g_ef.kill_all, g_ef.pause_master_short,
            g_ef.kill_follower, g_ef.pause_follower, g_ef.partition_follower, g_ef.followers_down,
            g_ef.restarts, g_ef.no_master);
    printf ("info: acknowledged (ok or timed out) by a majority (acks >= 2)=%ld; by fewer=%ld: "
            "not in the final log %ld (timed out: %ld; in a rollback file of n1 %ld, n2 %ld, n3 "
            "%ld), in it at another seq %ld\n",
            st.durable, st.weak, st.weak_rolled, st.weak_rolled_timeout, st.rolled_by[0],
            st.rolled_by[1], st.rolled_by[2], st.weak_elsewhere);
    printf ("info: rollback files=%ld, entries %zu (still in the final log at that seq: %ld)%s; "
            "first ok w>=2 append sent after a master fault: median %.0f ms, worst %.0f ms (%zu "
            "of %zu faults); polls=%zu; log length %zu; convergence %.2f s; iptables commands "
            "%ld\n",
            g_rolled_files, g_rolled_count, needless,
            g_rolled_unreadable ? " (some unreadable)" : "", median_ms, max_ms, measured,
            g_master_fault_count, g_eobs_count, read_ok ? g_logs[0].count : 0, converge_s,
            g_net.commands);
    if (g_external)
        printf ("info: WARNING: %d node(s) were shut down by signals the checker did not send "
                "(restarted; see the WARNING lines above)\n",
                g_external);
    for (size_t k = 0; k < g_viol.kind_count; k++)
        printf ("info: %ld violation(s) of kind %s\n", g_viol.kinds[k].count, g_viol.kinds[k].kind);

    bool pass = g_viol.total == 0;
    s_write_history ();
    s_write_epolls ();
    if (g_faults_log)
        fclose (g_faults_log);
    g_faults_log = NULL;
    if (pass && !g_opt.keep)
        s_remove_dir ();
    else
        printf ("checker: node logs, faults.log, iptables.log, history.tsv and polls.tsv kept in "
                "%s\n",
                g_dir);
    for (int i = 0; i < NODES; i++) {
        s_free_positions (pos[i]);
        free (g_logs[i].keys);
        free (g_seg[i].e);
    }
    for (int c = 0; c < g_opt.clients; c++)
        free (g_clients[c].ops);
    free (g_eobs);
    free (g_rolled);
    free (g_env);
    alarm (0);
    return s_finish (pass, appends, ok, refused, timed_out, indet, entries);
}

//  --------------------------------------------------------------------------

static void s_usage (void)
{
    printf ("usage: checker [--seconds N] [--seed S] [--clients N] [--heartbeat-ms MS]\n"
            "               [--timeout-ms MS] [--converge-s N] [--build-dir DIR] [--keep]\n"
            "               [--data-dirs | --in-memory | --elected] [--election-ms MS]\n"
            "               [--fsync always|batch|never|random]\n"
            "Fault-injection run against a master + 2 secondaries; see docs/CHECKER.md.\n"
            "--data-dirs (default): every node on its own --data-dir, master kill -9 and\n"
            "restart faults; --in-memory: no data dirs, the master is only paused;\n"
            "--elected: three elected nodes (rlogd node) on data dirs; the master is killed,\n"
            "paused and cut off (iptables, as root), failovers follow.\n"
            "--election-ms: elected nodes' --election-min-ms (max twice that; default 500).\n"
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
        else if (strcmp (a, "--data-dirs") == 0) {
            g_opt.data_dirs = true;
            g_opt.elected = false;
        } else if (strcmp (a, "--in-memory") == 0) {
            g_opt.data_dirs = false;
            g_opt.elected = false;
        } else if (strcmp (a, "--elected") == 0) {
            g_opt.data_dirs = true;
            g_opt.elected = true;
        } else if (strcmp (a, "-h") == 0 || strcmp (a, "--help") == 0) {
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
            else if (strcmp (a, "--election-ms") == 0)
                g_opt.election_ms = atoi (v);
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
        g_opt.converge_s < 1 || g_opt.election_ms < 200 || g_opt.election_ms > 10000) {
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
    if (g_opt.elected)
        snprintf (mode, sizeof mode, "elected/fsync-%s", g_fsync_names[g_fsync]);
    else if (g_opt.data_dirs)
        snprintf (mode, sizeof mode, "data-dirs/fsync-%s", g_fsync_names[g_fsync]);
    char failovers[32] = "";
    if (g_opt.elected)
        snprintf (failovers, sizeof failovers, " failovers=%d", g_failovers < 0 ? 0 : g_failovers);
    if (pass) {
        printf ("checker: PASS appends=%ld ok=%ld refused=%ld timed_out=%ld indeterminate=%ld "
                "faults=%d%s entries_checked=%zu mode=%s seed=%" PRIu64 "\n",
                appends, ok, refused, timed_out, indet, g_faults, failovers, entries, mode,
                g_opt.seed);
        printf ("1 passed, 0 failed\n");
    } else {
        printf ("checker: FAIL %s (violations=%ld) appends=%ld ok=%ld refused=%ld timed_out=%ld "
                "indeterminate=%ld faults=%d%s entries_checked=%zu mode=%s seed=%" PRIu64
                " logs=%s\n",
                g_viol.first, g_viol.total, appends, ok, refused, timed_out, indet, g_faults,
                failovers, entries, mode, g_opt.seed, g_dir);
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
    if (g_opt.elected)
        return s_main_elected ();
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
