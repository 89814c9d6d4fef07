/* fz_afl.c -- the afl kind: fuzzes an AFL++-instrumented binary with
 * afl-fuzz for the task's time, sharing its queue through storage. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfo_corpus.h"
#include "cfo_engine.h"
#include "cfo_exec.h"
#include "cfo_log.h"

#define AFL_TAIL ((size_t)64 << 10)
/* Extra time afl-fuzz gets past -V to finish. */
#define AFL_SLACK_MS 60000
/* The instance name of afl-fuzz -M; its files are <out>/<name>/. */
#define AFL_MAIN "main"
/* Bytes of fuzzer_stats read. */
#define AFL_STATS_MAX 65536

static const char *const afl_markers[] = {"__AFL_SHM_ID", "__afl_area_ptr", NULL};
static const char *const asan_markers[] = {"__asan_init", NULL};

static bool afl_is_target(const char *path)
{
    return cfo_engine_file_contains(path, afl_markers);
}

static bool uses_asan(const char *path)
{
    return cfo_engine_file_contains(path, asan_markers);
}

/* The sanitizers' settings afl-fuzz insists on (abort_on_error, no
 * symbolizing) and the per-input memory limit, which for an ASan target
 * ASan enforces: afl-fuzz's -m limits address space, which ASan reserves in
 * terabytes. */
static void afl_env(const cfo_fuzzer *f, const char *target, cfo_strv *env)
{
    long long mb = cfo_engine_ceil_div(f->input_memory_kb, 1024);
    /* AFL_TRY_AFFINITY: bound to a free core afl-fuzz ran twice as fast
     * here as unbound (AFL_NO_AFFINITY), which cost CFO half the speed of
     * afl-fuzz run directly (bench/); when several engines share a machine
     * and no core is free it runs unbound instead of failing. */
    cfo_strv_pushl(env, "AFL_NO_UI=1", "AFL_SKIP_CPUFREQ=1",
                   "AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1", "AFL_TRY_AFFINITY=1",
                   "AFL_SKIP_CRASHES=1");
    cfo_strv_push_owned(env, cfo_xasprintf("ASAN_OPTIONS=abort_on_error=1:symbolize=0:"
                                           "detect_leaks=0:hard_rss_limit_mb=%lld:"
                                           "malloc_limit_mb=%lld",
                                           mb, mb));
    cfo_strv_push(env, "UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:symbolize=0");
    (void)target;
}

static void afl_mem_flag(const cfo_fuzzer *f, const char *target, cfo_strv *argv)
{
    cfo_strv_push(argv, "-m");
    if (uses_asan(target))
        cfo_strv_push(argv, "none");
    else
        cfo_strv_push_owned(argv,
                            cfo_xasprintf("%lld", cfo_engine_ceil_div(f->input_memory_kb, 1024)));
}

static void afl_replay_argv(const cfo_fuzzer *f, const char *target_path, const char *input,
                            cfo_strv *argv, cfo_strv *env)
{
    long long mb = cfo_engine_ceil_div(f->input_memory_kb, 1024);
    cfo_strv_push_owned(env, cfo_xasprintf("ASAN_OPTIONS=symbolize=1:detect_leaks=1:"
                                           "handle_abort=1:abort_on_error=0:"
                                           "hard_rss_limit_mb=%lld:malloc_limit_mb=%lld",
                                           mb, mb));
    cfo_strv_push(env, "UBSAN_OPTIONS=print_stacktrace=1:symbolize=1:halt_on_error=1");
    /* A hang is stopped with SIGABRT, which ASan (handle_abort) answers with
     * the stack it hung in; timeout(1) then exits 124. */
    cfo_strv_pushl(argv, "timeout", "-k", "5", "-s", "ABRT");
    cfo_strv_push_owned(argv, cfo_xasprintf("%.3f", (double)f->input_timeout_ms / 1000.0));
    cfo_strv_push_owned(argv, target_path[0] == '/' ? cfo_xstrdup(target_path)
                                                    : cfo_xasprintf("./%s", target_path));
    cfo_strv_push(argv, input);
}

static cfo_err afl_prepare(cfo_engine_run *r, cfo_diag *d)
{
    r->queue_dir = cfo_xasprintf("%s/afl/%s/queue", r->work, AFL_MAIN);
    r->artifact_dir = cfo_xasprintf("%s/afl/%s", r->work, AFL_MAIN);
    /* afl-fuzz -F imports what other runs found from here. */
    r->incoming_dir = cfo_xasprintf("%s/foreign", r->work);
    return cfo_mkdir_p(r->incoming_dir, d);
}

