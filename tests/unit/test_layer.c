/* layer.c: ko's binary and kodata tars (golden digests from Go's archive/tar
 * with ko's headers), the kodata walk rules, digests and the binary cache.
 * Archives are read back with libarchive, an independent reader. */
#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "digest.h"
#include "layer.h"

#define MAX_ENTRIES 64

struct entry {
    char name[512];
    int is_dir;
    long long size, mtime;
    int mode;
    char data[64]; /* first bytes of a file */
};

static char base[64];

static void setup(void)
{
    unsetenv("KO_DATA_PATH_ALLOWED_ROOT");
    snprintf(base, sizeof base, "/tmp/kf-test-layer-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(layer, .init = setup, .fini = teardown);

static void path_of(char *out, size_t n, const char *rel)
{
    snprintf(out, n, "%s/%s", base, rel);
}

static void put_file(const char *rel, const char *content)
{
    char p[512], err[KF_ERRLEN];
    path_of(p, sizeof p, rel);
    cr_assert_eq(kf_write_file_atomic(p, content, strlen(content), 0644, err), 0, "%s", err);
}

static void put_dir(const char *rel)
{
    char p[512];
    path_of(p, sizeof p, rel);
    cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s", p);
}

static void put_link(const char *target, const char *rel)
{
    char p[512];
    path_of(p, sizeof p, rel);
    cr_assert_eq(symlink(target, p), 0, "symlink %s", p);
}

static size_t read_entries(const struct kf_buf *tar, struct entry *out)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    cr_assert_eq(archive_read_open_memory(a, tar->data, tar->len), ARCHIVE_OK);
    struct archive_entry *ae;
    size_t n = 0;
    while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
        cr_assert_lt(n, MAX_ENTRIES);
        struct entry *e = &out[n++];
        memset(e, 0, sizeof *e);
        snprintf(e->name, sizeof e->name, "%s", archive_entry_pathname(ae));
        e->is_dir = archive_entry_filetype(ae) == AE_IFDIR;
        e->size = archive_entry_size(ae);
        e->mtime = archive_entry_mtime(ae);
        e->mode = archive_entry_perm(ae);
        la_ssize_t got = archive_read_data(a, e->data, sizeof e->data - 1);
        cr_assert_geq(got, 0);
    }
    archive_read_free(a);
    return n;
}

static int kodata_tar(const char *rel, const char *allowed_rel, long long epoch, struct kf_buf *tar, char *err)
{
    char dir[512], allowed[512];
    path_of(dir, sizeof dir, rel);
    if (allowed_rel)
        path_of(allowed, sizeof allowed, allowed_rel);
    kf_buf_init(tar, KF_LAYER_MAX);
    return kf_layer_tar_kodata(dir, allowed_rel ? allowed : NULL, epoch, tar, err);
}

static void expect_digest(const struct kf_buf *b, const char *want)
{
    char got[KF_DIGEST_LEN];
    kf_sha256_digest(b->data, b->len, got);
    cr_expect_str_eq(got, want);
}

Test(layer, binary_tar_matches_ko)
{
    char bin[512], err[KF_ERRLEN];
    struct kf_buf tar;
    struct entry e[MAX_ENTRIES];
    put_file("app", "hello");
    path_of(bin, sizeof bin, "app");
    kf_buf_init(&tar, 0);
    cr_assert_eq(kf_layer_tar_binary(bin, "/ko-app/app", &tar, err), 0, "%s", err);
    cr_expect_eq(tar.len, 2560);
    expect_digest(&tar, "sha256:ae2ceceff525f99138968ae262272285e6539a4203babb3acdcca061de0d83f7");
    cr_assert_eq(read_entries(&tar, e), 2);
    cr_expect_str_eq(e[0].name, "ko-app");
    cr_expect(e[0].is_dir);
    cr_expect_eq(e[0].mode, 0555);
    cr_expect_str_eq(e[1].name, "/ko-app/app");
    cr_expect_eq(e[1].mode, 0555);
    cr_expect_eq(e[1].mtime, 0);
    cr_expect_str_eq(e[1].data, "hello");
    kf_buf_free(&tar);

    kf_buf_init(&tar, 0);
    path_of(bin, sizeof bin, "missing");
    cr_expect_eq(kf_layer_tar_binary(bin, "/ko-app/app", &tar, err), KF_ENOTFOUND);
    kf_buf_free(&tar);
}

