/* The database layer against a real PostgreSQL 15: migrations (twice, two
 * processes at once, a broken file), submitting, reading and listing jobs,
 * idempotency keys, result reuse, tokens, LISTEN/NOTIFY, and reconnecting
 * after a server restart. The queue's worker side is in itest_db_queue.c. */
#include "itest_db_fixture.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>

#include "dbjobs.h"
#include "dbtokens.h"
#include "digest.h"

TestSuite(db, .init = fresh_db, .timeout = 120);

static int64_t insert(struct kf_db *db, const char *kind, const char *spec_json)
{
    char err[KF_ERRLEN] = "";
    json_t *spec = json_loads(spec_json, 0, NULL);
    cr_assert_not_null(spec);
    struct kf_job_new j = {.kind = kind, .spec = spec};
    int64_t id = 0;
    int existed = -1;
    cr_assert_eq(kf_job_insert(db, &j, &id, &existed, err), KF_OK, "%s", err);
    cr_assert_eq(existed, 0);
    cr_assert_gt(id, 0);
    json_decref(spec);
    return id;
}

/* The NNN_*.sql files shipped: every one is applied once. */
static int shipped_migrations(void)
{
    int n = 0;
    DIR *d = opendir(MIGRATIONS);
    cr_assert(d, "open %s", MIGRATIONS);
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > 8 && strspn(e->d_name, "0123456789") == 3 && !strcmp(e->d_name + len - 4, ".sql"))
            n++;
    }
    closedir(d);
    return n;
}

Test(db, migrations_twice_are_a_noop)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = open_db();
    int applied = -1;
    cr_assert_eq(kf_db_migrate(db, MIGRATIONS, &applied, err), KF_OK, "%s", err);
    cr_expect_eq(applied, 0);
    cr_expect_eq(sql_int(db_url, "SELECT count(*) FROM schema_migrations"), shipped_migrations());
    char *name = sql_value(db_url, "SELECT name FROM schema_migrations WHERE version = 1");
    cr_expect_str_eq(name, "001_init.sql");
    free(name);
    cr_expect_eq(kf_db_ping(db, err), KF_OK, "%s", err);
    kf_db_close(db);
}

/* Each child migrates a fresh database at the same moment; exit status =
 * migrations it applied, 100 on error. */
