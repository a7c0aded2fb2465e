/* kofarm --server URL build|publish: the same flags as a local build, but
 * the module is packed and uploaded (or named by --git) and a kofarm
 * worker builds it; the log streams to stderr, references go to stdout
 * exactly as a local build prints them. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "apiclient.h"
#include "buf.h"
#include "commands.h"
#include "modroot.h"
#include "opts.h"
#include "remote.h"
#include "srcpack.h"

static void remote_usage(FILE *f)
{
    fprintf(f,
            "Usage: kofarm --server URL build [flags] IMPORTPATH...\n"
            "\nBuilds on a kofarm server: the Go module around the working directory (the nearest\n"
            "go.mod at or above it) is packed and uploaded, or --git names the source; the log\n"
            "streams to stderr and the references are printed on stdout as a local build prints\n"
            "them. Ctrl-C cancels the remote build.\n"
            "\nFlags (as a local build):\n"
            "      --repo REPO                  destination repository (default $KO_DOCKER_REPO, else the worker's)\n"
            "  -B, --base-import-paths          name images REPO/<last element>\n"
            "  -P, --preserve-import-paths      name images REPO/<import path>\n"
            "      --bare                       name images REPO\n"
            "  -t, --tags a,b                   tags to push (default latest)\n"
            "      --image-label K=V            add a config label (repeatable, comma-separated)\n"
            "      --image-annotation K=V       add a manifest annotation (repeatable)\n"
            "      --image-user USER            set the image's user\n"
            "      --platform P,...|all         platforms (default $KO_DEFAULTPLATFORMS, .ko.yaml, or the worker's)\n"
            "      --image-refs FILE            also write the references to FILE\n"
            "  -q, --quiet                      do not show the build log\n"
            "\nRemote flags:\n"
            "      --server URL                 the kofarm server (default $KOFARM_SERVER)\n"
            "      --token TOKEN                API token (default $KOFARM_TOKEN)\n"
            "      --git URL                    build this git repository instead of uploading\n"
            "      --ref REF | --commit SHA     what to check out (with --git)\n"
            "      --no-cache                   build even when an identical build succeeded before\n"
            "      --env K=V                    environment for go build (repeatable)\n"
            "      --ldflags FLAG               extra linker flag (repeatable)\n"
            "      --project NAME               the project the build is filed under\n"
            "\nEnvironment: KOFARM_SERVER KOFARM_TOKEN KO_DOCKER_REPO KO_DEFAULTBASEIMAGE KO_DEFAULTPLATFORMS\n"
            "Files: .kofarmignore at the module root lists what not to upload (gitignore syntax);\n"
            ".git and the top-level build/ are never uploaded.\n");
}

/* Flags a local build has that mean nothing on a server: a usage error. */
static int refuse_local_only(const struct remote_opts *r)
{
    const char *bad = !r->push ? "--push=false" : r->oci_layout ? "--oci-layout-path" : r->tarball ? "--tarball"
                      : !r->trimpath ? "--trimpath=false" : r->disable_opt ? "--disable-optimizations"
                      : r->insecure ? "--insecure-registry (registry access is the worker's KOFARM_INSECURE_REGISTRIES)"
                      : NULL;
    if (!bad)
        return 0;
    fprintf(stderr, "kofarm: %s works only for local builds (without --server)\n", bad);
    return 2;
}

static const char *naming_of(const struct remote_opts *r)
{
    return r->bare ? "bare" : r->preserve ? "preserve" : r->base_paths ? "base" : "md5";
}

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static const char *repo_of(const struct remote_opts *r)
{
    return r->repo ? r->repo : env_or_null("KO_DOCKER_REPO");
}

static const char *platform_of(const struct remote_opts *r)
{
    return r->platform ? r->platform : env_or_null("KO_DEFAULTPLATFORMS");
}

/* The upload's query string. */
static int build_query(const struct remote_opts *r, char *const *importpaths, size_t n, struct kf_api_query *q)
{
    int rc = KF_OK;
    for (size_t i = 0; i < n && rc == KF_OK; i++)
        rc = kf_api_query_add(q, "importpaths", importpaths[i]);
    return rc == KF_OK ? remote_options_query(r, q) : rc;
}

