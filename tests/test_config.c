/* test_config.c -- cfo.ini parsing: defaults, every key, and errors that name their line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfo_config.h"

static void assert_strv(const cfo_strv *sv, const char *words)
{
    cfo_strv want;
    cfo_strv_init(&want);
    cfo_strv_split_ws(&want, words);
    assert_int_equal(sv->n, want.n);
    for (size_t i = 0; i < want.n; i++)
        assert_string_equal(sv->v[i], want.v[i]);
    cfo_strv_fini(&want);
}

/* The seed's two fuzzers, as the built-in defaults and an empty file give them. */
static void assert_builtin_fuzzers(const cfo_config *cfg)
{
    assert_int_equal(cfg->nfuzzers, 2);
    const cfo_fuzzer *c = cfo_config_find(cfg, "CANARY");
    assert_non_null(c);
    assert_int_equal(c->kind, CFO_KIND_CANARY);
    assert_int_equal(c->merge, CFO_MERGE_ACCUMULATE);
    assert_false(c->critical);
    assert_int_equal(c->branches.n, 0);
    const cfo_fuzzer *d = cfo_config_find(cfg, "INFRA_DRIFT");
    assert_non_null(d);
    assert_int_equal(d->kind, CFO_KIND_INFRA_DRIFT);
    assert_strv(&d->branches, "main staging plan");
    assert_true(d->needs_working_dir);
    assert_true(d->needs_seed);
    assert_true(d->critical);
    assert_int_equal(d->merge, CFO_MERGE_SUPERSEDE);
    assert_string_equal(d->terraform, "terraform");
    assert_string_equal(d->root, "");
    assert_null(cfo_config_find(cfg, "NOPE"));
}

static void assert_default_settings(const cfo_config *cfg)
{
    assert_string_equal(cfg->dataset, CFO_DEFAULT_DATASET);
    assert_int_equal(cfg->budget_ms, CFO_DEFAULT_BUDGET_MS);
    assert_int_equal(cfg->task_timeout_ms, CFO_DEFAULT_TASK_TIMEOUT_MS);
    assert_int_equal(cfg->window, CFO_DEFAULT_WINDOW);
    assert_false(cfg->window_set);
    assert_int_equal(cfg->concurrency, 0);
}

static void test_defaults(void **state)
{
    (void)state;
    cfo_config *cfg = cfo_config_new_default();
    assert_null(cfg->path);
    assert_default_settings(cfg);
    assert_builtin_fuzzers(cfg);
    cfo_config_destroy(&cfg);
    assert_null(cfg);
    cfo_config_destroy(&cfg); /* NULL is fine */
}

static void test_empty_file(void **state)
{
    (void)state;
    const char *texts[] = {"", "\n\n", "; only a comment\n# another\n", "[cfo]\n"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        cfo_config *cfg = NULL;
        cfo_diag d = {{0}};
        assert_int_equal(cfo_config_parse(texts[i], "cfo.ini", &cfg, &d), CFO_OK);
        assert_default_settings(cfg);
        assert_builtin_fuzzers(cfg);
        cfo_config_destroy(&cfg);
    }
}

static const char design_example[] =
    "[cfo]\n"
    "dataset = gs://my-bucket/infra/fuzzing/data.json\n"
    "budget = 60m\n"
    "task_timeout = 30m\n"
    "\n"
    "[fuzzer \"CANARY\"]\n"
    "kind = canary                 ; always fails: proves the harness records failures\n"
    "merge = accumulate\n"
    "critical = false\n"
    "\n"
    "[fuzzer \"INFRA_DRIFT\"]\n"
    "kind = infra_drift\n"
    "branches = main staging plan\n"
    "needs_working_dir = true\n"
    "needs_seed = true\n"
    "critical = true\n"
    "merge = supersede\n";

