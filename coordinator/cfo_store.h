/* cfo_store.h -- reading a dataset from storage and committing new records
 * with the read-merge-write loop. */
#ifndef CFO_STORE_H
#define CFO_STORE_H

#include <stddef.h>

#include "cfo_config.h"
#include "cfo_record.h"
#include "cfo_storage.h"

/* Loads every record of the dataset into `into`. A missing dataset is empty
 * (CFO_OK, *window 0). A dataset that does not parse is CFO_EPARSE with a
 * message naming it. */
cfo_err cfo_store_load(cfo_storage *st, cfo_recset *into, int *window, cfo_diag *d);

typedef struct cfo_commit_stats {
    size_t before; /* records in the dataset before */
    size_t added;  /* new records offered */
    size_t after;  /* records written */
    int window;    /* window applied */
    int attempts;  /* read-merge-write rounds (1 unless a conflict) */
} cfo_commit_stats;

/* Merges new records into the dataset and writes it: lock, read, parse,
 * merge (cfo_merge with config's strategies), write with the version token,
 * unlock; on CFO_ECONFLICT the whole round is redone (bounded). The window is
 * window_override if > 0, else config->window if set explicitly, else the
 * dataset's own, else 32. A dataset that does not parse is never written. */
cfo_err cfo_store_commit(cfo_storage *st, const cfo_recset *records, const cfo_config *config,
                         int window_override, cfo_commit_stats *stats, cfo_diag *d);

#endif
