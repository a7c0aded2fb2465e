/* Projects, webhook deliveries, releases, audit log, token project limits. */
#include "dbprojects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

#define PROJECT_JSON                                                                                       \
    "json_build_object('name', p.name, 'git', json_build_object('url', " KF_DB_URL_SHOWN("p.git_url") "),"  \
    " 'rules', p.rules,"                                                                                   \
    " 'defaults', p.defaults, 'max_concurrency', p.max_concurrency,"                                       \
    " 'webhook_secret_set', p.webhook_secret IS NOT NULL,"                                                 \
    " 'created_at', " KF_DB_TS("p.created_at") ", 'updated_at', " KF_DB_TS("p.updated_at") ")"

static char *dump(const json_t *v, char *err)
{
    char *s = json_dumps(v ? v : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        kf_fail(err, KF_ENOMEM, "out of memory");
    return s;
}

/* Runs st and, for a statement that returns one JSON text column, parses
 * row 0 into *out (KF_ENOTFOUND with notfound when there is no row). */
static int run_json(struct kf_db *db, const struct kf_db_stmt *st, const struct kf_db_params *p, int flags,
                    const char *what, const char *notfound, json_t **out, char *err)
{
    PGresult *res;
    *out = NULL;
    int rc = kf_db_run(db, st, p, flags, what, &res, err);
    if (rc)
        return rc;
    if (PQntuples(res) == 0)
        rc = kf_fail(err, KF_ENOTFOUND, "%s", notfound);
    else
        rc = kf_db_get_json(res, 0, 0, out, err);
    PQclear(res);
    return rc;
}

static const struct kf_db_stmt create_stmt = {
    "kf_project_create",
    "INSERT INTO projects (name, git_url, webhook_secret, rules, defaults, max_concurrency)"
    " VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::integer)"};

/* Parameters shared by create and update: name and URL first (bind_doc),
 * the secret ones in between (the caller's), rules, defaults and
 * max_concurrency last (bind_rest). */
static int bind_doc(struct kf_db_params *p, const json_t *doc, char **rules, char **defaults, char *err)
{
    *rules = dump(json_object_get(doc, "rules"), err);
    *defaults = *rules ? dump(json_object_get(doc, "defaults"), err) : NULL;
    if (!*defaults)
        return KF_ENOMEM;
    kf_db_param_text(p, json_string_value(json_object_get(doc, "name")));
    kf_db_param_text(p, json_string_value(json_object_get(json_object_get(doc, "git"), "url")));
    return KF_OK;
}

static void bind_rest(struct kf_db_params *p, const json_t *doc, const char *rules, const char *defaults)
{
    const json_t *mc = json_object_get(doc, "max_concurrency");
    kf_db_param_text(p, rules);
    kf_db_param_text(p, defaults);
    if (json_is_integer(mc))
        kf_db_param_int(p, json_integer_value(mc));
    else
        kf_db_param_text(p, NULL);
}

int kf_project_create(struct kf_db *db, const json_t *doc, const char *secret, int *conflict, char *err)
{
    char *rules = NULL, *defaults = NULL;
    struct kf_db_params p = {0};
    *conflict = 0;
    int rc = bind_doc(&p, doc, &rules, &defaults, err);
    if (rc)
        goto out;
    kf_db_param_text(&p, secret);
    bind_rest(&p, doc, rules, defaults);
    PGresult *res;
    rc = kf_db_run(db, &create_stmt, &p, 0, "creating a project", &res, err);
    PQclear(res);
    if (rc == KF_EINVAL && !strcmp(db->sqlstate, "23505")) {
        *conflict = 1;
        rc = kf_fail(err, KF_EINVAL, "a project named %s already exists",
                     json_string_value(json_object_get(doc, "name")));
    }
out:
    free(rules);
    free(defaults);
    return rc;
}

static const struct kf_db_stmt update_stmt = {
    "kf_project_update",
    "UPDATE projects SET git_url = $2, webhook_secret = CASE WHEN $3::boolean THEN webhook_secret ELSE $4 END,"
    " rules = $5::jsonb, defaults = $6::jsonb, max_concurrency = $7::integer, updated_at = now()"
    " WHERE name = $1 RETURNING 1"};

int kf_project_update(struct kf_db *db, const json_t *doc, int keep_secret, const char *secret, char *err)
{
    char *rules = NULL, *defaults = NULL;
    struct kf_db_params p = {0};
    int rc = bind_doc(&p, doc, &rules, &defaults, err);
    if (rc)
        goto out;
    kf_db_param_text(&p, keep_secret ? "true" : "false");
    kf_db_param_text(&p, keep_secret ? NULL : secret);
    bind_rest(&p, doc, rules, defaults);
    PGresult *res;
    rc = kf_db_run(db, &update_stmt, &p, KF_DB_RETRY, "updating a project", &res, err);
    if (!rc && PQntuples(res) == 0)
        rc = kf_fail(err, KF_ENOTFOUND, "no project named %s", json_string_value(json_object_get(doc, "name")));
    PQclear(res);
out:
    free(rules);
    free(defaults);
    return rc;
}

static const struct kf_db_stmt get_stmt = {
    "kf_project_get", "SELECT " PROJECT_JSON "::text, p.webhook_secret FROM projects p WHERE p.name = $1"};

int kf_project_get(struct kf_db *db, const char *name, json_t **project, char **secret, char *err)
{
    struct kf_db_params p = {0};
    PGresult *res;
    *project = NULL;
    if (secret)
        *secret = NULL;
    kf_db_param_text(&p, name);
    int rc = kf_db_run(db, &get_stmt, &p, KF_DB_RETRY, "reading a project", &res, err);
    if (rc)
        return rc;
    if (PQntuples(res) == 0)
        rc = kf_fail(err, KF_ENOTFOUND, "no project named %s", name);
    else if (!(rc = kf_db_get_json(res, 0, 0, project, err)) && secret && !PQgetisnull(res, 0, 1) &&
             !(*secret = strdup(PQgetvalue(res, 0, 1)))) {
        json_decref(*project);
        *project = NULL;
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
    }
    PQclear(res);
    return rc;
}

static const struct kf_db_stmt list_stmt = {
    "kf_project_list",
    "SELECT coalesce(json_agg(" PROJECT_JSON " ORDER BY p.name), '[]')::text FROM projects p"
    " WHERE $1::text IS NULL OR p.name = $1"};

int kf_project_list(struct kf_db *db, const char *only, json_t **projects, char *err)
{
    struct kf_db_params p = {0};
    kf_db_param_text(&p, only);
    return run_json(db, &list_stmt, &p, KF_DB_RETRY, "listing projects", "", projects, err);
}

static const struct kf_db_stmt delete_stmt = {"kf_project_delete",
                                              "DELETE FROM projects WHERE name = $1 RETURNING 1"};

int kf_project_delete(struct kf_db *db, const char *name, char *err)
{
    struct kf_db_params p = {0};
    PGresult *res;
    kf_db_param_text(&p, name);
    int rc = kf_db_run(db, &delete_stmt, &p, KF_DB_RETRY, "deleting a project", &res, err);
    if (!rc && PQntuples(res) == 0)
        rc = kf_fail(err, KF_ENOTFOUND, "no project named %s", name);
    PQclear(res);
    return rc;
}

/* Data-modifying CTEs all run, in one snapshot and one transaction: a
 * delivery id seen before inserts nothing (d is empty, so neither are the
 * rest) and the first delivery's jobs are read back instead. */
static const struct kf_db_stmt hook_stmt = {
    "kf_hook_record",
    "WITH d AS ("
    "  INSERT INTO hook_deliveries (project, host, delivery_id, event, ref, commit)"
    "  VALUES ($1, $2, $3, $4, $5, $6)"
    "  ON CONFLICT (project, host, delivery_id) DO NOTHING RETURNING id"
    "), j AS ("
    "  INSERT INTO jobs (kind, spec, project, requested_by, priority, max_attempts)"
    "  SELECT e.value->>'kind', e.value->'spec', $1, 'hook:' || $2, coalesce((e.value->>'priority')::int, 0),"
    "   coalesce(nullif((e.value->>'max_attempts')::int, 0), 3)"
    "  FROM d, jsonb_array_elements($7::jsonb) WITH ORDINALITY e(value, n) ORDER BY e.n"
    "  RETURNING id, kind"
    "), l AS ("
    "  INSERT INTO hook_delivery_jobs (delivery, job_id) SELECT d.id, j.id FROM d, j"
    "), r AS ("
    "  INSERT INTO releases (project, tag, job_id)"
    "  SELECT $1, $8, j.id FROM j WHERE j.kind = 'resolve' AND $8::text IS NOT NULL"
    "), a AS ("
    "  INSERT INTO audit_log (actor, action, target, detail)"
    "  SELECT 'hook:' || $2, 'job.create', 'job:' || j.id,"
    "   jsonb_build_object('project', $1, 'delivery', $3, 'event', $4, 'ref', $5, 'commit', $6) FROM j"
    ")"
    " SELECT (SELECT count(*) FROM d) = 0,"
    "  coalesce((SELECT json_agg(id ORDER BY id) FROM j),"
    "   (SELECT json_agg(x.job_id ORDER BY x.job_id) FROM hook_deliveries h"
    "    JOIN hook_delivery_jobs x ON x.delivery = h.id"
    "    WHERE NOT EXISTS (SELECT 1 FROM d) AND h.project = $1 AND h.host = $2 AND h.delivery_id = $3),"
    "   '[]')::text"};

int kf_hook_record(struct kf_db *db, const struct kf_hook_delivery *d, json_t **job_ids, int *redelivered,
                   char *err)
{
    *job_ids = NULL;
    *redelivered = 0;
    char *jobs = dump(d->jobs, err);
    if (!jobs)
        return KF_ENOMEM;
    struct kf_db_params p = {0};
    kf_db_param_text(&p, d->project);
    kf_db_param_text(&p, d->host);
    kf_db_param_text(&p, d->delivery_id);
    kf_db_param_text(&p, d->event);
    kf_db_param_text(&p, d->ref);
    kf_db_param_text(&p, d->commit);
    kf_db_param_text(&p, jobs);
    kf_db_param_text(&p, d->release_tag);
    PGresult *res;
    /* With a delivery id a resend is safe: it would be a redelivery. */
    int rc = kf_db_run(db, &hook_stmt, &p, d->delivery_id ? KF_DB_RETRY : 0, "recording a delivery", &res, err);
    free(jobs);
    if (rc)
        return rc;
    *redelivered = kf_db_get_bool(res, 0, 0);
    rc = kf_db_get_json(res, 0, 1, job_ids, err);
    PQclear(res);
    return rc;
}

static const struct kf_db_stmt release_list_stmt = {
    "kf_release_list",
    "SELECT coalesce(json_agg(json_build_object('tag', r.tag, 'job_id', r.job_id, 'state', j.state,"
    "  'commit', coalesce(j.commit, j.spec->'source'->'git'->>'commit'),"
    "  'created_at', " KF_DB_TS("r.created_at") ", 'sha256', a.sha256) ORDER BY r.id DESC), '[]')::text"
    " FROM releases r JOIN jobs j ON j.id = r.job_id"
    " LEFT JOIN job_artifacts a ON a.job_id = r.job_id AND a.name = 'release.yaml'"
    " WHERE r.project = $1"};

int kf_release_list(struct kf_db *db, const char *project, json_t **releases, char *err)
{
    struct kf_db_params p = {0};
    kf_db_param_text(&p, project);
    return run_json(db, &release_list_stmt, &p, KF_DB_RETRY, "listing releases", "", releases, err);
}

static const struct kf_db_stmt artifact_stmt = {
    "kf_release_artifact",
    "SELECT a.sha256, a.content FROM releases r JOIN jobs j ON j.id = r.job_id AND j.state = 'succeeded'"
    " JOIN job_artifacts a ON a.job_id = r.job_id AND a.name = $3"
    " WHERE r.project = $1 AND r.tag = $2 ORDER BY r.id DESC LIMIT 1"};

int kf_release_artifact(struct kf_db *db, const char *project, const char *tag, const char *name,
                        char sha256[65], char **content, size_t *len, char *err)
{
    struct kf_db_params p = {0};
    PGresult *res;
    *content = NULL;
    *len = 0;
    sha256[0] = 0;
    kf_db_param_text(&p, project);
    kf_db_param_text(&p, tag);
    kf_db_param_text(&p, name);
    int rc = kf_db_run(db, &artifact_stmt, &p, KF_DB_RETRY | KF_DB_BINARY, "reading a release", &res, err);
    if (rc)
        return rc;
    if (PQntuples(res) == 0) {
        rc = kf_fail(err, KF_ENOTFOUND, "no succeeded release %s of project %s", tag, project);
    } else {
        size_t n = (size_t)PQgetlength(res, 0, 1);
        snprintf(sha256, 65, "%.*s", PQgetlength(res, 0, 0), PQgetvalue(res, 0, 0));
        if (!(*content = malloc(n + 1))) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
        } else {
            memcpy(*content, PQgetvalue(res, 0, 1), n);
            (*content)[n] = 0;
            *len = n;
        }
    }
    PQclear(res);
    return rc;
}

