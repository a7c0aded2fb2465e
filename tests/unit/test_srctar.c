/* Upload extraction against hostile archives built in memory with
 * libarchive's writer: nothing may appear outside dest, which sits in a
 * sentinel directory holding only itself and a sentinel file. */
#include <criterion/criterion.h>
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "buf.h"
#include "srctar.h"

#define SENTINEL_TEXT "untouched\n"

static char outer[64];
static char dest[128];

/* One archive entry: type 'f' file, 'd' dir, 'l' symlink (arg = target),
 * 'h' hard link (arg = target), 'c' char device, 'b' block device, 'p' fifo. */
struct ent {
    char type;
    const char *path;
    const char *arg; /* file content, link target */
    unsigned mode;   /* 0: 0644 for files, 0755 for dirs */
};

static la_ssize_t to_buf(struct archive *a, void *client, const void *data, size_t len)
{
    return kf_buf_append(client, data, len) ? -1 : (la_ssize_t)len;
}

static void start_archive(struct archive **a, struct kf_buf *out, int gzip)
{
    kf_buf_init(out, 0);
    *a = archive_write_new();
    cr_assert_not_null(*a);
    cr_assert_eq(archive_write_set_format_pax_restricted(*a), ARCHIVE_OK);
    if (gzip)
        cr_assert_eq(archive_write_add_filter_gzip(*a), ARCHIVE_OK);
    cr_assert_eq(archive_write_set_bytes_in_last_block(*a, 1), ARCHIVE_OK);
    cr_assert_eq(archive_write_open(*a, out, NULL, to_buf, NULL), ARCHIVE_OK, "%s", archive_error_string(*a));
}

static void add_entry(struct archive *a, const struct ent *e, const void *data, size_t len)
{
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, e->path);
    archive_entry_set_mtime(ae, 1700000000, 0);
    switch (e->type) {
    case 'f':
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_size(ae, (la_int64_t)len);
        break;
    case 'd': archive_entry_set_filetype(ae, AE_IFDIR); break;
    case 'l':
        archive_entry_set_filetype(ae, AE_IFLNK);
        archive_entry_set_symlink(ae, e->arg);
        break;
    case 'h':
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_hardlink(ae, e->arg);
        break;
    case 'c': archive_entry_set_filetype(ae, AE_IFCHR); archive_entry_set_rdev(ae, makedev(1, 3)); break;
    case 'b': archive_entry_set_filetype(ae, AE_IFBLK); archive_entry_set_rdev(ae, makedev(7, 0)); break;
    case 'p': archive_entry_set_filetype(ae, AE_IFIFO); break;
    default: cr_assert_fail("bad entry type %c", e->type);
    }
    archive_entry_set_perm(ae, e->mode ? e->mode : e->type == 'd' ? 0755 : 0644);
    cr_assert_geq(archive_write_header(a, ae), ARCHIVE_WARN, "%s: %s", e->path, archive_error_string(a));
    if (e->type == 'f' && len)
        cr_assert_eq(archive_write_data(a, data, len), (la_ssize_t)len);
    archive_entry_free(ae);
}

static void finish_archive(struct archive *a)
{
    cr_assert_eq(archive_write_close(a), ARCHIVE_OK, "%s", archive_error_string(a));
    archive_write_free(a);
}

static void build(struct kf_buf *out, int gzip, const struct ent *ents)
{
    struct archive *a;
    start_archive(&a, out, gzip);
    for (const struct ent *e = ents; e->type; e++)
        add_entry(a, e, e->arg, e->type == 'f' && e->arg ? strlen(e->arg) : 0);
    finish_archive(a);
}

static void setup(void)
{
    snprintf(outer, sizeof outer, "/tmp/kf-test-srctar-XXXXXX");
    cr_assert_not_null(mkdtemp(outer));
    snprintf(dest, sizeof dest, "%s/dest", outer);
    cr_assert_eq(mkdir(dest, 0755), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/sentinel", outer);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(SENTINEL_TEXT, f);
    fclose(f);
}

static void teardown(void)
{
    char err[KF_ERRLEN] = "";
    if (!outer[0])
        return;
    cr_expect_eq(kf_srctar_clear_dir(outer, err), 0, "%s", err);
    cr_expect_eq(rmdir(outer), 0, "%s", strerror(errno));
}

TestSuite(srctar, .init = setup, .fini = teardown);

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

static char *slurp(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dest, rel);
    struct kf_buf b;
    kf_buf_init(&b, 1 << 20);
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_buf_read_file(&b, path, err), 0, "%s: %s", rel, err);
    size_t len;
    char *s = (char *)kf_buf_steal(&b, &len);
    return s ? s : strdup("");
}

