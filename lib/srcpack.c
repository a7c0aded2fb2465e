/* kf_srcpack_dir: a module directory -> a deterministic tar.gz in memory
 * (libarchive writes the tar, lib/gzip.c compresses it without a time). */
#include "srcpack.h"

#include <archive.h>
#include <archive_entry.h>
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

#define READ_CHUNK ((size_t)64 << 10)
#define REL_PATH_MAX ((size_t)4096) /* = the worker's default max_path */
#define GZIP_LEVEL 6                /* an upload crosses a network: smaller beats faster */

struct packer {
    struct archive *a;
    struct kf_buf tar;       /* the uncompressed archive; its cap is max_bytes */
    int too_big;             /* the write callback hit tar's cap */
    size_t max_entries, n_entries;
    struct kf_srcpack_ignore *ig;
    char path[PATH_MAX];     /* root + "/" + rel while walking */
    size_t root_len;
    unsigned char *chunk;    /* READ_CHUNK bytes */
    char *err;
};

static la_ssize_t write_cb(struct archive *a, void *ctx, const void *data, size_t len)
{
    (void)a;
    struct packer *p = ctx;
    if (kf_buf_append(&p->tar, data, len) != KF_OK) {
        p->too_big = 1;
        return -1;
    }
    return (la_ssize_t)len;
}

static const char *rel_of(const struct packer *p)
{
    return p->path + p->root_len + 1;
}

/* The error after a failed libarchive call. */
static int archive_failed(struct packer *p, const char *what)
{
    if (p->too_big)
        return kf_fail(p->err, KF_ETOOBIG, "the module is larger than %zu MiB as a tar (limit); "
                       "leave files out with %s", p->tar.max >> 20, KF_SRCPACK_IGNORE_FILE);
    return kf_fail(p->err, KF_EIO, "%s: %s", what, archive_error_string(p->a));
}

static int write_header(struct packer *p, const char *name, mode_t type, unsigned perm, long long size,
                        const char *link_target)
{
    if (++p->n_entries > p->max_entries)
        return kf_fail(p->err, KF_ETOOBIG, "the module has more than %zu files and directories (limit); "
                       "leave some out with %s", p->max_entries, KF_SRCPACK_IGNORE_FILE);
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return kf_fail(p->err, KF_ENOMEM, "out of memory");
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_size(e, size);
    archive_entry_set_mtime(e, 0, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    if (link_target)
        archive_entry_set_symlink(e, link_target);
    int arc = archive_write_header(p->a, e);
    archive_entry_free(e);
    if (arc < ARCHIVE_WARN)
        return archive_failed(p, name);
    return KF_OK;
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
    if ((rc = write_header(p, rel, AE_IFREG, perm, (long long)now.st_size, NULL)) != KF_OK)
        goto out;
    rc = KF_EIO;
    unsigned long long left = (unsigned long long)now.st_size;
    while (left > 0) {
        ssize_t n = read(fd, p->chunk, left < READ_CHUNK ? left : READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = kf_fail(p->err, KF_EIO, "reading %s: %s", rel, strerror(errno));
            goto out;
        }
        if (n == 0) {
            rc = kf_fail(p->err, KF_EIO, "%s shrank while the module was packed", rel);
            goto out;
        }
        if (archive_write_data(p->a, p->chunk, (size_t)n) != n) {
            rc = archive_failed(p, rel);
            goto out;
        }
        left -= (unsigned long long)n;
    }
    char extra;
    if (read(fd, &extra, 1) != 0) {
        rc = kf_fail(p->err, KF_EIO, "%s grew while the module was packed", rel);
        goto out;
    }
    rc = KF_OK;
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
    return write_header(p, rel, AE_IFLNK, 0777, 0, target);
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
            rc = write_header(p, rel_of(p), AE_IFDIR, 0755, 0, NULL);
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
    rc = KF_ENOMEM;
    if (!(p.chunk = malloc(READ_CHUNK)) || !(p.a = archive_write_new())) {
        kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    /* pax_restricted: plain ustar headers unless a name or size needs more. */
    if (archive_write_set_format_pax_restricted(p.a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(p.a, 1) != ARCHIVE_OK ||
        archive_write_open(p.a, &p, NULL, write_cb, NULL) != ARCHIVE_OK) {
        rc = archive_failed(&p, "starting the archive");
        goto out;
    }
    if ((rc = pack_dir(&p, root_len, 0)) != KF_OK)
        goto out;
    if (archive_write_close(p.a) != ARCHIVE_OK) {
        rc = archive_failed(&p, "ending the archive");
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
    if (p.a)
        archive_write_free(p.a);
    kf_srcpack_ignore_free(p.ig);
    kf_buf_free(&p.tar);
    free(p.chunk);
    return rc;
}
