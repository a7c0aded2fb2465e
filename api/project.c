/* Project documents and the jobs their rules queue for a push. */
#include "project.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gitsrc.h"
#include "jobspec.h"
#include "jobspec_fields.h"
#include "refmatch.h"

/* Build options a project's defaults and rule actions may set. */
static const char *const option_keys[] = {"platforms", "repo", "naming", "tags", "base_image", "labels",
                                          "annotations", "env", "ldflags", "user", "no_cache", "priority",
                                          "max_attempts"};
/* The resolve-only fields of a resolve action (the resolve job contract). */
static const char *const resolve_keys[] = {"files", "recursive", "selector", "strict", "pin_tags", "yaml"};

#define N(a) (sizeof a / sizeof *a)

static int in_list(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(key, list[i]))
            return 1;
    return 0;
}

int kf_project_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n >= 1 && n <= KF_PROJECT_NAME_MAX && strchr("abcdefghijklmnopqrstuvwxyz0123456789", name[0]) &&
           strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int unknown(char *err, const char *where, const char *key)
{
    char shown[64];
    kf_jsf_show(key, shown);
    return kf_fail(err, KF_EINVAL, "%s: unknown field %s", where, shown);
}

/* Only keys from the lists (either may be NULL). */
static int only_keys(const json_t *obj, const char *where, const char *const *a, size_t na,
                     const char *const *b, size_t nb, char *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (!in_list(key, a, na) && !(b && in_list(key, b, nb)))
            return unknown(err, where, key);
    }
    return KF_OK;
}

static int check_globs(const json_t *v, const char *where, char *err)
{
    size_t n = json_array_size(v);
    if (!json_is_array(v) || n == 0 || n > KF_PROJECT_GLOBS_MAX)
        return kf_fail(err, KF_EINVAL, "%s: must be an array of 1 to %d patterns", where, KF_PROJECT_GLOBS_MAX);
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(v, i));
        if (!s || !*s || !kf_jsf_clean_text(s, KF_HOOK_REF_MAX))
            return kf_fail(err, KF_EINVAL, "%s[%zu]: must be a pattern of 1 to %d characters", where, i,
                           KF_HOOK_REF_MAX);
    }
    return KF_OK;
}

static int path_ok(const char *s)
{
    if (!s || !*s || s[0] == '/' || !kf_jsf_clean_text(s, KF_JOBSPEC_STRING_MAX))
        return 0;
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && !strncmp(p, "..", 2))
            return 0;
        p += n + (p[n] == '/');
    }
    return 1;
}

/* The resolve-only fields, normalised into spec. */
static int resolve_fields(const json_t *action, json_t *spec, char *err)
{
    const json_t *files = json_object_get(action, "files"), *yaml = json_object_get(action, "yaml");
    if (!files && !yaml)
        return kf_fail(err, KF_EINVAL, "resolve: \"files\" or \"yaml\" is required");
    if (files) {
        size_t n = json_array_size(files);
        if (!json_is_array(files) || n == 0 || n > KF_PROJECT_FILES_MAX)
            return kf_fail(err, KF_EINVAL, "resolve.files: must be an array of 1 to %d paths", KF_PROJECT_FILES_MAX);
        for (size_t i = 0; i < n; i++)
            if (!path_ok(json_string_value(json_array_get(files, i))))
                return kf_fail(err, KF_EINVAL, "resolve.files[%zu]: must be a relative path inside the source", i);
        json_object_set(spec, "files", (json_t *)files);
    }
    if (yaml) {
        const char *y = json_string_value(yaml);
        if (!y || !*y || strlen(y) > ((size_t)1 << 20))
            return kf_fail(err, KF_EINVAL, "resolve.yaml: must be a non-empty string up to 1 MiB");
        json_object_set(spec, "yaml", (json_t *)yaml);
    }
    static const char *const bools[] = {"recursive", "strict", "pin_tags"};
    static const int dflt[] = {0, 1, 0};
    for (size_t i = 0; i < N(bools); i++) {
        const json_t *v = json_object_get(action, bools[i]);
        if (v && !json_is_boolean(v))
            return kf_fail(err, KF_EINVAL, "resolve.%s: must be true or false", bools[i]);
        json_object_set_new(spec, bools[i], json_boolean(v ? json_is_true(v) : dflt[i]));
    }
    const json_t *sel = json_object_get(action, "selector");
    if (sel && !json_is_null(sel)) {
        const char *s = json_string_value(sel);
        if (!s || !*s || !kf_jsf_clean_text(s, KF_JOBSPEC_STRING_MAX))
            return kf_fail(err, KF_EINVAL, "resolve.selector: must be a label selector string");
        json_object_set(spec, "selector", (json_t *)sel);
    }
    return KF_OK;
}

