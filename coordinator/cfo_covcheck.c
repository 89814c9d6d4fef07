/* cfo_covcheck.c -- coverage drops between tested commits, and which
 * engine targets a change reaches by their coverage. */
#include "cfo_covcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "cfo_blobdir.h"
#include "cfo_coverage.h"
#include "cfo_json.h"
#include "cfo_log.h"

/* A covered-files list is one line per source file of one target. */
#define FILES_MAX ((uint64_t)16 << 20)

const cfo_record *cfo_covcheck_latest(const cfo_recset *prior, const char *fuzzer,
                                      const char *branch, const char *target)
{
    const cfo_record *best = NULL;
    for (size_t i = 0; prior != NULL && i < prior->n; i++) {
        const cfo_record *r = &prior->v[i];
        if (r->coverage == NULL || strcmp(r->fuzzer, fuzzer) != 0 ||
            strcmp(r->target, target) != 0 || (branch != NULL && strcmp(r->branch, branch) != 0))
            continue;
        if (best == NULL || r->time_ms > best->time_ms ||
            (r->time_ms == best->time_ms && r->attempt > best->attempt))
            best = r;
    }
    return best;
}

/* The findings list with one more entry for the drop: compact JSON, or the
 * list unchanged when it would grow past the record's bound. */
static char *add_drop_entry(const char *crashes, const char *range, const char *short_range,
                            double before, double after)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    char *sig = cfo_xasprintf("coverage_drop:%s", short_range);
    cfo_json_str(g, "signature", sig);
    free(sig);
    cfo_json_str(g, "kind", "coverage_drop");
    cfo_json_bool(g, "new", true);
    cfo_json_str(g, "range", range);
    char pct[32];
    snprintf(pct, sizeof pct, "%.2f%%", before);
    cfo_json_str(g, "lines_before", pct);
    snprintf(pct, sizeof pct, "%.2f%%", after);
    cfo_json_str(g, "lines_after", pct);
    yajl_gen_map_close(g);
    const unsigned char *obj;
    size_t len;
    yajl_gen_get_buf(g, &obj, &len);
    char *out;
    if (crashes == NULL || strcmp(crashes, "[]") == 0)
        out = cfo_xasprintf("[%.*s]", (int)len, (const char *)obj);
    else /* compact and validated: an array whose last byte is its ']' */
        out = cfo_xasprintf("%.*s,%.*s]", (int)(strlen(crashes) - 1), crashes, (int)len,
                            (const char *)obj);
    yajl_gen_free(g);
    char *checked = cfo_outcome_compact_crashes(out);
    free(out);
    return checked;
}

static bool ran_to_end(const cfo_outcome *o)
{
    return o->done && (o->status == CFO_STATUS_PASS || o->status == CFO_STATUS_FAIL);
}

/* Fails o when its coverage dropped past the fuzzer's bound since the
 * newest earlier record of its branch; returns whether it did. */
static bool check_one(const cfo_task *t, cfo_outcome *o, const cfo_recset *prior)
{
    const cfo_record *old = cfo_covcheck_latest(prior, t->fuzzer->name, t->branch, t->target);
    if (old == NULL || strcmp(old->commit, t->commit) == 0)
        return false;
    cfo_coverage was, now;
    cfo_diag d = {{0}};
    if (cfo_coverage_parse(old->coverage, &was, &d) != CFO_OK ||
        cfo_coverage_parse(o->coverage, &now, &d) != CFO_OK)
        return false;
    double before = cfo_coverage_line_pct(&was), after = cfo_coverage_line_pct(&now);
    if (before - after <= (double)t->fuzzer->coverage_drop)
        return false;
    char *range = cfo_xasprintf("%s..%s", old->commit, t->commit);
    char *short_range = cfo_xasprintf("%.12s..%.12s", old->commit, t->commit);
    char *why =
        cfo_xasprintf("coverage drop: lines %.2f%% at %.12s -> %.2f%% at %.12s, more "
                      "than %d%%; range %s",
                      before, old->commit, after, t->commit, t->fuzzer->coverage_drop, range);
    cfo_warn("%s %s %s: %s", t->fuzzer->name, t->branch, t->target, why);
    char *summary = cfo_xasprintf("%s; %s", o->summary ? o->summary : "", why);
    free(o->summary);
    o->summary = summary;
    char *crashes = add_drop_entry(o->crashes, range, short_range, before, after);
    if (crashes != NULL) {
        free(o->crashes);
        o->crashes = crashes;
    }
    o->findings++;
    o->status = CFO_STATUS_FAIL;
    free(why);
    free(short_range);
    free(range);
    return true;
}

size_t cfo_covcheck_drops(const cfo_taskset *ts, cfo_outcome *outcomes, const cfo_recset *prior)
{
    size_t failed = 0;
    for (size_t i = 0; prior != NULL && i < ts->n; i++)
        if (ran_to_end(&outcomes[i]) && outcomes[i].coverage != NULL &&
            check_one(&ts->v[i], &outcomes[i], prior))
            failed++;
    return failed;
}

/* The covered-files list stored beside the report at url, into text. */
static cfo_err read_files_list(const char *report_url, cfo_buf *text, cfo_diag *d)
{
    const char *slash = strrchr(report_url, '/');
    if (slash == NULL || slash == report_url)
        return cfo_diag_set(d, CFO_EINVAL, "report '%s' is not in a folder", report_url);
    char *folder = cfo_xstrndup(report_url, (size_t)(slash - report_url));
    cfo_blobdir *dir = NULL;
    char *tmp = NULL, *path = NULL;
    cfo_err err = cfo_blobdir_open(folder, &dir, d);
    if (err == CFO_OK) {
        tmp = cfo_make_temp_dir("cfo-coverage", d);
        err = tmp != NULL ? CFO_OK : CFO_EIO;
    }
    if (err == CFO_OK) {
        path = cfo_xasprintf("%s/%s", tmp, CFO_COVERAGE_FILES);
        err = cfo_blobdir_get(dir, CFO_COVERAGE_FILES, path, FILES_MAX, d);
    }
    if (err == CFO_OK)
        err = cfo_read_file(path, FILES_MAX, text, d);
    if (tmp != NULL)
        cfo_remove_tree(tmp, NULL);
    free(path);
    free(tmp);
    cfo_blobdir_destroy(&dir);
    free(folder);
    return err;
}

bool cfo_covcheck_touches(const cfo_recset *prior, const cfo_fuzzer *f, const char *target,
                          const cfo_strv *files)
{
    const cfo_record *rec = cfo_covcheck_latest(prior, f->name, NULL, target);
    cfo_coverage cov;
    cfo_diag d = {{0}};
    if (rec == NULL || cfo_coverage_parse(rec->coverage, &cov, &d) != CFO_OK ||
        cov.report[0] == '\0')
        return true; /* no coverage yet: it cannot tell */
    cfo_buf text;
    cfo_buf_init(&text);
    if (read_files_list(cov.report, &text, &d) != CFO_OK) {
        cfo_warn("%s %s runs: its coverage list cannot be read: %s", f->name, target, d.msg);
        cfo_buf_fini(&text);
        return true;
    }
    bool touched = false;
    char *save = NULL;
    char empty[1] = "";
    for (char *line = strtok_r(text.data ? text.data : empty, "\n", &save);
         line != NULL && !touched; line = strtok_r(NULL, "\n", &save))
        touched = cfo_strv_contains(files, line);
    cfo_buf_fini(&text);
    return touched;
}
