/* cfo_coverage.c -- a record's coverage object: parsed strictly, written in
 * one canonical form. */
#include "cfo_coverage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cfo_json.h"
#include "cfo_log.h"
#include "cfo_util.h"

/* A coverage object is small; anything much larger is not one. */
#define COVERAGE_MAX_TEXT 4096
/* A year: bounds the text a cost figure is written as. */
#define COVERAGE_MAX_SECONDS 31536000

static cfo_err parse_pair(yajl_val v, const char *name, int64_t out[2], cfo_diag *d)
{
    if (!YAJL_IS_ARRAY(v) || v->u.array.len != 2)
        return cfo_diag_set(d, CFO_EPARSE, "coverage '%s' must be [covered, total]", name);
    for (size_t i = 0; i < 2; i++) {
        yajl_val n = v->u.array.values[i];
        if (!YAJL_IS_INTEGER(n) || YAJL_GET_INTEGER(n) < 0)
            return cfo_diag_set(d, CFO_EPARSE, "coverage '%s' must hold integers >= 0", name);
        out[i] = YAJL_GET_INTEGER(n);
    }
    if (out[0] > out[1])
        return cfo_diag_set(d, CFO_EPARSE, "coverage '%s' covers more than its total", name);
    return CFO_OK;
}

static cfo_err parse_member(const char *key, yajl_val v, cfo_coverage *out, unsigned *seen,
                            cfo_diag *d)
{
    if (strcmp(key, "lines") == 0) {
        *seen |= 1u;
        return parse_pair(v, key, out->lines, d);
    }
    if (strcmp(key, "functions") == 0) {
        *seen |= 2u;
        return parse_pair(v, key, out->functions, d);
    }
    if (strcmp(key, "regions") == 0) {
        *seen |= 4u;
        return parse_pair(v, key, out->regions, d);
    }
    if (strcmp(key, "seconds") == 0) {
        if (!YAJL_IS_DOUBLE(v) || !isfinite(YAJL_GET_DOUBLE(v)) || YAJL_GET_DOUBLE(v) < 0 ||
            YAJL_GET_DOUBLE(v) > COVERAGE_MAX_SECONDS)
            return cfo_diag_set(d, CFO_EPARSE, "coverage 'seconds' must be a number in 0..%d",
                                COVERAGE_MAX_SECONDS);
        out->seconds = YAJL_GET_DOUBLE(v);
        return CFO_OK;
    }
    if (strcmp(key, "report") == 0) {
        const char *s = YAJL_GET_STRING(v);
        if (s == NULL || strlen(s) > CFO_COVERAGE_MAX_REPORT)
            return cfo_diag_set(d, CFO_EPARSE,
                                "coverage 'report' must be a string of at most %d "
                                "bytes",
                                CFO_COVERAGE_MAX_REPORT);
        snprintf(out->report, sizeof out->report, "%s", s);
        return CFO_OK;
    }
    return cfo_diag_set(d, CFO_EPARSE, "coverage has an unknown member '%.64s'", key);
}

cfo_err cfo_coverage_parse(const char *json, cfo_coverage *out, cfo_diag *d)
{
    memset(out, 0, sizeof *out);
    size_t len = json ? strlen(json) : 0;
    if (len == 0 || len > COVERAGE_MAX_TEXT || !cfo_json_depth_ok(json, len, 4))
        return cfo_diag_set(d, CFO_EPARSE, "coverage is not a small JSON object");
    char err[128];
    yajl_val root = yajl_tree_parse(json, err, sizeof err);
    if (root == NULL)
        return cfo_diag_set(d, CFO_EPARSE, "coverage is not JSON: %s", err);
    cfo_err rc = cfo_coverage_from_tree(root, out, d);
    yajl_tree_free(root);
    return rc;
}

cfo_err cfo_coverage_from_tree(yajl_val root, cfo_coverage *out, cfo_diag *d)
{
    memset(out, 0, sizeof *out);
    if (!YAJL_IS_OBJECT(root))
        return cfo_diag_set(d, CFO_EPARSE, "coverage must be an object");
    unsigned seen = 0;
    for (size_t i = 0; i < root->u.object.len; i++) {
        cfo_err rc = parse_member(root->u.object.keys[i], root->u.object.values[i], out, &seen, d);
        if (rc != CFO_OK)
            return rc;
    }
    if (seen != 7u)
        return cfo_diag_set(d, CFO_EPARSE, "coverage needs 'lines', 'functions' and 'regions'");
    return CFO_OK;
}

static void gen_pair(yajl_gen g, const char *key, const int64_t v[2])
{
    cfo_json_key(g, key);
    yajl_gen_array_open(g);
    yajl_gen_integer(g, v[0]);
    yajl_gen_integer(g, v[1]);
    yajl_gen_array_close(g);
}

char *cfo_coverage_format(const cfo_coverage *c)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    gen_pair(g, "lines", c->lines);
    gen_pair(g, "functions", c->functions);
    gen_pair(g, "regions", c->regions);
    /* Milliseconds are all a cost figure needs, and a fixed precision
     * writes the same text every time it is read and written again. */
    char num[32];
    int n = snprintf(num, sizeof num, "%.3f", c->seconds);
    cfo_json_key(g, "seconds");
    yajl_gen_number(g, num, (size_t)n);
    if (c->report[0] != '\0')
        cfo_json_str(g, "report", c->report);
    yajl_gen_map_close(g);
    return cfo_json_text(g);
}

char *cfo_coverage_compact(const char *json)
{
    if (json == NULL || json[0] == '\0')
        return NULL;
    cfo_coverage c;
    cfo_diag d = {{0}};
    if (cfo_coverage_parse(json, &c, &d) != CFO_OK) {
        cfo_warn("%s; left out", d.msg);
        return NULL;
    }
    return cfo_coverage_format(&c);
}

double cfo_coverage_line_pct(const cfo_coverage *c)
{
    return c->lines[1] > 0 ? 100.0 * (double)c->lines[0] / (double)c->lines[1] : 0.0;
}
