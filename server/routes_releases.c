/* A project's releases (one per tag resolve) and their release.yaml, with
 * the artifact's sha256 as a strong ETag; "latest" is the newest succeeded
 * tag by semver order. Also the project's build history by ref. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbprojects.h"
#include "project.h"
#include "refmatch.h"
#include "server.h"

/* Reader access to project name: 1 with *db held, or 0 with resp filled. */
static int open_project(struct srv *s, const char *name, struct http_req *req, struct http_resp *resp,
                        struct kf_db **db)
{
    struct auth_who who;
    char err[KF_ERRLEN];
    json_t *project = NULL;
    *db = NULL;
    if (!auth_who(s, req, resp, SCOPE_READ, &who) || !auth_project_ok(&who, name, resp))
        return 0;
    if (!kf_project_name_valid(name)) {
        reply_error(resp, 404, "not_found", "no such project");
        return 0;
    }
    int rc = dbpool_get(s->pool, db, err);
    if (!rc)
        rc = kf_project_get(*db, name, &project, NULL, err);
    json_decref(project);
    if (rc) {
        reply_rc(resp, rc, err);
        dbpool_put(s->pool, *db);
        *db = NULL;
    }
    return rc == KF_OK;
}

void route_release_list(struct srv *s, const char *name, struct http_req *req, struct http_resp *resp)
{
    char err[KF_ERRLEN];
    struct kf_db *db;
    json_t *items;
    if (!open_project(s, name, req, resp, &db))
        return;
    int rc = kf_release_list(db, name, &items, err);
    dbpool_put(s->pool, db);
    if (rc)
        reply_rc(resp, rc, err);
    else
        reply_json(resp, 200, json_pack("{s:o}", "items", items));
}

/* The newest succeeded release's tag by semver order into tag; "" if none. */
static int latest_tag(struct kf_db *db, const char *project, char tag[256], char *err)
{
    json_t *items;
    tag[0] = 0;
    int rc = kf_release_list(db, project, &items, err);
    if (rc)
        return rc;
    size_t i;
    json_t *r;
    json_array_foreach(items, i, r) {
        const char *t = json_string_value(json_object_get(r, "tag"));
        const char *state = json_string_value(json_object_get(r, "state"));
        if (!t || !state || strcmp(state, "succeeded") != 0 || !json_is_string(json_object_get(r, "sha256")))
            continue;
        if (!tag[0] || kf_semver_cmp(t, tag) > 0)
            snprintf(tag, 256, "%s", t);
    }
    json_decref(items);
    return KF_OK;
}

/* If-None-Match holds etag (or "*"): a list, possibly weak (W/"..."). */
static int etag_matches(const char *header, const char *etag)
{
    if (!header)
        return 0;
    if (!strcmp(header, "*"))
        return 1;
    size_t n = strlen(etag);
    for (const char *p = strstr(header, etag); p; p = strstr(p + 1, etag)) {
        char after = p[n];
        if (after == 0 || after == ',' || after == ' ' || after == '\t')
            return 1;
    }
    return 0;
}

void route_release_file(struct srv *s, const char *name, const char *tag, struct http_req *req,
                        struct http_resp *resp)
{
    char err[KF_ERRLEN], sha[65], want[256], *content = NULL;
    size_t len = 0;
    struct kf_db *db;
    if (!open_project(s, name, req, resp, &db))
        return;
    int rc = KF_OK;
    snprintf(want, sizeof want, "%s", tag);
    if (!strcmp(tag, "latest")) {
        rc = latest_tag(db, name, want, err);
        if (!rc && !want[0])
            rc = kf_fail(err, KF_ENOTFOUND, "project %s has no succeeded release yet", name);
    }
    if (!rc)
        rc = kf_release_artifact(db, name, want, "release.yaml", sha, &content, &len, err);
    dbpool_put(s->pool, db);
    if (rc) {
        reply_rc(resp, rc, err);
        return;
    }
    snprintf(resp->etag, sizeof resp->etag, "\"%s\"", sha);
    if (etag_matches(http_header(req, "If-None-Match"), resp->etag)) {
        free(content);
        resp->status = 304;
        resp->content_type = NULL;
        return;
    }
    reply_text(resp, 200, "application/yaml", content, len);
}

void route_project_builds(struct srv *s, const char *name, struct http_req *req, struct http_resp *resp)
{
    char err[KF_ERRLEN];
    struct kf_db *db;
    json_t *items;
    for (size_t i = 0; i < req->n_query; i++)
        if (strcmp(req->names[i], "ref") != 0 && strcmp(req->names[i], "limit") != 0) {
            reply_error(resp, 400, "invalid_request", "unknown query parameter (want ref, limit)");
            return;
        }
    const char *ref = http_query(req, "ref"), *lim = http_query(req, "limit");
    long limit = 50;
    if (lim) {
        char *end;
        errno = 0;
        limit = strtol(lim, &end, 10);
        if (!*lim || *end || errno || limit < 1 || limit > 200) {
            reply_error(resp, 400, "invalid_request", "limit: must be an integer from 1 to 200");
            return;
        }
    }
    if (ref && (!*ref || strlen(ref) > 255)) {
        reply_error(resp, 400, "invalid_request", "ref: 1 to 255 characters");
        return;
    }
    if (!open_project(s, name, req, resp, &db))
        return;
    int rc = kf_project_builds(db, name, ref, (int)limit, &items, err);
    dbpool_put(s->pool, db);
    if (rc)
        reply_rc(resp, rc, err);
    else
        reply_json(resp, 200, json_pack("{s:o}", "items", items));
}
