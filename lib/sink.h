/* Where built images go: a registry repository, or a local OCI blob store
 * (an OCI image layout directory, also the staging area of --tarball). Both
 * take blobs and manifests by digest; safe from several threads. */
#ifndef KF_SINK_H
#define KF_SINK_H

#include <stddef.h>

#include "error.h"
#include "ref.h"
#include "registry.h"

struct kf_sink {
    struct kf_registry *reg;  /* borrowed; used by both kinds (base blobs come from registries) */
    struct kf_ref dest;       /* registry kind: the destination repository (owned) */
    char *layout_dir;         /* local kind: the OCI layout directory (owned), NULL for a registry */
};

int kf_sink_init_registry(struct kf_sink *s, struct kf_registry *reg, const char *image_name, char *err) KF_MUST_CHECK;
/* Creates dir (and blobs/sha256, oci-layout) when missing. */
int kf_sink_init_layout(struct kf_sink *s, struct kf_registry *reg, const char *dir, char *err) KF_MUST_CHECK;
void kf_sink_free(struct kf_sink *s);

int kf_sink_put_blob(struct kf_sink *s, const char *digest, const void *data, size_t len, char *err) KF_MUST_CHECK;
/* A base layer: mounted or left in place when the registry can, else copied
 * from the base's registry. */
int kf_sink_copy_base_blob(struct kf_sink *s, const struct kf_ref *base, const char *digest, size_t size,
                           char *err) KF_MUST_CHECK;
/* Registry: PUT under tag_or_digest. Layout: stored as a blob (tags are
 * recorded by kf_layout_add_ref). */
int kf_sink_put_manifest(struct kf_sink *s, const char *tag_or_digest, const char *media_type, const void *data,
                         size_t len, char *err) KF_MUST_CHECK;

/* Layout only: list (or re-point) a manifest in index.json with an
 * org.opencontainers.image.ref.name annotation. */
int kf_layout_add_ref(const char *dir, const char *ref_name, const char *media_type, const char *digest, size_t size,
                      char *err) KF_MUST_CHECK;
/* Layout only: read a blob back (for tarball writing). */
int kf_layout_read_blob(const char *dir, const char *digest, struct kf_buf *out, char *err) KF_MUST_CHECK;

#endif
