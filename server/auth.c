/* Bearer tokens: verified against the database (only a hash is stored
 * there) and remembered for up to 2 s, so a hot GET loop costs no query
 * per request while a revoked token stops working within 2 s. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dbprojects.h"
#include "dbtokens.h"
#include "server.h"

#define SLOTS 512
#define TTL_NS (2LL * 1000 * 1000 * 1000)

struct slot {
    char token[KF_TOKEN_BUF];
    char name[128];
    char project[128]; /* the project the token is limited to, "" = any */
    int scopes; /* 0 = invalid token */
    long long expires;
};

struct authcache {
    pthread_mutex_t lock;
    struct slot slots[SLOTS];
};

struct authcache *authcache_new(void)
{
    struct authcache *c = calloc(1, sizeof *c);
    if (c)
        pthread_mutex_init(&c->lock, NULL);
    return c;
}

void authcache_free(struct authcache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static size_t slot_of(const char *token)
{
    uint64_t h = 1469598103934665603ull;
    for (; *token; token++)
        h = (h ^ (unsigned char)*token) * 1099511628211ull;
    return (size_t)(h % SLOTS);
}

/* A token's scopes as bits; admin implies everything, build implies read. */
static int scope_bits(const json_t *scopes)
{
    int bits = 0;
    size_t i;
    json_t *v;
    json_array_foreach(scopes, i, v) {
        const char *s = json_string_value(v);
        if (!s)
            continue;
        if (!strcmp(s, "read"))
            bits |= SCOPE_READ;
        else if (!strcmp(s, "build"))
            bits |= SCOPE_BUILD | SCOPE_READ;
        else if (!strcmp(s, "admin"))
            bits |= SCOPE_ADMIN | SCOPE_BUILD | SCOPE_READ;
    }
    return bits ? bits : -1; /* valid, but good for nothing here */
}

/* 1 and *scopes (0 when invalid) from the cache; 0 on a miss. */
static int cached(struct authcache *c, const char *token, int *scopes, char name[128], char project[128])
{
    int hit = 0;
    struct slot *s = &c->slots[slot_of(token)];
    pthread_mutex_lock(&c->lock);
    if (s->expires > now_ns() && !strcmp(s->token, token)) {
        *scopes = s->scopes;
        memcpy(name, s->name, 128);
        memcpy(project, s->project, 128);
        hit = 1;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

static void remember(struct authcache *c, const char *token, int scopes, const char *name, const char *project)
{
    struct slot *s = &c->slots[slot_of(token)];
    pthread_mutex_lock(&c->lock);
    snprintf(s->token, sizeof s->token, "%s", token);
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->project, sizeof s->project, "%s", project);
    s->scopes = scopes;
    s->expires = now_ns() + TTL_NS;
    pthread_mutex_unlock(&c->lock);
}

static int verify(struct srv *s, const char *token, int *scopes, char name[128], char project[128], char *err)
{
    if (cached(s->auth, token, scopes, name, project))
        return KF_OK;
    struct kf_db *db;
    int rc = dbpool_get(s->pool, &db, err);
    if (rc)
        return rc;
    int valid = 0;
    json_t *list = NULL;
    name[0] = 0;
    rc = kf_token_verify(db, token, &valid, name, &list, err);
    project[0] = 0;
    if (!rc && valid)
        rc = kf_token_project(db, name, project, err);
    dbpool_put(s->pool, db);
    if (rc)
        return rc;
    *scopes = valid ? scope_bits(list) : 0;
    json_decref(list);
    remember(s->auth, token, *scopes, name, project);
    return KF_OK;
}

int auth_check(struct srv *s, struct http_req *req, struct http_resp *resp, int scope, char requester[128])
{
    struct auth_who who;
    int ok = auth_who(s, req, resp, scope, &who);
    memcpy(requester, who.name, 128);
    return ok;
}

int auth_who(struct srv *s, struct http_req *req, struct http_resp *resp, int scope, struct auth_who *who)
{
    char *requester = who->name;
    requester[0] = 0;
    who->project[0] = 0;
    const char *h = http_header(req, "Authorization");
    if (!h) {
        if (scope == SCOPE_READ && s->cfg.public_read)
            return 1;
        resp->www_authenticate = 1;
        reply_error(resp, 401, "unauthorized", "missing bearer token (Authorization: Bearer TOKEN)");
        return 0;
    }
    if (strncasecmp(h, "Bearer ", 7) != 0 || strlen(h + 7) >= KF_TOKEN_BUF) {
        resp->www_authenticate = 1;
        reply_error(resp, 401, "unauthorized", "malformed Authorization header: want Bearer TOKEN");
        return 0;
    }
    const char *token = h + 7 + strspn(h + 7, " ");
    char err[KF_ERRLEN];
    int scopes = 0;
    int rc = verify(s, token, &scopes, requester, who->project, err);
    if (rc) {
        reply_rc(resp, rc, err);
        requester[0] = 0;
        return 0;
    }
    if (scopes == 0) {
        resp->www_authenticate = 1;
        reply_error(resp, 401, "unauthorized", "invalid or revoked token");
        requester[0] = 0;
        return 0;
    }
    if (scopes < 0 || !(scopes & scope)) {
        reply_error(resp, 403, "forbidden", "token %s lacks the %s scope", requester,
                    scope == SCOPE_BUILD ? "build" : scope == SCOPE_ADMIN ? "admin" : "read");
        return 0;
    }
    return 1;
}

int auth_project_ok(const struct auth_who *who, const char *project, struct http_resp *resp)
{
    if (!who->project[0] || (project && !strcmp(project, who->project)))
        return 1;
    reply_error(resp, 403, "forbidden", "token %s is limited to project %s", who->name, who->project);
    return 0;
}
