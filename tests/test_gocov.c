/* test_gocov.c -- a Go coverprofile and go tool cover -func's output read
 * into a record's lines, functions and regions; go.mod's module path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cfo_gocov.h"
#include "cfo_util.h"

/* a.go: 3-5 covered; 5-7 twice (0 then 1: covered); 5-7's line 5 is also
 * 3-5's; 8-9 not covered, listed twice with 0. b.go: 1-2 not covered.
 * "count" mode's 7 is covered too. */
static const char profile[] = "mode: count\n"
                              "example.com/m/a.go:3.10,5.2 2 7\n"
                              "example.com/m/a.go:5.2,7.3 1 0\n"
                              "example.com/m/a.go:8.1,9.2 1 0\n"
                              "example.com/m/b.go:1.1,2.2 1 0\n"
                              "example.com/m/a.go:5.2,7.3 1 1\n"
                              "example.com/m/a.go:8.1,9.2 1 0\n";

static const char funcs[] = "example.com/m/a.go:3:\tF\t\t100.0%\n"
                            "example.com/m/a.go:8:\tG\t\t0.0%\n"
                            "example.com/m/b.go:1:\tH\t\t0.0%\n"
                            "total:\t\t\t(statements)\t60.0%\n";

static void test_figures(void **state)
{
    (void)state;
    cfo_coverage c;
    cfo_strv files;
    cfo_strv_init(&files);
    cfo_diag d = {{0}};
    assert_int_equal(cfo_gocov_parse(profile, strlen(profile), funcs, &c, &files, &d), CFO_OK);
    /* Four distinct blocks, two covered. */
    assert_int_equal(c.regions[0], 2);
    assert_int_equal(c.regions[1], 4);
    /* a.go 3..9 and b.go 1..2: lines 3-7 covered, line 5 once. */
    assert_int_equal(c.lines[0], 5);
    assert_int_equal(c.lines[1], 9);
    assert_int_equal(c.functions[0], 1);
    assert_int_equal(c.functions[1], 3);
    assert_int_equal(files.n, 1);
    assert_string_equal(files.v[0], "example.com/m/a.go");
    cfo_strv_fini(&files);
}

static void test_a_covered_block_covers_a_shared_line(void **state)
{
    (void)state;
    /* Line 5 ends an uncovered block and starts a covered one. */
    static const char p[] = "mode: set\n"
                            "m/a.go:3.1,5.4 1 0\n"
                            "m/a.go:5.4,6.2 1 1\n";
    cfo_coverage c;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_gocov_parse(p, strlen(p), NULL, &c, NULL, &d), CFO_OK);
    assert_int_equal(c.lines[0], 2);
    assert_int_equal(c.lines[1], 4);
    assert_int_equal(c.regions[0], 1);
    assert_int_equal(c.regions[1], 2);
    assert_int_equal(c.functions[1], 0);
    /* A profile of no blocks (nothing ran) is 0 of 0. */
    assert_int_equal(cfo_gocov_parse("mode: set\n", 10, NULL, &c, NULL, &d), CFO_OK);
    assert_int_equal(c.lines[1], 0);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "example.com/m/a.go:3.10,5.2 2 7\n",
        "mode: set\nnot a block\n",
        "mode: set\na.go:1.1,2 1 1\n",
        "mode: set\na.go:1.1,2.1 1 -1\n",
        "mode: set\na.go:3.1,1.1 1 1\n",
        "mode: set\n:1.1,2.1 1 1\n",
        "mode: set\na.go:1.1,2.1 1 1 extra\n",
    };
    cfo_coverage c;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfo_diag d = {{0}};
        assert_int_equal(cfo_gocov_parse(bad[i], strlen(bad[i]), NULL, &c, NULL, &d), CFO_EPARSE);
        assert_non_null(strstr(d.msg, "coverprofile"));
        assert_int_equal(c.lines[1], 0);
    }
    cfo_diag d = {{0}};
    static const char third[] = "mode: set\na.go:1.1,2.1 1 1\nb.go:x\n";
    assert_int_equal(cfo_gocov_parse(third, strlen(third), NULL, &c, NULL, &d), CFO_EPARSE);
    assert_non_null(strstr(d.msg, "line 3"));
    /* -func output without a percentage. */
    assert_int_equal(
        cfo_gocov_parse(profile, strlen(profile), "a.go:3:\tF\t\tmany\n", &c, NULL, &d),
        CFO_EPARSE);
    assert_non_null(strstr(d.msg, "go tool cover -func"));
}

static void test_module_path(void **state)
{
    (void)state;
    char *m = cfo_gocov_module_path("module example.com/m\n\ngo 1.19\n");
    assert_string_equal(m, "example.com/m");
    free(m);
    m = cfo_gocov_module_path("// comment\n  module \"example.com/q/v2\" // why\n");
    assert_string_equal(m, "example.com/q/v2");
    free(m);
    m = cfo_gocov_module_path("module example.com/r// no blank before the comment\n");
    assert_string_equal(m, "example.com/r");
    free(m);
    assert_null(cfo_gocov_module_path("go 1.19\nmodulex y\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_figures),
        cmocka_unit_test(test_a_covered_block_covers_a_shared_line),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_module_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
