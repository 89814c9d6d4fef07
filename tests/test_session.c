/* test_session.c -- the worker's session (cfo_session_run) against a
 * scripted coordinator: a ROUTER on inproc:// that speaks the protocol by
 * hand. HELLO with its slots, no more tasks running than slots, results kept
 * and re-offered until ACKed (after RESET and after a reconnect), BYE and a
 * stop request both end it.
 *
 * Tasks run for real, through an exec fuzzer whose run command is a small
 * script: it writes "start TARGET PID" and "end TARGET" lines to a FIFO the
 * test reads, and a target named hold-* waits until the test writes to its
 * own FIFO. Every wait is for a message or a line, with a generous bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "cfo_log.h"
#include "cfo_proto.h"
#include "cfo_session.h"
#include "cfo_util.h"

#define SHA "0123456789abcdef0123456789abcdef01234567"
#define WAIT_MS 20000   /* safety bound of every wait for a message or a line */
#define QUIET_MS 300    /* how long a task that must not start is given to start */
#define LONG_HB 10000   /* a heartbeat interval no test outlives */
#define MAX_RELEASED 16 /* hold-* FIFOs the test has written to */

static const char *const SCRIPT = "#!/bin/sh\n"
                                  "d=$(dirname \"$0\")\n"
                                  "echo \"start $1 $$\" > \"$d/events\"\n"
                                  "case \"$1\" in\n"
                                  "hold-*) read x < \"$d/go-$1\" ;;\n"
                                  "fail-*) echo \"end $1\" > \"$d/events\"; exit 1 ;;\n"
                                  "esac\n"
                                  "echo \"end $1\" > \"$d/events\"\n";

typedef struct fixture {
    char *dir;
    cfo_config *cfg;
    pthread_mutex_t git_lock;
    cfo_task_env env;
    cfo_session_opts opts;
    volatile sig_atomic_t stop;
    void *ctx;
    void *router;
    char endpoint[64];
    unsigned char rid[256]; /* the worker's routing id, from its last HELLO */
    size_t rid_len;
    pthread_t thread;
    bool running;
    int rc;
    int ended[2];
    int events; /* the FIFO the script writes to, read here */
    char line_buf[4096];
    size_t line_len;
    int released[MAX_RELEASED];
    int nreleased;
} fixture;

