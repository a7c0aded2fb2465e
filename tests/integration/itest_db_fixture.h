/* Shared by the itest_db*.c binaries: one PostgreSQL cluster per binary
 * (started by the Criterion runner; each test runs in a fresh process that
 * finds it through the environment), a fresh migrated database per test,
 * and raw SQL for looking inside the tables. */
#ifndef KF_ITEST_DB_FIXTURE_H
#define KF_ITEST_DB_FIXTURE_H

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "pgtest.h"

#define MIGRATIONS KF_SOURCE_DIR "/migrations"

static struct kf_pgtest cluster;
static char db_url[256];

ReportHook(PRE_ALL)(struct criterion_test_set *tests)
{
    (void)tests;
    char err[KF_ERRLEN], port[16];
    signal(SIGPIPE, SIG_IGN); /* a closed output pipe must not skip POST_ALL */
    if (kf_pgtest_start(&cluster, err) != KF_OK) {
        fprintf(stderr, "starting PostgreSQL: %s\n", err);
        return;
    }
    snprintf(port, sizeof port, "%d", cluster.port);
    setenv("KF_ITEST_PG_PORT", port, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    kf_pgtest_stop(&cluster);
}

/* A new database for this test (its own process), migrated. */
static void fresh_db(void)
{
    char err[KF_ERRLEN] = "";
    const char *port = getenv("KF_ITEST_PG_PORT");
    cr_assert_not_null(port, "the cluster did not start");
    cluster.port = (int)strtol(port, NULL, 10);
    char name[32];
    snprintf(name, sizeof name, "t%d", (int)getpid());
    cr_assert_eq(kf_pgtest_createdb(&cluster, name, db_url, sizeof db_url, err), KF_OK, "%s", err);
    struct kf_db *db;
    cr_assert_eq(kf_db_open(db_url, "itest", &db, err), KF_OK, "%s", err);
    int applied = -1;
    cr_assert_eq(kf_db_migrate(db, MIGRATIONS, &applied, err), KF_OK, "%s", err);
    cr_assert_gt(applied, 0);
    kf_db_close(db);
}

static struct kf_db *open_db(void)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = NULL;
    cr_assert_eq(kf_db_open(db_url, "itest", &db, err), KF_OK, "%s", err);
    return db;
}

/* The first field of the first row of sql run on url, "" for none or NULL;
 * caller frees. Tests only: the library never builds SQL like this. */
static char *sql_value(const char *url, const char *sql)
{
    PGconn *conn = PQconnectdb(url);
    cr_assert_eq(PQstatus(conn), CONNECTION_OK, "%s", PQerrorMessage(conn));
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    cr_assert(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(conn));
    char *value = strdup(st == PGRES_TUPLES_OK && PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    PQfinish(conn);
    return value;
}

static long long sql_int(const char *url, const char *sql)
{
    char *v = sql_value(url, sql);
    long long n = strtoll(v, NULL, 10);
    free(v);
    return n;
}

#endif
