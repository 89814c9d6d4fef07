/* cfo_cmdword.h -- words of a command line that a front end parses itself
 * (subcommands, positional arguments), beside cfo_cmdline_answers. */
#ifndef CFO_CMDWORD_H
#define CFO_CMDWORD_H

#include <stdbool.h>

/* Whether argv[*i] is --config FILE or --config=FILE. When it is, *path is
 * FILE and *i the index of the last word it took; a --config with no FILE
 * after it sets *path to NULL, having said so as cfo_usage_error does (the
 * caller then exits CFO_EXIT_USAGE). */
bool cfo_cmdword_config(const char *prog, int argc, char **argv, int *i, const char **path);

#endif
