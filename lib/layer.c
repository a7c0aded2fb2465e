/* ko's binary and kodata layers (tar layout as in ko's gobuild.go), their
 * compression and digests, and the content-addressed binary-layer cache. */
#include "layer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gzip.h"
#include "log.h"
#include "tar.h"

#define KODATA_ROOT "/var/run/ko"
#define MAX_DIR_ENTRIES ((size_t)1 << 20)
/* Part of every cache key: bump when the tar layout or compression changes. */
#define CACHE_VERSION "kofarm-layer-cache 2" /* 2: level 1 is kf_deflate, no longer zlib */
#define CACHE_MAGIC "KFLAYER1 "

void kf_layer_free(struct kf_layer *l)
{
    kf_layer_wait_store(l); /* its thread reads blob */
    free(l->blob);
    free(l->cache_entry);
    l->blob = NULL;
    l->cache_entry = NULL;
    l->blob_len = 0;
}

static int add_dir(struct kf_tar *tw, const char *name, int has_mtime, long long mtime, char *err)
{
    struct kf_tar_entry e = {.name = name, .typeflag = KF_TAR_DIR, .mode = 0555, .has_mtime = has_mtime,
                             .mtime = mtime};
    return kf_tar_write_header(tw, &e, err);
}

int kf_layer_tar_binary(const char *binary_path, const char *app_path, struct kf_buf *tar, char *err)
{
    struct kf_tar tw;
    struct stat st;
    kf_tar_init(&tw, tar);
    if (!app_path[0])
        return kf_fail(err, KF_EINVAL, "empty app path");
    int fd = open(binary_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kf_fail(err, errno == ENOENT ? KF_ENOTFOUND : KF_EIO, "%s: %s", binary_path, strerror(errno));
    int rc;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = kf_fail(err, KF_EINVAL, "%s: not a regular file", binary_path);
        goto out;
    }
    if ((unsigned long long)st.st_size > KF_LAYER_MAX) {
        rc = kf_fail(err, KF_ETOOBIG, "%s: binary larger than %zu bytes", binary_path, KF_LAYER_MAX);
        goto out;
    }
    /* One allocation for the whole layer: 2 headers, data, padding, trailer. */
    rc = kf_buf_reserve(tar, 4 * KF_TAR_BLOCK + (size_t)st.st_size + 2 * KF_TAR_BLOCK);
    if (rc) {
        rc = kf_fail(err, rc, "binary layer larger than %zu bytes", tar->max);
        goto out;
    }
    struct kf_tar_entry file = {.name = app_path, .typeflag = KF_TAR_REG, .mode = 0555, .size = st.st_size};
    rc = add_dir(&tw, "ko-app", 0, 0, err);
    if (!rc)
        rc = kf_tar_write_header(&tw, &file, err);
    if (!rc)
        rc = kf_tar_write_fd(&tw, fd, (unsigned long long)st.st_size, binary_path, err);
    if (!rc)
        rc = kf_tar_close(&tw, err);
out:
    close(fd);
    return rc;
}

/* ---- kodata ---- */

struct walk {
    struct kf_tar *tw;
    const char *allowed;   /* canonical allowed root */
    int has_mtime;
    long long mtime;
    int link_depth;        /* directory symlinks being followed */
    int dir_depth;
    char *err;
};

static char *join(const char *dir, const char *name)
{
    char *p = NULL;
    return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
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

/* The entries of dir but . and .., sorted bytewise like Go's sort.Strings. */
static int read_names(const char *dir, char ***out, size_t *count, int *sys_errno)
{
    DIR *d = opendir(dir);
    if (!d) {
        *sys_errno = errno;
        return KF_EIO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = KF_OK;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == MAX_DIR_ENTRIES) {
            rc = KF_ETOOBIG;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **bigger = realloc(names, cap * sizeof *names);
            if (!bigger) {
                rc = KF_ENOMEM;
                break;
            }
            names = bigger;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = KF_ENOMEM;
            break;
        }
        n++;
        errno = 0;
    }
    if (!rc && errno) {
        *sys_errno = errno;
        rc = KF_EIO;
    }
    closedir(d);
    if (rc) {
        free_names(names, n);
        return rc;
    }
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    *out = names;
    *count = n;
    return KF_OK;
}

