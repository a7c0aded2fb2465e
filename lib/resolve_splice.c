/* The resolved stream: the original bytes of every kept document with each
 * reference scalar rewritten in its own quoting style. A document separator
 * is added only where joining files (or dropping documents) needs one. */
#include "resolve_internal.h"

#include <stdio.h>
#include <string.h>

static int put(struct kf_buf *out, const void *p, size_t n)
{
    return kf_buf_append(out, p, n);
}

static int put_single(struct kf_buf *out, const char *repl)
{
    int rc = put(out, "'", 1);
    for (const char *p = repl; !rc && *p; p++)
        rc = *p == '\'' ? put(out, "''", 2) : put(out, p, 1);
    return rc ? rc : put(out, "'", 1);
}

static int put_double(struct kf_buf *out, const char *repl)
{
    int rc = put(out, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)repl; !rc && *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            rc = put(out, esc, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            rc = kf_buf_appendf(out, "\\x%02x", *p);
        } else {
            rc = put(out, p, 1);
        }
    }
    return rc ? rc : put(out, "\"", 1);
}

/* | or > with its indicators, then the content: the header gets strip
 * chomping ("-") so the value is exactly repl, as ko's tree would hold it;
 * the content keeps its indentation and trailing lines. */
static int put_block(struct kf_buf *out, const unsigned char *src, size_t len, const char *value, const char *repl)
{
    size_t i = 1;
    char digit = 0;
    if (len == 0 || (src[0] != '|' && src[0] != '>'))
        return KF_EINTERNAL;
    while (i < len && i < 3 && (src[i] == '+' || src[i] == '-' || (src[i] >= '1' && src[i] <= '9'))) {
        if (src[i] != '+' && src[i] != '-')
            digit = (char)src[i];
        i++;
    }
    const unsigned char *eol = memchr(src + i, '\n', len - i);
    const unsigned char *cr = memchr(src + i, '\r', len - i);
    if (!eol || (cr && cr < eol))
        eol = cr;
    if (!eol)
        return KF_EINTERNAL;
    size_t body = (size_t)(eol - src);
    size_t vlen = strlen(value);
    const unsigned char *at = memmem(src + body, len - body, value, vlen);
    if (!at || vlen == 0)
        return KF_EINTERNAL;
    size_t pos = (size_t)(at - src);
    int rc = put(out, src, 1);
    if (!rc && digit)
        rc = put(out, &digit, 1);
    if (!rc)
        rc = put(out, "-", 1);
    if (!rc)
        rc = put(out, src + i, pos - i);
    if (!rc)
        rc = kf_buf_append_str(out, repl);
    if (!rc)
        rc = put(out, src + pos + vlen, len - pos - vlen);
    return rc;
}

int kf_rs_rewrite(const unsigned char *src, size_t len, enum kf_rs_style style, const char *value, const char *repl,
                  struct kf_buf *out)
{
    switch (style) {
    case KF_RS_PLAIN: return kf_buf_append_str(out, repl);
    case KF_RS_SINGLE: return put_single(out, repl);
    case KF_RS_DOUBLE: return put_double(out, repl);
    case KF_RS_LITERAL:
    case KF_RS_FOLDED: return put_block(out, src, len, value, repl);
    }
    return KF_EINTERNAL;
}

static int put_site(const struct kf_rs_file *f, const struct kf_rs_site *s, const struct kf_rs_table *t,
                    struct kf_buf *out, char *err)
{
    const struct kf_resolve_ref *r = &t->refs[s->ref];
    char value[2048];
    if (!r->replacement)
        return kf_fail(err, KF_EINTERNAL, "%s: %s was not resolved", r->where, r->value);
    if (snprintf(value, sizeof value, "%s%s", s->ko_scheme ? "ko://" : "", r->value) >= (int)sizeof value)
        return kf_fail(err, KF_EINTERNAL, "%s: reference too long", r->where);
    int rc = kf_rs_rewrite(f->data + s->start, s->end - s->start, (enum kf_rs_style)s->style, value,
                           r->replacement, out);
    if (rc == KF_EINTERNAL)
        return kf_fail(err, rc, "%s: cannot rewrite the block scalar holding %s", r->where, value);
    return rc ? kf_fail(err, rc, "resolved YAML over %zu bytes", out->max) : KF_OK;
}

/* Bytes [from, to) of f with the sites of d rewritten. */
static int put_segment(const struct kf_rs_file *f, const struct kf_rs_doc *d, const struct kf_rs_table *t,
                       struct kf_buf *out, char *err)
{
    size_t pos = d->cut;
    for (size_t i = 0; i < d->n_sites; i++) {
        const struct kf_rs_site *s = &f->sites[d->first_site + i];
        if (s->start < pos || s->end < s->start || s->end > d->end)
            return kf_fail(err, KF_EINTERNAL, "%s: reference sites out of order", f->name);
        if (put(out, f->data + pos, s->start - pos))
            return kf_fail(err, KF_ETOOBIG, "resolved YAML over %zu bytes", out->max);
        int rc = put_site(f, s, t, out, err);
        if (rc)
            return rc;
        pos = s->end;
    }
    if (d->end < pos || put(out, f->data + pos, d->end - pos))
        return kf_fail(err, KF_ETOOBIG, "resolved YAML over %zu bytes", out->max);
    return KF_OK;
}

int kf_rs_splice(const struct kf_rs_file *files, size_t n, const struct kf_rs_table *t, struct kf_buf *out,
                 char *err)
{
    int emitted = 0, prev_explicit_end = 0;
    for (size_t fi = 0; fi < n; fi++) {
        const struct kf_rs_file *f = &files[fi];
        const char *nl = f->crlf ? "\r\n" : "\n";
        for (size_t k = 0; k < f->n_docs; k++) {
            const struct kf_rs_doc *d = &f->docs[k];
            int rc = KF_OK;
            if (emitted) {
                if (out->len && out->data[out->len - 1] != '\n')
                    rc = kf_buf_append_str(out, nl);
                if (!rc && d->has_directives && !prev_explicit_end)
                    rc = kf_buf_appendf(out, "...%s", nl);
                else if (!rc && !d->explicit_start)
                    rc = kf_buf_appendf(out, "---%s", nl);
            }
            if (!rc && k == 0)
                rc = put(out, f->data, f->preamble_end < d->cut ? f->preamble_end : d->cut);
            if (rc)
                return kf_fail(err, KF_ETOOBIG, "resolved YAML over %zu bytes", out->max);
            rc = put_segment(f, d, t, out, err);
            if (rc)
                return rc;
            emitted = 1;
            prev_explicit_end = d->explicit_end;
        }
    }
    return KF_OK;
}
