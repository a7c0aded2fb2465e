/* The connection: open with keepalives, run prepared statements, reconnect
 * once when the connection broke, and map SQLSTATEs to kf_rc. */
#include "db_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ignore_notice(void *arg, const PGresult *res)
{
    (void)arg;
    (void)res;
}

/* libpq's messages end with a newline; err gets them without it. */
static const char *conn_message(PGconn *conn, char *buf, size_t len)
{
    snprintf(buf, len, "%s", conn ? PQerrorMessage(conn) : "out of memory");
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = 0;
    return buf;
}

static int looks_like_conninfo(const char *url)
{
    return strchr(url, '=') || strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0;
}

int kf_db_open(const char *url, const char *app_name, struct kf_db **out, char *err)
{
    *out = NULL;
    if (!url)
        return kf_fail(err, KF_EINVAL, "no database URL");
    if (looks_like_conninfo(url)) {
        char *perr = NULL;
        PQconninfoOption *opts = PQconninfoParse(url, &perr);
        if (!opts) {
            int rc = kf_fail(err, KF_ECONFIG, "bad database URL: %s", perr ? perr : "out of memory");
            PQfreemem(perr);
            return rc;
        }
        PQconninfoFree(opts);
    }
    struct kf_db *db = calloc(1, sizeof *db);
    if (!db)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    /* dbname comes last so that the URL overrides these defaults. */
    const char *keys[] = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                          "keepalives_count", "fallback_application_name", "dbname", NULL};
    const char *values[] = {"10", "1", "30", "10", "3", app_name ? app_name : "kofarm", url, NULL};
    db->conn = PQconnectdbParams(keys, values, 1);
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
        char msg[512];
        int rc = kf_fail(err, db->conn ? KF_ENET : KF_ENOMEM, "connecting to PostgreSQL: %s",
                         conn_message(db->conn, msg, sizeof msg));
        kf_db_close(db);
        return rc;
    }
    PQsetNoticeReceiver(db->conn, ignore_notice, NULL);
    *out = db;
    return KF_OK;
}

void kf_db_close(struct kf_db *db)
{
    if (!db)
        return;
    if (db->conn)
        PQfinish(db->conn);
    for (size_t i = 0; i < db->nchannels; i++)
        free(db->channels[i]);
    free(db);
}

/* PQreset, then what a new connection lacks: the LISTENs. Prepared
 * statements are prepared again on first use. */
static int reconnect(struct kf_db *db, char *err)
{
    db->nprepared = 0;
    PQreset(db->conn);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        char msg[512];
        return kf_fail(err, KF_ENET, "reconnecting to PostgreSQL: %s", conn_message(db->conn, msg, sizeof msg));
    }
    PQsetNoticeReceiver(db->conn, ignore_notice, NULL);
    db->reconnected = 1;
    for (size_t i = 0; i < db->nchannels; i++) {
        char *ident = PQescapeIdentifier(db->conn, db->channels[i], strlen(db->channels[i]));
        char sql[128];
        snprintf(sql, sizeof sql, "LISTEN %s", ident ? ident : "");
        PQfreemem(ident);
        PGresult *res = PQexec(db->conn, sql);
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok) {
            char msg[512];
            return kf_fail(err, KF_ENET, "LISTEN %s after reconnecting: %s", db->channels[i],
                           conn_message(db->conn, msg, sizeof msg));
        }
    }
    return KF_OK;
}

int kf_db_check_idle(struct kf_db *db, char *err)
{
    /* A server that went away while we were idle left a FATAL message and
     * EOF on the socket: read them now, before sending anything, so even a
     * write can go to a fresh connection without doubt. */
    for (int round = 0; round < 8; round++) {
        if (PQstatus(db->conn) != CONNECTION_OK)
            return reconnect(db, err);
        struct pollfd pfd = {.fd = PQsocket(db->conn), .events = POLLIN};
        if (pfd.fd < 0)
            return reconnect(db, err);
        if (poll(&pfd, 1, 0) <= 0)
            return KF_OK;
        if (!PQconsumeInput(db->conn))
            return reconnect(db, err);
    }
    return KF_OK;
}

static int sqlstate_is(const char *state, const char *prefix)
{
    return strncmp(state, prefix, strlen(prefix)) == 0;
}

int kf_db_result_fail(const PGresult *res, PGconn *conn, const char *what, char *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[512];
    if (!primary)
        primary = conn_message(conn, msg, sizeof msg);
    if (!state)
        return kf_fail(err, KF_ENET, "%s: %s", what, primary);
    int rc = KF_EINTERNAL;
    if (sqlstate_is(state, "08") || sqlstate_is(state, "40") || sqlstate_is(state, "57P") ||
        strcmp(state, "57014") == 0 || strcmp(state, "53300") == 0)
        rc = KF_ENET; /* connection, serialization, shutdown, timeout, too many clients: transient */
    else if (sqlstate_is(state, "53"))
        rc = KF_EIO; /* disk full, out of memory on the server */
    else if (sqlstate_is(state, "22") || strcmp(state, "23502") == 0 || strcmp(state, "23505") == 0 ||
             strcmp(state, "23514") == 0)
        rc = KF_EINVAL;
    else if (strcmp(state, "23503") == 0)
        rc = KF_ENOTFOUND;
    else if (sqlstate_is(state, "54"))
        rc = KF_ETOOBIG;
    else if (strcmp(state, "42P01") == 0 || strcmp(state, "42703") == 0 || strcmp(state, "42883") == 0)
        return kf_fail(err, KF_ECONFIG, "%s: %s (%s): has the database been migrated?", what, primary, state);
    return kf_fail(err, rc, "%s: %s (%s)", what, primary, state);
}

