/* Safe extraction of uploaded source tarballs: every path is walked one
 * component at a time with openat(O_NOFOLLOW), so no entry can write through
 * a symlink or outside the destination, whatever the archive claims. */
#include "srctar.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "srctar_internal.h"

struct extract {
    struct archive *tar;
    struct kf_srctar_stream stream;
    int root_fd;            /* dest_dir, borrowed */
    size_t dest_len;
    size_t max_bytes, max_entries, max_path;
    size_t entries;
    size_t file_bytes;      /* sum of extracted file sizes */
    char shown[192];        /* the current entry's name, printable, for messages */
    char *err;
};

/* A failed read; libarchive's RETRY (a damaged header it would skip to
 * the next) is one too. */
static int corrupt(struct extract *x)
{
    struct archive *a = x->tar;
    if (x->stream.too_big)
        return kf_fail(x->err, KF_ETOOBIG, "archive: more than %zu bytes uncompressed", x->max_bytes);
    if (archive_errno(a) == ENOMEM)
        return kf_fail(x->err, KF_ENOMEM, "out of memory reading the archive");
    const char *why = archive_error_string(a);
    if (x->shown[0])
        return kf_fail(x->err, KF_EINVAL, "corrupt archive near entry %s: %s", x->shown, why ? why : "read error");
    return kf_fail(x->err, KF_EINVAL, "not a tar or tar.gz archive: %s", why ? why : "read error");
}

/* Names the part of the entry that is not a directory we may enter. */
static int parent_error(struct extract *x, int dirfd, const char *comp, int create)
{
    struct stat st;
    int e = errno;
    if (fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode))
            return kf_fail(x->err, KF_EINVAL, "tar entry %s: passes through symlink \"%s\"", x->shown, comp);
        if (!S_ISDIR(st.st_mode))
            return kf_fail(x->err, KF_EINVAL, "tar entry %s: \"%s\" is not a directory", x->shown, comp);
    } else if (errno == ENOENT && !create) {
        return kf_fail(x->err, KF_EINVAL, "tar entry %s: link target not extracted before it", x->shown);
    }
    return kf_fail(x->err, KF_EIO, "tar entry %s: opening \"%s\": %s", x->shown, comp, strerror(e));
}

/* Opens the directory holding p's last component (caller closes *out),
 * creating missing ones when create is set; every step refuses symlinks. */
