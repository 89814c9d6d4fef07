/* cfo_run.c -- the orchestrator's run: options, task generation, the
 * scheduler, reports, the dataset upload, exit codes. Each phase is a
 * function of the run object; cleanup is one function, whatever phase the
 * run reached. */
#include "cfo_run.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cfo_budget.h"
#include "cfo_cli.h"
#include "cfo_cmdline.h"
#include "cfo_covcheck.h"
#include "cfo_curve.h"
#include "cfo_exec.h"
#include "cfo_git.h"
#include "cfo_journal.h"
#include "cfo_log.h"
#include "cfo_metrics.h"
#include "cfo_preflight.h"
#include "cfo_priority.h"
#include "cfo_proto.h"
#include "cfo_file.h"
#include "cfo_report.h"
#include "cfo_runfindings.h"
#include "cfo_sarif.h"
#include "cfo_runner.h"
#include "cfo_sched.h"
#include "cfo_shard.h"
#include "cfo_storage.h"
#include "cfo_store.h"
#include "cfo_task.h"

static volatile sig_atomic_t stop_requested, reload_requested;
/* Tells cfo's local worker to leave: the run was stopped, or it is over
 * (a run with nothing to do never says BYE to a worker that has not joined
 * yet). */
static volatile sig_atomic_t local_worker_leave;

static void on_stop_signal(int sig)
{
    /* The first signal stops the run gracefully; a second one means now. The
     * journal is durable at every step, so nothing committed is lost. */
    if (stop_requested)
        _exit(128 + sig);
    stop_requested = 1;
    local_worker_leave = 1;
}

static void on_reload_signal(int sig)
{
    (void)sig;
    reload_requested = 1;
}

typedef struct run {
    cfo_cli c;
    const cfo_local_worker_hooks *local; /* cfo's local worker; NULL: cfo-coordinator */
    const char *prog;
    cfo_config *cfg;
    cfo_storage *st;
    cfo_recset *prior;   /* the dataset's records, when the run needs them */
    cfo_recset *records; /* this run's records */
    cfo_taskset ts;
    cfo_outcome *outcomes; /* one per task */
    char *top, *runner, *run_id, *workdir;
    char host[256];
    int64_t budget_ms, task_timeout_ms, started_wall_ms;
    int concurrency;
    bool resumed;
    cfo_journal *journal;
    void *zctx, *router;
    cfo_zap *zap;
    cfo_local_worker_spec spec;
    FILE *joblog; /* --joblog, open while the run executes */
    void *worker; /* the local worker's handle, while it runs */
    cfo_sched_stats stats;
    cfo_metrics *metrics;      /* --metrics, while the run lasts */
    bool uploaded;             /* --upload wrote the dataset */
    char why[512];             /* the sentence that explains the exit status */
    cfo_run_findings findings; /* of the run's targets, for the reports */
    bool *preexisting;         /* per task: every crash is on the --changed-since base */
    cfo_buf events;            /* what the upload changed in the findings */
} run;

/* A phase's failure: logs d's message, keeps it as the run's verdict and
 * gives the exit status. */
