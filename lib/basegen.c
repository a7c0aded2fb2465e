/* Base images made from scratch and one layer, pushed as an index. */
#include "basegen.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "image.h"
#include "layer.h"
#include "log.h"
#include "ref.h"

#define KF_ROOTFS_MAX ((size_t)512 << 20)

static int dump_into(json_t *j, struct kf_buf *out)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (!s)
        return KF_ENOMEM;
    int rc = kf_buf_append_str(out, s);
    free(s);
    return rc;
}

static json_t *base_config(const struct kf_basegen_opts *o, const struct kf_platform *p, const char *diff_id)
{
    json_t *env = json_array();
    int has_path = 0;
    for (size_t i = 0; i < o->n_env; i++) {
        if (strncmp(o->env[i], "PATH=", 5) == 0)
            has_path = 1;
        json_array_append_new(env, json_string(o->env[i]));
    }
    if (!has_path)
        json_array_insert_new(env, 0, json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
    json_t *config = json_pack("{s:o}", "Env", env);
    if (config && o->user)
        json_object_set_new(config, "User", json_string(o->user));
    json_t *cfg = json_pack("{s:s, s:s, s:[{s:s, s:s}], s:s}", "architecture", p->arch, "created",
                            "1970-01-01T00:00:00Z", "history", "created", "1970-01-01T00:00:00Z", "created_by",
                            "kofarm base create", "os", p->os);
    if (!cfg || !config) {
        json_decref(cfg);
        json_decref(config);
        return NULL;
    }
    json_object_set_new(cfg, "rootfs", json_pack("{s:s, s:[s]}", "type", "layers", "diff_ids", diff_id));
    json_object_set_new(cfg, "config", config);
    if (p->variant[0])
        json_object_set_new(cfg, "variant", json_string(p->variant));
    return cfg;
}

int kf_basegen_create(struct kf_registry *reg, const struct kf_basegen_opts *o, char digest[KF_DIGEST_LEN], char *err)
{
    int rc;
    struct kf_ref dest;
    struct kf_buf tar, cfgbuf, man;
    struct kf_layer layer;
    struct kf_index_entry *entries = NULL;
    memset(&dest, 0, sizeof dest);
    memset(&layer, 0, sizeof layer);
    kf_buf_init(&tar, KF_ROOTFS_MAX);
    kf_buf_init(&cfgbuf, 0);
    kf_buf_init(&man, 0);

    if (o->n_platforms == 0)
        return kf_fail(err, KF_EINVAL, "no platforms given");
    rc = kf_ref_parse(o->dest, &dest, err);
    if (rc)
        goto out;
    if (dest.digest) {
        rc = kf_fail(err, KF_EINVAL, "%s: a base is pushed to a tag, not a digest", o->dest);
        goto out;
    }
    rc = kf_buf_read_file(&tar, o->rootfs_tar, err);
    if (rc)
        goto out;
    rc = kf_layer_from_tar(tar.data, tar.len, &layer, err);
    if (rc)
        goto out;
    rc = kf_reg_push_blob(reg, &dest, layer.digest, layer.blob, layer.blob_len, NULL, err);
    if (rc)
        goto out;
    entries = calloc(o->n_platforms, sizeof *entries);
    if (!entries) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    struct kf_blob_desc layer_desc = {.size = layer.blob_len};
    memcpy(layer_desc.digest, layer.digest, KF_DIGEST_LEN);
    for (size_t i = 0; i < o->n_platforms; i++) {
        json_t *cfg = base_config(o, &o->platforms[i], layer.diff_id);
        kf_buf_reset(&cfgbuf);
        kf_buf_reset(&man);
        rc = cfg ? dump_into(cfg, &cfgbuf) : KF_ENOMEM;
        json_decref(cfg);
        if (rc) {
            rc = kf_fail(err, rc, "out of memory");
            goto out;
        }
        struct kf_blob_desc cfg_desc = {.size = cfgbuf.len};
        kf_sha256_digest(cfgbuf.data, cfgbuf.len, cfg_desc.digest);
        rc = kf_reg_push_blob(reg, &dest, cfg_desc.digest, cfgbuf.data, cfgbuf.len, NULL, err);
        if (rc)
            goto out;
        rc = kf_image_manifest(NULL, KF_MT_OCI_MANIFEST, &cfg_desc, &layer_desc, 1, NULL, 0, &man, err);
        if (rc)
            goto out;
        entries[i].media_type = KF_MT_OCI_MANIFEST;
        entries[i].platform = o->platforms[i];
        entries[i].manifest.size = man.len;
        kf_sha256_digest(man.data, man.len, entries[i].manifest.digest);
        rc = kf_reg_put_manifest(reg, &dest, entries[i].manifest.digest, KF_MT_OCI_MANIFEST, man.data, man.len, err);
        if (rc)
            goto out;
    }
    const char *mt = KF_MT_OCI_MANIFEST;
    if (o->n_platforms > 1) {
        kf_buf_reset(&man);
        rc = kf_image_index(KF_MT_OCI_INDEX, entries, o->n_platforms, NULL, 0, &man, err);
        if (rc)
            goto out;
        mt = KF_MT_OCI_INDEX;
    }
    kf_sha256_digest(man.data, man.len, digest);
    rc = kf_reg_put_manifest(reg, &dest, kf_ref_tag_or_latest(&dest), mt, man.data, man.len, err);
out:
    free(entries);
    kf_layer_free(&layer);
    kf_buf_free(&tar);
    kf_buf_free(&cfgbuf);
    kf_buf_free(&man);
    kf_ref_free(&dest);
    return rc;
}
