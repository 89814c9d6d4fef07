/* cfo_lifecycle.c -- records in, findings' state changes out. */
#include "cfo_lifecycle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "cfo_digest.h"
#include "cfo_json.h"
#include "cfo_log.h"

void cfo_finding_events_init(cfo_finding_events *ev)
{
    ev->kind = NULL;
    cfo_strv_init(&ev->ids);
}

void cfo_finding_events_fini(cfo_finding_events *ev)
{
    free(ev->kind);
    ev->kind = NULL;
    cfo_strv_fini(&ev->ids);
}

const char *cfo_finding_event_name(cfo_finding_event e)
{
    switch (e) {
    case CFO_FINDING_OPENED:
        return "opened";
    case CFO_FINDING_FIXED:
        return "fixed";
    case CFO_FINDING_REGRESSED:
        return "regressed";
    }
    return "?";
}

static void event(cfo_finding_events *ev, cfo_finding_event e, const char *id)
{
    if (ev == NULL)
        return;
    ev->kind = cfo_xrealloc(ev->kind, (ev->ids.n + 1) * sizeof *ev->kind);
    ev->kind[ev->ids.n] = e;
    cfo_strv_push(&ev->ids, id);
}

/* ---- one observation ------------------------------------------------------ */

/* What a record says about one finding. */
typedef struct observation {
    const cfo_record *r;
    const char *id;
    const char *kind;
    const char *signature;   /* hash; NULL for fail */
    const char *crash_state; /* text; NULL for fail */
    const char *bundle;
    const char *location;
    bool engine;
} observation;

static void set_sighting(cfo_sighting *s, const cfo_record *r)
{
    free(s->commit);
    free(s->branch);
    s->commit = cfo_xstrdup(r->commit);
    s->branch = cfo_xstrdup(r->branch);
    s->time_ms = r->time_ms;
}

/* "out-of-bounds-read in a < b < c" from "crash:out-of-bounds-read:a|b|c". */
static char *title_of(const observation *o)
{
    if (o->crash_state == NULL)
        return cfo_xasprintf("%s fails on %s", o->r->fuzzer, o->r->target);
    const char *type = strchr(o->crash_state, ':');
    type = type ? type + 1 : o->crash_state;
    const char *frames = strchr(type, ':');
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_buf_append(&b, type, frames ? (size_t)(frames - type) : strlen(type));
    if (frames != NULL && frames[1] != '\0') {
        cfo_buf_puts(&b, " in ");
        for (const char *p = frames + 1; *p; p++) {
            if (*p == '|')
                cfo_buf_puts(&b, " < ");
            else
                cfo_buf_append(&b, p, 1);
        }
    }
    return cfo_buf_steal(&b);
}

static bool any_open(const cfo_finding *f)
{
    for (size_t i = 0; i < f->nbranches; i++)
        if (f->branches[i].open)
            return true;
    return false;
}

