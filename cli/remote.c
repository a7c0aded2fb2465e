/* The remote commands' shared plumbing: server and token selection, error
 * hints, following a build's log to its end, cancel on Ctrl-C. */
#include "remote.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"

#define FOLLOW_RETRIES 30     /* consecutive failures before giving up (~1 min) */
#define FOLLOW_PAUSE_MS 200
#define CANCEL_TIMEOUT_MS 10000

const char *cli_server_flag;
const char *cli_token_flag;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

const char *remote_server(const char *cmd_flag)
{
    if (cmd_flag)
        return cmd_flag;
    if (cli_server_flag)
        return cli_server_flag;
    return getenv("KOFARM_SERVER");
}

static const char *remote_token(const char *token_flag)
{
    const char *t = token_flag ? token_flag : cli_token_flag ? cli_token_flag : getenv("KOFARM_TOKEN");
    return t && *t ? t : NULL;
}

int remote_open(const char *server, const char *token_flag, int cancelable, struct kf_api **api)
{
    char err[KF_ERRLEN] = "";
    *api = NULL;
    if (!server || !*server) {
        fprintf(stderr, "kofarm: no server: give --server URL or set KOFARM_SERVER\n");
        return 2;
    }
    struct kf_api_opts o = {
        .server = server, .token = remote_token(token_flag), .cancel = cancelable ? &cli_cancel : NULL,
    };
    int rc = kf_api_new(&o, api, err);
    if (rc != KF_OK) {
        fprintf(stderr, "kofarm: %s\n", err);
        return rc == KF_EINVAL ? 2 : 1;
    }
    return 0;
}

/* Whether this client sends a token (for the hint after a 401). */
static int has_token(void)
{
    return remote_token(NULL) != NULL;
}

int remote_fail(const struct kf_api *api, int rc, const char *what, const char *err)
{
    (void)api;
    if (rc == KF_ECANCELED) {
        fprintf(stderr, "kofarm: %s: canceled\n", what);
        return 130;
    }
    const char *hint = "";
    if (rc == KF_EAUTH)
        hint = has_token() ? " (the server refused the token: check --token or KOFARM_TOKEN)"
                           : " (no token given: pass --token TOKEN or set KOFARM_TOKEN)";
    else if (rc == KF_EDENIED)
        hint = " (the token may not do this: it needs another scope)";
    fprintf(stderr, "kofarm: %s: %s%s\n", what, err[0] ? err : kf_strerror(rc), hint);
    return 1;
}

int remote_cancel_now(const struct kf_api *api, const char *id, char *err)
{
    struct kf_api *quiet = NULL;
    struct kf_api_opts o = {.server = kf_api_server(api), .token = remote_token(NULL), .timeout_ms = CANCEL_TIMEOUT_MS};
    int rc = kf_api_new(&o, &quiet, err);
    if (rc == KF_OK && kf_api_set_collection(quiet, kf_api_collection(api)) != KF_OK)
        rc = kf_fail(err, KF_EINTERNAL, "bad collection");
    if (rc == KF_OK)
        rc = kf_api_cancel(quiet, id, NULL, err);
    kf_api_free(quiet);
    return rc;
}

const char *remote_job_error(const json_t *job)
{
    static char text[KF_ERRLEN];
    const json_t *e = json_object_get(job, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *message = json_string_value(json_object_get(e, "message"));
    if (!message && json_is_string(e))
        message = json_string_value(e);
    snprintf(text, sizeof text, "%s%s%s", code ? code : "", code && message ? ": " : "", message ? message : "");
    return text;
}

static void to_stream(void *ctx, const char *data, size_t len)
{
    FILE *f = ctx;
    if (!f)
        return;
    fwrite(data, 1, len, f);
    fflush(f);
}

int remote_follow(struct kf_api *api, const char *id, FILE *log_out, int cancel_build, json_t **job, char *err)
{
    size_t seen = 0;
    int failures = 0, log_works = 1, rc = KF_OK;
    char log_err[KF_ERRLEN] = "";
    *job = NULL;
    for (;;) {
        if (log_works) {
            size_t got = 0;
            rc = kf_api_log(api, id, 1, seen, to_stream, log_out, &got, log_err);
            seen += got;
            if (got)
                failures = 0;
            if (rc == KF_ECANCELED || cli_cancel)
                goto canceled;
            if (rc != KF_OK && rc != KF_ENET) {
                /* No log to follow (an older server?): wait on the job alone. */
                fprintf(stderr, "kofarm: cannot follow the log of build %s: %s; waiting for it to end\n", id, log_err);
                log_works = 0;
            }
        }
        json_t *now = NULL;
        rc = kf_api_get_job(api, id, &now, err);
        if (rc == KF_ECANCELED || cli_cancel) {
            json_decref(now);
            goto canceled;
        }
        if (rc == KF_OK) {
            const char *state = json_string_value(json_object_get(now, "state"));
            int active = kf_api_state_is_active(state);
            if (active == 0) {
                *job = now;
                return KF_OK;
            }
            json_decref(now);
            if (active < 0)
                return kf_fail(err, KF_EINVAL, "build %s is in the unknown state \"%.40s\"", id, state ? state : "");
            failures = 0;
        } else if (rc != KF_ENET) {
            return rc;
        } else if (++failures > FOLLOW_RETRIES) {
            return rc;
        }
        /* The stream ended but the job runs on (server restart, proxy
         * timeout): pause, then resume where the log left off. */
        for (int slept = 0; slept < (log_works ? FOLLOW_PAUSE_MS : 5 * FOLLOW_PAUSE_MS) && !cli_cancel; slept += 50)
            sleep_ms(50);
        if (cli_cancel)
            goto canceled;
    }
canceled:
    if (!cancel_build)
        return kf_fail(err, KF_ECANCELED, "interrupted");
    fprintf(stderr, "\nkofarm: interrupted: canceling build %s\n", id);
    rc = remote_cancel_now(api, id, err);
    if (rc != KF_OK)
        fprintf(stderr, "kofarm: could not cancel build %s: %s\n", id, err);
    else
        fprintf(stderr, "kofarm: canceled build %s\n", id);
    return kf_fail(err, KF_ECANCELED, "canceled");
}
