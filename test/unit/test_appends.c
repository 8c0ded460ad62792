/*  test_appends.c - the master's append lifecycle with explicit time:
    admission order, dedup of retries (parked and answered), write concern
    at several w, deadlines, rollback, limits, shutdown, batches, abort,
    recovery from records.
*/
#include "appends.h"
#include "rlog.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  A recording reply callback and a fake log

#define MAX_REPLIES 64
#define MAX_EXC     16

typedef struct {
    appends_reply_t r; //  pointers below are copies
    uint8_t route[APPENDS_ROUTE_MAX];
    char text[256];
    appends_exception_t exc[MAX_EXC];
} got_t;

typedef struct {
    appends_t *appends;
    got_t got[MAX_REPLIES];
    size_t n;      //  replies so far
    size_t seen;   //  replies the test has checked
    size_t total;  //  replies ever
    uint64_t head; //  the fake log's last seq
    uint8_t id[DEDUP_ID_SIZE];
} fx_t;

static void s_on_reply (void *arg, const appends_reply_t *r)
{
    fx_t *fx = (fx_t *)arg;
    cr_assert_lt (fx->n, MAX_REPLIES);
    got_t *g = &fx->got[fx->n++];
    fx->total++;
    g->r = *r;
    cr_assert_leq (r->route_size, APPENDS_ROUTE_MAX);
    memcpy (g->route, r->route, r->route_size);
    g->r.route = g->route;
    cr_assert_not_null (r->text);
    snprintf (g->text, sizeof g->text, "%s", r->text);
    g->r.text = g->text;
    cr_assert_leq (r->exception_count, MAX_EXC);
    if (r->exception_count)
        memcpy (g->exc, r->exceptions, r->exception_count * sizeof *r->exceptions);
    g->r.exceptions = g->exc;
}

static const appends_config_t s_config = {.max_w = 3,
                                          .max_payload = 100,
                                          .max_parked = 6,
                                          .max_route_parked = 3,
                                          .dedup_clients = 16,
                                          .dedup_window = 64,
                                          .dedup_runs = 256,
                                          .nonce = 7};

static fx_t *s_fx_new (const appends_config_t *config)
{
    fx_t *fx = calloc (1, sizeof *fx);
    cr_assert_not_null (fx);
    fx->appends = appends_new (config ? config : &s_config, s_on_reply, fx);
    cr_assert_not_null (fx->appends);
    cr_assert_eq (appends_open (fx->appends, fx->id), 0);
    return fx;
}

static void s_fx_destroy (fx_t **fx_p)
{
    appends_destroy (&(*fx_p)->appends);
    cr_assert_null ((*fx_p)->appends);
    free (*fx_p);
    *fx_p = NULL;
}

//  The next reply, which must exist; the test checks every reply.
static got_t *s_next (fx_t *fx)
{
    cr_assert_lt (fx->seen, fx->n, "expected a reply");
    return &fx->got[fx->seen++];
}

static void s_no_more (fx_t *fx)
{
    cr_assert_eq (fx->seen, fx->n, "unexpected reply: code %d text '%s'",
                  fx->seen < fx->n ? fx->got[fx->seen].r.code : 0,
                  fx->seen < fx->n ? fx->got[fx->seen].text : "");
}

static bool s_route_is (const got_t *g, const char *route)
{
    return g->r.route_size == strlen (route) && memcmp (g->route, route, g->r.route_size) == 0;
}

typedef struct {
    const char *route;
    const uint8_t *id; //  NULL: the fixture's client
    uint64_t first_req;
    uint32_t count; //  0 means 1
    uint64_t w;
    uint64_t timeout_ms;
    bool batch;
    bool immediate; //  a request that cannot park (w=1 on a log answering at once)
    int refuse;
    const char *refuse_text;
    const size_t *sizes;  //  per entry; NULL: all 10 bytes
    const uint64_t *reqs; //  per entry; NULL: first_req + i
} req_t;

//  Run one request through begin / entry / end as the master does,
//  appending its new entries to the fake log. Returns begin's result;
//  VERDICTS (if not NULL) gets each entry's verdict.
static int s_request (fx_t *fx, req_t q, const uint64_t *held, size_t n, int64_t now,
                      appends_verdict_t *verdicts)
{
    uint32_t count = q.count ? q.count : 1;
    appends_request_t req = {(const uint8_t *)q.route,
                             strlen (q.route),
                             q.id ? q.id : fx->id,
                             q.first_req,
                             count,
                             q.w,
                             q.timeout_ms,
                             q.batch,
                             !q.immediate};
    if (appends_begin (fx->appends, &req, q.refuse, q.refuse_text, now) != 0)
        return -1;
    uint64_t fresh = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t req_id = q.reqs ? q.reqs[i] : q.first_req + i;
        appends_verdict_t v = appends_entry (fx->appends, req_id, q.sizes ? q.sizes[i] : 10);
        if (verdicts)
            verdicts[i] = v;
        if (v == APPENDS_NEW)
            fresh++;
    }
    uint64_t first_seq = fresh ? fx->head + 1 : 0;
    fx->head += fresh;
    appends_end (fx->appends, first_seq, held, n, now);
    return 0;
}

#define HELD(...) (const uint64_t[]){__VA_ARGS__}, sizeof ((uint64_t[]){__VA_ARGS__}) / 8

//  ---------------------------------------------------------------------

Test (appends, new_destroy_open)
{
    fx_t *fx = s_fx_new (NULL);
    cr_assert_eq (appends_parked (fx->appends), 0);
    cr_assert_eq (appends_next_deadline (fx->appends), -1);
    cr_assert_eq (dedup_clients (appends_dedup (fx->appends)), 1, "the fixture opened one");
    uint8_t other[DEDUP_ID_SIZE];
    cr_assert_eq (appends_open (fx->appends, other), 0);
    cr_assert (memcmp (other, fx->id, DEDUP_ID_SIZE) != 0);
    appends_config_t bad = s_config;
    bad.max_w = 0;
    cr_assert_null (appends_new (&bad, s_on_reply, fx));
    bad.max_w = APPENDS_MAX_NODES + 1;
    cr_assert_null (appends_new (&bad, s_on_reply, fx));
    s_fx_destroy (&fx);
}

