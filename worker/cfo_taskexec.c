/* cfo_taskexec.c -- preparing and running one task on a worker. */
#include "cfo_taskexec.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfo_exec.h"
#include "cfo_exec_argv.h"
#include "cfo_git.h"
#include "cfo_log.h"

/* Whether the config is the repository's own cfo.ini. */
static bool config_is_repos(const cfo_config *config, const char *repo)
{
    if (config->path == NULL || repo == NULL)
        return false;
    char *repo_ini = cfo_xasprintf("%s/cfo.ini", repo);
    char real_a[PATH_MAX], real_b[PATH_MAX];
    bool same = realpath(config->path, real_a) != NULL && realpath(repo_ini, real_b) != NULL &&
                strcmp(real_a, real_b) == 0;
    free(repo_ini);
    return same;
}

cfo_err cfo_task_argv(const cfo_fuzzer *f, const char *target, const char *runner,
                      const cfo_config *config, const char *repo, cfo_strv *argv, char **command,
                      cfo_diag *d)
{
    cfo_buf cmd;
    cfo_buf_init(&cmd);
    if (cfo_kind_info_of(f->kind)->runs_in_runner) {
        cfo_err err = cfo_target_validate(target, d);
        if (err != CFO_OK)
            return err;
        /* Runners get the orchestrator's config file, so both agree on every
         * fuzzer; the recorded command leaves it out when it is the
         * repository's own, since the worktree has the commit's copy. */
        cfo_runner_argv(argv, runner, config, f->name);
        cfo_strv_push(argv, target);
        cfo_strv shown;
        cfo_strv_init(&shown);
        cfo_runner_argv(&shown, "cfo-fuzz", config_is_repos(config, repo) ? NULL : config, f->name);
        cfo_strv_push(&shown, target);
        cfo_shell_quote_argv(&cmd, shown.v);
        cfo_strv_fini(&shown);
    } else {
        cfo_err err = cfo_exec_build_argv(f, target, argv, d);
        if (err != CFO_OK)
            return err;
        cfo_shell_quote_argv(&cmd, argv->v);
    }
    *command = cfo_buf_steal(&cmd);
    return CFO_OK;
}

static void fail(cfo_outcome *out, const char *what, const cfo_diag *d)
{
    cfo_outcome_error(out, d->msg[0] ? d->msg : what);
}

void cfo_task_execute(const cfo_task_env *env, const cfo_msg_task *t, int64_t deadline_ms,
                      const atomic_bool *cancel, cfo_outcome *out)
{
    cfo_diag d = {{0}};
    const cfo_fuzzer *f = cfo_config_find(env->config, t->fuzzer);
    if (f == NULL) {
        cfo_diag_set(&d, CFO_EINVAL, "this worker has no fuzzer '%s'", t->fuzzer);
        fail(out, "unknown fuzzer", &d);
        return;
    }
    char *dir = NULL;
    int hold = -1; /* on the worktree until the task has ended */
    if (f->needs_working_dir) {
        dir = cfo_xasprintf("%s/%s", env->workdir, t->commit);
        pthread_mutex_lock(env->git_lock);
        cfo_err err = cfo_git_worktree_use(env->repo, t->commit, dir, &hold, &d);
        if (err != CFO_OK && cfo_git_fetch(env->repo, t->commit, NULL) == CFO_OK)
            err = cfo_git_worktree_use(env->repo, t->commit, dir, &hold, &d);
        pthread_mutex_unlock(env->git_lock);
        if (err != CFO_OK) {
            cfo_diag_prefix(&d, "worktree of %s", t->commit);
            fail(out, "no worktree", &d);
            free(dir);
            return;
        }
    } else {
        dir = cfo_xstrdup(env->repo);
    }
    cfo_strv argv;
    cfo_strv_init(&argv);
    char *command = NULL;
    if (cfo_task_argv(f, t->target, env->runner, env->config, env->repo, &argv, &command, &d) !=
        CFO_OK) {
        fail(out, "bad task", &d);
        cfo_strv_fini(&argv);
        cfo_git_worktree_release(&hold);
        free(dir);
        return;
    }
    char *log_path =
        env->logs_dir ? cfo_task_log_path(env->logs_dir, t->fuzzer, t->branch, t->target) : NULL;
    /* What a runner needs to fit its work to the task: engines fuzz for the
     * time the task is given and keep corpora relative to the repository,
     * not to a worktree that is thrown away. */
    char repo_abs[PATH_MAX];
    cfo_strv task_env;
    cfo_strv_init(&task_env);
    for (size_t i = 0; i < f->env.n; i++)
        cfo_strv_push(&task_env, f->env.v[i]);
    if (cfo_kind_info_of(f->kind)->runs_in_runner) {
        cfo_strv_push_owned(&task_env, cfo_xasprintf("CFO_TASK_TIMEOUT_MS=%llu",
                                                     (unsigned long long)t->timeout_ms));
        cfo_strv_push_owned(
            &task_env, cfo_xasprintf("CFO_REPO_ROOT=%s",
                                     realpath(env->repo, repo_abs) != NULL ? repo_abs : env->repo));
        /* Engines name stored coverage reports by it. */
        cfo_strv_push_owned(&task_env, cfo_xasprintf("CFO_COMMIT=%s", t->commit));
        /* An engine that runs several processes (go test -parallel) takes
         * its slot's share of the CPUs, not all of them. */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        long share = cpus / (long)(env->slots > 0 ? env->slots : 1);
        cfo_strv_push_owned(&task_env, cfo_xasprintf("CFO_TASK_CPUS=%ld", share > 0 ? share : 1));
    }
    cfo_exec_spec spec = {
        .argv = argv.v,
        .env_add = task_env.n > 0 ? task_env.v : NULL,
        .cwd = dir,
        .timeout_ms = (int64_t)t->timeout_ms,
        .deadline_ms = deadline_ms,
        .grace_ms = env->grace_ms,
        .log_path = log_path,
        .result_fd = true,
        .cancel = cancel,
        .memory_limit_kb = f->memory_limit_kb,
    };
    cfo_exec_result res;
    if (cfo_exec_run(&spec, &res, &d) != CFO_OK) {
        memset(&res, 0, sizeof res);
        res.end = CFO_EXEC_SPAWN_FAILED;
        snprintf(res.error, sizeof res.error, "%s", d.msg);
    } else if (res.error[0] != '\0' && res.end != CFO_EXEC_SPAWN_FAILED) {
        cfo_warn("%s %s: %s", t->fuzzer, t->target, res.error);
    }
    cfo_outcome_from_exec(out, &res, log_path);
    out->command = command;
    cfo_exec_result_fini(&res);
    cfo_strv_fini(&task_env);
    free(log_path);
    cfo_strv_fini(&argv);
    cfo_git_worktree_release(&hold);
    free(dir);
}

