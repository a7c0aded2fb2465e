/* The registry client against real CNCF distribution registries (one open,
 * one behind htpasswd Basic auth) started on free loopback ports; what we
 * push is read back independently with skopeo. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "digest.h"
#include "dockercfg.h"
#include "ref.h"
#include "registry.h"
#include "spawn.h"
#include "sys_spawn.h"

#define USER "kofarm"
#define PASS "s3cret-pw"

#if defined(__aarch64__)
#define HOST_ARCH "arm64"
#else
#define HOST_ARCH "amd64"
#endif

extern char **environ;

struct registry_proc {
    char dir[64];
    int port;
    pid_t pid;
    char host[32]; /* "127.0.0.1:PORT" */
};

static struct registry_proc open_reg = {.pid = -1}, auth_reg = {.pid = -1};

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/* Runs argv; asserts exit 0 unless allow_fail; returns stdout (caller frees). */
static char *run(const char *const *argv, struct kf_buf *out, int allow_fail, int *status_out)
{
    struct kf_buf errout;
    kf_buf_init(&errout, 1 << 16);
    kf_buf_init(out, 64 << 20);
    struct kf_spawn s = {.argv = argv, .out = out, .errout = &errout, .timeout_ms = 120000};
    char err[KF_ERRLEN] = "";
    int status = -1;
    cr_assert_eq(kf_spawn_run(&s, &status, err), 0, "%s: %s", argv[0], err);
    if (!allow_fail)
        cr_assert_eq(status, 0, "%s %s failed: %s", argv[0], argv[1], errout.data ? (char *)errout.data : "");
    if (status_out)
        *status_out = status;
    kf_buf_free(&errout);
    return (char *)out->data;
}

