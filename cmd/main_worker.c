/* main_worker.c -- cfo-worker: connects to a coordinator, runs the tasks it
 * is sent in isolated process groups, streams the results back. */
#include <stddef.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "cfo_cmdline.h"
#include "cfo_config.h"
#include "cfo_curve.h"
#include "cfo_exec.h"
#include "cfo_git.h"
#include "cfo_log.h"
#include "cfo_proto.h"
#include "cfo_session.h"
#include "cfo_runner.h"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct options {
    const char *endpoint, *repo, *workdir, *config, *id, *logs_dir, *curve_secret, *server_key;
    int64_t slots, grace_ms, heartbeat_ms, connect_timeout_ms;
    bool keep_worktrees;
} options;

#define AT(field) offsetof(options, field)
#define WORKER 1u

static const cfo_option table[] = {
    {"connect", CFO_OPT_STRING, WORKER, AT(endpoint), "ENDPOINT",
     .help = "the coordinator, e.g. tcp://ci-host:5555 (required)"},
    {"slots", CFO_OPT_INT, WORKER, AT(slots), "N", 1, CFO_PROTO_MAX_SLOTS,
     .help = "tasks run at once (default: CPU count)"},
    {"repo", CFO_OPT_STRING, WORKER, AT(repo), "PATH",
     .help = "this machine's clone of the repository (default: .);\n"
             "commits it lacks are fetched from its origin"},
    {"workdir", CFO_OPT_STRING, WORKER, AT(workdir), "DIR",
     .help = "where worktrees are made (default: .cfo/work)"},
    {"keep-worktrees", CFO_OPT_FLAG, WORKER, AT(keep_worktrees),
     .help = "keep the worktrees of commits the run that ended did not\n"
             "test (by default they are removed when a run is over,\n"
             "except those a task still uses)"},
    {"config", CFO_OPT_STRING, WORKER, AT(config), "FILE",
     .help = "the fuzzer registry (default: $CFO_CONFIG, else cfo.ini in\n"
             "the repo root if present, else the built-in CANARY and\n"
             "INFRA_DRIFT)"},
    {"id", CFO_OPT_STRING, WORKER, AT(id), "NAME",
     .help = "this worker's name (default: HOST-PID)"},
    {"save-logs", CFO_OPT_OPT_DIR, WORKER, AT(logs_dir), "[DIR]", .fallback = "cfo_logs",
     .help = "keep each task's output under DIR (default: cfo_logs/)"},
    {"grace", CFO_OPT_DURATION, WORKER, AT(grace_ms), "DUR",
     .help = "SIGTERM to SIGKILL delay when a task is stopped (default: 5s)"},
    {"heartbeat", CFO_OPT_DURATION, WORKER, AT(heartbeat_ms), "DUR", 10, 60000, "10ms and 60s",
     .help = "until the coordinator sets it (default: 1s)"},
    {"curve-secret", CFO_OPT_STRING, WORKER, AT(curve_secret), "FILE",
     .help = "this worker's CURVE secret key (cfo-keygen)"},
    {"server-key", CFO_OPT_STRING, WORKER, AT(server_key), "FILE",
     .help = "the coordinator's public key: only that server is trusted"},
    {"connect-timeout", CFO_OPT_DURATION, WORKER, AT(connect_timeout_ms), "DUR",
     .help = "exit 3 when no coordinator has accepted this worker\n"
             "within DUR, saying why (default: keep trying)"},
    {"version", CFO_OPT_VERSION, WORKER, .help = "print the version and exit"},
    {"help", CFO_OPT_HELP, WORKER, .help = "this text"},
    {.name = NULL},
};

static const cfo_cmd command = {
    "cfo-worker",
    WORKER,
    table,
    "usage: cfo-worker --connect ENDPOINT [options]\n"
    "Runs the tasks a cfo-coordinator sends, each in its own process group, and\n"
    "streams the results back; exits when the coordinator says the run is over.\n"
    "\n",
    "\n"
    "SIGTERM or SIGINT: stop the running tasks, report them cancelled, leave.\n"
    "Exit status: 0 the run is over; 2 usage or configuration error; 3 could not\n"
    "start, or no coordinator accepted it within --connect-timeout.\n",
};

static bool valid_id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("._:@-", c) != NULL;
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (; *s; s++)
        if (!valid_id_char(*s))
            return false;
    return true;
}

