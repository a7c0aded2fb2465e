/* The path rules of source archives that need no archive library: a
 * relative path's components, and whether a symlink stays inside the tree.
 * Apart from srctar*.c because the CLI's packer (srcpack.c) needs them and
 * must not pull libarchive into the kofarm binary (~2 ms at every start). */
#include "srctar_internal.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

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

int kf_srctar_symlink_ok(const char *link_path, const char *target)
{
    struct kf_srctar_path p = {0};
    int ok = 0;
    if (link_path && target && kf_srctar_relpath_split(&p, link_path) == KF_OK && !p.dotdot && p.n > 0 &&
        *link_path != '/')
        ok = kf_srctar_target_ok(p.n - 1, target);
    kf_srctar_relpath_free(&p);
    return ok;
}
