/* test_history.c -- window order of commits, cells, and regression ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cfo_history.h"
#include "cfo_record.h"
#include "cfo_util.h"

/* 40-hex shas whose string order is the order of n. */
static const char *sha(unsigned n)
{
    static char bufs[64][41];
    char *b = bufs[n % 64];
    snprintf(b, 41, "%040x", n);
    return b;
}

#define HOUR (3600LL * 1000)
#define T0 1795000000000LL

typedef struct spec {
    const char *fuzzer, *branch, *target;
    unsigned commit;
    int hour; /* < 0: no time */
    cfo_status status;
    uint32_t attempt;
} spec;

static void add(cfo_recset *rs, spec s)
{
    cfo_record r = {
        .commit = sha(s.commit),
        .fuzzer = s.fuzzer ? s.fuzzer : "FZ",
        .branch = s.branch ? s.branch : "main",
        .target = s.target ? s.target : "t",
        .command = "cfo-fuzz FZ t",
        .run = "run-1",
        .count = 1,
        .findings = s.status == CFO_STATUS_PASS ? 0 : 1,
        .duration = 1.0,
        .time_ms = s.hour >= 0 ? T0 + s.hour * HOUR : 0,
        .has_time = s.hour >= 0,
        .attempt = s.attempt ? s.attempt : 1,
        .status = s.status,
        .ok = s.status == CFO_STATUS_PASS,
    };
    cfo_recset_add(rs, &r);
}

static size_t commit_index(const cfo_history *h, unsigned n)
{
    for (size_t c = 0; c < h->ncommits; c++)
        if (strcmp(h->commits[c].sha, sha(n)) == 0)
            return c;
    fail_msg("commit %u not in the history", n);
    return CFO_HISTORY_NONE;
}

static const cfo_history_series *series(const cfo_history *h, const char *target)
{
    size_t k = cfo_history_find(h, "FZ", "main", target);
    assert_true(k != CFO_HISTORY_NONE);
    return &h->series[k];
}

/* One target per pattern over commits 1..n (hour = commit), 'P' pass, 'F'
 * fail, 'T' timeout, 'E' error, '.' not tested. */
static void add_pattern(cfo_recset *rs, const char *target, const char *pattern)
{
    for (unsigned i = 0; pattern[i]; i++) {
        cfo_status s;
        switch (pattern[i]) {
        case 'P':
            s = CFO_STATUS_PASS;
            break;
        case 'F':
            s = CFO_STATUS_FAIL;
            break;
        case 'T':
            s = CFO_STATUS_TIMEOUT;
            break;
        case 'E':
            s = CFO_STATUS_ERROR;
            break;
        default:
            continue;
        }
        add(rs, (spec){.target = target, .commit = i + 1, .hour = (int)i + 1, .status = s});
    }
}

static void commits_are_in_window_order(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    /* Commit 9 is newest by time although its sha is not the largest; 5 and 7
     * tie on time, so the larger sha (7) counts as more recent; 8 has no
     * time at all and is older than everything with one. */
    add(rs, (spec){.commit = 9, .hour = 20, .status = CFO_STATUS_PASS});
    add(rs, (spec){.commit = 3, .hour = 1, .status = CFO_STATUS_PASS});
    add(rs, (spec){.commit = 3, .hour = 2, .status = CFO_STATUS_FAIL, .target = "u"});
    add(rs, (spec){.commit = 7, .hour = 10, .status = CFO_STATUS_PASS});
    add(rs, (spec){.commit = 5, .hour = 10, .status = CFO_STATUS_PASS});
    add(rs, (spec){.commit = 5, .hour = 4, .status = CFO_STATUS_FAIL, .target = "u"});
    add(rs, (spec){.commit = 8, .hour = -1, .status = CFO_STATUS_PASS});
    cfo_history *h = cfo_history_new(rs);
    assert_int_equal(h->ncommits, 5);
    const unsigned want[] = {8, 3, 5, 7, 9};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(h->commits[i].sha, sha(want[i]));
    /* A commit's recency is its newest record's time. */
    assert_int_equal(h->commits[1].newest_ms, T0 + 2 * HOUR);
    assert_int_equal(h->commits[1].nrecords, 2);
    assert_false(h->commits[0].has_time);
    assert_int_equal(h->nrecords, 7);
    cfo_history_destroy(&h);
    assert_null(h);
    cfo_recset_destroy(&rs);
}

