/*  ideal.c - the raw-libzmq ideal: the least code that does rlog's whole job
    (issue 12) with libzmq, to measure rlog's clients against.

    K client threads (this process, one ZeroMQ context, like load's clients
    on librlog), each on its own DEALER with one append outstanding: it sends
    [req:8][payload] and waits for the reply before the next one. A master
    process (ROUTER for the clients) gives each append the next seq, keeps a
    copy of the payload in memory and publishes [seq:8][payload] on a PUB to
    two secondary processes; each secondary copies the payload into memory
    and ACKs that seq over DEALER -> ROUTER. Once both have ACKed (w=3) the
    master replies [seq:8] to the client. One message at a time everywhere:
    no log, no checks, no encoding, no batching beyond what the sockets do
    (rlog's master batches what this one forwards one by one).

    Every process is this binary re-executed (--master, --secondary), each
    with its own ZeroMQ context and I/O thread, as rlog's nodes are. All on
    127.0.0.1 with kernel-chosen ports; the master tells the driver its
    endpoints, then "ready" once both secondaries answered, over a pipe.

    usage: ideal [--clients K] [--payload B] [--seconds S] [--warmup S]
    prints the bench_util.h result line (latency: client send -> reply).
*/
#include "bench_util.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define SECONDARIES 2
#define FRAME_MAX   (8 + 4 * 1024 * 1024)
#define PENDING     1024                //  > clients: each has one append outstanding
#define STORE_BYTES (64u * 1024 * 1024) //  in-memory store, reused when full

static void s_die (const char *who, const char *what)
{
    fprintf (stderr, "ideal %s: %s: %s\n", who, what, zmq_strerror (zmq_errno ()));
    exit (1);
}

//  The "log": payloads copied one after the other, wrapping at the end.
typedef struct {
    uint8_t *buf;
    size_t at;
} store_t;

static void s_store (store_t *store, const uint8_t *data, size_t size)
{
    if (store->at + size > STORE_BYTES)
        store->at = 0;
    memcpy (store->buf + store->at, data, size);
    store->at += size;
}

