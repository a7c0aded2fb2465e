/* The go driver against the real go 1.19 and the hello fixture: list,
 * build, cross-compile (run under qemu), errors, reproducibility. Offline:
 * GOFLAGS=-mod=mod GOPROXY=off; the build cache is kept between runs in
 * $KF_GOCACHE (default /tmp/kofarm-itest-gocache) so reruns are fast. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "digest.h"
#include "gobuild.h"
#include "golocal.h"
#include "spawn.h"
#include "../testfiles.h"

#define FIXTURE KF_SOURCE_DIR "/tests/fixtures/hello"
#define GREETING "hello from kofarm\nhi from kodata\n"

static char **go_env;
static char tmpdir[64];
static char gocache[512];

static void setup(void)
{
    const char *cache = getenv("KF_GOCACHE");
    snprintf(gocache, sizeof gocache, "%s", cache && *cache ? cache : "/tmp/kofarm-itest-gocache");
    setenv("GOCACHE", gocache, 1);
    setenv("GOFLAGS", "-mod=mod", 1);
    setenv("GOPROXY", "off", 1);
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_go_clean_env(&go_env, err), 0, "%s", err);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kf-itest-gobuild-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static int run(const char *const *argv, const char *const *envp, const char *cwd, struct kf_buf *out, int *status)
{
    struct kf_spawn s = {.argv = argv, .envp = envp, .cwd = cwd, .out = out, .errout = out,
                         .timeout_ms = 600000};
    char err[KF_ERRLEN] = "";
    int rc = kf_spawn_run(&s, status, err);
    cr_expect_eq(rc, 0, "%s: %s", argv[0], err);
    return rc;
}

static void teardown(void)
{
    const char *argv[] = {"rm", "-rf", tmpdir, NULL};
    int status;
    if (tmpdir[0])
        run(argv, NULL, NULL, NULL, &status);
    kf_go_env_free(go_env);
    go_env = NULL;
    errno = 0;
    cr_expect_eq(waitpid(-1, NULL, WNOHANG), -1, "a child is left");
    cr_expect_eq(errno, ECHILD);
}

TestSuite(gobuild_it, .init = setup, .fini = teardown, .timeout = 900);

static char *tmp_path(const char *name)
{
    char *p;
    cr_assert_geq(asprintf(&p, "%s/%s", tmpdir, name), 0);
    return p;
}

static struct kf_gobuild_opts opts_for(const char *workdir, const char *import_path, const char *output,
                                       const char *goarch)
{
    return (struct kf_gobuild_opts){
        .go = "go",
        .workdir = workdir,
        .import_path = import_path,
        .output = output,
        .goos = "linux",
        .goarch = goarch,
        .base_env = go_env,
        .trimpath = 1,
    };
}

static void sha256_file(const char *path, char out[KF_DIGEST_LEN])
{
    struct kf_buf b;
    kf_buf_init(&b, 0);
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_buf_read_file(&b, path, err), 0, "%s", err);
    kf_sha256_digest(b.data, b.len, out);
    kf_buf_free(&b);
}

/* Runs a built app (under qemu when given) and returns what it printed. */
static char *run_app(const char *qemu, const char *binary, int *status)
{
    const char *env[] = {"KO_DATA_PATH=" FIXTURE "/cmd/app/kodata", NULL};
    const char *argv_native[] = {binary, NULL};
    const char *argv_qemu[] = {qemu, binary, NULL};
    struct kf_buf out;
    kf_buf_init(&out, 1 << 20);
    run(qemu ? argv_qemu : argv_native, env, NULL, &out, status);
    return out.data ? (char *)kf_buf_steal(&out, NULL) : strdup("");
}

static int elf_machine(const char *path, int *elf_class)
{
    unsigned char head[20] = {0};
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fread(head, 1, sizeof head, f), sizeof head);
    fclose(f);
    cr_assert_eq(memcmp(head, "\x7f" "ELF", 4), 0);
    *elf_class = head[4];
    return head[18] | head[19] << 8; /* little-endian e_machine */
}

