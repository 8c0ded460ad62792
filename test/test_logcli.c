/*  test_logcli.c - logcli end to end against live clusters: bulk append
    from stdin, list --follow, --json round trips, exit codes for each kind
    of failure, the progress bar and status table on a real terminal (tmux),
    and the man pages against --help.
*/
#include "harness.h"
#include <criterion/criterion.h>
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define LOGCLI RLOG_BUILD_DIR "/logcli"

static h_cluster_t s_cluster;
static char s_tmux_socket[256]; //  set while a tmux server runs
static pid_t s_children[4];     //  logcli processes started in the background
static size_t s_child_count;
static pid_t s_group; //  a process group to kill at the end (tools/cluster's)

static void s_teardown (void)
{
    for (size_t i = 0; i < s_child_count; i++)
        if (s_children[i] > 0)
            kill (s_children[i], SIGKILL);
    if (s_group > 0)
        kill (-s_group, SIGKILL);
    if (s_tmux_socket[0]) {
        char cmd[400];
        snprintf (cmd, sizeof cmd, "tmux -S '%s' kill-server 2>/dev/null", s_tmux_socket);
        if (system (cmd) != 0)
            fprintf (stderr, "tmux server at %s was already gone\n", s_tmux_socket);
    }
    h_cluster_destroy (&s_cluster);
}

TestSuite (logcli, .fini = s_teardown, .timeout = 60.0);

//  --------------------------------------------------------------------------
//  Helpers

static void s_wait_healthy (int nodes)
{
    cr_assert (h_wait_status (&s_cluster.master, h_pred_healthy, &nodes, 10000),
               "master never saw %d healthy nodes", nodes);
}

static void s_wait_head (const h_node_t *node, uint64_t head)
{
    cr_assert (h_wait_status (node, h_pred_head, &head, 20000), "%s never reached head %llu",
               node->id, (unsigned long long)head);
}

static void s_append_bytes (rlog_client_t *client, const void *data, size_t size, int w)
{
    rlog_append_result_t result;
    int rc = rlog_client_append (client, data, size, w, 5000, &result);
    cr_assert_eq (rc, RLOG_OK, "append of %zu bytes: %s", size, rlog_client_error (client));
}

static void s_append (rlog_client_t *client, const char *text, int w)
{
    s_append_bytes (client, text, strlen (text), w);
}

