/* The server's side of the job queue: submit (with idempotency keys and
 * uploaded sources), read, list, cancel, retry, count. */
#include "dbjobs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "digest.h"

/* The API representation of the row aliased j. */
#define JOB_JSON                                                                                           \
    "json_build_object('id', j.id, 'kind', j.kind, 'state', j.state, 'spec', " KF_DB_SPEC_SHOWN("j.spec") ","  \
    " 'result', j.result,"                                                                                 \
    " 'error', CASE WHEN j.error_code IS NULL THEN NULL"                                                   \
    "  ELSE json_build_object('code', j.error_code, 'message', j.error_message) END,"                      \
    " 'attempts', j.attempts, 'max_attempts', j.max_attempts, 'priority', j.priority,"                     \
    " 'project', j.project, 'cancel_requested', j.cancel_requested,"                                       \
    " 'created_at', " KF_DB_TS("j.created_at") ", 'started_at', " KF_DB_TS("j.started_at") ","              \
    " 'finished_at', " KF_DB_TS("j.finished_at") ", 'commit', j.commit,"                                   \
    " 'requested_by', j.requested_by, 'retry_of', j.retry_of)"

/* One round trip: find the job an idempotency key already names, or insert
 * the job and its source (the trigger sends the wake-up). No row back means
 * a concurrent insert with the same key won the race: run it again. */
static const struct kf_db_stmt insert_stmt = {
    "kf_job_insert",
    "WITH prev AS ("
    "  SELECT j.id, j.kind, j.spec, s.digest FROM jobs j LEFT JOIN job_sources s ON s.job_id = j.id"
    "  WHERE $3::text IS NOT NULL AND j.idempotency_key = $3 AND coalesce(j.requested_by, '') = coalesce($4, '')"
    "), ins AS ("
    "  INSERT INTO jobs (kind, spec, idempotency_key, requested_by, cache_key, project, priority, max_attempts,"
    "   state, result, commit, started_at, finished_at)"
    "  SELECT $1, $2::jsonb, $3, $4, $5, $6, $7, $8,"
    "   CASE WHEN $11::jsonb IS NULL THEN 'queued' ELSE 'succeeded' END, $11::jsonb, $12,"
    "   CASE WHEN $11::jsonb IS NULL THEN NULL ELSE now() END, CASE WHEN $11::jsonb IS NULL THEN NULL ELSE now() END"
    "  WHERE NOT EXISTS (SELECT 1 FROM prev)"
    "  ON CONFLICT ((coalesce(requested_by, '')), idempotency_key) WHERE idempotency_key IS NOT NULL"
    "  DO NOTHING RETURNING id"
    "), src AS ("
    "  INSERT INTO job_sources (job_id, digest, content) SELECT id, $10, $9 FROM ins WHERE $9::bytea IS NOT NULL"
    ")"
    " SELECT id, false, false FROM ins"
    " UNION ALL"
    " SELECT id, true, (kind <> $1 OR spec <> $2::jsonb OR digest IS DISTINCT FROM $10) FROM prev"};

static int kind_valid(const char *kind)
{
    return kind && (strcmp(kind, "build") == 0 || strcmp(kind, "resolve") == 0);
}

static int state_valid(const char *state)
{
    static const char *const states[] = {"queued", "running", "succeeded", "failed", "canceled"};
    for (size_t i = 0; state && i < sizeof states / sizeof *states; i++)
        if (strcmp(state, states[i]) == 0)
            return 1;
    return 0;
}

static int key_valid(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (key[i] < 0x20 || key[i] > 0x7e)
            return 0;
    return 1;
}

static int check_new(const struct kf_job_new *j, char *err)
{
    if (!kind_valid(j->kind))
        return kf_fail(err, KF_EINVAL, "job kind must be build or resolve");
    if (!j->spec || !json_is_object(j->spec))
        return kf_fail(err, KF_EINVAL, "job spec must be a JSON object");
    if (j->idempotency_key && !key_valid(j->idempotency_key))
        return kf_fail(err, KF_EINVAL, "idempotency key must be 1 to 255 printable ASCII characters");
    if (j->requested_by && strlen(j->requested_by) > 128)
        return kf_fail(err, KF_EINVAL, "requester name too long");
    if (j->cache_key && strlen(j->cache_key) > 512)
        return kf_fail(err, KF_EINVAL, "cache key too long");
    if (j->project && strlen(j->project) > 200)
        return kf_fail(err, KF_EINVAL, "project name too long");
    if (j->max_attempts < 0 || j->max_attempts > KF_JOB_MAX_ATTEMPTS)
        return kf_fail(err, KF_EINVAL, "max_attempts must be 1 to %d", KF_JOB_MAX_ATTEMPTS);
    if (j->source_len > 0 && !j->source)
        return kf_fail(err, KF_EINVAL, "source length without source");
    if (j->done_result && !json_is_object(j->done_result))
        return kf_fail(err, KF_EINVAL, "a reused result must be a JSON object");
    if (j->commit && strlen(j->commit) > 64)
        return kf_fail(err, KF_EINVAL, "commit too long");
    if (j->source_len > KF_JOB_SOURCE_MAX)
        return kf_fail(err, KF_ETOOBIG, "uploaded source larger than %zu MiB", KF_JOB_SOURCE_MAX >> 20);
    return KF_OK;
}

