/* Projects of the team farm: what a project document may say (POST/PATCH
 * /v1/projects), and which jobs a git push asks for under its rules. Pure
 * and thread-safe.
 *
 * Document: {"name": "shop", "git": {"url": "https://..."},
 *   "webhook_secret": "..." (write-only), "max_concurrency": 4 | null,
 *   "rules": [{"on": "push", "branches": ["main", "release-*"],
 *              "build": {"importpaths": ["./cmd/api"], ...build options}},
 *             {"on": "tag", "tags": ["v*"],
 *              "resolve": {"files": ["config/"], "recursive", "selector",
 *                          "strict", "pin_tags", "yaml", ...build options}}],
 *   "defaults": {build options: platforms, repo, naming, tags, base_image,
 *                labels, annotations, env, ldflags, user, no_cache,
 *                priority, max_attempts}} */
#ifndef KF_PROJECT_H
#define KF_PROJECT_H

#include <jansson.h>

#include "error.h"
#include "hookpayload.h"

#define KF_PROJECT_NAME_MAX 64
#define KF_PROJECT_RULES_MAX 32
#define KF_PROJECT_GLOBS_MAX 32
#define KF_PROJECT_SECRET_MAX 256
#define KF_PROJECT_FILES_MAX 64
#define KF_PROJECT_CONCURRENCY_MAX 1000

/* [a-z0-9][a-z0-9._-]{0,63} */
int kf_project_name_valid(const char *name);

/* Validates a whole project document (a POST body, or a PATCH merged over
 * the stored document) and normalises it: *out = {"name", "git": {"url"},
 * "rules", "defaults", "max_concurrency"} without the secret (caller
 * decrefs); *secret = the webhook_secret when the document has a string
 * one (caller frees), NULL when it is absent or null. Every rule's jobs
 * are validated as the builds API would (with a placeholder commit), so a
 * project that is stored can always queue its jobs. KF_EINVAL naming the
 * field. */
int kf_project_check(const json_t *doc, int allow_file, json_t **out, char **secret, char *err) KF_MUST_CHECK;

/* The jobs a push asks for under project (a normalised document): one per
 * matching rule, none for a deleted ref. *jobs = [{"kind": "build" |
 * "resolve", "spec": {...}, "priority": n, "max_attempts": n}] (caller
 * decrefs). The source is the project's git URL at push->commit; tags
 * default to the ref's name (as an image tag) and the short commit. */
int kf_project_jobs_for_push(const json_t *project, const struct kf_push *push, int allow_file, json_t **jobs,
                             char *err) KF_MUST_CHECK;

#endif
