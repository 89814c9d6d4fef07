/* cfo_lifecycle.h -- how records move findings: a failing record or a crash
 * that shows opens or re-opens one, a pass or a replay that no longer
 * reproduces fixes it on its branch; and the merge of two findings lists. */
#ifndef CFO_LIFECYCLE_H
#define CFO_LIFECYCLE_H

#include <stddef.h>

#include "cfo_config.h"
#include "cfo_findings.h"
#include "cfo_record.h"
#include "cfo_util.h"

typedef enum cfo_finding_event {
    CFO_FINDING_OPENED,
    CFO_FINDING_FIXED,
    CFO_FINDING_REGRESSED,
} cfo_finding_event;

/* What changed, in order: the event and the id of the finding. */
typedef struct cfo_finding_events {
    cfo_finding_event *kind;
    cfo_strv ids;
} cfo_finding_events;

void cfo_finding_events_init(cfo_finding_events *ev);
void cfo_finding_events_fini(cfo_finding_events *ev);
/* "opened", "fixed", "regressed". */
const char *cfo_finding_event_name(cfo_finding_event e);

/* Applies the records of rs marked fresh to fs, oldest first, and appends
 * what changed to ev (may be NULL). Engine records (with "crashes") move the
 * finding of each signature they name (one per signature and target,
 * whichever engine shows it, so libFuzzer and AFL++ share it; its id names
 * the engine that opened it): a crash found or a replayed bundle
 * that reproduced is a sighting, a replay that did not reproduce fixes it on
 * the record's branch (never on the commit it was last seen on). Any other
 * record is about its (fuzzer, target): a failure is a sighting of its
 * `fail` finding, a pass fixes it. Canary fuzzers (config) and errors and
 * cancelled tasks move nothing. Applying a record twice changes nothing the
 * second time, so a merge that sees a record again stays idempotent. */
void cfo_lifecycle_apply(cfo_findings *fs, const cfo_recset *rs, const cfo_config *config,
                         cfo_finding_events *ev);

/* Drops the fixed findings whose fixed commit has no record left in rs (the
 * window moved past it); open findings stay whatever their age, unless
 * there are more than CFO_FINDINGS_MAX: then fixed ones go first, then the
 * open ones seen longest ago, with a warning. */
void cfo_lifecycle_window(cfo_findings *fs, const cfo_recset *rs);

/* Merges other into fs: a finding only one side has is kept; for one both
 * have, per branch the latest sighting and the latest fix win, and the
 * finding is open while any branch is. Deterministic and idempotent. */
void cfo_lifecycle_merge(cfo_findings *fs, const cfo_findings *other);

/* One JSON object per line, {"event": "opened", "finding": {...}}, for the
 * events whose finding fs still holds. */
void cfo_finding_events_json(const cfo_finding_events *ev, const cfo_findings *fs, cfo_buf *out);

#endif