Test(gobuild_it, list_every_form)
{
    const char *args[] = {"./cmd/app", "example.com/hello/cmd/app", "ko://example.com/hello/cmd/app",
                          "./cmd/app/", "./cmd//server", "ko://./cmd/app"};
    const char *want_ip[] = {"example.com/hello/cmd/app", "example.com/hello/cmd/app", "example.com/hello/cmd/app",
                             "example.com/hello/cmd/app", "example.com/hello/cmd/server", "example.com/hello/cmd/app"};
    const size_t n = sizeof args / sizeof args[0];
    struct kf_gopkg pkgs[6] = {{0}};
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_go_list("go", FIXTURE, go_env, args, n, pkgs, err), 0, "%s", err);
    for (size_t i = 0; i < n; i++) {
        const char *leaf = strstr(want_ip[i], "server") ? "server" : "app";
        char dir[512], file[600];
        snprintf(dir, sizeof dir, "%s/cmd/%s", FIXTURE, leaf);
        snprintf(file, sizeof file, "%s/main.go", dir);
        cr_expect_str_eq(pkgs[i].import_path, want_ip[i], "arg %s", args[i]);
        cr_expect_str_eq(pkgs[i].name, "main");
        cr_expect_str_eq(pkgs[i].dir, dir);
        cr_expect_str_eq(pkgs[i].first_go_file, file);
        cr_expect_str_eq(pkgs[i].module_path, "example.com/hello");
        cr_expect_str_eq(pkgs[i].module_dir, FIXTURE);
        kf_gopkg_free(&pkgs[i]);
    }

    /* Relative to another working directory. */
    const char *rel[] = {".", "../server"};
    cr_assert_eq(kf_go_list("go", FIXTURE "/cmd/app", go_env, rel, 2, pkgs, err), 0, "%s", err);
    cr_expect_str_eq(pkgs[0].import_path, "example.com/hello/cmd/app");
    cr_expect_str_eq(pkgs[1].import_path, "example.com/hello/cmd/server");
    cr_expect_str_eq(pkgs[1].first_go_file, FIXTURE "/cmd/server/main.go");
    kf_gopkg_free(&pkgs[0]);
    kf_gopkg_free(&pkgs[1]);
}

struct list_error_case {
    const char *arg;
    int want;
    const char *want_text;
};

static const struct list_error_case list_errors[] = {
    {"example.com/hello/pkg/lib", KF_EBUILD, "package example.com/hello/pkg/lib is not a main package"},
    {"ko://example.com/hello/pkg/lib", KF_EBUILD, "package example.com/hello/pkg/lib is not a main package"},
    {"./pkg/lib", KF_EBUILD, "./pkg/lib: package example.com/hello/pkg/lib is not a main package"},
    {"example.com/hello/nope", KF_EBUILD, "example.com/hello/nope: cannot find module providing package"},
    {"example.com/elsewhere/x", KF_EBUILD, "example.com/elsewhere/x: cannot find module providing package"},
    {"./nope", KF_EBUILD, "./nope: "},
    {".", KF_EBUILD, "no Go files"},
    {"-x", KF_EINVAL, "-x"},
    {"./cmd/...", KF_EINVAL, "./cmd/..."},
};

Test(gobuild_it, list_errors_name_the_argument)
{
    for (size_t i = 0; i < sizeof list_errors / sizeof list_errors[0]; i++) {
        const struct list_error_case *c = &list_errors[i];
        /* A good argument first: its answer must be dropped on failure. */
        const char *args[] = {"./cmd/app", c->arg};
        struct kf_gopkg pkgs[2] = {{0}};
        char err[KF_ERRLEN] = "";
        int rc = kf_go_list("go", FIXTURE, go_env, args, 2, pkgs, err);
        cr_expect_eq(rc, c->want, "%s: rc %d (%s)", c->arg, rc, err);
        cr_expect(strstr(err, c->want_text) != NULL, "%s: message \"%s\"", c->arg, err);
        cr_expect_null(pkgs[0].import_path);
        cr_expect_null(pkgs[1].import_path);
    }
    /* Not a module at all. */
    const char *args[] = {"."};
    struct kf_gopkg pkg = {0};
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_go_list("go", tmpdir, go_env, args, 1, &pkg, err), KF_EBUILD, "%s", err);
    cr_expect(strstr(err, "go.mod") != NULL || strstr(err, "no Go files") != NULL, "%s", err);
}

