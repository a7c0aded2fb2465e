/* The job queue in PostgreSQL: submitting and reading jobs (server side),
 * claiming and finishing them under leases (worker side), and their logs.
 * Every function takes a connection from db.h and is as thread-safe as
 * that connection: one struct kf_db per thread.
 *
 * States: queued -> running -> succeeded | failed | canceled, and running
 * -> queued again for retries (transient failure, expired lease, hand-back).
 *
 * Conflicts: a request that the job's state or an earlier request forbids
 * (cancel of a finished job, retry of a job that did not fail, idempotency
 * key reused for another request) returns KF_EINVAL and sets the call's
 * *conflict / *existed out-parameter to 1, so the server can answer 409 or
 * 422 rather than 400. Plain KF_EINVAL leaves them 0.
 *
 * Leases: a worker slot's calls name it by owner, a string unique per
 * running claim (e.g. "host:pid:slot"). Once a job no longer runs under
 * that owner (the lease expired and it was reaped, or it ended) the worker
 * calls return KF_ENOTFOUND ("lease lost") and change nothing.
 *
 * Results stay in jobs.result as the jsonb the worker hands over (per
 * import path and platform, in the server's API shape): it is written once
 * and read as a whole, so a separate results table would only duplicate it.
 *
 * Notifications (LISTEN with kf_db_listen), sent when the change commits:
 *   KF_JOB_CHANNEL        payload kind: a job became claimable
 *   KF_JOB_STATE_CHANNEL  payload "<id> <state>": any state change
 *   KF_JOB_CANCEL_CHANNEL payload id: a running job was asked to stop
 *   KF_JOB_LOG_CHANNEL    payload id: log lines were appended */
#ifndef KF_DBJOBS_H
#define KF_DBJOBS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "error.h"

#define KF_JOB_CHANNEL "kofarm_jobs"
#define KF_JOB_STATE_CHANNEL "kofarm_job_state"
#define KF_JOB_CANCEL_CHANNEL "kofarm_cancel"
#define KF_JOB_LOG_CHANNEL "kofarm_log"

#define KF_JOB_DEFAULT_MAX_ATTEMPTS 3
#define KF_JOB_MAX_ATTEMPTS 100
#define KF_JOB_SOURCE_MAX ((size_t)256 << 20) /* uploaded tarball */
#define KF_JOB_SPEC_MAX ((size_t)1 << 20)     /* serialised spec or result */
#define KF_JOB_RESULT_MAX ((size_t)4 << 20)
#define KF_JOB_LIST_MAX 200
#define KF_JOB_CLAIM_MAX 100
#define KF_JOB_LOG_LINE_MAX 16384 /* longer lines are cut */
#define KF_JOB_LOG_BATCH_MAX 10000
#define KF_JOB_LOG_READ_MAX 10000
#define KF_JOB_MESSAGE_MAX 8192 /* error messages are cut */

struct kf_job_new {
    const char *kind;            /* "build" or "resolve" */
    const json_t *spec;          /* a JSON object */
    const char *idempotency_key; /* NULL or 1..255 printable ASCII */
    const char *requested_by;    /* token name; NULL = anonymous (one requester for keys) */
    const char *cache_key;       /* NULL or <= 512 bytes */
    const char *project;         /* NULL or <= 200 bytes */
    int priority;                /* lower runs first */
    int max_attempts;            /* 0 = KF_JOB_DEFAULT_MAX_ATTEMPTS, else 1..KF_JOB_MAX_ATTEMPTS */
    const void *source;          /* uploaded tarball, NULL or source_len bytes (<= KF_JOB_SOURCE_MAX) */
    size_t source_len;
    /* Result reuse at submit: with done_result set, the job is committed
     * already succeeded (started and finished now, attempts 0) with that
     * result, its "reused_from" set to reused_from, and commit recorded. */
    const json_t *done_result;   /* NULL = queued as usual; else a JSON object */
    const char *commit;          /* NULL or <= 64 bytes */
    int64_t reused_from;         /* the succeeded job the result comes from; 0 = none */
};

/* Commits the job, its source and the wake-up in one statement. With an
 * idempotency key already used by the same requester: *existed = 1 and
 * *id = that job; if its kind, spec or source differ, KF_EINVAL (a
 * conflict: 422). Inserts with a key are retried after a lost connection
 * (the key makes that safe), so *existed may then be 1 for our own job. */
