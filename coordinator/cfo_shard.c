/* cfo_shard.c -- dividing a run's tasks among N runners. */
#include "cfo_shard.h"

#include <stdlib.h>
#include <string.h>

#include "cfo_recindex.h"

static cfo_err parse_auto(cfo_shard *out, cfo_diag *d)
{
    const char *index = getenv("CIRCLE_NODE_INDEX"), *total = getenv("CIRCLE_NODE_TOTAL");
    if (index == NULL || total == NULL || index[0] == '\0' || total[0] == '\0')
        return cfo_diag_set(d, CFO_EINVAL,
                            "--shard auto needs CIRCLE_NODE_INDEX and CIRCLE_NODE_TOTAL "
                            "(CircleCI's parallelism); elsewhere give --shard K/N");
    int64_t n, i;
    if (cfo_parse_int(total, 1, CFO_SHARD_MAX, &n, d) != CFO_OK) {
        cfo_diag_prefix(d, "CIRCLE_NODE_TOTAL");
        return CFO_EINVAL;
    }
    if (cfo_parse_int(index, 0, n - 1, &i, d) != CFO_OK) {
        cfo_diag_prefix(d, "CIRCLE_NODE_INDEX");
        return CFO_EINVAL;
    }
    *out = (cfo_shard){.k = (uint32_t)i + 1, .n = (uint32_t)n};
    return CFO_OK;
}

cfo_err cfo_shard_parse(const char *spec, cfo_shard *out, cfo_diag *d)
{
    if (strcmp(spec, "auto") == 0)
        return parse_auto(out, d);
    const char *slash = strchr(spec, '/');
    if (slash == NULL || slash == spec || slash[1] == '\0' || (size_t)(slash - spec) > 16)
        return cfo_diag_set(d, CFO_EINVAL,
                            "--shard is K/N (runner K of N, from 1) or auto, not '%s'", spec);
    char k_text[17];
    memcpy(k_text, spec, (size_t)(slash - spec));
    k_text[slash - spec] = '\0';
    int64_t k, n;
    if (cfo_parse_int(slash + 1, 1, CFO_SHARD_MAX, &n, d) != CFO_OK ||
        cfo_parse_int(k_text, 1, n, &k, d) != CFO_OK) {
        cfo_diag_prefix(d, "--shard %s (K/N with 1 <= K <= N <= %d)", spec, CFO_SHARD_MAX);
        return CFO_EINVAL;
    }
    *out = (cfo_shard){.k = (uint32_t)k, .n = (uint32_t)n};
    return CFO_OK;
}

typedef struct tested {
    const cfo_taskset *ts;
} tested;

/* Records on the commits this set tests are left out: the shards of the
 * run write there, one after another or at once. */
static bool keep_untested(const cfo_record *r, void *arg)
{
    const tested *t = arg;
    if (r->status == CFO_STATUS_CANCELLED)
        return false;
    for (size_t i = 0; i < t->ts->n; i++)
        if (strcmp(t->ts->v[i].commit, r->commit) == 0)
            return false;
    return true;
}

void cfo_shard_expected(const cfo_taskset *ts, const cfo_recset *prior, double *expected)
{
    /* The tested commits are few (one per branch): the filter's scan over
     * them costs less than a set. */
    tested arg = {ts};
    cfo_recindex h;
    cfo_recindex_build(&h, prior, keep_untested, &arg);
    double known_total = 0;
    size_t known = 0;
    for (size_t i = 0; i < ts->n; i++) {
        const cfo_task *t = &ts->v[i];
        size_t first, count = cfo_recindex_find(&h, t->fuzzer->name, t->target, &first);
        double total = 0;
        size_t n = 0;
        for (size_t j = first; j < first + count; j++) {
            if (strcmp(h.v[j]->branch, t->branch) != 0)
                continue;
            total += h.v[j]->duration;
            n++;
        }
        expected[i] = n ? total / (double)n : -1;
        if (n) {
            known_total += expected[i];
            known++;
        }
    }
    double fallback = known ? known_total / (double)known : 1.0;
    for (size_t i = 0; i < ts->n; i++)
        if (expected[i] < 0)
            expected[i] = fallback;
    cfo_recindex_fini(&h);
}

typedef struct weighed {
    const cfo_task *task;
    double expected;
    size_t index;
} weighed;

static int weighed_cmp(const void *pa, const void *pb)
{
    const weighed *a = pa, *b = pb;
    if (a->expected != b->expected)
        return a->expected > b->expected ? -1 : 1;
    int c = strcmp(a->task->fuzzer->name, b->task->fuzzer->name);
    if (c == 0)
        c = strcmp(a->task->branch, b->task->branch);
    if (c == 0)
        c = strcmp(a->task->target, b->task->target);
    if (c == 0)
        c = strcmp(a->task->commit, b->task->commit);
    return c;
}

void cfo_shard_assign(const cfo_taskset *ts, const double *expected, uint32_t n, uint32_t *owner)
{
    double *load = cfo_xcalloc(n, sizeof *load);
    weighed *w = cfo_xcalloc(ts->n ? ts->n : 1, sizeof *w);
    size_t nw = 0;
    for (size_t i = 0; i < ts->n; i++) {
        if (ts->v[i].fuzzer->kind == CFO_KIND_CANARY) {
            owner[i] = 1;
            load[0] += expected[i];
        } else {
            w[nw++] = (weighed){&ts->v[i], expected[i], i};
        }
    }
    qsort(w, nw, sizeof *w, weighed_cmp);
    for (size_t i = 0; i < nw; i++) {
        uint32_t best = 0;
        for (uint32_t s = 1; s < n; s++)
            if (load[s] < load[best])
                best = s;
        load[best] += w[i].expected;
        owner[w[i].index] = best + 1;
    }
    free(w);
    free(load);
}

static void task_free(cfo_task *t)
{
    free(t->branch);
    free(t->commit);
    free(t->target);
}

void cfo_shard_select(cfo_taskset *ts, const cfo_recset *prior, const cfo_shard *s, double *share_s,
                      double *total_s)
{
    size_t cap = ts->n ? ts->n : 1;
    double *expected = cfo_xcalloc(cap, sizeof *expected);
    uint32_t *owner = cfo_xcalloc(cap, sizeof *owner);
    cfo_shard_expected(ts, prior, expected);
    cfo_shard_assign(ts, expected, s->n, owner);
    double share = 0, total = 0;
    size_t kept = 0;
    for (size_t i = 0; i < ts->n; i++) {
        total += expected[i];
        bool mine = owner[i] == s->k;
        if (mine)
            share += expected[i];
        if (mine && ts->v[i].passed)
            ts->skipped++;
        if (!mine || ts->v[i].passed) {
            task_free(&ts->v[i]);
            continue;
        }
        ts->v[kept] = ts->v[i];
        ts->v[kept].id = kept;
        kept++;
    }
    ts->n = kept;
    if (share_s != NULL)
        *share_s = share;
    if (total_s != NULL)
        *total_s = total;
    free(owner);
    free(expected);
}
