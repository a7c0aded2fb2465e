/* Command-line option parsing shared by the kofarm commands. */
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int list_add(struct cli_list *l, const char *s)
{
    const char **items = realloc(l->items, (l->n + 1) * sizeof *items);
    if (!items)
        return -1;
    l->items = items;
    l->items[l->n++] = s;
    return 0;
}

static int list_add_csv(struct cli_list *l, const char *s)
{
    char *copy = strdup(s);
    char **owned = realloc(l->owned, (l->n_owned + 1) * sizeof *owned);
    if (!copy || !owned) {
        free(copy);
        if (owned)
            l->owned = owned;
        return -1;
    }
    l->owned = owned;
    l->owned[l->n_owned++] = copy;
    for (char *tok = copy; tok;) {
        char *comma = strchr(tok, ',');
        if (comma)
            *comma = 0;
        if (*tok && list_add(l, tok))
            return -1;
        tok = comma ? comma + 1 : NULL;
    }
    return 0;
}

void cli_list_free(struct cli_list *l)
{
    for (size_t i = 0; i < l->n_owned; i++)
        free(l->owned[i]);
    free(l->owned);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static int set_value(const struct cli_opt *o, const char *name, const char *value)
{
    switch (o->kind) {
    case CLI_BOOL:
        if (!value || strcmp(value, "true") == 0 || strcmp(value, "1") == 0) {
            *(int *)o->dest = 1;
        } else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0) {
            *(int *)o->dest = 0;
        } else {
            fprintf(stderr, "kofarm: invalid boolean \"%s\" for %s\n", value, name);
            return 2;
        }
        return 0;
    case CLI_STRING:
        *(const char **)o->dest = value;
        return 0;
    case CLI_LIST:
        return list_add(o->dest, value) ? 2 : 0;
    case CLI_CSV:
        return list_add_csv(o->dest, value) ? 2 : 0;
    case CLI_INT: {
        char *end = NULL;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end || v < 0 || v > 1000000) {
            fprintf(stderr, "kofarm: invalid number \"%s\" for %s\n", value, name);
            return 2;
        }
        *(int *)o->dest = (int)v;
        return 0;
    }
    }
    return 2;
}

int cli_parse(int argc, char **argv, const struct cli_opt *opts, size_t n_opts, const char ***pos, size_t *n_pos)
{
    *pos = calloc((size_t)argc + 1, sizeof **pos);
    *n_pos = 0;
    if (!*pos)
        return 2;
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
            (*pos)[(*n_pos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        const struct cli_opt *o = NULL;
        const char *value = NULL;
        char name[128];
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            for (size_t k = 0; k < n_opts; k++)
                if (strlen(opts[k].long_name) == len && strncmp(opts[k].long_name, a + 2, len) == 0)
                    o = &opts[k];
            snprintf(name, sizeof name, "--%.*s", (int)(len < 100 ? len : 100), a + 2);
            if (eq)
                value = eq + 1;
        } else {
            for (size_t k = 0; k < n_opts; k++)
                if (opts[k].short_name && opts[k].short_name == a[1])
                    o = &opts[k];
            snprintf(name, sizeof name, "-%c", a[1]);
            if (o && a[2])
                value = a + 2 + (a[2] == '=');
        }
        if (!o) {
            fprintf(stderr, "kofarm: unknown flag %s\n", name);
            return 2;
        }
        if (!value && o->kind != CLI_BOOL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "kofarm: flag %s needs a value\n", name);
                return 2;
            }
            value = argv[++i];
        }
        int rc = set_value(o, name, value);
        if (rc)
            return rc;
    }
    return 0;
}
