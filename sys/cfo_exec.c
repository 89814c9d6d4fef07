/* cfo_exec.c -- spawns task processes in their own process group, drains their
 * output as it comes, and stops them so that no descendant outlives them. */
#include "cfo_exec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfo_contain.h"
#include "cfo_log.h"
#include "cfo_util.h"

extern char **environ;

#define COOKIE_VAR "CFO_TASK_COOKIE"
#define RESULT_VAR "CFO_RESULT_FD"
#define RESULT_CHILD_FD 3
/* Longest poll sleep, so that *cancel is seen promptly. */
#define TICK_MS 200
/* Without pidfds the main child's exit is noticed by polling. */
#define NOPIDFD_TICK_MS 20
/* How long after the last SIGKILL we keep collecting a task's strays. */
#define STRAY_BOUND_MS 5000
/* Pause between scans while strays are still dying. */
#define STRAY_PAUSE_MS 10
#define READ_CHUNK 65536
/* /proc/<pid>/environ is read at most this far when looking for cookies. */
#define ENVIRON_READ_MAX (4u << 20)
#define CAPTURE_ERR_TAIL 8192
#define CAPTURE_GRACE_MS 2000
/* Longest wait for other threads' spawns to register their children. */
#define SPAWN_WAIT_MS 50
/* The kernel's per-task flag, shown in /proc/<pid>/stat. */
#define PF_EXITING 0x4u

/* ---- registry of the children this module waits for ----
 * Orphans re-parented to this (subreaper) process are reaped by scanning
 * /proc; the registry keeps that scan away from pids a thread here still
 * waits for. A pid is removed only after waitpid has collected it.
 * Spawning happens outside the lock: vfork holds its thread until the
 * child has exec'd, and other threads must not queue behind that. So a
 * child may exist before its pid is registered; spawns_in_flight counts
 * such spawns (raised before the fork, lowered under the lock once the pid
 * is in), and in_flight lists where each one's child writes its pid. An
 * unregistered child whose pid is listed there is a spawn, not an orphan;
 * only while a listed child has not written its pid yet (its first
 * instructions) is an unregistered child possibly one. */

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int spawns_in_flight;
/* The pids the children of spawns in flight write (0 until each does), so
 * a scan tells such a child from an orphan without waiting for its exec. */
static _Atomic pid_t **in_flight;
static size_t in_flight_n;
static size_t in_flight_cap;
static pid_t *registry;
static size_t registry_n;
static size_t registry_cap;
static atomic_uint_fast64_t cookie_counter;

static void registry_add_locked(pid_t pid)
{
    registry = cfo_grow(registry, &registry_cap, registry_n + 1, sizeof *registry);
    registry[registry_n++] = pid;
}

/* Whether pid is a child of ours that a thread here waits for: a task's
 * main child, or the watchdog (which outlives every task). */
static bool registry_has_locked(pid_t pid)
{
    if (pid == cfo_contain_watchdog())
        return true;
    for (size_t i = 0; i < registry_n; i++)
        if (registry[i] == pid)
            return true;
    return false;
}

static void registry_remove(pid_t pid)
{
    pthread_mutex_lock(&registry_mu);
    for (size_t i = 0; i < registry_n; i++) {
        if (registry[i] == pid) {
            registry[i] = registry[--registry_n];
            break;
        }
    }
    pthread_mutex_unlock(&registry_mu);
}

static void in_flight_add_locked(_Atomic pid_t *slot)
{
    in_flight = cfo_grow(in_flight, &in_flight_cap, in_flight_n + 1, sizeof *in_flight);
    in_flight[in_flight_n++] = slot;
}

static void in_flight_remove_locked(_Atomic pid_t *slot)
{
    for (size_t i = 0; i < in_flight_n; i++) {
        if (in_flight[i] == slot) {
            in_flight[i] = in_flight[--in_flight_n];
            return;
        }
    }
}

typedef enum spawn_guess {
    NOT_A_SPAWN,
    A_SPAWN,
    MAYBE_A_SPAWN, /* a spawn's child has not written its pid yet */
} spawn_guess;

/* Whether pid, a child no thread waits for, is the child of a spawn in
 * flight. */
static spawn_guess spawn_child_locked(pid_t pid)
{
    bool unknown = false;
    for (size_t i = 0; i < in_flight_n; i++) {
        pid_t p = atomic_load(in_flight[i]);
        if (p == pid)
            return A_SPAWN;
        unknown = unknown || p == 0;
    }
    return unknown ? MAYBE_A_SPAWN : NOT_A_SPAWN;
}

/* ---- small helpers ---- */

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Moves fd to a number above RESULT_CHILD_FD, so the dup2 actions of the
 * child can never overwrite one pipe end with another. */
static int fd_above_3(int fd)
{
    if (fd > RESULT_CHILD_FD)
        return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, RESULT_CHILD_FD + 1);
    int e = errno;
    close(fd);
    errno = e;
    return nfd;
}

static int make_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    p[0] = fd_above_3(p[0]);
    p[1] = fd_above_3(p[1]);
    if (p[0] < 0 || p[1] < 0) {
        int e = errno;
        if (p[0] >= 0)
            close(p[0]);
        if (p[1] >= 0)
            close(p[1]);
        errno = e;
        return -1;
    }
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static bool same_name(const char *a, const char *b)
{
    size_t i = 0;
    while (a[i] && a[i] != '=' && a[i] == b[i])
        i++;
    return (a[i] == '=' || a[i] == '\0') && (b[i] == '=' || b[i] == '\0');
}

static bool in_env_add(char *const *env_add, const char *entry)
{
    for (size_t i = 0; env_add && env_add[i]; i++)
        if (same_name(env_add[i], entry))
            return true;
    return false;
}

/* The child's environment: ours, minus what env_add overrides and minus the
 * variables this module owns, then env_add, the cookie and the result fd.
 * A cookie inherited from an enclosing task is kept in front of ours
 * ("outer:ours"), so a runner that itself runs tasks (cfo-fuzz starting
 * terraform) does not hide their processes from the enclosing task's sweep. */