static fixture fx;

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static int setup(void **state)
{
    (void)state;
    static int seq;
    memset(&fx, 0, sizeof fx);
    cfo_log_init("test_session", CFO_LOG_WARN);
    cfo_diag d = {{0}};
    fx.dir = cfo_make_temp_dir("cfo-session", &d);
    assert_non_null(fx.dir);
    char *script = cfo_xasprintf("%s/run.sh", fx.dir);
    write_file(script, SCRIPT, 0755);
    char *events = cfo_xasprintf("%s/events", fx.dir);
    assert_int_equal(mkfifo(events, 0600), 0);
    /* Read-write: the script's opens never block and never find no reader. */
    fx.events = open(events, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    assert_true(fx.events >= 0);
    char *ini = cfo_xasprintf("[fuzzer \"SCRIPT\"]\nkind = exec\nneeds_working_dir = false\n"
                              "run = %s {target}\n",
                              script);
    assert_int_equal(cfo_config_parse(ini, "test.ini", &fx.cfg, &d), CFO_OK);
    free(ini);
    free(events);
    free(script);

    pthread_mutex_init(&fx.git_lock, NULL);
    fx.env = (cfo_task_env){
        .repo = fx.dir,
        .workdir = fx.dir,
        .config = fx.cfg,
        .grace_ms = 500,
        .git_lock = &fx.git_lock,
    };
    fx.ctx = zmq_ctx_new();
    assert_non_null(fx.ctx);
    fx.router = zmq_socket(fx.ctx, ZMQ_ROUTER);
    assert_non_null(fx.router);
    assert_int_equal(cfo_wire_setup(fx.router, true, &d), CFO_OK);
    snprintf(fx.endpoint, sizeof fx.endpoint, "inproc://test-session-%d", seq++);
    assert_int_equal(zmq_bind(fx.router, fx.endpoint), 0);
    assert_int_equal(pipe(fx.ended), 0);
    return 0;
}

static void *session_main(void *arg)
{
    (void)arg;
    fx.rc = cfo_session_run(&fx.opts);
    char c = 1;
    ssize_t rc = write(fx.ended[1], &c, 1);
    (void)rc;
    return NULL;
}

static void start(uint32_t slots)
{
    fx.opts = (cfo_session_opts){
        .zctx = fx.ctx,
        .endpoint = fx.endpoint,
        .worker_id = "wk",
        .slots = slots,
        .env = &fx.env,
        .heartbeat_ms = LONG_HB,
        .stop = &fx.stop,
    };
    fx.rc = -1;
    assert_int_equal(pthread_create(&fx.thread, NULL, session_main, NULL), 0);
    fx.running = true;
}

/* Waits (bounded) for cfo_session_run to return and gives its status. */
static int wait_session_end(void)
{
    struct pollfd pfd = {.fd = fx.ended[0], .events = POLLIN};
    int rc;
    do
        rc = poll(&pfd, 1, WAIT_MS);
    while (rc < 0 && errno == EINTR);
    if (rc != 1)
        fail_msg("cfo_session_run did not return within %d ms", WAIT_MS);
    assert_int_equal(pthread_join(fx.thread, NULL), 0);
    fx.running = false;
    return fx.rc;
}

static int teardown(void **state)
{
    (void)state;
    if (fx.running) {
        /* A test that failed midway: ask the session to leave. */
        fx.stop = 1;
        struct pollfd pfd = {.fd = fx.ended[0], .events = POLLIN};
        if (poll(&pfd, 1, 60000) == 1)
            pthread_join(fx.thread, NULL);
        else
            fprintf(stderr, "the session did not stop\n");
    }
    zmq_close(fx.router);
    zmq_ctx_term(fx.ctx);
    for (int i = 0; i < fx.nreleased; i++)
        close(fx.released[i]);
    close(fx.events);
    close(fx.ended[0]);
    close(fx.ended[1]);
    cfo_config_destroy(&fx.cfg);
    pthread_mutex_destroy(&fx.git_lock);
    cfo_remove_tree(fx.dir, NULL);
    free(fx.dir);
    return 0;
}

/* ---- the script's events ---- */

/* The next line the script wrote within timeout_ms, or false. */
static bool next_event(int64_t timeout_ms, char *out, size_t len)
{
    int64_t until = cfo_now_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(fx.line_buf, '\n', fx.line_len);
        if (nl != NULL) {
            size_t n = (size_t)(nl - fx.line_buf);
            snprintf(out, len, "%.*s", (int)n, fx.line_buf);
            memmove(fx.line_buf, nl + 1, fx.line_len - n - 1);
            fx.line_len -= n + 1;
            return true;
        }
        ssize_t got = read(fx.events, fx.line_buf + fx.line_len, sizeof fx.line_buf - fx.line_len);
        if (got > 0) {
            fx.line_len += (size_t)got;
            continue;
        }
        assert_true(got < 0 && (errno == EAGAIN || errno == EINTR));
        int64_t left = until - cfo_now_ms();
        if (left <= 0)
            return false;
        struct pollfd pfd = {.fd = fx.events, .events = POLLIN};
        poll(&pfd, 1, (int)left);
    }
}

static void expect_event(const char *want)
{
    char line[256];
    if (!next_event(WAIT_MS, line, sizeof line))
        fail_msg("no \"%s\" from the task within %d ms", want, WAIT_MS);
    if (strncmp(line, want, strlen(want)) != 0)
        fail_msg("expected \"%s\" from the tasks, got \"%s\"", want, line);
}

/* "start TARGET PID": the pid of the task's shell. */
static pid_t expect_start(const char *target)
{
    char want[128], line[256];
    snprintf(want, sizeof want, "start %s ", target);
    if (!next_event(WAIT_MS, line, sizeof line))
        fail_msg("task %s did not start within %d ms", target, WAIT_MS);
    if (strncmp(line, want, strlen(want)) != 0)
        fail_msg("expected \"%s\", got \"%s\"", want, line);
    return (pid_t)strtol(line + strlen(want), NULL, 10);
}

static void expect_no_event(int64_t within_ms)
{
    char line[256];
    if (next_event(within_ms, line, sizeof line))
        fail_msg("expected no task to start or end, got \"%s\"", line);
}