static int open_parent(struct extract *x, const struct kf_srctar_path *p, int create, int *out)
{
    int fd = x->root_fd;
    for (size_t i = 0; i + 1 < p->n; i++) {
        int next = openat(fd, p->comp[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && create) {
            if (mkdirat(fd, p->comp[i], 0755) < 0 && errno != EEXIST) {
                int rc = kf_fail(x->err, KF_EIO, "tar entry %s: mkdir: %s", x->shown, strerror(errno));
                if (fd != x->root_fd)
                    close(fd);
                return rc;
            }
            next = openat(fd, p->comp[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (next < 0) {
            int rc = parent_error(x, fd, p->comp[i], create);
            if (fd != x->root_fd)
                close(fd);
            return rc;
        }
        if (fd != x->root_fd)
            close(fd);
        fd = next;
    }
    *out = fd == x->root_fd ? dup(fd) : fd;
    if (*out < 0)
        return kf_fail(x->err, KF_EIO, "dup: %s", strerror(errno));
    return KF_OK;
}

/* A later entry may replace an earlier file or link of the same name (as
 * tar does), never a directory. Unlinking never touches a link's target. */
static int make_room(struct extract *x, int dirfd, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? KF_OK : kf_fail(x->err, KF_EIO, "tar entry %s: %s", x->shown, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return kf_fail(x->err, KF_EINVAL, "tar entry %s: would replace a directory", x->shown);
    if (unlinkat(dirfd, name, 0) < 0)
        return kf_fail(x->err, KF_EIO, "tar entry %s: %s", x->shown, strerror(errno));
    return KF_OK;
}

static int drain_data(struct extract *x)
{
    const void *buf;
    size_t size;
    la_int64_t offset;
    for (;;) {
        int r = archive_read_data_block(x->tar, &buf, &size, &offset);
        if (r == ARCHIVE_EOF)
            return KF_OK;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            return corrupt(x);
    }
}

static int write_all(int fd, const unsigned char *data, size_t len, off_t at)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, data, len, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
        at += n;
    }
    return 0;
}

/* Copies the entry's data; sparse holes stay holes but count as size. */
static int write_file(struct extract *x, struct archive_entry *e, int dirfd, const char *name)
{
    mode_t mode = archive_entry_perm(e) & 0111 ? 0755 : 0644;
    int rc = make_room(x, dirfd, name);
    if (rc)
        return rc;
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return kf_fail(x->err, KF_EIO, "tar entry %s: create: %s", x->shown, strerror(errno));
    size_t end = 0; /* logical size written so far */
    for (;;) {
        const void *buf;
        size_t size;
        la_int64_t offset;
        int r = archive_read_data_block(x->tar, &buf, &size, &offset);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            rc = corrupt(x);
            goto out;
        }
        if (offset < 0 || (uint64_t)offset > x->max_bytes || size > x->max_bytes - (size_t)offset) {
            rc = kf_fail(x->err, KF_ETOOBIG, "tar entry %s: file larger than %zu bytes", x->shown, x->max_bytes);
            goto out;
        }
        size_t block_end = (size_t)offset + size;
        if (block_end > end) {
            if (block_end - end > x->max_bytes - x->file_bytes) {
                rc = kf_fail(x->err, KF_ETOOBIG, "archive: files add up to more than %zu bytes", x->max_bytes);
                goto out;
            }
            x->file_bytes += block_end - end;
            end = block_end;
        }
        if (write_all(fd, buf, size, (off_t)offset) < 0) {
            rc = kf_fail(x->err, KF_EIO, "tar entry %s: write: %s", x->shown, strerror(errno));
            goto out;
        }
    }
    /* A sparse file may end in a hole: its declared size says how long. */
    la_int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    if (declared > 0 && (uint64_t)declared > end) {
        if ((uint64_t)declared - end > x->max_bytes - x->file_bytes) {
            rc = kf_fail(x->err, KF_ETOOBIG, "archive: files add up to more than %zu bytes", x->max_bytes);
            goto out;
        }
        x->file_bytes += (size_t)declared - end;
        if (ftruncate(fd, (off_t)declared) < 0) {
            rc = kf_fail(x->err, KF_EIO, "tar entry %s: truncate: %s", x->shown, strerror(errno));
            goto out;
        }
    }
    if (fchmod(fd, mode) < 0)
        rc = kf_fail(x->err, KF_EIO, "tar entry %s: chmod: %s", x->shown, strerror(errno));
out:
    if (close(fd) < 0 && !rc)
        rc = kf_fail(x->err, KF_EIO, "tar entry %s: close: %s", x->shown, strerror(errno));
    return rc;
}

static int make_dir(struct extract *x, int dirfd, const char *name)
{
    if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
        return kf_fail(x->err, KF_EIO, "tar entry %s: mkdir: %s", x->shown, strerror(errno));
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP || errno == ENOTDIR)
            return kf_fail(x->err, KF_EINVAL, "tar entry %s: exists and is not a directory", x->shown);
        return kf_fail(x->err, KF_EIO, "tar entry %s: %s", x->shown, strerror(errno));
    }
    int rc = fchmod(fd, 0755) < 0 ? kf_fail(x->err, KF_EIO, "tar entry %s: chmod: %s", x->shown, strerror(errno))
                                  : KF_OK;
    close(fd);
    return rc;
}

static int make_symlink(struct extract *x, struct archive_entry *e, const struct kf_srctar_path *p, int dirfd)
{
    const char *target = archive_entry_symlink(e);
    char shown[192];
    kf_srctar_show_name(shown, sizeof shown, target);
    if (!target || !*target)
        return kf_fail(x->err, KF_EINVAL, "tar entry %s: symlink without a target", x->shown);
    if (strlen(target) > x->max_path)
        return kf_fail(x->err, KF_EINVAL, "tar entry %s: symlink target longer than %zu bytes", x->shown,
                       x->max_path);
    if (*target == '/')
        return kf_fail(x->err, KF_EINVAL, "tar entry %s: symlink to absolute path %s refused", x->shown, shown);
    if (!kf_srctar_target_ok(p->n - 1, target))
        return kf_fail(x->err, KF_EINVAL, "tar entry %s: symlink to %s leaves the tree", x->shown, shown);
    int rc = make_room(x, dirfd, p->comp[p->n - 1]);
    if (rc)
        return rc;
    if (symlinkat(target, dirfd, p->comp[p->n - 1]) < 0)
        return kf_fail(x->err, KF_EIO, "tar entry %s: symlink: %s", x->shown, strerror(errno));
    return KF_OK;
}