/* The sentinel directory holds dest and the untouched sentinel only. */
static void assert_nothing_outside(const char *what)
{
    cr_assert_eq(count_entries(outer), 2, "%s: something appeared next to dest", what);
    char path[256];
    snprintf(path, sizeof path, "%s/sentinel", outer);
    struct kf_buf b;
    kf_buf_init(&b, 0);
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_buf_read_file(&b, path, err), 0, "%s", err);
    cr_assert_str_eq((char *)b.data, SENTINEL_TEXT, "%s: sentinel changed", what);
    kf_buf_free(&b);
    struct stat st;
    cr_assert_eq(lstat("/etc/passwd", &st), 0);
    cr_assert(S_ISREG(st.st_mode));
}

static mode_t mode_of(const char *rel)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dest, rel);
    cr_assert_eq(lstat(path, &st), 0, "%s: %s", rel, strerror(errno));
    return st.st_mode;
}

static const struct ent module_tree[] = {
    {'d', "./", NULL, 0},
    {'f', "./go.mod", "module example.com/hello\n\ngo 1.19\n", 0644},
    {'d', "./cmd/", NULL, 0700},
    {'d', "./cmd/hello/", NULL, 0755},
    {'f', "./cmd/hello/main.go", "package main\n\nfunc main() {}\n", 0664},
    {'f', "./cmd/hello/run.sh", "#!/bin/sh\n", 04775}, /* setuid: dropped, x kept */
    {'f', "pkg/deep/er/still/x.go", "package still\n", 02644}, /* parents implied */
    {'l', "cmd/hello/x.go", "../../pkg/deep/er/still/x.go", 0777},
    {'l', "pkg/deep/here", ".", 0777},
    {'h', "cmd/hello/copy.go", "cmd/hello/main.go", 0},
    {'f', "empty.txt", "", 0600},
    {'f', "go.mod", "module example.com/hello\n\ngo 1.19\n", 0644}, /* a duplicate: the later wins */
    {0, NULL, NULL, 0},
};

static void check_module_tree(void)
{
    char *s = slurp("cmd/hello/main.go");
    cr_expect_str_eq(s, "package main\n\nfunc main() {}\n");
    free(s);
    s = slurp("cmd/hello/x.go"); /* through the in-tree symlink */
    cr_expect_str_eq(s, "package still\n");
    free(s);
    s = slurp("go.mod");
    cr_expect_str_eq(s, "module example.com/hello\n\ngo 1.19\n");
    free(s);
    cr_expect_eq(mode_of("cmd/hello/main.go") & 07777, 0644);
    cr_expect_eq(mode_of("cmd/hello/run.sh") & 07777, 0755);
    cr_expect_eq(mode_of("pkg/deep/er/still/x.go") & 07777, 0644);
    cr_expect_eq(mode_of("empty.txt") & 07777, 0644);
    cr_expect_eq(mode_of("cmd") & 07777, 0755);
    cr_expect(S_ISDIR(mode_of("pkg/deep/er")));
    cr_expect(S_ISLNK(mode_of("cmd/hello/x.go")));
    char target[256];
    char path[512];
    snprintf(path, sizeof path, "%s/cmd/hello/x.go", dest);
    ssize_t n = readlink(path, target, sizeof target - 1);
    cr_assert_gt(n, 0);
    target[n] = 0;
    cr_expect_str_eq(target, "../../pkg/deep/er/still/x.go");
    struct stat a, b;
    snprintf(path, sizeof path, "%s/cmd/hello/copy.go", dest);
    cr_assert_eq(stat(path, &a), 0);
    snprintf(path, sizeof path, "%s/cmd/hello/main.go", dest);
    cr_assert_eq(stat(path, &b), 0);
    cr_expect_eq(a.st_ino, b.st_ino, "the hard link is the same file");
    cr_expect_eq(a.st_uid, getuid());
    cr_expect_eq(count_entries(dest), 4); /* go.mod cmd pkg empty.txt */
    assert_nothing_outside("module tree");
}