/* Lexical containment of two clean absolute paths (ko's withinRoot). */
static int within(const char *p, const char *root)
{
    size_t n = strlen(root);
    if (!strcmp(root, "/"))
        return p[0] == '/';
    return !strncmp(p, root, n) && (p[n] == 0 || p[n] == '/');
}

static int copy_file(struct walk *w, const char *name, const char *path, long long size)
{
    struct kf_buf *out = w->tw->out;
    if ((unsigned long long)size > out->max - out->len)
        return kf_fail(w->err, KF_ETOOBIG, "kodata: %s makes the layer larger than %zu bytes", path, out->max);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return kf_fail(w->err, KF_EIO, "kodata: open %s: %s", path, strerror(errno));
    struct kf_tar_entry e = {.name = name, .typeflag = KF_TAR_REG, .mode = 0555, .size = size,
                             .has_mtime = w->has_mtime, .mtime = w->mtime};
    int rc = kf_tar_write_header(w->tw, &e, w->err);
    if (!rc)
        rc = kf_tar_write_fd(w->tw, fd, (unsigned long long)size, path, w->err);
    close(fd);
    return rc;
}

static int walk_tree(struct walk *w, const char *host_root, const char *tar_root);

/* A non-directory entry: ko resolves it (symlinks followed), checks the
 * target stays inside the allowed root, then adds a file or walks a dir. */
