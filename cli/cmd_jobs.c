/* kofarm --server URL status|logs|cancel ID: a build already submitted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiclient.h"
#include "commands.h"
#include "opts.h"
#include "remote.h"

struct job_cmd {
    const char *server, *token;
    int help, json, follow;
    const char *id;
    struct kf_api *api;
};

static void jobs_usage(FILE *f, const char *cmd)
{
    if (strcmp(cmd, "status") == 0)
        fprintf(f, "Usage: kofarm --server URL status [--json] ID\n"
                   "  Shows a build's state, error and images (--json: the job as the server returns it).\n");
    else if (strcmp(cmd, "logs") == 0)
        fprintf(f, "Usage: kofarm --server URL logs [-f] ID\n"
                   "  Prints a build's log on stdout (-f, --follow: until the build ends).\n");
    else
        fprintf(f, "Usage: kofarm --server URL cancel ID\n"
                   "  Cancels a queued or running build and prints its state.\n");
    fprintf(f, "Flags: --server URL (default $KOFARM_SERVER), --token TOKEN (default $KOFARM_TOKEN)\n");
}

/* Parses the flags and the one ID, opens the client; 0 or an exit code. */
static int job_cmd_open(int argc, char **argv, const char *cmd, struct job_cmd *c)
{
    const char **pos = NULL;
    size_t n_pos = 0;
    int rc = 2;
    const struct cli_opt opts[] = {
        {"server", 0, CLI_STRING, &c->server},
        {"token", 0, CLI_STRING, &c->token},
        {"json", 0, CLI_BOOL, &c->json},
        {"follow", 'f', CLI_BOOL, &c->follow},
        {"help", 'h', CLI_BOOL, &c->help},
    };
    /* status takes --json, logs takes -f: offer each only its own. */
    size_t n_opts = sizeof opts / sizeof opts[0];
    struct cli_opt mine[5];
    size_t n_mine = 0;
    for (size_t i = 0; i < n_opts; i++)
        if ((strcmp(opts[i].long_name, "json") != 0 || strcmp(cmd, "status") == 0) &&
            (strcmp(opts[i].long_name, "follow") != 0 || strcmp(cmd, "logs") == 0))
            mine[n_mine++] = opts[i];
    if (cli_parse(argc, argv, mine, n_mine, &pos, &n_pos)) {
        jobs_usage(stderr, cmd);
        goto out;
    }
    if (c->help) {
        jobs_usage(stdout, cmd);
        rc = -1;
        goto out;
    }
    if (n_pos != 1) {
        jobs_usage(stderr, cmd);
        goto out;
    }
    c->id = pos[0];
    if (!kf_api_id_ok(c->id)) {
        fprintf(stderr, "kofarm: \"%.80s\" is not a build id\n", c->id);
        goto out;
    }
    if (c->token)
        cli_token_flag = c->token;
    rc = remote_open(remote_server(c->server), cli_token_flag, 1, &c->api);
out:
    free(pos);
    return rc;
}

static void print_summary(const json_t *job)
{
    char id[KF_API_ID_MAX];
    if (!kf_api_job_id(job, id))
        snprintf(id, sizeof id, "?");
    const char *state = json_string_value(json_object_get(job, "state"));
    printf("build %s: %s\n", id, state ? state : "(no state)");
    static const char *const times[] = {"created_at", "started_at", "finished_at"};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        const char *t = json_string_value(json_object_get(job, times[i]));
        if (t)
            printf("  %-12s %s\n", times[i], t);
    }
    const json_t *result = json_object_get(job, "result");
    const char *commit = json_string_value(json_object_get(result, "commit"));
    if (!commit)
        commit = json_string_value(json_object_get(job, "commit"));
    if (commit)
        printf("  %-12s %s\n", "commit", commit);
    const char *why = remote_job_error(job);
    if (*why)
        printf("  %-12s %s\n", "error", why);
    const json_t *images = json_object_get(result, "images");
    for (size_t i = 0; i < json_array_size(images); i++) {
        const json_t *img = json_array_get(images, i);
        const char *path = json_string_value(json_object_get(img, "importpath"));
        const char *ref = json_string_value(json_object_get(img, "reference"));
        printf("  %s %s\n", path ? path : "?", ref ? ref : "?");
    }
}

int cmd_status(int argc, char **argv)
{
    struct job_cmd c = {0};
    json_t *job = NULL;
    char err[KF_ERRLEN] = "";
    int rc = job_cmd_open(argc, argv, "status", &c);
    if (rc)
        return rc < 0 ? 0 : rc;
    int arc = kf_api_get_job(c.api, c.id, &job, err);
    if (arc != KF_OK) {
        rc = remote_fail(c.api, arc, "status", err);
    } else if (c.json) {
        char *text = json_dumps(job, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            printf("%s\n", text);
        free(text);
        rc = text ? 0 : 1;
    } else {
        print_summary(job);
        rc = 0;
    }
    json_decref(job);
    kf_api_free(c.api);
    return rc;
}

static void to_stdout(void *ctx, const char *data, size_t len)
{
    (void)ctx;
    fwrite(data, 1, len, stdout);
    fflush(stdout);
}

int cmd_logs(int argc, char **argv)
{
    struct job_cmd c = {0};
    json_t *job = NULL;
    char err[KF_ERRLEN] = "";
    int rc = job_cmd_open(argc, argv, "logs", &c);
    if (rc)
        return rc < 0 ? 0 : rc;
    int arc;
    if (c.follow) {
        /* Ctrl-C while watching a build stops watching; it does not cancel it. */
        arc = remote_follow(c.api, c.id, stdout, 0, &job, err);
    } else {
        arc = kf_api_log(c.api, c.id, 0, 0, to_stdout, NULL, NULL, err);
    }
    rc = arc == KF_OK ? 0 : remote_fail(c.api, arc, "logs", err);
    json_decref(job);
    kf_api_free(c.api);
    return rc;
}

int cmd_cancel(int argc, char **argv)
{
    struct job_cmd c = {0};
    json_t *job = NULL;
    char err[KF_ERRLEN] = "";
    int rc = job_cmd_open(argc, argv, "cancel", &c);
    if (rc)
        return rc < 0 ? 0 : rc;
    int arc = kf_api_cancel(c.api, c.id, &job, err);
    if (arc != KF_OK) {
        rc = remote_fail(c.api, arc, "cancel", err);
    } else {
        const char *state = json_string_value(json_object_get(job, "state"));
        printf("build %s: %s\n", c.id, state ? state : "cancel requested");
        rc = 0;
    }
    json_decref(job);
    kf_api_free(c.api);
    return rc;
}
