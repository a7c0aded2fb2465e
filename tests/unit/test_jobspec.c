/* The build request contract: normalised specs, a long table of hostile
 * requests each refused naming its field, upload query strings, cache keys. */
#include <criterion/criterion.h>
#include <string.h>

#include "jobspec.h"

#define GIT "\"source\":{\"git\":{\"url\":\"https://example.com/r.git\",\"ref\":\"main\"}}"
#define SHA "0123456789abcdef0123456789abcdef01234567"

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    cr_assert_not_null(v, "bad test JSON %s: %s", text, je.text);
    return v;
}

Test(jobspec, minimal_request_gets_every_default)
{
    char err[KF_ERRLEN];
    json_t *req = parse("{" GIT ",\"importpaths\":[\"./cmd/app\"]}");
    json_t *spec = NULL;
    struct kf_jobspec_meta meta = {0};
    cr_assert_eq(kf_jobspec_from_request(req, NULL, 0, 0, &spec, &meta, err), KF_OK, "%s", err);
    char *text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
    cr_expect_str_eq(text,
                     "{\"annotations\":{},\"base_image\":null,\"env\":[],\"importpaths\":[\"./cmd/app\"],"
                     "\"labels\":{},\"ldflags\":[],\"naming\":\"md5\",\"no_cache\":false,\"platforms\":[],"
                     "\"repo\":null,\"source\":{\"git\":{\"commit\":null,\"ref\":\"main\","
                     "\"url\":\"https://example.com/r.git\"}},\"tags\":[\"latest\"],\"user\":null}");
    cr_expect_null(meta.project);
    cr_expect_eq(meta.priority, 0);
    cr_expect_eq(meta.max_attempts, 0);
    free(text);
    json_decref(spec);
    json_decref(req);
}

Test(jobspec, full_request_normalised)
{
    char err[KF_ERRLEN];
    json_t *req = parse("{\"source\":{\"git\":{\"url\":\"git@github.com:o/r.git\",\"commit\":\"" SHA "\"}},"
                        "\"importpaths\":[\".\",\"example.com/m/cmd/x\",\"ko://example.com/m/cmd/y\"],"
                        "\"platforms\":\"linux/amd64,linux/arm/v7\",\"repo\":\"127.0.0.1:5000/team\","
                        "\"naming\":\"preserve\",\"tags\":[\"v1.2\",\"latest\"],\"base_image\":\"scratch\","
                        "\"labels\":{\"a\":\"b\"},\"annotations\":{\"org.x\":\"y z\"},"
                        "\"env\":{\"GOAMD64\":\"v3\",\"CGO_ENABLED\":\"0\"},\"ldflags\":[\"-s\",\"-w\",\"-X main.v=1\"],"
                        "\"user\":\"65532:65532\",\"no_cache\":true,\"project\":\"shop\",\"priority\":-5,"
                        "\"max_attempts\":7}");
    json_t *spec = NULL;
    struct kf_jobspec_meta meta = {0};
    cr_assert_eq(kf_jobspec_from_request(req, NULL, 0, 0, &spec, &meta, err), KF_OK, "%s", err);
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(spec, "platforms"), 1)), "linux/arm/v7");
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(spec, "env"), 0)), "GOAMD64=v3");
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(spec, "env"), 1)), "CGO_ENABLED=0");
    cr_expect(json_is_true(json_object_get(spec, "no_cache")));
    cr_expect_null(json_object_get(spec, "project"));
    cr_expect_null(json_object_get(spec, "priority"));
    cr_expect_str_eq(meta.project, "shop");
    cr_expect_eq(meta.priority, -5);
    cr_expect_eq(meta.max_attempts, 7);
    free(meta.project);
    json_decref(spec);
    json_decref(req);
}

Test(jobspec, platforms_all_and_env_array)
{
    char err[KF_ERRLEN];
    json_t *req = parse("{" GIT ",\"importpaths\":[\".\"],\"platforms\":[\"all\"],\"env\":[\"GOARM=7\"]}");
    json_t *spec = NULL;
    cr_assert_eq(kf_jobspec_from_request(req, NULL, 0, 0, &spec, NULL, err), KF_OK, "%s", err);
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(spec, "platforms"), 0)), "all");
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(spec, "env"), 0)), "GOARM=7");
    json_decref(spec);
    json_decref(req);
}

