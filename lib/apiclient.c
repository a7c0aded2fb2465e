/* kofarm API client over libcurl: one request at a time, capped answers,
 * the server's JSON errors turned into kf_rc and text, retries only where
 * a repeat cannot do harm (reads, cancel, a submit with an idempotency key). */
#include "apiclient.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"

#define DEFAULT_TIMEOUT_MS 60000
#define CONNECT_TIMEOUT_S 15
#define UPLOAD_STALL_S 60
#define RETRY_DELAY_MS 500
#define ERRBODY_MAX ((size_t)64 << 10)
#define USER_AGENT "kofarm-cli/0.1"

struct kf_api {
    char *server;               /* without trailing "/" */
    char *auth_header;          /* "Authorization: Bearer ..." or NULL */
    const volatile int *cancel;
    int timeout_ms;
    CURL *curl;                 /* reused: keeps the connection */
    char collection[16];        /* "builds" or "resolves" */
    char submit_path[32];       /* "/v1/" + collection */
};

struct request {
    const char *method;
    const char *path;           /* "/v1/builds/12" */
    const char *query;          /* NULL or without "?" */
    const char *content_type;   /* with a body */
    const void *body;
    size_t body_len;
    const char *idempotency_key;
    const char *accept;
    int stream;                 /* log streaming: no total timeout, body to fn */
    kf_api_log_fn fn;
    void *ctx;
    size_t skip;
    size_t body_max;            /* 0: KF_API_BODY_MAX */
};

struct xfer {
    struct kf_api *api;
    const struct request *req;
    struct kf_buf body;         /* the answer (JSON or an error) */
    size_t received;            /* streamed bytes */
    int too_big;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- setup */

static int check_server_url(const char *server, char *err)
{
    int rc = KF_EINVAL;
    char *scheme = NULL, *host = NULL, *user = NULL, *query = NULL, *fragment = NULL;
    CURLU *u = curl_url();
    if (!u)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    if (strlen(server) > 2048 || curl_url_set(u, CURLUPART_URL, server, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        rc = kf_fail(err, KF_EINVAL, "the server \"%.200s\" is not an http:// or https:// URL", server);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        rc = kf_fail(err, KF_EINVAL, "the server URL \"%.200s\" has no host", server);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) == CURLUE_OK) {
        rc = kf_fail(err, KF_EINVAL, "the server URL \"%.200s\" must not have credentials, a query or a fragment "
                     "(give the token with --token or KOFARM_TOKEN)", server);
        goto out;
    }
    rc = KF_OK;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(query);
    curl_free(fragment);
    curl_url_cleanup(u);
    return rc;
}

int kf_api_new(const struct kf_api_opts *o, struct kf_api **out, char *err)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return kf_fail(err, KF_EINTERNAL, "curl_global_init: %s", curl_easy_strerror(curl_init_rc));
    if (!o->server || !o->server[0])
        return kf_fail(err, KF_EINVAL, "no server given");
    int rc = check_server_url(o->server, err);
    if (rc != KF_OK)
        return rc;
    if (o->token) {
        size_t n = strlen(o->token);
        if (n == 0 || n > 1024)
            return kf_fail(err, KF_EINVAL, "the token is empty or longer than 1024 bytes");
        for (size_t i = 0; i < n; i++)
            if (o->token[i] <= ' ' || o->token[i] == 0x7f)
                return kf_fail(err, KF_EINVAL, "the token contains a space or a control character");
    }
    struct kf_api *api = calloc(1, sizeof *api);
    if (!api)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    api->cancel = o->cancel;
    api->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    snprintf(api->collection, sizeof api->collection, "builds");
    snprintf(api->submit_path, sizeof api->submit_path, "/v1/builds");
    if (!(api->server = strdup(o->server)) ||
        (o->token && asprintf(&api->auth_header, "Authorization: Bearer %s", o->token) < 0) ||
        !(api->curl = curl_easy_init())) {
        api->auth_header = NULL;
        kf_api_free(api);
        return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    size_t len = strlen(api->server);
    while (len > 0 && api->server[len - 1] == '/')
        api->server[--len] = 0;
    *out = api;
    return KF_OK;
}

void kf_api_free(struct kf_api *api)
{
    if (!api)
        return;
    if (api->curl)
        curl_easy_cleanup(api->curl);
    free(api->server);
    if (api->auth_header)
        memset(api->auth_header, 0, strlen(api->auth_header));
    free(api->auth_header);
    free(api);
}

const char *kf_api_server(const struct kf_api *api)
{
    return api->server;
}

/* ---------------------------------------------------------------- query */

void kf_api_query_init(struct kf_api_query *q)
{
    q->s = NULL;
    q->len = 0;
}

void kf_api_query_free(struct kf_api_query *q)
{
    free(q->s);
    kf_api_query_init(q);
}

int kf_api_query_add(struct kf_api_query *q, const char *name, const char *value)
{
    char *en = curl_easy_escape(NULL, name, 0);
    char *ev = curl_easy_escape(NULL, value, 0);
    int rc = KF_ENOMEM;
    if (!en || !ev)
        goto out;
    size_t add = (q->len ? 1 : 0) + strlen(en) + 1 + strlen(ev);
    if (q->len + add + 1 > KF_API_URL_MAX) {
        rc = KF_ETOOBIG;
        goto out;
    }
    char *grown = realloc(q->s, q->len + add + 1);
    if (!grown)
        goto out;
    q->s = grown;
    q->len += (size_t)snprintf(q->s + q->len, add + 1, "%s%s=%s", q->len ? "&" : "", en, ev);
    rc = KF_OK;
out:
    curl_free(en);
    curl_free(ev);
    return rc;
}

/* ---------------------------------------------------------------- one request */

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(x->api->curl, CURLINFO_RESPONSE_CODE, &status);
    if (x->req->stream && status >= 200 && status < 300) {
        size_t skip = 0;
        if (x->received < x->req->skip)
            skip = x->req->skip - x->received < len ? x->req->skip - x->received : len;
        x->received += len;
        if (len > skip && x->req->fn)
            x->req->fn(x->req->ctx, data + skip, len - skip);
        return len;
    }
    if (kf_buf_append(&x->body, data, len) != KF_OK) {
        x->too_big = 1;
        return 0;
    }
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct xfer *x = ud;
    return x->api->cancel && *x->api->cancel ? 1 : 0;
}

