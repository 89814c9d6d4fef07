/* cfo_engine.c -- the part of the libFuzzer and AFL++ drivers they share:
 * build once per commit, discovery, corpus sharing while the engine runs,
 * triage of what it saved, and crash bundles in storage. */
#include "cfo_engine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cfo_blobdir.h"
#include "cfo_corpus.h"
#include "cfo_digest.h"
#include "cfo_engine_cov.h"
#include "cfo_exec.h"
#include "cfo_gopanic.h"
#include "cfo_json.h"
#include "cfo_log.h"
#include "cfo_prune.h"

/* Most targets a targets_dir may hold: a listing, not a data set. */
#define ENGINE_MAX_TARGETS 10000
/* Bytes of a build's output kept for the task log and an error message. */
#define BUILD_TAIL 8192
#define BUILD_MSG_TAIL 600
/* Bytes of the engine's own output echoed into the task log per run. */
#define ENGINE_ECHO_TAIL 4096
/* Helpers (git, tar) are quick; this only bounds a broken one. */
#define HELPER_TIMEOUT_MS 120000
/* Most bytes of a bundle file read back (manifest). */
#define MANIFEST_MAX ((size_t)1 << 20)
/* Most crash bundles listed per target. */
#define MAX_BUNDLES 100000
/* Shortest fuzzing worth starting. */
#define MIN_FUZZ_MS 1000
/* A crash report cut short by the input timeout is replayed with this many
 * times the timeout. */
#define CUT_SHORT_SLACK 10

/* ---- small helpers ------------------------------------------------------ */

static const char *tail_of(const char *s, size_t max)
{
    size_t len = s ? strlen(s) : 0;
    if (len <= max)
        return s ? s : "";
    const char *p = s + len - max;
    const char *nl = strchr(p, '\n');
    return nl && nl[1] ? nl + 1 : p;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static cfo_err copy_file(const char *src, const char *dst, cfo_diag *d)
{
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_err err = cfo_read_file(src, CFO_CORPUS_MAX_INPUT * 16u, &b, d);
    if (err == CFO_OK) {
        FILE *fp = fopen(dst, "wb");
        if (fp == NULL || fwrite(b.data, 1, b.len, fp) != b.len)
            err = cfo_diag_set(d, CFO_EIO, "cannot write %s: %s", dst, strerror(errno));
        if (fp != NULL && fclose(fp) != 0 && err == CFO_OK)
            err = cfo_diag_set(d, CFO_EIO, "cannot write %s: %s", dst, strerror(errno));
    }
    cfo_buf_fini(&b);
    return err;
}

static cfo_err write_text(const char *path, const char *text, int mode, cfo_diag *d)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return cfo_diag_set(d, CFO_EIO, "cannot write %s: %s", path, strerror(errno));
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int rc = close(fd);
    if (n < 0 || (size_t)n != len || rc != 0)
        return cfo_diag_set(d, CFO_EIO, "cannot write %s", path);
    return CFO_OK;
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

bool cfo_engine_file_contains(const char *path, const char *const *needles)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    bool found = false;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map != MAP_FAILED) {
            for (const char *const *n = needles; *n && !found; n++)
                found = memmem(map, (size_t)st.st_size, *n, strlen(*n)) != NULL;
            munmap(map, (size_t)st.st_size);
        }
    }
    close(fd);
    return found;
}

cfo_err cfo_engine_exec(char *const *argv, const char *cwd, char *const *env, int64_t timeout_ms,
                        size_t cap, char **out, size_t *out_len, int *exit_code, bool *timed_out,
                        cfo_diag *d)
{
    cfo_exec_spec spec = {
        .argv = argv,
        .cwd = cwd,
        .env_add = env,
        .timeout_ms = timeout_ms,
        .grace_ms = 2000,
        .tail_cap = cap,
    };
    cfo_exec_result res;
    fflush(stdout);
    fflush(stderr);
    cfo_err err = cfo_exec_run(&spec, &res, d);
    if (err != CFO_OK)
        return err;
    if (res.end == CFO_EXEC_SPAWN_FAILED) {
        err = cfo_diag_set(d, CFO_ECHILD, "cannot run %s: %s", argv[0], res.error);
        cfo_exec_result_fini(&res);
        return err;
    }
    *exit_code = res.end == CFO_EXEC_EXITED ? res.exit_code : -1;
    if (timed_out != NULL)
        *timed_out = res.end == CFO_EXEC_TIMEOUT;
    if (out != NULL) {
        *out = cfo_xstrndup(res.tail ? res.tail : "", res.tail ? res.tail_len : 0);
        if (out_len != NULL)
            *out_len = res.tail ? res.tail_len : 0;
    }
    cfo_exec_result_fini(&res);
    return CFO_OK;
}

const char *cfo_engine_last(const char *text, size_t n)
{
    if (text == NULL)
        return "";
    size_t len = strlen(text);
    return len > n ? text + len - n : text;
}

cfo_err cfo_engine_fuzz_session(const cfo_strv *argv, char *const *env, int64_t timeout_ms,
                                size_t tail_cap, const atomic_bool *cancel, cfo_exec_result *res,
                                cfo_diag *d)
{
    cfo_exec_spec spec = {
        .argv = argv->v,
        .env_add = env,
        .timeout_ms = timeout_ms,
        .grace_ms = 5000,
        .tail_cap = tail_cap,
        .cancel = cancel,
    };
    fflush(stdout);
    cfo_err err = cfo_exec_run(&spec, res, d);
    if (err != CFO_OK)
        return err;
    const char *text = cfo_engine_last(res->tail, ENGINE_ECHO_TAIL);
    fputs(text, stdout);
    if (text[0] != '\0' && text[strlen(text) - 1] != '\n')
        putchar('\n');
    return CFO_OK;
}

cfo_err cfo_engine_run_tool(const cfo_strv *argv, const cfo_strv *env, int64_t timeout_ms,
                            const char *what, int quote, cfo_diag *d)
{
    char *text = NULL;
    int code = 0;
    bool timed_out = false;
    cfo_err err =
        cfo_engine_exec(argv->v, NULL, env->v, timeout_ms, 4096, &text, NULL, &code, &timed_out, d);
    if (err == CFO_OK && code != 0)
        err = cfo_diag_set(d, CFO_ECHILD, "%s %s (exit %d): %.*s", what,
                           timed_out ? "timed out" : "failed", code, quote, text);
    free(text);
    return err;
}

int64_t cfo_engine_task_timeout_ms(void)
{
    const char *env = getenv("CFO_TASK_TIMEOUT_MS");
    int64_t v = 0;
    if (env == NULL || cfo_parse_int(env, 0, INT64_MAX / 2, &v, NULL) != CFO_OK)
        return 0;
    return v;
}

int cfo_engine_task_cpus(void)
{
    const char *env = getenv("CFO_TASK_CPUS");
    int64_t v = 1;
    if (env == NULL || cfo_parse_int(env, 1, CFO_ENGINE_MAX_TASK_CPUS, &v, NULL) != CFO_OK)
        return 1;
    return (int)v;
}

int64_t cfo_engine_fuzz_ms(const cfo_fuzzer *f, int64_t task_timeout_ms, int64_t elapsed_ms)
{
    int64_t ms = f->fuzz_time_ms;
    if (task_timeout_ms > 0) {
        int64_t reserve = f->triage_time_ms;
        if (reserve > task_timeout_ms / 2)
            reserve = task_timeout_ms / 2;
        int64_t left = task_timeout_ms - elapsed_ms - reserve;
        if (left < ms)
            ms = left;
    }
    return ms > 0 ? ms : 0;
}

char *cfo_engine_corpus_url(const cfo_fuzzer *f)
{
    const char *url = f->corpus;
    const char *path = url;
    if (strncmp(url, "gs://", 5) == 0)
        return cfo_xstrdup(url);
    if (strncmp(url, "file://", 7) == 0)
        path = url + 7;
    if (path[0] == '/')
        return cfo_xasprintf("file://%s", path);
    const char *base = getenv("CFO_REPO_ROOT");
    char cwd[PATH_MAX];
    if (base == NULL || base[0] == '\0')
        base = getcwd(cwd, sizeof cwd) ? cwd : ".";
    if (strcmp(path, ".") == 0 || path[0] == '\0')
        return cfo_xasprintf("file://%s", base);
    if (strncmp(path, "./", 2) == 0)
        path += 2;
    return cfo_xasprintf("file://%s/%s", base, path);
}

cfo_err cfo_engine_target_folder(const cfo_fuzzer *f, const char *area, const char *target,
                                 cfo_blobdir **out, cfo_diag *d)
{
    char *url = cfo_engine_corpus_url(f);
    char *safe = cfo_safe_name(target);
    char *rel = cfo_xasprintf("%s/%s/%s", area, f->name, safe);
    cfo_blobdir *root = NULL;
    cfo_err err = cfo_blobdir_open(url, &root, d);
    if (err == CFO_OK)
        err = cfo_blobdir_sub(root, rel, out, d);
    cfo_blobdir_destroy(&root);
    free(rel);
    free(safe);
    free(url);
    return err;
}

void cfo_engine_remove_work(const char *work)
{
    if (work != NULL && getenv("CFO_ENGINE_KEEP_WORK") == NULL)
        cfo_remove_tree(work, NULL);
}

long long cfo_engine_ceil_div(int64_t a, int64_t b)
{
    return (long long)((a + b - 1) / b);
}

const cfo_engine_ops *cfo_engine_ops_for(cfo_kind kind)
{
    const cfo_fuzz_impl *impl = cfo_fuzz_impl_for(kind);
    return impl != NULL ? impl->engine : NULL;
}

char *cfo_engine_dictionary(const cfo_fuzzer *f, const char *target)
{
    char *p = cfo_xasprintf("%s/%s.dict", f->targets_dir, target);
    char abs[PATH_MAX];
    char *out = NULL;
    struct stat st;
    if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && realpath(p, abs) != NULL)
        out = cfo_xstrdup(abs);
    free(p);
    return out;
}

