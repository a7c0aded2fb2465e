/* The go driver's pure parts: environments, argv, -toolexec refusal,
 * argument checks and error trimming. Real go runs in itest_gobuild. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gobuild.h"
#include "gotool.h"

static size_t count(char **v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

static const char *lookup(char **env, const char *key)
{
    size_t len = strlen(key);
    for (size_t i = 0; env && env[i]; i++) {
        if (strncmp(env[i], key, len) == 0 && env[i][len] == '=')
            return env[i] + len + 1;
    }
    return NULL;
}

struct flag_case {
    const char *flags[3];
    const char *goflags;     /* GOFLAGS in the process-side env, or NULL */
    const char *config_env;  /* one config env entry, or NULL */
    int want;
};

static const struct flag_case flag_cases[] = {
    {{"-tags", "netgo", NULL}, NULL, NULL, 0},
    {{"-toolexec", "/bin/true", NULL}, NULL, NULL, KF_EINVAL},
    {{"--toolexec", "x", NULL}, NULL, NULL, KF_EINVAL},
    {{"-toolexec=/bin/true", NULL}, NULL, NULL, KF_EINVAL},
    {{"--toolexec=x", NULL}, NULL, NULL, KF_EINVAL},
    {{"-toolexecx", NULL}, NULL, NULL, 0},           /* not the flag */
    {{"-tags", "toolexec", NULL}, NULL, NULL, 0},    /* a value, not a flag */
    {{"---toolexec=x", NULL}, NULL, NULL, 0},        /* go rejects it itself */
    {{NULL}, "-mod=mod", NULL, 0},
    {{NULL}, "-mod=mod -toolexec=/bin/true", NULL, KF_EINVAL},
    {{NULL}, "\t--toolexec\t/x", NULL, KF_EINVAL},
    {{NULL}, "-ldflags=-X=main.v=-toolexec", NULL, 0}, /* substring inside a value */
    {{NULL}, "'-toolexec=/bin/true'", NULL, KF_EINVAL},
    {{NULL}, NULL, "GOFLAGS=-toolexec", KF_EINVAL},
    {{NULL}, NULL, "GOFLAGS=-trimpath", 0},
    {{NULL}, NULL, "NOTGOFLAGS=-toolexec=x", 0},
};

Test(gobuild, toolexec_refused)
{
    for (size_t i = 0; i < sizeof flag_cases / sizeof flag_cases[0]; i++) {
        const struct flag_case *c = &flag_cases[i];
        size_t n = 0;
        while (n < 3 && c->flags[n])
            n++;
        char goflags[128];
        char *env[3] = {"PATH=/usr/bin", NULL, NULL};
        if (c->goflags) {
            snprintf(goflags, sizeof goflags, "GOFLAGS=%s", c->goflags);
            env[1] = goflags;
        }
        const char *config[1] = {c->config_env};
        char err[KF_ERRLEN] = "";
        int rc = kf_go_check_flags(c->flags, n, env, config, c->config_env ? 1 : 0, err);
        cr_expect_eq(rc, c->want, "case %zu: rc %d (%s)", i, rc, err);
        if (c->want)
            cr_expect(strstr(err, "toolexec") != NULL, "case %zu: %s", i, err);
    }
}

Test(gobuild, toolexec_stops_build_before_go_runs)
{
    const char *flags[] = {"-toolexec=/bin/echo"};
    struct kf_gobuild_opts o = {.go = "/nonexistent/go", .import_path = "example.com/x", .output = "/tmp/x",
                                .goos = "linux", .goarch = "amd64", .flags = flags, .n_flags = 1};
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_go_build(&o, err), KF_EINVAL, "%s", err);
    const char *config[] = {"GOFLAGS=-toolexec=/bin/echo"};
    o.n_flags = 0;
    o.config_env = config;
    o.n_config_env = 1;
    cr_expect_eq(kf_go_build(&o, err), KF_EINVAL, "%s", err);
    char *base[] = {"GOFLAGS=--toolexec /bin/echo", NULL};
    o.n_config_env = 0;
    o.base_env = base;
    cr_expect_eq(kf_go_build(&o, err), KF_EINVAL, "%s", err);
    /* Without it, the missing go is what fails. */
    o.base_env = NULL;
    cr_expect_eq(kf_go_build(&o, err), KF_ENOTFOUND, "%s", err);
}

