/* What a resolve reads: the -f paths expanded as ko does (files, directories,
 * stdin) into memory, and the module's main packages for --strict=false. */
#include "resolve.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "gobuild.h"
#include "gotool.h"

#define WALK_DEPTH_MAX 64
#define MAINS_OUT_MAX ((size_t)4 << 20)

struct loader {
    struct kf_resolve_files *out;
    size_t used, max;
    int no_symlinks, recursive, stdin_read;
    char *err;
};

void kf_resolve_files_free(struct kf_resolve_files *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free((char *)f->inputs[i].name);
        free((unsigned char *)f->inputs[i].data);
    }
    free(f->inputs);
    memset(f, 0, sizeof *f);
}

static int add_file(struct loader *l, const char *name, const char *path)
{
    if (l->out->n >= KF_RESOLVE_MAX_FILES)
        return kf_fail(l->err, KF_ETOOBIG, "more than %zu YAML files", KF_RESOLVE_MAX_FILES);
    struct kf_resolve_input *in = realloc(l->out->inputs, (l->out->n + 1) * sizeof *in);
    if (!in)
        return kf_fail(l->err, KF_ENOMEM, "out of memory");
    l->out->inputs = in;
    struct kf_buf b;
    kf_buf_init(&b, l->max - l->used ? l->max - l->used : 1);
    int rc = kf_buf_read_file(&b, path, l->err);
    if (rc == KF_ETOOBIG)
        rc = kf_fail(l->err, rc, "%s: the YAML inputs are over %zu bytes", name, l->max);
    if (!rc && kf_buf_reserve(&b, 0))
        rc = kf_fail(l->err, KF_ENOMEM, "out of memory");
    char *copy = rc ? NULL : strdup(name);
    if (!rc && !copy)
        rc = kf_fail(l->err, KF_ENOMEM, "out of memory");
    if (rc) {
        kf_buf_free(&b);
        return rc;
    }
    l->used += b.len;
    in[l->out->n].name = copy;
    in[l->out->n].data = kf_buf_steal(&b, &in[l->out->n].len);
    l->out->n++;
    return KF_OK;
}

static int yaml_name(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) || (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
           (n > 5 && strcmp(name + n - 5, ".json") == 0);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(struct loader *l, const char *dir, int depth);

static int walk_entry(struct loader *l, const char *dir, const char *name, int depth)
{
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return kf_fail(l->err, KF_EINVAL, "%s/%s: path too long", dir, name);
    if (lstat(path, &st) != 0)
        return kf_fail(l->err, KF_EIO, "%s: %s", path, strerror(errno));
    if (S_ISLNK(st.st_mode) && l->no_symlinks)
        return kf_fail(l->err, KF_EINVAL, "%s: symbolic links are not followed here", path);
    if (S_ISDIR(st.st_mode))
        return l->recursive ? walk(l, path, depth + 1) : KF_OK;
    return yaml_name(name) ? add_file(l, path, path) : KF_OK;
}

/* filepath.Walk's order: entries sorted, directories entered where they sort. */
static int walk(struct loader *l, const char *dir, int depth)
{
    int rc = KF_OK;
    char **names = NULL;
    size_t n = 0, cap = 0;
    if (depth > WALK_DEPTH_MAX)
        return kf_fail(l->err, KF_ETOOBIG, "%s: directories nested deeper than %d", dir, WALK_DEPTH_MAX);
    DIR *d = opendir(dir);
    if (!d)
        return kf_fail(l->err, errno == ENOENT ? KF_ENOTFOUND : KF_EIO, "%s: %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = cap <= KF_RESOLVE_MAX_FILES * 4 ? realloc(names, cap * sizeof *nn) : NULL;
            if (!nn) {
                rc = kf_fail(l->err, KF_ETOOBIG, "%s: too many entries", dir);
                goto out;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = kf_fail(l->err, KF_ENOMEM, "out of memory");
            goto out;
        }
        n++;
    }
    if (n)
        qsort(names, n, sizeof *names, cmp_name);
    for (size_t i = 0; i < n && !rc; i++)
        rc = walk_entry(l, dir, names[i], depth);
out:
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int load_one(struct loader *l, const char *path)
{
    struct stat st;
    if (strcmp(path, "-") == 0) {
        if (l->stdin_read++)
            return kf_fail(l->err, KF_EINVAL, "-f - (stdin) given twice");
        return add_file(l, "-", "/dev/stdin");
    }
    if (l->no_symlinks && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
        return kf_fail(l->err, KF_EINVAL, "%s: symbolic links are not followed here", path);
    if (stat(path, &st) != 0)
        return kf_fail(l->err, errno == ENOENT ? KF_ENOTFOUND : KF_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return add_file(l, path, path);
    char dir[PATH_MAX];
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (len >= sizeof dir)
        return kf_fail(l->err, KF_EINVAL, "%s: path too long", path);
    memcpy(dir, path, len);
    dir[len] = 0;
    return walk(l, dir, 0);
}

int kf_resolve_files_load(const char *const *paths, size_t n, int recursive, int no_symlinks, size_t max_input,
                          struct kf_resolve_files *out, char *err)
{
    struct loader l = {.out = out, .max = max_input ? max_input : KF_RESOLVE_MAX_INPUT, .no_symlinks = no_symlinks,
                       .recursive = recursive, .err = err};
    memset(out, 0, sizeof *out);
    if (n == 0)
        return kf_fail(err, KF_EINVAL, "no -f paths given");
    for (size_t i = 0; i < n; i++) {
        int rc = load_one(&l, paths[i]);
        if (rc)
            return rc;
    }
    return KF_OK;
}

int kf_resolve_main_packages(const char *go, const char *workdir, const volatile int *cancel, char ***mains,
                             size_t *n, char *err)
{
    static const char *const args[] = {
        "list", "-e", "-f", "{{if eq .Name \"main\"}}{{.ImportPath}}{{end}}", "./...", NULL,
    };
    char **env = NULL, **list = NULL;
    struct kf_buf outb, errb;
    size_t count = 0;
    kf_buf_init(&outb, MAINS_OUT_MAX);
    kf_buf_init(&errb, MAINS_OUT_MAX);
    *mains = NULL;
    *n = 0;
    int rc = kf_go_clean_env(&env, err);
    if (rc)
        goto out;
    struct kf_gotool_run run = {.go = go ? go : "go", .workdir = workdir, .envp = env, .args = args, .out = &outb,
                                .errout = &errb, .cancel = cancel};
    rc = kf_gotool_run(&run, err);
    if (rc)
        goto out;
    for (size_t i = 0; i < outb.len; i++)
        count += outb.data[i] == '\n';
    list = calloc(count + 2, sizeof *list);
    if (!list) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    count = 0;
    for (char *line = (char *)outb.data; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len && !(list[count++] = strndup(line, len))) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            goto out;
        }
        line = nl ? nl + 1 : NULL;
    }
    *mains = list;
    *n = count;
    list = NULL;
out:
    kf_go_env_free(list);
    kf_go_env_free(env);
    kf_buf_free(&outb);
    kf_buf_free(&errb);
    return rc;
}