Test(jobspec, upload_source)
{
    char err[KF_ERRLEN], digest[80] = "sha256:";
    memset(digest + 7, 'a', 64);
    digest[71] = 0;
    json_t *req = parse("{\"importpaths\":[\"./cmd/app\"]}");
    json_t *spec = NULL;
    cr_assert_eq(kf_jobspec_from_request(req, digest, 1234, 0, &spec, NULL, err), KF_OK, "%s", err);
    json_t *up = json_object_get(json_object_get(spec, "source"), "upload");
    cr_expect_str_eq(json_string_value(json_object_get(up, "digest")), digest);
    cr_expect_eq(json_integer_value(json_object_get(up, "size")), 1234);
    json_decref(spec);
    json_decref(req);
    req = parse("{" GIT ",\"importpaths\":[\"./cmd/app\"]}");
    cr_expect_eq(kf_jobspec_from_request(req, digest, 1234, 0, &spec, NULL, err), KF_EINVAL);
    cr_expect(strstr(err, "source"), "%s", err);
    json_decref(req);
}

struct bad_case {
    const char *json; /* the request; GIT is prepended unless it starts with '!' */
    const char *field; /* must appear in the error */
};

static const struct bad_case bad_cases[] = {
    {"!{\"importpaths\":[\".\"]}", "source"},
    {"!{\"source\":\"https://x/y\",\"importpaths\":[\".\"]}", "source"},
    {"!{\"source\":{\"svn\":{}},\"importpaths\":[\".\"]}", "source"},
    {"!{\"source\":{\"git\":{}},\"importpaths\":[\".\"]}", "source.git.url"},
    {"!{\"source\":{\"git\":{\"url\":7}},\"importpaths\":[\".\"]}", "source.git.url"},
    {"!{\"source\":{\"git\":{\"url\":\"-oProxyCommand=x\"}},\"importpaths\":[\".\"]}", "source.git.url"},
    {"!{\"source\":{\"git\":{\"url\":\"ext::sh -c x\"}},\"importpaths\":[\".\"]}", "source.git.url"},
    {"!{\"source\":{\"git\":{\"url\":\"file:///tmp/r\"}},\"importpaths\":[\".\"]}", "source.git.url"},
    {"!{\"source\":{\"git\":{\"url\":\"https://x/y\",\"ref\":\"-x\"}},\"importpaths\":[\".\"]}", "source.git.ref"},
    {"!{\"source\":{\"git\":{\"url\":\"https://x/y\",\"ref\":\"a..b\"}},\"importpaths\":[\".\"]}", "source.git.ref"},
    {"!{\"source\":{\"git\":{\"url\":\"https://x/y\",\"ref\":5}},\"importpaths\":[\".\"]}", "source.git.ref"},
    {"!{\"source\":{\"git\":{\"url\":\"https://x/y\",\"commit\":\"abc\"}},\"importpaths\":[\".\"]}",
     "source.git.commit"},
    {"!{\"source\":{\"git\":{\"url\":\"https://x/y\",\"branch\":\"m\"}},\"importpaths\":[\".\"]}", "source.git"},
    {"{\"importpaths\":[\".\"],\"colour\":\"red\"}", "colour"},
    {"{}", "importpaths"},
    {"{\"importpaths\":\"./cmd\"}", "importpaths"},
    {"{\"importpaths\":[]}", "importpaths"},
    {"{\"importpaths\":[1]}", "importpaths[0]"},
    {"{\"importpaths\":[\".\",\"-toolexec=x\"]}", "importpaths[1]"},
    {"{\"importpaths\":[\"../x\"]}", "importpaths[0]"},
    {"{\"importpaths\":[\"./a/../../x\"]}", "importpaths[0]"},
    {"{\"importpaths\":[\"/abs\"]}", "importpaths[0]"},
    {"{\"importpaths\":[\"a b\"]}", "importpaths[0]"},
    {"{\"importpaths\":[\"a\\tb\"]}", "importpaths[0]"},
    {"{\"importpaths\":[\"./...\"]}", "importpaths[0]"},
    {"{\"importpaths\":[\"x@v1\"]}", "importpaths[0]"},
    {"{\"importpaths\":[\"main.go\"]}", "importpaths[0]"},
    {"{\"importpaths\":[\"ko://./x\"]}", "importpaths[0]"},
    {"{\"importpaths\":[\"\"]}", "importpaths[0]"},
    {"{\"importpaths\":[\".\"],\"platforms\":7}", "platforms"},
    {"{\"importpaths\":[\".\"],\"platforms\":[\"linux\"]}", "platforms[0]"},
    {"{\"importpaths\":[\".\"],\"platforms\":[\"linux/amd64\",\"all\"]}", "platforms[1]"},
    {"{\"importpaths\":[\".\"],\"platforms\":[\"linux/a b\"]}", "platforms[0]"},
    {"{\"importpaths\":[\".\"],\"platforms\":\"linux/amd64,,x\"}", "platforms"},
    {"{\"importpaths\":[\".\"],\"repo\":\"Registry/UP\"}", "repo"},
    {"{\"importpaths\":[\".\"],\"repo\":\"reg.io/x:tag\"}", "repo"},
    {"{\"importpaths\":[\".\"],\"repo\":\"-reg\"}", "repo"},
    {"{\"importpaths\":[\".\"],\"repo\":[]}", "repo"},
    {"{\"importpaths\":[\".\"],\"naming\":\"short\"}", "naming"},
    {"{\"importpaths\":[\".\"],\"naming\":1}", "naming"},
    {"{\"importpaths\":[\".\"],\"tags\":\"latest\"}", "tags"},
    {"{\"importpaths\":[\".\"],\"tags\":[]}", "tags"},
    {"{\"importpaths\":[\".\"],\"tags\":[\".bad\"]}", "tags[0]"},
    {"{\"importpaths\":[\".\"],\"tags\":[\"ok\",\"a/b\"]}", "tags[1]"},
    {"{\"importpaths\":[\".\"],\"base_image\":\"UPPER/x\"}", "base_image"},
    {"{\"importpaths\":[\".\"],\"base_image\":true}", "base_image"},
    {"{\"importpaths\":[\".\"],\"labels\":[\"a=b\"]}", "labels"},
    {"{\"importpaths\":[\".\"],\"labels\":{\"a\":1}}", "labels.a"},
    {"{\"importpaths\":[\".\"],\"labels\":{\"a=b\":\"c\"}}", "labels"},
    {"{\"importpaths\":[\".\"],\"annotations\":{\"k\":\"x\\ny\"}}", "annotations.k"},
    {"{\"importpaths\":[\".\"],\"env\":{\"CC\":\"/tmp/evil\"}}", "env"},
    {"{\"importpaths\":[\".\"],\"env\":{\"PATH\":\"/tmp\"}}", "env"},
    {"{\"importpaths\":[\".\"],\"env\":{\"LD_PRELOAD\":\"/x.so\"}}", "env"},
    {"{\"importpaths\":[\".\"],\"env\":{\"GOROOT\":\"/x\"}}", "env"},
    {"{\"importpaths\":[\".\"],\"env\":[\"GOTOOLCHAIN=go1.99\"]}", "env"},
    {"{\"importpaths\":[\".\"],\"env\":{\"GOFLAGS\":\"-toolexec=/bin/sh\"}}", "env.GOFLAGS"},
    {"{\"importpaths\":[\".\"],\"env\":{\"GOFLAGS\":\"-mod=mod -exec=x\"}}", "env.GOFLAGS"},
    {"{\"importpaths\":[\".\"],\"env\":{\"GOFLAGS\":\"-overlay=/etc/x\"}}", "env.GOFLAGS"},
    {"{\"importpaths\":[\".\"],\"env\":{\"GOFLAGS\":\"-ldflags=-extld=sh\"}}", "env.GOFLAGS"},
    {"{\"importpaths\":[\".\"],\"env\":{\"CGO_ENABLED\":\"2\"}}", "env.CGO_ENABLED"},
    {"{\"importpaths\":[\".\"],\"env\":{\"GOAMD64\":1}}", "env"},
    {"{\"importpaths\":[\".\"],\"env\":[\"GOAMD64\"]}", "env[0]"},
    {"{\"importpaths\":[\".\"],\"env\":[\"GOAMD64=v2\",\"GOAMD64=v3\"]}", "env"},
    {"{\"importpaths\":[\".\"],\"env\":\"GOAMD64=v3\"}", "env"},
    {"{\"importpaths\":[\".\"],\"ldflags\":\"-s\"}", "ldflags"},
    {"{\"importpaths\":[\".\"],\"ldflags\":[\"-extld=/bin/sh\"]}", "ldflags[0]"},
    {"{\"importpaths\":[\".\"],\"ldflags\":[\"-s\",\"-w -extldflags '-x'\"]}", "ldflags[1]"},
    {"{\"importpaths\":[\".\"],\"ldflags\":[\"-linkmode=external\"]}", "ldflags[0]"},
    {"{\"importpaths\":[\".\"],\"ldflags\":[\"-linkmode\",\"external\"]}", "ldflags[0]"},
    {"{\"importpaths\":[\".\"],\"ldflags\":[3]}", "ldflags[0]"},
    {"{\"importpaths\":[\".\"],\"user\":\"-root\"}", "user"},
    {"{\"importpaths\":[\".\"],\"user\":\"a b\"}", "user"},
    {"{\"importpaths\":[\".\"],\"user\":0}", "user"},
    {"{\"importpaths\":[\".\"],\"no_cache\":\"yes\"}", "no_cache"},
    {"{\"importpaths\":[\".\"],\"project\":7}", "project"},
    {"{\"importpaths\":[\".\"],\"project\":\"a b\"}", "project"},
    {"{\"importpaths\":[\".\"],\"priority\":1001}", "priority"},
    {"{\"importpaths\":[\".\"],\"priority\":\"1\"}", "priority"},
    {"{\"importpaths\":[\".\"],\"priority\":1.5}", "priority"},
    {"{\"importpaths\":[\".\"],\"max_attempts\":0}", "max_attempts"},
    {"{\"importpaths\":[\".\"],\"max_attempts\":101}", "max_attempts"},
    {"![1,2]", "request"},
};

