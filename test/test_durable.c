/*  test_durable.c - integration tests of the data directory: crashes,
    recovery, corruption, a full disk, and history identity: a secondary of
    another history, a master that lost its disk or was restored from an
    older copy, epochs that only grow.
*/
#include "harness.h"
#include "record.h"
#include <criterion/criterion.h>
#include <czmq.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static h_cluster_t s_cluster;
static char s_mounted[256];

static void s_teardown (void)
{
    //  The master must be gone before its file system can be unmounted, and
    //  that before the cluster's temp dir can be removed.
    h_stop (&s_cluster.master, SIGKILL);
    if (s_mounted[0]) {
        umount (s_mounted);
        rmdir (s_mounted);
        s_mounted[0] = 0;
    }
    h_cluster_destroy (&s_cluster);
}

TestSuite (durable, .fini = s_teardown, .timeout = 90.0);

//  Flags that put node NAME's log in the cluster's temp dir.
static const char *s_dir_flags (const char *name, const char *more, char *buf, size_t size)
{
    snprintf (buf, size, "--data-dir %s/%s.data %s", s_cluster.dir, name, more ? more : "");
    return buf;
}

static void s_wait_healthy (int nodes)
{
    cr_assert (h_wait_status (&s_cluster.master, h_pred_healthy, &nodes, 10000),
               "master never saw %d healthy nodes", nodes);
}

static void s_wait_head (const h_node_t *node, uint64_t head)
{
    cr_assert (h_wait_status (node, h_pred_head, &head, 30000), "%s never reached head %llu",
               node->id, (unsigned long long)head);
}

//  A restarted secondary: the master's status may still show its previous
//  connection healthy, so wait for the secondary to say it was welcomed.
static void s_wait_joined (const h_node_t *node)
{
    cr_assert (h_wait_status (node, h_pred_joined, NULL, 15000), "%s never joined", node->id);
}

static void s_assert_same_log (const h_node_t *a, const h_node_t *b)
{
    h_list_t la, lb;
    cr_assert_eq (h_list (a, &la), RLOG_OK);
    cr_assert_eq (h_list (b, &lb), RLOG_OK);
    cr_assert_eq (la.count, lb.count, "%s has %zu entries, %s %zu", a->id, la.count, b->id,
                  lb.count);
    for (size_t i = 0; i < la.count; i++)
        cr_assert_str_eq (la.items[i], lb.items[i], "seq %zu differs", i + 1);
    h_list_free (&la);
    h_list_free (&lb);
}

#define WRITERS    3
#define PER_WRITER 400

typedef struct {
    h_node_t *master;
    int writer;
    int w;
    uint64_t seqs[PER_WRITER]; //  0 = not acknowledged
} writer_t;

static void *s_writer (void *arg)
{
    writer_t *wr = (writer_t *)arg;
    rlog_client_t *client = h_client (wr->master);
    //  Long enough to ride out a master restart: retries reuse the request
    //  id, so an append that was stored before the crash is not stored twice.
    rlog_client_set_retry (client, 300, 40);
    for (int i = 0; i < PER_WRITER; i++) {
        char text[32];
        snprintf (text, sizeof text, "w%d-%d", wr->writer, i);
        rlog_append_result_t result;
        int64_t deadline = zclock_mono () + 30000;
        int rc;
        //  READ_ONLY (the restarted master waits for its quorum) means not
        //  stored, so a client may simply try again; UNREACHABLE may mean
        //  stored, so it is not retried (that could store a second copy).
        while ((rc = rlog_client_append (client, text, strlen (text), wr->w, 0, &result)) ==
                   RLOG_READ_ONLY &&
               zclock_mono () < deadline)
            zclock_sleep (20); //  client back-off before retrying a refusal
        if (rc == RLOG_OK)
            wr->seqs[i] = result.seq;
    }
    rlog_client_destroy (&client);
    return NULL;
}

static bool s_pred_at_least (const rlog_status_t *status, void *arg)
{
    return status->head >= *(uint64_t *)arg;
}

