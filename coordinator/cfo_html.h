/* cfo_html.h -- the dataset's history as one self-contained HTML page: a heat
 * map of target x commit, failures per commit, task durations per fuzzer and
 * each target's regression range, drawn as inline SVG. */
#ifndef CFO_HTML_H
#define CFO_HTML_H

#include <stdint.h>

#include "cfo_error.h"
#include "cfo_findings.h"
#include "cfo_history.h"
#include "cfo_util.h"

typedef struct cfo_html_opts {
    const char *source;   /* what the page is about, e.g. the dataset URL */
    int window;           /* the dataset's window; 0 when it names none */
    int64_t generated_ms; /* wall clock shown as the page's date; 0: none */
    /* The dataset's findings, shown in their own section (NULL: none). */
    const cfo_findings *findings;
} cfo_html_opts;

/* Fill colours of the heat map's cells, "#rrggbb". */
const char *cfo_html_status_color(cfo_status s);
#define CFO_HTML_UNTESTED_COLOR "#eeeeee"
/* A canary that did not fail: the harness, not a target, is broken. */
#define CFO_HTML_HARNESS_COLOR "#000000"

/* Appends the page to out. The markup is also well-formed XML (XHTML
 * syntax, every string escaped, invalid UTF-8 and control characters
 * replaced) and refers to nothing outside itself: no scripts, no fonts, no
 * images but its own SVG. Heat map cells are <rect class="cell STATUS">
 * carrying data-fuzzer, data-branch, data-target, data-commit and
 * data-status; a cell that starts a target's current failing streak also has
 * the class "regression-start". A canary's cells also have "canary-ok" (it
 * failed as it must: drawn as a pass) or "canary-broken"; the page opens with
 * the harness check (<p id="harness" data-state="ok|broken|none">), and a
 * canary never counts as failing. With o->findings, a section
 * <table id="findings"> lists them, a row each (<tr class="finding STATE"
 * data-id="ID">): state, title, first seen, fixed range, branches and the
 * command that reproduces it. */
void cfo_html_report(const cfo_history *h, const cfo_html_opts *o, cfo_buf *out);

/* cfo_html_report written atomically to path. */
cfo_err cfo_html_write(const char *path, const cfo_history *h, const cfo_html_opts *o, cfo_diag *d);

#endif