/* Lets the task hold-NAME end. */
static void release(const char *target)
{
    char *path = cfo_xasprintf("%s/go-%s", fx.dir, target);
    if (mkfifo(path, 0600) != 0)
        assert_int_equal(errno, EEXIST);
    /* Kept open until teardown: a FIFO's data lives only while it is open,
     * and the task may not have opened it yet. */
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "go\n", 3), 3);
    assert_true(fx.nreleased < MAX_RELEASED);
    fx.released[fx.nreleased++] = fd;
    free(path);
}

static void make_hold_fifo(const char *target)
{
    char *path = cfo_xasprintf("%s/go-%s", fx.dir, target);
    assert_int_equal(mkfifo(path, 0600), 0);
    free(path);
}

static bool process_gone(pid_t pid)
{
    return kill(pid, 0) != 0 && errno == ESRCH;
}

/* ---- the scripted coordinator ---- */

static void coord_send(const cfo_msg *m)
{
    cfo_diag d = {{0}};
    if (cfo_wire_send(fx.router, fx.rid, fx.rid_len, m, &d) != CFO_OK)
        fail_msg("sending %s: %s", cfo_msg_type_name(m->type), d.msg);
}

/* The next message from the worker other than a HEARTBEAT; a HELLO makes
 * its routing id the one answered. */
static void coord_next(cfo_msg *out)
{
    int64_t until = cfo_now_ms() + WAIT_MS;
    for (;;) {
        cfo_wire_in in;
        cfo_diag d = {{0}};
        cfo_err err = cfo_wire_recv(fx.router, true, &in, &d);
        if (err == CFO_OK && in.msg.type == CFO_MSG_HEARTBEAT) {
            cfo_msg_fini(&in.msg);
            continue;
        }
        if (err == CFO_OK) {
            if (in.msg.type == CFO_MSG_HELLO) {
                memcpy(fx.rid, in.routing_id, in.id_len);
                fx.rid_len = in.id_len;
            }
            *out = in.msg;
            return;
        }
        if (err != CFO_ENOTFOUND)
            fail_msg("receiving: %s", d.msg);
        int64_t left = until - cfo_now_ms();
        if (left <= 0)
            fail_msg("no message from the worker within %d ms", WAIT_MS);
        zmq_pollitem_t item = {.socket = fx.router, .events = ZMQ_POLLIN};
        zmq_poll(&item, 1, (long)left);
    }
}

/* The next message other than a HEARTBEAT, which must be of type t. */
static void coord_expect(cfo_msg_type t, cfo_msg *out)
{
    coord_next(out);
    if (out->type != t) {
        cfo_msg_type got = out->type;
        cfo_msg_fini(out);
        fail_msg("expected %s from the worker, got %s", cfo_msg_type_name(t),
                 cfo_msg_type_name(got));
    }
}

/* Expects HELLO from worker "wk" with slots and exactly the pending results
 * listed (task, attempt pairs). */
static void expect_hello(uint32_t slots, const cfo_msg_pending *pending, size_t npending)
{
    cfo_msg m;
    coord_expect(CFO_MSG_HELLO, &m);
    bool ok = strcmp(m.u.hello.worker_id, "wk") == 0 && m.u.hello.slots == slots &&
              cfo_strv_contains(&m.u.hello.fuzzers, "SCRIPT");
    size_t got = m.u.hello.npending;
    bool same = got == npending;
    for (size_t i = 0; same && i < npending; i++) {
        bool found = false;
        for (size_t k = 0; k < got; k++)
            found |= m.u.hello.pending[k].task_id == pending[i].task_id &&
                     m.u.hello.pending[k].attempt == pending[i].attempt;
        same = found;
    }
    cfo_msg_fini(&m);
    assert_true(ok);
    if (!same)
        fail_msg("HELLO re-offered %zu result(s), expected %zu", got, npending);
}

static void send_welcome(uint32_t heartbeat_ms)
{
    cfo_msg m = {.type = CFO_MSG_WELCOME,
                 .u.welcome = {.run_id = "run-1", .heartbeat_ms = heartbeat_ms}};
    coord_send(&m);
}

static void send_task(uint64_t task, uint32_t attempt, const char *target)
{
    cfo_msg m = {.type = CFO_MSG_TASK,
                 .u.task = {.task_id = task,
                            .attempt = attempt,
                            .fuzzer = "SCRIPT",
                            .branch = "main",
                            .commit = SHA,
                            .target = (char *)target,
                            .timeout_ms = 60000,
                            .deadline_ms = 120000}};
    coord_send(&m);
}

