/* The resolver without go or a registry: the corpus in
 * tests/fixtures/resolve/ against its expected outputs, byte preservation,
 * joining files, strictness, --pin-tags and the rewrite of each style. */
#include "resolve_fake.h"

static const char *const corpus[] = {
    "anchors.yaml", "crd.yaml", "crlf.yaml", "cronjob.yaml", "deployment.yaml", "knative-service.yaml",
    "list.yaml", "multi.yaml", "service.json", "statefulset.yaml", "utf8.yaml",
};
#define N_CORPUS (sizeof corpus / sizeof corpus[0])

static void check_case(const char *in_rel, const char *want_rel, const struct kf_resolve_opts *o)
{
    char err[KF_ERRLEN], *got = NULL;
    char *in = read_fixture(in_rel), *want_raw = read_fixture(want_rel);
    char *want = expand(want_raw);
    int rc = resolve_str(o, in_rel, in, &got, err);
    cr_assert_eq(rc, 0, "%s: %s", in_rel, err);
    cr_expect_str_eq(got, want, "%s differs from %s", in_rel, want_rel);
    free(in);
    free(want_raw);
    free(want);
    free(got);
}

Test(resolve, corpus_matches_expected)
{
    for (size_t i = 0; i < N_CORPUS; i++) {
        struct kf_resolve_opts o;
        struct fake f;
        char in[256], want[256];
        fake_opts(&o, &f);
        snprintf(in, sizeof in, "cases/%s", corpus[i]);
        snprintf(want, sizeof want, "expected/%s", corpus[i]);
        check_case(in, want, &o);
        cr_expect_eq(f.build_calls, 1, "%s: one build for all references", corpus[i]);
    }
}

Test(resolve, whole_corpus_builds_each_reference_once)
{
    struct kf_resolve_opts o;
    struct fake f;
    struct kf_resolve_input in[N_CORPUS];
    struct kf_resolve_result res;
    char err[KF_ERRLEN];
    char *data[N_CORPUS];
    fake_opts(&o, &f);
    for (size_t i = 0; i < N_CORPUS; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "cases/%s", corpus[i]);
        data[i] = read_fixture(rel);
        in[i] = (struct kf_resolve_input){corpus[i], (const unsigned char *)data[i], strlen(data[i])};
    }
    cr_assert_eq(kf_resolve_with(&o, in, N_CORPUS, &res, err), 0, "%s", err);
    cr_expect_eq(f.build_calls, 1);
    cr_expect_eq(f.built, 2, "two unique import paths: %s", f.seen);
    cr_expect_eq(res.n_refs, 2);
    cr_expect_str_eq(res.refs[0].value, "example.com/hello/cmd/app", "first seen first");
    cr_expect_eq(res.refs[0].kind, KF_RESOLVE_KO);
    cr_expect_str_eq(res.refs[0].where, "anchors.yaml:4:10");
    cr_expect_eq(res.refs[0].uses, 20, "every occurrence counted");
    cr_expect_eq(res.refs[1].uses, 14);
    cr_expect_eq(res.n_docs_in, res.n_docs_out);
    cr_expect_eq(res.n_docs_in, 16);
    /* every expected file appears in order, in full */
    const char *p = (const char *)res.yaml;
    for (size_t i = 0; i < N_CORPUS; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "expected/%s", corpus[i]);
        char *raw = read_fixture(rel), *want = expand(raw);
        const char *at = strstr(p, want);
        cr_expect_not_null(at, "%s not found in order", corpus[i]);
        if (at)
            p = at + strlen(want);
        free(raw);
        free(want);
    }
    kf_resolve_result_free(&res);
    for (size_t i = 0; i < N_CORPUS; i++)
        free(data[i]);
}

Test(resolve, knative_serving_corpus)
{
    struct kf_resolve_opts o;
    struct fake f;
    fake_opts(&o, &f);
    check_case("knative-serving/config/controller.yaml", "knative-serving/expected.yaml", &o);
}

Test(resolve, tekton_2018_needs_non_strict)
{
    struct kf_resolve_opts o;
    struct fake f;
    char err[KF_ERRLEN], *got = NULL;
    fake_opts(&o, &f);
    char *in = read_fixture("build-pipeline/config/controller.yaml");
    cr_assert_eq(resolve_str(&o, "tekton.yaml", in, &got, err), 0, "%s", err);
    cr_expect_str_eq(got, in, "strict: bare import paths are left alone, byte for byte");
    cr_expect_eq(f.build_calls, 0, "nothing to build");
    free(got);

    static const char *const mains[] = {
        "github.com/knative/build-pipeline/cmd/kubeconfigwriter", "github.com/knative/build-pipeline/cmd/controller",
    };
    o.strict = 0;
    o.main_packages = mains;
    o.n_main_packages = 2;
    check_case("build-pipeline/config/controller.yaml", "build-pipeline/expected.yaml", &o);
    free(in);
}