Test(srctar, module_tree_gzip)
{
    struct kf_buf tgz;
    build(&tgz, 1, module_tree);
    cr_assert_eq(tgz.data[0], 0x1f);
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_srctar_extract(tgz.data, tgz.len, dest, NULL, err), 0, "%s", err);
    check_module_tree();
    kf_buf_free(&tgz);
}

Test(srctar, module_tree_plain_tar)
{
    struct kf_buf tar;
    build(&tar, 0, module_tree);
    char err[KF_ERRLEN] = "";
    struct kf_srctar_limits lim = {.max_bytes = 1 << 20, .max_entries = 20, .max_path = 100};
    cr_assert_eq(kf_srctar_extract(tar.data, tar.len, dest, &lim, err), 0, "%s", err);
    check_module_tree();
    kf_buf_free(&tar);
}

Test(srctar, replaced_file_does_not_write_through_hard_link)
{
    static const struct ent ents[] = {
        {'f', "a", "original\n", 0},
        {'h', "b", "a", 0},
        {'f', "b", "replaced\n", 0},
        {0, NULL, NULL, 0},
    };
    struct kf_buf tar;
    build(&tar, 0, ents);
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_srctar_extract(tar.data, tar.len, dest, NULL, err), 0, "%s", err);
    char *a = slurp("a"), *b = slurp("b");
    cr_expect_str_eq(a, "original\n");
    cr_expect_str_eq(b, "replaced\n");
    free(a);
    free(b);
    kf_buf_free(&tar);
}

/* An upload keeps its .git but never the config that could make git run
 * a command (a filter driver runs during `git status`). */
