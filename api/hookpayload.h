/* Webhook deliveries from git hosts (GitHub, GitLab, Gitea/Forgejo):
 * signature checks and push payload parsing. Pure and thread-safe; the
 * server maps the results to jobs (api/project.h). */
#ifndef KF_HOOKPAYLOAD_H
#define KF_HOOKPAYLOAD_H

#include <stddef.h>

#include "error.h"

#define KF_HOOK_BODY_MAX ((size_t)25 << 20) /* GitHub caps payloads at 25 MB */
#define KF_HOOK_REF_MAX 255

enum kf_hook_host { KF_HOOK_GITHUB, KF_HOOK_GITLAB, KF_HOOK_GITEA };

/* "github", "gitlab", "gitea" (also "forgejo", which is Gitea's format). */
int kf_hook_host_parse(const char *name, enum kf_hook_host *host) KF_MUST_CHECK;
const char *kf_hook_host_name(enum kf_hook_host host);

/* 1 when hex (64 hex digits, any case) is HMAC-SHA256(secret, body). The
 * comparison takes the same time wherever the first difference is. */
int kf_hook_hmac_ok(const char *secret, const void *body, size_t len, const char *hex);

/* 1 when token equals secret (GitLab's X-Gitlab-Token), compared through
 * their HMACs so neither the length nor the content leaks by timing. */
int kf_hook_token_ok(const char *secret, const char *token);

/* What a delivery asks for. */
enum kf_hook_event { KF_HOOK_EVENT_PING, KF_HOOK_EVENT_PUSH, KF_HOOK_EVENT_OTHER };

/* The event from the host's header value (X-GitHub-Event, X-Gitlab-Event,
 * X-Gitea-Event); NULL is OTHER. */
enum kf_hook_event kf_hook_event_of(enum kf_hook_host host, const char *header);

struct kf_push {
    int tag;                          /* refs/tags/..., else a branch (refs/heads/...) */
    char name[KF_HOOK_REF_MAX + 1];   /* the branch or tag name, without refs/... */
    char commit[65];                  /* lowercase hex; "" when deleted */
    int deleted;                      /* the ref was deleted: nothing to build */
};

/* Parses a push payload (GitHub/Gitea "push", GitLab "Push Hook" and "Tag
 * Push Hook"): ref, after (GitLab: checkout_sha; GitHub/Gitea: head_commit.id
 * when present, which for an annotated tag is the commit, not the tag
 * object), deleted (the flag, or an all-zero after). KF_EINVAL with err
 * for anything unparsable or a ref that is neither a branch nor a tag. */
int kf_hook_parse_push(const void *body, size_t len, struct kf_push *push, char *err) KF_MUST_CHECK;

#endif
