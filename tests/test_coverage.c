/* test_coverage.c -- a record's coverage: parsed strictly and written in one
 * form (object, outcome, dataset), llvm-cov export's summary read into it,
 * and a drop between two commits of a branch failing the task with its
 * range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cfo_config.h"
#include "cfo_covcheck.h"
#include "cfo_coverage.h"
#include "cfo_dataset.h"
#include "cfo_engine_cov.h"
#include "cfo_fuzzer.h"
#include "cfo_outcome.h"
#include "cfo_util.h"

#define SHA_OLD "1111111111111111111111111111111111111111"
#define SHA_NEW "2222222222222222222222222222222222222222"

static const char canonical[] =
    "{\"lines\":[75,192],\"functions\":[8,12],\"regions\":[90,184],"
    "\"seconds\":1.250,\"report\":\"gs://b/coverage/F/t/c/index.html\"}";

static void test_parse_and_format(void **state)
{
    (void)state;
    cfo_coverage c;
    cfo_diag d = {{0}};
    /* Any member order, any spacing: one written form. */
    const char *given = "{ \"report\": \"gs://b/coverage/F/t/c/index.html\", \"seconds\": 1.25,"
                        " \"regions\": [90, 184], \"functions\": [8, 12], \"lines\": [75, 192] }";
    assert_int_equal(cfo_coverage_parse(given, &c, &d), CFO_OK);
    assert_int_equal(c.lines[0], 75);
    assert_int_equal(c.lines[1], 192);
    assert_int_equal(c.functions[1], 12);
    assert_int_equal(c.regions[0], 90);
    char *text = cfo_coverage_format(&c);
    assert_string_equal(text, canonical);
    free(text);
    text = cfo_coverage_compact(canonical);
    assert_string_equal(text, canonical);
    free(text);
    assert_true(cfo_coverage_line_pct(&c) > 39.0 && cfo_coverage_line_pct(&c) < 39.1);
    /* seconds and report are optional. */
    text = cfo_coverage_compact("{\"lines\":[0,0],\"functions\":[0,0],\"regions\":[0,0]}");
    assert_string_equal(text, "{\"lines\":[0,0],\"functions\":[0,0],\"regions\":[0,0],"
                              "\"seconds\":0.000}");
    free(text);
    assert_null(cfo_coverage_compact(NULL));
    assert_null(cfo_coverage_compact(""));
}

