/* GET /v1/audit (admin): who created, cancelled, retried jobs, changed
 * projects, and which delivery queued which job; newest first, paged by
 * ?before=<id>. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dbprojects.h"
#include "server.h"

static int parse_long(const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n < lo || n > hi)
        return 0;
    *out = n;
    return 1;
}

void route_audit(struct srv *s, struct http_req *req, struct http_resp *resp)
{
    struct auth_who who;
    char err[KF_ERRLEN];
    long long limit = 50, before = 0;
    if (!auth_who(s, req, resp, SCOPE_ADMIN, &who))
        return;
    if (who.project[0]) {
        reply_error(resp, 403, "forbidden", "token %s is limited to project %s; the audit log spans all", who.name,
                    who.project);
        return;
    }
    for (size_t i = 0; i < req->n_query; i++) {
        const char *n = req->names[i], *v = req->values[i];
        if (!strcmp(n, "limit") ? !parse_long(v, 1, KF_AUDIT_LIST_MAX, &limit)
            : !strcmp(n, "before") ? !parse_long(v, 1, INT64_MAX, &before)
                                   : 1) {
            reply_error(resp, 400, "invalid_request", "query: limit (1 to %d) and before (an entry id) only",
                        KF_AUDIT_LIST_MAX);
            return;
        }
    }
    struct kf_db *db;
    json_t *items = NULL;
    int rc = dbpool_get(s->pool, &db, err);
    if (!rc) {
        rc = kf_audit_list(db, before, (int)limit, &items, err);
        dbpool_put(s->pool, db);
    }
    if (rc) {
        reply_rc(resp, rc, err);
        return;
    }
    size_t n = json_array_size(items);
    json_t *last = n == (size_t)limit ? json_object_get(json_array_get(items, n - 1), "id") : NULL;
    reply_json(resp, 200, json_pack("{s:o,s:O?}", "items", items, "next_before", last));
}