static int status_rc(long status)
{
    switch (status) {
    case 400: case 405: case 409: case 422: return KF_EINVAL;
    case 401: return KF_EAUTH;
    case 403: return KF_EDENIED;
    case 404: return KF_ENOTFOUND;
    case 413: return KF_ETOOBIG;
    case 415: return KF_EUNSUPPORTED;
    case 429: case 502: case 503: case 504: return KF_ENET;
    default: return status >= 500 ? KF_EINTERNAL : KF_EINVAL;
    }
}

/* The error of a non-2xx answer: the server's {"error": {...}} when it sent one. */
static int answer_error(const struct kf_api *api, const struct request *req, long status, const struct kf_buf *body,
                        char *err)
{
    int rc = status_rc(status);
    json_t *doc = body->len ? json_loadb((const char *)body->data, body->len, 0, NULL) : NULL;
    json_t *e = json_is_object(doc) ? json_object_get(doc, "error") : NULL;
    const char *message = json_string_value(json_object_get(e, "message"));
    const char *code = json_string_value(json_object_get(e, "code"));
    if (message)
        kf_fail(err, rc, "%s (HTTP %ld%s%.100s)", message, status, code ? ", " : "", code ? code : "");
    else
        kf_fail(err, rc, "%s %s%s: HTTP %ld without a kofarm error (is %s a kofarm server?)", req->method,
                api->server, req->path, status, api->server);
    json_decref(doc);
    return rc;
}

