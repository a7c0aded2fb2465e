/* /v1/projects: register, read, change and remove projects (admin scope
 * to write, read scope to read; a project-limited token sees only its
 * project). The webhook secret is write-only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbprojects.h"
#include "project.h"
#include "server.h"

void route_project_create(struct srv *s, struct http_req *req, struct http_resp *resp)
{
    struct auth_who who;
    char err[KF_ERRLEN], *secret = NULL;
    json_t *doc = NULL, *norm = NULL, *out = NULL;
    struct kf_db *db = NULL;
    if (!auth_who(s, req, resp, SCOPE_ADMIN, &who) || !(doc = farm_json_body(req, resp)))
        return;
    int rc = kf_project_check(doc, s->cfg.allow_file_urls, &norm, &secret, err);
    if (rc) {
        reply_rc(resp, rc, err);
        goto out;
    }
    const char *name = json_string_value(json_object_get(norm, "name"));
    if (!auth_project_ok(&who, name, resp))
        goto out;
    int conflict = 0;
    if ((rc = dbpool_get(s->pool, &db, err)) || (rc = kf_project_create(db, norm, secret, &conflict, err))) {
        if (conflict)
            reply_error(resp, 409, "conflict", "%s", err);
        else
            reply_rc(resp, rc, err);
        goto out;
    }
    farm_audit(s, db, who.name, "project.create", "project", name, json_pack("{s:O}", "git", json_object_get(norm, "git")));
    if ((rc = kf_project_get(db, name, &out, NULL, err))) {
        reply_rc(resp, rc, err);
        goto out;
    }
    snprintf(resp->location, sizeof resp->location, "/v1/projects/%s", name);
    reply_json(resp, 201, out);
out:
    dbpool_put(s->pool, db);
    json_decref(doc);
    json_decref(norm);
    free(secret);
}

void route_project_list(struct srv *s, struct http_req *req, struct http_resp *resp)
{
    struct auth_who who;
    char err[KF_ERRLEN];
    struct kf_db *db;
    json_t *items = NULL;
    if (!auth_who(s, req, resp, SCOPE_READ, &who))
        return;
    int rc = dbpool_get(s->pool, &db, err);
    if (!rc) {
        rc = kf_project_list(db, who.project[0] ? who.project : NULL, &items, err);
        dbpool_put(s->pool, db);
    }
    if (rc)
        reply_rc(resp, rc, err);
    else
        reply_json(resp, 200, json_pack("{s:o}", "items", items));
}

/* The project for a read or write by who: 1 and *project (caller decrefs),
 * or 0 with resp filled (403, 404...). */
static int load(struct srv *s, struct kf_db *db, const struct auth_who *who, const char *name, json_t **project,
                char **secret, struct http_resp *resp)
{
    char err[KF_ERRLEN];
    *project = NULL;
    if (!auth_project_ok(who, name, resp))
        return 0;
    if (!kf_project_name_valid(name)) {
        reply_error(resp, 404, "not_found", "no such project");
        return 0;
    }
    int rc = kf_project_get(db, name, project, secret, err);
    if (rc)
        reply_rc(resp, rc, err);
    (void)s;
    return rc == KF_OK;
}

void route_project_get(struct srv *s, const char *name, struct http_req *req, struct http_resp *resp)
{
    struct auth_who who;
    char err[KF_ERRLEN];
    struct kf_db *db;
    json_t *project;
    if (!auth_who(s, req, resp, SCOPE_READ, &who))
        return;
    int rc = dbpool_get(s->pool, &db, err);
    if (rc) {
        reply_rc(resp, rc, err);
        return;
    }
    if (load(s, db, &who, name, &project, NULL, resp))
        reply_json(resp, 200, project);
    dbpool_put(s->pool, db);
}

void route_project_patch(struct srv *s, const char *name, struct http_req *req, struct http_resp *resp)
{
    static const char *const server_keys[] = {"webhook_secret_set", "created_at", "updated_at"};
    struct auth_who who;
    char err[KF_ERRLEN], *secret = NULL, *old_secret = NULL;
    struct kf_db *db = NULL;
    json_t *patch = NULL, *doc = NULL, *norm = NULL, *out = NULL;
    const char *key;
    json_t *v;
    if (!auth_who(s, req, resp, SCOPE_ADMIN, &who) || !(patch = farm_json_body(req, resp)))
        return;
    const char *new_name = json_string_value(json_object_get(patch, "name"));
    if (json_object_get(patch, "name") && (!new_name || strcmp(new_name, name) != 0)) {
        reply_error(resp, 400, "invalid_request", "name: a project cannot be renamed");
        goto out;
    }
    int rc = dbpool_get(s->pool, &db, err);
    if (rc) {
        reply_rc(resp, rc, err);
        goto out;
    }
    if (!load(s, db, &who, name, &doc, &old_secret, resp))
        goto out;
    for (size_t i = 0; i < sizeof server_keys / sizeof *server_keys; i++)
        json_object_del(doc, server_keys[i]);
    json_object_foreach(patch, key, v) {
        if (json_object_set(doc, key, v)) {
            reply_error(resp, 500, "internal", "out of memory");
            goto out;
        }
    }
    if (!json_object_get(patch, "webhook_secret"))
        json_object_del(doc, "webhook_secret");
    if ((rc = kf_project_check(doc, s->cfg.allow_file_urls, &norm, &secret, err))) {
        reply_rc(resp, rc, err);
        goto out;
    }
    int keep = !json_object_get(patch, "webhook_secret");
    if ((rc = kf_project_update(db, norm, keep, secret, err)) || (rc = kf_project_get(db, name, &out, NULL, err))) {
        reply_rc(resp, rc, err);
        goto out;
    }
    json_t *fields = json_array();
    json_object_foreach(patch, key, v) json_array_append_new(fields, json_string(key));
    farm_audit(s, db, who.name, "project.update", "project", name, json_pack("{s:o}", "fields", fields));
    reply_json(resp, 200, out);
out:
    dbpool_put(s->pool, db);
    json_decref(patch);
    json_decref(doc);
    json_decref(norm);
    free(secret);
    free(old_secret);
}

void route_project_delete(struct srv *s, const char *name, struct http_req *req, struct http_resp *resp)
{
    struct auth_who who;
    char err[KF_ERRLEN];
    struct kf_db *db;
    if (!auth_who(s, req, resp, SCOPE_ADMIN, &who) || !auth_project_ok(&who, name, resp))
        return;
    if (!kf_project_name_valid(name)) {
        reply_error(resp, 404, "not_found", "no such project");
        return;
    }
    int rc = dbpool_get(s->pool, &db, err);
    if (rc) {
        reply_rc(resp, rc, err);
        return;
    }
    if ((rc = kf_project_delete(db, name, err))) {
        reply_rc(resp, rc, err);
    } else {
        farm_audit(s, db, who.name, "project.delete", "project", name, NULL);
        reply_text(resp, 204, NULL, NULL, 0);
        resp->status = 204;
    }
    dbpool_put(s->pool, db);
}
