/* The PostgreSQL connection kofarm's server and workers share: open,
 * reconnect, migrations, LISTEN/NOTIFY. libpq stays inside lib/db*.c; the
 * job queue is in dbjobs.h, API tokens in dbtokens.h. */
#ifndef KF_DB_H
#define KF_DB_H

#include <stddef.h>
#include "error.h"

/* One connection. Not thread-safe: use one kf_db per thread (libpq itself
 * is thread-safe across connections). Every call reconnects once when the
 * connection broke while idle (server restart, dropped socket) before it
 * sends anything, so the first call after a restart succeeds. A connection
 * lost while a statement ran is retried only for reads; a write then
 * returns KF_ENET ("outcome unknown") because it may have committed. */
struct kf_db;

/* Opens url (a libpq URI "postgresql://..." or "key=value" conninfo).
 * app_name is the application_name shown in pg_stat_activity unless the
 * url sets one (NULL = "kofarm"). KF_ECONFIG for an unparsable url,
 * KF_ENET when the server cannot be reached. *out: caller closes. */
int kf_db_open(const char *url, const char *app_name, struct kf_db **out, char *err) KF_MUST_CHECK;
void kf_db_close(struct kf_db *db);

/* SELECT 1 (readiness probe). */
int kf_db_ping(struct kf_db *db, char *err) KF_MUST_CHECK;

/* Applies the migrations in dir not applied yet, in version order, each in
 * its own transaction, and records them in schema_migrations (which this
 * creates). Files are named NNN_name.sql (NNN: the version, >= 1, unique)
 * and may hold several statements but no BEGIN/COMMIT and nothing that
 * cannot run in a transaction (CREATE INDEX CONCURRENTLY). Other files are
 * ignored; a *.sql file with another name is an error. A session advisory
 * lock serialises concurrent runners, so two processes at once are safe
 * and a second run applies nothing. A failing file is rolled back and
 * reported as "FILE:LINE: PostgreSQL's message (SQLSTATE)"; the ones
 * before it stay applied. *applied (may be NULL) gets the count applied. */
int kf_db_migrate(struct kf_db *db, const char *dir, int *applied, char *err) KF_MUST_CHECK;

/* LISTEN channel ([a-z0-9_], at most 63 chars). Remembered and issued
 * again after every reconnect. */
int kf_db_listen(struct kf_db *db, const char *channel, char *err) KF_MUST_CHECK;

enum kf_db_wait_result {
    KF_DB_WAIT_TIMEOUT = 0,     /* nothing within timeout_ms, or a signal interrupted the wait */
    KF_DB_WAIT_NOTIFIED = 1,    /* one notification copied out */
    KF_DB_WAIT_RECONNECTED = 2, /* the connection was re-established: notifications may have
                                   been lost, so recheck whatever you were waiting for */
};

/* Waits up to timeout_ms (-1 = forever) for one notification on this
 * connection's LISTENed channels and copies its channel and payload out
 * (truncated to the buffers; either may be NULL). Notifications that
 * arrived during earlier calls are returned first, one per call. *got is a
 * kf_db_wait_result. KF_ENET when the server is down (call again later). */
int kf_db_wait(struct kf_db *db, int timeout_ms, char *channel_out, size_t chlen, char *payload_out,
               size_t plen, int *got, char *err) KF_MUST_CHECK;

#endif