Test(gobuild, build_env_layers)
{
    char *base[] = {"PATH=/usr/bin", "GOOS=plan9", "CGO_ENABLED=1", "HOME=/root", NULL};
    const char *config[] = {"GOFLAGS=-tags=x", "HOME=/h2", "CGO_ENABLED=1", "EMPTY=", NULL};
    struct kf_gobuild_opts o = {.goos = "linux", .goarch = "arm", .goarm = "7", .base_env = base,
                                .config_env = config, .n_config_env = 4};
    char **env = NULL;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_go_build_env(&o, &env, err), 0, "%s", err);
    cr_expect_str_eq(lookup(env, "GOOS"), "linux");      /* the platform beats the process env */
    cr_expect_str_eq(lookup(env, "GOARCH"), "arm");
    cr_expect_str_eq(lookup(env, "GOARM"), "7");
    cr_expect_str_eq(lookup(env, "CGO_ENABLED"), "1");   /* config wins */
    cr_expect_str_eq(lookup(env, "HOME"), "/h2");
    cr_expect_str_eq(lookup(env, "EMPTY"), "");
    cr_expect_str_eq(lookup(env, "PATH"), "/usr/bin");
    cr_expect_null(lookup(env, "GOAMD64"));
    cr_expect_eq(count(env), 8, "one entry per key");
    kf_go_env_free(env);

    o = (struct kf_gobuild_opts){.goos = "linux", .goarch = "amd64", .goamd64 = "v3"};
    cr_assert_eq(kf_go_build_env(&o, &env, err), 0, "%s", err);
    cr_expect_str_eq(lookup(env, "CGO_ENABLED"), "0");
    cr_expect_str_eq(lookup(env, "GOAMD64"), "v3");
    cr_expect_null(lookup(env, "GOARM"));
    cr_expect_eq(count(env), 4);
    kf_go_env_free(env);
}

/* GOMAXPROCS, GOGC and GOMEMLIMIT are set as asked, except where the
 * operator's environment or the build config says otherwise. */
Test(gobuild, build_env_tuning)
{
    struct kf_gobuild_opts o = {.goos = "linux", .goarch = "amd64", .gomaxprocs = 1, .gogc = 200,
                                .gomemlimit_mib = 6144};
    char **env = NULL;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_go_build_env(&o, &env, err), 0, "%s", err);
    cr_expect_str_eq(lookup(env, "GOMAXPROCS"), "1");
    cr_expect_str_eq(lookup(env, "GOGC"), "200");
    cr_expect_str_eq(lookup(env, "GOMEMLIMIT"), "6144MiB");
    kf_go_env_free(env);

    char *base[] = {"GOMAXPROCS=8", "GOMEMLIMIT=1GiB", NULL};
    const char *config[] = {"GOGC=50", NULL};
    o.base_env = base;
    o.config_env = config;
    o.n_config_env = 1;
    cr_assert_eq(kf_go_build_env(&o, &env, err), 0, "%s", err);
    cr_expect_str_eq(lookup(env, "GOMAXPROCS"), "8", "the operator's value stays");
    cr_expect_str_eq(lookup(env, "GOGC"), "50", "the build config wins");
    cr_expect_str_eq(lookup(env, "GOMEMLIMIT"), "1GiB", "the operator's limit stays");
    kf_go_env_free(env);

    o = (struct kf_gobuild_opts){.goos = "linux", .goarch = "amd64"};
    cr_assert_eq(kf_go_build_env(&o, &env, err), 0, "%s", err);
    cr_expect_null(lookup(env, "GOMAXPROCS"), "one build at a time: go's own defaults");
    cr_expect_null(lookup(env, "GOGC"));
    cr_expect_null(lookup(env, "GOMEMLIMIT"));
    kf_go_env_free(env);
}

