#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "digest.h"

Test(buf, append_and_cap)
{
    struct kf_buf b;
    kf_buf_init(&b, 10);
    cr_assert_eq(kf_buf_append_str(&b, "hello"), 0);
    cr_assert_eq(kf_buf_appendf(&b, "%d", 1234), 0);
    cr_expect_str_eq((char *)b.data, "hello1234");
    cr_expect_eq(kf_buf_append_str(&b, "xy"), KF_ETOOBIG, "cap of 10 bytes must hold");
    cr_expect_eq(b.len, 9, "a refused append changes nothing");
    cr_expect_eq(kf_buf_append_str(&b, "x"), 0);
    cr_expect_eq(kf_buf_appendf(&b, "%s", "y"), KF_ETOOBIG);
    kf_buf_free(&b);
}

Test(buf, overflow_is_refused)
{
    struct kf_buf b;
    kf_buf_init(&b, 0);
    cr_assert_eq(kf_buf_append_str(&b, "a"), 0);
    cr_expect_eq(kf_buf_reserve(&b, SIZE_MAX), KF_ETOOBIG);
    cr_expect_eq(kf_buf_reserve(&b, SIZE_MAX - 1), KF_ETOOBIG);
    kf_buf_free(&b);
}

Test(buf, files)
{
    char dir[] = "/tmp/kf-test-buf-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/f", dir);
    char err[KF_ERRLEN];
    cr_assert_eq(kf_write_file_atomic(path, "0123456789", 10, 0600, err), 0, "%s", err);
    struct kf_buf b;
    kf_buf_init(&b, 10);
    cr_expect_eq(kf_buf_read_file(&b, path, err), 0, "a file exactly at the cap fits: %s", err);
    cr_expect_eq(b.len, 10);
    kf_buf_free(&b);
    kf_buf_init(&b, 9);
    cr_expect_eq(kf_buf_read_file(&b, path, err), KF_ETOOBIG);
    kf_buf_free(&b);
    kf_buf_init(&b, 0);
    snprintf(path, sizeof path, "%s/missing", dir);
    cr_expect_eq(kf_buf_read_file(&b, path, err), KF_ENOTFOUND);
    kf_buf_free(&b);
    snprintf(path, sizeof path, "%s/f", dir);
    unlink(path);
    rmdir(dir);
}

Test(digest, known_vectors)
{
    char d[KF_DIGEST_LEN], m[33];
    kf_sha256_digest("", 0, d);
    cr_expect_str_eq(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    struct kf_sha256 h;
    cr_assert_eq(kf_sha256_init(&h), 0);
    kf_sha256_update(&h, "ab", 2);
    kf_sha256_update(&h, "c", 1);
    kf_sha256_final(&h, d);
    cr_expect_str_eq(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    kf_md5_hex("github.com/u/r/cmd/app", 22, m);
    cr_expect_str_eq(m, "4200d284d61826395ff451845e33cfd3");
    cr_expect(kf_digest_valid("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    cr_expect(!kf_digest_valid("sha256:BA7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    cr_expect(!kf_digest_valid("sha256:ba78"));
    cr_expect(!kf_digest_valid("sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    cr_expect(!kf_digest_valid("sha256:../../etc/passwd"));
    cr_expect(!kf_digest_valid("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0"));
}

Test(digest, hex_lower_and_unhex)
{
    unsigned char raw[4];
    cr_expect(kf_hex_lower("0123456789abcdef", 16));
    cr_expect(kf_hex_lower("", 0));
    cr_expect(!kf_hex_lower("00A0", 4), "uppercase is not lowercase hex");
    cr_expect(!kf_hex_lower("0g", 2));
    cr_expect(!kf_hex_lower("-1", 2), "a leading '-' (an option to git) is refused");
    cr_expect(kf_hex_lower("00zz", 2), "only the first n are looked at");
    cr_assert_eq(kf_unhex("00ff7a10", 4, raw), 0);
    cr_expect(raw[0] == 0x00 && raw[1] == 0xff && raw[2] == 0x7a && raw[3] == 0x10);
    cr_expect_eq(kf_unhex("00fF7a10", 4, raw), -1);
    cr_expect_eq(kf_unhex("00f", 2, raw), -1, "the NUL after an odd digit is not hex");
    char back[9];
    kf_hex((const unsigned char[]){0xde, 0xad, 0xbe, 0xef}, 4, back);
    cr_assert_eq(kf_unhex(back, 4, raw), 0);
    cr_expect(raw[0] == 0xde && raw[3] == 0xef);
}

/* Two platforms of one build write the same base layer blob at once: every
 * writer must succeed and the file must hold the bytes (a per-process temp
 * name let one thread rename the other's file away: ENOENT). */
#include <pthread.h>

struct race_arg {
    const char *path;
    int rc;
};

static void *race_writer(void *p)
{
    struct race_arg *a = p;
    char err[KF_ERRLEN];
    static const char data[] = "same content-addressed bytes";
    for (int i = 0; i < 200 && a->rc == 0; i++)
        a->rc = kf_write_file_atomic(a->path, data, sizeof data - 1, 0644, err);
    return NULL;
}

Test(buf, atomic_write_from_threads)
{
    char dir[] = "/tmp/kf-test-buf-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/blob", dir);
    pthread_t t[4];
    struct race_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct race_arg){path, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, race_writer, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(a[i].rc, 0, "writer %d failed", i);
    }
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_size, 28);
    cr_expect_eq(st.st_mode & 0777, 0644);
    unlink(path);
    cr_expect_eq(rmdir(dir), 0, "no temp file is left behind");
}
