/* libyaml events to a small tree, refusing what a .ko.yaml never needs
 * (anchors, aliases, custom tags, several documents) and capping its size. */
#include "koconfig_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "koconfig.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

struct open_coll {
    size_t link;      /* the collection's index + 1 */
    size_t last;      /* its last child's index + 1 */
};

struct builder {
    struct kf_koconfig_tree *tree;
    struct open_coll stack[KF_KOCONFIG_MAX_DEPTH];
    size_t depth;
    const char *filename;
    char *err;
};

const struct kf_koconfig_node *kf_koconfig_tree_at(const struct kf_koconfig_tree *tree, size_t link)
{
    return link && link <= tree->n ? &tree->nodes[link - 1] : NULL;
}

void kf_koconfig_tree_free(struct kf_koconfig_tree *tree)
{
    for (size_t i = 0; i < tree->n; i++)
        free(tree->nodes[i].text);
    free(tree->nodes);
    tree->nodes = NULL;
    tree->n = tree->cap = 0;
}

void kf_koconfig_quote(const char *s, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        size_t need = (*p >= 0x20 && *p < 0x7f && *p != '\\') ? 1 : (*p == '\\' ? 2 : 4);
        if (o + need + 4 > size) { /* keep room for "..." and the NUL */
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (need == 1) {
            out[o++] = (char)*p;
        } else if (need == 2) {
            out[o++] = '\\';
            out[o++] = '\\';
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = 0;
}

static int fail_at(struct builder *b, const yaml_mark_t *m, int rc, const char *what)
{
    return kf_fail(b->err, rc, "%s:%zu:%zu: %s", b->filename, m->line + 1, m->column + 1, what);
}

/* Checks anchor and tag; *is_null_tag says the tag was !!null. */
static int check_props(struct builder *b, const yaml_mark_t *m, const yaml_char_t *anchor, const yaml_char_t *tag,
                       enum kf_koconfig_kind kind, int *is_null_tag)
{
    *is_null_tag = 0;
    if (anchor)
        return fail_at(b, m, KF_ECONFIG, "anchors and aliases are not supported");
    if (!tag || strcmp((const char *)tag, "!") == 0)
        return KF_OK;
    const char *t = (const char *)tag;
    if (strncmp(t, TAG_PREFIX, strlen(TAG_PREFIX)) == 0) {
        const char *name = t + strlen(TAG_PREFIX);
        if (kind == KF_YN_SEQ && strcmp(name, "seq") == 0)
            return KF_OK;
        if (kind == KF_YN_MAP && strcmp(name, "map") == 0)
            return KF_OK;
        if (kind == KF_YN_SCALAR && (strcmp(name, "str") == 0 || strcmp(name, "int") == 0 ||
                                     strcmp(name, "float") == 0 || strcmp(name, "bool") == 0))
            return KF_OK;
        if (kind == KF_YN_SCALAR && strcmp(name, "null") == 0) {
            *is_null_tag = 1;
            return KF_OK;
        }
    }
    char quoted[80];
    kf_koconfig_quote(t, quoted, sizeof quoted);
    return kf_fail(b->err, KF_ECONFIG, "%s:%zu:%zu: unsupported tag \"%s\"", b->filename, m->line + 1,
                   m->column + 1, quoted);
}

/* Appends a node and hangs it under the open collection (or makes it the root). */
static int add_node(struct builder *b, enum kf_koconfig_kind kind, const yaml_mark_t *m, size_t *link)
{
    struct kf_koconfig_tree *t = b->tree;
    if (t->n >= KF_KOCONFIG_MAX_NODES)
        return fail_at(b, m, KF_ETOOBIG, "too many values");
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct kf_koconfig_node *nodes = realloc(t->nodes, cap * sizeof *nodes);
        if (!nodes)
            return kf_fail(b->err, KF_ENOMEM, "out of memory");
        t->nodes = nodes;
        t->cap = cap;
    }
    struct kf_koconfig_node *n = &t->nodes[t->n];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->line = m->line + 1;
    n->col = m->column + 1;
    *link = ++t->n;
    if (b->depth == 0)
        return KF_OK; /* the root: a document holds exactly one node */
    struct open_coll *parent = &b->stack[b->depth - 1];
    if (parent->last)
        t->nodes[parent->last - 1].next = *link;
    else
        t->nodes[parent->link - 1].first = *link;
    parent->last = *link;
    t->nodes[parent->link - 1].n_children++;
    return KF_OK;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
    int null_tag;
    int rc = check_props(b, &ev->start_mark, ev->data.scalar.anchor, ev->data.scalar.tag, KF_YN_SCALAR, &null_tag);
    if (rc)
        return rc;
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (memchr(v, 0, len))
        return fail_at(b, &ev->start_mark, KF_ECONFIG, "NUL character in a string");
    size_t link;
    if ((rc = add_node(b, KF_YN_SCALAR, &ev->start_mark, &link)))
        return rc;
    struct kf_koconfig_node *n = &b->tree->nodes[link - 1];
    n->text = malloc(len + 1);
    if (!n->text)
        return kf_fail(b->err, KF_ENOMEM, "out of memory");
    memcpy(n->text, v, len);
    n->text[len] = 0;
    n->len = len;
    int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag;
    n->is_null = null_tag || (plain && (len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
                                        strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0));
    return KF_OK;
}

static int on_collection_start(struct builder *b, const yaml_event_t *ev, enum kf_koconfig_kind kind)
{
    const yaml_char_t *anchor = kind == KF_YN_SEQ ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
    const yaml_char_t *tag = kind == KF_YN_SEQ ? ev->data.sequence_start.tag : ev->data.mapping_start.tag;
    int null_tag;
    int rc = check_props(b, &ev->start_mark, anchor, tag, kind, &null_tag);
    if (rc)
        return rc;
    if (b->depth >= KF_KOCONFIG_MAX_DEPTH)
        return fail_at(b, &ev->start_mark, KF_ECONFIG, "nested too deeply");
    size_t link;
    if ((rc = add_node(b, kind, &ev->start_mark, &link)))
        return rc;
    b->stack[b->depth].link = link;
    b->stack[b->depth].last = 0;
    b->depth++;
    return KF_OK;
}

static int parser_error(struct builder *b, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)
        return kf_fail(b->err, KF_ENOMEM, "out of memory");
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_READER_ERROR)
        return kf_fail(b->err, KF_ECONFIG, "%s: %s at byte %zu", b->filename, problem, p->problem_offset);
    if (p->context)
        return kf_fail(b->err, KF_ECONFIG, "%s:%zu:%zu: %s (%s)", b->filename, p->problem_mark.line + 1,
                       p->problem_mark.column + 1, problem, p->context);
    return fail_at(b, &p->problem_mark, KF_ECONFIG, problem);
}