int remote_options_query(const struct remote_opts *r, struct kf_api_query *q)
{
    int rc = KF_OK;
    if (rc == KF_OK && platform_of(r))
        rc = kf_api_query_add(q, "platforms", platform_of(r));
    for (size_t i = 0; i < r->tags.n && rc == KF_OK; i++)
        rc = kf_api_query_add(q, "tags", r->tags.items[i]);
    if (rc == KF_OK && repo_of(r))
        rc = kf_api_query_add(q, "repo", repo_of(r));
    if (rc == KF_OK)
        rc = kf_api_query_add(q, "naming", naming_of(r));
    if (rc == KF_OK && env_or_null("KO_DEFAULTBASEIMAGE"))
        rc = kf_api_query_add(q, "base_image", env_or_null("KO_DEFAULTBASEIMAGE"));
    for (size_t i = 0; i < r->labels.n && rc == KF_OK; i++)
        rc = kf_api_query_add(q, "label", r->labels.items[i]);
    for (size_t i = 0; i < r->annotations.n && rc == KF_OK; i++)
        rc = kf_api_query_add(q, "annotation", r->annotations.items[i]);
    for (size_t i = 0; i < r->env.n && rc == KF_OK; i++)
        rc = kf_api_query_add(q, "env", r->env.items[i]);
    for (size_t i = 0; i < r->ldflags.n && rc == KF_OK; i++)
        rc = kf_api_query_add(q, "ldflags", r->ldflags.items[i]);
    if (rc == KF_OK && r->user)
        rc = kf_api_query_add(q, "user", r->user);
    if (rc == KF_OK && r->no_cache)
        rc = kf_api_query_add(q, "no_cache", "true");
    if (rc == KF_OK && r->project)
        rc = kf_api_query_add(q, "project", r->project);
    return rc;
}

