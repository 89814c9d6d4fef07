/* cfo_gocov.c -- the coverage step of a gofuzz task: the corpus replayed
 * by go test -coverprofile, the profile read into lines, functions and
 * regions, go tool cover's HTML report stored beside the corpora. */
#include "cfo_gocov.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfo_corpus.h"
#include "cfo_engine_cov.h"
#include "cfo_log.h"

/* A coverprofile of a large package is some MB; -func's output less. */
#define PROFILE_MAX ((size_t)64 << 20)
/* Lines one block may span, and (file, line) pairs in all: a profile past
 * them is not go test's. */
#define BLOCK_MAX_LINES 1000000L
#define LINES_MAX ((size_t)4 << 20)
/* Corpus inputs that fail on the commit left out of one measurement. */
#define MAX_LEFT_OUT 20
/* Output of go test quoted in a warning or an error. */
#define QUOTE 600

/* ---- the profile --------------------------------------------------------- */

typedef struct block {
    size_t file; /* index into the file names */
    long sl, sc, el, ec;
    bool covered;
} block;

typedef struct line_hit {
    size_t file;
    long line;
    bool covered;
} line_hit;

static int block_cmp(const void *a, const void *b)
{
    const block *x = a, *y = b;
    long dx[] = {(long)x->file, x->sl, x->sc, x->el, x->ec};
    long dy[] = {(long)y->file, y->sl, y->sc, y->el, y->ec};
    for (int i = 0; i < 5; i++)
        if (dx[i] != dy[i])
            return dx[i] < dy[i] ? -1 : 1;
    return 0;
}

static int line_cmp(const void *a, const void *b)
{
    const line_hit *x = a, *y = b;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* A number of the profile: digits only, no sign. */
static bool number(const char **p, char end, long *out)
{
    char *e = NULL;
    if (**p < '0' || **p > '9')
        return false;
    errno = 0;
    *out = strtol(*p, &e, 10);
    if (errno != 0 || *e != end)
        return false;
    *p = e + 1;
    return true;
}

/* One "FILE:SL.SC,EL.EC STMTS COUNT" line into *b and its file name. */
static bool parse_block(char *line, block *b, char **file)
{
    char *count_sp = strrchr(line, ' ');
    if (count_sp == NULL)
        return false;
    *count_sp = '\0';
    char *stmts_sp = strrchr(line, ' ');
    char *colon = stmts_sp ? memrchr(line, ':', (size_t)(stmts_sp - line)) : NULL;
    if (colon == NULL || colon == line)
        return false;
    *stmts_sp = '\0';
    *colon = '\0';
    const char *p = colon + 1;
    long stmts = 0, count = 0;
    const char *c = count_sp + 1, *s = stmts_sp + 1;
    if (!number(&p, '.', &b->sl) || !number(&p, ',', &b->sc) || !number(&p, '.', &b->el) ||
        !number(&p, '\0', &b->ec) || !number(&s, '\0', &stmts) || !number(&c, '\0', &count))
        return false;
    if (b->el < b->sl || b->el - b->sl > BLOCK_MAX_LINES)
        return false;
    b->covered = count > 0;
    *file = line;
    return true;
}

/* The index of name in files, added when new; profiles list a file's
 * blocks together, so the last one is looked at first. */
static size_t file_index(cfo_strv *files, const char *name)
{
    if (files->n > 0 && strcmp(files->v[files->n - 1], name) == 0)
        return files->n - 1;
    for (size_t i = 0; i < files->n; i++)
        if (strcmp(files->v[i], name) == 0)
            return i;
    cfo_strv_push(files, name);
    return files->n - 1;
}

/* The profile's blocks, sorted, duplicates joined. */
static cfo_err read_blocks(const char *profile, size_t len, cfo_strv *names, block **out, size_t *n,
                           cfo_diag *d)
{
    char *text = cfo_xstrndup(profile, len);
    size_t cap = 0;
    cfo_err err = CFO_OK;
    long lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL && err == CFO_OK;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        line[strcspn(line, "\r")] = '\0';
        if (lineno == 1) {
            if (strncmp(line, "mode: ", 6) != 0)
                err = cfo_diag_set(d, CFO_EPARSE, "coverprofile: line 1 is not 'mode: ...'");
            continue;
        }
        if (line[0] == '\0')
            continue;
        block b;
        char *file = NULL;
        if (!parse_block(line, &b, &file)) {
            err = cfo_diag_set(d, CFO_EPARSE,
                               "coverprofile: line %ld is not 'FILE:L.C,L.C STATEMENTS COUNT'",
                               lineno);
            break;
        }
        b.file = file_index(names, file);
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            *out = cfo_xrealloc(*out, cap * sizeof **out);
        }
        (*out)[(*n)++] = b;
    }
    if (err == CFO_OK && lineno == 0)
        err = cfo_diag_set(d, CFO_EPARSE, "coverprofile: empty, no 'mode: ...' line");
    free(text);
    if (err != CFO_OK)
        return err;
    if (*n > 1)
        qsort(*out, *n, sizeof **out, block_cmp);
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        if (k > 0 && block_cmp(&(*out)[k - 1], &(*out)[i]) == 0)
            (*out)[k - 1].covered |= (*out)[i].covered;
        else
            (*out)[k++] = (*out)[i];
    }
    *n = k;
    return CFO_OK;
}

