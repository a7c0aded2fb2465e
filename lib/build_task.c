/* One platform image of one import path: go build, layers, config,
 * manifest, and every blob pushed to the target's sinks. */
#include "build_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* A manifest into one sink; top (the image's top manifest) skips a
 * registry, which gets it through its tags (build.c): a PUT by digest first
 * would send the same bytes twice. */
static int put_manifest(struct kf_sink *sink, const char *ref, const char *mt, const void *data, size_t len, int top,
                        char *err)
{
    if (top && !sink->layout_dir)
        return KF_OK;
    return kf_sink_put_manifest(sink, ref, mt, data, len, err);
}

int kf_build_put_manifest(struct kf_target *t, const char *ref, const char *mt, const void *data, size_t len,
                          int top, char *err)
{
    for (size_t i = 0; i < t->n_sinks; i++) {
        int rc = put_manifest(&t->sinks[i], ref, mt, data, len, top, err);
        if (rc)
            return rc;
    }
    return KF_OK;
}

int kf_build_check_first_tag(const struct kf_plan *plan, struct kf_target *t, size_t s, const char *digest,
                             char *err)
{
    char there[KF_DIGEST_LEN];
    const char *tag = plan->o->n_tags ? plan->o->tags[0] : "latest";
    int rc = kf_reg_manifest_digest(t->sinks[s].reg, &t->sinks[s].dest, tag, there, err);
    if (!rc)
        t->tag_current[s] = strcmp(there, digest) == 0;
    return rc;
}

/* A registry that holds this very manifest holds its blobs too (it refuses a
 * manifest naming blobs it lacks), so those need neither a HEAD nor an
 * upload. Asked only when the binary's layer came from the cache unchanged,
 * i.e. when this is likely a push of the same image again: a single image
 * is looked up by its first tag (a match also makes that tag's PUT moot),
 * then by digest. *in_place gets one bit per sink. */
static int find_in_place(struct kf_plan *plan, struct kf_target *t, const char *digest, unsigned *in_place,
                         char *err)
{
    *in_place = 0;
    for (size_t s = 0; s < t->n_sinks; s++) {
        struct kf_sink *sink = &t->sinks[s];
        char there[KF_DIGEST_LEN];
        if (sink->layout_dir)
            continue;
        if (t->n_sel == 1) {
            int rc = kf_build_check_first_tag(plan, t, s, digest, err);
            if (rc)
                return rc;
            if (t->tag_current[s]) {
                *in_place |= 1u << s;
                continue;
            }
        }
        int rc = kf_reg_manifest_digest(sink->reg, &sink->dest, digest, there, err);
        if (rc)
            return rc;
        if (strcmp(there, digest) == 0)
            *in_place |= 1u << s;
    }
    return KF_OK;
}

#define BLOBS_AT_ONCE 8

/* One blob for one sink: our own bytes, or a base layer to mount or copy. */
struct blob_job {
    struct kf_pushset *pushed;  /* the build's blobs sent to registries */
    struct kf_sink *sink;
    const struct kf_ref *base;  /* base layer when set */
    struct kf_reg_upload *session; /* an upload session opened for it early, or NULL */
    const char *digest;
    const void *data;
    size_t len;                 /* own bytes; for a base layer its size */
    kf_log_fn log_fn;           /* the task's log sink, for the thread */
    void *log_ctx;
    int rc;
    char err[KF_ERRLEN];
};

static void *blob_thread(void *arg)
{
    struct blob_job *b = arg;
    char *key = NULL;
    kf_log_set_thread_sink(b->log_fn, b->log_ctx);
    /* Once per repository and build: another platform may be sending this
     * very blob (kodata, a base's data layer), see pushset.h. */
    if (!b->sink->layout_dir &&
        asprintf(&key, "%s/%s@%s", b->sink->dest.registry, b->sink->dest.repository, b->digest) < 0)
        key = NULL;
    int claim = key ? kf_pushset_claim(b->pushed, key) : KF_PUSH_MINE;
    if (claim == KF_PUSH_THERE) {
        b->rc = KF_OK;
    } else {
        b->rc = b->base      ? kf_sink_copy_base_blob(b->sink, b->base, b->digest, b->len, b->err)
                : b->session ? kf_reg_upload_blob(b->sink->reg, b->session, b->digest, b->data, b->len, b->err)
                             : kf_sink_put_blob(b->sink, b->digest, b->data, b->len, b->err);
        if (claim == KF_PUSH_MINE && key)
            kf_pushset_done(b->pushed, key, b->rc == KF_OK);
    }
    free(key);
    return NULL;
}