static int add_resolved(struct walk *w, const char *host, const char *name)
{
    int rc;
    struct stat st;
    char *target = realpath(host, NULL);
    if (!target) {
        int e = errno;
        return kf_fail(w->err, e == ENOENT || e == ELOOP ? KF_EINVAL : KF_EIO, "kodata: resolving %s: %s", host,
                       strerror(e));
    }
    if (!within(target, w->allowed)) {
        rc = kf_fail(w->err, KF_EINVAL, "kodata symlink %s resolves to %s which is outside the allowed root %s",
                     host, target, w->allowed);
        goto out;
    }
    if (stat(target, &st) != 0) {
        rc = kf_fail(w->err, KF_EIO, "kodata: stat %s: %s", target, strerror(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        if (w->link_depth >= KF_LAYER_LINK_DEPTH) {
            rc = kf_fail(w->err, KF_EINVAL, "kodata: %s: more than %d directory symlinks deep (a cycle?)", host,
                         KF_LAYER_LINK_DEPTH);
            goto out;
        }
        rc = add_dir(w->tw, name, w->has_mtime, w->mtime, w->err);
        w->link_depth++;
        if (!rc)
            rc = walk_tree(w, target, name);
        w->link_depth--;
    } else if (S_ISREG(st.st_mode)) {
        rc = copy_file(w, name, target, (long long)st.st_size);
    } else {
        rc = kf_fail(w->err, KF_EINVAL, "kodata: %s is not a regular file or directory", host);
    }
out:
    free(target);
    return rc;
}

/* The children of host_dir, as filepath.Walk visits them with ko's callback.
 * A walk root that cannot be read is silently empty (ko's callback returns
 * nil for the root before looking at the error); a subdirectory is an error. */
static int walk_entries(struct walk *w, const char *host_dir, const char *tar_dir, int is_root)
{
    char **names = NULL;
    size_t n = 0;
    int sys_errno = 0;
    int rc = read_names(host_dir, &names, &n, &sys_errno);
    if (rc == KF_EIO)
        return is_root ? KF_OK : kf_fail(w->err, rc, "kodata: reading %s: %s", host_dir, strerror(sys_errno));
    if (rc)
        return kf_fail(w->err, rc, "kodata: reading %s: %s", host_dir,
                       rc == KF_ETOOBIG ? "too many entries" : "out of memory");
    if (++w->dir_depth > KF_LAYER_DIR_DEPTH) {
        rc = kf_fail(w->err, KF_ETOOBIG, "kodata: %s: more than %d directories deep", host_dir,
                     KF_LAYER_DIR_DEPTH);
        goto out;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        char *host = join(host_dir, names[i]);
        char *name = join(tar_dir, names[i]);
        struct stat st;
        if (!host || !name)
            rc = kf_fail(w->err, KF_ENOMEM, "out of memory");
        else if (lstat(host, &st) != 0)
            rc = kf_fail(w->err, KF_EIO, "kodata: lstat %s: %s", host, strerror(errno));
        else if (S_ISDIR(st.st_mode)) {
            rc = add_dir(w->tw, name, w->has_mtime, w->mtime, w->err);
            if (!rc)
                rc = walk_entries(w, host, name, 0);
        } else {
            rc = add_resolved(w, host, name);
        }
        free(host);
        free(name);
    }
out:
    w->dir_depth--;
    free_names(names, n);
    return rc;
}

/* filepath.Walk(host_root) with ko's callback: the root itself is lstat'ed,
 * so a missing root, a file or a symlink adds nothing. */
static int walk_tree(struct walk *w, const char *host_root, const char *tar_root)
{
    struct stat st;
    if (lstat(host_root, &st) != 0 || !S_ISDIR(st.st_mode))
        return KF_OK;
    return walk_entries(w, host_root, tar_root, 1);
}

/* Go's filepath.Abs: lexical, against the working directory. */
static char *lexical_abs(const char *p)
{
    if (p[0] == '/')
        return kf_tar_path_clean(p);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return NULL;
    char *joined = join(cwd, p);
    char *clean = joined ? kf_tar_path_clean(joined) : NULL;
    free(joined);
    return clean;
}

/* The nearest ancestor of the canonical dir holding a .git entry, or NULL. */
static char *git_root(const char *dir)
{
    char *d = strdup(dir);
    while (d) {
        char *git = join(strcmp(d, "/") ? d : "", ".git");
        struct stat st;
        int found = git && stat(git, &st) == 0;
        free(git);
        if (found)
            return d;
        char *slash = strrchr(d, '/');
        if (!slash || !strcmp(d, "/"))
            break;
        slash[slash == d ? 1 : 0] = 0;
    }
    free(d);
    return NULL;
}

/* ko's resolveKodataAllowedRoot for the canonical kodata root. Caller frees. */
static char *allowed_root_for(const char *kodata_root, const char *given)
{
    const char *env = getenv("KO_DATA_PATH_ALLOWED_ROOT");
    char *git = NULL;
    const char *candidate = given && given[0] ? given : env && env[0] ? env : (git = git_root(kodata_root));
    char *root = NULL;
    if (candidate) {
        char *abs = lexical_abs(candidate);
        char *resolved = abs ? realpath(abs, NULL) : NULL;
        root = resolved ? resolved : abs;
        if (resolved)
            free(abs);
        if (root && !within(kodata_root, root)) {
            free(root);
            root = NULL;
        }
    }
    free(git);
    return root ? root : strdup(kodata_root);
}

int kf_layer_tar_kodata(const char *kodata_dir, const char *allowed_root, long long epoch, struct kf_buf *tar,
                        char *err)
{
    int rc;
    struct kf_tar tw;
    struct walk w = {.tw = &tw, .has_mtime = epoch >= 0, .mtime = epoch, .err = err};
    char *kodata_root = NULL, *allowed = NULL;
    kf_tar_init(&tw, tar);

    static const char *const parents[] = {"/var", "/var/run", KODATA_ROOT};
    for (size_t i = 0; i < 3; i++) {
        rc = add_dir(&tw, parents[i], w.has_mtime, w.mtime, err);
        if (rc)
            return rc;
    }
    struct stat st;
    if (stat(kodata_dir, &st) == 0) {
        kodata_root = realpath(kodata_dir, NULL);
        if (!kodata_root) {
            rc = kf_fail(err, KF_EIO, "kodata: resolving %s: %s", kodata_dir, strerror(errno));
            goto out;
        }
        allowed = allowed_root_for(kodata_root, allowed_root);
        if (!allowed) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            goto out;
        }
        w.allowed = allowed;
        rc = walk_tree(&w, kodata_dir, KODATA_ROOT);
        if (rc)
            goto out;
    }
    rc = kf_tar_close(&tw, err);
out:
    free(kodata_root);
    free(allowed);
    return rc;
}

/* ---- compression and cache ---- */

/* The hashing that can go on while threads compress: this thread hashes
 * the tar (when its digest is not known yet), then the gzip's pieces in
 * order as kf_gzip_compress_stream hands them over. */
struct hashing {
    const unsigned char *tar;
    size_t tar_len;
    char *diff_id;          /* filled on the first piece when tar is set */
    struct kf_sha256 gz;
};

static int hash_piece(void *ctx, const void *data, size_t len)
{
    struct hashing *h = ctx;
    if (h->tar) {
        kf_sha256_digest(h->tar, h->tar_len, h->diff_id);
        h->tar = NULL;
    }
    kf_sha256_update(&h->gz, data, len);
    return 0;
}

/* gzip of tar and both digests; diff_id is passed when already known. */
static int compress_tar(const unsigned char *tar, size_t len, const char *diff_id, struct kf_layer *out, char *err)
{
    struct kf_buf gz;
    struct hashing h = {.tar = diff_id ? NULL : tar, .tar_len = len, .diff_id = out->diff_id};
    memset(out, 0, sizeof *out);
    if (len > SIZE_MAX / 2)
        return kf_fail(err, KF_ETOOBIG, "layer too large");
    if (kf_sha256_init(&h.gz) != KF_OK)
        return kf_fail(err, KF_ENOMEM, "out of memory (sha256)");
    /* Stored blocks bound deflate's growth to ~0.03%, plus framing per chunk. */
    kf_buf_init(&gz, len + len / 64 + ((size_t)1 << 16));
    int rc = kf_gzip_compress_stream(tar, len, KF_GZIP_LEVEL_DEFAULT, 0, &gz, hash_piece, &h, err);
    kf_sha256_final(&h.gz, out->digest);
    if (rc) {
        kf_buf_free(&gz);
        return rc;
    }
    if (diff_id)
        memcpy(out->diff_id, diff_id, KF_DIGEST_LEN);
    out->blob = kf_buf_steal(&gz, &out->blob_len);
    return KF_OK;
}

int kf_layer_from_tar(const unsigned char *tar, size_t len, struct kf_layer *out, char *err)
{
    return compress_tar(tar, len, NULL, out, err);
}

/* The key hashes the tar's digest (which covers the binary and app path)
 * with everything that shapes the blob: layout version, level, chunking. */
static void cache_path(const char *cache_dir, const char *diff_id, char key[65], char **path)
{
    char *material = NULL;
    char digest[KF_DIGEST_LEN];
    *path = NULL;
    if (asprintf(&material, "%s\ngzip %d/%zu\n%s", CACHE_VERSION, KF_GZIP_LEVEL_DEFAULT, KF_GZIP_CHUNK,
                 diff_id) < 0)
        return;
    kf_sha256_digest(material, strlen(material), digest);
    free(material);
    memcpy(key, digest + 7, 65);
    if (asprintf(path, "%s/%s.layer", cache_dir, key) < 0)
        *path = NULL;
}

/* Entry: CACHE_MAGIC key digest diff_id blob_len "\n", blob, then the hex
 * sha256 of everything before it and "\n". Anything else is a miss. */
#define CACHE_HEADER_MAX 256

/* Parses the header in p[0..n): 1 with digests and blob_len in out and the
 * blob's offset in *start, 0 when it is not this key's entry. */
static int cache_parse_header(const char *p, size_t n, const char *key, const char *diff_id, struct kf_layer *out,
                              size_t *start)
{
    if (n < 220 || memcmp(p, CACHE_MAGIC, 9) != 0 || memcmp(p + 9, key, 64) != 0 || p[73] != ' ')
        return 0;
    memcpy(out->digest, p + 74, 71);
    out->digest[71] = 0;
    memcpy(out->diff_id, p + 146, 71);
    out->diff_id[71] = 0;
    if (!kf_digest_valid(out->digest) || strcmp(out->diff_id, diff_id) != 0 || p[145] != ' ' || p[217] != ' ')
        return 0;
    size_t len = 0, i = 218;
    for (; i < n && i < 218 + 19 && p[i] >= '0' && p[i] <= '9'; i++)
        len = len * 10 + (size_t)(p[i] - '0');
    if (i == 218 || i >= n || p[i] != '\n' || len > KF_LAYER_MAX)
        return 0;
    out->blob_len = len;
    *start = i + 1;
    return 1;
}

static int cache_load(const char *path, const char *key, const char *diff_id, struct kf_layer *out)
{
    struct kf_buf f;
    char sum[KF_DIGEST_LEN];
    size_t start;
    kf_buf_init(&f, KF_LAYER_MAX + ((size_t)1 << 20));
    int hit = 0;
    if (kf_buf_read_file(&f, path, NULL) != KF_OK || f.len < 220 + 65)
        goto out;
    size_t body = f.len - 65;
    kf_sha256_digest(f.data, body, sum);
    if (memcmp(f.data + body, sum + 7, 64) != 0 || f.data[f.len - 1] != '\n')
        goto out;
    if (!cache_parse_header((const char *)f.data, body, key, diff_id, out, &start) ||
        out->blob_len != body - start)
        goto out;
    memmove(f.data, f.data + start, out->blob_len);
    f.len = out->blob_len;
    out->blob = kf_buf_steal(&f, &out->blob_len);
    hit = 1;
out:
    kf_buf_free(&f);
    return hit;
}

/* Header only, and the file's size must fit it: the blob is read later. */
static int cache_peek(const char *path, const char *key, const char *diff_id, struct kf_layer *out)
{
    char head[CACHE_HEADER_MAX];
    struct stat st;
    size_t start;
    int hit = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = pread(fd, head, sizeof head, 0);
    if (n > 0 && fstat(fd, &st) == 0 && cache_parse_header(head, (size_t)n, key, diff_id, out, &start) &&
        (uintmax_t)st.st_size == (uintmax_t)start + out->blob_len + 65)
        hit = 1;
    close(fd);
    return hit;
}

int kf_layer_load_blob(struct kf_layer *l, char *err)
{
    if (l->blob)
        return KF_OK;
    if (!l->cache_entry)
        return kf_fail(err, KF_EINTERNAL, "layer %s has no blob", l->digest);
    struct kf_layer got;
    memset(&got, 0, sizeof got);
    const char *name = strrchr(l->cache_entry, '/');
    name = name ? name + 1 : l->cache_entry;
    char key[65];
    if (strlen(name) != 64 + 6 || strcmp(name + 64, ".layer") != 0)
        return kf_fail(err, KF_EINTERNAL, "layer cache entry %s: unexpected name", l->cache_entry);
    memcpy(key, name, 64);
    key[64] = 0;
    if (!cache_load(l->cache_entry, key, l->diff_id, &got) || strcmp(got.digest, l->digest) != 0 ||
        got.blob_len != l->blob_len) {
        kf_layer_free(&got);
        return kf_fail(err, KF_EIO, "layer cache entry %s changed or vanished", l->cache_entry);
    }
    l->blob = got.blob;
    free(l->cache_entry);
    l->cache_entry = NULL;
    return KF_OK;
}

/* Best effort: a unique temp file renamed over the entry, so concurrent
 * writers (threads or processes) never expose a partial file. */
static void cache_store(const char *cache_dir, const char *path, const char *key, const struct kf_layer *l)
{
    char *tmp = NULL, *header = NULL;
    char sum[KF_DIGEST_LEN], trailer[65];
    int fd = -1, ok = 0, saved_errno = ENOMEM;
    struct kf_sha256 h;
    if (mkdir(cache_dir, 0700) != 0 && errno != EEXIST) {
        saved_errno = errno;
        goto out;
    }
    if (asprintf(&tmp, "%s/.tmp-XXXXXX", cache_dir) < 0) {
        tmp = NULL;
        goto out;
    }
    if (asprintf(&header, CACHE_MAGIC "%s %s %s %zu\n", key, l->digest, l->diff_id, l->blob_len) < 0) {
        header = NULL;
        goto out;
    }
    if (kf_sha256_init(&h) != KF_OK)
        goto out;
    kf_sha256_update(&h, header, strlen(header));
    kf_sha256_update(&h, l->blob, l->blob_len);
    kf_sha256_final(&h, sum);
    memcpy(trailer, sum + 7, 64);
    trailer[64] = '\n';
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        saved_errno = errno;
        goto out;
    }
    if (kf_write_all(fd, header, strlen(header)) || kf_write_all(fd, l->blob, l->blob_len) ||
        kf_write_all(fd, trailer, sizeof trailer)) {
        saved_errno = errno;
        goto out;
    }
    int closed = close(fd);
    fd = -1;
    if (closed != 0 || rename(tmp, path) != 0) {
        saved_errno = errno;
        unlink(tmp);
        goto out;
    }
    ok = 1;
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    if (!ok)
        kf_logf("Layer cache: cannot store %s: %s", path, strerror(saved_errno));
    free(tmp);
    free(header);
}

