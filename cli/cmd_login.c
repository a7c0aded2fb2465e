/* kofarm login: check credentials against the registry, then store them in
 * the docker config.json the builds read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "commands.h"
#include "dockercfg.h"
#include "opts.h"
#include "registry.h"

#define KF_PASSWORD_MAX 4096

static int read_password_stdin(struct kf_buf *pw)
{
    char chunk[512];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (kf_buf_append(pw, chunk, n))
            return -1;
    while (pw->len > 0 && (pw->data[pw->len - 1] == '\n' || pw->data[pw->len - 1] == '\r'))
        pw->data[--pw->len] = 0;
    return 0;
}

int cmd_login(int argc, char **argv)
{
    int rc = 1;
    const char *user = NULL, *password = NULL;
    int password_stdin = 0, insecure = 0, help = 0;
    const char **pos = NULL;
    size_t n_pos = 0;
    struct kf_registry *reg = NULL;
    char err[KF_ERRLEN] = "";
    struct kf_buf pw;
    kf_buf_init(&pw, KF_PASSWORD_MAX);
    const struct cli_opt opts[] = {
        {"username", 'u', CLI_STRING, &user},
        {"password", 'p', CLI_STRING, &password},
        {"password-stdin", 0, CLI_BOOL, &password_stdin},
        {"insecure-registry", 0, CLI_BOOL, &insecure},
        {"help", 'h', CLI_BOOL, &help},
    };
    if (cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], &pos, &n_pos) || help || n_pos != 1 || !user ||
        (!password == !password_stdin)) {
        fprintf(help ? stdout : stderr,
                "Usage: kofarm login REGISTRY -u USER (-p PASSWORD | --password-stdin) [--insecure-registry]\n");
        rc = help ? 0 : 2;
        goto out;
    }
    const char *registry = pos[0];
    if (!*registry || strchr(registry, '/') || registry[0] == '-') {
        fprintf(stderr, "kofarm: \"%s\" is not a registry host\n", registry);
        rc = 2;
        goto out;
    }
    if (password_stdin) {
        if (read_password_stdin(&pw) || pw.len == 0) {
            fprintf(stderr, "kofarm: no password on standard input\n");
            goto out;
        }
        password = (const char *)pw.data;
    }
    struct kf_reg_opts ro = {.insecure_hosts = insecure ? registry : getenv("KOFARM_INSECURE_REGISTRIES"),
                             .cancel = &cli_cancel};
    if (kf_reg_new(&ro, &reg, err) || kf_reg_check_login(reg, registry, user, password, err) ||
        kf_dockercfg_store(NULL, registry, user, password, err)) {
        fprintf(stderr, "kofarm: %s\n", err);
        goto out;
    }
    fprintf(stderr, "Login to %s succeeded\n", registry);
    rc = 0;
out:
    if (pw.data)
        memset(pw.data, 0, pw.cap);
    kf_buf_free(&pw);
    kf_reg_free(reg);
    free(pos);
    return rc;
}
