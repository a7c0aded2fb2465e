/* Result reuse at submit: a job inserted already succeeded with a reused
 * result, no wake-up for workers, nothing claimable, idempotent like any. */
#include "itest_db_fixture.h"

#include "dbjobs.h"

TestSuite(db_reuse, .init = fresh_db, .timeout = 120);

Test(db_reuse, insert_done_result)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = open_db();
    cr_assert_eq(kf_db_listen(db, KF_JOB_CHANNEL, err), KF_OK, "%s", err);
    json_t *spec = json_pack("{s:s}", "x", "y");
    json_t *res = json_pack("{s:s, s:n, s:[]}", "commit", "abc", "reused_from", "images");
    struct kf_job_new j = {.kind = "build", .spec = spec, .cache_key = "ck", .done_result = res,
                           .commit = "abc", .reused_from = 42, .idempotency_key = "k1"};
    int64_t id, again;
    int existed = -1;
    cr_assert_eq(kf_job_insert(db, &j, &id, &existed, err), KF_OK, "%s", err);
    cr_expect_eq(existed, 0);
    json_t *job;
    cr_assert_eq(kf_job_get(db, id, &job, err), KF_OK, "%s", err);
    cr_expect_str_eq(json_string_value(json_object_get(job, "state")), "succeeded");
    cr_expect_str_eq(json_string_value(json_object_get(job, "commit")), "abc");
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(job, "result"), "reused_from")), 42);
    cr_expect(json_is_string(json_object_get(job, "started_at")));
    cr_expect(json_is_string(json_object_get(job, "finished_at")));
    cr_expect_eq(json_integer_value(json_object_get(job, "attempts")), 0);
    json_decref(job);

    /* No worker is woken and nothing can be claimed. */
    int got = -1;
    cr_assert_eq(kf_db_wait(db, 200, NULL, 0, NULL, 0, &got, err), KF_OK, "%s", err);
    cr_expect_eq(got, KF_DB_WAIT_TIMEOUT);
    struct kf_claimed *c;
    size_t n = 9;
    cr_assert_eq(kf_job_claim(db, "w:1", 60000, NULL, 1, &c, &n, err), KF_OK, "%s", err);
    cr_expect_eq(n, 0);
    kf_claimed_free(c, n);

    /* The reused job itself is reusable: its key points at it now. */
    json_t *found;
    int64_t from;
    cr_assert_eq(kf_job_find_reusable(db, "ck", &found, &from, err), KF_OK, "%s", err);
    cr_expect_eq(from, id);
    json_decref(found);

    /* The same key again: the same job. */
    cr_assert_eq(kf_job_insert(db, &j, &again, &existed, err), KF_OK, "%s", err);
    cr_expect_eq(again, id);
    cr_expect_eq(existed, 1);
    cr_expect_eq(sql_int(db_url, "SELECT count(*) FROM jobs"), 1);

    /* Bad reused results are refused before anything is written. */
    json_t *not_object = json_integer(3);
    j.done_result = not_object;
    j.idempotency_key = NULL;
    cr_expect_eq(kf_job_insert(db, &j, &again, &existed, err), KF_EINVAL);
    cr_expect_eq(sql_int(db_url, "SELECT count(*) FROM jobs"), 1);
    json_decref(not_object);
    json_decref(res);
    json_decref(spec);
    kf_db_close(db);
}

Test(db_reuse, queued_insert_unchanged)
{
    char err[KF_ERRLEN] = "";
    struct kf_db *db = open_db();
    json_t *spec = json_pack("{s:s}", "x", "y");
    struct kf_job_new j = {.kind = "build", .spec = spec, .commit = "ignored-without-result"};
    int64_t id;
    int existed;
    cr_assert_eq(kf_job_insert(db, &j, &id, &existed, err), KF_OK, "%s", err);
    cr_expect_eq(sql_int(db_url, "SELECT count(*) FROM jobs WHERE state = 'queued' AND commit IS NULL"
                                 " AND started_at IS NULL AND result IS NULL"),
                 1);
    json_decref(spec);
    kf_db_close(db);
}
