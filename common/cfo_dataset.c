/* cfo_dataset.c -- the dataset document: a streaming yajl parser that builds
 * records as their objects close, and a deterministic yajl_gen writer. */
#include "cfo_dataset.h"

#include "cfo_findings.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "cfo_coverage.h"
#include "cfo_log.h"

/* Unknown top-level values are skipped, not stored; the cap keeps a hostile
 * document from growing yajl's state stack without bound. */
#define SKIP_MAX_DEPTH 64
#define FILE_CHUNK (64 * 1024)

/* Record fields in the order the writer emits them. */
typedef enum field {
    FLD_COMMIT,
    FLD_FUZZER,
    FLD_OK,
    FLD_COUNT,
    FLD_FINDINGS,
    FLD_BRANCH,
    FLD_TARGET,
    FLD_DURATION,
    FLD_COMMAND,
    FLD_STATUS,
    FLD_TIME,
    FLD_RUN,
    FLD_WORKER,
    FLD_ATTEMPT,
    FLD_CPU,
    FLD_MAX_RSS,
    FLD_CRASHES,
    FLD_COVERAGE,
    FLD_NFIELDS,
} field;

/* T_LIST: a JSON array kept as compact text (the findings an engine names);
 * T_OBJECT: a JSON object kept the same way (coverage). */
typedef enum field_type { T_STRING, T_BOOL, T_UINT, T_NUMBER, T_LIST, T_OBJECT } field_type;

static const struct field_def {
    const char *name;
    size_t len;
    field_type type;
    bool required;
} fields[FLD_NFIELDS] = {
    [FLD_COMMIT] = {"commit", 6, T_STRING, true},
    [FLD_FUZZER] = {"fuzzer", 6, T_STRING, true},
    [FLD_OK] = {"ok", 2, T_BOOL, true},
    [FLD_COUNT] = {"count", 5, T_UINT, true},
    [FLD_FINDINGS] = {"findings", 8, T_UINT, false},
    [FLD_BRANCH] = {"branch", 6, T_STRING, true},
    [FLD_TARGET] = {"target", 6, T_STRING, true},
    [FLD_DURATION] = {"duration", 8, T_NUMBER, true},
    [FLD_COMMAND] = {"command", 7, T_STRING, true},
    [FLD_STATUS] = {"status", 6, T_STRING, false},
    [FLD_TIME] = {"time", 4, T_STRING, false},
    [FLD_RUN] = {"run", 3, T_STRING, false},
    [FLD_WORKER] = {"worker", 6, T_STRING, false},
    [FLD_ATTEMPT] = {"attempt", 7, T_UINT, false},
    [FLD_CPU] = {"cpu", 3, T_NUMBER, false},
    [FLD_MAX_RSS] = {"max_rss_kb", 10, T_UINT, false},
    [FLD_CRASHES] = {"crashes", 7, T_LIST, false},
    [FLD_COVERAGE] = {"coverage", 8, T_OBJECT, false},
};

/* A findings list is an array of flat objects; deeper nesting is refused. */
#define LIST_MAX_DEPTH 3

typedef enum pstate {
    ST_TOP,       /* before the top-level value */
    ST_DOC_KEY,   /* inside the document object, between members */
    ST_DOC_VALUE, /* the value of a document member comes next */
    ST_SKIP,      /* inside an unknown member's nested value */
    ST_RECORDS,   /* inside the records array, between records */
    ST_REC_KEY,   /* inside a record object, between fields */
    ST_REC_VALUE, /* a field's value comes next */
    ST_REC_LIST,  /* inside a T_LIST field's array */
    ST_CAPTURE,   /* inside "findings" or "strategies", copied as it streams */
    ST_DONE,      /* the top-level value is complete */
} pstate;

typedef enum doc_key {
    DK_VERSION,
    DK_WINDOW,
    DK_RECORDS,
    DK_FINDINGS,
    DK_STRATEGIES,
    DK_UNKNOWN
} doc_key;

/* The record being read. Strings live in the parser's scratch buffer (by
 * offset: it may move as it grows) until the record is complete, so the hot
 * path does not allocate per field. */
typedef struct rec_state {
    uint32_t seen;    /* fields given, null included (duplicates) */
    uint32_t present; /* fields given a non-null value */
    size_t str_off[FLD_NFIELDS];
    int64_t count, findings, attempt, max_rss;
    double duration, cpu;
    bool ok;
} rec_state;

struct cfo_dataset_parser {
    char *name;
    cfo_recset *into;
    yajl_handle yh;
    pstate state;
    cfo_err err; /* sticky: once set, every call returns it */
    cfo_diag diag;
    size_t fed; /* bytes given to yajl before the current chunk */
    /* The string being read, as the bytes stream in: yajl holds a whole
     * token before it calls back, and re-reads it for every chunk it spans,
     * so a huge string would cost quadratic time before any cap saw it. */
    bool in_string, escaped;
    size_t string_bytes;
    size_t nrecords;
    int version, window;
    bool is_doc, seen_version, seen_window, seen_records;
    doc_key cur_doc_key;
    int skip_depth;
    field cur_field;
    field expect_field; /* the writer's order makes the next key predictable */
    rec_state rec;
    cfo_buf scratch;
    yajl_gen list_gen; /* re-writes a T_LIST value compactly; made on first use */
    int list_depth;
    /* Where "findings" and "strategies" are copied (NULL: skipped). */
    cfo_buf *findings_out, *strategies_out;
    cfo_buf *capture_to;
    yajl_gen capture_gen;
    int capture_depth;
    bool seen_findings, seen_strategies;
};

/* ---- errors ---------------------------------------------------------- */

/* Stops the parse with the reason in p->diag, naming the record being read
 * when in_record. Returns what a yajl callback returns to stop. */
__attribute__((format(printf, 4, 5))) static int parse_fail(cfo_dataset_parser *p, cfo_err err,
                                                            bool in_record, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (in_record)
        cfo_diag_set(&p->diag, err, "%.200s: record %zu: %s", p->name, p->nrecords, what);
    else
        cfo_diag_set(&p->diag, err, "%.200s: %s", p->name, what);
    p->err = err;
    return 0;
}

/* A fault of the document as a whole, and of one record. */
#define doc_fail(p, err, ...) parse_fail((p), (err), false, __VA_ARGS__)
#define rec_fail(p, err, ...) parse_fail((p), (err), true, __VA_ARGS__)