Test(gobuild_it, build_and_run_host)
{
    char *out = tmp_path("app");
    struct kf_gobuild_opts o = opts_for(FIXTURE, "example.com/hello/cmd/app", out, "amd64");
    const char *ldflags[] = {"-s", "-w"};
    o.ldflags = ldflags;
    o.n_ldflags = 2;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_go_build(&o, err), 0, "%s", err);
    int status;
    char *printed = run_app(NULL, out, &status);
    cr_expect_eq(status, 0);
    cr_expect_str_eq(printed, GREETING);
    free(printed);

    /* Without its kodata the app says so and fails. */
    const char *argv[] = {out, NULL};
    const char *no_env[] = {NULL};
    struct kf_buf b;
    kf_buf_init(&b, 0);
    run(argv, no_env, NULL, &b, &status);
    cr_expect_eq(status, 1);
    cr_expect(strstr((char *)b.data, "KO_DATA_PATH") != NULL, "%s", (char *)b.data);
    kf_buf_free(&b);

    /* What go recorded: the settings ko would pass. */
    const char *version_argv[] = {"go", "version", "-m", out, NULL};
    kf_buf_init(&b, 0);
    run(version_argv, (const char *const *)go_env, NULL, &b, &status);
    cr_expect_eq(status, 0);
    const char *want[] = {"-trimpath=true", "CGO_ENABLED=0", "GOARCH=amd64", "GOOS=linux"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr((char *)b.data, want[i]) != NULL, "%s missing from:\n%s", want[i], (char *)b.data);
    kf_buf_free(&b);

    /* go does not record ldflags under -trimpath; -s shows as no symbols. */
    const char *nm_argv[] = {"go", "tool", "nm", out, NULL};
    kf_buf_init(&b, 1 << 20);
    run(nm_argv, (const char *const *)go_env, NULL, &b, &status);
    cr_expect_neq(status, 0);
    cr_expect(strstr((char *)b.data, "no symbols") != NULL, "%.200s", (char *)b.data);
    kf_buf_free(&b);
    free(out);
}

struct lines {
    char text[8192];
};

static void collect(void *ctx, const char *line)
{
    struct lines *l = ctx;
    size_t used = strlen(l->text);
    snprintf(l->text + used, sizeof l->text - used, "%s\n", line);
}

Test(gobuild_it, compile_error_reaches_the_user)
{
    char *out = tmp_path("broken");
    struct kf_gobuild_opts o = opts_for(FIXTURE, "./cmd/broken", out, "amd64");
    struct lines lines = {.text = ""};
    o.log_fn = collect;
    o.log_ctx = &lines;
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_go_build(&o, err), KF_EBUILD, "%s", err);
    cr_expect(strncmp(err, "go build ./cmd/broken: ", 23) == 0, "%s", err);
    cr_expect(strstr(err, "cmd/broken/main.go:7:") != NULL, "%s", err);
    cr_expect(strstr(lines.text, "cmd/broken/main.go:7:") != NULL, "log: %s", lines.text);
    cr_expect_neq(access(out, F_OK), 0, "no binary");
    free(out);
}

Test(gobuild_it, toolexec_refused_everywhere)
{
    char *out = tmp_path("app");
    char *marker = tmp_path("ran");
    char toolexec[600];
    snprintf(toolexec, sizeof toolexec, "-toolexec=/usr/bin/touch %s", marker);
    const char *flags[] = {toolexec};
    struct kf_gobuild_opts o = opts_for(FIXTURE, "./cmd/app", out, "amd64");
    o.flags = flags;
    o.n_flags = 1;
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_go_build(&o, err), KF_EINVAL, "%s", err);
    cr_expect(strstr(err, "-toolexec") != NULL, "%s", err);

    char goflags[640];
    snprintf(goflags, sizeof goflags, "GOFLAGS=-mod=mod -toolexec=/usr/bin/touch");
    const char *config[] = {goflags};
    o.n_flags = 0;
    o.config_env = config;
    o.n_config_env = 1;
    cr_expect_eq(kf_go_build(&o, err), KF_EINVAL, "%s", err);
    cr_expect(strstr(err, "GOFLAGS") != NULL, "%s", err);

    /* GOFLAGS from the process environment, through the clean env. */
    setenv("GOFLAGS", "-mod=mod --toolexec=/usr/bin/touch", 1);
    char **env = NULL;
    cr_assert_eq(kf_go_clean_env(&env, err), 0, "%s", err);
    o.config_env = NULL;
    o.n_config_env = 0;
    o.base_env = env;
    cr_expect_eq(kf_go_build(&o, err), KF_EINVAL, "%s", err);
    kf_go_env_free(env);

    cr_expect_neq(access(out, F_OK), 0, "nothing was built");
    cr_expect_neq(access(marker, F_OK), 0, "the tool never ran");
    free(out);
    free(marker);
}

