/* cfo_contain.c -- task cgroups and the watchdog. */
#include "cfo_contain.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfo_log.h"
#include "cfo_file.h"
#include "cfo_util.h"

/* How long ending a cgroup may wait for its processes to be gone. */
#define EMPTY_BOUND_MS 5000
#define EMPTY_PAUSE_MS 2
/* Process groups the watchdog keeps track of (far more than slots). */
#define WATCHED_MAX 8192
/* Emptied task cgroups kept for the next tasks: making and removing a
 * cgroup costs more than the spawn of a small task. */
#define POOL_MAX 256

static int own_fd = -1; /* the cgroup this program was started in */
static char parent_name[64];
static int parent_fd = -1; /* this program's cgroup for its tasks, in own_fd */
static atomic_uint next_id;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static cfo_task_cgroup pool[POOL_MAX];
static size_t pool_n;
static pid_t watchdog_pid;
static int watchdog_fd = -1; /* our end of the socket the watchdog reads */

/* ---- finding a cgroup of our own ---- */

/* The directory of this process's cgroup v2 (free it), or NULL. */
static char *own_cgroup_dir(void)
{
    char mount[PATH_MAX] = "", root[PATH_MAX] = "", line[4096];
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (f == NULL)
        return NULL;
    while (mount[0] == '\0' && fgets(line, sizeof line, f) != NULL) {
        const char *sep = strstr(line, " - cgroup2 ");
        if (sep != NULL && sscanf(line, "%*s %*s %*s %4095s %4095s", root, mount) != 2)
            mount[0] = '\0';
    }
    fclose(f);
    char path[PATH_MAX] = "";
    f = fopen("/proc/self/cgroup", "re");
    if (f == NULL || mount[0] == '\0') {
        if (f != NULL)
            fclose(f);
        return NULL;
    }
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "0::", 3) == 0 && sscanf(line + 3, "%4095s", path) == 1)
            break;
    fclose(f);
    size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
    if (path[0] != '/' || strncmp(path, root, rl) != 0)
        return NULL;
    return cfo_xasprintf("%s%s", mount, path + rl);
}

/* Whether a process can move itself into the cgroup dirfd/name: tried by a
 * child that does only that. */