static void seen(cfo_findings *fs, const observation *o, cfo_finding_events *ev)
{
    const cfo_record *r = o->r;
    cfo_finding *f = cfo_findings_get(fs, o->id);
    if (f == NULL) {
        f = cfo_findings_add(fs, o->id);
        f->fuzzer = cfo_xstrdup(r->fuzzer);
        f->target = cfo_xstrdup(r->target);
        f->kind = cfo_xstrdup(o->kind);
        f->signature = o->signature ? cfo_xstrdup(o->signature) : NULL;
        f->crash_state = o->crash_state ? cfo_xstrdup(o->crash_state) : NULL;
        f->title = title_of(o);
        set_sighting(&f->first, r);
        set_sighting(&f->last, r);
        event(ev, CFO_FINDING_OPENED, o->id);
    }
    if (f->bundle == NULL && o->bundle != NULL)
        f->bundle = cfo_xstrdup(o->bundle);
    if (f->location == NULL && o->location != NULL)
        f->location = cfo_xstrdup(o->location);
    if (r->time_ms < f->first.time_ms)
        set_sighting(&f->first, r);
    if (r->time_ms > f->last.time_ms)
        set_sighting(&f->last, r);
    cfo_finding_branch *b = cfo_finding_branch_get(f, r->branch, true);
    if (b->last_commit == NULL || r->time_ms > b->last_ms) {
        /* a sighting older than the branch's fix is history, not a regression */
        bool reopen = !b->open && r->time_ms > b->fixed_ms;
        if (b->last_commit == NULL || b->open || reopen) {
            free(b->last_commit);
            b->last_commit = cfo_xstrdup(r->commit);
            b->last_ms = r->time_ms;
        }
        if (reopen) {
            b->open = true;
            free(b->fixed_commit);
            free(b->last_bad);
            b->fixed_commit = b->last_bad = NULL;
            b->fixed_ms = 0;
        }
    }
    if (!f->open && any_open(f)) {
        f->open = true;
        f->has_fixed = false;
        free(f->fixed.commit);
        free(f->fixed.branch);
        free(f->fixed_last_bad);
        memset(&f->fixed, 0, sizeof f->fixed);
        f->fixed_last_bad = NULL;
        f->regressed++;
        event(ev, CFO_FINDING_REGRESSED, o->id);
    }
}

static void cleared(cfo_findings *fs, const observation *o, cfo_finding_events *ev)
{
    const cfo_record *r = o->r;
    cfo_finding *f = cfo_findings_get(fs, o->id);
    cfo_finding_branch *b = f ? cfo_finding_branch_get(f, r->branch, false) : NULL;
    if (b == NULL || !b->open || r->time_ms <= b->last_ms)
        return;
    /* An engine finding seen on this very commit is still there: a replay
     * that missed it is flaky, not a fix. (Drift happens outside git, so a
     * `fail` finding can be fixed on the commit it was seen on.) */
    if (o->engine && strcmp(b->last_commit, r->commit) == 0)
        return;
    b->open = false;
    b->fixed_commit = cfo_xstrdup(r->commit);
    b->last_bad = cfo_xstrdup(b->last_commit);
    b->fixed_ms = r->time_ms;
    if (f->open && !any_open(f)) {
        f->open = false;
        f->has_fixed = true;
        set_sighting(&f->fixed, r);
        free(f->fixed_last_bad);
        f->fixed_last_bad = cfo_xstrdup(b->last_bad);
        event(ev, CFO_FINDING_FIXED, o->id);
    }
}

/* ---- records -------------------------------------------------------------- */

/* The id of the finding of signature sig in r's target: one bug is one
 * finding whichever engine shows it (signatures are engine-neutral), so a
 * finding another engine opened for the target is this one too; else
 * FUZZER/TARGET/SIGHASH. */
static char *engine_id(cfo_findings *fs, const cfo_record *r, const char *sig, const char *hash)
{
    for (size_t i = 0; i < fs->n; i++) {
        const cfo_finding *f = &fs->v[i];
        if (f->crash_state != NULL && strcmp(f->crash_state, sig) == 0 &&
            strcmp(f->target, r->target) == 0)
            return cfo_xstrdup(f->id);
    }
    return cfo_xasprintf("%s/%s/%s", r->fuzzer, r->target, hash);
}

/* Each signature an engine record names. */
static void apply_engine(cfo_findings *fs, const cfo_record *r, cfo_finding_events *ev)
{
    if (!cfo_json_depth_ok(r->crashes, strlen(r->crashes), 4))
        return;
    yajl_val root = yajl_tree_parse(r->crashes, NULL, 0);
    if (root == NULL || !YAJL_IS_ARRAY(root)) {
        yajl_tree_free(root);
        return;
    }
    for (size_t i = 0; i < root->u.array.len; i++) {
        yajl_val c = root->u.array.values[i];
        const char *sig = cfo_json_member_str(c, "signature");
        const char *kind = cfo_json_member_str(c, "kind");
        if (sig == NULL || kind == NULL || sig[0] == '\0')
            continue;
        char h[65];
        cfo_sha256_hex(sig, strlen(sig), h);
        h[16] = '\0';
        char *id = engine_id(fs, r, sig, h);
        observation o = {.r = r,
                         .id = id,
                         .kind = kind,
                         .signature = h,
                         .crash_state = sig,
                         .bundle = cfo_json_member_str(c, "bundle"),
                         .location = cfo_json_member_str(c, "location"),
                         .engine = true};
        if (cfo_json_member_true(c, "replay") && !cfo_json_member_true(c, "reproduced"))
            cleared(fs, &o, ev);
        else
            seen(fs, &o, ev);
        free(id);
    }
    yajl_tree_free(root);
}

