/* Running the go tool and turning its complaints into our error text. */
#include "gotool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spawn.h"

static int is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

int kf_gotool_fail(char *err, int rc, const char *what, const char *text)
{
    static const char more[] = "\n...";
    if (!err)
        return rc;
    int used = snprintf(err, KF_ERRLEN, "%s: ", what);
    if (used < 0 || used >= KF_ERRLEN)
        return rc;
    size_t len = strlen(text);
    while (len > 0 && is_space(*text)) {
        text++;
        len--;
    }
    while (len > 0 && is_space(text[len - 1]))
        len--;
    size_t room = KF_ERRLEN - (size_t)used - 1;
    int cut = len > room;
    if (cut && room > 2 * sizeof more) {
        /* Keep the first errors (go reports in order), cut at a line end. */
        size_t keep = room - (sizeof more - 1);
        const char *nl = memrchr(text, '\n', keep);
        len = nl && nl > text ? (size_t)(nl - text) : keep;
    } else if (cut) {
        len = room;
        cut = 0;
    }
    char *dst = err + used;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        dst[i] = (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : (char)c;
    }
    if (cut)
        memcpy(dst + len, more, sizeof more);
    else
        dst[len] = 0;
    return rc;
}

int kf_gotool_run(const struct kf_gotool_run *r, char *err)
{
    size_t n = 0;
    while (r->args[n])
        n++;
    const char **argv = calloc(n + 2, sizeof *argv);
    if (!argv)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    argv[0] = r->go;
    memcpy(argv + 1, r->args, n * sizeof *argv);
    struct kf_spawn s = {
        .argv = argv,
        .envp = (const char *const *)r->envp,
        .cwd = r->workdir,
        .out = r->out,
        .errout = r->errout,
        .line_fn = r->line_fn,
        .line_ctx = r->line_ctx,
        .cancel = r->cancel,
    };
    int status = -1;
    int rc = kf_spawn_run(&s, &status, err);
    if (!rc && status != 0) {
        char what[64], fallback[32];
        snprintf(what, sizeof what, "go %s", n ? r->args[0] : "");
        snprintf(fallback, sizeof fallback, "exit status %d", status);
        const struct kf_buf *text = r->errout ? r->errout : r->out;
        rc = kf_gotool_fail(err, KF_EBUILD, what, text && text->len ? (const char *)text->data : fallback);
    }
    free(argv);
    return rc;
}
