/*  bench_util.h - shared by the bench programs: clocks, latency samples,
    percentiles, and the one result line every program prints.

    Result line (CSV, no header; bench/run.sh prepends the configuration):
        msgs,seconds,msgs_per_s,mb_per_s,p50_us,p99_us,p999_us,errors
    msgs counts completions inside the measured interval only (warm-up and
    drain excluded); MB/s counts payload bytes (1 MB = 10^6 bytes);
    percentiles are nearest-rank over every completion in the interval.
*/
#ifndef BENCH_UTIL_H_INCLUDED
#define BENCH_UTIL_H_INCLUDED

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t bench_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t bench_realtime_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void bench_sleep_ms (int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep (&ts, NULL);
}

//  Latency samples in nanoseconds. Reserve enough up front that the
//  measured loop never reallocates in practice.
typedef struct {
    uint64_t *v;
    size_t n;
    size_t cap;
} bench_lat_t;

static inline int bench_lat_init (bench_lat_t *lat, size_t cap)
{
    lat->n = 0;
    lat->cap = cap ? cap : 1024;
    lat->v = (uint64_t *)malloc (lat->cap * sizeof (uint64_t));
    return lat->v ? 0 : -1;
}

static inline void bench_lat_push (bench_lat_t *lat, uint64_t ns)
{
    if (lat->n == lat->cap) {
        size_t cap = lat->cap * 2;
        uint64_t *v = (uint64_t *)realloc (lat->v, cap * sizeof (uint64_t));
        if (!v)
            return; //  drop the sample rather than the run
        lat->v = v;
        lat->cap = cap;
    }
    lat->v[lat->n++] = ns;
}

static inline int bench_lat_append (bench_lat_t *dst, const bench_lat_t *src)
{
    if (dst->n + src->n > dst->cap) {
        size_t cap = dst->n + src->n;
        uint64_t *v = (uint64_t *)realloc (dst->v, cap * sizeof (uint64_t));
        if (!v)
            return -1;
        dst->v = v;
        dst->cap = cap;
    }
    memcpy (dst->v + dst->n, src->v, src->n * sizeof (uint64_t));
    dst->n += src->n;
    return 0;
}

static inline void bench_lat_free (bench_lat_t *lat)
{
    free (lat->v);
    lat->v = NULL;
    lat->n = lat->cap = 0;
}

static int bench_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

//  Nearest-rank percentile in microseconds; LAT must be sorted.
static inline double bench_lat_pct (const bench_lat_t *lat, double pct)
{
    if (lat->n == 0)
        return 0.0;
    size_t rank = (size_t)(pct / 100.0 * (double)lat->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > lat->n)
        rank = lat->n;
    return (double)lat->v[rank - 1] / 1000.0;
}

//  Sort LAT and print the result line.
static inline void bench_print_result (bench_lat_t *lat, uint64_t msgs, double seconds,
                                       size_t payload, uint64_t errors)
{
    qsort (lat->v, lat->n, sizeof (uint64_t), bench_cmp_u64);
    double rate = seconds > 0 ? (double)msgs / seconds : 0.0;
    printf ("%llu,%.3f,%.0f,%.2f,%.1f,%.1f,%.1f,%llu\n", (unsigned long long)msgs, seconds, rate,
            rate * (double)payload / 1e6, bench_lat_pct (lat, 50.0), bench_lat_pct (lat, 99.0),
            bench_lat_pct (lat, 99.9), (unsigned long long)errors);
    fflush (stdout);
}

//  Payload bytes: a fixed, non-compressible-looking pattern.
static inline void bench_fill_payload (uint8_t *buf, size_t size)
{
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

#endif