static void build_env(cfo_strv *env, char *const *env_add, const char *cookie, bool result_fd)
{
    const char *outer = NULL;
    for (char **e = environ; e && *e; e++) {
        if (same_name(*e, COOKIE_VAR)) {
            outer = *e + strlen(COOKIE_VAR) + 1;
            continue;
        }
        if (same_name(*e, RESULT_VAR) || in_env_add(env_add, *e))
            continue;
        cfo_strv_push(env, *e);
    }
    for (size_t i = 0; env_add && env_add[i]; i++) {
        if (same_name(env_add[i], COOKIE_VAR) || same_name(env_add[i], RESULT_VAR))
            continue;
        bool later = false;
        for (size_t j = i + 1; env_add[j] && !later; j++)
            later = same_name(env_add[i], env_add[j]);
        if (!later)
            cfo_strv_push(env, env_add[i]);
    }
    /* Nesting is shallow in practice; a runaway chain keeps its newest links. */
    if (outer != NULL && strlen(outer) > 1024)
        outer = strchr(outer + strlen(outer) - 1024, ':');
    if (outer != NULL && *outer == ':')
        outer++;
    if (outer != NULL && *outer != '\0')
        cfo_strv_push_owned(env, cfo_xasprintf("%s=%s:%s", COOKIE_VAR, outer, cookie));
    else
        cfo_strv_push_owned(env, cfo_xasprintf("%s=%s", COOKIE_VAR, cookie));
    if (result_fd)
        cfo_strv_push_owned(env, cfo_xasprintf("%s=%d", RESULT_VAR, RESULT_CHILD_FD));
}

static void make_cookie(char *out, size_t len)
{
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
        rnd = (uint64_t)cfo_wall_ms() ^ ((uint64_t)(uintptr_t)out << 16);
    uint64_t n = atomic_fetch_add(&cookie_counter, 1) + 1;
    snprintf(out, len, "%ld-%llu-%016llx", (long)getpid(), (unsigned long long)n,
             (unsigned long long)rnd);
}

/* ---- one task's processes, and starting them ---- */

typedef struct task_procs {
    pid_t pid;               /* the main child; its pid is its process group id */
    char cookie[64];         /* listed in CFO_TASK_COOKIE by each of its processes */
    cfo_task_cgroup *cgroup; /* every process it started, or NULL */
    bool watched;            /* the watchdog knows its group (it is in no cgroup) */
} task_procs;

static void task_procs_init(task_procs *tp, const char *cookie, cfo_task_cgroup *cgroup)
{
    tp->pid = -1;
    snprintf(tp->cookie, sizeof tp->cookie, "%s", cookie);
    tp->cgroup = cgroup;
}

/* Starts argv with fds 0 = /dev/null, 1 = out_w, 2 = err_w and, when
 * result_w >= 0, 3 = result_w; nothing else stays open. The pid is in the
 * registry when this returns 0; otherwise the errno-style reason. */
/* What the child does between vfork and exec: only async-signal-safe calls,
 * on memory it shares with the suspended parent. */
typedef struct spawn_plan {
    const char *path; /* resolved before the fork: no allocation in the child */
    char *const *argv;
    char *const *envp;
    const char *cwd;
    const char *stdin_path;
    int out_w, err_w, result_w;
    const cfo_task_cgroup *cgroup; /* joined first, or NULL */
    bool born_in_cgroup;           /* started in it (CLONE_INTO_CGROUP) */
    volatile bool joined;          /* the child is in that cgroup */
    pid_t parent;
    volatile int err; /* the child's errno when it could not exec */
    /* The child's pid, which the child writes first thing (it shares our
     * memory until its exec), so another thread's scan can tell it from an
     * orphan while the spawn is still in flight; 0 until then. */
    _Atomic pid_t self;
} spawn_plan;

static __attribute__((noreturn)) void child_fail(spawn_plan *p)
{
    p->err = errno ? errno : ECHILD;
    _exit(127);
}

static __attribute__((noreturn, noinline)) void spawned_child(spawn_plan *p)
{
    atomic_store(&p->self, getpid());
    /* Signals as a new program expects them: default dispositions (the
     * parent's handlers are not this program's), nothing blocked. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* In its cgroup before it can start anything that could escape it. */
    if (p->cgroup != NULL)
        p->joined = p->born_in_cgroup || cfo_task_cgroup_join(p->cgroup);
    /* Its own group, and gone with the thread that started it: a worker
     * killed outright leaves no task leader running. */
    if (setpgid(0, 0) != 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != p->parent)
        child_fail(p);
    int in = open(p->stdin_path ? p->stdin_path : "/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0 || dup2(p->out_w, 1) < 0 || dup2(p->err_w, 2) < 0 ||
        (p->result_w >= 0 && dup2(p->result_w, RESULT_CHILD_FD) < 0))
        child_fail(p);
    /* Also closes fds other threads or libraries opened without CLOEXEC. */
    int first = p->result_w >= 0 ? RESULT_CHILD_FD + 1 : RESULT_CHILD_FD;
    if (syscall(SYS_close_range, first, ~0U, 0) != 0)
        for (int fd = first; fd < 1024; fd++)
            close(fd);
    if (p->cwd != NULL && chdir(p->cwd) != 0)
        child_fail(p);
    execve(p->path, p->argv, p->envp);
    child_fail(p);
}

/* vfork on its own, so that no variable of a caller lives across it. */
static __attribute__((noinline)) pid_t vfork_child(spawn_plan *p)
{
    pid_t child = vfork();
    if (child == 0)
        spawned_child(p);
    return child;
}

/* Moving a process into a cgroup waits for an RCU grace period unless
 * another move happened a moment before: milliseconds for each task of a
 * worker whose tasks start some time apart. A child started in its cgroup
 * (clone3 with CLONE_INTO_CGROUP) is never moved. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CFO_EXEC_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define CFO_EXEC_SANITIZED 1
#endif
#endif

/* The sanitizers handle a child on its parent's stack only through their
 * vfork interceptors: under them every child is started by vfork. */
#if defined(__x86_64__) && defined(SYS_clone3) && !defined(CFO_EXEC_SANITIZED)
#define CFO_CLONE_INTO_CGROUP 0x200000000ULL

struct cfo_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
};

/* clone3 on the caller's stack (CLONE_VFORK|CLONE_VM, no stack of its own),
 * as glibc's vfork: the return address is kept in a register across the
 * system call, since the child's calls overwrite its slot on the stack
 * before the parent runs again, and the child jumps back rather than
 * returning. Returns the pid, 0 in the child, or -errno. */
long cfo_clone3_vfork(struct cfo_clone_args *args, size_t size)
    __attribute__((visibility("hidden"), returns_twice));