Test (appends, w1_answered_at_once)
{
    fx_t *fx = s_fx_new (NULL);
    appends_verdict_t v[1];
    //  The master holds it already (memory log): OK now, nothing parked
    cr_assert_eq (s_request (fx, (req_t){"r1", .first_req = 1, .w = 1}, HELD (1), 0, v), 0);
    cr_assert_eq (v[0], APPENDS_NEW);
    got_t *g = s_next (fx);
    cr_assert (s_route_is (g, "r1"));
    cr_assert_eq (g->r.code, RLOG_OK);
    cr_assert_eq (g->r.seq, 1);
    cr_assert_eq (g->r.first_seq, 1);
    cr_assert_eq (g->r.first_req, 1);
    cr_assert_eq (g->r.count, 1);
    cr_assert_eq (g->r.acks, 1);
    cr_assert_eq (g->r.w, 1);
    cr_assert_not (g->r.batch);
    cr_assert_eq (g->r.exception_count, 0);
    cr_assert_str_eq (g->text, "");
    s_no_more (fx);
    cr_assert_eq (appends_parked (fx->appends), 0);
    cr_assert_eq (appends_route_parked (fx->appends, (const uint8_t *)"r1", 2), 0);
    s_fx_destroy (&fx);
}

Test (appends, admission_order)
{
    fx_t *fx = s_fx_new (NULL);
    uint8_t unknown[DEDUP_ID_SIZE] = {1, 2, 3};
    //  Fill route "full" to its limit (3 parked, w=2, nothing held)
    for (uint64_t r = 1; r <= 3; r++)
        cr_assert_eq (s_request (fx, (req_t){"full", .first_req = r, .w = 2}, HELD (0), 0, NULL),
                      0);
    s_no_more (fx);
    cr_assert_eq (appends_route_parked (fx->appends, (const uint8_t *)"full", 4), 3);

    //  1. w, before anything else (unknown client, full route)
    cr_assert_eq (s_request (fx, (req_t){"full", unknown, 9, .w = 4}, HELD (0), 0, NULL), -1);
    got_t *g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_BAD_W);
    cr_assert_str_eq (g->text, "w=4 is outside 1..3 (master + 2 secondaries)");
    cr_assert_eq (g->r.w, 4);
    cr_assert_eq (g->r.seq, 0);
    cr_assert_eq (g->r.first_req, 9);
    cr_assert_eq (s_request (fx, (req_t){"x", .first_req = 9, .w = 0}, HELD (0), 0, NULL), -1);
    cr_assert_eq (s_next (fx)->r.code, RLOG_BAD_W);
    cr_assert_eq (s_request (fx, (req_t){"x", .first_req = 9, .w = UINT64_MAX}, HELD (0), 0, NULL),
                  -1);
    g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_BAD_W);
    cr_assert_eq (g->r.w, UINT32_MAX, "saturated");
    //  2. an unknown client, before the route's limit
    cr_assert_eq (s_request (fx, (req_t){"full", unknown, 9, .w = 2}, HELD (0), 0, NULL), -1);
    g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_STALE);
    cr_assert_str_eq (g->text, "client id unknown to this master (evicted or never issued): "
                               "open a new session");
    cr_assert (s_route_is (g, "full"));
    //  3. the route's limit
    cr_assert_eq (s_request (fx, (req_t){"full", .first_req = 4, .w = 1}, HELD (0), 0, NULL), -1);
    g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_BUSY);
    cr_assert_str_eq (g->text, "this client has too many appends waiting");
    //  4. the table's limit (6): three more from other routes fill it
    for (uint64_t r = 4; r <= 6; r++)
        cr_assert_eq (s_request (fx, (req_t){"other", .first_req = r, .w = 3}, HELD (0), 0, NULL),
                      0);
    cr_assert_eq (appends_parked (fx->appends), 6);
    cr_assert_eq (s_request (fx, (req_t){"third", .first_req = 7, .w = 1}, HELD (0), 0, NULL), -1);
    g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_BUSY);
    cr_assert_str_eq (g->text, "too many appends waiting for their write concern");
    s_no_more (fx);
    //  Nothing refused was stored or remembered: request 7 is still new
    cr_assert_eq (fx->head, 6);
    cr_assert_eq (dedup_lookup (appends_dedup (fx->appends), fx->id, 7, NULL), DEDUP_NEW);
    cr_assert_eq (appends_route_parked (fx->appends, (const uint8_t *)"third", 5), 0);
    //  A batch of no entries
    appends_request_t empty = {(const uint8_t *)"x", 1, fx->id, 8, 0, 1, 0, true, true};
    cr_assert_eq (appends_begin (fx->appends, &empty, 0, "", 0), -1);
    g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_MALFORMED);
    cr_assert (g->r.batch);
    s_no_more (fx);
    appends_shutdown (fx->appends, HELD (0));
    fx->seen = fx->n;
    s_fx_destroy (&fx);
}

Test (appends, entry_checks_size_then_dedup)
{
    fx_t *fx = s_fx_new (NULL);
    appends_verdict_t v[1];
    cr_assert_eq (s_request (fx, (req_t){"r", .first_req = 1, .w = 1, .sizes = (size_t[]){0}},
                             HELD (0), 0, v),
                  0);
    cr_assert_eq (v[0], APPENDS_REFUSED);
    got_t *g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_EMPTY);
    cr_assert_eq (g->r.seq, 0);
    cr_assert_str_eq (g->text, "empty messages are refused");
    cr_assert_eq (s_request (fx, (req_t){"r", .first_req = 1, .w = 1, .sizes = (size_t[]){101}},
                             HELD (0), 0, v),
                  0);
    cr_assert_eq (v[0], APPENDS_REFUSED);
    g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_TOO_LARGE);
    cr_assert_str_eq (g->text, "payload of 101 bytes exceeds 100");
    cr_assert_eq (fx->head, 0);
    //  Refused ids are not remembered: the same id with a good size is new
    cr_assert_eq (s_request (fx, (req_t){"r", .first_req = 1, .w = 1, .sizes = (size_t[]){100}},
                             HELD (1), 0, v),
                  0);
    cr_assert_eq (v[0], APPENDS_NEW);
    g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_OK);
    cr_assert_eq (g->r.seq, 1);
    s_no_more (fx);
    s_fx_destroy (&fx);
}

Test (appends, stale_request_id)
{
    appends_config_t config = s_config;
    config.dedup_window = 2;
    fx_t *fx = s_fx_new (&config);
    for (uint64_t r = 1; r <= 3; r++)
        s_request (fx, (req_t){"r", .first_req = r, .w = 1}, HELD (r), 0, NULL);
    fx->seen = 3;
    appends_verdict_t v[1];
    s_request (fx, (req_t){"r", .first_req = 1, .w = 1}, HELD (3), 0, v);
    cr_assert_eq (v[0], APPENDS_REFUSED);
    got_t *g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_STALE);
    cr_assert_str_eq (g->text, "request id is older than this client's dedup window");
    cr_assert_eq (fx->head, 3);
    s_no_more (fx);
    s_fx_destroy (&fx);
}

