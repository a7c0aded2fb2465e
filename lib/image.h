/* The pure part of image assembly: ko's config, manifest and index JSON,
 * built deterministically from the base's JSON and the new layers' digests.
 * No I/O here; every function is thread-safe. */
#ifndef KF_IMAGE_H
#define KF_IMAGE_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "digest.h"
#include "error.h"
#include "platform.h"

#define KF_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define KF_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define KF_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define KF_MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define KF_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define KF_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define KF_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define KF_MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

#define KF_ANNOTATION_BASE_NAME "org.opencontainers.image.base.name"
#define KF_ANNOTATION_BASE_DIGEST "org.opencontainers.image.base.digest"

/* A blob this image adds (config or layer). */
struct kf_blob_desc {
    char digest[KF_DIGEST_LEN];
    size_t size;
};

/* What a build changes in the base's config. */
struct kf_image_opts {
    const char *app_path;          /* "/ko-app/app" */
    const char *created_by;        /* history created_by: "ko build ko://example.com/x" */
    const char *author;            /* config author */
    const char *const *labels;     /* "K=V" */
    size_t n_labels;
    const char *user;              /* NULL keeps the base's */
    long long created_epoch;       /* SOURCE_DATE_EPOCH; < 0 keeps the base's created */
    long long kodata_epoch;        /* KO_DATA_DATE_EPOCH; < 0 = zero time */
};

int kf_image_is_manifest_type(const char *mt);
int kf_image_is_index_type(const char *mt);
/* Layer media type matching the manifest's (OCI or Docker). */
const char *kf_image_layer_type(const char *manifest_mt);
const char *kf_image_config_type(const char *manifest_mt);
/* RFC 3339 UTC for epoch seconds; epoch < 0 gives 1970-01-01T00:00:00Z. */
void kf_image_rfc3339(long long epoch, char out[32]);

/* The config JSON for the new image. base_config NULL means scratch (then
 * platform fills os/architecture/variant). diff_ids: kodata then binary. */
int kf_image_config(const json_t *base_config, const struct kf_platform *platform, const struct kf_image_opts *o,
                    const char *kodata_diff_id, const char *binary_diff_id, struct kf_buf *out,
                    char *err) KF_MUST_CHECK;

/* The manifest JSON: base layers (descriptors kept as they are) then the two
 * new layers; media type mt; annotations as "K=V" (base name/digest first). */
int kf_image_manifest(const json_t *base_manifest, const char *mt, const struct kf_blob_desc *config,
                      const struct kf_blob_desc *layers, size_t n_layers, const char *const *annotations,
                      size_t n_annotations, struct kf_buf *out, char *err) KF_MUST_CHECK;

/* One entry of a new index: the base entry's descriptor (platform, urls,
 * annotations, mediaType kept) pointing at our manifest. */
struct kf_index_entry {
    const json_t *base_descriptor; /* NULL: built from platform/media_type */
    const char *media_type;
    struct kf_platform platform;
    struct kf_blob_desc manifest;
};
int kf_image_index(const char *mt, const struct kf_index_entry *entries, size_t n, const char *const *annotations,
                   size_t n_annotations, struct kf_buf *out, char *err) KF_MUST_CHECK;

/* Platform of an index descriptor or config object ({"os","architecture","variant","os.version"}). */
void kf_image_platform_of(const json_t *obj, struct kf_platform *p);

#endif
