/* test_report.c -- what people read: the HTML report's figures and markup, the
 * GitHub step summary, the summary table, JUnit, and the progress lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfo_history.h"
#include "cfo_html.h"
#include "cfo_progress.h"
#include "cfo_record.h"
#include "cfo_report.h"
#include "cfo_util.h"

#define HOUR (3600LL * 1000)
#define T0 1795000000000LL

static const char *sha(unsigned n)
{
    static char bufs[64][41];
    char *b = bufs[n % 64];
    snprintf(b, 41, "%040x", 0xabc000u + n);
    return b;
}

static char *make_tmpdir(void)
{
    char *dir = cfo_make_temp_dir("cfo-report", NULL);
    assert_non_null(dir);
    return dir;
}

static char *slurp(const char *path)
{
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_buf_puts(&b, "");
    assert_int_equal(cfo_read_file(path, 1 << 24, &b, NULL), CFO_OK);
    return cfo_buf_steal(&b);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* --- HTML ---------------------------------------------------------------- */

static const char hostile[] = "<img src=x onerror=alert(1)>\"'&";

static void add(cfo_recset *rs, const char *fuzzer, const char *target, unsigned commit,
                cfo_status st, double duration)
{
    cfo_record r = {
        .commit = sha(commit),
        .fuzzer = fuzzer,
        .branch = "main",
        .target = target,
        .command = "cfo-fuzz X t",
        .run = "run-1",
        .count = 1,
        .findings = st == CFO_STATUS_PASS ? 0 : 1,
        .duration = duration,
        .time_ms = T0 + commit * HOUR,
        .has_time = true,
        .attempt = 1,
        .status = st,
        .ok = st == CFO_STATUS_PASS,
    };
    cfo_recset_add(rs, &r);
}

/* DRIFT envs/prod: P P P F F F (broke at commit 4, last passed at 3);
 * DRIFT envs/dev: all pass; PARSER <hostile>: F T P P T T;
 * PARSER bad\xff: E on commit 6 only. */
static cfo_recset *fixture(void)
{
    cfo_recset *rs = cfo_recset_new();
    for (unsigned c = 1; c <= 6; c++) {
        add(rs, "DRIFT", "envs/prod", c, c < 4 ? CFO_STATUS_PASS : CFO_STATUS_FAIL, 2.0);
        add(rs, "DRIFT", "envs/dev", c, CFO_STATUS_PASS, 1.0);
        static const cfo_status p[] = {CFO_STATUS_FAIL, CFO_STATUS_TIMEOUT, CFO_STATUS_PASS,
                                       CFO_STATUS_PASS, CFO_STATUS_TIMEOUT, CFO_STATUS_TIMEOUT};
        add(rs, "PARSER", hostile, c, p[c - 1], 9.0);
    }
    add(rs, "PARSER", "bad\xff", 6, CFO_STATUS_ERROR, 3.0);
    return rs;
}

/* The <rect ...> of the heat map cell of (target as escaped, commit). */
static char *cell(const char *html, const char *target_escaped, unsigned commit)
{
    char *key = cfo_xasprintf("data-target=\"%s\" data-commit=\"%s\"", target_escaped, sha(commit));
    const char *p = html;
    char *found = NULL;
    while ((p = strstr(p, key)) != NULL) {
        const char *start = p;
        while (start > html && strncmp(start, "<rect", 5) != 0 && *start != '\n')
            start--;
        if (strncmp(start, "<rect", 5) == 0) {
            const char *end = strchr(p, '>');
            assert_non_null(end);
            found = cfo_xstrndup(start, (size_t)(end - start + 1));
            break;
        }
        p++;
    }
    free(key);
    if (found == NULL)
        fail_msg("no heat map cell for %s @ %u", target_escaped, commit);
    return found;
}

