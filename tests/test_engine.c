/* test_engine.c -- the engine kinds' configuration keys and the shared
 * engine helpers: build once, discovery, time budget, corpus URL, triage
 * re-signing, the findings list. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include <cmocka.h>

#include "cfo_config.h"
#include "cfo_engine.h"

static cfo_config *parse_ok(const char *text)
{
    cfo_config *cfg = NULL;
    cfo_diag d = {{0}};
    cfo_err err = cfo_config_parse(text, "cfo.ini", &cfg, &d);
    if (err != CFO_OK)
        fail_msg("parse failed: %s", d.msg);
    return cfg;
}

static void test_kinds(void **state)
{
    (void)state;
    cfo_kind k;
    assert_int_equal(cfo_kind_parse("libfuzzer", &k), 0);
    assert_int_equal(k, CFO_KIND_LIBFUZZER);
    assert_int_equal(cfo_kind_parse("afl", &k), 0);
    assert_int_equal(k, CFO_KIND_AFL);
    const cfo_kind kinds[] = {CFO_KIND_LIBFUZZER, CFO_KIND_AFL};
    for (size_t i = 0; i < 2; i++) {
        const cfo_kind_info *info = cfo_kind_info_of(kinds[i]);
        assert_true(info->needs_working_dir);
        assert_false(info->needs_seed);
        assert_true(info->critical);
        assert_int_equal(info->merge, CFO_MERGE_ACCUMULATE);
        assert_true(info->runs_in_runner);
        assert_true(cfo_kind_is_engine(kinds[i]));
        assert_non_null(cfo_engine_ops_for(kinds[i]));
        assert_non_null(cfo_fuzz_impl_for(kinds[i]));
    }
    assert_false(cfo_kind_is_engine(CFO_KIND_EXEC));
    assert_null(cfo_engine_ops_for(CFO_KIND_CANARY));
}

static void test_defaults(void **state)
{
    (void)state;
    cfo_config *cfg = parse_ok("[cfo]\ndataset = gs://bkt/infra/data.json\n"
                               "[fuzzer \"LF\"]\nkind = libfuzzer\n"
                               "[fuzzer \"AF\"]\nkind = afl\n");
    const cfo_fuzzer *lf = cfo_config_find(cfg, "LF");
    const cfo_fuzzer *af = cfo_config_find(cfg, "AF");
    assert_string_equal(lf->build, CFO_ENGINE_DEFAULT_BUILD);
    assert_string_equal(lf->targets_dir, "out/libfuzzer");
    assert_string_equal(af->targets_dir, "out/afl");
    assert_string_equal(af->cmplog_dir, "");
    assert_int_equal(lf->input_timeout_ms, 2000);
    assert_int_equal(lf->input_memory_kb, 2048 * 1024);
    assert_int_equal(lf->fuzz_time_ms, 60000);
    assert_int_equal(lf->fail_on, CFO_FAIL_ON_ALL);
    assert_int_equal(lf->reproduce_runs, 3);
    assert_int_equal(lf->sync_interval_ms, 30000);
    assert_int_equal(lf->triage_time_ms, 60000);
    assert_int_equal(lf->max_crashes, 16);
    assert_string_equal(lf->seeds, "");
    assert_int_equal(lf->engine_args.n, 0);
    assert_int_equal(af->persistent_record, 0);
    /* The corpus lives beside the dataset, whichever order the sections
     * come in. */
    assert_string_equal(lf->corpus, "gs://bkt/infra");
    assert_string_equal(af->corpus, "gs://bkt/infra");
    cfo_config_destroy(&cfg);

    cfg = parse_ok("[fuzzer \"LF\"]\nkind = libfuzzer\n");
    assert_string_equal(cfo_config_find(cfg, "LF")->corpus, "file://.cfo");
    cfo_config_destroy(&cfg);
    cfg = parse_ok("[fuzzer \"LF\"]\nkind = libfuzzer\n[cfo]\ndataset = /abs/d.json\n");
    assert_string_equal(cfo_config_find(cfg, "LF")->corpus, "/abs");
    cfo_config_destroy(&cfg);
}

