/* Progress log sinks: per thread when set, else process-wide. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static kf_log_fn log_fn;
static void *log_ctx;
static int log_quiet;
static _Thread_local kf_log_fn thread_fn;
static _Thread_local void *thread_ctx;

void kf_log_set_sink(kf_log_fn fn, void *ctx)
{
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    log_ctx = ctx;
    pthread_mutex_unlock(&log_lock);
}

void kf_log_set_quiet(int quiet)
{
    log_quiet = quiet;
}

void kf_log_set_thread_sink(kf_log_fn fn, void *ctx)
{
    thread_fn = fn;
    thread_ctx = fn ? ctx : NULL;
}

void kf_log_get_thread_sink(kf_log_fn *fn, void **ctx)
{
    *fn = thread_fn;
    *ctx = thread_ctx;
}

void kf_logf(const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (thread_fn) {
        thread_fn(thread_ctx, line); /* the sink serialises itself */
        return;
    }
    pthread_mutex_lock(&log_lock);
    if (log_fn)
        log_fn(log_ctx, line);
    else if (!log_quiet)
        fprintf(stderr, "%s\n", line);
    pthread_mutex_unlock(&log_lock);
}
