#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "jobspec.h"

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_ALLOW_NUL, &jerr);
    cr_assert_not_null(v, "bad test JSON: %s", jerr.text);
    return v;
}

static const char *full_spec =
    "{\"source\": {\"git\": {\"url\": \"https://example.com/r.git\", \"ref\": \"main\", \"commit\": null}},"
    " \"importpaths\": [\"./cmd/app\", \"example.com/m/cmd/x\"], \"platforms\": [\"linux/amd64\", \"linux/arm/v7\"],"
    " \"repo\": \"reg.example/team\", \"naming\": \"base\", \"tags\": [\"v1\", \"latest\"],"
    " \"base_image\": \"scratch\", \"labels\": {\"z\": \"last\", \"a\": \"first=1\"},"
    " \"annotations\": {\"org.opencontainers.image.source\": \"x\"}, \"env\": [\"GOAMD64=v3\", \"A=\"],"
    " \"ldflags\": [\"-s\", \"-X main.v=1\"], \"user\": \"65532\", \"no_cache\": false}";

Test(jobspec_build, full_spec)
{
    json_t *spec = parse(full_spec);
    struct kf_build_opts o;
    struct kf_jobspec_hold hold;
    memset(&o, 0, sizeof o);
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_jobspec_to_build_opts(spec, &o, &hold, err), 0, "%s", err);
    cr_assert_eq(o.n_importpaths, 2);
    cr_expect_str_eq(o.importpaths[0], "./cmd/app");
    cr_expect_str_eq(o.importpaths[1], "example.com/m/cmd/x");
    cr_expect_str_eq(o.platforms, "linux/amd64,linux/arm/v7");
    cr_expect_str_eq(o.repo, "reg.example/team");
    cr_expect_eq(o.naming, KF_NAMING_BASE);
    cr_assert_eq(o.n_tags, 2);
    cr_expect_str_eq(o.tags[0], "v1");
    cr_expect_str_eq(o.tags[1], "latest");
    cr_expect_str_eq(o.default_base, "scratch");
    cr_assert_eq(o.n_labels, 2);
    cr_expect_str_eq(o.labels[0], "a=first=1"); /* sorted by key */
    cr_expect_str_eq(o.labels[1], "z=last");
    cr_assert_eq(o.n_annotations, 1);
    cr_expect_str_eq(o.annotations[0], "org.opencontainers.image.source=x");
    cr_assert_eq(o.n_extra_env, 2);
    cr_expect_str_eq(o.extra_env[0], "GOAMD64=v3");
    cr_expect_str_eq(o.extra_env[1], "A=");
    cr_expect_str_eq(o.template_env[0], "GOAMD64=v3");
    cr_expect_null(o.template_env[2]);
    cr_assert_eq(o.n_extra_ldflags, 2);
    cr_expect_str_eq(o.extra_ldflags[1], "-X main.v=1");
    cr_expect_str_eq(o.user, "65532");
    cr_expect_eq(o.push, 1);
    /* Left to the worker. */
    cr_expect_null(o.workdir);
    cr_expect_null(o.cancel);
    cr_expect_null(o.layer_cache_dir);
    kf_jobspec_opts_free(&hold);
    kf_jobspec_opts_free(&hold); /* twice is harmless */
    json_decref(spec);
}

Test(jobspec_build, minimal_spec_defaults)
{
    json_t *spec = parse("{\"source\": {\"upload\": {\"digest\": \"sha256:00\", \"size\": 1}},"
                         " \"importpaths\": [\".\"], \"platforms\": [], \"repo\": null, \"naming\": \"md5\","
                         " \"tags\": [], \"base_image\": null, \"labels\": {}, \"annotations\": {}, \"env\": [],"
                         " \"ldflags\": [], \"user\": null, \"no_cache\": true}");
    struct kf_build_opts o;
    struct kf_jobspec_hold hold;
    memset(&o, 0, sizeof o);
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_jobspec_to_build_opts(spec, &o, &hold, err), 0, "%s", err);
    cr_expect_eq(o.n_importpaths, 1);
    cr_expect_null(o.platforms);
    cr_expect_null(o.repo);
    cr_expect_null(o.default_base);
    cr_expect_null(o.user);
    cr_expect_eq(o.n_tags, 0);
    cr_expect_eq(o.n_labels, 0);
    cr_expect_eq(o.n_extra_env, 0);
    cr_assert_not_null(o.template_env);
    cr_expect_null(o.template_env[0]); /* never the worker's own environment */
    cr_expect_eq(o.naming, KF_NAMING_MD5);
    kf_jobspec_opts_free(&hold);
    json_decref(spec);
}