/* The value of "key : value" in fuzzer_stats, from its start; NULL if absent. */
static const char *afl_stat(const char *text, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, klen) != 0 || (p[klen] != ' ' && p[klen] != ':'))
            continue;
        const char *v = strchr(p, ':');
        return v ? v + 1 + strspn(v + 1, " ") : NULL;
    }
    return NULL;
}

/* execs_done from fuzzer_stats (-1 if absent), and its coverage, corpus and
 * speed as the task's statistics. */
static int64_t afl_execs(const char *stats_path, char *stats, size_t len)
{
    cfo_buf b;
    cfo_buf_init(&b);
    int64_t n = -1;
    if (cfo_read_file(stats_path, AFL_STATS_MAX, &b, NULL) == CFO_OK) {
        const char *v = afl_stat(b.data, "execs_done");
        if (v != NULL)
            n = strtoll(v, NULL, 10);
        const char *edges = afl_stat(b.data, "edges_found");
        const char *cvg = afl_stat(b.data, "bitmap_cvg");
        const char *corp = afl_stat(b.data, "corpus_count");
        const char *eps = afl_stat(b.data, "execs_per_sec");
        if (edges != NULL && corp != NULL && eps != NULL)
            snprintf(stats, len, "edges %lld (%.*s of the map), corpus %lld, %.0f exec/s",
                     strtoll(edges, NULL, 10), cvg ? (int)strcspn(cvg, "\n") : 1, cvg ? cvg : "?",
                     strtoll(corp, NULL, 10), strtod(eps, NULL));
    }
    cfo_buf_fini(&b);
    return n;
}

static void afl_collect(cfo_engine_run *r, const char *sub, const char *hint)
{
    char *dir = cfo_xasprintf("%s/%s", r->artifact_dir, sub);
    DIR *dh = opendir(dir);
    cfo_strv names;
    cfo_strv_init(&names);
    struct dirent *e;
    while (dh != NULL && (e = readdir(dh)) != NULL)
        if (strncmp(e->d_name, "id:", 3) == 0)
            cfo_strv_push(&names, e->d_name);
    if (dh != NULL)
        closedir(dh);
    for (size_t i = 0; i < names.n; i++) {
        char *p = cfo_xasprintf("%s/%s", dir, names.v[i]);
        cfo_strv_push(&r->artifacts, p);
        cfo_strv_push(&r->artifact_hints, hint);
        free(p);
    }
    cfo_strv_fini(&names);
    free(dir);
}

static char *cmplog_binary(const cfo_fuzzer *f, const char *target)
{
    char *dir =
        f->cmplog_dir[0] ? cfo_xstrdup(f->cmplog_dir) : cfo_xasprintf("%s-cmplog", f->targets_dir);
    char *p = cfo_xasprintf("%s/%s", dir, target);
    free(dir);
    char abs[4096];
    if (access(p, X_OK) == 0 && realpath(p, abs) != NULL) {
        free(p);
        return cfo_xstrdup(abs);
    }
    free(p);
    return NULL;
}