static int fail(run *r, const cfo_diag *d, int status)
{
    cfo_error("%s", d->msg);
    snprintf(r->why, sizeof r->why, "%s%s", status == CFO_EXIT_HARNESS ? "harness failure: " : "",
             d->msg);
    return status;
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

static bool any_needs_seed(const cfo_config *cfg, const cfo_strv *only)
{
    for (size_t i = 0; i < cfg->nfuzzers; i++)
        /* Coverage is compared with the dataset's last record of the target. */
        if ((cfg->fuzzers[i].needs_seed || cfg->fuzzers[i].skip_passed ||
             cfo_fuzzer_has_coverage(&cfg->fuzzers[i])) &&
            (only->n == 0 || cfo_strv_contains(only, cfg->fuzzers[i].name)))
            return true;
    return false;
}

/* ---- load: the repository, the configuration, the dataset --------------- */

/* Reads the dataset before any work: a run that cannot record its results
 * (or needs prior results it cannot read) should fail in a second, not after
 * an hour of fuzzing. */
static int load_prior(run *r)
{
    cfo_diag d = {{0}};
    bool need_prior = r->c.upload || (!r->c.force && any_needs_seed(r->cfg, &r->c.only));
    bool want_prior = r->c.schedule == CFO_SCHEDULE_HISTORY || r->c.shard.n > 0;
    if (!need_prior && !want_prior)
        return 0;
    r->prior = cfo_recset_new();
    int window = 0;
    cfo_err err = cfo_store_load(r->st, r->prior, &window, &d);
    if (err != CFO_OK && need_prior)
        return fail(r, &d, CFO_EXIT_HARNESS);
    if (err != CFO_OK) {
        /* Only the order and the shards' balance would have used it. */
        cfo_warn("%s; tasks run in generation order%s", d.msg,
                 r->c.shard.n ? ", shards balanced by count" : "");
        r->c.schedule = CFO_SCHEDULE_FIFO;
        cfo_recset_destroy(&r->prior);
    } else {
        cfo_info("dataset %s: %zu record%s", r->st->display, r->prior->n, cfo_plural(r->prior->n));
    }
    return 0;
}

/* The files the run writes at its end, checked before it starts: a report
 * that cannot be written is better refused now than after the budget. */
static cfo_err outputs_writable(const cfo_cli *c, cfo_diag *d)
{
    const struct {
        const char *flag, *path;
    } outs[] = {{"--report", c->report}, {"--junit", c->junit}, {"--sarif", c->sarif}};
    for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) {
        if (outs[i].path != NULL && cfo_file_writable(outs[i].path, d) != CFO_OK) {
            cfo_diag_prefix(d, "%s", outs[i].flag);
            return CFO_EINVAL;
        }
    }
    return CFO_OK;
}

static int load(run *r)
{
    cfo_diag d = {{0}};
    if (outputs_writable(&r->c, &d) != CFO_OK)
        return fail(r, &d, CFO_EXIT_USAGE);
    if (cfo_git_toplevel(r->c.repo, &r->top, &d) != CFO_OK)
        return fail(r, &d, CFO_EXIT_USAGE);
    if (cfo_config_locate(r->c.config, r->top, &r->cfg, &d) != CFO_OK)
        return fail(r, &d, CFO_EXIT_USAGE);
    cfo_info("configuration: %s (%zu fuzzer%s)", r->cfg->path ? r->cfg->path : "built-in defaults",
             r->cfg->nfuzzers, cfo_plural(r->cfg->nfuzzers));
    r->budget_ms = r->c.budget_ms ? r->c.budget_ms : r->cfg->budget_ms;
    r->task_timeout_ms = r->c.task_timeout_ms ? r->c.task_timeout_ms : r->cfg->task_timeout_ms;
    r->concurrency = r->c.concurrency      ? (int)r->c.concurrency
                     : r->cfg->concurrency ? r->cfg->concurrency
                                           : cfo_cpu_count();
    char *dataset =
        r->c.dataset ? cfo_xstrdup(r->c.dataset) : cfo_storage_url_under(r->cfg->dataset, r->top);
    cfo_err err = cfo_storage_open(dataset, &r->st, &d);
    free(dataset);
    if (err != CFO_OK) {
        cfo_diag_prefix(&d, "dataset");
        return fail(r, &d, err == CFO_EINVAL ? CFO_EXIT_USAGE : CFO_EXIT_HARNESS);
    }
    return load_prior(r);
}

/* ---- plan: the tasks, their order and their time ------------------------ */

/* The runner, the worktree folder and the logs folder, each checked now
 * rather than after the run. */
static int prepare_folders(run *r)
{
    cfo_diag d = {{0}};
    r->runner = cfo_find_runner();
    if (r->runner == NULL) {
        cfo_diag_set(&d, CFO_ENOTFOUND, "cannot find cfo-fuzz beside %s or on PATH", r->prog);
        return fail(r, &d, CFO_EXIT_HARNESS);
    }
    cfo_exec_contain();
    /* The default workdir belongs to the repository; one given on the
     * command line is where the user said, from the current folder. */
    char *wd =
        r->c.workdir ? cfo_abs_path(r->c.workdir, &d) : cfo_xasprintf("%s/.cfo/work", r->top);
    if (wd == NULL)
        return fail(r, &d, CFO_EXIT_HARNESS);
    r->workdir = wd;
    if (r->c.dry_run)
        return 0; /* a dry run creates nothing */
    if (cfo_mkdir_p(r->workdir, &d) != CFO_OK)
        return fail(r, &d, CFO_EXIT_HARNESS);
    const char *logs = r->c.logs_dir;
    if (logs != NULL && (cfo_mkdir_p(logs, &d) != CFO_OK || access(logs, W_OK) != 0)) {
        if (d.msg[0] == '\0')
            cfo_diag_set(&d, CFO_EIO, "not writable");
        cfo_diag_prefix(&d, "cannot keep logs in %s", logs);
        return fail(r, &d, CFO_EXIT_HARNESS);
    }
    return 0;
}

