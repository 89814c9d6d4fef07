/* cfo_findings.h -- the findings of a dataset (version 2): what is wrong with
 * the code, since when, where, and whether it is fixed; and the fuzzers'
 * merge strategies the document records. The data and its JSON; the
 * lifecycle (records in, state changes out) is coordinator/cfo_lifecycle.h. */
#ifndef CFO_FINDINGS_H
#define CFO_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfo_error.h"
#include "cfo_fuzzer.h"
#include "cfo_util.h"

/* Most findings one document may hold, and most branches one finding. */
#define CFO_FINDINGS_MAX 100000
#define CFO_FINDING_MAX_BRANCHES 1000
/* Most bytes of the findings array a document may hold. */
#define CFO_FINDINGS_MAX_JSON ((size_t)256 << 20)

/* Where and when a finding was seen or fixed. commit/branch NULL: unset. */
typedef struct cfo_sighting {
    char *commit;
    char *branch;
    int64_t time_ms;
} cfo_sighting;

/* The finding on one branch: its last sighting there, and when it is fixed
 * there, the first commit where it no longer showed and the last where it
 * did (last_bad). */
typedef struct cfo_finding_branch {
    char *branch;
    bool open;
    char *last_commit;
    int64_t last_ms;
    char *fixed_commit; /* NULL while open (and before any fix) */
    char *last_bad;
    int64_t fixed_ms;
} cfo_finding_branch;

typedef struct cfo_finding {
    char *id; /* FUZZER/TARGET/SIGHASH for engines, FUZZER/TARGET for fail */
    char *fuzzer;
    char *target;
    char *kind;        /* crash, timeout, oom, leak, fail, coverage_drop */
    char *signature;   /* the signature's hash; NULL for fail findings */
    char *crash_state; /* the signature text "kind:family:f1|f2|f3"; NULL for fail */
    char *title;
    char *bundle; /* NULL when none */
    /* "path:line" of the top frame, repository-relative; NULL: unknown */
    char *location;
    bool open;
    cfo_sighting first, last;
    bool has_fixed;
    cfo_sighting fixed;
    char *fixed_last_bad;
    int64_t regressed;
    cfo_finding_branch *branches; /* sorted by branch name */
    size_t nbranches;
} cfo_finding;

/* Findings sorted by id (cfo_findings_sort), found by id through a hash
 * index (a dataset may hold a hundred thousand). */
typedef struct cfo_findings {
    cfo_finding *v;
    size_t n;
    size_t cap;
    size_t *index; /* open addressing: 1 + a finding's place, 0 free */
    size_t nindex; /* a power of two above twice n, or 0 before the first */
} cfo_findings;

void cfo_findings_init(cfo_findings *fs);
void cfo_findings_fini(cfo_findings *fs);
/* The finding with this id, or NULL. */
cfo_finding *cfo_findings_get(cfo_findings *fs, const char *id);
/* Appends a new finding named id, which fs must not hold (the caller fills it; strings it sets are
 * owned by the set and must come from malloc). Invalidates pointers into fs. */
cfo_finding *cfo_findings_add(cfo_findings *fs, const char *id);
void cfo_findings_sort(cfo_findings *fs);
/* The branch entry of f, added (open, no sighting) when absent. */
cfo_finding_branch *cfo_finding_branch_get(cfo_finding *f, const char *branch, bool add);
/* Deep copy of src appended to fs. */
void cfo_findings_add_copy(cfo_findings *fs, const cfo_finding *src);
/* Keeps the findings keep(f, ctx) is true for, in their order, and frees
 * the others: one pass, however many go. */
void cfo_findings_filter(cfo_findings *fs, bool (*keep)(const cfo_finding *f, const void *ctx),
                         const void *ctx);

/* Parses a JSON array of findings (the document's "findings"); name is used
 * in messages ("data.json: finding 3: ..."). Appends to fs. */
cfo_err cfo_findings_parse(const char *json, size_t len, const char *name, cfo_findings *fs,
                           cfo_diag *d);
/* Writes fs as a JSON array, one finding per line. */
void cfo_findings_write(const cfo_findings *fs, cfo_buf *out);
/* Appends one finding as a compact JSON object. */
void cfo_finding_write_json(const cfo_finding *f, cfo_buf *out);

/* The merge strategy per fuzzer name a document records. */
typedef struct cfo_strategies {
    cfo_strv names; /* sorted */
    cfo_merge_strategy *v;
} cfo_strategies;

void cfo_strategies_init(cfo_strategies *s);
void cfo_strategies_fini(cfo_strategies *s);
/* Sets (or replaces) name's strategy. */
void cfo_strategies_set(cfo_strategies *s, const char *name, cfo_merge_strategy m);
/* 0 and *out when name is recorded, else -1. */
int cfo_strategies_get(const cfo_strategies *s, const char *name, cfo_merge_strategy *out);
/* Parses {"NAME": "supersede"|"accumulate", ...}. */
cfo_err cfo_strategies_parse(const char *json, size_t len, const char *name, cfo_strategies *s,
                             cfo_diag *d);
/* Writes the object, names sorted. */
void cfo_strategies_write(const cfo_strategies *s, cfo_buf *out);

/* "open" or "fixed". */
const char *cfo_finding_state(const cfo_finding *f);

#endif
