/* kofarm: ko's interface on kofarm's engine. Dispatches to the commands. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

volatile int cli_cancel;

static void on_signal(int sig)
{
    (void)sig;
    cli_cancel = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "kofarm %s: build Go container images exactly as ko does\n"
            "\n"
            "Usage:\n"
            "  kofarm build|publish [flags] IMPORTPATH...   build, containerize and push Go main packages\n"
            "  kofarm containerize [flags] --name NAME BINARY  wrap a prebuilt binary the same way\n"
            "  kofarm resolve -f PATH... [-R] [-l SEL] [--strict=false] [--pin-tags] [flags]\n"
            "                                               build every ko:// reference in YAML, print it resolved\n"
            "  kofarm apply|create -f PATH... [flags] [-- KUBECTL FLAGS]  resolve, then kubectl apply|create -f -\n"
            "  kofarm delete -f PATH... [-R] [-l SEL] [-- KUBECTL FLAGS]  kubectl delete -f PATH... (no build)\n"
            "  kofarm login REGISTRY -u USER (-p PASS | --password-stdin)\n"
            "  kofarm base create --platform P,... --layer ROOTFS.tar [--user U] [--env K=V] REF\n"
            "  kofarm version\n"
            "\n"
            "Run 'kofarm COMMAND --help' for a command's flags.\n",
            KF_VERSION);
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "build") == 0 || strcmp(cmd, "publish") == 0)
        return cmd_build(argc - 2, argv + 2, 0);
    if (strcmp(cmd, "containerize") == 0)
        return cmd_build(argc - 2, argv + 2, 1);
    if (strcmp(cmd, "resolve") == 0)
        return cmd_resolve(argc - 2, argv + 2, CLI_RESOLVE);
    if (strcmp(cmd, "apply") == 0)
        return cmd_resolve(argc - 2, argv + 2, CLI_APPLY);
    if (strcmp(cmd, "create") == 0)
        return cmd_resolve(argc - 2, argv + 2, CLI_CREATE);
    if (strcmp(cmd, "delete") == 0)
        return cmd_resolve(argc - 2, argv + 2, CLI_DELETE);
    if (strcmp(cmd, "login") == 0)
        return cmd_login(argc - 2, argv + 2);
    if (strcmp(cmd, "base") == 0)
        return cmd_base(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("kofarm %s\n", KF_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "kofarm: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
