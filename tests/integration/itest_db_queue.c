/* The worker's side of the queue against a real PostgreSQL 15: claims are
 * exactly-once under contention, leases expire and get reaped, transient
 * failures back off, cancel and retry follow the states, logs keep order. */
#include "itest_db_fixture.h"

#include <pthread.h>
#include <time.h>

#include "dbjobs.h"

TestSuite(queue, .init = fresh_db, .timeout = 180);

static int64_t insert_job(struct kf_db *db, int max_attempts, const void *source, size_t source_len)
{
    char err[KF_ERRLEN] = "";
    json_t *spec = json_pack("{s:s}", "repo", "r");
    struct kf_job_new j = {.kind = "build", .spec = spec, .max_attempts = max_attempts, .source = source,
                           .source_len = source_len};
    int64_t id;
    int existed;
    cr_assert_eq(kf_job_insert(db, &j, &id, &existed, err), KF_OK, "%s", err);
    json_decref(spec);
    return id;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static json_t *get_job(struct kf_db *db, int64_t id)
{
    char err[KF_ERRLEN] = "";
    json_t *job;
    cr_assert_eq(kf_job_get(db, id, &job, err), KF_OK, "%s", err);
    return job;
}

static const char *str_field(json_t *job, const char *key)
{
    return json_string_value(json_object_get(job, key));
}

/* Claims exactly one job and returns it (caller frees). */
static struct kf_claimed *claim_one(struct kf_db *db, const char *owner, int lease_ms)
{
    char err[KF_ERRLEN] = "";
    struct kf_claimed *c;
    size_t n;
    cr_assert_eq(kf_job_claim(db, owner, lease_ms, NULL, 1, &c, &n, err), KF_OK, "%s", err);
    cr_assert_eq(n, 1, "nothing to claim");
    return c;
}

static size_t claim_none(struct kf_db *db)
{
    char err[KF_ERRLEN] = "";
    struct kf_claimed *c;
    size_t n;
    cr_assert_eq(kf_job_claim(db, "w:none", 60000, NULL, 10, &c, &n, err), KF_OK, "%s", err);
    kf_claimed_free(c, n);
    return n;
}

#define DRAIN_JOBS 200

struct drainer {
    char owner[32];
    int64_t ids[DRAIN_JOBS];
    size_t n;
    int failed;
    char err[KF_ERRLEN];
};

/* Claims in batches of 3 on its own connection until the queue is empty,
 * finishing each job as a worker would. */
static void *drain(void *arg)
{
    struct drainer *d = arg;
    struct kf_db *db;
    if (kf_db_open(db_url, "drainer", &db, d->err)) {
        d->failed = 1;
        return NULL;
    }
    for (;;) {
        struct kf_claimed *c;
        size_t n;
        if (kf_job_claim(db, d->owner, 60000, "build", 3, &c, &n, d->err)) {
            d->failed = 1;
            break;
        }
        if (n == 0)
            break;
        for (size_t i = 0; i < n && d->n < DRAIN_JOBS; i++) {
            d->ids[d->n++] = c[i].id;
            json_t *result = json_pack("{s:I}", "by", (json_int_t)c[i].id);
            if (kf_job_succeed(db, c[i].id, d->owner, result, NULL, d->err))
                d->failed = 1;
            json_decref(result);
        }
        kf_claimed_free(c, n);
        if (d->failed)
            break;
    }
    kf_db_close(db);
    return NULL;
}

Test(queue, two_workers_claim_every_job_exactly_once)
{
    struct kf_db *db = open_db();
    int64_t first = 0;
    for (int i = 0; i < DRAIN_JOBS; i++) {
        int64_t id = insert_job(db, 0, NULL, 0);
        if (i == 0)
            first = id;
    }
    static struct drainer workers[2];
    pthread_t threads[2];
    for (int w = 0; w < 2; w++) {
        memset(&workers[w], 0, sizeof workers[w]);
        snprintf(workers[w].owner, sizeof workers[w].owner, "host:%d:%d", (int)getpid(), w);
        cr_assert_eq(pthread_create(&threads[w], NULL, drain, &workers[w]), 0);
    }
    for (int w = 0; w < 2; w++)
        pthread_join(threads[w], NULL);
    int seen[DRAIN_JOBS] = {0};
    for (int w = 0; w < 2; w++) {
        cr_assert_eq(workers[w].failed, 0, "%s", workers[w].err);
        for (size_t i = 0; i < workers[w].n; i++) {
            int64_t slot = workers[w].ids[i] - first;
            cr_assert(slot >= 0 && slot < DRAIN_JOBS);
            seen[slot]++;
        }
    }
    for (int i = 0; i < DRAIN_JOBS; i++)
        cr_expect_eq(seen[i], 1, "job %d claimed %d times", i, seen[i]);
    cr_expect_eq(workers[0].n + workers[1].n, DRAIN_JOBS);
    cr_expect_eq(sql_int(db_url, "SELECT count(*) FROM jobs WHERE state = 'succeeded' AND attempts = 1"),
                 DRAIN_JOBS);
    kf_db_close(db);
}

Test(queue, claim_order_kind_and_source)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = open_db();
    json_t *spec = json_pack("{s:s}", "x", "y");
    struct kf_job_new low = {.kind = "build", .spec = spec, .priority = 10};
    struct kf_job_new high = {.kind = "build", .spec = spec, .priority = -1, .source = "\0\1\2binary", .source_len = 9};
    struct kf_job_new resolve = {.kind = "resolve", .spec = spec};
    int64_t low_id, high_id, resolve_id;
    int existed;
    cr_assert_eq(kf_job_insert(db, &low, &low_id, &existed, err), KF_OK, "%s", err);
    cr_assert_eq(kf_job_insert(db, &high, &high_id, &existed, err), KF_OK, "%s", err);
    cr_assert_eq(kf_job_insert(db, &resolve, &resolve_id, &existed, err), KF_OK, "%s", err);

    struct kf_claimed *c;
    size_t n;
    cr_assert_eq(kf_job_claim(db, "w:1", 60000, "build", 1, &c, &n, err), KF_OK, "%s", err);
    cr_assert_eq(n, 1);
    cr_expect_eq(c[0].id, high_id, "lower priority value first");
    cr_expect_str_eq(c[0].kind, "build");
    cr_expect(json_equal(c[0].spec, spec));
    cr_expect_eq(c[0].attempt, 1);
    cr_assert_eq(c[0].source_len, 9);
    cr_expect_eq(memcmp(c[0].source, "\0\1\2binary", 9), 0);
    kf_claimed_free(c, n);

    cr_assert_eq(kf_job_claim(db, "w:1", 60000, "resolve", 5, &c, &n, err), KF_OK, "%s", err);
    cr_assert_eq(n, 1);
    cr_expect_eq(c[0].id, resolve_id);
    cr_expect_null(c[0].source);
    kf_claimed_free(c, n);

    cr_expect_eq(kf_job_claim(db, "", 60000, NULL, 1, &c, &n, err), KF_EINVAL);
    cr_expect_eq(kf_job_claim(db, "w", 0, NULL, 1, &c, &n, err), KF_EINVAL);
    cr_expect_eq(kf_job_claim(db, "w", 1000, NULL, 0, &c, &n, err), KF_EINVAL);
    cr_expect_eq(kf_job_claim(db, "w", 1000, NULL, 101, &c, &n, err), KF_EINVAL);
    json_decref(spec);
    kf_db_close(db);
}