/* Sends the blobs BLOBS_AT_ONCE at a time: each is a few round trips to
 * the registry (HEAD, POST, PUT) that would otherwise wait on one another. */
static int put_blobs(struct blob_job *jobs, size_t n, char *err)
{
    int rc = KF_OK;
    for (size_t at = 0; at < n; at += BLOBS_AT_ONCE) {
        size_t wave = n - at < BLOBS_AT_ONCE ? n - at : BLOBS_AT_ONCE;
        pthread_t tids[BLOBS_AT_ONCE];
        int started[BLOBS_AT_ONCE] = {0};
        for (size_t i = 1; i < wave; i++)
            started[i] = pthread_create(&tids[i], NULL, blob_thread, &jobs[at + i]) == 0;
        blob_thread(&jobs[at]);
        for (size_t i = 1; i < wave; i++) {
            if (started[i])
                pthread_join(tids[i], NULL);
            else
                blob_thread(&jobs[at + i]); /* no thread to be had: here, in turn */
        }
        for (size_t i = 0; i < wave && !rc; i++)
            if ((rc = jobs[at + i].rc))
                memcpy(err, jobs[at + i].err, KF_ERRLEN);
        if (rc)
            break;
    }
    return rc;
}

/* An upload session for the binary layer, opened (POST) while the layer is
 * compressed: one round trip less after it. */
struct early_upload {
    struct kf_sink *sink;       /* the first registry sink, or NULL */
    struct kf_reg_upload *up;   /* NULL when none could be opened */
    kf_log_fn log_fn;
    void *log_ctx;
};

static void *early_upload_thread(void *arg)
{
    struct early_upload *e = arg;
    char ignored[KF_ERRLEN]; /* a failure only means the usual path */
    kf_log_set_thread_sink(e->log_fn, e->log_ctx);
    if (kf_reg_upload_start(e->sink->reg, &e->sink->dest, &e->up, ignored) != KF_OK)
        e->up = NULL;
    return NULL;
}

/* Blobs then the manifest into every sink that does not hold it already. */
static int publish_platform(struct kf_plan *plan, struct kf_target *t, const struct kf_base_image *bi,
                            const struct kf_layer *bin, const struct kf_blob_desc *cfg_desc,
                            const struct kf_buf *config, const struct kf_buf *manifest, const char *digest,
                            unsigned in_place, const struct early_upload *early, char *err)
{
    int rc = KF_OK;
    json_t *layers = bi->manifest ? json_object_get(bi->manifest, "layers") : NULL;
    struct blob_job *jobs = calloc(json_array_size(layers) + 3, sizeof *jobs);
    if (!jobs)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    kf_log_fn log_fn;
    void *log_ctx;
    kf_log_get_thread_sink(&log_fn, &log_ctx);
    for (size_t s = 0; s < t->n_sinks && !rc; s++) {
        struct kf_sink *sink = &t->sinks[s];
        size_t n = 0, i;
        json_t *l;
        if (in_place & (1u << s))
            continue;
        json_array_foreach(layers, i, l) {
            const char *mt = json_string_value(json_object_get(l, "mediaType"));
            /* Foreign (non-distributable) layers stay where their urls point. */
            if (mt && strstr(mt, "foreign") != NULL)
                continue;
            jobs[n++] = (struct blob_job){.sink = sink, .base = &t->base->ref,
                                          .digest = json_string_value(json_object_get(l, "digest")),
                                          .len = (size_t)json_integer_value(json_object_get(l, "size"))};
        }
        jobs[n++] = (struct blob_job){.sink = sink, .digest = t->kodata.digest, .data = t->kodata.blob,
                                      .len = t->kodata.blob_len};
        jobs[n++] = (struct blob_job){.sink = sink, .digest = bin->digest, .data = bin->blob, .len = bin->blob_len,
                                      .session = early->sink == sink ? early->up : NULL};
        jobs[n++] = (struct blob_job){.sink = sink, .digest = cfg_desc->digest, .data = config->data,
                                      .len = config->len};
        for (i = 0; i < n; i++) {
            jobs[i].pushed = &plan->pushed;
            jobs[i].log_fn = log_fn;
            jobs[i].log_ctx = log_ctx;
        }
        if ((rc = put_blobs(jobs, n, err)))
            break;
        rc = put_manifest(sink, digest, bi->media_type, manifest->data, manifest->len, t->n_sel == 1, err);
    }
    free(jobs);
    return rc;
}

