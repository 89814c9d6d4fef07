/* test_merge.c -- the dataset merge rules, by example and as properties over random record sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfo_config.h"
#include "cfo_merge.h"

#define NO_TIME INT64_MIN
#define NSHA 16

static cfo_config *g_config;
static char g_sha[NSHA][41];

static const char *sha(int k)
{
    return g_sha[k];
}

static int group_setup(void **state)
{
    (void)state;
    /* Commit k is its hex digit written 40 times, so shas sort as k does. */
    for (int k = 0; k < NSHA; k++) {
        memset(g_sha[k], "0123456789abcdef"[k], 40);
        g_sha[k][40] = '\0';
    }
    const char *ini = "[fuzzer \"S1\"]\nkind = exec\nmerge = supersede\nrun = /bin/true\n"
                      "[fuzzer \"S2\"]\nkind = exec\nmerge = supersede\nrun = /bin/true\n"
                      "[fuzzer \"A1\"]\nkind = exec\nmerge = accumulate\nrun = /bin/true\n";
    cfo_diag d = {{0}};
    if (cfo_config_parse(ini, "test.ini", &g_config, &d) != CFO_OK) {
        fprintf(stderr, "config: %s\n", d.msg);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cfo_config_destroy(&g_config);
    return 0;
}

static cfo_merge_policy policy(int window)
{
    return (cfo_merge_policy){.window = window, .config = g_config};
}

static cfo_merge_strategy strategy(const char *fuzzer)
{
    cfo_merge_policy p = policy(1);
    return cfo_merge_strategy_for(&p, fuzzer);
}

/* ---- building and comparing record sets ---- */

static cfo_record make(const char *fuzzer, const char *branch, const char *target, int commit,
                       const char *run, unsigned attempt, int64_t time, cfo_status st)
{
    return (cfo_record){.commit = sha(commit),
                        .fuzzer = fuzzer,
                        .branch = branch,
                        .target = target,
                        .command = "cfo-fuzz X t",
                        .run = run,
                        .worker = NULL,
                        .count = 1,
                        .findings = st == CFO_STATUS_PASS ? 0 : 1,
                        .duration = 1.0,
                        .time_ms = time == NO_TIME ? 0 : time,
                        .attempt = attempt,
                        .status = st,
                        .ok = st == CFO_STATUS_PASS,
                        .has_time = time != NO_TIME};
}

static void add(cfo_recset *rs, const char *fuzzer, const char *target, int commit, const char *run,
                unsigned attempt, int64_t time, cfo_status st)
{
    cfo_record r = make(fuzzer, "main", target, commit, run, attempt, time, st);
    cfo_recset_add(rs, &r);
}

static int cmp_rec(const void *a, const void *b)
{
    return cfo_record_cmp_all(a, b);
}

static void sort_set(cfo_recset *rs)
{
    if (rs->n > 0)
        qsort(rs->v, rs->n, sizeof *rs->v, cmp_rec);
}

static void print_record(const char *tag, const cfo_record *r)
{
    char t[32] = "-";
    if (r->has_time)
        snprintf(t, sizeof t, "%lld", (long long)r->time_ms);
    print_message("  %s %s %s %s %.4s run=%s att=%u t=%s %s cnt=%lld dur=%g w=%s\n", tag, r->fuzzer,
                  r->branch, r->target, r->commit, r->run ? r->run : "NULL", r->attempt, t,
                  cfo_status_name(r->status), (long long)r->count, r->duration,
                  r->worker ? r->worker : "NULL");
}

static void print_set(const char *title, const cfo_recset *rs)
{
    print_message("%s (%zu):\n", title, rs->n);
    for (size_t i = 0; i < rs->n; i++)
        print_record("", &rs->v[i]);
}

static bool sets_equal(const cfo_recset *a, const cfo_recset *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (cfo_record_cmp_all(&a->v[i], &b->v[i]) != 0)
            return false;
    return true;
}

/* Fails the test, showing both sets, unless they hold the same records in
 * the same order. */
static void assert_sets_equal(const cfo_recset *got, const cfo_recset *want, const char *what)
{
    if (sets_equal(got, want))
        return;
    print_message("mismatch: %s\n", what);
    print_set("got", got);
    print_set("want", want);
    fail_msg("%s", what);
}

/* Merges rs and checks it against want (sorted here). */
static void merge_expect(cfo_recset *rs, cfo_recset *want, int window)
{
    cfo_merge_policy p = policy(window);
    cfo_merge(rs, &p);
    sort_set(want);
    assert_sets_equal(rs, want, "merge result");
}

static cfo_recset *copy_set(const cfo_recset *rs)
{
    cfo_recset *c = cfo_recset_new();
    cfo_recset_add_all(c, rs);
    return c;
}

static cfo_recset *merged_copy(const cfo_recset *rs, int window)
{
    cfo_recset *c = copy_set(rs);
    cfo_merge_policy p = policy(window);
    cfo_merge(c, &p);
    return c;
}

static bool contains(const cfo_recset *sorted, const cfo_record *r)
{
    return sorted->n > 0 && bsearch(r, sorted->v, sorted->n, sizeof *sorted->v, cmp_rec) != NULL;
}

static size_t distinct_commits(const cfo_recset *rs)
{
    size_t k = 0;
    for (size_t i = 0; i < rs->n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(rs->v[i].commit, rs->v[j].commit) == 0;
        k += !seen;
    }
    return k;
}

static bool has_commit(const cfo_recset *rs, const char *commit)
{
    for (size_t i = 0; i < rs->n; i++)
        if (strcmp(rs->v[i].commit, commit) == 0)
            return true;
    return false;
}

/* ---- the rules by example ---- */

static void test_strategy_lookup(void **state)
{
    (void)state;
    assert_int_equal(strategy("S1"), CFO_MERGE_SUPERSEDE);
    assert_int_equal(strategy("A1"), CFO_MERGE_ACCUMULATE);
    assert_int_equal(strategy("U1"), CFO_MERGE_ACCUMULATE);
    cfo_merge_policy none = {.window = 1, .config = NULL};
    assert_int_equal(cfo_merge_strategy_for(&none, "S1"), CFO_MERGE_ACCUMULATE);
    assert_int_equal(cfo_merge_strategy_for(NULL, "S1"), CFO_MERGE_ACCUMULATE);
}