static void apply_one(cfo_findings *fs, const cfo_record *r, const cfo_config *config,
                      cfo_finding_events *ev)
{
    if (!r->has_time || r->status == CFO_STATUS_ERROR || r->status == CFO_STATUS_CANCELLED)
        return;
    const cfo_fuzzer *fz = config ? cfo_config_find(config, r->fuzzer) : NULL;
    if (fz != NULL && fz->kind == CFO_KIND_CANARY)
        return;
    if (r->crashes != NULL) {
        apply_engine(fs, r, ev);
        return;
    }
    char *id = cfo_xasprintf("%s/%s", r->fuzzer, r->target);
    observation o = {.r = r, .id = id, .kind = "fail"};
    if (r->ok)
        cleared(fs, &o, ev);
    else
        seen(fs, &o, ev);
    free(id);
}

static int by_time(const void *a, const void *b)
{
    const cfo_record *x = *(const cfo_record *const *)a, *y = *(const cfo_record *const *)b;
    if (x->time_ms != y->time_ms)
        return x->time_ms < y->time_ms ? -1 : 1;
    return cfo_record_cmp_all(x, y);
}

/* Orders records by the merge's rule-1 key (run, fuzzer, branch, target,
 * commit, attempt; every field for records without a run). Strings of one
 * set are interned, so they are compared by address: the order only serves
 * to find equal keys. */
static int pcmp(const void *a, const void *b)
{
    return a == b ? 0 : ((uintptr_t)a < (uintptr_t)b ? -1 : 1);
}

static int key_cmp(const cfo_record *a, const cfo_record *b)
{
    int c;
    if ((c = pcmp(a->run, b->run)) != 0)
        return c;
    if (a->run == NULL)
        return cfo_record_cmp_all(a, b);
    if ((c = pcmp(a->fuzzer, b->fuzzer)) != 0 || (c = pcmp(a->branch, b->branch)) != 0 ||
        (c = pcmp(a->target, b->target)) != 0 || (c = pcmp(a->commit, b->commit)) != 0)
        return c;
    return a->attempt == b->attempt ? 0 : (a->attempt < b->attempt ? -1 : 1);
}

static int key_cmp_p(const void *a, const void *b)
{
    return key_cmp(*(const cfo_record *const *)a, *(const cfo_record *const *)b);
}

/* Drops from v[0..n) the fresh records the old ones already hold (the same
 * result delivered twice), so a record the dataset has seen moves nothing
 * again, not even a fixed finding that has since left the window. Returns
 * the new n. */
static size_t drop_seen(const cfo_recset *rs, const cfo_record **v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, key_cmp_p);
    bool *dup = cfo_xcalloc(n, sizeof *dup);
    for (size_t j = 0; j < rs->n; j++) {
        const cfo_record *o = &rs->v[j];
        if (o->fresh)
            continue;
        const cfo_record *key = o;
        const cfo_record **hit = bsearch(&key, v, n, sizeof *v, key_cmp_p);
        if (hit == NULL)
            continue;
        /* mark every fresh record of that key */
        size_t at = (size_t)(hit - v);
        for (size_t i = at; i < n && key_cmp(v[i], o) == 0; i++)
            dup[i] = true;
        for (size_t i = at; i-- > 0 && key_cmp(v[i], o) == 0;)
            dup[i] = true;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!dup[i])
            v[m++] = v[i];
    free(dup);
    return m;
}