#define CFO_STR2(x) #x
#define CFO_STR(x) CFO_STR2(x)
__asm__(".pushsection .text, \"ax\", @progbits\n"
        ".globl cfo_clone3_vfork\n"
        ".hidden cfo_clone3_vfork\n"
        ".type cfo_clone3_vfork, @function\n"
        "cfo_clone3_vfork:\n"
        ".cfi_startproc\n"
        "    endbr64\n"
        "    popq %rdx\n"
        ".cfi_adjust_cfa_offset -8\n"
        ".cfi_register %rip, %rdx\n"
        "    movl $" CFO_STR(SYS_clone3) ", %eax\n"
                                         "    syscall\n"
                                         "    testq %rax, %rax\n"
                                         "    jz 1f\n"
                                         "    pushq %rdx\n"
                                         ".cfi_adjust_cfa_offset 8\n"
                                         "    ret\n"
                                         "1:  jmp *%rdx\n"
                                         ".cfi_endproc\n"
                                         ".size cfo_clone3_vfork, .-cfo_clone3_vfork\n"
                                         ".popsection\n");

/* Set once clone3 cannot start children in a cgroup here: an older kernel,
 * a sandbox that refuses clone3, or a child the kernel killed at birth
 * (it does so when the worker's cgroup was once killed with cgroup.kill, or
 * the task's). Every spawn then moves its child after vfork. */
static atomic_bool clone_into_cgroup_off;

static __attribute__((noinline)) pid_t clone_into_cgroup(spawn_plan *p)
{
    struct cfo_clone_args args = {
        .flags = CLONE_VM | CLONE_VFORK | CFO_CLONE_INTO_CGROUP,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t)p->cgroup->dir_fd,
    };
    long rc = cfo_clone3_vfork(&args, sizeof args);
    if (rc == 0)
        spawned_child(p);
    if (rc < 0) {
        errno = (int)-rc;
        return -1;
    }
    return (pid_t)rc;
}

static void clone_into_cgroup_stop(const char *why)
{
    if (!atomic_exchange(&clone_into_cgroup_off, true))
        cfo_debug("exec: children are moved into their cgroups from now on: %s", why);
}

/* The child, started in its cgroup when it can be, else by vfork. */
static pid_t start_child(spawn_plan *p)
{
    if (p->cgroup == NULL || p->cgroup->dir_fd < 0 || atomic_load(&clone_into_cgroup_off))
        return vfork_child(p);
    p->born_in_cgroup = true;
    pid_t child = clone_into_cgroup(p);
    if (child > 0 && atomic_load(&p->self) == 0) {
        /* Killed before it ran a single instruction of ours. */
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
        }
        clone_into_cgroup_stop("a child started in its cgroup was killed at birth");
        child = -1;
        errno = ECHILD;
    } else if (child < 0 && (errno == ENOSYS || errno == EINVAL || errno == E2BIG ||
                             errno == EPERM || errno == EOPNOTSUPP)) {
        clone_into_cgroup_stop(strerror(errno));
    }
    if (child > 0)
        return child;
    p->born_in_cgroup = false;
    p->err = 0;
    return vfork_child(p);
}
#else
static pid_t start_child(spawn_plan *p)
{
    return vfork_child(p);
}
#endif

/* The executables tasks name, looked up in PATH once per process (and
 * again only when PATH changes): a PATH walk per task is a cost per task. */
#define PATH_CACHE_SIZE 32
static pthread_mutex_t path_cache_mu = PTHREAD_MUTEX_INITIALIZER;
static char *path_cache_env;
static char *path_cache_name[PATH_CACHE_SIZE], *path_cache_path[PATH_CACHE_SIZE];
static size_t path_cache_n;

static void path_cache_clear_locked(void)
{
    for (size_t i = 0; i < path_cache_n; i++) {
        free(path_cache_name[i]);
        free(path_cache_path[i]);
    }
    path_cache_n = 0;
}

/* The absolute path of name (free it), or NULL. */
static char *resolve(const char *name)
{
    if (strchr(name, '/') != NULL)
        return cfo_xstrdup(name);
    const char *env = getenv("PATH");
    char *found = NULL;
    pthread_mutex_lock(&path_cache_mu);
    if (path_cache_env == NULL || env == NULL || strcmp(path_cache_env, env) != 0) {
        path_cache_clear_locked();
        free(path_cache_env);
        path_cache_env = cfo_xstrdup(env ? env : "");
    }
    for (size_t i = 0; i < path_cache_n && found == NULL; i++)
        if (strcmp(path_cache_name[i], name) == 0 && access(path_cache_path[i], X_OK) == 0)
            found = cfo_xstrdup(path_cache_path[i]);
    if (found == NULL && (found = cfo_which(name)) != NULL && path_cache_n < PATH_CACHE_SIZE) {
        path_cache_name[path_cache_n] = cfo_xstrdup(name);
        path_cache_path[path_cache_n++] = cfo_xstrdup(found);
    }
    pthread_mutex_unlock(&path_cache_mu);
    return found;
}

/* Starts argv[0] (looked up in PATH when it has no '/') in its own process
 * group with the task's environment and descriptors. Returns 0, or an errno
 * value when it could not start (like posix_spawn). */
static int spawn_child(char *const *argv, const char *cwd, const char *stdin_path,
                       char *const *env_add, int out_w, int err_w, int result_w, task_procs *tp)
{
    char *path = resolve(argv[0]);
    if (path == NULL)
        return ENOENT;
    cfo_strv env;
    cfo_strv_init(&env);
    build_env(&env, env_add, tp->cookie, result_w >= 0);
    spawn_plan plan = {.path = path,
                       .argv = argv,
                       .envp = env.v,
                       .cwd = cwd,
                       .stdin_path = stdin_path,
                       .out_w = out_w,
                       .err_w = err_w,
                       .result_w = result_w,
                       .cgroup = tp->cgroup,
                       .parent = getpid()};
    /* No handler of ours may run in the child while it shares our memory. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_mutex_lock(&registry_mu);
    in_flight_add_locked(&plan.self);
    atomic_fetch_add(&spawns_in_flight, 1);
    pthread_mutex_unlock(&registry_mu);
    pid_t child = start_child(&plan);
    int rc = child < 0 ? errno : plan.err;
    if (child > 0 && rc != 0)
        waitpid(child, NULL, 0);
    pthread_mutex_lock(&registry_mu);
    if (rc == 0) {
        tp->pid = child;
        registry_add_locked(child);
        /* Its cgroup ends it if this program is killed outright; without
         * one, the watchdog needs its group. */
        tp->watched = !plan.joined;
        if (tp->watched)
            cfo_contain_group(child, true);
    }
    in_flight_remove_locked(&plan.self);
    atomic_fetch_sub(&spawns_in_flight, 1);
    pthread_mutex_unlock(&registry_mu);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    cfo_strv_fini(&env);
    free(path);
    return rc;
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    return -1;
#endif
}

