#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "koconfig.h"
#include "../testfiles.h"

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

/* NULL-terminated expected list vs (v, n). */
static void expect_list(char **v, size_t n, const char *const *want, const char *what)
{
    size_t want_n = 0;
    while (want && want[want_n])
        want_n++;
    cr_expect_eq(n, want_n, "%s: %zu items, want %zu", what, n, want_n);
    for (size_t i = 0; i < n && i < want_n; i++)
        cr_expect_str_eq(v[i], want[i], "%s[%zu]", what, i);
}

static int parse(const char *yaml, struct kf_ko_config *c, char *err)
{
    return kf_koconfig_parse(yaml, strlen(yaml), ".ko.yaml", c, err);
}

Test(koconfig, full_file_as_ko_testdata)
{
    const char *yaml = "defaultBaseImage: alpine\n"
                       "defaultPlatforms: all\n"
                       "defaultEnv: FOO=bar\n"
                       "defaultFlags:\n"
                       "  - -tags\n"
                       "  - netgo\n"
                       "defaultLdflags:\n"
                       "  - -s -w\n"
                       "baseImageOverrides:\n"
                       "  github.com/GoogleCloudPlatform/foo/cmd/bar: gcr.io/distroless/base\n"
                       "  example.com/x: scratch\n"
                       "builds:\n"
                       "- id: foo-app\n"
                       "  dir: ./foo\n"
                       "  main: ./cmd\n"
                       "  flags: -v -v # shorthand\n"
                       "  ldflags: -s -w\n"
                       "  env: GOPRIVATE=x,y\n"
                       "  linux_capabilities: net_bind_service chown\n"
                       "- main: ./bar\n"
                       "  env: [A=1, 'B=two words']\n"
                       "  ldflags:\n"
                       "  - -X main.v={{.Env.V}}\n";
    struct kf_ko_config c;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(parse(yaml, &c, err), 0, "%s", err);
    cr_expect_null(c.path);
    cr_expect_str_eq(c.default_base_image, "alpine");
    expect_list(c.default_platforms, c.n_default_platforms, LIST("all"), "platforms");
    expect_list(c.default_env, c.n_default_env, LIST("FOO=bar"), "env");
    expect_list(c.default_flags, c.n_default_flags, LIST("-tags", "netgo"), "flags");
    expect_list(c.default_ldflags, c.n_default_ldflags, LIST("-s -w"), "ldflags");
    cr_assert_eq(c.n_overrides, 2);
    cr_expect_str_eq(c.overrides[0].importpath, "github.com/GoogleCloudPlatform/foo/cmd/bar");
    cr_expect_str_eq(c.overrides[1].base, "scratch");
    cr_assert_eq(c.n_builds, 2);
    const struct kf_ko_build *b = &c.builds[0];
    cr_expect_str_eq(b->id, "foo-app");
    cr_expect_str_eq(b->dir, "./foo");
    cr_expect_str_eq(b->main, "./cmd");
    cr_expect_null(b->importpath);
    expect_list(b->flags, b->n_flags, LIST("-v", "-v"), "b0.flags");
    expect_list(b->ldflags, b->n_ldflags, LIST("-s -w"), "b0.ldflags"); /* StringArray: kept whole */
    expect_list(b->env, b->n_env, LIST("GOPRIVATE=x,y"), "b0.env");
    expect_list(b->linux_capabilities, b->n_linux_capabilities, LIST("net_bind_service", "chown"), "b0.caps");
    b = &c.builds[1];
    cr_expect_str_eq(b->id, "#1");
    cr_expect_str_eq(b->dir, ".");
    cr_expect_str_eq(b->main, "./bar");
    expect_list(b->env, b->n_env, LIST("A=1", "B=two words"), "b1.env");
    expect_list(b->ldflags, b->n_ldflags, LIST("-X main.v={{.Env.V}}"), "b1.ldflags");
    cr_expect_eq(b->n_flags, 0);
    kf_koconfig_free(&c);
    cr_expect_null(c.builds);
    cr_expect_eq(c.n_builds, 0);
    kf_koconfig_free(&c); /* a zeroed config frees fine */
}

