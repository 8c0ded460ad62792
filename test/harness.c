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

int h_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr;
    memset (&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int port = -1;
    if (bind (fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname (fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs (addr.sin_port);
    close (fd);
    return port;
}

void h_cluster_init (h_cluster_t *cluster, uint32_t replicas, int heartbeat_ms)
{
    memset (cluster, 0, sizeof *cluster);
    snprintf (cluster->dir, sizeof cluster->dir, "/tmp/rlog-test-XXXXXX");
    if (!mkdtemp (cluster->dir))
        snprintf (cluster->dir, sizeof cluster->dir, "/tmp");
    cluster->replicas = replicas;
    cluster->heartbeat_ms = heartbeat_ms;
    cluster->pub_port = h_free_port ();
    cluster->peer_port = h_free_port ();
    cluster->master.client_port = h_free_port ();
    snprintf (cluster->master.id, sizeof cluster->master.id, "master");
    for (int i = 0; i < H_MAX_NODES; i++) {
        cluster->secondaries[i].client_port = h_free_port ();
        snprintf (cluster->secondaries[i].id, sizeof cluster->secondaries[i].id, "s%d", i + 1);
    }
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

static void s_start (h_cluster_t *cluster, h_node_t *node, bool master, const char *extra)
{
    char client[64], pub[64], peer[64], hb[16], replicas[16];
    snprintf (client, sizeof client, "tcp://127.0.0.1:%d", node->client_port);
    snprintf (hb, sizeof hb, "%d", cluster->heartbeat_ms);
    snprintf (node->log_path, sizeof node->log_path, "%s/%s.log", cluster->dir, node->id);
    snprintf (node->extra, sizeof node->extra, "%s", extra ? extra : "");
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)RLOG_BUILD_DIR "/rlogd";
    if (master) {
        snprintf (pub, sizeof pub, "tcp://127.0.0.1:%d", cluster->pub_port);
        snprintf (peer, sizeof peer, "tcp://127.0.0.1:%d", cluster->peer_port);
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
    char extra_copy[512];
    snprintf (extra_copy, sizeof extra_copy, "%s", node->extra);
    n = s_split (extra_copy, argv, n, 64);
    argv[n] = NULL;
    node->pid = s_spawn (node, argv);
}

void h_start_master (h_cluster_t *cluster, const char *extra)
{
    s_start (cluster, &cluster->master, true, extra);
}

void h_start_secondary (h_cluster_t *cluster, int i, const char *extra)
{
    s_start (cluster, &cluster->secondaries[i], false, extra);
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
    while (!ok && zclock_mono () < deadline) {
        rlog_status_t status;
        if (rlog_client_status (client, &status) == RLOG_OK && pred (&status, arg))
            ok = true;
        else
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

static int s_collect (uint64_t seq, const void *data, size_t size, void *arg)
{
    h_list_t *list = (h_list_t *)arg;
    if (seq != list->count + 1)
        return -1;
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