//  Run a shell command line; capture its stdout (and whatever it redirects
//  there) into OUT. Returns the exit status, or -1.
static int s_sh (char *out, size_t out_size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static int s_sh (char *out, size_t out_size, const char *format, ...)
{
    char cmd[2048];
    va_list ap;
    va_start (ap, format);
    vsnprintf (cmd, sizeof cmd, format, ap);
    va_end (ap);
    FILE *p = popen (cmd, "r");
    if (!p)
        return -1;
    size_t got = 0, n;
    char sink[4096];
    //  Read to the end even past OUT, so the command never blocks on a pipe.
    while ((n = fread (got < out_size - 1 ? out + got : sink, 1,
                       got < out_size - 1 ? out_size - 1 - got : sizeof sink, p)) > 0)
        got += got < out_size - 1 ? n : 0;
    out[got] = 0;
    int status = pclose (p);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

//  A command running in the background with its stdout+stderr on a pipe
//  we read with deadlines.
typedef struct {
    FILE *pipe;
    int fd;
    pid_t pid;
    char out[1 << 16];
    size_t len;
    bool eof;
} proc_t;

//  Read what is there, waiting up to WAIT_MS for something.
static void s_proc_read (proc_t *proc, int wait_ms)
{
    struct pollfd pfd = {proc->fd, POLLIN, 0};
    if (proc->eof || poll (&pfd, 1, wait_ms) <= 0)
        return;
    ssize_t n = read (proc->fd, proc->out + proc->len, sizeof proc->out - 1 - proc->len);
    if (n <= 0)
        proc->eof = true;
    else
        proc->len += (size_t)n;
    proc->out[proc->len] = 0;
}

//  Start COMMAND (a shell line) through "echo $$; exec ...", so the first
//  line we read is the pid the command itself runs as.
static void s_proc_start (proc_t *proc, const char *command)
{
    memset (proc, 0, sizeof *proc);
    char line[2048];
    snprintf (line, sizeof line, "echo $$; exec %s 2>&1", command);
    proc->pipe = popen (line, "r");
    cr_assert_not_null (proc->pipe);
    proc->fd = fileno (proc->pipe);
    int64_t deadline = zclock_mono () + 5000;
    while (!strchr (proc->out, '\n') && !proc->eof && zclock_mono () < deadline)
        s_proc_read (proc, 100);
    char *nl = strchr (proc->out, '\n');
    cr_assert_not_null (nl, "no pid from: %s", command);
    proc->pid = (pid_t)atoi (proc->out);
    cr_assert_gt (proc->pid, 0);
    s_children[s_child_count++] = proc->pid;
    //  Keep only what the command itself prints.
    size_t skip = (size_t)(nl - proc->out) + 1;
    memmove (proc->out, proc->out + skip, proc->len - skip + 1);
    proc->len -= skip;
}

static bool s_proc_wait_for (proc_t *proc, const char *needle, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (!strstr (proc->out, needle) && !proc->eof && zclock_mono () < deadline)
        s_proc_read (proc, 50);
    return strstr (proc->out, needle) != NULL;
}

//  Wait for the command to end; its exit status, or -1 if it had to be
//  killed after TIMEOUT_MS.
static int s_proc_wait_exit (proc_t *proc, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (!proc->eof && zclock_mono () < deadline)
        s_proc_read (proc, 50);
    if (!proc->eof)
        kill (proc->pid, SIGKILL);
    int status = pclose (proc->pipe);
    for (size_t i = 0; i < s_child_count; i++)
        if (s_children[i] == proc->pid)
            s_children[i] = 0;
    if (!proc->eof)
        return -1;
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

//  --------------------------------------------------------------------------
//  Man pages against --help

#define MAX_FLAGS 64

typedef struct {
    char names[MAX_FLAGS][32];
    size_t count;
} flags_t;

static bool s_has_flag (const flags_t *flags, const char *name)
{
    for (size_t i = 0; i < flags->count; i++)
        if (streq (flags->names[i], name))
            return true;
    return false;
}

//  Every "--name" token of TEXT.
static void s_collect_flags (const char *text, flags_t *flags)
{
    memset (flags, 0, sizeof *flags);
    for (const char *p = text; (p = strstr (p, "--")) != NULL;) {
        const char *start = p;
        p += 2;
        if (!islower ((unsigned char)*p) || (start > text && isalnum ((unsigned char)start[-1])))
            continue;
        size_t len = 0;
        while (islower ((unsigned char)p[len]) || isdigit ((unsigned char)p[len]) || p[len] == '-')
            len++;
        while (len > 0 && p[len - 1] == '-')
            len--;
        char name[32];
        snprintf (name, sizeof name, "--%.*s", (int)len, p);
        if (!s_has_flag (flags, name) && flags->count < MAX_FLAGS)
            snprintf (flags->names[flags->count++], sizeof flags->names[0], "%s", name);
        p += len;
    }
}

//  The man page as a reader sees the flags: "\-" is a dash, font escapes
//  (\fB ... \fR) vanish, comment lines are not text. Example blocks
//  (.EX ... .EE) are left out: they show other programs' command lines too
//  (rlogd(8) shows logcli with its keys), and every flag they use must be
//  described in the text anyway.
static char *s_man_text (const char *path)
{
    FILE *f = fopen (path, "r");
    cr_assert_not_null (f, "cannot open %s", path);
    char *text = (char *)calloc (1, 1 << 20);
    size_t len = 0;
    char line[4096];
    bool example = false;
    while (fgets (line, sizeof line, f)) {
        if (strncmp (line, ".EX", 3) == 0)
            example = true;
        if (strncmp (line, ".EE", 3) == 0)
            example = false;
        if (example || strncmp (line, ".\\\"", 3) == 0)
            continue;
        for (char *p = line; *p && len < (1 << 20) - 1; p++) {
            if (p[0] == '\\' && p[1] == '-') {
                text[len++] = '-';
                p++;
            } else if (p[0] == '\\' && p[1] == 'f' && p[2]) {
                p += 2;
            } else
                text[len++] = *p;
        }
    }
    fclose (f);
    return text;
}

static void s_check_man (const char *help_command, const char *man_path)
{
    char help[16384];
    cr_assert_eq (s_sh (help, sizeof help, "%s", help_command), 0, "%s failed", help_command);
    char *man = s_man_text (man_path);
    flags_t in_help, in_man;
    s_collect_flags (help, &in_help);
    s_collect_flags (man, &in_man);
    cr_assert_gt (in_help.count, 3, "too few flags in: %s", help);
    char missing[2048] = "";
    for (size_t i = 0; i < in_help.count; i++)
        if (!s_has_flag (&in_man, in_help.names[i]))
            snprintf (missing + strlen (missing), sizeof missing - strlen (missing), " %s",
                      in_help.names[i]);
    cr_expect_str_empty (missing, "in `%s` but not in %s:%s", help_command, man_path, missing);
    missing[0] = 0;
    for (size_t i = 0; i < in_man.count; i++)
        if (!s_has_flag (&in_help, in_man.names[i]))
            snprintf (missing + strlen (missing), sizeof missing - strlen (missing), " %s",
                      in_man.names[i]);
    cr_expect_str_empty (missing, "in %s but not in `%s`:%s", man_path, help_command, missing);
    free (man);
}

Test (logcli, man_page_matches_help)
{
    s_check_man (LOGCLI " --help", RLOG_BUILD_DIR "/../man/logcli.1");
}

Test (logcli, rlogd_man_page_matches_help)
{
    s_check_man (RLOG_BUILD_DIR "/rlogd --help", RLOG_BUILD_DIR "/../man/rlogd.8");
}

//  README's rlogd synopsis (the first block under "## rlogd") lists, per
//  role (master, secondary, node), exactly the flags `rlogd ROLE --help` does.
Test (logcli, rlogd_readme_synopsis_matches_help)
{
    FILE *f = fopen (RLOG_BUILD_DIR "/../README.md", "r");
    cr_assert_not_null (f);
    char *readme = (char *)calloc (1, 1 << 20);
    size_t len = fread (readme, 1, (1 << 20) - 1, f);
    fclose (f);
    readme[len] = 0;
    char *section = strstr (readme, "\n## rlogd\n");
    cr_assert_not_null (section, "no '## rlogd' section in README.md");
    char *block = strstr (section, "\n```\n");
    cr_assert_not_null (block);
    block += 5;
    char *end = strstr (block, "\n```");
    cr_assert_not_null (end);
    *end = 0;
    //  The block holds the three roles' synopses in this order.
    const char *roles[] = {"master", "secondary", "node"};
    const char *starts[4] = {block, NULL, NULL, block + strlen (block)};
    for (int r = 1; r < 3; r++) {
        char head[32];
        snprintf (head, sizeof head, "rlogd %s ", roles[r]);
        starts[r] = strstr (starts[r - 1], head);
        cr_assert_not_null (starts[r], "no %s synopsis after the %s one: %s", roles[r],
                            roles[r - 1], block);
    }
    for (int r = 0; r < 3; r++) {
        char synopsis[8192], help[16384], cmd[512], missing[2048] = "";
        snprintf (synopsis, sizeof synopsis, "%.*s", (int)(starts[r + 1] - starts[r]), starts[r]);
        snprintf (cmd, sizeof cmd, "%s/rlogd %s --help", RLOG_BUILD_DIR, roles[r]);
        cr_assert_eq (s_sh (help, sizeof help, "%s", cmd), 0);
        //  The flag list, not the usage lines above it (both roles').
        const char *options = strstr (help, " options:\n");
        cr_assert_not_null (options, "%s", help);
        flags_t in_help, in_readme;
        s_collect_flags (options, &in_help);
        s_collect_flags (synopsis, &in_readme);
        for (size_t i = 0; i < in_help.count; i++)
            if (!streq (in_help.names[i], "--help") && !s_has_flag (&in_readme, in_help.names[i]))
                snprintf (missing + strlen (missing), sizeof missing - strlen (missing), " %s",
                          in_help.names[i]);
        cr_expect_str_empty (missing, "README's rlogd %s synopsis lacks:%s", roles[r], missing);
        missing[0] = 0;
        for (size_t i = 0; i < in_readme.count; i++)
            if (!s_has_flag (&in_help, in_readme.names[i]))
                snprintf (missing + strlen (missing), sizeof missing - strlen (missing), " %s",
                          in_readme.names[i]);
        cr_expect_str_empty (missing, "README's rlogd %s synopsis has flags %s --help lacks:%s",
                             roles[r], roles[r], missing);
    }
    free (readme);
}

//  An endpoint without tcp:// gets a hint, not libzmq's "Invalid argument".
Test (logcli, rlogd_endpoint_errors_give_a_hint)
{
    struct {
        const char *args, *said;
    } cases[] = {
        {"master --client 5761", "--client: '5761' is not an endpoint; an endpoint looks like "
                                 "tcp://HOST:PORT (did you mean tcp://*:5761?)"},
        {"master --pub localhost:5556", "(did you mean tcp://localhost:5556?)"},
        {"master --peer tcp://*", "'tcp://*' has no port"},
        {"secondary --id s1 --master-peer 5557", "(did you mean tcp://127.0.0.1:5557?)"},
    };
    char out[4096];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = s_sh (out, sizeof out, "%s/rlogd %s 2>&1", RLOG_BUILD_DIR, cases[i].args);
        cr_expect_eq (rc, 2, "rlogd %s: exit %d: %s", cases[i].args, rc, out);
        cr_expect (strstr (out, cases[i].said), "rlogd %s: %s", cases[i].args, out);
    }
    //  From the environment too, named as such.
    int rc = s_sh (out, sizeof out, "RLOG_CLIENT=5761 %s/rlogd master 2>&1", RLOG_BUILD_DIR);
    cr_assert_eq (rc, 2, "%s", out);
    cr_assert (strstr (out, "RLOG_CLIENT: '5761' is not an endpoint"), "%s", out);
}

//  --segment-bytes is checked where it is parsed (--help after it exits 0
//  only if everything before it parsed), against the disk log's own limit.
Test (logcli, rlogd_segment_bytes_checked_when_parsed)
{
    char out[4096];
    const char *good[] = {"4096", "67108864", "1073741824"};
    for (size_t i = 0; i < 3; i++) {
        int rc = s_sh (out, sizeof out, "%s/rlogd master --segment-bytes %s --help 2>&1",
                       RLOG_BUILD_DIR, good[i]);
        cr_expect_eq (rc, 0, "--segment-bytes %s: exit %d: %s", good[i], rc, out);
    }
    const char *bad[] = {"4095", "1073741825", "2000000000", "1099511627776"};
    for (size_t i = 0; i < 4; i++) {
        int rc = s_sh (out, sizeof out, "%s/rlogd master --segment-bytes %s --help 2>&1",
                       RLOG_BUILD_DIR, bad[i]);
        cr_expect_eq (rc, 2, "--segment-bytes %s: exit %d: %s", bad[i], rc, out);
        cr_expect (strstr (out, "is out of range: a segment file holds 4096..1073741824 bytes"),
                   "--segment-bytes %s: %s", bad[i], out);
    }
    int rc = s_sh (out, sizeof out, "RLOG_SEGMENT_BYTES=2000000000 %s/rlogd secondary --id s1 2>&1",
                   RLOG_BUILD_DIR);
    cr_assert_eq (rc, 2, "%s", out);
    cr_assert (strstr (out, "RLOG_SEGMENT_BYTES: 2000000000 is out of range"), "%s", out);
}

//  One package list, tools/packages, read by tools/deps; .ci/run installs
//  its build and test groups through tools/deps and names no package itself.
Test (logcli, one_package_list)
{
    char out[4096];
    const char *root = RLOG_BUILD_DIR "/..";
    cr_assert_eq (s_sh (out, sizeof out, "%s/tools/deps --list --test 2>&1", root), 0, "%s", out);
    const char *ci[] = {"build-essential",    "pkg-config",       "libzmq3-dev", "libczmq-dev",
                        "libmsgpack-dev",     "libcriterion-dev", "tmux",        "clang",
                        "libclang-rt-14-dev", "valgrind",         "python3-venv"};
    for (size_t i = 0; i < sizeof ci / sizeof ci[0]; i++) {
        char line[64];
        snprintf (line, sizeof line, "%s\n", ci[i]);
        cr_expect (strstr (out, line), "CI would not install %s: %s", ci[i], out);
    }
    cr_expect (!strstr (out, "redis-server"), "CI would install redis-server: %s", out);
    cr_assert_eq (s_sh (out, sizeof out, "%s/tools/deps --list 2>&1", root), 0, "%s", out);
    cr_expect (!strstr (out, "clang") && strstr (out, "libczmq-dev\n"), "build group: %s", out);
    cr_assert_eq (s_sh (out, sizeof out, "%s/tools/deps --list --bench 2>&1", root), 0, "%s", out);
    cr_expect (strstr (out, "redis-server\n") && strstr (out, "gnuplot-nox\n"), "%s", out);
    //  A package outside the list is refused, so no caller keeps its own.
    cr_assert_eq (s_sh (out, sizeof out, "%s/tools/deps --list no-such-package 2>&1", root), 2);
    cr_expect (strstr (out, "not in tools/packages"), "%s", out);
    //  Whatever tools/test asks for by name is in the list.
    int rc = s_sh (out, sizeof out,
                   "names=$(sed -n 's/^tools\\/deps //p' %s/tools/test | tr -d '\\\\');"
                   " [ -n \"$names\" ] && %s/tools/deps --list $names 2>&1",
                   root, root);
    cr_expect_eq (rc, 0, "tools/test asks tools/deps for a package not in tools/packages: %s", out);
    //  No second list: neither .ci/run (its commands; its comment says
    //  what tools/deps does) nor tools/deps names a package.
    cr_assert_eq (
        s_sh (out, sizeof out, "grep -v '^#' %s/.ci/run | grep -c -e apt-get -e libzmq3-dev", root),
        1);
    cr_expect_str_eq (out, "0\n", ".ci/run installs packages itself");
    cr_assert_eq (s_sh (out, sizeof out, "grep -c libzmq3-dev %s/tools/deps", root), 1);
    cr_expect_str_eq (out, "0\n", "tools/deps keeps a list of its own");
    cr_assert_eq (s_sh (out, sizeof out, "grep -c '^tools/deps --test$' %s/.ci/run", root), 0);
    cr_expect_str_eq (out, "1\n", ".ci/run does not install the test group");
}

//  --------------------------------------------------------------------------
//  append -

//  Checks entries as they stream by: seq k must be "line-k".
typedef struct {
    uint64_t count;
    uint64_t bad; //  first seq that differs, 0 if none
} check_lines_t;

static int s_check_line (uint64_t seq, const void *data, size_t size, void *arg)
{
    check_lines_t *check = (check_lines_t *)arg;
    char expect[32];
    int len = snprintf (expect, sizeof expect, "line-%llu", (unsigned long long)seq);
    check->count++;
    if (!check->bad && (seq != check->count || size != (size_t)len || memcmp (data, expect, size)))
        check->bad = seq;
    return 0;
}

Test (logcli, stdin_bulk_arrives_complete_and_in_order, .timeout = 120.0)
{
    h_cluster_init (&s_cluster, 2, 50);
    //  Generous health thresholds: a loaded machine (sanitizers, parallel
    //  tests) may delay a heartbeat past 250 ms, and a read-only moment
    //  would refuse lines, which is not what this test is about.
    h_start_master (&s_cluster, "--suspect-ms 3000 --unhealthy-ms 6000");
    h_start_secondary (&s_cluster, 0, "");
    h_start_secondary (&s_cluster, 1, "");
    s_wait_healthy (3);
    char ep[64], out[4096];
    h_endpoint (&s_cluster.master, ep, sizeof ep);
    const size_t total = 100000;
    //  stderr is a pipe here: no progress bar, only the summary line.
    int rc =
        s_sh (out, sizeof out, "printf 'line-%%d\\n' $(seq 1 %zu) | %s -e %s append -w 2 - 2>&1",
              total, LOGCLI, ep);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, out);
    cr_assert_str_eq (out, "appended 100000 of 100000 (0 refused, 0 timed out)\n");
    const h_node_t *nodes[] = {&s_cluster.master, &s_cluster.secondaries[0],
                               &s_cluster.secondaries[1]};
    for (int n = 0; n < 3; n++) {
        s_wait_head (nodes[n], total);
        rlog_client_t *client = h_client (nodes[n]);
        check_lines_t check = {0, 0};
        cr_assert_eq (rlog_client_list (client, 1, 0, s_check_line, &check), RLOG_OK, "%s: %s",
                      nodes[n]->id, rlog_client_error (client));
        rlog_client_destroy (&client);
        cr_assert_eq (check.bad, 0, "%s: seq %llu is not line-%llu", nodes[n]->id,
                      (unsigned long long)check.bad, (unsigned long long)check.bad);
        cr_assert_eq (check.count, total, "%s holds %llu entries", nodes[n]->id,
                      (unsigned long long)check.count);
    }
}

Test (logcli, stdin_skips_empty_lines_and_keeps_order)
{
    h_cluster_init (&s_cluster, 1, 50);
    h_start_master (&s_cluster, "");
    h_start_secondary (&s_cluster, 0, "");
    s_wait_healthy (2);
    char ep[64], out[4096];
    h_endpoint (&s_cluster.master, ep, sizeof ep);
    //  A window of 1 is strictly one at a time; the last line has no newline.
    int rc = s_sh (out, sizeof out,
                   "printf 'a\\n\\nb c\\n\\n\\n-\\nlast' | %s -e %s append --window 1 -w 2 - 2>&1",
                   LOGCLI, ep);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, out);
    cr_assert_str_eq (out, "appended 4 of 4 (0 refused, 0 timed out, 3 empty lines skipped)\n");
    cr_assert_eq (s_sh (out, sizeof out, "%s -e %s list", LOGCLI, ep), 0);
    cr_assert_str_eq (out, "a\nb c\n-\nlast\n");
    //  Nothing on stdin at all is not an error.
    cr_assert_eq (s_sh (out, sizeof out, "%s -e %s append - </dev/null 2>&1", LOGCLI, ep), 0);
    cr_assert_str_eq (out, "appended 0 of 0 (0 refused, 0 timed out)\n");
}

