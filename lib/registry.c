/* The registry operations kofarm needs: manifests and blobs in and out,
 * built on kf_reg_call_do (authentication) and kf_reg_http_do (HTTP). */
#include "registry.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "reg_internal.h"

#define DEFAULT_RETRIES 4
#define URL_MAX 2048

static const char manifest_accept[] = KF_MT_OCI_MANIFEST ", " KF_MT_OCI_INDEX ", " KF_MT_DOCKER_MANIFEST
                                      ", " KF_MT_DOCKER_LIST;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)c, (void)access;
    struct kf_registry *reg = ud;
    pthread_mutex_lock(&reg->share_locks[data]);
}

static void share_unlock(CURL *c, curl_lock_data data, void *ud)
{
    (void)c;
    struct kf_registry *reg = ud;
    pthread_mutex_unlock(&reg->share_locks[data]);
}

int kf_reg_new(const struct kf_reg_opts *opts, struct kf_registry **out, char *err)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return kf_fail(err, KF_EINTERNAL, "curl_global_init: %s", curl_easy_strerror(curl_init_rc));
    struct kf_registry *reg = calloc(1, sizeof *reg);
    if (!reg)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    pthread_mutex_init(&reg->lock, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&reg->share_locks[i], NULL);
    reg->max_retries = DEFAULT_RETRIES;
    if (opts) {
        reg->max_retries = opts->max_retries < 0 ? 0 : opts->max_retries ? opts->max_retries : DEFAULT_RETRIES;
        reg->cancel = opts->cancel;
        if ((opts->insecure_hosts && !(reg->insecure_hosts = strdup(opts->insecure_hosts))) ||
            (opts->docker_config && !(reg->docker_config = strdup(opts->docker_config))))
            goto oom;
    }
    if (!(reg->share = curl_share_init()))
        goto oom;
    if (curl_share_setopt(reg->share, CURLSHOPT_LOCKFUNC, share_lock) ||
        curl_share_setopt(reg->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
        curl_share_setopt(reg->share, CURLSHOPT_USERDATA, reg) ||
        curl_share_setopt(reg->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) ||
        curl_share_setopt(reg->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION))
        goto oom;
    *out = reg;
    return KF_OK;
oom:
    kf_reg_free(reg);
    return kf_fail(err, KF_ENOMEM, "out of memory");
}

void kf_reg_free(struct kf_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n_pool; i++)
        curl_easy_cleanup(reg->pool[i]);
    if (reg->share)
        curl_share_cleanup(reg->share);
    while (reg->tokens) {
        struct kf_reg_token *t = reg->tokens;
        reg->tokens = t->next;
        free(t->scope);
        memset(t->header, 0, strlen(t->header));
        free(t->header);
        free(t);
    }
    while (reg->hosts) {
        struct kf_reg_host *h = reg->hosts;
        reg->hosts = h->next;
        kf_reg_challenge_free(&h->challenge);
        free(h->host);
        free(h->base_url);
        free(h->user);
        if (h->secret) {
            memset(h->secret, 0, strlen(h->secret));
            free(h->secret);
        }
        free(h);
    }
    pthread_mutex_destroy(&reg->lock);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&reg->share_locks[i]);
    free(reg->insecure_hosts);
    free(reg->docker_config);
    free(reg);
}