static void test_every_engine_key(void **state)
{
    (void)state;
    cfo_config *cfg = parse_ok("[fuzzer \"AF\"]\nkind = afl\n"
                               "build = make fuzz\n"
                               "targets_dir = build/afl\n"
                               "cmplog_dir = build/cmplog\n"
                               "input_timeout = 250ms\n"
                               "input_memory_limit = 512M\n"
                               "fuzz_time = 5m\n"
                               "corpus = gs://b/corpora\n"
                               "fail_on = crash oom\n"
                               "reproduce_runs = 0\n"
                               "sync_interval = 10s\n"
                               "seeds = tests/seeds more/seeds\n"
                               "triage_time = 2m\n"
                               "max_crashes = 5\n"
                               "engine_args = -x dict -p explore\n"
                               "persistent_record = 100\n");
    const cfo_fuzzer *f = cfo_config_find(cfg, "AF");
    assert_string_equal(f->build, "make fuzz");
    assert_string_equal(f->targets_dir, "build/afl");
    assert_string_equal(f->cmplog_dir, "build/cmplog");
    assert_int_equal(f->input_timeout_ms, 250);
    assert_int_equal(f->input_memory_kb, 512 * 1024);
    assert_int_equal(f->fuzz_time_ms, 300000);
    assert_string_equal(f->corpus, "gs://b/corpora");
    assert_int_equal(f->fail_on, CFO_FAIL_ON_CRASH | CFO_FAIL_ON_OOM);
    assert_int_equal(f->reproduce_runs, 0);
    assert_int_equal(f->sync_interval_ms, 10000);
    assert_string_equal(f->seeds, "tests/seeds more/seeds");
    assert_int_equal(f->triage_time_ms, 120000);
    assert_int_equal(f->max_crashes, 5);
    assert_int_equal(f->engine_args.n, 4);
    assert_string_equal(f->engine_args.v[3], "explore");
    assert_int_equal(f->persistent_record, 100);
    cfo_config_destroy(&cfg);

    cfg = parse_ok("[fuzzer \"LF\"]\nkind = libfuzzer\nfail_on = none\nbuild =\n");
    assert_int_equal(cfo_config_find(cfg, "LF")->fail_on, 0);
    assert_string_equal(cfo_config_find(cfg, "LF")->build, "");
    cfo_config_destroy(&cfg);
}

typedef struct bad_case {
    const char *text;
    const char *msg;
} bad_case;