//  kill -9 of the master and then of a secondary under concurrent appends,
//  each with a data dir: after restarts every acknowledged entry is there,
//  once, at its seq, and all logs are identical.
Test (durable, kill_nine_everyone_loses_nothing_acknowledged, .timeout = 150.0)
{
    char flags[512];
    h_cluster_init (&s_cluster, 2, 50);
    h_start_master (&s_cluster, s_dir_flags ("master", NULL, flags, sizeof flags));
    h_start_secondary (&s_cluster, 0, s_dir_flags ("s1", NULL, flags, sizeof flags));
    h_start_secondary (&s_cluster, 1, s_dir_flags ("s2", NULL, flags, sizeof flags));
    s_wait_healthy (3);
    writer_t writers[WRITERS];
    pthread_t threads[WRITERS];
    for (int k = 0; k < WRITERS; k++) {
        memset (&writers[k], 0, sizeof writers[k]);
        writers[k].master = &s_cluster.master;
        writers[k].writer = k;
        writers[k].w = 1 + k; //  w=1 leans on the master's fsync alone
        cr_assert_eq (pthread_create (&threads[k], NULL, s_writer, &writers[k]), 0);
    }
    uint64_t mark = WRITERS * PER_WRITER / 4;
    cr_assert (h_wait_status (&s_cluster.master, s_pred_at_least, &mark, 30000));
    h_stop (&s_cluster.master, SIGKILL);
    h_start_master (&s_cluster, s_dir_flags ("master", NULL, flags, sizeof flags));
    mark = WRITERS * PER_WRITER / 2;
    cr_assert (h_wait_status (&s_cluster.master, s_pred_at_least, &mark, 30000));
    h_stop (&s_cluster.secondaries[0], SIGKILL);
    h_start_secondary (&s_cluster, 0, s_dir_flags ("s1", NULL, flags, sizeof flags));
    for (int k = 0; k < WRITERS; k++)
        pthread_join (threads[k], NULL);

    h_list_t master;
    cr_assert_eq (h_list (&s_cluster.master, &master), RLOG_OK);
    size_t acked = 0;
    for (int k = 0; k < WRITERS; k++)
        for (int i = 0; i < PER_WRITER; i++) {
            uint64_t seq = writers[k].seqs[i];
            if (!seq)
                continue;
            acked++;
            char text[32];
            snprintf (text, sizeof text, "w%d-%d", k, i);
            cr_assert (seq <= master.count, "acked seq %llu lost (log has %zu)",
                       (unsigned long long)seq, master.count);
            cr_assert_str_eq (master.items[seq - 1], text, "seq %llu", (unsigned long long)seq);
        }
    cr_assert_gt (acked, WRITERS * PER_WRITER * 9 / 10, "only %zu appends acknowledged", acked);
    //  No value twice.
    for (size_t i = 0; i < master.count; i++)
        for (size_t j = i + 1; j < master.count && j < i + 2000; j++)
            cr_assert_str_neq (master.items[i], master.items[j], "duplicate at %zu and %zu", i + 1,
                               j + 1);
    for (int n = 0; n < 2; n++) {
        s_wait_head (&s_cluster.secondaries[n], master.count);
        s_assert_same_log (&s_cluster.master, &s_cluster.secondaries[n]);
    }
    h_list_free (&master);
}

//  A retry after a master crash and restart gets the original seq.
Test (durable, exactly_once_across_master_restart)
{
    char flags[512];
    h_cluster_init (&s_cluster, 0, 50);
    h_start_master (&s_cluster, s_dir_flags ("master", NULL, flags, sizeof flags));
    int one = 1;
    s_wait_healthy (one);
    //  Drive the protocol by hand: the same (client id, request id) twice,
    //  with a kill -9 and restart in between.
    char ep[64];
    h_endpoint (&s_cluster.master, ep, sizeof ep);
    rlog_pipeline_t *pipe = rlog_pipeline_new (ep, 1, 0);
    uint64_t id = rlog_pipeline_submit (pipe, "only once", 9);
    rlog_completion_t done;
    cr_assert_eq (rlog_pipeline_collect (pipe, 5000, &done, 1), 1);
    cr_assert_eq (done.code, RLOG_OK);
    uint64_t seq = done.seq;
    h_stop (&s_cluster.master, SIGKILL);
    h_start_master (&s_cluster, s_dir_flags ("master", NULL, flags, sizeof flags));
    s_wait_healthy (one);
    cr_assert_eq (rlog_pipeline_resubmit (pipe, id, "only once", 9), 0);
    int64_t deadline = zclock_mono () + 10000;
    size_t got = 0;
    while (!got && zclock_mono () < deadline)
        got = rlog_pipeline_collect (pipe, 200, &done, 1);
    cr_assert_eq (got, 1, "no answer to the retry");
    cr_assert_eq (done.code, RLOG_OK);
    cr_assert_eq (done.req_id, id);
    cr_assert_eq (done.seq, seq, "retry got seq %llu, original %llu", (unsigned long long)done.seq,
                  (unsigned long long)seq);
    h_list_t list;
    cr_assert_eq (h_list (&s_cluster.master, &list), RLOG_OK);
    cr_assert_eq (list.count, 1);
    h_list_free (&list);
    rlog_pipeline_destroy (&pipe);
}

static void s_append_n (int first, int count, int w)
{
    rlog_client_t *client = h_client (&s_cluster.master);
    for (int i = first; i < first + count; i++) {
        char text[32];
        snprintf (text, sizeof text, "e%d", i);
        rlog_append_result_t result;
        cr_assert_eq (rlog_client_append (client, text, strlen (text), w, 5000, &result), RLOG_OK,
                      "%s", rlog_client_error (client));
    }
    rlog_client_destroy (&client);
}

