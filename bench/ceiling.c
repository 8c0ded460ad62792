/*  ceiling.c - the transport ceiling rlog's replication is measured against.

    The smallest program that does what rlog's replication path does on the
    wire, and nothing else: one PUB publishes sequenced frames [seq:8][payload]
    to two subscriber processes, each of which ACKs back over DEALER -> ROUTER
    with the highest seq it has received (cumulative: after draining whatever
    is readable, one ACK). The publisher keeps at most WINDOW frames beyond
    the lowest ACK in flight. A frame counts as done when both subscribers
    have ACKed it (the analogue of w=3). No log, no checks, no encoding.

    Subscribers are separate processes (this binary re-executed with --child),
    like rlog's secondaries, each with its own ZeroMQ context and I/O thread.
    Everything is on 127.0.0.1 with kernel-chosen ports.

    usage: ceiling [--payload B] [--window W] [--seconds S] [--warmup S]
    prints the bench_util.h result line; --window 1 measures the round trip.
*/
#include "bench_util.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define SUBSCRIBERS 2
#define STOP_SEQ    UINT64_MAX
#define FRAME_MAX   (8 + 4 * 1024 * 1024)

static void s_die (const char *what)
{
    fprintf (stderr, "ceiling: %s: %s\n", what, zmq_strerror (zmq_errno ()));
    exit (1);
}