/* Only to a regular file this extraction already made: the target's path
 * is walked like any entry's, so it cannot name anything outside. */
static int make_hardlink(struct extract *x, const char *target, int dirfd, const char *name)
{
    struct kf_srctar_path t;
    int tdir = -1;
    char shown[192];
    kf_srctar_show_name(shown, sizeof shown, target);
    int rc = kf_srctar_relpath_split(&t, target);
    if (rc) {
        rc = kf_fail(x->err, rc, "out of memory");
        goto out;
    }
    if (strlen(target) > x->max_path || *target == '/' || t.dotdot || t.n == 0) {
        rc = kf_fail(x->err, KF_EINVAL, "tar entry %s: hard link to %s refused", x->shown, shown);
        goto out;
    }
    rc = open_parent(x, &t, 0, &tdir);
    if (rc)
        goto out;
    struct stat st, old;
    const char *tname = t.comp[t.n - 1];
    if (fstatat(tdir, tname, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
        rc = kf_fail(x->err, KF_EINVAL, "tar entry %s: hard link to %s: not a file extracted before it", x->shown,
                     shown);
        goto out;
    }
    if (fstatat(dirfd, name, &old, AT_SYMLINK_NOFOLLOW) == 0 && old.st_ino == st.st_ino && old.st_dev == st.st_dev)
        goto out; /* already that file */
    rc = make_room(x, dirfd, name);
    if (rc)
        goto out;
    if (linkat(tdir, tname, dirfd, name, 0) < 0)
        rc = kf_fail(x->err, KF_EIO, "tar entry %s: link: %s", x->shown, strerror(errno));
out:
    if (tdir >= 0)
        close(tdir);
    kf_srctar_relpath_free(&t);
    return rc;
}

static int extract_entry(struct extract *x, struct archive_entry *e)
{
    const char *path = archive_entry_pathname(e);
    const char *hardlink = archive_entry_hardlink(e);
    mode_t type = archive_entry_filetype(e);
    struct kf_srctar_path p = {0};
    int dirfd = -1, rc;

    kf_srctar_show_name(x->shown, sizeof x->shown, path);
    if (!path || !*path) {
        rc = kf_fail(x->err, KF_EINVAL, "tar entry #%zu has no name", x->entries);
        goto out;
    }
    size_t len = strlen(path);
    if (len > x->max_path) {
        rc = kf_fail(x->err, KF_EINVAL, "tar entry %s: path longer than %zu bytes", x->shown, x->max_path);
        goto out;
    }
    if (x->dest_len + 1 + len >= PATH_MAX) { /* go and the image layer need whole paths */
        rc = kf_fail(x->err, KF_EINVAL, "tar entry %s: path too long under %zu-byte destination", x->shown,
                     x->dest_len);
        goto out;
    }
    if (*path == '/') {
        rc = kf_fail(x->err, KF_EINVAL, "tar entry %s: absolute path refused", x->shown);
        goto out;
    }
    if ((rc = kf_srctar_relpath_split(&p, path))) {
        rc = kf_fail(x->err, rc, "out of memory");
        goto out;
    }
    if (p.dotdot) {
        rc = kf_fail(x->err, KF_EINVAL, "tar entry %s: \"..\" in path refused", x->shown);
        goto out;
    }
    if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
        rc = kf_fail(x->err, KF_EINVAL, "tar entry %s: %s refused", x->shown, kf_srctar_refused_kind(type));
        goto out;
    }
    if (p.n == 0) { /* "./": the destination itself */
        rc = type == AE_IFDIR && !hardlink
                 ? KF_OK
                 : kf_fail(x->err, KF_EINVAL, "tar entry %s: names the destination directory", x->shown);
        goto out;
    }
    if (kf_srctar_is_git_config(&p, type, hardlink)) {
        rc = drain_data(x);
        goto out;
    }
    if ((rc = open_parent(x, &p, 1, &dirfd)))
        goto out;
    const char *name = p.comp[p.n - 1];
    if (hardlink)
        rc = make_hardlink(x, hardlink, dirfd, name);
    else if (type == AE_IFREG)
        rc = write_file(x, e, dirfd, name);
    else if (type == AE_IFDIR)
        rc = make_dir(x, dirfd, name);
    else
        rc = make_symlink(x, e, &p, dirfd);
    if (!rc)
        rc = drain_data(x); /* what write_file left, or a link's stray data */
out:
    if (dirfd >= 0)
        close(dirfd);
    kf_srctar_relpath_free(&p);
    return rc;
}