Test(resolve, non_strict_only_main_packages)
{
    struct kf_resolve_opts o;
    struct fake f;
    char err[KF_ERRLEN], *got = NULL;
    static const char *const mains[] = {"example.com/m/cmd/a"};
    fake_opts(&o, &f);
    o.strict = 0;
    o.main_packages = mains;
    o.n_main_packages = 1;
    const char *in = "a: example.com/m/cmd/a\nb: example.com/m/pkg/lib\nexample.com/m/cmd/a: key\n"
                     "c: example.com/m/cmd/a/\nd: ko://example.com/m/cmd/a\n";
    cr_assert_eq(resolve_str(&o, "x", in, &got, err), 0, "%s", err);
    char *want = expand("a: <<KO:example.com/m/cmd/a>>\nb: example.com/m/pkg/lib\nexample.com/m/cmd/a: key\n"
                        "c: example.com/m/cmd/a/\nd: <<KO:example.com/m/cmd/a>>\n");
    cr_expect_str_eq(got, want);
    cr_expect_eq(f.built, 1, "bare and ko:// forms of one path are built once");
    free(want);
    free(got);
}

Test(resolve, no_references_is_identity)
{
    struct kf_resolve_opts o;
    struct fake f;
    char err[KF_ERRLEN], *got = NULL;
    fake_opts(&o, &f);
    const char *in = "# only a comment\r\na:   [1, 2,  {b: c}]   # x\r\n---\r\n\"q\": 'ko:/not'\r\n...\r\n";
    cr_assert_eq(resolve_str(&o, "x", in, &got, err), 0, "%s", err);
    cr_expect_str_eq(got, in);
    cr_expect_eq(f.build_calls, 0);
    free(got);
}

Test(resolve, utf8_bom_kept)
{
    struct kf_resolve_opts o;
    struct fake f;
    char err[KF_ERRLEN], *got = NULL;
    fake_opts(&o, &f);
    const char *in = "\xEF\xBB\xBF# bom\nname: \xC3\xA9\xE2\x82\xAC\xF0\x9F\x9A\x80\nimage: ko://example.com/x\n";
    cr_assert_eq(resolve_str(&o, "x", in, &got, err), 0, "%s", err);
    char *want = expand("\xEF\xBB\xBF# bom\nname: \xC3\xA9\xE2\x82\xAC\xF0\x9F\x9A\x80\nimage: <<KO:example.com/x>>\n");
    cr_expect_str_eq(got, want);
    free(want);
    free(got);
}

/* Separators are added only where joining files needs them. */
Test(resolve, joining_files)
{
    struct kf_resolve_opts o;
    struct fake f;
    struct kf_resolve_result res;
    char err[KF_ERRLEN];
    fake_opts(&o, &f);
    const char *a = "a: 1", *b = "# header of b\nb: 2\n", *c = "# header of c\n---\nc: 3\n", *d = "",
               *e = "x: 1\n...\n", *g = "%YAML 1.1\n---\ng: ko://example.com/g\n",
               *h = "h: 1\r\ni: 2\r\n";
    struct kf_resolve_input in[] = {
        {"a", (const unsigned char *)a, strlen(a)}, {"b", (const unsigned char *)b, strlen(b)},
        {"c", (const unsigned char *)c, strlen(c)}, {"d", (const unsigned char *)d, 0},
        {"e", (const unsigned char *)e, strlen(e)}, {"g", (const unsigned char *)g, strlen(g)},
        {"h", (const unsigned char *)h, strlen(h)},
    };
    cr_assert_eq(kf_resolve_with(&o, in, 7, &res, err), 0, "%s", err);
    char *want = expand("a: 1\n---\n# header of b\nb: 2\n# header of c\n---\nc: 3\n---\nx: 1\n...\n%YAML 1.1\n---\n"
                        "g: <<KO:example.com/g>>\n---\r\nh: 1\r\ni: 2\r\n");
    cr_expect_str_eq((const char *)res.yaml, want);
    cr_expect_eq(res.n_docs_in, 6);
    free(want);
    kf_resolve_result_free(&res);
}

