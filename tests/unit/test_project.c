#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "project.h"

#define URL "https://git.example.com/shop.git"
#define RULES                                                                                                  \
    "[{\"on\": \"push\", \"branches\": [\"main\", \"release-*\"], \"build\": {\"importpaths\": [\"./cmd/api\"]}}," \
    " {\"on\": \"tag\", \"tags\": [\"v*\"], \"resolve\": {\"files\": [\"config/\"]}},"                      \
    " {\"on\": \"tag\", \"tags\": [\"v*\"], \"build\": {\"importpaths\": [\"./cmd/api\"], \"tags\": [\"stable\"]}}]"

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    cr_assert(v, "bad test JSON: %s", je.text);
    return v;
}

static json_t *good_project(void)
{
    return load("{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"webhook_secret\": \"s3cret\","
                " \"max_concurrency\": 2, \"rules\": " RULES ","
                " \"defaults\": {\"repo\": \"registry.example.com/shop\", \"platforms\": [\"linux/amd64\", \"linux/arm64\"]}}");
}

Test(project, normalises_and_keeps_secret_apart)
{
    char err[KF_ERRLEN], *secret = NULL;
    json_t *doc = good_project(), *out = NULL;
    cr_assert_eq(kf_project_check(doc, 0, &out, &secret, err), KF_OK, "%s", err);
    cr_expect_str_eq(secret, "s3cret");
    cr_expect_null(json_object_get(out, "webhook_secret"), "the secret is not in the document");
    cr_expect_eq(json_array_size(json_object_get(out, "rules")), 3);
    cr_expect_eq(json_integer_value(json_object_get(out, "max_concurrency")), 2);
    free(secret);
    json_decref(out);
    json_decref(doc);
    doc = load("{\"name\": \"a\", \"git\": {\"url\": \"" URL "\"}}");
    cr_assert_eq(kf_project_check(doc, 0, &out, &secret, err), KF_OK, "%s", err);
    cr_expect_null(secret);
    cr_expect(json_is_array(json_object_get(out, "rules")));
    cr_expect(json_is_object(json_object_get(out, "defaults")));
    cr_expect(json_is_null(json_object_get(out, "max_concurrency")));
    json_decref(out);
    json_decref(doc);
}

static const char *const bad_docs[] = {
    "[]",
    "{\"git\": {\"url\": \"" URL "\"}}",
    "{\"name\": \"Shop\", \"git\": {\"url\": \"" URL "\"}}",
    "{\"name\": \"-x\", \"git\": {\"url\": \"" URL "\"}}",
    "{\"name\": \"a/b\", \"git\": {\"url\": \"" URL "\"}}",
    "{\"name\": \"shop\"}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"file:///etc\"}}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"--upload-pack=x\"}}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\", \"ref\": \"main\"}}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"color\": 1}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"webhook_secret\": \"\"}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"webhook_secret\": 5}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"max_concurrency\": 0}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"max_concurrency\": 1.5}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"defaults\": {\"source\": {}}}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"defaults\": {\"project\": \"x\"}}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"defaults\": {\"platforms\": [7]}}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"rules\": {}}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"rules\": [{\"on\": \"pull\", \"branches\": [\"main\"], \"build\": {\"importpaths\": [\".\"]}}]}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"rules\": [{\"on\": \"push\", \"build\": {\"importpaths\": [\".\"]}}]}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"rules\": [{\"on\": \"push\", \"branches\": [], \"build\": {\"importpaths\": [\".\"]}}]}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"rules\": [{\"on\": \"push\", \"tags\": [\"v*\"], \"build\": {\"importpaths\": [\".\"]}}]}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"rules\": [{\"on\": \"push\", \"branches\": [\"main\"]}]}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"rules\": [{\"on\": \"push\", \"branches\": [\"main\"], \"build\": {}}]}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"rules\": [{\"on\": \"push\", \"branches\": [\"main\"], \"build\": {\"importpaths\": [\"../x\"]}}]}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"rules\": [{\"on\": \"push\", \"branches\": [\"main\"], \"build\": {\"importpaths\": [\".\"], \"source\": {}}}]}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"rules\": [{\"on\": \"tag\", \"tags\": [\"v*\"], \"resolve\": {}}]}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"rules\": [{\"on\": \"tag\", \"tags\": [\"v*\"], \"resolve\": {\"files\": [\"/etc/passwd\"]}}]}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"rules\": [{\"on\": \"tag\", \"tags\": [\"v*\"], \"resolve\": {\"files\": [\"a/../../b\"]}}]}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"rules\": [{\"on\": \"tag\", \"tags\": [\"v*\"], \"resolve\": {\"files\": [\"c\"], \"strict\": \"yes\"}}]}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"rules\": [{\"on\": \"tag\", \"tags\": [\"v*\"], \"resolve\": {\"files\": [\"c\"], \"importpaths\": [\".\"]}}]}",
    "{\"name\": \"shop\", \"git\": {\"url\": \"" URL "\"}, \"rules\": [{\"on\": \"tag\", \"tags\": [\"v*\"], \"resolve\": {\"files\": [\"c\"]}, \"build\": {\"importpaths\": [\".\"]}}]}",
};