/* Distinct (file, line) pairs the blocks span: total and covered. */
static cfo_err count_lines(const block *v, size_t n, int64_t out[2], cfo_diag *d)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += (size_t)(v[i].el - v[i].sl + 1);
    if (total > LINES_MAX)
        return cfo_diag_set(d, CFO_ELIMIT, "coverprofile: blocks span more than %zu lines",
                            LINES_MAX);
    line_hit *lines = cfo_xmalloc((total ? total : 1) * sizeof *lines);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (long l = v[i].sl; l <= v[i].el; l++)
            lines[k++] = (line_hit){v[i].file, l, v[i].covered};
    qsort(lines, k, sizeof *lines, line_cmp);
    out[0] = out[1] = 0;
    for (size_t i = 0; i < k;) {
        bool covered = false;
        size_t j = i;
        for (; j < k && line_cmp(&lines[i], &lines[j]) == 0; j++)
            covered |= lines[j].covered;
        out[1]++;
        out[0] += covered;
        i = j;
    }
    free(lines);
    return CFO_OK;
}

/* go tool cover -func: "FILE:LINE:\tNAME\t\tPCT%" per function, then
 * "total:\t...". */
static cfo_err count_functions(const char *funcs, int64_t out[2], cfo_diag *d)
{
    out[0] = out[1] = 0;
    char *text = cfo_xstrdup(funcs);
    char *save = NULL;
    cfo_err err = CFO_OK;
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "total:", 6) == 0 || line[strspn(line, " \t\r")] == '\0')
            continue;
        char *pct = strrchr(line, '\t');
        pct = pct ? pct + 1 : line;
        char *end = NULL;
        double v = strtod(pct, &end);
        if (end == pct || *end != '%') {
            err =
                cfo_diag_set(d, CFO_EPARSE, "go tool cover -func: '%.80s' has no percentage", line);
            break;
        }
        out[1]++;
        out[0] += v > 0.0;
    }
    free(text);
    return err;
}

cfo_err cfo_gocov_parse(const char *profile, size_t len, const char *funcs, cfo_coverage *out,
                        cfo_strv *files, cfo_diag *d)
{
    memset(out, 0, sizeof *out);
    cfo_strv names;
    cfo_strv_init(&names);
    block *blocks = NULL;
    size_t n = 0;
    cfo_err err = read_blocks(profile, len, &names, &blocks, &n, d);
    if (err == CFO_OK)
        err = count_lines(blocks, n, out->lines, d);
    if (err == CFO_OK && funcs != NULL)
        err = count_functions(funcs, out->functions, d);
    if (err == CFO_OK) {
        out->regions[1] = (int64_t)n;
        for (size_t i = 0; i < n; i++) {
            out->regions[0] += blocks[i].covered;
            if (files != NULL && blocks[i].covered &&
                !cfo_strv_contains(files, names.v[blocks[i].file]))
                cfo_strv_push(files, names.v[blocks[i].file]);
        }
        if (files != NULL)
            cfo_strv_sort(files);
    }
    if (err != CFO_OK)
        memset(out, 0, sizeof *out);
    free(blocks);
    cfo_strv_fini(&names);
    return err;
}

