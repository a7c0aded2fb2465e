/* kf_dockercfg: credentials from config.json (auths, credHelpers,
 * credsStore through fake docker-credential-* helpers) and login's store. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "dockercfg.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/kf-dockercfg-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Removes our own mkdtemp directory only. */
static void teardown(void)
{
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(dockercfg, .init = setup, .fini = teardown);

static char *path_of(const char *name)
{
    char *p;
    cr_assert_geq(asprintf(&p, "%s/%s", dir, name), 0);
    return p;
}

static char *write_config(const char *json)
{
    char *p = path_of("config.json");
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(json, f);
    fclose(f);
    return p;
}

/* A fake helper: answers for hosts it knows, "not found" for others, and
 * echoes the server address it read into the user name. */
static void install_helper(void)
{
    char *bin = path_of("bin");
    cr_assert_eq(mkdir(bin, 0700), 0);
    char *p = path_of("bin/docker-credential-fake");
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs("#!/bin/sh\n"
          "[ \"$1\" = get ] || exit 2\n"
          "server=$(cat)\n"
          "case \"$server\" in\n"
          "  helped.io) printf '{\"ServerURL\":\"%s\",\"Username\":\"u-%s\",\"Secret\":\"s3cret\"}' "
          "\"$server\" \"$server\" ;;\n"
          "  https://index.docker.io/v1/) printf '{\"Username\":\"u-hub\",\"Secret\":\"s3cret\"}' ;;\n"
          "  broken.io) echo 'boom: keychain locked' >&2; exit 3 ;;\n"
          "  *) echo 'credentials not found in native keychain'; exit 1 ;;\n"
          "esac\n",
          f);
    fclose(f);
    cr_assert_eq(chmod(p, 0755), 0);
    char *path;
    cr_assert_geq(asprintf(&path, "%s:%s", bin, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin"), 0);
    setenv("PATH", path, 1);
    free(path);
    free(p);
    free(bin);
}

static void expect_creds(const char *cfg, const char *host, const char *user, const char *secret)
{
    char *u = NULL, *s = NULL, err[KF_ERRLEN] = "";
    int rc = kf_dockercfg_lookup(cfg, host, &u, &s, err);
    cr_expect_eq(rc, 0, "%s: rc %d: %s", host, rc, err);
    if (!rc) {
        cr_expect_str_eq(u, user, "%s", host);
        cr_expect_str_eq(s, secret, "%s", host);
    }
    free(u);
    free(s);
}

static void expect_rc(const char *cfg, const char *host, int want, const char *msg)
{
    char *u = NULL, *s = NULL, err[KF_ERRLEN] = "";
    int rc = kf_dockercfg_lookup(cfg, host, &u, &s, err);
    cr_expect_eq(rc, want, "%s: rc %d, want %d: %s", host, rc, want, err);
    cr_expect_null(u);
    cr_expect_null(s);
    if (msg)
        cr_expect(strstr(err, msg), "%s: message \"%s\" lacks \"%s\"", host, err, msg);
}

Test(dockercfg, basic_encoding)
{
    char *b = kf_dockercfg_basic("user", "pass");
    cr_expect_str_eq(b, "dXNlcjpwYXNz");
    free(b);
    b = kf_dockercfg_basic("a", "");
    cr_expect_str_eq(b, "YTo=");
    free(b);
    b = kf_dockercfg_basic("ab", "c:d");
    cr_expect_str_eq(b, "YWI6Yzpk");
    free(b);
    cr_expect_str_eq(kf_dockercfg_server_key("docker.io"), "https://index.docker.io/v1/");
    cr_expect_str_eq(kf_dockercfg_server_key("index.docker.io"), "https://index.docker.io/v1/");
    cr_expect_str_eq(kf_dockercfg_server_key("gcr.io"), "gcr.io");
}

Test(dockercfg, auths_keys)
{
    char *cfg = write_config("{\"auths\": {"
                             " \"plain.io\": {\"auth\": \"dXNlcjpwYXNz\"},"
                             " \"https://schemed.io\": {\"auth\": \"YTpiOmM=\"},"
                             " \"https://v1.io/v1/\": {\"username\": \"bob\", \"password\": \"pw\"},"
                             " \"127.0.0.1:5000\": {\"auth\": \"bG9jYWw6c2VjcmV0\"},"
                             " \"https://index.docker.io/v1/\": {\"auth\": \"aHViOmh1YnB3\"},"
                             " \"token.io\": {\"auth\": \"\", \"identitytoken\": \"refresh-me\"},"
                             " \"nopad.io\": {\"auth\": \"dXNlcjpwYXNz\"},"
                             " \"empty.io\": {}"
                             "}, \"other\": 1}");
    expect_creds(cfg, "plain.io", "user", "pass");
    expect_creds(cfg, "schemed.io", "a", "b:c"); /* the password may hold ':' */
    expect_creds(cfg, "v1.io", "bob", "pw");
    expect_creds(cfg, "127.0.0.1:5000", "local", "secret");
    expect_creds(cfg, "index.docker.io", "hub", "hubpw");
    expect_creds(cfg, "docker.io", "hub", "hubpw");
    expect_creds(cfg, "registry-1.docker.io", "hub", "hubpw");
    expect_creds(cfg, "token.io", "<token>", "refresh-me");
    expect_rc(cfg, "empty.io", KF_ENOTFOUND, "empty.io");
    expect_rc(cfg, "127.0.0.1:5001", KF_ENOTFOUND, NULL);
    expect_rc(cfg, "other.io", KF_ENOTFOUND, NULL);
    free(cfg);
}

Test(dockercfg, broken_files)
{
    char *missing = path_of("nope.json");
    expect_rc(missing, "a.io", KF_ENOTFOUND, NULL);
    free(missing);
    struct {
        const char *json, *msg;
        int rc;
    } cases[] = {
        {"{\"auths\": ", "config.json", KF_ECONFIG},
        {"[1, 2]", "not a JSON object", KF_ECONFIG},
        {"{\"auths\": {\"a.io\": {\"auth\": \"!!!\"}}}", "not base64", KF_ECONFIG},
        {"{\"auths\": {\"a.io\": {\"auth\": \"bm9jb2xvbg==\"}}}", "user:password", KF_ECONFIG}, /* "nocolon" */
        {"{\"auths\": {\"a.io\": {\"username\": \"u\", \"password\": \"p\\r\\nX-Evil: 1\"}}}", "unusable",
         KF_ECONFIG},
        {"{\"auths\": {\"a.io\": {\"auth\": \"dTpwAHg=\"}}}", "user:password", KF_ECONFIG}, /* NUL inside */
        {"{\"auths\": {\"a.io\": {\"username\": \"u:v\", \"password\": \"p\"}}}", "unusable", KF_ECONFIG},
        {"{\"auths\": 5}", NULL, KF_ENOTFOUND},
        {"{\"auths\": {\"a.io\": 5}}", NULL, KF_ENOTFOUND},
        {"{\"credHelpers\": {\"a.io\": \"../evil\"}}", "helper name", KF_ECONFIG},
        {"{\"credsStore\": \"not-installed-anywhere\"}", "not installed", KF_ECONFIG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *cfg = write_config(cases[i].json);
        expect_rc(cfg, "a.io", cases[i].rc, cases[i].msg);
        free(cfg);
    }
}

Test(dockercfg, credential_helpers)
{
    install_helper();
    char *cfg = write_config("{\"credHelpers\": {\"helped.io\": \"fake\", \"unknown.io\": \"fake\","
                             " \"broken.io\": \"fake\", \"https://index.docker.io/v1/\": \"fake\"},"
                             " \"auths\": {\"unknown.io\": {\"auth\": \"dXNlcjpwYXNz\"},"
                             " \"helped.io\": {\"auth\": \"aWdub3JlZDp4\"}}}");
    /* the helper wins over auths and gets the server address on stdin */
    expect_creds(cfg, "helped.io", "u-helped.io", "s3cret");
    expect_creds(cfg, "docker.io", "u-hub", "s3cret");
    /* the helper knows nothing: auths answers */
    expect_creds(cfg, "unknown.io", "user", "pass");
    expect_rc(cfg, "broken.io", KF_ECONFIG, "keychain locked");
    expect_rc(cfg, "elsewhere.io", KF_ENOTFOUND, NULL);
    free(cfg);

    cfg = write_config("{\"credsStore\": \"fake\", \"auths\": {\"other.io\": {\"auth\": \"dXNlcjpwYXNz\"}}}");
    expect_creds(cfg, "helped.io", "u-helped.io", "s3cret");
    expect_creds(cfg, "other.io", "user", "pass");
    expect_rc(cfg, "none.io", KF_ENOTFOUND, NULL);
    free(cfg);
}

Test(dockercfg, default_location)
{
    char *cfg = write_config("{\"auths\": {\"env.io\": {\"auth\": \"dXNlcjpwYXNz\"}}}");
    setenv("DOCKER_CONFIG", dir, 1);
    expect_creds(NULL, "env.io", "user", "pass");
    unsetenv("DOCKER_CONFIG");
    setenv("HOME", "/nonexistent-kofarm-home", 1);
    expect_rc(NULL, "env.io", KF_ENOTFOUND, NULL);
    free(cfg);
}

Test(dockercfg, store_keeps_other_keys)
{
    char *cfg = write_config("{\"auths\": {\"keep.io\": {\"auth\": \"dXNlcjpwYXNz\"},"
                             " \"127.0.0.1:5000\": {\"auth\": \"b2xkOm9sZA==\", \"email\": \"x\"}},"
                             " \"credHelpers\": {\"gcr.io\": \"gcloud\"}, \"psFormat\": \"table\"}");
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_dockercfg_store(cfg, "127.0.0.1:5000", "new", "pa:ss", err), 0, "%s", err);
    cr_assert_eq(kf_dockercfg_store(cfg, "docker.io", "hub", "pw", err), 0, "%s", err);
    expect_creds(cfg, "127.0.0.1:5000", "new", "pa:ss");
    expect_creds(cfg, "keep.io", "user", "pass");
    expect_creds(cfg, "index.docker.io", "hub", "pw");

    struct kf_buf text;
    kf_buf_init(&text, 0);
    cr_assert_eq(kf_buf_read_file(&text, cfg, err), 0);
    const char *t = (const char *)text.data;
    cr_expect(strstr(t, "\"psFormat\": \"table\""), "%s", t);
    cr_expect(strstr(t, "\"gcloud\""), "%s", t);
    cr_expect(strstr(t, "\"https://index.docker.io/v1/\""), "%s", t);
    cr_expect(strstr(t, "bmV3OnBhOnNz"), "%s", t); /* base64("new:pa:ss") */
    cr_expect_null(strstr(t, "email"), "the replaced entry keeps nothing old: %s", t);
    kf_buf_free(&text);
    struct stat st;
    cr_assert_eq(stat(cfg, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600);
    free(cfg);
}

Test(dockercfg, store_creates_directories)
{
    char *cfg = path_of("new/sub/config.json");
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_dockercfg_store(cfg, "r.io", "u", "p", err), 0, "%s", err);
    expect_creds(cfg, "r.io", "u", "p");
    char *sub = path_of("new/sub");
    struct stat st;
    cr_assert_eq(stat(sub, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0700);
    cr_assert_eq(stat(cfg, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600);
    free(sub);
    free(cfg);
}

Test(dockercfg, store_refuses_broken_input)
{
    char *cfg = write_config("{\"auths\": [broken");
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_dockercfg_store(cfg, "r.io", "u", "p", err), KF_ECONFIG);
    struct kf_buf text;
    kf_buf_init(&text, 0);
    cr_assert_eq(kf_buf_read_file(&text, cfg, err), 0);
    cr_expect_str_eq((const char *)text.data, "{\"auths\": [broken", "a broken file must stay untouched");
    kf_buf_free(&text);
    free(cfg);

    cfg = write_config("{\"auths\": \"x\"}");
    cr_expect_eq(kf_dockercfg_store(cfg, "r.io", "u", "p", err), KF_ECONFIG);
    cr_expect_eq(kf_dockercfg_store(cfg, "r.io", "u:x", "p", err), KF_EINVAL);
    cr_expect_eq(kf_dockercfg_store(cfg, "r.io", "u", "p\nq", err), KF_EINVAL);
    cr_expect_eq(kf_dockercfg_store(cfg, "", "u", "p", err), KF_EINVAL);
    free(cfg);
}
