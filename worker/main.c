/* kofarm-worker: flags (each with an environment variable), the state
 * directory, signals, then the claim loop; `kofarm-worker migrate` applies
 * the database migrations. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "worker.h"

extern char **environ;

volatile sig_atomic_t wk_signals;

enum opt_kind { OPT_STRING, OPT_INT, OPT_BOOL };

struct opt {
    const char *name; /* --name */
    const char *env;
    enum opt_kind kind;
    void *dest;       /* const char ** or int * */
    int min, max;     /* OPT_INT range */
    const char *help;
};

static void usage(FILE *f, const struct opt *opts, size_t n)
{
    fprintf(f, "Usage: kofarm-worker [flags]         claim build jobs from PostgreSQL and run them\n"
               "       kofarm-worker migrate         apply the database migrations, then exit\n\nFlags (each also "
               "read from its environment variable; a flag wins):\n");
    for (size_t i = 0; i < n; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s", opts[i].name, opts[i].kind == OPT_BOOL ? "" : " X");
        fprintf(f, "  %-28s %-28s %s\n", left, opts[i].env, opts[i].help);
    }
    fprintf(f, "\nGo settings for builds come from the worker's own environment: GOPROXY, GOFLAGS,\n"
               "GOPRIVATE, GONOSUMDB, GONOPROXY, GOSUMDB, GOINSECURE, GOTOOLCHAIN, GOCACHE and GOMODCACHE\n"
               "(default STATE_DIR/go/cache and STATE_DIR/go/mod). Registry credentials come from\n"
               "$DOCKER_CONFIG/config.json (else ~/.docker/config.json) and reach only the publish step.\n");
}

static int set_opt(const struct opt *o, const char *value, const char *from)
{
    if (o->kind == OPT_STRING) {
        *(const char **)o->dest = value;
        return 0;
    }
    if (o->kind == OPT_BOOL) {
        if (!*value || !strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes")) {
            *(int *)o->dest = 1;
            return 0;
        }
        if (!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no")) {
            *(int *)o->dest = 0;
            return 0;
        }
        fprintf(stderr, "kofarm-worker: %s: \"%s\" is not a boolean (1/0, true/false)\n", from, value);
        return -1;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < o->min || v > o->max) {
        fprintf(stderr, "kofarm-worker: %s: \"%s\" is not a number in %d..%d\n", from, value, o->min, o->max);
        return -1;
    }
    *(int *)o->dest = (int)v;
    return 0;
}

/* Environment first, then flags over it. Returns 0, 1 for --help, -1. */
static int parse(int argc, char **argv, const struct opt *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = getenv(opts[i].env);
        if (v && *v && set_opt(&opts[i], v, opts[i].env))
            return -1;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
            return 1;
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "kofarm-worker: unexpected argument \"%s\"\n", arg);
            return -1;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = NULL;
        for (size_t i = 0; i < n && !o; i++)
            if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
                o = &opts[i];
        if (!o) {
            fprintf(stderr, "kofarm-worker: unknown flag \"%s\" (see --help)\n", arg);
            return -1;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value && o->kind == OPT_BOOL)
            value = "1";
        if (!value) {
            if (a + 1 >= argc) {
                fprintf(stderr, "kofarm-worker: --%s needs a value\n", o->name);
                return -1;
            }
            value = argv[++a];
        }
        if (set_opt(o, value, arg))
            return -1;
    }
    return 0;
}

/* STATE_DIR/sub, created; NULL (with a message) when it cannot be. */
static char *state_subdir(const char *state, const char *sub)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", state, sub) < 0)
        return NULL;
    if (kf_mkdirs(path) != 0) {
        fprintf(stderr, "kofarm-worker: cannot create %s: %s\n", path, strerror(errno));
        free(path);
        return NULL;
    }
    return path;
}

/* Go's caches live in the state directory unless the operator chose. Set
 * before any thread starts (setenv is not thread-safe). */
