/* cfo_html.c -- the HTML report: escaping, the page, and its SVG charts. */
#include "cfo_html.h"

#include <stdlib.h>
#include <string.h>

#include "cfo_coverage.h"
#include "cfo_file.h"
#include "cfo_log.h"
#include "cfo_names.h"
#include "cfo_report.h"

/* Heat map geometry, in CSS pixels. */
#define CELL 16
#define PITCH 18
#define CHAR_W 7.3 /* of the 12px monospace labels */
#define LABEL_MAX 64

static const char *const status_colors[CFO_STATUS_COUNT] = {
    [CFO_STATUS_PASS] = "#2ca02c",    [CFO_STATUS_FAIL] = "#d62728",
    [CFO_STATUS_TIMEOUT] = "#ff7f0e", [CFO_STATUS_OOM] = "#8c564b",
    [CFO_STATUS_ERROR] = "#9467bd",   [CFO_STATUS_CANCELLED] = "#7f7f7f"};

const char *cfo_html_status_color(cfo_status s)
{
    return cfo_name_of(status_colors, CFO_STATUS_COUNT, (int)s, CFO_HTML_UNTESTED_COLOR);
}

static void esc(cfo_buf *b, const char *s)
{
    cfo_buf_put_markup(b, s, SIZE_MAX);
}

static void attr(cfo_buf *b, const char *name, const char *value)
{
    cfo_buf_markupf(b, " %s=\"%s\"", name, value);
}

static void time_text(const cfo_record *r, char *out, size_t len)
{
    if (r != NULL && r->has_time)
        cfo_format_time(r->time_ms, out, len);
    else
        snprintf(out, len, "no time");
}

static void commit_time_text(const cfo_history_commit *c, char *out, size_t len)
{
    if (c->has_time)
        cfo_format_time(c->newest_ms, out, len);
    else
        snprintf(out, len, "no time");
}

static size_t label_len(const cfo_history_series *s)
{
    size_t n = strlen(s->fuzzer ? s->fuzzer : "") + strlen(s->branch ? s->branch : "") +
               strlen(s->target ? s->target : "") + 2;
    return n > LABEL_MAX ? LABEL_MAX : n;
}

/* "FUZZER branch target", cut to LABEL_MAX characters from the end (the
 * target's tail tells targets apart best); the full name is in the title. */
static void series_label(cfo_buf *b, const cfo_history_series *s)
{
    char *full = cfo_xasprintf("%s %s %s", s->fuzzer ? s->fuzzer : "", s->branch ? s->branch : "",
                               s->target ? s->target : "");
    size_t n = strlen(full);
    if (n > LABEL_MAX) {
        /* Step over UTF-8 continuation bytes so no character is cut. */
        size_t from = n - (LABEL_MAX - 3);
        while (from < n && ((unsigned char)full[from] & 0xC0) == 0x80)
            from++;
        cfo_buf_puts(b, "...");
        esc(b, full + from);
    } else {
        esc(b, full);
    }
    free(full);
}

static void data_attrs(cfo_buf *b, const cfo_history_series *s)
{
    cfo_buf_markupf(b, " data-fuzzer=\"%s\" data-branch=\"%s\" data-target=\"%s\"", s->fuzzer,
                    s->branch, s->target);
}

static const char style[] =
    "body{font-family:'DejaVu Sans',sans-serif;margin:16px;color:#222;background:#fff}"
    "h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:18px 0 6px}"
    ".meta{color:#555;font-size:13px;margin:0 0 8px}"
    "svg text{font-family:'DejaVu Sans Mono',monospace;font-size:12px;fill:#222}"
    "svg text.failing{fill:#b00;font-weight:bold}"
    "table{border-collapse:collapse;font-size:13px}"
    "th,td{border:1px solid #ccc;padding:2px 6px;text-align:left}"
    "td.num{text-align:right}code{font-family:'DejaVu Sans Mono',monospace;font-size:12px}"
    "tr.failing td{background:#fdecea}"
    ".swatch{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;"
    "vertical-align:middle}";

