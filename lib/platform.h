/* Image platforms ("os/arch[/variant][:osversion]"): parsing, matching a
 * base image's entries the way ko does, and Go's GOOS/GOARCH/GOARM. */
#ifndef KF_PLATFORM_H
#define KF_PLATFORM_H

#include <stddef.h>
#include "error.h"

struct kf_platform {
    char os[32];
    char arch[32];
    char variant[16];
    char osversion[64];
};

int kf_platform_parse(const char *s, struct kf_platform *p, char *err) KF_MUST_CHECK;
/* Comma-separated list, or "all" (then *all = 1 and *n = 0). Caller frees *out. */
int kf_platform_parse_list(const char *s, struct kf_platform **out, size_t *n, int *all, char *err) KF_MUST_CHECK;
/* ko's matcher: empty fields of want match anything; unknown/unknown never matches. */
int kf_platform_matches(const struct kf_platform *want, const struct kf_platform *have);
/* Whether any of the wanted platforms (or all) matches have. */
int kf_platform_any_matches(const struct kf_platform *want, size_t n, int all, const struct kf_platform *have);
/* "linux/arm/v7" */
void kf_platform_format(const struct kf_platform *p, char *out, size_t outlen);
/* The GOARM value ("5".."7") for an arm variant, "" otherwise; KF_EUNSUPPORTED
 * when Go cannot target the platform. */
int kf_platform_go_target(const struct kf_platform *p, char goarm[4], char *err) KF_MUST_CHECK;
/* The machine's own platform (linux/amd64 here). */
void kf_platform_host(struct kf_platform *p);

#endif
