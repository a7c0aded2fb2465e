/* Private to registry.c, regauth.c and reghttp.c: the client's state, one
 * HTTP exchange (reghttp.c) and one authenticated registry call (regauth.c). */
#ifndef KF_REG_INTERNAL_H
#define KF_REG_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>

#include "buf.h"
#include "digest.h"
#include "error.h"
#include "ref.h"
#include "registry.h"

#define KF_REG_ERRBODY_MAX 65536   /* error bodies kept for messages */
#define KF_REG_HEADER_MAX 16384    /* Location, WWW-Authenticate */
#define KF_REG_TOKENS_MAX 256      /* cached bearer tokens per client */
#define KF_REG_POOL_MAX 16         /* idle curl handles kept */

enum kf_reg_scheme { KF_REG_AUTH_NONE, KF_REG_AUTH_BASIC, KF_REG_AUTH_BEARER, KF_REG_AUTH_OTHER };

/* One WWW-Authenticate challenge (the Bearer one when several are offered). */
struct kf_reg_challenge {
    enum kf_reg_scheme scheme;
    char *realm, *service, *scope; /* owned; NULL when absent */
};

/* What we know about one registry host. Lives until kf_reg_free; fields
 * after `host`/`base_url` are guarded by reg->lock. */
struct kf_reg_host {
    struct kf_reg_host *next;
    char *host;                  /* "127.0.0.1:5000" */
    char *base_url;              /* "http://127.0.0.1:5000" (no trailing slash) */
    char origin[320];            /* "http://127.0.0.1:5000": where our Authorization may go */
    struct kf_reg_challenge challenge;
    int creds_loaded;            /* docker config consulted */
    char *user, *secret;         /* NULL: anonymous. user "<token>": identity token */
};

struct kf_reg_token {
    struct kf_reg_token *next;
    struct kf_reg_host *host;
    char *scope;                 /* "repository:a/b:pull,push[ repository:c:pull]" */
    char *header;                /* "Authorization: Bearer ..." */
    long long expires_ms;        /* monotonic */
};

struct kf_registry {
    char *insecure_hosts;        /* owned copy, NULL = none */
    char *docker_config;         /* owned copy, NULL = default */
    int max_retries;
    const volatile int *cancel;
    CURLSH *share;               /* DNS cache and TLS sessions of every thread */
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t lock;        /* hosts' mutable fields, tokens and the handle pool */
    /* Idle easy handles, each keeping its own live connections (libcurl
     * does not support one connection cache used by concurrent threads).
     * Last in, first out: the warmest handle serves the next request. */
    CURL *pool[KF_REG_POOL_MAX];
    size_t n_pool;
    struct kf_reg_host *hosts;
    struct kf_reg_token *tokens;
    size_t n_tokens;
};

/* One HTTP exchange, redirects and retries included. */
struct kf_reg_req {
    const char *method;          /* GET HEAD PUT POST PATCH DELETE */
    const char *url;             /* absolute */
    const char *auth;            /* "Authorization: ..." line or NULL */
    const char *auth_origin;     /* "scheme://host:port" auth may go to; others get none */
    const char *content_type;
    const char *accept;
    const void *body;            /* sent when has_body (POST/PUT/PATCH) */
    size_t body_len;
    int has_body;
    struct kf_buf *out;          /* 2xx body; NULL = discarded */
    size_t out_cap;              /* extra cap below out->max; 0 = none */
    int follow_redirects;        /* GET/HEAD only */
    int no_retry;                /* caller retries at a higher level */
};

struct kf_reg_resp {
    long status;                 /* 0 when none came */
    char *location;              /* owned, absolute (resolved against the request URL) */
    char *www_authenticate;      /* owned; a Bearer challenge preferred when several came */
    char docker_digest[KF_DIGEST_LEN]; /* "" unless a valid sha256 digest came */
    char content_type[128];      /* without parameters */
    long retry_after_s;          /* -1 when absent */
    struct kf_buf errbody;       /* non-2xx body, capped at KF_REG_ERRBODY_MAX */
    int sent_auth;               /* the final request carried credentials (Basic, or a token got with them) */
};