//  Garbage appended to every file of a stopped secondary's data dir: it cuts
//  the torn tails at restart and converges with the master.
Test (durable, garbage_tail_on_secondary_converges)
{
    char flags[512];
    h_cluster_init (&s_cluster, 1, 50);
    h_start_master (&s_cluster, s_dir_flags ("master", NULL, flags, sizeof flags));
    h_start_secondary (&s_cluster, 0,
                       s_dir_flags ("s1", "--segment-bytes 4096", flags, sizeof flags));
    s_wait_healthy (2);
    s_append_n (1, 300, 2);
    h_stop (&s_cluster.secondaries[0], SIGTERM);
    char dir[300];
    snprintf (dir, sizeof dir, "%s/s1.data", s_cluster.dir);
    DIR *d = opendir (dir);
    cr_assert_not_null (d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir (d))) {
        if (!strstr (e->d_name, ".log"))
            continue;
        char path[600];
        snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen (path, "ab");
        cr_assert_not_null (f);
        for (int i = 0; i < 100; i++)
            fputc ((i * 37 + 11) & 0xff, f);
        fclose (f);
        files++;
    }
    closedir (d);
    cr_assert_gt (files, 3, "expected several segments, found %d", files);
    h_start_secondary (&s_cluster, 0,
                       s_dir_flags ("s1", "--segment-bytes 4096", flags, sizeof flags));
    s_wait_joined (&s_cluster.secondaries[0]);
    s_wait_healthy (2);
    s_append_n (301, 10, 2);
    s_wait_head (&s_cluster.secondaries[0], 310);
    s_assert_same_log (&s_cluster.master, &s_cluster.secondaries[0]);
}

//  A full file system: appends are refused cleanly (nothing acknowledged),
//  reads go on, and appends succeed again once space is freed.
Test (durable, full_disk_refuses_then_recovers)
{
    h_cluster_init (&s_cluster, 0, 50);
    snprintf (s_mounted, sizeof s_mounted, "%s/small", s_cluster.dir);
    cr_assert_eq (mkdir (s_mounted, 0755), 0);
    if (mount ("tmpfs", s_mounted, "tmpfs", 0, "size=256k") != 0) {
        rmdir (s_mounted);
        s_mounted[0] = 0;
        cr_skip_test ("cannot mount a small tmpfs here (needs root): %s", strerror (errno));
    }
    char filler[300];
    snprintf (filler, sizeof filler, "%s/filler", s_mounted);
    char flags[512];
    snprintf (flags, sizeof flags, "--data-dir %s/log --segment-bytes 65536", s_mounted);
    h_start_master (&s_cluster, flags);
    int one = 1;
    s_wait_healthy (one);
    rlog_client_t *client = h_client (&s_cluster.master);
    char payload[4096];
    memset (payload, 'p', sizeof payload);
    //  Fill the disk with a file of our own, then append until refused.
    FILE *f = fopen (filler, "wb");
    cr_assert_not_null (f);
    for (int i = 0; i < 40; i++)
        fwrite (payload, 1, sizeof payload, f);
    fclose (f);
    rlog_append_result_t result;
    int rc = RLOG_OK, ok = 0;
    for (int i = 0; i < 200 && rc == RLOG_OK; i++) {
        rc = rlog_client_append (client, payload, sizeof payload, 1, 0, &result);
        if (rc == RLOG_OK)
            ok++;
    }
    cr_assert_eq (rc, RLOG_INTERNAL, "expected a disk error, got %d after %d appends", rc, ok);
    cr_assert (strstr (rlog_client_error (client), "disk write failed"), "%s",
               rlog_client_error (client));
    cr_assert_eq (result.seq, 0, "a refused append reported a seq");
    //  Reads still work and hold exactly the acknowledged appends.
    h_list_t list;
    cr_assert_eq (h_list (&s_cluster.master, &list), RLOG_OK);
    cr_assert_eq ((int)list.count, ok);
    h_list_free (&list);
    cr_assert_eq (unlink (filler), 0);
    cr_assert_eq (rlog_client_append (client, "space again", 11, 1, 0, &result), RLOG_OK, "%s",
                  rlog_client_error (client));
    cr_assert_eq (result.seq, (uint64_t)ok + 1);
    rlog_client_destroy (&client);
    h_stop (&s_cluster.master, SIGTERM);
}

//  Wait up to TIMEOUT_MS for NODE to exit on its own; returns its status or -1.
static int s_wait_exit (h_node_t *node, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        int status;
        if (waitpid (node->pid, &status, WNOHANG) == node->pid) {
            node->pid = 0;
            return status;
        }
        zclock_sleep (10);
    }
    return -1;
}

static bool s_file_contains (const char *path, const char *text)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return false;
    char line[2048];
    bool found = false;
    while (!found && fgets (line, sizeof line, f))
        found = strstr (line, text) != NULL;
    fclose (f);
    return found;
}

//  Size of the file at PATH (0 if it does not exist).
static long s_file_size (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0 ? (long)st.st_size : 0;
}

//  Wait up to TIMEOUT_MS for a line containing TEXT past byte FROM of the
//  log at PATH (a node's log file is appended to across its restarts: what
//  an earlier run wrote must not count). Copies the line into LINE.
static bool s_wait_log_line (const char *path, long from, const char *text, char *line, size_t size,
                             int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    do {
        FILE *f = fopen (path, "r");
        bool found = false;
        if (f && fseek (f, from, SEEK_SET) == 0)
            while (!found && fgets (line, (int)size, f))
                found = strstr (line, text) != NULL;
        if (f)
            fclose (f);
        if (found)
            return true;
        zclock_sleep (20); //  polling interval of a condition, not a guess
    } while (zclock_mono () < deadline);
    return false;
}

