/* A private PostgreSQL 15 cluster for integration tests: initdb into a
 * fresh directory (as user postgres when we are root), the postmaster as
 * our own child on a free 127.0.0.1 port with its socket in that directory,
 * durable commits as in production. Header-only; no libpq needed.
 *
 *   struct kf_pgtest pg;
 *   char err[KF_ERRLEN];
 *   if (kf_pgtest_start(&pg, err)) ...;   pg.url: database "kofarm", user "kofarm"
 *   kf_pgtest_stop(&pg);                  stops it (pg_ctl -m fast), reaps it, removes the directory
 *
 * The postmaster is a child of the process that called kf_pgtest_start:
 * only that process can restart or stop it. A cluster whose process died
 * without stopping it (a killed test run) is stopped and removed by the
 * next kf_pgtest_start on the machine. */
#ifndef KF_PGTEST_H
#define KF_PGTEST_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys_spawn.h> /* the system's <spawn.h> */
#include <time.h>
#include <unistd.h>

#include "error.h"

#define KF_PGTEST_BIN "/usr/lib/postgresql/15/bin"

struct kf_pgtest {
    char dir[64];   /* cluster directory: data/, log, the unix socket */
    char url[160];  /* libpq URI of database kofarm */
    int port;
    pid_t pid;      /* our child: runuser, or the postmaster itself when not root */
};

extern char **environ;

/* Spawns argv (argv[0] absolute or searched in PATH), as postgres when we
 * are root, output appended to dir/log. *pid gets the child. */
