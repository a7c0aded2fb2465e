/* .kofarmignore patterns for kf_srcpack_dir: gitignore's common subset
 * (rules in srcpack.h) and the glob matcher behind them. */
#include "srcpack.h"

#include <stdlib.h>
#include <string.h>

#define PATTERN_MAX 1024  /* bytes in one pattern */
#define PATTERNS_MAX 4096 /* lines that hold a pattern */

struct pattern {
    char *glob;   /* owned; without "!", a leading "/" and a trailing "/" */
    int negate;   /* "!pattern": re-include */
    int dir_only; /* "pattern/" */
    int anchored; /* matched against the whole path, not the last name */
};

struct kf_srcpack_ignore {
    struct pattern *patterns;
    size_t n;
};

/* "[...]" at *pp (just past "["): 1 match, 0 no match, -1 not a class
 * (no closing "]"; the "[" is then literal). Advances *pp past "]". */
static int class_match(const char **pp, char c)
{
    const char *p = *pp;
    int negate = 0, matched = 0;
    if (*p == '!' || *p == '^') {
        negate = 1;
        p++;
    }
    const char *first = p;
    while (*p && (*p != ']' || p == first)) {
        char lo = *p, hi = *p;
        if (p[1] == '-' && p[2] && p[2] != ']') {
            hi = p[2];
            p += 3;
        } else {
            p++;
        }
        if (c >= lo && c <= hi)
            matched = 1;
    }
    if (*p != ']')
        return -1;
    *pp = p + 1;
    return (matched ^ negate) && c != '/';
}

int kf_srcpack_glob(const char *p, const char *s)
{
    for (;;) {
        if (!*p)
            return !*s;
        if (p[0] == '*' && p[1] == '*') {
            const char *rest = p + 2;
            while (*rest == '*')
                rest++;
            if (*rest == '/') {
                /* "**" + "/": zero or more whole leading segments. */
                rest++;
                for (const char *t = s;;) {
                    if (kf_srcpack_glob(rest, t))
                        return 1;
                    t = strchr(t, '/');
                    if (!t)
                        return 0;
                    t++;
                }
            }
            for (const char *t = s;; t++) {
                if (kf_srcpack_glob(rest, t))
                    return 1;
                if (!*t)
                    return 0;
            }
        }
        if (*p == '*') {
            p++;
            for (const char *t = s;; t++) {
                if (kf_srcpack_glob(p, t))
                    return 1;
                if (!*t || *t == '/')
                    return 0;
            }
        }
        if (!*s)
            return 0;
        if (*p == '?') {
            if (*s == '/')
                return 0;
            p++;
            s++;
            continue;
        }
        if (*p == '[') {
            const char *q = p + 1;
            int m = class_match(&q, *s);
            if (m >= 0) {
                if (!m)
                    return 0;
                p = q;
                s++;
                continue;
            }
        }
        if (*p == '\\' && p[1])
            p++;
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
}

void kf_srcpack_ignore_free(struct kf_srcpack_ignore *ig)
{
    if (!ig)
        return;
    for (size_t i = 0; i < ig->n; i++)
        free(ig->patterns[i].glob);
    free(ig->patterns);
    free(ig);
}

/* Adds the pattern line[0..len) (already trimmed, not blank, not a comment). */
static int add_pattern(struct kf_srcpack_ignore *ig, const char *line, size_t len, size_t lineno, char *err)
{
    struct pattern pat = {0};
    if (len > 0 && line[0] == '!') {
        pat.negate = 1;
        line++, len--;
    } else if (len > 1 && line[0] == '\\' && (line[1] == '!' || line[1] == '#')) {
        line++, len--;
    }
    if (len > 0 && line[len - 1] == '/') {
        pat.dir_only = 1;
        len--;
    }
    if (len > 0 && line[0] == '/') {
        pat.anchored = 1;
        line++, len--;
    }
    if (len == 0)
        return KF_OK; /* "/", "!" or "!/": nothing to match */
    if (memchr(line, '/', len))
        pat.anchored = 1;
    if (len > PATTERN_MAX)
        return kf_fail(err, KF_ETOOBIG, "%s line %zu: pattern longer than %d bytes", KF_SRCPACK_IGNORE_FILE, lineno,
                       PATTERN_MAX);
    if (ig->n >= PATTERNS_MAX)
        return kf_fail(err, KF_ETOOBIG, "%s: more than %d patterns", KF_SRCPACK_IGNORE_FILE, PATTERNS_MAX);
    if (!(pat.glob = strndup(line, len)))
        return kf_fail(err, KF_ENOMEM, "out of memory");
    struct pattern *grown = realloc(ig->patterns, (ig->n + 1) * sizeof *grown);
    if (!grown) {
        free(pat.glob);
        return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    ig->patterns = grown;
    ig->patterns[ig->n++] = pat;
    return KF_OK;
}

int kf_srcpack_ignore_parse(const char *text, size_t len, struct kf_srcpack_ignore **out, char *err)
{
    int rc = KF_ENOMEM;
    *out = NULL;
    struct kf_srcpack_ignore *ig = calloc(1, sizeof *ig);
    if (!ig)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    if (len > KF_SRCPACK_IGNORE_MAX) {
        rc = kf_fail(err, KF_ETOOBIG, "%s is larger than %zu bytes", KF_SRCPACK_IGNORE_FILE, KF_SRCPACK_IGNORE_MAX);
        goto out;
    }
    size_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl != NULL);
        lineno++;
        if (memchr(line, '\0', n)) {
            rc = kf_fail(err, KF_EINVAL, "%s line %zu: NUL byte", KF_SRCPACK_IGNORE_FILE, lineno);
            goto out;
        }
        while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            n--;
        if (n == 0 || line[0] == '#')
            continue;
        if ((rc = add_pattern(ig, line, n, lineno, err)) != KF_OK)
            goto out;
    }
    *out = ig;
    ig = NULL;
    rc = KF_OK;
out:
    kf_srcpack_ignore_free(ig);
    return rc;
}

int kf_srcpack_ignore_match(const struct kf_srcpack_ignore *ig, const char *rel_path, int is_dir)
{
    if (!ig)
        return 0;
    const char *slash = strrchr(rel_path, '/');
    const char *name = slash ? slash + 1 : rel_path;
    int excluded = 0;
    for (size_t i = 0; i < ig->n; i++) {
        const struct pattern *pat = &ig->patterns[i];
        if (pat->dir_only && !is_dir)
            continue;
        if (pat->negate == !excluded)
            continue; /* cannot change the outcome */
        if (kf_srcpack_glob(pat->glob, pat->anchored ? rel_path : name))
            excluded = !pat->negate;
    }
    return excluded;
}