static void assert_cell(const char *html, const char *target, unsigned commit, const char *status,
                        const char *color, bool start)
{
    char *c = cell(html, target, commit);
    char *cls = cfo_xasprintf("class=\"cell %s%s\"", status, start ? " regression-start" : "");
    char *fill = cfo_xasprintf("fill=\"%s\"", color);
    char *st = cfo_xasprintf("data-status=\"%s\"", status);
    if (strstr(c, cls) == NULL || strstr(c, fill) == NULL || strstr(c, st) == NULL)
        fail_msg("cell %s @ %u is not %s %s: %s", target, commit, status, color, c);
    free(st);
    free(fill);
    free(cls);
    free(c);
}

/* Every element is closed in order; self-closing tags and declarations
 * aside. Text and attribute values must hold no raw '<'. */
static void assert_balanced(const char *html)
{
    char stack[64][32];
    int depth = 0;
    for (const char *p = html; (p = strchr(p, '<')) != NULL;) {
        const char *end = strchr(p, '>');
        assert_non_null(end);
        assert_null(memchr(p + 1, '<', (size_t)(end - p - 1)));
        if (p[1] == '!') {
            p = end + 1;
            continue;
        }
        bool closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t n = strcspn(name, " \t\n/>");
        assert_true(n > 0 && n < 32);
        if (closing) {
            assert_true(depth > 0);
            depth--;
            if (strlen(stack[depth]) != n || strncmp(stack[depth], name, n) != 0)
                fail_msg("</%.*s> closes <%s>", (int)n, name, stack[depth]);
        } else if (end[-1] != '/') {
            assert_true(depth < 64);
            memcpy(stack[depth], name, n);
            stack[depth++][n] = '\0';
        }
        p = end + 1;
    }
    assert_int_equal(depth, 0);
}

static void html_report_shows_the_figures(void **state)
{
    (void)state;
    cfo_recset *rs = fixture();
    cfo_history *h = cfo_history_new(rs);
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_html_opts o = {.source = "file:///data/x.json", .window = 32};
    cfo_html_report(h, &o, &b);
    const char *html = b.data;
    const char *red = cfo_html_status_color(CFO_STATUS_FAIL);
    const char *green = cfo_html_status_color(CFO_STATUS_PASS);
    const char *orange = cfo_html_status_color(CFO_STATUS_TIMEOUT);

    /* Which cells are red, and which one starts the regression. */
    for (unsigned c = 1; c <= 3; c++)
        assert_cell(html, "envs/prod", c, "pass", green, false);
    assert_cell(html, "envs/prod", 4, "fail", red, true);
    assert_cell(html, "envs/prod", 5, "fail", red, false);
    assert_cell(html, "envs/prod", 6, "fail", red, false);
    const char *esc_hostile = "&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;";
    assert_cell(html, esc_hostile, 1, "fail", red, false);
    assert_cell(html, esc_hostile, 2, "timeout", orange, false);
    assert_cell(html, esc_hostile, 5, "timeout", orange, true);
    assert_cell(html, "bad?", 6, "error", cfo_html_status_color(CFO_STATUS_ERROR), true);
    assert_cell(html, "bad?", 1, "untested", CFO_HTML_UNTESTED_COLOR, false);
    /* 4 targets x 6 commits, one red cell per failing record. */
    assert_int_equal(count(html, "<rect class=\"cell "), 24);
    assert_int_equal(count(html, "<rect class=\"cell fail"), 4);
    assert_int_equal(count(html, "regression-start"), 3);

    /* The regression range per target. */
    char *row = cfo_xasprintf("data-target=\"envs/prod\" data-state=\"failing\" "
                              "data-first-bad=\"%s\" data-last-good=\"%s\"",
                              sha(4), sha(3));
    assert_non_null(strstr(html, row));
    free(row);
    row = cfo_xasprintf("data-target=\"%s\" data-state=\"failing\" data-first-bad=\"%s\" "
                        "data-last-good=\"%s\"",
                        esc_hostile, sha(5), sha(4));
    assert_non_null(strstr(html, row));
    free(row);
    row = cfo_xasprintf("data-target=\"bad?\" data-state=\"failing\" data-first-bad=\"%s\" "
                        "data-last-good=\"\"",
                        sha(6));
    assert_non_null(strstr(html, row));
    free(row);
    row = cfo_xasprintf("data-target=\"envs/dev\" data-state=\"passing\" data-first-bad=\"\" "
                        "data-last-good=\"%s\"",
                        sha(6));
    assert_non_null(strstr(html, row));
    free(row);
    assert_non_null(strstr(html, "data-targets=\"4\" data-failing=\"3\""));

    /* Failures per commit: commit 6 has 1 fail, 1 timeout, 1 error. */
    char *bar = cfo_xasprintf("data-commit=\"%s\" data-failing=\"3\"", sha(6));
    assert_non_null(strstr(html, bar));
    free(bar);
    /* Durations per fuzzer: DRIFT 12 records of 1 and 2 seconds. */
    assert_non_null(strstr(html, "data-fuzzer=\"DRIFT\" data-records=\"12\" data-mean=\"1.500\" "
                                 "data-max=\"2.000\""));

    /* Escaped everywhere, self-contained, well-formed. */
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "\xff"));
    assert_null(strstr(html, "<script"));
    assert_int_equal(count(html, "http"), count(html, "xmlns=\"http://www.w3.org/"));
    assert_int_equal(count(html, "src="), count(html, "src=x"));
    assert_true(strncmp(html, "<!DOCTYPE html>\n<html", 21) == 0);
    assert_balanced(html);

    cfo_buf_fini(&b);
    cfo_history_destroy(&h);
    cfo_recset_destroy(&rs);
}