static int dir_is_empty(int fd)
{
    int dup_fd = dup(fd);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        if (dup_fd >= 0)
            close(dup_fd);
        return -1;
    }
    rewinddir(d);
    int empty = 1;
    struct dirent *de;
    while (empty && (de = readdir(d)))
        empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
    closedir(d);
    return empty;
}

/* Unlinks the non-directories in fd (borrowed) and returns the names of
 * its subdirectories (caller frees them and the array). */
static int scan_dir(int fd, char ***subdirs, size_t *n, char *err)
{
    size_t cap = 0;
    int rc = KF_OK;
    *subdirs = NULL;
    *n = 0;
    int dup_fd = dup(fd);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        rc = kf_fail(err, KF_EIO, "opendir: %s", strerror(errno));
        if (dup_fd >= 0)
            close(dup_fd);
        return rc;
    }
    rewinddir(d);
    struct dirent *de;
    while ((errno = 0, de = readdir(d))) {
        const char *name = de->d_name;
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        int is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
            struct stat st;
            is_dir = fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        }
        if (!is_dir) {
            if (unlinkat(fd, name, 0) < 0 && errno != ENOENT) {
                rc = kf_fail(err, KF_EIO, "unlink %s: %s", name, strerror(errno));
                break;
            }
            continue;
        }
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **grown = reallocarray(*subdirs, ncap, sizeof *grown);
            if (!grown) {
                rc = kf_fail(err, KF_ENOMEM, "out of memory");
                break;
            }
            *subdirs = grown;
            cap = ncap;
        }
        if (!((*subdirs)[*n] = strdup(name))) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            break;
        }
        (*n)++;
    }
    if (!rc && errno)
        rc = kf_fail(err, KF_EIO, "readdir: %s", strerror(errno));
    closedir(d);
    return rc;
}

/* One directory being emptied: its subdirectories still to visit. */
struct clear_frame {
    char **subdirs;
    size_t n, next;
};

/* Depth-first with one descriptor open at a time: down by name with
 * O_NOFOLLOW, back up through "..", which in a real directory is its real
 * parent. Memory grows with depth, descriptors do not. */
