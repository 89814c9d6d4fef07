/* cfo_merge.c -- the dataset merge: dedup, newest per key, supersede, window, order. */
#include "cfo_merge.h"

#include "cfo_findings.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "cfo_util.h"

cfo_merge_strategy cfo_merge_strategy_for(const cfo_merge_policy *policy, const char *fuzzer)
{
    if (policy == NULL || fuzzer == NULL)
        return CFO_MERGE_ACCUMULATE;
    if (policy->config == NULL) {
        cfo_merge_strategy m = CFO_MERGE_ACCUMULATE;
        if (policy->recorded != NULL)
            cfo_strategies_get(policy->recorded, fuzzer, &m);
        return m;
    }
    const cfo_fuzzer *f = cfo_config_find(policy->config, fuzzer);
    cfo_merge_strategy m = CFO_MERGE_ACCUMULATE;
    if (f != NULL)
        return f->merge;
    if (policy->recorded != NULL)
        cfo_strategies_get(policy->recorded, fuzzer, &m);
    return m;
}

/* Grouping needs equality only, and interned strings are equal exactly when
 * their pointers are, so the grouping sorts order strings by address: no
 * strcmp per comparison. Which record of a group survives is then decided by
 * value comparisons alone, so the result never depends on addresses. */
static int addr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return (x > y) - (x < y);
}

/* A record without a time is older than any record with one. */
static int time_cmp(const cfo_record *a, const cfo_record *b)
{
    if (a->has_time != b->has_time)
        return a->has_time ? 1 : -1;
    if (!a->has_time)
        return 0;
    return (a->time_ms > b->time_ms) - (a->time_ms < b->time_ms);
}

int cfo_record_cmp_newer(const cfo_record *a, const cfo_record *b)
{
    int c = time_cmp(a, b);
    if (c != 0)
        return c;
    if (a->attempt != b->attempt)
        return a->attempt > b->attempt ? 1 : -1;
    c = cfo_strcmp0(a->run, b->run);
    if (c != 0)
        return c;
    return cfo_record_cmp_all(a, b);
}

static bool same_target(const cfo_record *a, const cfo_record *b)
{
    return a->fuzzer == b->fuzzer && a->branch == b->branch && a->target == b->target;
}

static bool same_key(const cfo_record *a, const cfo_record *b)
{
    return same_target(a, b) && a->commit == b->commit;
}

/* Rule 1's notion of "the same result". */
static bool same_result(const cfo_record *a, const cfo_record *b)
{
    if (!same_key(a, b) || a->run != b->run || a->attempt != b->attempt)
        return false;
    return a->run != NULL || cfo_record_cmp_all(a, b) == 0;
}

/* (fuzzer, branch, target, commit) groups made contiguous for rules 2 and 3;
 * inside them each result's copies are adjacent, smallest first (rule 1). */
static int group_cmp(const void *pa, const void *pb)
{
    const cfo_record *a = *(const cfo_record *const *)pa;
    const cfo_record *b = *(const cfo_record *const *)pb;
    int c;
    if ((c = addr_cmp(a->fuzzer, b->fuzzer)) != 0 || (c = addr_cmp(a->branch, b->branch)) != 0 ||
        (c = addr_cmp(a->target, b->target)) != 0 || (c = addr_cmp(a->commit, b->commit)) != 0 ||
        (c = addr_cmp(a->run, b->run)) != 0)
        return c;
    if (a->attempt != b->attempt)
        return a->attempt > b->attempt ? 1 : -1;
    return cfo_record_cmp_all(a, b);
}

static int commit_addr_cmp(const void *pa, const void *pb)
{
    const cfo_record *a = *(const cfo_record *const *)pa;
    const cfo_record *b = *(const cfo_record *const *)pb;
    return addr_cmp(a->commit, b->commit);
}

static int order_cmp(const void *pa, const void *pb)
{
    return cfo_record_cmp_all(*(const cfo_record *const *)pa, *(const cfo_record *const *)pb);
}

/* The fuzzer names arrive grouped, so one lookup per run of equal names. */
typedef struct strategy_cache {
    const cfo_merge_policy *policy;
    const char *fuzzer;
    cfo_merge_strategy strategy;
} strategy_cache;

static cfo_merge_strategy strategy_of(strategy_cache *sc, const char *fuzzer)
{
    if (sc->fuzzer != fuzzer || fuzzer == NULL) {
        sc->fuzzer = fuzzer;
        sc->strategy = cfo_merge_strategy_for(sc->policy, fuzzer);
    }
    return sc->strategy;
}

/* Rule 1 over p sorted by group_cmp; returns the new count, order kept. */
static size_t dedup(const cfo_record **p, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || !same_result(p[m - 1], p[i]))
            p[m++] = p[i];
    return m;
}

/* Rule 2 over p grouped by (fuzzer, branch, target, commit); order kept. */
static size_t newest_per_key(const cfo_record **p, size_t n, strategy_cache *sc)
{
    size_t m = 0;
    for (size_t i = 0, j; i < n; i = j) {
        size_t newest = SIZE_MAX, newest_pass = SIZE_MAX;
        for (j = i; j < n && same_key(p[i], p[j]); j++) {
            if (newest == SIZE_MAX || cfo_record_cmp_newer(p[j], p[newest]) > 0)
                newest = j;
            if (p[j]->ok &&
                (newest_pass == SIZE_MAX || cfo_record_cmp_newer(p[j], p[newest_pass]) > 0))
                newest_pass = j;
        }
        switch (strategy_of(sc, p[i]->fuzzer)) {
        case CFO_MERGE_SUPERSEDE:
            p[m++] = p[newest];
            break;
        case CFO_MERGE_ACCUMULATE:
            for (size_t k = i; k < j; k++)
                if (!p[k]->ok || k == newest_pass)
                    p[m++] = p[k];
            break;
        }
    }
    return m;
}

