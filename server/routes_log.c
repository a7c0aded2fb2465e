/* GET /v1/builds/{id}/log: the job's log as plain text, one line per log
 * line; ?after=SEQ starts after a sequence number; ?follow=1 keeps the
 * response open and streams new lines as LISTEN reports them, until the
 * job ends, the client leaves or the server stops. */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "dbjobs.h"
#include "server.h"

#define BATCH 1000
#define LOG_BODY_MAX ((size_t)64 << 20) /* a non-follow read stops here */
#define FOLLOWERS_MAX 256                /* each holds a database connection */

static atomic_int followers;

/* Appends lines [{"line": ...}] as text; *last gets the last seq. */
static int append_lines(struct kf_buf *b, const json_t *lines)
{
    size_t i;
    json_t *v;
    json_array_foreach(lines, i, v) {
        const char *line = json_string_value(json_object_get(v, "line"));
        int rc = kf_buf_append_str(b, line ? line : "");
        if (rc || (rc = kf_buf_append(b, "\n", 1)))
            return rc;
    }
    return KF_OK;
}

struct follow {
    struct srv *srv;
    struct kf_db *db; /* our own: it LISTENs */
    int64_t id, after;
    int fd;           /* the client socket, polled for a hang-up */
    int done;
    struct kf_buf pending;
    size_t sent;
};

static int client_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Fetches the next lines into pending; sets done at the end of the job. */
static void fetch(struct follow *f)
{
    char err[KF_ERRLEN];
    json_t *lines = NULL;
    int64_t last = f->after;
    int finished = 0;
    int rc = kf_job_log_read(f->db, f->id, f->after, BATCH, &lines, &last, &finished, err);
    if (rc == KF_ENOTFOUND) {
        f->done = 1;
        return;
    }
    if (rc) { /* the database is away: wait and try again */
        sleep(1);
        return;
    }
    size_t n = json_array_size(lines);
    if (append_lines(&f->pending, lines))
        f->done = 1;
    json_decref(lines);
    f->after = last;
    if (finished && n < BATCH) {
        f->done = 1;
        return;
    }
    if (n == 0) {
        int got;
        if (kf_db_wait(f->db, 1000, NULL, 0, NULL, 0, &got, err))
            sleep(1);
    }
}

static ssize_t follow_read(void *ctx, char *buf, size_t max)
{
    struct follow *f = ctx;
    for (;;) {
        if (f->sent < f->pending.len) {
            size_t n = f->pending.len - f->sent;
            if (n > max)
                n = max;
            memcpy(buf, f->pending.data + f->sent, n);
            f->sent += n;
            if (f->sent == f->pending.len) {
                kf_buf_reset(&f->pending);
                f->sent = 0;
            }
            return (ssize_t)n;
        }
        if (f->done || f->srv->stopping)
            return 0;
        if (client_gone(f->fd))
            return -1;
        fetch(f);
    }
}

static void follow_free(void *ctx)
{
    struct follow *f = ctx;
    if (!f)
        return;
    kf_db_close(f->db);
    kf_buf_free(&f->pending);
    free(f);
    atomic_fetch_sub(&followers, 1);
}

static int start_follow(struct srv *s, int64_t id, int64_t after, struct http_req *req, struct http_resp *resp)
{
    char err[KF_ERRLEN];
    if (atomic_fetch_add(&followers, 1) >= FOLLOWERS_MAX) {
        atomic_fetch_sub(&followers, 1);
        reply_error(resp, 503, "unavailable", "too many log followers: try again later");
        return 0;
    }
    struct follow *f = calloc(1, sizeof *f);
    int rc = f ? kf_db_open(s->cfg.database_url, "kofarm-server-follow", &f->db, err)
               : kf_fail(err, KF_ENOMEM, "out of memory");
    if (!rc && !(rc = kf_db_listen(f->db, KF_JOB_LOG_CHANNEL, err)))
        rc = kf_db_listen(f->db, KF_JOB_STATE_CHANNEL, err);
    if (rc) {
        if (f)
            kf_db_close(f->db);
        free(f);
        atomic_fetch_sub(&followers, 1);
        reply_rc(resp, rc == KF_ENOMEM ? rc : KF_ENET, err);
        return 0;
    }
    f->srv = s;
    f->id = id;
    f->after = after;
    f->fd = http_client_fd(req);
    kf_buf_init(&f->pending, 0);
    resp->status = 200;
    resp->content_type = "text/plain; charset=utf-8";
    resp->stream = follow_read;
    resp->stream_free = follow_free;
    resp->stream_ctx = f;
    return 1;
}

static int parse_after(const char *v, int64_t *after)
{
    char *end;
    errno = 0;
    long long n = v ? strtoll(v, &end, 10) : 0;
    if (v && (!*v || *end || errno || n < 0))
        return 0;
    *after = n;
    return 1;
}

void route_job_log(struct srv *s, const char *kind, int64_t id, struct http_req *req, struct http_resp *resp)
{
    char err[KF_ERRLEN];
    struct auth_who who;
    if (!auth_who(s, req, resp, SCOPE_READ, &who))
        return;
    int64_t after;
    if (!parse_after(http_query(req, "after"), &after)) {
        reply_error(resp, 400, "invalid_request", "after: must be a sequence number (>= 0)");
        return;
    }
    const char *follow = http_query(req, "follow");
    int following = follow && (!strcmp(follow, "1") || !strcmp(follow, "true"));
    struct kf_db *db;
    int rc = dbpool_get(s->pool, &db, err);
    if (rc) {
        reply_rc(resp, rc, err);
        return;
    }
    char *text = NULL;
    size_t len;
    struct kf_buf b;
    kf_buf_init(&b, 0);
    /* The job must exist and be of this kind (404 otherwise). */
    if ((rc = jobs_fetch_text(s, db, kind, id, &text, &len, err)))
        goto out;
    if (!jobs_text_visible(&who, text, len)) {
        rc = kf_fail(err, KF_ENOTFOUND, "no such job in project %s", who.project);
        goto out;
    }
    if (following) {
        dbpool_put(s->pool, db);
        db = NULL;
        start_follow(s, id, after, req, resp);
        goto out;
    }
    for (int finished = 0; !finished && b.len < LOG_BODY_MAX;) {
        json_t *lines;
        if ((rc = kf_job_log_read(db, id, after, BATCH, &lines, &after, NULL, err)))
            goto out;
        finished = json_array_size(lines) < BATCH;
        rc = append_lines(&b, lines);
        json_decref(lines);
        if (rc) {
            rc = kf_fail(err, rc, "out of memory");
            goto out;
        }
    }
    size_t body_len;
    char *body = (char *)kf_buf_steal(&b, &body_len);
    reply_text(resp, 200, "text/plain; charset=utf-8", body ? body : strdup(""), body ? body_len : 0);
out:
    if (rc)
        reply_rc(resp, rc, err);
    dbpool_put(s->pool, db);
    kf_buf_free(&b);
    free(text);
}
