/* Packing module directories for upload: what goes in (and what is left
 * out), byte-for-byte determinism, fixed headers, limits, and a round trip
 * through the worker's own extractor (kf_srctar_extract). */
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
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "srcpack.h"
#include "srctar.h"

static char outer[64];

static void setup(void)
{
    snprintf(outer, sizeof outer, "/tmp/kf-test-srcpack-XXXXXX");
    cr_assert_not_null(mkdtemp(outer));
}

static void teardown(void)
{
    char err[KF_ERRLEN] = "";
    if (!outer[0])
        return;
    cr_expect_eq(kf_srctar_clear_dir(outer, err), 0, "%s", err);
    cr_expect_eq(rmdir(outer), 0, "%s", strerror(errno));
}

TestSuite(srcpack, .init = setup, .fini = teardown);

static const char *at(const char *rel)
{
    static char path[8][1024];
    static int slot;
    slot = (slot + 1) % 8;
    cr_assert_lt(snprintf(path[slot], sizeof path[slot], "%s/%s", outer, rel), (int)sizeof path[slot]);
    return path[slot];
}

static void mkdirs(const char *rel)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", rel);
    for (char *p = tmp; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(at(tmp), 0755);
            *p = '/';
        }
    }
    mkdir(at(tmp), 0755);
}

static void put(const char *rel, const char *content, mode_t mode)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", rel);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        mkdirs(dir);
    }
    int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0, "%s: %s", rel, strerror(errno));
    cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    cr_assert_eq(chmod(at(rel), mode), 0);
}

static void link_to(const char *rel, const char *target)
{
    cr_assert_eq(symlink(target, at(rel)), 0, "%s: %s", rel, strerror(errno));
}

static int pack(const char *rel_root, const struct kf_srcpack_limits *lim, struct kf_buf *out, char *err)
{
    kf_buf_init(out, 0);
    err[0] = 0;
    return kf_srcpack_dir(at(rel_root), lim, out, NULL, err);
}

/* Packs rel_root and extracts it into rel_dest with the worker's extractor. */
static void roundtrip(const char *rel_root, const char *rel_dest)
{
    struct kf_buf tgz;
    char err[KF_ERRLEN];
    cr_assert_eq(pack(rel_root, NULL, &tgz, err), KF_OK, "%s", err);
    mkdirs(rel_dest);
    cr_assert_eq(kf_srctar_extract(tgz.data, tgz.len, at(rel_dest), NULL, err), KF_OK, "%s", err);
    kf_buf_free(&tgz);
}

/* One line per entry under dir, sorted: "d path", "f path mode content", "l path -> target". */
static void listing(const char *dir, const char *prefix, struct kf_buf *out)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            cr_assert_lt(n, 256);
            names[n++] = strdup(de->d_name);
        }
    closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        char path[1024], rel[1024];
        cr_assert_lt(snprintf(path, sizeof path, "%s/%s", dir, names[i]), (int)sizeof path);
        cr_assert_lt(snprintf(rel, sizeof rel, "%s%s", prefix, names[i]), (int)sizeof rel);
        struct stat st;
        cr_assert_eq(lstat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            cr_assert_eq(kf_buf_appendf(out, "d %s\n", rel), 0);
            char sub[1024];
            cr_assert_lt(snprintf(sub, sizeof sub, "%s/", rel), (int)sizeof sub);
            listing(path, sub, out);
        } else if (S_ISLNK(st.st_mode)) {
            char target[1024] = "";
            ssize_t len = readlink(path, target, sizeof target - 1);
            cr_assert_geq(len, 0);
            target[len] = 0;
            cr_assert_eq(kf_buf_appendf(out, "l %s -> %s\n", rel, target), 0);
        } else {
            struct kf_buf content;
            char err[KF_ERRLEN];
            kf_buf_init(&content, 1 << 20);
            cr_assert_eq(kf_buf_read_file(&content, path, err), 0, "%s", err);
            cr_assert_eq(kf_buf_appendf(out, "f %s %s %s\n", rel, (st.st_mode & 0111) ? "x" : "-",
                                        content.len ? (char *)content.data : ""), 0);
            kf_buf_free(&content);
        }
        free(names[i]);
    }
}

