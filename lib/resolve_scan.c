/* Walks one YAML stream with libyaml's event parser (nothing is re-emitted):
 * documents and their byte ranges, metadata.labels for the selector, and the
 * scalars to rewrite with their byte ranges and quoting. Aliases are never
 * expanded, only counted, so a billion laughs costs nothing but an error. */
#include "resolve_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "gobuild.h"
#include "ref.h"

#define KEY_MAX 320          /* longest mapping key remembered (label keys are <= 317) */
#define ANCHOR_SCALAR_MAX 512
#define STRICT_SCHEME "ko://"

enum role { R_OTHER, R_ROOT, R_METADATA, R_LABELS };

struct frame {
    int is_map, want_key, in_key, capture;
    enum role role;
    char key[KEY_MAX + 1];   /* the current key (mappings), "" when not a short scalar */
    size_t nodes;
    char *anchor;
    struct kf_rs_pair *pairs;
    size_t n_pairs;
};

struct pending {
    size_t start, end, line, col;
    enum kf_resolve_kind kind;
    unsigned char style, ko_scheme;
    char *value;
};

struct scan {
    const struct kf_rs_scan_opts *o;
    struct kf_rs_file *f;
    struct kf_rs_table *t;
    size_t *total_sites;
    char *err;
    /* character index -> byte offset (libyaml marks count characters) */
    int ascii;
    size_t ci, bi;
    struct frame *stack;
    size_t depth;
    struct kf_rs_anchors anchors;
    struct kf_rs_pair *labels, *merged;
    size_t n_labels, n_merged;
    struct pending *pend;
    size_t n_pend;
    size_t doc_char, aliases, alias_nodes, root_nodes;
    int in_doc;
    struct kf_rs_doc doc;
};

static size_t byte_at(struct scan *s, size_t ci)
{
    const unsigned char *d = s->f->data;
    size_t len = s->f->len;
    if (s->ascii)
        return ci < len ? ci : len;
    while (s->ci < ci && s->bi < len) {
        s->bi++;
        while (s->bi < len && (d[s->bi] & 0xC0) == 0x80)
            s->bi++;
        s->ci++;
    }
    while (s->ci > ci && s->bi > 0) {
        s->bi--;
        while (s->bi > 0 && (d[s->bi] & 0xC0) == 0x80)
            s->bi--;
        s->ci--;
    }
    return s->bi;
}

