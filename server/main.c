/* kofarm-server: the REST API of the build farm. Subcommands: serve (the
 * default), migrate, token create|list|revoke. Every flag has an
 * environment variable; flags win. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dbjobs.h"
#include "dbprojects.h"
#include "dbtokens.h"
#include "project.h"
#include "ref.h"
#include "server.h"

#define POOL_MAX 256

struct options {
    struct srv_config cfg;
    const char *name;
    const char *project; /* token create --project */
    const char *scopes[KF_TOKEN_SCOPES_MAX];
    size_t n_scopes;
    const char *words[4]; /* the subcommand */
    size_t n_words;
};

static void usage(FILE *out)
{
    fputs("usage: kofarm-server [serve] [flags]        run the REST API (applies migrations first)\n"
          "       kofarm-server migrate [flags]        apply database migrations and exit\n"
          "       kofarm-server token create --name NAME [--scope read|build|admin[,...]]... [--project P]\n"
          "                                            print a new API token (alone on the last line)\n"
          "       kofarm-server token list             list tokens (never the secrets)\n"
          "       kofarm-server token revoke --name NAME\n"
          "\nflags (environment variable in brackets):\n"
          "  --database-url URL        libpq URI of the database [KOFARM_DATABASE_URL] (required)\n"
          "  --listen HOST:PORT        address to serve on [KOFARM_LISTEN] (default 127.0.0.1:8080)\n"
          "  --repo REGISTRY/PREFIX    default destination when a request names none [KOFARM_REPO]\n"
          "  --default-base-image REF  default base image, or scratch [KOFARM_DEFAULT_BASE_IMAGE]\n"
          "  --public-read             reading jobs and logs needs no token [KOFARM_PUBLIC_READ=1]\n"
          "  --allow-file-urls         accept file:// git URLs [KOFARM_ALLOW_FILE_URLS=1]\n"
          "  --share-dir DIR           where migrations/ and api/openapi.yaml are [KOFARM_SHARE_DIR]\n"
          "                            (default " KF_SHARE_DIR_DEFAULT ")\n"
          "  --max-upload BYTES        largest uploaded source, suffix K, M or G [KOFARM_MAX_UPLOAD]\n"
          "                            (default 256M)\n"
          "  --db-pool N               database connections for requests [KOFARM_DB_POOL] (default 16)\n"
          "  --no-access-log           no line per request on stderr [KOFARM_ACCESS_LOG=0]\n"
          "  rate limit                per token and per client address, 429 + Retry-After past it\n"
          "                            [KOFARM_RATE_LIMIT=RATE[,BURST]] (requests/s; default off)\n"
          "  --name NAME, --scope S    for the token commands (scopes default to read and build)\n"
          "  --project P               token create: limit the token to project P\n"
          "  -h, --help                this text\n",
          out);
}

static int env_bool(const char *name)
{
    const char *v = getenv(name);
    return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"));
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10, end++;
    else if (*end == 'M' || *end == 'm')
        shift = 20, end++;
    else if (*end == 'G' || *end == 'g')
        shift = 30, end++;
    if (end == s || *end || errno || *s == '-' || v == 0 || v > (KF_JOB_SOURCE_MAX >> shift))
        return 0;
    *out = (size_t)(v << shift);
    return 1;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return 0;
    *out = (int)v;
    return 1;
}

static void defaults_from_env(struct options *o)
{
    struct srv_config *c = &o->cfg;
    const char *v;
    c->database_url = getenv("KOFARM_DATABASE_URL");
    c->listen = (v = getenv("KOFARM_LISTEN")) && *v ? v : "127.0.0.1:8080";
    c->repo = (v = getenv("KOFARM_REPO")) && *v ? v : NULL;
    c->default_base = (v = getenv("KOFARM_DEFAULT_BASE_IMAGE")) && *v ? v : NULL;
    c->share_dir = (v = getenv("KOFARM_SHARE_DIR")) && *v ? v : KF_SHARE_DIR_DEFAULT;
    c->public_read = env_bool("KOFARM_PUBLIC_READ");
    c->allow_file_urls = env_bool("KOFARM_ALLOW_FILE_URLS");
    c->max_upload = KF_JOB_SOURCE_MAX;
    c->pool_size = 16;
    c->access_log = !((v = getenv("KOFARM_ACCESS_LOG")) && (!strcmp(v, "0") || !strcasecmp(v, "false")));
}

