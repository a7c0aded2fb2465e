/* What the resolver refuses: invalid YAML and bad references with
 * FILE:LINE:COLUMN, alias bombs, oversized documents and inputs, too many
 * references, deep nesting; build failures listing every reference. */
#include "resolve_fake.h"

struct error_case {
    const char *yaml;
    int rc;
    const char *message; /* a substring of err */
};

static const struct error_case error_cases[] = {
    {"a: 1\nb: [1, 2\n", KF_EINVAL, "bad.yaml:3:1: invalid YAML: did not find expected ',' or ']'"},
    {"a: 1\n  b: 2\n", KF_EINVAL, "bad.yaml:2:4: invalid YAML: mapping values are not allowed"},
    {"a: \"unterminated\n", KF_EINVAL, "bad.yaml:2:1: invalid YAML: found unexpected end of stream"},
    {"a: *nowhere\n", KF_EINVAL, "bad.yaml:1:4: unknown anchor \"nowhere\""},
    {"x:\n  image: ko://example.com/a b\n", KF_EINVAL,
     "bad.yaml:2:10: \"ko://example.com/a b\": not a valid import path"},
    {"image: \"ko://\"\n", KF_EINVAL, "bad.yaml:1:8: \"ko://\": not a valid import path"},
    {"a: \t\x01\n", KF_EINVAL, "bad.yaml:1:"},
    {"\xFF\xFE" "a\0:\0", KF_EUNSUPPORTED, "UTF-16"},
    {"a: \xC3\x28\n", KF_EINVAL, "invalid YAML: invalid trailing UTF-8 octet"},
};

Test(limits, errors_name_file_line_column)
{
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        struct kf_resolve_opts o;
        struct fake f;
        char err[KF_ERRLEN], *got = NULL;
        fake_opts(&o, &f);
        size_t len = i == 7 ? 6 : strlen(error_cases[i].yaml);
        struct kf_resolve_input in = {"bad.yaml", (const unsigned char *)error_cases[i].yaml, len};
        struct kf_resolve_result res;
        int rc = kf_resolve_with(&o, &in, 1, &res, err);
        cr_expect_eq(rc, error_cases[i].rc, "case %zu: rc %d (%s)", i, rc, err);
        cr_expect(strstr(err, error_cases[i].message) != NULL, "case %zu: %s", i, err);
        cr_expect_null(res.yaml, "case %zu: nothing partial", i);
        cr_expect_eq(f.build_calls, 0, "case %zu: nothing built", i);
        kf_resolve_result_free(&res);
        free(got);
    }
}

/* The second file's error names it, and the first file's output is not returned. */
Test(limits, error_in_a_later_file)
{
    struct kf_resolve_opts o;
    struct fake f;
    struct kf_resolve_result res;
    char err[KF_ERRLEN];
    fake_opts(&o, &f);
    const char *a = "image: ko://example.com/a\n", *b = "ok: 1\n---\nbroken: [\n";
    struct kf_resolve_input in[] = {{"a.yaml", (const unsigned char *)a, strlen(a)},
                                    {"dir/b.yaml", (const unsigned char *)b, strlen(b)}};
    cr_expect_eq(kf_resolve_with(&o, in, 2, &res, err), KF_EINVAL);
    cr_expect(strncmp(err, "dir/b.yaml:4:1: invalid YAML", 28) == 0, "%s", err);
    cr_expect_null(res.yaml);
    kf_resolve_result_free(&res);
}

static char *billion_laughs(int levels)
{
    struct kf_buf b;
    kf_buf_init(&b, 0);
    cr_assert_eq(kf_buf_append_str(&b, "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"), 0);
    for (int i = 1; i < levels; i++) {
        cr_assert_eq(kf_buf_appendf(&b, "a%d: &a%d [", i, i), 0);
        for (int j = 0; j < 10; j++)
            cr_assert_eq(kf_buf_appendf(&b, "%s*a%d", j ? ", " : "", i - 1), 0);
        cr_assert_eq(kf_buf_append_str(&b, "]\n"), 0);
    }
    cr_assert_eq(kf_buf_reserve(&b, 0), 0);
    return (char *)kf_buf_steal(&b, NULL);
}

Test(limits, billion_laughs_refused)
{
    struct kf_resolve_opts o;
    struct fake f;
    char err[KF_ERRLEN], *got = NULL;
    fake_opts(&o, &f);
    char *bomb = billion_laughs(9);
    cr_expect_eq(resolve_str(&o, "lol.yaml", bomb, &got, err), KF_ETOOBIG);
    cr_expect(strstr(err, "lol.yaml:6:45:") && strstr(err, "aliases expand to more than 1000000 nodes"), "%s", err);
    free(bomb);
    /* a few levels are fine, and kept byte for byte */
    char *small = billion_laughs(3);
    cr_expect_eq(resolve_str(&o, "lol.yaml", small, &got, err), 0, "%s", err);
    cr_expect_str_eq(got, small);
    free(got);
    free(small);
    /* the count of alias events has its own limit */
    o.limits.max_aliases = 5;
    cr_expect_eq(resolve_str(&o, "many.yaml", "a: &a x\nb: [*a, *a, *a, *a, *a, *a]\n", &got, err), KF_ETOOBIG);
    cr_expect(strstr(err, "many.yaml:2:25: more than 5 aliases") != NULL, "%s", err);
    /* aliases are counted per document */
    cr_expect_eq(resolve_str(&o, "m", "a: &a x\nb: [*a, *a, *a]\n---\na: &a x\nb: [*a, *a, *a]\n", &got, err), 0,
                 "%s", err);
    free(got);
}

