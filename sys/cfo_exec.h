/* cfo_exec.h -- runs one task's process under a timeout and a deadline, in
 * its own process group, capturing its output and its result fd. */
#ifndef CFO_EXEC_H
#define CFO_EXEC_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfo_error.h"

#define CFO_EXEC_DEFAULT_GRACE_MS 5000
#define CFO_EXEC_DEFAULT_TAIL 16384
#define CFO_EXEC_MAX_RESULT 65536               /* bytes read from CFO_RESULT_FD */
#define CFO_EXEC_DEFAULT_LOG_CAP (256ULL << 20) /* bytes of a task's log file */
#define CFO_EXEC_MEMORY_TICK_MS 20

typedef struct cfo_exec_spec {
    char *const *argv;    /* argv[0] is looked up in PATH when it has no '/' */
    const char *cwd;      /* NULL: inherit */
    char *const *env_add; /* "NAME=VALUE" set on top of the environment, or NULL */
    int64_t timeout_ms;   /* the task's own cap; 0: none */
    int64_t deadline_ms;  /* absolute cfo_now_ms() deadline of the run; 0: none */
    int64_t grace_ms;     /* SIGTERM to SIGKILL; 0: CFO_EXEC_DEFAULT_GRACE_MS */
    size_t tail_cap;      /* bytes of combined output kept; 0: CFO_EXEC_DEFAULT_TAIL */
    const char *log_path; /* full stdout+stderr saved here (parent dirs made); NULL: none */
    uint64_t log_cap;     /* bytes kept in the log, then a note; 0: CFO_EXEC_DEFAULT_LOG_CAP */
    bool result_fd;       /* open a pipe and pass its number in CFO_RESULT_FD */
    /* Resident memory the task's processes may use together, KiB; 0: no
     * limit. Sampled every CFO_EXEC_MEMORY_TICK_MS; over it, the task is
     * killed at once and ends CFO_EXEC_OOM. */
    int64_t memory_limit_kb;
    /* Set to true from another thread to stop the task as at the deadline. */
    const atomic_bool *cancel;
} cfo_exec_spec;

typedef enum cfo_exec_end {
    CFO_EXEC_EXITED,    /* exit_code is valid */
    CFO_EXEC_SIGNALED,  /* term_signal is valid (killed by a signal it did not get from us) */
    CFO_EXEC_TIMEOUT,   /* stopped by us at timeout_ms */
    CFO_EXEC_CANCELLED, /* stopped by us at deadline_ms or *cancel */
    CFO_EXEC_OOM,       /* killed by us at memory_limit_kb */
    CFO_EXEC_SPAWN_FAILED,
} cfo_exec_end;

typedef struct cfo_exec_result {
    cfo_exec_end end;
    int exit_code;
    int term_signal;
    int64_t duration_ms;
    /* From wait4: CPU of the main child and the descendants it waited for;
     * the peak resident set of the largest of them, or of all the task's
     * processes together when that was sampled higher (memory limit). */
    int64_t cpu_ms;
    int64_t max_rss_kb;
    uint64_t output_bytes; /* all bytes of stdout+stderr seen */
    char *tail;            /* last tail_cap bytes of output, NUL-terminated */
    size_t tail_len;
    char *result; /* what the child wrote to CFO_RESULT_FD, or NULL */
    size_t result_len;
    bool result_truncated;
    char error[256]; /* why spawning or log saving failed */
} cfo_exec_result;

/* Runs the task to its end and fills res (free with cfo_exec_result_fini).
 * The child gets its own process group, default signal dispositions, an
 * empty signal mask and only fds 0 (/dev/null), 1, 2 (one pipe) and the
 * result fd. At timeout, deadline or cancel: SIGTERM to the group, then
 * SIGKILL after grace; every process of the task -- also ones that left the
 * group with setsid -- is killed and reaped before this returns. Output is
 * drained as it comes, so a flood neither blocks the child nor grows memory.
 * Safe to call from several threads at once. Returns CFO_OK whenever a
 * result was produced (including SPAWN_FAILED). */
cfo_err cfo_exec_run(const cfo_exec_spec *spec, cfo_exec_result *res, cfo_diag *d);
void cfo_exec_result_fini(cfo_exec_result *res);

/* Ends (SIGKILL, then reaps) every process this subreaper adopted that no
 * thread here waits for: what tasks left behind. Call when no task runs
 * (a worker leaving, a run over). */
void cfo_exec_end_adopted(void);

/* Makes this process a child subreaper, so descendants of tasks that lose
 * their parent are re-parented here and can be collected. Call once at start
 * of a program that runs tasks. */
void cfo_exec_become_subreaper(void);

/* Sets up all that ends a task's processes with it, once, before tasks
 * run: the subreaper, a cgroup v2 per task where one is delegated and
 * writable, and a watchdog that ends running tasks if this program is
 * killed outright (sys/cfo_contain.h). */
void cfo_exec_contain(void);

/* Runs a short helper command (git, terraform) to completion, in its own
 * process group, and captures its stdout (at most max_out bytes: more is
 * CFO_ELIMIT) and a tail of its stderr. timeout_ms > 0 bounds it. Returns
 * CFO_OK with cap->exit_code set once the command ran, or an error with a
 * message when it could not be started. */
typedef struct cfo_capture {
    int exit_code; /* -1 when killed by a signal or timed out */
    char *out;     /* stdout, NUL-terminated (at most max_out bytes) */
    size_t out_len;
    char *err; /* stderr tail, NUL-terminated */
} cfo_capture;

cfo_err cfo_exec_capture(char *const *argv, const char *cwd, char *const *env_add,
                         int64_t timeout_ms, size_t max_out, cfo_capture *cap, cfo_diag *d);
/* The same with the file stdin_path as the command's standard input. */
cfo_err cfo_exec_capture_in(char *const *argv, const char *cwd, const char *stdin_path,
                            char *const *env_add, int64_t timeout_ms, size_t max_out,
                            cfo_capture *cap, cfo_diag *d);
void cfo_capture_fini(cfo_capture *cap);

/* Sets handler for SIGTERM and SIGINT, the signals that ask a process to
 * stop (no flags, nothing more blocked while it runs); their previous
 * actions go to old_term and old_int unless NULL. */
void cfo_exec_catch_stop(void (*handler)(int), struct sigaction *old_term,
                         struct sigaction *old_int);

#endif