/* Parses argv into o; 0 to go on, -1 after --help, else the exit status. */
static int parse(int argc, char **argv, options *o)
{
    *o = (options){.repo = ".", .workdir = ".cfo/work", .slots = cfo_cpu_count()};
    int rc = cfo_options_parse(&command, argc, argv, o);
    if (rc != 0)
        return rc;
    if (o->id != NULL && !valid_id(o->id))
        return cfo_usage_error("cfo-worker", "invalid --id '%s' (1-128 of A-Z a-z 0-9 . _ : @ -)",
                               o->id);
    if ((o->curve_secret == NULL) != (o->server_key == NULL))
        return cfo_usage_error("cfo-worker", "--curve-secret and --server-key go together");
    if (o->endpoint == NULL)
        return cfo_usage_error("cfo-worker", "--connect ENDPOINT is required");
    return 0;
}

/* HOST-PID, with what a name may not hold made '-'. */
static char *default_id(void)
{
    char host[200] = "worker";
    gethostname(host, sizeof host - 1);
    for (char *p = host; *p; p++)
        if (!valid_id_char(*p))
            *p = '-';
    return cfo_xasprintf("%s-%d", host, (int)getpid());
}

static void install_signals(void)
{
    cfo_exec_catch_stop(on_stop_signal, NULL, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* What the worker needs before it connects: its repository, registry,
 * runner and worktree folder. */
typedef struct setup {
    char *top, *runner, *workdir, *id;
    cfo_config *cfg;
} setup;

static int prepare(const options *o, setup *s)
{
    cfo_diag d = {{0}};
    if (cfo_git_toplevel(o->repo, &s->top, &d) != CFO_OK ||
        cfo_config_locate(o->config, s->top, &s->cfg, &d) != CFO_OK) {
        cfo_error("%s", d.msg);
        return CFO_EXIT_USAGE;
    }
    s->runner = cfo_find_runner();
    if (s->runner == NULL) {
        cfo_error("cannot find cfo-fuzz beside cfo-worker or on PATH");
        return CFO_EXIT_HARNESS;
    }
    if (cfo_mkdir_p(o->workdir, &d) != CFO_OK) {
        cfo_error("%s", d.msg);
        return CFO_EXIT_HARNESS;
    }
    char abs[PATH_MAX];
    s->workdir = cfo_xstrdup(realpath(o->workdir, abs) ? abs : o->workdir);
    s->id = o->id ? cfo_xstrdup(o->id) : default_id();
    return 0;
}

static int serve(const options *o, const setup *s)
{
    cfo_diag d = {{0}};
    char secret[CFO_CURVE_KEY_LEN + 1], server_key[CFO_CURVE_KEY_LEN + 1];
    if (o->curve_secret != NULL &&
        (cfo_curve_read_key(o->curve_secret, true, secret, &d) != CFO_OK ||
         cfo_curve_read_key(o->server_key, false, server_key, &d) != CFO_OK)) {
        cfo_error("%s", d.msg);
        return CFO_EXIT_USAGE;
    }
    pthread_mutex_t git_lock = PTHREAD_MUTEX_INITIALIZER;
    cfo_task_env env = {
        .repo = s->top,
        .workdir = s->workdir,
        .config = s->cfg,
        .runner = s->runner,
        .logs_dir = o->logs_dir,
        .grace_ms = o->grace_ms,
        .slots = o->slots,
        .git_lock = &git_lock,
        .keep_worktrees = o->keep_worktrees,
    };
    void *zctx = zmq_ctx_new();
    cfo_session_opts so = {
        .zctx = zctx,
        .endpoint = o->endpoint,
        .worker_id = s->id,
        .slots = (uint32_t)o->slots,
        .env = &env,
        .heartbeat_ms = o->heartbeat_ms,
        .stop = &stop_requested,
        .curve_secret = o->curve_secret ? secret : NULL,
        .server_key = o->curve_secret ? server_key : NULL,
        .connect_timeout_ms = o->connect_timeout_ms,
    };
    cfo_info("worker %s: %u slot%s, %zu fuzzer%s, connecting to %s", s->id, so.slots,
             cfo_plural(so.slots), s->cfg->nfuzzers, cfo_plural(s->cfg->nfuzzers), o->endpoint);
    int rc = cfo_session_run(&so);
    memset(secret, 0, sizeof secret);
    zmq_ctx_term(zctx);
    return rc;
}

int main(int argc, char **argv)
{
    cfo_log_init("cfo-worker", CFO_LOG_INFO);
    options o;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? CFO_EXIT_OK : rc;
    setup s = {0};
    rc = prepare(&o, &s);
    if (rc == 0) {
        install_signals();
        cfo_exec_contain();
        rc = serve(&o, &s);
    }
    cfo_config_destroy(&s.cfg);
    cfo_free_all(s.top, s.runner, s.workdir, s.id);
    return rc;
}