Test(srctar, git_config_skipped)
{
    static const struct ent ents[] = {
        {'d', ".git/", NULL, 0},
        {'f', ".git/HEAD", "ref: refs/heads/main\n", 0},
        {'f', ".git/config", "[filter \"x\"]\n\tclean = touch /tmp/kofarm-pwned\n", 0},
        {'f', ".git/config.worktree", "[core]\n\tfsmonitor = touch /tmp/kofarm-pwned\n", 0},
        {'f', ".gitattributes", "* filter=x\n", 0},
        {'f', "sub/.git", "gitdir: /var/lib/kofarm\n", 0},
        {'l', "other/.git", "../.git", 0},
        {'f', "other/config", "not git's\n", 0},
        {0, NULL, NULL, 0},
    };
    struct kf_buf tar;
    build(&tar, 0, ents);
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_srctar_extract(tar.data, tar.len, dest, NULL, err), 0, "%s", err);
    char path[512];
    snprintf(path, sizeof path, "%s/.git/HEAD", dest);
    cr_expect_eq(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/.git/config", dest);
    cr_expect_eq(access(path, F_OK), -1);
    snprintf(path, sizeof path, "%s/.git/config.worktree", dest);
    cr_expect_eq(access(path, F_OK), -1);
    snprintf(path, sizeof path, "%s/sub/.git", dest);
    cr_expect_eq(access(path, F_OK), -1);
    snprintf(path, sizeof path, "%s/other/config", dest);
    cr_expect_eq(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/other/.git", dest);
    struct stat st;
    cr_expect_eq(lstat(path, &st), -1);
    kf_buf_free(&tar);
}

struct hostile {
    const char *name;
    struct ent ents[5];
    int want_rc;
    const char *want_msg; /* substring of the error */
};

/* "@" in a path or target stands for the sentinel directory. */
static const struct hostile hostile_cases[] = {
    {"absolute path", {{'f', "ok.go", "package ok\n", 0}, {'f', "@/pwned", "x", 0}}, KF_EINVAL, "absolute path"},
    {"dotdot", {{'d', "sub/", NULL, 0}, {'f', "../pwned", "x", 0}}, KF_EINVAL, "\"..\" in path"},
    {"inner dotdot", {{'f', "a/../../pwned", "x", 0}}, KF_EINVAL, "\"..\" in path"},
    {"dotdot at the end", {{'d', "a/..", NULL, 0}}, KF_EINVAL, "\"..\" in path"},
    {"symlink to /etc then through it", {{'l', "etc", "/etc", 0}, {'f', "etc/kofarm-pwned", "x", 0}},
     KF_EINVAL, "symlink to absolute path /etc"},
    {"symlink to sentinel then through it", {{'l', "l", "@", 0}, {'f', "l/pwned", "x", 0}}, KF_EINVAL,
     "absolute path"},
    {"symlink climbing out", {{'d', "a/", NULL, 0}, {'l', "a/l", "../../pwned", 0}}, KF_EINVAL, "leaves the tree"},
    {"symlink climbing out from the root", {{'l', "l", "..", 0}}, KF_EINVAL, "leaves the tree"},
    /* lexically a/l/.. is "a", but the kernel goes through a/l (the root) first */
    {"dotdot through a symlink", {{'l', "a/l", "..", 0}, {'l', "x", "a/l/..", 0}, {'f', "x/pwned", "x", 0}},
     KF_EINVAL, "symlink to a/l/.. leaves the tree"},
    {"write through an in-tree symlink", {{'d', "sub/", NULL, 0}, {'l', "l", "sub", 0}, {'f', "l/f", "x", 0}},
     KF_EINVAL, "passes through symlink \"l\""},
    {"dir entry on a symlink", {{'d', "sub/", NULL, 0}, {'l', "l", "sub", 0}, {'d', "l/", NULL, 0}}, KF_EINVAL,
     "not a directory"},
    {"hard link to /etc/passwd", {{'h', "passwd", "/etc/passwd", 0}}, KF_EINVAL, "hard link to /etc/passwd"},
    {"hard link climbing out", {{'h', "s", "../sentinel", 0}}, KF_EINVAL, "hard link to ../sentinel"},
    {"hard link to a later file", {{'h', "early", "later", 0}, {'f', "later", "x", 0}}, KF_EINVAL,
     "not a file extracted before it"},
    {"hard link to a directory", {{'d', "d/", NULL, 0}, {'h', "h", "d", 0}}, KF_EINVAL, "not a file"},
    {"hard link through a symlink",
     {{'d', "d/", NULL, 0}, {'f', "d/f", "x", 0}, {'l', "l", "d", 0}, {'h', "h", "l/f", 0}}, KF_EINVAL,
     "passes through symlink"},
    {"character device", {{'c', "null", NULL, 0}}, KF_EINVAL, "character device"},
    {"block device", {{'b', "loop0", NULL, 0}}, KF_EINVAL, "block device"},
    {"fifo", {{'p', "fifo", NULL, 0}}, KF_EINVAL, "fifo"},
    {"file under a file", {{'f', "f", "x", 0}, {'f', "f/g", "x", 0}}, KF_EINVAL, "\"f\" is not a directory"},
    {"file replacing a dir", {{'d', "d/", NULL, 0}, {'f', "d/x", "x", 0}, {'f', "d", "x", 0}}, KF_EINVAL,
     "replace a directory"},
    {"symlink replacing a dir", {{'d', "d/", NULL, 0}, {'l', "d", "x", 0}}, KF_EINVAL, "replace a directory"},
    {"path over max_path",
     {{'f', "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "x", 0}},
     KF_EINVAL,
     "longer than 64 bytes"},
    {"root as a link", {{'l', ".", "x", 0}}, KF_EINVAL, "names the destination"},
};

static char *with_outer(const char *s)
{
    char *out;
    if (s && s[0] == '@')
        cr_assert_geq(asprintf(&out, "%s%s", outer, s + 1), 0);
    else
        out = s ? strdup(s) : NULL;
    return out;
}

Test(srctar, hostile_table)
{
    struct kf_srctar_limits lim = {.max_path = 64};
    for (size_t i = 0; i < sizeof hostile_cases / sizeof hostile_cases[0]; i++) {
        const struct hostile *c = &hostile_cases[i];
        for (int gzip = 0; gzip < 2; gzip++) {
            struct archive *a;
            struct kf_buf out;
            start_archive(&a, &out, gzip);
            for (const struct ent *e = c->ents; e->type; e++) {
                struct ent real = *e;
                char *path = with_outer(e->path), *arg = with_outer(e->arg);
                real.path = path;
                real.arg = arg;
                add_entry(a, &real, arg, e->type == 'f' && arg ? strlen(arg) : 0);
                free(path);
                free(arg);
            }
            finish_archive(a);
            char err[KF_ERRLEN] = "", check_err[KF_ERRLEN] = "";
            int check_rc = kf_srctar_check(out.data, out.len, &lim, check_err);
            int rc = kf_srctar_extract(out.data, out.len, dest, &lim, err);
            cr_expect_eq(rc, c->want_rc, "%s (gzip %d): rc %d: %s", c->name, gzip, rc, err);
            cr_expect_eq(check_rc, rc, "%s: check says %d (%s)", c->name, check_rc, check_err);
            cr_expect_str_eq(check_err, err, "%s: check and extract disagree", c->name);
            cr_expect(strstr(err, c->want_msg) != NULL, "%s: message \"%s\" lacks \"%s\"", c->name, err,
                      c->want_msg);
            cr_expect_eq(count_entries(dest), 0, "%s: partial tree left in dest", c->name);
            cr_assert_eq(kf_srctar_clear_dir(dest, err), 0, "%s", err); /* keep the next case meaningful */
            assert_nothing_outside(c->name);
            cr_assert_eq(access("/etc/kofarm-pwned", F_OK), -1);
            kf_buf_free(&out);
        }
    }
}

Test(srctar, too_many_entries)
{
    struct archive *a;
    struct kf_buf out;
    start_archive(&a, &out, 1);
    for (int i = 0; i < 10000; i++) {
        char name[32];
        snprintf(name, sizeof name, "d%d/f%d", i % 10, i);
        struct ent e = {'f', name, "x", 0};
        add_entry(a, &e, "x", 1);
    }
    finish_archive(a);
    struct kf_srctar_limits lim = {.max_entries = 1000};
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_srctar_extract(out.data, out.len, dest, &lim, err), KF_ETOOBIG, "%s", err);
    cr_expect_str_eq(err, "archive: more than 1000 entries");
    cr_expect_eq(count_entries(dest), 0);
    assert_nothing_outside("entries");
    kf_buf_free(&out);
}

/* 32 MiB of zeros compress to some 32 KiB: refused at the 1 MiB cap, long
 * before the whole of it is inflated. */
Test(srctar, gzip_bomb)
{
    size_t big = (size_t)32 << 20;
    char *zeros = calloc(1, big);
    cr_assert_not_null(zeros);
    struct archive *a;
    struct kf_buf out;
    start_archive(&a, &out, 1);
    struct ent e = {'f', "bomb", NULL, 0};
    add_entry(a, &e, zeros, big);
    finish_archive(a);
    free(zeros);
    cr_assert_lt(out.len, (size_t)1 << 20);
    struct kf_srctar_limits lim = {.max_bytes = 1 << 20};
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_srctar_extract(out.data, out.len, dest, &lim, err), KF_ETOOBIG, "%s", err);
    cr_expect(strstr(err, "1048576 bytes") != NULL, "%s", err);
    cr_expect_eq(count_entries(dest), 0);
    assert_nothing_outside("bomb");
    kf_buf_free(&out);
}

/* Many small files: under the stream cap each, over it together. */
Test(srctar, total_size)
{
    struct archive *a;
    struct kf_buf out;
    start_archive(&a, &out, 0);
    static char chunk[100000];
    memset(chunk, 'a', sizeof chunk);
    for (int i = 0; i < 12; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        struct ent e = {'f', name, NULL, 0};
        add_entry(a, &e, chunk, sizeof chunk);
    }
    finish_archive(a);
    struct kf_srctar_limits lim = {.max_bytes = 1000000};
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_srctar_extract(out.data, out.len, dest, &lim, err), KF_ETOOBIG, "%s", err);
    cr_expect_eq(count_entries(dest), 0);
    lim.max_bytes = 2000000;
    cr_expect_eq(kf_srctar_extract(out.data, out.len, dest, &lim, err), 0, "%s", err);
    cr_expect_eq(count_entries(dest), 12);
    kf_buf_free(&out);
}