static void legend(cfo_buf *b)
{
    cfo_buf_puts(b, "<p class=\"legend\">");
    static const cfo_status shown[] = {CFO_STATUS_PASS, CFO_STATUS_FAIL, CFO_STATUS_TIMEOUT,
                                       CFO_STATUS_OOM, CFO_STATUS_ERROR};
    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++)
        cfo_buf_printf(b, "<span class=\"swatch\" style=\"background:%s\"></span>%s",
                       cfo_html_status_color(shown[i]), cfo_status_name(shown[i]));
    cfo_buf_printf(b,
                   "<span class=\"swatch\" style=\"background:%s\"></span>not tested"
                   "<span class=\"swatch\" style=\"border:2px solid #000\"></span>"
                   "first commit of the current failing streak</p>\n",
                   CFO_HTML_UNTESTED_COLOR);
}

/* A canary's cell shows the check: its failure is the harness working. */
static const char *canary_class(const cfo_history_series *s, const cfo_record *r)
{
    if (!s->canary)
        return "";
    return r->status == CFO_STATUS_FAIL ? " canary-ok" : " canary-broken";
}

static const char *cell_color(const cfo_history_series *s, const cfo_record *r)
{
    if (!s->canary)
        return cfo_html_status_color(r->status);
    return r->status == CFO_STATUS_FAIL ? cfo_html_status_color(CFO_STATUS_PASS)
                                        : CFO_HTML_HARNESS_COLOR;
}

static void heatmap(cfo_buf *b, const cfo_history *h)
{
    size_t chars = 8;
    for (size_t k = 0; k < h->nseries; k++)
        if (label_len(&h->series[k]) > chars)
            chars = label_len(&h->series[k]);
    int lw = (int)((double)chars * CHAR_W) + 12;
    int top = 70;
    int width = lw + (int)h->ncommits * PITCH + 60; /* room for the last rotated sha */
    int height = top + (int)h->nseries * PITCH + 10;
    cfo_buf_printf(b,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"heatmap\" width=\"%d\" "
                   "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
                   "aria-label=\"targets by commit\">\n",
                   width, height, width, height);
    /* Commit labels: short shas, rotated, oldest on the left. */
    for (size_t c = 0; c < h->ncommits; c++) {
        int x = lw + (int)c * PITCH + CELL / 2 + 4;
        char when[40];
        commit_time_text(&h->commits[c], when, sizeof when);
        cfo_buf_printf(b,
                       "<text class=\"commit\" x=\"%d\" y=\"%d\" transform=\"rotate(-60 %d %d)\"",
                       x, top - 6, x, top - 6);
        const char *sha = h->commits[c].sha;
        cfo_buf_markupf(b, " data-commit=\"%s\"><title>%s (%s)</title>%.7s</text>\n", sha, sha,
                        when, sha);
    }
    for (size_t k = 0; k < h->nseries; k++) {
        const cfo_history_series *s = &h->series[k];
        int y = top + (int)k * PITCH;
        cfo_buf_printf(b, "<g class=\"row%s\"", s->failing ? " failing" : "");
        data_attrs(b, s);
        cfo_buf_printf(b, ">\n<text x=\"%d\" y=\"%d\" text-anchor=\"end\"%s><title>", lw - 6,
                       y + CELL - 4, s->failing ? " class=\"failing\"" : "");
        cfo_buf_markupf(b, "%s %s %s</title>", s->fuzzer, s->branch, s->target);
        series_label(b, s);
        cfo_buf_puts(b, "</text>\n");
        size_t next = 0;
        for (size_t c = 0; c < h->ncommits; c++) {
            int x = lw + (int)c * PITCH;
            const cfo_record *r = NULL;
            if (next < s->ncells && s->cells[next].commit == c)
                r = s->cells[next++].rec;
            if (r == NULL) {
                cfo_buf_printf(b,
                               "<rect class=\"cell untested\" x=\"%d\" y=\"%d\" width=\"%d\" "
                               "height=\"%d\" fill=\"%s\"",
                               x, y, CELL, CELL, CFO_HTML_UNTESTED_COLOR);
                data_attrs(b, s);
                cfo_buf_markupf(b, " data-commit=\"%s\" data-status=\"untested\"/>\n",
                                h->commits[c].sha);
                continue;
            }
            bool start = s->failing && s->first_bad == c;
            const char *status = cfo_status_name(r->status);
            cfo_buf_printf(b,
                           "<rect class=\"cell %s%s%s\" x=\"%d\" y=\"%d\" width=\"%d\" "
                           "height=\"%d\" fill=\"%s\"%s",
                           status, start ? " regression-start" : "", canary_class(s, r), x, y, CELL,
                           CELL, cell_color(s, r),
                           start ? " stroke=\"#000\" stroke-width=\"2\"" : "");
            data_attrs(b, s);
            cfo_buf_markupf(b, " data-commit=\"%s\" data-status=\"%s\"><title>%s @ %.12s",
                            h->commits[c].sha, status, s->target, r->commit);
            char when[40];
            time_text(r, when, sizeof when);
            cfo_buf_printf(b, ": %s, %lld finding(s), %.2fs, %s", status, (long long)r->findings,
                           r->duration, when);
            if (start)
                cfo_buf_puts(b, " (failing since here)");
            else if (s->canary)
                cfo_buf_puts(b, r->status == CFO_STATUS_FAIL
                                    ? " (the harness check: failed as it must)"
                                    : " (harness problem: the canary did not fail)");
            cfo_buf_puts(b, "</title></rect>\n");
        }
        cfo_buf_puts(b, "</g>\n");
    }
    cfo_buf_puts(b, "</svg>\n");
}