/* Refs built by hand must not smuggle URL syntax into our requests. */
static int check_repo(const struct kf_ref *repo, char *err)
{
    if (!repo || !repo->registry || !repo->repository || !*repo->registry || !*repo->repository ||
        strspn(repo->registry, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") !=
            strlen(repo->registry) ||
        strspn(repo->repository, "abcdefghijklmnopqrstuvwxyz0123456789._-/") != strlen(repo->repository) ||
        strlen(repo->registry) + strlen(repo->repository) > KF_REF_NAME_MAX)
        return kf_fail(err, KF_EINVAL, "invalid repository for a registry call");
    return KF_OK;
}

static int check_reference(const struct kf_ref *repo, const char *tag_or_digest, char *err)
{
    int rc = check_repo(repo, err);
    if (!rc && (!tag_or_digest || (!kf_digest_valid(tag_or_digest) && !kf_ref_tag_valid(tag_or_digest))))
        rc = kf_fail(err, KF_EINVAL, "invalid tag or digest \"%.140s\" for %s/%s", tag_or_digest ? tag_or_digest : "",
                     repo->registry, repo->repository);
    return rc;
}

static int check_digest(const struct kf_ref *repo, const char *digest, char *err)
{
    int rc = check_repo(repo, err);
    if (!rc && (!digest || !kf_digest_valid(digest)))
        rc = kf_fail(err, KF_EINVAL, "invalid digest \"%.80s\" for %s/%s", digest ? digest : "", repo->registry,
                     repo->repository);
    return rc;
}

/* "<base>/v2/<repository>/<kind>/<ref>" for the repo's host. */
static int api_url(struct kf_registry *reg, const struct kf_ref *repo, const char *kind, const char *ref, char *url,
                   char *err)
{
    struct kf_reg_host *host = kf_reg_host_get(reg, repo->registry);
    if (!host)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    int n = snprintf(url, URL_MAX, "%s/v2/%s/%s/%s", host->base_url, repo->repository, kind, ref);
    if (n < 0 || n >= URL_MAX)
        return kf_fail(err, KF_EINVAL, "URL too long");
    return KF_OK;
}

int kf_reg_ping(struct kf_registry *reg, const struct kf_ref *repo, char *err)
{
    int rc = check_repo(repo, err);
    if (rc)
        return rc;
    struct kf_reg_host *host = kf_reg_host_get(reg, repo->registry);
    if (!host)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    return kf_reg_probe(reg, host, repo, err);
}

/* The media type of a manifest whose Content-Type was missing or generic. */
static void sniff_media_type(const struct kf_buf *body, char media_type[128])
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)body->data, body->len, 0, &jerr);
    const char *mt = json_string_value(json_object_get(root, "mediaType"));
    if (mt && strlen(mt) < 128)
        memcpy(media_type, mt, strlen(mt) + 1);
    json_decref(root);
}

static int known_manifest_type(const char *mt)
{
    return strcmp(mt, KF_MT_OCI_MANIFEST) == 0 || strcmp(mt, KF_MT_OCI_INDEX) == 0 ||
           strcmp(mt, KF_MT_DOCKER_MANIFEST) == 0 || strcmp(mt, KF_MT_DOCKER_LIST) == 0;
}

/* GET req into body (emptied first): a 200 or an error; got = the sha256
 * of what arrived, for the caller to check against what it asked for. */
static int get_body(struct kf_registry *reg, const struct kf_reg_call *call, struct kf_reg_req *req,
                    struct kf_reg_resp *resp, struct kf_buf *body, char got[KF_DIGEST_LEN], char *err)
{
    kf_buf_reset(body);
    int rc = kf_reg_call_do(reg, call, req, resp, err);
    if (rc)
        return rc;
    if (resp->status != 200)
        return kf_reg_status_fail(call, resp, err);
    kf_sha256_digest(body->data, body->len, got);
    return KF_OK;
}

int kf_reg_get_manifest(struct kf_registry *reg, const struct kf_ref *repo, const char *tag_or_digest,
                        struct kf_buf *body, char media_type[128], char digest[KF_DIGEST_LEN], char *err)
{
    char url[URL_MAX], what[200], got[KF_DIGEST_LEN], mt[128];
    struct kf_reg_resp resp;
    int rc = check_reference(repo, tag_or_digest, err);
    if (rc || (rc = api_url(reg, repo, "manifests", tag_or_digest, url, err)))
        return rc;
    kf_reg_resp_init(&resp);
    snprintf(what, sizeof what, "manifest %s", tag_or_digest);
    struct kf_reg_call call = {.repo = repo, .actions = "pull", .what = what};
    struct kf_reg_req req = {.method = "GET", .url = url, .accept = manifest_accept, .out = body,
                             .out_cap = KF_REG_MANIFEST_MAX, .follow_redirects = 1};
    rc = get_body(reg, &call, &req, &resp, body, got, err);
    if (rc)
        goto out;
    if (kf_digest_valid(tag_or_digest) && strcmp(got, tag_or_digest) != 0) {
        rc = kf_fail(err, KF_EREGISTRY, "%s/%s: manifest asked as %s has digest %s", repo->registry,
                     repo->repository, tag_or_digest, got);
        goto out;
    }
    snprintf(mt, sizeof mt, "%s", resp.content_type);
    if (!known_manifest_type(mt))
        sniff_media_type(body, mt);
    if (media_type)
        memcpy(media_type, mt, strlen(mt) + 1);
    if (digest)
        memcpy(digest, got, strlen(got) + 1);
out:
    kf_reg_resp_free(&resp);
    return rc;
}