//  Read a file of whole records (a segment or a rollback file), every one
//  checked (src/core/record.h), into LIST: the payloads as strings, in
//  order. Returns the first seq (0 for an empty file). Trailing bytes or a
//  bad record fail the test.
static uint64_t s_read_records (const char *path, h_list_t *list)
{
    memset (list, 0, sizeof *list);
    FILE *f = fopen (path, "rb");
    cr_assert_not_null (f, "%s: %s", path, strerror (errno));
    cr_assert_eq (fseek (f, 0, SEEK_END), 0);
    long size = ftell (f);
    cr_assert_geq (size, 0);
    uint8_t *bytes = (uint8_t *)malloc ((size_t)size + 1);
    cr_assert_not_null (bytes);
    rewind (f);
    cr_assert_eq (fread (bytes, 1, (size_t)size, f), (size_t)size);
    fclose (f);
    uint64_t first = 0, next = 0;
    for (size_t at = 0; at < (size_t)size;) {
        record_t r;
        record_error_t rc = record_check (bytes + at, (size_t)size - at, 1 << 24, &r);
        cr_assert_eq (rc, RECORD_OK, "%s at offset %zu: %s", path, at, record_error_text (rc));
        cr_assert (next == 0 || r.first_seq == next, "%s: record of seq %llu after %llu", path,
                   (unsigned long long)r.first_seq, (unsigned long long)next - 1);
        if (!first)
            first = r.first_seq;
        next = record_last_seq (&r) + 1;
        record_iter_t it;
        record_iter_init (&it, &r);
        record_entry_t e;
        while (record_next (&it, &e)) {
            list->items = (char **)realloc (list->items, (list->count + 1) * sizeof (char *));
            cr_assert_not_null (list->items);
            char *copy = (char *)malloc (e.size + 1);
            cr_assert_not_null (copy);
            memcpy (copy, e.data, e.size);
            copy[e.size] = 0;
            list->items[list->count++] = copy;
        }
        at += r.size;
    }
    free (bytes);
    return first;
}

//  The path of the (last, by name) file in DIR whose name starts with
//  PREFIX, into PATH; false if there is none.
static bool s_find_file (const char *dir, const char *prefix, char *path, size_t size)
{
    DIR *d = opendir (dir);
    if (!d)
        return false;
    struct dirent *e;
    char best[256] = "";
    while ((e = readdir (d)))
        if (strncmp (e->d_name, prefix, strlen (prefix)) == 0 && strcmp (e->d_name, best) > 0)
            snprintf (best, sizeof best, "%s", e->d_name);
    closedir (d);
    if (best[0])
        snprintf (path, size, "%s/%s", dir, best);
    return best[0] != 0;
}

//  Offset of record INDEX (0-based) in a segment file: records are
//  [u32 size][size bytes] (src/core/record.h).
static long s_record_offset (const char *path, int index)
{
    FILE *f = fopen (path, "rb");
    cr_assert_not_null (f);
    long offset = 0;
    for (int i = 0; i < index; i++) {
        uint8_t len[4];
        cr_assert_eq (fread (len, 1, 4, f), 4);
        uint32_t n =
            len[0] | (uint32_t)len[1] << 8 | (uint32_t)len[2] << 16 | (uint32_t)len[3] << 24;
        offset += 4 + (long)n;
        cr_assert_eq (fseek (f, offset, SEEK_SET), 0);
    }
    fclose (f);
    return offset;
}

//  Corruption in the middle of the master's log: it refuses to start and
//  names the file and offset; --repair cuts there and serves the prefix.
Test (durable, corrupt_master_log_refuses_then_repairs)
{
    char flags[512], segment[400];
    h_cluster_init (&s_cluster, 0, 50);
    h_start_master (&s_cluster, s_dir_flags ("master", NULL, flags, sizeof flags));
    int one = 1;
    s_wait_healthy (one);
    s_append_n (1, 30, 1);
    h_stop (&s_cluster.master, SIGTERM);
    snprintf (segment, sizeof segment, "%s/master.data/00000000000000000001.log", s_cluster.dir);
    long bad = s_record_offset (segment, 10);
    FILE *f = fopen (segment, "r+b");
    cr_assert_not_null (f);
    cr_assert_eq (fseek (f, bad + 20, SEEK_SET), 0);
    int c = fgetc (f);
    cr_assert_eq (fseek (f, bad + 20, SEEK_SET), 0);
    fputc (c ^ 0x5a, f);
    fclose (f);

    h_start_master (&s_cluster, s_dir_flags ("master", NULL, flags, sizeof flags));
    int status = s_wait_exit (&s_cluster.master, 10000);
    cr_assert (status != -1 && WIFEXITED (status) && WEXITSTATUS (status) != 0,
               "master started on a corrupt log");
    char where[64];
    snprintf (where, sizeof where, "offset %ld", bad);
    cr_assert (s_file_contains (s_cluster.master.log_path, "00000000000000000001.log"));
    cr_assert (s_file_contains (s_cluster.master.log_path, where), "error does not name %s", where);
    cr_assert (s_file_contains (s_cluster.master.log_path, "--repair"));

    h_start_master (&s_cluster, s_dir_flags ("master", "--repair", flags, sizeof flags));
    s_wait_healthy (one);
    h_list_t list;
    cr_assert_eq (h_list (&s_cluster.master, &list), RLOG_OK);
    cr_assert_eq (list.count, 10, "kept %zu entries, expected the 10 before the damage",
                  list.count);
    cr_assert_str_eq (list.items[9], "e10");
    h_list_free (&list);
}