char *cfo_gocov_module_path(const char *gomod)
{
    char *text = cfo_xstrdup(gomod);
    char *found = NULL, *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL && found == NULL;
         line = strtok_r(NULL, "\n", &save)) {
        line += strspn(line, " \t");
        if (strncmp(line, "module", 6) != 0 || (line[6] != ' ' && line[6] != '\t'))
            continue;
        char *p = line + 6;
        p += strspn(p, " \t\"");
        size_t n = strcspn(p, " \t\r\"/");
        /* A module path goes to the first blank, quote or "//" comment. */
        while (p[n] == '/' && p[n + 1] != '/')
            n += 1 + strcspn(p + n + 1, " \t\r\"/");
        if (n > 0)
            found = cfo_xstrndup(p, n);
    }
    free(text);
    return found;
}

/* ---- import paths to the worktree's files ------------------------------- */

/* The folder of the go.mod governing pkg, relative to the worktree ("" at
 * its root), and the module path it declares; false when there is none. */
static bool find_module(const char *pkg, char **moddir, char **module)
{
    char *dir = cfo_xstrdup(strncmp(pkg, "./", 2) == 0 ? pkg + 2 : pkg);
    bool ok = false;
    for (;;) {
        if (strcmp(dir, ".") == 0)
            dir[0] = '\0';
        char *gomod = dir[0] ? cfo_xasprintf("%s/go.mod", dir) : cfo_xstrdup("go.mod");
        cfo_buf text;
        cfo_buf_init(&text);
        if (cfo_read_file(gomod, (size_t)1 << 20, &text, NULL) == CFO_OK) {
            *module = cfo_gocov_module_path(text.data ? text.data : "");
            ok = *module != NULL;
        }
        cfo_buf_fini(&text);
        free(gomod);
        char *slash = strrchr(dir, '/');
        if (ok || dir[0] == '\0')
            break;
        if (slash != NULL)
            *slash = '\0';
        else
            dir[0] = '\0';
    }
    if (ok)
        *moddir = dir;
    else
        free(dir);
    return ok;
}

/* The profile's import-path file names as the worktree's paths; those of
 * other modules kept as they are. */
static void repo_paths(const char *pkg, const cfo_strv *imports, cfo_strv *files)
{
    char *moddir = NULL, *module = NULL;
    bool have = find_module(pkg, &moddir, &module);
    size_t mlen = have ? strlen(module) : 0;
    for (size_t i = 0; i < imports->n; i++) {
        const char *s = imports->v[i];
        if (have && strncmp(s, module, mlen) == 0 && s[mlen] == '/')
            cfo_strv_push_owned(files, moddir[0] ? cfo_xasprintf("%s/%s", moddir, s + mlen + 1)
                                                 : cfo_xstrdup(s + mlen + 1));
        else
            cfo_strv_push(files, s);
    }
    cfo_strv_sort(files);
    free(moddir);
    free(module);
}

/* ---- the step ------------------------------------------------------------ */

/* A step that was killed left the seeds aside in saved and its corpus in
 * their place: the seeds go back. */
static cfo_err put_back(const char *seed_dir, const char *saved, cfo_diag *d)
{
    struct stat st;
    if (stat(saved, &st) != 0)
        return CFO_OK;
    cfo_remove_tree(seed_dir, NULL);
    if (rename(saved, seed_dir) != 0)
        return cfo_diag_set(d, CFO_EIO, "cannot move %s back to %s", saved, seed_dir);
    cfo_warn("coverage: %s holds the seeds again (an earlier coverage step did not finish)",
             seed_dir);
    return CFO_OK;
}

static char *saved_seeds(const char *pkg, const char *name)
{
    return cfo_xasprintf("%s/testdata/fuzz/.%s.cfo-coverage", pkg, name);
}

cfo_err cfo_gocov_put_back_seeds(const char *pkg, const char *name, cfo_diag *d)
{
    char *seed_dir = cfo_xasprintf("%s/testdata/fuzz/%s", pkg, name);
    char *saved = saved_seeds(pkg, name);
    cfo_err err = put_back(seed_dir, saved, d);
    cfo_free_all(seed_dir, saved);
    return err;
}