/* A new entry written by a thread of its own (kf_layer_binary_lazy) while
 * the build pushes: it reads the layer's blob in place, so the layer is
 * freed (kf_layer_free joins the thread) only after it. */
struct store_job {
    pthread_t tid;
    char *cache_dir, *path, *index;
    char key[65], diff_id[KF_DIGEST_LEN];
    struct kf_layer view; /* digests and the borrowed blob */
};

static void stat_index_store(const char *path, const char *diff_id);

static void *store_thread(void *arg)
{
    struct store_job *sj = arg;
    cache_store(sj->cache_dir, sj->path, sj->key, &sj->view);
    if (sj->index)
        stat_index_store(sj->index, sj->diff_id);
    return NULL;
}

static void store_job_free(struct store_job *sj)
{
    free(sj->cache_dir);
    free(sj->path);
    free(sj->index);
    free(sj);
}

/* 1 when a thread took the write over (l->store then holds it). */
static int store_in_background(const char *cache_dir, const char *path, const char *key, struct kf_layer *l,
                               const char *index, const char *diff_id)
{
    struct store_job *sj = calloc(1, sizeof *sj);
    if (!sj)
        return 0;
    sj->cache_dir = strdup(cache_dir);
    sj->path = strdup(path);
    sj->index = index ? strdup(index) : NULL;
    memcpy(sj->key, key, sizeof sj->key);
    memcpy(sj->diff_id, diff_id, KF_DIGEST_LEN);
    memcpy(sj->view.digest, l->digest, KF_DIGEST_LEN);
    memcpy(sj->view.diff_id, l->diff_id, KF_DIGEST_LEN);
    sj->view.blob = l->blob;
    sj->view.blob_len = l->blob_len;
    if (!sj->cache_dir || !sj->path || (index && !sj->index) ||
        pthread_create(&sj->tid, NULL, store_thread, sj) != 0) {
        store_job_free(sj);
        return 0;
    }
    l->store = sj;
    return 1;
}

