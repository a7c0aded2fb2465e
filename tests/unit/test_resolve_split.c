/* The parallel scan of a large stream (resolve_split.c) must give what one
 * sequential scan gives: the same documents, sites, references (values,
 * first places, uses) and errors, whatever the cut points. */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "resolve_internal.h"

/* ~10 MB of documents: references (some repeated across the cut points),
 * anchors and aliases, comments, flow style, a block scalar, CRLF lines;
 * one document per 97 carries a label the selector drops. */
static void make_stream(struct kf_buf *b, const char *tail)
{
    kf_buf_init(b, (size_t)64 << 20);
    for (unsigned i = 0; b->len < ((size_t)10 << 20); i++) {
        cr_assert_eq(kf_buf_appendf(b,
                                    "# document %u\r\n"
                                    "apiVersion: v1\r\n"
                                    "kind: Pod\r\n"
                                    "metadata:\r\n"
                                    "  name: p%u\r\n"
                                    "  labels: &l%u {app: a%u, tier: %s}\r\n"
                                    "spec:\r\n"
                                    "  containers:\r\n"
                                    "  - image: ko://example.com/m/cmd/c%u\r\n"
                                    "    args: [\"x\", 'y', *l%u]\r\n"
                                    "    note: |\r\n"
                                    "      --- not a marker: indented\r\n"
                                    "  - image: \"ko://example.com/m/cmd/q%u\"\r\n"
                                    "---\r\n",
                                    i, i, i, i % 7, i % 97 ? "web" : "batch", i % 23, i, i % 5),
                     0);
    }
    cr_assert_eq(kf_buf_append_str(b, tail), 0);
}

static void same_scan(const char *tail, const char *selector_text)
{
    struct kf_buf b;
    make_stream(&b, tail);
    struct kf_selector *sel = NULL;
    char err_a[KF_ERRLEN] = "", err_b[KF_ERRLEN] = "";
    cr_assert_eq(kf_selector_parse(selector_text, &sel, err_a), 0, "%s", err_a);
    struct kf_rs_scan_opts o = {.strict = 1, .selector = kf_selector_count(sel) ? sel : NULL};
    o.limits = (struct kf_resolve_limits){(size_t)1 << 30, (size_t)16 << 20, 1000000, 10000, 512, 512, 1000000};
    struct kf_rs_file a = {.name = "big.yaml", .data = b.data, .len = b.len};
    struct kf_rs_file c = a;
    struct kf_rs_table ta = {0}, tc = {0};
    size_t sa = 0, sc = 0;
    int ra = kf_rs_scan(&o, &a, &ta, &sa, err_a);
    int rc = kf_rs_scan_input(&o, &c, &tc, &sc, err_b);
    cr_expect_eq(ra, rc);
    cr_expect_str_eq(err_a, err_b);
    if (ra == 0) {
        cr_expect_eq(a.n_docs, c.n_docs);
        cr_expect_eq(a.n_docs_read, c.n_docs_read);
        cr_expect_eq(a.n_sites, c.n_sites);
        cr_expect_eq(a.preamble_end, c.preamble_end);
        cr_expect_eq(a.crlf, c.crlf);
        cr_expect_eq(sa, sc);
        for (size_t i = 0; i < a.n_docs && i < c.n_docs; i++) {
            const struct kf_rs_doc *x = &a.docs[i], *y = &c.docs[i];
            cr_expect(x->cut == y->cut && x->end == y->end && x->first_site == y->first_site &&
                          x->n_sites == y->n_sites && x->explicit_start == y->explicit_start &&
                          x->explicit_end == y->explicit_end && x->has_directives == y->has_directives,
                      "document %zu", i);
        }
        for (size_t i = 0; i < a.n_sites && i < c.n_sites; i++) {
            const struct kf_rs_site *x = &a.sites[i], *y = &c.sites[i];
            cr_expect(x->start == y->start && x->end == y->end && x->ref == y->ref && x->style == y->style &&
                          x->ko_scheme == y->ko_scheme,
                      "site %zu", i);
        }
        cr_assert_eq(ta.n, tc.n);
        for (size_t i = 0; i < ta.n; i++) {
            cr_expect_str_eq(ta.refs[i].value, tc.refs[i].value);
            cr_expect_str_eq(ta.refs[i].where, tc.refs[i].where);
            cr_expect_eq(ta.refs[i].uses, tc.refs[i].uses, "%s", ta.refs[i].value);
            cr_expect_eq(ta.refs[i].kind, tc.refs[i].kind);
        }
    }
    kf_rs_file_free(&a);
    kf_rs_file_free(&c);
    kf_rs_table_free(&ta);
    kf_rs_table_free(&tc);
    kf_selector_free(sel);
    kf_buf_free(&b);
}

Test(split, large_stream_scans_as_one)
{
    cr_assert_gt(sysconf(_SC_NPROCESSORS_ONLN), 1, "the parallel path needs two CPUs to be tested");
    same_scan("last: ko://example.com/m/cmd/tail\r\n", "");
}

Test(split, selector_across_parts)
{
    same_scan("", "tier!=batch");
}

Test(split, an_error_late_in_the_stream_names_its_line)
{
    same_scan("broken: [\r\n", "");
}

Test(split, too_many_references_over_all_parts)
{
    struct kf_buf b;
    make_stream(&b, "");
    struct kf_rs_scan_opts o = {.strict = 1};
    o.limits = (struct kf_resolve_limits){(size_t)1 << 30, (size_t)16 << 20, 1000000, 10000, 512, 20, 1000000};
    struct kf_rs_file f = {.name = "big.yaml", .data = b.data, .len = b.len};
    struct kf_rs_table t = {0};
    size_t sites = 0;
    char err[KF_ERRLEN];
    cr_expect_eq(kf_rs_scan_input(&o, &f, &t, &sites, err), KF_ETOOBIG);
    cr_expect(strstr(err, "more than 20 different references"), "%s", err);
    kf_rs_file_free(&f);
    kf_rs_table_free(&t);
    kf_buf_free(&b);
}