Test(srctar, corrupt_inputs)
{
    struct kf_buf tgz, tar;
    build(&tgz, 1, module_tree);
    build(&tar, 0, module_tree);
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_srctar_extract(tgz.data, tgz.len / 2, dest, NULL, err), KF_EINVAL, "truncated gzip: %s", err);
    cr_expect_eq(count_entries(dest), 0);
    cr_expect_eq(kf_srctar_extract(tar.data, 700, dest, NULL, err), KF_EINVAL, "truncated tar: %s", err);
    cr_expect_eq(count_entries(dest), 0);
    /* a flipped byte in a header breaks its checksum */
    tar.data[600] ^= 0x55;
    cr_expect_eq(kf_srctar_extract(tar.data, tar.len, dest, NULL, err), KF_EINVAL, "bad checksum: %s", err);
    cr_expect_eq(count_entries(dest), 0);
    unsigned char garbage[4096];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (unsigned char)(i * 7919 + 13);
    cr_expect_eq(kf_srctar_extract(garbage, sizeof garbage, dest, NULL, err), KF_EINVAL, "garbage: %s", err);
    cr_expect(strstr(err, "not a tar or tar.gz archive") != NULL, "%s", err);
    garbage[0] = 0x1f; /* gzip magic, then nonsense */
    garbage[1] = 0x8b;
    cr_expect_eq(kf_srctar_extract(garbage, sizeof garbage, dest, NULL, err), KF_EINVAL, "bad gzip: %s", err);
    cr_expect_eq(kf_srctar_extract("", 0, dest, NULL, err), KF_EINVAL);
    cr_expect_eq(count_entries(dest), 0);
    assert_nothing_outside("corrupt");
    kf_buf_free(&tgz);
    kf_buf_free(&tar);
}

