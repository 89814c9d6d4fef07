/* cfo_report.c -- summary table, JSON run report, JUnit XML. */
#include "cfo_report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include "cfo_cmdline.h"
#include "cfo_file.h"
#include "cfo_dataset.h"
#include "cfo_json.h"
#include "cfo_log.h"
#include "cfo_util.h"

/* How a task's outcome reads in a report. The canary's failure is the
 * harness working: a passing check, never a failed test; a canary that did
 * not fail is the harness failing, shown before anything else. */
typedef enum shown_as {
    SHOWN_PASSED,
    SHOWN_NOT_PASSED,
    SHOWN_CANCELLED,
    SHOWN_CANARY_OK,
    SHOWN_CANARY_BROKEN,
} shown_as;

static shown_as shown(const cfo_task *t, const cfo_outcome *o)
{
    if (o->status == CFO_STATUS_CANCELLED)
        return SHOWN_CANCELLED;
    if (t->fuzzer->kind == CFO_KIND_CANARY)
        return o->status == CFO_STATUS_FAIL ? SHOWN_CANARY_OK : SHOWN_CANARY_BROKEN;
    return o->status == CFO_STATUS_PASS ? SHOWN_PASSED : SHOWN_NOT_PASSED;
}

/* Cancelled tasks, counted per fuzzer and reason: a budget cut of 86,000
 * tasks is a few lines, not 86,000. */
#define CANCEL_GROUPS 16
#define CANCELLED_LISTED 5

typedef struct cancel_group {
    const char *fuzzer, *why;
    size_t n;
} cancel_group;

static size_t group_cancelled(const cfo_taskset *ts, const cfo_outcome *outcomes, cancel_group *g,
                              size_t *total)
{
    size_t ng = 0;
    *total = 0;
    for (size_t i = 0; i < ts->n; i++) {
        if (outcomes[i].status != CFO_STATUS_CANCELLED)
            continue;
        ++*total;
        const char *f = ts->v[i].fuzzer->name,
                   *why = outcomes[i].summary ? outcomes[i].summary : "";
        size_t k = 0;
        while (k < ng && (strcmp(g[k].fuzzer, f) != 0 || strcmp(g[k].why, why) != 0))
            k++;
        if (k == ng && ng < CANCEL_GROUPS)
            g[ng++] = (cancel_group){f, why, 0};
        if (k < ng)
            g[k].n++;
    }
    return ng;
}

static void print_canary(FILE *out, const cfo_taskset *ts, const cfo_outcome *outcomes)
{
    for (size_t i = 0; i < ts->n; i++) {
        const cfo_task *t = &ts->v[i];
        shown_as a = shown(t, &outcomes[i]);
        if (a == SHOWN_CANARY_BROKEN)
            fprintf(out, "\nHARNESS FAILURE: canary %s on %s ended '%s' instead of failing\n",
                    t->fuzzer->name, t->branch, cfo_status_name(outcomes[i].status));
        else if (a == SHOWN_CANARY_OK)
            fprintf(out, "\nCanary %s on %s: failed as it must (the harness records failures)\n",
                    t->fuzzer->name, t->branch);
    }
}

static void print_cancelled(FILE *out, const cfo_taskset *ts, const cfo_outcome *outcomes)
{
    cancel_group g[CANCEL_GROUPS];
    size_t total;
    size_t ng = group_cancelled(ts, outcomes, g, &total);
    if (total == 0)
        return;
    fprintf(out, "\nCancelled: %zu task(s)\n", total);
    for (size_t k = 0; k < ng; k++)
        fprintf(out, "  %6zu  %s: %s\n", g[k].n, g[k].fuzzer, g[k].why);
    size_t listed = 0;
    for (size_t i = 0; i < ts->n && listed < CANCELLED_LISTED; i++) {
        if (outcomes[i].status != CFO_STATUS_CANCELLED)
            continue;
        const cfo_task *t = &ts->v[i];
        fprintf(out, "  %s %s %s%s\n", t->fuzzer->name, t->branch, t->target,
                ++listed == CANCELLED_LISTED && total > listed ? " ..." : "");
    }
}

