/* ko's image namers (md5, base, preserve, bare) and path.Join. */
#include "naming.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "digest.h"
#include "tar.h"

int kf_naming_parse(const char *s, enum kf_naming *out)
{
    static const char *const names[] = {"md5", "base", "preserve", "bare"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum kf_naming)i;
            return KF_OK;
        }
    return KF_EINVAL;
}

const char *kf_naming_str(enum kf_naming n)
{
    switch (n) {
    case KF_NAMING_MD5: return "md5";
    case KF_NAMING_BASE: return "base";
    case KF_NAMING_PRESERVE: return "preserve";
    case KF_NAMING_BARE: return "bare";
    }
    return "md5";
}

char *kf_naming_path_join(const char *a, const char *b)
{
    struct kf_buf buf;
    kf_buf_init(&buf, 0);
    char *out = NULL;
    if (*a && *b) {
        if (kf_buf_appendf(&buf, "%s/%s", a, b))
            goto out;
    } else if (kf_buf_append_str(&buf, *a ? a : b)) {
        goto out;
    }
    if (buf.len == 0) {
        out = strdup("");
        goto out;
    }
    out = kf_tar_path_clean((const char *)buf.data);
out:
    kf_buf_free(&buf);
    return out;
}

static const char *strip_scheme(const char *importpath)
{
    return strncmp(importpath, "ko://", 5) == 0 ? importpath + 5 : importpath;
}

/* path.Base */
static char *path_base(const char *p)
{
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == '/')
        n--;
    if (n == 0)
        return strdup(strlen(p) ? "/" : ".");
    size_t start = n;
    while (start > 0 && p[start - 1] != '/')
        start--;
    return strndup(p + start, n - start);
}

char *kf_naming_image_name(const char *repo, const char *importpath, enum kf_naming naming)
{
    char *lower = strdup(strip_scheme(importpath));
    char *base = NULL, *leaf = NULL, *out = NULL;
    if (!lower)
        return NULL;
    for (char *c = lower; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    switch (naming) {
    case KF_NAMING_BARE:
        out = strdup(repo);
        break;
    case KF_NAMING_PRESERVE:
        out = kf_naming_path_join(repo, lower);
        break;
    case KF_NAMING_BASE:
        base = path_base(lower);
        if (base)
            out = kf_naming_path_join(repo, base);
        break;
    case KF_NAMING_MD5: {
        char md5[33];
        kf_md5_hex(lower, strlen(lower), md5);
        base = path_base(lower);
        if (!base)
            break;
        size_t len = strlen(base) + 34;
        leaf = malloc(len);
        if (!leaf)
            break;
        snprintf(leaf, len, "%s-%s", base, md5);
        out = kf_naming_path_join(repo, leaf);
        break;
    }
    }
    free(lower);
    free(base);
    free(leaf);
    return out;
}

char *kf_naming_app_filename(const char *importpath)
{
    char *base = path_base(strip_scheme(importpath));
    if (base && (strcmp(base, ".") == 0 || strcmp(base, "/") == 0)) {
        free(base);
        return strdup("app");
    }
    return base;
}
