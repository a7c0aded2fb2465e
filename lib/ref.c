/* Image reference parsing by the distribution grammar:
 *   reference := name [":" tag] ["@" digest],  name := [host[:port] "/"] path
 * with go-containerregistry's Docker Hub defaults. */
#include "ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"

#define REF_INPUT_MAX 1024 /* longer than any valid reference: name 255 + tag 128 + digest 71 */
#define TAG_MAX 128

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static int is_word(char c)
{
    return is_alnum(c) || c == '_';
}

int kf_ref_tag_valid(const char *tag)
{
    size_t n = tag ? strlen(tag) : 0;
    if (n == 0 || n > TAG_MAX || !is_word(tag[0]))
        return 0;
    for (size_t i = 1; i < n; i++) {
        if (!is_word(tag[i]) && tag[i] != '.' && tag[i] != '-')
            return 0;
    }
    return 1;
}

/* path-component := [a-z0-9]+ (([._] | "__" | "-"+) [a-z0-9]+)* */
static int path_component_valid(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0 || !is_lower_alnum(s[0]))
        return 0;
    while (i < n) {
        while (i < n && is_lower_alnum(s[i]))
            i++;
        if (i == n)
            return 1;
        size_t sep = i;
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '_') {
            i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
        } else {
            while (i < n && s[i] == '-')
                i++;
        }
        if (i == sep || i == n || !is_lower_alnum(s[i]))
            return 0;
    }
    return 1;
}

static int path_valid(const char *path, char *err, const char *input)
{
    const char *p = path;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (!path_component_valid(p, n)) {
            for (size_t i = 0; i < n; i++) {
                if (p[i] >= 'A' && p[i] <= 'Z')
                    return kf_fail(err, KF_EINVAL, "invalid reference \"%s\": repository name must be lowercase",
                                   input);
            }
            return kf_fail(err, KF_EINVAL, "invalid reference \"%s\": bad repository component \"%.*s\"", input,
                           (int)n, p);
        }
        if (!slash)
            return KF_OK;
        p = slash + 1;
    }
}

/* domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static int domain_name_valid(const char *s, size_t n)
{
    size_t start = 0;
    if (n == 0)
        return 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            if (!is_alnum(s[i]) && s[i] != '-')
                return 0;
            continue;
        }
        if (i == start || s[start] == '-' || s[i - 1] == '-')
            return 0;
        start = i + 1;
    }
    return 1;
}

/* An IPv6 literal between brackets: hex digits, colons and dots only. */
static int ipv6_valid(const char *s, size_t n)
{
    if (n < 4 || s[0] != '[' || s[n - 1] != ']')
        return 0;
    size_t colons = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        char c = s[i];
        if (c == ':')
            colons++;
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.'))
            return 0;
    }
    return colons >= 2;
}