static void start_registry(struct registry_proc *r, int with_auth)
{
    char path[128], config[1024], auth[256] = "";
    snprintf(r->dir, sizeof r->dir, "/tmp/kf-itreg-XXXXXX");
    cr_assert_not_null(mkdtemp(r->dir));
    r->port = free_port();
    snprintf(r->host, sizeof r->host, "127.0.0.1:%d", r->port);
    if (with_auth) {
        struct kf_buf out;
        const char *argv[] = {"htpasswd", "-Bbn", USER, PASS, NULL};
        run(argv, &out, 0, NULL);
        snprintf(path, sizeof path, "%s/htpasswd", r->dir);
        write_text(path, (const char *)out.data);
        kf_buf_free(&out);
        snprintf(auth, sizeof auth, "auth: {htpasswd: {realm: kofarm-test, path: %s}}\n", path);
    }
    snprintf(config, sizeof config,
             "version: 0.1\nlog: {level: error}\n"
             "storage: {filesystem: {rootdirectory: %s/data}, delete: {enabled: true}}\n"
             "http: {addr: \"127.0.0.1:%d\"}\n%s",
             r->dir, r->port, auth);
    snprintf(path, sizeof path, "%s/config.yml", r->dir);
    write_text(path, config);

    char logpath[256];
    snprintf(logpath, sizeof logpath, "%s/registry.log", r->dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *const argv[] = {"docker-registry", "serve", path, NULL};
    int e = posix_spawnp(&r->pid, "docker-registry", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(e, 0, "docker-registry: %s", strerror(e));
    for (int i = 0; i < 500 && !port_open(r->port); i++) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
        int status;
        cr_assert_eq(waitpid(r->pid, &status, WNOHANG), 0, "docker-registry exited; see %s", logpath);
    }
    cr_assert(port_open(r->port), "docker-registry did not listen on %d", r->port);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void stop_registry(struct registry_proc *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        int status;
        for (int i = 0; i < 250 && waitpid(r->pid, &status, WNOHANG) == 0; i++) {
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
            if (i == 249) {
                kill(r->pid, SIGKILL);
                waitpid(r->pid, &status, 0);
            }
        }
        r->pid = -1;
    }
    if (r->dir[0])
        nftw(r->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
    start_registry(&open_reg, 0);
    start_registry(&auth_reg, 1);
}

static void teardown(void)
{
    stop_registry(&open_reg);
    stop_registry(&auth_reg);
}

TestSuite(registry, .init = setup, .fini = teardown, .timeout = 120);

static struct kf_registry *new_client(const char *insecure, const char *docker_config)
{
    struct kf_registry *reg = NULL;
    char err[KF_ERRLEN] = "";
    struct kf_reg_opts o = {.insecure_hosts = insecure, .docker_config = docker_config, .max_retries = -1};
    cr_assert_eq(kf_reg_new(&o, &reg, err), 0, "%s", err);
    return reg;
}

static struct kf_ref parse_ref(const char *fmt, const char *host)
{
    char s[512];
    struct kf_ref r;
    char err[KF_ERRLEN] = "";
    snprintf(s, sizeof s, fmt, host);
    cr_assert_eq(kf_ref_parse(s, &r, err), 0, "%s: %s", s, err);
    return r;
}

/* gzip of n pseudo-random bytes (seeded) */
static void make_layer(unsigned seed, size_t n, struct kf_buf *out)
{
    unsigned char *raw = malloc(n);
    cr_assert_not_null(raw);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        raw[i] = (unsigned char)(seed >> 16);
    }
    kf_buf_init(out, 0);
    cr_assert_eq(kf_buf_reserve(out, n + n / 100 + 1024), 0);
    z_stream z = {0};
    cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = raw;
    z.avail_in = (uInt)n;
    z.next_out = out->data;
    z.avail_out = (uInt)(out->cap - 1);
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    out->len = z.total_out;
    deflateEnd(&z);
    free(raw);
}

/* An image: layer + config + manifest, and an index over the manifest. */
struct image {
    struct kf_buf layer;
    char layer_digest[KF_DIGEST_LEN];
    char config[512];
    char config_digest[KF_DIGEST_LEN];
    char manifest[2048];
    char manifest_digest[KF_DIGEST_LEN];
    char index[2048];
    char index_digest[KF_DIGEST_LEN];
};

static void make_image(struct image *im, unsigned seed)
{
    make_layer(seed, 300 * 1024 + seed % 1000, &im->layer);
    kf_sha256_digest(im->layer.data, im->layer.len, im->layer_digest);
    snprintf(im->config, sizeof im->config,
             "{\"architecture\":\"" HOST_ARCH "\",\"os\":\"linux\",\"config\":{\"Env\":[\"SEED=%u\"]},"
             "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%064d\"]}}",
             seed, 0);
    kf_sha256_digest(im->config, strlen(im->config), im->config_digest);
    snprintf(im->manifest, sizeof im->manifest,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
             "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":%zu,\"digest\":\"%s\"},"
             "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"size\":%zu,"
             "\"digest\":\"%s\"}]}",
             strlen(im->config), im->config_digest, im->layer.len, im->layer_digest);
    kf_sha256_digest(im->manifest, strlen(im->manifest), im->manifest_digest);
    snprintf(im->index, sizeof im->index,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
             "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":%zu,"
             "\"digest\":\"%s\",\"platform\":{\"architecture\":\"" HOST_ARCH "\",\"os\":\"linux\"}}]}",
             strlen(im->manifest), im->manifest_digest);
    kf_sha256_digest(im->index, strlen(im->index), im->index_digest);
}

/* Blobs, the manifest by digest, then the index under tag. */
static int push_image(struct kf_registry *reg, const struct kf_ref *repo, const struct image *im, const char *tag,
                      char *err)
{
    int rc;
    if ((rc = kf_reg_push_blob(reg, repo, im->layer_digest, im->layer.data, im->layer.len, NULL, err)) ||
        (rc = kf_reg_push_blob(reg, repo, im->config_digest, im->config, strlen(im->config), NULL, err)) ||
        (rc = kf_reg_put_manifest(reg, repo, im->manifest_digest, "application/vnd.oci.image.manifest.v1+json",
                                  im->manifest, strlen(im->manifest), err)))
        return rc;
    return kf_reg_put_manifest(reg, repo, tag, "application/vnd.oci.image.index.v1+json", im->index,
                               strlen(im->index), err);
}

/* skopeo inspect --raw [--config] of host/path; caller frees the buffer. */
static void skopeo_raw(const char *host, const char *path, int config, const char *creds, struct kf_buf *out)
{
    char url[512];
    snprintf(url, sizeof url, "docker://%s/%s", host, path);
    const char *argv[10] = {"skopeo", "inspect", "--raw", "--tls-verify=false"};
    int n = 4;
    if (config)
        argv[n++] = "--config";
    if (creds) {
        argv[n++] = "--creds";
        argv[n++] = creds;
    }
    argv[n++] = url;
    argv[n] = NULL;
    run(argv, out, 0, NULL);
}

static void expect_same(const struct kf_buf *got, const void *want, size_t len, const char *what)
{
    char g[KF_DIGEST_LEN], w[KF_DIGEST_LEN];
    kf_sha256_digest(got->data, got->len, g);
    kf_sha256_digest(want, len, w);
    cr_expect_eq(got->len, len, "%s: %zu bytes, want %zu", what, got->len, len);
    cr_expect_str_eq(g, w, "%s differs", what);
}

Test(registry, push_read_back_and_skopeo_agrees)
{
    struct kf_registry *reg = new_client("127.0.0.1", NULL);
    struct kf_ref repo = parse_ref("%s/it/app", open_reg.host);
    struct image im;
    char err[KF_ERRLEN] = "", mt[128], digest[KF_DIGEST_LEN];
    make_image(&im, 7);
    cr_assert_eq(kf_reg_ping(reg, &repo, err), 0, "%s", err);

    int exists = 1;
    cr_assert_eq(kf_reg_blob_exists(reg, &repo, im.layer_digest, &exists, err), 0, "%s", err);
    cr_expect_eq(exists, 0);
    cr_assert_eq(kf_reg_manifest_digest(reg, &repo, "v1", digest, err), 0, "%s", err);
    cr_expect_str_eq(digest, "", "no tag yet");

    /* A session opened before the blob is known, then the blob into it. */
    struct kf_reg_upload *up = NULL;
    cr_assert_eq(kf_reg_upload_start(reg, &repo, &up, err), 0, "%s", err);
    cr_assert_eq(kf_reg_upload_blob(reg, up, im.layer_digest, im.layer.data, im.layer.len, err), 0, "%s", err);
    kf_reg_upload_free(up);
    cr_assert_eq(kf_reg_blob_exists(reg, &repo, im.layer_digest, &exists, err), 0, "%s", err);
    cr_expect_eq(exists, 1, "uploaded through the early session");
    /* The registry checks the digest: bytes that do not match are refused. */
    cr_assert_eq(kf_reg_upload_start(reg, &repo, &up, err), 0, "%s", err);
    cr_expect_neq(kf_reg_upload_blob(reg, up, im.config_digest, "not the config", 14, err), 0);
    kf_reg_upload_free(up);
    cr_assert_eq(kf_reg_blob_exists(reg, &repo, im.config_digest, &exists, err), 0, "%s", err);
    cr_expect_eq(exists, 0, "nothing stored under a wrong digest");
    exists = 0;
    cr_assert_eq(push_image(reg, &repo, &im, "v1", err), 0, "%s", err);
    cr_assert_eq(kf_reg_blob_exists(reg, &repo, im.layer_digest, &exists, err), 0, "%s", err);
    cr_expect_eq(exists, 1);
    cr_assert_eq(kf_reg_manifest_digest(reg, &repo, "v1", digest, err), 0, "%s", err);
    cr_expect_str_eq(digest, im.index_digest, "HEAD by tag names the index");
    cr_assert_eq(kf_reg_manifest_digest(reg, &repo, im.manifest_digest, digest, err), 0, "%s", err);
    cr_expect_str_eq(digest, im.manifest_digest, "HEAD by digest");
    /* pushing again is a no-op, not an error */
    cr_assert_eq(push_image(reg, &repo, &im, "v1", err), 0, "%s", err);

    struct kf_buf body;
    kf_buf_init(&body, 0);
    cr_assert_eq(kf_reg_get_manifest(reg, &repo, "v1", &body, mt, digest, err), 0, "%s", err);
    expect_same(&body, im.index, strlen(im.index), "index by tag");
    cr_expect_str_eq(mt, "application/vnd.oci.image.index.v1+json");
    cr_expect_str_eq(digest, im.index_digest);
    cr_assert_eq(kf_reg_get_manifest(reg, &repo, im.manifest_digest, &body, mt, digest, err), 0, "%s", err);
    expect_same(&body, im.manifest, strlen(im.manifest), "manifest by digest");
    cr_expect_str_eq(mt, "application/vnd.oci.image.manifest.v1+json");
    cr_assert_eq(kf_reg_get_blob(reg, &repo, im.layer_digest, &body, err), 0, "%s", err);
    expect_same(&body, im.layer.data, im.layer.len, "layer");
    kf_buf_free(&body);

    /* skopeo's view */
    struct kf_buf raw;
    skopeo_raw(open_reg.host, "it/app:v1", 0, NULL, &raw);
    expect_same(&raw, im.index, strlen(im.index), "skopeo index");
    kf_buf_free(&raw);
    char path[256];
    snprintf(path, sizeof path, "it/app@%s", im.manifest_digest);
    skopeo_raw(open_reg.host, path, 0, NULL, &raw);
    expect_same(&raw, im.manifest, strlen(im.manifest), "skopeo manifest");
    kf_buf_free(&raw);
    skopeo_raw(open_reg.host, "it/app:v1", 1, NULL, &raw);
    expect_same(&raw, im.config, strlen(im.config), "skopeo config");
    kf_buf_free(&raw);

    /* skopeo copies the whole image out: the layer blob must be our bytes */
    char dest[256], url[256], blob[300];
    snprintf(dest, sizeof dest, "oci:%s/out:x", open_reg.dir);
    snprintf(url, sizeof url, "docker://%s/it/app:v1", open_reg.host);
    const char *argv[] = {"skopeo", "copy", "--all", "--src-tls-verify=false", url, dest, NULL};
    struct kf_buf out;
    run(argv, &out, 0, NULL);
    kf_buf_free(&out);
    snprintf(blob, sizeof blob, "%.64s/out/blobs/sha256/%.64s", open_reg.dir, im.layer_digest + 7);
    kf_buf_init(&raw, 0);
    cr_assert_eq(kf_buf_read_file(&raw, blob, err), 0, "%s", err);
    expect_same(&raw, im.layer.data, im.layer.len, "layer via skopeo copy");
    kf_buf_free(&raw);

    kf_buf_free(&im.layer);
    kf_ref_free(&repo);
    kf_reg_free(reg);
}

Test(registry, docker_media_types_and_tag_overwrite)
{
    struct kf_registry *reg = new_client("127.0.0.1", NULL);
    struct kf_ref repo = parse_ref("%s/it/docker", open_reg.host);
    struct image a, b;
    char err[KF_ERRLEN] = "", mt[128], digest[KF_DIGEST_LEN];
    make_image(&a, 11);
    make_image(&b, 12);
    cr_assert_eq(push_image(reg, &repo, &a, "t", err), 0, "%s", err);
    cr_assert_eq(push_image(reg, &repo, &b, "t", err), 0, "%s", err);
    struct kf_buf body;
    kf_buf_init(&body, 0);
    cr_assert_eq(kf_reg_get_manifest(reg, &repo, "t", &body, mt, digest, err), 0, "%s", err);
    cr_expect_str_eq(digest, b.index_digest, "the tag moved to the second push");

    /* a Docker v2 manifest comes back with its own media type */
    char dm[2048], dm_digest[KF_DIGEST_LEN];
    snprintf(dm, sizeof dm,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
             "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":%zu,"
             "\"digest\":\"%s\"},\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\","
             "\"size\":%zu,\"digest\":\"%s\"}]}",
             strlen(a.config), a.config_digest, a.layer.len, a.layer_digest);
    kf_sha256_digest(dm, strlen(dm), dm_digest);
    cr_assert_eq(kf_reg_put_manifest(reg, &repo, "docker", "application/vnd.docker.distribution.manifest.v2+json",
                                     dm, strlen(dm), err),
                 0, "%s", err);
    cr_assert_eq(kf_reg_get_manifest(reg, &repo, "docker", &body, mt, digest, err), 0, "%s", err);
    cr_expect_str_eq(mt, "application/vnd.docker.distribution.manifest.v2+json");
    cr_expect_str_eq(digest, dm_digest);
    struct kf_buf raw;
    skopeo_raw(open_reg.host, "it/docker:docker", 0, NULL, &raw);
    expect_same(&raw, dm, strlen(dm), "skopeo docker manifest");
    kf_buf_free(&raw);

    /* the 4 MiB cap on manifests */
    struct kf_buf small;
    kf_buf_init(&small, 100);
    cr_expect_eq(kf_reg_get_manifest(reg, &repo, "docker", &small, NULL, NULL, err), KF_ETOOBIG);
    kf_buf_free(&small);

    kf_buf_free(&body);
    kf_buf_free(&a.layer);
    kf_buf_free(&b.layer);
    kf_ref_free(&repo);
    kf_reg_free(reg);
}

Test(registry, errors_name_what_and_where)
{
    struct kf_registry *reg = new_client("127.0.0.1", NULL);
    struct kf_ref repo = parse_ref("%s/it/errors", open_reg.host);
    struct image im;
    char err[KF_ERRLEN] = "", want[256];
    make_image(&im, 21);
    struct kf_buf body;
    kf_buf_init(&body, 0);

    cr_expect_eq(kf_reg_get_manifest(reg, &repo, "missing", &body, NULL, NULL, err), KF_ENOTFOUND);
    snprintf(want, sizeof want, "manifest missing not found in %s/it/errors", open_reg.host);
    cr_expect(strstr(err, want), "%s", err);
    cr_expect(strstr(err, "MANIFEST_UNKNOWN") || strstr(err, "NAME_UNKNOWN"), "registry code missing: %s", err);
    cr_expect_eq(kf_reg_get_blob(reg, &repo, im.layer_digest, &body, err), KF_ENOTFOUND);
    cr_expect(strstr(err, "not found in"), "%s", err);

    /* an index whose child is unknown: the registry's code reaches the message */
    cr_expect_eq(kf_reg_put_manifest(reg, &repo, "broken", "application/vnd.oci.image.index.v1+json", im.index,
                                     strlen(im.index), err),
                 KF_EREGISTRY);
    cr_expect(strstr(err, "MANIFEST_BLOB_UNKNOWN") || strstr(err, "MANIFEST_UNKNOWN"), "%s", err);

    /* bytes that do not match their digest */
    cr_expect_eq(kf_reg_put_manifest(reg, &repo, im.index_digest, "application/vnd.oci.image.index.v1+json",
                                     im.manifest, strlen(im.manifest), err),
                 KF_EINVAL);
    char *wrong = "not the layer";
    cr_expect_eq(kf_reg_push_blob(reg, &repo, im.layer_digest, wrong, strlen(wrong), NULL, err), KF_EREGISTRY);
    cr_expect(strstr(err, "DIGEST_INVALID"), "%s", err);

    /* bad arguments never reach the wire */
    cr_expect_eq(kf_reg_get_manifest(reg, &repo, "bad tag", &body, NULL, NULL, err), KF_EINVAL);
    cr_expect_eq(kf_reg_get_blob(reg, &repo, "sha256:abc", &body, err), KF_EINVAL);
    struct kf_ref evil = {.registry = open_reg.host, .repository = "a/../../v2/x?y"};
    cr_expect_eq(kf_reg_blob_exists(reg, &evil, im.layer_digest, &(int){0}, err), KF_EINVAL);

    kf_buf_free(&body);
    kf_buf_free(&im.layer);
    kf_ref_free(&repo);
    kf_reg_free(reg);
}

Test(registry, cross_repository_mount)
{
    struct kf_registry *reg = new_client(open_reg.host, NULL);
    struct kf_ref src = parse_ref("%s/it/base", open_reg.host);
    struct kf_ref dst = parse_ref("%s/it/derived", open_reg.host);
    struct kf_ref dst2 = parse_ref("%s/it/derived2", open_reg.host);
    struct image im;
    char err[KF_ERRLEN] = "";
    int exists = 0, mounted = 0;
    make_image(&im, 31);
    cr_assert_eq(push_image(reg, &src, &im, "v1", err), 0, "%s", err);

    cr_assert_eq(kf_reg_push_blob(reg, &dst, im.layer_digest, im.layer.data, im.layer.len, &src, err), 0, "%s", err);
    cr_assert_eq(kf_reg_blob_exists(reg, &dst, im.layer_digest, &exists, err), 0, "%s", err);
    cr_expect_eq(exists, 1);
    cr_assert_eq(kf_reg_mount_blob(reg, &dst2, im.config_digest, &src, &mounted, err), 0, "%s", err);
    cr_expect_eq(mounted, 1);
    cr_assert_eq(kf_reg_blob_exists(reg, &dst2, im.config_digest, &exists, err), 0, "%s", err);
    cr_expect_eq(exists, 1);

    /* a blob the source lacks: the registry opens an upload instead */
    char absent[KF_DIGEST_LEN];
    kf_sha256_digest("absent", 6, absent);
    cr_assert_eq(kf_reg_mount_blob(reg, &dst2, absent, &src, &mounted, err), 0, "%s", err);
    cr_expect_eq(mounted, 0);
    /* ... and push_blob continues that session with the data */
    cr_assert_eq(kf_reg_push_blob(reg, &dst2, absent, "absent", 6, &src, err), 0, "%s", err);
    struct kf_buf body;
    kf_buf_init(&body, 0);
    cr_assert_eq(kf_reg_get_blob(reg, &dst2, absent, &body, err), 0, "%s", err);
    expect_same(&body, "absent", 6, "uploaded after a refused mount");
    kf_buf_free(&body);

    kf_buf_free(&im.layer);
    kf_ref_free(&src);
    kf_ref_free(&dst);
    kf_ref_free(&dst2);
    kf_reg_free(reg);
}

static char *write_docker_config(const char *host, const char *password)
{
    char *path;
    cr_assert_geq(asprintf(&path, "%s/docker/config.json", auth_reg.dir), 0);
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_dockercfg_store(path, host, USER, password, err), 0, "%s", err);
    return path;
}

