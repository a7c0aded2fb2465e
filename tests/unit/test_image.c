#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "image.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static json_t *load(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    cr_assert_not_null(j, "bad fixture JSON: %s", e.text);
    return j;
}

static const struct kf_image_opts default_opts = {
    .app_path = "/ko-app/app",
    .created_by = "ko build ko://example.com/hello/cmd/app",
    .author = "kofarm",
    .created_epoch = -1,
    .kodata_epoch = -1,
};

Test(image, config_from_base)
{
    json_t *base = load("{\"architecture\":\"arm64\",\"created\":\"2024-01-02T03:04:05Z\",\"os\":\"linux\","
                        "\"history\":[{\"created_by\":\"base\"}],"
                        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D3 "\"]},"
                        "\"config\":{\"Env\":[\"PATH=/usr/bin:/bin\",\"SSL_CERT_FILE=/etc/ssl/certs/ca.crt\"],"
                        "\"Cmd\":[\"/bin/sh\"],\"User\":\"65532\",\"Labels\":{\"z\":\"1\"}}}");
    const char *labels[] = {"b=2", "a=1"};
    struct kf_image_opts o = default_opts;
    o.labels = labels;
    o.n_labels = 2;
    struct kf_buf out;
    kf_buf_init(&out, 0);
    char err[KF_ERRLEN];
    cr_assert_eq(kf_image_config(base, NULL, &o, D1, D2, &out, err), 0, "%s", err);
    cr_expect_str_eq((char *)out.data,
                     "{\"architecture\":\"arm64\",\"created\":\"2024-01-02T03:04:05Z\",\"os\":\"linux\","
                     "\"history\":[{\"created_by\":\"base\"},"
                     "{\"author\":\"ko\",\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"ko build "
                     "ko://example.com/hello/cmd/app\",\"comment\":\"kodata contents, at $KO_DATA_PATH\"},"
                     "{\"author\":\"ko\",\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"ko build "
                     "ko://example.com/hello/cmd/app\",\"comment\":\"go build output, at /ko-app/app\"}],"
                     "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D3 "\",\"" D1 "\",\"" D2 "\"]},"
                     "\"config\":{\"Env\":[\"PATH=/usr/bin:/bin:/ko-app\",\"SSL_CERT_FILE=/etc/ssl/certs/ca.crt\","
                     "\"KO_DATA_PATH=/var/run/ko\"],\"User\":\"65532\",\"Labels\":{\"a\":\"1\",\"b\":\"2\",\"z\":\"1\"},"
                     "\"Entrypoint\":[\"/ko-app/app\"]},\"author\":\"kofarm\"}");
    kf_buf_free(&out);
    json_decref(base);
}

Test(image, config_scratch_with_epochs_and_user)
{
    struct kf_platform p;
    char err[KF_ERRLEN];
    cr_assert_eq(kf_platform_parse("linux/arm/v7", &p, err), 0);
    struct kf_image_opts o = default_opts;
    o.created_epoch = 1700000000;
    o.kodata_epoch = 86400;
    o.user = "1000:1000";
    struct kf_buf out;
    kf_buf_init(&out, 0);
    cr_assert_eq(kf_image_config(NULL, &p, &o, D1, D2, &out, err), 0, "%s", err);
    json_t *cfg = load((char *)out.data);
    cr_expect_str_eq(json_string_value(json_object_get(cfg, "architecture")), "arm");
    cr_expect_str_eq(json_string_value(json_object_get(cfg, "variant")), "v7");
    cr_expect_str_eq(json_string_value(json_object_get(cfg, "created")), "2023-11-14T22:13:20Z");
    json_t *hist = json_object_get(cfg, "history");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(hist, 0), "created")), "1970-01-02T00:00:00Z");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(hist, 1), "created")), "2023-11-14T22:13:20Z");
    json_t *c = json_object_get(cfg, "config");
    cr_expect_str_eq(json_string_value(json_object_get(c, "User")), "1000:1000");
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(c, "Env"), 0)), "PATH=/ko-app");
    cr_expect_eq(json_array_size(json_object_get(json_object_get(cfg, "rootfs"), "diff_ids")), 2);
    json_decref(cfg);
    kf_buf_free(&out);
}

