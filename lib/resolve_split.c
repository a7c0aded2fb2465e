/* A large YAML stream scanned in parallel: it is cut before document-start
 * lines ("---" at column 0, which libyaml always takes as a marker: block
 * scalars are indented at least one column, plain scalars stop there and
 * quoted ones fail), each part gets its own libyaml parser on its own
 * thread, and the parts are merged in order so the result is exactly what
 * one sequential scan gives. Any failure scans the whole stream again
 * sequentially, which finds and words the first error. */
#include "resolve_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PART_MIN ((size_t)4 << 20) /* smaller streams are not worth a thread */
#define PARTS_MAX 8

struct part {
    const struct kf_rs_scan_opts *o;
    struct kf_rs_file f;
    struct kf_rs_table t;
    size_t sites;
    size_t offset;
    int rc;
    char err[KF_ERRLEN];
};

static void *scan_part(void *arg)
{
    struct part *p = arg;
    p->rc = kf_rs_scan(p->o, &p->f, &p->t, &p->sites, p->err);
    return NULL;
}

static int is_marker_line(const unsigned char *d, size_t len, size_t at)
{
    if (at + 3 > len || memcmp(d + at, "---", 3) != 0)
        return 0;
    return at + 3 == len || d[at + 3] == ' ' || d[at + 3] == '\t' || d[at + 3] == '\r' || d[at + 3] == '\n';
}

/* The first marker line at or after from (0 when none). */
static size_t next_marker(const unsigned char *d, size_t len, size_t from)
{
    for (size_t at = from; at < len;) {
        const unsigned char *nl = memchr(d + at, '\n', len - at);
        if (!nl)
            return 0;
        at = (size_t)(nl - d) + 1;
        if (is_marker_line(d, len, at))
            return at;
    }
    return 0;
}

/* Directives (%YAML, %TAG) bind to the next document: no cut anywhere. */
static int has_directives(const unsigned char *d, size_t len)
{
    if (len && d[0] == '%')
        return 1;
    for (const unsigned char *p = d; (p = memchr(p, '\n', len - (size_t)(p - d)));) {
        p++;
        if ((size_t)(p - d) < len && *p == '%')
            return 1;
    }
    return 0;
}

static size_t count_lines(const unsigned char *d, size_t len)
{
    size_t n = 0;
    for (const unsigned char *p = d; (p = memchr(p, '\n', len - (size_t)(p - d))); p++)
        n++;
    return n;
}

/* Appends part p to f and t (offsets moved, references re-interned in
 * first-seen order). */
static int merge(const struct kf_rs_scan_opts *o, struct kf_rs_file *f, struct kf_rs_table *t, size_t *total_sites,
                 const struct part *p, char *err)
{
    int rc = KF_OK;
    size_t *map = calloc(p->t.n + 1, sizeof *map);
    if (!map)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    for (size_t i = 0; i < p->t.n && !rc; i++) {
        const struct kf_resolve_ref *r = &p->t.refs[i];
        rc = kf_rs_table_intern(t, r->kind, r->value, strlen(r->value), r->where, o->limits.max_refs, &map[i], err);
        if (!rc)
            t->refs[map[i]].uses += r->uses - 1;
    }
    if (rc)
        goto out;
    if (p->sites > o->limits.max_sites || *total_sites > o->limits.max_sites - p->sites) {
        rc = kf_fail(err, KF_ETOOBIG, "%s: more than %zu references to rewrite", f->name, o->limits.max_sites);
        goto out;
    }
    struct kf_rs_doc *docs = realloc(f->docs, (f->n_docs + p->f.n_docs + 1) * sizeof *docs);
    if (docs)
        f->docs = docs;
    struct kf_rs_site *sites = realloc(f->sites, (f->n_sites + p->f.n_sites + 1) * sizeof *sites);
    if (sites)
        f->sites = sites;
    if (!docs || !sites) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < p->f.n_docs; i++) {
        struct kf_rs_doc d = p->f.docs[i];
        d.cut += p->offset;
        d.end += p->offset;
        d.first_site += f->n_sites;
        f->docs[f->n_docs++] = d;
    }
    for (size_t i = 0; i < p->f.n_sites; i++) {
        struct kf_rs_site s = p->f.sites[i];
        s.start += p->offset;
        s.end += p->offset;
        s.ref = map[s.ref];
        f->sites[f->n_sites++] = s;
    }
    f->n_docs_read += p->f.n_docs_read;
    *total_sites += p->sites;
out:
    free(map);
    return rc;
}

static size_t cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (size_t)n;
}

int kf_rs_scan_input(const struct kf_rs_scan_opts *o, struct kf_rs_file *f, struct kf_rs_table *t,
                     size_t *total_sites, char *err)
{
    const unsigned char *d = f->data;
    size_t len = f->len, want = cpu_count();
    if (want > PARTS_MAX)
        want = PARTS_MAX;
    if (want > len / PART_MIN)
        want = len / PART_MIN;
    if (want < 2 || has_directives(d, len))
        return kf_rs_scan(o, f, t, total_sites, err);

    struct part parts[PARTS_MAX];
    pthread_t tids[PARTS_MAX];
    int started[PARTS_MAX] = {0};
    size_t n = 0, from = 0, lines = 0;
    memset(parts, 0, sizeof parts);
    for (size_t k = 1; k <= want; k++) {
        size_t cut = k < want ? next_marker(d, len, len / want * k) : len;
        if (k < want && (cut == 0 || cut <= from))
            continue;
        struct part *p = &parts[n++];
        p->o = o;
        p->offset = from;
        p->f.name = f->name;
        p->f.data = d + from;
        p->f.len = cut - from;
        p->f.line_base = f->line_base + lines;
        lines += count_lines(d + from, cut - from);
        from = cut;
    }
    if (n < 2)
        return kf_rs_scan(o, f, t, total_sites, err);
    for (size_t i = 1; i < n; i++)
        started[i] = pthread_create(&tids[i], NULL, scan_part, &parts[i]) == 0;
    scan_part(&parts[0]);
    int failed = parts[0].rc != KF_OK;
    for (size_t i = 1; i < n; i++) {
        if (started[i])
            pthread_join(tids[i], NULL);
        else
            scan_part(&parts[i]);
        failed |= parts[i].rc != KF_OK;
    }
    int rc = KF_OK;
    if (!failed) {
        f->crlf = parts[0].f.crlf;
        f->preamble_end = parts[0].f.preamble_end;
        for (size_t i = 0; i < n && !rc; i++)
            rc = merge(o, f, t, total_sites, &parts[i], err);
    }
    for (size_t i = 0; i < n; i++) {
        kf_rs_file_free(&parts[i].f);
        kf_rs_table_free(&parts[i].t);
    }
    if (failed)
        return kf_rs_scan(o, f, t, total_sites, err);
    return rc;
}
