/* A tar writer that produces, byte for byte, what Go's archive/tar writes
 * for ko's headers (regular files, directories and symlinks, uid/gid 0, no
 * user or group names): USTAR when the entry fits, else a PAX extended header. */
#ifndef KF_TAR_H
#define KF_TAR_H

#include <stddef.h>
#include "buf.h"
#include "error.h"

#define KF_TAR_BLOCK 512
#define KF_TAR_REG '0'
#define KF_TAR_DIR '5'
#define KF_TAR_SYMLINK '2'

struct kf_tar_entry {
    const char *name;  /* written as given (Go does not clean Header.Name) */
    char typeflag;     /* KF_TAR_REG, KF_TAR_DIR or KF_TAR_SYMLINK */
    long long mode;    /* permission bits, e.g. 0555 */
    long long size;    /* data bytes that follow; 0 for a directory */
    int has_mtime;     /* 0 is Go's zero time.Time, which Go writes as 0 */
    long long mtime;   /* seconds since 1970, may be negative (then PAX) */
    const char *linkname; /* a symlink's target (PAX "linkpath" when it does not fit USTAR) */
};

/* One archive being written into a buffer. Not thread-safe: one writer per
 * thread; different writers are independent. */
struct kf_tar {
    struct kf_buf *out;            /* borrowed; its cap bounds the archive */
    unsigned long long remaining;  /* data bytes the current entry still expects */
    size_t pad;                    /* zero bytes owed after the current entry */
    int closed;
    int failed;                    /* sticky error, as in Go: the archive is unusable */
};

void kf_tar_init(struct kf_tar *tw, struct kf_buf *out);
/* Start an entry: pads the previous one (which must be complete) and appends
 * its header block(s). KF_EINVAL for what Go would refuse, KF_ETOOBIG when
 * the buffer's cap is hit. */
int kf_tar_write_header(struct kf_tar *tw, const struct kf_tar_entry *e, char *err) KF_MUST_CHECK;
/* Append data of the current entry; more than its size is KF_EINVAL. */
int kf_tar_write(struct kf_tar *tw, const void *data, size_t len, char *err) KF_MUST_CHECK;
/* Append exactly len bytes read from fd (read straight into the archive) as
 * data of the current entry. KF_EIO when fd ends early or holds more, as
 * Go's io.Copy into the entry would fail; what names fd in messages. */
int kf_tar_write_fd(struct kf_tar *tw, int fd, unsigned long long len, const char *what, char *err) KF_MUST_CHECK;
/* Pad the last entry and append the two zero blocks that end an archive
 * (like Go: no padding to a 10240-byte record). */
int kf_tar_close(struct kf_tar *tw, char *err) KF_MUST_CHECK;

/* Go's path.Clean of p into a new string (caller frees); NULL when out of memory. */
char *kf_tar_path_clean(const char *p);

#endif
