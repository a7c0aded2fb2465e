/* Glob matching, semver order and image tags for git ref names. */
#include "refmatch.h"

#include <ctype.h>
#include <string.h>

int kf_ref_glob_match(const char *pattern, const char *name)
{
    /* Backtrack only to the last '*': the classic two-pointer matcher. */
    const char *p = pattern, *n = name, *star = NULL, *resume = NULL;
    while (*n) {
        if (*p == '*') {
            star = p++;
            resume = n;
        } else if (*p == '?' || (*p && *p == *n)) {
            p++;
            n++;
        } else if (star) {
            p = star + 1;
            n = ++resume;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == 0;
}

struct semver {
    unsigned long long core[3];
    const char *pre; /* after '-', up to '+' or end; NULL if none */
    size_t pre_len;
};

/* Digits without a leading zero (semver 2.0.0), at most 18 of them. */
static const char *parse_number(const char *s, unsigned long long *v)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 18 || (n > 1 && s[0] == '0'))
        return NULL;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v = *v * 10 + (unsigned long long)(s[i] - '0');
    return s + n;
}

static int ident_chars_ok(const char *s, size_t n)
{
    /* dot-separated non-empty identifiers of [0-9A-Za-z-] */
    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.' && s[i + 1] == '.')
            return 0;
        if (s[i] != '.' && s[i] != '-' && !isalnum((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

static int parse_semver(const char *s, struct semver *v)
{
    if (*s == 'v')
        s++;
    for (int i = 0; i < 3; i++) {
        if (!(s = parse_number(s, &v->core[i])))
            return 0;
        if (i < 2 && *s++ != '.')
            return 0;
    }
    v->pre = NULL;
    v->pre_len = 0;
    if (*s == '-') {
        v->pre = ++s;
        v->pre_len = strcspn(s, "+");
        if (!ident_chars_ok(s, v->pre_len))
            return 0;
        s += v->pre_len;
    }
    if (*s == '+') {
        s++;
        if (!ident_chars_ok(s, strlen(s)))
            return 0;
        s += strlen(s);
    }
    return *s == 0;
}

int kf_semver_valid(const char *s)
{
    struct semver v;
    return s && parse_semver(s, &v);
}

static int all_digits(const char *s, size_t n)
{
    return n > 0 && strspn(s, "0123456789") >= n;
}

/* Pre-release precedence: identifier by identifier; numeric ones compare
 * as numbers and sort before alphanumeric ones; a longer list wins a tie. */
static int pre_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    while (an > 0 && bn > 0) {
        size_t al = 0, bl = 0;
        while (al < an && a[al] != '.')
            al++;
        while (bl < bn && b[bl] != '.')
            bl++;
        int ad = all_digits(a, al), bd = all_digits(b, bl);
        int c;
        if (ad && bd)
            c = al != bl ? (al < bl ? -1 : 1) : memcmp(a, b, al); /* no leading zeros: length orders */
        else if (ad != bd)
            c = ad ? -1 : 1;
        else {
            c = memcmp(a, b, al < bl ? al : bl);
            if (c == 0 && al != bl)
                c = al < bl ? -1 : 1;
        }
        if (c)
            return c;
        a += al, an -= al, b += bl, bn -= bl;
        if (an)
            a++, an--;
        if (bn)
            b++, bn--;
    }
    return an ? 1 : bn ? -1 : 0;
}

int kf_semver_cmp(const char *a, const char *b)
{
    struct semver va, vb;
    int oka = parse_semver(a, &va), okb = parse_semver(b, &vb);
    if (!oka || !okb) {
        if (oka != okb)
            return oka ? 1 : -1;
        int c = strcmp(a, b);
        return (c > 0) - (c < 0);
    }
    for (int i = 0; i < 3; i++)
        if (va.core[i] != vb.core[i])
            return va.core[i] < vb.core[i] ? -1 : 1;
    if (!va.pre || !vb.pre)
        return va.pre ? -1 : vb.pre ? 1 : 0;
    return pre_cmp(va.pre, va.pre_len, vb.pre, vb.pre_len);
}

void kf_ref_image_tag(const char *name, char out[KF_REF_TAG_MAX + 1])
{
    size_t i = 0;
    for (; name[i] && i < KF_REF_TAG_MAX; i++) {
        unsigned char c = (unsigned char)name[i];
        out[i] = isalnum(c) || c == '_' || c == '.' || c == '-' ? (char)c : '-';
    }
    out[i] = 0;
    if (out[0] == '.' || out[0] == '-')
        out[0] = '_';
}