/* The package's seed folder as the task found it. */
static void unstage_corpus(const char *seed_dir, const char *saved, bool had)
{
    cfo_remove_tree(seed_dir, NULL);
    if (had ? rename(saved, seed_dir) != 0 : rmdir(saved) != 0)
        cfo_warn("coverage: cannot put %s back as %s was", saved, seed_dir);
}

/* Moves the package's seed folder aside to saved (an empty saved when there
 * is none: saved is how a later step knows this one did not finish) and
 * fills a new one with the inputs of dirs; *had says whether there was one. */
static cfo_err stage_corpus(const char *seed_dir, const char *saved, const char *const *dirs,
                            size_t ndirs, bool *had, size_t *inputs, cfo_diag *d)
{
    struct stat st;
    *inputs = 0;
    cfo_err err = put_back(seed_dir, saved, d);
    if (err != CFO_OK)
        return err;
    *had = stat(seed_dir, &st) == 0;
    if (*had && rename(seed_dir, saved) != 0)
        return cfo_diag_set(d, CFO_EIO, "cannot move %s aside to %s", seed_dir, saved);
    err = *had ? CFO_OK : cfo_mkdir_p(saved, d);
    if (err == CFO_OK)
        err = cfo_mkdir_p(seed_dir, d);
    for (size_t i = 0; i < ndirs && err == CFO_OK; i++)
        if (stat(dirs[i], &st) == 0)
            *inputs += cfo_corpus_import(dirs[i], seed_dir);
    if (err != CFO_OK)
        unstage_corpus(seed_dir, saved, *had);
    return err;
}

/* The corpus entry go test names as failing ("--- FAIL: NAME/ENTRY"), or
 * NULL. */
static char *failing_entry(const char *out, const char *name)
{
    char *key = cfo_xasprintf("--- FAIL: %s/", name);
    const char *p = strstr(out, key);
    char *entry = NULL;
    if (p != NULL) {
        p += strlen(key);
        size_t n = strcspn(p, " \t\r\n/");
        if (n > 0 && p[0] != '.')
            entry = cfo_xstrndup(p, n);
    }
    free(key);
    return entry;
}

/* Whether profile has a block: go test writes the mode line alone when
 * its test binary dies before it reports. */
static bool has_blocks(const char *profile)
{
    cfo_buf text;
    cfo_buf_init(&text);
    bool yes = cfo_read_file(profile, PROFILE_MAX, &text, NULL) == CFO_OK && text.data != NULL &&
               strchr(text.data, '\n') != NULL && strchr(text.data, '\n')[1] != '\0';
    cfo_buf_fini(&text);
    return yes;
}

/* go test -run=^NAME$ -coverprofile over the corpus staged in seed_dir.
 * An input that fails on this commit (a panic kills the test binary before
 * it writes its profile) is left out and the run repeated, a warning
 * naming it; a failing run that still wrote its figures counts. */
static cfo_err run_tests(const cfo_gocov_task *t, const char *seed_dir, const char *profile,
                         int64_t deadline_ms, cfo_diag *d)
{
    char *run = cfo_xasprintf("-run=^%s$", t->name);
    char *cover = cfo_xasprintf("-coverprofile=%s", profile);
    char *argv[] = {"go", "test", "-count=1", run, cover, "-covermode=set", (char *)t->pkg, NULL};
    cfo_err err = CFO_OK;
    for (int left_out = 0; err == CFO_OK; left_out++) {
        char *out = NULL;
        size_t len = 0;
        int code = -1;
        bool timed_out = false;
        unlink(profile);
        err = cfo_engine_exec(argv, NULL, t->env, cfo_engine_coverage_left_ms(deadline_ms),
                              CFO_ENGINE_REPORT_CAP, &out, &len, &code, &timed_out, d);
        const char *tail = cfo_engine_last(out, QUOTE);
        char *entry = err == CFO_OK && code != 0 && !timed_out ? failing_entry(out, t->name) : NULL;
        char *path = entry ? cfo_xasprintf("%s/%s", seed_dir, entry) : NULL;
        bool retry = path != NULL && left_out < MAX_LEFT_OUT && unlink(path) == 0;
        if (retry)
            cfo_warn("coverage: corpus input %s fails %s on this commit; measured without it",
                     entry, t->name);
        else if (err == CFO_OK && code != 0 && !timed_out && has_blocks(profile))
            cfo_warn("coverage: go test -coverprofile failed (exit %d) but wrote its profile, "
                     "which is used: %s",
                     code, tail);
        else if (err == CFO_OK && code != 0)
            err = cfo_diag_set(d, CFO_ECHILD, "go test -coverprofile %s (exit %d): %s",
                               timed_out ? "ran out of time" : "failed", code, tail);
        free(path);
        free(entry);
        free(out);
        if (!retry)
            break;
    }
    free(cover);
    free(run);
    return err;
}