Test(queue, expired_leases_are_reaped_then_fail_after_max_attempts)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = open_db();
    int64_t id = insert_job(db, 2, NULL, 0);
    struct kf_claimed *c = claim_one(db, "dead:1", 50);
    cr_expect_eq(c[0].attempt, 1);
    kf_claimed_free(c, 1);
    sleep_ms(200);
    int requeued, failed;
    cr_assert_eq(kf_job_reap(db, &requeued, &failed, err), KF_OK, "%s", err);
    cr_expect_eq(requeued, 1);
    cr_expect_eq(failed, 0);
    json_t *job = get_job(db, id);
    cr_expect_str_eq(str_field(job, "state"), "queued");
    cr_expect_str_eq(str_field(json_object_get(job, "error"), "code"), "lease_expired");
    json_decref(job);

    /* The dead worker comes back: its lease is gone. */
    int cancel, lost;
    cr_assert_eq(kf_job_heartbeat(db, id, "dead:1", 1000, &cancel, &lost, err), KF_OK, "%s", err);
    cr_expect_eq(lost, 1);
    json_t *result = json_object();
    cr_expect_eq(kf_job_succeed(db, id, "dead:1", result, NULL, err), KF_ENOTFOUND);

    c = claim_one(db, "dead:2", 50);
    cr_expect_eq(c[0].attempt, 2);
    kf_claimed_free(c, 1);
    sleep_ms(200);
    cr_assert_eq(kf_job_reap(db, &requeued, &failed, err), KF_OK, "%s", err);
    cr_expect_eq(requeued, 0);
    cr_expect_eq(failed, 1);
    job = get_job(db, id);
    cr_expect_str_eq(str_field(job, "state"), "failed");
    json_t *error = json_object_get(job, "error");
    cr_expect_str_eq(str_field(error, "code"), "lease_expired");
    cr_expect(strstr(str_field(error, "message"), "dead:2") != NULL, "%s", str_field(error, "message"));
    cr_expect_eq(json_integer_value(json_object_get(job, "attempts")), 2);
    cr_expect_not_null(str_field(job, "finished_at"));
    json_decref(job);
    cr_expect_eq(claim_none(db), 0);

    /* A live lease renewed by heartbeats is left alone. */
    int64_t alive = insert_job(db, 0, NULL, 0);
    c = claim_one(db, "alive:1", 60000);
    kf_claimed_free(c, 1);
    cr_assert_eq(kf_job_heartbeat(db, alive, "alive:1", 60000, &cancel, &lost, err), KF_OK, "%s", err);
    cr_expect_eq(lost, 0);
    cr_expect_eq(cancel, 0);
    cr_assert_eq(kf_job_reap(db, &requeued, &failed, err), KF_OK, "%s", err);
    cr_expect_eq(requeued + failed, 0);
    cr_assert_eq(kf_job_set_resolved(db, alive, "alive:1", "deadbeef", "ck", err), KF_OK, "%s", err);
    cr_expect_eq(kf_job_set_resolved(db, alive, "other:1", "deadbeef", NULL, err), KF_ENOTFOUND);
    cr_assert_eq(kf_job_succeed(db, alive, "alive:1", result, NULL, err), KF_OK, "%s", err);
    job = get_job(db, alive);
    cr_expect_str_eq(str_field(job, "commit"), "deadbeef");
    cr_expect(json_is_null(json_object_get(job, "error")));
    json_decref(job);
    json_decref(result);
    kf_db_close(db);
}