static int go_cache_env(const char *state)
{
    static const char *const vars[][2] = {{"GOCACHE", "go/cache"}, {"GOMODCACHE", "go/mod"}};
    for (size_t i = 0; i < 2; i++) {
        const char *cur = getenv(vars[i][0]);
        if (cur && *cur)
            continue;
        char *dir = state_subdir(state, vars[i][1]);
        if (!dir || setenv(vars[i][0], dir, 1) != 0) {
            free(dir);
            return -1;
        }
        free(dir);
    }
    return 0;
}

/* Our environment minus what git must not see (database URL, registry
 * credentials, our own settings). */
static char **git_env(void)
{
    static const char *const drop[] = {"KOFARM_", "PG", "DOCKER_", "REGISTRY_"};
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 1, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; env && i < n; i++) {
        int keep = 1;
        for (size_t d = 0; d < sizeof drop / sizeof drop[0]; d++)
            if (!strncmp(environ[i], drop[d], strlen(drop[d])))
                keep = 0;
        if (keep && !(env[k++] = strdup(environ[i]))) {
            for (size_t j = 0; j + 1 < k; j++)
                free(env[j]);
            free(env);
            return NULL;
        }
    }
    return env;
}

static void free_env(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

static void on_signal(int sig)
{
    if (sig != SIGUSR1 && wk_signals < 100)
        wk_signals++;
}

static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: the wait must return */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL) || sigaction(SIGUSR1, &sa, NULL))
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int migrate(const struct wk_config *cfg)
{
    char err[KF_ERRLEN] = "", dir[PATH_MAX];
    const char *share = getenv("KOFARM_SHARE_DIR");
    if (snprintf(dir, sizeof dir, "%s/migrations", share && *share ? share : KF_SHARE_DIR_DEFAULT) >=
        (int)sizeof dir) {
        fprintf(stderr, "kofarm-worker: KOFARM_SHARE_DIR is too long\n");
        return 1;
    }
    struct kf_db *db = NULL;
    int applied = 0;
    int rc = kf_db_open(cfg->database_url, "kofarm-worker", &db, err);
    if (!rc)
        rc = kf_db_migrate(db, dir, &applied, err);
    kf_db_close(db);
    if (rc) {
        fprintf(stderr, "kofarm-worker: migrate: %s\n", err[0] ? err : kf_strerror(rc));
        return 1;
    }
    printf("applied %d migration%s\n", applied, applied == 1 ? "" : "s");
    return 0;
}

static const char *default_state_dir(void)
{
    if (kf_mkdirs("/var/lib/kofarm") == 0 && access("/var/lib/kofarm", W_OK | X_OK) == 0)
        return "/var/lib/kofarm";
    return "./.kofarm-worker";
}

