/*  pipeline.c - rlog_pipeline_*: appends in flight in APPEND_BATCH frames.

    Lifecycle of an append. Submit gives it the next request id and writes
    it into the open batch, already in the wire's entry format, after room
    kept for the frame's header (entries.h); this is the one copy of its
    bytes. Before the master issued a client id (OPEN, sent when the
    pipeline starts) appends wait in a staging buffer instead, and are
    written into batches when the OPEN_REPLY comes. The open batch is sealed
    into a batch record when it reaches its entry or byte limit, at collect
    or flush, on a submit or collect once the linger time has passed, or
    when the next append does not continue it (a resubmit, or an id that is
    not the next one: every batch holds consecutive request ids, so a reply
    that names its first id and count names every entry). Sealed batches
    get their header (client id, first id, w, timeout, count) written in
    front of the entries and go to libzmq as they are (zmq_msg_init_data);
    the record keeps a reference to the frame until the batch is answered.

    The reply (APPEND_BATCH_REPLY) becomes a job: one completion per entry,
    handed out over as many collects as the caller's MAX needs. Entries not
    listed as exceptions are new, at consecutive seqs from first_seq; a
    whole-batch refusal applies its code to every entry.

    What the pipeline resends by itself, from the frames it kept: on
    NOT_MASTER, every batch in flight goes to the master named (the
    session moves, see session.h); on STALE for a whole batch whose ids
    were never sent before (resubmits and batches whose earlier sends went
    unanswered may be stored), the client id is renewed and the batch goes
    once more. Lost replies are the caller's to resubmit.

    Bounds: appends waiting to be sent (S_QUEUED_MAX: submit returns 0
    past it), batch records (S_RECORDS_MAX) and bytes of frames kept
    (S_RETAINED_MAX); past the last two the oldest answered-not-yet batch
    is forgotten (its reply still expands, it just cannot be resent).
*/
#include "entries.h"
#include "pipeline.h"

//  Room before the entries for the APPEND_BATCH header (at most 56 bytes:
//  array, version, type, client id bin, three uint64, count, bin32 head)
#define S_HEADROOM      64
#define S_BATCH_ENTRIES 256
#define S_BATCH_BYTES   (256 * 1024)
#define S_QUEUED_MAX    65536
#define S_RECORDS_MAX   65536
#define S_RETAINED_MAX  ((size_t)256 << 20)
#define S_BUFFER_MIN    4096
#define S_RING_MIN      64
#define S_HWM           100000

typedef enum {
    B_FREE = 0, //  answered (or forgotten): waiting to leave the ring
    B_QUEUED,   //  never sent
    B_SENT,     //  sent on the current socket
    B_RESEND,   //  sent on a socket that is gone: send again as it is
    B_REOPEN    //  refused STALE, never stored: send under the new client id
} batch_state_t;

typedef struct {
    uint8_t state;
    bool maybe_stored; //  an earlier send of these ids went unanswered
    bool reopened;     //  sent once under a renewed client id already
    bool framed;       //  FRAME holds it (else RAW)
    uint64_t first_req;
    uint32_t count;
    uint64_t id_gen; //  client id it was framed with
    uint8_t *raw;    //  S_HEADROOM + entries, until framed
    size_t size;     //  bytes of entries
    zmq_msg_t frame; //  header + entries, shared with libzmq
} batch_t;

//  The batch being filled.
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t size; //  entry bytes after S_HEADROOM
    uint64_t first_req;
    uint32_t count;
    bool resubmit;
    int64_t opened;
} open_t;

//  An answer (or a local outcome) on its way to completions.
typedef struct {
    uint64_t first_req; //  0: names no request
    uint32_t count;
    uint32_t done;
    int code;
    uint64_t next_seq; //  seq of the next new entry, 0 for none
    uint32_t acks;
    proto_exception_t *exc; //  sorted by index; owned
    size_t exc_count;
    size_t exc_next;
    uint64_t text_collect; //  collect in which TEXT got a slot
    size_t text_slot;
    char text[PROTO_TEXT_MAX + 1];
} job_t;

typedef enum { S_IDLE, S_OPENING, S_READY } open_state_t;