Test(db, two_processes_migrate_at_once)
{
    char err[KF_ERRLEN] = "";
    char url[256];
    char name[32];
    snprintf(name, sizeof name, "c%d", (int)getpid());
    cr_assert_eq(kf_pgtest_createdb(&cluster, name, url, sizeof url, err), KF_OK, "%s", err);
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        cr_assert_geq(kids[i], 0);
        if (kids[i] == 0) {
            struct kf_db *db;
            int applied = 0;
            if (kf_db_open(url, "itest", &db, err) || kf_db_migrate(db, MIGRATIONS, &applied, err)) {
                fprintf(stderr, "child: %s\n", err);
                _exit(100);
            }
            kf_db_close(db);
            _exit(applied);
        }
    }
    int total = 0;
    for (int i = 0; i < 2; i++) {
        int status;
        cr_assert_eq(waitpid(kids[i], &status, 0), kids[i]);
        cr_assert(WIFEXITED(status));
        cr_assert_lt(WEXITSTATUS(status), 100, "a child failed");
        total += WEXITSTATUS(status);
    }
    cr_expect_eq(total, shipped_migrations());
    cr_expect_eq(sql_int(url, "SELECT count(*) FROM schema_migrations"), shipped_migrations());
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(db, broken_migration_rolls_back_and_names_file_and_line)
{
    char err[KF_ERRLEN] = "";
    char dir[] = "/tmp/kf-itest-mig-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/001_init.sql", dir);
    write_text(path, "CREATE TABLE first_one (id int);\n");
    snprintf(path, sizeof path, "%s/002_bad.sql", dir);
    write_text(path, "CREATE TABLE second_one (id int);\n\nSELEC oops;\n");
    snprintf(path, sizeof path, "%s/README", dir);
    write_text(path, "not a migration\n");

    char url[256], name[32];
    snprintf(name, sizeof name, "m%d", (int)getpid());
    cr_assert_eq(kf_pgtest_createdb(&cluster, name, url, sizeof url, err), KF_OK, "%s", err);
    struct kf_db *db;
    cr_assert_eq(kf_db_open(url, NULL, &db, err), KF_OK, "%s", err);
    int applied = -1;
    cr_expect_eq(kf_db_migrate(db, dir, &applied, err), KF_ECONFIG);
    cr_expect_eq(applied, 1);
    cr_expect(strstr(err, "002_bad.sql:3:") != NULL, "%s", err);
    cr_expect(strstr(err, "syntax error") != NULL, "%s", err);
    cr_expect_eq(sql_int(url, "SELECT count(*) FROM schema_migrations"), 1);
    cr_expect_eq(sql_int(url, "SELECT count(*) FROM pg_tables WHERE tablename = 'second_one'"), 0);
    cr_expect_eq(sql_int(url, "SELECT count(*) FROM pg_tables WHERE tablename = 'first_one'"), 1);

    /* Fixed, it applies; a badly named *.sql file is refused. */
    write_text(path, "");
    snprintf(path, sizeof path, "%s/002_bad.sql", dir);
    write_text(path, "CREATE TABLE second_one (id int);\n");
    cr_expect_eq(kf_db_migrate(db, dir, &applied, err), KF_OK, "%s", err);
    cr_expect_eq(applied, 1);
    snprintf(path, sizeof path, "%s/three.sql", dir);
    write_text(path, "SELECT 1;\n");
    cr_expect_eq(kf_db_migrate(db, dir, &applied, err), KF_ECONFIG);
    cr_expect(strstr(err, "three.sql") != NULL, "%s", err);
    cr_expect_eq(kf_db_migrate(db, "/nonexistent/dir", &applied, err), KF_ECONFIG);
    kf_db_close(db);
    const char *rm[] = {"rm", "-rf", dir, NULL};
    cr_assert_eq(kf_pgtest_run(&cluster, rm, 0, err), KF_OK, "%s", err);
}

Test(db, open_refuses_bad_urls_and_dead_servers)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = (struct kf_db *)1;
    cr_expect_eq(kf_db_open("postgresql://[bad", NULL, &db, err), KF_ECONFIG);
    cr_expect_null(db);
    cr_expect_eq(kf_db_open("host=127.0.0.1 port=1 connect_timeout=2 user=x", NULL, &db, err), KF_ENET);
    cr_expect_null(db);
}

static int is_rfc3339_ms(const char *s)
{
    /* 2026-11-22T10:11:12.345Z */
    if (!s || strlen(s) != 24)
        return 0;
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (int i = 0; i < 24; i++)
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return 0;
    return 1;
}

