/* fz_libfuzzer.c -- the libfuzzer kind: fuzzes a binary built with
 * -fsanitize=fuzzer for the task's time, going on past its findings. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfo_engine.h"
#include "cfo_exec.h"
#include "cfo_log.h"

/* Output of one engine run kept to read its final statistics. */
#define LF_TAIL ((size_t)64 << 10)
/* Extra time the engine gets past -max_total_time to finish and report. */
#define LF_SLACK_MS 60000

static const char *const lf_markers[] = {"LLVMFuzzerTestOneInput", NULL};
static const char *const afl_markers[] = {"__AFL_SHM_ID", "__afl_area_ptr", NULL};

static bool lf_is_target(const char *path)
{
    /* AFL++ builds hold LLVMFuzzerTestOneInput too (libAFLDriver), but take
     * none of libFuzzer's flags. */
    return cfo_engine_file_contains(path, lf_markers) &&
           !cfo_engine_file_contains(path, afl_markers);
}

static char *relative_command(const char *target_path)
{
    return target_path[0] == '/' ? cfo_xstrdup(target_path) : cfo_xasprintf("./%s", target_path);
}

static void lf_limits(const cfo_fuzzer *f, cfo_strv *argv)
{
    char *a = cfo_xasprintf("-timeout=%lld", cfo_engine_ceil_div(f->input_timeout_ms, 1000));
    cfo_strv_push_owned(argv, a);
    a = cfo_xasprintf("-rss_limit_mb=%lld", cfo_engine_ceil_div(f->input_memory_kb, 1024));
    cfo_strv_push_owned(argv, a);
}

static void lf_replay_argv(const cfo_fuzzer *f, const char *target_path, const char *input,
                           cfo_strv *argv, cfo_strv *env)
{
    cfo_strv_pushl(env, "ASAN_OPTIONS=symbolize=1:detect_leaks=1:handle_abort=1",
                   "UBSAN_OPTIONS=print_stacktrace=1:symbolize=1:halt_on_error=1");
    cfo_strv_push_owned(argv, relative_command(target_path));
    lf_limits(f, argv);
    cfo_strv_push(argv, input);
}

static cfo_err lf_prepare(cfo_engine_run *r, cfo_diag *d)
{
    /* libFuzzer writes new inputs into its first corpus folder, named by
     * their SHA-1 as storage names them, and re-reads it (-reload) to pick
     * up what other runs found. */
    r->queue_dir = cfo_xstrdup(r->corpus_dir);
    r->incoming_dir = cfo_xstrdup(r->corpus_dir);
    r->artifact_dir = cfo_xasprintf("%s/artifacts", r->work);
    return cfo_mkdir_p(r->artifact_dir, d);
}

/* The executions libFuzzer reported at its end, or -1. In fork mode the
 * parent's status lines "#N: cov: ..." count every job's executions. */
static int64_t lf_execs(const char *out, bool fork_mode)
{
    const char *key = "stat::number_of_executed_units:";
    const char *p = NULL;
    for (const char *q = out; !fork_mode && (q = strstr(q, key)) != NULL; q++)
        p = q;
    if (p != NULL)
        return strtoll(p + strlen(key), NULL, 10);
    /* No final statistics (killed, fork mode): the last status line. */
    int64_t n = -1;
    for (const char *line = out; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (line[0] == '#' && line[1] >= '0' && line[1] <= '9')
            n = strtoll(line + 1, NULL, 10);
    return n;
}

/* The number after key in line (up to its end), or -1. */
static long long lf_field(const char *line, const char *end, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = line; p + klen < end; p++)
        if (memcmp(p, key, klen) == 0 && (p == line || p[-1] == ' '))
            return strtoll(p + klen, NULL, 10);
    return -1;
}

/* The last status line of libFuzzer's output ("#N DONE cov: C ft: F
 * corp: K/... exec/s: E", in fork mode "#N: cov: ..."), as the task's
 * statistics: the output's tail may end in a dictionary dump instead. */
static void lf_stats(const char *out, char *stats, size_t len)
{
    const char *best = NULL, *best_end = NULL;
    for (const char *line = out; line && *line;) {
        const char *end = strchr(line, '\n');
        if (end == NULL)
            end = line + strlen(line);
        if (line[0] == '#' && lf_field(line, end, "cov: ") >= 0)
            best = line, best_end = end;
        line = *end ? end + 1 : NULL;
    }
    if (best == NULL)
        return;
    long long cov = lf_field(best, best_end, "cov: "), ft = lf_field(best, best_end, "ft: ");
    long long corp = lf_field(best, best_end, "corp: ");
    long long eps = lf_field(best, best_end, "exec/s: ");
    snprintf(stats, len, "cov %lld, ft %lld, corpus %lld, %lld exec/s", cov, ft, corp, eps);
}