/* ---- the process table ---- */

typedef struct proc_ent {
    pid_t pid;
    pid_t ppid;
    pid_t pgrp;
    char state;
    bool exiting; /* PF_EXITING: dying, its environment already gone */
    long rss_pages;
} proc_ent;

static bool read_stat(pid_t pid, proc_ent *pe)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    /* comm may hold any byte; every field after it is numeric or one letter. */
    char *p = strrchr(buf, ')');
    long ppid, pgrp, rss;
    unsigned long flags;
    char state;
    /* Fields 3 (state) to 24 (rss) of proc(5). */
    if (p == NULL ||
        sscanf(p + 1,
               " %c %ld %ld %*d %*d %*d %lu %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d"
               " %*d %*u %*u %ld",
               &state, &ppid, &pgrp, &flags, &rss) != 5)
        return false;
    pe->rss_pages = rss;
    pe->exiting = (flags & PF_EXITING) != 0;
    pe->pid = pid;
    pe->ppid = (pid_t)ppid;
    pe->pgrp = (pid_t)pgrp;
    pe->state = state;
    return true;
}

static int proc_cmp(const void *a, const void *b)
{
    pid_t x = ((const proc_ent *)a)->pid, y = ((const proc_ent *)b)->pid;
    return (x > y) - (x < y);
}

/* All processes we can see, sorted by pid. */
static proc_ent *proc_snapshot(size_t *n)
{
    *n = 0;
    DIR *dir = opendir("/proc");
    if (dir == NULL)
        return NULL;
    size_t cap = 256;
    proc_ent *v = cfo_xmalloc(cap * sizeof *v);
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end != '\0' || pid <= 0)
            continue;
        proc_ent pe;
        if (!read_stat((pid_t)pid, &pe))
            continue;
        if (*n == cap) {
            cap *= 2;
            v = cfo_xrealloc(v, cap * sizeof *v);
        }
        v[(*n)++] = pe;
    }
    closedir(dir);
    qsort(v, *n, sizeof *v, proc_cmp);
    return v;
}

static const proc_ent *proc_find(const proc_ent *v, size_t n, pid_t pid)
{
    proc_ent key = {.pid = pid};
    return n ? bsearch(&key, v, n, sizeof *v, proc_cmp) : NULL;
}

/* Whether the environment block env[0..len) has a CFO_TASK_COOKIE entry
 * listing cookie (entries are NUL-separated; the list is ':'-separated). */
static bool environ_lists_cookie(const char *env, size_t len, const char *cookie)
{
    size_t var_len = strlen(COOKIE_VAR), cookie_len = strlen(cookie);
    for (size_t i = 0; i < len;) {
        const char *entry = env + i;
        size_t n = strnlen(entry, len - i);
        if (n > var_len && memcmp(entry, COOKIE_VAR, var_len) == 0 && entry[var_len] == '=') {
            const char *p = entry + var_len + 1, *end = entry + n;
            while (p < end) {
                const char *colon = memchr(p, ':', (size_t)(end - p));
                const char *stop = colon ? colon : end;
                if ((size_t)(stop - p) == cookie_len && memcmp(p, cookie, cookie_len) == 0)
                    return true;
                p = stop + 1;
            }
        }
        i += n + 1;
    }
    return false;
}

/* Whether pid's environment lists cookie in CFO_TASK_COOKIE. */
static bool has_cookie(pid_t pid, const char *cookie)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/environ", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    cfo_buf b;
    cfo_buf_init(&b);
    while (b.len < ENVIRON_READ_MAX) {
        cfo_buf_reserve(&b, 16384);
        ssize_t r = read(fd, b.data + b.len, b.cap - b.len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        b.len += (size_t)r;
    }
    close(fd);
    bool found = b.len > 0 && environ_lists_cookie(b.data, b.len, cookie);
    cfo_buf_fini(&b);
    return found;
}

/* ---- what is left of a task ---- */

static bool descends_from(const proc_ent *v, size_t n, const proc_ent *pe, pid_t root)
{
    pid_t p = pe->ppid;
    for (size_t hops = 0; hops <= n && p > 1; hops++) {
        if (p == root)
            return true;
        const proc_ent *up = proc_find(v, n, p);
        if (up == NULL)
            return false;
        p = up->ppid;
    }
    return false;
}

/* Sends sig to the task's group, its main child (which may have left the
 * group) and every other living process of the task, and reaps orphans
 * re-parented here. Returns how many processes are still to go: living
 * ones of the task but the main child, and orphans of ours that are dying
 * or not yet reapable. The main child is not reaped yet, so its pid is
 * still ours. */
static size_t signal_strays(const task_procs *tp, int sig)
{
    cfo_task_cgroup_signal(tp->cgroup, sig);
    kill(-tp->pid, sig);
    kill(tp->pid, sig);
    size_t n;
    proc_ent *v = proc_snapshot(&n);
    pid_t self = getpid();
    size_t pending = 0;
    for (size_t i = 0; i < n; i++) {
        const proc_ent *pe = &v[i];
        if (pe->pid == self || pe->pid == tp->pid || pe->state == 'Z' || pe->state == 'X' ||
            pe->exiting)
            continue;
        if (pe->pgrp == tp->pid || descends_from(v, n, pe, tp->pid) ||
            has_cookie(pe->pid, tp->cookie)) {
            kill(pe->pid, sig);
            pending++;
        }
    }
    /* Processes whose parent is us but that no thread here waits for are
     * descendants of some task that lost their parent. A dying one has lost
     * its environment (and so its cookie) before it turns zombie; a zombie
     * thread group leader cannot be reaped before its other threads end.
     * A living one escaped its task (setsid, a cleared environment, a double
     * fork): when this task is the only one here, it is this task's and
     * goes with it; otherwise it may be another running task's, and goes
     * with the last of them (or cfo_exec_end_adopted). */
    pthread_mutex_lock(&registry_mu);
    bool alone = registry_n == 1 && registry_has_locked(tp->pid);
    for (size_t i = 0; i < n; i++) {
        const proc_ent *pe = &v[i];
        if (pe->ppid != self || registry_has_locked(pe->pid))
            continue;
        spawn_guess g = spawn_child_locked(pe->pid);
        if (g == A_SPAWN)
            continue; /* another thread's child, not yet registered */
        if (g == MAYBE_A_SPAWN) {
            pending++;
            continue;
        }
        if (pe->state == 'Z' || pe->state == 'X' || pe->exiting) {
            if (waitpid(pe->pid, NULL, WNOHANG) == 0)
                pending++;
        } else if (alone) {
            kill(pe->pid, sig);
            pending++;
        }
    }
    pthread_mutex_unlock(&registry_mu);
    free(v);
    return pending;
}

