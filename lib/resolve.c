/* ko resolve: scan every input, build (or pin) each unique reference once,
 * then splice the results into the original bytes. Nothing is returned
 * unless everything succeeded. */
#include "resolve_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gobuild.h"
#include "log.h"
#include "ref.h"
#include "registry.h"

#define ERRORS_MAX ((size_t)64 << 10)

void kf_resolve_errorf(struct kf_resolve_errors *e, const char *fmt, ...)
{
    char line[KF_ERRLEN];
    if (!e)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    e->n++;
    if (e->text.len + strlen(line) + 1 > ERRORS_MAX || kf_buf_appendf(&e->text, "%s\n", line))
        e->dropped++;
}

/* ---------------------------------------------------------------- the table */

static size_t hash_of(int class, const char *v, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)class;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)v[i]) * 1099511628211ULL;
    return (size_t)h;
}

static int class_of(enum kf_resolve_kind k)
{
    return k == KF_RESOLVE_TAG;
}

static int table_grow(struct kf_rs_table *t)
{
    size_t n_slots = t->n_slots ? t->n_slots * 2 : 64;
    size_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots)
        return KF_ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        const struct kf_resolve_ref *r = &t->refs[i];
        size_t h = hash_of(class_of(r->kind), r->value, strlen(r->value)) & (n_slots - 1);
        while (slots[h])
            h = (h + 1) & (n_slots - 1);
        slots[h] = i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->n_slots = n_slots;
    return KF_OK;
}

int kf_rs_table_intern(struct kf_rs_table *t, enum kf_resolve_kind kind, const char *value, size_t len,
                       const char *where, size_t max_refs, size_t *index, char *err)
{
    if ((t->n + 1) * 2 > t->n_slots && table_grow(t))
        return kf_fail(err, KF_ENOMEM, "out of memory");
    size_t h = hash_of(class_of(kind), value, len) & (t->n_slots - 1);
    for (; t->slots[h]; h = (h + 1) & (t->n_slots - 1)) {
        struct kf_resolve_ref *r = &t->refs[t->slots[h] - 1];
        if (class_of(r->kind) == class_of(kind) && strlen(r->value) == len && memcmp(r->value, value, len) == 0) {
            if (kind == KF_RESOLVE_KO)
                r->kind = KF_RESOLVE_KO; /* written both ways: strict wins */
            r->uses++;
            *index = t->slots[h] - 1;
            return KF_OK;
        }
    }
    if (t->n >= max_refs)
        return kf_fail(err, KF_ETOOBIG, "%s: more than %zu different references", where, max_refs);
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct kf_resolve_ref *refs = realloc(t->refs, cap * sizeof *refs);
        if (!refs)
            return kf_fail(err, KF_ENOMEM, "out of memory");
        t->refs = refs;
        t->cap = cap;
    }
    struct kf_resolve_ref *r = &t->refs[t->n];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->value = strndup(value, len);
    if (!r->value)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    snprintf(r->where, sizeof r->where, "%s", where);
    r->uses = 1;
    t->slots[h] = t->n + 1;
    *index = t->n++;
    return KF_OK;
}

void kf_rs_table_free(struct kf_rs_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->refs[i].value);
        free(t->refs[i].replacement);
    }
    free(t->refs);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- the engine's resolvers */

static const char *shown(const struct kf_resolve_ref *r, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s", r->kind == KF_RESOLVE_KO ? "ko://" : "", r->value);
    return buf;
}

/* After a failed build: which references are at fault? One go list each. */
static size_t diagnose(const struct kf_build_opts *b, struct kf_resolve_ref **refs, size_t n,
                       struct kf_resolve_errors *errors)
{
    char **env = NULL;
    char why[KF_ERRLEN], name[KF_GO_ARG_MAX + 16];
    size_t bad = 0;
    if (kf_go_clean_env(&env, why))
        return 0;
    for (size_t i = 0; i < n; i++) {
        struct kf_gopkg pkg = {0};
        const char *arg = refs[i]->value;
        if (kf_go_list(b->go ? b->go : "go", b->workdir, env, &arg, 1, &pkg, why)) {
            kf_resolve_errorf(errors, "%s: %s: %s", refs[i]->where, shown(refs[i], name, sizeof name), why);
            bad++;
        }
        kf_gopkg_free(&pkg);
    }
    kf_go_env_free(env);
    return bad;
}

