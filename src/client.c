/*  client.c - librlog: the synchronous client behind include/rlog.h.

    One REQ socket per request attempt (Lazy Pirate, zguide ch.4): a REQ
    that lost its reply is stuck in its send/recv lock-step, so a retry
    closes it and opens a fresh one. Appends carry (client id, request id),
    so a resent append is answered with the original seq by the master.

    A silent append is not necessarily lost: the master may be waiting for
    its write concern. So silence is followed by a STATUS probe on a second
    socket; a live master keeps us waiting (after resending the append, which
    just moves the parked reply to the new socket), a silent one counts
    against the retry budget.
*/
#include "rlog.h"
#include "proto.h"
#include "security.h"
#include <czmq.h>
#include <pthread.h>

//  czmq sets itself up on first use, and that set-up is not thread-safe:
//  clients created in several threads at once would race through it. One
//  process-wide guard is the only way to make the first use happen once.
static pthread_once_t s_czmq_once = PTHREAD_ONCE_INIT;

static void s_czmq_init (void)
{
    zsys_init ();
}

#define CLIENT_ID_SIZE  16
#define REPLY_MAX_BYTES (64 * 1024 * 1024)

struct _rlog_client_t {
    char endpoint[256];
    uint8_t client_id[CLIENT_ID_SIZE];
    uint64_t next_req_id;
    int retry_ms;
    int retries;
    proto_encoder_t *encoder;
    proto_decoder_t *decoder;
    zsock_t *req;    //  kept while it works; replaced after a silence
    zframe_t *reply; //  owns the bytes the decoded reply points into
    char error[512];
    zcert_t *cert;       //  CURVE: our certificate, NULL without CURVE
    char server_key[41]; //  CURVE: the node's public key (Z85)
};

static const char *s_errors[RLOG_ERR_MAX] = {
    "ok",
    "timed out waiting for the write concern",
    "read-only: not enough healthy nodes",
    "write concern out of range",
    "message too large",
    "empty message",
    "not the master",
    "busy",
    "malformed frame",
    "unsupported protocol version",
    "unknown message type",
    "request id too old to deduplicate",
    "unreachable",
    "internal error",
    "invalid argument",
    "refused",
    "another history than the master's",
};

const char *rlog_strerror (int code)
{
    if (code < 0 || code >= RLOG_ERR_MAX)
        return "unknown error";
    return s_errors[code];
}

//  Our certificate and the server's public key, both loaded or neither.
static int s_load_curve (const char *cert_path, const char *server_cert_path, zcert_t **cert_p,
                         char *server_key, size_t server_key_size, char *err, size_t err_size)
{
    zcert_t *cert = security_load_cert (cert_path, true, err, err_size);
    if (!cert)
        return -1;
    zcert_t *server = security_load_cert (server_cert_path, false, err, err_size);
    if (!server) {
        zcert_destroy (&cert);
        return -1;
    }
    snprintf (server_key, server_key_size, "%s", zcert_public_txt (server));
    zcert_destroy (&server);
    zcert_destroy (cert_p);
    *cert_p = cert;
    return 0;
}

static void s_apply_curve (zcert_t *cert, const char *server_key, zsock_t *sock)
{
    if (!cert)
        return;
    zcert_apply (cert, sock);
    zsock_set_curve_serverkey (sock, server_key);
}

static void s_random_id (uint8_t *id, size_t size)
{
    FILE *f = fopen ("/dev/urandom", "rb");
    size_t got = f ? fread (id, 1, size, f) : 0;
    if (f)
        fclose (f);
    if (got == size)
        return;
    //  No /dev/urandom (a bare container): time and pid still separate us.
    uint64_t x = (uint64_t)zclock_usecs () ^ ((uint64_t)getpid () << 40) ^ (uint64_t)(uintptr_t)id;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        id[i] = (uint8_t)x;
    }
}