static void html_report_of_an_empty_dataset(void **state)
{
    (void)state;
    cfo_recset *rs = cfo_recset_new();
    cfo_history *h = cfo_history_new(rs);
    char *dir = make_tmpdir();
    char *path = cfo_xasprintf("%s/r.html", dir);
    cfo_html_opts o = {.source = "x", .generated_ms = T0};
    assert_int_equal(cfo_html_write(path, h, &o, NULL), CFO_OK);
    char *html = slurp(path);
    assert_non_null(strstr(html, "holds no records"));
    assert_null(strstr(html, "<svg"));
    assert_balanced(html);
    free(html);
    /* A directory that does not exist is an error with a message. */
    char *bad = cfo_xasprintf("%s/no/such/dir/r.html", dir);
    cfo_diag d = {{0}};
    assert_int_equal(cfo_html_write(bad, h, &o, &d), CFO_EIO);
    assert_non_null(strstr(d.msg, "r.html"));
    free(bad);
    assert_int_equal(cfo_remove_tree(dir, NULL), CFO_OK);
    free(path);
    free(dir);
    cfo_history_destroy(&h);
    cfo_recset_destroy(&rs);
}

/* --- a run's reports ------------------------------------------------------ */

typedef struct run_fixture {
    cfo_fuzzer drift, parser;
    cfo_taskset ts;
    cfo_outcome out[64];
} run_fixture;

static void add_task(run_fixture *f, cfo_fuzzer *fz, char *target, cfo_status st, double dur,
                     char *summary, char *command)
{
    cfo_task *t = &f->ts.v[f->ts.n];
    *t = (cfo_task){
        .id = f->ts.n, .fuzzer = fz, .branch = "main", .commit = (char *)sha(1), .target = target};
    f->out[f->ts.n] = (cfo_outcome){.done = true,
                                    .status = st,
                                    .duration = dur,
                                    .summary = summary,
                                    .command = command,
                                    .tail = "last lines\n<of output>",
                                    .attempt = 1};
    f->ts.n++;
}

