/* cfo_config.h -- the project configuration (cfo.ini, read with inih). */
#ifndef CFO_CONFIG_H
#define CFO_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "cfo_error.h"
#include "cfo_fuzzer.h"

#define CFO_DEFAULT_DATASET "file://.cfo/data.json"
#define CFO_DEFAULT_BUDGET_MS (60LL * 60 * 1000)
#define CFO_DEFAULT_TASK_TIMEOUT_MS (30LL * 60 * 1000)
#define CFO_DEFAULT_WINDOW 32
#define CFO_MAX_FUZZERS 256

typedef struct cfo_config {
    char *path;    /* the file it came from, or NULL for the built-in defaults */
    char *dataset; /* URL */
    int64_t budget_ms;
    int64_t task_timeout_ms;
    int window;      /* commits kept in the dataset */
    bool window_set; /* window given explicitly (else the dataset's own) */
    int concurrency; /* 0: CPU count */
    /* --changed-since: a command given the diff on stdin that may name more
     * targets to run (JSON {"targets": ["FUZZER:TARGET", ...]}); empty: none */
    cfo_strv focus_argv;
    /* After each successful upload: a command given the findings' changes
     * on stdin, one JSON object a line; empty: none */
    cfo_strv notify_argv;
    cfo_fuzzer *fuzzers;
    size_t nfuzzers;
} cfo_config;

/* The built-in defaults: the seed's CANARY and INFRA_DRIFT. */
cfo_config *cfo_config_new_default(void);
/* Parses an INI file. On error, d names the file and line:
 * "cfo.ini:12: unknown key 'kidn' in [fuzzer \"X\"]". A file that declares
 * no fuzzer section gets the built-in fuzzers. */
cfo_err cfo_config_load(const char *path, cfo_config **out, cfo_diag *d);
/* Same, from a string (name is used in messages). */
cfo_err cfo_config_parse(const char *text, const char *name, cfo_config **out, cfo_diag *d);
void cfo_config_destroy(cfo_config **self_p);

/* The instance called name, or NULL. */
const cfo_fuzzer *cfo_config_find(const cfo_config *self, const char *name);

/* The i-th key cfo.ini may hold ([cfo]'s, then [fuzzer]'s, in the table's
 * order; a key of both sections comes twice), NULL past the last: what the
 * README's configuration section is checked against. */
const char *cfo_config_key_name(size_t i);

#endif