static void *s_socket (void *ctx, int type, const char *who)
{
    void *sock = zmq_socket (ctx, type);
    if (!sock)
        s_die (who, "socket");
    int zero = 0;
    zmq_setsockopt (sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (sock, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt (sock, ZMQ_RCVHWM, &zero, sizeof zero);
    return sock;
}

//  ---------------------------------------------------------------------------
//  Secondary: store each published entry, ACK its seq.

static int s_secondary (int id, const char *pub_ep, const char *ack_ep)
{
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    void *ctx = zmq_ctx_new ();
    void *sub = s_socket (ctx, ZMQ_SUB, "secondary");
    void *dealer = s_socket (ctx, ZMQ_DEALER, "secondary");
    char rid[8];
    snprintf (rid, sizeof rid, "s%d", id);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "", 0);
    zmq_setsockopt (dealer, ZMQ_ROUTING_ID, rid, strlen (rid));
    if (zmq_connect (sub, pub_ep) != 0 || zmq_connect (dealer, ack_ep) != 0)
        s_die ("secondary", "connect");
    store_t store = {(uint8_t *)malloc (STORE_BYTES), 0};
    uint8_t *buf = (uint8_t *)malloc (FRAME_MAX);
    if (!store.buf || !buf)
        return 1;
    for (;;) {
        int n = zmq_recv (sub, buf, FRAME_MAX, 0);
        if (n < 8) {
            if (n < 0 && zmq_errno () != EINTR)
                break;
            continue;
        }
        s_store (&store, buf + 8, (size_t)n - 8);
        if (zmq_send (dealer, buf, 8, 0) != 8)
            break;
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  Master: client ROUTER in, PUB out, ACK ROUTER in; reply when both ACKed.

typedef struct {
    uint8_t rid[256]; //  the client's routing id
    size_t rid_size;
    int acks;
} pending_t;

static void s_bind (void *sock, char *endpoint, size_t size)
{
    if (zmq_bind (sock, "tcp://127.0.0.1:*") != 0)
        s_die ("master", "bind");
    if (zmq_getsockopt (sock, ZMQ_LAST_ENDPOINT, endpoint, &size) != 0)
        s_die ("master", "last endpoint");
}

//  Read one ACK [id][seq:8] if there is one; the seq, or -1 when none, or
//  the secondary's index in *WHO.
static int64_t s_read_ack (void *router, int flags, int *who)
{
    char id[16];
    uint64_t seq;
    int n = zmq_recv (router, id, sizeof id, flags);
    if (n < 0)
        return -1;
    int more = 0;
    size_t more_size = sizeof more;
    zmq_getsockopt (router, ZMQ_RCVMORE, &more, &more_size);
    if (!more || zmq_recv (router, &seq, sizeof seq, 0) != 8)
        return -1;
    *who = n == 2 ? id[1] - '1' : -1;
    return (int64_t)seq;
}

//  Slow joiners: publish seq 0 until both secondaries have ACKed it.
static void s_handshake (void *pub, void *acks)
{
    bool seen[SECONDARIES] = {false};
    uint64_t hello = 0;
    uint64_t give_up = bench_now_ns () + 10000000000ull;
    zmq_pollitem_t item = {acks, 0, ZMQ_POLLIN, 0};
    while (!(seen[0] && seen[1])) {
        if (bench_now_ns () > give_up) {
            fprintf (stderr, "ideal master: secondaries did not answer\n");
            exit (1);
        }
        zmq_send (pub, &hello, 8, 0);
        zmq_poll (&item, 1, 10);
        int who;
        while (s_read_ack (acks, ZMQ_DONTWAIT, &who) >= 0)
            if (who >= 0 && who < SECONDARIES)
                seen[who] = true;
    }
}

//  One client append, if one is readable: give it a seq, keep it, publish
//  it. False when none was.
static bool s_admit (void *clients, void *pub, store_t *store, pending_t *pending, uint64_t *next,
                     uint8_t *buf)
{
    pending_t *p = &pending[*next % PENDING];
    int n = zmq_recv (clients, p->rid, sizeof p->rid, ZMQ_DONTWAIT);
    if (n < 0)
        return false;
    p->rid_size = (size_t)n;
    int more = 0;
    size_t more_size = sizeof more;
    zmq_getsockopt (clients, ZMQ_RCVMORE, &more, &more_size);
    n = more ? zmq_recv (clients, buf, FRAME_MAX, 0) : -1;
    if (n < 8)
        return true;
    uint64_t seq = (*next)++;
    p->acks = 0;
    s_store (store, buf + 8, (size_t)n - 8);
    memcpy (buf, &seq, 8);
    if (zmq_send (pub, buf, (size_t)n, 0) < 0)
        s_die ("master", "publish");
    return true;
}

static int s_master (int fd)
{
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    void *ctx = zmq_ctx_new ();
    void *clients = s_socket (ctx, ZMQ_ROUTER, "master");
    void *pub = s_socket (ctx, ZMQ_PUB, "master");
    void *acks = s_socket (ctx, ZMQ_ROUTER, "master");
    char client_ep[256], pub_ep[256], ack_ep[256], line[800];
    s_bind (clients, client_ep, sizeof client_ep);
    s_bind (pub, pub_ep, sizeof pub_ep);
    s_bind (acks, ack_ep, sizeof ack_ep);
    int len = snprintf (line, sizeof line, "%s %s %s\n", client_ep, pub_ep, ack_ep);
    if (write (fd, line, (size_t)len) != len)
        return 1;
    s_handshake (pub, acks);
    if (write (fd, "ready\n", 6) != 6)
        return 1;
    close (fd);

    store_t store = {(uint8_t *)malloc (STORE_BYTES), 0};
    pending_t *pending = (pending_t *)calloc (PENDING, sizeof (pending_t));
    uint8_t *buf = (uint8_t *)malloc (FRAME_MAX);
    if (!store.buf || !pending || !buf)
        return 1;
    uint64_t next = 1;
    zmq_pollitem_t items[] = {{clients, 0, ZMQ_POLLIN, 0}, {acks, 0, ZMQ_POLLIN, 0}};
    for (;;) {
        if (zmq_poll (items, 2, -1) < 0) {
            if (zmq_errno () == EINTR)
                continue;
            break;
        }
        while (s_admit (clients, pub, &store, pending, &next, buf))
            ;
        int who;
        int64_t seq;
        while ((seq = s_read_ack (acks, ZMQ_DONTWAIT, &who)) >= 0) {
            pending_t *p = &pending[(uint64_t)seq % PENDING];
            if (seq == 0 || (uint64_t)seq >= next || ++p->acks != SECONDARIES)
                continue;
            zmq_send (clients, p->rid, p->rid_size, ZMQ_SNDMORE);
            zmq_send (clients, &seq, 8, 0);
        }
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  Clients and the driver

typedef struct {
    void *ctx;
    const char *endpoint;
    size_t payload;
    uint64_t t_begin, t_end;
    uint64_t completed;
    bool failed;
    bench_lat_t lat;
} client_t;

static void *s_client (void *arg)
{
    client_t *self = (client_t *)arg;
    void *dealer = s_socket (self->ctx, ZMQ_DEALER, "client");
    uint8_t *msg = (uint8_t *)malloc (8 + self->payload);
    if (!msg || zmq_connect (dealer, self->endpoint) != 0) {
        self->failed = true;
        free (msg);
        zmq_close (dealer);
        return NULL;
    }
    bench_fill_payload (msg + 8, self->payload);
    int timeout = 5000;
    zmq_setsockopt (dealer, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    for (uint64_t req = 1;; req++) {
        uint64_t seq, t0 = bench_now_ns ();
        memcpy (msg, &req, 8);
        if (zmq_send (dealer, msg, 8 + self->payload, 0) < 0 ||
            zmq_recv (dealer, &seq, sizeof seq, 0) != 8) {
            fprintf (stderr, "ideal client: no reply in 5 s\n");
            self->failed = true;
            break;
        }
        uint64_t t1 = bench_now_ns ();
        if (t1 >= self->t_end)
            break;
        if (t1 < self->t_begin)
            continue;
        self->completed++;
        bench_lat_push (&self->lat, t1 - t0);
    }
    free (msg);
    zmq_close (dealer);
    return NULL;
}

//  Read one line from FD within TIMEOUT_MS into LINE; false on timeout/EOF.
static bool s_read_line (int fd, char *line, size_t size, int timeout_ms)
{
    size_t have = 0;
    uint64_t give_up = bench_now_ns () + (uint64_t)timeout_ms * 1000000ull;
    while (have + 1 < size) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int left = (int)(((int64_t)give_up - (int64_t)bench_now_ns ()) / 1000000);
        if (left <= 0 || poll (&pfd, 1, left) <= 0 || read (fd, line + have, 1) != 1)
            return false;
        if (line[have] == '\n') {
            line[have] = 0;
            return true;
        }
        have++;
    }
    return false;
}

static pid_t s_spawn (char *const args[])
{
    pid_t pid = fork ();
    if (pid == 0) {
        execv ("/proc/self/exe", args);
        _exit (127);
    }
    if (pid < 0)
        perror ("ideal: fork");
    return pid;
}

static int s_run (const char *self_path, int clients, size_t payload, double seconds, double warmup,
                  pid_t *children)
{
    int fds[2];
    if (pipe (fds) != 0)
        return 1;
    char fd_text[16], line[800];
    snprintf (fd_text, sizeof fd_text, "%d", fds[1]);
    char *margs[] = {(char *)self_path, (char *)"--master", fd_text, NULL};
    children[0] = s_spawn (margs);
    close (fds[1]);
    char client_ep[256], pub_ep[256], ack_ep[256];
    if (children[0] < 0 || !s_read_line (fds[0], line, sizeof line, 10000) ||
        sscanf (line, "%255s %255s %255s", client_ep, pub_ep, ack_ep) != 3) {
        fprintf (stderr, "ideal: the master did not start\n");
        return 1;
    }
    for (int i = 0; i < SECONDARIES; i++) {
        char id[8];
        snprintf (id, sizeof id, "%d", i + 1);
        char *sargs[] = {(char *)self_path, (char *)"--secondary", id, pub_ep, ack_ep, NULL};
        if ((children[1 + i] = s_spawn (sargs)) < 0)
            return 1;
    }
    if (!s_read_line (fds[0], line, sizeof line, 15000) || strcmp (line, "ready") != 0) {
        fprintf (stderr, "ideal: the secondaries did not join\n");
        return 1;
    }
    close (fds[0]);

    void *ctx = zmq_ctx_new ();
    client_t *c = (client_t *)calloc ((size_t)clients, sizeof (client_t));
    pthread_t *threads = (pthread_t *)calloc ((size_t)clients, sizeof (pthread_t));
    if (!ctx || !c || !threads)
        return 1;
    uint64_t t_begin = bench_now_ns () + (uint64_t)(warmup * 1e9);
    uint64_t t_end = t_begin + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < clients; i++) {
        c[i] = (client_t){ctx, client_ep, payload, t_begin, t_end, 0, false, {0}};
        if (bench_lat_init (&c[i].lat, 1u << 16) != 0 ||
            pthread_create (&threads[i], NULL, s_client, &c[i]) != 0)
            return 1;
    }
    bench_lat_t all;
    uint64_t completed = 0;
    int failed = 0;
    bench_lat_init (&all, 1u << 20);
    for (int i = 0; i < clients; i++) {
        pthread_join (threads[i], NULL);
        completed += c[i].completed;
        failed += c[i].failed;
        bench_lat_append (&all, &c[i].lat);
        bench_lat_free (&c[i].lat);
    }
    if (!failed)
        bench_print_result (&all, completed, seconds, payload, 0);
    bench_lat_free (&all);
    free (c);
    free (threads);
    zmq_ctx_term (ctx);
    return failed ? 1 : 0;
}

int main (int argc, char **argv)
{
    if (argc == 3 && strcmp (argv[1], "--master") == 0)
        return s_master (atoi (argv[2]));
    if (argc == 5 && strcmp (argv[1], "--secondary") == 0)
        return s_secondary (atoi (argv[2]), argv[3], argv[4]);

    int clients = 1;
    size_t payload = 64;
    double seconds = 2.0, warmup = 0.5;
    for (int i = 1; i < argc; i += 2) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val) {
            fprintf (stderr, "usage: ideal [--clients K] [--payload B] [--seconds S] "
                             "[--warmup S]\n");
            return 2;
        }
        if (strcmp (arg, "--clients") == 0)
            clients = atoi (val);
        else if (strcmp (arg, "--payload") == 0)
            payload = (size_t)atol (val);
        else if (strcmp (arg, "--seconds") == 0)
            seconds = atof (val);
        else if (strcmp (arg, "--warmup") == 0)
            warmup = atof (val);
        else {
            fprintf (stderr, "ideal: unknown option %s\n", arg);
            return 2;
        }
    }
    if (clients < 1 || clients >= PENDING || payload < 1 || payload + 8 > FRAME_MAX ||
        seconds <= 0) {
        fprintf (stderr, "ideal: bad arguments\n");
        return 2;
    }
    pid_t children[1 + SECONDARIES] = {0, 0, 0};
    int rc = s_run (argv[0], clients, payload, seconds, warmup, children);
    for (int i = 0; i < 1 + SECONDARIES; i++)
        if (children[i] > 0) {
            kill (children[i], SIGKILL);
            waitpid (children[i], NULL, 0);
        }
    return rc;
}