struct _rlog_pipeline_t {
    session_t *session;
    uint64_t w;
    uint64_t timeout_ms;
    uint64_t next_req_id;
    size_t in_flight;
    size_t queued; //  appends staged, in the open batch or in B_QUEUED batches
    size_t max_entries;
    size_t max_bytes;
    int linger_ms;
    int retry_ms;
    int open_state;
    int64_t open_sent;
    //  Appends submitted before the session opened: entries whose delta
    //  field holds (request id << 1 | resubmit)
    uint8_t *stage;
    size_t stage_size;
    size_t stage_cap;
    open_t open;
    size_t buffer_hint; //  what the last batch needed: the next one's buffer
    //  Batch records, oldest first: record N at ring[N % cap]
    batch_t *ring;
    size_t cap;
    uint64_t head;
    uint64_t tail;
    uint64_t pump; //  no record below it waits to be sent
    size_t retained;
    //  Jobs, oldest first
    job_t *jobs;
    size_t job_head;
    size_t job_count;
    size_t job_cap;
    //  Texts of the last collect: detail[i] indexes texts, SIZE_MAX for ""
    size_t *detail;
    size_t detail_count;
    size_t detail_cap;
    char (*texts)[PROTO_TEXT_MAX + 1];
    size_t text_count;
    size_t text_cap;
    uint64_t collect_no;
};

static void s_pump (rlog_pipeline_t *self);

//  --------------------------------------------------------------------------
//  Limits

static size_t s_entries_limit (rlog_pipeline_t *self)
{
    return self->max_entries < PROTO_BATCH_MAX_ENTRIES ? self->max_entries
                                                       : PROTO_BATCH_MAX_ENTRIES;
}

static size_t s_bytes_limit (rlog_pipeline_t *self)
{
    uint64_t node = session_max_batch (self->session);
    return node && node < self->max_bytes ? (size_t)node : self->max_bytes;
}

//  --------------------------------------------------------------------------
//  Jobs: outcomes waiting to be collected

static job_t *s_job_push (rlog_pipeline_t *self, uint64_t first_req, uint32_t count, int code,
                          const char *text)
{
    if (self->job_head + self->job_count == self->job_cap) {
        if (self->job_head > 0) {
            memmove (self->jobs, self->jobs + self->job_head, self->job_count * sizeof (job_t));
            self->job_head = 0;
        } else {
            size_t cap = self->job_cap ? self->job_cap * 2 : 16;
            job_t *jobs = (job_t *)realloc (self->jobs, cap * sizeof (job_t));
            if (!jobs)
                return NULL; //  the completions are lost: in_flight shows it
            self->jobs = jobs;
            self->job_cap = cap;
        }
    }
    job_t *job = &self->jobs[self->job_head + self->job_count++];
    *job = (job_t){.first_req = first_req, .count = count, .code = code};
    snprintf (job->text, sizeof job->text, "%s", text ? text : "");
    return job;
}

static int s_by_index (const void *a, const void *b)
{
    uint32_t x = ((const proto_exception_t *)a)->index;
    uint32_t y = ((const proto_exception_t *)b)->index;
    return x < y ? -1 : x > y;
}

//  Copy the reply's exceptions into JOB, sorted, one per index.
static void s_job_exceptions (job_t *job, const proto_msg_t *msg)
{
    size_t n = msg->exception_count;
    job->exc = (proto_exception_t *)malloc (n * sizeof (proto_exception_t));
    if (!job->exc) {
        job->code = RLOG_INTERNAL;
        snprintf (job->text, sizeof job->text, "out of memory reading a reply");
        return;
    }
    memcpy (job->exc, msg->exceptions, n * sizeof (proto_exception_t));
    qsort (job->exc, n, sizeof (proto_exception_t), s_by_index);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (job->exc[i].index < job->count &&
            (kept == 0 || job->exc[i].index != job->exc[kept - 1].index))
            job->exc[kept++] = job->exc[i];
    job->exc_count = kept;
}

//  A batch reply (or an APPEND_REPLY: a batch of one) for COUNT entries.
static void s_job_reply (rlog_pipeline_t *self, const proto_msg_t *msg, uint32_t count)
{
    job_t *job = s_job_push (self, msg->req_id, count, (int)msg->code, msg->text);
    if (!job)
        return;
    job->acks = (uint32_t)msg->acks;
    uint64_t named = msg->type == PROTO_APPEND_REPLY ? 1 : msg->count;
    if (named != count) {
        job->code = RLOG_MALFORMED;
        snprintf (job->text, sizeof job->text,
                  "the node answered for %llu entries of a batch of %u", (unsigned long long)named,
                  count);
        return;
    }
    if (job->code == RLOG_OK || job->code == RLOG_TIMEOUT)
        job->next_seq = msg->seq;
    if (msg->exception_count)
        s_job_exceptions (job, msg);
}