rlog_client_t *rlog_client_new (const char *endpoint)
{
    if (!endpoint || strlen (endpoint) >= sizeof ((rlog_client_t *)0)->endpoint ||
        !strstr (endpoint, "://"))
        return NULL;
    pthread_once (&s_czmq_once, s_czmq_init);
    rlog_client_t *self = (rlog_client_t *)zmalloc (sizeof (rlog_client_t));
    if (!self)
        return NULL;
    snprintf (self->endpoint, sizeof self->endpoint, "%s", endpoint);
    s_random_id (self->client_id, sizeof self->client_id);
    self->next_req_id = 1;
    self->retry_ms = 1000;
    self->retries = 3;
    self->encoder = proto_encoder_new ();
    self->decoder = proto_decoder_new (REPLY_MAX_BYTES);
    if (!self->encoder || !self->decoder) {
        rlog_client_destroy (&self);
        return NULL;
    }
    return self;
}

void rlog_client_destroy (rlog_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rlog_client_t *self = *self_p;
    proto_encoder_destroy (&self->encoder);
    proto_decoder_destroy (&self->decoder);
    zframe_destroy (&self->reply);
    zsock_destroy (&self->req);
    zcert_destroy (&self->cert);
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
    if (s_load_curve (cert_path, server_cert_path, &self->cert, self->server_key,
                      sizeof self->server_key, err, sizeof err) != 0)
        return s_fail (self, RLOG_INVALID, "%s", err);
    //  The open socket was set up without these keys.
    zsock_destroy (&self->req);
    self->error[0] = 0;
    return RLOG_OK;
}

static zsock_t *s_connect (rlog_client_t *self)
{
    zsock_t *req = zsock_new (ZMQ_REQ);
    if (!req)
        return NULL;
    zsock_set_linger (req, 0);
    zsock_set_maxmsgsize (req, REPLY_MAX_BYTES + 65536);
    s_apply_curve (self->cert, self->server_key, req);
    if (zsock_connect (req, "%s", self->endpoint) != 0) {
        zsock_destroy (&req);
        return NULL;
    }
    return req;
}

//  Send DATA on REQ_P (opened if NULL) and wait up to WAIT_MS for the reply.
//  On silence the REQ is closed: its lock-step state is unusable now.
static zframe_t *s_exchange (rlog_client_t *self, zsock_t **req_p, const void *data, size_t size,
                             int wait_ms)
{
    if (!*req_p)
        *req_p = s_connect (self);
    if (!*req_p)
        return NULL;
    zframe_t *reply = NULL;
    int64_t deadline = zclock_mono () + wait_ms;
    //  A REQ blocks in send while it has no connection to queue on, which
    //  happens while a CURVE handshake keeps failing: bound that wait too.
    zsock_set_sndtimeo (*req_p, wait_ms);
    zframe_t *frame = zframe_new (data, size);
    if (frame && zframe_send (&frame, *req_p, 0) == 0) {
        zpoller_t *poller = zpoller_new (*req_p, NULL);
        int64_t left = deadline - zclock_mono ();
        if (poller && zpoller_wait (poller, left > 0 ? (int)left : 0) == *req_p)
            reply = zframe_recv (*req_p);
        zpoller_destroy (&poller);
    }
    zframe_destroy (&frame);
    if (!reply)
        zsock_destroy (req_p);
    return reply;
}

static bool s_probe (rlog_client_t *self)
{
    proto_encoder_t *probe = proto_encoder_new ();
    if (!probe)
        return false;
    bool alive = false;
    if (proto_encode_status (probe) == 0) {
        zsock_t *req = NULL;
        zframe_t *reply = s_exchange (self, &req, proto_encoder_data (probe),
                                      proto_encoder_size (probe), self->retry_ms);
        alive = reply != NULL;
        zframe_destroy (&reply);
        zsock_destroy (&req);
    }
    proto_encoder_destroy (&probe);
    return alive;
}

