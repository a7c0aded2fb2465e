/* ko's image config, manifest and index, as deterministic JSON. */
#include "image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int kf_image_is_manifest_type(const char *mt)
{
    return strcmp(mt, KF_MT_OCI_MANIFEST) == 0 || strcmp(mt, KF_MT_DOCKER_MANIFEST) == 0;
}

int kf_image_is_index_type(const char *mt)
{
    return strcmp(mt, KF_MT_OCI_INDEX) == 0 || strcmp(mt, KF_MT_DOCKER_LIST) == 0;
}

const char *kf_image_layer_type(const char *manifest_mt)
{
    return strcmp(manifest_mt, KF_MT_DOCKER_MANIFEST) == 0 ? KF_MT_DOCKER_LAYER_GZIP : KF_MT_OCI_LAYER_GZIP;
}

const char *kf_image_config_type(const char *manifest_mt)
{
    return strcmp(manifest_mt, KF_MT_DOCKER_MANIFEST) == 0 ? KF_MT_DOCKER_CONFIG : KF_MT_OCI_CONFIG;
}

void kf_image_rfc3339(long long epoch, char out[32])
{
    time_t t = epoch < 0 ? 0 : (time_t)epoch;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void kf_image_platform_of(const json_t *obj, struct kf_platform *p)
{
    memset(p, 0, sizeof *p);
    const char *os = json_string_value(json_object_get(obj, "os"));
    const char *arch = json_string_value(json_object_get(obj, "architecture"));
    const char *variant = json_string_value(json_object_get(obj, "variant"));
    const char *osv = json_string_value(json_object_get(obj, "os.version"));
    snprintf(p->os, sizeof p->os, "%s", os ? os : "");
    snprintf(p->arch, sizeof p->arch, "%s", arch ? arch : "");
    snprintf(p->variant, sizeof p->variant, "%s", variant ? variant : "");
    snprintf(p->osversion, sizeof p->osversion, "%s", osv ? osv : "");
}

/* Dump compactly into out; jansson keeps insertion order, so the bytes only
 * depend on the input. */
static int dump_json(const json_t *j, struct kf_buf *out, char *err)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        return kf_fail(err, KF_ENOMEM, "cannot serialise JSON");
    int rc = kf_buf_append_str(out, s);
    free(s);
    return rc ? kf_fail(err, rc, "JSON document too large") : KF_OK;
}

static json_t *history_entry(const char *created, const char *created_by, const char *comment)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "author", "ko", "created", created, "created_by", created_by,
                     "comment", comment);
}

/* ko's updatePath: append to PATH or add PATH=app_dir. */
static int env_update(json_t *env, const char *app_dir)
{
    size_t i;
    json_t *v;
    json_array_foreach(env, i, v) {
        const char *s = json_string_value(v);
        if (s && strncmp(s, "PATH=", 5) == 0) {
            size_t len = strlen(s) + strlen(app_dir) + 2;
            char *nv = malloc(len);
            if (!nv)
                return KF_ENOMEM;
            snprintf(nv, len, "%s:%s", s, app_dir);
            int rc = json_array_set_new(env, i, json_string(nv));
            free(nv);
            return rc ? KF_ENOMEM : KF_OK;
        }
    }
    size_t len = strlen(app_dir) + 6;
    char *nv = malloc(len);
    if (!nv)
        return KF_ENOMEM;
    snprintf(nv, len, "PATH=%s", app_dir);
    int rc = json_array_append_new(env, json_string(nv));
    free(nv);
    return rc ? KF_ENOMEM : KF_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Go marshals maps with sorted keys; labels and annotations follow suit, so
 * the bytes do not depend on the order the flags came in. */
static int sort_keys(json_t *obj)
{
    size_t n = json_object_size(obj), i = 0;
    if (n < 2)
        return KF_OK;
    int rc = KF_ENOMEM;
    char **keys = calloc(n, sizeof *keys);
    json_t *copy = json_copy(obj); /* shallow: holds the values while obj is rebuilt */
    if (!keys || !copy)
        goto out;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (!(keys[i++] = strdup(k)))
            goto out;
    }
    qsort(keys, n, sizeof *keys, cmp_str);
    json_object_clear(obj);
    for (i = 0; i < n; i++)
        if (json_object_set(obj, keys[i], json_object_get(copy, keys[i])))
            goto out;
    rc = KF_OK;
out:
    for (i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
    json_decref(copy);
    return rc;
}

static int add_kv_strings(json_t *obj, const char *const *kv, size_t n, const char *what, char *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        if (!eq || eq == kv[i])
            return kf_fail(err, KF_EINVAL, "%s \"%s\" is not KEY=VALUE", what, kv[i]);
        char *key = strndup(kv[i], (size_t)(eq - kv[i]));
        if (!key)
            return KF_ENOMEM;
        int rc = json_object_set_new(obj, key, json_string(eq + 1));
        free(key);
        if (rc)
            return kf_fail(err, KF_EINVAL, "%s \"%s\" is not valid UTF-8", what, kv[i]);
    }
    return KF_OK;
}

