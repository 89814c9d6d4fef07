/* cfo_run.c -- the single-host scheduler: a pool of threads, each running
 * one task at a time with the executor, under the run's deadline. */
#include "cfo_run.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfo_log.h"
#include "cfo_util.h"

typedef struct run_state {
    const cfo_taskset *ts;
    const cfo_run_opts *opts;
    cfo_outcome *outcomes;
    int64_t start_ms, deadline_ms;
    atomic_bool cancel;
    pthread_mutex_t mu;
    pthread_cond_t changed;
    size_t next; /* next task to start */
    size_t running;
    size_t done;
    size_t failed; /* fail, timeout, error */
} run_state;

char *cfo_task_log_path(const char *dir, const cfo_task *t)
{
    char *f = cfo_safe_name(t->fuzzer->name);
    char *b = cfo_safe_name(t->branch);
    char *g = cfo_safe_name(t->target);
    char *p = cfo_xasprintf("%s/%s/%s/%s.log", dir, f, b, g);
    free(f);
    free(b);
    free(g);
    return p;
}

static void run_one(run_state *st, size_t i)
{
    const cfo_task *t = &st->ts->v[i];
    char *log_path = st->opts->logs_dir ? cfo_task_log_path(st->opts->logs_dir, t) : NULL;
    cfo_exec_spec spec = {
        .argv = t->argv.v,
        .cwd = t->workdir,
        .timeout_ms = t->timeout_ms,
        .deadline_ms = st->deadline_ms,
        .grace_ms = st->opts->grace_ms,
        .log_path = log_path,
        .result_fd = true,
        .cancel = &st->cancel,
    };
    cfo_exec_result res;
    cfo_diag d = {{0}};
    if (cfo_exec_run(&spec, &res, &d) != CFO_OK) {
        memset(&res, 0, sizeof res);
        res.end = CFO_EXEC_SPAWN_FAILED;
        snprintf(res.error, sizeof res.error, "%s", d.msg);
    }
    if (res.error[0] != '\0' && res.end != CFO_EXEC_SPAWN_FAILED)
        cfo_warn("%s %s: %s", t->fuzzer->name, t->target, res.error);
    cfo_outcome_from_exec(&st->outcomes[i], &res, log_path);
    cfo_exec_result_fini(&res);
    free(log_path);
}

static void *worker_main(void *arg)
{
    run_state *st = arg;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        if (st->next >= st->ts->n)
            break;
        size_t i = st->next++;
        if (atomic_load(&st->cancel) || cfo_now_ms() >= st->deadline_ms) {
            cfo_outcome_cancelled(&st->outcomes[i], "not started: the run's budget ended");
            st->done++;
            pthread_cond_broadcast(&st->changed);
            continue;
        }
        st->running++;
        pthread_mutex_unlock(&st->mu);
        run_one(st, i);
        pthread_mutex_lock(&st->mu);
        st->running--;
        st->done++;
        cfo_status s = st->outcomes[i].status;
        if (s == CFO_STATUS_FAIL || s == CFO_STATUS_TIMEOUT || s == CFO_STATUS_ERROR)
            st->failed++;
        pthread_cond_broadcast(&st->changed);
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

static void print_progress(run_state *st, bool final)
{
    FILE *out = st->opts->progress;
    if (out == NULL)
        return;
    int64_t now = cfo_now_ms();
    char elapsed[32], left[32];
    cfo_format_duration(now - st->start_ms, elapsed, sizeof elapsed);
    cfo_format_duration(st->deadline_ms > now ? st->deadline_ms - now : 0, left, sizeof left);
    size_t total = st->ts->n;
    size_t queued = total - st->done - st->running;
    if (st->opts->progress_tty) {
        int width = 24;
        int filled = total ? (int)((st->done * (size_t)width) / total) : width;
        char bar[64];
        for (int k = 0; k < width; k++)
            bar[k] = k < filled ? '#' : '.';
        bar[width] = '\0';
        fprintf(out,
                "\r\033[K[%s] %zu/%zu done, %zu running, %zu left, %zu failed, %s elapsed, %s "
                "budget left",
                bar, st->done, total, st->running, queued, st->failed, elapsed, left);
        if (final)
            fputc('\n', out);
    } else {
        fprintf(
            out,
            "cfo: elapsed %s, done %zu/%zu, running %zu, left %zu, failed %zu, budget left %s\n",
            elapsed, st->done, total, st->running, queued, st->failed, left);
    }
    fflush(out);
}

void cfo_run_local(const cfo_taskset *ts, const cfo_run_opts *opts, cfo_outcome *outcomes)
{
    run_state st;
    memset(&st, 0, sizeof st);
    st.ts = ts;
    st.opts = opts;
    st.outcomes = outcomes;
    st.start_ms = cfo_now_ms();
    st.deadline_ms = st.start_ms + opts->budget_ms;
    atomic_init(&st.cancel, false);
    pthread_mutex_init(&st.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st.changed, &ca);
    pthread_condattr_destroy(&ca);

    int nthreads = opts->concurrency < 1 ? 1 : opts->concurrency;
    if ((size_t)nthreads > ts->n)
        nthreads = ts->n ? (int)ts->n : 1;
    pthread_t *threads = cfo_xcalloc((size_t)nthreads, sizeof *threads);
    int started = 0;
    for (int k = 0; k < nthreads; k++) {
        int rc = pthread_create(&threads[k], NULL, worker_main, &st);
        if (rc != 0) {
            cfo_warn("could not start a task thread: %s", strerror(rc));
            break;
        }
        started++;
    }
    if (started == 0) /* run in this thread rather than not at all */
        worker_main(&st);

    int64_t every = opts->progress_every_ms > 0 ? opts->progress_every_ms : 5000;
    int64_t next_print = cfo_now_ms() + (opts->progress_tty ? 0 : every);
    pthread_mutex_lock(&st.mu);
    while (st.done < ts->n) {
        int64_t now = cfo_now_ms();
        if (opts->stop != NULL && *opts->stop && !atomic_load(&st.cancel)) {
            cfo_warn("stop requested: cancelling running tasks");
            atomic_store(&st.cancel, true);
        }
        if (now >= next_print) {
            print_progress(&st, false);
            next_print = now + (opts->progress_tty ? 500 : every);
        }
        /* Wake at least every 200 ms: the stop flag is set by a signal handler. */
        int64_t wake = next_print < now + 200 ? next_print : now + 200;
        struct timespec ts_abs;
        clock_gettime(CLOCK_MONOTONIC, &ts_abs);
        int64_t delta = wake - now;
        if (delta < 1)
            delta = 1;
        ts_abs.tv_sec += delta / 1000;
        ts_abs.tv_nsec += (delta % 1000) * 1000000;
        if (ts_abs.tv_nsec >= 1000000000) {
            ts_abs.tv_sec++;
            ts_abs.tv_nsec -= 1000000000;
        }
        int rc = pthread_cond_timedwait(&st.changed, &st.mu, &ts_abs);
        if (rc != 0 && rc != ETIMEDOUT && rc != EINTR)
            cfo_warn("waiting for tasks: %s", strerror(rc));
    }
    pthread_mutex_unlock(&st.mu);
    for (int k = 0; k < started; k++)
        pthread_join(threads[k], NULL);
    print_progress(&st, true);
    free(threads);
    pthread_cond_destroy(&st.changed);
    pthread_mutex_destroy(&st.mu);
}