/* An unfinished run in the journal is resumed: its tasks, its outcomes so
 * far, its run id and its budget. */
static int open_journal(run *r)
{
    cfo_diag d = {{0}};
    if (r->c.state_dir == NULL)
        return 0;
    if (cfo_journal_open(r->c.state_dir, &r->journal, &d) != CFO_OK)
        return fail(r, &d, CFO_EXIT_HARNESS);
    const cfo_journal_run *jr = cfo_journal_run_info(r->journal);
    if (jr != NULL && !jr->finished) {
        if (cfo_journal_restore(r->journal, r->cfg, &r->ts, &r->outcomes, &d) != CFO_OK)
            return fail(r, &d, CFO_EXIT_USAGE);
        r->resumed = true;
        r->run_id = cfo_xstrdup(jr->run_id);
        r->started_wall_ms = jr->started_wall_ms;
        r->budget_ms = jr->budget_ms;
        cfo_info("resuming run %s from %s: %zu of %zu task%s already committed", r->run_id,
                 r->c.state_dir, jr->committed, r->ts.n, cfo_plural(r->ts.n));
    } else if (r->c.resume_upload_only) {
        cfo_diag_set(&d, CFO_EINVAL, "nothing to upload: the journal in %s holds no unfinished run",
                     r->c.state_dir);
        return fail(r, &d, CFO_EXIT_USAGE);
    }
    return 0;
}

static int generate(run *r)
{
    cfo_diag d = {{0}};
    cfo_taskgen_opts tg = {
        .repo = r->top,
        .config = r->cfg,
        .only = &r->c.only,
        .workdir = r->workdir,
        .runner = r->runner,
        .prior = r->prior,
        .force = r->c.force,
        .task_timeout_ms = r->task_timeout_ms,
        .changed_since = r->c.changed_since,
        .dry_run = r->c.dry_run,
        .keep_passed = r->c.shard.n > 0,
    };
    cfo_err err = cfo_taskgen(&tg, &r->ts, &d);
    if (err != CFO_OK)
        return fail(r, &d, err == CFO_EINVAL ? CFO_EXIT_USAGE : CFO_EXIT_HARNESS);
    if (r->c.shard.n > 0) {
        size_t all = r->ts.n;
        double share, total;
        cfo_shard_select(&r->ts, r->prior, &r->c.shard, &share, &total);
        cfo_info("shard %u/%u: %zu of %zu task%s, %.0fs of %.0fs expected", r->c.shard.k,
                 r->c.shard.n, r->ts.n, all, cfo_plural(all), share, total);
    }
    if (r->c.changed_since != NULL)
        cfo_info("%zu target%s left out: the change since %s does not touch %s", r->ts.unchanged,
                 cfo_plural(r->ts.unchanged), r->c.changed_since,
                 r->ts.unchanged == 1 ? "it" : "them");
    /* Workers are handed tasks in this order (a resumed run keeps its own). */
    if (r->c.schedule == CFO_SCHEDULE_HISTORY)
        cfo_prioritize(&r->ts, r->prior);
    /* Engines with a budget_share fuzz for their share of the run's slot
     * time, divided by each target's recent yield. */
    cfo_budget_allocate(&r->ts, r->prior, r->budget_ms, (uint32_t)r->concurrency,
                        cfo_budget_engine_fills_time);
    return 0;
}

static void print_dry_run(const run *r)
{
    for (size_t i = 0; i < r->ts.n; i++)
        printf("%s\t%s\t%s\t%s\n", r->ts.v[i].fuzzer->name, r->ts.v[i].branch, r->ts.v[i].commit,
               r->ts.v[i].target);
    if (r->ts.skipped)
        cfo_info("%zu target%s already passed on %s commit and %s skipped (--force runs %s)",
                 r->ts.skipped, cfo_plural(r->ts.skipped), r->ts.skipped == 1 ? "its" : "their",
                 r->ts.skipped == 1 ? "is" : "are", r->ts.skipped == 1 ? "it" : "them");
}

/* Returns 0 to go on, -1 when the run is over (a dry run), else an exit
 * status. */