static const bad_case bad_cases[] = {
    {"[fuzzer \"L\"]\nkind = libfuzzer\ninput_timeout = soon\n",
     "cfo.ini:3: invalid duration 'soon' for 'input_timeout' (expected e.g. 90s, 30m, 1h, "
     "1h30m)"},
    {"[fuzzer \"L\"]\nkind = libfuzzer\nfail_on = crash segv\n",
     "cfo.ini:3: invalid finding kind 'segv' for 'fail_on' (expected crash, timeout, oom, leak, "
     "or none)"},
    {"[fuzzer \"L\"]\nkind = libfuzzer\nfail_on = none crash\n",
     "cfo.ini:3: invalid 'fail_on' (expected finding kinds among crash, timeout, oom, leak, or "
     "none alone)"},
    {"[fuzzer \"L\"]\nkind = libfuzzer\nfail_on =\n",
     "cfo.ini:3: invalid 'fail_on' (expected finding kinds among crash, timeout, oom, leak, or "
     "none alone)"},
    {"[fuzzer \"L\"]\nkind = libfuzzer\ntargets_dir = ../out\n",
     "cfo.ini:3: invalid path '../out' for 'targets_dir' (expected a relative path inside the "
     "repository)"},
    {"[fuzzer \"L\"]\nkind = libfuzzer\ncoverage_dir = ../out\n",
     "cfo.ini:3: invalid path '../out' for 'coverage_dir' (expected a relative path inside the "
     "repository)"},
    {"[fuzzer \"L\"]\nkind = libfuzzer\ncoverage_drop = 0\n",
     "cfo.ini:3: invalid share '0' for 'coverage_drop' (expected 1% to 100%, e.g. 40%)"},
    {"[fuzzer \"C\"]\nkind = canary\ncoverage_dir = out/c\n",
     "cfo.ini:3: key 'coverage_dir' does not apply to [fuzzer \"C\"] of kind canary (its keys: "
     "kind, branches, needs_working_dir, needs_seed, skip_passed, critical, merge, task_timeout, "
     "memory_limit, budget_share, env)"},
    {"[fuzzer \"L\"]\nkind = libfuzzer\ntargets_dir =\n",
     "cfo.ini:3: invalid path '' for 'targets_dir' (expected a relative path inside the "
     "repository)"},
    {"[fuzzer \"L\"]\nkind = libfuzzer\nseeds = fuzz/seeds /etc\n",
     "cfo.ini:3: invalid path '/etc' for 'seeds' (expected relative paths inside the "
     "repository)"},
    {"[fuzzer \"L\"]\nkind = libfuzzer\ncorpus =\n",
     "cfo.ini:3: empty value for 'corpus' (expected a URL: file://PATH, gs://BUCKET/PREFIX or a "
     "path)"},
    {"[fuzzer \"L\"]\nkind = libfuzzer\nreproduce_runs = 101\n",
     "cfo.ini:3: invalid number '101' for 'reproduce_runs' (expected 0..100)"},
    {"[fuzzer \"L\"]\nkind = libfuzzer\nmax_crashes = 0\n",
     "cfo.ini:3: invalid number '0' for 'max_crashes' (expected 1..1000)"},
    {"[fuzzer \"L\"]\nkind = libfuzzer\ninput_memory_limit = lots\n",
     "cfo.ini:3: invalid size 'lots' for 'input_memory_limit' (expected e.g. 512M, 2G, 64k: at "
     "least 1k, at most 1P)"},
    {"[fuzzer \"L\"]\nkind = libfuzzer\ncmplog_dir = x\n",
     "cfo.ini:3: key 'cmplog_dir' does not apply to [fuzzer \"L\"] of kind libfuzzer (its keys: "
     "kind, branches, needs_working_dir, needs_seed, skip_passed, critical, merge, task_timeout, "
     "memory_limit, budget_share, env, build, targets_dir, input_timeout, input_memory_limit, "
     "fuzz_time, corpus, fail_on, reproduce_runs, sync_interval, seeds, triage_time, "
     "max_crashes, engine_args, prune_factor, coverage_dir, coverage_build, coverage_drop)"},
    {"[fuzzer \"C\"]\nkind = canary\nfuzz_time = 1m\n",
     "cfo.ini:3: key 'fuzz_time' does not apply to [fuzzer \"C\"] of kind canary (its keys: "
     "kind, branches, needs_working_dir, needs_seed, skip_passed, critical, merge, task_timeout, "
     "memory_limit, budget_share, env)"},
    {"[fuzzer \"L\"]\nkind = libfuzzer\nfuzz_tme = 1m\n",
     "cfo.ini:3: unknown key 'fuzz_tme' in [fuzzer \"L\"]"},
};

static void test_bad_engine_keys(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        cfo_config *cfg = NULL;
        cfo_diag d = {{0}};
        cfo_err err = cfo_config_parse(bad_cases[i].text, "cfo.ini", &cfg, &d);
        if (err != CFO_EINVAL || strcmp(d.msg, bad_cases[i].msg) != 0)
            fail_msg("case %zu: got %d '%s', want '%s'", i, err, d.msg, bad_cases[i].msg);
        assert_null(cfg);
    }
}