static void gobuild_log(void *ctx, const char *line)
{
    kf_logf("%s: %s", (const char *)ctx, line);
}

static int build_binary(struct kf_plan *plan, struct kf_target *t, const struct kf_platform *p, const char *out,
                        int last, char *err)
{
    char goarm[4];
    int rc = kf_platform_go_target(p, goarm, err);
    if (rc)
        return rc;
    struct kf_gobuild_opts g = {
        .go = plan->o->go ? plan->o->go : "go",
        .workdir = plan->o->workdir,
        .import_path = t->importpath,
        .output = out,
        .goos = p->os,
        .goarch = p->arch,
        .goarm = goarm[0] ? goarm : NULL,
        .base_env = plan->go_env,
        .config_env = t->config_env,
        .n_config_env = t->n_config_env,
        .flags = (const char *const *)t->flags,
        .n_flags = t->n_flags,
        .ldflags = (const char *const *)t->ldflags,
        .n_ldflags = t->n_ldflags,
        .trimpath = !plan->o->disable_trimpath,
        .cancel = plan->o->cancel,
        .log_fn = gobuild_log,
        .log_ctx = (void *)t->importpath,
    };
    /* The compiler and linker collect garbage less often (GOGC=400: the
     * example's build ~6% faster for ~13% more memory), bounded by a soft
     * memory limit of half the machine's RAM shared by the builds running
     * at once (this one's platforms and, in a worker, its other jobs).
     * Several go builds also share the cores rather than all of them
     * fighting for every core, except the last one to start: the others
     * end while it runs, and it takes over their cores. None of it changes
     * a byte of the binary; the operator's environment or the build config
     * overrides. */
    long long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    g.gogc = 400;
    long long sharing = (long long)(plan->concurrent ? plan->concurrent : 1) *
                        (1 + (plan->o->builds_elsewhere > 0 ? plan->o->builds_elsewhere : 0));
    if (pages > 0 && page > 0)
        g.gomemlimit_mib = pages * page / 2 / sharing / (1 << 20);
    if (plan->concurrent > 1 && !last) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        long share = cpus > 0 ? cpus / (long)plan->concurrent : 1;
        g.gomaxprocs = share > 0 ? (int)share : 1;
    }
    return kf_go_build(&g, err);
}

/* A go build slot (struct kf_plan): held only while go builds. Returns
 * whether this is the last go build to start. */
static int slot_take(struct kf_plan *plan)
{
    pthread_mutex_lock(&plan->slot_lock);
    while (plan->slots == 0)
        pthread_cond_wait(&plan->slot_free, &plan->slot_lock);
    plan->slots--;
    int last = plan->unstarted > 0 && --plan->unstarted == 0;
    pthread_mutex_unlock(&plan->slot_lock);
    return last;
}

static void slot_give(struct kf_plan *plan)
{
    pthread_mutex_lock(&plan->slot_lock);
    plan->slots++;
    pthread_cond_signal(&plan->slot_free);
    pthread_mutex_unlock(&plan->slot_lock);
}

/* kf_base_image_get on a thread of its own, in the task's log sink. */
struct base_fetch {
    struct kf_registry *reg;
    const struct kf_base *base;
    size_t entry;
    struct kf_base_image *out;
    kf_log_fn log_fn;
    void *log_ctx;
    int rc;
    char err[KF_ERRLEN];
};

