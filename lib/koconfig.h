/* ko's configuration file, .ko.yaml: finding it, parsing it strictly (libyaml),
 * and answering ko's questions for one import path (base image, build entry,
 * effective env/flags/ldflags). A loaded config is read-only: any number of
 * threads may query it at once. */
#ifndef KF_KOCONFIG_H
#define KF_KOCONFIG_H

#include <stddef.h>
#include "error.h"

#define KF_KOCONFIG_MAX_BYTES ((size_t)1 << 20) /* larger files are KF_ETOOBIG */
#define KF_KOCONFIG_MAX_DEPTH 16                /* nesting; ours needs 4 */
#define KF_KOCONFIG_MAX_NODES 100000            /* scalars + collections */

/* One `builds:` entry. id, dir and main are never NULL after parsing: as ko
 * does, a missing id becomes "#<index>" and a missing dir or main ".". The
 * lists hold what the file says, a single string being split as ko splits
 * it (flags and linux_capabilities on white space; env and ldflags not). */
struct kf_ko_build {
    char *id, *dir, *main;
    char **env, **flags, **ldflags, **linux_capabilities;
    size_t n_env, n_flags, n_ldflags, n_linux_capabilities;
    /* The Go import path this entry builds, worked out by kf_koconfig_load
     * from dir/main and the go.mod above them; NULL after kf_koconfig_parse
     * alone (then matching joins dir/main to the caller's module path). */
    char *importpath;
};

struct kf_ko_override {
    char *importpath; /* as written; matched case-insensitively, as ko does */
    char *base;
};

struct kf_ko_config {
    char *path;                 /* file it came from, NULL when no file was found */
    char *default_base_image;   /* NULL when unset */
    struct kf_ko_override *overrides; size_t n_overrides;
    char **default_platforms; size_t n_default_platforms;
    char **default_env; size_t n_default_env;
    char **default_flags; size_t n_default_flags;
    char **default_ldflags; size_t n_default_ldflags;
    struct kf_ko_build *builds; size_t n_builds;
};

/* Finds and parses ko's config for a build run in workdir: the file named by
 * $KO_CONFIG_PATH (a regular file, or a directory holding .ko.yaml), else the
 * first of workdir/.ko.json, .ko.toml, .ko.yaml, .ko.yml (viper's search
 * order; JSON is read as YAML, TOML is KF_EUNSUPPORTED). No file means an
 * empty config and rc 0. A file in workdir must resolve inside workdir (a
 * hostile checkout could link .ko.yaml to any file we can read). Builds
 * entries are then resolved to import paths; a dir/main that does not exist
 * is KF_ECONFIG, as in ko. On success the caller frees *out with
 * kf_koconfig_free; on failure *out is left zeroed (freeing it is harmless).
 * Reads the process environment. */
int kf_koconfig_load(const char *workdir, struct kf_ko_config *out, char *err) KF_MUST_CHECK;

/* The same with KO_CONFIG_PATH's value given (NULL or "" = unset). */
int kf_koconfig_load_from(const char *workdir, const char *config_path, struct kf_ko_config *out,
                          char *err) KF_MUST_CHECK;

/* Parses text (at most KF_KOCONFIG_MAX_BYTES, need not be NUL-terminated).
 * Errors are KF_ECONFIG (KF_ETOOBIG for the caps) with
 * "<filename>:<line>:<column>: <what>" in err: unknown keys, wrong types,
 * duplicate keys, anchors/aliases, custom tags, several documents, empty
 * defaultBaseImage or override values. Keys are case-insensitive, as under
 * ko's viper. On success the caller frees *out with kf_koconfig_free; on
 * failure *out is left zeroed. */
int kf_koconfig_parse(const char *text, size_t len, const char *filename, struct kf_ko_config *out,
                      char *err) KF_MUST_CHECK;

/* Frees everything and zeroes *c; a zeroed config is fine. */
void kf_koconfig_free(struct kf_ko_config *c);

/* Applies ko's environment overrides (viper's KO_ prefix; empty values are
 * ignored): KO_DEFAULTBASEIMAGE, and KO_DEFAULTPLATFORMS, KO_DEFAULTENV,
 * KO_DEFAULTFLAGS, KO_DEFAULTLDFLAGS split on white space. envp is a
 * NULL-terminated "K=V" list; NULL means the process environment. */
int kf_koconfig_apply_env(struct kf_ko_config *c, const char *const *envp, char *err) KF_MUST_CHECK;

/* Base image for an import path: override, else default_base_image, else
 * NULL (the caller then applies KO_DEFAULTBASEIMAGE, unless it used
 * kf_koconfig_apply_env, and the built-in default). A "ko://" prefix is
 * ignored. The result points into c. */
const char *kf_koconfig_base_for(const struct kf_ko_config *c, const char *importpath);

/* The build entry for importpath, or NULL. As in ko, the last matching
 * entry wins. An entry resolved by kf_koconfig_load matches its import path
 * exactly; otherwise module_path (the main module's path, e.g.
 * "example.com/hello"; may be NULL) joined with the cleaned dir/main
 * (a main ending in ".go" standing for its directory). */
const struct kf_ko_build *kf_koconfig_build_for(const struct kf_ko_config *c, const char *importpath,
                                                const char *module_path);

/* Effective settings for one import path, ko's precedence: a build entry's
 * non-empty env/flags/ldflags REPLACE the defaults (never merged). id is the
 * entry's id, NULL when no entry matches. Pointers are borrowed from c.
 * (CLI --ldflags, which beat both in ko, are the caller's business.) */
struct kf_ko_effective {
    const char *const *env; size_t n_env;
    const char *const *flags; size_t n_flags;
    const char *const *ldflags; size_t n_ldflags;
    const char *id;
};
void kf_koconfig_effective(const struct kf_ko_config *c, const char *importpath, const char *module_path,
                           struct kf_ko_effective *out);

#endif
