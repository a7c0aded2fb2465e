/* Image names for import paths, exactly as ko's namers make them. */
#ifndef KF_NAMING_H
#define KF_NAMING_H

#include "error.h"

enum kf_naming {
    KF_NAMING_MD5,      /* repo/<base>-<md5(importpath)> (ko's default) */
    KF_NAMING_BASE,     /* repo/<base>            (-B) */
    KF_NAMING_PRESERVE, /* repo/<importpath>      (-P) */
    KF_NAMING_BARE,     /* repo                   (--bare) */
};

/* "md5", "base", "preserve", "bare". */
int kf_naming_parse(const char *s, enum kf_naming *out) KF_MUST_CHECK;
const char *kf_naming_str(enum kf_naming n);
/* The image name (without tag) for importpath under repo. ko lowercases the
 * import path first (registries want lowercase), then joins like path.Join.
 * A leading "ko://" is stripped. Caller frees; NULL on allocation failure. */
char *kf_naming_image_name(const char *repo, const char *importpath, enum kf_naming naming);
/* The binary's file name in /ko-app: the import path's last element, "app"
 * when that is "." or "/". Caller frees. */
char *kf_naming_app_filename(const char *importpath);
/* path.Join of two slash paths, cleaned (no "//", ".", ".."). Caller frees. */
char *kf_naming_path_join(const char *a, const char *b);

#endif
