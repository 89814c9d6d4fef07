/* cfo_runner.h -- the fuzz runner, cfo-fuzz, as the programs that start it
 * see it: where it is, how it is called, where a task's log goes. */
#ifndef CFO_RUNNER_H
#define CFO_RUNNER_H

#include "cfo_config.h"
#include "cfo_util.h"

/* Finds cfo-fuzz: beside the running program, else on PATH (free it); NULL
 * when there is none. */
char *cfo_find_runner(void);

/* Appends the runner's argv for fuzzer: runner [--config PATH] NAME. */
void cfo_runner_argv(cfo_strv *argv, const char *runner, const cfo_config *config,
                     const char *fuzzer);

/* The log file of a task under dir: dir/<fuzzer>/<branch>/<target>.log with
 * each part made safe as a file name. */
char *cfo_task_log_path(const char *dir, const char *fuzzer, const char *branch,
                        const char *target);

#endif