int kf_image_config(const json_t *base_config, const struct kf_platform *platform, const struct kf_image_opts *o,
                    const char *kodata_diff_id, const char *binary_diff_id, struct kf_buf *out, char *err)
{
    int rc = KF_ENOMEM;
    json_t *cfg = NULL;
    char created[32], kodata_created[32];
    char *app_dir = NULL;
    kf_image_rfc3339(o->created_epoch, created);
    kf_image_rfc3339(o->kodata_epoch, kodata_created);

    if (base_config) {
        if (!json_is_object(base_config))
            return kf_fail(err, KF_EREGISTRY, "base image config is not a JSON object");
        cfg = json_deep_copy(base_config);
    } else {
        cfg = json_object();
        if (cfg) {
            json_object_set_new(cfg, "architecture", json_string(platform->arch));
            json_object_set_new(cfg, "created", json_string("1970-01-01T00:00:00Z"));
            json_object_set_new(cfg, "os", json_string(platform->os));
            if (platform->variant[0])
                json_object_set_new(cfg, "variant", json_string(platform->variant));
            if (platform->osversion[0])
                json_object_set_new(cfg, "os.version", json_string(platform->osversion));
        }
    }
    if (!cfg)
        goto out;
    if (json_object_set_new(cfg, "author", json_string(o->author)))
        goto out;
    if (o->created_epoch >= 0 && json_object_set_new(cfg, "created", json_string(created)))
        goto out;

    json_t *history = json_object_get(cfg, "history");
    if (!json_is_array(history)) {
        history = json_array();
        if (!history || json_object_set_new(cfg, "history", history))
            goto out;
    }
    char comment[4200];
    snprintf(comment, sizeof comment, "go build output, at %s", o->app_path);
    if (json_array_append_new(history, history_entry(kodata_created, o->created_by,
                                                     "kodata contents, at $KO_DATA_PATH")) ||
        json_array_append_new(history, history_entry(created, o->created_by, comment)))
        goto out;

    json_t *rootfs = json_object_get(cfg, "rootfs");
    if (!json_is_object(rootfs)) {
        rootfs = json_pack("{s:s, s:[]}", "type", "layers", "diff_ids");
        if (!rootfs || json_object_set_new(cfg, "rootfs", rootfs))
            goto out;
    }
    json_t *diff_ids = json_object_get(rootfs, "diff_ids");
    if (!json_is_array(diff_ids)) {
        diff_ids = json_array();
        if (!diff_ids || json_object_set_new(rootfs, "diff_ids", diff_ids))
            goto out;
    }
    if (json_array_append_new(diff_ids, json_string(kodata_diff_id)) ||
        json_array_append_new(diff_ids, json_string(binary_diff_id)))
        goto out;

    json_t *config = json_object_get(cfg, "config");
    if (!json_is_object(config)) {
        config = json_object();
        if (!config || json_object_set_new(cfg, "config", config))
            goto out;
    }
    json_t *entrypoint = json_pack("[s]", o->app_path);
    if (!entrypoint || json_object_set_new(config, "Entrypoint", entrypoint))
        goto out;
    json_object_del(config, "Cmd");
    json_t *env = json_object_get(config, "Env");
    if (!json_is_array(env)) {
        env = json_array();
        if (!env || json_object_set_new(config, "Env", env))
            goto out;
    }
    const char *slash = strrchr(o->app_path, '/');
    app_dir = strndup(o->app_path, slash && slash != o->app_path ? (size_t)(slash - o->app_path) : 1);
    if (!app_dir || env_update(env, app_dir))
        goto out;
    if (json_array_append_new(env, json_string("KO_DATA_PATH=/var/run/ko")))
        goto out;
    if (o->n_labels) {
        json_t *labels = json_object_get(config, "Labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            if (!labels || json_object_set_new(config, "Labels", labels))
                goto out;
        }
        rc = add_kv_strings(labels, o->labels, o->n_labels, "label", err);
        if (!rc)
            rc = sort_keys(labels);
        if (rc)
            goto out;
    }
    if (o->user && json_object_set_new(config, "User", json_string(o->user)))
        goto out;
    rc = dump_json(cfg, out, err);
out:
    if (rc == KF_ENOMEM)
        kf_fail(err, rc, "out of memory building the image config");
    json_decref(cfg);
    free(app_dir);
    return rc;
}