Test(layer, missing_kodata_gives_three_dirs)
{
    char err[KF_ERRLEN];
    struct kf_buf tar;
    struct entry e[MAX_ENTRIES];
    cr_assert_eq(kodata_tar("nope/kodata", NULL, -1, &tar, err), 0, "%s", err);
    expect_digest(&tar, "sha256:ffe56a1c5f3878e9b5f803842adb9e2ce81584b6bd027e8599582aefe14a975b");
    cr_assert_eq(read_entries(&tar, e), 3);
    cr_expect_str_eq(e[2].name, "/var/run/ko");
    cr_expect_eq(e[2].mtime, 0);
    kf_buf_free(&tar);
    cr_assert_eq(kodata_tar("nope/kodata", NULL, 1700000000, &tar, err), 0, "%s", err);
    expect_digest(&tar, "sha256:b51381ac64a4033cff00bdced914587d3def0bbd97dd95c182d3a16dc2e86d80");
    kf_buf_free(&tar);
}

Test(layer, kodata_tar_matches_ko)
{
    char err[KF_ERRLEN];
    struct kf_buf tar;
    put_dir("kodata");
    put_dir("kodata/sub");
    put_file("kodata/greeting.txt", "hi\n");
    put_file("kodata/sub/nested.txt", "n\n");
    cr_assert_eq(kodata_tar("kodata", NULL, 1700000000, &tar, err), 0, "%s", err);
    expect_digest(&tar, "sha256:48e4f8d542a3a3f97fa413a5ed6c9b98188ee326777258c77c99e224c772b6ba");
    kf_buf_free(&tar);
}

Test(layer, kodata_walk_order_modes_and_mtimes)
{
    static const char *const want[] = {
        "/var", "/var/run", "/var/run/ko", "/var/run/ko/C", "/var/run/ko/a", "/var/run/ko/a/sub",
        "/var/run/ko/a/sub/y", "/var/run/ko/a/x.txt", "/var/run/ko/a.txt", "/var/run/ko/b.txt",
    };
    char err[KF_ERRLEN];
    struct kf_buf tar;
    struct entry e[MAX_ENTRIES];
    put_dir("k");
    put_file("k/b.txt", "bee");
    put_dir("k/a");
    put_file("k/a.txt", "");
    put_file("k/C", "upper case sorts first");
    put_file("k/a/x.txt", "x");
    put_dir("k/a/sub");
    put_file("k/a/sub/y", "why");
    for (int pass = 0; pass < 2; pass++) {
        long long epoch = pass ? 1700000000 : -1;
        cr_assert_eq(kodata_tar("k", NULL, epoch, &tar, err), 0, "%s", err);
        size_t n = read_entries(&tar, e);
        cr_assert_eq(n, sizeof want / sizeof want[0]);
        for (size_t i = 0; i < n; i++) {
            cr_expect_str_eq(e[i].name, want[i]);
            cr_expect_eq(e[i].mode, 0555, "%s", want[i]);
            cr_expect_eq(e[i].mtime, pass ? 1700000000 : 0, "%s", want[i]);
        }
        cr_expect_str_eq(e[9].data, "bee");
        cr_expect_eq(e[3].size, 22);
        kf_buf_free(&tar);
    }
}

