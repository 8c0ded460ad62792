/*  test_security.c - CURVE on a live cluster: who may connect, and a node id
    bound to the key that first claimed it.
*/
#include "harness.h"
#include <criterion/criterion.h>
#include <czmq.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

static h_cluster_t s_cluster;

static void s_teardown (void)
{
    h_cluster_destroy (&s_cluster);
}

TestSuite (security, .fini = s_teardown, .timeout = 60.0);

static void s_keygen (const char *name, bool allow)
{
    char path[300];
    zcert_t *cert = zcert_new ();
    cr_assert_not_null (cert);
    snprintf (path, sizeof path, "%s/%s", s_cluster.dir, name);
    cr_assert_eq (zcert_save (cert, path), 0);
    if (allow) {
        snprintf (path, sizeof path, "%s/allow/%s", s_cluster.dir, name);
        cr_assert_eq (zcert_save_public (cert, path), 0);
    }
    zcert_destroy (&cert);
}

static rlog_client_t *s_curve_client (const h_node_t *node, const char *who, const char *server)
{
    rlog_client_t *client = h_client (node);
    char secret[300], key[300];
    snprintf (secret, sizeof secret, "%s/%s", s_cluster.dir, who);
    snprintf (key, sizeof key, "%s/%s", s_cluster.dir, server);
    cr_assert_eq (rlog_client_set_curve (client, secret, key), RLOG_OK, "%s",
                  rlog_client_error (client));
    return client;
}

static const char *s_flags (const char *who, bool secondary, char *buf, size_t size)
{
    snprintf (buf, size, "--curve-secret %s/%s --curve-allow %s/allow%s%s%s", s_cluster.dir, who,
              s_cluster.dir, secondary ? " --master-key " : "", secondary ? s_cluster.dir : "",
              secondary ? "/master" : "");
    return buf;
}

static bool s_pred_ready (const rlog_status_t *status, void *arg)
{
    return status->healthy >= *(uint32_t *)arg && streq (status->mode, "read-write");
}

//  Poll the master's status through an authenticated client.
static bool s_wait_healthy (uint32_t nodes)
{
    rlog_client_t *client = s_curve_client (&s_cluster.master, "alice", "master");
    rlog_client_set_retry (client, 200, 1);
    int64_t deadline = zclock_mono () + 10000;
    bool ok = false;
    while (!ok && zclock_mono () < deadline) {
        rlog_status_t status;
        ok = rlog_client_status (client, &status) == RLOG_OK && s_pred_ready (&status, &nodes);
        if (!ok)
            zclock_sleep (20);
    }
    rlog_client_destroy (&client);
    return ok;
}

Test (security, only_allowed_keys_get_in)
{
    char flags[1200];
    h_cluster_init (&s_cluster, 2, 50);
    char allow[300];
    snprintf (allow, sizeof allow, "%s/allow", s_cluster.dir);
    cr_assert_eq (mkdir (allow, 0755), 0);
    s_keygen ("master", false);
    s_keygen ("s1", true);
    s_keygen ("s2", true);
    s_keygen ("alice", true);
    s_keygen ("mallory", false);
    h_start_master (&s_cluster, s_flags ("master", false, flags, sizeof flags));
    h_start_secondary (&s_cluster, 0, s_flags ("s1", true, flags, sizeof flags));
    h_start_secondary (&s_cluster, 1, s_flags ("s2", true, flags, sizeof flags));
    cr_assert (s_wait_healthy (3), "secondaries did not join over CURVE");

    rlog_client_t *alice = s_curve_client (&s_cluster.master, "alice", "master");
    rlog_append_result_t result;
    cr_assert_eq (rlog_client_append (alice, "secret", 6, 3, 5000, &result), RLOG_OK, "%s",
                  rlog_client_error (alice));
    cr_assert_eq (result.seq, 1);
    //  Reads from a secondary need a key too (its own public key as server).
    rlog_client_t *reader = s_curve_client (&s_cluster.secondaries[0], "alice", "s1");
    rlog_status_t status;
    cr_assert_eq (rlog_client_status (reader, &status), RLOG_OK, "%s", rlog_client_error (reader));
    rlog_client_destroy (&reader);

    //  No key, or a key not in the allow list: no answer at all.
    rlog_client_t *anon = h_client (&s_cluster.master);
    rlog_client_set_retry (anon, 200, 2);
    cr_assert_eq (rlog_client_append (anon, "x", 1, 1, 0, &result), RLOG_UNREACHABLE);
    rlog_client_destroy (&anon);
    rlog_client_t *mallory = s_curve_client (&s_cluster.master, "mallory", "master");
    rlog_client_set_retry (mallory, 200, 2);
    cr_assert_eq (rlog_client_append (mallory, "x", 1, 1, 0, &result), RLOG_UNREACHABLE);
    rlog_client_destroy (&mallory);

    //  An allowed key claiming s1's node id is refused; s1 keeps its place
    //  and its acks: a w=3 append still completes.
    h_node_t *impostor = &s_cluster.secondaries[2];
    snprintf (impostor->id, sizeof impostor->id, "s1");
    h_start_secondary (&s_cluster, 2, s_flags ("alice", true, flags, sizeof flags));
    int64_t deadline = zclock_mono () + 10000;
    bool refused = false;
    while (!refused && zclock_mono () < deadline) {
        FILE *f = fopen (s_cluster.master.log_path, "r");
        char line[1024];
        while (f && fgets (line, sizeof line, f))
            refused |= strstr (line, "node id 's1' is bound to another key") != NULL;
        if (f)
            fclose (f);
        if (!refused)
            zclock_sleep (50);
    }
    cr_assert (refused, "the impostor was not refused");
    cr_assert_eq (rlog_client_append (alice, "still fine", 10, 3, 5000, &result), RLOG_OK, "%s",
                  rlog_client_error (alice));
    cr_assert_eq (result.acks, 3);
    rlog_client_destroy (&alice);
}

//  Missing or invalid key files stop a node at start with a clear line.
Test (security, bad_key_files_are_clear_errors)
{
    char flags[1200];
    h_cluster_init (&s_cluster, 1, 50);
    char allow[300], bad[300];
    snprintf (allow, sizeof allow, "%s/allow", s_cluster.dir);
    cr_assert_eq (mkdir (allow, 0755), 0);
    snprintf (bad, sizeof bad, "%s/garbage_secret", s_cluster.dir);
    FILE *f = fopen (bad, "w");
    fputs ("this is not a certificate\n", f);
    fclose (f);
    const char *cases[][2] = {{"missing", "not found"}, {"garbage", "not a valid CURVE"}};
    for (int i = 0; i < 2; i++) {
        h_start_master (&s_cluster, s_flags (cases[i][0], false, flags, sizeof flags));
        int status = 0;
        cr_assert_eq (waitpid (s_cluster.master.pid, &status, 0), s_cluster.master.pid);
        s_cluster.master.pid = 0;
        cr_assert (WIFEXITED (status) && WEXITSTATUS (status) != 0, "%s key accepted", cases[i][0]);
        FILE *log = fopen (s_cluster.master.log_path, "r");
        char line[1024];
        bool said = false;
        while (log && fgets (line, sizeof line, log))
            said |= strstr (line, cases[i][1]) != NULL;
        if (log)
            fclose (log);
        cr_assert (said, "no '%s' in the log for the %s key", cases[i][1], cases[i][0]);
    }
}