struct bad_case {
    const char *spec;
    const char *want; /* in the message */
};

static const struct bad_case bad_cases[] = {
    {"[]", "not a JSON object"},
    {"{}", "importpaths"},
    {"{\"importpaths\": []}", "importpaths"},
    {"{\"importpaths\": \"./cmd/app\"}", "importpaths"},
    {"{\"importpaths\": [1]}", "importpaths[0]"},
    {"{\"importpaths\": [\"\"]}", "importpaths[0]"},
    {"{\"importpaths\": [\"a\"], \"tags\": [\"x\", null]}", "tags[1]"},
    {"{\"importpaths\": [\"a\"], \"env\": [\"NOEQUALS\"]}", "env[0]"},
    {"{\"importpaths\": [\"a\"], \"env\": [\"=v\"]}", "env[0]"},
    {"{\"importpaths\": [\"a\"], \"labels\": [\"a=b\"]}", "labels"},
    {"{\"importpaths\": [\"a\"], \"labels\": {\"k\": 1}}", "labels.k"},
    {"{\"importpaths\": [\"a\"], \"annotations\": {\"a=b\": \"c\"}}", "annotations"},
    {"{\"importpaths\": [\"a\"], \"naming\": \"fancy\"}", "naming"},
    {"{\"importpaths\": [\"a\"], \"naming\": 3}", "naming"},
    {"{\"importpaths\": [\"a\"], \"repo\": 5}", "repo"},
    {"{\"importpaths\": [\"a\"], \"base_image\": []}", "base_image"},
    {"{\"importpaths\": [\"a\"], \"user\": true}", "user"},
    {"{\"importpaths\": [\"a\"], \"platforms\": [\"linux/amd64,linux/arm64\"]}", "platforms[0]"},
    {"{\"importpaths\": [\"a\"], \"ldflags\": {}}", "ldflags"},
    {"{\"importpaths\": [\"a\"], \"repo\": \"a\\u0000b\"}", "repo"},
};

Test(jobspec_build, bad_specs)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        json_t *spec = parse(bad_cases[i].spec);
        struct kf_build_opts o;
        struct kf_jobspec_hold hold;
        memset(&o, 0, sizeof o);
        char err[KF_ERRLEN] = "";
        cr_expect_eq(kf_jobspec_to_build_opts(spec, &o, &hold, err), KF_EINVAL, "case %zu", i);
        cr_expect(strstr(err, bad_cases[i].want) != NULL, "case %zu: %s", i, err);
        cr_expect_null(hold.importpaths, "case %zu: nothing held after failure", i);
        cr_expect_null(hold.strings);
        json_decref(spec);
    }
}

Test(jobspec_build, too_many_entries)
{
    json_t *spec = parse("{\"importpaths\": [\"a\"]}");
    json_t *labels = json_object();
    for (int i = 0; i <= KF_JOBSPEC_MAP_MAX; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        json_object_set_new(labels, key, json_string("v"));
    }
    json_object_set_new(spec, "labels", labels);
    struct kf_build_opts o;
    struct kf_jobspec_hold hold;
    memset(&o, 0, sizeof o);
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_jobspec_to_build_opts(spec, &o, &hold, err), KF_EINVAL);
    cr_expect(strstr(err, "labels") != NULL, "%s", err);
    json_decref(spec);
}

