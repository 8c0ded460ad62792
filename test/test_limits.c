/*  test_limits.c - what a node promises about its own resources under
    load: memory stays bounded while one client pipelines large appends
    without reading a reply, heartbeats and other clients keep being
    answered meanwhile; past the connection limit new connections are
    refused, the node does not spin, says so in its log, and the clients
    already connected keep being served.
*/
#include "harness.h"
#include "proto.h"
#include <criterion/criterion.h>
#include <czmq.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>

static h_cluster_t s_cluster;

static void s_teardown (void)
{
    h_cluster_destroy (&s_cluster);
}

TestSuite (limits, .fini = s_teardown, .timeout = 120.0);

//  Resident memory of PID in MiB (0 if it cannot be read).
static long s_rss_mb (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen (path, "r");
    long kb = 0;
    while (f && fgets (line, sizeof line, f))
        if (sscanf (line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose (f);
    return kb / 1024;
}

//  CPU time of PID so far, in clock ticks.
static long s_cpu_ticks (pid_t pid)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen (path, "r");
    long utime = 0, stime = 0;
    if (f) {
        cr_assert_eq (fscanf (f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld",
                              &utime, &stime),
                      2);
        fclose (f);
    }
    return utime + stime;
}

//  Lines of FILE that contain TEXT.
static int s_log_count (const char *file, const char *text)
{
    FILE *f = fopen (file, "r");
    char line[1024];
    int found = 0;
    while (f && fgets (line, sizeof line, f))
        found += strstr (line, text) != NULL;
    if (f)
        fclose (f);
    return found;
}

static bool s_log_has (const char *file, const char *text)
{
    return s_log_count (file, text) > 0;
}

typedef struct {
    int port;
    int count;
    size_t size;
    atomic_int sent;
    atomic_bool done;
} flood_t;

//  A client that sends COUNT appends of SIZE bytes at w=1 and never reads
//  a reply. Its sends block when the node stops reading (backpressure), so
//  each has a timeout: the thread ends within a bounded time whatever.
static void *s_flood (void *arg)
{
    flood_t *f = (flood_t *)arg;
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_linger (dealer, 0);
    zsock_set_sndtimeo (dealer, 200);
    zsock_set_rcvtimeo (dealer, 5000);
    cr_assert_eq (zsock_connect (dealer, "tcp://127.0.0.1:%d", f->port), 0);
    proto_encoder_t *enc = proto_encoder_new ();
    proto_decoder_t *dec = proto_decoder_new (1 << 20);
    proto_msg_t open = {.type = PROTO_OPEN}, rep;
    cr_assert_eq (proto_encode (enc, &open), 0);
    zmq_send (zsock_resolve (dealer), proto_encoder_data (enc), proto_encoder_size (enc), 0);
    zframe_t *frame = zframe_recv (dealer);
    cr_assert (frame);
    cr_assert_eq (proto_decode (dec, zframe_data (frame), zframe_size (frame), &rep), 0);
    uint8_t id[PROTO_CLIENT_ID_SIZE];
    memcpy (id, rep.client_id, sizeof id);
    zframe_destroy (&frame);
    uint8_t *payload = (uint8_t *)malloc (f->size);
    cr_assert (payload);
    memset (payload, 'x', f->size);
    int64_t deadline = zclock_mono () + 20000;
    for (int i = 0; i < f->count && zclock_mono () < deadline;) {
        proto_msg_t append = {.type = PROTO_APPEND,
                              .client_id = id,
                              .client_id_size = sizeof id,
                              .req_id = (uint64_t)i + 1,
                              .w = 1,
                              .data = payload,
                              .size = f->size};
        cr_assert_eq (proto_encode (enc, &append), 0);
        if (zmq_send (zsock_resolve (dealer), proto_encoder_data (enc), proto_encoder_size (enc),
                      0) >= 0) {
            i++;
            atomic_fetch_add (&f->sent, 1);
        }
    }
    free (payload);
    proto_encoder_destroy (&enc);
    proto_decoder_destroy (&dec);
    zsock_destroy (&dealer);
    atomic_store (&f->done, true);
    return NULL;
}

//  The bound README states for one such client with 1 MiB messages: the
//  client socket's queue (32 MiB), a turn's drain (8 MiB), the write buffer,
//  and the queues toward the two secondaries (16 frames each on the PUB and
//  the peer socket). Sanitizers add their own shadow memory.
#if defined(__SANITIZE_ADDRESS__)
#define RSS_BOUND_MB 1024
#else
#define RSS_BOUND_MB 256
#endif

Test (limits, large_appends_pipelined_without_reading_stay_bounded)
{
    h_cluster_init (&s_cluster, 2, 200);
    char extra[512];
    snprintf (extra, sizeof extra, "--data-dir %s/m --fsync never", s_cluster.dir);
    cr_assert (h_start_master (&s_cluster, extra));
    for (int i = 0; i < 2; i++) {
        snprintf (extra, sizeof extra, "--data-dir %s/s%d --fsync never", s_cluster.dir, i + 1);
        cr_assert (h_start_secondary (&s_cluster, i, extra));
    }
    int healthy = 3;
    cr_assert (h_wait_status (&s_cluster.master, h_pred_healthy, &healthy, 15000));
    flood_t flood = {.port = s_cluster.master.client_port, .count = 400, .size = 1024 * 1024};
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_flood, &flood), 0);
    rlog_client_t *probe = h_client (&s_cluster.master);
    long peak = 0;
    int64_t worst = 0, read_only_since = -1, longest_read_only = 0;
    int probes = 0;
    while (!atomic_load (&flood.done) || probes < 20) {
        char text[32];
        int len = snprintf (text, sizeof text, "probe %d", probes);
        int64_t start = zclock_mono ();
        rlog_append_result_t result;
        int rc = rlog_client_append (probe, text, (size_t)len, 1, 0, &result);
        //  Answered, one way or the other: a disk that stalls a node for a
        //  second can make it look silent (read-only), never unanswering.
        cr_assert (rc == RLOG_OK || rc == RLOG_READ_ONLY, "probe %d: %s", probes,
                   rlog_client_error (probe));
        int64_t now = zclock_mono ();
        worst = now - start > worst ? now - start : worst;
        if (rc == RLOG_READ_ONLY && read_only_since < 0)
            read_only_since = start;
        if (rc == RLOG_OK)
            read_only_since = -1;
        if (read_only_since >= 0 && now - read_only_since > longest_read_only)
            longest_read_only = now - read_only_since;
        long rss = s_rss_mb (s_cluster.master.pid);
        peak = rss > peak ? rss : peak;
        probes++;
        zclock_sleep (100); //  a probe every 100 ms is what is being measured
    }
    pthread_join (thread, NULL);
    rlog_client_destroy (&probe);
    cr_assert_gt (atomic_load (&flood.sent), 100, "the flood hardly started");
    cr_assert_lt (peak, RSS_BOUND_MB, "master RSS peaked at %ld MB", peak);
    cr_assert_lt (worst, 5000, "a probe waited %lld ms", (long long)worst);
    //  Heartbeats kept flowing both ways: never read-only for long.
    cr_assert_lt (longest_read_only, 3000, "read-only for %lld ms during the flood",
                  (long long)longest_read_only);
}