static int plan(run *r)
{
    r->started_wall_ms = cfo_wall_ms();
    cfo_diag d = {{0}};
    /* cfo runs its tasks here; a coordinator's workers check their own. */
    if (r->local != NULL && !r->c.dry_run && cfo_preflight(r->cfg, &r->c.only, &d) != CFO_OK)
        return fail(r, &d, CFO_EXIT_HARNESS);
    int rc = prepare_folders(r);
    if (rc == 0)
        rc = open_journal(r);
    if (rc == 0 && !r->resumed)
        rc = generate(r);
    if (rc != 0)
        return rc;
    if (r->c.dry_run) {
        print_dry_run(r);
        return -1;
    }
    gethostname(r->host, sizeof r->host - 1);
    if (r->run_id == NULL)
        r->run_id = make_run_id(r->host);
    if (r->journal != NULL && !r->resumed &&
        cfo_journal_begin(r->journal, r->run_id, r->started_wall_ms, r->budget_ms, &r->ts, &d) !=
            CFO_OK)
        return fail(r, &d, CFO_EXIT_HARNESS);
    if (r->outcomes == NULL)
        r->outcomes = cfo_xcalloc(r->ts.n ? r->ts.n : 1, sizeof *r->outcomes);
    return 0;
}

/* ---- execute: the scheduler and its workers ------------------------------ */

