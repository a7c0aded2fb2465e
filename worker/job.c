/* One claimed build or resolve job: source (git checkout or uploaded tarball) into a
 * private job directory, result reuse, the engine build and push, and the
 * outcome recorded under the job's lease (a resolve's release.yaml with
 * its success, resolve.c doing the resolving). Failures are classified: user
 * errors fail at once, transient ones go back to the queue with backoff. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "dbartifacts.h"
#include "digest.h"
#include "gitsrc.h"
#include "jobspec.h"
#include "jobspec_resolve.h"
#include "joblog.h"
#include "log.h"
#include "srctar.h"
#include "worker.h"
#include "wkresolve.h"

#define GIT_TIMEOUT_MS (10 * 60 * 1000)

enum outcome { OUT_SUCCEEDED, OUT_FAILED, OUT_CANCELED, OUT_NONE };

struct job_run {
    struct wk_slot *s;
    const struct wk_config *cfg;
    struct kf_claimed *job;
    struct wk_joblog log;
    long long started;
    char dir[PATH_MAX], src[PATH_MAX];
    int dir_made;
    char commit[65];        /* git jobs */
    const char *upload;     /* upload jobs: the spec's digest */
    enum outcome outcome;
    json_t *result;         /* OUT_SUCCEEDED */
    unsigned char *release; /* OUT_SUCCEEDED resolve (not reused): release.yaml, stored with the success */
    size_t release_len;
    const char *code;       /* OUT_FAILED */
    int transient;
    char message[KF_ERRLEN];
};

static int stop_reason(const struct job_run *j)
{
    return atomic_load(&j->s->stop_reason);
}

/* The job's lease is gone: nothing more may be written for it. */
static int lost(const struct job_run *j)
{
    return stop_reason(j) & WK_STOP_LOST;
}

static int fail_with(struct job_run *j, const char *code, int transient, const char *msg)
{
    j->outcome = OUT_FAILED;
    j->code = code;
    j->transient = transient;
    snprintf(j->message, sizeof j->message, "%s", msg);
    return -1;
}

/* Canceled covers lost and handed-back jobs too: finish() tells them apart. */
static int canceled(struct job_run *j)
{
    j->outcome = OUT_CANCELED;
    return -1;
}

/* The job's code for an engine or source error. */
static void classify(int rc, int from_git, const char **code, int *transient)
{
    *transient = 0;
    switch (rc) {
    case KF_EBUILD: *code = "build_failed"; break;
    case KF_EINVAL: *code = "bad_request"; break;
    case KF_ECONFIG: *code = "bad_config"; break;
    case KF_ENOTFOUND: *code = from_git ? "source_not_found" : "not_found"; break;
    case KF_EAUTH:
    case KF_EDENIED: *code = from_git ? "source_auth_failed" : "registry_auth_failed"; break;
    case KF_ETOOBIG: *code = "too_big"; break;
    case KF_EUNSUPPORTED: *code = "unsupported"; break;
    case KF_ENET: *code = from_git ? "source_unavailable" : "network"; *transient = 1; break;
    case KF_EREGISTRY: *code = "registry_error"; *transient = 1; break;
    case KF_EIO: *code = "io_error"; *transient = 1; break; /* this machine's disk: another may do */
    default: *code = "internal"; *transient = 1; break;
    }
}

static int fail_rc(struct job_run *j, int rc, int from_git, const char *msg)
{
    if (rc == KF_ECANCELED)
        return canceled(j);
    const char *code;
    int transient;
    classify(rc, from_git, &code, &transient);
    return fail_with(j, code, transient, msg[0] ? msg : kf_strerror(rc));
}

/* STATE_DIR/jobs/<id>-<attempt>, fresh; the source goes into src/. */
static int make_dir(struct job_run *j)
{
    char err[KF_ERRLEN] = "";
    if (snprintf(j->dir, sizeof j->dir, "%s/%" PRId64 "-%d", j->cfg->jobs_dir, j->job->id, j->job->attempt) >=
            (int)sizeof j->dir ||
        snprintf(j->src, sizeof j->src, "%s/src", j->dir) >= (int)sizeof j->src)
        return fail_with(j, "io_error", 1, "job directory path too long");
    if (mkdir(j->dir, 0700) != 0) {
        if (errno != EEXIST || kf_srctar_clear_dir(j->dir, err)) /* left by a crash */
            return fail_with(j, "io_error", 1, err[0] ? err : strerror(errno));
    }
    j->dir_made = 1;
    return 0;
}