Test(gobuild, build_env_rejects)
{
    struct {
        const char *goos, *goarch, *goarm, *config;
    } cases[] = {
        {"linux", "amd64", NULL, "NOEQUALS"},
        {"linux", "amd64", NULL, "=value"},
        {"linux", "amd64", NULL, "BAD KEY=1"},
        {"linux", "amd64", NULL, "K-1=1"},
        {"", "amd64", NULL, NULL},
        {NULL, "amd64", NULL, NULL},
        {"linux", "AMD64", NULL, NULL},
        {"linux", "amd64;x", NULL, NULL},
        {"linux", "arm", "7 ", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *config[] = {cases[i].config};
        struct kf_gobuild_opts o = {.goos = cases[i].goos, .goarch = cases[i].goarch, .goarm = cases[i].goarm,
                                    .config_env = config, .n_config_env = cases[i].config ? 1 : 0};
        char **env = (char **)&o; /* must be reset to NULL */
        char err[KF_ERRLEN] = "";
        cr_expect_eq(kf_go_build_env(&o, &env, err), KF_EINVAL, "case %zu", i);
        cr_expect_null(env, "case %zu", i);
        cr_expect_neq(err[0], 0, "case %zu has a message", i);
    }
}

static char *joined(char **argv)
{
    static char line[1024];
    line[0] = 0;
    for (size_t i = 0; argv[i]; i++) {
        size_t used = strlen(line);
        snprintf(line + used, sizeof line - used, "%s%s", i ? "|" : "", argv[i]);
    }
    return line;
}

Test(gobuild, build_argv_in_kos_order)
{
    const char *flags[] = {"-tags", "netgo", "-trimpath=false"};
    const char *ldflags[] = {"-s", "-w", "-X main.version=1.0"};
    struct kf_gobuild_opts o = {.go = "go", .import_path = "example.com/hello/cmd/app", .output = "/tmp/o/out",
                                .flags = flags, .n_flags = 3, .ldflags = ldflags, .n_ldflags = 3, .trimpath = 1};
    char **argv = NULL;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_go_build_argv(&o, &argv, err), 0, "%s", err);
    cr_expect_str_eq(joined(argv), "go|build|-tags|netgo|-trimpath=false|-trimpath|-ldflags=-s -w -X main.version=1.0"
                                   "|-o|/tmp/o/out|example.com/hello/cmd/app");
    kf_go_env_free(argv);

    o = (struct kf_gobuild_opts){.go = "/usr/bin/go", .import_path = "x.io/a", .output = "out"};
    cr_assert_eq(kf_go_build_argv(&o, &argv, err), 0, "%s", err);
    cr_expect_str_eq(joined(argv), "/usr/bin/go|build|-o|out|x.io/a");
    kf_go_env_free(argv);

    o.import_path = "-x";
    cr_expect_eq(kf_go_build_argv(&o, &argv, err), KF_EINVAL);
    cr_expect_null(argv);
    o.import_path = "x.io/a";
    o.output = "-o";
    cr_expect_eq(kf_go_build_argv(&o, &argv, err), KF_EINVAL);
    o.output = NULL;
    cr_expect_eq(kf_go_build_argv(&o, &argv, err), KF_EINTERNAL);
}

Test(gobuild, clean_env_passes_only_go_settings)
{
    unsetenv("GOCACHE"); /* the test runner's own cache must not count */
    setenv("GOPROXY", "off", 1);
    setenv("GOFLAGS", "-mod=mod", 1);
    setenv("HOME", "/home/kf", 1);
    setenv("https_proxy", "http://proxy:3128", 1);
    setenv("DOCKER_CONFIG", "/secret", 1);
    setenv("KOFARM_REGISTRY_PASSWORD", "hunter2", 1);
    setenv("KO_DOCKER_REPO", "r.io/x", 1);
    setenv("GOOS", "windows", 1);
    setenv("CC", "/tmp/evil", 1);
    setenv("LD_PRELOAD", "/tmp/evil.so", 1);
    char **env = NULL;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_go_clean_env(&env, err), 0, "%s", err);
    cr_expect_str_eq(lookup(env, "GOPROXY"), "off");
    cr_expect_str_eq(lookup(env, "GOFLAGS"), "-mod=mod");
    cr_expect_str_eq(lookup(env, "HOME"), "/home/kf");
    cr_expect_str_eq(lookup(env, "https_proxy"), "http://proxy:3128");
    const char *never[] = {"DOCKER_CONFIG", "KOFARM_REGISTRY_PASSWORD", "KO_DOCKER_REPO", "GOOS", "CC", "LD_PRELOAD"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        cr_expect_null(lookup(env, never[i]), "%s passed", never[i]);
    for (size_t i = 0; env[i]; i++)
        cr_expect(strstr(env[i], "hunter2") == NULL && strstr(env[i], "KOFARM") == NULL, "%s", env[i]);
    cr_expect_null(lookup(env, "GOCACHE"), "HOME is enough for go to find a cache");
    kf_go_env_free(env);
}

