/* tar.c against Go 1.19's archive/tar: exact header bytes, long names,
 * PAX records, the trailer and refused inputs. Golden values were produced
 * by Go's tar.Writer with the same headers. */
#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "digest.h"
#include "tar.h"

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    cr_assert_not_null(s);
    memset(s, c, n);
    s[n] = 0;
    return s;
}

/* Data written by the Go generator: byte i is i*7. */
static void write_pattern(struct kf_tar *tw, long long size)
{
    char err[KF_ERRLEN];
    for (long long i = 0; i < size; i++) {
        unsigned char c = (unsigned char)(i * 7);
        cr_assert_eq(kf_tar_write(tw, &c, 1, err), 0, "%s", err);
    }
}

static void add(struct kf_tar *tw, const char *name, char type, long long size, int has_mtime, long long mtime)
{
    char err[KF_ERRLEN];
    struct kf_tar_entry e = {.name = name, .typeflag = type, .mode = 0555, .size = size,
                             .has_mtime = has_mtime, .mtime = mtime};
    cr_assert_eq(kf_tar_write_header(tw, &e, err), 0, "%s: %s", name, err);
    if (type == KF_TAR_REG)
        write_pattern(tw, size);
}

static void expect_field(const unsigned char *blk, size_t off, const char *want, size_t len)
{
    cr_expect_eq(memcmp(blk + off, want, len), 0, "field at %zu: want %.*s", off, (int)len, want);
}

Test(tar, dir_header_bytes_match_go)
{
    struct kf_buf b;
    struct kf_tar tw;
    char err[KF_ERRLEN];
    kf_buf_init(&b, 0);
    kf_tar_init(&tw, &b);
    add(&tw, "ko-app", KF_TAR_DIR, 0, 0, 0);
    cr_assert_eq(b.len, 512);
    const unsigned char *h = b.data;
    expect_field(h, 0, "ko-app\0", 7);
    expect_field(h, 100, "0000555\0", 8);
    expect_field(h, 108, "0000000\0", 8);
    expect_field(h, 116, "0000000\0", 8);
    expect_field(h, 124, "00000000000\0", 12);
    expect_field(h, 136, "00000000000\0", 12); /* zero time is written as 1970 */
    expect_field(h, 148, "010313\0 ", 8);
    expect_field(h, 156, "5", 1);
    expect_field(h, 257, "ustar\0" "00", 8);
    expect_field(h, 265, "\0", 1);               /* no user name */
    expect_field(h, 329, "0000000\0" "0000000\0", 16); /* devmajor, devminor */
    for (size_t i = 345; i < 512; i++)
        cr_expect_eq(h[i], 0);
    cr_assert_eq(kf_tar_close(&tw, err), 0, "%s", err);
    cr_expect_eq(b.len, 512 * 3, "two zero blocks end it, no padding to 10240");
    for (size_t i = 512; i < b.len; i++)
        cr_expect_eq(b.data[i], 0);
    kf_buf_free(&b);
}

Test(tar, file_and_mtime_bytes_match_go)
{
    struct kf_buf b;
    struct kf_tar tw;
    kf_buf_init(&b, 0);
    kf_tar_init(&tw, &b);
    add(&tw, "/ko-app/app", KF_TAR_REG, 5, 0, 0);
    cr_assert_eq(b.len, 512 + 5);
    expect_field(b.data, 124, "00000000005\0", 12);
    expect_field(b.data, 148, "011152\0 ", 8);
    expect_field(b.data, 156, "0", 1);
    add(&tw, "/var", KF_TAR_DIR, 0, 1, 1700000000);
    cr_assert_eq(b.len, 1024 + 512, "data padded to a block before the next header");
    expect_field(b.data + 1024, 136, "14524770400\0", 12);
    expect_field(b.data + 1024, 148, "010035\0 ", 8);
    kf_buf_free(&b);
}

