#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spawn.h"
#include "template.h"

static const char *fake_goenv(void *ctx, const char *key)
{
    cr_assert_eq(ctx, (void *)&fake_goenv);
    if (strcmp(key, "GOARCH") == 0)
        return "amd64";
    if (strcmp(key, "GOOS") == 0)
        return "darwin"; /* overridden by env's GOOS, as ko does */
    if (strcmp(key, "GOPATH") == 0)
        return "/go";
    return NULL;
}

static const char *const test_env[] = {"FOO=bar", "EMPTY=", "GOOS=linux", "EQ=a=b", "FOO=baz"};

static struct kf_template_data test_data(void)
{
    struct kf_template_data d = {
        .env = test_env,
        .n_env = sizeof test_env / sizeof test_env[0],
        .goenv = fake_goenv,
        .goenv_ctx = (void *)&fake_goenv,
        .git_branch = "main",
        .git_tag = "v1.2.3",
        .git_short_commit = "abc1234",
        .git_full_commit = "abc1234def",
        .git_commit_date = "2023-11-14T22:13:20Z",
        .git_commit_timestamp = "1700000000",
        .git_tree_state = "dirty",
        .now = 1700000001,
    };
    return d;
}

struct expand_case {
    const char *tmpl;
    int rc;
    const char *want; /* the output, or the error message (exact) when rc != 0; NULL = not checked */
};

static const struct expand_case expand_cases[] = {
    {"plain -s -w", 0, "plain -s -w"},
    {"", 0, ""},
    {"a}}b {x}", 0, "a}}b {x}"},
    {"-X main.v={{.Env.FOO}}", 0, "-X main.v=baz"},
    {"{{ .Env.FOO }}{{\t.Env.EQ\n}}", 0, "baza=b"},
    {"[{{.Env.EMPTY}}]", 0, "[]"},
    {"[{{.Env.LDFLAGS}}]", 0, "[]"},
    {"{{.GoEnv.GOARCH}}/{{.GoEnv.GOOS}}/{{.GoEnv.GOPATH}}", 0, "amd64/linux//go"},
    {"{{.Git.Branch}} {{.Git.Tag}} {{.Git.ShortCommit}} {{.Git.FullCommit}}", 0, "main v1.2.3 abc1234 abc1234def"},
    {"{{.Git.CommitDate}} {{.Git.CommitTimestamp}}", 0, "2023-11-14T22:13:20Z 1700000000"},
    {"{{.Git.IsDirty}} {{.Git.IsClean}} {{.Git.TreeState}}", 0, "true false dirty"},
    {"{{.Date}} {{.Timestamp}}", 0, "2023-11-14T22:13:21Z 1700000001"},
    {"a  \n{{- .Env.FOO -}}\t b", 0, "abazb"},
    {"a {{.Env.FOO -}} b", 0, "a bazb"},
    {"a{{/* a comment {{ }} */}}b", 0, "ab"},
    {"a {{- /* trimmed */ -}} b", 0, "ab"},
    {"{{.Env.FOO}}{{.Env.FOO}}", 0, "bazbaz"},

    {"-X main.v={{.Env.MISSING}}", KF_EINVAL,
     "template: map has no entry for key \"MISSING\" (at <.Env.MISSING> in \"-X main.v={{.Env.MISSING}}\")"},
    {"{{.GoEnv.NOPE}}", KF_EINVAL,
     "template: map has no entry for key \"NOPE\" (at <.GoEnv.NOPE> in \"{{.GoEnv.NOPE}}\")"},
    {"{{.Nope}}", KF_EINVAL, "template: map has no entry for key \"Nope\" (at <.Nope> in \"{{.Nope}}\")"},
    {"{{.env.FOO}}", KF_EINVAL, "template: map has no entry for key \"env\" (at <.env.FOO> in \"{{.env.FOO}}\")"},
    {"{{.Git.Nope}}", KF_EINVAL, "template: map has no entry for key \"Nope\" (at <.Git.Nope> in \"{{.Git.Nope}}\")"},
    {"{{.Env.FOO | printf \"%q\"}}", KF_EINVAL,
     "template: only field references like {{.Env.NAME}} are supported in action \"{{.Env.FOO | printf \"%q\"}}\" "
     "of \"{{.Env.FOO | printf \"%q\"}}\""},
    {"{{printf \"%s\" .Env.FOO}}", KF_EINVAL, NULL},
    {"{{.Env}}", KF_EINVAL,
     "template: printing a whole map is not supported in action \"{{.Env}}\" of \"{{.Env}}\""},
    {"{{.Env.FOO.BAR}}", KF_EINVAL,
     "template: can't evaluate field BAR in type string in action \"{{.Env.FOO.BAR}}\" of \"{{.Env.FOO.BAR}}\""},
    {"{{.Timestamp.X}}", KF_EINVAL, NULL},
    {"{{.Git.Branch.X.Y.Z}}", KF_EINVAL, NULL},
    {"{{.Env.FOO", KF_EINVAL, "template: unclosed action in action \"{{.Env.FOO\" of \"{{.Env.FOO\""},
    {"{{}}", KF_EINVAL, NULL},
    {"{{ }}", KF_EINVAL, NULL},
    {"{{.}}", KF_EINVAL, NULL},
    {"{{.Env.}}", KF_EINVAL, NULL},
    {"{{$x := 1}}", KF_EINVAL, NULL},
    {"{{-.Env.FOO}}", KF_EINVAL, NULL},
    {"{{.Env.FOO-}}", KF_EINVAL, NULL},
    {"{{/* unclosed", KF_EINVAL, NULL},
    {"{{/* c */ }}", KF_EINVAL, NULL},
    {"{{if .Env.FOO}}x{{end}}", KF_EINVAL, NULL},
    {"{{.Env.FOO}} ok {{.Env.NOPE}}", KF_EINVAL, NULL},
};

