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
};

/* ---- dbpool.c: connections shared by request threads ---- */
struct dbpool;
int dbpool_new(const char *url, int size, struct dbpool **out, char *err) KF_MUST_CHECK;
void dbpool_free(struct dbpool *p);
/* Blocks until a connection is free (opening it on first use). KF_ENET when
 * the database cannot be reached. Give it back with dbpool_put. */
int dbpool_get(struct dbpool *p, struct kf_db **db, char *err) KF_MUST_CHECK;
void dbpool_put(struct dbpool *p, struct kf_db *db);

/* ---- jobcache.c: finished jobs' JSON (they never change) ---- */
struct jobcache;
struct jobcache *jobcache_new(size_t capacity);
void jobcache_free(struct jobcache *c);
/* A malloc'd copy of the cached text of job id, or NULL. */
char *jobcache_get(struct jobcache *c, int64_t id, size_t *len);
void jobcache_put(struct jobcache *c, int64_t id, const char *text, size_t len);

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
    ROUTE_COUNT
};
void metrics_count(enum srv_route route, int status);
/* Appends kofarm_http_requests_total lines to b. */
struct kf_buf;
int metrics_http_text(struct kf_buf *b) KF_MUST_CHECK;

struct srv {
    struct srv_config cfg;
    struct dbpool *pool;
    struct jobcache *jobs;
    struct authcache *auth;
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

/* ---- routes ---- */
void route_healthz(struct srv *s, struct http_req *req, struct http_resp *resp);
void route_readyz(struct srv *s, struct http_req *req, struct http_resp *resp);
void route_metrics(struct srv *s, struct http_req *req, struct http_resp *resp);
void route_openapi(struct srv *s, struct http_req *req, struct http_resp *resp);
/* kind is "build" (or "resolve" once resolves are served). */
void route_job_submit(struct srv *s, const char *kind, struct http_req *req, struct http_resp *resp);
void route_job_list(struct srv *s, const char *kind, struct http_req *req, struct http_resp *resp);
void route_job_get(struct srv *s, const char *kind, int64_t id, struct http_req *req, struct http_resp *resp);
void route_job_cancel(struct srv *s, const char *kind, int64_t id, struct http_req *req, struct http_resp *resp);
void route_job_retry(struct srv *s, const char *kind, int64_t id, struct http_req *req, struct http_resp *resp);
void route_job_log(struct srv *s, const char *kind, int64_t id, struct http_req *req, struct http_resp *resp);

/* The job's JSON text for GET (from the cache when finished): *text
 * malloc'd; KF_ENOTFOUND also when the job is of another kind. */
int jobs_fetch_text(struct srv *s, struct kf_db *db, const char *kind, int64_t id, char **text, size_t *len,
                    char *err) KF_MUST_CHECK;

#endif
