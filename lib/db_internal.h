/* Shared by lib/db*.c only: the connection struct, prepared statements run
 * with reconnect, parameter lists and result helpers. Nothing else may
 * include this (libpq stays inside the database layer). */
#ifndef KF_DB_INTERNAL_H
#define KF_DB_INTERNAL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "db.h"

#define KF_DB_MAX_PREPARED 64
#define KF_DB_MAX_CHANNELS 16
#define KF_DB_MAX_PARAMS 16

/* A statement prepared on first use on each connection; name unique. */
struct kf_db_stmt {
    const char *name;
    const char *sql;
};

struct kf_db {
    PGconn *conn;
    const struct kf_db_stmt *prepared[KF_DB_MAX_PREPARED]; /* on this connection */
    size_t nprepared;
    char *channels[KF_DB_MAX_CHANNELS]; /* LISTENed, owned */
    size_t nchannels;
    int reconnected; /* since the last kf_db_wait: notifications may be lost */
    char sqlstate[6]; /* of the last failed statement, "" if none */
};

/* Parameters of one statement; text unless bytea. Values are borrowed. */
struct kf_db_params {
    const char *values[KF_DB_MAX_PARAMS];
    int lengths[KF_DB_MAX_PARAMS];
    int formats[KF_DB_MAX_PARAMS];
    char numbers[KF_DB_MAX_PARAMS][24];
    int n;
};

void kf_db_param_text(struct kf_db_params *p, const char *s);  /* NULL = SQL NULL */
void kf_db_param_int(struct kf_db_params *p, long long v);
void kf_db_param_bytea(struct kf_db_params *p, const void *data, size_t len); /* data NULL = SQL NULL */

enum {
    KF_DB_RETRY = 1,  /* safe to send again on a new connection (a read, or idempotent) */
    KF_DB_BINARY = 2, /* results in binary format */
    KF_DB_ONESHOT = 4, /* not prepared: planned for these very values (optional filters) */
};

/* Runs st with p (may be NULL). On success *res holds a result with
 * PGRES_TUPLES_OK or PGRES_COMMAND_OK (caller PQclears). Errors carry
 * "what: message (SQLSTATE)". */
int kf_db_run(struct kf_db *db, const struct kf_db_stmt *st, const struct kf_db_params *p, int flags,
              const char *what, PGresult **res, char *err) KF_MUST_CHECK;

/* Reconnects when the idle connection turned out broken. */
int kf_db_check_idle(struct kf_db *db, char *err) KF_MUST_CHECK;

/* The kf_rc for a failed result (SQLSTATE classes) and its message in err. */
int kf_db_result_fail(const PGresult *res, PGconn *conn, const char *what, char *err);

/* Reading one text-format field; NULL reads as NULL / 0. */
const char *kf_db_get_text(const PGresult *res, int row, int col);
int64_t kf_db_get_i64(const PGresult *res, int row, int col);
int kf_db_get_bool(const PGresult *res, int row, int col);

/* A text[] literal ("{"a","b"}") of n strings, quoted and escaped, for a
 * parameter value. Caller frees; NULL on ENOMEM. */
char *kf_db_text_array(const char *const *items, size_t n);

/* Copy of s with invalid UTF-8 bytes replaced by U+FFFD, at most max bytes
 * (cut on a character boundary). PostgreSQL refuses invalid UTF-8 in text.
 * Caller frees; NULL on ENOMEM. */
char *kf_db_utf8_clean(const char *s, size_t max);

/* Parses a JSON text column (SQL NULL gives json null); caller decrefs. */
int kf_db_get_json(const PGresult *res, int row, int col, json_t **out, char *err) KF_MUST_CHECK;

/* A succeeding job's owner, result and commit checked, and the result as
 * JSON text within KF_JOB_RESULT_MAX (caller frees *text). */
int kf_db_success_text(const char *owner, const json_t *result, const char *commit, char **text, char *err)
    KF_MUST_CHECK;

/* Timestamps in the API form: RFC 3339, UTC, milliseconds. */
#define KF_DB_TS(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* A URL in the API form: its user information (password or token)
 * replaced by "***", as kf_git_shown_url does; the stored value keeps it
 * for the worker. */
#define KF_DB_URL_SHOWN(url) "regexp_replace((" url "), '^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@', '\\1***@')"

/* A job spec in the API form: the git URL as KF_DB_URL_SHOWN. */
#define KF_DB_SPEC_SHOWN(col)                                                                                 \
    "CASE WHEN (" col ") #>> '{source,git,url}' ~ '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@'"                      \
    " THEN jsonb_set((" col "), '{source,git,url}', to_jsonb(" KF_DB_URL_SHOWN("(" col ") #>> '{source,git,url}'") "))" \
    " ELSE (" col ") END"

#endif