static atomic_bool subreaper_on;

typedef enum children_scan {
    CHILDREN_ALL_REGISTERED,
    CHILDREN_MAYBE_SPAWNING, /* an unregistered one while a spawn is in flight */
    CHILDREN_ORPHANS,        /* an unregistered one, or /proc could not tell */
} children_scan;

/* The kernel gives an orphan to the first live thread of its subreaper,
 * which is the main thread while it runs: only that thread's children can
 * be orphans of tasks, the other threads' are their own spawns. */
static children_scan scan_children(void)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/self/task/%ld/children", (long)getpid());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CHILDREN_ORPHANS;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0 || n == (ssize_t)sizeof buf - 1) /* unreadable, or more than we read */
        return CHILDREN_ORPHANS;
    buf[n] = '\0';
    children_scan result = CHILDREN_ALL_REGISTERED;
    pthread_mutex_lock(&registry_mu);
    for (char *p = buf, *end; *p; p = end) {
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        if (registry_has_locked((pid_t)pid))
            continue;
        /* Under the lock, a spawn still listed has not registered. */
        spawn_guess g = spawn_child_locked((pid_t)pid);
        if (g == MAYBE_A_SPAWN) {
            result = CHILDREN_MAYBE_SPAWNING;
        } else if (g == NOT_A_SPAWN) {
            result = CHILDREN_ORPHANS;
            break;
        }
    }
    pthread_mutex_unlock(&registry_mu);
    return result;
}

/* Whether every child of this process is one a thread here waits for. Once
 * a task's main child has exited, every descendant of it still alive has
 * been re-parented to this subreaper (or descends from one that was), so
 * when none is, nothing of the task is left and no /proc scan is needed.
 * A child another thread is spawning is waited out briefly (a spawn lasts
 * until its exec) and the scan repeated. */
static bool only_registered_children(void)
{
    for (int scans = 0; scans < 4; scans++) {
        switch (scan_children()) {
        case CHILDREN_ALL_REGISTERED:
            return true;
        case CHILDREN_ORPHANS:
            return false;
        case CHILDREN_MAYBE_SPAWNING:
            break;
        }
        int64_t until = cfo_now_ms() + SPAWN_WAIT_MS;
        while (atomic_load(&spawns_in_flight) > 0 && cfo_now_ms() < until)
            sched_yield();
    }
    return false;
}

/* SIGKILLs whatever is left of the task until two scans in a row find
 * nothing (one scan can miss a process caught in exec), or the bound. The
 * main child has exited when this is called. */
static void kill_remains(const task_procs *tp)
{
    cfo_task_cgroup_signal(tp->cgroup, SIGKILL);
    kill(-tp->pid, SIGKILL);
    if (atomic_load(&subreaper_on) && only_registered_children())
        return;
    int64_t until = cfo_now_ms() + STRAY_BOUND_MS;
    int clean = 0;
    for (;;) {
        size_t pending = signal_strays(tp, SIGKILL);
        clean = pending == 0 ? clean + 1 : 0;
        if (clean == 2)
            return;
        if (cfo_now_ms() >= until) {
            if (pending > 0)
                cfo_warn("exec: %zu process(es) of task %ld survive SIGKILL", pending,
                         (long)tp->pid);
            return;
        }
        if (pending > 0)
            sleep_ms(STRAY_PAUSE_MS);
    }
}

/* ---- output sinks ---- */

typedef enum sink_kind {
    SINK_RING,   /* keeps the last cap bytes, may copy all to a log */
    SINK_LINEAR, /* keeps the first cap bytes, notes overflow */
} sink_kind;

typedef struct sink {
    sink_kind kind;
    int fd; /* read end, -1 once at EOF */
    size_t cap;
    char *data;  /* ring storage or linear buffer (cap + 1 bytes) */
    size_t len;  /* bytes held */
    size_t head; /* ring: where the next byte goes */
    uint64_t total;
    bool overflow;
    int log_fd;
    uint64_t log_written, log_cap; /* a flooding task cannot fill the disk */
    const char *log_path;
    char *log_error; /* where a failing log is reported, or NULL */
    size_t log_error_len;
} sink;

static void sink_init(sink *s, sink_kind kind, int fd, size_t cap)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->fd = fd;
    s->cap = cap;
    s->data = cfo_xmalloc(cap + 1);
    s->log_fd = -1;
}