static char *list_tree(const char *rel)
{
    struct kf_buf b;
    kf_buf_init(&b, 0);
    listing(at(rel), "", &b);
    size_t len;
    char *s = (char *)kf_buf_steal(&b, &len);
    return s ? s : strdup("");
}

/* A module with everything the packer must handle. */
static void make_module(const char *root)
{
    char p[512];
#define AT(rel) (snprintf(p, sizeof p, "%s/%s", root, rel), p)
    put(AT("go.mod"), "module example.com/m\n", 0644);
    put(AT("cmd/app/main.go"), "package main\n", 0644);
    put(AT("cmd/app/kodata/run.sh"), "#!/bin/sh\n", 0751);
    put(AT("pkg/build/build.go"), "package build\n", 0644); /* only the top build/ is left out */
    put(AT("empty.txt"), "", 0600);
    mkdirs(AT("emptydir"));
    put(AT(".git/HEAD"), "ref: refs/heads/main\n", 0644);
    put(AT(".git/config"), "[core]\n", 0644);
    put(AT("third_party/sub/.git"), "gitdir: ../../.git/modules/sub\n", 0644);
    put(AT("third_party/sub/x.go"), "package sub\n", 0644);
    put(AT("build/bin/kofarm"), "ELF\n", 0755);
    link_to(AT("cmd/app/kodata/link"), "../main.go");
    link_to(AT("latest"), "cmd/app");
    cr_assert_eq(mkfifo(at(AT("pipe")), 0644), 0);
#undef AT
}

static const char module_listing[] =
    "d cmd\n"
    "d cmd/app\n"
    "d cmd/app/kodata\n"
    "l cmd/app/kodata/link -> ../main.go\n"
    "f cmd/app/kodata/run.sh x #!/bin/sh\n\n"
    "f cmd/app/main.go - package main\n\n"
    "f empty.txt - \n"
    "d emptydir\n"
    "f go.mod - module example.com/m\n\n"
    "l latest -> cmd/app\n"
    "d pkg\n"
    "d pkg/build\n"
    "f pkg/build/build.go - package build\n\n"
    "d third_party\n"
    "d third_party/sub\n"
    "f third_party/sub/x.go - package sub\n\n";

Test(srcpack, roundtrip_keeps_the_tree_and_leaves_out_git_build_and_specials)
{
    make_module("src");
    roundtrip("src", "dst");
    char *got = list_tree("dst");
    cr_assert_str_eq(got, module_listing);
    free(got);
}

Test(srcpack, entries_are_sorted_with_fixed_headers)
{
    make_module("src");
    struct kf_buf tgz;
    char err[KF_ERRLEN];
    size_t n_entries = 0;
    kf_buf_init(&tgz, 0);
    cr_assert_eq(kf_srcpack_dir(at("src"), NULL, &tgz, &n_entries, err), KF_OK, "%s", err);
    cr_assert_eq(n_entries, 16);
    /* A plain gzip header: no name flag, mtime 0. */
    cr_assert_eq(tgz.data[0], 0x1f);
    cr_assert_eq(tgz.data[1], 0x8b);
    cr_assert_eq(tgz.data[3] & 0x08, 0);
    cr_assert_eq(tgz.data[4] | tgz.data[5] | tgz.data[6] | tgz.data[7], 0);

    static const char *const want[] = {
        "cmd/", "cmd/app/", "cmd/app/kodata/", "cmd/app/kodata/link", "cmd/app/kodata/run.sh",
        "cmd/app/main.go", "empty.txt", "emptydir/", "go.mod", "latest", "pkg/", "pkg/build/",
        "pkg/build/build.go", "third_party/", "third_party/sub/", "third_party/sub/x.go",
    };
    struct archive *a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    cr_assert_eq(archive_read_open_memory(a, tgz.data, tgz.len), ARCHIVE_OK);
    struct archive_entry *e;
    size_t i = 0;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        cr_assert_lt(i, sizeof want / sizeof want[0]);
        const char *name = archive_entry_pathname(e);
        cr_assert_str_eq(name, want[i], "entry %zu", i);
        cr_assert_eq(archive_entry_mtime(e), 0, "%s", name);
        cr_assert_eq(archive_entry_uid(e), 0);
        cr_assert_eq(archive_entry_gid(e), 0);
        const char *uname = archive_entry_uname(e), *gname = archive_entry_gname(e);
        cr_assert(!uname || !*uname, "%s: uname %s", name, uname);
        cr_assert(!gname || !*gname, "%s: gname %s", name, gname);
        unsigned perm = archive_entry_perm(e);
        switch (archive_entry_filetype(e)) {
        case AE_IFDIR: cr_assert_eq(perm, 0755, "%s", name); break;
        case AE_IFLNK: break;
        case AE_IFREG:
            cr_assert_eq(perm, strcmp(name, "cmd/app/kodata/run.sh") == 0 ? 0755u : 0644u, "%s %o", name, perm);
            break;
        default: cr_assert_fail("%s: unexpected type", name);
        }
        i++;
    }
    cr_assert_eq(i, 16);
    archive_read_free(a);
    kf_buf_free(&tgz);
}

