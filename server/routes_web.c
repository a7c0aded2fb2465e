/* The web page: static files from share_dir/web, read per request (they
 * are small, and an operator can update them without a restart), with an
 * ETag for revalidation and a strict Content-Security-Policy. The page's
 * own URLs (/builds/{id}...) are also API paths: a browser navigation
 * (Accept preferring text/html) gets index.html, anything else the JSON.
 * Which names and which Accept headers: api/webnegotiate.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "digest.h"
#include "server.h"
#include "webnegotiate.h"

#define WEB_FILE_MAX ((size_t)4 << 20)
#define WEB_PREFIX "/web/"

static const char csp[] = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/* If-None-Match lists etag (or is "*"): the client's copy is current. */
static int etag_matches(const struct http_req *req, const char *etag)
{
    const char *inm = http_header(req, "If-None-Match");
    return inm && (strstr(inm, etag) || !strcmp(inm, "*"));
}

static void serve_file(struct srv *s, const char *name, struct http_req *req, struct http_resp *resp)
{
    char err[KF_ERRLEN], path[4096], digest[KF_DIGEST_LEN];
    const char *type = kf_web_file_type(name);
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
        size_t len = 0;
        char *text = b.len ? (char *)kf_buf_steal(&b, &len) : strdup(""); /* an empty file is still a file */
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
        } else {
            serve_file(s, name, req, resp);
        }
        return ROUTE_WEB;
    }
    if (get && kf_web_is_page_path(path) && kf_web_wants_html(http_header(req, "Accept"))) {
        serve_file(s, "index.html", req, resp);
        resp->vary = "Accept";
        return ROUTE_WEB;
    }
    return ROUTE_NONE;
}