struct empty_case {
    const char *yaml;
};

static const struct empty_case empty_cases[] = {
    {""}, {"\n\n"}, {"# only a comment\n"}, {"---\n"}, {"--- \n...\n"}, {"{}"}, {"~"},
    {"defaultBaseImage:\nbuilds:\ndefaultFlags: []\nbaseImageOverrides: {}\n"},
};

Test(koconfig, empty_configs)
{
    for (size_t i = 0; i < sizeof empty_cases / sizeof empty_cases[0]; i++) {
        struct kf_ko_config c;
        char err[KF_ERRLEN] = "";
        cr_expect_eq(parse(empty_cases[i].yaml, &c, err), 0, "case %zu: %s", i, err);
        cr_expect_null(c.default_base_image, "case %zu", i);
        cr_expect_eq(c.n_builds + c.n_overrides + c.n_default_flags, 0, "case %zu", i);
        kf_koconfig_free(&c);
    }
}

Test(koconfig, keys_are_case_insensitive_like_viper)
{
    const char *yaml = "DefaultBaseImage: a\nDEFAULTFLAGS: -x\n"
                       "builds:\n- ID: one\n  Main: ./m\n  LINUX_CAPABILITIES: [a]\n";
    struct kf_ko_config c;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(parse(yaml, &c, err), 0, "%s", err);
    cr_expect_str_eq(c.default_base_image, "a");
    expect_list(c.default_flags, c.n_default_flags, LIST("-x"), "flags");
    cr_expect_str_eq(c.builds[0].id, "one");
    cr_expect_str_eq(c.builds[0].main, "./m");
    cr_expect_eq(c.builds[0].n_linux_capabilities, 1);
    kf_koconfig_free(&c);
}

Test(koconfig, scalars_are_taken_as_text)
{
    const char *yaml = "defaultFlags: [1, true, \"null\", !!str 0x10, 'a b']\ndefaultEnv: \"  A=1 \\t B=2  \"\n";
    struct kf_ko_config c;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(parse(yaml, &c, err), 0, "%s", err);
    expect_list(c.default_flags, c.n_default_flags, LIST("1", "true", "null", "0x10", "a b"), "flags");
    expect_list(c.default_env, c.n_default_env, LIST("A=1", "B=2"), "env");
    kf_koconfig_free(&c);
}

struct bad_case {
    const char *yaml;
    int rc;
    const char *want; /* exact message, or a prefix when it ends with '*' */
};

