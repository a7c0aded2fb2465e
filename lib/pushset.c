/* kf_pushset: a list of keys with a state, under one mutex; a build holds
 * tens of blobs, so a linear search is all it needs. */
#include "pushset.h"

#include <stdlib.h>
#include <string.h>

enum { SENDING, SENT, FAILED };

struct kf_push_entry {
    char *key;
    int state;
};

void kf_pushset_init(struct kf_pushset *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->changed, NULL);
}

void kf_pushset_free(struct kf_pushset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].key);
    free(s->v);
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->lock);
    memset(s, 0, sizeof *s);
}

static struct kf_push_entry *find(struct kf_pushset *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].key, key) == 0)
            return &s->v[i];
    return NULL;
}

int kf_pushset_claim(struct kf_pushset *s, const char *key)
{
    int rc = KF_PUSH_MINE;
    pthread_mutex_lock(&s->lock);
    struct kf_push_entry *e;
    while ((e = find(s, key)) && e->state == SENDING)
        pthread_cond_wait(&s->changed, &s->lock);
    if (e && e->state == SENT) {
        rc = KF_PUSH_THERE;
    } else if (e) {
        e->state = SENDING; /* the last sender failed: this one tries */
    } else {
        rc = KF_ENOMEM;
        if (s->n == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 16;
            struct kf_push_entry *v = realloc(s->v, cap * sizeof *v);
            if (!v)
                goto out;
            s->v = v;
            s->cap = cap;
        }
        if (!(s->v[s->n].key = strdup(key)))
            goto out;
        s->v[s->n++].state = SENDING;
        rc = KF_PUSH_MINE;
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void kf_pushset_done(struct kf_pushset *s, const char *key, int ok)
{
    pthread_mutex_lock(&s->lock);
    struct kf_push_entry *e = find(s, key);
    if (e && e->state == SENDING) {
        e->state = ok ? SENT : FAILED;
        pthread_cond_broadcast(&s->changed);
    }
    pthread_mutex_unlock(&s->lock);
}
