/* Authenticated registry calls: per-host state (the /v2/ challenge, the
 * credentials), the bearer token flow and its cache, and the 401 retry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockercfg.h"
#include "reg_internal.h"

#define TOKEN_BODY_MAX ((size_t)1 << 20)
#define TOKEN_MARGIN_MS 10000 /* renew this long before the token server's expiry */

struct kf_reg_host *kf_reg_host_get(struct kf_registry *reg, const char *registry)
{
    struct kf_reg_host *h;
    pthread_mutex_lock(&reg->lock);
    for (h = reg->hosts; h; h = h->next) {
        if (strcmp(h->host, registry) == 0)
            goto out;
    }
    h = calloc(1, sizeof *h);
    if (!h)
        goto out;
    const char *scheme = kf_reg_host_insecure(reg->insecure_hosts, registry) ? "http" : "https";
    if (asprintf(&h->base_url, "%s://%s", scheme, registry) < 0)
        h->base_url = NULL;
    if (!h->base_url || !(h->host = strdup(registry)) || kf_reg_url_origin(h->base_url, h->origin, sizeof h->origin)) {
        free(h->base_url);
        free(h->host);
        free(h);
        h = NULL;
        goto out;
    }
    h->next = reg->hosts;
    reg->hosts = h;
out:
    pthread_mutex_unlock(&reg->lock);
    return h;
}

int kf_reg_probe(struct kf_registry *reg, struct kf_reg_host *host, const struct kf_ref *repo, char *err)
{
    struct kf_reg_challenge ch = {0};
    struct kf_reg_resp resp;
    char url[600];
    snprintf(url, sizeof url, "%s/v2/", host->base_url);
    struct kf_reg_req req = {.method = "GET", .url = url};
    kf_reg_resp_init(&resp);
    int rc = kf_reg_http_do(reg, &req, &resp, err);
    if (rc)
        goto out;
    if (resp.status == 401) {
        if (!resp.www_authenticate || kf_reg_challenge_parse(resp.www_authenticate, &ch) ||
            ch.scheme == KF_REG_AUTH_OTHER || (ch.scheme == KF_REG_AUTH_BEARER && !ch.realm)) {
            rc = kf_fail(err, KF_EUNSUPPORTED, "%s: unsupported authentication challenge at %s", host->host, url);
            goto out;
        }
    } else if (resp.status / 100 != 2) {
        const struct kf_reg_call call = {.repo = repo, .what = "the registry API (/v2/)"};
        rc = kf_reg_status_fail(&call, &resp, err);
        goto out;
    }
    pthread_mutex_lock(&reg->lock);
    kf_reg_challenge_free(&host->challenge);
    host->challenge = ch;
    memset(&ch, 0, sizeof ch);
    pthread_mutex_unlock(&reg->lock);
out:
    kf_reg_challenge_free(&ch);
    kf_reg_resp_free(&resp);
    return rc;
}

static void free_secret(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

/* Reads the docker config once per host. */
static int load_creds(struct kf_registry *reg, struct kf_reg_host *host, char *err)
{
    char *user = NULL, *secret = NULL;
    pthread_mutex_lock(&reg->lock);
    int loaded = host->creds_loaded;
    pthread_mutex_unlock(&reg->lock);
    if (loaded)
        return KF_OK;
    int rc = kf_dockercfg_lookup(reg->docker_config, host->host, &user, &secret, err);
    if (rc && rc != KF_ENOTFOUND)
        return rc;
    pthread_mutex_lock(&reg->lock);
    if (!host->creds_loaded) {
        host->user = user;
        host->secret = secret;
        host->creds_loaded = 1;
        user = secret = NULL;
    }
    pthread_mutex_unlock(&reg->lock);
    free(user);
    free_secret(secret);
    return KF_OK;
}

/* Copies of the host's credentials (NULL, NULL when anonymous). */
static int copy_creds(struct kf_registry *reg, struct kf_reg_host *host, char **user, char **secret)
{
    int rc = KF_OK;
    pthread_mutex_lock(&reg->lock);
    *user = host->user ? strdup(host->user) : NULL;
    *secret = host->secret ? strdup(host->secret) : NULL;
    if ((host->user && !*user) || (host->secret && !*secret))
        rc = KF_ENOMEM;
    pthread_mutex_unlock(&reg->lock);
    if (rc) {
        free(*user);
        free_secret(*secret);
        *user = *secret = NULL;
    }
    return rc;
}

static char *basic_header(const char *user, const char *secret)
{
    char *b64 = kf_dockercfg_basic(user, secret), *h = NULL;
    if (b64 && asprintf(&h, "Authorization: Basic %s", b64) < 0)
        h = NULL;
    free_secret(b64);
    return h;
}

/* Percent-encodes s (RFC 3986 unreserved kept) onto b. */
static int append_escaped(struct kf_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int rc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c)
                     ? kf_buf_append(b, s, 1)
                     : kf_buf_appendf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
        if (rc)
            return rc;
    }
    return KF_OK;
}