Test(srctar, destination_must_be_empty)
{
    struct kf_buf tar;
    build(&tar, 0, module_tree);
    char err[KF_ERRLEN] = "", path[256];
    snprintf(path, sizeof path, "%s/keep", dest);
    cr_assert_eq(mkdir(path, 0755), 0);
    cr_expect_eq(kf_srctar_extract(tar.data, tar.len, dest, NULL, err), KF_EINTERNAL, "%s", err);
    cr_expect_eq(access(path, F_OK), 0, "an existing tree is never cleared");
    snprintf(path, sizeof path, "%s/missing", outer);
    cr_expect_eq(kf_srctar_extract(tar.data, tar.len, path, NULL, err), KF_ENOTFOUND, "%s", err);
    kf_buf_free(&tar);
}

/* Deeper than the descriptor limit, read-only directories, and a symlink
 * to the sentinel directory that must not be followed. */
Test(srctar, clear_dir)
{
    int fd = open(dest, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(fd, 0);
    for (int i = 0; i < 1500; i++) {
        cr_assert_eq(mkdirat(fd, "d", 0755), 0);
        int fd2 = openat(fd, "d", O_RDONLY | O_DIRECTORY);
        cr_assert_geq(fd2, 0);
        int f = openat(fd, "file", O_WRONLY | O_CREAT, 0644);
        cr_assert_geq(f, 0);
        close(f);
        if (i == 700) {
            cr_assert_eq(symlinkat(outer, fd, "escape"), 0);
            cr_assert_eq(fchmod(fd, 0555), 0);
        }
        close(fd);
        fd = fd2;
    }
    close(fd);
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_srctar_clear_dir(dest, err), 0, "%s", err);
    cr_expect_eq(count_entries(dest), 0);
    assert_nothing_outside("clear");
    cr_expect_eq(kf_srctar_clear_dir("/nonexistent/kofarm", err), KF_ENOTFOUND);
}

/* A pax header naming a 900 KiB path (libarchive itself stops at 1 MiB):
 * it is buffered whole, so the cap must hold on the stream libarchive reads,
 * not only on file data. */
Test(srctar, giant_header)
{
    size_t big = (size_t)900 << 10;
    char *name = malloc(big + 1);
    cr_assert_not_null(name);
    memset(name, 'a', big);
    name[big] = 0;
    struct archive *a;
    struct kf_buf out;
    start_archive(&a, &out, 1);
    struct ent e = {'f', name, "x", 0};
    add_entry(a, &e, "x", 1);
    finish_archive(a);
    free(name);
    struct kf_srctar_limits lim = {.max_bytes = 256 << 10};
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_srctar_extract(out.data, out.len, dest, &lim, err), KF_ETOOBIG, "%s", err);
    cr_expect_str_eq(err, "archive: more than 262144 bytes uncompressed");
    lim.max_bytes = 0; /* under the default cap: refused for its length instead */
    cr_expect_eq(kf_srctar_extract(out.data, out.len, dest, &lim, err), KF_EINVAL, "%s", err);
    cr_expect(strstr(err, "path longer than 4096 bytes") != NULL, "%s", err);
    cr_expect_eq(count_entries(dest), 0);
    kf_buf_free(&out);
}

struct link_case {
    const char *path;
    const char *target;
    int ok;
};

static const struct link_case link_cases[] = {
    {"a", "b", 1},
    {"a", "./b/c", 1},
    {"a", ".", 1},
    {"d/a", "..", 1},
    {"d/e/a", "../../x", 1},
    {"./d//a", "../x", 1},
    {"d/a", "../d/../x", 0}, /* ".." after a normal component */
    {"d/a", "x/..", 0},
    {"a", "..", 0},
    {"d/a", "../..", 0},
    {"a", "/etc/passwd", 0},
    {"a", "", 0},
    {"../a", "b", 0},
    {"/a", "b", 0},
    {"", "b", 0},
    {".", "b", 0},
};

