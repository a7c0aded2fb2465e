/* The worker's main loop: LISTEN for new jobs and cancels on one
 * connection, claim into free slots (one thread per job), and on SIGTERM
 * stop claiming, let running jobs finish within the grace period, then
 * hand them back. No busy polling: the loop sleeps in kf_db_wait until a
 * notification, a finished job (SIGUSR1 from its thread), a signal, a job
 * leaving backoff (kf_job_next_due) or the slow fallback poll. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "worker.h"

#define FALLBACK_POLL_MS 5000 /* a lost notification costs at most this */
#define WAIT_CAP_MS 1000      /* bounds a signal that slipped in just before the wait */
#define RETRY_MS 1000         /* database unreachable */

long long wk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One nap; a signal ends it early, which is what the loops want. */
void wk_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void wk_logf(const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ kofarm-worker: %s\n", tm.tm_year + 1900, tm.tm_mon + 1,
            tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, line);
}

int wk_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    int rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

void wk_wake_main(struct worker *w)
{
    pthread_kill(w->main_thread, SIGUSR1);
}

void wk_slot_stop(struct wk_slot *s, int why)
{
    atomic_fetch_or(&s->stop_reason, why);
    s->cancel = 1;
}

int wk_db_open(const struct wk_config *cfg, const char *app, int (*give_up)(void *ctx), void *ctx,
               struct kf_db **out, char *err)
{
    int said = 0;
    for (;;) {
        int rc = kf_db_open(cfg->database_url, app, out, err);
        if (rc != KF_ENET || !give_up || give_up(ctx))
            return rc;
        if (!said++)
            wk_logf("database unreachable, retrying: %s", err);
        wk_sleep_ms(RETRY_MS);
    }
}

struct loop {
    struct worker *w;
    struct kf_db *db;
    long long next_claim_at; /* monotonic ms; 0 = now */
    int stopping;
    long long deadline;      /* end of the shutdown grace */
    int handed_back;
    int db_down;             /* an outage was reported (log once) */
};

static int signaled(void *ctx)
{
    (void)ctx;
    return wk_signals > 0;
}

static int busy_slots(const struct worker *w)
{
    int n = 0;
    for (int i = 0; i < w->n_slots; i++)
        n += w->slots[i].busy;
    return n;
}

static struct wk_slot *free_slot(struct worker *w)
{
    for (int i = 0; i < w->n_slots; i++)
        if (!w->slots[i].busy)
            return &w->slots[i];
    return NULL;
}

/* Hands job to slot s and starts its thread; job is taken either way. */
static void start_job(struct loop *l, struct wk_slot *s, struct kf_claimed *job)
{
    struct worker *w = l->w;
    char err[KF_ERRLEN] = "";
    pthread_mutex_lock(&w->lock);
    s->job = job;
    s->job_id = job->id;
    s->running = 1;
    s->cancel = 0;
    atomic_store(&s->stop_reason, 0);
    atomic_store(&s->done, 0);
    s->lease_until_ms = wk_now_ms() + w->cfg->lease_ms;
    pthread_mutex_unlock(&w->lock);
    wk_logf("job %" PRId64 " attempt %d claimed as %s", job->id, job->attempt, s->owner);
    if (wk_thread_create(&s->thread, wk_job_thread, s) == 0) {
        s->busy = 1;
        return;
    }
    wk_logf("job %" PRId64 ": cannot start a thread; handing it back", job->id);
    if (kf_job_release(l->db, job->id, s->owner, err))
        wk_logf("job %" PRId64 ": release: %s", job->id, err);
    pthread_mutex_lock(&w->lock);
    s->running = 0;
    s->job = NULL;
    pthread_mutex_unlock(&w->lock);
    kf_claimed_free(job, 1);
}