/* ---- build once per commit -------------------------------------------- */

static char *git_head(void);

/* Whether a helper command (git, tar) ran and exited 0. */
static bool helper_succeeds(char *const *argv)
{
    cfo_capture cap;
    memset(&cap, 0, sizeof cap);
    bool ok = cfo_exec_capture(argv, NULL, NULL, HELPER_TIMEOUT_MS, 4096, &cap, NULL) == CFO_OK &&
              cap.exit_code == 0;
    cfo_capture_fini(&cap);
    return ok;
}

/* Whether the build stamp at path names commit head, a known commit of a
 * checkout without changes to tracked files. Outside git ("unknown") a build
 * cannot be tied to a commit: its stamp says "unknown" and is reused. */
static bool stamp_matches(const char *path, const char *head)
{
    cfo_buf b;
    cfo_buf_init(&b);
    bool same = cfo_read_file(path, 256, &b, NULL) == CFO_OK && b.len > 0 &&
                strncmp(b.data, head, b.len) == 0 && strlen(head) == b.len;
    cfo_buf_fini(&b);
    if (!same || strcmp(head, "unknown") == 0)
        return same;
    char *argv[] = {"git", "diff", "--quiet", "HEAD", "--", NULL};
    return helper_succeeds(argv);
}

/* Runs cmd (env added) unless a stamp keyed by the command and the
 * environment says it succeeded here already. */
static cfo_err build_once(const char *cmd, char *const *env, int64_t timeout_ms, cfo_diag *d)
{
    cfo_err err = cfo_mkdir_p(CFO_ENGINE_STATE_DIR, d);
    if (err != CFO_OK)
        return err;
    cfo_buf what;
    cfo_buf_init(&what);
    cfo_buf_puts(&what, cmd);
    for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
        cfo_buf_append(&what, "", 1);
        cfo_buf_puts(&what, env[i]);
    }
    char key[65];
    cfo_sha256_hex(what.data, what.len, key);
    cfo_buf_fini(&what);
    key[16] = '\0';
    char *stamp = cfo_xasprintf("%s/build-%s.ok", CFO_ENGINE_STATE_DIR, key);
    char *lock = cfo_xasprintf("%s/build.lock", CFO_ENGINE_STATE_DIR);
    char *head = NULL;
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = cfo_diag_set(d, CFO_EIO, "cannot open %s: %s", lock, strerror(errno));
        goto out;
    }
    /* Tasks of one commit share the worktree: the first builds, the others
     * wait here and then find its stamp. */
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            err = cfo_diag_set(d, CFO_EIO, "cannot lock %s: %s", lock, strerror(errno));
            goto out;
        }
    }
    /* The stamp names the commit that was built: a worktree or checkout
     * moved to another commit since rebuilds, so no run (and no
     * reproduce.sh) tests one commit with another's binaries. */
    const char *mode = env != NULL ? " (coverage)" : "";
    head = git_head();
    if (stamp_matches(stamp, head)) {
        printf("build%s: up to date (%s, commit %s)\n", mode, cmd, head);
        goto out;
    }
    printf("build%s: %s\n", mode, cmd);
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    char *tail = NULL;
    int code = -1;
    bool timed_out = false;
    err =
        cfo_engine_exec(argv, NULL, env, timeout_ms, BUILD_TAIL, &tail, NULL, &code, &timed_out, d);
    if (err != CFO_OK) {
        cfo_diag_prefix(d, "build command '%s'", cmd);
        goto out;
    }
    fputs(tail, stdout);
    if (code != 0) {
        if (timed_out)
            err = cfo_diag_set(d, CFO_ECHILD, "build command%s '%s' timed out: %s", mode, cmd,
                               tail_of(tail, BUILD_MSG_TAIL));
        else
            err = cfo_diag_set(d, CFO_ECHILD, "build command%s '%s' failed (exit status %d): %s",
                               mode, cmd, code, tail_of(tail, BUILD_MSG_TAIL));
    } else {
        err = write_text(stamp, head, 0644, d);
    }
    free(tail);
out:
    if (fd >= 0)
        close(fd); /* releases the lock */
    free(head);
    free(stamp);
    free(lock);
    return err;
}

cfo_err cfo_engine_build(const cfo_fuzzer *f, int64_t timeout_ms, cfo_diag *d)
{
    if (f->build[0] == '\0')
        return CFO_OK;
    return build_once(f->build, NULL, timeout_ms, d);
}

cfo_err cfo_engine_coverage_build(const cfo_fuzzer *f, int64_t timeout_ms, cfo_diag *d)
{
    const char *cmd = f->coverage_build[0] ? f->coverage_build : f->build;
    if (cmd[0] == '\0')
        return CFO_OK;
    char *env[] = {"CFO_SANITIZER=coverage", "CFO_COVERAGE_FLAGS=" CFO_ENGINE_COVERAGE_FLAGS, NULL};
    return build_once(cmd, env, timeout_ms, d);
}

/* ---- preflight ---------------------------------------------------------- */

/* Debian installs llvm-symbolizer-NN for each LLVM it has, and the plain name
 * only with the llvm package. */
#define SYMBOLIZER_NEWEST_LLVM 30
#define SYMBOLIZER_OLDEST_LLVM 7

/* Whether the sanitizer runtimes take path as a symbolizer: they go by its
 * file name. */
static bool symbolizer_name_ok(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    return strncmp(base, "llvm-symbolizer", 15) == 0 || strcmp(base, "addr2line") == 0 ||
           strcmp(base, "atos") == 0;
}

static char *find_symbolizer(cfo_diag *d)
{
    const char *given = getenv("ASAN_SYMBOLIZER_PATH");
    if (given != NULL && given[0] != '\0') {
        char *p = cfo_which(given);
        if (p == NULL)
            cfo_diag_set(d, CFO_ENOTFOUND,
                         "ASAN_SYMBOLIZER_PATH names %s, which is not an executable", given);
        if (p != NULL && !symbolizer_name_ok(p)) {
            /* Any other name makes the sanitizers print no function names,
             * and every signature would be of addresses. */
            cfo_diag_set(d, CFO_EINVAL,
                         "ASAN_SYMBOLIZER_PATH names %s: the sanitizers take a symbolizer only "
                         "by its name (llvm-symbolizer*, addr2line or atos)",
                         given);
            free(p);
            p = NULL;
        }
        return p;
    }
    char *p = cfo_which("llvm-symbolizer");
    for (int v = SYMBOLIZER_NEWEST_LLVM; p == NULL && v >= SYMBOLIZER_OLDEST_LLVM; v--) {
        char name[32];
        snprintf(name, sizeof name, "llvm-symbolizer-%d", v);
        p = cfo_which(name);
    }
    if (p == NULL)
        cfo_diag_set(d, CFO_ENOTFOUND,
                     "no llvm-symbolizer on PATH: crash reports would have no function names, "
                     "so different bugs would share one signature; install it "
                     "(apt-get install llvm) or set ASAN_SYMBOLIZER_PATH");
    return p;
}

cfo_err cfo_engine_preflight(cfo_diag *d)
{
    char *path = find_symbolizer(d);
    if (path == NULL)
        return CFO_ENOTFOUND;
    static const char *const vars[] = {"ASAN_SYMBOLIZER_PATH", "UBSAN_SYMBOLIZER_PATH",
                                       "LSAN_SYMBOLIZER_PATH", "MSAN_SYMBOLIZER_PATH"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        setenv(vars[i], path, 1);
    free(path);
    return CFO_OK;
}

/* ---- discovery ---------------------------------------------------------- */

cfo_err cfo_engine_fuzz_discover(const cfo_fuzzer *f, cfo_strv *targets, cfo_diag *d)
{
    return cfo_engine_discover(f, cfo_engine_ops_for(f->kind), targets, d);
}

cfo_fuzz_verdict cfo_engine_fuzz_run(const cfo_fuzzer *f, const char *target, cfo_fuzz_result *res,
                                     cfo_diag *d)
{
    return cfo_engine_run_task(f, cfo_engine_ops_for(f->kind), target, res, d);
}

cfo_err cfo_engine_discover(const cfo_fuzzer *f, const cfo_engine_ops *ops, cfo_strv *targets,
                            cfo_diag *d)
{
    /* Discovery's output is the target list: the build's chatter goes to
     * stderr. */
    cfo_err err = cfo_engine_preflight(d);
    if (err != CFO_OK)
        return err;
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    if (saved >= 0)
        dup2(STDERR_FILENO, STDOUT_FILENO);
    err = cfo_engine_build(f, cfo_engine_task_timeout_ms(), d);
    fflush(stdout);
    if (saved >= 0) {
        dup2(saved, STDOUT_FILENO);
        close(saved);
    }
    if (err != CFO_OK)
        return err;
    DIR *dh = opendir(f->targets_dir);
    if (dh == NULL)
        return cfo_diag_set(d, CFO_ENOTFOUND,
                            "fuzzer %s: targets_dir '%s' is missing after the build (%s)", f->name,
                            f->targets_dir, strerror(errno));
    cfo_strv found;
    cfo_strv_init(&found);
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *p = cfo_xasprintf("%s/%s", f->targets_dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0 &&
            cfo_target_validate(e->d_name, NULL) == CFO_OK && ops->is_target(p))
            cfo_strv_push(&found, e->d_name);
        free(p);
        if (found.n > ENGINE_MAX_TARGETS) {
            closedir(dh);
            cfo_strv_fini(&found);
            return cfo_diag_set(d, CFO_ELIMIT, "fuzzer %s: more than %d targets in %s", f->name,
                                ENGINE_MAX_TARGETS, f->targets_dir);
        }
    }
    closedir(dh);
    cfo_strv_sort(&found);
    for (size_t i = 0; i < found.n; i++)
        cfo_strv_push(targets, found.v[i]);
    cfo_strv_fini(&found);
    return CFO_OK;
}

/* ---- triage ------------------------------------------------------------- */