/* Returns 0, or 2 after a message (usage error); 1 for --help. */
static int parse_args(int argc, char **argv, struct options *o)
{
    const char *v;
    defaults_from_env(o);
    if ((v = getenv("KOFARM_MAX_UPLOAD")) && *v && !parse_size(v, &o->cfg.max_upload)) {
        fprintf(stderr, "kofarm-server: KOFARM_MAX_UPLOAD: want bytes up to 256M\n");
        return 2;
    }
    if ((v = getenv("KOFARM_RATE_LIMIT")) && *v && !ratelimit_parse(v, &o->cfg.rate_limit, &o->cfg.rate_burst)) {
        fprintf(stderr, "kofarm-server: KOFARM_RATE_LIMIT: want RATE or RATE,BURST (requests per second)\n");
        return 2;
    }
    if ((v = getenv("KOFARM_DB_POOL")) && *v && !parse_int(v, 1, POOL_MAX, &o->cfg.pool_size)) {
        fprintf(stderr, "kofarm-server: KOFARM_DB_POOL: want 1 to %d\n", POOL_MAX);
        return 2;
    }
    static const struct {
        const char *flag;
        int takes_value;
    } flags[] = {{"--database-url", 1}, {"--listen", 1}, {"--repo", 1}, {"--default-base-image", 1},
                 {"--share-dir", 1}, {"--max-upload", 1}, {"--db-pool", 1}, {"--name", 1}, {"--scope", 1}, {"--project", 1},
                 {"--public-read", 0}, {"--allow-file-urls", 0}, {"--no-access-log", 0}};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help"))
            return 1;
        if (arg[0] != '-') {
            if (o->n_words == 4) {
                fprintf(stderr, "kofarm-server: too many arguments\n");
                return 2;
            }
            o->words[o->n_words++] = arg;
            continue;
        }
        size_t k, nflags = sizeof flags / sizeof *flags, len = strcspn(arg, "=");
        for (k = 0; k < nflags && (strlen(flags[k].flag) != len || strncmp(arg, flags[k].flag, len)); k++)
            ;
        if (k == nflags) {
            fprintf(stderr, "kofarm-server: unknown flag %.60s (see --help)\n", arg);
            return 2;
        }
        const char *val = arg[len] == '=' ? arg + len + 1 : NULL;
        if (flags[k].takes_value && !val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "kofarm-server: %s needs a value\n", flags[k].flag);
                return 2;
            }
            val = argv[++i];
        }
        const char *f = flags[k].flag;
        int ok = 1;
        if (!strcmp(f, "--database-url")) o->cfg.database_url = val;
        else if (!strcmp(f, "--listen")) o->cfg.listen = val;
        else if (!strcmp(f, "--repo")) o->cfg.repo = *val ? val : NULL;
        else if (!strcmp(f, "--default-base-image")) o->cfg.default_base = *val ? val : NULL;
        else if (!strcmp(f, "--share-dir")) o->cfg.share_dir = val;
        else if (!strcmp(f, "--max-upload")) ok = parse_size(val, &o->cfg.max_upload);
        else if (!strcmp(f, "--db-pool")) ok = parse_int(val, 1, POOL_MAX, &o->cfg.pool_size);
        else if (!strcmp(f, "--name")) o->name = val;
        else if (!strcmp(f, "--project")) o->project = val;
        else if (!strcmp(f, "--scope")) {
            /* "read,build" is two scopes (argv strings are writable). */
            for (char *sc = (char *)val, *comma; ok && sc; sc = comma ? comma + 1 : NULL) {
                if ((comma = strchr(sc, ',')))
                    *comma = 0;
                if ((ok = o->n_scopes < KF_TOKEN_SCOPES_MAX))
                    o->scopes[o->n_scopes++] = sc;
            }
        } else if (!strcmp(f, "--public-read")) o->cfg.public_read = !val || strcmp(val, "false");
        else if (!strcmp(f, "--allow-file-urls")) o->cfg.allow_file_urls = !val || strcmp(val, "false");
        else if (!strcmp(f, "--no-access-log")) o->cfg.access_log = 0;
        if (!ok) {
            fprintf(stderr, "kofarm-server: bad value for %s: %.60s\n", f, val ? val : "");
            return 2;
        }
    }
    return 0;
}

