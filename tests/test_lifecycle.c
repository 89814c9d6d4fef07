/* test_lifecycle.c -- findings: opened by failures and crashes, fixed by passes and replays
 * that no longer reproduce, reopened as regressed, per branch; their JSON, their merge, and
 * the dataset commit that carries them through SUPERSEDE and the window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cfo_config.h"
#include "cfo_dataset.h"
#include "cfo_findings.h"
#include "cfo_lifecycle.h"
#include "cfo_record.h"
#include "cfo_storage.h"
#include "cfo_store.h"

#define SIG "crash:out-of-bounds-read:json_string|json_value|LLVMFuzzerTestOneInput"

static void sha_of(unsigned n, char *out)
{
    snprintf(out, 41, "%08x%032x", n, n * 2654435761u);
}

/* A record of fuzzer on commit #c of branch at second s; crashes is the
 * engine's list (NULL for other fuzzers). */
static void add(cfo_recset *rs, const char *fuzzer, const char *branch, unsigned c,
                const char *target, int64_t s, bool ok, const char *crashes)
{
    char sha[41];
    sha_of(c, sha);
    char run[32];
    snprintf(run, sizeof run, "run-%lld", (long long)s);
    cfo_record r = {
        .commit = sha,
        .fuzzer = fuzzer,
        .branch = branch,
        .target = target,
        .command = "cfo-fuzz X t",
        .run = run,
        .count = 1,
        .findings = ok ? 0 : 1,
        .duration = 1,
        .time_ms = 1700000000000LL + s * 1000,
        .attempt = 1,
        .status = ok ? CFO_STATUS_PASS : CFO_STATUS_FAIL,
        .ok = ok,
        .has_time = true,
        .crashes = crashes,
    };
    cfo_recset_add(rs, &r);
    rs->v[rs->n - 1].fresh = true;
}

static const char *crash_found = "[{\"signature\":\"" SIG "\",\"kind\":\"crash\",\"new\":true,"
                                 "\"repro\":\"3/3\",\"bundle\":\"crashes/L/p/x.tar.gz\"}]";
static const char *replay_gone = "[{\"signature\":\"" SIG "\",\"kind\":\"crash\",\"new\":false,"
                                 "\"repro\":\"0/2\",\"bundle\":\"crashes/L/p/x.tar.gz\","
                                 "\"replay\":true,\"reproduced\":false}]";
static const char *replay_back = "[{\"signature\":\"" SIG "\",\"kind\":\"crash\",\"new\":false,"
                                 "\"repro\":\"1/1\",\"bundle\":\"crashes/L/p/x.tar.gz\","
                                 "\"replay\":true,\"reproduced\":true}]";

static void apply(cfo_findings *fs, cfo_recset *rs, cfo_finding_events *ev)
{
    cfo_config *cfg = cfo_config_new_default();
    cfo_lifecycle_apply(fs, rs, cfg, ev);
    cfo_config_destroy(&cfg);
    for (size_t i = 0; i < rs->n; i++)
        rs->v[i].fresh = false;
}

static void assert_sha(const char *got, unsigned c)
{
    char sha[41];
    sha_of(c, sha);
    assert_non_null(got);
    assert_string_equal(got, sha);
}

/* Found on A (open); B fixes it (the replay no longer reproduces): fixed
 * with last_bad A and fixed B; C brings it back: open again, regressed; a
 * branch that still has it keeps it open there while main shows fixed. */
