/* Method + path to handler. /v1/X and /X answer the same (except that a
 * browser navigating to /X gets the web page, routes_web.c); unknown paths
 * are 404 and known paths with another method 405, both in JSON. The job
 * routes take the kind from the collection name: /v1/builds and
 * /v1/resolves share them; release.yaml is a resolve's only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* Collections served, and their job kind. */
static const struct {
    const char *collection;
    const char *kind;
} collections[] = {{"builds", "build"}, {"resolves", "resolve"}};

/* A positive decimal job id, else 0. */
static int64_t parse_id(const char *s, size_t len)
{
    if (len == 0 || len > 18 || strspn(s, "0123456789") < len)
        return 0;
    char buf[20];
    memcpy(buf, s, len);
    buf[len] = 0;
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    return errno || v <= 0 ? 0 : (int64_t)v;
}

static int method_is(const struct http_req *req, const char *m)
{
    return strcmp(req->method, m) == 0;
}

static void not_allowed(struct http_resp *resp, const char *allow)
{
    snprintf(resp->allow, sizeof resp->allow, "%s", allow);
    reply_error(resp, 405, "method_not_allowed", "method not allowed here (allowed: %s)", allow);
}

typedef void (*ops_fn)(struct srv *, struct http_req *, struct http_resp *);

static enum srv_route route_ops(struct srv *s, const char *path, struct http_req *req, struct http_resp *resp)
{
    static const struct {
        const char *path;
        enum srv_route route;
        ops_fn fn;
    } ops[] = {
        {"/healthz", ROUTE_HEALTHZ, route_healthz},
        {"/readyz", ROUTE_READYZ, route_readyz},
        {"/metrics", ROUTE_METRICS, route_metrics},
        {"/openapi.yaml", ROUTE_OPENAPI, route_openapi},
    };
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        if (strcmp(path, ops[i].path) != 0)
            continue;
        if (method_is(req, "GET") || method_is(req, "HEAD"))
            ops[i].fn(s, req, resp);
        else
            not_allowed(resp, "GET");
        return ops[i].route;
    }
    return ROUTE_NONE;
}

/* The resolve variant of a job route (metrics label it apart). */
static enum srv_route kind_route(const char *kind, enum srv_route route)
{
    if (strcmp(kind, "resolve") != 0 || route < ROUTE_JOBS || route > ROUTE_JOB_RETRY)
        return route;
    return (enum srv_route)(route + (ROUTE_RESOLVES - ROUTE_JOBS));
}

/* "/builds", "/builds/{id}", "/builds/{id}/(log|cancel|retry)", and
 * "/resolves/..." the same plus "/resolves/{id}/release.yaml". */
static enum srv_route route_jobs(struct srv *s, const char *path, struct http_req *req, struct http_resp *resp)
{
    const char *p = path + 1;
    size_t clen = strcspn(p, "/");
    const char *kind = NULL;
    for (size_t i = 0; i < sizeof collections / sizeof *collections; i++)
        if (strlen(collections[i].collection) == clen && !strncmp(p, collections[i].collection, clen))
            kind = collections[i].kind;
    if (!kind)
        return ROUTE_NONE;
    p += clen;
    if (!*p || !strcmp(p, "/")) {
        if (method_is(req, "POST"))
            route_job_submit(s, kind, req, resp);
        else if (method_is(req, "GET"))
            route_job_list(s, kind, req, resp);
        else
            not_allowed(resp, "GET, POST");
        return kind_route(kind, ROUTE_JOBS);
    }
    p++;
    size_t idlen = strcspn(p, "/");
    const char *rest = p + idlen;
    enum srv_route route = !*rest ? ROUTE_JOB
                           : !strcmp(rest, "/log") ? ROUTE_JOB_LOG
                           : !strcmp(rest, "/cancel") ? ROUTE_JOB_CANCEL
                           : !strcmp(rest, "/retry") ? ROUTE_JOB_RETRY
                           : !strcmp(rest, "/release.yaml") && !strcmp(kind, "resolve") ? ROUTE_RESOLVE_RELEASE
                                                     : ROUTE_NONE;
    if (route == ROUTE_NONE)
        return ROUTE_NONE;
    int read = route == ROUTE_JOB || route == ROUTE_JOB_LOG || route == ROUTE_RESOLVE_RELEASE;
    int head_ok = route == ROUTE_RESOLVE_RELEASE && method_is(req, "HEAD");
    if (read ? !method_is(req, "GET") && !head_ok : !method_is(req, "POST")) {
        not_allowed(resp, route == ROUTE_RESOLVE_RELEASE ? "GET, HEAD" : read ? "GET" : "POST");
        return kind_route(kind, route);
    }
    int64_t id = parse_id(p, idlen);
    if (!id) {
        reply_error(resp, 400, "invalid_request", "job id must be a positive decimal number");
        return kind_route(kind, route);
    }
    if (route == ROUTE_RESOLVE_RELEASE)
        route_job_release(s, kind, id, req, resp);
    else if (route == ROUTE_JOB)
        route_job_get(s, kind, id, req, resp);
    else if (route == ROUTE_JOB_LOG)
        route_job_log(s, kind, id, req, resp);
    else if (route == ROUTE_JOB_CANCEL)
        route_job_cancel(s, kind, id, req, resp);
    else
        route_job_retry(s, kind, id, req, resp);
    return kind_route(kind, route);
}

void srv_handle(void *ctx, struct http_req *req, struct http_resp *resp)
{
    struct srv *s = ctx;
    const char *path = req->path;
    if (!strncmp(path, "/v1/", 4))
        path += 3;
    enum srv_route route = ROUTE_NONE;
    int probe = !strcmp(path, "/healthz") || !strcmp(path, "/readyz");
    if (!probe && !ratelimit_check(s->limits, req, resp)) {
        /* 429 already in resp */
    } else if (req->too_many_query) {
        reply_error(resp, 400, "invalid_request", "more than %d query parameters", HTTP_MAX_QUERY);
    } else if ((route = route_web(s, req, resp)) == ROUTE_NONE &&
               (route = route_ops(s, path, req, resp)) == ROUTE_NONE &&
               (route = route_jobs(s, path, req, resp)) == ROUTE_NONE &&
               (route = route_farm(s, path, req, resp)) == ROUTE_NONE) {
        reply_error(resp, 404, "not_found", "no such endpoint");
    }
    if (resp->status == 0)
        reply_error(resp, 500, "internal", "no response");
    metrics_count(route, resp->status);
}
