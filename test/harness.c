/*  harness.c - process control for the integration tests.
 */
#include "harness.h"
#include <czmq.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#ifndef RLOG_BUILD_DIR
#error "RLOG_BUILD_DIR must name the build directory"
#endif

int h_dead_port (int *fd_out)
{
    //  Bound without SO_REUSEADDR and never listening: a connect is refused,
    //  and no other socket can bind the port while FD holds it.
    *fd_out = -1;
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr;
    memset (&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind (fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        getsockname (fd, (struct sockaddr *)&addr, &len) != 0) {
        close (fd);
        return -1;
    }
    *fd_out = fd;
    return ntohs (addr.sin_port);
}

//  Endpoint for a socket that binds PORT, or any free port if PORT is 0:
//  czmq's "*[FIRST-LAST]" binds the first free port from FIRST up (bind
//  itself decides, so two nodes never get the same one). FIRST is drawn
//  at random on each call, and the range lies below the kernel's range for
//  outgoing connections, so the port a node leaves when a test stops it is
//  very unlikely to be taken, by another node or a connection, before the
//  node is restarted on it.
static void s_bind_endpoint (char *buf, size_t size, int port)
{
    if (port > 0) {
        snprintf (buf, size, "tcp://127.0.0.1:%d", port);
        return;
    }
    int first = 10000, last = 32767;
    FILE *f = fopen ("/proc/sys/net/ipv4/ip_local_port_range", "r");
    int low = 0;
    if (f) {
        if (fscanf (f, "%d", &low) == 1 && low - 1 - first >= 4000)
            last = low - 1;
        fclose (f);
    }
    static uint64_t calls;
    uint64_t x = (uint64_t)zclock_usecs () ^ ((uint64_t)getpid () << 32) ^ (++calls << 48);
    x ^= x >> 30; //  splitmix64 finalizer
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    int start = first + (int)(x % (uint64_t)(last - first - 1000));
    snprintf (buf, size, "tcp://127.0.0.1:*[%d-%d]", start, last);
}

void h_cluster_init (h_cluster_t *cluster, uint32_t replicas, int heartbeat_ms)
{
    memset (cluster, 0, sizeof *cluster);
    snprintf (cluster->dir, sizeof cluster->dir, "/tmp/rlog-test-XXXXXX");
    if (!mkdtemp (cluster->dir))
        snprintf (cluster->dir, sizeof cluster->dir, "/tmp");
    cluster->replicas = replicas;
    cluster->heartbeat_ms = heartbeat_ms;
    snprintf (cluster->master.id, sizeof cluster->master.id, "master");
    char dir[sizeof cluster->dir]; //  a copy: gcc sees an overlap within the struct
    memcpy (dir, cluster->dir, sizeof dir);
    snprintf (cluster->master.ready_path, sizeof cluster->master.ready_path, "%s/master.ready",
              dir);
    snprintf (cluster->master.log_path, sizeof cluster->master.log_path, "%s/master.log", dir);
    for (int i = 0; i < H_MAX_NODES; i++) {
        h_node_t *node = &cluster->secondaries[i];
        snprintf (node->id, sizeof node->id, "s%d", i + 1);
        //  By position, not id: a test may give two nodes the same id.
        snprintf (node->ready_path, sizeof node->ready_path, "%s/secondary-%d.ready", dir, i);
        snprintf (node->log_path, sizeof node->log_path, "%s/s%d.log", dir, i + 1);
    }
    for (int i = 0; i < 3 * H_MAX_NODES; i++)
        cluster->reserved[i] = -1;
}

static pid_t s_spawn (h_node_t *node, char **argv)
{
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0) {
        //  Die with the test worker, whatever way it ends.
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (127);
        FILE *log = fopen (node->log_path, "a");
        if (log) {
            dup2 (fileno (log), STDERR_FILENO);
            dup2 (fileno (log), STDOUT_FILENO);
        }
        execv (argv[0], argv);
        _exit (127);
    }
    return pid;
}

//  Split EXTRA on spaces into ARGV starting at index N; returns the new N.
static int s_split (char *extra, char **argv, int n, int max)
{
    for (char *tok = strtok (extra, " "); tok && n < max - 1; tok = strtok (NULL, " "))
        argv[n++] = tok;
    return n;
}