static void test_bad_objects(void **state)
{
    (void)state;
    static const struct {
        const char *json, *why;
    } cases[] = {
        {"[]", "must be an object"},
        {"{\"lines\":[1,2],\"functions\":[1,2]}", "needs 'lines', 'functions' and 'regions'"},
        {"{\"lines\":[3,2],\"functions\":[1,2],\"regions\":[1,2]}", "covers more than its total"},
        {"{\"lines\":[-1,2],\"functions\":[1,2],\"regions\":[1,2]}", "integers >= 0"},
        {"{\"lines\":[1.5,2],\"functions\":[1,2],\"regions\":[1,2]}", "integers >= 0"},
        {"{\"lines\":[1],\"functions\":[1,2],\"regions\":[1,2]}", "[covered, total]"},
        {"{\"lines\":[1,2],\"functions\":[1,2],\"regions\":[1,2],\"x\":1}", "unknown member 'x'"},
        {"{\"lines\":[1,2],\"functions\":[1,2],\"regions\":[1,2],\"seconds\":-1}", "seconds"},
        {"{\"lines\":[1,2],\"functions\":[1,2],\"regions\":[1,2],\"report\":3}", "report"},
        {"{\"lines\":[1,2]", "not JSON"},
        {"{\"lines\":[[[[[1]]]]]}", "not a small JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cfo_coverage c;
        cfo_diag d = {{0}};
        assert_int_equal(cfo_coverage_parse(cases[i].json, &c, &d), CFO_EPARSE);
        if (strstr(d.msg, cases[i].why) == NULL)
            fail_msg("%s: '%s' does not say '%s'", cases[i].json, d.msg, cases[i].why);
        assert_null(cfo_coverage_compact(cases[i].json));
    }
}

static void test_outcome_figures(void **state)
{
    (void)state;
    cfo_outcome o = {0};
    assert_true(cfo_outcome_parse_figures(
        &o, "{\"count\": 3, \"coverage\": {\"lines\": [1, 2], \"functions\": [1, 1], "
            "\"regions\": [0, 4], \"seconds\": 2}}"));
    assert_string_equal(o.coverage, "{\"lines\":[1,2],\"functions\":[1,1],\"regions\":[0,4],"
                                    "\"seconds\":2.000}");
    cfo_record rec = {0};
    cfo_record_from_outcome(&rec, &o);
    assert_ptr_equal(rec.coverage, o.coverage);
    cfo_outcome_fini(&o);
    /* A coverage a task got wrong is left out; the figures stay. */
    cfo_outcome p = {0};
    assert_true(cfo_outcome_parse_figures(
        &p, "{\"count\": 3, \"coverage\": {\"lines\": [5, 2], \"functions\": [1, 1], "
            "\"regions\": [0, 4]}}"));
    assert_null(p.coverage);
    assert_int_equal(p.count, 3);
    cfo_outcome_fini(&p);
}

static char *record_with(const char *coverage)
{
    return cfo_xasprintf(
        "[{\"commit\":\"" SHA_OLD "\",\"fuzzer\":\"F\",\"ok\":true,\"count\":1,\"findings\":0,"
        "\"branch\":\"main\",\"target\":\"t\",\"duration\":1,\"command\":\"c\",\"status\":"
        "\"pass\",\"time\":\"2026-11-21T10:00:00Z\",\"coverage\":%s}]",
        coverage);
}

static void test_dataset_keeps_one_form(void **state)
{
    (void)state;
    char *doc = record_with("{ \"regions\": [90, 184], \"lines\": [75, 192], \"functions\": [8, "
                            "12], \"seconds\": 1.25, \"report\": "
                            "\"gs://b/coverage/F/t/c/index.html\" }");
    cfo_recset *rs = cfo_recset_new();
    cfo_diag d = {{0}};
    assert_int_equal(cfo_dataset_parse(doc, strlen(doc), "d.json", rs, NULL, &d), CFO_OK);
    assert_int_equal(rs->n, 1);
    assert_string_equal(rs->v[0].coverage, canonical);
    cfo_buf out;
    cfo_buf_init(&out);
    cfo_dataset_write(rs, 32, &out);
    char *want = cfo_xasprintf("\"coverage\":%s}", canonical);
    assert_non_null(strstr(out.data, want));
    free(want);
    /* Read back, written again: the same bytes. */
    cfo_recset *again = cfo_recset_new();
    assert_int_equal(cfo_dataset_parse(out.data, out.len, "d.json", again, NULL, &d), CFO_OK);
    cfo_buf out2;
    cfo_buf_init(&out2);
    cfo_dataset_write(again, 32, &out2);
    assert_string_equal(out.data, out2.data);
    cfo_buf_fini(&out2);
    cfo_buf_fini(&out);
    cfo_recset_destroy(&again);
    cfo_recset_destroy(&rs);
    free(doc);

    static const char *const bad[] = {
        "[1,2]",
        "\"x\"",
        "{\"lines\":[3,2],\"functions\":[1,2],\"regions\":[1,2]}",
        "{\"lines\":[1,2],\"functions\":[1,2]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        doc = record_with(bad[i]);
        rs = cfo_recset_new();
        cfo_diag e = {{0}};
        assert_int_equal(cfo_dataset_parse(doc, strlen(doc), "d.json", rs, NULL, &e), CFO_EPARSE);
        if (strstr(e.msg, "record 0") == NULL || strstr(e.msg, "coverage") == NULL)
            fail_msg("%s: '%s'", bad[i], e.msg);
        cfo_recset_destroy(&rs);
        free(doc);
    }
}

static const char llvm_export[] =
    "{\"data\":[{\"files\":["
    "{\"filename\":\"/w/x/fuzz/"
    "fuzz_parser.c\",\"summary\":{\"lines\":{\"count\":5,\"covered\":5}}},"
    "{\"filename\":\"/w/x/src/checksum.c\",\"summary\":{\"lines\":{\"count\":20,\"covered\":0}}},"
    "{\"filename\":\"/w/x/src/parser.c\",\"summary\":{\"lines\":{\"count\":160,\"covered\":70}}},"
    "{\"filename\":\"/usr/include/x.h\",\"summary\":{\"lines\":{\"count\":7,\"covered\":1}}}],"
    "\"totals\":{\"lines\":{\"count\":192,\"covered\":76,\"percent\":39.5},"
    "\"functions\":{\"count\":12,\"covered\":8},\"regions\":{\"count\":184,\"covered\":90},"
    "\"branches\":{\"count\":0,\"covered\":0}}}],\"type\":\"llvm.coverage.json.export\"}";

static void test_llvm_cov_export(void **state)
{
    (void)state;
    cfo_coverage c;
    cfo_strv files;
    cfo_strv_init(&files);
    cfo_diag d = {{0}};
    assert_int_equal(
        cfo_engine_coverage_parse(llvm_export, strlen(llvm_export), "/w/x", &c, &files, &d),
        CFO_OK);
    assert_int_equal(c.lines[0], 76);
    assert_int_equal(c.lines[1], 192);
    assert_int_equal(c.functions[0], 8);
    assert_int_equal(c.regions[1], 184);
    /* Files with a covered line, relative to the worktree when under it. */
    assert_int_equal(files.n, 3);
    assert_string_equal(files.v[0], "fuzz/fuzz_parser.c");
    assert_string_equal(files.v[1], "src/parser.c");
    assert_string_equal(files.v[2], "/usr/include/x.h");
    cfo_strv_fini(&files);

    static const char *const bad[] = {"[]", "{\"data\":[]}", "{\"data\":[{\"totals\":{}}]}",
                                      "not json"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cfo_engine_coverage_parse(bad[i], strlen(bad[i]), NULL, &c, NULL, &d),
                         CFO_EPARSE);
}

static void test_config_keys(void **state)
{
    (void)state;
    cfo_config *cfg = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_config_parse("[fuzzer \"L\"]\nkind = libfuzzer\n[fuzzer \"A\"]\n"
                                      "kind = afl\ncoverage_dir = out/cov\n"
                                      "coverage_build = ./build.sh --coverage\n"
                                      "coverage_drop = 5%\n",
                                      "cfo.ini", &cfg, &d),
                     CFO_OK);
    /* Off by default; on with coverage_dir. */
    assert_string_equal(cfg->fuzzers[0].coverage_dir, "");
    assert_string_equal(cfg->fuzzers[0].coverage_build, "");
    assert_int_equal(cfg->fuzzers[0].coverage_drop, 1);
    assert_string_equal(cfg->fuzzers[1].coverage_dir, "out/cov");
    assert_string_equal(cfg->fuzzers[1].coverage_build, "./build.sh --coverage");
    assert_int_equal(cfg->fuzzers[1].coverage_drop, 5);
    assert_false(cfo_fuzzer_has_coverage(&cfg->fuzzers[0]));
    assert_true(cfo_fuzzer_has_coverage(&cfg->fuzzers[1]));
    cfo_config_destroy(&cfg);
    /* gofuzz measures coverage with go itself: always, and its drop bound
     * is set as the others'. */
    assert_int_equal(cfo_config_parse("[fuzzer \"G\"]\nkind = gofuzz\ncoverage_drop = 3%\n",
                                      "cfo.ini", &cfg, &d),
                     CFO_OK);
    assert_true(cfo_fuzzer_has_coverage(&cfg->fuzzers[0]));
    assert_int_equal(cfg->fuzzers[0].coverage_drop, 3);
    cfo_config_destroy(&cfg);
}