static void remove_dir(struct job_run *j)
{
    char err[KF_ERRLEN] = "";
    if (!j->dir_made)
        return;
    if (kf_srctar_clear_dir(j->dir, err) || rmdir(j->dir) != 0)
        wk_logf("job %" PRId64 ": cannot remove %s: %s", j->job->id, j->dir, err[0] ? err : strerror(errno));
}

static int git_source(struct job_run *j, const json_t *git)
{
    char err[KF_ERRLEN] = "";
    const char *url = json_string_value(json_object_get(git, "url"));
    const char *ref = json_string_value(json_object_get(git, "ref"));
    const char *commit = json_string_value(json_object_get(git, "commit"));
    if (!url || (!ref && !commit))
        return fail_with(j, "bad_request", 0, "spec.source.git needs a url and a ref or commit");
    char shown[512];
    kf_git_shown_url(url, shown, sizeof shown); /* the log is readable by every reader of the job */
    wk_joblog_printf(&j->log, "system", "Fetching %s %s", shown, commit ? commit : ref);
    struct kf_git_checkout_opts go = {
        .cache_dir = j->cfg->git_dir,
        .url = url,
        .ref = ref,
        .commit = commit,
        .dest_dir = j->src,
        .allow_file = j->cfg->allow_file_urls,
        .envp = j->cfg->git_env,
        .cancel = &j->s->cancel,
        .log_fn = wk_joblog_git_fn,
        .log_ctx = &j->log,
        .timeout_ms = GIT_TIMEOUT_MS,
    };
    int rc = kf_git_checkout(&go, j->commit, err);
    if (rc)
        return fail_rc(j, rc, 1, err);
    wk_joblog_printf(&j->log, "system", "Checked out %s", j->commit);
    return 0;
}

static int upload_source(struct job_run *j, const json_t *upload)
{
    char err[KF_ERRLEN] = "", digest[KF_DIGEST_LEN];
    j->upload = json_string_value(json_object_get(upload, "digest"));
    if (!j->upload || !kf_digest_valid(j->upload))
        return fail_with(j, "bad_request", 0, "spec.source.upload.digest is not a sha256 digest");
    if (!j->job->source)
        return fail_with(j, "source_not_found", 0, "the uploaded source is missing");
    kf_sha256_digest(j->job->source, j->job->source_len, digest);
    if (strcmp(digest, j->upload) != 0)
        return fail_with(j, "bad_source", 0, "the uploaded source does not match its digest");
    if (mkdir(j->src, 0700) != 0)
        return fail_with(j, "io_error", 1, strerror(errno));
    wk_joblog_printf(&j->log, "system", "Extracting the uploaded source (%zu bytes)", j->job->source_len);
    int rc = kf_srctar_extract(j->job->source, j->job->source_len, j->src, NULL, err);
    if (rc == KF_EINVAL || rc == KF_ETOOBIG)
        return fail_with(j, rc == KF_EINVAL ? "bad_source" : "too_big", 0, err);
    if (rc)
        return fail_rc(j, rc, 0, err);
    return 0;
}

/* Runs a slot-connection call until it gets through, the lease is lost or
 * it keeps failing for another reason. */
#define WITH_DB(j, rc, call)                                                                                    \
    do {                                                                                                       \
        for (int try_ = 0;; try_++) {                                                                          \
            pthread_mutex_lock(&(j)->s->db_lock);                                                              \
            rc = (call);                                                                                       \
            pthread_mutex_unlock(&(j)->s->db_lock);                                                            \
            if (rc != KF_ENET || lost(j) || try_ >= 600)                                                      \
                break;                                                                                         \
            wk_sleep_ms(1000);                                                                                 \
        }                                                                                                      \
    } while (0)

/* The cache key; an earlier identical build's result when reuse is on. */
static int resolve_and_reuse(struct job_run *j, int *reused)
{
    char err[KF_ERRLEN] = "", key[80];
    struct kf_db *db = j->s->db;
    int rc;
    *reused = 0;
    rc = kf_jobspec_cache_key(j->job->spec, j->upload ? NULL : j->commit, j->cfg->repo, j->cfg->default_base, key,
                              err);
    if (rc)
        return fail_rc(j, rc, 0, err);
    WITH_DB(j, rc, kf_job_set_resolved(db, j->job->id, j->s->owner, j->upload ? j->upload : j->commit, key, err));
    if (rc == KF_ENOTFOUND || lost(j))
        return canceled(j); /* the lease is gone */
    if (rc)
        return fail_rc(j, rc == KF_EINVAL ? KF_EINTERNAL : rc, 0, err);
    /* pin_tags: tags move, so a pinned release is made afresh each time. */
    const json_t *spec = j->job->spec;
    if (json_is_true(json_object_get(spec, "no_cache")) || json_is_true(json_object_get(spec, "pin_tags")))
        return 0;
    json_t *old = NULL;
    int64_t old_id = 0;
    pthread_mutex_lock(&j->s->db_lock);
    rc = kf_job_find_reusable(db, key, &old, &old_id, err);
    pthread_mutex_unlock(&j->s->db_lock);
    if (rc == KF_ENOTFOUND)
        return 0;
    if (rc || !json_is_object(old)) {
        wk_joblog_printf(&j->log, "system", "Result reuse skipped: %s", rc ? err : "stored result is not an object");
        json_decref(old);
        return 0;
    }
    json_object_set_new(old, "reused_from", json_integer(old_id));
    json_object_set_new(old, "duration_ms", json_integer(wk_now_ms() - j->started));
    wk_joblog_printf(&j->log, "system", "Same commit and options as job %" PRId64 ": reusing its result", old_id);
    j->result = old;
    j->outcome = OUT_SUCCEEDED;
    *reused = 1;
    return 0;
}

