/* cfo_cli.c -- the orchestrator's front end, shared by cfo (single host: the
 * scheduler plus a worker thread over inproc://) and cfo-coordinator (the
 * scheduler serving workers over TCP): options, task generation, the run,
 * reports, the dataset upload, exit codes. */
#include "cfo_cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "cfo_budget.h"
#include "cfo_config.h"
#include "cfo_curve.h"
#include "cfo_exec.h"
#include "cfo_git.h"
#include "cfo_journal.h"
#include "cfo_log.h"
#include "cfo_priority.h"
#include "cfo_proto.h"
#include "cfo_report.h"
#include "cfo_sched.h"
#include "cfo_session.h"
#include "cfo_storage.h"
#include "cfo_store.h"
#include "cfo_task.h"

enum { EXIT_PASS = 0, EXIT_CRITICAL = 1, EXIT_USAGE = 2, EXIT_HARNESS = 3 };

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_stop_signal(int sig)
{
    /* The first signal stops the run gracefully; a second one means now. The
     * journal is durable at every step, so nothing committed is lost. */
    if (stop_requested)
        _exit(128 + sig);
    stop_requested = 1;
}

static void on_reload_signal(int sig)
{
    (void)sig;
    reload_requested = 1;
}

static void usage(FILE *out, bool single)
{
    const char *prog = single ? "cfo" : "cfo-coordinator";
    fprintf(out, "usage: %s [options]\n", prog);
    if (single)
        fprintf(out, "Runs every registered fuzzer against every target and branch of a git\n"
                     "repository on this machine under a time budget, and merges the results\n"
                     "into the dataset.\n");
    else
        fprintf(out, "Generates the tasks of a run and serves them to cfo-worker processes\n"
                     "over ZeroMQ, then merges their results into the dataset.\n");
    fprintf(out, "\n"
                 "  --config FILE        project configuration (default: cfo.ini in the repo root\n"
                 "                       if present, else the built-in CANARY and INFRA_DRIFT)\n"
                 "  --repo PATH          git repository whose branches are tested (default: .)\n"
                 "  --dataset URL        file:///abs/path, file://rel/path or gs://bucket/object\n"
                 "                       (default: the config's, else file://.cfo/data.json)\n"
                 "  --dry-run            print every task (fuzzer, branch, commit, target; tab-\n"
                 "                       separated), run nothing, exit 0\n");
    if (single)
        fprintf(out, "  --concurrency N      most tasks running at once (default: CPU count)\n");
    else
        fprintf(out, "  --concurrency N      most tasks running at once across all workers\n"
                     "                       (default: as many as the workers' slots)\n");
    fprintf(out, "  --budget DUR         the whole run's wall-clock budget, e.g. 90s, 30m, 1h\n"
                 "                       (default: 60m)\n"
                 "  --task-timeout DUR   cap for one task (default: 30m)\n");
    if (single)
        fprintf(out,
                "  --save-logs [DIR]    keep each task's output under DIR (default: cfo_logs/)\n"
                "  --grace DUR          SIGTERM to SIGKILL delay when a task is stopped\n"
                "                       (default: 5s)\n");
    else
        fprintf(out,
                "  --bind ENDPOINT      where workers connect (default: tcp://127.0.0.1:5555)\n"
                "  --wait-workers DUR   exit 3 when no worker connected by then (default: 5m)\n"
                "  --prefetch N         tasks a worker may hold beyond its slots (default: 0)\n"
                "  --curve-secret FILE  this coordinator's CURVE secret key (cfo-keygen); with\n"
                "                       --allow-dir only workers whose key is there connect,\n"
                "                       and all traffic is encrypted\n"
                "  --allow-dir DIR      public keys (*.pub) of the workers allowed in; re-read\n"
                "                       on SIGHUP\n"
                "  --insecure           serve workers on a non-loopback address without keys\n"
                "  --grace DUR          how long stopped tasks take to report back\n"
                "                       (default: 5s; each worker keeps its own logs)\n");
    fprintf(out,
            "  --heartbeat DUR      heartbeat interval; a peer silent for 3 is dead (default: 1s)\n"
            "  --upload             merge the new records into the dataset and write it;\n"
            "                       without it nothing is written to the dataset\n"
            "  --fuzzer NAME        only this fuzzer (repeatable; default: all registered)\n"
            "  --force              run targets that already passed on the same commit\n"
            "  --changed-since REF  only the targets the change since REF touches (git diff\n"
            "                       REF...BRANCH): Terraform modules whose files or local\n"
            "                       child modules changed, exec targets by their 'paths'\n"
            "                       map, plus what the config's focus_command names\n"
            "  --schedule ORDER     history (default): targets that failed last first, then\n"
            "                       targets never run, then the rest longest-expected first,\n"
            "                       from the dataset; fifo: in generation order\n"
            "  --report FILE        write a JSON run report\n"
            "  --junit FILE         write JUnit XML (one testcase per task)\n"
            "  --workdir DIR        where worktrees are made (default: .cfo/work)\n"
            "  --state-dir DIR      journal the run there (fsynced before each result is\n"
            "                       acknowledged); started again with the same DIR, an\n"
            "                       unfinished run resumes: committed tasks are not run again,\n"
            "                       the budget counts from the first start\n"
            "  --resume-upload-only with --state-dir: run nothing, merge and upload what the\n"
            "                       journal's unfinished run committed (after a failed upload)\n"
            "  --quiet              no progress lines\n"
            "  --log-format FORMAT  text (default) or json: every log and progress line as\n"
            "                       one JSON object\n"
            "  --help               this text\n"
            "\n"
            "Exit status: 0 every critical task passed and the canary failed as it must;\n"
            "1 a critical fuzzer failed; 2 usage or configuration error; 3 the harness\n"
            "failed (canary did not fail, no worker ever connected, storage could not be\n"
            "read or written).\n");
}

