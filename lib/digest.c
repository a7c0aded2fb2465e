/* sha256 and md5 through OpenSSL's EVP interface. */
#include "digest.h"

#include <openssl/evp.h>
#include <string.h>

void kf_hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char hexd[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexd[bytes[i] >> 4];
        out[2 * i + 1] = hexd[bytes[i] & 15];
    }
    out[2 * n] = 0;
}

int kf_sha256_init(struct kf_sha256 *h)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return KF_ENOMEM;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return KF_EINTERNAL;
    }
    h->ctx = ctx;
    return KF_OK;
}

void kf_sha256_update(struct kf_sha256 *h, const void *data, size_t len)
{
    EVP_DigestUpdate(h->ctx, data, len);
}

void kf_sha256_final(struct kf_sha256 *h, char out[KF_DIGEST_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(h->ctx, md, &mdlen);
    memcpy(out, "sha256:", 7);
    kf_hex(md, mdlen, out + 7);
    kf_sha256_free(h);
}

void kf_sha256_free(struct kf_sha256 *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

void kf_sha256_digest(const void *data, size_t len, char out[KF_DIGEST_LEN])
{
    unsigned char md[32];
    EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
    memcpy(out, "sha256:", 7);
    kf_hex(md, 32, out + 7);
}

void kf_md5_hex(const void *data, size_t len, char out[33])
{
    unsigned char md[16];
    EVP_Digest(data, len, md, NULL, EVP_md5(), NULL);
    kf_hex(md, 16, out);
}

int kf_digest_valid(const char *s)
{
    if (strncmp(s, "sha256:", 7) != 0)
        return 0;
    s += 7;
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == 64;
}
