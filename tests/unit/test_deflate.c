/* deflate.c: every output inflated back by zlib (raw, with the dictionary
 * when there is one), block framing, growth bound, dictionary use, code
 * length limiting, determinism, and a seeded fuzz loop. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "deflate.h"

void kf_deflate_code_lengths(const uint32_t *freq, unsigned n, unsigned limit, uint8_t *len);

enum kind { ZEROS, PATTERN, RANDOM, TEXT, KINDS };
static const char *kind_name[KINDS] = {"zeros", "pattern", "random", "text"};

static uint32_t rng_next(uint32_t *state)
{
    /* xorshift32: fixed sequences on every machine. */
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static unsigned char *make_data(enum kind kind, size_t len, uint32_t seed)
{
    static const char *words[] = {"layer ", "image ", "kofarm ", "build ", "the ", "of ", "digest ", "blob\n",
                                  "manifest ", "registry ", "push ", "a ", "go ", "binary, ", "chunk ", "sha256:"};
    unsigned char *p = malloc(len ? len : 1);
    cr_assert_not_null(p);
    uint32_t r = seed | 1;
    for (size_t i = 0; i < len;) {
        switch (kind) {
        case ZEROS:
            p[i++] = 0;
            break;
        case PATTERN:
            p[i] = (unsigned char)("abcab"[i % 5]);
            i++;
            break;
        case RANDOM:
            p[i++] = (unsigned char)(rng_next(&r) >> 24);
            break;
        default: {
            const char *w = words[rng_next(&r) % 16];
            for (size_t k = 0; w[k] && i < len; k++)
                p[i++] = (unsigned char)w[k];
        }
        }
    }
    return p;
}

/* Compress into a buffer of exactly kf_deflate_bound bytes (ASan sees any
 * write past it); caller frees. */
static unsigned char *deflate_it(const unsigned char *in, size_t len, size_t dict_len, int final, size_t *out_len)
{
    size_t cap = kf_deflate_bound(len);
    unsigned char *out = malloc(cap);
    cr_assert_not_null(out);
    int rc = kf_deflate_chunk(in, len, dict_len, final, out, cap, out_len);
    cr_assert_eq(rc, 0, "kf_deflate_chunk(len %zu, dict %zu, final %d): %d", len, dict_len, final, rc);
    cr_assert_leq(*out_len, cap, "len %zu: %zu bytes out, bound %zu", len, *out_len, cap);
    return out;
}

/* Inflate one chunk's output (raw deflate, primed with dict) and compare. */
static void check_inflates(const unsigned char *z, size_t z_len, const unsigned char *dict, size_t dict_len,
                           const unsigned char *expect, size_t len, int final)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    cr_assert_eq(inflateInit2(&s, -15), Z_OK);
    if (dict_len)
        cr_assert_eq(inflateSetDictionary(&s, dict, (uInt)dict_len), Z_OK);
    unsigned char *plain = malloc(len + 1);
    cr_assert_not_null(plain);
    s.next_in = (unsigned char *)z;
    s.avail_in = (uInt)z_len;
    s.next_out = plain;
    s.avail_out = (uInt)len + 1;
    int zr = inflate(&s, Z_SYNC_FLUSH);
    if (final)
        cr_assert_eq(zr, Z_STREAM_END, "len %zu: inflate %d (%s), want the end of the stream", len, zr,
                     s.msg ? s.msg : "");
    else
        cr_assert(zr == Z_OK || zr == Z_BUF_ERROR, "len %zu: inflate %d (%s)", len, zr, s.msg ? s.msg : "");
    cr_assert_eq(s.avail_in, 0, "len %zu: %u bytes left after the stream", len, s.avail_in);
    cr_assert_eq(s.total_out, len, "len %zu: inflated to %lu bytes", len, s.total_out);
    cr_assert(len == 0 || memcmp(plain, expect, len) == 0, "len %zu: inflated bytes differ", len);
    inflateEnd(&s);
    free(plain);
}

static void round_trip(const unsigned char *in, size_t len, int final, size_t *out_len)
{
    unsigned char *z = deflate_it(in, len, 0, final, out_len);
    check_inflates(z, *out_len, NULL, 0, in, len, final);
    if (!final) {
        cr_assert_geq(*out_len, 5);
        static const unsigned char sync[] = {0, 0, 0xff, 0xff};
        cr_assert_eq(memcmp(z + *out_len - 4, sync, 4), 0, "len %zu: no sync-flush marker at the end", len);
    }
    free(z);
}

