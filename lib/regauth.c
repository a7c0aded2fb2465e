/* The pure parts of registry authentication: WWW-Authenticate challenges,
 * token endpoint answers, scopes and the insecure-host list. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reg_internal.h"

#define TOKEN_MAX 65536
#define DEFAULT_EXPIRES_S 60

void kf_reg_challenge_free(struct kf_reg_challenge *c)
{
    free(c->realm);
    free(c->service);
    free(c->scope);
    memset(c, 0, sizeof *c);
}

/* RFC 9110 tchar */
static int is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int rank(enum kf_reg_scheme s)
{
    return s == KF_REG_AUTH_BEARER ? 3 : s == KF_REG_AUTH_BASIC ? 2 : s == KF_REG_AUTH_OTHER ? 1 : 0;
}

/* Reads a token or quoted-string at *p into a new string; *p moves past it. */
static int read_value(const char **p, char **out)
{
    const char *s = *p;
    struct kf_buf v;
    kf_buf_init(&v, KF_REG_HEADER_MAX);
    int rc = KF_OK;
    if (*s == '"') {
        for (s++; *s && *s != '"'; s++) {
            if (*s == '\\' && s[1])
                s++;
            if ((rc = kf_buf_append(&v, s, 1)))
                goto out;
        }
        if (*s != '"') {
            rc = KF_EINVAL;
            goto out;
        }
        s++;
    } else {
        const char *start = s;
        while (is_tchar(*s) || *s == '/' || *s == ':' || *s == '=')
            s++;
        if ((rc = kf_buf_append(&v, start, (size_t)(s - start))))
            goto out;
    }
    *out = v.data ? (char *)kf_buf_steal(&v, NULL) : strdup("");
    if (!*out)
        rc = KF_ENOMEM;
    *p = s;
out:
    kf_buf_free(&v);
    return rc;
}

static void skip_spaces(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

/* Keeps the better of cur and best in best; cur is emptied. */
static void keep_best(struct kf_reg_challenge *best, struct kf_reg_challenge *cur)
{
    if (rank(cur->scheme) > rank(best->scheme)) {
        kf_reg_challenge_free(best);
        *best = *cur;
        memset(cur, 0, sizeof *cur);
    } else {
        kf_reg_challenge_free(cur);
    }
}

int kf_reg_challenge_parse(const char *header, struct kf_reg_challenge *out)
{
    struct kf_reg_challenge cur = {0};
    const char *p = header;
    int rc = KF_OK;
    memset(out, 0, sizeof *out);
    if (!header || strlen(header) > KF_REG_HEADER_MAX)
        return KF_EINVAL;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *tok = p;
        while (is_tchar(*p))
            p++;
        size_t tlen = (size_t)(p - tok);
        if (tlen == 0) {
            rc = KF_EINVAL;
            goto out;
        }
        skip_spaces(&p);
        if (*p != '=') {
            /* A token not followed by '=' starts the next challenge. */
            keep_best(out, &cur);
            cur.scheme = tlen == 6 && strncasecmp(tok, "bearer", 6) == 0  ? KF_REG_AUTH_BEARER
                         : tlen == 5 && strncasecmp(tok, "basic", 5) == 0 ? KF_REG_AUTH_BASIC
                                                                          : KF_REG_AUTH_OTHER;
            continue;
        }
        p++;
        skip_spaces(&p);
        char *value = NULL;
        if ((rc = read_value(&p, &value)))
            goto out;
        char **slot = NULL;
        if (cur.scheme == KF_REG_AUTH_NONE) {
            free(value);
            rc = KF_EINVAL; /* a parameter before any scheme */
            goto out;
        }
        if (tlen == 5 && strncasecmp(tok, "realm", 5) == 0)
            slot = &cur.realm;
        else if (tlen == 7 && strncasecmp(tok, "service", 7) == 0)
            slot = &cur.service;
        else if (tlen == 5 && strncasecmp(tok, "scope", 5) == 0)
            slot = &cur.scope;
        if (slot && !*slot) {
            *slot = value;
            value = NULL;
        }
        free(value);
        skip_spaces(&p);
        if (*p && *p != ',') {
            rc = KF_EINVAL;
            goto out;
        }
    }
    keep_best(out, &cur);
    if (out->scheme == KF_REG_AUTH_NONE)
        rc = KF_EINVAL;
out:
    kf_reg_challenge_free(&cur);
    if (rc)
        kf_reg_challenge_free(out);
    return rc;
}

int kf_reg_token_parse(const char *body, size_t len, char **token, long *expires_in_s)
{
    json_error_t jerr;
    int rc = KF_EINVAL;
    *token = NULL;
    json_t *root = json_loadb(body ? body : "", len, 0, &jerr);
    const char *t = json_string_value(json_object_get(root, "token"));
    if (!t || !*t)
        t = json_string_value(json_object_get(root, "access_token"));
    if (!t || !*t || strlen(t) > TOKEN_MAX)
        goto out;
    for (const char *c = t; *c; c++) {
        if (*c <= 0x20 || *c >= 0x7f)
            goto out; /* it goes into a header line */
    }
    json_t *exp = json_object_get(root, "expires_in");
    json_int_t v = json_is_integer(exp) ? json_integer_value(exp) : 0;
    *expires_in_s = v > 0 && v < 366L * 86400 ? (long)v : DEFAULT_EXPIRES_S;
    *token = strdup(t);
    rc = *token ? KF_OK : KF_ENOMEM;
out:
    json_decref(root);
    return rc;
}

char *kf_reg_scope(const struct kf_reg_call *call)
{
    char *s = NULL;
    int n;
    const struct kf_ref *from = call->pull_from;
    if (from && strcmp(from->repository, call->repo->repository) != 0)
        n = asprintf(&s, "repository:%s:%s repository:%s:pull", call->repo->repository, call->actions,
                     from->repository);
    else
        n = asprintf(&s, "repository:%s:%s", call->repo->repository, call->actions);
    return n < 0 ? NULL : s;
}

/* Length of host without its ":port" ("[::1]:5000" -> "[::1]"). */
static size_t hostname_len(const char *host)
{
    const char *colon = strrchr(host, ':');
    const char *bracket = strrchr(host, ']');
    if (!colon || (host[0] == '[' && (!bracket || colon < bracket)))
        return strlen(host);
    return (size_t)(colon - host);
}

int kf_reg_host_insecure(const char *list, const char *host)
{
    if (!list || !host)
        return 0;
    size_t name_len = hostname_len(host);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && end[-1] == ' ')
            end--;
        size_t n = (size_t)(end - start);
        char entry[300];
        if (n == 0 || n >= sizeof entry)
            continue;
        memcpy(entry, start, n);
        entry[n] = 0;
        if (strcmp(entry, "*") == 0 || strcasecmp(entry, host) == 0)
            return 1;
        /* An entry without a port covers every port of that host. */
        if (hostname_len(entry) == n && n == name_len && strncasecmp(entry, host, n) == 0)
            return 1;
    }
    return 0;
}