int kf_koconfig_tree_parse(const char *text, size_t len, const char *filename, struct kf_koconfig_tree *tree,
                           char *err)
{
    struct builder b = {.tree = tree, .filename = filename ? filename : ".ko.yaml", .err = err};
    yaml_parser_t parser;
    yaml_event_t ev;
    int documents = 0, done = 0, rc = KF_ECONFIG;

    memset(tree, 0, sizeof *tree);
    if (len > KF_KOCONFIG_MAX_BYTES)
        return kf_fail(err, KF_ETOOBIG, "%s: larger than %zu bytes", b.filename, KF_KOCONFIG_MAX_BYTES);
    if (!yaml_parser_initialize(&parser))
        return kf_fail(err, KF_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = parser_error(&b, &parser);
            goto out;
        }
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            rc = documents++ ? fail_at(&b, &ev.start_mark, KF_ECONFIG, "several YAML documents are not supported")
                             : KF_OK;
            break;
        case YAML_ALIAS_EVENT:
            rc = fail_at(&b, &ev.start_mark, KF_ECONFIG, "anchors and aliases are not supported");
            break;
        case YAML_SCALAR_EVENT:
            rc = on_scalar(&b, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            rc = on_collection_start(&b, &ev, KF_YN_SEQ);
            break;
        case YAML_MAPPING_START_EVENT:
            rc = on_collection_start(&b, &ev, KF_YN_MAP);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            b.depth--; /* libyaml balances start and end events */
            rc = KF_OK;
            break;
        case YAML_STREAM_END_EVENT:
            done = 1;
            rc = KF_OK;
            break;
        default:
            rc = KF_OK;
            break;
        }
        yaml_event_delete(&ev);
        if (rc)
            goto out;
    }
    rc = KF_OK;
out:
    yaml_parser_delete(&parser);
    if (rc)
        kf_koconfig_tree_free(tree);
    return rc;
}