void cfo_task_record(const cfo_task *t, const cfo_outcome *o, const char *run_id,
                     const char *worker, cfo_record *out)
{
    *out = (cfo_record){.commit = t->commit,
                        .fuzzer = t->fuzzer->name,
                        .branch = t->branch,
                        .target = t->target,
                        .run = run_id,
                        .worker = worker};
    cfo_record_from_outcome(out, o);
}

typedef struct fuzzer_totals {
    const char *name;
    size_t tasks;
    size_t by_status[CFO_STATUS_COUNT];
    double slowest;
    const char *slowest_target;
} fuzzer_totals;

static size_t tally(const cfo_taskset *ts, const cfo_outcome *outcomes, fuzzer_totals *tot,
                    size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < ts->n; i++) {
        const char *name = ts->v[i].fuzzer->name;
        size_t k = 0;
        while (k < n && strcmp(tot[k].name, name) != 0)
            k++;
        if (k == n) {
            if (n == max)
                continue;
            memset(&tot[n], 0, sizeof tot[n]);
            tot[n++].name = name;
        }
        tot[k].tasks++;
        tot[k].by_status[outcomes[i].status]++;
        if (outcomes[i].status != CFO_STATUS_CANCELLED && outcomes[i].duration >= tot[k].slowest) {
            tot[k].slowest = outcomes[i].duration;
            tot[k].slowest_target = ts->v[i].target;
        }
    }
    return n;
}

/* Indices of the max slowest finished tasks, slowest first; returns how many. */
static size_t slowest_tasks(const cfo_taskset *ts, const cfo_outcome *outcomes, size_t *idx,
                            size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < ts->n; i++) {
        if (outcomes[i].status == CFO_STATUS_CANCELLED)
            continue;
        /* Insertion into a short sorted list; ties keep task order. */
        size_t k = n < max ? n++ : max;
        while (k > 0 && outcomes[idx[k - 1]].duration < outcomes[i].duration) {
            if (k < max)
                idx[k] = idx[k - 1];
            k--;
        }
        if (k < max)
            idx[k] = i;
    }
    return n;
}

void cfo_report_summary(FILE *out, const cfo_taskset *ts, const cfo_outcome *outcomes)
{
    fuzzer_totals tot[CFO_MAX_FUZZERS];
    size_t n = tally(ts, outcomes, tot, CFO_MAX_FUZZERS);
    fprintf(out, "\n%-20s %6s %6s %6s %8s %4s %6s %9s  %s\n", "FUZZER", "TASKS", "PASS", "FAIL",
            "TIMEOUT", "OOM", "ERROR", "CANCELLED", "SLOWEST");
    for (size_t k = 0; k < n; k++) {
        char slow[64] = "-";
        if (tot[k].slowest_target != NULL)
            snprintf(slow, sizeof slow, "%.1fs", tot[k].slowest);
        fprintf(out, "%-20s %6zu %6zu %6zu %8zu %4zu %6zu %9zu  %s%s%s\n", tot[k].name,
                tot[k].tasks, tot[k].by_status[CFO_STATUS_PASS], tot[k].by_status[CFO_STATUS_FAIL],
                tot[k].by_status[CFO_STATUS_TIMEOUT], tot[k].by_status[CFO_STATUS_OOM],
                tot[k].by_status[CFO_STATUS_ERROR], tot[k].by_status[CFO_STATUS_CANCELLED], slow,
                tot[k].slowest_target ? " " : "",
                tot[k].slowest_target ? tot[k].slowest_target : "");
    }
    /* The slowest tasks across fuzzers: what to split or speed up first. */
    size_t slow[CFO_REPORT_SLOWEST];
    size_t nslow = slowest_tasks(ts, outcomes, slow, CFO_REPORT_SLOWEST);
    if (nslow > 1) {
        fprintf(out, "\nSlowest tasks:\n");
        for (size_t k = 0; k < nslow; k++) {
            const cfo_task *t = &ts->v[slow[k]];
            fprintf(out, "  %8.1fs  %s %s %s\n", outcomes[slow[k]].duration, t->fuzzer->name,
                    t->branch, t->target);
        }
    }
    print_canary(out, ts, outcomes);
    bool header = false;
    for (size_t i = 0; i < ts->n; i++) {
        const cfo_outcome *o = &outcomes[i];
        if (shown(&ts->v[i], o) != SHOWN_NOT_PASSED)
            continue;
        if (!header) {
            fprintf(out, "\nNot passed:\n");
            header = true;
        }
        const cfo_task *t = &ts->v[i];
        fprintf(out, "  %-9s %s %s@%.12s %s: %s\n", cfo_status_name(o->status), t->fuzzer->name,
                t->branch, t->commit, t->target, o->summary ? o->summary : "");
        if (o->log_path != NULL)
            fprintf(out, "            log: %s\n", o->log_path);
    }
    print_cancelled(out, ts, outcomes);
    fflush(out);
}

