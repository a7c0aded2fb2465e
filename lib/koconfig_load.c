/* Where ko finds .ko.yaml, how its builds entries become import paths, and
 * the per-import-path answers (base image, build entry, effective settings). */
#include "koconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "koconfig_internal.h"

#define GOMOD_MAX_BYTES ((size_t)1 << 20)
/* What Go allows in a module path (module.CheckPath). */
#define MODULE_PATH_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/+"

extern char **environ;

static const char *strip_scheme(const char *importpath)
{
    return strncmp(importpath, "ko://", 5) == 0 ? importpath + 5 : importpath;
}

static int join_path(char *out, size_t size, const char *a, const char *b, char *err)
{
    int n = snprintf(out, size, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= size)
        return kf_fail(err, KF_ECONFIG, "path too long: %s/%s", a, b);
    return KF_OK;
}

/* The real path of an open file, from /proc (race-free), else of path. */
static int fd_real_path(int fd, const char *path, char *out, size_t size)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, size - 1);
    if (n > 0 && (size_t)n < size - 1) {
        out[n] = 0;
        return 0;
    }
    char *real = realpath(path, NULL);
    if (!real || strlen(real) >= size) {
        free(real);
        return -1;
    }
    memcpy(out, real, strlen(real) + 1);
    free(real);
    return 0;
}

static int is_inside(const char *path, const char *root)
{
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/')
        return 1;
    return strncmp(path, root, n) == 0 && (path[n] == '/' || path[n] == 0);
}

/* Reads a regular file of at most max bytes into b. With root set, the file
 * must really live under root (symlinks followed). O_NONBLOCK: a FIFO named
 * .ko.yaml must not hang us; it then fails the regular-file check. */
static int read_small_file(const char *path, const char *root, size_t max, struct kf_buf *b, char *err)
{
    int rc = KF_ECONFIG;
    kf_buf_init(b, max);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return kf_fail(err, KF_ECONFIG, "reading %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = kf_fail(err, KF_EIO, "reading %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = kf_fail(err, KF_ECONFIG, "config file %s is not a regular file", path);
        goto out;
    }
    if (root) {
        char real[PATH_MAX];
        if (fd_real_path(fd, path, real, sizeof real) != 0 || !is_inside(real, root)) {
            rc = kf_fail(err, KF_ECONFIG, "%s resolves outside the working directory", path);
            goto out;
        }
    }
    if ((size_t)st.st_size > max) {
        rc = kf_fail(err, KF_ETOOBIG, "%s: larger than %zu bytes", path, max);
        goto out;
    }
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = kf_fail(err, KF_EIO, "reading %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        int arc = kf_buf_append(b, chunk, (size_t)n);
        if (arc) { /* the file grew past the cap while we read */
            rc = arc == KF_ETOOBIG ? kf_fail(err, arc, "%s: larger than %zu bytes", path, max)
                                   : kf_fail(err, arc, "out of memory");
            goto out;
        }
    }
    rc = KF_OK;
out:
    close(fd);
    if (rc)
        kf_buf_free(b);
    return rc;
}

/* Does the module path end at p: its closing quote, or unquoted white
 * space or a // comment? */
static int path_ends(const char *p, const char *stop, char quote)
{
    if (quote)
        return *p == quote;
    if (*p == ' ' || *p == '\t' || *p == '\r')
        return 1;
    return *p == '/' && p + 1 < stop && p[1] == '/';
}

/* The module path declared by a go.mod's text, or NULL (caller frees). */
static char *gomod_module_path(const char *text)
{
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *p = line, *stop = line + len;
        line = end ? end + 1 : NULL;
        while (p < stop && (*p == ' ' || *p == '\t'))
            p++;
        if ((size_t)(stop - p) < 7 || strncmp(p, "module", 6) != 0 || (p[6] != ' ' && p[6] != '\t' && p[6] != '"'))
            continue;
        p += 6;
        while (p < stop && (*p == ' ' || *p == '\t'))
            p++;
        char quote = (p < stop && (*p == '"' || *p == '`')) ? *p++ : 0;
        const char *start = p;
        while (p < stop && !path_ends(p, stop, quote))
            p++;
        size_t n = (size_t)(p - start);
        if (!n || (quote && p == stop))
            return NULL;
        for (const char *q = start; q < p; q++)
            if (!strchr(MODULE_PATH_CHARS, *q))
                return NULL; /* a block form or a strange path: give up rather than guess */
        return strndup(start, n);
    }
    return NULL;
}

