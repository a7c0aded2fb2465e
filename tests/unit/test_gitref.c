/* Validation of user-given git URLs, refs and commits: pure, no git run. */
#include <criterion/criterion.h>
#include <string.h>

#include "gitsrc.h"

struct url_case {
    const char *url;
    int allow_file;
    int want_rc;
};

static const struct url_case url_cases[] = {
    {"https://github.com/ko-build/ko", 0, KF_OK},
    {"https://github.com/ko-build/ko.git", 0, KF_OK},
    {"HTTPS://example.com/x.git", 0, KF_EINVAL}, /* git would want a helper "HTTPS" */
    {"http://127.0.0.1:8080/repo.git", 0, KF_OK},
    {"http://[::1]:8080/repo.git", 0, KF_OK},
    {"https://user:tok%40en@git.example.com/r.git", 0, KF_OK},
    {"ssh://git@github.com/ko-build/ko.git", 0, KF_OK},
    {"ssh://git@host.example.com:2222/~user/r.git", 0, KF_OK},
    {"git@github.com:ko-build/ko.git", 0, KF_OK},
    {"host.example.com:path/repo", 0, KF_OK},
    {"deploy_user-1@10.0.0.1:/srv/git/r.git", 0, KF_OK},
    {"file:///srv/git/repo.git", 1, KF_OK},
    {"file:///srv/git/repo.git", 0, KF_EINVAL},
    {"file://host/srv/repo", 1, KF_EINVAL},
    {"file://", 1, KF_EINVAL},
    {"FILE:///srv/git/repo.git", 1, KF_EINVAL},
    {"", 0, KF_EINVAL},
    {"--upload-pack=touch /tmp/pwned", 0, KF_EINVAL},
    {"--upload-pack=touch", 0, KF_EINVAL},
    {"-oProxyCommand=x", 0, KF_EINVAL},
    {"ext::sh -c touch% /tmp/pwned", 0, KF_EINVAL},
    {"ext::ssh", 0, KF_EINVAL},
    {"fd::17", 0, KF_EINVAL},
    {"transport::https://example.com/x", 0, KF_EINVAL},
    {"git://example.com/x.git", 0, KF_EINVAL},
    {"ftp://example.com/x.git", 0, KF_EINVAL},
    {"ssh://-oProxyCommand=touch/x", 0, KF_EINVAL},
    {"ssh://-oProxyCommand=touch@host/x", 0, KF_EINVAL},
    {"ssh://user@-oProxyCommand=x/r", 0, KF_EINVAL},
    {"-oProxyCommand=x@host:path", 0, KF_EINVAL},
    {"user@-oProxyCommand=x:path", 0, KF_EINVAL},
    {"host:-u", 0, KF_EINVAL},
    {"host:", 0, KF_EINVAL},
    {":path", 0, KF_EINVAL},
    {"@host:path", 0, KF_EINVAL},
    {"https://", 0, KF_EINVAL},
    {"https:///path", 0, KF_EINVAL},
    {"https://exa mple.com/x", 0, KF_EINVAL},
    {"https://example.com/x\n", 0, KF_EINVAL},
    {"https://example.com/\tx", 0, KF_EINVAL},
    {"https://example.com/\x7f", 0, KF_EINVAL},
    {"https://ex\xc3\xa4mple.com/x", 0, KF_EINVAL},
    {"https://exa<mple.com/x", 0, KF_EINVAL},
    {"/srv/git/repo.git", 0, KF_EINVAL},
    {"./repo", 0, KF_EINVAL},
    {"../repo", 0, KF_EINVAL},
    {"repo", 0, KF_EINVAL},
    {"dir/with:colon", 0, KF_EINVAL},
};

Test(gitref, urls)
{
    for (size_t i = 0; i < sizeof url_cases / sizeof url_cases[0]; i++) {
        const struct url_case *c = &url_cases[i];
        char err[KF_ERRLEN] = "";
        int rc = kf_git_validate_url(c->url, c->allow_file, err);
        cr_expect_eq(rc, c->want_rc, "url \"%s\" (allow_file %d): rc %d (%s)", c->url, c->allow_file, rc, err);
        if (c->want_rc)
            cr_expect_neq(err[0], 0, "url \"%s\": no message", c->url);
    }
}

Test(gitref, url_length)
{
    static char url[KF_GIT_URL_MAX + 2];
    const char *prefix = "https://example.com/";
    memset(url, 'a', sizeof url - 1);
    memcpy(url, prefix, strlen(prefix));
    url[KF_GIT_URL_MAX] = 0;
    cr_expect_eq(kf_git_validate_url(url, 0, NULL), KF_OK);
    url[KF_GIT_URL_MAX] = 'a';
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_git_validate_url(url, 0, err), KF_EINVAL);
    cr_expect_str_eq(err, "git URL longer than 2048 bytes");
    cr_expect_eq(kf_git_validate_url(NULL, 0, NULL), KF_EINVAL);
}

Test(gitref, url_messages)
{
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_git_validate_url("--upload-pack=touch /tmp/pwned", 0, err), KF_EINVAL);
    cr_expect_str_eq(err, "git URL must not start with '-'");
    cr_expect_eq(kf_git_validate_url("file:///x", 0, err), KF_EINVAL);
    cr_expect_str_eq(err, "file:// git URLs are not allowed on this farm");
    cr_expect_eq(kf_git_validate_url("ext::sh", 0, err), KF_EINVAL);
    cr_expect_str_eq(err, "git URL: \"<transport>::\" addresses are not allowed");
    cr_expect_eq(kf_git_validate_url("git://h/x", 0, err), KF_EINVAL);
    cr_expect_str_eq(err, "git transport \"git\" is not allowed");
}