static int perform(struct kf_api *api, const struct request *req, struct xfer *x, long *status, char *err)
{
    int rc = KF_ENOMEM;
    char url[KF_API_URL_MAX + 2048];
    char curl_err[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL, *h;
    char line[512];
    if (snprintf(url, sizeof url, "%s%s%s%s", api->server, req->path, req->query && *req->query ? "?" : "",
                 req->query ? req->query : "") >= (int)sizeof url)
        return kf_fail(err, KF_ETOOBIG, "the request URL is too long");
    if (api->auth_header && !(headers = curl_slist_append(headers, api->auth_header)))
        goto oom;
    snprintf(line, sizeof line, "Accept: %s", req->accept);
    if (!(h = curl_slist_append(headers, line)))
        goto oom;
    headers = h;
    if (req->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", req->content_type);
        if (!(h = curl_slist_append(headers, line)))
            goto oom;
        headers = h;
    }
    if (req->idempotency_key) {
        snprintf(line, sizeof line, "Idempotency-Key: %.255s", req->idempotency_key);
        if (!(h = curl_slist_append(headers, line)))
            goto oom;
        headers = h;
    }
    CURL *c = api->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    if (req->stream) {
        /* A quiet build sends nothing for minutes: no total or stall limit. */
    } else if (req->body_len > ((size_t)1 << 20)) {
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)UPLOAD_STALL_S);
    } else {
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)api->timeout_ms);
    }
    if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body_len ? req->body : "");
    }
    CURLcode cc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (cc == CURLE_ABORTED_BY_CALLBACK && api->cancel && *api->cancel)
        rc = kf_fail(err, KF_ECANCELED, "canceled");
    else if (x->too_big)
        rc = kf_fail(err, KF_ETOOBIG, "the answer of %s%s is larger than %zu bytes", api->server, req->path,
                     x->body.max);
    else if (cc != CURLE_OK)
        rc = kf_fail(err, KF_ENET, "cannot reach the kofarm server at %s: %s", api->server,
                     curl_err[0] ? curl_err : curl_easy_strerror(cc));
    else
        rc = KF_OK;
    curl_slist_free_all(headers);
    return rc;
oom:
    curl_slist_free_all(headers);
    return kf_fail(err, KF_ENOMEM, "out of memory");
}

/* Runs req up to attempts times while it fails for a transient reason;
 * a 2xx answer's body is left in *body (JSON requests). */
static int run(struct kf_api *api, const struct request *req, int attempts, struct kf_buf *body, size_t *received,
               char *err)
{
    int rc = KF_EINTERNAL;
    for (int attempt = 1;; attempt++) {
        struct xfer x = {.api = api, .req = req};
        kf_buf_init(&x.body, req->stream ? ERRBODY_MAX : req->body_max ? req->body_max : KF_API_BODY_MAX);
        long status = 0;
        rc = perform(api, req, &x, &status, err);
        if (received)
            *received += x.received;
        if (rc == KF_OK && (status < 200 || status > 299))
            rc = answer_error(api, req, status, &x.body, err);
        if (rc == KF_OK && body) {
            kf_buf_free(body);
            *body = x.body;
            kf_buf_init(&x.body, 0);
        }
        kf_buf_free(&x.body);
        /* A stream that delivered something is resumed by the caller. */
        if (rc != KF_ENET || attempt >= attempts || (received && *received))
            return rc;
        sleep_ms(RETRY_DELAY_MS * attempt);
        if (api->cancel && *api->cancel)
            return kf_fail(err, KF_ECANCELED, "canceled");
    }
}

static int json_answer(const struct kf_buf *body, json_t **out, const char *what, char *err)
{
    json_error_t je;
    json_t *doc = json_loadb(body->len ? (const char *)body->data : "", body->len, 0, &je);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return kf_fail(err, KF_EINVAL, "%s: the server's answer is not a JSON object (%s)", what, je.text);
    }
    *out = doc;
    return KF_OK;
}

static int job_request(struct kf_api *api, const struct request *req, int attempts, json_t **job, char *err)
{
    struct kf_buf body;
    kf_buf_init(&body, KF_API_BODY_MAX);
    if (job)
        *job = NULL;
    int rc = run(api, req, attempts, &body, NULL, err);
    if (rc == KF_OK && job)
        rc = json_answer(&body, job, req->path, err);
    kf_buf_free(&body);
    return rc;
}

/* ---------------------------------------------------------------- endpoints */

int kf_api_submit_upload(struct kf_api *api, const struct kf_api_query *query, const void *data, size_t len,
                         const char *idempotency_key, json_t **job, char *err)
{
    struct request req = {
        .method = "POST", .path = api->submit_path, .query = query ? query->s : NULL,
        .content_type = "application/gzip", .body = data, .body_len = len,
        .idempotency_key = idempotency_key, .accept = "application/json",
    };
    return job_request(api, &req, idempotency_key ? 2 : 1, job, err);
}