static json_t *string_array(const char *const *items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(items[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* {"K": "V"} from "K=V" items; NULL with a message for an item without "=". */
static json_t *kv_object(const struct cli_list *l, const char *flag)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < l->n; i++) {
        const char *eq = strchr(l->items[i], '=');
        if (!eq || eq == l->items[i]) {
            fprintf(stderr, "kofarm: %s \"%s\" is not KEY=VALUE\n", flag, l->items[i]);
            json_decref(o);
            return NULL;
        }
        char *key = strndup(l->items[i], (size_t)(eq - l->items[i]));
        if (!key || json_object_set_new(o, key, json_string(eq + 1)) != 0) {
            free(key);
            json_decref(o);
            return NULL;
        }
        free(key);
    }
    return o;
}

/* The JSON request of a --git build (jansson reports a bad value as an error). */
static json_t *git_request(const struct remote_opts *r, const char *const *importpaths, size_t n)
{
    json_t *req = remote_git_request(r);
    if (req && json_object_set_new(req, "importpaths", string_array(importpaths, n))) {
        json_decref(req);
        return NULL;
    }
    return req;
}

json_t *remote_git_request(const struct remote_opts *r)
{
    json_t *labels = kv_object(&r->labels, "--image-label");
    json_t *annotations = labels ? kv_object(&r->annotations, "--image-annotation") : NULL;
    if (!labels || !annotations) {
        json_decref(labels);
        json_decref(annotations);
        return NULL;
    }
    json_t *git = json_pack("{s:s}", "url", r->git);
    if (git && r->ref)
        json_object_set_new(git, "ref", json_string(r->ref));
    if (git && r->commit)
        json_object_set_new(git, "commit", json_string(r->commit));
    json_t *req = json_pack("{s:{s:o?}, s:s, s:o, s:o, s:b}", "source", "git", git, "naming", naming_of(r), "labels",
                            labels, "annotations", annotations, "no_cache", r->no_cache);
    if (!req)
        return NULL;
    /* Optional fields are left out rather than null: the server checks types. */
    if (r->tags.n)
        json_object_set_new(req, "tags", string_array(r->tags.items, r->tags.n));
    if (r->env.n)
        json_object_set_new(req, "env", string_array(r->env.items, r->env.n));
    if (r->ldflags.n)
        json_object_set_new(req, "ldflags", string_array(r->ldflags.items, r->ldflags.n));
    if (platform_of(r))
        json_object_set_new(req, "platforms", json_string(platform_of(r)));
    if (repo_of(r))
        json_object_set_new(req, "repo", json_string(repo_of(r)));
    if (env_or_null("KO_DEFAULTBASEIMAGE"))
        json_object_set_new(req, "base_image", json_string(env_or_null("KO_DEFAULTBASEIMAGE")));
    if (r->user)
        json_object_set_new(req, "user", json_string(r->user));
    if (r->project)
        json_object_set_new(req, "project", json_string(r->project));
    return req;
}

/* A random Idempotency-Key: a retried POST must not make a second build. */
void remote_idempotency_key(char out[33])
{
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        out[0] = 0;
        return;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* Packs the module around cwd and rewrites the import paths (owned copies into *paths). */
static int prepare_upload(const char *const *pos, size_t n_pos, int quiet, char ***paths, struct kf_buf *tgz)
{
    return remote_pack_module(pos, n_pos, modroot_rewrite, quiet, paths, tgz);
}

int remote_pack_module(const char *const *pos, size_t n_pos,
                       char *(*rewrite)(const char *root, const char *cwd, const char *path, char *err), int quiet,
                       char ***paths, struct kf_buf *tgz)
{
    char err[KF_ERRLEN] = "";
    char cwd[PATH_MAX];
    char *root = NULL;
    int rc = 1;
    if (!getcwd(cwd, sizeof cwd)) {
        fprintf(stderr, "kofarm: cannot read the working directory: %s\n", strerror(errno));
        return 1;
    }
    if (!(root = modroot_find(cwd, err))) {
        fprintf(stderr, "kofarm: %s\n", err);
        return 1;
    }
    if (!(*paths = calloc(n_pos + 1, sizeof **paths)))
        goto oom;
    for (size_t i = 0; i < n_pos; i++)
        if (!((*paths)[i] = rewrite(root, cwd, pos[i], err))) {
            fprintf(stderr, "kofarm: %s\n", err);
            goto out;
        }
    size_t n_entries = 0;
    int prc = kf_srcpack_dir(root, NULL, tgz, &n_entries, err);
    if (prc != KF_OK) {
        fprintf(stderr, "kofarm: packing %s: %s\n", root, err);
        goto out;
    }
    if (!quiet)
        fprintf(stderr, "kofarm: uploading %s (%zu entries, %zu KiB)\n", root, n_entries, (tgz->len + 1023) / 1024);
    rc = 0;
    goto out;
oom:
    fprintf(stderr, "kofarm: out of memory\n");
out:
    free(root);
    return rc;
}

/* Prints the references of a finished build; the exit code. */
static int report(const char *id, const json_t *job, const char *image_refs)
{
    const char *state = json_string_value(json_object_get(job, "state"));
    if (strcmp(state, "succeeded") != 0) {
        const char *why = remote_job_error(job);
        fprintf(stderr, "kofarm: build %s %s%s%s\n", id, strcmp(state, "canceled") == 0 ? "was canceled" : state,
                *why ? ": " : "", why);
        return 1;
    }
    const json_t *images = json_object_get(json_object_get(job, "result"), "images");
    size_t n = json_array_size(images);
    if (n == 0) {
        fprintf(stderr, "kofarm: build %s succeeded but its result names no image\n", id);
        return 1;
    }
    struct kf_buf refs;
    kf_buf_init(&refs, 0);
    int rc = 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *img = json_array_get(images, i);
        const char *ref = json_string_value(json_object_get(img, "reference"));
        if (!ref) {
            fprintf(stderr, "kofarm: build %s: result image %zu has no reference\n", id, i);
            goto out;
        }
        if (kf_buf_appendf(&refs, "%s\n", ref) != KF_OK) {
            fprintf(stderr, "kofarm: out of memory\n");
            goto out;
        }
    }
    fwrite(refs.data, 1, refs.len, stdout);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "kofarm: writing the references: %s\n", strerror(errno));
        goto out;
    }
    char err[KF_ERRLEN];
    if (image_refs && kf_write_file_atomic(image_refs, refs.data, refs.len, 0644, err) != KF_OK) {
        fprintf(stderr, "kofarm: %s\n", err);
        goto out;
    }
    rc = 0;
