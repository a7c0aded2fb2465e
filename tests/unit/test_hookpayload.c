#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookpayload.h"

static char *fixture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/fixtures/hooks/%s", KF_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "open %s", path);
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof buf - 1, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

Test(hookpayload, github_test_vector)
{
    /* From GitHub's "Validating webhook deliveries". */
    const char *body = "Hello, World!";
    const char *sig = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    cr_expect(kf_hook_hmac_ok("It's a Secret to Everybody", body, strlen(body), sig));
    cr_expect(kf_hook_hmac_ok("It's a Secret to Everybody", body, strlen(body),
                              "757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"), "hex in any case");
    cr_expect(!kf_hook_hmac_ok("It's a secret to everybody", body, strlen(body), sig), "other secret");
    cr_expect(!kf_hook_hmac_ok("It's a Secret to Everybody", "Hello, World?", 13, sig), "other body");
    cr_expect(!kf_hook_hmac_ok("It's a Secret to Everybody", body, strlen(body), sig + 1), "short");
    cr_expect(!kf_hook_hmac_ok("It's a Secret to Everybody", body, strlen(body), NULL));
    cr_expect(!kf_hook_hmac_ok("", body, strlen(body), sig), "no secret never verifies");
    char bad[65];
    memcpy(bad, sig, 65);
    bad[10] = 'g';
    cr_expect(!kf_hook_hmac_ok("It's a Secret to Everybody", body, strlen(body), bad), "not hex");
}

Test(hookpayload, gitlab_token)
{
    cr_expect(kf_hook_token_ok("s3cret", "s3cret"));
    cr_expect(!kf_hook_token_ok("s3cret", "s3cre"));
    cr_expect(!kf_hook_token_ok("s3cret", "s3cret "));
    cr_expect(!kf_hook_token_ok("s3cret", NULL));
    cr_expect(!kf_hook_token_ok("", ""));
}

Test(hookpayload, events)
{
    cr_expect_eq(kf_hook_event_of(KF_HOOK_GITHUB, "push"), KF_HOOK_EVENT_PUSH);
    cr_expect_eq(kf_hook_event_of(KF_HOOK_GITHUB, "ping"), KF_HOOK_EVENT_PING);
    cr_expect_eq(kf_hook_event_of(KF_HOOK_GITHUB, "issues"), KF_HOOK_EVENT_OTHER);
    cr_expect_eq(kf_hook_event_of(KF_HOOK_GITLAB, "Push Hook"), KF_HOOK_EVENT_PUSH);
    cr_expect_eq(kf_hook_event_of(KF_HOOK_GITLAB, "Tag Push Hook"), KF_HOOK_EVENT_PUSH);
    cr_expect_eq(kf_hook_event_of(KF_HOOK_GITLAB, "push"), KF_HOOK_EVENT_OTHER);
    cr_expect_eq(kf_hook_event_of(KF_HOOK_GITEA, "push"), KF_HOOK_EVENT_PUSH);
    cr_expect_eq(kf_hook_event_of(KF_HOOK_GITEA, NULL), KF_HOOK_EVENT_OTHER);
    enum kf_hook_host h;
    cr_expect_eq(kf_hook_host_parse("forgejo", &h), KF_OK);
    cr_expect_eq(h, KF_HOOK_GITEA);
    cr_expect_eq(kf_hook_host_parse("bitbucket", &h), KF_EINVAL);
}

static const struct {
    const char *file;
    int tag, deleted;
    const char *name, *commit;
} pushes[] = {
    {"github-push.json", 0, 0, "main", "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"},
    {"github-push-tag.json", 1, 0, "v1.9.0", "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"},
    {"github-push-deleted.json", 0, 1, "feature-x", ""},
    {"gitlab-push.json", 0, 0, "master", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"},
    {"gitlab-tag-push.json", 1, 0, "v1.10.0", "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7"},
    {"gitea-push.json", 0, 0, "develop", "bffeb74224043ba2feb48d137756c8a9331c449a"},
};

Test(hookpayload, fixtures)
{
    char err[KF_ERRLEN];
    for (size_t i = 0; i < sizeof pushes / sizeof *pushes; i++) {
        size_t len;
        char *body = fixture(pushes[i].file, &len);
        struct kf_push p;
        cr_assert_eq(kf_hook_parse_push(body, len, &p, err), KF_OK, "%s: %s", pushes[i].file, err);
        cr_expect_eq(p.tag, pushes[i].tag, "%s", pushes[i].file);
        cr_expect_eq(p.deleted, pushes[i].deleted, "%s", pushes[i].file);
        cr_expect_str_eq(p.name, pushes[i].name, "%s", pushes[i].file);
        cr_expect_str_eq(p.commit, pushes[i].commit, "%s", pushes[i].file);
    }
}

Test(hookpayload, hostile)
{
    static const char *const bad[] = {
        "", "not json", "[]", "{}", "{\"ref\": 5}",
        "{\"ref\": \"refs/pull/1/head\", \"after\": \"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c\"}",
        "{\"ref\": \"refs/heads/main\"}",
        "{\"ref\": \"refs/heads/main\", \"after\": \"xyz\"}",
        "{\"ref\": \"refs/heads/main\", \"after\": \"0D1A26E67D8F5EAF1F6BA5C57FC3C7D91AC0FD1C\"}",
        "{\"ref\": \"refs/heads/\", \"after\": \"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c\"}",
        "{\"ref\": \"refs/heads/a..b\", \"after\": \"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c\"}",
        "{\"ref\": \"refs/heads/-x\", \"after\": \"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c\"}",
        "{\"ref\": \"refs/tags/a b\", \"after\": \"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c\"}",
    };
    char err[KF_ERRLEN];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct kf_push p;
        cr_expect_eq(kf_hook_parse_push(bad[i], strlen(bad[i]), &p, err), KF_EINVAL, "case %zu accepted", i);
    }
    struct kf_push p;
    cr_expect_eq(kf_hook_parse_push(NULL, 0, &p, err), KF_EINVAL);
}