static int type_error(cfo_dataset_parser *p)
{
    const struct field_def *f = &fields[p->cur_field];
    switch (f->type) {
    case T_STRING:
        return rec_fail(p, CFO_EPARSE, "field '%s' must be a string", f->name);
    case T_BOOL:
        return rec_fail(p, CFO_EPARSE, "field '%s' must be a boolean", f->name);
    case T_UINT:
        return rec_fail(p, CFO_EPARSE, "field '%s' must be a non-negative integer", f->name);
    case T_NUMBER:
        return rec_fail(p, CFO_EPARSE, "field '%s' must be a number >= 0", f->name);
    case T_LIST:
        return rec_fail(p, CFO_EPARSE, "field '%s' must be an array of objects", f->name);
    case T_OBJECT:
        return rec_fail(p, CFO_EPARSE, "field '%s' must be an object", f->name);
    }
    return rec_fail(p, CFO_EPARSE, "field '%s' has the wrong type", f->name);
}

static int doc_value_error(cfo_dataset_parser *p, const char *got)
{
    switch (p->cur_doc_key) {
    case DK_VERSION:
        return doc_fail(p, CFO_EPARSE, "'version' must be an integer, not %s", got);
    case DK_WINDOW:
        return doc_fail(p, CFO_EPARSE, "'window' must be an integer in 1..%d, not %s",
                        CFO_DATASET_MAX_WINDOW, got);
    case DK_RECORDS:
        return doc_fail(p, CFO_EPARSE, "'records' must be an array, not %s", got);
    case DK_FINDINGS:
        return doc_fail(p, CFO_EPARSE, "'findings' must be an array, not %s", got);
    case DK_STRATEGIES:
        return doc_fail(p, CFO_EPARSE, "'strategies' must be an object, not %s", got);
    case DK_UNKNOWN:
        break;
    }
    return doc_fail(p, CFO_EPARSE, "unexpected %s", got);
}

/* ---- records ---------------------------------------------------------- */

static void rec_begin(cfo_dataset_parser *p)
{
    p->rec.seen = 0;
    p->rec.present = 0;
    cfo_buf_reset(&p->scratch);
    p->expect_field = FLD_COMMIT;
    p->state = ST_REC_KEY;
}

static const char *rec_str(const cfo_dataset_parser *p, field f)
{
    return (p->rec.present & (1u << f)) ? p->scratch.data + p->rec.str_off[f] : NULL;
}

static int rec_end(cfo_dataset_parser *p)
{
    rec_state *rs = &p->rec;
    for (int f = 0; f < FLD_NFIELDS; f++) {
        if (fields[f].required && !(rs->present & (1u << f)))
            return rec_fail(p, CFO_EPARSE, "missing field '%s'", fields[f].name);
    }
    cfo_record r = {
        .commit = rec_str(p, FLD_COMMIT),
        .fuzzer = rec_str(p, FLD_FUZZER),
        .branch = rec_str(p, FLD_BRANCH),
        .target = rec_str(p, FLD_TARGET),
        .command = rec_str(p, FLD_COMMAND),
        .run = rec_str(p, FLD_RUN),
        .worker = rec_str(p, FLD_WORKER),
        .count = rs->count,
        .findings = (rs->present & (1u << FLD_FINDINGS)) ? rs->findings : 0,
        .duration = rs->duration,
        .crashes = rec_str(p, FLD_CRASHES),
        .attempt = (rs->present & (1u << FLD_ATTEMPT)) ? (uint32_t)rs->attempt : 0,
        .ok = rs->ok,
        .status = rs->ok ? CFO_STATUS_PASS : CFO_STATUS_FAIL,
    };
    /* Resource figures come as a pair: one without the other is not kept. */
    if ((rs->present & (1u << FLD_CPU)) && (rs->present & (1u << FLD_MAX_RSS))) {
        r.has_usage = true;
        r.cpu = rs->cpu;
        r.max_rss_kb = rs->max_rss;
    }
    const char *status = rec_str(p, FLD_STATUS);
    if (status != NULL && cfo_status_parse(status, &r.status) != 0)
        return rec_fail(p, CFO_EPARSE, "unknown status '%.64s'", status);
    const char *time = rec_str(p, FLD_TIME);
    if (time != NULL) {
        if (cfo_parse_time(time, &r.time_ms) != 0)
            return rec_fail(p, CFO_EPARSE, "field 'time' is not a UTC time: '%.64s'", time);
        r.has_time = true;
    }
    cfo_diag vd;
    /* Coverage is kept in its one written form, so reading and writing a
     * record again never changes it. */
    char *coverage = NULL;
    const char *given = rec_str(p, FLD_COVERAGE);
    if (given != NULL) {
        cfo_coverage cov;
        if (cfo_coverage_parse(given, &cov, &vd) != CFO_OK)
            return rec_fail(p, CFO_EPARSE, "%s", vd.msg);
        r.coverage = coverage = cfo_coverage_format(&cov);
    }
    cfo_err verr = cfo_record_validate(&r, &vd);
    if (verr == CFO_OK)
        cfo_recset_add(p->into, &r);
    free(coverage);
    if (verr != CFO_OK)
        return rec_fail(p, CFO_EPARSE, "%s", vd.msg);
    p->nrecords++;
    p->state = ST_RECORDS;
    return 1;
}

static int rec_key(cfo_dataset_parser *p, const unsigned char *key, size_t len)
{
    field f = p->expect_field;
    if (f >= FLD_NFIELDS || fields[f].len != len || memcmp(fields[f].name, key, len) != 0) {
        for (f = 0; f < FLD_NFIELDS; f++) {
            if (fields[f].len == len && memcmp(fields[f].name, key, len) == 0)
                break;
        }
        if (f == FLD_NFIELDS) {
            /* The key is shown up to an embedded NUL; enough to name it. */
            return rec_fail(p, CFO_EPARSE, "unknown field '%.*s'", len > 64 ? 64 : (int)len,
                            (const char *)key);
        }
    }
    if (p->rec.seen & (1u << f))
        return rec_fail(p, CFO_EPARSE, "duplicate field '%s'", fields[f].name);
    p->rec.seen |= 1u << f;
    p->cur_field = f;
    p->expect_field = f + 1;
    p->state = ST_REC_VALUE;
    return 1;
}