static void test_empty_set(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    cfo_merge_policy p = policy(1);
    cfo_merge(rs, &p);
    assert_int_equal(rs->n, 0);
    add(rs, "S1", "t1", 0, "r1", 0, 5, CFO_STATUS_CANCELLED);
    cfo_merge(rs, &p);
    assert_int_equal(rs->n, 0);
    cfo_recset_destroy(&rs);
}

static void test_cancelled_removed_first(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new(), *want = cfo_recset_new();
    /* A cancelled record is not the newest of its key, supersedes nothing and
     * does not make its commit recent. */
    add(rs, "S1", "t1", 0, "r1", 0, 1, CFO_STATUS_FAIL);
    add(rs, "S1", "t1", 0, "r2", 0, 9, CFO_STATUS_CANCELLED);
    add(rs, "S1", "t2", 1, "r1", 0, 2, CFO_STATUS_FAIL);
    add(rs, "S1", "t2", 2, "r2", 0, 8, CFO_STATUS_CANCELLED);
    add(rs, "A1", "t1", 0, "r1", 0, 3, CFO_STATUS_CANCELLED);
    add(want, "S1", "t1", 0, "r1", 0, 1, CFO_STATUS_FAIL);
    add(want, "S1", "t2", 1, "r1", 0, 2, CFO_STATUS_FAIL);
    merge_expect(rs, want, 2);
    cfo_recset_destroy(&rs);
    cfo_recset_destroy(&want);
}

static void test_dedup_with_run(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new(), *want = cfo_recset_new();
    /* Failures of an ACCUMULATE fuzzer: rule 2 keeps them all, so only rule 1
     * can reduce them. */
    add(rs, "A1", "t1", 0, "r1", 1, 5, CFO_STATUS_FAIL);
    add(rs, "A1", "t1", 0, "r1", 1, 5, CFO_STATUS_FAIL);
    add(want, "A1", "t1", 0, "r1", 1, 5, CFO_STATUS_FAIL);
    /* Delivered twice, differing elsewhere: the smaller by every field stays,
     * whichever came first. */
    cfo_record a = make("A1", "main", "t2", 0, "r1", 1, 5, CFO_STATUS_FAIL);
    cfo_record b = a;
    b.duration = 2.0;
    b.worker = "w2";
    cfo_record c = a;
    c.time_ms = 7; /* a later delivery of the same result */
    cfo_recset_add(rs, &c);
    cfo_recset_add(rs, &b);
    cfo_recset_add(rs, &a);
    cfo_recset_add(want, &a);
    /* Another attempt, another run, another commit: other results. */
    add(rs, "A1", "t2", 0, "r1", 2, 5, CFO_STATUS_FAIL);
    add(want, "A1", "t2", 0, "r1", 2, 5, CFO_STATUS_FAIL);
    add(rs, "A1", "t2", 0, "r2", 1, 5, CFO_STATUS_FAIL);
    add(want, "A1", "t2", 0, "r2", 1, 5, CFO_STATUS_FAIL);
    add(rs, "A1", "t2", 1, "r1", 1, 5, CFO_STATUS_FAIL);
    add(want, "A1", "t2", 1, "r1", 1, 5, CFO_STATUS_FAIL);
    merge_expect(rs, want, 32);
    cfo_recset_destroy(&rs);
    cfo_recset_destroy(&want);
}

static void test_dedup_without_run(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new(), *want = cfo_recset_new();
    add(rs, "A1", "t1", 0, NULL, 0, NO_TIME, CFO_STATUS_FAIL);
    add(rs, "A1", "t1", 0, NULL, 0, NO_TIME, CFO_STATUS_FAIL);
    add(want, "A1", "t1", 0, NULL, 0, NO_TIME, CFO_STATUS_FAIL);
    /* Without a run, records that differ in any field are different results. */
    cfo_record a = make("A1", "main", "t2", 0, NULL, 0, NO_TIME, CFO_STATUS_FAIL);
    cfo_record b = a;
    b.count = 7;
    cfo_recset_add(rs, &a);
    cfo_recset_add(rs, &a);
    cfo_recset_add(rs, &b);
    cfo_recset_add(want, &a);
    cfo_recset_add(want, &b);
    merge_expect(rs, want, 32);
    cfo_recset_destroy(&rs);
    cfo_recset_destroy(&want);
}

static void test_newest_per_key_supersede(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new(), *want = cfo_recset_new();
    /* By time; a record without time is the oldest. */
    add(rs, "S1", "t1", 0, "r1", 0, NO_TIME, CFO_STATUS_PASS);
    add(rs, "S1", "t1", 0, "r2", 0, 3, CFO_STATUS_PASS);
    add(rs, "S1", "t1", 0, "r3", 0, 5, CFO_STATUS_FAIL);
    add(want, "S1", "t1", 0, "r3", 0, 5, CFO_STATUS_FAIL);
    /* Equal times: the larger attempt. */
    add(rs, "S1", "t2", 0, "r1", 2, 5, CFO_STATUS_PASS);
    add(rs, "S1", "t2", 0, "r1", 1, 5, CFO_STATUS_FAIL);
    add(want, "S1", "t2", 0, "r1", 2, 5, CFO_STATUS_PASS);
    /* Equal time and attempt: the larger run; no run is the smallest. */
    add(rs, "S1", "t3", 0, "r2", 1, 5, CFO_STATUS_ERROR);
    add(rs, "S1", "t3", 0, "r1", 1, 5, CFO_STATUS_PASS);
    add(rs, "S1", "t3", 0, NULL, 1, 5, CFO_STATUS_PASS);
    add(want, "S1", "t3", 0, "r2", 1, 5, CFO_STATUS_ERROR);
    /* Each branch and commit is its own key. */
    add(rs, "S1", "t1", 1, "r1", 0, 1, CFO_STATUS_PASS);
    add(want, "S1", "t1", 1, "r1", 0, 1, CFO_STATUS_PASS);
    cfo_record other = make("S1", "dev", "t1", 0, "r1", 0, 1, CFO_STATUS_PASS);
    cfo_recset_add(rs, &other);
    cfo_recset_add(want, &other);
    merge_expect(rs, want, 32);
    cfo_recset_destroy(&rs);
    cfo_recset_destroy(&want);
}

