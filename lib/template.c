/* Expanding ko's flag/ldflag templates: the subset of Go's text/template
 * that ko's data offers (field chains over Env, GoEnv, Git, Date, Timestamp),
 * refusing everything else rather than guessing at it. */
#include "template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"

#define MAX_FIELDS 3  /* .Git.Branch is the longest chain that can succeed; one more to report */
#define SHOWN_MAX 120 /* template text quoted in errors */

struct field {
    const char *name;
    size_t len;
};

struct expander {
    const char *tmpl;
    const struct kf_template_data *d;
    char *err;
    char shown[SHOWN_MAX + 8]; /* tmpl, printable, for messages */
};

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_ident(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

static int field_is(const struct field *f, const char *name)
{
    return f->len == strlen(name) && memcmp(f->name, name, f->len) == 0;
}

/* A printable copy of s (n bytes), cut to fit, for error messages. */
static void show(const char *s, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < size; i++)
        out[o++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    if (o + 4 >= size && n > o) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = 0;
}

int kf_template_format_date(long long secs, char out[KF_TEMPLATE_DATE_LEN])
{
    struct tm tm;
    time_t t = (time_t)secs;
    if ((long long)t != secs || !gmtime_r(&t, &tm))
        return KF_EINVAL;
    long long year = (long long)tm.tm_year + 1900;
    snprintf(out, KF_TEMPLATE_DATE_LEN, "%04lld-%02d-%02dT%02d:%02d:%02dZ", year, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    return KF_OK;
}

/* A length for "%.*s" in messages. */
static int clamp(size_t len)
{
    return len > 100 ? 100 : (int)len;
}

static int missing(const struct expander *x, const struct field *f, size_t n, const struct field *key)
{
    char chain[160];
    size_t o = 0;
    for (size_t i = 0; i < n && o < sizeof chain - 1; i++) {
        int w = snprintf(chain + o, sizeof chain - o, ".%.*s", clamp(f[i].len), f[i].name);
        o = w < 0 ? o : o + (size_t)w;
    }
    return kf_fail(x->err, KF_EINVAL, "template: map has no entry for key \"%.*s\" (at <%s> in \"%s\")",
                   clamp(key->len), key->name, chain, x->shown);
}

static int unsupported(const struct expander *x, const char *action, size_t n, const char *why)
{
    char act[SHOWN_MAX + 8];
    show(action, n, act, sizeof act);
    return kf_fail(x->err, KF_EINVAL, "template: %s in action \"%s\" of \"%s\"", why, act, x->shown);
}

/* The value of KEY in env, last entry winning, or NULL. */
static const char *env_get(const struct kf_template_data *d, const char *key, size_t len)
{
    for (size_t i = d->n_env; i-- > 0;)
        if (strncmp(d->env[i], key, len) == 0 && d->env[i][len] == '=')
            return d->env[i] + len + 1;
    return NULL;
}

static const char *git_field(const struct kf_template_data *d, const struct field *f)
{
    static const char *const yes = "true", *const no = "false";
    if (field_is(f, "Branch"))
        return d->git_branch;
    if (field_is(f, "Tag"))
        return d->git_tag;
    if (field_is(f, "ShortCommit"))
        return d->git_short_commit;
    if (field_is(f, "FullCommit"))
        return d->git_full_commit;
    if (field_is(f, "CommitDate"))
        return d->git_commit_date;
    if (field_is(f, "CommitTimestamp"))
        return d->git_commit_timestamp;
    if (field_is(f, "TreeState"))
        return d->git_tree_state;
    if (!d->git_tree_state)
        return NULL;
    if (field_is(f, "IsDirty"))
        return strcmp(d->git_tree_state, "dirty") == 0 ? yes : no;
    if (field_is(f, "IsClean"))
        return strcmp(d->git_tree_state, "dirty") == 0 ? no : yes;
    return NULL;
}

/* Resolves a field chain to text; scratch holds numbers and dates. */
static int evaluate(const struct expander *x, const struct field *f, size_t n, const char *action, size_t alen,
                    struct kf_buf *out)
{
    const struct kf_template_data *d = x->d;
    char scratch[KF_TEMPLATE_DATE_LEN];
    char key[256];
    const char *value = NULL;
    int is_map = field_is(&f[0], "Env") || field_is(&f[0], "GoEnv") || field_is(&f[0], "Git");
    int is_scalar = field_is(&f[0], "Date") || field_is(&f[0], "Timestamp");

    if (!is_map && !is_scalar)
        return missing(x, f, n, &f[0]);
    if (is_map && n == 1)
        return unsupported(x, action, alen, "printing a whole map is not supported");
    if (n > (size_t)(is_map ? 2 : 1)) {
        char why[128];
        snprintf(why, sizeof why, "can't evaluate field %.*s in type %s", clamp(f[n - 1].len), f[n - 1].name,
                 field_is(&f[0], "Timestamp") ? "int64" : "string");
        return unsupported(x, action, alen, why);
    }
    if (field_is(&f[0], "Env")) {
        value = env_get(d, f[1].name, f[1].len);
        if (!value && field_is(&f[1], "LDFLAGS"))
            value = ""; /* ko always defines it */
    } else if (field_is(&f[0], "GoEnv")) {
        if (f[1].len >= sizeof key)
            return missing(x, f, n, &f[1]);
        memcpy(key, f[1].name, f[1].len);
        key[f[1].len] = 0;
        value = d->goenv ? d->goenv(d->goenv_ctx, key) : NULL;
        if (value && env_get(d, f[1].name, f[1].len))
            value = env_get(d, f[1].name, f[1].len);
    } else if (field_is(&f[0], "Git")) {
        value = git_field(d, &f[1]);
    } else if (field_is(&f[0], "Date")) {
        if (kf_template_format_date(d->now, scratch))
            return kf_fail(x->err, KF_EINVAL, "template: time %lld out of range", d->now);
        value = scratch;
    } else {
        snprintf(scratch, sizeof scratch, "%lld", d->now);
        value = scratch;
    }
    if (!value)
        return missing(x, f, n, &f[n - 1]);
    int rc = kf_buf_append_str(out, value);
    if (rc == KF_ETOOBIG)
        return kf_fail(x->err, rc, "template: expansion longer than %zu bytes", KF_TEMPLATE_MAX_OUT);
    return rc ? kf_fail(x->err, rc, "out of memory") : KF_OK;
}

/* Parses the action starting after "{{" (trim marker consumed) at *pp and
 * appends its value; *pp ends after "}}", *rtrim says " -}}" was used. */
static int expand_action(const struct expander *x, const char *open, const char **pp, int *rtrim,
                         struct kf_buf *out)
{
    const char *q = *pp;
    const char *close = strstr(q, "}}");
    size_t alen = close ? (size_t)(close + 2 - open) : strlen(open);
    struct field f[MAX_FIELDS + 1];
    size_t n = 0;

    *rtrim = 0;
    if (q[0] == '/' && q[1] == '*') { /* a comment: exactly "*" "/" then the delimiter */
        const char *end = strstr(q + 2, "*/");
        if (!end)
            return unsupported(x, open, alen, "unclosed comment");
        q = end + 2;
        if (is_space(q[0]) && q[1] == '-' && q[2] == '}' && q[3] == '}') {
            *rtrim = 1;
            *pp = q + 4;
            return KF_OK;
        }
        if (q[0] != '}' || q[1] != '}')
            return unsupported(x, open, alen, "comment ends before closing delimiter");
        *pp = q + 2;
        return KF_OK;
    }
    if (!close)
        return unsupported(x, open, alen, "unclosed action");
    while (is_space(*q))
        q++;
    while (*q == '.') {
        const char *name = ++q;
        if (!is_ident(*q, 1))
            return unsupported(x, open, alen, "only field references like {{.Env.NAME}} are supported");
        while (is_ident(*q, 0))
            q++;
        if (n == MAX_FIELDS + 1)
            return unsupported(x, open, alen, "field chain too long");
        f[n].name = name;
        f[n++].len = (size_t)(q - name);
    }
    if (!n)
        return unsupported(x, open, alen, "only field references like {{.Env.NAME}} are supported");
    while (is_space(*q))
        q++;
    if (q[0] == '-' && q[1] == '}' && q[2] == '}' && is_space(q[-1])) {
        *rtrim = 1;
        *pp = q + 3;
    } else if (q[0] == '}' && q[1] == '}') {
        *pp = q + 2;
    } else {
        return unsupported(x, open, alen, "only field references like {{.Env.NAME}} are supported");
    }
    return evaluate(x, f, n, open, alen, out);
}

int kf_template_expand(const char *tmpl, const struct kf_template_data *d, char **out, char *err)
{
    struct expander x = {.tmpl = tmpl, .d = d, .err = err};
    struct kf_buf b;
    int rc;

    *out = NULL;
    if (!strstr(tmpl, "{{")) {
        *out = strdup(tmpl);
        return *out ? KF_OK : kf_fail(err, KF_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < d->n_env; i++)
        if (!strchr(d->env[i], '='))
            return kf_fail(err, KF_EINVAL, "invalid environment variable entry: \"%.100s\"", d->env[i]);
    show(tmpl, strlen(tmpl), x.shown, sizeof x.shown);
    kf_buf_init(&b, KF_TEMPLATE_MAX_OUT);
    const char *p = tmpl;
    for (;;) {
        const char *open = strstr(p, "{{");
        size_t text_len = open ? (size_t)(open - p) : strlen(p);
        const char *q = open ? open + 2 : NULL;
        if (q && q[0] == '-' && is_space(q[1])) { /* "{{- " trims the white space before it */
            while (text_len && is_space(p[text_len - 1]))
                text_len--;
            q += 2;
        }
        if ((rc = kf_buf_append(&b, p, text_len))) {
            rc = rc == KF_ETOOBIG ? kf_fail(err, rc, "template: expansion longer than %zu bytes", KF_TEMPLATE_MAX_OUT)
                                  : kf_fail(err, rc, "out of memory");
            goto out;
        }
        if (!open)
            break;
        int rtrim;
        if ((rc = expand_action(&x, open, &q, &rtrim, &b)))
            goto out;
        p = q;
        while (rtrim && is_space(*p))
            p++;
    }
    if (!b.data && (rc = kf_buf_append(&b, "", 0))) {
        rc = kf_fail(err, rc, "out of memory");
        goto out;
    }
    *out = (char *)kf_buf_steal(&b, NULL);
    rc = KF_OK;
out:
    kf_buf_free(&b);
    return rc;
}