int main(int argc, char **argv)
{
    struct wk_config cfg;
    memset(&cfg, 0, sizeof cfg);
    const char *id = NULL;
    cfg.concurrency = 2;
    cfg.lease_ms = 30000;
    cfg.grace_ms = 20000;
    const struct opt opts[] = {
        {"database-url", "KOFARM_DATABASE_URL", OPT_STRING, &cfg.database_url, 0, 0, "libpq URI (required)"},
        {"repo", "KOFARM_REPO", OPT_STRING, &cfg.repo, 0, 0, "default destination repository"},
        {"default-base-image", "KOFARM_DEFAULT_BASE_IMAGE", OPT_STRING, &cfg.default_base, 0, 0,
         "base image when a job names none (scratch allowed)"},
        {"insecure-registries", "KOFARM_INSECURE_REGISTRIES", OPT_STRING, &cfg.insecure_hosts, 0, 0,
         "comma list of hosts reached over plain http"},
        {"allow-file-urls", "KOFARM_ALLOW_FILE_URLS", OPT_BOOL, &cfg.allow_file_urls, 0, 1,
         "accept file:// git URLs"},
        {"state-dir", "KOFARM_STATE_DIR", OPT_STRING, &cfg.state_dir, 0, 0,
         "caches and job directories (/var/lib/kofarm, else ./.kofarm-worker)"},
        {"concurrency", "KOFARM_CONCURRENCY", OPT_INT, &cfg.concurrency, 1, WK_CONCURRENCY_MAX,
         "jobs run at once (default 2)"},
        {"lease", "KOFARM_LEASE_MS", OPT_INT, &cfg.lease_ms, 500, 3600000,
         "job lease in ms, renewed every third of it (default 30000)"},
        {"id", "KOFARM_WORKER_ID", OPT_STRING, &id, 0, 0, "worker name in lease owners (default host:pid)"},
        {"shutdown-grace", "KOFARM_SHUTDOWN_GRACE_MS", OPT_INT, &cfg.grace_ms, 0, 86400000,
         "on SIGTERM, time running jobs get to finish before they are handed back (default 20000)"},
    };
    size_t n_opts = sizeof opts / sizeof opts[0];
    int do_migrate = argc > 1 && !strcmp(argv[1], "migrate");
    if (do_migrate) {
        argv++;
        argc--;
    }
    int p = parse(argc, argv, opts, n_opts);
    if (p) {
        usage(p > 0 ? stdout : stderr, opts, n_opts);
        return p > 0 ? 0 : 2;
    }
    if (!cfg.database_url || !*cfg.database_url) {
        fprintf(stderr, "kofarm-worker: no database: set KOFARM_DATABASE_URL or --database-url\n");
        return 2;
    }
    if (do_migrate)
        return migrate(&cfg);
    if (cfg.repo && !*cfg.repo)
        cfg.repo = NULL;
    if (cfg.default_base && !*cfg.default_base)
        cfg.default_base = NULL;
    if (id && (!*id || strlen(id) >= WK_ID_MAX || strchr(id, '#'))) {
        fprintf(stderr, "kofarm-worker: --id must be 1..%d characters without '#'\n", WK_ID_MAX - 1);
        return 2;
    }
    if (id) {
        snprintf(cfg.worker_id, sizeof cfg.worker_id, "%s", id);
    } else {
        char host[64] = "host";
        gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = 0;
        snprintf(cfg.worker_id, sizeof cfg.worker_id, "%s:%ld", host, (long)getpid());
    }
    if (!cfg.state_dir || !*cfg.state_dir)
        cfg.state_dir = default_state_dir();

    int rc = 1;
    if (kf_mkdirs(cfg.state_dir) != 0) {
        fprintf(stderr, "kofarm-worker: cannot create %s: %s\n", cfg.state_dir, strerror(errno));
        goto out;
    }
    /* Absolute: job directories are handed to git, go and the engine. */
    static char state_abs[PATH_MAX];
    if (!realpath(cfg.state_dir, state_abs)) {
        fprintf(stderr, "kofarm-worker: %s: %s\n", cfg.state_dir, strerror(errno));
        goto out;
    }
    cfg.state_dir = state_abs;
    cfg.git_dir = state_subdir(cfg.state_dir, "git");
    cfg.jobs_dir = state_subdir(cfg.state_dir, "jobs");
    cfg.layers_dir = state_subdir(cfg.state_dir, "layers");
    if (!cfg.git_dir || !cfg.jobs_dir || !cfg.layers_dir || go_cache_env(cfg.state_dir))
        goto out;
    if (!(cfg.git_env = git_env())) {
        fprintf(stderr, "kofarm-worker: out of memory\n");
        goto out;
    }
    /* go build's compiler processes outlive a killed go: they come to us
     * and kf_spawn_run reaps them. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        fprintf(stderr, "kofarm-worker: PR_SET_CHILD_SUBREAPER: %s (leftover processes go to init)\n",
                strerror(errno));
    if (install_signals()) {
        fprintf(stderr, "kofarm-worker: cannot install signal handlers: %s\n", strerror(errno));
        goto out;
    }
    rc = wk_loop_run(&cfg);
out:
    free(cfg.git_dir);
    free(cfg.jobs_dir);
    free(cfg.layers_dir);
    free_env(cfg.git_env);
    return rc;
}
