/* The HTTP layer: libmicrohttpd stays behind this header (server/http*.c).
 * Requests arrive whole (body accumulated under a cap: 413 past it) on a
 * thread per connection; a response is a status, headers and either a
 * body or a stream callback that may block (log follow). */
#ifndef KF_HTTP_H
#define KF_HTTP_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

#define HTTP_MAX_QUERY 256 /* query parameters kept per request */
#define HTTP_JSON_BODY_MAX ((size_t)1 << 20)

struct http_req {
    const char *method;
    const char *path;              /* without the query string, percent-decoded by MHD */
    const unsigned char *body;     /* NUL-terminated after len bytes; NULL when empty */
    size_t body_len;
    const char *content_type;      /* NULL when absent */
    const char *names[HTTP_MAX_QUERY], *values[HTTP_MAX_QUERY]; /* query, in order */
    size_t n_query;
    int too_many_query;            /* more than HTTP_MAX_QUERY parameters */
    void *conn;                    /* the http layer's */
};

/* The value of request header name (case-insensitive), or NULL. */
const char *http_header(const struct http_req *req, const char *name);
/* The first value of query parameter name, or NULL. */
const char *http_query(const struct http_req *req, const char *name);

/* A stream: read fills up to max bytes of buf and returns the count, 0 at
 * the end, -1 on an error (the connection is closed). It may block; it
 * should return when the client leaves or the server stops. */
typedef ssize_t (*http_stream_fn)(void *ctx, char *buf, size_t max);
typedef void (*http_stream_free_fn)(void *ctx);

struct http_resp {
    int status;                  /* 0 until a handler answers */
    const char *content_type;    /* static string */
    char *body;                  /* owned, malloc'd */
    size_t body_len;
    char location[128];          /* Location header when not empty */
    char allow[64];              /* Allow header when not empty */
    int www_authenticate;        /* add WWW-Authenticate: Bearer */
    char etag[80];               /* ETag header when not empty (quotes included) */
    const char *disposition;     /* Content-Disposition, static string, or NULL */
    int retry_after;             /* Retry-After seconds when > 0 */
    const char *cache_control;   /* static string, Cache-Control when set */
    const char *csp;             /* static string, Content-Security-Policy when set */
    const char *vary;            /* static string, Vary when set */
    http_stream_fn stream;       /* instead of body */
    http_stream_free_fn stream_free;
    void *stream_ctx;
};

/* The client socket of req, for a blocking stream to poll for a hang-up
 * (-1 if unknown). */
int http_client_fd(const struct http_req *req);

/* The client's IP address as text ("" if unknown); out has 64 bytes. */
void http_client_addr(const struct http_req *req, char out[64]);

typedef void (*http_handler_fn)(void *ctx, struct http_req *req, struct http_resp *resp);

/* Body caps by content type: uploads (application/gzip, application/x-tar
 * and friends) up to upload_max, anything else up to HTTP_JSON_BODY_MAX. */
struct http_server_opts {
    const char *listen;   /* "host:port", "[v6]:port" */
    size_t upload_max;
    http_handler_fn handler;
    void *ctx;
    void (*log_fn)(void *ctx, const char *method, const char *path, int status, double ms);
};

struct http_server;
int http_server_start(const struct http_server_opts *o, struct http_server **out, char *err) KF_MUST_CHECK;
/* Stops accepting, closes idle connections, waits for running requests. */
void http_server_stop(struct http_server *s);

/* 1 for the upload content types. */
int http_is_upload_type(const char *content_type);

#endif
