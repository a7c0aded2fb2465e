/* The resolve request contract: normalised specs, hostile paths and wrong
 * types refused naming the field, upload query strings, cache keys, and
 * the worker's view of a spec. */
#include <criterion/criterion.h>
#include <string.h>

#include "jobspec_resolve.h"

#define GIT "\"source\":{\"git\":{\"url\":\"https://example.com/r.git\",\"ref\":\"main\"}}"
#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    cr_assert_not_null(v, "bad test JSON %s: %s", text, je.text);
    return v;
}

static char *resolve_spec_text(const char *request)
{
    char err[KF_ERRLEN];
    json_t *req = parse(request), *spec = NULL;
    cr_assert_eq(kf_jobspec_resolve_from_request(req, NULL, 0, 0, &spec, NULL, err), KF_OK, "%s", err);
    char *text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(spec);
    json_decref(req);
    return text;
}

Test(jobspec_resolve, minimal_request_gets_every_default)
{
    char *text = resolve_spec_text("{" GIT ",\"files\":[\"config/\"]}");
    cr_expect_str_eq(text,
                     "{\"annotations\":{},\"base_image\":null,\"env\":[],\"files\":[\"config/\"],"
                     "\"labels\":{},\"ldflags\":[],\"naming\":\"md5\",\"no_cache\":false,\"pin_tags\":false,"
                     "\"platforms\":[],\"recursive\":false,\"repo\":null,\"selector\":null,"
                     "\"source\":{\"git\":{\"commit\":null,\"ref\":\"main\",\"url\":\"https://example.com/r.git\"}},"
                     "\"strict\":true,\"tags\":[\"latest\"],\"user\":null,\"yaml\":null}");
    free(text);
}

Test(jobspec_resolve, full_request_and_inline_yaml)
{
    char *text = resolve_spec_text("{" GIT ",\"files\":[\"a.yaml\",\"./deploy\",\".\"],\"recursive\":true,"
                                   "\"selector\":\"app=x,tier in (a,b),!canary\",\"strict\":false,\"pin_tags\":true,"
                                   "\"platforms\":\"linux/amd64,linux/arm64\",\"naming\":\"base\",\"no_cache\":true}");
    cr_expect(strstr(text, "\"files\":[\"a.yaml\",\"./deploy\",\".\"]"), "%s", text);
    cr_expect(strstr(text, "\"selector\":\"app=x,tier in (a,b),!canary\""), "%s", text);
    cr_expect(strstr(text, "\"strict\":false") && strstr(text, "\"pin_tags\":true") &&
              strstr(text, "\"recursive\":true") && strstr(text, "\"naming\":\"base\""), "%s", text);
    free(text);
    text = resolve_spec_text("{" GIT ",\"yaml\":\"image: ko://example.com/m/cmd/x\\n\"}");
    cr_expect(strstr(text, "\"files\":[]") && strstr(text, "\"yaml\":\"image: ko://example.com/m/cmd/x\\n\""), "%s",
              text);
    free(text);
}

Test(jobspec_resolve, upload_source)
{
    char err[KF_ERRLEN];
    json_t *req = parse("{\"files\":[\"config\"]}"), *spec = NULL;
    cr_assert_eq(kf_jobspec_resolve_from_request(req, DIGEST, 99, 0, &spec, NULL, err), KF_OK, "%s", err);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(spec, "source"), "upload"),
                                                       "digest")),
                     DIGEST);
    json_decref(spec);
    json_decref(req);
}

Test(jobspec_resolve, meta_goes_to_the_row)
{
    char err[KF_ERRLEN];
    json_t *req = parse("{" GIT ",\"files\":[\"c\"],\"project\":\"shop\",\"priority\":3,\"max_attempts\":2}");
    json_t *spec = NULL;
    struct kf_jobspec_meta meta = {0};
    cr_assert_eq(kf_jobspec_resolve_from_request(req, NULL, 0, 0, &spec, &meta, err), KF_OK, "%s", err);
    cr_expect_str_eq(meta.project, "shop");
    cr_expect_eq(meta.priority, 3);
    cr_expect_eq(meta.max_attempts, 2);
    cr_expect_null(json_object_get(spec, "project"));
    free(meta.project);
    json_decref(spec);
    json_decref(req);
}