/* 0 when prepared; 1 when the connection broke (safe to retry: nothing
 * ran); an rc otherwise. */
static int ensure_prepared(struct kf_db *db, const struct kf_db_stmt *st, const char *what, char *err)
{
    for (size_t i = 0; i < db->nprepared; i++)
        if (db->prepared[i] == st)
            return 0;
    if (db->nprepared == KF_DB_MAX_PREPARED)
        return kf_fail(err, KF_EINTERNAL, "too many prepared statements");
    PGresult *res = PQprepare(db->conn, st->name, st->sql, 0, NULL);
    int rc = 0;
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        db->prepared[db->nprepared++] = st;
    else if (PQstatus(db->conn) != CONNECTION_OK)
        rc = 1;
    else
        rc = kf_db_result_fail(res, db->conn, what, err);
    PQclear(res);
    return rc;
}

int kf_db_run(struct kf_db *db, const struct kf_db_stmt *st, const struct kf_db_params *p, int flags,
              const char *what, PGresult **res, char *err)
{
    *res = NULL;
    db->sqlstate[0] = 0;
    int rc = kf_db_check_idle(db, err);
    if (rc)
        return rc;
    static const struct kf_db_params none;
    if (!p)
        p = &none;
    int binary = (flags & KF_DB_BINARY) ? 1 : 0;
    for (int attempt = 0;; attempt++) {
        rc = (flags & KF_DB_ONESHOT) ? 0 : ensure_prepared(db, st, what, err);
        if (rc < 0)
            return rc;
        PGresult *r = NULL;
        if (rc == 0) {
            if (flags & KF_DB_ONESHOT)
                r = PQexecParams(db->conn, st->sql, p->n, NULL, p->values, p->lengths, p->formats, binary);
            else
                r = PQexecPrepared(db->conn, st->name, p->n, p->values, p->lengths, p->formats, binary);
            ExecStatusType status = PQresultStatus(r);
            if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
                *res = r;
                return KF_OK;
            }
            if (PQstatus(db->conn) == CONNECTION_OK) {
                const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
                snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state ? state : "");
                rc = kf_db_result_fail(r, db->conn, what, err);
                PQclear(r);
                return rc;
            }
            PQclear(r);
        }
        /* The connection broke: before the statement was sent (rc == 1),
         * or while it ran, when it may have committed. */
        int sent = rc == 0;
        rc = reconnect(db, err);
        if (rc)
            return rc;
        if (attempt > 0 || (sent && !(flags & KF_DB_RETRY)))
            return kf_fail(err, KF_ENET,
                           "%s: the connection to PostgreSQL was lost while the statement ran; "
                           "it may or may not have taken effect", what);
    }
}

int kf_db_ping(struct kf_db *db, char *err)
{
    static const struct kf_db_stmt ping = {"kf_ping", "SELECT 1"};
    PGresult *res;
    int rc = kf_db_run(db, &ping, NULL, KF_DB_RETRY, "ping", &res, err);
    PQclear(res);
    return rc;
}

static void add_param(struct kf_db_params *p, const char *value, int length, int format)
{
    if (p->n >= KF_DB_MAX_PARAMS)
        abort(); /* a statement with more parameters is a bug caught by any test */
    p->values[p->n] = value;
    p->lengths[p->n] = length;
    p->formats[p->n] = format;
    p->n++;
}

void kf_db_param_text(struct kf_db_params *p, const char *s)
{
    add_param(p, s, 0, 0);
}

void kf_db_param_int(struct kf_db_params *p, long long v)
{
    if (p->n >= KF_DB_MAX_PARAMS)
        abort();
    snprintf(p->numbers[p->n], sizeof p->numbers[p->n], "%lld", v);
    add_param(p, p->numbers[p->n], 0, 0);
}

void kf_db_param_bytea(struct kf_db_params *p, const void *data, size_t len)
{
    add_param(p, data, (int)len, 1); /* callers cap len far below INT_MAX */
}

const char *kf_db_get_text(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

int64_t kf_db_get_i64(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return 0;
    return strtoll(PQgetvalue(res, row, col), NULL, 10); /* PostgreSQL's own integer text */
}

int kf_db_get_bool(const PGresult *res, int row, int col)
{
    return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

int kf_db_get_json(const PGresult *res, int row, int col, json_t **out, char *err)
{
    *out = NULL;
    if (PQgetisnull(res, row, col)) {
        *out = json_null();
        return KF_OK;
    }
    json_error_t jerr;
    *out = json_loadb(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col), JSON_DECODE_ANY, &jerr);
    if (!*out)
        return kf_fail(err, KF_EINTERNAL, "PostgreSQL returned bad JSON: %s", jerr.text);
    return KF_OK;
}
