/* Deflate encoder: greedy LZ77 (matches of 4 to 258 bytes found through a
 * hash of 5-byte sequences), then per block of symbols the cheapest of
 * dynamic Huffman, fixed Huffman and stored. Nothing but the input bytes and
 * `final` shapes the output. */
#include "deflate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 32768
#define MAX_MATCH 258
/* One slot per hash of 5 bytes: on Go binaries a 2-way bucket was ~1%
 * smaller and ~25% slower; hashing 4 bytes was slower and no smaller; 2^17
 * slots (512 KiB) ~3% faster than 2^16 (fewer false candidates) and 2^18
 * no better. */
#define HASH_BITS 17
/* Table entries hold position + BIAS, so an empty entry (0) is always
 * farther away than the window. */
#define BIAS (WINDOW + 1)
/* Symbols per block: smaller adapts the codes to Go binaries' sections
 * better, larger spends less on block headers. */
#define BLOCK_SYMS 16384
_Static_assert(BLOCK_SYMS < 65535, "symbol frequencies must stay below 2^16 for sort_keys");
/* After 2^SKIP_SHIFT positions without a match, look at every other one,
 * and so on: compressed sections (DWARF) and random data cost little; on Go
 * binaries 3 is ~6% faster than 4 for ~1.5% more bytes. */
#define SKIP_SHIFT 3
#define LITLEN_SYMS 286
#define DIST_SYMS 30
#define CODELEN_SYMS 19
#define MAX_BITS 15
#define CODELEN_MAX_BITS 7
#define STORED_MAX 65535
#define END_OF_BLOCK 256
#define LITERAL_DIST 31

static const uint8_t dist_extra[32] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
/* Extra bits by length symbol, 0 for literals and the end of block. */
static const uint8_t lit_extra[LITLEN_SYMS] = {[265] = 1, [266] = 1, [267] = 1, [268] = 1, [269] = 2, [270] = 2,
                                               [271] = 2, [272] = 2, [273] = 3, [274] = 3, [275] = 3, [276] = 3,
                                               [277] = 4, [278] = 4, [279] = 4, [280] = 4, [281] = 5, [282] = 5,
                                               [283] = 5, [284] = 5};
static const uint8_t codelen_order[CODELEN_SYMS] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

struct state {
    uint32_t table[1 << HASH_BITS]; /* the last position seen with each hash */
    /* Length symbol or literal | distance symbol << 9 | length extra bits
     * << 14 | distance extra bits << 19; literals have LITERAL_DIST and no
     * extra bits, so the writer needs no branch. */
    uint32_t syms[BLOCK_SYMS];
    uint32_t lit_freq[LITLEN_SYMS];
    uint32_t dist_freq[DIST_SYMS];
};

/* Codes are stored bit-reversed, ready for the LSB-first writer. */
struct huffman {
    uint16_t lit_code[LITLEN_SYMS];
    uint8_t lit_len[LITLEN_SYMS];
    uint16_t dist_code[32];
    uint8_t dist_len[32]; /* [LITERAL_DIST] stays 0: literals send no distance */
};

/* Bits go LSB first into acc and out 8 bytes at a time, so p + 8 <= end
 * must hold at every store (write_block checks before each block). */
struct writer {
    uint64_t acc;
    unsigned n; /* pending bits in acc, <= 7 between symbols */
    unsigned char *p;
    unsigned char *end;
};

static inline uint32_t load32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void store64(unsigned char *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, sizeof v);
}

static inline void put_bits(struct writer *w, uint32_t bits, unsigned n)
{
    w->acc |= (uint64_t)bits << w->n;
    w->n += n;
}

static inline void flush_bits(struct writer *w)
{
    store64(w->p, w->acc);
    w->p += w->n >> 3;
    w->acc >>= w->n & 56;
    w->n &= 7;
}

/* Pad to a byte boundary with zero bits. */
static void align_bits(struct writer *w)
{
    flush_bits(w);
    if (w->n) {
        w->n = 8;
        flush_bits(w);
    }
}

/* Hash of the 5 bytes at p, read as 8 (so p + 8 <= the input's end). */
static inline uint32_t hash5(const unsigned char *p)
{
    return (uint32_t)(((load64(p) << 24) * 0xCF1BBCDCB7A56463ull) >> (64 - HASH_BITS));
}