Test(queue, transient_failures_back_off_user_errors_fail_at_once)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = open_db();
    int64_t id = insert_job(db, 2, NULL, 0);
    struct kf_claimed *c = claim_one(db, "w:1", 60000);
    kf_claimed_free(c, 1);
    int requeued = -1;
    cr_assert_eq(kf_job_fail(db, id, "w:1", "registry", "503 from the registry", 1, &requeued, err), KF_OK, "%s",
                 err);
    cr_expect_eq(requeued, 1);
    json_t *job = get_job(db, id);
    cr_expect_str_eq(str_field(job, "state"), "queued");
    cr_expect_str_eq(str_field(json_object_get(job, "error"), "message"), "503 from the registry");
    json_decref(job);
    /* Attempt 1 failed: 2 s +-25% from now, so not claimable yet. */
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT (extract(epoch FROM run_after - now()) * 1000)::int FROM jobs WHERE id = %lld",
             (long long)id);
    long long delay = sql_int(db_url, sql);
    cr_expect(delay > 1000 && delay <= 2500, "delay %lld ms", delay);
    cr_expect_eq(claim_none(db), 0);
    long long due;
    cr_assert_eq(kf_job_next_due(db, NULL, &due, err), KF_OK, "%s", err);
    cr_expect(due > 0 && due <= 2500, "due in %lld ms", due);
    cr_assert_eq(kf_job_next_due(db, "resolve", &due, err), KF_OK, "%s", err);
    cr_expect_eq(due, -1);

    /* Once due, the second attempt is the last: transient or not, it fails. */
    snprintf(sql, sizeof sql, "UPDATE jobs SET run_after = now() WHERE id = %lld", (long long)id);
    free(sql_value(db_url, sql));
    c = claim_one(db, "w:2", 60000);
    cr_expect_eq(c[0].attempt, 2);
    kf_claimed_free(c, 1);
    cr_assert_eq(kf_job_fail(db, id, "w:2", "registry", "503 again", 1, &requeued, err), KF_OK, "%s", err);
    cr_expect_eq(requeued, 0);
    job = get_job(db, id);
    cr_expect_str_eq(str_field(job, "state"), "failed");
    json_decref(job);

    /* A user error fails at once, attempts left or not; odd bytes survive. */
    int64_t user = insert_job(db, 5, NULL, 0);
    c = claim_one(db, "w:3", 60000);
    kf_claimed_free(c, 1);
    cr_assert_eq(kf_job_fail(db, user, "w:3", "build_failed", "main.go:3: undefined: x \xff", 0, &requeued, err),
                 KF_OK, "%s", err);
    cr_expect_eq(requeued, 0);
    job = get_job(db, user);
    cr_expect_str_eq(str_field(job, "state"), "failed");
    cr_expect_str_eq(str_field(json_object_get(job, "error"), "code"), "build_failed");
    cr_expect_str_eq(str_field(json_object_get(job, "error"), "message"), "main.go:3: undefined: x \xEF\xBF\xBD");
    json_decref(job);
    cr_expect_eq(kf_job_fail(db, user, "w:3", "again", "", 0, &requeued, err), KF_ENOTFOUND);
    cr_expect_eq(kf_job_fail(db, user, "w:3", "", "", 0, &requeued, err), KF_EINVAL);
    kf_db_close(db);
}

