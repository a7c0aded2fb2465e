/* Upload query strings to request objects, and the cache key of a build. */
#include "jobspec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "jobspec_fields.h"

enum qkind {
    Q_STRING, /* once: a string */
    Q_LIST,   /* repeatable, each value split on commas */
    Q_ARRAY,  /* repeatable, each value one element */
    Q_MAP,    /* repeatable K=V into an object */
    Q_BOOL,   /* once: true/false/1/0 */
    Q_INT,    /* once: a decimal integer */
};

/* Which job kinds take a parameter. */
enum { K_BOTH = 0, K_BUILD = 1, K_RESOLVE = 2 };

static const struct qparam {
    const char *name;  /* as given in the query */
    const char *field; /* in the request object */
    enum qkind kind;
    int kinds;         /* K_* */
} qparams[] = {
    {"importpaths", "importpaths", Q_LIST, K_BUILD}, {"importpath", "importpaths", Q_LIST, K_BUILD},
    {"files", "files", Q_LIST, K_RESOLVE},           {"file", "files", Q_LIST, K_RESOLVE},
    {"recursive", "recursive", Q_BOOL, K_RESOLVE},   {"selector", "selector", Q_STRING, K_RESOLVE},
    {"strict", "strict", Q_BOOL, K_RESOLVE},         {"pin_tags", "pin_tags", Q_BOOL, K_RESOLVE},
    {"platforms", "platforms", Q_LIST, K_BOTH},      {"platform", "platforms", Q_LIST, K_BOTH},
    {"tags", "tags", Q_LIST, K_BOTH},                {"tag", "tags", Q_LIST, K_BOTH},
    {"label", "labels", Q_MAP, K_BOTH},              {"labels", "labels", Q_MAP, K_BOTH},
    {"annotation", "annotations", Q_MAP, K_BOTH},    {"annotations", "annotations", Q_MAP, K_BOTH},
    {"env", "env", Q_ARRAY, K_BOTH},                 {"ldflags", "ldflags", Q_ARRAY, K_BOTH},
    {"repo", "repo", Q_STRING, K_BOTH},              {"naming", "naming", Q_STRING, K_BOTH},
    {"base_image", "base_image", Q_STRING, K_BOTH},  {"user", "user", Q_STRING, K_BOTH},
    {"project", "project", Q_STRING, K_BOTH},        {"no_cache", "no_cache", Q_BOOL, K_BOTH},
    {"priority", "priority", Q_INT, K_BOTH},         {"max_attempts", "max_attempts", Q_INT, K_BOTH},
};

static const struct qparam *find_param(const char *name, int kinds)
{
    for (size_t i = 0; i < sizeof qparams / sizeof *qparams; i++)
        if (!strcmp(name, qparams[i].name) && (qparams[i].kinds == K_BOTH || qparams[i].kinds == kinds))
            return &qparams[i];
    return NULL;
}

static int append_list(json_t *arr, const char *value, int split, const char *name, char *err)
{
    size_t len = strlen(value);
    if (len > KF_JOBSPEC_STRING_MAX)
        return kf_fail(err, KF_EINVAL, "%s: value longer than %d bytes", name, KF_JOBSPEC_STRING_MAX);
    if (!split)
        return json_array_append_new(arr, json_string(value)) ? kf_fail(err, KF_EINVAL, "%s: not UTF-8", name)
                                                               : KF_OK;
    for (const char *p = value;;) {
        size_t n = strcspn(p, ",");
        if (n > 0 && json_array_append_new(arr, json_stringn(p, n)))
            return kf_fail(err, KF_EINVAL, "%s: not UTF-8", name);
        if (!p[n])
            return KF_OK;
        p += n + 1;
    }
}