void cfo_lifecycle_apply(cfo_findings *fs, const cfo_recset *rs, const cfo_config *config,
                         cfo_finding_events *ev)
{
    size_t n = 0;
    const cfo_record **v = cfo_xcalloc(rs->n + 1, sizeof *v);
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].fresh)
            v[n++] = &rs->v[i];
    n = drop_seen(rs, v, n);
    qsort(v, n, sizeof *v, by_time);
    for (size_t i = 0; i < n; i++)
        apply_one(fs, v[i], config, ev);
    free(v);
    cfo_findings_sort(fs);
}

/* Whether a fixed finding's fix is still among the records; ctx: the
 * sorted commits of the records. */
static bool fix_in_window(const cfo_finding *f, const void *commits)
{
    return f->open || !f->has_fixed || cfo_strv_sorted_has(commits, f->fixed.commit);
}

/* The order a full list gives findings up in: fixed before open, then the
 * one seen longest ago first. */
static int give_up_order(const void *pa, const void *pb)
{
    const cfo_finding *a = *(const cfo_finding *const *)pa, *b = *(const cfo_finding *const *)pb;
    if (a->open != b->open)
        return a->open ? 1 : -1;
    if (a->last.time_ms != b->last.time_ms)
        return a->last.time_ms < b->last.time_ms ? -1 : 1;
    return strcmp(a->id, b->id);
}

static bool not_given_up(const cfo_finding *f, const void *cut)
{
    return give_up_order(&f, cut) > 0;
}

/* Keeps at most max findings, so the document stays one its reader takes. */
static void bound(cfo_findings *fs, size_t max)
{
    if (fs->n <= max)
        return;
    const cfo_finding **order = cfo_xcalloc(fs->n, sizeof *order);
    for (size_t i = 0; i < fs->n; i++)
        order[i] = &fs->v[i];
    qsort(order, fs->n, sizeof *order, give_up_order);
    size_t drop = fs->n - max, open = 0;
    for (size_t i = 0; i < drop; i++)
        open += order[i]->open;
    /* The last one given up decides (ids are unique: the order is total).
     * A copy of what the order reads, as the filter frees it on its way. */
    cfo_finding cut = {.open = order[drop - 1]->open,
                       .last = {.time_ms = order[drop - 1]->last.time_ms}};
    cut.id = cfo_xstrdup(order[drop - 1]->id);
    const cfo_finding *cutp = &cut;
    free(order);
    cfo_findings_filter(fs, not_given_up, &cutp);
    free(cut.id);
    cfo_warn("findings: more than %zu; left out %zu fixed and %zu open one(s), those seen "
             "longest ago",
             max, drop - open, open);
}

void cfo_lifecycle_window(cfo_findings *fs, const cfo_recset *rs)
{
    cfo_strv commits;
    cfo_strv_init(&commits);
    for (size_t i = 0; i < rs->n; i++)
        cfo_strv_push(&commits, rs->v[i].commit);
    cfo_strv_sort(&commits);
    cfo_findings_filter(fs, fix_in_window, &commits);
    cfo_strv_fini(&commits);
    bound(fs, CFO_FINDINGS_MAX);
}

/* ---- merging two lists ------------------------------------------------------ */

static void take_str(char **dst, const char *src)
{
    free(*dst);
    *dst = src ? cfo_xstrdup(src) : NULL;
}

static void merge_branch(cfo_finding_branch *a, const cfo_finding_branch *b)
{
    if (b->last_ms > a->last_ms ||
        (b->last_ms == a->last_ms && cfo_strcmp0(b->last_commit, a->last_commit) > 0)) {
        take_str(&a->last_commit, b->last_commit);
        a->last_ms = b->last_ms;
    }
    if (b->fixed_commit != NULL &&
        (a->fixed_commit == NULL || b->fixed_ms > a->fixed_ms ||
         (b->fixed_ms == a->fixed_ms && strcmp(b->fixed_commit, a->fixed_commit) > 0))) {
        take_str(&a->fixed_commit, b->fixed_commit);
        take_str(&a->last_bad, b->last_bad);
        a->fixed_ms = b->fixed_ms;
    }
    a->open = a->fixed_commit == NULL || a->last_ms > a->fixed_ms;
}

