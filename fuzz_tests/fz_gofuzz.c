/* fz_gofuzz.c -- the gofuzz kind: Go's native fuzzing (go test -fuzz) of
 * one fuzz test, PACKAGE:FuzzName, with its corpus kept in CFO's storage,
 * its failures signed, bundled and replayable with cfo-crash. */
#include <ctype.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include "cfo_blobdir.h"
#include "cfo_corpus.h"
#include "cfo_engine.h"
#include "cfo_engine_cov.h"
#include "cfo_exec.h"
#include "cfo_gocov.h"
#include "cfo_gopanic.h"
#include "cfo_json.h"
#include "cfo_log.h"

/* Output of one go test run kept for its figures and its failure. */
#define GO_TAIL ((size_t)256 << 10)
/* Extra time go test gets past -fuzztime to build, finish and report. */
#define GO_SLACK_MS 120000
/* Shortest slice of fuzzing between two corpus exchanges. */
#define GO_MIN_SLICE_MS 2000
#define GO_MAX_BUNDLES 100000

/* One task: the fuzz test, its folders and what the run saw. */
typedef struct go_task {
    const cfo_fuzzer *f;
    const char *target; /* PACKAGE:FuzzName */
    char *pkg;          /* "./parser" */
    char *name;         /* "FuzzParse" */
    char *work;         /* scratch, removed at the end */
    char *fuzz_dir;     /* the generated corpus: $GOCACHE/fuzz/<import path>/<name> */
    char *seed_dir;     /* the seed corpus: <pkg>/testdata/fuzz/<name> */
    char *pulled;       /* everything pulled from storage so far */
    char *seeds;        /* the seed corpus as it was before fuzzing (crashers come later) */
    cfo_strv env;       /* GOCACHE and friends for every go command */
    cfo_strv had;       /* content names the fuzz test had, sorted */
    cfo_blobdir *remote;
    int64_t execs;
    size_t pushed, pulled_new, rounds;
    char *failure;   /* output of the run that failed; NULL: none */
    char *crasher;   /* the input go test wrote into the seed corpus */
    char stats[160]; /* the last status line's figures */
} go_task;

static atomic_bool stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, true);
}

static bool name_ok(const char *name)
{
    if (strncmp(name, "Fuzz", 4) != 0)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return false;
    return true;
}

/* "./parser:FuzzParse" into its package and fuzz test. */
static cfo_err parse_target(go_task *t, cfo_diag *d)
{
    const char *colon = strrchr(t->target, ':');
    if (colon == NULL || !name_ok(colon + 1))
        return cfo_diag_set(d, CFO_EINVAL,
                            "target '%s' is not PACKAGE:FuzzName (cfo-fuzz %s --discover)",
                            t->target, t->f->name);
    t->pkg = cfo_xstrndup(t->target, (size_t)(colon - t->target));
    t->name = cfo_xstrdup(colon + 1);
    bool rel = strcmp(t->pkg, ".") == 0 || strncmp(t->pkg, "./", 2) == 0;
    if (!rel || strstr(t->pkg, "..") != NULL || strpbrk(t->pkg, " \t\n'\"\\$`") != NULL)
        return cfo_diag_set(d, CFO_EINVAL,
                            "package '%s' of target '%s' is not a path inside the module (./dir)",
                            t->pkg, t->target);
    return CFO_OK;
}

/* The environment of every go command: a build and fuzz cache of this
 * worker's (beside its repository, so tasks of one worker share builds),
 * no module downloads. */
