/* The worker's half of the job model: a normalised spec turned into engine
 * options, and the engine's results turned into the job's result object.
 * The spec comes from the database, so it is checked again here: a row
 * written by hand must fail cleanly, not crash the worker. */
#include "jobspec.h"
#include "jobspec_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fails with the field's name and why. */
#define BAD(field, why) kf_fail(err, KF_EINVAL, "spec.%s: %s", field, why)

static int string_len_ok(const char *s)
{
    return s && strnlen(s, KF_JOBSPEC_STRING_MAX + 1) <= KF_JOBSPEC_STRING_MAX;
}

/* A member that must be a string or null: *out NULL for null or absent. */
static int opt_string(const json_t *spec, const char *field, const char **out, char *err)
{
    const json_t *v = json_object_get(spec, field);
    *out = NULL;
    if (!v || json_is_null(v))
        return KF_OK;
    if (!json_is_string(v))
        return BAD(field, "must be a string or null");
    const char *s = json_string_value(v);
    if (!string_len_ok(s) || strlen(s) != json_string_length(v))
        return BAD(field, "too long or holds a NUL byte");
    *out = s;
    return KF_OK;
}

/* An array of strings (absent = empty) into a NULL-terminated array of
 * borrowed pointers (*out NULL when empty). */
static int string_array(const json_t *spec, const char *field, size_t max, const char ***out, size_t *n,
                        char *err)
{
    const json_t *v = json_object_get(spec, field);
    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v))
        return KF_OK;
    if (!json_is_array(v))
        return BAD(field, "must be an array of strings");
    size_t len = json_array_size(v);
    if (len > max)
        return BAD(field, "too many entries");
    if (len == 0)
        return KF_OK;
    const char **arr = calloc(len + 1, sizeof *arr);
    if (!arr)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    for (size_t i = 0; i < len; i++) {
        const json_t *e = json_array_get(v, i);
        const char *s = json_string_value(e);
        if (!s || !string_len_ok(s) || strlen(s) != json_string_length(e) || !*s) {
            free(arr);
            return kf_fail(err, KF_EINVAL, "spec.%s[%zu]: must be a non-empty string without NUL bytes", field, i);
        }
        arr[i] = s;
    }
    *out = arr;
    *n = len;
    return KF_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of an object of strings, sorted (deterministic whatever the
 * storage order). *keys: caller frees the array; strings are borrowed. */
static int sorted_keys(const json_t *obj, const char *field, const char ***keys, size_t *n, size_t *bytes,
                       char *err)
{
    *keys = NULL;
    *n = 0;
    size_t len = json_object_size(obj);
    if (len > KF_JOBSPEC_MAP_MAX)
        return BAD(field, "too many entries");
    if (len == 0)
        return KF_OK;
    const char **k = calloc(len, sizeof *k);
    if (!k)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    const char *key;
    json_t *val;
    size_t i = 0;
    json_object_foreach((json_t *)obj, key, val) {
        const char *s = json_string_value(val);
        if (!s || !*key || strchr(key, '=') || !string_len_ok(key) || !string_len_ok(s) ||
            strlen(s) != json_string_length(val)) {
            free(k);
            return kf_fail(err, KF_EINVAL, "spec.%s.%s: keys must be non-empty without '=', values strings",
                           field, key);
        }
        *bytes += strlen(key) + strlen(s) + 2;
        k[i++] = key;
    }
    qsort(k, len, sizeof *k, cmp_str);
    *keys = k;
    *n = len;
    return KF_OK;
}

/* labels and annotations: {"k": "v"} objects turned into "k=v" strings. */
struct kv_field {
    const char *name;
    const json_t *obj;
    const char **keys;
    size_t n;
    const char ***dest;
};