/* Token request: a GET URL with one scope parameter per resource, or for an
 * identity token an OAuth2 refresh form (scopes space-separated). scope may
 * be NULL (a login check). */
static int token_request(const char *realm, const char *service, const char *scope, const char *refresh,
                         struct kf_buf *url, struct kf_buf *form)
{
    struct kf_buf *q = refresh ? form : url;
    char sep = refresh || strchr(realm, '?') ? '&' : '?';
    int rc = kf_buf_append_str(url, realm);
    if (!rc && refresh) {
        rc = kf_buf_append_str(form, "grant_type=refresh_token&client_id=kofarm&refresh_token=");
        if (!rc)
            rc = append_escaped(form, refresh);
    }
    if (!rc && service) {
        rc = kf_buf_appendf(q, "%cservice=", sep);
        if (!rc)
            rc = append_escaped(q, service);
        sep = '&';
    }
    for (const char *s = scope; !rc && s && *s;) {
        char one[600];
        size_t n = strcspn(s, " ");
        snprintf(one, sizeof one, "%.*s", (int)(n < sizeof one ? n : sizeof one - 1), s);
        rc = refresh && s != scope ? kf_buf_append_str(q, "%20") : kf_buf_appendf(q, "%cscope=", sep);
        if (!rc)
            rc = append_escaped(q, one);
        sep = '&';
        for (s += n; *s == ' ';)
            s++;
    }
    return rc;
}

/* Runs the token flow: *header gets "Authorization: Bearer ..." (caller
 * frees). name is "registry/repository" (or the host) for messages. */
static int fetch_token(struct kf_registry *reg, struct kf_reg_host *host, const char *realm, const char *service,
                       const char *scope, const char *user, const char *secret, const char *name, char **header,
                       long *expires_in_s, char *err)
{
    struct kf_buf url, form;
    struct kf_reg_resp resp;
    char origin[512], text[600] = "", *token = NULL, *auth = NULL;
    int rc;
    *header = NULL;
    kf_buf_init(&url, 65536);
    kf_buf_init(&form, 65536);
    kf_reg_resp_init(&resp);
    int is_http = strncmp(realm, "http://", 7) == 0;
    if ((!is_http && strncmp(realm, "https://", 8) != 0) || kf_reg_url_origin(realm, origin, sizeof origin)) {
        rc = kf_fail(err, KF_EREGISTRY, "%s: unusable token realm in the registry's challenge", name);
        goto out;
    }
    /* Credentials over plain http only where the user allowed plain http. */
    if (is_http && user && strncmp(host->base_url, "http://", 7) != 0) {
        char realm_host[300];
        snprintf(realm_host, sizeof realm_host, "%.*s", (int)strcspn(realm + 7, "/?#"), realm + 7);
        if (!kf_reg_host_insecure(reg->insecure_hosts, realm_host)) {
            rc = kf_fail(err, KF_EREGISTRY, "%s: token realm %s is plain http; list %s as insecure to allow it",
                         name, realm_host, realm_host);
            goto out;
        }
    }
    const char *refresh = user && strcmp(user, KF_DOCKERCFG_TOKEN_USER) == 0 ? secret : NULL;
    if (token_request(realm, service, scope, refresh, &url, &form)) {
        rc = kf_fail(err, KF_ENOMEM, "%s: token request too large", name);
        goto out;
    }
    if (user && !refresh && !(auth = basic_header(user, secret))) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    struct kf_buf body;
    kf_buf_init(&body, TOKEN_BODY_MAX);
    struct kf_reg_req req = {.method = refresh ? "POST" : "GET", .url = (const char *)url.data, .auth = auth,
                             .auth_origin = origin, .out = &body, .has_body = refresh != NULL,
                             .body = form.data, .body_len = form.len,
                             .content_type = refresh ? "application/x-www-form-urlencoded" : NULL};
    rc = kf_reg_http_do(reg, &req, &resp, err);
    if (!rc && resp.status / 100 == 2) {
        if (kf_reg_token_parse((const char *)body.data, body.len, &token, expires_in_s) ||
            asprintf(header, "Authorization: Bearer %s", token) < 0) {
            *header = NULL;
            rc = kf_fail(err, KF_EREGISTRY, "%s: the token server's answer has no usable token", name);
        }
    } else if (!rc) {
        kf_reg_errors_text((const char *)resp.errbody.data, resp.errbody.len, text, sizeof text);
        int auth_fail = resp.status == 401 || resp.status == 403;
        rc = kf_fail(err, resp.status == 401 ? KF_EAUTH : resp.status == 403 ? KF_EDENIED : KF_EREGISTRY,
                     "%s for %s (token server answered HTTP %ld%s%s)",
                     !auth_fail ? "token request failed" : user ? "authentication failed" : "authentication required",
                     name, resp.status, text[0] ? ": " : "", text);
    }
    kf_buf_free(&body);
out:
    free_secret(auth);
    free_secret(token);
    kf_buf_free(&url);
    kf_buf_free(&form);
    kf_reg_resp_free(&resp);
    return rc;
}