/* go tool cover with the flags a and b; its output into *out. */
static cfo_err go_cover(const cfo_gocov_task *t, const char *a, const char *b, int64_t deadline_ms,
                        char **out, cfo_diag *d)
{
    char *argv[] = {"go", "tool", "cover", (char *)a, (char *)b, NULL};
    int code = -1;
    cfo_err err = cfo_engine_exec(argv, NULL, t->env, cfo_engine_coverage_left_ms(deadline_ms),
                                  PROFILE_MAX, out, NULL, &code, NULL, d);
    if (err == CFO_OK && code != 0)
        err = cfo_diag_set(d, CFO_ECHILD, "go tool cover %s failed (exit %d): %.*s", a, code, QUOTE,
                           *out ? *out : "");
    return err;
}

/* The figures and covered files of profile; the HTML report into html. */
static cfo_err measure(const cfo_gocov_task *t, const char *profile, const char *html,
                       int64_t deadline_ms, cfo_coverage *out, cfo_strv *files, cfo_diag *d)
{
    char *func_arg = cfo_xasprintf("-func=%s", profile);
    char *html_arg = cfo_xasprintf("-html=%s", profile);
    char *index = cfo_xasprintf("-o=%s/index.html", html);
    char *funcs = NULL, *shown = NULL;
    cfo_buf text;
    cfo_buf_init(&text);
    cfo_strv imports;
    cfo_strv_init(&imports);
    cfo_err err = cfo_read_file(profile, PROFILE_MAX, &text, d);
    if (err == CFO_OK)
        err = go_cover(t, func_arg, NULL, deadline_ms, &funcs, d);
    if (err == CFO_OK)
        err = cfo_gocov_parse(text.data ? text.data : "", text.len, funcs, out, &imports, d);
    if (err == CFO_OK)
        repo_paths(t->pkg, &imports, files);
    if (err == CFO_OK)
        err = cfo_mkdir_p(html, d);
    if (err == CFO_OK)
        err = go_cover(t, html_arg, index, deadline_ms, &shown, d);
    cfo_strv_fini(&imports);
    cfo_buf_fini(&text);
    cfo_free_all(shown, funcs, index, html_arg, func_arg);
    return err;
}

cfo_err cfo_gocov_measure(const cfo_gocov_task *t, const char *const *dirs, size_t ndirs,
                          const char *commit, int64_t deadline_ms, cfo_coverage *out, cfo_diag *d)
{
    int64_t start = cfo_now_ms();
    memset(out, 0, sizeof *out);
    char *seed_dir = cfo_xasprintf("%s/testdata/fuzz/%s", t->pkg, t->name);
    char *saved = saved_seeds(t->pkg, t->name);
    char *profile = cfo_xasprintf("%s/coverage.out", t->work);
    char *html = cfo_xasprintf("%s/coverage-html", t->work);
    cfo_strv files;
    cfo_strv_init(&files);
    bool had = false;
    size_t inputs = 0;
    cfo_err err = stage_corpus(seed_dir, saved, dirs, ndirs, &had, &inputs, d);
    if (err == CFO_OK) {
        printf("coverage: go test -run=^%s$ -coverprofile over %zu inputs\n", t->name, inputs);
        fflush(stdout);
        err = run_tests(t, seed_dir, profile, deadline_ms, d);
        unstage_corpus(seed_dir, saved, had);
    }
    if (err == CFO_OK)
        err = measure(t, profile, html, deadline_ms, out, &files, d);
    if (err == CFO_OK)
        err =
            cfo_engine_coverage_store(t->f, t->storage_target, commit, html, &files, start, out, d);
    cfo_strv_fini(&files);
    cfo_free_all(html, profile, saved, seed_dir);
    return err;
}