//  The text of JOB as a slot of this collect's texts, SIZE_MAX if none.
static size_t s_text_slot (rlog_pipeline_t *self, job_t *job)
{
    if (!job->text[0])
        return SIZE_MAX;
    if (job->text_collect == self->collect_no)
        return job->text_slot;
    if (self->text_count == self->text_cap) {
        size_t cap = self->text_cap ? self->text_cap * 2 : 8;
        char (*texts)[PROTO_TEXT_MAX + 1] = realloc (self->texts, cap * sizeof *texts);
        if (!texts)
            return SIZE_MAX;
        self->texts = texts;
        self->text_cap = cap;
    }
    memcpy (self->texts[self->text_count], job->text, sizeof job->text);
    job->text_collect = self->collect_no;
    job->text_slot = self->text_count++;
    return job->text_slot;
}

//  The next entry of JOB as completion OUT[INDEX].
static void s_emit_one (rlog_pipeline_t *self, job_t *job, rlog_completion_t *out, size_t index)
{
    uint32_t i = job->done++;
    bool stored = job->code == RLOG_OK || job->code == RLOG_TIMEOUT;
    const proto_exception_t *e = NULL;
    if (job->exc_next < job->exc_count && job->exc[job->exc_next].index == i)
        e = &job->exc[job->exc_next++];
    out->req_id = job->first_req ? job->first_req + i : 0;
    if (e) {
        //  A duplicate waited with the batch: it shares the batch's outcome
        out->code = e->code == RLOG_OK && stored ? job->code : (int)e->code;
        out->seq = e->seq;
        out->acks = e->code == RLOG_OK ? job->acks : 0;
    } else {
        out->code = job->code;
        out->seq = stored && job->next_seq ? job->next_seq++ : 0;
        out->acks = stored ? job->acks : 0;
    }
    if (index < self->detail_cap) {
        self->detail[index] = out->code != RLOG_OK ? s_text_slot (self, job) : SIZE_MAX;
        self->detail_count = index + 1;
    }
    if (self->in_flight > 0)
        self->in_flight--;
}

//  Completions from the jobs into OUT[GOT..MAX). Returns the new count.
static size_t s_emit (rlog_pipeline_t *self, rlog_completion_t *out, size_t max, size_t got)
{
    while (got < max && self->job_count > 0) {
        job_t *job = &self->jobs[self->job_head];
        while (got < max && job->done < job->count) {
            s_emit_one (self, job, &out[got], got);
            got++;
        }
        if (job->done == job->count) {
            free (job->exc);
            self->job_head++;
            if (--self->job_count == 0)
                self->job_head = 0;
        }
    }
    return got;
}

//  --------------------------------------------------------------------------
//  Batch records

static batch_t *s_at (rlog_pipeline_t *self, uint64_t no)
{
    return &self->ring[no & (self->cap - 1)];
}

static void s_release (rlog_pipeline_t *self, batch_t *b)
{
    if (b->framed) {
        self->retained -= zmq_msg_size (&b->frame);
        zmq_msg_close (&b->frame);
    }
    free (b->raw);
    b->raw = NULL;
    b->framed = false;
    b->state = B_FREE;
    while (self->head < self->tail && s_at (self, self->head)->state == B_FREE)
        self->head++;
}

static int s_ring_grow (rlog_pipeline_t *self)
{
    size_t cap = self->cap ? self->cap * 2 : S_RING_MIN;
    batch_t *ring = (batch_t *)calloc (cap, sizeof (batch_t));
    if (!ring)
        return -1;
    for (uint64_t no = self->head; no < self->tail; no++) {
        batch_t *from = s_at (self, no), *to = &ring[no & (cap - 1)];
        *to = *from;
        if (from->framed) {
            zmq_msg_init (&to->frame);
            zmq_msg_move (&to->frame, &from->frame);
        }
    }
    free (self->ring);
    self->ring = ring;
    self->cap = cap;
    return 0;
}

//  A new record at the tail, or NULL when the ring is full of batches not
//  sent yet (or out of memory).
static batch_t *s_ring_push (rlog_pipeline_t *self)
{
    if (self->tail - self->head == self->cap && self->cap > 0) {
        batch_t *oldest = s_at (self, self->head);
        if (oldest->state == B_SENT)
            s_release (self, oldest); //  forgotten: its reply expands alone
    }
    if (self->tail - self->head == self->cap &&
        (self->cap >= S_RECORDS_MAX || s_ring_grow (self) != 0))
        return NULL;
    batch_t *b = s_at (self, self->tail++);
    *b = (batch_t){.state = B_QUEUED};
    return b;
}

