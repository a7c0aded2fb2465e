/* Running the go tool, shared by go list, go build and go env: argv
 * without a shell, a clean environment, and go's own words in errors. */
#ifndef KF_GOTOOL_H
#define KF_GOTOOL_H

#include "buf.h"
#include "error.h"
#include "log.h"

struct kf_gotool_run {
    const char *go;             /* "go" or a path */
    const char *workdir;        /* NULL = ours */
    char *const *envp;          /* NULL-terminated "K=V" */
    const char *const *args;    /* NULL-terminated, after argv[0] */
    struct kf_buf *out, *errout; /* may be the same buffer */
    const volatile int *cancel;
    kf_log_fn line_fn;
    void *line_ctx;
};

/* Runs go; a nonzero exit is KF_EBUILD with "go <args[0]>: <stderr>" in err
 * (trimmed as kf_gotool_fail does). Thread-safe. */
int kf_gotool_run(const struct kf_gotool_run *r, char *err) KF_MUST_CHECK;

/* Formats "<what>: <text>" into err and returns rc: the text's start, its
 * trailing white space dropped, cut at a line end to fit KF_ERRLEN, control
 * characters other than newline and tab replaced by '?' (go echoes paths
 * and source names, which may hold anything). */
int kf_gotool_fail(char *err, int rc, const char *what, const char *text);

#endif