static void log_write(sink *s, const char *p, size_t n)
{
    while (s->log_fd >= 0 && n > 0) {
        ssize_t w = write(s->log_fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (s->log_error != NULL && s->log_error[0] == '\0')
                snprintf(s->log_error, s->log_error_len, "cannot write log %s: %s", s->log_path,
                         w < 0 ? strerror(errno) : "short write");
            close_fd(&s->log_fd);
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void sink_log(sink *s, const char *p, size_t n)
{
    if (s->log_fd < 0)
        return;
    if (s->log_written + n <= s->log_cap) {
        s->log_written += n;
        log_write(s, p, n);
        return;
    }
    /* The cap is reached: keep what fits, say so, and keep nothing more. */
    size_t room = (size_t)(s->log_cap - s->log_written);
    log_write(s, p, room);
    s->log_written = s->log_cap;
    char note[128];
    int len = snprintf(note, sizeof note,
                       "\n[cfo: log cut at %llu bytes; the rest of the output was counted, not "
                       "kept]\n",
                       (unsigned long long)s->log_cap);
    log_write(s, note, (size_t)len);
    close_fd(&s->log_fd);
}

static void sink_put(sink *s, const char *p, size_t n)
{
    s->total += n;
    sink_log(s, p, n);
    if (s->kind == SINK_LINEAR) {
        size_t room = s->cap - s->len;
        if (n > room) {
            s->overflow = true;
            n = room;
        }
        memcpy(s->data + s->len, p, n);
        s->len += n;
        return;
    }
    if (s->cap == 0)
        return;
    if (n >= s->cap) {
        memcpy(s->data, p + n - s->cap, s->cap);
        s->head = 0;
        s->len = s->cap;
        return;
    }
    size_t first = s->cap - s->head < n ? s->cap - s->head : n;
    memcpy(s->data + s->head, p, first);
    memcpy(s->data, p + first, n - first);
    s->head = (s->head + n) % s->cap;
    s->len = s->len + n > s->cap ? s->cap : s->len + n;
}

/* Reads what is there; closes the fd at EOF or on error. */
static void sink_read(sink *s)
{
    char buf[READ_CHUNK];
    ssize_t r = read(s->fd, buf, sizeof buf);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (r <= 0) {
        close_fd(&s->fd);
        return;
    }
    sink_put(s, buf, (size_t)r);
}

/* Hands out the kept bytes in order, NUL-terminated, and frees the sink. */
static char *sink_take(sink *s, size_t *len)
{
    char *out;
    if (s->kind == SINK_RING && s->len == s->cap && s->head != 0) {
        out = cfo_xmalloc(s->cap + 1);
        memcpy(out, s->data + s->head, s->cap - s->head);
        memcpy(out + s->cap - s->head, s->data, s->head);
        free(s->data);
    } else {
        out = s->data;
    }
    out[s->len] = '\0';
    *len = s->len;
    s->data = NULL;
    return out;
}

static void sink_fini(sink *s)
{
    free(s->data);
    s->data = NULL;
    close_fd(&s->fd);
    close_fd(&s->log_fd);
}

/* ---- the supervision loop shared by tasks and captures ---- */

typedef enum stop_reason {
    STOP_NONE,
    STOP_TIMEOUT,
    STOP_CANCEL,
    STOP_LIMIT,
    STOP_OOM,
} stop_reason;

typedef struct job {
    task_procs tp;
    int pidfd;
    sink *sinks;
    size_t nsinks;
    sink *limit_sink; /* overflow of this one stops the job */
    int64_t start_ms;
    int64_t timeout_at;  /* 0: none */
    int64_t deadline_at; /* 0: none */
    int64_t grace_ms;
    const atomic_bool *cancel;
    stop_reason stop;
    int64_t kill_at;
    bool killed;
    int64_t exit_seen_ms;
    int64_t memory_limit_kb; /* 0: none */
    int64_t memory_check_at;
    int64_t peak_kb; /* highest sampled sum of the task's resident sets */
    int status;
    struct rusage usage;
} job;

/* The resident memory of the task's processes together: the main child,
 * its group and its descendants, KiB. */
static int64_t task_rss_kb(const task_procs *tp)
{
    size_t n;
    proc_ent *v = proc_snapshot(&n);
    long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        const proc_ent *pe = &v[i];
        if (pe->pid == tp->pid || pe->pgrp == tp->pid || descends_from(v, n, pe, tp->pid))
            sum += (int64_t)pe->rss_pages * page_kb;
    }
    free(v);
    return sum;
}

/* Samples the task's memory when due; over the limit it is killed at once:
 * memory that runs away grows faster than a grace period. */
static void check_memory(job *j, int64_t now)
{
    if (j->memory_limit_kb <= 0 || now < j->memory_check_at)
        return;
    j->memory_check_at = now + CFO_EXEC_MEMORY_TICK_MS;
    int64_t kb = task_rss_kb(&j->tp);
    if (kb > j->peak_kb)
        j->peak_kb = kb;
    if (kb > j->memory_limit_kb && j->stop == STOP_NONE) {
        j->stop = STOP_OOM;
        j->kill_at = now;
    }
}

static void job_stop(job *j, stop_reason why, int64_t now)
{
    j->stop = why;
    signal_strays(&j->tp, SIGTERM);
    j->kill_at = now + j->grace_ms;
}

static bool main_exited(const job *j, short pidfd_revents)
{
    if (j->pidfd >= 0)
        return (pidfd_revents & (POLLIN | POLLHUP | POLLERR)) != 0;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)j->tp.pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return errno != EINTR;
    return si.si_pid != 0;
}

static int64_t min_pos(int64_t a, int64_t b)
{
    return a <= 0 ? b : (b <= 0 || a < b ? a : b);
}

/* Drains the sinks until EOF; a writer we could not find cannot hold us
 * beyond the bound. */
static void drain_sinks(job *j, int64_t until)
{
    struct pollfd pfd[4];
    for (;;) {
        size_t np = 0;
        for (size_t i = 0; i < j->nsinks; i++) {
            if (j->sinks[i].fd >= 0)
                pfd[np++] = (struct pollfd){.fd = j->sinks[i].fd, .events = POLLIN};
        }
        int64_t left = until - cfo_now_ms();
        if (np == 0 || left <= 0)
            return;
        int rc = poll(pfd, np, (int)(left < TICK_MS ? left : TICK_MS));
        if (rc < 0 && errno != EINTR)
            return;
        for (size_t k = 0; rc > 0 && k < np; k++) {
            if (pfd[k].revents == 0)
                continue;
            for (size_t i = 0; i < j->nsinks; i++)
                if (j->sinks[i].fd == pfd[k].fd)
                    sink_read(&j->sinks[i]);
        }
    }
}

/* Supervises the spawned child j->tp.pid until it and all its descendants
 * are gone, then reaps it into j->status. */
static void job_run(job *j)
{
    j->pidfd = open_pidfd(j->tp.pid);
    struct pollfd pfd[4];
    for (;;) {
        int64_t now = cfo_now_ms();
        if (j->stop == STOP_NONE) {
            if (j->timeout_at > 0 && now >= j->timeout_at)
                job_stop(j, STOP_TIMEOUT, now);
            else if (j->deadline_at > 0 && now >= j->deadline_at)
                job_stop(j, STOP_CANCEL, now);
            else if (j->cancel != NULL && atomic_load(j->cancel))
                job_stop(j, STOP_CANCEL, now);
            else if (j->limit_sink != NULL && j->limit_sink->overflow)
                job_stop(j, STOP_LIMIT, now);
            else
                check_memory(j, now);
        }
        if (j->stop != STOP_NONE && !j->killed && now >= j->kill_at) {
            signal_strays(&j->tp, SIGKILL);
            j->killed = true;
        }

        int64_t wait = j->pidfd >= 0 ? TICK_MS : NOPIDFD_TICK_MS;
        int64_t next = 0;
        if (j->stop == STOP_NONE) {
            next = min_pos(j->timeout_at, j->deadline_at);
        } else if (!j->killed) {
            next = j->kill_at;
        }
        if (j->stop == STOP_NONE && j->memory_limit_kb > 0)
            next = min_pos(next, j->memory_check_at);
        if (next > 0 && next - now < wait)
            wait = next - now < 0 ? 0 : next - now;

        size_t np = 0;
        for (size_t i = 0; i < j->nsinks; i++) {
            if (j->sinks[i].fd >= 0)
                pfd[np++] = (struct pollfd){.fd = j->sinks[i].fd, .events = POLLIN};
        }
        size_t pidfd_at = np;
        if (j->pidfd >= 0)
            pfd[np++] = (struct pollfd){.fd = j->pidfd, .events = POLLIN};
        int rc = poll(pfd, np, (int)wait);
        if (rc < 0 && errno != EINTR) {
            cfo_warn("exec: poll: %s", strerror(errno));
            sleep_ms(NOPIDFD_TICK_MS);
        }
        if (rc > 0) {
            for (size_t k = 0; k < pidfd_at; k++) {
                if (pfd[k].revents == 0)
                    continue;
                for (size_t i = 0; i < j->nsinks; i++)
                    if (j->sinks[i].fd == pfd[k].fd)
                        sink_read(&j->sinks[i]);
            }
        }
        short prev = (rc > 0 && j->pidfd >= 0) ? pfd[pidfd_at].revents : 0;
        if (main_exited(j, prev))
            break;
    }
    j->exit_seen_ms = cfo_now_ms();

    /* The main child is a zombie now: its pid, and so its group id, cannot
     * be reused until it is reaped, which is why that comes last. */
    kill_remains(&j->tp);
    drain_sinks(j, cfo_now_ms() + STRAY_BOUND_MS);
    while (wait4(j->tp.pid, &j->status, 0, &j->usage) < 0 && errno == EINTR) {
    }
    registry_remove(j->tp.pid);
    if (j->tp.watched)
        cfo_contain_group(j->tp.pid, false);
    close_fd(&j->pidfd);
}

/* ---- tasks ---- */

void cfo_exec_end_adopted(void)
{
    if (!atomic_load(&subreaper_on))
        return;
    int64_t until = cfo_now_ms() + STRAY_BOUND_MS;
    for (;;) {
        size_t n, pending = 0;
        proc_ent *v = proc_snapshot(&n);
        pid_t self = getpid();
        pthread_mutex_lock(&registry_mu);
        for (size_t i = 0; i < n; i++) {
            const proc_ent *pe = &v[i];
            if (pe->ppid != self || registry_has_locked(pe->pid))
                continue;
            if (pe->state != 'Z' && pe->state != 'X')
                kill(pe->pid, SIGKILL);
            if (waitpid(pe->pid, NULL, WNOHANG) == 0)
                pending++;
        }
        pthread_mutex_unlock(&registry_mu);
        free(v);
        if (pending == 0 || cfo_now_ms() >= until)
            return;
        sleep_ms(STRAY_PAUSE_MS);
    }
}

void cfo_exec_contain(void)
{
    cfo_exec_become_subreaper();
    cfo_contain_start();
}

void cfo_exec_become_subreaper(void)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
        cfo_warn("exec: cannot become a child subreaper: %s", strerror(errno));
    else
        atomic_store(&subreaper_on, true);
}