Test(tar, long_names_split_into_ustar_prefix)
{
    struct kf_buf b;
    struct kf_tar tw;
    kf_buf_init(&b, 0);
    kf_tar_init(&tw, &b);
    char *d = repeat('d', 60), *e = repeat('e', 60);
    char name[256];
    snprintf(name, sizeof name, "/var/run/ko/%s/%s", d, e); /* 133 bytes */
    add(&tw, name, KF_TAR_DIR, 0, 1, 1700000000);
    cr_assert_eq(b.len, 512, "a splittable name needs no PAX header");
    cr_expect_eq(memcmp(b.data, e, 60), 0);
    cr_expect_eq(b.data[60], 0);
    cr_expect_eq(memcmp(b.data + 345, name, 72), 0, "prefix is everything before the last usable slash");
    cr_expect_eq(b.data[345 + 72], 0);
    free(d);
    free(e);
    kf_buf_free(&b);
}

Test(tar, non_ascii_name_gets_pax_record)
{
    struct kf_buf b;
    struct kf_tar tw;
    kf_buf_init(&b, 0);
    kf_tar_init(&tw, &b);
    add(&tw, "/var/run/ko/\xc3\xa9.txt", KF_TAR_REG, 1, 0, 0);
    cr_assert_eq(b.len, 512 * 3 + 1);
    const unsigned char *x = b.data;
    expect_field(x, 0, "/var/run/ko/PaxHeaders.0/.txt\0", 30);
    expect_field(x, 124, "00000000033\0", 12); /* 27 bytes of records */
    expect_field(x, 156, "x", 1);
    expect_field(x, 329, "\0", 1);             /* Go's raw PAX header has no devmajor */
    expect_field(x + 512, 0, "27 path=/var/run/ko/\xc3\xa9.txt\n", 27);
    for (size_t i = 512 + 27; i < 1024; i++)
        cr_expect_eq(x[i], 0);
    expect_field(x + 1024, 0, "/var/run/ko/.txt\0", 17);
    expect_field(x + 1024, 257, "ustar\0" "00", 8);
    kf_buf_free(&b);
}

Test(tar, mtime_out_of_octal_range_gets_pax_record)
{
    struct kf_buf b;
    struct kf_tar tw;
    kf_buf_init(&b, 0);
    kf_tar_init(&tw, &b);
    add(&tw, "big", KF_TAR_REG, 0, 1, 8589934592LL);
    expect_field(b.data, 0, "PaxHeaders.0/big\0", 17);
    expect_field(b.data + 512, 0, "20 mtime=8589934592\n", 20);
    expect_field(b.data + 1024, 136, "00000000000\0", 12);
    kf_buf_reset(&b);
    kf_tar_init(&tw, &b);
    add(&tw, "neg", KF_TAR_REG, 0, 1, -5);
    expect_field(b.data + 512, 0, "12 mtime=-5\n", 12);
    kf_buf_reset(&b);
    kf_tar_init(&tw, &b);
    add(&tw, "zero", KF_TAR_REG, 0, 1, -62135596800LL); /* Go's zero time itself */
    cr_expect_eq(b.len, 512, "Go's zero time is written as 0 in USTAR");
    kf_buf_free(&b);
}

/* An archive mixing every case, hashed: Go wrote the same bytes. */
Test(tar, whole_archive_matches_go)
{
    struct kf_buf b;
    struct kf_tar tw;
    char err[KF_ERRLEN], digest[KF_DIGEST_LEN], name[512];
    kf_buf_init(&b, 0);
    kf_tar_init(&tw, &b);
    char *d60 = repeat('d', 60), *e60 = repeat('e', 60), *f120 = repeat('f', 120), *x100 = repeat('x', 100),
         *a155 = repeat('a', 155), *b100 = repeat('b', 100);
    add(&tw, "ko-app", KF_TAR_DIR, 0, 0, 0);
    add(&tw, "/ko-app/app", KF_TAR_REG, 5, 0, 0);
    snprintf(name, sizeof name, "/var/run/ko/%s/%s", d60, e60);
    add(&tw, name, KF_TAR_DIR, 0, 1, 1700000000);
    snprintf(name, sizeof name, "/var/run/ko/%s/%s/%s", d60, e60, f120);
    add(&tw, name, KF_TAR_REG, 700, 1, 1700000000);
    add(&tw, "/var/run/ko/\xc3\xa9.txt", KF_TAR_REG, 1, 0, 0);
    add(&tw, x100, KF_TAR_DIR, 0, 0, 0);
    add(&tw, "/var/run/ko/big-mtime", KF_TAR_REG, 0, 1, 8589934592LL);
    add(&tw, "/var/run/ko/neg", KF_TAR_REG, 3, 1, -5);
    snprintf(name, sizeof name, "%s/%s", a155, b100);
    add(&tw, name, KF_TAR_DIR, 0, 0, 0);
    cr_assert_eq(kf_tar_close(&tw, err), 0, "%s", err);
    cr_expect_eq(b.len, 12288);
    kf_sha256_digest(b.data, b.len, digest);
    cr_expect_str_eq(digest, "sha256:fcbacf411cf9fa266f3a4a1df097c2bc014006b0ba0d1ca5e4f179f0f5a3d219");
    free(d60);
    free(e60);
    free(f120);
    free(x100);
    free(a155);
    free(b100);
    kf_buf_free(&b);
}

