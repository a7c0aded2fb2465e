/* In-process git: commit lookup in loose objects and v2 pack indexes, and a
 * borrowing .git for a job's checkout (see gitlocal.h). */
#include "gitlocal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "digest.h"

#define SHA1_HEX 40
#define SHA1_RAW 20
#define IDX_HEADER (8 + 256 * 4)
#define MAX_TAGS ((size_t)1 << 20)
#define REFS_MAX ((size_t)256 << 20) /* packed-refs of a very large mirror */
#define TAG_DEPTH 16

static int hex_to_raw(const char *hex, unsigned char raw[SHA1_RAW])
{
    return strnlen(hex, SHA1_HEX + 1) == SHA1_HEX ? kf_unhex(hex, SHA1_RAW, raw) : -1;
}

/* A loose object starts, once inflated, with "<type> <size>\0". */
static int loose_lookup(const char *gitdir, const char *sha)
{
    char path[4200];
    unsigned char in[256], out[16];
    if (snprintf(path, sizeof path, "%s/objects/%.2s/%s", gitdir, sha, sha + 2) >= (int)sizeof path)
        return KF_GITLOCAL_UNKNOWN;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? KF_GITLOCAL_ABSENT : KF_GITLOCAL_UNKNOWN;
    ssize_t n = read(fd, in, sizeof in);
    close(fd);
    if (n <= 0)
        return KF_GITLOCAL_UNKNOWN;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK)
        return KF_GITLOCAL_UNKNOWN;
    z.next_in = in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = sizeof out;
    int zr = inflate(&z, Z_SYNC_FLUSH);
    size_t got = sizeof out - z.avail_out;
    inflateEnd(&z);
    if ((zr != Z_OK && zr != Z_STREAM_END) || got < 7)
        return KF_GITLOCAL_UNKNOWN;
    return memcmp(out, "commit ", 7) == 0 ? KF_GITLOCAL_COMMIT : KF_GITLOCAL_UNKNOWN;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The object's offset in the pack, or -1 when this index lacks it. */
static long long idx_find(const unsigned char *idx, size_t len, const unsigned char raw[SHA1_RAW], int *bad)
{
    *bad = 1;
    if (len < IDX_HEADER || memcmp(idx, "\377tOc", 4) != 0 || be32(idx + 4) != 2)
        return -1;
    const unsigned char *fanout = idx + 8;
    uint32_t n = be32(fanout + 255 * 4);
    size_t names = IDX_HEADER, crcs = names + (size_t)n * SHA1_RAW, offs = crcs + (size_t)n * 4,
           large = offs + (size_t)n * 4;
    if (n > (len - IDX_HEADER) / (SHA1_RAW + 8) || large + 2 * SHA1_RAW > len)
        return -1;
    uint32_t lo = raw[0] ? be32(fanout + (raw[0] - 1) * 4) : 0, hi = be32(fanout + raw[0] * 4);
    if (lo > hi || hi > n)
        return -1;
    *bad = 0;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = memcmp(idx + names + (size_t)mid * SHA1_RAW, raw, SHA1_RAW);
        if (c == 0) {
            uint32_t off = be32(idx + offs + (size_t)mid * 4);
            if (!(off & 0x80000000u))
                return off;
            size_t at = large + (size_t)(off & 0x7fffffffu) * 8;
            if (at + 8 + 2 * SHA1_RAW > len) {
                *bad = 1;
                return -1;
            }
            unsigned long long big = (unsigned long long)be32(idx + at) << 32 | be32(idx + at + 4);
            if (big > (unsigned long long)INT64_MAX) {
                *bad = 1;
                return -1;
            }
            return (long long)big;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The pack entry's type is in bits 4-6 of its first byte; 1 is a commit,
 * 6 and 7 are deltas (their type needs the base: left to git). */
static int pack_entry_type(const char *idx_path, long long off)
{
    char path[4200];
    size_t n = strlen(idx_path);
    if (n < 4 || n + 1 > sizeof path)
        return -1;
    memcpy(path, idx_path, n - 4);
    memcpy(path + n - 4, ".pack", 6);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    unsigned char b;
    ssize_t got = pread(fd, &b, 1, (off_t)off);
    close(fd);
    return got == 1 ? (b >> 4) & 7 : -1;
}

static int packed_lookup(const char *gitdir, const unsigned char raw[SHA1_RAW])
{
    char dir[4200], path[4400];
    int answer = KF_GITLOCAL_ABSENT;
    if (snprintf(dir, sizeof dir, "%s/objects/pack", gitdir) >= (int)sizeof dir)
        return KF_GITLOCAL_UNKNOWN;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? KF_GITLOCAL_ABSENT : KF_GITLOCAL_UNKNOWN;
    struct dirent *de;
    while (answer == KF_GITLOCAL_ABSENT && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".idx") != 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) {
            answer = KF_GITLOCAL_UNKNOWN;
            break;
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) {
            if (fd >= 0)
                close(fd);
            answer = KF_GITLOCAL_UNKNOWN;
            break;
        }
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (map == MAP_FAILED) {
            answer = KF_GITLOCAL_UNKNOWN;
            break;
        }
        int bad;
        long long off = idx_find(map, (size_t)st.st_size, raw, &bad);
        munmap(map, (size_t)st.st_size);
        if (bad)
            answer = KF_GITLOCAL_UNKNOWN;
        else if (off >= 0)
            answer = pack_entry_type(path, off) == 1 ? KF_GITLOCAL_COMMIT : KF_GITLOCAL_UNKNOWN;
    }
    closedir(d);
    return answer;
}