void cfo_engine_resign(cfo_crash_report *out, cfo_crash_kind kind, const char *type)
{
    out->kind = kind;
    if (type != NULL)
        snprintf(out->type, sizeof out->type, "%s", type);
    cfo_triage_sign(out);
}

bool cfo_engine_same_finding(const cfo_crash_report *a, const cfo_crash_report *b)
{
    if (a->kind == CFO_CRASH_TIMEOUT || b->kind == CFO_CRASH_TIMEOUT)
        return a->kind == b->kind;
    return strcmp(a->signature, b->signature) == 0;
}

cfo_err cfo_engine_classify(const char *output, size_t len, int exit_code, cfo_crash_report *out,
                            cfo_diag *d)
{
    /* go test's failures first (a panic's stack, a t.Fatal site): a Go
     * "panic: runtime error:" would read as a UBSan report. */
    cfo_err err = cfo_gopanic_parse(output, len, out) == CFO_OK
                      ? CFO_OK
                      : cfo_triage_parse(output, len, out, d);
    if (exit_code == CFO_ENGINE_TIMEOUT_EXIT) {
        /* The replay was stopped by timeout(1) with SIGABRT so the sanitizer
         * printed where it hung: a hang, whatever the signal report says.
         * A report of another crash is one the timer caught while it was
         * being written (symbolizing is slow on a loaded machine): a crash. */
        if (err == CFO_ENOTFOUND) {
            memset(out, 0, sizeof *out);
            err = CFO_OK;
        }
        if (err == CFO_OK && out->kind != CFO_CRASH_TIMEOUT && !cfo_engine_cut_short(out))
            cfo_engine_resign(out, CFO_CRASH_TIMEOUT, "timeout");
    }
    return err;
}

bool cfo_engine_cut_short(const cfo_crash_report *r)
{
    return r->kind == CFO_CRASH_CRASH && strncmp(r->type, "ABRT", 4) != 0 &&
           strcmp(r->type, "deadly signal") != 0;
}

/* One replay of input under fuzzer f's limits; see replay. *code: how the
 * replay exited. */
static cfo_err replay_once(cfo_engine_run *r, const cfo_fuzzer *f, const cfo_engine_ops *ops,
                           const cfo_strv *records, const char *input, cfo_crash_report *rep,
                           bool *found, int *code, char **output, cfo_diag *d)
{
    cfo_strv argv, env;
    cfo_strv_init(&argv);
    cfo_strv_init(&env);
    ops->replay_argv(f, r->target_path, input, &argv, &env);
    if (records != NULL && records->n > 0) {
        /* The input is the command's last word; the records go before it. */
        char *last = argv.v[argv.n - 1];
        argv.v[--argv.n] = NULL;
        for (size_t i = 0; i < records->n; i++)
            cfo_strv_push(&argv, records->v[i]);
        cfo_strv_push_owned(&argv, last);
    }
    /* libFuzzer and timeout(1) bound the replay; this only bounds a broken one. */
    int64_t limit = 3 * f->input_timeout_ms + 30000;
    char *out = NULL;
    size_t len = 0;
    *code = 0;
    cfo_err err = cfo_engine_exec(argv.v, NULL, env.v, limit, CFO_ENGINE_REPORT_CAP, &out, &len,
                                  code, NULL, d);
    *found = false;
    if (err == CFO_OK) {
        cfo_diag why;
        *found = cfo_engine_classify(out, len, *code, rep, &why) == CFO_OK;
        if (output != NULL) {
            *output = out;
            out = NULL;
        }
    }
    free(out);
    cfo_strv_fini(&argv);
    cfo_strv_fini(&env);
    return err;
}

/* One replay of input, after the inputs of records (NULL: none) in the same
 * process: the target takes them as file arguments, in order (libAFLDriver
 * runs each, one after another). CFO_OK with *found false when it did not
 * crash. A crash whose report the input timeout cut short is replayed once
 * more with a longer one, so its signature has all its frames. */
static cfo_err replay(cfo_engine_run *r, const cfo_engine_ops *ops, const cfo_strv *records,
                      const char *input, cfo_crash_report *rep, bool *found, char **output,
                      cfo_diag *d)
{
    int code;
    cfo_err err = replay_once(r, r->f, ops, records, input, rep, found, &code, output, d);
    if (err != CFO_OK || !*found || code != CFO_ENGINE_TIMEOUT_EXIT || !cfo_engine_cut_short(rep))
        return err;
    cfo_fuzzer slower = *r->f;
    slower.input_timeout_ms *= CUT_SHORT_SLACK;
    printf("triage: a crash report was cut short by the %lld ms input timeout; replaying "
           "with %lld ms\n",
           (long long)r->f->input_timeout_ms, (long long)slower.input_timeout_ms);
    if (output != NULL) {
        free(*output);
        *output = NULL;
    }
    return replay_once(r, &slower, ops, records, input, rep, found, &code, output, d);
}

static int64_t time_left(const cfo_engine_run *r)
{
    return r->deadline_ms > 0 ? r->deadline_ms - cfo_now_ms() : INT64_MAX / 4;
}

typedef struct triaged {
    char *input;  /* the artifact */
    char *final;  /* the input in the bundle (minimized when that worked) */
    char *report; /* the replay's output */
    cfo_crash_report rep;
    bool minimized;
    int repro_ok, repro_runs;
    /* Inputs a persistent target ran before the input, which the crash
     * needs (AFL_PERSISTENT_RECORD), in their order; empty: none needed. */
    cfo_strv records;
    size_t records_recorded; /* how many the engine recorded */
} triaged;

/* Copies a string into something JSON can carry (yajl refuses bad UTF-8). */
static char *json_safe(const char *s)
{
    char *c = cfo_xstrdup(s ? s : "");
    cfo_utf8_sanitize(c);
    return c;
}

size_t cfo_engine_findings_json(const cfo_engine_finding *v, size_t n, cfo_buf *out)
{
    size_t written = 0;
    for (size_t keep = n;; keep--) {
        yajl_gen g = yajl_gen_alloc(NULL);
        yajl_gen_array_open(g);
        for (size_t i = 0; i < keep; i++) {
            char *sig = json_safe(v[i].signature);
            char *bundle = json_safe(v[i].bundle);
            char *repro = json_safe(v[i].repro);
            yajl_gen_map_open(g);
            cfo_json_str(g, "signature", sig);
            cfo_json_str(g, "kind", cfo_crash_kind_name(v[i].kind));
            cfo_json_bool(g, "new", v[i].is_new);
            cfo_json_str(g, "repro", repro);
            cfo_json_str(g, "bundle", bundle);
            if (v[i].location != NULL) {
                char *loc = json_safe(v[i].location);
                cfo_json_str(g, "location", loc);
                free(loc);
            }
            if (v[i].replayed) {
                cfo_json_bool(g, "replay", true);
                cfo_json_bool(g, "reproduced", v[i].reproduced);
            }
            yajl_gen_map_close(g);
            free(sig);
            free(bundle);
            free(repro);
        }
        yajl_gen_array_close(g);
        const unsigned char *buf;
        size_t len;
        yajl_gen_get_buf(g, &buf, &len);
        if (len <= CFO_ENGINE_FINDINGS_CAP || keep == 0) {
            cfo_buf_reset(out);
            if (keep > 0)
                cfo_buf_append(out, buf, len);
            written = keep;
            yajl_gen_free(g);
            break;
        }
        yajl_gen_free(g);
    }
    return written;
}

static char *shell_line(char *const *env, char *const *argv)
{
    cfo_strv all;
    cfo_strv_init(&all);
    if (env != NULL && env[0] != NULL) {
        cfo_strv_push(&all, "env");
        for (char *const *e = env; *e; e++)
            cfo_strv_push(&all, *e);
    }
    for (char *const *a = argv; *a; a++)
        cfo_strv_push(&all, *a);
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_shell_quote_argv(&b, all.v);
    cfo_strv_fini(&all);
    return cfo_buf_steal(&b);
}

static char *sh_quote(const char *s)
{
    char *argv[] = {(char *)s, NULL};
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_shell_quote_argv(&b, argv);
    return cfo_buf_steal(&b);
}

static char *git_head(void)
{
    char *argv[] = {"git", "rev-parse", "HEAD", NULL};
    cfo_capture cap;
    memset(&cap, 0, sizeof cap);
    char *sha = NULL;
    if (cfo_exec_capture(argv, NULL, NULL, HELPER_TIMEOUT_MS, 4096, &cap, NULL) == CFO_OK &&
        cap.exit_code == 0 && cap.out != NULL) {
        cap.out[strcspn(cap.out, "\r\n")] = '\0';
        sha = cfo_xstrdup(cap.out);
    }
    cfo_capture_fini(&cap);
    return sha ? sha : cfo_xstrdup("unknown");
}

/* reproduce.sh: replays the bundle's input from the root of a checkout of
 * the commit, building the target first when it is missing. */
