/* libmicrohttpd behind http.h: a thread per connection (so a log follow
 * may block), keep-alive, request bodies accumulated under a cap chosen by
 * content type, responses from a buffer or a (blocking) stream. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_server_opts opts;
};

/* One request in progress on a connection. */
struct pending {
    unsigned char *body;
    size_t len, cap, max;
    int too_big;
    struct timespec start;
};

int http_is_upload_type(const char *ct)
{
    static const char *const types[] = {"application/gzip", "application/x-gzip", "application/x-tar",
                                        "application/x-gtar", "application/tar", "application/tar+gzip"};
    if (!ct)
        return 0;
    size_t n = strcspn(ct, "; \t");
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strlen(types[i]) == n && !strncasecmp(ct, types[i], n))
            return 1;
    return 0;
}

const char *http_header(const struct http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(const struct http_req *req, const char *name)
{
    for (size_t i = 0; i < req->n_query; i++)
        if (!strcmp(req->names[i], name))
            return req->values[i];
    return NULL;
}

int http_client_fd(const struct http_req *req)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}

void http_client_addr(const struct http_req *req, char out[64])
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info ? info->client_addr : NULL;
    out[0] = 0;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, 64);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, 64);
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct http_req *req = cls;
    (void)kind;
    if (req->n_query == HTTP_MAX_QUERY) {
        req->too_many_query = 1;
        return MHD_NO;
    }
    req->names[req->n_query] = key;
    req->values[req->n_query] = value ? value : "";
    req->n_query++;
    return MHD_YES;
}

/* Appends upload data; past the cap it is read and dropped, so the 413
 * goes out on a connection that stays in sync. */
static void take_body(struct pending *p, const char *data, size_t size)
{
    if (p->too_big || size > p->max - p->len) {
        p->too_big = 1;
        return;
    }
    if (p->len + size + 1 > p->cap) {
        size_t cap = p->cap ? p->cap : 16384;
        while (cap < p->len + size + 1)
            cap *= 2;
        unsigned char *grown = realloc(p->body, cap);
        if (!grown) {
            p->too_big = 1;
            return;
        }
        p->body = grown;
        p->cap = cap;
    }
    memcpy(p->body + p->len, data, size);
    p->len += size;
    p->body[p->len] = 0;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct http_resp *r = cls;
    ssize_t n = r->stream(r->stream_ctx, buf, max);
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return n < 0 ? MHD_CONTENT_READER_END_WITH_ERROR : n;
}

