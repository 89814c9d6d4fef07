/* cfo_coverage.h -- a record's source-based coverage: lines, functions and
 * regions covered of their totals, what measuring cost, and where the
 * report is stored. */
#ifndef CFO_COVERAGE_H
#define CFO_COVERAGE_H

#include <stdbool.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#include "cfo_error.h"

/* Name of the list of covered source files stored beside each report: one
 * path a line, relative to the repository, of every file the corpus runs
 * at least one line of (what --changed-since reads). */
#define CFO_COVERAGE_FILES "files.txt"

/* Longest report URL a record keeps. */
#define CFO_COVERAGE_MAX_REPORT 2048

typedef struct cfo_coverage {
    int64_t lines[2]; /* covered, total */
    int64_t functions[2];
    int64_t regions[2];
    double seconds; /* what the coverage step took (build, replay, report) */
    char report[CFO_COVERAGE_MAX_REPORT + 1]; /* the HTML report's URL; "" when none */
} cfo_coverage;

/* Reads a coverage object, {"lines": [c, t], "functions": [c, t],
 * "regions": [c, t], "seconds": s, "report": "URL"} (seconds and report
 * optional; other members refused), into out. Every count is an integer
 * >= 0 with covered <= total. CFO_EPARSE (d says why) for anything else. */
cfo_err cfo_coverage_parse(const char *json, cfo_coverage *out, cfo_diag *d);

/* The same from a parsed tree. */
cfo_err cfo_coverage_from_tree(yajl_val root, cfo_coverage *out, cfo_diag *d);

/* The object as compact JSON text, members in the order above (malloc'd). */
char *cfo_coverage_format(const cfo_coverage *c);

/* json re-written by cfo_coverage_format after cfo_coverage_parse: the one
 * form the dataset keeps. NULL, with a warning, when it does not parse, so
 * hostile text never reaches the dataset. NULL or "" in: NULL out. */
char *cfo_coverage_compact(const char *json);

/* Percent of lines covered (0 when there are none). */
double cfo_coverage_line_pct(const cfo_coverage *c);

#endif