/* Opens the log file, making its directory; a failure is reported in why
 * and the task runs without a log. */
static int open_log(const char *path, char *why, size_t why_len)
{
    char *dir = cfo_xstrdup(path);
    char *slash = strrchr(dir, '/');
    cfo_diag d = {{0}};
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (cfo_mkdir_p(dir, &d) != CFO_OK) {
            snprintf(why, why_len, "cannot write log: %s", d.msg);
            free(dir);
            return -1;
        }
    }
    free(dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        snprintf(why, why_len, "cannot write log %s: %s", path, strerror(errno));
    return fd;
}

cfo_err cfo_exec_run(const cfo_exec_spec *spec, cfo_exec_result *res, cfo_diag *d)
{
    memset(res, 0, sizeof *res);
    res->exit_code = -1;
    if (spec == NULL || spec->argv == NULL || spec->argv[0] == NULL)
        return cfo_diag_set(d, CFO_EINVAL, "no command to run");
    size_t tail_cap = spec->tail_cap > 0 ? spec->tail_cap : CFO_EXEC_DEFAULT_TAIL;
    int64_t start = cfo_now_ms();

    /* A run already over starts nothing. */
    if ((spec->deadline_ms > 0 && start >= spec->deadline_ms) ||
        (spec->cancel != NULL && atomic_load(spec->cancel))) {
        res->end = CFO_EXEC_CANCELLED;
        res->tail = cfo_xstrdup("");
        return CFO_OK;
    }

    int outp[2] = {-1, -1}, resp[2] = {-1, -1};
    if (make_pipe(outp) != 0 || (spec->result_fd && make_pipe(resp) != 0)) {
        snprintf(res->error, sizeof res->error, "pipe: %s", strerror(errno));
        close_fd(&outp[0]);
        close_fd(&outp[1]);
        res->end = CFO_EXEC_SPAWN_FAILED;
        res->tail = cfo_xstrdup("");
        return CFO_OK;
    }
    char cookie[64];
    make_cookie(cookie, sizeof cookie);
    job j;
    memset(&j, 0, sizeof j);
    cfo_task_cgroup cgroup;
    cfo_task_cgroup_make(&cgroup);
    task_procs_init(&j.tp, cookie, &cgroup);
    int rc =
        spawn_child(spec->argv, spec->cwd, NULL, spec->env_add, outp[1], outp[1], resp[1], &j.tp);
    close_fd(&outp[1]);
    close_fd(&resp[1]);
    if (rc != 0) {
        close_fd(&outp[0]);
        close_fd(&resp[0]);
        if (spec->cwd != NULL)
            snprintf(res->error, sizeof res->error, "cannot run %s in %s: %s", spec->argv[0],
                     spec->cwd, strerror(rc));
        else
            snprintf(res->error, sizeof res->error, "cannot run %s: %s", spec->argv[0],
                     strerror(rc));
        res->end = CFO_EXEC_SPAWN_FAILED;
        res->tail = cfo_xstrdup("");
        res->duration_ms = cfo_now_ms() - start;
        cfo_task_cgroup_end(&cgroup);
        return CFO_OK;
    }

    sink sinks[2];
    sink_init(&sinks[0], SINK_RING, outp[0], tail_cap);
    sinks[0].log_error = res->error;
    sinks[0].log_error_len = sizeof res->error;
    sinks[0].log_path = spec->log_path;
    sinks[0].log_cap = spec->log_cap ? spec->log_cap : CFO_EXEC_DEFAULT_LOG_CAP;
    if (spec->log_path != NULL)
        sinks[0].log_fd = open_log(spec->log_path, res->error, sizeof res->error);
    sink_init(&sinks[1], SINK_LINEAR, resp[0], CFO_EXEC_MAX_RESULT);
    j.sinks = sinks;
    j.nsinks = spec->result_fd ? 2 : 1;
    j.start_ms = start;
    j.timeout_at = spec->timeout_ms > 0 ? start + spec->timeout_ms : 0;
    j.deadline_at = spec->deadline_ms;
    j.grace_ms = spec->grace_ms > 0 ? spec->grace_ms : CFO_EXEC_DEFAULT_GRACE_MS;
    j.cancel = spec->cancel;
    j.memory_limit_kb = spec->memory_limit_kb;
    job_run(&j);
    cfo_task_cgroup_end(&cgroup);

    res->duration_ms = j.exit_seen_ms - start;
    res->cpu_ms = (int64_t)(j.usage.ru_utime.tv_sec + j.usage.ru_stime.tv_sec) * 1000 +
                  (j.usage.ru_utime.tv_usec + j.usage.ru_stime.tv_usec) / 1000;
    res->max_rss_kb = j.usage.ru_maxrss > j.peak_kb ? j.usage.ru_maxrss : j.peak_kb;
    if (WIFEXITED(j.status))
        res->exit_code = WEXITSTATUS(j.status);
    else if (WIFSIGNALED(j.status))
        res->term_signal = WTERMSIG(j.status);
    switch (j.stop) {
    case STOP_TIMEOUT:
        res->end = CFO_EXEC_TIMEOUT;
        break;
    case STOP_CANCEL:
        res->end = CFO_EXEC_CANCELLED;
        break;
    case STOP_OOM:
        res->end = CFO_EXEC_OOM;
        break;
    case STOP_NONE:
    case STOP_LIMIT:
        res->end = WIFEXITED(j.status) ? CFO_EXEC_EXITED : CFO_EXEC_SIGNALED;
        break;
    }
    res->output_bytes = sinks[0].total;
    res->tail = sink_take(&sinks[0], &res->tail_len);
    if (spec->result_fd && sinks[1].len > 0) {
        res->result_truncated = sinks[1].overflow;
        res->result = sink_take(&sinks[1], &res->result_len);
    }
    sink_fini(&sinks[0]);
    sink_fini(&sinks[1]);
    return CFO_OK;
}