Test(queue, cancel_queued_running_and_finished)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = open_db(), *listener = open_db();
    cr_assert_eq(kf_db_listen(listener, KF_JOB_CANCEL_CHANNEL, err), KF_OK, "%s", err);

    /* Queued: canceled at once, never claimed. */
    int64_t queued = insert_job(db, 0, NULL, 0);
    json_t *job;
    int conflict = -1;
    cr_assert_eq(kf_job_cancel(db, queued, &job, &conflict, err), KF_OK, "%s", err);
    cr_expect_eq(conflict, 0);
    cr_expect_str_eq(str_field(job, "state"), "canceled");
    cr_expect_not_null(str_field(job, "finished_at"));
    json_decref(job);
    cr_expect_eq(claim_none(db), 0);

    /* Running: requested; the worker hears it and confirms. */
    int64_t running = insert_job(db, 0, NULL, 0);
    struct kf_claimed *c = claim_one(db, "w:1", 60000);
    kf_claimed_free(c, 1);
    cr_assert_eq(kf_job_cancel(db, running, &job, &conflict, err), KF_OK, "%s", err);
    cr_expect_str_eq(str_field(job, "state"), "running");
    cr_expect(json_is_true(json_object_get(job, "cancel_requested")));
    json_decref(job);
    char channel[64], payload[64];
    int got;
    cr_assert_eq(kf_db_wait(listener, 10000, channel, sizeof channel, payload, sizeof payload, &got, err), KF_OK,
                 "%s", err);
    cr_expect_eq(got, KF_DB_WAIT_NOTIFIED);
    cr_expect_str_eq(channel, KF_JOB_CANCEL_CHANNEL);
    cr_expect_eq(strtoll(payload, NULL, 10), running);
    int cancel, lost;
    cr_assert_eq(kf_job_heartbeat(db, running, "w:1", 60000, &cancel, &lost, err), KF_OK, "%s", err);
    cr_expect_eq(cancel, 1);
    cr_expect_eq(lost, 0);
    cr_assert_eq(kf_job_mark_canceled(db, running, "w:1", err), KF_OK, "%s", err);
    job = get_job(db, running);
    cr_expect_str_eq(str_field(job, "state"), "canceled");
    json_decref(job);

    /* Finished: a conflict, with the job as it is. */
    cr_expect_eq(kf_job_cancel(db, running, &job, &conflict, err), KF_EINVAL);
    cr_expect_eq(conflict, 1);
    cr_expect_str_eq(str_field(job, "state"), "canceled");
    json_decref(job);
    cr_expect_eq(kf_job_cancel(db, running + 1000, &job, &conflict, err), KF_ENOTFOUND);
    cr_expect_eq(conflict, 0);

    /* A cancel pending when the lease expires or the job fails wins. */
    int64_t dying = insert_job(db, 3, NULL, 0);
    c = claim_one(db, "w:2", 50);
    kf_claimed_free(c, 1);
    cr_assert_eq(kf_job_cancel(db, dying, NULL, &conflict, err), KF_OK, "%s", err);
    sleep_ms(200);
    int requeued, failed;
    cr_assert_eq(kf_job_reap(db, &requeued, &failed, err), KF_OK, "%s", err);
    cr_expect_eq(requeued, 0);
    cr_expect_eq(failed, 1);
    job = get_job(db, dying);
    cr_expect_str_eq(str_field(job, "state"), "canceled");
    json_decref(job);
    int64_t failing = insert_job(db, 3, NULL, 0);
    c = claim_one(db, "w:3", 60000);
    kf_claimed_free(c, 1);
    cr_assert_eq(kf_job_cancel(db, failing, NULL, &conflict, err), KF_OK, "%s", err);
    cr_assert_eq(kf_job_fail(db, failing, "w:3", "canceled", "stopped", 1, &requeued, err), KF_OK, "%s", err);
    cr_expect_eq(requeued, 0);
    job = get_job(db, failing);
    cr_expect_str_eq(str_field(job, "state"), "canceled");
    json_decref(job);
    kf_db_close(db);
    kf_db_close(listener);
}

