/* The job collection: submit (JSON or an uploaded source), read, list,
 * cancel, retry. Generic over the job kind ("build", "resolve"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dbjobs.h"
#include "dbprojects.h"
#include "digest.h"
#include "jobspec.h"
#include "jobspec_resolve.h"
#include "server.h"
#include "srctar.h"

static int is_json_type(const char *ct)
{
    size_t n = ct ? strcspn(ct, "; \t") : 0;
    return n == 16 && !strncasecmp(ct, "application/json", n);
}

/* How long a queued or running job's JSON may be served from memory. */
#define JOB_LIVE_CACHE_MS 100

static int finished_state(const char *state)
{
    return state && (!strcmp(state, "succeeded") || !strcmp(state, "failed") || !strcmp(state, "canceled"));
}

/* Cache entries are per (id, kind): the id's low bit says the kind. */
static int64_t cache_id(const char *kind, int64_t id)
{
    return id * 2 + (strcmp(kind, "build") != 0);
}

int jobs_fetch_text(struct srv *s, struct kf_db *db, const char *kind, int64_t id, char **text, size_t *len,
                    char *err)
{
    *text = jobcache_get(s->jobs, cache_id(kind, id), len);
    if (*text)
        return KF_OK;
    json_t *job;
    int rc = kf_job_get(db, id, &job, err);
    if (rc)
        return rc;
    const char *have = json_string_value(json_object_get(job, "kind"));
    if (!have || strcmp(have, kind) != 0) {
        json_decref(job);
        return kf_fail(err, KF_ENOTFOUND, "no %s job %lld", kind, (long long)id);
    }
    *text = json_dumps(job, JSON_COMPACT);
    if (*text) {
        *len = strlen(*text);
        int done = finished_state(json_string_value(json_object_get(job, "state")));
        jobcache_put(s->jobs, cache_id(kind, id), *text, *len, done ? 0 : JOB_LIVE_CACHE_MS);
    }
    json_decref(job);
    return *text ? KF_OK : kf_fail(err, KF_ENOMEM, "out of memory");
}

/* Answers with the job's JSON (and a Location for new jobs). */
static void reply_job(struct srv *s, struct kf_db *db, const char *kind, int64_t id, int status,
                      struct http_resp *resp)
{
    char err[KF_ERRLEN], *text;
    size_t len;
    int rc = jobs_fetch_text(s, db, kind, id, &text, &len, err);
    if (rc) {
        reply_rc(resp, rc, err);
        return;
    }
    if (status == 201 || status == 202 || status == 200)
        snprintf(resp->location, sizeof resp->location, "/v1/%ss/%lld", kind, (long long)id);
    reply_text(resp, status, "application/json", text, len);
}

static int key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (key[i] < 0x21 || key[i] > 0x7e)
            return 0;
    return 1;
}

/* The request object and, for uploads, the source's digest. */
static int parse_body(struct srv *s, const char *kind, struct http_req *req, json_t **request,
                      char digest[KF_DIGEST_LEN], struct http_resp *resp)
{
    char err[KF_ERRLEN];
    *request = NULL;
    digest[0] = 0;
    if (http_is_upload_type(req->content_type)) {
        if (!req->body) {
            reply_error(resp, 400, "invalid_request", "empty upload: send the source as a tar or tar.gz body");
            return 0;
        }
        int rc = kf_jobspec_request_from_query_for(kind, req->names, req->values, req->n_query, request, err);
        if (rc == KF_OK && (rc = kf_srctar_check(req->body, req->body_len, NULL, err)) != KF_OK) {
            json_decref(*request);
            *request = NULL;
        }
        if (rc) {
            reply_rc(resp, rc, err);
            return 0;
        }
        kf_sha256_digest(req->body, req->body_len, digest);
        return 1;
    }
    if (!is_json_type(req->content_type)) {
        reply_error(resp, 415, "unsupported_media_type",
                    "send application/json, or a source as application/gzip or application/x-tar");
        return 0;
    }
    (void)s;
    json_error_t je;
    *request = req->body ? json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!*request) {
        if (req->body)
            reply_error(resp, 400, "invalid_json", "invalid JSON at line %d column %d: %s", je.line, je.column,
                        je.text);
        else
            reply_error(resp, 400, "invalid_json", "empty body: send a JSON object");
        return 0;
    }
    return 1;
}

