/* Small git repository operations done in-process rather than by spawning
 * git (each git process costs ~5 ms, and a build's checkout needed several):
 * whether a commit is in a repository's object store, and a checkout's
 * .git that borrows a mirror's objects and tags. Only the SHA-1 object
 * format; callers fall back to git for anything these do not cover. */
#ifndef KF_GITLOCAL_H
#define KF_GITLOCAL_H

#include "error.h"

/* Answers of kf_gitlocal_has_commit. */
#define KF_GITLOCAL_ABSENT 0
#define KF_GITLOCAL_COMMIT 1
#define KF_GITLOCAL_UNKNOWN 2 /* present but stored as a delta or not a commit, or unreadable: ask git */

/* Looks sha (40 lowercase hex) up in gitdir's objects: loose, then every
 * pack index (v2). Alternates are not followed. */
int kf_gitlocal_has_commit(const char *gitdir, const char *sha);

/* Creates dest_dir (which must not exist) with a .git holding HEAD detached
 * at sha, objects borrowed from mirror (an absolute path to a bare
 * repository) through objects/info/alternates, the mirror's tags copied as
 * packed refs (git describe sees them) and no index: `git checkout` then
 * fills the tree. KF_EIO on a filesystem error (dest_dir may be partial). */
int kf_gitlocal_borrow(const char *mirror, const char *sha, const char *dest_dir, char *err) KF_MUST_CHECK;

#endif
