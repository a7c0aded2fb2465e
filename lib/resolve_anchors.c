/* The bits of a YAML document the scanner remembers across events: label
 * pairs (key -> value) and anchors (how many nodes each stands for, its
 * value or scalar entries), so aliases are counted and followed without
 * ever being expanded. */
#include "resolve_internal.h"

#include <stdlib.h>
#include <string.h>

#define PAIRS_MAX 1024 /* labels remembered per mapping: more than any object has */

void kf_rs_pairs_free(struct kf_rs_pair *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].key);
        free(p[i].value);
    }
    free(p);
}

int kf_rs_pair_add(struct kf_rs_pair **p, size_t *n, const char *key, const char *value)
{
    if (*n >= PAIRS_MAX)
        return KF_OK; /* the rest do not count */
    struct kf_rs_pair *np = realloc(*p, (*n + 1) * sizeof *np);
    if (!np)
        return KF_ENOMEM;
    *p = np;
    np[*n].key = strdup(key);
    np[*n].value = strdup(value);
    if (!np[*n].key || !np[*n].value) {
        free(np[*n].key);
        free(np[*n].value);
        return KF_ENOMEM;
    }
    (*n)++;
    return KF_OK;
}

int kf_rs_pairs_copy(struct kf_rs_pair **dst, size_t *n_dst, const struct kf_rs_pair *src, size_t n_src)
{
    for (size_t i = 0; i < n_src; i++)
        if (kf_rs_pair_add(dst, n_dst, src[i].key, src[i].value))
            return KF_ENOMEM;
    return KF_OK;
}

void kf_rs_anchors_clear(struct kf_rs_anchors *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].name);
        free(a->v[i].scalar);
        kf_rs_pairs_free(a->v[i].pairs, a->v[i].n_pairs);
    }
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

const struct kf_rs_anchor *kf_rs_anchor_find(const struct kf_rs_anchors *a, const char *name)
{
    for (size_t i = a->n; i-- > 0;) /* a redefined anchor: the latest wins */
        if (strcmp(a->v[i].name, name) == 0)
            return &a->v[i];
    return NULL;
}

int kf_rs_anchor_add(struct kf_rs_anchors *a, char *name, size_t nodes, char *scalar, struct kf_rs_pair *pairs,
                     size_t n_pairs, int is_map)
{
    struct kf_rs_anchor *v = realloc(a->v, (a->n + 1) * sizeof *v);
    if (!v) {
        free(name);
        free(scalar);
        kf_rs_pairs_free(pairs, n_pairs);
        return KF_ENOMEM;
    }
    a->v = v;
    a->v[a->n++] = (struct kf_rs_anchor){name, nodes, scalar, pairs, n_pairs, is_map};
    return KF_OK;
}