static void test_engine_lifecycle(void **state)
{
    (void)state;
    cfo_findings fs;
    cfo_findings_init(&fs);
    cfo_finding_events ev;
    cfo_finding_events_init(&ev);
    cfo_recset *rs = cfo_recset_new();
    add(rs, "LIBFUZZER", "main", 1, "parser", 10, false, crash_found);
    add(rs, "LIBFUZZER", "release", 1, "parser", 11, false, crash_found);
    apply(&fs, rs, &ev);
    assert_int_equal(fs.n, 1);
    cfo_finding *f = &fs.v[0];
    assert_true(f->open);
    assert_string_equal(f->kind, "crash");
    assert_int_equal(strlen(f->signature), 16);
    assert_string_equal(f->title,
                        "out-of-bounds-read in json_string < json_value < LLVMFuzzerTestOneInput");
    assert_string_equal(f->bundle, "crashes/L/p/x.tar.gz");
    assert_int_equal(ev.ids.n, 1);
    assert_int_equal(ev.kind[0], CFO_FINDING_OPENED);

    /* a replay that misses it on the commit it was seen on is not a fix */
    add(rs, "LIBFUZZER", "main", 1, "parser", 15, true, replay_gone);
    apply(&fs, rs, &ev);
    assert_true(cfo_finding_branch_get(&fs.v[0], "main", false)->open);

    /* B fixes main; release (still at the buggy commit) keeps it open */
    add(rs, "LIBFUZZER", "main", 2, "parser", 20, true, replay_gone);
    add(rs, "LIBFUZZER", "release", 1, "parser", 21, false, replay_back);
    apply(&fs, rs, &ev);
    f = &fs.v[0];
    cfo_finding_branch *main_b = cfo_finding_branch_get(f, "main", false);
    cfo_finding_branch *rel_b = cfo_finding_branch_get(f, "release", false);
    assert_false(main_b->open);
    assert_sha(main_b->fixed_commit, 2);
    assert_sha(main_b->last_bad, 1);
    assert_true(rel_b->open);
    assert_true(f->open);
    assert_int_equal(ev.ids.n, 1);

    /* release moves to the fix too: the finding is fixed */
    add(rs, "LIBFUZZER", "release", 3, "parser", 30, true, replay_gone);
    apply(&fs, rs, &ev);
    f = &fs.v[0];
    assert_false(f->open);
    assert_true(f->has_fixed);
    assert_sha(f->fixed.commit, 3);
    assert_string_equal(f->fixed.branch, "release");
    assert_sha(f->fixed_last_bad, 1);
    assert_int_equal(ev.ids.n, 2);
    assert_int_equal(ev.kind[1], CFO_FINDING_FIXED);

    /* C brings it back on main: regressed */
    add(rs, "LIBFUZZER", "main", 4, "parser", 40, false, replay_back);
    apply(&fs, rs, &ev);
    f = &fs.v[0];
    assert_true(f->open);
    assert_false(f->has_fixed);
    assert_int_equal(f->regressed, 1);
    assert_sha(f->last.commit, 4);
    assert_sha(f->first.commit, 1);
    assert_int_equal(ev.ids.n, 3);
    assert_int_equal(ev.kind[2], CFO_FINDING_REGRESSED);

    /* everything again: nothing moves (idempotent) */
    cfo_buf a, b;
    cfo_buf_init(&a);
    cfo_buf_init(&b);
    cfo_findings_write(&fs, &a);
    for (size_t i = 0; i < rs->n; i++)
        rs->v[i].fresh = true;
    apply(&fs, rs, &ev);
    cfo_findings_write(&fs, &b);
    assert_string_equal(a.data, b.data);
    assert_int_equal(ev.ids.n, 3);

    /* the JSON reads back as written */
    cfo_findings back;
    cfo_findings_init(&back);
    cfo_diag d = {{0}};
    assert_int_equal(cfo_findings_parse(a.data, a.len, "t", &back, &d), CFO_OK);
    cfo_buf_reset(&b);
    cfo_findings_write(&back, &b);
    assert_string_equal(a.data, b.data);
    cfo_findings_fini(&back);

    /* the events as notify_command gets them */
    cfo_buf_reset(&b);
    cfo_finding_events_json(&ev, &fs, &b);
    assert_non_null(
        strstr(b.data, "{\"event\":\"opened\",\"finding\":{\"id\":\"LIBFUZZER/parser/"));
    assert_non_null(strstr(b.data, "{\"event\":\"regressed\""));
    cfo_buf_fini(&a);
    cfo_buf_fini(&b);
    cfo_recset_destroy(&rs);
    cfo_finding_events_fini(&ev);
    cfo_findings_fini(&fs);
}