struct bad_case {
    const char *name;
    char type;
    long long mode, size;
    int rc;
};

Test(tar, refuses_what_go_refuses)
{
    static const struct bad_case cases[] = {
        {"dir/", KF_TAR_REG, 0555, 0, KF_EINVAL},        /* file name with a trailing slash */
        {"f", KF_TAR_REG, 0555, -1, KF_EINVAL},          /* negative size */
        {"d", KF_TAR_DIR, 0555, 3, KF_EINVAL},           /* a directory holds no data */
        {"f", KF_TAR_REG, 010000000, 0, KF_EINVAL},      /* mode beyond 7 octal digits */
        {"f", KF_TAR_REG, -1, 0, KF_EINVAL},
        {"l", KF_TAR_SYMLINK, 0777, 0, KF_EINVAL},       /* a symlink needs a target */
        {"h", '1', 0777, 0, KF_EUNSUPPORTED},            /* hard links are never written */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct kf_buf b;
        struct kf_tar tw;
        char err[KF_ERRLEN] = "";
        kf_buf_init(&b, 0);
        kf_tar_init(&tw, &b);
        struct kf_tar_entry e = {.name = cases[i].name, .typeflag = cases[i].type, .mode = cases[i].mode,
                                 .size = cases[i].size};
        cr_expect_eq(kf_tar_write_header(&tw, &e, err), cases[i].rc, "case %zu", i);
        cr_expect_neq(err[0], 0, "case %zu explains itself", i);
        cr_expect_eq(b.len, 0, "case %zu wrote nothing", i);
        kf_buf_free(&b);
    }
}

Test(tar, data_must_match_the_declared_size)
{
    struct kf_buf b;
    struct kf_tar tw;
    char err[KF_ERRLEN];
    kf_buf_init(&b, 0);
    kf_tar_init(&tw, &b);
    struct kf_tar_entry e = {.name = "f", .typeflag = KF_TAR_REG, .mode = 0555, .size = 4};
    cr_assert_eq(kf_tar_write_header(&tw, &e, err), 0);
    cr_expect_eq(kf_tar_write(&tw, "12345", 5, err), KF_EINVAL, "more than the size");
    cr_assert_eq(kf_tar_write(&tw, "12", 2, err), 0);
    cr_expect_neq(kf_tar_write_header(&tw, &e, err), 0, "previous entry incomplete");
    kf_buf_free(&b);

    kf_buf_init(&b, 0);
    kf_tar_init(&tw, &b);
    cr_assert_eq(kf_tar_write_header(&tw, &e, err), 0);
    cr_expect_neq(kf_tar_close(&tw, err), 0, "closing with missing data");
    kf_buf_free(&b);

    kf_buf_init(&b, 0);
    kf_tar_init(&tw, &b);
    cr_assert_eq(kf_tar_close(&tw, err), 0);
    cr_expect_eq(b.len, 1024, "an empty archive is its trailer");
    cr_expect_neq(kf_tar_write_header(&tw, &e, err), 0, "no header after close");
    kf_buf_free(&b);
}

Test(tar, cap_is_enforced)
{
    struct kf_buf b;
    struct kf_tar tw;
    char err[KF_ERRLEN];
    kf_buf_init(&b, 1000);
    kf_tar_init(&tw, &b);
    struct kf_tar_entry e = {.name = "f", .typeflag = KF_TAR_REG, .mode = 0555, .size = 600};
    cr_assert_eq(kf_tar_write_header(&tw, &e, err), 0);
    char data[600] = {0};
    cr_expect_eq(kf_tar_write(&tw, data, sizeof data, err), KF_ETOOBIG);
    kf_buf_free(&b);
}

