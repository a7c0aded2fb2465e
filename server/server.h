/* kofarm-server's shared state and the pieces request handlers use: the
 * configuration, the database pool, the caches and the metrics. Handlers
 * see requests and responses only through http.h (no libmicrohttpd). */
#ifndef KF_SERVER_H
#define KF_SERVER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "error.h"
#include "http.h"

struct srv_config {
    const char *database_url;
    const char *listen;       /* host:port */
    const char *repo;         /* default destination, NULL = the worker's */
    const char *default_base; /* default base image, NULL = the worker's */
    const char *share_dir;    /* migrations/, api/openapi.yaml, web/ */
    int public_read;
    int allow_file_urls;
    size_t max_upload;        /* bytes of an uploaded source */
    int pool_size;
    int access_log;           /* one line per request on stderr */
    double rate_limit, rate_burst; /* requests/s and bucket size per token and per address; 0 = off */
};

/* ---- dbpool.c: connections shared by request threads ---- */
struct dbpool;
int dbpool_new(const char *url, int size, struct dbpool **out, char *err) KF_MUST_CHECK;
void dbpool_free(struct dbpool *p);
/* Blocks until a connection is free (opening it on first use). KF_ENET when
 * the database cannot be reached. Give it back with dbpool_put. */
int dbpool_get(struct dbpool *p, struct kf_db **db, char *err) KF_MUST_CHECK;
void dbpool_put(struct dbpool *p, struct kf_db *db);

/* ---- jobcache.c: jobs' JSON (finished ones for good, others briefly) ---- */
struct jobcache;
struct jobcache *jobcache_new(size_t capacity);
void jobcache_free(struct jobcache *c);
/* A malloc'd copy of the cached text of job id, or NULL. */
char *jobcache_get(struct jobcache *c, int64_t id, size_t *len);
/* ttl_ms 0: kept until evicted (finished jobs); else for that long. */
void jobcache_put(struct jobcache *c, int64_t id, const char *text, size_t len, int ttl_ms);
void jobcache_drop(struct jobcache *c, int64_t id);

/* ---- auth.c ---- */
enum srv_scope { SCOPE_READ = 1, SCOPE_BUILD = 2, SCOPE_ADMIN = 4 };
struct authcache;
struct authcache *authcache_new(void);
void authcache_free(struct authcache *c);

/* ---- metrics.c: requests by route template and status ---- */
enum srv_route {
    ROUTE_NONE,
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_OPENAPI,
    ROUTE_WEB,      /* the page's files */
    ROUTE_JOBS,
    ROUTE_JOB,
    ROUTE_JOB_LOG,
    ROUTE_JOB_CANCEL,
    ROUTE_JOB_RETRY,
    /* The same routes under /v1/resolves, in the same order (route_jobs
     * adds ROUTE_RESOLVES - ROUTE_JOBS), and the resolve-only download. */
    ROUTE_RESOLVES,
    ROUTE_RESOLVE,
    ROUTE_RESOLVE_LOG,
    ROUTE_RESOLVE_CANCEL,
    ROUTE_RESOLVE_RETRY,
    ROUTE_RESOLVE_RELEASE,
    ROUTE_PROJECTS,
    ROUTE_PROJECT,
    ROUTE_PROJECT_RELEASES,
    ROUTE_PROJECT_RELEASE,
    ROUTE_PROJECT_BUILDS,
    ROUTE_HOOK,
    ROUTE_AUDIT,
    ROUTE_COUNT
};
void metrics_count(enum srv_route route, int status);
/* Appends kofarm_http_requests_total lines to b. */
struct kf_buf;
int metrics_http_text(struct kf_buf *b) KF_MUST_CHECK;

/* ---- ratelimit.c ---- */
struct ratelimit;
/* "RATE" or "RATE,BURST" (requests per second, bucket size; burst defaults
 * to max(1, ceil(RATE))): 1 and the values, else 0. */
int ratelimit_parse(const char *text, double *rate, double *burst);
struct ratelimit *ratelimit_new(double rate, double burst);
void ratelimit_free(struct ratelimit *rl);
/* 1 when req may proceed (rl NULL: always); else a 429 with Retry-After. */
int ratelimit_check(struct ratelimit *rl, const struct http_req *req, struct http_resp *resp);

struct srv {
    struct srv_config cfg;
    struct dbpool *pool;
    struct jobcache *jobs;
    struct authcache *auth;
    struct ratelimit *limits; /* NULL = no rate limit */
    volatile int stopping; /* set on SIGTERM: long responses end */
    char *openapi;         /* api/openapi.yaml, read at start (NULL if missing) */
    size_t openapi_len;
};

/* ---- router.c ---- */
/* Answers one request; the entry point http.c calls. */
void srv_handle(void *srv, struct http_req *req, struct http_resp *resp);

