/* A job's log sink: lines from the engine, go, git and the worker are
 * queued and appended to job_logs by a flusher thread every ~100 ms or
 * 200 lines, so followers see them as they happen. */
#ifndef KF_WORKER_JOBLOG_H
#define KF_WORKER_JOBLOG_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

#define WK_LOG_FLUSH_MS 100
#define WK_LOG_FLUSH_LINES 200
#define WK_LOG_PENDING_MAX 20000 /* queued while the database is away; more are counted, not kept */
#define WK_LOG_JOB_MAX 200000    /* lines one job may write */

struct wk_log_line {
    char *text;
    const char *stream; /* static string */
};

struct wk_joblog {
    pthread_mutex_t lock;
    pthread_cond_t cond;   /* CLOCK_MONOTONIC */
    pthread_t thread;
    int started, stopping;
    struct kf_db *db;      /* the slot's; used under db_lock */
    pthread_mutex_t *db_lock;
    int64_t job_id;
    struct wk_log_line *pending;
    size_t n, cap;
    long long first_at;    /* when the oldest pending line came */
    size_t total;          /* lines accepted */
    size_t dropped;        /* not kept: the queue was full or the job's cap reached */
};

/* Starts the flusher. Without a thread (failure) lines are flushed by
 * wk_joblog_stop only. */
void wk_joblog_start(struct wk_joblog *l, struct kf_db *db, pthread_mutex_t *db_lock, int64_t job_id);
/* Flushes what is queued, stops the flusher, frees. */
void wk_joblog_stop(struct wk_joblog *l);

/* Queues one line (copied; control characters other than tab replaced). */
void wk_joblog_line(struct wk_joblog *l, const char *stream, const char *line);
void wk_joblog_printf(struct wk_joblog *l, const char *stream, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* kf_log_fn adapters: ctx is the wk_joblog. */
void wk_joblog_build_fn(void *ctx, const char *line); /* stream "build": engine and go output */
void wk_joblog_git_fn(void *ctx, const char *line);   /* stream "git" */

#endif
