/* test_changes.c -- the focus command's output and the config keys of
 * change-focused runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cfo_changes.h"
#include "cfo_config.h"

static void test_focus_output(void **state)
{
    (void)state;
    cfo_strv focus;
    cfo_strv_init(&focus);
    cfo_diag d = {{0}};
    const char *ok = "{\"targets\": [\"PARSE:c\", \"lexer\"], \"seeds\": {\"x\": 1}}";
    assert_int_equal(cfo_focus_parse(ok, strlen(ok), &focus, &d), CFO_OK);
    assert_int_equal(focus.n, 2);
    assert_string_equal(focus.v[0], "PARSE:c");
    const char *bad[] = {"not json",
                         "[]",
                         "{\"targets\": \"a\"}",
                         "{\"targets\": [1]}",
                         "{\"targets\": [\"\"]}",
                         "{}",
                         "{\"targets\": [[[[[[[[[[[[[[[[[["};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d.msg[0] = '\0';
        assert_int_equal(cfo_focus_parse(bad[i], strlen(bad[i]), &focus, &d), CFO_EPARSE);
        assert_true(d.msg[0] != '\0');
    }
    cfo_strv_fini(&focus);
}

static void test_config_keys(void **state)
{
    (void)state;
    cfo_config *cfg = NULL;
    cfo_diag d = {{0}};
    const char *ok = "[cfo]\nfocus_command = ./focus.sh --fast\n\n[fuzzer \"P\"]\nkind = exec\n"
                     "run = ./r {target}\npaths = src/a/* -> a, docs/** -> docs\n";
    assert_int_equal(cfo_config_parse(ok, "ok.ini", &cfg, &d), CFO_OK);
    assert_int_equal(cfg->focus_argv.n, 2);
    const cfo_fuzzer *f = cfo_config_find(cfg, "P");
    assert_int_equal(f->path_globs.n, 2);
    assert_string_equal(f->path_globs.v[1], "docs/**");
    assert_string_equal(f->path_targets.v[1], "docs");
    cfo_config_destroy(&cfg);
    const char *bad[] = {
        "[fuzzer \"P\"]\nkind = exec\nrun = ./r\npaths = src/a/*\n",
        "[fuzzer \"P\"]\nkind = exec\nrun = ./r\npaths = -> a\n",
        "[fuzzer \"P\"]\nkind = exec\nrun = ./r\npaths = a b -> c\n",
        "[fuzzer \"P\"]\nkind = exec\nrun = ./r\npaths = src/* -> ../up\n",
        "[fuzzer \"P\"]\nkind = canary\npaths = src/* -> a\n",
        "[cfo]\nfocus_command =\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d.msg[0] = '\0';
        assert_int_not_equal(cfo_config_parse(bad[i], "bad.ini", &cfg, &d), CFO_OK);
        assert_non_null(strstr(d.msg, "bad.ini:"));
        assert_null(cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_focus_output),
        cmocka_unit_test(test_config_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