static void test_design_example(void **state)
{
    (void)state;
    cfo_config *cfg = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_config_parse(design_example, "cfo.ini", &cfg, &d), CFO_OK);
    assert_string_equal(cfg->dataset, "gs://my-bucket/infra/fuzzing/data.json");
    assert_int_equal(cfg->budget_ms, 60LL * 60 * 1000);
    assert_int_equal(cfg->task_timeout_ms, 30LL * 60 * 1000);
    assert_builtin_fuzzers(cfg);
    /* declaration order is kept */
    assert_string_equal(cfg->fuzzers[0].name, "CANARY");
    assert_string_equal(cfg->fuzzers[1].name, "INFRA_DRIFT");
    cfo_config_destroy(&cfg);
}

static void test_every_key(void **state)
{
    (void)state;
    const char *text = "\xEF\xBB\xBF; a byte-order mark is allowed\n"
                       "[cfo]\n"
                       "dataset = file:///var/lib/cfo/data.json\n"
                       "budget = 1h30m\n"
                       "task_timeout = 90s\n"
                       "window = 7\n"
                       "concurrency = 12\n"
                       "notify_command = examples/notify/github-issues.sh --quiet\n"
                       "[fuzzer \"C2\"]\n"
                       "critical = true ; kind may come later\n"
                       "kind = canary\n"
                       "branches = dev\n"
                       "needs_working_dir = yes\n"
                       "needs_seed = on\n"
                       "merge = supersede\n"
                       "task_timeout = 5m\n"
                       "[fuzzer \"tf.prod-1\"]\n"
                       "kind = infra_drift\n"
                       "  terraform = tofu\n"
                       "root = infra/envs\n"
                       "include = envs/* modules/x\n"
                       "exclude = envs/legacy*\n"
                       "branches =\n"
                       "needs_seed = false\n"
                       "[fuzzer \"UNIT\"]\n"
                       "kind = exec\n"
                       "discover = ./list-tests --all\n"
                       "run = ./run-test --name={target} -v\n"
                       "env = GODEBUG=x=1,y=2  AFL_NO_UI=1 EMPTY=\n"
                       "[fuzzer \"ONE\"]\n"
                       "kind = exec\n"
                       "run = make check;quick\n";
    cfo_config *cfg = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_config_parse(text, "x.ini", &cfg, &d), CFO_OK);
    assert_string_equal(cfg->dataset, "file:///var/lib/cfo/data.json");
    assert_int_equal(cfg->budget_ms, 90LL * 60 * 1000);
    assert_int_equal(cfg->task_timeout_ms, 90 * 1000);
    assert_int_equal(cfg->window, 7);
    assert_true(cfg->window_set);
    assert_int_equal(cfg->concurrency, 12);
    assert_int_equal(cfg->notify_argv.n, 2);
    assert_string_equal(cfg->notify_argv.v[0], "examples/notify/github-issues.sh");
    assert_string_equal(cfg->notify_argv.v[1], "--quiet");
    assert_int_equal(cfg->nfuzzers, 4);

    const cfo_fuzzer *c = cfo_config_find(cfg, "C2");
    assert_non_null(c);
    assert_int_equal(c->kind, CFO_KIND_CANARY);
    assert_true(c->critical);
    assert_strv(&c->branches, "dev");
    assert_true(c->needs_working_dir);
    assert_true(c->needs_seed);
    assert_int_equal(c->merge, CFO_MERGE_SUPERSEDE);
    assert_int_equal(c->task_timeout_ms, 5 * 60 * 1000);

    const cfo_fuzzer *t = cfo_config_find(cfg, "tf.prod-1");
    assert_non_null(t);
    assert_int_equal(t->kind, CFO_KIND_INFRA_DRIFT);
    assert_string_equal(t->terraform, "tofu");
    assert_string_equal(t->root, "infra/envs");
    assert_strv(&t->include, "envs/* modules/x");
    assert_strv(&t->exclude, "envs/legacy*");
    assert_int_equal(t->branches.n, 0);
    assert_false(t->needs_seed);
    assert_true(t->needs_working_dir); /* the kind's default */
    assert_true(t->critical);
    assert_int_equal(t->merge, CFO_MERGE_SUPERSEDE);
    assert_int_equal(t->task_timeout_ms, 0);

    const cfo_fuzzer *u = cfo_config_find(cfg, "UNIT");
    assert_non_null(u);
    assert_int_equal(u->kind, CFO_KIND_EXEC);
    assert_strv(&u->discover_argv, "./list-tests --all");
    assert_strv(&u->run_argv, "./run-test --name={target} -v");
    assert_strv(&u->env, "GODEBUG=x=1,y=2 AFL_NO_UI=1 EMPTY=");

    const cfo_fuzzer *o = cfo_config_find(cfg, "ONE");
    assert_non_null(o);
    assert_int_equal(o->discover_argv.n, 0);
    /* ';' starts a comment only after white space */
    assert_strv(&o->run_argv, "make check;quick");
    assert_null(cfo_config_find(cfg, "CANARY")); /* declared fuzzers replace the built-ins */
    cfo_config_destroy(&cfg);
}

