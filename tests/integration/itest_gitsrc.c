/* kf_git_checkout against real git and local repositories reached over
 * file://: branches, tags, commits, mirror reuse, concurrent jobs on one
 * URL, refused injections, missing refs, escaping symlinks; and gitlocal's
 * commit lookup and borrowing .git against repositories git wrote. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "gitlocal.h"
#include "gitsrc.h"
#include "spawn.h"
#include "srctar.h"

#define MAIN_V1 "package main\n\nfunc main() { println(\"v1\") }\n"
#define MAIN_V2 "package main\n\nfunc main() { println(\"v2\") }\n"

static char tmpdir[64];
static char origin_url[256];
static char home_env[128];
static char *const test_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", home_env, "GIT_CONFIG_NOSYSTEM=1",
                                 "GIT_AUTHOR_NAME=kofarm", "GIT_AUTHOR_EMAIL=kofarm@example.com",
                                 "GIT_COMMITTER_NAME=kofarm", "GIT_COMMITTER_EMAIL=kofarm@example.com", NULL};
/* commits made in setup: v1 (tagged v1.0.0), v2 on main, feature on a branch */
static char sha_v1[65], sha_v2[65], sha_feature[65];

static char *path_in(const char *name)
{
    char *p;
    cr_assert_geq(asprintf(&p, "%s/%s", tmpdir, name), 0);
    return p;
}

/* Runs git with the NULL-terminated arguments in cwd; asserts success and
 * returns stdout without its trailing newline (caller frees). */
static char *git(const char *cwd, ...)
{
    const char *argv[32] = {"git"};
    size_t n = 1;
    va_list ap;
    va_start(ap, cwd);
    for (const char *a; (a = va_arg(ap, const char *)) && n < 31;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    struct kf_buf out, errout;
    kf_buf_init(&out, 0);
    kf_buf_init(&errout, 0);
    struct kf_spawn s = {.argv = argv, .envp = (const char *const *)test_env, .cwd = cwd, .out = &out,
                         .errout = &errout, .timeout_ms = 60000};
    char err[KF_ERRLEN] = "";
    int status = -1;
    cr_assert_eq(kf_spawn_run(&s, &status, err), 0, "%s", err);
    cr_assert_eq(status, 0, "git %s: %s", argv[1], errout.data ? (char *)errout.data : "");
    size_t len;
    char *text = (char *)kf_buf_steal(&out, &len);
    if (!text)
        text = strdup("");
    while (len && text[len - 1] == '\n')
        text[--len] = 0;
    kf_buf_free(&errout);
    return text;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct kf_buf b;
    kf_buf_init(&b, 1 << 20);
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_buf_read_file(&b, path, err), 0, "%s", err);
    size_t len;
    char *s = (char *)kf_buf_steal(&b, &len);
    return s ? s : strdup("");
}

static void copy_sha(char out[65], char *sha)
{
    cr_assert_eq(strlen(sha), 40, "%s", sha);
    memcpy(out, sha, 41);
    free(sha);
}

/* work/ (a clone) pushes to origin.git: a module with a main package, a
 * tagged first commit, a second on main, a feature branch. */