//  Send the request now in the encoder until a reply decodes into MSG.
//  PATIENT requests (appends) may legitimately take long: a live master
//  resets the retry budget.
static int s_request (rlog_client_t *self, proto_msg_t *msg, bool patient)
{
    size_t size = proto_encoder_size (self->encoder);
    void *request = malloc (size);
    if (!request)
        return s_fail (self, RLOG_INTERNAL, "out of memory");
    memcpy (request, proto_encoder_data (self->encoder), size);
    int misses = 0;
    zframe_destroy (&self->reply);
    while (!self->reply) {
        if (zsys_interrupted) {
            free (request);
            return s_fail (self, RLOG_UNREACHABLE, "interrupted");
        }
        self->reply = s_exchange (self, &self->req, request, size, self->retry_ms);
        if (self->reply)
            break;
        if (patient && s_probe (self))
            misses = 0;
        else if (++misses >= self->retries) {
            free (request);
            return s_fail (self, RLOG_UNREACHABLE, "no reply from %s after %d tries%s",
                           self->endpoint, misses,
                           patient ? " (the append may or may not have been stored)" : "");
        }
    }
    free (request);
    int rc =
        proto_decode (self->decoder, zframe_data (self->reply), zframe_size (self->reply), msg);
    if (rc != RLOG_OK)
        return s_fail (self, rc, "bad reply from %s: %s", self->endpoint,
                       proto_decoder_error (self->decoder));
    if (msg->type == PROTO_ERROR)
        return s_fail (self,
                       msg->code > 0 && msg->code < RLOG_ERR_MAX ? (int)msg->code : RLOG_INTERNAL,
                       "%s", msg->text);
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
    uint64_t req_id = self->next_req_id++;
    if (proto_encode_append (self->encoder, self->client_id, sizeof self->client_id, req_id,
                             (uint64_t)w, (uint64_t)timeout_ms, data, size) != 0)
        return s_fail (self, RLOG_INTERNAL, "out of memory");
    proto_msg_t msg;
    int rc = s_request (self, &msg, true);
    if (rc != RLOG_OK)
        return rc;
    if (msg.type != PROTO_APPEND_REPLY)
        return s_fail (self, RLOG_MALFORMED, "unexpected %s in answer to APPEND",
                       proto_type_name (msg.type));
    if (result) {
        result->seq = msg.seq;
        result->acks = (uint32_t)msg.acked;
        result->w = (uint32_t)msg.w;
    }
    if (msg.req_id != req_id)
        return s_fail (self, RLOG_MALFORMED, "reply for request %llu, expected %llu",
                       (unsigned long long)msg.req_id, (unsigned long long)req_id);
    if (msg.code != RLOG_OK && msg.seq)
        return s_fail (self, (int)msg.code, "%s (seq %llu)",
                       msg.text[0] ? msg.text : rlog_strerror ((int)msg.code),
                       (unsigned long long)msg.seq);
    if (msg.code != RLOG_OK)
        return s_fail (self, (int)msg.code, "%s",
                       msg.text[0] ? msg.text : rlog_strerror ((int)msg.code));
    self->error[0] = 0;
    return RLOG_OK;
}

int rlog_client_list (rlog_client_t *self, uint64_t from, uint64_t limit, rlog_entry_fn *fn,
                      void *arg)
{
    if (!fn)
        return s_fail (self, RLOG_INVALID, "no callback");
    uint64_t next = from ? from : 1;
    uint64_t left = limit;
    while (limit == 0 || left > 0) {
        if (proto_encode_list (self->encoder, next, limit ? left : 0) != 0)
            return s_fail (self, RLOG_INTERNAL, "out of memory");
        proto_msg_t msg;
        int rc = s_request (self, &msg, false);
        if (rc != RLOG_OK)
            return rc;
        if (msg.type != PROTO_LIST_REPLY || msg.seq != next)
            return s_fail (self, RLOG_MALFORMED, "unexpected answer to LIST");
        if (msg.entry_count == 0)
            break;
        for (size_t i = 0; i < msg.entry_count; i++)
            if (fn (next + i, msg.entries[i].data, msg.entries[i].size, arg) != 0)
                return RLOG_OK;
        next += msg.entry_count;
        if (limit)
            left -= msg.entry_count < left ? msg.entry_count : left;
    }
    self->error[0] = 0;
    return RLOG_OK;
}

