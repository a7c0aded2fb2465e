/* What the remote commands share: which server and token to use, the API
 * client, following a job to its end, cancelling it on Ctrl-C. */
#ifndef KF_CLI_REMOTE_H
#define KF_CLI_REMOTE_H

#include <jansson.h>
#include <stdio.h>

#include "apiclient.h"

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

#endif
