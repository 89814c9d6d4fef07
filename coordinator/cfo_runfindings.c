/* cfo_runfindings.c -- findings at the end of a run. */
#include "cfo_runfindings.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "cfo_exec.h"
#include "cfo_file.h"
#include "cfo_git.h"
#include "cfo_json.h"
#include "cfo_lifecycle.h"
#include "cfo_log.h"
#include "cfo_sarif.h"
#include "cfo_store.h"

/* Output kept from a replay on the base, for the log. */
#define BASE_OUT_MAX ((size_t)1 << 20)
#define GIT_TIMEOUT_MS 120000

void cfo_run_findings_init(cfo_run_findings *rf)
{
    cfo_findings_init(&rf->v);
    cfo_strv_init(&rf->preexisting);
    rf->base = NULL;
}

void cfo_run_findings_fini(cfo_run_findings *rf)
{
    cfo_findings_fini(&rf->v);
    cfo_strv_fini(&rf->preexisting);
    free(rf->base);
    rf->base = NULL;
}

/* ---- the base of a pull request -------------------------------------------- */

static char *merge_base(const char *top, const char *ref, const char *commit)
{
    char *argv[] = {"git", "merge-base", (char *)ref, (char *)commit, NULL};
    cfo_capture cap = {0};
    char *sha = NULL;
    if (cfo_exec_capture(argv, top, NULL, GIT_TIMEOUT_MS, 4096, &cap, NULL) == CFO_OK &&
        cap.exit_code == 0 && cap.out != NULL) {
        cap.out[strcspn(cap.out, "\r\n")] = '\0';
        if (strlen(cap.out) == 40)
            sha = cfo_xstrdup(cap.out);
    }
    cfo_capture_fini(&cap);
    return sha;
}

/* cfo-crash reproduce BUNDLE in dir: exit 0 is reproduced. */
static bool reproduces_in(const char *crash_bin, const char *dir, const char *bundle,
                          int64_t timeout_ms)
{
    char *argv[] = {(char *)crash_bin, "reproduce", (char *)bundle, NULL};
    cfo_capture cap = {0};
    cfo_diag d = {{0}};
    bool yes = false;
    if (cfo_exec_capture(argv, dir, NULL, timeout_ms, BASE_OUT_MAX, &cap, &d) != CFO_OK) {
        cfo_warn("replay on the base: %s", d.msg);
    } else {
        yes = cap.exit_code == 0;
        if (cap.exit_code != 0 && cap.exit_code != 1)
            cfo_warn("replay of %s on the base failed (exit %d): %s", bundle, cap.exit_code,
                     cap.err ? cap.err : "");
    }
    cfo_capture_fini(&cap);
    return yes;
}

/* Whether every crash of one task's list reproduces in dir. */
static bool all_on_base(cfo_run_findings *rf, const char *crash_bin, const char *dir,
                        const char *crashes, int64_t timeout_ms)
{
    yajl_val root =
        cfo_json_depth_ok(crashes, strlen(crashes), 4) ? yajl_tree_parse(crashes, NULL, 0) : NULL;
    bool all = root != NULL && YAJL_IS_ARRAY(root) && root->u.array.len > 0;
    size_t counted = 0;
    for (size_t i = 0; all && i < root->u.array.len; i++) {
        yajl_val c = root->u.array.values[i];
        if (cfo_json_member_true(c, "replay") && !cfo_json_member_true(c, "reproduced"))
            continue; /* fixed here: nothing to blame on the change */
        const char *sig = cfo_json_member_str(c, "signature");
        const char *bundle = cfo_json_member_str(c, "bundle");
        counted++;
        if (sig == NULL || bundle == NULL) {
            all = false;
            break;
        }
        if (cfo_strv_contains(&rf->preexisting, sig))
            continue;
        if (!reproduces_in(crash_bin, dir, bundle, timeout_ms)) {
            cfo_info("new: %s does not reproduce on the base %.12s", sig, rf->base);
            all = false;
            break;
        }
        cfo_info("pre-existing: %s reproduces on the base %.12s", sig, rf->base);
        cfo_strv_push(&rf->preexisting, sig);
    }
    yajl_tree_free(root);
    return all && counted > 0;
}