int kf_gitlocal_has_commit(const char *gitdir, const char *sha)
{
    unsigned char raw[SHA1_RAW];
    if (!sha || strlen(sha) != SHA1_HEX || hex_to_raw(sha, raw) != 0)
        return KF_GITLOCAL_UNKNOWN;
    int loose = loose_lookup(gitdir, sha);
    if (loose != KF_GITLOCAL_ABSENT)
        return loose;
    return packed_lookup(gitdir, raw);
}

/* ---- the borrowing .git ---- */

struct tag {
    char *name; /* "refs/tags/..." */
    char sha[SHA1_HEX + 1];
};

struct tags {
    struct tag *v;
    size_t n, cap;
};

static void tags_free(struct tags *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].name);
    free(t->v);
}

/* Sets name to sha: a loose ref replaces the packed one of the same name. */
static int tags_put(struct tags *t, const char *name, size_t name_len, const char *sha)
{
    for (size_t i = 0; i < t->n; i++)
        if (strlen(t->v[i].name) == name_len && memcmp(t->v[i].name, name, name_len) == 0) {
            memcpy(t->v[i].sha, sha, SHA1_HEX);
            return KF_OK;
        }
    if (t->n == MAX_TAGS)
        return KF_ETOOBIG;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct tag *v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return KF_ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    struct tag *g = &t->v[t->n];
    if (!(g->name = strndup(name, name_len)))
        return KF_ENOMEM;
    memcpy(g->sha, sha, SHA1_HEX);
    g->sha[SHA1_HEX] = 0;
    t->n++;
    return KF_OK;
}

/* "<sha> refs/tags/..." lines of packed-refs; peel lines ("^sha") are left
 * out: without the "peeled" trait git peels by reading the objects. */
static int read_packed_tags(const char *mirror, struct tags *t, char *err)
{
    char path[4200];
    struct kf_buf f;
    snprintf(path, sizeof path, "%s/packed-refs", mirror);
    kf_buf_init(&f, REFS_MAX);
    int rc = kf_buf_read_file(&f, path, err);
    if (rc == KF_ENOTFOUND) { /* a mirror with no packed refs */
        rc = KF_OK;
        goto out;
    }
    if (rc)
        goto out;
    const char *p = (const char *)f.data, *end = p + f.len;
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        size_t n = (size_t)(line_end - p);
        if (n > SHA1_HEX + 1 + 10 && p[SHA1_HEX] == ' ' && kf_hex_lower(p, SHA1_HEX) &&
            memcmp(p + SHA1_HEX + 1, "refs/tags/", 10) == 0)
            rc = tags_put(t, p + SHA1_HEX + 1, n - SHA1_HEX - 1, p);
        p = nl ? nl + 1 : end;
    }
    if (rc)
        rc = kf_fail(err, rc, "%s: too many tags or out of memory", path);
out:
    kf_buf_free(&f);
    return rc;
}

/* Loose refs under refs/tags (a fetch writes them), depth-limited. */
static int read_loose_tags(const char *mirror, const char *rel, int depth, struct tags *t, char *err)
{
    char path[4200];
    if (snprintf(path, sizeof path, "%s/%s", mirror, rel) >= (int)sizeof path)
        return KF_OK; /* git could not have written a ref this long either */
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT || errno == ENOTDIR ? KF_OK : kf_fail(err, KF_EIO, "%s: %s", path, strerror(errno));
    int rc = KF_OK;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char child[4200];
        if (snprintf(child, sizeof child, "%s/%s", rel, de->d_name) >= (int)sizeof child)
            continue;
        char full[4400];
        snprintf(full, sizeof full, "%s/%s", mirror, child);
        struct stat st;
        if (lstat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < TAG_DEPTH)
                rc = read_loose_tags(mirror, child, depth + 1, t, err);
            continue;
        }
        if (!S_ISREG(st.st_mode) || st.st_size < SHA1_HEX)
            continue;
        char sha[SHA1_HEX + 1];
        FILE *f = fopen(full, "re");
        if (!f)
            continue;
        size_t got = fread(sha, 1, SHA1_HEX, f);
        fclose(f);
        if (got == SHA1_HEX && kf_hex_lower(sha, SHA1_HEX) && (rc = tags_put(t, child, strlen(child), sha)))
            rc = kf_fail(err, rc, "%s: too many tags or out of memory", mirror);
    }
    closedir(d);
    return rc;
}

