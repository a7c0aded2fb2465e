/* The pure parts of the registry client: WWW-Authenticate parsing, token
 * answers, scopes, insecure hosts, URL handling and error messages. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "reg_internal.h"

struct challenge_case {
    const char *header;
    int rc;
    enum kf_reg_scheme scheme;
    const char *realm, *service, *scope;
};

static const struct challenge_case challenges[] = {
    {"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
     "scope=\"repository:library/alpine:pull\"",
     0, KF_REG_AUTH_BEARER, "https://auth.docker.io/token", "registry.docker.io", "repository:library/alpine:pull"},
    /* commas inside a quoted scope, spaces around '=' and ',' */
    {"Bearer realm = \"https://r.io/t\" , scope=\"repository:a/b:pull,push\", service=\"r.io\"", 0,
     KF_REG_AUTH_BEARER, "https://r.io/t", "r.io", "repository:a/b:pull,push"},
    {"bearer REALM=\"https://r.io/t?x=1\"", 0, KF_REG_AUTH_BEARER, "https://r.io/t?x=1", NULL, NULL},
    {"Basic realm=\"Registry Realm\"", 0, KF_REG_AUTH_BASIC, "Registry Realm", NULL, NULL},
    {"Basic realm=test", 0, KF_REG_AUTH_BASIC, "test", NULL, NULL},
    {"Basic", 0, KF_REG_AUTH_BASIC, NULL, NULL, NULL},
    /* several challenges: Bearer preferred wherever it comes */
    {"Basic realm=\"x\", Bearer realm=\"https://t.io/token\",service=\"s\"", 0, KF_REG_AUTH_BEARER,
     "https://t.io/token", "s", NULL},
    {"Negotiate, Basic realm=\"b\"", 0, KF_REG_AUTH_BASIC, "b", NULL, NULL},
    {"Negotiate", 0, KF_REG_AUTH_OTHER, NULL, NULL, NULL},
    /* escapes in quoted strings; unknown parameters ignored; first duplicate wins */
    {"Bearer realm=\"https://t.io/a\\\"b\",error=\"insufficient_scope\",realm=\"https://other\"", 0,
     KF_REG_AUTH_BEARER, "https://t.io/a\"b", NULL, NULL},
    {"Bearer realm=\"\"", 0, KF_REG_AUTH_BEARER, "", NULL, NULL},
    {"", KF_EINVAL, KF_REG_AUTH_NONE, NULL, NULL, NULL},
    {"   ", KF_EINVAL, KF_REG_AUTH_NONE, NULL, NULL, NULL},
    {"Bearer realm=\"unterminated", KF_EINVAL, KF_REG_AUTH_NONE, NULL, NULL, NULL},
    {"realm=\"x\"", KF_EINVAL, KF_REG_AUTH_NONE, NULL, NULL, NULL},
    {"Bearer realm=\"x\" junk", KF_EINVAL, KF_REG_AUTH_NONE, NULL, NULL, NULL},
    {"Bearer @@@", KF_EINVAL, KF_REG_AUTH_NONE, NULL, NULL, NULL},
};

static void expect_opt(const char *got, const char *want, size_t i, const char *field)
{
    if (!want)
        cr_expect_null(got, "case %zu %s: got %s", i, field, got);
    else
        cr_expect(got && strcmp(got, want) == 0, "case %zu %s: got %s", i, field, got ? got : "(null)");
}

Test(regauth, challenge_parse)
{
    for (size_t i = 0; i < sizeof challenges / sizeof challenges[0]; i++) {
        const struct challenge_case *c = &challenges[i];
        struct kf_reg_challenge ch;
        int rc = kf_reg_challenge_parse(c->header, &ch);
        cr_expect_eq(rc, c->rc, "case %zu (%s): rc %d", i, c->header, rc);
        cr_expect_eq(ch.scheme, c->scheme, "case %zu: scheme %d", i, ch.scheme);
        expect_opt(ch.realm, c->realm, i, "realm");
        expect_opt(ch.service, c->service, i, "service");
        expect_opt(ch.scope, c->scope, i, "scope");
        kf_reg_challenge_free(&ch);
    }
}

Test(regauth, challenge_too_long)
{
    size_t n = KF_REG_HEADER_MAX + 100;
    char *h = malloc(n + 1);
    memcpy(h, "Bearer realm=\"", 14);
    memset(h + 14, 'a', n - 15);
    h[n - 1] = '"';
    h[n] = 0;
    struct kf_reg_challenge ch;
    cr_expect_eq(kf_reg_challenge_parse(h, &ch), KF_EINVAL);
    free(h);
}

