/* Tar writer matching Go 1.19's archive/tar for ko's headers: format choice
 * (USTAR, prefix split, PAX), octal fields, checksum and trailer. */
#include "tar.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NAME_SIZE 100
#define PREFIX_SIZE 155
#define MAX_PAX_DATA ((size_t)1 << 20) /* Go's maxSpecialFileSize */
/* time.Time{}.Unix(): Go treats this instant as the zero time. */
#define GO_ZERO_UNIX (-62135596800LL)

enum { OFF_NAME = 0, OFF_MODE = 100, OFF_UID = 108, OFF_GID = 116, OFF_SIZE = 124, OFF_MTIME = 136,
       OFF_CHKSUM = 148, OFF_TYPE = 156, OFF_LINKNAME = 157, OFF_MAGIC = 257, OFF_VERSION = 263,
       OFF_DEVMAJOR = 329, OFF_DEVMINOR = 337, OFF_PREFIX = 345 };

static const unsigned char zero_block[KF_TAR_BLOCK];

void kf_tar_init(struct kf_tar *tw, struct kf_buf *out)
{
    memset(tw, 0, sizeof *tw);
    tw->out = out;
}

static int is_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* Go's formatString: copy, NUL-terminate when shorter; when truncated on a
 * slash, cut the trailing slashes instead. */
static void put_string(unsigned char *field, size_t width, const char *s, size_t len)
{
    memcpy(field, s, len < width ? len : width);
    if (len < width)
        field[len] = 0;
    if (len > width && field[width - 1] == '/') {
        size_t n = width;
        while (n > 0 && s[n - 1] == '/')
            n--;
        field[n] = 0;
    }
}

static int fits_octal(size_t width, long long x)
{
    return x >= 0 && (width >= 22 || (unsigned long long)x < 1ULL << (3 * (width - 1)));
}

/* Go's formatOctal: zero-padded to width-1 digits then NUL; 0 when it does not fit. */
static void put_octal(unsigned char *field, size_t width, long long x)
{
    char digits[32];
    size_t n = 0;
    unsigned long long v = fits_octal(width, x) ? (unsigned long long)x : 0;
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + (v & 7));
        v >>= 3;
    } while (v);
    char s[32];
    size_t len = 0;
    while (len + n + 1 < width)
        s[len++] = '0';
    memcpy(s + len, digits + sizeof digits - n, n);
    put_string(field, width, s, len + n);
}

static void set_ustar_magic_and_checksum(unsigned char *blk)
{
    memcpy(blk + OFF_MAGIC, "ustar\0", 6);
    memcpy(blk + OFF_VERSION, "00", 2);
    long long sum = 0;
    for (size_t i = 0; i < KF_TAR_BLOCK; i++)
        sum += (i >= OFF_CHKSUM && i < OFF_CHKSUM + 8) ? ' ' : blk[i];
    put_octal(blk + OFF_CHKSUM, 7, sum);
    blk[OFF_CHKSUM + 7] = ' ';
}

/* Go's splitUSTARPath: a long ASCII name split at a slash into prefix/name. */
static int split_ustar(const char *name, size_t len, size_t *slash)
{
    if (len <= NAME_SIZE || !is_ascii(name, len))
        return 0;
    size_t limit = len;
    if (limit > PREFIX_SIZE + 1)
        limit = PREFIX_SIZE + 1;
    else if (name[limit - 1] == '/')
        limit--;
    const char *p = memrchr(name, '/', limit);
    if (!p || p == name)
        return 0;
    size_t i = (size_t)(p - name);
    size_t suffix_len = len - i - 1;
    if (suffix_len > NAME_SIZE || suffix_len == 0 || i > PREFIX_SIZE)
        return 0;
    *slash = i;
    return 1;
}

/* The V7 and USTAR fields shared by USTAR and PAX main headers (Go's templateV7Plus). */
static void fill_template(unsigned char *blk, const struct kf_tar_entry *e, const char *name, size_t name_len,
                          long long mtime)
{
    memset(blk, 0, KF_TAR_BLOCK);
    blk[OFF_TYPE] = (unsigned char)e->typeflag;
    put_string(blk + OFF_NAME, NAME_SIZE, name, name_len);
    put_octal(blk + OFF_MODE, 8, e->mode);
    put_octal(blk + OFF_UID, 8, 0);
    put_octal(blk + OFF_GID, 8, 0);
    put_octal(blk + OFF_SIZE, 12, e->size);
    put_octal(blk + OFF_MTIME, 12, mtime);
    put_octal(blk + OFF_DEVMAJOR, 8, 0);
    put_octal(blk + OFF_DEVMINOR, 8, 0);
}

/* Go's toASCII: the bytes below 0x80, for USTAR fields of a PAX entry. A
 * new string (caller frees), NULL when out of memory. */