static cfo_err go_env(go_task *t, cfo_diag *d)
{
    const char *root = getenv("CFO_REPO_ROOT");
    char cwd[PATH_MAX];
    if (root == NULL || root[0] == '\0')
        root = getcwd(cwd, sizeof cwd) ? cwd : ".";
    char *cache = cfo_xasprintf("%s/" CFO_ENGINE_STATE_DIR "/gocache", root);
    cfo_err err = cfo_mkdir_p(cache, d);
    cfo_strv_push_owned(&t->env, cfo_xasprintf("GOCACHE=%s", cache));
    if (getenv("GOPROXY") == NULL)
        cfo_strv_push(&t->env, "GOPROXY=off");
    if (getenv("GOFLAGS") == NULL)
        cfo_strv_push(&t->env, "GOFLAGS=-mod=mod");
    /* go needs a GOPATH, which defaults to $HOME/go. */
    if (getenv("GOPATH") == NULL && getenv("HOME") == NULL)
        cfo_strv_push_owned(&t->env, cfo_xasprintf("GOPATH=%s/gopath", cache));
    free(cache);
    return err;
}

/* Runs a go command in the worktree and returns its stdout. */
static cfo_err go_capture(const cfo_strv *env, char *const *argv, char **out, cfo_diag *d)
{
    cfo_capture cap;
    memset(&cap, 0, sizeof cap);
    cfo_err err = cfo_exec_capture(argv, NULL, env->v, 300000, (size_t)4 << 20, &cap, d);
    if (err == CFO_OK && cap.exit_code != 0)
        err = cfo_diag_set(d, CFO_ECHILD, "%s %s failed (exit %d): %.600s", argv[0], argv[1],
                           cap.exit_code, cap.err ? cap.err : "");
    if (err == CFO_OK)
        *out = cfo_xstrdup(cap.out ? cap.out : "");
    cfo_capture_fini(&cap);
    return err;
}

static cfo_err need_go(cfo_diag *d)
{
    char *go = cfo_which("go");
    free(go);
    if (go == NULL)
        return cfo_diag_set(d, CFO_ENOTFOUND,
                            "go is not on PATH: the gofuzz kind runs go test -fuzz "
                            "(apt-get install golang-go)");
    return CFO_OK;
}

/* ---- discovery ---------------------------------------------------------- */

/* One package's fuzz tests as PACKAGE:FuzzName. */
static cfo_err list_fuzz_tests(const cfo_strv *env, const char *pkg, cfo_strv *targets, cfo_diag *d)
{
    char *out = NULL;
    char *argv[] = {"go", "test", "-list", "^Fuzz", (char *)pkg, NULL};
    cfo_err err = go_capture(env, argv, &out, d);
    for (char *line = out, *save = NULL; err == CFO_OK && (line = strtok_r(line, "\n", &save));
         line = NULL)
        if (name_ok(line))
            cfo_strv_push_owned(targets, cfo_xasprintf("%s:%s", pkg, line));
    free(out);
    return err;
}

static cfo_err go_discover(const cfo_fuzzer *f, cfo_strv *targets, cfo_diag *d)
{
    go_task t = {.f = f};
    cfo_strv_init(&t.env);
    cfo_err err = need_go(d);
    if (err == CFO_OK)
        err = cfo_engine_build(f, 0, d);
    if (err == CFO_OK)
        err = go_env(&t, d);
    char *dirs = NULL;
    char *argv[] = {"go", "list", "-f", "{{.Dir}}", "./...", NULL};
    if (err == CFO_OK)
        err = go_capture(&t.env, argv, &dirs, d);
    char cwd[PATH_MAX];
    if (err == CFO_OK && getcwd(cwd, sizeof cwd) == NULL)
        err = cfo_diag_set(d, CFO_EIO, "getcwd failed");
    size_t cwd_len = strlen(cwd);
    for (char *dir = dirs, *save = NULL; err == CFO_OK && (dir = strtok_r(dir, "\n", &save));
         dir = NULL) {
        char *pkg = NULL;
        if (strcmp(dir, cwd) == 0)
            pkg = cfo_xstrdup(".");
        else if (strncmp(dir, cwd, cwd_len) == 0 && dir[cwd_len] == '/')
            pkg = cfo_xasprintf("./%s", dir + cwd_len + 1);
        if (pkg != NULL)
            err = list_fuzz_tests(&t.env, pkg, targets, d);
        free(pkg);
    }
    free(dirs);
    cfo_strv_sort(targets);
    cfo_strv_fini(&t.env);
    return err;
}

