/* One ko-style build: import paths -> Go binaries -> images on base images
 * -> pushed (or written locally). Front-ends fill kf_build_opts; the engine
 * reads no environment variables itself except through .ko.yaml loading. */
#ifndef KF_BUILD_H
#define KF_BUILD_H

#include <stddef.h>

#include "digest.h"
#include "error.h"
#include "naming.h"
#include "platform.h"
#include "registry.h"

#define KF_DEFAULT_BASE_IMAGE "cgr.dev/chainguard/static:latest"

struct kf_build_opts {
    const char *workdir;                /* the Go module (where .ko.yaml is looked up) */
    const char *const *importpaths;     /* as the user wrote them: ./cmd/app, ko://..., . */
    size_t n_importpaths;
    const char *prebuilt_binary;        /* containerize: wrap this binary, no go build; importpaths[0] names it */
    const char *repo;                   /* destination (KO_DOCKER_REPO); required when pushing */
    enum kf_naming naming;
    const char *const *tags;            /* default {"latest"} when n_tags == 0 */
    size_t n_tags;
    int push;
    const char *oci_layout_path;        /* also write/keep an OCI layout here */
    const char *tarball_path;           /* also write a docker-load tarball here */
    const char *const *labels;          /* "K=V" */
    size_t n_labels;
    const char *const *annotations;     /* "K=V" */
    size_t n_annotations;
    const char *user;                   /* --image-user, NULL keeps the base's */
    const char *platforms;              /* --platform; NULL: default_platforms, .ko.yaml, then the host */
    const char *default_platforms;      /* KO_DEFAULTPLATFORMS */
    const char *default_base;           /* KO_DEFAULTBASEIMAGE: wins over .ko.yaml's defaultBaseImage */
    int jobs;                           /* parallel platform builds; <= 0: the core count */
    int builds_elsewhere;               /* other builds this process runs at once (a worker's other
                                           jobs): they share go's memory limit (see build_task.c) */
    long long source_date_epoch;        /* < 0 unset */
    long long kodata_date_epoch;        /* < 0 unset */
    const char *const *template_env;    /* "K=V" visible to {{.Env.X}} (the CLI passes its environment) */
    const char *const *extra_env;       /* "K=V" for go build after .ko.yaml's env (wins over it) */
    size_t n_extra_env;
    const char *const *extra_ldflags;   /* appended to .ko.yaml's ldflags, not templated */
    size_t n_extra_ldflags;
    const char *go;                     /* go binary, NULL = "go" */
    const char *layer_cache_dir;        /* NULL = no binary-layer cache */
    int disable_trimpath;
    struct kf_reg_opts reg;             /* registry access (insecure hosts, docker config, cancel) */
    const volatile int *cancel;
};

struct kf_build_platform_result {
    struct kf_platform platform;
    char digest[KF_DIGEST_LEN];         /* the platform's manifest */
};

struct kf_build_result {
    char *importpath;                   /* qualified, without ko:// */
    char *image_name;                   /* REPO/NAME (ko's namer) */
    char *reference;                    /* NAME@sha256:... as printed */
    char digest[KF_DIGEST_LEN];         /* the pushed manifest or index */
    char media_type[128];
    struct kf_build_platform_result *platforms;
    size_t n_platforms;
};

/* Runs the build; on success *results (caller frees with kf_build_results_free)
 * has one entry per import path, in argument order. */
int kf_build_run(const struct kf_build_opts *o, struct kf_build_result **results, size_t *n_results,
                 char *err) KF_MUST_CHECK;
void kf_build_results_free(struct kf_build_result *r, size_t n);

#endif
