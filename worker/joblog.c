/* Job log lines, batched into job_logs by one flusher thread per job. The
 * callers (go's output pump, the engine's threads, git) only queue; the
 * database round trip happens in the flusher. */
#include "joblog.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dbjobs.h"
#include "worker.h"

#define WRITE_TRIES 3
#define WRITE_RETRY_MS 300

static void deadline_ts(long long at_ms, struct timespec *ts)
{
    long long wait = at_ms - wk_now_ms();
    clock_gettime(CLOCK_MONOTONIC, ts);
    if (wait < 1)
        wait = 1;
    ts->tv_sec += wait / 1000;
    ts->tv_nsec += (wait % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* One run of lines of the same stream, in chunks the database takes. A
 * lost connection is tried again a few times (the slot's connection
 * reconnects on the next call); then the lines are dropped and counted. */
static size_t write_run(struct wk_joblog *l, const char *stream, const char **lines, size_t n)
{
    char err[KF_ERRLEN] = "";
    size_t written = 0;
    while (written < n) {
        size_t chunk = n - written > KF_JOB_LOG_BATCH_MAX ? KF_JOB_LOG_BATCH_MAX : n - written;
        int rc = KF_ENET;
        for (int t = 0; t < WRITE_TRIES && rc == KF_ENET; t++) {
            if (t)
                wk_sleep_ms(WRITE_RETRY_MS);
            pthread_mutex_lock(l->db_lock);
            rc = kf_job_log_append(l->db, l->job_id, stream, lines + written, chunk, err);
            pthread_mutex_unlock(l->db_lock);
        }
        if (rc) {
            wk_logf("job %" PRId64 ": log lines lost: %s", l->job_id, err);
            return n - written;
        }
        written += chunk;
    }
    return 0;
}

static void write_batch(struct wk_joblog *l, struct wk_log_line *batch, size_t n)
{
    const char **texts = malloc((n ? n : 1) * sizeof *texts);
    size_t lost = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && batch[j].stream == batch[i].stream)
            j++;
        if (texts) {
            for (size_t k = i; k < j; k++)
                texts[k - i] = batch[k].text;
            lost += write_run(l, batch[i].stream, texts, j - i);
        } else {
            lost += j - i;
        }
        i = j;
    }
    free(texts);
    for (size_t i = 0; i < n; i++)
        free(batch[i].text);
    free(batch);
    if (lost) {
        pthread_mutex_lock(&l->lock);
        l->dropped += lost;
        pthread_mutex_unlock(&l->lock);
    }
}

/* Takes the queue out (caller holds lock). */
static struct wk_log_line *take(struct wk_joblog *l, size_t *n)
{
    struct wk_log_line *batch = l->pending;
    *n = l->n;
    l->pending = NULL;
    l->n = l->cap = 0;
    return batch;
}

static void *flusher(void *arg)
{
    struct wk_joblog *l = arg;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        if (l->n == 0) {
            if (l->stopping)
                break;
            pthread_cond_wait(&l->cond, &l->lock);
            continue;
        }
        long long due = l->first_at + WK_LOG_FLUSH_MS;
        if (!l->stopping && l->n < WK_LOG_FLUSH_LINES && wk_now_ms() < due) {
            struct timespec ts;
            deadline_ts(due, &ts);
            pthread_cond_timedwait(&l->cond, &l->lock, &ts);
            continue;
        }
        size_t n;
        struct wk_log_line *batch = take(l, &n);
        pthread_mutex_unlock(&l->lock);
        write_batch(l, batch, n);
        pthread_mutex_lock(&l->lock);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

void wk_joblog_start(struct wk_joblog *l, struct kf_db *db, pthread_mutex_t *db_lock, int64_t job_id)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &ca);
    pthread_condattr_destroy(&ca);
    l->db = db;
    l->db_lock = db_lock;
    l->job_id = job_id;
    l->started = wk_thread_create(&l->thread, flusher, l) == 0;
}

void wk_joblog_stop(struct wk_joblog *l)
{
    pthread_mutex_lock(&l->lock);
    size_t dropped = l->dropped;
    l->dropped = 0;
    pthread_mutex_unlock(&l->lock);
    if (dropped) {
        char note[96];
        snprintf(note, sizeof note, "[%zu log line(s) not kept]", dropped);
        pthread_mutex_lock(&l->lock);
        l->total = 0; /* the note itself must get through the cap */
        pthread_mutex_unlock(&l->lock);
        wk_joblog_line(l, "system", note);
    }
    pthread_mutex_lock(&l->lock);
    l->stopping = 1;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
    if (l->started) {
        pthread_join(l->thread, NULL);
    } else {
        size_t n;
        struct wk_log_line *batch = take(l, &n);
        write_batch(l, batch, n);
    }
    size_t n;
    struct wk_log_line *rest = take(l, &n);
    for (size_t i = 0; i < n; i++)
        free(rest[i].text);
    free(rest);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
}

/* What a terminal would show: the text after the last carriage return
 * (git's progress), other control characters as spaces. */
static char *clean_copy(const char *line)
{
    const char *cr = strrchr(line, '\r');
    if (cr && cr[1])
        line = cr + 1;
    char *copy = strdup(line);
    for (char *p = copy; p && *p; p++)
        if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
            *p = ' ';
    return copy;
}

void wk_joblog_line(struct wk_joblog *l, const char *stream, const char *line)
{
    pthread_mutex_lock(&l->lock);
    if (l->total >= WK_LOG_JOB_MAX || l->n >= WK_LOG_PENDING_MAX) {
        l->dropped++;
        goto out;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct wk_log_line *grown = realloc(l->pending, cap * sizeof *grown);
        if (!grown) {
            l->dropped++;
            goto out;
        }
        l->pending = grown;
        l->cap = cap;
    }
    char *text = clean_copy(line);
    if (!text) {
        l->dropped++;
        goto out;
    }
    l->pending[l->n++] = (struct wk_log_line){.text = text, .stream = stream};
    l->total++;
    if (l->n == 1)
        l->first_at = wk_now_ms();
    if (l->n == 1 || l->n == WK_LOG_FLUSH_LINES)
        pthread_cond_signal(&l->cond);
out:
    pthread_mutex_unlock(&l->lock);
}

void wk_joblog_printf(struct wk_joblog *l, const char *stream, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    wk_joblog_line(l, stream, line);
}

void wk_joblog_build_fn(void *ctx, const char *line)
{
    wk_joblog_line(ctx, "build", line);
}

void wk_joblog_git_fn(void *ctx, const char *line)
{
    wk_joblog_line(ctx, "git", line);
}
