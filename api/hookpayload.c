/* Webhook signatures (HMAC-SHA256, constant-time) and push payloads. */
#include "hookpayload.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int kf_hook_host_parse(const char *name, enum kf_hook_host *host)
{
    if (!strcmp(name, "github"))
        *host = KF_HOOK_GITHUB;
    else if (!strcmp(name, "gitlab"))
        *host = KF_HOOK_GITLAB;
    else if (!strcmp(name, "gitea") || !strcmp(name, "forgejo"))
        *host = KF_HOOK_GITEA;
    else
        return KF_EINVAL;
    return KF_OK;
}

const char *kf_hook_host_name(enum kf_hook_host host)
{
    return host == KF_HOOK_GITHUB ? "github" : host == KF_HOOK_GITLAB ? "gitlab" : "gitea";
}

static int hmac_sha256(const char *key, const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    return HMAC(EVP_sha256(), key, (int)strlen(key), data, len, out, &n) && n == 32;
}

static int unhex(const char *hex, unsigned char out[32])
{
    if (!hex || strlen(hex) != 64)
        return 0;
    for (int i = 0; i < 64; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0)
            return 0;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)(v << 4);
        else
            out[i / 2] |= (unsigned char)v;
    }
    return 1;
}

int kf_hook_hmac_ok(const char *secret, const void *body, size_t len, const char *hex)
{
    unsigned char want[32], got[32];
    if (!secret || !*secret || !unhex(hex, got) || !hmac_sha256(secret, body ? body : "", len, want))
        return 0;
    return CRYPTO_memcmp(want, got, 32) == 0;
}

int kf_hook_token_ok(const char *secret, const char *token)
{
    static const char key[] = "kofarm token compare";
    unsigned char a[32], b[32];
    if (!secret || !*secret || !token)
        return 0;
    if (!hmac_sha256(key, secret, strlen(secret), a) || !hmac_sha256(key, token, strlen(token), b))
        return 0;
    return CRYPTO_memcmp(a, b, 32) == 0;
}

enum kf_hook_event kf_hook_event_of(enum kf_hook_host host, const char *h)
{
    if (!h)
        return KF_HOOK_EVENT_OTHER;
    if (host == KF_HOOK_GITLAB)
        return !strcmp(h, "Push Hook") || !strcmp(h, "Tag Push Hook") ? KF_HOOK_EVENT_PUSH : KF_HOOK_EVENT_OTHER;
    if (!strcmp(h, "ping"))
        return KF_HOOK_EVENT_PING;
    return !strcmp(h, "push") ? KF_HOOK_EVENT_PUSH : KF_HOOK_EVENT_OTHER;
}

static int commit_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return (n == 40 || n == 64) && strspn(s, "0123456789abcdef") == n;
}

static int zeros(const char *s)
{
    return s && *s && strspn(s, "0") == strlen(s);
}

/* A ref name git would accept, enough to be safe in specs and URLs. */
static int ref_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > KF_HOOK_REF_MAX || s[0] == '-' || s[0] == '/' || s[n - 1] == '/' || strstr(s, ".."))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || strchr("~^:?*[\\", s[i]))
            return 0;
    return 1;
}

int kf_hook_parse_push(const void *body, size_t len, struct kf_push *push, char *err)
{
    int rc = KF_EINVAL;
    json_error_t je;
    memset(push, 0, sizeof *push);
    json_t *doc = body && len ? json_loadb(body, len, 0, &je) : NULL;
    if (!doc)
        return kf_fail(err, KF_EINVAL, "payload is not JSON%s%s", body && len ? ": " : "",
                       body && len ? je.text : "");
    const char *ref = json_string_value(json_object_get(doc, "ref"));
    const char *after = json_string_value(json_object_get(doc, "after"));
    const char *checkout = json_string_value(json_object_get(doc, "checkout_sha"));
    const char *head = json_string_value(json_object_get(json_object_get(doc, "head_commit"), "id"));
    if (!json_is_object(doc) || !ref) {
        kf_fail(err, KF_EINVAL, "push payload without a \"ref\"");
        goto out;
    }
    const char *name;
    if (!strncmp(ref, "refs/heads/", 11))
        name = ref + 11;
    else if (!strncmp(ref, "refs/tags/", 10))
        name = ref + 10, push->tag = 1;
    else {
        kf_fail(err, KF_EINVAL, "ref is neither refs/heads/... nor refs/tags/...");
        goto out;
    }
    if (!ref_name_ok(name)) {
        kf_fail(err, KF_EINVAL, "ref: not a valid branch or tag name");
        goto out;
    }
    snprintf(push->name, sizeof push->name, "%s", name);
    push->deleted = json_is_true(json_object_get(doc, "deleted")) || zeros(after);
    if (push->deleted) {
        rc = KF_OK;
        goto out;
    }
    const char *commit = checkout ? checkout : head ? head : after;
    if (!commit_ok(commit)) {
        kf_fail(err, KF_EINVAL, "push payload without a commit (after, checkout_sha or head_commit.id)");
        goto out;
    }
    snprintf(push->commit, sizeof push->commit, "%s", commit);
    rc = KF_OK;
out:
    json_decref(doc);
    return rc;
}
