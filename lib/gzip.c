/* Parallel, deterministic gzip: independent deflate chunks joined by sync
 * flushes (the pigz layout), their CRCs joined with crc32_combine. Level 1
 * is our own encoder (deflate.c), levels 2..9 are zlib's. */
#include "gzip.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "deflate.h"

#define DICT_SIZE KF_DEFLATE_DICT_MAX
#define MAX_THREADS 8
#define MEM_LEVEL 9 /* zlib (levels 2..9): its largest hash table and block buffer */

struct chunk {
    const unsigned char *in; /* borrowed from the caller's data */
    size_t in_len;
    size_t dict_len;         /* bytes just before in that prime the window */
    int last;
    unsigned char *out;      /* owned, raw deflate */
    size_t out_len;
    unsigned long crc;
    int rc;
    int done;                /* under job.lock when streaming */
};

struct job {
    struct chunk *chunks;
    size_t n;
    int level;
    atomic_size_t next;      /* next chunk to take */
    int streaming;           /* workers announce finished chunks on cond */
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

static void own_deflate_chunk(struct chunk *c)
{
    size_t cap = kf_deflate_bound(c->in_len);
    c->rc = KF_ENOMEM;
    c->out = malloc(cap);
    if (!c->out)
        return;
    c->rc = kf_deflate_chunk(c->in, c->in_len, c->dict_len, c->last, c->out, cap, &c->out_len);
    if (!c->rc)
        c->crc = crc32(0, c->in, (uInt)c->in_len);
}

static void deflate_chunk(struct chunk *c, int level)
{
    if (level == 1) {
        own_deflate_chunk(c);
        return;
    }
    z_stream s;
    memset(&s, 0, sizeof s);
    c->rc = KF_ENOMEM;
    if (deflateInit2(&s, level, Z_DEFLATED, -15, MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
        return;
    if (c->dict_len && deflateSetDictionary(&s, c->in - c->dict_len, (uInt)c->dict_len) != Z_OK) {
        c->rc = KF_EINTERNAL;
        goto out;
    }
    size_t cap = deflateBound(&s, c->in_len) + 64; /* + the sync flush's empty stored block */
    c->out = malloc(cap);
    if (!c->out)
        goto out;
    s.next_in = (Bytef *)c->in;
    s.avail_in = (uInt)c->in_len;
    int flush = c->last ? Z_FINISH : Z_SYNC_FLUSH;
    for (;;) {
        s.next_out = c->out + s.total_out;
        s.avail_out = (uInt)(cap - s.total_out);
        int zr = deflate(&s, flush);
        if (zr == Z_STREAM_END)
            break;
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            c->rc = KF_EINTERNAL;
            goto out;
        }
        if (!c->last && s.avail_in == 0 && s.avail_out > 0)
            break;
        unsigned char *bigger = realloc(c->out, cap * 2); /* never with deflateBound, kept for safety */
        if (!bigger)
            goto out;
        c->out = bigger;
        cap *= 2;
    }
    c->out_len = s.total_out;
    c->crc = crc32(0, c->in, (uInt)c->in_len);
    c->rc = KF_OK;
out:
    deflateEnd(&s);
}

static void *worker(void *arg)
{
    struct job *j = arg;
    size_t i;
    while ((i = atomic_fetch_add(&j->next, 1)) < j->n) {
        deflate_chunk(&j->chunks[i], j->level);
        if (j->streaming) {
            pthread_mutex_lock(&j->lock);
            j->chunks[i].done = 1;
            pthread_cond_broadcast(&j->cond);
            pthread_mutex_unlock(&j->lock);
        }
    }
    return NULL;
}

static int auto_threads(void)
{
    cpu_set_t set;
    int n = 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n;
}

/* Up to n (at most the chunks) worker threads on the job: how many
 * started. A failure to create one just leaves more work to the others. */
static int start_workers(struct job *j, int n, pthread_t tids[MAX_THREADS])
{
    int started = 0;
    for (int t = 0; t < n && (size_t)t < j->n; t++)
        if (pthread_create(&tids[started], NULL, worker, j) == 0)
            started++;
    return started;
}

static void join_workers(pthread_t tids[MAX_THREADS], int started)
{
    for (int t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
}

/* Run the job on up to `threads` threads, the caller's included. */
static void run_job(struct job *j, int threads)
{
    pthread_t tids[MAX_THREADS];
    if ((size_t)threads > j->n)
        threads = (int)j->n;
    int started = start_workers(j, threads - 1, tids);
    worker(j);
    join_workers(tids, started);
}

/* Appends piece to out and, while emit has not refused once, hands it on. */
static int put_piece(struct kf_buf *out, const void *piece, size_t n, kf_gzip_emit_fn emit, void *ctx, int *emitting)
{
    int rc = kf_buf_append(out, piece, n);
    if (!rc && *emitting && emit(ctx, piece, n) != 0)
        *emitting = 0;
    return rc;
}

static int gzip_run(const void *data, size_t len, int level, int threads, struct kf_buf *out, kf_gzip_emit_fn emit,
                    void *ctx, char *err)
{
    int rc;
    if (level < 1 || level > 9)
        return kf_fail(err, KF_EINVAL, "gzip: level %d not in 1..9", level);
    if (threads <= 0)
        threads = auto_threads();
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;

    const unsigned char *in = data;
    struct job j = {.n = len == 0 ? 1 : (len - 1) / KF_GZIP_CHUNK + 1, .level = level, .streaming = emit != NULL};
    atomic_init(&j.next, 0);
    j.chunks = calloc(j.n, sizeof *j.chunks);
    if (!j.chunks)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    for (size_t i = 0; i < j.n; i++) {
        struct chunk *c = &j.chunks[i];
        size_t off = i * KF_GZIP_CHUNK;
        c->in = in + off;
        c->in_len = len - off < KF_GZIP_CHUNK ? len - off : KF_GZIP_CHUNK;
        c->dict_len = off < DICT_SIZE ? off : DICT_SIZE;
        c->last = i == j.n - 1;
    }
    /* Magic, deflate, no flags, mtime 0, XFL as Go sets it, OS unknown. */
    unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, level == 9 ? 2 : level == 1 ? 4 : 0, 0xff};
    unsigned long crc = crc32(0, NULL, 0);
    int emitting = emit != NULL;
    size_t start = out->len;
    rc = KF_OK;
    if (!emit) {
        run_job(&j, threads);
        size_t total = 18; /* 10-byte header, 8-byte trailer */
        for (size_t i = 0; i < j.n && !rc; i++) {
            rc = j.chunks[i].rc;
            total += j.chunks[i].out_len;
        }
        if (rc) {
            rc = kf_fail(err, rc, "gzip: deflate failed");
            goto out;
        }
        if ((rc = kf_buf_reserve(out, total))) {
            rc = kf_fail(err, rc, "gzip: output larger than %zu bytes", out->max);
            goto out;
        }
    }
    rc = put_piece(out, header, sizeof header, emit, ctx, &emitting);

    /* Streaming: every worker compresses while this thread hands the chunks
     * on in order as they are done (emit is usually a network send). */
    pthread_t tids[MAX_THREADS];
    int started = 0;
    if (emit) {
        pthread_mutex_init(&j.lock, NULL);
        pthread_cond_init(&j.cond, NULL);
        if (!(started = start_workers(&j, threads, tids)))
            worker(&j);
    }
    for (size_t i = 0; i < j.n && !rc; i++) {
        struct chunk *c = &j.chunks[i];
        if (emit) {
            pthread_mutex_lock(&j.lock);
            while (!c->done)
                pthread_cond_wait(&j.cond, &j.lock);
            pthread_mutex_unlock(&j.lock);
            if (c->rc) {
                rc = kf_fail(err, c->rc, "gzip: deflate failed");
                break;
            }
        }
        crc = i == 0 ? c->crc : crc32_combine(crc, c->crc, (z_off_t)c->in_len);
        rc = put_piece(out, c->out, c->out_len, emit, ctx, &emitting);
    }
    if (emit) {
        join_workers(tids, started);
        pthread_mutex_destroy(&j.lock);
        pthread_cond_destroy(&j.cond);
    }
    unsigned char trailer[8];
    for (int b = 0; b < 4; b++) {
        trailer[b] = (unsigned char)(crc >> (8 * b));
        trailer[4 + b] = (unsigned char)((unsigned long long)len >> (8 * b)); /* ISIZE: len mod 2^32 */
    }
    if (!rc)
        rc = put_piece(out, trailer, sizeof trailer, emit, ctx, &emitting);
    if (rc == KF_ETOOBIG || rc == KF_ENOMEM)
        rc = kf_fail(err, rc, "gzip: output larger than %zu bytes", out->max);
    if (rc)
        out->len = start;
out:
    for (size_t i = 0; i < j.n; i++)
        free(j.chunks[i].out);
    free(j.chunks);
    return rc;
}

int kf_gzip_compress(const void *data, size_t len, int level, int threads, struct kf_buf *out, char *err)
{
    return gzip_run(data, len, level, threads, out, NULL, NULL, err);
}

int kf_gzip_compress_stream(const void *data, size_t len, int level, int threads, struct kf_buf *out,
                            kf_gzip_emit_fn emit, void *ctx, char *err)
{
    if (!emit)
        return kf_fail(err, KF_EINVAL, "gzip: no emit function");
    return gzip_run(data, len, level, threads, out, emit, ctx, err);
}