Test(db, insert_and_get)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = open_db();
    json_t *spec = json_pack("{s:s, s:[s]}", "repo", "127.0.0.1:5000/x", "importpaths", "./cmd/app");
    struct kf_job_new j = {.kind = "build", .spec = spec, .requested_by = "alice", .project = "p1", .priority = 5};
    int64_t id;
    int existed;
    cr_assert_eq(kf_job_insert(db, &j, &id, &existed, err), KF_OK, "%s", err);
    json_t *job;
    cr_assert_eq(kf_job_get(db, id, &job, err), KF_OK, "%s", err);
    cr_expect_eq(json_integer_value(json_object_get(job, "id")), id);
    cr_expect_str_eq(json_string_value(json_object_get(job, "kind")), "build");
    cr_expect_str_eq(json_string_value(json_object_get(job, "state")), "queued");
    cr_expect(json_equal(json_object_get(job, "spec"), spec));
    cr_expect(json_is_null(json_object_get(job, "result")));
    cr_expect(json_is_null(json_object_get(job, "error")));
    cr_expect_eq(json_integer_value(json_object_get(job, "attempts")), 0);
    cr_expect_eq(json_integer_value(json_object_get(job, "max_attempts")), 3);
    cr_expect_eq(json_integer_value(json_object_get(job, "priority")), 5);
    cr_expect_str_eq(json_string_value(json_object_get(job, "requested_by")), "alice");
    cr_expect_str_eq(json_string_value(json_object_get(job, "project")), "p1");
    cr_expect(is_rfc3339_ms(json_string_value(json_object_get(job, "created_at"))));
    cr_expect(json_is_null(json_object_get(job, "started_at")));
    cr_expect(json_is_null(json_object_get(job, "finished_at")));
    cr_expect(json_is_null(json_object_get(job, "commit")));
    cr_expect(json_is_null(json_object_get(job, "retry_of")));
    cr_expect(json_is_false(json_object_get(job, "cancel_requested")));
    json_decref(job);

    cr_expect_eq(kf_job_get(db, id + 1000, &job, err), KF_ENOTFOUND);
    cr_expect_null(job);

    /* Bad input never reaches the table. */
    struct kf_job_new bad[] = {
        {.kind = "deploy", .spec = spec},
        {.kind = "build", .spec = NULL},
        {.kind = "build", .spec = json_object_get(spec, "importpaths")},
        {.kind = "build", .spec = spec, .idempotency_key = ""},
        {.kind = "build", .spec = spec, .idempotency_key = "tab\there"},
        {.kind = "build", .spec = spec, .max_attempts = 101},
        {.kind = "build", .spec = spec, .max_attempts = -1},
        {.kind = "build", .spec = spec, .source_len = 3},
        {.kind = "build", .spec = spec, .requested_by = "\xff\xfe"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(kf_job_insert(db, &bad[i], &id, &existed, err), KF_EINVAL, "case %zu", i);
    cr_expect_eq(sql_int(db_url, "SELECT count(*) FROM jobs"), 1);
    json_decref(spec);
    kf_db_close(db);
}

Test(db, list_walks_every_job_once_newest_first)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = open_db();
    int64_t ids[25];
    for (int i = 0; i < 25; i++)
        ids[i] = insert(db, i % 5 == 0 ? "resolve" : "build", "{\"n\":1}");
    int seen[25] = {0};
    char *cursor = NULL;
    int64_t prev = INT64_MAX;
    int pages = 0, total = 0;
    do {
        json_t *items;
        char *next = NULL;
        cr_assert_eq(kf_job_list(db, NULL, NULL, NULL, 7, cursor, &items, &next, err), KF_OK, "%s", err);
        pages++;
        cr_assert_leq(json_array_size(items), 7);
        for (size_t k = 0; k < json_array_size(items); k++) {
            int64_t id = json_integer_value(json_object_get(json_array_get(items, k), "id"));
            cr_expect_lt(id, prev, "not newest first");
            prev = id;
            for (int i = 0; i < 25; i++)
                if (ids[i] == id)
                    seen[i]++;
            total++;
        }
        json_decref(items);
        free(cursor);
        cursor = next;
    } while (cursor);
    cr_expect_eq(pages, 4);
    cr_expect_eq(total, 25);
    for (int i = 0; i < 25; i++)
        cr_expect_eq(seen[i], 1, "job %d seen %d times", i, seen[i]);

    /* Filters. */
    json_t *items;
    char *next;
    cr_assert_eq(kf_job_list(db, "resolve", NULL, NULL, 200, NULL, &items, &next, err), KF_OK, "%s", err);
    cr_expect_eq(json_array_size(items), 5);
    cr_expect_null(next);
    json_decref(items);
    int conflict;
    cr_assert_eq(kf_job_cancel(db, ids[3], NULL, &conflict, err), KF_OK, "%s", err);
    cr_assert_eq(kf_job_list(db, NULL, "canceled", NULL, 10, NULL, &items, &next, err), KF_OK, "%s", err);
    cr_expect_eq(json_array_size(items), 1);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(items, 0), "id")), ids[3]);
    json_decref(items);
    cr_assert_eq(kf_job_list(db, "build", "queued", NULL, 200, NULL, &items, &next, err), KF_OK, "%s", err);
    cr_expect_eq(json_array_size(items), 19);
    json_decref(items);

    /* Bad arguments. */
    const char *bad_cursors[] = {"", "abc", "-1", "0", "12a", "99999999999999999999", "1 "};
    for (size_t i = 0; i < sizeof bad_cursors / sizeof *bad_cursors; i++)
        cr_expect_eq(kf_job_list(db, NULL, NULL, NULL, 10, bad_cursors[i], &items, &next, err), KF_EINVAL,
                     "cursor '%s'", bad_cursors[i]);
    cr_expect_eq(kf_job_list(db, NULL, NULL, NULL, 0, NULL, &items, &next, err), KF_EINVAL);
    cr_expect_eq(kf_job_list(db, NULL, NULL, NULL, 201, NULL, &items, &next, err), KF_EINVAL);
    cr_expect_eq(kf_job_list(db, NULL, "done", NULL, 10, NULL, &items, &next, err), KF_EINVAL);
    cr_expect_eq(kf_job_list(db, "deploy", NULL, NULL, 10, NULL, &items, &next, err), KF_EINVAL);
    kf_db_close(db);
}

