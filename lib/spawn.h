/* Running child programs (go, git, credential helpers) with an argv array,
 * never a shell; output captured, every child reaped. Thread-safe. */
#ifndef KF_SPAWN_H
#define KF_SPAWN_H

#include <stddef.h>
#include "buf.h"
#include "error.h"
#include "log.h"

struct kf_spawn {
    const char *const *argv;    /* NULL-terminated; argv[0] searched in PATH when it has no '/' */
    const char *const *envp;    /* NULL-terminated full child environment; NULL = inherit ours */
    const char *cwd;            /* NULL = ours */
    const void *stdin_data;     /* written to the child's stdin then closed; NULL = /dev/null */
    size_t stdin_len;
    struct kf_buf *out;         /* captures stdout up to its cap; NULL = discard */
    struct kf_buf *errout;      /* captures stderr; NULL = discard; may be the same buf as out */
    kf_log_fn line_fn;          /* optional: called with each output line as it arrives */
    void *line_ctx;
    const volatile int *cancel; /* polled: nonzero stops the child (TERM, then KILL) -> KF_ECANCELED */
    int timeout_ms;             /* 0 = no limit; past it the child is killed -> KF_ENET */
};

/* Runs s->argv to completion. The child gets its own process group (so a
 * terminal's Ctrl-C reaches it only through cancel), default signal
 * handling, and no descriptors of ours but 0, 1 and 2. line_fn runs in the
 * calling thread, once per line of stdout or stderr, without the newline
 * (lines over 64 KiB come in pieces). When the child has exited but a
 * grandchild still holds its output open, that group is killed after 1 s.
 * Whatever is left in the child's group when it exits is SIGKILLed, and
 * those of them that became our children (the caller set
 * PR_SET_CHILD_SUBREAPER) are reaped too, by group, never waitpid(-1).
 * Safe to call from several threads at once. */
/* Runs s->argv to completion. *exit_status gets the exit code, or 128+signal.
 * Returns 0 when the child ran (whatever its exit status); an error when it
 * could not be started, was canceled or timed out, or its output passed a cap. */
int kf_spawn_run(const struct kf_spawn *s, int *exit_status, char *err) KF_MUST_CHECK;

#endif
