/* kofarm: ko's interface on kofarm's engine, locally or against a kofarm
 * server. Global flags, then dispatch to the commands. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "remote.h"

volatile int cli_cancel;

static void on_signal(int sig)
{
    (void)sig;
    cli_cancel = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "kofarm %s: build Go container images exactly as ko does, here or on a kofarm server\n"
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
            "Remote mode (a kofarm server builds; see 'kofarm --server URL build --help'):\n"
            "  kofarm --server URL build|publish [flags] IMPORTPATH...\n"
            "                           upload the Go module around the working directory (or name\n"
            "                           one with --git URL --ref REF|--commit SHA), follow the log on\n"
            "                           stderr, print the references on stdout; Ctrl-C cancels it\n"
            "  kofarm --server URL resolve -f PATH... [-R] [-l SEL] [flags]  resolve on the server, print the YAML\n"
            "  kofarm --server URL status [--json] ID   a build's state, error and images\n"
            "  kofarm --server URL logs [-f] ID         a build's log (-f: until it ends)\n"
            "  kofarm --server URL cancel ID            cancel a queued or running build\n"
            "\n"
            "Global flags: --server URL (default $KOFARM_SERVER; set, it makes build remote),\n"
            "              --token TOKEN (default $KOFARM_TOKEN)\n"
            "\n"
            "Run 'kofarm COMMAND --help' for a command's flags.\n",
            KF_VERSION);
}

/* --name VALUE or --name=VALUE at argv[*i]; advances *i past it. 1 when
 * matched, -1 when the value is missing, 0 otherwise. */
static int global_flag(int argc, char **argv, int *i, const char *name, const char **value)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        (*i)++;
        return 1;
    }
    if (a[n] != 0)
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[*i + 1];
    *i += 2;
    return 1;
}

/* Whether a build's own flags (before "--") include --server. */
static int has_server_flag(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--server") == 0 || strncmp(argv[i], "--server=", 9) == 0)
            return 1;
    }
    return 0;
}

static int run(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int i = 1;
    for (;;) {
        int m = 0;
        if (i < argc && ((m = global_flag(argc, argv, &i, "--server", &cli_server_flag)) != 0 ||
                         (m = global_flag(argc, argv, &i, "--token", &cli_token_flag)) != 0)) {
            if (m < 0) {
                fprintf(stderr, "kofarm: flag %s needs a value\n", argv[i]);
                return 2;
            }
            continue;
        }
        break;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[i];
    int sub_argc = argc - i - 1;
    char **sub_argv = argv + i + 1;
    const char *server = remote_server(NULL);
    int remote = (server && *server) || has_server_flag(sub_argc, sub_argv);

    if (strcmp(cmd, "build") == 0 || strcmp(cmd, "publish") == 0)
        return remote ? cmd_remote_build(sub_argc, sub_argv) : cmd_build(sub_argc, sub_argv, 0);
    if (strcmp(cmd, "resolve") == 0 && remote)
        return cmd_remote_resolve(sub_argc, sub_argv);
    if (strcmp(cmd, "status") == 0)
        return cmd_status(sub_argc, sub_argv);
    if (strcmp(cmd, "logs") == 0)
        return cmd_logs(sub_argc, sub_argv);
    if (strcmp(cmd, "cancel") == 0)
        return cmd_cancel(sub_argc, sub_argv);
    if (cli_server_flag && strcmp(cmd, "version") != 0 && strcmp(cmd, "help") != 0 && strcmp(cmd, "--help") != 0 &&
        strcmp(cmd, "-h") != 0) {
        fprintf(stderr, "kofarm: %s runs locally only; it takes no --server\n", cmd);
        return 2;
    }
    if (strcmp(cmd, "containerize") == 0)
        return cmd_build(sub_argc, sub_argv, 1);
    if (strcmp(cmd, "resolve") == 0)
        return cmd_resolve(sub_argc, sub_argv, CLI_RESOLVE);
    if (strcmp(cmd, "apply") == 0)
        return cmd_resolve(sub_argc, sub_argv, CLI_APPLY);
    if (strcmp(cmd, "create") == 0)
        return cmd_resolve(sub_argc, sub_argv, CLI_CREATE);
    if (strcmp(cmd, "delete") == 0)
        return cmd_resolve(sub_argc, sub_argv, CLI_DELETE);
    if (strcmp(cmd, "login") == 0)
        return cmd_login(sub_argc, sub_argv);
    if (strcmp(cmd, "base") == 0)
        return cmd_base(sub_argc, sub_argv);
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

/* Sanitizer builds leave through exit(): LeakSanitizer checks there. */
#if defined(__SANITIZE_ADDRESS__)
#define KF_QUICK_EXIT 0
#else
#define KF_QUICK_EXIT 1
#endif

int main(int argc, char **argv)
{
    int rc = run(argc, argv);
    /* Every command has closed its files by now; exit() would only add the
     * libraries' own clean-up (OpenSSL, gnutls, curl: ~0.5 ms of each run). */
    if (KF_QUICK_EXIT) {
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    return rc;
}