out:
    kf_buf_free(&refs);
    return rc;
}

void remote_opts_free(struct remote_opts *r)
{
    cli_list_free(&r->tags);
    cli_list_free(&r->labels);
    cli_list_free(&r->annotations);
    cli_list_free(&r->env);
    cli_list_free(&r->ldflags);
}

static int check_opts(const struct remote_opts *r, size_t n_pos)
{
    if (n_pos == 0) {
        if (refuse_local_only(r))
            return 2;
        remote_usage(stderr);
        return 2;
    }
    return remote_check_opts(r);
}

int remote_check_opts(const struct remote_opts *r)
{
    if (refuse_local_only(r))
        return 2;
    if (r->base_paths + r->preserve + r->bare > 1) {
        fprintf(stderr, "kofarm: choose at most one of -B, -P and --bare\n");
        return 2;
    }
    if ((r->ref || r->commit) && !r->git) {
        fprintf(stderr, "kofarm: --ref and --commit need --git URL\n");
        return 2;
    }
    if (r->ref && r->commit) {
        fprintf(stderr, "kofarm: give --ref or --commit, not both\n");
        return 2;
    }
    for (size_t i = 0; i < r->tags.n; i++)
        if (strchr(r->tags.items[i], '/') || strchr(r->tags.items[i], ':') || strchr(r->tags.items[i], '@')) {
            fprintf(stderr, "kofarm: invalid tag \"%s\"\n", r->tags.items[i]);
            return 2;
        }
    for (size_t i = 0; i < r->env.n; i++)
        if (!strchr(r->env.items[i], '=') || r->env.items[i][0] == '=') {
            fprintf(stderr, "kofarm: --env \"%s\" is not KEY=VALUE\n", r->env.items[i]);
            return 2;
        }
    return 0;
}

/* The flags every remote command shares (build and resolve). */
size_t remote_opts_table(struct remote_opts *r, struct cli_opt *out)
{
    const struct cli_opt opts[] = {
        {"server", 0, CLI_STRING, &r->server},
        {"token", 0, CLI_STRING, &r->token},
        {"repo", 0, CLI_STRING, &r->repo},
        {"base-import-paths", 'B', CLI_BOOL, &r->base_paths},
        {"preserve-import-paths", 'P', CLI_BOOL, &r->preserve},
        {"bare", 0, CLI_BOOL, &r->bare},
        {"tags", 't', CLI_CSV, &r->tags},
        {"push", 0, CLI_BOOL, &r->push},
        {"oci-layout-path", 0, CLI_STRING, &r->oci_layout},
        {"tarball", 0, CLI_STRING, &r->tarball},
        {"image-label", 0, CLI_CSV, &r->labels},
        {"image-annotation", 0, CLI_CSV, &r->annotations},
        {"image-user", 0, CLI_STRING, &r->user},
        {"platform", 0, CLI_STRING, &r->platform},
        {"jobs", 'j', CLI_INT, &r->jobs}, /* parallelism is the worker's business */
        {"insecure-registry", 0, CLI_BOOL, &r->insecure},
        {"image-refs", 0, CLI_STRING, &r->image_refs},
        {"trimpath", 0, CLI_BOOL, &r->trimpath},
        {"disable-optimizations", 0, CLI_BOOL, &r->disable_opt},
        {"quiet", 'q', CLI_BOOL, &r->quiet},
        {"help", 'h', CLI_BOOL, &r->help},
        {"git", 0, CLI_STRING, &r->git},
        {"ref", 0, CLI_STRING, &r->ref},
        {"commit", 0, CLI_STRING, &r->commit},
        {"no-cache", 0, CLI_BOOL, &r->no_cache},
        {"env", 0, CLI_LIST, &r->env},
        {"ldflags", 0, CLI_LIST, &r->ldflags},
        {"project", 0, CLI_STRING, &r->project},
    };
    size_t n = sizeof opts / sizeof opts[0];
    memcpy(out, opts, sizeof opts);
    return n;
}

