/* Module root discovery and import path rewriting for uploads. */
#include "modroot.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "tar.h"

char *modroot_find(const char *dir, char *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        kf_fail(err, KF_ETOOBIG, "the working directory path is too long");
        return NULL;
    }
    for (;;) {
        size_t len = strlen(path);
        char gomod[PATH_MAX + 8];
        struct stat st;
        snprintf(gomod, sizeof gomod, "%s/go.mod", len == 1 && path[0] == '/' ? "" : path);
        if (stat(gomod, &st) == 0 && S_ISREG(st.st_mode))
            return strdup(path);
        char *slash = strrchr(path, '/');
        if (!slash || (slash == path && len == 1))
            break;
        if (slash == path)
            slash[1] = 0; /* "/x" -> "/" */
        else
            *slash = 0;
    }
    kf_fail(err, KF_ENOTFOUND, "no go.mod in %s or above it: run kofarm inside a Go module (or build from git with --git)",
            dir);
    return NULL;
}

static int is_relative(const char *p)
{
    return strcmp(p, ".") == 0 || strcmp(p, "..") == 0 || strncmp(p, "./", 2) == 0 || strncmp(p, "../", 3) == 0;
}

char *modroot_rewrite(const char *root, const char *cwd, const char *path, char *err)
{
    if (!is_relative(path))
        return strdup(path);
    size_t root_len = strlen(root);
    const char *sub = "";
    if (strcmp(root, "/") == 0)
        sub = cwd + 1;
    else if (strncmp(cwd, root, root_len) == 0 && (cwd[root_len] == '/' || cwd[root_len] == 0))
        sub = cwd[root_len] ? cwd + root_len + 1 : "";
    else {
        kf_fail(err, KF_EINTERNAL, "%s is not inside the module at %s", cwd, root);
        return NULL;
    }
    char *joined = NULL;
    if (asprintf(&joined, "%s%s%s", sub, *sub ? "/" : "", path) < 0) {
        kf_fail(err, KF_ENOMEM, "out of memory");
        return NULL;
    }
    char *clean = kf_tar_path_clean(joined);
    free(joined);
    if (!clean) {
        kf_fail(err, KF_ENOMEM, "out of memory");
        return NULL;
    }
    if (strcmp(clean, "..") == 0 || strncmp(clean, "../", 3) == 0) {
        kf_fail(err, KF_EINVAL, "the import path %s is outside the module at %s", path, root);
        free(clean);
        return NULL;
    }
    char *out = NULL;
    if (strcmp(clean, ".") == 0)
        out = strdup(".");
    else if (asprintf(&out, "./%s", clean) < 0)
        out = NULL;
    free(clean);
    if (!out)
        kf_fail(err, KF_ENOMEM, "out of memory");
    return out;
}
