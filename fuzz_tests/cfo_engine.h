/* cfo_engine.h -- what the coverage-guided engine drivers (fz_libfuzzer.c,
 * fz_afl.c) share: the build once per commit, discovery, corpus sharing,
 * crash triage and crash bundles. */
#ifndef CFO_ENGINE_H
#define CFO_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>

#include "cfo_blobdir.h"
#include "cfo_config.h"
#include "cfo_error.h"
#include "cfo_exec.h"
#include "cfo_fuzz_impl.h"
#include "cfo_fuzzer.h"
#include "cfo_triage.h"
#include "cfo_util.h"

/* Where the build step keeps its lock and stamps, inside the worktree. */
#define CFO_ENGINE_STATE_DIR ".cfo"
/* Exit status reproduce.sh uses when it cannot replay at all (no target,
 * build failed): not the target's own verdict. */
#define CFO_ENGINE_REPRO_SETUP_FAILED 125
/* Exit status of coreutils timeout(1) when the command ran out of time. */
#define CFO_ENGINE_TIMEOUT_EXIT 124
/* Bytes of a replay's output kept for triage and the bundle's report. */
#define CFO_ENGINE_REPORT_CAP ((size_t)256 << 10)
/* Bytes of the findings list handed to the record (cfo_record.h's cap, less
 * room for the list's own brackets). */
#define CFO_ENGINE_FINDINGS_CAP 8000

/* One task of an engine, shared by the generic run and the driver. */
typedef struct cfo_engine_run {
    const cfo_fuzzer *f;
    const char *target;      /* the target's name */
    char *target_path;       /* <targets_dir>/<target>, relative to the worktree */
    char *target_abs;        /* the same, absolute */
    char *work;              /* the task's scratch folder (absolute, removed at the end) */
    char *corpus_dir;        /* inputs the engine starts from (pulled corpus and seeds) */
    char *queue_dir;         /* where the engine writes new inputs (pushed); may be corpus_dir */
    char *incoming_dir;      /* where inputs pulled during the run are linked for the engine */
    char *artifact_dir;      /* where the engine saves crash inputs */
    int64_t fuzz_ms;         /* time the engine is given */
    int64_t deadline_ms;     /* cfo_now_ms() by which the task must have ended; 0: none */
    int64_t execs;           /* executions, summed over the engine's runs */
    cfo_strv artifacts;      /* crash inputs to triage, in the order found */
    cfo_strv artifact_hints; /* per artifact: "crash", "timeout", "oom", "leak" or "" */
    /* The engine's last statistics ("cov 45, ft 120, corpus 30, 1234 exec/s"),
     * for the task's summary; "" when it reported none. */
    char stats[160];
    const atomic_bool *cancel;
} cfo_engine_run;

typedef struct cfo_engine_ops {
    const char *engine; /* "libfuzzer", "afl" */
    /* Whether the executable at path is a target of this engine. */
    bool (*is_target)(const char *path);
    /* Prepares r's folders (queue_dir, incoming_dir, artifact_dir). */
    cfo_err (*prepare)(cfo_engine_run *r, cfo_diag *d);
    /* Fuzzes for at most r->fuzz_ms; adds to r->execs and r->artifacts. */
    cfo_err (*fuzz)(cfo_engine_run *r, cfo_diag *d);
    /* Appends to argv the command that replays input once against the
     * target at target_path (relative to the worktree) and prints the
     * sanitizer report, and to env its "NAME=VALUE" settings. A hang must
     * end with a stack: the command exits CFO_ENGINE_TIMEOUT_EXIT or reports
     * a timeout itself. */
    void (*replay_argv)(const cfo_fuzzer *f, const char *target_path, const char *input,
                        cfo_strv *argv, cfo_strv *env);
    /* Writes a smaller input with the same crash to out. */
    cfo_err (*minimize)(cfo_engine_run *r, const char *input, const char *out, int64_t timeout_ms,
                        cfo_diag *d);
    /* Copies into to a subset of the inputs of from with the same coverage
     * (-merge=1, afl-cmin). */
    cfo_err (*merge)(const cfo_fuzzer *f, const char *target_path, const char *from, const char *to,
                     int64_t timeout_ms, cfo_diag *d);
} cfo_engine_ops;

/* The ops of an engine kind (its cfo_fuzz_impl's); NULL for the other
 * kinds and for an engine not compiled in. */
const cfo_engine_ops *cfo_engine_ops_for(cfo_kind kind);

/* cfo-fuzz's implementation of the engine kind k (a fz_<kind>.c file's
 * cfo_fuzz_impl): the engine driver finds and runs its targets through ops.
 *   const cfo_fuzz_impl cfo_fuzz_impl_afl = CFO_ENGINE_FUZZ_IMPL(CFO_KIND_AFL, afl_ops); */