static void test_newest_per_key_full_tie(void **state)
{
    (void)state;
    /* Equal time, attempt and run, different otherwise: the largest by every
     * field is the newest, whatever the input order. */
    cfo_record a = make("S1", "main", "t1", 0, NULL, 0, 4, CFO_STATUS_FAIL);
    cfo_record b = a;
    b.count = 9;
    for (int order = 0; order < 2; order++) {
        cfo_recset *rs = cfo_recset_new(), *want = cfo_recset_new();
        cfo_recset_add(rs, order ? &a : &b);
        cfo_recset_add(rs, order ? &b : &a);
        cfo_recset_add(want, &b);
        merge_expect(rs, want, 32);
        cfo_recset_destroy(&rs);
        cfo_recset_destroy(&want);
    }
}

static void test_newest_per_key_accumulate(void **state)
{
    (void)state;
    const char *fuzzers[] = {"A1", "U1"}; /* U1 is unknown: ACCUMULATE */
    for (int f = 0; f < 2; f++) {
        cfo_recset *rs = cfo_recset_new(), *want = cfo_recset_new();
        const char *fz = fuzzers[f];
        add(rs, fz, "t1", 0, "r1", 0, 1, CFO_STATUS_FAIL);
        add(rs, fz, "t1", 0, "r2", 0, 2, CFO_STATUS_TIMEOUT);
        add(rs, fz, "t1", 0, "r3", 0, 3, CFO_STATUS_PASS);
        add(rs, fz, "t1", 0, "r4", 0, 4, CFO_STATUS_ERROR);
        add(rs, fz, "t1", 0, "r5", 0, 5, CFO_STATUS_PASS);
        add(rs, fz, "t1", 0, NULL, 0, NO_TIME, CFO_STATUS_PASS);
        add(want, fz, "t1", 0, "r1", 0, 1, CFO_STATUS_FAIL);
        add(want, fz, "t1", 0, "r2", 0, 2, CFO_STATUS_TIMEOUT);
        add(want, fz, "t1", 0, "r4", 0, 4, CFO_STATUS_ERROR);
        add(want, fz, "t1", 0, "r5", 0, 5, CFO_STATUS_PASS);
        /* Equal times: the pass of the larger attempt. */
        add(rs, fz, "t2", 0, "r1", 1, 5, CFO_STATUS_PASS);
        add(rs, fz, "t2", 0, "r1", 3, 5, CFO_STATUS_PASS);
        add(rs, fz, "t2", 0, "r1", 2, 5, CFO_STATUS_FAIL);
        add(want, fz, "t2", 0, "r1", 3, 5, CFO_STATUS_PASS);
        add(want, fz, "t2", 0, "r1", 2, 5, CFO_STATUS_FAIL);
        merge_expect(rs, want, 32);
        cfo_recset_destroy(&rs);
        cfo_recset_destroy(&want);
    }
}

static void test_supersede_across_commits(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new(), *want = cfo_recset_new();
    add(rs, "S1", "t1", 2, "r1", 0, 20, CFO_STATUS_PASS);
    add(want, "S1", "t1", 2, "r1", 0, 20, CFO_STATUS_PASS);
    /* Older failures of the same target go, on any commit... */
    add(rs, "S1", "t1", 0, "r1", 0, 10, CFO_STATUS_FAIL);
    add(rs, "S1", "t1", 1, "r1", 0, 19, CFO_STATUS_TIMEOUT);
    add(rs, "S1", "t1", 4, NULL, 0, NO_TIME, CFO_STATUS_FAIL);
    /* ... newer ones and those of the same time stay... */
    add(rs, "S1", "t1", 3, "r1", 0, 20, CFO_STATUS_FAIL);
    add(rs, "S1", "t1", 5, "r1", 0, 30, CFO_STATUS_ERROR);
    add(want, "S1", "t1", 3, "r1", 0, 20, CFO_STATUS_FAIL);
    add(want, "S1", "t1", 5, "r1", 0, 30, CFO_STATUS_ERROR);
    /* ... and so do older passes and other targets, branches and fuzzers. */
    add(rs, "S1", "t1", 6, "r1", 0, 5, CFO_STATUS_PASS);
    add(want, "S1", "t1", 6, "r1", 0, 5, CFO_STATUS_PASS);
    add(rs, "S1", "t2", 0, "r1", 0, 10, CFO_STATUS_FAIL);
    add(want, "S1", "t2", 0, "r1", 0, 10, CFO_STATUS_FAIL);
    add(rs, "S2", "t1", 0, "r1", 0, 10, CFO_STATUS_FAIL);
    add(want, "S2", "t1", 0, "r1", 0, 10, CFO_STATUS_FAIL);
    cfo_record dev = make("S1", "dev", "t1", 0, "r1", 0, 10, CFO_STATUS_FAIL);
    cfo_recset_add(rs, &dev);
    cfo_recset_add(want, &dev);
    merge_expect(rs, want, 32);
    cfo_recset_destroy(&rs);
    cfo_recset_destroy(&want);
}

static void test_supersede_only_by_remaining_pass(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new(), *want = cfo_recset_new();
    /* The pass at 5 is not the newest of its key (a failure at 6 is), so
     * rule 2 removes it before it can supersede the failure at 4. */
    add(rs, "S1", "t1", 0, "r1", 0, 5, CFO_STATUS_PASS);
    add(rs, "S1", "t1", 0, "r2", 0, 6, CFO_STATUS_FAIL);
    add(rs, "S1", "t1", 1, "r1", 0, 4, CFO_STATUS_FAIL);
    add(want, "S1", "t1", 0, "r2", 0, 6, CFO_STATUS_FAIL);
    add(want, "S1", "t1", 1, "r1", 0, 4, CFO_STATUS_FAIL);
    /* A pass without time is older than nothing. */
    add(rs, "S2", "t1", 0, NULL, 0, NO_TIME, CFO_STATUS_PASS);
    add(rs, "S2", "t1", 1, NULL, 0, NO_TIME, CFO_STATUS_FAIL);
    add(want, "S2", "t1", 0, NULL, 0, NO_TIME, CFO_STATUS_PASS);
    add(want, "S2", "t1", 1, NULL, 0, NO_TIME, CFO_STATUS_FAIL);
    merge_expect(rs, want, 32);
    cfo_recset_destroy(&rs);
    cfo_recset_destroy(&want);
}

