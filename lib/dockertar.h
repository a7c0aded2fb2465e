/* `docker load`-able tarballs (--tarball): manifest.json, the config and the
 * gzip layers of each image, read from a staging OCI layout. */
#ifndef KF_DOCKERTAR_H
#define KF_DOCKERTAR_H

#include <stddef.h>

#include "build.h"
#include "error.h"

/* One entry per result; each must be a single image (not an index). tags
 * NULL means "latest". The file is written atomically. */
int kf_dockertar_write(const char *path, const char *layout_dir, const struct kf_build_result *results, size_t n,
                       const char *const *tags, size_t n_tags, char *err) KF_MUST_CHECK;

#endif
