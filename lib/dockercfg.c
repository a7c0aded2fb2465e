/* Docker config.json credentials: lookup (helpers, then auths) and the
 * read-modify-write store behind `kofarm login`. */
#include "dockercfg.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "buf.h"
#include "spawn.h"

#define SECRET_MAX 16384         /* user names, passwords, tokens */
#define HELPER_OUT_MAX 65536
#define HELPER_TIMEOUT_MS 30000
#define HUB_KEY "https://index.docker.io/v1/"

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const unsigned char *in, size_t n)
{
    if (n > SIZE_MAX / 4 - 4)
        return NULL;
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        *o++ = b64_chars[v >> 18 & 63];
        *o++ = b64_chars[v >> 12 & 63];
        *o++ = i + 1 < n ? b64_chars[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? b64_chars[v & 63] : '=';
    }
    *o = 0;
    return out;
}

/* Standard alphabet, padding optional. Caller frees *out (NUL-terminated). */
static int b64_decode(const char *in, char **out, size_t *out_len)
{
    size_t n = strlen(in);
    while (n > 0 && in[n - 1] == '=')
        n--;
    char *buf = malloc(n / 4 * 3 + 3), *o = buf;
    if (!buf)
        return KF_ENOMEM;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = in[i] ? strchr(b64_chars, in[i]) : NULL;
        if (!p) {
            free(buf);
            return KF_EINVAL;
        }
        v = (v << 6 | (unsigned)(p - b64_chars)) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = (char)(v >> bits & 0xff);
        }
    }
    if (bits >= 6) { /* a lone trailing character carries no byte */
        free(buf);
        return KF_EINVAL;
    }
    *o = 0;
    *out = buf;
    *out_len = (size_t)(o - buf);
    return KF_OK;
}

char *kf_dockercfg_basic(const char *user, const char *password)
{
    char *plain = NULL;
    if (asprintf(&plain, "%s:%s", user, password) < 0)
        return NULL;
    char *enc = b64_encode((const unsigned char *)plain, strlen(plain));
    memset(plain, 0, strlen(plain));
    free(plain);
    return enc;
}

static int is_hub(const char *host, size_t n)
{
    static const char *const names[] = {"index.docker.io", "docker.io", "registry-1.docker.io"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i]) == n && strncasecmp(host, names[i], n) == 0)
            return 1;
    }
    return 0;
}

const char *kf_dockercfg_server_key(const char *registry_host)
{
    return is_hub(registry_host, strlen(registry_host)) ? HUB_KEY : registry_host;
}

/* Whether an auths key ("host", "https://host/v1/") names host. */
static int key_matches(const char *key, const char *host)
{
    if (strncasecmp(key, "https://", 8) == 0)
        key += 8;
    else if (strncasecmp(key, "http://", 7) == 0)
        key += 7;
    size_t n = strcspn(key, "/");
    if (strlen(host) == n && strncasecmp(key, host, n) == 0)
        return 1;
    return is_hub(key, n) && is_hub(host, strlen(host));
}

static int default_path(char *out, size_t size, char *err)
{
    const char *dir = getenv("DOCKER_CONFIG");
    int n;
    if (dir && *dir) {
        n = snprintf(out, size, "%s/config.json", dir);
    } else {
        const char *home = getenv("HOME");
        if (!home || !*home)
            return kf_fail(err, KF_ENOTFOUND, "no docker config: neither DOCKER_CONFIG nor HOME is set");
        n = snprintf(out, size, "%s/.docker/config.json", home);
    }
    if (n < 0 || (size_t)n >= size)
        return kf_fail(err, KF_EINVAL, "docker config path too long");
    return KF_OK;
}

/* Values end up in HTTP headers and form bodies: no control characters. */
static int secret_ok(const char *s)
{
    size_t n = strnlen(s, SECRET_MAX + 1);
    if (n > SECRET_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    }
    return 1;
}

static int set_creds(const char *user, const char *secret, char **out_user, char **out_secret, const char *what,
                     char *err)
{
    if (!secret_ok(user) || !secret_ok(secret) || (strcmp(user, KF_DOCKERCFG_TOKEN_USER) != 0 && strchr(user, ':')))
        return kf_fail(err, KF_ECONFIG, "%s: unusable credentials (control characters, ':' in the user name, or "
                                        "too long)", what);
    *out_user = strdup(user);
    *out_secret = strdup(secret);
    if (!*out_user || !*out_secret) {
        free(*out_user);
        free(*out_secret);
        *out_user = *out_secret = NULL;
        return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    return KF_OK;
}

/* Copies printable ASCII of s (up to n bytes) for an error message. */
static void printable(const char *s, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n && s[i] && o + 1 < size; i++)
        out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : ' ';
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = 0;
}

