/* Operations endpoints: /healthz (the process answers), /readyz (the
 * database answers), /metrics (Prometheus text), /openapi.yaml. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "dbjobs.h"
#include "server.h"

#define SNAPSHOT_NS (2LL * 1000 * 1000 * 1000)

static const double bounds[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800};
#define N_BOUNDS (sizeof bounds / sizeof *bounds)

void route_healthz(struct srv *s, struct http_req *req, struct http_resp *resp)
{
    (void)s, (void)req;
    reply_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

void route_readyz(struct srv *s, struct http_req *req, struct http_resp *resp)
{
    (void)req;
    char err[KF_ERRLEN];
    struct kf_db *db;
    int rc = dbpool_get(s->pool, &db, err);
    if (!rc) {
        rc = kf_db_ping(db, err);
        dbpool_put(s->pool, db);
    }
    if (rc)
        reply_error(resp, 503, "unavailable", "database not reachable: %s", err);
    else
        reply_json(resp, 200, json_pack("{s:s}", "status", "ready"));
}

/* The database's part of /metrics, rebuilt at most every 2 s. */
static pthread_mutex_t snapshot_lock = PTHREAD_MUTEX_INITIALIZER;
static char *snapshot;
static long long snapshot_at;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int job_lines(struct kf_buf *b, const json_t *counts)
{
    static const char *const finished[] = {"succeeded", "failed", "canceled"};
    int rc = kf_buf_append_str(b, "# HELP kofarm_jobs Jobs by kind and state.\n# TYPE kofarm_jobs gauge\n");
    const char *kind, *state;
    json_t *by_state, *n;
    json_object_foreach((json_t *)counts, kind, by_state) {
        json_object_foreach(by_state, state, n) {
            if (!rc)
                rc = kf_buf_appendf(b, "kofarm_jobs{kind=\"%s\",state=\"%s\"} %lld\n", kind, state,
                                    (long long)json_integer_value(n));
        }
    }
    if (!rc)
        rc = kf_buf_append_str(b, "# HELP kofarm_jobs_finished_total Jobs finished, by outcome.\n"
                                  "# TYPE kofarm_jobs_finished_total counter\n");
    json_object_foreach((json_t *)counts, kind, by_state) {
        for (size_t i = 0; i < 3 && !rc; i++)
            rc = kf_buf_appendf(b, "kofarm_jobs_finished_total{kind=\"%s\",outcome=\"%s\"} %lld\n", kind,
                                finished[i], (long long)json_integer_value(json_object_get(by_state, finished[i])));
    }
    return rc;
}

static int histogram_lines(struct kf_buf *b, const long long *le, long long count, double sum)
{
    int rc = kf_buf_append_str(b, "# HELP kofarm_build_duration_seconds Run time of finished builds.\n"
                                  "# TYPE kofarm_build_duration_seconds histogram\n");
    for (size_t i = 0; !rc && i < N_BOUNDS; i++)
        rc = kf_buf_appendf(b, "kofarm_build_duration_seconds_bucket{le=\"%g\"} %lld\n", bounds[i], le[i]);
    if (!rc)
        rc = kf_buf_appendf(b,
                            "kofarm_build_duration_seconds_bucket{le=\"+Inf\"} %lld\n"
                            "kofarm_build_duration_seconds_sum %.3f\nkofarm_build_duration_seconds_count %lld\n",
                            count, sum, count);
    return rc;
}

/* A fresh text of the database's metrics (caller frees); on a database
 * error only kofarm_database_up 0. */
static char *build_snapshot(struct srv *s)
{
    char err[KF_ERRLEN];
    struct kf_buf b;
    kf_buf_init(&b, 0);
    struct kf_db *db;
    json_t *counts = NULL;
    long long le[N_BOUNDS], count = 0;
    double sum = 0;
    int rc = dbpool_get(s->pool, &db, err);
    if (!rc) {
        rc = kf_job_stats(db, &counts, err);
        if (!rc)
            rc = kf_job_durations(db, "build", bounds, N_BOUNDS, le, &count, &sum, err);
        dbpool_put(s->pool, db);
    }
    int up = rc == KF_OK;
    rc = kf_buf_appendf(&b, "# HELP kofarm_database_up Whether the last scrape reached the database.\n"
                            "# TYPE kofarm_database_up gauge\nkofarm_database_up %d\n",
                        up);
    if (up && !rc)
        rc = job_lines(&b, counts);
    if (up && !rc)
        rc = histogram_lines(&b, le, count, sum);
    json_decref(counts);
    char *text = rc ? NULL : (char *)kf_buf_steal(&b, NULL);
    kf_buf_free(&b);
    return text;
}

void route_metrics(struct srv *s, struct http_req *req, struct http_resp *resp)
{
    (void)req;
    struct kf_buf b;
    kf_buf_init(&b, 0);
    pthread_mutex_lock(&snapshot_lock);
    long long now = now_ns();
    if (!snapshot || now - snapshot_at > SNAPSHOT_NS) {
        char *fresh = build_snapshot(s);
        if (fresh) {
            free(snapshot);
            snapshot = fresh;
            snapshot_at = now;
        }
    }
    int rc = kf_buf_append_str(&b, snapshot ? snapshot : "");
    pthread_mutex_unlock(&snapshot_lock);
    if (!rc)
        rc = metrics_http_text(&b);
    size_t len;
    char *text = rc ? NULL : (char *)kf_buf_steal(&b, &len);
    kf_buf_free(&b);
    if (!text) {
        reply_error(resp, 500, "internal", "out of memory");
        return;
    }
    reply_text(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

void route_openapi(struct srv *s, struct http_req *req, struct http_resp *resp)
{
    (void)req;
    char *copy = s->openapi ? malloc(s->openapi_len + 1) : NULL;
    if (!copy) {
        reply_error(resp, 404, "not_found", "api/openapi.yaml is not installed (see --share-dir)");
        return;
    }
    memcpy(copy, s->openapi, s->openapi_len + 1);
    reply_text(resp, 200, "application/yaml", copy, s->openapi_len);
}
