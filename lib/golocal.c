/* kf_go_list_local: the common case of `go list` answered without running
 * go (~25 ms saved per build): a package of the main module whose go.mod is
 * in workdir, named as "./dir" or by its import path, every file of which
 * says `package main`. Anything less plain (a go.work, a nested module, a
 * symlink on the way, GOFLAGS=-modfile, GOPATH mode, any file whose package
 * clause is not main or not simple to read) is left to go list. */
#include "golocal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "naming.h"

#define GOMOD_MAX ((size_t)1 << 20)
#define HEAD_MAX 8192   /* a package clause after more comment than this: ask go */
#define FILES_MAX 4096  /* a directory with more entries: ask go */

static const char *env_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
            return envp[i] + n + 1;
    return NULL;
}

/* Settings under which go resolves packages differently than here. */
static int env_plain(char *const *envp)
{
    const char *v;
    if ((v = env_get(envp, "GO111MODULE")) && *v && strcmp(v, "on") != 0 && strcmp(v, "auto") != 0)
        return 0;
    if ((v = env_get(envp, "GOWORK")) && *v && strcmp(v, "off") != 0)
        return 0;
    if ((v = env_get(envp, "GOFLAGS")) && strstr(v, "modfile"))
        return 0;
    return 1;
}

static int is_ident_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The module path of go.mod's `module` line (first directive, possibly
 * quoted); NULL when go.mod is missing or not plain enough. Caller frees. */
static char *module_path(const char *workdir)
{
    char path[PATH_MAX + 16];
    struct kf_buf f;
    char *mod = NULL;
    snprintf(path, sizeof path, "%s/go.mod", workdir);
    kf_buf_init(&f, GOMOD_MAX);
    if (kf_buf_read_file(&f, path, NULL) != KF_OK || f.len == 0 || memchr(f.data, 0, f.len))
        goto out;
    const char *p = (const char *)f.data, *end = p + f.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
        if (p == e || (e - p >= 2 && p[0] == '/' && p[1] == '/')) {
            p = nl ? nl + 1 : end;
            continue;
        }
        if (e - p < 7 || memcmp(p, "module", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
            goto out; /* the first directive is not `module`: unusual, ask go */
        p += 7;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        const char *s = p;
        if (p < e && *p == '"') {
            s = ++p;
            while (p < e && *p != '"' && *p != '\\')
                p++;
            if (p == e || *p != '"')
                goto out;
        } else {
            while (p < e && *p != ' ' && *p != '\t' && *p != '\r')
                p++;
        }
        size_t n = (size_t)(p - s);
        if (n == 0 || n > 500)
            goto out;
        for (size_t i = 0; i < n; i++) /* module paths: letters, digits, and -._~/ */
            if (!is_ident_byte(s[i]) && !strchr("-.~/", s[i]))
                goto out;
        mod = strndup(s, n);
        goto out;
    }
out:
    kf_buf_free(&f);
    return mod;
}

/* Skips blanks and comments; NULL when a comment does not end. */
static const char *skip_space(const char *p, const char *end)
{
    while (p < end) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '\f') {
            p++;
        } else if (end - p >= 2 && p[0] == '/' && p[1] == '/') {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl)
                return NULL;
            p = nl + 1;
        } else if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
            const char *q = p + 2;
            while (q + 1 < end && !(q[0] == '*' && q[1] == '/'))
                q++;
            if (q + 1 >= end)
                return NULL;
            p = q + 2;
        } else {
            break;
        }
    }
    return p;
}

/* 1 when the file's package clause is `package main`, 0 otherwise or when
 * it cannot tell. */
static int says_main(int dirfd, const char *name)
{
    char head[HEAD_MAX];
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    if (n <= 0)
        return 0;
    const char *end = head + n;
    const char *p = skip_space(head, end);
    if (!p || end - p < 13 || memcmp(p, "package", 7) != 0 || !(p[7] == ' ' || p[7] == '\t'))
        return 0;
    p = skip_space(p + 8, end);
    if (!p || end - p < 5 || memcmp(p, "main", 4) != 0 || is_ident_byte(p[4]))
        return 0;
    return 1;
}

/* The directory's Go files (not tests, not hidden or "_" files, as go
 * ignores those) all say main: *first gets the lexically first one. */
static int main_package(const char *dir, char **first)
{
    int ok = 0, seen = 0, dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dirfd >= 0 ? fdopendir(dirfd) : NULL;
    *first = NULL;
    if (!d) {
        if (dirfd >= 0)
            close(dirfd);
        return 0;
    }
    struct dirent *de;
    size_t entries = 0;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        size_t n = strlen(name);
        if (++entries > FILES_MAX)
            goto out;
        if (n < 4 || strcmp(name + n - 3, ".go") != 0 || name[0] == '.' || name[0] == '_' ||
            (n >= 8 && strcmp(name + n - 8, "_test.go") == 0))
            continue;
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) || !says_main(dirfd, name))
            goto out;
        seen++;
        if (!*first || strcmp(name, *first) < 0) {
            free(*first);
            if (!(*first = strdup(name)))
                goto out;
        }
    }
    ok = seen > 0;
