/* Git facts for {{.Git.*}}, gathered the way ko's pkg/internal/git does,
 * running git with an argv array through kf_spawn_run. */
#include "template.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "spawn.h"

#define GIT_TIMEOUT_MS 30000
#define GIT_OUT_MAX ((size_t)64 * 1024) /* status output beyond this just means dirty */
#define GIT_MAX_ARGS 16

/* Runs `git -C dir <safety options> args...`; *ok says it ran and exited 0.
 * Only running out of memory is an error: anything else means "no info". */
static int run_git(const char *dir, const char *const *args, struct kf_buf *out, int *ok, char *err)
{
    /* fsmonitor is a command a repository's own config may name, and
     * git status would run it; optional locks would make parallel builds
     * of one checkout trip over index.lock; a bare repository planted
     * inside an upload must not be picked up as ours. */
    const char *argv[GIT_MAX_ARGS] = {"git", "-C", dir, "--no-optional-locks", "-c", "log.showSignature=false",
                                      "-c", "core.fsmonitor=false", "-c", "safe.bareRepository=explicit"};
    size_t n = 10;
    for (; *args && n < GIT_MAX_ARGS - 1; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    kf_buf_reset(out);
    struct kf_spawn s = {.argv = argv, .out = out, .timeout_ms = GIT_TIMEOUT_MS};
    int status = -1;
    int rc = kf_spawn_run(&s, &status, err);
    if (rc == KF_ENOMEM)
        return rc;
    *ok = rc == KF_OK && status == 0;
    return KF_OK;
}

/* ko's clean(): the first line, single quotes removed. Caller frees. */
static char *first_line(const struct kf_buf *out)
{
    const char *s = out->data ? (const char *)out->data : "";
    size_t len = strcspn(s, "\n");
    char *line = malloc(len + 1);
    if (!line)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] != '\'')
            line[o++] = s[i];
    line[o] = 0;
    return line;
}

static int is_blank(const struct kf_buf *out)
{
    for (size_t i = 0; i < out->len; i++)
        if (!strchr(" \t\r\n", out->data[i]))
            return 0;
    return 1;
}

/* ko's getTag: the first non-empty line of describe, trimmed, unquoted. */
static char *first_tag(const struct kf_buf *out)
{
    const char *s = out->data ? (const char *)out->data : "";
    while (*s) {
        size_t len = strcspn(s, "\n");
        const char *start = s, *end = s + len;
        s = *end ? end + 1 : end;
        while (start < end && strchr(" \t\r'", *start))
            start++;
        while (end > start && strchr(" \t\r'", end[-1]))
            end--;
        if (end > start) {
            char *tag = strndup(start, (size_t)(end - start));
            if (tag) { /* quotes inside go too, as in ko */
                size_t o = 0;
                for (size_t i = 0; tag[i]; i++)
                    if (tag[i] != '\'')
                        tag[o++] = tag[i];
                tag[o] = 0;
            }
            return tag;
        }
    }
    return strdup("");
}

void kf_template_git_free(struct kf_git_info *g)
{
    if (!g)
        return;
    free(g->branch);
    free(g->tag);
    free(g->short_commit);
    free(g->full_commit);
    free(g->commit_date);
    free(g->commit_timestamp);
    free(g->tree_state);
    memset(g, 0, sizeof *g);
}

/* Runs git; *line = its first line (ko's clean), NULL when git failed. */
static int git_line(const char *dir, const char *const *args, struct kf_buf *buf, char **line, char *err)
{
    int ok;
    *line = NULL;
    int rc = run_git(dir, args, buf, &ok, err);
    if (rc || !ok)
        return rc;
    return (*line = first_line(buf)) ? KF_OK : kf_fail(err, KF_ENOMEM, "out of memory");
}

/* Commit time from "%ct" output; ko reads "" as Go's zero time. KF_EINVAL
 * for anything else that is not a number. */
