/* Helpers shared by extraction and the dry-run check of uploads. */
#include "srctar_internal.h"

#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

void kf_srctar_show_name(char *out, size_t size, const char *name)
{
    size_t o = 0;
    for (; name && *name && o + 4 < size; name++)
        out[o++] = (unsigned char)*name < 0x20 || *name == 0x7f ? '?' : *name;
    if (name && *name)
        out[o++] = '.', out[o++] = '.', out[o++] = '.';
    out[o] = 0;
}

int kf_srctar_relpath_split(struct kf_srctar_path *p, const char *path)
{
    size_t slots = 1;
    memset(p, 0, sizeof *p);
    for (const char *s = path; *s; s++)
        slots += *s == '/';
    p->copy = strdup(path);
    p->comp = calloc(slots, sizeof *p->comp);
    if (!p->copy || !p->comp)
        return KF_ENOMEM;
    for (char *s = p->copy; *s;) {
        char *start = s;
        s += strcspn(s, "/");
        if (*s)
            *s++ = 0;
        if (!*start || !strcmp(start, "."))
            continue;
        p->dotdot |= !strcmp(start, "..");
        p->comp[p->n++] = start;
    }
    return KF_OK;
}

void kf_srctar_relpath_free(struct kf_srctar_path *p)
{
    free(p->copy);
    free(p->comp);
    memset(p, 0, sizeof *p);
}

/* Whether a symlink in a directory depth levels below the root stays inside.
 * ".." is allowed only before any normal component: the kernel resolves
 * "a/l/.." physically, through whatever a/l is (a/l -> ".." escapes), but a
 * leading run of ".." only climbs real directories this extraction made. */
int kf_srctar_target_ok(size_t depth, const char *target)
{
    int descended = 0;
    if (!*target || *target == '/')
        return 0;
    while (*target) {
        size_t len = strcspn(target, "/");
        if (len == 2 && target[0] == '.' && target[1] == '.') {
            if (descended || depth == 0)
                return 0;
            depth--;
        } else if (len > 0 && !(len == 1 && target[0] == '.')) {
            descended = 1;
        }
        target += len;
        if (*target)
            target++;
    }
    return 1;
}

la_ssize_t kf_srctar_stream_read(struct archive *tar, void *client, const void **buff)
{
    struct kf_srctar_stream *st = client;
    for (;;) {
        size_t size = 0;
        la_int64_t offset;
        int r = archive_read_data_block(st->raw, buff, &size, &offset);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            const char *why = archive_error_string(st->raw);
            archive_set_error(tar, archive_errno(st->raw), "%s", why ? why : "decompression failed");
            return -1;
        }
        if (size > st->cap - st->produced) {
            st->too_big = 1;
            archive_set_error(tar, EFBIG, "archive too big");
            return -1;
        }
        st->produced += size;
        if (size > 0)
            return (la_ssize_t)size;
    }
}

/* A repository's config can name commands git runs on its own (a filter
 * driver's clean command runs during `git status`, which {{.Git}} templates
 * use), and a .git file or symlink can point git at any directory. Uploads
 * keep their .git for `git describe`, minus those. */
int kf_srctar_is_git_config(const struct kf_srctar_path *p, mode_t type, const char *hardlink)
{
    const char *last = p->comp[p->n - 1];
    if (!strcmp(last, ".git"))
        return type != AE_IFDIR || hardlink;
    return p->n >= 2 && !strcmp(p->comp[p->n - 2], ".git") &&
           (!strcmp(last, "config") || !strcmp(last, "config.worktree") || !strcmp(last, "commondir"));
}

const char *kf_srctar_refused_kind(mode_t type)
{
    switch (type) {
    case AE_IFCHR: return "character device";
    case AE_IFBLK: return "block device";
    case AE_IFIFO: return "fifo";
    case AE_IFSOCK: return "socket";
    default: return "unknown entry type";
    }
}