Test(db, idempotency_key_returns_the_first_job)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = open_db();
    json_t *spec = json_pack("{s:i}", "n", 1);
    json_t *other = json_pack("{s:i}", "n", 2);
    struct kf_job_new j = {.kind = "build", .spec = spec, .idempotency_key = "k1", .requested_by = "alice"};
    int64_t first, id;
    int existed;
    cr_assert_eq(kf_job_insert(db, &j, &first, &existed, err), KF_OK, "%s", err);
    cr_expect_eq(existed, 0);
    cr_assert_eq(kf_job_insert(db, &j, &id, &existed, err), KF_OK, "%s", err);
    cr_expect_eq(existed, 1);
    cr_expect_eq(id, first);

    /* Same key, another request: a conflict naming the first job. */
    j.spec = other;
    cr_expect_eq(kf_job_insert(db, &j, &id, &existed, err), KF_EINVAL);
    cr_expect_eq(existed, 1);
    cr_expect_eq(id, first);
    j.spec = spec;
    j.kind = "resolve";
    cr_expect_eq(kf_job_insert(db, &j, &id, &existed, err), KF_EINVAL);
    cr_expect_eq(existed, 1);
    j.kind = "build";

    /* Keys belong to their requester; anonymous requests share one. */
    j.requested_by = "bob";
    cr_assert_eq(kf_job_insert(db, &j, &id, &existed, err), KF_OK, "%s", err);
    cr_expect_eq(existed, 0);
    cr_expect_neq(id, first);
    j.requested_by = NULL;
    int64_t anon;
    cr_assert_eq(kf_job_insert(db, &j, &anon, &existed, err), KF_OK, "%s", err);
    cr_expect_eq(existed, 0);
    cr_assert_eq(kf_job_insert(db, &j, &id, &existed, err), KF_OK, "%s", err);
    cr_expect_eq(existed, 1);
    cr_expect_eq(id, anon);

    /* With an uploaded source, the bytes are part of the request. */
    j.idempotency_key = "k2";
    j.source = "tarball-A";
    j.source_len = 9;
    int64_t with_source;
    cr_assert_eq(kf_job_insert(db, &j, &with_source, &existed, err), KF_OK, "%s", err);
    cr_assert_eq(kf_job_insert(db, &j, &id, &existed, err), KF_OK, "%s", err);
    cr_expect_eq(existed, 1);
    j.source = "tarball-B";
    cr_expect_eq(kf_job_insert(db, &j, &id, &existed, err), KF_EINVAL);
    cr_expect_eq(existed, 1);
    cr_expect_eq(id, with_source);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT convert_from(content, 'UTF8') FROM job_sources WHERE job_id = %lld",
             (long long)with_source);
    char *content = sql_value(db_url, sql);
    cr_expect_str_eq(content, "tarball-A");
    free(content);
    cr_expect_eq(sql_int(db_url, "SELECT count(*) FROM jobs"), 4);
    cr_expect_eq(sql_int(db_url, "SELECT count(*) FROM job_sources"), 1);
    json_decref(spec);
    json_decref(other);
    kf_db_close(db);
}

