/* Resolve requests to specs (the build fields checked by the build code),
 * resolve specs to engine options, and the resolve result. */
#include "jobspec_resolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobspec_fields.h"
#include "resolve_select.h"

static const char *const resolve_fields[] = {"files", "recursive", "selector", "strict", "pin_tags", "yaml"};

int kf_jobspec_path_ok(const char *path)
{
    size_t n = path ? strlen(path) : 0;
    if (n == 0 || n > KF_JOBSPEC_PATH_MAX || path[0] == '/' || !strcmp(path, "-") ||
        !kf_jsf_clean_text(path, KF_JOBSPEC_PATH_MAX))
        return 0;
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return 0;
        p += len;
        if (*p)
            p++;
    }
    return 1;
}

static int bool_field(const json_t *request, const char *name, int dflt, json_t *spec, char *err)
{
    const json_t *v = json_object_get(request, name);
    if (v && !json_is_boolean(v) && !json_is_null(v))
        return kf_fail(err, KF_EINVAL, "%s: must be true or false", name);
    int b = v && !json_is_null(v) ? json_is_true(v) : dflt;
    return json_object_set_new(spec, name, json_boolean(b)) ? kf_fail(err, KF_ENOMEM, "out of memory") : KF_OK;
}

static int files_field(const json_t *v, json_t **out, char *err)
{
    *out = NULL;
    if (!json_is_array(v))
        return kf_fail(err, KF_EINVAL, "files: must be an array of paths");
    size_t n = json_array_size(v);
    if (n == 0 || n > KF_JOBSPEC_FILES_MAX)
        return kf_fail(err, KF_EINVAL, "files: give 1 to %d paths", KF_JOBSPEC_FILES_MAX);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        const char *s = json_string_value(e);
        if (!s)
            return kf_fail(err, KF_EINVAL, "files[%zu]: must be a string", i);
        if (strlen(s) != json_string_length(e) || !kf_jobspec_path_ok(s)) {
            char shown[64];
            kf_jsf_show(s, shown);
            return kf_fail(err, KF_EINVAL,
                           "files[%zu]: %s is not a relative path inside the source (no \"..\", not absolute)", i,
                           shown);
        }
    }
    if (!(*out = json_deep_copy(v)))
        return kf_fail(err, KF_ENOMEM, "out of memory");
    return KF_OK;
}

/* The resolve-only fields of request into spec. */
static int resolve_part(const json_t *request, json_t *spec, char *err)
{
    const json_t *files = json_object_get(request, "files"), *yaml = json_object_get(request, "yaml");
    const json_t *selector = json_object_get(request, "selector");
    json_t *val;
    int rc;
    if (json_is_null(files))
        files = NULL;
    if (json_is_null(yaml))
        yaml = NULL;
    if (files && yaml)
        return kf_fail(err, KF_EINVAL, "files: give files or yaml, not both");
    if (!files && !yaml)
        return kf_fail(err, KF_EINVAL, "files: required (paths in the source), unless yaml is given");
    if (yaml) {
        const char *s = json_string_value(yaml);
        if (!s || !*s || strlen(s) != json_string_length(yaml))
            return kf_fail(err, KF_EINVAL, "yaml: must be non-empty text without NUL bytes");
        if (json_string_length(yaml) > KF_JOBSPEC_YAML_MAX)
            return kf_fail(err, KF_EINVAL, "yaml: longer than %zu bytes (upload the source with the files instead)",
                           KF_JOBSPEC_YAML_MAX);
        if (!(val = json_array()) || json_object_set_new(spec, "files", val) ||
            json_object_set_new(spec, "yaml", json_incref((json_t *)yaml)))
            return kf_fail(err, KF_ENOMEM, "out of memory");
    } else {
        if ((rc = files_field(files, &val, err)))
            return rc;
        if (json_object_set_new(spec, "files", val) || json_object_set_new(spec, "yaml", json_null()))
            return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    if (selector && !json_is_null(selector)) {
        const char *s = json_string_value(selector);
        struct kf_selector *sel = NULL;
        char why[KF_ERRLEN] = "";
        if (!s || strlen(s) != json_string_length(selector) || !kf_jsf_clean_text(s, KF_SELECTOR_MAX))
            return kf_fail(err, KF_EINVAL, "selector: must be a label selector string (at most %d bytes)",
                           KF_SELECTOR_MAX);
        if (kf_selector_parse(s, &sel, why))
            return kf_fail(err, KF_EINVAL, "selector: %s", why);
        kf_selector_free(sel);
        if (json_object_set_new(spec, "selector", json_string(s)))
            return kf_fail(err, KF_ENOMEM, "out of memory");
    } else if (json_object_set_new(spec, "selector", json_null())) {
        return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    if ((rc = bool_field(request, "recursive", 0, spec, err)) || (rc = bool_field(request, "strict", 1, spec, err)) ||
        (rc = bool_field(request, "pin_tags", 0, spec, err)))
        return rc;
    return KF_OK;
}

int kf_jobspec_resolve_from_request(const json_t *request, const char *upload_digest, size_t upload_size,
                                    int allow_file, json_t **spec, struct kf_jobspec_meta *meta, char *err)
{
    json_t *copy = NULL, *out = NULL;
    struct kf_jobspec_meta m = {0};
    int rc;
    *spec = NULL;
    err[0] = 0;
    if (!json_is_object(request))
        return kf_fail(err, KF_EINVAL, "request: must be a JSON object");
    if (json_object_get(request, "importpaths"))
        return kf_fail(err, KF_EINVAL, "unknown field \"importpaths\" (a resolve finds its import paths in the "
                                       "YAML: give files or yaml)");
    /* The build fields are checked by the build code, with a stand-in
     * import path that is dropped again. */
    if (!(copy = json_deep_copy(request)))
        return kf_fail(err, KF_ENOMEM, "out of memory");
    for (size_t i = 0; i < sizeof resolve_fields / sizeof *resolve_fields; i++)
        json_object_del(copy, resolve_fields[i]);
    if (json_object_set_new(copy, "importpaths", json_pack("[s]", "."))) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = kf_jobspec_from_request(copy, upload_digest, upload_size, allow_file, &out, &m, err)))
        goto out;
    json_object_del(out, "importpaths");
    if ((rc = resolve_part(request, out, err)))
        goto out;
    if (meta)
        *meta = m;
    else
        free(m.project);
    m.project = NULL;
    *spec = out;
    out = NULL;
out:
    free(m.project);
    json_decref(out);
    json_decref(copy);
    return rc;
}

