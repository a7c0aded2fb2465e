/* One validator per request field: everything a client sends is checked
 * here before it can reach a job row, a worker's argv or go's environment. */
#include "jobspec_fields.h"

#include <stdio.h>
#include <string.h>

#include "gitsrc.h"
#include "gobuild.h"
#include "jobspec.h"
#include "naming.h"
#include "platform.h"
#include "ref.h"

#define PLATFORMS_MAX 32
#define MAP_KEY_MAX 256

void kf_jsf_show(const char *s, char out[64])
{
    size_t o = 0;
    out[o++] = '"';
    for (; *s && o < 56; s++)
        out[o++] = (unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' ? '?' : *s;
    if (*s)
        out[o++] = '.', out[o++] = '.', out[o++] = '.';
    out[o++] = '"';
    out[o] = 0;
}

int kf_jsf_clean_text(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        return 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x20 || *p == 0x7f)
            return 0;
        /* UTF-8 by hand: query values never went through a JSON parser. */
        size_t extra = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : 9;
        if (extra == 9 || (extra == 1 && *p < 0xc2) || (*p == 0xf4 && p[1] > 0x8f) || *p > 0xf4)
            return 0;
        if ((*p == 0xe0 && p[1] < 0xa0) || (*p == 0xed && p[1] > 0x9f) || (*p == 0xf0 && p[1] < 0x90))
            return 0;
        for (size_t i = 1; i <= extra; i++)
            if ((p[i] & 0xc0) != 0x80)
                return 0;
        p += extra + 1;
    }
    return 1;
}

static json_t *bad(char *err, const char *field, const char *why)
{
    kf_fail(err, KF_EINVAL, "%s: %s", field, why);
    return NULL;
}

/* A string field: NULL and err when v is not a string or not clean text. */
static const char *string_of(const json_t *v, const char *field, size_t max, char *err)
{
    if (!json_is_string(v)) {
        bad(err, field, "must be a string");
        return NULL;
    }
    const char *s = json_string_value(v);
    if (!*s) {
        bad(err, field, "must not be empty");
        return NULL;
    }
    if (strlen(s) > max) {
        kf_fail(err, KF_EINVAL, "%s: longer than %zu bytes", field, max);
        return NULL;
    }
    if (!kf_jsf_clean_text(s, max)) {
        bad(err, field, "must not hold control characters");
        return NULL;
    }
    return s;
}

json_t *kf_jsf_source(const json_t *v, int allow_file, char *err)
{
    if (!json_is_object(v))
        return bad(err, "source", "must be an object {\"git\": {...}}");
    const char *key;
    json_t *val, *git = NULL;
    json_object_foreach((json_t *)v, key, val) {
        if (strcmp(key, "git") != 0) {
            char shown[64];
            kf_jsf_show(key, shown);
            kf_fail(err, KF_EINVAL, "source: unknown field %s (only \"git\")", shown);
            return NULL;
        }
        git = val;
    }
    if (!git || !json_is_object(git))
        return bad(err, "source.git", "must be an object {\"url\", \"ref\" or \"commit\"}");
    const char *url = NULL, *ref = NULL, *commit = NULL;
    char why[KF_ERRLEN];
    json_object_foreach(git, key, val) {
        if (!strcmp(key, "url")) {
            if (!(url = string_of(val, "source.git.url", KF_GIT_URL_MAX, err)))
                return NULL;
        } else if (!strcmp(key, "ref")) {
            if (!json_is_null(val) && !(ref = string_of(val, "source.git.ref", KF_GIT_REF_MAX, err)))
                return NULL;
        } else if (!strcmp(key, "commit")) {
            if (!json_is_null(val) && !(commit = string_of(val, "source.git.commit", 64, err)))
                return NULL;
        } else {
            char shown[64];
            kf_jsf_show(key, shown);
            kf_fail(err, KF_EINVAL, "source.git: unknown field %s", shown);
            return NULL;
        }
    }
    if (!url)
        return bad(err, "source.git.url", "is required");
    if (kf_git_validate_url(url, allow_file, why))
        return bad(err, "source.git.url", why);
    if (ref && kf_git_validate_ref(ref, why))
        return bad(err, "source.git.ref", why);
    if (commit && kf_git_validate_commit(commit, why))
        return bad(err, "source.git.commit", why);
    json_t *out = json_pack("{s:{s:s,s:s?,s:s?}}", "git", "url", url, "ref", ref, "commit", commit);
    if (!out)
        kf_fail(err, KF_ENOMEM, "out of memory");
    return out;
}

