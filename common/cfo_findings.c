/* cfo_findings.c -- findings and merge strategies: the model, its JSON reader
 * (small documents: yajl_tree, bounded) and its writer (yajl_gen). */
#include "cfo_findings.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cfo_json.h"
#include "cfo_log.h"

/* ---- the set -------------------------------------------------------------- */

void cfo_findings_init(cfo_findings *fs)
{
    memset(fs, 0, sizeof *fs);
}

static void sighting_fini(cfo_sighting *s)
{
    free(s->commit);
    free(s->branch);
    memset(s, 0, sizeof *s);
}

static void finding_fini(cfo_finding *f)
{
    cfo_free_all(f->id, f->fuzzer, f->target, f->kind, f->signature, f->crash_state, f->title,
                 f->bundle, f->location);
    sighting_fini(&f->first);
    sighting_fini(&f->last);
    sighting_fini(&f->fixed);
    free(f->fixed_last_bad);
    for (size_t i = 0; i < f->nbranches; i++) {
        cfo_free_all(f->branches[i].branch, f->branches[i].last_commit, f->branches[i].fixed_commit,
                     f->branches[i].last_bad);
    }
    free(f->branches);
    memset(f, 0, sizeof *f);
}

void cfo_findings_fini(cfo_findings *fs)
{
    for (size_t i = 0; i < fs->n; i++)
        finding_fini(&fs->v[i]);
    cfo_free_all(fs->v, fs->index);
    memset(fs, 0, sizeof *fs);
}

/* The index slot of id: the one that holds it, or the free one it goes to. */
static size_t *index_slot(const cfo_findings *fs, const char *id)
{
    size_t mask = fs->nindex - 1;
    for (size_t k = cfo_hash_bytes(id, strlen(id)) & mask;; k = (k + 1) & mask)
        if (fs->index[k] == 0 || strcmp(fs->v[fs->index[k] - 1].id, id) == 0)
            return &fs->index[k];
}

/* Indexes every finding again: after they moved, or to make room. */
static void index_rebuild(cfo_findings *fs)
{
    size_t want = 64;
    while (want <= 2 * fs->n)
        want *= 2;
    if (want != fs->nindex) {
        free(fs->index);
        fs->index = cfo_xcalloc(want, sizeof *fs->index);
        fs->nindex = want;
    } else {
        memset(fs->index, 0, want * sizeof *fs->index);
    }
    for (size_t i = 0; i < fs->n; i++)
        *index_slot(fs, fs->v[i].id) = i + 1;
}

cfo_finding *cfo_findings_get(cfo_findings *fs, const char *id)
{
    if (fs->nindex == 0)
        return NULL;
    size_t at = *index_slot(fs, id);
    return at == 0 ? NULL : &fs->v[at - 1];
}

cfo_finding *cfo_findings_add(cfo_findings *fs, const char *id)
{
    if (fs->n == fs->cap) {
        fs->cap = fs->cap ? 2 * fs->cap : 16;
        fs->v = cfo_xrealloc(fs->v, fs->cap * sizeof *fs->v);
    }
    cfo_finding *f = &fs->v[fs->n++];
    memset(f, 0, sizeof *f);
    f->id = cfo_xstrdup(id);
    f->open = true;
    if (fs->nindex <= 2 * fs->n)
        index_rebuild(fs);
    else
        *index_slot(fs, f->id) = fs->n;
    return f;
}

void cfo_findings_filter(cfo_findings *fs, bool (*keep)(const cfo_finding *f, const void *ctx),
                         const void *ctx)
{
    size_t kept = 0;
    for (size_t i = 0; i < fs->n; i++) {
        if (keep(&fs->v[i], ctx))
            fs->v[kept++] = fs->v[i];
        else
            finding_fini(&fs->v[i]);
    }
    fs->n = kept;
    index_rebuild(fs);
}

static int finding_cmp(const void *a, const void *b)
{
    return strcmp(((const cfo_finding *)a)->id, ((const cfo_finding *)b)->id);
}

void cfo_findings_sort(cfo_findings *fs)
{
    if (fs->n > 1) {
        qsort(fs->v, fs->n, sizeof *fs->v, finding_cmp);
        index_rebuild(fs);
    }
}

static char *dup0(const char *s)
{
    return s ? cfo_xstrdup(s) : NULL;
}

static void sighting_copy(cfo_sighting *dst, const cfo_sighting *src)
{
    dst->commit = dup0(src->commit);
    dst->branch = dup0(src->branch);
    dst->time_ms = src->time_ms;
}

