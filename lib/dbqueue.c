/* The worker's side of the job queue: claim with FOR UPDATE SKIP LOCKED,
 * keep the lease with heartbeats, finish, and reap what dead workers left. */
#include "dbjobs.h"

#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

/* Fair across projects (jobs without one count as one project): among
 * each project's first queued jobs (projs/ids: the cost follows the number
 * of projects, not the queue's depth), by priority, then the project with
 * the fewest running jobs, then the one
 * claimed from longest ago (project_claims), then oldest; a project at its
 * max_concurrency is skipped, also within one batch (row_number). The
 * limit is exact for one claimer; concurrent claimers may overshoot it by
 * their batch. project_claims rows are upserted in name order, so two
 * batch claims never wait on each other in a cycle. */
static const struct kf_db_stmt claim_stmt = {
    "kf_job_claim",
    "WITH RECURSIVE projs (p) AS ("
    "  (SELECT coalesce(project, '') FROM jobs WHERE state = 'queued' ORDER BY coalesce(project, '') LIMIT 1)"
    "  UNION ALL"
    "  SELECT (SELECT coalesce(project, '') FROM jobs WHERE state = 'queued' AND coalesce(project, '') > projs.p"
    "          ORDER BY coalesce(project, '') LIMIT 1) FROM projs WHERE projs.p IS NOT NULL"
    "), ids AS ("
    "  SELECT f.id FROM projs, LATERAL (SELECT id FROM jobs WHERE state = 'queued'"
    "   AND coalesce(project, '') = projs.p AND run_after <= now() AND ($3::text IS NULL OR kind = $3)"
    "   ORDER BY priority, run_after, id LIMIT $4 * 2 + 8) f WHERE projs.p IS NOT NULL"
    "), running AS ("
    "  SELECT project, count(*) AS n FROM jobs WHERE state = 'running' GROUP BY project"
    "), cand AS ("
    "  SELECT j.id, j.project, j.priority, j.run_after, coalesce(r.n, 0) AS n, p.max_concurrency AS cap"
    "  FROM jobs j"
    "  LEFT JOIN running r ON r.project IS NOT DISTINCT FROM j.project"
    "  LEFT JOIN projects p ON p.name = j.project"
    "  LEFT JOIN project_claims c ON c.project = coalesce(j.project, '')"
    "  WHERE j.id IN (SELECT id FROM ids) AND j.state = 'queued' AND j.run_after <= now()"
    "   AND (p.max_concurrency IS NULL OR coalesce(r.n, 0) < p.max_concurrency)"
    "  ORDER BY j.priority, coalesce(r.n, 0), c.last_claimed_at NULLS FIRST, j.run_after, j.id LIMIT $4"
    "  FOR UPDATE OF j SKIP LOCKED"
    "), picked AS ("
    "  SELECT id, project FROM (SELECT id, project, n, cap,"
    "   row_number() OVER (PARTITION BY project ORDER BY priority, run_after, id) AS k FROM cand) x"
    "  WHERE cap IS NULL OR n + k <= cap"
    "), mark AS ("
    "  INSERT INTO project_claims (project, last_claimed_at)"
    "  SELECT p, clock_timestamp() FROM (SELECT DISTINCT coalesce(project, '') AS p FROM picked) d ORDER BY p"
    "  ON CONFLICT (project) DO UPDATE SET last_claimed_at = excluded.last_claimed_at"
    ")"
    " UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, lease_owner = $1,"
    "  lease_expires_at = now() + $2::integer * interval '1 millisecond',"
    "  started_at = now(), finished_at = NULL, updated_at = now()"
    " FROM picked WHERE j.id = picked.id"
    " RETURNING j.id, j.kind, j.spec::text, j.attempts,"
    "  (SELECT s.content FROM job_sources s WHERE s.job_id = j.id)"};

static int owner_valid(const char *owner)
{
    return owner && owner[0] && strlen(owner) <= 200;
}

static int lease_valid(int lease_ms)
{
    return lease_ms >= 1 && lease_ms <= 86400000;
}

/* Binary-format integers are big-endian. */
static int64_t be_int(const char *p, int len)
{
    uint64_t v = 0;
    for (int i = 0; i < len; i++)
        v = v << 8 | (unsigned char)p[i];
    if (len == 4)
        return (int32_t)(uint32_t)v;
    return (int64_t)v;
}

static char *copy_bytes(const char *p, size_t n)
{
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, p, n);
        out[n] = 0;
    }
    return out;
}

