/* Child processes without a shell: posix_spawn with argv and envp, output
 * read through pipes in a poll loop, the child's process group stopped on
 * cancel, timeout or overflow, and the child always reaped. */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys_spawn.h> /* posix_spawn: see the note there */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define TICK_MS 50              /* how often cancel and the deadline are checked */
#define TERM_GRACE_MS 1000      /* SIGTERM to SIGKILL */
#define LEFTOVER_GRACE_MS 1000  /* child gone but a grandchild still holds the pipes */
#define LINE_MAX_BYTES 65536    /* longer lines reach line_fn in pieces */
#define READ_CHUNK 65536

/* One output stream: its pipe, where its bytes go, and its partial line. */
struct stream {
    int fd;
    struct kf_buf *sink;
    struct kf_buf line;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static int set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

/* Whether the child has exited, without reaping it: while it is a zombie its
 * pid, and so its process group id, cannot be reused, so killpg stays safe. */
static int child_exited(pid_t pid)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0) {
        if (errno != EINTR)
            return 1;
    }
    return info.si_pid == pid;
}

/* Stops the child's whole process group: SIGTERM, then SIGKILL for whatever
 * is left after the grace period (or at once once the child itself is gone). */
static void stop_group(pid_t pid)
{
    killpg(pid, SIGTERM);
    for (long waited = 0; waited < TERM_GRACE_MS && !child_exited(pid); waited += 10)
        sleep_ms(10);
    killpg(pid, SIGKILL);
}

static void emit_line(const struct kf_spawn *s, struct stream *st)
{
    if (st->line.len == 0 && !st->line.data)
        return;
    s->line_fn(s->line_ctx, st->line.data ? (const char *)st->line.data : "");
    kf_buf_reset(&st->line);
}

/* Splits new bytes into lines for line_fn. */
static int feed_lines(const struct kf_spawn *s, struct stream *st, const char *data, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        size_t room = LINE_MAX_BYTES - st->line.len;
        if (take > room)
            take = room;
        int rc = kf_buf_append(&st->line, data, take);
        if (rc)
            return rc;
        data += take;
        len -= take;
        if (nl && data == nl) {
            data++;
            len--;
            emit_line(s, st);
        } else if (st->line.len >= LINE_MAX_BYTES) {
            emit_line(s, st);
        }
    }
    return KF_OK;
}

/* Reads what is available; closes the fd at EOF. */
static int drain(const struct kf_spawn *s, struct stream *st, char *err)
{
    char chunk[READ_CHUNK];
    for (;;) {
        ssize_t n = read(st->fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return KF_OK;
            close_fd(&st->fd);
            return kf_fail(err, KF_EIO, "%s: reading output: %s", s->argv[0], strerror(errno));
        }
        if (n == 0) {
            close_fd(&st->fd);
            return KF_OK;
        }
        if (st->sink) {
            int rc = kf_buf_append(st->sink, chunk, (size_t)n);
            if (rc == KF_ETOOBIG)
                return kf_fail(err, rc, "%s: output larger than %zu bytes", s->argv[0], st->sink->max);
            if (rc)
                return kf_fail(err, rc, "out of memory");
        }
        if (s->line_fn && feed_lines(s, st, chunk, (size_t)n))
            return kf_fail(err, KF_ENOMEM, "out of memory");
        if ((size_t)n < sizeof chunk)
            return KF_OK;
    }
}

/* Writes the next piece of stdin. A child that stops reading (EPIPE) is not
 * an error: it is its choice. SIGPIPE is blocked in this thread meanwhile. */
static void feed_stdin(int *fd, const unsigned char *data, size_t len, size_t *done)
{
    while (*done < len) {
        size_t piece = len - *done;
        if (piece > READ_CHUNK)
            piece = READ_CHUNK;
        ssize_t n = write(*fd, data + *done, piece);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EPIPE) {
                sigset_t pipe_set;
                sigemptyset(&pipe_set);
                sigaddset(&pipe_set, SIGPIPE);
                struct timespec zero = {0, 0};
                while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
                    ;
            }
            break;
        }
        *done += (size_t)n;
    }
    close_fd(fd);
}

