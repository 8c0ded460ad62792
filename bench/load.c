/*  load.c - rlog load generator and the bench driver's helpers, on librlog.

    load run --endpoint EP --mode sequential|clients|pipelined --w N
             [--payload B] [--clients K] [--window W] [--seconds S] [--warmup S]
             [--count N] [--batch E] [--batch-bytes B] [--linger MS]
        sequential: one rlog_client, one append at a time.
        clients:    K threads, each with its own rlog_client, each waiting for
                    its reply before the next append.
        pipelined:  one rlog_pipeline keeping WINDOW appends in flight; the
                    pipeline packs them into APPEND_BATCH frames with its
                    defaults (--batch/--batch-bytes/--linger override them:
                    rlog_pipeline_set_batch / set_linger; --batch 1 sends
                    every append in its own frame).
        Prints the bench_util.h result line. Latency is submit -> reply (w
        nodes hold the entry). Non-OK replies count as errors, not as msgs.
        --count N (sequential, clients): exactly N appends in all, no
        warm-up, the interval is however long they take (bench/
        instructions.sh counts instructions per append this way).
        A header line on stderr says what runs, with the batch settings.

    load fill --endpoint EP --count N [--payload B] [--w N] [--window W]
              [--batch E] [--batch-bytes B] [--linger MS]
        Append exactly N entries (pipelined) as fast as possible; prints
        "count,seconds,entries_per_s,errors".

    load failover-client --endpoint EP1,EP2,EP3 [--w N] [--payload B]
                         [--seconds S] [--gap-ms G]
        One rlog_client given every node's endpoint (it follows NOT_MASTER)
        appending one entry at a time until S seconds (default 600) or
        SIGTERM. Prints, CLOCK_REALTIME ns, flushed at once:
          "resumed PREV_NS NS"  a success at NS after none since PREV_NS,
                                more than G ms (default 20) before;
          "ok COUNT NS"         progress, at most every 200 ms;
          "refused CODE NS"     the first refusal after a success.
        bench/run.sh kills the master and reads the failover time from the
        first "resumed" line after the kill.

    load ready --endpoint EP --healthy H [--timeout-ms T]
        Wait until the master is read-write with at least H healthy nodes.

    load wait-head --endpoint EP --head N [--since-ns T] [--poll-ms P]
                   [--timeout-ms T]
        Poll the node's status every P ms (default 20) until its head is >= N;
        prints "seconds,entries_per_s" measured from the CLOCK_REALTIME
        instant T (ns, e.g. `date +%s%N` just before starting the node), or
        from this program's start.
*/
#include "bench_util.h"
#include "rlog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

//  bench/instructions.sh builds this file against the rlog before the
//  redesign too (-DLOAD_V1_API), whose pipeline had no batch settings.
#ifdef LOAD_V1_API
#define rlog_pipeline_set_batch(p, e, b) ((void)(p), (void)(e), (void)(b))
#define rlog_pipeline_set_linger(p, l)   ((void)(p), (void)(l))
#endif

typedef struct {
    const char *command;
    const char *endpoint;
    const char *mode;
    int w;
    size_t payload;
    int clients;
    size_t window;
    double seconds;
    double warmup;
    uint64_t count;
    uint32_t healthy;
    uint64_t head;
    uint64_t since_ns;
    int poll_ms;
    int timeout_ms;
    size_t batch;       //  0: the pipeline's default
    size_t batch_bytes; //  0: the pipeline's default
    int linger_ms;
    int gap_ms;
} args_t;

static int s_usage (void)
{
    fprintf (stderr, "usage: load run --endpoint EP --mode sequential|clients|pipelined --w N\n"
                     "                [--payload B] [--clients K] [--window W] [--seconds S] "
                     "[--warmup S]\n"
                     "                [--count N] [--batch E] [--batch-bytes B] [--linger MS]\n"
                     "       load fill --endpoint EP --count N [--payload B] [--w N] [--window W]\n"
                     "                [--batch E] [--batch-bytes B] [--linger MS]\n"
                     "       load failover-client --endpoint EP1,EP2,... [--w N] [--payload B] "
                     "[--seconds S] [--gap-ms G]\n"
                     "       load ready --endpoint EP --healthy H [--timeout-ms T]\n"
                     "       load wait-head --endpoint EP --head N [--since-ns T] [--poll-ms P] "
                     "[--timeout-ms T]\n");
    return 2;
}

