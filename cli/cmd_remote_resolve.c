/* kofarm --server URL resolve -f PATH...: the resolve runs on the farm.
 * The module around the working directory is uploaded (or --git names the
 * source), the -f paths are sent relative to the module root, the log
 * streams to stderr and the resolved YAML (the job's release.yaml) is
 * printed on stdout, as a local resolve prints it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiclient.h"
#include "buf.h"
#include "commands.h"
#include "modroot.h"
#include "opts.h"
#include "remote.h"

#define RELEASE_MAX ((size_t)1 << 30) /* the server's cap applies first (KOFARM_MAX_RELEASE) */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: kofarm --server URL resolve -f PATH... [-R] [-l SELECTOR] [--strict=false] [--pin-tags] [flags]\n"
            "\nResolves on a kofarm server: the Go module around the working directory is uploaded (or\n"
            "--git names the source), every ko:// reference in the -f files is built there, and the\n"
            "resolved YAML is printed on stdout. -f paths are files or directories inside the module\n"
            "(relative to the working directory; with --git, to the repository root).\n"
            "\nFlags: -f/--filename, -R/--recursive, -l/--selector, --strict=false, --pin-tags, and the\n"
            "remote build flags (see 'kofarm --server URL build --help').\n");
}

/* A -f path as the worker sees it: relative to the module root. */
static char *rewrite_file(const char *root, const char *cwd, const char *path, char *err)
{
    size_t rlen = strlen(root);
    if (path[0] == '/') {
        if (strncmp(path, root, rlen) != 0 || (path[rlen] != '/' && path[rlen] != 0)) {
            kf_fail(err, KF_EINVAL, "%s is outside the module at %s", path, root);
            return NULL;
        }
        return strdup(path[rlen] ? path + rlen + 1 : ".");
    }
    char *rel = NULL;
    int dotted = !strcmp(path, ".") || !strcmp(path, "..") || !strncmp(path, "./", 2) || !strncmp(path, "../", 3);
    if (asprintf(&rel, "%s%s", dotted ? "" : "./", path) < 0) {
        kf_fail(err, KF_ENOMEM, "out of memory");
        return NULL;
    }
    char *out = modroot_rewrite(root, cwd, rel, err);
    free(rel);
    if (!out && strstr(err, "outside the module"))
        kf_fail(err, KF_EINVAL, "-f %s is outside the module at %s (only the module is uploaded)", path, root);
    return out;
}

static int add_resolve_query(const struct cli_list *files, char *const *paths, int recursive, const char *selector,
                             int strict, int pin_tags, struct kf_api_query *q)
{
    int rc = KF_OK;
    for (size_t i = 0; i < files->n && rc == KF_OK; i++)
        rc = kf_api_query_add(q, "files", paths[i]);
    if (rc == KF_OK && recursive)
        rc = kf_api_query_add(q, "recursive", "true");
    if (rc == KF_OK && selector)
        rc = kf_api_query_add(q, "selector", selector);
    if (rc == KF_OK && !strict)
        rc = kf_api_query_add(q, "strict", "false");
    if (rc == KF_OK && pin_tags)
        rc = kf_api_query_add(q, "pin_tags", "true");
    return rc;
}

static json_t *git_resolve_request(const struct remote_opts *r, const struct cli_list *files, int recursive,
                                   const char *selector, int strict, int pin_tags)
{
    json_t *req = remote_git_request(r), *arr = json_array();
    for (size_t i = 0; arr && i < files->n; i++)
        if (json_array_append_new(arr, json_string(files->items[i]))) {
            json_decref(arr);
            arr = NULL;
        }
    if (!req || !arr || json_object_set_new(req, "files", arr) ||
        json_object_set_new(req, "recursive", json_boolean(recursive)) ||
        json_object_set_new(req, "strict", json_boolean(strict)) ||
        json_object_set_new(req, "pin_tags", json_boolean(pin_tags)) ||
        (selector && json_object_set_new(req, "selector", json_string(selector)))) {
        json_decref(req);
        return NULL;
    }
    return req;
}

