/*  door.c - the node's connection limit (see door.h).
 */
#include "door.h"
#include "log.h"

#include <sys/resource.h>
#include <sys/socket.h>

#define DOOR_SOCKETS_MAX 4
#define DOOR_RESERVE     64 //  descriptors for the log, the data dir, libzmq's own

#define DOOR_FD_MAX 65536 //  descriptors tracked (refused ones, by number)

struct _door_t {
    zloop_t *loop;
    size_t max;
    size_t connections;
    uint8_t *refusing; //  one bit per descriptor shut down here, until it closes
    uint64_t refused;
    int64_t last_log; //  monotonic ms of the last refusal logged
    zactor_t *monitors[DOOR_SOCKETS_MAX];
    size_t count;
};

//  Rate-limited: a flood must not flood the log too.
static void s_log (door_t *self, const char *what, const char *detail)
{
    int64_t now = zclock_mono ();
    if (self->last_log && now - self->last_log < 1000)
        return;
    self->last_log = now;
    log_warn ("%s%s (%zu connections held, limit %zu; %llu refused so far; the connections "
              "made stay served)",
              what, detail, self->connections, self->max, (unsigned long long)self->refused);
}

//  One monitor event: [name][value: the connection's descriptor, or errno][address].
static int s_on_event (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    door_t *self = (door_t *)arg;
    char *name = NULL, *value = NULL, *address = NULL;
    if (zstr_recvx (reader, &name, &value, &address, NULL) < 1 || !name)
        return 0;
    int n = value ? atoi (value) : 0;
    bool known = n >= 0 && n < DOOR_FD_MAX;
    if (streq (name, "ACCEPTED")) {
        if (self->connections < self->max || !known)
            self->connections++;
        else {
            //  libzmq sees the connection end and closes the descriptor.
            shutdown (n, SHUT_RDWR);
            self->refusing[n / 8] |= (uint8_t)(1 << (n % 8));
            self->refused++;
            s_log (self, "connection refused: the connection limit (--max-connections) is reached",
                   "");
        }
    } else if (streq (name, "DISCONNECTED") && known && (self->refusing[n / 8] & (1 << (n % 8))))
        self->refusing[n / 8] &= (uint8_t) ~(1 << (n % 8));
    else if (streq (name, "DISCONNECTED") && self->connections > 0)
        self->connections--;
    else if (streq (name, "ACCEPT_FAILED")) {
        char detail[96];
        snprintf (detail, sizeof detail, " (%s): raise the open-files limit (ulimit -n)",
                  strerror (n));
        s_log (self, "cannot accept connections", detail);
    }
    zstr_free (&name);
    zstr_free (&value);
    zstr_free (&address);
    return 0;
}

door_t *door_new (zloop_t *loop, size_t max)
{
    door_t *self = (door_t *)zmalloc (sizeof (door_t));
    if (!self)
        return NULL;
    self->loop = loop;
    self->max = max ? max : 1;
    self->refusing = (uint8_t *)zmalloc (DOOR_FD_MAX / 8);
    if (!self->refusing)
        free (self), self = NULL;
    return self;
}

void door_destroy (door_t **self_p)
{
    door_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        zloop_reader_end (self->loop, zactor_sock (self->monitors[i]));
        zactor_destroy (&self->monitors[i]);
    }
    free (self->refusing);
    free (self);
    *self_p = NULL;
}

int door_watch (door_t *self, zsock_t *sock)
{
    if (self->count == DOOR_SOCKETS_MAX)
        return -1;
    zactor_t *monitor = zactor_new (zmonitor, sock);
    if (!monitor)
        return -1;
    zstr_sendx (monitor, "LISTEN", "ACCEPTED", "ACCEPT_FAILED", "DISCONNECTED", NULL);
    zstr_send (monitor, "START");
    zsock_wait (monitor);
    if (zloop_reader (self->loop, zactor_sock (monitor), s_on_event, self) != 0) {
        zactor_destroy (&monitor);
        return -1;
    }
    self->monitors[self->count++] = monitor;
    return 0;
}

size_t door_connections (door_t *self)
{
    return self->connections;
}

uint64_t door_refused (door_t *self)
{
    return self->refused;
}

size_t door_fit_limit (size_t max)
{
    struct rlimit lim;
    if (getrlimit (RLIMIT_NOFILE, &lim) != 0)
        return max;
    rlim_t want = 2 * (rlim_t)max + DOOR_RESERVE;
    if (lim.rlim_cur < want) {
        rlim_t old = lim.rlim_cur;
        lim.rlim_cur = lim.rlim_max == RLIM_INFINITY || lim.rlim_max >= want ? want : lim.rlim_max;
        if (setrlimit (RLIMIT_NOFILE, &lim) != 0)
            lim.rlim_cur = old;
    }
    if (lim.rlim_cur >= want)
        return max;
    //  Half of what is left: the other half is the slack that connections
    //  refused past the limit use until libzmq has closed them.
    size_t fits = lim.rlim_cur > 2 * DOOR_RESERVE ? (size_t)(lim.rlim_cur - DOOR_RESERVE) / 2 : 8;
    log_warn ("the open-files limit is %llu: at most %zu connections instead of %zu "
              "(raise ulimit -n)",
              (unsigned long long)lim.rlim_cur, fits, max);
    return fits;
}
