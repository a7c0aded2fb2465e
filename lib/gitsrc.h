/* Job sources from git: URL, ref and commit validation, a cached mirror per
 * URL kept up to date by fetch, and a private checkout of one commit. */
#ifndef KF_GITSRC_H
#define KF_GITSRC_H

#include "error.h"
#include "log.h"

#define KF_GIT_URL_MAX 2048
#define KF_GIT_REF_MAX 1024

/* Validators: 0 when acceptable, else KF_EINVAL with the reason. Pure,
 * thread-safe. None of them lets a value start with '-'. */

/* https://, http://, ssh://, scp-like [user@]host:path, and file:// only
 * when allow_file. Refuses other transports ("ext::", git://), whitespace
 * and control characters, a host or user starting with '-', over 2048 bytes. */
int kf_git_validate_url(const char *url, int allow_file, char *err) KF_MUST_CHECK;
/* A branch, tag or full ref name under git check-ref-format's rules (one
 * level allowed: "main"), re-implemented here, at most 1024 bytes. */
int kf_git_validate_ref(const char *ref, char *err) KF_MUST_CHECK;
/* A full commit id: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits. */
int kf_git_validate_commit(const char *sha, char *err) KF_MUST_CHECK;

/* url for messages and logs: a scheme URL's user information (password,
 * token) replaced by "***" (scheme, "***@", host and path); other URLs as they are.
 * Truncated to size. Pure, thread-safe. */
void kf_git_shown_url(const char *url, char *out, size_t size);

struct kf_git_checkout_opts {
    const char *cache_dir;   /* mirrors live in <cache_dir>/<sha256(url) hex>.git; created if missing */
    const char *url;
    const char *ref;         /* branch, tag or ref name (tried as refs/heads/REF, refs/tags/REF, REF); or NULL */
    const char *commit;      /* exact full commit; or NULL. With both, the commit is checked out */
    const char *dest_dir;    /* must not exist, or be empty; receives the working tree and a .git */
    int allow_file;          /* accept file:// URLs (the operator's KOFARM_ALLOW_FILE_URLS) */
    char *const *envp;       /* base environment for git; NULL = ours. GIT_* variables other than
                                ssh/TLS/trace settings are dropped; prompts are disabled */
    const volatile int *cancel; /* nonzero stops git (and the wait for the mirror lock) */
    kf_log_fn log_fn;        /* progress and git's output lines; NULL = kf_logf */
    void *log_ctx;
    int timeout_ms;          /* for the whole checkout, lock wait included; 0 = none */
};

/* Updates the mirror of o->url (clone --mirror the first time, else fetch
 * --prune; skipped when an exact commit is already there), resolves the
 * ref or commit, and makes dest_dir a detached checkout of it sharing the
 * mirror's objects. commit_out gets the full hex commit id.
 *
 * Errors: bad input KF_EINVAL (before git runs); unknown ref or commit
 * KF_ENOTFOUND naming it, also for a repository the server says does not
 * exist; credentials refused KF_EAUTH; other clone or fetch failures and
 * timeouts KF_ENET with git's trimmed stderr; KF_ECANCELED. A checkout
 * holding a symlink that leaves the tree (absolute, or climbing out, by
 * kf_srctar's rules) is refused with KF_EINVAL: ko copies kodata through
 * symlinks into images. On error dest_dir is removed (emptied when it
 * existed before); the caller removes dest_dir after the job either way.
 *
 * Thread-safe; several threads and processes may use one URL at once: an
 * flock on <mirror>.lock serializes mirror updates. The checkout uses the
 * mirror's objects (git alternates), so a mirror must outlive checkouts
 * made from it, and must not be garbage collected with immediate pruning. */
int kf_git_checkout(const struct kf_git_checkout_opts *o, char commit_out[65], char *err) KF_MUST_CHECK;

#endif
