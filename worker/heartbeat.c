/* The heartbeat thread: extends every running job's lease every third of
 * the lease, stops a job whose cancel was requested or whose lease is lost
 * (or has run out while the database was unreachable: another worker may
 * hold it by now), and runs the reaper that requeues the jobs of dead
 * workers. Its own connection. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "worker.h"

#define REAP_EVERY_MS 5000

struct beat {
    int slot;
    uint64_t seq;
    int64_t id;
    char owner[WK_OWNER_MAX];
};

/* Applies one heartbeat's outcome if the slot still runs that claim. */
static void apply(struct worker *w, const struct beat *b, int rc, int cancel_requested, int lost, long long sent_at)
{
    struct wk_slot *s = &w->slots[b->slot];
    pthread_mutex_lock(&w->lock);
    if (s->running && s->seq == b->seq) {
        if (rc == KF_OK && lost) {
            if (s->finishing)
                goto out; /* it just ended: that is why it is no longer ours */
            wk_logf("job %" PRId64 ": lease lost; stopping it", b->id);
            wk_slot_stop(s, WK_STOP_LOST);
        } else if (rc == KF_OK) {
            s->lease_until_ms = sent_at + w->cfg->lease_ms;
            if (cancel_requested && !(atomic_load(&s->stop_reason) & WK_STOP_USER)) {
                wk_logf("job %" PRId64 ": cancel requested", b->id);
                wk_slot_stop(s, WK_STOP_USER);
            }
        } else if (wk_now_ms() >= s->lease_until_ms && !(atomic_load(&s->stop_reason) & WK_STOP_LOST)) {
            wk_logf("job %" PRId64 ": lease ran out while the database was unreachable; stopping it", b->id);
            wk_slot_stop(s, WK_STOP_LOST);
        }
    }
out:
    pthread_mutex_unlock(&w->lock);
}

static void beat_all(struct worker *w, struct kf_db *db)
{
    struct beat beats[WK_CONCURRENCY_MAX];
    int n = 0;
    char err[KF_ERRLEN] = "";
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < w->n_slots; i++) {
        struct wk_slot *s = &w->slots[i];
        if (!s->running || (atomic_load(&s->stop_reason) & WK_STOP_LOST))
            continue;
        beats[n].slot = i;
        beats[n].seq = s->seq;
        beats[n].id = s->job_id;
        memcpy(beats[n].owner, s->owner, sizeof beats[n].owner);
        n++;
    }
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < n; i++) {
        int cancel_requested = 0, lost = 0, rc = KF_ENET;
        long long sent_at = wk_now_ms();
        if (db)
            rc = kf_job_heartbeat(db, beats[i].id, beats[i].owner, w->cfg->lease_ms, &cancel_requested, &lost, err);
        if (rc && rc != KF_ENET)
            wk_logf("job %" PRId64 ": heartbeat: %s", beats[i].id, err);
        apply(w, &beats[i], rc, cancel_requested, lost, sent_at);
    }
}

static void reap(struct kf_db *db)
{
    char err[KF_ERRLEN] = "";
    int requeued = 0, failed = 0;
    int rc = kf_job_reap(db, &requeued, &failed, err);
    if (rc && rc != KF_ENET)
        wk_logf("reaper: %s", err);
    else if (!rc && (requeued || failed))
        wk_logf("reaper: %d expired job(s) requeued, %d failed", requeued, failed);
}

static void *heartbeat_main(void *arg)
{
    struct worker *w = arg;
    struct kf_db *db = NULL;
    char err[KF_ERRLEN] = "";
    long long interval = w->cfg->lease_ms / 3, now = wk_now_ms();
    long long next_beat = now + interval, next_reap = now;
    pthread_mutex_lock(&w->lock);
    while (!w->hb_stop) {
        pthread_mutex_unlock(&w->lock);
        /* kf_db reconnects by itself once open; opening is retried here. */
        if (!db && kf_db_open(w->cfg->database_url, "kofarm-worker-heartbeat", &db, err))
            db = NULL;
        now = wk_now_ms();
        if (now >= next_beat) {
            next_beat = now + interval;
            beat_all(w, db);
        }
        if (db && now >= next_reap) {
            next_reap = now + REAP_EVERY_MS;
            reap(db);
        }
        long long until = next_beat < next_reap ? next_beat : next_reap;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long long wait = until - wk_now_ms();
        if (wait < 10)
            wait = 10;
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&w->lock);
        if (!w->hb_stop)
            pthread_cond_timedwait(&w->hb_cond, &w->lock, &ts);
    }
    pthread_mutex_unlock(&w->lock);
    kf_db_close(db);
    return NULL;
}

int wk_heartbeat_start(struct worker *w)
{
    if (wk_thread_create(&w->hb_thread, heartbeat_main, w) != 0) {
        wk_logf("cannot start the heartbeat thread");
        return -1;
    }
    return 0;
}

void wk_heartbeat_stop(struct worker *w)
{
    pthread_mutex_lock(&w->lock);
    w->hb_stop = 1;
    pthread_cond_signal(&w->hb_cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->hb_thread, NULL);
}