Test(jobspec_resolve, bad_requests_name_the_field)
{
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{" GIT ",\"files\":[\"../x\"]}", "files[0]"},
        {"{" GIT ",\"files\":[\"..\"]}", "files[0]"},
        {"{" GIT ",\"files\":[\"a/../../b\"]}", "files[0]"},
        {"{" GIT ",\"files\":[\"a/..\"]}", "files[0]"},
        {"{" GIT ",\"files\":[\"ok\",\"/etc/passwd\"]}", "files[1]"},
        {"{" GIT ",\"files\":[\"-\"]}", "files[0]"},
        {"{" GIT ",\"files\":[\"\"]}", "files[0]"},
        {"{" GIT ",\"files\":[\"a\\u0000b\"]}", "files[0]"},
        {"{" GIT ",\"files\":[\"a\\nb\"]}", "files[0]"},
        {"{" GIT ",\"files\":[1]}", "files[0]"},
        {"{" GIT ",\"files\":\"config\"}", "files"},
        {"{" GIT ",\"files\":{}}", "files"},
        {"{" GIT ",\"files\":[]}", "files"},
        {"{" GIT "}", "files"},
        {"{" GIT ",\"files\":null}", "files"},
        {"{" GIT ",\"files\":[\"a\"],\"yaml\":\"x: y\"}", "not both"},
        {"{" GIT ",\"yaml\":\"\"}", "yaml"},
        {"{" GIT ",\"yaml\":7}", "yaml"},
        {"{" GIT ",\"yaml\":\"a\\u0000b\"}", "yaml"},
        {"{" GIT ",\"files\":[\"a\"],\"recursive\":\"yes\"}", "recursive"},
        {"{" GIT ",\"files\":[\"a\"],\"strict\":1}", "strict"},
        {"{" GIT ",\"files\":[\"a\"],\"pin_tags\":\"true\"}", "pin_tags"},
        {"{" GIT ",\"files\":[\"a\"],\"selector\":\"a in (\"}", "selector"},
        {"{" GIT ",\"files\":[\"a\"],\"selector\":[\"a\"]}", "selector"},
        {"{" GIT ",\"files\":[\"a\"],\"selector\":\"a\\tb\"}", "selector"},
        {"{" GIT ",\"files\":[\"a\"],\"importpaths\":[\"./cmd/app\"]}", "importpaths"},
        {"{" GIT ",\"files\":[\"a\"],\"filez\":1}", "filez"},
        {"{" GIT ",\"files\":[\"a\"],\"platforms\":[\"nope\"]}", "platforms"},
        {"{" GIT ",\"files\":[\"a\"],\"tags\":[\"a:b\"]}", "tags"},
        {"{\"files\":[\"a\"]}", "source"},
        {"[]", "request"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[KF_ERRLEN] = "";
        json_t *req = json_loads(cases[i].body, JSON_ALLOW_NUL, NULL), *spec = (json_t *)1;
        cr_assert_not_null(req, "case %zu does not parse", i);
        cr_expect_eq(kf_jobspec_resolve_from_request(req, NULL, 0, 0, &spec, NULL, err), KF_EINVAL, "case %zu: %s", i,
                     cases[i].body);
        cr_expect_null(spec, "case %zu leaves no spec", i);
        cr_expect(strstr(err, cases[i].field), "case %zu: \"%s\" does not name %s", i, err, cases[i].field);
        json_decref(req);
    }
}

Test(jobspec_resolve, yaml_size_limit)
{
    char err[KF_ERRLEN];
    size_t n = KF_JOBSPEC_YAML_MAX + 1;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = 0;
    json_t *req = json_pack("{s:{s:{s:s,s:s}}, s:s}", "source", "git", "url", "https://example.com/r.git", "ref",
                            "main", "yaml", big), *spec = NULL;
    cr_expect_eq(kf_jobspec_resolve_from_request(req, NULL, 0, 0, &spec, NULL, err), KF_EINVAL);
    cr_expect(strstr(err, "yaml"), "%s", err);
    json_decref(req);
    free(big);
}

Test(jobspec_resolve, path_check)
{
    cr_expect(kf_jobspec_path_ok("config/"));
    cr_expect(kf_jobspec_path_ok("./a/b.yaml"));
    cr_expect(kf_jobspec_path_ok("."));
    cr_expect(kf_jobspec_path_ok("a..b/..c"));
    cr_expect_not(kf_jobspec_path_ok("../a"));
    cr_expect_not(kf_jobspec_path_ok("a/../../b"));
    cr_expect_not(kf_jobspec_path_ok("/a"));
    cr_expect_not(kf_jobspec_path_ok(""));
    cr_expect_not(kf_jobspec_path_ok(NULL));
}

