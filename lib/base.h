/* Base images: fetched from a registry (a single manifest or an index) or the
 * built-in "scratch", and the per-platform images a build starts from. */
#ifndef KF_BASE_H
#define KF_BASE_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "digest.h"
#include "error.h"
#include "platform.h"
#include "ref.h"
#include "registry.h"

/* One platform image the base offers. */
struct kf_base_entry {
    struct kf_platform platform;
    json_t *descriptor;           /* the index's descriptor (owned), NULL for a single-image base */
    char digest[KF_DIGEST_LEN];   /* manifest digest */
    char media_type[128];         /* manifest media type */
};

struct kf_base {
    char *name;                   /* for the base.name annotation: "scratch" or kf_ref_name() (owned) */
    struct kf_ref ref;            /* zeroed for scratch */
    int scratch;
    int is_index;
    char media_type[128];         /* of the top-level manifest */
    char digest[KF_DIGEST_LEN];   /* of the top-level manifest ("" for scratch) */
    struct kf_base_entry *entries;
    size_t n_entries;
    /* For a single-image base, the image itself is kept here. */
    json_t *manifest;
    json_t *config;
};

/* A resolved platform image of the base. scratch: manifest and config NULL. */
struct kf_base_image {
    json_t *manifest;             /* owned */
    json_t *config;               /* owned */
    char digest[KF_DIGEST_LEN];   /* manifest digest ("" for scratch) */
    char media_type[128];
    struct kf_platform platform;
};

/* Fetch ref_str ("scratch" is built in). scratch_platforms lists the platforms
 * scratch should offer (the ones asked for). */
int kf_base_fetch(struct kf_registry *reg, const char *ref_str, const struct kf_platform *scratch_platforms,
                  size_t n_scratch, struct kf_base *out, char *err) KF_MUST_CHECK;
void kf_base_free(struct kf_base *b);

/* Indices into b->entries of the platforms a build makes (ko's rules; error
 * when none match). Caller frees *idx. */
int kf_base_select(const struct kf_base *b, const struct kf_platform *want, size_t n_want, int all, size_t **idx,
                   size_t *n_idx, char *err) KF_MUST_CHECK;

/* Fetch entry i's manifest and config. Safe from several threads when each
 * uses its own out. */
int kf_base_image_get(struct kf_registry *reg, const struct kf_base *b, size_t i, struct kf_base_image *out,
                      char *err) KF_MUST_CHECK;
void kf_base_image_free(struct kf_base_image *img);

#endif