void cfo_run_findings_check_base(cfo_run_findings *rf, const char *runner, const char *top,
                                 const char *workdir, const char *ref, const cfo_taskset *ts,
                                 const cfo_outcome *outcomes, int64_t timeout_ms, bool *preexisting)
{
    char *crash_bin = NULL;
    const char *slash = strrchr(runner, '/');
    crash_bin = slash ? cfo_xasprintf("%.*s/cfo-crash", (int)(slash - runner), runner)
                      : cfo_xstrdup("cfo-crash");
    char *dir = NULL;
    for (size_t i = 0; i < ts->n; i++) {
        const cfo_task *t = &ts->v[i];
        const cfo_outcome *o = &outcomes[i];
        bool engine = t->fuzzer->kind == CFO_KIND_LIBFUZZER || t->fuzzer->kind == CFO_KIND_AFL;
        if (!engine || o->status == CFO_STATUS_PASS || o->crashes == NULL)
            continue;
        char *base = merge_base(top, ref, t->commit);
        if (base == NULL) {
            cfo_warn("--changed-since %s: no merge base with %.12s; %s %s counts as new", ref,
                     t->commit, t->fuzzer->name, t->target);
            continue;
        }
        if (rf->base == NULL || strcmp(rf->base, base) != 0) {
            free(rf->base);
            rf->base = cfo_xstrdup(base);
            free(dir);
            dir = cfo_xasprintf("%s/%s", workdir, base);
            cfo_diag d = {{0}};
            if (cfo_mkdir_p(workdir, &d) != CFO_OK ||
                cfo_git_worktree(top, base, dir, &d) != CFO_OK) {
                cfo_warn("--changed-since %s: no worktree of the base %.12s: %s", ref, base, d.msg);
                free(dir);
                dir = NULL;
            }
        }
        if (dir != NULL && all_on_base(rf, crash_bin, dir, o->crashes, timeout_ms))
            preexisting[i] = true;
        free(base);
    }
    free(dir);
    free(crash_bin);
}

/* ---- the run's findings ------------------------------------------------------- */

/* "FUZZER\x1fTARGET": a task's key, and a finding's. */
static char *target_key(const char *fuzzer, const char *target)
{
    return cfo_xasprintf("%s\x1f%s", fuzzer, target);
}

/* Whether the run had a task of f's target; ctx: the sorted task keys. */
static bool ran(const cfo_finding *f, const void *ctx)
{
    char *key = target_key(f->fuzzer, f->target);
    bool yes = cfo_strv_sorted_has(ctx, key);
    free(key);
    return yes;
}

void cfo_run_findings_collect(cfo_run_findings *rf, cfo_storage *st, bool uploaded,
                              const cfo_recset *records, const cfo_config *config,
                              const cfo_taskset *ts)
{
    cfo_diag d = {{0}};
    if (cfo_store_load_findings(st, &rf->v, &d) != CFO_OK) {
        cfo_warn("findings: %s", d.msg);
        return;
    }
    if (!uploaded) {
        cfo_recset *rs = cfo_recset_new();
        cfo_recset_add_all(rs, records);
        for (size_t i = 0; i < rs->n; i++)
            rs->v[i].fresh = true;
        cfo_lifecycle_apply(&rf->v, rs, config, NULL);
        cfo_recset_destroy(&rs);
    }
    cfo_strv keys;
    cfo_strv_init(&keys);
    for (size_t i = 0; i < ts->n; i++)
        cfo_strv_push_owned(&keys, target_key(ts->v[i].fuzzer->name, ts->v[i].target));
    cfo_strv_sort(&keys);
    cfo_findings_filter(&rf->v, ran, &keys);
    cfo_strv_fini(&keys);
}

bool cfo_run_findings_is_preexisting(const cfo_run_findings *rf, const cfo_finding *f)
{
    return f->crash_state != NULL && cfo_strv_contains(&rf->preexisting, f->crash_state);
}

static size_t count_lines(const cfo_buf *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->len; i++)
        n += b->data[i] == '\n';
    return n;
}

void cfo_run_findings_notify(const cfo_config *config, const cfo_buf *events)
{
    if (config->notify_argv.n == 0 || events->len == 0)
        return;
    char *dir = cfo_make_temp_dir("cfo-notify", NULL);
    if (dir == NULL) {
        cfo_warn("notify_command: no temporary folder for its input");
        return;
    }
    char *path = cfo_xasprintf("%s/events.jsonl", dir);
    cfo_diag d = {{0}};
    if (cfo_write_file_atomic(path, events->data, events->len, &d) != CFO_OK) {
        cfo_warn("notify_command: %s", d.msg);
    } else {
        cfo_strv argv;
        cfo_strv_init(&argv);
        for (size_t i = 0; i < config->notify_argv.n; i++)
            cfo_strv_push(&argv, config->notify_argv.v[i]);
        cfo_capture cap = {0};
        if (cfo_exec_capture_in(argv.v, NULL, path, NULL, 10 * 60 * 1000, 1 << 20, &cap, &d) !=
            CFO_OK)
            cfo_warn("notify_command %s: %s", argv.v[0], d.msg);
        else if (cap.exit_code != 0)
            cfo_warn("notify_command %s exited %d: %s", argv.v[0], cap.exit_code,
                     cap.err ? cap.err : "");
        else
            cfo_info("notify_command %s: told of %zu change%s", argv.v[0], count_lines(events),
                     count_lines(events) == 1 ? "" : "s");
        if (cap.out != NULL && cap.out[0] != '\0')
            fputs(cap.out, stdout);
        cfo_capture_fini(&cap);
        cfo_strv_fini(&argv);
    }
    cfo_remove_tree(dir, NULL);
    free(path);
    free(dir);
}

/* ---- the reports ---------------------------------------------------------------- */