Test (appends, write_concern_levels)
{
    appends_config_t config = s_config;
    config.max_route_parked = 5;
    fx_t *fx = s_fx_new (&config);
    //  Seqs 1..5 at w 1,2,3,2,3 on a durable log: nothing held yet
    uint64_t w[] = {1, 2, 3, 2, 3};
    for (uint64_t r = 1; r <= 5; r++)
        cr_assert_eq (
            s_request (fx, (req_t){"r", .first_req = r, .w = w[r - 1]}, HELD (0, 0, 0), 0, NULL),
            0);
    s_no_more (fx);
    cr_assert_eq (appends_parked (fx->appends), 5);
    cr_assert_eq (appends_route_parked (fx->appends, (const uint8_t *)"r", 1), 5);
    //  The master wrote 1..5, no secondary has anything: only w=1 (seq 1)
    cr_assert_eq (appends_durable (fx->appends, HELD (5, 0, 0)), 1);
    got_t *g = s_next (fx);
    cr_assert_eq (g->r.seq, 1);
    cr_assert_eq (g->r.acks, 1);
    cr_assert_eq (g->r.w, 1);
    s_no_more (fx);
    //  HELD in any order: one secondary at 4, the other at 2 (w=2 up to
    //  4, w=3 up to 2): seqs 2 and 4
    cr_assert_eq (appends_durable (fx->appends, HELD (2, 5, 4)), 2);
    g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_OK);
    cr_assert_eq (g->r.seq, 2);
    cr_assert_eq (g->r.acks, 3, "acks count every node holding it");
    g = s_next (fx);
    cr_assert_eq (g->r.seq, 4);
    cr_assert_eq (g->r.acks, 2);
    s_no_more (fx);
    //  Fewer nodes reported than w: w=3 cannot be met
    cr_assert_eq (appends_durable (fx->appends, HELD (5, 5)), 0);
    cr_assert_eq (appends_durable (fx->appends, HELD (5, 5, 3)), 1);
    g = s_next (fx);
    cr_assert_eq (g->r.seq, 3);
    cr_assert_eq (g->r.w, 3);
    cr_assert_eq (appends_durable (fx->appends, HELD (5, 5, 5)), 1);
    g = s_next (fx);
    cr_assert_eq (g->r.seq, 5);
    cr_assert_eq (g->r.acks, 3);
    s_no_more (fx);
    cr_assert_eq (appends_parked (fx->appends), 0);
    cr_assert_eq (appends_route_parked (fx->appends, (const uint8_t *)"r", 1), 0);
    cr_assert_eq (appends_durable (fx->appends, NULL, 0), 0);
    s_fx_destroy (&fx);
}

Test (appends, expire_with_progress_and_deadlines)
{
    fx_t *fx = s_fx_new (NULL);
    int64_t now = 1000;
    s_request (fx, (req_t){"a", .first_req = 1, .w = 3, .timeout_ms = 500}, HELD (0), now, NULL);
    s_request (fx, (req_t){"b", .first_req = 2, .w = 3, .timeout_ms = 200}, HELD (0), now, NULL);
    s_request (fx, (req_t){"c", .first_req = 3, .w = 3}, HELD (0), now, NULL); //  none
    //  Centuries are no deadline, not an overflow
    s_request (fx, (req_t){"d", .first_req = 4, .w = 3, .timeout_ms = UINT64_MAX}, HELD (0), now,
               NULL);
    s_request (fx, (req_t){"e", .first_req = 5, .w = 3, .timeout_ms = (uint64_t)INT64_MAX / 2},
               HELD (0), INT64_MAX - 10, NULL);
    s_no_more (fx);
    cr_assert_eq (appends_parked (fx->appends), 5);
    cr_assert_eq (appends_next_deadline (fx->appends), 1200);
    cr_assert_eq (appends_expire (fx->appends, 1199, HELD (5, 2, 0)), 0);
    cr_assert_eq (appends_expire (fx->appends, 1200, HELD (5, 2, 0)), 1);
    got_t *g = s_next (fx);
    cr_assert (s_route_is (g, "b"));
    cr_assert_eq (g->r.code, RLOG_TIMEOUT);
    cr_assert_eq (g->r.seq, 2, "stored: the seq stays in the answer");
    cr_assert_eq (g->r.acks, 2);
    cr_assert_str_eq (g->text, "timed out: stored on 2 of 3 nodes");
    s_no_more (fx);
    cr_assert_eq (appends_next_deadline (fx->appends), 1500);
    //  Answered by durable: it leaves the heap too
    cr_assert_eq (appends_durable (fx->appends, HELD (5, 1, 1)), 1);
    cr_assert (s_route_is (s_next (fx), "a"));
    cr_assert_eq (appends_next_deadline (fx->appends), -1);
    cr_assert_eq (appends_expire (fx->appends, INT64_MAX, HELD (5)), 0);
    cr_assert_eq (appends_parked (fx->appends), 3);
    s_no_more (fx);
    appends_shutdown (fx->appends, HELD (0));
    fx->seen = fx->n;
    s_fx_destroy (&fx);
}

Test (appends, read_only_refuses_new_answers_duplicates)
{
    fx_t *fx = s_fx_new (NULL);
    s_request (fx, (req_t){"r", .first_req = 1, .w = 1}, HELD (1), 0, NULL);
    cr_assert_eq (s_next (fx)->r.seq, 1);
    const char *why = "read-only: 1 of 3 nodes healthy, quorum needs 2";
    appends_verdict_t v[1];
    //  A new entry: refused, nothing stored
    cr_assert_eq (s_request (fx,
                             (req_t){"r", .first_req = 2, .w = 1, .refuse = RLOG_READ_ONLY,
                                     .refuse_text = why},
                             HELD (1), 0, v),
                  0);
    cr_assert_eq (v[0], APPENDS_REFUSED);
    got_t *g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_READ_ONLY);
    cr_assert_str_eq (g->text, why);
    cr_assert_eq (g->r.seq, 0);
    cr_assert_eq (fx->head, 1);
    //  A retry of a stored one: its seq, as always
    cr_assert_eq (s_request (fx,
                             (req_t){"r", .first_req = 1, .w = 1, .refuse = RLOG_READ_ONLY,
                                     .refuse_text = why},
                             HELD (1), 0, v),
                  0);
    cr_assert_eq (v[0], APPENDS_DUP);
    g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_OK);
    cr_assert_eq (g->r.seq, 1);
    cr_assert_eq (g->r.first_seq, 0, "nothing new");
    s_no_more (fx);
    //  Read-write again: request 2 is new
    cr_assert_eq (s_request (fx, (req_t){"r", .first_req = 2, .w = 1}, HELD (2), 0, v), 0);
    cr_assert_eq (v[0], APPENDS_NEW);
    cr_assert_eq (s_next (fx)->r.seq, 2);
    s_no_more (fx);
    s_fx_destroy (&fx);
}