cfo_err cfo_report_json(const char *path, const cfo_taskset *ts, const cfo_outcome *outcomes,
                        const cfo_run_info *info, cfo_diag *d)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_config(g, yajl_gen_beautify, 1);
    yajl_gen_config(g, yajl_gen_validate_utf8, 0);
    yajl_gen_map_open(g);
    cfo_json_str(g, "run", info->run_id);
    cfo_json_str(g, "worker", info->worker);
    cfo_json_time(g, "started", info->started_wall_ms);
    cfo_json_time(g, "finished", info->finished_wall_ms);
    cfo_json_int(g, "exit_code", info->exit_code);
    cfo_json_str(g, "verdict", info->verdict);

    size_t by_status[CFO_STATUS_COUNT] = {0};
    for (size_t i = 0; i < ts->n; i++)
        by_status[outcomes[i].status]++;
    cfo_json_key(g, "totals");
    yajl_gen_map_open(g);
    cfo_json_int(g, "tasks", (long long)ts->n);
    for (int s = 0; s < CFO_STATUS_COUNT; s++)
        cfo_json_int(g, cfo_status_name((cfo_status)s), (long long)by_status[s]);
    cfo_json_int(g, "skipped_already_passed", (long long)ts->skipped);
    yajl_gen_map_close(g);

    cfo_json_key(g, "tasks");
    yajl_gen_array_open(g);
    cfo_buf rec;
    cfo_buf_init(&rec);
    for (size_t i = 0; i < ts->n; i++) {
        const cfo_outcome *o = &outcomes[i];
        cfo_record r;
        cfo_task_record(&ts->v[i], o, info->run_id, info->worker, &r);
        yajl_gen_map_open(g);
        cfo_json_key(g, "record");
        cfo_buf_reset(&rec);
        cfo_record_write_json(&r, &rec);
        /* The record's own writer is the one truth of its JSON form. */
        yajl_gen_number(g, rec.data, rec.len);
        cfo_json_str(g, "summary", o->summary);
        cfo_json_str(g, "log", o->log_path);
        cfo_json_int(g, "exit_code", o->exit_code);
        cfo_json_int(g, "signal", o->term_signal);
        cfo_json_str(g, "output_tail", o->tail ? o->tail : "");
        yajl_gen_map_close(g);
    }
    cfo_buf_fini(&rec);
    yajl_gen_array_close(g);
    if (info->findings_json != NULL) {
        cfo_json_key(g, "findings");
        yajl_gen_number(g, info->findings_json, strlen(info->findings_json));
    }
    yajl_gen_map_close(g);
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    cfo_err err = cfo_write_file_atomic(path, buf, len, d);
    yajl_gen_free(g);
    return err;
}

/* The JUnit element of an outcome: "failure", "error", "skipped", or NULL
 * for a passing check (the canary failing as it must included). */
static const char *junit_element(const cfo_task *t, const cfo_outcome *o)
{
    if (shown(t, o) == SHOWN_CANARY_OK)
        return NULL;
    if (shown(t, o) == SHOWN_CANARY_BROKEN)
        return "failure";
    switch (o->status) {
    case CFO_STATUS_PASS:
        return NULL;
    case CFO_STATUS_FAIL:
    case CFO_STATUS_TIMEOUT:
    case CFO_STATUS_OOM:
        return "failure";
    case CFO_STATUS_ERROR:
        return "error";
    case CFO_STATUS_CANCELLED:
        return "skipped";
    }
    return "error";
}