/* Finds the go.mod governing dir (walking up, as go does) and derives the
 * import path of dir. *importpath stays NULL without a go.mod. */
static int import_path_of(const char *dir, char **importpath, char *err)
{
    char at[PATH_MAX], gomod[PATH_MAX];
    size_t len = strlen(dir);
    if (len >= sizeof at)
        return kf_fail(err, KF_ECONFIG, "path too long: %s", dir);
    memcpy(at, dir, len + 1);
    for (;;) {
        struct stat st;
        if (join_path(gomod, sizeof gomod, strcmp(at, "/") ? at : "", "go.mod", err))
            return KF_ECONFIG;
        if (stat(gomod, &st) == 0 && S_ISREG(st.st_mode))
            break;
        char *slash = strrchr(at, '/');
        if (!slash || (slash == at && at[1] == 0))
            return KF_OK;
        if (slash == at)
            slash[1] = 0;
        else
            *slash = 0;
    }
    struct kf_buf text;
    int rc = read_small_file(gomod, NULL, GOMOD_MAX_BYTES, &text, err);
    if (rc)
        return rc;
    char *module = gomod_module_path(text.data ? (const char *)text.data : "");
    kf_buf_free(&text);
    if (!module)
        return KF_OK;
    const char *rel = dir + (strcmp(at, "/") ? strlen(at) : 0);
    while (*rel == '/')
        rel++;
    size_t need = strlen(module) + 1 + strlen(rel) + 1;
    char *ip = malloc(need);
    if (ip)
        snprintf(ip, need, *rel ? "%s/%s" : "%s", module, rel);
    free(module);
    if (!ip)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    *importpath = ip;
    return KF_OK;
}

/* ko's createBuildConfigMap: workdir/dir/main names the package directory,
 * or a Go file in it; it must exist. */
static int resolve_builds(struct kf_ko_config *c, const char *workdir, char *err)
{
    for (size_t i = 0; i < c->n_builds; i++) {
        struct kf_ko_build *b = &c->builds[i];
        char base[PATH_MAX], pkg[PATH_MAX];
        struct stat st;
        if (join_path(base, sizeof base, workdir, b->dir, err) || join_path(pkg, sizeof pkg, base, b->main, err))
            return KF_ECONFIG;
        if (stat(pkg, &st) == 0 && S_ISREG(st.st_mode))
            *strrchr(pkg, '/') = 0; /* a file: its directory (pkg holds a '/' from join_path) */
        if (stat(pkg, &st) != 0)
            return kf_fail(err, KF_ECONFIG, "%s: builds[%zu] (%s): %s: %s", c->path, i, b->id, pkg, strerror(errno));
        if (!S_ISDIR(st.st_mode))
            return kf_fail(err, KF_ECONFIG, "%s: builds[%zu] (%s): %s is not a directory", c->path, i, b->id, pkg);
        char *real = realpath(pkg, NULL);
        if (!real)
            return kf_fail(err, KF_ECONFIG, "%s: builds[%zu] (%s): %s: %s", c->path, i, b->id, pkg, strerror(errno));
        int rc = import_path_of(real, &b->importpath, err);
        free(real);
        if (rc)
            return rc;
    }
    return KF_OK;
}

/* Finds the file: KO_CONFIG_PATH as ko treats it, else viper's search in
 * workdir. *path NULL = none. *in_workdir says it must stay inside. */
