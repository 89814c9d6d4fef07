/* cfo_storage.h -- where the dataset lives: file:// or gs://, behind one set of operations. */
#ifndef CFO_STORAGE_H
#define CFO_STORAGE_H

#include <stddef.h>

#include "cfo_error.h"
#include "cfo_util.h"

#define CFO_TOKEN_MAX 128

typedef struct cfo_storage cfo_storage;

/* Receives the object's bytes as they arrive; returns CFO_OK to continue. */
typedef cfo_err (*cfo_storage_sink)(void *ctx, const void *data, size_t len, cfo_diag *d);

/* Backend operations; a backend fills one of these (designated initializers). */
typedef struct cfo_storage_ops {
    const char *scheme; /* "file", "gs" */
    /* Exclusive across processes for read-merge-write, or a no-op where
     * compare-and-swap alone protects writes. */
    cfo_err (*lock)(cfo_storage *self, cfo_diag *d);
    void (*unlock)(cfo_storage *self);
    /* Streams the object to sink and sets token to its version. Returns
     * CFO_ENOTFOUND (token "0") when it does not exist. */
    cfo_err (*read)(cfo_storage *self, cfo_storage_sink sink, void *ctx, char *token, cfo_diag *d);
    /* Replaces the object atomically if its version still equals
     * expect_token ("0": it must not exist); CFO_ECONFLICT otherwise. */
    cfo_err (*write)(cfo_storage *self, const void *data, size_t len, const char *expect_token,
                     cfo_diag *d);
    void (*destroy)(cfo_storage *self);
} cfo_storage_ops;

struct cfo_storage {
    const cfo_storage_ops *ops;
    char *url;     /* as given */
    char *display; /* what messages call it: a path or gs://bucket/object */
};

/* Opens file:///abs/path, file://rel/path (relative to the current
 * directory), a plain path, or gs://bucket/object. */
cfo_err cfo_storage_open(const char *url, cfo_storage **out, cfo_diag *d);
void cfo_storage_destroy(cfo_storage **self_p);

/* Length of "scheme" when url starts with "scheme://" (RFC 3986 scheme
 * characters): 4 for file://, 2 for gs://; 0 for a plain path. */
size_t cfo_storage_scheme_len(const char *url);

/* url with a relative local path made relative to root instead of the
 * current directory (a dataset named in cfo.ini belongs to the repository);
 * any other URL as it is. Free it. */
char *cfo_storage_url_under(const char *url, const char *root);

cfo_err cfo_storage_lock(cfo_storage *self, cfo_diag *d);
void cfo_storage_unlock(cfo_storage *self);
cfo_err cfo_storage_read(cfo_storage *self, cfo_storage_sink sink, void *ctx, char *token,
                         cfo_diag *d);
cfo_err cfo_storage_write(cfo_storage *self, const void *data, size_t len, const char *expect_token,
                          cfo_diag *d);

/* Backends. */
cfo_err cfo_storage_file_open(const char *path, cfo_storage **out, cfo_diag *d);
/* gs://bucket/object over the GCS JSON API; credentials and endpoint from the
 * environment (gcs_auth.h). No network I/O until the first read or write. */
cfo_err cfo_storage_gcs_open(const char *bucket, const char *object, cfo_storage **out,
                             cfo_diag *d);

#endif
