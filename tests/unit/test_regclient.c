/* The registry client against a scripted HTTP server on 127.0.0.1
 * (libmicrohttpd): the Bearer token flow and its cache, identity tokens,
 * retries on 503/429, redirects that must not carry our Authorization to
 * another origin, and cancellation mid-transfer. */
#include <criterion/criterion.h>
#include <microhttpd.h>
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "digest.h"
#include "dockercfg.h"
#include "ref.h"
#include "registry.h"

#define MANIFEST "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}"
#define BLOB "hello blob"

/* What the fake server does and saw; guarded by mu. */
static struct {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    int token_seq;          /* tokens issued */
    int reject_below;       /* tokens numbered below this get 401 (expired) */
    char scopes[512];       /* scope parameters of the last token request, '|'-joined */
    char token_auth[256];   /* Authorization of the last token request */
    char token_form[512];   /* body of the last POST /token */
    int flaky_left;         /* 503s still to give */
    int limited_left;       /* 429s still to give */
    int external_hits, external_saw_auth, internal_hits, internal_saw_auth;
} fake = {.mu = PTHREAD_MUTEX_INITIALIZER};

static char dir[64];

struct conn {
    struct kf_buf body;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body, const char *ctype,
                             const char *h1, const char *v1)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (ctype)
        MHD_add_response_header(r, "Content-Type", ctype);
    if (h1)
        MHD_add_response_header(r, h1, v1);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result collect_scope(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind, (void)cls;
    if (strcmp(key, "scope") == 0) {
        size_t n = strlen(fake.scopes);
        snprintf(fake.scopes + n, sizeof fake.scopes - n, "%s%s", n ? "|" : "", value ? value : "");
    }
    return MHD_YES;
}

static enum MHD_Result challenge(struct MHD_Connection *c)
{
    char h[256];
    snprintf(h, sizeof h, "Bearer realm=\"http://127.0.0.1:%d/token\",service=\"fake.io\"", fake.port);
    return reply(c, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}",
                 "application/json", "WWW-Authenticate", h);
}

static enum MHD_Result token(struct MHD_Connection *c, const char *method, struct conn *st)
{
    char body[128];
    fake.scopes[0] = 0;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    snprintf(fake.token_auth, sizeof fake.token_auth, "%s", auth ? auth : "");
    if (strcmp(method, "POST") == 0)
        snprintf(fake.token_form, sizeof fake.token_form, "%s", st->body.data ? (char *)st->body.data : "");
    else
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_scope, NULL);
    /* "Basic kofarm:bad" is refused like a real token server would */
    if (auth && strcmp(auth, "Basic a29mYXJtOmJhZA==") == 0)
        return reply(c, 401, "{\"details\":\"incorrect username or password\"}", "application/json", NULL, NULL);
    fake.token_seq++;
    snprintf(body, sizeof body, "{\"%s\":\"tok-%d\",\"expires_in\":3600}",
             strcmp(method, "POST") == 0 ? "access_token" : "token", fake.token_seq);
    return reply(c, 200, body, "application/json", NULL, NULL);
}

static int bearer_ok(struct MHD_Connection *c)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    int n = -1;
    return auth && sscanf(auth, "Bearer tok-%d", &n) == 1 && n >= fake.reject_below;
}

