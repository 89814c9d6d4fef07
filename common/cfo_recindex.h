/* cfo_recindex.h -- a sorted view of a record set by (fuzzer, target), so
 * that the records of one target are a binary search away, not a scan of a
 * million records. */
#ifndef CFO_RECINDEX_H
#define CFO_RECINDEX_H

#include <stdbool.h>
#include <stddef.h>

#include "cfo_record.h"

typedef struct cfo_recindex {
    const cfo_record **v; /* pointers into the set, sorted */
    size_t n;
} cfo_recindex;

/* Which records the index holds; NULL keeps every one. */
typedef bool (*cfo_recindex_keep_fn)(const cfo_record *r, void *arg);

/* Indexes the records of set (NULL: none) that keep accepts. The set must
 * outlive the index and not change while it is used. */
void cfo_recindex_build(cfo_recindex *ix, const cfo_recset *set, cfo_recindex_keep_fn keep,
                        void *arg);
void cfo_recindex_fini(cfo_recindex *ix);

/* The records of (fuzzer, target), on every branch and commit: returns how
 * many, the first at ix->v[*first]. */
size_t cfo_recindex_find(const cfo_recindex *ix, const char *fuzzer, const char *target,
                         size_t *first);

#endif
