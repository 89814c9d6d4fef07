/* cfo_history.c -- commits in window order, per-target series and their
 * regression ranges. */
#include "cfo_history.h"

#include "cfo_merge.h"

#include <stdlib.h>
#include <string.h>

#include "cfo_util.h"

bool cfo_history_status_bad(cfo_status s)
{
    switch (s) {
    case CFO_STATUS_FAIL:
    case CFO_STATUS_TIMEOUT:
    case CFO_STATUS_ERROR:
    case CFO_STATUS_OOM:
        return true;
    case CFO_STATUS_PASS:
    case CFO_STATUS_CANCELLED:
        return false;
    }
    return false;
}

typedef struct entry {
    const cfo_record *r;
    size_t commit;
} entry;

static int by_commit_sha(const void *pa, const void *pb)
{
    const entry *a = pa, *b = pb;
    return cfo_strcmp0(a->r->commit, b->r->commit);
}

static int commit_recency_cmp(const void *pa, const void *pb)
{
    const cfo_history_commit *a = pa, *b = pb;
    if (a->has_time != b->has_time)
        return a->has_time ? 1 : -1;
    if (a->has_time && a->newest_ms != b->newest_ms)
        return a->newest_ms > b->newest_ms ? 1 : -1;
    return cfo_strcmp0(a->sha, b->sha);
}

typedef struct sha_pos {
    const char *sha;
    size_t pos;
} sha_pos;

static int sha_pos_cmp(const void *pa, const void *pb)
{
    const sha_pos *a = pa, *b = pb;
    return cfo_strcmp0(a->sha, b->sha);
}

static int series_key_cmp(const cfo_record *a, const cfo_record *b)
{
    int c = cfo_strcmp0(a->fuzzer, b->fuzzer);
    if (c == 0)
        c = cfo_strcmp0(a->branch, b->branch);
    if (c == 0)
        c = cfo_strcmp0(a->target, b->target);
    return c;
}

static int by_series_then_window(const void *pa, const void *pb)
{
    const entry *a = pa, *b = pb;
    int c = series_key_cmp(a->r, b->r);
    if (c != 0)
        return c;
    if (a->commit != b->commit)
        return a->commit > b->commit ? 1 : -1;
    return cfo_record_cmp_newer(a->r, b->r);
}

/* The streak of bad cells that reaches the newest tested commit, and the pass
 * just before it. */
static void regression_range(cfo_history_series *s)
{
    s->failing = false;
    s->first_bad = CFO_HISTORY_NONE;
    s->last_good = CFO_HISTORY_NONE;
    if (s->ncells == 0)
        return;
    size_t k = s->ncells;
    if (!cfo_history_status_bad(s->cells[k - 1].rec->status)) {
        s->last_good = s->cells[k - 1].commit;
        return;
    }
    s->failing = true;
    while (k > 0 && cfo_history_status_bad(s->cells[k - 1].rec->status))
        k--;
    s->first_bad = s->cells[k].commit;
    if (k > 0)
        s->last_good = s->cells[k - 1].commit;
}

cfo_history *cfo_history_new(const cfo_recset *rs)
{
    cfo_history *h = cfo_xcalloc(1, sizeof *h);
    entry *e = cfo_xcalloc(rs->n + 1, sizeof *e);
    size_t n = 0;
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].status != CFO_STATUS_CANCELLED)
            e[n++].r = &rs->v[i];
    h->nrecords = n;

    /* Commits: group by sha, find each one's newest record, order by it. */
    qsort(e, n, sizeof *e, by_commit_sha);
    h->commits = cfo_xcalloc(n + 1, sizeof *h->commits);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || cfo_strcmp0(e[i].r->commit, e[i - 1].r->commit) != 0)
            h->commits[h->ncommits++] = (cfo_history_commit){.sha = e[i].r->commit};
        cfo_history_commit *c = &h->commits[h->ncommits - 1];
        c->nrecords++;
        if (e[i].r->has_time && (!c->has_time || e[i].r->time_ms > c->newest_ms)) {
            c->newest_ms = e[i].r->time_ms;
            c->has_time = true;
        }
    }
    qsort(h->commits, h->ncommits, sizeof *h->commits, commit_recency_cmp);
    /* Each sha's window position, in sha order like e. */
    sha_pos *pos = cfo_xcalloc(h->ncommits + 1, sizeof *pos);
    for (size_t k = 0; k < h->ncommits; k++)
        pos[k] = (sha_pos){.sha = h->commits[k].sha, .pos = k};
    qsort(pos, h->ncommits, sizeof *pos, sha_pos_cmp);
    for (size_t i = 0, k = 0; i < n; i++) {
        if (i > 0 && cfo_strcmp0(e[i].r->commit, e[i - 1].r->commit) != 0)
            k++;
        e[i].commit = pos[k].pos;
    }
    free(pos);

    /* Series: group by (fuzzer, branch, target), records in window order. */
    qsort(e, n, sizeof *e, by_series_then_window);
    h->rs = cfo_xcalloc(n + 1, sizeof *h->rs);
    h->cs = cfo_xcalloc(n + 1, sizeof *h->cs);
    h->series = cfo_xcalloc(n + 1, sizeof *h->series);
    size_t ncs = 0;
    for (size_t i = 0; i < n; i++) {
        h->rs[i] = e[i].r;
        if (i == 0 || series_key_cmp(e[i].r, e[i - 1].r) != 0) {
            cfo_history_series *s = &h->series[h->nseries++];
            s->fuzzer = e[i].r->fuzzer;
            s->branch = e[i].r->branch;
            s->target = e[i].r->target;
            s->records = &h->rs[i];
            s->cells = &h->cs[ncs];
        }
        cfo_history_series *s = &h->series[h->nseries - 1];
        s->nrecords++;
        /* Within a commit the newest record comes last and is the cell. */
        if (s->ncells > 0 && s->cells[s->ncells - 1].commit == e[i].commit) {
            s->cells[s->ncells - 1].rec = e[i].r;
        } else {
            s->cells[s->ncells++] = (cfo_history_cell){.commit = e[i].commit, .rec = e[i].r};
            ncs++;
        }
    }
    for (size_t k = 0; k < h->nseries; k++) {
        cfo_history_series *s = &h->series[k];
        regression_range(s);
        for (size_t c = 0; c < s->ncells; c++)
            h->commits[s->cells[c].commit].by_status[s->cells[c].rec->status]++;
    }
    free(e);
    return h;
}

void cfo_history_destroy(cfo_history **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    cfo_history *h = *self_p;
    free(h->commits);
    free(h->series);
    free(h->rs);
    free(h->cs);
    free(h);
    *self_p = NULL;
}

size_t cfo_history_find(const cfo_history *self, const char *fuzzer, const char *branch,
                        const char *target)
{
    size_t lo = 0, hi = self->nseries;
    cfo_record key = {.fuzzer = fuzzer, .branch = branch, .target = target};
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        cfo_record probe = {.fuzzer = self->series[mid].fuzzer,
                            .branch = self->series[mid].branch,
                            .target = self->series[mid].target};
        int c = series_key_cmp(&probe, &key);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return CFO_HISTORY_NONE;
}