//  --------------------------------------------------------------------------
//  list --follow

Test (logcli, follow_sees_entries_appended_after_it_started)
{
    h_cluster_init (&s_cluster, 1, 50);
    h_start_master (&s_cluster, "");
    h_start_secondary (&s_cluster, 0, "");
    s_wait_healthy (2);
    rlog_client_t *client = h_client (&s_cluster.master);
    s_append (client, "m1", 2);
    s_append (client, "m2", 2);
    char sep[64], cmd[512];
    h_endpoint (&s_cluster.secondaries[0], sep, sizeof sep);
    //  From a secondary: new entries show up there as they replicate.
    snprintf (cmd, sizeof cmd, "%s -e %s list --follow", LOGCLI, sep);
    proc_t follow;
    s_proc_start (&follow, cmd);
    cr_assert (s_proc_wait_for (&follow, "m1\nm2\n", 5000), "existing entries: '%s'", follow.out);
    s_append (client, "m3", 2);
    s_append (client, "m4 after", 2);
    cr_assert (s_proc_wait_for (&follow, "m1\nm2\nm3\nm4 after\n", 5000), "new entries: '%s'",
               follow.out);
    //  SIGINT is how it normally ends: exit 0, nothing else printed.
    kill (follow.pid, SIGINT);
    cr_assert_eq (s_proc_wait_exit (&follow, 5000), 0, "output: '%s'", follow.out);
    cr_assert_str_eq (follow.out, "m1\nm2\nm3\nm4 after\n");

    //  --json --from on the master, then the node goes away: exit 5.
    char ep[64];
    h_endpoint (&s_cluster.master, ep, sizeof ep);
    snprintf (cmd, sizeof cmd, "%s -e %s --retry-ms 100 --retries 2 list --follow --json --from 4",
              LOGCLI, ep);
    s_proc_start (&follow, cmd);
    cr_assert (s_proc_wait_for (&follow, "{\"seq\":4,\"message\":\"m4 after\"}\n", 5000), "'%s'",
               follow.out);
    s_append (client, "m5", 1);
    cr_assert (s_proc_wait_for (&follow, "{\"seq\":5,\"message\":\"m5\"}\n", 5000), "'%s'",
               follow.out);
    h_stop (&s_cluster.master, SIGKILL);
    cr_assert_eq (s_proc_wait_exit (&follow, 5000), 5, "output: '%s'", follow.out);
    cr_assert (strstr (follow.out, "logcli: list: no reply from"), "'%s'", follow.out);

    //  --limit ends a follow once that many entries are printed.
    snprintf (cmd, sizeof cmd, "%s -e %s list --follow --limit 3", LOGCLI, sep);
    s_proc_start (&follow, cmd);
    cr_assert_eq (s_proc_wait_exit (&follow, 5000), 0, "output: '%s'", follow.out);
    cr_assert_str_eq (follow.out, "m1\nm2\nm3\n");
    rlog_client_destroy (&client);
}

//  --------------------------------------------------------------------------
//  list --json

static int s_hex (char c)
{
    return isdigit ((unsigned char)c) ? c - '0'
           : c >= 'a' && c <= 'f'     ? c - 'a' + 10
           : c >= 'A' && c <= 'F'     ? c - 'A' + 10
                                      : -1;
}