Test(registry, basic_auth_from_docker_config)
{
    char *cfg = write_docker_config(auth_reg.host, PASS);
    struct kf_registry *reg = new_client("127.0.0.1", cfg);
    struct kf_ref repo = parse_ref("%s/it/private", auth_reg.host);
    struct image im;
    char err[KF_ERRLEN] = "";
    make_image(&im, 41);
    cr_assert_eq(push_image(reg, &repo, &im, "v1", err), 0, "%s", err);
    struct kf_buf body;
    kf_buf_init(&body, 0);
    cr_assert_eq(kf_reg_get_blob(reg, &repo, im.config_digest, &body, err), 0, "%s", err);
    expect_same(&body, im.config, strlen(im.config), "config behind auth");
    char digest[KF_DIGEST_LEN];
    cr_assert_eq(kf_reg_manifest_digest(reg, &repo, "v1", digest, err), 0, "%s", err);
    cr_expect_str_eq(digest, im.index_digest, "HEAD of a manifest behind auth");
    kf_buf_free(&body);
    struct kf_buf raw;
    skopeo_raw(auth_reg.host, "it/private:v1", 0, USER ":" PASS, &raw);
    expect_same(&raw, im.index, strlen(im.index), "skopeo index behind auth");
    kf_buf_free(&raw);

    /* skopeo without credentials is refused: the registry really checks */
    char url[256];
    snprintf(url, sizeof url, "docker://%s/it/private:v1", auth_reg.host);
    const char *argv[] = {"skopeo", "inspect", "--raw", "--tls-verify=false", "--no-creds", url, NULL};
    int status = 0;
    struct kf_buf out;
    run(argv, &out, 1, &status);
    cr_expect_neq(status, 0, "anonymous skopeo read a private repository");
    kf_buf_free(&out);

    kf_buf_free(&im.layer);
    kf_ref_free(&repo);
    kf_reg_free(reg);
    free(cfg);
}

