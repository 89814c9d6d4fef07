/* cfo_budget.c -- dividing a time-filling fuzzer's share among its targets. */
#include "cfo_budget.h"

#include <stdlib.h>
#include <string.h>

#include "cfo_recindex.h"
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

/* The fuzzers being allocated for, each once. */
typedef struct fuzzer_names {
    const char **v;
    size_t n;
} fuzzer_names;

/* Records of those fuzzers that found something: the only ones a yield
 * counts. */
static bool keep_yield(const cfo_record *r, void *arg)
{
    const fuzzer_names *names = arg;
    if (r->status == CFO_STATUS_CANCELLED || r->findings <= 0)
        return false;
    for (size_t k = 0; k < names->n; k++)
        if (strcmp(names->v[k], r->fuzzer) == 0)
            return true;
    return false;
}

static void index_build(cfo_recindex *ix, const cfo_recset *prior, const cfo_taskset *ts,
                        const bool *counted)
{
    fuzzer_names names = {cfo_xcalloc(ts->n + 1, sizeof *names.v), 0};
    for (size_t t = 0; t < ts->n; t++) {
        size_t k = 0;
        while (counted[t] && k < names.n && strcmp(names.v[k], ts->v[t].fuzzer->name) != 0)
            k++;
        if (counted[t] && k == names.n)
            names.v[names.n++] = ts->v[t].fuzzer->name;
    }
    cfo_recindex_build(ix, prior, keep_yield, &names);
    free(names.v);
}

static int64_t index_yield(const cfo_recindex *ix, const cfo_task *t)
{
    size_t first;
    size_t n = cfo_recindex_find(ix, t->fuzzer->name, t->target, &first);
    int64_t sum = 0;
    for (size_t i = first; i < first + n; i++) {
        const cfo_record *r = ix->v[i];
        if (strcmp(r->branch, t->branch) == 0)
            sum = r->findings > INT64_MAX - sum ? INT64_MAX : sum + r->findings;
    }
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
    cfo_recindex ix;
    index_build(&ix, prior, ts, counted);
    for (size_t i = 0; i < ts->n; i++)
        if (counted[i])
            weight[i] = 1.0 + (double)index_yield(&ix, &ts->v[i]);
    cfo_recindex_fini(&ix);
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
                     "target%s)",
                     f->name, ts->v[j].branch, ts->v[j].target,
                     (double)(ts->v[j].timeout_ms - f->triage_time_ms) / 1000.0, weight[j] - 1,
                     f->budget_share, n, cfo_plural(n));
            done[j] = true;
        }
    }
    free(weight);
    free(done);
}
