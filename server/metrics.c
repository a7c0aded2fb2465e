/* kofarm_http_requests_total{route,code}: counted in-process with atomic
 * counters per route template (never the raw path: ids would explode the
 * label set) and status. */
#include <stdatomic.h>
#include <stdio.h>

#include "buf.h"
#include "server.h"

static const int codes[] = {200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503};
#define N_CODES (sizeof codes / sizeof *codes)

static const char *const route_names[ROUTE_COUNT] = {
    [ROUTE_NONE] = "other",           [ROUTE_HEALTHZ] = "/healthz",
    [ROUTE_READYZ] = "/readyz",       [ROUTE_METRICS] = "/metrics",
    [ROUTE_WEB] = "/web",
    [ROUTE_OPENAPI] = "/openapi.yaml", [ROUTE_JOBS] = "/v1/builds",
    [ROUTE_JOB] = "/v1/builds/{id}",  [ROUTE_JOB_LOG] = "/v1/builds/{id}/log",
    [ROUTE_JOB_CANCEL] = "/v1/builds/{id}/cancel", [ROUTE_JOB_RETRY] = "/v1/builds/{id}/retry",
    [ROUTE_RESOLVES] = "/v1/resolves", [ROUTE_RESOLVE] = "/v1/resolves/{id}",
    [ROUTE_RESOLVE_LOG] = "/v1/resolves/{id}/log", [ROUTE_RESOLVE_CANCEL] = "/v1/resolves/{id}/cancel",
    [ROUTE_RESOLVE_RETRY] = "/v1/resolves/{id}/retry", [ROUTE_RESOLVE_RELEASE] = "/v1/resolves/{id}/release.yaml",
    [ROUTE_PROJECTS] = "/v1/projects", [ROUTE_PROJECT] = "/v1/projects/{name}",
    [ROUTE_PROJECT_RELEASES] = "/v1/projects/{name}/releases",
    [ROUTE_PROJECT_RELEASE] = "/v1/projects/{name}/releases/{tag}/release.yaml",
    [ROUTE_PROJECT_BUILDS] = "/v1/projects/{name}/builds",
    [ROUTE_HOOK] = "/v1/hooks/{host}/{project}", [ROUTE_AUDIT] = "/v1/audit",
};

/* The last column counts any other status. */
static atomic_ullong counts[ROUTE_COUNT][N_CODES + 1];

void metrics_count(enum srv_route route, int status)
{
    size_t c = N_CODES;
    for (size_t i = 0; i < N_CODES; i++)
        if (codes[i] == status)
            c = i;
    if ((unsigned)route >= ROUTE_COUNT)
        route = ROUTE_NONE;
    atomic_fetch_add_explicit(&counts[route][c], 1, memory_order_relaxed);
}

int metrics_http_text(struct kf_buf *b)
{
    int rc = kf_buf_append_str(b, "# HELP kofarm_http_requests_total HTTP requests by route template and status.\n"
                                  "# TYPE kofarm_http_requests_total counter\n");
    for (size_t r = 0; !rc && r < ROUTE_COUNT; r++)
        for (size_t c = 0; !rc && c <= N_CODES; c++) {
            unsigned long long n = atomic_load_explicit(&counts[r][c], memory_order_relaxed);
            if (n == 0)
                continue;
            if (c == N_CODES)
                rc = kf_buf_appendf(b, "kofarm_http_requests_total{route=\"%s\",code=\"other\"} %llu\n",
                                    route_names[r], n);
            else
                rc = kf_buf_appendf(b, "kofarm_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
                                    route_names[r], codes[c], n);
        }
    return rc;
}