/* Row to struct; binary results so that sources come as raw bytes. */
static int read_claimed(const PGresult *res, int row, struct kf_claimed *c, char *err)
{
    if (PQgetlength(res, row, 0) != 8 || PQgetlength(res, row, 3) != 4)
        return kf_fail(err, KF_EINTERNAL, "claim: unexpected binary column sizes");
    c->id = be_int(PQgetvalue(res, row, 0), 8);
    c->attempt = (int)be_int(PQgetvalue(res, row, 3), 4);
    c->kind = copy_bytes(PQgetvalue(res, row, 1), (size_t)PQgetlength(res, row, 1));
    if (!c->kind)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    json_error_t jerr;
    c->spec = json_loadb(PQgetvalue(res, row, 2), (size_t)PQgetlength(res, row, 2), 0, &jerr);
    if (!c->spec)
        return kf_fail(err, KF_EINTERNAL, "claim: bad spec JSON: %s", jerr.text);
    if (!PQgetisnull(res, row, 4)) {
        c->source_len = (size_t)PQgetlength(res, row, 4);
        c->source = copy_bytes(PQgetvalue(res, row, 4), c->source_len);
        if (!c->source)
            return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    return KF_OK;
}

int kf_job_claim(struct kf_db *db, const char *owner, int lease_ms, const char *kind, int max,
                 struct kf_claimed **out, size_t *n, char *err)
{
    *out = NULL;
    *n = 0;
    if (!owner_valid(owner))
        return kf_fail(err, KF_EINVAL, "bad lease owner");
    if (!lease_valid(lease_ms))
        return kf_fail(err, KF_EINVAL, "lease must be 1 ms to 24 h");
    if (max < 1 || max > KF_JOB_CLAIM_MAX)
        return kf_fail(err, KF_EINVAL, "claim 1 to %d jobs at a time", KF_JOB_CLAIM_MAX);
    struct kf_db_params p = {0};
    kf_db_param_text(&p, owner);
    kf_db_param_int(&p, lease_ms);
    kf_db_param_text(&p, kind);
    kf_db_param_int(&p, max);
    PGresult *res;
    int rc = kf_db_run(db, &claim_stmt, &p, KF_DB_BINARY, "claiming jobs", &res, err);
    if (rc)
        return rc;
    int rows = PQntuples(res);
    struct kf_claimed *jobs = rows ? calloc((size_t)rows, sizeof *jobs) : NULL;
    if (rows && !jobs) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    for (int row = 0; row < rows; row++) {
        rc = read_claimed(res, row, &jobs[row], err);
        if (rc) {
            /* They stay running under us; the reaper returns them when
             * the lease expires. */
            kf_claimed_free(jobs, (size_t)rows);
            goto out;
        }
    }
    *out = jobs;
    *n = (size_t)rows;
out:
    PQclear(res);
    return rc;
}

void kf_claimed_free(struct kf_claimed *jobs, size_t n)
{
    if (!jobs)
        return;
    for (size_t i = 0; i < n; i++) {
        free(jobs[i].kind);
        json_decref(jobs[i].spec);
        free(jobs[i].source);
    }
    free(jobs);
}

static const struct kf_db_stmt heartbeat_stmt = {
    "kf_job_heartbeat",
    "UPDATE jobs SET lease_expires_at = now() + $3::integer * interval '1 millisecond', updated_at = now()"
    " WHERE id = $1 AND lease_owner = $2 AND state = 'running' RETURNING cancel_requested"};

int kf_job_heartbeat(struct kf_db *db, int64_t id, const char *owner, int lease_ms, int *cancel_requested,
                     int *lost, char *err)
{
    *cancel_requested = 0;
    *lost = 0;
    if (!owner_valid(owner) || !lease_valid(lease_ms))
        return kf_fail(err, KF_EINVAL, "bad lease owner or length");
    struct kf_db_params p = {0};
    kf_db_param_int(&p, id);
    kf_db_param_text(&p, owner);
    kf_db_param_int(&p, lease_ms);
    PGresult *res;
    /* Extending a lease twice is harmless: safe to resend. */
    int rc = kf_db_run(db, &heartbeat_stmt, &p, KF_DB_RETRY, "renewing a lease", &res, err);
    if (rc)
        return rc;
    if (PQntuples(res) == 0)
        *lost = 1;
    else
        *cancel_requested = kf_db_get_bool(res, 0, 0);
    PQclear(res);
    return KF_OK;
}

/* Runs a worker-side update of (id, owner, ...) that returns a row while
 * the job is still ours. */
static int run_owned(struct kf_db *db, const struct kf_db_stmt *st, const struct kf_db_params *p, int flags,
                     const char *what, PGresult **res, char *err)
{
    int rc = kf_db_run(db, st, p, flags, what, res, err);
    if (rc)
        return rc;
    if (PQntuples(*res) == 0) {
        PQclear(*res);
        *res = NULL;
        return kf_fail(err, KF_ENOTFOUND, "%s: job %s is not running under %s (lease lost)", what, p->values[0],
                       p->values[1]);
    }
    return KF_OK;
}

static const struct kf_db_stmt resolved_stmt = {
    "kf_job_set_resolved",
    "UPDATE jobs SET commit = $3, cache_key = coalesce($4, cache_key), updated_at = now()"
    " WHERE id = $1 AND lease_owner = $2 AND state = 'running' RETURNING id"};

int kf_job_set_resolved(struct kf_db *db, int64_t id, const char *owner, const char *commit,
                        const char *cache_key, char *err)
{
    if (!owner_valid(owner) || !commit || strlen(commit) > 200 || (cache_key && strlen(cache_key) > 512))
        return kf_fail(err, KF_EINVAL, "bad owner, commit or cache key");
    struct kf_db_params p = {0};
    kf_db_param_int(&p, id);
    kf_db_param_text(&p, owner);
    kf_db_param_text(&p, commit);
    kf_db_param_text(&p, cache_key);
    PGresult *res;
    int rc = run_owned(db, &resolved_stmt, &p, KF_DB_RETRY, "recording the commit", &res, err);
    PQclear(res);
    return rc;
}

static const struct kf_db_stmt succeed_stmt = {
    "kf_job_succeed",
    "UPDATE jobs SET state = 'succeeded', result = $3::jsonb, commit = coalesce($4, commit),"
    "  error_code = NULL, error_message = NULL, lease_expires_at = NULL, finished_at = now(), updated_at = now()"
    " WHERE id = $1 AND lease_owner = $2 AND state = 'running' RETURNING id"};

int kf_db_success_text(const char *owner, const json_t *result, const char *commit, char **text, char *err)
{
    *text = NULL;
    if (!owner_valid(owner) || !result || (commit && strlen(commit) > 200))
        return kf_fail(err, KF_EINVAL, "bad owner, result or commit");
    if (!(*text = json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY)))
        return kf_fail(err, KF_ENOMEM, "out of memory");
    if (strlen(*text) > KF_JOB_RESULT_MAX) {
        free(*text);
        *text = NULL;
        return kf_fail(err, KF_ETOOBIG, "job result larger than %zu MiB", KF_JOB_RESULT_MAX >> 20);
    }
    return KF_OK;
}