static bool can_join(int dirfd, const char *name)
{
    char procs[64];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", name);
    int fd = openat(dirfd, procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    pid_t child = fork();
    if (child == 0)
        _exit(write(fd, "0", 1) == 1 ? 0 : 1);
    close(fd);
    int status = 0;
    while (child > 0 && waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return child > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Makes this program's cgroup under its own; false when cgroups cannot
 * contain its tasks here. */
static bool make_parent(char *why, size_t why_len)
{
    char *dir = own_cgroup_dir();
    if (dir == NULL) {
        snprintf(why, why_len, "no cgroup v2 mounted for this process");
        return false;
    }
    own_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    snprintf(parent_name, sizeof parent_name, "cfo-%ld-%08llx", (long)getpid(),
             (unsigned long long)(cfo_random_u64() & 0xffffffffu));
    bool made = own_fd >= 0 && mkdirat(own_fd, parent_name, 0755) == 0;
    if (!made)
        snprintf(why, why_len, "cgroup %s is not writable: %s", dir, strerror(errno));
    else if (!can_join(own_fd, parent_name))
        snprintf(why, why_len, "processes cannot be moved into a cgroup under %s", dir);
    else if ((parent_fd = openat(own_fd, parent_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
             faccessat(parent_fd, "cgroup.kill", W_OK, 0) != 0)
        snprintf(why, why_len, "cgroup v2 under %s has no cgroup.kill", dir);
    free(dir);
    if (made && parent_fd >= 0 && faccessat(parent_fd, "cgroup.kill", W_OK, 0) == 0)
        return true;
    if (parent_fd >= 0)
        close(parent_fd);
    parent_fd = -1;
    if (made)
        unlinkat(own_fd, parent_name, AT_REMOVEDIR);
    if (own_fd >= 0)
        close(own_fd);
    own_fd = -1;
    return false;
}

/* ---- writing and reading cgroup files ---- */

static bool write_at(int dirfd, const char *path, const char *text)
{
    int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t)n;
    close(fd);
    return ok;
}

/* Whether the cgroup dirfd/name still holds a process (unreadable: yes). */
static bool populated(int dirfd, const char *name)
{
    char path[96], buf[256];
    snprintf(path, sizeof path, "%s/cgroup.events", name);
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno != ENOENT;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return true;
    buf[n] = '\0';
    return strstr(buf, "populated 0") == NULL;
}

static void pause_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Kills everything in dirfd/name and waits, bounded, until it is empty.
 * Returns whether it is. */
static bool kill_and_wait(int dirfd, const char *name)
{
    if (!populated(dirfd, name))
        return true;
    char path[96];
    snprintf(path, sizeof path, "%s/cgroup.kill", name);
    write_at(dirfd, path, "1");
    for (long waited = 0; waited < EMPTY_BOUND_MS; waited += EMPTY_PAUSE_MS) {
        if (!populated(dirfd, name))
            return true;
        pause_ms(EMPTY_PAUSE_MS);
    }
    return false;
}

/* ---- the watchdog ---- */

/* What the watchdog does once the program is gone: end every task. Only
 * calls that are safe in a child forked from a threaded process. */
static __attribute__((noreturn)) void watchdog_end(const pid_t *groups, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kill(-groups[i], SIGKILL);
    if (parent_fd >= 0) {
        kill_and_wait(parent_fd, ".");
        DIR *d = fdopendir(dup(parent_fd));
        for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
            if (e->d_name[0] == 't') {
                kill_and_wait(parent_fd, e->d_name);
                unlinkat(parent_fd, e->d_name, AT_REMOVEDIR);
            }
        if (d != NULL)
            closedir(d);
        unlinkat(own_fd, parent_name, AT_REMOVEDIR);
    }
    _exit(0);
}

static __attribute__((noreturn)) void watchdog_main(int fd)
{
    static pid_t groups[WATCHED_MAX];
    size_t n = 0;
    setsid(); /* a signal to the program's group leaves it to clean up */
    prctl(PR_SET_NAME, "cfo-watchdog");
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (;;) {
        char rec[1 + sizeof(pid_t)];
        ssize_t got = recv(fd, rec, sizeof rec, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got != (ssize_t)sizeof rec)
            watchdog_end(groups, n); /* the program is gone */
        pid_t g;
        memcpy(&g, rec + 1, sizeof g);
        if (rec[0] == '+' && n < WATCHED_MAX) {
            groups[n++] = g;
        } else if (rec[0] == '-') {
            for (size_t i = 0; i < n; i++)
                if (groups[i] == g) {
                    groups[i] = groups[--n];
                    break;
                }
        }
    }
}

/* At a normal exit: the watchdog cleans up and is waited for, so nothing
 * of this program outlives it. */
static void watchdog_stop(void)
{
    if (watchdog_pid <= 0)
        return;
    close(watchdog_fd);
    watchdog_fd = -1;
    while (waitpid(watchdog_pid, NULL, 0) < 0 && errno == EINTR) {
    }
    watchdog_pid = 0;
}

static bool start_watchdog(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return false;
    pid_t pid = fork();
    if (pid == 0) {
        /* Only its socket and the cgroups: no socket, pipe or lock file of
         * the program's stays open in it. */
        int sock = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
        int own = own_fd >= 0 ? fcntl(own_fd, F_DUPFD_CLOEXEC, 10) : -1;
        int par = parent_fd >= 0 ? fcntl(parent_fd, F_DUPFD_CLOEXEC, 10) : -1;
        dup3(sock, 3, O_CLOEXEC);
        own_fd = own >= 0 ? dup3(own, 4, O_CLOEXEC) : -1;
        parent_fd = par >= 0 ? dup3(par, 5, O_CLOEXEC) : -1;
        if (syscall(SYS_close_range, 6, ~0U, 0) != 0)
            for (int fd = 6; fd < 1024; fd++)
                close(fd);
        watchdog_main(3);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return false;
    }
    watchdog_pid = pid;
    watchdog_fd = sv[0];
    atexit(watchdog_stop);
    return true;
}

/* ---- the interface ---- */

bool cfo_contain_start(void)
{
    static bool started;
    if (started)
        return parent_fd >= 0;
    started = true;
    char why[PATH_MAX + 128];
    if (make_parent(why, sizeof why))
        cfo_info("tasks run in cgroups of their own");
    else
        cfo_info("tasks run without cgroups: %s", why);
    if (!start_watchdog())
        cfo_warn("exec: no watchdog (%s): a task may outlive this program if it is killed",
                 strerror(errno));
    return parent_fd >= 0;
}

bool cfo_contain_cgroups(void)
{
    return parent_fd >= 0;
}

pid_t cfo_contain_watchdog(void)
{
    return watchdog_pid;
}

void cfo_contain_group(pid_t pgid, bool live)
{
    if (watchdog_fd < 0)
        return;
    char rec[1 + sizeof(pid_t)];
    rec[0] = live ? '+' : '-';
    memcpy(rec + 1, &pgid, sizeof pgid);
    (void)!send(watchdog_fd, rec, sizeof rec, MSG_NOSIGNAL);
}

static void task_name(const cfo_task_cgroup *cg, char *out, size_t len)
{
    snprintf(out, len, "t%u", cg->id);
}

void cfo_task_cgroup_make(cfo_task_cgroup *cg)
{
    cg->procs_fd = cg->dir_fd = -1;
    cg->killed = false;
    if (parent_fd < 0)
        return;
    pthread_mutex_lock(&pool_mu);
    bool reused = pool_n > 0;
    if (reused)
        *cg = pool[--pool_n];
    pthread_mutex_unlock(&pool_mu);
    if (reused)
        return;
    cg->id = atomic_fetch_add(&next_id, 1);
    char name[32], procs[64];
    task_name(cg, name, sizeof name);
    snprintf(procs, sizeof procs, "%s/cgroup.procs", name);
    if (mkdirat(parent_fd, name, 0755) != 0)
        return;
    cg->procs_fd = openat(parent_fd, procs, O_WRONLY | O_CLOEXEC);
    if (cg->procs_fd < 0) {
        unlinkat(parent_fd, name, AT_REMOVEDIR);
        return;
    }
    cg->dir_fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

void cfo_task_cgroup_signal(cfo_task_cgroup *cg, int sig)
{
    if (cg == NULL || cg->procs_fd < 0)
        return;
    char name[32], path[64];
    task_name(cg, name, sizeof name);
    if (sig == SIGKILL) {
        if (populated(parent_fd, name)) {
            snprintf(path, sizeof path, "%s/cgroup.kill", name);
            write_at(parent_fd, path, "1");
            cg->killed = true;
        }
        return;
    }
    snprintf(path, sizeof path, "%s/cgroup.procs", name);
    int fd = openat(parent_fd, path, O_RDONLY | O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    long pid;
    while (f != NULL && fscanf(f, "%ld", &pid) == 1)
        kill((pid_t)pid, sig);
    if (f != NULL)
        fclose(f);
    else if (fd >= 0)
        close(fd);
}

void cfo_task_cgroup_end(cfo_task_cgroup *cg)
{
    if (cg->procs_fd < 0)
        return;
    char name[32];
    task_name(cg, name, sizeof name);
    /* A child started straight into a cgroup that was once killed is
     * killed at birth (the kernel compares kill counts at the fork): only
     * one that emptied by itself is kept. */
    bool clean = !cg->killed && !populated(parent_fd, name);
    if (!clean)
        kill_and_wait(parent_fd, name);
    pthread_mutex_lock(&pool_mu);
    bool kept = clean && pool_n < POOL_MAX;
    if (kept)
        pool[pool_n++] = *cg;
    pthread_mutex_unlock(&pool_mu);
    if (!kept) {
        close(cg->procs_fd);
        if (cg->dir_fd >= 0)
            close(cg->dir_fd);
        if (unlinkat(parent_fd, name, AT_REMOVEDIR) != 0)
            cfo_debug("exec: cgroup %s stays: %s", name, strerror(errno));
    }
    cg->procs_fd = cg->dir_fd = -1;
}
