/* The environments go runs with: the clean one taken from ours, the build
 * one layered as ko's buildEnv, and `go env -json` for templates. */
#include "gobuild.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "gotool.h"

#define GOENV_OUT_MAX ((size_t)1 << 20)
#define GOENV_ERR_MAX ((size_t)64 << 10)

/* What go may see of our environment. Anything else (DOCKER_CONFIG,
 * registry credentials, KOFARM_*) stays with us. */
static const char *const passed_keys[] = {
    "PATH", "HOME", "GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GONOPROXY", "GOPRIVATE", "GONOSUMDB",
    "GOSUMDB", "GOFLAGS", "GOINSECURE", "GOROOT", "GOTOOLCHAIN", "GO111MODULE", "GOWORK", "GOEXPERIMENT",
    "GOVCS", "TMPDIR", "XDG_CACHE_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR", "http_proxy", "https_proxy",
    "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
};

/* A NULL-terminated "K=V" list where setting a key replaces its value, so
 * the child sees one value per key (the last one set, as exec.Cmd does). */
struct envlist {
    char **v;
    size_t n, cap;
};

void kf_go_env_free(char **envp)
{
    if (!envp)
        return;
    for (char **p = envp; *p; p++)
        free(*p);
    free(envp);
}

static int valid_key(const char *kv, size_t keylen)
{
    if (keylen == 0)
        return 0;
    for (size_t i = 0; i < keylen; i++) {
        char c = kv[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

/* Takes ownership of kv (freed on failure). */
static int envlist_put(struct envlist *l, char *kv)
{
    size_t keylen = strcspn(kv, "=");
    for (size_t i = 0; i < l->n; i++) {
        if (strncmp(l->v[i], kv, keylen + 1) == 0) {
            free(l->v[i]);
            l->v[i] = kv;
            return KF_OK;
        }
    }
    if (l->n + 2 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            free(kv);
            return KF_ENOMEM;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = kv;
    l->v[l->n] = NULL;
    return KF_OK;
}

static int envlist_set(struct envlist *l, const char *key, const char *value)
{
    char *kv;
    if (asprintf(&kv, "%s=%s", key, value) < 0)
        return KF_ENOMEM;
    return envlist_put(l, kv);
}

/* Adds a caller's "K=V", refusing anything else. */
static int envlist_add_entry(struct envlist *l, const char *entry, const char *origin, char *err)
{
    const char *eq = strchr(entry, '=');
    if (!eq || !valid_key(entry, (size_t)(eq - entry)))
        return kf_fail(err, KF_EINVAL, "%s: \"%.64s\" is not KEY=VALUE", origin, entry);
    char *kv = strdup(entry);
    if (!kv || envlist_put(l, kv))
        return kf_fail(err, KF_ENOMEM, "out of memory");
    return KF_OK;
}

/* An empty list is still a list: go must not inherit ours by accident. */
static char **envlist_finish(struct envlist *l)
{
    if (!l->v) {
        l->v = calloc(1, sizeof *l->v);
    }
    char **v = l->v;
    l->v = NULL;
    l->n = l->cap = 0;
    return v;
}

/* Ends a build of *envp: on success hands the list over, else frees it. */
static int envlist_done(struct envlist *l, int rc, char ***envp, char *err)
{
    if (rc == KF_OK) {
        *envp = envlist_finish(l);
        rc = *envp ? KF_OK : KF_ENOMEM;
    }
    if (rc == KF_ENOMEM)
        kf_fail(err, rc, "out of memory");
    kf_go_env_free(l->v);
    l->v = NULL;
    return rc;
}

static int has_value(const char *key)
{
    const char *v = getenv(key);
    return v && *v;
}

/* $TMPDIR/kofarm-gocache-<uid>: ours alone, or a planted cache could feed
 * us someone else's compiled packages. */
static int private_gocache(struct envlist *l, char *err)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || tmp[0] != '/')
        tmp = "/tmp";
    char dir[4096];
    int n = snprintf(dir, sizeof dir, "%s/kofarm-gocache-%lu", tmp, (unsigned long)geteuid());
    if (n < 0 || (size_t)n >= sizeof dir)
        return kf_fail(err, KF_EINVAL, "TMPDIR is too long");
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return kf_fail(err, KF_EIO, "creating %s: %s", dir, strerror(errno));
    struct stat st;
    if (lstat(dir, &st) < 0)
        return kf_fail(err, KF_EIO, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
        return kf_fail(err, KF_EIO, "%s is not a private directory of ours: set GOCACHE", dir);
    if (envlist_set(l, "GOCACHE", dir))
        return kf_fail(err, KF_ENOMEM, "out of memory");
    return KF_OK;
}

int kf_go_clean_env(char ***envp, char *err)
{
    struct envlist l = {0};
    int rc = KF_ENOMEM;
    *envp = NULL;
    for (size_t i = 0; i < sizeof passed_keys / sizeof passed_keys[0]; i++) {
        const char *value = getenv(passed_keys[i]);
        if (value && envlist_set(&l, passed_keys[i], value))
            goto out;
    }
    /* go refuses to build without a cache ("build cache is required"). */
    if (!has_value("GOCACHE") && !has_value("HOME") && !has_value("XDG_CACHE_HOME")) {
        rc = private_gocache(&l, err);
        if (rc)
            goto out;
    }
    rc = KF_OK;
out:
    return envlist_done(&l, rc, envp, err);
}

static int lower_word(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    }
    return 1;
}

static int env_has(char *const *env, const char *prefix)
{
    for (; env && *env; env++)
        if (!strncmp(*env, prefix, strlen(prefix)))
            return 1;
    return 0;
}

int kf_go_build_env(const struct kf_gobuild_opts *o, char ***envp, char *err)
{
    struct envlist l = {0};
    int rc = KF_ENOMEM;
    *envp = NULL;
    if (!o->goos || !o->goarch || !lower_word(o->goos, 32) || !lower_word(o->goarch, 32))
        return kf_fail(err, KF_EINVAL, "bad GOOS/GOARCH \"%.32s/%.32s\"", o->goos ? o->goos : "",
                       o->goarch ? o->goarch : "");
    if ((o->goarm && !lower_word(o->goarm, 8)) || (o->goamd64 && !lower_word(o->goamd64, 8)))
        return kf_fail(err, KF_EINVAL, "bad GOARM/GOAMD64 value");
    for (char *const *e = o->base_env; e && *e; e++) {
        rc = envlist_add_entry(&l, *e, "go environment", err);
        if (rc)
            goto out;
    }
    rc = KF_ENOMEM;
    if (envlist_set(&l, "CGO_ENABLED", "0") || envlist_set(&l, "GOOS", o->goos) ||
        envlist_set(&l, "GOARCH", o->goarch) || (o->goarm && envlist_set(&l, "GOARM", o->goarm)) ||
        (o->goamd64 && envlist_set(&l, "GOAMD64", o->goamd64)))
        goto out;
    char num[16];
    if (o->gomaxprocs > 0 && !env_has(o->base_env, "GOMAXPROCS=")) {
        snprintf(num, sizeof num, "%d", o->gomaxprocs);
        if (envlist_set(&l, "GOMAXPROCS", num))
            goto out;
    }
    if (o->gogc > 0 && !env_has(o->base_env, "GOGC=")) {
        snprintf(num, sizeof num, "%d", o->gogc);
        if (envlist_set(&l, "GOGC", num))
            goto out;
    }
    char mem[32];
    if (o->gomemlimit_mib > 0 && !env_has(o->base_env, "GOMEMLIMIT=")) {
        snprintf(mem, sizeof mem, "%lldMiB", o->gomemlimit_mib);
        if (envlist_set(&l, "GOMEMLIMIT", mem))
            goto out;
    }
    for (size_t i = 0; i < o->n_config_env; i++) {
        rc = envlist_add_entry(&l, o->config_env[i], "build env", err);
        if (rc)
            goto out;
    }
    rc = KF_OK;
out:
    return envlist_done(&l, rc, envp, err);
}

int kf_go_env_json(const char *go, const char *workdir, char *const *envp, char ***kv, char *err)
{
    struct kf_buf out, errout;
    struct envlist l = {0};
    json_t *root = NULL;
    int rc;
    *kv = NULL;
    kf_buf_init(&out, GOENV_OUT_MAX);
    kf_buf_init(&errout, GOENV_ERR_MAX);
    const char *args[] = {"env", "-json", NULL};
    struct kf_gotool_run run = {.go = go, .workdir = workdir, .envp = envp, .args = args, .out = &out,
                                .errout = &errout};
    rc = kf_gotool_run(&run, err);
    if (rc)
        goto out;
    json_error_t jerr;
    root = json_loadb(out.data ? (const char *)out.data : "", out.len, 0, &jerr);
    if (!json_is_object(root)) {
        rc = kf_fail(err, KF_EBUILD, "go env -json: unexpected output: %s", root ? "not an object" : jerr.text);
        goto out;
    }
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        /* Skip what cannot be a C "K=V" string. */
        if (!json_is_string(value) || !valid_key(key, strlen(key)) ||
            strlen(json_string_value(value)) != json_string_length(value))
            continue;
        if (envlist_set(&l, key, json_string_value(value))) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            goto out;
        }
    }
    *kv = envlist_finish(&l);
    rc = *kv ? KF_OK : kf_fail(err, KF_ENOMEM, "out of memory");
out:
    json_decref(root);
    kf_go_env_free(l.v);
    kf_buf_free(&out);
    kf_buf_free(&errout);
    return rc;
}
