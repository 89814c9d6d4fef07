/* test_exec.c -- the task executor against real processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfo_exec.h"
#include "cfo_log.h"
#include "cfo_util.h"

#define GRACE_MS 300
/* Slack on top of a task's own limits that a loaded machine may need. */
#define SLACK_MS 10000

static const char *helper(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/tests/exec_helpers/%s", CFO_SOURCE_DIR, name);
    return path;
}

static void spec_init(cfo_exec_spec *spec, char **argv)
{
    memset(spec, 0, sizeof *spec);
    spec->argv = argv;
    spec->grace_ms = GRACE_MS;
}

static void run_ok(const cfo_exec_spec *spec, cfo_exec_result *res)
{
    cfo_diag d = {{0}};
    assert_int_equal(cfo_exec_run(spec, res, &d), CFO_OK);
    assert_non_null(res->tail);
    assert_int_equal(res->tail[res->tail_len], '\0');
}

/* Pids of live processes whose environment holds CFO_TASK_COOKIE=cookie. */
static int count_cookie_carriers(const char *cookie)
{
    char needle[128];
    int nlen = snprintf(needle, sizeof needle, "CFO_TASK_COOKIE=%s", cookie);
    DIR *dir = opendir("/proc");
    assert_non_null(dir);
    int found = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/environ", de->d_name);
        cfo_buf b;
        cfo_buf_init(&b);
        if (cfo_read_file(path, 1 << 22, &b, NULL) == CFO_OK) {
            for (size_t at = 0; at < b.len; at += strlen(b.data + at) + 1) {
                if (strncmp(b.data + at, needle, (size_t)nlen) == 0 && b.data[at + nlen] == '\0')
                    found++;
            }
        }
        cfo_buf_fini(&b);
    }
    closedir(dir);
    return found;
}

/* The value printed after "key " in text, as a number. */
static long number_after(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    assert_non_null(p);
    return strtol(p + strlen(key), NULL, 10);
}

/* The word printed after "key " in text. */
static void word_after(const char *text, const char *key, char *out, size_t len)
{
    const char *p = strstr(text, key);
    assert_non_null(p);
    p += strlen(key);
    size_t n = strcspn(p, " \n");
    assert_true(n > 0 && n < len);
    memcpy(out, p, n);
    out[n] = '\0';
}

static bool pid_alive(long pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    bool alive = false;
    if (fgets(buf, sizeof buf, f) != NULL) {
        const char *p = strrchr(buf, ')');
        alive = p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
    }
    fclose(f);
    return alive;
}

/* Fails the test that left a zombie child of this process behind. */
static int no_zombies(void **state)
{
    (void)state;
    DIR *dir = opendir("/proc");
    if (dir == NULL)
        return -1;
    int zombies = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(buf, sizeof buf, f) != NULL) {
            const char *p = strrchr(buf, ')');
            char st;
            long ppid;
            if (p != NULL && sscanf(p + 1, " %c %ld", &st, &ppid) == 2 && ppid == getpid() &&
                st == 'Z') {
                fprintf(stderr, "zombie child left behind: %s", buf);
                zombies++;
            }
        }
        fclose(f);
    }
    closedir(dir);
    return zombies == 0 ? 0 : -1;
}

/* ---- capture ---- */

static void test_capture_stdout_and_status(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "printf 'hello %s' \"$GREETING\"; echo oops >&2; exit 3", NULL};
    char *env[] = {"GREETING=world", NULL};
    cfo_capture cap;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_exec_capture(argv, NULL, env, 10000, 1024, &cap, &d), CFO_OK);
    assert_int_equal(cap.exit_code, 3);
    assert_string_equal(cap.out, "hello world");
    assert_int_equal(cap.out_len, 11);
    assert_string_equal(cap.err, "oops\n");
    cfo_capture_fini(&cap);
}

