/* Fetching base images and choosing the platforms to build, as ko does. */
#include "base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

#define KF_BASE_CONFIG_MAX ((size_t)8 << 20)

static int parse_json(const struct kf_buf *body, const char *what, json_t **out, char *err)
{
    json_error_t jerr;
    *out = json_loadb((const char *)body->data, body->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*out || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return kf_fail(err, KF_EREGISTRY, "%s is not valid JSON: %s", what, jerr.text);
    }
    return KF_OK;
}

static int get_config(struct kf_registry *reg, const struct kf_ref *ref, const json_t *manifest, json_t **config,
                      char *err)
{
    int rc;
    struct kf_buf body;
    kf_buf_init(&body, KF_BASE_CONFIG_MAX);
    const char *digest = json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"));
    if (!digest || !kf_digest_valid(digest)) {
        rc = kf_fail(err, KF_EREGISTRY, "base manifest has no valid config digest");
        goto out;
    }
    rc = kf_reg_get_blob(reg, ref, digest, &body, err);
    if (rc)
        goto out;
    rc = parse_json(&body, "base image config", config, err);
out:
    kf_buf_free(&body);
    return rc;
}

static int check_layers(const json_t *manifest, char *err)
{
    json_t *layers = json_object_get(manifest, "layers");
    if (!json_is_array(layers))
        return kf_fail(err, KF_EREGISTRY, "base manifest has no layers array");
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l) {
        const char *d = json_string_value(json_object_get(l, "digest"));
        if (!d || !kf_digest_valid(d) || !json_is_integer(json_object_get(l, "size")))
            return kf_fail(err, KF_EREGISTRY, "base manifest layer %zu has no valid digest or size", i);
    }
    return KF_OK;
}

static int fetch_scratch(const struct kf_platform *plats, size_t n, struct kf_base *out, char *err)
{
    out->scratch = 1;
    out->name = strdup("scratch");
    snprintf(out->media_type, sizeof out->media_type, "%s", n > 1 ? KF_MT_OCI_INDEX : KF_MT_OCI_MANIFEST);
    out->is_index = n > 1;
    if (n == 0)
        return kf_fail(err, KF_EINVAL, "base image scratch has no platforms of its own: name them with --platform");
    out->entries = calloc(n, sizeof *out->entries);
    if (!out->name || !out->entries)
        return KF_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        out->entries[i].platform = plats[i];
        snprintf(out->entries[i].media_type, sizeof out->entries[i].media_type, "%s", KF_MT_OCI_MANIFEST);
    }
    out->n_entries = n;
    return KF_OK;
}

static int index_entries(const json_t *index, struct kf_base *out, char *err)
{
    json_t *manifests = json_object_get(index, "manifests");
    if (!json_is_array(manifests))
        return kf_fail(err, KF_EREGISTRY, "base index has no manifests array");
    size_t n = json_array_size(manifests);
    out->entries = calloc(n ? n : 1, sizeof *out->entries);
    if (!out->entries)
        return KF_ENOMEM;
    size_t i;
    json_t *d;
    json_array_foreach(manifests, i, d) {
        struct kf_base_entry *e = &out->entries[out->n_entries];
        const char *digest = json_string_value(json_object_get(d, "digest"));
        const char *mt = json_string_value(json_object_get(d, "mediaType"));
        if (!digest || !kf_digest_valid(digest) || !mt)
            return kf_fail(err, KF_EREGISTRY, "base index entry %zu has no valid digest or media type", i);
        if (!kf_image_is_manifest_type(mt))
            return kf_fail(err, KF_EUNSUPPORTED, "\"%s\" has unexpected mediaType \"%s\" in base index", digest, mt);
        kf_image_platform_of(json_object_get(d, "platform"), &e->platform);
        snprintf(e->digest, sizeof e->digest, "%s", digest);
        snprintf(e->media_type, sizeof e->media_type, "%s", mt);
        e->descriptor = json_incref(d);
        out->n_entries++;
    }
    return KF_OK;
}

