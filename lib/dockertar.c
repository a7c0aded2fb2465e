/* docker-load tarballs: the layout go-containerregistry's tarball package
 * writes (config named by digest, layers as <hex>.tar.gz, manifest.json). */
#include "dockertar.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "image.h"
#include "sink.h"
#include "tar.h"

#define KF_BLOB_MAX ((size_t)2 << 30)

/* One regular file: lib/tar.c's header, then the bytes straight from the
 * caller's buffer (no copy of a layer into the archive's buffer), padding. */
static int add_file(int fd, const char *name, const void *data, size_t len, char *err)
{
    static const unsigned char zeros[KF_TAR_BLOCK];
    struct kf_buf header;
    struct kf_tar tw;
    kf_buf_init(&header, 64 * KF_TAR_BLOCK);
    kf_tar_init(&tw, &header);
    struct kf_tar_entry e = {.name = name, .typeflag = KF_TAR_REG, .mode = 0644, .size = (long long)len};
    int rc = kf_tar_write_header(&tw, &e, err);
    if (!rc && (kf_write_all(fd, header.data, header.len) || (len && kf_write_all(fd, data, len)) ||
                kf_write_all(fd, zeros, (KF_TAR_BLOCK - len % KF_TAR_BLOCK) % KF_TAR_BLOCK)))
        rc = kf_fail(err, KF_EIO, "writing tarball entry %s: %s", name, strerror(errno));
    kf_buf_free(&header);
    return rc;
}

/* Adds one image's config and layers; appends its manifest.json entry. */
static int add_image(int fd, const char *layout, const struct kf_build_result *r, const char *const *tags,
                     size_t n_tags, json_t *entries, json_t *written, char *err)
{
    int rc;
    json_t *manifest = NULL;
    struct kf_buf blob;
    kf_buf_init(&blob, KF_BLOB_MAX);
    if (!kf_image_is_manifest_type(r->media_type)) {
        rc = kf_fail(err, KF_EINVAL, "--tarball holds single images; %s was built for %zu platforms", r->importpath,
                     r->n_platforms);
        goto out;
    }
    rc = kf_layout_read_blob(layout, r->digest, &blob, err);
    if (rc)
        goto out;
    json_error_t jerr;
    manifest = json_loadb((const char *)blob.data, blob.len, 0, &jerr);
    const char *cfg = json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"));
    if (!cfg) {
        rc = kf_fail(err, KF_EINTERNAL, "manifest %s has no config", r->digest);
        goto out;
    }
    json_t *entry = json_pack("{s:s, s:[], s:[]}", "Config", cfg, "RepoTags", "Layers");
    if (!entry || json_array_append_new(entries, entry)) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < (tags ? n_tags : 1); i++) {
        char *tag = NULL;
        if (asprintf(&tag, "%s:%s", r->image_name, tags ? tags[i] : "latest") < 0) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            goto out;
        }
        json_array_append_new(json_object_get(entry, "RepoTags"), json_string(tag));
        free(tag);
    }
    if (!json_object_get(written, cfg)) {
        kf_buf_reset(&blob);
        rc = kf_layout_read_blob(layout, cfg, &blob, err);
        if (!rc)
            rc = add_file(fd, cfg, blob.data, blob.len, err);
        if (rc)
            goto out;
        json_object_set_new(written, cfg, json_true());
    }
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(manifest, "layers"), i, l) {
        const char *d = json_string_value(json_object_get(l, "digest"));
        char name[128];
        if (!d || !kf_digest_valid(d)) {
            rc = kf_fail(err, KF_EINTERNAL, "manifest %s has a bad layer", r->digest);
            goto out;
        }
        snprintf(name, sizeof name, "%s.tar.gz", d + 7);
        json_array_append_new(json_object_get(entry, "Layers"), json_string(name));
        if (json_object_get(written, d))
            continue;
        kf_buf_reset(&blob);
        rc = kf_layout_read_blob(layout, d, &blob, err);
        if (!rc)
            rc = add_file(fd, name, blob.data, blob.len, err);
        if (rc)
            goto out;
        json_object_set_new(written, d, json_true());
    }
    rc = KF_OK;
out:
    json_decref(manifest);
    kf_buf_free(&blob);
    return rc;
}

int kf_dockertar_write(const char *path, const char *layout_dir, const struct kf_build_result *results, size_t n,
                       const char *const *tags, size_t n_tags, char *err)
{
    int rc = KF_ENOMEM;
    char *tmp = NULL, *text = NULL;
    json_t *entries = json_array(), *written = json_object();
    int fd = -1;
    if (!entries || !written || asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        tmp = NULL;
        kf_fail(err, rc, "out of memory");
        goto out;
    }
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        rc = kf_fail(err, KF_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        rc = add_image(fd, layout_dir, &results[i], tags, n_tags, entries, written, err);
        if (rc)
            goto out;
    }
    text = json_dumps(entries, JSON_COMPACT);
    if (!text) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    rc = add_file(fd, "manifest.json", text, strlen(text), err);
    if (rc)
        goto out;
    static const unsigned char trailer[2 * KF_TAR_BLOCK];
    if (kf_write_all(fd, trailer, sizeof trailer) != 0 || close(fd) != 0) {
        fd = -1;
        rc = kf_fail(err, KF_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = kf_fail(err, KF_EIO, "rename to %s failed", path);
        goto out;
    }
    rc = KF_OK;
out:
    if (fd >= 0)
        close(fd);
    if (rc && tmp)
        unlink(tmp);
    free(tmp);
    free(text);
    json_decref(entries);
    json_decref(written);
    return rc;
}
