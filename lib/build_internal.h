/* Shared between build.c (planning, publishing) and build_task.c (one
 * platform image). Not part of the engine's public API. */
#ifndef KF_BUILD_INTERNAL_H
#define KF_BUILD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "base.h"
#include "build.h"
#include "gobuild.h"
#include "image.h"
#include "koconfig.h"
#include "layer.h"
#include "pushset.h"
#include "sink.h"

#define KF_MAX_SINKS 3

/* One import path being built. */
struct kf_target {
    const char *arg;                 /* as given (borrowed) */
    struct kf_gopkg pkg;             /* from go list (empty for a prebuilt binary) */
    char *importpath;                /* qualified, lowercase not applied */
    char *app_path;                  /* "/ko-app/<name>" */
    char *created_by;                /* "ko build ko://<importpath>" */
    char *image_name;                /* REPO/NAME */
    const struct kf_base *base;      /* borrowed from the plan's base cache */
    size_t *sel;                     /* indices into base->entries to build */
    size_t n_sel;
    struct kf_layer kodata;
    char **flags, **ldflags;         /* template-expanded */
    size_t n_flags, n_ldflags;
    const char *const *config_env;   /* .ko.yaml's env then opts' extra_env; strings borrowed */
    size_t n_config_env;
    const char **env_hold;           /* owned array when extra_env was merged in */
    struct kf_sink sinks[KF_MAX_SINKS];
    size_t n_sinks;
    /* Registry sinks that already held what this build made (build_task.c):
     * platform manifests found there, and whether the first tag already
     * names the top manifest (its PUT is then skipped). */
    atomic_size_t in_place[KF_MAX_SINKS];
    int tag_current[KF_MAX_SINKS];
    /* results, one per selected platform */
    struct kf_blob_desc *manifests;
    char (*manifest_types)[128];
    struct kf_build_platform_result *plats;
    unsigned char **manifest_bytes;  /* kept for tagging a single image */
};

struct kf_plan {
    const struct kf_build_opts *o;
    struct kf_registry *reg;
    char **go_env;                   /* clean environment for go */
    char *tmpdir;                    /* binaries live here during the build */
    struct kf_target *targets;
    size_t n_targets;
    volatile int failed;             /* set by the first failing task: others stop early */
    size_t concurrent;               /* go builds running at once (-j, at most the tasks) */
    /* Free go build slots out of concurrent: a task holds one only while
     * its go build runs, so a pool thread layers and pushes one platform
     * while the next platform's go build already has the core. */
    pthread_mutex_t slot_lock;
    pthread_cond_t slot_free;
    size_t slots;
    size_t unstarted;                /* go builds not yet given a slot (under slot_lock) */
    struct kf_pushset pushed;        /* blobs sent to registries by this build's tasks */
};

/* Build and publish (by digest) the platform image sel[k] of target t. */
int kf_build_task_run(struct kf_plan *plan, struct kf_target *t, size_t k, char *err) KF_MUST_CHECK;
/* Send a manifest to every sink of t; top (the image's top manifest, which
 * the tags step PUTs by tag) skips registry sinks. */
int kf_build_put_manifest(struct kf_target *t, const char *ref, const char *mt, const void *data, size_t len,
                          int top, char *err) KF_MUST_CHECK;
/* HEADs the tag the top manifest is pushed under first ("latest" by
 * default) in registry sink s of t: tag_current[s] says whether it names
 * digest already (its PUT is then skipped). */
int kf_build_check_first_tag(const struct kf_plan *plan, struct kf_target *t, size_t s, const char *digest,
                             char *err) KF_MUST_CHECK;

#endif
