/* fz_exec.c -- the exec fuzzer: the project's own command, run per target;
 * its exit status is the verdict. */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfo_exec.h"
#include "cfo_exec_argv.h"
#include "cfo_fuzz_impl.h"

extern char **environ;

/* Most bytes a discover command may print: a listing of targets, not data. */
#define EXEC_DISCOVER_MAX_OUT ((size_t)16 << 20)

/* Keeps the last few lines of a helper's stderr for a one-paragraph message. */
static const char *stderr_tail(const char *err)
{
    size_t len = err ? strlen(err) : 0;
    if (len <= 400)
        return err ? err : "";
    const char *p = err + len - 400;
    const char *nl = strchr(p, '\n');
    return nl && nl[1] ? nl + 1 : p;
}

static cfo_err exec_discover(const cfo_fuzzer *f, cfo_strv *targets, cfo_diag *d)
{
    if (f->discover_argv.n == 0) {
        cfo_strv_push(targets, "default");
        return CFO_OK;
    }
    for (size_t i = 0; i < f->discover_argv.n; i++)
        if (strstr(f->discover_argv.v[i], CFO_EXEC_TARGET_WORD) != NULL)
            return cfo_diag_set(d, CFO_EINVAL, "fuzzer %s: the discover command cannot use %s",
                                f->name, CFO_EXEC_TARGET_WORD);
    cfo_capture cap;
    memset(&cap, 0, sizeof cap);
    cfo_err err =
        cfo_exec_capture(f->discover_argv.v, NULL, NULL, 0, EXEC_DISCOVER_MAX_OUT, &cap, d);
    if (err != CFO_OK) {
        cfo_diag_prefix(d, "fuzzer %s: discover command %s", f->name, f->discover_argv.v[0]);
        cfo_capture_fini(&cap);
        return err;
    }
    if (cap.exit_code != 0) {
        err = cfo_diag_set(d, CFO_ECHILD, "fuzzer %s: discover command %s exited with %d: %s",
                           f->name, f->discover_argv.v[0], cap.exit_code, stderr_tail(cap.err));
        cfo_capture_fini(&cap);
        return err;
    }
    cfo_strv found;
    cfo_strv_init(&found);
    const char *end = cap.out ? cap.out + cap.out_len : NULL;
    for (const char *line = cap.out, *next; line != NULL && line < end; line = next) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        next = nl ? nl + 1 : end;
        size_t n = (size_t)((nl ? nl : end) - line);
        if (n > 0 && line[n - 1] == '\r')
            n--;
        size_t blank = 0;
        while (blank < n && (line[blank] == ' ' || line[blank] == '\t'))
            blank++;
        if (blank == n)
            continue;
        char *t = cfo_xstrndup(line, n);
        cfo_diag why;
        if (strlen(t) != n)
            cfo_diag_set(&why, CFO_EINVAL, "target contains a NUL byte");
        else if (cfo_target_validate(t, &why) == CFO_OK) {
            cfo_strv_push_owned(&found, t);
            continue;
        }
        err = cfo_diag_set(d, CFO_EINVAL, "fuzzer %s: discover command printed a bad target: %s",
                           f->name, why.msg);
        free(t);
        break;
    }
    cfo_capture_fini(&cap);
    if (err == CFO_OK) {
        cfo_strv_sort(&found);
        for (size_t i = 0; i < found.n; i++)
            if (i == 0 || strcmp(found.v[i], found.v[i - 1]) != 0)
                cfo_strv_push(targets, found.v[i]);
    }
    cfo_strv_fini(&found);
    return err;
}

/* The command runs in our process group, so a signal to the group reaches it
 * anyway; one sent to us alone is passed on so the command never outlives us. */
static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

static cfo_fuzz_verdict exec_run(const cfo_fuzzer *f, const char *target, cfo_fuzz_result *res,
                                 cfo_diag *d)
{
    res->count = 0;
    res->findings = 0;
    cfo_strv argv;
    cfo_strv_init(&argv);
    cfo_fuzz_verdict verdict = CFO_FUZZ_ERROR;
    if (cfo_exec_build_argv(f, target, &argv, d) != CFO_OK)
        goto out;

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    struct sigaction sa, old_term, old_int, old_hup;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGHUP, &sa, &old_hup);

    fflush(stdout);
    fflush(stderr);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv.v[0], NULL, &attr, argv.v, environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        if (rc == ENOENT)
            cfo_diag_set(d, CFO_ENOTFOUND, "command '%s' not found", argv.v[0]);
        else
            cfo_diag_set(d, CFO_ECHILD, "cannot run '%s': %s", argv.v[0], strerror(rc));
        goto restore;
    }
    child_pid = pid;
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            cfo_diag_set(d, CFO_ECHILD, "waiting for '%s': %s", argv.v[0], strerror(errno));
            child_pid = 0;
            goto restore;
        }
    }
    child_pid = 0;
    res->count = 1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        verdict = CFO_FUZZ_PASS;
        cfo_buf_puts(&res->summary, "command passed");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
        verdict = CFO_FUZZ_FAIL;
        res->findings = 1;
        cfo_buf_puts(&res->summary, "command failed (exit status 1)");
    } else if (WIFEXITED(status)) {
        cfo_diag_set(d, CFO_ECHILD, "command '%s' exited with status %d (0 is pass, 1 is fail)",
                     argv.v[0], WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        cfo_diag_set(d, CFO_ECHILD, "command '%s' was killed by signal %d (%s)", argv.v[0],
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else {
        cfo_diag_set(d, CFO_ECHILD, "command '%s' ended with wait status %#x", argv.v[0],
                     (unsigned)status);
    }
restore:
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
out:
    cfo_strv_fini(&argv);
    return verdict;
}

const cfo_fuzz_impl cfo_fuzz_impl_exec = {
    .kind = CFO_KIND_EXEC,
    .discover = exec_discover,
    .run = exec_run,
};