//  Frames kept for resending stay under S_RETAINED_MAX.
static void s_trim (rlog_pipeline_t *self)
{
    while (self->retained > S_RETAINED_MAX && self->head < self->tail &&
           s_at (self, self->head)->state == B_SENT)
        s_release (self, s_at (self, self->head));
}

//  The oldest batch in flight whose first request id is FIRST_REQ.
static batch_t *s_find (rlog_pipeline_t *self, uint64_t first_req)
{
    for (uint64_t no = self->head; no < self->tail; no++) {
        batch_t *b = s_at (self, no);
        if (b->state == B_SENT && b->first_req == first_req)
            return b;
    }
    return NULL;
}

//  --------------------------------------------------------------------------
//  Building and sending batches

static void s_free_raw (void *data, void *hint)
{
    (void)data;
    free (hint); //  the buffer starts before the frame, at the headroom
}

//  Write B's header in front of its entries and hand the bytes to a zmq_msg.
static int s_frame (rlog_pipeline_t *self, batch_t *b)
{
    proto_msg_t msg = {.type = PROTO_APPEND_BATCH,
                       .client_id = session_client_id (self->session),
                       .client_id_size = PROTO_CLIENT_ID_SIZE,
                       .req_id = b->first_req,
                       .w = self->w,
                       .timeout_ms = self->timeout_ms,
                       .count = b->count,
                       .data = b->raw + S_HEADROOM,
                       .size = b->size};
    proto_encoder_t *encoder = session_encoder (self->session);
    if (proto_encode_prefix (encoder, &msg) != 0 || proto_encoder_size (encoder) > S_HEADROOM)
        return -1;
    size_t head = proto_encoder_size (encoder);
    uint8_t *start = b->raw + S_HEADROOM - head;
    memcpy (start, proto_encoder_data (encoder), head);
    if (zmq_msg_init_data (&b->frame, start, head + b->size, s_free_raw, b->raw) != 0)
        return -1;
    b->raw = NULL;
    b->framed = true;
    b->id_gen = session_id_generation (self->session);
    self->retained += head + b->size;
    return 0;
}

//  B's entries back into a raw buffer, to be framed under a new client id.
static int s_unframe (rlog_pipeline_t *self, batch_t *b)
{
    uint8_t *raw = (uint8_t *)malloc (S_HEADROOM + b->size);
    if (!raw)
        return -1;
    size_t total = zmq_msg_size (&b->frame);
    memcpy (raw + S_HEADROOM, (uint8_t *)zmq_msg_data (&b->frame) + total - b->size, b->size);
    zmq_msg_close (&b->frame);
    self->retained -= total;
    b->framed = false;
    b->raw = raw;
    return 0;
}

static int s_send_batch (rlog_pipeline_t *self, batch_t *b)
{
    zsock_t *sock = session_socket (self->session);
    if (!sock)
        return -1;
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    if (zmq_msg_copy (&copy, &b->frame) != 0 ||
        zmq_msg_send (&copy, zsock_resolve (sock), ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&copy);
        return -1;
    }
    return 0;
}

//  Get B ready to go under the current client id. -1: it never will (out
//  of memory), and has been answered so.
static int s_prepare (rlog_pipeline_t *self, batch_t *b)
{
    bool fresh = b->state == B_QUEUED || b->state == B_REOPEN;
    bool renew = fresh && b->framed && b->id_gen != session_id_generation (self->session);
    if ((!renew || s_unframe (self, b) == 0) && (b->framed || s_frame (self, b) == 0))
        return 0;
    s_job_push (self, b->first_req, b->count, RLOG_INTERNAL, "out of memory building a frame");
    if (b->state == B_QUEUED)
        self->queued -= b->count;
    s_release (self, b);
    return -1;
}

//  Send every batch that waits, oldest first, as far as the socket takes.
static void s_pump (rlog_pipeline_t *self)
{
    if (!session_opened (self->session))
        return;
    uint64_t no = self->pump > self->head ? self->pump : self->head;
    for (; no < self->tail; no++) {
        batch_t *b = s_at (self, no);
        uint8_t was = b->state;
        if (was != B_QUEUED && was != B_RESEND && was != B_REOPEN)
            continue;
        if (s_prepare (self, b) != 0)
            continue;
        if (s_send_batch (self, b) != 0)
            break; //  the socket is full: the rest go at the next pump
        b->state = B_SENT;
        if (was == B_QUEUED)
            self->queued -= b->count;
        if (was == B_REOPEN)
            b->reopened = true;
    }
    self->pump = no;
    s_trim (self);
}