Test(jobspec, bad_requests_name_their_field)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const struct bad_case *c = &bad_cases[i];
        char text[2048], err[KF_ERRLEN] = "";
        if (c->json[0] == '!')
            snprintf(text, sizeof text, "%s", c->json + 1);
        else
            snprintf(text, sizeof text, "{" GIT ",%s", c->json + 1);
        if (!strcmp(c->json, "{}"))
            snprintf(text, sizeof text, "{" GIT "}");
        json_t *req = parse(text);
        json_t *spec = (json_t *)1;
        struct kf_jobspec_meta meta = {.project = (char *)1};
        int rc = kf_jobspec_from_request(req, NULL, 0, 0, &spec, &meta, err);
        cr_expect_eq(rc, KF_EINVAL, "case %zu %s: accepted", i, text);
        cr_expect_null(spec, "case %zu", i);
        cr_expect(strstr(err, c->field) != NULL, "case %zu %s: error does not name %s: %s", i, text, c->field, err);
        json_decref(req);
    }
}

Test(jobspec, file_urls_only_when_allowed)
{
    char err[KF_ERRLEN];
    json_t *req = parse("{\"source\":{\"git\":{\"url\":\"file:///srv/r.git\"}},\"importpaths\":[\".\"]}");
    json_t *spec = NULL;
    cr_expect_eq(kf_jobspec_from_request(req, NULL, 0, 0, &spec, NULL, err), KF_EINVAL);
    cr_expect_eq(kf_jobspec_from_request(req, NULL, 0, 1, &spec, NULL, err), KF_OK, "%s", err);
    json_decref(spec);
    json_decref(req);
}

