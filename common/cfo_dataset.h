/* cfo_dataset.h -- the dataset document: streaming JSON parse into records
 * (yajl) and deterministic writing (yajl_gen). DESIGN.md "SeedRecord and the
 * dataset" is the contract. */
#ifndef CFO_DATASET_H
#define CFO_DATASET_H

#include <stdbool.h>
#include <stddef.h>

#include "cfo_error.h"
#include "cfo_record.h"
#include "cfo_util.h"

/* Written with findings and strategies; version 1 documents are read too. */
#define CFO_DATASET_VERSION 2
#define CFO_DATASET_MAX_WINDOW 100000
#define CFO_DATASET_MAX_RECORDS 50000000

/* What a parsed document said besides its records. */
typedef struct cfo_dataset_meta {
    int version;     /* 1 or 2; 0 when the input was a bare array of records */
    int window;      /* 0 when absent */
    size_t nrecords; /* records appended by this parse */
} cfo_dataset_meta;

/* Incremental parser: feed it the bytes as they arrive (a file read in
 * chunks, an HTTP body), then finish. Accepts a dataset document
 * {"version":1,"window":N,"records":[...]} or a bare JSON array of records
 * (the seed's eight-field records included). Every record is validated
 * (cfo_record_validate) and appended to `into` as soon as it is complete;
 * nothing is built as a tree. Errors name `name`, the record index and the
 * field: "data.json: record 12: field 'ok' must be a boolean". */
typedef struct cfo_dataset_parser cfo_dataset_parser;

cfo_dataset_parser *cfo_dataset_parser_new(const char *name, cfo_recset *into);
cfo_err cfo_dataset_parser_feed(cfo_dataset_parser *self, const void *data, size_t len,
                                cfo_diag *d);
/* Has the parser copy the document's "findings" array and "strategies"
 * object, as compact JSON, into the given buffers (either may be NULL: that
 * member is skipped, as it is without this call). A buffer is left as it was
 * when the document has no such member. */
void cfo_dataset_parser_capture(cfo_dataset_parser *self, cfo_buf *findings, cfo_buf *strategies);
cfo_err cfo_dataset_parser_finish(cfo_dataset_parser *self, cfo_dataset_meta *meta, cfo_diag *d);
void cfo_dataset_parser_destroy(cfo_dataset_parser **self_p);

/* One-shot parse of a whole buffer. */
cfo_err cfo_dataset_parse(const void *data, size_t len, const char *name, cfo_recset *into,
                          cfo_dataset_meta *meta, cfo_diag *d);
/* Reads and parses a file in chunks. */
cfo_err cfo_dataset_parse_file(const char *path, cfo_recset *into, cfo_dataset_meta *meta,
                               cfo_diag *d);
/* The same, copying "findings" and "strategies" (cfo_dataset_parser_capture). */
cfo_err cfo_dataset_parse_file_capture(const char *path, cfo_recset *into, cfo_dataset_meta *meta,
                                       cfo_buf *findings, cfo_buf *strategies, cfo_diag *d);

/* Writes a version 2 document {"version":2,"window":W,"strategies":S,
 * "findings":F,"records":[...]} when strategies or findings (JSON texts) is
 * given, else {"version":1,"window":W,"records":[...]}; one record per line,
 * records in the order given. Optional fields are omitted when absent
 * (run, worker: NULL; time: !has_time; attempt: 0). Numbers round-trip. */
void cfo_dataset_write_doc(const cfo_recset *rs, int window, const char *strategies,
                           const char *findings, cfo_buf *out);
/* cfo_dataset_write_doc without findings or strategies: version 1. */
void cfo_dataset_write(const cfo_recset *rs, int window, cfo_buf *out);
/* Appends one record as a compact JSON object. */
void cfo_record_write_json(const cfo_record *r, cfo_buf *out);

#endif