int kf_job_succeed(struct kf_db *db, int64_t id, const char *owner, const json_t *result, const char *commit,
                   char *err)
{
    char *text = NULL;
    int rc = kf_db_success_text(owner, result, commit, &text, err);
    if (rc)
        return rc;
    struct kf_db_params p = {0};
    kf_db_param_int(&p, id);
    kf_db_param_text(&p, owner);
    kf_db_param_text(&p, text);
    kf_db_param_text(&p, commit);
    PGresult *res;
    rc = run_owned(db, &succeed_stmt, &p, 0, "recording success", &res, err);
    PQclear(res);
    free(text);
    return rc;
}

/* Backoff min(2^attempt s, 5 min) with +-25% jitter, from the attempt that
 * just failed; a pending cancel wins over a retry. */
static const struct kf_db_stmt fail_stmt = {
    "kf_job_fail",
    "UPDATE jobs SET"
    "  state = CASE WHEN cancel_requested THEN 'canceled'"
    "   WHEN $5::boolean AND attempts < max_attempts THEN 'queued' ELSE 'failed' END,"
    "  run_after = CASE WHEN NOT cancel_requested AND $5::boolean AND attempts < max_attempts"
    "   THEN now() + least(power(2, attempts), 300) * (0.75 + random() * 0.5) * interval '1 second'"
    "   ELSE run_after END,"
    "  finished_at = CASE WHEN NOT cancel_requested AND $5::boolean AND attempts < max_attempts"
    "   THEN NULL ELSE now() END,"
    "  error_code = $3, error_message = $4, lease_expires_at = NULL, updated_at = now()"
    " WHERE id = $1 AND lease_owner = $2 AND state = 'running' RETURNING state"};

int kf_job_fail(struct kf_db *db, int64_t id, const char *owner, const char *code, const char *message,
                int transient, int *requeued, char *err)
{
    if (requeued)
        *requeued = 0;
    if (!owner_valid(owner) || !code || !code[0] || strlen(code) > 64)
        return kf_fail(err, KF_EINVAL, "bad owner or error code");
    char *clean_code = kf_db_utf8_clean(code, 64);
    char *clean_message = kf_db_utf8_clean(message ? message : "", KF_JOB_MESSAGE_MAX);
    int rc;
    if (!clean_code || !clean_message) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    struct kf_db_params p = {0};
    kf_db_param_int(&p, id);
    kf_db_param_text(&p, owner);
    kf_db_param_text(&p, clean_code);
    kf_db_param_text(&p, clean_message);
    kf_db_param_text(&p, transient ? "true" : "false");
    PGresult *res;
    rc = run_owned(db, &fail_stmt, &p, 0, "recording failure", &res, err);
    if (rc == KF_OK && requeued)
        *requeued = strcmp(PQgetvalue(res, 0, 0), "queued") == 0;
    PQclear(res);
out:
    free(clean_code);
    free(clean_message);
    return rc;
}

