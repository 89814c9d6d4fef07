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

/* A commit while commits are put in order: rank is 1 + its place in git's
 * order, 0 when git did not place it. */
typedef struct ranked_commit {
    cfo_history_commit c;
    size_t rank;
} ranked_commit;

static int commit_order_cmp(const void *pa, const void *pb)
{
    const ranked_commit *ra = pa, *rb = pb;
    if (ra->rank != rb->rank)
        return ra->rank > rb->rank ? 1 : -1;
    const cfo_history_commit *a = &ra->c, *b = &rb->c;
    if (a->has_time != b->has_time)
        return a->has_time ? 1 : -1;
    if (a->has_time && a->newest_ms != b->newest_ms)
        return a->newest_ms > b->newest_ms ? 1 : -1;
    return cfo_strcmp0(a->sha, b->sha);
}

/* A commit git placed, with its place, looked up by sha. */
typedef struct git_place {
    const cfo_history_git *g;
    size_t rank;
} git_place;

static int git_place_cmp(const void *pa, const void *pb)
{
    const git_place *a = pa, *b = pb;
    return cfo_strcmp0(a->g->sha, b->g->sha);
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

/* The oldest record of the failing streak on the series' commit c: its
 * records there, newest last, are walked back while they fail. */
static const cfo_record *streak_start_on(const cfo_history_series *s, const size_t *rec_commit,
                                         size_t c)
{
    const cfo_record *first = NULL;
    size_t i = s->nrecords;
    while (i > 0 && rec_commit[i - 1] != c)
        i--;
    while (i > 0 && rec_commit[i - 1] == c && cfo_history_status_bad(s->records[i - 1]->status))
        first = s->records[--i];
    return first;
}

/* The streak of bad cells that reaches the newest tested commit, and the pass
 * just before it. rec_commit: the commit of each of the series' records. */
static void regression_range(cfo_history_series *s, const size_t *rec_commit)
{
    s->failing = false;
    s->first_bad = CFO_HISTORY_NONE;
    s->last_good = CFO_HISTORY_NONE;
    if (s->ncells == 0)
        return;
    size_t k = s->ncells;
    if (!cfo_history_status_bad(s->cells[k - 1].rec->status)) {
        s->last_good = s->cells[k - 1].commit;
        s->last_good_rec = s->cells[k - 1].rec;
        return;
    }
    s->failing = true;
    while (k > 0 && cfo_history_status_bad(s->cells[k - 1].rec->status))
        k--;
    s->first_bad = s->cells[k].commit;
    s->first_bad_rec = streak_start_on(s, rec_commit, s->first_bad);
    if (k > 0) {
        s->last_good = s->cells[k - 1].commit;
        s->last_good_rec = s->cells[k - 1].rec;
    }
}

/* The newest record of series s on commit c, or NULL. */
static const cfo_record *cell_on(const cfo_history_series *s, size_t c)
{
    size_t lo = 0, hi = s->ncells;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->cells[mid].commit == c)
            return s->cells[mid].rec;
        if (s->cells[mid].commit < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static size_t commit_find(const cfo_history *h, const sha_pos *pos, const char *sha, size_t len)
{
    size_t lo = 0, hi = h->ncommits;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strncmp(pos[mid].sha ? pos[mid].sha : "", sha, len);
        if (c == 0 && pos[mid].sha[len] != '\0')
            c = 1;
        if (c == 0)
            return pos[mid].pos;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return CFO_HISTORY_NONE;
}

/* A pass of s's fuzzer and target on a git parent of its first record,
 * which failed: on its own branch first, then on any. */
static const cfo_record *parent_pass(const cfo_history *h, const sha_pos *pos,
                                     const cfo_history_series *s, const char *const *branches,
                                     size_t nbranches)
{
    const char *p = h->commits[s->first_bad].parents;
    while (p != NULL && *p != '\0') {
        size_t len = strcspn(p, " ");
        size_t c = len > 0 ? commit_find(h, pos, p, len) : CFO_HISTORY_NONE;
        for (size_t b = 0; c != CFO_HISTORY_NONE && b <= nbranches; b++) {
            const char *branch = b == 0 ? s->branch : branches[b - 1];
            if (b > 0 && cfo_strcmp0(branch, s->branch) == 0)
                continue;
            size_t k = cfo_history_find(h, s->fuzzer, branch, s->target);
            const cfo_record *r = k == CFO_HISTORY_NONE ? NULL : cell_on(&h->series[k], c);
            if (r != NULL && r->status == CFO_STATUS_PASS)
                return r;
        }
        p += len;
        p += strspn(p, " ");
    }
    return NULL;
}

/* Groups the entries (sorted by sha) into commits, puts them in order (git's
 * where git placed them) and sets each entry's commit index. Returns each
 * sha's position, in sha order (free it). */
static sha_pos *build_commits(cfo_history *h, entry *e, size_t n, const cfo_history_git *git,
                              size_t ngit)
{
    git_place *by_sha = cfo_xcalloc(ngit + 1, sizeof *by_sha);
    for (size_t k = 0; k < ngit; k++)
        by_sha[k] = (git_place){.g = &git[k], .rank = k + 1};
    qsort(by_sha, ngit, sizeof *by_sha, git_place_cmp);
    ranked_commit *rc = cfo_xcalloc(n + 1, sizeof *rc);
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || cfo_strcmp0(e[i].r->commit, e[i - 1].r->commit) != 0) {
            rc[nc++].c = (cfo_history_commit){.sha = e[i].r->commit};
            cfo_history_git want = {.sha = e[i].r->commit};
            git_place key = {.g = &want};
            const git_place *p =
                want.sha ? bsearch(&key, by_sha, ngit, sizeof *by_sha, git_place_cmp) : NULL;
            if (p != NULL) {
                rc[nc - 1].rank = p->rank;
                rc[nc - 1].c.parents = p->g->parents ? p->g->parents : "";
                h->ngit++;
            }
        }
        cfo_history_commit *c = &rc[nc - 1].c;
        c->nrecords++;
        if (e[i].r->has_time && (!c->has_time || e[i].r->time_ms > c->newest_ms)) {
            c->newest_ms = e[i].r->time_ms;
            c->has_time = true;
        }
    }
    free(by_sha);
    qsort(rc, nc, sizeof *rc, commit_order_cmp);
    h->commits = cfo_xcalloc(nc + 1, sizeof *h->commits);
    for (size_t k = 0; k < nc; k++)
        h->commits[k] = rc[k].c;
    h->ncommits = nc;
    free(rc);
    sha_pos *pos = cfo_xcalloc(h->ncommits + 1, sizeof *pos);
    for (size_t k = 0; k < h->ncommits; k++)
        pos[k] = (sha_pos){.sha = h->commits[k].sha, .pos = k};
    qsort(pos, h->ncommits, sizeof *pos, sha_pos_cmp);
    for (size_t i = 0, k = 0; i < n; i++) {
        if (i > 0 && cfo_strcmp0(e[i].r->commit, e[i - 1].r->commit) != 0)
            k++;
        e[i].commit = pos[k].pos;
    }
    return pos;
}

