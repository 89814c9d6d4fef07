/* main_cfo.c -- cfo: the single-host orchestrator, the one program that
 * joins two layers: the coordinator's run and a worker session on its own
 * thread, talking over inproc://. */
#include <pthread.h>
#include <stdlib.h>

#include "cfo_run.h"
#include "cfo_session.h"

typedef struct local_worker {
    pthread_t thread;
    pthread_mutex_t git_lock;
    cfo_task_env env;
    cfo_session_opts opts;
} local_worker;

static void *local_worker_main(void *arg)
{
    local_worker *lw = arg;
    cfo_session_run(&lw->opts);
    return NULL;
}

static void *local_worker_start(const cfo_local_worker_spec *spec, cfo_diag *d)
{
    local_worker *lw = cfo_xcalloc(1, sizeof *lw);
    pthread_mutex_init(&lw->git_lock, NULL);
    lw->env = (cfo_task_env){
        .repo = spec->repo,
        .workdir = spec->workdir,
        .config = spec->config,
        .runner = spec->runner,
        .logs_dir = spec->logs_dir,
        .grace_ms = spec->grace_ms,
        .slots = spec->slots,
        .git_lock = &lw->git_lock,
        /* The run decides which worktrees go, after it: it knows every task,
         * this worker only those it got. */
        .keep_worktrees = true,
    };
    lw->opts = (cfo_session_opts){
        .zctx = spec->zctx,
        .endpoint = spec->endpoint,
        .worker_id = spec->worker_id,
        .slots = spec->slots,
        .env = &lw->env,
        .heartbeat_ms = spec->heartbeat_ms,
        .stop = spec->stop,
        .local = true,
    };
    if (pthread_create(&lw->thread, NULL, local_worker_main, lw) != 0) {
        pthread_mutex_destroy(&lw->git_lock);
        free(lw);
        cfo_diag_set(d, CFO_EIO, "cannot start the local worker thread");
        return NULL;
    }
    return lw;
}

static void local_worker_join(void *handle)
{
    local_worker *lw = handle;
    pthread_join(lw->thread, NULL);
    pthread_mutex_destroy(&lw->git_lock);
    free(lw);
}

int main(int argc, char **argv)
{
    static const cfo_local_worker_hooks local = {local_worker_start, local_worker_join};
    return cfo_orchestrator_main(argc, argv, &local);
}
