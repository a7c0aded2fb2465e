/* Files a job produces and the API serves (migrations/002_artifacts.sql):
 * a resolve's release.yaml. Stored once per job with its sha256 (the
 * download's strong ETag); written together with the job's success, so a
 * succeeded job never lacks its artifact. Same threading rules as db.h. */
#ifndef KF_DBARTIFACTS_H
#define KF_DBARTIFACTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "error.h"

/* Largest artifact by default; KOFARM_MAX_RELEASE (bytes) overrides it
 * within [1 KiB, 1 GiB] (kf_artifact_max). */
#define KF_ARTIFACT_MAX_DEFAULT ((size_t)32 << 20)

/* The cap in force: KOFARM_MAX_RELEASE if set and sane, else the default. */
size_t kf_artifact_max(void);

/* 1 when name fits the table's check (^[a-z0-9][a-z0-9._-]{0,63}$). */
int kf_artifact_name_ok(const char *name);

struct kf_artifact {
    char *media_type;   /* owned */
    char sha256[65];    /* lowercase hex */
    unsigned char *data; /* owned, NUL-terminated past len */
    size_t len;
    int64_t job_id;     /* the job it was stored under (another one for a reused result) */
};
void kf_artifact_free(struct kf_artifact *a);

/* Ends job id succeeded (as kf_job_succeed: while it runs under owner, else
 * KF_ENOTFOUND "lease lost") and stores the artifact name in the same
 * statement: both commit or neither. KF_ETOOBIG past kf_artifact_max(). */
int kf_job_succeed_with_artifact(struct kf_db *db, int64_t id, const char *owner, const json_t *result,
                                 const char *commit, const char *name, const char *media_type, const void *data,
                                 size_t len, char *err) KF_MUST_CHECK;

/* Stores (or replaces) an artifact of job id outside a state change. */
int kf_artifact_put(struct kf_db *db, int64_t id, const char *name, const char *media_type, const void *data,
                    size_t len, char *err) KF_MUST_CHECK;

/* The artifact name of job id, or of the job its result was reused from
 * (result.reused_from, followed a few hops). KF_ENOTFOUND when there is
 * none. *out: kf_artifact_free. */
int kf_artifact_get(struct kf_db *db, int64_t id, const char *name, struct kf_artifact *out,
                    char *err) KF_MUST_CHECK;

#endif