Test(project, refuses_bad_documents)
{
    for (size_t i = 0; i < sizeof bad_docs / sizeof *bad_docs; i++) {
        char err[KF_ERRLEN] = "", *secret = NULL;
        json_t *doc = load(bad_docs[i]), *out = NULL;
        cr_expect_eq(kf_project_check(doc, 0, &out, &secret, err), KF_EINVAL, "case %zu accepted: %s", i,
                     bad_docs[i]);
        cr_expect_null(out);
        cr_expect_null(secret);
        json_decref(doc);
    }
}

static json_t *jobs_for(const char *ref_name, int tag, int deleted)
{
    char err[KF_ERRLEN], *secret = NULL;
    json_t *doc = good_project(), *norm = NULL, *jobs = NULL;
    cr_assert_eq(kf_project_check(doc, 0, &norm, &secret, err), KF_OK, "%s", err);
    struct kf_push p = {.tag = tag, .deleted = deleted};
    snprintf(p.name, sizeof p.name, "%s", ref_name);
    if (!deleted)
        snprintf(p.commit, sizeof p.commit, "%s", "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c");
    cr_assert_eq(kf_project_jobs_for_push(norm, &p, 0, &jobs, err), KF_OK, "%s", err);
    free(secret);
    json_decref(norm);
    json_decref(doc);
    return jobs;
}

Test(project, push_rules)
{
    json_t *jobs = jobs_for("main", 0, 0);
    cr_assert_eq(json_array_size(jobs), 1);
    json_t *job = json_array_get(jobs, 0);
    json_t *spec = json_object_get(job, "spec");
    cr_expect_str_eq(json_string_value(json_object_get(job, "kind")), "build");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(spec, "source"), "git"), "url")), URL);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(spec, "source"), "git"), "commit")),
                     "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c");
    cr_expect_str_eq(json_string_value(json_object_get(spec, "repo")), "registry.example.com/shop", "defaults merged");
    cr_expect_eq(json_array_size(json_object_get(spec, "platforms")), 2);
    json_t *tags = json_object_get(spec, "tags");
    cr_assert_eq(json_array_size(tags), 2);
    cr_expect_str_eq(json_string_value(json_array_get(tags, 0)), "main");
    cr_expect_str_eq(json_string_value(json_array_get(tags, 1)), "0d1a26e");
    json_decref(jobs);

    jobs = jobs_for("release-2", 0, 0);
    cr_expect_eq(json_array_size(jobs), 1, "glob branch");
    json_decref(jobs);
    jobs = jobs_for("feature", 0, 0);
    cr_expect_eq(json_array_size(jobs), 0, "no rule for this branch");
    json_decref(jobs);
    jobs = jobs_for("main", 0, 1);
    cr_expect_eq(json_array_size(jobs), 0, "a deleted branch queues nothing");
    json_decref(jobs);
    jobs = jobs_for("main", 1, 0);
    cr_expect_eq(json_array_size(jobs), 0, "a tag named main is not the branch");
    json_decref(jobs);
}

Test(project, tag_rules)
{
    json_t *jobs = jobs_for("v1.2.0", 1, 0);
    cr_assert_eq(json_array_size(jobs), 2);
    json_t *resolve = json_array_get(jobs, 0), *build = json_array_get(jobs, 1);
    cr_expect_str_eq(json_string_value(json_object_get(resolve, "kind")), "resolve");
    json_t *spec = json_object_get(resolve, "spec");
    cr_expect_null(json_object_get(spec, "importpaths"));
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(spec, "files"), 0)), "config/");
    cr_expect(json_is_true(json_object_get(spec, "strict")));
    cr_expect(json_is_false(json_object_get(spec, "recursive")));
    cr_expect(json_is_false(json_object_get(spec, "pin_tags")));
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(spec, "tags"), 0)), "v1.2.0");
    json_t *btags = json_object_get(json_object_get(build, "spec"), "tags");
    cr_expect_eq(json_array_size(btags), 1);
    cr_expect_str_eq(json_string_value(json_array_get(btags, 0)), "stable", "the rule's tags win");
    json_decref(jobs);
    jobs = jobs_for("x1", 1, 0);
    cr_expect_eq(json_array_size(jobs), 0);
    json_decref(jobs);
}