static int rec_string(cfo_dataset_parser *p, const unsigned char *s, size_t len)
{
    field f = p->cur_field;
    if (fields[f].type != T_STRING)
        return type_error(p);
    if (len > CFO_RECORD_MAX_STRING)
        return rec_fail(p, CFO_ELIMIT, "field '%s' is longer than %d bytes", fields[f].name,
                        CFO_RECORD_MAX_STRING);
    if (memchr(s, '\0', len) != NULL)
        return rec_fail(p, CFO_EPARSE, "field '%s' contains a NUL character", fields[f].name);
    p->rec.str_off[f] = p->scratch.len;
    cfo_buf_append(&p->scratch, s, len);
    cfo_buf_append(&p->scratch, "", 1);
    p->rec.present |= 1u << f;
    p->state = ST_REC_KEY;
    return 1;
}

static int rec_integer(cfo_dataset_parser *p, long long v)
{
    field f = p->cur_field;
    switch (fields[f].type) {
    case T_STRING:
    case T_BOOL:
    case T_LIST:
    case T_OBJECT:
        return type_error(p);
    case T_NUMBER:
        if (v < 0)
            return type_error(p);
        if (f == FLD_CPU)
            p->rec.cpu = (double)v;
        else
            p->rec.duration = (double)v;
        break;
    case T_UINT:
        if (v < 0)
            return type_error(p);
        if (f == FLD_COUNT)
            p->rec.count = v;
        else if (f == FLD_FINDINGS)
            p->rec.findings = v;
        else if (f == FLD_MAX_RSS)
            p->rec.max_rss = v;
        else if (v > CFO_RECORD_MAX_ATTEMPT)
            return rec_fail(p, CFO_EPARSE, "field 'attempt' must be at most %d",
                            CFO_RECORD_MAX_ATTEMPT);
        else
            p->rec.attempt = v;
        break;
    }
    p->rec.present |= 1u << f;
    p->state = ST_REC_KEY;
    return 1;
}

/* ---- yajl callbacks --------------------------------------------------- */

/* A scalar (or null) arrived; `kind` names it for messages. Returns whether
 * the state machine had a place for it outside records. */
static int doc_scalar(cfo_dataset_parser *p, const char *kind)
{
    switch (p->state) {
    case ST_SKIP:
        return 1;
    case ST_DOC_VALUE:
        if (p->cur_doc_key != DK_UNKNOWN)
            return doc_value_error(p, kind);
        p->state = ST_DOC_KEY;
        return 1;
    case ST_TOP:
        return doc_fail(p, CFO_EPARSE, "expected a dataset object or an array of records, not %s",
                        kind);
    case ST_RECORDS:
        return rec_fail(p, CFO_EPARSE, "must be an object, not %s", kind);
    case ST_DOC_KEY:
    case ST_REC_KEY:
    case ST_REC_VALUE:
    case ST_REC_LIST:
    case ST_CAPTURE:
    case ST_DONE:
        break;
    }
    return doc_fail(p, CFO_EPARSE, "unexpected %s", kind);
}

/* ---- "findings" and "strategies": copied whole for their own reader ---- */

static void capture_begin(cfo_dataset_parser *p, bool is_map)
{
    if (p->capture_gen == NULL) {
        p->capture_gen = yajl_gen_alloc(NULL);
        if (p->capture_gen == NULL) {
            cfo_error("yajl_gen_alloc failed");
            abort();
        }
    }
    yajl_gen_reset(p->capture_gen, NULL);
    yajl_gen_clear(p->capture_gen);
    p->capture_to = p->cur_doc_key == DK_FINDINGS ? p->findings_out : p->strategies_out;
    p->capture_depth = 1;
    p->state = ST_CAPTURE;
    if (is_map)
        yajl_gen_map_open(p->capture_gen);
    else
        yajl_gen_array_open(p->capture_gen);
}

/* After each event: bounded, and a closed top-level value is handed over. */
static int capture_after(cfo_dataset_parser *p, yajl_gen_status gs)
{
    if (gs != yajl_gen_status_ok)
        return doc_fail(p, CFO_EPARSE, "malformed 'findings' or 'strategies'");
    const unsigned char *text;
    size_t len;
    yajl_gen_get_buf(p->capture_gen, &text, &len);
    if (len > CFO_FINDINGS_MAX_JSON)
        return doc_fail(p, CFO_ELIMIT, "'findings' or 'strategies' is larger than %zu bytes",
                        CFO_FINDINGS_MAX_JSON);
    if (p->capture_depth > 0)
        return 1;
    cfo_buf_reset(p->capture_to);
    cfo_buf_append(p->capture_to, text, len);
    cfo_buf_append(p->capture_to, "", 1);
    p->capture_to->len--;
    yajl_gen_clear(p->capture_gen);
    p->state = ST_DOC_KEY;
    return 1;
}

static int capture_container(cfo_dataset_parser *p, bool open, bool is_map)
{
    if (open) {
        if (++p->capture_depth > SKIP_MAX_DEPTH)
            return doc_fail(p, CFO_ELIMIT, "a value is nested deeper than %d levels",
                            SKIP_MAX_DEPTH);
        return capture_after(p, is_map ? yajl_gen_map_open(p->capture_gen)
                                       : yajl_gen_array_open(p->capture_gen));
    }
    p->capture_depth--;
    return capture_after(p, is_map ? yajl_gen_map_close(p->capture_gen)
                                   : yajl_gen_array_close(p->capture_gen));
}

/* ---- T_LIST values: re-written compactly as they stream by ---------- */

/* The shortest "%g" text that reads back as v, so a number written once is
 * written the same way ever after. */
static int format_double(double v, char *buf, size_t n)
{
    for (int prec = 15; prec <= 17; prec++) {
        int len = snprintf(buf, n, "%.*g", prec, v);
        if (prec == 17 || strtod(buf, NULL) == v)
            return len;
    }
    return 0;
}

static void list_begin(cfo_dataset_parser *p, bool is_map)
{
    yajl_gen_reset(p->list_gen, NULL);
    yajl_gen_clear(p->list_gen);
    if (is_map)
        yajl_gen_map_open(p->list_gen);
    else
        yajl_gen_array_open(p->list_gen);
    p->list_depth = 1;
    p->state = ST_REC_LIST;
}