static int engine_build(void *ctx, struct kf_resolve_ref **refs, size_t n, struct kf_resolve_errors *errors,
                        char *err)
{
    const struct kf_resolve_opts *o = ctx;
    struct kf_build_opts b = o->build;
    struct kf_build_result *res = NULL;
    size_t n_res = 0;
    const char **paths = calloc(n, sizeof *paths);
    if (!paths)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        paths[i] = refs[i]->value;
    b.importpaths = paths;
    b.n_importpaths = n;
    int rc = kf_build_run(&b, &res, &n_res, err);
    if (rc) {
        /* go list stops at the first bad package: ask about each one so every error is reported */
        size_t bad = rc == KF_ECANCELED ? 0 : diagnose(&b, refs, n, errors);
        if (bad)
            kf_fail(err, rc, "%zu of %zu references cannot be built", bad, n);
        goto out;
    }
    for (size_t i = 0; i < n && i < n_res; i++) {
        refs[i]->replacement = strdup(res[i].reference);
        if (!refs[i]->replacement) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            goto out;
        }
        snprintf(refs[i]->digest, sizeof refs[i]->digest, "%s", res[i].digest);
    }
out:
    kf_build_results_free(res, n_res);
    free(paths);
    return rc;
}

static int engine_pin(void *ctx, struct kf_resolve_ref **refs, size_t n, struct kf_resolve_errors *errors, char *err)
{
    const struct kf_resolve_opts *o = ctx;
    struct kf_registry *reg = NULL;
    struct kf_buf body;
    int rc = kf_reg_new(&o->build.reg, &reg, err), first_rc = KF_OK;
    size_t bad = 0;
    if (rc)
        return rc;
    kf_buf_init(&body, KF_REG_MANIFEST_MAX);
    for (size_t i = 0; i < n; i++) {
        struct kf_ref ref;
        char why[KF_ERRLEN], mt[128];
        rc = kf_ref_parse(refs[i]->value, &ref, why);
        if (!rc)
            rc = kf_reg_get_manifest(reg, &ref, kf_ref_tag_or_latest(&ref), &body, mt, refs[i]->digest, why);
        kf_ref_free(&ref);
        if (!rc && asprintf(&refs[i]->replacement, "%s@%s", refs[i]->value, refs[i]->digest) < 0) {
            refs[i]->replacement = NULL;
            rc = KF_ENOMEM;
            snprintf(why, sizeof why, "out of memory");
        }
        if (rc) {
            kf_resolve_errorf(errors, "%s: pinning %s: %s", refs[i]->where, refs[i]->value, why);
            if (!bad++)
                first_rc = rc;
            if (rc == KF_ECANCELED || rc == KF_ENOMEM)
                break;
            continue;
        }
        kf_logf("Pinned %s@%s", refs[i]->value, refs[i]->digest);
    }
    kf_buf_free(&body);
    kf_reg_free(reg);
    if (bad)
        return kf_fail(err, first_rc, "%zu of %zu image tags cannot be pinned", bad, n);
    return KF_OK;
}

/* ---------------------------------------------------------------- orchestration */