/* ---- drops ---------------------------------------------------------------- */

static void add_prior(cfo_recset *rs, const char *commit, int64_t time_ms, const char *coverage)
{
    cfo_record r = {
        .commit = commit,
        .fuzzer = "F",
        .branch = "main",
        .target = "t",
        .command = "c",
        .coverage = coverage,
        .time_ms = time_ms,
        .has_time = true,
        .attempt = 1,
        .status = CFO_STATUS_PASS,
        .ok = true,
    };
    cfo_recset_add(rs, &r);
}

static const char cov_80[] = "{\"lines\":[80,100],\"functions\":[1,1],\"regions\":[1,1]}";
static const char cov_79[] = "{\"lines\":[79,100],\"functions\":[1,1],\"regions\":[1,1]}";
static const char cov_60[] = "{\"lines\":[60,100],\"functions\":[1,1],\"regions\":[1,1]}";

static void drop_case(const char *prior_commit, const char *now, size_t want_failed)
{
    cfo_fuzzer f;
    cfo_fuzzer_init(&f, "F", CFO_KIND_LIBFUZZER);
    cfo_task t = {.fuzzer = &f, .branch = "main", .commit = SHA_NEW, .target = "t"};
    cfo_taskset ts = {.v = &t, .n = 1};
    cfo_outcome o = {0};
    o.done = true;
    o.status = CFO_STATUS_PASS;
    o.summary = cfo_xstrdup("ok");
    o.coverage = cfo_xstrdup(now);
    o.crashes = cfo_xstrdup("[{\"signature\":\"s\",\"kind\":\"crash\"}]");
    cfo_recset *prior = cfo_recset_new();
    add_prior(prior, SHA_OLD, 1000, cov_60); /* older: not the one compared with */
    add_prior(prior, prior_commit, 2000, cov_80);
    assert_int_equal(cfo_covcheck_drops(&ts, &o, prior), want_failed);
    if (want_failed) {
        assert_int_equal(o.status, CFO_STATUS_FAIL);
        assert_int_equal(o.findings, 1);
        assert_non_null(strstr(o.summary, "coverage drop: lines 80.00% at 111111111111 -> "
                                          "60.00% at 222222222222"));
        assert_non_null(strstr(o.summary, "range " SHA_OLD ".." SHA_NEW));
        assert_non_null(strstr(o.crashes, "{\"signature\":\"s\",\"kind\":\"crash\"},"
                                          "{\"signature\":\"coverage_drop:111111111111.."
                                          "222222222222\",\"kind\":\"coverage_drop\",\"new\":true,"
                                          "\"range\":\"" SHA_OLD ".." SHA_NEW "\""));
    } else {
        assert_int_equal(o.status, CFO_STATUS_PASS);
        assert_string_equal(o.summary, "ok");
    }
    cfo_recset_destroy(&prior);
    cfo_outcome_fini(&o);
    cfo_fuzzer_fini(&f);
}

static void test_drop_fails_with_range(void **state)
{
    (void)state;
    drop_case(SHA_OLD, cov_60, 1);
    /* 1% of lines is the default bound: 80% -> 79% is not past it. */
    drop_case(SHA_OLD, cov_79, 0);
    /* The newest coverage is this commit's own: nothing to compare. */
    drop_case(SHA_NEW, cov_60, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_format), cmocka_unit_test(test_bad_objects),
        cmocka_unit_test(test_outcome_figures),  cmocka_unit_test(test_dataset_keeps_one_form),
        cmocka_unit_test(test_llvm_cov_export),  cmocka_unit_test(test_drop_fails_with_range),
        cmocka_unit_test(test_config_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