int kf_base_fetch(struct kf_registry *reg, const char *ref_str, const struct kf_platform *scratch_platforms,
                  size_t n_scratch, struct kf_base *out, char *err)
{
    int rc;
    json_t *top = NULL;
    struct kf_buf body;
    kf_buf_init(&body, 0);
    memset(out, 0, sizeof *out);
    if (strcmp(ref_str, "scratch") == 0) {
        rc = fetch_scratch(scratch_platforms, n_scratch, out, err);
        goto out;
    }
    rc = kf_ref_parse(ref_str, &out->ref, err);
    if (rc)
        goto out;
    out->name = kf_ref_name(&out->ref);
    if (!out->name) {
        rc = KF_ENOMEM;
        goto out;
    }
    const char *want = out->ref.digest ? out->ref.digest : kf_ref_tag_or_latest(&out->ref);
    rc = kf_reg_get_manifest(reg, &out->ref, want, &body, out->media_type, out->digest, err);
    if (rc)
        goto out;
    rc = parse_json(&body, "base manifest", &top, err);
    if (rc)
        goto out;
    if (kf_image_is_index_type(out->media_type)) {
        out->is_index = 1;
        rc = index_entries(top, out, err);
    } else if (kf_image_is_manifest_type(out->media_type)) {
        rc = check_layers(top, err);
        if (rc)
            goto out;
        rc = get_config(reg, &out->ref, top, &out->config, err);
        if (rc)
            goto out;
        out->entries = calloc(1, sizeof *out->entries);
        if (!out->entries) {
            rc = KF_ENOMEM;
            goto out;
        }
        out->n_entries = 1;
        kf_image_platform_of(out->config, &out->entries[0].platform);
        snprintf(out->entries[0].digest, sizeof out->entries[0].digest, "%s", out->digest);
        snprintf(out->entries[0].media_type, sizeof out->entries[0].media_type, "%s", out->media_type);
        out->manifest = top;
        top = NULL;
    } else {
        rc = kf_fail(err, KF_EUNSUPPORTED, "base image %s has unsupported media type \"%s\"", ref_str,
                     out->media_type);
    }
out:
    if (rc == KF_ENOMEM)
        kf_fail(err, rc, "out of memory fetching the base image");
    json_decref(top);
    kf_buf_free(&body);
    if (rc)
        kf_base_free(out);
    return rc;
}

void kf_base_free(struct kf_base *b)
{
    for (size_t i = 0; i < b->n_entries; i++)
        json_decref(b->entries[i].descriptor);
    free(b->entries);
    free(b->name);
    kf_ref_free(&b->ref);
    json_decref(b->manifest);
    json_decref(b->config);
    memset(b, 0, sizeof *b);
}

int kf_base_select(const struct kf_base *b, const struct kf_platform *want, size_t n_want, int all, size_t **idx,
                   size_t *n_idx, char *err)
{
    *idx = calloc(b->n_entries ? b->n_entries : 1, sizeof **idx);
    *n_idx = 0;
    if (!*idx)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    for (size_t i = 0; i < b->n_entries; i++)
        if (kf_platform_any_matches(want, n_want, all, &b->entries[i].platform))
            (*idx)[(*n_idx)++] = i;
    if (*n_idx > 0)
        return KF_OK;
    free(*idx);
    *idx = NULL;
    char wanted[512] = "";
    size_t w = 0;
    for (size_t i = 0; i < n_want && w < sizeof wanted - 1; i++) {
        char p[160];
        kf_platform_format(&want[i], p, sizeof p);
        int n = snprintf(wanted + w, sizeof wanted - w, "%s%s", i ? "," : "", p);
        if (n < 0)
            break;
        w += (size_t)n;
    }
    if (!b->is_index) {
        char have[160];
        kf_platform_format(&b->entries[0].platform, have, sizeof have);
        return kf_fail(err, KF_EINVAL, "base image %s is for platform %s, which does not match the requested %s",
                       b->name, have, wanted);
    }
    return kf_fail(err, KF_EINVAL, "no matching platforms in base image index %s for %s", b->name,
                   all ? "all" : wanted);
}

int kf_base_image_get(struct kf_registry *reg, const struct kf_base *b, size_t i, struct kf_base_image *out,
                      char *err)
{
    int rc;
    struct kf_buf body;
    kf_buf_init(&body, 0);
    memset(out, 0, sizeof *out);
    const struct kf_base_entry *e = &b->entries[i];
    out->platform = e->platform;
    snprintf(out->media_type, sizeof out->media_type, "%s", e->media_type);
    if (b->scratch)
        return KF_OK;
    snprintf(out->digest, sizeof out->digest, "%s", e->digest);
    if (!b->is_index) {
        out->manifest = json_incref(b->manifest);
        out->config = json_incref(b->config);
        return KF_OK;
    }
    char mt[128], digest[KF_DIGEST_LEN];
    rc = kf_reg_get_manifest(reg, &b->ref, e->digest, &body, mt, digest, err);
    if (rc)
        goto out;
    if (!kf_image_is_manifest_type(mt)) {
        rc = kf_fail(err, KF_EUNSUPPORTED, "base entry %s has media type \"%s\"", e->digest, mt);
        goto out;
    }
    snprintf(out->media_type, sizeof out->media_type, "%s", mt);
    rc = parse_json(&body, "base manifest", &out->manifest, err);
    if (rc)
        goto out;
    rc = check_layers(out->manifest, err);
    if (rc)
        goto out;
    rc = get_config(reg, &b->ref, out->manifest, &out->config, err);
out:
    kf_buf_free(&body);
    if (rc)
        kf_base_image_free(out);
    return rc;
}

void kf_base_image_free(struct kf_base_image *img)
{
    json_decref(img->manifest);
    json_decref(img->config);
    img->manifest = img->config = NULL;
}