/* Default image tags for a push: the ref's name and the short commit. */
static json_t *default_tags(const struct kf_push *push)
{
    char ref_tag[KF_REF_TAG_MAX + 1], short_commit[8];
    kf_ref_image_tag(push->name, ref_tag);
    snprintf(short_commit, sizeof short_commit, "%.7s", push->commit);
    json_t *tags = json_array();
    if (tags && ref_tag[0])
        json_array_append_new(tags, json_string(ref_tag));
    if (tags && strcmp(ref_tag, short_commit) != 0)
        json_array_append_new(tags, json_string(short_commit));
    return tags;
}

/* One job for rule under project at push: {"kind", "spec", "priority", "max_attempts"}. */
static int rule_job(const json_t *project, const json_t *rule, const struct kf_push *push, int allow_file,
                    json_t **job, char *err)
{
    const json_t *build = json_object_get(rule, "build"), *resolve = json_object_get(rule, "resolve");
    const json_t *action = build ? build : resolve;
    const char *kind = build ? "build" : "resolve";
    const char *url = json_string_value(json_object_get(json_object_get(project, "git"), "url"));
    struct kf_jobspec_meta meta = {0};
    json_t *request = json_deep_copy(json_object_get(project, "defaults")), *spec = NULL;
    const char *key;
    json_t *v;
    int rc = KF_ENOMEM;
    *job = NULL;
    if (!request)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    json_object_foreach((json_t *)action, key, v) {
        if (!in_list(key, resolve_keys, N(resolve_keys)) && json_object_set(request, key, v))
            goto out;
    }
    if (!build && json_object_set_new(request, "importpaths", json_pack("[s]", ".")))
        goto out;
    if (!json_object_get(request, "tags") && json_object_set_new(request, "tags", default_tags(push)))
        goto out;
    if (json_object_set_new(request, "source", json_pack("{s:{s:s,s:s}}", "git", "url", url ? url : "",
                                                         "commit", push->commit)))
        goto out;
    if ((rc = kf_jobspec_from_request(request, NULL, 0, allow_file, &spec, &meta, err)))
        goto out;
    if (!build) {
        json_object_del(spec, "importpaths");
        if ((rc = resolve_fields(action, spec, err)))
            goto out;
    }
    *job = json_pack("{s:s,s:O,s:i,s:i}", "kind", kind, "spec", spec, "priority", meta.priority, "max_attempts",
                     meta.max_attempts);
    rc = *job ? KF_OK : kf_fail(err, KF_ENOMEM, "out of memory");
out:
    free(meta.project);
    json_decref(spec);
    json_decref(request);
    return rc;
}

