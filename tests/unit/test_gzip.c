/* gzip.c: round trips through zlib's own inflate, fixed header and trailer,
 * and output independent of the thread count at chunk boundaries. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "deflate.h"
#include "gzip.h"

/* Half text-like (compressible), half pseudo-random (not). */
static unsigned char *sample(size_t len)
{
    unsigned char *p = malloc(len ? len : 1);
    cr_assert_not_null(p);
    unsigned int x = 12345;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245 + 12345;
        p[i] = (i / 4096) % 2 ? (unsigned char)(x >> 16) : (unsigned char)("kofarm layer "[i % 13]);
    }
    return p;
}

static void gunzip(const struct kf_buf *gz, struct kf_buf *out)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    cr_assert_eq(inflateInit2(&s, 16 + 15), Z_OK);
    s.next_in = gz->data;
    s.avail_in = (uInt)gz->len;
    unsigned char chunk[65536];
    int zr;
    do {
        s.next_out = chunk;
        s.avail_out = sizeof chunk;
        zr = inflate(&s, Z_NO_FLUSH);
        cr_assert(zr == Z_OK || zr == Z_STREAM_END, "inflate: %d", zr);
        cr_assert_eq(kf_buf_append(out, chunk, sizeof chunk - s.avail_out), 0);
    } while (zr != Z_STREAM_END);
    cr_expect_eq(s.avail_in, 0, "nothing after the gzip member");
    inflateEnd(&s);
}

static void gz_compress(const unsigned char *data, size_t len, int level, int threads, struct kf_buf *out)
{
    char err[KF_ERRLEN];
    kf_buf_init(out, 0);
    cr_assert_eq(kf_gzip_compress(data, len, level, threads, out, err), 0, "%s", err);
}

Test(gzip, round_trip_and_same_bytes_for_any_thread_count)
{
    const size_t sizes[] = {0, 1, 100, KF_GZIP_CHUNK - 1, KF_GZIP_CHUNK, KF_GZIP_CHUNK + 1,
                            3 * KF_GZIP_CHUNK + 17};
    const int threads[] = {1, 2, 4, 0};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *data = sample(sizes[i]);
        struct kf_buf first;
        gz_compress(data, sizes[i], KF_GZIP_LEVEL_DEFAULT, 1, &first);
        struct kf_buf plain;
        kf_buf_init(&plain, 0);
        gunzip(&first, &plain);
        cr_expect_eq(plain.len, sizes[i], "size %zu", sizes[i]);
        cr_expect(sizes[i] == 0 || memcmp(plain.data, data, sizes[i]) == 0, "content of size %zu", sizes[i]);
        for (size_t t = 1; t < sizeof threads / sizeof threads[0]; t++) {
            struct kf_buf again;
            gz_compress(data, sizes[i], KF_GZIP_LEVEL_DEFAULT, threads[t], &again);
            cr_expect_eq(again.len, first.len, "size %zu, %d threads", sizes[i], threads[t]);
            cr_expect(again.len == first.len && memcmp(again.data, first.data, first.len) == 0,
                      "size %zu: %d threads changed the bytes", sizes[i], threads[t]);
            kf_buf_free(&again);
        }
        kf_buf_free(&plain);
        kf_buf_free(&first);
        free(data);
    }
}

