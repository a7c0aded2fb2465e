/* What the remote commands share: which server and token to use, the API
 * client, following a job to its end, cancelling it on Ctrl-C. */
#ifndef KF_CLI_REMOTE_H
#define KF_CLI_REMOTE_H

#include <jansson.h>
#include <stdio.h>

#include "apiclient.h"
#include "opts.h"

struct kf_buf;

/* Set by main from the global flags (before the command); NULL when absent. */
extern const char *cli_server_flag;
extern const char *cli_token_flag;

/* The server to use: the command's --server, else the global one, else
 * $KOFARM_SERVER; NULL (or "") for none. */
const char *remote_server(const char *cmd_flag);

/* Opens a client for server with the token (the flag, else $KOFARM_TOKEN).
 * cancelable: Ctrl-C aborts its transfers. Returns 0, or an exit code
 * after printing the error. */
int remote_open(const char *server, const char *token_flag, int cancelable, struct kf_api **api);

/* Prints "kofarm: <what>: <err>" with a hint for the usual causes (no
 * token, a refused token) and returns the exit code (1, or 130 when canceled). */
int remote_fail(const struct kf_api *api, int rc, const char *what, const char *err);

/* Follows build id until it ends: its log goes to log_out as it comes
 * (NULL: not shown), resuming when the stream drops. *job: the final job
 * (caller decrefs). On Ctrl-C returns KF_ECANCELED, after asking the
 * server to cancel the build when cancel_build. */
int remote_follow(struct kf_api *api, const char *id, FILE *log_out, int cancel_build, json_t **job, char *err);

/* POST cancel for id with a client that Ctrl-C does not abort (10 s at most). */
int remote_cancel_now(const struct kf_api *api, const char *id, char *err);

/* The job's error text ("code: message") or "" (static storage). */
const char *remote_job_error(const json_t *job);

/* ---- cmd_remote.c: what remote build and remote resolve share ---- */

struct remote_opts {
    const char *server, *token, *repo, *platform, *user, *image_refs, *git, *ref, *commit, *project;
    int base_paths, preserve, bare, quiet, help, no_cache, jobs, push, trimpath, insecure, disable_opt;
    const char *oci_layout, *tarball;
    struct cli_list tags, labels, annotations, env, ldflags;
};
#define REMOTE_N_OPTS 40 /* room for the shared flags and a command's own */

/* Fills out (REMOTE_N_OPTS entries) with the shared flags bound to r; the count. */
size_t remote_opts_table(struct remote_opts *r, struct cli_opt *out);
void remote_opts_free(struct remote_opts *r);
/* Usage errors common to every remote command (local-only flags, -B/-P/--bare,
 * --ref/--commit, tags, env): 0 or the exit code 2 after a message. */
int remote_check_opts(const struct remote_opts *r);
/* The options (everything but what to build) as upload query parameters. */
int remote_options_query(const struct remote_opts *r, struct kf_api_query *q) KF_MUST_CHECK;
/* The options as a JSON request with a git source (caller decrefs); NULL after a message. */
json_t *remote_git_request(const struct remote_opts *r);
void remote_idempotency_key(char out[33]);
/* Finds the module around the working directory, rewrites pos[0..n_pos)
 * with rewrite (owned copies into *paths, n_pos + 1 entries) and packs the
 * module into tgz. 0, or 1 after a message. */
int remote_pack_module(const char *const *pos, size_t n_pos,
                       char *(*rewrite)(const char *root, const char *cwd, const char *path, char *err), int quiet,
                       char ***paths, struct kf_buf *tgz);
/* Submits the JSON request, or else the upload tgz (freed) with query;
 * prints "submitted WHAT ID" and follows the job's log on stderr (unless
 * quiet) to its end. *final: the finished job (caller decrefs). 0, or the
 * exit code after printing the error (130 on Ctrl-C). */
int remote_submit_follow(struct kf_api *api, const char *what, const json_t *request,
                         const struct kf_api_query *query, struct kf_buf *tgz, const char *key, int quiet,
                         char id[KF_API_ID_MAX], json_t **final);

#endif