static void test_long_names(void **state)
{
    (void)state;
    char name[65];
    memset(name, 'N', 64);
    name[64] = '\0';
    char *text = cfo_xasprintf("[fuzzer \"%s\"]\nkind = canary\n", name);
    cfo_config *cfg = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_config_parse(text, "cfo.ini", &cfg, &d), CFO_OK);
    assert_int_equal(cfg->nfuzzers, 1);
    assert_string_equal(cfg->fuzzers[0].name, name);
    cfo_config_destroy(&cfg);
    free(text);

    text = cfo_xasprintf("[fuzzer \"%sN\"]\nkind = canary\n", name);
    assert_int_equal(cfo_config_parse(text, "cfo.ini", &cfg, &d), CFO_EINVAL);
    assert_null(cfg);
    assert_non_null(strstr(d.msg, "cfo.ini:1: invalid fuzzer name"));
    free(text);
}

typedef struct bad_case {
    const char *text;
    cfo_err err;
    const char *msg; /* exact message */
} bad_case;

static const bad_case bad_cases[] = {
    {"[fuzzer \"X\"]\nkind = canary\nkidn = 1\n", CFO_EINVAL,
     "cfo.ini:3: unknown key 'kidn' in [fuzzer \"X\"]"},
    {"[cfo]\ndataset = a\n\nbudget = 1h\n\n\nbudget = soon\n", CFO_EINVAL,
     "cfo.ini:7: duplicate key 'budget' in [cfo]"},
    {"[cfo]\n\n\n\n\n\nbudget = soon\n", CFO_EINVAL,
     "cfo.ini:7: invalid duration 'soon' for 'budget' (expected e.g. 90s, 30m, 1h, 1h30m)"},
    {"[cfo]\ntask_timeout = 0s\n", CFO_EINVAL,
     "cfo.ini:2: invalid duration '0s' for 'task_timeout' (expected e.g. 90s, 30m, 1h, "
     "1h30m)"},
    {"[cfo]\nwindow = 0\n", CFO_EINVAL,
     "cfo.ini:2: invalid number '0' for 'window' (expected 1..100000)"},
    {"[cfo]\nwindow = 100001\n", CFO_EINVAL,
     "cfo.ini:2: invalid number '100001' for 'window' (expected 1..100000)"},
    {"[cfo]\nconcurrency = 4097\n", CFO_EINVAL,
     "cfo.ini:2: invalid number '4097' for 'concurrency' (expected 1..4096)"},
    {"[cfo]\nconcurrency = many\n", CFO_EINVAL,
     "cfo.ini:2: invalid number 'many' for 'concurrency' (expected 1..4096)"},
    {"[cfo]\ndataset =\n", CFO_EINVAL, "cfo.ini:2: empty value for 'dataset' (expected a URL)"},
    {"[cfo]\nbudgett = 1h\n", CFO_EINVAL,
     "cfo.ini:2: unknown key 'budgett' in [cfo] (known: dataset, budget, task_timeout, "
     "window, concurrency, focus_command, notify_command)"},
    {"[fuzzer \"X\"]\nkind = fast\n", CFO_EINVAL,
     "cfo.ini:2: unknown fuzzer kind 'fast' (known: canary, infra_drift, exec, libfuzzer, afl, "
     "gofuzz)"},
    {"[fuzzer \"X\"]\nmerge = supersede\n", CFO_EINVAL,
     "cfo.ini:1: [fuzzer \"X\"] has no 'kind' (known: canary, infra_drift, exec, libfuzzer, afl, "
     "gofuzz)"},
    {"[fuzzer \"X\"]\n", CFO_EINVAL,
     "cfo.ini:1: [fuzzer \"X\"] has no 'kind' (known: canary, infra_drift, exec, libfuzzer, afl, "
     "gofuzz)"},
    {"[fuzzer \"X\"]\nkind = canary\nrun = true\n", CFO_EINVAL,
     "cfo.ini:3: key 'run' does not apply to [fuzzer \"X\"] of kind canary (its keys: kind, "
     "branches, needs_working_dir, needs_seed, skip_passed, critical, merge, task_timeout, "
     "memory_limit, "
     "budget_share, env)"},
    {"[fuzzer \"X\"]\ninclude = a*\nkind = exec\nrun = t\n", CFO_EINVAL,
     "cfo.ini:2: key 'include' does not apply to [fuzzer \"X\"] of kind exec (its keys: "
     "kind, branches, needs_working_dir, needs_seed, skip_passed, critical, merge, task_timeout, "
     "memory_limit, budget_share, env, discover, run, paths)"},
    {"[fuzzer \"X\"]\nkind = infra_drift\ndiscover = ls\n", CFO_EINVAL,
     "cfo.ini:3: key 'discover' does not apply to [fuzzer \"X\"] of kind infra_drift (its "
     "keys: kind, branches, needs_working_dir, needs_seed, skip_passed, critical, merge, "
     "task_timeout, "
     "memory_limit, budget_share, env, terraform, root, include, exclude)"},
    {"[cfo]\n[fuzzer \"E\"]\nkind = exec\ndiscover = ls\n", CFO_EINVAL,
     "cfo.ini:2: [fuzzer \"E\"] of kind exec needs 'run'"},
    {"[fuzzer \"E\"]\nkind = exec\nrun =\n", CFO_EINVAL, "cfo.ini:3: empty command for 'run'"},
    {"[fuzzer \"E\"]\nkind = exec\nrun = x\ndiscover = ls {target}\n", CFO_EINVAL,
     "cfo.ini:4: '{target}' cannot be used in 'discover' (it finds the targets)"},
    {"[fuzzer \"X\"]\nkind = canary\ncritical = maybe\n", CFO_EINVAL,
     "cfo.ini:3: invalid boolean 'maybe' for 'critical' (expected true or false)"},
    {"[fuzzer \"X\"]\nkind = canary\nneeds_seed = 2\n", CFO_EINVAL,
     "cfo.ini:3: invalid boolean '2' for 'needs_seed' (expected true or false)"},
    {"[fuzzer \"X\"]\nkind = canary\nmerge = newest\n", CFO_EINVAL,
     "cfo.ini:3: invalid merge strategy 'newest' for 'merge' (expected supersede or "
     "accumulate)"},
    {"[fuzzer \"X\"]\nkind = canary\ntask_timeout = -1\n", CFO_EINVAL,
     "cfo.ini:3: invalid duration '-1' for 'task_timeout' (expected e.g. 90s, 30m, 1h, "
     "1h30m)"},
    {"[fuzzer \"X\"]\nkind = infra_drift\nroot = ../up\n", CFO_EINVAL,
     "cfo.ini:3: invalid root '../up' for 'root' (expected a relative path inside the "
     "repository)"},
    {"[fuzzer \"X\"]\nkind = infra_drift\nroot = /abs\n", CFO_EINVAL,
     "cfo.ini:3: invalid root '/abs' for 'root' (expected a relative path inside the "
     "repository)"},
    {"[fuzzer \"X\"]\nkind = infra_drift\nterraform =\n", CFO_EINVAL,
     "cfo.ini:3: empty value for 'terraform' (expected terraform, tofu or a path)"},
    {"[fuzzer \"X\"]\nkind = canary\nkind = exec\n", CFO_EINVAL,
     "cfo.ini:3: duplicate key 'kind' in [fuzzer \"X\"] (first on line 2)"},
    {"[fuzzer \"X\"]\nkind = canary\n\n[fuzzer \"X\"]\nkind = canary\n", CFO_EINVAL,
     "cfo.ini:4: duplicate fuzzer \"X\" (first on line 1)"},
    {"[cfo]\nbudget = 1h\n[fuzzer \"X\"]\nkind = canary\n[cfo]\n", CFO_EINVAL,
     "cfo.ini:5: duplicate section [cfo] (first on line 1)"},
    {"[cfo]\n[cfo]\nbudget = 1h\n", CFO_EINVAL,
     "cfo.ini:2: duplicate section [cfo] (first on line 1)"},
    {"[core]\n", CFO_EINVAL,
     "cfo.ini:1: unknown section [core] (expected [cfo] or [fuzzer \"NAME\"])"},
    {"[cfo]\n[fuzzers \"X\"]\nkind = canary\n", CFO_EINVAL,
     "cfo.ini:2: unknown section [fuzzers \"X\"] (expected [cfo] or [fuzzer \"NAME\"])"},
    {"[fuzzer X]\nkind = canary\n", CFO_EINVAL,
     "cfo.ini:1: invalid section [fuzzer X] (expected [fuzzer \"NAME\"], the name in double "
     "quotes)"},
    {"[fuzzer \"a b\"]\nkind = canary\n", CFO_EINVAL,
     "cfo.ini:1: invalid fuzzer name 'a b' (expected 1 to 64 of A-Z a-z 0-9 _ . -)"},
    {"[fuzzer \"\"]\nkind = canary\n", CFO_EINVAL,
     "cfo.ini:1: invalid fuzzer name '' (expected 1 to 64 of A-Z a-z 0-9 _ . -)"},
    {"budget = 1h\n[cfo]\n", CFO_EINVAL, "cfo.ini:1: key 'budget' outside any section"},
    {"[cfo]\nbudget = 1h\nnot a pair\n", CFO_EPARSE,
     "cfo.ini:3: syntax error (expected [section], key = value, or a comment)"},
    {"[cfo]\n[fuzzer \"X\"\nkind = canary\n", CFO_EPARSE,
     "cfo.ini:2: syntax error (expected [section], key = value, or a comment)"},
    {"[fuzzer \"X\"]\nkind = canary\nmemory_limit = 2X\n", CFO_EINVAL,
     "cfo.ini:3: invalid size '2X' for 'memory_limit' (expected e.g. 512M, 2G, 64k: at least 1k, "
     "at most 1P)"},
    {"[fuzzer \"X\"]\nkind = canary\nmemory_limit = 100\n", CFO_EINVAL,
     "cfo.ini:3: invalid size '100' for 'memory_limit' (expected e.g. 512M, 2G, 64k: at least 1k, "
     "at most 1P)"},
    {"[fuzzer \"X\"]\nkind = canary\nbudget_share = 0%\n", CFO_EINVAL,
     "cfo.ini:3: invalid share '0%' for 'budget_share' (expected 1% to 100%, e.g. 40%)"},
    {"[fuzzer \"X\"]\nkind = canary\nbudget_share = 40%%\n", CFO_EINVAL,
     "cfo.ini:3: invalid share '40%%' for 'budget_share' (expected 1% to 100%, e.g. 40%)"},
    {"[fuzzer \"X\"]\nkind = canary\nbudget_share = 101\n", CFO_EINVAL,
     "cfo.ini:3: invalid share '101' for 'budget_share' (expected 1% to 100%, e.g. 40%)"},
    {"[fuzzer \"X\"]\nkind = canary\nbudget_share = 60%\n[fuzzer \"Y\"]\nkind = canary\n"
     "budget_share = 41%\n",
     CFO_EINVAL, "cfo.ini: the fuzzers' budget_share values add up to 101%, more than 100%"},
    {"[fuzzer \"X\"]\nkind = canary\nenv = A=1 B\n", CFO_EINVAL,
     "cfo.ini:3: invalid 'env' entry 'B' (expected NAME=VALUE, white-space separated)"},
    {"[fuzzer \"X\"]\nkind = canary\nenv = =1\n", CFO_EINVAL,
     "cfo.ini:3: invalid 'env' entry '=1' (expected NAME=VALUE, white-space separated)"},
    {"[fuzzer \"X\"]\nkind = canary\nenv = 9A=1\n", CFO_EINVAL,
     "cfo.ini:3: invalid 'env' entry '9A=1' (expected NAME=VALUE, white-space separated)"},
    {"[fuzzer \"X\"]\nkind = canary\nenv = A-B=1\n", CFO_EINVAL,
     "cfo.ini:3: invalid 'env' entry 'A-B=1' (expected NAME=VALUE, white-space separated)"},
    {"[fuzzer \"X\"]\nkind = canary\nenv = CFO_RESULT_FD=9\n", CFO_EINVAL,
     "cfo.ini:3: 'env' cannot set CFO_RESULT_FD: CFO_* variables are set by the worker"},
    {"[fuzzer \"L\"]\nkind = libfuzzer\nprune_factor = -1\n", CFO_EINVAL,
     "cfo.ini:3: invalid number '-1' for 'prune_factor' (expected 0..1000)"},
    {"[fuzzer \"X\"]\nkind = canary\nprune_factor = 2\n", CFO_EINVAL,
     "cfo.ini:3: key 'prune_factor' does not apply to [fuzzer \"X\"] of kind canary (its keys: "
     "kind, branches, needs_working_dir, needs_seed, skip_passed, critical, merge, task_timeout, "
     "memory_limit, budget_share, env)"},
    /* the earliest error is the one reported, even when found later */
    {"[fuzzer \"E\"]\nkind = exec\nbogus = 1\n", CFO_EINVAL,
     "cfo.ini:1: [fuzzer \"E\"] of kind exec needs 'run'"},
};

