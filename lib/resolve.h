/* ko resolve on kofarm's engine: find the image references in Kubernetes
 * YAML (ko://IMPORTPATH, bare main packages, tags under image:), build or
 * look each up once, and splice the results into the original bytes.
 * Everything works on bytes in memory, so a worker can resolve YAML it
 * received without touching the file system. */
#ifndef KF_RESOLVE_H
#define KF_RESOLVE_H

#include <stddef.h>

#include "build.h"
#include "digest.h"
#include "error.h"

/* Defaults of struct kf_resolve_limits (0 there picks these). */
#define KF_RESOLVE_MAX_INPUT ((size_t)256 << 20)     /* all inputs together */
#define KF_RESOLVE_MAX_DOC ((size_t)16 << 20)        /* one YAML document */
#define KF_RESOLVE_MAX_ALIAS_NODES ((size_t)1000000) /* nodes reached through aliases, per document */
#define KF_RESOLVE_MAX_ALIASES ((size_t)10000)       /* alias events per document */
#define KF_RESOLVE_MAX_DEPTH ((size_t)512)           /* nesting of mappings and sequences */
#define KF_RESOLVE_MAX_REFS ((size_t)512)            /* unique references to build or pin */
#define KF_RESOLVE_MAX_SITES ((size_t)1000000)       /* scalars rewritten, all inputs */
#define KF_RESOLVE_MAX_FILES ((size_t)10000)         /* files found under the -f paths */

struct kf_resolve_limits {
    size_t max_input, max_doc, max_alias_nodes, max_aliases, max_depth, max_refs, max_sites;
};

/* One YAML stream: name is used in messages ("config/app.yaml", "-"). */
struct kf_resolve_input {
    const char *name;
    const unsigned char *data;
    size_t len;
};

enum kf_resolve_kind {
    KF_RESOLVE_KO = 1, /* "ko://IMPORTPATH" */
    KF_RESOLVE_BARE,   /* a main package named without ko:// (--strict=false) */
    KF_RESOLVE_TAG,    /* an image: value naming a tag (--pin-tags) */
};

/* One unique reference found in the inputs. */
struct kf_resolve_ref {
    enum kf_resolve_kind kind;
    char *value;        /* KO/BARE: the import path (no ko://); TAG: the value as written */
    char *replacement;  /* "REPO/NAME@sha256:..." or, for TAG, value + "@sha256:..." (set by the resolver) */
    char digest[KF_DIGEST_LEN];
    char where[256];    /* "FILE:LINE:COL" of its first occurrence */
    size_t uses;        /* occurrences in the kept documents */
};

/* Fills replacement (malloc'd; the engine frees it) and digest of each of
 * refs[0..n) (all of one class: KO/BARE for build, TAG for pin). On failure
 * it may append one line per failing reference to errors (NULL-safe:
 * kf_resolve_errorf) and returns an error with a summary in err. */
struct kf_resolve_errors;
typedef int (*kf_resolve_fn)(void *ctx, struct kf_resolve_ref **refs, size_t n, struct kf_resolve_errors *errors,
                             char *err);

struct kf_resolve_opts {
    int strict;                          /* 1 (ko's default): only ko:// values are references */
    const char *const *main_packages;    /* strict == 0: import paths that count bare (kf_resolve_main_packages) */
    size_t n_main_packages;
    const char *selector;                /* kubectl label selector over metadata.labels; NULL/"" keeps all */
    int pin_tags;                        /* also pin image: values that name a tag */
    struct kf_resolve_limits limits;     /* zeroes pick the defaults above */
    /* kf_resolve_run: how references are built (importpaths ignored; workdir is the module) and how the
     * registry is reached for pin_tags (build.reg). */
    struct kf_build_opts build;
    /* kf_resolve_with: replaces building / pinning (tests, a worker with its own builder). NULL build_fn
     * in kf_resolve_with refuses every reference; NULL pin_fn refuses pin_tags. */
    kf_resolve_fn build_fn, pin_fn;
    void *fn_ctx;
};

struct kf_resolve_result {
    unsigned char *yaml;             /* the resolved stream (NUL-terminated past len) */
    size_t len;
    struct kf_resolve_ref *refs;     /* every reference built or pinned, build ones first, first-seen order */
    size_t n_refs;
    char *errors;                    /* on failure: every error, one a line ("FILE:LINE:COL: ..."), or NULL */
    size_t n_docs_in, n_docs_out;    /* documents read / kept by the selector */
};

/* Resolves in[0..n) (in order) into *out: builds every ko:// (and bare)
 * reference with kf_build_run (one run, all import paths: the engine's job
 * limit gives the concurrency) and looks tags up in their registries. On
 * failure out->yaml is NULL (nothing partial) and out->errors may list every
 * error; err has a summary. Free out with kf_resolve_result_free either way. */
int kf_resolve_run(const struct kf_resolve_opts *o, const struct kf_resolve_input *in, size_t n,
                   struct kf_resolve_result *out, char *err) KF_MUST_CHECK;
/* The same with o->build_fn / o->pin_fn doing the building and pinning. */
int kf_resolve_with(const struct kf_resolve_opts *o, const struct kf_resolve_input *in, size_t n,
                    struct kf_resolve_result *out, char *err) KF_MUST_CHECK;
void kf_resolve_result_free(struct kf_resolve_result *r);

/* Appends one line to the error list (capped; later lines are counted). */
void kf_resolve_errorf(struct kf_resolve_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Files named by -f arguments, read into memory. */
struct kf_resolve_files {
    struct kf_resolve_input *inputs; /* name and data owned */
    size_t n;
};

/* Expands paths as ko does: a file is read whatever its name; a directory
 * gives its *.yaml, *.yml and *.json files in lexical order (recursive: its
 * subdirectories too, depth-first in lexical order); "-" reads stdin (once).
 * no_symlinks refuses symbolic links (a worker reading an uploaded tree).
 * KF_ETOOBIG past max_input bytes in all (0: KF_RESOLVE_MAX_INPUT) or
 * KF_RESOLVE_MAX_FILES files. Free with kf_resolve_files_free, even on failure. */
int kf_resolve_files_load(const char *const *paths, size_t n, int recursive, int no_symlinks, size_t max_input,
                          struct kf_resolve_files *out, char *err) KF_MUST_CHECK;
void kf_resolve_files_free(struct kf_resolve_files *f);

/* The import paths of the main packages of the module in workdir (`go list
 * ./...`), for --strict=false. *mains NULL-terminated; caller frees with
 * kf_go_env_free (gobuild.h). */
int kf_resolve_main_packages(const char *go, const char *workdir, const volatile int *cancel, char ***mains,
                             size_t *n, char *err) KF_MUST_CHECK;

#endif
