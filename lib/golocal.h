/* Resolving a package argument the way `go list` would, without running go,
 * for the plain case only (see golocal.c); go list answers the rest. */
#ifndef KF_GOLOCAL_H
#define KF_GOLOCAL_H

#include "gobuild.h"

/* 1 when arg ("./dir", ".", the module path or one under it, optionally
 * with ko://) names a main package of the module whose go.mod is in
 * workdir (NULL: the current directory) and out holds what go list would
 * say (caller frees with kf_gopkg_free); 0, with out zeroed, when go list
 * must decide. envp is the environment go would run with. */
int kf_go_list_local(const char *workdir, char *const *envp, const char *arg, struct kf_gopkg *out);

#endif