typedef struct cli {
    bool single;
    const char *config, *repo, *dataset, *logs_dir, *report, *junit, *workdir, *bind;
    bool dry_run, upload, force, quiet, json, insecure, resume_upload_only;
    const char *curve_secret, *allow_dir, *state_dir, *changed_since;
    cfo_schedule schedule;
    int concurrency;
    int64_t budget_ms, task_timeout_ms, grace_ms, heartbeat_ms, wait_workers_ms;
    uint32_t prefetch;
    cfo_strv only;
} cli;

/* Whether only this machine can reach endpoint: loopback TCP, ipc, inproc. */
static bool is_local_endpoint(const char *endpoint)
{
    if (strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0)
        return true;
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    return strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost:", 10) == 0 ||
           strncmp(host, "[::1]:", 6) == 0;
}

static int parse_cli(int argc, char **argv, cli *c)
{
    enum {
        O_CONFIG = 256,
        O_REPO,
        O_DATASET,
        O_DRY_RUN,
        O_CONCURRENCY,
        O_BUDGET,
        O_TASK_TIMEOUT,
        O_SAVE_LOGS,
        O_UPLOAD,
        O_FUZZER,
        O_FORCE,
        O_REPORT,
        O_JUNIT,
        O_WORKDIR,
        O_GRACE,
        O_QUIET,
        O_HELP,
        O_BIND,
        O_WAIT_WORKERS,
        O_PREFETCH,
        O_HEARTBEAT,
        O_LOG_FORMAT,
        O_CURVE_SECRET,
        O_ALLOW_DIR,
        O_INSECURE,
        O_STATE_DIR,
        O_RESUME_UPLOAD_ONLY,
        O_SCHEDULE,
        O_CHANGED_SINCE,
    };
    static const struct option opts[] = {
        {"config", required_argument, NULL, O_CONFIG},
        {"repo", required_argument, NULL, O_REPO},
        {"dataset", required_argument, NULL, O_DATASET},
        {"dry-run", no_argument, NULL, O_DRY_RUN},
        {"concurrency", required_argument, NULL, O_CONCURRENCY},
        {"budget", required_argument, NULL, O_BUDGET},
        {"task-timeout", required_argument, NULL, O_TASK_TIMEOUT},
        {"save-logs", optional_argument, NULL, O_SAVE_LOGS},
        {"upload", no_argument, NULL, O_UPLOAD},
        {"fuzzer", required_argument, NULL, O_FUZZER},
        {"force", no_argument, NULL, O_FORCE},
        {"report", required_argument, NULL, O_REPORT},
        {"junit", required_argument, NULL, O_JUNIT},
        {"workdir", required_argument, NULL, O_WORKDIR},
        {"grace", required_argument, NULL, O_GRACE},
        {"quiet", no_argument, NULL, O_QUIET},
        {"help", no_argument, NULL, O_HELP},
        {"bind", required_argument, NULL, O_BIND},
        {"wait-workers", required_argument, NULL, O_WAIT_WORKERS},
        {"prefetch", required_argument, NULL, O_PREFETCH},
        {"heartbeat", required_argument, NULL, O_HEARTBEAT},
        {"log-format", required_argument, NULL, O_LOG_FORMAT},
        {"curve-secret", required_argument, NULL, O_CURVE_SECRET},
        {"allow-dir", required_argument, NULL, O_ALLOW_DIR},
        {"insecure", no_argument, NULL, O_INSECURE},
        {"state-dir", required_argument, NULL, O_STATE_DIR},
        {"resume-upload-only", no_argument, NULL, O_RESUME_UPLOAD_ONLY},
        {"schedule", required_argument, NULL, O_SCHEDULE},
        {"changed-since", required_argument, NULL, O_CHANGED_SINCE},
        {NULL, 0, NULL, 0},
    };
    cfo_diag d = {{0}};
    int64_t v;
    opterr = 0;
    for (;;) {
        int o = getopt_long(argc, argv, "+", opts, NULL);
        if (o == -1)
            break;
        /* Options of the other program are errors here, not silently ignored. */
        bool only_single = o == O_SAVE_LOGS;
        bool only_coord = o == O_BIND || o == O_WAIT_WORKERS || o == O_PREFETCH ||
                          o == O_CURVE_SECRET || o == O_ALLOW_DIR || o == O_INSECURE;
        if ((only_single && !c->single) || (only_coord && c->single)) {
            snprintf(d.msg, sizeof d.msg, "option '%s' is not one of %s's", argv[optind - 1],
                     c->single ? "cfo" : "cfo-coordinator");
            goto bad;
        }
        switch (o) {
        case O_CONFIG:
            c->config = optarg;
            break;
        case O_REPO:
            c->repo = optarg;
            break;
        case O_DATASET:
            c->dataset = optarg;
            break;
        case O_DRY_RUN:
            c->dry_run = true;
            break;
        case O_CONCURRENCY:
            if (cfo_parse_int(optarg, 1, CFO_PROTO_MAX_SLOTS, &v, &d) != CFO_OK)
                goto bad;
            c->concurrency = (int)v;
            break;
        case O_PREFETCH:
            if (cfo_parse_int(optarg, 0, 64, &v, &d) != CFO_OK)
                goto bad;
            c->prefetch = (uint32_t)v;
            break;
        case O_BUDGET:
            if (cfo_parse_duration(optarg, &c->budget_ms, &d) != CFO_OK)
                goto bad;
            break;
        case O_TASK_TIMEOUT:
            if (cfo_parse_duration(optarg, &c->task_timeout_ms, &d) != CFO_OK)
                goto bad;
            break;
        case O_GRACE:
            if (cfo_parse_duration(optarg, &c->grace_ms, &d) != CFO_OK)
                goto bad;
            break;
        case O_HEARTBEAT:
            if (cfo_parse_duration(optarg, &c->heartbeat_ms, &d) != CFO_OK)
                goto bad;
            if (c->heartbeat_ms < 10 || c->heartbeat_ms > 60000) {
                snprintf(d.msg, sizeof d.msg, "--heartbeat must be between 10ms and 60s");
                goto bad;
            }
            break;
        case O_WAIT_WORKERS:
            if (cfo_parse_duration(optarg, &c->wait_workers_ms, &d) != CFO_OK)
                goto bad;
            break;
        case O_SAVE_LOGS:
            /* "--save-logs DIR" as well as "--save-logs=DIR": cfo takes no
             * positional arguments, so a following non-option word is DIR. */
            if (optarg != NULL)
                c->logs_dir = optarg;
            else if (optind < argc && argv[optind][0] != '-')
                c->logs_dir = argv[optind++];
            else
                c->logs_dir = "cfo_logs";
            break;
        case O_UPLOAD:
            c->upload = true;
            break;
        case O_FUZZER:
            cfo_strv_push(&c->only, optarg);
            break;
        case O_FORCE:
            c->force = true;
            break;
        case O_REPORT:
            c->report = optarg;
            break;
        case O_JUNIT:
            c->junit = optarg;
            break;
        case O_WORKDIR:
            c->workdir = optarg;
            break;
        case O_BIND:
            c->bind = optarg;
            break;
        case O_QUIET:
            c->quiet = true;
            break;
        case O_CHANGED_SINCE:
            c->changed_since = optarg;
            break;
        case O_SCHEDULE:
            if (cfo_schedule_parse(optarg, &c->schedule) != 0) {
                snprintf(d.msg, sizeof d.msg, "--schedule must be history or fifo, not '%s'",
                         optarg);
                goto bad;
            }
            break;
        case O_STATE_DIR:
            c->state_dir = optarg;
            break;
        case O_RESUME_UPLOAD_ONLY:
            c->resume_upload_only = true;
            break;
        case O_CURVE_SECRET:
            c->curve_secret = optarg;
            break;
        case O_ALLOW_DIR:
            c->allow_dir = optarg;
            break;
        case O_INSECURE:
            c->insecure = true;
            break;
        case O_LOG_FORMAT:
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
                snprintf(d.msg, sizeof d.msg, "--log-format must be text or json, not '%s'",
                         optarg);
                goto bad;
            }
            c->json = strcmp(optarg, "json") == 0;
            cfo_log_set_json(c->json);
            break;
        case O_HELP:
            usage(stdout, c->single);
            return 1;
        case '?':
        default:
            snprintf(d.msg, sizeof d.msg, "unknown or incomplete option '%s'", argv[optind - 1]);
            goto bad;
        }
        continue;
    bad:
        cfo_error("%s", d.msg);
        fprintf(stderr, "Try '%s --help'.\n", c->single ? "cfo" : "cfo-coordinator");
        return -1;
    }
    if (c->resume_upload_only && (c->state_dir == NULL || !c->upload)) {
        cfo_error("--resume-upload-only needs --state-dir and --upload");
        return -1;
    }
    if ((c->curve_secret == NULL) != (c->allow_dir == NULL)) {
        cfo_error("--curve-secret and --allow-dir go together");
        return -1;
    }
    if (!c->single && c->curve_secret == NULL && !c->insecure && !is_local_endpoint(c->bind)) {
        cfo_error("refusing to serve workers on %s without CURVE keys: give --curve-secret and "
                  "--allow-dir, or --insecure",
                  c->bind);
        return -1;
    }
    if (optind < argc) {
        cfo_error("unexpected argument '%s'", argv[optind]);
        fprintf(stderr, "Try '%s --help'.\n", c->single ? "cfo" : "cfo-coordinator");
        return -1;
    }
    return 0;
}

