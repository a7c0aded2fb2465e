/* The resolve job (jobs.kind = 'resolve', POST /v1/resolves): ko resolve on
 * the farm. Request, as a build's minus importpaths, plus:
 *   {"files": ["config/", "deploy/app.yaml"],  paths relative to the source
 *        root, never absolute or through ".." (required unless "yaml"),
 *    "recursive": false, "selector": "app=x" (kubectl syntax),
 *    "strict": true, "pin_tags": false,
 *    "yaml": "inline YAML" (instead of files; up to KF_JOBSPEC_YAML_MAX)}
 * Spec: the build spec's fields without importpaths, plus files ([] with
 * yaml), recursive, selector (null), strict, pin_tags, yaml (null).
 * Result: {"commit", "reused_from", "duration_ms",
 *          "references": [{"ref": "ko://…" | value, "importpath": … | null,
 *                          "image": "REPO/NAME@sha256:…", "digest", "kind": "build" | "pin",
 *                          "where": "FILE:LINE:COL" (first use), "uses": n}],
 *          "release": {"name": "release.yaml", "sha256": hex, "size": n}}
 * and the resolved YAML is the job's artifact "release.yaml". Pure and
 * thread-safe, like jobspec.h. */
#ifndef KF_JOBSPEC_RESOLVE_H
#define KF_JOBSPEC_RESOLVE_H

#include <jansson.h>

#include "jobspec.h"
#include "resolve.h"

#define KF_JOBSPEC_FILES_MAX 256
#define KF_JOBSPEC_PATH_MAX 1024
#define KF_JOBSPEC_YAML_MAX ((size_t)768 << 10) /* inline YAML: the spec row holds it (1 MiB) */
#define KF_RELEASE_NAME "release.yaml"
#define KF_RELEASE_MEDIA_TYPE "application/yaml"

/* As kf_jobspec_from_request, for a resolve. */
int kf_jobspec_resolve_from_request(const json_t *request, const char *upload_digest, size_t upload_size,
                                    int allow_file, json_t **spec, struct kf_jobspec_meta *meta,
                                    char *err) KF_MUST_CHECK;

/* 1 when path is a safe relative path in the source tree: not empty, not
 * absolute, no ".." component, not "-", at most KF_JOBSPEC_PATH_MAX bytes
 * of clean UTF-8. */
int kf_jobspec_path_ok(const char *path);

/* The worker side: o->build as kf_jobspec_to_build_opts (no import
 * paths), strict, selector and pin_tags; *files (hold->files, n_files) the
 * paths, *yaml the inline text or NULL, *recursive. Strings point into
 * spec. Free hold with kf_jobspec_opts_free. */
struct kf_jobspec_resolve_inputs {
    const char *const *files;
    size_t n_files;
    int recursive;
    const char *yaml;
    size_t yaml_len;
};
int kf_jobspec_to_resolve_opts(const json_t *spec, struct kf_resolve_opts *o, struct kf_jobspec_resolve_inputs *in,
                               struct kf_jobspec_hold *hold, char *err) KF_MUST_CHECK;

/* The result object above (caller decrefs); sha256: hex of the YAML. */
json_t *kf_jobspec_resolve_result(const struct kf_resolve_result *r, const char *commit, long long duration_ms,
                                  const char *sha256);

#endif
