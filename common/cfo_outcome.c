/* cfo_outcome.c -- a task's outcome: its figures, its output as text, and
 * the record it makes. */
#include "cfo_outcome.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cfo_coverage.h"
#include "cfo_log.h"
#include "cfo_util.h"

/* Writes v (a value inside a findings list) compactly; false when it is
 * not made of objects, arrays, strings, integers and booleans, with
 * containers nested at most depth deep (the dataset's own bound). */
static bool gen_list_value(yajl_gen g, yajl_val v, int depth)
{
    if ((YAJL_IS_OBJECT(v) || YAJL_IS_ARRAY(v)) && depth <= 0)
        return false;
    if (YAJL_IS_OBJECT(v)) {
        yajl_gen_map_open(g);
        for (size_t i = 0; i < v->u.object.len; i++) {
            const char *k = v->u.object.keys[i];
            yajl_gen_string(g, (const unsigned char *)k, strlen(k));
            if (!gen_list_value(g, v->u.object.values[i], depth - 1))
                return false;
        }
        yajl_gen_map_close(g);
    } else if (YAJL_IS_ARRAY(v)) {
        yajl_gen_array_open(g);
        for (size_t i = 0; i < v->u.array.len; i++)
            if (!gen_list_value(g, v->u.array.values[i], depth - 1))
                return false;
        yajl_gen_array_close(g);
    } else if (YAJL_IS_STRING(v)) {
        const char *s = YAJL_GET_STRING(v);
        yajl_gen_string(g, (const unsigned char *)s, strlen(s));
    } else if (YAJL_IS_INTEGER(v)) {
        yajl_gen_integer(g, YAJL_GET_INTEGER(v));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        yajl_gen_bool(g, YAJL_IS_TRUE(v));
    } else {
        return false;
    }
    return true;
}

/* The "crashes" list as the dataset keeps it: an array of objects, at most
 * CFO_RECORD_MAX_CRASHES bytes; NULL (and a warning) for anything else. */
static char *compact_crashes(yajl_val list)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    bool ok = YAJL_IS_ARRAY(list);
    for (size_t i = 0; ok && i < list->u.array.len; i++)
        ok = YAJL_IS_OBJECT(list->u.array.values[i]);
    ok = ok && gen_list_value(g, list, 3);
    const unsigned char *text;
    size_t len = 0;
    if (ok)
        yajl_gen_get_buf(g, &text, &len);
    char *out = NULL;
    if (!ok)
        cfo_warn("a task's \"crashes\" is not an array of flat objects; left out");
    else if (len > CFO_RECORD_MAX_CRASHES)
        cfo_warn("a task's \"crashes\" has %zu bytes, more than %d; left out", len,
                 CFO_RECORD_MAX_CRASHES);
    else
        out = cfo_xstrndup((const char *)text, len);
    yajl_gen_free(g);
    return out;
}

char *cfo_outcome_compact_crashes(const char *json)
{
    char err[128];
    if (json == NULL || json[0] == '\0')
        return NULL;
    if (strlen(json) > CFO_RECORD_MAX_CRASHES || !cfo_json_depth_ok(json, strlen(json), 8)) {
        cfo_warn("a findings list is too large or too deep; left out");
        return NULL;
    }
    yajl_val root = yajl_tree_parse(json, err, sizeof err);
    if (root == NULL) {
        cfo_warn("a findings list is not JSON (%s); left out", err);
        return NULL;
    }
    char *out = compact_crashes(root);
    yajl_tree_free(root);
    return out;
}

bool cfo_outcome_parse_figures(cfo_outcome *o, const char *json)
{
    char err[128];
    if (!cfo_json_depth_ok(json, strlen(json), 64))
        return false;
    yajl_val root = yajl_tree_parse(json, err, sizeof err);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return false;
    }
    const char *count_path[] = {"count", NULL};
    const char *findings_path[] = {"findings", NULL};
    const char *summary_path[] = {"summary", NULL};
    yajl_val v = yajl_tree_get(root, count_path, yajl_t_number);
    if (v != NULL && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) >= 0)
        o->count = YAJL_GET_INTEGER(v);
    v = yajl_tree_get(root, findings_path, yajl_t_number);
    if (v != NULL && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) >= 0)
        o->findings = YAJL_GET_INTEGER(v);
    v = yajl_tree_get(root, summary_path, yajl_t_string);
    if (v != NULL) {
        free(o->summary);
        const char *said = YAJL_GET_STRING(v);
        o->summary = cfo_xstrndup(said, strnlen(said, 1024));
    }
    const char *crashes_path[] = {"crashes", NULL};
    v = yajl_tree_get(root, crashes_path, yajl_t_any);
    if (v != NULL) {
        free(o->crashes);
        o->crashes = compact_crashes(v);
    }
    const char *coverage_path[] = {"coverage", NULL};
    v = yajl_tree_get(root, coverage_path, yajl_t_object);
    if (v != NULL) {
        cfo_coverage cov;
        cfo_diag d = {{0}};
        free(o->coverage);
        o->coverage = NULL;
        if (cfo_coverage_from_tree(v, &cov, &d) == CFO_OK)
            o->coverage = cfo_coverage_format(&cov);
        else
            cfo_warn("a task's %s; left out", d.msg);
    }
    yajl_tree_free(root);
    return true;
}

void cfo_outcome_cancelled(cfo_outcome *o, const char *why)
{
    memset(o, 0, sizeof *o);
    o->done = true;
    o->status = CFO_STATUS_CANCELLED;
    o->exit_code = -1;
    o->end_wall_ms = cfo_wall_ms();
    o->summary = cfo_xstrdup(why);
    o->tail = cfo_xstrdup("");
}

void cfo_outcome_error(cfo_outcome *o, const char *why)
{
    cfo_outcome_cancelled(o, why);
    o->status = CFO_STATUS_ERROR;
    o->count = 1;
}

void cfo_outcome_fill_command(cfo_outcome *o, const char *fuzzer, const char *target)
{
    if (o->command != NULL && o->command[0] != '\0')
        return;
    free(o->command);
    char *argv[] = {"cfo-fuzz", (char *)fuzzer, (char *)target, NULL};
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_shell_quote_argv(&b, argv);
    o->command = cfo_buf_steal(&b);
}

void cfo_outcome_fini(cfo_outcome *o)
{
    cfo_free_all(o->command, o->crashes, o->coverage, o->worker, o->summary, o->tail, o->log_path);
    memset(o, 0, sizeof *o);
}

void cfo_outcome_tail_to_text(char *tail, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tail[i] == '\0')
            tail[i] = '?';
    cfo_utf8_sanitize(tail);
}

void cfo_record_from_outcome(cfo_record *rec, const cfo_outcome *o)
{
    rec->command = o->command;
    if (o->worker != NULL)
        rec->worker = o->worker;
    rec->crashes = o->crashes;
    rec->coverage = o->coverage;
    rec->count = o->count;
    rec->findings = o->findings;
    rec->duration = o->duration;
    rec->has_usage = o->has_usage;
    rec->cpu = o->cpu;
    rec->max_rss_kb = o->max_rss_kb;
    rec->time_ms = o->end_wall_ms;
    rec->has_time = true;
    rec->attempt = o->attempt ? o->attempt : 1;
    rec->status = o->status;
    rec->ok = o->status == CFO_STATUS_PASS;
}