//  Decode the JSON string starting after its opening quote at *P into OUT;
//  advances *P past the closing quote. Returns the byte count, or -1.
static int s_json_unescape (const char **p, uint8_t *out, size_t max)
{
    size_t n = 0;
    const char *s = *p;
    while (*s && *s != '"' && n + 4 <= max) {
        if (*s != '\\') {
            out[n++] = (uint8_t)*s++;
            continue;
        }
        s++;
        char c = *s++;
        if (c == 'n')
            out[n++] = '\n';
        else if (c == 't')
            out[n++] = '\t';
        else if (c == 'r')
            out[n++] = '\r';
        else if (c == 'b')
            out[n++] = '\b';
        else if (c == 'f')
            out[n++] = '\f';
        else if (c == '"' || c == '\\' || c == '/')
            out[n++] = (uint8_t)c;
        else if (c == 'u') {
            unsigned cp = 0;
            for (int i = 0; i < 4; i++) {
                int h = s_hex (*s++);
                if (h < 0)
                    return -1;
                cp = cp * 16 + (unsigned)h;
            }
            if (cp < 0x80)
                out[n++] = (uint8_t)cp;
            else if (cp < 0x800) {
                out[n++] = (uint8_t)(0xc0 | (cp >> 6));
                out[n++] = (uint8_t)(0x80 | (cp & 0x3f));
            } else {
                out[n++] = (uint8_t)(0xe0 | (cp >> 12));
                out[n++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
                out[n++] = (uint8_t)(0x80 | (cp & 0x3f));
            }
        } else
            return -1;
    }
    if (*s != '"')
        return -1;
    *p = s + 1;
    return (int)n;
}

static int s_base64_decode (const char **p, uint8_t *out, size_t max)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    const char *s = *p;
    for (; *s && *s != '"'; s++) {
        if (*s == '=')
            continue;
        const char *at = strchr (alphabet, *s);
        if (!at || n >= max)
            return -1;
        acc = (acc << 6) | (uint32_t)(at - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (*s != '"')
        return -1;
    *p = s + 1;
    return (int)n;
}

Test (logcli, json_round_trips_binary_payloads)
{
    h_cluster_init (&s_cluster, 0, 50);
    h_start_master (&s_cluster, "");
    int one = 1;
    s_wait_healthy (one);
    rlog_client_t *client = h_client (&s_cluster.master);
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    const char text[] = "quote \" backslash \\ newline \n tab \t bell \a del \x7f "
                        "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9c";
    const uint8_t nul_inside[] = {'a', 0, 'b'};
    const uint8_t bad_utf8[] = {0xff};
    const uint8_t overlong[] = {0xc0, 0x80};
    const uint8_t surrogate[] = {0xed, 0xa0, 0x80, 'x'};
    struct {
        const void *data;
        size_t size;
        const char *key; //  how logcli must print it
    } cases[] = {
        {all, sizeof all, "base64"},
        {text, sizeof text - 1, "message"},
        {nul_inside, sizeof nul_inside, "message"},
        {bad_utf8, sizeof bad_utf8, "base64"},
        {overlong, sizeof overlong, "base64"},
        {surrogate, sizeof surrogate, "base64"},
    };
    const size_t count = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < count; i++)
        s_append_bytes (client, cases[i].data, cases[i].size, 1);
    char ep[64];
    h_endpoint (&s_cluster.master, ep, sizeof ep);
    char out[16384];
    cr_assert_eq (s_sh (out, sizeof out, "%s -e %s list --json", LOGCLI, ep), 0, "%s", out);
    const char *line = out;
    for (size_t i = 0; i < count; i++) {
        unsigned long long seq = 0;
        int used = 0;
        cr_assert_eq (sscanf (line, "{\"seq\":%llu,%n", &seq, &used), 1, "line: %s", line);
        cr_assert_eq (seq, i + 1);
        const char *p = line + used;
        char key[16];
        snprintf (key, sizeof key, "\"%s\":\"", cases[i].key);
        cr_assert (strncmp (p, key, strlen (key)) == 0, "seq %llu: expected %s in %s", seq, key,
                   line);
        p += strlen (key);
        uint8_t decoded[512];
        int n = streq (cases[i].key, "base64") ? s_base64_decode (&p, decoded, sizeof decoded)
                                               : s_json_unescape (&p, decoded, sizeof decoded);
        cr_assert_eq (n, (int)cases[i].size, "seq %llu decodes to %d bytes: %s", seq, n, line);
        cr_assert (memcmp (decoded, cases[i].data, cases[i].size) == 0, "seq %llu differs", seq);
        cr_assert (strncmp (p, "}\n", 2) == 0, "seq %llu: trailing '%s'", seq, p);
        line = p + 2;
    }
    cr_assert_str_empty (line);
    rlog_client_destroy (&client);
}

//  --------------------------------------------------------------------------
//  Exit codes

Test (logcli, exit_code_2_usage)
{
    char out[4096];
    const char *cases[] = {
        "append",
        "append -w 0 x",
        "append -w",
        "append --window 0 -",
        "append --window 1001 -",
        "append --window 5 message",
        "append one two",
        "append --bogus x",
        "list --from",
        "list --limit x",
        "list --bogus",
        "status --watch extra",
        "--retries 0 status",
        "--retry-ms",
        "-e nonsense status",
        "frobnicate",
        "",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = s_sh (out, sizeof out, "%s %s </dev/null 2>&1", LOGCLI, cases[i]);
        cr_expect_eq (rc, 2, "'logcli %s' exited %d: %s", cases[i], rc, out);
        cr_expect (strstr (out, "logcli: ") && strstr (out, "(see logcli --help)"),
                   "'logcli %s': %s", cases[i], out);
    }
    cr_assert_eq (s_sh (out, sizeof out, "%s --help", LOGCLI), 0);
    cr_assert (strstr (out, "exit status: 0 ok, 1 local failure"), "%s", out);
    //  The messages say what a good value is.
    cr_assert_eq (s_sh (out, sizeof out, "%s append -w 0 x 2>&1", LOGCLI), 2);
    cr_assert (strstr (out, "at least 1"), "%s", out);
    cr_assert (!strstr (out, "non-negative"), "%s", out);
    cr_assert_eq (s_sh (out, sizeof out, "%s append -w 2>&1", LOGCLI), 2);
    cr_assert (strstr (out, "-w needs a number: the write concern, 1 for the master alone"), "%s",
               out);
}

Test (logcli, exit_code_3_refused)
{
    h_cluster_init (&s_cluster, 1, 50);
    h_start_master (&s_cluster, "");
    char ep[64], sep[64], out[4096];
    h_endpoint (&s_cluster.master, ep, sizeof ep);
    uint64_t zero = 0;
    cr_assert (h_wait_status (&s_cluster.master, h_pred_head, &zero, 5000));
    //  Read-only (1 of 2 healthy, quorum 2): single and bulk.
    cr_assert_eq (s_sh (out, sizeof out, "%s -e %s append x 2>&1", LOGCLI, ep), 3, "%s", out);
    cr_assert (strstr (out, "read-only: 1 of 2 nodes healthy, quorum needs 2"), "%s", out);
    cr_assert_eq (s_sh (out, sizeof out, "printf 'a\\nb\\n' | %s -e %s append - 2>&1", LOGCLI, ep),
                  3, "%s", out);
    cr_assert (strstr (out, "line 1: read-only"), "%s", out);
    cr_assert (strstr (out, "appended 0 of 2 (2 refused, 0 timed out)\n"), "%s", out);
    h_start_secondary (&s_cluster, 0, "");
    h_endpoint (&s_cluster.secondaries[0], sep, sizeof sep);
    s_wait_healthy (2);
    //  Write concern out of range, however far: the master refuses it.
    cr_assert_eq (s_sh (out, sizeof out, "%s -e %s append -w 3 x 2>&1", LOGCLI, ep), 3);
    cr_assert (strstr (out, "w=3 is outside 1..2"), "%s", out);
    cr_assert_eq (s_sh (out, sizeof out, "%s -e %s append -w 5000 x 2>&1", LOGCLI, ep), 3);
    cr_assert (strstr (out, "w=5000 is outside 1..2"), "%s", out);
    cr_assert_eq (
        s_sh (out, sizeof out, "printf 'a\\nb\\n' | %s -e %s append -w 3 - 2>&1", LOGCLI, ep), 3);
    cr_assert (strstr (out, "line 1: w=3 is outside 1..2"), "%s", out);
    cr_assert (strstr (out, "appended 0 of 2 (2 refused, 0 timed out)\n"), "%s", out);
    //  Empty message.
    cr_assert_eq (s_sh (out, sizeof out, "%s -e %s append '' 2>&1", LOGCLI, ep), 3, "%s", out);
    cr_assert (strstr (out, "empty"), "%s", out);
    //  Through a secondary, single and bulk: not refused, the library goes
    //  on to the master the secondary names.
    cr_assert_eq (s_sh (out, sizeof out, "%s -e %s append x 2>&1", LOGCLI, sep), 0, "%s", out);
    size_t digits = strspn (out, "0123456789");
    cr_assert (digits > 0 && streq (out + digits, "\n"), "not a seq: %s", out);
    cr_assert_eq (
        s_sh (out, sizeof out, "printf 'a\\nb\\nc\\n' | %s -e %s append - 2>&1", LOGCLI, sep), 0,
        "%s", out);
    cr_assert_str_eq (out, "appended 3 of 3 (0 refused, 0 timed out)\n");
    //  None of the refused ones was stored; those through the secondary were.
    h_list_t list;
    cr_assert_eq (h_list (&s_cluster.master, &list), RLOG_OK);
    cr_assert_eq (list.count, 4);
    h_list_free (&list);
}

Test (logcli, exit_code_4_timed_out)
{
    h_cluster_init (&s_cluster, 1, 50);
    h_start_master (&s_cluster, "--quorum 1");
    h_start_secondary (&s_cluster, 0, "");
    s_wait_healthy (2);
    h_stop (&s_cluster.secondaries[0], SIGKILL);
    char ep[64], out[4096];
    h_endpoint (&s_cluster.master, ep, sizeof ep);
    cr_assert_eq (s_sh (out, sizeof out, "%s -e %s append -w 2 -t 100 x 2>&1", LOGCLI, ep), 4, "%s",
                  out);
    cr_assert (strstr (out, "timed out: stored on 1 of 2 nodes"), "%s", out);
    cr_assert_eq (s_sh (out, sizeof out, "printf 'a\\nb\\n' | %s -e %s append -w 2 -t 100 - 2>&1",
                        LOGCLI, ep),
                  4, "%s", out);
    cr_assert (strstr (out, "line 1: timed out: stored on 1 of 2 nodes (seq 2)"), "%s", out);
    cr_assert (strstr (out, "appended 0 of 2 (0 refused, 2 timed out)\n"), "%s", out);
    //  Timed out is not rolled back: all three are in the log.
    cr_assert_eq (s_sh (out, sizeof out, "%s -e %s list", LOGCLI, ep), 0);
    cr_assert_str_eq (out, "x\na\nb\n");
}

Test (logcli, exit_code_5_unreachable)
{
    int dead_fd;
    int port = h_dead_port (&dead_fd);
    cr_assert_gt (port, 0);
    char out[4096];
    const char *cases[] = {"status", "list", "list --follow", "append x", "status --json"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc =
            s_sh (out, sizeof out, "%s -e tcp://127.0.0.1:%d --retry-ms 100 --retries 2 %s 2>&1",
                  LOGCLI, port, cases[i]);
        cr_expect_eq (rc, 5, "'%s' exited %d: %s", cases[i], rc, out);
        cr_expect (strstr (out, "no reply from"), "'%s': %s", cases[i], out);
    }
    int rc = s_sh (out, sizeof out,
                   "printf 'a\\nb\\nc\\n' | %s -e tcp://127.0.0.1:%d --retry-ms 100 --retries 2 "
                   "append - 2>&1",
                   LOGCLI, port);
    cr_assert_eq (rc, 5, "exit %d: %s", rc, out);
    cr_assert (strstr (out, "3 appends may or may not have been stored"), "%s", out);
    cr_assert (strstr (out, "appended 0 of 3 (0 refused, 0 timed out, 3 unanswered)\n"), "%s", out);
    close (dead_fd);
}

//  A line longer than the node's --max-msg is refused by logcli itself,
//  with its line number, without sending it (the node drops a frame far
//  above its limit with the connection: it used to end as unreachable after
//  the whole retry budget). The node reports its limit in status.
Test (logcli, too_large_refused_locally)
{
    h_cluster_init (&s_cluster, 0, 50);
    cr_assert (h_start_master (&s_cluster, "--max-msg 40000"));
    int one = 1;
    s_wait_healthy (one);
    char ep[64], out[8192];
    h_endpoint (&s_cluster.master, ep, sizeof ep);
    cr_assert_eq (s_sh (out, sizeof out, "%s -e %s status --json", LOGCLI, ep), 0, "%s", out);
    cr_assert (strstr (out, "\"max_msg\":40000}"), "%s", out);
    //  stdin: a 2 MB line between two good ones, and one just over the limit.
    int rc = s_sh (out, sizeof out,
                   "(echo a; head -c 2000000 /dev/zero | tr '\\0' x; echo; echo b;"
                   " head -c 40001 /dev/zero | tr '\\0' y; echo) |"
                   " %s -e %s --retry-ms 500 append - 2>&1",
                   LOGCLI, ep);
    cr_assert_eq (rc, 3, "exit %d: %s", rc, out);
    cr_assert (strstr (out, "line 2: longer than the node's --max-msg of 40000 bytes: not sent"),
               "%s", out);
    cr_assert (strstr (out, "appended 2 of 4 (2 refused, 0 timed out)\n"), "%s", out);
    //  A single message, the same way.
    rc = s_sh (out, sizeof out, "%s -e %s append \"$(head -c 50000 /dev/zero | tr '\\0' z)\" 2>&1",
               LOGCLI, ep);
    cr_assert_eq (rc, 3, "exit %d: %s", rc, out);
    cr_assert_str_eq (
        out, "logcli: append: the message is longer than the node's --max-msg of 40000 bytes: "
             "not sent\n");
    //  Only the good lines are in the log; a message of the limit is fine.
    rc = s_sh (out, sizeof out, "%s -e %s append \"$(head -c 40000 /dev/zero | tr '\\0' z)\" 2>&1",
               LOGCLI, ep);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, out);
    cr_assert_str_eq (out, "3\n");
    cr_assert_eq (s_sh (out, sizeof out, "%s -e %s list --limit 2", LOGCLI, ep), 0);
    cr_assert_str_eq (out, "a\nb\n");
}

