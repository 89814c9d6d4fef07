/* cfo_preflight.h -- before any task runs: the tools each selected fuzzer's
 * kind needs are on PATH, or the run stops at once, saying which is missing
 * and how to get it, rather than recording an error for every task. */
#ifndef CFO_PREFLIGHT_H
#define CFO_PREFLIGHT_H

#include "cfo_config.h"
#include "cfo_error.h"
#include "cfo_util.h"

/* Checks the tools of the fuzzers of config that only names (empty: all).
 * CFO_ENOTFOUND with d naming the first missing tool, its fuzzer and how to
 * install it. */
cfo_err cfo_preflight(const cfo_config *config, const cfo_strv *only, cfo_diag *d);

#endif
