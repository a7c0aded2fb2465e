/* Uploaded job sources: a gzip-compressed or plain tar extracted into a job
 * directory without letting any entry reach outside it. */
#ifndef KF_SRCTAR_H
#define KF_SRCTAR_H

#include <stddef.h>
#include "error.h"

#define KF_SRCTAR_DEFAULT_MAX_BYTES ((size_t)512 << 20)
#define KF_SRCTAR_DEFAULT_MAX_ENTRIES ((size_t)100000)
#define KF_SRCTAR_DEFAULT_MAX_PATH ((size_t)4096)

/* A field left 0 takes its default. */
struct kf_srctar_limits {
    size_t max_bytes;   /* the uncompressed tar stream (headers included), and
                           separately the sum of file sizes; default 512 MiB */
    size_t max_entries; /* default 100000 */
    size_t max_path;    /* bytes in one entry's path or link target; default 4096 */
};

/* Extracts data (gzip or plain tar, told apart by content) into dest_dir,
 * which must exist (else KF_ENOTFOUND) and be empty (else KF_EINTERNAL, and
 * nothing is touched). lim may be NULL (defaults).
 *
 * Regular files, directories, symlinks and hard links only; files get 0755
 * when any x bit was set and 0644 otherwise, directories 0755, so setuid,
 * setgid and sticky bits are dropped; nothing is chowned and times are not
 * kept. Refused with KF_EINVAL and a message naming the entry: absolute
 * paths, ".." components, devices, fifos and sockets, a path that passes
 * through a symlink or a non-directory, a symlink whose target is absolute,
 * climbs out of the tree, or uses ".." after a normal component (the kernel
 * would resolve it through possible symlinks, not lexically), a hard link
 * whose target is not a regular file extracted earlier, a corrupt or
 * truncated archive. KF_ETOOBIG past a limit.
 *
 * Skipped silently: .git/config, .git/config.worktree and .git/commondir at
 * any depth, and any .git that is not a directory. A repository config can
 * name commands git runs by itself (filter drivers run during `git status`),
 * so an upload keeps its .git for `git describe` but not those.
 *
 * On any error dest_dir is emptied again (it stays, empty); the caller
 * removes dest_dir itself. Safe to call from several threads at once on
 * different directories (no chdir, no umask change). */
int kf_srctar_extract(const void *data, size_t len, const char *dest_dir, const struct kf_srctar_limits *lim,
                      char *err) KF_MUST_CHECK;

/* Reads data (gzip or plain tar) as kf_srctar_extract would and returns
 * what it would return, without writing anything: the same refusals
 * (KF_EINVAL naming the entry) and limits (KF_ETOOBIG), with the tree kept
 * in memory (about the size of all entry names). For refusing a bad upload
 * when it is submitted rather than when a worker gets to it. Thread-safe. */
int kf_srctar_check(const void *data, size_t len, const struct kf_srctar_limits *lim, char *err) KF_MUST_CHECK;

/* 1 when a symlink at link_path (relative to a tree's root, without "..")
 * whose target is target stays inside the tree by the rules above, else 0.
 * For trees made by other means (git checkouts). */
int kf_srctar_symlink_ok(const char *link_path, const char *target);

/* Removes everything inside dir, never following symlinks, with a bounded
 * number of open descriptors however deep the tree; dir itself stays. For
 * job directories (extracted uploads, git checkouts). Thread-safe. */
int kf_srctar_clear_dir(const char *dir, char *err) KF_MUST_CHECK;

#endif