static char *ascii_only(const char *s, size_t *len)
{
    char *out = malloc(strlen(s) + 1);
    size_t w = 0;
    if (!out)
        return NULL;
    for (; *s; s++)
        if ((unsigned char)*s < 0x80)
            out[w++] = *s;
    out[w] = 0;
    *len = w;
    return out;
}

static size_t count_digits(size_t n)
{
    size_t d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

/* "<len> key=value\n" where len counts the whole record, itself included. */
static int append_pax_record(struct kf_buf *b, const char *key, const char *value, size_t value_len)
{
    size_t base = strlen(key) + value_len + 3; /* ' ', '=' and '\n' */
    size_t size = base + count_digits(base);
    if (base + count_digits(size) != size) /* adding the length made it one digit longer */
        size = base + count_digits(size);
    int rc = kf_buf_appendf(b, "%zu %s=", size, key);
    if (rc)
        return rc;
    rc = kf_buf_append(b, value, value_len);
    return rc ? rc : kf_buf_append(b, "\n", 1);
}

/* path.Join(dir, "PaxHeaders.0", file) of Go's path.Split(name), then made
 * ASCII, cut to 100 bytes and stripped of trailing slashes. */
static int pax_header_name(const char *name, char **out)
{
    const char *slash = strrchr(name, '/');
    size_t dir_len = slash ? (size_t)(slash - name) + 1 : 0;
    const char *file = name + dir_len;
    size_t len = strlen(name);
    char *joined = malloc(len + sizeof "/PaxHeaders.0/");
    if (!joined)
        return KF_ENOMEM;
    size_t n = 0;
    memcpy(joined, name, dir_len);
    n = dir_len;
    if (n > 0)
        joined[n++] = '/';
    memcpy(joined + n, "PaxHeaders.0", 12);
    n += 12;
    if (*file) {
        joined[n++] = '/';
        memcpy(joined + n, file, strlen(file));
        n += strlen(file);
    }
    joined[n] = 0;
    char *clean = kf_tar_path_clean(joined);
    free(joined);
    if (!clean)
        return KF_ENOMEM;
    size_t w = 0;
    for (size_t r = 0; clean[r] && w < NAME_SIZE; r++)
        if ((unsigned char)clean[r] < 0x80)
            clean[w++] = clean[r];
    while (w > 0 && clean[w - 1] == '/')
        w--;
    clean[w] = 0;
    *out = clean;
    return KF_OK;
}

/* Go's writeRawFile: a minimal header of type flag then data. */
static int append_raw_file(struct kf_buf *out, const char *name, char flag, const struct kf_buf *data)
{
    unsigned char blk[KF_TAR_BLOCK];
    memset(blk, 0, sizeof blk);
    blk[OFF_TYPE] = (unsigned char)flag;
    put_string(blk + OFF_NAME, NAME_SIZE, name, strlen(name));
    put_octal(blk + OFF_MODE, 8, 0);
    put_octal(blk + OFF_UID, 8, 0);
    put_octal(blk + OFF_GID, 8, 0);
    put_octal(blk + OFF_SIZE, 12, (long long)data->len);
    put_octal(blk + OFF_MTIME, 12, 0);
    set_ustar_magic_and_checksum(blk);
    size_t pad = (KF_TAR_BLOCK - data->len % KF_TAR_BLOCK) % KF_TAR_BLOCK;
    int rc = kf_buf_reserve(out, sizeof blk + data->len + pad);
    if (!rc)
        rc = kf_buf_append(out, blk, sizeof blk);
    if (!rc)
        rc = kf_buf_append(out, data->data, data->len);
    return rc ? rc : kf_buf_append_zeros(out, pad);
}

static int write_pax(struct kf_tar *tw, const struct kf_tar_entry *e, int long_name, int long_link, int big_size,
                     int big_mtime, long long mtime, char *err)
{
    int rc;
    char *hname = NULL, *ascii_name = NULL, *ascii_link = NULL;
    struct kf_buf recs;
    kf_buf_init(&recs, MAX_PAX_DATA);
    size_t name_len = strlen(e->name);
    char num[32];

    /* Records in Go's sorted key order: linkpath, mtime, path, size. */
    rc = KF_OK;
    if (long_link)
        rc = append_pax_record(&recs, "linkpath", e->linkname, strlen(e->linkname));
    if (!rc && big_mtime) {
        int n = snprintf(num, sizeof num, "%lld", mtime);
        rc = append_pax_record(&recs, "mtime", num, (size_t)n);
    }
    if (!rc && long_name)
        rc = append_pax_record(&recs, "path", e->name, name_len);
    if (!rc && big_size) {
        int n = snprintf(num, sizeof num, "%lld", e->size);
        rc = append_pax_record(&recs, "size", num, (size_t)n);
    }
    if (rc == KF_ETOOBIG) {
        rc = kf_fail(err, KF_EINVAL, "tar: name too long for a PAX header (%zu bytes)", name_len);
        goto out;
    }
    if (rc)
        goto out;
    rc = pax_header_name(e->name, &hname);
    if (!rc)
        rc = append_raw_file(tw->out, hname, 'x', &recs);
    if (rc)
        goto out;

    size_t w, link_w = 0;
    if (!(ascii_name = ascii_only(e->name, &w)) || (e->linkname && !(ascii_link = ascii_only(e->linkname, &link_w)))) {
        rc = KF_ENOMEM;
        goto out;
    }
    unsigned char blk[KF_TAR_BLOCK];
    fill_template(blk, e, ascii_name, w, mtime);
    if (ascii_link) /* the whole target is in the PAX record when it is long; the field keeps its ASCII head */
        put_string(blk + OFF_LINKNAME, NAME_SIZE, ascii_link, link_w);
    set_ustar_magic_and_checksum(blk);
    rc = kf_buf_append(tw->out, blk, sizeof blk);
out:
    if (rc == KF_ENOMEM)
        kf_fail(err, rc, "out of memory");
    else if (rc == KF_ETOOBIG)
        kf_fail(err, rc, "tar: archive larger than %zu bytes", tw->out->max);
    free(hname);
    free(ascii_name);
    free(ascii_link);
    kf_buf_free(&recs);
    return rc;
}

static int flush_pad(struct kf_tar *tw, char *err)
{
    if (tw->failed)
        return kf_fail(err, KF_EINTERNAL, "tar: writer used after an error");
    if (tw->closed)
        return kf_fail(err, KF_EINTERNAL, "tar: writer used after close");
    if (tw->remaining)
        return kf_fail(err, KF_EINTERNAL, "tar: previous entry is missing %llu bytes", tw->remaining);
    int rc = kf_buf_append_zeros(tw->out, tw->pad);
    if (rc)
        return kf_fail(err, rc, "tar: archive larger than %zu bytes", tw->out->max);
    tw->pad = 0;
    return KF_OK;
}

static int check_entry(const struct kf_tar_entry *e, char *err)
{
    if (e->typeflag != KF_TAR_REG && e->typeflag != KF_TAR_DIR && e->typeflag != KF_TAR_SYMLINK)
        return kf_fail(err, KF_EUNSUPPORTED, "tar: entry type '%c' not supported", e->typeflag);
    if ((e->typeflag == KF_TAR_SYMLINK) != (e->linkname && *e->linkname))
        return kf_fail(err, KF_EINVAL, "tar: %s: a symlink, and only a symlink, has a target", e->name);
    if (e->typeflag == KF_TAR_SYMLINK && e->size != 0)
        return kf_fail(err, KF_EINVAL, "tar: %s: a symlink has no data", e->name);
    if (e->mode < 0 || !fits_octal(8, e->mode))
        return kf_fail(err, KF_EINVAL, "tar: %s: bad mode %llo", e->name, (unsigned long long)e->mode);
    if (e->size < 0 || (e->typeflag == KF_TAR_DIR && e->size != 0))
        return kf_fail(err, KF_EINVAL, "tar: %s: bad size %lld", e->name, e->size);
    size_t len = strlen(e->name);
    if (e->typeflag == KF_TAR_REG && len > 0 && e->name[len - 1] == '/')
        return kf_fail(err, KF_EINVAL, "tar: %s: a file name may not end with a slash", e->name);
    return KF_OK;
}

int kf_tar_write_header(struct kf_tar *tw, const struct kf_tar_entry *e, char *err)
{
    int rc = check_entry(e, err);
    if (rc)
        return rc;
    rc = flush_pad(tw, err);
    if (rc)
        goto out;

    size_t name_len = strlen(e->name);
    int has_mtime = e->has_mtime && e->mtime != GO_ZERO_UNIX;
    long long mtime = has_mtime ? e->mtime : 0;
    size_t slash = 0;
    int long_name = name_len > NAME_SIZE || !is_ascii(e->name, name_len);
    int splittable = long_name && split_ustar(e->name, name_len, &slash);
    int big_size = !fits_octal(12, e->size);
    int big_mtime = !fits_octal(12, mtime);
    size_t link_len = e->linkname ? strlen(e->linkname) : 0;
    int long_link = link_len > NAME_SIZE || (e->linkname && !is_ascii(e->linkname, link_len));

    if ((!long_name || splittable) && !big_size && !big_mtime && !long_link) {
        unsigned char blk[KF_TAR_BLOCK];
        if (splittable) {
            fill_template(blk, e, e->name + slash + 1, name_len - slash - 1, mtime);
            put_string(blk + OFF_PREFIX, PREFIX_SIZE, e->name, slash);
        } else {
            fill_template(blk, e, e->name, name_len, mtime);
        }
        if (e->linkname)
            put_string(blk + OFF_LINKNAME, NAME_SIZE, e->linkname, link_len);
        set_ustar_magic_and_checksum(blk);
        rc = kf_buf_append(tw->out, blk, sizeof blk);
        if (rc)
            rc = kf_fail(err, rc, "tar: archive larger than %zu bytes", tw->out->max);
    } else {
        rc = write_pax(tw, e, long_name, long_link, big_size, big_mtime, mtime, err);
    }
    if (rc)
        goto out;
    tw->remaining = e->typeflag == KF_TAR_REG ? (unsigned long long)e->size : 0;
    tw->pad = (size_t)((KF_TAR_BLOCK - tw->remaining % KF_TAR_BLOCK) % KF_TAR_BLOCK);
out:
    if (rc)
        tw->failed = 1;
    return rc;
}

int kf_tar_write(struct kf_tar *tw, const void *data, size_t len, char *err)
{
    if (tw->failed || tw->closed)
        return kf_fail(err, KF_EINTERNAL, "tar: writer used after an error or close");
    if (len > tw->remaining)
        return kf_fail(err, KF_EINVAL, "tar: %zu bytes written past the entry's size", len - (size_t)tw->remaining);
    int rc = kf_buf_append(tw->out, data, len);
    if (rc) {
        tw->failed = 1;
        return kf_fail(err, rc, "tar: archive larger than %zu bytes", tw->out->max);
    }
    tw->remaining -= len;
    return KF_OK;
}

static int read_some(int fd, void *buf, size_t len, size_t *got)
{
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0) {
            *got = (size_t)n;
            return 0;
        }
        if (errno != EINTR)
            return -1;
    }
}

