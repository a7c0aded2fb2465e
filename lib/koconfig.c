/* .ko.yaml's schema: the YAML tree checked key by key and typed into
 * struct kf_ko_config, every complaint naming file, line and column. */
#include "koconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "koconfig_internal.h"

enum top_key { T_BASE, T_OVERRIDES, T_PLATFORMS, T_ENV, T_FLAGS, T_LDFLAGS, T_BUILDS, T_COUNT };
static const char *const top_names[T_COUNT] = {"defaultBaseImage", "baseImageOverrides", "defaultPlatforms",
                                               "defaultEnv",       "defaultFlags",       "defaultLdflags",
                                               "builds"};

enum build_key { B_ID, B_DIR, B_MAIN, B_ENV, B_FLAGS, B_LDFLAGS, B_CAPS, B_COUNT };
static const char *const build_names[B_COUNT] = {"id", "dir", "main", "env", "flags", "ldflags",
                                                 "linux_capabilities"};

/* How a single string given where a list is expected becomes a list: ko's
 * FlagArray and viper's string slices split on white space, its
 * StringArray and []string keep the string whole. */
enum split { SPLIT_FIELDS, SPLIT_NONE };

struct walker {
    const struct kf_koconfig_tree *tree;
    const char *filename;
    char *err;
};