/* ---- routes_web.c: the web page from share_dir/web ---- */
/* Answers GET/HEAD of the page's paths (/, /web/FILE, and /projects,
 * /builds/{id}, /resolves/{id} when the Accept header prefers text/html
 * over JSON); returns ROUTE_NONE, leaving resp alone, for anything else. */
enum srv_route route_web(struct srv *s, struct http_req *req, struct http_resp *resp);

/* ---- reply.c: JSON responses and errors ---- */
void reply_json(struct http_resp *resp, int status, json_t *body); /* steals body */
void reply_text(struct http_resp *resp, int status, const char *content_type, char *text, size_t len); /* steals text */
void reply_error(struct http_resp *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The status and code for an engine error (KF_EINVAL 400, KF_ENOTFOUND 404,
 * KF_ETOOBIG 413, KF_ENET 503, else 500) with err as the message. */
void reply_rc(struct http_resp *resp, int rc, const char *err);

/* ---- auth.c ---- */
/* Checks the request's bearer token for scope; on refusal fills resp (401
 * or 403, or 503 when the database is down) and returns 0. requester
 * (128 bytes) gets the token name, "" when none was needed. */
int auth_check(struct srv *s, struct http_req *req, struct http_resp *resp, int scope, char requester[128]);
/* The same, with the project the token is limited to ("" = any). */
struct auth_who {
    char name[128];
    char project[128];
};
int auth_who(struct srv *s, struct http_req *req, struct http_resp *resp, int scope, struct auth_who *who);
/* 1 when who may act on project (NULL = no project); else a 403 in resp. */
int auth_project_ok(const struct auth_who *who, const char *project, struct http_resp *resp);

/* ---- routes ---- */
void route_healthz(struct srv *s, struct http_req *req, struct http_resp *resp);
void route_readyz(struct srv *s, struct http_req *req, struct http_resp *resp);
void route_metrics(struct srv *s, struct http_req *req, struct http_resp *resp);
void route_openapi(struct srv *s, struct http_req *req, struct http_resp *resp);
/* kind is "build" or "resolve". */
void route_job_submit(struct srv *s, const char *kind, struct http_req *req, struct http_resp *resp);
void route_job_list(struct srv *s, const char *kind, struct http_req *req, struct http_resp *resp);
void route_job_get(struct srv *s, const char *kind, int64_t id, struct http_req *req, struct http_resp *resp);
void route_job_cancel(struct srv *s, const char *kind, int64_t id, struct http_req *req, struct http_resp *resp);
void route_job_retry(struct srv *s, const char *kind, int64_t id, struct http_req *req, struct http_resp *resp);
void route_job_log(struct srv *s, const char *kind, int64_t id, struct http_req *req, struct http_resp *resp);
/* GET/HEAD /v1/resolves/{id}/release.yaml (routes_release.c). */
void route_job_release(struct srv *s, const char *kind, int64_t id, struct http_req *req, struct http_resp *resp);

/* ---- the team farm (routes_farm.c dispatches) ---- */
enum srv_route route_farm(struct srv *s, const char *path, struct http_req *req, struct http_resp *resp);
void route_project_create(struct srv *s, struct http_req *req, struct http_resp *resp);
void route_project_list(struct srv *s, struct http_req *req, struct http_resp *resp);
void route_project_get(struct srv *s, const char *name, struct http_req *req, struct http_resp *resp);
void route_project_patch(struct srv *s, const char *name, struct http_req *req, struct http_resp *resp);
void route_project_delete(struct srv *s, const char *name, struct http_req *req, struct http_resp *resp);
void route_hook(struct srv *s, const char *host, const char *project, struct http_req *req, struct http_resp *resp);
void route_release_list(struct srv *s, const char *project, struct http_req *req, struct http_resp *resp);
void route_release_file(struct srv *s, const char *project, const char *tag, struct http_req *req,
                        struct http_resp *resp);
void route_project_builds(struct srv *s, const char *project, struct http_req *req, struct http_resp *resp);
void route_audit(struct srv *s, struct http_req *req, struct http_resp *resp);
/* The request's JSON object body (application/json), or a 400/415 in resp and NULL. */
json_t *farm_json_body(struct http_req *req, struct http_resp *resp);
/* Best effort: a failed audit write is logged, never fails the request. */
void farm_audit(struct srv *s, struct kf_db *db, const char *actor, const char *action, const char *kind,
                const char *id, json_t *detail /* stolen */);

/* 1 when a job's JSON text is in who's project (or who has no limit). */
int jobs_text_visible(const struct auth_who *who, const char *text, size_t len);

/* The job's JSON text for GET (from the cache when finished): *text
 * malloc'd; KF_ENOTFOUND also when the job is of another kind. */
int jobs_fetch_text(struct srv *s, struct kf_db *db, const char *kind, int64_t id, char **text, size_t *len,
                    char *err) KF_MUST_CHECK;

#endif