static char *reproduce_script(const cfo_engine_run *r, const cfo_engine_ops *ops,
                              const char *commit)
{
    cfo_strv argv, env;
    cfo_strv_init(&argv);
    cfo_strv_init(&env);
    ops->replay_argv(r->f, r->target_path, "@INPUT@", &argv, &env);
    cfo_buf line;
    cfo_buf_init(&line);
    /* Quoted word by word so the input's path can be spliced in as "$input". */
    cfo_buf_puts(&line, "exec env");
    for (size_t i = 0; i < env.n; i++) {
        char *q = sh_quote(env.v[i]);
        cfo_buf_printf(&line, " %s", q);
        free(q);
    }
    for (size_t i = 0; i < argv.n; i++) {
        if (strcmp(argv.v[i], "@INPUT@") == 0) {
            cfo_buf_puts(&line, " \"$@\" \"$input\"");
            continue;
        }
        char *q = sh_quote(argv.v[i]);
        cfo_buf_printf(&line, " %s", q);
        free(q);
    }
    char *qt = sh_quote(r->target_path);
    char *qb = sh_quote(r->f->build);
    char key[65];
    cfo_sha256_hex(r->f->build, strlen(r->f->build), key);
    key[16] = '\0';
    char *script = cfo_xasprintf(
        "#!/bin/sh\n"
        "# Replays this bundle's input against %s (fuzzer %s, %s engine)\n"
        "# from the root of a checkout of commit %s:\n"
        "#   cd CHECKOUT && sh /path/to/bundle/reproduce.sh [INPUT]\n"
        "# The target is built with the build command unless a build of this\n"
        "# very commit is there (its stamp names the commit and no tracked file\n"
        "# changed), and always with CFO_REBUILD=1: a checkout of a fixing commit\n"
        "# never replays a stale build of the buggy one. Exit status: the\n"
        "# target's (0: no crash);\n"
        "# %d: the replay could not be set up; %d: the input hung.\n"
        "# A crash of a persistent target that needs the inputs run before it\n"
        "# has them in persistent/ (AFL_PERSISTENT_RECORD's RECORD:ID,cnt:N):\n"
        "# they are fed first, in the order of N (gaps allowed), to the same\n"
        "# process; CFO_NO_RECORDS=1 replays the input alone.\n"
        "set -u\n"
        "here=$(cd \"$(dirname \"$0\")\" && pwd)\n"
        "input=${1:-$here/input}\n"
        "set --\n"
        "if [ \"${CFO_NO_RECORDS:-0}\" != 1 ] && [ -d \"$here/persistent\" ]; then\n"
        "    for rec in $(ls \"$here/persistent\" | awk -F'cnt:' 'NF > 1 { printf "
        "\"%%d\\t%%s\\n\", "
        "$2, $0 }' | sort -n -k1,1 | cut -f2); do\n"
        "        set -- \"$@\" \"$here/persistent/$rec\"\n"
        "    done\n"
        "    [ $# -eq 0 ] || echo \"reproduce.sh: feeding the $# inputs recorded before the crash "
        "first\" >&2\n"
        "fi\n"
        "target=%s\n"
        "build=%s\n"
        "stamp=%s/build-%s.ok\n"
        "head=$(git rev-parse HEAD 2>/dev/null) || head=\n"
        "built=\n"
        "[ -f \"$stamp\" ] && built=$(cat \"$stamp\")\n"
        "fresh=0\n"
        "if [ -n \"$head\" ] && [ \"$built\" = \"$head\" ] && [ -x \"$target\" ] &&\n"
        "    git diff --quiet HEAD -- 2>/dev/null; then\n"
        "    fresh=1\n"
        "fi\n"
        "if [ -z \"$build\" ] && [ -x \"$target\" ]; then\n"
        "    fresh=1\n"
        "fi\n"
        "if [ \"${CFO_REBUILD:-0}\" = 1 ] || [ \"$fresh\" = 0 ]; then\n"
        "    if [ -z \"$build\" ]; then\n"
        "        echo \"reproduce.sh: $target is missing and there is no build command\" >&2\n"
        "        exit %d\n"
        "    fi\n"
        "    sh -c \"$build\" >&2 || { echo \"reproduce.sh: the build failed\" >&2; exit %d; }\n"
        "    [ -x \"$target\" ] || { echo \"reproduce.sh: the build made no $target\" >&2; exit "
        "%d; }\n"
        "    if [ -n \"$head\" ] && git diff --quiet HEAD -- 2>/dev/null; then\n"
        "        mkdir -p \"$(dirname \"$stamp\")\" && printf '%%s' \"$head\" > \"$stamp\"\n"
        "    fi\n"
        "fi\n"
        "%s\n",
        r->target, r->f->name, cfo_kind_info_of(r->f->kind)->name, commit,
        CFO_ENGINE_REPRO_SETUP_FAILED, CFO_ENGINE_TIMEOUT_EXIT, qt, qb, CFO_ENGINE_STATE_DIR, key,
        CFO_ENGINE_REPRO_SETUP_FAILED, CFO_ENGINE_REPRO_SETUP_FAILED, CFO_ENGINE_REPRO_SETUP_FAILED,
        line.data);
    free(qt);
    free(qb);
    cfo_buf_fini(&line);
    cfo_strv_fini(&argv);
    cfo_strv_fini(&env);
    return script;
}

yajl_gen cfo_engine_manifest_begin(const cfo_fuzzer *f, const char *engine, const char *target,
                                   const cfo_crash_report *rep, const char *commit)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_config(g, yajl_gen_beautify, 1);
    yajl_gen_map_open(g);
    cfo_json_int(g, "version", 1);
    cfo_json_str(g, "fuzzer", f->name);
    cfo_json_str(g, "engine", engine);
    cfo_json_str(g, "target", target);
    const char *texts[] = {"signature", rep->signature, "sig_hash", rep->sig_hash,
                           "type",      rep->type,      "location", rep->location};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i += 2) {
        char *safe = json_safe(texts[i + 1]);
        cfo_json_str(g, texts[i], safe);
        free(safe);
    }
    cfo_json_str(g, "kind", cfo_crash_kind_name(rep->kind));
    cfo_json_key(g, "frames");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < rep->nframes; i++) {
        char *fr = json_safe(rep->frames[i]);
        yajl_gen_string(g, (const unsigned char *)fr, strlen(fr));
        free(fr);
    }
    yajl_gen_array_close(g);
    cfo_json_str(g, "commit", commit);
    return g;
}

char *cfo_engine_manifest_end(yajl_gen g, const char *repro, bool minimized)
{
    cfo_json_str(g, "repro", repro);
    cfo_json_bool(g, "minimized", minimized);
    cfo_json_time(g, "created", cfo_wall_ms());
    yajl_gen_map_close(g);
    return cfo_json_text(g);
}

static char *manifest_json(const cfo_engine_run *r, const cfo_engine_ops *ops, const triaged *t,
                           const char *commit, const char *command)
{
    yajl_gen g = cfo_engine_manifest_begin(r->f, ops->engine, r->target, &t->rep, commit);
    cfo_json_str(g, "target_path", r->target_path);
    char *build = json_safe(r->f->build);
    cfo_json_str(g, "build", build);
    free(build);
    char *cmd = json_safe(command);
    cfo_json_str(g, "command", cmd);
    free(cmd);
    cfo_json_int(g, "records", (int64_t)t->records.n);
    cfo_json_int(g, "input_size", file_size(t->final));
    cfo_json_int(g, "original_size", file_size(t->input));
    cfo_json_int(g, "input_timeout_ms", r->f->input_timeout_ms);
    cfo_json_int(g, "input_memory_limit_kb", r->f->input_memory_kb);
    char repro[32];
    snprintf(repro, sizeof repro, "%d/%d", t->repro_ok, t->repro_runs);
    return cfo_engine_manifest_end(g, repro, t->minimized);
}

/* The number after "cnt:" in a RECORD file's name; -1 if none. */
static long long record_count(const char *name)
{
    const char *c = strstr(name, ",cnt:");
    if (c == NULL)
        return -1;
    char *end = NULL;
    long long n = strtoll(c + 5, &end, 10);
    return end != c + 5 ? n : -1;
}

static int record_cmp(const void *a, const void *b)
{
    const char *x = strrchr(*(char *const *)a, '/'), *y = strrchr(*(char *const *)b, '/');
    long long nx = record_count(x ? x : *(char *const *)a);
    long long ny = record_count(y ? y : *(char *const *)b);
    return nx < ny ? -1 : nx > ny ? 1 : cfo_strp_cmp(a, b);
}

/* AFL++ saves the inputs that preceded a crash of a persistent target as
 * RECORD:<id>,cnt:<n> beside the crash input id:<id>,... (with
 * AFL_PERSISTENT_RECORD). Appends their paths to out in the order the
 * target ran them: by n, whatever gaps the numbering has. */
static void record_inputs(const char *artifact, cfo_strv *out)
{
    const char *base = strrchr(artifact, '/');
    base = base ? base + 1 : artifact;
    if (strncmp(base, "id:", 3) != 0)
        return;
    char id[16];
    snprintf(id, sizeof id, "%.*s", (int)strcspn(base + 3, ","), base + 3);
    char *dir = cfo_xstrndup(artifact, (size_t)(base - artifact));
    char *prefix = cfo_xasprintf("RECORD:%s,", id);
    cfo_strv names;
    cfo_strv_init(&names);
    cfo_list_files(dir[0] ? dir : ".", &names, NULL);
    size_t first = out->n;
    for (size_t i = 0; i < names.n; i++)
        if (strncmp(names.v[i], prefix, strlen(prefix)) == 0 && record_count(names.v[i]) >= 0)
            cfo_strv_push_owned(out, cfo_xasprintf("%s%s", dir, names.v[i]));
    qsort(out->v + first, out->n - first, sizeof *out->v, record_cmp);
    cfo_strv_fini(&names);
    free(prefix);
    free(dir);
}

/* The inputs a bundle's reproduce.sh feeds before its input (persistent/
 * RECORD files), in the order the target ran them. */
static void bundle_records(const char *dir, cfo_strv *out)
{
    char *pdir = cfo_xasprintf("%s/persistent", dir);
    cfo_strv names;
    cfo_strv_init(&names);
    cfo_list_files(pdir, &names, NULL);
    size_t first = out->n;
    for (size_t i = 0; i < names.n; i++)
        if (record_count(names.v[i]) >= 0)
            cfo_strv_push_owned(out, cfo_xasprintf("%s/%s", pdir, names.v[i]));
    qsort(out->v + first, out->n - first, sizeof *out->v, record_cmp);
    cfo_strv_fini(&names);
    free(pdir);
}

/* Copies the records a crash needs into the bundle's persistent/ folder,
 * under their own names (reproduce.sh orders them by cnt). */
static cfo_err copy_records(const cfo_strv *records, const char *dest, cfo_diag *d)
{
    cfo_err err = records->n > 0 ? cfo_mkdir_p(dest, d) : CFO_OK;
    for (size_t i = 0; err == CFO_OK && i < records->n; i++) {
        const char *base = strrchr(records->v[i], '/');
        char *dst = cfo_xasprintf("%s/%s", dest, base ? base + 1 : records->v[i]);
        err = copy_file(records->v[i], dst, d);
        free(dst);
    }
    return err;
}

