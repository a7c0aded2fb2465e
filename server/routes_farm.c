/* The team farm's paths: /projects[/{name}[/releases[/{tag}/release.yaml]
 * | /builds]], /hooks/{host}/{project}, /audit. Shared helpers for their
 * handlers: JSON bodies and best-effort audit rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dbprojects.h"
#include "server.h"

static int method_is(const struct http_req *req, const char *m)
{
    return strcmp(req->method, m) == 0;
}

static enum srv_route not_allowed(struct http_resp *resp, enum srv_route route, const char *allow)
{
    snprintf(resp->allow, sizeof resp->allow, "%s", allow);
    reply_error(resp, 405, "method_not_allowed", "method not allowed here (allowed: %s)", allow);
    return route;
}

/* Copies the segment at *p (up to '/') into out; 0 when empty or too long. */
static int segment(const char **p, char *out, size_t max)
{
    size_t n = strcspn(*p, "/");
    if (n == 0 || n >= max)
        return 0;
    memcpy(out, *p, n);
    out[n] = 0;
    *p += n;
    return 1;
}

static enum srv_route project_paths(struct srv *s, const char *p, struct http_req *req, struct http_resp *resp)
{
    char name[128];
    int get = method_is(req, "GET") || method_is(req, "HEAD");
    if (!*p || !strcmp(p, "/")) {
        if (method_is(req, "POST"))
            route_project_create(s, req, resp);
        else if (get)
            route_project_list(s, req, resp);
        else
            return not_allowed(resp, ROUTE_PROJECTS, "GET, POST");
        return ROUTE_PROJECTS;
    }
    p++;
    if (!segment(&p, name, sizeof name))
        return ROUTE_NONE;
    if (!*p) {
        if (get)
            route_project_get(s, name, req, resp);
        else if (method_is(req, "PATCH"))
            route_project_patch(s, name, req, resp);
        else if (method_is(req, "DELETE"))
            route_project_delete(s, name, req, resp);
        else
            return not_allowed(resp, ROUTE_PROJECT, "GET, PATCH, DELETE");
        return ROUTE_PROJECT;
    }
    if (!strcmp(p, "/builds")) {
        if (!get)
            return not_allowed(resp, ROUTE_PROJECT_BUILDS, "GET");
        route_project_builds(s, name, req, resp);
        return ROUTE_PROJECT_BUILDS;
    }
    if (!strcmp(p, "/releases") || !strcmp(p, "/releases/")) {
        if (!get)
            return not_allowed(resp, ROUTE_PROJECT_RELEASES, "GET");
        route_release_list(s, name, req, resp);
        return ROUTE_PROJECT_RELEASES;
    }
    /* A tag may hold '/': everything between /releases/ and /release.yaml. */
    static const char prefix[] = "/releases/", suffix[] = "/release.yaml";
    size_t n = strlen(p), np = sizeof prefix - 1, ns = sizeof suffix - 1;
    if (n > np + ns && !strncmp(p, prefix, np) && !strcmp(p + n - ns, suffix)) {
        char tag[256];
        if (n - np - ns >= sizeof tag) {
            reply_error(resp, 400, "invalid_request", "tag too long");
            return ROUTE_PROJECT_RELEASE;
        }
        memcpy(tag, p + np, n - np - ns);
        tag[n - np - ns] = 0;
        if (!get)
            return not_allowed(resp, ROUTE_PROJECT_RELEASE, "GET");
        route_release_file(s, name, tag, req, resp);
        return ROUTE_PROJECT_RELEASE;
    }
    return ROUTE_NONE;
}

enum srv_route route_farm(struct srv *s, const char *path, struct http_req *req, struct http_resp *resp)
{
    if (!strncmp(path, "/projects", 9) && (path[9] == 0 || path[9] == '/'))
        return project_paths(s, path + 9, req, resp);
    if (!strcmp(path, "/audit")) {
        if (!method_is(req, "GET"))
            return not_allowed(resp, ROUTE_AUDIT, "GET");
        route_audit(s, req, resp);
        return ROUTE_AUDIT;
    }
    if (!strncmp(path, "/hooks/", 7)) {
        const char *p = path + 7;
        char host[16], project[128];
        if (!segment(&p, host, sizeof host) || *p++ != '/' || !segment(&p, project, sizeof project) || *p)
            return ROUTE_NONE;
        if (!method_is(req, "POST"))
            return not_allowed(resp, ROUTE_HOOK, "POST");
        route_hook(s, host, project, req, resp);
        return ROUTE_HOOK;
    }
    return ROUTE_NONE;
}

json_t *farm_json_body(struct http_req *req, struct http_resp *resp)
{
    const char *ct = req->content_type;
    size_t n = ct ? strcspn(ct, "; \t") : 0;
    if (n != 16 || strncasecmp(ct, "application/json", n) != 0) {
        reply_error(resp, 415, "unsupported_media_type", "send application/json");
        return NULL;
    }
    json_error_t je;
    json_t *doc = req->body ? json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!doc) {
        if (req->body)
            reply_error(resp, 400, "invalid_json", "invalid JSON at line %d column %d: %s", je.line, je.column,
                        je.text);
        else
            reply_error(resp, 400, "invalid_json", "empty body: send a JSON object");
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        reply_error(resp, 400, "invalid_request", "the body must be a JSON object");
        return NULL;
    }
    return doc;
}

void farm_audit(struct srv *s, struct kf_db *db, const char *actor, const char *action, const char *kind,
                const char *id, json_t *detail)
{
    char err[KF_ERRLEN], target[200];
    (void)s;
    snprintf(target, sizeof target, "%s:%s", kind, id);
    if (kf_audit_add(db, actor, action, target, detail, err))
        fprintf(stderr, "kofarm-server: audit %s %s: %s\n", action, target, err);
    json_decref(detail);
}
