/* cfo_cmdline.h -- what every front end shares: exit statuses, usage
 * errors, the one rule that finds the configuration file, and a table-driven
 * option parser whose table also writes --help, so the two cannot disagree. */
#ifndef CFO_CMDLINE_H
#define CFO_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cfo_config.h"
#include "cfo_error.h"

/* Exit statuses (DESIGN.md). Programs that check one thing (cfo-crash
 * reproduce, cfo-fuzz) give FAIL its own meaning: not reproduced, found. */
typedef enum cfo_exit {
    CFO_EXIT_OK = 0,
    CFO_EXIT_FAIL = 1,
    CFO_EXIT_USAGE = 2,
    CFO_EXIT_HARNESS = 3,
    CFO_EXIT_INCOMPLETE = 4, /* cfo, cfo-coordinator: a critical task did not run to its end */
} cfo_exit;

/* Logs "error: MSG" and "Try 'PROG --help'." on stderr; returns
 * CFO_EXIT_USAGE. */
int cfo_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The configuration file, by the same rule in every binary: the --config
 * FILE given; else $CFO_CONFIG when set and not empty; else cfo.ini in root
 * (the repository's top folder; cfo-fuzz, which runs in a worktree, passes
 * the current folder) when it exists; else NULL, the built-in defaults.
 * Returns the path (free it) or NULL. */
char *cfo_config_path(const char *given, const char *root);

/* Loads the configuration the rule above finds, or the built-in defaults. */
cfo_err cfo_config_locate(const char *given, const char *root, cfo_config **out, cfo_diag *d);

typedef enum cfo_opt_kind {
    CFO_OPT_HELP,     /* --help: prints the table's help and stops */
    CFO_OPT_VERSION,  /* --version: prints "PROG VERSION" and stops */
    CFO_OPT_FLAG,     /* bool */
    CFO_OPT_STRING,   /* const char * (into argv) */
    CFO_OPT_DURATION, /* int64_t milliseconds, "90s", "30m", "1h" */
    CFO_OPT_INT,      /* int64_t */
    CFO_OPT_LIST,     /* cfo_strv, one entry per use */
    CFO_OPT_CHOICE,   /* int, the index of the word in choices */
    CFO_OPT_OPT_DIR,  /* const char *: "--opt DIR", "--opt=DIR" or "--opt" alone (fallback) */
} cfo_opt_kind;

/* One option of a front end. A table is an array ended by a row whose name
 * is NULL. Several programs share a table; each row says which take it, so
 * the option of another program is refused by name. */
typedef struct cfo_option {
    const char *name; /* without the dashes */
    cfo_opt_kind kind;
    unsigned programs;          /* bit mask of the programs that take it */
    size_t offset;              /* of the field in the program's options struct */
    const char *arg;            /* the argument's name in --help ("DUR"); NULL for flags */
    int64_t min, max;           /* CFO_OPT_INT, CFO_OPT_DURATION; both 0: no range */
    const char *range;          /* the range in words, for its error ("10ms and 60s") */
    const char *const *choices; /* CFO_OPT_CHOICE: NULL-terminated */
    const char *fallback;       /* CFO_OPT_OPT_DIR: the value when no DIR is given */
    const char *help;           /* lines separated by '\n' */
} cfo_option;

/* A front end: its name, its table, and the text --help puts around the
 * options. */
typedef struct cfo_cmd {
    const char *prog;
    unsigned program; /* the bit of this program in the table's rows */
    const cfo_option *table;
    const char *usage;  /* before the options: "usage: ...", what it does */
    const char *epilog; /* after them: exit statuses, signals */
} cfo_cmd;

/* Parses argv[1..argc) against the rows of cmd's table that its program
 * takes, into out. No positional arguments are taken. Returns 0 when
 * parsed, -1 when --help or --version was answered (the caller exits 0), or
 * CFO_EXIT_USAGE after saying why. */
int cfo_options_parse(const cfo_cmd *cmd, int argc, char **argv, void *out);

/* Writes --help: the usage, the options cmd's program takes, the epilog. */
void cfo_options_help(FILE *out, const cfo_cmd *cmd);

/* For front ends that parse their own words (subcommands, positional
 * arguments): answers arg when it is -h/--help (prints help) or --version.
 * Returns true when it did; the caller then exits CFO_EXIT_OK. */
bool cfo_cmdline_answers(const char *prog, const char *arg, const char *help);

/* The project's version, as every binary's --version prints it. */
const char *cfo_version(void);

#endif
