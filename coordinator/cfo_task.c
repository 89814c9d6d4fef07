/* cfo_task.c -- task generation: branches to commits, worktrees, discovery. */
#include "cfo_task.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfo_recindex.h"
#include "cfo_changes.h"
#include "cfo_exec.h"
#include "cfo_git.h"
#include "cfo_exec_argv.h"
#include "cfo_runner.h"
#include "cfo_log.h"

#define DISCOVER_TIMEOUT_MS (10 * 60 * 1000)
#define DISCOVER_MAX_OUT (16 << 20)

void cfo_taskset_init(cfo_taskset *ts)
{
    memset(ts, 0, sizeof *ts);
}

void cfo_taskset_fini(cfo_taskset *ts)
{
    for (size_t i = 0; i < ts->n; i++) {
        cfo_task *t = &ts->v[i];
        free(t->branch);
        free(t->commit);
        free(t->target);
    }
    free(ts->v);
    memset(ts, 0, sizeof *ts);
}

typedef struct listed_at {
    const char *name;
    size_t at;
} listed_at;

static int listed_cmp(const void *pa, const void *pb)
{
    const listed_at *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);
    return c ? c : (a->at > b->at) - (a->at < b->at);
}

/* Appends to out each name of in once, at its first place: sorted, so that
 * a discovery of 100,000 targets costs n log n, not n^2 comparisons. */
static void push_unique(const cfo_strv *in, cfo_strv *out)
{
    listed_at *v = cfo_xcalloc(in->n + 1, sizeof *v);
    bool *dup = cfo_xcalloc(in->n + 1, sizeof *dup);
    for (size_t i = 0; i < in->n; i++)
        v[i] = (listed_at){in->v[i], i};
    qsort(v, in->n, sizeof *v, listed_cmp);
    for (size_t i = 1; i < in->n; i++)
        if (strcmp(v[i].name, v[i - 1].name) == 0)
            dup[v[i].at] = true;
    for (size_t i = 0; i < in->n; i++)
        if (!dup[i])
            cfo_strv_push(out, in->v[i]);
    free(dup);
    free(v);
}

