/* A dry run of kf_srctar_extract: the same walk over the archive with the
 * tree it would make kept in memory (one node per path component), so the
 * server can refuse a hostile upload at submit time with the same message
 * a worker would give. */
#include "srctar.h"

#include <archive_entry.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srctar_internal.h"

#define NONE SIZE_MAX

struct node {
    size_t parent;
    char *name;
    char type; /* 'd', 'f', 'l' */
};

struct check {
    struct archive *tar;
    struct kf_srctar_stream stream;
    size_t max_bytes, max_entries, max_path;
    size_t entries, file_bytes;
    struct node *nodes; /* nodes[0] is the root */
    size_t n_nodes, cap_nodes;
    size_t *slots; /* open addressing over (parent, name): node index or NONE */
    size_t n_slots;
    char shown[192];
    char *err;
};

static size_t hash(size_t parent, const char *name)
{
    uint64_t h = 1469598103934665603ull ^ parent;
    for (; *name; name++)
        h = (h ^ (unsigned char)*name) * 1099511628211ull;
    return (size_t)h;
}

static size_t find(const struct check *c, size_t parent, const char *name)
{
    for (size_t i = hash(parent, name) & (c->n_slots - 1);; i = (i + 1) & (c->n_slots - 1)) {
        size_t n = c->slots[i];
        if (n == NONE)
            return NONE;
        if (c->nodes[n].parent == parent && !strcmp(c->nodes[n].name, name))
            return n;
    }
}

static int grow(struct check *c)
{
    size_t n_slots = c->n_slots ? c->n_slots * 2 : 1024;
    size_t *slots = malloc(n_slots * sizeof *slots);
    if (!slots)
        return KF_ENOMEM;
    for (size_t i = 0; i < n_slots; i++)
        slots[i] = NONE;
    for (size_t n = 1; n < c->n_nodes; n++) {
        size_t i = hash(c->nodes[n].parent, c->nodes[n].name) & (n_slots - 1);
        while (slots[i] != NONE)
            i = (i + 1) & (n_slots - 1);
        slots[i] = n;
    }
    free(c->slots);
    c->slots = slots;
    c->n_slots = n_slots;
    return KF_OK;
}

static int add(struct check *c, size_t parent, const char *name, char type, size_t *out)
{
    if (c->n_nodes == c->cap_nodes) {
        size_t cap = c->cap_nodes ? c->cap_nodes * 2 : 256;
        struct node *nodes = reallocarray(c->nodes, cap, sizeof *nodes);
        if (!nodes)
            return kf_fail(c->err, KF_ENOMEM, "out of memory");
        c->nodes = nodes;
        c->cap_nodes = cap;
    }
    if ((c->n_nodes + 1) * 2 > c->n_slots && grow(c))
        return kf_fail(c->err, KF_ENOMEM, "out of memory");
    char *copy = strdup(name);
    if (!copy)
        return kf_fail(c->err, KF_ENOMEM, "out of memory");
    size_t n = c->n_nodes++;
    c->nodes[n] = (struct node){parent, copy, type};
    size_t i = hash(parent, name) & (c->n_slots - 1);
    while (c->slots[i] != NONE)
        i = (i + 1) & (c->n_slots - 1);
    c->slots[i] = n;
    *out = n;
    return KF_OK;
}

static int corrupt(struct check *c)
{
    if (c->stream.too_big)
        return kf_fail(c->err, KF_ETOOBIG, "archive: more than %zu bytes uncompressed", c->max_bytes);
    if (archive_errno(c->tar) == ENOMEM)
        return kf_fail(c->err, KF_ENOMEM, "out of memory reading the archive");
    const char *why = archive_error_string(c->tar);
    if (c->shown[0])
        return kf_fail(c->err, KF_EINVAL, "corrupt archive near entry %s: %s", c->shown, why ? why : "read error");
    return kf_fail(c->err, KF_EINVAL, "not a tar or tar.gz archive: %s", why ? why : "read error");
}

/* The directory holding p's last component, as open_parent would reach it. */
static int walk_parent(struct check *c, const struct kf_srctar_path *p, int create, size_t *out)
{
    size_t dir = 0;
    for (size_t i = 0; i + 1 < p->n; i++) {
        size_t next = find(c, dir, p->comp[i]);
        if (next == NONE) {
            if (!create)
                return kf_fail(c->err, KF_EINVAL, "tar entry %s: link target not extracted before it", c->shown);
            int rc = add(c, dir, p->comp[i], 'd', &next);
            if (rc)
                return rc;
        } else if (c->nodes[next].type == 'l') {
            return kf_fail(c->err, KF_EINVAL, "tar entry %s: passes through symlink \"%s\"", c->shown, p->comp[i]);
        } else if (c->nodes[next].type != 'd') {
            return kf_fail(c->err, KF_EINVAL, "tar entry %s: \"%s\" is not a directory", c->shown, p->comp[i]);
        }
        dir = next;
    }
    *out = dir;
    return KF_OK;
}

