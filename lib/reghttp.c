/* One registry HTTP exchange over libcurl: capped bodies, the headers the
 * protocol needs, manual redirects (our Authorization stays with its
 * origin), and retries with backoff and jitter. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <jansson.h>

#include "reg_internal.h"

#define MAX_REDIRECTS 5
#define BACKOFF_BASE_MS 200
#define BACKOFF_MAX_MS 10000
#define RETRY_AFTER_MAX_S 60
#define SLEEP_SLICE_MS 20
#define CONNECT_TIMEOUT_S 30
#define STALL_TIME_S 60

/* The state of one curl_easy_perform. */
struct xfer {
    const struct kf_reg_req *req;
    struct kf_reg_resp *resp;
    const volatile int *cancel;
    int too_big;
};

long long kf_reg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kf_reg_resp_init(struct kf_reg_resp *r)
{
    memset(r, 0, sizeof *r);
    r->retry_after_s = -1;
    kf_buf_init(&r->errbody, KF_REG_ERRBODY_MAX);
}

/* Forgets one answer's headers (interim 1xx, a redirect, a retry). */
static void resp_clear(struct kf_reg_resp *r)
{
    free(r->location);
    free(r->www_authenticate);
    r->location = r->www_authenticate = NULL;
    r->status = 0;
    r->docker_digest[0] = r->content_type[0] = 0;
    r->retry_after_s = -1;
    kf_buf_reset(&r->errbody);
}

void kf_reg_resp_free(struct kf_reg_resp *r)
{
    resp_clear(r);
    kf_buf_free(&r->errbody);
}

static int header_is(const char *line, size_t len, const char *name, const char **value, size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
        return 0;
    const char *v = line + n + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *value = v;
    *vlen = (size_t)(end - v);
    return 1;
}

static char *dup_header(const char *v, size_t n)
{
    if (n > KF_REG_HEADER_MAX)
        return NULL;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, v, n);
        s[n] = 0;
    }
    return s;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    struct kf_reg_resp *r = x->resp;
    size_t len = size * nmemb;
    const char *v;
    size_t n;
    if (len > 5 && memcmp(line, "HTTP/", 5) == 0) {
        resp_clear(r);
        const char *sp = memchr(line, ' ', len);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    } else if (header_is(line, len, "Location", &v, &n)) {
        free(r->location);
        r->location = dup_header(v, n);
    } else if (header_is(line, len, "WWW-Authenticate", &v, &n)) {
        /* Keep a Bearer challenge over any other. */
        int is_bearer = n >= 6 && strncasecmp(v, "bearer", 6) == 0;
        if (!r->www_authenticate || (is_bearer && strncasecmp(r->www_authenticate, "bearer", 6) != 0)) {
            free(r->www_authenticate);
            r->www_authenticate = dup_header(v, n);
        }
    } else if (header_is(line, len, "Docker-Content-Digest", &v, &n)) {
        char d[KF_DIGEST_LEN];
        if (n < sizeof d) {
            memcpy(d, v, n);
            d[n] = 0;
            if (kf_digest_valid(d))
                memcpy(r->docker_digest, d, n + 1);
        }
    } else if (header_is(line, len, "Content-Type", &v, &n)) {
        size_t m = 0;
        while (m < n && v[m] != ';' && v[m] != ' ' && m + 1 < sizeof r->content_type) {
            r->content_type[m] = (char)tolower((unsigned char)v[m]);
            m++;
        }
        r->content_type[m] = 0;
    } else if (header_is(line, len, "Retry-After", &v, &n)) {
        if (n > 0 && n < 10 && strspn(v, "0123456789") >= n)
            r->retry_after_s = strtol(v, NULL, 10);
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * nmemb;
    if (x->resp->status / 100 != 2) {
        /* Error bodies only feed messages: keep what fits. */
        struct kf_buf *e = &x->resp->errbody;
        size_t room = e->max - e->len;
        if (room > 0 && kf_buf_append(e, data, len < room ? len : room) != KF_OK)
            kf_buf_reset(e); /* out of memory: no registry text in the message then */
        return len;
    }
    struct kf_buf *out = x->req->out;
    if (!out)
        return len;
    if (x->req->out_cap && (len > x->req->out_cap || out->len > x->req->out_cap - len)) {
        x->too_big = 1;
        return 0;
    }
    int rc = kf_buf_append(out, data, len);
    if (rc) {
        x->too_big = rc == KF_ETOOBIG;
        return 0;
    }
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct xfer *x = ud;
    return x->cancel && *x->cancel;
}

/* The URL without its query (upload URLs carry opaque state) for messages. */
static void url_for_message(const char *url, char *out, size_t size)
{
    snprintf(out, size, "%.*s", (int)strcspn(url, "?#"), url);
}

static int add_line(struct curl_slist **list, const char *line)
{
    struct curl_slist *h = curl_slist_append(*list, line);
    if (!h)
        return -1;
    *list = h;
    return 0;
}

/* Appends "name: value"; -1 when out of memory or too long. */
static int add_header(struct curl_slist **list, const char *name, const char *value)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: %s", name, value);
    if (n < 0 || (size_t)n >= sizeof line)
        return -1;
    return add_line(list, line);
}

