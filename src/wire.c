/*  wire.c - socket plumbing shared by both roles. Uses raw zmq_msg_t on the
    hot path: czmq's zmsg allocates per frame, which shows at 500k msgs/s.
*/
#include "wire.h"
#include "log.h"

//  Discard the remaining frames of a multipart message.
static void s_drain_more (void *handle)
{
    int more = 1;
    size_t more_size = sizeof more;
    while (zmq_getsockopt (handle, ZMQ_RCVMORE, &more, &more_size) == 0 && more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, handle, 0) < 0) {
            zmq_msg_close (&part);
            return;
        }
        zmq_msg_close (&part);
    }
}

static int s_recv_enveloped (zsock_t *router, wire_envelope_t *env, zmq_msg_t *body, bool delimited)
{
    void *handle = zsock_resolve (router);
    zmq_msg_t id;
    zmq_msg_init (&id);
    if (zmq_msg_recv (&id, handle, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&id);
        return 0;
    }
    bool ok = zmq_msg_more (&id) && zmq_msg_size (&id) <= WIRE_ENVELOPE_MAX;
    if (ok) {
        env->id_size = zmq_msg_size (&id);
        memcpy (env->id, zmq_msg_data (&id), env->id_size);
    }
    zmq_msg_close (&id);
    if (ok && delimited) {
        zmq_msg_t delim;
        zmq_msg_init (&delim);
        ok = zmq_msg_recv (&delim, handle, 0) >= 0 && zmq_msg_size (&delim) == 0 &&
             zmq_msg_more (&delim);
        zmq_msg_close (&delim);
    }
    if (ok) {
        zmq_msg_init (body);
        ok = zmq_msg_recv (body, handle, 0) >= 0 && !zmq_msg_more (body);
        if (!ok)
            zmq_msg_close (body);
    }
    if (!ok) {
        //  The caller logs it, rate-limited: a flood must not flood the log.
        s_drain_more (handle);
        return -1;
    }
    return 1;
}

int wire_recv_request (zsock_t *router, wire_envelope_t *env, zmq_msg_t *body)
{
    return s_recv_enveloped (router, env, body, true);
}

int wire_recv_peer (zsock_t *router, wire_envelope_t *env, zmq_msg_t *body)
{
    return s_recv_enveloped (router, env, body, false);
}

int wire_send_reply (zsock_t *router, const uint8_t *id, size_t id_size, const void *data,
                     size_t size)
{
    void *handle = zsock_resolve (router);
    if (zmq_send (handle, id, id_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    //  Once the identity frame is accepted the rest of the message goes too.
    if (zmq_send (handle, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    if (zmq_send (handle, data, size, ZMQ_DONTWAIT) < 0)
        return -1;
    return 0;
}

int wire_send_peer (zsock_t *router, const uint8_t *id, size_t id_size, const void *data,
                    size_t size)
{
    void *handle = zsock_resolve (router);
    if (zmq_send (handle, id, id_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    if (zmq_send (handle, data, size, ZMQ_DONTWAIT) < 0)
        return -1;
    return 0;
}

int wire_send (zsock_t *sock, const void *data, size_t size)
{
    return zmq_send (zsock_resolve (sock), data, size, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

int wire_encode_list (proto_encoder_t *enc, store_t *store, uint64_t from, uint64_t limit)
{
    //  Readers see what is in the files, not what is still being written.
    uint64_t head = store_written (store);
    if (from == 0)
        from = 1;
    if (limit == 0 || limit > WIRE_LIST_MAX_ENTRIES)
        limit = WIRE_LIST_MAX_ENTRIES;
    //  Count first: the msgpack array header needs the number up front.
    size_t count = 0, bytes = 0;
    entry_t entry;
    for (uint64_t seq = from; seq <= head && count < limit; seq++) {
        if (store_get (store, seq, &entry) != 0)
            break;
        if (count > 0 && bytes + entry.size > WIRE_LIST_MAX_BYTES)
            break;
        bytes += entry.size;
        count++;
    }
    if (proto_encode_list_begin (enc, RLOG_OK, head, from, count) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (store_get (store, from + i, &entry) != 0 ||
            proto_encode_list_entry (enc, entry.data, entry.size) != 0)
            return -1;
    }
    return 0;
}

uint64_t wire_send_range (proto_encoder_t *enc, store_t *store, int type, uint64_t epoch,
                          uint64_t from, uint64_t to, wire_frame_fn *send, void *arg)
{
    uint64_t seq = from;
    entry_t entry;
    while (seq <= to) {
        size_t count = 0, bytes = 0;
        while (seq + count <= to && count < WIRE_BATCH_MAX_ENTRIES) {
            if (store_get (store, seq + count, &entry) != 0)
                break;
            size_t cost = entry.size + entry.client_id_size + PROTO_ENTRY_OVERHEAD;
            if (count > 0 && bytes + cost > WIRE_BATCH_MAX_BYTES)
                break;
            bytes += cost;
            count++;
        }
        if (count == 0)
            break;
        if (proto_encode_batch_begin (enc, type, epoch, seq, count) != 0)
            break;
        bool ok = true;
        for (size_t i = 0; i < count && ok; i++)
            ok = store_get (store, seq + i, &entry) == 0 &&
                 proto_encode_batch_entry (enc, &entry) == 0;
        if (!ok || send (proto_encoder_data (enc), proto_encoder_size (enc), arg) != 0)
            break;
        seq += count;
    }
    return seq - 1;
}

int wire_bind (zsock_t *sock, const char *endpoint, char *err, size_t err_size)
{
    int port = zsock_bind (sock, "%s", endpoint);
    if (port < 0) {
        snprintf (err, err_size, "cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    return port;
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

bool wire_ratelimit (wire_ratelimit_t *self, int64_t now, int64_t interval_ms)
{
    if (self->last != 0 && now - self->last < interval_ms) {
        self->suppressed++;
        return false;
    }
    self->last = now;
    return true;
}