/* A cached "Authorization: Bearer" line for scope (or alt_scope), or NULL;
 * *matched gets the scope it is cached under. Caller frees both. */
static char *token_lookup(struct kf_registry *reg, struct kf_reg_host *host, const char *scope, const char *alt_scope,
                          char **matched)
{
    char *header = NULL;
    long long now = kf_reg_now_ms();
    *matched = NULL;
    pthread_mutex_lock(&reg->lock);
    for (struct kf_reg_token *t = reg->tokens; t; t = t->next) {
        if (t->host == host && t->expires_ms > now &&
            (strcmp(t->scope, scope) == 0 || (alt_scope && strcmp(t->scope, alt_scope) == 0))) {
            header = strdup(t->header);
            *matched = strdup(t->scope);
            break;
        }
    }
    pthread_mutex_unlock(&reg->lock);
    if (!header || !*matched) {
        free_secret(header);
        free(*matched);
        header = *matched = NULL;
    }
    return header;
}

static void token_free(struct kf_reg_token *t)
{
    free(t->scope);
    free_secret(t->header);
    free(t);
}

/* Drops host's tokens for scope (all of host's when scope is NULL), and
 * expired ones. Called with reg->lock held. */
static void tokens_drop_locked(struct kf_registry *reg, struct kf_reg_host *host, const char *scope)
{
    long long now = kf_reg_now_ms();
    for (struct kf_reg_token **p = &reg->tokens; *p;) {
        struct kf_reg_token *t = *p;
        if (t->expires_ms <= now || (t->host == host && (!scope || strcmp(t->scope, scope) == 0))) {
            *p = t->next;
            token_free(t);
            reg->n_tokens--;
        } else {
            p = &t->next;
        }
    }
}

static void token_drop(struct kf_registry *reg, struct kf_reg_host *host, const char *scope)
{
    pthread_mutex_lock(&reg->lock);
    tokens_drop_locked(reg, host, scope);
    pthread_mutex_unlock(&reg->lock);
}

/* Caches a copy of header; failures only cost a later refetch. */
static void token_store(struct kf_registry *reg, struct kf_reg_host *host, const char *scope, const char *header,
                        long expires_in_s)
{
    struct kf_reg_token *t = calloc(1, sizeof *t);
    if (!t || !(t->scope = strdup(scope)) || !(t->header = strdup(header))) {
        if (t)
            token_free(t);
        return;
    }
    long long life = (long long)expires_in_s * 1000;
    long long margin = life / 2 < TOKEN_MARGIN_MS ? life / 2 : TOKEN_MARGIN_MS;
    t->host = host;
    t->expires_ms = kf_reg_now_ms() + life - margin;
    pthread_mutex_lock(&reg->lock);
    tokens_drop_locked(reg, host, scope);
    if (reg->n_tokens >= KF_REG_TOKENS_MAX) {
        /* The list is newest first: drop the oldest. */
        struct kf_reg_token **p = &reg->tokens;
        while ((*p)->next)
            p = &(*p)->next;
        token_free(*p);
        *p = NULL;
        reg->n_tokens--;
    }
    t->next = reg->tokens;
    reg->tokens = t;
    reg->n_tokens++;
    pthread_mutex_unlock(&reg->lock);
}

/* The Authorization line due for call (*header NULL when none); for a
 * bearer token *token_scope names it (to drop it after a 401). Both owned by
 * the caller. fresh skips the token cache. */