/* The same bug shown by libFuzzer and by AFL++ (one engine-neutral
 * signature) is one finding; either engine's replay moves it. */
static void test_one_finding_across_engines(void **state)
{
    (void)state;
    cfo_findings fs;
    cfo_findings_init(&fs);
    cfo_finding_events ev;
    cfo_finding_events_init(&ev);
    cfo_recset *rs = cfo_recset_new();
    add(rs, "LIBFUZZER", "main", 1, "parser", 10, false, crash_found);
    add(rs, "AFL", "main", 1, "parser", 11, false, crash_found);
    apply(&fs, rs, &ev);
    assert_int_equal(fs.n, 1);
    assert_int_equal(ev.ids.n, 1);
    assert_non_null(strstr(fs.v[0].id, "LIBFUZZER/parser/"));
    add(rs, "AFL", "main", 2, "parser", 20, true, replay_gone);
    apply(&fs, rs, &ev);
    assert_int_equal(fs.n, 1);
    assert_false(fs.v[0].open);
    cfo_recset_destroy(&rs);
    cfo_finding_events_fini(&ev);
    cfo_findings_fini(&fs);
}

/* Canaries, errors and passes of targets that never failed open nothing. */
static void test_what_opens_nothing(void **state)
{
    (void)state;
    cfo_findings fs;
    cfo_findings_init(&fs);
    cfo_recset *rs = cfo_recset_new();
    add(rs, "CANARY", "main", 1, "canary", 1, false, NULL);
    add(rs, "INFRA_DRIFT", "main", 1, "envs/dev", 2, true, NULL);
    add(rs, "INFRA_DRIFT", "main", 1, "envs/prod", 3, false, NULL);
    rs->v[rs->n - 1].status = CFO_STATUS_ERROR;
    apply(&fs, rs, NULL);
    assert_int_equal(fs.n, 0);
    cfo_recset_destroy(&rs);
    cfo_findings_fini(&fs);
}

/* The merge of two lists is the same both ways round and idempotent. */
static void test_merge_lists(void **state)
{
    (void)state;
    cfo_findings x, y;
    cfo_findings_init(&x);
    cfo_findings_init(&y);
    cfo_recset *rs = cfo_recset_new();
    add(rs, "LIBFUZZER", "main", 1, "parser", 10, false, crash_found);
    add(rs, "INFRA_DRIFT", "main", 1, "envs/prod", 11, false, NULL);
    apply(&x, rs, NULL);
    cfo_recset *rs2 = cfo_recset_new();
    add(rs2, "LIBFUZZER", "main", 1, "parser", 10, false, crash_found);
    apply(&y, rs2, NULL);
    add(rs2, "LIBFUZZER", "main", 2, "parser", 20, true, replay_gone);
    add(rs2, "LIBFUZZER", "dev", 2, "parser", 21, false, replay_back);
    apply(&y, rs2, NULL);

    cfo_findings xy, yx;
    cfo_findings_init(&xy);
    cfo_findings_init(&yx);
    cfo_lifecycle_merge(&xy, &x);
    cfo_lifecycle_merge(&xy, &y);
    cfo_lifecycle_merge(&yx, &y);
    cfo_lifecycle_merge(&yx, &x);
    cfo_buf a, b;
    cfo_buf_init(&a);
    cfo_buf_init(&b);
    cfo_findings_write(&xy, &a);
    cfo_findings_write(&yx, &b);
    assert_string_equal(a.data, b.data);
    cfo_lifecycle_merge(&xy, &y);
    cfo_lifecycle_merge(&xy, &x);
    cfo_buf_reset(&b);
    cfo_findings_write(&xy, &b);
    assert_string_equal(a.data, b.data);
    assert_int_equal(xy.n, 2);
    cfo_finding *f = cfo_findings_get(&xy, xy.v[1].id);
    assert_string_equal(f->fuzzer, "LIBFUZZER");
    assert_false(cfo_finding_branch_get(f, "main", false)->open);
    assert_true(cfo_finding_branch_get(f, "dev", false)->open);
    assert_true(f->open);
    cfo_buf_fini(&a);
    cfo_buf_fini(&b);
    cfo_findings_fini(&xy);
    cfo_findings_fini(&yx);
    cfo_findings_fini(&x);
    cfo_findings_fini(&y);
    cfo_recset_destroy(&rs);
    cfo_recset_destroy(&rs2);
}