/* Series whose newest cell is not a pass, per commit and status, stacked. */
static void failures_chart(cfo_buf *b, const cfo_history *h)
{
    static const cfo_status stack[] = {CFO_STATUS_FAIL, CFO_STATUS_TIMEOUT, CFO_STATUS_ERROR};
    size_t max = 1;
    for (size_t c = 0; c < h->ncommits; c++) {
        size_t bad = 0;
        for (size_t i = 0; i < 3; i++)
            bad += h->commits[c].by_status[stack[i]];
        if (bad > max)
            max = bad;
    }
    int left = 40, top = 10, plot_h = 160, bottom = 70, pitch = 24, bar = 16;
    int width = left + (int)h->ncommits * pitch + 20;
    if (width < 300)
        width = 300;
    int height = top + plot_h + bottom;
    cfo_buf_printf(b,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"failures\" width=\"%d\" "
                   "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
                   "aria-label=\"failing targets per commit\">\n",
                   width, height, width, height);
    int base = top + plot_h;
    cfo_buf_printf(b,
                   "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n"
                   "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n"
                   "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%zu</text>\n"
                   "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n",
                   left, top, left, base, left, base, width - 10, base, left - 4, top + 10, max,
                   left - 4, base);
    for (size_t c = 0; c < h->ncommits; c++) {
        const cfo_history_commit *hc = &h->commits[c];
        int x = left + 4 + (int)c * pitch;
        int y = base;
        size_t bad = 0;
        for (size_t i = 0; i < 3; i++) {
            size_t v = hc->by_status[stack[i]];
            bad += v;
            if (v == 0)
                continue;
            int hgt = (int)((double)v * plot_h / (double)max + 0.5);
            y -= hgt;
            cfo_buf_printf(b,
                           "<rect class=\"bar %s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                           "fill=\"%s\"",
                           cfo_status_name(stack[i]), x, y, bar, hgt,
                           cfo_html_status_color(stack[i]));
            attr(b, "data-commit", hc->sha);
            cfo_buf_printf(b, " data-count=\"%zu\"><title>", v);
            cfo_buf_put_markup(b, hc->sha, 12);
            cfo_buf_printf(b, ": %zu %s</title></rect>\n", v, cfo_status_name(stack[i]));
        }
        char when[40];
        commit_time_text(hc, when, sizeof when);
        int lx = x + bar / 2 + 4, ly = base + 8;
        cfo_buf_printf(b,
                       "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" "
                       "transform=\"rotate(-60 %d %d)\"",
                       lx, ly, lx, ly);
        attr(b, "data-commit", hc->sha);
        cfo_buf_printf(b, " data-failing=\"%zu\"><title>", bad);
        esc(b, hc->sha);
        cfo_buf_printf(b, " (%s): %zu not passing</title>", when, bad);
        cfo_buf_put_markup(b, hc->sha, 7);
        cfo_buf_puts(b, "</text>\n");
    }
    cfo_buf_puts(b, "</svg>\n");
}

