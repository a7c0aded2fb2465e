/* Private to koconfig*.c: the small YAML tree the parser builds from libyaml
 * events, so the schema walk can report any node's position. */
#ifndef KF_KOCONFIG_INTERNAL_H
#define KF_KOCONFIG_INTERNAL_H

#include <stddef.h>
#include "error.h"
#include "koconfig.h"

enum kf_koconfig_kind { KF_YN_SCALAR, KF_YN_SEQ, KF_YN_MAP };

/* Children are chained by index; a map's children alternate key, value. */
struct kf_koconfig_node {
    enum kf_koconfig_kind kind;
    int is_null;          /* plain ~, null, Null, NULL, empty, or !!null */
    size_t line, col;     /* 1-based */
    char *text;           /* scalars: NUL-terminated, no NUL inside */
    size_t len;
    size_t first, next;   /* index + 1 of first child / next sibling; 0 = none */
    size_t n_children;
};

struct kf_koconfig_tree {
    struct kf_koconfig_node *nodes; /* nodes[0] is the root when n > 0 */
    size_t n, cap;
};

/* Parses one YAML document into tree (n == 0 for an empty stream).
 * Refuses anchors, aliases, custom tags, several documents, nesting past
 * KF_KOCONFIG_MAX_DEPTH and more than KF_KOCONFIG_MAX_NODES nodes. */
int kf_koconfig_tree_parse(const char *text, size_t len, const char *filename, struct kf_koconfig_tree *tree,
                           char *err) KF_MUST_CHECK;
void kf_koconfig_tree_free(struct kf_koconfig_tree *tree);

/* Node by index + 1 (the link convention above); NULL for 0. */
const struct kf_koconfig_node *kf_koconfig_tree_at(const struct kf_koconfig_tree *tree, size_t link);

/* Copies s into out (size >= 8) for an error message: printable ASCII kept,
 * anything else as \xNN, cut with "..." to fit. Keys and values come from
 * untrusted files and end up in logs. */
void kf_koconfig_quote(const char *s, char *out, size_t size);

/* Splits on white space as Go's strings.Fields (ASCII spaces only) into a
 * new list (NULL, 0 for none); free with kf_koconfig_free_list. */
int kf_koconfig_split_fields(const char *text, char ***out, size_t *n, char *err) KF_MUST_CHECK;
void kf_koconfig_free_list(char **v, size_t n);

#endif
