/* cfo_record.h -- the SeedRecord model and record sets with interned strings. */
#ifndef CFO_RECORD_H
#define CFO_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfo_error.h"

typedef enum cfo_status {
    CFO_STATUS_PASS,
    CFO_STATUS_FAIL,
    CFO_STATUS_TIMEOUT,
    CFO_STATUS_ERROR,
    CFO_STATUS_CANCELLED,
    CFO_STATUS_OOM, /* stopped at its memory limit: a finding, ok false */
} cfo_status;
#define CFO_STATUS_COUNT 6

const char *cfo_status_name(cfo_status s);
/* Returns 0 and sets *out, or -1 for an unknown name. */
int cfo_status_parse(const char *name, cfo_status *out);

/* Hard limits on what a record may hold; the JSON and wire decoders enforce
 * them, so a hostile document cannot make a record unbounded. */
#define CFO_RECORD_MAX_STRING 8192 /* any one string field, in bytes */
#define CFO_RECORD_MAX_ATTEMPT 1000000
/* 9999-12-31T23:59:59.999Z, the last time the dataset can write. */
#define CFO_RECORD_MAX_TIME_MS 253402300799999LL
/* The findings list (a JSON array) is bounded like any string field. */
#define CFO_RECORD_MAX_CRASHES CFO_RECORD_MAX_STRING

/* Interning pool: equal strings share one pointer for the pool's lifetime, so
 * records compare string fields by pointer and a million records that name
 * the same fuzzer, branch or target store each name once. */
typedef struct cfo_strpool cfo_strpool;

cfo_strpool *cfo_strpool_new(void);
void cfo_strpool_destroy(cfo_strpool **self_p);
/* Returns the pool's copy of s[0..len) (NUL-terminated). */
const char *cfo_strpool_intern(cfo_strpool *self, const char *s, size_t len);
const char *cfo_strpool_intern_cstr(cfo_strpool *self, const char *s);

/* One task's result. String fields point into a pool (or are NULL where the
 * field is optional and absent: run, worker). */
typedef struct cfo_record {
    const char *commit;
    const char *fuzzer;
    const char *branch;
    const char *target;
    const char *command;
    const char *run;    /* NULL for records imported from the seed's format */
    const char *worker; /* NULL when unknown */
    /* The findings a coverage-guided engine names, as compact JSON text: an
     * array of objects {"signature","kind","new","repro","bundle"}; NULL when
     * the fuzzer names none. Interned like the other strings. */
    const char *crashes;
    /* Source-based coverage of an engine's target (cfo_coverage.h), as
     * compact JSON text in cfo_coverage_format's form; NULL when not
     * measured. Interned. */
    const char *coverage;
    int64_t count;
    int64_t findings;
    double duration;    /* seconds */
    double cpu;         /* user + system CPU seconds of the task; valid when has_usage */
    int64_t max_rss_kb; /* peak resident set of its largest process, KiB; valid when has_usage */
    int64_t time_ms;    /* wall clock, ms since the epoch; valid when has_time */
    uint32_t attempt;   /* 0 when absent */
    cfo_status status;
    bool ok;
    bool has_time;
    bool has_usage;
    /* Scratch for whoever merges: the record is one of the new ones. Not data:
     * not written, not compared. */
    bool fresh;
} cfo_record;

/* A growable array of records sharing one pool. */
typedef struct cfo_recset {
    cfo_record *v;
    size_t n;
    size_t cap;
    cfo_strpool *pool;
} cfo_recset;

cfo_recset *cfo_recset_new(void);
void cfo_recset_destroy(cfo_recset **self_p);
/* Appends a copy of r; its strings are interned into self's pool. */
void cfo_recset_add(cfo_recset *self, const cfo_record *r);
/* Appends every record of other. */
void cfo_recset_add_all(cfo_recset *self, const cfo_recset *other);
void cfo_recset_clear(cfo_recset *self);

/* Total order over every field, for deterministic sorting and equality. */
int cfo_record_cmp_all(const cfo_record *a, const cfo_record *b);
/* Null-safe strcmp (NULL sorts first). */
int cfo_strcmp0(const char *a, const char *b);

/* Checks a record's fields (non-empty names, commit is hex, sane numbers,
 * ok consistent with status). */
cfo_err cfo_record_validate(const cfo_record *r, cfo_diag *d);

#endif
