/* test_priority.c -- history-aware task order: the classes and their order,
 * longest expected first, and the makespan that gives against LPT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfo_priority.h"
#include "cfo_util.h"

static const char *SHA = "0123456789abcdef0123456789abcdef01234567";
static cfo_config *cfg;

static int setup(void **state)
{
    (void)state;
    cfg = cfo_config_new_default();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cfo_config_destroy(&cfg);
    return 0;
}

static void add_task(cfo_taskset *ts, const char *branch, const char *target)
{
    if (ts->n == ts->cap) {
        ts->cap = ts->cap ? ts->cap * 2 : 16;
        ts->v = cfo_xrealloc(ts->v, ts->cap * sizeof *ts->v);
    }
    cfo_task *t = &ts->v[ts->n];
    memset(t, 0, sizeof *t);
    t->id = ts->n++;
    t->fuzzer = &cfg->fuzzers[1]; /* INFRA_DRIFT */
    t->branch = cfo_xstrdup(branch);
    t->commit = cfo_xstrdup(SHA);
    t->target = cfo_xstrdup(target);
}

static void add_record(cfo_recset *rs, const char *branch, const char *target, bool ok,
                       double duration, int64_t time_ms)
{
    cfo_record r = {.commit = SHA,
                    .fuzzer = "INFRA_DRIFT",
                    .branch = branch,
                    .target = target,
                    .command = "cfo-fuzz INFRA_DRIFT x",
                    .run = "r",
                    .count = 1,
                    .duration = duration,
                    .time_ms = time_ms,
                    .has_time = true,
                    .attempt = 1,
                    .status = ok ? CFO_STATUS_PASS : CFO_STATUS_FAIL,
                    .ok = ok};
    cfo_recset_add(rs, &r);
}

static void test_failing_then_new_then_longest_first(void **state)
{
    (void)state;
    cfo_taskset ts;
    cfo_taskset_init(&ts);
    const char *targets[] = {"short", "never", "long", "was-red", "now-red", "red", "elsewhere"};
    for (size_t i = 0; i < 7; i++)
        add_task(&ts, "main", targets[i]);
    cfo_recset *rs = cfo_recset_new();
    add_record(rs, "main", "short", true, 5, 1000);
    add_record(rs, "main", "long", true, 10, 1000);
    add_record(rs, "main", "long", true, 20, 2000); /* expected: the mean, 15 */
    add_record(rs, "main", "was-red", false, 1, 1000);
    add_record(rs, "main", "was-red", true, 3, 2000); /* healed: known */
    add_record(rs, "main", "now-red", true, 2, 1000);
    add_record(rs, "main", "now-red", false, 4, 2000); /* newest failed */
    add_record(rs, "main", "red", false, 8, 1500);
    add_record(rs, "other", "elsewhere", false, 9, 1000); /* another branch: not this task's */
    cfo_record c = rs->v[0];
    c.status = CFO_STATUS_CANCELLED; /* never merged, never history */
    c.ok = false;
    c.target = "short";
    c.time_ms = 9999;
    cfo_recset_add(rs, &c);

    cfo_prioritize(&ts, rs);
    const char *want[] = {"red", "now-red", "never", "elsewhere", "long", "short", "was-red"};
    for (size_t i = 0; i < 7; i++) {
        assert_string_equal(ts.v[i].target, want[i]);
        assert_int_equal(ts.v[i].id, i);
    }
    cfo_priority_info info[7];
    cfo_priority_classify(&ts, rs, info);
    assert_int_equal(info[0].klass, CFO_PRIORITY_FAILING);
    assert_int_equal(info[2].klass, CFO_PRIORITY_NEW);
    assert_int_equal(info[3].klass, CFO_PRIORITY_NEW);
    assert_int_equal(info[4].klass, CFO_PRIORITY_KNOWN);
    assert_true(info[4].expected == 15);

    /* Nothing known: generation order stands. */
    cfo_taskset fresh;
    cfo_taskset_init(&fresh);
    for (size_t i = 0; i < 7; i++)
        add_task(&fresh, "main", targets[i]);
    cfo_prioritize(&fresh, NULL);
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(fresh.v[i].target, targets[i]);
    cfo_taskset_fini(&fresh);
    cfo_recset_destroy(&rs);
    cfo_taskset_fini(&ts);
}

static int desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Durations known from history: the order is longest first, so its makespan
 * is LPT's, within 4/3 of the best possible; generation order can be far off. */
static void test_makespan_against_lpt(void **state)
{
    (void)state;
    srand(7);
    for (int round = 0; round < 200; round++) {
        size_t n = 5 + (size_t)(rand() % 60), slots = 1 + (size_t)(rand() % 8);
        cfo_taskset ts;
        cfo_taskset_init(&ts);
        cfo_recset *rs = cfo_recset_new();
        double *dur = cfo_xcalloc(n, sizeof *dur);
        for (size_t i = 0; i < n; i++) {
            char name[32];
            snprintf(name, sizeof name, "t%zu", i);
            add_task(&ts, "main", name);
            dur[i] = 0.1 + (double)(rand() % 1000) / 10.0;
            add_record(rs, "main", name, true, dur[i], 1000);
        }
        cfo_prioritize(&ts, rs);
        double *ordered = cfo_xcalloc(n, sizeof *ordered);
        double sum = 0, longest = 0;
        for (size_t i = 0; i < n; i++) {
            ordered[i] = dur[atoi(ts.v[i].target + 1)];
            sum += ordered[i];
            longest = ordered[i] > longest ? ordered[i] : longest;
        }
        double ours = cfo_list_makespan(ordered, n, slots);
        qsort(dur, n, sizeof *dur, desc);
        double lpt = cfo_list_makespan(dur, n, slots);
        assert_true(ours <= 1.10 * lpt);
        /* And no schedule can beat the work per slot or the longest task. */
        double lower = sum / (double)slots > longest ? sum / (double)slots : longest;
        assert_true(ours >= lower - 1e-9);
        free(ordered);
        free(dur);
        cfo_recset_destroy(&rs);
        cfo_taskset_fini(&ts);
    }
    /* The case history ordering exists for: the long task generated last. */
    double fifo[] = {1, 1, 1, 1, 1, 1, 6};
    double hist[] = {6, 1, 1, 1, 1, 1, 1};
    assert_true(cfo_list_makespan(fifo, 7, 2) == 9);
    assert_true(cfo_list_makespan(hist, 7, 2) == 6);
}

static void test_schedule_parse(void **state)
{
    (void)state;
    cfo_schedule s;
    assert_int_equal(cfo_schedule_parse("fifo", &s), 0);
    assert_int_equal(s, CFO_SCHEDULE_FIFO);
    assert_int_equal(cfo_schedule_parse("history", &s), 0);
    assert_int_equal(s, CFO_SCHEDULE_HISTORY);
    assert_int_equal(cfo_schedule_parse("random", &s), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failing_then_new_then_longest_first),
        cmocka_unit_test(test_makespan_against_lpt),
        cmocka_unit_test(test_schedule_parse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