Test(queue, retry_makes_a_new_job_with_the_same_source)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = open_db();
    int64_t id = insert_job(db, 1, "src-bytes", 9);
    struct kf_claimed *c = claim_one(db, "w:1", 60000);
    kf_claimed_free(c, 1);
    int64_t new_id;
    int conflict = -1;
    cr_expect_eq(kf_job_retry(db, id, NULL, &new_id, &conflict, err), KF_EINVAL, "running: not yet");
    cr_expect_eq(conflict, 1);
    cr_assert_eq(kf_job_fail(db, id, "w:1", "build_failed", "boom", 0, NULL, err), KF_OK, "%s", err);
    cr_assert_eq(kf_job_retry(db, id, "bob", &new_id, &conflict, err), KF_OK, "%s", err);
    cr_expect_eq(conflict, 0);
    cr_expect_gt(new_id, id);
    json_t *job = get_job(db, new_id), *old = get_job(db, id);
    cr_expect_str_eq(str_field(job, "state"), "queued");
    cr_expect_eq(json_integer_value(json_object_get(job, "retry_of")), id);
    cr_expect_eq(json_integer_value(json_object_get(job, "attempts")), 0);
    cr_expect_eq(json_integer_value(json_object_get(job, "max_attempts")), 1);
    cr_expect_str_eq(str_field(job, "requested_by"), "bob");
    cr_expect(json_equal(json_object_get(job, "spec"), json_object_get(old, "spec")));
    cr_expect(json_is_null(json_object_get(job, "error")));
    json_decref(job);
    json_decref(old);
    c = claim_one(db, "w:2", 60000);
    cr_expect_eq(c[0].id, new_id);
    cr_assert_eq(c[0].source_len, 9);
    cr_expect_eq(memcmp(c[0].source, "src-bytes", 9), 0);
    kf_claimed_free(c, 1);
    cr_expect_eq(kf_job_retry(db, new_id, NULL, &new_id, &conflict, err), KF_EINVAL);
    cr_expect_eq(kf_job_retry(db, id + 1000, NULL, &new_id, &conflict, err), KF_ENOTFOUND);
    cr_expect_eq(conflict, 0);
    kf_db_close(db);
}

Test(queue, release_hands_a_job_back_without_spending_an_attempt)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = open_db();
    int64_t id = insert_job(db, 0, NULL, 0);
    struct kf_claimed *c = claim_one(db, "w:1", 60000);
    kf_claimed_free(c, 1);
    cr_assert_eq(kf_job_release(db, id, "w:1", err), KF_OK, "%s", err);
    json_t *job = get_job(db, id);
    cr_expect_str_eq(str_field(job, "state"), "queued");
    cr_expect_eq(json_integer_value(json_object_get(job, "attempts")), 0);
    json_decref(job);
    c = claim_one(db, "w:2", 60000);
    cr_expect_eq(c[0].attempt, 1);
    kf_claimed_free(c, 1);
    cr_expect_eq(kf_job_release(db, id, "w:1", err), KF_ENOTFOUND);
    kf_db_close(db);
}

