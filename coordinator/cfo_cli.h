/* cfo_cli.h -- the options of cfo and cfo-coordinator: one table, shared by
 * both, that parses argv and writes --help. */
#ifndef CFO_CLI_H
#define CFO_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "cfo_priority.h"
#include "cfo_shard.h"
#include "cfo_util.h"

/* The programs of the table (cfo_option.programs). */
#define CFO_PROG_CFO 1u
#define CFO_PROG_COORDINATOR 2u

typedef struct cfo_cli {
    bool single; /* cfo; else cfo-coordinator */
    const char *config, *repo, *dataset, *logs_dir, *report, *junit, *workdir, *bind;
    bool dry_run, upload, force, quiet, insecure, resume_upload_only, allow_incomplete,
        keep_worktrees;
    const char *curve_secret, *allow_dir, *state_dir, *changed_since, *joblog, *sarif;
    const char *shard_spec; /* --shard, parsed into shard */
    const char *metrics;    /* --metrics HOST:PORT */
    int64_t metrics_linger_ms;
    cfo_shard shard;
    int schedule;   /* cfo_schedule */
    int log_format; /* 0 text, 1 json */
    int64_t concurrency, prefetch;
    int64_t budget_ms, task_timeout_ms, grace_ms, heartbeat_ms, wait_workers_ms;
    cfo_strv only; /* --fuzzer */
} cfo_cli;

/* Parses the options of cfo (single) or cfo-coordinator into c (which
 * cfo_cli_fini frees). Returns 0 when the run should go on, -1 when --help
 * or --version was answered (exit 0), or CFO_EXIT_USAGE after saying why. */
int cfo_cli_parse(int argc, char **argv, bool single, cfo_cli *c);
void cfo_cli_fini(cfo_cli *c);

/* Whether only this machine can reach endpoint: loopback TCP, ipc, inproc. */
bool cfo_cli_is_local_endpoint(const char *endpoint);

#endif