Test(registry, wrong_or_missing_credentials)
{
    char *cfg = write_docker_config(auth_reg.host, "wrong-password");
    struct kf_registry *reg = new_client("127.0.0.1", cfg);
    struct kf_ref repo = parse_ref("%s/it/private", auth_reg.host);
    struct image im;
    char err[KF_ERRLEN] = "", want[256];
    make_image(&im, 51);
    snprintf(want, sizeof want, "authentication failed for %s/it/private", auth_reg.host);
    cr_expect_eq(kf_reg_push_blob(reg, &repo, im.config_digest, im.config, strlen(im.config), NULL, err), KF_EAUTH);
    cr_expect(strstr(err, want), "\"%s\" lacks \"%s\"", err, want);
    struct kf_buf body;
    kf_buf_init(&body, 0);
    cr_expect_eq(kf_reg_get_manifest(reg, &repo, "v1", &body, NULL, NULL, err), KF_EAUTH);
    cr_expect(strstr(err, want), "\"%s\" lacks \"%s\"", err, want);
    kf_reg_free(reg);

    /* no credentials at all */
    char *none;
    cr_assert_geq(asprintf(&none, "%s/none.json", auth_reg.dir), 0);
    reg = new_client("127.0.0.1", none);
    cr_expect_eq(kf_reg_get_manifest(reg, &repo, "v1", &body, NULL, NULL, err), KF_EAUTH);
    snprintf(want, sizeof want, "authentication required for %s/it/private", auth_reg.host);
    cr_expect(strstr(err, want), "\"%s\" lacks \"%s\"", err, want);

    /* check_login: wrong then right; right ones are used from then on */
    cr_expect_eq(kf_reg_check_login(reg, auth_reg.host, USER, "nope", err), KF_EAUTH);
    cr_expect(strstr(err, auth_reg.host), "%s", err);
    cr_assert_eq(kf_reg_check_login(reg, auth_reg.host, USER, PASS, err), 0, "%s", err);
    cr_expect_eq(kf_reg_push_blob(reg, &repo, im.config_digest, im.config, strlen(im.config), NULL, err), 0, "%s",
                 err);
    /* a registry without auth accepts any login */
    cr_expect_eq(kf_reg_check_login(reg, open_reg.host, "x", "y", err), 0, "%s", err);
    cr_expect_eq(kf_reg_check_login(reg, "not a host", "x", "y", err), KF_EINVAL);
    kf_buf_free(&body);
    kf_buf_free(&im.layer);
    kf_ref_free(&repo);
    kf_reg_free(reg);
    free(none);
    free(cfg);
}