void kf_layer_wait_store(struct kf_layer *l)
{
    if (!l->store)
        return;
    pthread_join(l->store->tid, NULL);
    store_job_free(l->store);
    l->store = NULL;
}

/* The stat index: one small file per (file identity, app path) holding the
 * diff_id of the layer that file made, so an unchanged binary is neither
 * read nor hashed again. Any write moves ctime, and nothing but the system
 * clock sets it back: an equal stat is an equal file. */
static char *stat_index_path(const char *cache_dir, const char *app_path, const struct stat *st)
{
    char *material = NULL, *path = NULL;
    char digest[KF_DIGEST_LEN];
    if (asprintf(&material, "%s\nstat\n%s\n%ju %ju %jd %jd.%09ld %jd.%09ld", CACHE_VERSION, app_path,
                 (uintmax_t)st->st_dev, (uintmax_t)st->st_ino, (intmax_t)st->st_size, (intmax_t)st->st_mtim.tv_sec,
                 st->st_mtim.tv_nsec, (intmax_t)st->st_ctim.tv_sec, st->st_ctim.tv_nsec) < 0)
        return NULL;
    kf_sha256_digest(material, strlen(material), digest);
    free(material);
    if (asprintf(&path, "%s/%s.stat", cache_dir, digest + 7) < 0)
        path = NULL;
    return path;
}