static enum MHD_Result route(struct MHD_Connection *c, const char *url, const char *method, struct conn *st)
{
    char loc[128];
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (strcmp(url, "/token") == 0)
        return token(c, method, st);
    if (strcmp(url, "/external/blob") == 0) {
        fake.external_hits++;
        fake.external_saw_auth = auth != NULL;
        return reply(c, 200, BLOB, "application/octet-stream", NULL, NULL);
    }
    if (strcmp(url, "/internal/blob") == 0) {
        fake.internal_hits++;
        fake.internal_saw_auth = auth != NULL;
        return reply(c, bearer_ok(c) ? 200 : 401, BLOB, "application/octet-stream", NULL, NULL);
    }
    if (!bearer_ok(c))
        return challenge(c);
    if (strcmp(url, "/v2/") == 0)
        return reply(c, 200, "{}", "application/json", NULL, NULL);
    if (strcmp(url, "/v2/ok/manifests/x") == 0)
        return reply(c, 200, MANIFEST, "application/vnd.oci.image.manifest.v1+json; charset=utf-8", NULL, NULL);
    if (strcmp(url, "/v2/generic/manifests/x") == 0)
        return reply(c, 200, MANIFEST, "application/json", NULL, NULL);
    if (strcmp(url, "/v2/flaky/manifests/x") == 0) {
        if (fake.flaky_left > 0) {
            fake.flaky_left--;
            return reply(c, 503, "{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"try later\"}]}",
                         "application/json", NULL, NULL);
        }
        return reply(c, 200, MANIFEST, "application/vnd.oci.image.manifest.v1+json", NULL, NULL);
    }
    if (strcmp(url, "/v2/limited/manifests/x") == 0) {
        if (fake.limited_left > 0) {
            fake.limited_left--;
            return reply(c, 429, "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\"}]}", "application/json", "Retry-After",
                         "0");
        }
        return reply(c, 200, MANIFEST, "application/vnd.oci.image.manifest.v1+json", NULL, NULL);
    }
    if (strncmp(url, "/v2/redir/blobs/", 16) == 0) {
        snprintf(loc, sizeof loc, "http://localhost:%d/external/blob", fake.port);
        return reply(c, 307, "", NULL, "Location", loc);
    }
    if (strncmp(url, "/v2/sameredir/blobs/", 20) == 0)
        return reply(c, 307, "", NULL, "Location", "/internal/blob");
    if (strncmp(url, "/v2/slow/", 9) == 0)
        return reply(c, 200, MANIFEST, "application/vnd.oci.image.manifest.v1+json", NULL, NULL);
    if (strncmp(url, "/v2/target/blobs/uploads/", 25) == 0 && strcmp(method, "POST") == 0)
        return reply(c, 201, "", NULL, "Location", "/v2/target/blobs/sha256:x");
    return reply(c, 404, "{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"no such thing\"}]}",
                 "application/json", NULL, NULL);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)cls, (void)version;
    struct conn *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        kf_buf_init(&st->body, 1 << 20);
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_size) {
        if (kf_buf_append(&st->body, upload, *upload_size))
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    /* Slow answers keep the lock free for the test's own checks. */
    if (strncmp(url, "/v2/slow/", 9) == 0 && MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"))
        sleep(3);
    pthread_mutex_lock(&fake.mu);
    enum MHD_Result r = route(c, url, method, st);
    pthread_mutex_unlock(&fake.mu);
    return r;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    struct conn *st = *con_cls;
    if (st) {
        kf_buf_free(&st->body);
        free(st);
        *con_cls = NULL;
    }
}

static void setup(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    fake.d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                              handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                              MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    cr_assert_not_null(fake.d);
    fake.port = MHD_get_daemon_info(fake.d, MHD_DAEMON_INFO_BIND_PORT)->port;
    snprintf(dir, sizeof dir, "/tmp/kf-regclient-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    MHD_stop_daemon(fake.d);
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(regclient, .init = setup, .fini = teardown, .timeout = 60);

static char host[32];

/* A client for the fake server; config_json (may be NULL) becomes its
 * docker config with "HOST" replaced by the server's host:port. */
static struct kf_registry *client(const char *config_json, int retries, const volatile int *cancel)
{
    char path[128], err[KF_ERRLEN] = "";
    snprintf(host, sizeof host, "127.0.0.1:%d", fake.port);
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    if (config_json) {
        char text[1024];
        const char *at = strstr(config_json, "HOST");
        cr_assert_not_null(at);
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - config_json), config_json, host, at + 4);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs(text, f);
        fclose(f);
    }
    struct kf_reg_opts o = {.insecure_hosts = "127.0.0.1,localhost", .docker_config = path,
                            .max_retries = retries, .cancel = cancel};
    struct kf_registry *reg = NULL;
    cr_assert_eq(kf_reg_new(&o, &reg, err), 0, "%s", err);
    return reg;
}

static struct kf_ref repo_of(const char *name)
{
    char s[128], err[KF_ERRLEN];
    struct kf_ref r;
    snprintf(s, sizeof s, "127.0.0.1:%d/%s", fake.port, name);
    cr_assert_eq(kf_ref_parse_repo(s, &r, err), 0, "%s", err);
    return r;
}

static int tokens_issued(void)
{
    pthread_mutex_lock(&fake.mu);
    int n = fake.token_seq;
    pthread_mutex_unlock(&fake.mu);
    return n;
}

Test(regclient, bearer_flow_with_basic_creds_and_cache)
{
    struct kf_registry *reg = client("{\"auths\":{\"HOST\":{\"auth\":\"a29mYXJtOnB3\"}}}", -1, NULL); /* kofarm:pw */
    struct kf_ref ok = repo_of("ok");
    struct kf_buf body;
    char err[KF_ERRLEN] = "", mt[128], digest[KF_DIGEST_LEN], want[KF_DIGEST_LEN];
    kf_buf_init(&body, 0);
    cr_assert_eq(kf_reg_get_manifest(reg, &ok, "x", &body, mt, digest, err), 0, "%s", err);
    cr_expect_str_eq((char *)body.data, MANIFEST);
    cr_expect_str_eq(mt, "application/vnd.oci.image.manifest.v1+json", "parameters are dropped");
    kf_sha256_digest(MANIFEST, strlen(MANIFEST), want);
    cr_expect_str_eq(digest, want);
    cr_expect_eq(tokens_issued(), 1);
    cr_expect_str_eq(fake.scopes, "repository:ok:pull");
    cr_expect_str_eq(fake.token_auth, "Basic a29mYXJtOnB3", "the token request carries the Basic credentials");

    /* cached: no second token for the same scope */
    cr_assert_eq(kf_reg_get_manifest(reg, &ok, "x", &body, NULL, NULL, err), 0, "%s", err);
    cr_expect_eq(tokens_issued(), 1);

    /* a push needs pull,push; afterwards that token serves reads too */
    cr_expect_eq(kf_reg_put_manifest(reg, &ok, "y", "application/vnd.oci.image.manifest.v1+json", MANIFEST,
                                     strlen(MANIFEST), err),
                 KF_ENOTFOUND, "%s", err);
    cr_expect_eq(tokens_issued(), 2);
    cr_expect_str_eq(fake.scopes, "repository:ok:pull,push");
    cr_assert_eq(kf_reg_get_manifest(reg, &ok, "x", &body, NULL, NULL, err), 0, "%s", err);
    cr_expect_eq(tokens_issued(), 2);

    /* a generic Content-Type: the media type comes from the body */
    struct kf_ref generic = repo_of("generic");
    cr_assert_eq(kf_reg_get_manifest(reg, &generic, "x", &body, mt, NULL, err), 0, "%s", err);
    cr_expect_str_eq(mt, "application/vnd.oci.image.manifest.v1+json");

    /* the registry stops taking our tokens (expired): one new token, no error */
    pthread_mutex_lock(&fake.mu);
    fake.reject_below = fake.token_seq + 1;
    pthread_mutex_unlock(&fake.mu);
    int before = tokens_issued();
    cr_assert_eq(kf_reg_get_manifest(reg, &ok, "x", &body, NULL, NULL, err), 0, "%s", err);
    cr_expect_eq(tokens_issued(), before + 1);

    /* 404 behind a token */
    struct kf_ref missing = repo_of("missing/repo");
    cr_expect_eq(kf_reg_get_manifest(reg, &missing, "x", &body, NULL, NULL, err), KF_ENOTFOUND);
    cr_expect(strstr(err, "NAME_UNKNOWN: no such thing"), "%s", err);

    kf_buf_free(&body);
    kf_ref_free(&ok);
    kf_ref_free(&generic);
    kf_ref_free(&missing);
    kf_reg_free(reg);
}

Test(regclient, anonymous_wrong_and_identity_tokens)
{
    struct kf_ref ok = repo_of("ok");
    struct kf_buf body;
    char err[KF_ERRLEN] = "", want[128];
    kf_buf_init(&body, 0);

    struct kf_registry *reg = client(NULL, -1, NULL);
    cr_assert_eq(kf_reg_get_manifest(reg, &ok, "x", &body, NULL, NULL, err), 0, "%s", err);
    cr_expect_str_eq(fake.token_auth, "", "anonymous token requests carry no Authorization");
    kf_reg_free(reg);

    reg = client("{\"auths\":{\"HOST\":{\"auth\":\"a29mYXJtOmJhZA==\"}}}", -1, NULL); /* kofarm:bad */
    cr_expect_eq(kf_reg_get_manifest(reg, &ok, "x", &body, NULL, NULL, err), KF_EAUTH);
    snprintf(want, sizeof want, "authentication failed for %s/ok", host);
    cr_expect(strstr(err, want), "\"%s\" lacks \"%s\"", err, want);
    cr_expect_eq(kf_reg_check_login(reg, host, "kofarm", "bad", err), KF_EAUTH);
    cr_assert_eq(kf_reg_check_login(reg, host, "kofarm", "good", err), 0, "%s", err);
    cr_expect_str_eq(fake.token_auth, "Basic a29mYXJtOmdvb2Q=");
    cr_assert_eq(kf_reg_get_manifest(reg, &ok, "x", &body, NULL, NULL, err), 0, "login's credentials are used: %s",
                 err);
    kf_reg_free(reg);

    reg = client("{\"auths\":{\"HOST\":{\"identitytoken\":\"refresh/me+1\"}}}", -1, NULL);
    cr_assert_eq(kf_reg_get_manifest(reg, &ok, "x", &body, NULL, NULL, err), 0, "%s", err);
    cr_expect(strstr(fake.token_form, "grant_type=refresh_token"), "%s", fake.token_form);
    cr_expect(strstr(fake.token_form, "refresh_token=refresh%2Fme%2B1"), "%s", fake.token_form);
    cr_expect(strstr(fake.token_form, "scope=repository%3Aok%3Apull"), "%s", fake.token_form);
    cr_expect(strstr(fake.token_form, "service=fake.io"), "%s", fake.token_form);
    cr_expect_str_eq(fake.token_auth, "");
    kf_reg_free(reg);

    kf_buf_free(&body);
    kf_ref_free(&ok);
}

Test(regclient, mount_asks_pull_on_the_source)
{
    struct kf_registry *reg = client(NULL, -1, NULL);
    struct kf_ref target = repo_of("target"), source = repo_of("team/base");
    char err[KF_ERRLEN] = "", digest[KF_DIGEST_LEN];
    int mounted = 0;
    kf_sha256_digest(BLOB, strlen(BLOB), digest);
    cr_assert_eq(kf_reg_mount_blob(reg, &target, digest, &source, &mounted, err), 0, "%s", err);
    cr_expect_eq(mounted, 1);
    cr_expect_str_eq(fake.scopes, "repository:target:pull,push|repository:team/base:pull");
    kf_ref_free(&target);
    kf_ref_free(&source);
    kf_reg_free(reg);
}

Test(regclient, retries_on_503_and_429)
{
    struct kf_ref flaky = repo_of("flaky"), limited = repo_of("limited");
    struct kf_buf body;
    char err[KF_ERRLEN] = "";
    kf_buf_init(&body, 0);
    struct kf_registry *reg = client(NULL, 0, NULL); /* default retries */
    fake.flaky_left = 2;
    cr_assert_eq(kf_reg_get_manifest(reg, &flaky, "x", &body, NULL, NULL, err), 0, "%s", err);
    cr_expect_eq(fake.flaky_left, 0);
    fake.limited_left = 2;
    cr_assert_eq(kf_reg_get_manifest(reg, &limited, "x", &body, NULL, NULL, err), 0, "%s", err);
    cr_expect_eq(fake.limited_left, 0);
    kf_reg_free(reg);

    reg = client(NULL, 1, NULL);
    fake.flaky_left = 5;
    cr_expect_eq(kf_reg_get_manifest(reg, &flaky, "x", &body, NULL, NULL, err), KF_EREGISTRY);
    cr_expect(strstr(err, "HTTP 503") && strstr(err, "UNAVAILABLE: try later"), "%s", err);
    cr_expect_eq(fake.flaky_left, 3, "one try and one retry");
    kf_reg_free(reg);

    kf_buf_free(&body);
    kf_ref_free(&flaky);
    kf_ref_free(&limited);
}

Test(regclient, redirects_keep_authorization_home)
{
    struct kf_registry *reg = client(NULL, -1, NULL);
    struct kf_ref redir = repo_of("redir"), same = repo_of("sameredir");
    struct kf_buf body;
    char err[KF_ERRLEN] = "", digest[KF_DIGEST_LEN];
    kf_buf_init(&body, 0);
    kf_sha256_digest(BLOB, strlen(BLOB), digest);
    cr_assert_eq(kf_reg_get_blob(reg, &redir, digest, &body, err), 0, "%s", err);
    cr_expect_str_eq((char *)body.data, BLOB);
    cr_expect_eq(fake.external_hits, 1);
    cr_expect_eq(fake.external_saw_auth, 0, "Authorization leaked to another origin");
    cr_assert_eq(kf_reg_get_blob(reg, &same, digest, &body, err), 0, "%s", err);
    cr_expect_eq(fake.internal_hits, 1);
    cr_expect_eq(fake.internal_saw_auth, 1, "same origin keeps Authorization");

    /* a blob that is not what its digest says */
    char other[KF_DIGEST_LEN];
    kf_sha256_digest("other", 5, other);
    cr_expect_eq(kf_reg_get_blob(reg, &redir, other, &body, err), KF_EREGISTRY);
    cr_expect(strstr(err, "arrived with digest"), "%s", err);
    /* and one over the caller's cap */
    struct kf_buf small;
    kf_buf_init(&small, 4);
    cr_expect_eq(kf_reg_get_blob(reg, &redir, digest, &small, err), KF_ETOOBIG);
    kf_buf_free(&small);
    kf_buf_free(&body);
    kf_ref_free(&redir);
    kf_ref_free(&same);
    kf_reg_free(reg);
}

static void *cancel_soon(void *arg)
{
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    *(volatile int *)arg = 1;
    return NULL;
}

Test(regclient, cancel_mid_transfer)
{
    static volatile int cancel = 0;
    struct kf_registry *reg = client(NULL, -1, &cancel);
    struct kf_ref slow = repo_of("slow");
    struct kf_buf body;
    char err[KF_ERRLEN] = "";
    kf_buf_init(&body, 0);
    /* the token is fetched first, then the slow GET is canceled */
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, cancel_soon, (void *)&cancel), 0);
    cr_expect_eq(kf_reg_get_manifest(reg, &slow, "x", &body, NULL, NULL, err), KF_ECANCELED, "%s", err);
    pthread_join(t, NULL);
    kf_buf_free(&body);
    kf_ref_free(&slow);
    kf_reg_free(reg);
}