//  Wait for NODE's ready file and take its ports from it. False if the node
//  exits first (left unreaped for the caller) or never writes it.
static bool s_wait_ready (h_cluster_t *cluster, h_node_t *node, bool master)
{
    const int timeout_ms = 30000; //  a loaded machine, sanitizers
    int64_t deadline = zclock_mono () + timeout_ms;
    while (node->pid > 0 && zclock_mono () < deadline) {
        FILE *f = fopen (node->ready_path, "r");
        if (f) {
            //  Renamed into place whole by rlogd: never seen half written.
            char line[128] = "";
            if (!fgets (line, sizeof line, f))
                line[0] = 0;
            fclose (f);
            int client = 0, pub = 0, peer = 0;
            int n = sscanf (line, "client=%d pub=%d peer=%d", &client, &pub, &peer);
            if (client > 0 && (!master || (n == 3 && pub > 0 && peer > 0))) {
                node->client_port = client;
                if (master) {
                    cluster->pub_port = pub;
                    cluster->peer_port = peer;
                }
                return true;
            }
            fprintf (stderr, "harness: %s: unexpected ready file %s: '%s'\n", node->id,
                     node->ready_path, line);
            return false;
        }
        siginfo_t info;
        memset (&info, 0, sizeof info);
        if (waitid (P_PID, (id_t)node->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            info.si_pid == node->pid)
            return false;
        zclock_sleep (5); //  polling interval of a condition, not a guess
    }
    if (node->pid > 0)
        fprintf (stderr, "harness: %s reported no ports within %d ms (see %s)\n", node->id,
                 timeout_ms, node->log_path);
    return false;
}

//  ARGV[0..N) plus NODE's extra flags: start it and wait for its ports.
static bool s_launch (h_cluster_t *cluster, h_node_t *node, char **argv, int n, bool master)
{
    char extra_copy[512];
    snprintf (extra_copy, sizeof extra_copy, "%s", node->extra);
    n = s_split (extra_copy, argv, n, 64);
    argv[n] = NULL;
    unlink (node->ready_path);
    node->pid = s_spawn (node, argv);
    return s_wait_ready (cluster, node, master);
}

static bool s_start (h_cluster_t *cluster, h_node_t *node, bool master, const char *extra)
{
    char client[64], pub[64], peer[64], hb[16], replicas[16];
    if (!master && (cluster->pub_port <= 0 || cluster->peer_port <= 0)) {
        fprintf (stderr, "harness: start the master before secondary %s\n", node->id);
        return false;
    }
    s_bind_endpoint (client, sizeof client, node->client_port);
    snprintf (hb, sizeof hb, "%d", cluster->heartbeat_ms);
    snprintf (node->extra, sizeof node->extra, "%s", extra ? extra : "");
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)RLOG_BUILD_DIR "/rlogd";
    if (master) {
        s_bind_endpoint (pub, sizeof pub, cluster->pub_port);
        s_bind_endpoint (peer, sizeof peer, cluster->peer_port);
        snprintf (replicas, sizeof replicas, "%u", cluster->replicas);
        argv[n++] = (char *)"master";
        argv[n++] = (char *)"--replicas";
        argv[n++] = replicas;
        argv[n++] = (char *)"--pub";
        argv[n++] = pub;
        argv[n++] = (char *)"--peer";
        argv[n++] = peer;
    } else {
        snprintf (pub, sizeof pub, "tcp://127.0.0.1:%d", cluster->pub_port);
        snprintf (peer, sizeof peer, "tcp://127.0.0.1:%d", cluster->peer_port);
        argv[n++] = (char *)"secondary";
        argv[n++] = (char *)"--id";
        argv[n++] = node->id;
        argv[n++] = (char *)"--master-pub";
        argv[n++] = pub;
        argv[n++] = (char *)"--master-peer";
        argv[n++] = peer;
    }
    argv[n++] = (char *)"--client";
    argv[n++] = client;
    argv[n++] = (char *)"--heartbeat-ms";
    argv[n++] = hb;
    argv[n++] = (char *)"--ready-file";
    argv[n++] = node->ready_path;
    return s_launch (cluster, node, argv, n, master);
}

bool h_start_master (h_cluster_t *cluster, const char *extra)
{
    return s_start (cluster, &cluster->master, true, extra);
}

