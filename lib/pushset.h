/* The blobs one build sends to registries, so that each goes to each
 * repository once: the platforms of a build share blobs (kodata, a base's
 * data layers), and two of them pushing one at once would each rewrite the
 * repository's link to it. docker-registry 2.8 (Debian 12) rewrites a link
 * file in place (truncate, write; later versions write a temp file and
 * rename), so a manifest PUT verified meanwhile reads an empty link and is
 * refused (DIGEST_INVALID, MANIFEST_BLOB_UNKNOWN). Thread-safe. */
#ifndef KF_PUSHSET_H
#define KF_PUSHSET_H

#include <pthread.h>
#include <stddef.h>

#include "error.h"

struct kf_pushset {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct kf_push_entry *v; /* owned */
    size_t n, cap;
};

void kf_pushset_init(struct kf_pushset *s);
void kf_pushset_free(struct kf_pushset *s);

enum { KF_PUSH_MINE = 0, KF_PUSH_THERE = 1 };

/* Claims the blob `key` (repository and digest): KF_PUSH_MINE, the caller
 * sends it and then calls kf_pushset_done; KF_PUSH_THERE, it was sent by
 * another thread of this build (waited for while that one was sending).
 * After a failed send the next claim is the sender's. KF_ENOMEM on
 * allocation failure (the caller then just sends). */
int kf_pushset_claim(struct kf_pushset *s, const char *key) KF_MUST_CHECK;
/* Ends the caller's claim on key: ok says whether the blob is there now. */
void kf_pushset_done(struct kf_pushset *s, const char *key, int ok);

#endif