/* Groups the entries into series, records in window order; returns the
 * commit index of each record of h->rs (free it). */
static size_t *build_series(cfo_history *h, entry *e, size_t n)
{
    qsort(e, n, sizeof *e, by_series_then_window);
    h->rs = cfo_xcalloc(n + 1, sizeof *h->rs);
    h->cs = cfo_xcalloc(n + 1, sizeof *h->cs);
    h->series = cfo_xcalloc(n + 1, sizeof *h->series);
    size_t *rec_commit = cfo_xcalloc(n + 1, sizeof *rec_commit);
    size_t ncs = 0;
    for (size_t i = 0; i < n; i++) {
        h->rs[i] = e[i].r;
        rec_commit[i] = e[i].commit;
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
    return rec_commit;
}

/* Regression ranges, per-commit counts, and for a target failing since its
 * first record, the pass on a parent commit that dates the break. */
static void finish_series(cfo_history *h, const sha_pos *pos, const size_t *rec_commit)
{
    const char **branches = cfo_xcalloc(h->nseries + 1, sizeof *branches);
    size_t nbranches = 0;
    for (size_t k = 0; k < h->nseries; k++) {
        branches[nbranches++] = h->series[k].branch;
        for (size_t b = 0; b + 1 < nbranches; b++)
            if (cfo_strcmp0(branches[b], h->series[k].branch) == 0) {
                nbranches--;
                break;
            }
    }
    for (size_t k = 0; k < h->nseries; k++) {
        cfo_history_series *s = &h->series[k];
        regression_range(s, rec_commit + (s->records - h->rs));
        for (size_t c = 0; c < s->ncells; c++)
            h->commits[s->cells[c].commit].by_status[s->cells[c].rec->status]++;
    }
    for (size_t k = 0; k < h->nseries; k++) {
        cfo_history_series *s = &h->series[k];
        if (s->failing && s->last_good == CFO_HISTORY_NONE)
            s->parent_pass = parent_pass(h, pos, s, branches, nbranches);
    }
    free(branches);
}

cfo_history *cfo_history_new_git(const cfo_recset *rs, const cfo_history_git *git, size_t ngit)
{
    cfo_history *h = cfo_xcalloc(1, sizeof *h);
    entry *e = cfo_xcalloc(rs->n + 1, sizeof *e);
    size_t n = 0;
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].status != CFO_STATUS_CANCELLED)
            e[n++].r = &rs->v[i];
    h->nrecords = n;
    qsort(e, n, sizeof *e, by_commit_sha);
    sha_pos *pos = build_commits(h, e, n, git, ngit);
    size_t *rec_commit = build_series(h, e, n);
    finish_series(h, pos, rec_commit);
    free(rec_commit);
    free(pos);
    free(e);
    return h;
}