Test(srcpack, same_tree_same_bytes_whatever_the_times_and_creation_order)
{
    make_module("one");
    struct kf_buf first, again, other;
    char err[KF_ERRLEN];
    cr_assert_eq(pack("one", NULL, &first, err), KF_OK, "%s", err);
    cr_assert_eq(pack("one", NULL, &again, err), KF_OK, "%s", err);
    cr_assert_eq(first.len, again.len);
    cr_assert_eq(memcmp(first.data, again.data, first.len), 0);

    /* The same tree built in another order, other times and permissions
     * that differ only outside the x bits. */
    put("two/third_party/sub/x.go", "package sub\n", 0600);
    mkdirs("two/emptydir");
    put("two/pkg/build/build.go", "package build\n", 0640);
    link_to("two/latest", "cmd/app");
    put("two/cmd/app/main.go", "package main\n", 0664);
    put("two/cmd/app/kodata/run.sh", "#!/bin/sh\n", 0700);
    link_to("two/cmd/app/kodata/link", "../main.go");
    put("two/go.mod", "module example.com/m\n", 0644);
    put("two/empty.txt", "", 0644);
    struct timeval tv[2] = {{1234567890, 0}, {1234567890, 0}};
    cr_assert_eq(utimes(at("two/go.mod"), tv), 0);
    cr_assert_eq(utimes(at("two/cmd"), tv), 0);
    cr_assert_eq(pack("two", NULL, &other, err), KF_OK, "%s", err);
    cr_assert_eq(first.len, other.len);
    cr_assert_eq(memcmp(first.data, other.data, first.len), 0, "another tree with the same content differs");

    /* ...while a change in content, an x bit or a link target shows. */
    kf_buf_free(&other);
    put("two/go.mod", "module example.com/n\n", 0644);
    cr_assert_eq(pack("two", NULL, &other, err), KF_OK, "%s", err);
    cr_assert(first.len != other.len || memcmp(first.data, other.data, first.len) != 0);
    kf_buf_free(&other);
    put("two/go.mod", "module example.com/m\n", 0755);
    cr_assert_eq(pack("two", NULL, &other, err), KF_OK, "%s", err);
    cr_assert(first.len != other.len || memcmp(first.data, other.data, first.len) != 0);
    kf_buf_free(&first);
    kf_buf_free(&again);
    kf_buf_free(&other);
}

Test(srcpack, kofarmignore_leaves_out_what_it_matches)
{
    put("m/go.mod", "module m\n", 0644);
    put("m/.kofarmignore",
        "# comment\n"
        "\n"
        "*.log   \n"
        "!keep.log\n"
        "/secret/\n"
        "docs/*.png\n"
        "tmp/\n"
        "**/gen/**\n"
        "/only-top.txt\r\n",
        0644);
    put("m/a.log", "x", 0644);
    put("m/keep.log", "kept", 0644);
    put("m/sub/b.log", "x", 0644);
    put("m/secret/key", "x", 0644);
    put("m/sub/secret/key", "nested secret dir is not anchored: kept", 0644);
    put("m/docs/a.png", "x", 0644);
    put("m/docs/a.md", "doc", 0644);
    put("m/docs/deep/b.png", "slash-anchored glob does not cross dirs", 0644);
    put("m/tmp", "tmp as a file stays (dir-only pattern)", 0644);
    put("m/x/tmp/y", "x", 0644);
    put("m/a/gen/z.go", "x", 0644);
    put("m/only-top.txt", "x", 0644);
    put("m/sub/only-top.txt", "kept", 0644);
    roundtrip("m", "out");
    char *got = list_tree("out");
    cr_assert_str_eq(got,
                     "f .kofarmignore - # comment\n\n*.log   \n!keep.log\n/secret/\ndocs/*.png\ntmp/\n**/gen/**\n"
                     "/only-top.txt\r\n\n"
                     "d a\n"
                     "d a/gen\n"
                     "d docs\n"
                     "f docs/a.md - doc\n"
                     "d docs/deep\n"
                     "f docs/deep/b.png - slash-anchored glob does not cross dirs\n"
                     "f go.mod - module m\n\n"
                     "f keep.log - kept\n"
                     "d sub\n"
                     "f sub/only-top.txt - kept\n"
                     "d sub/secret\n"
                     "f sub/secret/key - nested secret dir is not anchored: kept\n"
                     "f tmp - tmp as a file stays (dir-only pattern)\n"
                     "d x\n");
    free(got);
}

