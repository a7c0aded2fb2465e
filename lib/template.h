/* ko's templates in flags and ldflags: the field references of Go's
 * text/template ({{.Env.NAME}}, {{.GoEnv.NAME}}, {{.Git.X}}, {{.Date}},
 * {{.Timestamp}}), with ko's missingkey=error, plus git facts to fill them.
 * Expansion is pure: safe from any number of threads. */
#ifndef KF_TEMPLATE_H
#define KF_TEMPLATE_H

#include <stddef.h>
#include "error.h"

#define KF_TEMPLATE_MAX_OUT ((size_t)1 << 20) /* longer expansions are KF_ETOOBIG */
#define KF_TEMPLATE_DATE_LEN 40                 /* room for an RFC 3339 UTC date */

struct kf_template_data {
    /* "KEY=VALUE" (config env applied over process env by the caller); the last KEY wins */
    const char *const *env; size_t n_env;
    /* Lookup for .GoEnv (NULL result = no such key); the hook may be NULL:
     * every .GoEnv key is then missing. As in ko, a key .GoEnv has is
     * overridden by the same key in env. */
    const char *(*goenv)(void *ctx, const char *key); void *goenv_ctx;
    /* NULL = unavailable: using it is a missing-key error. */
    const char *git_branch, *git_tag, *git_short_commit, *git_full_commit, *git_commit_date,
        *git_commit_timestamp, *git_tree_state; /* tree_state "clean" or "dirty" also gives IsClean/IsDirty */
    long long now; /* seconds since the epoch for .Date and .Timestamp (SOURCE_DATE_EPOCH for reproducibility) */
};

/* Expands tmpl into *out (caller frees). Text without "{{" comes back
 * unchanged. Inside {{ }}: one field chain, white space around it, Go's trim
 * markers ("{{- " and " -}}") and template comments. .Env.LDFLAGS is
 * "" when env lacks it, as in ko. A missing key is KF_EINVAL with
 * 'template: map has no entry for key "FOO" (at <.Env.FOO> in "<tmpl>")';
 * anything else (pipes, functions, arguments, variables) is KF_EINVAL, as is
 * an env entry without '='. */
int kf_template_expand(const char *tmpl, const struct kf_template_data *d, char **out, char *err) KF_MUST_CHECK;

/* secs as Go's time.Format(time.RFC3339) of a UTC time: "2006-01-02T15:04:05Z".
 * KF_EINVAL when out of gmtime's range. */
int kf_template_format_date(long long secs, char out[KF_TEMPLATE_DATE_LEN]) KF_MUST_CHECK;

/* Git facts as ko gathers them (pkg/internal/git). Owned strings. */
struct kf_git_info {
    char *branch;           /* "HEAD" when detached */
    char *tag;              /* latest reachable tag, "v0.0.0" when there is none */
    char *short_commit, *full_commit;
    char *commit_date;      /* RFC 3339 UTC */
    char *commit_timestamp; /* unix seconds, decimal */
    char *tree_state;       /* "clean" or "dirty" (git status --porcelain shows something, or fails) */
};

/* Runs git in dir (argv only, via kf_spawn_run, 30 s per command, with
 * core.fsmonitor off and no optional locks: repositories may be hostile and
 * builds run in parallel). No git, not a work tree, or no commit yet: every
 * field NULL and rc 0. Other failures: KF_ENOMEM. Free with
 * kf_template_git_free whatever the rc. Thread-safe. */
int kf_template_git_info(const char *dir, struct kf_git_info *out, char *err) KF_MUST_CHECK;
void kf_template_git_free(struct kf_git_info *g);

/* Points d's git_* fields at g's strings (borrowed). With ko_defaults set
 * and g empty, uses what ko's templates see outside a repository instead:
 * empty strings, CommitDate "0001-01-01T00:00:00Z", CommitTimestamp
 * "-62135596800", TreeState "clean"; so {{.Git.X}} expands as under ko
 * rather than failing. */
void kf_template_data_set_git(struct kf_template_data *d, const struct kf_git_info *g, int ko_defaults);

#endif
