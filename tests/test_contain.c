/* test_contain.c -- task cgroups: a task's daemon ends with its task even
 * while other tasks run, when nothing else can tell whose it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfo_contain.h"
#include "cfo_exec.h"

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

typedef struct waiter {
    char gate[64];
    atomic_bool started, done;
    cfo_exec_result res;
} waiter;

/* A task that runs until its gate file appears. */
static void *run_waiter(void *arg)
{
    waiter *w = arg;
    char script[160];
    snprintf(script, sizeof script, ": > %s.up; while [ ! -e %s ]; do sleep 0.05; done", w->gate,
             w->gate);
    char *argv[] = {"sh", "-c", script, NULL};
    cfo_exec_spec spec = {.argv = argv, .timeout_ms = 60000, .grace_ms = 300};
    cfo_diag d = {{0}};
    cfo_exec_run(&spec, &w->res, &d);
    atomic_store(&w->done, true);
    return NULL;
}

static void wait_file(const char *path)
{
    for (int i = 0; i < 6000 && access(path, F_OK) != 0; i++)
        usleep(10000);
    assert_int_equal(access(path, F_OK), 0);
}

/* Without a cgroup, an orphan adopted while two tasks run cannot be told
 * apart and waits for the last of them; in its task's cgroup it goes at
 * once. */
static void test_daemon_ends_with_its_task_while_another_runs(void **state)
{
    (void)state;
    if (!cfo_contain_cgroups()) {
        print_message("no writable cgroup v2 here\n");
        skip();
    }
    waiter w;
    memset(&w, 0, sizeof w);
    snprintf(w.gate, sizeof w.gate, "/tmp/cfo-contain-%ld", (long)getpid());
    char up[80];
    snprintf(up, sizeof up, "%s.up", w.gate);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_waiter, &w), 0);
    wait_file(up);

    char *argv[] = {"sh", "-c",
                    "env -i /bin/sh -c 'setsid sh -c \"sleep 307.5 & echo daemon \\$!\"'", NULL};
    cfo_exec_spec spec = {.argv = argv, .timeout_ms = 60000, .grace_ms = 300};
    cfo_exec_result res;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_exec_run(&spec, &res, &d), CFO_OK);
    const char *p = strstr(res.tail, "daemon ");
    assert_non_null(p);
    long daemon = strtol(p + 7, NULL, 10);
    assert_true(daemon > 0);
    assert_false(atomic_load(&w.done));
    assert_false(pid_alive(daemon));
    cfo_exec_result_fini(&res);

    FILE *g = fopen(w.gate, "w");
    assert_non_null(g);
    fclose(g);
    pthread_join(t, NULL);
    assert_int_equal(w.res.end, CFO_EXEC_EXITED);
    cfo_exec_result_fini(&w.res);
    unlink(w.gate);
    unlink(up);
}

/* Runs sh -c script as a task; its exit status (-1: it did not exit). */
static int run_task(const char *script, char *cgroup_line, size_t len)
{
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    cfo_exec_spec spec = {.argv = argv, .timeout_ms = 60000, .grace_ms = 300};
    cfo_exec_result res;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_exec_run(&spec, &res, &d), CFO_OK);
    int code = res.end == CFO_EXEC_EXITED ? res.exit_code : -1;
    if (cgroup_line != NULL)
        snprintf(cgroup_line, len, "%s", res.tail);
    cfo_exec_result_fini(&res);
    return code;
}

/* Each task starts in a cgroup of its own, and one whose cgroup had to be
 * killed (a daemon was left in it) takes nothing after it down with it: a
 * killed cgroup kills whatever is started in it later, so it is not used
 * again. */
static void test_tasks_after_a_killed_cgroup_still_run(void **state)
{
    (void)state;
    if (!cfo_contain_cgroups()) {
        print_message("no writable cgroup v2 here\n");
        skip();
    }
    char first[256], next[256];
    assert_int_equal(run_task("grep '^0::' /proc/self/cgroup", first, sizeof first), 0);
    assert_non_null(strstr(first, "/t"));
    for (int i = 0; i < 3; i++) {
        /* A daemon: its cgroup is killed when the task ends. */
        assert_int_equal(run_task("setsid sleep 308.5 > /dev/null 2>&1 & exit 0", NULL, 0), 0);
        assert_int_equal(run_task("grep '^0::' /proc/self/cgroup", next, sizeof next), 0);
        assert_non_null(strstr(next, "/t"));
    }
    assert_int_equal(run_task("exit 3", NULL, 0), 3);
}

/* A child the kernel kills at birth (started in a cgroup that was killed
 * with cgroup.kill behind the pool's back) is noticed: the task is started
 * again the other way, moved into its cgroup, and runs. Last: from then on
 * this process starts every child that way. */
static void test_a_child_killed_at_birth_is_started_again(void **state)
{
    (void)state;
    if (!cfo_contain_cgroups()) {
        print_message("no writable cgroup v2 here\n");
        skip();
    }
    cfo_task_cgroup cg;
    cfo_task_cgroup_make(&cg);
    assert_true(cg.dir_fd >= 0);
    char fdlink[64], dir[512], kill_path[600];
    snprintf(fdlink, sizeof fdlink, "/proc/self/fd/%d", cg.dir_fd);
    ssize_t n = readlink(fdlink, dir, sizeof dir - 1);
    assert_true(n > 0);
    dir[n] = '\0';
    snprintf(kill_path, sizeof kill_path, "%s/cgroup.kill", dir);
    FILE *k = fopen(kill_path, "w");
    assert_non_null(k);
    assert_int_equal(fputs("1", k) >= 0, 1);
    assert_int_equal(fclose(k), 0);
    cfo_task_cgroup_end(&cg); /* empty and not killed by us: back in the pool */

    char where[256];
    assert_int_equal(run_task("grep '^0::' /proc/self/cgroup", where, sizeof where), 0);
    assert_non_null(strstr(where, strrchr(dir, '/')));
    assert_int_equal(run_task("exit 4", NULL, 0), 4);
}

/* The watchdog is a child no task owns: ending what tasks left behind
 * spares it. */
static void test_watchdog_outlives_the_end_of_adopted(void **state)
{
    (void)state;
    pid_t dog = cfo_contain_watchdog();
    assert_true(dog > 0);
    cfo_exec_end_adopted();
    assert_true(pid_alive(dog));
}

int main(void)
{
    cfo_exec_contain();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daemon_ends_with_its_task_while_another_runs),
        cmocka_unit_test(test_tasks_after_a_killed_cgroup_still_run),
        cmocka_unit_test(test_watchdog_outlives_the_end_of_adopted),
        cmocka_unit_test(test_a_child_killed_at_birth_is_started_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
