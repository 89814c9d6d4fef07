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

#include "cfo_blobdir.h"
#include "cfo_corpus.h"
#include "cfo_digest.h"
#include "cfo_engine_cov.h"
#include "cfo_exec.h"
#include "cfo_json.h"
#include "cfo_log.h"

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
    const char *mode = env != NULL ? " (coverage)" : "";
    if (access(stamp, F_OK) == 0) {
        printf("build%s: up to date (%s)\n", mode, cmd);
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
        err = write_text(stamp, cmd, 0644, d);
    }
    free(tail);
out:
    if (fd >= 0)
        close(fd); /* releases the lock */
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

static char *find_symbolizer(cfo_diag *d)
{
    const char *given = getenv("ASAN_SYMBOLIZER_PATH");
    if (given != NULL && given[0] != '\0') {
        char *p = cfo_which(given);
        if (p == NULL)
            cfo_diag_set(d, CFO_ENOTFOUND,
                         "ASAN_SYMBOLIZER_PATH names %s, which is not an executable", given);
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
    cfo_err err = cfo_triage_parse(output, len, out, d);
    if (exit_code == CFO_ENGINE_TIMEOUT_EXIT) {
        /* The replay was stopped by timeout(1) with SIGABRT so the sanitizer
         * printed where it hung: a hang, whatever the signal report says. */
        if (err == CFO_ENOTFOUND) {
            memset(out, 0, sizeof *out);
            err = CFO_OK;
        }
        if (err == CFO_OK && out->kind != CFO_CRASH_TIMEOUT)
            cfo_engine_resign(out, CFO_CRASH_TIMEOUT, "timeout");
    }
    return err;
}

/* One replay of input; CFO_OK with *found false when it did not crash. */
static cfo_err replay(cfo_engine_run *r, const cfo_engine_ops *ops, const char *input,
                      cfo_crash_report *rep, bool *found, char **output, cfo_diag *d)
{
    cfo_strv argv, env;
    cfo_strv_init(&argv);
    cfo_strv_init(&env);
    ops->replay_argv(r->f, r->target_path, input, &argv, &env);
    /* libFuzzer and timeout(1) bound the replay; this only bounds a broken one. */
    int64_t limit = 3 * r->f->input_timeout_ms + 30000;
    char *out = NULL;
    size_t len = 0;
    int code = 0;
    cfo_err err = cfo_engine_exec(argv.v, NULL, env.v, limit, CFO_ENGINE_REPORT_CAP, &out, &len,
                                  &code, NULL, d);
    *found = false;
    if (err == CFO_OK) {
        cfo_diag why;
        *found = cfo_engine_classify(out, len, code, rep, &why) == CFO_OK;
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
            cfo_buf_puts(&line, " \"$input\"");
            continue;
        }
        char *q = sh_quote(argv.v[i]);
        cfo_buf_printf(&line, " %s", q);
        free(q);
    }
    char *qt = sh_quote(r->target_path);
    char *qb = sh_quote(r->f->build);
    char *script = cfo_xasprintf(
        "#!/bin/sh\n"
        "# Replays this bundle's input against %s (fuzzer %s, %s engine)\n"
        "# from the root of a checkout of commit %s:\n"
        "#   cd CHECKOUT && sh /path/to/bundle/reproduce.sh [INPUT]\n"
        "# The target is built with the build command when it is missing, or\n"
        "# always with CFO_REBUILD=1. Exit status: the target's (0: no crash);\n"
        "# %d: the replay could not be set up; %d: the input hung.\n"
        "set -u\n"
        "here=$(cd \"$(dirname \"$0\")\" && pwd)\n"
        "input=${1:-$here/input}\n"
        "target=%s\n"
        "build=%s\n"
        "if [ \"${CFO_REBUILD:-0}\" = 1 ] || [ ! -x \"$target\" ]; then\n"
        "    if [ -z \"$build\" ]; then\n"
        "        echo \"reproduce.sh: $target is missing and there is no build command\" >&2\n"
        "        exit %d\n"
        "    fi\n"
        "    sh -c \"$build\" >&2 || { echo \"reproduce.sh: the build failed\" >&2; exit %d; }\n"
        "    [ -x \"$target\" ] || { echo \"reproduce.sh: the build made no $target\" >&2; exit "
        "%d; }\n"
        "fi\n"
        "%s\n",
        r->target, r->f->name, cfo_kind_info_of(r->f->kind)->name, commit,
        CFO_ENGINE_REPRO_SETUP_FAILED, CFO_ENGINE_TIMEOUT_EXIT, qt, qb,
        CFO_ENGINE_REPRO_SETUP_FAILED, CFO_ENGINE_REPRO_SETUP_FAILED, CFO_ENGINE_REPRO_SETUP_FAILED,
        line.data);
    free(qt);
    free(qb);
    cfo_buf_fini(&line);
    cfo_strv_fini(&argv);
    cfo_strv_fini(&env);
    return script;
}