/* Artifacts are saved as <run>-<kind>-<sha1>: libFuzzer names an input by
 * its content, and a restarted run finding the same input again must still
 * count as a finding. */
static const char *lf_hint(const char *name)
{
    const char *dash = strchr(name, '-');
    if (dash == NULL || strspn(name, "0123456789") != (size_t)(dash - name))
        return NULL;
    name = dash + 1;
    static const char *const prefixes[] = {"crash-", "timeout-", "oom-", "leak-", NULL};
    static const char *const kinds[] = {"crash", "timeout", "oom", "leak"};
    for (int i = 0; prefixes[i]; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return kinds[i];
    return NULL;
}

/* Adds the artifacts saved since the last look; returns how many. */
static size_t lf_collect(cfo_engine_run *r)
{
    DIR *dh = opendir(r->artifact_dir);
    if (dh == NULL)
        return 0;
    cfo_strv names;
    cfo_strv_init(&names);
    struct dirent *e;
    while ((e = readdir(dh)) != NULL)
        if (lf_hint(e->d_name) != NULL)
            cfo_strv_push(&names, e->d_name);
    closedir(dh);
    size_t added = 0;
    for (size_t i = 0; i < names.n; i++) {
        char *p = cfo_xasprintf("%s/%s", r->artifact_dir, names.v[i]);
        if (!cfo_strv_contains(&r->artifacts, p)) {
            cfo_strv_push(&r->artifacts, p);
            cfo_strv_push(&r->artifact_hints, lf_hint(names.v[i]));
            added++;
        }
        free(p);
    }
    cfo_strv_fini(&names);
    return added;
}

/* Whether some kind of finding has been saved twice: the same shallow bug
 * (a hang near the corpus, a crash at once) found again on restart, which
 * would keep every restart short and starve the search for others. */
static bool lf_kind_repeats(const cfo_engine_run *r)
{
    for (size_t i = 0; i < r->artifact_hints.n; i++)
        for (size_t j = i + 1; j < r->artifact_hints.n; j++)
            if (strcmp(r->artifact_hints.v[i], r->artifact_hints.v[j]) == 0)
                return true;
    return false;
}

static cfo_err lf_fuzz(cfo_engine_run *r, cfo_diag *d)
{
    const cfo_fuzzer *f = r->f;
    int64_t start = cfo_now_ms();
    int runs = 0;
    /* libFuzzer stops at each finding. It is restarted for the rest of the
     * time, which keeps its full speed and its comparison tracing (the way
     * past multi-byte compares) and soon finds a second bug when there is
     * one; once a kind of finding comes back (one bug found over and over)
     * or max_crashes inputs are saved, the rest of the time runs in fork
     * mode, which records findings and carries on instead of restarting. */
    bool fork_mode = false;
    for (;;) {
        int64_t left = r->fuzz_ms - (cfo_now_ms() - start);
        if (left < 1000 || atomic_load(r->cancel))
            break;
        fork_mode = r->artifacts.n >= (size_t)f->max_crashes || lf_kind_repeats(r);
        cfo_strv argv;
        cfo_strv_init(&argv);
        cfo_strv_push(&argv, r->target_abs);
        cfo_strv_push_owned(&argv, cfo_xasprintf("-max_total_time=%lld", (long long)(left / 1000)));
        lf_limits(f, &argv);
        cfo_strv_push_owned(&argv, cfo_xasprintf("-artifact_prefix=%s/%d-", r->artifact_dir, runs));
        cfo_strv_pushl(&argv, "-print_final_stats=1", "-reload=1");
        char *dict = cfo_engine_dictionary(f, r->target);
        if (dict != NULL)
            cfo_strv_push_owned(&argv, cfo_xasprintf("-dict=%s", dict));
        free(dict);
        if (fork_mode) {
            cfo_strv_pushl(&argv, "-fork=1", "-ignore_crashes=1", "-ignore_timeouts=1",
                           "-ignore_ooms=1");
        }
        for (size_t i = 0; i < f->engine_args.n; i++)
            cfo_strv_push(&argv, f->engine_args.v[i]);
        cfo_strv_push(&argv, r->corpus_dir);
        cfo_exec_result res;
        cfo_err err = cfo_engine_fuzz_session(&argv, NULL, left + f->input_timeout_ms + LF_SLACK_MS,
                                              LF_TAIL, r->cancel, &res, d);
        cfo_strv_fini(&argv);
        if (err != CFO_OK)
            return err;
        runs++;
        const char *out = res.tail ? res.tail : "";
        lf_stats(out, r->stats, sizeof r->stats);
        if (r->stats[0] != '\0')
            printf("libfuzzer: final statistics: %s\n", r->stats);
        int64_t n = lf_execs(out, fork_mode);
        if (n > 0)
            r->execs += n;
        size_t found = lf_collect(r);
        /* Fork mode ends with its last job's status, whatever it was. */
        bool done = res.end == CFO_EXEC_EXITED && (res.exit_code == 0 || fork_mode);
        bool stopped = res.end == CFO_EXEC_CANCELLED;
        if (res.end == CFO_EXEC_SPAWN_FAILED)
            err = cfo_diag_set(d, CFO_ECHILD, "cannot run %s: %s", r->target_path, res.error);
        else if (!done && !stopped && found == 0)
            err = cfo_diag_set(d, CFO_ECHILD,
                               "libFuzzer run %d of %s ended (%s %d) without saving a finding: "
                               "%.400s",
                               runs, r->target_path,
                               res.end == CFO_EXEC_EXITED ? "exit status" : "signal",
                               res.end == CFO_EXEC_EXITED ? res.exit_code : res.term_signal,
                               cfo_engine_last(out, 400));
        cfo_exec_result_fini(&res);
        if (err != CFO_OK)
            return err;
        if (done || stopped)
            break;
        printf("libfuzzer: %zu crash input(s) saved; fuzzing on\n", found);
    }
    return CFO_OK;
}

static cfo_err lf_minimize(cfo_engine_run *r, const char *input, const char *out,
                           int64_t timeout_ms, cfo_diag *d)
{
    cfo_strv argv, env;
    cfo_strv_init(&argv);
    cfo_strv_init(&env);
    lf_replay_argv(r->f, r->target_path, input, &argv, &env);
    /* The input goes last; the flags before it. */
    char *in = argv.v[argv.n - 1];
    argv.v[--argv.n] = NULL;
    cfo_strv_pushl(&argv, "-minimize_crash=1", "-runs=100000");
    cfo_strv_push_owned(&argv,
                        cfo_xasprintf("-max_total_time=%lld",
                                      (long long)(timeout_ms / 1000 > 1 ? timeout_ms / 1000 : 1)));
    cfo_strv_push_owned(&argv, cfo_xasprintf("-exact_artifact_path=%s", out));
    cfo_strv_push_owned(&argv, in);
    int code = 0;
    cfo_err err = cfo_engine_exec(argv.v, NULL, env.v, timeout_ms + LF_SLACK_MS, 4096, NULL, NULL,
                                  &code, NULL, d);
    cfo_strv_fini(&argv);
    cfo_strv_fini(&env);
    struct stat st;
    if (err == CFO_OK && stat(out, &st) != 0)
        err =
            cfo_diag_set(d, CFO_ECHILD, "libFuzzer -minimize_crash wrote nothing (exit %d)", code);
    return err;
}

static cfo_err lf_merge(const cfo_fuzzer *f, const char *target_path, const char *from,
                        const char *to, int64_t timeout_ms, cfo_diag *d)
{
    cfo_strv argv, env;
    cfo_strv_init(&argv);
    cfo_strv_init(&env);
    lf_replay_argv(f, target_path, "-merge=1", &argv, &env);
    cfo_strv_pushl(&argv, to, from);
    cfo_err err = cfo_engine_run_tool(&argv, &env, timeout_ms, "libFuzzer -merge=1", INT_MAX, d);
    cfo_strv_fini(&argv);
    cfo_strv_fini(&env);
    return err;
}

static const cfo_engine_ops lf_ops = {
    .engine = "libfuzzer",
    .is_target = lf_is_target,
    .prepare = lf_prepare,
    .fuzz = lf_fuzz,
    .replay_argv = lf_replay_argv,
    .minimize = lf_minimize,
    .merge = lf_merge,
};

const cfo_fuzz_impl cfo_fuzz_impl_libfuzzer = CFO_ENGINE_FUZZ_IMPL(CFO_KIND_LIBFUZZER, lf_ops);