typedef struct fuzzer_durations {
    const char *name;
    size_t n;
    double total, max;
    const char *slowest;
} fuzzer_durations;

static void durations_chart(cfo_buf *b, const cfo_history *h)
{
    /* Series are sorted by fuzzer, so each fuzzer is one run of them. */
    fuzzer_durations *f = cfo_xcalloc(h->nseries + 1, sizeof *f);
    size_t nf = 0;
    double max = 0.001;
    for (size_t k = 0; k < h->nseries; k++) {
        const cfo_history_series *s = &h->series[k];
        if (nf == 0 || cfo_strcmp0(f[nf - 1].name, s->fuzzer) != 0)
            f[nf++].name = s->fuzzer;
        fuzzer_durations *d = &f[nf - 1];
        for (size_t i = 0; i < s->nrecords; i++) {
            double v = s->records[i]->duration;
            d->n++;
            d->total += v;
            if (d->slowest == NULL || v > d->max) {
                d->max = v;
                d->slowest = s->target;
            }
        }
        if (d->max > max)
            max = d->max;
    }
    int lw = 12, plot_w = 560, row = 44;
    for (size_t i = 0; i < nf; i++) {
        int w = (int)((double)strlen(f[i].name ? f[i].name : "") * CHAR_W) + 12;
        if (w > lw)
            lw = w > 300 ? 300 : w;
    }
    int width = lw + plot_w + 330, height = 10 + (int)nf * row + 10;
    cfo_buf_printf(b,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"durations\" width=\"%d\" "
                   "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
                   "aria-label=\"task durations per fuzzer\">\n",
                   width, height, width, height);
    for (size_t i = 0; i < nf; i++) {
        const fuzzer_durations *d = &f[i];
        double mean = d->n ? d->total / (double)d->n : 0;
        int y = 10 + (int)i * row;
        int wmean = (int)(mean / max * plot_w + 0.5), wmax = (int)(d->max / max * plot_w + 0.5);
        cfo_buf_printf(b, "<g class=\"fuzzer\"");
        attr(b, "data-fuzzer", d->name);
        cfo_buf_printf(b, " data-records=\"%zu\" data-mean=\"%.3f\" data-max=\"%.3f\">\n", d->n,
                       mean, d->max);
        cfo_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", lw - 6, y + 22);
        esc(b, d->name);
        cfo_buf_printf(b,
                       "</text>\n<rect class=\"mean\" x=\"%d\" y=\"%d\" width=\"%d\" "
                       "height=\"16\" fill=\"#1f77b4\"><title>mean %.2fs</title></rect>\n"
                       "<rect class=\"max\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"16\" "
                       "fill=\"#aec7e8\"><title>slowest %.2fs</title></rect>\n"
                       "<text x=\"%d\" y=\"%d\">mean %.2fs over %zu task(s)</text>\n"
                       "<text x=\"%d\" y=\"%d\">slowest %.2fs: ",
                       lw, y + 2, wmean > 0 ? wmean : 1, mean, lw, y + 20, wmax > 0 ? wmax : 1,
                       d->max, lw + plot_w + 8, y + 14, mean, d->n, lw + plot_w + 8, y + 32,
                       d->max);
        cfo_buf_put_markup(b, d->slowest, 40);
        cfo_buf_puts(b, "</text>\n</g>\n");
    }
    cfo_buf_puts(b, "</svg>\n");
    free(f);
}

/* ---- coverage over commits ----------------------------------------------- */

/* The newest record of s on commit sha that carries coverage, parsed. */
static const cfo_record *coverage_on(const cfo_history_series *s, const char *sha,
                                     cfo_coverage *out)
{
    const cfo_record *best = cfo_history_coverage_on(s, sha);
    cfo_diag d = {{0}};
    if (best != NULL && cfo_coverage_parse(best->coverage, out, &d) != CFO_OK)
        best = NULL; /* the reader checked it: cannot happen */
    return best;
}

/* Where a browser opens a stored report: a local path as a file: URL, a
 * gs:// object through the Cloud Storage console's authenticated link. */
static void report_href(cfo_buf *b, const char *report)
{
    if (strncmp(report, "gs://", 5) == 0)
        cfo_buf_markupf(b, " href=\"https://storage.cloud.google.com/%s\"", report + 5);
    else if (report[0] == '/')
        cfo_buf_markupf(b, " href=\"file://%s\"", report);
    else
        attr(b, "href", report);
}