int kf_jobspec_to_resolve_opts(const json_t *spec, struct kf_resolve_opts *o, struct kf_jobspec_resolve_inputs *in,
                               struct kf_jobspec_hold *hold, char *err)
{
    memset(in, 0, sizeof *in);
    if (!json_is_object(spec))
        return kf_fail(err, KF_EINVAL, "spec: not a JSON object");
    if (json_object_get(spec, "importpaths"))
        return kf_fail(err, KF_EINVAL, "spec.importpaths: not part of a resolve");
    int rc = kf_jsf_build_opts(spec, &o->build, hold, 0, err);
    if (rc)
        return rc;
    const json_t *files = json_object_get(spec, "files"), *yaml = json_object_get(spec, "yaml");
    const json_t *selector = json_object_get(spec, "selector");
    size_t n = json_array_size(files);
    if (!json_is_array(files) || n > KF_JOBSPEC_FILES_MAX) {
        rc = kf_fail(err, KF_EINVAL, "spec.files: must be an array of at most %d paths", KF_JOBSPEC_FILES_MAX);
        goto fail;
    }
    if (yaml && !json_is_null(yaml)) {
        if (!json_is_string(yaml) || json_string_length(yaml) > KF_JOBSPEC_YAML_MAX || n) {
            rc = kf_fail(err, KF_EINVAL, "spec.yaml: must be text (and files empty)");
            goto fail;
        }
        in->yaml = json_string_value(yaml);
        in->yaml_len = json_string_length(yaml);
    } else if (n == 0) {
        rc = kf_fail(err, KF_EINVAL, "spec.files: empty and no yaml");
        goto fail;
    }
    if (n && !(hold->files = calloc(n + 1, sizeof *hold->files))) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(files, i);
        const char *s = json_string_value(e);
        if (!s || strlen(s) != json_string_length(e) || !kf_jobspec_path_ok(s)) {
            rc = kf_fail(err, KF_EINVAL, "spec.files[%zu]: not a relative path inside the source", i);
            goto fail;
        }
        hold->files[i] = s;
    }
    in->files = hold->files;
    in->n_files = n;
    if (selector && !json_is_null(selector) && !json_is_string(selector)) {
        rc = kf_fail(err, KF_EINVAL, "spec.selector: must be a string or null");
        goto fail;
    }
    const json_t *strict = json_object_get(spec, "strict");
    in->recursive = json_is_true(json_object_get(spec, "recursive"));
    o->strict = strict ? json_is_true(strict) : 1;
    o->pin_tags = json_is_true(json_object_get(spec, "pin_tags"));
    o->selector = json_string_value(selector);
    return KF_OK;
fail:
    kf_jobspec_opts_free(hold);
    return rc;
}

json_t *kf_jobspec_resolve_result(const struct kf_resolve_result *r, const char *commit, long long duration_ms,
                                  const char *sha256)
{
    json_t *refs = json_array();
    if (!refs)
        return NULL;
    for (size_t i = 0; i < r->n_refs; i++) {
        const struct kf_resolve_ref *f = &r->refs[i];
        int pin = f->kind == KF_RESOLVE_TAG;
        char ref[KF_JOBSPEC_STRING_MAX + 8];
        snprintf(ref, sizeof ref, "%s%s", f->kind == KF_RESOLVE_KO ? "ko://" : "", f->value);
        json_t *e = json_pack("{s:s, s:s?, s:s?, s:s, s:s, s:s, s:I}", "ref", ref, "importpath",
                              pin ? NULL : f->value, "image", f->replacement, "digest", f->digest, "kind",
                              pin ? "pin" : "build", "where", f->where, "uses", (json_int_t)f->uses);
        if (!e || json_array_append_new(refs, e)) {
            json_decref(refs);
            return NULL;
        }
    }
    return json_pack("{s:s?, s:n, s:I, s:o, s:{s:s, s:s, s:I}}", "commit", commit, "reused_from", "duration_ms",
                     (json_int_t)(duration_ms < 0 ? 0 : duration_ms), "references", refs, "release", "name",
                     KF_RELEASE_NAME, "sha256", sha256, "size", (json_int_t)r->len);
}