static int kv_fields(const json_t *spec, struct kv_field *f, size_t nf, char **strings, char *err)
{
    size_t bytes = 0;
    int rc = KF_OK;
    for (size_t i = 0; i < nf; i++) {
        f[i].obj = json_object_get(spec, f[i].name);
        if (!f[i].obj || json_is_null(f[i].obj))
            continue;
        if (!json_is_object(f[i].obj)) {
            rc = BAD(f[i].name, "must be an object of strings");
            goto out;
        }
        rc = sorted_keys(f[i].obj, f[i].name, &f[i].keys, &f[i].n, &bytes, err);
        if (rc)
            goto out;
    }
    if (bytes == 0)
        goto out;
    char *buf = malloc(bytes);
    if (!buf) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    *strings = buf;
    char *p = buf;
    for (size_t i = 0; i < nf; i++) {
        if (!f[i].n)
            continue;
        const char **arr = calloc(f[i].n + 1, sizeof *arr);
        if (!arr) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            goto out;
        }
        *f[i].dest = arr;
        for (size_t k = 0; k < f[i].n; k++) {
            const char *v = json_string_value(json_object_get(f[i].obj, f[i].keys[k]));
            int w = snprintf(p, bytes - (size_t)(p - buf), "%s=%s", f[i].keys[k], v);
            arr[k] = p;
            p += w + 1;
        }
    }
out:
    for (size_t i = 0; i < nf; i++)
        free(f[i].keys);
    return rc;
}

static int parse_naming(const json_t *spec, enum kf_naming *out, char *err)
{
    const json_t *v = json_object_get(spec, "naming");
    *out = KF_NAMING_MD5;
    if (!v || json_is_null(v))
        return KF_OK;
    if (!json_is_string(v) || kf_naming_parse(json_string_value(v), out))
        return BAD("naming", "must be one of md5, base, preserve, bare");
    return KF_OK;
}

/* platforms: [] = NULL (the worker's or .ko.yaml's default), else a comma list. */
static int join_platforms(const json_t *spec, char **out, char *err)
{
    const char **plats = NULL;
    size_t n = 0;
    *out = NULL;
    int rc = string_array(spec, "platforms", KF_JOBSPEC_MAP_MAX, &plats, &n, err);
    if (rc || n == 0)
        return rc;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (strchr(plats[i], ',')) {
            free(plats);
            return kf_fail(err, KF_EINVAL, "spec.platforms[%zu]: one platform per entry", i);
        }
        len += strlen(plats[i]) + 1;
    }
    char *joined = malloc(len);
    if (!joined) {
        free(plats);
        return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    char *p = joined;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(plats[i]);
        memcpy(p, plats[i], l);
        p += l;
        *p++ = i + 1 < n ? ',' : '\0';
    }
    free(plats);
    *out = joined;
    return KF_OK;
}

int kf_jobspec_to_build_opts(const json_t *spec, struct kf_build_opts *o, struct kf_jobspec_hold *hold, char *err)
{
    return kf_jsf_build_opts(spec, o, hold, 1, err);
}

