/* test_budget.c -- a time-filling fuzzer's share divided by yield: more time
 * where findings were, a floor for every target, other fuzzers untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cfo_budget.h"
#include "cfo_util.h"

static const char *SHA = "0123456789abcdef0123456789abcdef01234567";

/* ENGINE fills its time; SCRIPT ends by itself. */
static cfo_fuzzer engine, script;

static bool fills_time(const cfo_fuzzer *f)
{
    return f == &engine;
}

static int setup(void **state)
{
    (void)state;
    cfo_fuzzer_init(&engine, "ENGINE", CFO_KIND_EXEC);
    assert_false(cfo_budget_engine_fills_time(&engine));
    cfo_fuzzer_init(&script, "SCRIPT", CFO_KIND_EXEC);
    engine.budget_share = 50;
    script.budget_share = 50;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cfo_fuzzer_fini(&engine);
    cfo_fuzzer_fini(&script);
    return 0;
}

static void add_task(cfo_taskset *ts, const cfo_fuzzer *f, const char *target)
{
    if (ts->n == ts->cap) {
        ts->cap = ts->cap ? ts->cap * 2 : 16;
        ts->v = cfo_xrealloc(ts->v, ts->cap * sizeof *ts->v);
    }
    cfo_task *t = &ts->v[ts->n];
    memset(t, 0, sizeof *t);
    t->id = ts->n++;
    t->fuzzer = f;
    t->branch = cfo_xstrdup("main");
    t->commit = cfo_xstrdup(SHA);
    t->target = cfo_xstrdup(target);
    t->timeout_ms = 3600 * 1000;
}

static void add_record(cfo_recset *rs, const char *fuzzer, const char *target, int64_t findings,
                       cfo_status status)
{
    cfo_record r = {.commit = SHA,
                    .fuzzer = fuzzer,
                    .branch = "main",
                    .target = target,
                    .command = "x",
                    .count = 1,
                    .findings = findings,
                    .status = status,
                    .ok = status == CFO_STATUS_PASS};
    cfo_recset_add(rs, &r);
}

static void test_time_follows_yield_with_a_floor(void **state)
{
    (void)state;
    cfo_taskset ts;
    cfo_taskset_init(&ts);
    add_task(&ts, &engine, "quiet");
    add_task(&ts, &engine, "rich");
    add_task(&ts, &engine, "new");
    add_task(&ts, &engine, "fading");
    add_task(&ts, &script, "rich");
    cfo_recset *prior = cfo_recset_new();
    add_record(prior, "ENGINE", "rich", 5, CFO_STATUS_FAIL);
    add_record(prior, "ENGINE", "rich", 4, CFO_STATUS_FAIL);
    add_record(prior, "ENGINE", "fading", 1, CFO_STATUS_PASS);
    add_record(prior, "ENGINE", "quiet", 0, CFO_STATUS_PASS);
    add_record(prior, "ENGINE", "new", 50, CFO_STATUS_CANCELLED); /* never merged */
    add_record(prior, "SCRIPT", "quiet", 7, CFO_STATUS_FAIL);     /* another fuzzer's */
    add_record(prior, "ENGINE", "zzz", 9, CFO_STATUS_FAIL);       /* not in this run */

    assert_int_equal(cfo_budget_yield(prior, "ENGINE", "main", "rich"), 9);
    assert_int_equal(cfo_budget_yield(prior, "ENGINE", "main", "new"), 0);
    assert_int_equal(cfo_budget_yield(NULL, "ENGINE", "main", "rich"), 0);

    /* pool: 50% of 400 s x 2 slots = 400 s; floor 25 s each, 300 s by weight
     * 1 + yield: quiet 1, rich 10, new 1, fading 2 (total 14). */
    const int64_t room = 1000;
    engine.triage_time_ms = room;
    cfo_budget_allocate(&ts, prior, 400 * 1000, 2, fills_time);
    int64_t quiet = ts.v[0].timeout_ms - room, rich = ts.v[1].timeout_ms - room,
            fresh = ts.v[2].timeout_ms - room, fading = ts.v[3].timeout_ms - room;
    assert_true(llabs(quiet - (25000 + 300000 / 14)) <= 1);
    assert_true(llabs(rich - (25000 + 300000 * 10 / 14)) <= 1);
    assert_int_equal(fresh, quiet);
    assert_true(llabs(fading - (25000 + 300000 * 2 / 14)) <= 1);
    /* The pool is spent, not exceeded. */
    assert_true(llabs(quiet + rich + fresh + fading - 400000) <= 4);
    /* A fuzzer that ends by itself keeps its timeout. */
    assert_int_equal(ts.v[4].timeout_ms, 3600 * 1000);

    cfo_recset_destroy(&prior);
    cfo_taskset_fini(&ts);
}

static void test_caps_and_minimum(void **state)
{
    (void)state;
    cfo_taskset ts;
    cfo_taskset_init(&ts);
    add_task(&ts, &engine, "a");
    add_task(&ts, &engine, "b");
    ts.v[1].timeout_ms = 2000; /* the fuzzer's own task_timeout is lower: it stays */
    /* A tiny budget still gives each task the minimum. */
    engine.triage_time_ms = 500;
    cfo_budget_allocate(&ts, NULL, 1000, 1, fills_time);
    assert_int_equal(ts.v[0].timeout_ms, CFO_BUDGET_MIN_TASK_MS + 500);
    assert_int_equal(ts.v[1].timeout_ms, 2000);
    cfo_taskset_fini(&ts);

    /* Without a share, nothing is allocated. */
    cfo_taskset_init(&ts);
    engine.budget_share = 0;
    add_task(&ts, &engine, "a");
    cfo_budget_allocate(&ts, NULL, 1000 * 1000, 4, fills_time);
    assert_int_equal(ts.v[0].timeout_ms, 3600 * 1000);
    engine.budget_share = 50;
    cfo_taskset_fini(&ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_follows_yield_with_a_floor),
        cmocka_unit_test(test_caps_and_minimum),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