static char *manifest_json(const cfo_engine_run *r, const cfo_engine_ops *ops, const triaged *t,
                           const char *commit, const char *command)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_config(g, yajl_gen_beautify, 1);
    yajl_gen_map_open(g);
    cfo_json_int(g, "version", 1);
    cfo_json_str(g, "fuzzer", r->f->name);
    cfo_json_str(g, "engine", ops->engine);
    cfo_json_str(g, "target", r->target);
    cfo_json_str(g, "target_path", r->target_path);
    char *sig = json_safe(t->rep.signature);
    cfo_json_str(g, "signature", sig);
    free(sig);
    cfo_json_str(g, "sig_hash", t->rep.sig_hash);
    cfo_json_str(g, "kind", cfo_crash_kind_name(t->rep.kind));
    char *type = json_safe(t->rep.type);
    cfo_json_str(g, "type", type);
    free(type);
    cfo_json_key(g, "frames");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < t->rep.nframes; i++) {
        char *fr = json_safe(t->rep.frames[i]);
        yajl_gen_string(g, (const unsigned char *)fr, strlen(fr));
        free(fr);
    }
    yajl_gen_array_close(g);
    char *loc = json_safe(t->rep.location);
    cfo_json_str(g, "location", loc);
    free(loc);
    cfo_json_str(g, "commit", commit);
    char *build = json_safe(r->f->build);
    cfo_json_str(g, "build", build);
    free(build);
    char *cmd = json_safe(command);
    cfo_json_str(g, "command", cmd);
    free(cmd);
    char repro[32];
    snprintf(repro, sizeof repro, "%d/%d", t->repro_ok, t->repro_runs);
    cfo_json_str(g, "repro", repro);
    cfo_json_bool(g, "minimized", t->minimized);
    cfo_json_int(g, "input_size", file_size(t->final));
    cfo_json_int(g, "original_size", file_size(t->input));
    cfo_json_int(g, "input_timeout_ms", r->f->input_timeout_ms);
    cfo_json_int(g, "input_memory_limit_kb", r->f->input_memory_kb);
    cfo_json_time(g, "created", cfo_wall_ms());
    yajl_gen_map_close(g);
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    char *text = cfo_xstrndup((const char *)buf, len);
    yajl_gen_free(g);
    return text;
}

/* AFL++ saves the inputs that preceded a crash of a persistent target as
 * RECORD:<id>,cnt:<n> beside it (AFL_PERSISTENT_RECORD). */
static void copy_persistent_record(const char *artifact, const char *dest, cfo_diag *d)
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
    bool made = false;
    for (size_t i = 0; i < names.n; i++) {
        if (strncmp(names.v[i], prefix, strlen(prefix)) != 0)
            continue;
        if (!made && cfo_mkdir_p(dest, d) != CFO_OK)
            break;
        made = true;
        char *src = cfo_xasprintf("%s%s", dir, names.v[i]);
        char *dst = cfo_xasprintf("%s/%s", dest, names.v[i]);
        copy_file(src, dst, d);
        free(src);
        free(dst);
    }
    cfo_strv_fini(&names);
    free(prefix);
    free(dir);
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
        cfo_diag ignore;
        copy_persistent_record(t->input, p, &ignore);
        free(p);
    }
    if (err == CFO_OK) {
        char *targv[] = {"tar", "-czf", tar, "-C", dir, ".", NULL};
        cfo_capture cap;
        memset(&cap, 0, sizeof cap);
        err = cfo_exec_capture(targv, NULL, NULL, HELPER_TIMEOUT_MS, 65536, &cap, d);
        if (err == CFO_OK && cap.exit_code != 0)
            err = cfo_diag_set(d, CFO_ECHILD, "tar failed: %s", tail_of(cap.err, 400));
        cfo_capture_fini(&cap);
    }
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