static const struct bad_case bad_cases[] = {
    {"defaultBaseImage: a\ndefaultFlags: []\ndefaultBaseImag: x\n", KF_ECONFIG,
     ".ko.yaml:3:1: unknown key \"defaultBaseImag\""},
    {"defaultPlatforms:\n  - linux/amd64\ndefaultEnv: []\n\n\ndefaultFlags:\n  a: b\n", KF_ECONFIG,
     ".ko.yaml:7:3: defaultFlags must be a list of strings"},
    {"defaultFlags: [a, [b]]\n", KF_ECONFIG, ".ko.yaml:1:19: defaultFlags must be a list of strings"},
    {"defaultLdflags: [a, ~]\n", KF_ECONFIG, ".ko.yaml:1:21: defaultLdflags must be a list of strings"},
    {"defaultBaseImage: [a]\n", KF_ECONFIG, ".ko.yaml:1:19: defaultBaseImage must be a string"},
    {"defaultBaseImage: ''\n", KF_ECONFIG, ".ko.yaml:1:19: defaultBaseImage must not be empty"},
    {"defaultBaseImage: a\ndefaultbaseimage: b\n", KF_ECONFIG,
     ".ko.yaml:2:1: duplicate key \"defaultbaseimage\" (first at line 1)"},
    {"- a\n", KF_ECONFIG, ".ko.yaml:1:1: the configuration must be a map of settings"},
    {"just text\n", KF_ECONFIG, ".ko.yaml:1:1: the configuration must be a map of settings"},
    {"[a]: b\n", KF_ECONFIG, ".ko.yaml:1:1: keys must be strings"},
    {"builds: {a: b}\n", KF_ECONFIG, ".ko.yaml:1:9: builds must be a list of maps"},
    {"builds: [x]\n", KF_ECONFIG, ".ko.yaml:1:10: builds[0] must be a map"},
    {"builds:\n- id: a\n- goos: linux\n", KF_ECONFIG, ".ko.yaml:3:3: builds[1]: unknown key \"goos\""},
    {"builds:\n- id: [a]\n", KF_ECONFIG, ".ko.yaml:2:7: builds[0].id must be a string"},
    {"builds:\n- flags: {a: 1}\n", KF_ECONFIG, ".ko.yaml:2:10: builds[0].flags must be a list of strings"},
    {"builds:\n- env: [[x]]\n", KF_ECONFIG, ".ko.yaml:2:9: builds[0].env must be a list of strings"},
    {"builds:\n- main: a\n  MAIN: b\n", KF_ECONFIG,
     ".ko.yaml:3:3: builds[0]: duplicate key \"MAIN\" (first at line 2)"},
    {"baseImageOverrides: [a]\n", KF_ECONFIG,
     ".ko.yaml:1:21: baseImageOverrides must be a map of import path to base image"},
    {"baseImageOverrides:\n  example.com/a:\n", KF_ECONFIG,
     ".ko.yaml:2:17: baseImageOverrides: \"example.com/a\" must map to a base image reference"},
    {"baseImageOverrides:\n  example.com/a: [x]\n", KF_ECONFIG,
     ".ko.yaml:2:18: baseImageOverrides: \"example.com/a\" must map to a base image reference"},
    {"baseImageOverrides:\n  example.com/A: x\n  b: y\n  example.com/a: z\n", KF_ECONFIG,
     ".ko.yaml:4:3: baseImageOverrides: duplicate import path \"example.com/a\" (first at line 2)"},
    {"defaultBaseImage: &a x\n", KF_ECONFIG, ".ko.yaml:1:19: anchors and aliases are not supported"},
    {"defaultBaseImage: *a\n", KF_ECONFIG, ".ko.yaml:1:19: anchors and aliases are not supported"},
    {"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", KF_ECONFIG, ".ko.yaml:1:4: anchors and aliases are not supported"},
    {"defaultBaseImage: !custom x\n", KF_ECONFIG, ".ko.yaml:1:19: unsupported tag \"!custom\""},
    {"defaultFlags: !!set {a}\n", KF_ECONFIG, ".ko.yaml:1:15: unsupported tag \"tag:yaml.org,2002:set\""},
    {"defaultBaseImage: \"a\\0b\"\n", KF_ECONFIG, ".ko.yaml:1:19: NUL character in a string"},
    {"defaultBaseImage: a\n---\ndefaultBaseImage: b\n", KF_ECONFIG,
     ".ko.yaml:2:1: several YAML documents are not supported"},
    {"\x1b[31m: x\n", KF_ECONFIG, ".ko.yaml: control characters are not allowed at byte 0"},
    {"d\xc3\xa9" "faut\\: x\n", KF_ECONFIG, ".ko.yaml:1:1: unknown key \"d\\xc3\\xa9faut\\\\\""},
    {"defaultBaseImage: [a\n", KF_ECONFIG, ".ko.yaml:*"},
    {"a:\tb\n  c: d\n", KF_ECONFIG, ".ko.yaml:*"},
    {"defaultBaseImage: \"\xff\xfe\"\n", KF_ECONFIG, ".ko.yaml: invalid *"},
    {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", KF_ECONFIG, ".ko.yaml:1:17: nested too deeply"},
};

Test(koconfig, bad_inputs)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *b = &bad_cases[i];
        struct kf_ko_config c;
        char err[KF_ERRLEN] = "";
        int rc = parse(b->yaml, &c, err);
        cr_expect_eq(rc, b->rc, "case %zu: rc %d (%s)", i, rc, err);
        size_t n = strlen(b->want);
        if (b->want[n - 1] == '*')
            cr_expect(strncmp(err, b->want, n - 1) == 0, "case %zu: %s", i, err);
        else
            cr_expect_str_eq(err, b->want, "case %zu", i);
        cr_expect_null(c.builds, "case %zu: partial config left", i);
        kf_koconfig_free(&c);
    }
}