Test(db, result_reuse_and_stats)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = open_db();
    json_t *spec = json_pack("{s:s}", "commit", "abc");
    struct kf_job_new j = {.kind = "build", .spec = spec, .cache_key = "ck1"};
    int64_t id, other;
    int existed;
    cr_assert_eq(kf_job_insert(db, &j, &id, &existed, err), KF_OK, "%s", err);
    cr_assert_eq(kf_job_insert(db, &j, &other, &existed, err), KF_OK, "%s", err);
    json_t *result;
    int64_t from;
    cr_expect_eq(kf_job_find_reusable(db, "ck1", &result, &from, err), KF_ENOTFOUND, "not succeeded yet");

    struct kf_claimed *c;
    size_t n;
    cr_assert_eq(kf_job_claim(db, "w:1", 60000, NULL, 1, &c, &n, err), KF_OK, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_eq(c[0].id, id);
    json_t *res = json_pack("{s:[{s:s}]}", "images", "digest", "sha256:00");
    cr_assert_eq(kf_job_succeed(db, id, "w:1", res, "abc123", err), KF_OK, "%s", err);
    kf_claimed_free(c, n);

    cr_assert_eq(kf_job_find_reusable(db, "ck1", &result, &from, err), KF_OK, "%s", err);
    cr_expect_eq(from, id);
    cr_expect(json_equal(result, res));
    json_decref(result);
    cr_expect_eq(kf_job_find_reusable(db, "ck2", &result, &from, err), KF_ENOTFOUND);

    json_t *job;
    cr_assert_eq(kf_job_get(db, id, &job, err), KF_OK, "%s", err);
    cr_expect_str_eq(json_string_value(json_object_get(job, "state")), "succeeded");
    cr_expect_str_eq(json_string_value(json_object_get(job, "commit")), "abc123");
    cr_expect(json_equal(json_object_get(job, "result"), res));
    cr_expect(is_rfc3339_ms(json_string_value(json_object_get(job, "started_at"))));
    cr_expect(is_rfc3339_ms(json_string_value(json_object_get(job, "finished_at"))));
    json_decref(job);

    insert(db, "resolve", "{}");
    json_t *counts;
    cr_assert_eq(kf_job_stats(db, &counts, err), KF_OK, "%s", err);
    json_t *want = json_pack("{s:{s:i, s:i, s:i, s:i, s:i}, s:{s:i, s:i, s:i, s:i, s:i}}", "build", "queued", 1,
                             "running", 0, "succeeded", 1, "failed", 0, "canceled", 0, "resolve", "queued", 1,
                             "running", 0, "succeeded", 0, "failed", 0, "canceled", 0);
    cr_expect(json_equal(counts, want), "%s", json_dumps(counts, 0));
    json_decref(want);
    json_decref(counts);
    json_decref(res);
    json_decref(spec);
    kf_db_close(db);
}