static void test_capture_cwd(void **state)
{
    (void)state;
    char *argv[] = {"pwd", NULL};
    cfo_capture cap;
    assert_int_equal(cfo_exec_capture(argv, "/", NULL, 0, 1024, &cap, NULL), CFO_OK);
    assert_int_equal(cap.exit_code, 0);
    assert_string_equal(cap.out, "/\n");
    cfo_capture_fini(&cap);
}

static void test_capture_limit(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "head -c 1000000 /dev/zero; sleep 1000", NULL};
    cfo_capture cap;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_exec_capture(argv, NULL, NULL, 0, 100, &cap, &d), CFO_ELIMIT);
    assert_int_equal(cap.exit_code, -1);
    assert_non_null(strstr(d.msg, "100 bytes"));
    cfo_capture_fini(&cap);
}

static void test_capture_timeout(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "echo started >&2; sleep 1000", NULL};
    cfo_capture cap;
    cfo_diag d = {{0}};
    int64_t t0 = cfo_now_ms();
    assert_int_equal(cfo_exec_capture(argv, NULL, NULL, 300, 100, &cap, &d), CFO_ETIMEDOUT);
    assert_true(cfo_now_ms() - t0 < 300 + 2000 + 10000);
    assert_int_equal(cap.exit_code, -1);
    assert_non_null(strstr(d.msg, "timed out"));
    cfo_capture_fini(&cap);
}

static void test_capture_signal_and_missing(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "kill -SEGV $$", NULL};
    cfo_capture cap;
    assert_int_equal(cfo_exec_capture(argv, NULL, NULL, 0, 100, &cap, NULL), CFO_OK);
    assert_int_equal(cap.exit_code, -1);
    cfo_capture_fini(&cap);
    char *missing[] = {"cfo-no-such-program-here", NULL};
    cfo_diag d = {{0}};
    assert_int_equal(cfo_exec_capture(missing, NULL, NULL, 0, 100, &cap, &d), CFO_ECHILD);
    assert_non_null(strstr(d.msg, "cfo-no-such-program-here"));
    cfo_capture_fini(&cap);
}

/* ---- tasks ---- */

static void test_exit_codes_and_env(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "printf '%s|%s' \"$HOME\" \"$CFO_EXTRA\"; exit 7", NULL};
    char *env[] = {"HOME=/nowhere", "CFO_EXTRA=1", NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    spec.env_add = env;
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_EXITED);
    assert_int_equal(res.exit_code, 7);
    assert_string_equal(res.tail, "/nowhere|1");
    assert_null(res.result);
    assert_string_equal(res.error, "");
    cfo_exec_result_fini(&res);

    char *zero[] = {"true", NULL};
    spec_init(&spec, zero);
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_EXITED);
    assert_int_equal(res.exit_code, 0);
    assert_int_equal(res.output_bytes, 0);
    cfo_exec_result_fini(&res);
}

