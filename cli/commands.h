/* The kofarm commands; each returns the process exit code (0, 1 error, 2 usage). */
#ifndef KF_CLI_COMMANDS_H
#define KF_CLI_COMMANDS_H

#define KF_VERSION "0.1.0"

int cmd_build(int argc, char **argv, int containerize);
int cmd_login(int argc, char **argv);
int cmd_base(int argc, char **argv);
/* Remote mode (cli/cmd_remote.c, cli/cmd_jobs.c): against a kofarm server. */
int cmd_remote_build(int argc, char **argv);
int cmd_remote_resolve(int argc, char **argv); /* cli/cmd_remote_resolve.c */
int cmd_status(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_cancel(int argc, char **argv);

enum cli_resolve_mode { CLI_RESOLVE, CLI_APPLY, CLI_CREATE, CLI_DELETE };
int cmd_resolve(int argc, char **argv, enum cli_resolve_mode mode);

/* Set by SIGINT/SIGTERM; the engine polls it. */
extern volatile int cli_cancel;

#endif