static int clear_fd(int top_fd, char *err)
{
    struct clear_frame *stack = NULL;
    size_t depth = 0, cap = 0;
    int rc = KF_OK;
    int fd = dup(top_fd);
    if (fd < 0)
        return kf_fail(err, KF_EIO, "dup: %s", strerror(errno));
    for (int entering = 1;;) {
        if (entering) {
            if (depth == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                struct clear_frame *grown = reallocarray(stack, ncap, sizeof *grown);
                if (!grown) {
                    rc = kf_fail(err, KF_ENOMEM, "out of memory");
                    goto out;
                }
                stack = grown;
                cap = ncap;
            }
            struct stat st; /* a read-only directory (go's module cache) */
            if (fstat(fd, &st) == 0 && (st.st_mode & 0700) != 0700)
                fchmod(fd, (st.st_mode & 07777) | 0700);
            stack[depth] = (struct clear_frame){0};
            depth++;
            if ((rc = scan_dir(fd, &stack[depth - 1].subdirs, &stack[depth - 1].n, err)))
                goto out;
            entering = 0;
        }
        struct clear_frame *f = &stack[depth - 1];
        if (f->next < f->n) {
            int child = openat(fd, f->subdirs[f->next++], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (child < 0) {
                if (errno == ENOENT)
                    continue;
                rc = kf_fail(err, KF_EIO, "open %s: %s", f->subdirs[f->next - 1], strerror(errno));
                goto out;
            }
            close(fd);
            fd = child;
            entering = 1;
            continue;
        }
        if (depth == 1)
            break;
        int parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent < 0) {
            rc = kf_fail(err, KF_EIO, "open ..: %s", strerror(errno));
            goto out;
        }
        close(fd);
        fd = parent;
        for (size_t i = 0; i < f->n; i++)
            free(f->subdirs[i]);
        free(f->subdirs);
        depth--;
        const char *name = stack[depth - 1].subdirs[stack[depth - 1].next - 1];
        if (unlinkat(fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
            rc = kf_fail(err, KF_EIO, "rmdir %s: %s", name, strerror(errno));
            goto out;
        }
    }
out:
    for (size_t d = 0; d < depth; d++) {
        for (size_t i = 0; i < stack[d].n; i++)
            free(stack[d].subdirs[i]);
        free(stack[d].subdirs);
    }
    free(stack);
    close(fd);
    return rc;
}

int kf_srctar_clear_dir(const char *dir, char *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kf_fail(err, errno == ENOENT ? KF_ENOTFOUND : KF_EIO, "%s: %s", dir, strerror(errno));
    int rc = clear_fd(fd, err);
    close(fd);
    return rc;
}

/* Opens both readers over data; the tar reader bids on the raw output. */
static int open_readers(struct extract *x, const void *data, size_t len)
{
    x->stream.raw = archive_read_new();
    x->tar = archive_read_new();
    if (!x->stream.raw || !x->tar)
        return kf_fail(x->err, KF_ENOMEM, "out of memory");
    /* WARN would mean an external gzip program: never for uploads. */
    if (archive_read_support_filter_gzip(x->stream.raw) != ARCHIVE_OK ||
        archive_read_support_format_raw(x->stream.raw) != ARCHIVE_OK ||
        archive_read_support_format_tar(x->tar) != ARCHIVE_OK)
        return kf_fail(x->err, KF_EINTERNAL, "libarchive lacks built-in gzip or tar support");
    struct archive_entry *e;
    if (archive_read_open_memory(x->stream.raw, data, len) != ARCHIVE_OK ||
        archive_read_next_header(x->stream.raw, &e) != ARCHIVE_OK) {
        const char *why = archive_error_string(x->stream.raw);
        return kf_fail(x->err, KF_EINVAL, "not a tar or tar.gz archive: %s", why ? why : "unreadable");
    }
    if (archive_read_open(x->tar, &x->stream, NULL, kf_srctar_stream_read, NULL) != ARCHIVE_OK)
        return corrupt(x);
    return KF_OK;
}

int kf_srctar_extract(const void *data, size_t len, const char *dest_dir, const struct kf_srctar_limits *lim,
                      char *err)
{
    struct kf_srctar_limits none = {0};
    if (!lim)
        lim = &none;
    struct extract x = {
        .root_fd = -1,
        .dest_len = dest_dir ? strlen(dest_dir) : 0,
        .max_bytes = lim->max_bytes ? lim->max_bytes : KF_SRCTAR_DEFAULT_MAX_BYTES,
        .max_entries = lim->max_entries ? lim->max_entries : KF_SRCTAR_DEFAULT_MAX_ENTRIES,
        .max_path = lim->max_path ? lim->max_path : KF_SRCTAR_DEFAULT_MAX_PATH,
        .err = err,
    };
    x.stream.cap = x.max_bytes;
    int rc, touched = 0;

    if (!dest_dir || !*dest_dir)
        return kf_fail(err, KF_EINTERNAL, "kf_srctar_extract: no destination");
    if (!data || len == 0)
        return kf_fail(err, KF_EINVAL, "empty source archive");
    x.root_fd = open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (x.root_fd < 0)
        return kf_fail(err, errno == ENOENT ? KF_ENOTFOUND : KF_EIO, "%s: %s", dest_dir, strerror(errno));
    int empty = dir_is_empty(x.root_fd);
    if (empty != 1) {
        rc = empty < 0 ? kf_fail(err, KF_EIO, "%s: %s", dest_dir, strerror(errno))
                       : kf_fail(err, KF_EINTERNAL, "%s: extraction directory is not empty", dest_dir);
        goto out;
    }
    touched = 1;
    if ((rc = open_readers(&x, data, len)))
        goto out;
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(x.tar, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            rc = corrupt(&x);
            goto out;
        }
        if (++x.entries > x.max_entries) {
            rc = kf_fail(err, KF_ETOOBIG, "archive: more than %zu entries", x.max_entries);
            goto out;
        }
        if ((rc = extract_entry(&x, e)))
            goto out;
    }
    rc = KF_OK;
out:
    if (x.tar)
        archive_read_free(x.tar);
    if (x.stream.raw)
        archive_read_free(x.stream.raw);
    if (rc && touched) {
        char clear_err[KF_ERRLEN];
        if (clear_fd(x.root_fd, clear_err))
            kf_logf("srctar: cleaning %s after a failed extraction: %s", dest_dir, clear_err);
    }
    if (x.root_fd >= 0)
        close(x.root_fd);
    return rc;
}