static void regression_range_is_the_current_failing_streak(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    add_pattern(rs, "broke", "PPPFFF");
    add_pattern(rs, "gaps", "P.P.F.F");
    add_pattern(rs, "flaky", "FFPFPF");
    add_pattern(rs, "always", "FTEF");
    add_pattern(rs, "healed", "PFFP");
    add_pattern(rs, "mixed", "PPTEF");
    cfo_history *h = cfo_history_new(rs);
    assert_int_equal(h->ncommits, 7);
    assert_int_equal(h->nseries, 6);

    const cfo_history_series *s = series(h, "broke");
    assert_true(s->failing);
    assert_int_equal(s->first_bad, commit_index(h, 4));
    assert_int_equal(s->last_good, commit_index(h, 3));
    assert_int_equal(s->ncells, 6);

    /* Commits a target was not tested on neither break nor mend it. */
    s = series(h, "gaps");
    assert_true(s->failing);
    assert_int_equal(s->first_bad, commit_index(h, 5));
    assert_int_equal(s->last_good, commit_index(h, 3));
    assert_int_equal(s->ncells, 4);

    /* Only the streak that reaches the newest tested commit counts. */
    s = series(h, "flaky");
    assert_true(s->failing);
    assert_int_equal(s->first_bad, commit_index(h, 6));
    assert_int_equal(s->last_good, commit_index(h, 5));

    /* Failing across the whole window: no pass to name. */
    s = series(h, "always");
    assert_true(s->failing);
    assert_int_equal(s->first_bad, commit_index(h, 1));
    assert_int_equal(s->last_good, CFO_HISTORY_NONE);

    s = series(h, "healed");
    assert_false(s->failing);
    assert_int_equal(s->first_bad, CFO_HISTORY_NONE);
    assert_int_equal(s->last_good, commit_index(h, 4));

    /* timeout and error break a target as fail does. */
    s = series(h, "mixed");
    assert_true(s->failing);
    assert_int_equal(s->first_bad, commit_index(h, 3));
    assert_int_equal(s->last_good, commit_index(h, 2));

    /* Per commit: how many targets ended there in each status. */
    const cfo_history_commit *c4 = &h->commits[commit_index(h, 4)];
    assert_int_equal(c4->by_status[CFO_STATUS_FAIL], 3);  /* broke flaky always */
    assert_int_equal(c4->by_status[CFO_STATUS_PASS], 1);  /* healed */
    assert_int_equal(c4->by_status[CFO_STATUS_ERROR], 1); /* mixed */
    const cfo_history_commit *c1 = &h->commits[commit_index(h, 1)];
    assert_int_equal(c1->by_status[CFO_STATUS_PASS], 4);
    assert_int_equal(c1->by_status[CFO_STATUS_FAIL], 2);
    cfo_history_destroy(&h);
    cfo_recset_destroy(&rs);
}

static void a_cell_is_the_newest_record_of_its_commit(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    /* ACCUMULATE keeps failures beside the newest pass of the same key. */
    add(rs, (spec){.commit = 1, .hour = 1, .status = CFO_STATUS_PASS});
    add(rs, (spec){.commit = 2, .hour = 2, .status = CFO_STATUS_FAIL});
    add(rs, (spec){.commit = 2, .hour = 3, .status = CFO_STATUS_PASS});
    add(rs, (spec){.commit = 2, .hour = 2, .status = CFO_STATUS_FAIL, .attempt = 2});
    /* Same time: the later attempt is newer. */
    add(rs, (spec){.commit = 3, .hour = 5, .status = CFO_STATUS_PASS, .attempt = 1});
    add(rs, (spec){.commit = 3, .hour = 5, .status = CFO_STATUS_TIMEOUT, .attempt = 2});
    cfo_history *h = cfo_history_new(rs);
    const cfo_history_series *s = series(h, "t");
    assert_int_equal(s->nrecords, 6);
    assert_int_equal(s->ncells, 3);
    assert_int_equal(s->cells[1].rec->status, CFO_STATUS_PASS);
    assert_int_equal(s->cells[2].rec->status, CFO_STATUS_TIMEOUT);
    assert_int_equal(s->cells[2].rec->attempt, 2);
    assert_true(s->failing);
    assert_int_equal(s->first_bad, commit_index(h, 3));
    assert_int_equal(s->last_good, commit_index(h, 2));
    /* Records come in window order, then time. */
    for (size_t i = 1; i < s->nrecords; i++)
        assert_true(strcmp(s->records[i - 1]->commit, s->records[i]->commit) <= 0);
    assert_int_equal(s->records[1]->time_ms, T0 + 2 * HOUR);
    assert_int_equal(s->records[3]->time_ms, T0 + 3 * HOUR);
    cfo_history_destroy(&h);
    cfo_recset_destroy(&rs);
}