//  Global options go anywhere, as with git or kubectl; "--" ends them.
Test (logcli, global_options_after_the_command)
{
    h_cluster_init (&s_cluster, 0, 50);
    cr_assert (h_start_master (&s_cluster, ""));
    int one = 1;
    s_wait_healthy (one);
    char ep[64], out[4096];
    h_endpoint (&s_cluster.master, ep, sizeof ep);
    int rc = s_sh (out, sizeof out, "printf 'a\\nb\\n' | %s append --retry-ms 200 - -e %s 2>&1",
                   LOGCLI, ep);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, out);
    cr_assert_str_eq (out, "appended 2 of 2 (0 refused, 0 timed out)\n");
    cr_assert_eq (s_sh (out, sizeof out, "%s append -w 1 -e %s --retries 2 -- -x 2>&1", LOGCLI, ep),
                  0, "%s", out);
    cr_assert_str_eq (out, "3\n");
    cr_assert_eq (s_sh (out, sizeof out, "%s list -e %s --from 2 --retry-ms 500 2>&1", LOGCLI, ep),
                  0, "%s", out);
    cr_assert_str_eq (out, "b\n-x\n");
    cr_assert_eq (s_sh (out, sizeof out, "%s status --json --endpoint %s 2>&1", LOGCLI, ep), 0,
                  "%s", out);
    cr_assert (strstr (out, "\"role\":\"master\""), "%s", out);
    //  Still usage errors, wherever they stand.
    const char *bad[] = {"list -e", "status --retries 0", "list --from 1 --bogus", "-x list"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc = s_sh (out, sizeof out, "%s %s </dev/null 2>&1", LOGCLI, bad[i]);
        cr_expect_eq (rc, 2, "'logcli %s' exited %d: %s", bad[i], rc, out);
    }
}

static bool s_pred_waiting (const rlog_status_t *status, void *arg)
{
    return status->waiting >= *(uint32_t *)arg;
}

//  Ctrl-C of an append waiting for its write concern: the entry is stored
//  already, and logcli says it may be, and that running it again would not
//  be deduplicated.
Test (logcli, interrupted_waiting_append_says_it_may_be_stored)
{
    h_cluster_init (&s_cluster, 2, 50);
    cr_assert (h_start_master (&s_cluster, ""));
    cr_assert (h_start_secondary (&s_cluster, 0, ""));
    s_wait_healthy (2);
    char ep[64], cmd[512];
    h_endpoint (&s_cluster.master, ep, sizeof ep);
    snprintf (cmd, sizeof cmd, "%s -e %s append -w 3 parked", LOGCLI, ep);
    proc_t append;
    s_proc_start (&append, cmd);
    uint32_t one = 1;
    cr_assert (h_wait_status (&s_cluster.master, s_pred_waiting, &one, 10000),
               "the w=3 append never waited on the master");
    kill (append.pid, SIGINT);
    cr_assert_eq (s_proc_wait_exit (&append, 10000), 130, "output: '%s'", append.out);
    cr_assert_str_eq (append.out,
                      "logcli: append: interrupted while waiting for w=3: the master may already "
                      "hold the entry (appends are never rolled back); running the same append "
                      "again is not idempotent across logcli runs\n");
    //  It does hold it.
    h_list_t list;
    cr_assert_eq (h_list (&s_cluster.master, &list), RLOG_OK);
    cr_assert_eq (list.count, 1);
    cr_assert_str_eq (list.items[0], "parked");
    h_list_free (&list);
}

//  SIGINT in the middle of append -: a summary of what was done, exit 130.
Test (logcli, interrupted_bulk_append_reports)
{
    h_cluster_init (&s_cluster, 0, 50);
    h_start_master (&s_cluster, "");
    int one = 1;
    s_wait_healthy (one);
    char fifo[256], ep[64], cmd[512];
    snprintf (fifo, sizeof fifo, "%s/input", s_cluster.dir);
    cr_assert_eq (mkfifo (fifo, 0600), 0);
    h_endpoint (&s_cluster.master, ep, sizeof ep);
    snprintf (cmd, sizeof cmd, "%s -e %s append - <%s", LOGCLI, ep, fifo);
    proc_t bulk;
    s_proc_start (&bulk, cmd);
    int fd = open (fifo, O_WRONLY);
    cr_assert_geq (fd, 0);
    cr_assert_eq (write (fd, "one\ntwo\n", 8), 8);
    uint64_t two = 2;
    s_wait_head (&s_cluster.master, two);
    //  The master holds both; whether their answers reached logcli before
    //  the signal is the machine's timing, so the summary must say which.
    kill (bulk.pid, SIGINT);
    cr_assert_eq (s_proc_wait_exit (&bulk, 5000), 130, "output: '%s'", bulk.out);
    int appended = -1;
    cr_assert_eq (sscanf (bulk.out, "interrupted: appended %d of 2 ", &appended), 1, "%s",
                  bulk.out);
    char expect[512];
    if (appended == 2)
        snprintf (expect, sizeof expect, "interrupted: appended 2 of 2 (0 refused, 0 timed out)\n");
    else
        snprintf (expect, sizeof expect,
                  "interrupted: appended %d of 2 (0 refused, 0 timed out, %d unanswered)\n"
                  "logcli: append: interrupted with %d append%s unanswered: the master may "
                  "already hold %s; sending the same lines again is not idempotent across "
                  "logcli runs\n",
                  appended, 2 - appended, 2 - appended, 2 - appended == 1 ? "" : "s",
                  2 - appended == 1 ? "it" : "them");
    cr_assert_str_eq (bulk.out, expect);
    close (fd);
}

