/* Error kinds and the helper that formats their human text. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

const char *kf_strerror(int rc)
{
    switch (rc) {
    case KF_OK: return "ok";
    case KF_ENOMEM: return "out of memory";
    case KF_EINVAL: return "invalid input";
    case KF_EIO: return "i/o error";
    case KF_ENOTFOUND: return "not found";
    case KF_EAUTH: return "unauthorized";
    case KF_EDENIED: return "denied";
    case KF_ENET: return "network error";
    case KF_EREGISTRY: return "registry error";
    case KF_EBUILD: return "build failed";
    case KF_ECONFIG: return "configuration error";
    case KF_ECANCELED: return "canceled";
    case KF_ETOOBIG: return "too large";
    case KF_EUNSUPPORTED: return "unsupported";
    case KF_EINTERNAL: return "internal error";
    }
    return "unknown error";
}

int kf_fail(char *err, int rc, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, KF_ERRLEN, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int kf_rc_is_transient(int rc)
{
    return rc == KF_ENET || rc == KF_EREGISTRY;
}