Test(deflate, round_trips_every_size_and_kind)
{
    const size_t sizes[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 257, 258, 259, 65535, 65536, ((size_t)1 << 20) + 7};
    for (int kind = 0; kind < KINDS; kind++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            unsigned char *data = make_data((enum kind)kind, sizes[i], (uint32_t)(i + 1));
            for (int final = 0; final <= 1; final++) {
                size_t out_len;
                round_trip(data, sizes[i], final, &out_len);
                /* Runs and patterns to almost nothing, words to under half. */
                size_t most = kind == TEXT ? sizes[i] / 2 : sizes[i] / 50;
                if (kind != RANDOM && sizes[i] >= 65535)
                    cr_expect_lt(out_len, most, "%s, %zu bytes: %zu compressed", kind_name[kind], sizes[i], out_len);
            }
            free(data);
        }
    }
}

Test(deflate, empty_input_framing)
{
    unsigned char out[64];
    size_t n;
    cr_assert_eq(kf_deflate_chunk(NULL, 0, 0, 1, out, sizeof out, &n), 0);
    static const unsigned char empty_final[] = {0x03, 0x00}; /* a final fixed block with only its end */
    cr_assert_eq(n, sizeof empty_final);
    cr_expect_eq(memcmp(out, empty_final, n), 0);
    cr_assert_eq(kf_deflate_chunk(NULL, 0, 0, 0, out, sizeof out, &n), 0);
    static const unsigned char sync[] = {0x00, 0x00, 0x00, 0xff, 0xff}; /* zlib's Z_SYNC_FLUSH */
    cr_assert_eq(n, sizeof sync);
    cr_expect_eq(memcmp(out, sync, n), 0);
}

Test(deflate, final_framing)
{
    unsigned char *data = make_data(TEXT, 100000, 7);
    size_t n0, n1;
    unsigned char *z0 = deflate_it(data, 100000, 0, 0, &n0), *z1 = deflate_it(data, 100000, 0, 1, &n1);
    /* final=1: inflate reaches the end exactly at the last byte (no sync
     * block); final=0 ends with the empty stored block and no end. */
    check_inflates(z1, n1, NULL, 0, data, 100000, 1);
    check_inflates(z0, n0, NULL, 0, data, 100000, 0);
    cr_expect_lt(n1, n0, "the final chunk carries no empty stored block");
    z_stream s;
    memset(&s, 0, sizeof s);
    cr_assert_eq(inflateInit2(&s, -15), Z_OK);
    unsigned char *plain = malloc(100001);
    s.next_in = z0;
    s.avail_in = (uInt)n0;
    s.next_out = plain;
    s.avail_out = 100001;
    cr_expect_eq(inflate(&s, Z_FINISH), Z_BUF_ERROR, "a non-final chunk does not end the stream");
    inflateEnd(&s);
    free(plain);
    free(z0);
    free(z1);
    free(data);
}

Test(deflate, random_data_is_stored_not_grown)
{
    const size_t sizes[] = {1, 100, 65535, 65536, 200000, (size_t)1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t len = sizes[i], out_len;
        unsigned char *data = make_data(RANDOM, len, (uint32_t)(77 + i));
        round_trip(data, len, 1, &out_len);
        /* Stored blocks cost 5 bytes a block (16 Ki symbols, 64 KiB at
         * most) plus a partial byte: a Huffman code on random bytes would
         * cost ~0.3% and more. */
        size_t stored = len + 5 * (len / 16384 + 1) + 2;
        cr_expect_leq(out_len, stored, "random %zu bytes: %zu out, stored would be %zu", len, out_len, stored);
        cr_expect_leq(out_len, kf_deflate_bound(len));
        free(data);
    }
}

Test(deflate, long_matches_reach_258)
{
    size_t len = (size_t)1 << 20, out_len;
    unsigned char *data = make_data(ZEROS, len, 1);
    round_trip(data, len, 1, &out_len);
    /* 4065 matches of 258 at ~2 bits each plus a block header; a shorter
     * maximum (or one bad length code) would need several times more. */
    cr_expect_lt(out_len, 1500, "1 MiB of zeros in %zu bytes", out_len);
    free(data);
}

static unsigned char *read_self(size_t *len)
{
    struct kf_buf b;
    char err[KF_ERRLEN];
    kf_buf_init(&b, 0);
    cr_assert_eq(kf_buf_read_file(&b, "/proc/self/exe", err), 0, "%s", err);
    return kf_buf_steal(&b, len);
}

Test(deflate, real_binary_whole_and_with_dictionary)
{
    size_t len, out_len;
    unsigned char *bin = read_self(&len);
    size_t whole = len < ((size_t)1 << 20) ? len : (size_t)1 << 20;
    round_trip(bin, whole, 1, &out_len);
    cr_expect_lt(out_len, whole, "a binary compresses");
    /* The second 64 KiB with the first 32 KiB before it as dictionary. */
    if (len >= 3 * 32768) {
        unsigned char *z = deflate_it(bin + 32768, 65536, 32768, 0, &out_len);
        check_inflates(z, out_len, bin, 32768, bin + 32768, 65536, 0);
        free(z);
    }
    free(bin);
}

