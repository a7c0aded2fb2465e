/* Job artifacts in PostgreSQL (dbartifacts.h). */
#include "dbartifacts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "digest.h"
#include "dbjobs.h"

size_t kf_artifact_max(void)
{
    const char *v = getenv("KOFARM_MAX_RELEASE");
    if (!v || !*v)
        return KF_ARTIFACT_MAX_DEFAULT;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || n < 1024 || n > ((unsigned long long)1 << 30))
        return KF_ARTIFACT_MAX_DEFAULT;
    return (size_t)n;
}

int kf_artifact_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return 0;
    }
    return 1;
}

void kf_artifact_free(struct kf_artifact *a)
{
    if (!a)
        return;
    free(a->media_type);
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* Checks the arguments and hashes data into hex (65 bytes). */
static int prepare(const char *name, const char *media_type, const void *data, size_t len, char hex[65], char *err)
{
    if (!kf_artifact_name_ok(name) || !media_type || !*media_type || strlen(media_type) > 255 || (!data && len))
        return kf_fail(err, KF_EINVAL, "bad artifact name, media type or content");
    size_t max = kf_artifact_max();
    if (len > max)
        return kf_fail(err, KF_ETOOBIG, "%s is %zu bytes, over the limit of %zu (KOFARM_MAX_RELEASE)", name, len,
                       max);
    char digest[KF_DIGEST_LEN];
    kf_sha256_digest(data ? data : "", len, digest);
    snprintf(hex, 65, "%s", digest + 7);
    return KF_OK;
}

static const struct kf_db_stmt succeed_stmt = {
    "kf_job_succeed_with_artifact",
    "WITH up AS (UPDATE jobs SET state = 'succeeded', result = $3::jsonb, commit = coalesce($4, commit),"
    "  error_code = NULL, error_message = NULL, lease_expires_at = NULL, finished_at = now(), updated_at = now()"
    "  WHERE id = $1 AND lease_owner = $2 AND state = 'running' RETURNING id)"
    " INSERT INTO job_artifacts (job_id, name, media_type, sha256, content)"
    "  SELECT id, $5, $6, $7, $8 FROM up"
    " ON CONFLICT (job_id, name) DO UPDATE SET media_type = EXCLUDED.media_type, sha256 = EXCLUDED.sha256,"
    "  content = EXCLUDED.content, created_at = now()"
    " RETURNING job_id"};

int kf_job_succeed_with_artifact(struct kf_db *db, int64_t id, const char *owner, const json_t *result,
                                 const char *commit, const char *name, const char *media_type, const void *data,
                                 size_t len, char *err)
{
    char hex[65], *text = NULL;
    int rc = prepare(name, media_type, data, len, hex, err);
    if (rc || (rc = kf_db_success_text(owner, result, commit, &text, err)))
        return rc;
    struct kf_db_params p = {0};
    kf_db_param_int(&p, id);
    kf_db_param_text(&p, owner);
    kf_db_param_text(&p, text);
    kf_db_param_text(&p, commit);
    kf_db_param_text(&p, name);
    kf_db_param_text(&p, media_type);
    kf_db_param_text(&p, hex);
    kf_db_param_bytea(&p, data ? data : "", len);
    PGresult *res = NULL;
    rc = kf_db_run(db, &succeed_stmt, &p, 0, "recording success", &res, err);
    if (rc == KF_OK && PQntuples(res) == 0)
        rc = kf_fail(err, KF_ENOTFOUND, "recording success: job %lld is not running under %s (lease lost)",
                     (long long)id, owner);
    PQclear(res);
    free(text);
    return rc;
}

static const struct kf_db_stmt put_stmt = {
    "kf_artifact_put",
    "INSERT INTO job_artifacts (job_id, name, media_type, sha256, content) VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (job_id, name) DO UPDATE SET media_type = EXCLUDED.media_type, sha256 = EXCLUDED.sha256,"
    "  content = EXCLUDED.content, created_at = now()"};

int kf_artifact_put(struct kf_db *db, int64_t id, const char *name, const char *media_type, const void *data,
                    size_t len, char *err)
{
    char hex[65];
    int rc = prepare(name, media_type, data, len, hex, err);
    if (rc)
        return rc;
    struct kf_db_params p = {0};
    kf_db_param_int(&p, id);
    kf_db_param_text(&p, name);
    kf_db_param_text(&p, media_type);
    kf_db_param_text(&p, hex);
    kf_db_param_bytea(&p, data ? data : "", len);
    PGresult *res = NULL;
    rc = kf_db_run(db, &put_stmt, &p, KF_DB_RETRY, "storing an artifact", &res, err);
    PQclear(res);
    return rc;
}

/* The job itself first, then the jobs its result was reused from. */
static const struct kf_db_stmt get_stmt = {
    "kf_artifact_get",
    "WITH RECURSIVE chain (id, depth) AS ("
    "  SELECT $1::bigint, 0"
    "  UNION ALL SELECT (j.result->>'reused_from')::bigint, c.depth + 1 FROM chain c JOIN jobs j ON j.id = c.id"
    "  WHERE jsonb_typeof(j.result->'reused_from') = 'number' AND c.depth < 16)"
    " SELECT a.media_type, a.sha256, a.content, a.job_id FROM chain c"
    " JOIN job_artifacts a ON a.job_id = c.id AND a.name = $2 ORDER BY c.depth LIMIT 1"};

int kf_artifact_get(struct kf_db *db, int64_t id, const char *name, struct kf_artifact *out, char *err)
{
    memset(out, 0, sizeof *out);
    if (!kf_artifact_name_ok(name))
        return kf_fail(err, KF_EINVAL, "bad artifact name");
    struct kf_db_params p = {0};
    kf_db_param_int(&p, id);
    kf_db_param_text(&p, name);
    PGresult *res = NULL;
    int rc = kf_db_run(db, &get_stmt, &p, KF_DB_RETRY | KF_DB_BINARY, "reading an artifact", &res, err);
    if (rc)
        return rc;
    if (PQntuples(res) == 0) {
        rc = kf_fail(err, KF_ENOTFOUND, "job %lld has no %s", (long long)id, name);
        goto out;
    }
    size_t mlen = (size_t)PQgetlength(res, 0, 0), hlen = (size_t)PQgetlength(res, 0, 1);
    size_t clen = (size_t)PQgetlength(res, 0, 2);
    if (hlen != 64 || PQgetlength(res, 0, 3) != 8) {
        rc = kf_fail(err, KF_EINTERNAL, "reading an artifact: unexpected column sizes");
        goto out;
    }
    out->media_type = strndup(PQgetvalue(res, 0, 0), mlen);
    out->data = malloc(clen + 1);
    if (!out->media_type || !out->data) {
        kf_artifact_free(out);
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(out->sha256, PQgetvalue(res, 0, 1), 64);
    out->sha256[64] = 0;
    memcpy(out->data, PQgetvalue(res, 0, 2), clen);
    out->data[clen] = 0;
    out->len = clen;
    const unsigned char *b = (const unsigned char *)PQgetvalue(res, 0, 3);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    out->job_id = (int64_t)v;
out:
    PQclear(res);
    return rc;
}