static void test_fuzz_time_budget(void **state)
{
    (void)state;
    cfo_fuzzer f;
    cfo_fuzzer_init(&f, "L", CFO_KIND_LIBFUZZER);
    f.fuzz_time_ms = 60000;
    f.triage_time_ms = 20000;
    /* No task timeout: fuzz_time. */
    assert_int_equal(cfo_engine_fuzz_ms(&f, 0, 5000), 60000);
    /* A long task: fuzz_time. */
    assert_int_equal(cfo_engine_fuzz_ms(&f, 600000, 5000), 60000);
    /* A short one: what is left after the build and triage's share. */
    assert_int_equal(cfo_engine_fuzz_ms(&f, 50000, 5000), 25000);
    /* Triage takes at most half of a small timeout. */
    assert_int_equal(cfo_engine_fuzz_ms(&f, 30000, 0), 15000);
    /* Nothing left. */
    assert_int_equal(cfo_engine_fuzz_ms(&f, 30000, 29000), 0);
    cfo_fuzzer_fini(&f);
}

static void test_corpus_url(void **state)
{
    (void)state;
    cfo_fuzzer f;
    cfo_fuzzer_init(&f, "L", CFO_KIND_LIBFUZZER);
    setenv("CFO_REPO_ROOT", "/repo", 1);
    const struct {
        const char *in, *out;
    } cases[] = {
        {"gs://b/p", "gs://b/p"},
        {"file:///abs/c", "file:///abs/c"},
        {"/abs/c", "file:///abs/c"},
        {"file://.cfo", "file:///repo/.cfo"},
        {".cfo/corpus", "file:///repo/.cfo/corpus"},
        {"./x", "file:///repo/x"},
        {"file://.", "file:///repo"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        free(f.corpus);
        f.corpus = cfo_xstrdup(cases[i].in);
        char *url = cfo_engine_corpus_url(&f);
        assert_string_equal(url, cases[i].out);
        free(url);
    }
    unsetenv("CFO_REPO_ROOT");
    cfo_fuzzer_fini(&f);
}

static void test_task_timeout_env(void **state)
{
    (void)state;
    setenv("CFO_TASK_TIMEOUT_MS", "90000", 1);
    assert_int_equal(cfo_engine_task_timeout_ms(), 90000);
    setenv("CFO_TASK_TIMEOUT_MS", "soon", 1);
    assert_int_equal(cfo_engine_task_timeout_ms(), 0);
    unsetenv("CFO_TASK_TIMEOUT_MS");
    assert_int_equal(cfo_engine_task_timeout_ms(), 0);
}

static void test_task_cpus_env(void **state)
{
    (void)state;
    setenv("CFO_TASK_CPUS", "3", 1);
    assert_int_equal(cfo_engine_task_cpus(), 3);
    setenv("CFO_TASK_CPUS", "0", 1);
    assert_int_equal(cfo_engine_task_cpus(), 1);
    setenv("CFO_TASK_CPUS", "many", 1);
    assert_int_equal(cfo_engine_task_cpus(), 1);
    unsetenv("CFO_TASK_CPUS");
    assert_int_equal(cfo_engine_task_cpus(), 1);
}

static const char asan_report[] =
    "==1==ERROR: AddressSanitizer: ABRT on unknown address 0x1 (pc 0x1 bp 0x1 sp 0x1 T0)\n"
    "    #0 0x55 in parse_index /src/parser.c:122:13\n"
    "    #1 0x55 in recf_parse /src/parser.c:160:18\n"
    "    #2 0x55 in LLVMFuzzerTestOneInput /fuzz/fuzz_parser.c:12:11\n"
    "    #3 0x55 in main /afl/aflpp_driver.c:300:5\n"
    "SUMMARY: AddressSanitizer: ABRT /src/parser.c:122:13 in parse_index\n";

static void test_classify_hang_resigned(void **state)
{
    (void)state;
    cfo_crash_report a, b;
    cfo_diag d = {{0}};
    /* A signal report from a replay timeout(1) stopped is a hang. */
    assert_int_equal(
        cfo_engine_classify(asan_report, strlen(asan_report), CFO_ENGINE_TIMEOUT_EXIT, &a, &d),
        CFO_OK);
    assert_int_equal(a.kind, CFO_CRASH_TIMEOUT);
    assert_string_equal(a.type, "timeout");
    assert_int_equal(strncmp(a.signature, "timeout:timeout:parse_index|recf_parse", 38), 0);
    assert_int_equal(strlen(a.sig_hash), 16);
    /* The same report from a replay that was not stopped stays a crash. */
    assert_int_equal(cfo_engine_classify(asan_report, strlen(asan_report), 1, &b, &d), CFO_OK);
    assert_int_equal(b.kind, CFO_CRASH_CRASH);
    assert_string_not_equal(a.sig_hash, b.sig_hash);
    /* Re-signing is deterministic. */
    cfo_crash_report c = b;
    cfo_engine_resign(&c, CFO_CRASH_TIMEOUT, "timeout");
    assert_string_equal(c.signature, a.signature);
    assert_string_equal(c.sig_hash, a.sig_hash);
    /* A crash's report the timer caught while it was written stays a crash. */
    static const char cut[] =
        "==1==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x1 at pc 0x1 bp 0x1\n"
        "WRITE of size 1 at 0x1 thread T0\n";
    assert_int_equal(cfo_engine_classify(cut, strlen(cut), CFO_ENGINE_TIMEOUT_EXIT, &c, &d),
                     CFO_OK);
    assert_int_equal(c.kind, CFO_CRASH_CRASH);
    assert_true(cfo_engine_cut_short(&c));
    assert_false(cfo_engine_cut_short(&b));
    /* No report and no timeout: nothing found. */
    assert_int_equal(cfo_engine_classify("all good\n", 9, 0, &c, &d), CFO_ENOTFOUND);
}

static void test_findings_json_capped(void **state)
{
    (void)state;
    enum { N = 40 };
    cfo_engine_finding v[N];
    memset(v, 0, sizeof v);
    char sig[400];
    memset(sig, 'f', sizeof sig - 1);
    sig[sizeof sig - 1] = '\0';
    for (int i = 0; i < N; i++) {
        v[i].signature = sig;
        v[i].kind = CFO_CRASH_CRASH;
        v[i].is_new = i % 2 == 0;
        v[i].repro = "3/3";
        v[i].bundle = "gs://b/crashes/F/t/0123456789abcdef.tar.gz";
    }
    /* a bundle replayed before fuzzing that no longer reproduces */
    v[1].replayed = true;
    v[1].reproduced = false;
    v[1].location = "src/p.c:3";
    cfo_buf out;
    cfo_buf_init(&out);
    size_t n = cfo_engine_findings_json(v, N, &out);
    assert_true(n > 0 && n < N);
    assert_true(out.len <= CFO_ENGINE_FINDINGS_CAP);
    char err[128];
    yajl_val root = yajl_tree_parse(out.data, err, sizeof err);
    assert_non_null(root);
    assert_true(YAJL_IS_ARRAY(root));
    assert_int_equal(root->u.array.len, n);
    const char *new_path[] = {"new", NULL};
    const char *repro_path[] = {"repro", NULL};
    assert_true(YAJL_IS_TRUE(yajl_tree_get(root->u.array.values[0], new_path, yajl_t_any)));
    assert_string_equal(
        YAJL_GET_STRING(yajl_tree_get(root->u.array.values[0], repro_path, yajl_t_string)), "3/3");
    const char *replay_path[] = {"replay", NULL};
    const char *reproduced_path[] = {"reproduced", NULL};
    const char *location_path[] = {"location", NULL};
    assert_null(yajl_tree_get(root->u.array.values[0], replay_path, yajl_t_any));
    assert_true(YAJL_IS_TRUE(yajl_tree_get(root->u.array.values[1], replay_path, yajl_t_any)));
    assert_true(YAJL_IS_FALSE(yajl_tree_get(root->u.array.values[1], reproduced_path, yajl_t_any)));
    assert_string_equal(
        YAJL_GET_STRING(yajl_tree_get(root->u.array.values[1], location_path, yajl_t_string)),
        "src/p.c:3");
    yajl_tree_free(root);
    /* A short list is whole. */
    assert_int_equal(cfo_engine_findings_json(v, 2, &out), 2);
    /* None: empty text. */
    assert_int_equal(cfo_engine_findings_json(v, 0, &out), 0);
    assert_int_equal(out.len, 0);
    cfo_buf_fini(&out);
}

/* ---- build once, discovery: in a scratch worktree ---- */

static char *scratch;
static char old_cwd[4096];

static int enter_scratch(void **state)
{
    (void)state;
    scratch = cfo_make_temp_dir("cfo-engine", NULL);
    if (scratch == NULL || getcwd(old_cwd, sizeof old_cwd) == NULL || chdir(scratch) != 0)
        return -1;
    return 0;
}

static int leave_scratch(void **state)
{
    (void)state;
    if (chdir(old_cwd) != 0)
        return -1;
    cfo_remove_tree(scratch, NULL);
    free(scratch);
    scratch = NULL;
    return 0;
}

static int count_lines(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return 0;
    int n = 0, c;
    while ((c = fgetc(fp)) != EOF)
        n += c == '\n';
    fclose(fp);
    return n;
}

typedef struct build_arg {
    const cfo_fuzzer *f;
    cfo_err err;
} build_arg;

static void *build_thread(void *p)
{
    build_arg *a = p;
    cfo_diag d = {{0}};
    a->err = cfo_engine_build(a->f, 60000, &d);
    return NULL;
}

static void test_build_once(void **state)
{
    (void)state;
    cfo_fuzzer f;
    cfo_fuzzer_init(&f, "L", CFO_KIND_LIBFUZZER);
    free(f.build);
    /* Slow enough that the second caller arrives while the first builds. */
    f.build = cfo_xstrdup("echo built >> builds.txt; sleep 1");
    build_arg a = {&f, CFO_EIO}, b = {&f, CFO_EIO};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, build_thread, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, build_thread, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.err, CFO_OK);
    assert_int_equal(b.err, CFO_OK);
    assert_int_equal(count_lines("builds.txt"), 1);
    /* A later task of the same commit skips it. */
    cfo_diag d = {{0}};
    assert_int_equal(cfo_engine_build(&f, 60000, &d), CFO_OK);
    assert_int_equal(count_lines("builds.txt"), 1);
    /* Another command is another build. */
    free(f.build);
    f.build = cfo_xstrdup("echo other >> builds.txt");
    assert_int_equal(cfo_engine_build(&f, 60000, &d), CFO_OK);
    assert_int_equal(count_lines("builds.txt"), 2);
    cfo_fuzzer_fini(&f);
}