//  The open batch becomes a record waiting to be sent. -1 if the ring is
//  full (the batch stays open).
static int s_seal (rlog_pipeline_t *self)
{
    open_t *o = &self->open;
    if (o->count == 0)
        return 0;
    batch_t *b = s_ring_push (self);
    if (!b)
        return -1;
    b->maybe_stored = o->resubmit;
    b->first_req = o->first_req;
    b->count = o->count;
    b->raw = o->buf;
    b->size = o->size;
    size_t need = S_HEADROOM + o->size;
    self->buffer_hint = need < S_BUFFER_MIN ? S_BUFFER_MIN : (need + 4095) & ~(size_t)4095;
    *o = (open_t){0};
    return 0;
}

//  Room in the open batch for NEED more bytes.
static int s_reserve (rlog_pipeline_t *self, size_t need)
{
    open_t *o = &self->open;
    size_t want = S_HEADROOM + o->size + need;
    if (o->buf && o->cap >= want)
        return 0;
    size_t cap = o->count == 0 ? self->buffer_hint : o->cap * 2;
    if (cap < want)
        cap = want;
    uint8_t *buf = (uint8_t *)realloc (o->buf, cap);
    if (!buf)
        return -1;
    o->buf = buf;
    o->cap = cap;
    return 0;
}

//  Add one append to the open batch (the session is open). 0, or -1 when
//  it cannot be taken now.
static int s_add (rlog_pipeline_t *self, uint64_t req_id, const void *data, size_t size,
                  bool resubmit)
{
    uint64_t max_msg = session_max_msg (self->session);
    if (max_msg && size > max_msg) {
        char text[PROTO_TEXT_MAX + 1];
        snprintf (text, sizeof text, "longer than the node's --max-msg of %llu bytes: not sent",
                  (unsigned long long)max_msg);
        return s_job_push (self, req_id, 1, RLOG_TOO_LARGE, text) ? 0 : -1;
    }
    open_t *o = &self->open;
    //  The delta is 0 or 1: one byte either way
    size_t need = entries_size (1, size);
    if (o->count &&
        (o->resubmit != resubmit || req_id != o->first_req + o->count ||
         o->size + need > s_bytes_limit (self)) &&
        s_seal (self) != 0)
        return -1;
    if (s_reserve (self, need) != 0)
        return -1;
    if (o->count == 0) {
        o->first_req = req_id;
        o->resubmit = resubmit;
        o->opened = zclock_mono ();
    }
    o->size += entries_put (o->buf + S_HEADROOM + o->size, o->count ? 1 : 0, data, size);
    o->count++;
    self->queued++;
    if ((o->count >= s_entries_limit (self) || o->size >= s_bytes_limit (self)) &&
        s_seal (self) == 0)
        s_pump (self);
    return 0;
}

//  --------------------------------------------------------------------------
//  The session: OPEN, staging, moves

static void s_start_open (rlog_pipeline_t *self)
{
    self->open_state = S_OPENING;
    self->open_sent = zclock_mono ();
    proto_encoder_t *encoder = session_encoder (self->session);
    //  A send that fails is retried when the OPEN is overdue
    if (session_encode_open (self->session) == 0)
        session_send (self->session, proto_encoder_data (encoder), proto_encoder_size (encoder));
}

static int s_stage (rlog_pipeline_t *self, uint64_t req_id, const void *data, size_t size,
                    bool resubmit)
{
    uint64_t key = req_id << 1 | (resubmit ? 1 : 0);
    size_t need = entries_size (key, size);
    if (self->stage_cap - self->stage_size < need) {
        size_t cap = self->stage_cap ? self->stage_cap * 2 : S_BUFFER_MIN;
        while (cap - self->stage_size < need)
            cap *= 2;
        uint8_t *stage = (uint8_t *)realloc (self->stage, cap);
        if (!stage)
            return -1;
        self->stage = stage;
        self->stage_cap = cap;
    }
    self->stage_size += entries_put (self->stage + self->stage_size, key, data, size);
    self->queued++;
    if (self->open_state == S_IDLE)
        s_start_open (self);
    return 0;
}

//  The session opened: staged appends into batches.
static void s_unstage (rlog_pipeline_t *self)
{
    const uint8_t *p = self->stage, *end = self->stage + self->stage_size;
    while (p < end) {
        uint64_t key;
        const uint8_t *data;
        size_t size;
        size_t used = entries_get (p, end, &key, &data, &size);
        if (used == 0)
            break; //  cannot happen: we wrote it
        self->queued--;
        if (s_add (self, key >> 1, data, size, key & 1) != 0)
            s_job_push (self, key >> 1, 1, RLOG_BUSY, "too many appends waiting to be sent");
        p += used;
    }
    self->stage_size = 0;
}