/* A reusable result for an exact commit or an upload, unless no_cache. */
static int find_reuse(struct srv *s, struct kf_db *db, const json_t *spec, char key[80], json_t **result,
                      int64_t *from, const char **commit, char *err)
{
    const json_t *src = json_object_get(spec, "source");
    *commit = json_string_value(json_object_get(json_object_get(src, "git"), "commit"));
    *result = NULL;
    key[0] = 0;
    if (!*commit && !json_object_get(src, "upload"))
        return KF_OK; /* a ref: the worker resolves it, then keys it */
    if (json_is_true(json_object_get(spec, "pin_tags")))
        return KF_OK; /* tags move: a pinned release is never reused */
    int rc = kf_jobspec_cache_key(spec, *commit, s->cfg.repo, s->cfg.default_base, key, err);
    if (rc || json_is_true(json_object_get(spec, "no_cache")))
        return rc;
    rc = kf_job_find_reusable(db, key, result, from, err);
    return rc == KF_ENOTFOUND ? KF_OK : rc;
}

void route_job_submit(struct srv *s, const char *kind, struct http_req *req, struct http_resp *resp)
{
    char err[KF_ERRLEN], digest[KF_DIGEST_LEN], key[80];
    json_t *request = NULL, *spec = NULL, *reused = NULL;
    struct kf_jobspec_meta meta = {0};
    struct kf_db *db = NULL;
    struct auth_who w;
    if (!auth_who(s, req, resp, SCOPE_BUILD, &w))
        return;
    const char *who = w.name;
    const char *idem = http_header(req, "Idempotency-Key");
    if (idem && !key_ok(idem)) {
        reply_error(resp, 400, "invalid_request", "Idempotency-Key must be 1 to 255 printable ASCII characters");
        return;
    }
    if (!parse_body(s, kind, req, &request, digest, resp))
        return;
    int upload = digest[0] != 0;
    int rc = (strcmp(kind, "resolve") == 0 ? kf_jobspec_resolve_from_request : kf_jobspec_from_request)(
        request, upload ? digest : NULL, req->body_len, s->cfg.allow_file_urls, &spec, &meta, err);
    if (rc) {
        reply_rc(resp, rc, err);
        goto out;
    }
    /* A project-limited token submits into its project only. */
    if (w.project[0] && !meta.project && !(meta.project = strdup(w.project))) {
        reply_error(resp, 500, "internal", "out of memory");
        goto out;
    }
    if (!auth_project_ok(&w, meta.project, resp))
        goto out;
    if ((rc = dbpool_get(s->pool, &db, err))) {
        reply_rc(resp, rc, err);
        goto out;
    }
    int64_t from = 0, id = 0;
    const char *commit;
    if ((rc = find_reuse(s, db, spec, key, &reused, &from, &commit, err))) {
        reply_rc(resp, rc, err);
        goto out;
    }
    struct kf_job_new j = {
        .kind = kind, .spec = spec, .idempotency_key = idem, .requested_by = who[0] ? who : NULL,
        .cache_key = key[0] ? key : NULL, .project = meta.project, .priority = meta.priority,
        .max_attempts = meta.max_attempts, .source = upload ? req->body : NULL,
        .source_len = upload ? req->body_len : 0, .done_result = reused,
        .commit = !reused ? NULL : json_string_value(json_object_get(reused, "commit")) ? json_string_value(json_object_get(reused, "commit")) : commit,
        .reused_from = from,
    };
    int existed = 0;
    rc = kf_job_insert(db, &j, &id, &existed, err);
    if (rc == KF_EINVAL && existed)
        reply_error(resp, 422, "idempotency_conflict", "%s", err);
    else if (rc)
        reply_rc(resp, rc, err);
    else {
        if (!existed) {
            char target[24];
            snprintf(target, sizeof target, "%lld", (long long)id);
            farm_audit(s, db, who, "job.create", "job", target, json_pack("{s:s,s:s?}", "kind", kind, "project",
                                                                          meta.project));
        }
        reply_job(s, db, kind, id, existed ? 200 : 202, resp);
    }
out:
    dbpool_put(s->pool, db);
    free(meta.project);
    json_decref(reused);
    json_decref(spec);
    json_decref(request);
}

