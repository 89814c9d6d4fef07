/* cfo_gopanic.h -- signs the failures of Go's native fuzzing: a panic (the
 * top frames of its goroutine's stack, past the runtime's and the testing
 * package's), a runtime fatal error, or a failing t.Fatal/t.Error site. */
#ifndef CFO_GOPANIC_H
#define CFO_GOPANIC_H

#include <stddef.h>

#include "cfo_error.h"
#include "cfo_triage.h"

/* Finds the first Go test failure in text[0..len) (go test -fuzz's report or
 * go test -run=FuzzX/HASH's) and fills *out, signed like a sanitizer report:
 * "crash:panic runtime error index out of range:parser.parseBody|...".
 * Frames are "package.Function" (the import path's last element); the
 * message's numbers and quoted values are left out of the type, so inputs
 * of one bug sign alike. CFO_ENOTFOUND when there is none. */
cfo_err cfo_gopanic_parse(const char *text, size_t len, cfo_crash_report *out);

#endif