static int run_helper(const char *name, const char *host, char **user, char **secret, char *err)
{
    char prog[160], msg[256];
    struct kf_buf out;
    json_t *root = NULL;
    int rc, status = -1;
    if (!*name || strlen(name) > 100 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                      "0123456789._-") != strlen(name))
        return kf_fail(err, KF_ECONFIG, "docker config: bad credential helper name");
    snprintf(prog, sizeof prog, "docker-credential-%s", name);
    const char *server = kf_dockercfg_server_key(host);
    const char *argv[] = {prog, "get", NULL};
    kf_buf_init(&out, HELPER_OUT_MAX);
    struct kf_spawn sp = {.argv = argv, .stdin_data = server, .stdin_len = strlen(server), .out = &out,
                          .errout = &out, .timeout_ms = HELPER_TIMEOUT_MS};
    rc = kf_spawn_run(&sp, &status, err);
    if (rc == KF_ENOTFOUND) {
        rc = kf_fail(err, KF_ECONFIG, "credential helper %s (configured in docker config) is not installed", prog);
        goto out;
    }
    if (rc) {
        rc = kf_fail(err, KF_ECONFIG, "credential helper %s failed", prog);
        goto out;
    }
    const char *text = out.data ? (const char *)out.data : "";
    if (status != 0) {
        if (strstr(text, "credentials not found")) {
            rc = KF_ENOTFOUND;
            goto out;
        }
        printable(text, 200, msg, sizeof msg);
        rc = kf_fail(err, KF_ECONFIG, "credential helper %s exited with %d: %s", prog, status, msg);
        goto out;
    }
    json_error_t jerr;
    root = json_loadb(text, out.len, 0, &jerr);
    const char *u = json_string_value(json_object_get(root, "Username"));
    const char *s = json_string_value(json_object_get(root, "Secret"));
    if (!root || !json_is_object(root)) {
        rc = kf_fail(err, KF_ECONFIG, "credential helper %s: output is not a JSON object", prog);
        goto out;
    }
    if (!s || !*s) {
        rc = KF_ENOTFOUND;
        goto out;
    }
    rc = set_creds(u ? u : "", s, user, secret, prog, err);
out:
    json_decref(root);
    if (out.data)
        memset(out.data, 0, out.cap);
    kf_buf_free(&out);
    return rc;
}

/* One auths entry: "auth" (base64 user:pass), "username"/"password", or
 * "identitytoken" (which wins, as in go-containerregistry). */
static int from_auth_entry(json_t *entry, const char *key, char **user, char **secret, char *err)
{
    char what[300];
    snprintf(what, sizeof what, "docker config auths[\"%.200s\"]", key);
    const char *token = json_string_value(json_object_get(entry, "identitytoken"));
    if (token && *token)
        return set_creds(KF_DOCKERCFG_TOKEN_USER, token, user, secret, what, err);
    const char *auth = json_string_value(json_object_get(entry, "auth"));
    if (auth && *auth) {
        char *plain = NULL;
        size_t len = 0;
        if (strlen(auth) > SECRET_MAX * 2 || b64_decode(auth, &plain, &len))
            return kf_fail(err, KF_ECONFIG, "%s: \"auth\" is not base64", what);
        char *colon = strlen(plain) == len ? strchr(plain, ':') : NULL;
        int rc = colon ? KF_OK : kf_fail(err, KF_ECONFIG, "%s: \"auth\" is not base64(user:password)", what);
        if (colon) {
            *colon = 0;
            rc = set_creds(plain, colon + 1, user, secret, what, err);
        }
        memset(plain, 0, len);
        free(plain);
        return rc;
    }
    const char *u = json_string_value(json_object_get(entry, "username"));
    const char *p = json_string_value(json_object_get(entry, "password"));
    if (u && *u && p)
        return set_creds(u, p, user, secret, what, err);
    return KF_ENOTFOUND;
}

static int from_auths(json_t *auths, const char *host, char **user, char **secret, char *err)
{
    const char *key;
    json_t *entry;
    /* An exact key wins over one that only normalises to the host. */
    const char *exact[] = {kf_dockercfg_server_key(host), host};
    for (size_t i = 0; i < 2; i++) {
        if ((entry = json_object_get(auths, exact[i])) && json_is_object(entry))
            return from_auth_entry(entry, exact[i], user, secret, err);
    }
    json_object_foreach(auths, key, entry) {
        if (json_is_object(entry) && key_matches(key, host))
            return from_auth_entry(entry, key, user, secret, err);
    }
    return KF_ENOTFOUND;
}

