/* Image destinations: a registry repository or an OCI layout directory. */
#include "sink.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "digest.h"
#include "log.h"

#define KF_LAYER_MAX ((size_t)2 << 30)

/* index.json is rewritten read-modify-write: one writer at a time. */
static pthread_mutex_t layout_lock = PTHREAD_MUTEX_INITIALIZER;

int kf_sink_init_registry(struct kf_sink *s, struct kf_registry *reg, const char *image_name, char *err)
{
    memset(s, 0, sizeof *s);
    s->reg = reg;
    return kf_ref_parse_repo(image_name, &s->dest, err);
}

static int mkdir_p(const char *path, char *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return kf_fail(err, KF_EINVAL, "path too long: %s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return kf_fail(err, KF_EIO, "mkdir %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return kf_fail(err, KF_EIO, "mkdir %s: %s", tmp, strerror(errno));
    return KF_OK;
}

int kf_sink_init_layout(struct kf_sink *s, struct kf_registry *reg, const char *dir, char *err)
{
    memset(s, 0, sizeof *s);
    s->reg = reg;
    s->layout_dir = strdup(dir);
    if (!s->layout_dir)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    char path[4200];
    snprintf(path, sizeof path, "%s/blobs/sha256", dir);
    int rc = mkdir_p(path, err);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/oci-layout", dir);
    if (access(path, F_OK) != 0) {
        static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
        rc = kf_write_file_atomic(path, layout, sizeof layout - 1, 0644, err);
        if (rc)
            return rc;
    }
    snprintf(path, sizeof path, "%s/index.json", dir);
    if (access(path, F_OK) != 0) {
        static const char index[] = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
                                    "\"manifests\":[]}";
        rc = kf_write_file_atomic(path, index, sizeof index - 1, 0644, err);
    }
    return rc;
}

void kf_sink_free(struct kf_sink *s)
{
    kf_ref_free(&s->dest);
    free(s->layout_dir);
    s->layout_dir = NULL;
}

static void blob_path(const char *dir, const char *digest, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/blobs/sha256/%s", dir, digest + 7);
}

static int layout_put(const char *dir, const char *digest, const void *data, size_t len, char *err)
{
    char path[4200];
    if (!kf_digest_valid(digest))
        return kf_fail(err, KF_EINTERNAL, "invalid digest %s", digest);
    blob_path(dir, digest, path, sizeof path);
    struct stat st;
    if (stat(path, &st) == 0 && (size_t)st.st_size == len)
        return KF_OK; /* content-addressed: same digest, same bytes */
    return kf_write_file_atomic(path, data, len, 0644, err);
}

int kf_sink_put_blob(struct kf_sink *s, const char *digest, const void *data, size_t len, char *err)
{
    if (s->layout_dir)
        return layout_put(s->layout_dir, digest, data, len, err);
    return kf_reg_push_blob(s->reg, &s->dest, digest, data, len, NULL, err);
}

int kf_sink_copy_base_blob(struct kf_sink *s, const struct kf_ref *base, const char *digest, size_t size,
                           char *err)
{
    int rc;
    struct kf_buf body;
    kf_buf_init(&body, KF_LAYER_MAX);
    if (s->layout_dir) {
        char path[4200];
        struct stat st;
        blob_path(s->layout_dir, digest, path, sizeof path);
        if (stat(path, &st) == 0 && (size_t)st.st_size == size)
            return KF_OK;
    } else {
        int exists = 0;
        rc = kf_reg_blob_exists(s->reg, &s->dest, digest, &exists, err);
        if (rc || exists)
            return rc;
        if (strcmp(s->dest.registry, base->registry) == 0) {
            int mounted = 0;
            rc = kf_reg_mount_blob(s->reg, &s->dest, digest, base, &mounted, err);
            if (rc || mounted)
                return rc;
        }
    }
    kf_logf("copying base layer %.19s (%zu bytes)", digest, size);
    rc = kf_reg_get_blob(s->reg, base, digest, &body, err);
    if (rc)
        goto out;
    rc = kf_sink_put_blob(s, digest, body.data, body.len, err);
out:
    kf_buf_free(&body);
    return rc;
}

int kf_sink_put_manifest(struct kf_sink *s, const char *tag_or_digest, const char *media_type, const void *data,
                         size_t len, char *err)
{
    if (s->layout_dir) {
        char digest[KF_DIGEST_LEN];
        kf_sha256_digest(data, len, digest);
        return layout_put(s->layout_dir, digest, data, len, err);
    }
    return kf_reg_put_manifest(s->reg, &s->dest, tag_or_digest, media_type, data, len, err);
}

int kf_layout_add_ref(const char *dir, const char *ref_name, const char *media_type, const char *digest, size_t size,
                      char *err)
{
    int rc = KF_ENOMEM;
    char path[4200];
    json_t *index = NULL;
    char *text = NULL;
    struct kf_buf body;
    kf_buf_init(&body, (size_t)64 << 20);
    snprintf(path, sizeof path, "%s/index.json", dir);
    pthread_mutex_lock(&layout_lock);
    rc = kf_buf_read_file(&body, path, err);
    if (rc)
        goto out;
    json_error_t jerr;
    index = json_loadb((const char *)body.data, body.len, 0, &jerr);
    json_t *manifests = json_object_get(index, "manifests");
    if (!json_is_array(manifests)) {
        rc = kf_fail(err, KF_EINVAL, "%s: not an OCI index", path);
        goto out;
    }
    /* The newest build of a name replaces the older entry. */
    for (size_t i = json_array_size(manifests); i-- > 0;) {
        json_t *ann = json_object_get(json_array_get(manifests, i), "annotations");
        const char *name = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
        if (name && strcmp(name, ref_name) == 0)
            json_array_remove(manifests, i);
    }
    json_t *d = json_pack("{s:s, s:I, s:s, s:{s:s}}", "mediaType", media_type, "size", (json_int_t)size, "digest",
                          digest, "annotations", "org.opencontainers.image.ref.name", ref_name);
    rc = KF_ENOMEM;
    if (!d || json_array_append_new(manifests, d))
        goto out;
    text = json_dumps(index, JSON_COMPACT);
    if (!text)
        goto out;
    rc = kf_write_file_atomic(path, text, strlen(text), 0644, err);
out:
    pthread_mutex_unlock(&layout_lock);
    if (rc == KF_ENOMEM)
        kf_fail(err, rc, "out of memory updating %s", path);
    free(text);
    json_decref(index);
    kf_buf_free(&body);
    return rc;
}

int kf_layout_read_blob(const char *dir, const char *digest, struct kf_buf *out, char *err)
{
    char path[4200];
    if (!kf_digest_valid(digest))
        return kf_fail(err, KF_EINVAL, "invalid digest %s", digest);
    blob_path(dir, digest, path, sizeof path);
    return kf_buf_read_file(out, path, err);
}