static bool has_coverage(const cfo_history *h, const cfo_history_series *s)
{
    cfo_coverage c;
    for (size_t i = 0; i < s->ncells; i++)
        if (coverage_on(s, h->commits[s->cells[i].commit].sha, &c) != NULL)
            return true;
    return false;
}

/* One row per target with coverage: its percent of lines covered on each
 * commit it was measured on, a point per commit linking to its report. */
static void coverage_chart(cfo_buf *b, const cfo_history *h)
{
    int lw = 12, plot_w = h->ncommits > 1 ? (int)h->ncommits * 24 : 24, row = 70, n = 0;
    if (plot_w > 960)
        plot_w = 960;
    for (size_t k = 0; k < h->nseries; k++) {
        if (!has_coverage(h, &h->series[k]))
            continue;
        int w = (int)((double)label_len(&h->series[k]) * CHAR_W) + 12;
        if (w > lw)
            lw = w;
        n++;
    }
    int width = lw + plot_w + 80, height = 10 + n * row;
    cfo_buf_printf(b,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"coverage\" width=\"%d\" "
                   "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
                   "aria-label=\"line coverage per target over commits\">\n",
                   width, height, width, height);
    double step = h->ncommits > 1 ? (double)plot_w / (double)(h->ncommits - 1) : 0;
    int y0 = 10;
    for (size_t k = 0; k < h->nseries; k++) {
        const cfo_history_series *s = &h->series[k];
        if (!has_coverage(h, s))
            continue;
        cfo_buf_puts(b, "<g class=\"target\"");
        data_attrs(b, s);
        cfo_buf_printf(b, ">\n<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", lw - 6, y0 + 30);
        series_label(b, s);
        cfo_buf_printf(b,
                       "</text>\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                       "stroke=\"#ccc\"/>\n<polyline fill=\"none\" stroke=\"#1f77b4\" points=\"",
                       lw, y0 + 50, lw + plot_w, y0 + 50);
        cfo_coverage c;
        for (size_t i = 0; i < s->ncells; i++)
            if (coverage_on(s, h->commits[s->cells[i].commit].sha, &c) != NULL)
                cfo_buf_printf(b, "%.1f,%.1f ", lw + step * (double)s->cells[i].commit,
                               y0 + 50 - cfo_coverage_line_pct(&c) / 2.0);
        cfo_buf_puts(b, "\"/>\n");
        for (size_t i = 0; i < s->ncells; i++) {
            const char *sha = h->commits[s->cells[i].commit].sha;
            const cfo_record *r = coverage_on(s, sha, &c);
            if (r == NULL)
                continue;
            double pct = cfo_coverage_line_pct(&c);
            if (c.report[0] != '\0') {
                cfo_buf_puts(b, "<a");
                report_href(b, c.report);
                cfo_buf_puts(b, ">");
            }
            cfo_buf_printf(b,
                           "<circle class=\"coverage-point\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" "
                           "fill=\"%s\"",
                           lw + step * (double)s->cells[i].commit, y0 + 50 - pct / 2.0,
                           cfo_html_status_color(r->status));
            attr(b, "data-commit", sha);
            cfo_buf_printf(b,
                           " data-lines=\"%lld/%lld\" data-functions=\"%lld/%lld\" "
                           "data-regions=\"%lld/%lld\"",
                           (long long)c.lines[0], (long long)c.lines[1], (long long)c.functions[0],
                           (long long)c.functions[1], (long long)c.regions[0],
                           (long long)c.regions[1]);
            if (c.report[0] != '\0')
                attr(b, "data-report", c.report);
            cfo_buf_printf(b,
                           "><title>%.12s: lines %.1f%% (%lld/%lld), functions %lld/%lld, "
                           "regions %lld/%lld</title></circle>",
                           sha, pct, (long long)c.lines[0], (long long)c.lines[1],
                           (long long)c.functions[0], (long long)c.functions[1],
                           (long long)c.regions[0], (long long)c.regions[1]);
            cfo_buf_puts(b, c.report[0] != '\0' ? "</a>\n" : "\n");
        }
        cfo_buf_puts(b, "</g>\n");
        y0 += row;
    }
    cfo_buf_puts(b, "</svg>\n");
}