static int load_config(const char *path, json_t **root, char *err)
{
    struct kf_buf text;
    json_error_t jerr;
    kf_buf_init(&text, KF_DOCKERCFG_MAX);
    int rc = kf_buf_read_file(&text, path, err);
    if (rc)
        goto out;
    *root = json_loadb(text.data ? (const char *)text.data : "", text.len, 0, &jerr);
    if (!*root || !json_is_object(*root)) {
        rc = kf_fail(err, KF_ECONFIG, "%s:%d: not a JSON object: %s", path, jerr.line, *root ? "" : jerr.text);
        json_decref(*root);
        *root = NULL;
    }
out:
    if (text.data)
        memset(text.data, 0, text.cap);
    kf_buf_free(&text);
    return rc;
}

int kf_dockercfg_lookup(const char *config_path, const char *registry_host, char **user, char **secret, char *err)
{
    char path[4096];
    json_t *root = NULL;
    int rc;
    *user = *secret = NULL;
    if (!config_path) {
        if ((rc = default_path(path, sizeof path, err)))
            return rc;
        config_path = path;
    }
    rc = load_config(config_path, &root, err);
    if (rc)
        return rc;
    json_t *helpers = json_object_get(root, "credHelpers");
    const char *helper = NULL, *key;
    json_t *value;
    json_object_foreach(helpers, key, value) {
        if (json_is_string(value) && key_matches(key, registry_host)) {
            helper = json_string_value(value);
            break;
        }
    }
    if (!helper)
        helper = json_string_value(json_object_get(root, "credsStore"));
    rc = KF_ENOTFOUND;
    if (helper && *helper)
        rc = run_helper(helper, registry_host, user, secret, err);
    if (rc == KF_ENOTFOUND) {
        json_t *auths = json_object_get(root, "auths");
        rc = json_is_object(auths) ? from_auths(auths, registry_host, user, secret, err) : KF_ENOTFOUND;
    }
    json_decref(root);
    if (rc == KF_ENOTFOUND)
        kf_fail(err, KF_ENOTFOUND, "no credentials for %s in %s", registry_host, config_path);
    return rc;
}

/* mkdir -p of path's parent directories, mode 0700. */
static int make_parents(const char *path, char *err)
{
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return kf_fail(err, KF_EINVAL, "path too long: %s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return kf_fail(err, KF_EIO, "mkdir %s: %s", dir, strerror(errno));
        *p = '/';
    }
    return KF_OK;
}

int kf_dockercfg_store(const char *config_path, const char *registry_host, const char *user, const char *password,
                       char *err)
{
    char path[4096];
    json_t *root = NULL, *auths, *entry = NULL;
    char *auth = NULL, *text = NULL;
    int rc;
    if (!registry_host || !*registry_host || !secret_ok(registry_host) || !user || !*user || !secret_ok(user) ||
        strchr(user, ':') || !password || !secret_ok(password))
        return kf_fail(err, KF_EINVAL, "login: empty or unusable registry, user name or password");
    if (!config_path) {
        if ((rc = default_path(path, sizeof path, err)))
            return rc == KF_ENOTFOUND ? KF_ECONFIG : rc;
        config_path = path;
    }
    rc = load_config(config_path, &root, err);
    if (rc == KF_ENOTFOUND) {
        rc = (root = json_object()) ? KF_OK : KF_ENOMEM;
        if (rc)
            kf_fail(err, rc, "out of memory");
    }
    if (rc)
        goto out;
    auths = json_object_get(root, "auths");
    if (!auths) {
        if (!(auths = json_object()) || json_object_set_new(root, "auths", auths)) {
            rc = kf_fail(err, KF_ENOMEM, "out of memory");
            goto out;
        }
    } else if (!json_is_object(auths)) {
        rc = kf_fail(err, KF_ECONFIG, "%s: \"auths\" is not an object", config_path);
        goto out;
    }
    rc = kf_fail(err, KF_ENOMEM, "out of memory");
    if (!(auth = kf_dockercfg_basic(user, password)) || !(entry = json_object()) ||
        json_object_set_new(entry, "auth", json_string(auth)))
        goto out;
    if (json_object_set_new(auths, kf_dockercfg_server_key(registry_host), entry)) {
        entry = NULL; /* set_new consumed it even on failure */
        goto out;
    }
    entry = NULL;
    if (!(text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER)))
        goto out;
    if ((rc = make_parents(config_path, err)))
        goto out;
    rc = kf_write_file_atomic(config_path, text, strlen(text), 0600, err);
out:
    json_decref(entry);
    json_decref(root);
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    if (text) {
        memset(text, 0, strlen(text));
        free(text);
    }
    return rc;
}
