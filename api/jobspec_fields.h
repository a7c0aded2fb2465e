/* Field validators behind kf_jobspec_from_request (api/jobspec*.c only).
 * Each checks one request field and returns its normalised JSON value (a
 * new reference) or NULL with err naming the field; pure, thread-safe. */
#ifndef KF_JOBSPEC_FIELDS_H
#define KF_JOBSPEC_FIELDS_H

#include <jansson.h>

json_t *kf_jsf_source(const json_t *v, int allow_file, char *err);
json_t *kf_jsf_importpaths(const json_t *v, char *err);
json_t *kf_jsf_platforms(const json_t *v, char *err);
json_t *kf_jsf_repo(const json_t *v, char *err);
json_t *kf_jsf_naming(const json_t *v, char *err);
json_t *kf_jsf_tags(const json_t *v, char *err);
json_t *kf_jsf_base_image(const json_t *v, char *err);
json_t *kf_jsf_map(const char *field, const json_t *v, char *err); /* labels, annotations */
json_t *kf_jsf_env(const json_t *v, char *err);
json_t *kf_jsf_ldflags(const json_t *v, char *err);
json_t *kf_jsf_user(const json_t *v, char *err);

/* kf_jobspec_to_build_opts, with import paths optional when
 * need_importpaths is 0 (a resolve finds its own in the YAML). */
struct kf_build_opts;
struct kf_jobspec_hold;
int kf_jsf_build_opts(const json_t *spec, struct kf_build_opts *o, struct kf_jobspec_hold *hold, int need_importpaths,
                      char *err);

/* 1 when s is within max bytes, valid UTF-8 and free of control characters. */
int kf_jsf_clean_text(const char *s, size_t max);
/* A printable, quoted excerpt of s for messages (out: 64 bytes). */
void kf_jsf_show(const char *s, char out[64]);

#endif
