/* The resolve job's engine part (worker/resolve.c), called by job.c once
 * the source is in src. */
#ifndef KF_WKRESOLVE_H
#define KF_WKRESOLVE_H

#include <jansson.h>
#include <stddef.h>

#include "joblog.h"
#include "worker.h"

struct wk_resolve_job {
    const struct wk_config *cfg;
    const json_t *spec;
    const char *src;                /* the checkout */
    const char *commit;             /* NULL for uploads */
    const volatile int *cancel;
    struct wk_joblog *log;
    long long started;              /* wk_now_ms() when the job started */
};

struct wk_resolve_out {
    json_t *result;     /* caller decrefs */
    unsigned char *yaml; /* release.yaml, caller frees */
    size_t len;
};

/* Resolves; on failure a kf_rc with err (paths relative to src), and the
 * engine's error lines in the job log. */
int wk_resolve(const struct wk_resolve_job *job, struct wk_resolve_out *out, char *err);

#endif