static inline void insert(struct state *st, const unsigned char *base, size_t pos)
{
    st->table[hash5(base + pos)] = (uint32_t)pos + BIAS;
}

/* Length of the common prefix of a and b, at most max; reads no byte at or
 * past a + max (b is before a). The match loop has checked 4 bytes. */
static inline size_t match_len(const unsigned char *a, const unsigned char *b, size_t max)
{
    size_t n = 0;
    while (n + 8 <= max) {
        uint64_t diff = load64(a + n) ^ load64(b + n);
        if (diff)
            return n + ((size_t)__builtin_ctzll(diff) >> 3);
        n += 8;
    }
    while (n < max && a[n] == b[n])
        n++;
    return n;
}

/* Pack a match (RFC 1951 3.2.5) and count its symbols. */
static inline uint32_t match_symbol(struct state *st, size_t len, uint32_t dist)
{
    uint32_t l = (uint32_t)len - 3, d = dist - 1, lsym, lext = 0, dsym, dext = 0;
    if (l < 8) {
        lsym = l;
    } else if (l == MAX_MATCH - 3) {
        lsym = 28;
    } else {
        unsigned nb = 29 - (unsigned)__builtin_clz(l); /* floor(log2 l) - 2 */
        lsym = 4 * nb + 4 + ((l >> nb) & 3);
        lext = l & ((1u << nb) - 1);
    }
    if (d < 4) {
        dsym = d;
    } else {
        unsigned nb = 30 - (unsigned)__builtin_clz(d); /* floor(log2 d) - 1 */
        dsym = 2 * nb + 2 + ((d >> nb) & 1);
        dext = d & ((1u << nb) - 1);
    }
    st->lit_freq[257 + lsym]++;
    st->dist_freq[dsym]++;
    return (257 + lsym) | dsym << 9 | lext << 14 | dext << 19;
}

/* key[0..m) sorted by frequency (key >> 9, < 2^16), ties in symbol order
 * as given: two stable counting passes of 8 bits. */
static void sort_keys(uint32_t *key, unsigned m)
{
    uint32_t tmp[LITLEN_SYMS];
    unsigned pos[256];
    for (unsigned shift = 9; shift <= 17; shift += 8) {
        const uint32_t *from = shift == 9 ? key : tmp;
        uint32_t *to = shift == 9 ? tmp : key;
        memset(pos, 0, sizeof pos);
        for (unsigned k = 0; k < m; k++)
            pos[(from[k] >> shift) & 255]++;
        for (unsigned d = 0, sum = 0; d < 256; d++) {
            unsigned c = pos[d];
            pos[d] = sum;
            sum += c;
        }
        for (unsigned k = 0; k < m; k++)
            to[pos[(from[k] >> shift) & 255]++] = from[k];
    }
}

/* Moffat and Katajainen's in-place minimum-redundancy code: a[0..n) holds
 * weights in ascending order, n >= 2; on return a[i] is the code length of
 * the i-th, lengths falling as weights grow. */
static void minimum_redundancy(uint32_t *a, int n)
{
    int root = 0, leaf = 2, next;
    a[0] += a[1];
    for (next = 1; next < n - 1; next++) {
        if (leaf >= n || a[root] < a[leaf]) {
            a[next] = a[root];
            a[root++] = (uint32_t)next;
        } else {
            a[next] = a[leaf++];
        }
        if (leaf >= n || (root < next && a[root] < a[leaf])) {
            a[next] += a[root];
            a[root++] = (uint32_t)next;
        } else {
            a[next] += a[leaf++];
        }
    }
    a[n - 2] = 0;
    for (next = n - 3; next >= 0; next--)
        a[next] = a[a[next]] + 1;
    int avail = 1, used = 0;
    uint32_t depth = 0;
    root = n - 2;
    next = n - 1;
    while (avail > 0) {
        while (root >= 0 && a[root] == depth) {
            used++;
            root--;
        }
        while (avail > used) {
            a[next--] = depth;
            avail--;
        }
        avail = 2 * used;
        depth++;
        used = 0;
    }
}

/* Code lengths for freq[0..n) (n <= LITLEN_SYMS, every freq < 2^16), none
 * over limit. At least two symbols get a length (unused ones if need be), so
 * every code is complete, as zlib also makes them. */