//  Take one append: into the open batch, or staged until the session opens.
static int s_take (rlog_pipeline_t *self, uint64_t req_id, const void *data, size_t size,
                   bool resubmit)
{
    if (self->queued >= S_QUEUED_MAX)
        return -1;
    if (session_opened (self->session))
        return s_add (self, req_id, data, size, resubmit);
    return s_stage (self, req_id, data, size, resubmit);
}

//  The socket was replaced: what was in flight on it goes again. EXCEPT was
//  answered NOT_MASTER (not stored there); any other may have been stored.
static void s_moved (rlog_pipeline_t *self, batch_t *except)
{
    for (uint64_t no = self->head; no < self->tail; no++) {
        batch_t *b = s_at (self, no);
        if (b->state != B_SENT)
            continue;
        if (b != except)
            b->maybe_stored = true;
        b->state = B_RESEND;
        if (no < self->pump)
            self->pump = no;
    }
    if (session_opened (self->session))
        s_pump (self);
    else
        s_start_open (self);
}

//  Everything that waits for the session, answered CODE: the OPEN failed.
static void s_fail_pending (rlog_pipeline_t *self, int code, const char *text)
{
    const uint8_t *p = self->stage, *end = self->stage + self->stage_size;
    while (p < end) {
        uint64_t key;
        const uint8_t *data;
        size_t size, used = entries_get (p, end, &key, &data, &size);
        if (used == 0)
            break;
        s_job_push (self, key >> 1, 1, code, text);
        p += used;
    }
    self->stage_size = 0;
    if (self->open.count)
        s_job_push (self, self->open.first_req, self->open.count, code, text);
    self->open.count = self->open.size = 0;
    char unknown[PROTO_TEXT_MAX + 1];
    snprintf (unknown, sizeof unknown, "%.180s (resent appends may or may not be stored)", text);
    for (uint64_t no = self->head; no < self->tail; no++) {
        batch_t *b = s_at (self, no);
        if (b->state == B_QUEUED || b->state == B_REOPEN || b->state == B_RESEND) {
            bool unsure = b->state == B_RESEND && b->maybe_stored;
            s_job_push (self, b->first_req, b->count, unsure ? RLOG_UNREACHABLE : code,
                        unsure ? unknown : text);
            s_release (self, b);
        }
    }
    self->queued = 0;
}

static void s_on_open_reply (rlog_pipeline_t *self, const proto_msg_t *msg)
{
    if (self->open_state != S_OPENING)
        return; //  an answer to an OPEN asked again
    int code = session_open_reply (self->session, msg);
    if (code == RLOG_OK) {
        session_settle (self->session);
        self->open_state = S_READY;
        //  The staged appends waited already: they go now, batched
        s_unstage (self);
        s_seal (self);
        s_pump (self);
        return;
    }
    if (code == RLOG_NOT_MASTER && session_follow (self->session, msg->leader) == 0) {
        s_moved (self, NULL);
        return;
    }
    self->open_state = S_IDLE;
    char text[PROTO_TEXT_MAX + 1];
    snprintf (text, sizeof text, "%s", msg->text[0] ? msg->text : rlog_strerror (code));
    s_fail_pending (self, code, text);
}

//  An OPEN unanswered for retry_ms: ask again, at the next endpoint.
static void s_check_open (rlog_pipeline_t *self, int64_t now)
{
    if (self->open_state != S_OPENING || now - self->open_sent < self->retry_ms)
        return;
    if (session_endpoint_count (self->session) > 1)
        session_next (self->session);
    else
        session_reset (self->session);
    s_moved (self, NULL);
}

//  --------------------------------------------------------------------------
//  Replies

//  STALE for B, whose ids were never sent before: a new client id, then B
//  goes once more.
static void s_reopen (rlog_pipeline_t *self, batch_t *b)
{
    b->state = B_REOPEN;
    self->pump = self->head;
    if (session_opened (self->session) && b->id_gen == session_id_generation (self->session)) {
        session_forget_id (self->session);
        s_start_open (self);
    } else
        s_pump (self); //  the id was renewed already (or is being)
}

static void s_on_batch_reply (rlog_pipeline_t *self, const proto_msg_t *msg)
{
    batch_t *b = s_find (self, msg->req_id);
    bool whole = msg->exception_count == 0 && msg->seq == 0;
    if (b && whole && msg->code == RLOG_NOT_MASTER &&
        session_follow (self->session, msg->leader) == 0) {
        s_moved (self, b);
        return;
    }
    if (b && whole && msg->code == RLOG_STALE && !b->maybe_stored && !b->reopened) {
        s_reopen (self, b);
        return;
    }
    if (msg->code != RLOG_NOT_MASTER)
        session_settle (self->session);
    s_job_reply (self, msg, b ? b->count : (uint32_t)msg->count);
    if (b)
        s_release (self, b);
}