Test(limits, document_size)
{
    struct kf_resolve_opts o;
    struct fake f;
    char err[KF_ERRLEN], *got = NULL;
    fake_opts(&o, &f);
    o.limits.max_doc = 1000;
    struct kf_buf b;
    kf_buf_init(&b, 0);
    cr_assert_eq(kf_buf_append_str(&b, "small: 1\n---\n"), 0);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(kf_buf_appendf(&b, "key%03d: value-%03d\n", i, i), 0);
    cr_assert_eq(kf_buf_reserve(&b, 0), 0);
    cr_expect_eq(resolve_str(&o, "huge.yaml", (const char *)b.data, &got, err), KF_ETOOBIG);
    cr_expect(strstr(err, "huge.yaml:") && strstr(err, "document over 1000 bytes"), "%s", err);
    o.limits.max_doc = 0;
    cr_expect_eq(resolve_str(&o, "huge.yaml", (const char *)b.data, &got, err), 0, "%s", err);
    free(got);
    o.limits.max_input = 100;
    cr_expect_eq(resolve_str(&o, "huge.yaml", (const char *)b.data, &got, err), KF_ETOOBIG);
    cr_expect(strstr(err, "huge.yaml: the YAML inputs are over 100 bytes") != NULL, "%s", err);
    kf_buf_free(&b);
}

Test(limits, nesting_depth)
{
    struct kf_resolve_opts o;
    struct fake f;
    char err[KF_ERRLEN], *got = NULL;
    char deep[2100];
    fake_opts(&o, &f);
    memset(deep, '[', 1000);
    memset(deep + 1000, ']', 1000);
    deep[2000] = 0;
    cr_expect_eq(resolve_str(&o, "deep.yaml", deep, &got, err), KF_ETOOBIG);
    cr_expect(strstr(err, "deep.yaml:1:513: nested deeper than 512 levels") != NULL, "%s", err);
    o.limits.max_depth = 2000;
    cr_expect_eq(resolve_str(&o, "deep.yaml", deep, &got, err), 0, "%s", err);
    free(got);
}

Test(limits, unique_references)
{
    struct kf_resolve_opts o;
    struct fake f;
    char err[KF_ERRLEN], *got = NULL;
    fake_opts(&o, &f);
    o.limits.max_refs = 2;
    const char *in = "- ko://e.com/a\n- ko://e.com/b\n- ko://e.com/a\n- ko://e.com/c\n";
    cr_expect_eq(resolve_str(&o, "refs.yaml", in, &got, err), KF_ETOOBIG);
    cr_expect(strstr(err, "refs.yaml:4:3: more than 2 different references") != NULL, "%s", err);
    o.limits.max_refs = 3;
    cr_expect_eq(resolve_str(&o, "refs.yaml", in, &got, err), 0, "%s", err);
    free(got);
    o.limits.max_sites = 3;
    cr_expect_eq(resolve_str(&o, "refs.yaml", in, &got, err), KF_ETOOBIG);
    cr_expect(strstr(err, "more than 3 references to rewrite") != NULL, "%s", err);
}

Test(limits, build_failure_lists_every_reference)
{
    struct kf_resolve_opts o;
    struct fake f;
    struct kf_resolve_result res;
    char err[KF_ERRLEN];
    fake_opts(&o, &f);
    f.fail = "e.com/missing";
    f.fail2 = "e.com/gone";
    const char *in = "a: ko://e.com/ok\nb:\n  - ko://e.com/missing\n  - ko://e.com/gone\n";
    struct kf_resolve_input input = {"m.yaml", (const unsigned char *)in, strlen(in)};
    cr_expect_eq(kf_resolve_with(&o, &input, 1, &res, err), KF_EBUILD);
    cr_expect_str_eq(err, "2 of 3 references cannot be built");
    cr_assert_not_null(res.errors);
    cr_expect_str_eq(res.errors,
                     "m.yaml:3:5: e.com/missing: no such package\nm.yaml:4:5: e.com/gone: no such package\n");
    cr_expect_null(res.yaml);
    kf_resolve_result_free(&res);
}

Test(limits, no_builder_refuses)
{
    struct kf_resolve_opts o;
    struct fake f;
    char err[KF_ERRLEN], *got = NULL;
    fake_opts(&o, &f);
    o.build_fn = NULL;
    cr_expect_eq(resolve_str(&o, "x.yaml", "a: ko://e.com/a\n", &got, err), KF_EUNSUPPORTED);
    cr_expect(strstr(err, "x.yaml:1:4: nothing can build") != NULL, "%s", err);
    o.pin_fn = NULL;
    o.pin_tags = 1;
    o.build_fn = fake_build;
    cr_expect_eq(resolve_str(&o, "x.yaml", "image: nginx:1\n", &got, err), KF_EUNSUPPORTED);
    cr_expect(strstr(err, "nothing can pin") != NULL, "%s", err);
}

Test(limits, empty_and_comment_only_inputs)
{
    struct kf_resolve_opts o;
    struct fake f;
    char err[KF_ERRLEN], *got = NULL;
    fake_opts(&o, &f);
    cr_expect_eq(resolve_str(&o, "e.yaml", "", &got, err), 0, "%s", err);
    cr_expect_str_eq(got, "");
    free(got);
    cr_expect_eq(resolve_str(&o, "c.yaml", "# just a comment\n", &got, err), 0, "%s", err);
    cr_expect_str_eq(got, "", "no document, nothing to print");
    free(got);
}