Test(db, tokens_store_only_a_hash)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = open_db();
    char token[KF_TOKEN_BUF];
    int conflict;
    cr_assert_eq(kf_token_create(db, "ci", NULL, 0, token, &conflict, err), KF_OK, "%s", err);
    cr_expect_eq(strlen(token), 43);
    cr_expect_eq(strncmp(token, "kf_", 3), 0);
    cr_expect_eq(strspn(token + 3, "0123456789abcdef"), 40);

    /* The table holds sha256(token) and nowhere the token itself. */
    char digest[KF_DIGEST_LEN];
    kf_sha256_digest(token, strlen(token), digest);
    char *hash = sql_value(db_url, "SELECT token_hash FROM api_tokens WHERE name = 'ci'");
    cr_expect_str_eq(hash, digest + 7);
    free(hash);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM api_tokens t WHERE strpos(t::text, '%s') > 0", token + 3);
    cr_expect_eq(sql_int(db_url, sql), 0);

    int valid;
    char name[128];
    json_t *scopes;
    cr_assert_eq(kf_token_verify(db, token, &valid, name, &scopes, err), KF_OK, "%s", err);
    cr_expect_eq(valid, 1);
    cr_expect_str_eq(name, "ci");
    json_t *want = json_pack("[s, s]", "read", "build");
    cr_expect(json_equal(scopes, want));
    json_decref(want);
    json_decref(scopes);
    cr_expect_eq(sql_int(db_url, "SELECT count(*) FROM api_tokens WHERE last_used_at IS NOT NULL"), 1);

    const char *wrong[] = {"", "kf_", "kf_0000000000000000000000000000000000000000", "Bearer x", "kf_ABC"};
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
        cr_assert_eq(kf_token_verify(db, wrong[i], &valid, name, NULL, err), KF_OK, "%s", err);
        cr_expect_eq(valid, 0, "'%s'", wrong[i]);
    }

    const char *admin_scopes[] = {"read", "build", "admin"};
    char admin[KF_TOKEN_BUF];
    cr_assert_eq(kf_token_create(db, "ops.admin-1", admin_scopes, 3, admin, &conflict, err), KF_OK, "%s", err);
    cr_expect_eq(kf_token_create(db, "ci", NULL, 0, token, &conflict, err), KF_EINVAL);
    cr_expect_eq(conflict, 1);
    const char *bad_scope[] = {"READ"};
    cr_expect_eq(kf_token_create(db, "x", bad_scope, 1, token, &conflict, err), KF_EINVAL);
    cr_expect_eq(conflict, 0);
    cr_expect_eq(kf_token_create(db, "has space", NULL, 0, token, &conflict, err), KF_EINVAL);

    cr_assert_eq(kf_token_revoke(db, "ops.admin-1", err), KF_OK, "%s", err);
    cr_assert_eq(kf_token_revoke(db, "ops.admin-1", err), KF_OK, "%s", err);
    cr_expect_eq(kf_token_revoke(db, "nobody", err), KF_ENOTFOUND);
    cr_assert_eq(kf_token_verify(db, admin, &valid, name, NULL, err), KF_OK, "%s", err);
    cr_expect_eq(valid, 0);

    json_t *list;
    cr_assert_eq(kf_token_list(db, &list, err), KF_OK, "%s", err);
    cr_assert_eq(json_array_size(list), 2);
    json_t *first = json_array_get(list, 0), *second = json_array_get(list, 1);
    cr_expect_str_eq(json_string_value(json_object_get(first, "name")), "ci");
    cr_expect(json_is_null(json_object_get(first, "revoked_at")));
    cr_expect(is_rfc3339_ms(json_string_value(json_object_get(first, "last_used_at"))));
    cr_expect(is_rfc3339_ms(json_string_value(json_object_get(second, "revoked_at"))));
    cr_expect_eq(json_array_size(json_object_get(second, "scopes")), 3);
    char *text = json_dumps(list, 0);
    cr_expect_null(strstr(text, "hash"));
    free(text);
    json_decref(list);
    kf_db_close(db);
}