/* 1 when the index names a diff_id (copied into diff_id). */
static int stat_index_load(const char *path, char diff_id[KF_DIGEST_LEN])
{
    char line[KF_DIGEST_LEN + 1];
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(line, 1, sizeof line, f);
    fclose(f);
    if (n != KF_DIGEST_LEN || line[KF_DIGEST_LEN - 1] != '\n')
        return 0;
    line[KF_DIGEST_LEN - 1] = 0;
    if (!kf_digest_valid(line))
        return 0;
    memcpy(diff_id, line, KF_DIGEST_LEN);
    return 1;
}

static void stat_index_store(const char *path, const char *diff_id)
{
    char line[KF_DIGEST_LEN + 1], err[KF_ERRLEN]; /* the digest, "\n", NUL */
    snprintf(line, sizeof line, "%s\n", diff_id);
    if (kf_write_file_atomic(path, line, KF_DIGEST_LEN, 0600, err))
        kf_logf("Layer cache: %s", err);
}

/* The stat index's entry for the file as it is now: 1 with its diff_id.
 * *index gets the entry's path (caller frees) whenever the file could be
 * stat'ed, hit or not, for storing it later. */
static int stat_index_find(const char *binary_path, const char *app_path, const char *cache_dir, char **index,
                           char diff_id[KF_DIGEST_LEN])
{
    struct stat st;
    *index = NULL;
    return cache_dir && stat(binary_path, &st) == 0 && S_ISREG(st.st_mode) &&
           (*index = stat_index_path(cache_dir, app_path, &st)) && stat_index_load(*index, diff_id);
}