/* ---- corpus ------------------------------------------------------------- */

/* Pushes the generated corpus and the seed corpus as it was before fuzzing;
 * every name pushed is one the fuzz test had. */
static void push(go_task *t)
{
    const char *dirs[] = {t->fuzz_dir, t->seeds};
    for (int i = 0; i < 2; i++) {
        cfo_diag d = {{0}};
        cfo_corpus_stats st = {0};
        cfo_strv names;
        cfo_strv_init(&names);
        if (cfo_corpus_push_names(t->remote, dirs[i], NULL, &st, &names, &d) != CFO_OK)
            cfo_warn("corpus push from %s: %s", dirs[i], d.msg);
        for (size_t j = 0; j < names.n; j++)
            cfo_strv_sorted_add(&t->had, names.v[j]);
        t->pushed += st.transferred;
        cfo_strv_fini(&names);
    }
}

/* Pulls what storage has and hands the fuzz test, in its generated corpus,
 * the inputs it never had; returns how many. */
static size_t pull(go_task *t)
{
    cfo_diag d = {{0}};
    cfo_corpus_stats st = {0};
    if (cfo_corpus_pull(t->remote, t->pulled, &st, &d) != CFO_OK)
        cfo_warn("corpus pull: %s", d.msg);
    return cfo_corpus_link_new(t->pulled, t->fuzz_dir, &t->had, NULL);
}

/* The generated corpus starts as what storage holds, the seeds of
 * testdata/fuzz as they are. */
static cfo_err prepare_corpus(go_task *t, cfo_diag *d)
{
    char *import = NULL;
    char *argv[] = {"go", "list", "-f", "{{.ImportPath}}", t->pkg, NULL};
    cfo_err err = go_capture(&t->env, argv, &import, d);
    if (err != CFO_OK)
        return err;
    import[strcspn(import, "\n")] = '\0';
    const char *cache = t->env.v[0] + strlen("GOCACHE=");
    t->fuzz_dir = cfo_xasprintf("%s/fuzz/%s/%s", cache, import, t->name);
    free(import);
    if ((err = cfo_gocov_put_back_seeds(t->pkg, t->name, d)) != CFO_OK)
        return err;
    t->seed_dir = cfo_xasprintf("%s/testdata/fuzz/%s", t->pkg, t->name);
    t->pulled = cfo_xasprintf("%s/pulled", t->work);
    t->seeds = cfo_xasprintf("%s/seeds", t->work);
    /* A task's generated corpus is what storage holds, not what an earlier
     * task of this worker left. */
    cfo_remove_tree(t->fuzz_dir, NULL);
    if ((err = cfo_mkdir_p(t->fuzz_dir, d)) != CFO_OK || (err = cfo_mkdir_p(t->seeds, d)) != CFO_OK)
        return err;
    struct stat st;
    size_t seeds = stat(t->seed_dir, &st) == 0 ? cfo_corpus_import(t->seed_dir, t->seeds) : 0;
    cfo_strv names;
    cfo_strv_init(&names);
    cfo_corpus_content_names(t->seeds, &names);
    for (size_t i = 0; i < names.n; i++)
        cfo_strv_sorted_add(&t->had, names.v[i]);
    cfo_strv_fini(&names);
    size_t n = pull(t);
    printf("corpus: %zu inputs from %s, %zu seeds\n", n, cfo_blobdir_display(t->remote), seeds);
    return CFO_OK;
}

/* ---- fuzzing ------------------------------------------------------------ */