/* stdin is /dev/null, the child sees no fd of ours, signals are reset. */
static void test_child_environment(void **state)
{
    (void)state;
    int leak = fcntl(2, F_DUPFD, 10); /* not close-on-exec */
    assert_true(leak >= 10);
    char *script = cfo_xasprintf("cat; test -e /proc/self/fd/%d && exit 1;"
                                 " test -e /proc/self/fd/3 || exit 2;"
                                 " test -e /proc/self/fd/4 && exit 3;"
                                 " echo ok $CFO_RESULT_FD",
                                 leak);
    char *argv[] = {"sh", "-c", script, NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    spec.result_fd = true;
    spec.timeout_ms = SLACK_MS;
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_EXITED);
    assert_int_equal(res.exit_code, 0);
    assert_string_equal(res.tail, "ok 3\n");
    cfo_exec_result_fini(&res);
    close(leak);
    free(script);

    /* An ignored and blocked signal here is default and unblocked there. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGUSR1, &ign, &old);
    sigset_t usr1, oldmask;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr1, &oldmask);
    char *sig[] = {"sh", "-c", "kill -USR1 $$; kill -USR2 $$; exit 0", NULL};
    spec_init(&spec, sig);
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_SIGNALED);
    assert_int_equal(res.term_signal, SIGUSR1);
    cfo_exec_result_fini(&res);
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    sigaction(SIGUSR1, &old, NULL);
}

/* The text `seq 1 n` prints. */
static char *seq_text(int n, size_t *len)
{
    cfo_buf b;
    cfo_buf_init(&b);
    for (int i = 1; i <= n; i++)
        cfo_buf_printf(&b, "%d\n", i);
    *len = b.len;
    return cfo_buf_steal(&b);
}

static void test_output_tail_and_log(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/cfo-exec-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char *log = cfo_xasprintf("%s/a/b/task.log", tmpl);
    char *argv[] = {"sh", "-c", "seq 1 100000; seq 1 100000 >&2", NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    spec.tail_cap = 1000;
    spec.log_path = log;
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_EXITED);
    assert_string_equal(res.error, "");

    size_t one_len;
    char *one = seq_text(100000, &one_len);
    assert_int_equal(res.output_bytes, 2 * one_len);
    assert_int_equal(res.tail_len, 1000);
    assert_memory_equal(res.tail, one + one_len - 1000, 1000);

    cfo_buf b;
    cfo_buf_init(&b);
    assert_int_equal(cfo_read_file(log, 1 << 24, &b, NULL), CFO_OK);
    assert_int_equal(b.len, 2 * one_len);
    assert_memory_equal(b.data, one, one_len);
    assert_memory_equal(b.data + one_len, one, one_len);
    cfo_buf_fini(&b);
    cfo_exec_result_fini(&res);

    /* A log that cannot be written is reported; the task still runs. */
    char *bad = cfo_xasprintf("%s/a/b/task.log/x.log", tmpl);
    char *argv2[] = {"sh", "-c", "echo fine; exit 4", NULL};
    spec_init(&spec, argv2);
    spec.log_path = bad;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_EXITED);
    assert_int_equal(res.exit_code, 4);
    assert_string_equal(res.tail, "fine\n");
    assert_non_null(strstr(res.error, "log"));
    cfo_exec_result_fini(&res);

    free(bad);
    free(one);
    free(log);
    assert_int_equal(cfo_remove_tree(tmpl, NULL), CFO_OK);
}

static void test_result_fd(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "echo out; printf '{\"ok\": true}' >&$CFO_RESULT_FD", NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    spec.result_fd = true;
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_EXITED);
    assert_string_equal(res.tail, "out\n");
    assert_non_null(res.result);
    assert_string_equal(res.result, "{\"ok\": true}");
    assert_int_equal(res.result_len, 12);
    assert_false(res.result_truncated);
    cfo_exec_result_fini(&res);

    char *big[] = {"sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x >&3; exit 0", NULL};
    spec_init(&spec, big);
    spec.result_fd = true;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_EXITED);
    assert_int_equal(res.exit_code, 0);
    assert_int_equal(res.result_len, CFO_EXEC_MAX_RESULT);
    assert_int_equal(strlen(res.result), CFO_EXEC_MAX_RESULT);
    assert_true(res.result_truncated);
    cfo_exec_result_fini(&res);
}

static void test_sigterm_ignored_is_killed_after_grace(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "trap '' TERM; echo ready; sleep 1000; echo survived", NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    spec.timeout_ms = 300;
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_TIMEOUT);
    assert_string_equal(res.tail, "ready\n");
    assert_true(res.duration_ms >= 300 + GRACE_MS);
    assert_true(res.duration_ms < 300 + GRACE_MS + SLACK_MS);
    cfo_exec_result_fini(&res);
}