//  --------------------------------------------------------------------------
//  CURVE: keys from logcli keygen, against nodes that require them

static bool s_pred_two_healthy (const rlog_status_t *status)
{
    return status->healthy >= 2 && streq (status->mode, "read-write");
}

Test (logcli, curve_keys_end_to_end)
{
    if (!zsys_has_curve ())
        cr_skip_test ("this libzmq has no CURVE support");
    h_cluster_init (&s_cluster, 1, 50);
    const char *dir = s_cluster.dir;
    char out[4096], extra[512];
    const char *names[] = {"master", "s1", "alice", "mallory"};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq (s_sh (out, sizeof out, "cd %s && %s keygen %s 2>&1", dir, LOGCLI, names[i]),
                      0, "%s", out);
        cr_assert (strstr (out, "_secret (secret certificate: keep it private)"), "%s", out);
    }
    struct stat st;
    snprintf (extra, sizeof extra, "%s/alice_secret", dir);
    cr_assert_eq (stat (extra, &st), 0);
    cr_assert_eq (st.st_mode & 077, 0, "secret key readable by others: %o", st.st_mode);
    cr_assert_eq (s_sh (out, sizeof out, "cd %s && %s keygen alice 2>&1", dir, LOGCLI), 1);
    cr_assert (strstr (out, "not overwriting"), "%s", out);
    cr_assert_eq (s_sh (out, sizeof out, "%s keygen 2>&1", LOGCLI), 2);
    //  Node keys (named by node id) and client keys apart.
    cr_assert_eq (s_sh (out, sizeof out,
                        "cd %s && mkdir nodes clients && cp s1 nodes/ && cp alice clients/", dir),
                  0);

    snprintf (extra, sizeof extra,
              "--curve-secret %s/master --curve-allow-nodes %s/nodes --curve-allow-clients "
              "%s/clients",
              dir, dir, dir);
    h_start_master (&s_cluster, extra);
    snprintf (extra, sizeof extra,
              "--curve-secret %s/s1 --curve-allow-clients %s/clients --master-key %s/master", dir,
              dir, dir);
    h_start_secondary (&s_cluster, 0, extra);
    char ep[64], sep[64], alice[300], master[300], s1[300];
    h_endpoint (&s_cluster.master, ep, sizeof ep);
    h_endpoint (&s_cluster.secondaries[0], sep, sizeof sep);
    snprintf (alice, sizeof alice, "%s/alice", dir);
    snprintf (master, sizeof master, "%s/master", dir);
    snprintf (s1, sizeof s1, "%s/s1", dir);

    //  The library: a missing file is refused at once, the right keys work.
    rlog_client_t *client = rlog_client_new (ep);
    cr_assert_eq (rlog_client_set_curve (client, "/nonexistent/key", master), RLOG_INVALID);
    cr_assert (strstr (rlog_client_error (client), "not found"), "%s", rlog_client_error (client));
    cr_assert_eq (rlog_client_set_curve (client, alice, master), RLOG_OK);
    rlog_client_set_retry (client, 200, 1);
    rlog_status_t status;
    int64_t deadline = zclock_mono () + 10000;
    bool ready = false;
    while (!ready && zclock_mono () < deadline)
        ready = rlog_client_status (client, &status) == RLOG_OK && s_pred_two_healthy (&status);
    cr_assert (ready, "the master never became read-write over CURVE");
    rlog_client_destroy (&client);

    //  logcli with the keys: single, bulk (the pipeline), and a secondary
    //  with its own server key, from flags or the environment.
    cr_assert_eq (s_sh (out, sizeof out,
                        "%s -e %s --curve-secret %s --server-key %s append -w 2 hello 2>&1", LOGCLI,
                        ep, alice, master),
                  0, "%s", out);
    cr_assert_str_eq (out, "1\n");
    cr_assert_eq (
        s_sh (out, sizeof out,
              "printf 'a\\nb\\n' | %s -e %s --curve-secret %s --server-key %s append -w 2 "
              "- 2>&1",
              LOGCLI, ep, alice, master),
        0, "%s", out);
    cr_assert_str_eq (out, "appended 2 of 2 (0 refused, 0 timed out)\n");
    cr_assert_eq (s_sh (out, sizeof out,
                        "RLOG_CURVE_SECRET=%s RLOG_SERVER_KEY=%s %s -e %s list 2>&1", alice, s1,
                        LOGCLI, sep),
                  0, "%s", out);
    cr_assert_str_eq (out, "hello\na\nb\n");

    //  No key, a key not allowed, or the wrong server key: no answer at all.
    const char *bad[] = {"", "--curve-secret %s/mallory --server-key %s/master",
                         "--curve-secret %s/alice --server-key %s/s1"};
    for (size_t i = 0; i < 3; i++) {
        char keys[400];
        snprintf (keys, sizeof keys, bad[i], dir, dir);
        int rc = s_sh (out, sizeof out, "%s -e %s --retry-ms 100 --retries 2 %s status 2>&1",
                       LOGCLI, ep, keys);
        cr_expect_eq (rc, 5, "keys '%s': exit %d, %s", keys, rc, out);
    }
    //  The same for a bulk append: nothing it sends gets through.
    int rc = s_sh (out, sizeof out,
                   "printf 'a\\nb\\n' | %s -e %s --retry-ms 100 --retries 2 --curve-secret "
                   "%s/mallory --server-key %s append - 2>&1",
                   LOGCLI, ep, dir, master);
    cr_assert_eq (rc, 5, "exit %d: %s", rc, out);
    cr_assert (strstr (out, "appended 0 of 2 (0 refused, 0 timed out, 2 unanswered)"), "%s", out);
    //  Bad key files and half a pair are usage errors.
    cr_assert_eq (s_sh (out, sizeof out,
                        "%s -e %s --curve-secret %s/nobody --server-key %s status 2>&1", LOGCLI, ep,
                        dir, master),
                  2);
    cr_assert (strstr (out, "nobody_secret not found (create one with: logcli keygen NAME)"), "%s",
               out);
    cr_assert_eq (
        s_sh (out, sizeof out, "%s -e %s --curve-secret %s status 2>&1", LOGCLI, ep, alice), 2);
    cr_assert (strstr (out, "go together"), "%s", out);
}

//  --------------------------------------------------------------------------
//  tools/cluster

#define CLUSTER_SCRIPT RLOG_BUILD_DIR "/../tools/cluster"

//  rlogd processes whose arguments mention TEXT (the cluster's temp dir).
static int s_rlogd_with (const char *text)
{
    DIR *proc = opendir ("/proc");
    cr_assert_not_null (proc);
    int count = 0;
    struct dirent *e;
    while ((e = readdir (proc))) {
        if (!isdigit ((unsigned char)e->d_name[0]))
            continue;
        char path[300], args[4096];
        snprintf (path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen (path, "r");
        if (!f)
            continue;
        size_t n = fread (args, 1, sizeof args - 1, f);
        fclose (f);
        args[n] = 0;
        const char *name = strrchr (args, '/');
        bool rlogd = streq (name ? name + 1 : args, "rlogd");
        for (size_t i = 0; i < n; i++)
            if (!args[i])
                args[i] = ' ';
        if (rlogd && strstr (args, text))
            count++;
    }
    closedir (proc);
    return count;
}

//  It says "cluster up" only when every node came up and the master is
//  read-write with 3 healthy nodes; a node that cannot bind its port (taken)
//  is a failure, exit 1. Ctrl-C stops the nodes and exits 0. timeout bounds
//  the script should this test die before stopping it.
Test (logcli, tools_cluster_checks_its_nodes, .timeout = 90.0)
{
    h_cluster_init (&s_cluster, 0, 50); //  for its temp dir
    int dead_fd;
    int taken = h_dead_port (&dead_fd);
    cr_assert_gt (taken, 0);
    char out[16384], cmd[1024];
    int rc = s_sh (out, sizeof out,
                   "TMPDIR=%s RLOG_CLUSTER_BUILD=%s RLOG_CLUSTER_PORTS='* * * %d *' timeout -s INT "
                   "60 %s 2>&1",
                   s_cluster.dir, RLOG_BUILD_DIR, taken, CLUSTER_SCRIPT);
    close (dead_fd);
    cr_assert_eq (rc, 1, "exit %d: %s", rc, out);
    cr_assert (strstr (out, "Address already in use"), "%s", out);
    cr_assert (strstr (out, "tools/cluster: s1 did not start"), "%s", out);
    cr_assert (!strstr (out, "cluster up"), "%s", out);
    cr_assert_eq (s_rlogd_with (s_cluster.dir), 0, "nodes left running");

    //  No leak check in these nodes under ASan: LeakSanitizer's stop-the-world
    //  at exit can hang on a loaded machine (other tests check rlogd's leaks).
    snprintf (cmd, sizeof cmd,
              "env TMPDIR=%s RLOG_CLUSTER_BUILD=%s RLOG_CLUSTER_PORTS='* * * * *' "
              "ASAN_OPTIONS=detect_leaks=0 timeout -s INT 60 %s",
              s_cluster.dir, RLOG_BUILD_DIR, CLUSTER_SCRIPT);
    proc_t cluster;
    s_proc_start (&cluster, cmd);
    s_group = cluster.pid; //  timeout leads a process group: the script and its nodes
    cr_assert (s_proc_wait_for (&cluster, "cluster up: master tcp://127.0.0.1:", 30000),
               "never up: %s", cluster.out);
    const char *up = strstr (cluster.out, "cluster up: master ");
    char ep[64];
    cr_assert_eq (sscanf (up, "cluster up: master %63s", ep), 1);
    rc = s_sh (out, sizeof out, "%s -e %s append -w 3 hello 2>&1", LOGCLI, ep);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, out);
    cr_assert_eq (s_rlogd_with (s_cluster.dir), 3, "expected 3 nodes");
    kill (cluster.pid, SIGINT);
    rc = s_proc_wait_exit (&cluster, 20000);
    cr_assert_eq (rc, 0, "Ctrl-C: exit %d: %s", rc, cluster.out);
    cr_assert_eq (s_rlogd_with (s_cluster.dir), 0, "nodes left running after Ctrl-C");
    s_group = 0;
}

