/* Resolving ko's package arguments with one `go list` run, and checking
 * that each names exactly one `main` package (ko's IsSupportedReference). */
#include "gobuild.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "golocal.h"
#include "gotool.h"
#include "naming.h"

#define LIST_OUT_MAX ((size_t)16 << 20)
#define LIST_ERR_MAX ((size_t)256 << 10)
#define LIST_ARGS_MAX 10000
#define STRICT_SCHEME "ko://"

void kf_gopkg_free(struct kf_gopkg *p)
{
    if (!p)
        return;
    free(p->import_path);
    free(p->name);
    free(p->dir);
    free(p->first_go_file);
    free(p->module_path);
    free(p->module_dir);
    memset(p, 0, sizeof *p);
}

static int is_local(const char *p)
{
    return strcmp(p, ".") == 0 || strcmp(p, "..") == 0 || strncmp(p, "./", 2) == 0 || strncmp(p, "../", 3) == 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Checks one argument and puts it in the form go reports back in "Match"
 * (search.CleanPatterns: cleaned, a leading "./" kept). Caller frees. */
static int clean_arg(const char *arg, char **out, char *err)
{
    *out = NULL;
    size_t len = strlen(arg);
    if (len == 0 || len > KF_GO_ARG_MAX)
        return kf_fail(err, KF_EINVAL, "import path of %zu bytes (1 to %d allowed)", len, KF_GO_ARG_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)arg[i];
        if (c < 0x20 || c == 0x7f)
            return kf_fail(err, KF_EINVAL, "import path %.100s...: control character", arg);
    }
    const char *p = strncmp(arg, STRICT_SCHEME, strlen(STRICT_SCHEME)) == 0 ? arg + strlen(STRICT_SCHEME) : arg;
    const char *why = NULL;
    if (!*p)
        why = "empty";
    else if (arg[0] == '-' || p[0] == '-')
        why = "must not start with '-'";
    else if (strstr(p, "..."))
        why = "patterns with \"...\" name several packages";
    else if (!is_local(p) && p[0] != '/' && strchr(p, '@'))
        why = "versions (\"@\") are not supported";
    else if (!strcmp(p, "all") || !strcmp(p, "std") || !strcmp(p, "cmd") || !strcmp(p, "tool"))
        why = "meta-packages name several packages";
    else if (ends_with(p, ".go"))
        why = "a Go file is not a package";
    if (why)
        return kf_fail(err, KF_EINVAL, "bad import path %s: %s", arg, why);

    char *cleaned = kf_naming_path_join("", p);
    if (cleaned && strncmp(p, "./", 2) == 0 && strcmp(cleaned, ".") != 0) {
        char *dotted = NULL;
        if (asprintf(&dotted, "./%s", cleaned) < 0)
            dotted = NULL;
        free(cleaned);
        cleaned = dotted;
    }
    if (!cleaned)
        return kf_fail(err, KF_ENOMEM, "out of memory");
    *out = cleaned;
    return KF_OK;
}

/* A string member, or NULL when absent; KF_EBUILD when it is not text. */
static int get_string(json_t *obj, const char *key, const char **value)
{
    json_t *v = json_object_get(obj, key);
    *value = NULL;
    if (!v)
        return KF_OK;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return KF_EBUILD;
    *value = json_string_value(v);
    return KF_OK;
}

static int matches(json_t *pkg, const char *pattern)
{
    json_t *list = json_object_get(pkg, "Match");
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m) {
        if (json_is_string(m) && strcmp(json_string_value(m), pattern) == 0)
            return 1;
    }
    return 0;
}

/* go's error text for one package: its first line, without go's advice. */
static int package_error(const char *arg, const char *text, char *err)
{
    char line[KF_ERRLEN];
    size_t len = strcspn(text, "\n");
    if (len >= sizeof line)
        len = sizeof line - 1;
    memcpy(line, text, len);
    line[len] = 0;
    static const char advice[] = "; to add it:";
    if (ends_with(line, advice))
        line[len - (sizeof advice - 1)] = 0;
    return kf_gotool_fail(err, KF_EBUILD, arg, line);
}

static const char *first_file(json_t *pkg)
{
    static const char *const lists[] = {"GoFiles", "CgoFiles"};
    for (size_t i = 0; i < 2; i++) {
        json_t *first = json_array_get(json_object_get(pkg, lists[i]), 0);
        if (json_is_string(first) && strlen(json_string_value(first)) == json_string_length(first) &&
            !strchr(json_string_value(first), '/'))
            return json_string_value(first);
    }
    return NULL;
}