Test(gobuild_it, cross_compile_arm64_and_armv7)
{
    char *arm64 = tmp_path("app-arm64");
    struct kf_gobuild_opts o = opts_for(FIXTURE, "ko://example.com/hello/cmd/app", arm64, "arm64");
    o.import_path = "example.com/hello/cmd/app";
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_go_build(&o, err), 0, "%s", err);
    int elf_class;
    cr_expect_eq(elf_machine(arm64, &elf_class), 183); /* EM_AARCH64 */
    cr_expect_eq(elf_class, 2);
    int status;
    char *printed = run_app("qemu-aarch64", arm64, &status);
    cr_expect_eq(status, 0);
    cr_expect_str_eq(printed, GREETING);
    free(printed);

    char *arm = tmp_path("app-armv7");
    o = opts_for(FIXTURE, "example.com/hello/cmd/app", arm, "arm");
    o.goarm = "7";
    cr_assert_eq(kf_go_build(&o, err), 0, "%s", err);
    cr_expect_eq(elf_machine(arm, &elf_class), 40); /* EM_ARM */
    cr_expect_eq(elf_class, 1);
    printed = run_app("qemu-arm", arm, &status);
    cr_expect_eq(status, 0);
    cr_expect_str_eq(printed, GREETING);
    free(printed);

    const char *version_argv[] = {"go", "version", "-m", arm, NULL};
    struct kf_buf b;
    kf_buf_init(&b, 0);
    run(version_argv, (const char *const *)go_env, NULL, &b, &status);
    cr_expect(strstr((char *)b.data, "GOARM=7") != NULL, "%s", (char *)b.data);
    kf_buf_free(&b);
    free(arm64);
    free(arm);
}

static void copy_fixture(const char *dest)
{
    char *parent = strdup(dest);
    *strrchr(parent, '/') = 0;
    const char *mkdir_argv[] = {"mkdir", "-p", parent, NULL};
    const char *cp_argv[] = {"cp", "-r", FIXTURE, dest, NULL};
    int status;
    run(mkdir_argv, NULL, NULL, NULL, &status);
    cr_assert_eq(status, 0);
    run(cp_argv, NULL, NULL, NULL, &status);
    cr_assert_eq(status, 0);
    free(parent);
}

/* Same source, different checkout paths and cache states: same bytes. */
Test(gobuild_it, reproducible_across_paths_and_cache)
{
    char *a = tmp_path("a/hello"), *b = tmp_path("b/some/deeper/checkout/hello");
    copy_fixture(a);
    copy_fixture(b);
    char *out_a = tmp_path("app-a"), *out_b = tmp_path("app-b"), *out_fresh = tmp_path("app-fresh");
    char err[KF_ERRLEN] = "";
    struct kf_gobuild_opts o = opts_for(a, "./cmd/app", out_a, "amd64");
    cr_assert_eq(kf_go_build(&o, err), 0, "%s", err);
    o = opts_for(b, "example.com/hello/cmd/app", out_b, "amd64");
    cr_assert_eq(kf_go_build(&o, err), 0, "%s", err);
    /* -a rebuilds everything, whatever the cache holds. */
    const char *rebuild_all[] = {"-a"};
    o.output = out_fresh;
    o.flags = rebuild_all;
    o.n_flags = 1;
    cr_assert_eq(kf_go_build(&o, err), 0, "%s", err);

    char sum_a[KF_DIGEST_LEN], sum_b[KF_DIGEST_LEN], sum_fresh[KF_DIGEST_LEN];
    sha256_file(out_a, sum_a);
    sha256_file(out_b, sum_b);
    sha256_file(out_fresh, sum_fresh);
    cr_expect_str_eq(sum_a, sum_b);
    cr_expect_str_eq(sum_a, sum_fresh);

    /* The check can fail: without -trimpath the paths get in. */
    char *raw_a = tmp_path("raw-a"), *raw_b = tmp_path("raw-b");
    o = opts_for(a, "./cmd/app", raw_a, "amd64");
    o.trimpath = 0;
    cr_assert_eq(kf_go_build(&o, err), 0, "%s", err);
    o = opts_for(b, "./cmd/app", raw_b, "amd64");
    o.trimpath = 0;
    cr_assert_eq(kf_go_build(&o, err), 0, "%s", err);
    sha256_file(raw_a, sum_a);
    sha256_file(raw_b, sum_b);
    cr_expect_str_neq(sum_a, sum_b);
    free(a);
    free(b);
    free(out_a);
    free(out_b);
    free(out_fresh);
    free(raw_a);
    free(raw_b);
}