int rlog_client_status (rlog_client_t *self, rlog_status_t *status)
{
    if (!status)
        return s_fail (self, RLOG_INVALID, "no status buffer");
    if (proto_encode_status (self->encoder) != 0)
        return s_fail (self, RLOG_INTERNAL, "out of memory");
    proto_msg_t msg;
    int rc = s_request (self, &msg, false);
    if (rc != RLOG_OK)
        return rc;
    if (msg.type != PROTO_STATUS_REPLY || !msg.status)
        return s_fail (self, RLOG_MALFORMED, "unexpected answer to STATUS");
    *status = *msg.status;
    self->error[0] = 0;
    return RLOG_OK;
}

//  --------------------------------------------------------------------------
//  Pipelined appends over one DEALER. The DEALER sends the empty delimiter a
//  REQ would, so the node sees the same envelope from both kinds of client.

struct _rlog_pipeline_t {
    zsock_t *dealer;
    uint8_t client_id[CLIENT_ID_SIZE];
    uint64_t next_req_id;
    int w;
    int timeout_ms;
    size_t in_flight;
    proto_encoder_t *encoder;
    proto_decoder_t *decoder;
    //  Node texts of the last collect, one per completion returned.
    char (*detail)[PROTO_TEXT_MAX + 1];
    size_t detail_count;
    size_t detail_max;
};

static rlog_pipeline_t *s_pipeline_new (const char *endpoint, int w, int timeout_ms, zcert_t *cert,
                                        const char *server_key)
{
    if (!endpoint || !strstr (endpoint, "://") || w < 1 || timeout_ms < 0)
        return NULL;
    pthread_once (&s_czmq_once, s_czmq_init);
    rlog_pipeline_t *self = (rlog_pipeline_t *)zmalloc (sizeof (rlog_pipeline_t));
    if (!self)
        return NULL;
    s_random_id (self->client_id, sizeof self->client_id);
    self->next_req_id = 1;
    self->w = w;
    self->timeout_ms = timeout_ms;
    self->encoder = proto_encoder_new ();
    self->decoder = proto_decoder_new (REPLY_MAX_BYTES);
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->encoder || !self->decoder || !self->dealer) {
        rlog_pipeline_destroy (&self);
        return NULL;
    }
    zsock_set_sndhwm (self->dealer, 100000);
    zsock_set_rcvhwm (self->dealer, 100000);
    zsock_set_linger (self->dealer, 0);
    s_apply_curve (cert, server_key, self->dealer);
    if (zsock_connect (self->dealer, "%s", endpoint) != 0) {
        rlog_pipeline_destroy (&self);
        return NULL;
    }
    return self;
}

rlog_pipeline_t *rlog_pipeline_new (const char *endpoint, int w, int timeout_ms)
{
    return s_pipeline_new (endpoint, w, timeout_ms, NULL, NULL);
}

rlog_pipeline_t *rlog_pipeline_new_curve (const char *endpoint, int w, int timeout_ms,
                                          const char *cert_path, const char *server_cert_path,
                                          char *err, size_t err_size)
{
    char reason[512] = "";
    zcert_t *cert = NULL;
    char server_key[41];
    rlog_pipeline_t *self = NULL;
    if (s_load_curve (cert_path, server_cert_path, &cert, server_key, sizeof server_key, reason,
                      sizeof reason) == 0) {
        //  The keys are copied into the socket; the certificate can go.
        self = s_pipeline_new (endpoint, w, timeout_ms, cert, server_key);
        if (!self)
            snprintf (reason, sizeof reason, "bad endpoint or arguments");
    }
    zcert_destroy (&cert);
    if (!self && err && err_size)
        snprintf (err, err_size, "%s", reason);
    return self;
}

void rlog_pipeline_destroy (rlog_pipeline_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rlog_pipeline_t *self = *self_p;
    zsock_destroy (&self->dealer);
    proto_encoder_destroy (&self->encoder);
    proto_decoder_destroy (&self->decoder);
    free (self->detail);
    free (self);
    *self_p = NULL;
}