Test(jobspec_resolve, upload_query)
{
    char err[KF_ERRLEN];
    const char *names[] = {"files", "file", "recursive", "selector", "strict", "pin_tags", "platform", "naming"};
    const char *values[] = {"config/,deploy/a.yaml", "x.yaml", "true", "app=x", "false", "1", "linux/amd64", "base"};
    json_t *req = NULL, *spec = NULL;
    cr_assert_eq(kf_jobspec_request_from_query_for("resolve", names, values, 8, &req, err), KF_OK, "%s", err);
    cr_assert_eq(kf_jobspec_resolve_from_request(req, DIGEST, 10, 0, &spec, NULL, err), KF_OK, "%s", err);
    char *files = json_dumps(json_object_get(spec, "files"), JSON_COMPACT);
    cr_expect_str_eq(files, "[\"config/\",\"deploy/a.yaml\",\"x.yaml\"]");
    cr_expect(json_is_true(json_object_get(spec, "recursive")));
    cr_expect(json_is_false(json_object_get(spec, "strict")));
    cr_expect(json_is_true(json_object_get(spec, "pin_tags")));
    cr_expect_str_eq(json_string_value(json_object_get(spec, "selector")), "app=x");
    free(files);
    json_decref(spec);
    json_decref(req);
    /* importpaths belongs to builds; files to resolves. */
    const char *ip = "importpaths", *dot = "./cmd/app", *fl = "files";
    cr_expect_eq(kf_jobspec_request_from_query_for("resolve", &ip, &dot, 1, &req, err), KF_EINVAL);
    cr_expect(strstr(err, "importpaths"), "%s", err);
    cr_expect_eq(kf_jobspec_request_from_query_for("build", &fl, &dot, 1, &req, err), KF_EINVAL);
    cr_expect(strstr(err, "files"), "%s", err);
    const char *rec = "recursive", *maybe = "maybe";
    cr_expect_eq(kf_jobspec_request_from_query_for("resolve", &rec, &maybe, 1, &req, err), KF_EINVAL);
}

Test(jobspec_resolve, cache_key_is_a_resolve_key)
{
    char err[KF_ERRLEN], key[80], key2[80];
    json_t *req = parse("{\"files\":[\"config\"]}"), *spec = NULL;
    cr_assert_eq(kf_jobspec_resolve_from_request(req, DIGEST, 10, 0, &spec, NULL, err), KF_OK, "%s", err);
    cr_assert_eq(kf_jobspec_cache_key(spec, NULL, "r", "b", key, err), KF_OK, "%s", err);
    cr_expect_eq(strncmp(key, "resolve:", 8), 0, "%s", key);
    json_object_set_new(spec, "selector", json_string("a=b"));
    cr_assert_eq(kf_jobspec_cache_key(spec, NULL, "r", "b", key2, err), KF_OK, "%s", err);
    cr_expect_str_neq(key, key2);
    json_decref(spec);
    json_decref(req);
}

Test(jobspec_resolve, worker_options)
{
    char err[KF_ERRLEN];
    json_t *req = parse("{" GIT ",\"files\":[\"config/\",\"x.yaml\"],\"recursive\":true,\"selector\":\"a=b\","
                        "\"strict\":false,\"pin_tags\":true,\"naming\":\"bare\",\"platforms\":[\"linux/arm64\"]}");
    json_t *spec = NULL;
    cr_assert_eq(kf_jobspec_resolve_from_request(req, NULL, 0, 0, &spec, NULL, err), KF_OK, "%s", err);
    struct kf_resolve_opts o;
    struct kf_jobspec_resolve_inputs in;
    struct kf_jobspec_hold hold;
    memset(&o, 0, sizeof o);
    cr_assert_eq(kf_jobspec_to_resolve_opts(spec, &o, &in, &hold, err), KF_OK, "%s", err);
    cr_expect_eq(in.n_files, 2);
    cr_expect_str_eq(in.files[1], "x.yaml");
    cr_expect(in.recursive);
    cr_expect_null(in.yaml);
    cr_expect_eq(o.strict, 0);
    cr_expect_eq(o.pin_tags, 1);
    cr_expect_str_eq(o.selector, "a=b");
    cr_expect_eq(o.build.naming, KF_NAMING_BARE);
    cr_expect_str_eq(o.build.platforms, "linux/arm64");
    cr_expect_eq(o.build.n_importpaths, 0);
    kf_jobspec_opts_free(&hold);
    /* A hand-written row with a hostile path fails cleanly. */
    json_object_set_new(spec, "files", json_pack("[s]", "../../etc"));
    cr_expect_eq(kf_jobspec_to_resolve_opts(spec, &o, &in, &hold, err), KF_EINVAL);
    cr_expect(strstr(err, "spec.files[0]"), "%s", err);
    json_object_set_new(spec, "files", json_array());
    cr_expect_eq(kf_jobspec_to_resolve_opts(spec, &o, &in, &hold, err), KF_EINVAL);
    json_decref(spec);
    json_decref(req);
}