Test(srcpack, an_ignored_escaping_symlink_is_fine_an_included_one_is_refused)
{
    put("m/go.mod", "module m\n", 0644);
    link_to("m/out", "../../etc/passwd");
    struct kf_buf tgz;
    char err[KF_ERRLEN];
    cr_assert_eq(pack("m", NULL, &tgz, err), KF_EINVAL);
    cr_assert(strstr(err, "out -> ../../etc/passwd"), "%s", err);
    cr_assert_eq(tgz.len, 0, "nothing appended on error");
    kf_buf_free(&tgz);

    put("m/.kofarmignore", "out\n", 0644);
    cr_assert_eq(pack("m", NULL, &tgz, err), KF_OK, "%s", err);
    kf_buf_free(&tgz);

    link_to("m/abs", "/etc/passwd");
    cr_assert_eq(pack("m", NULL, &tgz, err), KF_EINVAL);
    cr_assert(strstr(err, "abs -> /etc/passwd"), "%s", err);
    kf_buf_free(&tgz);
}

Test(srcpack, limits)
{
    put("m/go.mod", "module m\n", 0644);
    char big[8192];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    put("m/big.txt", big, 0644);
    struct kf_buf tgz;
    char err[KF_ERRLEN];
    struct kf_srcpack_limits lim = {.max_bytes = 4096};
    cr_assert_eq(pack("m", &lim, &tgz, err), KF_ETOOBIG);
    cr_assert(strstr(err, ".kofarmignore"), "the message says how to fix it: %s", err);
    kf_buf_free(&tgz);

    struct kf_srcpack_limits few = {.max_entries = 1};
    cr_assert_eq(pack("m", &few, &tgz, err), KF_ETOOBIG);
    cr_assert(strstr(err, "more than 1 files"), "%s", err);
    kf_buf_free(&tgz);

    struct kf_srcpack_limits enough = {.max_entries = 2, .max_bytes = 64 << 10};
    cr_assert_eq(pack("m", &enough, &tgz, err), KF_OK, "%s", err);
    kf_buf_free(&tgz);

    /* The caller's buffer cap bounds the compressed output. */
    kf_buf_init(&tgz, 16);
    cr_assert_eq(kf_srcpack_dir(at("m"), NULL, &tgz, NULL, err), KF_ETOOBIG);
    cr_assert_eq(tgz.len, 0);
    kf_buf_free(&tgz);

    put("m/.kofarmignore", "", 0644);
    char *huge = malloc(KF_SRCPACK_IGNORE_MAX + 2);
    memset(huge, '#', KF_SRCPACK_IGNORE_MAX + 1);
    huge[KF_SRCPACK_IGNORE_MAX + 1] = 0;
    put("m/.kofarmignore", huge, 0644);
    free(huge);
    cr_assert_eq(pack("m", NULL, &tgz, err), KF_ETOOBIG);
    cr_assert(strstr(err, ".kofarmignore"), "%s", err);
    kf_buf_free(&tgz);
}

