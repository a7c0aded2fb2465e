/* Growable, capped byte buffer. */
#include <limits.h>
#include <sys/stat.h>
#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void kf_buf_init(struct kf_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : KF_BUF_DEFAULT_MAX;
}

void kf_buf_free(struct kf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void kf_buf_reset(struct kf_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}

int kf_buf_reserve(struct kf_buf *b, size_t extra)
{
    size_t max = b->max ? b->max : KF_BUF_DEFAULT_MAX;
    if (extra > max || b->len > max - extra)
        return KF_ETOOBIG;
    size_t need = b->len + extra + 1; /* room for the NUL */
    if (need <= b->cap)
        return KF_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    unsigned char *p = realloc(b->data, cap);
    if (!p)
        return KF_ENOMEM;
    b->data = p;
    b->cap = cap;
    return KF_OK;
}

int kf_buf_append(struct kf_buf *b, const void *data, size_t len)
{
    int rc = kf_buf_reserve(b, len);
    if (rc)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
    return KF_OK;
}

int kf_buf_append_str(struct kf_buf *b, const char *s)
{
    return kf_buf_append(b, s, strlen(s));
}

int kf_buf_appendf(struct kf_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return KF_EINVAL;
    int rc = kf_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return KF_OK;
}

int kf_buf_append_zeros(struct kf_buf *b, size_t len)
{
    int rc = kf_buf_reserve(b, len);
    if (rc)
        return rc;
    memset(b->data + b->len, 0, len);
    b->len += len;
    b->data[b->len] = 0;
    return KF_OK;
}

unsigned char *kf_buf_steal(struct kf_buf *b, size_t *len)
{
    unsigned char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

int kf_buf_read_file(struct kf_buf *b, const char *path, char *err)
{
    int rc = KF_EIO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kf_fail(err, errno == ENOENT ? KF_ENOTFOUND : KF_EIO, "%s: %s", path, strerror(errno));
    for (;;) {
        rc = kf_buf_reserve(b, 65536);
        if (rc == KF_ETOOBIG) {
            /* Maybe the file fits exactly: try what room is left. */
            size_t room = b->max - b->len;
            if (room == 0) {
                char c;
                if (read(fd, &c, 1) == 0) {
                    rc = KF_OK;
                    break;
                }
                rc = kf_fail(err, KF_ETOOBIG, "%s: larger than %zu bytes", path, b->max);
                goto out;
            }
            rc = kf_buf_reserve(b, room);
        }
        if (rc)
            goto out;
        ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = kf_fail(err, KF_EIO, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
        b->data[b->len] = 0;
    }
    rc = KF_OK;
out:
    close(fd);
    return rc;
}

int kf_write_file_atomic(const char *path, const void *data, size_t len, int mode, char *err)
{
    int rc = KF_EIO;
    char tmp[4096];
    /* A unique name per call: two threads writing the same blob (two
     * platforms sharing a base layer) must not rename each other's file. */
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return kf_fail(err, KF_EINVAL, "path too long: %s", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return kf_fail(err, KF_EIO, "%s: %s", tmp, strerror(errno));
    if (fchmod(fd, (mode_t)mode) != 0) {
        rc = kf_fail(err, KF_EIO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = kf_fail(err, KF_EIO, "%s: %s", tmp, strerror(errno));
            goto out;
        }
        p += n;
        len -= (size_t)n;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = kf_fail(err, KF_EIO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = kf_fail(err, KF_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    rc = KF_OK;
out:
    if (fd >= 0)
        close(fd);
    if (rc)
        unlink(tmp);
    return rc;
}

int kf_mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

int kf_write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += (size_t)n;
        len -= (size_t)n;
    }
    return 0;
}