/* Puts a non-directory at (dir, name) where extraction's make_room would. */
static int place(struct check *c, size_t dir, const char *name, char type)
{
    size_t have = find(c, dir, name);
    if (have == NONE)
        return add(c, dir, name, type, &have);
    if (c->nodes[have].type == 'd')
        return kf_fail(c->err, KF_EINVAL, "tar entry %s: would replace a directory", c->shown);
    c->nodes[have].type = type;
    return KF_OK;
}

/* Reads the data, counting file sizes as write_file does. */
static int count_data(struct check *c, struct archive_entry *e, int is_file)
{
    size_t end = 0;
    for (;;) {
        const void *buf;
        size_t size;
        la_int64_t offset;
        int r = archive_read_data_block(c->tar, &buf, &size, &offset);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            return corrupt(c);
        if (!is_file)
            continue;
        if (offset < 0 || (uint64_t)offset > c->max_bytes || size > c->max_bytes - (size_t)offset)
            return kf_fail(c->err, KF_ETOOBIG, "tar entry %s: file larger than %zu bytes", c->shown, c->max_bytes);
        size_t block_end = (size_t)offset + size;
        if (block_end > end) {
            if (block_end - end > c->max_bytes - c->file_bytes)
                return kf_fail(c->err, KF_ETOOBIG, "archive: files add up to more than %zu bytes", c->max_bytes);
            c->file_bytes += block_end - end;
            end = block_end;
        }
    }
    la_int64_t declared = is_file && archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    if (declared > 0 && (uint64_t)declared > end) {
        if ((uint64_t)declared - end > c->max_bytes - c->file_bytes)
            return kf_fail(c->err, KF_ETOOBIG, "archive: files add up to more than %zu bytes", c->max_bytes);
        c->file_bytes += (size_t)declared - end;
    }
    return KF_OK;
}

static int check_hardlink(struct check *c, const char *target, size_t dir, const char *name)
{
    struct kf_srctar_path t;
    char shown[192];
    kf_srctar_show_name(shown, sizeof shown, target);
    int rc = kf_srctar_relpath_split(&t, target);
    size_t tdir, node;
    if (rc) {
        rc = kf_fail(c->err, rc, "out of memory");
    } else if (strlen(target) > c->max_path || *target == '/' || t.dotdot || t.n == 0) {
        rc = kf_fail(c->err, KF_EINVAL, "tar entry %s: hard link to %s refused", c->shown, shown);
    } else if (!(rc = walk_parent(c, &t, 0, &tdir))) {
        node = find(c, tdir, t.comp[t.n - 1]);
        if (node == NONE || c->nodes[node].type != 'f')
            rc = kf_fail(c->err, KF_EINVAL, "tar entry %s: hard link to %s: not a file extracted before it",
                         c->shown, shown);
        else if (find(c, dir, name) != node)
            rc = place(c, dir, name, 'f');
    }
    kf_srctar_relpath_free(&t);
    return rc;
}

static int check_symlink(struct check *c, struct archive_entry *e, const struct kf_srctar_path *p, size_t dir)
{
    const char *target = archive_entry_symlink(e);
    char shown[192];
    kf_srctar_show_name(shown, sizeof shown, target);
    if (!target || !*target)
        return kf_fail(c->err, KF_EINVAL, "tar entry %s: symlink without a target", c->shown);
    if (strlen(target) > c->max_path)
        return kf_fail(c->err, KF_EINVAL, "tar entry %s: symlink target longer than %zu bytes", c->shown,
                       c->max_path);
    if (*target == '/')
        return kf_fail(c->err, KF_EINVAL, "tar entry %s: symlink to absolute path %s refused", c->shown, shown);
    if (!kf_srctar_target_ok(p->n - 1, target))
        return kf_fail(c->err, KF_EINVAL, "tar entry %s: symlink to %s leaves the tree", c->shown, shown);
    return place(c, dir, p->comp[p->n - 1], 'l');
}