static int authorize(struct kf_registry *reg, struct kf_reg_host *host, const struct kf_reg_call *call, int fresh,
                     char **header, char **token_scope, int *with_creds, char *err)
{
    char *realm = NULL, *service = NULL, *user = NULL, *secret = NULL, *alt = NULL, *name = NULL;
    long expires = 0;
    int rc = KF_OK;
    *header = *token_scope = NULL;
    *with_creds = 0;
    pthread_mutex_lock(&reg->lock);
    enum kf_reg_scheme scheme = host->challenge.scheme;
    if (scheme == KF_REG_AUTH_BEARER) {
        realm = host->challenge.realm ? strdup(host->challenge.realm) : NULL;
        service = host->challenge.service ? strdup(host->challenge.service) : NULL;
        if (!realm || (host->challenge.service && !service))
            rc = KF_ENOMEM;
    }
    pthread_mutex_unlock(&reg->lock);
    if (rc || (scheme != KF_REG_AUTH_BASIC && scheme != KF_REG_AUTH_BEARER))
        goto out;
    if ((rc = load_creds(reg, host, err)) || (rc = copy_creds(reg, host, &user, &secret)))
        goto out;
    *with_creds = user != NULL;
    if (scheme == KF_REG_AUTH_BASIC) {
        if (user && !(*header = basic_header(user, secret)))
            rc = KF_ENOMEM;
        goto out;
    }
    if (!(*token_scope = kf_reg_scope(call)) || !(name = kf_ref_repo_name(call->repo))) {
        rc = KF_ENOMEM;
        goto out;
    }
    /* A pull,push token serves reads of the same repository too. */
    if (strcmp(call->actions, "pull") == 0 && !call->pull_from &&
        asprintf(&alt, "repository:%s:pull,push", call->repo->repository) < 0) {
        alt = NULL;
        rc = KF_ENOMEM;
        goto out;
    }
    char *matched = NULL;
    if (!fresh && (*header = token_lookup(reg, host, *token_scope, alt, &matched))) {
        free(*token_scope);
        *token_scope = matched;
        goto out;
    }
    rc = fetch_token(reg, host, realm, service, *token_scope, user, secret, name, header, &expires, err);
    if (!rc)
        token_store(reg, host, *token_scope, *header, expires);
out:
    if (rc == KF_ENOMEM)
        kf_fail(err, rc, "out of memory");
    if (rc) {
        free_secret(*header);
        free(*token_scope);
        *header = *token_scope = NULL;
    }
    free(realm);
    free(service);
    free(user);
    free_secret(secret);
    free(alt);
    free(name);
    return rc;
}

/* Takes a resource's 401 challenge as the host's: 1 when it differs, 0
 * when it is the one known, -1 when there is none kofarm can answer. */
static int learn_challenge(struct kf_registry *reg, struct kf_reg_host *host, const char *header)
{
    struct kf_reg_challenge ch;
    if (!header || kf_reg_challenge_parse(header, &ch))
        return -1;
    if (ch.scheme == KF_REG_AUTH_OTHER || (ch.scheme == KF_REG_AUTH_BEARER && !ch.realm)) {
        kf_reg_challenge_free(&ch);
        return -1;
    }
    pthread_mutex_lock(&reg->lock);
    struct kf_reg_challenge *old = &host->challenge;
    int same = old->scheme == ch.scheme && !!old->realm == !!ch.realm && (!ch.realm || !strcmp(old->realm, ch.realm)) &&
               !!old->service == !!ch.service && (!ch.service || !strcmp(old->service, ch.service));
    if (!same) {
        kf_reg_challenge_free(old);
        *old = ch;
        memset(&ch, 0, sizeof ch);
    }
    pthread_mutex_unlock(&reg->lock);
    kf_reg_challenge_free(&ch);
    return !same;
}

int kf_reg_call_do(struct kf_registry *reg, const struct kf_reg_call *call, struct kf_reg_req *req,
                   struct kf_reg_resp *resp, char *err)
{
    char *header = NULL, *token_scope = NULL;
    int rc = KF_OK, with_creds = 0;
    struct kf_reg_host *host = kf_reg_host_get(reg, call->repo->registry);
    if (!host)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    /* No /v2/ probe first: the call itself answers 401 with the challenge
     * when the registry wants credentials, which costs a round trip only
     * there (the probe cost one on every anonymous registry). */
    for (int round = 0; round < 2; round++) {
        if ((rc = authorize(reg, host, call, round > 0, &header, &token_scope, &with_creds, err)))
            break;
        req->auth = header;
        req->auth_origin = host->origin;
        rc = kf_reg_http_do(reg, req, resp, err);
        req->auth = req->auth_origin = NULL;
        /* An anonymous token is no credential: "required", not "failed". */
        resp->sent_auth = resp->sent_auth && with_creds;
        if (rc || resp->status != 401 || round == 1)
            break;
        /* A new challenge, a token the registry no longer takes, or a call
         * sent without credentials while another thread learnt the
         * challenge: once more. */
        int learnt = learn_challenge(reg, host, resp->www_authenticate);
        int changed = learnt > 0 || (learnt == 0 && !header);
        if (token_scope) {
            token_drop(reg, host, token_scope);
            changed = 1;
        }
        free_secret(header);
        free(token_scope);
        header = token_scope = NULL;
        if (!changed)
            break;
    }
    free_secret(header);
    free(token_scope);
    return rc;
}

