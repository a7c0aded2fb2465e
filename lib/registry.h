/* OCI distribution client: pull and push manifests and blobs, with Basic and
 * Bearer token authentication, retries and connection reuse.
 * A struct kf_registry is safe to use from several threads at once. */
#ifndef KF_REGISTRY_H
#define KF_REGISTRY_H

#include <stddef.h>

#include "buf.h"
#include "digest.h"
#include "error.h"
#include "ref.h"

#define KF_REG_MANIFEST_MAX ((size_t)4 << 20)

struct kf_reg_opts {
    const char *insecure_hosts; /* comma list of "host" (any port) or "host:port" reached over plain http;
                                   "*" means all. 127.0.0.1/localhost are not insecure unless listed. Copied. */
    const char *docker_config;  /* config.json path; NULL = $DOCKER_CONFIG/config.json or
                                   $HOME/.docker/config.json. Copied. */
    int max_retries;            /* attempts beyond the first on 5xx/429/connection errors;
                                   0 = default (4), negative = none */
    const volatile int *cancel; /* nonzero aborts transfers and waits promptly with KF_ECANCELED; not owned,
                                   must outlive the registry */
};

struct kf_registry;

/* New client (copies opts). Free with kf_reg_free. */
int kf_reg_new(const struct kf_reg_opts *opts, struct kf_registry **out, char *err) KF_MUST_CHECK;
/* Closes connections and frees; NULL is fine. No call may be running. */
void kf_reg_free(struct kf_registry *reg);

/* In every call below, repo names registry + repository (a parsed ref); its
 * tag and digest are ignored. Errors: KF_EAUTH (401, the message says
 * whether credentials were sent), KF_EDENIED (403), KF_ENOTFOUND (404),
 * KF_ENET (unreachable, naming the URL), KF_EREGISTRY (5xx after retries or
 * an unexpected answer), KF_ECANCELED, KF_ETOOBIG; messages name
 * registry/repository and carry the registry's own error codes. */

/* GET /v2/ afresh: the registry answers the API (200, or 401 with a usable
 * challenge). Remembers which authentication it wants. */
int kf_reg_ping(struct kf_registry *reg, const struct kf_ref *repo, char *err) KF_MUST_CHECK;

/* Manifest or index by tag or digest, accepting OCI manifest and index and
 * Docker v2 manifest and manifest list. body is reset first and capped at
 * min(body->max, 4 MiB). media_type (may be NULL) gets the Content-Type (or
 * the body's mediaType when the registry sent a generic one); digest (may be
 * NULL) the sha256 of the exact body, checked against tag_or_digest when
 * that is a digest. */
int kf_reg_get_manifest(struct kf_registry *reg, const struct kf_ref *repo, const char *tag_or_digest,
                        struct kf_buf *body, char media_type[128], char digest[KF_DIGEST_LEN], char *err) KF_MUST_CHECK;

/* HEAD the manifest: digest gets its Docker-Content-Digest, or "" when the
 * repository has no such manifest (404) or the registry did not say. */
int kf_reg_manifest_digest(struct kf_registry *reg, const struct kf_ref *repo, const char *tag_or_digest,
                           char digest[KF_DIGEST_LEN], char *err) KF_MUST_CHECK;

/* Blob into body (reset first; capped at body->max -> KF_ETOOBIG), its
 * sha256 checked. Redirects are followed (at most 5) without sending our
 * Authorization to any other origin. */
int kf_reg_get_blob(struct kf_registry *reg, const struct kf_ref *repo, const char *digest, struct kf_buf *body,
                    char *err) KF_MUST_CHECK;

/* HEAD the blob: *exists = 1 (200) or 0 (404). */
int kf_reg_blob_exists(struct kf_registry *reg, const struct kf_ref *repo, const char *digest, int *exists,
                       char *err) KF_MUST_CHECK;

/* Uploads data as digest unless the repository has it already (HEAD). With
 * mount_from on the same registry, a cross-repository mount is tried first
 * (201 done; 202 continues that upload session). Otherwise POST then one
 * monolithic PUT. The registry checks the digest. Retries restart the
 * upload session. */
int kf_reg_push_blob(struct kf_registry *reg, const struct kf_ref *repo, const char *digest, const void *data,
                     size_t len, const struct kf_ref *mount_from, char *err) KF_MUST_CHECK;

/* An upload session opened before the blob exists (while the layer is
 * still being compressed), to save the POST's round trip afterwards:
 * kf_reg_upload_start POSTs; kf_reg_upload_blob is kf_reg_push_blob whose
 * first attempt PUTs into that session (a blob already there is not sent,
 * and the session expires on the registry). repo must outlive the session. */
struct kf_reg_upload;
int kf_reg_upload_start(struct kf_registry *reg, const struct kf_ref *repo, struct kf_reg_upload **out,
                        char *err) KF_MUST_CHECK;
int kf_reg_upload_blob(struct kf_registry *reg, struct kf_reg_upload *up, const char *digest, const void *data,
                       size_t len, char *err) KF_MUST_CHECK;
/* NULL is fine. */
void kf_reg_upload_free(struct kf_reg_upload *up);

/* Only the cross-repository mount of digest from `from` into repo: *mounted
 * = 1 when the registry did it (201), 0 when it would not (202: the upload
 * session it opened is abandoned) or `from` is on another registry. */
int kf_reg_mount_blob(struct kf_registry *reg, const struct kf_ref *repo, const char *digest,
                      const struct kf_ref *from, int *mounted, char *err) KF_MUST_CHECK;

/* PUT the exact bytes under a tag or digest (a digest must be sha256(data)),
 * Content-Type = media_type; the registry's Docker-Content-Digest, when
 * present, must equal sha256(data). At most 4 MiB. */
int kf_reg_put_manifest(struct kf_registry *reg, const struct kf_ref *repo, const char *tag_or_digest,
                        const char *media_type, const void *data, size_t len, char *err) KF_MUST_CHECK;

/* Verifies user/password against registry_host ("host[:port]"): ping; for
 * Basic, ping again with them; for Bearer, run the token flow with them and
 * ping with the token. A registry that needs no authentication succeeds.
 * On success this client uses these credentials for that host from then on. */
int kf_reg_check_login(struct kf_registry *reg, const char *registry_host, const char *user, const char *password,
                       char *err) KF_MUST_CHECK;

#endif