int kf_job_insert(struct kf_db *db, const struct kf_job_new *j, int64_t *id, int *existed, char *err)
{
    *id = 0;
    *existed = 0;
    int rc = check_new(j, err);
    if (rc)
        return rc;
    char *spec = json_dumps(j->spec, JSON_COMPACT);
    if (!spec)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    if (strlen(spec) > KF_JOB_SPEC_MAX) {
        free(spec);
        return kf_fail(err, KF_ETOOBIG, "job spec larger than %zu KiB", KF_JOB_SPEC_MAX >> 10);
    }
    char *result = NULL;
    if (j->done_result) {
        json_t *copy = json_deep_copy(j->done_result);
        if (copy && j->reused_from > 0 && json_object_set_new(copy, "reused_from", json_integer(j->reused_from)))
            json_decref(copy), copy = NULL;
        result = copy ? json_dumps(copy, JSON_COMPACT) : NULL;
        json_decref(copy);
        if (!result) {
            free(spec);
            return kf_fail(err, KF_ENOMEM, "out of memory");
        }
        if (strlen(result) > KF_JOB_RESULT_MAX) {
            free(spec);
            free(result);
            return kf_fail(err, KF_ETOOBIG, "job result larger than %zu KiB", KF_JOB_RESULT_MAX >> 10);
        }
    }
    char digest[KF_DIGEST_LEN];
    int has_source = j->source_len > 0;
    if (has_source)
        kf_sha256_digest(j->source, j->source_len, digest);
    struct kf_db_params p = {0};
    kf_db_param_text(&p, j->kind);
    kf_db_param_text(&p, spec);
    kf_db_param_text(&p, j->idempotency_key);
    kf_db_param_text(&p, j->requested_by);
    kf_db_param_text(&p, j->cache_key);
    kf_db_param_text(&p, j->project);
    kf_db_param_int(&p, j->priority);
    kf_db_param_int(&p, j->max_attempts ? j->max_attempts : KF_JOB_DEFAULT_MAX_ATTEMPTS);
    kf_db_param_bytea(&p, has_source ? j->source : NULL, j->source_len);
    kf_db_param_text(&p, has_source ? digest : NULL);
    kf_db_param_text(&p, result);
    kf_db_param_text(&p, j->done_result ? j->commit : NULL);
    int flags = j->idempotency_key ? KF_DB_RETRY : 0;
    PGresult *res = NULL;
    for (int round = 0; round < 3; round++) {
        rc = kf_db_run(db, &insert_stmt, &p, flags, "inserting a job", &res, err);
        if (rc || PQntuples(res) > 0)
            break;
        PQclear(res);
        res = NULL;
    }
    if (rc)
        goto out;
    if (!res) {
        rc = kf_fail(err, KF_ENET, "inserting a job: the idempotency key stayed contended");
        goto out;
    }
    *id = kf_db_get_i64(res, 0, 0);
    *existed = kf_db_get_bool(res, 0, 1);
    if (kf_db_get_bool(res, 0, 2))
        rc = kf_fail(err, KF_EINVAL, "idempotency key already used by job %lld for a different request",
                     (long long)*id);
out:
    PQclear(res);
    free(spec);
    free(result);
    return rc;
}

static const struct kf_db_stmt reusable_stmt = {
    "kf_job_reusable",
    "SELECT j.id, j.result::text FROM jobs j"
    " WHERE j.cache_key = $1 AND j.state = 'succeeded' AND j.cache_key IS NOT NULL"
    " ORDER BY j.id DESC LIMIT 1"};

int kf_job_find_reusable(struct kf_db *db, const char *cache_key, json_t **result, int64_t *job_id, char *err)
{
    *result = NULL;
    *job_id = 0;
    if (!cache_key || strlen(cache_key) > 512)
        return kf_fail(err, KF_EINVAL, "bad cache key");
    struct kf_db_params p = {0};
    kf_db_param_text(&p, cache_key);
    PGresult *res;
    int rc = kf_db_run(db, &reusable_stmt, &p, KF_DB_RETRY, "looking up a reusable result", &res, err);
    if (rc)
        return rc;
    if (PQntuples(res) == 0)
        rc = kf_fail(err, KF_ENOTFOUND, "no succeeded job with this cache key");
    else if ((rc = kf_db_get_json(res, 0, 1, result, err)) == KF_OK)
        *job_id = kf_db_get_i64(res, 0, 0);
    PQclear(res);
    return rc;
}

