/* A claimed resolve job's work once its source is checked out: read the
 * YAML (the spec's files inside the checkout, never leaving it, or the
 * inline text), resolve it with the job's build options and produce the
 * result object and release.yaml. job.c records both with the success. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dbartifacts.h"
#include "digest.h"
#include "gobuild.h"
#include "jobspec_resolve.h"
#include "worker.h"
#include "wkresolve.h"

#define ERROR_LINES_LOGGED 200

/* Every directory on the way to src/rel must be a real directory: a
 * symlink there (from the repository or the tarball) could lead out of
 * the checkout. The last component is checked by kf_resolve_files_load. */
static int inside_checkout(const char *src, const char *rel, char *path, size_t size, char *err)
{
    if (snprintf(path, size, "%s/%s", src, rel) >= (int)size)
        return kf_fail(err, KF_EINVAL, "%s: path too long", rel);
    size_t base = strlen(src) + 1;
    for (size_t i = base; path[i]; i++) {
        if (path[i] != '/')
            continue;
        struct stat st;
        path[i] = 0;
        int bad = lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
        path[i] = '/';
        if (bad)
            return kf_fail(err, KF_EINVAL, "%.*s: symbolic links are not followed here", (int)(i - base), rel);
    }
    return KF_OK;
}

/* Messages and input names say "config/app.yaml", not the job directory. */
static void strip_prefix(char *text, const char *src)
{
    size_t n = strlen(src);
    for (char *p = text; (p = strstr(p, src));) {
        size_t cut = n + (p[n] == '/');
        memmove(p, p + cut, strlen(p + cut) + 1);
    }
}

static int load_files(const char *src, const struct kf_jobspec_resolve_inputs *in, struct kf_resolve_files *files,
                      char *err)
{
    int rc = KF_OK;
    char **paths = calloc(in->n_files + 1, sizeof *paths);
    if (!paths)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    for (size_t i = 0; i < in->n_files && !rc; i++) {
        char path[PATH_MAX];
        rc = inside_checkout(src, in->files[i], path, sizeof path, err);
        if (!rc && !(paths[i] = strdup(path)))
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
    }
    if (!rc)
        rc = kf_resolve_files_load((const char *const *)paths, in->n_files, in->recursive, 1, 0, files, err);
    for (size_t i = 0; i < files->n; i++)
        strip_prefix((char *)files->inputs[i].name, src);
    if (rc)
        strip_prefix(err, src);
    if (!rc && files->n == 0)
        rc = kf_fail(err, KF_ENOTFOUND, "no *.yaml, *.yml or *.json files under the given paths%s",
                     in->recursive ? "" : " (directories are read without recursive: true)");
    for (size_t i = 0; i < in->n_files; i++)
        free(paths[i]);
    free(paths);
    return rc;
}

static void log_errors(struct wk_joblog *log, const char *errors)
{
    size_t n = 0;
    for (const char *p = errors; p && *p && n < ERROR_LINES_LOGGED; n++) {
        const char *nl = strchr(p, '\n');
        int len = (int)(nl ? nl - p : (ptrdiff_t)strlen(p));
        wk_joblog_printf(log, "system", "%.*s", len, p);
        p = nl ? nl + 1 : NULL;
    }
}

int wk_resolve(const struct wk_resolve_job *job, struct wk_resolve_out *out, char *err)
{
    struct kf_resolve_opts ro;
    struct kf_jobspec_resolve_inputs in;
    struct kf_jobspec_hold hold;
    struct kf_resolve_files files = {0};
    struct kf_resolve_result res = {0};
    struct kf_resolve_input inline_input;
    char **mains = NULL;
    size_t n_mains = 0;
    memset(&ro, 0, sizeof ro);
    memset(out, 0, sizeof *out);
    int rc = kf_jobspec_to_resolve_opts(job->spec, &ro, &in, &hold, err);
    if (rc)
        return rc;
    struct kf_build_opts *o = &ro.build;
    const struct wk_config *cfg = job->cfg;
    wk_build_opts_fill(o, cfg, job->src, job->cancel);
    if (!o->repo) {
        rc = kf_fail(err, KF_EINVAL, "the job names no repo and the worker has no KOFARM_REPO");
        goto out;
    }
    const struct kf_resolve_input *inputs = &inline_input;
    size_t n_inputs = 1;
    if (in.yaml) {
        inline_input = (struct kf_resolve_input){.name = "yaml", .data = (const unsigned char *)in.yaml,
                                                 .len = in.yaml_len};
        wk_joblog_printf(job->log, "system", "Resolving the inline YAML (%zu bytes)", in.yaml_len);
    } else {
        if ((rc = load_files(job->src, &in, &files, err)))
            goto out;
        inputs = files.inputs;
        n_inputs = files.n;
        wk_joblog_printf(job->log, "system", "Resolving %zu file%s", files.n, files.n == 1 ? "" : "s");
    }
    if (!ro.strict) {
        rc = kf_resolve_main_packages(o->go, job->src, job->cancel, &mains, &n_mains, err);
        if (rc)
            goto out;
        ro.main_packages = (const char *const *)mains;
        ro.n_main_packages = n_mains;
    }
    rc = kf_resolve_run(&ro, inputs, n_inputs, &res, err);
    if (rc) {
        log_errors(job->log, res.errors);
        /* The first error says where; the summary how many. */
        if (res.errors && *res.errors) {
            char summary[KF_ERRLEN];
            snprintf(summary, sizeof summary, "%s", err);
            int first = (int)strcspn(res.errors, "\n");
            snprintf(err, KF_ERRLEN, "%.*s (%.300s)", first < 600 ? first : 600, res.errors, summary);
        }
        strip_prefix(err, job->src);
        goto out;
    }
    if (res.len > kf_artifact_max()) {
        rc = kf_fail(err, KF_ETOOBIG, "the resolved YAML is %zu bytes, over the limit of %zu", res.len,
                     kf_artifact_max());
        goto out;
    }
    char digest[KF_DIGEST_LEN];
    kf_sha256_digest(res.yaml, res.len, digest);
    for (size_t i = 0; i < res.n_refs; i++)
        wk_joblog_printf(job->log, "system", "%s%s -> %s", res.refs[i].kind == KF_RESOLVE_KO ? "ko://" : "",
                         res.refs[i].value, res.refs[i].replacement);
    wk_joblog_printf(job->log, "system", "Resolved %zu of %zu documents, %zu reference%s, release.yaml %zu bytes",
                     res.n_docs_out, res.n_docs_in, res.n_refs, res.n_refs == 1 ? "" : "s", res.len);
    out->result = kf_jobspec_resolve_result(&res, job->commit, wk_now_ms() - job->started,
                                            digest + 7);
    if (!out->result) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory (or a reference that is not UTF-8)");
        goto out;
    }
    out->yaml = res.yaml;
    out->len = res.len;
    res.yaml = NULL;
out:
    kf_go_env_free(mains);
    kf_resolve_result_free(&res);
    kf_resolve_files_free(&files);
    kf_jobspec_opts_free(&hold);
    return rc;
}