static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kf-itest-gitsrc-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(home_env, sizeof home_env, "HOME=%s", tmpdir);
    char *origin = path_in("origin.git"), *work = path_in("work");
    snprintf(origin_url, sizeof origin_url, "file://%s", origin);
    free(git(tmpdir, "init", "--quiet", "--bare", "-b", "main", origin, NULL));
    free(git(tmpdir, "init", "--quiet", "-b", "main", work, NULL));
    char *cmd = path_in("work/cmd"), *link = path_in("work/main-link.go");
    cr_assert_eq(mkdir(cmd, 0755), 0);
    write_text(work, "go.mod", "module example.com/hello\n\ngo 1.19\n");
    write_text(work, "cmd/main.go", MAIN_V1);
    cr_assert_eq(symlink("cmd/main.go", link), 0); /* in-tree: fine */
    free(cmd);
    free(link);
    free(git(work, "add", "-A", NULL));
    free(git(work, "commit", "--quiet", "-m", "v1", NULL));
    free(git(work, "tag", "-a", "-m", "release", "v1.0.0", NULL));
    copy_sha(sha_v1, git(work, "rev-parse", "HEAD", NULL));
    write_text(work, "cmd/main.go", MAIN_V2);
    free(git(work, "commit", "--quiet", "-am", "v2", NULL));
    copy_sha(sha_v2, git(work, "rev-parse", "HEAD", NULL));
    free(git(work, "checkout", "--quiet", "-b", "feature", NULL));
    write_text(work, "feature.txt", "feature\n");
    free(git(work, "add", "feature.txt", NULL));
    free(git(work, "commit", "--quiet", "-m", "feature", NULL));
    copy_sha(sha_feature, git(work, "rev-parse", "HEAD", NULL));
    free(git(work, "checkout", "--quiet", "main", NULL));
    free(git(work, "push", "--quiet", "--tags", origin, "main", "feature", NULL));
    free(origin);
    free(work);
}

static void teardown(void)
{
    char err[KF_ERRLEN] = "";
    if (tmpdir[0]) {
        cr_expect_eq(kf_srctar_clear_dir(tmpdir, err), 0, "%s", err);
        rmdir(tmpdir);
    }
    errno = 0;
    cr_expect_eq(waitpid(-1, NULL, WNOHANG), -1, "a child is left");
    cr_expect_eq(errno, ECHILD);
}

TestSuite(gitsrc_it, .init = setup, .fini = teardown, .timeout = 300);

