/* The team farm's tables: projects, webhook deliveries (each queues its
 * jobs and releases in one statement), releases and their artifacts, the
 * audit log, and token project limits. As thread-safe as the connection.
 * Documents are validated by api/project.h before they get here. */
#ifndef KF_DBPROJECTS_H
#define KF_DBPROJECTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "error.h"

#define KF_AUDIT_LIST_MAX 200
#define KF_RELEASE_LIST_MAX 1000

/* Stores a normalised project document with its webhook secret (NULL =
 * none). A name in use: KF_EINVAL with *conflict = 1. */
int kf_project_create(struct kf_db *db, const json_t *doc, const char *secret, int *conflict,
                      char *err) KF_MUST_CHECK;

/* Replaces the document of doc's project; keep_secret = 1 leaves the
 * stored secret as it is, else it becomes secret (NULL clears it).
 * KF_ENOTFOUND. */
int kf_project_update(struct kf_db *db, const json_t *doc, int keep_secret, const char *secret,
                      char *err) KF_MUST_CHECK;

/* The API representation (caller decrefs): the document plus
 * "webhook_secret_set" (bool), "created_at", "updated_at"; never the
 * secret. secret (may be NULL) gets it (caller frees; NULL when unset).
 * KF_ENOTFOUND. */
int kf_project_get(struct kf_db *db, const char *name, json_t **project, char **secret, char *err) KF_MUST_CHECK;

/* Representations by name (caller decrefs); only = a name, or NULL for all. */
int kf_project_list(struct kf_db *db, const char *only, json_t **projects, char *err) KF_MUST_CHECK;

/* Deletes the project with its deliveries and releases (its jobs stay).
 * KF_ENOTFOUND. */
int kf_project_delete(struct kf_db *db, const char *name, char *err) KF_MUST_CHECK;

struct kf_hook_delivery {
    const char *project, *host; /* host: "github", "gitlab", "gitea" */
    const char *delivery_id;    /* NULL when the host sent none (never a duplicate) */
    const char *event;
    const char *ref;            /* branch or tag name; NULL for a ping */
    const char *commit;         /* NULL when none */
    const char *release_tag;    /* the tag for resolve jobs' release rows, NULL for a branch */
    const json_t *jobs;         /* [{"kind", "spec", "priority", "max_attempts"}] */
};

/* Records the delivery and, when it is new, queues its jobs (project set,
 * requested_by "hook:HOST"), a release row per resolve job when
 * release_tag is set, and an audit row per job, all in one statement.
 * *job_ids = the ids queued (caller decrefs); for a delivery id seen
 * before: *redelivered = 1, nothing queued, *job_ids = the first
 * delivery's jobs. */
int kf_hook_record(struct kf_db *db, const struct kf_hook_delivery *d, json_t **job_ids, int *redelivered,
                   char *err) KF_MUST_CHECK;

/* Releases of project, newest first: [{"tag", "job_id", "state",
 * "commit", "created_at", "sha256" (null until the artifact exists)}]
 * (caller decrefs). */
int kf_release_list(struct kf_db *db, const char *project, json_t **releases, char *err) KF_MUST_CHECK;

/* The artifact name of the newest succeeded release of tag: *sha256 (65
 * bytes) and *content (caller frees, *len bytes). KF_ENOTFOUND. */
int kf_release_artifact(struct kf_db *db, const char *project, const char *tag, const char *name,
                        char sha256[65], char **content, size_t *len, char *err) KF_MUST_CHECK;

/* Jobs of project, newest first, limited to those a delivery for ref (a
 * branch or tag name) queued or whose spec names ref, when ref is set:
 * job representations as kf_job_get (caller decrefs). limit 1..200. */
int kf_project_builds(struct kf_db *db, const char *project, const char *ref, int limit, json_t **jobs,
                      char *err) KF_MUST_CHECK;

/* Appends to the audit log: actor (token name, "hook:HOST", NULL =
 * "anonymous"), action ("job.create"...), target ("job:12"), detail (a
 * JSON object or NULL). */
int kf_audit_add(struct kf_db *db, const char *actor, const char *action, const char *target, const json_t *detail,
                 char *err) KF_MUST_CHECK;

/* Newest first: [{"id", "at", "actor", "action", "target", "detail"}] with
 * id < before (0 = from the newest), limit 1..KF_AUDIT_LIST_MAX. */
int kf_audit_list(struct kf_db *db, int64_t before, int limit, json_t **entries, char *err) KF_MUST_CHECK;

/* Limits token name to project (NULL lifts the limit). KF_ENOTFOUND. */
int kf_token_set_project(struct kf_db *db, const char *name, const char *project, char *err) KF_MUST_CHECK;

/* The project token name is limited to into out (128 bytes), "" if none. */
int kf_token_project(struct kf_db *db, const char *name, char out[128], char *err) KF_MUST_CHECK;

#endif