Test (appends, retry_while_parked_rebinds)
{
    fx_t *fx = s_fx_new (NULL);
    s_request (fx, (req_t){"old", .first_req = 1, .w = 2, .timeout_ms = 100}, HELD (1, 0), 0, NULL);
    s_no_more (fx);
    cr_assert_eq (appends_route_parked (fx->appends, (const uint8_t *)"old", 3), 1);
    //  The retry on a new route: nothing stored, nothing answered, moved
    cr_assert_eq (s_request (fx, (req_t){"new", .first_req = 1, .w = 2}, HELD (1, 0), 10, NULL),
                  -1);
    s_no_more (fx);
    cr_assert_eq (fx->head, 1);
    cr_assert_eq (appends_parked (fx->appends), 1);
    cr_assert_eq (appends_route_parked (fx->appends, (const uint8_t *)"old", 3), 0);
    cr_assert_eq (appends_route_parked (fx->appends, (const uint8_t *)"new", 3), 1);
    cr_assert_eq (appends_next_deadline (fx->appends), 100, "its deadline stays");
    //  The same route again: nothing changes
    cr_assert_eq (s_request (fx, (req_t){"new", .first_req = 1, .w = 2}, HELD (1, 0), 10, NULL),
                  -1);
    s_no_more (fx);
    cr_assert_eq (appends_route_parked (fx->appends, (const uint8_t *)"new", 3), 1);
    //  A route at its limit cannot take it: BUSY there, it stays on "new"
    for (uint64_t r = 2; r <= 4; r++)
        s_request (fx, (req_t){"busy", .first_req = r, .w = 2}, HELD (1, 0), 10, NULL);
    cr_assert_eq (s_request (fx, (req_t){"busy", .first_req = 1, .w = 2}, HELD (1, 0), 10, NULL),
                  -1);
    got_t *g = s_next (fx);
    cr_assert (s_route_is (g, "busy"));
    cr_assert_eq (g->r.code, RLOG_BUSY);
    cr_assert_str_eq (g->text, "this client has too many appends waiting");
    s_no_more (fx);
    cr_assert_eq (appends_route_parked (fx->appends, (const uint8_t *)"new", 3), 1);
    cr_assert_eq (appends_route_parked (fx->appends, (const uint8_t *)"busy", 4), 3);
    //  Held by 2: answered once, on the route of the last retry
    cr_assert_eq (appends_durable (fx->appends, HELD (1, 1)), 1);
    g = s_next (fx);
    cr_assert (s_route_is (g, "new"));
    cr_assert_eq (g->r.code, RLOG_OK);
    cr_assert_eq (g->r.seq, 1);
    s_no_more (fx);
    cr_assert_eq (appends_route_parked (fx->appends, (const uint8_t *)"new", 3), 0);
    appends_shutdown (fx->appends, HELD (0));
    fx->seen = fx->n;
    s_fx_destroy (&fx);
}

Test (appends, retry_of_parked_request_of_an_evicted_client)
{
    //  One dedup client only: opening another evicts the fixture's
    appends_config_t config = s_config;
    config.dedup_clients = 1;
    fx_t *fx = s_fx_new (&config);
    s_request (fx, (req_t){"a", .first_req = 1, .w = 2}, HELD (1, 0), 0, NULL);
    uint8_t other[DEDUP_ID_SIZE];
    cr_assert_eq (appends_open (fx->appends, other), 0);
    cr_assert_eq (dedup_lookup (appends_dedup (fx->appends), fx->id, 1, NULL), DEDUP_UNKNOWN);
    //  Still parked, so its outcome is known: the retry rebinds
    cr_assert_eq (s_request (fx, (req_t){"b", .first_req = 1, .w = 2}, HELD (1, 0), 0, NULL), -1);
    s_no_more (fx);
    cr_assert_eq (appends_durable (fx->appends, HELD (1, 1)), 1);
    got_t *g = s_next (fx);
    cr_assert (s_route_is (g, "b"));
    cr_assert_eq (g->r.seq, 1);
    //  Answered and forgotten: a retry now is STALE (outcome unknown)
    cr_assert_eq (s_request (fx, (req_t){"b", .first_req = 1, .w = 2}, HELD (1, 1), 0, NULL), -1);
    cr_assert_eq (s_next (fx)->r.code, RLOG_STALE);
    s_no_more (fx);
    s_fx_destroy (&fx);
}

Test (appends, retry_after_answer)
{
    fx_t *fx = s_fx_new (NULL);
    s_request (fx, (req_t){"r", .first_req = 1, .w = 2}, HELD (1, 1), 0, NULL);
    s_request (fx, (req_t){"r", .first_req = 2, .w = 1}, HELD (2, 1), 0, NULL);
    cr_assert_eq (s_next (fx)->r.seq, 1);
    cr_assert_eq (s_next (fx)->r.seq, 2);
    //  Held as asked: answered at once with the original seq
    appends_verdict_t v[1];
    cr_assert_eq (s_request (fx, (req_t){"s", .first_req = 1, .w = 2}, HELD (2, 1), 0, v), 0);
    cr_assert_eq (v[0], APPENDS_DUP);
    got_t *g = s_next (fx);
    cr_assert (s_route_is (g, "s"));
    cr_assert_eq (g->r.code, RLOG_OK);
    cr_assert_eq (g->r.seq, 1);
    cr_assert_eq (g->r.acks, 2);
    s_no_more (fx);
    //  Asked for more than is held: parked again, on the old seq
    cr_assert_eq (s_request (fx, (req_t){"s", .first_req = 2, .w = 2}, HELD (2, 1), 0, v), 0);
    cr_assert_eq (v[0], APPENDS_DUP);
    s_no_more (fx);
    cr_assert_eq (appends_parked (fx->appends), 1);
    cr_assert_eq (fx->head, 2, "nothing stored twice");
    cr_assert_eq (appends_durable (fx->appends, HELD (2, 2)), 1);
    g = s_next (fx);
    cr_assert_eq (g->r.seq, 2);
    cr_assert_eq (g->r.first_seq, 0);
    s_no_more (fx);
    s_fx_destroy (&fx);
}

