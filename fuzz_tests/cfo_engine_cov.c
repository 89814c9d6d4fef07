/* cfo_engine_cov.c -- the coverage step of an engine task: replay the
 * corpus through the coverage build, measure it with llvm-cov, store the
 * HTML report beside the corpora. */
#include "cfo_engine_cov.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "cfo_blobdir.h"
#include "cfo_log.h"

/* Debian installs llvm-profdata-NN and llvm-cov-NN for each LLVM it has, and
 * the plain names (its default LLVM, the one its clang uses) with llvm. */
#define LLVM_NEWEST 30
#define LLVM_OLDEST 7
/* llvm-cov export's summary of a large target is some MB. */
#define EXPORT_MAX ((size_t)64 << 20)
/* Folders of the HTML report followed at most this deep (it mirrors the
 * sources' absolute paths). */
#define REPORT_MAX_DEPTH 32
/* Output of a tool quoted in an error. */
#define QUOTE 400

static char *find_llvm_tool(const char *name, const char *env_var, cfo_diag *d)
{
    const char *given = getenv(env_var);
    if (given != NULL && given[0] != '\0') {
        char *p = cfo_which(given);
        if (p == NULL)
            cfo_diag_set(d, CFO_ENOTFOUND, "%s names %s, which is not an executable", env_var,
                         given);
        return p;
    }
    char *p = cfo_which(name);
    for (int v = LLVM_NEWEST; p == NULL && v >= LLVM_OLDEST; v--) {
        char versioned[64];
        snprintf(versioned, sizeof versioned, "%s-%d", name, v);
        p = cfo_which(versioned);
    }
    if (p == NULL)
        cfo_diag_set(d, CFO_ENOTFOUND,
                     "no %s on PATH: coverage needs it (apt-get install llvm) or set %s", name,
                     env_var);
    return p;
}

int64_t cfo_engine_coverage_left_ms(int64_t deadline_ms)
{
    if (deadline_ms == 0)
        return 0; /* no limit */
    int64_t left = deadline_ms - cfo_now_ms();
    return left > 1000 ? left : 1000;
}

/* Runs argv with its standard output into out_path; a tool that fails is
 * an error quoting its output. */
static cfo_err run_to_file(const cfo_strv *argv, const char *out_path, int64_t deadline_ms,
                           const char *what, cfo_diag *d)
{
    cfo_strv sh, env;
    cfo_strv_init(&sh);
    cfo_strv_init(&env);
    /* The shell only redirects: the command's words are its arguments. */
    cfo_strv_pushl(&sh, "sh", "-c", "out=$1; shift; exec \"$@\" >\"$out\"", "sh", out_path);
    for (size_t i = 0; i < argv->n; i++)
        cfo_strv_push(&sh, argv->v[i]);
    cfo_err err =
        cfo_engine_run_tool(&sh, &env, cfo_engine_coverage_left_ms(deadline_ms), what, QUOTE, d);
    cfo_strv_fini(&sh);
    cfo_strv_fini(&env);
    return err;
}

static bool is_hex_sha(const char *s)
{
    size_t n = strspn(s, "0123456789abcdef");
    return s[n] == '\0' && (n == 40 || n == 64);
}

char *cfo_engine_commit(cfo_diag *d)
{
    const char *env = getenv("CFO_COMMIT");
    if (env != NULL && is_hex_sha(env))
        return cfo_xstrdup(env);
    char *argv[] = {"git", "rev-parse", "HEAD", NULL};
    char *out = NULL;
    int code = -1;
    if (cfo_engine_exec(argv, NULL, NULL, 60000, 4096, &out, NULL, &code, NULL, d) != CFO_OK)
        return NULL;
    size_t n = strspn(out, "0123456789abcdef");
    out[n] = '\0';
    if (code != 0 || !is_hex_sha(out)) {
        cfo_diag_set(d, CFO_ENOTFOUND, "cannot tell the commit: git rev-parse HEAD exited %d",
                     code);
        free(out);
        return NULL;
    }
    return out;
}

