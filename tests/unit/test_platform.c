#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

Test(platform, parse_good)
{
    struct kf_platform p;
    char err[KF_ERRLEN];
    cr_assert_eq(kf_platform_parse("linux/arm/v7", &p, err), 0);
    cr_expect_str_eq(p.os, "linux");
    cr_expect_str_eq(p.arch, "arm");
    cr_expect_str_eq(p.variant, "v7");
    cr_assert_eq(kf_platform_parse("windows/amd64:10.0.17763.1234", &p, err), 0);
    cr_expect_str_eq(p.osversion, "10.0.17763.1234");
    char s[160];
    kf_platform_format(&p, s, sizeof s);
    cr_expect_str_eq(s, "windows/amd64:10.0.17763.1234");
}

Test(platform, parse_bad)
{
    const char *bad[] = {"", "linux", "linux/", "/amd64", "linux/amd64/v7/x", "Linux/amd64", "linux/amd 64",
                         "linux/amd64:", "linux//amd64", "linux/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    struct kf_platform p;
    char err[KF_ERRLEN];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(kf_platform_parse(bad[i], &p, err), KF_EINVAL, "accepted \"%s\"", bad[i]);
}

Test(platform, parse_list)
{
    struct kf_platform *list;
    size_t n;
    int all;
    char err[KF_ERRLEN];
    cr_assert_eq(kf_platform_parse_list("linux/amd64,linux/arm64, linux/arm/v7", &list, &n, &all, err), 0);
    cr_expect_eq(n, 3);
    cr_expect_eq(all, 0);
    cr_expect_str_eq(list[2].variant, "v7");
    free(list);
    cr_assert_eq(kf_platform_parse_list("all", &list, &n, &all, err), 0);
    cr_expect_eq(all, 1);
    cr_expect_eq(n, 0);
    cr_expect_eq(kf_platform_parse_list("all,linux/amd64", &list, &n, &all, err), KF_EINVAL);
    cr_expect_eq(kf_platform_parse_list(",", &list, &n, &all, err), KF_EINVAL);
    cr_expect_eq(kf_platform_parse_list("linux/amd64,", &list, &n, &all, err), KF_EINVAL);
}

Test(platform, matching)
{
    struct kf_platform want, have;
    char err[KF_ERRLEN];
    cr_assert_eq(kf_platform_parse("linux/arm", &want, err), 0);
    cr_assert_eq(kf_platform_parse("linux/arm/v7", &have, err), 0);
    cr_expect(kf_platform_matches(&want, &have), "no variant wanted matches any");
    cr_assert_eq(kf_platform_parse("linux/arm/v6", &want, err), 0);
    cr_expect(!kf_platform_matches(&want, &have));
    cr_assert_eq(kf_platform_parse("unknown/unknown", &have, err), 0);
    cr_expect(!kf_platform_any_matches(NULL, 0, 1, &have), "attestations never match, even with all");
    cr_assert_eq(kf_platform_parse("linux/amd64", &have, err), 0);
    cr_expect(kf_platform_any_matches(NULL, 0, 1, &have));
}

Test(platform, go_target)
{
    struct kf_platform p;
    char err[KF_ERRLEN], goarm[4];
    cr_assert_eq(kf_platform_parse("linux/arm/v6", &p, err), 0);
    cr_assert_eq(kf_platform_go_target(&p, goarm, err), 0);
    cr_expect_str_eq(goarm, "6");
    cr_assert_eq(kf_platform_parse("linux/arm64", &p, err), 0);
    cr_assert_eq(kf_platform_go_target(&p, goarm, err), 0);
    cr_expect_str_eq(goarm, "");
    cr_assert_eq(kf_platform_parse("linux/sparc", &p, err), 0);
    cr_expect_eq(kf_platform_go_target(&p, goarm, err), KF_EUNSUPPORTED);
    cr_expect(strstr(err, "linux/sparc") != NULL);
    cr_assert_eq(kf_platform_parse("linux/arm/v9", &p, err), 0);
    cr_expect_eq(kf_platform_go_target(&p, goarm, err), KF_EUNSUPPORTED);
}
