/* Shared by resolve.c (orchestration), resolve_scan.c (libyaml events ->
 * documents and rewrite sites), resolve_splice.c (the output) and the unit
 * tests. Not part of the engine's public API. */
#ifndef KF_RESOLVE_INTERNAL_H
#define KF_RESOLVE_INTERNAL_H

#include <stddef.h>

#include "buf.h"
#include "resolve.h"
#include "resolve_select.h"

enum kf_rs_style { KF_RS_PLAIN, KF_RS_SINGLE, KF_RS_DOUBLE, KF_RS_LITERAL, KF_RS_FOLDED };

/* One scalar to rewrite. */
struct kf_rs_site {
    size_t start, end;         /* bytes of the scalar as written (quotes, block header included) */
    size_t ref;                /* index into the table */
    unsigned char style;       /* enum kf_rs_style */
    unsigned char ko_scheme;   /* written with ko:// (the table holds the bare import path) */
};

struct kf_rs_doc {
    size_t cut;                /* byte where its segment starts (the line of --- or of its first token) */
    size_t end;                /* where the next document's segment starts, or the file's end */
    size_t first_site, n_sites;
    int explicit_start, explicit_end, has_directives;
};

struct kf_rs_file {
    const char *name;
    const unsigned char *data;
    size_t len;
    struct kf_rs_doc *docs;    /* kept documents only */
    size_t n_docs, n_docs_read;
    size_t preamble_end;       /* bytes before the first document (comments): kept with any kept document */
    struct kf_rs_site *sites;
    size_t n_sites;
    int crlf;                  /* first line ends in \r\n: separators we add use it too */
    size_t line_base;          /* lines before data in the whole input (a part of a split scan) */
};

/* The unique references of all inputs. */
struct kf_rs_table {
    struct kf_resolve_ref *refs;
    size_t n, cap;
    size_t *slots;             /* open addressing: index + 1, 0 = empty */
    size_t n_slots;
};

struct kf_rs_scan_opts {
    int strict;
    const char *const *mains;  /* sorted (strcmp) */
    size_t n_mains;
    const struct kf_selector *selector;
    int pin_tags;
    struct kf_resolve_limits limits; /* all set */
};

/* Labels and anchors as the scanner remembers them (resolve_anchors.c). */
struct kf_rs_pair {
    char *key, *value;
};

struct kf_rs_anchor {
    char *name;
    size_t nodes;              /* nodes it stands for, aliases expanded */
    char *scalar;              /* its value when a short scalar */
    struct kf_rs_pair *pairs;  /* its scalar entries when a mapping */
    size_t n_pairs;
    int is_map;
};

struct kf_rs_anchors {
    struct kf_rs_anchor *v;
    size_t n;
};

void kf_rs_pairs_free(struct kf_rs_pair *p, size_t n);
/* Copies key and value; past 1024 pairs the rest are ignored. */
int kf_rs_pair_add(struct kf_rs_pair **p, size_t *n, const char *key, const char *value) KF_MUST_CHECK;
int kf_rs_pairs_copy(struct kf_rs_pair **dst, size_t *n_dst, const struct kf_rs_pair *src, size_t n_src)
    KF_MUST_CHECK;
void kf_rs_anchors_clear(struct kf_rs_anchors *a);
const struct kf_rs_anchor *kf_rs_anchor_find(const struct kf_rs_anchors *a, const char *name);
/* Takes ownership of name, scalar and pairs (freed on failure too). */
int kf_rs_anchor_add(struct kf_rs_anchors *a, char *name, size_t nodes, char *scalar, struct kf_rs_pair *pairs,
                     size_t n_pairs, int is_map) KF_MUST_CHECK;

struct kf_resolve_errors {
    struct kf_buf text;
    size_t n, dropped;
};

/* Parses f->data, appending its kept documents and their sites to f and
 * the references to t. KF_EINVAL/KF_ETOOBIG with "NAME:LINE:COL: ..." in err. */
int kf_rs_scan(const struct kf_rs_scan_opts *o, struct kf_rs_file *f, struct kf_rs_table *t, size_t *total_sites,
               char *err) KF_MUST_CHECK;
void kf_rs_file_free(struct kf_rs_file *f);
/* kf_rs_scan, in parallel parts for a large stream (resolve_split.c); the
 * same result as one kf_rs_scan. */
int kf_rs_scan_input(const struct kf_rs_scan_opts *o, struct kf_rs_file *f, struct kf_rs_table *t,
                     size_t *total_sites, char *err) KF_MUST_CHECK;

/* Index of (kind class, value) in t, added when new (where = first site). */
int kf_rs_table_intern(struct kf_rs_table *t, enum kf_resolve_kind kind, const char *value, size_t len,
                       const char *where, size_t max_refs, size_t *index, char *err) KF_MUST_CHECK;
void kf_rs_table_free(struct kf_rs_table *t);

/* Appends the kept documents of files[0..n), every site replaced by its
 * reference's replacement in the site's quoting style, to out. */
int kf_rs_splice(const struct kf_rs_file *files, size_t n, const struct kf_rs_table *t, struct kf_buf *out,
                 char *err) KF_MUST_CHECK;

/* One site's new text (exposed for tests): the scalar src[0..len) of the
 * given style, whose value is `value`, rewritten to hold repl. */
int kf_rs_rewrite(const unsigned char *src, size_t len, enum kf_rs_style style, const char *value,
                  const char *repl, struct kf_buf *out) KF_MUST_CHECK;

#endif