/* ---- llvm-cov export ---------------------------------------------------- */

static bool get_pair(yajl_val totals, const char *name, int64_t out[2])
{
    const char *cov_path[] = {name, "covered", NULL};
    const char *count_path[] = {name, "count", NULL};
    yajl_val c = yajl_tree_get(totals, cov_path, yajl_t_number);
    yajl_val n = yajl_tree_get(totals, count_path, yajl_t_number);
    if (c == NULL || n == NULL || !YAJL_IS_INTEGER(c) || !YAJL_IS_INTEGER(n))
        return false;
    out[0] = YAJL_GET_INTEGER(c);
    out[1] = YAJL_GET_INTEGER(n);
    return out[0] >= 0 && out[0] <= out[1];
}

static void add_covered_files(yajl_val data0, const char *root, cfo_strv *files)
{
    const char *files_path[] = {"files", NULL};
    yajl_val list = yajl_tree_get(data0, files_path, yajl_t_array);
    size_t rootlen = root ? strlen(root) : 0;
    for (size_t i = 0; list != NULL && i < list->u.array.len; i++) {
        yajl_val fv = list->u.array.values[i];
        const char *name_path[] = {"filename", NULL};
        const char *lines_path[] = {"summary", "lines", "covered", NULL};
        yajl_val name = yajl_tree_get(fv, name_path, yajl_t_string);
        yajl_val covered = yajl_tree_get(fv, lines_path, yajl_t_number);
        if (name == NULL || covered == NULL || !YAJL_IS_INTEGER(covered) ||
            YAJL_GET_INTEGER(covered) <= 0)
            continue;
        const char *s = YAJL_GET_STRING(name);
        if (rootlen > 0 && strncmp(s, root, rootlen) == 0 && s[rootlen] == '/')
            s += rootlen + 1;
        if (strchr(s, '\n') == NULL && !cfo_strv_contains(files, s))
            cfo_strv_push(files, s);
    }
}

cfo_err cfo_engine_coverage_parse(const char *json, size_t len, const char *root, cfo_coverage *out,
                                  cfo_strv *files, cfo_diag *d)
{
    memset(out, 0, sizeof *out);
    if (!cfo_json_depth_ok(json, len, 16))
        return cfo_diag_set(d, CFO_EPARSE, "llvm-cov export: not a coverage summary (too deep)");
    char err[128];
    yajl_val root_v = yajl_tree_parse(json, err, sizeof err);
    if (root_v == NULL)
        return cfo_diag_set(d, CFO_EPARSE, "llvm-cov export: not JSON: %s", err);
    const char *data_path[] = {"data", NULL};
    yajl_val data = yajl_tree_get(root_v, data_path, yajl_t_array);
    yajl_val data0 = data != NULL && data->u.array.len > 0 ? data->u.array.values[0] : NULL;
    const char *totals_path[] = {"totals", NULL};
    yajl_val totals = data0 ? yajl_tree_get(data0, totals_path, yajl_t_object) : NULL;
    cfo_err rc = CFO_OK;
    if (totals == NULL || !get_pair(totals, "lines", out->lines) ||
        !get_pair(totals, "functions", out->functions) ||
        !get_pair(totals, "regions", out->regions))
        rc = cfo_diag_set(d, CFO_EPARSE,
                          "llvm-cov export: no data[0].totals with lines, functions and regions");
    else if (files != NULL)
        add_covered_files(data0, root, files);
    yajl_tree_free(root_v);
    return rc;
}

/* ---- the report in storage --------------------------------------------- */

/* Stores one file, replacing what an earlier run of the commit stored. */
static cfo_err put_replacing(cfo_blobdir *dir, const char *name, const char *path, cfo_diag *d)
{
    bool created = false;
    cfo_err err = cfo_blobdir_put_new(dir, name, path, &created, d);
    if (err == CFO_OK && !created) {
        err = cfo_blobdir_delete(dir, name, d);
        if (err == CFO_OK)
            err = cfo_blobdir_put_new(dir, name, path, &created, d);
    }
    return err;
}

