/*  wire.c - socket plumbing shared by the node roles. Raw zmq_msg_t on the
    hot path: czmq's zmsg allocates per frame, which shows at 500k msgs/s.
*/
#include "wire.h"
#include "proto.h"

//  Discard the remaining frames of a multipart message.
static void s_drain_more (void *handle)
{
    int more = 1;
    size_t more_size = sizeof more;
    while (zmq_getsockopt (handle, ZMQ_RCVMORE, &more, &more_size) == 0 && more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        int rc = zmq_msg_recv (&part, handle, 0);
        zmq_msg_close (&part);
        if (rc < 0)
            return;
    }
}

//  After the identity frame: either the body, or an empty delimiter and the
//  body. Anything else has no shape a reply could take.
static bool s_recv_body (void *handle, wire_route_t *route, zmq_msg_t *body)
{
    zmq_msg_init (body);
    if (zmq_msg_recv (body, handle, 0) < 0)
        return false;
    if (!zmq_msg_more (body)) {
        route->bytes[0] = WIRE_SHAPE_DEALER;
        return true;
    }
    if (zmq_msg_size (body) != 0)
        return false;
    route->bytes[0] = WIRE_SHAPE_REQ;
    return zmq_msg_recv (body, handle, 0) >= 0 && !zmq_msg_more (body);
}

int wire_recv (zsock_t *router, wire_route_t *route, zmq_msg_t *body)
{
    void *handle = zsock_resolve (router);
    zmq_msg_t id;
    zmq_msg_init (&id);
    if (zmq_msg_recv (&id, handle, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&id);
        return 0;
    }
    size_t id_size = zmq_msg_size (&id);
    bool ok = zmq_msg_more (&id) && id_size > 0 && id_size < WIRE_ROUTE_MAX;
    if (ok) {
        memcpy (route->bytes + 1, zmq_msg_data (&id), id_size);
        route->size = 1 + id_size;
    }
    zmq_msg_close (&id);
    if (ok && !s_recv_body (handle, route, body)) {
        zmq_msg_close (body);
        ok = false;
    }
    if (!ok) {
        s_drain_more (handle);
        return -1;
    }
    return 1;
}

static int s_send_envelope (void *handle, const uint8_t *route, size_t route_size)
{
    if (!route)
        return 0;
    if (route_size < 2)
        return -1;
    if (zmq_send (handle, route + 1, route_size - 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    //  Once the identity frame is accepted the rest of the message goes too.
    if (route[0] == WIRE_SHAPE_REQ && zmq_send (handle, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    return 0;
}

int wire_send_route (zsock_t *router, const uint8_t *route, size_t route_size, const void *data,
                     size_t size)
{
    void *handle = zsock_resolve (router);
    if (s_send_envelope (handle, route, route_size) != 0)
        return -1;
    return zmq_send (handle, data, size, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

int wire_send_encoded (zsock_t *sock, const uint8_t *route, size_t route_size,
                       proto_encoder_t *encoder)
{
    //  Small frames are cheaper to copy than to hand over (one malloc each).
    if (proto_encoder_size (encoder) < 4096)
        return route ? wire_send_route (sock, route, route_size, proto_encoder_data (encoder),
                                        proto_encoder_size (encoder))
                     : wire_send (sock, proto_encoder_data (encoder), proto_encoder_size (encoder));
    void *handle = zsock_resolve (sock);
    void *data;
    size_t size;
    if (proto_encoder_take (encoder, &data, &size) != 0)
        return -1;
    zmq_msg_t msg;
    if (zmq_msg_init_data (&msg, data, size, proto_encoder_free, NULL) != 0) {
        proto_encoder_free (data, NULL);
        return -1;
    }
    int rc = -1;
    if (s_send_envelope (handle, route, route_size) == 0 &&
        zmq_msg_send (&msg, handle, ZMQ_DONTWAIT) >= 0)
        rc = 0;
    if (rc != 0)
        zmq_msg_close (&msg);
    return rc;
}

int wire_send_records (zsock_t *sock, const uint8_t *route, size_t route_size,
                       proto_encoder_t *prefix, int type, uint64_t epoch, const void *records,
                       size_t size)
{
    //  The frame is [version, type, epoch, bin(records)]: its prefix is a
    //  few bytes, so the records are copied once, straight into the message.
    proto_msg_t msg = {.type = type, .epoch = epoch, .data = records, .size = size};
    if (proto_encode_prefix (prefix, &msg) != 0)
        return -1;
    size_t head = proto_encoder_size (prefix);
    zmq_msg_t frame;
    if (zmq_msg_init_size (&frame, head + size) != 0)
        return -1;
    memcpy (zmq_msg_data (&frame), proto_encoder_data (prefix), head);
    memcpy ((uint8_t *)zmq_msg_data (&frame) + head, records, size);
    void *handle = zsock_resolve (sock);
    int rc = -1;
    if (s_send_envelope (handle, route, route_size) == 0 &&
        zmq_msg_send (&frame, handle, ZMQ_DONTWAIT) >= 0)
        rc = 0;
    if (rc != 0)
        zmq_msg_close (&frame);
    return rc;
}

int wire_send (zsock_t *sock, const void *data, size_t size)
{
    return zmq_send (zsock_resolve (sock), data, size, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

int wire_bind (zsock_t *sock, const char *endpoint, char *err, size_t err_size)
{
    int port = zsock_bind (sock, "%s", endpoint);
    if (port >= 0)
        return port;
    const char *why = zmq_strerror (zmq_errno ());
    if (!strstr (endpoint, "://"))
        snprintf (err, err_size,
                  "cannot bind '%s': an endpoint looks like tcp://HOST:PORT (did you mean "
                  "tcp://*:%s?)",
                  endpoint, endpoint);
    else
        snprintf (err, err_size, "cannot bind %s: %s", endpoint, why);
    return -1;
}

void wire_actor_failed (zsock_t *pipe, const char *text)
{
    zstr_sendx (pipe, "ERROR", text, NULL);
    while (true) {
        char *command = zstr_recv (pipe);
        if (!command)
            break;
        bool term = streq (command, "$TERM");
        zstr_free (&command);
        if (term)
            break;
    }
}

const char *wire_peer_key (zmq_msg_t *msg)
{
    //  czmq's ZAP handler sets the User-Id to the client's Z85 public key.
    const char *key = zmq_msg_gets (msg, "User-Id");
    return key && strlen (key) == 40 ? key : NULL;
}

bool wire_ratelimit (wire_ratelimit_t *self, int64_t now, int64_t interval_ms)
{
    if (self->last != 0 && now - self->last < interval_ms) {
        self->suppressed++;
        return false;
    }
    self->last = now;
    return true;
}