/* Rule 3 over p grouped by (fuzzer, branch, target); order kept. */
static size_t supersede(const cfo_record **p, size_t n, strategy_cache *sc)
{
    size_t m = 0;
    for (size_t i = 0, j; i < n; i = j) {
        const cfo_record *last_pass = NULL;
        for (j = i; j < n && same_target(p[i], p[j]); j++)
            if (p[j]->ok && (last_pass == NULL || time_cmp(p[j], last_pass) > 0))
                last_pass = p[j];
        bool drops = last_pass != NULL && strategy_of(sc, p[i]->fuzzer) == CFO_MERGE_SUPERSEDE;
        for (size_t k = i; k < j; k++)
            if (!drops || p[k]->ok || time_cmp(p[k], last_pass) >= 0)
                p[m++] = p[k];
    }
    return m;
}

typedef struct commit_span {
    size_t start, end;        /* its records in p */
    const cfo_record *newest; /* by time: the commit's recency */
    bool kept;
} commit_span;

/* More recent commits first; equal times: the larger sha. */
static int span_recency_cmp(const void *pa, const void *pb)
{
    const commit_span *a = pa, *b = pb;
    int c = time_cmp(b->newest, a->newest);
    return c != 0 ? c : cfo_strcmp0(b->newest->commit, a->newest->commit);
}

static int span_start_cmp(const void *pa, const void *pb)
{
    const commit_span *a = pa, *b = pb;
    return (a->start > b->start) - (a->start < b->start);
}

/* Rule 4; leaves p in no particular order. */
static size_t window(const cfo_record **p, size_t n, int nwindow)
{
    qsort(p, n, sizeof *p, commit_addr_cmp);
    size_t ns = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || p[i]->commit != p[i - 1]->commit)
            ns++;
    if (ns <= (size_t)nwindow)
        return n;
    commit_span *spans = cfo_xmalloc(ns * sizeof *spans);
    ns = 0;
    for (size_t i = 0, j; i < n; i = j) {
        commit_span *s = &spans[ns++];
        s->start = i;
        s->newest = p[i];
        s->kept = false;
        for (j = i + 1; j < n && p[j]->commit == p[i]->commit; j++)
            if (time_cmp(p[j], s->newest) > 0)
                s->newest = p[j];
        s->end = j;
    }
    qsort(spans, ns, sizeof *spans, span_recency_cmp);
    for (size_t k = 0; k < (size_t)nwindow; k++)
        spans[k].kept = true;
    /* Back in p's order, so records can be moved down without overwriting
     * any that are still to be read. */
    qsort(spans, ns, sizeof *spans, span_start_cmp);
    size_t m = 0;
    for (size_t k = 0; k < ns; k++)
        if (spans[k].kept)
            for (size_t i = spans[k].start; i < spans[k].end; i++)
                p[m++] = p[i];
    free(spans);
    return m;
}

/* Rearranges rs->v so that rs->v[k] is what *p[k] was, for k < m, and drops
 * the rest: the permutation's cycles are followed in place, so no second
 * array of records is needed. */
static void apply_order(cfo_recset *rs, const cfo_record **p, size_t m)
{
    size_t n = rs->n;
    cfo_record *v = rs->v;
    size_t *src = cfo_xmalloc(n * sizeof *src);
    unsigned char *taken = cfo_xcalloc(n, 1);
    for (size_t k = 0; k < m; k++) {
        src[k] = (size_t)(p[k] - v);
        taken[src[k]] = 1;
    }
    size_t fill = m;
    for (size_t i = 0; i < n; i++)
        if (!taken[i])
            src[fill++] = i;
    assert(fill == n);
    free(taken);
    /* Each position j receives v[src[j]]; src[j] = j marks it placed. */
    for (size_t k = 0; k < n; k++) {
        if (src[k] == k)
            continue;
        cfo_record saved = v[k];
        size_t j = k;
        for (;;) {
            size_t s = src[j];
            src[j] = j;
            if (s == k) {
                v[j] = saved;
                break;
            }
            v[j] = v[s];
            j = s;
        }
    }
    free(src);
    rs->n = m;
}

void cfo_merge(cfo_recset *rs, const cfo_merge_policy *policy)
{
    assert(rs != NULL && policy != NULL && policy->window >= 1);
    if (rs->n == 0)
        return;
    const cfo_record **p = cfo_xmalloc(rs->n * sizeof *p);
    size_t n = 0;
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].status != CFO_STATUS_CANCELLED)
            p[n++] = &rs->v[i];

    strategy_cache sc = {.policy = policy};
    qsort(p, n, sizeof *p, group_cmp);
    n = dedup(p, n);
    n = newest_per_key(p, n, &sc);
    n = supersede(p, n, &sc);
    n = window(p, n, policy->window);
    qsort(p, n, sizeof *p, order_cmp);

    apply_order(rs, p, n);
    free(p);
}