Test(layer, symlinks_inside_the_tree_are_followed)
{
    char err[KF_ERRLEN];
    struct kf_buf tar;
    struct entry e[MAX_ENTRIES];
    put_dir("k");
    put_dir("k/d");
    put_file("k/d/f", "content");
    put_link("d/f", "k/file-link");
    put_link("d", "k/dir-link");
    cr_assert_eq(kodata_tar("k", NULL, -1, &tar, err), 0, "%s", err);
    size_t n = read_entries(&tar, e);
    cr_assert_eq(n, 8);
    cr_expect_str_eq(e[3].name, "/var/run/ko/d");
    cr_expect_str_eq(e[5].name, "/var/run/ko/dir-link");
    cr_expect(e[5].is_dir, "a link to a directory becomes a directory");
    cr_expect_str_eq(e[6].name, "/var/run/ko/dir-link/f");
    cr_expect_str_eq(e[6].data, "content");
    cr_expect_str_eq(e[7].name, "/var/run/ko/file-link");
    cr_expect(!e[7].is_dir);
    cr_expect_eq(e[7].size, 7);
    cr_expect_str_eq(e[7].data, "content");
    kf_buf_free(&tar);
}

Test(layer, symlinks_out_of_the_allowed_root_are_refused)
{
    char err[KF_ERRLEN] = "", outside[512];
    struct kf_buf tar;
    put_dir("k");
    put_dir("other");
    put_file("secret", "do not pack");
    put_link("../secret", "k/escape");
    path_of(outside, sizeof outside, "secret");
    cr_expect_eq(kodata_tar("k", NULL, -1, &tar, err), KF_EINVAL);
    cr_expect(strstr(err, "k/escape") && strstr(err, outside), "names link and target: %s", err);
    kf_buf_free(&tar);

    cr_expect_eq(kodata_tar("k", "other", -1, &tar, err), KF_EINVAL, "a root not above kodata is ignored");
    kf_buf_free(&tar);

    cr_expect_eq(kodata_tar("k", ".", -1, &tar, err), 0, "an explicit wider root: %s", err);
    kf_buf_free(&tar);

    setenv("KO_DATA_PATH_ALLOWED_ROOT", base, 1);
    cr_expect_eq(kodata_tar("k", NULL, -1, &tar, err), 0, "KO_DATA_PATH_ALLOWED_ROOT: %s", err);
    kf_buf_free(&tar);
    unsetenv("KO_DATA_PATH_ALLOWED_ROOT");
}

Test(layer, git_worktree_widens_the_root)
{
    char err[KF_ERRLEN];
    struct kf_buf tar;
    struct entry e[MAX_ENTRIES];
    put_dir(".git");
    put_file("LICENSE", "license");
    put_dir("cmd");
    put_dir("cmd/kodata");
    put_link("../../LICENSE", "cmd/kodata/LICENSE");
    cr_assert_eq(kodata_tar("cmd/kodata", NULL, -1, &tar, err), 0, "%s", err);
    cr_assert_eq(read_entries(&tar, e), 4);
    cr_expect_str_eq(e[3].data, "license");
    kf_buf_free(&tar);
}

Test(layer, bad_trees)
{
    char err[KF_ERRLEN];
    struct kf_buf tar;
    struct entry e[MAX_ENTRIES];
    put_dir("dangling");
    put_link("nowhere", "dangling/x");
    cr_expect_eq(kodata_tar("dangling", NULL, -1, &tar, err), KF_EINVAL);
    kf_buf_free(&tar);

    put_dir("cycle");
    put_link(".", "cycle/loop");
    cr_expect_eq(kodata_tar("cycle", NULL, -1, &tar, err), KF_EINVAL, "a directory link cycle ends");
    kf_buf_free(&tar);

    /* filepath.Walk does not follow a root that is itself a symlink. */
    put_dir("real");
    put_file("real/f", "f");
    put_link("real", "linked");
    cr_assert_eq(kodata_tar("linked", NULL, -1, &tar, err), 0, "%s", err);
    cr_expect_eq(read_entries(&tar, e), 3);
    kf_buf_free(&tar);

    char dir[512];
    put_dir("big");
    put_file("big/f", "0123456789012345678901234567890123456789");
    path_of(dir, sizeof dir, "big");
    kf_buf_init(&tar, 5 * 512 + 20);
    cr_expect_eq(kf_layer_tar_kodata(dir, NULL, -1, &tar, err), KF_ETOOBIG);
    kf_buf_free(&tar);
}