static char *environment_text(char *const *env)
{
    cfo_buf b;
    cfo_buf_init(&b);
    struct utsname u;
    if (uname(&u) == 0)
        cfo_buf_printf(&b, "uname: %s %s %s\n", u.sysname, u.release, u.machine);
    for (char *const *e = env; e && *e; e++)
        cfo_buf_printf(&b, "%s\n", *e);
    static const char *const vars[] = {"PATH",         "CC",           "CXX",
                                       "CFLAGS",       "ASAN_OPTIONS", "UBSAN_OPTIONS",
                                       "LSAN_OPTIONS", "AFL_PATH",     NULL};
    for (const char *const *v = vars; *v; v++) {
        const char *val = getenv(*v);
        if (val != NULL)
            cfo_buf_printf(&b, "host %s=%s\n", *v, val);
    }
    return cfo_buf_steal(&b);
}

/* Packs what folder dir holds into the gzipped tar file tarball. */
static cfo_err tar_folder(const char *dir, const char *tarball, cfo_diag *d)
{
    char *targv[] = {"tar", "-czf", (char *)tarball, "-C", (char *)dir, ".", NULL};
    cfo_capture cap;
    memset(&cap, 0, sizeof cap);
    cfo_err err = cfo_exec_capture(targv, NULL, NULL, HELPER_TIMEOUT_MS, 65536, &cap, d);
    if (err == CFO_OK && cap.exit_code != 0)
        err = cfo_diag_set(d, CFO_ECHILD, "tar failed: %s", tail_of(cap.err, 400));
    cfo_capture_fini(&cap);
    return err;
}

/* Packs t into <work>/<sig_hash>.tar.gz; returns its path. */
static cfo_err make_bundle(cfo_engine_run *r, const cfo_engine_ops *ops, const triaged *t,
                           char **tarball, cfo_diag *d)
{
    char *dir = cfo_xasprintf("%s/bundle-%s", r->work, t->rep.sig_hash);
    char *tar = cfo_xasprintf("%s/%s.tar.gz", r->work, t->rep.sig_hash);
    char *commit = git_head();
    cfo_strv argv, env;
    cfo_strv_init(&argv);
    cfo_strv_init(&env);
    ops->replay_argv(r->f, r->target_path, "input", &argv, &env);
    char *command = shell_line(env.v, argv.v);
    /* The bundle's files: copies of the inputs, then texts. */
    struct {
        const char *name;
        const char *from; /* the file to copy; NULL: write text */
        char *text;
        int mode;
    } files[] = {
        {"input", t->final, NULL, 0},
        {"input.orig", t->input, NULL, 0},
        {"report.txt", NULL, cfo_xstrdup(t->report ? t->report : ""), 0644},
        {"command.txt", NULL,
         cfo_xasprintf("# from the root of a checkout of %s\n%s\n", commit, command), 0644},
        {"commit", NULL, cfo_xasprintf("%s\n", commit), 0644},
        {"environment.txt", NULL, environment_text(env.v), 0644},
        {"reproduce.sh", NULL, reproduce_script(r, ops, commit), 0755},
        {"manifest.json", NULL, manifest_json(r, ops, t, commit, command), 0644},
    };
    cfo_err err = cfo_mkdir_p(dir, d);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *p = cfo_xasprintf("%s/%s", dir, files[i].name);
        if (err == CFO_OK && files[i].from != NULL)
            err = copy_file(files[i].from, p, d);
        else if (err == CFO_OK)
            err = write_text(p, files[i].text, files[i].mode, d);
        free(p);
        free(files[i].text);
    }
    if (err == CFO_OK) {
        char *p = cfo_xasprintf("%s/persistent", dir);
        err = copy_records(&t->records, p, d);
        free(p);
    }
    if (err == CFO_OK)
        err = tar_folder(dir, tar, d);
    if (err == CFO_OK)
        *tarball = cfo_xstrdup(tar);
    free(command);
    cfo_strv_fini(&argv);
    cfo_strv_fini(&env);
    free(commit);
    free(tar);
    free(dir);
    return err;
}

/* loc ("/abs/path/file.c:12") relative to the current directory, the
 * checkout's root, when it is inside it, so code scanning can point at the
 * line; NULL for "". */
static char *relative_location(const char *loc)
{
    if (loc == NULL || loc[0] == '\0')
        return NULL;
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) != NULL) {
        size_t n = strlen(cwd);
        if (strncmp(loc, cwd, n) == 0 && loc[n] == '/')
            return cfo_xstrdup(loc + n + 1);
    }
    return cfo_xstrdup(loc);
}

cfo_err cfo_engine_pack(const char *dir, const cfo_engine_bundle_file *files, size_t n,
                        const char *tarball, cfo_diag *d)
{
    cfo_err err = cfo_mkdir_p(dir, d);
    for (size_t i = 0; err == CFO_OK && i < n; i++) {
        char *p = cfo_xasprintf("%s/%s", dir, files[i].name);
        err = files[i].from != NULL ? copy_file(files[i].from, p, d)
                                    : write_text(p, files[i].text, files[i].mode, d);
        free(p);
    }
    if (err == CFO_OK)
        err = tar_folder(dir, tarball, d);
    return err;
}

char *cfo_engine_git_head(void)
{
    return git_head();
}

char *cfo_engine_sh_quote(const char *s)
{
    return sh_quote(s);
}

/* Names one finding whose bundle could not be stored. */
static cfo_engine_finding *finding_push(cfo_engine_finding **v, size_t *n,
                                        const cfo_crash_report *rep, bool is_new, const char *repro,
                                        const char *bundle)
{
    *v = cfo_xrealloc(*v, (*n + 1) * sizeof **v);
    cfo_engine_finding *e = &(*v)[(*n)++];
    memset(e, 0, sizeof *e);
    e->signature = cfo_xstrdup(rep->signature);
    e->kind = rep->kind;
    e->is_new = is_new;
    e->repro = cfo_xstrdup(repro);
    e->bundle = cfo_xstrdup(bundle);
    e->location = relative_location(rep->location);
    return e;
}

/* The replayed bundle of this signature among v, or NULL. */
static cfo_engine_finding *replayed_of(cfo_engine_finding *v, size_t n, const char *signature)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].replayed && strcmp(v[i].signature, signature) == 0)
            return &v[i];
    return NULL;
}

/* A crash that needs the inputs before it: drops each recorded input the
 * crash does not need (one replay each, while time is left), keeping the
 * order of the rest. The crashing input itself stays whole: minimized alone
 * it would no longer crash. */
static void shrink_records(cfo_engine_run *r, const cfo_engine_ops *ops, triaged *t,
                           int64_t per_run)
{
    size_t i = 0;
    while (i < t->records.n && time_left(r) > 4 * per_run) {
        cfo_strv fewer;
        cfo_strv_init(&fewer);
        for (size_t j = 0; j < t->records.n; j++)
            if (j != i)
                cfo_strv_push(&fewer, t->records.v[j]);
        cfo_crash_report again;
        bool found = false;
        cfo_diag d = {{0}};
        if (replay(r, ops, &fewer, t->input, &again, &found, NULL, &d) == CFO_OK && found &&
            strcmp(again.signature, t->rep.signature) == 0) {
            cfo_strv_fini(&t->records);
            t->records = fewer;
            t->minimized = true;
        } else {
            cfo_strv_fini(&fewer);
            i++;
        }
    }
    printf("triage: %s needs %zu of the %zu inputs recorded before it\n", t->rep.sig_hash,
           t->records.n, t->records_recorded);
}

/* When input crashed a persistent target but not alone: replays it after
 * the inputs AFL++ recorded before it, which become t's sequence when the
 * crash comes back with them. */
static void replay_with_records(cfo_engine_run *r, const cfo_engine_ops *ops, triaged *t,
                                bool *found, cfo_diag *d)
{
    cfo_strv recs;
    cfo_strv_init(&recs);
    record_inputs(t->input, &recs);
    if (recs.n > 0) {
        free(t->report);
        t->report = NULL;
        if (replay(r, ops, &recs, t->input, &t->rep, found, &t->report, d) == CFO_OK && *found) {
            printf("triage: %s crashes after the %zu inputs recorded before it, not alone\n",
                   t->input, recs.n);
            cfo_strv_fini(&t->records);
            t->records = recs;
            t->records_recorded = recs.n;
            return;
        }
    }
    cfo_strv_fini(&recs);
}

/* Minimizes, rates and bundles a new signature; stores the bundle
 * put-if-absent. *is_new says whether this call stored it. */