static char *make_run_id(const char *host)
{
    char stamp[40];
    int64_t now = cfo_wall_ms();
    cfo_format_time(now / 1000 * 1000, stamp, sizeof stamp);
    char compact[40];
    size_t k = 0;
    for (const char *p = stamp; *p && k + 1 < sizeof compact; p++)
        if (*p != '-' && *p != ':')
            compact[k++] = *p;
    compact[k] = '\0';
    unsigned r = (unsigned)(now ^ ((int64_t)getpid() << 16));
    return cfo_xasprintf("%s-%s-%d-%04x", compact, host, (int)getpid(), r & 0xffff);
}

/* The exit status and the sentence that explains it. */
static int verdict(const cfo_taskset *ts, const cfo_outcome *outcomes, char *why, size_t len)
{
    size_t canary_runs = 0;
    for (size_t i = 0; i < ts->n; i++) {
        const cfo_task *t = &ts->v[i];
        cfo_status s = outcomes[i].status;
        if (t->fuzzer->kind != CFO_KIND_CANARY || s == CFO_STATUS_CANCELLED)
            continue;
        canary_runs++;
        if (s != CFO_STATUS_FAIL) {
            snprintf(why, len, "harness failure: canary %s on %s ended '%s' instead of failing",
                     t->fuzzer->name, t->branch, cfo_status_name(s));
            return EXIT_HARNESS;
        }
    }
    size_t critical_failed = 0;
    const cfo_task *first = NULL;
    for (size_t i = 0; i < ts->n; i++) {
        cfo_status s = outcomes[i].status;
        if (!ts->v[i].fuzzer->critical || s == CFO_STATUS_PASS || s == CFO_STATUS_CANCELLED)
            continue;
        if (critical_failed++ == 0)
            first = &ts->v[i];
    }
    if (critical_failed > 0) {
        snprintf(why, len, "%zu critical task(s) did not pass, first: %s %s %s", critical_failed,
                 first->fuzzer->name, first->branch, first->target);
        return EXIT_CRITICAL;
    }
    snprintf(why, len, "every critical task passed%s",
             canary_runs ? " and the canary failed as it must" : "");
    return EXIT_PASS;
}

