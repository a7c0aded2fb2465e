/* `go build` for one import path and platform, with ko's flags, ldflags
 * and environment, refusing -toolexec (it would run any program). */
#include "gobuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gotool.h"

#define BUILD_OUTPUT_MAX ((size_t)1 << 20)

/* -toolexec, --toolexec, -toolexec=X or --toolexec=X in arg[0..len). */
static int is_toolexec(const char *arg, size_t len)
{
    if (len < 2 || arg[0] != '-')
        return 0;
    size_t skip = arg[1] == '-' ? 2 : 1;
    return len - skip >= 8 && memcmp(arg + skip, "toolexec", 8) == 0 && (len - skip == 8 || arg[skip + 8] == '=');
}

/* GOFLAGS is split on white space by go; so is it here. Leading quotes are
 * skipped too, in case a go version unquotes the words. */
static int goflags_toolexec(const char *kv, char *err)
{
    if (strncmp(kv, "GOFLAGS=", 8) != 0)
        return KF_OK;
    static const char space[] = " \t\n\r\v\f";
    for (const char *p = kv + 8 + strspn(kv + 8, space); *p; p += strspn(p, space)) {
        size_t len = strcspn(p, space);
        size_t quotes = strspn(p, "'\"");
        if (quotes < len && is_toolexec(p + quotes, len - quotes))
            return kf_fail(err, KF_EINVAL, "cannot set %.*s via GOFLAGS", (int)(len > 60 ? 60 : len), p);
        p += len;
    }
    return KF_OK;
}

int kf_go_check_flags(const char *const *flags, size_t n, char *const *env, const char *const *config_env,
                      size_t n_config_env, char *err)
{
    for (size_t i = 0; i < n; i++) {
        if (is_toolexec(flags[i], strlen(flags[i])))
            return kf_fail(err, KF_EINVAL, "cannot set %.60s", flags[i]);
    }
    for (char *const *e = env; e && *e; e++) {
        int rc = goflags_toolexec(*e, err);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < n_config_env; i++) {
        int rc = goflags_toolexec(config_env[i], err);
        if (rc)
            return rc;
    }
    return KF_OK;
}

static int ldflags_arg(const struct kf_gobuild_opts *o, char **out)
{
    struct kf_buf b;
    kf_buf_init(&b, 0);
    int rc = kf_buf_append_str(&b, "-ldflags=");
    for (size_t i = 0; !rc && i < o->n_ldflags; i++)
        rc = kf_buf_appendf(&b, "%s%s", i ? " " : "", o->ldflags[i]);
    if (rc) {
        kf_buf_free(&b);
        return rc;
    }
    *out = (char *)kf_buf_steal(&b, NULL);
    return KF_OK;
}

int kf_go_build_argv(const struct kf_gobuild_opts *o, char ***argv, char *err)
{
    *argv = NULL;
    if (!o->go || !o->import_path || !o->output || !o->import_path[0] || !o->output[0])
        return kf_fail(err, KF_EINTERNAL, "go build: missing go, import path or output");
    if (o->import_path[0] == '-')
        return kf_fail(err, KF_EINVAL, "go build: import path \"%.60s\" looks like a flag", o->import_path);
    if (o->output[0] == '-')
        return kf_fail(err, KF_EINVAL, "go build: output \"%.60s\" looks like a flag", o->output);
    if (o->n_flags > 4096 || o->n_ldflags > 4096)
        return kf_fail(err, KF_EINVAL, "go build: too many flags");
    size_t max = o->n_flags + 9;
    char **v = calloc(max, sizeof *v);
    if (!v)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    size_t n = 0;
    int rc = KF_ENOMEM;
    if (!(v[n++] = strdup(o->go)) || !(v[n++] = strdup("build")))
        goto out;
    for (size_t i = 0; i < o->n_flags; i++) {
        if (!(v[n++] = strdup(o->flags[i])))
            goto out;
    }
    /* After the flags, as ko appends it: a "-trimpath=false" there loses. */
    if (o->trimpath && !(v[n++] = strdup("-trimpath")))
        goto out;
    if (o->n_ldflags && ldflags_arg(o, &v[n++]))
        goto out;
    if (!(v[n++] = strdup("-o")) || !(v[n++] = strdup(o->output)) || !(v[n++] = strdup(o->import_path)))
        goto out;
    *argv = v;
    v = NULL;
    rc = KF_OK;
out:
    if (rc)
        kf_fail(err, rc, "out of memory");
    kf_go_env_free(v);
    return rc;
}

int kf_go_build(const struct kf_gobuild_opts *o, char *err)
{
    char **argv = NULL, **envp = NULL;
    struct kf_buf output;
    kf_buf_init(&output, BUILD_OUTPUT_MAX);
    int rc = kf_go_check_flags(o->flags, o->n_flags, o->base_env, o->config_env, o->n_config_env, err);
    if (rc)
        goto out;
    rc = kf_go_build_env(o, &envp, err);
    if (rc)
        goto out;
    /* The config env may bring GOFLAGS of its own; check what go will see. */
    rc = kf_go_check_flags(NULL, 0, envp, NULL, 0, err);
    if (rc)
        goto out;
    rc = kf_go_build_argv(o, &argv, err);
    if (rc)
        goto out;
    struct kf_gotool_run run = {
        .go = o->go,
        .workdir = o->workdir,
        .envp = envp,
        .args = (const char *const *)argv + 1,
        .out = &output,
        .errout = &output,
        .cancel = o->cancel,
        .line_fn = o->log_fn,
        .line_ctx = o->log_ctx,
    };
    rc = kf_gotool_run(&run, err);
    if (rc == KF_EBUILD) {
        char what[256];
        snprintf(what, sizeof what, "go build %.200s", o->import_path);
        rc = kf_gotool_fail(err, KF_EBUILD, what, output.len ? (const char *)output.data : "failed");
    }
out:
    kf_go_env_free(argv);
    kf_go_env_free(envp);
    kf_buf_free(&output);
    return rc;
}
