/*  session.c - librlog's link to a cluster (session.h).

    Owns: the endpoint list and the endpoint in use, one DEALER (replaced on
    every move or reset), the CURVE keys, an encoder and a decoder, the
    client id issued by the master and its limits, and the state of the
    current round of following NOT_MASTER.
*/
#include "session.h"
#include "rlog.h"

#include <pthread.h>

//  czmq sets itself up on first use, and that set-up is not thread-safe:
//  sessions created in several threads at once would race through it.
static pthread_once_t s_czmq_once = PTHREAD_ONCE_INIT;

static void s_czmq_init (void)
{
    zsys_init ();
}

//  The STATUS request: [2, 3], the same bytes every time.
static const uint8_t s_status_frame[] = {0x92, PROTO_VERSION, PROTO_STATUS};

struct _session_t {
    char endpoints[SESSION_ENDPOINTS_MAX][PROTO_ENDPOINT_MAX + 1];
    size_t count;
    size_t index;                         //  list position of the endpoint in use
    char current[PROTO_ENDPOINT_MAX + 1]; //  the endpoint in use
    zsock_t *sock;
    uint64_t generation;
    int hwm;
    cert_curve_t *curve;
    proto_encoder_t *encoder;
    proto_decoder_t *decoder;
    //  Issued by the master
    bool opened;
    uint8_t client_id[PROTO_CLIENT_ID_SIZE];
    uint64_t id_generation;
    uint64_t max_msg;
    uint64_t max_batch;
    //  The round of following in progress
    size_t refusals; //  list endpoints that refused without naming a master
    size_t hops;     //  moves since the round began
    char error[320];
};

//  Parse "a,b,c" into SELF's list. 0, or -1 on a bad endpoint.
static int s_parse (session_t *self, const char *endpoints)
{
    const char *p = endpoints;
    while (true) {
        while (*p == ' ')
            p++;
        size_t len = strcspn (p, ",");
        size_t trimmed = len;
        while (trimmed > 0 && p[trimmed - 1] == ' ')
            trimmed--;
        if (self->count == SESSION_ENDPOINTS_MAX || trimmed == 0 || trimmed > PROTO_ENDPOINT_MAX)
            return -1;
        char *endpoint = self->endpoints[self->count++];
        memcpy (endpoint, p, trimmed);
        endpoint[trimmed] = 0;
        if (!strstr (endpoint, "://"))
            return -1;
        if (p[len] == 0)
            return 0;
        p += len + 1;
    }
}

session_t *session_new (const char *endpoints)
{
    if (!endpoints)
        return NULL;
    pthread_once (&s_czmq_once, s_czmq_init);
    session_t *self = (session_t *)zmalloc (sizeof (session_t));
    if (!self)
        return NULL;
    self->hwm = 1000;
    self->encoder = proto_encoder_new ();
    self->decoder = proto_decoder_new (SESSION_REPLY_MAX);
    if (!self->encoder || !self->decoder || s_parse (self, endpoints) != 0) {
        session_destroy (&self);
        return NULL;
    }
    memcpy (self->current, self->endpoints[0], sizeof self->current);
    return self;
}

void session_destroy (session_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    session_t *self = *self_p;
    zsock_destroy (&self->sock);
    cert_curve_destroy (&self->curve);
    proto_encoder_destroy (&self->encoder);
    proto_decoder_destroy (&self->decoder);
    free (self);
    *self_p = NULL;
}

void session_set_curve (session_t *self, cert_curve_t *curve)
{
    cert_curve_destroy (&self->curve);
    self->curve = curve;
    session_reset (self);
}

void session_set_hwm (session_t *self, int hwm)
{
    self->hwm = hwm > 0 ? hwm : 1000;
}

//  A DEALER connected to ENDPOINT with our keys, or NULL.
static zsock_t *s_connect (session_t *self, const char *endpoint, int hwm)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    if (!sock) {
        snprintf (self->error, sizeof self->error, "cannot create a socket: %s",
                  zmq_strerror (zmq_errno ()));
        return NULL;
    }
    zsock_set_linger (sock, 0);
    zsock_set_sndhwm (sock, hwm);
    zsock_set_rcvhwm (sock, hwm);
    zsock_set_maxmsgsize (sock, (int64_t)proto_frame_max (SESSION_REPLY_MAX));
    cert_curve_apply (self->curve, sock);
    if (zsock_connect (sock, "%s", endpoint) != 0) {
        snprintf (self->error, sizeof self->error, "cannot connect to %.255s: %s", endpoint,
                  zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
    }
    return sock;
}

zsock_t *session_socket (session_t *self)
{
    if (!self->sock) {
        self->sock = s_connect (self, self->current, self->hwm);
        if (self->sock)
            self->generation++;
    }
    return self->sock;
}

void session_reset (session_t *self)
{
    zsock_destroy (&self->sock);
}

uint64_t session_generation (session_t *self)
{
    return self->generation;
}

const char *session_endpoint (session_t *self)
{
    return self->current;
}

size_t session_endpoint_count (session_t *self)
{
    return self->count;
}

const char *session_error (session_t *self)
{
    return self->error;
}

static void s_move (session_t *self, const char *endpoint)
{
    snprintf (self->current, sizeof self->current, "%s", endpoint);
    session_reset (self);
}