/* Copies the folder local into dir, sub-folders included. */
static cfo_err upload_tree(cfo_blobdir *dir, const char *local, int depth, size_t *files,
                           cfo_diag *d)
{
    if (depth > REPORT_MAX_DEPTH)
        return cfo_diag_set(d, CFO_ELIMIT, "coverage report: %s is nested too deep", local);
    DIR *dh = opendir(local);
    if (dh == NULL)
        return cfo_diag_set(d, CFO_EIO, "cannot read %s", local);
    cfo_strv names;
    cfo_strv_init(&names);
    struct dirent *e;
    while ((e = readdir(dh)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            cfo_strv_push(&names, e->d_name);
    closedir(dh);
    cfo_err err = CFO_OK;
    for (size_t i = 0; i < names.n && err == CFO_OK; i++) {
        char *path = cfo_xasprintf("%s/%s", local, names.v[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            cfo_blobdir *sub = NULL;
            if (cfo_blobdir_sub(dir, names.v[i], &sub, NULL) == CFO_OK)
                err = upload_tree(sub, path, depth + 1, files, d);
            else
                cfo_warn("coverage report: folder %s has a name storage cannot hold; left out",
                         path);
            cfo_blobdir_destroy(&sub);
        } else if (S_ISREG(st.st_mode)) {
            if (cfo_blobdir_name_ok(names.v[i])) {
                err = put_replacing(dir, names.v[i], path, d);
                ++*files;
            } else {
                cfo_warn("coverage report: %s has a name storage cannot hold; left out", path);
            }
        }
        free(path);
    }
    cfo_strv_fini(&names);
    return err;
}

cfo_err cfo_engine_coverage_store(const cfo_fuzzer *f, const char *target_name, const char *commit,
                                  const char *html_dir, const cfo_strv *files, int64_t start_ms,
                                  cfo_coverage *out, cfo_diag *d)
{
    char *root_url = cfo_engine_corpus_url(f);
    char *rel = cfo_xasprintf("coverage/%s/%s/%s", f->name, target_name, commit);
    cfo_blobdir *root = NULL, *dir = NULL;
    cfo_err err = cfo_blobdir_open(root_url, &root, d);
    if (err == CFO_OK)
        err = cfo_blobdir_sub(root, rel, &dir, d);
    size_t n = 0;
    if (err == CFO_OK)
        err = upload_tree(dir, html_dir, 0, &n, d);
    if (err == CFO_OK) {
        cfo_buf list;
        cfo_buf_init(&list);
        for (size_t i = 0; i < files->n; i++)
            cfo_buf_printf(&list, "%s\n", files->v[i]);
        bool created = false;
        err = cfo_blobdir_put_new_data(dir, CFO_COVERAGE_FILES, list.data ? list.data : "",
                                       list.len, &created, d);
        if (err == CFO_OK && !created) {
            err = cfo_blobdir_delete(dir, CFO_COVERAGE_FILES, d);
            if (err == CFO_OK)
                err = cfo_blobdir_put_new_data(dir, CFO_COVERAGE_FILES, list.data ? list.data : "",
                                               list.len, &created, d);
        }
        cfo_buf_fini(&list);
    }
    if (err == CFO_OK) {
        snprintf(out->report, sizeof out->report, "%s/index.html", cfo_blobdir_display(dir));
        out->seconds = (double)(cfo_now_ms() - start_ms) / 1000.0;
        printf("coverage: report stored at %s (%zu files)\n", out->report, n + 1);
    } else {
        cfo_diag_prefix(d, "storing the coverage report under %s", rel);
    }
    cfo_blobdir_destroy(&dir);
    cfo_blobdir_destroy(&root);
    free(rel);
    free(root_url);
    return err;
}

void cfo_engine_coverage_result(cfo_err err, const cfo_coverage *cov, const cfo_diag *d,
                                cfo_fuzz_result *res)
{
    if (err != CFO_OK) {
        printf("coverage: not measured: %s\n", d->msg);
        cfo_buf_printf(&res->summary, "; coverage not measured: %.300s", d->msg);
        return;
    }
    char *json = cfo_coverage_format(cov);
    cfo_buf_reset(&res->coverage);
    cfo_buf_puts(&res->coverage, json);
    free(json);
    printf("coverage: lines %lld/%lld, functions %lld/%lld, regions %lld/%lld in %.1fs\n",
           (long long)cov->lines[0], (long long)cov->lines[1], (long long)cov->functions[0],
           (long long)cov->functions[1], (long long)cov->regions[0], (long long)cov->regions[1],
           cov->seconds);
    cfo_buf_printf(&res->summary, "; coverage: %.1f%% of lines", cfo_coverage_line_pct(cov));
}

/* ---- the step ------------------------------------------------------------ */

/* Runs the coverage target once over every input of dirs, its profiles
 * written into prof_dir. */
static cfo_err replay_corpus(const cfo_engine_run *r, const char *bin, const char *const *dirs,
                             size_t ndirs, const char *prof_dir, int64_t deadline_ms, cfo_diag *d)
{
    cfo_strv argv, env;
    cfo_strv_init(&argv);
    cfo_strv_init(&env);
    cfo_strv_push(&argv, bin);
    cfo_strv_push(&argv, "-runs=0");
    cfo_strv_push_owned(
        &argv, cfo_xasprintf("-timeout=%lld", cfo_engine_ceil_div(r->f->input_timeout_ms, 1000)));
    cfo_strv_push_owned(&argv, cfo_xasprintf("-rss_limit_mb=%lld",
                                             cfo_engine_ceil_div(r->f->input_memory_kb, 1024)));
    for (size_t i = 0; i < ndirs; i++)
        cfo_strv_push(&argv, dirs[i]);
    cfo_strv_push_owned(&env, cfo_xasprintf("LLVM_PROFILE_FILE=%s/%%p.profraw", prof_dir));
    cfo_err err = cfo_engine_run_tool(&argv, &env, cfo_engine_coverage_left_ms(deadline_ms),
                                      "coverage replay", QUOTE, d);
    cfo_strv_fini(&argv);
    cfo_strv_fini(&env);
    return err;
}

static cfo_err merge_profiles(const char *profdata, const char *prof_dir, const char *merged,
                              int64_t deadline_ms, cfo_diag *d)
{
    cfo_strv raw;
    cfo_strv_init(&raw);
    cfo_list_files(prof_dir, &raw, NULL);
    if (raw.n == 0) {
        cfo_strv_fini(&raw);
        return cfo_diag_set(d, CFO_ECHILD, "coverage replay wrote no profile into %s", prof_dir);
    }
    cfo_strv argv, env;
    cfo_strv_init(&argv);
    cfo_strv_init(&env);
    cfo_strv_pushl(&argv, profdata, "merge", "-sparse", "-o", merged);
    for (size_t i = 0; i < raw.n; i++)
        cfo_strv_push_owned(&argv, cfo_xasprintf("%s/%s", prof_dir, raw.v[i]));
    cfo_err err = cfo_engine_run_tool(&argv, &env, cfo_engine_coverage_left_ms(deadline_ms),
                                      "llvm-profdata merge", QUOTE, d);
    cfo_strv_fini(&argv);
    cfo_strv_fini(&env);
    cfo_strv_fini(&raw);
    return err;
}

static cfo_err measure(const cfo_engine_run *r, const char *cov_bin, const char *merged,
                       const char *work, int64_t deadline_ms, cfo_coverage *out, cfo_strv *files,
                       cfo_diag *d)
{
    char *llvm_cov = find_llvm_tool("llvm-cov", "CFO_LLVM_COV", d);
    if (llvm_cov == NULL)
        return CFO_ENOTFOUND;
    char *export_path = cfo_xasprintf("%s/export.json", work);
    char *prof_arg = cfo_xasprintf("-instr-profile=%s", merged);
    cfo_strv argv;
    cfo_strv_init(&argv);
    cfo_strv_pushl(&argv, llvm_cov, "export", "-summary-only", prof_arg, cov_bin);
    cfo_err err = run_to_file(&argv, export_path, deadline_ms, "llvm-cov export", d);
    cfo_buf text;
    cfo_buf_init(&text);
    if (err == CFO_OK)
        err = cfo_read_file(export_path, EXPORT_MAX, &text, d);
    char cwd[PATH_MAX];
    if (err == CFO_OK)
        err = cfo_engine_coverage_parse(text.data ? text.data : "", text.len,
                                        getcwd(cwd, sizeof cwd) ? cwd : NULL, out, files, d);
    cfo_buf_fini(&text);
    cfo_strv_fini(&argv);
    if (err == CFO_OK) {
        /* The report for people: one page per source file. */
        char *html = cfo_xasprintf("%s/html", r->work);
        char *out_arg = cfo_xasprintf("-output-dir=%s", html);
        cfo_strv_init(&argv);
        cfo_strv_pushl(&argv, llvm_cov, "show", "-format=html", out_arg, prof_arg, cov_bin);
        cfo_strv env;
        cfo_strv_init(&env);
        err = cfo_engine_run_tool(&argv, &env, cfo_engine_coverage_left_ms(deadline_ms),
                                  "llvm-cov show", QUOTE, d);
        cfo_strv_fini(&env);
        cfo_strv_fini(&argv);
        free(out_arg);
        free(html);
    }
    free(prof_arg);
    free(export_path);
    free(llvm_cov);
    return err;
}

cfo_err cfo_engine_coverage(const cfo_engine_run *r, const char *const *dirs, size_t ndirs,
                            const char *commit, int64_t deadline_ms, cfo_coverage *out, cfo_diag *d)
{
    int64_t start = cfo_now_ms();
    memset(out, 0, sizeof *out);
    char *profdata = find_llvm_tool("llvm-profdata", "CFO_LLVM_PROFDATA", d);
    if (profdata == NULL)
        return CFO_ENOTFOUND;
    char *work = cfo_xasprintf("%s/coverage", r->work);
    char *prof_dir = cfo_xasprintf("%s/profiles", work);
    char *merged = cfo_xasprintf("%s/merged.profdata", work);
    char *bin = cfo_xasprintf("%s/%s", r->f->coverage_dir, r->target);
    char abs[PATH_MAX];
    cfo_strv files;
    cfo_strv_init(&files);
    cfo_err err = cfo_mkdir_p(prof_dir, d);
    if (err == CFO_OK)
        err = cfo_engine_coverage_build(r->f, cfo_engine_coverage_left_ms(deadline_ms), d);
    if (err == CFO_OK && (realpath(bin, abs) == NULL || access(abs, X_OK) != 0))
        err = cfo_diag_set(d, CFO_ENOTFOUND,
                           "the coverage build left no executable %s (coverage_dir = %s)", bin,
                           r->f->coverage_dir);
    if (err == CFO_OK)
        err = replay_corpus(r, abs, dirs, ndirs, prof_dir, deadline_ms, d);
    if (err == CFO_OK)
        err = merge_profiles(profdata, prof_dir, merged, deadline_ms, d);
    if (err == CFO_OK)
        err = measure(r, abs, merged, work, deadline_ms, out, &files, d);
    char *html = cfo_xasprintf("%s/html", r->work);
    char *safe = cfo_safe_name(r->target);
    if (err == CFO_OK)
        err = cfo_engine_coverage_store(r->f, safe, commit, html, &files, start, out, d);
    free(safe);
    free(html);
    cfo_strv_fini(&files);
    cfo_free_all(bin, merged, prof_dir, work, profdata);
    return err;
}