int kf_jsf_build_opts(const json_t *spec, struct kf_build_opts *o, struct kf_jobspec_hold *hold, int need_importpaths,
                      char *err)
{
    int rc;
    size_t n_env = 0;
    memset(hold, 0, sizeof *hold);
    if (!json_is_object(spec))
        return kf_fail(err, KF_EINVAL, "spec: not a JSON object");

    rc = string_array(spec, "importpaths", KF_JOBSPEC_IMPORTPATHS_MAX, &hold->importpaths, &o->n_importpaths, err);
    if (rc)
        goto fail;
    if (o->n_importpaths == 0 && need_importpaths) {
        rc = BAD("importpaths", "at least one import path is needed");
        goto fail;
    }
    rc = string_array(spec, "tags", KF_JOBSPEC_TAGS_MAX, &hold->tags, &o->n_tags, err);
    if (rc)
        goto fail;
    rc = string_array(spec, "env", KF_JOBSPEC_MAP_MAX, &hold->env, &n_env, err);
    if (rc)
        goto fail;
    for (size_t i = 0; i < n_env; i++) {
        const char *eq = strchr(hold->env[i], '=');
        if (!eq || eq == hold->env[i]) {
            rc = kf_fail(err, KF_EINVAL, "spec.env[%zu]: must be KEY=VALUE", i);
            goto fail;
        }
    }
    rc = string_array(spec, "ldflags", KF_JOBSPEC_MAP_MAX, &hold->ldflags, &o->n_extra_ldflags, err);
    if (rc)
        goto fail;
    rc = join_platforms(spec, &hold->platforms, err);
    if (rc)
        goto fail;
    struct kv_field kv[] = {
        {.name = "labels", .dest = &hold->labels},
        {.name = "annotations", .dest = &hold->annotations},
    };
    rc = kv_fields(spec, kv, 2, &hold->strings, err);
    if (rc)
        goto fail;
    rc = parse_naming(spec, &o->naming, err);
    if (rc)
        goto fail;
    const char *repo, *base, *user;
    if ((rc = opt_string(spec, "repo", &repo, err)) || (rc = opt_string(spec, "base_image", &base, err)) ||
        (rc = opt_string(spec, "user", &user, err)))
        goto fail;

    o->importpaths = hold->importpaths;
    o->tags = hold->tags;
    o->labels = hold->labels;
    o->n_labels = kv[0].n;
    o->annotations = hold->annotations;
    o->n_annotations = kv[1].n;
    o->extra_env = hold->env;
    o->n_extra_env = n_env;
    /* {{.Env.X}} in .ko.yaml sees the job's env, never the worker's own
     * (which holds the database URL and registry settings). */
    static const char *const no_env[] = {NULL};
    o->template_env = hold->env ? hold->env : no_env;
    o->extra_ldflags = hold->ldflags;
    o->platforms = hold->platforms;
    o->repo = repo;
    o->default_base = base;
    o->user = user;
    o->push = 1;
    return KF_OK;
fail:
    kf_jobspec_opts_free(hold);
    return rc;
}

void kf_jobspec_opts_free(struct kf_jobspec_hold *hold)
{
    if (!hold)
        return;
    free(hold->importpaths);
    free(hold->tags);
    free(hold->labels);
    free(hold->annotations);
    free(hold->env);
    free(hold->ldflags);
    free(hold->platforms);
    free(hold->strings);
    free(hold->files);
    memset(hold, 0, sizeof *hold);
}

static json_t *platforms_json(const struct kf_build_result *r)
{
    json_t *arr = json_array();
    for (size_t k = 0; arr && k < r->n_platforms; k++) {
        char name[160];
        kf_platform_format(&r->platforms[k].platform, name, sizeof name);
        if (json_array_append_new(arr, json_pack("{s:s, s:s}", "platform", name, "digest", r->platforms[k].digest))) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *tags_json(const char *const *tags, size_t n_tags)
{
    json_t *arr = json_array();
    if (arr && n_tags == 0 && json_array_append_new(arr, json_string("latest")))
        goto fail;
    for (size_t i = 0; arr && i < n_tags; i++)
        if (json_array_append_new(arr, json_string(tags[i])))
            goto fail;
    return arr;
fail:
    json_decref(arr);
    return NULL;
}

json_t *kf_jobspec_result(const struct kf_build_result *r, size_t n, const char *const *tags, size_t n_tags,
                          const char *commit, long long duration_ms)
{
    json_t *images = json_array();
    if (!images)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *plats = platforms_json(&r[i]);
        json_t *tag_list = tags_json(tags, n_tags);
        if (!plats || !tag_list) {
            json_decref(plats);
            json_decref(tag_list);
            goto fail;
        }
        json_t *img = json_pack("{s:s?, s:s?, s:s?, s:s, s:s, s:o, s:o}", "importpath", r[i].importpath, "image",
                                r[i].image_name, "reference", r[i].reference, "digest", r[i].digest, "media_type",
                                r[i].media_type, "tags", tag_list, "platforms", plats);
        if (!img || json_array_append_new(images, img))
            goto fail;
    }
    json_t *result = json_pack("{s:s?, s:n, s:I, s:o}", "commit", commit, "reused_from", "duration_ms",
                               (json_int_t)(duration_ms < 0 ? 0 : duration_ms), "images", images);
    return result;
fail:
    json_decref(images);
    return NULL;
}