static void *base_fetch_thread(void *arg)
{
    struct base_fetch *f = arg;
    kf_log_set_thread_sink(f->log_fn, f->log_ctx);
    f->rc = kf_base_image_get(f->reg, f->base, f->entry, f->out, f->err);
    return NULL;
}

/* Annotations for a platform image: base name and digest, then the user's. */
static int manifest_annotations(const struct kf_plan *plan, const struct kf_target *t, const char *base_digest,
                                char ***out, size_t *n)
{
    const struct kf_build_opts *o = plan->o;
    char **a = calloc(o->n_annotations + 2, sizeof *a);
    size_t count = 0;
    if (!a)
        return KF_ENOMEM;
    if (asprintf(&a[count++], KF_ANNOTATION_BASE_NAME "=%s", t->base->name) < 0)
        goto fail;
    if (base_digest && base_digest[0] && asprintf(&a[count++], KF_ANNOTATION_BASE_DIGEST "=%s", base_digest) < 0)
        goto fail;
    for (size_t i = 0; i < o->n_annotations; i++)
        if (!(a[count++] = strdup(o->annotations[i])))
            goto fail;
    *out = a;
    *n = count;
    return KF_OK;
fail:
    for (size_t i = 0; i < count; i++)
        free(a[i]);
    free(a);
    return KF_ENOMEM;
}

