/* Image references ("alpine", "127.0.0.1:5000/a/b:v1", "cgr.dev/x@sha256:...")
 * parsed strictly by the distribution grammar, with Docker Hub's defaults.
 * Pure functions: safe from any thread. */
#ifndef KF_REF_H
#define KF_REF_H

#include "error.h"

#define KF_REF_DOCKER_HUB "index.docker.io"
#define KF_REF_NAME_MAX 255 /* registry + "/" + repository, as distribution limits it */

struct kf_ref {
    char *registry;   /* "index.docker.io" for Docker Hub, "127.0.0.1:5000", "cgr.dev" (owned) */
    char *repository; /* "library/alpine", "chainguard/static" (owned) */
    char *tag;        /* NULL when none was given (never invented: see kf_ref_tag_or_latest) (owned) */
    char *digest;     /* "sha256:<64 hex>" or NULL (owned) */
};

/* Parses s into out (zeroed first; free with kf_ref_free even on failure).
 * The first path component is the registry when it holds '.' or ':' or is
 * "localhost"; otherwise Docker Hub, where a single component gets
 * "library/" and "docker.io" becomes "index.docker.io". KF_EINVAL with a
 * message for anything outside the grammar (uppercase repository, spaces,
 * empty components, a tag not matching [\w][\w.-]{0,127}, a digest other
 * than sha256:<64 lowercase hex>, a name over 255 bytes). */
int kf_ref_parse(const char *s, struct kf_ref *out, char *err) KF_MUST_CHECK;

/* As kf_ref_parse, for a destination repository ("registry/repo",
 * KO_DOCKER_REPO-style): neither tag nor digest allowed, and a lone
 * "host:port" or "localhost" is refused as having no repository. Like
 * go-containerregistry, "ko.local" alone parses as the Docker Hub repository
 * library/ko.local: callers that give ko.local a meaning check it first. */
int kf_ref_parse_repo(const char *s, struct kf_ref *out, char *err) KF_MUST_CHECK;

/* Frees the fields and zeroes r; NULL is fine. */
void kf_ref_free(struct kf_ref *r);

/* r->tag, or "latest" when it has none. */
const char *kf_ref_tag_or_latest(const struct kf_ref *r);

/* "registry/repository:tag" or "registry/repository@digest" (the digest
 * wins; ":latest" when neither), as go-containerregistry's Name(). Caller
 * frees; NULL on allocation failure. */
char *kf_ref_name(const struct kf_ref *r);

/* "registry/repository", for messages and naming. Caller frees; NULL on
 * allocation failure. */
char *kf_ref_repo_name(const struct kf_ref *r);

/* Deep copy (dst zeroed first; free with kf_ref_free). */
int kf_ref_copy(const struct kf_ref *src, struct kf_ref *dst, char *err) KF_MUST_CHECK;

/* 1 when tag matches [\w][\w.-]{0,127}. */
int kf_ref_tag_valid(const char *tag);

#endif