/* An idle handle (reset, its connections kept) or a new one. */
static CURL *handle_take(struct kf_registry *reg)
{
    CURL *c = NULL;
    pthread_mutex_lock(&reg->lock);
    if (reg->n_pool > 0)
        c = reg->pool[--reg->n_pool];
    pthread_mutex_unlock(&reg->lock);
    if (c)
        curl_easy_reset(c);
    else
        c = curl_easy_init();
    return c;
}

static void handle_give(struct kf_registry *reg, CURL *c)
{
    pthread_mutex_lock(&reg->lock);
    if (reg->n_pool < KF_REG_POOL_MAX) {
        reg->pool[reg->n_pool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&reg->lock);
    if (c)
        curl_easy_cleanup(c);
}

static int perform_once(struct kf_registry *reg, const struct kf_reg_req *req, const char *url, int send_auth,
                        struct kf_reg_resp *resp, char *err)
{
    struct xfer x = {.req = req, .resp = resp, .cancel = reg->cancel};
    struct curl_slist *headers = NULL;
    char curl_err[CURL_ERROR_SIZE] = "", shown[512];
    int rc;
    CURL *c = handle_take(reg);
    if (!c)
        return kf_fail(err, KF_ENOMEM, "out of memory (curl)");
    /* "Expect:" drops curl's 100-continue round trip before bodies. */
    if (add_line(&headers, "Expect:") || (send_auth && add_line(&headers, req->auth)) ||
        (req->content_type && add_header(&headers, "Content-Type", req->content_type)) ||
        (req->accept && add_header(&headers, "Accept", req->accept))) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory (headers)");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_SHARE, reg->share);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)STALL_TIME_S);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kofarm/0.1");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (req->has_body) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body_len ? req->body : "");
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    }
    resp->sent_auth = send_auth;
    CURLcode cc = curl_easy_perform(c);
    url_for_message(url, shown, sizeof shown);
    if (cc == CURLE_OK) {
        rc = KF_OK;
    } else if (cc == CURLE_ABORTED_BY_CALLBACK && reg->cancel && *reg->cancel) {
        rc = kf_fail(err, KF_ECANCELED, "%s %s: canceled", req->method, shown);
    } else if (cc == CURLE_WRITE_ERROR && x.too_big) {
        rc = kf_fail(err, KF_ETOOBIG, "%s %s: body larger than %zu bytes", req->method, shown,
                     req->out_cap && req->out_cap < req->out->max ? req->out_cap : req->out->max);
    } else if (cc == CURLE_OUT_OF_MEMORY || cc == CURLE_WRITE_ERROR) {
        rc = kf_fail(err, KF_ENOMEM, "%s %s: out of memory", req->method, shown);
    } else {
        rc = kf_fail(err, KF_ENET, "cannot reach %s: %s", shown, curl_err[0] ? curl_err : curl_easy_strerror(cc));
    }
    if (rc == KF_OK && resp->status == 0)
        rc = kf_fail(err, KF_ENET, "%s %s: no HTTP status", req->method, shown);
out:
    curl_slist_free_all(headers);
    /* The handle must not point at our stack once pooled. */
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    handle_give(reg, c);
    return rc;
}

static int transient_status(long status)
{
    return status == 429 || (status >= 500 && status != 501 && status != 505);
}

static int is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