/* Names one finding whose bundle could not be stored. */
static void finding_push(cfo_engine_finding **v, size_t *n, const cfo_crash_report *rep,
                         bool is_new, const char *repro, const char *bundle)
{
    *v = cfo_xrealloc(*v, (*n + 1) * sizeof **v);
    cfo_engine_finding *e = &(*v)[(*n)++];
    e->signature = cfo_xstrdup(rep->signature);
    e->kind = rep->kind;
    e->is_new = is_new;
    e->repro = cfo_xstrdup(repro);
    e->bundle = cfo_xstrdup(bundle);
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
    if (minimizable && time_left(r) > 4 * per_run) {
        char *min = cfo_xasprintf("%s/min-%s", r->work, t->rep.sig_hash);
        int64_t budget = time_left(r) / 3;
        if (ops->minimize(r, t->input, min, budget, &d) == CFO_OK && file_size(min) > 0) {
            cfo_crash_report again;
            bool found = false;
            char *out = NULL;
            if (replay(r, ops, min, &again, &found, &out, &d) == CFO_OK && found &&
                strcmp(again.signature, t->rep.signature) == 0) {
                free(t->final);
                t->final = min;
                min = NULL;
                t->minimized = true;
                free(t->report);
                t->report = out;
                out = NULL;
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
        if (replay(r, ops, t->final, &again, &found, NULL, &d) != CFO_OK)
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
        bool found = false;
        cfo_diag rd = {{0}};
        if (replay(r, ops, t.input, &t.rep, &found, &t.report, &rd) != CFO_OK || !found) {
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
            continue;
        }
        seen = cfo_xrealloc(seen, (nseen + 1) * sizeof *seen);
        seen[nseen++] = t;
    }
    free(order);
    for (size_t i = 0; i < nseen; i++) {
        triaged *t = &seen[i];
        char *name = cfo_xasprintf("%s.tar.gz", t->rep.sig_hash);
        if (cfo_strv_contains(&known, name)) {
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
        free(name);
        free(t->input);
        free(t->final);
        free(t->report);
    }
    free(seen);
    cfo_strv_fini(&known);
    cfo_blobdir_destroy(&crashes);
    cfo_blobdir_destroy(&root);
    return CFO_OK;
}

/* ---- corpus sharing ----------------------------------------------------- */

typedef struct syncer {
    const cfo_engine_run *r;
    const char *url; /* the target's corpus folder */
    char *pulled;    /* everything pulled so far (kept, so each pull is only the new) */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    size_t pushed, pulled_new, rounds;
} syncer;

/* Hands the engine the inputs pulled since the last round (a hard link
 * appears whole, never half-written), but not the ones it has itself:
 * storage also holds what this run pushed. */
static size_t link_new(const char *from, const char *to, const char *own)
{
    cfo_strv names, mine;
    cfo_strv_init(&names);
    cfo_strv_init(&mine);
    cfo_list_files(from, &names, NULL);
    if (own != NULL && strcmp(own, to) != 0)
        cfo_corpus_content_names(own, &mine);
    size_t n = 0;
    for (size_t i = 0; i < names.n; i++) {
        if (cfo_strv_sorted_has(&mine, names.v[i]))
            continue;
        char *a = cfo_xasprintf("%s/%s", from, names.v[i]);
        char *b = cfo_xasprintf("%s/%s", to, names.v[i]);
        if (link(a, b) == 0)
            n++;
        free(a);
        free(b);
    }
    cfo_strv_fini(&names);
    cfo_strv_fini(&mine);
    return n;
}

static void sync_round(syncer *s, cfo_blobdir *remote)
{
    cfo_diag d = {{0}};
    cfo_corpus_stats st = {0};
    if (is_dir(s->r->queue_dir) &&
        cfo_corpus_push(remote, s->r->queue_dir, NULL, &st, &d) != CFO_OK)
        cfo_warn("corpus push to %s: %s", s->url, d.msg);
    s->pushed += st.transferred;
    memset(&st, 0, sizeof st);
    if (cfo_corpus_pull(remote, s->pulled, &st, &d) != CFO_OK)
        cfo_warn("corpus pull from %s: %s", s->url, d.msg);
    s->pulled_new += link_new(s->pulled, s->r->incoming_dir, s->r->queue_dir);
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

static size_t count_files(const char *dir)
{
    cfo_strv names;
    cfo_strv_init(&names);
    cfo_list_files(dir, &names, NULL);
    size_t n = names.n;
    cfo_strv_fini(&names);
    return n;
}

static void run_fini(cfo_engine_run *r)
{
    if (r->work != NULL && getenv("CFO_ENGINE_KEEP_WORK") == NULL)
        cfo_remove_tree(r->work, NULL);
    free(r->target_path);
    free(r->target_abs);
    free(r->work);
    free(r->corpus_dir);
    free(r->queue_dir);
    free(r->incoming_dir);
    free(r->artifact_dir);
    cfo_strv_fini(&r->artifacts);
    cfo_strv_fini(&r->artifact_hints);
}

/* The last push: what the engine found since the last round. */
static void final_push(syncer *sync, cfo_blobdir *remote)
{
    cfo_diag d = {{0}};
    cfo_corpus_stats st = {0};
    if (cfo_corpus_push(remote, sync->r->queue_dir, NULL, &st, &d) != CFO_OK)
        printf("corpus: final push failed: %s\n", d.msg);
    sync->pushed += st.transferred;
    printf("corpus: %zu inputs pushed, %zu pulled from other runs during %zu sync rounds; "
           "%zu in the engine's queue\n",
           sync->pushed, sync->pulled_new, sync->rounds, count_files(sync->r->queue_dir));
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
        if (r->f->fail_on & (1u << findings[i].kind))
            fail = true;
    }
    res->findings = fresh;
    size_t listed = cfo_engine_findings_json(findings, nfindings, &res->crashes);
    cfo_buf_reset(&res->summary);
    cfo_buf_printf(&res->summary, "%lld executions in %.0fs; ", (long long)r->execs,
                   (double)r->fuzz_ms / 1000.0);
    if (nfindings == 0) {
        cfo_buf_puts(&res->summary, "no crash");
    } else {
        cfo_buf_printf(&res->summary, "%zu signature%s (%lld new): ", nfindings,
                       nfindings == 1 ? "" : "s", (long long)fresh);
        for (size_t i = 0; i < nfindings && i < 3; i++)
            cfo_buf_printf(&res->summary, "%s%s%s", i ? "; " : "", findings[i].signature,
                           findings[i].is_new ? "" : " (known)");
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
    if (r->f->coverage_dir[0] == '\0')
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
    if (err != CFO_OK) {
        printf("coverage: not measured: %s\n", d.msg);
        cfo_buf_printf(&res->summary, "; coverage not measured: %.300s", d.msg);
        return;
    }
    char *json = cfo_coverage_format(&cov);
    cfo_buf_reset(&res->coverage);
    cfo_buf_puts(&res->coverage, json);
    free(json);
    printf("coverage: lines %lld/%lld, functions %lld/%lld, regions %lld/%lld in %.1fs\n",
           (long long)cov.lines[0], (long long)cov.lines[1], (long long)cov.functions[0],
           (long long)cov.functions[1], (long long)cov.regions[0], (long long)cov.regions[1],
           cov.seconds);
    cfo_buf_printf(&res->summary, "; coverage: %.1f%% of lines", cfo_coverage_line_pct(&cov));
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
    cfo_blobdir *root = NULL, *remote = NULL;
    cfo_engine_finding *findings = NULL;
    size_t nfindings = 0;
    syncer sync = {0};
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
    char *safe = cfo_safe_name(target);
    char *rel = cfo_xasprintf("corpus/%s/%s", f->name, safe);
    free(safe);
    cfo_err err = cfo_blobdir_open(root_url, &root, d);
    if (err == CFO_OK)
        err = cfo_blobdir_sub(root, rel, &remote, d);
    free(rel);
    if (err != CFO_OK)
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
    link_new(sync.pulled, r.corpus_dir, NULL);
    size_t seeds = add_seeds(f, target, r.corpus_dir);
    printf("corpus: %zu inputs from %s, %zu seeds\n", st.present + st.transferred, url, seeds);

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
    err = ops->fuzz(&r, d);
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
out:
    if (syncing)
        sync_stop(&sync);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGINT, &old_int, NULL);
    if (verdict == CFO_FUZZ_ERROR)
        res->count = r.execs;
    for (size_t i = 0; i < nfindings; i++) {
        free(findings[i].signature);
        free(findings[i].repro);
        free(findings[i].bundle);
    }
    free(findings);
    free(sync.pulled);
    cfo_blobdir_destroy(&remote);
    cfo_blobdir_destroy(&root);
    free(root_url);
    free(url);
    run_fini(&r);
    return verdict;
}
