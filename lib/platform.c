/* Platform strings and ko's platform matching rules. */
#include "platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int valid_word(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static int copy_part(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(dst, src, n);
    dst[n] = 0;
    return 0;
}

int kf_platform_parse(const char *s, struct kf_platform *p, char *err)
{
    memset(p, 0, sizeof *p);
    const char *colon = strchr(s, ':');
    size_t main_len = colon ? (size_t)(colon - s) : strlen(s);
    if (colon) {
        const char *osv = colon + 1;
        if (!valid_word(osv, strlen(osv)) || copy_part(p->osversion, sizeof p->osversion, osv, strlen(osv)))
            return kf_fail(err, KF_EINVAL, "invalid platform \"%s\": bad os version", s);
    }
    const char *parts[3] = {0};
    size_t lens[3] = {0};
    size_t nparts = 0;
    const char *start = s;
    for (size_t i = 0; i <= main_len; i++) {
        if (i == main_len || s[i] == '/') {
            if (nparts == 3)
                return kf_fail(err, KF_EINVAL, "invalid platform \"%s\": want os/arch[/variant][:osversion]", s);
            parts[nparts] = start;
            lens[nparts] = (size_t)(s + i - start);
            nparts++;
            start = s + i + 1;
        }
    }
    if (nparts < 2)
        return kf_fail(err, KF_EINVAL, "invalid platform \"%s\": want os/arch[/variant][:osversion]", s);
    for (size_t i = 0; i < nparts; i++)
        if (!valid_word(parts[i], lens[i]))
            return kf_fail(err, KF_EINVAL, "invalid platform \"%s\"", s);
    if (copy_part(p->os, sizeof p->os, parts[0], lens[0]) || copy_part(p->arch, sizeof p->arch, parts[1], lens[1]) ||
        (nparts == 3 && copy_part(p->variant, sizeof p->variant, parts[2], lens[2])))
        return kf_fail(err, KF_EINVAL, "invalid platform \"%s\": too long", s);
    return KF_OK;
}

int kf_platform_parse_list(const char *s, struct kf_platform **out, size_t *n, int *all, char *err)
{
    int rc = KF_EINVAL;
    struct kf_platform *list = NULL;
    size_t count = 0;
    char *copy = NULL;
    *out = NULL;
    *n = 0;
    *all = 0;
    if (strcmp(s, "all") == 0) {
        *all = 1;
        return KF_OK;
    }
    size_t len = strlen(s);
    if (len == 0 || len > 4096)
        return kf_fail(err, KF_EINVAL, "invalid platform list \"%.64s\"", s);
    copy = strdup(s);
    list = calloc(len / 2 + 1, sizeof *list);
    if (!copy || !list) {
        rc = KF_ENOMEM;
        goto out;
    }
    for (char *tok = copy; tok;) {
        char *comma = strchr(tok, ',');
        if (comma)
            *comma = 0;
        while (*tok == ' ')
            tok++;
        if (strcmp(tok, "all") == 0) {
            rc = kf_fail(err, KF_EINVAL, "\"all\" cannot be combined with other platforms");
            goto out;
        }
        rc = kf_platform_parse(tok, &list[count], err);
        if (rc)
            goto out;
        count++;
        tok = comma ? comma + 1 : NULL;
    }
    if (count == 0) {
        rc = kf_fail(err, KF_EINVAL, "invalid platform list \"%.64s\"", s);
        goto out;
    }
    *out = list;
    *n = count;
    list = NULL;
    rc = KF_OK;
out:
    free(copy);
    free(list);
    return rc;
}

int kf_platform_matches(const struct kf_platform *want, const struct kf_platform *have)
{
    if (strcmp(have->os, "unknown") == 0 || strcmp(have->arch, "unknown") == 0)
        return 0;
    if (want->os[0] && strcmp(want->os, have->os) != 0)
        return 0;
    if (want->arch[0] && strcmp(want->arch, have->arch) != 0)
        return 0;
    if (want->variant[0] && strcmp(want->variant, have->variant) != 0)
        return 0;
    if (want->osversion[0] && strcmp(want->osversion, have->osversion) != 0)
        return 0;
    return 1;
}

int kf_platform_any_matches(const struct kf_platform *want, size_t n, int all, const struct kf_platform *have)
{
    if (strcmp(have->os, "unknown") == 0 || strcmp(have->arch, "unknown") == 0)
        return 0;
    if (all)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (kf_platform_matches(&want[i], have))
            return 1;
    return 0;
}

void kf_platform_format(const struct kf_platform *p, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/%s", p->os, p->arch);
    if (p->variant[0] && n >= 0 && (size_t)n < outlen)
        n += snprintf(out + n, outlen - (size_t)n, "/%s", p->variant);
    if (p->osversion[0] && n >= 0 && (size_t)n < outlen)
        snprintf(out + n, outlen - (size_t)n, ":%s", p->osversion);
}

/* GOOS/GOARCH pairs Go 1.19 can produce static binaries for. */
static const char *const go_targets[][2] = {
    {"linux", "amd64"},   {"linux", "arm64"},   {"linux", "arm"},     {"linux", "386"},
    {"linux", "ppc64le"}, {"linux", "ppc64"},   {"linux", "s390x"},   {"linux", "riscv64"},
    {"linux", "mips64le"}, {"linux", "mips64"}, {"linux", "mipsle"},  {"linux", "mips"},
    {"linux", "loong64"}, {"windows", "amd64"}, {"windows", "arm64"}, {"windows", "386"},
    {"darwin", "amd64"},  {"darwin", "arm64"},  {"freebsd", "amd64"}, {"freebsd", "arm64"},
};

int kf_platform_go_target(const struct kf_platform *p, char goarm[4], char *err)
{
    char name[160];
    goarm[0] = 0;
    kf_platform_format(p, name, sizeof name);
    int known = 0;
    for (size_t i = 0; i < sizeof go_targets / sizeof go_targets[0]; i++)
        if (strcmp(p->os, go_targets[i][0]) == 0 && strcmp(p->arch, go_targets[i][1]) == 0)
            known = 1;
    if (!known)
        return kf_fail(err, KF_EUNSUPPORTED, "unknown platform \"%s\": Go cannot build for it", name);
    if (strcmp(p->arch, "arm") == 0) {
        const char *v = p->variant[0] ? p->variant : "v7";
        if (strcmp(v, "v5") != 0 && strcmp(v, "v6") != 0 && strcmp(v, "v7") != 0)
            return kf_fail(err, KF_EUNSUPPORTED, "unknown platform \"%s\": arm variant must be v5, v6 or v7", name);
        goarm[0] = v[1];
        goarm[1] = 0;
    } else if (p->variant[0] && !(strcmp(p->arch, "arm64") == 0 && strcmp(p->variant, "v8") == 0)) {
        return kf_fail(err, KF_EUNSUPPORTED, "unknown platform \"%s\": unexpected variant", name);
    }
    return KF_OK;
}

void kf_platform_host(struct kf_platform *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->os, sizeof p->os, "%s", "linux");
#if defined(__x86_64__)
    snprintf(p->arch, sizeof p->arch, "%s", "amd64");
#elif defined(__aarch64__)
    snprintf(p->arch, sizeof p->arch, "%s", "arm64");
#elif defined(__arm__)
    snprintf(p->arch, sizeof p->arch, "%s", "arm");
    snprintf(p->variant, sizeof p->variant, "%s", "v7");
#elif defined(__i386__)
    snprintf(p->arch, sizeof p->arch, "%s", "386");
#else
    snprintf(p->arch, sizeof p->arch, "%s", "amd64");
#endif
}