static void test_memory_and_share(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t kb;
    } sizes[] = {{"64k", 64},       {"1024", 1},       {"512M", 512 * 1024},
                 {"2G", 2 << 20},   {"2GiB", 2 << 20}, {"3gb", 3 << 20},
                 {"1T", 1LL << 30}, {"1536K", 1536},   {"1P", -1},
                 {"1025T", -1},     {"", -1},          {"G", -1},
                 {"-1G", -1},       {"1.5G", -1},      {"1023", -1},
                 {"2 G", -1}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int64_t kb = 0;
        cfo_err err = cfo_parse_size_kb(sizes[i].text, &kb, NULL);
        if (sizes[i].kb < 0 ? err == CFO_OK : (err != CFO_OK || kb != sizes[i].kb))
            fail_msg("size '%s': err %d, %lld KiB", sizes[i].text, err, (long long)kb);
    }
    cfo_config *cfg = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_config_parse("[fuzzer \"A\"]\nkind = exec\nrun = t\nmemory_limit = 2G\n"
                                      "budget_share = 40%\n[fuzzer \"B\"]\nkind = canary\n"
                                      "budget_share = 60\n",
                                      "cfo.ini", &cfg, &d),
                     CFO_OK);
    assert_int_equal(cfg->fuzzers[0].memory_limit_kb, 2 << 20);
    assert_int_equal(cfg->fuzzers[0].budget_share, 40);
    assert_int_equal(cfg->fuzzers[1].memory_limit_kb, 0);
    assert_int_equal(cfg->fuzzers[1].budget_share, 60);
    cfo_config_destroy(&cfg);
}

