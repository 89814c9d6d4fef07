/* cfo_gocov.h -- the coverage step of a gofuzz task: the corpus replayed by
 * go test -run with -coverprofile, the profile read into a record's
 * figures, go tool cover's HTML report stored beside the corpora. */
#ifndef CFO_GOCOV_H
#define CFO_GOCOV_H

#include "cfo_coverage.h"
#include "cfo_engine.h"

/* One gofuzz task as the coverage step needs it. */
typedef struct cfo_gocov_task {
    const cfo_fuzzer *f;
    const char *pkg;            /* "./parser", relative to the worktree (the cwd) */
    const char *name;           /* "FuzzParse" */
    const char *storage_target; /* the target's name in storage ("parser%3AFuzzParse") */
    const char *work;           /* the task's scratch folder */
    char *const *env;           /* "NAME=VALUE" of every go command, NULL-terminated */
} cfo_gocov_task;

/* Measures t's fuzz test: every input of the ndirs folders dirs (go test
 * fuzz v1 files) put in the package's testdata/fuzz/<name> in place of
 * what it holds (restored after), go test -run=^<name>$ -coverprofile
 * -covermode=set, go tool cover -func for the functions and -html for the
 * report. Report and CFO_COVERAGE_FILES (the covered .go files, relative
 * to the worktree) are stored as cfo_engine_coverage stores them. An input
 * that fails on the commit is left out and go test run again; a go test
 * that fails otherwise still counts when its profile has figures. Both
 * warn. Ends by deadline_ms (cfo_now_ms(); 0: none). */
cfo_err cfo_gocov_measure(const cfo_gocov_task *t, const char *const *dirs, size_t ndirs,
                          const char *commit, int64_t deadline_ms, cfo_coverage *out, cfo_diag *d);

/* Puts back the seed folder of pkg's fuzz test name that a coverage step
 * killed midway left aside (nothing to do when none did). Before anything
 * reads the seeds. */
cfo_err cfo_gocov_put_back_seeds(const char *pkg, const char *name, cfo_diag *d);

/* Reads a coverprofile (mode line, then "FILE:L.C,L.C STMTS COUNT" lines)
 * and go tool cover -func's output (funcs, NUL-terminated; NULL: functions
 * left 0/0). Regions: distinct blocks, covered when any entry of the block
 * counts more than 0; lines: distinct (file, line) pairs the blocks span,
 * covered when a covered block spans it; functions: -func's lines but the
 * total, covered above 0.0%. Appends to files (when not NULL), sorted, the
 * profile's file names (import paths) with a covered block. CFO_EPARSE,
 * naming the line, when the text is not such a profile; CFO_ELIMIT when it
 * is too large. */
cfo_err cfo_gocov_parse(const char *profile, size_t len, const char *funcs, cfo_coverage *out,
                        cfo_strv *files, cfo_diag *d);

/* The module path a go.mod's text declares (malloc'd), or NULL. */
char *cfo_gocov_module_path(const char *gomod);

#endif