static size_t junit_count(const cfo_taskset *ts, const cfo_outcome *outcomes, const char *fuzzer,
                          const char *elem)
{
    size_t n = 0;
    for (size_t i = 0; i < ts->n; i++) {
        const char *e = junit_element(&ts->v[i], &outcomes[i]);
        n += strcmp(ts->v[i].fuzzer->name, fuzzer) == 0 && e != NULL && strcmp(e, elem) == 0;
    }
    return n;
}

static void junit_outcome(cfo_buf *b, const cfo_task *t, const cfo_outcome *o)
{
    cfo_buf_markupf(b, "    <testcase classname=\"%s.%s\" name=\"%s", t->fuzzer->name, t->branch,
                    t->target);
    cfo_buf_printf(b, "\" time=\"%.3f\"", o->duration);
    const char *elem = junit_element(t, o);
    if (shown(t, o) == SHOWN_CANARY_OK) {
        cfo_buf_puts(b, ">\n      <system-out>failed as it must: the harness records "
                        "failures</system-out>\n    </testcase>\n");
    } else if (elem == NULL) {
        cfo_buf_puts(b, "/>\n");
    } else if (strcmp(elem, "skipped") == 0) {
        /* A budget cut can skip thousands: one line each. */
        cfo_buf_markupf(b, ">\n      <skipped message=\"%s\"/>\n    </testcase>\n", o->summary);
    } else {
        const char *type =
            shown(t, o) == SHOWN_CANARY_BROKEN ? "harness" : cfo_status_name(o->status);
        cfo_buf_markupf(b,
                        ">\n      <%s type=\"%s\" message=\"%s\">commit %s\nreproduce from the "
                        "worktree root: %s\n%s</%s>\n    </testcase>\n",
                        elem, type, o->summary, t->commit, o->command, o->tail, elem);
    }
}

/* A run whose harness failed (exit 3) says so as a testcase of its own,
 * first, so a CI test tab shows why even when no task ran. */
static void junit_harness(cfo_buf *b, const cfo_run_info *info)
{
    if (info->exit_code != CFO_EXIT_HARNESS)
        return;
    cfo_buf_puts(b, "  <testsuite name=\"cfo\" tests=\"1\" failures=\"0\" errors=\"1\" "
                    "skipped=\"0\">\n    <testcase classname=\"cfo\" name=\"harness\">\n");
    cfo_buf_markupf(b, "      <error type=\"harness\" message=\"%s\"/>\n", info->verdict);
    cfo_buf_puts(b, "    </testcase>\n  </testsuite>\n");
}

cfo_err cfo_report_junit(const char *path, const cfo_taskset *ts, const cfo_outcome *outcomes,
                         const cfo_run_info *info, cfo_diag *d)
{
    fuzzer_totals tot[CFO_MAX_FUZZERS];
    size_t n = tally(ts, outcomes, tot, CFO_MAX_FUZZERS);
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"cfo\">\n");
    junit_harness(&b, info);
    for (size_t k = 0; k < n; k++) {
        double total_time = 0;
        for (size_t i = 0; i < ts->n; i++)
            if (strcmp(ts->v[i].fuzzer->name, tot[k].name) == 0)
                total_time += outcomes[i].duration;
        cfo_buf_markupf(&b, "  <testsuite name=\"%s", tot[k].name);
        cfo_buf_printf(&b,
                       "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" "
                       "time=\"%.3f\">\n",
                       tot[k].tasks, junit_count(ts, outcomes, tot[k].name, "failure"),
                       junit_count(ts, outcomes, tot[k].name, "error"),
                       tot[k].by_status[CFO_STATUS_CANCELLED], total_time);
        cfo_buf_markupf(&b, "    <properties><property name=\"run\" value=\"%s\"/></properties>\n",
                        info->run_id);
        for (size_t i = 0; i < ts->n; i++) {
            const cfo_task *t = &ts->v[i];
            const cfo_outcome *o = &outcomes[i];
            if (strcmp(t->fuzzer->name, tot[k].name) == 0)
                junit_outcome(&b, t, o);
        }
        cfo_buf_puts(&b, "  </testsuite>\n");
    }
    if (info->findings_junit != NULL)
        cfo_buf_puts(&b, info->findings_junit);
    cfo_buf_puts(&b, "</testsuites>\n");
    cfo_err err = cfo_write_file_atomic(path, b.data, b.len, d);
    cfo_buf_fini(&b);
    return err;
}