/* The last "execs: N" of go test's status lines, and that line's figures. */
static int64_t parse_execs(const char *out, char *stats, size_t len)
{
    int64_t n = -1;
    const char *last = NULL;
    for (const char *p = out; (p = strstr(p, "fuzz: elapsed: ")) != NULL; p++) {
        const char *e = strstr(p, "execs: ");
        const char *nl = strchr(p, '\n');
        if (e != NULL && (nl == NULL || e < nl)) {
            n = strtoll(e + 7, NULL, 10);
            last = p;
        }
    }
    if (last != NULL) {
        const char *interesting = strstr(last, "new interesting: ");
        const char *total = interesting ? strstr(interesting, "(total: ") : NULL;
        const char *rate = strstr(last, " (");
        snprintf(stats, len, "corpus %lld (%lld new), %lld exec/s",
                 total ? strtoll(total + 8, NULL, 10) : -1,
                 interesting ? strtoll(interesting + 17, NULL, 10) : -1,
                 rate ? strtoll(rate + 2, NULL, 10) : -1);
    }
    return n;
}

/* The path go test wrote the failing input to, relative to the package;
 * or the seed that failed ("failure while testing seed corpus entry:
 * FuzzName/NAME"), which a worktree shared by tasks may hold from an
 * earlier one. */
static char *crasher_path(const go_task *t, const char *out)
{
    const char *key = "Failing input written to ";
    const char *p = strstr(out, key);
    if (p == NULL) {
        char *fail = cfo_xasprintf("seed corpus entry: %s/", t->name);
        const char *q = strstr(out, fail);
        char *path = NULL;
        if (q != NULL) {
            q += strlen(fail);
            char *seed = cfo_xstrndup(q, strcspn(q, " \t\r\n/"));
            path = cfo_xasprintf("%s/%s", t->seed_dir, seed);
            free(seed);
            if (access(path, R_OK) != 0) {
                free(path);
                path = NULL;
            }
        }
        free(fail);
        return path;
    }
    p += strlen(key);
    size_t n = strcspn(p, " \t\r\n");
    char *rel = cfo_xstrndup(p, n);
    char *path = cfo_xasprintf("%s/%s", t->pkg, rel);
    free(rel);
    return path;
}

/* One go test -fuzz run of ms; *done when it failed (t->failure set). */
static cfo_err fuzz_slice(go_task *t, int64_t ms, bool *done, cfo_diag *d)
{
    cfo_strv argv;
    cfo_strv_init(&argv);
    cfo_strv_pushl(&argv, "go", "test", "-run=^$");
    cfo_strv_push_owned(&argv, cfo_xasprintf("-fuzz=^%s$", t->name));
    cfo_strv_push_owned(&argv, cfo_xasprintf("-fuzztime=%lldms", (long long)ms));
    /* Go's fuzzing workers: as many as the task's slot has CPUs. */
    cfo_strv_push_owned(&argv, cfo_xasprintf("-parallel=%d", cfo_engine_task_cpus()));
    for (size_t i = 0; i < t->f->engine_args.n; i++)
        cfo_strv_push(&argv, t->f->engine_args.v[i]);
    cfo_strv_push(&argv, t->pkg);
    cfo_exec_result res;
    cfo_err err = cfo_engine_fuzz_session(&argv, t->env.v, ms + GO_SLACK_MS, GO_TAIL,
                                          &stop_requested, &res, d);
    cfo_strv_fini(&argv);
    if (err != CFO_OK)
        return err;
    const char *out = res.tail ? res.tail : "";
    int64_t n = parse_execs(out, t->stats, sizeof t->stats);
    if (n > 0)
        t->execs += n;
    t->rounds++;
    *done = false;
    if (res.end == CFO_EXEC_EXITED && res.exit_code != 0) {
        t->crasher = crasher_path(t, out);
        if (t->crasher == NULL)
            err = cfo_diag_set(d, CFO_ECHILD, "go test -fuzz exited with status %d: %.600s",
                               res.exit_code, cfo_engine_last(out, 600));
        else {
            t->failure = cfo_xstrdup(out);
            *done = true;
            /* A failing input is a finding, never part of the corpus. */
            cfo_buf b;
            cfo_buf_init(&b);
            if (cfo_read_file(t->crasher, (size_t)1 << 20, &b, NULL) == CFO_OK) {
                char name[41];
                cfo_content_name(b.data, b.len, name);
                char *copy = cfo_xasprintf("%s/%s", t->seeds, name);
                unlink(copy);
                free(copy);
            }
            cfo_buf_fini(&b);
        }
    } else if (res.end == CFO_EXEC_SPAWN_FAILED) {
        err = cfo_diag_set(d, CFO_ECHILD, "cannot run go test: %s", res.error);
    } else if (res.end == CFO_EXEC_CANCELLED) {
        *done = true;
    } else if (res.end != CFO_EXEC_EXITED) {
        err = cfo_diag_set(d, CFO_ECHILD, "go test -fuzz did not end by itself");
    }
    cfo_exec_result_fini(&res);
    return err;
}

