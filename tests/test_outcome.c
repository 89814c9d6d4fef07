/* test_outcome.c -- what a finished task yields: the status of each way a
 * task ends (oom among them), its resource figures, and the findings list a
 * fuzzer reports, kept only when it is a bounded array of flat objects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cfo_outcome.h"
#include "cfo_taskexec.h"
#include "cfo_util.h"

/* An executor result that exited with code and wrote result_json (or
 * nothing) to CFO_RESULT_FD. */
static void exec_result(cfo_exec_result *r, cfo_exec_end end, int code, const char *result_json)
{
    memset(r, 0, sizeof *r);
    r->end = end;
    r->exit_code = code;
    r->duration_ms = 1500;
    r->cpu_ms = 1250;
    r->max_rss_kb = 4096;
    r->tail = cfo_xstrdup("out");
    r->tail_len = 3;
    if (result_json != NULL) {
        r->result = cfo_xstrdup(result_json);
        r->result_len = strlen(result_json);
    }
}

static void outcome_of(cfo_outcome *o, cfo_exec_end end, int code, const char *json)
{
    cfo_exec_result r;
    exec_result(&r, end, code, json);
    cfo_outcome_from_exec(o, &r, NULL);
    cfo_exec_result_fini(&r);
}

static void test_oom_and_usage(void **state)
{
    (void)state;
    cfo_outcome o;
    outcome_of(&o, CFO_EXEC_OOM, 0, NULL);
    assert_int_equal(o.status, CFO_STATUS_OOM);
    assert_int_equal(o.findings, 1);
    assert_non_null(strstr(o.summary, "memory limit"));
    assert_non_null(strstr(o.summary, "4096 KiB"));
    assert_true(o.has_usage);
    assert_true(o.cpu == 1.25);
    assert_int_equal(o.max_rss_kb, 4096);
    cfo_outcome_fini(&o);

    outcome_of(&o, CFO_EXEC_SPAWN_FAILED, 0, NULL);
    assert_int_equal(o.status, CFO_STATUS_ERROR);
    assert_false(o.has_usage); /* nothing ran */
    cfo_outcome_fini(&o);
}

static void test_findings_list_kept_compact(void **state)
{
    (void)state;
    cfo_outcome o;
    outcome_of(&o, CFO_EXEC_EXITED, 1,
               "{\"count\": 7, \"findings\": 1, \"summary\": \"s\", \"crashes\": [ "
               "{\"signature\": \"crash:x:f\", \"kind\": \"crash\", \"new\": true, \"n\": 3, "
               "\"frames\": [\"f\", \"g\"]} ]}");
    assert_int_equal(o.status, CFO_STATUS_FAIL);
    assert_int_equal(o.count, 7);
    assert_string_equal(o.crashes, "[{\"signature\":\"crash:x:f\",\"kind\":\"crash\",\"new\":true,"
                                   "\"n\":3,\"frames\":[\"f\",\"g\"]}]");
    cfo_outcome_fini(&o);

    outcome_of(&o, CFO_EXEC_EXITED, 0, "{\"count\": 1, \"crashes\": []}");
    assert_string_equal(o.crashes, "[]");
    cfo_outcome_fini(&o);
}

static void test_bad_findings_lists_are_left_out(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"crashes\": {}}",
        "{\"crashes\": \"[]\"}",
        "{\"crashes\": [1]}",
        "{\"crashes\": [[]]}",
        "{\"crashes\": [{\"a\": [[1]]}]}", /* deeper than 3 */
        "{\"crashes\": [{\"a\": 1.5}]}",   /* numbers are integers */
        "{\"crashes\": [{\"a\": null}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfo_outcome o;
        outcome_of(&o, CFO_EXEC_EXITED, 1, bad[i]);
        if (o.crashes != NULL)
            fail_msg("%s kept as %s", bad[i], o.crashes);
        assert_int_equal(o.status, CFO_STATUS_FAIL); /* the rest of the figures still count */
        cfo_outcome_fini(&o);
    }
    /* Too large once compact. */
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_buf_puts(&b, "{\"crashes\": [");
    for (int i = 0; i < 2000; i++)
        cfo_buf_printf(&b, "%s{\"signature\": \"crash:x:f%d\"}", i ? "," : "", i);
    cfo_buf_puts(&b, "]}");
    cfo_outcome o;
    outcome_of(&o, CFO_EXEC_EXITED, 1, b.data);
    assert_null(o.crashes);
    cfo_outcome_fini(&o);
    cfo_buf_fini(&b);
}

static void test_compact_crashes_from_a_peer(void **state)
{
    (void)state;
    char *c = cfo_outcome_compact_crashes("[ {\"k\" : \"v\"} ]");
    assert_string_equal(c, "[{\"k\":\"v\"}]");
    free(c);
    static const char *const bad[] = {"", "[", "not json", "[{\"a\":1}] trailing", "{}", "[\"x\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = cfo_outcome_compact_crashes(bad[i]);
        if (c != NULL)
            fail_msg("'%s' kept as %s", bad[i], c);
    }
    assert_null(cfo_outcome_compact_crashes(NULL));
    char *deep = cfo_xmalloc(100001);
    memset(deep, '[', 100000);
    deep[100000] = '\0';
    assert_null(cfo_outcome_compact_crashes(deep));
    free(deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_and_usage),
        cmocka_unit_test(test_findings_list_kept_compact),
        cmocka_unit_test(test_bad_findings_lists_are_left_out),
        cmocka_unit_test(test_compact_crashes_from_a_peer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
