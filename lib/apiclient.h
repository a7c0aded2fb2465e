/* The kofarm REST API client (for the CLI's remote mode): submit builds as
 * JSON or as an uploaded tar.gz, read jobs, stream logs, cancel. Errors the
 * server sends as {"error": {"code", "message"}} come back as kf_rc with
 * the server's message. Not thread-safe: one client per thread. */
#ifndef KF_APICLIENT_H
#define KF_APICLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"

#define KF_API_BODY_MAX ((size_t)16 << 20) /* a JSON answer */
#define KF_API_URL_MAX 8192
#define KF_API_ID_MAX 64

struct kf_api;

struct kf_api_opts {
    const char *server;         /* http(s)://host[:port][/prefix]; required */
    const char *token;          /* NULL: no Authorization header */
    const volatile int *cancel; /* nonzero aborts a transfer -> KF_ECANCELED */
    int timeout_ms;             /* per request, except log streaming; 0 = 60 s */
};

/* Checks the server URL (scheme http or https, a host, no query, fragment
 * or credentials) and makes a client (kf_api_free). KF_EINVAL with a
 * message naming the URL when it is not usable. */
int kf_api_new(const struct kf_api_opts *o, struct kf_api **out, char *err) KF_MUST_CHECK;
void kf_api_free(struct kf_api *api);
/* The server URL without trailing "/" (owned by api). */
const char *kf_api_server(const struct kf_api *api);

/* A query string being built; values are percent-encoded. */
struct kf_api_query {
    char *s;    /* owned; "" or "a=b&c=d" */
    size_t len;
};
void kf_api_query_init(struct kf_api_query *q);
int kf_api_query_add(struct kf_api_query *q, const char *name, const char *value) KF_MUST_CHECK;
void kf_api_query_free(struct kf_api_query *q);

/* POST /v1/builds with the tar.gz data as the body (Content-Type
 * application/gzip) and the options in query. idempotency_key (may be
 * NULL) is sent as Idempotency-Key, so the request is retried once after a
 * connection failure without making two jobs. *job: the answer (caller
 * decrefs). */
int kf_api_submit_upload(struct kf_api *api, const struct kf_api_query *query, const void *data, size_t len,
                         const char *idempotency_key, json_t **job, char *err) KF_MUST_CHECK;
/* POST /v1/builds with a JSON request body. */
int kf_api_submit_json(struct kf_api *api, const json_t *request, const char *idempotency_key, json_t **job,
                       char *err) KF_MUST_CHECK;
/* Which collection the job calls use: "builds" (the default) or
 * "resolves". KF_EINVAL for anything else. */
int kf_api_set_collection(struct kf_api *api, const char *collection) KF_MUST_CHECK;
const char *kf_api_collection(const struct kf_api *api);

/* GET /v1/<collection>/{id}/<name> (e.g. release.yaml) into *out (a buffer
 * from kf_buf_init, replaced), at most max bytes (KF_ETOOBIG beyond). */
struct kf_buf;
int kf_api_get_file(struct kf_api *api, const char *id, const char *name, size_t max, struct kf_buf *out,
                    char *err) KF_MUST_CHECK;

/* GET /v1/builds/{id} (or the collection's). */
int kf_api_get_job(struct kf_api *api, const char *id, json_t **job, char *err) KF_MUST_CHECK;
/* POST /v1/builds/{id}/cancel; *job may be NULL. */
int kf_api_cancel(struct kf_api *api, const char *id, json_t **job, char *err) KF_MUST_CHECK;

/* Called with each piece of log text as it arrives (not split at lines). */
typedef void (*kf_api_log_fn)(void *ctx, const char *data, size_t len);

/* GET /v1/builds/{id}/log (?follow=1 when follow: until the job ends).
 * The first skip bytes are not passed on (resuming after a dropped
 * stream); *received (may be NULL) gets the bytes the server sent. */
int kf_api_log(struct kf_api *api, const char *id, int follow, size_t skip, kf_api_log_fn fn, void *ctx,
               size_t *received, char *err) KF_MUST_CHECK;

/* 1 for queued and running, 0 for the end states, -1 for anything else. */
int kf_api_state_is_active(const char *state);
/* The job's id as text ("12"; ids may be numbers or strings); 0 when it has none that fits. */
int kf_api_job_id(const json_t *job, char out[KF_API_ID_MAX]) KF_MUST_CHECK;
/* 1 when id is a plausible job id (1..63 of [A-Za-z0-9_-]). */
int kf_api_id_ok(const char *id);

#endif