static json_t *descriptor(const char *mt, const struct kf_blob_desc *b)
{
    return json_pack("{s:s, s:I, s:s}", "mediaType", mt, "size", (json_int_t)b->size, "digest", b->digest);
}

static int set_annotations(json_t *obj, const char *const *annotations, size_t n, char *err)
{
    if (n == 0)
        return KF_OK;
    json_t *a = json_object();
    if (!a || json_object_set_new(obj, "annotations", a))
        return KF_ENOMEM;
    int rc = add_kv_strings(a, annotations, n, "annotation", err);
    return rc ? rc : sort_keys(a);
}

int kf_image_manifest(const json_t *base_manifest, const char *mt, const struct kf_blob_desc *config,
                      const struct kf_blob_desc *layers, size_t n_layers, const char *const *annotations,
                      size_t n_annotations, struct kf_buf *out, char *err)
{
    int rc = KF_ENOMEM;
    json_t *m = json_pack("{s:i, s:s}", "schemaVersion", 2, "mediaType", mt);
    json_t *arr = json_array();
    if (!m || !arr)
        goto out;
    if (json_object_set_new(m, "config", descriptor(kf_image_config_type(mt), config)))
        goto out;
    if (base_manifest) {
        json_t *base_layers = json_object_get(base_manifest, "layers");
        size_t i;
        json_t *l;
        json_array_foreach(base_layers, i, l) {
            if (json_array_append(arr, l))
                goto out;
        }
    }
    for (size_t i = 0; i < n_layers; i++)
        if (json_array_append_new(arr, descriptor(kf_image_layer_type(mt), &layers[i])))
            goto out;
    if (json_object_set(m, "layers", arr))
        goto out;
    rc = set_annotations(m, annotations, n_annotations, err);
    if (rc)
        goto out;
    rc = dump_json(m, out, err);
out:
    if (rc == KF_ENOMEM)
        kf_fail(err, rc, "out of memory building the manifest");
    json_decref(arr);
    json_decref(m);
    return rc;
}

static json_t *platform_json(const struct kf_platform *p)
{
    json_t *j = json_pack("{s:s, s:s}", "architecture", p->arch, "os", p->os);
    if (j && p->osversion[0])
        json_object_set_new(j, "os.version", json_string(p->osversion));
    if (j && p->variant[0])
        json_object_set_new(j, "variant", json_string(p->variant));
    return j;
}

int kf_image_index(const char *mt, const struct kf_index_entry *entries, size_t n, const char *const *annotations,
                   size_t n_annotations, struct kf_buf *out, char *err)
{
    int rc = KF_ENOMEM;
    json_t *idx = json_pack("{s:i, s:s}", "schemaVersion", 2, "mediaType", mt);
    json_t *arr = json_array();
    if (!idx || !arr)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const struct kf_index_entry *e = &entries[i];
        json_t *d = descriptor(e->media_type, &e->manifest);
        if (!d || json_array_append_new(arr, d))
            goto out;
        const json_t *bd = e->base_descriptor;
        json_t *urls = bd ? json_object_get(bd, "urls") : NULL;
        json_t *ann = bd ? json_object_get(bd, "annotations") : NULL;
        json_t *plat = bd ? json_object_get(bd, "platform") : NULL;
        if (urls && json_object_set(d, "urls", urls))
            goto out;
        if (ann && json_object_set(d, "annotations", ann))
            goto out;
        if (plat ? json_object_set(d, "platform", plat) : json_object_set_new(d, "platform", platform_json(&e->platform)))
            goto out;
    }
    if (json_object_set(idx, "manifests", arr))
        goto out;
    rc = set_annotations(idx, annotations, n_annotations, err);
    if (rc)
        goto out;
    rc = dump_json(idx, out, err);
out:
    if (rc == KF_ENOMEM)
        kf_fail(err, rc, "out of memory building the index");
    json_decref(arr);
    json_decref(idx);
    return rc;
}
