/* main_worker.c -- cfo-worker: connects to a coordinator, runs the tasks it
 * is sent in isolated process groups, streams the results back. */
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

#include "cfo_config.h"
#include "cfo_curve.h"
#include "cfo_exec.h"
#include "cfo_git.h"
#include "cfo_log.h"
#include "cfo_proto.h"
#include "cfo_session.h"
#include "cfo_runner.h"

enum { EXIT_OK = 0, EXIT_USAGE = 2, EXIT_HARNESS = 3 };

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cfo-worker --connect ENDPOINT [options]\n"
            "Runs the tasks a cfo-coordinator sends, each in its own process group, and\n"
            "streams the results back; exits when the coordinator says the run is over.\n"
            "\n"
            "  --connect ENDPOINT   the coordinator, e.g. tcp://ci-host:5555 (required)\n"
            "  --slots N            tasks run at once (default: CPU count)\n"
            "  --repo PATH          this machine's clone of the repository (default: .);\n"
            "                       commits it lacks are fetched from its origin\n"
            "  --workdir DIR        where worktrees are made (default: .cfo/work)\n"
            "  --config FILE        the fuzzer registry (default: cfo.ini in the repo root\n"
            "                       if present, else the built-in CANARY and INFRA_DRIFT)\n"
            "  --id NAME            this worker's name (default: HOST-PID)\n"
            "  --save-logs [DIR]    keep each task's output under DIR (default: cfo_logs/)\n"
            "  --grace DUR          SIGTERM to SIGKILL delay when a task is stopped (default: 5s)\n"
            "  --heartbeat DUR      until the coordinator sets it (default: 1s)\n"
            "  --curve-secret FILE  this worker's CURVE secret key (cfo-keygen)\n"
            "  --server-key FILE    the coordinator's public key: only that server is trusted\n"
            "  --help               this text\n"
            "\n"
            "SIGTERM or SIGINT: stop the running tasks, report them cancelled, leave.\n"
            "Exit status: 0 the run is over; 2 usage or configuration error; 3 could not\n"
            "start.\n");
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("._:@-", *s)))
            return false;
    return true;
}