static const struct kf_db_stmt canceled_stmt = {
    "kf_job_mark_canceled",
    "UPDATE jobs SET state = 'canceled', lease_expires_at = NULL, finished_at = now(), updated_at = now()"
    " WHERE id = $1 AND lease_owner = $2 AND state = 'running' RETURNING id"};

static const struct kf_db_stmt release_stmt = {
    "kf_job_release",
    "UPDATE jobs SET state = CASE WHEN cancel_requested THEN 'canceled' ELSE 'queued' END,"
    "  attempts = greatest(attempts - 1, 0), run_after = now(), lease_expires_at = NULL,"
    "  finished_at = CASE WHEN cancel_requested THEN now() END, updated_at = now()"
    " WHERE id = $1 AND lease_owner = $2 AND state = 'running' RETURNING id"};

static int owned_simple(struct kf_db *db, const struct kf_db_stmt *st, int64_t id, const char *owner,
                        const char *what, char *err)
{
    if (!owner_valid(owner))
        return kf_fail(err, KF_EINVAL, "bad lease owner");
    struct kf_db_params p = {0};
    kf_db_param_int(&p, id);
    kf_db_param_text(&p, owner);
    PGresult *res;
    int rc = run_owned(db, st, &p, 0, what, &res, err);
    PQclear(res);
    return rc;
}

int kf_job_mark_canceled(struct kf_db *db, int64_t id, const char *owner, char *err)
{
    return owned_simple(db, &canceled_stmt, id, owner, "recording the cancel", err);
}

int kf_job_release(struct kf_db *db, int64_t id, const char *owner, char *err)
{
    return owned_simple(db, &release_stmt, id, owner, "handing the job back", err);
}

static const struct kf_db_stmt reap_stmt = {
    "kf_job_reap",
    "WITH dead AS ("
    "  SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < now() FOR UPDATE SKIP LOCKED"
    "), upd AS ("
    "  UPDATE jobs j SET"
    "   state = CASE WHEN j.cancel_requested THEN 'canceled'"
    "    WHEN j.attempts < j.max_attempts THEN 'queued' ELSE 'failed' END,"
    "   run_after = now(),"
    "   finished_at = CASE WHEN NOT j.cancel_requested AND j.attempts < j.max_attempts THEN NULL ELSE now() END,"
    "   error_code = 'lease_expired',"
    "   error_message = format('the lease of %s expired during attempt %s of %s', j.lease_owner, j.attempts,"
    "    j.max_attempts),"
    "   lease_expires_at = NULL, updated_at = now()"
    "  FROM dead WHERE j.id = dead.id RETURNING j.state"
    ")"
    " SELECT count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state <> 'queued') FROM upd"};

int kf_job_reap(struct kf_db *db, int *requeued, int *failed, char *err)
{
    *requeued = 0;
    *failed = 0;
    PGresult *res;
    /* Reaping twice finds nothing the second time: safe to resend. */
    int rc = kf_db_run(db, &reap_stmt, NULL, KF_DB_RETRY, "reaping expired leases", &res, err);
    if (rc)
        return rc;
    *requeued = (int)kf_db_get_i64(res, 0, 0);
    *failed = (int)kf_db_get_i64(res, 0, 1);
    PQclear(res);
    return KF_OK;
}

static const struct kf_db_stmt next_due_stmt = {
    "kf_job_next_due",
    "SELECT ceil(extract(epoch FROM min(run_after) - now()) * 1000)::bigint FROM jobs"
    " WHERE state = 'queued' AND ($1::text IS NULL OR kind = $1)"};

int kf_job_next_due(struct kf_db *db, const char *kind, long long *ms, char *err)
{
    *ms = -1;
    struct kf_db_params p = {0};
    kf_db_param_text(&p, kind);
    PGresult *res;
    int rc = kf_db_run(db, &next_due_stmt, &p, KF_DB_RETRY, "looking for due jobs", &res, err);
    if (rc)
        return rc;
    if (!PQgetisnull(res, 0, 0)) {
        long long left = kf_db_get_i64(res, 0, 0);
        *ms = left > 0 ? left : 0;
    }
    PQclear(res);
    return KF_OK;
}
