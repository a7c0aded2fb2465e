/* Shared by lib/srctar*.c only: path splitting, the symlink rule, the
 * byte-counting stream between the gzip and tar readers, and entry kinds,
 * so extraction (srctar.c) and the dry-run check (srctar_check.c) apply
 * exactly the same rules. */
#ifndef KF_SRCTAR_INTERNAL_H
#define KF_SRCTAR_INTERNAL_H

#include <archive.h>
#include <stddef.h>
#include <sys/types.h>

/* The uncompressed tar stream, fed to the tar reader by a "raw" reader that
 * undoes gzip (or passes a plain tar through) and counts every byte: even
 * libarchive's own buffering of a giant header stays under the cap. */
struct kf_srctar_stream {
    struct archive *raw;
    size_t produced;
    size_t cap;
    int too_big;
};

/* A relative path split into components; empty and "." ones dropped. */
struct kf_srctar_path {
    char *copy;
    char **comp;
    size_t n;
    int dotdot; /* some component is ".." */
};

/* A printable copy of name for messages, cut to size with "...". */
void kf_srctar_show_name(char *out, size_t size, const char *name);
/* Splits path (caller frees with kf_srctar_relpath_free, also on failure). */
int kf_srctar_relpath_split(struct kf_srctar_path *p, const char *path);
void kf_srctar_relpath_free(struct kf_srctar_path *p);
/* Whether a symlink in a directory depth levels below the root, pointing at
 * target, stays inside the tree. */
int kf_srctar_target_ok(size_t depth, const char *target);
/* The tar reader's read callback over a struct kf_srctar_stream. */
la_ssize_t kf_srctar_stream_read(struct archive *tar, void *client, const void **buff);
/* .git/config and friends, or a .git that is not a directory: skipped. */
int kf_srctar_is_git_config(const struct kf_srctar_path *p, mode_t type, const char *hardlink);
/* "fifo", "socket"... for a refused entry type. */
const char *kf_srctar_refused_kind(mode_t type);

#endif
