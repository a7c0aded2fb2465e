/* kofarm's single error type: 0 is success, a negative kf_rc otherwise.
 * Human text goes into a caller-supplied buffer of KF_ERRLEN bytes. */
#ifndef KF_ERROR_H
#define KF_ERROR_H

#include <stddef.h>

#define KF_ERRLEN 1024
#define KF_MUST_CHECK __attribute__((warn_unused_result))

enum kf_rc {
    KF_OK = 0,
    KF_ENOMEM = -1,      /* allocation failed */
    KF_EINVAL = -2,      /* bad input from the user (flag, import path, YAML, ...) */
    KF_EIO = -3,         /* local file system or process error */
    KF_ENOTFOUND = -4,   /* package, image, blob or file does not exist */
    KF_EAUTH = -5,       /* registry said 401: missing or wrong credentials */
    KF_EDENIED = -6,     /* registry said 403 */
    KF_ENET = -7,        /* connection failed, timed out (transient) */
    KF_EREGISTRY = -8,   /* registry answered something unexpected (5xx after retries...) */
    KF_EBUILD = -9,      /* go build / go list failed: compile error, not main */
    KF_ECONFIG = -10,    /* .ko.yaml is malformed */
    KF_ECANCELED = -11,  /* the caller asked us to stop */
    KF_ETOOBIG = -12,    /* a size cap was hit */
    KF_EUNSUPPORTED = -13, /* valid but not supported (media type, platform) */
    KF_EINTERNAL = -14,  /* a bug */
};

/* Static text naming the error kind. */
const char *kf_strerror(int rc);

/* Format into err (KF_ERRLEN bytes, may be NULL) and return rc, for
 * "return kf_fail(err, KF_EINVAL, "...", ...);". */
int kf_fail(char *err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Transient errors are worth retrying (network, registry 5xx). */
int kf_rc_is_transient(int rc);

#endif