static int s_child (int id, const char *pub_ep, const char *router_ep)
{
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    void *ctx = zmq_ctx_new ();
    void *sub = zmq_socket (ctx, ZMQ_SUB);
    void *dealer = zmq_socket (ctx, ZMQ_DEALER);
    if (!sub || !dealer)
        s_die ("socket");
    int zero = 0;
    char rid[8];
    snprintf (rid, sizeof rid, "s%d", id);
    zmq_setsockopt (sub, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "", 0);
    zmq_setsockopt (sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (dealer, ZMQ_ROUTING_ID, rid, strlen (rid));
    zmq_setsockopt (dealer, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt (dealer, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect (sub, pub_ep) != 0 || zmq_connect (dealer, router_ep) != 0)
        s_die ("connect");
    uint8_t *buf = (uint8_t *)malloc (FRAME_MAX);
    if (!buf)
        return 1;
    bool stop = false;
    while (!stop) {
        int n = zmq_recv (sub, buf, FRAME_MAX, 0);
        if (n < 8) {
            if (n < 0 && zmq_errno () != EINTR)
                break;
            continue;
        }
        uint64_t seq, highest;
        memcpy (&highest, buf, 8);
        if (highest == STOP_SEQ)
            break;
        //  Drain what is already here, then one cumulative ACK.
        while ((n = zmq_recv (sub, buf, FRAME_MAX, ZMQ_DONTWAIT)) >= 8) {
            memcpy (&seq, buf, 8);
            if (seq == STOP_SEQ) {
                stop = true;
                break;
            }
            highest = seq;
        }
        if (zmq_send (dealer, &highest, 8, 0) != 8)
            break;
    }
    free (buf);
    zmq_close (sub);
    zmq_close (dealer);
    zmq_ctx_term (ctx);
    return 0;
}

static void s_bind (void *sock, char *endpoint, size_t size)
{
    if (zmq_bind (sock, "tcp://127.0.0.1:*") != 0)
        s_die ("bind");
    if (zmq_getsockopt (sock, ZMQ_LAST_ENDPOINT, endpoint, &size) != 0)
        s_die ("last endpoint");
}

static void s_publish (void *pub, uint8_t *frame, size_t size, uint64_t seq)
{
    memcpy (frame, &seq, 8);
    if (zmq_send (pub, frame, size, 0) < 0)
        s_die ("publish");
}

//  Read every ACK that is readable; true if at least one arrived.
static bool s_read_acks (void *router, uint64_t *acked, bool *seen)
{
    bool any = false;
    for (;;) {
        char id[16];
        uint64_t seq;
        int n = zmq_recv (router, id, sizeof id, ZMQ_DONTWAIT);
        if (n < 0)
            return any;
        int more = 0;
        size_t more_size = sizeof more;
        zmq_getsockopt (router, ZMQ_RCVMORE, &more, &more_size);
        if (!more)
            continue;
        int body = zmq_recv (router, &seq, sizeof seq, 0);
        int who = n == 2 ? id[1] - '1' : -1;
        if (body == 8 && who >= 0 && who < SUBSCRIBERS) {
            if (seq != STOP_SEQ && seq > acked[who])
                acked[who] = seq;
            seen[who] = true;
            any = true;
        }
    }
}

int main (int argc, char **argv)
{
    if (argc == 5 && strcmp (argv[1], "--child") == 0)
        return s_child (atoi (argv[2]), argv[3], argv[4]);

    size_t payload = 64;
    uint64_t window = 1000;
    double seconds = 2.0, warmup = 0.5;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val) {
            fprintf (stderr, "usage: ceiling [--payload B] [--window W] [--seconds S] "
                             "[--warmup S]\n");
            return 2;
        }
        if (strcmp (arg, "--payload") == 0)
            payload = (size_t)atol (val);
        else if (strcmp (arg, "--window") == 0)
            window = (uint64_t)atol (val);
        else if (strcmp (arg, "--seconds") == 0)
            seconds = atof (val);
        else if (strcmp (arg, "--warmup") == 0)
            warmup = atof (val);
        else {
            fprintf (stderr, "ceiling: unknown option %s\n", arg);
            return 2;
        }
        i++;
    }
    if (payload < 1 || payload + 8 > FRAME_MAX || window < 1 || seconds <= 0) {
        fprintf (stderr, "ceiling: bad arguments\n");
        return 2;
    }

    void *ctx = zmq_ctx_new ();
    void *pub = zmq_socket (ctx, ZMQ_PUB);
    void *router = zmq_socket (ctx, ZMQ_ROUTER);
    if (!pub || !router)
        s_die ("socket");
    int zero = 0;
    zmq_setsockopt (pub, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt (pub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (router, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt (router, ZMQ_LINGER, &zero, sizeof zero);
    char pub_ep[256], router_ep[256];
    s_bind (pub, pub_ep, sizeof pub_ep);
    s_bind (router, router_ep, sizeof router_ep);

    pid_t children[SUBSCRIBERS];
    for (int i = 0; i < SUBSCRIBERS; i++) {
        char id[8];
        snprintf (id, sizeof id, "%d", i + 1);
        children[i] = fork ();
        if (children[i] == 0) {
            char *args[] = {argv[0], (char *)"--child", id, pub_ep, router_ep, NULL};
            execv ("/proc/self/exe", args);
            _exit (127);
        }
        if (children[i] < 0) {
            perror ("ceiling: fork");
            return 1;
        }
    }

    size_t frame_size = 8 + payload;
    uint8_t *frame = (uint8_t *)malloc (frame_size);
    size_t ring_size = 1;
    while (ring_size < window)
        ring_size <<= 1;
    uint64_t *sent = (uint64_t *)calloc (ring_size, sizeof (uint64_t));
    bench_lat_t lat;
    if (!frame || !sent || bench_lat_init (&lat, 1u << 22) != 0)
        return 1;
    bench_fill_payload (frame + 8, payload);

    //  Slow joiner: publish seq 0 until both subscribers have answered.
    uint64_t acked[SUBSCRIBERS] = {0};
    bool seen[SUBSCRIBERS] = {false};
    int rc = 0;
    uint64_t give_up = bench_now_ns () + 10000000000ull;
    zmq_pollitem_t item = {router, 0, ZMQ_POLLIN, 0};
    while (!(seen[0] && seen[1])) {
        if (bench_now_ns () > give_up) {
            fprintf (stderr, "ceiling: subscribers did not answer\n");
            rc = 1;
            goto done;
        }
        s_publish (pub, frame, frame_size, 0);
        zmq_poll (&item, 1, 10);
        s_read_acks (router, acked, seen);
    }

    uint64_t next = 1, done_seq = 0, completed = 0;
    uint64_t t_begin = bench_now_ns () + (uint64_t)(warmup * 1e9);
    uint64_t t_end = t_begin + (uint64_t)(seconds * 1e9);
    for (;;) {
        while (next - 1 - done_seq < window) {
            sent[next & (ring_size - 1)] = bench_now_ns ();
            s_publish (pub, frame, frame_size, next++);
        }
        if (zmq_poll (&item, 1, 2000) <= 0) {
            fprintf (stderr, "ceiling: no ACK for 2 s\n");
            rc = 1;
            goto done;
        }
        s_read_acks (router, acked, seen);
        uint64_t low = acked[0] < acked[1] ? acked[0] : acked[1];
        uint64_t now = bench_now_ns ();
        if (now >= t_end)
            break;
        if (now >= t_begin)
            for (uint64_t s = done_seq + 1; s <= low; s++) {
                bench_lat_push (&lat, now - sent[s & (ring_size - 1)]);
                completed++;
            }
        if (low > done_seq)
            done_seq = low;
    }
    bench_print_result (&lat, completed, seconds, payload, 0);

done:
    for (int round = 0; round < 20; round++) {
        s_publish (pub, frame, frame_size, STOP_SEQ);
        bool all = true;
        for (int i = 0; i < SUBSCRIBERS; i++)
            if (children[i] > 0) {
                if (waitpid (children[i], NULL, WNOHANG) == children[i])
                    children[i] = 0;
                else
                    all = false;
            }
        if (all)
            break;
        bench_sleep_ms (50);
    }
    for (int i = 0; i < SUBSCRIBERS; i++)
        if (children[i] > 0) {
            kill (children[i], SIGKILL);
            waitpid (children[i], NULL, 0);
        }
    bench_lat_free (&lat);
    free (frame);
    free (sent);
    zmq_close (pub);
    zmq_close (router);
    zmq_ctx_term (ctx);
    return rc;
}
