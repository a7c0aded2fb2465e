/* Job log lines: appended in batches by workers, read in order (and
 * followed through KF_JOB_LOG_CHANNEL) by the server. */
#include "dbjobs.h"

#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

/* The notification goes out with the lines, when they commit. */
static const struct kf_db_stmt append_stmt = {
    "kf_job_log_append",
    "WITH ins AS ("
    "  INSERT INTO job_logs (job_id, stream, line)"
    "  SELECT $1::bigint, $2, t.line FROM unnest($3::text[]) WITH ORDINALITY AS t(line, n) ORDER BY t.n"
    "  RETURNING seq"
    ")"
    " SELECT max(seq), pg_notify('" KF_JOB_LOG_CHANNEL "', $1::bigint::text) FROM ins"};

static int stream_valid(const char *stream)
{
    size_t n = stream ? strlen(stream) : 0;
    return n >= 1 && n <= 16 && strspn(stream, "abcdefghijklmnopqrstuvwxyz") == n;
}

int kf_job_log_append(struct kf_db *db, int64_t id, const char *stream, const char *const *lines, size_t n,
                      char *err)
{
    if (!stream_valid(stream))
        return kf_fail(err, KF_EINVAL, "log stream must be 1 to 16 lowercase letters");
    if (n > KF_JOB_LOG_BATCH_MAX)
        return kf_fail(err, KF_EINVAL, "at most %d log lines at a time", KF_JOB_LOG_BATCH_MAX);
    if (n == 0)
        return KF_OK;
    int rc = KF_ENOMEM;
    char *array = NULL;
    char **clean = calloc(n, sizeof *clean);
    if (!clean)
        goto nomem;
    for (size_t i = 0; i < n; i++)
        if (!(clean[i] = kf_db_utf8_clean(lines[i] ? lines[i] : "", KF_JOB_LOG_LINE_MAX)))
            goto nomem;
    if (!(array = kf_db_text_array((const char *const *)clean, n)))
        goto nomem;
    struct kf_db_params p = {0};
    kf_db_param_int(&p, id);
    kf_db_param_text(&p, stream);
    kf_db_param_text(&p, array);
    PGresult *res;
    rc = kf_db_run(db, &append_stmt, &p, 0, "appending log lines", &res, err);
    PQclear(res);
    if (rc == KF_ENOTFOUND)
        rc = kf_fail(err, KF_ENOTFOUND, "no job %lld", (long long)id);
    goto out;
nomem:
    rc = kf_fail(err, KF_ENOMEM, "out of memory");
out:
    for (size_t i = 0; clean && i < n; i++)
        free(clean[i]);
    free(clean);
    free(array);
    return rc;
}

/* One row per line, or one row of NULLs when there is none; no row when
 * the job does not exist. */
static const struct kf_db_stmt read_stmt = {
    "kf_job_log_read",
    "SELECT j.state IN ('succeeded', 'failed', 'canceled'), l.seq, " KF_DB_TS("l.at") ", l.stream, l.line"
    " FROM jobs j LEFT JOIN LATERAL ("
    "  SELECT seq, at, stream, line FROM job_logs WHERE job_id = j.id AND seq > $2 ORDER BY seq LIMIT $3"
    " ) l ON true"
    " WHERE j.id = $1 ORDER BY l.seq"};

static json_t *line_json(const PGresult *res, int row)
{
    return json_pack("{s:I, s:s, s:s, s:s}", "seq", (json_int_t)kf_db_get_i64(res, row, 1), "at",
                     PQgetvalue(res, row, 2), "stream", PQgetvalue(res, row, 3), "line", PQgetvalue(res, row, 4));
}

int kf_job_log_read(struct kf_db *db, int64_t id, int64_t after_seq, int limit, json_t **lines,
                    int64_t *last_seq, int *finished, char *err)
{
    *lines = NULL;
    *last_seq = after_seq;
    if (finished)
        *finished = 0;
    if (limit < 1 || limit > KF_JOB_LOG_READ_MAX)
        return kf_fail(err, KF_EINVAL, "limit must be 1 to %d", KF_JOB_LOG_READ_MAX);
    if (after_seq < 0)
        return kf_fail(err, KF_EINVAL, "bad log position");
    struct kf_db_params p = {0};
    kf_db_param_int(&p, id);
    kf_db_param_int(&p, after_seq);
    kf_db_param_int(&p, limit);
    PGresult *res;
    int rc = kf_db_run(db, &read_stmt, &p, KF_DB_RETRY, "reading log lines", &res, err);
    if (rc)
        return rc;
    int rows = PQntuples(res);
    json_t *array = NULL;
    if (rows == 0) {
        rc = kf_fail(err, KF_ENOTFOUND, "no job %lld", (long long)id);
        goto out;
    }
    if (!(array = json_array()))
        goto nomem;
    for (int row = 0; row < rows; row++) {
        if (PQgetisnull(res, row, 1))
            continue; /* the job has no lines past after_seq */
        json_t *line = line_json(res, row);
        if (!line || json_array_append_new(array, line))
            goto nomem;
        *last_seq = kf_db_get_i64(res, row, 1);
    }
    if (finished)
        *finished = kf_db_get_bool(res, 0, 0);
    *lines = array;
    array = NULL;
    goto out;
nomem:
    rc = kf_fail(err, KF_ENOMEM, "out of memory");
out:
    json_decref(array);
    PQclear(res);
    return rc;
}