static void send_ref(cfo_msg_type type, uint64_t task, uint32_t attempt)
{
    cfo_msg m = {.type = type, .u.ref = {.task_id = task, .attempt = attempt}};
    coord_send(&m);
}

static void send_reason(cfo_msg_type type, const char *reason)
{
    cfo_msg m = {.type = type, .u.reason = {.reason = (char *)reason}};
    coord_send(&m);
}

/* The next RESULT, which must be for task at attempt, ended with status. */
static void expect_result(uint64_t task, uint32_t attempt, cfo_status status)
{
    cfo_msg m;
    coord_expect(CFO_MSG_RESULT, &m);
    uint64_t got_task = m.u.result.task_id;
    uint32_t got_attempt = m.u.result.outcome.attempt;
    cfo_status got_status = m.u.result.outcome.status;
    cfo_msg_fini(&m);
    if (got_task != task || got_attempt != attempt || got_status != status)
        fail_msg("expected RESULT %llu/%u %s, got %llu/%u %s", (unsigned long long)task, attempt,
                 cfo_status_name(status), (unsigned long long)got_task, got_attempt,
                 cfo_status_name(got_status));
}

/* A task ended: its RESULT, then the credit it gives back. */
static void expect_result_and_credit(uint64_t task, uint32_t attempt, cfo_status status)
{
    expect_result(task, attempt, status);
    cfo_msg m;
    coord_expect(CFO_MSG_CREDIT, &m);
    uint32_t n = m.u.credit.n;
    cfo_msg_fini(&m);
    assert_int_equal(n, 1);
}

static void connect_worker(uint32_t slots, uint32_t heartbeat_ms)
{
    start(slots);
    expect_hello(slots, NULL, 0);
    send_welcome(heartbeat_ms);
}

/* ---- tests ---- */

static void test_runs_no_more_tasks_than_its_slots(void **state)
{
    (void)state;
    make_hold_fifo("hold-a");
    make_hold_fifo("hold-b");
    make_hold_fifo("hold-c");
    connect_worker(2, LONG_HB);
    /* A coordinator that sends more than the worker's slots. */
    send_task(1, 1, "hold-a");
    send_task(2, 1, "hold-b");
    send_task(3, 1, "hold-c");
    /* Two slots start at once, in either order. */
    char first[256], second[256];
    assert_true(next_event(WAIT_MS, first, sizeof first));
    assert_true(next_event(WAIT_MS, second, sizeof second));
    bool ab = strncmp(first, "start hold-a ", 13) == 0 && strncmp(second, "start hold-b ", 13) == 0;
    bool ba = strncmp(first, "start hold-b ", 13) == 0 && strncmp(second, "start hold-a ", 13) == 0;
    if (!ab && !ba)
        fail_msg("expected hold-a and hold-b to start, got \"%s\" and \"%s\"", first, second);
    /* Two slots, two running: the third waits for one of them to end. */
    expect_no_event(QUIET_MS);
    release("hold-a");
    expect_event("end hold-a");
    expect_start("hold-c");
    expect_result_and_credit(1, 1, CFO_STATUS_PASS);
    release("hold-b");
    release("hold-c");
    /* They end in either order. */
    for (int i = 0; i < 2; i++) {
        cfo_msg m;
        coord_expect(CFO_MSG_RESULT, &m);
        uint64_t task = m.u.result.task_id;
        cfo_status st = m.u.result.outcome.status;
        cfo_msg_fini(&m);
        assert_true(task == 2 || task == 3);
        assert_int_equal(st, CFO_STATUS_PASS);
        coord_expect(CFO_MSG_CREDIT, &m);
        cfo_msg_fini(&m);
        send_ref(CFO_MSG_ACK, task, 1);
    }
    send_ref(CFO_MSG_ACK, 1, 1);
    send_reason(CFO_MSG_BYE, "run over");
    assert_int_equal(wait_session_end(), 0);
}

