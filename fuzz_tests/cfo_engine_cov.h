/* cfo_engine_cov.h -- an engine task's coverage step: the corpus replayed
 * through the coverage build, measured with llvm-profdata and llvm-cov,
 * and the HTML report stored beside the corpora. */
#ifndef CFO_ENGINE_COV_H
#define CFO_ENGINE_COV_H

#include "cfo_coverage.h"
#include "cfo_engine.h"

/* Measures r's target: the coverage build (cfo_engine_coverage_build),
 * then <coverage_dir>/<target> run once over every input of the ndirs
 * folders dirs (-runs=0), llvm-profdata merge, llvm-cov export
 * -summary-only for the figures, llvm-cov show -format=html for the
 * report. The report and CFO_COVERAGE_FILES go to
 * <corpus>/coverage/<FUZZER>/<target>/<commit>/ (replacing what an earlier
 * run of that commit stored). Fills *out (seconds: the whole step; report:
 * the stored index.html). Ends by deadline_ms (cfo_now_ms(); 0: none). */
cfo_err cfo_engine_coverage(const cfo_engine_run *r, const char *const *dirs, size_t ndirs,
                            const char *commit, int64_t deadline_ms, cfo_coverage *out,
                            cfo_diag *d);

/* The commit the task runs on: $CFO_COMMIT when it is a hex sha, else the
 * worktree's HEAD (git rev-parse); NULL with d saying why (free it). */
char *cfo_engine_commit(cfo_diag *d);

/* Reads llvm-cov export's JSON (-summary-only): the totals into out, and
 * into files (when not NULL) the source files with a covered line, with
 * the prefix root + "/" taken off those under root. CFO_EPARSE when the
 * text is not such a report. */
cfo_err cfo_engine_coverage_parse(const char *json, size_t len, const char *root, cfo_coverage *out,
                                  cfo_strv *files, cfo_diag *d);

#endif