//  ---------------------------------------------------------------------------
//  K synchronous clients (K = 1 is the sequential mode)

typedef struct {
    const args_t *args;
    uint64_t t_begin, t_end;
    atomic_llong *left; //  --count: appends not yet started by anyone; else NULL
    uint64_t t_last;    //  when its last counted append was answered
    uint64_t completed;
    uint64_t errors;
    int first_error;
    bool failed;
    bench_lat_t lat;
} worker_t;

static void *s_worker (void *arg)
{
    worker_t *self = (worker_t *)arg;
    const args_t *args = self->args;
    uint8_t *payload = (uint8_t *)malloc (args->payload);
    rlog_client_t *client = rlog_client_new (args->endpoint);
    if (!payload || !client) {
        self->failed = true;
        free (payload);
        return NULL;
    }
    bench_fill_payload (payload, args->payload);
    for (;;) {
        if (self->left && atomic_fetch_sub (self->left, 1) <= 0)
            break;
        uint64_t t0 = bench_now_ns ();
        int rc = rlog_client_append (client, payload, args->payload, args->w, 0, NULL);
        uint64_t t1 = bench_now_ns ();
        if (rc == RLOG_UNREACHABLE) {
            fprintf (stderr, "load: %s\n", rlog_client_error (client));
            self->failed = true;
            break;
        }
        if (!self->left) {
            if (t1 >= self->t_end)
                break;
            if (t1 < self->t_begin)
                continue;
        }
        self->t_last = t1;
        if (rc != RLOG_OK) {
            if (!self->errors++)
                self->first_error = rc;
            continue;
        }
        self->completed++;
        bench_lat_push (&self->lat, t1 - t0);
    }
    rlog_client_destroy (&client);
    free (payload);
    return NULL;
}

static int s_run_clients (const args_t *args, int clients)
{
    //  librlog's first socket initialises CZMQ's global state, which is not
    //  safe to do from several threads at once (zsys_init asserts): make the
    //  first socket here, before the threads exist. It also checks the node.
    rlog_client_t *probe = rlog_client_new (args->endpoint);
    rlog_status_t status;
    if (!probe || rlog_client_status (probe, &status) != RLOG_OK) {
        fprintf (stderr, "load: %s does not answer\n", args->endpoint);
        rlog_client_destroy (&probe);
        return 1;
    }
    rlog_client_destroy (&probe);
    worker_t *workers = (worker_t *)calloc ((size_t)clients, sizeof (worker_t));
    pthread_t *threads = (pthread_t *)calloc ((size_t)clients, sizeof (pthread_t));
    if (!workers || !threads)
        return 1;
    //  --count: exactly that many appends, timed from the first to the last.
    atomic_llong left = (long long)args->count;
    uint64_t t_begin = bench_now_ns () + (args->count ? 0 : (uint64_t)(args->warmup * 1e9));
    uint64_t t_end = t_begin + (uint64_t)(args->seconds * 1e9);
    for (int i = 0; i < clients; i++) {
        workers[i].args = args;
        workers[i].t_begin = t_begin;
        workers[i].t_end = t_end;
        workers[i].left = args->count ? &left : NULL;
        if (bench_lat_init (&workers[i].lat, 1u << 16) != 0 ||
            pthread_create (&threads[i], NULL, s_worker, &workers[i]) != 0) {
            fprintf (stderr, "load: cannot start client %d\n", i);
            return 1;
        }
    }
    bench_lat_t all;
    bench_lat_init (&all, 1u << 20);
    uint64_t completed = 0, errors = 0, t_last = t_begin;
    int failed = 0, first_error = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join (threads[i], NULL);
        if (workers[i].t_last > t_last)
            t_last = workers[i].t_last;
        completed += workers[i].completed;
        errors += workers[i].errors;
        failed += workers[i].failed;
        if (!first_error)
            first_error = workers[i].first_error;
        bench_lat_append (&all, &workers[i].lat);
        bench_lat_free (&workers[i].lat);
    }
    free (workers);
    free (threads);
    if (failed) {
        fprintf (stderr, "load: %d of %d clients failed\n", failed, clients);
        bench_lat_free (&all);
        return 1;
    }
    if (errors)
        fprintf (stderr, "load: %llu appends refused (first: %s)\n", (unsigned long long)errors,
                 rlog_strerror (first_error));
    double seconds = args->count ? (double)(t_last - t_begin) / 1e9 : args->seconds;
    bench_print_result (&all, completed, seconds, args->payload, errors);
    bench_lat_free (&all);
    return 0;
}

