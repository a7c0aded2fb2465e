/* LISTEN/NOTIFY: workers and log followers sleep in poll() on the
 * connection's socket instead of polling the tables. */
#include "db_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int channel_valid(const char *channel)
{
    size_t n = strlen(channel);
    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = channel[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

static int listen_once(struct kf_db *db, const char *channel, char *err)
{
    /* The channel is an identifier, so it cannot be a parameter; it was
     * checked to be [a-z0-9_] and is quoted besides. */
    char *ident = PQescapeIdentifier(db->conn, channel, strlen(channel));
    if (!ident)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    char sql[128];
    snprintf(sql, sizeof sql, "LISTEN %s", ident);
    PQfreemem(ident);
    PGresult *res = PQexec(db->conn, sql);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? KF_OK : kf_db_result_fail(res, db->conn, "LISTEN", err);
    PQclear(res);
    return rc;
}

int kf_db_listen(struct kf_db *db, const char *channel, char *err)
{
    if (!channel_valid(channel))
        return kf_fail(err, KF_EINVAL, "bad channel name");
    for (size_t i = 0; i < db->nchannels; i++)
        if (strcmp(db->channels[i], channel) == 0)
            return KF_OK;
    if (db->nchannels == KF_DB_MAX_CHANNELS)
        return kf_fail(err, KF_EINVAL, "too many channels");
    int rc = kf_db_check_idle(db, err);
    if (rc)
        return rc;
    rc = listen_once(db, channel, err);
    if (rc == KF_ENET && PQstatus(db->conn) != CONNECTION_OK) {
        rc = kf_db_check_idle(db, err); /* reconnects; LISTEN is safe to repeat */
        if (rc == KF_OK)
            rc = listen_once(db, channel, err);
    }
    if (rc)
        return rc;
    char *copy = strdup(channel);
    if (!copy)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    db->channels[db->nchannels++] = copy;
    return KF_OK;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void copy_out(char *dst, size_t len, const char *src)
{
    if (dst && len > 0)
        snprintf(dst, len, "%s", src ? src : "");
}

int kf_db_wait(struct kf_db *db, int timeout_ms, char *channel_out, size_t chlen, char *payload_out,
               size_t plen, int *got, char *err)
{
    *got = KF_DB_WAIT_TIMEOUT;
    copy_out(channel_out, chlen, "");
    copy_out(payload_out, plen, "");
    long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        if (PQstatus(db->conn) != CONNECTION_OK) {
            int rc = kf_db_check_idle(db, err); /* reconnects */
            if (rc)
                return rc;
        }
        if (db->reconnected) {
            db->reconnected = 0;
            *got = KF_DB_WAIT_RECONNECTED;
            return KF_OK;
        }
        PGnotify *note = PQnotifies(db->conn);
        if (note) {
            copy_out(channel_out, chlen, note->relname);
            copy_out(payload_out, plen, note->extra);
            PQfreemem(note);
            *got = KF_DB_WAIT_NOTIFIED;
            return KF_OK;
        }
        int wait_ms = -1;
        if (deadline >= 0) {
            long long left = deadline - now_ms();
            if (left <= 0)
                return KF_OK;
            wait_ms = left > 3600000 ? 3600000 : (int)left;
        }
        struct pollfd pfd = {.fd = PQsocket(db->conn), .events = POLLIN};
        int n = poll(&pfd, 1, wait_ms);
        if (n < 0) {
            if (errno == EINTR)
                return KF_OK; /* let the caller look at its shutdown flag */
            return kf_fail(err, KF_EIO, "poll: %s", strerror(errno));
        }
        if (n > 0 && !PQconsumeInput(db->conn)) {
            int rc = kf_db_check_idle(db, err); /* the connection broke: reconnect */
            if (rc)
                return rc;
        }
    }
}