Test(koconfig, caps)
{
    struct kf_ko_config c;
    char err[KF_ERRLEN] = "";
    size_t big = KF_KOCONFIG_MAX_BYTES + 1;
    char *text = malloc(big);
    cr_assert_not_null(text);
    memset(text, '#', big);
    cr_expect_eq(kf_koconfig_parse(text, big, "x.yaml", &c, err), KF_ETOOBIG);
    cr_expect_str_eq(err, "x.yaml: larger than 1048576 bytes");
    kf_koconfig_free(&c);

    /* More values than the node cap, in a file under the byte cap. */
    size_t len = 0;
    memcpy(text, "defaultFlags: [", 15);
    len = 15;
    for (size_t i = 0; i <= KF_KOCONFIG_MAX_NODES; i++) {
        memcpy(text + len, "a,", 2);
        len += 2;
    }
    text[len++] = ']';
    cr_expect_eq(kf_koconfig_parse(text, len, "x.yaml", &c, err), KF_ETOOBIG, "%s", err);
    cr_expect(strstr(err, "too many values") != NULL, "%s", err);
    kf_koconfig_free(&c);
    free(text);
}

static const char *const MATCH_YAML = "builds:\n"
                                      "- id: app\n"
                                      "  main: ./cmd/app\n"
                                      "- id: file\n"
                                      "  dir: ./tools\n"
                                      "  main: ./gen/main.go\n"
                                      "- id: up\n"
                                      "  dir: ./sub\n"
                                      "  main: ../other/\n"
                                      "- id: root\n"
                                      "- id: escapes\n"
                                      "  dir: ..\n"
                                      "  main: x\n"
                                      "- id: app-again\n"
                                      "  dir: cmd\n"
                                      "  main: app\n"
                                      "  flags: [-a]\n"
                                      "defaultFlags: [-d]\n"
                                      "defaultLdflags: [-s]\n"
                                      "defaultEnv: [E=1]\n";

struct match_case {
    const char *importpath, *module, *want_id;
};

static const struct match_case match_cases[] = {
    {"example.com/hello/cmd/app", "example.com/hello", "app-again"}, /* the last entry wins */
    {"ko://example.com/hello/cmd/app", "example.com/hello", "app-again"},
    {"example.com/hello/tools/gen", "example.com/hello", "file"},
    {"example.com/hello/other", "example.com/hello", "up"},
    {"example.com/hello", "example.com/hello", "root"},
    {"example.com/hello/cmd/app2", "example.com/hello", NULL},
    {"example.com/hellox/cmd/app", "example.com/hello", NULL},
    {"example.com/x", "example.com/hello", NULL},
    {"example.com/hello/cmd/app", NULL, NULL},
};

Test(koconfig, build_for_without_load)
{
    struct kf_ko_config c;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(parse(MATCH_YAML, &c, err), 0, "%s", err);
    for (size_t i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++) {
        const struct match_case *m = &match_cases[i];
        const struct kf_ko_build *b = kf_koconfig_build_for(&c, m->importpath, m->module);
        if (!m->want_id)
            cr_expect_null(b, "case %zu: got %s", i, b ? b->id : "");
        else
            cr_expect_str_eq(b ? b->id : "(none)", m->want_id, "case %zu", i);
    }
    kf_koconfig_free(&c);
}