/* Fuzzes in slices of sync_interval, exchanging the corpus with storage
 * between them: go test reads its corpus only when it starts. */
static cfo_err fuzz(go_task *t, int64_t fuzz_ms, cfo_diag *d)
{
    int64_t start = cfo_now_ms();
    for (;;) {
        int64_t left = fuzz_ms - (cfo_now_ms() - start);
        if (left < 1000 || atomic_load(&stop_requested))
            return CFO_OK;
        int64_t slice =
            t->f->sync_interval_ms < GO_MIN_SLICE_MS ? GO_MIN_SLICE_MS : t->f->sync_interval_ms;
        if (slice > left || left - slice < GO_MIN_SLICE_MS)
            slice = left;
        bool done = false;
        cfo_err err = fuzz_slice(t, slice, &done, d);
        if (err != CFO_OK || done)
            return err;
        push(t);
        t->pulled_new += pull(t);
    }
}

/* The target as storage keeps it: "parser:FuzzParse" ("parser%3AFuzzParse"
 * once made safe), not a hidden folder ("./" left out). */
static const char *storage_target(const char *target)
{
    return strncmp(target, "./", 2) == 0 ? target + 2 : target;
}

/* ---- triage ------------------------------------------------------------- */

/* reproduce.sh: puts the input into the fuzz test's seed corpus under its
 * name and runs go test -run=^FuzzName/NAME$ from the package. */
static char *reproduce_script(const go_task *t, const char *input_name, const char *commit)
{
    char *qp = cfo_engine_sh_quote(t->pkg), *qn = cfo_engine_sh_quote(t->name);
    char *qi = cfo_engine_sh_quote(input_name);
    char *s = cfo_xasprintf(
        "#!/bin/sh\n"
        "# Replays this bundle's input against Go fuzz test %s of package %s\n"
        "# (fuzzer %s) from the root of a checkout of commit %s:\n"
        "#   cd CHECKOUT && sh /path/to/bundle/reproduce.sh [INPUT]\n"
        "# It writes the input into the package's testdata/fuzz/%s/ and runs\n"
        "# go test -run='^%s/NAME$'. Exit status: go test's (0: no failure);\n"
        "# %d: the replay could not be set up.\n"
        "set -u\n"
        "here=$(cd \"$(dirname \"$0\")\" && pwd)\n"
        "input=${1:-$here/input}\n"
        "pkg=%s\n"
        "name=%s\n"
        "hash=%s\n"
        "[ -d \"$pkg\" ] || { echo \"reproduce.sh: no package $pkg here\" >&2; exit %d; }\n"
        "mkdir -p \"$pkg/testdata/fuzz/$name\" &&\n"
        "    cp \"$input\" \"$pkg/testdata/fuzz/$name/$hash\" || exit %d\n"
        "cd \"$pkg\" || exit %d\n"
        "exec env GOPROXY=\"${GOPROXY:-off}\" GOFLAGS=\"${GOFLAGS:--mod=mod}\" go test -count=1 "
        "-run=\"^$name/$hash\\$\" .\n",
        t->name, t->pkg, t->f->name, commit, t->name, t->name, CFO_ENGINE_REPRO_SETUP_FAILED, qp,
        qn, qi, CFO_ENGINE_REPRO_SETUP_FAILED, CFO_ENGINE_REPRO_SETUP_FAILED,
        CFO_ENGINE_REPRO_SETUP_FAILED);
    free(qp);
    free(qn);
    free(qi);
    return s;
}