static int add_value(json_t *req, const struct qparam *q, const char *value, char *err)
{
    json_t *have = json_object_get(req, q->field);
    if ((q->kind == Q_STRING || q->kind == Q_BOOL || q->kind == Q_INT) && have)
        return kf_fail(err, KF_EINVAL, "%s: given more than once", q->name);
    if (!kf_jsf_clean_text(value, KF_JOBSPEC_STRING_MAX))
        return kf_fail(err, KF_EINVAL, "%s: not UTF-8 text without control characters", q->name);
    switch (q->kind) {
    case Q_STRING:
        return json_object_set_new(req, q->field, json_string(value)) ? kf_fail(err, KF_ENOMEM, "out of memory")
                                                                        : KF_OK;
    case Q_BOOL: {
        int b = !strcmp(value, "true") || !strcmp(value, "1") ? 1 : !strcmp(value, "false") || !strcmp(value, "0") ? 0 : -1;
        if (b < 0)
            return kf_fail(err, KF_EINVAL, "%s: must be true or false", q->name);
        return json_object_set_new(req, q->field, json_boolean(b)) ? kf_fail(err, KF_ENOMEM, "out of memory") : KF_OK;
    }
    case Q_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (!*value || *end || errno || v < -1000000 || v > 1000000)
            return kf_fail(err, KF_EINVAL, "%s: must be an integer", q->name);
        return json_object_set_new(req, q->field, json_integer(v)) ? kf_fail(err, KF_ENOMEM, "out of memory") : KF_OK;
    }
    case Q_MAP: {
        const char *eq = strchr(value, '=');
        if (!eq || eq == value)
            return kf_fail(err, KF_EINVAL, "%s: must be KEY=VALUE", q->name);
        if (!have && (json_object_set_new(req, q->field, have = json_object()) || !have))
            return kf_fail(err, KF_ENOMEM, "out of memory");
        if (json_object_size(have) >= KF_JOBSPEC_MAP_MAX)
            return kf_fail(err, KF_EINVAL, "%s: more than %d entries", q->name, KF_JOBSPEC_MAP_MAX);
        char key[257];
        size_t klen = (size_t)(eq - value);
        if (klen >= sizeof key)
            return kf_fail(err, KF_EINVAL, "%s: key longer than 256 bytes", q->name);
        memcpy(key, value, klen);
        key[klen] = 0;
        return json_object_set_new(have, key, json_string(eq + 1)) ? kf_fail(err, KF_ENOMEM, "out of memory")
                                                                    : KF_OK;
    }
    case Q_LIST:
    case Q_ARRAY:
        if (!have && (json_object_set_new(req, q->field, have = json_array()) || !have))
            return kf_fail(err, KF_ENOMEM, "out of memory");
        if (json_array_size(have) >= 256)
            return kf_fail(err, KF_EINVAL, "%s: too many values", q->name);
        return append_list(have, value, q->kind == Q_LIST, q->name, err);
    }
    return kf_fail(err, KF_EINTERNAL, "bad query parameter kind");
}

int kf_jobspec_request_from_query(const char *const *names, const char *const *values, size_t n,
                                  json_t **request, char *err)
{
    return kf_jobspec_request_from_query_for("build", names, values, n, request, err);
}

int kf_jobspec_request_from_query_for(const char *kind, const char *const *names, const char *const *values,
                                      size_t n, json_t **request, char *err)
{
    int kinds = kind && !strcmp(kind, "resolve") ? K_RESOLVE : K_BUILD;
    *request = NULL;
    if (n > 1024)
        return kf_fail(err, KF_EINVAL, "too many query parameters");
    json_t *req = json_object();
    if (!req)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct qparam *q = find_param(names[i], kinds);
        if (!q) {
            char shown[64];
            kf_jsf_show(names[i], shown);
            json_decref(req);
            return kf_fail(err, KF_EINVAL, "unknown query parameter %s", shown);
        }
        int rc = add_value(req, q, values[i] ? values[i] : "", err);
        if (rc) {
            json_decref(req);
            return rc;
        }
    }
    *request = req;
    return KF_OK;
}

int kf_jobspec_cache_key(const json_t *spec, const char *commit, const char *default_repo,
                         const char *default_base, char out[80], char *err)
{
    out[0] = 0;
    if (!json_is_object(spec))
        return kf_fail(err, KF_EINVAL, "spec must be an object");
    json_t *copy = json_deep_copy(spec);
    char *text = NULL;
    int rc = KF_ENOMEM;
    if (!copy)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    json_t *git = json_object_get(json_object_get(copy, "source"), "git");
    json_t *upload = json_object_get(json_object_get(copy, "source"), "upload");
    if (git) {
        if (!commit || kf_jsf_clean_text(commit, 64) == 0 || !*commit) {
            rc = kf_fail(err, KF_EINVAL, "a git source's cache key needs the resolved commit");
            goto out;
        }
        json_object_del(git, "ref");
        if (json_object_set_new(git, "commit", json_string(commit)))
            goto out;
    } else if (!upload) {
        rc = kf_fail(err, KF_EINVAL, "spec has neither a git nor an upload source");
        goto out;
    }
    /* Whether the cache was bypassed does not change the output. */
    json_object_del(copy, "no_cache");
    if (json_is_null(json_object_get(copy, "repo")) &&
        json_object_set_new(copy, "repo", default_repo ? json_string(default_repo) : json_null()))
        goto out;
    if (json_is_null(json_object_get(copy, "base_image")) &&
        json_object_set_new(copy, "base_image", default_base ? json_string(default_base) : json_null()))
        goto out;
    if (!(text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS)))
        goto out;
    char digest[KF_DIGEST_LEN];
    kf_sha256_digest(text, strlen(text), digest);
    snprintf(out, 80, "%s:%s", json_object_get(spec, "files") ? "resolve" : "build", digest + 7);
    rc = KF_OK;
out:
    if (rc == KF_ENOMEM)
        kf_fail(err, KF_ENOMEM, "out of memory");
    free(text);
    json_decref(copy);
    return rc;
}