Test(template, expand_table)
{
    struct kf_template_data d = test_data();
    for (size_t i = 0; i < sizeof expand_cases / sizeof expand_cases[0]; i++) {
        const struct expand_case *c = &expand_cases[i];
        char err[KF_ERRLEN] = "";
        char *out = (char *)0x1;
        int rc = kf_template_expand(c->tmpl, &d, &out, err);
        cr_expect_eq(rc, c->rc, "case %zu (%s): rc %d (%s)", i, c->tmpl, rc, err);
        if (rc == 0) {
            cr_assert_not_null(out);
            if (c->want)
                cr_expect_str_eq(out, c->want, "case %zu", i);
            free(out);
        } else {
            cr_expect_null(out, "case %zu", i);
            if (c->want)
                cr_expect_str_eq(err, c->want, "case %zu", i);
        }
    }
}

Test(template, unavailable_data_is_missing)
{
    struct kf_template_data d = {.now = 0};
    char err[KF_ERRLEN] = "";
    char *out = NULL;
    cr_expect_eq(kf_template_expand("{{.Git.Branch}}", &d, &out, err), KF_EINVAL);
    cr_expect_str_eq(err, "template: map has no entry for key \"Branch\" (at <.Git.Branch> in \"{{.Git.Branch}}\")");
    cr_expect_eq(kf_template_expand("{{.Git.IsDirty}}", &d, &out, err), KF_EINVAL);
    cr_expect_eq(kf_template_expand("{{.GoEnv.GOARCH}}", &d, &out, err), KF_EINVAL);
    cr_assert_eq(kf_template_expand("{{.Date}}|{{.Env.LDFLAGS}}|{{.Timestamp}}", &d, &out, err), 0, "%s", err);
    cr_expect_str_eq(out, "1970-01-01T00:00:00Z||0");
    free(out);
}

Test(template, bad_env_entry)
{
    const char *const env[] = {"GOOD=1", "NOEQUALS"};
    struct kf_template_data d = {.env = env, .n_env = 2};
    char err[KF_ERRLEN] = "";
    char *out = NULL;
    cr_expect_eq(kf_template_expand("{{.Env.GOOD}}", &d, &out, err), KF_EINVAL);
    cr_expect_str_eq(err, "invalid environment variable entry: \"NOEQUALS\"");
    /* Text without actions is left alone. */
    cr_assert_eq(kf_template_expand("-s -w", &d, &out, err), 0);
    cr_expect_str_eq(out, "-s -w");
    free(out);
}

Test(template, output_cap)
{
    size_t n = KF_TEMPLATE_MAX_OUT / 2 + 10;
    char *big = malloc(n + 5);
    cr_assert_not_null(big);
    memcpy(big, "BIG=", 4);
    memset(big + 4, 'x', n);
    big[n + 4] = 0;
    const char *env[] = {big};
    struct kf_template_data d = {.env = env, .n_env = 1};
    char err[KF_ERRLEN] = "";
    char *out = NULL;
    cr_assert_eq(kf_template_expand("{{.Env.BIG}}", &d, &out, err), 0, "%s", err);
    cr_expect_eq(strlen(out), n);
    free(out);
    cr_expect_eq(kf_template_expand("{{.Env.BIG}}{{.Env.BIG}}", &d, &out, err), KF_ETOOBIG);
    cr_expect_null(out);
    free(big);
}

struct date_case {
    long long secs;
    const char *want;
};

static const struct date_case date_cases[] = {
    {0, "1970-01-01T00:00:00Z"},
    {1700000000, "2023-11-14T22:13:20Z"},
    {-1, "1969-12-31T23:59:59Z"},
    {-62135596800LL, "0001-01-01T00:00:00Z"},
    {253402300799LL, "9999-12-31T23:59:59Z"},
};

Test(template, format_date)
{
    char out[KF_TEMPLATE_DATE_LEN];
    for (size_t i = 0; i < sizeof date_cases / sizeof date_cases[0]; i++) {
        cr_assert_eq(kf_template_format_date(date_cases[i].secs, out), 0, "case %zu", i);
        cr_expect_str_eq(out, date_cases[i].want, "case %zu", i);
    }
    cr_expect_eq(kf_template_format_date(9223372036854775807LL, out), KF_EINVAL);
}

