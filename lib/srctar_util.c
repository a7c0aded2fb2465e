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