static int check_rule(const json_t *project, const json_t *rule, size_t i, int allow_file, char *err)
{
    static const char *const rule_keys[] = {"on", "branches", "tags", "build", "resolve"};
    char where[48];
    snprintf(where, sizeof where, "rules[%zu]", i);
    if (!json_is_object(rule))
        return kf_fail(err, KF_EINVAL, "%s: must be an object", where);
    int rc = only_keys(rule, where, rule_keys, N(rule_keys), NULL, 0, err);
    if (rc)
        return rc;
    const char *on = json_string_value(json_object_get(rule, "on"));
    int tag = on && !strcmp(on, "tag");
    if (!on || (!tag && strcmp(on, "push") != 0))
        return kf_fail(err, KF_EINVAL, "%s.on: must be \"push\" or \"tag\"", where);
    const char *globs = tag ? "tags" : "branches", *other = tag ? "branches" : "tags";
    if (json_object_get(rule, other))
        return kf_fail(err, KF_EINVAL, "%s.%s: not allowed with \"on\": \"%s\" (use %s)", where, other, on, globs);
    char gwhere[64];
    snprintf(gwhere, sizeof gwhere, "%s.%s", where, globs);
    if ((rc = check_globs(json_object_get(rule, globs), gwhere, err)))
        return rc;
    const json_t *build = json_object_get(rule, "build"), *resolve = json_object_get(rule, "resolve");
    if (!build == !resolve)
        return kf_fail(err, KF_EINVAL, "%s: exactly one of \"build\" and \"resolve\" is required", where);
    const json_t *action = build ? build : resolve;
    if (!json_is_object(action))
        return kf_fail(err, KF_EINVAL, "%s.%s: must be an object", where, build ? "build" : "resolve");
    static const char *const importpaths[] = {"importpaths"};
    snprintf(gwhere, sizeof gwhere, "%s.%s", where, build ? "build" : "resolve");
    if ((rc = build ? only_keys(action, gwhere, option_keys, N(option_keys), importpaths, 1, err)
                    : only_keys(action, gwhere, option_keys, N(option_keys), resolve_keys, N(resolve_keys), err)))
        return rc;
    struct kf_push sample = {.tag = tag};
    snprintf(sample.name, sizeof sample.name, "%s", tag ? "v0.0.0" : "main");
    memset(sample.commit, 'a', 40);
    json_t *job = NULL;
    char why[KF_ERRLEN];
    rc = rule_job(project, rule, &sample, allow_file, &job, why);
    json_decref(job);
    if (rc)
        return kf_fail(err, rc, "%s: %s", where, why);
    return KF_OK;
}