Test(registry, unreachable_insecure_and_cancel)
{
    char err[KF_ERRLEN] = "", want[128];
    /* 127.0.0.1 is not insecure unless listed: https to a plain http server fails */
    struct kf_registry *reg = new_client(NULL, NULL);
    struct kf_ref repo = parse_ref("%s/it/app", open_reg.host);
    cr_expect_eq(kf_reg_ping(reg, &repo, err), KF_ENET);
    snprintf(want, sizeof want, "https://%s/v2/", open_reg.host);
    cr_expect(strstr(err, want), "\"%s\" lacks %s", err, want);
    kf_reg_free(reg);
    kf_ref_free(&repo);

    int port = free_port();
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    reg = new_client("*", NULL);
    repo = parse_ref("%s/it/app", host);
    struct kf_buf body;
    kf_buf_init(&body, 0);
    cr_expect_eq(kf_reg_get_manifest(reg, &repo, "v1", &body, NULL, NULL, err), KF_ENET);
    snprintf(want, sizeof want, "cannot reach http://%s/v2/", host);
    cr_expect(strstr(err, want), "\"%s\" lacks %s", err, want);
    kf_reg_free(reg);
    kf_ref_free(&repo);

    volatile int cancel = 1;
    struct kf_reg_opts o = {.insecure_hosts = "*", .cancel = &cancel};
    cr_assert_eq(kf_reg_new(&o, &reg, err), 0);
    repo = parse_ref("%s/it/app", open_reg.host);
    cr_expect_eq(kf_reg_get_manifest(reg, &repo, "v1", &body, NULL, NULL, err), KF_ECANCELED);
    kf_buf_free(&body);
    kf_ref_free(&repo);
    kf_reg_free(reg);
}