Test(regauth, token_parse)
{
    struct {
        const char *body;
        int rc;
        const char *token;
        long expires;
    } cases[] = {
        {"{\"token\":\"abc.def\",\"expires_in\":300}", 0, "abc.def", 300},
        {"{\"access_token\":\"xyz\"}", 0, "xyz", 60},
        {"{\"token\":\"\",\"access_token\":\"second\",\"expires_in\":-5}", 0, "second", 60},
        {"{\"token\":\"t\",\"expires_in\":\"300\"}", 0, "t", 60},
        {"{\"token\":\"t\",\"expires_in\":99999999999}", 0, "t", 60},
        {"{\"token\":\"bad token\"}", KF_EINVAL, NULL, 0},
        {"{\"token\":\"bad\\r\\nX-Injected: 1\"}", KF_EINVAL, NULL, 0},
        {"{\"token\":5}", KF_EINVAL, NULL, 0},
        {"{}", KF_EINVAL, NULL, 0},
        {"not json", KF_EINVAL, NULL, 0},
        {"", KF_EINVAL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *token = NULL;
        long expires = 0;
        int rc = kf_reg_token_parse(cases[i].body, strlen(cases[i].body), &token, &expires);
        cr_expect_eq(rc, cases[i].rc, "case %zu: rc %d", i, rc);
        expect_opt(token, cases[i].token, i, "token");
        if (!rc)
            cr_expect_eq(expires, cases[i].expires, "case %zu: expires %ld", i, expires);
        free(token);
    }
}

Test(regauth, scope)
{
    struct kf_ref repo = {.registry = "r.io", .repository = "team/app"};
    struct kf_ref from = {.registry = "r.io", .repository = "base/img"};
    struct kf_reg_call call = {.repo = &repo, .actions = "pull"};
    char *s = kf_reg_scope(&call);
    cr_expect_str_eq(s, "repository:team/app:pull");
    free(s);
    call.actions = "pull,push";
    call.pull_from = &from;
    s = kf_reg_scope(&call);
    cr_expect_str_eq(s, "repository:team/app:pull,push repository:base/img:pull");
    free(s);
    call.pull_from = &repo; /* the same repository needs no second scope */
    s = kf_reg_scope(&call);
    cr_expect_str_eq(s, "repository:team/app:pull,push");
    free(s);
}

Test(regauth, insecure_hosts)
{
    struct {
        const char *list, *host;
        int want;
    } cases[] = {
        {"*", "anything.io", 1},
        {"127.0.0.1:5000", "127.0.0.1:5000", 1},
        {"127.0.0.1:5000", "127.0.0.1:5001", 0},
        {"127.0.0.1:5000", "127.0.0.1", 0},
        {"127.0.0.1", "127.0.0.1:5001", 1},
        {"127.0.0.1", "127.0.0.1", 1},
        {"127.0.0.1", "127.0.0.10:80", 0},
        {" a.io , 127.0.0.1:5000 ", "127.0.0.1:5000", 1},
        {"a.io,b.io", "B.IO", 1},
        {"a.io,,b.io:1", "b.io:1", 1},
        {"a.io", "a.io.evil.com", 0},
        {"a.io", "xa.io", 0},
        {"[::1]", "[::1]:5000", 1},
        {"[::1]:5000", "[::1]:5000", 1},
        {"[::1]:5000", "[::1]:5001", 0},
        {"", "a.io", 0},
        {NULL, "a.io", 0},
        {"localhost", "127.0.0.1:5000", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(kf_reg_host_insecure(cases[i].list, cases[i].host), cases[i].want, "case %zu: %s in %s", i,
                     cases[i].host, cases[i].list ? cases[i].list : "(null)");
}

Test(regauth, url_origin_and_resolve)
{
    char o[256];
    cr_assert_eq(kf_reg_url_origin("https://R.io/v2/x?y=1", o, sizeof o), 0);
    cr_expect_str_eq(o, "https://r.io:443");
    cr_assert_eq(kf_reg_url_origin("http://127.0.0.1:5000/v2/", o, sizeof o), 0);
    cr_expect_str_eq(o, "http://127.0.0.1:5000");
    cr_expect_neq(kf_reg_url_origin("not a url", o, sizeof o), 0);
    cr_expect_neq(kf_reg_url_origin("https://r.io/", o, 8), 0);

    struct {
        const char *base, *loc, *want;
    } cases[] = {
        {"http://127.0.0.1:5000/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/u1?_state=xy%3D",
         "http://127.0.0.1:5000/v2/a/blobs/uploads/u1?_state=xy%3D"},
        {"http://127.0.0.1:5000/v2/a/blobs/uploads/", "http://127.0.0.1:5000/v2/a/blobs/uploads/u2?_state=s",
         "http://127.0.0.1:5000/v2/a/blobs/uploads/u2?_state=s"},
        {"https://r.io/v2/a/blobs/x", "https://cdn.example.com/blob?sig=1", "https://cdn.example.com/blob?sig=1"},
        {"https://r.io/v2/a/blobs/x", "u3", "https://r.io/v2/a/blobs/u3"},
        {"https://r.io/v2/a/blobs/x", "file:///etc/passwd", NULL},
        {"https://r.io/v2/a/blobs/x", "gopher://r.io/x", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = kf_reg_url_resolve(cases[i].base, cases[i].loc);
        expect_opt(got, cases[i].want, i, "resolved");
        free(got);
    }
}

Test(regauth, errors_text)
{
    char out[200];
    const char *body = "{\"errors\":[{\"code\":\"MANIFEST_BLOB_UNKNOWN\",\"message\":\"blob unknown to registry\","
                       "\"detail\":\"sha256:x\"},{\"code\":\"DENIED\"}]}";
    kf_reg_errors_text(body, strlen(body), out, sizeof out);
    cr_expect_str_eq(out, "MANIFEST_BLOB_UNKNOWN: blob unknown to registry; DENIED");
    const char *evil = "{\"errors\":[{\"code\":\"X\",\"message\":\"line\\nbreak\\u001b[31m\"}]}";
    kf_reg_errors_text(evil, strlen(evil), out, sizeof out);
    cr_expect_str_eq(out, "X: line break [31m");
    kf_reg_errors_text("<html>", 6, out, sizeof out);
    cr_expect_str_eq(out, "");
    kf_reg_errors_text(NULL, 0, out, sizeof out);
    cr_expect_str_eq(out, "");
    char small[8];
    kf_reg_errors_text(body, strlen(body), small, sizeof small);
    cr_expect_str_eq(small, "MANIFES");
}

Test(regauth, status_messages)
{
    struct kf_ref repo = {.registry = "127.0.0.1:5000", .repository = "team/app"};
    struct kf_reg_call call = {.repo = &repo, .actions = "pull", .what = "manifest v1"};
    struct {
        long status;
        int sent_auth;
        const char *body;
        int rc;
        const char *msg;
    } cases[] = {
        {401, 0, "", KF_EAUTH, "authentication required for 127.0.0.1:5000/team/app"},
        {401, 1, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}", KF_EAUTH,
         "authentication failed for 127.0.0.1:5000/team/app (UNAUTHORIZED: authentication required)"},
        {403, 1, "", KF_EDENIED, "access to 127.0.0.1:5000/team/app denied"},
        {404, 0, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}", KF_ENOTFOUND,
         "manifest v1 not found in 127.0.0.1:5000/team/app (MANIFEST_UNKNOWN: manifest unknown)"},
        {413, 0, "", KF_ETOOBIG, "manifest v1 too large for 127.0.0.1:5000/team/app"},
        {429, 0, "", KF_EREGISTRY, "too many requests"},
        {503, 0, "", KF_EREGISTRY, "127.0.0.1:5000/team/app: registry error HTTP 503 for manifest v1"},
        {400, 0, "{\"errors\":[{\"code\":\"MANIFEST_INVALID\",\"message\":\"bad\"}]}", KF_EREGISTRY,
         "unexpected HTTP 400 for manifest v1 (MANIFEST_INVALID: bad)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct kf_reg_resp resp;
        kf_reg_resp_init(&resp);
        resp.status = cases[i].status;
        resp.sent_auth = cases[i].sent_auth;
        cr_assert_eq(kf_buf_append_str(&resp.errbody, cases[i].body), 0);
        char err[KF_ERRLEN] = "";
        cr_expect_eq(kf_reg_status_fail(&call, &resp, err), cases[i].rc, "case %zu", i);
        cr_expect(strstr(err, cases[i].msg), "case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].msg);
        kf_reg_resp_free(&resp);
    }
}