static void test_no_supersede_under_accumulate(void **state)
{
    (void)state;
    const char *fuzzers[] = {"A1", "U1"};
    for (int f = 0; f < 2; f++) {
        cfo_recset *rs = cfo_recset_new(), *want = cfo_recset_new();
        add(rs, fuzzers[f], "t1", 2, "r1", 0, 20, CFO_STATUS_PASS);
        add(rs, fuzzers[f], "t1", 0, "r1", 0, 10, CFO_STATUS_FAIL);
        add(rs, fuzzers[f], "t1", 1, NULL, 0, NO_TIME, CFO_STATUS_FAIL);
        add(want, fuzzers[f], "t1", 2, "r1", 0, 20, CFO_STATUS_PASS);
        add(want, fuzzers[f], "t1", 0, "r1", 0, 10, CFO_STATUS_FAIL);
        add(want, fuzzers[f], "t1", 1, NULL, 0, NO_TIME, CFO_STATUS_FAIL);
        merge_expect(rs, want, 32);
        cfo_recset_destroy(&rs);
        cfo_recset_destroy(&want);
    }
}

static void test_window_keeps_newest_commits(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new(), *want = cfo_recset_new();
    /* Recency is a commit's newest record: commit 0 is recent by its one
     * late record, although most of its records are old. */
    add(rs, "A1", "t1", 0, "r1", 0, 1, CFO_STATUS_FAIL);
    add(rs, "A1", "t2", 0, "r1", 0, 50, CFO_STATUS_FAIL);
    add(rs, "A1", "t1", 1, "r1", 0, 40, CFO_STATUS_FAIL);
    add(rs, "A1", "t1", 2, "r1", 0, 30, CFO_STATUS_FAIL);
    add(rs, "A1", "t1", 3, "r1", 0, 20, CFO_STATUS_FAIL);
    add(rs, "A1", "t1", 4, NULL, 0, NO_TIME, CFO_STATUS_FAIL);
    add(want, "A1", "t1", 0, "r1", 0, 1, CFO_STATUS_FAIL);
    add(want, "A1", "t2", 0, "r1", 0, 50, CFO_STATUS_FAIL);
    add(want, "A1", "t1", 1, "r1", 0, 40, CFO_STATUS_FAIL);
    add(want, "A1", "t1", 2, "r1", 0, 30, CFO_STATUS_FAIL);
    merge_expect(rs, want, 3);
    cfo_recset_destroy(&rs);
    cfo_recset_destroy(&want);
}

static void test_window_tie_larger_sha(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new(), *want = cfo_recset_new();
    /* Commits 5, 9 and 7 share the newest time; two places are left after
     * commit 1: the larger shas, 9 and 7, take them. */
    add(rs, "A1", "t1", 1, "r1", 0, 60, CFO_STATUS_FAIL);
    add(rs, "A1", "t1", 5, "r1", 0, 50, CFO_STATUS_FAIL);
    add(rs, "A1", "t1", 9, "r1", 0, 50, CFO_STATUS_FAIL);
    add(rs, "A1", "t1", 7, "r1", 0, 50, CFO_STATUS_FAIL);
    add(rs, "A1", "t2", 7, "r1", 0, 10, CFO_STATUS_FAIL);
    add(rs, "A1", "t1", 8, "r1", 0, 40, CFO_STATUS_FAIL);
    add(want, "A1", "t1", 1, "r1", 0, 60, CFO_STATUS_FAIL);
    add(want, "A1", "t1", 9, "r1", 0, 50, CFO_STATUS_FAIL);
    add(want, "A1", "t1", 7, "r1", 0, 50, CFO_STATUS_FAIL);
    add(want, "A1", "t2", 7, "r1", 0, 10, CFO_STATUS_FAIL);
    merge_expect(rs, want, 3);
    assert_int_equal(distinct_commits(rs), 3);
    /* Without any time, the tie rule alone decides. */
    cfo_recset_clear(rs);
    cfo_recset_clear(want);
    for (int k = 0; k < 6; k++)
        add(rs, "A1", "t1", k, NULL, 0, NO_TIME, CFO_STATUS_FAIL);
    add(want, "A1", "t1", 5, NULL, 0, NO_TIME, CFO_STATUS_FAIL);
    add(want, "A1", "t1", 4, NULL, 0, NO_TIME, CFO_STATUS_FAIL);
    merge_expect(rs, want, 2);
    cfo_recset_destroy(&rs);
    cfo_recset_destroy(&want);
}

static void test_window_ranks_after_supersede(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new(), *want = cfo_recset_new();
    /* Commit 1 would be the most recent by its failure at 10, but the pass
     * at 11 on commit 3 supersedes it first: commit 1's recency is then its
     * remaining record at 1, and commit 2 (at 5) takes its place. */
    add(rs, "S1", "t1", 1, "r1", 0, 10, CFO_STATUS_FAIL);
    add(rs, "A1", "t9", 1, "r1", 0, 1, CFO_STATUS_FAIL);
    add(rs, "A1", "t9", 2, "r1", 0, 5, CFO_STATUS_FAIL);
    add(rs, "S1", "t1", 3, "r1", 0, 11, CFO_STATUS_PASS);
    add(want, "A1", "t9", 2, "r1", 0, 5, CFO_STATUS_FAIL);
    add(want, "S1", "t1", 3, "r1", 0, 11, CFO_STATUS_PASS);
    merge_expect(rs, want, 2);
    cfo_recset_destroy(&rs);
    cfo_recset_destroy(&want);
}

