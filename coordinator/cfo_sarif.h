/* cfo_sarif.h -- open findings as SARIF 2.1.0, for GitHub code scanning and
 * any other SARIF consumer. */
#ifndef CFO_SARIF_H
#define CFO_SARIF_H

#include "cfo_findings.h"
#include "cfo_util.h"

/* Writes one SARIF log with one run of the tool "CFO": a rule per finding
 * kind present, one result per open finding (ruleId = kind; the location,
 * when known, is the top frame inside the repository, "path:line"; the
 * message says what, since when, the fixed range of an earlier fix and how
 * to reproduce; partialFingerprints carry the finding's id, so code scanning
 * keeps one alert per finding across runs). */
void cfo_sarif_write(const cfo_findings *fs, cfo_buf *out);

/* The command that reproduces f: "cfo-crash reproduce BUNDLE" for an engine
 * finding with a bundle, else "cfo-fuzz FUZZER TARGET" from the worktree's
 * root. Caller frees. */
char *cfo_finding_reproduce_command(const cfo_finding *f);

#endif