static void gunzip(const unsigned char *gz, size_t len, struct kf_buf *out)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    cr_assert_eq(inflateInit2(&s, 16 + 15), Z_OK);
    s.next_in = (unsigned char *)gz;
    s.avail_in = (uInt)len;
    unsigned char chunk[65536];
    int zr;
    do {
        s.next_out = chunk;
        s.avail_out = sizeof chunk;
        zr = inflate(&s, Z_NO_FLUSH);
        cr_assert(zr == Z_OK || zr == Z_STREAM_END);
        cr_assert_eq(kf_buf_append(out, chunk, sizeof chunk - s.avail_out), 0);
    } while (zr != Z_STREAM_END);
    inflateEnd(&s);
}

Test(layer, from_tar_digests)
{
    char err[KF_ERRLEN], want[KF_DIGEST_LEN];
    struct kf_layer l = {0};
    struct kf_buf tar, plain;
    kf_buf_init(&tar, 0);
    kf_buf_init(&plain, 0);
    cr_assert_eq(kodata_tar("none", NULL, -1, &tar, err), 0);
    cr_assert_eq(kf_layer_from_tar(tar.data, tar.len, &l, err), 0, "%s", err);
    cr_expect_str_eq(l.diff_id, "sha256:ffe56a1c5f3878e9b5f803842adb9e2ce81584b6bd027e8599582aefe14a975b");
    kf_sha256_digest(l.blob, l.blob_len, want);
    cr_expect_str_eq(l.digest, want);
    gunzip(l.blob, l.blob_len, &plain);
    cr_expect(plain.len == tar.len && memcmp(plain.data, tar.data, tar.len) == 0);
    kf_layer_free(&l);
    kf_layer_free(&l);
    kf_buf_free(&tar);
    kf_buf_free(&plain);
}

static ino_t only_cache_entry(const char *cache, int *count)
{
    char path[1024];
    struct stat st;
    ino_t ino = 0;
    *count = 0;
    DIR *d = opendir(cache);
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 6, ".layer") != 0)
            continue;
        (*count)++;
        snprintf(path, sizeof path, "%s/%s", cache, de->d_name);
        cr_assert_eq(stat(path, &st), 0);
        ino = st.st_ino;
    }
    closedir(d);
    return ino;
}

static void same_layer(const struct kf_layer *a, const struct kf_layer *b)
{
    cr_expect_str_eq(a->digest, b->digest);
    cr_expect_str_eq(a->diff_id, b->diff_id);
    cr_expect(a->blob_len == b->blob_len && memcmp(a->blob, b->blob, a->blob_len) == 0);
}

Test(layer, binary_cache_hits_and_repairs)
{
    char bin[512], cache[512], entry[1024], err[KF_ERRLEN];
    struct kf_layer fresh = {0}, first = {0}, hit = {0}, repaired = {0}, other = {0};
    int count;
    put_file("app", "pretend this is an ELF binary");
    path_of(bin, sizeof bin, "app");
    path_of(cache, sizeof cache, "cache/layers");
    put_dir("cache");

    cr_assert_eq(kf_layer_binary(bin, "/ko-app/app", NULL, &fresh, err), 0, "%s", err);
    cr_assert_eq(kf_layer_binary(bin, "/ko-app/app", cache, &first, err), 0, "%s", err);
    same_layer(&fresh, &first);
    ino_t ino = only_cache_entry(cache, &count);
    cr_assert_eq(count, 1, "one entry stored");

    cr_assert_eq(kf_layer_binary(bin, "/ko-app/app", cache, &hit, err), 0, "%s", err);
    same_layer(&first, &hit);
    cr_expect_eq(only_cache_entry(cache, &count), ino, "a hit rewrites nothing");

    /* Corrupt the entry: it is ignored and rebuilt. */
    DIR *d = opendir(cache);
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && strstr(de->d_name, ".layer"))
            snprintf(entry, sizeof entry, "%s/%s", cache, de->d_name);
    closedir(d);
    FILE *f = fopen(entry, "r+b");
    cr_assert_not_null(f);
    fseek(f, 300, SEEK_SET);
    fputc('!', f);
    fclose(f);
    cr_assert_eq(kf_layer_binary(bin, "/ko-app/app", cache, &repaired, err), 0, "%s", err);
    same_layer(&first, &repaired);
    cr_expect_neq(only_cache_entry(cache, &count), ino, "the corrupt entry was replaced");

    cr_assert_eq(kf_layer_binary(bin, "/ko-app/other", cache, &other, err), 0, "%s", err);
    cr_expect_str_neq(other.diff_id, first.diff_id);
    only_cache_entry(cache, &count);
    cr_expect_eq(count, 2, "the app path is part of the key");

    kf_layer_free(&fresh);
    kf_layer_free(&first);
    kf_layer_free(&hit);
    kf_layer_free(&repaired);
    kf_layer_free(&other);
}

