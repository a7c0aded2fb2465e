/* Git sources for jobs: validation of user-given URLs and refs, one cached
 * mirror per URL (flock-serialized clone/fetch), and a per-job checkout
 * sharing the mirror's objects. git runs with argv arrays only. */
#include "gitsrc.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "digest.h"
#include "gitlocal.h"
#include "spawn.h"
#include "srctar.h"

extern char **environ;

#define GIT_OUT_MAX ((size_t)1 << 20)
#define GIT_LS_MAX ((size_t)64 << 20)  /* ls-files of a very large tree */
#define GIT_ERR_SHOWN 600               /* bytes of git's stderr kept in messages */
#define LOCK_POLL_MS 50

/* ---- validation ---- */

/* Schemes are matched in lowercase only: git would look for a remote
 * helper named "HTTPS". */
static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* [user@]host[:port] of a scheme URL: RFC 3986 characters, a host present,
 * neither user nor host starting with '-' (ssh would read an option). */
static int authority_ok(const char *start, size_t len)
{
    const char *at = memrchr(start, '@', len);
    const char *host = at ? at + 1 : start;
    size_t host_len = len - (size_t)(host - start);
    if (host_len == 0 || *host == '-' || *start == '-')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)start[i]) && !strchr("-._~%!$&'()*+,;=:@[]", start[i]))
            return 0;
    return 1;
}

/* scp-like [user@]host:path, as git reads it: a ':' before any '/'. */
static int scp_like_ok(const char *url)
{
    const char *colon = strchr(url, ':');
    const char *slash = strchr(url, '/');
    if (!colon || (slash && slash < colon) || colon == url || colon[1] == 0 || colon[1] == '-')
        return 0;
    const char *at = memchr(url, '@', (size_t)(colon - url));
    const char *host = at ? at + 1 : url;
    if (host == colon || *host == '-' || (at && at == url))
        return 0;
    for (const char *c = url; c < colon; c++)
        if (!isalnum((unsigned char)*c) && !strchr(c < host ? "._-" : ".-", *c) && c != at)
            return 0;
    return 1;
}

int kf_git_validate_url(const char *url, int allow_file, char *err)
{
    if (!url || !*url)
        return kf_fail(err, KF_EINVAL, "git URL is empty");
    size_t len = strnlen(url, KF_GIT_URL_MAX + 1);
    if (len > KF_GIT_URL_MAX)
        return kf_fail(err, KF_EINVAL, "git URL longer than %d bytes", KF_GIT_URL_MAX);
    if (url[0] == '-')
        return kf_fail(err, KF_EINVAL, "git URL must not start with '-'");
    for (const unsigned char *c = (const unsigned char *)url; *c; c++)
        if (*c <= ' ' || *c >= 0x7f)
            return kf_fail(err, KF_EINVAL, "git URL holds whitespace, control or non-ASCII characters");
    const char *sep = strstr(url, "://");
    if (!sep) {
        if (strstr(url, "::"))
            return kf_fail(err, KF_EINVAL, "git URL: \"<transport>::\" addresses are not allowed");
        if (!scp_like_ok(url))
            return kf_fail(err, KF_EINVAL,
                           "not a git URL: use https://, http://, ssh:// or user@host:path");
        return KF_OK;
    }
    if (has_prefix(url, "file://")) {
        if (!allow_file)
            return kf_fail(err, KF_EINVAL, "file:// git URLs are not allowed on this farm");
        if (url[7] != '/' || url[8] == 0)
            return kf_fail(err, KF_EINVAL, "file:// git URL must be file:///absolute/path");
        return KF_OK;
    }
    if (!has_prefix(url, "https://") && !has_prefix(url, "http://") && !has_prefix(url, "ssh://"))
        return kf_fail(err, KF_EINVAL, "git transport \"%.*s\" is not allowed", (int)(sep - url < 32 ? sep - url : 32),
                       url);
    const char *auth = sep + 3;
    size_t auth_len = strcspn(auth, "/?#");
    if (!authority_ok(auth, auth_len))
        return kf_fail(err, KF_EINVAL, "git URL has a bad host part");
    return KF_OK;
}

