/*  client.c - rlog_client_*: synchronous append, list and status.

    Each call sends one request on the session's DEALER and waits for its
    reply; one request is outstanding at a time. A request that goes
    unanswered for retry_ms drops the socket (Lazy Pirate, zguide ch.4: its
    reply, if it ever comes, must not answer the next request) and is sent
    again on a fresh one, so a socket's only reply is to what was sent on
    it. Appends carry (client id, request id), so a resent append is
    answered with the original seq.

    A silent append is not necessarily lost: the master may be waiting for
    its write concern. So silence is followed by a STATUS probe on a second
    socket; a live node keeps us waiting (after resending the append, which
    just moves the parked reply to the new socket), a silent one counts
    against the retry budget and passes the turn to the next endpoint.

    The first append opens a session (OPEN: the master issues the client
    id). NOT_MASTER is followed to the master named (session.h). STALE
    means the master does not know the client id: if every send of this
    append was answered (so none of them may have stored it), a new session
    is opened and the append sent once more; else STALE is the answer.
*/
#include "rlog.h"
#include "session.h"

#include <stdarg.h>

_Static_assert(RLOG_MAX_SECONDARIES == PROTO_STATUS_PEERS_MAX,
               "rlog_status_t describes as many peers as a STATUS_REPLY carries");

struct _rlog_client_t {
    session_t *session;
    uint64_t next_req_id;
    int retry_ms;
    int retries;
    zmq_msg_t reply; //  owns the bytes the decoded reply points into
    char error[512];
};

//  What became of the sends of one request.
typedef struct {
    bool sent;   //  at least one send went to a socket
    bool unsure; //  a send went unanswered: it may have been acted on
} sends_t;

rlog_client_t *rlog_client_new (const char *endpoint)
{
    session_t *session = session_new (endpoint);
    rlog_client_t *self = session ? (rlog_client_t *)zmalloc (sizeof (rlog_client_t)) : NULL;
    if (!self) {
        session_destroy (&session);
        return NULL;
    }
    self->session = session;
    self->next_req_id = 1;
    self->retry_ms = 1000;
    self->retries = 3;
    zmq_msg_init (&self->reply);
    return self;
}

void rlog_client_destroy (rlog_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rlog_client_t *self = *self_p;
    zmq_msg_close (&self->reply);
    session_destroy (&self->session);
    free (self);
    *self_p = NULL;
}

void rlog_client_set_retry (rlog_client_t *self, int retry_ms, int retries)
{
    self->retry_ms = retry_ms > 0 ? retry_ms : 1000;
    self->retries = retries > 0 ? retries : 1;
}

const char *rlog_client_error (rlog_client_t *self)
{
    return self->error;
}