Test (appends, fifo_keeps_seq_order_with_old_retries)
{
    fx_t *fx = s_fx_new (NULL);
    //  Seqs 1..3 stored; 2 and 3 wait at w=2
    s_request (fx, (req_t){"r", .first_req = 1, .w = 1}, HELD (1), 0, NULL);
    fx->seen = 1;
    s_request (fx, (req_t){"r", .first_req = 2, .w = 2}, HELD (1, 0), 0, NULL);
    s_request (fx, (req_t){"r", .first_req = 3, .w = 2}, HELD (1, 0), 0, NULL);
    //  A retry of request 1 at w=2 waits for seq 1: placed before them
    s_request (fx, (req_t){"s", .first_req = 1, .w = 2}, HELD (3, 0), 0, NULL);
    s_no_more (fx);
    cr_assert_eq (appends_durable (fx->appends, HELD (3, 1)), 1);
    got_t *g = s_next (fx);
    cr_assert (s_route_is (g, "s"));
    cr_assert_eq (g->r.seq, 1);
    s_no_more (fx);
    cr_assert_eq (appends_durable (fx->appends, HELD (3, 3)), 2);
    cr_assert_eq (s_next (fx)->r.seq, 2);
    cr_assert_eq (s_next (fx)->r.seq, 3);
    s_no_more (fx);
    s_fx_destroy (&fx);
}

Test (appends, rollback_answers_internal_and_forgets)
{
    fx_t *fx = s_fx_new (NULL);
    //  Written up to 1; seqs 2 and 3 were buffered in this turn
    s_request (fx, (req_t){"a", .first_req = 1, .w = 1}, HELD (0), 0, NULL);
    s_request (fx, (req_t){"b", .first_req = 2, .w = 1}, HELD (0), 0, NULL);
    s_request (fx, (req_t){"c", .first_req = 3, .w = 3, .timeout_ms = 50}, HELD (0), 0, NULL);
    s_no_more (fx);
    cr_assert_eq (appends_rollback (fx->appends, 1, "disk write failed (No space): not stored"), 2);
    //  By w level
    got_t *g = s_next (fx);
    cr_assert (s_route_is (g, "b"));
    cr_assert_eq (g->r.code, RLOG_INTERNAL);
    g = s_next (fx);
    cr_assert (s_route_is (g, "c"));
    cr_assert_eq (g->r.code, RLOG_INTERNAL);
    cr_assert_eq (g->r.seq, 0, "the entry does not exist");
    cr_assert_eq (g->r.first_seq, 0);
    cr_assert_eq (g->r.acks, 0);
    cr_assert_str_eq (g->text, "disk write failed (No space): not stored");
    s_no_more (fx);
    cr_assert_eq (appends_parked (fx->appends), 1, "seq 1 still waits");
    cr_assert_eq (appends_next_deadline (fx->appends), -1);
    dedup_t *dedup = appends_dedup (fx->appends);
    cr_assert_eq (dedup_lookup (dedup, fx->id, 1, NULL), DEDUP_FOUND);
    cr_assert_eq (dedup_lookup (dedup, fx->id, 2, NULL), DEDUP_NEW);
    cr_assert_eq (dedup_lookup (dedup, fx->id, 3, NULL), DEDUP_NEW);
    //  A retry appends it again, at the seq the log gives now
    fx->head = 1;
    appends_verdict_t v[1];
    s_request (fx, (req_t){"b", .first_req = 2, .w = 1}, HELD (2), 0, v);
    cr_assert_eq (v[0], APPENDS_NEW);
    g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_OK);
    cr_assert_eq (g->r.seq, 2);
    cr_assert_eq (appends_durable (fx->appends, HELD (2)), 1);
    cr_assert (s_route_is (s_next (fx), "a"));
    s_no_more (fx);
    cr_assert_eq (appends_rollback (fx->appends, 2, "x"), 0);
    s_fx_destroy (&fx);
}

Test (appends, rollback_of_a_batch_with_duplicates)
{
    fx_t *fx = s_fx_new (NULL);
    //  Request 1 is stored and written (seq 1); request 2 only buffered (2)
    s_request (fx, (req_t){"a", .first_req = 1, .w = 1}, HELD (1), 0, NULL);
    cr_assert_eq (s_next (fx)->r.seq, 1);
    s_request (fx, (req_t){"a", .first_req = 2, .w = 1}, HELD (1), 0, NULL);
    //  A batch 1..4: 1 and 2 duplicates, 3 and 4 new (seqs 3, 4)
    s_request (fx, (req_t){"b", .first_req = 1, .count = 4, .w = 1, .batch = true}, HELD (1), 0,
               NULL);
    s_no_more (fx);
    cr_assert_eq (appends_rollback (fx->appends, 1, "lost"), 2);
    got_t *g = s_next (fx);
    cr_assert (s_route_is (g, "b"));
    cr_assert_eq (g->r.code, RLOG_INTERNAL);
    cr_assert_eq (g->r.exception_count, 2);
    cr_assert_eq (g->exc[0].index, 0);
    cr_assert_eq (g->exc[0].code, RLOG_OK);
    cr_assert_eq (g->exc[0].seq, 1, "still stored");
    cr_assert_eq (g->exc[1].index, 1);
    cr_assert_eq (g->exc[1].code, RLOG_INTERNAL, "its original was lost too");
    cr_assert_eq (g->exc[1].seq, 0);
    cr_assert (s_route_is (s_next (fx), "a"));
    s_no_more (fx);
    dedup_t *dedup = appends_dedup (fx->appends);
    cr_assert_eq (dedup_lookup (dedup, fx->id, 1, NULL), DEDUP_FOUND);
    for (uint64_t r = 2; r <= 4; r++)
        cr_assert_eq (dedup_lookup (dedup, fx->id, r, NULL), DEDUP_NEW);
    s_fx_destroy (&fx);
}

//  A request that cannot park is not held to the parking limits: a w=1
//  append to an in-memory master goes through while the table is full.
Test (appends, limits_apply_only_to_requests_that_may_park)
{
    appends_config_t config = s_config;
    config.max_parked = 1;
    fx_t *fx = s_fx_new (&config);
    uint64_t held[3] = {10, 0, 0};
    fx->head = 10;
    cr_assert_eq (s_request (fx, (req_t){.route = "a", .first_req = 1, .w = 3}, held, 3, 0, NULL),
                  0);
    cr_assert_eq (appends_parked (fx->appends), 1);
    //  Full: one more that would park is BUSY...
    cr_assert_eq (s_request (fx, (req_t){.route = "b", .first_req = 2, .w = 3}, held, 3, 0, NULL),
                  -1);
    cr_assert_eq (s_next (fx)->r.code, RLOG_BUSY);
    //  ...one answered at once (the master holds it as soon as it is
    //  stored, as in memory) is not.
    uint64_t now_held[3] = {12, 0, 0};
    cr_assert_eq (s_request (fx, (req_t){.route = "b", .first_req = 3, .w = 1, .immediate = true},
                             now_held, 3, 0, NULL),
                  0);
    got_t *g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_OK);
    cr_assert (s_route_is (g, "b"));
    s_no_more (fx);
    s_fx_destroy (&fx);
}