static void test_output_order(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    add(rs, "S1", "t1", 0, "r1", 0, 30, CFO_STATUS_FAIL);
    add(rs, "A1", "t2", 1, "r1", 0, 20, CFO_STATUS_FAIL);
    add(rs, "A1", "t1", 1, "r1", 0, 20, CFO_STATUS_FAIL);
    add(rs, "A1", "t1", 0, "r1", 0, 20, CFO_STATUS_FAIL);
    add(rs, "S2", "t1", 2, NULL, 0, NO_TIME, CFO_STATUS_FAIL);
    cfo_record dev = make("A1", "dev", "t3", 2, "r1", 0, 20, CFO_STATUS_FAIL);
    cfo_recset_add(rs, &dev);
    cfo_merge_policy p = policy(32);
    cfo_merge(rs, &p);
    assert_int_equal(rs->n, 6);
    /* time (none first), fuzzer, branch, target, commit */
    const struct {
        const char *fuzzer, *branch, *target;
        int commit;
    } want[] = {{"S2", "main", "t1", 2}, {"A1", "dev", "t3", 2},  {"A1", "main", "t1", 0},
                {"A1", "main", "t1", 1}, {"A1", "main", "t2", 1}, {"S1", "main", "t1", 0}};
    for (size_t i = 0; i < rs->n; i++) {
        assert_string_equal(rs->v[i].fuzzer, want[i].fuzzer);
        assert_string_equal(rs->v[i].branch, want[i].branch);
        assert_string_equal(rs->v[i].target, want[i].target);
        assert_string_equal(rs->v[i].commit, sha(want[i].commit));
    }
    cfo_recset_destroy(&rs);
}

/* ---- random record sets ---- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnd(rng *g)
{
    uint64_t z = (g->s += 0x9e3779b97f4a7c15ull); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned rndn(rng *g, unsigned n)
{
    return (unsigned)(rnd(g) % n);
}

typedef struct gen_opts {
    int commit_base, ncommits;
    int64_t tmin, tspan;
    bool always_time;
    bool supersede_passes_elsewhere; /* SUPERSEDE passes only on target t9 */
} gen_opts;

static const char *const FUZZERS[] = {"S1", "S2", "A1", "U1"};
static const char *const BRANCHES[] = {"main", "dev"};
static const char *const TARGETS[] = {"t1", "t2", "t3"};
static const char *const RUNS[] = {NULL, "r1", "r2", "r3"};
static const char *const WORKERS[] = {NULL, "w1", "w2"};
static const char *const COMMANDS[] = {"cmd a", "cmd b"};
#define PICK(g, a) ((a)[rndn((g), sizeof(a) / sizeof((a)[0]))])

static void gen_status(rng *g, cfo_record *r)
{
    static const cfo_status st[] = {CFO_STATUS_PASS,    CFO_STATUS_PASS,  CFO_STATUS_PASS,
                                    CFO_STATUS_PASS,    CFO_STATUS_FAIL,  CFO_STATUS_FAIL,
                                    CFO_STATUS_TIMEOUT, CFO_STATUS_ERROR, CFO_STATUS_CANCELLED};
    r->status = PICK(g, st);
    r->ok = r->status == CFO_STATUS_PASS;
}

static void gen_time(rng *g, const gen_opts *o, cfo_record *r)
{
    r->has_time = o->always_time || rndn(g, 10) != 0;
    r->time_ms = r->has_time ? o->tmin + (int64_t)rndn(g, (unsigned)o->tspan) : 0;
}

static void gen_fix(const gen_opts *o, cfo_record *r)
{
    if (o->supersede_passes_elsewhere && r->ok && strategy(r->fuzzer) == CFO_MERGE_SUPERSEDE)
        r->target = "t9";
}

static void gen_record(rng *g, const gen_opts *o, cfo_record *r)
{
    memset(r, 0, sizeof *r);
    r->fuzzer = PICK(g, FUZZERS);
    r->branch = PICK(g, BRANCHES);
    r->target = PICK(g, TARGETS);
    r->commit = sha(o->commit_base + (int)rndn(g, (unsigned)o->ncommits));
    r->run = PICK(g, RUNS);
    r->worker = PICK(g, WORKERS);
    r->command = PICK(g, COMMANDS);
    r->attempt = rndn(g, 3);
    r->count = rndn(g, 2);
    r->findings = rndn(g, 2);
    r->duration = rndn(g, 2) ? 1.5 : 0.0;
    gen_time(g, o, r);
    gen_status(g, r);
    gen_fix(o, r);
}

/* Small alphabets and copies of earlier records, so that every rule meets
 * collisions: exact duplicates, the same result differing elsewhere, ties. */
static void gen_set(rng *g, const gen_opts *o, size_t n, cfo_recset *rs)
{
    for (size_t i = 0; i < n; i++) {
        cfo_record r;
        unsigned how = rndn(g, 8);
        if (rs->n > 0 && how == 0) {
            r = rs->v[rndn(g, (unsigned)rs->n)];
        } else if (rs->n > 0 && how == 1) {
            r = rs->v[rndn(g, (unsigned)rs->n)];
            switch (rndn(g, 5)) {
            case 0:
                r.count++;
                break;
            case 1:
                gen_time(g, o, &r);
                break;
            case 2:
                gen_status(g, &r);
                break;
            case 3:
                r.worker = PICK(g, WORKERS);
                break;
            default:
                r.attempt = rndn(g, 3);
                break;
            }
            gen_fix(o, &r);
        } else {
            gen_record(g, o, &r);
        }
        cfo_recset_add(rs, &r);
    }
}

static const gen_opts DEFAULT_GEN = {.commit_base = 0, .ncommits = 6, .tmin = 0, .tspan = 12};

static void gen_default(rng *g, cfo_recset *rs)
{
    gen_set(g, &DEFAULT_GEN, rndn(g, 40), rs);
}

static int gen_window(rng *g)
{
    return 1 + (int)rndn(g, 6);
}

static void shuffle_into(rng *g, const cfo_recset *src, cfo_recset *dst)
{
    size_t *ix = malloc((src->n + 1) * sizeof *ix);
    assert_non_null(ix);
    for (size_t i = 0; i < src->n; i++)
        ix[i] = i;
    for (size_t i = src->n; i > 1; i--) {
        size_t j = rndn(g, (unsigned)i);
        size_t t = ix[i - 1];
        ix[i - 1] = ix[j];
        ix[j] = t;
    }
    for (size_t i = 0; i < src->n; i++)
        cfo_recset_add(dst, &src->v[ix[i]]);
    free(ix);
}