static int find_config(const char *workdir, const char *config_path, char **path, int *in_workdir, char *err)
{
    static const char *const names[] = {".ko.json", ".ko.toml", ".ko.yaml", ".ko.yml"};
    char candidate[PATH_MAX];
    struct stat st;

    *path = NULL;
    *in_workdir = 0;
    if (config_path && *config_path) {
        if (stat(config_path, &st) != 0)
            return kf_fail(err, KF_ECONFIG, "error looking for config file %s: %s", config_path, strerror(errno));
        if (S_ISDIR(st.st_mode)) {
            if (join_path(candidate, sizeof candidate, config_path, ".ko.yaml", err))
                return KF_ECONFIG;
            if (stat(candidate, &st) != 0)
                return kf_fail(err, KF_ECONFIG, "error looking for config file %s: %s", candidate, strerror(errno));
            if (!S_ISREG(st.st_mode))
                return kf_fail(err, KF_ECONFIG, "config file %s is not a regular file", candidate);
            config_path = candidate;
        } else if (!S_ISREG(st.st_mode)) {
            return kf_fail(err, KF_ECONFIG, "config file %s is not a regular file", config_path);
        }
        *path = strdup(config_path);
        return *path ? KF_OK : kf_fail(err, KF_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (join_path(candidate, sizeof candidate, workdir, names[i], err))
            return KF_ECONFIG;
        if (stat(candidate, &st) != 0 || S_ISDIR(st.st_mode))
            continue;
        if (strcmp(names[i], ".ko.toml") == 0)
            return kf_fail(err, KF_EUNSUPPORTED, "%s: TOML configuration is not supported; use .ko.yaml", candidate);
        *in_workdir = 1;
        *path = strdup(candidate);
        return *path ? KF_OK : kf_fail(err, KF_ENOMEM, "out of memory");
    }
    return KF_OK;
}

int kf_koconfig_load_from(const char *workdir, const char *config_path, struct kf_ko_config *out, char *err)
{
    char *path = NULL, *root = NULL;
    struct kf_buf text = {0};
    int in_workdir, rc;

    memset(out, 0, sizeof *out);
    if (!workdir || !*workdir)
        workdir = ".";
    if ((rc = find_config(workdir, config_path, &path, &in_workdir, err)) || !path)
        goto out;
    if (in_workdir && !(root = realpath(workdir, NULL))) {
        rc = kf_fail(err, KF_ECONFIG, "%s: %s", workdir, strerror(errno));
        goto out;
    }
    if ((rc = read_small_file(path, root, KF_KOCONFIG_MAX_BYTES, &text, err)))
        goto out;
    if ((rc = kf_koconfig_parse(text.data ? (const char *)text.data : "", text.len, path, out, err)))
        goto out;
    out->path = path;
    path = NULL;
    rc = resolve_builds(out, workdir, err);
out:
    if (rc)
        kf_koconfig_free(out);
    free(path);
    free(root);
    kf_buf_free(&text);
    return rc;
}

int kf_koconfig_load(const char *workdir, struct kf_ko_config *out, char *err)
{
    return kf_koconfig_load_from(workdir, getenv("KO_CONFIG_PATH"), out, err);
}

/* The first non-empty value of name in envp (as Go's os.Getenv). */
static const char *env_value(const char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (; envp && *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return (*envp)[n + 1] ? *envp + n + 1 : NULL;
    return NULL;
}

int kf_koconfig_apply_env(struct kf_ko_config *c, const char *const *envp, char *err)
{
    static const char *const list_names[] = {"KO_DEFAULTPLATFORMS", "KO_DEFAULTENV", "KO_DEFAULTFLAGS",
                                             "KO_DEFAULTLDFLAGS"};
    char ***lists[] = {&c->default_platforms, &c->default_env, &c->default_flags, &c->default_ldflags};
    size_t *const counts[] = {&c->n_default_platforms, &c->n_default_env, &c->n_default_flags,
                              &c->n_default_ldflags};
    if (!envp)
        envp = (const char *const *)environ;
    const char *base = env_value(envp, "KO_DEFAULTBASEIMAGE");
    if (base) {
        char *copy = strdup(base);
        if (!copy)
            return kf_fail(err, KF_ENOMEM, "out of memory");
        free(c->default_base_image);
        c->default_base_image = copy;
    }
    for (size_t i = 0; i < sizeof list_names / sizeof list_names[0]; i++) {
        const char *value = env_value(envp, list_names[i]);
        char **v;
        size_t n;
        if (!value)
            continue;
        int rc = kf_koconfig_split_fields(value, &v, &n, err);
        if (rc)
            return rc;
        if (!n) /* only white space: viper's empty slice, ignored by ko */
            continue;
        kf_koconfig_free_list(*lists[i], *counts[i]);
        *lists[i] = v;
        *counts[i] = n;
    }
    return KF_OK;
}

const char *kf_koconfig_base_for(const struct kf_ko_config *c, const char *importpath)
{
    if (!c)
        return NULL;
    if (importpath) {
        importpath = strip_scheme(importpath);
        for (size_t i = 0; i < c->n_overrides; i++)
            if (strcasecmp(c->overrides[i].importpath, importpath) == 0)
                return c->overrides[i].base;
    }
    return c->default_base_image;
}

/* Appends the components of p to the cleaned relative path in out (Go's
 * path.Clean); -1 when ".." climbs above the start. */
static int clean_append(char *out, size_t *len, const char *p, size_t plen)
{
    size_t i = 0;
    while (i < plen) {
        size_t j = i;
        while (j < plen && p[j] != '/')
            j++;
        size_t n = j - i;
        if (n == 2 && p[i] == '.' && p[i + 1] == '.') {
            if (!*len)
                return -1;
            char *slash = memrchr(out, '/', *len);
            *len = slash ? (size_t)(slash - out) : 0;
        } else if (n && !(n == 1 && p[i] == '.')) {
            if (*len)
                out[(*len)++] = '/';
            memcpy(out + *len, p + i, n);
            *len += n;
        }
        i = j + 1;
    }
    out[*len] = 0;
    return 0;
}

/* Does entry b build importpath when dir/main are taken relative to the
 * module rooted at module_path? */
static int matches_by_module(const struct kf_ko_build *b, const char *importpath, const char *module_path)
{
    size_t mlen = strlen(module_path), dlen = strlen(b->dir), plen = strlen(b->main);
    if (plen > 3 && strcmp(b->main + plen - 3, ".go") == 0) { /* a file stands for its package */
        const char *slash = memrchr(b->main, '/', plen);
        plen = slash ? (size_t)(slash - b->main) : 0;
    }
    if (strncmp(importpath, module_path, mlen) != 0)
        return 0;
    char *rel = malloc(dlen + plen + 2);
    if (!rel)
        return 0;
    size_t len = 0;
    int ok = clean_append(rel, &len, b->dir, dlen) == 0 && clean_append(rel, &len, b->main, plen) == 0;
    const char *rest = importpath + mlen;
    if (ok)
        ok = len ? (rest[0] == '/' && strcmp(rest + 1, rel) == 0) : rest[0] == 0;
    free(rel);
    return ok;
}

const struct kf_ko_build *kf_koconfig_build_for(const struct kf_ko_config *c, const char *importpath,
                                                const char *module_path)
{
    if (!c || !importpath)
        return NULL;
    importpath = strip_scheme(importpath);
    for (size_t i = c->n_builds; i-- > 0;) { /* ko keeps the last entry per import path */
        const struct kf_ko_build *b = &c->builds[i];
        if (b->importpath ? strcmp(b->importpath, importpath) == 0
                          : module_path && matches_by_module(b, importpath, module_path))
            return b;
    }
    return NULL;
}

void kf_koconfig_effective(const struct kf_ko_config *c, const char *importpath, const char *module_path,
                           struct kf_ko_effective *out)
{
    memset(out, 0, sizeof *out);
    if (!c)
        return;
    const struct kf_ko_build *b = kf_koconfig_build_for(c, importpath, module_path);
    int own_env = b && b->n_env, own_flags = b && b->n_flags, own_ldflags = b && b->n_ldflags;
    out->env = (const char *const *)(own_env ? b->env : c->default_env);
    out->n_env = own_env ? b->n_env : c->n_default_env;
    out->flags = (const char *const *)(own_flags ? b->flags : c->default_flags);
    out->n_flags = own_flags ? b->n_flags : c->n_default_flags;
    out->ldflags = (const char *const *)(own_ldflags ? b->ldflags : c->default_ldflags);
    out->n_ldflags = own_ldflags ? b->n_ldflags : c->n_default_ldflags;
    out->id = b ? b->id : NULL;
}