static void test_build_failure_says_why(void **state)
{
    (void)state;
    cfo_fuzzer f;
    cfo_fuzzer_init(&f, "L", CFO_KIND_LIBFUZZER);
    free(f.build);
    f.build = cfo_xstrdup("echo compiling; echo 'parser.c:3: error: oops' >&2; exit 4");
    cfo_diag d = {{0}};
    assert_int_equal(cfo_engine_build(&f, 60000, &d), CFO_ECHILD);
    assert_non_null(strstr(d.msg, "exit status 4"));
    assert_non_null(strstr(d.msg, "parser.c:3: error: oops"));
    /* A failed build leaves no stamp: the next task tries again. */
    assert_int_equal(cfo_engine_build(&f, 60000, &d), CFO_ECHILD);
    cfo_fuzzer_fini(&f);
}

static void write_exe(const char *path, const char *text, int mode)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    chmod(path, (mode_t)mode);
}

static void test_discovery(void **state)
{
    (void)state;
    cfo_fuzzer lf, af;
    cfo_fuzzer_init(&lf, "L", CFO_KIND_LIBFUZZER);
    cfo_fuzzer_init(&af, "A", CFO_KIND_AFL);
    free(lf.build);
    free(af.build);
    /* The build makes the targets: discovery runs it first. */
    lf.build = cfo_xstrdup("mkdir -p out/libfuzzer out/afl");
    af.build = cfo_xstrdup("");
    cfo_diag d = {{0}};
    cfo_strv t;
    cfo_strv_init(&t);
    assert_int_equal(cfo_engine_discover(&lf, cfo_engine_ops_for(lf.kind), &t, &d), CFO_OK);
    assert_int_equal(t.n, 0);
    write_exe("out/libfuzzer/zeta", "#!/bin/sh\n# LLVMFuzzerTestOneInput\n", 0755);
    write_exe("out/libfuzzer/alpha", "#!/bin/sh\n# LLVMFuzzerTestOneInput\n", 0755);
    write_exe("out/libfuzzer/plain", "#!/bin/sh\necho no entry point\n", 0755);
    write_exe("out/libfuzzer/notexec", "LLVMFuzzerTestOneInput\n", 0644);
    write_exe("out/libfuzzer/.hidden", "LLVMFuzzerTestOneInput\n", 0755);
    /* An AFL++ build holds the entry point too but is not libFuzzer's. */
    write_exe("out/libfuzzer/aflbuilt", "LLVMFuzzerTestOneInput __afl_area_ptr\n", 0755);
    write_exe("out/afl/one", "LLVMFuzzerTestOneInput __AFL_SHM_ID\n", 0755);
    write_exe("out/afl/two", "__afl_area_ptr\n", 0755);
    write_exe("out/afl/none", "LLVMFuzzerTestOneInput\n", 0755);
    assert_int_equal(cfo_engine_discover(&lf, cfo_engine_ops_for(lf.kind), &t, &d), CFO_OK);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.v[0], "alpha");
    assert_string_equal(t.v[1], "zeta");
    cfo_strv_fini(&t);
    cfo_strv_init(&t);
    assert_int_equal(cfo_engine_discover(&af, cfo_engine_ops_for(af.kind), &t, &d), CFO_OK);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.v[0], "one");
    assert_string_equal(t.v[1], "two");
    cfo_strv_fini(&t);
    /* A targets_dir the build did not make is an error that names it. */
    cfo_strv_init(&t);
    free(af.targets_dir);
    af.targets_dir = cfo_xstrdup("missing/dir");
    assert_int_equal(cfo_engine_discover(&af, cfo_engine_ops_for(af.kind), &t, &d), CFO_ENOTFOUND);
    assert_non_null(strstr(d.msg, "missing/dir"));
    cfo_strv_fini(&t);
    cfo_fuzzer_fini(&lf);
    cfo_fuzzer_fini(&af);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_engine_key),
        cmocka_unit_test(test_bad_engine_keys),
        cmocka_unit_test(test_fuzz_time_budget),
        cmocka_unit_test(test_corpus_url),
        cmocka_unit_test(test_task_timeout_env),
        cmocka_unit_test(test_task_cpus_env),
        cmocka_unit_test(test_classify_hang_resigned),
        cmocka_unit_test(test_findings_json_capped),
        cmocka_unit_test_setup_teardown(test_build_once, enter_scratch, leave_scratch),
        cmocka_unit_test_setup_teardown(test_build_failure_says_why, enter_scratch, leave_scratch),
        cmocka_unit_test_setup_teardown(test_discovery, enter_scratch, leave_scratch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
