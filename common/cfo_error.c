/* cfo_error.c -- error names and diagnostic formatting. */
#include "cfo_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cfo_strerror(cfo_err err)
{
    switch (err) {
    case CFO_OK:
        return "success";
    case CFO_EINVAL:
        return "invalid value";
    case CFO_EPARSE:
        return "malformed input";
    case CFO_EIO:
        return "input/output error";
    case CFO_ENOTFOUND:
        return "not found";
    case CFO_ECONFLICT:
        return "concurrent modification";
    case CFO_ELIMIT:
        return "limit exceeded";
    case CFO_EUNSUPPORTED:
        return "not supported";
    case CFO_ETIMEDOUT:
        return "timed out";
    case CFO_ECHILD:
        return "child process failed";
    }
    return "unknown error";
}

cfo_err cfo_diag_set(cfo_diag *d, cfo_err err, const char *fmt, ...)
{
    if (d != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
    }
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