/* Lists the fuzzer's targets by running `cfo-fuzz NAME --discover` in dir. */
static cfo_err discover(const cfo_taskgen_opts *o, const cfo_fuzzer *f, const char *branch,
                        const char *dir, cfo_strv *targets, cfo_diag *d)
{
    cfo_strv argv;
    cfo_strv_init(&argv);
    cfo_runner_argv(&argv, o->runner, o->config, f->name);
    cfo_strv_push(&argv, "--discover");
    cfo_capture cap;
    memset(&cap, 0, sizeof cap);
    cfo_err err =
        cfo_exec_capture(argv.v, dir, NULL, DISCOVER_TIMEOUT_MS, DISCOVER_MAX_OUT, &cap, d);
    cfo_strv_fini(&argv);
    if (err == CFO_OK && cap.exit_code != 0) {
        char *e = cap.err ? cap.err : "";
        size_t n = strlen(e);
        while (n > 0 && e[n - 1] == '\n')
            e[--n] = '\0';
        const char *last = strrchr(e, '\n');
        err = cfo_diag_set(d, CFO_ECHILD, "discovery of %s on branch %s failed (exit %d): %s",
                           f->name, branch, cap.exit_code, last ? last + 1 : e);
    } else if (err != CFO_OK) {
        cfo_diag_prefix(d, "discovery of %s on branch %s", f->name, branch);
    }
    cfo_strv listed;
    cfo_strv_init(&listed);
    if (err == CFO_OK) {
        char *save = NULL;
        for (char *line = strtok_r(cap.out ? cap.out : "", "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            if (line[0] == '\0')
                continue;
            err = cfo_target_validate(line, d);
            if (err != CFO_OK) {
                cfo_diag_prefix(d, "discovery of %s on branch %s", f->name, branch);
                err = CFO_ECHILD;
                break;
            }
            cfo_strv_push(&listed, line);
        }
    }
    if (err == CFO_OK)
        push_unique(&listed, targets);
    cfo_strv_fini(&listed);
    cfo_capture_fini(&cap);
    return err;
}

static bool keep_passed(const cfo_record *r, void *arg)
{
    (void)arg;
    return r->ok;
}

/* Whether target passed on commit, on any branch. */
static bool already_passed(const cfo_recindex *ix, const char *fuzzer, const char *target,
                           const char *commit)
{
    size_t first;
    size_t n = cfo_recindex_find(ix, fuzzer, target, &first);
    for (size_t i = first; i < first + n; i++)
        if (strcmp(ix->v[i]->commit, commit) == 0)
            return true;
    return false;
}

static cfo_task *task_add(cfo_taskset *ts)
{
    ts->v = cfo_grow(ts->v, &ts->cap, ts->n + 1, sizeof *ts->v);
    cfo_task *t = &ts->v[ts->n];
    memset(t, 0, sizeof *t);
    t->id = ts->n++;
    return t;
}

static void make_task(const cfo_taskgen_opts *o, const cfo_fuzzer *f, const char *branch,
                      const char *sha, const char *target, cfo_taskset *out)
{
    cfo_task *t = task_add(out);
    t->fuzzer = f;
    t->branch = cfo_xstrdup(branch);
    t->commit = cfo_xstrdup(sha);
    t->target = cfo_xstrdup(target);
    t->timeout_ms = f->task_timeout_ms > 0 ? f->task_timeout_ms : o->task_timeout_ms;
}

/* The change set of each commit, computed once: the focus command runs once
 * per commit, not per fuzzer. */
typedef struct change_cache {
    char **sha;
    cfo_change_set *set;
    size_t n;
} change_cache;

static cfo_err changes_of(change_cache *cc, const cfo_taskgen_opts *o, const char *top,
                          const char *sha, const cfo_change_set **out, cfo_diag *d)
{
    for (size_t i = 0; i < cc->n; i++) {
        if (strcmp(cc->sha[i], sha) == 0) {
            *out = &cc->set[i];
            return CFO_OK;
        }
    }
    cfo_change_set cs;
    cfo_err err = cfo_changes_load(top, o->changed_since, sha, o->config, &cs, d);
    if (err != CFO_OK)
        return err;
    cc->sha = cfo_xrealloc(cc->sha, (cc->n + 1) * sizeof *cc->sha);
    cc->set = cfo_xrealloc(cc->set, (cc->n + 1) * sizeof *cc->set);
    cc->sha[cc->n] = cfo_xstrdup(sha);
    cs.prior = o->prior;
    cc->set[cc->n] = cs;
    *out = &cc->set[cc->n++];
    cfo_info("changed since %s on %.12s: %zu file%s", o->changed_since, sha, cs.files.n,
             cfo_plural(cs.files.n));
    return CFO_OK;
}

static void change_cache_fini(change_cache *cc)
{
    for (size_t i = 0; i < cc->n; i++) {
        free(cc->sha[i]);
        cfo_change_set_fini(&cc->set[i]);
    }
    free(cc->sha);
    free(cc->set);
}

/* The folder a fuzzer that needs one discovers in: the commit's worktree,
 * or for a dry run a temporary export of it (the caller removes it). */
static cfo_err working_dir(const cfo_taskgen_opts *o, const char *top, const char *workroot,
                           const char *sha, char **dir, cfo_diag *d)
{
    if (!o->dry_run) {
        *dir = cfo_xasprintf("%s/%s", workroot, sha);
        return cfo_git_worktree(top, sha, *dir, d);
    }
    *dir = cfo_make_temp_dir("cfo-dry-run", d);
    if (*dir == NULL)
        return CFO_EIO;
    return cfo_git_export(top, sha, *dir, d);
}

cfo_err cfo_taskgen(const cfo_taskgen_opts *o, cfo_taskset *out, cfo_diag *d)
{
    change_cache changes = {0};
    for (size_t i = 0; o->only != NULL && i < o->only->n; i++)
        if (cfo_config_find(o->config, o->only->v[i]) == NULL)
            return cfo_diag_set(d, CFO_EINVAL, "unknown fuzzer '%s' (not in %s)", o->only->v[i],
                                o->config->path ? o->config->path : "the built-in defaults");
    char *top = NULL, *current = NULL, *workroot = NULL;
    cfo_err err = cfo_git_toplevel(o->repo, &top, d);
    if (err != CFO_OK)
        return err;
    err = cfo_git_current_branch(top, &current, d);
    if (err != CFO_OK)
        goto out;
    if (!o->dry_run) {
        err = cfo_mkdir_p(o->workdir, d);
        if (err != CFO_OK)
            goto out;
    }
    char abs[PATH_MAX];
    workroot = cfo_xstrdup(realpath(o->workdir, abs) ? abs : o->workdir);
    cfo_recindex passed;
    cfo_recindex_build(&passed, o->prior, keep_passed, NULL);

    for (size_t fi = 0; fi < o->config->nfuzzers; fi++) {
        const cfo_fuzzer *f = &o->config->fuzzers[fi];
        if (o->only != NULL && o->only->n > 0 && !cfo_strv_contains(o->only, f->name))
            continue;
        cfo_strv branches;
        cfo_strv_init(&branches);
        for (size_t b = 0; b < f->branches.n; b++)
            cfo_strv_push(&branches, f->branches.v[b]);
        if (branches.n == 0)
            cfo_strv_push(&branches, current);
        for (size_t b = 0; b < branches.n && err == CFO_OK; b++) {
            const char *branch = branches.v[b];
            char *sha = NULL, *dir = NULL;
            err = cfo_git_resolve_branch(top, branch, &sha, d);
            if (err == CFO_ENOTFOUND) {
                cfo_diag_prefix(d, "fuzzer %s", f->name);
                err = CFO_EINVAL;
            }
            if (err != CFO_OK)
                break;
            if (f->needs_working_dir)
                err = working_dir(o, top, workroot, sha, &dir, d);
            else
                dir = cfo_xstrdup(top);
            if (err != CFO_OK)
                cfo_diag_prefix(d, "worktree of %s (%s)", branch, sha);
            cfo_strv targets;
            cfo_strv_init(&targets);
            if (err == CFO_OK)
                err = discover(o, f, branch, dir, &targets, d);
            const cfo_change_set *cs = NULL;
            if (err == CFO_OK && o->changed_since != NULL)
                err = changes_of(&changes, o, top, sha, &cs, d);
            for (size_t t = 0; err == CFO_OK && t < targets.n; t++) {
                if (cs != NULL && !cfo_changes_touch(cs, f, dir, targets.v[t])) {
                    out->unchanged++;
                    continue;
                }
                bool skip = f->skip_passed && !o->force &&
                            already_passed(&passed, f->name, targets.v[t], sha);
                if (skip && !o->keep_passed) {
                    out->skipped++;
                    continue;
                }
                make_task(o, f, branch, sha, targets.v[t], out);
                out->v[out->n - 1].passed = skip;
            }
            cfo_strv_fini(&targets);
            if (o->dry_run && f->needs_working_dir && dir != NULL)
                cfo_remove_tree(dir, NULL);
            free(sha);
            free(dir);
        }
        cfo_strv_fini(&branches);
        if (err != CFO_OK)
            break;
    }
    cfo_recindex_fini(&passed);
out:
    change_cache_fini(&changes);
    free(top);
    free(current);
    free(workroot);
    return err;
}