static int fail_node(const struct walker *w, const struct kf_koconfig_node *n, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_node(const struct walker *w, const struct kf_koconfig_node *n, int rc, const char *fmt, ...)
{
    char what[KF_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return kf_fail(w->err, rc, "%s:%zu:%zu: %s", w->filename, n->line, n->col, what);
}

void kf_koconfig_free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int is_field_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int get_string(const struct walker *w, const struct kf_koconfig_node *n, const char *what, char **out)
{
    if (n->is_null)
        return KF_OK; /* "key:" with nothing: unset, as under viper */
    if (n->kind != KF_YN_SCALAR)
        return fail_node(w, n, KF_ECONFIG, "%s must be a string", what);
    char *s = strdup(n->text);
    if (!s)
        return kf_fail(w->err, KF_ENOMEM, "out of memory");
    free(*out);
    *out = s;
    return KF_OK;
}

int kf_koconfig_split_fields(const char *text, char ***out, size_t *n, char *err)
{
    size_t count = 0;
    *out = NULL;
    *n = 0;
    for (const char *p = text; *p;) {
        while (*p && is_field_space(*p))
            p++;
        if (!*p)
            break;
        count++;
        while (*p && !is_field_space(*p))
            p++;
    }
    if (!count)
        return KF_OK;
    char **v = calloc(count, sizeof *v);
    if (!v)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    size_t i = 0;
    for (const char *p = text; *p && i < count;) {
        while (*p && is_field_space(*p))
            p++;
        const char *start = p;
        while (*p && !is_field_space(*p))
            p++;
        if (!(v[i++] = strndup(start, (size_t)(p - start)))) {
            kf_koconfig_free_list(v, count);
            return kf_fail(err, KF_ENOMEM, "out of memory");
        }
    }
    *out = v;
    *n = count;
    return KF_OK;
}

static int get_list(const struct walker *w, const struct kf_koconfig_node *n, const char *what, enum split split,
                    char ***out, size_t *n_out)
{
    kf_koconfig_free_list(*out, *n_out);
    *out = NULL;
    *n_out = 0;
    if (n->is_null)
        return KF_OK;
    if (n->kind == KF_YN_SCALAR) {
        if (split == SPLIT_FIELDS)
            return kf_koconfig_split_fields(n->text, out, n_out, w->err);
        char **v = calloc(1, sizeof *v);
        if (!v || !(v[0] = strdup(n->text))) {
            free(v);
            return kf_fail(w->err, KF_ENOMEM, "out of memory");
        }
        *out = v;
        *n_out = 1;
        return KF_OK;
    }
    if (n->kind != KF_YN_SEQ)
        return fail_node(w, n, KF_ECONFIG, "%s must be a list of strings", what);
    for (const struct kf_koconfig_node *item = kf_koconfig_tree_at(w->tree, n->first); item;
         item = kf_koconfig_tree_at(w->tree, item->next))
        if (item->kind != KF_YN_SCALAR || item->is_null)
            return fail_node(w, item, KF_ECONFIG, "%s must be a list of strings", what);
    if (!n->n_children)
        return KF_OK;
    char **v = calloc(n->n_children, sizeof *v);
    if (!v)
        return kf_fail(w->err, KF_ENOMEM, "out of memory");
    size_t i = 0;
    for (const struct kf_koconfig_node *item = kf_koconfig_tree_at(w->tree, n->first); item;
         item = kf_koconfig_tree_at(w->tree, item->next)) {
        if (!(v[i++] = strdup(item->text))) {
            kf_koconfig_free_list(v, n->n_children);
            return kf_fail(w->err, KF_ENOMEM, "out of memory");
        }
    }
    *out = v;
    *n_out = n->n_children;
    return KF_OK;
}

/* Looks a map key up among names (case-insensitively, as viper does);
 * errors for unknown and repeated keys. seen[] holds first lines. */
static int match_key(const struct walker *w, const struct kf_koconfig_node *key, const char *where,
                     const char *const *names, size_t count, size_t *seen, size_t *index)
{
    char quoted[80];
    if (key->kind != KF_YN_SCALAR)
        return fail_node(w, key, KF_ECONFIG, "%s%skeys must be strings", where, *where ? ": " : "");
    for (size_t i = 0; i < count; i++) {
        if (strcasecmp(key->text, names[i]) != 0)
            continue;
        if (seen[i]) {
            kf_koconfig_quote(key->text, quoted, sizeof quoted);
            return fail_node(w, key, KF_ECONFIG, "%s%sduplicate key \"%s\" (first at line %zu)", where,
                             *where ? ": " : "", quoted, seen[i]);
        }
        seen[i] = key->line;
        *index = i;
        return KF_OK;
    }
    kf_koconfig_quote(key->text, quoted, sizeof quoted);
    return fail_node(w, key, KF_ECONFIG, "%s%sunknown key \"%s\"", where, *where ? ": " : "", quoted);
}

struct key_pos {
    const struct kf_koconfig_node *key;
    size_t order; /* position in the file, to report the later duplicate */
};

static int cmp_key_pos(const void *a, const void *b)
{
    const struct key_pos *x = a, *y = b;
    int d = strcasecmp(x->key->text, y->key->text);
    return d ? d : (x->order > y->order) - (x->order < y->order);
}

static int parse_overrides(const struct walker *w, const struct kf_koconfig_node *map, struct kf_ko_config *c)
{
    char quoted[80];
    if (map->is_null)
        return KF_OK;
    if (map->kind != KF_YN_MAP)
        return fail_node(w, map, KF_ECONFIG, "baseImageOverrides must be a map of import path to base image");
    size_t pairs = map->n_children / 2;
    if (!pairs)
        return KF_OK;
    struct key_pos *keys = calloc(pairs, sizeof *keys);
    if (!keys || !(c->overrides = calloc(pairs, sizeof *c->overrides))) {
        free(keys);
        return kf_fail(w->err, KF_ENOMEM, "out of memory");
    }
    int rc = KF_OK;
    const struct kf_koconfig_node *key = kf_koconfig_tree_at(w->tree, map->first);
    while (key && !rc) {
        const struct kf_koconfig_node *val = kf_koconfig_tree_at(w->tree, key->next);
        if (key->kind != KF_YN_SCALAR || key->is_null || !key->len) {
            rc = fail_node(w, key, KF_ECONFIG, "baseImageOverrides: keys must be import paths");
            break;
        }
        kf_koconfig_quote(key->text, quoted, sizeof quoted);
        if (val->kind != KF_YN_SCALAR || val->is_null || !val->len) {
            rc = fail_node(w, val, KF_ECONFIG, "baseImageOverrides: \"%s\" must map to a base image reference",
                           quoted);
            break;
        }
        keys[c->n_overrides].key = key;
        keys[c->n_overrides].order = c->n_overrides;
        struct kf_ko_override *o = &c->overrides[c->n_overrides++];
        if (!(o->importpath = strdup(key->text)) || !(o->base = strdup(val->text)))
            rc = kf_fail(w->err, KF_ENOMEM, "out of memory");
        key = kf_koconfig_tree_at(w->tree, val->next);
    }
    /* ko lowercases the keys, so keys equal but for case collide. Sorting
     * keeps this O(n log n) on hostile files. */
    if (!rc)
        qsort(keys, c->n_overrides, sizeof *keys, cmp_key_pos);
    for (size_t i = 1; !rc && i < c->n_overrides; i++) {
        if (strcasecmp(keys[i - 1].key->text, keys[i].key->text) == 0) {
            kf_koconfig_quote(keys[i].key->text, quoted, sizeof quoted);
            rc = fail_node(w, keys[i].key, KF_ECONFIG,
                           "baseImageOverrides: duplicate import path \"%s\" (first at line %zu)", quoted,
                           keys[i - 1].key->line);
        }
    }
    free(keys);
    return rc;
}

static int parse_build(const struct walker *w, const struct kf_koconfig_node *map, size_t index,
                       struct kf_ko_build *b)
{
    char where[64], what[96];
    size_t seen[B_COUNT] = {0};
    snprintf(where, sizeof where, "builds[%zu]", index);
    if (map->kind != KF_YN_MAP || map->is_null)
        return fail_node(w, map, KF_ECONFIG, "%s must be a map", where);
    const struct kf_koconfig_node *key = kf_koconfig_tree_at(w->tree, map->first);
    while (key) {
        const struct kf_koconfig_node *val = kf_koconfig_tree_at(w->tree, key->next);
        size_t k;
        int rc = match_key(w, key, where, build_names, B_COUNT, seen, &k);
        if (rc)
            return rc;
        snprintf(what, sizeof what, "%s.%s", where, build_names[k]);
        switch ((enum build_key)k) {
        case B_ID: rc = get_string(w, val, what, &b->id); break;
        case B_DIR: rc = get_string(w, val, what, &b->dir); break;
        case B_MAIN: rc = get_string(w, val, what, &b->main); break;
        case B_ENV: rc = get_list(w, val, what, SPLIT_NONE, &b->env, &b->n_env); break;
        case B_FLAGS: rc = get_list(w, val, what, SPLIT_FIELDS, &b->flags, &b->n_flags); break;
        case B_LDFLAGS: rc = get_list(w, val, what, SPLIT_NONE, &b->ldflags, &b->n_ldflags); break;
        case B_CAPS:
            rc = get_list(w, val, what, SPLIT_FIELDS, &b->linux_capabilities, &b->n_linux_capabilities);
            break;
        case B_COUNT: rc = KF_EINTERNAL; break;
        }
        if (rc)
            return rc;
        key = kf_koconfig_tree_at(w->tree, val->next);
    }
    /* ko's defaults for an entry (GoReleaser's): "#<index>", ".", ".". */
    char id[32];
    snprintf(id, sizeof id, "#%zu", index);
    if ((!b->id || !*b->id) && (free(b->id), !(b->id = strdup(id))))
        return kf_fail(w->err, KF_ENOMEM, "out of memory");
    if ((!b->dir || !*b->dir) && (free(b->dir), !(b->dir = strdup("."))))
        return kf_fail(w->err, KF_ENOMEM, "out of memory");
    if ((!b->main || !*b->main) && (free(b->main), !(b->main = strdup("."))))
        return kf_fail(w->err, KF_ENOMEM, "out of memory");
    return KF_OK;
}

static int parse_builds(const struct walker *w, const struct kf_koconfig_node *seq, struct kf_ko_config *c)
{
    if (seq->is_null)
        return KF_OK;
    if (seq->kind != KF_YN_SEQ)
        return fail_node(w, seq, KF_ECONFIG, "builds must be a list of maps");
    if (!seq->n_children)
        return KF_OK;
    if (!(c->builds = calloc(seq->n_children, sizeof *c->builds)))
        return kf_fail(w->err, KF_ENOMEM, "out of memory");
    for (const struct kf_koconfig_node *item = kf_koconfig_tree_at(w->tree, seq->first); item;
         item = kf_koconfig_tree_at(w->tree, item->next)) {
        /* Counted before filling, so a failure frees a partial entry too. */
        size_t i = c->n_builds++;
        int rc = parse_build(w, item, i, &c->builds[i]);
        if (rc)
            return rc;
    }
    return KF_OK;
}

static int parse_top(const struct walker *w, const struct kf_koconfig_node *root, struct kf_ko_config *c)
{
    size_t seen[T_COUNT] = {0};
    if (root->is_null)
        return KF_OK; /* an empty document */
    if (root->kind != KF_YN_MAP)
        return fail_node(w, root, KF_ECONFIG, "the configuration must be a map of settings");
    const struct kf_koconfig_node *key = kf_koconfig_tree_at(w->tree, root->first);
    while (key) {
        const struct kf_koconfig_node *val = kf_koconfig_tree_at(w->tree, key->next);
        size_t k;
        int rc = match_key(w, key, "", top_names, T_COUNT, seen, &k);
        if (rc)
            return rc;
        const char *what = top_names[k];
        switch ((enum top_key)k) {
        case T_BASE:
            rc = get_string(w, val, what, &c->default_base_image);
            if (!rc && c->default_base_image && !*c->default_base_image)
                rc = fail_node(w, val, KF_ECONFIG, "defaultBaseImage must not be empty");
            break;
        case T_OVERRIDES: rc = parse_overrides(w, val, c); break;
        case T_PLATFORMS:
            rc = get_list(w, val, what, SPLIT_FIELDS, &c->default_platforms, &c->n_default_platforms);
            break;
        case T_ENV: rc = get_list(w, val, what, SPLIT_FIELDS, &c->default_env, &c->n_default_env); break;
        case T_FLAGS: rc = get_list(w, val, what, SPLIT_FIELDS, &c->default_flags, &c->n_default_flags); break;
        case T_LDFLAGS:
            rc = get_list(w, val, what, SPLIT_FIELDS, &c->default_ldflags, &c->n_default_ldflags);
            break;
        case T_BUILDS: rc = parse_builds(w, val, c); break;
        case T_COUNT: rc = KF_EINTERNAL; break;
        }
        if (rc)
            return rc;
        key = kf_koconfig_tree_at(w->tree, val->next);
    }
    return KF_OK;
}

int kf_koconfig_parse(const char *text, size_t len, const char *filename, struct kf_ko_config *out, char *err)
{
    struct kf_koconfig_tree tree;
    struct walker w = {.tree = &tree, .filename = filename ? filename : ".ko.yaml", .err = err};

    memset(out, 0, sizeof *out);
    if (!text && len)
        return kf_fail(err, KF_EINTERNAL, "kf_koconfig_parse: NULL text");
    int rc = kf_koconfig_tree_parse(text ? text : "", len, w.filename, &tree, err);
    if (rc)
        return rc;
    if (tree.n)
        rc = parse_top(&w, &tree.nodes[0], out);
    kf_koconfig_tree_free(&tree);
    if (rc)
        kf_koconfig_free(out);
    return rc;
}

static void free_build(struct kf_ko_build *b)
{
    free(b->id);
    free(b->dir);
    free(b->main);
    free(b->importpath);
    kf_koconfig_free_list(b->env, b->n_env);
    kf_koconfig_free_list(b->flags, b->n_flags);
    kf_koconfig_free_list(b->ldflags, b->n_ldflags);
    kf_koconfig_free_list(b->linux_capabilities, b->n_linux_capabilities);
}

void kf_koconfig_free(struct kf_ko_config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->default_base_image);
    for (size_t i = 0; i < c->n_overrides; i++) {
        free(c->overrides[i].importpath);
        free(c->overrides[i].base);
    }
    free(c->overrides);
    kf_koconfig_free_list(c->default_platforms, c->n_default_platforms);
    kf_koconfig_free_list(c->default_env, c->n_default_env);
    kf_koconfig_free_list(c->default_flags, c->n_default_flags);
    kf_koconfig_free_list(c->default_ldflags, c->n_default_ldflags);
    for (size_t i = 0; i < c->n_builds; i++)
        free_build(&c->builds[i]);
    free(c->builds);
    memset(c, 0, sizeof *c);
}