static const struct kf_db_stmt builds_stmt = {
    "kf_project_builds",
    "SELECT coalesce(json_agg(json_build_object('id', j.id, 'kind', j.kind, 'state', j.state,"
    "  'commit', coalesce(j.commit, j.spec->'source'->'git'->>'commit'), 'result', j.result,"
    "  'error', CASE WHEN j.error_code IS NULL THEN NULL"
    "   ELSE json_build_object('code', j.error_code, 'message', j.error_message) END,"
    "  'ref', (SELECT h.ref FROM hook_delivery_jobs x JOIN hook_deliveries h ON h.id = x.delivery"
    "          WHERE x.job_id = j.id LIMIT 1),"
    "  'requested_by', j.requested_by, 'created_at', " KF_DB_TS("j.created_at") ","
    "  'finished_at', " KF_DB_TS("j.finished_at") ") ORDER BY j.id DESC), '[]')::text"
    " FROM (SELECT * FROM jobs j WHERE j.project = $1 AND ($2::text IS NULL"
    "   OR j.spec->'source'->'git'->>'ref' = $2"
    "   OR EXISTS (SELECT 1 FROM hook_delivery_jobs x JOIN hook_deliveries h ON h.id = x.delivery"
    "              WHERE x.job_id = j.id AND h.ref = $2))"
    "  ORDER BY j.id DESC LIMIT $3) j"};