/* Prints the release.yaml of a finished resolve; the exit code. */
static int report(struct kf_api *api, const char *id, const json_t *job)
{
    const char *state = json_string_value(json_object_get(job, "state"));
    char err[KF_ERRLEN] = "";
    if (!state || strcmp(state, "succeeded") != 0) {
        const char *why = remote_job_error(job);
        fprintf(stderr, "kofarm: resolve %s %s%s%s\n", id,
                state && !strcmp(state, "canceled") ? "was canceled" : state ? state : "ended", *why ? ": " : "",
                why);
        return 1;
    }
    struct kf_buf yaml;
    kf_buf_init(&yaml, RELEASE_MAX);
    int rc = kf_api_get_file(api, id, "release.yaml", RELEASE_MAX, &yaml, err);
    if (rc != KF_OK) {
        char what[128];
        snprintf(what, sizeof what, "downloading the release.yaml of resolve %s", id);
        rc = remote_fail(api, rc, what, err);
    } else if ((yaml.len && fwrite(yaml.data, 1, yaml.len, stdout) != yaml.len) || fflush(stdout) != 0) {
        fprintf(stderr, "kofarm: writing the YAML: %s\n", strerror(errno));
        rc = 1;
    }
    kf_buf_free(&yaml);
    return rc;
}

int cmd_remote_resolve(int argc, char **argv)
{
    int rc = 1, recursive = 0, strict = 1, pin_tags = 0;
    const char *selector = NULL;
    struct remote_opts r = {.push = 1, .trimpath = 1};
    struct cli_list files = {0};
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
    opts[n_opts++] = (struct cli_opt){"filename", 'f', CLI_LIST, &files};
    opts[n_opts++] = (struct cli_opt){"recursive", 'R', CLI_BOOL, &recursive};
    opts[n_opts++] = (struct cli_opt){"selector", 'l', CLI_STRING, &selector};
    opts[n_opts++] = (struct cli_opt){"strict", 0, CLI_BOOL, &strict};
    opts[n_opts++] = (struct cli_opt){"pin-tags", 0, CLI_BOOL, &pin_tags};
    if (cli_parse(argc, argv, opts, n_opts, &pos, &n_pos) || n_pos) {
        if (n_pos)
            fprintf(stderr, "kofarm: unexpected argument \"%s\" (files are given with -f)\n", pos[0]);
        usage(stderr);
        rc = 2;
        goto out;
    }
    if (r.help) {
        usage(stdout);
        rc = 0;
        goto out;
    }
    if ((rc = remote_check_opts(&r)) != 0)
        goto out;
    rc = 2;
    if (files.n == 0) {
        fprintf(stderr, "kofarm: resolve needs at least one -f PATH\n");
        usage(stderr);
        goto out;
    }
    for (size_t i = 0; i < files.n; i++)
        if (!strcmp(files.items[i], "-")) {
            fprintf(stderr, "kofarm: -f - (stdin) works only for local resolves (without --server)\n");
            goto out;
        }
    if (r.image_refs) {
        fprintf(stderr, "kofarm: --image-refs works only with build\n");
        goto out;
    }
    if ((rc = remote_open(remote_server(r.server), r.token ? r.token : cli_token_flag, 1, &api)) != 0)
        goto out;
    rc = 1;
    if (kf_api_set_collection(api, "resolves") != KF_OK)
        goto out;
    if (r.token)
        cli_token_flag = r.token;
    remote_idempotency_key(key);
    if (r.git) {
        if (!(request = git_resolve_request(&r, &files, recursive, selector, strict, pin_tags))) {
            fprintf(stderr, "kofarm: cannot make the resolve request\n");
            goto out;
        }
    } else {
        if (remote_pack_module((const char *const *)files.items, files.n, rewrite_file, r.quiet, &paths, &tgz) != 0)
            goto out;
        if (remote_options_query(&r, &query) != KF_OK ||
            add_resolve_query(&files, paths, recursive, selector, strict, pin_tags, &query) != KF_OK) {
            fprintf(stderr, "kofarm: the resolve options are too long for a query string\n");
            goto out;
        }
    }
    if ((rc = remote_submit_follow(api, "resolve", request, &query, &tgz, key, r.quiet, id, &final)) != 0)
        goto out;
    rc = report(api, id, final);
out:
    if (paths)
        for (size_t i = 0; i < files.n; i++)
            free(paths[i]);
    free(paths);
    free(pos);
    cli_list_free(&files);
    remote_opts_free(&r);
    kf_buf_free(&tgz);
    kf_api_query_free(&query);
    kf_api_free(api);
    json_decref(final);
    json_decref(request);
    return rc;
}