/* The latest branch fix of f, or NULL. */
static const cfo_finding_branch *latest_fix(const cfo_finding *f)
{
    const cfo_finding_branch *best = NULL;
    for (size_t i = 0; i < f->nbranches; i++) {
        const cfo_finding_branch *b = &f->branches[i];
        if (b->fixed_commit != NULL && (best == NULL || b->fixed_ms > best->fixed_ms))
            best = b;
    }
    return best;
}

static void sighting_take(cfo_sighting *dst, const cfo_sighting *src)
{
    take_str(&dst->commit, src->commit);
    take_str(&dst->branch, src->branch);
    dst->time_ms = src->time_ms;
}

static void merge_one(cfo_finding *a, const cfo_finding *b)
{
    if (b->first.time_ms < a->first.time_ms ||
        (b->first.time_ms == a->first.time_ms && cfo_strcmp0(b->first.commit, a->first.commit) < 0))
        sighting_take(&a->first, &b->first);
    if (b->last.time_ms > a->last.time_ms ||
        (b->last.time_ms == a->last.time_ms && cfo_strcmp0(b->last.commit, a->last.commit) > 0))
        sighting_take(&a->last, &b->last);
    if (a->bundle == NULL && b->bundle != NULL)
        a->bundle = cfo_xstrdup(b->bundle);
    if (a->location == NULL && b->location != NULL)
        a->location = cfo_xstrdup(b->location);
    if (b->regressed > a->regressed)
        a->regressed = b->regressed;
    for (size_t i = 0; i < b->nbranches; i++) {
        const cfo_finding_branch *bb = &b->branches[i];
        cfo_finding_branch *ab = cfo_finding_branch_get(a, bb->branch, false);
        if (ab == NULL) {
            ab = cfo_finding_branch_get(a, bb->branch, true);
            take_str(&ab->last_commit, bb->last_commit);
            ab->last_ms = bb->last_ms;
            take_str(&ab->fixed_commit, bb->fixed_commit);
            take_str(&ab->last_bad, bb->last_bad);
            ab->fixed_ms = bb->fixed_ms;
            ab->open = bb->open;
        } else {
            merge_branch(ab, bb);
        }
    }
    a->open = any_open(a);
    const cfo_finding_branch *fix = a->open ? NULL : latest_fix(a);
    a->has_fixed = fix != NULL;
    if (fix != NULL) {
        take_str(&a->fixed.commit, fix->fixed_commit);
        take_str(&a->fixed.branch, fix->branch);
        a->fixed.time_ms = fix->fixed_ms;
        take_str(&a->fixed_last_bad, fix->last_bad);
    } else {
        take_str(&a->fixed.commit, NULL);
        take_str(&a->fixed.branch, NULL);
        take_str(&a->fixed_last_bad, NULL);
        a->fixed.time_ms = 0;
    }
}

void cfo_lifecycle_merge(cfo_findings *fs, const cfo_findings *other)
{
    for (size_t i = 0; i < other->n; i++) {
        cfo_finding *a = cfo_findings_get(fs, other->v[i].id);
        if (a == NULL)
            cfo_findings_add_copy(fs, &other->v[i]);
        else
            merge_one(a, &other->v[i]);
    }
    cfo_findings_sort(fs);
}

void cfo_finding_events_json(const cfo_finding_events *ev, const cfo_findings *fs, cfo_buf *out)
{
    for (size_t i = 0; i < ev->ids.n; i++) {
        const cfo_finding *f = cfo_findings_get((cfo_findings *)fs, ev->ids.v[i]);
        if (f == NULL)
            continue;
        cfo_buf_printf(out, "{\"event\":\"%s\",\"finding\":", cfo_finding_event_name(ev->kind[i]));
        cfo_finding_write_json(f, out);
        cfo_buf_puts(out, "}\n");
    }
}
