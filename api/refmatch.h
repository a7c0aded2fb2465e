/* Git ref names for the farm: glob matching for project rules, semver
 * order for "latest" releases, and image tags derived from refs. Pure and
 * thread-safe. */
#ifndef KF_REFMATCH_H
#define KF_REFMATCH_H

#include <stddef.h>

#define KF_REF_TAG_MAX 128 /* image tag length (OCI distribution) */

/* 1 when name matches pattern: '*' any run of characters (also '/'), '?'
 * one character, everything else literal. Iterative: linear in practice,
 * never exponential. */
int kf_ref_glob_match(const char *pattern, const char *name);

/* Orders tags like semver after an optional leading 'v': "v1.10.0" >
 * "v1.9.0", a pre-release before its release ("1.0.0-rc.1" < "1.0.0"),
 * pre-release identifiers compared numerically when numeric. Tags that are
 * not versions sort before every version, among themselves by strcmp.
 * Returns <0, 0 or >0. */
int kf_semver_cmp(const char *a, const char *b);

/* 1 when s is a version kf_semver_cmp orders as one (MAJOR.MINOR.PATCH
 * with optional pre-release and build metadata, optional 'v'). */
int kf_semver_valid(const char *s);

/* An image tag made from a ref name: characters outside [A-Za-z0-9_.-]
 * become '-', a leading '.' or '-' becomes '_', cut to KF_REF_TAG_MAX.
 * out has KF_REF_TAG_MAX + 1 bytes; "" when name is empty. */
void kf_ref_image_tag(const char *name, char out[KF_REF_TAG_MAX + 1]);

#endif