/* Fills free slots one claim at a time (each claim has its own owner). */
static void claim(struct loop *l)
{
    struct worker *w = l->w;
    char err[KF_ERRLEN] = "";
    struct wk_slot *s;
    while ((s = free_slot(w))) {
        struct kf_claimed *jobs = NULL;
        size_t n = 0;
        pthread_mutex_lock(&w->lock);
        s->seq = w->next_seq + 1; /* spent only when a job comes */
        snprintf(s->owner, sizeof s->owner, "%s#%" PRIu64, w->cfg->worker_id, s->seq);
        pthread_mutex_unlock(&w->lock);
        int rc = kf_job_claim(l->db, s->owner, w->cfg->lease_ms, NULL, 1, &jobs, &n, err); /* builds and resolves */
        if (rc) {
            if (rc != KF_ENET || !l->db_down)
                wk_logf("claim: %s", err);
            l->db_down = rc == KF_ENET;
            l->next_claim_at = wk_now_ms() + RETRY_MS;
            return;
        }
        l->db_down = 0;
        if (n == 0) {
            long long due = -1;
            if (kf_job_next_due(l->db, NULL, &due, err))
                due = -1;
            if (due < 0 || due > FALLBACK_POLL_MS)
                due = FALLBACK_POLL_MS;
            l->next_claim_at = wk_now_ms() + (due > 0 ? due : 10);
            return;
        }
        /* kf_claimed_free frees an array: move the job into one of its own. */
        struct kf_claimed *job = malloc(sizeof *job);
        if (!job) {
            if (kf_job_release(l->db, jobs[0].id, s->owner, err))
                wk_logf("release: %s", err);
            kf_claimed_free(jobs, n);
            l->next_claim_at = wk_now_ms() + RETRY_MS;
            return;
        }
        w->next_seq = s->seq;
        *job = jobs[0];
        memset(&jobs[0], 0, sizeof jobs[0]);
        kf_claimed_free(jobs, n);
        start_job(l, s, job);
    }
    l->next_claim_at = wk_now_ms() + FALLBACK_POLL_MS; /* re-armed when a slot frees */
}

static void join_finished(struct loop *l)
{
    for (int i = 0; i < l->w->n_slots; i++) {
        struct wk_slot *s = &l->w->slots[i];
        if (s->busy && atomic_load(&s->done)) {
            pthread_join(s->thread, NULL);
            s->busy = 0;
            l->next_claim_at = 0;
        }
    }
}

static void on_cancel(struct worker *w, const char *payload)
{
    char *end = NULL;
    errno = 0;
    long long id = strtoll(payload, &end, 10);
    if (errno || end == payload || *end)
        return;
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < w->n_slots; i++) {
        struct wk_slot *s = &w->slots[i];
        if (s->running && s->job_id == id) {
            wk_slot_stop(s, WK_STOP_USER);
            wk_logf("job %lld: cancel requested", id);
        }
    }
    pthread_mutex_unlock(&w->lock);
}

/* First signal: stop claiming; grace over or a second signal: hand back. */
static void check_shutdown(struct loop *l)
{
    int sigs = wk_signals;
    if (sigs >= 1 && !l->stopping) {
        l->stopping = 1;
        l->deadline = wk_now_ms() + l->w->cfg->grace_ms;
        if (busy_slots(l->w))
            wk_logf("stopping: %d running job(s) get %d ms to finish", busy_slots(l->w), l->w->cfg->grace_ms);
    }
    if (l->stopping && !l->handed_back && busy_slots(l->w) && (sigs >= 2 || wk_now_ms() >= l->deadline)) {
        l->handed_back = 1;
        wk_logf("handing back %d running job(s)", busy_slots(l->w));
        pthread_mutex_lock(&l->w->lock);
        for (int i = 0; i < l->w->n_slots; i++)
            if (l->w->slots[i].running)
                wk_slot_stop(&l->w->slots[i], WK_STOP_HANDBACK);
        pthread_mutex_unlock(&l->w->lock);
    }
}

