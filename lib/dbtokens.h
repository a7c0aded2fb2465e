/* API tokens: "kf_" + 40 random hex digits, shown once; the database keeps
 * only their sha256. As thread-safe as the connection (one per thread). */
#ifndef KF_DBTOKENS_H
#define KF_DBTOKENS_H

#include <jansson.h>
#include <stddef.h>

#include "db.h"
#include "error.h"

#define KF_TOKEN_LEN 43      /* "kf_" + 40 hex */
#define KF_TOKEN_BUF 80      /* token_out size */
#define KF_TOKEN_NAME_MAX 64 /* name_out holds up to 127 */
#define KF_TOKEN_SCOPES_MAX 16

/* Creates token name ([A-Za-z0-9._-], 1..KF_TOKEN_NAME_MAX) with scopes
 * (n of them, each [a-z:]{1,32}; n = 0 gives the default read, build) and
 * writes the token into token_out. A name in use, even by a revoked token,
 * is KF_EINVAL with *conflict = 1 (may be NULL). */
int kf_token_create(struct kf_db *db, const char *name, const char *const *scopes, size_t n,
                    char token_out[KF_TOKEN_BUF], int *conflict, char *err) KF_MUST_CHECK;

/* *valid = 1 when token exists and is not revoked; then name_out gets its
 * name and *scopes its scopes as a JSON array of strings (caller decrefs;
 * may be NULL). A malformed token is simply invalid (no query). Records
 * last_used_at at most once a minute, so most checks write nothing. */
int kf_token_verify(struct kf_db *db, const char *token, int *valid, char name_out[128], json_t **scopes,
                    char *err) KF_MUST_CHECK;

/* Revokes by name; revoking twice is fine. KF_ENOTFOUND. */
int kf_token_revoke(struct kf_db *db, const char *name, char *err) KF_MUST_CHECK;

/* [{"name", "scopes", "created_at", "last_used_at", "revoked_at"}] oldest
 * first; never the hash. Caller decrefs. */
int kf_token_list(struct kf_db *db, json_t **tokens, char *err) KF_MUST_CHECK;

#endif