int cmd_remote_build(int argc, char **argv)
{
    int rc = 1;
    struct remote_opts r = {.push = 1, .trimpath = 1};
    const char **pos = NULL;
    size_t n_pos = 0;
    char **paths = NULL;
    struct kf_api *api = NULL;
    struct kf_api_query query;
    json_t *final = NULL, *request = NULL;
    char id[KF_API_ID_MAX], key[33];
    struct kf_buf tgz;
    kf_buf_init(&tgz, 0);
    kf_api_query_init(&query);

    struct cli_opt opts[REMOTE_N_OPTS];
    size_t n_opts = remote_opts_table(&r, opts);
    if (cli_parse(argc, argv, opts, n_opts, &pos, &n_pos)) {
        remote_usage(stderr);
        rc = 2;
        goto out;
    }
    if (r.help) {
        remote_usage(stdout);
        rc = 0;
        goto out;
    }
    if ((rc = check_opts(&r, n_pos)) != 0)
        goto out;
    if ((rc = remote_open(remote_server(r.server), r.token ? r.token : cli_token_flag, 1, &api)) != 0)
        goto out;
    rc = 1;
    if (r.token)
        cli_token_flag = r.token; /* for the cancel client and the hints */
    remote_idempotency_key(key);

    if (r.git) {
        if (!(request = git_request(&r, pos, n_pos))) {
            fprintf(stderr, "kofarm: cannot make the build request\n");
            goto out;
        }
    } else {
        if (prepare_upload(pos, n_pos, r.quiet, &paths, &tgz) != 0)
            goto out;
        if (cli_cancel) {
            rc = remote_fail(api, KF_ECANCELED, "upload", "");
            goto out;
        }
        if (build_query(&r, paths, n_pos, &query) != KF_OK) {
            fprintf(stderr, "kofarm: the build options are too long for a query string\n");
            goto out;
        }
    }
    if ((rc = remote_submit_follow(api, "build", request, &query, &tgz, key, r.quiet, id, &final)) != 0)
        goto out;
    rc = report(id, final, r.image_refs);
out:
    if (paths)
        for (size_t i = 0; i < n_pos; i++)
            free(paths[i]);
    free(paths);
    free(pos);
    remote_opts_free(&r);
    kf_buf_free(&tgz);
    kf_api_query_free(&query);
    kf_api_free(api);
    json_decref(final);
    json_decref(request);
    return rc;
}

int remote_submit_follow(struct kf_api *api, const char *what, const json_t *request,
                         const struct kf_api_query *query, struct kf_buf *tgz, const char *key, int quiet,
                         char id[KF_API_ID_MAX], json_t **final)
{
    char err[KF_ERRLEN] = "", doing[128];
    json_t *job = NULL;
    int rc = 1, arc;
    if (request)
        arc = kf_api_submit_json(api, request, key[0] ? key : NULL, &job, err);
    else
        arc = kf_api_submit_upload(api, query, tgz->data, tgz->len, key[0] ? key : NULL, &job, err);
    kf_buf_free(tgz);
    if (arc != KF_OK) {
        snprintf(doing, sizeof doing, "submitting the %s", what);
        rc = remote_fail(api, arc, doing, err);
        goto out;
    }
    if (!kf_api_job_id(job, id)) {
        fprintf(stderr, "kofarm: the server's answer has no %s id\n", what);
        goto out;
    }
    fprintf(stderr, "submitted %s %s\n", what, id);
    arc = remote_follow(api, id, quiet ? NULL : stderr, 1, final, err);
    if (arc == KF_ECANCELED) {
        rc = 130;
        goto out;
    }
    if (arc != KF_OK) {
        snprintf(doing, sizeof doing, "following %s %s", what, id);
        rc = remote_fail(api, arc, doing, err);
        goto out;
    }
    rc = 0;
out:
    json_decref(job);
    return rc;
}