int kf_reg_manifest_digest(struct kf_registry *reg, const struct kf_ref *repo, const char *tag_or_digest,
                           char digest[KF_DIGEST_LEN], char *err)
{
    char url[URL_MAX], what[200];
    struct kf_reg_resp resp;
    digest[0] = 0;
    int rc = check_reference(repo, tag_or_digest, err);
    if (rc || (rc = api_url(reg, repo, "manifests", tag_or_digest, url, err)))
        return rc;
    kf_reg_resp_init(&resp);
    snprintf(what, sizeof what, "manifest %s", tag_or_digest);
    /* pull,push: the caller is about to push, so one token serves both. */
    struct kf_reg_call call = {.repo = repo, .actions = "pull,push", .what = what};
    struct kf_reg_req req = {.method = "HEAD", .url = url, .accept = manifest_accept, .follow_redirects = 1};
    rc = kf_reg_call_do(reg, &call, &req, &resp, err);
    if (rc)
        goto out;
    if (resp.status == 200)
        memcpy(digest, resp.docker_digest, sizeof resp.docker_digest);
    else if (resp.status != 404)
        rc = kf_reg_status_fail(&call, &resp, err);
out:
    kf_reg_resp_free(&resp);
    return rc;
}

int kf_reg_get_blob(struct kf_registry *reg, const struct kf_ref *repo, const char *digest, struct kf_buf *body,
                    char *err)
{
    char url[URL_MAX], what[120], got[KF_DIGEST_LEN];
    struct kf_reg_resp resp;
    int rc = check_digest(repo, digest, err);
    if (rc || (rc = api_url(reg, repo, "blobs", digest, url, err)))
        return rc;
    kf_reg_resp_init(&resp);
    snprintf(what, sizeof what, "blob %s", digest);
    struct kf_reg_call call = {.repo = repo, .actions = "pull", .what = what};
    struct kf_reg_req req = {.method = "GET", .url = url, .out = body, .follow_redirects = 1};
    rc = get_body(reg, &call, &req, &resp, body, got, err);
    if (rc)
        goto out;
    if (strcmp(got, digest) != 0)
        rc = kf_fail(err, KF_EREGISTRY, "%s/%s: blob %s arrived with digest %s", repo->registry, repo->repository,
                     digest, got);
out:
    kf_reg_resp_free(&resp);
    return rc;
}

/* HEAD with the given scope actions. */
static int head_blob(struct kf_registry *reg, const struct kf_ref *repo, const char *digest, const char *actions,
                     int *exists, char *err)
{
    char url[URL_MAX], what[120];
    struct kf_reg_resp resp;
    int rc = check_digest(repo, digest, err);
    if (rc || (rc = api_url(reg, repo, "blobs", digest, url, err)))
        return rc;
    kf_reg_resp_init(&resp);
    snprintf(what, sizeof what, "blob %s", digest);
    struct kf_reg_call call = {.repo = repo, .actions = actions, .what = what};
    struct kf_reg_req req = {.method = "HEAD", .url = url, .follow_redirects = 1};
    rc = kf_reg_call_do(reg, &call, &req, &resp, err);
    if (!rc) {
        if (resp.status == 200)
            *exists = 1;
        else if (resp.status == 404)
            *exists = 0;
        else
            rc = kf_reg_status_fail(&call, &resp, err);
    }
    kf_reg_resp_free(&resp);
    return rc;
}

int kf_reg_blob_exists(struct kf_registry *reg, const struct kf_ref *repo, const char *digest, int *exists,
                       char *err)
{
    *exists = 0;
    return head_blob(reg, repo, digest, "pull", exists, err);
}

/* POST an upload session, as a cross-repository mount when from is given:
 * *mounted = 1 when the registry mounted (201); otherwise *location gets the
 * session URL (caller frees). */
static int start_upload(struct kf_registry *reg, const struct kf_ref *repo, const char *digest,
                        const struct kf_ref *from, char **location, int *mounted, char *err)
{
    char url[URL_MAX], what[200];
    struct kf_reg_resp resp;
    int rc = api_url(reg, repo, "blobs", "uploads/", url, err);
    *location = NULL;
    *mounted = 0;
    if (rc)
        return rc;
    size_t n = strlen(url);
    if (from && snprintf(url + n, URL_MAX - n, "?mount=%s&from=%s", digest, from->repository) >= (int)(URL_MAX - n))
        return kf_fail(err, KF_EINVAL, "URL too long");
    kf_reg_resp_init(&resp);
    if (from)
        snprintf(what, sizeof what, "mount of blob %s from %s", digest, from->repository);
    else
        snprintf(what, sizeof what, "upload of blob %s", digest);
    struct kf_reg_call call = {.repo = repo, .actions = "pull,push", .pull_from = from, .what = what};
    struct kf_reg_req req = {.method = "POST", .url = url, .has_body = 1};
    rc = kf_reg_call_do(reg, &call, &req, &resp, err);
    if (rc)
        goto out;
    if (resp.status == 201 && from) {
        *mounted = 1;
    } else if (resp.status == 202 && resp.location) {
        *location = resp.location;
        resp.location = NULL;
    } else if (resp.status == 202) {
        rc = kf_fail(err, KF_EREGISTRY, "%s/%s: %s: no usable Location in the answer", repo->registry,
                     repo->repository, what);
    } else {
        rc = kf_reg_status_fail(&call, &resp, err);
    }
out:
    kf_reg_resp_free(&resp);
    return rc;
}