Test(koconfig, effective_replaces_defaults)
{
    struct kf_ko_config c;
    struct kf_ko_effective e;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(parse(MATCH_YAML, &c, err), 0, "%s", err);

    kf_koconfig_effective(&c, "example.com/hello/cmd/app", "example.com/hello", &e);
    cr_expect_str_eq(e.id, "app-again");
    cr_assert_eq(e.n_flags, 1);
    cr_expect_str_eq(e.flags[0], "-a"); /* replaced, not merged */
    cr_assert_eq(e.n_ldflags, 1);
    cr_expect_str_eq(e.ldflags[0], "-s"); /* the entry has none: defaults */
    cr_assert_eq(e.n_env, 1);
    cr_expect_str_eq(e.env[0], "E=1");

    kf_koconfig_effective(&c, "example.com/hello/tools/gen", "example.com/hello", &e);
    cr_expect_str_eq(e.id, "file");
    cr_assert_eq(e.n_flags, 1);
    cr_expect_str_eq(e.flags[0], "-d");

    kf_koconfig_effective(&c, "example.com/elsewhere", "example.com/hello", &e);
    cr_expect_null(e.id);
    cr_expect_eq(e.n_flags, 1);

    kf_koconfig_effective(NULL, "x", NULL, &e);
    cr_expect_null(e.id);
    cr_expect_eq(e.n_flags + e.n_ldflags + e.n_env, 0);
    kf_koconfig_free(&c);
}

Test(koconfig, base_for)
{
    const char *yaml = "defaultBaseImage: default/base\n"
                       "baseImageOverrides:\n"
                       "  github.com/GoogleCloudPlatform/foo/cmd/bar: special/base\n";
    struct kf_ko_config c;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(parse(yaml, &c, err), 0, "%s", err);
    cr_expect_str_eq(kf_koconfig_base_for(&c, "github.com/GoogleCloudPlatform/foo/cmd/bar"), "special/base");
    cr_expect_str_eq(kf_koconfig_base_for(&c, "github.com/googlecloudplatform/foo/cmd/bar"), "special/base");
    cr_expect_str_eq(kf_koconfig_base_for(&c, "ko://github.com/GoogleCloudPlatform/foo/cmd/bar"), "special/base");
    cr_expect_str_eq(kf_koconfig_base_for(&c, "github.com/GoogleCloudPlatform/foo/cmd"), "default/base");
    kf_koconfig_free(&c);
    cr_assert_eq(parse("defaultFlags: [x]", &c, err), 0);
    cr_expect_null(kf_koconfig_base_for(&c, "a/b"));
    cr_expect_null(kf_koconfig_base_for(NULL, "a/b"));
    kf_koconfig_free(&c);
}

Test(koconfig, apply_env)
{
    struct kf_ko_config c;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(parse("defaultBaseImage: file/base\ndefaultFlags: [-x]\ndefaultLdflags: [-s]\n", &c, err), 0);
    const char *const env[] = {"PATH=/bin", "KO_DEFAULTBASEIMAGE=env/base", "KO_DEFAULTBASEIMAGE=second",
                               "KO_DEFAULTPLATFORMS=linux/amd64 linux/arm64", "KO_DEFAULTFLAGS=",
                               "KO_DEFAULTLDFLAGS=  ",
                               "KO_DEFAULTENV=A=1", NULL};
    cr_assert_eq(kf_koconfig_apply_env(&c, env, err), 0, "%s", err);
    cr_expect_str_eq(c.default_base_image, "env/base"); /* the first, as getenv */
    expect_list(c.default_platforms, c.n_default_platforms, LIST("linux/amd64", "linux/arm64"), "platforms");
    expect_list(c.default_flags, c.n_default_flags, LIST("-x"), "flags");       /* empty: ignored */
    expect_list(c.default_ldflags, c.n_default_ldflags, LIST("-s"), "ldflags"); /* blank: ignored */
    expect_list(c.default_env, c.n_default_env, LIST("A=1"), "env");
    kf_koconfig_free(&c);
}

/* ---- loading from a directory ---- */

static char tmp[64];

