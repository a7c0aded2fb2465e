/* GET /v1/resolves/{id}/release.yaml: a succeeded resolve's YAML as a
 * download, with its sha256 as a strong ETag (If-None-Match gives 304);
 * 409 until the job has succeeded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbartifacts.h"
#include "dbjobs.h"
#include "jobspec_resolve.h"
#include "server.h"

/* If-None-Match: a comma list of entity tags (weak ones compare weakly,
 * RFC 9110 13.1.2) or "*". */
static int etag_matches(const char *header, const char *etag)
{
    size_t elen = strlen(etag);
    for (const char *p = header; p && *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 1 && *p == '*')
            return 1;
        const char *tag = p;
        if (len > 2 && !strncmp(tag, "W/", 2)) {
            tag += 2;
            len -= 2;
        }
        if (len == elen && !memcmp(tag, etag, elen))
            return 1;
        p += strcspn(p, ",");
    }
    return 0;
}

/* The job must be of kind and succeeded: 404 or 409 otherwise. */
static int job_ready(struct kf_db *db, const char *kind, int64_t id, struct http_resp *resp)
{
    char err[KF_ERRLEN];
    json_t *job = NULL;
    int rc = kf_job_get(db, id, &job, err);
    const char *have = rc ? NULL : json_string_value(json_object_get(job, "kind"));
    if (!rc && (!have || strcmp(have, kind) != 0))
        rc = kf_fail(err, KF_ENOTFOUND, "no %s job %lld", kind, (long long)id);
    if (rc) {
        reply_rc(resp, rc, err);
        return 0;
    }
    const char *state = json_string_value(json_object_get(job, "state"));
    int ok = state && !strcmp(state, "succeeded");
    if (!ok)
        reply_error(resp, 409, "conflict", "%s %lld is %s: its release.yaml exists once it has succeeded", kind,
                    (long long)id, state ? state : "in an unknown state");
    json_decref(job);
    return ok;
}

void route_job_release(struct srv *s, const char *kind, int64_t id, struct http_req *req, struct http_resp *resp)
{
    char who[128], err[KF_ERRLEN];
    struct kf_db *db = NULL;
    struct kf_artifact a = {0};
    if (!auth_check(s, req, resp, SCOPE_READ, who))
        return;
    int rc = dbpool_get(s->pool, &db, err);
    if (rc) {
        reply_rc(resp, rc, err);
        return;
    }
    if (!job_ready(db, kind, id, resp))
        goto out;
    rc = kf_artifact_get(db, id, KF_RELEASE_NAME, &a, err);
    if (rc == KF_ENOTFOUND) {
        reply_error(resp, 404, "not_found", "%s %lld succeeded but its release.yaml is gone", kind, (long long)id);
        goto out;
    }
    if (rc) {
        reply_rc(resp, rc, err);
        goto out;
    }
    snprintf(resp->etag, sizeof resp->etag, "\"%s\"", a.sha256);
    resp->disposition = "attachment; filename=\"" KF_RELEASE_NAME "\"";
    const char *inm = http_header(req, "If-None-Match");
    if (inm && etag_matches(inm, resp->etag)) {
        free(resp->body);
        resp->body = NULL;
        resp->body_len = 0;
        resp->content_type = NULL;
        resp->status = 304;
        goto out;
    }
    /* The stored media type is ours; answer with the contract's. */
    reply_text(resp, 200, KF_RELEASE_MEDIA_TYPE, (char *)a.data, a.len);
    a.data = NULL;
out:
    kf_artifact_free(&a);
    dbpool_put(s->pool, db);
}
