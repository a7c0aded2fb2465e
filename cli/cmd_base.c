/* kofarm base create: a multi-platform base image from one rootfs tar. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basegen.h"
#include "commands.h"
#include "opts.h"

int cmd_base(int argc, char **argv)
{
    int rc = 1;
    const char *platform = NULL, *layer = NULL, *user = NULL;
    int insecure = 0, help = 0;
    struct cli_list env = {0};
    const char **pos = NULL;
    size_t n_pos = 0;
    struct kf_platform *plats = NULL;
    size_t n_plats = 0;
    int all = 0;
    struct kf_registry *reg = NULL;
    char err[KF_ERRLEN] = "", digest[KF_DIGEST_LEN];
    const struct cli_opt opts[] = {
        {"platform", 0, CLI_STRING, &platform},
        {"layer", 0, CLI_STRING, &layer},
        {"user", 0, CLI_STRING, &user},
        {"env", 0, CLI_LIST, &env},
        {"insecure-registry", 0, CLI_BOOL, &insecure},
        {"help", 'h', CLI_BOOL, &help},
    };
    if (argc < 1 || strcmp(argv[0], "create") != 0 ||
        cli_parse(argc - 1, argv + 1, opts, sizeof opts / sizeof opts[0], &pos, &n_pos) || help || n_pos != 1 ||
        !platform || !layer) {
        fprintf(help ? stdout : stderr, "Usage: kofarm base create --platform P1,P2,... --layer ROOTFS.tar "
                                        "[--user U] [--env K=V]... [--insecure-registry] REF\n");
        rc = help ? 0 : 2;
        goto out;
    }
    if (kf_platform_parse_list(platform, &plats, &n_plats, &all, err) || all) {
        fprintf(stderr, "kofarm: %s\n", all ? "--platform all needs a base to choose from: name them" : err);
        rc = 2;
        goto out;
    }
    struct kf_reg_opts ro = {.insecure_hosts = insecure ? "*" : getenv("KOFARM_INSECURE_REGISTRIES"),
                             .cancel = &cli_cancel};
    struct kf_basegen_opts bo = {
        .rootfs_tar = layer,
        .platforms = plats,
        .n_platforms = n_plats,
        .user = user,
        .env = env.items,
        .n_env = env.n,
        .dest = pos[0],
    };
    if (kf_reg_new(&ro, &reg, err) || kf_basegen_create(reg, &bo, digest, err)) {
        fprintf(stderr, "kofarm: %s\n", err);
        goto out;
    }
    const char *at = strchr(pos[0], '@');
    printf("%.*s@%s\n", at ? (int)(at - pos[0]) : (int)strlen(pos[0]), pos[0], digest);
    rc = 0;
out:
    kf_reg_free(reg);
    cli_list_free(&env);
    free(plats);
    free(pos);
    return rc;
}
