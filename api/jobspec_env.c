/* The request fields that reach `go build` itself: env (an allowlist of Go
 * variables: nothing that names a program, a path or a library to load),
 * ldflags (no external linker), and the image user. */
#include <stdio.h>
#include <string.h>

#include "gobuild.h"
#include "jobspec.h"
#include "jobspec_fields.h"

#define LDFLAGS_MAX 64
#define USER_MAX 64
#define ENV_VALUE_MAX 1024

/* The variables a request may set, and the characters each value may use.
 * CC, PATH, LD_PRELOAD, GOROOT, GOTOOLCHAIN, GOPROXY... are never allowed:
 * they choose programs, files or where code comes from. */
static const struct {
    const char *name;
    const char *charset;
} allowed_env[] = {
    {"CGO_ENABLED", "01"},
    {"GOAMD64", "v1234"},
    {"GOARM", "567,softfloathardfloat"},
    {"GO386", "sse2softfloat"},
    {"GOMIPS", "hardsoftfloat"},
    {"GOMIPS64", "hardsoftfloat"},
    {"GOPPC64", "power0123456789"},
    {"GOWASM", "satconvsignext,"},
    {"GOEXPERIMENT", "abcdefghijklmnopqrstuvwxyz0123456789,"},
    {"GODEBUG", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,=_."},
    {"GOFLAGS", NULL}, /* checked word by word */
};

/* go build flags that run or load something chosen by the caller, or read
 * files outside the source tree. */
static int goflag_refused(const char *word, size_t len)
{
    static const char *const refused[] = {"toolexec", "exec",   "overlay", "modfile", "compiler",
                                          "gccgoflags", "pkgdir", "ldflags", "asmflags", "gcflags",
                                          "buildmode", "linkshared", "pgo",  "C"};
    size_t skip = strspn(word, "-'\"");
    if (skip == 0 || skip >= len)
        return 1; /* GOFLAGS holds flags only */
    size_t name_len = strcspn(word + skip, "= \t");
    if (name_len > len - skip)
        name_len = len - skip;
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        if (strlen(refused[i]) == name_len && memcmp(word + skip, refused[i], name_len) == 0)
            return 1;
    return 0;
}

static int goflags_ok(const char *value, char *err)
{
    if (strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-=,._ ") != strlen(value))
        return kf_fail(err, KF_EINVAL, "env.GOFLAGS: may hold only flags made of letters, digits and -=,._");
    for (const char *p = value + strspn(value, " "); *p; p += strspn(p, " ")) {
        size_t len = strcspn(p, " ");
        if (goflag_refused(p, len))
            return kf_fail(err, KF_EINVAL, "env.GOFLAGS: flag %.*s is not allowed", (int)(len > 40 ? 40 : len), p);
        p += len;
    }
    /* The engine's own rule too, so both sides agree. */
    char kv[ENV_VALUE_MAX + 16];
    snprintf(kv, sizeof kv, "GOFLAGS=%s", value);
    const char *env[] = {kv};
    return kf_go_check_flags(NULL, 0, NULL, env, 1, err);
}

static int env_entry_ok(const char *name, const char *value, char *err)
{
    for (size_t i = 0; i < sizeof allowed_env / sizeof *allowed_env; i++) {
        if (strcmp(name, allowed_env[i].name) != 0)
            continue;
        if (strlen(value) > ENV_VALUE_MAX || !kf_jsf_clean_text(value, ENV_VALUE_MAX))
            return kf_fail(err, KF_EINVAL, "env.%s: value too long or holds control characters", name);
        if (!allowed_env[i].charset)
            return goflags_ok(value, err);
        if (strspn(value, allowed_env[i].charset) != strlen(value))
            return kf_fail(err, KF_EINVAL, "env.%s: bad value", name);
        return KF_OK;
    }
    char shown[64];
    kf_jsf_show(name, shown);
    return kf_fail(err, KF_EINVAL,
                   "env: %s may not be set (allowed: CGO_ENABLED, GOAMD64, GOARM, GO386, GOMIPS, GOMIPS64, "
                   "GOPPC64, GOWASM, GOEXPERIMENT, GODEBUG, GOFLAGS)",
                   shown);
}

static int env_add(json_t *out, const char *name, const char *value, char *err)
{
    int rc = env_entry_ok(name, value, err);
    if (rc)
        return rc;
    size_t n = json_array_size(out);
    for (size_t i = 0; i < n; i++) {
        const char *have = json_string_value(json_array_get(out, i));
        size_t len = strcspn(have, "=");
        if (len == strlen(name) && !memcmp(have, name, len))
            return kf_fail(err, KF_EINVAL, "env: %s given twice", name);
    }
    char kv[ENV_VALUE_MAX + 32];
    snprintf(kv, sizeof kv, "%s=%s", name, value);
    return json_array_append_new(out, json_string(kv)) ? kf_fail(err, KF_ENOMEM, "out of memory") : KF_OK;
}

/* {"K": "V"} or ["K=V"]; normalised to ["K=V"] in the given order. */
json_t *kf_jsf_env(const json_t *v, char *err)
{
    json_t *out = json_array();
    if (!out)
        return NULL;
    size_t n = json_is_object(v) ? json_object_size(v) : json_array_size(v);
    if (!json_is_object(v) && !json_is_array(v)) {
        kf_fail(err, KF_EINVAL, "env: must be an object of strings or an array of \"K=V\" strings");
        goto fail;
    }
    if (n > KF_JOBSPEC_MAP_MAX) {
        kf_fail(err, KF_EINVAL, "env: more than %d entries", KF_JOBSPEC_MAP_MAX);
        goto fail;
    }
    if (json_is_object(v)) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val) {
            if (!json_is_string(val)) {
                char shown[64];
                kf_jsf_show(key, shown);
                kf_fail(err, KF_EINVAL, "env.%s: must be a string", shown);
                goto fail;
            }
            if (env_add(out, key, json_string_value(val), err))
                goto fail;
        }
        return out;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(v, i);
        const char *s = json_string_value(item);
        char name[64];
        size_t len = s ? strcspn(s, "=") : 0;
        if (!s || !s[len] || len == 0 || len >= sizeof name) {
            kf_fail(err, KF_EINVAL, "env[%zu]: must be a \"K=V\" string", i);
            goto fail;
        }
        memcpy(name, s, len);
        name[len] = 0;
        if (env_add(out, name, s + len + 1, err))
            goto fail;
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* go splits -ldflags on white space (and quotes): each word is checked. */
static int ldflag_ok(const char *s, size_t i, char *err)
{
    static const char *const refused[] = {"extld", "extldflags", "linkmode", "r", "tmpdir", "installsuffix",
                                          "importcfg", "pluginpath", "cpuprofile", "memprofile", "o"};
    for (const char *p = s; *p;) {
        p += strspn(p, " \t'\"");
        size_t len = strcspn(p, " \t'\"");
        if (len > 0 && *p == '-') {
            size_t skip = p[1] == '-' ? 2 : 1;
            size_t name_len = strcspn(p + skip, "= \t'\"");
            for (size_t r = 0; r < sizeof refused / sizeof *refused; r++)
                if (strlen(refused[r]) == name_len && !memcmp(p + skip, refused[r], name_len))
                    return kf_fail(err, KF_EINVAL, "ldflags[%zu]: -%s is not allowed", i, refused[r]);
        }
        p += len;
    }
    return KF_OK;
}

json_t *kf_jsf_ldflags(const json_t *v, char *err)
{
    if (!json_is_array(v)) {
        kf_fail(err, KF_EINVAL, "ldflags: must be an array of strings");
        return NULL;
    }
    size_t n = json_array_size(v);
    if (n > LDFLAGS_MAX) {
        kf_fail(err, KF_EINVAL, "ldflags: more than %d entries", LDFLAGS_MAX);
        return NULL;
    }
    json_t *out = json_array();
    for (size_t i = 0; out && i < n; i++) {
        const char *s = json_string_value(json_array_get(v, i));
        if (!s || !*s || !kf_jsf_clean_text(s, KF_JOBSPEC_STRING_MAX)) {
            kf_fail(err, KF_EINVAL, "ldflags[%zu]: must be a non-empty string without control characters", i);
            goto fail;
        }
        if (ldflag_ok(s, i, err) || json_array_append_new(out, json_string(s)))
            goto fail;
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* "65532", "nonroot", "1000:1000". */
json_t *kf_jsf_user(const json_t *v, char *err)
{
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > USER_MAX || *s == '-' ||
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") != strlen(s)) {
        kf_fail(err, KF_EINVAL, "user: must be a user name or uid[:gid] (letters, digits, ._:-)");
        return NULL;
    }
    return json_string(s);
}