static void test_grandchild_ignoring_sigterm(void **state)
{
    (void)state;
    /* The grandchild ignores TERM; the main child dies of it at once. */
    char *argv[] = {"sh", "-c",
                    "sh -c \"trap '' TERM; sleep 1000\" & echo grandchild $!; echo cookie "
                    "$CFO_TASK_COOKIE; exec sleep 1000",
                    NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    spec.timeout_ms = 300;
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_TIMEOUT);
    long gc = number_after(res.tail, "grandchild ");
    char cookie[96];
    word_after(res.tail, "cookie ", cookie, sizeof cookie);
    assert_false(pid_alive(gc));
    assert_int_equal(count_cookie_carriers(cookie), 0);
    cfo_exec_result_fini(&res);
}

/* A descendant that left the group with setsid, lost its parent and ignores
 * SIGTERM is found by its cookie, killed and reaped. */
static void escapee_case(bool stay, cfo_exec_end want)
{
    char *argv[] = {"python3", (char *)helper("escape.py"), stay ? "stay" : "exit", NULL};
    char *env[] = {NULL, NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    spec.timeout_ms = stay ? 1500 : 0;
    spec.env_add = env;
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, want);
    if (want == CFO_EXEC_EXITED)
        assert_int_equal(res.exit_code, 0);
    long pid = number_after(res.tail, "escaped ");
    assert_false(pid_alive(pid));
    cfo_exec_result_fini(&res);
}

static void test_setsid_escapee_after_exit(void **state)
{
    (void)state;
    escapee_case(false, CFO_EXEC_EXITED);
}

static void test_setsid_escapee_at_timeout(void **state)
{
    (void)state;
    escapee_case(true, CFO_EXEC_TIMEOUT);
}

static void test_setsid_shell_stray(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "setsid sleep 1000 & echo stray $!; echo cookie $CFO_TASK_COOKIE",
                    NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_EXITED);
    assert_int_equal(res.exit_code, 0);
    char cookie[96];
    word_after(res.tail, "cookie ", cookie, sizeof cookie);
    assert_false(pid_alive(number_after(res.tail, "stray ")));
    assert_int_equal(count_cookie_carriers(cookie), 0);
    cfo_exec_result_fini(&res);
}

/* A daemon that clears its environment (no cookie), leaves the group and
 * forks twice is adopted by this subreaper when its parent exits, and ends
 * with its task. */
static void test_env_cleared_double_fork_daemon(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c",
                    "env -i /bin/sh -c 'setsid sh -c \"sleep 304.5 & echo daemon \\$!\"' ; "
                    "sleep 0.2",
                    NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_EXITED);
    long daemon = number_after(res.tail, "daemon ");
    assert_true(daemon > 0);
    assert_false(pid_alive(daemon));
    cfo_exec_result_fini(&res);
}

/* What a task left that could not be told apart at its end (another task
 * was running) goes when the worker ends what it adopted. */
static void test_end_adopted(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t mid = fork();
    assert_true(mid >= 0);
    if (mid == 0) {
        /* The grandchild outlives its parent and is re-parented here. */
        pid_t gc = fork();
        if (gc == 0) {
            setsid();
            execlp("sleep", "sleep", "305.5", (char *)NULL);
            _exit(127);
        }
        ssize_t w = write(p[1], &gc, sizeof gc);
        (void)w;
        _exit(0);
    }
    pid_t gc = 0;
    assert_int_equal(read(p[0], &gc, sizeof gc), (ssize_t)sizeof gc);
    close(p[0]);
    close(p[1]);
    assert_int_equal(waitpid(mid, NULL, 0), mid);
    assert_true(pid_alive(gc));
    cfo_exec_end_adopted();
    assert_false(pid_alive(gc));
}

static void test_gigabyte_of_output(void **state)
{
    (void)state;
    char *argv[] = {"head", "-c", "1073741824", "/dev/zero", NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    spec.tail_cap = 4096;
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_EXITED);
    assert_int_equal(res.exit_code, 0);
    assert_int_equal(res.output_bytes, (uint64_t)1 << 30);
    assert_int_equal(res.tail_len, 4096);
    char zeros[4096] = {0};
    assert_memory_equal(res.tail, zeros, sizeof zeros);
    cfo_exec_result_fini(&res);
}