static void cancelled_records_say_nothing(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    add(rs, (spec){.commit = 1, .hour = 1, .status = CFO_STATUS_PASS});
    add(rs, (spec){.commit = 2, .hour = 2, .status = CFO_STATUS_CANCELLED});
    add(rs, (spec){.commit = 2, .hour = 2, .status = CFO_STATUS_CANCELLED, .target = "only"});
    cfo_history *h = cfo_history_new(rs);
    assert_int_equal(h->ncommits, 1);
    assert_int_equal(h->nseries, 1);
    assert_int_equal(h->nrecords, 1);
    assert_false(series(h, "t")->failing);
    assert_int_equal(cfo_history_find(h, "FZ", "main", "only"), CFO_HISTORY_NONE);
    cfo_history_destroy(&h);
    cfo_recset_destroy(&rs);
}

static void series_are_per_fuzzer_branch_and_target(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    add(rs,
        (spec){.fuzzer = "B", .branch = "main", .commit = 1, .hour = 1, .status = CFO_STATUS_FAIL});
    add(rs,
        (spec){
            .fuzzer = "A", .branch = "staging", .commit = 2, .hour = 2, .status = CFO_STATUS_PASS});
    add(rs,
        (spec){.fuzzer = "A", .branch = "main", .commit = 1, .hour = 1, .status = CFO_STATUS_PASS});
    add(rs,
        (spec){.fuzzer = "A", .branch = "main", .commit = 3, .hour = 3, .status = CFO_STATUS_FAIL});
    cfo_history *h = cfo_history_new(rs);
    assert_int_equal(h->nseries, 3);
    assert_string_equal(h->series[0].fuzzer, "A");
    assert_string_equal(h->series[0].branch, "main");
    assert_string_equal(h->series[1].branch, "staging");
    assert_string_equal(h->series[2].fuzzer, "B");
    size_t k = cfo_history_find(h, "A", "main", "t");
    assert_int_equal(k, 0);
    assert_true(h->series[0].failing);
    assert_int_equal(h->series[0].first_bad, commit_index(h, 3));
    assert_int_equal(h->series[0].last_good, commit_index(h, 1));
    assert_false(h->series[1].failing);
    assert_true(h->series[2].failing);
    assert_int_equal(h->series[2].last_good, CFO_HISTORY_NONE);
    assert_int_equal(cfo_history_find(h, "A", "plan", "t"), CFO_HISTORY_NONE);
    assert_int_equal(cfo_history_find(h, "C", "main", "t"), CFO_HISTORY_NONE);
    cfo_history_destroy(&h);
    cfo_recset_destroy(&rs);
}

static void an_empty_dataset_has_no_history(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    cfo_history *h = cfo_history_new(rs);
    assert_int_equal(h->ncommits, 0);
    assert_int_equal(h->nseries, 0);
    assert_int_equal(cfo_history_find(h, "FZ", "main", "t"), CFO_HISTORY_NONE);
    cfo_history_destroy(&h);
    cfo_history_destroy(&h); /* NULL is fine */
    cfo_recset_destroy(&rs);
}

static void git_order_places_a_retested_commit_where_git_has_it(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    /* Commit 1 re-tested after 2 and 3: by record time it would be newest. */
    add(rs, (spec){.commit = 1, .hour = 1, .status = CFO_STATUS_PASS});
    add(rs, (spec){.commit = 2, .hour = 2, .status = CFO_STATUS_PASS});
    add(rs, (spec){.commit = 3, .hour = 3, .status = CFO_STATUS_FAIL, .branch = "dev"});
    add(rs, (spec){.commit = 1, .hour = 9, .status = CFO_STATUS_PASS, .target = "u"});
    /* Commit 7 is not in the repository: it comes first, by record time. */
    add(rs, (spec){.commit = 7, .hour = 8, .status = CFO_STATUS_PASS, .target = "u"});
    /* sha(n) is one buffer per n, so these stay what they are. */
    const cfo_history_git git[] = {{sha(1), ""}, {sha(2), sha(1)}, {sha(3), sha(2)}};
    cfo_history *h = cfo_history_new_git(rs, git, 3);
    assert_int_equal(h->ncommits, 4);
    assert_int_equal(h->ngit, 3);
    const unsigned want[] = {7, 1, 2, 3};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(h->commits[i].sha, sha(want[i]));
    assert_null(h->commits[0].parents);
    assert_string_equal(h->commits[3].parents, sha(2));

    /* dev's first record fails on 3, whose parent 2 passed on main: the
     * break is dated, with the target's own record times. */
    size_t k = cfo_history_find(h, "FZ", "dev", "t");
    assert_true(k != CFO_HISTORY_NONE);
    const cfo_history_series *s = &h->series[k];
    assert_true(s->failing);
    assert_int_equal(s->last_good, CFO_HISTORY_NONE);
    assert_non_null(s->parent_pass);
    assert_string_equal(s->parent_pass->commit, sha(2));
    assert_string_equal(s->parent_pass->branch, "main");
    assert_int_equal(s->first_bad_rec->time_ms, T0 + 3 * HOUR);
    /* Passing on main: last passed at its own record on 2, not at commit
     * 1's newest record (u's, hour 9). */
    s = series(h, "t");
    assert_int_equal(s->last_good, 2);
    assert_int_equal(s->last_good_rec->time_ms, T0 + 2 * HOUR);
    cfo_history_destroy(&h);
    cfo_recset_destroy(&rs);
}