int kf_project_builds(struct kf_db *db, const char *project, const char *ref, int limit, json_t **jobs, char *err)
{
    struct kf_db_params p = {0};
    if (limit < 1 || limit > 200)
        return kf_fail(err, KF_EINVAL, "limit must be 1 to 200");
    kf_db_param_text(&p, project);
    kf_db_param_text(&p, ref);
    kf_db_param_int(&p, limit);
    return run_json(db, &builds_stmt, &p, KF_DB_RETRY, "listing a project's builds", "", jobs, err);
}

static const struct kf_db_stmt audit_add_stmt = {
    "kf_audit_add", "INSERT INTO audit_log (actor, action, target, detail) VALUES ($1, $2, $3, $4::jsonb)"};

int kf_audit_add(struct kf_db *db, const char *actor, const char *action, const char *target, const json_t *detail,
                 char *err)
{
    char *text = detail ? dump(detail, err) : NULL;
    if (detail && !text)
        return KF_ENOMEM;
    struct kf_db_params p = {0};
    kf_db_param_text(&p, actor && *actor ? actor : "anonymous");
    kf_db_param_text(&p, action);
    kf_db_param_text(&p, target);
    kf_db_param_text(&p, text);
    PGresult *res;
    int rc = kf_db_run(db, &audit_add_stmt, &p, 0, "writing the audit log", &res, err);
    PQclear(res);
    free(text);
    return rc;
}