static struct kf_git_checkout_opts opts(const char *dest)
{
    static char cache[128];
    snprintf(cache, sizeof cache, "%s/cache", tmpdir);
    return (struct kf_git_checkout_opts){
        .cache_dir = cache,
        .url = origin_url,
        .dest_dir = dest,
        .allow_file = 1,
        .envp = test_env,
        .timeout_ms = 120000,
    };
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

static void expect_checkout(const char *ref, const char *commit, const char *want_sha, const char *want_main)
{
    char *dest = path_in("job");
    struct kf_git_checkout_opts o = opts(dest);
    o.ref = ref;
    o.commit = commit;
    char sha[65] = "", err[KF_ERRLEN] = "";
    cr_assert_eq(kf_git_checkout(&o, sha, err), 0, "ref %s commit %s: %s", ref, commit, err);
    cr_expect_str_eq(sha, want_sha, "ref %s commit %s", ref, commit);
    char *text = read_text(dest, "cmd/main.go");
    cr_expect_str_eq(text, want_main);
    free(text);
    text = read_text(dest, "main-link.go"); /* the in-tree symlink works */
    cr_expect_str_eq(text, want_main);
    free(text);
    char *head = git(dest, "rev-parse", "HEAD", NULL);
    cr_expect_str_eq(head, want_sha);
    free(head);
    char *status = git(dest, "status", "--porcelain", NULL);
    cr_expect_str_eq(status, "", "a clean tree");
    free(status);
    cr_assert_eq(kf_srctar_clear_dir(dest, err), 0, "%s", err);
    cr_assert_eq(rmdir(dest), 0);
    free(dest);
}

Test(gitsrc_it, branch_tag_commit)
{
    expect_checkout("main", NULL, sha_v2, MAIN_V2);
    expect_checkout("refs/heads/main", NULL, sha_v2, MAIN_V2);
    expect_checkout("v1.0.0", NULL, sha_v1, MAIN_V1); /* annotated tag: peeled to its commit */
    expect_checkout("refs/tags/v1.0.0", NULL, sha_v1, MAIN_V1);
    expect_checkout("feature", NULL, sha_feature, MAIN_V2);
    expect_checkout("HEAD", NULL, sha_v2, MAIN_V2);
    expect_checkout(NULL, sha_v1, sha_v1, MAIN_V1);
    expect_checkout("main", sha_v1, sha_v1, MAIN_V1); /* both: the commit wins */
    cr_expect_eq(count_entries(opts(NULL).cache_dir), 2, "one mirror and its lock file");
}

Test(gitsrc_it, describe_works_in_checkout)
{
    char *dest = path_in("job");
    struct kf_git_checkout_opts o = opts(dest);
    o.ref = "main";
    char sha[65], err[KF_ERRLEN] = "";
    cr_assert_eq(kf_git_checkout(&o, sha, err), 0, "%s", err);
    char *described = git(dest, "describe", "--tags", "--always", NULL);
    char want[64];
    snprintf(want, sizeof want, "v1.0.0-1-g%.7s", sha_v2);
    cr_expect_str_eq(described, want);
    free(described);
    free(dest);
}

/* A push to the origin shows up through the same mirror. */
Test(gitsrc_it, mirror_reused_and_fetched)
{
    char *dest1 = path_in("job1"), *dest2 = path_in("job2"), *work = path_in("work"), *origin = path_in("origin.git");
    struct kf_git_checkout_opts o = opts(dest1);
    o.ref = "main";
    char sha[65], err[KF_ERRLEN] = "";
    cr_assert_eq(kf_git_checkout(&o, sha, err), 0, "%s", err);
    cr_expect_str_eq(sha, sha_v2);
    write_text(work, "cmd/main.go", "package main\n\nfunc main() { println(\"v3\") }\n");
    free(git(work, "commit", "--quiet", "-am", "v3", NULL));
    char *sha_v3 = git(work, "rev-parse", "HEAD", NULL);
    free(git(work, "push", "--quiet", origin, "main", NULL));
    o.dest_dir = dest2;
    cr_assert_eq(kf_git_checkout(&o, sha, err), 0, "%s", err);
    cr_expect_str_eq(sha, sha_v3);
    char *text = read_text(dest2, "cmd/main.go");
    cr_expect(strstr(text, "v3") != NULL);
    free(text);
    cr_expect_eq(count_entries(o.cache_dir), 2, "the same mirror was used");
    /* the first checkout is untouched by the update */
    text = read_text(dest1, "cmd/main.go");
    cr_expect_str_eq(text, MAIN_V2);
    free(text);
    free(sha_v3);
    free(dest1);
    free(dest2);
    free(work);
    free(origin);
}

struct refused {
    const char *url;   /* NULL: the origin */
    const char *ref;
    const char *commit;
    int allow_file;
    const char *want_msg;
};

static const struct refused refused_cases[] = {
    {NULL, "-oProxyCommand=x", NULL, 1, "git ref must not start with '-'"},
    {"--upload-pack=touch /tmp/pwned", "main", NULL, 1, "git URL must not start with '-'"},
    {"ext::touch%20/tmp/pwned", "main", NULL, 1, "\"<transport>::\" addresses are not allowed"},
    {"ssh://-oProxyCommand=touch%20/tmp/pwned/x", "main", NULL, 1, "bad host part"},
    {NULL, "main", NULL, 0, "file:// git URLs are not allowed on this farm"},
    {NULL, "main..x", NULL, 1, "must not contain"},
    {NULL, NULL, "HEAD", 1, "40 or 64 hex digits"},
    {NULL, NULL, NULL, 1, "needs a ref or a commit"},
};

/* Refused before anything runs: no cache dir, no mirror, no /tmp/pwned. */
Test(gitsrc_it, refused_before_running)
{
    cr_assert_eq(access("/tmp/pwned", F_OK), -1, "/tmp/pwned exists before the test");
    char *dest = path_in("job");
    for (size_t i = 0; i < sizeof refused_cases / sizeof refused_cases[0]; i++) {
        const struct refused *c = &refused_cases[i];
        struct kf_git_checkout_opts o = opts(dest);
        o.url = c->url ? c->url : origin_url;
        o.ref = c->ref;
        o.commit = c->commit;
        o.allow_file = c->allow_file;
        char sha[65] = "", err[KF_ERRLEN] = "";
        cr_expect_eq(kf_git_checkout(&o, sha, err), KF_EINVAL, "case %zu: %s", i, err);
        cr_expect(strstr(err, c->want_msg) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err, c->want_msg);
        cr_expect_eq(access(o.cache_dir, F_OK), -1, "case %zu: something ran", i);
        cr_expect_eq(access(dest, F_OK), -1, "case %zu: dest made", i);
    }
    cr_expect_eq(access("/tmp/pwned", F_OK), -1);
    free(dest);
}

Test(gitsrc_it, missing_ref_commit_and_repository)
{
    char *dest = path_in("job");
    struct kf_git_checkout_opts o = opts(dest);
    char sha[65] = "", err[KF_ERRLEN] = "";
    o.ref = "no-such-branch";
    cr_expect_eq(kf_git_checkout(&o, sha, err), KF_ENOTFOUND, "%s", err);
    char want[512];
    snprintf(want, sizeof want, "ref no-such-branch not found in %s", origin_url);
    cr_expect_str_eq(err, want);
    cr_expect_eq(access(dest, F_OK), -1, "dest removed");
    o.ref = NULL;
    o.commit = "0123456789abcdef0123456789abcdef01234567";
    cr_expect_eq(kf_git_checkout(&o, sha, err), KF_ENOTFOUND, "%s", err);
    cr_expect(strstr(err, "commit 0123456789abcdef0123456789abcdef01234567 not found") != NULL, "%s", err);
    cr_expect_eq(access(dest, F_OK), -1, "dest removed");
    o.commit = NULL;
    o.ref = "main";
    char url[256];
    snprintf(url, sizeof url, "file://%s/no-such-repo.git", tmpdir);
    o.url = url;
    cr_expect_eq(kf_git_checkout(&o, sha, err), KF_ENOTFOUND, "%s", err);
    cr_expect(strstr(err, "git clone") != NULL && strstr(err, "does not appear to be a git repository"), "%s", err);
    cr_expect_eq(access(dest, F_OK), -1, "dest removed");
    cr_expect_str_eq(sha, "", "commit_out untouched on error");
    free(dest);
}

/* Nothing listens on 127.0.0.1:1: a transient failure, and the password
 * appears in no message. */
static void collect_line(void *ctx, const char *line)
{
    struct kf_buf *log = ctx;
    cr_assert_eq(kf_buf_appendf(log, "%s\n", line), 0);
}

Test(gitsrc_it, network_failure_hides_password)
{
    char *dest = path_in("job");
    struct kf_buf log;
    kf_buf_init(&log, 0);
    struct kf_git_checkout_opts o = opts(dest);
    o.log_fn = collect_line;
    o.log_ctx = &log;
    o.url = "http://kofarm:s3cr3tpass@127.0.0.1:1/repo.git";
    o.ref = "main";
    char sha[65] = "", err[KF_ERRLEN] = "";
    cr_expect_eq(kf_git_checkout(&o, sha, err), KF_ENET, "%s", err);
    cr_expect(strstr(err, "git clone http://***@127.0.0.1:1/repo.git failed: ") == err, "%s", err);
    cr_expect(strstr(err, "s3cr3tpass") == NULL, "%s", err);
    cr_expect(strstr((char *)log.data, "git: cloning http://***@127.0.0.1:1/repo.git\n") != NULL, "%s", log.data);
    cr_expect(strstr((char *)log.data, "s3cr3tpass") == NULL, "%s", log.data);
    kf_buf_free(&log);
    cr_expect_eq(access(dest, F_OK), -1, "dest removed");
    free(dest);
}

/* Two jobs on one URL with a cold cache: both clone attempts meet at the
 * lock; the second fetches the mirror the first made. */
struct job {
    char dest[128];
    char sha[65];
    char err[KF_ERRLEN];
    int rc;
};

static void *run_job(void *arg)
{
    struct job *j = arg;
    struct kf_git_checkout_opts o = opts(j->dest);
    o.ref = "feature";
    j->rc = kf_git_checkout(&o, j->sha, j->err);
    return NULL;
}

Test(gitsrc_it, two_threads_same_url)
{
    struct job jobs[2];
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        snprintf(jobs[i].dest, sizeof jobs[i].dest, "%s/job%d", tmpdir, i);
        cr_assert_eq(pthread_create(&threads[i], NULL, run_job, &jobs[i]), 0);
    }
    for (int i = 0; i < 2; i++) /* both, before any assertion can end the test */
        pthread_join(threads[i], NULL);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(jobs[i].rc, 0, "job %d: %s", i, jobs[i].err);
        cr_expect_str_eq(jobs[i].sha, sha_feature);
        char *text = read_text(jobs[i].dest, "feature.txt");
        cr_expect_str_eq(text, "feature\n");
        free(text);
    }
    cr_expect_eq(count_entries(opts(NULL).cache_dir), 2, "one mirror, no leftover temporary clone");
}

