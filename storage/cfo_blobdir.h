/* cfo_blobdir.h -- a folder of immutable, content-named files: a local directory or a gs:// prefix.
 */
#ifndef CFO_BLOBDIR_H
#define CFO_BLOBDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfo_error.h"
#include "cfo_util.h"

/* Longest file name a blobdir accepts (bytes). */
#define CFO_BLOBDIR_NAME_MAX 200
/* Largest file cfo_blobdir_put_new stores (it is held in memory to upload). */
#define CFO_BLOBDIR_MAX_PUT (256u << 20)

/* A blobdir is used from one thread at a time; separate blobdirs (a sub-folder
 * is a separate blobdir) may be used from separate threads. */
typedef struct cfo_blobdir cfo_blobdir;

/* file:///abs/dir, file://rel/dir (relative to the current directory, resolved
 * now), a plain path, or gs://bucket/prefix (prefix may be empty). A local dir
 * is created on first put. GCS credentials and endpoint come from the
 * environment (gcs_auth.h); no network I/O happens here. */
cfo_err cfo_blobdir_open(const char *url, cfo_blobdir **out, cfo_diag *d);
/* Frees self and sets *self_p to NULL; NULL and *self_p == NULL are fine. */
void cfo_blobdir_destroy(cfo_blobdir **self_p);
/* What messages call it: the absolute path or gs://bucket/prefix. */
const char *cfo_blobdir_display(const cfo_blobdir *self);

/* Opens the sub-folder rel ("corpus/FUZZER/target") of self as a new blobdir
 * (the caller destroys it). Each '/'-separated segment is a valid name
 * (cfo_blobdir_name_ok) or may start with '.' but is not "." or ".."; an
 * empty segment (leading, trailing or doubled '/') is CFO_EINVAL. */
cfo_err cfo_blobdir_sub(const cfo_blobdir *self, const char *rel, cfo_blobdir **out, cfo_diag *d);

/* Whether name may be a file of a blobdir: 1..CFO_BLOBDIR_NAME_MAX bytes of
 * A-Z a-z 0-9 and . _ - % : + , = @ ~, not starting with '.' (temporary files
 * do). A name that passes cannot leave the folder it is joined to. */
bool cfo_blobdir_name_ok(const char *name);

/* Names of the files directly in the folder (no sub-folders), sorted by
 * strcmp, appended to names (which the caller has initialised). Entries whose
 * names fail cfo_blobdir_name_ok (temporary files, or whatever a hostile
 * bucket lists) are left out with a warning. A folder that does not exist is
 * empty. More than max names: CFO_ELIMIT. */
cfo_err cfo_blobdir_list(cfo_blobdir *self, size_t max, cfo_strv *names, cfo_diag *d);

/* Copies name to dest_path (written to a temporary file beside it and renamed,
 * so dest_path is complete or untouched). CFO_ENOTFOUND when absent; more than
 * max_bytes: CFO_ELIMIT. An invalid name is CFO_EINVAL. */
cfo_err cfo_blobdir_get(cfo_blobdir *self, const char *name, const char *dest_path,
                        uint64_t max_bytes, cfo_diag *d);

/* Stores the file at src_path (at most CFO_BLOBDIR_MAX_PUT bytes, else
 * CFO_ELIMIT) as name unless name exists; never replaces (*created says
 * which). Local: write temp + fsync + link(2) (EEXIST = exists); GCS: upload
 * with ifGenerationMatch=0 (412 = exists). */
cfo_err cfo_blobdir_put_new(cfo_blobdir *self, const char *name, const char *src_path,
                            bool *created, cfo_diag *d);
/* The same with the bytes in memory. */
cfo_err cfo_blobdir_put_new_data(cfo_blobdir *self, const char *name, const void *data, size_t len,
                                 bool *created, cfo_diag *d);

/* Removes name; absent is CFO_OK. */
cfo_err cfo_blobdir_delete(cfo_blobdir *self, const char *name, cfo_diag *d);

#endif