int kf_tar_write_fd(struct kf_tar *tw, int fd, unsigned long long len, const char *what, char *err)
{
    struct kf_buf *out = tw->out;
    if (tw->failed || tw->closed)
        return kf_fail(err, KF_EINTERNAL, "tar: writer used after an error or close");
    if (len > tw->remaining)
        return kf_fail(err, KF_EINVAL, "tar: %s: %llu bytes past the entry's size", what, len - tw->remaining);
    int rc = len > SIZE_MAX ? KF_ETOOBIG : kf_buf_reserve(out, (size_t)len);
    if (rc) {
        tw->failed = 1;
        return kf_fail(err, rc, "tar: %s: archive larger than %zu bytes", what, out->max);
    }
    size_t want = (size_t)len, done = 0, got;
    while (done < want) {
        if (read_some(fd, out->data + out->len + done, want - done, &got) != 0) {
            rc = kf_fail(err, KF_EIO, "read %s: %s", what, strerror(errno));
            goto out;
        }
        if (got == 0) {
            rc = kf_fail(err, KF_EIO, "%s: shrank while being read", what);
            goto out;
        }
        done += got;
    }
    char probe;
    if (read_some(fd, &probe, 1, &got) != 0 || got != 0) {
        rc = kf_fail(err, KF_EIO, "%s: grew while being read", what);
        goto out;
    }
    out->len += want;
    out->data[out->len] = 0;
    tw->remaining -= len;
out:
    if (rc)
        tw->failed = 1;
    return rc;
}