int kf_build_task_run(struct kf_plan *plan, struct kf_target *t, size_t k, char *err)
{
    int rc;
    const struct kf_build_opts *o = plan->o;
    struct kf_base_image bi;
    struct kf_layer bin;
    struct kf_buf config, manifest;
    char **annotations = NULL;
    size_t n_annotations = 0;
    char binpath[4200], dir[4200], pname[160];
    memset(&bi, 0, sizeof bi);
    memset(&bin, 0, sizeof bin);
    kf_buf_init(&config, 0);
    kf_buf_init(&manifest, 0);
    binpath[0] = dir[0] = 0;
    struct early_upload early = {.sink = NULL};

    /* The base's manifest and config come while go builds: the build needs
     * only the platform, which the base's index already gave. */
    struct base_fetch fetch = {.reg = plan->reg, .base = t->base, .entry = t->sel[k], .out = &bi};
    kf_log_get_thread_sink(&fetch.log_fn, &fetch.log_ctx);
    pthread_t fetcher;
    int fetching = !o->prebuilt_binary && !t->base->scratch &&
                   pthread_create(&fetcher, NULL, base_fetch_thread, &fetch) == 0;
    if (!fetching) {
        base_fetch_thread(&fetch);
        if ((rc = fetch.rc)) {
            memcpy(err, fetch.err, KF_ERRLEN);
            goto out;
        }
    }
    const struct kf_platform *p = &t->base->entries[t->sel[k]].platform;
    kf_platform_format(p, pname, sizeof pname);
    t->plats[k].platform = *p;

    const char *binary = o->prebuilt_binary;
    if (!binary) {
        snprintf(dir, sizeof dir, "%s/%zu-%zu", plan->tmpdir, (size_t)(t - plan->targets), k);
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            rc = kf_fail(err, KF_EIO, "mkdir %s: %s", dir, strerror(errno));
            goto out;
        }
        if (snprintf(binpath, sizeof binpath, "%s/%s", dir, strrchr(t->app_path, '/') + 1) >= (int)sizeof binpath) {
            binpath[0] = 0;
            rc = kf_fail(err, KF_EINVAL, "temporary path too long in %s", dir);
            goto out;
        }
        int last = slot_take(plan);
        if (plan->failed) {
            rc = kf_fail(err, KF_ECANCELED, "another platform failed");
        } else {
            kf_logf("Building %s for %s", t->importpath, pname);
            rc = build_binary(plan, t, p, binpath, last, err);
        }
        slot_give(plan);
        if (fetching) {
            pthread_join(fetcher, NULL);
            fetching = 0;
            if (fetch.rc) { /* the base's error first, as when it was fetched before building */
                rc = fetch.rc;
                memcpy(err, fetch.err, KF_ERRLEN);
            }
        }
        if (rc)
            goto out;
        binary = binpath;
    }
    for (size_t s = 0; s < t->n_sinks && !early.sink; s++)
        if (!t->sinks[s].layout_dir)
            early.sink = &t->sinks[s];
    pthread_t opener;
    int opening = 0;
    if (early.sink && !kf_layer_stat_indexed(binary, t->app_path, o->layer_cache_dir)) {
        kf_log_get_thread_sink(&early.log_fn, &early.log_ctx);
        opening = pthread_create(&opener, NULL, early_upload_thread, &early) == 0;
    }
    rc = kf_layer_binary_lazy(binary, t->app_path, o->layer_cache_dir, &bin, err);
    if (opening)
        pthread_join(opener, NULL);
    if (rc)
        goto out;

    struct kf_image_opts io = {
        .app_path = t->app_path,
        .created_by = t->created_by,
        .author = "kofarm",
        .labels = o->labels,
        .n_labels = o->n_labels,
        .user = o->user,
        .created_epoch = o->source_date_epoch,
        .kodata_epoch = o->kodata_date_epoch,
    };
    rc = kf_image_config(bi.config, p, &io, t->kodata.diff_id, bin.diff_id, &config, err);
    if (rc)
        goto out;
    struct kf_blob_desc cfg_desc = {.size = config.len};
    kf_sha256_digest(config.data, config.len, cfg_desc.digest);
    struct kf_blob_desc layers[2] = {{.size = t->kodata.blob_len}, {.size = bin.blob_len}};
    memcpy(layers[0].digest, t->kodata.digest, KF_DIGEST_LEN);
    memcpy(layers[1].digest, bin.digest, KF_DIGEST_LEN);
    rc = manifest_annotations(plan, t, bi.digest, &annotations, &n_annotations);
    if (rc) {
        rc = kf_fail(err, rc, "out of memory");
        goto out;
    }
    rc = kf_image_manifest(bi.manifest, bi.media_type, &cfg_desc, layers, 2, (const char *const *)annotations,
                           n_annotations, &manifest, err);
    if (rc)
        goto out;

    char digest[KF_DIGEST_LEN];
    unsigned in_place = 0;
    kf_sha256_digest(manifest.data, manifest.len, digest);
    if (!bin.blob && (rc = find_in_place(plan, t, digest, &in_place, err)))
        goto out;
    if (!bin.blob && in_place != (1u << t->n_sinks) - 1 && kf_layer_load_blob(&bin, err) != KF_OK) {
        /* The cache entry went away under us: layer the binary afresh. Same
         * bytes give the same digest, which the manifest already names. */
        char announced[KF_DIGEST_LEN];
        memcpy(announced, bin.digest, KF_DIGEST_LEN);
        kf_layer_free(&bin);
        rc = kf_layer_binary(binary, t->app_path, NULL, &bin, err);
        if (!rc && strcmp(announced, bin.digest) != 0)
            rc = kf_fail(err, KF_EIO, "%s changed while it was being pushed", binary);
        if (rc)
            goto out;
    }
    rc = publish_platform(plan, t, &bi, &bin, &cfg_desc, &config, &manifest, digest, in_place, &early, err);
    if (rc)
        goto out;
    for (size_t s = 0; s < t->n_sinks; s++)
        if (in_place & (1u << s))
            atomic_fetch_add(&t->in_place[s], 1);
    memcpy(t->manifests[k].digest, digest, KF_DIGEST_LEN);
    t->manifests[k].size = manifest.len;
    snprintf(t->manifest_types[k], sizeof t->manifest_types[k], "%s", bi.media_type);
    memcpy(t->plats[k].digest, digest, KF_DIGEST_LEN);
    t->manifest_bytes[k] = kf_buf_steal(&manifest, NULL);
    kf_logf("Built %s for %s: %s", t->importpath, pname, t->manifests[k].digest);
out:
    if (fetching)
        pthread_join(fetcher, NULL);
    kf_reg_upload_free(early.up);
    if (binpath[0])
        unlink(binpath);
    if (dir[0])
        rmdir(dir);
    for (size_t i = 0; i < n_annotations; i++)
        free(annotations[i]);
    free(annotations);
    kf_base_image_free(&bi);
    kf_layer_free(&bin);
    kf_buf_free(&config);
    kf_buf_free(&manifest);
    return rc;
}
