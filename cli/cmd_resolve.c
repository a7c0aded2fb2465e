/* kofarm resolve / apply / create / delete: ko's YAML commands. resolve
 * prints the resolved stream; apply and create pipe it to `kubectl apply|create
 * -f -`; delete hands the files to `kubectl delete` without building.
 * Arguments after "--" go to kubectl unchanged. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "buildflags.h"
#include "commands.h"
#include "gobuild.h"
#include "opts.h"
#include "resolve.h"
#include "spawn.h"

#define KUBECTL_OUT_MAX ((size_t)64 << 20)
#define KUBECTL_ARGS_MAX 4096

static const char *const mode_names[] = {"resolve", "apply", "create", "delete"};

static void resolve_usage(FILE *f, enum cli_resolve_mode mode)
{
    const char *name = mode_names[mode];
    fprintf(f, "Usage: kofarm %s -f PATH... [-R] [-l SELECTOR]%s%s\n", name,
            mode == CLI_DELETE ? "" : " [--strict=false] [--pin-tags] [build flags]",
            mode == CLI_RESOLVE ? "" : " [-- KUBECTL FLAGS...]");
    if (mode == CLI_RESOLVE)
        fprintf(f, "\nBuilds every ko:// reference in the YAML once, pushes it and prints the YAML with each\n"
                   "replaced by REPO/NAME@sha256:...; everything else is kept byte for byte.\n");
    else if (mode == CLI_DELETE)
        fprintf(f, "\nRuns `kubectl delete -f PATH...` (nothing is built).\n");
    else
        fprintf(f, "\nResolves as `kofarm resolve` does, then pipes the YAML to `kubectl %s -f -`.\n", name);
    fprintf(f,
            "\nFlags:\n"
            "  -f, --filename PATH              a YAML/JSON file, a directory, or - for stdin (repeatable)\n"
            "  -R, --recursive                  also read the directories under a -f directory\n"
            "  -l, --selector SEL               keep only documents whose metadata.labels match\n"
            "                                   (kubectl syntax: a=b, a!=b, a in (x,y), a notin (x), a, !a)\n");
    if (mode == CLI_DELETE)
        return;
    fprintf(f,
            "      --strict=false               also resolve bare main-package import paths (no ko://)\n"
            "      --pin-tags                   also pin every other image: tag to its digest\n");
    cli_build_flags_usage(f);
    if (mode != CLI_RESOLVE)
        fprintf(f, "\nkubectl is the one on PATH; put its own flags after \"--\".\n");
}

/* Prints every error line, then the summary. */
static void print_errors(const struct kf_resolve_result *res, const char *err, int rc)
{
    for (const char *p = res->errors; p && *p;) {
        const char *nl = strchr(p, '\n');
        int len = (int)(nl ? nl - p : (ptrdiff_t)strlen(p));
        fprintf(stderr, "kofarm: %.*s\n", len, p);
        p = nl ? nl + 1 : NULL;
    }
    fprintf(stderr, "kofarm: %s\n", err[0] ? err : kf_strerror(rc));
}

static int write_all(FILE *f, const void *data, size_t len)
{
    if (len && fwrite(data, 1, len, f) != len)
        return -1;
    return fflush(f);
}

/* kubectl VERB args... with stdin from data; its output passed on. */
static int run_kubectl(const char *const *argv, const void *data, size_t len)
{
    struct kf_buf out, errout;
    char err[KF_ERRLEN] = "";
    int status = 0, rc = 1;
    kf_buf_init(&out, KUBECTL_OUT_MAX);
    kf_buf_init(&errout, KUBECTL_OUT_MAX);
    struct kf_spawn s = {.argv = argv, .stdin_data = data, .stdin_len = len, .out = &out, .errout = &errout,
                         .cancel = &cli_cancel};
    int src = kf_spawn_run(&s, &status, err);
    if (write_all(stdout, out.data, out.len) || write_all(stderr, errout.data, errout.len)) {
        fprintf(stderr, "kofarm: writing kubectl's output: %s\n", strerror(errno));
    } else if (src) {
        fprintf(stderr, "kofarm: kubectl: %s\n", err[0] ? err : kf_strerror(src));
    } else if (status != 0) {
        fprintf(stderr, "kofarm: kubectl %s exited with status %d\n", argv[1], status);
    } else {
        rc = 0;
    }
    kf_buf_free(&out);
    kf_buf_free(&errout);
    return rc;
}

static int kubectl_delete(const struct cli_list *files, int recursive, const char *selector, char **extra,
                          int n_extra)
{
    struct kf_buf in;
    char err[KF_ERRLEN];
    int rc = 1, uses_stdin = 0;
    size_t n = 0;
    kf_buf_init(&in, KF_RESOLVE_MAX_INPUT);
    const char **argv = calloc(files->n * 2 + (size_t)n_extra + 8, sizeof *argv);
    if (!argv) {
        fprintf(stderr, "kofarm: out of memory\n");
        return 1;
    }
    argv[n++] = "kubectl";
    argv[n++] = "delete";
    for (size_t i = 0; i < files->n; i++) {
        argv[n++] = "-f";
        argv[n++] = files->items[i];
        uses_stdin |= strcmp(files->items[i], "-") == 0;
    }
    if (recursive)
        argv[n++] = "-R";
    if (selector) {
        argv[n++] = "-l";
        argv[n++] = selector;
    }
    for (int i = 0; i < n_extra; i++)
        argv[n++] = extra[i];
    if (uses_stdin && kf_buf_read_file(&in, "/dev/stdin", err)) {
        fprintf(stderr, "kofarm: reading stdin: %s\n", err);
        goto out;
    }
    rc = run_kubectl(argv, in.data, in.len);
out:
    kf_buf_free(&in);
    free(argv);
    return rc;
}

