/* A fixed set of database connections shared by the request threads:
 * opened on first use, handed out one thread at a time (kf_db is not
 * thread-safe), reconnecting by themselves after a database restart. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

struct dbpool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char *url;
    struct kf_db **idle; /* open, unused */
    size_t n_idle;
    int size, in_use;    /* open or being opened, handed out */
};

int dbpool_new(const char *url, int size, struct dbpool **out, char *err)
{
    struct dbpool *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p || !(p->url = strdup(url)) || !(p->idle = calloc((size_t)size, sizeof *p->idle))) {
        if (p)
            free(p->url);
        free(p);
        return kf_fail(err, KF_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    p->size = size;
    *out = p;
    return KF_OK;
}

void dbpool_free(struct dbpool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_idle; i++)
        kf_db_close(p->idle[i]);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->freed);
    free(p->idle);
    free(p->url);
    free(p);
}

int dbpool_get(struct dbpool *p, struct kf_db **db, char *err)
{
    *db = NULL;
    pthread_mutex_lock(&p->lock);
    while (p->n_idle == 0 && p->in_use >= p->size)
        pthread_cond_wait(&p->freed, &p->lock);
    if (p->n_idle > 0) {
        *db = p->idle[--p->n_idle];
        p->in_use++;
        pthread_mutex_unlock(&p->lock);
        return KF_OK;
    }
    p->in_use++; /* a slot for the connection being opened */
    pthread_mutex_unlock(&p->lock);
    int rc = kf_db_open(p->url, "kofarm-server", db, err);
    if (rc) {
        pthread_mutex_lock(&p->lock);
        p->in_use--;
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->lock);
        if (rc != KF_ENOMEM)
            rc = KF_ENET;
    }
    return rc;
}

void dbpool_put(struct dbpool *p, struct kf_db *db)
{
    if (!db)
        return;
    pthread_mutex_lock(&p->lock);
    p->idle[p->n_idle++] = db;
    p->in_use--;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}