static int count_suffix(const char *dir, const char *suffix)
{
    int n = 0;
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d)))
        n += strlen(de->d_name) > strlen(suffix) &&
             strcmp(de->d_name + strlen(de->d_name) - strlen(suffix), suffix) == 0;
    closedir(d);
    return n;
}

/* The stat index must never serve a changed file: same size, same mtime,
 * other bytes is a miss (ctime moved). */
Test(layer, stat_index_follows_the_file)
{
    char bin[512], cache[512], err[KF_ERRLEN];
    struct kf_layer a = {0}, a2 = {0}, b = {0}, b_fresh = {0}, c = {0};
    put_file("app", "binary version AAAA");
    path_of(bin, sizeof bin, "app");
    path_of(cache, sizeof cache, "statcache");
    cr_assert_eq(kf_layer_binary(bin, "/ko-app/app", cache, &a, err), 0, "%s", err);
    cr_expect_eq(count_suffix(cache, ".stat"), 1, "the stat index is written");
    cr_assert_eq(kf_layer_binary(bin, "/ko-app/app", cache, &a2, err), 0, "%s", err);
    same_layer(&a, &a2);
    cr_expect_eq(count_suffix(cache, ".stat"), 1, "a hit adds no index entry");

    struct stat st;
    cr_assert_eq(stat(bin, &st), 0);
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    FILE *f = fopen(bin, "r+"); /* in place: same inode, same size */
    cr_assert_not_null(f);
    fputs("binary version BBBB", f);
    fclose(f);
    cr_assert_eq(utimensat(AT_FDCWD, bin, times, 0), 0);
    cr_assert_eq(kf_layer_binary(bin, "/ko-app/app", cache, &b, err), 0, "%s", err);
    cr_assert_eq(kf_layer_binary(bin, "/ko-app/app", NULL, &b_fresh, err), 0, "%s", err);
    same_layer(&b_fresh, &b);
    cr_expect_str_neq(a.diff_id, b.diff_id);

    /* The index may outlive the entry it names: the layer is rebuilt. */
    DIR *d = opendir(cache);
    struct dirent *de;
    char path[1024];
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".layer")) {
            snprintf(path, sizeof path, "%s/%s", cache, de->d_name);
            unlink(path);
        }
    closedir(d);
    cr_assert_eq(kf_layer_binary(bin, "/ko-app/app", cache, &c, err), 0, "%s", err);
    same_layer(&b_fresh, &c);
    kf_layer_free(&a);
    kf_layer_free(&a2);
    kf_layer_free(&b);
    kf_layer_free(&b_fresh);
    kf_layer_free(&c);
}

struct job {
    const char *bin, *cache;
    struct kf_layer layer;
    int rc;
};

static void *build(void *arg)
{
    struct job *j = arg;
    char err[KF_ERRLEN];
    j->rc = kf_layer_binary(j->bin, "/ko-app/app", j->cache, &j->layer, err);
    return NULL;
}