Test(db, notify_wakes_a_listener_on_insert)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *listener = open_db(), *writer = open_db();
    cr_assert_eq(kf_db_listen(listener, KF_JOB_CHANNEL, err), KF_OK, "%s", err);
    cr_assert_eq(kf_db_listen(listener, KF_JOB_LOG_CHANNEL, err), KF_OK, "%s", err);
    cr_expect_eq(kf_db_listen(listener, "Bad-Name", err), KF_EINVAL);
    char channel[64], payload[64];
    int got = -1;
    cr_assert_eq(kf_db_wait(listener, 50, channel, sizeof channel, payload, sizeof payload, &got, err), KF_OK,
                 "%s", err);
    cr_expect_eq(got, KF_DB_WAIT_TIMEOUT);

    int64_t id = insert(writer, "resolve", "{}");
    cr_assert_eq(kf_db_wait(listener, 10000, channel, sizeof channel, payload, sizeof payload, &got, err), KF_OK,
                 "%s", err);
    cr_expect_eq(got, KF_DB_WAIT_NOTIFIED);
    cr_expect_str_eq(channel, KF_JOB_CHANNEL);
    cr_expect_str_eq(payload, "resolve");

    const char *lines[] = {"hello"};
    cr_assert_eq(kf_job_log_append(writer, id, "stdout", lines, 1, err), KF_OK, "%s", err);
    cr_assert_eq(kf_db_wait(listener, 10000, channel, sizeof channel, payload, sizeof payload, &got, err), KF_OK,
                 "%s", err);
    cr_expect_eq(got, KF_DB_WAIT_NOTIFIED);
    cr_expect_str_eq(channel, KF_JOB_LOG_CHANNEL);
    char want[32];
    snprintf(want, sizeof want, "%lld", (long long)id);
    cr_expect_str_eq(payload, want);
    kf_db_close(listener);
    kf_db_close(writer);
}

/* A private cluster: this test restarts it. */
Test(db, calls_after_a_server_restart_succeed)
{
    char err[KF_ERRLEN] = "";
    struct kf_pgtest own;
    cr_assert_eq(kf_pgtest_start(&own, err), KF_OK, "%s", err);
    struct kf_db *db, *listener;
    cr_assert_eq(kf_db_open(own.url, NULL, &db, err), KF_OK, "%s", err);
    cr_assert_eq(kf_db_migrate(db, MIGRATIONS, NULL, err), KF_OK, "%s", err);
    cr_assert_eq(kf_db_open(own.url, NULL, &listener, err), KF_OK, "%s", err);
    cr_assert_eq(kf_db_listen(listener, KF_JOB_CHANNEL, err), KF_OK, "%s", err);
    int64_t id = insert(db, "build", "{}");
    char channel[64], payload[64];
    int got;
    cr_assert_eq(kf_db_wait(listener, 10000, channel, sizeof channel, payload, sizeof payload, &got, err), KF_OK,
                 "%s", err);
    cr_expect_eq(got, KF_DB_WAIT_NOTIFIED);

    cr_assert_eq(kf_pgtest_restart(&own, err), KF_OK, "%s", err);
    json_t *job;
    cr_expect_eq(kf_job_get(db, id, &job, err), KF_OK, "%s", err); /* a read */
    json_decref(job);
    cr_assert_eq(kf_pgtest_restart(&own, err), KF_OK, "%s", err);
    insert(db, "build", "{}"); /* a write: the broken idle connection is noticed before sending */
    cr_expect_eq(kf_db_ping(db, err), KF_OK, "%s", err);

    /* The listener learns it may have missed something, and listens again. */
    cr_assert_eq(kf_db_wait(listener, 10000, channel, sizeof channel, payload, sizeof payload, &got, err), KF_OK,
                 "%s", err);
    cr_expect_eq(got, KF_DB_WAIT_RECONNECTED);
    insert(db, "resolve", "{}");
    cr_assert_eq(kf_db_wait(listener, 10000, channel, sizeof channel, payload, sizeof payload, &got, err), KF_OK,
                 "%s", err);
    cr_expect_eq(got, KF_DB_WAIT_NOTIFIED);
    cr_expect_str_eq(payload, "resolve");

    /* Down for good: a clean error, then recovery once it is back. */
    kf_pgtest_halt(&own);
    cr_expect_eq(kf_db_ping(db, err), KF_ENET);
    cr_assert_eq(kf_pgtest_launch(&own, err), KF_OK, "%s", err);
    cr_expect_eq(kf_db_ping(db, err), KF_OK, "%s", err);
    cr_expect_eq(sql_int(own.url, "SELECT count(*) FROM jobs"), 3);
    kf_db_close(db);
    kf_db_close(listener);
    kf_pgtest_stop(&own);
}