static int start_child(const struct kf_spawn *s, int in_fd, int out_fd, int err_fd, pid_t *pid, char *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = KF_EIO;
    int e = posix_spawn_file_actions_init(&fa);
    if (e)
        return kf_fail(err, KF_ENOMEM, "posix_spawn_file_actions_init: %s", strerror(e));
    e = posix_spawnattr_init(&attr);
    if (e) {
        posix_spawn_file_actions_destroy(&fa);
        return kf_fail(err, KF_ENOMEM, "posix_spawnattr_init: %s", strerror(e));
    }
    if (s->cwd && (e = posix_spawn_file_actions_addchdir_np(&fa, s->cwd)))
        goto fail;
    if ((e = posix_spawn_file_actions_adddup2(&fa, in_fd, 0)) ||
        (e = posix_spawn_file_actions_adddup2(&fa, out_fd, 1)) ||
        (e = posix_spawn_file_actions_adddup2(&fa, err_fd, 2)))
        goto fail;
    /* Own process group so the whole tree (go and its compilers) can be
     * stopped; default signal handling and mask, whatever the caller set. */
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    if ((e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                 POSIX_SPAWN_SETSIGDEF)) ||
        (e = posix_spawnattr_setpgroup(&attr, 0)) || (e = posix_spawnattr_setsigmask(&attr, &none)) ||
        (e = posix_spawnattr_setsigdefault(&attr, &all)))
        goto fail;
    char *const *argv = (char *const *)s->argv;
    char *const *envp = s->envp ? (char *const *)s->envp : environ;
    if (strchr(s->argv[0], '/'))
        e = posix_spawn(pid, s->argv[0], &fa, &attr, argv, envp);
    else
        e = posix_spawnp(pid, s->argv[0], &fa, &attr, argv, envp);
    if (e) {
        rc = kf_fail(err, e == ENOENT ? KF_ENOTFOUND : KF_EIO, "cannot run %s: %s%s", s->argv[0], strerror(e),
                     e == ENOENT && s->cwd ? " (or missing working directory)" : "");
        goto out;
    }
    rc = KF_OK;
    goto out;
fail:
    rc = kf_fail(err, KF_EIO, "posix_spawn setup: %s", strerror(e));
out:
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

static void set_exit_status(int *exit_status, int status)
{
    if (!exit_status)
        return;
    if (WIFEXITED(status))
        *exit_status = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        *exit_status = 128 + WTERMSIG(status);
    else
        *exit_status = -1;
}

static int canceled(const struct kf_spawn *s)
{
    return s->cancel && *s->cancel;
}

/* One running child and our ends of its pipes. */
struct run {
    const struct kf_spawn *s;
    pid_t pid;
    int stdin_fd;        /* write end, -1 once all is written or refused */
    size_t stdin_done;
    struct stream streams[2]; /* stdout, stderr */
    long long deadline;  /* 0 = none */
};

static int run_open(const struct run *r)
{
    return r->streams[0].fd >= 0 || r->streams[1].fd >= 0 || r->stdin_fd >= 0;
}

/* Why the child must stop now (cancel, deadline), or 0. */
static int must_stop(const struct run *r, char *err)
{
    if (canceled(r->s))
        return kf_fail(err, KF_ECANCELED, "%s: canceled", r->s->argv[0]);
    if (r->deadline && now_ms() >= r->deadline)
        return kf_fail(err, KF_ENET, "%s: timed out after %d ms", r->s->argv[0], r->s->timeout_ms);
    return KF_OK;
}

/* Moves bytes until the child closes its output and stops taking input (it
 * may close stdout and still read), or must stop. */
static int pump(struct run *r, char *err)
{
    long long exited_at = 0, next_check = now_ms() + TICK_MS;
    while (run_open(r)) {
        int rc = must_stop(r, err);
        if (rc)
            return rc;
        struct pollfd pfd[3];
        int idx[3];
        nfds_t n = 0;
        for (int i = 0; i < 2; i++) {
            if (r->streams[i].fd >= 0) {
                pfd[n] = (struct pollfd){.fd = r->streams[i].fd, .events = POLLIN};
                idx[n++] = i;
            }
        }
        if (r->stdin_fd >= 0) {
            pfd[n] = (struct pollfd){.fd = r->stdin_fd, .events = POLLOUT};
            idx[n++] = 2;
        }
        if (poll(pfd, n, TICK_MS) < 0) {
            if (errno == EINTR)
                continue;
            return kf_fail(err, KF_EIO, "poll: %s", strerror(errno));
        }
        for (nfds_t i = 0; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            if (idx[i] != 2) {
                rc = drain(r->s, &r->streams[idx[i]], err);
                if (rc)
                    return rc;
            } else if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                close_fd(&r->stdin_fd);
            } else {
                feed_stdin(&r->stdin_fd, r->s->stdin_data, r->s->stdin_len, &r->stdin_done);
            }
        }
        /* A grandchild may keep the pipes open after the child is gone;
         * give it a moment, then stop waiting for EOF. */
        long long t = now_ms();
        if (t >= next_check) {
            next_check = t + TICK_MS;
            if (!child_exited(r->pid))
                exited_at = 0;
            else if (!exited_at)
                exited_at = t;
            else if (t - exited_at >= LEFTOVER_GRACE_MS)
                return KF_OK;
        }
    }
    return KF_OK;
}

/* Reaps the group's leftovers that became our children: a process that
 * set PR_SET_CHILD_SUBREAPER (the worker) inherits the grandchildren of a
 * killed go build. Only this group's pids, never -1: other threads own
 * other children. Bounded: SIGKILLed processes die within moments. */
