/* The build flags and environment shared by the commands that build
 * (build, publish, containerize, resolve, apply, create): ko's flags mapped
 * onto kf_build_opts in one place. */
#ifndef KF_CLI_BUILDFLAGS_H
#define KF_CLI_BUILDFLAGS_H

#include <limits.h>
#include <stdio.h>

#include "build.h"
#include "opts.h"

#define CLI_BUILD_N_OPTS 17

struct cli_build_flags {
    const char *repo, *oci_layout, *tarball, *user, *platform;
    int push, base_paths, preserve, bare, jobs, insecure, trimpath, disable_opt, quiet;
    struct cli_list tags, labels, annotations;
    /* filled by cli_build_flags_apply; freed by cli_build_flags_free */
    char *cache_dir, *insecure_hosts;
    char cwd[PATH_MAX];
};

/* Defaults (push, trimpath on). */
void cli_build_flags_init(struct cli_build_flags *f);
/* Writes the shared option entries into opts (room for CLI_BUILD_N_OPTS);
 * returns how many. */
size_t cli_build_flags_opts(struct cli_build_flags *f, struct cli_opt *opts);
/* The usage lines of those flags. */
void cli_build_flags_usage(FILE *out);
/* Checks the combination (exit code 2 with a message) and fills o from the
 * flags and the environment (exit code 1 on errors); 0 when o is ready. o
 * borrows from f: keep f until the build is over. */
int cli_build_flags_apply(struct cli_build_flags *f, struct kf_build_opts *o);
void cli_build_flags_free(struct cli_build_flags *f);

#endif