int kf_api_submit_json(struct kf_api *api, const json_t *request, const char *idempotency_key, json_t **job,
                       char *err)
{
    char *text = json_dumps(request, JSON_COMPACT);
    if (!text)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    struct request req = {
        .method = "POST", .path = api->submit_path, .content_type = "application/json", .body = text,
        .body_len = strlen(text), .idempotency_key = idempotency_key, .accept = "application/json",
    };
    int rc = job_request(api, &req, idempotency_key ? 2 : 1, job, err);
    free(text);
    return rc;
}

static int job_path(const struct kf_api *api, const char *id, const char *suffix, char *out, size_t size,
                    char *err)
{
    if (!kf_api_id_ok(id))
        return kf_fail(err, KF_EINVAL, "\"%.80s\" is not a job id", id);
    if (snprintf(out, size, "%s/%s%s", api->submit_path, id, suffix) >= (int)size)
        return kf_fail(err, KF_EINVAL, "the job id is too long");
    return KF_OK;
}

int kf_api_set_collection(struct kf_api *api, const char *collection)
{
    if (!collection || (strcmp(collection, "builds") != 0 && strcmp(collection, "resolves") != 0))
        return KF_EINVAL;
    snprintf(api->collection, sizeof api->collection, "%s", collection);
    snprintf(api->submit_path, sizeof api->submit_path, "/v1/%s", collection);
    return KF_OK;
}

const char *kf_api_collection(const struct kf_api *api)
{
    return api->collection;
}

int kf_api_get_file(struct kf_api *api, const char *id, const char *name, size_t max, struct kf_buf *out, char *err)
{
    char path[160], suffix[80];
    if (snprintf(suffix, sizeof suffix, "/%s", name) >= (int)sizeof suffix)
        return kf_fail(err, KF_EINVAL, "file name too long");
    int rc = job_path(api, id, suffix, path, sizeof path, err);
    if (rc != KF_OK)
        return rc;
    struct request req = {.method = "GET", .path = path, .accept = "*/*", .body_max = max};
    return run(api, &req, 3, out, NULL, err);
}

int kf_api_get_job(struct kf_api *api, const char *id, json_t **job, char *err)
{
    char path[128];
    int rc = job_path(api, id, "", path, sizeof path, err);
    if (rc != KF_OK)
        return rc;
    struct request req = {.method = "GET", .path = path, .accept = "application/json"};
    return job_request(api, &req, 3, job, err);
}

int kf_api_cancel(struct kf_api *api, const char *id, json_t **job, char *err)
{
    char path[128];
    int rc = job_path(api, id, "/cancel", path, sizeof path, err);
    if (rc != KF_OK)
        return rc;
    struct request req = {.method = "POST", .path = path, .accept = "application/json"};
    /* Cancel is idempotent: a repeat after a lost answer does no harm. */
    return job_request(api, &req, 2, job, err);
}

int kf_api_log(struct kf_api *api, const char *id, int follow, size_t skip, kf_api_log_fn fn, void *ctx,
               size_t *received, char *err)
{
    char path[128];
    size_t got = 0;
    int rc = job_path(api, id, "/log", path, sizeof path, err);
    if (rc != KF_OK)
        return rc;
    struct request req = {
        .method = "GET", .path = path, .query = follow ? "follow=1" : NULL, .accept = "text/plain",
        .stream = 1, .fn = fn, .ctx = ctx, .skip = skip,
    };
    rc = run(api, &req, 3, NULL, &got, err);
    if (received)
        *received = got;
    return rc;
}

/* ---------------------------------------------------------------- helpers */

int kf_api_state_is_active(const char *state)
{
    if (!state)
        return -1;
    if (strcmp(state, "queued") == 0 || strcmp(state, "running") == 0)
        return 1;
    if (strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 || strcmp(state, "canceled") == 0)
        return 0;
    return -1;
}

int kf_api_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= KF_API_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

int kf_api_job_id(const json_t *job, char out[KF_API_ID_MAX])
{
    const json_t *id = json_object_get(job, "id");
    out[0] = 0;
    if (json_is_integer(id)) {
        if (json_integer_value(id) < 0)
            return 0;
        snprintf(out, KF_API_ID_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
        return 1;
    }
    if (json_is_string(id) && kf_api_id_ok(json_string_value(id))) {
        snprintf(out, KF_API_ID_MAX, "%s", json_string_value(id));
        return 1;
    }
    return 0;
}
