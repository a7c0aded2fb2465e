/* API tokens stored as sha256 hex: create, verify, revoke, list. */
#include "dbtokens.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "digest.h"

static int name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n >= 1 && n <= KF_TOKEN_NAME_MAX &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int scope_valid(const char *scope)
{
    size_t n = scope ? strlen(scope) : 0;
    return n >= 1 && n <= 32 && strspn(scope, "abcdefghijklmnopqrstuvwxyz:") == n;
}

static int token_wellformed(const char *token)
{
    return token && strlen(token) == KF_TOKEN_LEN && strncmp(token, "kf_", 3) == 0 &&
           strspn(token + 3, "0123456789abcdef") == KF_TOKEN_LEN - 3;
}

/* 64 hex digits of sha256(token). */
static void token_hash(const char *token, char out[65])
{
    char digest[KF_DIGEST_LEN];
    kf_sha256_digest(token, strlen(token), digest);
    snprintf(out, 65, "%s", digest + strlen("sha256:"));
}

static const struct kf_db_stmt create_stmt = {
    "kf_token_create",
    "INSERT INTO api_tokens (name, token_hash, scopes) VALUES ($1, $2, coalesce($3::text[], '{read,build}'))"};

int kf_token_create(struct kf_db *db, const char *name, const char *const *scopes, size_t n,
                    char token_out[KF_TOKEN_BUF], int *conflict, char *err)
{
    token_out[0] = 0;
    if (conflict)
        *conflict = 0;
    if (!name_valid(name))
        return kf_fail(err, KF_EINVAL, "token names are 1 to %d letters, digits, '.', '_' or '-'",
                       KF_TOKEN_NAME_MAX);
    if (n > KF_TOKEN_SCOPES_MAX)
        return kf_fail(err, KF_EINVAL, "at most %d scopes", KF_TOKEN_SCOPES_MAX);
    for (size_t i = 0; i < n; i++)
        if (!scope_valid(scopes[i]))
            return kf_fail(err, KF_EINVAL, "scopes are 1 to 32 lowercase letters or ':'");
    unsigned char random[20];
    if (RAND_bytes(random, sizeof random) != 1)
        return kf_fail(err, KF_EINTERNAL, "no random bytes for a token");
    char token[KF_TOKEN_LEN + 1] = "kf_";
    kf_hex(random, sizeof random, token + 3);
    char hash[65];
    token_hash(token, hash);
    char *array = n ? kf_db_text_array(scopes, n) : NULL;
    if (n && !array)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    struct kf_db_params p = {0};
    kf_db_param_text(&p, name);
    kf_db_param_text(&p, hash);
    kf_db_param_text(&p, array);
    PGresult *res;
    int rc = kf_db_run(db, &create_stmt, &p, 0, "creating a token", &res, err);
    PQclear(res);
    free(array);
    if (rc == KF_EINVAL && strcmp(db->sqlstate, "23505") == 0) {
        if (conflict)
            *conflict = 1;
        return kf_fail(err, KF_EINVAL, "a token named %s already exists", name);
    }
    if (rc == KF_OK)
        snprintf(token_out, KF_TOKEN_BUF, "%s", token);
    return rc;
}

/* The update runs whatever the outer select returns: data-modifying CTEs
 * always do. It writes only when last_used_at is a minute old. */
static const struct kf_db_stmt verify_stmt = {
    "kf_token_verify",
    "WITH t AS ("
    "  SELECT id, name, scopes, revoked_at FROM api_tokens WHERE token_hash = $1"
    "), u AS ("
    "  UPDATE api_tokens a SET last_used_at = now() FROM t"
    "  WHERE a.id = t.id AND t.revoked_at IS NULL"
    "   AND (a.last_used_at IS NULL OR a.last_used_at < now() - interval '1 minute')"
    ")"
    " SELECT name, array_to_json(scopes)::text FROM t WHERE revoked_at IS NULL"};

int kf_token_verify(struct kf_db *db, const char *token, int *valid, char name_out[128], json_t **scopes,
                    char *err)
{
    *valid = 0;
    name_out[0] = 0;
    if (scopes)
        *scopes = NULL;
    if (!token_wellformed(token))
        return KF_OK;
    char hash[65];
    token_hash(token, hash);
    struct kf_db_params p = {0};
    kf_db_param_text(&p, hash);
    PGresult *res;
    /* Only a timestamp may be written: safe to resend. */
    int rc = kf_db_run(db, &verify_stmt, &p, KF_DB_RETRY, "checking a token", &res, err);
    if (rc)
        return rc;
    if (PQntuples(res) == 1) {
        if (scopes && (rc = kf_db_get_json(res, 0, 1, scopes, err)))
            goto out;
        snprintf(name_out, 128, "%s", PQgetvalue(res, 0, 0));
        *valid = 1;
    }
out:
    PQclear(res);
    return rc;
}

static const struct kf_db_stmt revoke_stmt = {
    "kf_token_revoke",
    "WITH u AS ("
    "  UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL"
    ")"
    " SELECT 1 FROM api_tokens WHERE name = $1"};

int kf_token_revoke(struct kf_db *db, const char *name, char *err)
{
    if (!name_valid(name))
        return kf_fail(err, KF_EINVAL, "bad token name");
    struct kf_db_params p = {0};
    kf_db_param_text(&p, name);
    PGresult *res;
    int rc = kf_db_run(db, &revoke_stmt, &p, KF_DB_RETRY, "revoking a token", &res, err);
    if (rc == KF_OK && PQntuples(res) == 0)
        rc = kf_fail(err, KF_ENOTFOUND, "no token named %s", name);
    PQclear(res);
    return rc;
}

static const struct kf_db_stmt list_stmt = {
    "kf_token_list",
    "SELECT coalesce(json_agg(json_build_object('name', name, 'scopes', scopes,"
    "  'created_at', " KF_DB_TS("created_at") ", 'last_used_at', " KF_DB_TS("last_used_at") ","
    "  'revoked_at', " KF_DB_TS("revoked_at") ", 'project', project) ORDER BY id), '[]')::text FROM api_tokens"};

int kf_token_list(struct kf_db *db, json_t **tokens, char *err)
{
    *tokens = NULL;
    PGresult *res;
    int rc = kf_db_run(db, &list_stmt, NULL, KF_DB_RETRY, "listing tokens", &res, err);
    if (rc)
        return rc;
    rc = kf_db_get_json(res, 0, 0, tokens, err);
    PQclear(res);
    return rc;
}