static int commit_time(const char *ct, struct kf_git_info *g, char *err)
{
    long long secs = -62135596800LL; /* 0001-01-01T00:00:00Z */
    if (*ct) {
        char *end;
        errno = 0;
        secs = strtoll(ct, &end, 10);
        if (errno || *end)
            return KF_EINVAL;
    }
    char date[KF_TEMPLATE_DATE_LEN];
    char stamp[24];
    if (kf_template_format_date(secs, date))
        return KF_EINVAL;
    snprintf(stamp, sizeof stamp, "%lld", secs);
    if (!(g->commit_date = strdup(date)) || !(g->commit_timestamp = strdup(stamp)))
        return kf_fail(err, KF_ENOMEM, "out of memory");
    return KF_OK;
}

int kf_template_git_info(const char *dir, struct kf_git_info *out, char *err)
{
    static const char *const inside[] = {"rev-parse", "--is-inside-work-tree", NULL};
    static const char *const branch[] = {"rev-parse", "--quiet", "--abbrev-ref", "HEAD", NULL};
    static const char *const short_commit[] = {"show", "-s", "--format=%h", "HEAD", "--", NULL};
    static const char *const full_commit[] = {"show", "-s", "--format=%H", "HEAD", "--", NULL};
    static const char *const date[] = {"show", "-s", "--format=%ct", "HEAD", "--", NULL};
    static const char *const status[] = {"status", "--porcelain", NULL};
    static const char *const describe[] = {"describe", "--tags", "--abbrev=0", "HEAD", NULL};
    struct kf_buf buf;
    char *line = NULL, *ct = NULL;
    int ok, rc;

    memset(out, 0, sizeof *out);
    if (!dir || !*dir)
        dir = ".";
    kf_buf_init(&buf, GIT_OUT_MAX);
    if ((rc = git_line(dir, inside, &buf, &line, err)) || !line || strcmp(line, "true") != 0)
        goto out;
    /* As in ko, any of these failing (no commit yet...) means no info at all. */
    rc = git_line(dir, branch, &buf, &out->branch, err);
    if (!rc && out->branch)
        rc = git_line(dir, short_commit, &buf, &out->short_commit, err);
    if (!rc && out->short_commit)
        rc = git_line(dir, full_commit, &buf, &out->full_commit, err);
    if (!rc && out->full_commit)
        rc = git_line(dir, date, &buf, &ct, err);
    if (!rc && ct)
        rc = commit_time(ct, out, err);
    if (rc == KF_EINVAL || (!rc && !ct)) {
        kf_template_git_free(out);
        rc = KF_OK;
        goto out;
    }
    if (rc || (rc = run_git(dir, status, &buf, &ok, err)))
        goto out;
    if (!(out->tree_state = strdup(ok && is_blank(&buf) ? "clean" : "dirty"))) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = run_git(dir, describe, &buf, &ok, err)))
        goto out;
    if (!(out->tag = ok ? first_tag(&buf) : strdup("v0.0.0")))
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
out:
    if (rc)
        kf_template_git_free(out);
    free(line);
    free(ct);
    kf_buf_free(&buf);
    return rc;
}

void kf_template_data_set_git(struct kf_template_data *d, const struct kf_git_info *g, int ko_defaults)
{
    int empty = !g || (!g->branch && !g->full_commit && !g->tree_state);
    if (empty && ko_defaults) {
        d->git_branch = d->git_tag = d->git_short_commit = d->git_full_commit = "";
        d->git_commit_date = "0001-01-01T00:00:00Z";
        d->git_commit_timestamp = "-62135596800";
        d->git_tree_state = "clean";
        return;
    }
    d->git_branch = g ? g->branch : NULL;
    d->git_tag = g ? g->tag : NULL;
    d->git_short_commit = g ? g->short_commit : NULL;
    d->git_full_commit = g ? g->full_commit : NULL;
    d->git_commit_date = g ? g->commit_date : NULL;
    d->git_commit_timestamp = g ? g->commit_timestamp : NULL;
    d->git_tree_state = g ? g->tree_state : NULL;
}