/* host [":" port], port 1-65535 */
static int registry_valid(const char *s)
{
    size_t n = strlen(s);
    const char *colon = s[0] == '[' ? strstr(s, "]:") : strrchr(s, ':');
    size_t host_len = n;
    if (colon) {
        if (s[0] == '[')
            colon++;
        host_len = (size_t)(colon - s);
        const char *port = colon + 1;
        size_t plen = strlen(port);
        if (plen == 0 || plen > 5)
            return 0;
        long v = 0;
        for (size_t i = 0; i < plen; i++) {
            if (port[i] < '0' || port[i] > '9')
                return 0;
            v = v * 10 + (port[i] - '0');
        }
        if (v < 1 || v > 65535)
            return 0;
    }
    if (s[0] == '[')
        return ipv6_valid(s, host_len);
    return domain_name_valid(s, host_len);
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

/* Splits name into registry and repository, applying Docker Hub defaults. */
static int split_name(const char *name, struct kf_ref *out, int repo_only, char *err, const char *input)
{
    const char *slash = strchr(name, '/');
    size_t first = slash ? (size_t)(slash - name) : strlen(name);
    int has_domain = slash && (memchr(name, '.', first) || memchr(name, ':', first) ||
                               (first == 9 && memcmp(name, "localhost", 9) == 0));
    const char *path = name;
    if (has_domain) {
        out->registry = dup_n(name, first);
        path = slash + 1;
    } else {
        out->registry = strdup(KF_REF_DOCKER_HUB);
    }
    if (!out->registry)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    if (!registry_valid(out->registry))
        return kf_fail(err, KF_EINVAL, "invalid reference \"%s\": bad registry host \"%s\"", input, out->registry);
    if (strcmp(out->registry, "docker.io") == 0) {
        free(out->registry);
        if (!(out->registry = strdup(KF_REF_DOCKER_HUB)))
            return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    if (repo_only && !slash && strcmp(name, "localhost") == 0)
        return kf_fail(err, KF_EINVAL, "invalid repository \"%s\": a registry host needs a repository path after it",
                       input);
    if (*path == 0)
        return kf_fail(err, KF_EINVAL, "invalid reference \"%s\": empty repository", input);
    int rc = path_valid(path, err, input);
    if (rc)
        return rc;
    int library = strcmp(out->registry, KF_REF_DOCKER_HUB) == 0 && !strchr(path, '/');
    size_t plen = strlen(path);
    out->repository = malloc(plen + 9);
    if (!out->repository)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    snprintf(out->repository, plen + 9, "%s%s", library ? "library/" : "", path);
    if (strlen(out->registry) + 1 + strlen(out->repository) > KF_REF_NAME_MAX)
        return kf_fail(err, KF_EINVAL, "invalid reference \"%s\": name longer than %d bytes", input, KF_REF_NAME_MAX);
    return KF_OK;
}

static int parse(const char *s, struct kf_ref *out, int repo_only, char *err)
{
    char *name = NULL;
    int rc = KF_EINVAL;
    memset(out, 0, sizeof *out);
    if (!s || !*s)
        return kf_fail(err, KF_EINVAL, "invalid reference: empty");
    size_t n = strnlen(s, REF_INPUT_MAX + 1);
    if (n > REF_INPUT_MAX)
        return kf_fail(err, KF_EINVAL, "invalid reference: longer than %d bytes", REF_INPUT_MAX);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
            return kf_fail(err, KF_EINVAL, "invalid reference: contains a space or a control or non-ASCII character");
    }
    if (s[0] == '-' || s[0] == '/' || s[0] == ':' || s[0] == '@')
        return kf_fail(err, KF_EINVAL, "invalid reference \"%s\": bad first character", s);

    const char *at = strchr(s, '@');
    size_t name_len = at ? (size_t)(at - s) : n;
    if (at) {
        if (repo_only)
            return kf_fail(err, KF_EINVAL, "invalid repository \"%s\": no digest allowed here", s);
        if (!kf_digest_valid(at + 1))
            return kf_fail(err, KF_EINVAL, "invalid reference \"%s\": digest must be sha256:<64 lowercase hex>", s);
        if (!(out->digest = strdup(at + 1)))
            goto oom;
    }
    if (!(name = dup_n(s, name_len)))
        goto oom;
    char *last_slash = strrchr(name, '/');
    char *colon = strrchr(last_slash ? last_slash : name, ':');
    if (colon && repo_only) {
        /* "host:5000" alone is a registry without a repository, not a tag. */
        if (!last_slash && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1))
            rc = kf_fail(err, KF_EINVAL, "invalid repository \"%s\": a registry host needs a repository path "
                                         "after it", s);
        else
            rc = kf_fail(err, KF_EINVAL, "invalid repository \"%s\": no tag allowed here", s);
        goto out;
    }
    if (colon) {
        if (!kf_ref_tag_valid(colon + 1)) {
            rc = kf_fail(err, KF_EINVAL, "invalid reference \"%s\": bad tag \"%s\"", s, colon + 1);
            goto out;
        }
        if (!(out->tag = strdup(colon + 1)))
            goto oom;
        *colon = 0;
    }
    if (!*name) {
        rc = kf_fail(err, KF_EINVAL, "invalid reference \"%s\": empty name", s);
        goto out;
    }
    rc = split_name(name, out, repo_only, err, s);
    goto out;
oom:
    rc = kf_fail(err, KF_ENOMEM, "out of memory");
out:
    free(name);
    if (rc)
        kf_ref_free(out);
    return rc;
}

int kf_ref_parse(const char *s, struct kf_ref *out, char *err)
{
    return parse(s, out, 0, err);
}

int kf_ref_parse_repo(const char *s, struct kf_ref *out, char *err)
{
    return parse(s, out, 1, err);
}

void kf_ref_free(struct kf_ref *r)
{
    if (!r)
        return;
    free(r->registry);
    free(r->repository);
    free(r->tag);
    free(r->digest);
    memset(r, 0, sizeof *r);
}

const char *kf_ref_tag_or_latest(const struct kf_ref *r)
{
    return r->tag ? r->tag : "latest";
}

char *kf_ref_name(const struct kf_ref *r)
{
    char *s = NULL;
    int n = r->digest ? asprintf(&s, "%s/%s@%s", r->registry, r->repository, r->digest)
                      : asprintf(&s, "%s/%s:%s", r->registry, r->repository, kf_ref_tag_or_latest(r));
    return n < 0 ? NULL : s;
}

char *kf_ref_repo_name(const struct kf_ref *r)
{
    char *s = NULL;
    return asprintf(&s, "%s/%s", r->registry, r->repository) < 0 ? NULL : s;
}

static int dup_field(const char *src, char **dst)
{
    if (!src)
        return KF_OK;
    *dst = strdup(src);
    return *dst ? KF_OK : KF_ENOMEM;
}

int kf_ref_copy(const struct kf_ref *src, struct kf_ref *dst, char *err)
{
    memset(dst, 0, sizeof *dst);
    if (dup_field(src->registry, &dst->registry) || dup_field(src->repository, &dst->repository) ||
        dup_field(src->tag, &dst->tag) || dup_field(src->digest, &dst->digest)) {
        kf_ref_free(dst);
        return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    return KF_OK;
}