Test(gobuild, clean_env_private_gocache)
{
    char tmp[] = "/tmp/kf-test-gocache-XXXXXX";
    cr_assert_not_null(mkdtemp(tmp));
    unsetenv("HOME");
    unsetenv("XDG_CACHE_HOME");
    unsetenv("GOCACHE");
    setenv("TMPDIR", tmp, 1);
    char **env = NULL;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_go_clean_env(&env, err), 0, "%s", err);
    char want[256];
    snprintf(want, sizeof want, "%s/kofarm-gocache-%lu", tmp, (unsigned long)geteuid());
    cr_expect_str_eq(lookup(env, "GOCACHE"), want);
    struct stat st;
    cr_assert_eq(stat(want, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0700);
    kf_go_env_free(env);

    /* Someone else's (here: world-writable) directory is refused. */
    cr_assert_eq(chmod(want, 0777), 0);
    cr_expect_eq(kf_go_clean_env(&env, err), KF_EIO);
    cr_expect_null(env);
    cr_expect(strstr(err, "GOCACHE") != NULL, "%s", err);
    rmdir(want);
    rmdir(tmp);
}

struct list_case {
    const char *arg;
    int want;
};

/* Bad arguments are refused before go runs (go here does not exist). */
static const struct list_case list_cases[] = {
    {"-toolexec=x", KF_EINVAL},
    {"ko://-x", KF_EINVAL},
    {"", KF_EINVAL},
    {"ko://", KF_EINVAL},
    {"./...", KF_EINVAL},
    {"example.com/x/...", KF_EINVAL},
    {"example.com/x@v1.0.0", KF_EINVAL},
    {"all", KF_EINVAL},
    {"std", KF_EINVAL},
    {"./cmd/app/main.go", KF_EINVAL},
    {"./cmd\napp", KF_EINVAL},
    {"./cmd\x1b[2Japp", KF_EINVAL},
    {"./app", KF_ENOTFOUND}, /* valid: reaches the missing go */
    {"ko://example.com/x", KF_ENOTFOUND},
    {"./dir@host", KF_ENOTFOUND}, /* '@' is fine in a directory */
};

Test(gobuild, list_argument_checks)
{
    for (size_t i = 0; i < sizeof list_cases / sizeof list_cases[0]; i++) {
        const char *args[] = {list_cases[i].arg};
        struct kf_gopkg out = {0};
        char err[KF_ERRLEN] = "";
        int rc = kf_go_list("/nonexistent/go", "/tmp", NULL, args, 1, &out, err);
        cr_expect_eq(rc, list_cases[i].want, "case %zu: rc %d (%s)", i, rc, err);
        cr_expect_null(out.import_path);
    }
    char longarg[KF_GO_ARG_MAX + 2];
    memset(longarg, 'a', sizeof longarg - 1);
    longarg[sizeof longarg - 1] = 0;
    const char *args[] = {"./ok", longarg};
    struct kf_gopkg out[2] = {{0}};
    cr_expect_eq(kf_go_list("/nonexistent/go", "/tmp", NULL, args, 2, out, NULL), KF_EINVAL);
    cr_expect_eq(kf_go_list("/nonexistent/go", "/tmp", NULL, args, 0, out, NULL), KF_EINVAL);
}

Test(gobuild, gopkg_free_zeroes)
{
    struct kf_gopkg p = {.import_path = strdup("a"), .name = strdup("main"), .module_path = NULL};
    kf_gopkg_free(&p);
    cr_expect_null(p.import_path);
    cr_expect_null(p.name);
    kf_gopkg_free(&p);
    kf_gopkg_free(NULL);
}

Test(gobuild, tool_error_trimming)
{
    char err[KF_ERRLEN];
    cr_expect_eq(kf_gotool_fail(err, KF_EBUILD, "go build x", "\n# x\nmain.go:7: syntax error\n\n"), KF_EBUILD);
    cr_expect_str_eq(err, "go build x: # x\nmain.go:7: syntax error");

    kf_gotool_fail(err, KF_EBUILD, "w", "a\x1b[31mb\tc\rd");
    cr_expect_str_eq(err, "w: a?[31mb\tc?d");

    /* Long output: the start is kept, cut at a line end, marked. */
    static char big[8192];
    size_t used = 0;
    for (int line = 0; used + 32 < sizeof big; line++)
        used += (size_t)snprintf(big + used, sizeof big - used, "main.go:%d: error number %d\n", line, line);
    kf_gotool_fail(err, KF_EBUILD, "go build x", big);
    cr_expect_lt(strlen(err), (size_t)KF_ERRLEN);
    cr_expect(strncmp(err, "go build x: main.go:0: error number 0\nmain.go:1:", 48) == 0, "%s", err);
    size_t len = strlen(err);
    cr_expect_str_eq(err + len - 4, "\n...");
    cr_expect(err[len - 5] >= '0' && err[len - 5] <= '9', "ends with a whole line: %s", err + len - 20);
    cr_expect_eq(kf_gotool_fail(NULL, KF_EIO, "x", "y"), KF_EIO);
}