Test (appends, shutdown_answers_everyone)
{
    fx_t *fx = s_fx_new (NULL);
    s_request (fx, (req_t){"a", .first_req = 1, .w = 2, .timeout_ms = 10}, HELD (0), 0, NULL);
    s_request (fx, (req_t){"b", .first_req = 2, .w = 3}, HELD (0), 0, NULL);
    s_request (fx, (req_t){"c", .first_req = 3, .w = 1}, HELD (0), 0, NULL);
    s_no_more (fx);
    cr_assert_eq (appends_shutdown (fx->appends, HELD (3, 2)), 3);
    //  By w level: w=1 (covered: OK), w=2 (seq 1, held by 2: OK), w=3
    got_t *g = s_next (fx);
    cr_assert (s_route_is (g, "c"));
    cr_assert_eq (g->r.code, RLOG_OK);
    g = s_next (fx);
    cr_assert (s_route_is (g, "a"));
    cr_assert_eq (g->r.code, RLOG_OK);
    cr_assert_eq (g->r.acks, 2);
    g = s_next (fx);
    cr_assert (s_route_is (g, "b"));
    cr_assert_eq (g->r.code, RLOG_TIMEOUT);
    cr_assert_eq (g->r.seq, 2);
    cr_assert_str_eq (g->text, "master stopping: stored on 2 of 3 nodes");
    s_no_more (fx);
    cr_assert_eq (appends_parked (fx->appends), 0);
    cr_assert_eq (appends_next_deadline (fx->appends), -1);
    cr_assert_eq (appends_shutdown (fx->appends, HELD (3)), 0);
    s_fx_destroy (&fx);
}

Test (appends, batch_all_new)
{
    fx_t *fx = s_fx_new (NULL);
    appends_verdict_t v[5];
    cr_assert_eq (s_request (fx, (req_t){"r", .first_req = 10, .count = 5, .w = 2, .batch = true},
                             HELD (5, 0), 0, v),
                  0);
    for (int i = 0; i < 5; i++)
        cr_assert_eq (v[i], APPENDS_NEW);
    s_no_more (fx);
    //  It waits for its highest seq
    cr_assert_eq (appends_durable (fx->appends, HELD (5, 4)), 0);
    cr_assert_eq (appends_durable (fx->appends, HELD (5, 5)), 1);
    got_t *g = s_next (fx);
    cr_assert (g->r.batch);
    cr_assert_eq (g->r.code, RLOG_OK);
    cr_assert_eq (g->r.first_req, 10);
    cr_assert_eq (g->r.count, 5);
    cr_assert_eq (g->r.first_seq, 1);
    cr_assert_eq (g->r.seq, 5);
    cr_assert_eq (g->r.acks, 2);
    cr_assert_eq (g->r.exception_count, 0);
    s_no_more (fx);
    //  Dedup holds the batch as one run, each id at its seq
    dedup_t *dedup = appends_dedup (fx->appends);
    cr_assert_eq (dedup_runs (dedup), 1);
    uint64_t seq;
    cr_assert_eq (dedup_lookup (dedup, fx->id, 13, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 4);
    //  Retried whole while parked: rebinds like an APPEND
    s_request (fx, (req_t){"r", .first_req = 20, .count = 3, .w = 3, .batch = true}, HELD (8, 0, 0),
               0, NULL);
    cr_assert_eq (s_request (fx, (req_t){"s", .first_req = 20, .count = 3, .w = 3, .batch = true},
                             HELD (8, 0, 0), 0, NULL),
                  -1);
    cr_assert_eq (appends_durable (fx->appends, HELD (8, 8, 8)), 1);
    g = s_next (fx);
    cr_assert (s_route_is (g, "s"));
    cr_assert_eq (g->r.first_seq, 6);
    cr_assert_eq (g->r.seq, 8);
    s_no_more (fx);
    s_fx_destroy (&fx);
}

Test (appends, batch_partly_duplicate)
{
    fx_t *fx = s_fx_new (NULL);
    //  Requests 2 and 3 stored at seqs 1, 2; another client's entry at 3
    s_request (fx, (req_t){"r", .first_req = 2, .count = 2, .w = 1, .batch = true}, HELD (2), 0,
               NULL);
    cr_assert_eq (s_next (fx)->r.first_seq, 1);
    fx->head = 3;
    //  The batch 1..5 again: 1, 4, 5 new (seqs 4..6), 2 and 3 duplicates
    appends_verdict_t v[5];
    s_request (fx, (req_t){"r", .first_req = 1, .count = 5, .w = 2, .batch = true}, HELD (6, 0), 0,
               v);
    appends_verdict_t expect[5] = {APPENDS_NEW, APPENDS_DUP, APPENDS_DUP, APPENDS_NEW, APPENDS_NEW};
    cr_assert_arr_eq (v, expect, sizeof v);
    s_no_more (fx);
    cr_assert_eq (appends_durable (fx->appends, HELD (6, 6)), 1);
    got_t *g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_OK);
    cr_assert_eq (g->r.first_seq, 4);
    cr_assert_eq (g->r.seq, 6);
    cr_assert_eq (g->r.exception_count, 2);
    cr_assert_eq (g->exc[0].index, 1);
    cr_assert_eq (g->exc[0].code, RLOG_OK);
    cr_assert_eq (g->exc[0].seq, 1);
    cr_assert_eq (g->exc[1].index, 2);
    cr_assert_eq (g->exc[1].seq, 2);
    s_no_more (fx);
    //  Dedup: id 1 at 4, ids 4 and 5 at 5 and 6 (the new entries follow on)
    uint64_t seq;
    dedup_t *dedup = appends_dedup (fx->appends);
    cr_assert_eq (dedup_lookup (dedup, fx->id, 1, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 4);
    cr_assert_eq (dedup_lookup (dedup, fx->id, 5, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 6);
    //  Only duplicates, waiting for an old seq: held already -> now
    s_request (fx, (req_t){"r", .first_req = 2, .count = 2, .w = 2, .batch = true}, HELD (6, 6), 0,
               v);
    g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_OK);
    cr_assert_eq (g->r.first_seq, 0);
    cr_assert_eq (g->r.seq, 2, "the highest seq it names");
    cr_assert_eq (g->r.exception_count, 2);
    s_no_more (fx);
    s_fx_destroy (&fx);
}

Test (appends, batch_partly_refused)
{
    fx_t *fx = s_fx_new (NULL);
    appends_verdict_t v[4];
    //  Sizes: ok, too large, empty, ok; request ids with a gap (1, 2, 5, 6)
    s_request (fx,
               (req_t){"r", .first_req = 1, .count = 4, .w = 1, .batch = true,
                       .sizes = (size_t[]){5, 101, 0, 100}, .reqs = (uint64_t[]){1, 2, 5, 6}},
               HELD (2), 0, v);
    appends_verdict_t expect[4] = {APPENDS_NEW, APPENDS_REFUSED, APPENDS_REFUSED, APPENDS_NEW};
    cr_assert_arr_eq (v, expect, sizeof v);
    cr_assert_eq (fx->head, 2);
    got_t *g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_OK);
    cr_assert_eq (g->r.first_seq, 1);
    cr_assert_eq (g->r.seq, 2);
    cr_assert_eq (g->r.exception_count, 2);
    cr_assert_eq (g->exc[0].index, 1);
    cr_assert_eq (g->exc[0].code, RLOG_TOO_LARGE);
    cr_assert_eq (g->exc[0].seq, 0);
    cr_assert_eq (g->exc[1].index, 2);
    cr_assert_eq (g->exc[1].code, RLOG_EMPTY);
    s_no_more (fx);
    //  Seqs 1, 2 went to ids 1 and 6; the refused ids stay new
    dedup_t *dedup = appends_dedup (fx->appends);
    uint64_t seq;
    cr_assert_eq (dedup_lookup (dedup, fx->id, 6, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 2);
    cr_assert_eq (dedup_lookup (dedup, fx->id, 2, NULL), DEDUP_NEW);
    cr_assert_eq (dedup_lookup (dedup, fx->id, 5, NULL), DEDUP_NEW);
    //  Every entry refused: nothing to wait for, the first refusal's code
    s_request (fx,
               (req_t){"r", .first_req = 7, .count = 2, .w = 3, .batch = true,
                       .refuse = RLOG_READ_ONLY, .refuse_text = "read-only: why",
                       .sizes = (size_t[]){101, 1}},
               HELD (2), 0, v);
    g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_TOO_LARGE);
    cr_assert_str_eq (g->text, "payload of 101 bytes exceeds 100");
    cr_assert_eq (g->r.first_seq, 0);
    cr_assert_eq (g->r.exception_count, 2);
    cr_assert_eq (g->exc[1].code, RLOG_READ_ONLY);
    cr_assert_eq (appends_parked (fx->appends), 0);
    s_no_more (fx);
    s_fx_destroy (&fx);
}