int kf_job_insert(struct kf_db *db, const struct kf_job_new *job, int64_t *id, int *existed,
                  char *err) KF_MUST_CHECK;

/* The newest succeeded job with cache_key: *result (caller decrefs) and
 * *job_id. KF_ENOTFOUND when there is none. */
int kf_job_find_reusable(struct kf_db *db, const char *cache_key, json_t **result, int64_t *job_id,
                         char *err) KF_MUST_CHECK;

/* The API representation (caller decrefs): {"id", "kind", "state", "spec",
 * "result", "error": {"code", "message"} | null (the latest failure, also
 * while queued for a retry), "attempts", "max_attempts", "priority",
 * "project", "cancel_requested", "created_at", "started_at",
 * "finished_at", "commit", "requested_by", "retry_of"}; timestamps
 * RFC 3339 UTC with milliseconds or null. KF_ENOTFOUND. */
int kf_job_get(struct kf_db *db, int64_t id, json_t **job, char *err) KF_MUST_CHECK;

/* Newest first, filtered by kind, state and project (each NULL = any).
 * limit 1..KF_JOB_LIST_MAX; cursor NULL for the first page, else a
 * next_cursor from the previous page (opaque; a bad one is KF_EINVAL).
 * *items: array of job representations (caller decrefs); *next_cursor:
 * NULL on the last page, else caller frees. */
int kf_job_list(struct kf_db *db, const char *kind, const char *state, const char *project, int limit,
                const char *cursor, json_t **items, char **next_cursor, char *err) KF_MUST_CHECK;

/* Queued: canceled at once. Running: cancel_requested is set and the
 * worker is notified; it confirms with kf_job_mark_canceled (or the job
 * ends canceled when it fails or its lease expires). Already finished:
 * KF_EINVAL with *conflict = 1 (409). *job (may be NULL) gets the job's
 * representation after the call, also on a conflict. KF_ENOTFOUND. */
int kf_job_cancel(struct kf_db *db, int64_t id, json_t **job, int *conflict, char *err) KF_MUST_CHECK;

/* A failed or canceled job: a new queued job with the same kind, spec,
 * source, cache key, project, priority and max_attempts, retry_of = id,
 * requested_by = requested_by (NULL: the original's). Any other state:
 * KF_EINVAL with *conflict = 1 (409). KF_ENOTFOUND. */
int kf_job_retry(struct kf_db *db, int64_t id, const char *requested_by, int64_t *new_id, int *conflict,
                 char *err) KF_MUST_CHECK;

/* Job counts {"build": {"queued": n, "running": n, ...}, "resolve": {...}}
 * with every kind and state present (caller decrefs). Counts the whole
 * table: scrape it every few seconds, not per request. */
int kf_job_stats(struct kf_db *db, json_t **counts, char *err) KF_MUST_CHECK;

/* Durations (finished_at - started_at, seconds) of finished jobs of kind
 * that ran (succeeded or failed after at least one attempt), for a
 * histogram: le[i] = how many took <= bounds[i] (n <= 32 increasing
 * bounds), *count and *sum over all of them. Scans the table: call it
 * every few seconds at most (lib/dbstats.c). */
int kf_job_durations(struct kf_db *db, const char *kind, const double *bounds, size_t n, long long *le,
                     long long *count, double *sum, char *err) KF_MUST_CHECK;

/* ---- Worker side (lib/dbqueue.c) ---- */

struct kf_claimed {
    int64_t id;
    char *kind;        /* owned */
    json_t *spec;      /* owned */
    int attempt;       /* 1 for the first run */
    void *source;      /* owned; NULL when the job has no uploaded source */
    size_t source_len;
};

/* Claims up to max (1..KF_JOB_CLAIM_MAX) claimable jobs of kind (NULL =
 * any) in (priority, run_after, id) order, skipping rows other workers
 * hold: each becomes running under owner with a lease of lease_ms
 * (1..86400000), attempts + 1. *out: array of *n jobs (0 when none),
 * free with kf_claimed_free. Not retried after a lost connection (a
 * claim that did commit is recovered by the reaper). */