/* Chunks as lib/gzip.c cuts them, each primed with the 32 KiB before it,
 * concatenated and inflated as one stream. */
static void chunked_round_trip(const unsigned char *data, size_t len, const size_t *cuts, size_t ncuts)
{
    struct kf_buf all;
    kf_buf_init(&all, 0);
    size_t off = 0;
    for (size_t c = 0; c <= ncuts; c++) {
        size_t end = c < ncuts ? cuts[c] : len, out_len;
        size_t dict = off < KF_DEFLATE_DICT_MAX ? off : KF_DEFLATE_DICT_MAX;
        unsigned char *z = deflate_it(data + off, end - off, dict, c == ncuts, &out_len);
        cr_assert_eq(kf_buf_append(&all, z, out_len), 0);
        free(z);
        off = end;
    }
    check_inflates(all.data, all.len, NULL, 0, data, len, 1);
    kf_buf_free(&all);
}

Test(deflate, chunks_with_dictionary_concatenate)
{
    size_t bin_len;
    unsigned char *bin = read_self(&bin_len);
    size_t len = 400000;
    unsigned char *data = make_data(TEXT, len, 3);
    memcpy(data + 150000, bin, bin_len < 200000 ? bin_len : 200000);
    free(bin);
    static const size_t cuts[] = {1, 2, 9, 10000, 42768, 42769, 108305, 250000, 250258, 399999};
    chunked_round_trip(data, len, cuts, sizeof cuts / sizeof cuts[0]);
    static const size_t even[] = {131072, 262144};
    chunked_round_trip(data, len, even, 2);
    free(data);
}

Test(deflate, dictionary_is_used)
{
    /* The chunk repeats the 32 KiB before it, random so only the
     * dictionary can explain it. */
    size_t out_with, out_without;
    unsigned char *data = make_data(RANDOM, 2 * 32768, 5);
    memcpy(data + 32768, data, 32768);
    unsigned char *with = deflate_it(data + 32768, 32768, 32768, 1, &out_with);
    unsigned char *without = deflate_it(data + 32768, 32768, 0, 1, &out_without);
    cr_expect_lt(out_with, 1000, "%zu bytes with the dictionary", out_with);
    cr_expect_gt(out_without, 32768, "%zu bytes without", out_without);
    check_inflates(with, out_with, data, 32768, data + 32768, 32768, 1);
    /* A shorter dictionary: matches must not reach before it. */
    unsigned char *part = deflate_it(data + 32768, 32768, 100, 1, &out_with);
    check_inflates(part, out_with, data + 32768 - 100, 100, data + 32768, 32768, 1);
    free(part);
    free(with);
    free(without);
    free(data);
}

static void check_lengths(const uint32_t *freq, unsigned n, unsigned limit)
{
    uint8_t len[286];
    kf_deflate_code_lengths(freq, n, limit, len);
    uint64_t kraft = 0, one = (uint64_t)1 << limit;
    unsigned used = 0;
    for (unsigned s = 0; s < n; s++) {
        cr_assert_leq(len[s], limit, "symbol %u: length %u over %u", s, len[s], limit);
        cr_assert(!freq[s] || len[s], "symbol %u is used but has no code", s);
        if (len[s]) {
            kraft += one >> len[s];
            used++;
        }
    }
    cr_expect_geq(used, 2, "at least two codes");
    cr_expect_eq(kraft, one, "complete code: Kraft sum %llu/%llu", (unsigned long long)kraft,
                 (unsigned long long)one);
    for (unsigned a = 0; a < n; a++)
        for (unsigned b = 0; b < n; b++)
            if (freq[a] && freq[b] && freq[a] > freq[b])
                cr_expect_leq(len[a], len[b], "more frequent %u has a longer code than %u", a, b);
}

Test(deflate, code_lengths_are_limited_and_complete)
{
    uint32_t freq[286] = {0};
    /* Fibonacci weights (below 2^16, as a block's counts are): an unlimited
     * Huffman code would be 23 deep. */
    uint32_t f0 = 1, f1 = 1;
    for (unsigned s = 0; s < 24; s++) {
        freq[s] = f0;
        uint32_t next = f0 + f1;
        f0 = f1;
        f1 = next;
    }
    check_lengths(freq, 30, 15);
    check_lengths(freq, 19, 7); /* the code-length code's limit */
    /* Spread over the literal alphabet with gaps, and nearly flat. */
    memset(freq, 0, sizeof freq);
    f0 = 1, f1 = 1;
    for (unsigned s = 0; s < 23; s++) {
        freq[s * 11] = f0;
        uint32_t next = f0 + f1;
        f0 = f1;
        f1 = next;
    }
    freq[256] = 1;
    check_lengths(freq, 286, 15);
    for (unsigned s = 0; s < 286; s++)
        freq[s] = 1000 + s;
    check_lengths(freq, 286, 15);
    /* One symbol or none: still two codes of length 1. */
    memset(freq, 0, sizeof freq);
    check_lengths(freq, 30, 15);
    freq[7] = 5;
    check_lengths(freq, 30, 15);
}