void session_next (session_t *self)
{
    self->index = (self->index + 1) % self->count;
    s_move (self, self->endpoints[self->index]);
}

//  A leader we can connect to: an endpoint whose host is not a wildcard.
static bool s_usable (const char *leader)
{
    const char *host = strstr (leader, "://");
    if (!host)
        return false;
    host += 3;
    const char *wild[] = {"*:", "0.0.0.0:", "[::]:", "::"};
    for (size_t i = 0; i < sizeof wild / sizeof wild[0]; i++)
        if (strncmp (host, wild[i], strlen (wild[i])) == 0)
            return false;
    return *host && *host != ':';
}

int session_follow (session_t *self, const char *leader)
{
    //  Two nodes naming each other, or a list that keeps refusing
    size_t max_hops = 2 * self->count + 2;
    if (++self->hops <= max_hops && leader && s_usable (leader) &&
        strcmp (leader, self->current) != 0) {
        //  The list's position follows too, so that a failure later goes on
        //  to the endpoint after the master, not back to a dead one.
        for (size_t i = 0; i < self->count; i++)
            if (strcmp (self->endpoints[i], leader) == 0)
                self->index = i;
        s_move (self, leader);
        return 0;
    }
    if (self->hops <= max_hops && ++self->refusals < self->count) {
        session_next (self);
        return 0;
    }
    session_settle (self);
    return -1;
}

void session_settle (session_t *self)
{
    self->refusals = 0;
    self->hops = 0;
}

bool session_opened (session_t *self)
{
    return self->opened;
}

const uint8_t *session_client_id (session_t *self)
{
    return self->client_id;
}

uint64_t session_id_generation (session_t *self)
{
    return self->id_generation;
}

uint64_t session_max_msg (session_t *self)
{
    return self->max_msg;
}

uint64_t session_max_batch (session_t *self)
{
    return self->max_batch;
}

int session_encode_open (session_t *self)
{
    proto_msg_t msg = {.type = PROTO_OPEN};
    return proto_encode (self->encoder, &msg);
}

int session_open_reply (session_t *self, const proto_msg_t *msg)
{
    if (msg->code != RLOG_OK)
        return (int)msg->code;
    if (msg->client_id_size != PROTO_CLIENT_ID_SIZE)
        return RLOG_MALFORMED;
    memcpy (self->client_id, msg->client_id, PROTO_CLIENT_ID_SIZE);
    self->opened = true;
    self->id_generation++;
    self->max_msg = msg->max_msg;
    self->max_batch = msg->max_batch;
    return RLOG_OK;
}

void session_forget_id (session_t *self)
{
    self->opened = false;
}

proto_encoder_t *session_encoder (session_t *self)
{
    return self->encoder;
}

proto_decoder_t *session_decoder (session_t *self)
{
    return self->decoder;
}

int session_send (session_t *self, const void *data, size_t size)
{
    zsock_t *sock = session_socket (self);
    if (!sock)
        return -1;
    return zmq_send (zsock_resolve (sock), data, size, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

//  Wait on HANDLE until readable or DEADLINE: 1, 0, or -1 interrupted.
static int s_wait (void *handle, int64_t deadline)
{
    while (true) {
        if (zsys_interrupted)
            return -1;
        int64_t left = deadline < 0 ? -1 : deadline - zclock_mono ();
        if (deadline >= 0 && left < 0)
            left = 0;
        zmq_pollitem_t item = {handle, 0, ZMQ_POLLIN, 0};
        //  Wake up now and then to see a signal czmq caught meanwhile
        int slice = left < 0 || left > 500 ? 500 : (int)left;
        int rc = zmq_poll (&item, 1, slice);
        if (rc > 0)
            return 1;
        if (rc < 0 && zmq_errno () != EINTR)
            return -1;
        if (deadline >= 0 && zclock_mono () >= deadline)
            return zsys_interrupted ? -1 : 0;
    }
}

int session_wait (session_t *self, int64_t deadline)
{
    zsock_t *sock = session_socket (self);
    return sock ? s_wait (zsock_resolve (sock), deadline) : -1;
}

int session_recv (session_t *self, zmq_msg_t *msg)
{
    if (!self->sock)
        return -1;
    return zmq_msg_recv (msg, zsock_resolve (self->sock), ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

int session_probe (session_t *self, int wait_ms, uint64_t *waiting_p)
{
    *waiting_p = 0;
    zsock_t *probe = s_connect (self, self->current, 10);
    if (!probe)
        return 0;
    int alive = 0;
    void *handle = zsock_resolve (probe);
    if (zmq_send (handle, s_status_frame, sizeof s_status_frame, ZMQ_DONTWAIT) ==
        sizeof s_status_frame) {
        alive = s_wait (handle, zclock_mono () + wait_ms);
        zmq_msg_t reply;
        zmq_msg_init (&reply);
        if (alive == 1 && zmq_msg_recv (&reply, handle, ZMQ_DONTWAIT) >= 0) {
            proto_msg_t msg;
            if (proto_decode (self->decoder, zmq_msg_data (&reply), zmq_msg_size (&reply), &msg) ==
                    RLOG_OK &&
                msg.type == PROTO_STATUS_REPLY && msg.status)
                *waiting_p = msg.status->waiting;
        }
        zmq_msg_close (&reply);
    }
    zsock_destroy (&probe);
    return alive;
}
