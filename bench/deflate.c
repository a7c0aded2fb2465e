/* Benchmark driver for layer compression: zlib level 1 (memLevel 9, as
 * lib/gzip.c used it) against kf_deflate on one file, both in the pigz
 * layout (chunks primed with the previous 32 KiB, sync-flushed), each output
 * checked by inflating it. Then kf_deflate's chunk sizes on 1 and 2 threads.
 *
 *   kofarm-bench-deflate FILE [ROUNDS]      print MB/s and sizes
 *   kofarm-bench-deflate alone FILE ROUNDS  kf_deflate only (for a profiler)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bench_time.h"
#include "buf.h"
#include "deflate.h"

#define DICT 32768

struct run {
    const unsigned char *data;
    size_t len, chunk;
    int use_zlib;
    unsigned char **outs; /* one per chunk, owned */
    size_t *out_lens;
    size_t n;
    atomic_size_t next;
    atomic_int failed;
};

static int zlib_chunk(const unsigned char *in, size_t len, size_t dict, int last, unsigned char *out, size_t cap,
                      size_t *out_len)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    if (deflateInit2(&s, 1, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    int ok = (!dict || deflateSetDictionary(&s, in - dict, (uInt)dict) == Z_OK);
    s.next_in = (Bytef *)in;
    s.avail_in = (uInt)len;
    s.next_out = out;
    s.avail_out = (uInt)cap;
    int zr = ok ? deflate(&s, last ? Z_FINISH : Z_SYNC_FLUSH) : Z_STREAM_ERROR;
    ok = ok && (last ? zr == Z_STREAM_END : zr == Z_OK && s.avail_in == 0);
    *out_len = s.total_out;
    deflateEnd(&s);
    return ok ? 0 : -1;
}

static void *worker(void *arg)
{
    struct run *r = arg;
    size_t i;
    while ((i = atomic_fetch_add(&r->next, 1)) < r->n) {
        size_t off = i * r->chunk, len = r->len - off < r->chunk ? r->len - off : r->chunk;
        size_t dict = off < DICT ? off : DICT, cap = kf_deflate_bound(len) + 64;
        int last = i == r->n - 1, rc;
        r->outs[i] = malloc(cap);
        if (!r->outs[i]) {
            atomic_store(&r->failed, 1);
            continue;
        }
        if (r->use_zlib)
            rc = zlib_chunk(r->data + off, len, dict, last, r->outs[i], cap, &r->out_lens[i]);
        else
            rc = kf_deflate_chunk(r->data + off, len, dict, last, r->outs[i], cap, &r->out_lens[i]);
        if (rc)
            atomic_store(&r->failed, 1);
    }
    return NULL;
}

/* Compress once on threads threads; the seconds taken, the size in *size,
 * the stream checked against the input. -1 on failure. */
static double run_once(const unsigned char *data, size_t len, size_t chunk, int use_zlib, int threads, size_t *size)
{
    struct run r = {.data = data, .len = len, .chunk = chunk, .use_zlib = use_zlib};
    r.n = len ? (len - 1) / chunk + 1 : 1;
    r.outs = calloc(r.n, sizeof *r.outs);
    r.out_lens = calloc(r.n, sizeof *r.out_lens);
    atomic_init(&r.next, 0);
    atomic_init(&r.failed, 0);
    double t = -1;
    if (!r.outs || !r.out_lens)
        goto out;
    pthread_t tids[8];
    int started = 0;
    double t0 = bench_now_s();
    for (int k = 1; k < threads && k < 8; k++)
        if (pthread_create(&tids[started], NULL, worker, &r) == 0)
            started++;
    worker(&r);
    for (int k = 0; k < started; k++)
        pthread_join(tids[k], NULL);
    t = bench_now_s() - t0;
    if (atomic_load(&r.failed)) {
        t = -1;
        goto out;
    }
    /* Inflate the concatenation and compare. */
    z_stream s;
    memset(&s, 0, sizeof s);
    unsigned char *plain = malloc(len + 1);
    size_t total = 0;
    int ok = plain && inflateInit2(&s, -15) == Z_OK;
    s.next_out = plain;
    s.avail_out = (uInt)len + 1;
    for (size_t i = 0; ok && i < r.n; i++) {
        total += r.out_lens[i];
        s.next_in = r.outs[i];
        s.avail_in = (uInt)r.out_lens[i];
        int zr = inflate(&s, Z_SYNC_FLUSH);
        ok = i == r.n - 1 ? zr == Z_STREAM_END : zr == Z_OK;
    }
    ok = ok && s.total_out == len && memcmp(plain, data, len) == 0;
    inflateEnd(&s);
    free(plain);
    if (!ok) {
        fprintf(stderr, "%s: the output does not inflate to the input\n", use_zlib ? "zlib" : "kf_deflate");
        t = -1;
    }
    *size = total;
out:
    for (size_t i = 0; r.outs && i < r.n; i++)
        free(r.outs[i]);
    free(r.outs);
    free(r.out_lens);
    return t;
}

static double median_run(const unsigned char *data, size_t len, size_t chunk, int use_zlib, int threads, int rounds,
                         size_t *size)
{
    double times[64];
    if (rounds > 64)
        rounds = 64;
    for (int k = 0; k < rounds; k++)
        if ((times[k] = run_once(data, len, chunk, use_zlib, threads, size)) < 0)
            return -1;
    return bench_median(times, rounds);
}

int main(int argc, char **argv)
{
    int alone = argc > 1 && strcmp(argv[1], "alone") == 0;
    const char *file = argv[1 + alone];
    if (argc < 2 + alone) {
        fprintf(stderr, "usage: kofarm-bench-deflate [alone] FILE [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 2 + alone ? atoi(argv[2 + alone]) : 9;
    if (rounds < 1)
        rounds = 1;
    char err[KF_ERRLEN];
    struct kf_buf b;
    kf_buf_init(&b, 0);
    if (kf_buf_read_file(&b, file, err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    size_t len = b.len, zsize = 0, ksize = 0;
    double mb = (double)len / 1e6;
    if (alone) {
        double t = median_run(b.data, len, (size_t)1 << 20, 0, 1, rounds, &ksize);
        printf("kf_deflate: %.1f MB/s, %zu bytes\n", mb / t, ksize);
        kf_buf_free(&b);
        return t < 0;
    }
    double zt = median_run(b.data, len, (size_t)1 << 20, 1, 1, rounds, &zsize);
    double kt = median_run(b.data, len, (size_t)1 << 20, 0, 1, rounds, &ksize);
    if (zt < 0 || kt < 0) {
        kf_buf_free(&b);
        return 1;
    }
    printf("%s: %zu bytes, 1 MiB chunks, 1 thread, median of %d\n", file, len, rounds);
    printf("  %-28s %8.1f MB/s %10zu bytes (%.2f%%)\n", "zlib level 1, memLevel 9", mb / zt, zsize,
           100.0 * (double)zsize / (double)len);
    printf("  %-28s %8.1f MB/s %10zu bytes (%.2f%%)\n", "kf_deflate", mb / kt, ksize,
           100.0 * (double)ksize / (double)len);
    printf("  kf_deflate / zlib: %.2fx the speed, %.4f the size\n", zt / kt, (double)ksize / (double)zsize);
    printf("  kf_deflate by chunk size (wall ms on 1 and 2 threads, bytes):\n");
    for (size_t chunk = (size_t)1 << 18; chunk <= (size_t)1 << 20; chunk <<= 1) {
        size_t s1 = 0, s2 = 0;
        double t1 = median_run(b.data, len, chunk, 0, 1, rounds, &s1);
        double t2 = median_run(b.data, len, chunk, 0, 2, rounds, &s2);
        printf("    %4zu KiB: %6.2f ms  %6.2f ms  %10zu%s\n", chunk >> 10, t1 * 1e3, t2 * 1e3, s1,
               s1 == s2 ? "" : " (differs between thread counts!)");
    }
    kf_buf_free(&b);
    return 0;
}