/* A project-limited token reads only its project's jobs (404 for others,
 * as if they did not exist). Takes text on refusal. */
int jobs_text_visible(const struct auth_who *w, const char *text, size_t len)
{
    if (!w->project[0])
        return 1;
    json_t *job = json_loadb(text, len, 0, NULL);
    const char *project = json_string_value(json_object_get(job, "project"));
    int ok = project && !strcmp(project, w->project);
    json_decref(job);
    return ok;
}

static int job_visible(const struct auth_who *w, char *text, size_t len, struct http_resp *resp)
{
    int ok = jobs_text_visible(w, text, len);
    if (!ok) {
        free(text);
        reply_error(resp, 404, "not_found", "no such job in project %s", w->project);
    }
    return ok;
}

void route_job_get(struct srv *s, const char *kind, int64_t id, struct http_req *req, struct http_resp *resp)
{
    char err[KF_ERRLEN], *text;
    size_t len;
    struct auth_who w;
    if (!auth_who(s, req, resp, SCOPE_READ, &w))
        return;
    if ((text = jobcache_get(s->jobs, cache_id(kind, id), &len))) {
        if (job_visible(&w, text, len, resp))
            reply_text(resp, 200, "application/json", text, len);
        return;
    }
    struct kf_db *db;
    int rc = dbpool_get(s->pool, &db, err);
    if (!rc) {
        rc = jobs_fetch_text(s, db, kind, id, &text, &len, err);
        dbpool_put(s->pool, db);
    }
    if (rc)
        reply_rc(resp, rc, err);
    else if (job_visible(&w, text, len, resp))
        reply_text(resp, 200, "application/json", text, len);
}

static int parse_limit(const char *v, int *limit)
{
    char *end;
    errno = 0;
    long n = v ? strtol(v, &end, 10) : 20;
    if (v && (!*v || *end || errno || n < 1 || n > KF_JOB_LIST_MAX))
        return 0;
    *limit = (int)n;
    return 1;
}

void route_job_list(struct srv *s, const char *kind, struct http_req *req, struct http_resp *resp)
{
    static const char *const known[] = {"state", "limit", "cursor", "project"};
    char err[KF_ERRLEN];
    struct auth_who w;
    if (!auth_who(s, req, resp, SCOPE_READ, &w))
        return;
    const char *project = http_query(req, "project");
    if (w.project[0] && project && !auth_project_ok(&w, project, resp))
        return;
    if (w.project[0])
        project = w.project;
    for (size_t i = 0; i < req->n_query; i++) {
        size_t k = 0;
        while (k < 4 && strcmp(req->names[i], known[k]))
            k++;
        if (k == 4) {
            reply_error(resp, 400, "invalid_request", "unknown query parameter (want state, limit, cursor, project)");
            return;
        }
    }
    int limit;
    if (!parse_limit(http_query(req, "limit"), &limit)) {
        reply_error(resp, 400, "invalid_request", "limit: must be an integer from 1 to %d", KF_JOB_LIST_MAX);
        return;
    }
    const char *cursor = http_query(req, "cursor");
    struct kf_db *db;
    json_t *items = NULL;
    char *next = NULL;
    int rc = dbpool_get(s->pool, &db, err);
    if (!rc) {
        rc = kf_job_list(db, kind, http_query(req, "state"), project, limit,
                         cursor && *cursor ? cursor : NULL, &items, &next, err);
        dbpool_put(s->pool, db);
    }
    if (rc) {
        reply_rc(resp, rc, err);
        return;
    }
    reply_json(resp, 200, json_pack("{s:o,s:s?}", "items", items, "next_cursor", next));
    free(next);
}

