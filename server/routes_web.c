/* The web page: static files from share_dir/web, read per request (they
 * are small, and an operator can update them without a restart), with an
 * ETag for revalidation and a strict Content-Security-Policy. The page's
 * own URLs (/builds/{id}...) are also API paths: a browser navigation
 * (Accept preferring text/html) gets index.html, anything else the JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "digest.h"
#include "server.h"

#define WEB_FILE_MAX ((size_t)4 << 20)
#define WEB_NAME_MAX 64
#define WEB_PREFIX "/web/"

static const char csp[] = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},      {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},  {".svg", "image/svg+xml"},
    {".png", "image/png"},                      {".ico", "image/x-icon"},
    {".json", "application/json"},              {".txt", "text/plain; charset=utf-8"},
};

static const char *type_of(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        size_t e = strlen(types[i].ext);
        if (n > e && !strcmp(name + n - e, types[i].ext))
            return types[i].type;
    }
    return NULL;
}

/* A plain file name of web/: letters, digits, '.', '_', '-', not starting
 * with '.', so never "..", a hidden file or a subdirectory. The path is
 * already percent-decoded: "%2e%2e" arrives here as "..". */
static int name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > WEB_NAME_MAX || name[0] == '.')
        return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* The q value of the Accept range that matches type/subtype most
 * specifically (RFC 9110 12.5.1), or 0 when none does. */
static double accept_q(const char *accept, const char *type)
{
    const char *slash = strchr(type, '/');
    size_t tlen = (size_t)(slash - type);
    double best_q = 0;
    int best_spec = 0;
    const char *p = accept;
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *item = p, *end = p + len;
        p = *end ? end + 1 : end;
        while (item < end && (*item == ' ' || *item == '\t'))
            item++;
        size_t mlen = strcspn(item, ";,");
        if (item + mlen > end)
            mlen = (size_t)(end - item);
        while (mlen && (item[mlen - 1] == ' ' || item[mlen - 1] == '\t'))
            mlen--;
        int spec = 0;
        if (mlen == strlen(type) && !strncasecmp(item, type, mlen))
            spec = 3;
        else if (mlen == tlen + 2 && !strncasecmp(item, type, tlen) && !strncmp(item + tlen, "/*", 2))
            spec = 2;
        else if (mlen == 3 && !strncmp(item, "*/*", 3))
            spec = 1;
        if (spec <= best_spec)
            continue;
        double q = 1;
        for (const char *a = item + mlen; a < end; a++) {
            if (*a != ';')
                continue;
            a++;
            while (a < end && (*a == ' ' || *a == '\t'))
                a++;
            if (end - a >= 2 && (*a == 'q' || *a == 'Q') && a[1] == '=') {
                char num[8] = {0};
                size_t k = 0;
                for (const char *d = a + 2; d < end && k + 1 < sizeof num && strchr("0123456789.", *d); d++)
                    num[k++] = *d;
                q = strtod(num, NULL);
                if (q < 0 || q > 1)
                    q = 0;
            }
        }
        best_spec = spec;
        best_q = q;
    }
    return best_q;
}

/* A browser navigation: text/html strictly preferred to JSON. curl's
 * any-type Accept (a tie) and an absent Accept keep getting JSON. */
static int wants_html(const struct http_req *req)
{
    const char *accept = http_header(req, "Accept");
    if (!accept || strlen(accept) > 4096)
        return 0;
    double html = accept_q(accept, "text/html");
    return html > 0 && html > accept_q(accept, "application/json");
}

/* "/builds/{digits}", "/resolves/{digits}" or "/projects". */
static int is_page_path(const char *path)
{
    static const char *const prefixes[] = {"/builds/", "/resolves/"};
    if (!strcmp(path, "/projects"))
        return 1;
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        size_t n = strlen(prefixes[i]);
        if (!strncmp(path, prefixes[i], n) && path[n] && strspn(path + n, "0123456789") == strlen(path + n))
            return 1;
    }
    return 0;
}

/* If-None-Match lists etag (or is "*"): the client's copy is current. */
static int etag_matches(const struct http_req *req, const char *etag)
{
    const char *inm = http_header(req, "If-None-Match");
    return inm && (strstr(inm, etag) || !strcmp(inm, "*"));
}

static void serve_file(struct srv *s, const char *name, struct http_req *req, struct http_resp *resp)
{
    char err[KF_ERRLEN], path[4096], digest[KF_DIGEST_LEN];
    const char *type = type_of(name);
    struct kf_buf b;
    struct kf_sha256 h;
    kf_buf_init(&b, WEB_FILE_MAX);
    if (!type) {
        reply_error(resp, 404, "not_found", "no such file");
        goto out;
    }
    int n = snprintf(path, sizeof path, "%s/web/%s", s->cfg.share_dir, name);
    if (n < 0 || (size_t)n >= sizeof path || kf_buf_read_file(&b, path, err)) {
        reply_error(resp, 404, "not_found", "no such file");
        goto out;
    }
    if (kf_sha256_init(&h)) {
        reply_error(resp, 500, "internal", "out of memory");
        goto out;
    }
    kf_sha256_update(&h, b.data, b.len);
    kf_sha256_final(&h, digest);
    /* A strong validator: 128 bits of the content's sha256. */
    snprintf(resp->etag, sizeof resp->etag, "\"%.32s\"", digest + strlen("sha256:"));
    if (etag_matches(req, resp->etag)) {
        free(resp->body);
        resp->body = NULL;
        resp->body_len = 0;
        resp->content_type = NULL;
        resp->status = 304;
    } else {
        size_t len;
        char *text = (char *)kf_buf_steal(&b, &len);
        reply_text(resp, 200, type, text, len);
    }
    /* No hashed file names (no build step): always revalidate. */
    resp->cache_control = "no-cache";
    resp->csp = csp;
out:
    kf_buf_free(&b);
}

enum srv_route route_web(struct srv *s, struct http_req *req, struct http_resp *resp)
{
    const char *path = req->path;
    int get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    if (!strcmp(path, "/") || !strncmp(path, WEB_PREFIX, strlen(WEB_PREFIX))) {
        const char *name = path[1] ? path + strlen(WEB_PREFIX) : "index.html";
        if (!get) {
            snprintf(resp->allow, sizeof resp->allow, "GET, HEAD");
            reply_error(resp, 405, "method_not_allowed", "method not allowed here (allowed: GET, HEAD)");
        } else if (!name_ok(name)) {
            reply_error(resp, 404, "not_found", "no such file");
        } else {
            serve_file(s, name, req, resp);
        }
        return ROUTE_WEB;
    }
    if (get && is_page_path(path) && wants_html(req)) {
        serve_file(s, "index.html", req, resp);
        resp->vary = "Accept";
        return ROUTE_WEB;
    }
    return ROUTE_NONE;
}
