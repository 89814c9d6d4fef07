/* cfo_recindex.c -- records sorted by (fuzzer, target). */
#include "cfo_recindex.h"

#include <stdlib.h>
#include <string.h>

#include "cfo_util.h"

static int key_cmp(const char *fuzzer, const char *target, const cfo_record *r)
{
    int c = strcmp(fuzzer, r->fuzzer);
    return c != 0 ? c : strcmp(target, r->target);
}

static int record_cmp(const void *pa, const void *pb)
{
    const cfo_record *a = *(const cfo_record *const *)pa;
    return key_cmp(a->fuzzer, a->target, *(const cfo_record *const *)pb);
}

void cfo_recindex_build(cfo_recindex *ix, const cfo_recset *set, cfo_recindex_keep_fn keep,
                        void *arg)
{
    ix->n = 0;
    ix->v = cfo_xcalloc(set != NULL ? set->n + 1 : 1, sizeof *ix->v);
    for (size_t i = 0; set != NULL && i < set->n; i++)
        if (keep == NULL || keep(&set->v[i], arg))
            ix->v[ix->n++] = &set->v[i];
    qsort(ix->v, ix->n, sizeof *ix->v, record_cmp);
}

void cfo_recindex_fini(cfo_recindex *ix)
{
    free(ix->v);
    ix->v = NULL;
    ix->n = 0;
}

size_t cfo_recindex_find(const cfo_recindex *ix, const char *fuzzer, const char *target,
                         size_t *first)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(fuzzer, target, ix->v[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < ix->n && key_cmp(fuzzer, target, ix->v[end]) == 0)
        end++;
    *first = lo;
    return end - lo;
}