out:
    closedir(d);
    if (!ok) {
        free(*first);
        *first = NULL;
    }
    return ok;
}

/* No go.mod below the module root down to the package, and no symlinked
 * or go-ignored ("_x", ".x", testdata, vendor) directory on the way. */
static int plain_path(const char *root, const char *rel)
{
    char path[PATH_MAX];
    size_t len = (size_t)snprintf(path, sizeof path, "%s", root);
    if (len >= sizeof path)
        return 0;
    const char *p = rel;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || p[0] == '.' || p[0] == '_' || (n == 8 && !memcmp(p, "testdata", 8)) ||
            (n == 6 && !memcmp(p, "vendor", 6)) || len + 1 + n + 8 >= sizeof path)
            return 0;
        path[len++] = '/';
        memcpy(path + len, p, n);
        len += n;
        path[len] = 0;
        struct stat st;
        if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            return 0;
        memcpy(path + len, "/go.mod", 8);
        if (access(path, F_OK) == 0)
            return 0;
        path[len] = 0;
        p += n;
        if (*p == '/')
            p++;
    }
    return 1;
}

/* A go.work in the module root or any directory above makes go use it. */
static int no_workspace(const char *root)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s", root);
    for (;;) {
        size_t len = strlen(path);
        if (len + 9 >= sizeof path)
            return 0;
        memcpy(path + len, "/go.work", 9);
        if (access(path, F_OK) == 0)
            return 0;
        path[len] = 0;
        char *slash = strrchr(path, '/');
        if (!slash || slash == path)
            break;
        *slash = 0;
    }
    return access("/go.work", F_OK) != 0;
}

int kf_go_list_local(const char *workdir, char *const *envp, const char *arg, struct kf_gopkg *out)
{
    int answered = 0;
    char *root = NULL, *mod = NULL, *rel = NULL, *first = NULL, *dir = NULL, *import_path = NULL;
    memset(out, 0, sizeof *out);
    if (!env_plain(envp) || !(root = realpath(workdir ? workdir : ".", NULL)) || !(mod = module_path(root)) ||
        !no_workspace(root))
        goto out;
    const char *p = strncmp(arg, "ko://", 5) == 0 ? arg + 5 : arg;
    size_t mod_len = strlen(mod);
    if (strcmp(p, ".") == 0 || strcmp(p, "./") == 0) {
        rel = strdup("");
    } else if (strncmp(p, "./", 2) == 0) {
        if (strstr(p, "/../") || strstr(p, "/./") || strstr(p, "//") || strchr(p, '\\') ||
            (strlen(p) >= 3 && !strcmp(p + strlen(p) - 3, "/..")))
            goto out;
        rel = strdup(p + 2);
    } else if (strcmp(p, mod) == 0) {
        rel = strdup("");
    } else if (strncmp(p, mod, mod_len) == 0 && p[mod_len] == '/') {
        rel = strdup(p + mod_len + 1);
    } else {
        goto out; /* another module's package, or a relative "../x": go list knows */
    }
    if (!rel)
        goto out;
    size_t rl = strlen(rel);
    while (rl > 0 && rel[rl - 1] == '/')
        rel[--rl] = 0;
    for (size_t i = 0; i < rl; i++)
        if (!is_ident_byte(rel[i]) && !strchr("-.~/+", rel[i]))
            goto out;
    if (!plain_path(root, rel))
        goto out;
    if (asprintf(&dir, "%s%s%s", root, rl ? "/" : "", rel) < 0) {
        dir = NULL;
        goto out;
    }
    if (!main_package(dir, &first))
        goto out;
    if (asprintf(&import_path, "%s%s%s", mod, rl ? "/" : "", rel) < 0) {
        import_path = NULL;
        goto out;
    }
    out->import_path = import_path;
    out->name = strdup("main");
    out->dir = dir;
    if (asprintf(&out->first_go_file, "%s/%s", dir, first) < 0)
        out->first_go_file = NULL;
    out->module_path = mod;
    out->module_dir = root;
    import_path = dir = mod = root = NULL;
    if (!out->name || !out->first_go_file) {
        kf_gopkg_free(out);
        goto out;
    }
    answered = 1;
out:
    free(root);
    free(mod);
    free(rel);
    free(first);
    free(dir);
    free(import_path);
    return answered;
}