#define CFO_ENGINE_FUZZ_IMPL(k, ops)                                                               \
    {                                                                                              \
        .kind = (k), .discover = cfo_engine_fuzz_discover, .run = cfo_engine_fuzz_run,             \
        .engine = &(ops),                                                                          \
    }

/* What an engine task needs before it starts. Sanitizer reports are signed
 * by their stack frames, which only a symbolizer names: without one every
 * crash of a kind would look alike. Finds llvm-symbolizer
 * ($ASAN_SYMBOLIZER_PATH, else llvm-symbolizer or a versioned
 * llvm-symbolizer-NN on PATH) and exports its path for every sanitizer of
 * the processes started from here on; CFO_ENOTFOUND, saying how to get one,
 * when there is none. */
cfo_err cfo_engine_preflight(cfo_diag *d);

/* cfo-fuzz NAME --discover for an engine: builds, then lists the executables
 * of targets_dir that ops->is_target accepts, sorted. */
cfo_err cfo_engine_discover(const cfo_fuzzer *f, const cfo_engine_ops *ops, cfo_strv *targets,
                            cfo_diag *d);

/* cfo-fuzz NAME TARGET for an engine: build, corpus pull, fuzzing with
 * corpus sharing every sync_interval, final push, triage, bundles. */
cfo_fuzz_verdict cfo_engine_run_task(const cfo_fuzzer *f, const cfo_engine_ops *ops,
                                     const char *target, cfo_fuzz_result *res, cfo_diag *d);

/* The cfo_fuzz_impl functions of the engine kinds: cfo_engine_discover and
 * cfo_engine_run_task with the ops of f's kind. */
cfo_err cfo_engine_fuzz_discover(const cfo_fuzzer *f, cfo_strv *targets, cfo_diag *d);
cfo_fuzz_verdict cfo_engine_fuzz_run(const cfo_fuzzer *f, const char *target, cfo_fuzz_result *res,
                                     cfo_diag *d);

/* Runs f->build in the current directory (the worktree) unless a stamp
 * says this command already succeeded here. Concurrent callers in the same
 * worktree wait on a lock file, so the build runs once. timeout_ms 0: none. */
cfo_err cfo_engine_build(const cfo_fuzzer *f, int64_t timeout_ms, cfo_diag *d);

/* The compiler flags of a coverage build (clang's source-based coverage). */
#define CFO_ENGINE_COVERAGE_FLAGS "-fprofile-instr-generate -fcoverage-mapping"

/* The coverage build, once per commit as cfo_engine_build: coverage_build,
 * else build, run with CFO_SANITIZER=coverage and CFO_COVERAGE_FLAGS in its
 * environment; it leaves one libFuzzer-style executable per target (built
 * with CFO_COVERAGE_FLAGS) in coverage_dir. */
cfo_err cfo_engine_coverage_build(const cfo_fuzzer *f, int64_t timeout_ms, cfo_diag *d);

/* The target's dictionary, <targets_dir>/<target>.dict, as an absolute
 * path when the build made one (libFuzzer -dict=, afl-fuzz -x); else NULL. */
char *cfo_engine_dictionary(const cfo_fuzzer *f, const char *target);

/* Whether the file at path holds any of the NULL-terminated needles. */
bool cfo_engine_file_contains(const char *path, const char *const *needles);

/* The corpus root of f as a URL a blobdir opens: a relative file path is
 * taken relative to $CFO_REPO_ROOT (the repository, not the throwaway
 * worktree), else to the current directory. */
char *cfo_engine_corpus_url(const cfo_fuzzer *f);

/* Opens *out, the folder area/<fuzzer>/<target's safe name> below f's corpus
 * root: area "corpus" holds a target's inputs, "corpus-state" what
 * cfo_prune remembers of them. */
cfo_err cfo_engine_target_folder(const cfo_fuzzer *f, const char *area, const char *target,
                                 cfo_blobdir **out, cfo_diag *d);

/* Removes a task's work folder, unless $CFO_ENGINE_KEEP_WORK is set to keep
 * it for a look afterwards. NULL: nothing to remove. */
void cfo_engine_remove_work(const char *work);

/* a / b rounded up (a >= 0, b > 0): the engines' flags take whole seconds
 * and MiB, and a limit must never round down to less than was asked. */
long long cfo_engine_ceil_div(int64_t a, int64_t b);

/* The task's timeout from $CFO_TASK_TIMEOUT_MS; 0 when not given. */
int64_t cfo_engine_task_timeout_ms(void);

/* The CPUs the task's slot may use, from $CFO_TASK_CPUS (the worker's CPUs
 * over its slots); 1 when not given or not a count. */
#define CFO_ENGINE_MAX_TASK_CPUS 1024
int cfo_engine_task_cpus(void);

/* Fuzzing time of a task: fuzz_time, capped by what is left of the task's
 * timeout after elapsed_ms less the part kept for triage (triage_time, at
 * most half the timeout). task_timeout_ms 0: no cap. */