/* Forgets the host's credentials and tokens and uses user/secret instead. */
static int use_creds(struct kf_registry *reg, struct kf_reg_host *host, const char *user, const char *secret)
{
    char *u = strdup(user), *s = strdup(secret);
    if (!u || !s) {
        free(u);
        free_secret(s);
        return KF_ENOMEM;
    }
    pthread_mutex_lock(&reg->lock);
    free(host->user);
    free_secret(host->secret);
    host->user = u;
    host->secret = s;
    host->creds_loaded = 1;
    tokens_drop_locked(reg, host, NULL);
    pthread_mutex_unlock(&reg->lock);
    return KF_OK;
}

int kf_reg_check_login(struct kf_registry *reg, const char *registry_host, const char *user, const char *password,
                       char *err)
{
    struct kf_ref ref = {0};
    struct kf_reg_resp resp;
    char *probe_name = NULL, *auth = NULL, *realm = NULL, *service = NULL, url[600];
    long expires = 0;
    int rc;
    kf_reg_resp_init(&resp);
    if (!registry_host || !user || !password || !*user || strchr(user, ':')) {
        rc = kf_fail(err, KF_EINVAL, "login: a registry host, a user name without ':' and a password are needed");
        goto out;
    }
    /* "host/x" must parse with host as its registry. */
    if (asprintf(&probe_name, "%s/kofarm", registry_host) < 0) {
        probe_name = NULL;
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    if (strchr(registry_host, '/') || kf_ref_parse_repo(probe_name, &ref, NULL) ||
        (strcmp(ref.registry, KF_REF_DOCKER_HUB) == 0 && strcmp(kf_dockercfg_server_key(registry_host),
                                                                 kf_dockercfg_server_key(KF_REF_DOCKER_HUB)) != 0)) {
        rc = kf_fail(err, KF_EINVAL, "login: \"%s\" is not a registry host", registry_host);
        goto out;
    }
    struct kf_reg_host *host = kf_reg_host_get(reg, ref.registry);
    if (!host) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = kf_reg_probe(reg, host, &ref, err)))
        goto out;
    pthread_mutex_lock(&reg->lock);
    enum kf_reg_scheme scheme = host->challenge.scheme;
    realm = host->challenge.realm ? strdup(host->challenge.realm) : NULL;
    service = host->challenge.service ? strdup(host->challenge.service) : NULL;
    pthread_mutex_unlock(&reg->lock);
    if (scheme == KF_REG_AUTH_BEARER) {
        if (!realm) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = fetch_token(reg, host, realm, service, NULL, user, password, ref.registry, &auth, &expires, err)))
            goto out;
    } else if (scheme == KF_REG_AUTH_BASIC && !(auth = basic_header(user, password))) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    if (auth) {
        snprintf(url, sizeof url, "%s/v2/", host->base_url);
        struct kf_reg_req req = {.method = "GET", .url = url, .auth = auth, .auth_origin = host->origin};
        if ((rc = kf_reg_http_do(reg, &req, &resp, err)))
            goto out;
        if (resp.status == 401 || resp.status == 403) {
            rc = kf_fail(err, KF_EAUTH, "authentication failed for %s (HTTP %ld)", ref.registry, resp.status);
            goto out;
        }
        if (resp.status / 100 != 2) {
            rc = kf_fail(err, KF_EREGISTRY, "%s: unexpected HTTP %ld for %s", ref.registry, resp.status, url);
            goto out;
        }
    }
    if ((rc = use_creds(reg, host, user, password)))
        kf_fail(err, rc, "out of memory");
out:
    kf_reg_resp_free(&resp);
    kf_ref_free(&ref);
    free(probe_name);
    free_secret(auth);
    free(realm);
    free(service);
    return rc;
}
