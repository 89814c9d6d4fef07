/* cfo_changes.h -- change-focused runs (--changed-since REF): the targets a
 * change touches. */
#ifndef CFO_CHANGES_H
#define CFO_CHANGES_H

#include <stdbool.h>

#include "cfo_config.h"
#include "cfo_error.h"
#include "cfo_record.h"
#include "cfo_util.h"

typedef struct cfo_change_set {
    cfo_strv files; /* repository paths changed since REF */
    cfo_strv focus; /* "FUZZER:TARGET" or "TARGET" named by the focus_command */
    /* The dataset, whose coverage records tell which files an engine's
     * target runs (borrowed; NULL: engine targets always run). */
    const cfo_recset *prior;
} cfo_change_set;

/* What changed from ref to sha since they diverged (git diff REF...SHA), and
 * when the config has a focus_command, what it names when given that diff
 * on stdin. A focus_command that fails or prints what is not valid is
 * reported with a warning and ignored: the built-in rules still decide. */
cfo_err cfo_changes_load(const char *top, const char *ref, const char *sha,
                         const cfo_config *config, cfo_change_set *out, cfo_diag *d);
void cfo_change_set_fini(cfo_change_set *cs);

/* Whether the change touches target of fuzzer f, whose files are in dir (a
 * worktree of the commit, or the repository):
 * - canary: always (the harness check runs on every run);
 * - infra_drift: a changed file inside the root module, or inside a local
 *   module it uses (source = "../..."), following modules transitively;
 * - exec: a changed file matches a glob of its `paths` that maps to target;
 *   a fuzzer without `paths` cannot tell, and runs every target;
 * - libfuzzer, afl: with a coverage build, when the target's newest
 *   coverage report covers a changed file, or it has none yet; without,
 *   always;
 * and every target the focus command named. */
bool cfo_changes_touch(const cfo_change_set *cs, const cfo_fuzzer *f, const char *dir,
                       const char *target);

/* Parses a focus command's output: {"targets": ["FUZZER:TARGET" or
 * "TARGET", ...]} (other keys, such as seed inputs, are allowed and not
 * used). */
cfo_err cfo_focus_parse(const char *json, size_t len, cfo_strv *focus, cfo_diag *d);

#endif
