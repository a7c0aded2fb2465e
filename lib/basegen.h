/* Making a base image from scratch plus one root file system tar, for the
 * platforms asked: what `kofarm base create` and the run script use to seed
 * a local registry with a small static base (certificates, tzdata, users). */
#ifndef KF_BASEGEN_H
#define KF_BASEGEN_H

#include <stddef.h>

#include "digest.h"
#include "error.h"
#include "platform.h"
#include "registry.h"

struct kf_basegen_opts {
    const char *rootfs_tar;          /* uncompressed tar, used as it is (its bytes give the diff_id) */
    const struct kf_platform *platforms;
    size_t n_platforms;
    const char *user;                /* config User, NULL for none */
    const char *const *env;          /* "K=V"; PATH defaults to the usual when absent */
    size_t n_env;
    const char *dest;                /* REGISTRY/REPO[:TAG] */
};

/* Pushes one OCI image per platform and, for several, an OCI index; tags it.
 * digest gets the top manifest's digest. */
int kf_basegen_create(struct kf_registry *reg, const struct kf_basegen_opts *o, char digest[KF_DIGEST_LEN],
                      char *err) KF_MUST_CHECK;

#endif