static void stream_done(void *cls)
{
    struct http_resp *r = cls;
    if (r->stream_free)
        r->stream_free(r->stream_ctx);
    free(r);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct http_resp *r)
{
    struct MHD_Response *resp;
    struct http_resp *held = NULL;
    if (r->stream) {
        /* The response outlives this call: it keeps its own copy of r. */
        if (!(held = malloc(sizeof *held)))
            return MHD_NO;
        *held = *r;
        r->stream_ctx = NULL;
        r->stream_free = NULL;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_reader, held, stream_done);
        if (!resp)
            stream_done(held);
    } else {
        resp = MHD_create_response_from_buffer(r->body_len, r->body ? r->body : (char *)"", r->body
                                                                                              ? MHD_RESPMEM_MUST_FREE
                                                                                              : MHD_RESPMEM_PERSISTENT);
        if (resp)
            r->body = NULL;
    }
    if (!resp)
        return MHD_NO;
    if (r->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (r->location[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
    if (r->allow[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->etag[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, r->etag);
    if (r->disposition)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, r->disposition);
    if (r->www_authenticate)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"kofarm\"");
    if (r->retry_after > 0) {
        char secs[16];
        snprintf(secs, sizeof secs, "%d", r->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    if (r->cache_control)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, r->cache_control);
    if (r->vary)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, r->vary);
    if (r->csp)
        MHD_add_response_header(resp, "Content-Security-Policy", r->csp);
    /* Every answer is what its Content-Type says: browsers must not guess. */
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static double elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct http_server *s = cls;
    struct pending *p = *con_cls;
    (void)version;
    if (!p) {
        if (!(p = calloc(1, sizeof *p)))
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &p->start);
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        p->max = http_is_upload_type(ct) ? s->opts.upload_max : HTTP_JSON_BODY_MAX;
        *con_cls = p;
        return MHD_YES;
    }
    if (*upload_data_size) {
        take_body(p, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    struct http_req req = {
        .method = method,
        .path = url,
        .body = p->len ? p->body : NULL,
        .body_len = p->len,
        .content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .conn = conn,
    };
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, &req);
    struct http_resp resp = {0};
    if (p->too_big) {
        resp.status = 413;
        resp.content_type = "application/json";
        char text[160];
        int n = snprintf(text, sizeof text,
                         "{\"error\":{\"code\":\"too_large\",\"message\":\"request body larger than %zu bytes\"}}",
                         p->max);
        resp.body = strdup(text);
        resp.body_len = resp.body ? (size_t)n : 0;
    } else {
        s->opts.handler(s->opts.ctx, &req, &resp);
    }
    if (resp.status == 0)
        resp.status = 500;
    if (s->opts.log_fn)
        s->opts.log_fn(s->opts.ctx, method, url, resp.status, elapsed_ms(&p->start));
    enum MHD_Result ok = send_response(conn, &resp);
    free(resp.body);
    if (resp.stream_free)
        resp.stream_free(resp.stream_ctx);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    struct pending *p = *con_cls;
    if (p) {
        free(p->body);
        free(p);
    }
    *con_cls = NULL;
}

/* "host:port", "[v6]:port", ":port" (all IPv4 interfaces). */
static int resolve_listen(const char *listen, struct sockaddr_storage *addr, socklen_t *len, int *v6, char *err)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || !colon[1] || (size_t)(colon - listen) >= sizeof host)
        return kf_fail(err, KF_ECONFIG, "listen address %.100s: want host:port", listen);
    size_t hlen = (size_t)(colon - listen);
    memcpy(host, listen, hlen);
    host[hlen] = 0;
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res;
    int e = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
    if (e)
        return kf_fail(err, KF_ECONFIG, "listen address %.100s: %s", listen, gai_strerror(e));
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return KF_OK;
}

/* The listening socket, bound here rather than by libmicrohttpd: a restart
 * right after a crash waits (5 s at most) for the old connections that
 * still hold the port, which SO_REUSEADDR does not cover once they are past
 * TIME_WAIT's reach (FIN_WAIT while a client lingers). */
static int listen_socket(const char *listen_text, const struct sockaddr_storage *addr, socklen_t len, int *fd_out,
                         char *err)
{
    int one = 1, fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return kf_fail(err, KF_EIO, "socket: %s", strerror(errno));
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    for (int tries = 0; bind(fd, (const struct sockaddr *)addr, len) != 0; tries++) {
        if (errno != EADDRINUSE || tries >= 50) {
            int saved = errno;
            close(fd);
            return kf_fail(err, KF_EIO, "cannot listen on %.100s: %s", listen_text, strerror(saved));
        }
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
    if (listen(fd, 1024) != 0) {
        int saved = errno;
        close(fd);
        return kf_fail(err, KF_EIO, "cannot listen on %.100s: %s", listen_text, strerror(saved));
    }
    *fd_out = fd;
    return KF_OK;
}

int http_server_start(const struct http_server_opts *o, struct http_server **out, char *err)
{
    struct sockaddr_storage addr;
    socklen_t len = 0;
    int v6 = 0;
    *out = NULL;
    int fd = -1, rc = resolve_listen(o->listen, &addr, &len, &v6, err);
    if (rc || (rc = listen_socket(o->listen, &addr, len, &fd, err)))
        return rc;
    struct http_server *s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    s->opts = *o;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)300, MHD_OPTION_CONNECTION_LIMIT, (unsigned)2000,
                                 MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_THREAD_STACK_SIZE,
                                 (size_t)1 << 20, MHD_OPTION_END);
    if (!s->daemon) {
        close(fd);
        free(s);
        return kf_fail(err, KF_EIO, "cannot serve on %.100s", o->listen);
    }
    *out = s;
    return KF_OK;
}

void http_server_stop(struct http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    free(s);
}
