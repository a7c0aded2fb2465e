/* Content digests: "sha256:<64 hex>" strings for OCI, md5 hex for naming. */
#ifndef KF_DIGEST_H
#define KF_DIGEST_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#define KF_DIGEST_LEN 72 /* "sha256:" + 64 hex + NUL, rounded */

struct kf_sha256 {
    void *ctx; /* EVP_MD_CTX, owned */
};

int kf_sha256_init(struct kf_sha256 *h) KF_MUST_CHECK;
void kf_sha256_update(struct kf_sha256 *h, const void *data, size_t len);
/* Writes "sha256:<hex>" into out and frees the context. */
void kf_sha256_final(struct kf_sha256 *h, char out[KF_DIGEST_LEN]);
void kf_sha256_free(struct kf_sha256 *h);

/* One-shot "sha256:<hex>" of data. */
void kf_sha256_digest(const void *data, size_t len, char out[KF_DIGEST_LEN]);
/* 32 lowercase hex chars of md5(data), NUL-terminated. */
void kf_md5_hex(const void *data, size_t len, char out[33]);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void kf_hex(const unsigned char *bytes, size_t n, char *out);
/* 1 when s[0..n) are all lowercase hex digits. */
int kf_hex_lower(const char *s, size_t n);
/* n bytes into out from the 2n lowercase hex digits at hex: 0, or -1 when
 * one is not such a digit (out is then unspecified). */
int kf_unhex(const char *hex, size_t n, unsigned char *out);
/* 1 when s is "sha256:" followed by exactly 64 lowercase hex digits. */
int kf_digest_valid(const char *s);

#endif