/* git check-ref-format, one level allowed, plus our own: no leading '-'. */
int kf_git_validate_ref(const char *ref, char *err)
{
    if (!ref || !*ref)
        return kf_fail(err, KF_EINVAL, "git ref is empty");
    size_t len = strnlen(ref, KF_GIT_REF_MAX + 1);
    if (len > KF_GIT_REF_MAX)
        return kf_fail(err, KF_EINVAL, "git ref longer than %d bytes", KF_GIT_REF_MAX);
    if (ref[0] == '-')
        return kf_fail(err, KF_EINVAL, "git ref must not start with '-'");
    if (!strcmp(ref, "@"))
        return kf_fail(err, KF_EINVAL, "git ref \"@\" is not allowed");
    if (strstr(ref, "..") || strstr(ref, "@{") || strstr(ref, "//"))
        return kf_fail(err, KF_EINVAL, "git ref must not contain \"..\", \"@{\" or \"//\"");
    for (const unsigned char *c = (const unsigned char *)ref; *c; c++)
        if (*c < 0x20 || *c == 0x7f || strchr(" ~^:?*[\\", *c))
            return kf_fail(err, KF_EINVAL, "git ref holds a character git forbids (space ~ ^ : ? * [ \\ or control)");
    if (ref[0] == '/' || ref[len - 1] == '/' || ref[len - 1] == '.')
        return kf_fail(err, KF_EINVAL, "git ref must not start with '/' or end with '/' or '.'");
    for (const char *comp = ref; *comp;) {
        size_t clen = strcspn(comp, "/");
        if (comp[0] == '.')
            return kf_fail(err, KF_EINVAL, "git ref component must not start with '.'");
        if (clen >= 5 && !strncmp(comp + clen - 5, ".lock", 5))
            return kf_fail(err, KF_EINVAL, "git ref component must not end with \".lock\"");
        comp += clen;
        if (*comp)
            comp++;
    }
    return KF_OK;
}

int kf_git_validate_commit(const char *sha, char *err)
{
    size_t len = sha ? strnlen(sha, 65) : 0;
    if (len != 40 && len != 64)
        return kf_fail(err, KF_EINVAL, "git commit must be 40 or 64 hex digits");
    if (!kf_hex_lower(sha, len))
        return kf_fail(err, KF_EINVAL, "git commit must be lowercase hex");
    return KF_OK;
}

/* ---- running git ---- */