static const struct kf_db_stmt get_stmt = {"kf_job_get", "SELECT " JOB_JSON " FROM jobs j WHERE j.id = $1"};

int kf_job_get(struct kf_db *db, int64_t id, json_t **job, char *err)
{
    *job = NULL;
    struct kf_db_params p = {0};
    kf_db_param_int(&p, id);
    PGresult *res;
    int rc = kf_db_run(db, &get_stmt, &p, KF_DB_RETRY, "reading a job", &res, err);
    if (rc)
        return rc;
    if (PQntuples(res) == 0)
        rc = kf_fail(err, KF_ENOTFOUND, "no job %lld", (long long)id);
    else
        rc = kf_db_get_json(res, 0, 0, job, err);
    PQclear(res);
    return rc;
}

/* Planned per call (KF_DB_ONESHOT): with the actual values the unused
 * filters fold away and a state filter uses the (state, id) index; a
 * prepared generic plan would scan the primary key instead. */
static const struct kf_db_stmt list_stmt = {
    "kf_job_list",
    "SELECT " JOB_JSON ", j.id FROM jobs j"
    " WHERE ($1::text IS NULL OR j.kind = $1) AND ($2::text IS NULL OR j.state = $2)"
    " AND ($3::text IS NULL OR j.project = $3) AND ($4::bigint IS NULL OR j.id < $4)"
    " ORDER BY j.id DESC LIMIT $5"};

/* A cursor is the id the next page starts below, in decimal. */
static int parse_cursor(const char *cursor, long long *below)
{
    size_t n = strlen(cursor);
    if (n == 0 || n > 19 || strspn(cursor, "0123456789") != n)
        return 0;
    errno = 0;
    *below = strtoll(cursor, NULL, 10);
    return errno == 0 && *below > 0;
}

