/* cfo_cli.c -- the options of cfo and cfo-coordinator, as one table. */
#include "cfo_cli.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cfo_cmdline.h"
#include "cfo_log.h"
#include "cfo_metrics.h"
#include "cfo_proto.h"
#include "cfo_sched.h"

#define BOTH (CFO_PROG_CFO | CFO_PROG_COORDINATOR)
#define SINGLE CFO_PROG_CFO
#define COORD CFO_PROG_COORDINATOR
#define AT(field) offsetof(cfo_cli, field)

static const char *const log_formats[] = {"text", "json", NULL};

static const cfo_option options[] = {
    {"config", CFO_OPT_STRING, BOTH, AT(config), "FILE",
     .help = "project configuration (default: $CFO_CONFIG, else cfo.ini in the\n"
             "repo root if present, else the built-in CANARY and INFRA_DRIFT)"},
    {"repo", CFO_OPT_STRING, BOTH, AT(repo), "PATH",
     .help = "git repository whose branches are tested (default: .)"},
    {"dataset", CFO_OPT_STRING, BOTH, AT(dataset), "URL",
     .help = "file:///abs/path, file://rel/path or gs://bucket/object\n"
             "(default: the config's, else file://.cfo/data.json; a\n"
             "relative one from the config is in the repository)"},
    {"dry-run", CFO_OPT_FLAG, BOTH, AT(dry_run),
     .help = "print every task (fuzzer, branch, commit, target; tab-\n"
             "separated), run nothing, write nothing, exit 0"},
    {"concurrency", CFO_OPT_INT, SINGLE, AT(concurrency), "N", 1, CFO_PROTO_MAX_SLOTS,
     .help = "most tasks running at once (default: CPU count)"},
    {"concurrency", CFO_OPT_INT, COORD, AT(concurrency), "N", 1, CFO_PROTO_MAX_SLOTS,
     .help = "most tasks running at once across all workers\n"
             "(default: as many as the workers' slots)"},
    {"budget", CFO_OPT_DURATION, BOTH, AT(budget_ms), "DUR",
     .help = "the whole run's wall-clock budget, e.g. 90s, 30m, 1h\n"
             "(default: 60m)"},
    {"task-timeout", CFO_OPT_DURATION, BOTH, AT(task_timeout_ms), "DUR",
     .help = "cap for one task (default: 30m)"},
    {"save-logs", CFO_OPT_OPT_DIR, SINGLE, AT(logs_dir), "[DIR]", .fallback = "cfo_logs",
     .help = "keep each task's output under DIR (default: cfo_logs/)"},
    {"grace", CFO_OPT_DURATION, SINGLE, AT(grace_ms), "DUR",
     .help = "SIGTERM to SIGKILL delay when a task is stopped\n"
             "(default: 5s)"},
    {"bind", CFO_OPT_STRING, COORD, AT(bind), "ENDPOINT",
     .help = "where workers connect (default: tcp://127.0.0.1:5555)"},
    {"wait-workers", CFO_OPT_DURATION, COORD, AT(wait_workers_ms), "DUR",
     .help = "exit 3 when no worker connected by then (default: 5m)"},
    {"prefetch", CFO_OPT_INT, COORD, AT(prefetch), "N", 0, CFO_SCHED_PREFETCH_MAX,
     .help = "tasks a worker may hold beyond its slots (default:\n"
             "one per slot while every fuzzer it runs has taken\n"
             "under 50ms a task on average in this run and more\n"
             "tasks are queued than workers have slots; else none)"},
    {"curve-secret", CFO_OPT_STRING, COORD, AT(curve_secret), "FILE",
     .help = "this coordinator's CURVE secret key (cfo-keygen); with\n"
             "--allow-dir only workers whose key is there connect,\n"
             "and all traffic is encrypted"},
    {"allow-dir", CFO_OPT_STRING, COORD, AT(allow_dir), "DIR",
     .help = "public keys (*.pub) of the workers allowed in; re-read\n"
             "on SIGHUP"},
    {"insecure", CFO_OPT_FLAG, COORD, AT(insecure),
     .help = "serve workers on a non-loopback address without keys,\n"
             "and --metrics PORT on every address"},
    {"metrics", CFO_OPT_STRING, COORD, AT(metrics), "HOST:PORT",
     .help = "serve Prometheus text format at http://HOST:PORT/metrics;\n"
             "PORT alone is 127.0.0.1 (every address with --insecure)"},
    {"metrics-linger", CFO_OPT_DURATION, COORD, AT(metrics_linger_ms), "DUR",
     .help = "keep serving /metrics for DUR after the run, so a\n"
             "scrape sees its final figures (SIGTERM ends it; default: 0)"},
    {"grace", CFO_OPT_DURATION, COORD, AT(grace_ms), "DUR",
     .help = "how long stopped tasks take to report back\n"
             "(default: 5s; each worker keeps its own logs)"},
    {"heartbeat", CFO_OPT_DURATION, BOTH, AT(heartbeat_ms), "DUR", 10, 60000, "10ms and 60s",
     .help = "heartbeat interval; a peer silent for 3 is dead (default: 1s)"},
    {"upload", CFO_OPT_FLAG, BOTH, AT(upload),
     .help = "merge the new records into the dataset and write it;\n"
             "without it nothing is written to the dataset"},
    {"fuzzer", CFO_OPT_LIST, BOTH, AT(only), "NAME",
     .help = "only this fuzzer (repeatable; default: all registered)"},
    {"force", CFO_OPT_FLAG, BOTH, AT(force),
     .help = "run targets that already passed on the same commit,\n"
             "for fuzzers with skip_passed"},
    {"changed-since", CFO_OPT_STRING, BOTH, AT(changed_since), "REF",
     .help = "only the targets the change since REF touches (git diff\n"
             "REF...BRANCH): Terraform modules whose files or local\n"
             "child modules changed, exec targets by their 'paths'\n"
             "map, plus what the config's focus_command names"},
    {"shard", CFO_OPT_STRING, BOTH, AT(shard_spec), "K/N",
     .help = "run only runner K's share of N (from 1), for CI matrices\n"
             "whose jobs cannot reach each other: the shares are\n"
             "disjoint, together the whole set, balanced by the\n"
             "durations the dataset's history expects; the canary runs\n"
             "on shard 1. auto: CircleCI's CIRCLE_NODE_INDEX/TOTAL"},
    {"schedule", CFO_OPT_CHOICE, BOTH, AT(schedule), "ORDER", .choices = cfo_schedule_names,
     .help = "history (default): targets that failed last first, then\n"
             "targets never run, then the rest longest-expected first,\n"
             "from the dataset; fifo: in generation order"},
    {"report", CFO_OPT_STRING, BOTH, AT(report), "FILE", .help = "write a JSON run report"},
    {"junit", CFO_OPT_STRING, BOTH, AT(junit), "FILE",
     .help = "write JUnit XML (one testcase per task)"},
    {"sarif", CFO_OPT_STRING, BOTH, AT(sarif), "FILE",
     .help = "write SARIF 2.1.0: one result per open finding of the\n"
             "run's targets (for GitHub code scanning)"},
    {"joblog", CFO_OPT_STRING, BOTH, AT(joblog), "FILE",
     .help = "one line per finished task, in GNU parallel's joblog\n"
             "columns (Seq, Host, Starttime, JobRuntime, Send, Receive,\n"
             "Exitval, Signal, Command)"},
    {"workdir", CFO_OPT_STRING, BOTH, AT(workdir), "DIR",
     .help = "where worktrees are made (default: .cfo/work in the\n"
             "repository)"},
    {"keep-worktrees", CFO_OPT_FLAG, BOTH, AT(keep_worktrees),
     .help = "keep the worktrees of commits that are no longer a\n"
             "configured branch's head (by default they are removed\n"
             "after the run)"},
    {"state-dir", CFO_OPT_STRING, BOTH, AT(state_dir), "DIR",
     .help = "journal the run there (fsynced before each result is\n"
             "acknowledged); started again with the same DIR, an\n"
             "unfinished run resumes: committed tasks are not run again,\n"
             "the budget counts from the first start"},
    {"resume-upload-only", CFO_OPT_FLAG, BOTH, AT(resume_upload_only),
     .help = "with --state-dir: run nothing, merge and upload what the\n"
             "journal's unfinished run committed (after a failed upload)"},
    {"allow-incomplete", CFO_OPT_FLAG, BOTH, AT(allow_incomplete),
     .help = "exit 0 instead of 4 when a critical task did not run to\n"
             "its end (cut by the budget or a stop, or never started)"},
    {"quiet", CFO_OPT_FLAG, BOTH, AT(quiet), .help = "no progress lines"},
    {"log-format", CFO_OPT_CHOICE, BOTH, AT(log_format), "FORMAT", .choices = log_formats,
     .help = "text (default) or json: every log and progress line as\n"
             "one JSON object, and one when each task starts and ends"},
    {"version", CFO_OPT_VERSION, BOTH, .help = "print the version and exit"},
    {"help", CFO_OPT_HELP, BOTH, .help = "this text"},
    {.name = NULL},
};