/* ---- a naive model of the rules, by value, quadratic: the oracle ---- */

static int m_time_cmp(const cfo_record *a, const cfo_record *b)
{
    if (a->has_time != b->has_time)
        return a->has_time ? 1 : -1;
    if (!a->has_time || a->time_ms == b->time_ms)
        return 0;
    return a->time_ms > b->time_ms ? 1 : -1;
}

static int m_newer(const cfo_record *a, const cfo_record *b)
{
    int c = m_time_cmp(a, b);
    if (c == 0 && a->attempt != b->attempt)
        c = a->attempt > b->attempt ? 1 : -1;
    if (c == 0)
        c = cfo_strcmp0(a->run, b->run);
    return c != 0 ? c : cfo_record_cmp_all(a, b);
}

static bool m_same_target(const cfo_record *a, const cfo_record *b)
{
    return strcmp(a->fuzzer, b->fuzzer) == 0 && strcmp(a->branch, b->branch) == 0 &&
           strcmp(a->target, b->target) == 0;
}

static bool m_same_key(const cfo_record *a, const cfo_record *b)
{
    return m_same_target(a, b) && strcmp(a->commit, b->commit) == 0;
}

static bool m_same_result(const cfo_record *a, const cfo_record *b)
{
    if (!m_same_key(a, b) || cfo_strcmp0(a->run, b->run) != 0 || a->attempt != b->attempt)
        return false;
    return a->run != NULL || cfo_record_cmp_all(a, b) == 0;
}

/* Why the model drops a record; KEPT if it does not. */
typedef enum m_fate { CANCELLED, DUPLICATE, OLDER, SUPERSEDED, OUTSIDE, KEPT } m_fate;

typedef struct model {
    size_t n;
    m_fate *fate;
} model;

/* Applies each rule to the survivors of the ones before it. */
static void model_run(model *m, const cfo_recset *in, int window)
{
    const cfo_record *v = in->v;
    size_t n = in->n;
    m->n = n;
    m->fate = calloc(n + 1, sizeof *m->fate);
    assert_non_null(m->fate);
    for (size_t i = 0; i < n; i++)
        m->fate[i] = v[i].status == CFO_STATUS_CANCELLED ? CANCELLED : KEPT;
    /* 1: the smallest copy (the first of equal ones) stays. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n && m->fate[i] == KEPT; j++) {
            if (j == i || v[j].status == CFO_STATUS_CANCELLED || !m_same_result(&v[i], &v[j]))
                continue;
            int c = cfo_record_cmp_all(&v[j], &v[i]);
            if (c < 0 || (c == 0 && j < i))
                m->fate[i] = DUPLICATE;
        }
    /* 2 */
    m_fate *f1 = malloc((n + 1) * sizeof *f1);
    assert_non_null(f1);
    memcpy(f1, m->fate, n * sizeof *f1);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n && m->fate[i] == KEPT; j++) {
            if (j == i || f1[j] != KEPT || !m_same_key(&v[i], &v[j]) || m_newer(&v[j], &v[i]) <= 0)
                continue;
            if (strategy(v[i].fuzzer) == CFO_MERGE_SUPERSEDE || (v[i].ok && v[j].ok))
                m->fate[i] = OLDER;
        }
    /* 3 */
    memcpy(f1, m->fate, n * sizeof *f1);
    for (size_t i = 0; i < n; i++) {
        if (m->fate[i] != KEPT || v[i].ok || strategy(v[i].fuzzer) != CFO_MERGE_SUPERSEDE)
            continue;
        for (size_t j = 0; j < n; j++)
            if (f1[j] == KEPT && v[j].ok && m_same_target(&v[i], &v[j]) &&
                m_time_cmp(&v[j], &v[i]) > 0)
                m->fate[i] = SUPERSEDED;
    }
    free(f1);
    /* 4: a commit stays when fewer than `window` commits are more recent. */
    const cfo_record *newest[NSHA] = {0};
    for (size_t j = 0; j < n; j++)
        for (int k = 0; k < NSHA; k++)
            if (m->fate[j] == KEPT && strcmp(v[j].commit, sha(k)) == 0 &&
                (newest[k] == NULL || m_time_cmp(&v[j], newest[k]) > 0))
                newest[k] = &v[j];
    for (int k = 0; k < NSHA; k++) {
        int more_recent = 0;
        for (int l = 0; l < NSHA && newest[k] != NULL; l++) {
            if (l == k || newest[l] == NULL)
                continue;
            int c = m_time_cmp(newest[l], newest[k]);
            if (c > 0 || (c == 0 && strcmp(sha(l), sha(k)) > 0))
                more_recent++;
        }
        for (size_t i = 0; i < n && more_recent >= window; i++)
            if (m->fate[i] == KEPT && strcmp(v[i].commit, sha(k)) == 0)
                m->fate[i] = OUTSIDE;
    }
}

static cfo_recset *model_output(const model *m, const cfo_recset *in)
{
    cfo_recset *out = cfo_recset_new();
    for (size_t i = 0; i < in->n; i++)
        if (m->fate[i] == KEPT)
            cfo_recset_add(out, &in->v[i]);
    sort_set(out);
    return out;
}

/* ---- properties ---- */

#define ITERATIONS 400

static void test_prop_matches_model(void **state)
{
    (void)state;
    rng g = {1};
    for (int it = 0; it < ITERATIONS; it++) {
        cfo_recset *a = cfo_recset_new();
        gen_default(&g, a);
        int w = gen_window(&g);
        model m;
        model_run(&m, a, w);
        cfo_recset *want = model_output(&m, a);
        cfo_recset *got = merged_copy(a, w);
        if (!sets_equal(got, want)) {
            print_message("iteration %d, window %d\n", it, w);
            print_set("input", a);
        }
        assert_sets_equal(got, want, "merge equals the model of the rules");
        free(m.fate);
        cfo_recset_destroy(&got);
        cfo_recset_destroy(&want);
        cfo_recset_destroy(&a);
    }
}