static void triage_new(cfo_engine_run *r, const cfo_engine_ops *ops, triaged *t,
                       cfo_blobdir *crashes, bool *is_new, char **bundle_url)
{
    cfo_diag d = {{0}};
    const char *kname = cfo_crash_kind_name(t->rep.kind);
    /* Hangs and memory exhaustion take the whole per-input limit on every
     * try: minimizing them would eat the task's time. */
    bool minimizable = t->rep.kind == CFO_CRASH_CRASH || t->rep.kind == CFO_CRASH_LEAK;
    int64_t per_run = r->f->input_timeout_ms + 2000;
    t->final = cfo_xstrdup(t->input);
    if (t->records.n > 0)
        shrink_records(r, ops, t, per_run);
    else if (minimizable && time_left(r) > 4 * per_run) {
        char *min = cfo_xasprintf("%s/min-%s", r->work, t->rep.sig_hash);
        int64_t budget = time_left(r) / 3;
        if (ops->minimize(r, t->input, min, budget, &d) == CFO_OK && file_size(min) > 0) {
            cfo_crash_report again;
            bool found = false;
            char *out = NULL;
            if (replay(r, ops, &t->records, min, &again, &found, &out, &d) == CFO_OK && found &&
                strcmp(again.signature, t->rep.signature) == 0) {
                free(t->final);
                t->final = min;
                min = NULL;
                t->minimized = true;
                free(t->report);
                t->report = out;
                out = NULL;
            } else {
                /* The signature is normalized (recursion cycles, bug family),
                 * so a differing one is another bug or none: keep the input
                 * that is known to show this one, and say why. */
                printf("triage: minimizing %s: the minimized input shows %s, not %s; the bundle "
                       "keeps the original input\n",
                       t->rep.sig_hash, found ? again.signature : "no crash", t->rep.signature);
            }
            free(out);
        } else if (d.msg[0]) {
            printf("triage: minimizing %s: %s\n", t->rep.sig_hash, d.msg);
        }
        free(min);
    }
    t->repro_ok = 0;
    t->repro_runs = 0;
    for (int i = 0; i < r->f->reproduce_runs && time_left(r) > 2 * per_run; i++) {
        cfo_crash_report again;
        bool found = false;
        if (replay(r, ops, &t->records, t->final, &again, &found, NULL, &d) != CFO_OK)
            break;
        t->repro_runs++;
        if (found && cfo_engine_same_finding(&t->rep, &again))
            t->repro_ok++;
    }
    char *tar = NULL;
    char *name = cfo_xasprintf("%s.tar.gz", t->rep.sig_hash);
    *is_new = false;
    *bundle_url = cfo_xasprintf("%s/%s", cfo_blobdir_display(crashes), name);
    if (make_bundle(r, ops, t, &tar, &d) != CFO_OK) {
        printf("triage: %s %s: no bundle: %s\n", kname, t->rep.sig_hash, d.msg);
        *is_new = true; /* nothing stored, but nobody had it either */
        free(*bundle_url);
        *bundle_url = cfo_xstrdup("");
    } else {
        bool created = false;
        if (cfo_blobdir_put_new(crashes, name, tar, &created, &d) != CFO_OK) {
            printf("triage: storing %s: %s\n", name, d.msg);
            *is_new = true;
        } else {
            *is_new = created;
        }
    }
    printf("triage: %s %s %s, reproduced %d/%d%s, bundle %s\n", *is_new ? "new" : "known", kname,
           t->rep.signature, t->repro_ok, t->repro_runs, t->minimized ? ", minimized" : "",
           (*bundle_url)[0] ? *bundle_url : "(none)");
    free(tar);
    free(name);
}

/* Triage of every artifact: replay, dedup by signature, new or known,
 * minimize, rate, bundle. */
static cfo_err triage_all(cfo_engine_run *r, const cfo_engine_ops *ops, const char *root_url,
                          cfo_engine_finding **findings, size_t *nfindings, cfo_diag *d)
{
    if (r->artifacts.n == 0)
        return CFO_OK;
    cfo_blobdir *root = NULL, *crashes = NULL;
    char *safe = cfo_safe_name(r->target);
    char *rel = cfo_xasprintf("crashes/%s/%s", r->f->name, safe);
    free(safe);
    cfo_err err = cfo_blobdir_open(root_url, &root, d);
    if (err == CFO_OK)
        err = cfo_blobdir_sub(root, rel, &crashes, d);
    free(rel);
    cfo_strv known;
    cfo_strv_init(&known);
    if (err == CFO_OK)
        err = cfo_blobdir_list(crashes, MAX_BUNDLES, &known, d);
    if (err != CFO_OK) {
        cfo_strv_fini(&known);
        cfo_blobdir_destroy(&crashes);
        cfo_blobdir_destroy(&root);
        return err;
    }
    /* Engines save many inputs of one bug; the first input of each kind
     * goes first, so a flood of crashes cannot crowd out the one hang. */
    size_t *order = cfo_xcalloc(r->artifacts.n + 1, sizeof *order);
    size_t norder = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < r->artifacts.n; i++) {
            bool first = true;
            for (size_t j = 0; j < i && first; j++)
                first = strcmp(r->artifact_hints.v[j], r->artifact_hints.v[i]) != 0;
            if (first == (pass == 0))
                order[norder++] = i;
        }
    }
    if (norder > (size_t)r->f->max_crashes) {
        printf("triage: %zu crash inputs saved; replaying %d of them (max_crashes)\n", norder,
               r->f->max_crashes);
        norder = (size_t)r->f->max_crashes;
    }
    triaged *seen = NULL;
    size_t nseen = 0;
    for (size_t k = 0; k < norder && time_left(r) > r->f->input_timeout_ms + 2000; k++) {
        size_t i = order[k];
        triaged t = {0};
        t.input = cfo_xstrdup(r->artifacts.v[i]);
        cfo_strv_init(&t.records);
        bool found = false;
        cfo_diag rd = {{0}};
        cfo_err rerr = replay(r, ops, NULL, t.input, &t.rep, &found, &t.report, &rd);
        if (rerr == CFO_OK && !found)
            replay_with_records(r, ops, &t, &found, &rd);
        if (rerr != CFO_OK || !found) {
            /* It crashed the engine once: a finding, though one that
             * does not replay alone (state, timing). */
            cfo_crash_kind hk = CFO_CRASH_CRASH;
            cfo_crash_kind_parse(r->artifact_hints.v[i], &hk);
            memset(&t.rep, 0, sizeof t.rep);
            cfo_engine_resign(&t.rep, hk, "not reproducible on replay");
            printf("triage: %s did not crash on replay%s%s\n", t.input, rd.msg[0] ? ": " : "",
                   rd.msg);
        }
        bool dup = false;
        for (size_t j = 0; j < nseen && !dup; j++)
            dup = strcmp(seen[j].rep.signature, t.rep.signature) == 0;
        if (dup) {
            free(t.input);
            free(t.report);
            cfo_strv_fini(&t.records);
            continue;
        }
        seen = cfo_xrealloc(seen, (nseen + 1) * sizeof *seen);
        seen[nseen++] = t;
    }
    free(order);
    for (size_t i = 0; i < nseen; i++) {
        triaged *t = &seen[i];
        char *name = cfo_xasprintf("%s.tar.gz", t->rep.sig_hash);
        cfo_engine_finding *again = replayed_of(*findings, *nfindings, t->rep.signature);
        if (again != NULL) {
            /* replayed before fuzzing; fuzzing found it again */
            again->reproduced = true;
        } else if (cfo_strv_contains(&known, name)) {
            char *url = cfo_xasprintf("%s/%s", cfo_blobdir_display(crashes), name);
            printf("triage: known %s %s, bundle %s\n", cfo_crash_kind_name(t->rep.kind),
                   t->rep.signature, url);
            finding_push(findings, nfindings, &t->rep, false, "1/1", url);
            free(url);
        } else {
            bool is_new = false;
            char *url = NULL;
            triage_new(r, ops, t, crashes, &is_new, &url);
            char repro[32];
            snprintf(repro, sizeof repro, "%d/%d", t->repro_ok, t->repro_runs);
            finding_push(findings, nfindings, &t->rep, is_new, repro, url);
            free(url);
        }
        cfo_free_all(name, t->input, t->final, t->report);
        cfo_strv_fini(&t->records);
    }
    free(seen);
    cfo_strv_fini(&known);
    cfo_blobdir_destroy(&crashes);
    cfo_blobdir_destroy(&root);
    return CFO_OK;
}

/* ---- replay of stored bundles ------------------------------------------- */

/* The signature the unpacked bundle in dir was stored under, or NULL. */
static char *bundle_signature(const char *dir)
{
    char *path = cfo_xasprintf("%s/manifest.json", dir);
    cfo_buf m;
    cfo_buf_init(&m);
    char *sig = NULL;
    if (cfo_read_file(path, MANIFEST_MAX, &m, NULL) == CFO_OK &&
        cfo_json_depth_ok(m.data, m.len, 16)) {
        yajl_val root = yajl_tree_parse(m.data, NULL, 0);
        const char *at[] = {"signature", NULL};
        yajl_val v = root ? yajl_tree_get(root, at, yajl_t_string) : NULL;
        if (v != NULL)
            sig = cfo_xstrdup(YAJL_GET_STRING(v));
        yajl_tree_free(root);
    }
    cfo_buf_fini(&m);
    free(path);
    return sig;
}

/* Replays one stored bundle up to reproduce_runs times; pushes it as a
 * replayed finding. False when it could not be fetched or unpacked. */
static bool replay_bundle(cfo_engine_run *r, const cfo_engine_ops *ops, cfo_blobdir *crashes,
                          const char *name, cfo_engine_finding **findings, size_t *nfindings)
{
    cfo_diag d = {{0}};
    char *dir = cfo_xasprintf("%s/replay-%s", r->work, name);
    char *tar = cfo_xasprintf("%s.tar.gz", dir);
    char *input = cfo_xasprintf("%s/input", dir);
    char *sig = NULL;
    bool ok = false;
    if (cfo_mkdir_p(dir, &d) != CFO_OK ||
        cfo_blobdir_get(crashes, name, tar, CFO_BLOBDIR_MAX_PUT, &d) != CFO_OK) {
        printf("replay: %s: %s\n", name, d.msg);
        goto out;
    }
    char *argv[] = {"tar", "-xzf", tar, "-C", dir, NULL};
    if (!helper_succeeds(argv) || (sig = bundle_signature(dir)) == NULL ||
        access(input, R_OK) != 0) {
        printf("replay: %s is not a bundle with an input and a signature; skipped\n", name);
        goto out;
    }
    cfo_crash_report want;
    memset(&want, 0, sizeof want);
    snprintf(want.signature, sizeof want.signature, "%s", sig);
    char kind[16];
    snprintf(kind, sizeof kind, "%.*s", (int)strcspn(sig, ":"), sig);
    if (cfo_crash_kind_parse(kind, &want.kind) != 0)
        want.kind = CFO_CRASH_CRASH;
    int64_t per_run = r->f->input_timeout_ms + 2000;
    int runs = r->f->reproduce_runs > 0 ? r->f->reproduce_runs : 1;
    int tried = 0;
    bool reproduced = false;
    cfo_strv records;
    cfo_strv_init(&records);
    bundle_records(dir, &records);
    for (; tried < runs && !reproduced && time_left(r) > 2 * per_run; tried++) {
        cfo_crash_report got;
        bool found = false;
        if (replay(r, ops, records.n ? &records : NULL, input, &got, &found, NULL, &d) != CFO_OK)
            break;
        reproduced = found && cfo_engine_same_finding(&want, &got);
        if (reproduced)
            memcpy(want.location, got.location, sizeof want.location);
    }
    char repro[32];
    snprintf(repro, sizeof repro, "%d/%d", reproduced ? 1 : 0, tried);
    char *url = cfo_xasprintf("%s/%s", cfo_blobdir_display(crashes), name);
    cfo_engine_finding *e = finding_push(findings, nfindings, &want, false, repro, url);
    e->replayed = true;
    e->reproduced = reproduced;
    printf("replay: %s %s after %d run%s: %s\n", reproduced ? "reproduced" : "not reproduced", sig,
           tried, tried == 1 ? "" : "s", url);
    free(url);
    cfo_strv_fini(&records);
    ok = tried > 0;
out:
    cfo_free_all(sig, input, tar, dir);
    return ok;
}