//  True divergence: the master lost its tail and went on in a new epoch
//  while a secondary was away. The secondary keeps the common prefix, saves
//  its divergent entries to a rollback file, and takes the master's history.
Test (durable, divergent_secondary_truncates_into_rollback_file)
{
    char flags[512], segment[400];
    h_cluster_init (&s_cluster, 1, 50);
    h_start_master (&s_cluster, s_dir_flags ("master", "--quorum 1", flags, sizeof flags));
    h_start_secondary (&s_cluster, 0, s_dir_flags ("s1", NULL, flags, sizeof flags));
    s_wait_healthy (2);
    s_append_n (1, 10, 2);
    h_stop (&s_cluster.secondaries[0], SIGTERM);
    h_stop (&s_cluster.master, SIGTERM);
    //  The master's disk loses entries 6..10.
    snprintf (segment, sizeof segment, "%s/master.data/00000000000000000001.log", s_cluster.dir);
    cr_assert_eq (truncate (segment, s_record_offset (segment, 5)), 0);
    h_start_master (&s_cluster, s_dir_flags ("master", "--quorum 1", flags, sizeof flags));
    int one = 1;
    s_wait_healthy (one);
    rlog_client_t *client = h_client (&s_cluster.master);
    const char *fresh[] = {"new6", "new7", "new8"};
    for (int i = 0; i < 3; i++) {
        rlog_append_result_t result;
        cr_assert_eq (rlog_client_append (client, fresh[i], 4, 1, 0, &result), RLOG_OK);
        cr_assert_eq (result.seq, (uint64_t)i + 6);
    }
    rlog_client_destroy (&client);

    //  s1 recovers its ten old entries, so its head is 10 before anything
    //  happens: a wait for head >= 8 proves nothing. Wait for the event: it
    //  joins the master's history with the five common entries only (logged
    //  once the rest is cut and saved), then it fetches 6..8 of the master.
    long from = s_file_size (s_cluster.secondaries[0].log_path);
    h_start_secondary (&s_cluster, 0, s_dir_flags ("s1", NULL, flags, sizeof flags));
    char joined[1024];
    cr_assert (s_wait_log_line (s_cluster.secondaries[0].log_path, from, "joined master epoch",
                                joined, sizeof joined, 20000),
               "s1 never joined the master's new history (see %s)",
               s_cluster.secondaries[0].log_path);
    cr_assert (strstr (joined, "have 5 entries"), "s1 kept more than the common prefix: %s",
               joined);
    s_wait_head (&s_cluster.secondaries[0], 8);
    h_list_t list;
    cr_assert_eq (h_list (&s_cluster.secondaries[0], &list), RLOG_OK);
    cr_assert_eq (list.count, 8);
    cr_assert_str_eq (list.items[4], "e5");
    cr_assert_str_eq (list.items[5], "new6");
    cr_assert_str_eq (list.items[7], "new8");
    h_list_free (&list);
    //  The five entries it gave up are kept aside, as the records they were.
    char dir[300], rollback[700];
    snprintf (dir, sizeof dir, "%s/s1.data", s_cluster.dir);
    cr_assert (s_find_file (dir, "rollback-", rollback, sizeof rollback), "no rollback file in %s",
               dir);
    cr_assert (s_file_contains (s_cluster.secondaries[0].log_path, "saved to"));
    h_list_t cut;
    cr_assert_eq (s_read_records (rollback, &cut), 6, "the rollback file starts at seq 6");
    cr_assert_eq (cut.count, 5, "rollback file holds %zu entries, not the 5 cut", cut.count);
    for (int i = 0; i < 5; i++) {
        char text[16];
        snprintf (text, sizeof text, "e%d", i + 6);
        cr_assert_str_eq (cut.items[i], text);
    }
    h_list_free (&cut);
}

//  ==========================================================================
//  History identity: one history per log, epochs that only grow

static void s_status (const h_node_t *node, rlog_status_t *status)
{
    rlog_client_t *client = h_client (node);
    cr_assert_eq (rlog_client_status (client, status), RLOG_OK, "status of %s: %s", node->id,
                  rlog_client_error (client));
    rlog_client_destroy (&client);
}

static const rlog_secondary_status_t *s_peer (const rlog_status_t *status, const char *id)
{
    for (size_t i = 0; i < status->secondary_count; i++)
        if (streq (status->secondaries[i].id, id))
            return &status->secondaries[i];
    cr_assert_fail ("the master does not list secondary %s", id);
    return NULL;
}