Test(jobspec, query_to_request)
{
    const char *names[] = {"importpaths", "platform", "platform", "tag", "label", "env", "ldflags", "no_cache",
                           "priority", "repo"};
    const char *values[] = {"./cmd/app,./cmd/server", "linux/amd64", "linux/arm64", "a,b", "k=v=w",
                            "GOAMD64=v2", "-s -w", "true", "-3", "reg.io/x"};
    char err[KF_ERRLEN];
    json_t *req = NULL;
    cr_assert_eq(kf_jobspec_request_from_query(names, values, 10, &req, err), KF_OK, "%s", err);
    char *text = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
    cr_expect_str_eq(text, "{\"env\":[\"GOAMD64=v2\"],\"importpaths\":[\"./cmd/app\",\"./cmd/server\"],"
                           "\"labels\":{\"k\":\"v=w\"},\"ldflags\":[\"-s -w\"],\"no_cache\":true,"
                           "\"platforms\":[\"linux/amd64\",\"linux/arm64\"],\"priority\":-3,\"repo\":\"reg.io/x\","
                           "\"tags\":[\"a\",\"b\"]}");
    free(text);
    char digest[80] = "sha256:";
    memset(digest + 7, 'b', 64);
    digest[71] = 0;
    json_t *spec = NULL;
    cr_expect_eq(kf_jobspec_from_request(req, digest, 10, 0, &spec, NULL, err), KF_OK, "%s", err);
    json_decref(spec);
    json_decref(req);
}