/* ko copies kodata through symlinks: one pointing out of the tree would
 * put the worker's files into the image. */
Test(gitsrc_it, escaping_symlink_refused)
{
    char *work = path_in("work"), *origin = path_in("origin.git"), *dest = path_in("job");
    free(git(work, "checkout", "--quiet", "-b", "evil", NULL));
    char *kodata = path_in("work/kodata"), *link = path_in("work/kodata/passwd");
    cr_assert_eq(mkdir(kodata, 0755), 0);
    cr_assert_eq(symlink("/etc/passwd", link), 0);
    free(kodata);
    free(link);
    free(git(work, "add", "-A", NULL));
    free(git(work, "commit", "--quiet", "-m", "evil", NULL));
    free(git(work, "push", "--quiet", origin, "evil", NULL));
    struct kf_git_checkout_opts o = opts(dest);
    o.ref = "evil";
    char sha[65] = "", err[KF_ERRLEN] = "";
    cr_expect_eq(kf_git_checkout(&o, sha, err), KF_EINVAL, "%s", err);
    cr_expect_str_eq(err, "repository symlink kodata/passwd -> /etc/passwd points outside the checkout");
    cr_expect_eq(access(dest, F_OK), -1, "dest removed");
    free(work);
    free(origin);
    free(dest);
}

