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

/* 1 when s is within max bytes, valid UTF-8 and free of control characters. */
int kf_jsf_clean_text(const char *s, size_t max);
/* A printable, quoted excerpt of s for messages (out: 64 bytes). */
void kf_jsf_show(const char *s, char out[64]);

#endif