/* After each event: the list stays within its size bound, and a closed
 * top-level array becomes the field's text. */
static int list_after(cfo_dataset_parser *p, yajl_gen_status gs)
{
    field f = p->cur_field;
    if (gs != yajl_gen_status_ok)
        return type_error(p);
    const unsigned char *text;
    size_t len;
    yajl_gen_get_buf(p->list_gen, &text, &len);
    if (len > CFO_RECORD_MAX_CRASHES)
        return rec_fail(p, CFO_ELIMIT, "field '%s' is longer than %d bytes", fields[f].name,
                        CFO_RECORD_MAX_CRASHES);
    if (p->list_depth > 0)
        return 1;
    p->rec.str_off[f] = p->scratch.len;
    cfo_buf_append(&p->scratch, text, len);
    cfo_buf_append(&p->scratch, "", 1);
    p->rec.present |= 1u << f;
    p->state = ST_REC_KEY;
    return 1;
}

/* A scalar inside a list: only as a member of one of its objects; inside
 * an object field, anywhere. */
static int list_scalar_ok(cfo_dataset_parser *p)
{
    return p->list_depth >= 2 || fields[p->cur_field].type == T_OBJECT ? 1 : type_error(p);
}

static int list_open(cfo_dataset_parser *p, bool is_map)
{
    if (p->list_depth == 1 && !is_map && fields[p->cur_field].type == T_LIST)
        return type_error(p);
    if (++p->list_depth > LIST_MAX_DEPTH)
        return rec_fail(p, CFO_ELIMIT, "field '%s' is nested deeper than %d levels",
                        fields[p->cur_field].name, LIST_MAX_DEPTH);
    return list_after(p,
                      is_map ? yajl_gen_map_open(p->list_gen) : yajl_gen_array_open(p->list_gen));
}

static int list_close(cfo_dataset_parser *p, bool was_map)
{
    p->list_depth--;
    return list_after(p, was_map ? yajl_gen_map_close(p->list_gen)
                                 : yajl_gen_array_close(p->list_gen));
}

static int cb_null(void *ctx)
{
    cfo_dataset_parser *p = ctx;
    if (p->state == ST_REC_LIST)
        return list_scalar_ok(p) && list_after(p, yajl_gen_null(p->list_gen));
    if (p->state == ST_CAPTURE)
        return capture_after(p, yajl_gen_null(p->capture_gen));
    if (p->state != ST_REC_VALUE)
        return doc_scalar(p, "null");
    if (fields[p->cur_field].required)
        return type_error(p);
    p->state = ST_REC_KEY; /* counts as absent */
    return 1;
}

static int cb_boolean(void *ctx, int v)
{
    cfo_dataset_parser *p = ctx;
    if (p->state == ST_REC_LIST)
        return list_scalar_ok(p) && list_after(p, yajl_gen_bool(p->list_gen, v));
    if (p->state == ST_CAPTURE)
        return capture_after(p, yajl_gen_bool(p->capture_gen, v));
    if (p->state != ST_REC_VALUE)
        return doc_scalar(p, "a boolean");
    if (fields[p->cur_field].type != T_BOOL)
        return type_error(p);
    p->rec.ok = v != 0;
    p->rec.present |= 1u << p->cur_field;
    p->state = ST_REC_KEY;
    return 1;
}

static int cb_integer(void *ctx, long long v)
{
    cfo_dataset_parser *p = ctx;
    if (p->state == ST_REC_LIST)
        return list_scalar_ok(p) && list_after(p, yajl_gen_integer(p->list_gen, v));
    if (p->state == ST_CAPTURE)
        return capture_after(p, yajl_gen_integer(p->capture_gen, v));
    if (p->state == ST_REC_VALUE)
        return rec_integer(p, v);
    if (p->state == ST_DOC_VALUE && p->cur_doc_key == DK_VERSION) {
        if (v < 1 || v > CFO_DATASET_VERSION)
            return doc_fail(p, CFO_EUNSUPPORTED, "unsupported dataset version %lld", v);
        p->version = (int)v;
        p->state = ST_DOC_KEY;
        return 1;
    }
    if (p->state == ST_DOC_VALUE && p->cur_doc_key == DK_WINDOW) {
        if (v < 1 || v > CFO_DATASET_MAX_WINDOW)
            return doc_fail(p, CFO_EPARSE, "'window' must be an integer in 1..%d, not %lld",
                            CFO_DATASET_MAX_WINDOW, v);
        p->window = (int)v;
        p->state = ST_DOC_KEY;
        return 1;
    }
    return doc_scalar(p, "a number");
}

static int cb_double(void *ctx, double v)
{
    cfo_dataset_parser *p = ctx;
    if (p->state == ST_REC_LIST) {
        char num[40];
        int n = format_double(v, num, sizeof num);
        return list_scalar_ok(p) && list_after(p, yajl_gen_number(p->list_gen, num, (size_t)n));
    }
    if (p->state == ST_CAPTURE) {
        char num[40];
        int n = format_double(v, num, sizeof num);
        return capture_after(p, yajl_gen_number(p->capture_gen, num, (size_t)n));
    }
    if (p->state != ST_REC_VALUE)
        return doc_scalar(p, "a fractional number");
    if (fields[p->cur_field].type != T_NUMBER || !(v >= 0) || !isfinite(v))
        return type_error(p);
    if (p->cur_field == FLD_CPU)
        p->rec.cpu = v;
    else
        p->rec.duration = v;
    p->rec.present |= 1u << p->cur_field;
    p->state = ST_REC_KEY;
    return 1;
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    cfo_dataset_parser *p = ctx;
    if (p->state == ST_REC_LIST)
        return list_scalar_ok(p) && list_after(p, yajl_gen_string(p->list_gen, s, len));
    if (p->state == ST_CAPTURE)
        return capture_after(p, yajl_gen_string(p->capture_gen, s, len));
    if (p->state != ST_REC_VALUE)
        return doc_scalar(p, "a string");
    return rec_string(p, s, len);
}

