/* kf_srcpack_dir: a module directory -> a deterministic tar.gz in memory
 * (lib/tar.c writes the tar, lib/gzip.c compresses it without a time). The
 * CLI does not load libarchive for this: it costs ~2 ms at every start. */
#include "srcpack.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gzip.h"
#include "srctar.h"
#include "tar.h"

#define REL_PATH_MAX ((size_t)4096) /* = the worker's default max_path */
#define GZIP_LEVEL 6                /* an upload crosses a network: smaller beats faster */

struct packer {
    struct kf_tar tw;
    struct kf_buf tar;       /* the uncompressed archive; its cap is max_bytes */
    size_t max_entries, n_entries;
    struct kf_srcpack_ignore *ig;
    char path[PATH_MAX];     /* root + "/" + rel while walking */
    size_t root_len;
    char *err;
};

static const char *rel_of(const struct packer *p)
{
    return p->path + p->root_len + 1;
}

/* A tar call failed: hitting the archive's cap gets advice. */
static int tar_failed(struct packer *p, int rc)
{
    if (rc == KF_ETOOBIG)
        return kf_fail(p->err, KF_ETOOBIG, "the module is larger than %zu MiB as a tar (limit); "
                       "leave files out with %s", p->tar.max >> 20, KF_SRCPACK_IGNORE_FILE);
    return rc;
}

static int write_header(struct packer *p, const char *name, char type, unsigned perm, long long size,
                        const char *link_target)
{
    if (++p->n_entries > p->max_entries)
        return kf_fail(p->err, KF_ETOOBIG, "the module has more than %zu files and directories (limit); "
                       "leave some out with %s", p->max_entries, KF_SRCPACK_IGNORE_FILE);
    struct kf_tar_entry e = {.name = name, .typeflag = type, .mode = perm, .size = size, .linkname = link_target};
    int rc = kf_tar_write_header(&p->tw, &e, p->err);
    return rc ? tar_failed(p, rc) : KF_OK;
}

