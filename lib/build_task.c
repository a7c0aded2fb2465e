/* One platform image of one import path: go build, layers, config,
 * manifest, and every blob pushed to the target's sinks. */
#include "build_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

int kf_build_put_blob(struct kf_target *t, const char *digest, const void *data, size_t len, char *err)
{
    for (size_t i = 0; i < t->n_sinks; i++) {
        int rc = kf_sink_put_blob(&t->sinks[i], digest, data, len, err);
        if (rc)
            return rc;
    }
    return KF_OK;
}

int kf_build_put_manifest(struct kf_target *t, const char *ref, const char *mt, const void *data, size_t len,
                          int top, char *err)
{
    for (size_t i = 0; i < t->n_sinks; i++) {
        /* A registry gets the top manifest through its tags (build.c):
         * a PUT by digest first would send the same bytes twice. */
        if (top && !t->sinks[i].layout_dir)
            continue;
        int rc = kf_sink_put_manifest(&t->sinks[i], ref, mt, data, len, err);
        if (rc)
            return rc;
    }
    return KF_OK;
}

static void gobuild_log(void *ctx, const char *line)
{
    kf_logf("%s: %s", (const char *)ctx, line);
}

static int build_binary(struct kf_plan *plan, struct kf_target *t, const struct kf_platform *p, const char *out,
                        char *err)
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
    /* Several go builds at once share the cores: each gets its part rather
     * than all of them fighting for every core (and collects garbage less
     * often). Neither changes a byte of the binary. */
    if (plan->concurrent > 1) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        long share = cpus > 0 ? cpus / (long)plan->concurrent : 1;
        g.gomaxprocs = share > 0 ? (int)share : 1;
        g.gogc = 200;
    }
    return kf_go_build(&g, err);
}

/* The base's layers, mounted or copied into every sink. */
static int copy_base_layers(struct kf_target *t, const struct kf_base_image *bi, char *err)
{
    if (!bi->manifest)
        return KF_OK;
    json_t *layers = json_object_get(bi->manifest, "layers");
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l) {
        const char *mt = json_string_value(json_object_get(l, "mediaType"));
        /* Foreign (non-distributable) layers stay where their urls point. */
        if (mt && strstr(mt, "foreign") != NULL)
            continue;
        const char *digest = json_string_value(json_object_get(l, "digest"));
        size_t size = (size_t)json_integer_value(json_object_get(l, "size"));
        for (size_t s = 0; s < t->n_sinks; s++) {
            int rc = kf_sink_copy_base_blob(&t->sinks[s], &t->base->ref, digest, size, err);
            if (rc)
                return rc;
        }
    }
    return KF_OK;
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

    rc = kf_base_image_get(plan->reg, t->base, t->sel[k], &bi, err);
    if (rc)
        goto out;
    const struct kf_platform *p = &bi.platform;
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
        kf_logf("Building %s for %s", t->importpath, pname);
        rc = build_binary(plan, t, p, binpath, err);
        if (rc)
            goto out;
        binary = binpath;
    }
    rc = kf_layer_binary(binary, t->app_path, o->layer_cache_dir, &bin, err);
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

    /* Blobs before the manifest that names them. */
    rc = copy_base_layers(t, &bi, err);
    if (rc)
        goto out;
    rc = kf_build_put_blob(t, t->kodata.digest, t->kodata.blob, t->kodata.blob_len, err);
    if (rc)
        goto out;
    rc = kf_build_put_blob(t, bin.digest, bin.blob, bin.blob_len, err);
    if (rc)
        goto out;
    rc = kf_build_put_blob(t, cfg_desc.digest, config.data, config.len, err);
    if (rc)
        goto out;
    kf_sha256_digest(manifest.data, manifest.len, t->manifests[k].digest);
    t->manifests[k].size = manifest.len;
    snprintf(t->manifest_types[k], sizeof t->manifest_types[k], "%s", bi.media_type);
    memcpy(t->plats[k].digest, t->manifests[k].digest, KF_DIGEST_LEN);
    rc = kf_build_put_manifest(t, t->manifests[k].digest, bi.media_type, manifest.data, manifest.len, t->n_sel == 1,
                               err);
    if (rc)
        goto out;
    t->manifest_bytes[k] = kf_buf_steal(&manifest, NULL);
    kf_logf("Built %s for %s: %s", t->importpath, pname, t->manifests[k].digest);
out:
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
