/* cfo_priority.c -- history-aware task order. */
#include "cfo_priority.h"

#include <stdlib.h>
#include <string.h>

#include "cfo_merge.h"
#include "cfo_recindex.h"
#include "cfo_util.h"

const char *const cfo_schedule_names[] = {"history", "fifo", NULL};

int cfo_schedule_parse(const char *name, cfo_schedule *out)
{
    for (int i = 0; cfo_schedule_names[i] != NULL; i++) {
        if (strcmp(name, cfo_schedule_names[i]) == 0) {
            *out = (cfo_schedule)i;
            return 0;
        }
    }
    return -1;
}

static bool keep_history(const cfo_record *r, void *arg)
{
    (void)arg;
    return r->status != CFO_STATUS_CANCELLED;
}

/* A target is the same target on any commit of its branch. */
static cfo_priority_info info_of(const cfo_recindex *h, const cfo_task *t)
{
    cfo_priority_info info = {.klass = CFO_PRIORITY_NEW, .expected = 0};
    size_t first;
    size_t count = cfo_recindex_find(h, t->fuzzer->name, t->target, &first);
    const cfo_record *newest = NULL;
    double total = 0;
    size_t n = 0;
    for (size_t i = first; i < first + count; i++) {
        const cfo_record *r = h->v[i];
        if (strcmp(r->branch, t->branch) != 0)
            continue;
        total += r->duration;
        n++;
        if (newest == NULL || cfo_record_cmp_newer(r, newest) > 0)
            newest = r;
    }
    if (n == 0)
        return info;
    info.expected = total / (double)n;
    info.klass = newest->ok ? CFO_PRIORITY_KNOWN : CFO_PRIORITY_FAILING;
    return info;
}

void cfo_priority_classify(const cfo_taskset *ts, const cfo_recset *prior, cfo_priority_info *info)
{
    cfo_recindex h;
    cfo_recindex_build(&h, prior, keep_history, NULL);
    for (size_t i = 0; i < ts->n; i++)
        info[i] = info_of(&h, &ts->v[i]);
    cfo_recindex_fini(&h);
}

typedef struct ranked {
    cfo_task task;
    cfo_priority_info info;
    size_t order; /* generation order, for ties */
} ranked;

static int ranked_cmp(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->info.klass != b->info.klass)
        return a->info.klass < b->info.klass ? -1 : 1;
    if (a->info.expected != b->info.expected)
        return a->info.expected > b->info.expected ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

void cfo_prioritize(cfo_taskset *ts, const cfo_recset *prior)
{
    if (ts->n < 2)
        return;
    cfo_priority_info *info = cfo_xcalloc(ts->n, sizeof *info);
    cfo_priority_classify(ts, prior, info);
    ranked *r = cfo_xcalloc(ts->n, sizeof *r);
    for (size_t i = 0; i < ts->n; i++)
        r[i] = (ranked){.task = ts->v[i], .info = info[i], .order = i};
    qsort(r, ts->n, sizeof *r, ranked_cmp);
    for (size_t i = 0; i < ts->n; i++) {
        ts->v[i] = r[i].task;
        ts->v[i].id = i;
    }
    free(r);
    free(info);
}

double cfo_list_makespan(const double *durations, size_t n, size_t slots)
{
    if (slots == 0)
        return 0;
    double *free_at = cfo_xcalloc(slots, sizeof *free_at);
    double makespan = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        for (size_t j = 1; j < slots; j++)
            if (free_at[j] < free_at[k])
                k = j;
        free_at[k] += durations[i];
        if (free_at[k] > makespan)
            makespan = free_at[k];
    }
    free(free_at);
    return makespan;
}