static int pack_file(struct packer *p, const struct stat *st)
{
    int rc = KF_EIO;
    const char *rel = rel_of(p);
    int fd = open(p->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return kf_fail(p->err, KF_EIO, "cannot open %s: %s", rel, strerror(errno));
    struct stat now;
    if (fstat(fd, &now) != 0 || !S_ISREG(now.st_mode) || now.st_ino != st->st_ino) {
        rc = kf_fail(p->err, KF_EIO, "%s changed while the module was packed", rel);
        goto out;
    }
    unsigned perm = (now.st_mode & 0111) ? 0755 : 0644;
    if ((rc = write_header(p, rel, KF_TAR_REG, perm, (long long)now.st_size, NULL)) != KF_OK)
        goto out;
    /* Reads exactly st_size bytes: a file that shrinks or grows meanwhile fails. */
    rc = kf_tar_write_fd(&p->tw, fd, (unsigned long long)now.st_size, rel, p->err);
    if (rc)
        rc = tar_failed(p, rc);
out:
    close(fd);
    return rc;
}

static int pack_symlink(struct packer *p)
{
    const char *rel = rel_of(p);
    char target[REL_PATH_MAX + 1];
    ssize_t n = readlink(p->path, target, sizeof target);
    if (n < 0)
        return kf_fail(p->err, KF_EIO, "cannot read the symlink %s: %s", rel, strerror(errno));
    if ((size_t)n >= sizeof target)
        return kf_fail(p->err, KF_ETOOBIG, "the target of the symlink %s is longer than %zu bytes", rel,
                       REL_PATH_MAX);
    target[n] = 0;
    if (!kf_srctar_symlink_ok(rel, target))
        return kf_fail(p->err, KF_EINVAL, "the symlink %s -> %s points outside the module (the server would "
                       "refuse it); remove it or list it in %s", rel, target, KF_SRCPACK_IGNORE_FILE);
    return write_header(p, rel, KF_TAR_SYMLINK, 0777, 0, target);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The names in the directory p->path, sorted bytewise (caller frees). */
static int list_dir(struct packer *p, char ***out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(p->path);
    if (!d)
        return kf_fail(p->err, KF_EIO, "cannot read the directory %s: %s",
                       p->path[p->root_len] ? rel_of(p) : p->path, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = KF_ENOMEM;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **grown = realloc(names, ncap * sizeof *grown);
            if (!grown)
                goto fail;
            names = grown;
            cap = ncap;
        }
        if (!(names[n] = strdup(de->d_name)))
            goto fail;
        n++;
        errno = 0;
    }
    if (errno) {
        rc = kf_fail(p->err, KF_EIO, "cannot read the directory %s: %s", p->path, strerror(errno));
        goto fail;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    *out = names;
    *n_out = n;
    return KF_OK;
fail:
    if (rc == KF_ENOMEM)
        kf_fail(p->err, KF_ENOMEM, "out of memory");
    closedir(d);
    free_names(names, n);
    return rc;
}

/* Packs the contents of the directory p->path[0..path_len) (root_len long at the root). */
static int pack_dir(struct packer *p, size_t path_len, int depth)
{
    char **names = NULL;
    size_t n = 0;
    int rc = list_dir(p, &names, &n);
    if (rc != KF_OK)
        return rc;
    for (size_t i = 0; i < n && rc == KF_OK; i++) {
        const char *name = names[i];
        size_t name_len = strlen(name);
        size_t rel_len = path_len - p->root_len + name_len; /* "/" counted in path_len - root_len */
        if (path_len + 1 + name_len + 2 > sizeof p->path || rel_len + 1 > REL_PATH_MAX) {
            p->path[path_len] = 0;
            rc = kf_fail(p->err, KF_ETOOBIG, "a path under %s is longer than %zu bytes", p->path, REL_PATH_MAX);
            break;
        }
        p->path[path_len] = '/';
        memcpy(p->path + path_len + 1, name, name_len + 1);
        size_t child_len = path_len + 1 + name_len;
        struct stat st;
        if (lstat(p->path, &st) != 0) {
            rc = kf_fail(p->err, KF_EIO, "cannot stat %s: %s", rel_of(p), strerror(errno));
            break;
        }
        int is_dir = S_ISDIR(st.st_mode);
        /* .git holds the repository (large, and a config git would obey);
         * build/ is where kofarm and CMake projects put their outputs. */
        if (strcmp(name, ".git") == 0 || (depth == 0 && is_dir && strcmp(name, "build") == 0))
            continue;
        if (kf_srcpack_ignore_match(p->ig, rel_of(p), is_dir))
            continue;
        if (S_ISREG(st.st_mode)) {
            rc = pack_file(p, &st);
        } else if (S_ISLNK(st.st_mode)) {
            rc = pack_symlink(p);
        } else if (is_dir) {
            if (depth + 1 >= KF_SRCPACK_MAX_DEPTH) {
                rc = kf_fail(p->err, KF_ETOOBIG, "%s is nested more than %d directories deep", rel_of(p),
                             KF_SRCPACK_MAX_DEPTH);
                break;
            }
            /* Directories end in "/" as tar writes them. */
            p->path[child_len] = '/';
            p->path[child_len + 1] = 0;
            rc = write_header(p, rel_of(p), KF_TAR_DIR, 0755, 0, NULL);
            p->path[child_len] = 0;
            if (rc == KF_OK)
                rc = pack_dir(p, child_len, depth + 1);
        }
        /* Sockets, fifos and devices have no place in a source tree: skipped. */
    }
    p->path[path_len] = 0;
    free_names(names, n);
    return rc;
}

static int load_ignore(struct packer *p, char *err)
{
    struct kf_buf text;
    kf_buf_init(&text, KF_SRCPACK_IGNORE_MAX);
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", p->path, KF_SRCPACK_IGNORE_FILE) >= (int)sizeof path)
        return kf_fail(err, KF_ETOOBIG, "the module path is too long");
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return KF_OK; /* none (or not a file): nothing ignored */
    int rc = kf_buf_read_file(&text, path, err);
    if (rc == KF_ETOOBIG)
        rc = kf_fail(err, KF_ETOOBIG, "%s is larger than %zu bytes", KF_SRCPACK_IGNORE_FILE, KF_SRCPACK_IGNORE_MAX);
    if (rc == KF_OK)
        rc = kf_srcpack_ignore_parse((const char *)text.data, text.len, &p->ig, err);
    kf_buf_free(&text);
    return rc;
}

int kf_srcpack_dir(const char *root, const struct kf_srcpack_limits *lim, struct kf_buf *out, size_t *n_entries,
                   char *err)
{
    int rc = KF_ENOMEM;
    struct packer p;
    memset(&p, 0, sizeof p);
    p.err = err;
    size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes : KF_SRCPACK_DEFAULT_MAX_BYTES;
    p.max_entries = lim && lim->max_entries ? lim->max_entries : KF_SRCPACK_DEFAULT_MAX_ENTRIES;
    kf_buf_init(&p.tar, max_bytes);
    if (n_entries)
        *n_entries = 0;

    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = kf_fail(err, KF_ENOTFOUND, "%s is not a directory", root);
        goto out;
    }
    size_t root_len = strlen(root);
    while (root_len > 1 && root[root_len - 1] == '/')
        root_len--;
    if (root_len + 2 >= sizeof p.path) {
        rc = kf_fail(err, KF_ETOOBIG, "the module path is too long");
        goto out;
    }
    memcpy(p.path, root, root_len);
    p.path[root_len] = 0;
    p.root_len = root_len;
    if ((rc = load_ignore(&p, err)) != KF_OK)
        goto out;
    kf_tar_init(&p.tw, &p.tar);
    if ((rc = pack_dir(&p, root_len, 0)) != KF_OK)
        goto out;
    if ((rc = kf_tar_close(&p.tw, err)) != KF_OK) {
        rc = tar_failed(&p, rc);
        goto out;
    }
    size_t before = out->len;
    if ((rc = kf_gzip_compress(p.tar.data, p.tar.len, GZIP_LEVEL, 0, out, err)) != KF_OK) {
        out->len = before;
        goto out;
    }
    if (n_entries)
        *n_entries = p.n_entries;
    rc = KF_OK;
out:
    kf_srcpack_ignore_free(p.ig);
    kf_buf_free(&p.tar);
    return rc;
}
