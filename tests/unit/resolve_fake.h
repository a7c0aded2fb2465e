/* Test doubles for the resolver: a builder and a pinner that answer from
 * the reference's text (no go, no registry), and helpers to run a resolve
 * on strings and to expand the <<KO:path>> / <<PIN:ref>> placeholders of the
 * expected files in tests/fixtures/resolve/. Included by the resolve tests. */
#ifndef KF_TEST_RESOLVE_FAKE_H
#define KF_TEST_RESOLVE_FAKE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "digest.h"
#include "resolve_internal.h"

struct fake {
    int build_calls, pin_calls;
    size_t built, pinned;
    const char *fail;        /* an import path (or tag) that fails */
    const char *fail2;
    char seen[4096];         /* every value handed over, "a|b|" */
};

/* "registry.test/<path>@sha256:<sha256(path)>" */
static char *fake_ref(const char *path)
{
    char d[KF_DIGEST_LEN], *s = NULL;
    kf_sha256_digest(path, strlen(path), d);
    cr_assert(asprintf(&s, "registry.test/%s@%s", path, d) > 0);
    return s;
}

/* "<tag>@sha256:<sha256("pin:" tag)>" */
static char *fake_pin(const char *tag)
{
    char d[KF_DIGEST_LEN], *s = NULL, *in = NULL;
    cr_assert(asprintf(&in, "pin:%s", tag) > 0);
    kf_sha256_digest(in, strlen(in), d);
    free(in);
    cr_assert(asprintf(&s, "%s@%s", tag, d) > 0);
    return s;
}

static int fake_answer(struct fake *f, struct kf_resolve_ref **refs, size_t n, struct kf_resolve_errors *e,
                       char *err, int pin)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(f->seen);
        snprintf(f->seen + used, sizeof f->seen - used, "%s|", refs[i]->value);
        if ((f->fail && strcmp(refs[i]->value, f->fail) == 0) || (f->fail2 && strcmp(refs[i]->value, f->fail2) == 0)) {
            kf_resolve_errorf(e, "%s: %s: no such package", refs[i]->where, refs[i]->value);
            bad++;
            continue;
        }
        refs[i]->replacement = pin ? fake_pin(refs[i]->value) : fake_ref(refs[i]->value);
    }
    return bad ? kf_fail(err, KF_EBUILD, "%zu of %zu references cannot be built", bad, n) : KF_OK;
}

static int fake_build(void *ctx, struct kf_resolve_ref **refs, size_t n, struct kf_resolve_errors *e, char *err)
{
    struct fake *f = ctx;
    f->build_calls++;
    f->built += n;
    return fake_answer(f, refs, n, e, err, 0);
}

static int fake_pin_fn(void *ctx, struct kf_resolve_ref **refs, size_t n, struct kf_resolve_errors *e, char *err)
{
    struct fake *f = ctx;
    f->pin_calls++;
    f->pinned += n;
    return fake_answer(f, refs, n, e, err, 1);
}

static void fake_opts(struct kf_resolve_opts *o, struct fake *f)
{
    memset(o, 0, sizeof *o);
    memset(f, 0, sizeof *f);
    o->strict = 1;
    o->build_fn = fake_build;
    o->pin_fn = fake_pin_fn;
    o->fn_ctx = f;
}

/* Resolves one string; returns rc, *out gets the text (caller frees) or NULL. */
static int resolve_str(const struct kf_resolve_opts *o, const char *name, const char *yaml, char **out, char *err)
{
    struct kf_resolve_input in = {name, (const unsigned char *)yaml, strlen(yaml)};
    struct kf_resolve_result res;
    err[0] = 0;
    int rc = kf_resolve_with(o, &in, 1, &res, err);
    *out = NULL;
    if (!rc) {
        cr_assert_not_null(res.yaml);
        *out = strndup((const char *)res.yaml, res.len);
    } else {
        cr_assert_null(res.yaml, "nothing partial on error");
    }
    kf_resolve_result_free(&res);
    return rc;
}

/* The expected text: placeholders replaced by the fakes' answers. */
__attribute__((unused)) static char *expand(const char *text)
{
    struct kf_buf b;
    kf_buf_init(&b, 0);
    const char *p = text;
    for (;;) {
        const char *ko = strstr(p, "<<KO:"), *pin = strstr(p, "<<PIN:");
        const char *at = ko && (!pin || ko < pin) ? ko : pin;
        if (!at)
            break;
        size_t skip = at == ko ? 5 : 6;
        const char *end = strstr(at, ">>");
        cr_assert_not_null(end);
        char *arg = strndup(at + skip, (size_t)(end - at - skip));
        char *repl = at == ko ? fake_ref(arg) : fake_pin(arg);
        cr_assert_eq(kf_buf_append(&b, p, (size_t)(at - p)), 0);
        cr_assert_eq(kf_buf_append_str(&b, repl), 0);
        free(arg);
        free(repl);
        p = end + 2;
    }
    cr_assert_eq(kf_buf_append_str(&b, p), 0);
    cr_assert_eq(kf_buf_reserve(&b, 0), 0);
    return (char *)kf_buf_steal(&b, NULL);
}

__attribute__((unused)) static char *read_fixture(const char *rel)
{
    char path[1024];
    struct kf_buf b;
    char err[KF_ERRLEN];
    snprintf(path, sizeof path, "%s/tests/fixtures/resolve/%s", KF_SOURCE_DIR, rel);
    kf_buf_init(&b, 0);
    cr_assert_eq(kf_buf_read_file(&b, path, err), 0, "%s", err);
    cr_assert_eq(kf_buf_reserve(&b, 0), 0);
    return (char *)kf_buf_steal(&b, NULL);
}

#endif