static void write_file(const char *rel, const char *text)
{
    test_put_file(tmp, rel, text);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void setup_tree(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/kf-koconfig-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    write_file("go.mod", "// the main module\nmodule example.com/hello // trailing\n\ngo 1.19\n");
    write_file("cmd/app/main.go", "package main\nfunc main() {}\n");
    write_file("foo/go.mod", "module \"example.com/foo\"\n");
    write_file("foo/cmd/main.go", "package main\nfunc main() {}\n");
}

static void teardown_tree(void)
{
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(koconfig_load, .init = setup_tree, .fini = teardown_tree);

Test(koconfig_load, no_file_is_empty)
{
    struct kf_ko_config c;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_koconfig_load_from(tmp, NULL, &c, err), 0, "%s", err);
    cr_expect_null(c.path);
    cr_expect_eq(c.n_builds, 0);
    kf_koconfig_free(&c);
}

Test(koconfig_load, builds_resolve_to_import_paths)
{
    write_file(".ko.yaml", "builds:\n"
                           "- id: app\n  main: ./cmd/app\n"
                           "- id: foo\n  dir: ./foo\n  main: ./cmd\n"
                           "- id: file\n  main: cmd/app/main.go\n");
    struct kf_ko_config c;
    char err[KF_ERRLEN] = "";
    cr_assert_eq(kf_koconfig_load_from(tmp, "", &c, err), 0, "%s", err);
    char want_path[128];
    snprintf(want_path, sizeof want_path, "%s/.ko.yaml", tmp);
    cr_expect_str_eq(c.path, want_path);
    cr_assert_eq(c.n_builds, 3);
    cr_expect_str_eq(c.builds[0].importpath, "example.com/hello/cmd/app");
    cr_expect_str_eq(c.builds[1].importpath, "example.com/foo/cmd");
    cr_expect_str_eq(c.builds[2].importpath, "example.com/hello/cmd/app");
    /* Resolved entries match exactly, whatever module path the caller has. */
    const struct kf_ko_build *b = kf_koconfig_build_for(&c, "example.com/foo/cmd", "example.com/foo");
    cr_assert_not_null(b);
    cr_expect_str_eq(b->id, "foo");
    b = kf_koconfig_build_for(&c, "example.com/hello/cmd/app", NULL);
    cr_assert_not_null(b);
    cr_expect_str_eq(b->id, "file");
    cr_expect_null(kf_koconfig_build_for(&c, "example.com/hello/foo/cmd", "example.com/hello"));
    kf_koconfig_free(&c);
}

Test(koconfig_load, missing_build_path_fails_as_in_ko)
{
    write_file(".ko.yaml", "builds:\n- id: gone\n  main: ./cmd/nope\n");
    struct kf_ko_config c;
    char err[KF_ERRLEN] = "";
    cr_expect_eq(kf_koconfig_load_from(tmp, NULL, &c, err), KF_ECONFIG);
    cr_expect(strstr(err, "builds[0] (gone)") && strstr(err, "No such file"), "%s", err);
    kf_koconfig_free(&c);
}

Test(koconfig_load, parse_errors_name_the_file)
{
    write_file(".ko.yml", "defaultBaseImag: x\n");
    struct kf_ko_config c;
    char err[KF_ERRLEN] = "", want[256];
    cr_expect_eq(kf_koconfig_load_from(tmp, NULL, &c, err), KF_ECONFIG);
    snprintf(want, sizeof want, "%s/.ko.yml:1:1: unknown key \"defaultBaseImag\"", tmp);
    cr_expect_str_eq(err, want);
    kf_koconfig_free(&c);
}

Test(koconfig_load, search_order_and_toml)
{
    struct kf_ko_config c;
    char err[KF_ERRLEN] = "";
    write_file(".ko.yml", "defaultBaseImage: from-yml\n");
    write_file(".ko.yaml", "defaultBaseImage: from-yaml\n");
    cr_assert_eq(kf_koconfig_load_from(tmp, NULL, &c, err), 0, "%s", err);
    cr_expect_str_eq(c.default_base_image, "from-yaml");
    kf_koconfig_free(&c);
    write_file(".ko.json", "{\"defaultBaseImage\": \"from-json\", \"defaultFlags\": [\"-a\"]}\n");
    cr_assert_eq(kf_koconfig_load_from(tmp, NULL, &c, err), 0, "%s", err);
    cr_expect_str_eq(c.default_base_image, "from-json");
    kf_koconfig_free(&c);
    write_file(".ko.toml", "defaultBaseImage = 'x'\n");
    cr_assert_eq(kf_koconfig_load_from(tmp, NULL, &c, err), 0, "%s", err); /* json still comes first */
    kf_koconfig_free(&c);
    char path[128];
    snprintf(path, sizeof path, "%s/.ko.json", tmp);
    unlink(path);
    cr_expect_eq(kf_koconfig_load_from(tmp, NULL, &c, err), KF_EUNSUPPORTED);
    kf_koconfig_free(&c);
}

Test(koconfig_load, ko_config_path)
{
    struct kf_ko_config c;
    char err[KF_ERRLEN] = "", path[256];
    write_file(".ko.yaml", "defaultBaseImage: workdir\n");
    write_file("conf/.ko.yaml", "defaultBaseImage: conf-dir\n");
    write_file("conf/my-ko.yaml", "defaultBaseImage: wow\n");

    snprintf(path, sizeof path, "%s/conf/my-ko.yaml", tmp);
    cr_assert_eq(kf_koconfig_load_from(tmp, path, &c, err), 0, "%s", err);
    cr_expect_str_eq(c.default_base_image, "wow");
    cr_expect_str_eq(c.path, path);
    kf_koconfig_free(&c);

    snprintf(path, sizeof path, "%s/conf", tmp);
    cr_assert_eq(kf_koconfig_load_from(tmp, path, &c, err), 0, "%s", err);
    cr_expect_str_eq(c.default_base_image, "conf-dir");
    kf_koconfig_free(&c);

    snprintf(path, sizeof path, "%s/cmd", tmp); /* a directory without .ko.yaml */
    cr_expect_eq(kf_koconfig_load_from(tmp, path, &c, err), KF_ECONFIG);
    kf_koconfig_free(&c);
    snprintf(path, sizeof path, "%s/nope.yaml", tmp);
    cr_expect_eq(kf_koconfig_load_from(tmp, path, &c, err), KF_ECONFIG);
    cr_expect(strstr(err, "error looking for config file") != NULL, "%s", err);
    kf_koconfig_free(&c);
    cr_expect_eq(kf_koconfig_load_from(tmp, "/dev/null", &c, err), KF_ECONFIG);
    cr_expect(strstr(err, "not a regular file") != NULL, "%s", err);
    kf_koconfig_free(&c);

    /* kf_koconfig_load reads the variable itself. */
    snprintf(path, sizeof path, "%s/conf/my-ko.yaml", tmp);
    setenv("KO_CONFIG_PATH", path, 1);
    cr_assert_eq(kf_koconfig_load(tmp, &c, err), 0, "%s", err);
    unsetenv("KO_CONFIG_PATH");
    cr_expect_str_eq(c.default_base_image, "wow");
    kf_koconfig_free(&c);
}

Test(koconfig_load, hostile_files)
{
    struct kf_ko_config c;
    char err[KF_ERRLEN] = "", path[256], target[256];

    /* A link out of the working directory is refused, one inside followed. */
    snprintf(path, sizeof path, "%s/.ko.yaml", tmp);
    cr_assert_eq(symlink("/etc/passwd", path), 0);
    cr_expect_eq(kf_koconfig_load_from(tmp, NULL, &c, err), KF_ECONFIG);
    cr_expect(strstr(err, "resolves outside the working directory") != NULL, "%s", err);
    kf_koconfig_free(&c);
    unlink(path);
    write_file("real.yaml", "defaultBaseImage: linked\n");
    snprintf(target, sizeof target, "%s/real.yaml", tmp);
    cr_assert_eq(symlink(target, path), 0);
    cr_expect_eq(kf_koconfig_load_from(tmp, NULL, &c, err), 0, "%s", err);
    cr_expect_str_eq(c.default_base_image, "linked");
    kf_koconfig_free(&c);
    unlink(path);

    /* A FIFO must not hang the load. */
    cr_assert_eq(mkfifo(path, 0600), 0);
    cr_expect_eq(kf_koconfig_load_from(tmp, NULL, &c, err), KF_ECONFIG);
    cr_expect(strstr(err, "not a regular file") != NULL, "%s", err);
    kf_koconfig_free(&c);
    unlink(path);

    /* Past the size cap. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, (off_t)KF_KOCONFIG_MAX_BYTES + 1), 0);
    close(fd);
    cr_expect_eq(kf_koconfig_load_from(tmp, NULL, &c, err), KF_ETOOBIG);
    kf_koconfig_free(&c);
}