Test(image, config_rejects_bad_label)
{
    const char *labels[] = {"novalue"};
    struct kf_image_opts o = default_opts;
    o.labels = labels;
    o.n_labels = 1;
    struct kf_platform p;
    kf_platform_host(&p);
    struct kf_buf out;
    kf_buf_init(&out, 0);
    char err[KF_ERRLEN];
    cr_expect_eq(kf_image_config(NULL, &p, &o, D1, D2, &out, err), KF_EINVAL);
    cr_expect(strstr(err, "novalue") != NULL);
    kf_buf_free(&out);
}

Test(image, manifest_docker_base_keeps_layers)
{
    json_t *base = load("{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff."
                        "tar.gzip\",\"size\":10,\"digest\":\"" D3 "\",\"urls\":[\"https://x\"]}]}");
    struct kf_blob_desc cfg = {.digest = D1, .size = 100};
    struct kf_blob_desc layers[2] = {{.digest = D1, .size = 5}, {.digest = D2, .size = 7}};
    const char *ann[] = {"org.opencontainers.image.base.name=r/b:latest", "a=b"};
    struct kf_buf out;
    kf_buf_init(&out, 0);
    char err[KF_ERRLEN];
    cr_assert_eq(kf_image_manifest(base, KF_MT_DOCKER_MANIFEST, &cfg, layers, 2, ann, 2, &out, err), 0);
    cr_expect_str_eq((char *)out.data,
                     "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
                     "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":100,"
                     "\"digest\":\"" D1 "\"},\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff."
                     "tar.gzip\",\"size\":10,\"digest\":\"" D3 "\",\"urls\":[\"https://x\"]},"
                     "{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":5,\"digest\":\"" D1
                     "\"},{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":7,\"digest\":"
                     "\"" D2 "\"}],\"annotations\":{\"a\":\"b\",\"org.opencontainers.image.base.name\":\"r/b:latest\"}}");
    kf_buf_free(&out);
    json_decref(base);
}

Test(image, index_keeps_base_descriptor_fields)
{
    json_t *desc = load("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D3 "\","
                        "\"size\":1,\"urls\":[\"u\"],\"annotations\":{\"k\":\"v\"},"
                        "\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}}");
    struct kf_index_entry e[2];
    memset(e, 0, sizeof e);
    e[0].base_descriptor = desc;
    e[0].media_type = KF_MT_OCI_MANIFEST;
    e[0].manifest = (struct kf_blob_desc){.digest = D1, .size = 11};
    e[1].media_type = KF_MT_OCI_MANIFEST;
    char err[KF_ERRLEN];
    cr_assert_eq(kf_platform_parse("linux/amd64", &e[1].platform, err), 0);
    e[1].manifest = (struct kf_blob_desc){.digest = D2, .size = 22};
    struct kf_buf out;
    kf_buf_init(&out, 0);
    cr_assert_eq(kf_image_index(KF_MT_OCI_INDEX, e, 2, NULL, 0, &out, err), 0);
    cr_expect_str_eq((char *)out.data,
                     "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
                     "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":11,\"digest\":\"" D1
                     "\",\"urls\":[\"u\"],\"annotations\":{\"k\":\"v\"},\"platform\":{\"architecture\":\"arm\","
                     "\"os\":\"linux\",\"variant\":\"v7\"}},{\"mediaType\":\"application/vnd.oci.image.manifest.v1+"
                     "json\",\"size\":22,\"digest\":\"" D2 "\",\"platform\":{\"architecture\":\"amd64\",\"os\":"
                     "\"linux\"}}]}");
    kf_buf_free(&out);
    json_decref(desc);
}

Test(image, media_types)
{
    cr_expect_str_eq(kf_image_layer_type(KF_MT_DOCKER_MANIFEST), KF_MT_DOCKER_LAYER_GZIP);
    cr_expect_str_eq(kf_image_layer_type(KF_MT_OCI_MANIFEST), KF_MT_OCI_LAYER_GZIP);
    cr_expect(kf_image_is_index_type(KF_MT_DOCKER_LIST));
    cr_expect(!kf_image_is_index_type(KF_MT_OCI_MANIFEST));
}