Test(gitsrc_it, dest_rules_and_cancel)
{
    char *dest = path_in("job");
    struct kf_git_checkout_opts o = opts(dest);
    o.ref = "main";
    char sha[65] = "", err[KF_ERRLEN] = "";
    cr_assert_eq(mkdir(dest, 0755), 0); /* existing and empty: fine */
    cr_expect_eq(kf_git_checkout(&o, sha, err), 0, "%s", err);
    cr_expect_eq(kf_git_checkout(&o, sha, err), KF_EINTERNAL, "not empty now: %s", err);
    cr_expect_eq(access(dest, F_OK), 0, "a tree we did not make is kept");
    cr_assert_eq(kf_srctar_clear_dir(dest, err), 0, "%s", err);
    volatile int cancel = 1;
    o.cancel = &cancel;
    cr_expect_eq(kf_git_checkout(&o, sha, err), KF_ECANCELED, "%s", err);
    cr_expect_eq(access(dest, F_OK), 0, "an existing dest stays, empty");
    cr_expect_eq(count_entries(dest), 0);
    free(dest);
}

/* Loose objects (a push leaves them so), then one pack without deltas. */
Test(gitsrc_it, local_commit_lookup)
{
    char *origin = path_in("origin.git");
    char *tree = git(origin, "rev-parse", "v1.0.0^{tree}", NULL), *tag = git(origin, "rev-parse", "v1.0.0", NULL);
    const char *absent = "0123456789abcdef0123456789abcdef01234567";
    for (int packed = 0; packed < 2; packed++) {
        cr_expect_eq(kf_gitlocal_has_commit(origin, sha_v1), KF_GITLOCAL_COMMIT, "packed %d", packed);
        cr_expect_eq(kf_gitlocal_has_commit(origin, sha_feature), KF_GITLOCAL_COMMIT, "packed %d", packed);
        cr_expect_eq(kf_gitlocal_has_commit(origin, absent), KF_GITLOCAL_ABSENT, "packed %d", packed);
        cr_expect_eq(kf_gitlocal_has_commit(origin, tree), KF_GITLOCAL_UNKNOWN, "a tree: packed %d", packed);
        cr_expect_eq(kf_gitlocal_has_commit(origin, tag), KF_GITLOCAL_UNKNOWN, "a tag object: packed %d", packed);
        free(git(origin, "repack", "--quiet", "-a", "-d", "--window=0", NULL));
        free(git(origin, "prune-packed", NULL));
    }
    char loose[512];
    snprintf(loose, sizeof loose, "%s/objects/%.2s/%s", origin, sha_v1, sha_v1 + 2);
    cr_expect_neq(access(loose, F_OK), 0, "the commit is only in the pack now");
    cr_expect_eq(kf_gitlocal_has_commit(origin, "abc"), KF_GITLOCAL_UNKNOWN, "not a full id");
    cr_expect_eq(kf_gitlocal_has_commit(origin, "0123456789ABCDEF0123456789ABCDEF01234567"), KF_GITLOCAL_UNKNOWN);

    /* A damaged index is never read as "absent". */
    char *packdir = path_in("origin.git/objects/pack");
    DIR *d = opendir(packdir);
    cr_assert_not_null(d);
    struct dirent *de;
    int cut = 0;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n > 4 && strcmp(de->d_name + n - 4, ".idx") == 0) {
            char idx[600];
            snprintf(idx, sizeof idx, "%s/%s", packdir, de->d_name);
            cr_assert_eq(truncate(idx, 100), 0);
            cut++;
        }
    }
    closedir(d);
    cr_assert_eq(cut, 1);
    cr_expect_eq(kf_gitlocal_has_commit(origin, absent), KF_GITLOCAL_UNKNOWN);
    free(packdir);
    free(tree);
    free(tag);
    free(origin);
}

