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

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int kf_hex_lower(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (hex_value(s[i]) < 0)
            return 0;
    return 1;
}

int kf_unhex(const char *hex, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(hex[2 * i]), lo = hi < 0 ? -1 : hex_value(hex[2 * i + 1]);
        if (lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
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
    return strnlen(s, 65) == 64 && kf_hex_lower(s, 64);
}