void wk_build_opts_fill(struct kf_build_opts *o, const struct wk_config *cfg, const char *src,
                        const volatile int *cancel)
{
    o->workdir = src;
    if (!o->repo)
        o->repo = cfg->repo;
    if (!o->default_base)
        o->default_base = cfg->default_base;
    o->source_date_epoch = -1;
    o->kodata_date_epoch = -1;
    o->layer_cache_dir = cfg->layers_dir;
    o->builds_elsewhere = cfg->concurrency > 1 ? cfg->concurrency - 1 : 0;
    o->reg.insecure_hosts = cfg->insecure_hosts;
    o->reg.cancel = cancel;
    o->cancel = cancel;
}

static int build(struct job_run *j)
{
    char err[KF_ERRLEN] = "";
    struct kf_build_opts o;
    struct kf_jobspec_hold hold;
    struct kf_build_result *results = NULL;
    size_t n = 0;
    memset(&o, 0, sizeof o);
    int rc = kf_jobspec_to_build_opts(j->job->spec, &o, &hold, err);
    if (rc)
        return fail_rc(j, rc, 0, err);
    wk_build_opts_fill(&o, j->cfg, j->src, &j->s->cancel);
    if (!o.repo) {
        kf_jobspec_opts_free(&hold);
        return fail_with(j, "bad_request", 0, "the job names no repo and the worker has no KOFARM_REPO");
    }
    rc = kf_build_run(&o, &results, &n, err);
    if (rc) {
        kf_jobspec_opts_free(&hold);
        return fail_rc(j, rc, 0, err);
    }
    j->result = kf_jobspec_result(results, n, o.tags, o.n_tags, j->upload ? NULL : j->commit,
                                  wk_now_ms() - j->started);
    kf_build_results_free(results, n);
    kf_jobspec_opts_free(&hold);
    if (!j->result)
        return fail_with(j, "internal", 1, "out of memory");
    j->outcome = OUT_SUCCEEDED;
    return 0;
}

static int resolve(struct job_run *j)
{
    char err[KF_ERRLEN] = "";
    struct wk_resolve_job rj = {
        .cfg = j->cfg, .spec = j->job->spec, .src = j->src, .commit = j->upload ? NULL : j->commit,
        .cancel = &j->s->cancel, .log = &j->log, .started = j->started,
    };
    struct wk_resolve_out out;
    int rc = wk_resolve(&rj, &out, err);
    if (rc)
        return fail_rc(j, rc, 0, err);
    j->result = out.result;
    j->release = out.yaml;
    j->release_len = out.len;
    j->outcome = OUT_SUCCEEDED;
    return 0;
}

static void run(struct job_run *j)
{
    int is_resolve = !strcmp(j->job->kind, "resolve");
    if (!is_resolve && strcmp(j->job->kind, "build") != 0) {
        fail_with(j, "unsupported", 0, "this worker runs build and resolve jobs only");
        return;
    }
    const json_t *source = json_object_get(j->job->spec, "source");
    const json_t *git = json_object_get(source, "git"), *upload = json_object_get(source, "upload");
    int reused = 0;
    if (make_dir(j))
        return;
    if (json_is_object(git) ? git_source(j, git)
        : json_is_object(upload) ? upload_source(j, upload)
                                 : fail_with(j, "bad_request", 0, "spec.source: neither git nor upload"))
        return;
    if (j->s->cancel) {
        canceled(j);
        return;
    }
    if (resolve_and_reuse(j, &reused) || reused)
        return;
    if (is_resolve)
        resolve(j);
    else
        build(j);
}

/* Records the outcome; a lost connection is retried (a write that did
 * commit makes the next try KF_ENOTFOUND, which is then success). */