Test(deflate, skewed_literals_round_trip)
{
    /* Bytes drawn with Fibonacci-like odds and no long repeats, so blocks
     * are mostly literals with very uneven counts. */
    size_t len = 300000, out_len;
    unsigned char *data = malloc(len);
    cr_assert_not_null(data);
    uint32_t r = 99;
    for (size_t i = 0; i < len; i++) {
        uint32_t x = rng_next(&r), b = 0;
        while (b < 26 && (x & 1)) { /* P(b) ~ 2^-(b+1) */
            x >>= 1;
            b++;
        }
        data[i] = (unsigned char)(b * 9 + (rng_next(&r) % 3 == 0 ? 200 : 0));
    }
    round_trip(data, len, 1, &out_len);
    free(data);
}

Test(deflate, same_bytes_whatever_the_memory)
{
    size_t len = 200000;
    unsigned char *data = make_data(TEXT, len, 11);
    size_t cap = kf_deflate_bound(len), n1, n2;
    unsigned char *a = malloc(cap), *b = malloc(cap), *moved = malloc(len + 3);
    cr_assert(a && b && moved);
    memset(a, 0x00, cap);
    memset(b, 0xa5, cap);
    memcpy(moved + 3, data, len); /* another address and alignment */
    cr_assert_eq(kf_deflate_chunk(data, len, 0, 0, a, cap, &n1), 0);
    cr_assert_eq(kf_deflate_chunk(moved + 3, len, 0, 0, b, cap, &n2), 0);
    cr_assert_eq(n1, n2);
    cr_expect_eq(memcmp(a, b, n1), 0, "output depends on more than the input");
    free(a);
    free(b);
    free(moved);
    free(data);
}

Test(deflate, bad_arguments_and_small_buffers)
{
    unsigned char in[2000], out[4096];
    size_t n = 99;
    memset(in, 'x', sizeof in);
    cr_expect_eq(kf_deflate_chunk(in + 1000, 10, KF_DEFLATE_DICT_MAX + 1, 1, out, sizeof out, &n), KF_EINVAL);
    cr_expect_eq(kf_deflate_chunk(in, KF_DEFLATE_CHUNK_MAX + 1, 0, 1, out, sizeof out, &n), KF_EINVAL);
    unsigned char *data = make_data(RANDOM, 3000, 1);
    for (size_t cap = 0; cap < 3000; cap += 97) {
        unsigned char *tight = malloc(cap ? cap : 1); /* exact size: ASan catches a write past it */
        cr_assert_not_null(tight);
        cr_expect_eq(kf_deflate_chunk(data, 3000, 0, 1, tight, cap, &n), KF_ETOOBIG, "cap %zu", cap);
        free(tight);
    }
    free(data);
}

Test(deflate, fuzz_small_alphabets)
{
    uint32_t r = 20261207;
    unsigned char *buf = malloc(40000);
    cr_assert_not_null(buf);
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = rng_next(&r) % (iter % 10 == 0 ? 20000 : 600);
        size_t dict = rng_next(&r) % 3 == 0 ? rng_next(&r) % 1200 : 0;
        unsigned alphabet = 1 + rng_next(&r) % (iter % 7 == 0 ? 256 : 6);
        unsigned base = rng_next(&r) % 256;
        int final = (int)(rng_next(&r) & 1);
        for (size_t i = 0; i < dict + len; i++) {
            /* Runs now and then, so long and overlapping matches happen. */
            if (i > 0 && rng_next(&r) % 8 == 0)
                buf[i] = buf[i - 1 - rng_next(&r) % (i < 300 ? i : 300)];
            else
                buf[i] = (unsigned char)(base + rng_next(&r) % alphabet);
        }
        size_t out_len;
        unsigned char *z = deflate_it(buf + dict, len, dict, final, &out_len);
        check_inflates(z, out_len, buf, dict, buf + dict, len, final);
        size_t again_len;
        unsigned char *again = deflate_it(buf + dict, len, dict, final, &again_len);
        cr_assert(again_len == out_len && memcmp(again, z, out_len) == 0, "iteration %d: not deterministic",
                  iter);
        free(again);
        free(z);
    }
    free(buf);
}