static void build_lengths(const uint32_t *freq, unsigned n, unsigned limit, uint8_t *len)
{
    uint32_t key[LITLEN_SYMS], depth[LITLEN_SYMS];
    unsigned count[LITLEN_SYMS + 1];
    unsigned m = 0, max_depth = 0;
    memset(len, 0, n);
    for (unsigned s = 0; s < n; s++)
        if (freq[s])
            key[m++] = freq[s] << 9 | s;
    for (unsigned s = 0; m < 2; s++)
        if (!freq[s])
            key[m++] = s;
    sort_keys(key, m);
    for (unsigned i = 0; i < m; i++)
        depth[i] = key[i] >> 9;
    minimum_redundancy(depth, (int)m);
    memset(count, 0, sizeof count);
    for (unsigned i = 0; i < m; i++) {
        count[depth[i]]++;
        if (depth[i] > max_depth)
            max_depth = depth[i];
    }
    /* JPEG's Annex K.3 limiting: two deepest leaves (siblings) go, their
     * parent becomes a leaf, and a shallower leaf splits to take the other.
     * The tree stays full and complete; m < 2^limit guarantees the leaf. */
    for (unsigned b = max_depth; b > limit; b--) {
        while (count[b]) {
            unsigned j = b - 2;
            while (!count[j])
                j--;
            count[b] -= 2;
            count[b - 1]++;
            count[j + 1] += 2;
            count[j]--;
        }
    }
    /* The least frequent symbols (sorted first) take the longest codes. */
    unsigned i = 0;
    for (unsigned b = max_depth < limit ? max_depth : limit; b >= 1; b--)
        for (unsigned c = count[b]; c; c--)
            len[key[i++] & 511] = (uint8_t)b;
}

/* Tests check the limiting on frequencies that no parse is sure to give. */
#ifndef KF_TESTABLE
#define KF_TESTABLE static __attribute__((unused))
#endif
KF_TESTABLE void kf_deflate_code_lengths(const uint32_t *freq, unsigned n, unsigned limit, uint8_t *len);
KF_TESTABLE void kf_deflate_code_lengths(const uint32_t *freq, unsigned n, unsigned limit, uint8_t *len)
{
    build_lengths(freq, n, limit, len);
}

static uint16_t reverse_bits(unsigned code, unsigned n)
{
    code = (code & 0x5555) << 1 | (code >> 1 & 0x5555);
    code = (code & 0x3333) << 2 | (code >> 2 & 0x3333);
    code = (code & 0x0f0f) << 4 | (code >> 4 & 0x0f0f);
    code = (code & 0x00ff) << 8 | (code >> 8 & 0x00ff);
    return (uint16_t)(code >> (16 - n));
}

/* Canonical codes (RFC 1951 3.2.2) for len[0..n), bit-reversed. */
static void make_codes(const uint8_t *len, unsigned n, uint16_t *code)
{
    unsigned count[MAX_BITS + 1] = {0}, next[MAX_BITS + 1];
    for (unsigned s = 0; s < n; s++)
        count[len[s]]++;
    count[0] = 0;
    unsigned c = 0;
    for (unsigned b = 1; b <= MAX_BITS; b++) {
        c = (c + count[b - 1]) << 1;
        next[b] = c;
    }
    for (unsigned s = 0; s < n; s++)
        code[s] = len[s] ? reverse_bits(next[len[s]]++, len[s]) : 0;
}

static void fixed_huffman(struct huffman *h)
{
    /* 286 and 287 are never sent but take part in the code: without them
     * the 9-bit codes of literals 144..255 would come out wrong. */
    uint8_t lit_len[288];
    uint16_t lit_code[288];
    for (unsigned s = 0; s < 288; s++)
        lit_len[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
    make_codes(lit_len, 288, lit_code);
    memcpy(h->lit_len, lit_len, sizeof h->lit_len);
    memcpy(h->lit_code, lit_code, sizeof h->lit_code);
    memset(h->dist_len, 0, sizeof h->dist_len);
    memset(h->dist_code, 0, sizeof h->dist_code);
    memset(h->dist_len, 5, DIST_SYMS);
    make_codes(h->dist_len, DIST_SYMS, h->dist_code);
}

/* Run-length code lengths[0..n) with 16/17/18 (RFC 1951 3.2.7) into
 * sym/extra (at most n entries); counts into freq. */
static size_t rle_lengths(const uint8_t *lens, size_t n, uint8_t *sym, uint8_t *extra, uint32_t *freq)
{
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        uint8_t v = lens[i];
        size_t run = 1;
        while (i + run < n && lens[i + run] == v)
            run++;
        i += run;
        if (v == 0) {
            while (run >= 11) {
                size_t r = run < 138 ? run : 138;
                sym[out] = 18;
                extra[out++] = (uint8_t)(r - 11);
                run -= r;
            }
            if (run >= 3) {
                sym[out] = 17;
                extra[out++] = (uint8_t)(run - 3);
                run = 0;
            }
        } else {
            sym[out] = v;
            extra[out++] = 0;
            run--;
            while (run >= 3) {
                size_t r = run < 6 ? run : 6;
                sym[out] = 16;
                extra[out++] = (uint8_t)(r - 3);
                run -= r;
            }
        }
        while (run--) {
            sym[out] = v;
            extra[out++] = 0;
        }
    }
    memset(freq, 0, CODELEN_SYMS * sizeof *freq);
    for (size_t k = 0; k < out; k++)
        freq[sym[k]]++;
    return out;
}

