/* test_shard.c -- --shard K/N: parsing, a division that is disjoint and
 * whole, balanced by expected time rather than count, the canary on shard 1,
 * and a division that the shards' own records do not change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfo_shard.h"
#include "cfo_util.h"

static const char *OLD = "1111111111111111111111111111111111111111";
static const char *NEW = "2222222222222222222222222222222222222222";
static cfo_config *cfg;

static int setup(void **state)
{
    (void)state;
    cfg = cfo_config_new_default(); /* CANARY, INFRA_DRIFT */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cfo_config_destroy(&cfg);
    return 0;
}

static void add_task(cfo_taskset *ts, size_t fuzzer, const char *target)
{
    if (ts->n == ts->cap) {
        ts->cap = ts->cap ? ts->cap * 2 : 16;
        ts->v = cfo_xrealloc(ts->v, ts->cap * sizeof *ts->v);
    }
    cfo_task *t = &ts->v[ts->n];
    memset(t, 0, sizeof *t);
    t->id = ts->n++;
    t->fuzzer = &cfg->fuzzers[fuzzer];
    t->branch = cfo_xstrdup("main");
    t->commit = cfo_xstrdup(NEW);
    t->target = cfo_xstrdup(target);
}

static void add_record(cfo_recset *rs, const char *commit, const char *target, double duration)
{
    cfo_record r = {.commit = commit,
                    .fuzzer = "INFRA_DRIFT",
                    .branch = "main",
                    .target = target,
                    .command = "cfo-fuzz INFRA_DRIFT x",
                    .run = "r",
                    .count = 1,
                    .duration = duration,
                    .time_ms = 1000,
                    .has_time = true,
                    .attempt = 1,
                    .status = CFO_STATUS_PASS,
                    .ok = true};
    cfo_recset_add(rs, &r);
}

/* 60 targets: ten of 30 s (generated first), fifty of 1 s. */
static void make_set(cfo_taskset *ts, cfo_recset *rs)
{
    cfo_taskset_init(ts);
    add_task(ts, 0, "canary");
    for (int i = 0; i < 60; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%02d", i);
        add_task(ts, 1, name);
        add_record(rs, OLD, name, i < 10 ? 30 : 1);
    }
}

static void test_parse(void **state)
{
    (void)state;
    cfo_shard s;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_shard_parse("2/3", &s, &d), CFO_OK);
    assert_int_equal(s.k, 2);
    assert_int_equal(s.n, 3);
    assert_int_equal(cfo_shard_parse("1/1", &s, &d), CFO_OK);
    const char *bad[] = {"0/3", "4/3", "3", "/3", "1/", "a/b", "1/0", "-1/3", "1/3/4", "1/99999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&d, 0, sizeof d);
        assert_int_equal(cfo_shard_parse(bad[i], &s, &d), CFO_EINVAL);
        assert_non_null(strstr(d.msg, "--shard"));
    }
    unsetenv("CIRCLE_NODE_INDEX");
    unsetenv("CIRCLE_NODE_TOTAL");
    assert_int_equal(cfo_shard_parse("auto", &s, &d), CFO_EINVAL);
    assert_non_null(strstr(d.msg, "CIRCLE_NODE_INDEX"));
    setenv("CIRCLE_NODE_INDEX", "0", 1);
    setenv("CIRCLE_NODE_TOTAL", "4", 1);
    assert_int_equal(cfo_shard_parse("auto", &s, &d), CFO_OK);
    assert_int_equal(s.k, 1);
    assert_int_equal(s.n, 4);
    setenv("CIRCLE_NODE_INDEX", "4", 1);
    assert_int_equal(cfo_shard_parse("auto", &s, &d), CFO_EINVAL);
    unsetenv("CIRCLE_NODE_INDEX");
    unsetenv("CIRCLE_NODE_TOTAL");
}

static void test_disjoint_whole_balanced(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    cfo_taskset ts;
    make_set(&ts, rs);
    double expected[61];
    uint32_t owner[61];
    cfo_shard_expected(&ts, rs, expected);
    assert_true(expected[0] > 0); /* the canary has no record: the others' mean */
    cfo_shard_assign(&ts, expected, 3, owner);
    double load[3] = {0};
    size_t count[3] = {0};
    for (size_t i = 0; i < ts.n; i++) {
        assert_in_range(owner[i], 1, 3);
        load[owner[i] - 1] += expected[i];
        count[owner[i] - 1]++;
    }
    assert_int_equal(owner[0], 1);
    assert_int_equal(count[0] + count[1] + count[2], 61);
    double lo = load[0], hi = load[0];
    for (int s = 1; s < 3; s++) {
        lo = load[s] < lo ? load[s] : lo;
        hi = load[s] > hi ? load[s] : hi;
    }
    assert_true(hi <= lo * 1.1);
    /* By time, not by count: a shard with fewer long tasks has more tasks. */
    assert_true(count[0] != count[1] || count[1] != count[2]);

    /* Selecting each share keeps exactly its tasks. */
    size_t total = 0;
    for (uint32_t k = 1; k <= 3; k++) {
        cfo_taskset one;
        cfo_recset *again = cfo_recset_new();
        make_set(&one, again);
        cfo_shard s = {.k = k, .n = 3};
        cfo_shard_select(&one, rs, &s, NULL, NULL);
        assert_int_equal(one.n, count[k - 1]);
        for (size_t i = 0; i < one.n; i++)
            assert_int_equal(one.v[i].id, i);
        total += one.n;
        cfo_taskset_fini(&one);
        cfo_recset_destroy(&again);
    }
    assert_int_equal(total, 61);
    cfo_taskset_fini(&ts);
    cfo_recset_destroy(&rs);
}

/* Shard 1 uploads before shard 2 plans: its records, on the tested commit,
 * must not move any task from one share to another. */
static void test_own_records_do_not_move_tasks(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    cfo_taskset ts;
    make_set(&ts, rs);
    double expected[61];
    uint32_t before[61], after[61];
    cfo_shard_expected(&ts, rs, expected);
    cfo_shard_assign(&ts, expected, 3, before);
    for (int i = 0; i < 60; i += 2) {
        char name[16];
        snprintf(name, sizeof name, "t%02d", i);
        add_record(rs, NEW, name, 500 - i);
    }
    cfo_shard_expected(&ts, rs, expected);
    cfo_shard_assign(&ts, expected, 3, after);
    assert_memory_equal(before, after, sizeof before);
    cfo_taskset_fini(&ts);
    cfo_recset_destroy(&rs);
}

/* A task that already passed is left out of its own share only. */
static void test_passed_tasks_leave_their_share(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    cfo_taskset ts;
    make_set(&ts, rs);
    double expected[61];
    uint32_t owner[61];
    cfo_shard_expected(&ts, rs, expected);
    cfo_shard_assign(&ts, expected, 2, owner);
    size_t mine = 0;
    for (size_t i = 0; i < ts.n; i++)
        mine += owner[i] == 2;
    ts.v[5].passed = true;
    cfo_shard s = {.k = 2, .n = 2};
    cfo_shard_select(&ts, rs, &s, NULL, NULL);
    assert_int_equal(ts.n, mine - (owner[5] == 2));
    assert_int_equal(ts.skipped, owner[5] == 2);
    cfo_taskset_fini(&ts);
    cfo_recset_destroy(&rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_disjoint_whole_balanced),
        cmocka_unit_test(test_own_records_do_not_move_tasks),
        cmocka_unit_test(test_passed_tasks_leave_their_share),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
