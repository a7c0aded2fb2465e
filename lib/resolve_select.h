/* kubectl label selectors (`app=x,tier in (a,b),!canary`), parsed as
 * k8s.io/apimachinery's labels.Parse does and matched against a document's
 * metadata.labels. Pure functions: safe from any thread. */
#ifndef KF_RESOLVE_SELECT_H
#define KF_RESOLVE_SELECT_H

#include <stddef.h>

#include "error.h"

#define KF_SELECTOR_MAX 4096 /* bytes of selector text */

struct kf_selector;

/* Parses text ("" or NULL selects everything). Requirements, ANDed with ',':
 * key, !key, key=v, key==v, key!=v, key in (v1,v2), key notin (v1,v2),
 * key>N, key<N. Keys are qualified names ([prefix/]name), values label
 * values (63 bytes, alphanumerics with -_. inside, or empty). KF_EINVAL
 * with the offending position in err. Free with kf_selector_free. */
int kf_selector_parse(const char *text, struct kf_selector **out, char *err) KF_MUST_CHECK;
void kf_selector_free(struct kf_selector *s);

/* 1 when the labels (keys[i] = values[i], i < n; the first of a repeated key
 * wins) satisfy every requirement; a NULL selector matches everything. */
int kf_selector_match(const struct kf_selector *s, const char *const *keys, const char *const *values, size_t n);

/* Number of requirements (0 for the empty selector). */
size_t kf_selector_count(const struct kf_selector *s);

#endif