static int fail_at(struct scan *s, const yaml_mark_t *m, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(struct scan *s, const yaml_mark_t *m, int rc, const char *fmt, ...)
{
    char msg[KF_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kf_fail(s->err, rc, "%s:%zu:%zu: %s", s->f->name, s->f->line_base + m->line + 1, m->column + 1, msg);
}

static size_t sat_add(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static struct frame *top(struct scan *s)
{
    return s->depth ? &s->stack[s->depth - 1] : NULL;
}

static void add_nodes(struct scan *s, size_t n)
{
    struct frame *p = top(s);
    if (p)
        p->nodes = sat_add(p->nodes, n);
    else
        s->root_nodes = sat_add(s->root_nodes, n);
}

/* A node finished inside parent: a mapping alternates key and value. */
static void completed(struct scan *s)
{
    struct frame *p = top(s);
    if (p && p->is_map)
        p->want_key = !p->want_key;
}

static int is_string_tag(const yaml_char_t *tag)
{
    return !tag || strcmp((const char *)tag, "!") == 0 || strcmp((const char *)tag, "tag:yaml.org,2002:str") == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_main_package(const struct kf_rs_scan_opts *o, const char *v)
{
    return o->n_mains && bsearch(&v, o->mains, o->n_mains, sizeof *o->mains, cmp_str) != NULL;
}

/* image: values worth pinning: a valid reference without a digest. */
static int names_tag(const char *v, size_t len)
{
    if (len == 0 || len > KF_REF_NAME_MAX + 200 || strlen(v) != len)
        return 0;
    struct kf_ref ref;
    char why[KF_ERRLEN];
    int ok = kf_ref_parse(v, &ref, why) == KF_OK && !ref.digest;
    kf_ref_free(&ref);
    return ok;
}

/* The scalar itself, after its anchor and tag (the event's mark includes them). */
static size_t skip_properties(const unsigned char *d, size_t pos, size_t end)
{
    for (;;) {
        while (pos < end && (d[pos] == ' ' || d[pos] == '\t' || d[pos] == '\r' || d[pos] == '\n'))
            pos++;
        if (pos < end && d[pos] == '#') {
            while (pos < end && d[pos] != '\n' && d[pos] != '\r')
                pos++;
            continue;
        }
        if (pos >= end || (d[pos] != '&' && d[pos] != '!'))
            return pos;
        while (pos < end && d[pos] != ' ' && d[pos] != '\t' && d[pos] != '\r' && d[pos] != '\n')
            pos++;
    }
}

static int pend_add(struct scan *s, const yaml_event_t *e, enum kf_resolve_kind kind, int scheme, const char *value,
                    size_t len)
{
    struct pending *p = realloc(s->pend, (s->n_pend + 1) * sizeof *p);
    if (!p)
        return kf_fail(s->err, KF_ENOMEM, "out of memory");
    s->pend = p;
    p = &s->pend[s->n_pend];
    p->value = strndup(value, len);
    if (!p->value)
        return kf_fail(s->err, KF_ENOMEM, "out of memory");
    p->start = byte_at(s, e->start_mark.index);
    p->end = byte_at(s, e->end_mark.index);
    if (e->data.scalar.anchor || e->data.scalar.tag)
        p->start = skip_properties(s->f->data, p->start, p->end);
    p->line = s->f->line_base + e->start_mark.line + 1;
    p->col = e->start_mark.column + 1;
    p->kind = kind;
    p->ko_scheme = (unsigned char)scheme;
    switch (e->data.scalar.style) {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE: p->style = KF_RS_SINGLE; break;
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: p->style = KF_RS_DOUBLE; break;
    case YAML_LITERAL_SCALAR_STYLE: p->style = KF_RS_LITERAL; break;
    case YAML_FOLDED_SCALAR_STYLE: p->style = KF_RS_FOLDED; break;
    default: p->style = KF_RS_PLAIN; break;
    }
    s->n_pend++;
    return KF_OK;
}

/* A scalar in value position: a reference, a tag to pin, or a label. */
static int value_scalar(struct scan *s, const yaml_event_t *e, struct frame *parent)
{
    const char *v = (const char *)e->data.scalar.value;
    size_t len = e->data.scalar.length;
    if (parent && parent->capture && parent->is_map &&
        kf_rs_pair_add(&parent->pairs, &parent->n_pairs, parent->key, v))
        return kf_fail(s->err, KF_ENOMEM, "out of memory");
    if (!is_string_tag(e->data.scalar.tag))
        return KF_OK;
    size_t scheme = strlen(STRICT_SCHEME);
    if (len >= scheme && memcmp(v, STRICT_SCHEME, scheme) == 0) {
        /* ko: the prefix is checked on the value, the reference is the value trimmed */
        size_t n = len;
        while (n > scheme && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\n' || v[n - 1] == '\r'))
            n--;
        const char *path = v + scheme;
        size_t plen = n - scheme;
        if (plen == 0 || plen > KF_GO_ARG_MAX)
            return fail_at(s, &e->start_mark, KF_EINVAL, "\"%.*s\": not a valid import path (%zu bytes)",
                           (int)(n < 200 ? n : 200), v, plen);
        for (size_t i = 0; i < plen; i++) {
            unsigned char c = (unsigned char)path[i];
            if (c <= 0x20 || c == 0x7f)
                return fail_at(s, &e->start_mark, KF_EINVAL, "\"%.*s\": not a valid import path",
                               (int)(n < 200 ? n : 200), v);
        }
        return pend_add(s, e, KF_RESOLVE_KO, 1, path, plen);
    }
    if (!s->o->strict && strlen(v) == len && is_main_package(s->o, v))
        return pend_add(s, e, KF_RESOLVE_BARE, 0, v, len);
    if (s->o->pin_tags && parent && parent->is_map && strcmp(parent->key, "image") == 0 && names_tag(v, len))
        return pend_add(s, e, KF_RESOLVE_TAG, 0, v, len);
    return KF_OK;
}

static int on_scalar(struct scan *s, const yaml_event_t *e)
{
    struct frame *p = top(s);
    int is_key = p && p->is_map && p->want_key;
    int rc = KF_OK;
    add_nodes(s, 1);
    if (is_key) {
        size_t len = e->data.scalar.length;
        if (len <= KEY_MAX)
            memcpy(p->key, e->data.scalar.value, len + 1);
        else
            p->key[0] = 0;
    } else if (!(p && p->in_key)) {
        rc = value_scalar(s, e, p);
    }
    if (!rc && e->data.scalar.anchor) {
        char *name = strdup((const char *)e->data.scalar.anchor);
        char *val = e->data.scalar.length <= ANCHOR_SCALAR_MAX ? strdup((const char *)e->data.scalar.value) : NULL;
        if (!name || (!val && e->data.scalar.length <= ANCHOR_SCALAR_MAX)) {
            free(name);
            free(val);
            return kf_fail(s->err, KF_ENOMEM, "out of memory");
        }
        if (kf_rs_anchor_add(&s->anchors, name, 1, val, NULL, 0, 0))
            return kf_fail(s->err, KF_ENOMEM, "out of memory");
    }
    completed(s);
    return rc;
}

static int on_alias(struct scan *s, const yaml_event_t *e)
{
    const struct kf_rs_anchor *a = kf_rs_anchor_find(&s->anchors, (const char *)e->data.alias.anchor);
    if (!a)
        return fail_at(s, &e->start_mark, KF_EINVAL, "unknown anchor \"%.100s\"", (const char *)e->data.alias.anchor);
    if (++s->aliases > s->o->limits.max_aliases)
        return fail_at(s, &e->start_mark, KF_ETOOBIG, "more than %zu aliases in one document",
                       s->o->limits.max_aliases);
    s->alias_nodes = sat_add(s->alias_nodes, a->nodes);
    if (s->alias_nodes > s->o->limits.max_alias_nodes)
        return fail_at(s, &e->start_mark, KF_ETOOBIG,
                       "aliases expand to more than %zu nodes in one document (a \"billion laughs\"?)",
                       s->o->limits.max_alias_nodes);
    add_nodes(s, a->nodes);
    struct frame *p = top(s);
    int rc = KF_OK;
    if (p && p->is_map && p->want_key) {
        if (a->scalar && strlen(a->scalar) <= KEY_MAX)
            memcpy(p->key, a->scalar, strlen(a->scalar) + 1);
        else
            p->key[0] = 0;
    } else if (p && p->is_map && !p->in_key) {
        /* labels: *x, labels: {<<: *x}, app: *name */
        if (p->role == R_METADATA && strcmp(p->key, "labels") == 0 && a->is_map)
            rc = kf_rs_pairs_copy(&s->labels, &s->n_labels, a->pairs, a->n_pairs);
        else if (p->role == R_LABELS && strcmp(p->key, "<<") == 0 && a->is_map)
            rc = kf_rs_pairs_copy(&s->merged, &s->n_merged, a->pairs, a->n_pairs);
        else if (p->capture && a->scalar)
            rc = kf_rs_pair_add(&p->pairs, &p->n_pairs, p->key, a->scalar);
    }
    completed(s);
    return rc ? kf_fail(s->err, KF_ENOMEM, "out of memory") : KF_OK;
}

static int on_start(struct scan *s, const yaml_event_t *e, int is_map)
{
    if (s->depth >= s->o->limits.max_depth)
        return fail_at(s, &e->start_mark, KF_ETOOBIG, "nested deeper than %zu levels", s->o->limits.max_depth);
    struct frame *p = top(s);
    const yaml_char_t *anchor = is_map ? e->data.mapping_start.anchor : e->data.sequence_start.anchor;
    struct frame *f = &s->stack[s->depth];
    f->key[0] = 0;
    f->nodes = 1;
    f->anchor = NULL;
    f->pairs = NULL;
    f->n_pairs = 0;
    f->is_map = is_map;
    f->want_key = 1;
    f->in_key = p && (p->in_key || (p->is_map && p->want_key));
    f->role = R_OTHER;
    if (is_map && !f->in_key) {
        if (!p)
            f->role = R_ROOT;
        else if (p->role == R_ROOT && strcmp(p->key, "metadata") == 0)
            f->role = R_METADATA;
        else if (p->role == R_METADATA && strcmp(p->key, "labels") == 0)
            f->role = R_LABELS;
    }
    if (anchor && !(f->anchor = strdup((const char *)anchor)))
        return kf_fail(s->err, KF_ENOMEM, "out of memory");
    f->capture = is_map && (f->role == R_LABELS || f->anchor);
    s->depth++;
    return KF_OK;
}

static int on_end(struct scan *s)
{
    struct frame *f = top(s);
    int rc = KF_OK;
    if (!f)
        return kf_fail(s->err, KF_EINTERNAL, "unbalanced YAML events");
    s->depth--;
    if (f->anchor) {
        struct kf_rs_pair *copy = NULL;
        size_t n_copy = 0;
        if (f->is_map && kf_rs_pairs_copy(&copy, &n_copy, f->pairs, f->n_pairs)) {
            kf_rs_pairs_free(copy, n_copy);
            rc = KF_ENOMEM;
        } else {
            rc = kf_rs_anchor_add(&s->anchors, f->anchor, f->nodes, NULL, copy, n_copy, f->is_map);
        }
        f->anchor = NULL;
    }
    if (!rc && f->role == R_LABELS)
        rc = kf_rs_pairs_copy(&s->labels, &s->n_labels, f->pairs, f->n_pairs);
    kf_rs_pairs_free(f->pairs, f->n_pairs);
    f->pairs = NULL;
    f->n_pairs = 0;
    add_nodes(s, f->nodes);
    completed(s);
    return rc ? kf_fail(s->err, KF_ENOMEM, "out of memory") : KF_OK;
}

static size_t line_start(const unsigned char *d, size_t pos)
{
    size_t p = pos;
    while (p > 0 && (d[p - 1] == ' ' || d[p - 1] == '\t'))
        p--;
    return p == 0 || d[p - 1] == '\n' || d[p - 1] == '\r' ? p : pos;
}

static int doc_start(struct scan *s, const yaml_event_t *e)
{
    struct kf_rs_file *f = s->f;
    memset(&s->doc, 0, sizeof s->doc);
    s->doc.cut = line_start(f->data, byte_at(s, e->start_mark.index));
    s->doc.explicit_start = !e->data.document_start.implicit;
    s->doc.has_directives = e->data.document_start.version_directive != NULL ||
                            e->data.document_start.tag_directives.start != e->data.document_start.tag_directives.end;
    if (f->n_docs_read == 0)
        f->preamble_end = s->doc.cut;
    else if (f->n_docs && f->docs[f->n_docs - 1].end == f->len)
        f->docs[f->n_docs - 1].end = s->doc.cut; /* the previous kept document ends here */
    s->doc_char = e->start_mark.index;
    s->aliases = s->alias_nodes = s->root_nodes = 0;
    s->in_doc = 1;
    return KF_OK;
}

static void labels_clear(struct scan *s)
{
    kf_rs_pairs_free(s->labels, s->n_labels);
    kf_rs_pairs_free(s->merged, s->n_merged);
    s->labels = s->merged = NULL;
    s->n_labels = s->n_merged = 0;
}

static void pend_clear(struct scan *s)
{
    for (size_t i = 0; i < s->n_pend; i++)
        free(s->pend[i].value);
    s->n_pend = 0;
}

static int selected(struct scan *s, int *keep)
{
    size_t n = s->n_labels + s->n_merged;
    const char **keys = calloc(n + 1, sizeof *keys), **values = calloc(n + 1, sizeof *values);
    if (!keys || !values) {
        free(keys);
        free(values);
        return KF_ENOMEM;
    }
    /* explicit labels first: the matcher takes the first of a repeated key */
    for (size_t i = 0; i < s->n_labels; i++) {
        keys[i] = s->labels[i].key;
        values[i] = s->labels[i].value;
    }
    for (size_t i = 0; i < s->n_merged; i++) {
        keys[s->n_labels + i] = s->merged[i].key;
        values[s->n_labels + i] = s->merged[i].value;
    }
    *keep = kf_selector_match(s->o->selector, keys, values, n);
    free(keys);
    free(values);
    return KF_OK;
}

static int keep_sites(struct scan *s)
{
    struct kf_rs_file *f = s->f;
    if (s->n_pend > s->o->limits.max_sites || *s->total_sites > s->o->limits.max_sites - s->n_pend)
        return kf_fail(s->err, KF_ETOOBIG, "%s: more than %zu references to rewrite", f->name,
                       s->o->limits.max_sites);
    struct kf_rs_site *sites = realloc(f->sites, (f->n_sites + s->n_pend + 1) * sizeof *sites);
    if (!sites)
        return kf_fail(s->err, KF_ENOMEM, "out of memory");
    f->sites = sites;
    for (size_t i = 0; i < s->n_pend; i++) {
        const struct pending *p = &s->pend[i];
        char where[256];
        snprintf(where, sizeof where, "%s:%zu:%zu", f->name, p->line, p->col);
        size_t index;
        int rc = kf_rs_table_intern(s->t, p->kind, p->value, strlen(p->value), where, s->o->limits.max_refs,
                                    &index, s->err);
        if (rc)
            return rc;
        f->sites[f->n_sites++] = (struct kf_rs_site){p->start, p->end, index, p->style, p->ko_scheme};
    }
    *s->total_sites += s->n_pend;
    return KF_OK;
}

static int doc_end(struct scan *s, const yaml_event_t *e)
{
    struct kf_rs_file *f = s->f;
    int rc, keep = 1;
    size_t end = byte_at(s, e->end_mark.index);
    if (end > s->doc.cut && end - s->doc.cut > s->o->limits.max_doc) {
        yaml_mark_t m = e->start_mark;
        return fail_at(s, &m, KF_ETOOBIG, "document of %zu bytes ends here; the limit is %zu", end - s->doc.cut,
                       s->o->limits.max_doc);
    }
    s->doc.explicit_end = !e->data.document_end.implicit;
    f->n_docs_read++;
    if (s->o->selector && (rc = selected(s, &keep)))
        return kf_fail(s->err, rc, "out of memory");
    if (keep) {
        struct kf_rs_doc *docs = realloc(f->docs, (f->n_docs + 1) * sizeof *docs);
        if (!docs)
            return kf_fail(s->err, KF_ENOMEM, "out of memory");
        f->docs = docs;
        s->doc.first_site = f->n_sites;
        s->doc.n_sites = s->n_pend;
        s->doc.end = f->len;
        rc = keep_sites(s);
        if (rc)
            return rc;
        f->docs[f->n_docs++] = s->doc;
    }
    pend_clear(s);
    labels_clear(s);
    kf_rs_anchors_clear(&s->anchors);
    s->in_doc = 0;
    return KF_OK;
}

static int on_event(struct scan *s, const yaml_event_t *e)
{
    if (s->in_doc && e->end_mark.index - s->doc_char > s->o->limits.max_doc)
        return fail_at(s, &e->start_mark, KF_ETOOBIG, "document over %zu bytes", s->o->limits.max_doc);
    switch (e->type) {
    case YAML_DOCUMENT_START_EVENT: return doc_start(s, e);
    case YAML_DOCUMENT_END_EVENT: return doc_end(s, e);
    case YAML_SCALAR_EVENT: return on_scalar(s, e);
    case YAML_ALIAS_EVENT: return on_alias(s, e);
    case YAML_SEQUENCE_START_EVENT: return on_start(s, e, 0);
    case YAML_MAPPING_START_EVENT: return on_start(s, e, 1);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: return on_end(s);
    default: return KF_OK;
    }
}

static int parse_error(struct scan *s, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_MEMORY_ERROR)
        return kf_fail(s->err, KF_ENOMEM, "%s: out of memory parsing YAML", s->f->name);
    if (p->context)
        return fail_at(s, &p->problem_mark, KF_EINVAL, "invalid YAML: %s %s (line %zu, column %zu)", problem,
                       p->context, s->f->line_base + p->context_mark.line + 1, p->context_mark.column + 1);
    return fail_at(s, &p->problem_mark, KF_EINVAL, "invalid YAML: %s", problem);
}

int kf_rs_scan(const struct kf_rs_scan_opts *o, struct kf_rs_file *f, struct kf_rs_table *t, size_t *total_sites,
               char *err)
{
    struct scan s = {.o = o, .f = f, .t = t, .total_sites = total_sites, .err = err, .ascii = 1};
    yaml_parser_t parser;
    yaml_event_t e;
    int rc = KF_OK, done = 0;
    const unsigned char *d = f->data;
    if (f->len >= 2 && ((d[0] == 0xFE && d[1] == 0xFF) || (d[0] == 0xFF && d[1] == 0xFE)))
        return kf_fail(err, KF_EUNSUPPORTED, "%s: UTF-16 YAML is not supported (convert it to UTF-8)", f->name);
    for (size_t i = 0; i < f->len && s.ascii; i++)
        if (d[i] & 0x80)
            s.ascii = 0;
    f->crlf = 0;
    const unsigned char *nl = memchr(d, '\n', f->len);
    if (nl && nl > d && nl[-1] == '\r')
        f->crlf = 1;
    f->preamble_end = f->len;
    s.stack = calloc(o->limits.max_depth + 1, sizeof *s.stack);
    if (!s.stack)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    if (!yaml_parser_initialize(&parser)) {
        free(s.stack);
        return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, d, f->len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    while (!done) {
        if (!yaml_parser_parse(&parser, &e)) {
            rc = parse_error(&s, &parser);
            break;
        }
        done = e.type == YAML_STREAM_END_EVENT;
        rc = on_event(&s, &e);
        yaml_event_delete(&e);
        if (rc)
            break;
    }
    yaml_parser_delete(&parser);
    while (s.depth > 0) {
        struct frame *fr = &s.stack[--s.depth];
        free(fr->anchor);
        kf_rs_pairs_free(fr->pairs, fr->n_pairs);
    }
    free(s.stack);
    pend_clear(&s);
    free(s.pend);
    labels_clear(&s);
    kf_rs_anchors_clear(&s.anchors);
    return rc;
}

void kf_rs_file_free(struct kf_rs_file *f)
{
    if (!f)
        return;
    free(f->docs);
    free(f->sites);
    f->docs = NULL;
    f->sites = NULL;
    f->n_docs = f->n_sites = 0;
}