static bool any_needs_seed(const cfo_config *cfg, const cfo_strv *only)
{
    for (size_t i = 0; i < cfg->nfuzzers; i++)
        if (cfg->fuzzers[i].needs_seed &&
            (only->n == 0 || cfo_strv_contains(only, cfg->fuzzers[i].name)))
            return true;
    return false;
}

typedef struct local_worker {
    pthread_t thread;
    cfo_session_opts opts;
    int rc;
} local_worker;

static void *local_worker_main(void *arg)
{
    local_worker *lw = arg;
    lw->rc = cfo_session_run(&lw->opts);
    return NULL;
}

/* The scheduler's sockets: inproc:// for the local worker of cfo, the
 * --bind endpoint for cfo-coordinator. */
static cfo_err open_router(void *zctx, const char *endpoint, const char *curve_secret, void **out,
                           cfo_diag *d)
{
    void *sock = zmq_socket(zctx, ZMQ_ROUTER);
    if (sock == NULL)
        return cfo_diag_set(d, CFO_EIO, "zmq_socket: %s", zmq_strerror(errno));
    cfo_err err = cfo_wire_setup(sock, true, d);
    if (err == CFO_OK && curve_secret != NULL)
        err = cfo_curve_server_setup(sock, curve_secret, d);
    if (err == CFO_OK && zmq_bind(sock, endpoint) != 0)
        err = cfo_diag_set(d, CFO_EIO, "cannot bind %s: %s", endpoint, zmq_strerror(errno));
    if (err != CFO_OK) {
        zmq_close(sock);
        return err;
    }
    *out = sock;
    return CFO_OK;
}

