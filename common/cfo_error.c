/* cfo_error.c -- error names and diagnostic formatting. */
#include "cfo_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cfo_names.h"

static const char *const error_names[] = {
    [CFO_OK] = "success",
    [CFO_EINVAL] = "invalid value",
    [CFO_EPARSE] = "malformed input",
    [CFO_EIO] = "input/output error",
    [CFO_ENOTFOUND] = "not found",
    [CFO_ECONFLICT] = "concurrent modification",
    [CFO_ELIMIT] = "limit exceeded",
    [CFO_EUNSUPPORTED] = "not supported",
    [CFO_ETIMEDOUT] = "timed out",
    [CFO_ECHILD] = "child process failed",
};

const char *cfo_strerror(cfo_err err)
{
    return cfo_name_of(error_names, CFO_NELEM(error_names), (int)err, "unknown error");
}

cfo_err cfo_diag_vset(cfo_diag *d, cfo_err err, const char *fmt, va_list ap)
{
    if (d != NULL)
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    return err;
}

cfo_err cfo_diag_set(cfo_diag *d, cfo_err err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfo_diag_vset(d, err, fmt, ap);
    va_end(ap);
    return err;
}

void cfo_diag_prefix(cfo_diag *d, const char *fmt, ...)
{
    if (d == NULL)
        return;
    char head[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    char old[sizeof d->msg];
    memcpy(old, d->msg, sizeof old);
    snprintf(d->msg, sizeof d->msg, "%s: %s", head, old);
}
