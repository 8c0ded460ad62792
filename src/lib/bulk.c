/*  bulk.c - rlog_bulk_*: a window of appends over a pipeline, resent when
    the cluster goes silent, one callback each.

    Owns a pipeline (made at the first append, remade after a give-up) and
    a window of slots: the append submitted as request id K lives in slot
    (K - 1) % WINDOW, with its bytes and the caller's tag, until its first
    answer; it can be resent from there under the same id. The window is
    full when the slot of the next id is still taken (the oldest append is
    unanswered), and then appending waits, collecting.

    Silence (no answer for retry_ms with appends in flight): a STATUS probe
    on a second socket (session_probe) tells a live node from a dead one.
    A live node with appends parked for their write concern is just slow:
    keep waiting. A live node with none parked has lost ours (a dropped
    connection), a dead one may come back or hand over to another master:
    both get every append in flight again, oldest first, under its own
    request id, so whatever was stored is answered with its original seq.
    A dead one also passes the turn to the next endpoint. RETRIES silent
    probes in a row, or more than RETRIES rounds in a row in which a live
    node held nothing of ours, end the run: every append in flight is
    answered RLOG_UNREACHABLE and the pipeline is dropped with whatever it
    still queued, so nothing given up on is sent later.

    Answers with no request id (an ERROR frame that names no request) go
    to the oldest append in flight, as nodes answer those at once and in
    order. A second answer to a resent append is dropped.
*/
#include "pipeline.h"

#include <stdarg.h>

#define S_COLLECT    256
#define S_WINDOW_MAX 65536

typedef struct {
    bool used;
    uint64_t req_id;
    uint64_t tag;
    uint8_t *data;
    size_t size;
    size_t cap;
} slot_t;

struct _rlog_bulk_t {
    char *endpoints;
    int w;
    int timeout_ms;
    size_t window;
    rlog_bulk_fn *fn;
    void *arg;
    cert_curve_t *curve; //  until a pipeline takes it
    bool curve_given;    //  the keys went to a pipeline: keep their paths
    char cert_path[1024];
    char server_cert_path[1024];
    int retry_ms;
    int retries;
    rlog_pipeline_t *pipe;
    slot_t *slots;
    uint64_t next_id; //  request id of the next submit (the pipeline counts the same)
    size_t in_flight;
    int64_t last_answer;
    int silent_rounds;
    int lost_rounds;
    rlog_completion_t done[S_COLLECT];
    char error[512];
};