int kf_reg_backoff(struct kf_registry *reg, int attempt, long retry_after_s, char *err)
{
    static _Thread_local unsigned seed;
    if (!seed)
        seed = (unsigned)kf_reg_now_ms() ^ (unsigned)(size_t)&seed;
    long long delay;
    if (retry_after_s >= 0) {
        delay = (long long)(retry_after_s < RETRY_AFTER_MAX_S ? retry_after_s : RETRY_AFTER_MAX_S) * 1000;
    } else {
        delay = (long long)BACKOFF_BASE_MS << (attempt < 10 ? attempt : 10);
        if (delay > BACKOFF_MAX_MS)
            delay = BACKOFF_MAX_MS;
        /* Full jitter in [delay/2, delay*3/2) keeps parallel clients apart. */
        delay = delay / 2 + rand_r(&seed) % delay;
    }
    long long until = kf_reg_now_ms() + delay;
    for (;;) {
        if (reg->cancel && *reg->cancel)
            return kf_fail(err, KF_ECANCELED, "canceled");
        long long left = until - kf_reg_now_ms();
        if (left <= 0)
            return KF_OK;
        if (left > SLEEP_SLICE_MS)
            left = SLEEP_SLICE_MS;
        struct timespec ts = {0, (long)left * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int kf_reg_url_origin(const char *url, char *out, size_t size)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = KF_EINVAL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        for (char *p = host; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        int n = snprintf(out, size, "%s://%s:%s", scheme, host, port);
        if (n > 0 && (size_t)n < size)
            rc = KF_OK;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

char *kf_reg_url_resolve(const char *base, const char *location)
{
    CURLU *u = curl_url();
    char *url = NULL, *scheme = NULL, *result = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
        curl_url_get(u, CURLUPART_URL, &url, 0) == CURLUE_OK)
        result = strdup(url);
    curl_free(url);
    curl_free(scheme);
    curl_url_cleanup(u);
    return result;
}

/* One request with retries; the URL may change between calls (redirects). */
static int do_with_retries(struct kf_registry *reg, const struct kf_reg_req *req, const char *url, int send_auth,
                           struct kf_reg_resp *resp, char *err)
{
    for (int attempt = 0;; attempt++) {
        resp_clear(resp);
        if (req->out)
            kf_buf_reset(req->out);
        if (reg->cancel && *reg->cancel)
            return kf_fail(err, KF_ECANCELED, "canceled");
        int rc = perform_once(reg, req, url, send_auth, resp, err);
        int transient = rc == KF_ENET || (rc == KF_OK && transient_status(resp->status));
        if (!transient || req->no_retry || attempt >= reg->max_retries)
            return rc;
        long wait_s = resp->status == 429 || resp->status == 503 ? resp->retry_after_s : -1;
        if ((rc = kf_reg_backoff(reg, attempt, wait_s, err)))
            return rc;
    }
}

int kf_reg_http_do(struct kf_registry *reg, const struct kf_reg_req *req, struct kf_reg_resp *resp, char *err)
{
    char origin[512];
    int rc = KF_OK;
    int follow = req->follow_redirects && (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0);
    char *url = strdup(req->url);
    if (!url)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    for (int hop = 0;; hop++) {
        int send_auth = req->auth && req->auth_origin && kf_reg_url_origin(url, origin, sizeof origin) == KF_OK &&
                        strcmp(origin, req->auth_origin) == 0;
        rc = do_with_retries(reg, req, url, send_auth, resp, err);
        if (rc)
            break;
        if (resp->location) {
            char *abs = kf_reg_url_resolve(url, resp->location);
            free(resp->location);
            resp->location = abs; /* NULL when unusable: callers treat it as missing */
        }
        if (!follow || !is_redirect(resp->status))
            break;
        if (!resp->location || hop >= MAX_REDIRECTS) {
            char shown[512];
            url_for_message(url, shown, sizeof shown);
            rc = kf_fail(err, KF_EREGISTRY, "%s: %s", shown,
                         resp->location ? "too many redirects" : "redirect without a usable Location");
            break;
        }
        free(url);
        url = resp->location;
        resp->location = NULL;
    }
    free(url);
    return rc;
}

/* Copies printable ASCII, spaces for the rest, within size. */
static void append_printable(char *out, size_t size, size_t *pos, const char *s, size_t max)
{
    for (size_t i = 0; s[i] && i < max && *pos + 1 < size; i++)
        out[(*pos)++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : ' ';
    out[*pos] = 0;
}

void kf_reg_errors_text(const char *body, size_t len, char *out, size_t size)
{
    json_error_t jerr;
    size_t pos = 0;
    out[0] = 0;
    if (!body || len == 0)
        return;
    json_t *root = json_loadb(body, len, 0, &jerr);
    json_t *errors = json_object_get(root, "errors");
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *message = json_string_value(json_object_get(e, "message"));
        if (!code && !message)
            continue;
        if (i >= 4)
            break;
        if (pos > 0)
            append_printable(out, size, &pos, "; ", 2);
        if (code)
            append_printable(out, size, &pos, code, 64);
        if (code && message)
            append_printable(out, size, &pos, ": ", 2);
        if (message)
            append_printable(out, size, &pos, message, 200);
    }
    json_decref(root);
}

int kf_reg_status_fail(const struct kf_reg_call *call, const struct kf_reg_resp *resp, char *err)
{
    char text[600], detail[640] = "";
    const char *reg = call->repo->registry, *repo = call->repo->repository;
    const char *what = call->what ? call->what : "resource";
    kf_reg_errors_text(resp->errbody.data ? (const char *)resp->errbody.data : NULL, resp->errbody.len, text,
                       sizeof text);
    if (text[0])
        snprintf(detail, sizeof detail, " (%s)", text);
    switch (resp->status) {
    case 401:
        return kf_fail(err, KF_EAUTH, "authentication %s for %s/%s%s%s", resp->sent_auth ? "failed" : "required",
                       reg, repo, resp->sent_auth ? "" : " (no credentials: use kofarm login)", detail);
    case 403:
        return kf_fail(err, KF_EDENIED, "access to %s/%s denied%s", reg, repo, detail);
    case 404:
        return kf_fail(err, KF_ENOTFOUND, "%s not found in %s/%s%s", what, reg, repo, detail);
    case 413:
        return kf_fail(err, KF_ETOOBIG, "%s too large for %s/%s%s", what, reg, repo, detail);
    case 429:
        return kf_fail(err, KF_EREGISTRY, "%s/%s: too many requests, still after retrying%s", reg, repo, detail);
    }
    if (resp->status >= 500)
        return kf_fail(err, KF_EREGISTRY, "%s/%s: registry error HTTP %ld for %s%s", reg, repo, resp->status, what,
                       detail);
    return kf_fail(err, KF_EREGISTRY, "%s/%s: unexpected HTTP %ld for %s%s", reg, repo, resp->status, what, detail);
}