struct build_job {
    struct kf_gobuild_opts o;
    int rc;
    char err[KF_ERRLEN];
};

static void *build_thread(void *arg)
{
    struct build_job *job = arg;
    job->rc = kf_go_build(&job->o, job->err);
    return NULL;
}

Test(gobuild_it, concurrent_builds)
{
    const char *arches[] = {"amd64", "arm64", "arm"};
    struct build_job jobs[3];
    pthread_t threads[3];
    char *outs[3];
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "server-%s", arches[i]);
        outs[i] = tmp_path(name);
        jobs[i].o = opts_for(FIXTURE, "./cmd/server", outs[i], arches[i]);
        jobs[i].o.goarm = i == 2 ? "7" : NULL;
        cr_assert_eq(pthread_create(&threads[i], NULL, build_thread, &jobs[i]), 0);
    }
    const int machines[] = {62, 183, 40}; /* EM_X86_64, EM_AARCH64, EM_ARM */
    for (int i = 0; i < 3; i++) {
        pthread_join(threads[i], NULL);
        cr_expect_eq(jobs[i].rc, 0, "%s: %s", arches[i], jobs[i].err);
        int elf_class;
        if (jobs[i].rc == 0)
            cr_expect_eq(elf_machine(outs[i], &elf_class), machines[i], "%s", arches[i]);
        free(outs[i]);
    }
}

struct canceler {
    volatile int flag;
};

static void *cancel_soon(void *arg)
{
    struct timespec ts = {0, 500 * 1000000L};
    nanosleep(&ts, NULL);
    ((struct canceler *)arg)->flag = 1;
    return NULL;
}

Test(gobuild_it, cancel_stops_the_build)
{
    char *out = tmp_path("canceled");
    struct kf_gobuild_opts o = opts_for(FIXTURE, "./cmd/app", out, "amd64");
    const char *rebuild_all[] = {"-a"}; /* long enough to be caught running */
    o.flags = rebuild_all;
    o.n_flags = 1;
    struct canceler c = {0};
    o.cancel = &c.flag;
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, cancel_soon, &c), 0);
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_go_build(&o, err), KF_ECANCELED, "%s", err);
    pthread_join(thread, NULL);
    cr_expect_neq(access(out, F_OK), 0);
    free(out);
}

Test(gobuild_it, go_env_json)
{
    char **kv = NULL;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_go_env_json("go", FIXTURE, go_env, &kv, err), 0, "%s", err);
    int seen = 0;
    char want_cache[600], want_mod[600];
    snprintf(want_cache, sizeof want_cache, "GOCACHE=%s", gocache);
    snprintf(want_mod, sizeof want_mod, "GOMOD=%s/go.mod", FIXTURE);
    for (size_t i = 0; kv[i]; i++) {
        seen += !strcmp(kv[i], "GOOS=linux") + !strcmp(kv[i], "GOFLAGS=-mod=mod") + !strcmp(kv[i], want_cache) +
                !strcmp(kv[i], want_mod);
    }
    cr_expect_eq(seen, 4);
    kf_go_env_free(kv);

    cr_expect_eq(kf_go_env_json("/nonexistent/go", FIXTURE, go_env, &kv, err), KF_ENOTFOUND);
    cr_expect_null(kv);
}