static size_t count_open(const cfo_findings *fs)
{
    size_t n = 0;
    for (size_t i = 0; i < fs->n; i++)
        n += fs->v[i].open;
    return n;
}

/* More findings than a document may hold: the fixed ones seen longest ago
 * go first, then the open ones seen longest ago, and what is written reads
 * back (one finding more would make the whole dataset unreadable). */
static void test_findings_bounded(void **state)
{
    (void)state;
    enum { OVER = 10, FIXED = 20, MORE = 30 };
    cfo_findings fs;
    cfo_findings_init(&fs);
    cfo_recset *rs = cfo_recset_new();
    char target[32], id[64];
    for (unsigned i = 0; i < CFO_FINDINGS_MAX + OVER; i++) {
        snprintf(target, sizeof target, "m%06u", i);
        add(rs, "INFRA_DRIFT", "main", 1, target, 10 + i, false, NULL);
        if (i < FIXED)
            add(rs, "INFRA_DRIFT", "main", 2, target, 200000 + i, true, NULL);
    }
    apply(&fs, rs, NULL);
    assert_int_equal(fs.n, CFO_FINDINGS_MAX + OVER);
    cfo_lifecycle_window(&fs, rs);
    assert_int_equal(fs.n, CFO_FINDINGS_MAX);
    assert_int_equal(count_open(&fs), CFO_FINDINGS_MAX + OVER - FIXED);
    assert_null(cfo_findings_get(&fs, "INFRA_DRIFT/m000009"));
    assert_false(cfo_findings_get(&fs, "INFRA_DRIFT/m000010")->open);

    cfo_buf b;
    cfo_buf_init(&b);
    cfo_findings_write(&fs, &b);
    cfo_findings back;
    cfo_findings_init(&back);
    cfo_diag d = {{0}};
    assert_int_equal(cfo_findings_parse(b.data, b.len, "test", &back, &d), CFO_OK);
    assert_int_equal(back.n, CFO_FINDINGS_MAX);

    /* MORE new open ones: the FIXED - OVER fixed left go, then the open
     * ones seen longest ago. */
    for (unsigned i = 0; i < MORE; i++) {
        snprintf(target, sizeof target, "n%06u", i);
        add(rs, "INFRA_DRIFT", "main", 3, target, 300000 + i, false, NULL);
    }
    apply(&fs, rs, NULL);
    cfo_lifecycle_window(&fs, rs);
    assert_int_equal(fs.n, CFO_FINDINGS_MAX);
    assert_int_equal(count_open(&fs), CFO_FINDINGS_MAX);
    size_t gone_open = MORE - (FIXED - OVER);
    snprintf(id, sizeof id, "INFRA_DRIFT/m%06zu", FIXED + gone_open - 1);
    assert_null(cfo_findings_get(&fs, id));
    snprintf(id, sizeof id, "INFRA_DRIFT/m%06zu", FIXED + gone_open);
    assert_true(cfo_findings_get(&fs, id)->open);
    assert_non_null(cfo_findings_get(&fs, "INFRA_DRIFT/n000029"));
    cfo_buf_fini(&b);
    cfo_findings_fini(&back);
    cfo_findings_fini(&fs);
    cfo_recset_destroy(&rs);
}