static void reap_group(pid_t pgid)
{
    long long deadline = now_ms() + LEFTOVER_GRACE_MS;
    for (;;) {
        pid_t w = waitpid(-pgid, NULL, WNOHANG);
        if (w > 0)
            continue;
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 || now_ms() >= deadline)
            return; /* ECHILD: none of ours left in the group */
        sleep_ms(2);
    }
}

/* Waits for the child, still honouring cancel and the deadline: it may
 * have closed its output and run on. rc is the outcome so far. Once the
 * child has exited, and while its zombie still pins the group id, the rest
 * of its group is killed; then the child and those leftovers are reaped. */
static int reap(struct run *r, int rc, int *exit_status, char *err)
{
    int stopped = rc != KF_OK;
    for (long nap = 1;;) {
        int status;
        if (child_exited(r->pid))
            killpg(r->pid, SIGKILL);
        pid_t w = waitpid(r->pid, &status, WNOHANG);
        if (w == r->pid) {
            set_exit_status(exit_status, status);
            reap_group(r->pid);
            return rc;
        }
        if (w < 0 && errno != EINTR)
            return rc ? rc : kf_fail(err, KF_EIO, "waitpid: %s", strerror(errno));
        if (!stopped && (rc = must_stop(r, err))) {
            stop_group(r->pid);
            stopped = 1;
            continue;
        }
        sleep_ms(nap);
        if (nap < TICK_MS)
            nap *= 2;
    }
}

int kf_spawn_run(const struct kf_spawn *s, int *exit_status, char *err)
{
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    struct run r = {.s = s, .pid = -1, .stdin_fd = -1};
    sigset_t pipe_set, old_mask;
    int mask_changed = 0;
    int rc;

    if (exit_status)
        *exit_status = -1;
    if (!s || !s->argv || !s->argv[0] || !s->argv[0][0])
        return kf_fail(err, KF_EINTERNAL, "kf_spawn_run: no program");
    if (canceled(s))
        return kf_fail(err, KF_ECANCELED, "%s: canceled", s->argv[0]);
    r.streams[0] = (struct stream){.fd = -1, .sink = s->out};
    r.streams[1] = (struct stream){.fd = -1, .sink = s->errout};
    kf_buf_init(&r.streams[0].line, LINE_MAX_BYTES + 1);
    kf_buf_init(&r.streams[1].line, LINE_MAX_BYTES + 1);

    /* O_CLOEXEC everywhere: other threads spawn too and must not inherit
     * our pipe ends (a leaked stdin write end would hide EOF forever). */
    if (s->stdin_data) {
        if (pipe2(in_pipe, O_CLOEXEC) < 0 || set_nonblock(in_pipe[1]) < 0)
            goto sys_fail;
    } else if ((in_pipe[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        goto sys_fail;
    }
    if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0 || set_nonblock(out_pipe[0]) < 0 ||
        set_nonblock(err_pipe[0]) < 0)
        goto sys_fail;

    rc = start_child(s, in_pipe[0], out_pipe[1], err_pipe[1], &r.pid, err);
    close_fd(&in_pipe[0]);
    close_fd(&out_pipe[1]);
    close_fd(&err_pipe[1]);
    if (rc)
        goto out;
    r.stdin_fd = in_pipe[1];
    r.streams[0].fd = out_pipe[0];
    r.streams[1].fd = err_pipe[0];
    in_pipe[1] = out_pipe[0] = err_pipe[0] = -1;
    r.deadline = s->timeout_ms > 0 ? now_ms() + s->timeout_ms : 0;

    /* A child that stops reading must not kill us: EPIPE instead. */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    mask_changed = pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask) == 0;

    rc = pump(&r, err);
    if (rc)
        stop_group(r.pid);
    else if (run_open(&r))
        killpg(r.pid, SIGKILL); /* the leftovers holding our pipes */
    close_fd(&r.stdin_fd);
    for (int i = 0; i < 2; i++) {
        close_fd(&r.streams[i].fd);
        if (s->line_fn && r.streams[i].line.len)
            emit_line(s, &r.streams[i]);
    }
    rc = reap(&r, rc, exit_status, err);
    goto out;

sys_fail:
    rc = kf_fail(err, KF_EIO, "cannot start %s: %s", s->argv[0], strerror(errno));
out:
    if (mask_changed)
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    close_fd(&in_pipe[0]);
    close_fd(&in_pipe[1]);
    close_fd(&out_pipe[0]);
    close_fd(&out_pipe[1]);
    close_fd(&err_pipe[0]);
    close_fd(&err_pipe[1]);
    kf_buf_free(&r.streams[0].line);
    kf_buf_free(&r.streams[1].line);
    return rc;
}