static void s_shell (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
static void s_shell (const char *format, ...)
{
    char cmd[1024];
    va_list ap;
    va_start (ap, format);
    vsnprintf (cmd, sizeof cmd, format, ap);
    va_end (ap);
    cr_assert_eq (system (cmd), 0, "%s failed", cmd);
}

//  A line with TEXT in NODE's log past byte FROM, waited for; the line
//  goes to LINE.
static void s_expect_line (const h_node_t *node, long from, const char *text, char *line,
                           size_t size)
{
    cr_assert (s_wait_log_line (node->log_path, from, text, line, size, 15000),
               "no '%s' in %s's log (%s)", text, node->id, node->log_path);
}

static bool s_pred_mode (const rlog_status_t *status, void *arg)
{
    return streq (status->mode, (const char *)arg);
}

//  The data dir of a secondary 's2' of ANOTHER cluster, copied to
//  DIR/s2.data: a master of its own and its s2 append COUNT entries
//  "other-N"; that master is restarted twice on the way, so the entries and
//  s2's epochs are above those of the cluster it is copied into. Nothing is
//  left running.
static void s_foreign_s2 (int count)
{
    char flags[512];
    h_start_master (&s_cluster, s_dir_flags ("other-master", NULL, flags, sizeof flags));
    h_start_secondary (&s_cluster, 1, s_dir_flags ("other-s2", NULL, flags, sizeof flags));
    for (int run = 0; run < 3; run++) {
        if (run > 0)
            h_start_master (&s_cluster, s_dir_flags ("other-master", NULL, flags, sizeof flags));
        s_wait_healthy (2);
        rlog_client_t *client = h_client (&s_cluster.master);
        for (int i = run * count / 3; i < (run + 1) * count / 3; i++) {
            char text[32];
            snprintf (text, sizeof text, "other-%d", i + 1);
            rlog_append_result_t result;
            cr_assert_eq (rlog_client_append (client, text, strlen (text), 2, 5000, &result),
                          RLOG_OK, "%s", rlog_client_error (client));
        }
        rlog_client_destroy (&client);
        h_stop (&s_cluster.master, SIGTERM);
    }
    h_stop (&s_cluster.secondaries[1], SIGTERM);
    s_shell ("cp -a %s/other-s2.data %s/s2.data", s_cluster.dir, s_cluster.dir);
}

//  Our cluster (master and s1 on fresh data dirs, COUNT entries "e.." with
//  s1), then s2 on the foreign copy with S2_MORE flags. Returns the byte
//  offsets of the master's and s2's log files before this start.
static void s_start_with_foreign_s2 (int count, const char *s2_more, long *master_from,
                                     long *s2_from)
{
    char flags[512];
    *master_from = s_file_size (s_cluster.master.log_path);
    *s2_from = s_file_size (s_cluster.secondaries[1].log_path);
    h_start_master (&s_cluster, s_dir_flags ("master", NULL, flags, sizeof flags));
    h_start_secondary (&s_cluster, 0, s_dir_flags ("s1", NULL, flags, sizeof flags));
    s_wait_healthy (2);
    s_append_n (1, count, 2);
    h_start_secondary (&s_cluster, 1, s_dir_flags ("s2", s2_more, flags, sizeof flags));
}

//  11.1 (a): a secondary whose data dir holds another cluster's history,
//  with larger epochs, is refused with a line on both sides, is never
//  counted toward w, and keeps its log.
Test (durable, foreign_secondary_is_refused_and_never_counted)
{
    h_cluster_init (&s_cluster, 2, 50);
    s_foreign_s2 (30);
    long master_from, s2_from;
    s_start_with_foreign_s2 (5, NULL, &master_from, &s2_from);
    char line[1024];
    s_expect_line (&s_cluster.master, master_from, "holds another history", line, sizeof line);
    cr_assert (strstr (line, "'s2'") && strstr (line, "--discard-foreign-log"), "%s", line);
    s_expect_line (&s_cluster.secondaries[1], s2_from, "holds another history", line, sizeof line);
    cr_assert (h_wait_status (&s_cluster.secondaries[1], s_pred_mode, "refused", 10000),
               "s2 never said it does not follow");
    rlog_status_t s2;
    s_status (&s_cluster.secondaries[1], &s2);
    cr_assert (strstr (s2.reason, "another history"), "s2 refused for: %s", s2.reason);
    cr_assert_eq (s2.head, 30, "s2 changed its log: head %llu", (unsigned long long)s2.head);

    //  Never counted: w=3 times out with 2 of 3, w=2 (s1) succeeds.
    rlog_client_t *client = h_client (&s_cluster.master);
    rlog_append_result_t result;
    int rc = rlog_client_append (client, "w3", 2, 3, 500, &result);
    cr_assert_eq (rc, RLOG_TIMEOUT, "w=3 with a foreign s2: %s (%s)", rlog_strerror (rc),
                  rlog_client_error (client));
    cr_assert_eq (result.acks, 2);
    cr_assert (strstr (rlog_client_error (client), "2 of 3"), "%s", rlog_client_error (client));
    cr_assert_eq (rlog_client_append (client, "w2", 2, 2, 5000, &result), RLOG_OK);
    cr_assert_eq (result.acks, 2);
    rlog_client_destroy (&client);
    rlog_status_t master;
    s_status (&s_cluster.master, &master);
    cr_assert_str_neq (s_peer (&master, "s2")->state, "healthy");
    cr_assert_eq (s_peer (&master, "s2")->acked, 0);
    cr_assert_eq (master.healthy, 2);
    cr_assert_str_neq (master.history, s2.history);
    //  s2 kept the other cluster's entries; it serves none of ours.
    h_list_t list;
    cr_assert_eq (h_list (&s_cluster.secondaries[1], &list), RLOG_OK);
    cr_assert_eq (list.count, 30);
    cr_assert_str_eq (list.items[0], "other-1");
    cr_assert_str_eq (list.items[29], "other-30");
    h_list_free (&list);
}

static bool s_pred_following (const rlog_status_t *status, void *arg)
{
    return streq (status->mode, "following") && status->head >= *(uint64_t *)arg;
}

//  11.1 (b): the same secondary started with --discard-foreign-log moves
//  its whole log into DIR/rollback-foreign-*.log, joins empty and catches up.
Test (durable, foreign_secondary_discards_into_rollback_and_catches_up)
{
    h_cluster_init (&s_cluster, 2, 50);
    s_foreign_s2 (30);
    long master_from, s2_from;
    s_start_with_foreign_s2 (5, "--discard-foreign-log", &master_from, &s2_from);
    char line[1024];
    s_expect_line (&s_cluster.secondaries[1], s2_from, "discarding this node's log", line,
                   sizeof line);
    uint64_t five = 5;
    cr_assert (h_wait_status (&s_cluster.secondaries[1], s_pred_following, &five, 15000),
               "s2 never followed after discarding its log");
    char dir[300], rollback[700];
    snprintf (dir, sizeof dir, "%s/s2.data", s_cluster.dir);
    cr_assert (s_find_file (dir, "rollback-foreign-", rollback, sizeof rollback),
               "no rollback-foreign-* file in %s", dir);
    h_list_t old;
    cr_assert_eq (s_read_records (rollback, &old), 1);
    cr_assert_eq (old.count, 30, "the rollback file holds %zu entries", old.count);
    for (int i = 0; i < 30; i++) {
        char text[32];
        snprintf (text, sizeof text, "other-%d", i + 1);
        cr_assert_str_eq (old.items[i], text);
    }
    h_list_free (&old);
    //  It is one of ours now: same history, same log, counted toward w.
    rlog_status_t master, s2;
    s_status (&s_cluster.master, &master);
    s_status (&s_cluster.secondaries[1], &s2);
    cr_assert_str_eq (s2.history, master.history);
    s_assert_same_log (&s_cluster.master, &s_cluster.secondaries[1]);
    rlog_client_t *client = h_client (&s_cluster.master);
    rlog_append_result_t result;
    cr_assert_eq (rlog_client_append (client, "all three", 9, 3, 5000, &result), RLOG_OK, "%s",
                  rlog_client_error (client));
    cr_assert_eq (result.acks, 3);
    cr_assert_eq (result.seq, 6);
    rlog_client_destroy (&client);
    s_wait_head (&s_cluster.secondaries[1], 6);
    s_assert_same_log (&s_cluster.master, &s_cluster.secondaries[1]);
}

//  11.1 (c): a master restarted on an EMPTY data dir starts a new history;
//  the secondary holding the old one refuses to follow it and keeps its
//  log, and the master, without its quorum, takes no appends.
Test (durable, master_on_an_empty_disk_starts_a_new_history)
{
    char flags[512], line[1024];
    h_cluster_init (&s_cluster, 1, 50);
    h_start_master (&s_cluster, s_dir_flags ("master", NULL, flags, sizeof flags));
    h_start_secondary (&s_cluster, 0, s_dir_flags ("s1", NULL, flags, sizeof flags));
    s_wait_healthy (2);
    s_append_n (1, 20, 2);
    rlog_status_t before;
    s_status (&s_cluster.master, &before);
    cr_assert_eq (strlen (before.history), 32, "history '%s'", before.history);
    long master_from = s_file_size (s_cluster.master.log_path);
    long s1_from = s_file_size (s_cluster.secondaries[0].log_path);
    h_stop (&s_cluster.master, SIGKILL);
    h_start_master (&s_cluster, s_dir_flags ("master-new", NULL, flags, sizeof flags));
    s_expect_line (&s_cluster.master, master_from, "holds another history", line, sizeof line);
    s_expect_line (&s_cluster.secondaries[0], s1_from, "holds another history", line, sizeof line);
    cr_assert (h_wait_status (&s_cluster.secondaries[0], s_pred_mode, "refused", 10000));
    rlog_status_t master, s1;
    s_status (&s_cluster.master, &master);
    s_status (&s_cluster.secondaries[0], &s1);
    cr_assert_str_neq (master.history, before.history, "an empty master kept the old history");
    cr_assert_eq (strlen (master.history), 32);
    cr_assert_str_eq (s1.history, before.history);
    cr_assert_eq (s1.head, 20);
    cr_assert (strstr (s1.reason, "another history"), "%s", s1.reason);
    cr_assert_eq (master.head, 0);
    cr_assert_str_eq (master.mode, "read-only");
    cr_assert (strstr (master.reason, "1 of 2 nodes healthy"), "%s", master.reason);
    cr_assert_eq (s_peer (&master, "s1")->acked, 0);
    rlog_client_t *client = h_client (&s_cluster.master);
    rlog_append_result_t result;
    cr_assert_eq (rlog_client_append (client, "x", 1, 1, 0, &result), RLOG_READ_ONLY);
    rlog_client_destroy (&client);
    h_list_t list;
    cr_assert_eq (h_list (&s_cluster.secondaries[0], &list), RLOG_OK);
    cr_assert_eq (list.count, 20);
    cr_assert_str_eq (list.items[19], "e20");
    h_list_free (&list);
}

static bool s_pred_shorter (const rlog_status_t *status, void *arg)
{
    (void)arg;
    return streq (status->mode, "read-only") && strstr (status->reason, "log shorter than");
}

//  11.1 (d): a master restored from an OLDER copy of its own data dir (same
//  history, fewer entries than its secondary) stays read-only, saying so,
//  until it is started with --accept-shorter-log; then the secondary keeps
//  the common prefix and moves the rest to a rollback file.
Test (durable, master_restored_from_an_older_copy_waits_for_accept_shorter)
{
    char flags[512], line[1024];
    h_cluster_init (&s_cluster, 1, 50);
    h_start_master (&s_cluster, s_dir_flags ("master", NULL, flags, sizeof flags));
    h_start_secondary (&s_cluster, 0, s_dir_flags ("s1", NULL, flags, sizeof flags));
    s_wait_healthy (2);
    s_append_n (1, 10, 2);
    h_stop (&s_cluster.master, SIGTERM);
    s_shell ("cp -a %s/master.data %s/master-old.data", s_cluster.dir, s_cluster.dir);
    h_start_master (&s_cluster, s_dir_flags ("master", NULL, flags, sizeof flags));
    s_wait_healthy (2);
    s_append_n (11, 10, 2);
    s_wait_head (&s_cluster.secondaries[0], 20);
    h_stop (&s_cluster.master, SIGTERM);

    long from = s_file_size (s_cluster.master.log_path);
    h_start_master (&s_cluster, s_dir_flags ("master-old", NULL, flags, sizeof flags));
    cr_assert (h_wait_status (&s_cluster.master, s_pred_shorter, NULL, 10000),
               "the restored master did not refuse to lead a shorter log");
    rlog_status_t master;
    s_status (&s_cluster.master, &master);
    cr_assert (strstr (master.reason, "secondary 's1' (10 vs 20 entries)"), "%s", master.reason);
    cr_assert (strstr (master.reason, "--accept-shorter-log"), "%s", master.reason);
    s_expect_line (&s_cluster.master, from, "refusing to serve as master", line, sizeof line);
    rlog_client_t *client = h_client (&s_cluster.master);
    rlog_append_result_t result;
    cr_assert_eq (rlog_client_append (client, "x", 1, 1, 0, &result), RLOG_READ_ONLY);
    cr_assert (strstr (rlog_client_error (client), "shorter"), "%s", rlog_client_error (client));
    rlog_client_destroy (&client);
    rlog_status_t s1;
    s_status (&s_cluster.secondaries[0], &s1);
    cr_assert_eq (s1.head, 20, "s1 gave up entries before the operator said so");

    //  The operator accepts the shorter log.
    h_stop (&s_cluster.master, SIGTERM);
    long s1_from = s_file_size (s_cluster.secondaries[0].log_path);
    h_start_master (&s_cluster,
                    s_dir_flags ("master-old", "--accept-shorter-log", flags, sizeof flags));
    s_wait_healthy (2);
    s_expect_line (&s_cluster.secondaries[0], s1_from, "joined master epoch", line, sizeof line);
    cr_assert (strstr (line, "have 10 entries"), "%s", line);
    s_append_n (21, 1, 2);
    s_wait_head (&s_cluster.secondaries[0], 11);
    h_list_t list;
    cr_assert_eq (h_list (&s_cluster.secondaries[0], &list), RLOG_OK);
    cr_assert_eq (list.count, 11);
    cr_assert_str_eq (list.items[9], "e10");
    cr_assert_str_eq (list.items[10], "e21");
    h_list_free (&list);
    s_assert_same_log (&s_cluster.master, &s_cluster.secondaries[0]);
    char dir[300], rollback[700];
    snprintf (dir, sizeof dir, "%s/s1.data", s_cluster.dir);
    cr_assert (s_find_file (dir, "rollback-", rollback, sizeof rollback), "no rollback file");
    h_list_t cut;
    cr_assert_eq (s_read_records (rollback, &cut), 11);
    cr_assert_eq (cut.count, 10);
    cr_assert_str_eq (cut.items[0], "e11");
    cr_assert_str_eq (cut.items[9], "e20");
    h_list_free (&cut);
}

//  11.1 (e): every start of a master takes an epoch above all it has seen
//  or taken, persisted: small integers that only grow, whatever the clock
//  says, whether it stopped cleanly or was killed.
Test (durable, epochs_only_grow_across_restarts)
{
    char flags[512];
    h_cluster_init (&s_cluster, 0, 50);
    uint64_t last = 0;
    for (int run = 0; run < 4; run++) {
        h_start_master (&s_cluster, s_dir_flags ("master", NULL, flags, sizeof flags));
        s_wait_healthy (1);
        rlog_status_t status;
        s_status (&s_cluster.master, &status);
        cr_assert_gt (status.epoch, last, "run %d: epoch %llu after %llu", run,
                      (unsigned long long)status.epoch, (unsigned long long)last);
        cr_assert_lt (status.epoch, 100, "epoch %llu is not a count of epochs",
                      (unsigned long long)status.epoch);
        s_append_n (run + 1, 1, 1);
        s_status (&s_cluster.master, &status);
        cr_assert_eq (status.last_epoch, status.epoch, "the new entry is of epoch %llu",
                      (unsigned long long)status.last_epoch);
        last = status.epoch;
        h_stop (&s_cluster.master, run % 2 ? SIGKILL : SIGTERM);
    }
}