Test(gitsrc_it, local_borrowed_checkout)
{
    char *origin = path_in("origin.git"), *dest = path_in("borrowed"), err[KF_ERRLEN] = "";
    free(git(origin, "tag", "loose-tag", sha_feature, NULL)); /* a loose ref next to the packed ones */
    free(git(origin, "pack-refs", "--all", NULL));
    free(git(origin, "tag", "-f", "loose-tag", sha_v1, NULL)); /* loose now overrides the packed entry */
    cr_assert_eq(kf_gitlocal_borrow(origin, sha_v2, dest, err), 0, "%s", err);
    free(git(dest, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", sha_v2, NULL));
    char *text = read_text(dest, "cmd/main.go");
    cr_expect_str_eq(text, MAIN_V2);
    free(text);
    char *status = git(dest, "status", "--porcelain", NULL);
    cr_expect_str_eq(status, "", "a clean tree");
    free(status);
    char *described = git(dest, "describe", "--tags", "--abbrev=0", "HEAD", NULL);
    cr_expect_str_eq(described, "v1.0.0", "tags are visible");
    free(described);
    char *lt = git(dest, "rev-parse", "loose-tag", NULL);
    cr_expect_str_eq(lt, sha_v1, "a loose tag wins over its packed entry");
    free(lt);
    char *branch = git(dest, "rev-parse", "--abbrev-ref", "HEAD", NULL);
    cr_expect_str_eq(branch, "HEAD", "detached");
    free(branch);

    char *again = path_in("borrowed2");
    cr_expect_eq(kf_gitlocal_borrow("relative/mirror.git", sha_v2, again, err), KF_EINTERNAL);
    cr_expect_eq(kf_gitlocal_borrow(origin, "abc", again, err), KF_EINTERNAL);
    cr_expect_eq(kf_gitlocal_borrow(origin, sha_v2, dest, err), KF_EIO, "dest must not exist");
    free(again);
    free(dest);
    free(origin);
}
