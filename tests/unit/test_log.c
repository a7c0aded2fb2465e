#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

struct collected {
    char text[1024];
    int count;
};

static void collect(void *ctx, const char *line)
{
    struct collected *c = ctx;
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof c->text - used, "%s|", line);
    c->count++;
}

static void *log_from_other_thread(void *arg)
{
    (void)arg;
    kf_logf("from the other thread %d", 2);
    return NULL;
}

/* Two concurrent jobs must not see each other's lines: the thread sink wins
 * over the process-wide one and stays with its thread. */
Test(log, thread_sink_wins_and_stays_with_its_thread)
{
    struct collected global = {{0}, 0}, mine = {{0}, 0};
    kf_log_set_sink(collect, &global);
    kf_log_set_thread_sink(collect, &mine);
    kf_logf("mine %d", 1);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, log_from_other_thread, NULL), 0);
    pthread_join(t, NULL);
    cr_expect_str_eq(mine.text, "mine 1|");
    cr_expect_str_eq(global.text, "from the other thread 2|");

    kf_log_fn fn;
    void *ctx;
    kf_log_get_thread_sink(&fn, &ctx);
    cr_expect_eq(fn, collect);
    cr_expect_eq(ctx, &mine);

    kf_log_set_thread_sink(NULL, &mine); /* removed: back to the process-wide sink */
    kf_log_get_thread_sink(&fn, &ctx);
    cr_expect_null(fn);
    cr_expect_null(ctx);
    kf_logf("after");
    cr_expect_str_eq(global.text, "from the other thread 2|after|");
    cr_expect_eq(mine.count, 1);
    kf_log_set_sink(NULL, NULL);
}