int64_t cfo_engine_fuzz_ms(const cfo_fuzzer *f, int64_t task_timeout_ms, int64_t elapsed_ms);

/* Triage of one replay's output: the report, re-signed as a timeout when the
 * replay ran out of time (exit_code CFO_ENGINE_TIMEOUT_EXIT) and the report
 * is the stack the hang was stopped with (not a crash's report the timer cut
 * short). CFO_ENOTFOUND: no report. */
cfo_err cfo_engine_classify(const char *output, size_t len, int exit_code, cfo_crash_report *out,
                            cfo_diag *d);

/* Whether r, from a replay the input timeout stopped, is a crash the timer
 * caught while its report was being written, not the stack of a hang. */
bool cfo_engine_cut_short(const cfo_crash_report *r);

/* Whether a replay's report b is the finding a: the same signature, or for
 * a hang a hang again (its stack is wherever the timer caught the loop). */
bool cfo_engine_same_finding(const cfo_crash_report *a, const cfo_crash_report *b);

/* Sets out's kind and recomputes its signature and sig_hash. */
void cfo_engine_resign(cfo_crash_report *out, cfo_crash_kind kind, const char *type);

/* One signature a run found, as the record names it. */
typedef struct cfo_engine_finding {
    char *signature;
    cfo_crash_kind kind;
    bool is_new;
    char *repro;  /* "k/n" */
    char *bundle; /* where its bundle is stored */
    /* A stored bundle replayed before fuzzing: whether its input showed its
     * signature again on this commit (or fuzzing found it again). */
    bool replayed;
    bool reproduced;
    /* "path:line" of the top frame, relative to the checkout's root when it
     * is inside it; NULL when the report gives none. */
    char *location;
} cfo_engine_finding;

/* Writes findings as a compact JSON array of
 * {"signature","kind","new","repro","bundle"} (plus "location" when known,
 * and "replay": true and "reproduced" for a replayed bundle) into out, leaving out entries
 * (from the end) that would take it past CFO_ENGINE_FINDINGS_CAP bytes;
 * returns how many were written. */
size_t cfo_engine_findings_json(const cfo_engine_finding *v, size_t n, cfo_buf *out);

/* A bundle's manifest.json: begin writes what found the crash and the crash
 * (version, fuzzer, engine, target, signature, sig_hash, type, location,
 * kind, frames, commit); the engine adds its own members; end adds repro,
 * minimized and created and returns the text (malloc'd). */
yajl_gen cfo_engine_manifest_begin(const cfo_fuzzer *f, const char *engine, const char *target,
                                   const cfo_crash_report *rep, const char *commit);
char *cfo_engine_manifest_end(yajl_gen g, const char *repro, bool minimized);

/* The last n bytes of text ("" for NULL): where a tool's output says why it
 * failed. */
const char *cfo_engine_last(const char *text, size_t n);

/* One run of an engine's fuzzer: argv (env added) until it ends, timeout_ms,
 * or *cancel (NULL: never), keeping the last tail_cap bytes of its output in
 * res (cfo_exec_result_fini it when CFO_OK), whose last bytes are echoed to
 * the task log. Returns an error only when it could not be run. */
cfo_err cfo_engine_fuzz_session(const cfo_strv *argv, char *const *env, int64_t timeout_ms,
                                size_t tail_cap, const atomic_bool *cancel, cfo_exec_result *res,
                                cfo_diag *d);

/* Runs argv (env added) to its end with a timeout, keeping the last cap
 * bytes of its combined output in *out (malloc'd). *exit_code is -1 when it
 * was killed. Returns an error only when it could not run. */
cfo_err cfo_engine_exec(char *const *argv, const char *cwd, char *const *env, int64_t timeout_ms,
                        size_t cap, char **out, size_t *out_len, int *exit_code, bool *timed_out,
                        cfo_diag *d);

/* Runs one of an engine's tools (afl-cmin, libFuzzer -merge=1, ...) as
 * cfo_engine_exec does; one that exits non-zero or times out is an error
 * too: "WHAT failed (exit N): " and at most quote bytes of its output. */
cfo_err cfo_engine_run_tool(const cfo_strv *argv, const cfo_strv *env, int64_t timeout_ms,
                            const char *what, int quote, cfo_diag *d);

/* One file of a crash bundle: a copy of from, or text (not owned). */
typedef struct cfo_engine_bundle_file {
    const char *name;
    const char *from;
    const char *text;
    int mode;
} cfo_engine_bundle_file;

/* Writes the files into the folder dir (made) and packs it into tarball
 * (.tar.gz). */
cfo_err cfo_engine_pack(const char *dir, const cfo_engine_bundle_file *files, size_t n,
                        const char *tarball, cfo_diag *d);

/* The worktree's HEAD commit, or "unknown". */
char *cfo_engine_git_head(void);

/* s quoted for sh. */
char *cfo_engine_sh_quote(const char *s);

#endif