/* Cancel and retry act only on a job of this collection's kind. */
static int kind_matches(struct kf_db *db, const char *kind, int64_t id, const struct auth_who *w,
                        struct http_resp *resp)
{
    char err[KF_ERRLEN];
    json_t *job;
    int rc = kf_job_get(db, id, &job, err);
    const char *have = rc ? NULL : json_string_value(json_object_get(job, "kind"));
    const char *project = rc ? NULL : json_string_value(json_object_get(job, "project"));
    if (!rc && (!have || strcmp(have, kind) != 0 || (w->project[0] && (!project || strcmp(project, w->project)))))
        rc = kf_fail(err, KF_ENOTFOUND, "no %s job %lld", kind, (long long)id);
    if (!rc)
        json_decref(job);
    if (rc)
        reply_rc(resp, rc, err);
    return rc == KF_OK;
}

/* What cancel and retry do once the frame below holds a connection and
 * knows the job is of this kind and visible to the token; they answer. */
typedef void (*job_act_fn)(struct srv *s, struct kf_db *db, const char *kind, int64_t id, const char *who,
                           const char *target, struct http_resp *resp);

/* The frame cancel and retry share: a build-scoped token, a database
 * connection, a job of this collection's kind. */
static void job_action(struct srv *s, const char *kind, int64_t id, struct http_req *req, struct http_resp *resp,
                       job_act_fn act)
{
    char err[KF_ERRLEN], target[24];
    struct kf_db *db;
    struct auth_who w;
    if (!auth_who(s, req, resp, SCOPE_BUILD, &w))
        return;
    snprintf(target, sizeof target, "%lld", (long long)id);
    int rc = dbpool_get(s->pool, &db, err);
    if (rc) {
        reply_rc(resp, rc, err);
        return;
    }
    if (kind_matches(db, kind, id, &w, resp))
        act(s, db, kind, id, w.name, target, resp);
    dbpool_put(s->pool, db);
}

static void reply_action_error(struct http_resp *resp, int rc, int conflict, const char *err)
{
    if (rc == KF_EINVAL && conflict)
        reply_error(resp, 409, "conflict", "%s", err);
    else
        reply_rc(resp, rc, err);
}

static void act_cancel(struct srv *s, struct kf_db *db, const char *kind, int64_t id, const char *who,
                       const char *target, struct http_resp *resp)
{
    char err[KF_ERRLEN];
    json_t *job = NULL;
    int conflict = 0;
    int rc = kf_job_cancel(db, id, &job, &conflict, err);
    jobcache_drop(s->jobs, cache_id(kind, id)); /* a GET after our cancel sees it */
    if (rc) {
        reply_action_error(resp, rc, conflict, err);
    } else {
        farm_audit(s, db, who, "job.cancel", "job", target, NULL);
        reply_json(resp, 200, json_incref(job));
    }
    json_decref(job);
}

static void act_retry(struct srv *s, struct kf_db *db, const char *kind, int64_t id, const char *who,
                      const char *target, struct http_resp *resp)
{
    char err[KF_ERRLEN];
    int64_t new_id = 0;
    int conflict = 0;
    int rc = kf_job_retry(db, id, who[0] ? who : NULL, &new_id, &conflict, err);
    if (rc) {
        reply_action_error(resp, rc, conflict, err);
        return;
    }
    farm_audit(s, db, who, "job.retry", "job", target, json_pack("{s:I}", "new_job", (json_int_t)new_id));
    reply_job(s, db, kind, new_id, 202, resp);
}

void route_job_cancel(struct srv *s, const char *kind, int64_t id, struct http_req *req, struct http_resp *resp)
{
    job_action(s, kind, id, req, resp, act_cancel);
}

void route_job_retry(struct srv *s, const char *kind, int64_t id, struct http_req *req, struct http_resp *resp)
{
    job_action(s, kind, id, req, resp, act_retry);
}