Test(layer, parallel_builds_share_the_cache)
{
    char bin[512], cache[512];
    struct kf_buf big;
    kf_buf_init(&big, 0);
    int rc = 0;
    for (unsigned i = 0; i < 300000 && !rc; i++) /* ~2.5 MB over three gzip chunks */
        rc = kf_buf_appendf(&big, "%u,", i * 7919u);
    cr_assert_eq(rc, 0);
    put_file("app", (const char *)big.data);
    kf_buf_free(&big);
    path_of(bin, sizeof bin, "app");
    path_of(cache, sizeof cache, "cache");
    struct job jobs[4];
    pthread_t tids[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct job){.bin = bin, .cache = cache};
        cr_assert_eq(pthread_create(&tids[i], NULL, build, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(tids[i], NULL);
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(jobs[i].rc, 0);
        same_layer(&jobs[0].layer, &jobs[i].layer);
    }
    int count;
    only_cache_entry(cache, &count);
    cr_expect_eq(count, 1);
    for (int i = 0; i < 4; i++)
        kf_layer_free(&jobs[i].layer);
}

/* A lazy hit reads only the entry's header; the blob comes later and is
 * checked then. */
Test(layer, lazy_hit_defers_the_blob)
{
    char bin[512], cache[512], entry[1024], err[KF_ERRLEN];
    struct kf_layer full = {0}, lazy = {0}, fresh = {0}, broken = {0};
    int count;
    put_file("app", "a binary that will be pushed twice");
    path_of(bin, sizeof bin, "app");
    path_of(cache, sizeof cache, "lazycache");
    cr_assert_eq(kf_layer_binary_lazy(bin, "/ko-app/app", cache, &full, err), 0, "%s", err);
    cr_assert_not_null(full.blob, "a miss builds the blob");
    cr_expect_not_null(full.store, "the entry is written in the background");
    kf_layer_wait_store(&full);
    cr_expect_eq(count_suffix(cache, ".layer"), 1, "stored once the wait returns");
    cr_expect_eq(count_suffix(cache, ".stat"), 1);

    cr_assert_eq(kf_layer_binary_lazy(bin, "/ko-app/app", cache, &lazy, err), 0, "%s", err);
    cr_expect_null(lazy.blob, "a stat-index hit leaves the blob in the cache");
    cr_assert_not_null(lazy.cache_entry);
    cr_expect_str_eq(lazy.digest, full.digest);
    cr_expect_str_eq(lazy.diff_id, full.diff_id);
    cr_expect_eq(lazy.blob_len, full.blob_len);
    cr_assert_eq(kf_layer_load_blob(&lazy, err), 0, "%s", err);
    same_layer(&full, &lazy);
    cr_expect_null(lazy.cache_entry);
    cr_expect_eq(kf_layer_load_blob(&lazy, err), 0, "loading twice is a no-op");

    /* An entry damaged after the header was read is refused when loaded. */
    cr_assert_eq(kf_layer_binary_lazy(bin, "/ko-app/app", cache, &broken, err), 0, "%s", err);
    cr_assert_null(broken.blob);
    only_cache_entry(cache, &count);
    snprintf(entry, sizeof entry, "%s", broken.cache_entry);
    FILE *f = fopen(entry, "r+");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, 300, SEEK_SET), 0);
    fputc('!', f);
    fclose(f);
    cr_expect_eq(kf_layer_load_blob(&broken, err), KF_EIO);
    cr_expect_null(broken.blob);

    /* A damaged entry whose size no longer fits its header is a miss at once. */
    cr_assert_eq(truncate(entry, 400), 0);
    cr_assert_eq(kf_layer_binary_lazy(bin, "/ko-app/app", cache, &fresh, err), 0, "%s", err);
    cr_expect_not_null(fresh.blob, "rebuilt");
    same_layer(&full, &fresh);
    kf_layer_wait_store(&fresh);
    struct stat st;
    cr_assert_eq(stat(entry, &st), 0);
    cr_expect_gt(st.st_size, 400, "and stored again");
    kf_layer_free(&full);
    kf_layer_free(&lazy);
    kf_layer_free(&broken);
    kf_layer_free(&fresh);
}