static char *manifest_json(const go_task *t, const cfo_crash_report *rep, const char *commit,
                           const char *input_name, const char *repro)
{
    yajl_gen g = cfo_engine_manifest_begin(t->f, "gofuzz", t->target, rep, commit);
    cfo_json_str(g, "package", t->pkg);
    cfo_json_str(g, "fuzz_test", t->name);
    cfo_json_str(g, "input_name", input_name);
    char *command = cfo_xasprintf("go test -run='^%s/%s$' %s", t->name, input_name, t->pkg);
    cfo_json_str(g, "command", command);
    free(command);
    /* go test -fuzz minimizes a failing input before it writes it. */
    return cfo_engine_manifest_end(g, repro, true);
}

/* Re-runs the failing input reproduce_runs times (go test -run=FuzzX/NAME)
 * and counts the runs that fail with the same signature. */
static void rate(const go_task *t, const cfo_crash_report *rep, const char *input_name, int *ok,
                 int *runs)
{
    *ok = *runs = 0;
    char *run = cfo_xasprintf("-run=^%s/%s$", t->name, input_name);
    char *argv[] = {"go", "test", "-count=1", run, t->pkg, NULL};
    for (int i = 0; i < t->f->reproduce_runs && !atomic_load(&stop_requested); i++) {
        char *out = NULL;
        size_t len = 0;
        int code = 0;
        cfo_diag d = {{0}};
        if (cfo_engine_exec(argv, NULL, t->env.v, 300000, CFO_ENGINE_REPORT_CAP, &out, &len, &code,
                            NULL, &d) != CFO_OK) {
            free(out);
            break;
        }
        (*runs)++;
        cfo_crash_report again;
        if (code != 0 && cfo_engine_classify(out, len, code, &again, &d) == CFO_OK &&
            cfo_engine_same_finding(rep, &again))
            (*ok)++;
        free(out);
    }
    free(run);
}