Test(srcpack, long_names_roundtrip)
{
    char rel[600];
    int n = snprintf(rel, sizeof rel, "m/");
    for (int i = 0; i < 6; i++)
        n += snprintf(rel + n, sizeof rel - (size_t)n, "directory-with-a-long-name-%02d/", i);
    snprintf(rel + n, sizeof rel - (size_t)n, "and-a-file-name-that-is-long-too.go");
    put("m/go.mod", "module m\n", 0644);
    put(rel, "package x\n", 0644);
    roundtrip("m", "out");
    char path[700];
    snprintf(path, sizeof path, "out/%s", rel + 2);
    struct stat st;
    cr_assert_eq(stat(at(path), &st), 0, "%s", path);
    cr_assert_eq(st.st_size, 10);
}

Test(srcpack, root_must_be_a_directory)
{
    struct kf_buf tgz;
    char err[KF_ERRLEN];
    cr_assert_eq(pack("nothing-here", NULL, &tgz, err), KF_ENOTFOUND);
    put("file", "x", 0644);
    cr_assert_eq(pack("file", NULL, &tgz, err), KF_ENOTFOUND);
    cr_assert(strstr(err, "not a directory"), "%s", err);
    kf_buf_free(&tgz);
}

Test(srcpack_glob, table)
{
    static const struct {
        const char *pattern, *str;
        int match;
    } cases[] = {
        {"*.log", "a.log", 1},         {"*.log", "a.log.1", 0},       {"*.log", "dir/a.log", 0},
        {"a?c", "abc", 1},             {"a?c", "a/c", 0},             {"[a-c]x", "bx", 1},
        {"[a-c]x", "dx", 0},           {"[!a-c]x", "dx", 1},          {"[!a-c]x", "ax", 0},
        {"[^a]x", "bx", 1},            {"[]]x", "]x", 1},             {"[ab", "[ab", 1},
        {"a\\*b", "a*b", 1},          {"a\\*b", "axb", 0},          {"**/x", "x", 1},
        {"**/x", "a/b/x", 1},          {"**/x", "a/bx", 0},           {"a/**", "a/b/c", 1},
        {"a/**", "b/a/c", 0},          {"a/**/z", "a/z", 1},          {"a/**/z", "a/b/c/z", 1},
        {"a/**/z", "a/b/c/zz", 0},     {"docs/*.png", "docs/a.png", 1}, {"docs/*.png", "docs/d/a.png", 0},
        {"*", "", 1},                  {"", "", 1},                   {"", "a", 0},
        {"*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaa", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(kf_srcpack_glob(cases[i].pattern, cases[i].str), cases[i].match, "glob(\"%s\", \"%s\")",
                     cases[i].pattern, cases[i].str);
}

Test(srcpack_ignore, rules)
{
    static const char text[] = "*.tmp\n!/important.tmp\nout/\n/root-only\nvendor/**/testdata/\n\\#hash\n!\n/\n";
    struct kf_srcpack_ignore *ig = NULL;
    char err[KF_ERRLEN];
    cr_assert_eq(kf_srcpack_ignore_parse(text, sizeof text - 1, &ig, err), KF_OK, "%s", err);
    static const struct {
        const char *path;
        int is_dir, excluded;
    } cases[] = {
        {"a.tmp", 0, 1},          {"d/a.tmp", 0, 1},          {"important.tmp", 0, 0},
        {"d/important.tmp", 0, 1}, {"out", 1, 1},             {"out", 0, 0},
        {"d/out", 1, 1},           {"root-only", 0, 1},       {"d/root-only", 0, 0},
        {"vendor/x/testdata", 1, 1}, {"vendor/testdata", 1, 1}, {"#hash", 0, 1},
        {"main.go", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(kf_srcpack_ignore_match(ig, cases[i].path, cases[i].is_dir), cases[i].excluded, "%s",
                     cases[i].path);
    kf_srcpack_ignore_free(ig);
    cr_assert_eq(kf_srcpack_ignore_match(NULL, "a.tmp", 0), 0);

    static const char nul[] = "a\0b\n";
    cr_assert_eq(kf_srcpack_ignore_parse(nul, sizeof nul - 1, &ig, err), KF_EINVAL);
    cr_assert_null(ig);
    char long_line[1100];
    memset(long_line, 'x', sizeof long_line - 1);
    long_line[sizeof long_line - 1] = 0;
    cr_assert_eq(kf_srcpack_ignore_parse(long_line, strlen(long_line), &ig, err), KF_ETOOBIG);
    cr_assert_null(ig);
}
