/* cfo_error.h -- the project's one error type and its diagnostics. */
#ifndef CFO_ERROR_H
#define CFO_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/* Every fallible function returns a cfo_err; CFO_OK (0) is success. Detail for
 * the user travels separately in a cfo_diag the caller may pass (or NULL). */
typedef enum cfo_err {
    CFO_OK = 0,
    CFO_EINVAL,       /* bad argument or value from the user */
    CFO_EPARSE,       /* malformed input document */
    CFO_EIO,          /* an operating-system call failed */
    CFO_ENOTFOUND,    /* the object does not exist */
    CFO_ECONFLICT,    /* compare-and-swap lost: someone wrote in between */
    CFO_ELIMIT,       /* input exceeds a hard limit */
    CFO_EUNSUPPORTED, /* the build or the format does not support this */
    CFO_ETIMEDOUT,    /* a deadline passed */
    CFO_ECHILD,       /* a child process failed to start or behaved wrongly */
} cfo_err;

const char *cfo_strerror(cfo_err err);

/* A human-readable explanation of the last error, filled by the callee. */
typedef struct cfo_diag {
    char msg[1024];
} cfo_diag;

/* Formats into d (which may be NULL) and returns err, so callers can write
 * `return cfo_diag_set(d, CFO_EINVAL, "bad value '%s'", v);`. */
cfo_err cfo_diag_set(cfo_diag *d, cfo_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The same with the arguments as a va_list. */
cfo_err cfo_diag_vset(cfo_diag *d, cfo_err err, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Prepends "prefix: " to the message already in d. */
void cfo_diag_prefix(cfo_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
