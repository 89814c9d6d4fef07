/* cfo_contain.h -- what ends a task's processes when the subreaper cannot:
 * a cgroup v2 per task, where one is delegated and writable (cgroup.kill
 * ends a task whose daemons left its process group and its environment),
 * and a watchdog process that ends every running task when the program
 * that runs them is killed outright. */
#ifndef CFO_CONTAIN_H
#define CFO_CONTAIN_H

#include <stdbool.h>
#include <sys/types.h>
#include <unistd.h>

/* Sets up containment for this program's tasks, once: a cgroup of its own
 * under its current one, when cgroup v2 is mounted there, writable and has
 * cgroup.kill; and the watchdog. Returns whether tasks get cgroups. */
bool cfo_contain_start(void);

/* Whether tasks get cgroups (cfo_contain_start found them usable). */
bool cfo_contain_cgroups(void);

/* The watchdog's pid (a child of this process no task owns), or 0. */
pid_t cfo_contain_watchdog(void);

/* Tells the watchdog that a task's process group started (live) or ended. */
void cfo_contain_group(pid_t pgid, bool live);

/* One task's cgroup; procs_fd is -1 when it has none. */
typedef struct cfo_task_cgroup {
    int procs_fd; /* its cgroup.procs, open for writing */
    int dir_fd;   /* its folder, to be born in it (CLONE_INTO_CGROUP), or -1 */
    unsigned id;
    bool killed; /* through cgroup.kill: the kernel kills what is started in it later */
} cfo_task_cgroup;

/* Makes a cgroup for one task (or none: procs_fd -1). */
void cfo_task_cgroup_make(cfo_task_cgroup *cg);

/* In the child between fork and exec (async-signal-safe): joins the task's
 * cgroup, and says whether it did. A failure leaves the task to the
 * subreaper and the watchdog. */
static inline bool cfo_task_cgroup_join(const cfo_task_cgroup *cg)
{
    return cg->procs_fd >= 0 && write(cg->procs_fd, "0", 1) == 1;
}

/* Sends sig to every process in it; SIGKILL through cgroup.kill. */
void cfo_task_cgroup_signal(cfo_task_cgroup *cg, int sig);

/* Kills what is left in it, waits (bounded) until it is empty and
 * removes it, or keeps it for another task when nothing had to be
 * killed. */
void cfo_task_cgroup_end(cfo_task_cgroup *cg);

#endif