//  ---------------------------------------------------------------------------
//  One pipeline with a window of appends in flight

#define RING_SIZE   (1u << 20)
#define COLLECT_MAX 1024

typedef struct {
    uint64_t req_id;
    uint64_t sent_ns;
} slot_t;

typedef struct {
    rlog_pipeline_t *pipe;
    slot_t *ring;
    rlog_completion_t out[COLLECT_MAX];
    uint64_t completed; //  OK completions counted (in the measured interval)
    uint64_t ok;        //  every OK completion
    uint64_t errors;
    int first_error;
} pipe_state_t;

//  Collect what is ready (waiting up to WAIT_MS for the first one); OK ones
//  completed in [T_BEGIN, T_END) are counted and their latency recorded.
static size_t s_collect (pipe_state_t *st, int wait_ms, uint64_t t_begin, uint64_t t_end,
                         bench_lat_t *lat)
{
    size_t n = rlog_pipeline_collect (st->pipe, wait_ms, st->out, COLLECT_MAX);
    uint64_t now = bench_now_ns ();
    bool counted = now >= t_begin && now < t_end;
    for (size_t i = 0; i < n; i++) {
        const rlog_completion_t *c = &st->out[i];
        if (c->code != RLOG_OK) {
            if (!st->errors++) {
                st->first_error = c->code;
                fprintf (stderr, "load: first refused append: %s (%s)\n", rlog_strerror (c->code),
                         rlog_pipeline_detail (st->pipe, i));
            }
            continue;
        }
        st->ok++;
        const slot_t *slot = &st->ring[c->req_id & (RING_SIZE - 1)];
        if (counted && slot->req_id == c->req_id) {
            st->completed++;
            if (lat)
                bench_lat_push (lat, now - slot->sent_ns);
        }
    }
    return n;
}

static void s_submit (pipe_state_t *st, const uint8_t *payload, size_t size, size_t limit)
{
    while (rlog_pipeline_in_flight (st->pipe) < limit) {
        uint64_t now = bench_now_ns ();
        uint64_t id = rlog_pipeline_submit (st->pipe, payload, size);
        if (!id)
            break;
        slot_t *slot = &st->ring[id & (RING_SIZE - 1)];
        slot->req_id = id;
        slot->sent_ns = now;
    }
}

//  Collect until nothing is in flight, at most GRACE_MS.
static void s_drain (pipe_state_t *st, int grace_ms)
{
    uint64_t give_up = bench_now_ns () + (uint64_t)grace_ms * 1000000ull;
    while (rlog_pipeline_in_flight (st->pipe) > 0 && bench_now_ns () < give_up)
        s_collect (st, 100, 0, 0, NULL);
}

static int s_pipe_open (pipe_state_t *st, const args_t *args)
{
    memset (st, 0, sizeof *st);
    st->pipe = rlog_pipeline_new (args->endpoint, args->w, 0);
    st->ring = (slot_t *)calloc (RING_SIZE, sizeof (slot_t));
    if (!st->pipe || !st->ring) {
        fprintf (stderr, "load: cannot create a pipeline to %s\n", args->endpoint);
        return -1;
    }
    //  0 keeps the pipeline's defaults (rlog.h); the header line names them.
    if (args->batch || args->batch_bytes)
        rlog_pipeline_set_batch (st->pipe, args->batch, args->batch_bytes);
    if (args->linger_ms)
        rlog_pipeline_set_linger (st->pipe, args->linger_ms);
    return 0;
}

static void s_pipe_close (pipe_state_t *st)
{
    rlog_pipeline_destroy (&st->pipe);
    free (st->ring);
    st->ring = NULL;
}