//  tools/cluster --failover needs its nodes' ports before they start (each
//  is given every other's address), so this test picks them: three base
//  ports 10 apart, each with PORT+1 and PORT+2, in the kernel's range for
//  outgoing connections (the other tests bind below it). Each port is held
//  by a socket bound without SO_REUSEADDR (so nobody holds it now), then
//  given SO_REUSEADDR: rlogd, whose listeners set it too, can bind there,
//  while no outgoing connection takes it. HELD gets the 9 descriptors.
static int s_hold_bases (int *held)
{
    int low = 32768, high = 60999;
    FILE *f = fopen ("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf (f, "%d %d", &low, &high) != 2)
            low = 32768, high = 60999;
        fclose (f);
    }
    unsigned seed = (unsigned)getpid () ^ (unsigned)zclock_usecs ();
    for (int attempt = 0; attempt < 100; attempt++) {
        int base = low + rand_r (&seed) % (high - low - 30);
        int n = 0;
        for (int node = 0; node < 3; node++)
            for (int k = 0; k < 3; k++) {
                int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                struct sockaddr_in addr;
                memset (&addr, 0, sizeof addr);
                addr.sin_family = AF_INET;
                addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
                addr.sin_port = htons ((uint16_t)(base + 10 * node + k));
                int one = 1;
                if (fd >= 0 && bind (fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
                    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0)
                    held[n++] = fd;
                else if (fd >= 0)
                    close (fd);
            }
        if (n == 9)
            return base;
        while (n > 0)
            close (held[--n]);
    }
    return -1;
}

//  The same checks for three elected nodes: a node that cannot bind its
//  port stops the script (exit 1, nothing left running); up, it names the
//  master (a pid to kill) and the endpoint list; appends w=2 go through the
//  list, and after a kill -9 of the master through whichever node is
//  elected next; Ctrl-C stops the two left, exit 0.
Test (logcli, tools_cluster_failover, .timeout = 90.0)
{
    h_cluster_init (&s_cluster, 0, 50); //  for its temp dir
    int held[9];
    int base = s_hold_bases (held);
    cr_assert_gt (base, 0, "no free ports for three nodes");
    int dead_fd;
    int taken = h_dead_port (&dead_fd);
    cr_assert_gt (taken, 0);
    char out[16384], cmd[1024];
    int rc = s_sh (out, sizeof out,
                   "TMPDIR=%s RLOG_CLUSTER_BUILD=%s RLOG_CLUSTER_PORTS='%d %d %d' timeout -s INT "
                   "60 %s --failover 2>&1",
                   s_cluster.dir, RLOG_BUILD_DIR, base, taken, base + 20, CLUSTER_SCRIPT);
    close (dead_fd);
    cr_assert_eq (rc, 1, "exit %d: %s", rc, out);
    cr_assert (strstr (out, "Address already in use"), "%s", out);
    cr_assert (strstr (out, "tools/cluster: n2 did not start"), "%s", out);
    cr_assert (!strstr (out, "cluster up"), "%s", out);
    cr_assert_eq (s_rlogd_with (s_cluster.dir), 0, "nodes left running");
    rc = s_sh (out, sizeof out,
               "RLOG_CLUSTER_BUILD=%s RLOG_CLUSTER_PORTS='* * *' %s --failover 2>&1",
               RLOG_BUILD_DIR, CLUSTER_SCRIPT);
    cr_assert_eq (rc, 2, "exit %d: %s", rc, out);
    cr_assert (strstr (out, "takes port numbers"), "%s", out);

    snprintf (cmd, sizeof cmd,
              "env TMPDIR=%s RLOG_CLUSTER_BUILD=%s RLOG_CLUSTER_PORTS='%d %d %d' "
              "ASAN_OPTIONS=detect_leaks=0 timeout -s INT 80 %s --failover",
              s_cluster.dir, RLOG_BUILD_DIR, base, base + 10, base + 20, CLUSTER_SCRIPT);
    proc_t cluster;
    s_proc_start (&cluster, cmd);
    s_group = cluster.pid; //  timeout leads a process group: the script and its nodes
    cr_assert (s_proc_wait_for (&cluster, "then append again\n", 30000), "never up: %s",
               cluster.out);
    const char *up = strstr (cluster.out, "cluster up: elected nodes ");
    cr_assert_not_null (up, "%s", cluster.out);
    char eps[256], master[8];
    int master_pid = 0;
    cr_assert_eq (sscanf (strstr (up, "endpoints "), "endpoints %255[^;]", eps), 1, "%s", up);
    cr_assert_eq (sscanf (strstr (up, "; master "), "; master %7s", master), 1, "%s", up);
    cr_assert_eq (sscanf (strstr (up, "kill -9 "), "kill -9 %d", &master_pid), 1, "%s", up);
    char want[256];
    snprintf (want, sizeof want, "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d,tcp://127.0.0.1:%d", base,
              base + 10, base + 20);
    cr_assert_str_eq (eps, want);
    cr_assert_eq (s_rlogd_with (s_cluster.dir), 3, "expected 3 nodes");
    rc = s_sh (out, sizeof out, "%s -e %s append -w 2 -t 10000 before 2>&1", LOGCLI, eps);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, out);
    rc = s_sh (out, sizeof out, "%s -e %s status --json 2>&1", LOGCLI, eps);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, out);
    char leader[64];
    snprintf (leader, sizeof leader, "\"leader\":\"%s\"", master);
    cr_assert (strstr (out, leader), "%s is not the master: %s", master, out);

    //  kill -9 the master: the next append w=2 through the list waits out
    //  the election (1 to 2 s) and is stored by the new master.
    cr_assert_eq (kill (master_pid, SIGKILL), 0);
    int64_t t0 = zclock_mono ();
    rc = s_sh (out, sizeof out, "%s -e %s append -w 2 -t 10000 after 2>&1", LOGCLI, eps);
    cr_assert_eq (rc, 0, "after the master's kill: exit %d: %s\n%s", rc, out, cluster.out);
    cr_log_info ("tools/cluster --failover: append w=2 through the list %lld ms after kill -9",
                 (long long)(zclock_mono () - t0));
    cr_assert_eq (s_rlogd_with (s_cluster.dir), 2, "expected 2 nodes");
    rc = s_sh (out, sizeof out, "%s -e %s list 2>&1", LOGCLI, eps);
    cr_assert_eq (rc, 0, "exit %d: %s", rc, out);
    cr_assert_str_eq (out, "before\nafter\n");
    kill (cluster.pid, SIGINT);
    rc = s_proc_wait_exit (&cluster, 20000);
    cr_assert_eq (rc, 0, "Ctrl-C: exit %d: %s", rc, cluster.out);
    cr_assert_eq (s_rlogd_with (s_cluster.dir), 0, "nodes left running after Ctrl-C");
    s_group = 0;
    for (int i = 0; i < 9; i++)
        close (held[i]);
}

//  --------------------------------------------------------------------------
//  On a terminal: tmux gives logcli a real pty and shows us the screen.

static bool s_have_tmux (void)
{
    return system ("command -v tmux >/dev/null 2>&1") == 0;
}