int cfo_orchestrator_main(int argc, char **argv, bool single)
{
    cfo_log_init(single ? "cfo" : "cfo-coordinator", CFO_LOG_INFO);
    cli c = {.schedule = CFO_SCHEDULE_HISTORY,
             .single = single,
             .repo = ".",
             .workdir = ".cfo/work",
             .bind = "tcp://127.0.0.1:5555",
             .wait_workers_ms = 5 * 60 * 1000};
    cfo_strv_init(&c.only);
    int parsed = parse_cli(argc, argv, &c);
    if (parsed != 0) {
        cfo_strv_fini(&c.only);
        return parsed > 0 ? EXIT_PASS : EXIT_USAGE;
    }

    int rc = EXIT_HARNESS;
    cfo_diag d = {{0}};
    cfo_config *cfg = NULL;
    cfo_storage *st = NULL;
    cfo_recset *prior = NULL, *records = NULL;
    cfo_taskset ts;
    cfo_taskset_init(&ts);
    cfo_outcome *outcomes = NULL;
    char *top = NULL, *runner = NULL, *run_id = NULL, *repo_ini = NULL, *workdir = NULL;
    void *zctx = NULL, *router = NULL;
    cfo_journal *journal = NULL;
    cfo_zap *zap = NULL;
    local_worker lw;
    cfo_task_env env;
    bool worker_started = false;
    pthread_mutex_t git_lock = PTHREAD_MUTEX_INITIALIZER;

    if (cfo_git_toplevel(c.repo, &top, &d) != CFO_OK) {
        cfo_error("%s", d.msg);
        rc = EXIT_USAGE;
        goto out;
    }
    repo_ini = cfo_xasprintf("%s/cfo.ini", top);
    const char *config_path = c.config ? c.config : access(repo_ini, F_OK) == 0 ? repo_ini : NULL;
    cfo_err err = CFO_OK;
    if (config_path != NULL)
        err = cfo_config_load(config_path, &cfg, &d);
    else
        cfg = cfo_config_new_default();
    if (err != CFO_OK) {
        cfo_error("%s", d.msg);
        rc = EXIT_USAGE;
        goto out;
    }
    cfo_info("configuration: %s (%zu fuzzers)", cfg->path ? cfg->path : "built-in defaults",
             cfg->nfuzzers);

    const char *dataset = c.dataset ? c.dataset : cfg->dataset;
    int64_t budget_ms = c.budget_ms ? c.budget_ms : cfg->budget_ms;
    int64_t task_timeout_ms = c.task_timeout_ms ? c.task_timeout_ms : cfg->task_timeout_ms;
    int concurrency = c.concurrency      ? c.concurrency
                      : cfg->concurrency ? cfg->concurrency
                                         : cfo_cpu_count();

    err = cfo_storage_open(dataset, &st, &d);
    if (err != CFO_OK) {
        cfo_error("dataset: %s", d.msg);
        rc = err == CFO_EINVAL ? EXIT_USAGE : EXIT_HARNESS;
        goto out;
    }
    /* Read the dataset before any work: a run that cannot record its results
     * (or needs prior results it cannot read) should fail in a second, not
     * after an hour of fuzzing. */
    bool need_prior = c.upload || (!c.force && any_needs_seed(cfg, &c.only));
    if (need_prior || c.schedule == CFO_SCHEDULE_HISTORY) {
        prior = cfo_recset_new();
        int window = 0;
        err = cfo_store_load(st, prior, &window, &d);
        if (err != CFO_OK && need_prior) {
            cfo_error("%s", d.msg);
            goto out;
        }
        if (err != CFO_OK) {
            /* Only the order would have used it: run in generation order. */
            cfo_warn("%s; tasks run in generation order", d.msg);
            c.schedule = CFO_SCHEDULE_FIFO;
            cfo_recset_destroy(&prior);
        } else {
            cfo_info("dataset %s: %zu records", st->display, prior->n);
        }
    }

    runner = cfo_find_runner();
    if (runner == NULL) {
        cfo_error("cannot find cfo-fuzz beside %s or on PATH", argv[0]);
        goto out;
    }
    cfo_exec_become_subreaper();
    if (cfo_mkdir_p(c.workdir, &d) != CFO_OK) {
        cfo_error("%s", d.msg);
        goto out;
    }
    char abs[PATH_MAX];
    workdir = cfo_xstrdup(realpath(c.workdir, abs) ? abs : c.workdir);
    /* Logs that cannot be kept are found out now, not after the run. */
    if (c.logs_dir != NULL &&
        (cfo_mkdir_p(c.logs_dir, &d) != CFO_OK || access(c.logs_dir, W_OK) != 0)) {
        cfo_error("cannot keep logs in %s: %s", c.logs_dir, d.msg[0] ? d.msg : "not writable");
        goto out;
    }
    cfo_taskgen_opts tg = {
        .repo = top,
        .config = cfg,
        .only = &c.only,
        .workdir = workdir,
        .runner = runner,
        .prior = prior,
        .force = c.force,
        .task_timeout_ms = task_timeout_ms,
        .changed_since = c.changed_since,
    };
    bool resumed = false;
    int64_t started = cfo_wall_ms();
    if (c.state_dir != NULL) {
        if (cfo_journal_open(c.state_dir, &journal, &d) != CFO_OK) {
            cfo_error("%s", d.msg);
            goto out;
        }
        const cfo_journal_run *jr = cfo_journal_run_info(journal);
        if (jr != NULL && !jr->finished) {
            if (cfo_journal_restore(journal, cfg, &ts, &outcomes, &d) != CFO_OK) {
                cfo_error("%s", d.msg);
                rc = EXIT_USAGE;
                goto out;
            }
            resumed = true;
            run_id = cfo_xstrdup(jr->run_id);
            started = jr->started_wall_ms;
            budget_ms = jr->budget_ms;
            cfo_info("resuming run %s from %s: %zu of %zu tasks already committed", run_id,
                     c.state_dir, jr->committed, ts.n);
        } else if (c.resume_upload_only) {
            cfo_error("nothing to upload: the journal in %s holds no unfinished run", c.state_dir);
            rc = EXIT_USAGE;
            goto out;
        }
    }
    if (!resumed) {
        err = cfo_taskgen(&tg, &ts, &d);
        if (err != CFO_OK) {
            cfo_error("%s", d.msg);
            rc = err == CFO_EINVAL ? EXIT_USAGE : EXIT_HARNESS;
            goto out;
        }
        if (c.changed_since != NULL)
            cfo_info("%zu target(s) left out: the change since %s does not touch them",
                     ts.unchanged, c.changed_since);
        /* Workers are handed tasks in this order (a resumed run keeps its own). */
        if (c.schedule == CFO_SCHEDULE_HISTORY)
            cfo_prioritize(&ts, prior);
        /* Engines with a budget_share fuzz for their share of the run's slot
         * time, divided by each target's recent yield. */
        cfo_budget_allocate(&ts, prior, budget_ms, (uint32_t)concurrency,
                            cfo_budget_engine_fills_time);
    }
    if (c.dry_run) {
        for (size_t i = 0; i < ts.n; i++)
            printf("%s\t%s\t%s\t%s\n", ts.v[i].fuzzer->name, ts.v[i].branch, ts.v[i].commit,
                   ts.v[i].target);
        if (ts.skipped)
            cfo_info("%zu target(s) already passed on their commit and are skipped "
                     "(--force runs them)",
                     ts.skipped);
        rc = EXIT_PASS;
        goto out;
    }

    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    if (run_id == NULL)
        run_id = make_run_id(host);
    if (journal != NULL && !resumed &&
        cfo_journal_begin(journal, run_id, started, budget_ms, &ts, &d) != CFO_OK) {
        cfo_error("%s", d.msg);
        goto out;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_reload_signal;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (outcomes == NULL)
        outcomes = cfo_xcalloc(ts.n ? ts.n : 1, sizeof *outcomes);
    cfo_sched_stats stats;
    memset(&stats, 0, sizeof stats);
    if (c.resume_upload_only) {
        for (size_t i = 0; i < ts.n; i++)
            if (!outcomes[i].done)
                cfo_outcome_cancelled(&outcomes[i], "not run: --resume-upload-only");
    } else {
        zctx = zmq_ctx_new();
        char inproc[64];
        snprintf(inproc, sizeof inproc, "inproc://cfo-scheduler-%d", (int)getpid());
        char secret[CFO_CURVE_KEY_LEN + 1] = "";
        if (c.curve_secret != NULL) {
            /* The ZAP handler must answer before the CURVE socket binds. */
            if (cfo_curve_read_key(c.curve_secret, true, secret, &d) != CFO_OK ||
                cfo_zap_start(zctx, c.allow_dir, &zap, &d) != CFO_OK) {
                cfo_error("%s", d.msg);
                rc = EXIT_USAGE;
                goto out;
            }
        } else if (!single && !is_local_endpoint(c.bind)) {
            cfo_warn("serving workers on %s WITHOUT authentication or encryption (--insecure)",
                     c.bind);
        }
        err = open_router(zctx, single ? inproc : c.bind, c.curve_secret ? secret : NULL, &router,
                          &d);
        memset(secret, 0, sizeof secret);
        if (err != CFO_OK) {
            cfo_error("%s", d.msg);
            rc = single ? EXIT_HARNESS : EXIT_USAGE;
            goto out;
        }
        if (single) {
            env = (cfo_task_env){
                .repo = top,
                .workdir = workdir,
                .config = cfg,
                .runner = runner,
                .logs_dir = c.logs_dir,
                .grace_ms = c.grace_ms,
                .git_lock = &git_lock,
            };
            memset(&lw, 0, sizeof lw);
            lw.opts = (cfo_session_opts){
                .zctx = zctx,
                .endpoint = inproc,
                .worker_id = host,
                .slots = (uint32_t)concurrency,
                .env = &env,
                .heartbeat_ms = c.heartbeat_ms,
                .stop = &stop_requested,
            };
            if (pthread_create(&lw.thread, NULL, local_worker_main, &lw) != 0) {
                cfo_error("cannot start the local worker thread");
                goto out;
            }
            worker_started = true;
            cfo_info("run %s: %zu tasks, concurrency %d, budget %lds, task timeout %lds%s", run_id,
                     ts.n, concurrency, (long)(budget_ms / 1000), (long)(task_timeout_ms / 1000),
                     ts.skipped ? " (some targets skipped: already passed)" : "");
        } else {
            cfo_info("run %s: %zu tasks, serving workers on %s, budget %lds, task timeout %lds",
                     run_id, ts.n, c.bind, (long)(budget_ms / 1000),
                     (long)(task_timeout_ms / 1000));
        }

        cfo_sched_opts so = {
            .name = single ? "cfo" : "cfo-coordinator",
            .sockets = {router},
            .nsockets = 1,
            .run_id = run_id,
            .budget_ms = budget_ms,
            .heartbeat_ms = c.heartbeat_ms,
            .wait_workers_ms = single ? 0 : c.wait_workers_ms,
            .grace_ms = c.grace_ms,
            /* The local worker is cfo's only worker: tasks it holds ahead of its
             * slots cannot keep a free worker waiting, and save a round trip
             * through the scheduler between tasks. */
            .prefetch = single ? (uint32_t)concurrency : c.prefetch,
            .max_running = single ? 0 : (uint32_t)c.concurrency,
            .logs_dir = single ? c.logs_dir : NULL,
            .progress = c.quiet ? NULL : stderr,
            .progress_tty = !c.json && isatty(STDERR_FILENO) != 0,
            .progress_json = c.json,
            .progress_every_ms = 5000,
            .stop = &stop_requested,
            .zap = zap,
            .reload = &reload_requested,
            .journal = journal,
            .started_wall_ms = started,
        };
        cfo_sched_run(&ts, &so, outcomes, &stats);
        if (worker_started) {
            pthread_join(lw.thread, NULL);
            worker_started = false;
        }
    }
    cfo_report_summary(stdout, &ts, outcomes);

    char why[512];
    rc = verdict(&ts, outcomes, why, sizeof why);
    if (stats.no_worker) {
        snprintf(why, sizeof why, "harness failure: no worker connected to %s within %llds", c.bind,
                 (long long)(c.wait_workers_ms / 1000));
        rc = EXIT_HARNESS;
    }

    if (stats.journal_failed) {
        snprintf(why, sizeof why, "harness failure: the journal in %s could not be written",
                 c.state_dir);
        rc = EXIT_HARNESS;
    }

    records = cfo_recset_new();
    for (size_t i = 0; i < ts.n; i++) {
        if (outcomes[i].status == CFO_STATUS_CANCELLED)
            continue;
        cfo_outcome_fill_command(&outcomes[i], ts.v[i].fuzzer->name, ts.v[i].target);
        cfo_record r;
        cfo_task_record(&ts.v[i], &outcomes[i], run_id, host, &r);
        cfo_recset_add(records, &r);
    }
    if (c.upload) {
        cfo_commit_stats cs;
        err = cfo_store_commit(st, records, cfg, 0, &cs, &d);
        if (err != CFO_OK) {
            cfo_error("upload failed: %s", d.msg);
            if (journal != NULL)
                cfo_error("the journal in %s keeps this run's results: run again with "
                          "--state-dir %s --upload --resume-upload-only",
                          c.state_dir, c.state_dir);
            snprintf(why, sizeof why, "harness failure: the dataset could not be written");
            rc = EXIT_HARNESS;
        } else {
            cfo_info("uploaded %zu records to %s: %zu before, %zu after, window %d commits",
                     cs.added, st->display, cs.before, cs.after, cs.window);
        }
    } else {
        cfo_info("%zu records not uploaded (no --upload)", records->n);
    }
    /* The run is over once its results are where they belong; a run cut short
     * (a stop, a failed upload, a journal that failed) stays resumable. */
    bool complete = !stats.journal_failed && !stop_requested && (!c.upload || err == CFO_OK);
    if (journal != NULL && complete && cfo_journal_finish(journal, &d) != CFO_OK)
        cfo_warn("%s", d.msg);
    cfo_run_info info = {
        .run_id = run_id,
        .worker = host,
        .started_wall_ms = started,
        .finished_wall_ms = cfo_wall_ms(),
        .exit_code = rc,
        .verdict = why,
    };
    if (c.report != NULL && cfo_report_json(c.report, &ts, outcomes, &info, &d) != CFO_OK) {
        cfo_error("report: %s", d.msg);
        rc = EXIT_HARNESS;
    }
    if (c.junit != NULL && cfo_report_junit(c.junit, &ts, outcomes, &info, &d) != CFO_OK) {
        cfo_error("junit: %s", d.msg);
        rc = EXIT_HARNESS;
    }
    if (stop_requested && rc == EXIT_PASS) {
        snprintf(why, sizeof why, "stopped by a signal before the run finished");
        rc = EXIT_HARNESS;
    }
    const char *step = getenv("GITHUB_STEP_SUMMARY");
    if (step != NULL && step[0] != '\0') {
        info.exit_code = rc;
        info.verdict = why;
        /* A CI nicety: it never changes the run's exit status. */
        if (cfo_report_step_summary(step, &ts, outcomes, &info, &d) != CFO_OK)
            cfo_warn("step summary: %s", d.msg);
    }
    printf("\n%s: exit %d: %s\n", single ? "cfo" : "cfo-coordinator", rc, why);

out:
    if (worker_started) {
        stop_requested = 1;
        pthread_join(lw.thread, NULL);
    }
    if (router != NULL)
        zmq_close(router);
    cfo_zap_stop(&zap);
    cfo_journal_close(&journal);
    if (zctx != NULL)
        zmq_ctx_term(zctx);
    for (size_t i = 0; outcomes != NULL && i < ts.n; i++)
        cfo_outcome_fini(&outcomes[i]);
    free(outcomes);
    cfo_taskset_fini(&ts);
    cfo_recset_destroy(&records);
    cfo_recset_destroy(&prior);
    cfo_storage_destroy(&st);
    cfo_config_destroy(&cfg);
    cfo_strv_fini(&c.only);
    free(top);
    free(repo_ini);
    free(workdir);
    free(runner);
    free(run_id);
    return rc;
}