//  Open COUNT TCP connections to PORT that never say a word (half-open as
//  far as ZeroMQ is concerned). Returns how many were made.
static int s_half_open (int port, int *fds, int count)
{
    int made = 0;
    for (int i = 0; i < count; i++) {
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons ((uint16_t)port)};
        addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        if (fd >= 0 && connect (fd, (struct sockaddr *)&addr, sizeof addr) == 0)
            fds[made++] = fd;
        else if (fd >= 0)
            close (fd);
    }
    return made;
}

Test (limits, connection_limit_refuses_new_ones_and_serves_the_others)
{
    h_cluster_init (&s_cluster, 0, 100);
    cr_assert (h_start_master (&s_cluster, "--max-connections 20"));
    rlog_client_t *client = h_client (&s_cluster.master);
    rlog_append_result_t result;
    cr_assert_eq (rlog_client_append (client, "before", 6, 1, 0, &result), RLOG_OK);
    int fds[300];
    int made = s_half_open (s_cluster.master.client_port, fds, 300);
    cr_assert_gt (made, 100);
    //  The node says why it refuses, and does not spin on it.
    int64_t deadline = zclock_mono () + 10000;
    while (!s_log_has (s_cluster.master.log_path, "the connection limit (--max-connections)") &&
           zclock_mono () < deadline)
        zclock_sleep (50);
    cr_assert (s_log_has (s_cluster.master.log_path, "the connection limit (--max-connections)"));
    long before = s_cpu_ticks (s_cluster.master.pid);
    zclock_sleep (2000); //  the interval over which CPU use is measured
    long used = s_cpu_ticks (s_cluster.master.pid) - before;
    long hz = sysconf (_SC_CLK_TCK);
    cr_assert_lt (used, hz, "the master used %ld ticks of CPU in 2 s (%ld per s)", used, hz);
    //  The client connected before is served meanwhile.
    cr_assert_eq (rlog_client_append (client, "during", 6, 1, 0, &result), RLOG_OK, "%s",
                  rlog_client_error (client));
    for (int i = 0; i < made; i++)
        close (fds[i]);
    //  Once they are gone, new clients get in again.
    rlog_client_t *late = h_client (&s_cluster.master);
    rlog_client_set_retry (late, 500, 20);
    cr_assert_eq (rlog_client_append (late, "after", 5, 1, 0, &result), RLOG_OK, "%s",
                  rlog_client_error (late));
    rlog_client_destroy (&late);
    rlog_client_destroy (&client);
}
