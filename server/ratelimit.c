/* Request rate limits: a token bucket per API token and one per client
 * address, in memory (KOFARM_RATE_LIMIT="RATE,BURST": requests per second
 * and bucket size). A fixed table: a key that collides with another takes
 * its slot over with a full bucket, which errs on the side of serving. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server.h"

#define RL_SLOTS 4096

struct bucket {
    uint64_t key; /* 0 = empty */
    double tokens;
    double at;    /* seconds, monotonic, of the last refill */
};

struct ratelimit {
    pthread_mutex_t lock;
    double rate, burst;
    struct bucket slots[RL_SLOTS];
};

/* No libm: the values are small and positive. */
static long ceil_int(double v)
{
    long n = (long)v;
    return (double)n < v ? n + 1 : n;
}

int ratelimit_parse(const char *text, double *rate, double *burst)
{
    char *end;
    errno = 0;
    double r = strtod(text, &end);
    if (errno || end == text || !(r > 0) || r > 1e6)
        return 0;
    double b = r < 1 ? 1 : (double)ceil_int(r);
    if (*end == ',') {
        const char *bs = end + 1;
        b = strtod(bs, &end);
        if (errno || end == bs || !(b >= 1) || b > 1e6)
            return 0;
    }
    if (*end)
        return 0;
    *rate = r;
    *burst = b;
    return 1;
}

struct ratelimit *ratelimit_new(double rate, double burst)
{
    struct ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    pthread_mutex_init(&rl->lock, NULL);
    rl->rate = rate;
    rl->burst = burst;
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static uint64_t key_of(const char *kind, const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = kind; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ? h : 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Takes one token from key's bucket: 0, or the seconds until one is there. */
static int take(struct ratelimit *rl, uint64_t key)
{
    struct bucket *b = &rl->slots[key % RL_SLOTS];
    double now = now_s();
    int wait = 0;
    pthread_mutex_lock(&rl->lock);
    if (b->key != key) {
        b->key = key;
        b->tokens = rl->burst;
        b->at = now;
    }
    b->tokens += (now - b->at) * rl->rate;
    if (b->tokens > rl->burst)
        b->tokens = rl->burst;
    b->at = now;
    if (b->tokens >= 1)
        b->tokens -= 1;
    else
        wait = (int)ceil_int((1 - b->tokens) / rl->rate);
    pthread_mutex_unlock(&rl->lock);
    return wait;
}

int ratelimit_check(struct ratelimit *rl, const struct http_req *req, struct http_resp *resp)
{
    if (!rl)
        return 1;
    char addr[64];
    http_client_addr(req, addr);
    int wait = take(rl, key_of("addr:", addr));
    const char *auth = http_header(req, "Authorization");
    if (!wait && auth && !strncasecmp(auth, "Bearer ", 7))
        wait = take(rl, key_of("token:", auth + 7));
    if (!wait)
        return 1;
    resp->retry_after = wait;
    reply_error(resp, 429, "rate_limited", "too many requests: retry in %d s", wait);
    return 0;
}