Test (appends, batch_write_concern_per_batch)
{
    fx_t *fx = s_fx_new (NULL);
    //  Two batches at different w: each answered when its own w is met
    s_request (fx, (req_t){"a", .first_req = 1, .count = 3, .w = 3, .batch = true}, HELD (0, 0, 0),
               0, NULL);
    s_request (fx, (req_t){"b", .first_req = 4, .count = 3, .w = 2, .batch = true}, HELD (0, 0, 0),
               0, NULL);
    s_no_more (fx);
    cr_assert_eq (appends_durable (fx->appends, HELD (6, 6, 2)), 1);
    got_t *g = s_next (fx);
    cr_assert (s_route_is (g, "b"));
    cr_assert_eq (g->r.first_seq, 4);
    cr_assert_eq (g->r.acks, 2);
    s_no_more (fx);
    cr_assert_eq (appends_durable (fx->appends, HELD (6, 6, 3)), 1);
    g = s_next (fx);
    cr_assert (s_route_is (g, "a"));
    cr_assert_eq (g->r.seq, 3);
    cr_assert_eq (g->r.acks, 3);
    s_no_more (fx);
    s_fx_destroy (&fx);
}

Test (appends, abort_stores_nothing)
{
    fx_t *fx = s_fx_new (NULL);
    appends_request_t req = {(const uint8_t *)"r", 1, fx->id, 1, 2, 2, 100, true, true};
    cr_assert_eq (appends_begin (fx->appends, &req, 0, "", 0), 0);
    cr_assert_eq (appends_entry (fx->appends, 1, 10), APPENDS_NEW);
    cr_assert_eq (appends_entry (fx->appends, 2, 10), APPENDS_NEW);
    appends_abort (fx->appends, RLOG_INTERNAL, "cannot append: No space left on device");
    got_t *g = s_next (fx);
    cr_assert_eq (g->r.code, RLOG_INTERNAL);
    cr_assert_str_eq (g->text, "cannot append: No space left on device");
    cr_assert_eq (g->r.seq, 0);
    cr_assert_eq (g->r.first_seq, 0);
    cr_assert_eq (g->r.exception_count, 0);
    s_no_more (fx);
    cr_assert_eq (appends_parked (fx->appends), 0);
    cr_assert_eq (appends_route_parked (fx->appends, (const uint8_t *)"r", 1), 0);
    cr_assert_eq (dedup_lookup (appends_dedup (fx->appends), fx->id, 1, NULL), DEDUP_NEW);
    //  The same request goes through afterwards
    cr_assert_eq (s_request (fx, (req_t){"r", .first_req = 1, .count = 2, .w = 1, .batch = true},
                             HELD (2), 0, NULL),
                  0);
    cr_assert_eq (s_next (fx)->r.code, RLOG_OK);
    s_no_more (fx);
    s_fx_destroy (&fx);
}

Test (appends, long_routes_and_slot_reuse)
{
    fx_t *fx = s_fx_new (NULL);
    char route[APPENDS_ROUTE_MAX + 1];
    memset (route, 'q', APPENDS_ROUTE_MAX);
    route[APPENDS_ROUTE_MAX] = 0;
    //  Many rounds through the same few slots; long routes on the heap
    for (uint64_t r = 1; r <= 200; r++) {
        fx->n = fx->seen = 0;
        route[0] = (char)('a' + r % 3);
        s_request (fx, (req_t){route, .first_req = r, .w = 2}, HELD (r, r - 1), 0, NULL);
        s_no_more (fx);
        cr_assert_eq (appends_parked (fx->appends), 1);
        cr_assert_eq (appends_durable (fx->appends, HELD (r, r)), 1);
        got_t *g = s_next (fx);
        cr_assert_eq (g->r.route_size, APPENDS_ROUTE_MAX);
        cr_assert_eq (memcmp (g->route, route, APPENDS_ROUTE_MAX), 0);
        cr_assert_eq (g->r.seq, r);
    }
    cr_assert_eq (dedup_runs (appends_dedup (fx->appends)), 1, "200 ids, one run");
    s_fx_destroy (&fx);
}