void kf_reg_resp_init(struct kf_reg_resp *r);
void kf_reg_resp_free(struct kf_reg_resp *r);

/* Performs req. 0 when some HTTP answer came (any status, in resp);
 * KF_ENET (curl failure after retries, naming the URL), KF_ECANCELED,
 * KF_ETOOBIG (body over its cap) or KF_ENOMEM otherwise. 5xx, 429 and
 * connection errors are retried with backoff unless req->no_retry. */
int kf_reg_http_do(struct kf_registry *reg, const struct kf_reg_req *req, struct kf_reg_resp *resp,
                   char *err) KF_MUST_CHECK;

/* Sleeps the backoff before retry number attempt (0-based), honouring a
 * Retry-After (seconds, capped); KF_ECANCELED if canceled meanwhile. */
int kf_reg_backoff(struct kf_registry *reg, int attempt, long retry_after_s, char *err) KF_MUST_CHECK;

/* "scheme://host:port" of url into out; 0 or KF_EINVAL. */
int kf_reg_url_origin(const char *url, char *out, size_t size) KF_MUST_CHECK;
/* Resolves location against base into a new absolute URL (caller frees);
 * NULL when it cannot, or when it is not http(s). */
char *kf_reg_url_resolve(const char *base, const char *location);

/* A registry call: what it is for (scopes, messages). */
struct kf_reg_call {
    const struct kf_ref *repo;   /* registry + repository */
    const char *actions;         /* "pull" or "pull,push" */
    const struct kf_ref *pull_from; /* also pull scope on this repository (mount source), or NULL */
    const char *what;            /* "manifest v1", "blob sha256:..." for messages */
};

/* Sends req for call with the right Authorization (probing /v2/ once per
 * host, loading credentials once, fetching and caching bearer tokens), and
 * retries once after a 401 that invalidates what we sent. 0 with any
 * status in resp; errors as kf_reg_http_do, or from the token flow. */
int kf_reg_call_do(struct kf_registry *reg, const struct kf_reg_call *call, struct kf_reg_req *req,
                   struct kf_reg_resp *resp, char *err) KF_MUST_CHECK;

/* The host's state, created on first use; NULL on allocation failure. */
struct kf_reg_host *kf_reg_host_get(struct kf_registry *reg, const char *registry);

/* GET /v2/ without credentials and record the challenge. */
int kf_reg_probe(struct kf_registry *reg, struct kf_reg_host *host, const struct kf_ref *repo, char *err) KF_MUST_CHECK;

/* The error for an unexpected status: KF_EAUTH/EDENIED/ENOTFOUND/ETOOBIG/
 * EREGISTRY with a message naming registry/repository and the registry's
 * {"errors":[...]} text. */
int kf_reg_status_fail(const struct kf_reg_call *call, const struct kf_reg_resp *resp, char *err);

/* Parses one WWW-Authenticate value (several challenges allowed; Bearer
 * preferred, then Basic). 0, KF_EINVAL when unparseable, KF_ENOMEM. */
int kf_reg_challenge_parse(const char *header, struct kf_reg_challenge *out) KF_MUST_CHECK;
void kf_reg_challenge_free(struct kf_reg_challenge *c);

/* "CODE: message; CODE: message" from a registry error body, printable
 * ASCII only, into out (size >= 1); "" when it has none. */
void kf_reg_errors_text(const char *body, size_t len, char *out, size_t size);

/* The scope string for a call: "repository:R:ACTIONS[ repository:F:pull]".
 * Caller frees; NULL on allocation failure. */
char *kf_reg_scope(const struct kf_reg_call *call);

/* Token endpoint answer: "token" or "access_token", "expires_in" (default
 * 60 s). *token is validated for use in a header; caller frees. */
int kf_reg_token_parse(const char *body, size_t len, char **token, long *expires_in_s) KF_MUST_CHECK;

/* 1 when host ("h" or "h:port") is listed in the comma list (entries "h",
 * "h:port", "*"; spaces around entries ignored). */
int kf_reg_host_insecure(const char *list, const char *host);

long long kf_reg_now_ms(void);

#endif