bool h_start_secondary (h_cluster_t *cluster, int i, const char *extra)
{
    return s_start (cluster, &cluster->secondaries[i], false, extra);
}

//  Hold PORT on every interface for good (see h_elected_init): -1 if taken.
static int s_hold_port (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr;
    memset (&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons ((uint16_t)port);
    int one = 1;
    if (fd >= 0 && bind (fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0)
        return fd;
    if (fd >= 0)
        close (fd);
    return -1;
}

//  Three consecutive ports from BASE held into FDS, or none (false).
static bool s_hold_three (int base, int *fds)
{
    for (int k = 0; k < 3; k++)
        if ((fds[k] = s_hold_port (base + k)) < 0) {
            while (k-- > 0)
                close (fds[k]);
            return false;
        }
    return true;
}

void h_elected_init (h_cluster_t *cluster, int count, int heartbeat_ms)
{
    h_cluster_init (cluster, 0, heartbeat_ms);
    cluster->node_count = count;
    //  Below the kernel's range for outgoing connections, from a random start.
    char endpoint[64];
    s_bind_endpoint (endpoint, sizeof endpoint, 0);
    int start = 0, last = 0;
    sscanf (strchr (endpoint, '[') + 1, "%d-%d", &start, &last);
    size_t at = 0;
    for (int i = 0, base = start; i < count && base + 3 <= last; base += 3) {
        if (!s_hold_three (base, cluster->reserved + 3 * i))
            continue;
        h_node_t *node = &cluster->secondaries[i];
        snprintf (node->id, sizeof node->id, "n%d", i + 1);
        node->client_port = base;
        at += (size_t)snprintf (cluster->peers + at, sizeof cluster->peers - at,
                                "%sn%d=127.0.0.1:%d", i ? "," : "", i + 1, base);
        i++;
    }
}

bool h_start_node (h_cluster_t *cluster, int i, const char *extra)
{
    h_node_t *node = &cluster->secondaries[i];
    char hb[16], data[200];
    snprintf (hb, sizeof hb, "%d", cluster->heartbeat_ms);
    snprintf (data, sizeof data, "%s/%s", cluster->dir, node->id);
    snprintf (node->extra, sizeof node->extra, "%s", extra ? extra : "");
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)RLOG_BUILD_DIR "/rlogd";
    argv[n++] = (char *)"node";
    argv[n++] = (char *)"--id";
    argv[n++] = node->id;
    argv[n++] = (char *)"--peers";
    argv[n++] = cluster->peers;
    argv[n++] = (char *)"--data-dir";
    argv[n++] = data;
    argv[n++] = (char *)"--heartbeat-ms";
    argv[n++] = hb;
    argv[n++] = (char *)"--ready-file";
    argv[n++] = node->ready_path;
    h_cluster_t scratch = *cluster; //  its pub/peer ports are not the cluster's
    return s_launch (&scratch, node, argv, n, true);
}

static bool s_pred_master (const rlog_status_t *status, void *arg)
{
    (void)arg;
    return streq (status->role, "master") && streq (status->mode, "read-write");
}

int h_find_master (h_cluster_t *cluster, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    do {
        for (int i = 0; i < cluster->node_count; i++)
            if (cluster->secondaries[i].pid > 0 &&
                h_wait_status (&cluster->secondaries[i], s_pred_master, NULL, 0))
                return i;
        zclock_sleep (20); //  polling interval of a condition
    } while (zclock_mono () < deadline);
    return -1;
}

const char *h_endpoints (const h_cluster_t *cluster, char *buf, size_t size)
{
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < cluster->node_count && at < size; i++)
        at += (size_t)snprintf (buf + at, size - at, "%stcp://127.0.0.1:%d", i ? "," : "",
                                cluster->secondaries[i].client_port);
    return buf;
}

void h_stop (h_node_t *node, int sig)
{
    if (node->pid <= 0)
        return;
    kill (node->pid, sig);
    if (sig == SIGSTOP)
        return;
    for (int i = 0; i < 500; i++) {
        int status;
        if (waitpid (node->pid, &status, WNOHANG) == node->pid) {
            node->pid = 0;
            return;
        }
        zclock_sleep (10);
    }
    kill (node->pid, SIGKILL);
    waitpid (node->pid, NULL, 0);
    node->pid = 0;
}