Test (appends, recover_from_records)
{
    fx_t *fx = s_fx_new (NULL);
    uint8_t client[DEDUP_ID_SIZE] = {9, 9, 9};
    //  A record of 3 entries with request ids 5, 6, 9 at seqs 10..12
    uint8_t entries[64];
    size_t size = 0;
    size += entries_put (entries + size, 0, "a", 1);
    size += entries_put (entries + size, 1, "b", 1);
    size += entries_put (entries + size, 3, "c", 1);
    uint8_t bytes[256];
    size_t total = record_write (bytes, 1, 10, 3, 0, client, DEDUP_ID_SIZE, 5, entries, size);
    record_t record;
    cr_assert_eq (record_check (bytes, total, 100, &record), RECORD_OK);
    cr_assert_eq (appends_recover (fx->appends, &record), 0);
    dedup_t *dedup = appends_dedup (fx->appends);
    uint64_t seq;
    cr_assert_eq (dedup_lookup (dedup, client, 6, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 11);
    cr_assert_eq (dedup_lookup (dedup, client, 9, &seq), DEDUP_FOUND);
    cr_assert_eq (seq, 12);
    cr_assert_eq (dedup_lookup (dedup, client, 7, &seq), DEDUP_NEW);
    cr_assert_eq (dedup_runs (dedup), 2);
    //  A marker and a record without a client id are skipped
    uint8_t marker_entry[4];
    size_t msize = entries_put (marker_entry, 0, "", 0);
    total = record_write (bytes, 2, 13, 1, RECORD_F_MARKER, NULL, 0, 0, marker_entry, msize);
    cr_assert_eq (record_check (bytes, total, 100, &record), RECORD_OK);
    cr_assert_eq (appends_recover (fx->appends, &record), 0);
    cr_assert_eq (dedup_clients (dedup), 2);
    //  A retry of a recovered request gets its original seq
    appends_verdict_t v[1];
    s_request (fx, (req_t){"r", client, 9, .w = 1}, HELD (13), 0, v);
    cr_assert_eq (v[0], APPENDS_DUP);
    cr_assert_eq (s_next (fx)->r.seq, 12);
    s_no_more (fx);
    s_fx_destroy (&fx);
}

//  ---------------------------------------------------------------------
//  Random APPENDs, retries, ACKs, deadlines, commits and failed writes
//  against a model of the log: no request id is ever stored twice, every
//  request is answered exactly once (or rebound), OK only when w nodes
//  hold it, and the route counts always add up to what is parked.

static uint64_t s_rand (uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

#define MODEL_REQS 40

typedef struct {
    uint64_t seq_of[MODEL_REQS + 1]; //  request id -> seq stored, 0: none
    uint64_t req_at[4096];           //  seq -> request id
    uint64_t written;
    uint64_t held[3]; //  master (= written), two secondaries
    size_t requests, rebinds;
} model_t;

static void s_model_check_replies (fx_t *fx, model_t *m)
{
    while (fx->seen < fx->n) {
        got_t *g = s_next (fx);
        if (g->r.code == RLOG_OK || g->r.code == RLOG_TIMEOUT) {
            uint64_t req = g->r.first_req;
            cr_assert_eq (m->seq_of[req], g->r.seq, "req %lu answered with seq %lu",
                          (unsigned long)req, (unsigned long)g->r.seq);
            if (g->r.code == RLOG_OK)
                cr_assert_geq (g->r.acks, g->r.w);
        }
        if (g->r.code == RLOG_INTERNAL)
            cr_assert_eq (g->r.seq, 0);
    }
    size_t routes = 0;
    for (char r = 'a'; r <= 'd'; r++)
        routes += appends_route_parked (fx->appends, (const uint8_t *)&r, 1);
    cr_assert_eq (routes, appends_parked (fx->appends));
}

static void s_model_request (fx_t *fx, model_t *m, uint64_t *rng, int64_t now)
{
    char route = (char)('a' + s_rand (rng) % 4);
    char route_text[2] = {route, 0};
    uint64_t req = 1 + s_rand (rng) % MODEL_REQS;
    uint64_t w = 1 + s_rand (rng) % 3;
    uint64_t timeout = s_rand (rng) % 3 ? 0 : 1 + s_rand (rng) % 50;
    size_t before = fx->n;
    appends_verdict_t v[1] = {APPENDS_REFUSED};
    uint64_t head = fx->head;
    int rc = s_request (fx, (req_t){route_text, .first_req = req, .w = w, .timeout_ms = timeout},
                        m->held, 3, now, v);
    m->requests++;
    if (rc != 0 && fx->n == before)
        m->rebinds++;
    if (rc == 0 && v[0] == APPENDS_NEW) {
        cr_assert_eq (m->seq_of[req], 0, "req %lu stored twice", (unsigned long)req);
        cr_assert_eq (fx->head, head + 1);
        m->seq_of[req] = fx->head;
        m->req_at[fx->head] = req;
    }
}

static void s_model_step (fx_t *fx, model_t *m, uint64_t *rng, int64_t now)
{
    uint64_t op = s_rand (rng) % 10;
    if (op < 5)
        s_model_request (fx, m, rng, now);
    else if (op < 7) { //  a commit, then some ACKs
        m->written = m->held[0] = fx->head;
        for (int i = 1; i < 3; i++)
            if (s_rand (rng) % 2)
                m->held[i] += (m->written - m->held[i]) / 2 + (m->written > m->held[i]);
        appends_durable (fx->appends, m->held, 3);
    } else if (op < 8 && fx->head > m->written) { //  the write failed
        appends_rollback (fx->appends, m->written, "not stored");
        for (uint64_t seq = m->written + 1; seq <= fx->head; seq++)
            m->seq_of[m->req_at[seq]] = 0;
        fx->head = m->written;
    } else
        appends_expire (fx->appends, now, m->held, 3);
    s_model_check_replies (fx, m);
}

Test (appends, random_model)
{
    appends_config_t config = s_config;
    config.dedup_window = 4096;
    fx_t *fx = s_fx_new (&config);
    model_t *m = calloc (1, sizeof *m);
    cr_assert_not_null (m);
    uint64_t rng = 0xFEED;
    int64_t now = 0;
    for (int step = 0; step < 3000 && fx->head < 4000; step++) {
        now += (int64_t)(s_rand (&rng) % 5);
        //  The replies are checked and dropped as they come
        fx->n = fx->seen = 0;
        s_model_step (fx, m, &rng, now);
    }
    fx->n = fx->seen = 0;
    size_t parked = appends_parked (fx->appends);
    cr_assert_eq (appends_shutdown (fx->appends, m->held, 3), parked);
    s_model_check_replies (fx, m);
    cr_assert_eq (appends_parked (fx->appends), 0);
    cr_assert_gt (m->rebinds, 0, "the run should retry parked requests");
    cr_assert_eq (fx->total, m->requests - m->rebinds, "each request answered once");
    free (m);
    s_fx_destroy (&fx);
}