static void test_result_is_reoffered_until_acked(void **state)
{
    (void)state;
    connect_worker(1, LONG_HB);
    send_task(7, 3, "fail-x");
    expect_event("start fail-x");
    expect_event("end fail-x");
    expect_result_and_credit(7, 3, CFO_STATUS_FAIL);

    /* Not acknowledged: after RESET the worker's HELLO re-offers it, and the
     * WELCOME that follows has it sent again. */
    const cfo_msg_pending mine = {.task_id = 7, .attempt = 3};
    send_reason(CFO_MSG_RESET, "unknown session");
    expect_hello(1, &mine, 1);
    send_welcome(LONG_HB);
    expect_result_and_credit(7, 3, CFO_STATUS_FAIL);

    /* ACKs of another attempt or another task are not its ACK. */
    send_ref(CFO_MSG_ACK, 7, 2);
    send_ref(CFO_MSG_ACK, 8, 3);
    send_reason(CFO_MSG_RESET, "unknown session");
    expect_hello(1, &mine, 1);
    send_welcome(LONG_HB);
    expect_result_and_credit(7, 3, CFO_STATUS_FAIL);

    /* Acknowledged: forgotten. The next thing it sends after a WELCOME is
     * the (immediate) result of a task with a bad target, not task 7's. */
    send_ref(CFO_MSG_ACK, 7, 3);
    send_reason(CFO_MSG_RESET, "unknown session");
    expect_hello(1, NULL, 0);
    send_welcome(LONG_HB);
    send_task(9, 1, "../outside");
    expect_result_and_credit(9, 1, CFO_STATUS_ERROR);
    send_ref(CFO_MSG_ACK, 9, 1);

    send_reason(CFO_MSG_BYE, "run over");
    assert_int_equal(wait_session_end(), 0);
    /* It ran once, however often its result was sent. */
    expect_no_event(0);
}

static void test_reconnects_to_a_silent_coordinator_and_reoffers(void **state)
{
    (void)state;
    connect_worker(1, LONG_HB);
    send_task(4, 1, "pass-y");
    expect_event("start pass-y");
    expect_result_and_credit(4, 1, CFO_STATUS_PASS);
    /* A WELCOME again, now with a short heartbeat: the unacknowledged result
     * is sent again. */
    send_welcome(250);
    expect_result_and_credit(4, 1, CFO_STATUS_PASS);
    /* Then silence for more than three of its heartbeats: the worker gives
     * up on this connection and says HELLO on a new one, re-offering it. */
    unsigned char before[256];
    size_t before_len = fx.rid_len;
    memcpy(before, fx.rid, before_len);
    const cfo_msg_pending mine = {.task_id = 4, .attempt = 1};
    expect_hello(1, &mine, 1);
    assert_false(fx.rid_len == before_len && memcmp(fx.rid, before, before_len) == 0);
    send_welcome(LONG_HB);
    expect_result_and_credit(4, 1, CFO_STATUS_PASS);
    send_ref(CFO_MSG_ACK, 4, 1);
    send_reason(CFO_MSG_BYE, "run over");
    assert_int_equal(wait_session_end(), 0);
}

static void test_a_result_reoffered_after_a_reconnect_gives_back_its_credit(void **state)
{
    (void)state;
    make_hold_fifo("hold-r");
    connect_worker(1, 250);
    send_task(6, 1, "hold-r");
    expect_start("hold-r");
    /* Silence: the worker says HELLO on a new connection, re-offering the
     * task it runs, and the task ends before any coordinator answers. */
    const cfo_msg_pending mine = {.task_id = 6, .attempt = 1};
    expect_hello(1, &mine, 1);
    release("hold-r");
    expect_event("end hold-r");
    /* Unanswered, it says HELLO again (the task long reaped by then). */
    expect_hello(1, &mine, 1);
    /* A coordinator that claims the task counts it against the worker's
     * credit, so the result, sent now, gives the credit back: without it a
     * resumed run that claimed every slot would send nothing more. */
    send_welcome(LONG_HB);
    expect_result_and_credit(6, 1, CFO_STATUS_PASS);
    send_ref(CFO_MSG_ACK, 6, 1);
    send_reason(CFO_MSG_BYE, "run over");
    assert_int_equal(wait_session_end(), 0);
}

static void test_bye_ends_the_session(void **state)
{
    (void)state;
    make_hold_fifo("hold-z");
    connect_worker(1, LONG_HB);
    send_task(1, 1, "hold-z");
    pid_t pid = expect_start("hold-z");
    assert_true(pid > 0);
    send_reason(CFO_MSG_BYE, "run over");
    assert_int_equal(wait_session_end(), 0);
    /* The task it was running is stopped, not left behind. */
    assert_true(process_gone(pid));
}

