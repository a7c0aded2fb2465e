/* The JSON text of jobs by id, in a bounded LRU, so hot GETs skip the
 * database: a finished job forever (it never changes: a retry makes a new
 * job), a queued or running one for a short time (many clients polling one
 * build see its state at most that late; this server's own cancels drop
 * the entry at once). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

struct entry {
    int64_t id;
    char *text;
    size_t len;
    long long expires_ms;      /* monotonic; 0: never (a finished job) */
    struct entry *prev, *next; /* recency list, most recent first */
    struct entry *chain;       /* hash bucket */
};

struct jobcache {
    pthread_mutex_t lock;
    struct entry **buckets;
    size_t n_buckets, count, capacity;
    struct entry *head, *tail;
};

struct jobcache *jobcache_new(size_t capacity)
{
    struct jobcache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->n_buckets = 1;
    while (c->n_buckets < capacity * 2)
        c->n_buckets <<= 1;
    if (!(c->buckets = calloc(c->n_buckets, sizeof *c->buckets))) {
        free(c);
        return NULL;
    }
    c->capacity = capacity;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void jobcache_free(struct jobcache *c)
{
    if (!c)
        return;
    for (struct entry *e = c->head, *next; e; e = next) {
        next = e->next;
        free(e->text);
        free(e);
    }
    pthread_mutex_destroy(&c->lock);
    free(c->buckets);
    free(c);
}

static size_t bucket(const struct jobcache *c, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 20) & (c->n_buckets - 1);
}

static void unlink_lru(struct jobcache *c, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(struct jobcache *c, struct entry *e)
{
    e->next = c->head;
    e->prev = NULL;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

static struct entry *find(struct jobcache *c, int64_t id)
{
    for (struct entry *e = c->buckets[bucket(c, id)]; e; e = e->chain)
        if (e->id == id)
            return e;
    return NULL;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void remove_entry(struct jobcache *c, struct entry *e)
{
    unlink_lru(c, e);
    for (struct entry **p = &c->buckets[bucket(c, e->id)]; *p; p = &(*p)->chain)
        if (*p == e) {
            *p = e->chain;
            break;
        }
    free(e->text);
    free(e);
    c->count--;
}

char *jobcache_get(struct jobcache *c, int64_t id, size_t *len)
{
    char *copy = NULL;
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, id);
    if (e && e->expires_ms && now_ms() >= e->expires_ms) {
        remove_entry(c, e);
        e = NULL;
    }
    if (e && (copy = malloc(e->len + 1))) {
        memcpy(copy, e->text, e->len + 1);
        *len = e->len;
        if (c->head != e) {
            unlink_lru(c, e);
            push_front(c, e);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return copy;
}

void jobcache_drop(struct jobcache *c, int64_t id)
{
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, id);
    if (e)
        remove_entry(c, e);
    pthread_mutex_unlock(&c->lock);
}

void jobcache_put(struct jobcache *c, int64_t id, const char *text, size_t len, int ttl_ms)
{
    if (c->capacity == 0 || len > ((size_t)1 << 20))
        return; /* huge results are not worth pinning */
    struct entry *e = calloc(1, sizeof *e);
    if (!e || !(e->text = malloc(len + 1))) {
        free(e);
        return;
    }
    memcpy(e->text, text, len);
    e->text[len] = 0;
    e->len = len;
    e->id = id;
    e->expires_ms = ttl_ms > 0 ? now_ms() + ttl_ms : 0;
    pthread_mutex_lock(&c->lock);
    struct entry *old = find(c, id);
    if (old)
        remove_entry(c, old); /* the newer text wins */
    while (c->count >= c->capacity)
        remove_entry(c, c->tail);
    size_t b = bucket(c, id);
    e->chain = c->buckets[b];
    c->buckets[b] = e;
    push_front(c, e);
    c->count++;
    pthread_mutex_unlock(&c->lock);
}