static int cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
    cfo_dataset_parser *p = ctx;
    if (p->state == ST_REC_KEY)
        return rec_key(p, key, len);
    if (p->state == ST_REC_LIST)
        return list_after(p, yajl_gen_string(p->list_gen, key, len));
    if (p->state == ST_CAPTURE)
        return capture_after(p, yajl_gen_string(p->capture_gen, key, len));
    if (p->state == ST_SKIP)
        return 1;
    assert(p->state == ST_DOC_KEY);
    doc_key k = DK_UNKNOWN;
    bool *seen = NULL;
    if (len == 7 && memcmp(key, "version", 7) == 0) {
        k = DK_VERSION;
        seen = &p->seen_version;
    } else if (len == 6 && memcmp(key, "window", 6) == 0) {
        k = DK_WINDOW;
        seen = &p->seen_window;
    } else if (len == 7 && memcmp(key, "records", 7) == 0) {
        k = DK_RECORDS;
        seen = &p->seen_records;
    } else if (len == 8 && memcmp(key, "findings", 8) == 0 && p->findings_out != NULL) {
        k = DK_FINDINGS;
        seen = &p->seen_findings;
    } else if (len == 10 && memcmp(key, "strategies", 10) == 0 && p->strategies_out != NULL) {
        k = DK_STRATEGIES;
        seen = &p->seen_strategies;
    }
    if (seen != NULL) {
        if (*seen)
            return doc_fail(p, CFO_EPARSE, "duplicate key '%.*s'", (int)len, (const char *)key);
        *seen = true;
    }
    p->cur_doc_key = k;
    p->state = ST_DOC_VALUE;
    return 1;
}

static int open_container(cfo_dataset_parser *p, bool is_map)
{
    const char *kind = is_map ? "an object" : "an array";
    switch (p->state) {
    case ST_TOP:
        if (is_map) {
            p->is_doc = true;
            p->state = ST_DOC_KEY;
        } else {
            p->state = ST_RECORDS;
        }
        return 1;
    case ST_DOC_VALUE:
        if (p->cur_doc_key == DK_RECORDS && !is_map) {
            p->state = ST_RECORDS;
            return 1;
        }
        if ((p->cur_doc_key == DK_FINDINGS && !is_map) ||
            (p->cur_doc_key == DK_STRATEGIES && is_map)) {
            capture_begin(p, is_map);
            return 1;
        }
        if (p->cur_doc_key != DK_UNKNOWN)
            return doc_value_error(p, kind);
        p->state = ST_SKIP;
        p->skip_depth = 1;
        return 1;
    case ST_SKIP:
        if (++p->skip_depth > SKIP_MAX_DEPTH)
            return doc_fail(p, CFO_ELIMIT, "a value is nested deeper than %d levels",
                            SKIP_MAX_DEPTH);
        return 1;
    case ST_RECORDS:
        if (!is_map)
            return rec_fail(p, CFO_EPARSE, "must be an object, not an array");
        if (p->nrecords >= CFO_DATASET_MAX_RECORDS)
            return doc_fail(p, CFO_ELIMIT, "more than %d records", CFO_DATASET_MAX_RECORDS);
        rec_begin(p);
        return 1;
    case ST_REC_VALUE:
        if (fields[p->cur_field].type != (is_map ? T_OBJECT : T_LIST))
            return type_error(p);
        list_begin(p, is_map);
        return 1;
    case ST_REC_LIST:
        return list_open(p, is_map);
    case ST_CAPTURE:
        return capture_container(p, true, is_map);
    case ST_DOC_KEY:
    case ST_REC_KEY:
    case ST_DONE:
        break;
    }
    return doc_fail(p, CFO_EPARSE, "unexpected %s", kind);
}

/* Closing brackets: yajl has already checked they match their openers. */
static int close_container(cfo_dataset_parser *p, bool is_map)
{
    switch (p->state) {
    case ST_REC_LIST:
        return list_close(p, is_map);
    case ST_CAPTURE:
        return capture_container(p, false, is_map);
    case ST_SKIP:
        if (--p->skip_depth == 0)
            p->state = ST_DOC_KEY;
        return 1;
    case ST_REC_KEY:
        return rec_end(p);
    case ST_RECORDS:
        p->state = p->is_doc ? ST_DOC_KEY : ST_DONE;
        return 1;
    case ST_DOC_KEY:
        if (!p->seen_version)
            return doc_fail(p, CFO_EPARSE, "missing key 'version'");
        if (!p->seen_records)
            return doc_fail(p, CFO_EPARSE, "missing key 'records'");
        p->state = ST_DONE;
        return 1;
    case ST_TOP:
    case ST_DOC_VALUE:
    case ST_REC_VALUE:
    case ST_DONE:
        break;
    }
    return doc_fail(p, CFO_EPARSE, "unexpected end of a container");
}

static int cb_start_map(void *ctx)
{
    return open_container(ctx, true);
}

static int cb_start_array(void *ctx)
{
    return open_container(ctx, false);
}

static int cb_end_map(void *ctx)
{
    return close_container(ctx, true);
}

static int cb_end_array(void *ctx)
{
    return close_container(ctx, false);
}

static const yajl_callbacks callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_integer = cb_integer,
    .yajl_double = cb_double,
    .yajl_number = NULL,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end_map,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end_array,
};

/* yajl's own buffers follow the project's rule: running out of memory aborts. */
static void *ya_malloc(void *ctx, size_t n)
{
    (void)ctx;
    return cfo_xmalloc(n);
}

static void *ya_realloc(void *ctx, void *ptr, size_t n)
{
    (void)ctx;
    return cfo_xrealloc(ptr, n);
}