static void write_symbols(struct writer *w, const struct huffman *h, const uint32_t *syms, size_t n)
{
    uint64_t acc = w->acc;
    unsigned bits = w->n;
    unsigned char *p = w->p;
    for (size_t k = 0; k < n; k++) {
        uint32_t s = syms[k];
        unsigned ls = s & 511, ds = (s >> 9) & 31;
        acc |= (uint64_t)h->lit_code[ls] << bits;
        bits += h->lit_len[ls];
        acc |= (uint64_t)((s >> 14) & 31) << bits;
        bits += lit_extra[ls];
        acc |= (uint64_t)h->dist_code[ds] << bits;
        bits += h->dist_len[ds];
        acc |= (uint64_t)(s >> 19) << bits;
        bits += dist_extra[ds];
        store64(p, acc);
        p += bits >> 3;
        acc >>= bits & 56;
        bits &= 7;
    }
    w->acc = acc;
    w->n = bits;
    w->p = p;
    put_bits(w, h->lit_code[END_OF_BLOCK], h->lit_len[END_OF_BLOCK]);
    flush_bits(w);
}

static void write_stored(struct writer *w, const unsigned char *data, size_t len, int last)
{
    do {
        size_t part = len < STORED_MAX ? len : STORED_MAX;
        put_bits(w, last && part == len, 3); /* BFINAL, BTYPE 00 */
        align_bits(w);
        put_bits(w, (uint32_t)part | (uint32_t)(part ^ 0xffff) << 16, 32);
        flush_bits(w);
        memcpy(w->p, data, part);
        w->p += part;
        data += part;
        len -= part;
    } while (len);
}

/* Room for bits more bits plus the writer's 8-byte stores. */
static int has_room(const struct writer *w, uint64_t bits)
{
    return (uint64_t)(w->end - w->p) >= (w->n + bits + 7) / 8 + 8;
}

/* One block for data[0..len) whose symbols are st->syms[0..nsyms): the
 * cheapest of dynamic, fixed and stored. Resets the frequencies. */