int kf_tar_close(struct kf_tar *tw, char *err)
{
    int rc = flush_pad(tw, err);
    if (!rc) {
        rc = kf_buf_append(tw->out, zero_block, sizeof zero_block);
        if (!rc)
            rc = kf_buf_append(tw->out, zero_block, sizeof zero_block);
        if (rc)
            rc = kf_fail(err, rc, "tar: archive larger than %zu bytes", tw->out->max);
    }
    if (rc)
        tw->failed = 1;
    tw->closed = 1;
    return rc;
}

char *kf_tar_path_clean(const char *p)
{
    size_t n = strlen(p);
    char *out = malloc(n + 2);
    if (!out)
        return NULL;
    int rooted = n > 0 && p[0] == '/';
    size_t r = 0, w = 0, dotdot = 0;
    if (rooted) {
        out[w++] = '/';
        r = dotdot = 1;
    }
    while (r < n) {
        if (p[r] == '/') {
            r++;
        } else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
            r++;
        } else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && out[w] != '/')
                    w--;
            } else if (!rooted) {
                if (w > 0)
                    out[w++] = '/';
                out[w++] = '.';
                out[w++] = '.';
                dotdot = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0))
                out[w++] = '/';
            for (; r < n && p[r] != '/'; r++)
                out[w++] = p[r];
        }
    }
    if (w == 0)
        out[w++] = '.';
    out[w] = 0;
    return out;
}