int main(int argc, char **argv)
{
    cfo_log_init("cfo-worker", CFO_LOG_INFO);
    enum {
        O_CONNECT = 256,
        O_SLOTS,
        O_REPO,
        O_WORKDIR,
        O_CONFIG,
        O_ID,
        O_SAVE_LOGS,
        O_GRACE,
        O_HEARTBEAT,
        O_HELP,
        O_CURVE_SECRET,
        O_SERVER_KEY,
    };
    static const struct option opts[] = {
        {"connect", required_argument, NULL, O_CONNECT},
        {"slots", required_argument, NULL, O_SLOTS},
        {"repo", required_argument, NULL, O_REPO},
        {"workdir", required_argument, NULL, O_WORKDIR},
        {"config", required_argument, NULL, O_CONFIG},
        {"id", required_argument, NULL, O_ID},
        {"save-logs", optional_argument, NULL, O_SAVE_LOGS},
        {"grace", required_argument, NULL, O_GRACE},
        {"heartbeat", required_argument, NULL, O_HEARTBEAT},
        {"help", no_argument, NULL, O_HELP},
        {"curve-secret", required_argument, NULL, O_CURVE_SECRET},
        {"server-key", required_argument, NULL, O_SERVER_KEY},
        {NULL, 0, NULL, 0},
    };
    const char *endpoint = NULL, *repo = ".", *workdir_arg = ".cfo/work", *config_arg = NULL,
               *id_arg = NULL, *logs_dir = NULL, *curve_secret_path = NULL, *server_key_path = NULL;
    int64_t slots = cfo_cpu_count(), grace_ms = 0, heartbeat_ms = 0;
    cfo_diag d = {{0}};
    opterr = 0;
    for (;;) {
        int o = getopt_long(argc, argv, "+", opts, NULL);
        if (o == -1)
            break;
        cfo_err err = CFO_OK;
        switch (o) {
        case O_CONNECT:
            endpoint = optarg;
            break;
        case O_SLOTS:
            err = cfo_parse_int(optarg, 1, CFO_PROTO_MAX_SLOTS, &slots, &d);
            break;
        case O_REPO:
            repo = optarg;
            break;
        case O_WORKDIR:
            workdir_arg = optarg;
            break;
        case O_CONFIG:
            config_arg = optarg;
            break;
        case O_ID:
            id_arg = optarg;
            if (!valid_id(id_arg))
                err = cfo_diag_set(&d, CFO_EINVAL,
                                   "invalid --id '%s' (1-128 of A-Z a-z 0-9 . _ : @ -)", optarg);
            break;
        case O_SAVE_LOGS:
            if (optarg != NULL)
                logs_dir = optarg;
            else if (optind < argc && argv[optind][0] != '-')
                logs_dir = argv[optind++];
            else
                logs_dir = "cfo_logs";
            break;
        case O_GRACE:
            err = cfo_parse_duration(optarg, &grace_ms, &d);
            break;
        case O_HEARTBEAT:
            err = cfo_parse_duration(optarg, &heartbeat_ms, &d);
            if (err == CFO_OK && (heartbeat_ms < 10 || heartbeat_ms > 60000))
                err = cfo_diag_set(&d, CFO_EINVAL, "--heartbeat must be between 10ms and 60s");
            break;
        case O_CURVE_SECRET:
            curve_secret_path = optarg;
            break;
        case O_SERVER_KEY:
            server_key_path = optarg;
            break;
        case O_HELP:
            usage(stdout);
            return EXIT_OK;
        default:
            err =
                cfo_diag_set(&d, CFO_EINVAL, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
        if (err != CFO_OK) {
            cfo_error("%s", d.msg);
            fprintf(stderr, "Try 'cfo-worker --help'.\n");
            return EXIT_USAGE;
        }
    }
    if ((curve_secret_path == NULL) != (server_key_path == NULL)) {
        cfo_error("--curve-secret and --server-key go together");
        return EXIT_USAGE;
    }
    if (optind < argc || endpoint == NULL) {
        cfo_error(optind < argc ? "unexpected argument" : "--connect ENDPOINT is required");
        fprintf(stderr, "Try 'cfo-worker --help'.\n");
        return EXIT_USAGE;
    }

    int rc = EXIT_HARNESS;
    char *top = NULL, *repo_ini = NULL, *runner = NULL, *workdir = NULL, *id = NULL;
    cfo_config *cfg = NULL;
    void *zctx = NULL;
    pthread_mutex_t git_lock = PTHREAD_MUTEX_INITIALIZER;
    if (cfo_git_toplevel(repo, &top, &d) != CFO_OK) {
        cfo_error("%s", d.msg);
        rc = EXIT_USAGE;
        goto out;
    }
    repo_ini = cfo_xasprintf("%s/cfo.ini", top);
    const char *config_path = config_arg                    ? config_arg
                              : access(repo_ini, F_OK) == 0 ? repo_ini
                                                            : NULL;
    if (config_path != NULL) {
        if (cfo_config_load(config_path, &cfg, &d) != CFO_OK) {
            cfo_error("%s", d.msg);
            rc = EXIT_USAGE;
            goto out;
        }
    } else {
        cfg = cfo_config_new_default();
    }
    runner = cfo_find_runner();
    if (runner == NULL) {
        cfo_error("cannot find cfo-fuzz beside cfo-worker or on PATH");
        goto out;
    }
    if (cfo_mkdir_p(workdir_arg, &d) != CFO_OK) {
        cfo_error("%s", d.msg);
        goto out;
    }
    char abs[PATH_MAX];
    workdir = cfo_xstrdup(realpath(workdir_arg, abs) ? abs : workdir_arg);
    if (id_arg != NULL) {
        id = cfo_xstrdup(id_arg);
    } else {
        char host[200] = "worker";
        gethostname(host, sizeof host - 1);
        for (char *p = host; *p; p++)
            if (!strchr("._:@-", *p) &&
                !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                *p = '-';
        id = cfo_xasprintf("%s-%d", host, (int)getpid());
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    cfo_exec_become_subreaper();

    char secret[CFO_CURVE_KEY_LEN + 1], server_key[CFO_CURVE_KEY_LEN + 1];
    if (curve_secret_path != NULL &&
        (cfo_curve_read_key(curve_secret_path, true, secret, &d) != CFO_OK ||
         cfo_curve_read_key(server_key_path, false, server_key, &d) != CFO_OK)) {
        cfo_error("%s", d.msg);
        rc = EXIT_USAGE;
        goto out;
    }
    cfo_task_env env = {
        .repo = top,
        .workdir = workdir,
        .config = cfg,
        .runner = runner,
        .logs_dir = logs_dir,
        .grace_ms = grace_ms,
        .git_lock = &git_lock,
    };
    zctx = zmq_ctx_new();
    cfo_session_opts so = {
        .zctx = zctx,
        .endpoint = endpoint,
        .worker_id = id,
        .slots = (uint32_t)slots,
        .env = &env,
        .heartbeat_ms = heartbeat_ms,
        .stop = &stop_requested,
        .curve_secret = curve_secret_path ? secret : NULL,
        .server_key = curve_secret_path ? server_key : NULL,
    };
    cfo_info("worker %s: %u slots, %zu fuzzers, connecting to %s", id, so.slots, cfg->nfuzzers,
             endpoint);
    rc = cfo_session_run(&so);

out:
    if (zctx != NULL)
        zmq_ctx_term(zctx);
    cfo_config_destroy(&cfg);
    free(top);
    free(repo_ini);
    free(runner);
    free(workdir);
    free(id);
    return rc;
}
