#include <criterion/criterion.h>
#include <string.h>

#include "refmatch.h"

static const struct {
    const char *pattern, *name;
    int want;
} globs[] = {
    {"main", "main", 1},          {"main", "mainline", 0},     {"v*", "v1.2.3", 1},
    {"v*", "1.2.3", 0},           {"release/*", "release/1.0", 1}, {"release/*", "release", 0},
    {"*", "", 1},                 {"*", "a/b/c", 1},           {"v?.*", "v1.0", 1},
    {"v?.*", "v10.0", 0},         {"*-rc*", "v1-rc2", 1},      {"a*b*c", "aXbYc", 1},
    {"a*b*c", "aXbY", 0},         {"**", "x", 1},              {"", "", 1},
    {"", "x", 0},                 {"*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0},
};

Test(refmatch, glob)
{
    for (size_t i = 0; i < sizeof globs / sizeof *globs; i++)
        cr_expect_eq(kf_ref_glob_match(globs[i].pattern, globs[i].name), globs[i].want, "%s vs %s",
                     globs[i].pattern, globs[i].name);
}

/* Each is lower than the next. */
static const char *const order[] = {
    "latest", "nightly", "v0.1.0", "v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-alpha.beta", "v1.0.0-beta",
    "v1.0.0-beta.2", "v1.0.0-beta.11", "v1.0.0-rc.1", "v1.0.0", "1.0.1", "v1.9.0", "v1.10.0", "v2.0.0",
};

Test(refmatch, semver_order)
{
    size_t n = sizeof order / sizeof *order;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int c = kf_semver_cmp(order[i], order[j]);
            int want = i < j ? -1 : i > j ? 1 : 0;
            cr_expect_eq(c < 0 ? -1 : c > 0 ? 1 : 0, want, "%s vs %s: %d", order[i], order[j], c);
        }
    cr_expect_eq(kf_semver_cmp("v1.0.0+build.1", "v1.0.0+build.2"), 0, "build metadata is ignored");
}

Test(refmatch, semver_valid)
{
    cr_expect(kf_semver_valid("v1.2.3"));
    cr_expect(kf_semver_valid("1.2.3-rc.1+b5"));
    cr_expect(!kf_semver_valid("v1.2"));
    cr_expect(!kf_semver_valid("v01.2.3"), "leading zero");
    cr_expect(!kf_semver_valid("v1.2.3-"), "empty pre-release");
    cr_expect(!kf_semver_valid("v1.2.3-a..b"));
    cr_expect(!kf_semver_valid("v1.2.3x"));
    cr_expect(!kf_semver_valid("v9999999999999999999.0.0"), "too many digits");
}

Test(refmatch, image_tag)
{
    char out[KF_REF_TAG_MAX + 1];
    kf_ref_image_tag("v1.2.3", out);
    cr_expect_str_eq(out, "v1.2.3");
    kf_ref_image_tag("feature/x y", out);
    cr_expect_str_eq(out, "feature-x-y");
    kf_ref_image_tag("-lead", out);
    cr_expect_str_eq(out, "_lead");
    char long_name[300];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    kf_ref_image_tag(long_name, out);
    cr_expect_eq(strlen(out), KF_REF_TAG_MAX);
}