static inline int kf_pgtest_spawn(const struct kf_pgtest *pg, const char *const *argv, int as_postgres,
                                  pid_t *pid, char *err)
{
    const char *full[32];
    size_t n = 0;
    if (as_postgres && geteuid() == 0) {
        full[n++] = access("/usr/sbin/runuser", X_OK) == 0 ? "/usr/sbin/runuser" : "runuser";
        full[n++] = "-u";
        full[n++] = "postgres";
        full[n++] = "--";
    }
    for (size_t i = 0; argv[i] && n < 31; i++)
        full[n++] = argv[i];
    full[n] = NULL;
    char log[96];
    snprintf(log, sizeof log, "%s/log", pg->dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int e = posix_spawnp(pid, full[0], &fa, NULL, (char *const *)full, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e)
        return kf_fail(err, KF_EIO, "spawning %s: %s", full[0], strerror(e));
    return KF_OK;
}

/* Runs argv to completion; KF_EIO unless it exits 0. */
static inline int kf_pgtest_run(const struct kf_pgtest *pg, const char *const *argv, int as_postgres, char *err)
{
    pid_t pid;
    int rc = kf_pgtest_spawn(pg, argv, as_postgres, &pid, err);
    if (rc)
        return rc;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return kf_fail(err, KF_EIO, "waitpid: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return kf_fail(err, KF_EIO, "%s failed (status %d): see %s/log", argv[0], status, pg->dir);
    return KF_OK;
}

/* A port nobody listens on now (another process may take it before we
 * do: start retries). */
static inline int kf_pgtest_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 && getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

/* 1 when postmaster.pid says "ready" (its 8th line). */
static inline int kf_pgtest_ready(const struct kf_pgtest *pg)
{
    char path[96];
    snprintf(path, sizeof path, "%s/data/postmaster.pid", pg->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[256];
    int n = 0, ready = 0;
    while (fgets(line, sizeof line, f))
        if (++n == 8)
            ready = strncmp(line, "ready", 5) == 0;
    fclose(f);
    return ready;
}

/* Starts the postmaster on pg->port and waits until it accepts connections. */
static inline int kf_pgtest_launch(struct kf_pgtest *pg, char *err)
{
    char data[96], port[16];
    snprintf(data, sizeof data, "%s/data", pg->dir);
    snprintf(port, sizeof port, "%d", pg->port);
    const char *argv[] = {KF_PGTEST_BIN "/postgres", "-D", data, "-k", pg->dir, "-p", port,
                          "-c", "listen_addresses=127.0.0.1", NULL};
    int rc = kf_pgtest_spawn(pg, argv, 1, &pg->pid, err);
    if (rc)
        return rc;
    for (int i = 0; i < 6000; i++) { /* 60 s */
        if (kf_pgtest_ready(pg))
            return KF_OK;
        int status;
        if (waitpid(pg->pid, &status, WNOHANG) == pg->pid) {
            pg->pid = 0;
            return kf_fail(err, KF_EIO, "postgres exited (status %d): see %s/log", status, pg->dir);
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return kf_fail(err, KF_EIO, "postgres did not start in 60 s: see %s/log", pg->dir);
}

/* pg_ctl stop -m fast, then reap our child. */
static inline void kf_pgtest_halt(struct kf_pgtest *pg)
{
    if (pg->pid <= 0)
        return;
    char data[96], err[KF_ERRLEN];
    snprintf(data, sizeof data, "%s/data", pg->dir);
    const char *argv[] = {KF_PGTEST_BIN "/pg_ctl", "-D", data, "-m", "fast", "-w", "stop", NULL};
    if (kf_pgtest_run(pg, argv, 1, err) != KF_OK)
        kill(pg->pid, SIGTERM);
    while (waitpid(pg->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    pg->pid = 0;
}

static inline void kf_pgtest_remove_dir(struct kf_pgtest *pg)
{
    if (!pg->dir[0])
        return;
    const char *argv[] = {"rm", "-rf", pg->dir, NULL};
    pid_t pid;
    char err[KF_ERRLEN];
    if (kf_pgtest_spawn(pg, argv, 0, &pid, err) == KF_OK)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    pg->dir[0] = 0;
}

/* Stops the cluster and removes its directory. Safe to call twice. */
static inline void kf_pgtest_stop(struct kf_pgtest *pg)
{
    kf_pgtest_halt(pg);
    kf_pgtest_remove_dir(pg);
}

/* A stop and a start on the same port: existing connections break. */
static inline int kf_pgtest_restart(struct kf_pgtest *pg, char *err)
{
    kf_pgtest_halt(pg);
    return kf_pgtest_launch(pg, err);
}

/* Creates database name ([a-z0-9_]) and writes its URI into url. */
static inline int kf_pgtest_createdb(const struct kf_pgtest *pg, const char *name, char *url, size_t url_len,
                                     char *err)
{
    if (!name[0] || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name))
        return kf_fail(err, KF_EINVAL, "bad database name %s", name);
    char port[16];
    snprintf(port, sizeof port, "%d", pg->port);
    const char *argv[] = {KF_PGTEST_BIN "/createdb", "-h", "127.0.0.1", "-p", port, "-U", "kofarm", name, NULL};
    int rc = kf_pgtest_run(pg, argv, 0, err);
    if (rc == KF_OK)
        snprintf(url, url_len, "postgresql://kofarm@127.0.0.1:%d/%s", pg->port, name);
    return rc;
}

/* Stops and removes the clusters of processes that no longer exist. Each
 * cluster directory holds its owner's pid in "owner"; one without it is
 * still being set up. */
static inline void kf_pgtest_sweep(void)
{
    DIR *tmp = opendir("/tmp");
    if (!tmp)
        return;
    struct dirent *e;
    while ((e = readdir(tmp))) {
        if (strncmp(e->d_name, "kf-pgtest-", 10) != 0 || strlen(e->d_name) != 16)
            continue;
        struct kf_pgtest stale;
        memset(&stale, 0, sizeof stale);
        snprintf(stale.dir, sizeof stale.dir, "/tmp/%.16s", e->d_name);
        char path[128], line[32] = "";
        snprintf(path, sizeof path, "%s/owner", stale.dir);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (!fgets(line, sizeof line, f))
            line[0] = 0;
        fclose(f);
        long owner = strtol(line, NULL, 10);
        if (owner <= 0 || kill((pid_t)owner, 0) == 0 || errno != ESRCH)
            continue;
        char data[96], err[KF_ERRLEN];
        snprintf(data, sizeof data, "%s/data", stale.dir);
        snprintf(path, sizeof path, "%s/data/postmaster.pid", stale.dir);
        const char *argv[] = {KF_PGTEST_BIN "/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop", NULL};
        if (access(path, F_OK) == 0)
            (void)kf_pgtest_run(&stale, argv, 1, err);
        kf_pgtest_remove_dir(&stale);
    }
    closedir(tmp);
}

static inline int kf_pgtest_start(struct kf_pgtest *pg, char *err)
{
    kf_pgtest_sweep();
    memset(pg, 0, sizeof *pg);
    snprintf(pg->dir, sizeof pg->dir, "/tmp/kf-pgtest-XXXXXX");
    if (!mkdtemp(pg->dir)) {
        pg->dir[0] = 0;
        return kf_fail(err, KF_EIO, "mkdtemp: %s", strerror(errno));
    }
    int rc = KF_EIO;
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (!pw || chown(pg->dir, pw->pw_uid, pw->pw_gid) != 0) {
            rc = kf_fail(err, KF_EIO, "no postgres user to own %s", pg->dir);
            kf_pgtest_remove_dir(pg);
            return rc;
        }
    }
    char owner[96];
    snprintf(owner, sizeof owner, "%s/owner", pg->dir);
    FILE *f = fopen(owner, "w");
    if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0) {
        rc = kf_fail(err, KF_EIO, "writing %s: %s", owner, strerror(errno));
        kf_pgtest_remove_dir(pg);
        return rc;
    }
    char data[96];
    snprintf(data, sizeof data, "%s/data", pg->dir);
    const char *initdb[] = {KF_PGTEST_BIN "/initdb", "-D", data, "-U", "kofarm", "--auth=trust", "-E", "UTF8",
                            "--no-locale", "-N", NULL};
    if ((rc = kf_pgtest_run(pg, initdb, 1, err)))
        goto fail;
    for (int attempt = 0;; attempt++) {
        pg->port = kf_pgtest_free_port();
        if (pg->port <= 0) {
            rc = kf_fail(err, KF_EIO, "no free port");
            goto fail;
        }
        rc = kf_pgtest_launch(pg, err);
        if (rc == KF_OK)
            break;
        kf_pgtest_halt(pg);
        if (attempt == 2)
            goto fail;
    }
    char url[160];
    if ((rc = kf_pgtest_createdb(pg, "kofarm", url, sizeof url, err)))
        goto fail;
    snprintf(pg->url, sizeof pg->url, "%s", url);
    return KF_OK;
fail:
    /* The directory stays, with its log, for a look. */
    kf_pgtest_halt(pg);
    return rc;
}

#endif