struct git {
    const struct kf_git_checkout_opts *o;
    char **env;              /* owned */
    char *secret;            /* owned: the URL's password (or token user), scrubbed from all output */
    char shown_url[512];     /* the URL without it, for messages */
    long long deadline;      /* 0 = none */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Replaces every occurrence of the secret in s (in place, never longer)
 * with "***". */
static void scrub(const struct git *g, char *s)
{
    size_t slen = g->secret ? strlen(g->secret) : 0;
    size_t stars = slen < 3 ? slen : 3;
    if (!slen)
        return;
    for (char *hit; (hit = strstr(s, g->secret)); s = hit + stars) {
        memset(hit, '*', stars);
        memmove(hit + stars, hit + slen, strlen(hit + slen) + 1);
    }
}

static void say(const struct git *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct git *g, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    scrub(g, line);
    if (g->o->log_fn)
        g->o->log_fn(g->o->log_ctx, line);
    else
        kf_logf("%s", line);
}

static void git_line(void *ctx, const char *line)
{
    say(ctx, "git: %s", line);
}

/* The '@' ending a scheme URL's user information, or NULL. */
static const char *userinfo_end(const char *url)
{
    const char *auth = strstr(url, "://");
    size_t auth_len = auth ? strcspn(auth + 3, "/?#") : 0;
    return auth ? memrchr(auth + 3, '@', auth_len) : NULL;
}

void kf_git_shown_url(const char *url, char *out, size_t size)
{
    const char *at = userinfo_end(url);
    if (at)
        snprintf(out, size, "%.*s***%s", (int)(strstr(url, "://") + 3 - url), url, at);
    else
        snprintf(out, size, "%s", url);
}

/* Notes the credentials of a scheme URL (https://user:password@host or
 * https://token@host), so no message or log line carries them. */
static int split_secret(struct git *g, const char *url, char *err)
{
    const char *at = userinfo_end(url);
    kf_git_shown_url(url, g->shown_url, sizeof g->shown_url);
    if (!at)
        return KF_OK;
    const char *user = strstr(url, "://") + 3;
    const char *colon = memchr(user, ':', (size_t)(at - user));
    const char *secret = colon ? colon + 1 : user;
    /* A short one ("git@") is a user name, and scrubbing it would garble
     * every line; it never reaches output through shown_url either. */
    if (at - secret < (colon ? 4 : 8))
        return KF_OK;
    if (!(g->secret = strndup(secret, (size_t)(at - secret))))
        return kf_fail(err, KF_ENOMEM, "out of memory");
    return KF_OK;
}

static int env_kept(const char *var)
{
    static const char *const kept_git[] = {
        "GIT_SSH=", "GIT_SSH_COMMAND=", "GIT_SSH_VARIANT=", "GIT_SSL_CAINFO=", "GIT_SSL_CAPATH=",
        "GIT_SSL_NO_VERIFY=", "GIT_HTTP_USER_AGENT=", "GIT_HTTP_LOW_SPEED_LIMIT=", "GIT_HTTP_LOW_SPEED_TIME=",
        "GIT_TRACE=", "GIT_TRACE_PACKET=", "GIT_CURL_VERBOSE=", "GIT_CONFIG_GLOBAL=", NULL};
    if (!strncmp(var, "SSH_ASKPASS", 11) || !strncmp(var, "LC_ALL=", 7) || !strncmp(var, "LANGUAGE=", 9))
        return 0;
    if (strncmp(var, "GIT_", 4))
        return 1;
    for (const char *const *k = kept_git; *k; k++)
        if (!strncmp(var, *k, strlen(*k)))
            return 1;
    return 0;
}

static int has_var(char *const *env, const char *prefix)
{
    for (; env && *env; env++)
        if (!strncmp(*env, prefix, strlen(prefix)))
            return 1;
    return 0;
}

/* The base environment minus whatever could point git at another
 * repository, config or prompt, plus: no prompts, no system config, C
 * messages (we read them), a HOME, BatchMode ssh unless one is configured. */
static int build_env(struct git *g, char *err)
{
    char *const *base = g->o->envp ? g->o->envp : environ;
    size_t n = 0;
    for (char *const *e = base; e && *e; e++)
        n++;
    g->env = calloc(n + 8, sizeof *g->env);
    if (!g->env)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    size_t o = 0;
    for (char *const *e = base; e && *e; e++)
        if (env_kept(*e) && !(g->env[o++] = strdup(*e)))
            return kf_fail(err, KF_ENOMEM, "out of memory");
    int ssh_set = has_var(g->env, "GIT_SSH=") || has_var(g->env, "GIT_SSH_COMMAND=");
    int fail = !(g->env[o++] = strdup("GIT_TERMINAL_PROMPT=0")) || !(g->env[o++] = strdup("GIT_CONFIG_NOSYSTEM=1")) ||
               !(g->env[o++] = strdup("LC_ALL=C"));
    if (!fail && !ssh_set)
        fail = !(g->env[o++] = strdup("GIT_SSH_COMMAND=ssh -o BatchMode=yes"));
    if (!fail && !has_var(g->env, "HOME=")) {
        if (asprintf(&g->env[o], "HOME=%s", g->o->cache_dir) < 0)
            g->env[o] = NULL;
        fail = !g->env[o++];
    }
    if (!fail && !has_var(g->env, "PATH="))
        fail = !(g->env[o++] = strdup("PATH=/usr/local/bin:/usr/bin:/bin"));
    return fail ? kf_fail(err, KF_ENOMEM, "out of memory") : KF_OK;
}

static void free_env(char **env)
{
    for (char **e = env; e && *e; e++)
        free(*e);
    free(env);
}

/* Runs argv (starting with "git"); *status gets its exit status. Lines go
 * to the log when log_lines is set. Errors only when git could not run. */
static int run_git(struct git *g, const char *const *argv, struct kf_buf *out, struct kf_buf *errout, int log_lines,
                   int *status, char *err)
{
    int timeout = 0;
    if (g->deadline) {
        long long left = g->deadline - now_ms();
        if (left <= 0)
            return kf_fail(err, KF_ENET, "git: timed out after %d ms", g->o->timeout_ms);
        timeout = left > 0x7fffffff ? 0x7fffffff : (int)left;
    }
    if (out)
        kf_buf_reset(out);
    kf_buf_reset(errout);
    struct kf_spawn s = {.argv = argv, .envp = (const char *const *)g->env, .out = out, .errout = errout,
                         .line_fn = log_lines ? git_line : NULL, .line_ctx = g, .cancel = g->o->cancel,
                         .timeout_ms = timeout};
    int rc = kf_spawn_run(&s, status, err);
    if (rc == KF_ENOTFOUND) /* no git binary: the worker's problem, not a missing ref */
        rc = kf_fail(err, KF_EIO, "cannot run git: is it installed and on PATH?");
    if (rc && err)
        scrub(g, err);
    return rc;
}

/* The last lines of git's stderr, scrubbed, for a message. */
static void stderr_tail(const struct git *g, const struct kf_buf *errout, char *out, size_t size)
{
    const char *s = errout->data ? (const char *)errout->data : "";
    size_t len = errout->len;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    size_t start = len > GIT_ERR_SHOWN ? len - GIT_ERR_SHOWN : 0;
    snprintf(out, size, "%.*s", (int)(len - start), s + start);
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ';';
        else if ((unsigned char)*c < 0x20)
            *c = ' ';
    scrub(g, out);
}

/* A failed clone or fetch: what the server said decides whether retrying
 * could help. */
static int network_failure(const struct git *g, const char *what, const struct kf_buf *errout, char *err)
{
    char tail[GIT_ERR_SHOWN + 8];
    stderr_tail(g, errout, tail, sizeof tail);
    int rc = KF_ENET;
    if (strstr(tail, "Authentication failed") || strstr(tail, "could not read Username") ||
        strstr(tail, "could not read Password") || strstr(tail, "Permission denied (publickey"))
        rc = KF_EAUTH;
    else if (strstr(tail, "Repository not found") || strstr(tail, "' not found") ||
             strstr(tail, "does not appear to be a git repository"))
        rc = KF_ENOTFOUND;
    return kf_fail(err, rc, "git %s %s failed: %s", what, g->shown_url, tail[0] ? tail : "(no message)");
}

/* ---- the mirror ---- */

static const char *const PROTO_ARGS[] = {"-c", "protocol.allow=never", "-c", "protocol.https.allow=always",
                                         "-c", "protocol.http.allow=always", "-c", "protocol.ssh.allow=always"};
#define N_PROTO_ARGS (sizeof PROTO_ARGS / sizeof PROTO_ARGS[0])

/* argv for a command that talks to the remote: only the transports we
 * validate for, file only when allowed; no automatic gc in the mirror,
 * whose objects live checkouts borrow. */
static size_t remote_argv(const struct git *g, const char **argv, const char *mirror)
{
    size_t n = 0;
    argv[n++] = "git";
    if (mirror) {
        argv[n++] = "-C";
        argv[n++] = mirror;
    }
    for (size_t i = 0; i < N_PROTO_ARGS; i++)
        argv[n++] = PROTO_ARGS[i];
    if (g->o->allow_file) {
        argv[n++] = "-c";
        argv[n++] = "protocol.file.allow=always";
    }
    argv[n++] = "-c";
    argv[n++] = "gc.auto=0";
    argv[n++] = "-c";
    argv[n++] = "maintenance.auto=false";
    return n;
}

static int lock_mirror(struct git *g, const char *lock_path, int *fd_out, char *err)
{
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return kf_fail(err, KF_EIO, "%s: %s", lock_path, strerror(errno));
    for (int waited = 0;; waited = 1) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        int rc = KF_OK;
        if (errno != EWOULDBLOCK && errno != EINTR)
            rc = kf_fail(err, KF_EIO, "flock %s: %s", lock_path, strerror(errno));
        else if (g->o->cancel && *g->o->cancel)
            rc = kf_fail(err, KF_ECANCELED, "canceled waiting for the git mirror");
        else if (g->deadline && now_ms() >= g->deadline)
            rc = kf_fail(err, KF_ENET, "timed out waiting for another job updating the mirror of %s", g->shown_url);
        if (rc) {
            close(fd);
            return rc;
        }
        if (!waited)
            say(g, "git: waiting for another job updating the mirror of %s", g->shown_url);
        struct timespec ts = {0, LOCK_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    *fd_out = fd;
    return KF_OK;
}

static int remove_tree(const char *path, char *err)
{
    int rc = kf_srctar_clear_dir(path, err);
    if (rc == KF_ENOTFOUND)
        return KF_OK;
    if (!rc && rmdir(path) < 0)
        rc = kf_fail(err, KF_EIO, "rmdir %s: %s", path, strerror(errno));
    return rc;
}

/* First use of a URL: clone into a temporary name, then rename, so a
 * mirror that exists is always whole (a worker may die mid-clone). */
static int clone_mirror(struct git *g, const char *mirror, struct kf_buf *errout, char *err)
{
    char *tmp = NULL;
    int status, rc;
    if (asprintf(&tmp, "%s.tmp", mirror) < 0)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    if ((rc = remove_tree(tmp, err)))
        goto out;
    say(g, "git: cloning %s", g->shown_url);
    const char *argv[32];
    size_t n = remote_argv(g, argv, NULL);
    const char *tail[] = {"clone", "--mirror", "--quiet", "--", g->o->url, tmp, NULL};
    memcpy(argv + n, tail, sizeof tail);
    if ((rc = run_git(g, argv, NULL, errout, 1, &status, err)))
        goto out;
    if (status != 0) {
        rc = network_failure(g, "clone", errout, err);
        goto out;
    }
    if (rename(tmp, mirror) < 0)
        rc = kf_fail(err, KF_EIO, "rename %s: %s", tmp, strerror(errno));
out:
    if (rc) {
        char ignored[KF_ERRLEN];
        (void)remove_tree(tmp, ignored);
    }
    free(tmp);
    return rc;
}

/* fetch --prune origin, or with refspec (an exact commit the server may
 * hand out although no ref points at it). */
static int fetch_mirror(struct git *g, const char *mirror, const char *refspec, struct kf_buf *errout, char *err)
{
    const char *argv[32];
    int status;
    size_t n = remote_argv(g, argv, mirror);
    const char *tail[] = {"fetch", "--prune", "--quiet", "--", "origin", refspec, NULL};
    memcpy(argv + n, tail, sizeof tail);
    say(g, "git: fetching %s%s%s", g->shown_url, refspec ? " " : "", refspec ? refspec : "");
    int rc = run_git(g, argv, NULL, errout, 1, &status, err);
    if (!rc && status != 0)
        rc = network_failure(g, "fetch", errout, err);
    return rc;
}

/* rev-parse NAME^{commit} in the mirror; *found says whether it exists. */
static int resolve(struct git *g, const char *mirror, const char *name, char sha[65], int *found, char *err)
{
    /* A full commit id the mirror holds (or plainly lacks) needs no git. */
    int local = kf_gitlocal_has_commit(mirror, name);
    if (local != KF_GITLOCAL_UNKNOWN) {
        *found = local == KF_GITLOCAL_COMMIT;
        if (*found)
            memcpy(sha, name, strlen(name) + 1);
        return KF_OK;
    }
    struct kf_buf out, errout;
    char *spec = NULL;
    int status, rc;
    kf_buf_init(&out, 4096);
    kf_buf_init(&errout, GIT_OUT_MAX);
    *found = 0;
    if (asprintf(&spec, "%s^{commit}", name) < 0) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    const char *argv[] = {"git", "-C", mirror, "rev-parse", "--verify", "--quiet", "--end-of-options", spec, NULL};
    if ((rc = run_git(g, argv, &out, &errout, 0, &status, err)) || status != 0)
        goto out;
    size_t len = out.data ? strcspn((const char *)out.data, "\r\n") : 0;
    if (len == 40 || len == 64) {
        memcpy(sha, out.data, len);
        sha[len] = 0;
        *found = kf_git_validate_commit(sha, NULL) == KF_OK;
    }
    if (!*found)
        rc = kf_fail(err, KF_EINTERNAL, "git rev-parse %s: unexpected output", name);
out:
    free(spec);
    kf_buf_free(&out);
    kf_buf_free(&errout);
    return rc;
}

/* ref as a branch, then a tag, then as given (refs/..., HEAD). */
static int resolve_ref(struct git *g, const char *mirror, const char *ref, char sha[65], int *found, char *err)
{
    static const char *const prefixes[] = {"refs/heads/", "refs/tags/", ""};
    for (size_t i = 0; i < 3; i++) {
        char name[KF_GIT_REF_MAX + 16];
        snprintf(name, sizeof name, "%s%s", prefixes[i], ref);
        int rc = resolve(g, mirror, name, sha, found, err);
        if (rc || *found)
            return rc;
    }
    return KF_OK;
}

/* ---- the checkout ---- */

/* Symlinks are checked out as such; one that leaves the tree would let
 * kodata copy worker files into an image, so the tree is refused. */
static int check_symlinks(struct git *g, const char *dest, struct kf_buf *errout, char *err)
{
    struct kf_buf out;
    int status, rc;
    kf_buf_init(&out, GIT_LS_MAX);
    const char *argv[] = {"git", "-C", dest, "ls-files", "--stage", "-z", NULL};
    if ((rc = run_git(g, argv, &out, errout, 0, &status, err)))
        goto out;
    if (status != 0) {
        char tail[GIT_ERR_SHOWN + 8];
        stderr_tail(g, errout, tail, sizeof tail);
        rc = kf_fail(err, KF_EIO, "git ls-files in %s failed: %s", dest, tail);
        goto out;
    }
    /* records: "<mode> <object> <stage>\t<path>\0" */
    for (size_t at = 0; at < out.len;) {
        const char *rec = (const char *)out.data + at;
        size_t len = strnlen(rec, out.len - at);
        at += len + 1;
        const char *tab = memchr(rec, '\t', len);
        if (!tab || strncmp(rec, "120000 ", 7))
            continue;
        const char *path = tab + 1;
        char *full = NULL, target[4097];
        if (asprintf(&full, "%s/%s", dest, path) < 0) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            goto out;
        }
        ssize_t n = readlink(full, target, sizeof target - 1);
        free(full);
        if (n < 0)
            continue; /* not checked out (sparse, or core.symlinks off) */
        target[n] = 0;
        if ((size_t)n == sizeof target - 1 || !kf_srctar_symlink_ok(path, target)) {
            rc = kf_fail(err, KF_EINVAL, "repository symlink %.200s -> %.200s points outside the checkout", path,
                         target);
            goto out;
        }
    }
out:
    kf_buf_free(&out);
    return rc;
}

/* A checkout sharing the mirror's objects (clone --shared writes an
 * alternates file): O(refs) instead of O(objects) per job. Chosen over
 * `git worktree` because a clone is self-contained: its own refs, index and
 * config, nothing recorded in the mirror to prune later, and removing a job
 * directory is a plain rm. The mirror is never gc'd automatically (see
 * remote_argv), so borrowed objects cannot vanish under a running job. */
static int clone_shared(struct git *g, const char *mirror, struct kf_buf *errout, char *err)
{
    const char *argv[] = {"git", "-c", "protocol.file.allow=always", "clone", "--quiet", "--no-checkout",
                          "--shared", "--", mirror, g->o->dest_dir, NULL};
    int status;
    int rc = run_git(g, argv, NULL, errout, 1, &status, err);
    if (!rc && status != 0) {
        char tail[GIT_ERR_SHOWN + 8];
        stderr_tail(g, errout, tail, sizeof tail);
        rc = kf_fail(err, KF_EIO, "git clone of the mirror into %s failed: %s", g->o->dest_dir, tail);
    }
    return rc;
}

/* The job's repository: written directly (kf_gitlocal_borrow: objects and
 * tags borrowed from the mirror, ~1 ms) for SHA-1 repositories, else by
 * clone --shared (~20 ms: git and an upload-pack for the refs). */
static int make_checkout(struct git *g, const char *mirror, const char *sha, struct kf_buf *errout, char *err)
{
    char *abs = realpath(mirror, NULL);
    int rc;
    if (abs && strlen(sha) == 40) {
        rc = kf_gitlocal_borrow(abs, sha, g->o->dest_dir, err);
        free(abs);
        return rc;
    }
    free(abs);
    return clone_shared(g, mirror, errout, err);
}

/* Hooks off: a clone has only git's sample hooks, but nothing should run.
 * sha is validated hex, so it cannot be read as an option. */
static int checkout_commit(struct git *g, const char *sha, struct kf_buf *errout, char *err)
{
    const char *argv[] = {"git", "-C", g->o->dest_dir, "-c", "core.hooksPath=/dev/null", "-c",
                          "advice.detachedHead=false", "checkout", "--quiet", "--detach", sha, NULL};
    int status;
    int rc = run_git(g, argv, NULL, errout, 1, &status, err);
    if (!rc && status != 0) {
        char tail[GIT_ERR_SHOWN + 8];
        stderr_tail(g, errout, tail, sizeof tail);
        rc = kf_fail(err, KF_EIO, "git checkout %s failed: %s", sha, tail);
    }
    return rc;
}

/* dest_dir may be missing or an empty directory; *existed says which. */
static int check_dest(const char *dest, int *existed, char *err)
{
    struct stat st;
    *existed = 0;
    if (lstat(dest, &st) < 0)
        return errno == ENOENT ? KF_OK : kf_fail(err, KF_EIO, "%s: %s", dest, strerror(errno));
    if (!S_ISDIR(st.st_mode) || rmdir(dest) < 0) /* rmdir: the cheapest emptiness test */
        return kf_fail(err, KF_EINTERNAL, "%s: checkout directory exists and is not an empty directory", dest);
    *existed = 1;
    return KF_OK;
}

static int validate_opts(const struct kf_git_checkout_opts *o, char *err)
{
    if (!o || !o->cache_dir || !*o->cache_dir || !o->dest_dir || !*o->dest_dir)
        return kf_fail(err, KF_EINTERNAL, "kf_git_checkout: cache_dir and dest_dir are required");
    if (!o->ref && !o->commit)
        return kf_fail(err, KF_EINVAL, "git source needs a ref or a commit");
    int rc = kf_git_validate_url(o->url, o->allow_file, err);
    if (!rc && o->ref)
        rc = kf_git_validate_ref(o->ref, err);
    if (!rc && o->commit)
        rc = kf_git_validate_commit(o->commit, err);
    return rc;
}

/* Brings the mirror up to date as far as this request needs and resolves
 * it to a commit. Runs under the mirror lock. */
static int update_and_resolve(struct git *g, const char *mirror, struct kf_buf *errout, char sha[65], char *err)
{
    const struct kf_git_checkout_opts *o = g->o;
    struct stat st;
    int fetched = 0, found = 0, rc;
    if (stat(mirror, &st) < 0) {
        if ((rc = clone_mirror(g, mirror, errout, err)))
            return rc;
        fetched = 1;
    }
    if (o->commit) { /* commits never change: no fetch when it is here */
        if ((rc = resolve(g, mirror, o->commit, sha, &found, err)) || found)
            return rc;
        if (!fetched && (rc = fetch_mirror(g, mirror, NULL, errout, err)))
            return rc;
        if ((rc = resolve(g, mirror, o->commit, sha, &found, err)) || found)
            return rc;
        /* Not under any ref: servers that allow it hand it out by id. */
        char ignored[KF_ERRLEN];
        rc = fetch_mirror(g, mirror, o->commit, errout, ignored);
        if (rc == KF_ECANCELED)
            return kf_fail(err, rc, "%s", ignored);
        if ((rc = resolve(g, mirror, o->commit, sha, &found, err)) || found)
            return rc;
        return kf_fail(err, KF_ENOTFOUND, "commit %s not found in %s", o->commit, g->shown_url);
    }
    if (!fetched && (rc = fetch_mirror(g, mirror, NULL, errout, err)))
        return rc;
    if ((rc = resolve_ref(g, mirror, o->ref, sha, &found, err)))
        return rc;
    if (!found)
        return kf_fail(err, KF_ENOTFOUND, "ref %s not found in %s", o->ref, g->shown_url);
    say(g, "git: %s is %s", o->ref, sha);
    return KF_OK;
}

int kf_git_checkout(const struct kf_git_checkout_opts *o, char commit_out[65], char *err)
{
    struct git g = {.o = o};
    struct kf_buf errout;
    char *mirror = NULL, *lock_path = NULL;
    char digest[KF_DIGEST_LEN], sha[65] = "";
    int lock_fd = -1, dest_existed = 0, dest_touched = 0;
    int rc = validate_opts(o, err);

    kf_buf_init(&errout, GIT_OUT_MAX);
    if (rc)
        goto out;
    if (o->timeout_ms > 0)
        g.deadline = now_ms() + o->timeout_ms;
    if ((rc = split_secret(&g, o->url, err)) || (rc = build_env(&g, err)) ||
        (rc = check_dest(o->dest_dir, &dest_existed, err)))
        goto out;
    if (mkdir(o->cache_dir, 0700) < 0 && errno != EEXIST) {
        rc = kf_fail(err, KF_EIO, "%s: %s", o->cache_dir, strerror(errno));
        goto out;
    }
    kf_sha256_digest(o->url, strlen(o->url), digest);
    if (asprintf(&mirror, "%s/%s.git", o->cache_dir, digest + 7) < 0)
        mirror = NULL;
    if (!mirror || asprintf(&lock_path, "%s.lock", mirror) < 0) {
        lock_path = NULL;
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = lock_mirror(&g, lock_path, &lock_fd, err)) || (rc = update_and_resolve(&g, mirror, &errout, sha, err)))
        goto out;
    dest_touched = 1;
    if ((rc = make_checkout(&g, mirror, sha, &errout, err)))
        goto out;
    close(lock_fd); /* the checkout itself reads objects only */
    lock_fd = -1;
    if ((rc = checkout_commit(&g, sha, &errout, err)) || (rc = check_symlinks(&g, o->dest_dir, &errout, err)))
        goto out;
    memcpy(commit_out, sha, sizeof sha);
    say(&g, "git: checked out %s", sha);
out:
    if (rc && (dest_touched || dest_existed)) {
        char ignored[KF_ERRLEN];
        if (remove_tree(o->dest_dir, ignored) == KF_OK && dest_existed)
            (void)mkdir(o->dest_dir, 0755);
    }
    if (lock_fd >= 0)
        close(lock_fd);
    free(mirror);
    free(lock_path);
    free_env(g.env);
    free(g.secret);
    kf_buf_free(&errout);
    return rc;
}