Test(resolve, pin_tags)
{
    struct kf_resolve_opts o;
    struct fake f;
    char err[KF_ERRLEN], *got = NULL;
    const char *digest = "sha256:0123456789012345678901234567890123456789012345678901234567890123";
    char in[2048], want_raw[2048];
    fake_opts(&o, &f);
    o.pin_tags = 1;
    snprintf(in, sizeof in,
             "containers:\n- image: nginx:1.25\n- image: \"docker.io/library/nginx:1.25\"\n- image: nginx@%s\n"
             "- image: busybox\n- image: \"{{ .Values.image }}\"\n- image: ko://example.com/app\n"
             "- image: nginx:1.25 # again\n- name: nginx:1.25\n- {image: 'localhost:5000/a/b:v1'}\n",
             digest);
    snprintf(want_raw, sizeof want_raw,
             "containers:\n- image: <<PIN:nginx:1.25>>\n- image: \"<<PIN:docker.io/library/nginx:1.25>>\"\n"
             "- image: nginx@%s\n- image: <<PIN:busybox>>\n- image: \"{{ .Values.image }}\"\n"
             "- image: <<KO:example.com/app>>\n- image: <<PIN:nginx:1.25>> # again\n- name: nginx:1.25\n"
             "- {image: '<<PIN:localhost:5000/a/b:v1>>'}\n",
             digest);
    cr_assert_eq(resolve_str(&o, "x", in, &got, err), 0, "%s", err);
    char *want = expand(want_raw);
    cr_expect_str_eq(got, want);
    cr_expect_eq(f.pin_calls, 1);
    cr_expect_eq(f.pinned, 4, "unique tags, pinned once each: %s", f.seen);
    free(want);
    free(got);

    o.pin_tags = 0;
    fake_opts(&o, &f);
    cr_assert_eq(resolve_str(&o, "x", "image: nginx:1.25\n", &got, err), 0, "%s", err);
    cr_expect_str_eq(got, "image: nginx:1.25\n", "without --pin-tags tags stay");
    cr_expect_eq(f.pin_calls, 0);
    free(got);
}

struct rewrite_case {
    const char *src;
    enum kf_rs_style style;
    const char *want;
};

Test(resolve, rewrite_each_style)
{
    static const struct rewrite_case cases[] = {
        {"ko://x", KF_RS_PLAIN, "R"},
        {"'ko://x'", KF_RS_SINGLE, "'R'"},
        {"\"ko:\\/\\/x \"", KF_RS_DOUBLE, "\"R\""},
        {"|\n  ko://x\n", KF_RS_LITERAL, "|-\n  R\n"},
        {"|+ # c ko://x\n  ko://x\n\n", KF_RS_LITERAL, "|- # c ko://x\n  R\n\n"},
        {"|2-\n    ko://x\n", KF_RS_LITERAL, "|2-\n    R\n"},
        {"|-2\r\n    ko://x\r\n", KF_RS_LITERAL, "|2-\r\n    R\r\n"},
        {">\n  ko://x\n", KF_RS_FOLDED, ">-\n  R\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct kf_buf out;
        kf_buf_init(&out, 0);
        int rc = kf_rs_rewrite((const unsigned char *)cases[i].src, strlen(cases[i].src), cases[i].style, "ko://x",
                               "R", &out);
        cr_assert_eq(rc, 0, "case %zu", i);
        cr_assert_eq(kf_buf_reserve(&out, 0), 0);
        cr_expect_str_eq((const char *)out.data, cases[i].want, "case %zu", i);
        kf_buf_free(&out);
    }
    struct kf_buf out;
    kf_buf_init(&out, 0);
    cr_expect_eq(kf_rs_rewrite((const unsigned char *)"'x'", 3, KF_RS_SINGLE, "x", "it's \"a\\b\"", &out), 0);
    cr_assert_eq(kf_buf_reserve(&out, 0), 0);
    cr_expect_str_eq((const char *)out.data, "'it''s \"a\\b\"'");
    kf_buf_reset(&out);
    cr_expect_eq(kf_rs_rewrite((const unsigned char *)"\"x\"", 3, KF_RS_DOUBLE, "x", "it's \"a\\b\"\n", &out), 0);
    cr_assert_eq(kf_buf_reserve(&out, 0), 0);
    cr_expect_str_eq((const char *)out.data, "\"it's \\\"a\\\\b\\\"\\x0a\"");
    kf_buf_free(&out);
}