static void run_fixture_init(run_fixture *f)
{
    memset(f, 0, sizeof *f);
    cfo_fuzzer_init(&f->drift, "DRIFT", CFO_KIND_EXEC);
    cfo_fuzzer_init(&f->parser, "PARSER", CFO_KIND_EXEC);
    f->ts.v = cfo_xcalloc(64, sizeof *f->ts.v);
    f->ts.cap = 64;
    add_task(f, &f->drift, "envs/dev", CFO_STATUS_PASS, 1.5, "ok", "cfo-fuzz DRIFT envs/dev");
    add_task(f, &f->drift, "envs/a|b", CFO_STATUS_FAIL, 4.25, "2 changes | *drift* <b>",
             "cfo-fuzz DRIFT 'envs/a|b' `x`");
    add_task(f, &f->parser, "p1", CFO_STATUS_TIMEOUT, 30.0, "timed out after 30s", "./fz/run p1");
    add_task(f, &f->parser, "p2", CFO_STATUS_CANCELLED, 0.0, "cancelled: budget", "./fz/run p2");
    add_task(f, &f->parser, "p3", CFO_STATUS_ERROR, 0.5, "exit 3", "./fz/run p3");
}

static void run_fixture_fini(run_fixture *f)
{
    free(f->ts.v);
    cfo_fuzzer_fini(&f->drift);
    cfo_fuzzer_fini(&f->parser);
}

static const cfo_run_info run_info = {.run_id = "run-42",
                                      .worker = "host",
                                      .started_wall_ms = T0,
                                      .finished_wall_ms = T0 + 95000,
                                      .exit_code = 1,
                                      .verdict = "1 critical task(s) did not pass"};

static void step_summary_is_markdown_appended(void **state)
{
    (void)state;
    run_fixture f;
    run_fixture_init(&f);
    char *dir = make_tmpdir();
    char *path = cfo_xasprintf("%s/summary.md", dir);
    FILE *pre = fopen(path, "w");
    assert_non_null(pre);
    fputs("# earlier step\n", pre);
    fclose(pre);
    assert_int_equal(cfo_report_step_summary(path, &f.ts, f.out, &run_info, NULL), CFO_OK);
    char *md = slurp(path);
    /* Appended, not replaced: other steps write the same file. */
    assert_true(strncmp(md, "# earlier step\n## CFO run `run-42`\n", 35) == 0);
    assert_non_null(strstr(md, "**exit 1**: 1 critical task(s) did not pass (5 tasks in 1m35s)"));
    assert_non_null(
        strstr(md, "| fuzzer | tasks | pass | fail | timeout | oom | error | cancelled |"));
    assert_non_null(strstr(md, "| DRIFT | 2 | 1 | 1 | 0 | 0 | 0 | 0 | 4.2s envs/a\\|b |"));
    assert_non_null(strstr(md, "| PARSER | 3 | 0 | 0 | 1 | 0 | 1 | 1 | 30.0s p1 |"));
    /* Cancelled tasks are counted apart, per fuzzer and reason. */
    assert_non_null(strstr(md, "### Not passed (3)"));
    assert_non_null(strstr(md, "### Cancelled (1)\n\n- 1 PARSER: cancelled: budget\n"));
    /* Task text cannot break the markup: pipes, emphasis and HTML escaped,
     * a command with backticks in a longer fence. */
    assert_non_null(strstr(md, "- **fail** DRIFT `main` @ `000000000000` `envs/a|b`: 2 changes "
                               "\\| \\*drift\\* &lt;b&gt;\n"));
    assert_non_null(
        strstr(md, "  reproduce from the worktree root: `` cfo-fuzz DRIFT 'envs/a|b' `x` ``\n"));
    assert_non_null(strstr(md, "- **timeout** PARSER `main` @ `000000000000` `p1`: timed out"));
    assert_non_null(strstr(md, "  reproduce from the worktree root: `./fz/run p1`\n"));
    assert_null(strstr(md, "- **cancelled** PARSER")); /* counted under Cancelled */
    assert_non_null(strstr(md, "- **error** PARSER"));
    assert_null(strstr(md, "envs/dev`:")); /* passed: not listed */
    assert_null(strstr(md, "<b>"));
    free(md);

    /* A second run appends a second section. */
    assert_int_equal(cfo_report_step_summary(path, &f.ts, f.out, &run_info, NULL), CFO_OK);
    md = slurp(path);
    assert_int_equal(count(md, "## CFO run `run-42`"), 2);
    free(md);

    /* Many failures: the list is capped and says how many it left out. */
    for (int i = 0; i < 55; i++)
        add_task(&f, &f.parser, "many", CFO_STATUS_FAIL, 1.0, "boom", "./fz/run many");
    unlink(path);
    assert_int_equal(cfo_report_step_summary(path, &f.ts, f.out, &run_info, NULL), CFO_OK);
    md = slurp(path);
    assert_int_equal(count(md, "\n- **"), CFO_STEP_SUMMARY_MAX_TASKS);
    assert_non_null(strstr(md, "_and 8 more: the JUnit report lists them all._"));
    free(md);

    cfo_diag d = {{0}};
    char *bad = cfo_xasprintf("%s/missing/summary.md", dir);
    assert_int_equal(cfo_report_step_summary(bad, &f.ts, f.out, &run_info, &d), CFO_EIO);
    assert_non_null(strstr(d.msg, "missing/summary.md"));
    free(bad);
    assert_int_equal(cfo_remove_tree(dir, NULL), CFO_OK);
    free(path);
    free(dir);
    run_fixture_fini(&f);
}