static void test_segv_is_signaled(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "kill -SEGV $$", NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_SIGNALED);
    assert_int_equal(res.term_signal, SIGSEGV);
    cfo_exec_result_fini(&res);
}

static void test_timeout(void **state)
{
    (void)state;
    char *argv[] = {"sleep", "1000", NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    spec.timeout_ms = 300;
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_TIMEOUT);
    assert_true(res.duration_ms >= 300);
    assert_true(res.duration_ms < 300 + GRACE_MS + SLACK_MS);
    cfo_exec_result_fini(&res);
}

static void test_deadline(void **state)
{
    (void)state;
    char *argv[] = {"sleep", "1000", NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    spec.deadline_ms = cfo_now_ms() - 1;
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_CANCELLED);
    cfo_exec_result_fini(&res);

    spec.deadline_ms = cfo_now_ms() + 300;
    spec.timeout_ms = 60000;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_CANCELLED);
    assert_true(cfo_now_ms() >= spec.deadline_ms);
    assert_true(res.duration_ms < 300 + GRACE_MS + SLACK_MS);
    cfo_exec_result_fini(&res);
}

typedef struct canceller {
    const char *marker;
    atomic_bool cancel;
    bool saw_marker;
} canceller;

static void *cancel_when_started(void *arg)
{
    canceller *c = arg;
    int64_t until = cfo_now_ms() + 30000;
    struct timespec tick = {.tv_nsec = 10 * 1000000};
    while (access(c->marker, F_OK) != 0 && cfo_now_ms() < until)
        nanosleep(&tick, NULL);
    c->saw_marker = access(c->marker, F_OK) == 0;
    atomic_store(&c->cancel, true);
    return NULL;
}

static void test_cancel_from_another_thread(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/cfo-exec-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char *marker = cfo_xasprintf("%s/started", tmpl);
    char *script = cfo_xasprintf("touch '%s'; exec sleep 1000", marker);
    char *argv[] = {"sh", "-c", script, NULL};
    canceller c = {.marker = marker};
    atomic_init(&c.cancel, false);
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    spec.cancel = &c.cancel;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_when_started, &c), 0);
    cfo_exec_result res;
    run_ok(&spec, &res);
    pthread_join(t, NULL);
    assert_true(c.saw_marker);
    assert_int_equal(res.end, CFO_EXEC_CANCELLED);
    cfo_exec_result_fini(&res);
    free(script);
    free(marker);
    assert_int_equal(cfo_remove_tree(tmpl, NULL), CFO_OK);
}

static void test_missing_binary(void **state)
{
    (void)state;
    char *argv[] = {"cfo-no-such-program-here", NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_SPAWN_FAILED);
    assert_non_null(strstr(res.error, "cfo-no-such-program-here"));
    assert_non_null(strstr(res.error, strerror(ENOENT)));
    cfo_exec_result_fini(&res);

    char *abs[] = {"/nonexistent/bin/x", NULL};
    spec_init(&spec, abs);
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_SPAWN_FAILED);
    cfo_exec_result_fini(&res);
}

typedef struct concurrent_task {
    int n;
    cfo_exec_result res;
    cfo_err err;
} concurrent_task;

static void *run_concurrent(void *arg)
{
    concurrent_task *ct = arg;
    char *script;
    cfo_exec_spec spec;
    char *argv[] = {"sh", "-c", NULL, NULL};
    if (ct->n == 3) {
        /* One of them times out and leaves a stray to clean up. */
        script = cfo_xasprintf("setsid sleep 1000 & echo task3 $CFO_TASK_COOKIE; sleep 1000");
    } else {
        script = cfo_xasprintf("sleep 0.%d; echo task%d $CFO_TASK_COOKIE; exit %d", ct->n, ct->n,
                               10 + ct->n);
    }
    argv[2] = script;
    spec_init(&spec, argv);
    spec.timeout_ms = ct->n == 3 ? 500 : 60000;
    ct->err = cfo_exec_run(&spec, &ct->res, NULL);
    free(script);
    return NULL;
}