/* Monolithic PUT of the whole blob to the session; *retry when a new
 * session may succeed (network, 5xx, 429, session gone). */
static int finish_upload(struct kf_registry *reg, const struct kf_ref *repo, const char *location,
                         const char *digest, const void *data, size_t len, int *retry, char *err)
{
    char what[120];
    struct kf_reg_resp resp;
    char *url = NULL;
    int rc;
    *retry = 0;
    /* The session URL may carry state in its query: keep it, add ours. */
    if (asprintf(&url, "%s%cdigest=%s", location, strchr(location, '?') ? '&' : '?', digest) < 0)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    kf_reg_resp_init(&resp);
    snprintf(what, sizeof what, "upload of blob %s", digest);
    struct kf_reg_call call = {.repo = repo, .actions = "pull,push", .what = what};
    struct kf_reg_req req = {.method = "PUT", .url = url, .has_body = 1, .body = data, .body_len = len,
                             .content_type = "application/octet-stream", .no_retry = 1};
    rc = kf_reg_call_do(reg, &call, &req, &resp, err);
    if (rc) {
        *retry = rc == KF_ENET;
    } else if (resp.status == 201 || resp.status == 204) {
        if (resp.docker_digest[0] && strcmp(resp.docker_digest, digest) != 0)
            rc = kf_fail(err, KF_EREGISTRY, "%s/%s: uploaded blob %s was stored as %s", repo->registry,
                         repo->repository, digest, resp.docker_digest);
    } else {
        *retry = resp.status == 404 || resp.status == 429 || resp.status >= 500;
        rc = kf_reg_status_fail(&call, &resp, err);
    }
    kf_reg_resp_free(&resp);
    free(url);
    return rc;
}

/* HEAD, then upload sessions until one takes the blob: the first may be
 * one opened beforehand (`opened`, kf_reg_upload_start), the others are
 * POSTed here, a mount tried in the first of them. */
static int push_blob(struct kf_registry *reg, const struct kf_ref *repo, const char *digest, const void *data,
                     size_t len, const struct kf_ref *mount_from, const char *opened, char *err)
{
    int exists = 0, mounted = 0, retry = 0;
    int rc = check_digest(repo, digest, err);
    if (rc)
        return rc;
    if (!data && len)
        return kf_fail(err, KF_EINVAL, "push of blob %s: no data", digest);
    if (mount_from && ((rc = check_repo(mount_from, err)) || strcmp(mount_from->registry, repo->registry) != 0 ||
                       strcmp(mount_from->repository, repo->repository) == 0))
        mount_from = NULL;
    if (rc || (rc = head_blob(reg, repo, digest, "pull,push", &exists, err)) || exists)
        return rc; /* there already: an opened session is left to expire */
    for (int attempt = 0;; attempt++) {
        char *location = NULL;
        mounted = 0;
        if (attempt == 0 && opened) {
            rc = finish_upload(reg, repo, opened, digest, data, len, &retry, err);
        } else {
            rc = start_upload(reg, repo, digest, mount_from, &location, &mounted, err);
            mount_from = NULL; /* a mount is asked once */
            if (!rc && !mounted)
                rc = finish_upload(reg, repo, location, digest, data, len, &retry, err);
        }
        free(location);
        if (!rc || !retry || attempt >= reg->max_retries)
            return rc;
        if ((rc = kf_reg_backoff(reg, attempt, -1, err)))
            return rc;
    }
}

int kf_reg_push_blob(struct kf_registry *reg, const struct kf_ref *repo, const char *digest, const void *data,
                     size_t len, const struct kf_ref *mount_from, char *err)
{
    return push_blob(reg, repo, digest, data, len, mount_from, NULL, err);
}

struct kf_reg_upload {
    const struct kf_ref *repo; /* borrowed */
    char *location;            /* the session URL */
};