/* Markdown text: a copy that stays one line, is valid UTF-8, and whose
 * characters markdown or HTML would act on are escaped. */
static void md_text(cfo_buf *b, const char *s)
{
    if (s == NULL)
        return;
    char *copy = cfo_xstrdup(s);
    cfo_utf8_sanitize(copy);
    for (const char *p = copy; *p; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t')
            cfo_buf_puts(b, " ");
        else if (strchr("<>&", *p) != NULL) /* quotes are plain text in markdown */
            cfo_buf_puts(b, cfo_markup_entity(*p));
        else if (strchr("\\`*_[]|#~!", *p) != NULL)
            cfo_buf_printf(b, "\\%c", *p);
        else
            cfo_buf_append(b, p, 1);
    }
    free(copy);
}

/* An inline code span holding s verbatim: its fence is one backtick longer
 * than the longest run of backticks inside. */
static void md_code(cfo_buf *b, const char *s)
{
    char *copy = cfo_xstrdup(s ? s : "");
    cfo_utf8_sanitize(copy);
    size_t longest = 0, run = 0;
    for (char *p = copy; *p; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
        run = *p == '`' ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    size_t len = strlen(copy);
    bool pad = len > 0 && (copy[0] == '`' || copy[len - 1] == '`' || copy[0] == ' ');
    for (size_t i = 0; i <= longest; i++)
        cfo_buf_puts(b, "`");
    if (pad)
        cfo_buf_puts(b, " ");
    cfo_buf_puts(b, copy);
    if (pad)
        cfo_buf_puts(b, " ");
    for (size_t i = 0; i <= longest; i++)
        cfo_buf_puts(b, "`");
    free(copy);
}

static cfo_err append_file(const char *path, const char *data, size_t len, cfo_diag *d)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return cfo_diag_set(d, CFO_EIO, "cannot open %s: %s", path, strerror(errno));
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            cfo_err err = cfo_diag_set(d, CFO_EIO, "cannot write %s: %s", path, strerror(errno));
            close(fd);
            return err;
        }
        data += w;
        len -= (size_t)w;
    }
    if (close(fd) != 0)
        return cfo_diag_set(d, CFO_EIO, "cannot write %s: %s", path, strerror(errno));
    return CFO_OK;
}

/* The canary first: a passing check, or the harness failure it shows. */
static void md_canary(cfo_buf *b, const cfo_taskset *ts, const cfo_outcome *outcomes)
{
    for (size_t i = 0; i < ts->n; i++) {
        const cfo_task *t = &ts->v[i];
        shown_as a = shown(t, &outcomes[i]);
        if (a != SHOWN_CANARY_OK && a != SHOWN_CANARY_BROKEN)
            continue;
        cfo_buf_puts(b, a == SHOWN_CANARY_OK ? "- :white_check_mark: canary "
                                             : "- :x: **harness "
                                               "failure**: canary ");
        md_text(b, t->fuzzer->name);
        cfo_buf_puts(b, " on ");
        md_code(b, t->branch);
        if (a == SHOWN_CANARY_OK)
            cfo_buf_puts(b, ": failed as it must (the harness records failures)\n");
        else
            cfo_buf_printf(b, ": ended `%s` instead of failing\n",
                           cfo_status_name(outcomes[i].status));
    }
}

static void md_cancelled(cfo_buf *b, const cfo_taskset *ts, const cfo_outcome *outcomes)
{
    cancel_group g[CANCEL_GROUPS];
    size_t total;
    size_t ng = group_cancelled(ts, outcomes, g, &total);
    if (total == 0)
        return;
    cfo_buf_printf(b, "\n### Cancelled (%zu)\n\n", total);
    for (size_t k = 0; k < ng; k++) {
        cfo_buf_printf(b, "- %zu ", g[k].n);
        md_text(b, g[k].fuzzer);
        cfo_buf_puts(b, ": ");
        md_text(b, g[k].why);
        cfo_buf_puts(b, "\n");
    }
}