static void test_four_concurrent_tasks(void **state)
{
    (void)state;
    concurrent_task ct[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        memset(&ct[i], 0, sizeof ct[i]);
        ct[i].n = i;
        assert_int_equal(pthread_create(&t[i], NULL, run_concurrent, &ct[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char cookies[4][96];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ct[i].err, CFO_OK);
        char key[16];
        snprintf(key, sizeof key, "task%d ", i);
        word_after(ct[i].res.tail, key, cookies[i], sizeof cookies[i]);
        assert_int_equal(count_cookie_carriers(cookies[i]), 0);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(cookies[i], cookies[k]);
        if (i == 3) {
            assert_int_equal(ct[i].res.end, CFO_EXEC_TIMEOUT);
        } else {
            assert_int_equal(ct[i].res.end, CFO_EXEC_EXITED);
            assert_int_equal(ct[i].res.exit_code, 10 + i);
        }
        cfo_exec_result_fini(&ct[i].res);
    }
}

/* A task's log is capped: a flood of output cannot fill the disk, and the log
 * says where it was cut. */
static void test_log_is_capped(void **state)
{
    (void)state;
    char dir[] = "/tmp/cfo-logcap-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char log[128];
    snprintf(log, sizeof log, "%s/task.log", dir);
    char *argv[] = {"sh", "-c", "head -c 10000 /dev/zero | tr '\\0' a", NULL};
    cfo_exec_spec spec = {.argv = argv, .log_path = log, .log_cap = 1000};
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_EXITED);
    assert_int_equal(res.output_bytes, 10000);
    cfo_buf b;
    cfo_buf_init(&b);
    assert_int_equal(cfo_read_file(log, 1 << 20, &b, NULL), CFO_OK);
    assert_true(b.len > 1000 && b.len < 1200);
    assert_non_null(strstr(b.data, "log cut at 1000 bytes"));
    cfo_buf_fini(&b);
    cfo_exec_result_fini(&res);
    unlink(log);
    rmdir(dir);
}

/* A task started inside another task keeps the outer cookie in front of its
 * own, and the sweep finds a process that lists the task's cookie anywhere in
 * that list: so processes a runner starts (cfo-fuzz running terraform) are
 * still swept when the enclosing task ends. */
static void test_nested_cookies(void **state)
{
    (void)state;
    setenv("CFO_TASK_COOKIE", "outer-cookie", 1);
    char *show[] = {"sh", "-c", "printf '%s' \"$CFO_TASK_COOKIE\"", NULL};
    cfo_capture cap;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_exec_capture(show, NULL, NULL, 10000, 1024, &cap, &d), CFO_OK);
    assert_true(strncmp(cap.out, "outer-cookie:", 13) == 0);
    assert_true(strlen(cap.out) > 13 && strchr(cap.out + 13, ':') == NULL);
    cfo_capture_fini(&cap);
    unsetenv("CFO_TASK_COOKIE");

    /* The stray carries "inner:<task cookie>", as if a nested runner started it. */
    char *argv[] = {"sh", "-c",
                    "CFO_TASK_COOKIE=\"inner-runner:$CFO_TASK_COOKIE\" setsid sleep 1000.5 &"
                    " echo cookie $CFO_TASK_COOKIE; exit 0",
                    NULL};
    cfo_exec_spec spec = {.argv = argv, .grace_ms = 300};
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_EXITED);
    const char *at = strstr(res.tail, "cookie ");
    assert_non_null(at);
    char cookie[96];
    assert_int_equal(sscanf(at, "cookie %95s", cookie), 1);
    char nested[160];
    snprintf(nested, sizeof nested, "inner-runner:%s", cookie);
    assert_int_equal(count_cookie_carriers(nested), 0);
    cfo_exec_result_fini(&res);
}

/* Python that touches `mb` MiB in 8 MiB steps (so the pages are resident),
 * then burns `spin` loop turns of CPU and exits 0. */