static int tag_cmp(const void *a, const void *b)
{
    return strcmp(((const struct tag *)a)->name, ((const struct tag *)b)->name);
}

/* A new file (O_EXCL: dest_dir is fresh) holding exactly text. */
static int write_text(const char *path, const char *text, size_t len, char *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return kf_fail(err, KF_EIO, "%s: %s", path, strerror(errno));
    int failed = kf_write_all(fd, text, len) != 0;
    int e = errno;
    if (close(fd) != 0 && !failed) {
        failed = 1;
        e = errno;
    }
    return failed ? kf_fail(err, KF_EIO, "writing %s: %s", path, strerror(e)) : KF_OK;
}

static int make_dir(const char *base, const char *rel, char *err)
{
    char path[4200];
    if (snprintf(path, sizeof path, "%s%s", base, rel) >= (int)sizeof path)
        return kf_fail(err, KF_EINVAL, "path too long: %s", base);
    if (mkdir(path, 0755) != 0)
        return kf_fail(err, KF_EIO, "mkdir %s: %s", path, strerror(errno));
    return KF_OK;
}

int kf_gitlocal_borrow(const char *mirror, const char *sha, const char *dest_dir, char *err)
{
    static const char config[] = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
                                 "\tlogallrefupdates = true\n";
    struct tags tags = {0};
    struct kf_buf text;
    char path[4200];
    int rc;
    kf_buf_init(&text, REFS_MAX);
    if (mirror[0] != '/' || strlen(sha) != SHA1_HEX || !kf_hex_lower(sha, SHA1_HEX)) {
        rc = kf_fail(err, KF_EINTERNAL, "kf_gitlocal_borrow: needs an absolute mirror path and a SHA-1");
        goto out;
    }
    if ((rc = make_dir(dest_dir, "", err)) || (rc = make_dir(dest_dir, "/.git", err)) ||
        (rc = make_dir(dest_dir, "/.git/objects", err)) || (rc = make_dir(dest_dir, "/.git/objects/info", err)) ||
        (rc = make_dir(dest_dir, "/.git/refs", err)) || (rc = make_dir(dest_dir, "/.git/refs/heads", err)) ||
        (rc = make_dir(dest_dir, "/.git/refs/tags", err)))
        goto out;
    if ((rc = kf_buf_appendf(&text, "%s\n", sha)) != KF_OK)
        goto oom;
    snprintf(path, sizeof path, "%s/.git/HEAD", dest_dir);
    if ((rc = write_text(path, (const char *)text.data, text.len, err)))
        goto out;
    snprintf(path, sizeof path, "%s/.git/config", dest_dir);
    if ((rc = write_text(path, config, sizeof config - 1, err)))
        goto out;
    kf_buf_reset(&text);
    if ((rc = kf_buf_appendf(&text, "%s/objects\n", mirror)) != KF_OK)
        goto oom;
    snprintf(path, sizeof path, "%s/.git/objects/info/alternates", dest_dir);
    if ((rc = write_text(path, (const char *)text.data, text.len, err)))
        goto out;

    if ((rc = read_packed_tags(mirror, &tags, err)) || (rc = read_loose_tags(mirror, "refs/tags", 0, &tags, err)))
        goto out;
    if (tags.n == 0)
        goto out;
    qsort(tags.v, tags.n, sizeof *tags.v, tag_cmp);
    kf_buf_reset(&text);
    for (size_t i = 0; i < tags.n; i++)
        if ((rc = kf_buf_appendf(&text, "%s %s\n", tags.v[i].sha, tags.v[i].name)) != KF_OK)
            goto oom;
    snprintf(path, sizeof path, "%s/.git/packed-refs", dest_dir);
    rc = write_text(path, (const char *)text.data, text.len, err);
    goto out;
oom:
    rc = kf_fail(err, rc, "out of memory writing %s/.git", dest_dir);
out:
    tags_free(&tags);
    kf_buf_free(&text);
    return rc;
}
