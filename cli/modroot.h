/* Remote builds upload the whole Go module: finding its root from the
 * working directory and rewriting ./relative import paths to be relative
 * to that root, where the worker resolves them. */
#ifndef KF_CLI_MODROOT_H
#define KF_CLI_MODROOT_H

#include <stddef.h>

/* The nearest directory at or above dir holding a go.mod file (caller
 * frees); NULL with a message in err (KF_ERRLEN) when there is none. */
char *modroot_find(const char *dir, char *err);

/* path as the worker must see it: "." and "./x", "../x" (relative to
 * cwd, which lies inside root) become "." or "./x" relative to root; other
 * forms (example.com/m/cmd/x, ko://...) are returned as given. Caller
 * frees; NULL with a message in err when a path leaves the module. */
char *modroot_rewrite(const char *root, const char *cwd, const char *path, char *err);

#endif
