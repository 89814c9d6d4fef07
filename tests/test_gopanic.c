/* test_gopanic.c -- signatures of Go test failures: go test -fuzz's report
 * and go test -run=FuzzX/NAME's sign alike; a t.Fatal site; hostile text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cfo_gopanic.h"

/* go test -fuzz: the testing package's report of the panic, indented. */
static const char fuzz_report[] =
    "--- FAIL: FuzzParseRecord (1.06s)\n"
    "    --- FAIL: FuzzParseRecord (0.00s)\n"
    "        testing.go:1356: panic: runtime error: index out of range [52] with length 4\n"
    "            goroutine 53097 [running]:\n"
    "            runtime/debug.Stack()\n"
    "            \t/usr/lib/go-1.19/src/runtime/debug/stack.go:24 +0xdb\n"
    "            testing.tRunner.func1()\n"
    "            \t/usr/lib/go-1.19/src/testing/testing.go:1356 +0x1f2\n"
    "            panic({0x5f26a0, 0xc000138120})\n"
    "            \t/usr/lib/go-1.19/src/runtime/panic.go:884 +0x212\n"
    "            example.com/fuzzgo/parser.parseBody(...)\n"
    "            \t/w/parser/parser.go:45\n"
    "            example.com/fuzzgo/parser.ParseRecord({0xc0071724b0, 0x9, 0x10})\n"
    "            \t/w/parser/parser.go:34 +0x817\n"
    "            example.com/fuzzgo/parser.FuzzParseRecord.func1(0x0?, {0xc0, 0x9, 0x10})\n"
    "            \t/w/parser/parser_test.go:19 +0x6c\n"
    "            reflect.Value.call({0x5d3240?, 0x60fb28?, 0x13?}, {0x601056, 0x4})\n"
    "    Failing input written to testdata/fuzz/FuzzParseRecord/05f1ae\n";

/* go test -run=FuzzParseRecord/NAME: the runtime's report, another input. */
static const char run_report[] =
    "--- FAIL: FuzzParseRecord (0.00s)\n"
    "    --- FAIL: FuzzParseRecord/05f1ae (0.00s)\n"
    "panic: runtime error: index out of range [9] with length 7 [recovered]\n"
    "\tpanic: runtime error: index out of range [9] with length 7\n"
    "\n"
    "goroutine 7 [running]:\n"
    "testing.tRunner.func1.2({0x5996a0, 0xc00001a0d8})\n"
    "\t/usr/lib/go-1.19/src/testing/testing.go:1396 +0x24e\n"
    "panic({0x5996a0, 0xc00001a0d8})\n"
    "\t/usr/lib/go-1.19/src/runtime/panic.go:884 +0x212\n"
    "example.com/fuzzgo/parser.parseBody(...)\n"
    "\t/other/checkout/parser/parser.go:45\n"
    "example.com/fuzzgo/parser.ParseRecord({0xc000018290?, 0x9?, 0x10?})\n"
    "\t/other/checkout/parser/parser.go:34 +0x23d\n"
    "example.com/fuzzgo/parser.FuzzParseRecord.func1(0x0?, {0xc000018290?, 0x0?})\n"
    "\t/other/checkout/parser/parser_test.go:19 +0x27\n"
    "FAIL\texample.com/fuzzgo/parser\t0.008s\n";

static void test_fuzz_and_replay_reports_sign_alike(void **state)
{
    (void)state;
    cfo_crash_report a, b;
    assert_int_equal(cfo_gopanic_parse(fuzz_report, strlen(fuzz_report), &a), CFO_OK);
    assert_int_equal(cfo_gopanic_parse(run_report, strlen(run_report), &b), CFO_OK);
    assert_string_equal(a.signature, "crash:panic runtime error index out of range:"
                                     "parser.parseBody|parser.ParseRecord|"
                                     "parser.FuzzParseRecord.func1");
    assert_string_equal(a.signature, b.signature);
    assert_string_equal(a.sig_hash, b.sig_hash);
    assert_string_equal(a.location, "parser.go:45");
    assert_int_equal(a.kind, CFO_CRASH_CRASH);
}

static void test_a_failing_t_fatal_is_signed_by_its_site(void **state)
{
    (void)state;
    const char *text = "--- FAIL: FuzzParseKV (0.02s)\n"
                       "    --- FAIL: FuzzParseKV (0.00s)\n"
                       "        parser_test.go:37: 3 keys from 2 bytes\n"
                       "FAIL\n";
    cfo_crash_report r;
    assert_int_equal(cfo_gopanic_parse(text, strlen(text), &r), CFO_OK);
    assert_string_equal(r.signature, "crash:test failure:parser_test.go:37");
}

static void test_a_custom_panic_keeps_no_values(void **state)
{
    (void)state;
    const char *text = "panic: bad record \"xyz\" at 12\n\ngoroutine 1 [running]:\n"
                       "main.check(...)\n\t/m/main.go:9\n";
    cfo_crash_report r;
    assert_int_equal(cfo_gopanic_parse(text, strlen(text), &r), CFO_OK);
    assert_string_equal(r.signature, "crash:panic bad record:main.check");
}

static void test_no_go_failure(void **state)
{
    (void)state;
    const char *texts[] = {"", "ok  \texample.com/x\t0.01s\n", "panic:", "--- FAIL: X\n",
                           "==1==ERROR: AddressSanitizer: heap-use-after-free\n"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        cfo_crash_report r;
        assert_int_equal(cfo_gopanic_parse(texts[i], strlen(texts[i]), &r), CFO_ENOTFOUND);
    }
}

/* Every prefix of a report parses without reading past its end (ASan). */
static void test_every_prefix_is_safe(void **state)
{
    (void)state;
    size_t len = strlen(run_report);
    for (size_t n = 0; n <= len; n++) {
        char *copy = malloc(n ? n : 1);
        memcpy(copy, run_report, n);
        cfo_crash_report r;
        cfo_gopanic_parse(copy, n, &r);
        free(copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_and_replay_reports_sign_alike),
        cmocka_unit_test(test_a_failing_t_fatal_is_signed_by_its_site),
        cmocka_unit_test(test_a_custom_panic_keeps_no_values),
        cmocka_unit_test(test_no_go_failure),
        cmocka_unit_test(test_every_prefix_is_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
