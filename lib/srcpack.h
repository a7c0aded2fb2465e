/* Packing a Go module directory into the tar.gz the CLI uploads to
 * kofarm-server: deterministic (same tree, same bytes), and only what
 * kf_srctar_extract on the worker will accept. */
#ifndef KF_SRCPACK_H
#define KF_SRCPACK_H

#include <stddef.h>
#include "buf.h"
#include "error.h"

#define KF_SRCPACK_DEFAULT_MAX_BYTES ((size_t)512 << 20) /* = the worker's extraction limit */
#define KF_SRCPACK_DEFAULT_MAX_ENTRIES ((size_t)100000)
#define KF_SRCPACK_MAX_DEPTH 128
#define KF_SRCPACK_IGNORE_FILE ".kofarmignore"
#define KF_SRCPACK_IGNORE_MAX ((size_t)64 << 10) /* bytes of .kofarmignore */

/* A field left 0 takes its default. */
struct kf_srcpack_limits {
    size_t max_bytes;   /* the uncompressed tar stream, headers included */
    size_t max_entries; /* files, directories and symlinks */
};

/* Packs the tree under root into a gzip-compressed tar appended to out.
 *
 * Entries are paths relative to root ("cmd/app/main.go", directories with
 * a trailing "/"), parents before children, siblings in byte order; every
 * header has mtime 0, uid/gid 0, no owner names, mode 0755 for directories
 * and for files with any x bit, 0644 for other files. Regular files,
 * directories and symlinks only: sockets, fifos and devices are skipped;
 * hard links are stored as separate files. The gzip header carries no name
 * or time. So the archive depends on the names, contents, x bits and link
 * targets only.
 *
 * Left out: every ".git" (directory or file) at any depth, the top-level
 * "build/" directory, and what the top-level .kofarmignore matches (see
 * kf_srcpack_ignore_parse). A symlink whose target is absolute or leaves
 * the tree is KF_EINVAL naming it (the worker would refuse the upload).
 *
 * KF_ENOTFOUND when root is not a directory, KF_ETOOBIG past a limit (the
 * message names it), KF_EIO when reading fails or a file changes while it
 * is read. On error out is left as it was. *n_entries (may be NULL) gets
 * the number of entries written. lim may be NULL (defaults). */
int kf_srcpack_dir(const char *root, const struct kf_srcpack_limits *lim, struct kf_buf *out, size_t *n_entries,
                   char *err) KF_MUST_CHECK;

/* .kofarmignore: gitignore's common subset. One pattern a line; blank lines
 * and lines starting with "#" are ignored, trailing blanks dropped. "!"
 * re-includes what an earlier pattern excluded (the last match wins; as in
 * git, nothing inside an excluded directory can come back). A trailing "/"
 * matches directories only. A pattern with a "/" before its end is anchored
 * at the module root ("/vendor", "docs/[a-z]?.png"); one without matches the
 * name at any depth ("*.log"). "*" and "?" do not match "/", "[a-z]" and
 * "[!a-z]" are classes, "**" matches across "/" ("**" + "/x" at any depth,
 * "a/" + "**" everything under a). Exposed for tests. */
struct kf_srcpack_ignore;
int kf_srcpack_ignore_parse(const char *text, size_t len, struct kf_srcpack_ignore **out, char *err) KF_MUST_CHECK;
/* 1 when rel_path (relative to the root, no leading "/") is excluded. */
int kf_srcpack_ignore_match(const struct kf_srcpack_ignore *ig, const char *rel_path, int is_dir);
void kf_srcpack_ignore_free(struct kf_srcpack_ignore *ig);
/* 1 when the whole of str matches the glob pattern (rules above). */
int kf_srcpack_glob(const char *pattern, const char *str);

#endif