static int write_block(struct state *st, struct writer *w, const unsigned char *data, size_t len, size_t nsyms,
                       int last)
{
    struct huffman dyn, fixed;
    uint8_t lens[LITLEN_SYMS + DIST_SYMS], rle_sym[LITLEN_SYMS + DIST_SYMS], rle_extra[LITLEN_SYMS + DIST_SYMS];
    uint8_t cl_len[CODELEN_SYMS];
    uint16_t cl_code[CODELEN_SYMS];
    uint32_t cl_freq[CODELEN_SYMS];
    int rc = KF_ETOOBIG;

    memset(&dyn, 0, sizeof dyn);
    st->lit_freq[END_OF_BLOCK] = 1;
    build_lengths(st->lit_freq, LITLEN_SYMS, MAX_BITS, dyn.lit_len);
    build_lengths(st->dist_freq, DIST_SYMS, MAX_BITS, dyn.dist_len);
    unsigned hlit = LITLEN_SYMS, hdist = DIST_SYMS, hclen = CODELEN_SYMS;
    while (hlit > 257 && !dyn.lit_len[hlit - 1])
        hlit--;
    while (hdist > 1 && !dyn.dist_len[hdist - 1])
        hdist--;
    memcpy(lens, dyn.lit_len, hlit);
    memcpy(lens + hlit, dyn.dist_len, hdist);
    size_t nrle = rle_lengths(lens, hlit + hdist, rle_sym, rle_extra, cl_freq);
    build_lengths(cl_freq, CODELEN_SYMS, CODELEN_MAX_BITS, cl_len);
    while (hclen > 4 && !cl_len[codelen_order[hclen - 1]])
        hclen--;

    static const uint8_t rle_extra_bits[CODELEN_SYMS] = {[16] = 2, [17] = 3, [18] = 7};
    uint64_t extra = 0, dyn_bits = 3 + 5 + 5 + 4 + 3 * hclen, fixed_bits = 3;
    for (size_t k = 0; k < nrle; k++)
        dyn_bits += cl_len[rle_sym[k]] + rle_extra_bits[rle_sym[k]];
    for (unsigned s = 0; s < LITLEN_SYMS; s++) {
        uint64_t f = st->lit_freq[s];
        dyn_bits += f * dyn.lit_len[s];
        fixed_bits += f * (s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8);
        extra += f * lit_extra[s];
    }
    for (unsigned d = 0; d < DIST_SYMS; d++) {
        uint64_t f = st->dist_freq[d];
        dyn_bits += f * dyn.dist_len[d];
        fixed_bits += f * 5;
        extra += f * dist_extra[d];
    }
    dyn_bits += extra;
    fixed_bits += extra;
    /* Stored: the first header is padded from where the writer stands, the
     * others from a byte boundary (3 + 5 bits). */
    uint64_t parts = len ? (len + STORED_MAX - 1) / STORED_MAX : 1;
    uint64_t stored_bits = ((w->n + 3 + 7) & ~7u) - w->n + 8 * (parts - 1) + 32 * parts + 8 * (uint64_t)len;

    if (stored_bits <= dyn_bits && stored_bits <= fixed_bits) {
        if (!has_room(w, stored_bits))
            goto out;
        write_stored(w, data, len, last);
    } else if (fixed_bits <= dyn_bits) {
        if (!has_room(w, fixed_bits))
            goto out;
        fixed_huffman(&fixed);
        put_bits(w, (uint32_t)last | 1 << 1, 3);
        write_symbols(w, &fixed, st->syms, nsyms);
    } else {
        if (!has_room(w, dyn_bits))
            goto out;
        make_codes(dyn.lit_len, LITLEN_SYMS, dyn.lit_code);
        make_codes(dyn.dist_len, DIST_SYMS, dyn.dist_code);
        make_codes(cl_len, CODELEN_SYMS, cl_code);
        put_bits(w, (uint32_t)last | 2 << 1, 3);
        put_bits(w, hlit - 257, 5);
        put_bits(w, hdist - 1, 5);
        put_bits(w, hclen - 4, 4);
        flush_bits(w);
        for (unsigned k = 0; k < hclen; k++) {
            put_bits(w, cl_len[codelen_order[k]], 3);
            flush_bits(w);
        }
        for (size_t k = 0; k < nrle; k++) {
            put_bits(w, cl_code[rle_sym[k]], cl_len[rle_sym[k]]);
            put_bits(w, rle_extra[k], rle_extra_bits[rle_sym[k]]);
            flush_bits(w);
        }
        write_symbols(w, &dyn, st->syms, nsyms);
    }
    rc = KF_OK;
out:
    memset(st->lit_freq, 0, sizeof st->lit_freq);
    memset(st->dist_freq, 0, sizeof st->dist_freq);
    return rc;
}

struct parse {
    const unsigned char *base;
    size_t total;
    size_t block_start; /* where the symbols in st->syms begin */
    size_t nsyms;
    int final;
};

/* Count one symbol ending at pos; a full block is written out. */
static inline int add_symbol(struct state *st, struct writer *w, struct parse *ps, uint32_t sym, size_t pos)
{
    st->syms[ps->nsyms++] = sym;
    if (ps->nsyms < BLOCK_SYMS)
        return KF_OK;
    int rc = write_block(st, w, ps->base + ps->block_start, pos - ps->block_start, ps->nsyms,
                         ps->final && pos == ps->total);
    ps->block_start = pos;
    ps->nsyms = 0;
    return rc;
}