void h_cluster_destroy (h_cluster_t *cluster)
{
    for (int i = 0; i < H_MAX_NODES; i++)
        if (cluster->secondaries[i].pid > 0) {
            kill (cluster->secondaries[i].pid, SIGCONT);
            h_stop (&cluster->secondaries[i], SIGKILL);
        }
    if (cluster->master.pid > 0) {
        kill (cluster->master.pid, SIGCONT);
        h_stop (&cluster->master, SIGKILL);
    }
    for (int i = 0; i < 3 * H_MAX_NODES; i++)
        if (cluster->reserved[i] >= 0) {
            close (cluster->reserved[i]);
            cluster->reserved[i] = -1;
        }
    if (!getenv ("H_KEEP") && strncmp (cluster->dir, "/tmp/rlog-test-", 15) == 0) {
        char cmd[300];
        snprintf (cmd, sizeof cmd, "rm -rf '%s'", cluster->dir);
        if (system (cmd) != 0)
            fprintf (stderr, "could not remove %s\n", cluster->dir);
    }
}

const char *h_endpoint (const h_node_t *node, char *buf, size_t size)
{
    snprintf (buf, size, "tcp://127.0.0.1:%d", node->client_port);
    return buf;
}

rlog_client_t *h_client (const h_node_t *node)
{
    char ep[64];
    rlog_client_t *client = rlog_client_new (h_endpoint (node, ep, sizeof ep));
    if (client)
        rlog_client_set_retry (client, 500, 4);
    return client;
}

bool h_wait_status (const h_node_t *node, h_status_pred *pred, void *arg, int timeout_ms)
{
    rlog_client_t *client = h_client (node);
    if (!client)
        return false;
    rlog_client_set_retry (client, 200, 1);
    int64_t deadline = zclock_mono () + timeout_ms;
    bool ok = false;
    while (!ok) { //  one try at least, whatever the timeout
        rlog_status_t status;
        ok = rlog_client_status (client, &status) == RLOG_OK && pred (&status, arg);
        if (ok || zclock_mono () >= deadline)
            break;
        zclock_sleep (20); //  polling interval of a condition, not a guess
    }
    rlog_client_destroy (&client);
    return ok;
}

bool h_pred_healthy (const rlog_status_t *status, void *arg)
{
    return status->healthy >= (uint32_t) * (int *)arg && streq (status->mode, "read-write");
}

bool h_pred_head (const rlog_status_t *status, void *arg)
{
    return status->head >= *(uint64_t *)arg;
}

bool h_pred_joined (const rlog_status_t *status, void *arg)
{
    (void)arg;
    return streq (status->mode, "following") || streq (status->mode, "catching-up");
}

static int s_collect (uint64_t seq, const void *data, size_t size, void *arg)
{
    h_list_t *list = (h_list_t *)arg;
    if (seq <= list->last_seq)
        return -1;
    list->last_seq = seq;
    char **items = (char **)realloc (list->items, (list->count + 1) * sizeof (char *));
    if (!items)
        return -1;
    list->items = items;
    char *copy = (char *)malloc (size + 1);
    if (!copy)
        return -1;
    memcpy (copy, data, size);
    copy[size] = 0;
    list->items[list->count++] = copy;
    return 0;
}

int h_list (const h_node_t *node, h_list_t *list)
{
    memset (list, 0, sizeof *list);
    rlog_client_t *client = h_client (node);
    if (!client)
        return -1;
    int rc = rlog_client_list (client, 1, 0, s_collect, list);
    rlog_client_destroy (&client);
    return rc;
}

void h_list_free (h_list_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        free (list->items[i]);
    free (list->items);
    memset (list, 0, sizeof *list);
}

int h_logcli (char *out, size_t out_size, const char *format, ...)
{
    char args[1024], cmd[1400];
    va_list ap;
    va_start (ap, format);
    vsnprintf (args, sizeof args, format, ap);
    va_end (ap);
    snprintf (cmd, sizeof cmd, "%s/logcli %s 2>&1", RLOG_BUILD_DIR, args);
    FILE *p = popen (cmd, "r");
    if (!p)
        return -1;
    size_t got = fread (out, 1, out_size - 1, p);
    out[got] = 0;
    int status = pclose (p);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}