int srv_serve(struct srv_config *cfg);

static int open_db(const struct options *o, struct kf_db **db)
{
    char err[KF_ERRLEN];
    if (!o->cfg.database_url || !*o->cfg.database_url) {
        fprintf(stderr, "kofarm-server: no database: set KOFARM_DATABASE_URL or --database-url\n");
        return 2;
    }
    if (kf_db_open(o->cfg.database_url, "kofarm-server", db, err)) {
        fprintf(stderr, "kofarm-server: %s\n", err);
        return 1;
    }
    return 0;
}

static int cmd_migrate(const struct options *o)
{
    char err[KF_ERRLEN], dir[4096];
    struct kf_db *db;
    int rc = open_db(o, &db), applied = 0;
    if (rc)
        return rc;
    snprintf(dir, sizeof dir, "%s/migrations", o->cfg.share_dir);
    rc = kf_db_migrate(db, dir, &applied, err);
    kf_db_close(db);
    if (rc) {
        fprintf(stderr, "kofarm-server: migrate: %s\n", err);
        return 1;
    }
    printf("applied %d migration%s\n", applied, applied == 1 ? "" : "s");
    return 0;
}

static int cmd_token(const struct options *o)
{
    char err[KF_ERRLEN];
    const char *what = o->n_words > 1 ? o->words[1] : "";
    if (strcmp(what, "create") && strcmp(what, "list") && strcmp(what, "revoke")) {
        fprintf(stderr, "kofarm-server: token: want create, list or revoke\n");
        return 2;
    }
    if (strcmp(what, "list") && (!o->name || !*o->name)) {
        fprintf(stderr, "kofarm-server: token %s: --name is required\n", what);
        return 2;
    }
    struct kf_db *db;
    int rc = open_db(o, &db);
    if (rc)
        return rc;
    if (!strcmp(what, "create")) {
        char token[KF_TOKEN_BUF];
        int conflict = 0;
        if (o->project && !kf_project_name_valid(o->project))
            rc = kf_fail(err, KF_EINVAL, "--project: not a project name");
        else
            rc = kf_token_create(db, o->name, o->scopes, o->n_scopes, token, &conflict, err);
        if (!rc && o->project && (rc = kf_token_set_project(db, o->name, o->project, err))) {
            char ignored[KF_ERRLEN];
            if (kf_token_revoke(db, o->name, ignored)) /* never hand out an unlimited token by mistake */
                fprintf(stderr, "kofarm-server: token create: revoking %s failed: %s\n", o->name, ignored);
        }
        if (!rc)
            printf("created token %s; it is shown only once:\n%s\n", o->name, token);
    } else if (!strcmp(what, "revoke")) {
        if (!(rc = kf_token_revoke(db, o->name, err)))
            printf("revoked token %s\n", o->name);
    } else {
        json_t *list;
        if (!(rc = kf_token_list(db, &list, err))) {
            json_dumpf(list, stdout, JSON_INDENT(2));
            putchar('\n');
            json_decref(list);
        }
    }
    kf_db_close(db);
    if (rc) {
        fprintf(stderr, "kofarm-server: token %s: %s\n", what, err);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc)
        return rc;
    const char *cmd = o.n_words ? o.words[0] : "serve";
    if (!strcmp(cmd, "serve") && o.n_words <= 1)
        return srv_serve(&o.cfg);
    if (!strcmp(cmd, "migrate") && o.n_words == 1)
        return cmd_migrate(&o);
    if (!strcmp(cmd, "token"))
        return cmd_token(&o);
    fprintf(stderr, "kofarm-server: unknown command %.60s (see --help)\n", cmd);
    return 2;
}