static int s_fail (rlog_bulk_t *self, int code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static int s_fail (rlog_bulk_t *self, int code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
    return code;
}

rlog_bulk_t *rlog_bulk_new (const char *endpoint, int w, int timeout_ms, size_t window,
                            rlog_bulk_fn *fn, void *arg)
{
    //  The list is checked now, the connection made at the first append
    session_t *check = session_new (endpoint);
    bool valid = check && w >= 1 && timeout_ms >= 0 && window >= 1 && window <= S_WINDOW_MAX && fn;
    session_destroy (&check);
    rlog_bulk_t *self = valid ? (rlog_bulk_t *)zmalloc (sizeof (rlog_bulk_t)) : NULL;
    if (!self)
        return NULL;
    self->endpoints = strdup (endpoint);
    self->slots = (slot_t *)calloc (window, sizeof (slot_t));
    if (!self->endpoints || !self->slots) {
        rlog_bulk_destroy (&self);
        return NULL;
    }
    self->w = w;
    self->timeout_ms = timeout_ms;
    self->window = window;
    self->fn = fn;
    self->arg = arg;
    self->retry_ms = 1000;
    self->retries = 3;
    self->next_id = 1;
    return self;
}

void rlog_bulk_destroy (rlog_bulk_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rlog_bulk_t *self = *self_p;
    rlog_pipeline_destroy (&self->pipe);
    cert_curve_destroy (&self->curve);
    for (size_t i = 0; self->slots && i < self->window; i++)
        free (self->slots[i].data);
    free (self->slots);
    free (self->endpoints);
    free (self);
    *self_p = NULL;
}

int rlog_bulk_set_curve (rlog_bulk_t *self, const char *cert_path, const char *server_cert_path)
{
    if (self->pipe || self->curve_given)
        return s_fail (self, RLOG_INVALID, "CURVE keys are set before the first append");
    cert_curve_t *curve =
        cert_curve_new (cert_path, server_cert_path, self->error, sizeof self->error);
    if (!curve)
        return RLOG_INVALID;
    cert_curve_destroy (&self->curve);
    self->curve = curve;
    //  A pipeline remade after a give-up loads them again
    snprintf (self->cert_path, sizeof self->cert_path, "%s", cert_path);
    snprintf (self->server_cert_path, sizeof self->server_cert_path, "%s", server_cert_path);
    self->error[0] = 0;
    return RLOG_OK;
}

void rlog_bulk_set_retry (rlog_bulk_t *self, int retry_ms, int retries)
{
    self->retry_ms = retry_ms > 0 ? retry_ms : 1000;
    self->retries = retries > 0 ? retries : 1;
    if (self->pipe)
        rlog_pipeline_set_retry (self->pipe, self->retry_ms);
}

size_t rlog_bulk_in_flight (rlog_bulk_t *self)
{
    return self->in_flight;
}

const char *rlog_bulk_error (rlog_bulk_t *self)
{
    return self->error;
}

//  --------------------------------------------------------------------------

static int s_start (rlog_bulk_t *self)
{
    if (self->pipe)
        return RLOG_OK;
    if (self->curve_given && !self->curve) {
        self->curve = cert_curve_new (self->cert_path, self->server_cert_path, self->error,
                                      sizeof self->error);
        if (!self->curve)
            return RLOG_INVALID;
    }
    self->curve_given = self->curve != NULL;
    self->pipe = pipeline_new (self->endpoints, self->w, self->timeout_ms, self->curve);
    self->curve = NULL;
    if (!self->pipe)
        return s_fail (self, RLOG_INTERNAL, "cannot connect to %s", self->endpoints);
    rlog_pipeline_set_retry (self->pipe, self->retry_ms);
    //  Two batches in flight at once: one fills while the other is answered
    rlog_pipeline_set_batch (self->pipe, self->window / 2 ? self->window / 2 : 1, 0);
    self->next_id = 1;
    self->last_answer = zclock_mono ();
    return RLOG_OK;
}

static slot_t *s_slot (rlog_bulk_t *self, uint64_t req_id)
{
    return &self->slots[(req_id - 1) % self->window];
}

//  Ids of the appends that may be in flight: FIRST.. below next_id.
static uint64_t s_first_id (rlog_bulk_t *self)
{
    return self->next_id > self->window ? self->next_id - self->window : 1;
}

static void s_answer (rlog_bulk_t *self, slot_t *slot, int code, uint64_t seq, uint32_t acks,
                      const char *detail)
{
    rlog_bulk_result_t result = {slot->tag, code, seq, acks, detail ? detail : ""};
    slot->used = false;
    self->in_flight--;
    self->fn (&result, self->arg);
}

static void s_complete (rlog_bulk_t *self, const rlog_completion_t *c, const char *detail)
{
    slot_t *slot = NULL;
    if (c->req_id) {
        slot = c->req_id < self->next_id ? s_slot (self, c->req_id) : NULL;
        if (!slot || !slot->used || slot->req_id != c->req_id)
            return; //  a second answer to a resent append
    } else
        for (uint64_t id = s_first_id (self); id < self->next_id && !slot; id++)
            if (s_slot (self, id)->used && s_slot (self, id)->req_id == id)
                slot = s_slot (self, id);
    if (!slot)
        return;
    self->last_answer = zclock_mono ();
    self->silent_rounds = self->lost_rounds = 0;
    s_answer (self, slot, c->code, c->seq, c->acks, detail);
}

//  The run ends: every append in flight is answered UNREACHABLE (TEXT),
//  and the pipeline goes with whatever it still queued.
static int s_give_up (rlog_bulk_t *self, const char *text)
{
    snprintf (self->error, sizeof self->error, "%s", text);
    for (uint64_t id = s_first_id (self); id < self->next_id; id++) {
        slot_t *slot = s_slot (self, id);
        if (slot->used && slot->req_id == id)
            s_answer (self, slot, RLOG_UNREACHABLE, 0, 0, self->error);
    }
    rlog_pipeline_destroy (&self->pipe);
    self->silent_rounds = self->lost_rounds = 0;
    return RLOG_UNREACHABLE;
}

static int s_interrupted (rlog_bulk_t *self)
{
    if (self->in_flight == 0)
        return s_fail (self, RLOG_UNREACHABLE, "interrupted");
    return s_fail (self, RLOG_UNREACHABLE,
                   "interrupted with %zu append%s unanswered: the master may already hold %s "
                   "(appends are never rolled back)",
                   self->in_flight, self->in_flight == 1 ? "" : "s",
                   self->in_flight == 1 ? "it" : "them");
}

//  Every append in flight again, oldest first, under its request id.
static void s_resend (rlog_bulk_t *self)
{
    for (uint64_t id = s_first_id (self); id < self->next_id; id++) {
        slot_t *slot = s_slot (self, id);
        if (slot->used && slot->req_id == id &&
            rlog_pipeline_resubmit (self->pipe, id, slot->data, slot->size) != 0)
            break; //  too many waiting: the rest go in the next round
    }
    rlog_pipeline_flush (self->pipe);
}

static int s_on_silence (rlog_bulk_t *self)
{
    session_t *session = pipeline_session (self->pipe);
    char text[sizeof self->error];
    uint64_t waiting = 0;
    int alive = session_probe (session, self->retry_ms, &waiting);
    if (alive < 0)
        return s_interrupted (self);
    if (!alive && ++self->silent_rounds >= self->retries) {
        snprintf (text, sizeof text,
                  "no answer from %.256s after %d tries: %zu appends may or may not have been "
                  "stored",
                  session_endpoint (session), self->silent_rounds, self->in_flight);
        return s_give_up (self, text);
    }
    if (!alive && session_endpoint_count (session) > 1)
        pipeline_next (self->pipe);
    if (alive) {
        self->silent_rounds = 0;
        //  Nothing parked on the node and still no answers: our requests
        //  never arrive, or their answers never leave
        self->lost_rounds = waiting ? 0 : self->lost_rounds + 1;
    }
    if (self->lost_rounds > self->retries) {
        snprintf (text, sizeof text,
                  "%.256s answers none of %zu appends (is one longer than its --max-msg?)",
                  session_endpoint (session), self->in_flight);
        return s_give_up (self, text);
    }
    s_resend (self);
    self->last_answer = zclock_mono ();
    return RLOG_OK;
}

//  Take the answers that came (waiting up to WAIT_MS for a first one, but
//  not past the silence deadline), then deal with a silence.
static int s_step (rlog_bulk_t *self, int wait_ms)
{
    if (zsys_interrupted)
        return s_interrupted (self);
    int64_t left = self->last_answer + self->retry_ms - zclock_mono ();
    if (self->in_flight && wait_ms > left)
        wait_ms = left > 0 ? (int)left : 0;
    size_t n = rlog_pipeline_collect (self->pipe, wait_ms, self->done, S_COLLECT);
    for (size_t i = 0; i < n; i++)
        s_complete (self, &self->done[i], rlog_pipeline_detail (self->pipe, i));
    if (zsys_interrupted)
        return s_interrupted (self);
    if (self->in_flight == 0)
        self->last_answer = zclock_mono ();
    else if (zclock_mono () - self->last_answer >= self->retry_ms)
        return s_on_silence (self);
    return RLOG_OK;
}

//  Submit SLOT's append; it must get the id after the last one.
static int s_submit (rlog_bulk_t *self, slot_t *slot)
{
    uint64_t id;
    while ((id = rlog_pipeline_submit (self->pipe, slot->data, slot->size)) == 0) {
        int rc = s_step (self, 10); //  too many waiting to be sent: let some go
        if (rc != RLOG_OK)
            return rc;
        if (!self->pipe)
            return s_fail (self, RLOG_UNREACHABLE, "%s", self->error);
    }
    if (id != self->next_id)
        return s_fail (self, RLOG_INTERNAL, "request ids out of step");
    slot->req_id = id;
    slot->used = true;
    self->next_id++;
    if (self->in_flight++ == 0)
        self->last_answer = zclock_mono ();
    return RLOG_OK;
}

int rlog_bulk_append (rlog_bulk_t *self, const void *data, size_t size, uint64_t tag)
{
    if (!data || size == 0)
        return s_fail (self, RLOG_EMPTY, "empty messages are refused");
    int rc = s_start (self);
    if (rc != RLOG_OK)
        return rc;
    while (s_slot (self, self->next_id)->used)
        if ((rc = s_step (self, self->retry_ms)) != RLOG_OK)
            return rc;
    slot_t *slot = s_slot (self, self->next_id);
    if (size > slot->cap) {
        uint8_t *copy = (uint8_t *)realloc (slot->data, size);
        if (!copy)
            return s_fail (self, RLOG_INTERNAL, "out of memory");
        slot->data = copy;
        slot->cap = size;
    }
    memcpy (slot->data, data, size);
    slot->size = size;
    slot->tag = tag;
    return s_submit (self, slot);
}

int rlog_bulk_poll (rlog_bulk_t *self, int wait_ms)
{
    if (!self->pipe)
        return zsys_interrupted ? s_interrupted (self) : RLOG_OK;
    return s_step (self, wait_ms > 0 ? wait_ms : 0);
}

int rlog_bulk_finish (rlog_bulk_t *self)
{
    while (self->in_flight > 0) {
        int rc = s_step (self, self->retry_ms);
        if (rc != RLOG_OK)
            return rc;
    }
    if (self->pipe)
        rlog_pipeline_flush (self->pipe);
    return RLOG_OK;
}
