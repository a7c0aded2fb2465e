/* `kofarm-server serve`: checks the configuration, applies migrations,
 * starts the HTTP server and runs until SIGTERM or SIGINT. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ref.h"
#include "server.h"

#define JOB_CACHE_ENTRIES 16384
#define MIGRATE_WAIT_S 30

static int check_config(const struct srv_config *c)
{
    char err[KF_ERRLEN];
    struct kf_ref ref;
    if (!c->database_url || !*c->database_url) {
        fprintf(stderr, "kofarm-server: no database: set KOFARM_DATABASE_URL or --database-url\n");
        return 0;
    }
    if (c->repo) {
        int rc = kf_ref_parse_repo(c->repo, &ref, err);
        kf_ref_free(&ref);
        if (rc) {
            fprintf(stderr, "kofarm-server: KOFARM_REPO %s: %s\n", c->repo, err);
            return 0;
        }
    }
    if (c->default_base && strcmp(c->default_base, "scratch") != 0) {
        int rc = kf_ref_parse(c->default_base, &ref, err);
        kf_ref_free(&ref);
        if (rc) {
            fprintf(stderr, "kofarm-server: KOFARM_DEFAULT_BASE_IMAGE %s: %s\n", c->default_base, err);
            return 0;
        }
    }
    return 1;
}

/* The database may still be starting (a compose stack): wait a little. */
static int migrate(const struct srv_config *c)
{
    char err[KF_ERRLEN], dir[4096];
    snprintf(dir, sizeof dir, "%s/migrations", c->share_dir);
    for (int attempt = 0;; attempt++) {
        struct kf_db *db;
        int applied = 0;
        int rc = kf_db_open(c->database_url, "kofarm-server", &db, err);
        if (!rc) {
            rc = kf_db_migrate(db, dir, &applied, err);
            kf_db_close(db);
        }
        if (!rc) {
            if (applied)
                fprintf(stderr, "kofarm-server: applied %d migration%s\n", applied, applied == 1 ? "" : "s");
            return 1;
        }
        if (rc != KF_ENET || attempt >= MIGRATE_WAIT_S) {
            fprintf(stderr, "kofarm-server: migrate: %s\n", err);
            return 0;
        }
        if (attempt == 0)
            fprintf(stderr, "kofarm-server: waiting for the database: %s\n", err);
        sleep(1);
    }
}

/* One line per request, written with a single write(2). */
static void access_log(void *ctx, const char *method, const char *path, int status, double ms)
{
    struct srv *s = ctx;
    if (!s->cfg.access_log)
        return;
    char line[400];
    int n = snprintf(line, sizeof line, "%.10s %.200s %d %.1fms\n", method, path, status, ms);
    if (n <= 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    for (size_t i = 0; i + 1 < len; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    if (write(STDERR_FILENO, line, len) < 0) {
        /* nowhere to report it */
    }
}

static void load_openapi(struct srv *s)
{
    char err[KF_ERRLEN], path[4096];
    struct kf_buf b;
    kf_buf_init(&b, (size_t)4 << 20);
    snprintf(path, sizeof path, "%s/api/openapi.yaml", s->cfg.share_dir);
    if (kf_buf_read_file(&b, path, err)) {
        fprintf(stderr, "kofarm-server: %s (GET /openapi.yaml will be 404)\n", err);
        kf_buf_free(&b);
        return;
    }
    s->openapi = (char *)kf_buf_steal(&b, &s->openapi_len);
}

int srv_serve(struct srv_config *cfg)
{
    char err[KF_ERRLEN];
    struct srv s = {.cfg = *cfg};
    struct http_server *http = NULL;
    int status = 1;
    if (!check_config(cfg))
        return 2;
    /* Every thread started from here on blocks these: sigwait takes them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (!migrate(cfg))
        return 1;
    load_openapi(&s);
    if (dbpool_new(cfg->database_url, cfg->pool_size, &s.pool, err)) {
        fprintf(stderr, "kofarm-server: %s\n", err);
        goto out;
    }
    s.jobs = jobcache_new(JOB_CACHE_ENTRIES);
    s.auth = authcache_new();
    s.limits = cfg->rate_limit > 0 ? ratelimit_new(cfg->rate_limit, cfg->rate_burst) : NULL;
    if (!s.jobs || !s.auth) {
        fprintf(stderr, "kofarm-server: out of memory\n");
        goto out;
    }
    struct http_server_opts ho = {
        .listen = cfg->listen, .upload_max = cfg->max_upload, .handler = srv_handle, .ctx = &s,
        .log_fn = access_log,
    };
    if (http_server_start(&ho, &http, err)) {
        fprintf(stderr, "kofarm-server: %s\n", err);
        goto out;
    }
    fprintf(stderr, "kofarm-server listening on http://%s\n", cfg->listen);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "kofarm-server: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    s.stopping = 1;
    http_server_stop(http);
    status = 0;
out:
    authcache_free(s.auth);
    ratelimit_free(s.limits);
    jobcache_free(s.jobs);
    dbpool_free(s.pool);
    free(s.openapi);
    return status;
}
