/* Schema migrations: numbered SQL files applied in order, each in its own
 * transaction, recorded in schema_migrations, serialised across processes
 * by a session advisory lock. */
#include "db_internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define MIGRATION_MAX_BYTES (4u << 20)
#define MIGRATIONS_MAX 10000
#define MIGRATE_LOCK_KEY "7020234711283396141" /* any constant; the same in every kofarm */

struct migration {
    int version;
    char *file; /* base name, owned */
};

static void migrations_free(struct migration *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(m[i].file);
    free(m);
}

static int by_version(const void *a, const void *b)
{
    const struct migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* NNN_name.sql: 1 with *version set; 0 for other files; -1 for a *.sql
 * file with a bad name. */
static int parse_name(const char *name, int *version)
{
    size_t len = strlen(name);
    if (name[0] == '.' || len < 4 || strcmp(name + len - 4, ".sql") != 0)
        return 0;
    size_t digits = strspn(name, "0123456789");
    if (digits == 0 || digits > 9 || name[digits] != '_' || digits + 1 == len - 4)
        return -1;
    for (size_t i = digits + 1; i < len - 4; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-'))
            return -1;
    }
    long v = strtol(name, NULL, 10); /* at most 9 digits: fits */
    if (v < 1)
        return -1;
    *version = (int)v;
    return 1;
}

static int scan_dir(const char *dir, struct migration **out, size_t *count, char *err)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return kf_fail(err, KF_ECONFIG, "migrations directory %s: %s", dir, strerror(errno));
    int rc = KF_OK;
    struct migration *list = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int version;
        int kind = parse_name(e->d_name, &version);
        if (kind == 0)
            continue;
        if (kind < 0) {
            rc = kf_fail(err, KF_ECONFIG, "%s/%s: migration files are named NNN_name.sql", dir, e->d_name);
            goto out;
        }
        if (n == MIGRATIONS_MAX) {
            rc = kf_fail(err, KF_ECONFIG, "%s: too many migration files", dir);
            goto out;
        }
        struct migration *grown = realloc(list, (n + 1) * sizeof *list);
        if (!grown) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            goto out;
        }
        list = grown;
        list[n].version = version;
        list[n].file = strdup(e->d_name);
        if (!list[n].file) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            goto out;
        }
        n++;
    }
    if (n > 0)
        qsort(list, n, sizeof *list, by_version);
    for (size_t i = 1; i < n; i++)
        if (list[i].version == list[i - 1].version) {
            rc = kf_fail(err, KF_ECONFIG, "%s: %s and %s have the same version", dir, list[i - 1].file,
                         list[i].file);
            goto out;
        }
    *out = list;
    *count = n;
    list = NULL;
    n = 0;
out:
    migrations_free(list, n);
    closedir(d);
    return rc;
}

static int exec_simple(struct kf_db *db, const char *sql, const char *what, char *err)
{
    PGresult *res = PQexec(db->conn, sql);
    ExecStatusType status = PQresultStatus(res);
    int rc = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK
                 ? KF_OK
                 : kf_db_result_fail(res, db->conn, what, err);
    PQclear(res);
    return rc;
}

/* The line of character position pos (1-based, in characters) in sql. */
static int line_of(const char *sql, long pos)
{
    int line = 1;
    long chars = 0;
    for (const unsigned char *p = (const unsigned char *)sql; *p && chars < pos - 1; p++) {
        if ((*p & 0xC0) != 0x80)
            chars++;
        if (*p == '\n')
            line++;
    }
    return line;
}

/* Runs one file's statements, then records it, in one transaction. */
static int apply(struct kf_db *db, const char *dir, const struct migration *m, char *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, m->file) >= (int)sizeof path)
        return kf_fail(err, KF_ECONFIG, "%s/%s: path too long", dir, m->file);
    struct kf_buf sql;
    kf_buf_init(&sql, MIGRATION_MAX_BYTES);
    int rc = kf_buf_read_file(&sql, path, err);
    if (rc) {
        kf_buf_free(&sql);
        return rc == KF_ETOOBIG ? kf_fail(err, KF_ECONFIG, "%s: larger than 4 MiB", path) : rc;
    }
    rc = exec_simple(db, "BEGIN", "BEGIN", err);
    if (rc)
        goto out;
    PGresult *res = PQexec(db->conn, sql.data ? (const char *)sql.data : "");
    ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY) {
        const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
        char what[PATH_MAX + 32];
        if (pos)
            snprintf(what, sizeof what, "%s:%d", path, line_of((const char *)sql.data, strtol(pos, NULL, 10)));
        else
            snprintf(what, sizeof what, "%s", path);
        rc = kf_db_result_fail(res, db->conn, what, err);
        if (rc != KF_ENET)
            rc = KF_ECONFIG; /* a broken migration is the operator's to fix */
        PQclear(res);
        goto rollback;
    }
    PQclear(res);
    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *params[] = {version, m->file};
    res = PQexecParams(db->conn, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, NULL,
                       params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = kf_db_result_fail(res, db->conn, "recording the migration", err);
    PQclear(res);
    if (rc)
        goto rollback;
    rc = exec_simple(db, "COMMIT", path, err);
    goto out;
rollback:
    PQclear(PQexec(db->conn, "ROLLBACK"));
out:
    kf_buf_free(&sql);
    return rc;
}

/* 1 when m is recorded; KF_ECONFIG when recorded under another name. */
static int recorded(const PGresult *done, const struct migration *m, char *err)
{
    for (int row = 0; row < PQntuples(done); row++) {
        if (kf_db_get_i64(done, row, 0) != m->version)
            continue;
        const char *name = PQgetvalue(done, row, 1);
        if (strcmp(name, m->file) != 0)
            return kf_fail(err, KF_ECONFIG, "migration %d was applied as %s but the file is now %s", m->version,
                           name, m->file);
        return 1;
    }
    return 0;
}

int kf_db_migrate(struct kf_db *db, const char *dir, int *applied, char *err)
{
    if (applied)
        *applied = 0;
    struct migration *list = NULL;
    size_t n = 0;
    int rc = scan_dir(dir, &list, &n, err);
    if (rc)
        return rc;
    PGresult *done = NULL;
    int locked = 0;
    rc = kf_db_check_idle(db, err);
    if (rc)
        goto out;
    rc = exec_simple(db, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "taking the migration lock", err);
    if (rc)
        goto out;
    locked = 1;
    rc = exec_simple(db,
                     "CREATE TABLE IF NOT EXISTS schema_migrations ("
                     " version integer PRIMARY KEY,"
                     " name text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())",
                     "creating schema_migrations", err);
    if (rc)
        goto out;
    done = PQexec(db->conn, "SELECT version, name FROM schema_migrations");
    if (PQresultStatus(done) != PGRES_TUPLES_OK) {
        rc = kf_db_result_fail(done, db->conn, "reading schema_migrations", err);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int is_done = recorded(done, &list[i], err);
        if (is_done < 0) {
            rc = is_done;
            goto out;
        }
        if (is_done)
            continue;
        rc = apply(db, dir, &list[i], err);
        if (rc)
            goto out;
        if (applied)
            (*applied)++;
    }
out:
    if (locked && PQstatus(db->conn) == CONNECTION_OK)
        PQclear(PQexec(db->conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
    PQclear(done);
    migrations_free(list, n);
    return rc;
}
