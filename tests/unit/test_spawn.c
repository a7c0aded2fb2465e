#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"

/* Every test ends with no child of ours left, reaped or not. */
static void assert_no_children(void)
{
    errno = 0;
    cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "a child is left");
    cr_assert_eq(errno, ECHILD);
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

struct run_case {
    const char *argv[6];
    int want_rc;
    int want_status;
    const char *want_out; /* NULL: not checked */
    const char *want_err;
};

static const struct run_case run_cases[] = {
    {{"echo", "hello", NULL}, 0, 0, "hello\n", ""},
    {{"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL}, 0, 3, "out\n", "err\n"},
    {{"sh", "-c", "kill -TERM $$", NULL}, 0, 128 + SIGTERM, "", ""},
    {{"sh", "-c", "kill -KILL $$", NULL}, 0, 128 + SIGKILL, "", ""},
    {{"false", NULL}, 0, 1, "", ""},
    {{"cat", NULL}, 0, 0, "", ""}, /* stdin is /dev/null */
    {{"kofarm-no-such-program", NULL}, KF_ENOTFOUND, -1, "", ""},
    {{"/nonexistent/prog", NULL}, KF_ENOTFOUND, -1, "", ""},
    {{"/etc/passwd", NULL}, KF_EIO, -1, "", ""}, /* not executable */
};

Test(spawn, table)
{
    for (size_t i = 0; i < sizeof run_cases / sizeof run_cases[0]; i++) {
        const struct run_case *c = &run_cases[i];
        struct kf_buf out, errout;
        kf_buf_init(&out, 0);
        kf_buf_init(&errout, 0);
        struct kf_spawn s = {.argv = c->argv, .out = &out, .errout = &errout};
        char err[KF_ERRLEN] = "";
        int status = 12345;
        int rc = kf_spawn_run(&s, &status, err);
        cr_expect_eq(rc, c->want_rc, "case %zu (%s): rc %d (%s)", i, c->argv[0], rc, err);
        cr_expect_eq(status, c->want_status, "case %zu: status %d", i, status);
        cr_expect_str_eq(out.data ? (char *)out.data : "", c->want_out, "case %zu stdout", i);
        cr_expect_str_eq(errout.data ? (char *)errout.data : "", c->want_err, "case %zu stderr", i);
        if (c->want_rc)
            cr_expect(strstr(err, c->argv[0]) != NULL, "case %zu: error names the program: %s", i, err);
        kf_buf_free(&out);
        kf_buf_free(&errout);
    }
    assert_no_children();
}

Test(spawn, same_buffer_for_both_streams)
{
    const char *argv[] = {"sh", "-c", "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three", NULL};
    struct kf_buf both;
    kf_buf_init(&both, 0);
    struct kf_spawn s = {.argv = argv, .out = &both, .errout = &both};
    int status;
    cr_assert_eq(kf_spawn_run(&s, &status, NULL), 0);
    cr_expect_str_eq((char *)both.data, "one\ntwo\nthree\n");
    kf_buf_free(&both);
    assert_no_children();
}

Test(spawn, environment_and_cwd)
{
    const char *argv[] = {"/bin/sh", "-c", "echo \"$FOO|$HOME\"; pwd", NULL};
    const char *envp[] = {"FOO=bar baz", NULL};
    struct kf_buf out;
    kf_buf_init(&out, 0);
    struct kf_spawn s = {.argv = argv, .envp = envp, .cwd = "/usr/share", .out = &out};
    int status;
    cr_assert_eq(kf_spawn_run(&s, &status, NULL), 0);
    cr_expect_eq(status, 0);
    cr_expect_str_eq((char *)out.data, "bar baz|\n/usr/share\n");
    kf_buf_free(&out);

    char err[KF_ERRLEN] = "";
    s.cwd = "/nonexistent-kofarm-dir";
    s.out = NULL;
    cr_expect_neq(kf_spawn_run(&s, &status, err), 0);
    cr_expect(strstr(err, "/bin/sh") != NULL, "%s", err);
    assert_no_children();
}

static unsigned char *pattern_bytes(size_t len)
{
    unsigned char *p = malloc(len);
    cr_assert_not_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)(i * 7 + i / 251);
    return p;
}

/* 1 MiB through cat: stdin is written while stdout is read, or both fill. */
Test(spawn, stdin_one_megabyte)
{
    size_t len = 1 << 20;
    unsigned char *input = pattern_bytes(len);
    const char *argv[] = {"cat", NULL};
    struct kf_buf out;
    kf_buf_init(&out, 0);
    struct kf_spawn s = {.argv = argv, .stdin_data = input, .stdin_len = len, .out = &out};
    int status;
    cr_assert_eq(kf_spawn_run(&s, &status, NULL), 0);
    cr_expect_eq(status, 0);
    cr_assert_eq(out.len, len);
    cr_expect_eq(memcmp(out.data, input, len), 0);
    kf_buf_free(&out);
    free(input);
    assert_no_children();
}

/* A child that stops reading stdin must not kill us with SIGPIPE. */
Test(spawn, child_ignores_stdin)
{
    size_t len = 4 << 20;
    unsigned char *input = pattern_bytes(len);
    const char *argv[] = {"head", "-c", "3", NULL};
    struct kf_buf out;
    kf_buf_init(&out, 0);
    struct kf_spawn s = {.argv = argv, .stdin_data = input, .stdin_len = len, .out = &out};
    int status;
    cr_assert_eq(kf_spawn_run(&s, &status, NULL), 0);
    cr_expect_eq(status, 0);
    cr_expect_eq(out.len, 3);
    cr_expect_eq(memcmp(out.data, input, 3), 0);
    kf_buf_free(&out);

    const char *argv_true[] = {"true", NULL};
    s.argv = argv_true;
    s.out = NULL;
    cr_assert_eq(kf_spawn_run(&s, &status, NULL), 0);
    cr_expect_eq(status, 0);
    free(input);
    assert_no_children();
}

Test(spawn, output_cap)
{
    const char *argv[] = {"head", "-c", "1000000", "/dev/zero", NULL};
    struct kf_buf out;
    kf_buf_init(&out, 1000);
    struct kf_spawn s = {.argv = argv, .out = &out};
    char err[KF_ERRLEN] = "";
    int status;
    cr_expect_eq(kf_spawn_run(&s, &status, err), KF_ETOOBIG, "%s", err);
    cr_expect(strstr(err, "1000 bytes") != NULL, "%s", err);
    cr_expect_leq(out.len, 1000);
    kf_buf_free(&out);

    /* The cap applies to stderr too, and stops a child that would run on. */
    const char *argv_err[] = {"sh", "-c", "while :; do echo xxxxxxxxxxxxxxxx >&2; done", NULL};
    kf_buf_init(&out, 4096);
    s = (struct kf_spawn){.argv = argv_err, .errout = &out};
    cr_expect_eq(kf_spawn_run(&s, &status, err), KF_ETOOBIG, "%s", err);
    cr_expect_eq(status, 128 + SIGTERM);
    kf_buf_free(&out);
    assert_no_children();
}

struct canceler {
    volatile int flag;
    int delay_ms;
};

static void *cancel_later(void *arg)
{
    struct canceler *c = arg;
    struct timespec ts = {c->delay_ms / 1000, (long)(c->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    c->flag = 1;
    return NULL;
}

Test(spawn, cancel_stops_sleep)
{
    struct canceler c = {.flag = 0, .delay_ms = 200};
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, cancel_later, &c), 0);
    /* sh runs sleep as its own child: the whole group must go. */
    const char *argv[] = {"sh", "-c", "sleep 30; echo done", NULL};
    struct kf_buf out;
    kf_buf_init(&out, 0);
    struct kf_spawn s = {.argv = argv, .out = &out, .cancel = &c.flag};
    char err[KF_ERRLEN] = "";
    int status;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    cr_expect_eq(kf_spawn_run(&s, &status, err), KF_ECANCELED, "%s", err);
    double took = seconds_since(&start);
    pthread_join(thread, NULL);
    cr_expect_lt(took, 10.0, "cancel took %.1f s", took); /* far from 30 s, loose for a busy machine */
    cr_expect_eq(status, 128 + SIGTERM);
    cr_expect_eq(out.len, 0);
    kf_buf_free(&out);
    assert_no_children();
}

Test(spawn, canceled_before_start)
{
    volatile int flag = 1;
    const char *argv[] = {"echo", "never", NULL};
    struct kf_buf out;
    kf_buf_init(&out, 0);
    struct kf_spawn s = {.argv = argv, .out = &out, .cancel = &flag};
    int status;
    cr_expect_eq(kf_spawn_run(&s, &status, NULL), KF_ECANCELED);
    cr_expect_eq(out.len, 0);
    kf_buf_free(&out);
    assert_no_children();
}

/* SIGTERM is ignored: SIGKILL must follow. */
Test(spawn, timeout_kills_stubborn_child)
{
    const char *argv[] = {"sh", "-c", "trap '' TERM; sleep 30", NULL};
    struct kf_spawn s = {.argv = argv, .timeout_ms = 200};
    char err[KF_ERRLEN] = "";
    int status;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    cr_expect_eq(kf_spawn_run(&s, &status, err), KF_ENET, "%s", err);
    cr_expect_lt(seconds_since(&start), 10.0);
    cr_expect_eq(status, 128 + SIGKILL);
    cr_expect(strstr(err, "timed out") != NULL, "%s", err);
    assert_no_children();
}

/* The child exits but leaves a grandchild holding stdout open. */
Test(spawn, grandchild_holding_output)
{
    const char *argv[] = {"sh", "-c", "sleep 30 & echo started", NULL};
    struct kf_buf out;
    kf_buf_init(&out, 0);
    struct kf_spawn s = {.argv = argv, .out = &out};
    int status;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    cr_expect_eq(kf_spawn_run(&s, &status, NULL), 0);
    cr_expect_lt(seconds_since(&start), 10.0);
    cr_expect_eq(status, 0);
    cr_expect_str_eq((char *)out.data, "started\n");
    kf_buf_free(&out);
    assert_no_children();
}

struct lines {
    char text[4096];
    int count;
};

static void collect_line(void *ctx, const char *line)
{
    struct lines *l = ctx;
    l->count++;
    size_t used = strlen(l->text);
    snprintf(l->text + used, sizeof l->text - used, "[%s]", line);
}

Test(spawn, line_callback)
{
    const char *argv[] = {"sh", "-c", "printf 'a\\n\\nb\\n'; sleep 0.1; printf 'e1\\n' >&2; sleep 0.1; printf 'tail'",
                          NULL};
    struct lines l = {.text = "", .count = 0};
    struct kf_buf out;
    kf_buf_init(&out, 0);
    struct kf_spawn s = {.argv = argv, .out = &out, .line_fn = collect_line, .line_ctx = &l};
    int status;
    cr_assert_eq(kf_spawn_run(&s, &status, NULL), 0);
    cr_expect_str_eq(l.text, "[a][][b][e1][tail]");
    cr_expect_eq(l.count, 5);
    cr_expect_str_eq((char *)out.data, "a\n\nb\ntail");
    kf_buf_free(&out);
    assert_no_children();
}

Test(spawn, long_line_in_pieces)
{
    const char *argv[] = {"sh", "-c", "head -c 150000 /dev/zero | tr '\\0' x; echo", NULL};
    struct lines l = {.text = "", .count = 0};
    struct kf_spawn s = {.argv = argv, .line_fn = collect_line, .line_ctx = &l};
    int status;
    cr_assert_eq(kf_spawn_run(&s, &status, NULL), 0);
    cr_expect_eq(l.count, 3); /* 65536 + 65536 + 18928 */
    assert_no_children();
}

Test(spawn, bad_arguments)
{
    const char *empty[] = {NULL};
    const char *blank[] = {"", NULL};
    struct kf_spawn s = {.argv = empty};
    int status;
    cr_expect_eq(kf_spawn_run(&s, &status, NULL), KF_EINTERNAL);
    s.argv = blank;
    cr_expect_eq(kf_spawn_run(&s, &status, NULL), KF_EINTERNAL);
    s.argv = NULL;
    cr_expect_eq(kf_spawn_run(&s, &status, NULL), KF_EINTERNAL);
}

/* Several threads feeding cat at once: a pipe end leaked into another
 * thread's child would hold EOF back and deadlock them (caught by the
 * timeout instead of hanging the test). */
#define N_THREADS 6

struct job {
    unsigned char *input;
    size_t len;
    int rc, status;
    int same;
};

static void *run_cat(void *arg)
{
    struct job *j = arg;
    const char *argv[] = {"cat", NULL};
    struct kf_buf out;
    kf_buf_init(&out, 0);
    struct kf_spawn s = {.argv = argv, .stdin_data = j->input, .stdin_len = j->len, .out = &out,
                         .timeout_ms = 30000};
    for (int round = 0; round < 5; round++) {
        kf_buf_reset(&out);
        j->rc = kf_spawn_run(&s, &j->status, NULL);
        j->same = out.len == j->len && memcmp(out.data, j->input, j->len) == 0;
        if (j->rc || !j->same)
            break;
    }
    kf_buf_free(&out);
    return NULL;
}

Test(spawn, concurrent_threads)
{
    pthread_t threads[N_THREADS];
    struct job jobs[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        jobs[i] = (struct job){.len = 200000 + (size_t)i * 1000};
        jobs[i].input = pattern_bytes(jobs[i].len);
        cr_assert_eq(pthread_create(&threads[i], NULL, run_cat, &jobs[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(threads[i], NULL);
        cr_expect_eq(jobs[i].rc, 0, "thread %d", i);
        cr_expect_eq(jobs[i].status, 0, "thread %d", i);
        cr_expect(jobs[i].same, "thread %d output differs", i);
        free(jobs[i].input);
    }
    assert_no_children();
}

/* Output closed early, input still wanted: stdin must be fed to the end. */
Test(spawn, stdin_after_output_closed)
{
    char path[] = "/tmp/kf-test-spawn-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    char script[128];
    snprintf(script, sizeof script, "exec >&- 2>&-; sleep 0.2; cat > %s", path);
    const char *argv[] = {"sh", "-c", script, NULL};
    size_t len = 1 << 20;
    unsigned char *input = pattern_bytes(len);
    struct kf_spawn s = {.argv = argv, .stdin_data = input, .stdin_len = len};
    int status;
    cr_assert_eq(kf_spawn_run(&s, &status, NULL), 0);
    cr_expect_eq(status, 0);
    struct kf_buf got;
    kf_buf_init(&got, 0);
    cr_assert_eq(kf_buf_read_file(&got, path, NULL), 0);
    cr_expect_eq(got.len, len);
    cr_expect_eq(memcmp(got.data, input, len), 0);
    kf_buf_free(&got);
    free(input);
    unlink(path);
    assert_no_children();
}

/* As the worker does: orphaned grandchildren become ours. A grandchild that
 * let go of the pipes outlives sh; kf_spawn_run must kill it and reap it
 * (a zombie would still answer kill(pid, 0)). Forked, so the subreaper
 * setting does not leak into other tests. */
static int subreaper_run(const char *script, volatile int *cancel, int *rc_out)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        return -1;
    const char *argv[] = {"sh", "-c", script, NULL};
    struct kf_buf out;
    kf_buf_init(&out, 0);
    struct kf_spawn s = {.argv = argv, .out = &out, .cancel = cancel};
    int status;
    *rc_out = kf_spawn_run(&s, &status, NULL);
    long grandchild = out.data ? strtol((char *)out.data, NULL, 10) : 0;
    kf_buf_free(&out);
    return grandchild > 0 ? (int)grandchild : -1;
}

static void expect_group_reaped(const char *script, int with_cancel)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct canceler c = {.flag = 0, .delay_ms = 300};
        pthread_t thread;
        if (with_cancel && pthread_create(&thread, NULL, cancel_later, &c) != 0)
            _exit(10);
        int rc;
        int grandchild = subreaper_run(script, &c.flag, &rc);
        if (with_cancel)
            pthread_join(thread, NULL);
        if (grandchild <= 0)
            _exit(11);
        if (rc != (with_cancel ? KF_ECANCELED : KF_OK))
            _exit(12);
        /* Gone for good: not alive, not a zombie of ours. */
        if (kill(grandchild, 0) == 0 || errno != ESRCH)
            _exit(13);
        errno = 0;
        if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
            _exit(14);
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child exit %d", script,
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    assert_no_children();
}

Test(spawn, leftover_group_killed_and_reaped)
{
    /* The grandchild drops the pipes: nothing waits for it, sh exits at once. */
    expect_group_reaped("sleep 30 </dev/null >/dev/null 2>&1 & echo $!", 0);
}

Test(spawn, cancel_reaps_orphaned_grandchildren)
{
    /* sh exits on TERM while its backgrounded child ignores it: KILL and reap. */
    expect_group_reaped("(trap '' TERM; exec sleep 30) </dev/null >/dev/null 2>&1 & echo $!; sleep 30", 1);
}