static void install_signals(void)
{
    cfo_exec_catch_stop(on_stop_signal, NULL, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_reload_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* The scheduler's socket: inproc:// for the local worker of cfo, the --bind
 * endpoint for cfo-coordinator, CURVE with the ZAP handler when keys are
 * given (the handler must answer before the socket binds). */
static int open_router(run *r, const char *endpoint)
{
    cfo_diag d = {{0}};
    char secret[CFO_CURVE_KEY_LEN + 1] = "";
    if (r->c.curve_secret != NULL &&
        (cfo_curve_read_key(r->c.curve_secret, true, secret, &d) != CFO_OK ||
         cfo_zap_start(r->zctx, r->c.allow_dir, &r->zap, &d) != CFO_OK))
        return fail(r, &d, CFO_EXIT_USAGE);
    if (r->c.curve_secret == NULL && r->local == NULL && !cfo_cli_is_local_endpoint(endpoint))
        cfo_warn("serving workers on %s WITHOUT authentication or encryption (--insecure)",
                 endpoint);
    void *sock = zmq_socket(r->zctx, ZMQ_ROUTER);
    cfo_err err = sock ? cfo_wire_setup(sock, true, &d)
                       : cfo_diag_set(&d, CFO_EIO, "zmq_socket: %s", zmq_strerror(errno));
    if (err == CFO_OK && r->c.curve_secret != NULL)
        err = cfo_curve_server_setup(sock, secret, &d);
    memset(secret, 0, sizeof secret);
    if (err == CFO_OK && zmq_bind(sock, endpoint) != 0)
        err = cfo_diag_set(&d, CFO_EIO, "cannot bind %s: %s", endpoint, zmq_strerror(errno));
    if (err != CFO_OK) {
        if (sock != NULL)
            zmq_close(sock);
        return fail(r, &d, r->local ? CFO_EXIT_HARNESS : CFO_EXIT_USAGE);
    }
    r->router = sock;
    return 0;
}

static int start_local_worker(run *r, const char *endpoint)
{
    r->spec = (cfo_local_worker_spec){
        .zctx = r->zctx,
        .endpoint = endpoint,
        .worker_id = r->host,
        .slots = (uint32_t)r->concurrency,
        .repo = r->top,
        .workdir = r->workdir,
        .runner = r->runner,
        .logs_dir = r->c.logs_dir,
        .config = r->cfg,
        .grace_ms = r->c.grace_ms,
        .heartbeat_ms = r->c.heartbeat_ms,
        .stop = &local_worker_leave,
    };
    cfo_diag d = {{0}};
    r->worker = r->local->start(&r->spec, &d);
    if (r->worker == NULL)
        return fail(r, &d, CFO_EXIT_HARNESS);
    cfo_info("run %s: %zu task%s, concurrency %d, budget %lds, task timeout %lds%s", r->run_id,
             r->ts.n, cfo_plural(r->ts.n), r->concurrency, (long)(r->budget_ms / 1000),
             (long)(r->task_timeout_ms / 1000),
             r->ts.skipped ? " (some targets skipped: already passed)" : "");
    return 0;
}

static int start_metrics(run *r)
{
    cfo_diag d = {{0}};
    if (cfo_metrics_start(r->c.metrics, r->c.insecure, &r->ts, r->run_id, &r->metrics, &d) !=
        CFO_OK)
        return fail(r, &d, CFO_EXIT_USAGE);
    cfo_info("metrics at http://%s/metrics", cfo_metrics_address(r->metrics));
    return 0;
}

/* --metrics-linger: the final figures stay up for a scrape, until the
 * time is over or a signal says go. */
static void linger_metrics(run *r)
{
    if (r->metrics == NULL || r->c.metrics_linger_ms <= 0)
        return;
    cfo_info("serving the final metrics for %llds more",
             (long long)(r->c.metrics_linger_ms / 1000));
    int64_t until = cfo_now_ms() + r->c.metrics_linger_ms;
    stop_requested = 0;
    while (!stop_requested && cfo_now_ms() < until) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void schedule(run *r)
{
    bool single = r->local != NULL;
    cfo_sched_opts so = {
        .name = r->prog,
        .sockets = {r->router},
        .nsockets = 1,
        .run_id = r->run_id,
        .budget_ms = r->budget_ms,
        .heartbeat_ms = r->c.heartbeat_ms,
        .wait_workers_ms = single ? 0 : r->c.wait_workers_ms,
        .grace_ms = r->c.grace_ms,
        /* The local worker is cfo's only worker: tasks it holds ahead of its
         * slots cannot keep a free worker waiting, and save a round trip
         * through the scheduler between tasks. */
        .prefetch = single              ? (uint32_t)r->concurrency
                    : r->c.prefetch > 0 ? (uint32_t)r->c.prefetch
                                        : 0,
        .prefetch_auto = !single && r->c.prefetch < 0,
        .max_running = single ? 0 : (uint32_t)r->c.concurrency,
        .logs_dir = single ? r->c.logs_dir : NULL,
        .progress = r->c.quiet ? NULL : stderr,
        .progress_tty = r->c.log_format == 0 && isatty(STDERR_FILENO) != 0,
        .progress_json = r->c.log_format == 1,
        .local_worker = single,
        .progress_every_ms = 5000,
        .stop = &stop_requested,
        .zap = r->zap,
        .reload = &reload_requested,
        .journal = r->journal,
        .started_wall_ms = r->started_wall_ms,
        .joblog = r->joblog,
        .events_json = r->c.log_format == 1,
        .metrics = r->metrics,
    };
    cfo_sched_run(&r->ts, &so, r->outcomes, &r->stats);
}

static int execute(run *r)
{
    install_signals();
    if (r->c.resume_upload_only) {
        for (size_t i = 0; i < r->ts.n; i++)
            if (!r->outcomes[i].done)
                cfo_outcome_cancelled(&r->outcomes[i], "not run: --resume-upload-only");
        return 0;
    }
    if (r->c.joblog != NULL) {
        r->joblog = fopen(r->c.joblog, "w");
        if (r->joblog == NULL) {
            cfo_diag d = {{0}};
            cfo_diag_set(&d, CFO_EIO, "cannot write the joblog %s: %s", r->c.joblog,
                         strerror(errno));
            return fail(r, &d, CFO_EXIT_HARNESS);
        }
        fputs("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n",
              r->joblog);
    }
    r->zctx = zmq_ctx_new();
    char inproc[64];
    snprintf(inproc, sizeof inproc, "inproc://cfo-scheduler-%d", (int)getpid());
    const char *endpoint = r->local ? inproc : r->c.bind;
    int rc = open_router(r, endpoint);
    if (rc == 0 && r->local != NULL)
        rc = start_local_worker(r, endpoint);
    if (rc == 0 && r->c.metrics != NULL)
        rc = start_metrics(r);
    if (rc != 0)
        return rc;
    if (r->local == NULL)
        cfo_info("run %s: %zu task%s, serving workers on %s, budget %lds, task timeout %lds",
                 r->run_id, r->ts.n, cfo_plural(r->ts.n), r->c.bind, (long)(r->budget_ms / 1000),
                 (long)(r->task_timeout_ms / 1000));
    schedule(r);
    if (r->worker != NULL) {
        local_worker_leave = 1;
        r->local->join(r->worker);
        r->worker = NULL;
    }
    return 0;
}

/* ---- commit: the verdict, the records, the upload, the journal ----------- */

/* Whether task i ran to its end: cancelled (by the budget, a stop) or never
 * finished is not. */
static bool ran_to_end(const cfo_outcome *o)
{
    return o->done && o->status != CFO_STATUS_CANCELLED;
}

/* The canary must fail: one that ran and did not is the harness failing. */
static int canary_verdict(const cfo_taskset *ts, const cfo_outcome *outcomes, size_t *runs,
                          char *why, size_t len)
{
    *runs = 0;
    for (size_t i = 0; i < ts->n; i++) {
        const cfo_task *t = &ts->v[i];
        if (t->fuzzer->kind != CFO_KIND_CANARY || !ran_to_end(&outcomes[i]))
            continue;
        ++*runs;
        if (outcomes[i].status != CFO_STATUS_FAIL) {
            snprintf(why, len, "harness failure: canary %s on %s ended '%s' instead of failing",
                     t->fuzzer->name, t->branch, cfo_status_name(outcomes[i].status));
            return CFO_EXIT_HARNESS;
        }
    }
    return CFO_EXIT_OK;
}

/* The first critical task that failed (want_failed) or did not run to its
 * end, and how many there are. */
static size_t critical_count(const cfo_taskset *ts, const cfo_outcome *outcomes, bool want_failed,
                             const bool *preexisting, const cfo_task **first)
{
    size_t n = 0;
    *first = NULL;
    for (size_t i = 0; i < ts->n; i++) {
        if (!ts->v[i].fuzzer->critical)
            continue;
        /* a pull request is not blamed for what its base already has */
        if (want_failed && preexisting != NULL && preexisting[i])
            continue;
        bool ended = ran_to_end(&outcomes[i]);
        bool counts = want_failed ? ended && outcomes[i].status != CFO_STATUS_PASS : !ended;
        if (counts && n++ == 0)
            *first = &ts->v[i];
    }
    return n;
}

/* The exit status the tasks give and the sentence that explains it. */
static int verdict(const run *r, char *why, size_t len)
{
    size_t canary_runs;
    int rc = canary_verdict(&r->ts, r->outcomes, &canary_runs, why, len);
    if (rc != CFO_EXIT_OK)
        return rc;
    const cfo_task *first;
    size_t failed = critical_count(&r->ts, r->outcomes, true, r->preexisting, &first);
    if (failed > 0) {
        snprintf(why, len, "%zu critical task(s) did not pass, first: %s %s %s", failed,
                 first->fuzzer->name, first->branch, first->target);
        return CFO_EXIT_FAIL;
    }
    size_t cut = critical_count(&r->ts, r->outcomes, false, NULL, &first);
    if (cut > 0) {
        snprintf(why, len,
                 "incomplete: %zu critical task(s) did not run to their end, first: %s %s %s%s",
                 cut, first->fuzzer->name, first->branch, first->target,
                 r->c.allow_incomplete ? " (allowed by --allow-incomplete)" : "");
        return r->c.allow_incomplete ? CFO_EXIT_OK : CFO_EXIT_INCOMPLETE;
    }
    size_t old = 0;
    for (size_t i = 0; r->preexisting != NULL && i < r->ts.n; i++)
        old += r->preexisting[i];
    snprintf(why, len, "every critical task passed%s%s",
             canary_runs ? " and the canary failed as it must" : "",
             old ? "; what failed is pre-existing: it fails on the --changed-since base too" : "");
    return CFO_EXIT_OK;
}

/* The run's own harness failures outrank what the tasks say. */
static int judge(run *r)
{
    int rc = verdict(r, r->why, sizeof r->why);
    if (r->stats.no_worker) {
        snprintf(r->why, sizeof r->why, "harness failure: no worker connected to %s within %llds",
                 r->c.bind, (long long)(r->c.wait_workers_ms / 1000));
        rc = CFO_EXIT_HARNESS;
    }
    if (r->stats.journal_failed) {
        snprintf(r->why, sizeof r->why, "harness failure: the journal in %s could not be written",
                 r->c.state_dir);
        rc = CFO_EXIT_HARNESS;
    }
    if (stop_requested) {
        snprintf(r->why, sizeof r->why, "stopped by a signal before the run finished");
        rc = CFO_EXIT_HARNESS;
    }
    return rc;
}

static void collect_records(run *r)
{
    r->records = cfo_recset_new();
    for (size_t i = 0; i < r->ts.n; i++) {
        if (r->outcomes[i].status == CFO_STATUS_CANCELLED)
            continue;
        cfo_outcome_fill_command(&r->outcomes[i], r->ts.v[i].fuzzer->name, r->ts.v[i].target);
        cfo_record rec;
        cfo_task_record(&r->ts.v[i], &r->outcomes[i], r->run_id, r->host, &rec);
        cfo_recset_add(r->records, &rec);
    }
}

static int upload(run *r, int rc)
{
    if (!r->c.upload) {
        cfo_info("%zu record%s not uploaded (no --upload)", r->records->n,
                 cfo_plural(r->records->n));
        return rc;
    }
    cfo_diag d = {{0}};
    cfo_commit_stats cs = {0};
    cfo_err err =
        cfo_store_commit_findings(r->st, r->records, NULL, r->cfg, 0, &cs, &r->events, &d);
    if (r->metrics != NULL)
        cfo_metrics_dataset_write(r->metrics, err == CFO_OK, cs.attempts);
    if (err != CFO_OK) {
        cfo_error("upload failed: %s", d.msg);
        if (r->journal != NULL)
            cfo_error("the journal in %s keeps this run's results: run again with "
                      "--state-dir %s --upload --resume-upload-only",
                      r->c.state_dir, r->c.state_dir);
        snprintf(r->why, sizeof r->why, "harness failure: the dataset could not be written");
        return CFO_EXIT_HARNESS;
    }
    r->uploaded = true;
    cfo_info("uploaded %zu record%s to %s: %zu before, %zu after, window %d commit%s", cs.added,
             cfo_plural(cs.added), r->st->display, cs.before, cs.after, cs.window,
             cfo_plural((size_t)cs.window));
    return rc;
}

/* Worktrees of commits this run did not test (no longer a configured
 * branch's head) are removed: a long-lived workdir would otherwise keep one
 * per commit ever tested. One a task still holds stays (a cancelled task of
 * the local worker in its grace period, a worker sharing the workdir). */
static void retire_worktrees(run *r)
{
    if (r->c.keep_worktrees || r->workdir == NULL)
        return;
    cfo_strv keep;
    cfo_strv_init(&keep);
    for (size_t t = 0; t < r->ts.n; t++)
        if (!cfo_strv_contains(&keep, r->ts.v[t].commit))
            cfo_strv_push(&keep, r->ts.v[t].commit);
    cfo_diag d = {{0}};
    if (cfo_git_worktrees_retire(r->top, r->workdir, &keep, NULL, &d) != CFO_OK)
        cfo_warn("old worktrees were kept: %s", d.msg);
    cfo_strv_fini(&keep);
}

static int commit(run *r)
{
    cfo_covcheck_drops(&r->ts, r->outcomes, r->prior);
    cfo_report_summary(stdout, &r->ts, r->outcomes);
    if (r->c.changed_since != NULL && r->workdir != NULL) {
        r->preexisting = cfo_xcalloc(r->ts.n + 1, sizeof *r->preexisting);
        cfo_run_findings_check_base(&r->findings, r->runner, r->top, r->workdir, r->c.changed_since,
                                    &r->ts, r->outcomes, r->task_timeout_ms, r->preexisting);
    }
    int rc = judge(r);
    collect_records(r);
    rc = upload(r, rc);
    if (r->uploaded)
        cfo_run_findings_notify(r->cfg, &r->events);
    if (r->st != NULL)
        cfo_run_findings_collect(&r->findings, r->st, r->uploaded, r->records, r->cfg, &r->ts);
    cfo_run_findings_print(stdout, &r->findings);
    /* The run is over once its results are where they belong; a run cut
     * short (a stop, a failed upload, a journal that failed) stays
     * resumable. */
    bool complete = !r->stats.journal_failed && !stop_requested && (!r->c.upload || r->uploaded);
    cfo_diag d = {{0}};
    if (r->journal != NULL && complete && cfo_journal_finish(r->journal, &d) != CFO_OK)
        cfo_warn("%s", d.msg);
    retire_worktrees(r);
    return rc;
}

/* ---- report --------------------------------------------------------------- */

static int report(run *r, int rc)
{
    cfo_diag d = {{0}};
    if (r->outcomes == NULL) {
        /* Stopped before its tasks were known: a report of none. */
        cfo_taskset_fini(&r->ts);
        cfo_taskset_init(&r->ts);
        r->outcomes = cfo_xcalloc(1, sizeof *r->outcomes);
    }
    cfo_buf fjson, fjunit, fmd;
    cfo_buf_init(&fjson);
    cfo_buf_init(&fjunit);
    cfo_buf_init(&fmd);
    cfo_run_findings_json(&fjson, &r->findings);
    cfo_run_findings_junit(&fjunit, &r->findings);
    cfo_buf_puts(&fmd, "");
    cfo_run_findings_markdown(&fmd, &r->findings);
    cfo_run_info info = {
        .run_id = r->run_id,
        .worker = r->host,
        .started_wall_ms = r->started_wall_ms,
        .finished_wall_ms = cfo_wall_ms(),
        .exit_code = rc,
        .verdict = r->why,
        .findings_json = fjson.data,
        .findings_junit = fjunit.data,
        .findings_markdown = fmd.data,
    };
    if (r->c.sarif != NULL) {
        cfo_buf sarif;
        cfo_buf_init(&sarif);
        cfo_sarif_write(&r->findings.v, &sarif);
        if (cfo_write_file_atomic(r->c.sarif, sarif.data, sarif.len, &d) != CFO_OK)
            rc = fail(r, &d, CFO_EXIT_HARNESS);
        cfo_buf_fini(&sarif);
    }
    if (r->c.report != NULL &&
        cfo_report_json(r->c.report, &r->ts, r->outcomes, &info, &d) != CFO_OK)
        rc = fail(r, &d, CFO_EXIT_HARNESS);
    if (r->c.junit != NULL &&
        cfo_report_junit(r->c.junit, &r->ts, r->outcomes, &info, &d) != CFO_OK)
        rc = fail(r, &d, CFO_EXIT_HARNESS);
    const char *step = getenv("GITHUB_STEP_SUMMARY");
    if (step != NULL && step[0] != '\0') {
        info.exit_code = rc;
        info.verdict = r->why;
        /* A CI nicety: it never changes the run's exit status. */
        if (cfo_report_step_summary(step, &r->ts, r->outcomes, &info, &d) != CFO_OK)
            cfo_warn("step summary: %s", d.msg);
    }
    printf("\n%s: exit %d: %s\n", r->prog, rc, r->why);
    cfo_buf_fini(&fjson);
    cfo_buf_fini(&fjunit);
    cfo_buf_fini(&fmd);
    return rc;
}

/* ---- cleanup ---------------------------------------------------------------- */

static void run_fini(run *r)
{
    if (r->worker != NULL) {
        local_worker_leave = 1;
        r->local->join(r->worker);
    }
    if (r->joblog != NULL)
        fclose(r->joblog);
    cfo_metrics_stop(&r->metrics);
    if (r->router != NULL)
        zmq_close(r->router);
    cfo_zap_stop(&r->zap);
    cfo_journal_close(&r->journal);
    if (r->zctx != NULL)
        zmq_ctx_term(r->zctx);
    for (size_t i = 0; r->outcomes != NULL && i < r->ts.n; i++)
        cfo_outcome_fini(&r->outcomes[i]);
    free(r->outcomes);
    cfo_taskset_fini(&r->ts);
    cfo_recset_destroy(&r->records);
    cfo_recset_destroy(&r->prior);
    cfo_run_findings_fini(&r->findings);
    free(r->preexisting);
    cfo_buf_fini(&r->events);
    cfo_storage_destroy(&r->st);
    cfo_config_destroy(&r->cfg);
    cfo_cli_fini(&r->c);
    cfo_free_all(r->top, r->workdir, r->runner, r->run_id);
}

int cfo_orchestrator_main(int argc, char **argv, const cfo_local_worker_hooks *local)
{
    run r = {.local = local, .prog = local ? "cfo" : "cfo-coordinator", .host = "localhost"};
    cfo_log_init(r.prog, CFO_LOG_INFO);
    cfo_taskset_init(&r.ts);
    cfo_run_findings_init(&r.findings);
    cfo_buf_init(&r.events);
    int rc = cfo_cli_parse(argc, argv, local != NULL, &r.c);
    if (rc == 0)
        rc = load(&r);
    /* From here on the run has started: whatever ends it, it reports. */
    bool started = rc == 0;
    if (rc == 0)
        rc = plan(&r);
    if (rc == 0)
        rc = execute(&r);
    if (rc == 0)
        rc = commit(&r);
    if (started && rc >= 0)
        rc = report(&r, rc);
    linger_metrics(&r);
    run_fini(&r);
    return rc < 0 ? CFO_EXIT_OK : rc;
}