static void test_prop_idempotent(void **state)
{
    (void)state;
    rng g = {2};
    for (int it = 0; it < ITERATIONS; it++) {
        cfo_recset *a = cfo_recset_new();
        gen_default(&g, a);
        int w = gen_window(&g);
        cfo_recset *m1 = merged_copy(a, w);
        cfo_recset *m2 = merged_copy(m1, w);
        assert_sets_equal(m2, m1, "merge(merge(A)) == merge(A)");
        cfo_recset *u = copy_set(m1);
        cfo_recset_add_all(u, a);
        cfo_recset *m3 = merged_copy(u, w);
        assert_sets_equal(m3, m1, "merge(merge(A) + A) == merge(A)");
        cfo_recset_destroy(&m1);
        cfo_recset_destroy(&m2);
        cfo_recset_destroy(&m3);
        cfo_recset_destroy(&u);
        cfo_recset_destroy(&a);
    }
}

static void test_prop_order_independent(void **state)
{
    (void)state;
    rng g = {3};
    for (int it = 0; it < ITERATIONS; it++) {
        cfo_recset *a = cfo_recset_new(), *b = cfo_recset_new();
        gen_default(&g, a);
        shuffle_into(&g, a, b);
        int w = gen_window(&g);
        cfo_recset *ma = merged_copy(a, w);
        cfo_merge_policy p = policy(w);
        cfo_merge(b, &p); /* b's own pool: other addresses, same result */
        assert_sets_equal(b, ma, "merge(shuffled A) == merge(A)");
        cfo_recset_destroy(&ma);
        cfo_recset_destroy(&a);
        cfo_recset_destroy(&b);
    }
}

static void test_prop_window_bound(void **state)
{
    (void)state;
    rng g = {4};
    for (int it = 0; it < ITERATIONS; it++) {
        cfo_recset *a = cfo_recset_new();
        gen_default(&g, a);
        int w = gen_window(&g);
        cfo_recset *m = merged_copy(a, w);
        assert_true(distinct_commits(m) <= (size_t)w);
        /* Sorted strictly: deterministic order and no two equal records. */
        for (size_t i = 1; i < m->n; i++)
            assert_true(cfo_record_cmp_all(&m->v[i - 1], &m->v[i]) < 0);
        cfo_recset_destroy(&m);
        cfo_recset_destroy(&a);
    }
}

/* The justification of a drop, rule by rule, against the input and the
 * output; "still there" for rule 3 means it survived rules 1 and 2. */
static bool drop_justified(const cfo_recset *in, const model *m, const cfo_recset *out, size_t i,
                           int window)
{
    const cfo_record *r = &in->v[i];
    if (r->status == CFO_STATUS_CANCELLED)
        return true;
    for (size_t j = 0; j < in->n; j++) {
        const cfo_record *s = &in->v[j];
        if (j == i || s->status == CFO_STATUS_CANCELLED)
            continue;
        if (m_same_result(r, s) && cfo_record_cmp_all(s, r) < 0)
            return true; /* a duplicate of a smaller copy */
        if (m->fate[j] != CANCELLED && m->fate[j] != DUPLICATE && m_same_key(r, s) &&
            m_newer(s, r) > 0 && (strategy(r->fuzzer) == CFO_MERGE_SUPERSEDE || (r->ok && s->ok)))
            return true; /* an older record of its key */
        if (m->fate[j] != CANCELLED && m->fate[j] != DUPLICATE && m->fate[j] != OLDER && !r->ok &&
            s->ok && strategy(r->fuzzer) == CFO_MERGE_SUPERSEDE && m_same_target(r, s) &&
            m_time_cmp(s, r) > 0)
            return true; /* superseded by a newer pass */
    }
    return !has_commit(out, r->commit) && distinct_commits(out) == (size_t)window;
}

static void test_prop_drops_justified(void **state)
{
    (void)state;
    rng g = {5};
    for (int it = 0; it < ITERATIONS; it++) {
        cfo_recset *a = cfo_recset_new();
        gen_default(&g, a);
        int w = gen_window(&g);
        cfo_recset *out = merged_copy(a, w);
        model m;
        model_run(&m, a, w);
        for (size_t i = 0; i < a->n; i++) {
            if (contains(out, &a->v[i]))
                continue;
            if (!drop_justified(a, &m, out, i, w)) {
                print_record("dropped without reason:", &a->v[i]);
                print_set("input", a);
                print_set("output", out);
                fail();
            }
        }
        /* Every output record comes from the input. */
        cfo_recset *sorted_in = copy_set(a);
        sort_set(sorted_in);
        for (size_t i = 0; i < out->n; i++)
            assert_true(contains(sorted_in, &out->v[i]));
        free(m.fate);
        cfo_recset_destroy(&sorted_in);
        cfo_recset_destroy(&out);
        cfo_recset_destroy(&a);
    }
}

static void test_prop_batches(void **state)
{
    (void)state;
    rng g = {6};
    int modes[2] = {0, 0};
    for (int it = 0; it < ITERATIONS; it++) {
        cfo_recset *a = cfo_recset_new(), *b = cfo_recset_new();
        gen_default(&g, a);
        int w = gen_window(&g);
        /* B: later than all of A, on commits A does not have. */
        gen_opts ob = {
            .commit_base = 8, .ncommits = 6, .tmin = 100, .tspan = 12, .always_time = true};
        /* A pass in B that supersedes failures of A lowers the recency of
         * their commits, which can let a commit that an earlier merge had
         * already cut back into the window (test_window_ranks_after_supersede).
         * The batch property holds when A's window did not cut, or when B
         * supersedes nothing of A. */
        bool window_cuts_a = distinct_commits(a) > (size_t)w;
        ob.supersede_passes_elsewhere = window_cuts_a;
        modes[window_cuts_a]++;
        gen_set(&g, &ob, rndn(&g, 30), b);

        cfo_recset *ma = merged_copy(a, w);
        cfo_recset *batched = copy_set(ma);
        cfo_recset_add_all(batched, b);
        cfo_merge_policy p = policy(w);
        cfo_merge(batched, &p);
        cfo_recset *at_once = copy_set(a);
        cfo_recset_add_all(at_once, b);
        cfo_merge(at_once, &p);
        assert_sets_equal(batched, at_once, "merge(merge(A) + B) == merge(A + B)");
        cfo_recset_destroy(&ma);
        cfo_recset_destroy(&batched);
        cfo_recset_destroy(&at_once);
        cfo_recset_destroy(&a);
        cfo_recset_destroy(&b);
    }
    assert_true(modes[0] > ITERATIONS / 10 && modes[1] > ITERATIONS / 10);
}

