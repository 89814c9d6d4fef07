/* cfo_merge.h -- the dataset merge rules (DESIGN.md, rules 1-5). */
#ifndef CFO_MERGE_H
#define CFO_MERGE_H

#include "cfo_config.h"
#include "cfo_findings.h"
#include "cfo_record.h"

typedef struct cfo_merge_policy {
    int window; /* commits kept, >= 1 */
    /* Strategy per fuzzer name; fuzzers it does not name are ACCUMULATE, so a
     * record of an unknown fuzzer is never dropped by a supersede rule. */
    const cfo_config *config;
    /* The strategies the dataset document records, for the fuzzers config
     * does not name (NULL: none), so a merge gives the same result from any
     * folder. */
    const cfo_strategies *recorded;
} cfo_merge_policy;

/* Applies, in place and in this order: drop `cancelled` records (they are
 * reported, never merged); 1 dedup; 2 newest per (fuzzer, branch, target,
 * commit) by strategy; 3 supersede; 4 window; 5 order. Deterministic and
 * idempotent: the result does not depend on the input order, and merging the
 * output again, alone or together with the whole input, changes nothing.
 * (Merging it with only part of the input may not: a record removed by one
 * that has since left the window can come back.) */
void cfo_merge(cfo_recset *rs, const cfo_merge_policy *policy);

/* > 0 when a is newer than b by the merge's rule 2: time (a record without
 * one is older than any with one), then attempt, then run, then every field,
 * so exactly one record of a key is the newest whatever the input order. */
int cfo_record_cmp_newer(const cfo_record *a, const cfo_record *b);

cfo_merge_strategy cfo_merge_strategy_for(const cfo_merge_policy *policy, const char *fuzzer);

#endif