Test(gzip, header_and_trailer)
{
    struct kf_buf gz;
    gz_compress(NULL, 0, 1, 1, &gz);
    /* magic, deflate, no flags, mtime 0, XFL 4 (fastest), OS unknown; an
     * empty final fixed block; CRC 0 and size 0. */
    static const unsigned char empty[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(gz.len, sizeof empty);
    cr_expect_eq(memcmp(gz.data, empty, sizeof empty), 0);
    kf_buf_free(&gz);

    size_t len = 2 * KF_GZIP_CHUNK + 5;
    unsigned char *data = sample(len);
    gz_compress(data, len, 6, 2, &gz);
    cr_expect_eq(gz.data[8], 0, "XFL 0 for a middle level");
    unsigned long crc = crc32(0, data, (uInt)len);
    const unsigned char *t = gz.data + gz.len - 8;
    cr_expect_eq(t[0] | t[1] << 8 | t[2] << 16 | (unsigned long)t[3] << 24, crc, "combined CRC-32");
    cr_expect_eq(t[4] | t[5] << 8 | t[6] << 16 | (unsigned long)t[7] << 24, len, "ISIZE");
    kf_buf_free(&gz);
    free(data);
}

Test(gzip, levels_differ_but_each_round_trips)
{
    size_t len = KF_GZIP_CHUNK + 999;
    unsigned char *data = sample(len);
    for (int level = 1; level <= 9; level += 4) {
        struct kf_buf gz, plain;
        gz_compress(data, len, level, 2, &gz);
        kf_buf_init(&plain, 0);
        gunzip(&gz, &plain);
        cr_expect(plain.len == len && memcmp(plain.data, data, len) == 0, "level %d", level);
        cr_expect_lt(gz.len, len, "level %d compresses", level);
        kf_buf_free(&gz);
        kf_buf_free(&plain);
    }
    free(data);
}

Test(gzip, bad_input)
{
    char err[KF_ERRLEN];
    struct kf_buf out;
    kf_buf_init(&out, 0);
    cr_expect_eq(kf_gzip_compress("x", 1, 0, 1, &out, err), KF_EINVAL);
    cr_expect_eq(kf_gzip_compress("x", 1, 10, 1, &out, err), KF_EINVAL);
    kf_buf_free(&out);
    kf_buf_init(&out, 10);
    cr_expect_eq(kf_gzip_compress("hello", 5, 1, 1, &out, err), KF_ETOOBIG, "the output buffer's cap holds");
    kf_buf_free(&out);
}

Test(gzip, appends_to_existing_content)
{
    char err[KF_ERRLEN];
    struct kf_buf out, alone;
    kf_buf_init(&out, 0);
    cr_assert_eq(kf_buf_append(&out, "prefix", 6), 0);
    cr_assert_eq(kf_gzip_compress("hello", 5, 1, 1, &out, err), 0);
    gz_compress((const unsigned char *)"hello", 5, 1, 1, &alone);
    cr_expect_eq(out.len, 6 + alone.len);
    cr_expect_eq(memcmp(out.data + 6, alone.data, alone.len), 0);
    kf_buf_free(&out);
    kf_buf_free(&alone);
}

/* The default level is kf_deflate in the pigz layout: the member is exactly
 * the header, each chunk's kf_deflate_chunk output (primed with the 32 KiB
 * before it, the last one final) and the trailer; zlib's gunzip reads it. */
Test(gzip, default_level_is_kf_deflate_in_chunks)
{
    struct kf_buf bin;
    char err[KF_ERRLEN];
    kf_buf_init(&bin, 0);
    cr_assert_eq(kf_buf_read_file(&bin, "/proc/self/exe", err), 0, "%s", err);
    size_t len = bin.len < 3 * KF_GZIP_CHUNK + 1000 ? bin.len : 3 * KF_GZIP_CHUNK + 1000;
    struct kf_buf gz, two, plain, expect;
    gz_compress(bin.data, len, KF_GZIP_LEVEL_DEFAULT, 1, &gz);
    gz_compress(bin.data, len, KF_GZIP_LEVEL_DEFAULT, 2, &two);
    cr_expect(gz.len == two.len && memcmp(gz.data, two.data, gz.len) == 0, "2 threads changed the bytes");
    kf_buf_init(&plain, 0);
    gunzip(&gz, &plain);
    cr_assert_eq(plain.len, len);
    cr_expect_eq(memcmp(plain.data, bin.data, len), 0);

    kf_buf_init(&expect, 0);
    cr_assert_eq(kf_buf_append(&expect, gz.data, 10), 0);
    for (size_t off = 0; off < len; off += KF_GZIP_CHUNK) {
        size_t n = len - off < KF_GZIP_CHUNK ? len - off : KF_GZIP_CHUNK, out_len;
        size_t cap = kf_deflate_bound(n);
        unsigned char *z = malloc(cap);
        cr_assert_not_null(z);
        cr_assert_eq(kf_deflate_chunk(bin.data + off, n, off < 32768 ? off : 32768, off + n == len, z, cap, &out_len),
                     0);
        cr_assert_eq(kf_buf_append(&expect, z, out_len), 0);
        free(z);
    }
    cr_assert_eq(kf_buf_append(&expect, gz.data + gz.len - 8, 8), 0);
    cr_expect_eq(expect.len, gz.len);
    cr_expect(expect.len == gz.len && memcmp(expect.data, gz.data, gz.len) == 0, "not kf_deflate's chunks");
    kf_buf_free(&expect);
    kf_buf_free(&plain);
    kf_buf_free(&two);
    kf_buf_free(&gz);
    kf_buf_free(&bin);
}

struct emitted {
    struct kf_buf bytes;
    size_t calls, refuse_after; /* 0: never refuse */
};

static int collect(void *ctx, const void *data, size_t len)
{
    struct emitted *e = ctx;
    cr_assert_eq(kf_buf_append(&e->bytes, data, len), 0);
    return e->refuse_after && ++e->calls >= e->refuse_after;
}

/* Streaming gives the same gzip, handed on in order; a refusing emit stops
 * being called while the output is still made whole. */
Test(gzip, stream_emits_the_same_bytes_in_order)
{
    static const size_t sizes[] = {0, 1, KF_GZIP_CHUNK - 1, KF_GZIP_CHUNK, 3 * KF_GZIP_CHUNK + 12345};
    char err[KF_ERRLEN] = "";
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *data = sample(sizes[i] ? sizes[i] : 1);
        for (int threads = 1; threads <= 3; threads++) {
            struct kf_buf plain, streamed;
            struct emitted e = {.refuse_after = 0};
            kf_buf_init(&plain, 0);
            kf_buf_init(&streamed, 0);
            kf_buf_init(&e.bytes, 0);
            gz_compress(data, sizes[i], KF_GZIP_LEVEL_DEFAULT, 1, &plain);
            cr_assert_eq(kf_gzip_compress_stream(data, sizes[i], KF_GZIP_LEVEL_DEFAULT, threads, &streamed, collect,
                                                 &e, err), 0, "%s", err);
            cr_expect(streamed.len == plain.len && memcmp(streamed.data, plain.data, plain.len) == 0,
                      "size %zu, %d threads: same gzip", sizes[i], threads);
            cr_expect(e.bytes.len == plain.len && memcmp(e.bytes.data, plain.data, plain.len) == 0,
                      "size %zu, %d threads: every byte emitted, in order", sizes[i], threads);

            struct emitted stop = {.refuse_after = 2};
            struct kf_buf again;
            kf_buf_init(&again, 0);
            kf_buf_init(&stop.bytes, 0);
            cr_assert_eq(kf_gzip_compress_stream(data, sizes[i], KF_GZIP_LEVEL_DEFAULT, threads, &again, collect,
                                                 &stop, err), 0, "%s", err);
            cr_expect_eq(stop.calls, 2, "not called after refusing");
            cr_expect(again.len == plain.len && memcmp(again.data, plain.data, plain.len) == 0);
            kf_buf_free(&plain);
            kf_buf_free(&streamed);
            kf_buf_free(&again);
            kf_buf_free(&e.bytes);
            kf_buf_free(&stop.bytes);
        }
        free(data);
    }
    struct kf_buf out;
    kf_buf_init(&out, 0);
    cr_expect_eq(kf_gzip_compress_stream("x", 1, 1, 1, &out, NULL, NULL, err), KF_EINVAL);
    kf_buf_free(&out);
}