static int wait_ms(const struct loop *l)
{
    long long now = wk_now_ms(), t = WAIT_CAP_MS;
    if (l->stopping) {
        if (!l->handed_back && l->deadline - now < t)
            t = l->deadline - now;
    } else if (free_slot(l->w) && l->next_claim_at - now < t) {
        t = l->next_claim_at - now;
    }
    return t < 0 ? 0 : (int)t;
}

static void loop_once(struct loop *l)
{
    char err[KF_ERRLEN] = "", channel[64], payload[128];
    int got = 0;
    int sigs = wk_signals;
    int rc = kf_db_wait(l->db, wait_ms(l), channel, sizeof channel, payload, sizeof payload, &got, err);
    if (rc) {
        if (!l->db_down)
            wk_logf("database: %s (retrying)", err);
        l->db_down = 1;
        if (wk_signals == sigs)
            wk_sleep_ms(RETRY_MS);
        return;
    }
    if (got == KF_DB_WAIT_RECONNECTED) {
        wk_logf("database connection re-established");
        l->db_down = 0;
        l->next_claim_at = 0;
    } else if (got == KF_DB_WAIT_NOTIFIED) {
        if (!strcmp(channel, KF_JOB_CANCEL_CHANNEL))
            on_cancel(l->w, payload);
        else if (!strcmp(channel, KF_JOB_CHANNEL) && (!strcmp(payload, "build") || !strcmp(payload, "resolve")))
            l->next_claim_at = 0;
    }
}

static int listen_all(struct loop *l)
{
    char err[KF_ERRLEN] = "";
    for (;;) {
        if (!kf_db_listen(l->db, KF_JOB_CHANNEL, err) && !kf_db_listen(l->db, KF_JOB_CANCEL_CHANNEL, err))
            return 0;
        wk_logf("LISTEN: %s", err);
        if (wk_signals)
            return -1;
        wk_sleep_ms(RETRY_MS);
    }
}

static void worker_free(struct worker *w)
{
    for (int i = 0; i < w->n_slots; i++) {
        kf_db_close(w->slots[i].db);
        pthread_mutex_destroy(&w->slots[i].db_lock);
    }
    pthread_cond_destroy(&w->hb_cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

int wk_loop_run(struct wk_config *cfg)
{
    char err[KF_ERRLEN] = "";
    struct worker *w = calloc(1, sizeof *w);
    if (!w) {
        wk_logf("out of memory");
        return 1;
    }
    w->cfg = cfg;
    w->main_thread = pthread_self();
    w->n_slots = cfg->concurrency;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->hb_cond, &ca);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < w->n_slots; i++) {
        w->slots[i].w = w;
        w->slots[i].index = i;
        pthread_mutex_init(&w->slots[i].db_lock, NULL);
    }

    struct loop l = {.w = w};
    int rc = wk_db_open(cfg, "kofarm-worker", signaled, NULL, &l.db, err);
    if (rc) {
        int quit = wk_signals > 0;
        if (!quit)
            wk_logf("%s", err);
        worker_free(w);
        return quit ? 0 : 1;
    }
    if (listen_all(&l) || wk_heartbeat_start(w)) {
        kf_db_close(l.db);
        worker_free(w);
        return wk_signals ? 0 : 1;
    }
    wk_logf("%s ready: concurrency %d, lease %d ms, state %s", cfg->worker_id, cfg->concurrency, cfg->lease_ms,
            cfg->state_dir);
    for (;;) {
        join_finished(&l);
        check_shutdown(&l);
        if (l.stopping && !busy_slots(w))
            break;
        if (!l.stopping && free_slot(w) && wk_now_ms() >= l.next_claim_at)
            claim(&l);
        join_finished(&l);
        loop_once(&l);
    }
    wk_heartbeat_stop(w);
    kf_db_close(l.db);
    worker_free(w);
    wk_logf("stopped");
    return 0;
}