/* Signs the failure, and bundles and stores it when its signature is new. */
static cfo_err triage(go_task *t, cfo_engine_finding *finding, cfo_diag *d)
{
    cfo_crash_report rep;
    cfo_diag why;
    if (cfo_engine_classify(t->failure, strlen(t->failure), 1, &rep, &why) != CFO_OK) {
        memset(&rep, 0, sizeof rep);
        cfo_engine_resign(&rep, CFO_CRASH_CRASH, "go test failure");
    }
    const char *input_name = strrchr(t->crasher, '/') + 1;
    cfo_blobdir *crashes = NULL;
    cfo_err err = cfo_engine_target_folder(t->f, "crashes", storage_target(t->target), &crashes, d);
    cfo_strv known;
    cfo_strv_init(&known);
    if (err == CFO_OK)
        err = cfo_blobdir_list(crashes, GO_MAX_BUNDLES, &known, d);
    char *name = cfo_xasprintf("%s.tar.gz", rep.sig_hash);
    finding->signature = cfo_xstrdup(rep.signature);
    finding->kind = rep.kind;
    finding->bundle = cfo_xasprintf("%s/%s", crashes ? cfo_blobdir_display(crashes) : "", name);
    finding->is_new = false;
    if (err == CFO_OK && cfo_strv_contains(&known, name)) {
        finding->repro = cfo_xstrdup("1/1");
        printf("triage: known %s, bundle %s\n", rep.signature, finding->bundle);
    } else if (err == CFO_OK) {
        int ok = 0, runs = 0;
        rate(t, &rep, input_name, &ok, &runs);
        finding->repro = cfo_xasprintf("%d/%d", ok, runs);
        char *commit = cfo_engine_git_head();
        char *script = reproduce_script(t, input_name, commit);
        char *manifest = manifest_json(t, &rep, commit, input_name, finding->repro);
        char *command = cfo_xasprintf("go test -run='^%s/%s$' %s", t->name, input_name, t->pkg);
        const cfo_engine_bundle_file files[] = {
            {"input", t->crasher, NULL, 0644},    {"report.txt", NULL, t->failure, 0644},
            {"command.txt", NULL, command, 0644}, {"commit.txt", NULL, commit, 0644},
            {"reproduce.sh", NULL, script, 0755}, {"manifest.json", NULL, manifest, 0644},
        };
        char *dir = cfo_xasprintf("%s/bundle", t->work);
        char *tar = cfo_xasprintf("%s/%s", t->work, name);
        bool created = false;
        err = cfo_engine_pack(dir, files, sizeof files / sizeof files[0], tar, d);
        if (err == CFO_OK)
            err = cfo_blobdir_put_new(crashes, name, tar, &created, d);
        finding->is_new = created;
        printf("triage: %s %s, reproduced %s, bundle %s\n", created ? "new" : "known",
               rep.signature, finding->repro, finding->bundle);
        cfo_free_all(dir, tar, command, manifest, script, commit);
    }
    if (finding->repro == NULL)
        finding->repro = cfo_xstrdup("0/0");
    free(name);
    cfo_strv_fini(&known);
    cfo_blobdir_destroy(&crashes);
    return err;
}

/* ---- the task ----------------------------------------------------------- */

static void task_fini(go_task *t)
{
    cfo_engine_remove_work(t->work);
    cfo_free_all(t->pkg, t->name, t->work, t->fuzz_dir, t->seed_dir, t->pulled, t->seeds,
                 t->failure, t->crasher);
    cfo_strv_fini(&t->env);
    cfo_strv_fini(&t->had);
    cfo_blobdir_destroy(&t->remote);
}

/* The figures and summary of a finished task. */
static cfo_fuzz_verdict report(const go_task *t, const cfo_engine_finding *finding, int64_t fuzz_ms,
                               cfo_fuzz_result *res)
{
    res->count = t->execs;
    res->findings = finding != NULL && finding->is_new ? 1 : 0;
    cfo_buf_reset(&res->summary);
    cfo_buf_printf(&res->summary, "%lld executions in %.0fs; ", (long long)t->execs,
                   (double)fuzz_ms / 1000.0);
    if (t->stats[0] != '\0')
        cfo_buf_printf(&res->summary, "%s; ", t->stats);
    if (finding == NULL) {
        cfo_buf_puts(&res->summary, "no failure");
        return CFO_FUZZ_PASS;
    }
    cfo_engine_findings_json(finding, 1, &res->crashes);
    cfo_buf_printf(&res->summary, "1 signature (%d new): %s%s", finding->is_new ? 1 : 0,
                   finding->signature, finding->is_new ? "" : " (known)");
    return (t->f->fail_on & (1u << finding->kind)) ? CFO_FUZZ_FAIL : CFO_FUZZ_PASS;
}

/* The coverage step, as the other engines' (cfo_engine.c): the corpus the
 * task ends with (seeds, what it generated and pulled) replayed with
 * go test -coverprofile. One that fails leaves the record without coverage
 * and says why; the fuzzing's verdict stands. */