static int s_fail (rlog_client_t *self, int code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static int s_fail (rlog_client_t *self, int code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
    return code;
}

int rlog_client_set_curve (rlog_client_t *self, const char *cert_path, const char *server_cert_path)
{
    char err[sizeof self->error];
    cert_curve_t *curve = cert_curve_new (cert_path, server_cert_path, err, sizeof err);
    if (!curve)
        return s_fail (self, RLOG_INVALID, "%s", err);
    session_set_curve (self->session, curve);
    self->error[0] = 0;
    return RLOG_OK;
}

//  --------------------------------------------------------------------------
//  One request, retried

//  Send the frame in the encoder and wait retry_ms for a reply. 1 got one
//  (in self->reply), 0 silence, -1 interrupted, -2 no socket.
static int s_attempt (rlog_client_t *self, sends_t *sends)
{
    if (zsys_interrupted)
        return -1;
    if (!session_socket (self->session))
        return -2;
    proto_encoder_t *encoder = session_encoder (self->session);
    //  A fresh socket queues the frame even before it connects
    bool sent = session_send (self->session, proto_encoder_data (encoder),
                              proto_encoder_size (encoder)) == 0;
    sends->sent |= sent;
    int rc = session_wait (self->session, zclock_mono () + self->retry_ms);
    if (rc == 1) {
        zmq_msg_close (&self->reply);
        zmq_msg_init (&self->reply);
        if (session_recv (self->session, &self->reply) == 0)
            return 1;
        rc = 0;
    }
    if (rc == 0)
        sends->unsure |= sent;
    return rc;
}

//  The reply in self->reply into MSG; an ERROR frame is its code.
static int s_decode (rlog_client_t *self, proto_msg_t *msg)
{
    proto_decoder_t *decoder = session_decoder (self->session);
    int rc = proto_decode (decoder, zmq_msg_data (&self->reply), zmq_msg_size (&self->reply), msg);
    if (rc != RLOG_OK)
        return s_fail (self, rc, "bad reply from %s: %s", session_endpoint (self->session),
                       proto_decoder_error (decoder));
    if (msg->type == PROTO_ERROR)
        return s_fail (self, (int)msg->code, "%s",
                       msg->text[0] ? msg->text : rlog_strerror ((int)msg->code));
    return RLOG_OK;
}

//  Send the request now in the encoder until a reply decodes into MSG.
//  PATIENT requests (appends) may legitimately take long: a live node
//  resets the retry budget.
static int s_call (rlog_client_t *self, proto_msg_t *msg, bool patient, sends_t *sends)
{
    int misses = 0;
    while (true) {
        int got = s_attempt (self, sends);
        if (got == 1)
            return s_decode (self, msg);
        if (got == -2)
            return s_fail (self, RLOG_UNREACHABLE, "%s", session_error (self->session));
        if (got == -1)
            return s_fail (self, RLOG_UNREACHABLE, "interrupted");
        session_reset (self->session);
        uint64_t waiting;
        int alive = patient ? session_probe (self->session, self->retry_ms, &waiting) : 0;
        if (alive < 0)
            return s_fail (self, RLOG_UNREACHABLE, "interrupted");
        if (alive) {
            misses = 0;
            continue;
        }
        if (++misses >= self->retries)
            return s_fail (self, RLOG_UNREACHABLE, "no reply from %s after %d tries%s",
                           session_endpoint (self->session), misses,
                           patient ? " (the append may or may not have been stored)" : "");
        if (session_endpoint_count (self->session) > 1)
            session_next (self->session);
    }
}

//  Send request MSG (not an append: no probing) and wait for its reply,
//  of type REPLY_TYPE, into MSG.
static int s_request (rlog_client_t *self, proto_msg_t *msg, int reply_type)
{
    const char *asked = proto_type_name (msg->type);
    if (proto_encode (session_encoder (self->session), msg) != 0)
        return s_fail (self, RLOG_INTERNAL, "out of memory");
    sends_t sends = {0};
    int rc = s_call (self, msg, false, &sends);
    if (rc == RLOG_OK && msg->type != reply_type)
        return s_fail (self, RLOG_MALFORMED, "unexpected %s in answer to %s",
                       proto_type_name (msg->type), asked);
    return rc;
}

//  A client id from the master, unless the session has one.
static int s_open (rlog_client_t *self)
{
    while (!session_opened (self->session)) {
        proto_msg_t msg = {.type = PROTO_OPEN};
        int rc = s_request (self, &msg, PROTO_OPEN_REPLY);
        if (rc != RLOG_OK)
            return rc;
        rc = session_open_reply (self->session, &msg);
        if (rc == RLOG_NOT_MASTER && session_follow (self->session, msg.leader) == 0)
            continue;
        if (rc != RLOG_OK)
            return s_fail (self, rc, "%s", msg.text[0] ? msg.text : rlog_strerror (rc));
        session_settle (self->session);
    }
    return RLOG_OK;
}

//  --------------------------------------------------------------------------
//  Append

static int s_send_append (rlog_client_t *self, uint64_t req_id, int w, int timeout_ms,
                          const void *data, size_t size, sends_t *sends, proto_msg_t *reply)
{
    proto_msg_t msg = {.type = PROTO_APPEND,
                       .client_id = session_client_id (self->session),
                       .client_id_size = PROTO_CLIENT_ID_SIZE,
                       .req_id = req_id,
                       .w = (uint64_t)w,
                       .timeout_ms = (uint64_t)timeout_ms,
                       .data = (const uint8_t *)data,
                       .size = size};
    if (size > UINT32_MAX)
        return s_fail (self, RLOG_TOO_LARGE, "a message of %zu bytes cannot be sent", size);
    if (proto_encode (session_encoder (self->session), &msg) != 0)
        return s_fail (self, RLOG_INTERNAL, "out of memory");
    int rc = s_call (self, reply, true, sends);
    if (rc != RLOG_OK)
        return rc;
    if (reply->type != PROTO_APPEND_REPLY)
        return s_fail (self, RLOG_MALFORMED, "unexpected %s in answer to APPEND",
                       proto_type_name (reply->type));
    return RLOG_OK;
}

//  An append that ended without an answer: say whether it may be stored.
static int s_append_lost (rlog_client_t *self, int rc, int w, const sends_t *sends)
{
    if (rc != RLOG_UNREACHABLE || !zsys_interrupted)
        return rc;
    if (!sends->sent)
        return s_fail (self, rc, "interrupted before the append was sent: nothing stored");
    //  The request most likely reached the master, which then stores the
    //  entry whatever happens to us.
    return s_fail (self, rc,
                   "interrupted while waiting for w=%d: the master may already hold the entry "
                   "(appends are never rolled back)",
                   w);
}

static int s_append_result (rlog_client_t *self, const proto_msg_t *msg, uint64_t req_id,
                            rlog_append_result_t *result)
{
    if (result) {
        result->seq = msg->seq;
        result->acks = (uint32_t)msg->acks;
        result->w = (uint32_t)msg->w;
    }
    if (msg->req_id != req_id)
        return s_fail (self, RLOG_MALFORMED, "reply for request %llu, expected %llu",
                       (unsigned long long)msg->req_id, (unsigned long long)req_id);
    int code = (int)msg->code;
    const char *text = msg->text[0] ? msg->text : rlog_strerror (code);
    if (code != RLOG_OK && msg->seq)
        return s_fail (self, code, "%s (seq %llu)", text, (unsigned long long)msg->seq);
    if (code == RLOG_STALE)
        return s_fail (self, code, "%s (the append may or may not have been stored)", text);
    if (code != RLOG_OK)
        return s_fail (self, code, "%s", text);
    self->error[0] = 0;
    return RLOG_OK;
}

int rlog_client_append (rlog_client_t *self, const void *data, size_t size, int w, int timeout_ms,
                        rlog_append_result_t *result)
{
    if (result)
        memset (result, 0, sizeof *result);
    if (!data || size == 0)
        return s_fail (self, RLOG_EMPTY, "empty messages are refused");
    if (w < 1 || timeout_ms < 0)
        return s_fail (self, RLOG_INVALID, "w must be >= 1 and the timeout >= 0");
    sends_t sends = {0};
    int rc = s_open (self);
    if (rc != RLOG_OK)
        return s_append_lost (self, rc, w, &sends);
    //  The node would drop a frame this large with the connection
    uint64_t max_msg = session_max_msg (self->session);
    if (max_msg && size > max_msg)
        return s_fail (self, RLOG_TOO_LARGE,
                       "longer than the node's --max-msg of %llu bytes: not sent",
                       (unsigned long long)max_msg);
    uint64_t req_id = self->next_req_id++;
    bool renewed = false;
    proto_msg_t msg;
    while (true) {
        rc = s_send_append (self, req_id, w, timeout_ms, data, size, &sends, &msg);
        if (rc != RLOG_OK)
            return s_append_lost (self, rc, w, &sends);
        if (msg.code == RLOG_NOT_MASTER) {
            if (session_follow (self->session, msg.leader) == 0)
                continue;
            break;
        }
        session_settle (self->session);
        //  A master that never knew us: a request it cannot have seen goes
        //  once more in a new session.
        if (msg.code != RLOG_STALE || msg.seq || sends.unsure || renewed)
            break;
        renewed = true;
        session_forget_id (self->session);
        if ((rc = s_open (self)) != RLOG_OK)
            return s_append_lost (self, rc, w, &sends);
    }
    return s_append_result (self, &msg, req_id, result);
}

//  --------------------------------------------------------------------------
//  List and status

int rlog_client_list (rlog_client_t *self, uint64_t from, uint64_t limit, rlog_entry_fn *fn,
                      void *arg)
{
    if (!fn)
        return s_fail (self, RLOG_INVALID, "no callback");
    uint64_t next = from ? from : 1;
    uint64_t left = limit;
    while (limit == 0 || left > 0) {
        proto_msg_t msg = {.type = PROTO_LIST, .from = next, .count = limit ? left : 0};
        int rc = s_request (self, &msg, PROTO_LIST_REPLY);
        if (rc != RLOG_OK)
            return rc;
        if (msg.seq != next)
            return s_fail (self, RLOG_MALFORMED, "a page from %llu in answer to a LIST from %llu",
                           (unsigned long long)msg.seq, (unsigned long long)next);
        if (msg.code != RLOG_OK)
            return s_fail (self, (int)msg.code, "the node refused to list: %s",
                           rlog_strerror ((int)msg.code));
        if (msg.payload_count == 0)
            break;
        //  An empty payload is an epoch marker: a seq, but no message
        for (size_t i = 0; i < msg.payload_count && (limit == 0 || left > 0); i++) {
            if (msg.payloads[i].size == 0)
                continue;
            if (fn (next + i, msg.payloads[i].data, msg.payloads[i].size, arg) != 0)
                return RLOG_OK;
            left -= limit ? 1 : 0;
        }
        next += msg.payload_count;
    }
    self->error[0] = 0;
    return RLOG_OK;
}

#define S_COPY(dest, src) snprintf ((dest), sizeof (dest), "%s", (src))

//  The wire's status into the public struct.
static void s_convert (const proto_status_t *in, rlog_status_t *out)
{
    memset (out, 0, sizeof *out);
    S_COPY (out->role, in->role);
    S_COPY (out->node_id, in->node_id);
    out->epoch = in->epoch;
    out->head = in->head;
    out->last_epoch = in->last_epoch;
    S_COPY (out->history, in->history);
    S_COPY (out->mode, in->mode);
    S_COPY (out->reason, in->reason);
    out->nodes = in->nodes;
    out->healthy = in->healthy;
    out->quorum = in->quorum;
    out->waiting = in->waiting > UINT32_MAX ? UINT32_MAX : (uint32_t)in->waiting;
    S_COPY (out->leader, in->leader);
    S_COPY (out->leader_client, in->leader_client);
    out->secondary_count = in->peer_count;
    for (size_t i = 0; i < in->peer_count && i < RLOG_MAX_SECONDARIES; i++) {
        const proto_peer_status_t *p = &in->peers[i];
        rlog_secondary_status_t *s = &out->secondaries[i];
        S_COPY (s->id, p->id);
        S_COPY (s->role, p->role);
        S_COPY (s->state, p->state);
        s->acked = p->acked;
        s->lag = p->lag;
        s->last_heard_ms = p->last_heard_ms;
        s->catching_up = p->catching_up;
        s->last_epoch = p->last_epoch;
    }
    S_COPY (out->master, in->master_peer);
    out->master_reachable = in->master_reachable;
    out->master_last_heard_ms = in->master_last_heard_ms;
    out->master_head = in->master_head;
    out->held_back = in->held_back;
    out->duplicates = in->duplicates;
    out->max_msg = in->max_msg;
}

int rlog_client_status (rlog_client_t *self, rlog_status_t *status)
{
    if (!status)
        return s_fail (self, RLOG_INVALID, "no status buffer");
    proto_msg_t msg = {.type = PROTO_STATUS};
    int rc = s_request (self, &msg, PROTO_STATUS_REPLY);
    if (rc != RLOG_OK)
        return rc;
    if (msg.code != RLOG_OK)
        return s_fail (self, (int)msg.code, "the node refused the status: %s",
                       rlog_strerror ((int)msg.code));
    s_convert (msg.status, status);
    self->error[0] = 0;
    return RLOG_OK;
}