void cfo_findings_add_copy(cfo_findings *fs, const cfo_finding *src)
{
    cfo_finding *f = cfo_findings_add(fs, src->id);
    f->fuzzer = dup0(src->fuzzer);
    f->target = dup0(src->target);
    f->kind = dup0(src->kind);
    f->signature = dup0(src->signature);
    f->crash_state = dup0(src->crash_state);
    f->title = dup0(src->title);
    f->bundle = dup0(src->bundle);
    f->location = dup0(src->location);
    f->open = src->open;
    sighting_copy(&f->first, &src->first);
    sighting_copy(&f->last, &src->last);
    f->has_fixed = src->has_fixed;
    sighting_copy(&f->fixed, &src->fixed);
    f->fixed_last_bad = dup0(src->fixed_last_bad);
    f->regressed = src->regressed;
    for (size_t i = 0; i < src->nbranches; i++) {
        const cfo_finding_branch *b = &src->branches[i];
        cfo_finding_branch *c = cfo_finding_branch_get(f, b->branch, true);
        c->open = b->open;
        c->last_commit = dup0(b->last_commit);
        c->last_ms = b->last_ms;
        c->fixed_commit = dup0(b->fixed_commit);
        c->last_bad = dup0(b->last_bad);
        c->fixed_ms = b->fixed_ms;
    }
}

cfo_finding_branch *cfo_finding_branch_get(cfo_finding *f, const char *branch, bool add)
{
    size_t at = 0;
    while (at < f->nbranches && strcmp(f->branches[at].branch, branch) < 0)
        at++;
    if (at < f->nbranches && strcmp(f->branches[at].branch, branch) == 0)
        return &f->branches[at];
    if (!add)
        return NULL;
    f->branches = cfo_xrealloc(f->branches, (f->nbranches + 1) * sizeof *f->branches);
    memmove(&f->branches[at + 1], &f->branches[at], (f->nbranches - at) * sizeof *f->branches);
    f->nbranches++;
    cfo_finding_branch *b = &f->branches[at];
    memset(b, 0, sizeof *b);
    b->branch = cfo_xstrdup(branch);
    b->open = true;
    return b;
}

const char *cfo_finding_state(const cfo_finding *f)
{
    return f->open ? "open" : "fixed";
}

/* ---- reading ---------------------------------------------------------------- */

typedef struct reader {
    const char *name;
    size_t index;
    cfo_diag *d;
    cfo_err err;
} reader;