static void summary_table_names_the_slowest(void **state)
{
    (void)state;
    run_fixture f;
    run_fixture_init(&f);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    cfo_report_summary(out, &f.ts, f.out);
    fclose(out);
    assert_non_null(strstr(text, "FUZZER"));
    assert_non_null(strstr(text, "DRIFT                     2      1      1        0    0      0   "
                                 "      0  4.2s envs/a|b\n"));
    /* Slowest first; cancelled tasks never ran to their end and are left out. */
    const char *slow = strstr(text, "Slowest tasks:\n");
    assert_non_null(slow);
    const char *p1 = strstr(slow, "30.0s  PARSER main p1");
    const char *a = strstr(slow, "4.2s  DRIFT main envs/a|b");
    const char *dev = strstr(slow, "1.5s  DRIFT main envs/dev");
    const char *p3 = strstr(slow, "0.5s  PARSER main p3");
    assert_true(p1 && a && dev && p3 && p1 < a && a < dev && dev < p3);
    const char *np = strstr(text, "Not passed:");
    assert_non_null(np);
    const char *slow_end = strstr(slow, "\n\n");
    assert_non_null(slow_end);
    const char *p2 = strstr(slow, "main p2\n");
    assert_true(p2 == NULL || p2 > slow_end);
    assert_non_null(strstr(text, "Cancelled: 1 task(s)\n       1  PARSER: cancelled: budget\n"));
    assert_non_null(strstr(np, "timeout   PARSER main@000000000000 p1: timed out after 30s"));
    free(text);
    run_fixture_fini(&f);
}

static void junit_escapes_and_counts(void **state)
{
    (void)state;
    run_fixture f;
    run_fixture_init(&f);
    char *dir = make_tmpdir();
    char *path = cfo_xasprintf("%s/junit.xml", dir);
    assert_int_equal(cfo_report_junit(path, &f.ts, f.out, &run_info, NULL), CFO_OK);
    char *xml = slurp(path);
    assert_non_null(strstr(xml, "<testsuite name=\"DRIFT\" tests=\"2\" failures=\"1\" "
                                "errors=\"0\" skipped=\"0\""));
    assert_non_null(strstr(xml, "<testsuite name=\"PARSER\" tests=\"3\" failures=\"1\" "
                                "errors=\"1\" skipped=\"1\""));
    assert_non_null(strstr(xml, "message=\"2 changes | *drift* &lt;b&gt;\""));
    assert_null(strstr(xml, "<of output>"));
    assert_balanced(strstr(xml, "<testsuites"));
    free(xml);
    assert_int_equal(cfo_remove_tree(dir, NULL), CFO_OK);
    free(path);
    free(dir);
    run_fixture_fini(&f);
}

/* --- progress ------------------------------------------------------------- */

/* 10 tasks: 3 done, 1 cancelled, 2 running, 4 queued; the worker w1 has
 * done w1_done of them. */
