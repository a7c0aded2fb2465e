/* kofarm-worker's shared state: its configuration, the job slots the main
 * loop fills, and the threads around them (loop.c, heartbeat.c, job.c). */
#ifndef KF_WORKER_H
#define KF_WORKER_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "db.h"
#include "dbjobs.h"

#define WK_CONCURRENCY_MAX 64
#define WK_ID_MAX 128
#define WK_OWNER_MAX 200

struct wk_config {
    const char *database_url;
    const char *repo;            /* default destination; NULL: jobs must name one */
    const char *default_base;    /* NULL: .ko.yaml's, else the engine's default */
    const char *insecure_hosts;  /* comma list, or NULL */
    int allow_file_urls;
    const char *state_dir;
    int concurrency;
    int lease_ms;
    int grace_ms;
    char worker_id[WK_ID_MAX];
    /* Derived from state_dir (owned). */
    char *git_dir, *jobs_dir, *layers_dir;
    char **git_env;              /* our environment without secrets, for git (owned) */
};

/* Why a running job's cancel flag was raised (bits). */
enum {
    WK_STOP_USER = 1,     /* cancel requested through the API */
    WK_STOP_LOST = 2,     /* the lease is gone: touch nothing in the database */
    WK_STOP_HANDBACK = 4, /* shutdown: hand the job back */
};

struct worker;

/* One place for a running job. The main thread fills it and joins its
 * thread; the job thread owns and frees `job`; the worker's lock guards
 * running, job_id, seq, owner and lease_until_ms (read by the heartbeat
 * thread and by cancel notifications), and finishing. */
struct wk_slot {
    struct worker *w;
    int index;
    int busy;                  /* main thread only: a job thread exists */
    atomic_int done;           /* the job thread finished (main joins it) */
    pthread_t thread;
    struct kf_claimed *job;    /* one claimed job, kf_claimed_free(job, 1) */
    int running;
    int finishing;             /* the outcome is being recorded: a "lost" heartbeat is expected */
    int64_t job_id;
    char owner[WK_OWNER_MAX];
    uint64_t seq;              /* claim number, tells jobs in this slot apart */
    volatile int cancel;       /* the engine's cancel flag */
    atomic_int stop_reason;    /* WK_STOP_* bits, set before cancel */
    long long lease_until_ms;  /* monotonic; heartbeat thread, under the worker's lock */
    struct kf_db *db;          /* the slot's connection, kept across jobs */
    pthread_mutex_t db_lock;   /* the job thread and its log flusher share db */
};

struct worker {
    struct wk_config *cfg;
    pthread_t main_thread;
    pthread_mutex_t lock;      /* slot running state, seen by the heartbeat thread */
    struct wk_slot slots[WK_CONCURRENCY_MAX];
    int n_slots;
    uint64_t next_seq;
    /* Heartbeat thread. */
    pthread_t hb_thread;
    pthread_cond_t hb_cond;    /* CLOCK_MONOTONIC */
    int hb_stop;
};

/* Signals seen (main.c's handlers); the loop reads them. */
extern volatile sig_atomic_t wk_signals;

/* Runs until a signal has drained or handed back every job; 0 on a clean
 * stop, 1 when it could not start. */
int wk_loop_run(struct wk_config *cfg);

/* Wakes the main loop out of its wait (job finished). */
void wk_wake_main(struct worker *w);

/* Creates a thread with our signals blocked in it: only the main thread
 * takes SIGTERM/SIGINT/SIGUSR1. */
int wk_thread_create(pthread_t *t, void *(*fn)(void *), void *arg);

/* The heartbeat and reaper thread (heartbeat.c). */
int wk_heartbeat_start(struct worker *w);
void wk_heartbeat_stop(struct worker *w);

/* Raises a slot's cancel flag for why (WK_STOP_*). */
void wk_slot_stop(struct wk_slot *s, int why);

/* The job thread's body (job.c): runs s->job, records the outcome, frees
 * the job, sets s->done and wakes the main loop. */
void *wk_job_thread(void *slot);

/* The worker's part of a build or resolve job's options (job.c): the
 * checkout, its repo and base where the job names none, no epochs, its
 * layer cache, its other slots (sharing go's memory limit), registries and
 * cancel. */
struct kf_build_opts;
void wk_build_opts_fill(struct kf_build_opts *o, const struct wk_config *cfg, const char *src,
                        const volatile int *cancel);

/* Opens a connection, retrying every second while the database is
 * unreachable until give_up(ctx) says so (give_up NULL: one try). */
int wk_db_open(const struct wk_config *cfg, const char *app, int (*give_up)(void *ctx), void *ctx,
               struct kf_db **out, char *err);

long long wk_now_ms(void);
void wk_sleep_ms(long ms);
void wk_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
