/*  outbox.c - replies bounded in bytes per client (see outbox.h).

    A queue per connection that has something waiting, found by its route
    in a hash table; a queue that empties is removed, so the table holds
    only connections that do not read fast enough. A ROUTER refuses a
    message only at its first frame (the routing id), under
    ROUTER_MANDATORY: EAGAIN when the connection's pipe is full,
    EHOSTUNREACH when the connection is gone.
*/
#include "outbox.h"
#include "htab.h"
#include "wire.h"

typedef struct waiting_s {
    struct waiting_s *next;
    zmq_msg_t msg;
} waiting_t;

typedef struct {
    uint8_t route[WIRE_ROUTE_MAX];
    size_t route_size;
    waiting_t *head, *tail;
    size_t bytes;
} queue_t;

struct _outbox_t {
    zsock_t *router;
    size_t max_route, max_total, total;
    uint64_t dropped;
    htab_t *queues; //  route -> queue_t *
};

outbox_t *outbox_new (zsock_t *router, size_t max_route, size_t max_total)
{
    outbox_t *self = (outbox_t *)zmalloc (sizeof (outbox_t));
    if (!self)
        return NULL;
    self->router = router;
    self->max_route = max_route;
    self->max_total = max_total;
    self->queues = htab_new ();
    if (!self->queues)
        outbox_destroy (&self);
    return self;
}

//  Forget Q's messages (and Q itself, from the table).
static void s_drop_queue (outbox_t *self, queue_t *q, bool count)
{
    while (q->head) {
        waiting_t *w = q->head;
        q->head = w->next;
        zmq_msg_close (&w->msg);
        free (w);
        self->dropped += count;
    }
    self->total -= q->bytes;
    htab_remove (self->queues, q->route, q->route_size);
    free (q);
}

void outbox_destroy (outbox_t **self_p)
{
    outbox_t *self = *self_p;
    if (!self)
        return;
    size_t cursor = 0;
    htab_value_t *value;
    queue_t *batch[64];
    size_t n;
    do { //  removing while walking is not allowed: collect, then drop
        n = 0;
        cursor = 0;
        while (n < 64 && htab_next (self->queues, &cursor, NULL, NULL, &value))
            batch[n++] = (queue_t *)value->ptr;
        for (size_t i = 0; i < n; i++)
            s_drop_queue (self, batch[i], false);
    } while (n > 0);
    htab_destroy (&self->queues);
    free (self);
    *self_p = NULL;
}

//  Hand MSG to libzmq for ROUTE: 0 sent (MSG now empty), else errno
//  (EAGAIN: the pipe is full; anything else: the connection is gone).
static int s_try (outbox_t *self, const uint8_t *route, size_t route_size, zmq_msg_t *msg)
{
    void *handle = zsock_resolve (self->router);
    if (zmq_send (handle, route + 1, route_size - 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return zmq_errno ();
    //  Once the routing id is taken, the rest of the message goes too.
    if (route[0] == WIRE_SHAPE_REQ && zmq_send (handle, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return zmq_errno ();
    return zmq_msg_send (msg, handle, ZMQ_DONTWAIT) < 0 ? zmq_errno () : 0;
}

int outbox_send_msg (outbox_t *self, const uint8_t *route, size_t route_size, zmq_msg_t *msg)
{
    if (route_size < 2 || route_size > WIRE_ROUTE_MAX) {
        zmq_msg_close (msg);
        return -1;
    }
    htab_value_t *value = htab_find (self->queues, route, route_size);
    int error = value ? EAGAIN : s_try (self, route, route_size, msg);
    if (error == 0)
        return 0;
    size_t size = zmq_msg_size (msg);
    queue_t *q = value ? (queue_t *)value->ptr : NULL;
    bool fits = error == EAGAIN && self->total + size <= self->max_total &&
                (q ? q->bytes : 0) + size <= self->max_route;
    waiting_t *w = fits ? (waiting_t *)malloc (sizeof (waiting_t)) : NULL;
    if (w && !q && (q = (queue_t *)zmalloc (sizeof (queue_t)))) {
        memcpy (q->route, route, route_size);
        q->route_size = route_size;
        if (!(value = htab_put (self->queues, route, route_size, NULL))) {
            free (q);
            q = NULL;
        } else
            value->ptr = q;
    }
    if (!w || !q) {
        free (w);
        zmq_msg_close (msg);
        self->dropped++;
        return -1;
    }
    zmq_msg_init (&w->msg);
    zmq_msg_move (&w->msg, msg);
    w->next = NULL;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    q->bytes += size;
    self->total += size;
    return 0;
}

int outbox_send (outbox_t *self, const uint8_t *route, size_t route_size, const void *data,
                 size_t size)
{
    zmq_msg_t msg;
    if (zmq_msg_init_size (&msg, size) != 0)
        return -1;
    memcpy (zmq_msg_data (&msg), data, size);
    return outbox_send_msg (self, route, route_size, &msg);
}

//  Hand over what Q's connection takes now; true when Q is done with.
static bool s_flush_queue (outbox_t *self, queue_t *q)
{
    while (q->head) {
        waiting_t *w = q->head;
        size_t size = zmq_msg_size (&w->msg);
        int error = s_try (self, q->route, q->route_size, &w->msg);
        if (error == EAGAIN)
            return false;
        //  Sent, or the connection is gone: either way it leaves.
        q->head = w->next;
        if (!q->head)
            q->tail = NULL;
        q->bytes -= size;
        self->total -= size;
        self->dropped += error != 0;
        zmq_msg_close (&w->msg);
        free (w);
    }
    return true;
}

size_t outbox_flush (outbox_t *self)
{
    if (htab_size (self->queues) == 0)
        return 0;
    queue_t *done[64];
    size_t n = 0, cursor = 0;
    htab_value_t *value;
    while (htab_next (self->queues, &cursor, NULL, NULL, &value))
        if (s_flush_queue (self, (queue_t *)value->ptr) && n < 64)
            done[n++] = (queue_t *)value->ptr;
    for (size_t i = 0; i < n; i++)
        s_drop_queue (self, done[i], false);
    return self->total;
}

size_t outbox_bytes (outbox_t *self)
{
    return self->total;
}

uint64_t outbox_dropped (outbox_t *self)
{
    return self->dropped;
}