//  A frame that did not decode: answer what it names, if anything.
static void s_on_bad_frame (rlog_pipeline_t *self, const proto_msg_t *msg, int rc)
{
    const char *why = proto_decoder_error (session_decoder (self->session));
    batch_t *b = NULL;
    if (msg->req_id_known && msg->type == PROTO_APPEND_BATCH_REPLY)
        b = s_find (self, msg->req_id);
    s_job_push (self, b ? b->first_req : 0, b ? b->count : 1, rc, why);
    if (b)
        s_release (self, b);
}

static void s_on_frame (rlog_pipeline_t *self, zmq_msg_t *frame)
{
    proto_msg_t msg;
    int rc = proto_decode (session_decoder (self->session), zmq_msg_data (frame),
                           zmq_msg_size (frame), &msg);
    if (rc != RLOG_OK)
        s_on_bad_frame (self, &msg, rc);
    else if (msg.type == PROTO_APPEND_BATCH_REPLY)
        s_on_batch_reply (self, &msg);
    else if (msg.type == PROTO_OPEN_REPLY)
        s_on_open_reply (self, &msg);
    else if (msg.type == PROTO_APPEND_REPLY)
        s_job_reply (self, &msg, 1);
    else if (msg.type == PROTO_ERROR && self->open_state == S_OPENING) {
        //  A node that cannot read OPEN (another protocol version)
        self->open_state = S_IDLE;
        s_fail_pending (self, (int)msg.code, msg.text);
    } else if (msg.type == PROTO_ERROR)
        s_job_push (self, 0, 1, (int)msg.code, msg.text);
}

//  Handle one frame if one is waiting.
static bool s_read (rlog_pipeline_t *self)
{
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    bool got = session_recv (self->session, &frame) == 0;
    if (got)
        s_on_frame (self, &frame);
    zmq_msg_close (&frame);
    return got;
}

//  --------------------------------------------------------------------------
//  Public API

rlog_pipeline_t *pipeline_new (const char *endpoints, int w, int timeout_ms, cert_curve_t *curve)
{
    session_t *session = w >= 1 && timeout_ms >= 0 ? session_new (endpoints) : NULL;
    rlog_pipeline_t *self = session ? (rlog_pipeline_t *)zmalloc (sizeof (rlog_pipeline_t)) : NULL;
    if (!self) {
        session_destroy (&session);
        cert_curve_destroy (&curve);
        return NULL;
    }
    self->session = session;
    session_set_curve (session, curve);
    session_set_hwm (session, S_HWM);
    self->w = (uint64_t)w;
    self->timeout_ms = (uint64_t)timeout_ms;
    self->next_req_id = 1;
    self->max_entries = S_BATCH_ENTRIES;
    self->max_bytes = S_BATCH_BYTES;
    self->retry_ms = 1000;
    self->buffer_hint = S_BUFFER_MIN;
    if (!session_socket (session)) {
        rlog_pipeline_destroy (&self);
        return NULL;
    }
    s_start_open (self);
    return self;
}

rlog_pipeline_t *rlog_pipeline_new (const char *endpoint, int w, int timeout_ms)
{
    return pipeline_new (endpoint, w, timeout_ms, NULL);
}

rlog_pipeline_t *rlog_pipeline_new_curve (const char *endpoint, int w, int timeout_ms,
                                          const char *cert_path, const char *server_cert_path,
                                          char *err, size_t err_size)
{
    char reason[512] = "bad endpoint or arguments";
    cert_curve_t *curve = cert_curve_new (cert_path, server_cert_path, reason, sizeof reason);
    rlog_pipeline_t *self = curve ? pipeline_new (endpoint, w, timeout_ms, curve) : NULL;
    if (curve && !self)
        snprintf (reason, sizeof reason, "bad endpoint or arguments");
    if (!self && err && err_size)
        snprintf (err, err_size, "%s", reason);
    return self;
}

void rlog_pipeline_destroy (rlog_pipeline_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rlog_pipeline_t *self = *self_p;
    for (uint64_t no = self->head; no < self->tail; no++)
        if (s_at (self, no)->state != B_FREE)
            s_release (self, s_at (self, no));
    for (size_t i = 0; i < self->job_count; i++)
        free (self->jobs[self->job_head + i].exc);
    free (self->ring);
    free (self->jobs);
    free (self->open.buf);
    free (self->stage);
    free (self->detail);
    free (self->texts);
    session_destroy (&self->session);
    free (self);
    *self_p = NULL;
}