/* lazy: a stat-index hit reads only the entry's header, and a new entry is
 * written by a background thread (kf_layer_binary_lazy). */
static int layer_binary(const char *binary_path, const char *app_path, const char *cache_dir, int lazy,
                        struct kf_layer *out, char *err)
{
    int rc;
    struct kf_buf tar;
    char diff_id[KF_DIGEST_LEN], key[65];
    char *path = NULL, *index = NULL;
    memset(out, 0, sizeof *out);
    kf_buf_init(&tar, KF_LAYER_MAX);

    /* Stat before reading: a change in between only leaves an index entry
     * for a stat that never comes back. */
    if (stat_index_find(binary_path, app_path, cache_dir, &index, diff_id)) {
        cache_path(cache_dir, diff_id, key, &path);
        if (path && lazy && cache_peek(path, key, diff_id, out)) {
            out->cache_entry = path;
            path = NULL;
            rc = KF_OK;
            goto out;
        }
        if (path && cache_load(path, key, diff_id, out)) {
            rc = KF_OK;
            goto out;
        }
        free(path);
        path = NULL;
    }
    rc = kf_layer_tar_binary(binary_path, app_path, &tar, err);
    if (rc)
        goto out;
    if (cache_dir) {
        kf_sha256_digest(tar.data, tar.len, diff_id);
        cache_path(cache_dir, diff_id, key, &path);
        if (path && cache_load(path, key, diff_id, out))
            goto indexed;
    }
    rc = compress_tar(tar.data, tar.len, cache_dir ? diff_id : NULL, out, err);
    if (rc || !path)
        goto out;
    if (lazy && store_in_background(cache_dir, path, key, out, index, diff_id))
        goto out;
    cache_store(cache_dir, path, key, out);
indexed:
    if (index)
        stat_index_store(index, diff_id);
out:
    free(path);
    free(index);
    kf_buf_free(&tar);
    return rc;
}

int kf_layer_stat_indexed(const char *binary_path, const char *app_path, const char *cache_dir)
{
    char diff_id[KF_DIGEST_LEN], *index;
    int hit = stat_index_find(binary_path, app_path, cache_dir, &index, diff_id);
    free(index);
    return hit;
}

int kf_layer_binary(const char *binary_path, const char *app_path, const char *cache_dir, struct kf_layer *out,
                    char *err)
{
    return layer_binary(binary_path, app_path, cache_dir, 0, out, err);
}

int kf_layer_binary_lazy(const char *binary_path, const char *app_path, const char *cache_dir, struct kf_layer *out,
                         char *err)
{
    return layer_binary(binary_path, app_path, cache_dir, 1, out, err);
}

int kf_layer_kodata(const char *kodata_dir, const char *allowed_root, long long epoch, struct kf_layer *out,
                    char *err)
{
    struct kf_buf tar;
    memset(out, 0, sizeof *out);
    kf_buf_init(&tar, KF_LAYER_MAX);
    int rc = kf_layer_tar_kodata(kodata_dir, allowed_root, epoch, &tar, err);
    if (!rc)
        rc = kf_layer_from_tar(tar.data, tar.len, out, err);
    kf_buf_free(&tar);
    return rc;
}