int kf_job_list(struct kf_db *db, const char *kind, const char *state, const char *project, int limit,
                const char *cursor, json_t **items, char **next_cursor, char *err)
{
    *items = NULL;
    *next_cursor = NULL;
    if (kind && !kind_valid(kind))
        return kf_fail(err, KF_EINVAL, "kind must be build or resolve");
    if (state && !state_valid(state))
        return kf_fail(err, KF_EINVAL, "state must be queued, running, succeeded, failed or canceled");
    if (project && strlen(project) > 200)
        return kf_fail(err, KF_EINVAL, "project name too long");
    if (limit < 1 || limit > KF_JOB_LIST_MAX)
        return kf_fail(err, KF_EINVAL, "limit must be 1 to %d", KF_JOB_LIST_MAX);
    long long below = 0;
    if (cursor && !parse_cursor(cursor, &below))
        return kf_fail(err, KF_EINVAL, "bad cursor");
    struct kf_db_params p = {0};
    kf_db_param_text(&p, kind);
    kf_db_param_text(&p, state);
    kf_db_param_text(&p, project);
    if (cursor)
        kf_db_param_int(&p, below);
    else
        kf_db_param_text(&p, NULL);
    kf_db_param_int(&p, limit + 1); /* one more tells whether a next page exists */
    PGresult *res;
    int rc = kf_db_run(db, &list_stmt, &p, KF_DB_RETRY | KF_DB_ONESHOT, "listing jobs", &res, err);
    if (rc)
        return rc;
    json_t *array = json_array();
    if (!array) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    int rows = PQntuples(res);
    for (int row = 0; row < rows && row < limit; row++) {
        json_t *job;
        rc = kf_db_get_json(res, row, 0, &job, err);
        if (rc)
            goto out;
        if (json_array_append_new(array, job)) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (rows > limit && !(*next_cursor = strdup(PQgetvalue(res, limit - 1, 1)))) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    *items = array;
    array = NULL;
out:
    json_decref(array);
    PQclear(res);
    return rc;
}

/* The second branch reports a job the update did not touch (finished, or
 * absent: no row at all). */
static const struct kf_db_stmt cancel_stmt = {
    "kf_job_cancel",
    "WITH upd AS ("
    "  UPDATE jobs SET state = CASE WHEN state = 'queued' THEN 'canceled' ELSE state END,"
    "   cancel_requested = true,"
    "   finished_at = CASE WHEN state = 'queued' THEN now() ELSE finished_at END,"
    "   lease_expires_at = CASE WHEN state = 'queued' THEN NULL ELSE lease_expires_at END,"
    "   updated_at = now()"
    "  WHERE id = $1 AND state IN ('queued', 'running') RETURNING *"
    ")"
    " SELECT true, " JOB_JSON " FROM upd j"
    " UNION ALL"
    " SELECT false, " JOB_JSON " FROM jobs j WHERE j.id = $1 AND NOT EXISTS (SELECT 1 FROM upd)"};

int kf_job_cancel(struct kf_db *db, int64_t id, json_t **job, int *conflict, char *err)
{
    if (job)
        *job = NULL;
    *conflict = 0;
    struct kf_db_params p = {0};
    kf_db_param_int(&p, id);
    PGresult *res;
    /* Not resent after a lost connection: a second try would report a
     * cancel that did commit as a conflict. */
    int rc = kf_db_run(db, &cancel_stmt, &p, 0, "canceling a job", &res, err);
    if (rc)
        return rc;
    if (PQntuples(res) == 0) {
        rc = kf_fail(err, KF_ENOTFOUND, "no job %lld", (long long)id);
        goto out;
    }
    if (job && (rc = kf_db_get_json(res, 0, 1, job, err)))
        goto out;
    if (!kf_db_get_bool(res, 0, 0)) {
        *conflict = 1;
        rc = kf_fail(err, KF_EINVAL, "job %lld has already finished", (long long)id);
    }
out:
    PQclear(res);
    return rc;
}

/* Always one row: the new id (NULL if none was made) and the old state
 * (NULL if there is no such job). */
static const struct kf_db_stmt retry_stmt = {
    "kf_job_retry",
    "WITH old AS ("
    "  SELECT * FROM jobs WHERE id = $1 AND state IN ('failed', 'canceled')"
    "), ins AS ("
    "  INSERT INTO jobs (kind, spec, requested_by, cache_key, project, priority, max_attempts, retry_of)"
    "  SELECT kind, spec, coalesce($2, requested_by), cache_key, project, priority, max_attempts, id FROM old"
    "  RETURNING id"
    "), src AS ("
    "  INSERT INTO job_sources (job_id, digest, content)"
    "  SELECT ins.id, s.digest, s.content FROM ins, job_sources s WHERE s.job_id = $1"
    ")"
    " SELECT (SELECT id FROM ins), (SELECT state FROM jobs WHERE id = $1)"};

int kf_job_retry(struct kf_db *db, int64_t id, const char *requested_by, int64_t *new_id, int *conflict,
                 char *err)
{
    *new_id = 0;
    *conflict = 0;
    if (requested_by && strlen(requested_by) > 128)
        return kf_fail(err, KF_EINVAL, "requester name too long");
    struct kf_db_params p = {0};
    kf_db_param_int(&p, id);
    kf_db_param_text(&p, requested_by);
    PGresult *res;
    int rc = kf_db_run(db, &retry_stmt, &p, 0, "retrying a job", &res, err);
    if (rc)
        return rc;
    if (PQgetisnull(res, 0, 1)) {
        rc = kf_fail(err, KF_ENOTFOUND, "no job %lld", (long long)id);
    } else if (PQgetisnull(res, 0, 0)) {
        *conflict = 1;
        rc = kf_fail(err, KF_EINVAL, "job %lld is %s: only failed or canceled jobs can be retried", (long long)id,
                     PQgetvalue(res, 0, 1));
    } else {
        *new_id = kf_db_get_i64(res, 0, 0);
    }
    PQclear(res);
    return rc;
}

static const struct kf_db_stmt stats_stmt = {
    "kf_job_stats", "SELECT kind, state, count(*) FROM jobs GROUP BY kind, state"};

int kf_job_stats(struct kf_db *db, json_t **counts, char *err)
{
    static const char *const kinds[] = {"build", "resolve"};
    static const char *const states[] = {"queued", "running", "succeeded", "failed", "canceled"};
    *counts = NULL;
    PGresult *res;
    int rc = kf_db_run(db, &stats_stmt, NULL, KF_DB_RETRY, "counting jobs", &res, err);
    if (rc)
        return rc;
    json_t *all = json_object();
    rc = kf_fail(err, KF_ENOMEM, "out of memory");
    if (!all)
        goto out;
    for (size_t k = 0; k < 2; k++) {
        json_t *by_state = json_object();
        if (!by_state || json_object_set_new(all, kinds[k], by_state))
            goto out;
        for (size_t s = 0; s < 5; s++)
            if (json_object_set_new(by_state, states[s], json_integer(0)))
                goto out;
    }
    for (int row = 0; row < PQntuples(res); row++) {
        json_t *by_state = json_object_get(all, PQgetvalue(res, row, 0));
        if (by_state && json_object_set_new(by_state, PQgetvalue(res, row, 1),
                                            json_integer(kf_db_get_i64(res, row, 2))))
            goto out;
    }
    *counts = all;
    all = NULL;
    rc = KF_OK;
out:
    json_decref(all);
    PQclear(res);
    return rc;
}
