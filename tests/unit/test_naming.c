#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "naming.h"

struct name_case {
    const char *repo, *importpath;
    enum kf_naming naming;
    const char *want;
};

static const struct name_case name_cases[] = {
    {"registry.example.com/repo", "github.com/u/r/cmd/app", KF_NAMING_MD5,
     "registry.example.com/repo/app-4200d284d61826395ff451845e33cfd3"},
    {"registry.example.com/repo", "ko://github.com/u/r/cmd/app", KF_NAMING_MD5,
     "registry.example.com/repo/app-4200d284d61826395ff451845e33cfd3"},
    /* ko lowercases before hashing */
    {"r.io/x", "github.com/U/R/cmd/App", KF_NAMING_MD5, "r.io/x/app-4200d284d61826395ff451845e33cfd3"},
    {"registry.example.com/repo", "github.com/u/r/cmd/app", KF_NAMING_BASE, "registry.example.com/repo/app"},
    {"registry.example.com/repo", "github.com/u/r/cmd/app", KF_NAMING_PRESERVE,
     "registry.example.com/repo/github.com/u/r/cmd/app"},
    {"registry.example.com/repo", "github.com/u/r/cmd/app", KF_NAMING_BARE, "registry.example.com/repo"},
    {"127.0.0.1:5000/a/", "example.com/hello/cmd/app", KF_NAMING_MD5,
     "127.0.0.1:5000/a/app-f9811d3937ed378c61564ae7f6bbd95d"},
};

Test(naming, image_names)
{
    for (size_t i = 0; i < sizeof name_cases / sizeof name_cases[0]; i++) {
        const struct name_case *c = &name_cases[i];
        char *got = kf_naming_image_name(c->repo, c->importpath, c->naming);
        cr_assert_not_null(got);
        cr_expect_str_eq(got, c->want, "case %zu: %s", i, c->importpath);
        free(got);
    }
}

Test(naming, app_filename)
{
    const char *cases[][2] = {
        {"example.com/hello/cmd/app", "app"}, {"ko://example.com/x/server", "server"}, {".", "app"},
        {"/", "app"}, {"example.com/x/", "x"}, {"tool", "tool"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = kf_naming_app_filename(cases[i][0]);
        cr_expect_str_eq(got, cases[i][1], "input %s", cases[i][0]);
        free(got);
    }
}

Test(naming, path_join_cleans)
{
    const char *cases[][3] = {
        {"a", "b", "a/b"}, {"a/", "/b/", "a/b"}, {"a", "", "a"}, {"", "b", "b"},
        {"a/b", "../c", "a/c"}, {"/x", "./y/./z", "/x/y/z"}, {"a", "../..", ".."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = kf_naming_path_join(cases[i][0], cases[i][1]);
        cr_expect_str_eq(got, cases[i][2], "join(%s, %s)", cases[i][0], cases[i][1]);
        free(got);
    }
}

Test(naming, parse)
{
    enum kf_naming n;
    cr_expect_eq(kf_naming_parse("preserve", &n), 0);
    cr_expect_eq(n, KF_NAMING_PRESERVE);
    cr_expect_neq(kf_naming_parse("MD5", &n), 0);
    cr_expect_neq(kf_naming_parse("", &n), 0);
    cr_expect_str_eq(kf_naming_str(KF_NAMING_BARE), "bare");
}
