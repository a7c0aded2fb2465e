/* kf_ref: image reference parsing by the distribution grammar. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct good_case {
    const char *in;
    const char *registry, *repository, *tag, *digest;
    const char *name; /* kf_ref_name */
};

static const struct good_case good[] = {
    {"alpine", "index.docker.io", "library/alpine", NULL, NULL, "index.docker.io/library/alpine:latest"},
    {"alpine:3.19", "index.docker.io", "library/alpine", "3.19", NULL, "index.docker.io/library/alpine:3.19"},
    {"docker.io/alpine", "index.docker.io", "library/alpine", NULL, NULL, "index.docker.io/library/alpine:latest"},
    {"docker.io/library/alpine", "index.docker.io", "library/alpine", NULL, NULL,
     "index.docker.io/library/alpine:latest"},
    {"index.docker.io/alpine", "index.docker.io", "library/alpine", NULL, NULL,
     "index.docker.io/library/alpine:latest"},
    {"user/app", "index.docker.io", "user/app", NULL, NULL, "index.docker.io/user/app:latest"},
    {"cgr.dev/chainguard/static:latest", "cgr.dev", "chainguard/static", "latest", NULL,
     "cgr.dev/chainguard/static:latest"},
    {"gcr.io/distroless/static:nonroot", "gcr.io", "distroless/static", "nonroot", NULL,
     "gcr.io/distroless/static:nonroot"},
    {"127.0.0.1:5000/x", "127.0.0.1:5000", "x", NULL, NULL, "127.0.0.1:5000/x:latest"},
    {"127.0.0.1:5000/a/b-c_d.e__f:v1.2-rc_3", "127.0.0.1:5000", "a/b-c_d.e__f", "v1.2-rc_3", NULL,
     "127.0.0.1:5000/a/b-c_d.e__f:v1.2-rc_3"},
    {"localhost/app", "localhost", "app", NULL, NULL, "localhost/app:latest"},
    {"localhost:5000/app:_x", "localhost:5000", "app", "_x", NULL, "localhost:5000/app:_x"},
    {"a--b/c", "index.docker.io", "a--b/c", NULL, NULL, "index.docker.io/a--b/c:latest"},
    {"Registry.Example.com/app", "Registry.Example.com", "app", NULL, NULL, "Registry.Example.com/app:latest"},
    {"[::1]:5000/app", "[::1]:5000", "app", NULL, NULL, "[::1]:5000/app:latest"},
    {"cgr.dev/x@sha256:" D64, "cgr.dev", "x", NULL, "sha256:" D64, "cgr.dev/x@sha256:" D64},
    {"cgr.dev/x:v1@sha256:" D64, "cgr.dev", "x", "v1", "sha256:" D64, "cgr.dev/x@sha256:" D64},
    {"alpine@sha256:" D64, "index.docker.io", "library/alpine", NULL, "sha256:" D64,
     "index.docker.io/library/alpine@sha256:" D64},
    /* a lone host:port is Docker Hub's "localhost" with tag 5000, as docker reads it */
    {"localhost:5000", "index.docker.io", "library/localhost", "5000", NULL,
     "index.docker.io/library/localhost:5000"},
    {"ko.local", "index.docker.io", "library/ko.local", NULL, NULL, "index.docker.io/library/ko.local:latest"},
};

static void expect_field(const char *got, const char *want, const char *field, const char *in)
{
    if (!want)
        cr_expect_null(got, "%s of %s: got %s", field, in, got);
    else
        cr_expect(got && strcmp(got, want) == 0, "%s of %s: got %s, want %s", field, in, got ? got : "(null)",
                  want);
}

Test(ref, parses_good_references)
{
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const struct good_case *c = &good[i];
        struct kf_ref r;
        char err[KF_ERRLEN] = "";
        int rc = kf_ref_parse(c->in, &r, err);
        cr_expect_eq(rc, 0, "%s: %s", c->in, err);
        if (rc)
            continue;
        expect_field(r.registry, c->registry, "registry", c->in);
        expect_field(r.repository, c->repository, "repository", c->in);
        expect_field(r.tag, c->tag, "tag", c->in);
        expect_field(r.digest, c->digest, "digest", c->in);
        char *name = kf_ref_name(&r);
        expect_field(name, c->name, "name", c->in);
        free(name);
        kf_ref_free(&r);
    }
}

static const char *const bad[] = {
    "",
    " alpine",
    "alpine ",
    "al pine",
    "alpine\n",
    "-alpine",
    "Alpine",
    "user/App",
    "cgr.dev/Chainguard/static",
    "a..b",
    "a/../b",
    "a/./b",
    "a//b",
    "a/",
    "/a",
    "cgr.dev/",
    "cgr.dev//x",
    "x_",
    "x-",
    "_x",
    ".x",
    "a___b",
    "a_-b",
    "alpine:",
    "alpine:-v1",
    "alpine:.v1",
    "alpine:v1/x",
    "alpine:v1:v2",
    "alpine:" "x12345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678"
    "9012345678901234567890123456789",
    "alpine@",
    "alpine@sha256:abc",
    "alpine@sha256:" D64 "0",
    "alpine@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
    "alpine@sha512:" D64,
    "alpine@md5:0123",
    "@sha256:" D64,
    ":tag",
    "-cgr.dev/x",
    "cgr-.dev/x",
    "cgr..dev/x",
    "cgr.dev:0/x",
    "cgr.dev:65536/x",
    "cgr.dev:12a/x",
    "cgr.dev:/x",
    "host_name.io/x",
    "[zz::1]:5000/x",
    "caf\xc3\xa9.io/x",
    "a\x01b",
};

