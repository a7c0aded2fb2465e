/* kofarm build / publish / containerize: ko's flags and environment mapped
 * onto kf_build_opts; references printed on stdout, progress on stderr. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "buf.h"
#include "log.h"
#include "commands.h"
#include "opts.h"

extern char **environ;

static void build_usage(FILE *f, int containerize)
{
    if (containerize)
        fprintf(f, "Usage: kofarm containerize [flags] --name IMPORTPATH BINARY\n");
    else
        fprintf(f, "Usage: kofarm build [flags] IMPORTPATH...   (./cmd/app, ., example.com/m/cmd/app, ko://...)\n");
    fprintf(f,
            "\nFlags:\n"
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
            "      --image-refs FILE            also write the references to FILE\n"
            "      --disable-optimizations      (ko compatibility; not supported)\n"
            "      --trimpath=false             build without -trimpath\n"
            "  -q, --quiet                      no progress on stderr\n"
            "      --server URL                 build on a kofarm server instead ('kofarm --server URL build --help')\n"
            "\nEnvironment: KO_DOCKER_REPO KO_DEFAULTBASEIMAGE KO_DEFAULTPLATFORMS KO_CONFIG_PATH\n"
            "SOURCE_DATE_EPOCH KO_DATA_DATE_EPOCH DOCKER_CONFIG KOFARM_INSECURE_REGISTRIES KOFARM_CACHE_DIR\n"
            "KOFARM_SERVER (set: builds run on that server)\n");
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

static int mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
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
    if (mkdirs(dir) != 0) {
        free(dir);
        return NULL;
    }
    return dir;
}

int cmd_build(int argc, char **argv, int containerize)
{
    int rc = 1;
    const char *repo = NULL, *oci_layout = NULL, *tarball = NULL, *user = NULL, *platform = NULL;
    const char *image_refs = NULL, *name = NULL;
    int push = 1, base_paths = 0, preserve = 0, bare = 0, jobs = 0, insecure = 0, help = 0, quiet = 0;
    int trimpath = 1, disable_opt = 0;
    struct cli_list tags = {0}, labels = {0}, annotations = {0};
    const char **pos = NULL;
    size_t n_pos = 0;
    struct kf_build_result *results = NULL;
    size_t n_results = 0;
    char *cache_dir = NULL, *insecure_hosts = NULL;
    char cwd[PATH_MAX];
    char err[KF_ERRLEN] = "";
    struct kf_buf refs;
    kf_buf_init(&refs, 0);

    const struct cli_opt opts[] = {
        {"repo", 0, CLI_STRING, &repo},
        {"base-import-paths", 'B', CLI_BOOL, &base_paths},
        {"preserve-import-paths", 'P', CLI_BOOL, &preserve},
        {"bare", 0, CLI_BOOL, &bare},
        {"tags", 't', CLI_CSV, &tags},
        {"push", 0, CLI_BOOL, &push},
        {"oci-layout-path", 0, CLI_STRING, &oci_layout},
        {"tarball", 0, CLI_STRING, &tarball},
        {"image-label", 0, CLI_CSV, &labels},
        {"image-annotation", 0, CLI_CSV, &annotations},
        {"image-user", 0, CLI_STRING, &user},
        {"platform", 0, CLI_STRING, &platform},
        {"jobs", 'j', CLI_INT, &jobs},
        {"insecure-registry", 0, CLI_BOOL, &insecure},
        {"image-refs", 0, CLI_STRING, &image_refs},
        {"name", 0, CLI_STRING, &name},
        {"trimpath", 0, CLI_BOOL, &trimpath},
        {"disable-optimizations", 0, CLI_BOOL, &disable_opt},
        {"quiet", 'q', CLI_BOOL, &quiet},
        {"help", 'h', CLI_BOOL, &help},
    };
    if (cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], &pos, &n_pos)) {
        build_usage(stderr, containerize);
        rc = 2;
        goto out;
    }
    if (help) {
        build_usage(stdout, containerize);
        rc = 0;
        goto out;
    }
    if (disable_opt) {
        fprintf(stderr, "kofarm: --disable-optimizations is not supported\n");
        rc = 2;
        goto out;
    }
    if (base_paths + preserve + bare > 1) {
        fprintf(stderr, "kofarm: choose at most one of -B, -P and --bare\n");
        rc = 2;
        goto out;
    }
    if (containerize ? (n_pos != 1 || !name) : n_pos == 0) {
        build_usage(stderr, containerize);
        rc = 2;
        goto out;
    }
    if (!push && !oci_layout && !tarball)
        fprintf(stderr, "kofarm: --push=false: nothing will be saved without --oci-layout-path or --tarball\n");
    for (size_t i = 0; i < tags.n; i++)
        if (strchr(tags.items[i], '/') || strchr(tags.items[i], ':') || strchr(tags.items[i], '@')) {
            fprintf(stderr, "kofarm: invalid tag \"%s\"\n", tags.items[i]);
            rc = 2;
            goto out;
        }
    if (!getcwd(cwd, sizeof cwd)) {
        fprintf(stderr, "kofarm: cannot read the working directory: %s\n", strerror(errno));
        goto out;
    }

    struct kf_build_opts o;
    memset(&o, 0, sizeof o);
    if (env_epoch("SOURCE_DATE_EPOCH", &o.source_date_epoch) || env_epoch("KO_DATA_DATE_EPOCH", &o.kodata_date_epoch))
        goto out;
    const char *env_insecure = getenv("KOFARM_INSECURE_REGISTRIES");
    if (insecure)
        insecure_hosts = strdup("*");
    else if (env_insecure && *env_insecure)
        insecure_hosts = strdup(env_insecure);
    cache_dir = layer_cache_dir();

    o.workdir = cwd;
    if (containerize) {
        o.prebuilt_binary = pos[0];
        o.importpaths = &name;
        o.n_importpaths = 1;
    } else {
        o.importpaths = pos;
        o.n_importpaths = n_pos;
    }
    o.repo = repo ? repo : getenv("KO_DOCKER_REPO");
    o.naming = bare ? KF_NAMING_BARE : preserve ? KF_NAMING_PRESERVE : base_paths ? KF_NAMING_BASE : KF_NAMING_MD5;
    o.tags = tags.items;
    o.n_tags = tags.n;
    o.push = push;
    o.oci_layout_path = oci_layout;
    o.tarball_path = tarball;
    o.labels = labels.items;
    o.n_labels = labels.n;
    o.annotations = annotations.items;
    o.n_annotations = annotations.n;
    o.user = user;
    o.platforms = platform;
    o.default_platforms = getenv("KO_DEFAULTPLATFORMS");
    o.default_base = getenv("KO_DEFAULTBASEIMAGE");
    if (o.default_base && !*o.default_base)
        o.default_base = NULL;
    o.jobs = jobs;
    o.template_env = (const char *const *)environ;
    o.layer_cache_dir = cache_dir;
    o.disable_trimpath = !trimpath;
    o.reg.insecure_hosts = insecure_hosts;
    o.reg.cancel = &cli_cancel;
    o.cancel = &cli_cancel;
    if (quiet)
        kf_log_set_quiet(1);

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
    cli_list_free(&tags);
    cli_list_free(&labels);
    cli_list_free(&annotations);
    free(pos);
    free(cache_dir);
    free(insecure_hosts);
    return rc;
}