struct worker {
    struct kf_registry *reg;
    const char *host;
    int n;
    int rc;
    char err[KF_ERRLEN];
};

static void *push_worker(void *arg)
{
    struct worker *w = arg;
    char name[128];
    snprintf(name, sizeof name, "%s/it/threads-%d", w->host, w->n % 2);
    struct kf_ref repo;
    w->rc = kf_ref_parse(name, &repo, w->err);
    if (w->rc)
        return NULL;
    struct image im;
    make_image(&im, 100 + (unsigned)w->n);
    char tag[16];
    snprintf(tag, sizeof tag, "t%d", w->n);
    for (int round = 0; round < 3 && !w->rc; round++)
        w->rc = push_image(w->reg, &repo, &im, tag, w->err);
    kf_buf_free(&im.layer);
    kf_ref_free(&repo);
    return NULL;
}

Test(registry, one_client_many_threads)
{
    char *cfg = write_docker_config(auth_reg.host, PASS);
    struct kf_registry *reg = new_client("127.0.0.1", cfg);
    struct worker w[6];
    pthread_t t[6];
    for (int i = 0; i < 6; i++) {
        w[i] = (struct worker){.reg = reg, .host = i < 3 ? open_reg.host : auth_reg.host, .n = i};
        cr_assert_eq(pthread_create(&t[i], NULL, push_worker, &w[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(w[i].rc, 0, "worker %d: %s", i, w[i].err);
    }
    for (int i = 0; i < 6; i++) {
        struct image im;
        make_image(&im, 100 + (unsigned)i);
        char path[64];
        snprintf(path, sizeof path, "it/threads-%d:t%d", i % 2, i);
        struct kf_buf raw;
        skopeo_raw(i < 3 ? open_reg.host : auth_reg.host, path, 0, i < 3 ? NULL : USER ":" PASS, &raw);
        expect_same(&raw, im.index, strlen(im.index), path);
        kf_buf_free(&raw);
        kf_buf_free(&im.layer);
    }
    kf_reg_free(reg);
    free(cfg);
}