int kf_job_claim(struct kf_db *db, const char *owner, int lease_ms, const char *kind, int max,
                 struct kf_claimed **out, size_t *n, char *err) KF_MUST_CHECK;
void kf_claimed_free(struct kf_claimed *jobs, size_t n);

/* Extends the lease to now + lease_ms while the job runs under owner.
 * *lost = 1 (and 0 returned) when it does not any more: stop working on
 * it. *cancel_requested = 1 when a cancel is pending: stop, then call
 * kf_job_mark_canceled. */
int kf_job_heartbeat(struct kf_db *db, int64_t id, const char *owner, int lease_ms, int *cancel_requested,
                     int *lost, char *err) KF_MUST_CHECK;

/* Records the resolved commit and, when not NULL, the cache key the worker
 * derived from it (so later builds of that commit can reuse the result). */
int kf_job_set_resolved(struct kf_db *db, int64_t id, const char *owner, const char *commit,
                        const char *cache_key, char *err) KF_MUST_CHECK;

/* Ends the job succeeded with result (a JSON value, <= KF_JOB_RESULT_MAX
 * serialised) and commit (NULL keeps the one recorded). */
int kf_job_succeed(struct kf_db *db, int64_t id, const char *owner, const json_t *result, const char *commit,
                   char *err) KF_MUST_CHECK;

/* Records the failure (code: a short machine word such as "build_failed";
 * message cut to KF_JOB_MESSAGE_MAX). transient and attempts left: back to
 * queued, claimable after a backoff of min(2^attempt s, 5 min) +-25%, and
 * *requeued = 1 (may be NULL). Otherwise failed; canceled instead when a
 * cancel was pending. */
int kf_job_fail(struct kf_db *db, int64_t id, const char *owner, const char *code, const char *message,
                int transient, int *requeued, char *err) KF_MUST_CHECK;

/* The worker stopped the job after a cancel request: canceled. */
int kf_job_mark_canceled(struct kf_db *db, int64_t id, const char *owner, char *err) KF_MUST_CHECK;

/* Hands a running job back (graceful shutdown): queued again at once
 * without spending an attempt (canceled if a cancel was pending). */
int kf_job_release(struct kf_db *db, int64_t id, const char *owner, char *err) KF_MUST_CHECK;

/* Running jobs whose lease expired (their worker died): queued again at
 * once while attempts remain (*requeued), else failed with code
 * "lease_expired" naming the last owner (*failed; canceled instead when a
 * cancel was pending, counted there too). Safe to run from many processes. */
int kf_job_reap(struct kf_db *db, int *requeued, int *failed, char *err) KF_MUST_CHECK;

/* Milliseconds until the next queued job of kind (NULL = any) becomes
 * claimable: 0 if one is claimable now, -1 if none is queued. For sizing a
 * worker's wait when jobs sit in backoff. */
int kf_job_next_due(struct kf_db *db, const char *kind, long long *ms, char *err) KF_MUST_CHECK;

/* ---- Logs (lib/dblogs.c) ---- */

/* Appends n lines (<= KF_JOB_LOG_BATCH_MAX; invalid UTF-8 replaced, long
 * lines cut) to stream ([a-z]{1,16}, e.g. "stdout", "stderr", "system")
 * of job id in order, and notifies KF_JOB_LOG_CHANNEL. KF_ENOTFOUND when
 * the job does not exist. Not retried after a lost connection. */
int kf_job_log_append(struct kf_db *db, int64_t id, const char *stream, const char *const *lines, size_t n,
                      char *err) KF_MUST_CHECK;

/* Up to limit (1..KF_JOB_LOG_READ_MAX) lines with seq > after_seq, in
 * order: *lines = [{"seq", "at", "stream", "line"}] (caller decrefs),
 * *last_seq = the last seq returned (after_seq when none). *finished (may
 * be NULL) = 1 when the job had ended when the lines were read: a follower
 * that gets fewer than limit lines with *finished = 1 has seen them all.
 * KF_ENOTFOUND when the job does not exist. */
int kf_job_log_read(struct kf_db *db, int64_t id, int64_t after_seq, int limit, json_t **lines,
                    int64_t *last_seq, int *finished, char *err) KF_MUST_CHECK;

#endif
