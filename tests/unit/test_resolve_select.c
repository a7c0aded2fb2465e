/* Label selectors: parsing (kubectl's grammar, its errors) and matching,
 * table-driven; then selection of documents in a stream. */
#include "resolve_fake.h"
#include "resolve_select.h"

struct match_case {
    const char *selector;
    const char *labels; /* "k=v,k2=v2" ("" for none) */
    int want;
};

static const struct match_case match_cases[] = {
    {"", "", 1},
    {"", "app=x", 1},
    {"app=x", "app=x", 1},
    {"app==x", "app=x", 1},
    {"app = x", "app=x", 1},
    {"app=x", "app=y", 0},
    {"app=x", "", 0},
    {"app!=x", "app=y", 1},
    {"app!=x", "", 1},
    {"app!=x", "app=x", 0},
    {"app", "app=", 1},
    {"app", "other=x", 0},
    {"!app", "other=x", 1},
    {"!app", "app=x", 0},
    {"tier in (a,b)", "tier=b", 1},
    {"tier in (a, b)", "tier=c", 0},
    {"tier in (a,b)", "", 0},
    {"tier notin (a,b)", "tier=c", 1},
    {"tier notin (a,b)", "", 1},
    {"tier notin (a,b)", "tier=a", 0},
    {"tier in (a,)", "tier=", 1},
    {"app=x,tier in (a,b)", "app=x,tier=a", 1},
    {"app=x,tier in (a,b)", "app=x,tier=c", 0},
    {"app=x, !canary", "app=x,canary=true", 0},
    {"app=x,!canary", "app=x", 1},
    {"app=", "app=", 1},
    {"app=", "app=x", 0},
    {"example.com/team=core", "example.com/team=core", 1},
    {"replicas>2", "replicas=3", 1},
    {"replicas>2", "replicas=2", 0},
    {"replicas<2", "replicas=1", 1},
    {"replicas<2", "replicas=abc", 0},
    {"app in (in,notin)", "app=notin", 1},
    {"app=x", "app=x,app=y", 1}, /* the first of a repeated key */
};

static size_t split_labels(char *text, const char **keys, const char **values)
{
    size_t n = 0;
    for (char *tok = text; tok && *tok;) {
        char *comma = strchr(tok, ',');
        if (comma)
            *comma = 0;
        char *eq = strchr(tok, '=');
        *eq = 0;
        keys[n] = tok;
        values[n++] = eq + 1;
        tok = comma ? comma + 1 : NULL;
    }
    return n;
}

Test(selector, matches)
{
    for (size_t i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++) {
        const struct match_case *c = &match_cases[i];
        struct kf_selector *s = NULL;
        char err[KF_ERRLEN], text[256];
        const char *keys[8], *values[8];
        snprintf(text, sizeof text, "%s", c->labels);
        size_t n = split_labels(text, keys, values);
        cr_assert_eq(kf_selector_parse(c->selector, &s, err), 0, "\"%s\": %s", c->selector, err);
        cr_expect_eq(kf_selector_match(s, keys, values, n), c->want, "\"%s\" on {%s}", c->selector, c->labels);
        kf_selector_free(s);
    }
}

struct bad_case {
    const char *selector;
    const char *message;
};

static const struct bad_case bad_cases[] = {
    {"app=x,", "expected a requirement after ','"},
    {",app", "expected a label key"},
    {"app in a,b", "expected '(' after in/notin"},
    {"app in ()", "at least one value"},
    {"app in (a b)", "expected ',' or ')'"},
    {"app in (a", "expected a value, ',' or ')'"},
    {"app x", "expected an operator"},
    {"app=x y", "expected ',' or the end"},
    {"-app=x", "invalid label key"},
    {"app=-x", "invalid label value"},
    {"Example.com/app=x", "invalid label key"},
    {"a/b/c=x", "invalid label key"},
    {"app=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "invalid label value"},
    {"replicas>x", "expected an integer"},
    {"!app=x", "expected ',' or the end"},
    {"app=(x)", "expected a value"},
    {"!", "expected a label key"},
};

Test(selector, rejects)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        struct kf_selector *s = NULL;
        char err[KF_ERRLEN] = "";
        cr_expect_eq(kf_selector_parse(bad_cases[i].selector, &s, err), KF_EINVAL, "\"%s\" accepted",
                     bad_cases[i].selector);
        cr_expect_null(s);
        cr_expect(strstr(err, bad_cases[i].message) != NULL, "\"%s\": %s", bad_cases[i].selector, err);
        cr_expect(strstr(err, "label selector \"") != NULL, "the message quotes the selector: %s", err);
    }
}

Test(selector, counts)
{
    struct kf_selector *s = NULL;
    char err[KF_ERRLEN];
    cr_assert_eq(kf_selector_parse(NULL, &s, err), 0);
    cr_expect_eq(kf_selector_count(s), 0);
    kf_selector_free(s);
    cr_assert_eq(kf_selector_parse(" a , b in (c) ,!d ", &s, err), 0, "%s", err);
    cr_expect_eq(kf_selector_count(s), 3);
    kf_selector_free(s);
    cr_expect_eq(kf_selector_match(NULL, NULL, NULL, 0), 1);
}