static void test_bad_input(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        cfo_config *cfg = (cfo_config *)&cfg; /* must be reset to NULL */
        cfo_diag d = {{0}};
        cfo_err err = cfo_config_parse(bad_cases[i].text, "cfo.ini", &cfg, &d);
        if (err != bad_cases[i].err || strcmp(d.msg, bad_cases[i].msg) != 0)
            fail_msg("case %zu: got %d '%s', want %d '%s'", i, err, d.msg, bad_cases[i].err,
                     bad_cases[i].msg);
        assert_null(cfg);
    }
}

static void test_line_too_long(void **state)
{
    (void)state;
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_buf_puts(&b, "[fuzzer \"E\"]\nkind = exec\nrun = ");
    for (int i = 0; i < 300; i++)
        cfo_buf_puts(&b, "x");
    cfo_buf_puts(&b, "\n");
    cfo_config *cfg = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_config_parse(b.data, "cfo.ini", &cfg, &d), CFO_ELIMIT);
    assert_non_null(strstr(d.msg, "cfo.ini:3: line too long"));
    cfo_buf_fini(&b);
}

static void test_too_many_fuzzers(void **state)
{
    (void)state;
    cfo_buf b;
    cfo_buf_init(&b);
    for (int i = 0; i <= CFO_MAX_FUZZERS; i++)
        cfo_buf_printf(&b, "[fuzzer \"F%d\"]\nkind = canary\n", i);
    cfo_config *cfg = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_config_parse(b.data, "cfo.ini", &cfg, &d), CFO_ELIMIT);
    char want[128];
    snprintf(want, sizeof want, "cfo.ini:%d: too many fuzzers (at most %d)",
             2 * CFO_MAX_FUZZERS + 1, CFO_MAX_FUZZERS);
    assert_string_equal(d.msg, want);

    /* exactly the maximum is fine */
    cfo_buf_reset(&b);
    for (int i = 0; i < CFO_MAX_FUZZERS; i++)
        cfo_buf_printf(&b, "[fuzzer \"F%d\"]\nkind = canary\n", i);
    assert_int_equal(cfo_config_parse(b.data, "cfo.ini", &cfg, &d), CFO_OK);
    assert_int_equal(cfg->nfuzzers, CFO_MAX_FUZZERS);
    cfo_config_destroy(&cfg);
    cfo_buf_fini(&b);
}