Test(template, set_git_ko_defaults)
{
    struct kf_template_data d = {.now = 0};
    struct kf_git_info none = {0};
    char err[KF_ERRLEN] = "";
    char *out = NULL;
    kf_template_data_set_git(&d, &none, 1);
    cr_assert_eq(kf_template_expand("[{{.Git.Branch}}|{{.Git.Tag}}|{{.Git.CommitDate}}|{{.Git.CommitTimestamp}}|"
                                    "{{.Git.TreeState}}|{{.Git.IsClean}}]",
                                    &d, &out, err),
                 0, "%s", err);
    cr_expect_str_eq(out, "[||0001-01-01T00:00:00Z|-62135596800|clean|true]");
    free(out);
    kf_template_data_set_git(&d, &none, 0);
    cr_expect_null(d.git_branch);
    struct kf_git_info some = {.branch = "b", .tag = "t", .tree_state = "clean"};
    kf_template_data_set_git(&d, &some, 1);
    cr_expect_str_eq(d.git_branch, "b");
    cr_expect_null(d.git_full_commit);
}

/* ---- git info against real repositories ---- */

static char tmp[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void git(const char *const *args)
{
    const char *argv[24] = {"git", "-C", tmp, "-c", "user.name=t", "-c", "user.email=t@example.com",
                            "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"};
    size_t n = 11;
    while (*args)
        argv[n++] = *args++;
    argv[n] = NULL;
    struct kf_spawn s = {.argv = argv};
    char err[KF_ERRLEN] = "";
    int status = -1;
    cr_assert_eq(kf_spawn_run(&s, &status, err), 0, "%s", err);
    cr_assert_eq(status, 0, "git %s failed", argv[11]);
}

static void setup_repo(void)
{
    /* Only our own settings: no user config, fixed commit time. */
    setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    setenv("GIT_COMMITTER_DATE", "@1700000000 +0000", 1);
    setenv("GIT_AUTHOR_DATE", "@1700000000 +0000", 1);
    snprintf(tmp, sizeof tmp, "/tmp/kf-template-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

static void teardown_repo(void)
{
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(template_git, .init = setup_repo, .fini = teardown_repo);

static void expect_no_info(const struct kf_git_info *g)
{
    cr_expect_null(g->branch);
    cr_expect_null(g->tag);
    cr_expect_null(g->short_commit);
    cr_expect_null(g->full_commit);
    cr_expect_null(g->commit_date);
    cr_expect_null(g->commit_timestamp);
    cr_expect_null(g->tree_state);
}

Test(template_git, not_a_repository)
{
    struct kf_git_info g;
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_template_git_info(tmp, &g, err), 0, "%s", err);
    expect_no_info(&g);
    kf_template_git_free(&g);
    cr_expect_eq(kf_template_git_info("/nonexistent/dir", &g, err), 0, "%s", err);
    expect_no_info(&g);
    kf_template_git_free(&g);
}

Test(template_git, repository_without_commits)
{
    git((const char *[]){"init", "-q", "-b", "main", NULL});
    struct kf_git_info g;
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_template_git_info(tmp, &g, err), 0, "%s", err);
    expect_no_info(&g);
    kf_template_git_free(&g);
}

Test(template_git, clean_untagged_then_tagged_dirty)
{
    git((const char *[]){"init", "-q", "-b", "main", NULL});
    git((const char *[]){"commit", "-q", "--allow-empty", "-m", "first", NULL});
    struct kf_git_info g;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_template_git_info(tmp, &g, err), 0, "%s", err);
    cr_expect_str_eq(g.branch, "main");
    cr_expect_str_eq(g.tag, "v0.0.0");
    cr_assert_not_null(g.full_commit);
    cr_expect_eq(strlen(g.full_commit), 40);
    cr_assert_not_null(g.short_commit);
    cr_expect(strlen(g.short_commit) >= 7 && strncmp(g.full_commit, g.short_commit, strlen(g.short_commit)) == 0);
    cr_expect_str_eq(g.commit_date, "2023-11-14T22:13:20Z");
    cr_expect_str_eq(g.commit_timestamp, "1700000000");
    cr_expect_str_eq(g.tree_state, "clean");
    kf_template_git_free(&g);
    cr_expect_null(g.branch);

    git((const char *[]){"tag", "v1.2.3", NULL});
    char path[128];
    snprintf(path, sizeof path, "%s/untracked.txt", tmp);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("x\n", f);
    fclose(f);
    cr_assert_eq(kf_template_git_info(tmp, &g, err), 0, "%s", err);
    cr_expect_str_eq(g.tag, "v1.2.3");
    cr_expect_str_eq(g.tree_state, "dirty");

    /* And through a template, as a build would. */
    struct kf_template_data d = {.now = 0};
    kf_template_data_set_git(&d, &g, 1);
    char *out = NULL;
    cr_assert_eq(kf_template_expand("{{.Git.Tag}}-{{.Git.IsDirty}}-{{.Git.Branch}}", &d, &out, err), 0, "%s", err);
    cr_expect_str_eq(out, "v1.2.3-true-main");
    free(out);
    kf_template_git_free(&g);
}
