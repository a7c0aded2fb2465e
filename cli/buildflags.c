/* ko's build flags and environment -> kf_build_opts, for every command that builds. */
#include "buf.h"
#include "buildflags.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "log.h"

extern char **environ;

void cli_build_flags_init(struct cli_build_flags *f)
{
    memset(f, 0, sizeof *f);
    f->push = 1;
    f->trimpath = 1;
}

size_t cli_build_flags_opts(struct cli_build_flags *f, struct cli_opt *opts)
{
    const struct cli_opt shared[CLI_BUILD_N_OPTS] = {
        {"repo", 0, CLI_STRING, &f->repo},
        {"base-import-paths", 'B', CLI_BOOL, &f->base_paths},
        {"preserve-import-paths", 'P', CLI_BOOL, &f->preserve},
        {"bare", 0, CLI_BOOL, &f->bare},
        {"tags", 't', CLI_CSV, &f->tags},
        {"push", 0, CLI_BOOL, &f->push},
        {"oci-layout-path", 0, CLI_STRING, &f->oci_layout},
        {"tarball", 0, CLI_STRING, &f->tarball},
        {"image-label", 0, CLI_CSV, &f->labels},
        {"image-annotation", 0, CLI_CSV, &f->annotations},
        {"image-user", 0, CLI_STRING, &f->user},
        {"platform", 0, CLI_STRING, &f->platform},
        {"jobs", 'j', CLI_INT, &f->jobs},
        {"insecure-registry", 0, CLI_BOOL, &f->insecure},
        {"trimpath", 0, CLI_BOOL, &f->trimpath},
        {"disable-optimizations", 0, CLI_BOOL, &f->disable_opt},
        {"quiet", 'q', CLI_BOOL, &f->quiet},
    };
    memcpy(opts, shared, sizeof shared);
    return CLI_BUILD_N_OPTS;
}

void cli_build_flags_usage(FILE *out)
{
    fprintf(out,
            "      --repo REPO                  destination repository (default $KO_DOCKER_REPO)\n"
            "  -B, --base-import-paths          name images REPO/<last element>\n"
            "  -P, --preserve-import-paths      name images REPO/<import path>\n"
            "      --bare                       name images REPO\n"
            "  -t, --tags a,b                   tags to push (default latest)\n"
            "      --push=false                 do not push (use with --oci-layout-path or --tarball)\n"
            "      --oci-layout-path DIR        write an OCI image layout\n"
            "      --tarball FILE               write a docker-load tarball\n"
            "      --image-label K=V            add a config label (repeatable, comma-separated)\n"
            "      --image-annotation K=V       add a manifest annotation (repeatable)\n"
            "      --image-user USER            set the image's user\n"
            "      --platform P,...|all         platforms (default $KO_DEFAULTPLATFORMS, .ko.yaml, or the host)\n"
            "  -j, --jobs N                     parallel builds (default: the core count)\n"
            "      --insecure-registry          allow plain http to registries\n"
            "      --disable-optimizations      (ko compatibility; not supported)\n"
            "      --trimpath=false             build without -trimpath\n"
            "  -q, --quiet                      no progress on stderr\n");
}

/* An epoch from the environment: unset or empty -> -1; garbage is an error. */
static int env_epoch(const char *name, long long *out)
{
    const char *v = getenv(name);
    *out = -1;
    if (!v || !*v)
        return 0;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || x < 0 || x > 253402300799LL) {
        fprintf(stderr, "kofarm: %s=\"%s\" is not a Unix time in seconds\n", name, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* $KOFARM_CACHE_DIR, else $XDG_CACHE_HOME/kofarm, else ~/.cache/kofarm; NULL when none works. */
static char *layer_cache_dir(void)
{
    char *dir = NULL;
    const char *env = getenv("KOFARM_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (env && *env)
        n = asprintf(&dir, "%s/layers", env);
    else if (xdg && *xdg)
        n = asprintf(&dir, "%s/kofarm/layers", xdg);
    else if (home && *home)
        n = asprintf(&dir, "%s/.cache/kofarm/layers", home);
    else
        return NULL;
    if (n < 0)
        return NULL;
    if (kf_mkdirs(dir) != 0) {
        free(dir);
        return NULL;
    }
    return dir;
}

int cli_build_flags_apply(struct cli_build_flags *f, struct kf_build_opts *o)
{
    if (f->disable_opt) {
        fprintf(stderr, "kofarm: --disable-optimizations is not supported\n");
        return 2;
    }
    if (f->base_paths + f->preserve + f->bare > 1) {
        fprintf(stderr, "kofarm: choose at most one of -B, -P and --bare\n");
        return 2;
    }
    for (size_t i = 0; i < f->tags.n; i++)
        if (strchr(f->tags.items[i], '/') || strchr(f->tags.items[i], ':') || strchr(f->tags.items[i], '@')) {
            fprintf(stderr, "kofarm: invalid tag \"%s\"\n", f->tags.items[i]);
            return 2;
        }
    if (!f->push && !f->oci_layout && !f->tarball)
        fprintf(stderr, "kofarm: --push=false: nothing will be saved without --oci-layout-path or --tarball\n");
    if (!getcwd(f->cwd, sizeof f->cwd)) {
        fprintf(stderr, "kofarm: cannot read the working directory: %s\n", strerror(errno));
        return 1;
    }
    memset(o, 0, sizeof *o);
    if (env_epoch("SOURCE_DATE_EPOCH", &o->source_date_epoch) ||
        env_epoch("KO_DATA_DATE_EPOCH", &o->kodata_date_epoch))
        return 1;
    const char *env_insecure = getenv("KOFARM_INSECURE_REGISTRIES");
    if (f->insecure)
        f->insecure_hosts = strdup("*");
    else if (env_insecure && *env_insecure)
        f->insecure_hosts = strdup(env_insecure);
    f->cache_dir = layer_cache_dir();

    o->workdir = f->cwd;
    o->repo = f->repo ? f->repo : getenv("KO_DOCKER_REPO");
    o->naming = f->bare ? KF_NAMING_BARE
                : f->preserve ? KF_NAMING_PRESERVE
                : f->base_paths ? KF_NAMING_BASE : KF_NAMING_MD5;
    o->tags = f->tags.items;
    o->n_tags = f->tags.n;
    o->push = f->push;
    o->oci_layout_path = f->oci_layout;
    o->tarball_path = f->tarball;
    o->labels = f->labels.items;
    o->n_labels = f->labels.n;
    o->annotations = f->annotations.items;
    o->n_annotations = f->annotations.n;
    o->user = f->user;
    o->platforms = f->platform;
    o->default_platforms = getenv("KO_DEFAULTPLATFORMS");
    o->default_base = getenv("KO_DEFAULTBASEIMAGE");
    if (o->default_base && !*o->default_base)
        o->default_base = NULL;
    o->jobs = f->jobs;
    o->template_env = (const char *const *)environ;
    o->layer_cache_dir = f->cache_dir;
    o->disable_trimpath = !f->trimpath;
    o->reg.insecure_hosts = f->insecure_hosts;
    o->reg.cancel = &cli_cancel;
    o->cancel = &cli_cancel;
    if (f->quiet)
        kf_log_set_quiet(1);
    return 0;
}

void cli_build_flags_free(struct cli_build_flags *f)
{
    cli_list_free(&f->tags);
    cli_list_free(&f->labels);
    cli_list_free(&f->annotations);
    free(f->cache_dir);
    free(f->insecure_hosts);
    f->cache_dir = f->insecure_hosts = NULL;
}
