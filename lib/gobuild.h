/* Driving the go tool as ko does: a clean environment, `go list` to resolve
 * and check import paths, `go build` per platform, `go env` for templates.
 * Everything here is safe to call from several threads at once (distinct
 * outputs for concurrent builds), provided nobody calls setenv meanwhile. */
#ifndef KF_GOBUILD_H
#define KF_GOBUILD_H

#include <stddef.h>
#include "error.h"
#include "log.h"

#define KF_GO_ARG_MAX 1024 /* longest import path or directory argument */

struct kf_gopkg {
    char *import_path;   /* "example.com/hello/cmd/app" */
    char *name;          /* Go package name */
    char *dir;           /* absolute directory of the package */
    char *first_go_file; /* absolute path of GoFiles[0]; kodata lives next to it */
    char *module_path;   /* "example.com/hello", NULL outside a module */
    char *module_dir;    /* NULL outside a module */
};

/* Frees the strings and zeroes *p; a zeroed struct is fine. */
void kf_gopkg_free(struct kf_gopkg *p);

/* The environment go runs with: only what Go needs from ours (PATH, HOME,
 * GOCACHE, GOMODCACHE, GOPATH, GOPROXY, GONOPROXY, GOPRIVATE, GONOSUMDB,
 * GOSUMDB, GOFLAGS, GOINSECURE, GOROOT, GOTOOLCHAIN, GO111MODULE, GOWORK,
 * GOEXPERIMENT, GOVCS, TMPDIR, XDG_CACHE_HOME, SSL_CERT_FILE/DIR, the
 * proxy variables in both cases). Credentials (DOCKER_CONFIG, registry
 * passwords, KOFARM_*) never pass. With none of GOCACHE, HOME and
 * XDG_CACHE_HOME set, GOCACHE becomes $TMPDIR/kofarm-gocache-<uid> (created
 * 0700, refused when someone else owns it). *envp is NULL-terminated "K=V";
 * caller frees with kf_go_env_free. */
int kf_go_clean_env(char ***envp, char *err) KF_MUST_CHECK;
void kf_go_env_free(char **envp);

/* Resolves ko-style arguments ("./cmd/app", ".", "example.com/mod/cmd/app",
 * "ko://example.com/mod/cmd/app") with one `go list -e -json -- ARGS` run in
 * workdir; out[i] (nargs zeroed structs from the caller) answers args[i].
 * KF_EINVAL for a malformed argument (leading '-', control characters, over
 * KF_GO_ARG_MAX, a pattern with "...", a version "@v", a meta-package or a
 * .go file); KF_EBUILD when a package is missing, broken or not `main`, the
 * message naming the argument. On failure every out[i] is freed and zeroed;
 * on success the caller frees each with kf_gopkg_free. */
int kf_go_list(const char *go, const char *workdir, char *const *envp, const char *const *args, size_t nargs,
               struct kf_gopkg *out, char *err) KF_MUST_CHECK;

struct kf_gobuild_opts {
    const char *go;                    /* "go" or a path */
    const char *workdir;               /* directory to run in (the module) */
    const char *import_path;
    const char *output;                /* binary path to write */
    const char *goos, *goarch, *goarm; /* goarm NULL unless arm variant v5/v6/v7 */
    char *const *base_env;             /* from kf_go_clean_env */
    const char *const *config_env;     /* "K=V" from .ko.yaml, applied over base */
    size_t n_config_env;
    const char *const *flags;          /* expanded flags */
    size_t n_flags;
    const char *const *ldflags;        /* expanded; joined with spaces into one -ldflags= */
    size_t n_ldflags;
    int trimpath;                      /* add -trimpath */
    const volatile int *cancel;
    kf_log_fn log_fn;                  /* each line go prints, as it comes */
    void *log_ctx;
    const char *goamd64;               /* NULL unless an amd64 variant (v2, v3...) */
    int gomaxprocs, gogc;              /* > 0: GOMAXPROCS / GOGC for go, unless base_env sets them */
    long long gomemlimit_mib;          /* > 0: GOMEMLIMIT for go (MiB), unless base_env sets it */
};

/* The environment `go build` gets, as ko's buildEnv: base_env, then
 * CGO_ENABLED=0, GOOS, GOARCH, GOARM/GOAMD64 (and the tuning of
 * gomaxprocs/gogc/gomemlimit where base_env has none), then config_env; the last
 * value of a key wins. KF_EINVAL for a config entry that is not K=V.
 * Caller frees with kf_go_env_free. */
int kf_go_build_env(const struct kf_gobuild_opts *o, char ***envp, char *err) KF_MUST_CHECK;

/* The argv of the build, in ko's order: go build FLAGS [-trimpath]
 * [-ldflags=L1 L2...] -o OUTPUT IMPORTPATH. NULL-terminated copies; caller
 * frees with kf_go_env_free (which frees any string list from here). */
int kf_go_build_argv(const struct kf_gobuild_opts *o, char ***argv, char *err) KF_MUST_CHECK;

/* Runs the build. -toolexec in flags, or in GOFLAGS of base or config env,
 * is KF_EINVAL before anything runs (it would run any program). A compile
 * error is KF_EBUILD with go's output (its start, trimmed to fit) in err. */
int kf_go_build(const struct kf_gobuild_opts *o, char *err) KF_MUST_CHECK;

/* The -toolexec refusal alone, for checking a configuration early. env is
 * NULL-terminated "K=V" (may be NULL); GOFLAGS there and in config_env is
 * split on white space and checked token by token, as ko does. */
int kf_go_check_flags(const char *const *flags, size_t n, char *const *env, const char *const *config_env,
                      size_t n_config_env, char *err) KF_MUST_CHECK;

/* `go env -json` once, for {{.GoEnv.X}} templates: string values as a
 * NULL-terminated "K=V" list. Caller frees with kf_go_env_free. */
int kf_go_env_json(const char *go, const char *workdir, char *const *envp, char ***kv, char *err) KF_MUST_CHECK;

#endif