/* ko-style arguments: ".", "./rel/dir", "example.com/m/cmd/x", "ko://...".
 * go list would refuse worse ones later; these are refused before any row
 * exists so nothing odd reaches a worker's argv. */
static int importpath_ok(const char *s, const char **why)
{
    const char *p = strncmp(s, "ko://", 5) == 0 ? s + 5 : s;
    size_t n = strlen(p);
    *why = "must be \".\", \"./dir\", a package path or ko://path";
    if (n == 0 || n > KF_JOBSPEC_IMPORTPATH_MAX)
        return 0;
    if (*p == '-')
        return (*why = "must not start with '-'"), 0;
    if (*p == '/')
        return (*why = "must not be absolute"), 0;
    if (strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~+-/") != n)
        return (*why = "may hold only letters, digits and ._~+-/"), 0;
    if (strstr(p, "..."))
        return (*why = "patterns with \"...\" are not allowed"), 0;
    if (strstr(p, "//"))
        return (*why = "must not hold empty path elements"), 0;
    for (const char *c = p; *c;) {
        size_t len = strcspn(c, "/");
        if (len == 2 && c[0] == '.' && c[1] == '.')
            return (*why = "must not hold \"..\""), 0;
        c += len;
        c += *c == '/';
    }
    if (n > 3 && strcmp(p + n - 3, ".go") == 0)
        return (*why = "must name a package, not a .go file"), 0;
    if (p != s && *p == '.')
        return (*why = "ko:// takes a package path, not a relative one"), 0;
    return 1;
}

json_t *kf_jsf_importpaths(const json_t *v, char *err)
{
    if (!json_is_array(v))
        return bad(err, "importpaths", "must be an array of strings");
    size_t n = json_array_size(v);
    if (n == 0)
        return bad(err, "importpaths", "must name at least one package");
    if (n > KF_JOBSPEC_IMPORTPATHS_MAX) {
        kf_fail(err, KF_EINVAL, "importpaths: more than %d entries", KF_JOBSPEC_IMPORTPATHS_MAX);
        return NULL;
    }
    json_t *out = json_array();
    for (size_t i = 0; out && i < n; i++) {
        char field[48];
        snprintf(field, sizeof field, "importpaths[%zu]", i);
        const char *s = string_of(json_array_get(v, i), field, KF_JOBSPEC_IMPORTPATH_MAX + 5, err);
        const char *why;
        if (!s || (!importpath_ok(s, &why) && !bad(err, field, why)) || json_array_append_new(out, json_string(s))) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static int add_platform(json_t *out, const char *s, const char *field, char *err)
{
    struct kf_platform p;
    char why[KF_ERRLEN], text[160];
    if (!strcmp(s, "all"))
        return kf_fail(err, KF_EINVAL, "%s: \"all\" must be the only platform", field);
    if (strlen(s) > 100 || kf_platform_parse(s, &p, why))
        return kf_fail(err, KF_EINVAL, "%s: want os/arch[/variant], got %.60s", field, s);
    if (p.os[0] == '-' || p.arch[0] == '-')
        return kf_fail(err, KF_EINVAL, "%s: bad platform", field);
    kf_platform_format(&p, text, sizeof text);
    if (json_array_size(out) >= PLATFORMS_MAX)
        return kf_fail(err, KF_EINVAL, "platforms: more than %d entries", PLATFORMS_MAX);
    return json_array_append_new(out, json_string(text)) ? kf_fail(err, KF_ENOMEM, "out of memory") : KF_OK;
}

/* ["linux/amd64", ...], ["all"], or one comma list. */
json_t *kf_jsf_platforms(const json_t *v, char *err)
{
    json_t *out = json_array();
    if (!out)
        return NULL;
    if (json_is_string(v)) {
        const char *s = string_of(v, "platforms", 2048, err);
        if (!s)
            goto fail;
        if (!strcmp(s, "all"))
            return json_array_append_new(out, json_string("all")) ? (json_decref(out), NULL) : out;
        char copy[2049];
        snprintf(copy, sizeof copy, "%s", s);
        for (char *c = copy, *next; c; c = next) {
            next = strchr(c, ',');
            if (next)
                *next++ = 0;
            if (add_platform(out, c, "platforms", err))
                goto fail;
        }
        return out;
    }
    if (!json_is_array(v)) {
        bad(err, "platforms", "must be an array of strings or a comma list");
        goto fail;
    }
    size_t n = json_array_size(v);
    for (size_t i = 0; i < n; i++) {
        char field[48];
        snprintf(field, sizeof field, "platforms[%zu]", i);
        const char *s = string_of(json_array_get(v, i), field, 100, err);
        if (!s)
            goto fail;
        if (n == 1 && !strcmp(s, "all")) {
            if (json_array_append_new(out, json_string("all")))
                goto fail;
            break;
        }
        if (add_platform(out, s, field, err))
            goto fail;
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

static int has_upper(const char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            return 1;
    return 0;
}

json_t *kf_jsf_repo(const json_t *v, char *err)
{
    const char *s = string_of(v, "repo", KF_REF_NAME_MAX, err);
    if (!s)
        return NULL;
    if (has_upper(s) || *s == '-')
        return bad(err, "repo", "must be a lowercase registry/repository");
    struct kf_ref ref;
    char why[KF_ERRLEN];
    int rc = kf_ref_parse_repo(s, &ref, why);
    kf_ref_free(&ref);
    return rc ? bad(err, "repo", why) : json_string(s);
}

json_t *kf_jsf_naming(const json_t *v, char *err)
{
    enum kf_naming naming;
    if (!json_is_string(v) || kf_naming_parse(json_string_value(v), &naming))
        return bad(err, "naming", "must be one of md5, base, preserve, bare");
    return json_string(kf_naming_str(naming));
}

json_t *kf_jsf_tags(const json_t *v, char *err)
{
    if (!json_is_array(v))
        return bad(err, "tags", "must be an array of strings");
    size_t n = json_array_size(v);
    if (n == 0)
        return bad(err, "tags", "must hold at least one tag");
    if (n > KF_JOBSPEC_TAGS_MAX) {
        kf_fail(err, KF_EINVAL, "tags: more than %d entries", KF_JOBSPEC_TAGS_MAX);
        return NULL;
    }
    json_t *out = json_array();
    for (size_t i = 0; out && i < n; i++) {
        char field[48];
        snprintf(field, sizeof field, "tags[%zu]", i);
        const char *s = string_of(json_array_get(v, i), field, 128, err);
        if (!s || (!kf_ref_tag_valid(s) && !bad(err, field, "must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")) ||
            json_array_append_new(out, json_string(s))) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

json_t *kf_jsf_base_image(const json_t *v, char *err)
{
    const char *s = string_of(v, "base_image", 512, err);
    if (!s)
        return NULL;
    if (!strcmp(s, "scratch"))
        return json_string(s);
    if (*s == '-')
        return bad(err, "base_image", "must be an image reference or \"scratch\"");
    struct kf_ref ref;
    char why[KF_ERRLEN];
    int rc = kf_ref_parse(s, &ref, why);
    kf_ref_free(&ref);
    return rc ? bad(err, "base_image", why) : json_string(s);
}

static int map_key_ok(const char *k)
{
    return *k && strlen(k) <= MAP_KEY_MAX && !strchr(k, '=') && kf_jsf_clean_text(k, MAP_KEY_MAX);
}

json_t *kf_jsf_map(const char *field, const json_t *v, char *err)
{
    if (!json_is_object(v)) {
        kf_fail(err, KF_EINVAL, "%s: must be an object of strings", field);
        return NULL;
    }
    if (json_object_size(v) > KF_JOBSPEC_MAP_MAX) {
        kf_fail(err, KF_EINVAL, "%s: more than %d entries", field, KF_JOBSPEC_MAP_MAX);
        return NULL;
    }
    json_t *out = json_object();
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        char shown[64];
        kf_jsf_show(key, shown);
        if (!map_key_ok(key)) {
            kf_fail(err, KF_EINVAL, "%s: bad key %s", field, shown);
            goto fail;
        }
        if (!json_is_string(val) || !kf_jsf_clean_text(json_string_value(val), KF_JOBSPEC_STRING_MAX)) {
            kf_fail(err, KF_EINVAL, "%s.%s: must be a string without control characters (<= %d bytes)", field,
                    key, KF_JOBSPEC_STRING_MAX);
            goto fail;
        }
        if (!out || json_object_set_new(out, key, json_string(json_string_value(val))))
            goto fail;
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}
