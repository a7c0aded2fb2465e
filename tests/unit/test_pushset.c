#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "pushset.h"

Test(pushset, once_per_key)
{
    struct kf_pushset s;
    kf_pushset_init(&s);
    cr_expect_eq(kf_pushset_claim(&s, "r/a@sha256:1"), KF_PUSH_MINE);
    kf_pushset_done(&s, "r/a@sha256:1", 1);
    cr_expect_eq(kf_pushset_claim(&s, "r/a@sha256:1"), KF_PUSH_THERE, "sent once: the next claim skips");
    cr_expect_eq(kf_pushset_claim(&s, "r/b@sha256:1"), KF_PUSH_MINE, "another repository is another key");
    kf_pushset_done(&s, "r/b@sha256:1", 0);
    cr_expect_eq(kf_pushset_claim(&s, "r/b@sha256:1"), KF_PUSH_MINE, "after a failed send the next claim sends");
    kf_pushset_done(&s, "r/b@sha256:1", 1);
    kf_pushset_done(&s, "r/never@sha256:1", 1); /* an unknown key changes nothing */
    cr_expect_eq(kf_pushset_claim(&s, "r/never@sha256:1"), KF_PUSH_MINE);
    kf_pushset_done(&s, "r/never@sha256:1", 1);
    for (int i = 0; i < 100; i++) { /* past the first growth */
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        cr_assert_eq(kf_pushset_claim(&s, key), KF_PUSH_MINE);
        kf_pushset_done(&s, key, 1);
    }
    cr_expect_eq(kf_pushset_claim(&s, "k42"), KF_PUSH_THERE);
    kf_pushset_free(&s);
}

struct racer {
    struct kf_pushset *s;
    atomic_int *sending, *max_sending, *sends;
    int fail_first;
};

/* Sends "the" blob unless another thread did: counts the senders at once. */
static void *race(void *arg)
{
    struct racer *r = arg;
    int claim = kf_pushset_claim(r->s, "repo@sha256:shared");
    if (claim != KF_PUSH_MINE)
        return NULL;
    int now = atomic_fetch_add(r->sending, 1) + 1;
    int seen = atomic_load(r->max_sending);
    while (now > seen && !atomic_compare_exchange_weak(r->max_sending, &seen, now))
        ;
    usleep(20000);
    atomic_fetch_sub(r->sending, 1);
    int sends = atomic_fetch_add(r->sends, 1);
    kf_pushset_done(r->s, "repo@sha256:shared", !(r->fail_first && sends == 0));
    return NULL;
}

static void run_racers(int fail_first, int *max_sending, int *sends)
{
    struct kf_pushset s;
    atomic_int sending = 0, max = 0, count = 0;
    struct racer r = {.s = &s, .sending = &sending, .max_sending = &max, .sends = &count, .fail_first = fail_first};
    pthread_t t[8];
    kf_pushset_init(&s);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, race, &r), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    kf_pushset_free(&s);
    *max_sending = atomic_load(&max);
    *sends = atomic_load(&count);
}

Test(pushset, one_sender_at_a_time)
{
    int max, sends;
    run_racers(0, &max, &sends);
    cr_expect_eq(max, 1, "never two threads sending one blob at once");
    cr_expect_eq(sends, 1, "8 threads, one send");
    run_racers(1, &max, &sends);
    cr_expect_eq(max, 1);
    cr_expect_eq(sends, 2, "the first send failed: exactly one more thread sent");
}