Test(ref, rejects_bad_references)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct kf_ref r;
        char err[KF_ERRLEN] = "";
        int rc = kf_ref_parse(bad[i], &r, err);
        cr_expect_eq(rc, KF_EINVAL, "case %zu \"%s\" parsed (rc %d)", i, bad[i], rc);
        cr_expect_neq(err[0], 0, "case %zu: no message", i);
        cr_expect_null(r.registry, "case %zu: fields left set", i);
        kf_ref_free(&r);
    }
}

Test(ref, rejects_overlong_names)
{
    char s[400] = "r.io/";
    memset(s + 5, 'a', 251);
    s[256] = 0; /* 256 bytes: one over */
    struct kf_ref r;
    char err[KF_ERRLEN];
    cr_expect_eq(kf_ref_parse(s, &r, err), KF_EINVAL);
    cr_expect(strstr(err, "255"), "%s", err);
    s[255] = 0; /* exactly 255 */
    cr_expect_eq(kf_ref_parse(s, &r, err), 0, "%s", err);
    kf_ref_free(&r);
    char huge[3000];
    memset(huge, 'a', sizeof huge - 1);
    huge[sizeof huge - 1] = 0;
    cr_expect_eq(kf_ref_parse(huge, &r, err), KF_EINVAL);
}

Test(ref, parse_repo)
{
    struct {
        const char *in;
        int rc;
        const char *registry, *repository, *msg;
    } cases[] = {
        {"127.0.0.1:5000/x", 0, "127.0.0.1:5000", "x", NULL},
        {"registry.example.com/team/app-0123", 0, "registry.example.com", "team/app-0123", NULL},
        {"user/app", 0, "index.docker.io", "user/app", NULL},
        {"ko.local", 0, "index.docker.io", "library/ko.local", NULL},
        {"ko.local/app", 0, "ko.local", "app", NULL},
        {"127.0.0.1:5000", KF_EINVAL, NULL, NULL, "registry host"},
        {"localhost", KF_EINVAL, NULL, NULL, "registry host"},
        {"127.0.0.1:5000/x:v1", KF_EINVAL, NULL, NULL, "no tag"},
        {"app:v1", KF_EINVAL, NULL, NULL, "no tag"},
        {"127.0.0.1:5000/x@sha256:" D64, KF_EINVAL, NULL, NULL, "no digest"},
        {"127.0.0.1:5000/X", KF_EINVAL, NULL, NULL, "lowercase"},
        {"", KF_EINVAL, NULL, NULL, "empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct kf_ref r;
        char err[KF_ERRLEN] = "";
        int rc = kf_ref_parse_repo(cases[i].in, &r, err);
        cr_expect_eq(rc, cases[i].rc, "%s: rc %d (%s)", cases[i].in, rc, err);
        if (cases[i].rc == 0 && rc == 0) {
            cr_expect_str_eq(r.registry, cases[i].registry, "%s", cases[i].in);
            cr_expect_str_eq(r.repository, cases[i].repository, "%s", cases[i].in);
            cr_expect_null(r.tag);
            cr_expect_null(r.digest);
        }
        if (cases[i].msg)
            cr_expect(strstr(err, cases[i].msg), "%s: message \"%s\" lacks \"%s\"", cases[i].in, err, cases[i].msg);
        kf_ref_free(&r);
    }
}

Test(ref, copy_name_and_defaults)
{
    struct kf_ref r, c;
    char err[KF_ERRLEN];
    cr_assert_eq(kf_ref_parse("cgr.dev/chainguard/static:v2@sha256:" D64, &r, err), 0, "%s", err);
    cr_assert_eq(kf_ref_copy(&r, &c, err), 0);
    cr_expect_str_eq(c.registry, "cgr.dev");
    cr_expect_str_eq(c.repository, "chainguard/static");
    cr_expect_str_eq(c.tag, "v2");
    cr_expect_str_eq(c.digest, "sha256:" D64);
    cr_expect_neq(c.registry, r.registry, "copy shares memory");
    char *repo = kf_ref_repo_name(&c);
    cr_expect_str_eq(repo, "cgr.dev/chainguard/static");
    free(repo);
    kf_ref_free(&r);
    kf_ref_free(&r); /* twice is harmless */
    kf_ref_free(&c);

    cr_assert_eq(kf_ref_parse("alpine", &r, err), 0);
    cr_expect_null(r.tag, "parse must not invent a tag");
    cr_expect_str_eq(kf_ref_tag_or_latest(&r), "latest");
    cr_assert_eq(kf_ref_copy(&r, &c, err), 0);
    cr_expect_null(c.tag);
    cr_expect_null(c.digest);
    kf_ref_free(&r);
    kf_ref_free(&c);
}

Test(ref, tag_valid)
{
    cr_expect(kf_ref_tag_valid("latest"));
    cr_expect(kf_ref_tag_valid("_"));
    cr_expect(kf_ref_tag_valid("V1.2-rc.3_x"));
    char t[130];
    memset(t, 'a', 128);
    t[128] = 0;
    cr_expect(kf_ref_tag_valid(t));
    t[128] = 'a';
    t[129] = 0;
    cr_expect_not(kf_ref_tag_valid(t));
    cr_expect_not(kf_ref_tag_valid(""));
    cr_expect_not(kf_ref_tag_valid(NULL));
    cr_expect_not(kf_ref_tag_valid("-x"));
    cr_expect_not(kf_ref_tag_valid(".x"));
    cr_expect_not(kf_ref_tag_valid("a b"));
    cr_expect_not(kf_ref_tag_valid("a/b"));
    cr_expect_not(kf_ref_tag_valid("sha256:" D64));
}
