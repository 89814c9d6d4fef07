/* cfo_prune.h -- keeps a target's stored corpus lean: merges it through the
 * engine's own minimizer (cfo-corpus minimize, and each task once the store
 * has grown past prune_factor times its last minimized size). */
#ifndef CFO_PRUNE_H
#define CFO_PRUNE_H

#include <stddef.h>
#include <stdint.h>

#include "cfo_blobdir.h"
#include "cfo_engine.h"
#include "cfo_error.h"
#include "cfo_fuzzer.h"

typedef struct cfo_prune_stats {
    size_t before;   /* inputs in the listing that was merged */
    size_t after;    /* inputs the merge kept */
    size_t uploaded; /* kept inputs storage lacked */
    size_t deleted;  /* inputs of the listing the merge dropped */
} cfo_prune_stats;

/* Merges the inputs of remote (the target's corpus folder) into the smallest
 * set with the same coverage with ops->merge on the executable at
 * target_path, uploads what the merge made that storage lacks, deletes the
 * inputs it dropped, and records the size it left for cfo_prune_due. Only
 * names of the listing merged are deleted: an input another run uploads
 * meanwhile stays. A merge that keeps nothing deletes nothing (an error).
 * timeout_ms 0: none. */
cfo_err cfo_prune_corpus(const cfo_fuzzer *f, const cfo_engine_ops *ops, const char *target,
                         const char *target_path, cfo_blobdir *remote, int64_t timeout_ms,
                         cfo_prune_stats *st, cfo_diag *d);

/* Whether the corpus of f's target, now of stored inputs, has grown past
 * f->prune_factor times its size after the last minimization, which *last
 * receives. A corpus never minimized has its present size recorded as the
 * base instead (and is not due). prune_factor 0: never due. */
cfo_err cfo_prune_due(const cfo_fuzzer *f, const char *target, size_t stored, bool *due,
                      size_t *last, cfo_diag *d);

#endif