static char *hog_script(int mb, long spin)
{
    return cfo_xasprintf("import sys\n"
                         "keep = []\n"
                         "for _ in range(%d // 8):\n"
                         "    keep.append(b'x' * (8 << 20))\n"
                         "n = 0\n"
                         "for i in range(%ld):\n"
                         "    n += i\n"
                         "print('survived', len(keep))\n",
                         mb, spin);
}

static void test_usage_is_measured(void **state)
{
    (void)state;
    char *py = hog_script(64, 3000000);
    char *argv[] = {"python3", "-c", py, NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_EXITED);
    assert_int_equal(res.exit_code, 0);
    /* 64 MiB touched: the peak is at least that (the interpreter adds more). */
    assert_true(res.max_rss_kb >= 64 * 1024);
    assert_true(res.cpu_ms > 0);
    cfo_exec_result_fini(&res);
    free(py);
}

static void test_memory_limit_ends_as_oom(void **state)
{
    (void)state;
    char *py = hog_script(4096, 0);
    char *argv[] = {"python3", "-c", py, NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    spec.memory_limit_kb = 96 * 1024;
    spec.timeout_ms = 120000;
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_OOM);
    assert_true(res.max_rss_kb > 96 * 1024);
    assert_null(strstr(res.tail, "survived"));
    cfo_exec_result_fini(&res);
    free(py);
}

/* The limit is on the task, not its first process: a shell whose child
 * grows is stopped too. */
static void test_memory_limit_counts_descendants(void **state)
{
    (void)state;
    char *py = hog_script(4096, 0);
    char *sh = cfo_xstrdup("python3 -c \"$1\"; echo shell-went-on");
    char *argv[] = {"sh", "-c", sh, "sh", py, NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    spec.memory_limit_kb = 96 * 1024;
    spec.timeout_ms = 120000;
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_OOM);
    assert_null(strstr(res.tail, "shell-went-on"));
    cfo_exec_result_fini(&res);
    free(sh);
    free(py);
}

static void test_memory_limit_not_reached(void **state)
{
    (void)state;
    char *py = hog_script(16, 0);
    char *argv[] = {"python3", "-c", py, NULL};
    cfo_exec_spec spec;
    spec_init(&spec, argv);
    spec.memory_limit_kb = 1024 * 1024;
    cfo_exec_result res;
    run_ok(&spec, &res);
    assert_int_equal(res.end, CFO_EXEC_EXITED);
    assert_int_equal(res.exit_code, 0);
    assert_non_null(strstr(res.tail, "survived"));
    cfo_exec_result_fini(&res);
    free(py);
}

#define T(f) cmocka_unit_test_teardown(f, no_zombies)

int main(void)
{
    cfo_exec_become_subreaper();
    const struct CMUnitTest tests[] = {
        T(test_capture_stdout_and_status),
        T(test_capture_cwd),
        T(test_capture_limit),
        T(test_capture_timeout),
        T(test_capture_signal_and_missing),
        T(test_exit_codes_and_env),
        T(test_child_environment),
        T(test_output_tail_and_log),
        T(test_result_fd),
        T(test_sigterm_ignored_is_killed_after_grace),
        T(test_grandchild_ignoring_sigterm),
        T(test_setsid_escapee_after_exit),
        T(test_setsid_escapee_at_timeout),
        T(test_setsid_shell_stray),
        T(test_env_cleared_double_fork_daemon),
        T(test_end_adopted),
        T(test_gigabyte_of_output),
        T(test_segv_is_signaled),
        T(test_timeout),
        T(test_deadline),
        T(test_cancel_from_another_thread),
        T(test_missing_binary),
        T(test_four_concurrent_tasks),
        T(test_nested_cookies),
        T(test_log_is_capped),
        T(test_usage_is_measured),
        T(test_memory_limit_ends_as_oom),
        T(test_memory_limit_counts_descendants),
        T(test_memory_limit_not_reached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