int kf_project_check(const json_t *doc, int allow_file, json_t **out, char **secret, char *err)
{
    static const char *const doc_keys[] = {"name", "git", "webhook_secret", "rules", "defaults", "max_concurrency"};
    json_t *norm = NULL;
    *out = NULL;
    *secret = NULL;
    if (!json_is_object(doc))
        return kf_fail(err, KF_EINVAL, "project: must be a JSON object");
    int rc = only_keys(doc, "project", doc_keys, N(doc_keys), NULL, 0, err);
    if (rc)
        return rc;
    const char *name = json_string_value(json_object_get(doc, "name"));
    if (!kf_project_name_valid(name))
        return kf_fail(err, KF_EINVAL, "name: must be 1 to %d of [a-z0-9._-], starting with a letter or digit",
                       KF_PROJECT_NAME_MAX);
    const json_t *git = json_object_get(doc, "git");
    static const char *const git_keys[] = {"url"};
    if (!json_is_object(git))
        return kf_fail(err, KF_EINVAL, "git: must be an object {\"url\"}");
    if ((rc = only_keys(git, "git", git_keys, 1, NULL, 0, err)))
        return rc;
    const char *url = json_string_value(json_object_get(git, "url"));
    char why[KF_ERRLEN];
    if (!url || strlen(url) > KF_GIT_URL_MAX)
        return kf_fail(err, KF_EINVAL, "git.url: is required (a string)");
    if (kf_git_validate_url(url, allow_file, why))
        return kf_fail(err, KF_EINVAL, "git.url: %s", why);
    const json_t *sec = json_object_get(doc, "webhook_secret");
    if (sec && !json_is_null(sec) &&
        (!json_is_string(sec) || !json_string_length(sec) ||
         !kf_jsf_clean_text(json_string_value(sec), KF_PROJECT_SECRET_MAX)))
        return kf_fail(err, KF_EINVAL, "webhook_secret: must be 1 to %d printable characters", KF_PROJECT_SECRET_MAX);
    const json_t *mc = json_object_get(doc, "max_concurrency");
    if (mc && !json_is_null(mc) &&
        (!json_is_integer(mc) || json_integer_value(mc) < 1 || json_integer_value(mc) > KF_PROJECT_CONCURRENCY_MAX))
        return kf_fail(err, KF_EINVAL, "max_concurrency: must be an integer from 1 to %d, or null",
                       KF_PROJECT_CONCURRENCY_MAX);
    const json_t *defaults = json_object_get(doc, "defaults");
    if (defaults && !json_is_null(defaults) && !json_is_object(defaults))
        return kf_fail(err, KF_EINVAL, "defaults: must be an object of build options");
    if (defaults && json_is_object(defaults) && (rc = only_keys(defaults, "defaults", option_keys, N(option_keys),
                                                                NULL, 0, err)))
        return rc;
    const json_t *rules = json_object_get(doc, "rules");
    if (rules && !json_is_null(rules) && (!json_is_array(rules) || json_array_size(rules) > KF_PROJECT_RULES_MAX))
        return kf_fail(err, KF_EINVAL, "rules: must be an array of at most %d rules", KF_PROJECT_RULES_MAX);
    norm = json_pack("{s:s,s:{s:s},s:o,s:o,s:O}", "name", name, "git", "url", url, "rules",
                     json_is_array(rules) ? json_deep_copy(rules) : json_array(), "defaults",
                     json_is_object(defaults) ? json_deep_copy(defaults) : json_object(), "max_concurrency",
                     mc ? mc : json_null());
    if (!norm)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    /* The defaults alone must make a valid build (a project without rules yet). */
    json_t *probe = json_pack("{s:s,s:[s],s:{s:[s]}}", "on", "push", "branches", "*", "build", "importpaths", ".");
    rc = probe ? check_rule(norm, probe, 0, allow_file, why) : KF_ENOMEM;
    json_decref(probe);
    if (rc) {
        json_decref(norm);
        const char *colon = strstr(why, ": ");
        return kf_fail(err, rc, "defaults: %s", colon ? colon + 2 : "out of memory");
    }
    for (size_t i = 0; i < json_array_size(rules); i++)
        if ((rc = check_rule(norm, json_array_get(rules, i), i, allow_file, err))) {
            json_decref(norm);
            return rc;
        }
    if (json_is_string(sec) && !(*secret = strdup(json_string_value(sec)))) {
        json_decref(norm);
        return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    *out = norm;
    return KF_OK;
}

static int rule_matches(const json_t *rule, const struct kf_push *push)
{
    const char *on = json_string_value(json_object_get(rule, "on"));
    if (!on || strcmp(on, push->tag ? "tag" : "push") != 0)
        return 0;
    const json_t *globs = json_object_get(rule, push->tag ? "tags" : "branches");
    for (size_t i = 0; i < json_array_size(globs); i++) {
        const char *g = json_string_value(json_array_get(globs, i));
        if (g && kf_ref_glob_match(g, push->name))
            return 1;
    }
    return 0;
}

int kf_project_jobs_for_push(const json_t *project, const struct kf_push *push, int allow_file, json_t **jobs,
                             char *err)
{
    json_t *list = json_array();
    *jobs = NULL;
    if (!list)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    const json_t *rules = json_object_get(project, "rules");
    for (size_t i = 0; !push->deleted && i < json_array_size(rules); i++) {
        const json_t *rule = json_array_get(rules, i);
        if (!rule_matches(rule, push))
            continue;
        json_t *job;
        char why[KF_ERRLEN];
        int rc = rule_job(project, rule, push, allow_file, &job, why);
        if (rc) {
            json_decref(list);
            return kf_fail(err, rc, "rules[%zu]: %s", i, why);
        }
        if (json_array_append_new(list, job)) {
            json_decref(list);
            return kf_fail(err, KF_ENOMEM, "out of memory");
        }
    }
    *jobs = list;
    return KF_OK;
}