__attribute__((format(printf, 2, 3))) static void bad(reader *rd, const char *fmt, ...)
{
    if (rd->err != CFO_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    rd->err = cfo_diag_vset(rd->d, CFO_EPARSE, fmt, ap);
    va_end(ap);
    cfo_diag_prefix(rd->d, "%s: finding %zu", rd->name, rd->index);
}

static yajl_val member(yajl_val obj, const char *key)
{
    const char *path[] = {key, NULL};
    return yajl_tree_get(obj, path, yajl_t_any);
}

/* A string member: required ones must be non-empty strings; optional ones
 * may also be absent or null (NULL). */
static char *str_member(reader *rd, yajl_val obj, const char *key, bool required)
{
    yajl_val v = member(obj, key);
    if (v == NULL || YAJL_IS_NULL(v)) {
        if (required)
            bad(rd, "missing '%s'", key);
        return NULL;
    }
    if (!YAJL_IS_STRING(v) || v->u.string[0] == '\0' || strlen(v->u.string) > 8192) {
        bad(rd, "'%s' must be a non-empty string", key);
        return NULL;
    }
    return cfo_xstrdup(v->u.string);
}

static int64_t time_member(reader *rd, yajl_val obj, const char *key)
{
    yajl_val v = member(obj, key);
    int64_t ms = 0;
    if (v == NULL || !YAJL_IS_STRING(v) || cfo_parse_time(v->u.string, &ms) != 0)
        bad(rd, "'%s' must be a time like 2026-11-21T10:00:00Z", key);
    return ms;
}

static void sighting_read(reader *rd, yajl_val v, const char *key, cfo_sighting *s, char **last_bad)
{
    if (v == NULL || !YAJL_IS_OBJECT(v)) {
        bad(rd, "'%s' must be an object", key);
        return;
    }
    s->commit = str_member(rd, v, "commit", true);
    s->branch = str_member(rd, v, "branch", true);
    s->time_ms = time_member(rd, v, "time");
    if (last_bad != NULL)
        *last_bad = str_member(rd, v, "last_bad", true);
}

static void branch_read(reader *rd, cfo_finding *f, const char *name, yajl_val state,
                        yajl_val detail)
{
    if (!YAJL_IS_STRING(state) ||
        (strcmp(state->u.string, "open") != 0 && strcmp(state->u.string, "fixed") != 0)) {
        bad(rd, "branch '%s' must be \"open\" or \"fixed\"", name);
        return;
    }
    if (name[0] == '\0' || cfo_finding_branch_get(f, name, false) != NULL) {
        bad(rd, "branch '%s' is empty or listed twice", name);
        return;
    }
    cfo_finding_branch *b = cfo_finding_branch_get(f, name, true);
    b->open = strcmp(state->u.string, "open") == 0;
    if (detail == NULL || !YAJL_IS_OBJECT(detail)) {
        bad(rd, "'history' has no entry for branch '%s'", name);
        return;
    }
    yajl_val last = member(detail, "last");
    if (last == NULL || !YAJL_IS_OBJECT(last)) {
        bad(rd, "history of branch '%s' has no 'last'", name);
        return;
    }
    b->last_commit = str_member(rd, last, "commit", true);
    b->last_ms = time_member(rd, last, "time");
    yajl_val fixed = member(detail, "fixed");
    if (fixed != NULL && YAJL_IS_OBJECT(fixed)) {
        b->fixed_commit = str_member(rd, fixed, "commit", true);
        b->last_bad = str_member(rd, fixed, "last_bad", true);
        b->fixed_ms = time_member(rd, fixed, "time");
    } else if (!b->open) {
        bad(rd, "branch '%s' is fixed without a 'fixed' entry in 'history'", name);
    }
}

static void finding_read(reader *rd, yajl_val o, cfo_findings *fs)
{
    if (!YAJL_IS_OBJECT(o)) {
        bad(rd, "must be an object");
        return;
    }
    char *id = str_member(rd, o, "id", true);
    if (id == NULL)
        return;
    if (cfo_findings_get(fs, id) != NULL) {
        bad(rd, "id '%s' is listed twice", id);
        free(id);
        return;
    }
    cfo_finding *f = cfo_findings_add(fs, id);
    free(id);
    f->fuzzer = str_member(rd, o, "fuzzer", true);
    f->target = str_member(rd, o, "target", true);
    f->kind = str_member(rd, o, "kind", true);
    f->signature = str_member(rd, o, "signature", false);
    f->crash_state = str_member(rd, o, "crash_state", false);
    f->title = str_member(rd, o, "title", true);
    f->bundle = str_member(rd, o, "bundle", false);
    f->location = str_member(rd, o, "location", false);
    char *state = str_member(rd, o, "state", true);
    if (state != NULL && strcmp(state, "open") != 0 && strcmp(state, "fixed") != 0)
        bad(rd, "'state' must be \"open\" or \"fixed\"");
    f->open = state == NULL || strcmp(state, "open") == 0;
    free(state);
    sighting_read(rd, member(o, "first"), "first", &f->first, NULL);
    sighting_read(rd, member(o, "last"), "last", &f->last, NULL);
    yajl_val fixed = member(o, "fixed");
    if (fixed != NULL && !YAJL_IS_NULL(fixed)) {
        f->has_fixed = true;
        sighting_read(rd, fixed, "fixed", &f->fixed, &f->fixed_last_bad);
    } else if (!f->open) {
        bad(rd, "a fixed finding needs 'fixed'");
    }
    yajl_val reg = member(o, "regressed");
    if (reg != NULL && (!YAJL_IS_INTEGER(reg) || YAJL_GET_INTEGER(reg) < 0))
        bad(rd, "'regressed' must be a count");
    f->regressed = reg != NULL && YAJL_IS_INTEGER(reg) ? YAJL_GET_INTEGER(reg) : 0;
    yajl_val br = member(o, "branches");
    yajl_val hist = member(o, "history");
    if (br == NULL || !YAJL_IS_OBJECT(br) || br->u.object.len == 0 ||
        br->u.object.len > CFO_FINDING_MAX_BRANCHES) {
        bad(rd, "'branches' must be an object naming 1..%d branches", CFO_FINDING_MAX_BRANCHES);
        return;
    }
    for (size_t i = 0; i < br->u.object.len && rd->err == CFO_OK; i++) {
        const char *name = br->u.object.keys[i];
        branch_read(rd, f, name, br->u.object.values[i],
                    hist && YAJL_IS_OBJECT(hist) ? member(hist, name) : NULL);
    }
}

cfo_err cfo_findings_parse(const char *json, size_t len, const char *name, cfo_findings *fs,
                           cfo_diag *d)
{
    if (len > CFO_FINDINGS_MAX_JSON)
        return cfo_diag_set(d, CFO_ELIMIT, "%s: 'findings' is larger than %zu bytes", name,
                            CFO_FINDINGS_MAX_JSON);
    if (!cfo_json_depth_ok(json, len, 8))
        return cfo_diag_set(d, CFO_EPARSE, "%s: 'findings' is nested too deep", name);
    char *text = cfo_xstrndup(json, len);
    char err[256] = "";
    yajl_val root = yajl_tree_parse(text, err, sizeof err);
    free(text);
    if (root == NULL || !YAJL_IS_ARRAY(root)) {
        yajl_tree_free(root);
        return cfo_diag_set(d, CFO_EPARSE, "%s: 'findings' must be an array%s%s", name,
                            err[0] ? ": " : "", err);
    }
    if (root->u.array.len > CFO_FINDINGS_MAX) {
        yajl_tree_free(root);
        return cfo_diag_set(d, CFO_ELIMIT, "%s: more than %d findings", name, CFO_FINDINGS_MAX);
    }
    reader rd = {.name = name, .d = d, .err = CFO_OK};
    size_t n0 = fs->n;
    for (size_t i = 0; i < root->u.array.len && rd.err == CFO_OK; i++) {
        rd.index = i;
        finding_read(&rd, root->u.array.values[i], fs);
    }
    yajl_tree_free(root);
    if (rd.err != CFO_OK) {
        while (fs->n > n0)
            finding_fini(&fs->v[--fs->n]);
        index_rebuild(fs);
        return rd.err;
    }
    cfo_findings_sort(fs);
    return CFO_OK;
}

/* ---- writing ---------------------------------------------------------------- */

static void gen_print(void *ctx, const char *s, size_t len)
{
    cfo_buf_append(ctx, s, len);
}

static void gen_sighting(yajl_gen g, const char *key, const cfo_sighting *s, const char *last_bad)
{
    cfo_json_key(g, key);
    yajl_gen_map_open(g);
    cfo_json_str(g, "commit", s->commit);
    cfo_json_str(g, "branch", s->branch);
    cfo_json_time(g, "time", s->time_ms);
    if (last_bad != NULL)
        cfo_json_str(g, "last_bad", last_bad);
    yajl_gen_map_close(g);
}

static void gen_finding(yajl_gen g, const cfo_finding *f)
{
    yajl_gen_map_open(g);
    cfo_json_str(g, "id", f->id);
    cfo_json_str(g, "fuzzer", f->fuzzer);
    cfo_json_str(g, "target", f->target);
    cfo_json_str(g, "kind", f->kind);
    cfo_json_str(g, "signature", f->signature);
    if (f->crash_state != NULL)
        cfo_json_str(g, "crash_state", f->crash_state);
    cfo_json_str(g, "title", f->title);
    cfo_json_str(g, "state", cfo_finding_state(f));
    gen_sighting(g, "first", &f->first, NULL);
    gen_sighting(g, "last", &f->last, NULL);
    if (f->has_fixed)
        gen_sighting(g, "fixed", &f->fixed, f->fixed_last_bad ? f->fixed_last_bad : "");
    else
        cfo_json_str(g, "fixed", NULL);
    cfo_json_key(g, "branches");
    yajl_gen_map_open(g);
    for (size_t i = 0; i < f->nbranches; i++)
        cfo_json_str(g, f->branches[i].branch, f->branches[i].open ? "open" : "fixed");
    yajl_gen_map_close(g);
    cfo_json_str(g, "bundle", f->bundle);
    if (f->location != NULL)
        cfo_json_str(g, "location", f->location);
    cfo_json_int(g, "regressed", f->regressed);
    /* Per branch, what the state above was decided from. */
    cfo_json_key(g, "history");
    yajl_gen_map_open(g);
    for (size_t i = 0; i < f->nbranches; i++) {
        const cfo_finding_branch *b = &f->branches[i];
        cfo_json_key(g, b->branch);
        yajl_gen_map_open(g);
        cfo_json_key(g, "last");
        yajl_gen_map_open(g);
        cfo_json_str(g, "commit", b->last_commit);
        cfo_json_time(g, "time", b->last_ms);
        yajl_gen_map_close(g);
        if (b->fixed_commit != NULL) {
            cfo_json_key(g, "fixed");
            yajl_gen_map_open(g);
            cfo_json_str(g, "commit", b->fixed_commit);
            cfo_json_str(g, "last_bad", b->last_bad);
            cfo_json_time(g, "time", b->fixed_ms);
            yajl_gen_map_close(g);
        }
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
}

void cfo_finding_write_json(const cfo_finding *f, cfo_buf *out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_config(g, yajl_gen_print_callback, gen_print, out);
    gen_finding(g, f);
    yajl_gen_free(g);
}

void cfo_findings_write(const cfo_findings *fs, cfo_buf *out)
{
    cfo_buf_puts(out, "[");
    for (size_t i = 0; i < fs->n; i++) {
        cfo_buf_puts(out, i ? ",\n" : "\n");
        cfo_finding_write_json(&fs->v[i], out);
    }
    cfo_buf_puts(out, fs->n ? "\n]" : "]");
}

/* ---- strategies ------------------------------------------------------------- */

void cfo_strategies_init(cfo_strategies *s)
{
    cfo_strv_init(&s->names);
    s->v = NULL;
}

void cfo_strategies_fini(cfo_strategies *s)
{
    cfo_strv_fini(&s->names);
    free(s->v);
    s->v = NULL;
}

void cfo_strategies_set(cfo_strategies *s, const char *name, cfo_merge_strategy m)
{
    size_t at = 0;
    while (at < s->names.n && strcmp(s->names.v[at], name) < 0)
        at++;
    if (at < s->names.n && strcmp(s->names.v[at], name) == 0) {
        s->v[at] = m;
        return;
    }
    cfo_strv_push(&s->names, name);
    s->v = cfo_xrealloc(s->v, s->names.n * sizeof *s->v);
    /* move the pushed name (and its slot) into sorted position */
    char *pushed = s->names.v[s->names.n - 1];
    memmove(&s->names.v[at + 1], &s->names.v[at], (s->names.n - 1 - at) * sizeof *s->names.v);
    memmove(&s->v[at + 1], &s->v[at], (s->names.n - 1 - at) * sizeof *s->v);
    s->names.v[at] = pushed;
    s->v[at] = m;
}

int cfo_strategies_get(const cfo_strategies *s, const char *name, cfo_merge_strategy *out)
{
    for (size_t i = 0; i < s->names.n; i++)
        if (strcmp(s->names.v[i], name) == 0) {
            *out = s->v[i];
            return 0;
        }
    return -1;
}

cfo_err cfo_strategies_parse(const char *json, size_t len, const char *name, cfo_strategies *s,
                             cfo_diag *d)
{
    if (len > CFO_FINDINGS_MAX_JSON || !cfo_json_depth_ok(json, len, 4))
        return cfo_diag_set(d, CFO_EPARSE, "%s: 'strategies' is too large or nested", name);
    char *text = cfo_xstrndup(json, len);
    yajl_val root = yajl_tree_parse(text, NULL, 0);
    free(text);
    cfo_err err = CFO_OK;
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        err = cfo_diag_set(d, CFO_EPARSE, "%s: 'strategies' must be an object", name);
        goto out;
    }
    for (size_t i = 0; i < root->u.object.len; i++) {
        yajl_val v = root->u.object.values[i];
        cfo_merge_strategy m;
        if (!YAJL_IS_STRING(v) || cfo_merge_parse(v->u.string, &m) != 0 ||
            root->u.object.keys[i][0] == '\0') {
            err = cfo_diag_set(d, CFO_EPARSE,
                               "%s: strategy of '%s' must be \"supersede\" or \"accumulate\"", name,
                               root->u.object.keys[i]);
            goto out;
        }
        cfo_strategies_set(s, root->u.object.keys[i], m);
    }
out:
    yajl_tree_free(root);
    return err;
}

void cfo_strategies_write(const cfo_strategies *s, cfo_buf *out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_config(g, yajl_gen_print_callback, gen_print, out);
    yajl_gen_map_open(g);
    for (size_t i = 0; i < s->names.n; i++)
        cfo_json_str(g, s->names.v[i], cfo_merge_name(s->v[i]));
    yajl_gen_map_close(g);
    yajl_gen_free(g);
}