static void ya_free(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

static yajl_alloc_funcs ya_funcs = {ya_malloc, ya_realloc, ya_free, NULL};

/* ---- parser ----------------------------------------------------------- */

cfo_dataset_parser *cfo_dataset_parser_new(const char *name, cfo_recset *into)
{
    assert(into != NULL);
    cfo_dataset_parser *p = cfo_xcalloc(1, sizeof *p);
    p->name = cfo_xstrdup(name != NULL ? name : "dataset");
    p->into = into;
    p->state = ST_TOP;
    cfo_buf_init(&p->scratch);
    p->yh = yajl_alloc(&callbacks, &ya_funcs, p);
    p->list_gen = yajl_gen_alloc(&ya_funcs);
    if (p->yh == NULL || p->list_gen == NULL) {
        cfo_error("yajl_alloc failed");
        abort();
    }
    return p;
}

void cfo_dataset_parser_destroy(cfo_dataset_parser **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    cfo_dataset_parser *p = *self_p;
    yajl_free(p->yh);
    yajl_gen_free(p->list_gen);
    if (p->capture_gen != NULL)
        yajl_gen_free(p->capture_gen);
    cfo_buf_fini(&p->scratch);
    free(p->name);
    free(p);
    *self_p = NULL;
}

void cfo_dataset_parser_capture(cfo_dataset_parser *self, cfo_buf *findings, cfo_buf *strategies)
{
    self->findings_out = findings;
    self->strategies_out = strategies;
}

static cfo_err sticky(const cfo_dataset_parser *p, cfo_diag *d)
{
    return cfo_diag_set(d, p->err, "%s", p->diag.msg);
}

/* Turns a yajl status into the parser's sticky error. `chunk` is what was
 * being parsed (for yajl's message), `at` the input offset of the error. */
static cfo_err on_status(cfo_dataset_parser *p, yajl_status st, const unsigned char *chunk,
                         size_t len, size_t at, cfo_diag *d)
{
    if (st == yajl_status_ok)
        return CFO_OK;
    if (st == yajl_status_client_canceled) {
        assert(p->err != CFO_OK);
        return sticky(p, d);
    }
    unsigned char *msg = yajl_get_error(p->yh, 0, chunk, len);
    size_t mlen = msg != NULL ? strlen((const char *)msg) : 0;
    while (mlen > 0 && (msg[mlen - 1] == '\n' || msg[mlen - 1] == ' '))
        mlen--;
    doc_fail(p, CFO_EPARSE, "%.*s at byte %zu", (int)mlen,
             msg != NULL ? (const char *)msg : "syntax error", at);
    if (msg != NULL)
        yajl_free_error(p->yh, msg);
    return sticky(p, d);
}

/* Raw bytes one string may take: every byte of the longest string field
 * written as a six-byte \u escape. */
#define STRING_RAW_MAX (6 * (size_t)CFO_RECORD_MAX_STRING + 2)

/* Follows the strings of data (the next len bytes of the input) and fails
 * the parse at the first one longer than STRING_RAW_MAX bytes. */
static cfo_err check_strings(cfo_dataset_parser *p, const unsigned char *data, size_t len,
                             cfo_diag *d)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = data[i];
        if (!p->in_string) {
            p->in_string = c == '"';
            p->string_bytes = 0;
            continue;
        }
        if (p->escaped)
            p->escaped = false;
        else if (c == '\\')
            p->escaped = true;
        else if (c == '"')
            p->in_string = false;
        if (++p->string_bytes > STRING_RAW_MAX) {
            doc_fail(p, CFO_EPARSE,
                     "a string longer than %zu bytes at byte %zu (no field may be longer than "
                     "%d bytes)",
                     STRING_RAW_MAX, p->fed + i, CFO_RECORD_MAX_STRING);
            return sticky(p, d);
        }
    }
    return CFO_OK;
}

cfo_err cfo_dataset_parser_feed(cfo_dataset_parser *p, const void *data, size_t len, cfo_diag *d)
{
    if (p->err != CFO_OK)
        return sticky(p, d);
    if (len == 0)
        return CFO_OK;
    if (check_strings(p, data, len, d) != CFO_OK)
        return p->err;
    yajl_status st = yajl_parse(p->yh, data, len);
    cfo_err err = on_status(p, st, data, len, p->fed + yajl_get_bytes_consumed(p->yh), d);
    p->fed += len;
    return err;
}

cfo_err cfo_dataset_parser_finish(cfo_dataset_parser *p, cfo_dataset_meta *meta, cfo_diag *d)
{
    if (p->err != CFO_OK)
        return sticky(p, d);
    yajl_status st = yajl_complete_parse(p->yh);
    /* What is wrong at the end of the input is wrong at its last byte. */
    cfo_err err = on_status(p, st, (const unsigned char *)"", 0, p->fed, d);
    if (err == CFO_OK && p->state != ST_DONE) {
        doc_fail(p, CFO_EPARSE, "premature end of input at byte %zu", p->fed);
        err = sticky(p, d);
    }
    if (err != CFO_OK)
        return err;
    if (meta != NULL) {
        meta->version = p->is_doc ? p->version : 0;
        meta->window = p->window;
        meta->nrecords = p->nrecords;
    }
    return CFO_OK;
}

/* On error, the records completed before the bad one stay in `into`; callers
 * that must not see a partial dataset parse into a scratch set. */
cfo_err cfo_dataset_parse(const void *data, size_t len, const char *name, cfo_recset *into,
                          cfo_dataset_meta *meta, cfo_diag *d)
{
    cfo_dataset_parser *p = cfo_dataset_parser_new(name, into);
    cfo_err err = cfo_dataset_parser_feed(p, data, len, d);
    if (err == CFO_OK)
        err = cfo_dataset_parser_finish(p, meta, d);
    cfo_dataset_parser_destroy(&p);
    return err;
}

/* Reads in fixed chunks so memory follows the records, not the file. A
 * missing file is CFO_ENOTFOUND; partial records stay in `into` on error as
 * with cfo_dataset_parse. */
cfo_err cfo_dataset_parse_file(const char *path, cfo_recset *into, cfo_dataset_meta *meta,
                               cfo_diag *d)
{
    return cfo_dataset_parse_file_capture(path, into, meta, NULL, NULL, d);
}

cfo_err cfo_dataset_parse_file_capture(const char *path, cfo_recset *into, cfo_dataset_meta *meta,
                                       cfo_buf *findings, cfo_buf *strategies, cfo_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return cfo_diag_set(d, e == ENOENT ? CFO_ENOTFOUND : CFO_EIO, "%s: %s", path, strerror(e));
    }
    cfo_err err = CFO_OK;
    cfo_dataset_parser *p = cfo_dataset_parser_new(path, into);
    cfo_dataset_parser_capture(p, findings, strategies);
    char *chunk = cfo_xmalloc(FILE_CHUNK);
    for (;;) {
        ssize_t n = read(fd, chunk, FILE_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = cfo_diag_set(d, CFO_EIO, "%s: %s", path, strerror(errno));
            break;
        }
        if (n == 0) {
            err = cfo_dataset_parser_finish(p, meta, d);
            break;
        }
        err = cfo_dataset_parser_feed(p, chunk, (size_t)n, d);
        if (err != CFO_OK)
            break;
    }
    free(chunk);
    cfo_dataset_parser_destroy(&p);
    close(fd);
    return err;
}