struct ref_case {
    const char *ref;
    int want_rc;
};

static const struct ref_case ref_cases[] = {
    {"main", KF_OK},
    {"v1.2.3", KF_OK},
    {"refs/heads/x", KF_OK},
    {"refs/tags/v1", KF_OK},
    {"feature/new-thing_2", KF_OK},
    {"release-1.0", KF_OK},
    {"HEAD", KF_OK},
    {"a-b", KF_OK},
    {"x@y", KF_OK},
    {"caf\xc3\xa9", KF_OK}, /* UTF-8 is fine for git */
    {"refs/pull/123/head", KF_OK},
    {"a.b/c.d", KF_OK},
    {"", KF_EINVAL},
    {"-oProxyCommand=x", KF_EINVAL},
    {"--upload-pack=x", KF_EINVAL},
    {"-", KF_EINVAL},
    {"a..b", KF_EINVAL},
    {"..", KF_EINVAL},
    {"a@{1}", KF_EINVAL},
    {"@", KF_EINVAL},
    {"a b", KF_EINVAL},
    {"a\tb", KF_EINVAL},
    {"a\nb", KF_EINVAL},
    {"a\x7f", KF_EINVAL},
    {"a~1", KF_EINVAL},
    {"a^", KF_EINVAL},
    {"a:b", KF_EINVAL},
    {"a?", KF_EINVAL},
    {"a*", KF_EINVAL},
    {"a[b", KF_EINVAL},
    {"a\\b", KF_EINVAL},
    {"main.lock", KF_EINVAL},
    {"refs/heads/x.lock", KF_EINVAL},
    {"x.lock/y", KF_EINVAL},
    {"main/", KF_EINVAL},
    {"/main", KF_EINVAL},
    {"a//b", KF_EINVAL},
    {"main.", KF_EINVAL},
    {".hidden", KF_EINVAL},
    {"refs/heads/.x", KF_EINVAL},
    {"a/./b", KF_EINVAL},
    {".", KF_EINVAL},
};

Test(gitref, refs)
{
    for (size_t i = 0; i < sizeof ref_cases / sizeof ref_cases[0]; i++) {
        const struct ref_case *c = &ref_cases[i];
        char err[KF_ERRLEN] = "";
        int rc = kf_git_validate_ref(c->ref, err);
        cr_expect_eq(rc, c->want_rc, "ref \"%s\": rc %d (%s)", c->ref, rc, err);
        if (c->want_rc)
            cr_expect_neq(err[0], 0, "ref \"%s\": no message", c->ref);
    }
    cr_expect_eq(kf_git_validate_ref(NULL, NULL), KF_EINVAL);
}

Test(gitref, ref_length)
{
    static char ref[KF_GIT_REF_MAX + 2];
    memset(ref, 'r', sizeof ref - 1);
    ref[KF_GIT_REF_MAX] = 0;
    cr_expect_eq(kf_git_validate_ref(ref, NULL), KF_OK);
    ref[KF_GIT_REF_MAX] = 'r';
    cr_expect_eq(kf_git_validate_ref(ref, NULL), KF_EINVAL);
}

static const struct ref_case commit_cases[] = {
    {"0123456789abcdef0123456789abcdef01234567", KF_OK},
    {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", KF_OK},
    {"0123456789ABCDEF0123456789abcdef01234567", KF_EINVAL},
    {"0123456789abcdef0123456789abcdef0123456", KF_EINVAL},
    {"0123456789abcdef0123456789abcdef012345678", KF_EINVAL},
    {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0", KF_EINVAL},
    {"g123456789abcdef0123456789abcdef01234567", KF_EINVAL},
    {"-123456789abcdef0123456789abcdef01234567", KF_EINVAL},
    {"0123456789abcdef0123456789abcdef0123456 ", KF_EINVAL},
    {"main", KF_EINVAL},
    {"", KF_EINVAL},
};

Test(gitref, commits)
{
    for (size_t i = 0; i < sizeof commit_cases / sizeof commit_cases[0]; i++) {
        const struct ref_case *c = &commit_cases[i];
        char err[KF_ERRLEN] = "";
        int rc = kf_git_validate_commit(c->ref, err);
        cr_expect_eq(rc, c->want_rc, "commit \"%s\": rc %d (%s)", c->ref, rc, err);
    }
    cr_expect_eq(kf_git_validate_commit(NULL, NULL), KF_EINVAL);
}

/* What logs and messages show of a URL: no user information. */
Test(gitref, shown_url)
{
    static const char *const cases[][2] = {
        {"http://user:s3cret@127.0.0.1:8080/r.git", "http://***@127.0.0.1:8080/r.git"},
        {"https://ghp_token123@github.com/o/r.git", "https://***@github.com/o/r.git"},
        {"https://a@b:p@ss@host/r.git", "https://***@host/r.git"},
        {"https://host/r.git?x=a@b", "https://host/r.git?x=a@b"},
        {"https://host/r.git", "https://host/r.git"},
        {"git@github.com:o/r.git", "git@github.com:o/r.git"},
        {"file:///srv/r.git", "file:///srv/r.git"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        kf_git_shown_url(cases[i][0], out, sizeof out);
        cr_expect_str_eq(out, cases[i][1], "%s", cases[i][0]);
    }
    char small[12];
    kf_git_shown_url("https://u:p@host/r.git", small, sizeof small);
    cr_expect_str_eq(small, "https://***");
}