static cfo_err afl_fuzz(cfo_engine_run *r, cfo_diag *d)
{
    const cfo_fuzzer *f = r->f;
    /* afl-fuzz refuses an empty input folder. */
    DIR *dh = opendir(r->corpus_dir);
    bool empty = true;
    struct dirent *e;
    while (dh != NULL && empty && (e = readdir(dh)) != NULL)
        empty = e->d_name[0] == '.';
    if (dh != NULL)
        closedir(dh);
    if (empty) {
        char name[41];
        cfo_content_name("\n", 1, name);
        char *p = cfo_xasprintf("%s/%s", r->corpus_dir, name);
        FILE *fp = fopen(p, "wb");
        if (fp != NULL) {
            fputc('\n', fp);
            fclose(fp);
        }
        free(p);
    }
    cfo_strv argv, env;
    cfo_strv_init(&argv);
    cfo_strv_init(&env);
    afl_env(f, r->target_abs, &env);
    if (f->persistent_record > 0)
        cfo_strv_push_owned(&env, cfo_xasprintf("AFL_PERSISTENT_RECORD=%d", f->persistent_record));
    char *out = cfo_xasprintf("%s/afl", r->work);
    cfo_strv_pushl(&argv, "afl-fuzz", "-M", AFL_MAIN, "-i", r->corpus_dir, "-o", out, "-F",
                   r->incoming_dir, "-V");
    cfo_strv_push_owned(&argv, cfo_xasprintf("%lld", cfo_engine_ceil_div(r->fuzz_ms, 1000)));
    cfo_strv_push(&argv, "-t");
    cfo_strv_push_owned(&argv, cfo_xasprintf("%lld", (long long)f->input_timeout_ms));
    afl_mem_flag(f, r->target_abs, &argv);
    char *dict = cfo_engine_dictionary(f, r->target);
    if (dict != NULL) {
        cfo_strv_pushl(&argv, "-x", dict);
        free(dict);
    }
    char *cmplog = cmplog_binary(f, r->target);
    if (cmplog != NULL) {
        cfo_strv_pushl(&argv, "-c", cmplog);
        free(cmplog);
    }
    for (size_t i = 0; i < f->engine_args.n; i++)
        cfo_strv_push(&argv, f->engine_args.v[i]);
    cfo_strv_pushl(&argv, "--", r->target_abs);
    cfo_exec_result res;
    cfo_err err =
        cfo_engine_fuzz_session(&argv, env.v, r->fuzz_ms + f->input_timeout_ms + AFL_SLACK_MS,
                                AFL_TAIL, r->cancel, &res, d);
    cfo_strv_fini(&argv);
    cfo_strv_fini(&env);
    if (err != CFO_OK) {
        free(out);
        return err;
    }
    char *stats = cfo_xasprintf("%s/%s/fuzzer_stats", out, AFL_MAIN);
    int64_t n = afl_execs(stats, r->stats, sizeof r->stats);
    if (r->stats[0] != '\0')
        printf("afl: final statistics: %s\n", r->stats);
    free(stats);
    free(out);
    if (n > 0)
        r->execs += n;
    afl_collect(r, "crashes", "crash");
    afl_collect(r, "hangs", "timeout");
    if (res.end == CFO_EXEC_SPAWN_FAILED)
        err = cfo_diag_set(d, CFO_ECHILD, "cannot run afl-fuzz: %s", res.error);
    else if (res.end == CFO_EXEC_EXITED && res.exit_code != 0)
        err = cfo_diag_set(d, CFO_ECHILD, "afl-fuzz exited with status %d: %.400s", res.exit_code,
                           cfo_engine_last(res.tail, 400));
    else if (res.end == CFO_EXEC_SIGNALED || res.end == CFO_EXEC_TIMEOUT)
        err = cfo_diag_set(d, CFO_ECHILD, "afl-fuzz did not end by itself (%s)",
                           res.end == CFO_EXEC_TIMEOUT ? "stopped at its time limit" : "signal");
    cfo_exec_result_fini(&res);
    return err;
}

/* afl-tmin or afl-cmin: TOOL -i IN -o OUT -t MS [-m MB] -- TARGET; quote:
 * at most how much of its output a failure quotes. */
static cfo_err afl_tool(const char *tool, const cfo_fuzzer *f, const char *target_abs,
                        const char *in, const char *out, int64_t timeout_ms, int quote, cfo_diag *d)
{
    cfo_strv argv, env;
    cfo_strv_init(&argv);
    cfo_strv_init(&env);
    afl_env(f, target_abs, &env);
    /* afl-cmin refuses /tmp for fear of predictable names there; ours are
     * private folders made by mkdtemp. */
    if (strcmp(tool, "afl-cmin") == 0)
        cfo_strv_push(&env, "AFL_ALLOW_TMP=1");
    cfo_strv_pushl(&argv, tool, "-i", in, "-o", out, "-t");
    cfo_strv_push_owned(&argv, cfo_xasprintf("%lld", (long long)f->input_timeout_ms));
    afl_mem_flag(f, target_abs, &argv);
    cfo_strv_pushl(&argv, "--", target_abs);
    cfo_err err = cfo_engine_run_tool(&argv, &env, timeout_ms, tool, quote, d);
    cfo_strv_fini(&argv);
    cfo_strv_fini(&env);
    return err;
}

static cfo_err afl_minimize(cfo_engine_run *r, const char *input, const char *out,
                            int64_t timeout_ms, cfo_diag *d)
{
    return afl_tool("afl-tmin", r->f, r->target_abs, input, out, timeout_ms, 300, d);
}

static cfo_err afl_merge(const cfo_fuzzer *f, const char *target_path, const char *from,
                         const char *to, int64_t timeout_ms, cfo_diag *d)
{
    char abs[4096];
    if (realpath(target_path, abs) == NULL)
        return cfo_diag_set(d, CFO_ENOTFOUND, "no target %s", target_path);
    return afl_tool("afl-cmin", f, abs, from, to, timeout_ms, 400, d);
}

static const cfo_engine_ops afl_ops = {
    .engine = "afl",
    .is_target = afl_is_target,
    .prepare = afl_prepare,
    .fuzz = afl_fuzz,
    .replay_argv = afl_replay_argv,
    .minimize = afl_minimize,
    .merge = afl_merge,
};

const cfo_fuzz_impl cfo_fuzz_impl_afl = CFO_ENGINE_FUZZ_IMPL(CFO_KIND_AFL, afl_ops);