/* ---- writer ----------------------------------------------------------- */

static void gen_print(void *ctx, const char *s, size_t len)
{
    cfo_buf_append(ctx, s, len);
}

static yajl_gen gen_new(cfo_buf *out)
{
    yajl_gen g = yajl_gen_alloc(&ya_funcs);
    if (g == NULL) {
        cfo_error("yajl_gen_alloc failed");
        abort();
    }
    yajl_gen_config(g, yajl_gen_print_callback, gen_print, out);
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    return g;
}

/* Length of the UTF-8 sequence at s (of at most len bytes) under the rule
 * yajl applies when it reads and writes strings, or 0 if it is invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t len)
{
    size_t n;
    if (s[0] <= 0x7f)
        return 1;
    if ((s[0] >> 5) == 0x6)
        n = 2;
    else if ((s[0] >> 4) == 0xe)
        n = 3;
    else if ((s[0] >> 3) == 0x1e)
        n = 4;
    else
        return 0;
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] >> 6) != 0x2)
            return 0;
    }
    return n;
}

/* Strings that did not come through the parser may hold invalid UTF-8; such
 * bytes become U+FFFD so the document stays readable JSON. */
static void gen_string(yajl_gen g, const char *s)
{
    size_t len = strlen(s);
    if (yajl_gen_string(g, (const unsigned char *)s, len) != yajl_gen_invalid_string)
        return;
    cfo_buf fixed;
    cfo_buf_init(&fixed);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq_len(u + i, len - i);
        if (n == 0) {
            cfo_buf_append(&fixed, "\xef\xbf\xbd", 3);
            i++;
        } else {
            cfo_buf_append(&fixed, u + i, n);
            i += n;
        }
    }
    yajl_gen_status st = yajl_gen_string(g, (const unsigned char *)fixed.data, fixed.len);
    assert(st == yajl_gen_status_ok);
    (void)st;
    cfo_buf_fini(&fixed);
}

#define GEN_KEY(g, k) yajl_gen_string((g), (const unsigned char *)(k), sizeof(k) - 1)

/* What writing a whole dataset reuses from record to record. A million
 * records name a few fuzzers, branches, commits and some thousand targets,
 * all interned (one pointer per distinct string): each is escaped once, by
 * yajl itself, and its JSON text reused. */
#define STRING_CACHE_MAX 262144

typedef struct writer {
    yajl_gen g;
    /* open addressing by pointer: entry i is text[off[i] .. off[i]+len[i]) */
    const char **keys;
    uint32_t *off, *len;
    size_t cap, n;
    cfo_buf text;
    yajl_gen scratch;
    cfo_buf scratch_out;
    int64_t time_secs; /* the last second formatted, and its text */
    char time_text[32];
    size_t time_len;
    bool time_valid;
} writer;

static void writer_init(writer *w, cfo_buf *out, bool cache)
{
    memset(w, 0, sizeof *w);
    w->g = gen_new(out);
    if (cache) {
        w->cap = 4096;
        w->keys = cfo_xcalloc(w->cap, sizeof *w->keys);
        w->off = cfo_xcalloc(w->cap, sizeof *w->off);
        w->len = cfo_xcalloc(w->cap, sizeof *w->len);
        cfo_buf_init(&w->text);
        cfo_buf_init(&w->scratch_out);
        w->scratch = gen_new(&w->scratch_out);
    }
}

static void writer_fini(writer *w)
{
    yajl_gen_free(w->g);
    if (w->scratch != NULL)
        yajl_gen_free(w->scratch);
    free(w->keys);
    free(w->off);
    free(w->len);
    cfo_buf_fini(&w->text);
    cfo_buf_fini(&w->scratch_out);
}

static size_t slot_of(const writer *w, const char *key)
{
    uintptr_t h = (uintptr_t)key;
    h ^= h >> 17;
    h *= 0x9e3779b97f4a7c15ull;
    size_t mask = w->cap - 1;
    size_t i = (size_t)(h >> 7) & mask;
    while (w->keys[i] != NULL && w->keys[i] != key)
        i = (i + 1) & mask;
    return i;
}

static void cache_grow(writer *w)
{
    writer bigger = *w;
    bigger.cap = w->cap * 2;
    bigger.keys = cfo_xcalloc(bigger.cap, sizeof *bigger.keys);
    bigger.off = cfo_xcalloc(bigger.cap, sizeof *bigger.off);
    bigger.len = cfo_xcalloc(bigger.cap, sizeof *bigger.len);
    for (size_t i = 0; i < w->cap; i++) {
        if (w->keys[i] == NULL)
            continue;
        size_t j = slot_of(&bigger, w->keys[i]);
        bigger.keys[j] = w->keys[i];
        bigger.off[j] = w->off[i];
        bigger.len[j] = w->len[i];
    }
    free(w->keys);
    free(w->off);
    free(w->len);
    w->keys = bigger.keys;
    w->off = bigger.off;
    w->len = bigger.len;
    w->cap = bigger.cap;
}

/* Writes s as a JSON string value, from the cache when it was written before. */
static void writer_string(writer *w, const char *s)
{
    if (w->keys == NULL || w->n >= STRING_CACHE_MAX || w->text.len > UINT32_MAX / 2) {
        gen_string(w->g, s);
        return;
    }
    size_t i = slot_of(w, s);
    if (w->keys[i] == NULL) {
        cfo_buf_reset(&w->scratch_out);
        gen_string(w->scratch, s);
        yajl_gen_reset(w->scratch, NULL);
        w->keys[i] = s;
        w->off[i] = (uint32_t)w->text.len;
        w->len[i] = (uint32_t)w->scratch_out.len;
        cfo_buf_append(&w->text, w->scratch_out.data, w->scratch_out.len);
        if (++w->n * 2 > w->cap) {
            cache_grow(w);
            i = slot_of(w, s);
        }
    }
    /* yajl writes a number's text as it is given, with the separators. */
    yajl_gen_number(w->g, w->text.data + w->off[i], w->len[i]);
}

static void writer_int(writer *w, long long v)
{
    char text[24];
    char *p = text + sizeof text;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        *--p = '-';
    yajl_gen_number(w->g, p, (size_t)(text + sizeof text - p));
}

