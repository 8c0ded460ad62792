/*  redis_bench.c - the Redis replication baseline's client: K connections,
    each doing RPUSH then WAIT <replicas> 0 per message, waiting for both
    replies before the next message (the analogue of rlog's w=3 append).

    Plain sockets speaking RESP, no hiredis. The two commands are written in
    one send() (WAIT still runs after the RPUSH: Redis executes a
    connection's commands in order), which is the fastest way a client can
    issue them and so the strongest baseline, not a weakened one.

    usage: redis_bench --port P [--clients K] [--payload B] [--seconds S]
                       [--warmup S] [--replicas N]
    prints the bench_util.h result line.
*/
#include "bench_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int id;
    int port;
    size_t payload;
    int replicas;
    uint64_t t_begin, t_end;
    uint64_t completed;
    uint64_t errors;
    bench_lat_t lat;
    int failed;
} worker_t;

static int s_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr;
    memset (&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons ((uint16_t)port);
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int one = 1;
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect (fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close (fd);
        return -1;
    }
    return fd;
}

static int s_write_all (int fd, const char *buf, size_t size)
{
    while (size > 0) {
        ssize_t n = send (fd, buf, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        size -= (size_t)n;
    }
    return 0;
}

//  Read COUNT single-line replies (integer or error); the value of each
//  integer reply goes to VALUES, an error reply counts in *ERRORS.
static int s_read_replies (int fd, int count, long long *values, uint64_t *errors)
{
    char buf[512];
    size_t have = 0;
    int got = 0;
    while (got < count) {
        ssize_t n = recv (fd, buf + have, sizeof buf - 1 - have, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        have += (size_t)n;
        buf[have] = 0;
        char *line = buf;
        char *eol;
        while (got < count && (eol = strstr (line, "\r\n")) != NULL) {
            if (line[0] == ':')
                values[got] = atoll (line + 1);
            else {
                values[got] = -1;
                (*errors)++;
            }
            got++;
            line = eol + 2;
        }
        size_t rest = have - (size_t)(line - buf);
        memmove (buf, line, rest);
        have = rest;
        if (have >= sizeof buf - 1)
            return -1; //  not a reply we understand
    }
    return 0;
}

static void *s_worker (void *arg)
{
    worker_t *self = (worker_t *)arg;
    int fd = s_connect (self->port);
    if (fd < 0) {
        self->failed = 1;
        return NULL;
    }
    char key[32], replicas[16];
    int key_len = snprintf (key, sizeof key, "bench:%d", self->id);
    int rep_len = snprintf (replicas, sizeof replicas, "%d", self->replicas);
    size_t cap = self->payload + 256;
    char *cmd = (char *)malloc (cap);
    uint8_t *payload = (uint8_t *)malloc (self->payload);
    if (!cmd || !payload) {
        self->failed = 1;
        close (fd);
        return NULL;
    }
    bench_fill_payload (payload, self->payload);
    int n = snprintf (cmd, cap, "*3\r\n$5\r\nRPUSH\r\n$%d\r\n%s\r\n$%zu\r\n", key_len, key,
                      self->payload);
    memcpy (cmd + n, payload, self->payload);
    size_t size = (size_t)n + self->payload;
    size +=
        (size_t)snprintf (cmd + size, cap - size,
                          "\r\n*3\r\n$4\r\nWAIT\r\n$%d\r\n%s\r\n$1\r\n0\r\n", rep_len, replicas);
    for (;;) {
        uint64_t t0 = bench_now_ns ();
        long long values[2];
        if (s_write_all (fd, cmd, size) != 0 ||
            s_read_replies (fd, 2, values, &self->errors) != 0) {
            self->failed = 1;
            break;
        }
        uint64_t t1 = bench_now_ns ();
        if (values[1] >= 0 && values[1] < self->replicas)
            self->errors++; //  WAIT answered before every replica acked
        if (t1 >= self->t_end)
            break;
        if (t1 >= self->t_begin) {
            self->completed++;
            bench_lat_push (&self->lat, t1 - t0);
        }
    }
    free (cmd);
    free (payload);
    close (fd);
    return NULL;
}

int main (int argc, char **argv)
{
    int port = 0, clients = 1, replicas = 2;
    size_t payload = 64;
    double seconds = 2.0, warmup = 0.5;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val) {
            fprintf (stderr, "usage: redis_bench --port P [--clients K] [--payload B] "
                             "[--seconds S] [--warmup S] [--replicas N]\n");
            return 2;
        }
        if (strcmp (arg, "--port") == 0)
            port = atoi (val);
        else if (strcmp (arg, "--clients") == 0)
            clients = atoi (val);
        else if (strcmp (arg, "--payload") == 0)
            payload = (size_t)atol (val);
        else if (strcmp (arg, "--seconds") == 0)
            seconds = atof (val);
        else if (strcmp (arg, "--warmup") == 0)
            warmup = atof (val);
        else if (strcmp (arg, "--replicas") == 0)
            replicas = atoi (val);
        else {
            fprintf (stderr, "redis_bench: unknown option %s\n", arg);
            return 2;
        }
        i++;
    }
    if (port <= 0 || clients < 1 || payload < 1 || seconds <= 0) {
        fprintf (stderr, "redis_bench: bad arguments\n");
        return 2;
    }
    worker_t *workers = (worker_t *)calloc ((size_t)clients, sizeof (worker_t));
    pthread_t *threads = (pthread_t *)calloc ((size_t)clients, sizeof (pthread_t));
    if (!workers || !threads)
        return 1;
    uint64_t t_begin = bench_now_ns () + (uint64_t)(warmup * 1e9);
    uint64_t t_end = t_begin + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < clients; i++) {
        worker_t *w = &workers[i];
        w->id = i;
        w->port = port;
        w->payload = payload;
        w->replicas = replicas;
        w->t_begin = t_begin;
        w->t_end = t_end;
        if (bench_lat_init (&w->lat, 1u << 16) != 0 ||
            pthread_create (&threads[i], NULL, s_worker, w) != 0) {
            fprintf (stderr, "redis_bench: cannot start client %d\n", i);
            return 1;
        }
    }
    bench_lat_t all;
    bench_lat_init (&all, 1u << 20);
    uint64_t completed = 0, errors = 0;
    int failed = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join (threads[i], NULL);
        completed += workers[i].completed;
        errors += workers[i].errors;
        failed += workers[i].failed;
        bench_lat_append (&all, &workers[i].lat);
        bench_lat_free (&workers[i].lat);
    }
    if (failed) {
        fprintf (stderr, "redis_bench: %d of %d clients lost their connection\n", failed, clients);
        return 1;
    }
    bench_print_result (&all, completed, seconds, payload, errors);
    bench_lat_free (&all);
    free (workers);
    free (threads);
    return 0;
}