void cfo_exec_result_fini(cfo_exec_result *res)
{
    if (res == NULL)
        return;
    cfo_free_all(res->tail, res->result);
    res->tail = res->result = NULL;
    res->tail_len = res->result_len = 0;
}

/* ---- capture ---- */

cfo_err cfo_exec_capture(char *const *argv, const char *cwd, char *const *env_add,
                         int64_t timeout_ms, size_t max_out, cfo_capture *cap, cfo_diag *d)
{
    return cfo_exec_capture_in(argv, cwd, NULL, env_add, timeout_ms, max_out, cap, d);
}

cfo_err cfo_exec_capture_in(char *const *argv, const char *cwd, const char *stdin_path,
                            char *const *env_add, int64_t timeout_ms, size_t max_out,
                            cfo_capture *cap, cfo_diag *d)
{
    memset(cap, 0, sizeof *cap);
    cap->exit_code = -1;
    if (argv == NULL || argv[0] == NULL)
        return cfo_diag_set(d, CFO_EINVAL, "no command to run");

    int outp[2] = {-1, -1}, errp[2] = {-1, -1};
    if (make_pipe(outp) != 0 || make_pipe(errp) != 0) {
        cfo_err err = cfo_diag_set(d, CFO_EIO, "pipe: %s", strerror(errno));
        close_fd(&outp[0]);
        close_fd(&outp[1]);
        return err;
    }
    char cookie[64];
    make_cookie(cookie, sizeof cookie);
    job j;
    memset(&j, 0, sizeof j);
    task_procs_init(&j.tp, cookie, NULL);
    int rc = spawn_child(argv, cwd, stdin_path, env_add, outp[1], errp[1], -1, &j.tp);
    close_fd(&outp[1]);
    close_fd(&errp[1]);
    if (rc != 0) {
        close_fd(&outp[0]);
        close_fd(&errp[0]);
        if (cwd != NULL)
            return cfo_diag_set(d, CFO_ECHILD, "cannot run %s in %s: %s", argv[0], cwd,
                                strerror(rc));
        return cfo_diag_set(d, CFO_ECHILD, "cannot run %s: %s", argv[0], strerror(rc));
    }

    sink sinks[2];
    sink_init(&sinks[0], SINK_LINEAR, outp[0], max_out);
    sink_init(&sinks[1], SINK_RING, errp[0], CAPTURE_ERR_TAIL);
    j.sinks = sinks;
    j.nsinks = 2;
    j.limit_sink = &sinks[0];
    j.start_ms = cfo_now_ms();
    j.timeout_at = timeout_ms > 0 ? j.start_ms + timeout_ms : 0;
    j.grace_ms = CAPTURE_GRACE_MS;
    job_run(&j);

    cfo_err err = CFO_OK;
    size_t err_len;
    char *err_tail = sink_take(&sinks[1], &err_len);
    if (j.stop == STOP_TIMEOUT || j.stop == STOP_LIMIT) {
        const char *what = j.stop == STOP_TIMEOUT ? "timed out after" : "wrote more than";
        char amount[64];
        if (j.stop == STOP_TIMEOUT)
            cfo_format_duration(timeout_ms, amount, sizeof amount);
        else
            snprintf(amount, sizeof amount, "%zu bytes", max_out);
        err = cfo_diag_set(d, j.stop == STOP_TIMEOUT ? CFO_ETIMEDOUT : CFO_ELIMIT,
                           "%s %s %s%s%.300s", argv[0], what, amount, err_len ? ": " : "",
                           err_tail + (err_len > 300 ? err_len - 300 : 0));
        free(err_tail);
    } else {
        cap->exit_code = WIFEXITED(j.status) ? WEXITSTATUS(j.status) : -1;
        cap->out = sink_take(&sinks[0], &cap->out_len);
        cap->err = err_tail;
    }
    sink_fini(&sinks[0]);
    sink_fini(&sinks[1]);
    return err;
}

void cfo_capture_fini(cfo_capture *cap)
{
    if (cap == NULL)
        return;
    cfo_free_all(cap->out, cap->err);
    cap->out = cap->err = NULL;
    cap->out_len = 0;
}

void cfo_exec_catch_stop(void (*handler)(int), struct sigaction *old_term,
                         struct sigaction *old_int)
{
    struct sigaction sa = {.sa_handler = handler};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, old_term);
    sigaction(SIGINT, &sa, old_int);
}
