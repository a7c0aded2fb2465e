/* kofarm build / publish / containerize: ko's flags and environment mapped
 * onto kf_build_opts; references printed on stdout, progress on stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "buf.h"
#include "buildflags.h"
#include "commands.h"
#include "opts.h"

static void build_usage(FILE *f, int containerize)
{
    if (containerize)
        fprintf(f, "Usage: kofarm containerize [flags] --name IMPORTPATH BINARY\n");
    else
        fprintf(f, "Usage: kofarm build [flags] IMPORTPATH...   (./cmd/app, ., example.com/m/cmd/app, ko://...)\n");
    fprintf(f, "\nFlags:\n");
    cli_build_flags_usage(f);
    fprintf(f,
            "      --image-refs FILE            also write the references to FILE\n"
            "      --server URL                 build on a kofarm server instead ('kofarm --server URL build --help')\n"
            "\nEnvironment: KO_DOCKER_REPO KO_DEFAULTBASEIMAGE KO_DEFAULTPLATFORMS KO_CONFIG_PATH\n"
            "SOURCE_DATE_EPOCH KO_DATA_DATE_EPOCH DOCKER_CONFIG KOFARM_INSECURE_REGISTRIES KOFARM_CACHE_DIR\n"
            "KOFARM_SERVER (set: builds run on that server)\n");
}

int cmd_build(int argc, char **argv, int containerize)
{
    int rc = 1, help = 0;
    const char *image_refs = NULL, *name = NULL;
    struct cli_build_flags bf;
    const char **pos = NULL;
    size_t n_pos = 0;
    struct kf_build_result *results = NULL;
    size_t n_results = 0;
    char err[KF_ERRLEN] = "";
    struct kf_buf refs;
    kf_buf_init(&refs, 0);
    cli_build_flags_init(&bf);

    struct cli_opt opts[CLI_BUILD_N_OPTS + 3];
    size_t n_opts = cli_build_flags_opts(&bf, opts);
    opts[n_opts++] = (struct cli_opt){"image-refs", 0, CLI_STRING, &image_refs};
    opts[n_opts++] = (struct cli_opt){"name", 0, CLI_STRING, &name};
    opts[n_opts++] = (struct cli_opt){"help", 'h', CLI_BOOL, &help};
    if (cli_parse(argc, argv, opts, n_opts, &pos, &n_pos)) {
        build_usage(stderr, containerize);
        rc = 2;
        goto out;
    }
    if (help) {
        build_usage(stdout, containerize);
        rc = 0;
        goto out;
    }
    if (containerize ? (n_pos != 1 || !name) : n_pos == 0) {
        build_usage(stderr, containerize);
        rc = 2;
        goto out;
    }
    struct kf_build_opts o;
    rc = cli_build_flags_apply(&bf, &o);
    if (rc)
        goto out;
    rc = 1;
    if (containerize) {
        o.prebuilt_binary = pos[0];
        o.importpaths = &name;
        o.n_importpaths = 1;
    } else {
        o.importpaths = pos;
        o.n_importpaths = n_pos;
    }

    int brc = kf_build_run(&o, &results, &n_results, err);
    if (brc) {
        fprintf(stderr, "kofarm: %s\n", err[0] ? err : kf_strerror(brc));
        goto out;
    }
    for (size_t i = 0; i < n_results; i++) {
        if (kf_buf_appendf(&refs, "%s\n", results[i].reference)) {
            fprintf(stderr, "kofarm: out of memory\n");
            goto out;
        }
    }
    fwrite(refs.data, 1, refs.len, stdout);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "kofarm: writing the references: %s\n", strerror(errno));
        goto out;
    }
    if (image_refs && kf_write_file_atomic(image_refs, refs.data, refs.len, 0644, err)) {
        fprintf(stderr, "kofarm: %s\n", err);
        goto out;
    }
    rc = 0;
out:
    kf_build_results_free(results, n_results);
    kf_buf_free(&refs);
    cli_build_flags_free(&bf);
    free(pos);
    return rc;
}