static void finish(struct job_run *j)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = j->s->db;
    const char *owner = j->s->owner;
    int64_t id = j->job->id;
    int why = stop_reason(j), rc = KF_OK, requeued = 0, tries = 0;
    const char *what = "";
    if (lost(j)) {
        wk_logf("job %" PRId64 ": lease lost; left to its new owner", id);
        return;
    }
    for (;; tries++) {
        pthread_mutex_lock(&j->s->db_lock);
        if (j->outcome == OUT_SUCCEEDED) {
            what = "succeeded";
            rc = j->release ? kf_job_succeed_with_artifact(db, id, owner, j->result, j->upload ? NULL : j->commit,
                                                           KF_RELEASE_NAME, KF_RELEASE_MEDIA_TYPE, j->release,
                                                           j->release_len, err)
                            : kf_job_succeed(db, id, owner, j->result, j->upload ? NULL : j->commit, err);
        } else if (why & WK_STOP_HANDBACK) {
            /* Stopped by the shutdown, whatever error the stop caused. */
            what = "handed back";
            rc = kf_job_release(db, id, owner, err);
        } else if (j->outcome == OUT_FAILED) {
            what = "failed";
            rc = kf_job_fail(db, id, owner, j->code, j->message, j->transient, &requeued, err);
        } else {
            what = "canceled";
            rc = kf_job_mark_canceled(db, id, owner, err);
        }
        pthread_mutex_unlock(&j->s->db_lock);
        if (rc != KF_ENET || lost(j) || tries >= 600)
            break;
        wk_sleep_ms(1000);
    }
    if (rc == KF_ENOTFOUND && tries > 0)
        rc = KF_OK;
    if (rc)
        wk_logf("job %" PRId64 ": recording \"%s\": %s", id, what, err);
    else if (j->outcome == OUT_FAILED)
        wk_logf("job %" PRId64 ": %s %s: %s", id, requeued ? "will retry after" : "failed with", j->code, j->message);
    else
        wk_logf("job %" PRId64 ": %s", id, what);
}

static void log_outcome(struct job_run *j)
{
    if (j->outcome == OUT_SUCCEEDED)
        wk_joblog_printf(&j->log, "system", "Succeeded in %lld ms", wk_now_ms() - j->started);
    else if (lost(j))
        return;
    else if (stop_reason(j) & WK_STOP_HANDBACK)
        wk_joblog_printf(&j->log, "system", "Worker shutting down: job handed back");
    else if (j->outcome == OUT_FAILED)
        wk_joblog_printf(&j->log, "system", "Failed (%s%s): %s", j->code, j->transient ? ", will retry" : "",
                         j->message);
    else
        wk_joblog_printf(&j->log, "system", "Canceled");
}

static int slot_gone(void *ctx)
{
    struct wk_slot *s = ctx;
    return (atomic_load(&s->stop_reason) & WK_STOP_LOST) || s->cancel;
}

void *wk_job_thread(void *arg)
{
    struct wk_slot *s = arg;
    struct job_run j;
    memset(&j, 0, sizeof j);
    j.s = s;
    j.cfg = s->w->cfg;
    j.job = s->job;
    j.started = wk_now_ms();
    j.outcome = OUT_NONE;
    char err[KF_ERRLEN] = "";
    if (!s->db && wk_db_open(j.cfg, "kofarm-worker-job", slot_gone, s, &s->db, err)) {
        /* The lease runs out and the reaper hands the job to someone else. */
        wk_logf("job %" PRId64 ": no database connection: %s", j.job->id, err);
        goto done;
    }
    wk_joblog_start(&j.log, s->db, &s->db_lock, j.job->id);
    kf_log_set_thread_sink(wk_joblog_build_fn, &j.log);
    wk_joblog_printf(&j.log, "system", "Attempt %d on %s", j.job->attempt, s->owner);
    run(&j);
    if (j.outcome == OUT_NONE)
        fail_with(&j, "internal", 1, "the job ended without an outcome");
    log_outcome(&j);
    kf_log_set_thread_sink(NULL, NULL);
    wk_joblog_stop(&j.log); /* every line is in before the job ends */
    pthread_mutex_lock(&s->w->lock);
    s->finishing = 1;
    pthread_mutex_unlock(&s->w->lock);
    finish(&j);
    remove_dir(&j);
done:
    json_decref(j.result);
    free(j.release);
    pthread_mutex_lock(&s->w->lock);
    s->running = 0;
    s->finishing = 0;
    s->job = NULL;
    pthread_mutex_unlock(&s->w->lock);
    kf_claimed_free(j.job, 1);
    atomic_store(&s->done, 1);
    wk_wake_main(s->w);
    return NULL;
}
