/* cfo_budget.c -- dividing a time-filling fuzzer's share among its targets. */
#include "cfo_budget.h"

#include <stdlib.h>
#include <string.h>

#include "cfo_log.h"
#include "cfo_util.h"

int64_t cfo_budget_yield(const cfo_recset *prior, const char *fuzzer, const char *branch,
                         const char *target)
{
    int64_t sum = 0;
    if (prior == NULL)
        return 0;
    for (size_t i = 0; i < prior->n; i++) {
        const cfo_record *r = &prior->v[i];
        if (r->status == CFO_STATUS_CANCELLED || strcmp(r->fuzzer, fuzzer) != 0 ||
            strcmp(r->branch, branch) != 0 || strcmp(r->target, target) != 0)
            continue;
        if (r->findings > INT64_MAX - sum)
            return INT64_MAX;
        sum += r->findings;
    }
    return sum;
}

/* Records of the fuzzers being allocated for, sorted by (fuzzer, branch,
 * target), so each task's yield is a binary search, not a scan of a
 * million records. */
typedef struct yield_index {
    const cfo_record **v;
    size_t n;
} yield_index;

static int key_cmp(const char *fa, const char *ba, const char *ta, const cfo_record *b)
{
    int c = strcmp(fa, b->fuzzer);
    if (c == 0)
        c = strcmp(ba, b->branch);
    if (c == 0)
        c = strcmp(ta, b->target);
    return c;
}

static int rec_cmp(const void *pa, const void *pb)
{
    const cfo_record *a = *(const cfo_record *const *)pa;
    return key_cmp(a->fuzzer, a->branch, a->target, *(const cfo_record *const *)pb);
}

static void index_build(yield_index *ix, const cfo_recset *prior, const cfo_taskset *ts,
                        const bool *counted)
{
    ix->n = 0;
    ix->v = cfo_xcalloc(prior ? prior->n + 1 : 1, sizeof *ix->v);
    /* The few fuzzers concerned, each once. */
    const char **names = cfo_xcalloc(ts->n, sizeof *names);
    size_t nnames = 0;
    for (size_t t = 0; t < ts->n; t++) {
        size_t k = 0;
        while (counted[t] && k < nnames && strcmp(names[k], ts->v[t].fuzzer->name) != 0)
            k++;
        if (counted[t] && k == nnames)
            names[nnames++] = ts->v[t].fuzzer->name;
    }
    for (size_t i = 0; prior != NULL && i < prior->n; i++) {
        const cfo_record *r = &prior->v[i];
        if (r->status == CFO_STATUS_CANCELLED || r->findings <= 0)
            continue;
        for (size_t k = 0; k < nnames; k++) {
            if (strcmp(names[k], r->fuzzer) == 0) {
                ix->v[ix->n++] = r;
                break;
            }
        }
    }
    free(names);
    qsort(ix->v, ix->n, sizeof *ix->v, rec_cmp);
}

static int64_t index_yield(const yield_index *ix, const cfo_task *t)
{
    const char *f = t->fuzzer->name;
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(f, t->branch, t->target, ix->v[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    int64_t sum = 0;
    for (size_t i = lo; i < ix->n && key_cmp(f, t->branch, t->target, ix->v[i]) == 0; i++)
        sum = ix->v[i]->findings > INT64_MAX - sum ? INT64_MAX : sum + ix->v[i]->findings;
    return sum;
}

bool cfo_budget_engine_fills_time(const cfo_fuzzer *f)
{
    return cfo_kind_is_engine(f->kind);
}

void cfo_budget_allocate(cfo_taskset *ts, const cfo_recset *prior, int64_t budget_ms,
                         uint32_t slots, cfo_fills_time_fn fills_time)
{
    if (ts->n == 0 || budget_ms <= 0 || slots == 0)
        return;
    /* Weights are 1 + yield: a target with nothing found yet still counts. */
    double *weight = cfo_xcalloc(ts->n, sizeof *weight);
    bool *done = cfo_xcalloc(ts->n, sizeof *done);
    bool *counted = cfo_xcalloc(ts->n, sizeof *counted);
    for (size_t i = 0; i < ts->n; i++) {
        const cfo_fuzzer *f = ts->v[i].fuzzer;
        counted[i] = f->budget_share > 0 && fills_time(f);
        done[i] = !counted[i];
    }
    yield_index ix;
    index_build(&ix, prior, ts, counted);
    for (size_t i = 0; i < ts->n; i++)
        if (counted[i])
            weight[i] = 1.0 + (double)index_yield(&ix, &ts->v[i]);
    free(ix.v);
    free(counted);
    for (size_t i = 0; i < ts->n; i++) {
        if (done[i])
            continue;
        const cfo_fuzzer *f = ts->v[i].fuzzer;
        size_t n = 0;
        double total = 0;
        for (size_t j = i; j < ts->n; j++) {
            if (!done[j] && ts->v[j].fuzzer == f) {
                n++;
                total += weight[j];
            }
        }
        double pool = (double)budget_ms * (double)slots * f->budget_share / 100.0;
        double floor_ms = pool / (double)n * CFO_BUDGET_FLOOR_PERCENT / 100.0;
        double rest = pool - floor_ms * (double)n;
        for (size_t j = i; j < ts->n; j++) {
            if (done[j] || ts->v[j].fuzzer != f)
                continue;
            double give = floor_ms + rest * weight[j] / total;
            int64_t ms = give < CFO_BUDGET_MIN_TASK_MS ? CFO_BUDGET_MIN_TASK_MS : (int64_t)give;
            int64_t timeout = ms + f->triage_time_ms;
            if (timeout < ts->v[j].timeout_ms)
                ts->v[j].timeout_ms = timeout;
            cfo_info("%s %s %s: %.0fs of fuzzing (yield %.0f, %d%% of the budget for %zu "
                     "target(s))",
                     f->name, ts->v[j].branch, ts->v[j].target,
                     (double)(ts->v[j].timeout_ms - f->triage_time_ms) / 1000.0, weight[j] - 1,
                     f->budget_share, n);
            done[j] = true;
        }
    }
    free(weight);
    free(done);
}