/* Before fuzzing, replays each bundle stored for this target on this commit:
 * a finding that no longer reproduces here is fixed here, and a fixed one that
 * reproduces again has regressed (the dataset's findings keep that
 * lifecycle). Bounded by max_crashes and by the time left for triage. */
static void replay_known(cfo_engine_run *r, const cfo_engine_ops *ops, const char *root_url,
                         cfo_engine_finding **findings, size_t *nfindings)
{
    cfo_diag d = {{0}};
    cfo_blobdir *root = NULL, *crashes = NULL;
    char *safe = cfo_safe_name(r->target);
    char *rel = cfo_xasprintf("crashes/%s/%s", r->f->name, safe);
    free(safe);
    cfo_strv known;
    cfo_strv_init(&known);
    if (cfo_blobdir_open(root_url, &root, &d) != CFO_OK ||
        cfo_blobdir_sub(root, rel, &crashes, &d) != CFO_OK ||
        cfo_blobdir_list(crashes, MAX_BUNDLES, &known, &d) != CFO_OK) {
        printf("replay: cannot list the stored bundles: %s\n", d.msg);
        goto out;
    }
    size_t done = 0;
    for (size_t i = 0; i < known.n; i++) {
        size_t len = strlen(known.v[i]);
        if (len <= 7 || strcmp(known.v[i] + len - 7, ".tar.gz") != 0)
            continue;
        if (done == (size_t)r->f->max_crashes) {
            printf("replay: %zu bundles stored; replayed %zu of them (max_crashes)\n", known.n,
                   done);
            break;
        }
        if (replay_bundle(r, ops, crashes, known.v[i], findings, nfindings))
            done++;
    }
out:
    free(rel);
    cfo_strv_fini(&known);
    cfo_blobdir_destroy(&crashes);
    cfo_blobdir_destroy(&root);
}

/* ---- corpus sharing ----------------------------------------------------- */

typedef struct syncer {
    const cfo_engine_run *r;
    const char *url; /* the target's corpus folder */
    char *pulled;    /* everything pulled so far (kept, so each pull is only the new) */
    /* Content names, sorted: every input the engine has had (linked to it or
     * seen in its queue), never handed to it again, so an input it dropped
     * (libFuzzer deletes one it replaced by a smaller one) stays dropped;
     * those that came from storage; and those it made itself. */
    cfo_strv had, from_store, own;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    size_t pushed, pulled_new, rounds;
} syncer;

static void sync_init(syncer *s)
{
    cfo_strv_init(&s->had);
    cfo_strv_init(&s->from_store);
    cfo_strv_init(&s->own);
}

static void sync_fini(syncer *s)
{
    free(s->pulled);
    cfo_strv_fini(&s->had);
    cfo_strv_fini(&s->from_store);
    cfo_strv_fini(&s->own);
}

/* Notes names the engine has had in its queue: what it made is its own. */
static void note_had(syncer *s, const cfo_strv *names)
{
    for (size_t i = 0; i < names->n; i++) {
        if (cfo_strv_sorted_has(&s->had, names->v[i]))
            continue;
        cfo_strv_sorted_add(&s->had, names->v[i]);
        if (!cfo_strv_sorted_has(&s->from_store, names->v[i]))
            cfo_strv_sorted_add(&s->own, names->v[i]);
    }
}

/* Pushes the engine's queue. Every name pushed is noted as had first, even
 * one the engine deletes right after: the next pull must not hand it back. */
static cfo_err push_queue(syncer *s, cfo_blobdir *remote, cfo_corpus_stats *st, cfo_diag *d)
{
    cfo_strv names;
    cfo_strv_init(&names);
    cfo_err err = cfo_corpus_push_names(remote, s->r->queue_dir, NULL, st, &names, d);
    note_had(s, &names);
    cfo_strv_fini(&names);
    return err;
}

/* Hands the engine the inputs pulled that it never had: storage also holds
 * what this run pushed, and what the engine itself discarded since. */
static size_t link_new(syncer *s, const char *to)
{
    return cfo_corpus_link_new(s->pulled, to, &s->had, &s->from_store);
}

static void sync_round(syncer *s, cfo_blobdir *remote)
{
    cfo_diag d = {{0}};
    cfo_corpus_stats st = {0};
    if (is_dir(s->r->queue_dir) && push_queue(s, remote, &st, &d) != CFO_OK)
        cfo_warn("corpus push to %s: %s", s->url, d.msg);
    s->pushed += st.transferred;
    memset(&st, 0, sizeof st);
    if (cfo_corpus_pull(remote, s->pulled, &st, &d) != CFO_OK)
        cfo_warn("corpus pull from %s: %s", s->url, d.msg);
    s->pulled_new += link_new(s, s->r->incoming_dir);
    s->rounds++;
}

static void *sync_main(void *arg)
{
    syncer *s = arg;
    cfo_blobdir *remote = NULL;
    cfo_diag d = {{0}};
    if (cfo_blobdir_open(s->url, &remote, &d) != CFO_OK) {
        cfo_warn("corpus sharing off: %s", d.msg);
        return NULL;
    }
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (s->r->f->sync_interval_ms % 1000) * 1000000;
        ts.tv_sec += (time_t)(s->r->f->sync_interval_ms / 1000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT) {
        }
        if (s->stop)
            break;
        pthread_mutex_unlock(&s->mu);
        sync_round(s, remote);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    cfo_blobdir_destroy(&remote);
    return NULL;
}

static bool sync_start(syncer *s)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    s->stop = false;
    return pthread_create(&s->thread, NULL, sync_main, s) == 0;
}

static void sync_stop(syncer *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

/* ---- the task ----------------------------------------------------------- */

static atomic_bool stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, true);
}

/* Copies the seed inputs into dir under their content names: of each seed
 * folder, its <target>/ sub-folder when there is one, else its files. */
static size_t add_seeds(const cfo_fuzzer *f, const char *target, const char *dir)
{
    cfo_strv folders;
    cfo_strv_init(&folders);
    cfo_strv_split_ws(&folders, f->seeds);
    size_t n = 0;
    for (size_t s = 0; s < folders.n; s++) {
        char *sub = cfo_xasprintf("%s/%s", folders.v[s], target);
        const char *from = is_dir(sub) ? sub : folders.v[s];
        n += cfo_corpus_import(from, dir);
        free(sub);
    }
    cfo_strv_fini(&folders);
    return n;
}

static void run_fini(cfo_engine_run *r)
{
    cfo_engine_remove_work(r->work);
    cfo_free_all(r->target_path, r->target_abs, r->work, r->corpus_dir, r->queue_dir,
                 r->incoming_dir, r->artifact_dir);
    cfo_strv_fini(&r->artifacts);
    cfo_strv_fini(&r->artifact_hints);
}

/* The last push: what the engine found since the last round. Then what
 * this run pushed and the engine discarded since is deleted again, so the
 * store holds the engine's final corpus, not every input it passed through. */
static void final_push(syncer *sync, cfo_blobdir *remote)
{
    cfo_diag d = {{0}};
    cfo_corpus_stats st = {0};
    cfo_strv now;
    cfo_strv_init(&now);
    cfo_corpus_content_names(sync->r->queue_dir, &now);
    note_had(sync, &now);
    if (push_queue(sync, remote, &st, &d) != CFO_OK) {
        printf("corpus: final push failed: %s\n", d.msg);
        cfo_strv_fini(&now);
        return;
    }
    sync->pushed += st.transferred;
    size_t dropped = 0;
    for (size_t i = 0; i < sync->own.n; i++) {
        if (cfo_strv_sorted_has(&now, sync->own.v[i]))
            continue;
        if (cfo_blobdir_delete(remote, sync->own.v[i], &d) != CFO_OK) {
            printf("corpus: cannot delete a discarded input: %s\n", d.msg);
            break;
        }
        dropped++;
    }
    printf("corpus: %zu inputs pushed, %zu pulled from other runs during %zu sync rounds; "
           "%zu in the engine's queue; %zu it discarded deleted from storage\n",
           sync->pushed, sync->pulled_new, sync->rounds, now.n, dropped);
    cfo_strv_fini(&now);
}

/* Merges the stored corpus when it has grown past prune_factor times its
 * last minimized size, in the time the task has left; a failure leaves the
 * corpus as it was and the task's verdict alone. */
