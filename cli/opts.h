/* A small getopt-style parser for the CLI: --long, --long=value, -s value,
 * booleans as --flag / --flag=false, repeatable and comma-split lists. */
#ifndef KF_CLI_OPTS_H
#define KF_CLI_OPTS_H

#include <stddef.h>

enum cli_opt_kind {
    CLI_BOOL,   /* int *: --x, --x=true, --x=false */
    CLI_STRING, /* const char **: last one wins */
    CLI_LIST,   /* struct cli_list *: each occurrence appended */
    CLI_CSV,    /* struct cli_list *: each occurrence split on commas and appended */
    CLI_INT,    /* int *: a decimal in [0, 1000000] */
};

struct cli_list {
    const char **items; /* owned array; strings borrowed from argv or owned by the split buffer */
    size_t n;
    char **owned;       /* split copies to free */
    size_t n_owned;
};

struct cli_opt {
    const char *long_name;
    char short_name;    /* 0 for none */
    enum cli_opt_kind kind;
    void *dest;
};

/* Parses argv[0..argc) (without the command name). Positional arguments are
 * collected into *pos (array borrowed from argv; caller frees the array).
 * "--" ends options. Returns 0, or 2 with a message on stderr. */
int cli_parse(int argc, char **argv, const struct cli_opt *opts, size_t n_opts, const char ***pos, size_t *n_pos);
void cli_list_free(struct cli_list *l);

#endif
