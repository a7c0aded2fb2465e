/* Aggregates over finished jobs for the server's /metrics. */
#include "dbjobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db_internal.h"

#define FINISHED_RUNS                                                                                      \
    "SELECT extract(epoch FROM finished_at - started_at)::float8 AS dur FROM jobs"                         \
    " WHERE kind = $1 AND state IN ('succeeded', 'failed') AND attempts > 0"                               \
    " AND started_at IS NOT NULL AND finished_at IS NOT NULL"

/* One row per bound in order (count <= bound), then one (count, sum). */
static const struct kf_db_stmt durations_stmt = {
    "kf_job_durations",
    "WITH d AS (" FINISHED_RUNS ")"
    " SELECT o, (SELECT count(*) FROM d WHERE dur <= v), 0::float8 FROM unnest($2::float8[]) WITH ORDINALITY b(v, o)"
    " UNION ALL SELECT 0, count(*), coalesce(sum(dur), 0) FROM d ORDER BY 1"};

int kf_job_durations(struct kf_db *db, const char *kind, const double *bounds, size_t n, long long *le,
                     long long *count, double *sum, char *err)
{
    *count = 0;
    *sum = 0;
    if (n == 0 || n > 32)
        return kf_fail(err, KF_EINVAL, "1 to 32 histogram bounds");
    struct kf_buf arr;
    kf_buf_init(&arr, 4096);
    int rc = kf_buf_append_str(&arr, "{");
    for (size_t i = 0; !rc && i < n; i++)
        rc = kf_buf_appendf(&arr, "%s%.17g", i ? "," : "", bounds[i]);
    if (rc || (rc = kf_buf_append_str(&arr, "}"))) {
        kf_buf_free(&arr);
        return kf_fail(err, rc, "histogram bounds");
    }
    struct kf_db_params p = {0};
    kf_db_param_text(&p, kind);
    kf_db_param_text(&p, (const char *)arr.data);
    PGresult *res;
    rc = kf_db_run(db, &durations_stmt, &p, KF_DB_RETRY, "reading job durations", &res, err);
    kf_buf_free(&arr);
    if (rc)
        return rc;
    if ((size_t)PQntuples(res) != n + 1) {
        PQclear(res);
        return kf_fail(err, KF_EINTERNAL, "reading job durations: %d rows", PQntuples(res));
    }
    *count = kf_db_get_i64(res, 0, 1);
    *sum = strtod(PQgetvalue(res, 0, 2), NULL);
    for (size_t i = 0; i < n; i++)
        le[i] = kf_db_get_i64(res, (int)i + 1, 1);
    PQclear(res);
    return KF_OK;
}