static void s_tmux (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

static void s_tmux (const char *format, ...)
{
    char args[1024], cmd[1400];
    va_list ap;
    va_start (ap, format);
    vsnprintf (args, sizeof args, format, ap);
    va_end (ap);
    snprintf (cmd, sizeof cmd, "tmux -S '%s' %s", s_tmux_socket, args);
    cr_assert_eq (system (cmd), 0, "failed: %s", cmd);
}

//  Run SCRIPT_BODY (shell) in a new tmux session NAME. The pane stays
//  after it ends (sleep), so the screen can still be read. The shell
//  ignores SIGINT: a Ctrl-C meant for the command would otherwise kill it,
//  or (trapped) cut its wait short and report 130 whatever the command
//  returned. logcli installs its own handler over the inherited ignore.
static void s_tmux_run (const char *name, const char *script_body)
{
    char path[256];
    snprintf (path, sizeof path, "%s/%s.sh", s_cluster.dir, name);
    FILE *f = fopen (path, "w");
    cr_assert_not_null (f, "cannot write %s: %s", path, strerror (errno));
    fprintf (f, "trap '' INT\n%s\necho EXIT=$?\nexec sleep 120\n", script_body);
    fclose (f);
    if (!s_tmux_socket[0]) {
        snprintf (s_tmux_socket, sizeof s_tmux_socket, "%s/tmux.sock", s_cluster.dir);
        s_tmux ("-f /dev/null new-session -d -s %s -x 150 -y 40 'sh %s'", name, path);
    } else
        s_tmux ("new-session -d -s %s -x 150 -y 40 'sh %s'", name, path);
}

//  The visible screen of session NAME; ESCAPES keeps colours as SGR codes.
static void s_tmux_screen (const char *name, bool escapes, char *out, size_t size)
{
    cr_assert_geq (s_sh (out, size, "tmux -S '%s' capture-pane -p %s -t %s", s_tmux_socket,
                         escapes ? "-e" : "", name),
                   0);
}

static bool s_tmux_wait (const char *name, const char *needle, char *screen, size_t size,
                         int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    do {
        s_tmux_screen (name, false, screen, size);
        if (strstr (screen, needle))
            return true;
        zclock_sleep (20); //  polling interval of a condition, not a guess
    } while (zclock_mono () < deadline);
    return false;
}

static size_t s_count (const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr (p, needle)) != NULL; p += strlen (needle))
        n++;
    return n;
}

Test (logcli, terminal_progress_bar)
{
    if (!s_have_tmux ())
        cr_skip_test ("tmux is not installed: add it to tools/deps to run this test");
    //  s1 delays its ACKs, so w=2 appends take 100 ms each and the bar of
    //  a one-at-a-time run stays on screen long enough to be read.
    h_cluster_init (&s_cluster, 1, 50);
    h_start_master (&s_cluster, "--suspect-ms 3000 --unhealthy-ms 6000");
    h_start_secondary (&s_cluster, 0, "--delay-ms 100");
    s_wait_healthy (2);
    char ep[64], body[1024], screen[16384], file[256], fifo[256];
    h_endpoint (&s_cluster.master, ep, sizeof ep);

    //  stdin a regular file: a bar with percentage and rate.
    snprintf (file, sizeof file, "%s/lines.txt", s_cluster.dir);
    FILE *f = fopen (file, "w");
    cr_assert_not_null (f);
    for (int i = 1; i <= 30; i++)
        fprintf (f, "file-%d\n", i);
    fclose (f);
    snprintf (body, sizeof body, "%s -e %s append -w 2 --window 1 - <%s", LOGCLI, ep, file);
    s_tmux_run ("bar", body);
    cr_assert (s_tmux_wait ("bar", "%  ", screen, sizeof screen, 10000), "no bar: %s", screen);
    cr_assert (strstr (screen, "[#") || strstr (screen, "[-"), "%s", screen);
    cr_assert (strstr (screen, " appended  ") && strstr (screen, "/s  "), "%s", screen);
    cr_assert (s_tmux_wait ("bar", "EXIT=0", screen, sizeof screen, 20000), "%s", screen);
    cr_assert (strstr (screen, "appended 30 of 30 (0 refused, 0 timed out)"), "%s", screen);
    //  The bar is wiped before the summary, not left behind it.
    cr_assert (!strstr (screen, "in flight") && !strstr (screen, "%  "), "%s", screen);

    //  stdin a pipe whose writer is us: a running count with the rate.
    snprintf (fifo, sizeof fifo, "%s/input", s_cluster.dir);
    cr_assert_eq (mkfifo (fifo, 0600), 0);
    snprintf (body, sizeof body, "%s -e %s append - <%s", LOGCLI, ep, fifo);
    s_tmux_run ("count", body);
    int fd = open (fifo, O_WRONLY);
    cr_assert_geq (fd, 0);
    char lines[16];
    for (int i = 1; i <= 500; i++) {
        int n = snprintf (lines, sizeof lines, "p%d\n", i);
        cr_assert_eq (write (fd, lines, (size_t)n), n);
    }
    cr_assert (s_tmux_wait ("count", "500 appended  ", screen, sizeof screen, 10000), "%s", screen);
    cr_assert (strstr (screen, "/s  0 in flight"), "%s", screen);
    cr_assert (!strstr (screen, "EXIT="), "ended before its input did: %s", screen);
    cr_assert_eq (write (fd, "last\n", 5), 5);
    close (fd);
    cr_assert (s_tmux_wait ("count", "EXIT=0", screen, sizeof screen, 10000), "%s", screen);
    cr_assert (strstr (screen, "appended 501 of 501 (0 refused, 0 timed out)"), "%s", screen);
}

Test (logcli, terminal_status_table_and_watch)
{
    if (!s_have_tmux ())
        cr_skip_test ("tmux is not installed: add it to tools/deps to run this test");
    //  s2 is killed and must show as unhealthy soon; s1 must stay healthy
    //  on a loaded machine, so suspicion takes ten missed heartbeats.
    h_cluster_init (&s_cluster, 2, 100);
    h_start_master (&s_cluster, "--suspect-ms 1000 --unhealthy-ms 1500");
    h_start_secondary (&s_cluster, 0, "");
    h_start_secondary (&s_cluster, 1, "");
    s_wait_healthy (3);
    //  s2 gone: the table shows it red, s1 green.
    h_stop (&s_cluster.secondaries[1], SIGKILL);
    cr_assert (h_wait_status (&s_cluster.master, h_pred_healthy, &(int){2}, 5000));
    char ep[64], body[1024], screen[16384];
    h_endpoint (&s_cluster.master, ep, sizeof ep);
    int64_t deadline = zclock_mono () + 5000;
    char out[8192];
    do {
        h_logcli (out, sizeof out, "-e %s status", ep);
    } while (!strstr (out, "unhealthy") && zclock_mono () < deadline);
    cr_assert (strstr (out, "unhealthy"), "%s", out);
    //  Piped: plain text, no escape codes at all.
    cr_assert (!strchr (out, '\033'), "colours in piped output: %s", out);

    snprintf (body, sizeof body, "env -u NO_COLOR %s -e %s status", LOGCLI, ep);
    s_tmux_run ("colour", body);
    cr_assert (s_tmux_wait ("colour", "EXIT=0", screen, sizeof screen, 10000), "%s", screen);
    s_tmux_screen ("colour", true, screen, sizeof screen);
    cr_assert (strstr (screen, "\033[32mread-write"), "mode not green: %s", screen);
    cr_assert (strstr (screen, "\033[32mhealthy"), "s1 not green: %s", screen);
    cr_assert (strstr (screen, "\033[31munhealthy"), "s2 not red: %s", screen);

    snprintf (body, sizeof body, "NO_COLOR=1 %s -e %s status", LOGCLI, ep);
    s_tmux_run ("nocolour", body);
    cr_assert (s_tmux_wait ("nocolour", "EXIT=0", screen, sizeof screen, 10000), "%s", screen);
    s_tmux_screen ("nocolour", true, screen, sizeof screen);
    cr_assert (strstr (screen, "unhealthy") && !strstr (screen, "\033[3"),
               "colours despite NO_COLOR: %s", screen);

    //  --watch redraws in place every second and ends 0 on Ctrl-C. timeout
    //  bounds it should this test die before sending the Ctrl-C; in the
    //  foreground, so the Ctrl-C reaches logcli as it would from a shell.
    snprintf (body, sizeof body, "timeout --foreground 60 %s -e %s status --watch", LOGCLI, ep);
    s_tmux_run ("watch", body);
    cr_assert (s_tmux_wait ("watch", "head       0", screen, sizeof screen, 10000), "%s", screen);
    rlog_client_t *client = h_client (&s_cluster.master);
    s_append (client, "one", 1);
    s_append (client, "two", 1);
    rlog_client_destroy (&client);
    cr_assert (s_tmux_wait ("watch", "head       2", screen, sizeof screen, 5000), "%s", screen);
    cr_assert_eq (s_count (screen, "role       master"), 1, "not redrawn in place: %s", screen);
    cr_assert (strstr (screen, "every 1 s"), "%s", screen);
    s_tmux ("send-keys -t watch C-c");
    cr_assert (s_tmux_wait ("watch", "EXIT=0", screen, sizeof screen, 5000), "%s", screen);
}