static struct kf_build_result *two_results(void)
{
    struct kf_build_result *r = calloc(2, sizeof *r);
    r[0].importpath = strdup("example.com/hello/cmd/app");
    r[0].image_name = strdup("reg/app");
    r[0].reference = strdup("reg/app@sha256:aa");
    snprintf(r[0].digest, sizeof r[0].digest, "sha256:aa");
    snprintf(r[0].media_type, sizeof r[0].media_type, "application/vnd.oci.image.index.v1+json");
    r[0].n_platforms = 2;
    r[0].platforms = calloc(2, sizeof *r[0].platforms);
    cr_assert_eq(kf_platform_parse("linux/amd64", &r[0].platforms[0].platform, NULL), 0);
    snprintf(r[0].platforms[0].digest, KF_DIGEST_LEN, "sha256:11");
    cr_assert_eq(kf_platform_parse("linux/arm/v7", &r[0].platforms[1].platform, NULL), 0);
    snprintf(r[0].platforms[1].digest, KF_DIGEST_LEN, "sha256:22");
    r[1].importpath = strdup("example.com/hello/cmd/server");
    r[1].image_name = strdup("reg/server");
    r[1].reference = strdup("reg/server@sha256:bb");
    snprintf(r[1].digest, sizeof r[1].digest, "sha256:bb");
    snprintf(r[1].media_type, sizeof r[1].media_type, "application/vnd.oci.image.manifest.v1+json");
    r[1].n_platforms = 1;
    r[1].platforms = calloc(1, sizeof *r[1].platforms);
    cr_assert_eq(kf_platform_parse("linux/amd64", &r[1].platforms[0].platform, NULL), 0);
    snprintf(r[1].platforms[0].digest, KF_DIGEST_LEN, "sha256:bb");
    return r;
}

Test(jobspec_build, result_shape)
{
    struct kf_build_result *r = two_results();
    const char *tags[] = {"v1", "stable"};
    json_t *res = kf_jobspec_result(r, 2, tags, 2, "0123456789abcdef0123456789abcdef01234567", 1234);
    cr_assert_not_null(res);
    char *text = json_dumps(res, JSON_SORT_KEYS | JSON_COMPACT);
    cr_expect_str_eq(text,
                     "{\"commit\":\"0123456789abcdef0123456789abcdef01234567\",\"duration_ms\":1234,\"images\":["
                     "{\"digest\":\"sha256:aa\",\"image\":\"reg/app\",\"importpath\":\"example.com/hello/cmd/app\","
                     "\"media_type\":\"application/vnd.oci.image.index.v1+json\",\"platforms\":["
                     "{\"digest\":\"sha256:11\",\"platform\":\"linux/amd64\"},"
                     "{\"digest\":\"sha256:22\",\"platform\":\"linux/arm/v7\"}],"
                     "\"reference\":\"reg/app@sha256:aa\",\"tags\":[\"v1\",\"stable\"]},"
                     "{\"digest\":\"sha256:bb\",\"image\":\"reg/server\",\"importpath\":\"example.com/hello/cmd/server\","
                     "\"media_type\":\"application/vnd.oci.image.manifest.v1+json\",\"platforms\":["
                     "{\"digest\":\"sha256:bb\",\"platform\":\"linux/amd64\"}],"
                     "\"reference\":\"reg/server@sha256:bb\",\"tags\":[\"v1\",\"stable\"]}],"
                     "\"reused_from\":null}");
    free(text);
    json_decref(res);
    kf_build_results_free(r, 2);
}

Test(jobspec_build, result_defaults)
{
    struct kf_build_result *r = two_results();
    json_t *res = kf_jobspec_result(r, 1, NULL, 0, NULL, -5);
    cr_assert_not_null(res);
    cr_expect(json_is_null(json_object_get(res, "commit")));
    cr_expect(json_is_null(json_object_get(res, "reused_from")));
    cr_expect_eq(json_integer_value(json_object_get(res, "duration_ms")), 0);
    json_t *images = json_object_get(res, "images");
    cr_assert_eq(json_array_size(images), 1);
    json_t *tags = json_object_get(json_array_get(images, 0), "tags");
    cr_assert_eq(json_array_size(tags), 1);
    cr_expect_str_eq(json_string_value(json_array_get(tags, 0)), "latest");
    json_decref(res);
    json_t *empty = kf_jobspec_result(NULL, 0, NULL, 0, NULL, 0);
    cr_assert_not_null(empty);
    cr_expect_eq(json_array_size(json_object_get(empty, "images")), 0);
    json_decref(empty);
    kf_build_results_free(r, 2);
}
