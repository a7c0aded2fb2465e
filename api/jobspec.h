/* The job model shared by kofarm-server and kofarm-worker: what a build
 * request may say, its normalised form (the "spec" stored in jobs.spec and
 * returned by the API), the cache key of a build, and the result's shape.
 *
 * Request (POST /v1/builds body, or the query string of an upload):
 *   {"source": {"git": {"url": "...", "ref": "main" | "commit": "<40|64 hex>"}},
 *    "importpaths": ["./cmd/app", "example.com/m/cmd/x", "ko://...", "."],
 *    "platforms": ["linux/amd64", "linux/arm/v7"] | ["all"] | "linux/amd64,linux/arm64",
 *    "repo": "registry/prefix", "naming": "md5|base|preserve|bare", "tags": ["latest"],
 *    "base_image": "ref" | "scratch", "labels": {"k": "v"}, "annotations": {"k": "v"},
 *    "env": {"GOAMD64": "v3"} | ["GOAMD64=v3"], "ldflags": ["-s", "-w", "-X main.v=1"],
 *    "user": "65532", "no_cache": false, "project": "shop",
 *    "priority": 0, "max_attempts": 3}
 * Unknown fields are refused (400 naming the field: a typo must not
 * silently build something else). priority, max_attempts and project go to
 * the job row, not to the spec.
 *
 * Spec (normalised, every field present, sorted keys when serialised):
 *   {"source": {"git": {"url", "ref": str|null, "commit": str|null}}
 *              | {"upload": {"digest": "sha256:..", "size": n}},
 *    "importpaths": [...as given, validated], "platforms": [..] ([] = the
 *    worker's/.ko.yaml default), "repo": str|null (null = worker's KOFARM_REPO),
 *    "naming", "tags" (default ["latest"]), "base_image": str|null, "labels": {},
 *    "annotations": {}, "env": ["K=V" in given order], "ldflags": [], "user": str|null,
 *    "no_cache": bool}
 *
 * Result (jobs.result, written by the worker):
 *   {"commit": str|null, "reused_from": id|null, "duration_ms": n,
 *    "images": [{"importpath": "example.com/m/cmd/app", "image": "REPO/NAME",
 *                "reference": "REPO/NAME@sha256:..", "digest": "sha256:..",
 *                "media_type": "...", "tags": ["latest"],
 *                "platforms": [{"platform": "linux/amd64", "digest": "sha256:.."}]}]}
 *
 * Everything here is pure and thread-safe. */
#ifndef KF_JOBSPEC_H
#define KF_JOBSPEC_H

#include <jansson.h>
#include <stddef.h>

#include "build.h"
#include "error.h"

#define KF_JOBSPEC_IMPORTPATHS_MAX 64
#define KF_JOBSPEC_IMPORTPATH_MAX 512
#define KF_JOBSPEC_TAGS_MAX 32
#define KF_JOBSPEC_MAP_MAX 128     /* labels, annotations, env entries */
#define KF_JOBSPEC_STRING_MAX 4096 /* any single string value */
#define KF_JOBSPEC_PROJECT_MAX 200

/* The job-row fields of a request, outside the spec. */
struct kf_jobspec_meta {
    char *project;    /* NULL or owned */
    int priority;     /* default 0; -1000..1000 */
    int max_attempts; /* 0 = default */
};

/* Validates a request object and builds its normalised spec (*spec: caller
 * decrefs). upload_digest/upload_size: the body was an uploaded source
 * (then "source" must be absent); NULL for JSON requests (then
 * source.git is required). allow_file: accept file:// git URLs. On a bad
 * request: KF_EINVAL and err names the field ("importpaths[1]: ..."),
 * nothing allocated. meta may be NULL; its project is owned by the caller
 * after success (free). */
int kf_jobspec_from_request(const json_t *request, const char *upload_digest, size_t upload_size,
                            int allow_file, json_t **spec, struct kf_jobspec_meta *meta,
                            char *err) KF_MUST_CHECK;

/* Converts query parameters of an upload (name=value pairs in order; a
 * parameter may repeat: importpaths, platforms, tags, label, annotation,
 * env, ldflags; comma lists are split for importpaths, platforms and tags;
 * label/annotation/env take K=V) into a request object for
 * kf_jobspec_from_request (*request: caller decrefs). Unknown names are
 * KF_EINVAL naming them. */
int kf_jobspec_request_from_query(const char *const *names, const char *const *values, size_t n,
                                  json_t **request, char *err) KF_MUST_CHECK;
/* The same for a job kind: "build" as above; "resolve" takes files/file
 * (repeatable, comma lists split), recursive, selector, strict and
 * pin_tags instead of importpaths (jobspec_resolve.h). */
int kf_jobspec_request_from_query_for(const char *kind, const char *const *names, const char *const *values,
                                      size_t n, json_t **request, char *err) KF_MUST_CHECK;

/* The cache key of a build: "build:" (a resolve's spec, which has
 * "files": "resolve:") + sha256 hex of the canonical spec
 * with source.git.ref removed and the resolved commit (or the upload's
 * digest) put in, plus the worker-level defaults that shape the output
 * (repo and base image used when the spec leaves them null). Equal keys
 * give byte-identical results. Writes into out (>= 80 bytes). */
int kf_jobspec_cache_key(const json_t *spec, const char *commit, const char *default_repo,
                         const char *default_base, char out[80], char *err) KF_MUST_CHECK;

/* The worker side: fills o from spec (strings point into spec, which must
 * outlive o; arrays are allocated into *hold, free with
 * kf_jobspec_opts_free). Fields the spec does not set (workdir, go,
 * layer cache, registry options, cancel) are left for the caller. */
struct kf_jobspec_hold {
    const char **importpaths, **tags, **labels, **annotations, **env, **ldflags;
    char *platforms; /* comma list */
    char *strings;   /* "K=V" storage */
    const char **files; /* resolves (jobspec_resolve.h) */
};
int kf_jobspec_to_build_opts(const json_t *spec, struct kf_build_opts *o, struct kf_jobspec_hold *hold,
                             char *err) KF_MUST_CHECK;
void kf_jobspec_opts_free(struct kf_jobspec_hold *hold);

/* The result object above from the engine's results (caller decrefs). */
json_t *kf_jobspec_result(const struct kf_build_result *r, size_t n, const char *const *tags, size_t n_tags,
                          const char *commit, long long duration_ms);

#endif
