/* cfo_exec_argv.h -- what a task's target may be, and how an exec fuzzer's
 * run template becomes the argv of one task. */
#ifndef CFO_EXEC_ARGV_H
#define CFO_EXEC_ARGV_H

#include "cfo_error.h"
#include "cfo_fuzzer.h"
#include "cfo_util.h"

/* Checks that a target names a place inside the worktree: not empty, no
 * leading '-', not absolute, no "..", no control characters, at most 1024
 * bytes. */
cfo_err cfo_target_validate(const char *target, cfo_diag *d);

/* The placeholder replaced by the target inside each word of run_argv. */
#define CFO_EXEC_TARGET_WORD "{target}"

/* Validates target (cfo_target_validate) and appends to out (initialised by
 * the caller) f->run_argv with every "{target}" inside each word replaced by
 * target. Substitution is textual within a word and never splits or joins
 * words: the result is an argv, not a shell line. Fails with CFO_EINVAL for a
 * bad target or an empty run_argv; out is then left as it was. */
cfo_err cfo_exec_build_argv(const cfo_fuzzer *f, const char *target, cfo_strv *out, cfo_diag *d);

#endif
