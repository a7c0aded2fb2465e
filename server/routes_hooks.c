/* POST /v1/hooks/{github|gitlab|gitea}/{project}: a git host's delivery.
 * Checked (signature or token, then payload) before anything is written;
 * a push queues the jobs its rules ask for, with the delivery record, in
 * one statement (lib/dbprojects.c), so the answer comes in milliseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbprojects.h"
#include "hookpayload.h"
#include "project.h"
#include "server.h"

/* The first of the headers present. */
static const char *header_of(const struct http_req *req, const char *a, const char *b)
{
    const char *v = http_header(req, a);
    return v ? v : b ? http_header(req, b) : NULL;
}

/* 1 when the delivery carries proof of secret. */
static int signature_ok(enum kf_hook_host host, const struct http_req *req, const char *secret)
{
    const void *body = req->body;
    size_t len = req->body_len;
    if (host == KF_HOOK_GITLAB)
        return kf_hook_token_ok(secret, http_header(req, "X-Gitlab-Token"));
    if (host == KF_HOOK_GITEA) {
        const char *sig = header_of(req, "X-Gitea-Signature", "X-Forgejo-Signature");
        if (sig)
            return kf_hook_hmac_ok(secret, body, len, sig);
    }
    const char *sig = http_header(req, "X-Hub-Signature-256");
    return sig && !strncmp(sig, "sha256=", 7) && kf_hook_hmac_ok(secret, body, len, sig + 7);
}

static const char *event_header(enum kf_hook_host host, const struct http_req *req)
{
    return host == KF_HOOK_GITHUB   ? http_header(req, "X-GitHub-Event")
           : host == KF_HOOK_GITLAB ? http_header(req, "X-Gitlab-Event")
                                    : header_of(req, "X-Gitea-Event", "X-Forgejo-Event");
}

static const char *delivery_header(enum kf_hook_host host, const struct http_req *req)
{
    return host == KF_HOOK_GITHUB   ? http_header(req, "X-GitHub-Delivery")
           : host == KF_HOOK_GITLAB ? header_of(req, "Idempotency-Key", "X-Gitlab-Event-UUID")
                                    : header_of(req, "X-Gitea-Delivery", "X-Forgejo-Delivery");
}

static int printable(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return 0;
    return 1;
}

/* Refusals are logged: the host shows the status, the operator the why. */
static void refuse(struct http_resp *resp, int status, const char *code, const char *host, const char *project,
                   const char *why)
{
    fprintf(stderr, "kofarm-server: hook %s/%s refused (%d): %s\n", host, project, status, why);
    reply_error(resp, status, code, "%s", why);
}

void route_hook(struct srv *s, const char *host_name, const char *name, struct http_req *req, struct http_resp *resp)
{
    char err[KF_ERRLEN], *secret = NULL;
    enum kf_hook_host host;
    struct kf_db *db = NULL;
    json_t *project = NULL, *jobs = NULL, *ids = NULL;
    if (kf_hook_host_parse(host_name, &host) != KF_OK) {
        reply_error(resp, 404, "not_found", "no such git host (want github, gitlab or gitea)");
        return;
    }
    if (!kf_project_name_valid(name)) {
        refuse(resp, 404, "not_found", host_name, "?", "no such project");
        return;
    }
    int rc = dbpool_get(s->pool, &db, err);
    if (rc || (rc = kf_project_get(db, name, &project, &secret, err))) {
        if (rc == KF_ENOTFOUND)
            refuse(resp, 404, "not_found", host_name, name, "no such project");
        else
            reply_rc(resp, rc, err);
        goto out;
    }
    if (!secret) {
        refuse(resp, 401, "unauthorized", host_name, name, "the project has no webhook_secret: set one first");
        goto out;
    }
    if (!signature_ok(host, req, secret)) {
        refuse(resp, 401, "unauthorized", host_name, name,
               host == KF_HOOK_GITLAB ? "missing or wrong X-Gitlab-Token" : "missing or wrong signature");
        goto out;
    }
    const char *event_name = event_header(host, req);
    enum kf_hook_event event = kf_hook_event_of(host, event_name);
    if (event == KF_HOOK_EVENT_PING) {
        reply_json(resp, 200, json_pack("{s:s,s:s}", "event", "ping", "project", name));
        goto out;
    }
    if (event != KF_HOOK_EVENT_PUSH) {
        reply_json(resp, 200, json_pack("{s:s?,s:b}", "event", event_name, "ignored", 1));
        goto out;
    }
    const char *delivery = delivery_header(host, req);
    if (delivery && !printable(delivery, 200)) {
        refuse(resp, 400, "invalid_request", host_name, name, "delivery id: 1 to 200 printable characters");
        goto out;
    }
    struct kf_push push;
    if ((rc = kf_hook_parse_push(req->body, req->body_len, &push, err)) ||
        (rc = kf_project_jobs_for_push(project, &push, s->cfg.allow_file_urls, &jobs, err))) {
        refuse(resp, rc == KF_EINVAL ? 400 : 500, rc == KF_EINVAL ? "invalid_payload" : "internal", host_name, name,
               err);
        goto out;
    }
    struct kf_hook_delivery d = {
        .project = name, .host = kf_hook_host_name(host), .delivery_id = delivery, .event = event_name,
        .ref = push.name, .commit = push.deleted ? NULL : push.commit,
        .release_tag = push.tag ? push.name : NULL, .jobs = jobs,
    };
    int redelivered = 0;
    if ((rc = kf_hook_record(db, &d, &ids, &redelivered, err))) {
        reply_rc(resp, rc, err);
        goto out;
    }
    int queued = !redelivered && json_array_size(ids) > 0;
    reply_json(resp, queued ? 202 : 200,
               json_pack("{s:s,s:s?,s:s,s:s,s:s?,s:b,s:b,s:O}", "event", "push", "delivery", delivery, "ref_type",
                         push.tag ? "tag" : "branch", "ref", push.name, "commit", push.deleted ? NULL : push.commit,
                         "deleted", push.deleted, "redelivered", redelivered, "jobs", ids));
out:
    dbpool_put(s->pool, db);
    json_decref(project);
    json_decref(jobs);
    json_decref(ids);
    free(secret);
}