Test(jobspec, bad_queries)
{
    static const struct {
        const char *name, *value, *field;
    } cases[] = {
        {"colour", "x", "colour"},     {"no_cache", "maybe", "no_cache"}, {"priority", "1x", "priority"},
        {"label", "novalue", "label"}, {"label", "=v", "label"},          {"repo", "a\nb", "repo"},
        {"importpaths", "\xff", "importpaths"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[KF_ERRLEN] = "";
        json_t *req = (json_t *)1;
        cr_expect_eq(kf_jobspec_request_from_query(&cases[i].name, &cases[i].value, 1, &req, err), KF_EINVAL,
                     "case %zu", i);
        cr_expect_null(req);
        cr_expect(strstr(err, cases[i].field), "case %zu: %s", i, err);
    }
    const char *names[] = {"repo", "repo"}, *values[] = {"a.io/x", "b.io/y"};
    char err[KF_ERRLEN];
    json_t *req;
    cr_expect_eq(kf_jobspec_request_from_query(names, values, 2, &req, err), KF_EINVAL);
}

static void key_of(const char *request, const char *commit, const char *repo, char out[80])
{
    char err[KF_ERRLEN];
    json_t *req = parse(request);
    json_t *spec = NULL;
    cr_assert_eq(kf_jobspec_from_request(req, NULL, 0, 0, &spec, NULL, err), KF_OK, "%s", err);
    cr_assert_eq(kf_jobspec_cache_key(spec, commit, repo, "scratch", out, err), KF_OK, "%s", err);
    json_decref(spec);
    json_decref(req);
}

Test(jobspec, cache_key)
{
    char a[80], b[80], c[80], d[80], e[80], f[80];
    key_of("{" GIT ",\"importpaths\":[\".\"]}", SHA, "reg.io/x", a);
    key_of("{\"source\":{\"git\":{\"url\":\"https://example.com/r.git\",\"ref\":\"v1\"}},\"importpaths\":[\".\"],"
           "\"no_cache\":true}",
           SHA, "reg.io/x", b);
    key_of("{" GIT ",\"importpaths\":[\".\"],\"repo\":\"reg.io/x\"}", SHA, "reg.io/other", c);
    key_of("{" GIT ",\"importpaths\":[\".\"]}", "1123456789abcdef0123456789abcdef01234567", "reg.io/x", d);
    key_of("{" GIT ",\"importpaths\":[\".\"],\"tags\":[\"v2\"]}", SHA, "reg.io/x", e);
    key_of("{" GIT ",\"importpaths\":[\".\"]}", SHA, "reg.io/y", f);
    cr_expect_eq(strncmp(a, "build:", 6), 0);
    cr_expect_eq(strlen(a), 70);
    cr_expect_str_eq(a, b, "ref and no_cache must not change the key");
    cr_expect_str_eq(a, c, "a null repo takes the default");
    cr_expect_str_neq(a, d);
    cr_expect_str_neq(a, e);
    cr_expect_str_neq(a, f);
    char err[KF_ERRLEN];
    json_t *req = parse("{" GIT ",\"importpaths\":[\".\"]}");
    json_t *spec = NULL;
    cr_assert_eq(kf_jobspec_from_request(req, NULL, 0, 0, &spec, NULL, err), KF_OK, "%s", err);
    cr_expect_eq(kf_jobspec_cache_key(spec, NULL, "r", NULL, a, err), KF_EINVAL, "git needs a commit");
    json_decref(spec);
    json_decref(req);
}
