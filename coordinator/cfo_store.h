/* cfo_store.h -- reading a dataset from storage and committing new records
 * with the read-merge-write loop. */
#ifndef CFO_STORE_H
#define CFO_STORE_H

#include <stddef.h>

#include "cfo_config.h"
#include "cfo_findings.h"
#include "cfo_record.h"
#include "cfo_storage.h"

/* Loads the dataset's findings (version 2; none for version 1) into fs. */
cfo_err cfo_store_load_findings(cfo_storage *st, cfo_findings *fs, cfo_diag *d);

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
 * merge (cfo_merge with config's strategies, the document's for fuzzers
 * config does not name), move the findings by the new records
 * (cfo_lifecycle_apply) and merge in `findings` when given (a document's
 * findings, from cfo-dataset merge), drop fixed findings that left the
 * window, write a version 2 document with the version token,
 * unlock; on CFO_ECONFLICT the whole round is redone (bounded). The window is
 * window_override if > 0, else config->window if set explicitly, else the
 * dataset's own, else 32. A dataset that does not parse is never written. */
cfo_err cfo_store_commit(cfo_storage *st, const cfo_recset *records, const cfo_config *config,
                         int window_override, cfo_commit_stats *stats, cfo_diag *d);
/* cfo_store_commit that also merges findings (NULL: none) into the
 * document's, and when events is given, sets it to the findings' changes
 * the written round made, as JSON lines (cfo_finding_events_json), for
 * notify_command. */
cfo_err cfo_store_commit_findings(cfo_storage *st, const cfo_recset *records,
                                  const cfo_findings *findings, const cfo_config *config,
                                  int window_override, cfo_commit_stats *stats, cfo_buf *events,
                                  cfo_diag *d);

#endif