static int add_literals(struct state *st, struct writer *w, struct parse *ps, size_t from, size_t to)
{
    while (from < to) {
        size_t n = to - from, room = BLOCK_SYMS - 1 - ps->nsyms;
        if (n > room)
            n = room;
        for (size_t k = 0; k < n; k++) {
            unsigned char c = ps->base[from + k];
            st->syms[ps->nsyms++] = c | LITERAL_DIST << 9;
            st->lit_freq[c]++;
        }
        from += n;
        if (from < to) {
            unsigned char c = ps->base[from++];
            st->lit_freq[c]++;
            int rc = add_symbol(st, w, ps, c | LITERAL_DIST << 9, from);
            if (rc)
                return rc;
        }
    }
    return KF_OK;
}

/* Greedy parse of base[start..total) with base[0..start) as the window's
 * history, one block per BLOCK_SYMS symbols. */
static int compress(struct state *st, struct writer *w, const unsigned char *base, size_t start, size_t total,
                    int final)
{
    struct parse ps = {.base = base, .total = total, .block_start = start, .final = final};
    size_t i = start;
    int rc = KF_OK;
    for (size_t j = 0; j < start && j + 8 <= total; j++)
        insert(st, base, j);
    while (i < total) {
        /* Find the next match; the bytes skipped on the way are literals. */
        size_t lit_start = i, misses = 0, len = 0;
        uint32_t dist = 0;
        while (i + 8 <= total) {
            uint32_t *slot = &st->table[hash5(base + i)];
            uint32_t cur = (uint32_t)i + BIAS;
            dist = cur - *slot;
            *slot = cur;
            if (dist - 1 < WINDOW && (uint32_t)(load64(base + i) ^ load64(base + i - dist)) == 0) {
                len = match_len(base + i, base + i - dist, total - i < MAX_MATCH ? total - i : MAX_MATCH);
                break;
            }
            i += 1 + (misses++ >> SKIP_SHIFT);
        }
        if (!len || i > total)
            i = total;
        rc = add_literals(st, w, &ps, lit_start, i);
        if (rc || !len)
            break;
        rc = add_symbol(st, w, &ps, match_symbol(st, len, dist), i + len);
        if (rc)
            break;
        /* Only the match's first and last positions go into the table
         * (zlib's level 1 skips all of a long match): cheap, and what
         * follows often repeats from there. */
        if (i + len + 8 <= total) {
            insert(st, base, i + 1);
            insert(st, base, i + 2);
            insert(st, base, i + len - 2);
            insert(st, base, i + len - 1);
        }
        i += len;
    }
    if (!rc && ps.nsyms)
        rc = write_block(st, w, base + ps.block_start, total - ps.block_start, ps.nsyms, final);
    return rc;
}

size_t kf_deflate_bound(size_t len)
{
    /* Every block costs at most its stored form: 5 bytes a 64 KiB part, a
     * partial byte; every block but the last covers >= BLOCK_SYMS bytes.
     * Then the closing empty block, padding and the writer's 8-byte stores. */
    return len + len / STORED_MAX * 5 + (len / BLOCK_SYMS + 1) * 11 + 32;
}

int kf_deflate_chunk(const unsigned char *in, size_t len, size_t dict_len, int final, unsigned char *out,
                     size_t cap, size_t *out_len)
{
    struct writer w = {.p = out, .end = out + cap};
    int rc = KF_EINVAL;
    *out_len = 0;
    if (len > KF_DEFLATE_CHUNK_MAX || dict_len > KF_DEFLATE_DICT_MAX)
        return rc;
    struct state *st = calloc(1, sizeof *st);
    if (!st)
        return KF_ENOMEM;
    if (len) {
        rc = compress(st, &w, in - dict_len, dict_len, dict_len + len, final);
        if (rc)
            goto out;
    } else if (final) {
        rc = KF_ETOOBIG;
        if (!has_room(&w, 10))
            goto out;
        put_bits(&w, 1 | 1 << 1, 3); /* a final fixed block with just its end */
        put_bits(&w, 0, 7);
    }
    rc = KF_ETOOBIG;
    if (!has_room(&w, 3 + 7 + 32))
        goto out;
    if (!final) {
        put_bits(&w, 0, 3); /* the sync flush: an empty stored block */
        align_bits(&w);
        put_bits(&w, 0xffff0000u, 32);
    }
    align_bits(&w);
    *out_len = (size_t)(w.p - out);
    rc = KF_OK;
out:
    free(st);
    return rc;
}