static int s_run_pipelined (const args_t *args)
{
    pipe_state_t st;
    uint8_t *payload = (uint8_t *)malloc (args->payload);
    bench_lat_t lat;
    if (!payload || bench_lat_init (&lat, 1u << 22) != 0 || s_pipe_open (&st, args) != 0)
        return 1;
    bench_fill_payload (payload, args->payload);
    uint64_t t_begin = bench_now_ns () + (uint64_t)(args->warmup * 1e9);
    uint64_t t_end = t_begin + (uint64_t)(args->seconds * 1e9);
    uint64_t last_progress = bench_now_ns ();
    int rc = 0;
    while (bench_now_ns () < t_end) {
        s_submit (&st, payload, args->payload, args->window);
        bool full = rlog_pipeline_in_flight (st.pipe) >= args->window;
        if (s_collect (&st, full ? 100 : 0, t_begin, t_end, &lat) > 0)
            last_progress = bench_now_ns ();
        else if (bench_now_ns () - last_progress > 5000000000ull) {
            fprintf (stderr, "load: no completion for 5 s (%zu in flight)\n",
                     rlog_pipeline_in_flight (st.pipe));
            rc = 1;
            break;
        }
    }
    s_drain (&st, 3000);
    if (rlog_pipeline_in_flight (st.pipe) > 0)
        fprintf (stderr, "load: %zu appends still unanswered 3 s after the run\n",
                 rlog_pipeline_in_flight (st.pipe));
    if (st.errors)
        fprintf (stderr, "load: %llu appends refused (first: %s)\n", (unsigned long long)st.errors,
                 rlog_strerror (st.first_error));
    if (rc == 0)
        bench_print_result (&lat, st.completed, args->seconds, args->payload, st.errors);
    s_pipe_close (&st);
    bench_lat_free (&lat);
    free (payload);
    return rc;
}

static int s_fill (const args_t *args)
{
    pipe_state_t st;
    uint8_t *payload = (uint8_t *)malloc (args->payload);
    if (!payload || s_pipe_open (&st, args) != 0)
        return 1;
    bench_fill_payload (payload, args->payload);
    uint64_t t0 = bench_now_ns ();
    uint64_t last_progress = t0;
    int rc = 0;
    while (st.ok < args->count) {
        size_t in_flight = rlog_pipeline_in_flight (st.pipe);
        uint64_t left = args->count - st.ok;
        size_t limit = left < args->window ? (size_t)left : args->window;
        if (in_flight < limit)
            s_submit (&st, payload, args->payload, limit);
        if (s_collect (&st, 100, 0, 0, NULL) > 0)
            last_progress = bench_now_ns ();
        else if (bench_now_ns () - last_progress > 10000000000ull) {
            fprintf (stderr, "load: fill stalled at %llu of %llu\n", (unsigned long long)st.ok,
                     (unsigned long long)args->count);
            rc = 1;
            break;
        }
    }
    double seconds = (double)(bench_now_ns () - t0) / 1e9;
    if (st.errors)
        fprintf (stderr, "load: fill: %llu appends refused (first: %s), re-appended\n",
                 (unsigned long long)st.errors, rlog_strerror (st.first_error));
    if (rc == 0)
        printf ("%llu,%.3f,%.0f,%llu\n", (unsigned long long)st.ok, seconds,
                (double)st.ok / seconds, (unsigned long long)st.errors);
    s_pipe_close (&st);
    free (payload);
    return rc;
}

//  ---------------------------------------------------------------------------
//  What runs, on stderr (bench/run.sh keeps it in tools.log): with the batch
//  settings, so a run says whether its pipeline batched.

static void s_header (const args_t *args)
{
    bool piped = strcmp (args->command, "fill") == 0 || strcmp (args->mode, "pipelined") == 0;
    char batch[160] = "";
    if (piped) {
#ifdef LOAD_V1_API
        snprintf (batch, sizeof batch, "; no batches (protocol v1: one APPEND per frame)");
#else
        //  rlog.h's defaults (rlog_pipeline_set_batch / set_linger): 256
        //  entries, 256 KiB, no linger; 0 in ARGS keeps them.
        snprintf (batch, sizeof batch,
                  "; batches of up to %zu entries / %zu bytes, linger %d ms (defaults: 256, "
                  "262144, 0)",
                  args->batch ? args->batch : (size_t)256,
                  args->batch_bytes ? args->batch_bytes : (size_t)256 * 1024, args->linger_ms);
#endif
    }
    char count[48] = "";
    if (args->count)
        snprintf (count, sizeof count, ", %llu appends", (unsigned long long)args->count);
    fprintf (stderr, "load: %s %s, w=%d, %zu B%s, %s %zu%s to %s\n", args->command,
             piped ? "pipelined" : args->mode, args->w, args->payload, count,
             piped ? "window" : "clients",
             piped ? args->window
                   : (size_t)(strcmp (args->mode, "clients") == 0 ? args->clients : 1),
             batch, args->endpoint);
}