/* A statement blocked on a lock whose backend gets terminated: the read is
 * sent again on a new connection, the write reports that its outcome is
 * unknown instead of guessing. */
struct victim {
    int write;       /* 0: kf_job_get, 1: kf_job_succeed */
    int64_t id;
    pthread_barrier_t ready, go;
    int rc;
    char err[KF_ERRLEN];
};

static void *victim_run(void *arg)
{
    struct victim *v = arg;
    struct kf_db *db;
    json_t *job = NULL, *result = json_object();
    char warm_err[KF_ERRLEN];
    if (kf_db_open(db_url, "victim", &db, v->err))
        abort();
    /* Prepare the statement now: preparing also waits for the lock. */
    if (v->write) {
        if (kf_job_succeed(db, v->id + 1000, "w:1", result, NULL, warm_err) != KF_ENOTFOUND)
            abort();
    } else if (kf_job_get(db, v->id, &job, warm_err) == KF_OK)
        json_decref(job);
    pthread_barrier_wait(&v->ready);
    pthread_barrier_wait(&v->go);
    if (v->write) {
        v->rc = kf_job_succeed(db, v->id, "w:1", result, NULL, v->err);
    } else {
        v->rc = kf_job_get(db, v->id, &job, v->err);
        json_decref(job);
    }
    json_decref(result);
    kf_db_close(db);
    return NULL;
}

/* The pid of the victim's backend once it waits for a lock, other than
 * not_pid; 0 after 20 s. */
static long long blocked_victim(long long not_pid)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT pid FROM pg_stat_activity WHERE application_name = 'victim'"
             " AND wait_event_type = 'Lock' AND pid <> %lld",
             not_pid);
    for (int i = 0; i < 2000; i++) {
        long long pid = sql_int(db_url, sql);
        if (pid > 0)
            return pid;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void lose_connection_mid_statement(int write)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = open_db();
    int64_t id = insert(db, "build", "{}");
    struct kf_claimed *c;
    size_t n;
    cr_assert_eq(kf_job_claim(db, "w:1", 600000, NULL, 1, &c, &n, err), KF_OK, "%s", err);
    kf_claimed_free(c, n);

    static struct victim v;
    memset(&v, 0, sizeof v);
    v.write = write;
    v.id = id;
    pthread_barrier_init(&v.ready, NULL, 2);
    pthread_barrier_init(&v.go, NULL, 2);
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, victim_run, &v), 0);
    pthread_barrier_wait(&v.ready);
    PGconn *locker = PQconnectdb(db_url);
    cr_assert_eq(PQstatus(locker), CONNECTION_OK);
    PQclear(PQexec(locker, "BEGIN"));
    PGresult *res = PQexec(locker, "LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE");
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    pthread_barrier_wait(&v.go);

    long long pid = blocked_victim(0);
    cr_assert_gt(pid, 0, "the victim never blocked");
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)", pid);
    free(sql_value(db_url, sql));
    if (!write)
        cr_assert_gt(blocked_victim(pid), 0, "the read was not sent again");
    PQclear(PQexec(locker, "COMMIT"));
    PQfinish(locker);
    pthread_join(thread, NULL);
    pthread_barrier_destroy(&v.ready);
    pthread_barrier_destroy(&v.go);

    json_t *job;
    cr_assert_eq(kf_job_get(db, id, &job, err), KF_OK, "%s", err);
    if (write) {
        cr_expect_eq(v.rc, KF_ENET, "%s", v.err);
        cr_expect(strstr(v.err, "may or may not") != NULL, "%s", v.err);
        cr_expect_str_eq(json_string_value(json_object_get(job, "state")), "running");
    } else {
        cr_expect_eq(v.rc, KF_OK, "%s", v.err);
    }
    json_decref(job);
    kf_db_close(db);
}

Test(db, a_lost_read_is_sent_again)
{
    lose_connection_mid_statement(0);
}

Test(db, a_lost_write_reports_an_unknown_outcome)
{
    lose_connection_mid_statement(1);
}