static int check_entry(struct check *c, struct archive_entry *e)
{
    const char *path = archive_entry_pathname(e);
    const char *hardlink = archive_entry_hardlink(e);
    mode_t type = archive_entry_filetype(e);
    struct kf_srctar_path p = {0};
    size_t dir;
    int rc;

    kf_srctar_show_name(c->shown, sizeof c->shown, path);
    if (!path || !*path) {
        rc = kf_fail(c->err, KF_EINVAL, "tar entry #%zu has no name", c->entries);
    } else if (strlen(path) > c->max_path) {
        rc = kf_fail(c->err, KF_EINVAL, "tar entry %s: path longer than %zu bytes", c->shown, c->max_path);
    } else if (*path == '/') {
        rc = kf_fail(c->err, KF_EINVAL, "tar entry %s: absolute path refused", c->shown);
    } else if ((rc = kf_srctar_relpath_split(&p, path))) {
        rc = kf_fail(c->err, rc, "out of memory");
    } else if (p.dotdot) {
        rc = kf_fail(c->err, KF_EINVAL, "tar entry %s: \"..\" in path refused", c->shown);
    } else if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
        rc = kf_fail(c->err, KF_EINVAL, "tar entry %s: %s refused", c->shown, kf_srctar_refused_kind(type));
    } else if (p.n == 0) {
        rc = type == AE_IFDIR && !hardlink
                 ? count_data(c, e, 0)
                 : kf_fail(c->err, KF_EINVAL, "tar entry %s: names the destination directory", c->shown);
    } else if (kf_srctar_is_git_config(&p, type, hardlink)) {
        rc = count_data(c, e, 0);
    } else if (!(rc = walk_parent(c, &p, 1, &dir))) {
        const char *name = p.comp[p.n - 1];
        size_t have = find(c, dir, name);
        if (hardlink)
            rc = check_hardlink(c, hardlink, dir, name);
        else if (type == AE_IFREG)
            rc = place(c, dir, name, 'f');
        else if (type == AE_IFLNK)
            rc = check_symlink(c, e, &p, dir);
        else if (have != NONE && c->nodes[have].type != 'd')
            rc = kf_fail(c->err, KF_EINVAL, "tar entry %s: exists and is not a directory", c->shown);
        else if (have == NONE)
            rc = add(c, dir, name, 'd', &have);
        if (!rc)
            rc = count_data(c, e, !hardlink && type == AE_IFREG);
    }
    kf_srctar_relpath_free(&p);
    return rc;
}

static int open_readers(struct check *c, const void *data, size_t len)
{
    c->stream.raw = archive_read_new();
    c->tar = archive_read_new();
    if (!c->stream.raw || !c->tar)
        return kf_fail(c->err, KF_ENOMEM, "out of memory");
    if (archive_read_support_filter_gzip(c->stream.raw) != ARCHIVE_OK ||
        archive_read_support_format_raw(c->stream.raw) != ARCHIVE_OK ||
        archive_read_support_format_tar(c->tar) != ARCHIVE_OK)
        return kf_fail(c->err, KF_EINTERNAL, "libarchive lacks built-in gzip or tar support");
    struct archive_entry *e;
    if (archive_read_open_memory(c->stream.raw, data, len) != ARCHIVE_OK ||
        archive_read_next_header(c->stream.raw, &e) != ARCHIVE_OK) {
        const char *why = archive_error_string(c->stream.raw);
        return kf_fail(c->err, KF_EINVAL, "not a tar or tar.gz archive: %s", why ? why : "unreadable");
    }
    if (archive_read_open(c->tar, &c->stream, NULL, kf_srctar_stream_read, NULL) != ARCHIVE_OK)
        return corrupt(c);
    return KF_OK;
}

int kf_srctar_check(const void *data, size_t len, const struct kf_srctar_limits *lim, char *err)
{
    struct kf_srctar_limits none = {0};
    if (!lim)
        lim = &none;
    struct check c = {
        .max_bytes = lim->max_bytes ? lim->max_bytes : KF_SRCTAR_DEFAULT_MAX_BYTES,
        .max_entries = lim->max_entries ? lim->max_entries : KF_SRCTAR_DEFAULT_MAX_ENTRIES,
        .max_path = lim->max_path ? lim->max_path : KF_SRCTAR_DEFAULT_MAX_PATH,
        .err = err,
    };
    c.stream.cap = c.max_bytes;
    if (!data || len == 0)
        return kf_fail(err, KF_EINVAL, "empty source archive");
    int rc = KF_ENOMEM;
    c.nodes = malloc(256 * sizeof *c.nodes);
    if (!c.nodes || grow(&c)) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    c.cap_nodes = 256;
    c.nodes[c.n_nodes++] = (struct node){NONE, NULL, 'd'};
    if ((rc = open_readers(&c, data, len)))
        goto out;
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(c.tar, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            rc = corrupt(&c);
            goto out;
        }
        if (++c.entries > c.max_entries) {
            rc = kf_fail(err, KF_ETOOBIG, "archive: more than %zu entries", c.max_entries);
            goto out;
        }
        if ((rc = check_entry(&c, e)))
            goto out;
    }
    rc = KF_OK;
out:
    if (c.tar)
        archive_read_free(c.tar);
    if (c.stream.raw)
        archive_read_free(c.stream.raw);
    for (size_t i = 1; i < c.n_nodes; i++)
        free(c.nodes[i].name);
    free(c.nodes);
    free(c.slots);
    return rc;
}