static char *progress_text_of(bool tty, bool json, bool final, bool local, size_t w1_done)
{
    cfo_progress_worker w[2] = {{.id = "w1", .done = w1_done, .busy = 2, .live = true},
                                {.id = "w2", .done = 0, .busy = 0, .live = false}};
    cfo_progress_snapshot s = {.elapsed_ms = 5000,
                               .budget_left_ms = 55000,
                               .total = 10,
                               .done = 3,
                               .cancelled = 1,
                               .running = 2,
                               .queued = 4,
                               .failed = 1,
                               .slots = 4,
                               .workers = w,
                               .nworkers = 2};
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cfo_progress p = {.out = out, .name = "cfo", .tty = tty, .json = json, .local = local};
    cfo_progress_print(&p, &s, final);
    fclose(out);
    return text;
}

static char *progress_text(bool tty, bool json, bool final)
{
    return progress_text_of(tty, json, final, false, 3);
}

static void progress_on_a_terminal_redraws_one_line(void **state)
{
    (void)state;
    char *t = progress_text(true, false, false);
    /* The bar fills with what is over, the cancelled task included. */
    assert_string_equal(t, "\r\033[K[#########...............] 3/10 done, 1 cancelled, 2 running, "
                           "4 queued, 1 failed, 1 worker (2/4 slots), 0.60 tasks/s, 5.0s "
                           "elapsed, 55.0s budget left");
    free(t);
    t = progress_text(true, false, true);
    assert_true(strncmp(t, "\r\033[K[", 5) == 0);
    assert_non_null(strstr(t, "budget left\ncfo: worker w1 ran 3 tasks\n"));
    assert_null(strstr(t, "w2")); /* gone without finishing anything */
    free(t);
}

static void progress_in_a_log_is_plain_lines(void **state)
{
    (void)state;
    char *t = progress_text(false, false, false);
    assert_string_equal(t, "cfo: elapsed: 5.0s, done: 3/10 (0.60 tasks/s), cancelled: 1, "
                           "running: 2, queued: 4, failed: 1, workers: 1 (2/4 slots busy), "
                           "budget left: 55.0s\n"
                           "cfo: workers: w1 3 done, 2 busy\n");
    free(t);
    t = progress_text(false, true, true);
    assert_string_equal(t, "{\"event\":\"final\",\"prog\":\"cfo\",\"elapsed_ms\":5000,"
                           "\"budget_left_ms\":55000,\"total\":10,\"done\":3,\"cancelled\":1,"
                           "\"running\":2,\"queued\":4,\"failed\":1,\"workers\":1,\"slots\":4,"
                           "\"tasks_per_s\":0.600}\n");
    free(t);
    cfo_progress_snapshot zero = {.total = 1};
    assert_true(cfo_progress_rate(&zero) == 0.0);
    cfo_progress quiet = {.out = NULL};
    cfo_progress_print(&quiet, &zero, true); /* says nothing, does not crash */
}

static void progress_of_one_host_names_the_local_worker(void **state)
{
    (void)state;
    char *t = progress_text_of(false, false, false, true, 3);
    assert_non_null(strstr(t, "budget left: 55.0s\ncfo: local worker: 3 done, 2 busy\n"));
    assert_null(strstr(t, "w1"));
    free(t);
    t = progress_text_of(false, false, true, true, 1);
    assert_non_null(strstr(t, "budget left: 55.0s\ncfo: local worker ran 1 task\n"));
    free(t);
    t = progress_text_of(true, false, true, false, 1);
    assert_non_null(strstr(t, "cfo: worker w1 ran 1 task\n"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(html_report_shows_the_figures),
        cmocka_unit_test(html_report_of_an_empty_dataset),
        cmocka_unit_test(step_summary_is_markdown_appended),
        cmocka_unit_test(summary_table_names_the_slowest),
        cmocka_unit_test(junit_escapes_and_counts),
        cmocka_unit_test(progress_on_a_terminal_redraws_one_line),
        cmocka_unit_test(progress_in_a_log_is_plain_lines),
        cmocka_unit_test(progress_of_one_host_names_the_local_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