static int s_pipeline_send (rlog_pipeline_t *self, uint64_t req_id, const void *data, size_t size)
{
    if (!data || size == 0 ||
        proto_encode_append (self->encoder, self->client_id, sizeof self->client_id, req_id,
                             (uint64_t)self->w, (uint64_t)self->timeout_ms, data, size) != 0)
        return -1;
    void *handle = zsock_resolve (self->dealer);
    if (zmq_send (handle, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    //  The delimiter is queued, so the body goes too (atomic multipart).
    if (zmq_send (handle, proto_encoder_data (self->encoder), proto_encoder_size (self->encoder),
                  0) < 0)
        return -1;
    return 0;
}

uint64_t rlog_pipeline_submit (rlog_pipeline_t *self, const void *data, size_t size)
{
    uint64_t req_id = self->next_req_id;
    if (s_pipeline_send (self, req_id, data, size) != 0)
        return 0;
    self->next_req_id++;
    self->in_flight++;
    return req_id;
}

int rlog_pipeline_resubmit (rlog_pipeline_t *self, uint64_t req_id, const void *data, size_t size)
{
    if (req_id == 0 || req_id >= self->next_req_id)
        return -1;
    if (s_pipeline_send (self, req_id, data, size) != 0)
        return -1;
    self->in_flight++;
    return 0;
}

size_t rlog_pipeline_collect (rlog_pipeline_t *self, int wait_ms, rlog_completion_t *out,
                              size_t max)
{
    void *handle = zsock_resolve (self->dealer);
    zmq_pollitem_t item = {handle, 0, ZMQ_POLLIN, 0};
    self->detail_count = 0;
    if (max == 0 || zmq_poll (&item, 1, wait_ms) <= 0)
        return 0;
    if (max > self->detail_max) {
        //  Without room the texts are just not kept; completions still are.
        char (*detail)[PROTO_TEXT_MAX + 1] = realloc (self->detail, max * sizeof *detail);
        if (detail) {
            self->detail = detail;
            self->detail_max = max;
        }
    }
    size_t got = 0;
    while (got < max) {
        zmq_msg_t delimiter, body;
        zmq_msg_init (&delimiter);
        if (zmq_msg_recv (&delimiter, handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&delimiter);
            break;
        }
        bool framed = zmq_msg_more (&delimiter) && zmq_msg_size (&delimiter) == 0;
        zmq_msg_close (&delimiter);
        if (!framed)
            continue;
        zmq_msg_init (&body);
        if (zmq_msg_recv (&body, handle, 0) < 0) {
            zmq_msg_close (&body);
            break;
        }
        proto_msg_t msg;
        int rc = proto_decode (self->decoder, zmq_msg_data (&body), zmq_msg_size (&body), &msg);
        zmq_msg_close (&body);
        rlog_completion_t *c = &out[got];
        memset (c, 0, sizeof *c);
        if (rc == RLOG_OK && msg.type == PROTO_APPEND_REPLY) {
            c->req_id = msg.req_id;
            c->code = (int)msg.code;
            c->seq = msg.seq;
            c->acks = (uint32_t)msg.acked;
        } else
            //  An ERROR cannot name its request: report it unmatched.
            c->code = rc != RLOG_OK ? rc : msg.type == PROTO_ERROR ? (int)msg.code : RLOG_MALFORMED;
        if (got < self->detail_max) {
            snprintf (self->detail[got], sizeof self->detail[got], "%s",
                      rc != RLOG_OK ? proto_decoder_error (self->decoder) : msg.text);
            self->detail_count = got + 1;
        }
        if (self->in_flight > 0)
            self->in_flight--;
        got++;
    }
    return got;
}

const char *rlog_pipeline_detail (rlog_pipeline_t *self, size_t index)
{
    return index < self->detail_count ? self->detail[index] : "";
}

size_t rlog_pipeline_in_flight (rlog_pipeline_t *self)
{
    return self->in_flight;
}