static const char *shown_state(const cfo_run_findings *rf, const cfo_finding *f)
{
    if (f->open && cfo_run_findings_is_preexisting(rf, f))
        return "pre-existing";
    if (f->open && f->regressed > 0)
        return "regressed";
    return cfo_finding_state(f);
}

/* What the summary and the markdown report show of one finding, as text. */
typedef struct finding_text {
    const char *state;
    char range[200];  /* "last bad abc, fixed def on main", "first seen abc on main, ..." */
    cfo_buf branches; /* "main open, dev fixed" */
    char *reproduce;  /* the command that replays its bundle */
} finding_text;

static void finding_text_init(finding_text *t, const cfo_run_findings *rf, const cfo_finding *f)
{
    t->state = shown_state(rf, f);
    if (f->has_fixed)
        snprintf(t->range, sizeof t->range, "last bad %.12s, fixed %.12s on %s",
                 f->fixed_last_bad ? f->fixed_last_bad : "?", f->fixed.commit, f->fixed.branch);
    else
        snprintf(t->range, sizeof t->range, "first seen %.12s on %s, last %.12s on %s",
                 f->first.commit, f->first.branch, f->last.commit, f->last.branch);
    cfo_buf_init(&t->branches);
    cfo_buf_puts(&t->branches, "");
    for (size_t i = 0; i < f->nbranches; i++)
        cfo_buf_printf(&t->branches, "%s%s %s", i ? ", " : "", f->branches[i].branch,
                       f->branches[i].open ? "open" : "fixed");
    t->reproduce = cfo_finding_reproduce_command(f);
}

static void finding_text_fini(finding_text *t)
{
    cfo_buf_fini(&t->branches);
    free(t->reproduce);
}

void cfo_run_findings_print(FILE *out, const cfo_run_findings *rf)
{
    if (rf->v.n == 0)
        return;
    fprintf(out, "\nfindings of this run's targets:\n");
    for (size_t i = 0; i < rf->v.n; i++) {
        const cfo_finding *f = &rf->v.v[i];
        finding_text t;
        finding_text_init(&t, rf, f);
        fprintf(out, "  %-12s %s\n               %s; branches: %s\n               reproduce: %s\n",
                t.state, f->title, t.range, t.branches.data, t.reproduce);
        finding_text_fini(&t);
    }
}

void cfo_run_findings_markdown(cfo_buf *out, const cfo_run_findings *rf)
{
    if (rf->v.n == 0)
        return;
    cfo_buf_puts(out,
                 "\n### Findings\n\n| state | finding | since / fixed | branches | reproduce |\n"
                 "|---|---|---|---|---|\n");
    for (size_t i = 0; i < rf->v.n; i++) {
        const cfo_finding *f = &rf->v.v[i];
        finding_text t;
        finding_text_init(&t, rf, f);
        cfo_buf_markupf(out, "| %s | %s | %s | %s | `%s` |\n", t.state, f->title, t.range,
                        t.branches.data, t.reproduce);
        finding_text_fini(&t);
    }
}

void cfo_run_findings_json(cfo_buf *out, const cfo_run_findings *rf)
{
    cfo_buf_puts(out, "[");
    for (size_t i = 0; i < rf->v.n; i++) {
        const cfo_finding *f = &rf->v.v[i];
        cfo_buf one;
        cfo_buf_init(&one);
        cfo_finding_write_json(f, &one);
        /* the object without its closing brace, then "shown" */
        if (one.len > 0)
            one.len--;
        cfo_buf_printf(out, "%s%.*s,\"shown\":\"%s\"}", i ? "," : "", (int)one.len, one.data,
                       shown_state(rf, f));
        cfo_buf_fini(&one);
    }
    cfo_buf_puts(out, "]");
}

void cfo_run_findings_junit(cfo_buf *out, const cfo_run_findings *rf)
{
    size_t failures = 0;
    for (size_t i = 0; i < rf->v.n; i++)
        failures += rf->v.v[i].open && !cfo_run_findings_is_preexisting(rf, &rf->v.v[i]);
    cfo_buf_printf(out,
                   "  <testsuite name=\"findings\" tests=\"%zu\" failures=\"%zu\" errors=\"0\">\n",
                   rf->v.n, failures);
    for (size_t i = 0; i < rf->v.n; i++) {
        const cfo_finding *f = &rf->v.v[i];
        finding_text t;
        finding_text_init(&t, rf, f);
        cfo_buf_markupf(out, "    <testcase classname=\"findings.%s\" name=\"%s\">\n", f->fuzzer,
                        f->title);
        if (f->open && !cfo_run_findings_is_preexisting(rf, f))
            cfo_buf_markupf(out, "      <failure message=\"%s\">%s; reproduce: %s</failure>\n",
                            t.state, t.range, t.reproduce);
        else
            cfo_buf_markupf(out, "      <system-out>%s: %s; reproduce: %s</system-out>\n", t.state,
                            t.range, t.reproduce);
        cfo_buf_puts(out, "    </testcase>\n");
        finding_text_fini(&t);
    }
    cfo_buf_puts(out, "  </testsuite>\n");
}