static bool any_coverage(const cfo_history *h)
{
    for (size_t k = 0; k < h->nseries; k++)
        if (has_coverage(h, &h->series[k]))
            return true;
    return false;
}

/* A commit of a target's range, at the time of the target's own record
 * there (not another target's on the same commit). */
static void commit_cell(cfo_buf *b, const char *sha, const cfo_record *r, const char *note,
                        const char *what)
{
    if (sha == NULL) {
        cfo_buf_printf(b, "<td>%s</td>", what);
        return;
    }
    char when[40];
    time_text(r, when, sizeof when);
    cfo_buf_markupf(b, "<td><code title=\"%s\">%.12s</code> %s%s</td>", sha, sha, when, note);
}

static const char *commit_sha(const cfo_history *h, size_t c)
{
    return c == CFO_HISTORY_NONE ? NULL : h->commits[c].sha;
}

static const char *series_state(const cfo_history_series *s)
{
    if (s->canary)
        return s->canary_broken ? "harness-broken" : "harness-ok";
    return s->failing ? "failing" : "passing";
}

static void regressions(cfo_buf *b, const cfo_history *h)
{
    cfo_buf_puts(b, "<table class=\"regressions\">\n<tr><th>fuzzer</th><th>branch</th>"
                    "<th>target</th><th>now</th><th>failing since</th><th>last passed</th>"
                    "<th>range</th></tr>\n");
    /* Failing targets first: they are what a reader comes for. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < h->nseries; k++) {
            const cfo_history_series *s = &h->series[k];
            if (s->failing != (pass == 0))
                continue;
            const cfo_record *now = s->ncells ? s->cells[s->ncells - 1].rec : NULL;
            const cfo_record *pp = s->parent_pass;
            const char *good = pp ? pp->commit : commit_sha(h, s->last_good);
            cfo_buf_printf(b, "<tr class=\"regression%s\"", s->failing ? " failing" : "");
            data_attrs(b, s);
            attr(b, "data-state", series_state(s));
            attr(b, "data-first-bad", s->failing ? h->commits[s->first_bad].sha : "");
            attr(b, "data-last-good", good ? good : "");
            cfo_buf_markupf(b, "><td>%s</td><td>%s</td><td>%s</td><td>%s</td>", s->fuzzer,
                            s->branch, s->target, now ? cfo_status_name(now->status) : "-");
            if (s->canary) {
                cfo_buf_puts(b, s->canary_broken
                                    ? "<td colspan=\"3\">harness problem: the canary did not "
                                      "fail</td>"
                                    : "<td colspan=\"3\">harness check: failed as it "
                                      "must</td>");
                cfo_buf_puts(b, "</tr>\n");
                continue;
            }
            commit_cell(b, commit_sha(h, s->first_bad), s->first_bad_rec, pp ? " (broke here)" : "",
                        "-");
            char *note = pp ? cfo_xasprintf(" (its parent, on %s)", pp->branch) : NULL;
            commit_cell(b, good, pp ? pp : s->last_good_rec, note ? note : "",
                        s->failing ? "no earlier record in the window" : "-");
            free(note);
            if (s->failing && good != NULL) {
                cfo_buf_markupf(b, "<td><code>%.12s..%.12s</code></td>", good,
                                h->commits[s->first_bad].sha);
            } else if (s->failing) {
                cfo_buf_puts(b, "<td>failing since its first record</td>");
            } else {
                cfo_buf_puts(b, "<td>-</td>");
            }
            cfo_buf_puts(b, "</tr>\n");
        }
    }
    cfo_buf_puts(b, "</table>\n");
}

static void commits_table(cfo_buf *b, const cfo_history *h)
{
    cfo_buf_puts(b, "<table class=\"commits\">\n<tr><th>#</th><th>commit</th><th>newest record"
                    "</th><th>records</th><th>pass</th><th>fail</th><th>timeout</th>"
                    "<th>error</th></tr>\n");
    for (size_t c = h->ncommits; c-- > 0;) {
        const cfo_history_commit *hc = &h->commits[c];
        char when[40];
        commit_time_text(hc, when, sizeof when);
        cfo_buf_puts(b, "<tr");
        attr(b, "data-commit", hc->sha);
        cfo_buf_printf(b, "><td class=\"num\">%zu</td><td><code>", c + 1);
        esc(b, hc->sha);
        cfo_buf_printf(b,
                       "</code></td><td>%s</td><td class=\"num\">%zu</td><td class=\"num\">%zu"
                       "</td><td class=\"num\">%zu</td><td class=\"num\">%zu</td>"
                       "<td class=\"num\">%zu</td></tr>\n",
                       when, hc->nrecords, hc->by_status[CFO_STATUS_PASS],
                       hc->by_status[CFO_STATUS_FAIL], hc->by_status[CFO_STATUS_TIMEOUT],
                       hc->by_status[CFO_STATUS_ERROR]);
    }
    cfo_buf_puts(b, "</table>\n");
}

/* The canary's verdict, first: a report that cannot show failures proves
 * nothing, whatever else it says. */
static void harness_check(cfo_buf *b, const cfo_history *h)
{
    const char *state = h->ncanary == 0 ? "none" : h->ncanary_broken > 0 ? "broken" : "ok";
    cfo_buf_printf(b, "<p id=\"harness\" class=\"harness %s\" data-state=\"%s\">", state, state);
    if (h->ncanary == 0) {
        cfo_buf_puts(b, "Harness check: no canary record in the window.</p>\n");
        return;
    }
    cfo_buf_puts(b, h->ncanary_broken > 0 ? "<strong>Harness problem</strong>: "
                                          : "Harness check: OK. ");
    size_t shown = 0;
    for (int broken = 1; broken >= 0; broken--) {
        for (size_t k = 0; k < h->nseries; k++) {
            const cfo_history_series *s = &h->series[k];
            if (!s->canary || s->canary_broken != (broken == 1))
                continue;
            const cfo_record *last = s->canary_last;
            char when[40];
            time_text(last, when, sizeof when);
            cfo_buf_markupf(b, "%scanary %s on %s %s at <code>%.12s</code> %s", shown++ ? "; " : "",
                            s->fuzzer, s->branch,
                            s->canary_broken ? "did not fail" : "failed as it must", last->commit,
                            when);
        }
    }
    cfo_buf_puts(b, h->ncanary_broken > 0 ? ": failures may go unrecorded.</p>\n" : ".</p>\n");
}

/* One row per finding; what a SUPERSEDE pass removed from the records stays
 * visible here as a fixed finding with its range. */
static void findings_table(cfo_buf *out, const cfo_findings *fs)
{
    cfo_buf_puts(out, "<h2 id=\"findings-title\">Findings</h2>\n");
    if (fs->n == 0) {
        cfo_buf_puts(out, "<p id=\"findings\">No findings.</p>\n");
        return;
    }
    cfo_buf_puts(out, "<table id=\"findings\"><tr><th>state</th><th>finding</th><th>first "
                      "seen</th><th>fixed range</th><th>branches</th><th>reproduce</th></tr>\n");
    for (size_t i = 0; i < fs->n; i++) {
        const cfo_finding *f = &fs->v[i];
        const char *state = f->open && f->regressed > 0 ? "regressed" : cfo_finding_state(f);
        cfo_buf_markupf(out,
                        "<tr class=\"finding %s\" data-id=\"%s\"><td>%s</td><td>%s<br/>"
                        "<code>%s</code></td><td><code>%.12s</code> on %s</td><td>",
                        state, f->id, state, f->title, f->id, f->first.commit, f->first.branch);
        if (f->has_fixed)
            cfo_buf_markupf(out, "last bad <code>%.12s</code>, fixed <code>%.12s</code> on %s",
                            f->fixed_last_bad ? f->fixed_last_bad : "?", f->fixed.commit,
                            f->fixed.branch);
        else
            cfo_buf_puts(out, "-");
        cfo_buf_puts(out, "</td><td>");
        for (size_t k = 0; k < f->nbranches; k++)
            cfo_buf_markupf(out, "%s%s %s", k ? ", " : "", f->branches[k].branch,
                            f->branches[k].open ? "open" : "fixed");
        char *cmd = f->bundle ? cfo_xasprintf("cfo-crash reproduce %s", f->bundle)
                              : cfo_xasprintf("cfo-fuzz %s %s", f->fuzzer, f->target);
        cfo_buf_markupf(out, "</td><td><code>%s</code></td></tr>\n", cmd);
        free(cmd);
    }
    cfo_buf_puts(out, "</table>\n");
}

void cfo_html_report(const cfo_history *h, const cfo_html_opts *o, cfo_buf *out)
{
    size_t failing = cfo_history_failing(h);
    cfo_buf_puts(out, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" "
                      "lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>CFO report");
    if (o->source != NULL) {
        cfo_buf_puts(out, ": ");
        esc(out, o->source);
    }
    cfo_buf_printf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>CFO report</h1>\n",
                   style);
    cfo_buf_puts(out, "<p class=\"meta\">");
    if (o->source != NULL) {
        cfo_buf_puts(out, "dataset <code>");
        esc(out, o->source);
        cfo_buf_puts(out, "</code>; ");
    }
    if (o->window > 0)
        cfo_buf_printf(out, "window %d commits; ", o->window);
    cfo_buf_printf(out,
                   "<span id=\"figures\" data-commits=\"%zu\" data-records=\"%zu\" "
                   "data-targets=\"%zu\" data-failing=\"%zu\">%zu commits, %zu records, %zu "
                   "targets, %zu failing now</span>",
                   h->ncommits, h->nrecords, h->nseries, failing, h->ncommits, h->nrecords,
                   h->nseries, failing);
    if (o->generated_ms > 0) {
        char when[40];
        cfo_format_time(o->generated_ms / 1000 * 1000, when, sizeof when);
        cfo_buf_printf(out, "; generated %s", when);
    }
    cfo_buf_puts(out, "</p>\n");
    harness_check(out, h);
    if (h->nseries == 0) {
        cfo_buf_puts(out, "<p>The dataset holds no records.</p>\n</body>\n</html>\n");
        return;
    }
    cfo_buf_printf(out,
                   "<h2 id=\"heatmap\">Targets by commit (oldest commit on the left)</h2>\n"
                   "<p class=\"meta\" id=\"order\" data-order=\"%s\">%s</p>\n",
                   h->ngit == 0             ? "record-time"
                   : h->ngit == h->ncommits ? "git"
                                            : "git+record-time",
                   h->ngit == 0 ? "Commits in the order of their newest record (no repository "
                                  "to read their history from)."
                   : h->ngit == h->ncommits
                       ? "Commits in git history order: a parent before its children, otherwise "
                         "by commit time."
                       : "Commits in git history order; those the repository does not have "
                         "come first, in the order of their newest record.");
    legend(out);
    heatmap(out, h);
    cfo_buf_puts(out, "<h2 id=\"regressions\">Regression ranges</h2>\n<p class=\"meta\">Per "
                      "target: the first commit of the failing streak that reaches its newest "
                      "tested commit, and the last commit it passed on before it. "
                      "<code>git log LAST..FIRST</code> lists the suspects.</p>\n");
    regressions(out, h);
    if (o->findings != NULL)
        findings_table(out, o->findings);
    cfo_buf_puts(out, "<h2 id=\"failures\">Targets not passing per commit</h2>\n");
    failures_chart(out, h);
    cfo_buf_puts(out, "<h2 id=\"durations\">Task durations per fuzzer</h2>\n<p class=\"meta\">"
                      "Dark: mean; light: slowest task.</p>\n");
    durations_chart(out, h);
    if (any_coverage(h)) {
        cfo_buf_puts(out, "<h2 id=\"coverage\">Line coverage over commits</h2>\n<p class=\"meta\">"
                          "Per target, oldest commit on the left, 0 to 100% of lines; each "
                          "point links to its coverage report.</p>\n");
        coverage_chart(out, h);
    }
    cfo_buf_puts(out, "<h2 id=\"commits\">Commits in the window (newest first)</h2>\n");
    commits_table(out, h);
    cfo_buf_puts(out, "</body>\n</html>\n");
}

cfo_err cfo_html_write(const char *path, const cfo_history *h, const cfo_html_opts *o, cfo_diag *d)
{
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_html_report(h, o, &b);
    cfo_err err = cfo_write_file_atomic(path, b.data, b.len, d);
    cfo_buf_fini(&b);
    return err;
}