Test(srctar, symlink_ok_table)
{
    for (size_t i = 0; i < sizeof link_cases / sizeof link_cases[0]; i++) {
        const struct link_case *c = &link_cases[i];
        cr_expect_eq(kf_srctar_symlink_ok(c->path, c->target), c->ok, "%s -> %s", c->path, c->target);
    }
    cr_expect_eq(kf_srctar_symlink_ok(NULL, "x"), 0);
    cr_expect_eq(kf_srctar_symlink_ok("x", NULL), 0);
}

/* The dry run gives extraction's answer, word for word, and writes nothing. */
static void expect_check_agrees(const struct kf_buf *b, size_t len, const struct kf_srctar_limits *lim,
                                const char *what)
{
    char err[KF_ERRLEN] = "", check_err[KF_ERRLEN] = "";
    int check_rc = kf_srctar_check(b->data, len, lim, check_err);
    cr_expect_eq(count_entries(dest), 0, "%s: check wrote into dest", what);
    int rc = kf_srctar_extract(b->data, len, dest, lim, err);
    cr_expect_eq(check_rc, rc, "%s: check %d (%s), extract %d (%s)", what, check_rc, check_err, rc, err);
    cr_expect_str_eq(check_err, err, "%s", what);
    char clear_err[KF_ERRLEN];
    cr_assert_eq(kf_srctar_clear_dir(dest, clear_err), 0, "%s", clear_err);
}

static const struct ent replace_cases[] = {
    {'f', "a/f", "one", 0}, {'f', "a/f", "two", 0},      {'l', "a/l", "f", 0}, {'f', "a/l", "now a file", 0},
    {'h', "a/h", "a/f", 0}, {'h', "a/h", "a/f", 0},      {'d', "a/", NULL, 0}, {'d', "./", NULL, 0},
    {'f', ".git/config", "[core]", 0}, {'f', "x/.git", "gitdir: /etc", 0}, {0, NULL, NULL, 0},
};

Test(srctar, check_agrees_with_extract)
{
    struct kf_buf b;
    build(&b, 1, module_tree);
    expect_check_agrees(&b, b.len, NULL, "module tree");
    expect_check_agrees(&b, b.len / 2, NULL, "truncated");
    kf_buf_free(&b);
    build(&b, 0, replace_cases);
    expect_check_agrees(&b, b.len, NULL, "replacements");
    expect_check_agrees(&b, 700, NULL, "truncated tar");
    b.data[600] ^= 0x55;
    expect_check_agrees(&b, b.len, NULL, "bad checksum");
    kf_buf_free(&b);

    struct archive *a;
    start_archive(&a, &b, 0);
    static char chunk[100000];
    memset(chunk, 'a', sizeof chunk);
    for (int i = 0; i < 12; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        struct ent e = {'f', name, NULL, 0};
        add_entry(a, &e, chunk, sizeof chunk);
    }
    finish_archive(a);
    struct kf_srctar_limits lim = {.max_bytes = 1000000};
    expect_check_agrees(&b, b.len, &lim, "total size");
    lim = (struct kf_srctar_limits){.max_entries = 5};
    expect_check_agrees(&b, b.len, &lim, "entries");
    kf_buf_free(&b);

    char garbage[4096];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (char)(i * 7919 + 13);
    struct kf_buf g = {.data = (unsigned char *)garbage, .len = sizeof garbage};
    expect_check_agrees(&g, g.len, NULL, "garbage");
    char err[KF_ERRLEN];
    cr_expect_eq(kf_srctar_check("", 0, NULL, err), KF_EINVAL);
}

/* Many entries deep in one tree: the in-memory tree stays linear. */
Test(srctar, check_many_entries)
{
    struct archive *a;
    struct kf_buf b;
    start_archive(&a, &b, 1);
    for (int i = 0; i < 20000; i++) {
        char name[64];
        snprintf(name, sizeof name, "d%d/e%d/f%d", i % 50, i % 7, i);
        struct ent e = {'f', name, "x", 0};
        add_entry(a, &e, "x", 1);
    }
    finish_archive(a);
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_srctar_check(b.data, b.len, NULL, err), KF_OK, "%s", err);
    kf_buf_free(&b);
}