static void test_prop_pass_supersedes_by_strategy(void **state)
{
    (void)state;
    rng g = {7};
    int superseded = 0, accumulated = 0;
    for (int it = 0; it < ITERATIONS; it++) {
        cfo_recset *a = cfo_recset_new();
        gen_default(&g, a);
        int w = 1 + (int)rndn(&g, 8);
        cfo_recset *out = merged_copy(a, w);
        for (size_t i = 0; i < a->n; i++) {
            const cfo_record *p = &a->v[i];
            if (!p->ok || strategy(p->fuzzer) != CFO_MERGE_SUPERSEDE)
                continue;
            /* p survives rules 1 and 2 when it is no copy of a smaller record
             * and nothing of its key is newer. */
            bool newest = true;
            for (size_t j = 0; j < a->n && newest; j++)
                if (j != i && a->v[j].status != CFO_STATUS_CANCELLED &&
                    ((m_same_key(&a->v[j], p) && m_newer(&a->v[j], p) > 0) ||
                     (m_same_result(&a->v[j], p) && cfo_record_cmp_all(&a->v[j], p) < 0)))
                    newest = false;
            if (!newest)
                continue;
            for (size_t j = 0; j < a->n; j++) {
                const cfo_record *f = &a->v[j];
                if (!f->ok && m_same_target(f, p) && m_time_cmp(f, p) < 0) {
                    assert_false(contains(out, f));
                    superseded++;
                }
            }
        }
        /* Under ACCUMULATE a failure leaves only as a copy or with its commit. */
        for (size_t i = 0; i < a->n; i++) {
            const cfo_record *f = &a->v[i];
            if (f->ok || f->status == CFO_STATUS_CANCELLED ||
                strategy(f->fuzzer) != CFO_MERGE_ACCUMULATE || !has_commit(out, f->commit))
                continue;
            bool copy = false;
            for (size_t j = 0; j < a->n && !copy; j++)
                copy = j != i && a->v[j].status != CFO_STATUS_CANCELLED &&
                       m_same_result(&a->v[j], f) && cfo_record_cmp_all(&a->v[j], f) < 0;
            if (!copy) {
                assert_true(contains(out, f));
                accumulated++;
            }
        }
        cfo_recset_destroy(&out);
        cfo_recset_destroy(&a);
    }
    /* The generator does exercise both sides. */
    assert_true(superseded > 100);
    assert_true(accumulated > 100);
}

/* ---- scale: a year of results and one run's worth of new ones ---- */

static void test_scale(void **state)
{
    (void)state;
    rng g = {8};
    enum { OLD = 1000000, NEW = 30000, NCOMMITS = 48 };
    static char shas[NCOMMITS][41];
    char targets[300][16];
    for (int k = 0; k < NCOMMITS; k++)
        snprintf(shas[k], sizeof shas[k], "%040x", (unsigned)(k * 2654435761u));
    for (int k = 0; k < 300; k++)
        snprintf(targets[k], sizeof targets[k], "envs/m%03d", k);
    char runs[40][16];
    for (int k = 0; k < 40; k++)
        snprintf(runs[k], sizeof runs[k], "run-%02d", k);
    cfo_recset *rs = cfo_recset_new();
    for (int i = 0; i < OLD + NEW; i++) {
        int day = i < OLD ? i / (OLD / 40) : 40 + (int)rndn(&g, 8);
        cfo_record r = {
            .commit = shas[day],
            .fuzzer = FUZZERS[rndn(&g, 4)],
            .branch = BRANCHES[rndn(&g, 2)],
            .target = targets[rndn(&g, 300)],
            .command = "cfo-fuzz INFRA_DRIFT target",
            .run = runs[day % 40],
            .worker = WORKERS[rndn(&g, 3)],
            .count = rndn(&g, 100),
            .duration = 1.25,
            .time_ms = (int64_t)day * 86400000 + (int64_t)rndn(&g, 86400000),
            .has_time = true,
            .attempt = rndn(&g, 3),
        };
        gen_status(&g, &r);
        cfo_recset_add(rs, &r);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cfo_merge_policy p = policy(32);
    cfo_merge(rs, &p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("merged %d records into %zu in %.3f s\n", OLD + NEW, rs->n,
                  (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    assert_true(rs->n > 0 && rs->n < OLD + NEW);
    size_t commits = 0;
    for (int k = 0; k < NCOMMITS; k++)
        commits += has_commit(rs, shas[k]);
    assert_int_equal(commits, 32);
    for (size_t i = 1; i < rs->n; i++)
        assert_true(cfo_record_cmp_all(&rs->v[i - 1], &rs->v[i]) < 0);
    cfo_recset_destroy(&rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strategy_lookup),
        cmocka_unit_test(test_empty_set),
        cmocka_unit_test(test_cancelled_removed_first),
        cmocka_unit_test(test_dedup_with_run),
        cmocka_unit_test(test_dedup_without_run),
        cmocka_unit_test(test_newest_per_key_supersede),
        cmocka_unit_test(test_newest_per_key_full_tie),
        cmocka_unit_test(test_newest_per_key_accumulate),
        cmocka_unit_test(test_supersede_across_commits),
        cmocka_unit_test(test_supersede_only_by_remaining_pass),
        cmocka_unit_test(test_no_supersede_under_accumulate),
        cmocka_unit_test(test_window_keeps_newest_commits),
        cmocka_unit_test(test_window_tie_larger_sha),
        cmocka_unit_test(test_window_ranks_after_supersede),
        cmocka_unit_test(test_output_order),
        cmocka_unit_test(test_prop_matches_model),
        cmocka_unit_test(test_prop_idempotent),
        cmocka_unit_test(test_prop_order_independent),
        cmocka_unit_test(test_prop_window_bound),
        cmocka_unit_test(test_prop_drops_justified),
        cmocka_unit_test(test_prop_batches),
        cmocka_unit_test(test_prop_pass_supersedes_by_strategy),
        cmocka_unit_test(test_scale),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