/* The shortest of %.15g / %.17g that reads back as the same double. Most
 * durations have at most three decimals: ms / 1000.0 is the correctly
 * rounded quotient, so when it equals v, "ms/1000" printed exactly is the
 * text %.15g would give and that reads back as v. */
static void writer_duration(writer *w, double v)
{
    char text[40];
    if (v == 0 || !isfinite(v)) {
        /* -0 would come back as 0; validated records never hold NaN/inf. */
        yajl_gen_number(w->g, "0", 1);
        return;
    }
    if (v > 0 && v < 1e9) {
        long long ms = llround(v * 1000.0);
        if (ms > 0 && (double)ms / 1000.0 == v) {
            int n = 0;
            long long whole = ms / 1000, frac = ms % 1000;
            char digits[24];
            int k = 0;
            do {
                digits[k++] = (char)('0' + whole % 10);
                whole /= 10;
            } while (whole > 0);
            while (k > 0)
                text[n++] = digits[--k];
            if (frac != 0) {
                text[n++] = '.';
                text[n++] = (char)('0' + frac / 100);
                text[n++] = (char)('0' + frac / 10 % 10);
                text[n++] = (char)('0' + frac % 10);
                while (text[n - 1] == '0')
                    n--;
            }
            yajl_gen_number(w->g, text, (size_t)n);
            return;
        }
    }
    int n = format_double(v, text, sizeof text);
    yajl_gen_number(w->g, text, (size_t)n);
}

/* Times as cfo_format_time writes them; the date and clock of a second are
 * formatted once, the milliseconds appended. */
static void writer_time(writer *w, int64_t ms)
{
    int64_t secs = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    if (!w->time_valid || secs != w->time_secs) {
        cfo_format_time(secs * 1000, w->time_text, sizeof w->time_text);
        w->time_len = strlen(w->time_text) - 1; /* without the Z */
        w->time_secs = secs;
        w->time_valid = true;
    }
    char t[48];
    memcpy(t, w->time_text, w->time_len);
    size_t n = w->time_len;
    if (frac != 0) {
        t[n++] = '.';
        t[n++] = (char)('0' + frac / 100);
        t[n++] = (char)('0' + frac / 10 % 10);
        t[n++] = (char)('0' + frac % 10);
    }
    t[n++] = 'Z';
    t[n] = '\0';
    gen_string(w->g, t);
}

static void gen_record(writer *w, const cfo_record *r)
{
    yajl_gen g = w->g;
    yajl_gen_map_open(g);
    GEN_KEY(g, "commit");
    writer_string(w, r->commit != NULL ? r->commit : "");
    GEN_KEY(g, "fuzzer");
    writer_string(w, r->fuzzer != NULL ? r->fuzzer : "");
    GEN_KEY(g, "ok");
    yajl_gen_bool(g, r->ok);
    GEN_KEY(g, "count");
    writer_int(w, (long long)r->count);
    GEN_KEY(g, "findings");
    writer_int(w, (long long)r->findings);
    GEN_KEY(g, "branch");
    writer_string(w, r->branch != NULL ? r->branch : "");
    GEN_KEY(g, "target");
    writer_string(w, r->target != NULL ? r->target : "");
    GEN_KEY(g, "duration");
    writer_duration(w, r->duration);
    GEN_KEY(g, "command");
    writer_string(w, r->command != NULL ? r->command : "");
    GEN_KEY(g, "status");
    writer_string(w, cfo_status_name(r->status));
    if (r->has_time) {
        GEN_KEY(g, "time");
        writer_time(w, r->time_ms);
    }
    if (r->run != NULL) {
        GEN_KEY(g, "run");
        writer_string(w, r->run);
    }
    if (r->worker != NULL) {
        GEN_KEY(g, "worker");
        writer_string(w, r->worker);
    }
    if (r->attempt != 0) {
        GEN_KEY(g, "attempt");
        writer_int(w, (long long)r->attempt);
    }
    if (r->has_usage) {
        GEN_KEY(g, "cpu");
        writer_duration(w, r->cpu);
        GEN_KEY(g, "max_rss_kb");
        writer_int(w, (long long)r->max_rss_kb);
    }
    if (r->crashes != NULL) {
        /* Already compact, validated JSON (the parser or the worker made it). */
        GEN_KEY(g, "crashes");
        yajl_gen_number(g, r->crashes, strlen(r->crashes));
    }
    if (r->coverage != NULL) {
        GEN_KEY(g, "coverage");
        yajl_gen_number(g, r->coverage, strlen(r->coverage));
    }
    yajl_gen_map_close(g);
    /* Lets the same generator write the next record as a new top-level value. */
    yajl_gen_reset(g, NULL);
}

void cfo_record_write_json(const cfo_record *r, cfo_buf *out)
{
    writer w;
    writer_init(&w, out, false);
    gen_record(&w, r);
    writer_fini(&w);
}

/* A window <= 0 omits the key (a parser reports it as 0, "absent"). */
void cfo_dataset_write(const cfo_recset *rs, int window, cfo_buf *out)
{
    cfo_dataset_write_doc(rs, window, NULL, NULL, out);
}

void cfo_dataset_write_doc(const cfo_recset *rs, int window, const char *strategies,
                           const char *findings, cfo_buf *out)
{
    assert(window <= CFO_DATASET_MAX_WINDOW);
    bool v2 = strategies != NULL || findings != NULL;
    cfo_buf_printf(out, "{\"version\":%d,", v2 ? CFO_DATASET_VERSION : 1);
    if (window > 0)
        cfo_buf_printf(out, "\"window\":%d,", window);
    if (strategies != NULL)
        cfo_buf_printf(out, "\n\"strategies\":%s,", strategies);
    if (findings != NULL)
        cfo_buf_printf(out, "\n\"findings\":%s,", findings);
    cfo_buf_puts(out, v2 ? "\n\"records\":[\n" : "\"records\":[\n");
    writer w;
    writer_init(&w, out, true);
    for (size_t i = 0; i < rs->n; i++) {
        if (i > 0)
            cfo_buf_append(out, ",\n", 2);
        gen_record(&w, &rs->v[i]);
    }
    writer_fini(&w);
    if (rs->n > 0)
        cfo_buf_append(out, "\n", 1);
    cfo_buf_append(out, "]}\n", 3);
}