void rlog_pipeline_set_batch (rlog_pipeline_t *self, size_t max_entries, size_t max_bytes)
{
    self->max_entries = max_entries ? max_entries : S_BATCH_ENTRIES;
    self->max_bytes = max_bytes ? max_bytes : S_BATCH_BYTES;
}

void rlog_pipeline_set_linger (rlog_pipeline_t *self, int linger_ms)
{
    self->linger_ms = linger_ms > 0 ? linger_ms : 0;
}

void rlog_pipeline_set_retry (rlog_pipeline_t *self, int retry_ms)
{
    self->retry_ms = retry_ms > 0 ? retry_ms : 1000;
}

//  The clock-driven work of a submit: linger and an overdue OPEN.
static void s_on_submit (rlog_pipeline_t *self)
{
    if (self->linger_ms == 0 && self->open_state != S_OPENING)
        return;
    int64_t now = zclock_mono ();
    s_check_open (self, now);
    if (self->linger_ms && self->open.count && now - self->open.opened >= self->linger_ms &&
        s_seal (self) == 0)
        s_pump (self);
}

uint64_t rlog_pipeline_submit (rlog_pipeline_t *self, const void *data, size_t size)
{
    if (!data || size == 0 || s_take (self, self->next_req_id, data, size, false) != 0)
        return 0;
    self->in_flight++;
    s_on_submit (self);
    return self->next_req_id++;
}

int rlog_pipeline_resubmit (rlog_pipeline_t *self, uint64_t req_id, const void *data, size_t size)
{
    if (req_id == 0 || req_id >= self->next_req_id || !data || size == 0 ||
        s_take (self, req_id, data, size, true) != 0)
        return -1;
    self->in_flight++;
    s_on_submit (self);
    return 0;
}

int rlog_pipeline_flush (rlog_pipeline_t *self)
{
    s_seal (self);
    s_pump (self);
    bool waiting = self->queued > 0 || self->pump < self->tail || self->open.count > 0;
    return waiting || !session_opened (self->session) ? RLOG_BUSY : RLOG_OK;
}

static void s_detail_reserve (rlog_pipeline_t *self, size_t max)
{
    if (max <= self->detail_cap)
        return;
    //  Without room the texts are just not kept; completions still are.
    size_t *detail = (size_t *)realloc (self->detail, max * sizeof (size_t));
    if (detail) {
        self->detail = detail;
        self->detail_cap = max;
    }
}

size_t rlog_pipeline_collect (rlog_pipeline_t *self, int wait_ms, rlog_completion_t *out,
                              size_t max)
{
    self->collect_no++;
    self->detail_count = self->text_count = 0;
    rlog_pipeline_flush (self);
    if (max == 0 || !out)
        return 0;
    s_detail_reserve (self, max);
    int64_t deadline = wait_ms < 0 ? -1 : zclock_mono () + wait_ms;
    size_t got = s_emit (self, out, max, 0);
    while (got < max) {
        if (s_read (self)) {
            got = s_emit (self, out, max, got);
            continue;
        }
        int64_t now = zclock_mono ();
        s_check_open (self, now);
        got = s_emit (self, out, max, got);
        if (got > 0 || (deadline >= 0 && now >= deadline))
            break;
        int64_t until = deadline;
        if (self->open_state == S_OPENING &&
            (until < 0 || self->open_sent + self->retry_ms < until))
            until = self->open_sent + self->retry_ms;
        if (session_wait (self->session, until) < 0)
            break; //  interrupted
    }
    return got;
}

const char *rlog_pipeline_detail (rlog_pipeline_t *self, size_t index)
{
    if (index >= self->detail_count || self->detail[index] == SIZE_MAX)
        return "";
    return self->texts[self->detail[index]];
}

size_t rlog_pipeline_in_flight (rlog_pipeline_t *self)
{
    return self->in_flight;
}

session_t *pipeline_session (rlog_pipeline_t *self)
{
    return self->session;
}

void pipeline_next (rlog_pipeline_t *self)
{
    session_next (self->session);
    for (uint64_t no = self->head; no < self->tail; no++) {
        batch_t *b = s_at (self, no);
        if (b->state == B_SENT || b->state == B_RESEND)
            s_release (self, b);
    }
    if (self->open_state == S_OPENING)
        s_start_open (self);
}
