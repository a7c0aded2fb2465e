/* Build requests to normalised specs (every field present, each checked by
 * jobspec_fields.c), upload query strings to requests, and cache keys. */
#include "jobspec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "jobspec_fields.h"

/* The spec fields in order, each with its validator and its default when
 * absent (JSON text; NULL = required). */
static const struct field {
    const char *name;
    json_t *(*check)(const json_t *v, char *err);
    const char *dflt;
} spec_fields[] = {
    {"importpaths", kf_jsf_importpaths, NULL},
    {"platforms", kf_jsf_platforms, "[]"},
    {"repo", kf_jsf_repo, "null"},
    {"naming", kf_jsf_naming, "\"md5\""},
    {"tags", kf_jsf_tags, "[\"latest\"]"},
    {"base_image", kf_jsf_base_image, "null"},
    {"labels", NULL, "{}"},
    {"annotations", NULL, "{}"},
    {"env", kf_jsf_env, "[]"},
    {"ldflags", kf_jsf_ldflags, "[]"},
    {"user", kf_jsf_user, "null"},
};

static const char *const meta_fields[] = {"source", "no_cache", "project", "priority", "max_attempts"};

static int known_field(const char *key)
{
    for (size_t i = 0; i < sizeof spec_fields / sizeof *spec_fields; i++)
        if (!strcmp(key, spec_fields[i].name))
            return 1;
    for (size_t i = 0; i < sizeof meta_fields / sizeof *meta_fields; i++)
        if (!strcmp(key, meta_fields[i]))
            return 1;
    return 0;
}

static int int_field(const json_t *request, const char *name, int lo, int hi, int *out, char *err)
{
    const json_t *v = json_object_get(request, name);
    if (!v || json_is_null(v))
        return KF_OK;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return kf_fail(err, KF_EINVAL, "%s: must be an integer from %d to %d", name, lo, hi);
    *out = (int)json_integer_value(v);
    return KF_OK;
}

static int project_field(const json_t *request, char **out, char *err)
{
    const json_t *v = json_object_get(request, "project");
    if (!v || json_is_null(v))
        return KF_OK;
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    if (!s || n == 0 || n > KF_JOBSPEC_PROJECT_MAX || *s == '-' ||
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-") != n)
        return kf_fail(err, KF_EINVAL, "project: must be 1 to %d of [A-Za-z0-9._/-]", KF_JOBSPEC_PROJECT_MAX);
    if (!(*out = strdup(s)))
        return kf_fail(err, KF_ENOMEM, "out of memory");
    return KF_OK;
}

static json_t *upload_source(const char *digest, size_t size, char *err)
{
    if (!kf_digest_valid(digest)) {
        kf_fail(err, KF_EINTERNAL, "bad upload digest");
        return NULL;
    }
    return json_pack("{s:{s:s,s:I}}", "upload", "digest", digest, "size", (json_int_t)size);
}

int kf_jobspec_from_request(const json_t *request, const char *upload_digest, size_t upload_size, int allow_file,
                            json_t **spec, struct kf_jobspec_meta *meta, char *err)
{
    struct kf_jobspec_meta m = {0};
    json_t *out = NULL, *v;
    const char *key;
    int rc = KF_EINVAL;
    *spec = NULL;
    err[0] = 0;
    if (!json_is_object(request))
        return kf_fail(err, KF_EINVAL, "request: must be a JSON object");
    json_object_foreach((json_t *)request, key, v) {
        if (!known_field(key)) {
            char shown[64];
            kf_jsf_show(key, shown);
            return kf_fail(err, KF_EINVAL, "unknown field %s", shown);
        }
    }
    if (!(out = json_object()))
        return kf_fail(err, KF_ENOMEM, "out of memory");
    const json_t *source = json_object_get(request, "source");
    json_t *src;
    if (upload_digest) {
        if (source) {
            kf_fail(err, KF_EINVAL, "source: not allowed with an uploaded source");
            goto out;
        }
        src = upload_source(upload_digest, upload_size, err);
    } else if (!source) {
        kf_fail(err, KF_EINVAL, "source: required ({\"git\": {\"url\", \"ref\" or \"commit\"}})");
        goto out;
    } else {
        src = kf_jsf_source(source, allow_file, err);
    }
    if (!src || json_object_set_new(out, "source", src))
        goto out;
    for (size_t i = 0; i < sizeof spec_fields / sizeof *spec_fields; i++) {
        const struct field *f = &spec_fields[i];
        json_t *given = json_object_get(request, f->name), *val;
        if (!given || (json_is_null(given) && f->dflt)) {
            if (!f->dflt) {
                kf_fail(err, KF_EINVAL, "%s: required", f->name);
                goto out;
            }
            val = json_loads(f->dflt, JSON_DECODE_ANY, NULL);
        } else {
            val = f->check ? f->check(given, err) : kf_jsf_map(f->name, given, err);
        }
        if (!val || json_object_set_new(out, f->name, val))
            goto out;
    }
    const json_t *no_cache = json_object_get(request, "no_cache");
    if (no_cache && !json_is_boolean(no_cache) && !json_is_null(no_cache)) {
        kf_fail(err, KF_EINVAL, "no_cache: must be true or false");
        goto out;
    }
    if (json_object_set_new(out, "no_cache", json_boolean(json_is_true(no_cache))))
        goto out;
    if ((rc = int_field(request, "priority", -1000, 1000, &m.priority, err)) ||
        (rc = int_field(request, "max_attempts", 1, 100, &m.max_attempts, err)) ||
        (rc = project_field(request, &m.project, err)))
        goto out;
    if (meta)
        *meta = m;
    else
        free(m.project);
    m.project = NULL;
    *spec = out;
    out = NULL;
    rc = KF_OK;
out:
    if (rc && !err[0]) /* only an allocation fails without a message */
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
    free(m.project);
    json_decref(out);
    return rc;
}