static void set_limits(const struct kf_resolve_limits *in, struct kf_resolve_limits *l)
{
    l->max_input = in->max_input ? in->max_input : KF_RESOLVE_MAX_INPUT;
    l->max_doc = in->max_doc ? in->max_doc : KF_RESOLVE_MAX_DOC;
    l->max_alias_nodes = in->max_alias_nodes ? in->max_alias_nodes : KF_RESOLVE_MAX_ALIAS_NODES;
    l->max_aliases = in->max_aliases ? in->max_aliases : KF_RESOLVE_MAX_ALIASES;
    l->max_depth = in->max_depth ? in->max_depth : KF_RESOLVE_MAX_DEPTH;
    l->max_refs = in->max_refs ? in->max_refs : KF_RESOLVE_MAX_REFS;
    l->max_sites = in->max_sites ? in->max_sites : KF_RESOLVE_MAX_SITES;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The used references of one class (0 build, 1 tags), first-seen order. */
static int collect(struct kf_rs_table *t, int class, struct kf_resolve_ref ***out, size_t *n)
{
    *n = 0;
    *out = calloc(t->n + 1, sizeof **out);
    if (!*out)
        return KF_ENOMEM;
    for (size_t i = 0; i < t->n; i++)
        if (class_of(t->refs[i].kind) == class && t->refs[i].uses)
            (*out)[(*n)++] = &t->refs[i];
    return KF_OK;
}

static int run_fn(kf_resolve_fn fn, void *ctx, struct kf_resolve_ref **refs, size_t n, const char *what,
                  struct kf_resolve_errors *errors, char *err)
{
    if (n == 0)
        return KF_OK;
    if (!fn)
        return kf_fail(err, KF_EUNSUPPORTED, "%s: nothing can %s here", refs[0]->where, what);
    int rc = fn(ctx, refs, n, errors, err);
    for (size_t i = 0; !rc && i < n; i++)
        if (!refs[i]->replacement)
            rc = kf_fail(err, KF_EINTERNAL, "%s: %s was not resolved", refs[i]->where, refs[i]->value);
    return rc;
}

/* Moves the used references into out->refs (build class first). */
static int take_refs(struct kf_resolve_ref **b, size_t nb, struct kf_resolve_ref **p, size_t np,
                     struct kf_resolve_result *out)
{
    out->refs = calloc(nb + np + 1, sizeof *out->refs);
    if (!out->refs)
        return KF_ENOMEM;
    for (size_t i = 0; i < nb + np; i++) {
        struct kf_resolve_ref *r = i < nb ? b[i] : p[i - nb];
        out->refs[out->n_refs++] = *r;
        r->value = r->replacement = NULL; /* ownership moved */
    }
    return KF_OK;
}

int kf_resolve_with(const struct kf_resolve_opts *o, const struct kf_resolve_input *in, size_t n,
                    struct kf_resolve_result *out, char *err)
{
    struct kf_rs_scan_opts so = {.strict = o->strict, .pin_tags = o->pin_tags};
    struct kf_rs_table table = {0};
    struct kf_rs_file *files = NULL;
    struct kf_selector *sel = NULL;
    const char **mains = NULL;
    struct kf_resolve_ref **build = NULL, **pins = NULL;
    size_t n_build = 0, n_pins = 0, total = 0, sites = 0;
    struct kf_resolve_errors errors = {0};
    struct kf_buf yaml;
    int rc;
    memset(out, 0, sizeof *out);
    set_limits(&o->limits, &so.limits);
    kf_buf_init(&errors.text, ERRORS_MAX + 64);
    kf_buf_init(&yaml, so.limits.max_input * 2 + ((size_t)1 << 20));

    for (size_t i = 0; i < n; i++) {
        if (in[i].len > so.limits.max_input - total) {
            rc = kf_fail(err, KF_ETOOBIG, "%s: the YAML inputs are over %zu bytes", in[i].name, so.limits.max_input);
            goto out;
        }
        total += in[i].len;
    }
    rc = kf_selector_parse(o->selector, &sel, err);
    if (rc)
        goto out;
    so.selector = kf_selector_count(sel) ? sel : NULL;
    if (!o->strict && o->n_main_packages) {
        mains = calloc(o->n_main_packages, sizeof *mains);
        if (!mains) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(mains, o->main_packages, o->n_main_packages * sizeof *mains);
        qsort(mains, o->n_main_packages, sizeof *mains, cmp_str);
        so.mains = mains;
        so.n_mains = o->n_main_packages;
    }
    files = calloc(n + 1, sizeof *files);
    if (!files) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        files[i].name = in[i].name ? in[i].name : "-";
        files[i].data = in[i].data;
        files[i].len = in[i].len;
        rc = kf_rs_scan_input(&so, &files[i], &table, &sites, err);
        if (rc)
            goto out;
        out->n_docs_in += files[i].n_docs_read;
        out->n_docs_out += files[i].n_docs;
    }
    if (collect(&table, 0, &build, &n_build) || collect(&table, 1, &pins, &n_pins)) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    rc = run_fn(o->build_fn, o->fn_ctx, build, n_build, "build ko:// references", &errors, err);
    if (!rc)
        rc = run_fn(o->pin_fn, o->fn_ctx, pins, n_pins, "pin image tags", &errors, err);
    if (!rc)
        rc = kf_rs_splice(files, n, &table, &yaml, err);
    if (!rc && take_refs(build, n_build, pins, n_pins, out))
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
    if (rc)
        goto out;
    if (kf_buf_reserve(&yaml, 0)) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    out->yaml = kf_buf_steal(&yaml, &out->len);
out:
    if (rc && errors.n) {
        /* the buffer keeps room for this line beyond ERRORS_MAX */
        if (errors.dropped && kf_buf_appendf(&errors.text, "(%zu more errors)\n", errors.dropped) == KF_OK)
            errors.dropped = 0;
        out->errors = (char *)kf_buf_steal(&errors.text, NULL);
    }
    for (size_t i = 0; files && i < n; i++)
        kf_rs_file_free(&files[i]);
    free(files);
    free(build);
    free(pins);
    free(mains);
    kf_selector_free(sel);
    kf_rs_table_free(&table);
    kf_buf_free(&errors.text);
    kf_buf_free(&yaml);
    return rc;
}

int kf_resolve_run(const struct kf_resolve_opts *o, const struct kf_resolve_input *in, size_t n,
                   struct kf_resolve_result *out, char *err)
{
    struct kf_resolve_opts eo = *o;
    eo.build_fn = engine_build;
    eo.pin_fn = engine_pin;
    eo.fn_ctx = &eo;
    return kf_resolve_with(&eo, in, n, out, err);
}

void kf_resolve_result_free(struct kf_resolve_result *r)
{
    if (!r)
        return;
    free(r->yaml);
    for (size_t i = 0; i < r->n_refs; i++) {
        free(r->refs[i].value);
        free(r->refs[i].replacement);
    }
    free(r->refs);
    free(r->errors);
    memset(r, 0, sizeof *r);
}