static const char epilog[] =
    "\n"
    "Exit status: 0 every critical task ran to its end and passed, and the canary\n"
    "failed as it must; 1 a critical fuzzer failed; 2 usage or configuration\n"
    "error; 3 the harness failed (canary did not fail, a fuzzer's tool is\n"
    "missing, no worker ever connected, storage could not be read or written,\n"
    "the run was stopped by a signal); 4 incomplete: nothing critical failed, but\n"
    "a critical task did not run to its end, so the run proves nothing about it\n"
    "(--allow-incomplete makes it 0). Reports are written for every status once\n"
    "the run has started.\n";

static const cfo_cmd commands[2] = {
    {"cfo", CFO_PROG_CFO, options,
     "usage: cfo [options]\n"
     "Runs every registered fuzzer against every target and branch of a git\n"
     "repository on this machine under a time budget, and merges the results\n"
     "into the dataset.\n\n",
     epilog},
    {"cfo-coordinator", CFO_PROG_COORDINATOR, options,
     "usage: cfo-coordinator [options]\n"
     "Generates the tasks of a run and serves them to cfo-worker processes\n"
     "over ZeroMQ, then merges their results into the dataset.\n\n",
     epilog},
};

bool cfo_cli_is_local_endpoint(const char *endpoint)
{
    if (strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0)
        return true;
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    return strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost:", 10) == 0 ||
           strncmp(host, "[::1]:", 6) == 0;
}