static int resolve_files(struct kf_resolve_opts *ro, const struct kf_resolve_files *files,
                         struct kf_resolve_result *res)
{
    char err[KF_ERRLEN] = "";
    char **mains = NULL;
    size_t n_mains = 0;
    int rc = 0;
    if (!ro->strict) {
        rc = kf_resolve_main_packages(ro->build.go, ro->build.workdir, &cli_cancel, &mains, &n_mains, err);
        if (rc) {
            fprintf(stderr, "kofarm: listing the module's main packages: %s\n", err);
            return 1;
        }
        ro->main_packages = (const char *const *)mains;
        ro->n_main_packages = n_mains;
    }
    rc = kf_resolve_run(ro, files->inputs, files->n, res, err);
    if (rc)
        print_errors(res, err, rc);
    kf_go_env_free(mains);
    ro->main_packages = NULL;
    return rc ? 1 : 0;
}

int cmd_resolve(int argc, char **argv, enum cli_resolve_mode mode)
{
    int rc = 1, help = 0, recursive = 0, strict = 1, pin_tags = 0;
    const char *selector = NULL;
    struct cli_list filenames = {0};
    struct cli_build_flags bf;
    struct kf_resolve_files files = {0};
    struct kf_resolve_result res = {0};
    const char **pos = NULL, **kargv = NULL;
    size_t n_pos = 0;
    char err[KF_ERRLEN] = "";
    cli_build_flags_init(&bf);

    /* kubectl's own flags come after "--" */
    int n_ours = argc, n_extra = 0;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            n_ours = i;
            n_extra = argc - i - 1;
            break;
        }
    struct cli_opt opts[CLI_BUILD_N_OPTS + 8];
    size_t n_opts = mode == CLI_DELETE ? 0 : cli_build_flags_opts(&bf, opts);
    opts[n_opts++] = (struct cli_opt){"filename", 'f', CLI_LIST, &filenames};
    opts[n_opts++] = (struct cli_opt){"recursive", 'R', CLI_BOOL, &recursive};
    opts[n_opts++] = (struct cli_opt){"selector", 'l', CLI_STRING, &selector};
    opts[n_opts++] = (struct cli_opt){"help", 'h', CLI_BOOL, &help};
    if (mode != CLI_DELETE) {
        opts[n_opts++] = (struct cli_opt){"strict", 0, CLI_BOOL, &strict};
        opts[n_opts++] = (struct cli_opt){"pin-tags", 0, CLI_BOOL, &pin_tags};
    }
    if (cli_parse(n_ours, argv, opts, n_opts, &pos, &n_pos) || n_pos ||
        (mode == CLI_RESOLVE && n_extra) || n_extra > KUBECTL_ARGS_MAX) {
        if (n_pos)
            fprintf(stderr, "kofarm: unexpected argument \"%s\" (files are given with -f)\n", pos[0]);
        resolve_usage(stderr, mode);
        rc = 2;
        goto out;
    }
    if (help) {
        resolve_usage(stdout, mode);
        rc = 0;
        goto out;
    }
    if (filenames.n == 0) {
        fprintf(stderr, "kofarm: %s needs at least one -f PATH\n", mode_names[mode]);
        resolve_usage(stderr, mode);
        rc = 2;
        goto out;
    }
    if (mode == CLI_DELETE) {
        rc = kubectl_delete(&filenames, recursive, selector, argv + n_ours + 1, n_extra);
        goto out;
    }

    struct kf_resolve_opts ro;
    memset(&ro, 0, sizeof ro);
    rc = cli_build_flags_apply(&bf, &ro.build);
    if (rc)
        goto out;
    rc = 1;
    ro.strict = strict;
    ro.selector = selector;
    ro.pin_tags = pin_tags;
    if (kf_resolve_files_load(filenames.items, filenames.n, recursive, 0, 0, &files, err)) {
        fprintf(stderr, "kofarm: %s\n", err);
        goto out;
    }
    if (resolve_files(&ro, &files, &res))
        goto out;
    if (mode == CLI_RESOLVE) {
        if (write_all(stdout, res.yaml, res.len)) {
            fprintf(stderr, "kofarm: writing the YAML: %s\n", strerror(errno));
            goto out;
        }
        rc = 0;
        goto out;
    }
    kargv = calloc((size_t)n_extra + 5, sizeof *kargv);
    if (!kargv) {
        fprintf(stderr, "kofarm: out of memory\n");
        goto out;
    }
    size_t k = 0;
    kargv[k++] = "kubectl";
    kargv[k++] = mode_names[mode];
    kargv[k++] = "-f";
    kargv[k++] = "-";
    for (int i = 0; i < n_extra; i++)
        kargv[k++] = argv[n_ours + 1 + i];
    rc = run_kubectl(kargv, res.yaml, res.len);
out:
    kf_resolve_result_free(&res);
    kf_resolve_files_free(&files);
    cli_build_flags_free(&bf);
    cli_list_free(&filenames);
    free(kargv);
    free(pos);
    return rc;
}
