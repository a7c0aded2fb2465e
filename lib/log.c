/* Process-wide progress log sink. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static kf_log_fn log_fn;
static void *log_ctx;
static int log_quiet;

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

void kf_logf(const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    if (log_fn)
        log_fn(log_ctx, line);
    else if (!log_quiet)
        fprintf(stderr, "%s\n", line);
    pthread_mutex_unlock(&log_lock);
}