Test(queue, log_lines_keep_their_order)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = open_db();
    int64_t id = insert_job(db, 0, NULL, 0);
    int64_t other = insert_job(db, 0, NULL, 0);
    char *long_line = malloc(KF_JOB_LOG_LINE_MAX + 100);
    memset(long_line, 'x', KF_JOB_LOG_LINE_MAX + 99);
    long_line[KF_JOB_LOG_LINE_MAX + 99] = 0;
    const char *out[] = {"first", "with \"quotes\" and \\ backslash", "", long_line};
    const char *errs[] = {"bad \xc3\x28 utf8", "{braces,commas}"};
    const char *noise[] = {"other job"};
    cr_assert_eq(kf_job_log_append(db, id, "stdout", out, 4, err), KF_OK, "%s", err);
    cr_assert_eq(kf_job_log_append(db, other, "stdout", noise, 1, err), KF_OK, "%s", err);
    cr_assert_eq(kf_job_log_append(db, id, "stderr", errs, 2, err), KF_OK, "%s", err);
    free(long_line);

    json_t *lines;
    int64_t last;
    int finished = -1;
    cr_assert_eq(kf_job_log_read(db, id, 0, 100, &lines, &last, &finished, err), KF_OK, "%s", err);
    cr_assert_eq(json_array_size(lines), 6);
    cr_expect_eq(finished, 0);
    const char *want[] = {"first", "with \"quotes\" and \\ backslash", "", NULL, "bad \xEF\xBF\xBD( utf8",
                          "{braces,commas}"};
    int64_t prev = 0;
    for (size_t i = 0; i < 6; i++) {
        json_t *line = json_array_get(lines, i);
        int64_t seq = json_integer_value(json_object_get(line, "seq"));
        cr_expect_gt(seq, prev);
        prev = seq;
        cr_expect_str_eq(str_field(line, "stream"), i < 4 ? "stdout" : "stderr");
        if (want[i])
            cr_expect_str_eq(str_field(line, "line"), want[i], "line %zu", i);
        else
            cr_expect_eq(strlen(str_field(line, "line")), KF_JOB_LOG_LINE_MAX);
        cr_expect_eq(strlen(str_field(line, "at")), 24);
    }
    cr_expect_eq(last, prev);
    json_decref(lines);

    /* Paging: two at a time from a position. */
    cr_assert_eq(kf_job_log_read(db, id, 0, 2, &lines, &last, NULL, err), KF_OK, "%s", err);
    cr_expect_eq(json_array_size(lines), 2);
    json_decref(lines);
    cr_assert_eq(kf_job_log_read(db, id, last, 100, &lines, &last, NULL, err), KF_OK, "%s", err);
    cr_expect_eq(json_array_size(lines), 4);
    cr_expect_str_eq(str_field(json_array_get(lines, 0), "line"), "");
    json_decref(lines);
    int64_t end = last;
    cr_assert_eq(kf_job_log_read(db, id, end, 100, &lines, &last, &finished, err), KF_OK, "%s", err);
    cr_expect_eq(json_array_size(lines), 0);
    cr_expect_eq(last, end);
    json_decref(lines);

    /* The job ends: a follower sees finished. */
    struct kf_claimed *c;
    size_t n;
    cr_assert_eq(kf_job_claim(db, "w:1", 60000, NULL, 2, &c, &n, err), KF_OK, "%s", err);
    kf_claimed_free(c, n);
    cr_assert_eq(kf_job_fail(db, id, "w:1", "build_failed", "x", 0, NULL, err), KF_OK, "%s", err);
    cr_assert_eq(kf_job_log_read(db, id, end, 100, &lines, &last, &finished, err), KF_OK, "%s", err);
    cr_expect_eq(finished, 1);
    json_decref(lines);

    cr_expect_eq(kf_job_log_append(db, id + 1000, "stdout", out, 1, err), KF_ENOTFOUND);
    cr_expect_eq(kf_job_log_read(db, id + 1000, 0, 10, &lines, &last, NULL, err), KF_ENOTFOUND);
    cr_expect_eq(kf_job_log_append(db, id, "StdOut", out, 1, err), KF_EINVAL);
    cr_expect_eq(kf_job_log_append(db, id, "", out, 1, err), KF_EINVAL);
    cr_expect_eq(kf_job_log_read(db, id, 0, 0, &lines, &last, NULL, err), KF_EINVAL);
    kf_db_close(db);
}