static void prune_if_grown(const cfo_engine_run *r, const cfo_engine_ops *ops, cfo_blobdir *remote)
{
    cfo_diag d = {{0}};
    cfo_strv names;
    cfo_strv_init(&names);
    bool due = false;
    size_t last = 0;
    cfo_err err = cfo_blobdir_list(remote, CFO_CORPUS_MAX_FILES, &names, &d);
    if (err == CFO_OK)
        err = cfo_prune_due(r->f, r->target, names.n, &due, &last, &d);
    int64_t left = time_left(r);
    if (err == CFO_OK && due && left < MIN_FUZZ_MS) {
        printf("corpus: %zu inputs, past %d times the %zu of its last minimization, but no time "
               "is left to merge it\n",
               names.n, r->f->prune_factor, last);
    } else if (err == CFO_OK && due) {
        printf("corpus: %zu inputs, past %d times the %zu of its last minimization: merging\n",
               names.n, r->f->prune_factor, last);
        fflush(stdout);
        cfo_prune_stats st = {0};
        err = cfo_prune_corpus(r->f, ops, r->target, r->target_path, remote, left, &st, &d);
        if (err == CFO_OK)
            printf("corpus: %zu inputs minimized to %zu (%zu uploaded, %zu deleted)\n", st.before,
                   st.after, st.uploaded, st.deleted);
    }
    if (err != CFO_OK)
        printf("corpus: not pruned: %s\n", d.msg);
    cfo_strv_fini(&names);
}

/* The target's executable in the worktree, which must be one of ops'. */
static cfo_err locate_target(cfo_engine_run *r, const cfo_engine_ops *ops, cfo_diag *d)
{
    r->target_path = cfo_xasprintf("%s/%s", r->f->targets_dir, r->target);
    char abs[PATH_MAX];
    if (realpath(r->target_path, abs) == NULL || access(abs, X_OK) != 0)
        return cfo_diag_set(d, CFO_ENOTFOUND, "no target %s: %s is not an executable", r->target,
                            r->target_path);
    r->target_abs = cfo_xstrdup(abs);
    if (!ops->is_target(r->target_abs))
        return cfo_diag_set(d, CFO_EINVAL, "%s is not a %s target", r->target_path, ops->engine);
    return CFO_OK;
}

/* The task's figures and summary from its findings; fails when a finding's
 * kind is one the fuzzer's fail_on names. */
static cfo_fuzz_verdict report_findings(const cfo_engine_run *r, const cfo_engine_finding *findings,
                                        size_t nfindings, cfo_fuzz_result *res)
{
    bool fail = false;
    int64_t fresh = 0;
    for (size_t i = 0; i < nfindings; i++) {
        if (findings[i].is_new)
            fresh++;
        /* a bundle that no longer reproduces here is not a failure here */
        if (findings[i].replayed && !findings[i].reproduced)
            continue;
        if (r->f->fail_on & (1u << findings[i].kind))
            fail = true;
    }
    res->findings = fresh;
    size_t listed = cfo_engine_findings_json(findings, nfindings, &res->crashes);
    cfo_buf_reset(&res->summary);
    cfo_buf_printf(&res->summary, "%lld executions in %.0fs; ", (long long)r->execs,
                   (double)r->fuzz_ms / 1000.0);
    if (r->stats[0] != '\0')
        cfo_buf_printf(&res->summary, "%s; ", r->stats);
    if (nfindings == 0) {
        cfo_buf_puts(&res->summary, "no crash");
    } else {
        cfo_buf_printf(&res->summary, "%zu signature%s (%lld new): ", nfindings,
                       nfindings == 1 ? "" : "s", (long long)fresh);
        for (size_t i = 0; i < nfindings && i < 3; i++)
            cfo_buf_printf(&res->summary, "%s%s%s", i ? "; " : "", findings[i].signature,
                           findings[i].is_new                                ? ""
                           : findings[i].replayed && !findings[i].reproduced ? " (fixed here)"
                                                                             : " (known)");
        if (nfindings > 3)
            cfo_buf_puts(&res->summary, "; ...");
        if (listed < nfindings)
            cfo_buf_printf(&res->summary, " (%zu not listed: too long)", nfindings - listed);
    }
    return fail ? CFO_FUZZ_FAIL : CFO_FUZZ_PASS;
}

/* The coverage step, when the fuzzer has a coverage build: the corpus the
 * task ends with (what it started from, found and pulled) replayed through
 * it. A step that fails leaves the record without coverage and says why in
 * the summary; the fuzzing's own verdict stands. */
static void measure_coverage(const cfo_engine_run *r, const char *pulled, cfo_fuzz_result *res)
{
    if (!cfo_fuzzer_has_coverage(r->f))
        return;
    const char *dirs[3];
    size_t ndirs = 0;
    dirs[ndirs++] = r->corpus_dir;
    if (strcmp(r->queue_dir, r->corpus_dir) != 0 && is_dir(r->queue_dir))
        dirs[ndirs++] = r->queue_dir;
    if (pulled != NULL && is_dir(pulled))
        dirs[ndirs++] = pulled;
    printf("coverage: replaying the corpus through %s/%s\n", r->f->coverage_dir, r->target);
    fflush(stdout);
    cfo_diag d = {{0}};
    cfo_coverage cov;
    char *commit = cfo_engine_commit(&d);
    cfo_err err = commit != NULL
                      ? cfo_engine_coverage(r, dirs, ndirs, commit, r->deadline_ms, &cov, &d)
                      : CFO_ENOTFOUND;
    free(commit);
    cfo_engine_coverage_result(err, &cov, &d, res);
}

static void findings_free(cfo_engine_finding *findings, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cfo_free_all(findings[i].signature, findings[i].repro, findings[i].bundle,
                     findings[i].location);
    }
    free(findings);
}

cfo_fuzz_verdict cfo_engine_run_task(const cfo_fuzzer *f, const cfo_engine_ops *ops,
                                     const char *target, cfo_fuzz_result *res, cfo_diag *d)
{
    int64_t start = cfo_now_ms();
    int64_t task_ms = cfo_engine_task_timeout_ms();
    cfo_engine_run r = {0};
    r.f = f;
    r.target = target;
    r.cancel = &stop_requested;
    cfo_strv_init(&r.artifacts);
    cfo_strv_init(&r.artifact_hints);
    /* Leave the worker's grace period for the final push and the report. */
    r.deadline_ms = task_ms > 0 ? start + task_ms - task_ms / 20 : 0;
    cfo_fuzz_verdict verdict = CFO_FUZZ_ERROR;
    char *root_url = NULL, *url = NULL;
    cfo_blobdir *remote = NULL;
    cfo_engine_finding *findings = NULL;
    size_t nfindings = 0;
    syncer sync = {0};
    sync_init(&sync);
    bool syncing = false;

    /* SIGTERM and SIGINT stop the engine, which then saves the corpus. */
    struct sigaction old_term, old_int;
    cfo_exec_catch_stop(on_stop, &old_term, &old_int);

    if (strchr(target, '/') != NULL) {
        cfo_diag_set(d, CFO_EINVAL, "target '%s' is not a name in %s (cfo-fuzz %s --discover)",
                     target, f->targets_dir, f->name);
        goto out;
    }
    if (cfo_engine_preflight(d) != CFO_OK ||
        cfo_engine_build(f, task_ms > 0 ? task_ms / 2 : 0, d) != CFO_OK)
        goto out;
    if (locate_target(&r, ops, d) != CFO_OK)
        goto out;
    char *prefix = cfo_xasprintf("cfo-%s", ops->engine);
    r.work = cfo_make_temp_dir(prefix, d);
    free(prefix);
    if (r.work == NULL)
        goto out;
    printf("work: %s\n", r.work);
    r.corpus_dir = cfo_xasprintf("%s/corpus", r.work);
    if (cfo_mkdir_p(r.corpus_dir, d) != CFO_OK || ops->prepare(&r, d) != CFO_OK)
        goto out;

    /* The corpus: what storage has, plus the seeds. */
    root_url = cfo_engine_corpus_url(f);
    if (cfo_engine_target_folder(f, "corpus", target, &remote, d) != CFO_OK)
        goto out;
    url = cfo_xstrdup(cfo_blobdir_display(remote));
    sync.r = &r;
    sync.url = url;
    sync.pulled = cfo_xasprintf("%s/pulled", r.work);
    cfo_corpus_stats st = {0};
    if (cfo_corpus_pull(remote, sync.pulled, &st, d) != CFO_OK) {
        cfo_diag_prefix(d, "corpus %s", url);
        goto out;
    }
    link_new(&sync, r.corpus_dir);
    size_t seeds = add_seeds(f, target, r.corpus_dir);
    printf("corpus: %zu inputs from %s, %zu seeds\n", st.present + st.transferred, url, seeds);

    replay_known(&r, ops, root_url, &findings, &nfindings);

    r.fuzz_ms = cfo_engine_fuzz_ms(f, task_ms, cfo_now_ms() - start);
    if (r.fuzz_ms < MIN_FUZZ_MS) {
        cfo_diag_set(d, CFO_ETIMEDOUT,
                     "no time left to fuzz: the task's timeout (%lld ms) less triage_time leaves "
                     "%lld ms after the build",
                     (long long)task_ms, (long long)r.fuzz_ms);
        goto out;
    }
    syncing = sync_start(&sync);
    printf("%s: fuzzing %s for %.1fs\n", ops->engine, r.target_path, (double)r.fuzz_ms / 1000.0);
    fflush(stdout);
    cfo_err err = ops->fuzz(&r, d);
    if (syncing)
        sync_stop(&sync);
    syncing = false;
    final_push(&sync, remote);
    if (err != CFO_OK)
        goto out;
    if (atomic_load(&stop_requested)) {
        cfo_diag_set(d, CFO_ETIMEDOUT, "stopped by a signal; the corpus was saved");
        goto out;
    }
    res->count = r.execs;
    if (triage_all(&r, ops, root_url, &findings, &nfindings, d) != CFO_OK)
        goto out;

    verdict = report_findings(&r, findings, nfindings, res);
    measure_coverage(&r, sync.pulled, res);
    prune_if_grown(&r, ops, remote);
out:
    if (syncing)
        sync_stop(&sync);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGINT, &old_int, NULL);
    if (verdict == CFO_FUZZ_ERROR)
        res->count = r.execs;
    findings_free(findings, nfindings);
    sync_fini(&sync);
    cfo_blobdir_destroy(&remote);
    free(root_url);
    free(url);
    run_fini(&r);
    return verdict;
}
