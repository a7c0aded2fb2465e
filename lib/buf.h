/* Growable byte buffer with a hard size cap (every buffer fed from outside
 * has one). The data is always NUL-terminated past len, so text can be
 * used as a C string. */
#ifndef KF_BUF_H
#define KF_BUF_H

#include <stddef.h>
#include "error.h"

#define KF_BUF_DEFAULT_MAX ((size_t)1 << 30)

struct kf_buf {
    unsigned char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max;          /* appends beyond this fail with KF_ETOOBIG; 0 = default */
};

void kf_buf_init(struct kf_buf *b, size_t max);
void kf_buf_free(struct kf_buf *b);
void kf_buf_reset(struct kf_buf *b); /* len = 0, keeps memory */
int kf_buf_reserve(struct kf_buf *b, size_t extra) KF_MUST_CHECK;
int kf_buf_append(struct kf_buf *b, const void *data, size_t len) KF_MUST_CHECK;
int kf_buf_append_str(struct kf_buf *b, const char *s) KF_MUST_CHECK;
int kf_buf_appendf(struct kf_buf *b, const char *fmt, ...) KF_MUST_CHECK
    __attribute__((format(printf, 2, 3)));
int kf_buf_append_zeros(struct kf_buf *b, size_t len) KF_MUST_CHECK;
/* Hand the data to the caller (caller frees); the buffer becomes empty. */
unsigned char *kf_buf_steal(struct kf_buf *b, size_t *len);
/* Read a whole file; KF_ETOOBIG past max bytes. */
int kf_buf_read_file(struct kf_buf *b, const char *path, char *err) KF_MUST_CHECK;
/* Writes all len bytes to fd, retrying short writes and EINTR: 0, or -1
 * with errno set. */
int kf_write_all(int fd, const void *data, size_t len) KF_MUST_CHECK;

/* Write len bytes to path atomically (temp file + rename). */
int kf_write_file_atomic(const char *path, const void *data, size_t len, int mode, char *err) KF_MUST_CHECK;

/* mkdir -p with mode 0700 for each missing directory; 0 or -1 (errno). */
int kf_mkdirs(const char *path);

#endif