struct clean_case {
    const char *in, *out;
};

Test(tar, path_clean_matches_go)
{
    static const struct clean_case cases[] = {
        {"", "."}, {"abc", "abc"}, {"abc/def", "abc/def"}, {"a/b/c", "a/b/c"}, {".", "."}, {"..", ".."},
        {"../..", "../.."}, {"../../abc", "../../abc"}, {"/abc", "/abc"}, {"/", "/"}, {"abc/", "abc"},
        {"abc/def/", "abc/def"}, {"a/b/c/", "a/b/c"}, {"./", "."}, {"../", ".."}, {"/abc/", "/abc"},
        {"abc//def//ghi", "abc/def/ghi"}, {"//abc", "/abc"}, {"///abc", "/abc"}, {"//abc//", "/abc"},
        {"abc/./def", "abc/def"}, {"/./abc/def", "/abc/def"}, {"abc/.", "abc"}, {"abc/def/ghi/../jkl", "abc/def/jkl"},
        {"abc/def/../ghi/../jkl", "abc/jkl"}, {"abc/def/..", "abc"}, {"abc/def/../..", "."}, {"/abc/def/../..", "/"},
        {"abc/def/../../..", ".."}, {"/abc/def/../../..", "/"}, {"abc/def/../../../ghi/jkl/../../../mno", "../../mno"},
        {"abc/./../def", "def"}, {"abc//./../def", "def"}, {"abc/../../././../def", "../../def"},
        {"/var/run/ko//PaxHeaders.0/x", "/var/run/ko/PaxHeaders.0/x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = kf_tar_path_clean(cases[i].in);
        cr_assert_not_null(got);
        cr_expect_str_eq(got, cases[i].out, "Clean(%s)", cases[i].in);
        free(got);
    }
}

/* Symlinks: the target in the USTAR field, or a PAX linkpath record when it
 * is long or not ASCII; libarchive reads both back. */
Test(tar, symlinks_short_long_and_utf8)
{
    char long_target[300];
    memset(long_target, 'x', sizeof long_target - 1);
    long_target[sizeof long_target - 1] = 0;
    const char *targets[] = {"../lib/a.go", long_target, "caf\xc3\xa9/b.go"};
    struct kf_buf b;
    struct kf_tar tw;
    char err[KF_ERRLEN] = "";
    kf_buf_init(&b, 0);
    kf_tar_init(&tw, &b);
    for (size_t i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "link%zu", i);
        struct kf_tar_entry e = {.name = name, .typeflag = KF_TAR_SYMLINK, .mode = 0777, .linkname = targets[i]};
        cr_assert_eq(kf_tar_write_header(&tw, &e, err), 0, "%s", err);
    }
    struct kf_tar_entry bad = {.name = "f", .typeflag = KF_TAR_REG, .mode = 0644, .linkname = "x"};
    cr_expect_eq(kf_tar_write_header(&tw, &bad, err), KF_EINVAL, "a file has no target");
    cr_assert_eq(kf_tar_close(&tw, err), 0, "%s", err);
    cr_expect_eq(b.data[156], '2', "the first entry is a USTAR symlink");
    cr_expect_str_eq((const char *)b.data + 157, "../lib/a.go");

    setlocale(LC_ALL, "C.UTF-8"); /* libarchive converts names to the locale's charset */
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    cr_assert_eq(archive_read_open_memory(a, b.data, b.len), ARCHIVE_OK);
    struct archive_entry *ae;
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(archive_read_next_header(a, &ae), ARCHIVE_OK, "entry %zu", i);
        cr_expect_eq(archive_entry_filetype(ae), AE_IFLNK, "entry %zu", i);
        cr_expect_str_eq(archive_entry_symlink(ae), targets[i], "entry %zu", i);
    }
    cr_expect_eq(archive_read_next_header(a, &ae), ARCHIVE_EOF);
    archive_read_free(a);
    kf_buf_free(&b);
}