//  ---------------------------------------------------------------------------
//  Failover client: one append at a time against every node, reporting when
//  appends resume after a silence (see the top of the file).

static int s_failover_client (const args_t *args)
{
    uint8_t *payload = (uint8_t *)malloc (args->payload);
    rlog_client_t *client = rlog_client_new (args->endpoint);
    if (!payload || !client) {
        free (payload);
        rlog_client_destroy (&client);
        return 1;
    }
    bench_fill_payload (payload, args->payload);
    uint64_t give_up = bench_now_ns () + (uint64_t)(args->seconds * 1e9);
    uint64_t gap = (uint64_t)args->gap_ms * 1000000ull;
    uint64_t last_ok = 0, last_progress = 0, count = 0;
    int last_code = RLOG_OK;
    while (bench_now_ns () < give_up) {
        int rc = rlog_client_append (client, payload, args->payload, args->w, 0, NULL);
        uint64_t now = bench_realtime_ns ();
        if (rc == RLOG_OK) {
            count++;
            if (last_ok && now - last_ok > gap)
                printf ("resumed %llu %llu\n", (unsigned long long)last_ok,
                        (unsigned long long)now);
            if (now - last_progress >= 200000000ull) {
                printf ("ok %llu %llu\n", (unsigned long long)count, (unsigned long long)now);
                last_progress = now;
            }
            fflush (stdout);
            last_ok = now;
            last_code = RLOG_OK;
            continue;
        }
        const char *detail = rlog_client_error (client);
        if (rc == RLOG_UNREACHABLE && strncmp (detail, "interrupted", 11) == 0)
            break;
        if (rc != last_code) {
            if (last_code == RLOG_OK) {
                printf ("refused %d %llu\n", rc, (unsigned long long)now);
                fflush (stdout);
            }
            fprintf (stderr, "load: failover-client: %s (%s)\n", rlog_strerror (rc), detail);
            last_code = rc;
        }
        //  A refusal (no master yet, read-only) comes back at once: do not
        //  hammer the nodes while they elect one.
        if (rc != RLOG_UNREACHABLE)
            bench_sleep_ms (5);
    }
    rlog_client_destroy (&client);
    free (payload);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Status polling

static int s_ready (const args_t *args)
{
    rlog_client_t *client = rlog_client_new (args->endpoint);
    if (!client)
        return 1;
    rlog_client_set_retry (client, 200, 1);
    uint64_t give_up = bench_now_ns () + (uint64_t)args->timeout_ms * 1000000ull;
    rlog_status_t status;
    char last[160] = "no answer";
    while (bench_now_ns () < give_up) {
        if (rlog_client_status (client, &status) == RLOG_OK) {
            if (strcmp (status.mode, "read-write") == 0 && status.healthy >= args->healthy) {
                rlog_client_destroy (&client);
                return 0;
            }
            snprintf (last, sizeof last, "mode %s, %u healthy", status.mode, status.healthy);
        }
        bench_sleep_ms (20);
    }
    fprintf (stderr, "load: %s not ready after %d ms (%s)\n", args->endpoint, args->timeout_ms,
             last);
    rlog_client_destroy (&client);
    return 1;
}

static int s_wait_head (const args_t *args)
{
    uint64_t since = args->since_ns ? args->since_ns : bench_realtime_ns ();
    rlog_client_t *client = rlog_client_new (args->endpoint);
    if (!client)
        return 1;
    rlog_client_set_retry (client, 500, 1);
    uint64_t give_up = bench_now_ns () + (uint64_t)args->timeout_ms * 1000000ull;
    rlog_status_t status;
    uint64_t head = 0;
    while (bench_now_ns () < give_up) {
        if (rlog_client_status (client, &status) == RLOG_OK) {
            head = status.head;
            if (head >= args->head) {
                double seconds = (double)(bench_realtime_ns () - since) / 1e9;
                printf ("%.3f,%.0f\n", seconds, (double)args->head / seconds);
                rlog_client_destroy (&client);
                return 0;
            }
        }
        bench_sleep_ms (args->poll_ms);
    }
    fprintf (stderr, "load: %s head %llu, not %llu after %d ms\n", args->endpoint,
             (unsigned long long)head, (unsigned long long)args->head, args->timeout_ms);
    rlog_client_destroy (&client);
    return 1;
}

int main (int argc, char **argv)
{
    if (argc < 2)
        return s_usage ();
    args_t args = {.command = argv[1],
                   .mode = "sequential",
                   .w = 1,
                   .payload = 64,
                   .clients = 32,
                   .window = 1000,
                   .seconds = 2.0,
                   .warmup = 0.5,
                   .poll_ms = 20,
                   .timeout_ms = 30000,
                   .gap_ms = 20};
    bool has_seconds = false;
    for (int i = 2; i < argc; i += 2) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val)
            return s_usage ();
        if (strcmp (arg, "--endpoint") == 0)
            args.endpoint = val;
        else if (strcmp (arg, "--mode") == 0)
            args.mode = val;
        else if (strcmp (arg, "--w") == 0)
            args.w = atoi (val);
        else if (strcmp (arg, "--payload") == 0)
            args.payload = (size_t)atol (val);
        else if (strcmp (arg, "--clients") == 0)
            args.clients = atoi (val);
        else if (strcmp (arg, "--window") == 0)
            args.window = (size_t)atol (val);
        else if (strcmp (arg, "--seconds") == 0) {
            args.seconds = atof (val);
            has_seconds = true;
        } else if (strcmp (arg, "--warmup") == 0)
            args.warmup = atof (val);
        else if (strcmp (arg, "--count") == 0)
            args.count = strtoull (val, NULL, 10);
        else if (strcmp (arg, "--healthy") == 0)
            args.healthy = (uint32_t)atoi (val);
        else if (strcmp (arg, "--head") == 0)
            args.head = strtoull (val, NULL, 10);
        else if (strcmp (arg, "--since-ns") == 0)
            args.since_ns = strtoull (val, NULL, 10);
        else if (strcmp (arg, "--poll-ms") == 0)
            args.poll_ms = atoi (val);
        else if (strcmp (arg, "--timeout-ms") == 0)
            args.timeout_ms = atoi (val);
        else if (strcmp (arg, "--batch") == 0)
            args.batch = (size_t)atol (val);
        else if (strcmp (arg, "--batch-bytes") == 0)
            args.batch_bytes = (size_t)atol (val);
        else if (strcmp (arg, "--linger") == 0)
            args.linger_ms = atoi (val);
        else if (strcmp (arg, "--gap-ms") == 0)
            args.gap_ms = atoi (val);
        else {
            fprintf (stderr, "load: unknown option %s\n", arg);
            return s_usage ();
        }
    }
    if (!args.endpoint || args.payload < 1 || args.w < 1 || args.clients < 1 || args.window < 1 ||
        args.seconds <= 0 || args.poll_ms < 1 || args.timeout_ms < 1 || args.linger_ms < 0 ||
        args.gap_ms < 1)
        return s_usage ();

    if (strcmp (args.command, "run") == 0 || strcmp (args.command, "fill") == 0)
        s_header (&args);
    if (strcmp (args.command, "run") == 0) {
        if (strcmp (args.mode, "sequential") == 0)
            return s_run_clients (&args, 1);
        if (strcmp (args.mode, "clients") == 0)
            return s_run_clients (&args, args.clients);
        if (strcmp (args.mode, "pipelined") == 0)
            return s_run_pipelined (&args);
        return s_usage ();
    }
    if (strcmp (args.command, "fill") == 0 && args.count > 0)
        return s_fill (&args);
    if (strcmp (args.command, "failover-client") == 0) {
        if (!has_seconds)
            args.seconds = 600;
        return s_failover_client (&args);
    }
    if (strcmp (args.command, "ready") == 0)
        return s_ready (&args);
    if (strcmp (args.command, "wait-head") == 0 && args.head > 0)
        return s_wait_head (&args);
    return s_usage ();
}