static void test_stop_cancels_reports_and_leaves(void **state)
{
    (void)state;
    make_hold_fifo("hold-s");
    make_hold_fifo("hold-t");
    connect_worker(1, LONG_HB);
    send_task(5, 1, "hold-s");
    send_task(6, 1, "hold-t");
    pid_t pid = expect_start("hold-s");
    fx.stop = 1;
    /* Both come back cancelled, the running one stopped and the queued one
     * never started (a result may come twice: it is not ACKed yet), then the
     * worker says BYE. */
    bool seen[2] = {false, false};
    for (;;) {
        cfo_msg m;
        coord_next(&m);
        cfo_msg_type type = m.type;
        uint64_t task = m.u.result.task_id;
        cfo_status st = m.u.result.outcome.status;
        cfo_msg_fini(&m);
        if (type == CFO_MSG_BYE)
            break;
        if (type == CFO_MSG_CREDIT)
            continue;
        if (type != CFO_MSG_RESULT)
            fail_msg("expected RESULT, CREDIT or BYE, got %s", cfo_msg_type_name(type));
        assert_true(task == 5 || task == 6);
        assert_int_equal(st, CFO_STATUS_CANCELLED);
        seen[task - 5] = true;
    }
    assert_true(seen[0] && seen[1]);
    assert_int_equal(wait_session_end(), 0);
    assert_true(process_gone(pid));
    expect_no_event(0); /* hold-t never started, hold-s never ended */
}

/* "Retry later" (a full session table, a name held by a live session) is
 * not the end: the worker says HELLO again after a backoff. */
static void test_retry_later_is_not_goodbye(void **state)
{
    (void)state;
    start(1);
    expect_hello(1, NULL, 0);
    send_reason(CFO_MSG_BYE, CFO_PROTO_RETRY_LATER ": too many workers");
    expect_hello(1, NULL, 0); /* on a new connection, after the backoff */
    send_welcome(LONG_HB);
    send_reason(CFO_MSG_BYE, "run over");
    assert_int_equal(wait_session_end(), 0);
}

/* A coordinator that sends more tasks than the worker's credit is not
 * obeyed: beyond HELD_MAX the tasks are ignored, not queued without bound. */
static void test_tasks_beyond_credit_are_ignored(void **state)
{
    (void)state;
    make_hold_fifo("hold-c");
    connect_worker(1, LONG_HB);
    send_task(0, 1, "hold-c");
    expect_start("hold-c");
    const unsigned flood = 2 * 1 + 64 + 200;
    for (unsigned t = 1; t <= flood; t++)
        send_task(t, 1, "pass-f");
    /* The worker still answers at once, and every task it took runs, one at
     * a time: the held ones (2 * slots + 64 in all) and no more. */
    release("hold-c");
    expect_result_and_credit(0, 1, CFO_STATUS_PASS);
    unsigned results = 1;
    for (;;) {
        cfo_msg m;
        coord_next(&m);
        cfo_msg_type type = m.type;
        if (type == CFO_MSG_RESULT)
            results++;
        cfo_msg_fini(&m);
        if (results == 2 * 1 + 64)
            break;
    }
    /* And nothing more comes. */
    int64_t until = cfo_now_ms() + QUIET_MS;
    for (int64_t left = QUIET_MS; left > 0; left = until - cfo_now_ms()) {
        zmq_pollitem_t item = {.socket = fx.router, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, (long)left) <= 0)
            continue;
        cfo_wire_in in;
        cfo_diag d = {{0}};
        if (cfo_wire_recv(fx.router, true, &in, &d) != CFO_OK)
            continue;
        cfo_msg_type type = in.msg.type;
        cfo_msg_fini(&in.msg);
        if (type == CFO_MSG_RESULT)
            fail_msg("a task beyond the worker's credit ran");
    }
    for (unsigned t = 0; t <= flood; t++)
        send_ref(CFO_MSG_ACK, t, 1);
    send_reason(CFO_MSG_BYE, "run over");
    assert_int_equal(wait_session_end(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retry_later_is_not_goodbye, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tasks_beyond_credit_are_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_no_more_tasks_than_its_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_is_reoffered_until_acked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnects_to_a_silent_coordinator_and_reoffers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_a_result_reoffered_after_a_reconnect_gives_back_its_credit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bye_ends_the_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_cancels_reports_and_leaves, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