static char *write_temp(const char *text, char **dir_out)
{
    char *dir = cfo_make_temp_dir("cfo-config", NULL);
    assert_non_null(dir);
    *dir_out = dir;
    char *path = cfo_xasprintf("%s/cfo.ini", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_load_file(void **state)
{
    (void)state;
    char *dir = NULL;
    char *path = write_temp(design_example, &dir);
    cfo_config *cfg = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_config_load(path, &cfg, &d), CFO_OK);
    assert_string_equal(cfg->path, path);
    assert_builtin_fuzzers(cfg);
    cfo_config_destroy(&cfg);

    /* errors name the file as given */
    FILE *f = fopen(path, "w");
    fputs("[cfo]\nwindow = wide\n", f);
    fclose(f);
    assert_int_equal(cfo_config_load(path, &cfg, &d), CFO_EINVAL);
    assert_null(cfg);
    char *want = cfo_xasprintf("%s:2: invalid number 'wide' for 'window'", path);
    assert_non_null(strstr(d.msg, want));
    free(want);

    /* an empty file is the built-in defaults, with its path */
    f = fopen(path, "w");
    fclose(f);
    if (cfo_config_load(path, &cfg, &d) != CFO_OK)
        fail_msg("%s", d.msg);
    assert_string_equal(cfg->path, path);
    assert_builtin_fuzzers(cfg);
    cfo_config_destroy(&cfg);

    unlink(path);
    assert_int_equal(cfo_config_load(path, &cfg, &d), CFO_ENOTFOUND);
    assert_null(cfg);
    assert_non_null(strstr(d.msg, path));
    rmdir(dir);
    free(dir);
    free(path);
}

/* The README's configuration section names every key cfo.ini may hold. */
static void test_readme_documents_every_key(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/README.md", CFO_SOURCE_DIR);
    cfo_buf readme;
    cfo_buf_init(&readme);
    assert_int_equal(cfo_read_file(path, 1 << 20, &readme, NULL), CFO_OK);
    const char *section = strstr(readme.data, "\n## Configuration\n");
    assert_non_null(section);
    const char *end = strstr(section + 1, "\n## ");
    size_t len = end ? (size_t)(end - section) : strlen(section);
    for (size_t i = 0; cfo_config_key_name(i) != NULL; i++) {
        char *quoted = cfo_xasprintf("`%s`", cfo_config_key_name(i));
        if (memmem(section, len, quoted, strlen(quoted)) == NULL)
            fail_msg("README.md's Configuration section does not name %s", quoted);
        free(quoted);
    }
    cfo_buf_fini(&readme);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readme_documents_every_key),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_design_example),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_long_names),
        cmocka_unit_test(test_memory_and_share),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_line_too_long),
        cmocka_unit_test(test_too_many_fuzzers),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
