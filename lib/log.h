/* Progress logging: the engine reports through a sink the front-end chooses
 * (stderr for the CLI, the job log for the worker). Thread-safe. */
#ifndef KF_LOG_H
#define KF_LOG_H

typedef void (*kf_log_fn)(void *ctx, const char *line);

/* Install the process-wide sink; NULL restores the default (stderr). */
void kf_log_set_sink(kf_log_fn fn, void *ctx);
/* Also silence the default sink (quiet mode). */
void kf_log_set_quiet(int quiet);
/* The calling thread's own sink, which wins over the process-wide one (a
 * worker runs several jobs at once, each with its own log); NULL removes
 * it. fn may be called from several threads at once: the engine hands the
 * sink on to the threads it starts for one build (kf_log_get_thread_sink). */
void kf_log_set_thread_sink(kf_log_fn fn, void *ctx);
void kf_log_get_thread_sink(kf_log_fn *fn, void **ctx);
void kf_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