static void test_bad_json(void **state)
{
    (void)state;
    const char *bad[] = {
        "{}",
        "[1]",
        "[{\"id\":\"x\"}]",
        "[{\"id\":\"a\",\"fuzzer\":\"F\",\"target\":\"t\",\"kind\":\"fail\",\"title\":\"T\","
        "\"state\":\"closed\"}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfo_findings fs;
        cfo_findings_init(&fs);
        cfo_diag d = {{0}};
        assert_int_equal(cfo_findings_parse(bad[i], strlen(bad[i]), "data.json", &fs, &d),
                         CFO_EPARSE);
        assert_non_null(strstr(d.msg, "data.json"));
        assert_int_equal(fs.n, 0);
        cfo_findings_fini(&fs);
    }
}

/* INFRA_DRIFT: a module drifts on one run and plans cleanly on the next (same
 * commit: drift happens outside git). SUPERSEDE removes the failing record;
 * the finding keeps it as history, fixed with its range. The document
 * records the strategies, and reading it back keeps the finding. */
static void test_supersede_keeps_history(void **state)
{
    (void)state;
    char *dir = cfo_make_temp_dir("cfo-lifecycle", NULL);
    assert_non_null(dir);
    char *url = cfo_xasprintf("file://%s/data.json", dir);
    cfo_storage *st = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_storage_open(url, &st, &d), CFO_OK);
    cfo_config *cfg = cfo_config_new_default();
    cfo_recset *run1 = cfo_recset_new();
    add(run1, "INFRA_DRIFT", "main", 7, "envs/prod", 100, false, NULL);
    cfo_buf events;
    cfo_buf_init(&events);
    assert_int_equal(cfo_store_commit_findings(st, run1, NULL, cfg, 0, NULL, &events, &d), CFO_OK);
    assert_non_null(strstr(events.data, "\"event\":\"opened\""));
    cfo_recset *run2 = cfo_recset_new();
    add(run2, "INFRA_DRIFT", "main", 7, "envs/prod", 200, true, NULL);
    assert_int_equal(cfo_store_commit_findings(st, run2, NULL, cfg, 0, NULL, &events, &d), CFO_OK);
    assert_non_null(strstr(events.data, "\"event\":\"fixed\""));

    cfo_recset *now = cfo_recset_new();
    int window = 0;
    assert_int_equal(cfo_store_load(st, now, &window, &d), CFO_OK);
    assert_int_equal(now->n, 1); /* the failure is gone from the records */
    assert_true(now->v[0].ok);
    cfo_findings fs;
    cfo_findings_init(&fs);
    assert_int_equal(cfo_store_load_findings(st, &fs, &d), CFO_OK);
    assert_int_equal(fs.n, 1);
    assert_string_equal(fs.v[0].id, "INFRA_DRIFT/envs/prod");
    assert_string_equal(fs.v[0].kind, "fail");
    assert_false(fs.v[0].open);
    assert_sha(fs.v[0].fixed.commit, 7);
    assert_sha(fs.v[0].fixed_last_bad, 7);
    assert_int_equal(fs.v[0].fixed.time_ms, 1700000000000LL + 200 * 1000);

    /* committing the same records again writes nothing new */
    assert_int_equal(cfo_store_commit_findings(st, run2, NULL, cfg, 0, NULL, &events, &d), CFO_OK);
    assert_int_equal(events.len, 0);

    cfo_findings_fini(&fs);
    cfo_buf_fini(&events);
    cfo_recset_destroy(&now);
    cfo_recset_destroy(&run1);
    cfo_recset_destroy(&run2);
    cfo_config_destroy(&cfg);
    cfo_storage_destroy(&st);
    assert_int_equal(cfo_remove_tree(dir, NULL), CFO_OK);
    free(url);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_lifecycle),
        cmocka_unit_test(test_one_finding_across_engines),
        cmocka_unit_test(test_what_opens_nothing),
        cmocka_unit_test(test_merge_lists),
        cmocka_unit_test(test_findings_bounded),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_supersede_keeps_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