/* Fills out from go's answer for arg, checking it is a usable main package. */
static int take_package(const char *arg, json_t *pkg, struct kf_gopkg *out, char *err)
{
    const char *import_path, *name, *dir, *mod_path = NULL, *mod_dir = NULL;
    json_t *error = json_object_get(pkg, "Error");
    if (error) {
        const char *text = NULL;
        if (get_string(error, "Err", &text) || !text)
            text = "unknown error";
        return package_error(arg, text, err);
    }
    json_t *module = json_object_get(pkg, "Module");
    if (get_string(pkg, "ImportPath", &import_path) || get_string(pkg, "Name", &name) ||
        get_string(pkg, "Dir", &dir) || (module && (get_string(module, "Path", &mod_path) ||
                                                    get_string(module, "Dir", &mod_dir))) ||
        !import_path || !name || !dir || dir[0] != '/')
        return kf_fail(err, KF_EBUILD, "%s: go list gave an incomplete answer", arg);
    if (strcmp(name, "main") != 0) {
        if (strcmp(arg, import_path) == 0 || (strncmp(arg, STRICT_SCHEME, 5) == 0 && !strcmp(arg + 5, import_path)))
            return kf_fail(err, KF_EBUILD, "package %s is not a main package", import_path);
        return kf_fail(err, KF_EBUILD, "%s: package %s is not a main package", arg, import_path);
    }
    const char *file = first_file(pkg);
    if (!file)
        return kf_fail(err, KF_EBUILD, "%s: package %s contains no Go files", arg, import_path);
    out->import_path = strdup(import_path);
    out->name = strdup(name);
    out->dir = strdup(dir);
    if (asprintf(&out->first_go_file, "%s/%s", dir, file) < 0)
        out->first_go_file = NULL;
    out->module_path = mod_path ? strdup(mod_path) : NULL;
    out->module_dir = mod_dir ? strdup(mod_dir) : NULL;
    if (!out->import_path || !out->name || !out->dir || !out->first_go_file || (mod_path && !out->module_path) ||
        (mod_dir && !out->module_dir))
        return kf_fail(err, KF_ENOMEM, "out of memory");
    return KF_OK;
}

/* go list -json prints one object after another, not an array. */
static int parse_stream(const struct kf_buf *out, json_t *pkgs, char *err)
{
    const char *data = out->data ? (const char *)out->data : "";
    size_t off = 0;
    for (;;) {
        while (off < out->len && strchr(" \t\r\n", data[off]))
            off++;
        if (off >= out->len)
            return KF_OK;
        json_error_t jerr;
        json_t *obj = json_loadb(data + off, out->len - off, JSON_DISABLE_EOF_CHECK, &jerr);
        if (!json_is_object(obj) || jerr.position <= 0) {
            json_decref(obj);
            return kf_fail(err, KF_EBUILD, "go list: unexpected output at byte %zu: %s", off,
                           obj ? "not an object" : jerr.text);
        }
        off += (size_t)jerr.position;
        if (json_array_append_new(pkgs, obj))
            return kf_fail(err, KF_ENOMEM, "out of memory");
    }
}

int kf_go_list(const char *go, const char *workdir, char *const *envp, const char *const *args, size_t nargs,
               struct kf_gopkg *out, char *err)
{
    struct kf_buf stdout_buf, stderr_buf;
    char **cleaned = NULL;
    const char **argv = NULL;
    json_t *pkgs = NULL;
    int rc;
    kf_buf_init(&stdout_buf, LIST_OUT_MAX);
    kf_buf_init(&stderr_buf, LIST_ERR_MAX);
    for (size_t i = 0; i < nargs; i++)
        memset(&out[i], 0, sizeof out[i]);
    if (nargs == 0 || nargs > LIST_ARGS_MAX)
        return kf_fail(err, KF_EINVAL, "%zu import paths (1 to %d allowed)", nargs, LIST_ARGS_MAX);

    static const char *const head[] = {
        /* -find: the packages themselves, not their dependency graph (go
         * build reports a missing dependency anyway), much cheaper on large
         * modules. */
        "list", "-e", "-find", "-json=ImportPath,Name,Dir,GoFiles,CgoFiles,Module,Match,Error", "--",
    };
    const size_t n_head = sizeof head / sizeof head[0];
    cleaned = calloc(nargs, sizeof *cleaned);
    argv = calloc(n_head + nargs + 1, sizeof *argv);
    pkgs = json_array();
    if (!cleaned || !argv || !pkgs) {
        rc = kf_fail(err, KF_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(argv, head, sizeof head);
    size_t local = 0;
    for (size_t i = 0; i < nargs; i++) {
        rc = clean_arg(args[i], &cleaned[i], err);
        if (rc)
            goto out;
        argv[n_head + i] = cleaned[i];
        if (local == i && kf_go_list_local(workdir, envp, cleaned[i], &out[i]))
            local++;
    }
    if (local == nargs) /* every one answered without go */
        goto out;
    for (size_t i = 0; i < local; i++)
        kf_gopkg_free(&out[i]);

    struct kf_gotool_run run = {.go = go, .workdir = workdir, .envp = envp, .args = argv, .out = &stdout_buf,
                                .errout = &stderr_buf};
    rc = kf_gotool_run(&run, err);
    if (rc)
        goto out;
    rc = parse_stream(&stdout_buf, pkgs, err);
    if (rc)
        goto out;

    for (size_t i = 0; i < nargs; i++) {
        json_t *found = NULL, *pkg;
        size_t j, count = 0;
        json_array_foreach(pkgs, j, pkg) {
            if (matches(pkg, cleaned[i])) {
                found = pkg;
                count++;
            }
        }
        if (count != 1) {
            rc = count ? kf_fail(err, KF_EBUILD, "%s: names %zu packages, expected 1", args[i], count)
                       : kf_fail(err, KF_EBUILD, "%s: go list found no such package", args[i]);
            goto out;
        }
        rc = take_package(args[i], found, &out[i], err);
        if (rc)
            goto out;
    }
out:
    if (rc) {
        for (size_t i = 0; i < nargs; i++)
            kf_gopkg_free(&out[i]);
    }
    if (cleaned) {
        for (size_t i = 0; i < nargs; i++)
            free(cleaned[i]);
    }
    free(cleaned);
    free(argv);
    json_decref(pkgs);
    kf_buf_free(&stdout_buf);
    kf_buf_free(&stderr_buf);
    return rc;
}