int kf_reg_upload_start(struct kf_registry *reg, const struct kf_ref *repo, struct kf_reg_upload **out, char *err)
{
    int mounted = 0;
    *out = NULL;
    struct kf_reg_upload *up = calloc(1, sizeof *up);
    if (!up)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    int rc = check_repo(repo, err);
    if (!rc)
        rc = start_upload(reg, repo, "(being made)", NULL, &up->location, &mounted, err);
    if (rc) {
        kf_reg_upload_free(up);
        return rc;
    }
    up->repo = repo;
    *out = up;
    return KF_OK;
}

int kf_reg_upload_blob(struct kf_registry *reg, struct kf_reg_upload *up, const char *digest, const void *data,
                       size_t len, char *err)
{
    return push_blob(reg, up->repo, digest, data, len, NULL, up->location, err);
}

void kf_reg_upload_free(struct kf_reg_upload *up)
{
    if (!up)
        return;
    free(up->location);
    free(up);
}

int kf_reg_mount_blob(struct kf_registry *reg, const struct kf_ref *repo, const char *digest,
                      const struct kf_ref *from, int *mounted, char *err)
{
    char *location = NULL;
    *mounted = 0;
    int rc = check_digest(repo, digest, err);
    if (rc || (rc = check_repo(from, err)))
        return rc;
    if (strcmp(from->registry, repo->registry) != 0 || strcmp(from->repository, repo->repository) == 0)
        return KF_OK;
    rc = start_upload(reg, repo, digest, from, &location, mounted, err);
    if (!rc && location) {
        /* Not mounted: close the session the registry opened instead. */
        struct kf_reg_resp resp;
        char ignored[KF_ERRLEN];
        kf_reg_resp_init(&resp);
        struct kf_reg_call call = {.repo = repo, .actions = "pull,push", .what = "upload session"};
        struct kf_reg_req req = {.method = "DELETE", .url = location, .no_retry = 1};
        if (kf_reg_call_do(reg, &call, &req, &resp, ignored) == KF_ECANCELED)
            rc = kf_fail(err, KF_ECANCELED, "canceled");
        kf_reg_resp_free(&resp);
    }
    free(location);
    return rc;
}

static int media_type_valid(const char *mt)
{
    size_t n = mt ? strlen(mt) : 0;
    return n > 0 && n < 128 && strspn(mt, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-/_") == n;
}

int kf_reg_put_manifest(struct kf_registry *reg, const struct kf_ref *repo, const char *tag_or_digest,
                        const char *media_type, const void *data, size_t len, char *err)
{
    char url[URL_MAX], what[200], digest[KF_DIGEST_LEN];
    struct kf_reg_resp resp;
    int rc = check_reference(repo, tag_or_digest, err);
    if (rc)
        return rc;
    if (!media_type_valid(media_type))
        return kf_fail(err, KF_EINVAL, "manifest for %s/%s: invalid media type", repo->registry, repo->repository);
    if (!data || len == 0 || len > KF_REG_MANIFEST_MAX)
        return kf_fail(err, len ? KF_ETOOBIG : KF_EINVAL, "manifest for %s/%s: %zu bytes (1 to %zu allowed)",
                       repo->registry, repo->repository, len, KF_REG_MANIFEST_MAX);
    kf_sha256_digest(data, len, digest);
    if (kf_digest_valid(tag_or_digest) && strcmp(tag_or_digest, digest) != 0)
        return kf_fail(err, KF_EINVAL, "manifest pushed as %s has digest %s", tag_or_digest, digest);
    if ((rc = api_url(reg, repo, "manifests", tag_or_digest, url, err)))
        return rc;
    kf_reg_resp_init(&resp);
    snprintf(what, sizeof what, "manifest %s", tag_or_digest);
    struct kf_reg_call call = {.repo = repo, .actions = "pull,push", .what = what};
    struct kf_reg_req req = {.method = "PUT", .url = url, .has_body = 1, .body = data, .body_len = len,
                             .content_type = media_type};
    rc = kf_reg_call_do(reg, &call, &req, &resp, err);
    if (rc)
        goto out;
    if (resp.status / 100 != 2) {
        rc = kf_reg_status_fail(&call, &resp, err);
        goto out;
    }
    if (resp.docker_digest[0] && strcmp(resp.docker_digest, digest) != 0)
        rc = kf_fail(err, KF_EREGISTRY, "%s/%s: manifest %s stored with digest %s, expected %s", repo->registry,
                     repo->repository, tag_or_digest, resp.docker_digest, digest);
out:
    kf_reg_resp_free(&resp);
    return rc;
}