/* What no single option can check alone. */
static int check_together(cfo_cli *c, const char *prog)
{
    if (c->shard_spec != NULL) {
        cfo_diag d = {{0}};
        if (cfo_shard_parse(c->shard_spec, &c->shard, &d) != CFO_OK)
            return cfo_usage_error(prog, "%s", d.msg);
    }
    if (c->metrics != NULL) {
        cfo_diag d = {{0}};
        char host[256];
        uint16_t port;
        if (cfo_metrics_parse_address(c->metrics, c->insecure, host, sizeof host, &port, &d) !=
            CFO_OK)
            return cfo_usage_error(prog, "%s", d.msg);
    }
    if (c->metrics_linger_ms > 0 && c->metrics == NULL)
        return cfo_usage_error(prog, "--metrics-linger needs --metrics");
    if (c->resume_upload_only && (c->state_dir == NULL || !c->upload))
        return cfo_usage_error(prog, "--resume-upload-only needs --state-dir and --upload");
    if ((c->curve_secret == NULL) != (c->allow_dir == NULL))
        return cfo_usage_error(prog, "--curve-secret and --allow-dir go together");
    if (!c->single && c->curve_secret == NULL && !c->insecure &&
        !cfo_cli_is_local_endpoint(c->bind))
        return cfo_usage_error(prog,
                               "refusing to serve workers on %s without CURVE keys: give "
                               "--curve-secret and --allow-dir, or --insecure",
                               c->bind);
    return 0;
}

int cfo_cli_parse(int argc, char **argv, bool single, cfo_cli *c)
{
    const cfo_cmd *cmd = &commands[single ? 0 : 1];
    *c = (cfo_cli){
        .single = single,
        .repo = ".",
        .bind = "tcp://127.0.0.1:5555",
        .wait_workers_ms = 5 * 60 * 1000,
        .prefetch = -1, /* the default: see --help */
        .schedule = CFO_SCHEDULE_HISTORY,
    };
    cfo_strv_init(&c->only);
    int rc = cfo_options_parse(cmd, argc, argv, c);
    if (rc != 0)
        return rc;
    cfo_log_set_json(c->log_format == 1);
    return check_together(c, cmd->prog);
}

void cfo_cli_fini(cfo_cli *c)
{
    cfo_strv_fini(&c->only);
}