struct doc_case {
    const char *selector;
    const char *want_names; /* the kept documents' names, in order */
    size_t built;
};

/* select/selector.yaml: web (app=web,tier=frontend), worker (app=worker,
 * tier=backend), unlabelled (references a missing package). */
static const struct doc_case doc_cases[] = {
    {"tier", "web worker", 2},
    {"app=web", "web", 1},
    {"tier notin (frontend)", "worker unlabelled", 2},
    {"app in (worker,web),tier!=frontend", "worker", 1},
    {"!tier", "unlabelled", 1},
    {"nope", "", 0},
};

Test(selector, selects_documents)
{
    char *in = read_fixture("select/selector.yaml");
    for (size_t i = 0; i < sizeof doc_cases / sizeof doc_cases[0]; i++) {
        struct kf_resolve_opts o;
        struct fake f;
        char err[KF_ERRLEN], *got = NULL, names[256] = "";
        fake_opts(&o, &f);
        o.selector = doc_cases[i].selector;
        cr_assert_eq(resolve_str(&o, "selector.yaml", in, &got, err), 0, "%s: %s", o.selector, err);
        for (const char *p = got; (p = strstr(p, "\n  name: "));) {
            p += 9;
            size_t len = strcspn(p, "\n");
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%.*s", names[0] ? " " : "", (int)len,
                     p);
        }
        cr_expect_str_eq(names, doc_cases[i].want_names, "%s", o.selector);
        cr_expect_eq(f.built, doc_cases[i].built, "%s: only the kept documents' references are built (%s)",
                     o.selector, f.seen);
        free(got);
    }
    free(in);
}

Test(selector, kept_documents_are_byte_exact)
{
    struct kf_resolve_opts o;
    struct fake f;
    char err[KF_ERRLEN], *got = NULL;
    fake_opts(&o, &f);
    const char *in = "# head\n---\nmetadata: {name: a, labels: {x: '1'}}\n# tail of a\n---\n"
                     "metadata:\n  name: b\n  labels:\n    x: \"2\"\n---\nmetadata: {name: c, labels: {x: '1'}}\n";
    o.selector = "x=1";
    cr_assert_eq(resolve_str(&o, "s", in, &got, err), 0, "%s", err);
    cr_expect_str_eq(got, "# head\n---\nmetadata: {name: a, labels: {x: '1'}}\n# tail of a\n---\n"
                          "metadata: {name: c, labels: {x: '1'}}\n");
    free(got);
    o.selector = "x=2";
    cr_assert_eq(resolve_str(&o, "s", in, &got, err), 0, "%s", err);
    cr_expect_str_eq(got, "# head\n---\nmetadata:\n  name: b\n  labels:\n    x: \"2\"\n", "the preamble stays");
    free(got);
}

Test(selector, labels_through_anchors_and_merges)
{
    struct kf_resolve_opts o;
    struct fake f;
    char err[KF_ERRLEN], *got = NULL;
    fake_opts(&o, &f);
    const char *in = "base: &common {team: core, tier: web}\nname: &n api\n"
                     "metadata:\n  labels:\n    <<: *common\n    tier: api\n    app: *n\n";
    o.selector = "team=core,tier=api,app=api";
    cr_assert_eq(resolve_str(&o, "s", in, &got, err), 0, "%s", err);
    cr_expect_str_eq(got, in, "merge and alias count; explicit labels win over merged ones");
    free(got);
    o.selector = "tier=web";
    cr_assert_eq(resolve_str(&o, "s", in, &got, err), 0, "%s", err);
    cr_expect_str_eq(got, "");
    free(got);
    const char *whole = "x: &l {app: a}\nmetadata: {labels: *l}\n";
    o.selector = "app=a";
    cr_assert_eq(resolve_str(&o, "s", whole, &got, err), 0, "%s", err);
    cr_expect_str_eq(got, whole, "labels: *anchor");
    free(got);
    const char *nested = "spec:\n  metadata:\n    labels: {app: a}\n";
    cr_assert_eq(resolve_str(&o, "s", nested, &got, err), 0, "%s", err);
    cr_expect_str_eq(got, "", "only the top-level metadata counts");
    free(got);
}

Test(selector, invalid_selector_fails_first)
{
    struct kf_resolve_opts o;
    struct fake f;
    char err[KF_ERRLEN], *got = NULL;
    fake_opts(&o, &f);
    o.selector = "app in";
    cr_expect_eq(resolve_str(&o, "s", "a: ko://x/y\n", &got, err), KF_EINVAL);
    cr_expect(strstr(err, "label selector") != NULL, "%s", err);
    cr_expect_eq(f.build_calls, 0);
}