void cfo_task_retire_worktrees(const cfo_task_env *env, const cfo_strv *keep)
{
    if (env->keep_worktrees)
        return;
    cfo_diag d = {{0}};
    size_t removed = 0;
    if (cfo_git_worktrees_retire(env->repo, env->workdir, keep, &removed, &d) != CFO_OK)
        cfo_warn("old worktrees were kept: %s", d.msg);
    else if (removed > 0)
        cfo_info("removed %zu worktree(s) of commits the last run did not test", removed);
}

/* The status a process's end gives its task, and into why what happened
 * when that says more than the task's own word ("" for an exit with 0 or 1,
 * the task's pass or fail). */
static cfo_status end_status(const cfo_exec_result *res, double duration, char *why, size_t len)
{
    why[0] = '\0';
    switch (res->end) {
    case CFO_EXEC_EXITED:
        if (res->exit_code == 0 || res->exit_code == 1)
            return res->exit_code == 0 ? CFO_STATUS_PASS : CFO_STATUS_FAIL;
        snprintf(why, len, "exited with status %d", res->exit_code);
        return CFO_STATUS_ERROR;
    case CFO_EXEC_SIGNALED:
        snprintf(why, len, "killed by signal %d (%s)", res->term_signal,
                 strsignal(res->term_signal));
        return CFO_STATUS_ERROR;
    case CFO_EXEC_TIMEOUT:
        snprintf(why, len, "stopped at its timeout after %.1fs", duration);
        return CFO_STATUS_TIMEOUT;
    case CFO_EXEC_CANCELLED:
        snprintf(why, len, "stopped: the coordinator cancelled it or the worker is leaving");
        return CFO_STATUS_CANCELLED;
    case CFO_EXEC_OOM:
        snprintf(why, len, "killed at its memory limit with %lld KiB resident",
                 (long long)res->max_rss_kb);
        return CFO_STATUS_OOM;
    case CFO_EXEC_SPAWN_FAILED:
        snprintf(why, len, "could not start: %s", res->error);
        return CFO_STATUS_ERROR;
    }
    return CFO_STATUS_ERROR;
}

void cfo_outcome_from_exec(cfo_outcome *o, const cfo_exec_result *res, const char *log_path)
{
    memset(o, 0, sizeof *o);
    o->done = true;
    o->exit_code = -1;
    o->duration = (double)res->duration_ms / 1000.0;
    o->has_usage = res->end != CFO_EXEC_SPAWN_FAILED;
    o->cpu = (double)res->cpu_ms / 1000.0;
    o->max_rss_kb = res->max_rss_kb;
    o->end_wall_ms = cfo_wall_ms();
    /* The tail is bytes, not a string: a NUL in the output must not end it. */
    size_t tail_len = res->tail ? res->tail_len : 0;
    o->tail = cfo_xstrndup(res->tail ? res->tail : "", tail_len);
    cfo_outcome_tail_to_text(o->tail, tail_len);
    o->log_path = log_path ? cfo_xstrdup(log_path) : NULL;
    if (res->end == CFO_EXEC_EXITED)
        o->exit_code = res->exit_code;
    else if (res->end == CFO_EXEC_SIGNALED)
        o->term_signal = res->term_signal;
    char buf[160];
    o->status = end_status(res, o->duration, buf, sizeof buf);
    const char *what = buf[0] != '\0' ? buf : NULL;
    o->count = 1;
    o->findings = (o->status == CFO_STATUS_FAIL || o->status == CFO_STATUS_TIMEOUT ||
                   o->status == CFO_STATUS_OOM)
                      ? 1
                      : 0;
    bool reported = res->result != NULL && cfo_outcome_parse_figures(o, res->result);
    if (res->result != NULL && !reported)
        cfo_warn("a task wrote malformed figures to CFO_RESULT_FD; using defaults");
    /* What happened to the process matters more than what it meant to say. */
    if (what != NULL) {
        char *fuzzer_said = o->summary;
        o->summary = fuzzer_said ? cfo_xasprintf("%s (%s)", what, fuzzer_said) : cfo_xstrdup(what);
        free(fuzzer_said);
    }
    if (o->summary == NULL)
        o->summary = cfo_xstrdup(o->status == CFO_STATUS_PASS ? "passed" : "failed");
    cfo_utf8_sanitize(o->summary);
}