/* What real go list says, in one line, or "" when it fails. */
static char *go_says(const char *dir, const char *arg)
{
    const char *argv[] = {"go", "list", "-f",
                          "{{.ImportPath}} {{.Name}} {{.Dir}} {{index .GoFiles 0}} {{.Module.Path}} {{.Module.Dir}}",
                          "--", arg, NULL};
    struct kf_buf out;
    kf_buf_init(&out, 0);
    int status = -1;
    run(argv, (const char *const *)go_env, dir, &out, &status);
    char *text = strndup(out.data ? (char *)out.data : "", out.len);
    kf_buf_free(&out);
    if (status != 0)
        text[0] = 0;
    for (size_t n = strlen(text); n && text[n - 1] == '\n';)
        text[--n] = 0;
    return text;
}

/* The in-process answer must be go list's, or no answer at all. */
static void expect_local(const char *dir, const char *arg, int want_answer)
{
    struct kf_gopkg pkg;
    int answered = kf_go_list_local(dir, go_env, arg, &pkg);
    cr_expect_eq(answered, want_answer, "%s in %s: answered %d", arg, dir, answered);
    if (!answered)
        return;
    const char *slash = strrchr(pkg.first_go_file, '/');
    char mine[2048];
    snprintf(mine, sizeof mine, "%s %s %s %s %s %s", pkg.import_path, pkg.name, pkg.dir, slash + 1, pkg.module_path,
             pkg.module_dir);
    char *go = go_says(dir, strncmp(arg, "ko://", 5) == 0 ? arg + 5 : arg);
    cr_expect_str_eq(mine, go, "%s in %s", arg, dir);
    free(go);
    kf_gopkg_free(&pkg);
}

Test(gobuild_it, list_local_matches_go)
{
    char *m = tmp_path("mod");
    mkdir(m, 0755);
    test_put_file(m, "go.mod", "// a comment first\nmodule \"example.com/loc\" // trailing\n\ngo 1.19\n");
    test_put_file(m, "main.go", "/* block\n comment */ package main\n\nfunc main() {}\n");
    test_put_file(m, "cmd/app/z.go", "package main\n\nfunc main() {}\n");
    test_put_file(m, "cmd/app/a.go", "// +build linux\n\n//go:build linux\n\npackage main\n");
    test_put_file(m, "cmd/app/a_test.go", "package main_test\n");
    test_put_file(m, "cmd/app/_skip.go", "package other\n");
    test_put_file(m, "lib/l.go", "package lib\n");
    test_put_file(m, "mixed/a.go", "package main\n\nfunc main() {}\n");
    test_put_file(m, "mixed/b.go", "package notmain\n");
    test_put_file(m, "nested/go.mod", "module example.com/nested\n");
    test_put_file(m, "nested/cmd/x.go", "package main\n\nfunc main() {}\n");
    test_put_file(m, "testdata/t/main.go", "package main\n\nfunc main() {}\n");
    char *link = tmp_path("mod/linked");
    cr_assert_eq(symlink("cmd/app", link), 0);

    expect_local(m, ".", 1);
    expect_local(m, "./cmd/app", 1);
    expect_local(m, "./cmd/app/", 1);
    expect_local(m, "example.com/loc/cmd/app", 1);
    expect_local(m, "ko://example.com/loc/cmd/app", 1);
    expect_local(m, "example.com/loc", 1);
    expect_local(FIXTURE, "./cmd/app", 1);
    expect_local(FIXTURE, "./cmd/server", 1);
    /* left to go list */
    expect_local(m, "./lib", 0);              /* not main: go list words the error */
    expect_local(m, "./mixed", 0);            /* two package names */
    expect_local(m, "./nested/cmd", 0);       /* another module */
    expect_local(m, "./testdata/t", 0);
    expect_local(m, "./linked", 0);           /* a symlinked directory */
    expect_local(m, "./missing", 0);
    expect_local(m, "./cmd/../cmd/app", 0);
    expect_local(m, "example.com/other/cmd", 0);
    expect_local(m, "example.com/locx/cmd/app", 0);
    char *sub = tmp_path("mod/cmd");
    expect_local(sub, "./app", 0);            /* go.mod is not in the working directory */
    test_put_file(m, "go.work", "go 1.19\n\nuse .\n");
    expect_local(m, "./cmd/app", 0);          /* a workspace */
    free(sub);
    free(link);
    free(m);
}
