/* Responses: JSON bodies and the one error shape, {"error": {"code",
 * "message"}}, with the status table for engine errors in one place. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

void reply_text(struct http_resp *resp, int status, const char *content_type, char *text, size_t len)
{
    free(resp->body);
    resp->status = status;
    resp->content_type = content_type;
    resp->body = text;
    resp->body_len = text ? len : 0;
    if (!text && status < 500) {
        resp->status = 500;
        resp->content_type = "application/json";
    }
}

void reply_json(struct http_resp *resp, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    reply_text(resp, status, "application/json", text, text ? strlen(text) : 0);
}

void reply_error(struct http_resp *resp, int status, const char *code, const char *fmt, ...)
{
    char message[KF_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    if (!body) /* a message that is not UTF-8 */
        body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", "(unprintable message)");
    reply_json(resp, status, body);
    if (resp->status == 500 && status != 500)
        resp->status = status; /* out of memory: the status still tells */
}

static const struct {
    int rc, status;
    const char *code;
} rc_table[] = {
    {KF_EINVAL, 400, "invalid_request"}, {KF_ENOTFOUND, 404, "not_found"},
    {KF_ETOOBIG, 413, "too_large"},      {KF_ENET, 503, "unavailable"},
    {KF_EAUTH, 401, "unauthorized"},     {KF_EDENIED, 403, "forbidden"},
    {KF_EUNSUPPORTED, 415, "unsupported_media_type"},
};

void reply_rc(struct http_resp *resp, int rc, const char *err)
{
    for (size_t i = 0; i < sizeof rc_table / sizeof *rc_table; i++)
        if (rc_table[i].rc == rc) {
            reply_error(resp, rc_table[i].status, rc_table[i].code, "%s", err);
            return;
        }
    reply_error(resp, 500, "internal", "%s", err);
}