static const struct kf_db_stmt audit_list_stmt = {
    "kf_audit_list",
    "SELECT coalesce(json_agg(json_build_object('id', a.id, 'at', " KF_DB_TS("a.at") ", 'actor', a.actor,"
    "  'action', a.action, 'target', a.target, 'detail', a.detail) ORDER BY a.id DESC), '[]')::text"
    " FROM (SELECT * FROM audit_log WHERE $1::bigint = 0 OR id < $1 ORDER BY id DESC LIMIT $2) a"};

int kf_audit_list(struct kf_db *db, int64_t before, int limit, json_t **entries, char *err)
{
    struct kf_db_params p = {0};
    if (limit < 1 || limit > KF_AUDIT_LIST_MAX || before < 0)
        return kf_fail(err, KF_EINVAL, "limit must be 1 to %d", KF_AUDIT_LIST_MAX);
    kf_db_param_int(&p, before);
    kf_db_param_int(&p, limit);
    return run_json(db, &audit_list_stmt, &p, KF_DB_RETRY, "reading the audit log", "", entries, err);
}

static const struct kf_db_stmt token_set_stmt = {
    "kf_token_set_project", "UPDATE api_tokens SET project = $2 WHERE name = $1 RETURNING 1"};

int kf_token_set_project(struct kf_db *db, const char *name, const char *project, char *err)
{
    struct kf_db_params p = {0};
    PGresult *res;
    kf_db_param_text(&p, name);
    kf_db_param_text(&p, project);
    int rc = kf_db_run(db, &token_set_stmt, &p, KF_DB_RETRY, "limiting a token", &res, err);
    if (!rc && PQntuples(res) == 0)
        rc = kf_fail(err, KF_ENOTFOUND, "no token named %s", name);
    PQclear(res);
    return rc;
}

static const struct kf_db_stmt token_project_stmt = {
    "kf_token_project", "SELECT coalesce(project, '') FROM api_tokens WHERE name = $1"};

int kf_token_project(struct kf_db *db, const char *name, char out[128], char *err)
{
    struct kf_db_params p = {0};
    PGresult *res;
    out[0] = 0;
    kf_db_param_text(&p, name);
    int rc = kf_db_run(db, &token_project_stmt, &p, KF_DB_RETRY, "reading a token's project", &res, err);
    if (!rc && PQntuples(res) == 1)
        snprintf(out, 128, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}