static void the_failing_streak_starts_at_its_oldest_record(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    add(rs, (spec){.commit = 1, .hour = 1, .status = CFO_STATUS_PASS});
    add(rs, (spec){.commit = 2, .hour = 2, .status = CFO_STATUS_PASS});
    add(rs, (spec){.commit = 2, .hour = 4, .status = CFO_STATUS_FAIL});
    add(rs, (spec){.commit = 2, .hour = 5, .status = CFO_STATUS_FAIL});
    add(rs, (spec){.commit = 2, .hour = 6, .status = CFO_STATUS_PASS, .target = "other"});
    cfo_history *h = cfo_history_new(rs);
    const cfo_history_series *s = series(h, "t");
    assert_true(s->failing);
    assert_int_equal(s->first_bad, commit_index(h, 2));
    assert_int_equal(s->first_bad_rec->time_ms, T0 + 4 * HOUR);
    assert_int_equal(s->last_good_rec->time_ms, T0 + 1 * HOUR);
    assert_null(s->parent_pass);
    cfo_history_destroy(&h);
    cfo_recset_destroy(&rs);
}

static void a_canary_is_a_check_not_a_failing_target(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    add(rs, (spec){.fuzzer = "CANARY", .commit = 1, .hour = 1, .status = CFO_STATUS_FAIL});
    add(rs, (spec){.fuzzer = "CANARY", .commit = 2, .hour = 2, .status = CFO_STATUS_FAIL});
    add(rs, (spec){.fuzzer = "CANARY",
                   .branch = "dev",
                   .commit = 2,
                   .hour = 3,
                   .status = CFO_STATUS_PASS});
    add(rs, (spec){.commit = 2, .hour = 2, .status = CFO_STATUS_FAIL});
    cfo_history *h = cfo_history_new(rs);
    assert_int_equal(cfo_history_failing(h), 2);
    cfo_history_mark_canary(h, "CANARY");
    assert_int_equal(cfo_history_failing(h), 1);
    assert_int_equal(h->ncanary, 2);
    assert_int_equal(h->ncanary_broken, 1);
    const cfo_history_series *s = &h->series[cfo_history_find(h, "CANARY", "main", "t")];
    assert_true(s->canary);
    assert_false(s->canary_broken);
    assert_false(s->failing);
    assert_int_equal(s->canary_last->time_ms, T0 + 2 * HOUR);
    s = &h->series[cfo_history_find(h, "CANARY", "dev", "t")];
    assert_true(s->canary_broken);
    /* The per-commit counts are the targets' only. */
    assert_int_equal(h->commits[commit_index(h, 2)].by_status[CFO_STATUS_FAIL], 1);
    assert_int_equal(h->commits[commit_index(h, 2)].by_status[CFO_STATUS_PASS], 0);
    cfo_history_destroy(&h);
    cfo_recset_destroy(&rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commits_are_in_window_order),
        cmocka_unit_test(regression_range_is_the_current_failing_streak),
        cmocka_unit_test(a_cell_is_the_newest_record_of_its_commit),
        cmocka_unit_test(cancelled_records_say_nothing),
        cmocka_unit_test(series_are_per_fuzzer_branch_and_target),
        cmocka_unit_test(an_empty_dataset_has_no_history),
        cmocka_unit_test(git_order_places_a_retested_commit_where_git_has_it),
        cmocka_unit_test(the_failing_streak_starts_at_its_oldest_record),
        cmocka_unit_test(a_canary_is_a_check_not_a_failing_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