cfo_err cfo_report_step_summary(const char *path, const cfo_taskset *ts,
                                const cfo_outcome *outcomes, const cfo_run_info *info, cfo_diag *d)
{
    fuzzer_totals tot[CFO_MAX_FUZZERS];
    size_t n = tally(ts, outcomes, tot, CFO_MAX_FUZZERS);
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_buf_puts(&b, "## CFO run ");
    md_code(&b, info->run_id);
    char took[32];
    cfo_format_duration(info->finished_wall_ms - info->started_wall_ms, took, sizeof took);
    cfo_buf_printf(&b, "\n\n**exit %d**: ", info->exit_code);
    md_text(&b, info->verdict);
    cfo_buf_printf(&b, " (%zu tasks in %s)\n\n", ts->n, took);
    cfo_buf_puts(&b,
                 "| fuzzer | tasks | pass | fail | timeout | oom | error | cancelled | slowest |\n"
                 "|:--|--:|--:|--:|--:|--:|--:|--:|:--|\n");
    for (size_t k = 0; k < n; k++) {
        cfo_buf_puts(&b, "| ");
        md_text(&b, tot[k].name);
        cfo_buf_printf(&b, " | %zu | %zu | %zu | %zu | %zu | %zu | %zu | ", tot[k].tasks,
                       tot[k].by_status[CFO_STATUS_PASS], tot[k].by_status[CFO_STATUS_FAIL],
                       tot[k].by_status[CFO_STATUS_TIMEOUT], tot[k].by_status[CFO_STATUS_OOM],
                       tot[k].by_status[CFO_STATUS_ERROR], tot[k].by_status[CFO_STATUS_CANCELLED]);
        if (tot[k].slowest_target != NULL) {
            cfo_buf_printf(&b, "%.1fs ", tot[k].slowest);
            md_text(&b, tot[k].slowest_target);
        } else {
            cfo_buf_puts(&b, "-");
        }
        cfo_buf_puts(&b, " |\n");
    }
    md_canary(&b, ts, outcomes);
    size_t bad = 0;
    for (size_t i = 0; i < ts->n; i++)
        bad += shown(&ts->v[i], &outcomes[i]) == SHOWN_NOT_PASSED;
    if (bad > 0)
        cfo_buf_printf(&b, "\n### Not passed (%zu)\n\n", bad);
    size_t listed = 0;
    for (size_t i = 0; i < ts->n && listed < CFO_STEP_SUMMARY_MAX_TASKS; i++) {
        const cfo_task *t = &ts->v[i];
        const cfo_outcome *o = &outcomes[i];
        if (shown(t, o) != SHOWN_NOT_PASSED)
            continue;
        listed++;
        cfo_buf_printf(&b, "- **%s** ", cfo_status_name(o->status));
        md_text(&b, t->fuzzer->name);
        cfo_buf_puts(&b, " ");
        md_code(&b, t->branch);
        cfo_buf_puts(&b, " @ ");
        char sha[13];
        snprintf(sha, sizeof sha, "%.12s", t->commit ? t->commit : "");
        md_code(&b, sha);
        cfo_buf_puts(&b, " ");
        md_code(&b, t->target);
        if (o->summary != NULL && o->summary[0] != '\0') {
            cfo_buf_puts(&b, ": ");
            md_text(&b, o->summary);
        }
        cfo_buf_puts(&b, "\n");
        if (o->command != NULL) {
            cfo_buf_puts(&b, "  reproduce from the worktree root: ");
            md_code(&b, o->command);
            cfo_buf_puts(&b, "\n");
        }
    }
    if (listed < bad)
        cfo_buf_printf(&b, "\n_and %zu more: the JUnit report lists them all._\n", bad - listed);
    md_cancelled(&b, ts, outcomes);
    if (info->findings_markdown != NULL)
        cfo_buf_puts(&b, info->findings_markdown);
    cfo_buf_puts(&b, "\n");
    cfo_err err = append_file(path, b.data, b.len, d);
    cfo_buf_fini(&b);
    return err;
}