cfo_history *cfo_history_new(const cfo_recset *rs)
{
    return cfo_history_new_git(rs, NULL, 0);
}

void cfo_history_destroy(cfo_history **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    cfo_history *h = *self_p;
    cfo_free_all(h->commits, h->series, h->rs, h->cs, h);
    *self_p = NULL;
}

void cfo_history_mark_canary(cfo_history *self, const char *fuzzer)
{
    for (size_t k = 0; k < self->nseries; k++) {
        cfo_history_series *s = &self->series[k];
        if (s->canary || s->ncells == 0 || cfo_strcmp0(s->fuzzer, fuzzer) != 0)
            continue;
        for (size_t c = 0; c < s->ncells; c++)
            self->commits[s->cells[c].commit].by_status[s->cells[c].rec->status]--;
        s->canary = true;
        s->canary_last = s->records[0];
        for (size_t i = 1; i < s->nrecords; i++)
            if (cfo_record_cmp_newer(s->records[i], s->canary_last) > 0)
                s->canary_last = s->records[i];
        s->canary_broken = s->canary_last->status != CFO_STATUS_FAIL;
        s->failing = false;
        s->first_bad = s->last_good = CFO_HISTORY_NONE;
        s->first_bad_rec = s->last_good_rec = s->parent_pass = NULL;
        self->ncanary++;
        self->ncanary_broken += s->canary_broken;
    }
}

void cfo_history_parents_from(cfo_history *self, const cfo_history *full)
{
    for (size_t k = 0; k < self->nseries; k++) {
        cfo_history_series *s = &self->series[k];
        if (!s->failing || s->last_good != CFO_HISTORY_NONE || s->parent_pass != NULL)
            continue;
        size_t f = cfo_history_find(full, s->fuzzer, s->branch, s->target);
        if (f != CFO_HISTORY_NONE && full->series[f].failing &&
            cfo_strcmp0(full->commits[full->series[f].first_bad].sha,
                        self->commits[s->first_bad].sha) == 0)
            s->parent_pass = full->series[f].parent_pass;
    }
}

size_t cfo_history_failing(const cfo_history *self)
{
    size_t n = 0;
    for (size_t k = 0; k < self->nseries; k++)
        n += self->series[k].failing;
    return n;
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

const cfo_record *cfo_history_coverage_on(const cfo_history_series *s, const char *sha)
{
    const cfo_record *best = NULL;
    for (size_t i = 0; i < s->nrecords; i++) {
        const cfo_record *r = s->records[i];
        if (r->coverage != NULL && strcmp(r->commit, sha) == 0 &&
            (best == NULL || r->time_ms >= best->time_ms))
            best = r;
    }
    return best;
}