static void measure_coverage(const go_task *t, int64_t deadline_ms, cfo_fuzz_result *res)
{
    if (!cfo_fuzzer_has_coverage(t->f) || atomic_load(&stop_requested))
        return;
    const char *dirs[] = {t->seeds, t->fuzz_dir, t->pulled};
    char *safe = cfo_safe_name(storage_target(t->target));
    cfo_gocov_task g = {
        .f = t->f,
        .pkg = t->pkg,
        .name = t->name,
        .storage_target = safe,
        .work = t->work,
        .env = t->env.v,
    };
    cfo_diag d = {{0}};
    cfo_coverage cov;
    char *commit = cfo_engine_commit(&d);
    cfo_err err = commit != NULL ? cfo_gocov_measure(&g, dirs, sizeof dirs / sizeof dirs[0], commit,
                                                     deadline_ms, &cov, &d)
                                 : CFO_ENOTFOUND;
    free(commit);
    free(safe);
    cfo_engine_coverage_result(err, &cov, &d, res);
}

static cfo_fuzz_verdict go_run(const cfo_fuzzer *f, const char *target, cfo_fuzz_result *res,
                               cfo_diag *d)
{
    int64_t start = cfo_now_ms();
    int64_t task_ms = cfo_engine_task_timeout_ms();
    go_task t = {.f = f, .target = target};
    cfo_strv_init(&t.env);
    cfo_strv_init(&t.had);
    cfo_engine_finding finding = {0};
    bool found = false;
    cfo_fuzz_verdict verdict = CFO_FUZZ_ERROR;
    struct sigaction old_term, old_int;
    cfo_exec_catch_stop(on_stop, &old_term, &old_int);
    if (parse_target(&t, d) != CFO_OK || need_go(d) != CFO_OK ||
        cfo_engine_build(f, task_ms > 0 ? task_ms / 2 : 0, d) != CFO_OK || go_env(&t, d) != CFO_OK)
        goto out;
    if ((t.work = cfo_make_temp_dir("cfo-gofuzz", d)) == NULL)
        goto out;
    if (cfo_engine_target_folder(f, "corpus", storage_target(target), &t.remote, d) != CFO_OK ||
        prepare_corpus(&t, d) != CFO_OK)
        goto out;
    int64_t fuzz_ms = cfo_engine_fuzz_ms(f, task_ms, cfo_now_ms() - start);
    if (fuzz_ms < 1000) {
        cfo_diag_set(d, CFO_ETIMEDOUT, "no time left to fuzz after the build (%lld ms)",
                     (long long)fuzz_ms);
        goto out;
    }
    printf("gofuzz: fuzzing %s in %s for %.1fs with -parallel=%d\n", t.name, t.pkg,
           (double)fuzz_ms / 1000.0, cfo_engine_task_cpus());
    cfo_err err = fuzz(&t, fuzz_ms, d);
    push(&t);
    printf("corpus: %zu inputs pushed, %zu pulled from other runs during %zu rounds\n", t.pushed,
           t.pulled_new, t.rounds);
    if (err != CFO_OK)
        goto out;
    if (atomic_load(&stop_requested)) {
        cfo_diag_set(d, CFO_ETIMEDOUT, "stopped by a signal; the corpus was saved");
        goto out;
    }
    if (t.failure != NULL) {
        if (triage(&t, &finding, d) != CFO_OK)
            goto out;
        found = true;
    }
    verdict = report(&t, found ? &finding : NULL, fuzz_ms, res);
    /* Leave the worker's grace period for the report. */
    measure_coverage(&t, task_ms > 0 ? start + task_ms - task_ms / 20 : 0, res);
out:
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGINT, &old_int, NULL);
    if (verdict == CFO_FUZZ_ERROR)
        res->count = t.execs;
    free(finding.signature);
    free(finding.repro);
    free(finding.bundle);
    task_fini(&t);
    return verdict;
}

const cfo_fuzz_impl cfo_fuzz_impl_gofuzz = {
    .kind = CFO_KIND_GOFUZZ,
    .discover = go_discover,
    .run = go_run,
    .engine = NULL,
};
