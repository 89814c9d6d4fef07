/* test_sched.c -- the scheduler (cfo_sched_run) against scripted workers: a
 * ROUTER on inproc://, DEALER peers that speak the protocol by hand. Credit
 * (slots + prefetch, never more), a silent worker's task re-queued with the
 * next attempt, a result counted once per (task, attempt), a late result of
 * an attempt given to another worker discarded, heartbeats and RESET.
 *
 * No wait here is a sleep: each is for a message, bounded by a generous
 * timeout. "Nothing more was sent" is checked after a barrier: an unknown
 * peer's message is answered with RESET from inside the scheduler's loop, so
 * two such round trips prove that the loop has dispatched at least once
 * since it read everything sent before them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "cfo_log.h"
#include "cfo_proto.h"
#include "cfo_sched.h"
#include "cfo_util.h"

#define SHA "0123456789abcdef0123456789abcdef01234567"
#define TASK_TIMEOUT_MS 60000
#define WAIT_MS 20000 /* safety bound of every wait for a message */
#define MAX_PEERS 8

static cfo_config *cfg;

/* A scripted worker: a DEALER and when it last sent. With hb > 0 it sends a
 * HEARTBEAT whenever it has been quiet that long while it waits; with 0 it
 * only says what the test makes it say. */
typedef struct peer {
    void *sock;
    int64_t hb;
    int64_t last_sent;
} peer;

/* One scheduler run on its own thread, and the peers that talk to it. */
typedef struct fixture {
    void *ctx;
    void *router;
    char endpoint[64];
    cfo_taskset ts;
    cfo_outcome *out;
    cfo_sched_opts opts;
    cfo_sched_stats stats;
    volatile sig_atomic_t stop;
    pthread_t thread;
    bool running;
    int ended[2];       /* the thread writes a byte here when cfo_sched_run returned */
    size_t canary_task; /* the one task of CANARY (its workers offer both), or SIZE_MAX */
    peer peers[MAX_PEERS];
    int npeers;
    peer *probe; /* a peer without a session, for barriers */
} fixture;

static fixture fx;

static int group_setup(void **state)
{
    (void)state;
    cfo_log_init("test_sched", CFO_LOG_WARN);
    cfg = cfo_config_new_default();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cfo_config_destroy(&cfg);
    return 0;
}

static peer *peer_open(int64_t hb)
{
    assert_true(fx.npeers < MAX_PEERS);
    peer *p = &fx.peers[fx.npeers++];
    p->sock = zmq_socket(fx.ctx, ZMQ_DEALER);
    assert_non_null(p->sock);
    cfo_diag d = {{0}};
    assert_int_equal(cfo_wire_setup(p->sock, false, &d), CFO_OK);
    assert_int_equal(zmq_connect(p->sock, fx.endpoint), 0);
    p->hb = hb;
    p->last_sent = cfo_now_ms();
    return p;
}

static int setup(void **state)
{
    (void)state;
    static int seq;
    memset(&fx, 0, sizeof fx);
    fx.canary_task = SIZE_MAX;
    fx.ctx = zmq_ctx_new();
    assert_non_null(fx.ctx);
    fx.router = zmq_socket(fx.ctx, ZMQ_ROUTER);
    assert_non_null(fx.router);
    cfo_diag d = {{0}};
    assert_int_equal(cfo_wire_setup(fx.router, true, &d), CFO_OK);
    snprintf(fx.endpoint, sizeof fx.endpoint, "inproc://test-sched-%d", seq++);
    assert_int_equal(zmq_bind(fx.router, fx.endpoint), 0);
    assert_int_equal(pipe(fx.ended), 0);
    cfo_taskset_init(&fx.ts);
    fx.probe = peer_open(0);
    return 0;
}

/* Tasks t0..t(n-1) of INFRA_DRIFT, the fuzzer every scripted worker offers. */
static void make_tasks(size_t n)
{
    fx.ts.v = cfo_xcalloc(n, sizeof *fx.ts.v);
    fx.ts.cap = n;
    for (size_t i = 0; i < n; i++) {
        cfo_task *t = &fx.ts.v[fx.ts.n++];
        t->id = i;
        t->fuzzer = &cfg->fuzzers[i == fx.canary_task ? 0 : 1];
        t->branch = cfo_xstrdup("main");
        t->commit = cfo_xstrdup(SHA);
        t->target = cfo_xasprintf("t%zu", i);
        t->timeout_ms = TASK_TIMEOUT_MS;
    }
    fx.out = cfo_xcalloc(n, sizeof *fx.out);
}

static void *sched_main(void *arg)
{
    (void)arg;
    cfo_sched_run(&fx.ts, &fx.opts, fx.out, &fx.stats);
    char c = 1;
    ssize_t rc = write(fx.ended[1], &c, 1);
    (void)rc;
    return NULL;
}

/* Starts the scheduler on n tasks. The budget is only a safety bound: every
 * test ends its run by finishing the tasks. */
/* start()'s prefetch for the default: one per slot, for short tasks. */
#define PREFETCH_AUTO UINT32_MAX

static void start(size_t n, int64_t heartbeat_ms, uint32_t prefetch)
{
    make_tasks(n);
    fx.opts = (cfo_sched_opts){
        .sockets = {fx.router},
        .nsockets = 1,
        .name = "test_sched",
        .run_id = "run-1",
        .budget_ms = 120000,
        .heartbeat_ms = heartbeat_ms,
        .grace_ms = 100,
        .prefetch = prefetch == PREFETCH_AUTO ? 0 : prefetch,
        .prefetch_auto = prefetch == PREFETCH_AUTO,
        .stop = &fx.stop,
    };
    assert_int_equal(pthread_create(&fx.thread, NULL, sched_main, NULL), 0);
    fx.running = true;
}

/* Waits for cfo_sched_run to return (bounded) and joins its thread. */
static void wait_run_end(int64_t timeout_ms)
{
    struct pollfd pfd = {.fd = fx.ended[0], .events = POLLIN};
    int rc;
    do
        rc = poll(&pfd, 1, (int)timeout_ms);
    while (rc < 0);
    assert_int_equal(rc, 1);
    assert_int_equal(pthread_join(fx.thread, NULL), 0);
    fx.running = false;
}

static int teardown(void **state)
{
    (void)state;
    /* Peers first: a scheduler stopped mid-test then finds its workers gone
     * and does not wait for their results. */
    for (int i = 0; i < fx.npeers; i++)
        zmq_close(fx.peers[i].sock);
    if (fx.running) {
        fx.stop = 1;
        struct pollfd pfd = {.fd = fx.ended[0], .events = POLLIN};
        if (poll(&pfd, 1, 60000) == 1)
            pthread_join(fx.thread, NULL);
        else
            fprintf(stderr, "the scheduler did not stop\n");
    }
    zmq_close(fx.router);
    zmq_ctx_term(fx.ctx);
    for (size_t i = 0; i < fx.ts.n && fx.out != NULL; i++)
        cfo_outcome_fini(&fx.out[i]);
    free(fx.out);
    cfo_taskset_fini(&fx.ts);
    close(fx.ended[0]);
    close(fx.ended[1]);
    return 0;
}

/* ---- speaking the protocol ---- */

static void peer_send(peer *p, const cfo_msg *m)
{
    cfo_diag d = {{0}};
    if (cfo_wire_send(p->sock, NULL, 0, m, &d) != CFO_OK)
        fail_msg("sending %s: %s", cfo_msg_type_name(m->type), d.msg);
    p->last_sent = cfo_now_ms();
}

static void peer_hello(peer *p, const char *id, uint32_t slots, const cfo_msg_pending *pending,
                       size_t npending)
{
    cfo_msg m = {.type = CFO_MSG_HELLO,
                 .u.hello = {.worker_id = (char *)id,
                             .slots = slots,
                             .pending = (cfo_msg_pending *)pending,
                             .npending = npending}};
    cfo_strv_init(&m.u.hello.fuzzers);
    cfo_strv_push(&m.u.hello.fuzzers, cfg->fuzzers[1].name);
    if (fx.canary_task != SIZE_MAX)
        cfo_strv_push(&m.u.hello.fuzzers, cfg->fuzzers[0].name);
    peer_send(p, &m);
    cfo_strv_fini(&m.u.hello.fuzzers);
}

static void peer_simple(peer *p, cfo_msg_type type)
{
    cfo_msg m = {.type = type};
    if (type == CFO_MSG_BYE)
        m.u.reason.reason = "leaving";
    peer_send(p, &m);
}

static void peer_credit(peer *p, uint32_t n)
{
    cfo_msg m = {.type = CFO_MSG_CREDIT, .u.credit = {.n = n}};
    peer_send(p, &m);
}

/* A result whose task took duration_s. */
static void peer_result_took(peer *p, uint64_t task, uint32_t attempt, cfo_status status,
                             const char *summary, double duration_s)
{
    cfo_msg m = {.type = CFO_MSG_RESULT,
                 .u.result = {.task_id = task,
                              .outcome = {.attempt = attempt,
                                          .status = status,
                                          .count = 1,
                                          .findings = status == CFO_STATUS_FAIL,
                                          .duration = duration_s,
                                          .end_wall_ms = cfo_wall_ms(),
                                          .exit_code = status == CFO_STATUS_FAIL,
                                          .command = "cfo-fuzz INFRA_DRIFT x",
                                          .summary = (char *)summary,
                                          .tail = "",
                                          .crashes = ""}}};
    peer_send(p, &m);
}

static void peer_result(peer *p, uint64_t task, uint32_t attempt, cfo_status status,
                        const char *summary)
{
    peer_result_took(p, task, attempt, status, summary, 0.5);
}

/* Receives the next message within timeout_ms (false: none came), sending
 * the peer's heartbeats while it waits. */
static bool peer_recv(peer *p, int64_t timeout_ms, cfo_msg *out)
{
    int64_t until = cfo_now_ms() + timeout_ms;
    for (;;) {
        cfo_wire_in in;
        cfo_diag d = {{0}};
        cfo_err err = cfo_wire_recv(p->sock, false, &in, &d);
        if (err == CFO_OK) {
            *out = in.msg;
            return true;
        }
        if (err != CFO_ENOTFOUND)
            fail_msg("receiving: %s", d.msg);
        int64_t now = cfo_now_ms();
        if (p->hb > 0 && now - p->last_sent >= p->hb)
            peer_simple(p, CFO_MSG_HEARTBEAT);
        if (now >= until)
            return false;
        int64_t wait = until - now;
        if (p->hb > 0 && wait > p->hb / 2)
            wait = p->hb / 2 > 0 ? p->hb / 2 : 1;
        zmq_pollitem_t item = {.socket = p->sock, .events = ZMQ_POLLIN};
        zmq_poll(&item, 1, (long)wait);
    }
}

/* The next message other than a HEARTBEAT must be of type t. */
static void peer_expect(peer *p, cfo_msg_type t, cfo_msg *out)
{
    int64_t until = cfo_now_ms() + WAIT_MS;
    for (;;) {
        int64_t left = until - cfo_now_ms();
        if (left <= 0 || !peer_recv(p, left, out))
            fail_msg("no %s within %d ms", cfo_msg_type_name(t), WAIT_MS);
        if (out->type == t)
            return;
        if (out->type != CFO_MSG_HEARTBEAT) {
            cfo_msg_type got = out->type;
            cfo_msg_fini(out);
            fail_msg("expected %s, got %s", cfo_msg_type_name(t), cfo_msg_type_name(got));
        }
        cfo_msg_fini(out);
    }
}

static void expect_task(peer *p, uint64_t task, uint32_t attempt)
{
    cfo_msg m;
    peer_expect(p, CFO_MSG_TASK, &m);
    uint64_t got_task = m.u.task.task_id;
    uint32_t got_attempt = m.u.task.attempt;
    const cfo_task *t = got_task < fx.ts.n ? &fx.ts.v[got_task] : NULL;
    bool same = t != NULL && strcmp(m.u.task.fuzzer, t->fuzzer->name) == 0 &&
                strcmp(m.u.task.branch, t->branch) == 0 &&
                strcmp(m.u.task.commit, t->commit) == 0 &&
                strcmp(m.u.task.target, t->target) == 0 &&
                m.u.task.timeout_ms == (uint64_t)t->timeout_ms && m.u.task.deadline_ms > 0;
    cfo_msg_fini(&m);
    if (got_task != task || got_attempt != attempt)
        fail_msg("expected TASK %llu attempt %u, got TASK %llu attempt %u",
                 (unsigned long long)task, attempt, (unsigned long long)got_task, got_attempt);
    assert_true(same);
}

static void expect_ref(peer *p, cfo_msg_type type, uint64_t task, uint32_t attempt)
{
    cfo_msg m;
    peer_expect(p, type, &m);
    uint64_t got_task = m.u.ref.task_id;
    uint32_t got_attempt = m.u.ref.attempt;
    cfo_msg_fini(&m);
    if (got_task != task || got_attempt != attempt)
        fail_msg("expected %s %llu/%u, got %llu/%u", cfo_msg_type_name(type),
                 (unsigned long long)task, attempt, (unsigned long long)got_task, got_attempt);
}

static void expect_simple(peer *p, cfo_msg_type type)
{
    cfo_msg m;
    peer_expect(p, type, &m);
    cfo_msg_fini(&m);
}

static void expect_welcome(peer *p, int64_t heartbeat_ms)
{
    cfo_msg m;
    peer_expect(p, CFO_MSG_WELCOME, &m);
    bool ok = strcmp(m.u.welcome.run_id, "run-1") == 0 &&
              m.u.welcome.heartbeat_ms == (uint32_t)heartbeat_ms;
    cfo_msg_fini(&m);
    assert_true(ok);
}

/* Returns once the scheduler's loop has dispatched after reading every
 * message sent before this call. */
static void barrier(void)
{
    for (int i = 0; i < 2; i++) {
        peer_simple(fx.probe, CFO_MSG_HEARTBEAT);
        cfo_msg m;
        peer_expect(fx.probe, CFO_MSG_RESET, &m);
        cfo_msg_fini(&m);
    }
}

/* Nothing but heartbeats is waiting for p (call after barrier()). */
static void expect_quiet(peer *p)
{
    cfo_msg m;
    while (peer_recv(p, 0, &m)) {
        cfo_msg_type got = m.type;
        cfo_msg_fini(&m);
        if (got != CFO_MSG_HEARTBEAT)
            fail_msg("expected nothing, got %s", cfo_msg_type_name(got));
    }
}

static void expect_outcome(size_t t, cfo_status status, uint32_t attempt, const char *worker)
{
    const cfo_outcome *o = &fx.out[t];
    assert_true(o->done);
    if (o->status != status)
        fail_msg("task %zu: expected %s, got %s (%s)", t, cfo_status_name(status),
                 cfo_status_name(o->status), o->summary ? o->summary : "");
    assert_int_equal(o->attempt, attempt);
    if (worker != NULL) {
        assert_non_null(o->worker);
        assert_string_equal(o->worker, worker);
    }
}

/* ---- credit ---- */

static void test_one_slot_holds_one_task(void **state)
{
    (void)state;
    start(3, 1000, 0);
    peer *w = peer_open(250);
    peer_hello(w, "w1", 1, NULL, 0);
    expect_welcome(w, 1000);
    expect_task(w, 0, 1);
    barrier();
    expect_quiet(w);

    /* Claiming more credit than its slots while it holds a task gets it
     * nothing more. */
    peer_credit(w, 5);
    barrier();
    expect_quiet(w);

    /* The task ends: one more, and again no more than one. */
    peer_result(w, 0, 1, CFO_STATUS_PASS, "passed");
    expect_ref(w, CFO_MSG_ACK, 0, 1);
    peer_credit(w, 1);
    expect_task(w, 1, 1);
    peer_credit(w, 3);
    barrier();
    expect_quiet(w);

    peer_result(w, 1, 1, CFO_STATUS_PASS, "passed");
    expect_ref(w, CFO_MSG_ACK, 1, 1);
    peer_credit(w, 1);
    expect_task(w, 2, 1);
    peer_result(w, 2, 1, CFO_STATUS_FAIL, "found one");
    expect_ref(w, CFO_MSG_ACK, 2, 1);
    expect_simple(w, CFO_MSG_BYE);
    wait_run_end(WAIT_MS);

    expect_outcome(0, CFO_STATUS_PASS, 1, "w1");
    expect_outcome(1, CFO_STATUS_PASS, 1, "w1");
    expect_outcome(2, CFO_STATUS_FAIL, 1, "w1");
    assert_int_equal(fx.stats.workers_seen, 1);
    assert_int_equal(fx.stats.requeued, 0);
    assert_int_equal(fx.stats.sessions_dropped, 0);
}

static void test_slots_plus_prefetch_and_no_more(void **state)
{
    (void)state;
    start(6, 1000, 1);
    peer *w = peer_open(250);
    peer_hello(w, "w1", 2, NULL, 0);
    expect_welcome(w, 1000);
    for (uint64_t t = 0; t < 3; t++)
        expect_task(w, t, 1);
    barrier();
    expect_quiet(w);

    peer_credit(w, 100);
    barrier();
    expect_quiet(w);

    /* Each task that ends makes room for exactly one. */
    for (uint64_t t = 0; t < 6; t++) {
        peer_result(w, t, 1, CFO_STATUS_PASS, "passed");
        expect_ref(w, CFO_MSG_ACK, t, 1);
        peer_credit(w, 1);
        if (t + 3 < 6) {
            expect_task(w, t + 3, 1);
            barrier();
            expect_quiet(w);
        }
    }
    expect_simple(w, CFO_MSG_BYE);
    wait_run_end(WAIT_MS);
    for (size_t t = 0; t < 6; t++)
        expect_outcome(t, CFO_STATUS_PASS, 1, "w1");
}

/* The default prefetch: nothing beyond a worker's slots until this run's
 * results say the fuzzer's tasks are short (under 50 ms on average),
 * then one task per slot waits there, never more, and only while more
 * tasks are queued than the workers have slots. */
static void test_default_prefetch_only_for_short_tasks_and_not_at_the_end(void **state)
{
    (void)state;
    start(12, 1000, PREFETCH_AUTO);
    peer *w = peer_open(250);
    peer_hello(w, "w1", 2, NULL, 0);
    expect_welcome(w, 1000);
    expect_task(w, 0, 1);
    expect_task(w, 1, 1);
    barrier();
    expect_quiet(w); /* nothing known of the tasks yet */

    /* Mean 100 ms, then 50.5 ms: long, so each result makes room for one. */
    const double took[] = {0.1, 0.001};
    for (uint64_t t = 0; t < 2; t++) {
        peer_result_took(w, t, 1, CFO_STATUS_PASS, "passed", took[t]);
        expect_ref(w, CFO_MSG_ACK, t, 1);
        peer_credit(w, 1);
        expect_task(w, t + 2, 1);
        barrier();
        expect_quiet(w);
    }
    /* Mean 34 ms: short. One more runs, and one per slot waits. */
    peer_result_took(w, 2, 1, CFO_STATUS_PASS, "passed", 0.001);
    expect_ref(w, CFO_MSG_ACK, 2, 1);
    peer_credit(w, 1);
    for (uint64_t t = 4; t < 7; t++)
        expect_task(w, t, 1);
    peer_credit(w, 100);
    barrier();
    expect_quiet(w);

    /* Each result makes room for one while more than 2 are queued; with 2
     * left, the worker gets nothing beyond its slots. */
    const int64_t next[12] = {[3] = 7, [4] = 8, [5] = 9, [8] = 10, [9] = 11};
    for (uint64_t t = 3; t < 12; t++) {
        peer_result_took(w, t, 1, CFO_STATUS_PASS, "passed", 0.001);
        expect_ref(w, CFO_MSG_ACK, t, 1);
        peer_credit(w, 1);
        if (next[t] > 0)
            expect_task(w, (uint64_t)next[t], 1);
        if (t < 11) {
            barrier();
            expect_quiet(w);
        }
    }
    expect_simple(w, CFO_MSG_BYE);
    wait_run_end(WAIT_MS);
    for (size_t t = 0; t < 12; t++)
        expect_outcome(t, CFO_STATUS_PASS, 1, "w1");
}

/* With the default prefetch a task never waits behind one of a fuzzer not
 * known to run short: task 1, the CANARY's, is not followed by a waiting
 * INFRA_DRIFT task, though those run short; once the CANARY's took long and
 * none of it is left, the INFRA_DRIFT tasks wait behind each other. */
static void test_default_prefetch_never_behind_a_long_task(void **state)
{
    (void)state;
    fx.canary_task = 1;
    start(12, 1000, PREFETCH_AUTO);
    peer *w = peer_open(250);
    peer_hello(w, "w1", 1, NULL, 0);
    expect_welcome(w, 1000);
    expect_task(w, 0, 1);
    peer_result_took(w, 0, 1, CFO_STATUS_PASS, "passed", 0.001);
    expect_ref(w, CFO_MSG_ACK, 0, 1);
    peer_credit(w, 1);
    expect_task(w, 1, 1);
    barrier();
    expect_quiet(w); /* INFRA_DRIFT runs short, but the CANARY is not known to */

    peer_result_took(w, 1, 1, CFO_STATUS_FAIL, "found one", 2.0);
    expect_ref(w, CFO_MSG_ACK, 1, 1);
    peer_credit(w, 1);
    expect_task(w, 2, 1);
    expect_task(w, 3, 1);
    barrier();
    expect_quiet(w);

    const int64_t next[12] = {
        [2] = 4, [3] = 5, [4] = 6, [5] = 7, [6] = 8, [7] = 9, [8] = 10, [10] = 11};
    for (uint64_t t = 2; t < 12; t++) {
        peer_result_took(w, t, 1, CFO_STATUS_PASS, "passed", 0.001);
        expect_ref(w, CFO_MSG_ACK, t, 1);
        peer_credit(w, 1);
        if (next[t] > 0)
            expect_task(w, (uint64_t)next[t], 1);
        if (t < 11) {
            barrier();
            expect_quiet(w);
        }
    }
    expect_simple(w, CFO_MSG_BYE);
    wait_run_end(WAIT_MS);
    expect_outcome(1, CFO_STATUS_FAIL, 1, "w1");
}

/* ---- liveness and requeue ---- */

static void test_silent_worker_dies_and_its_task_goes_to_another(void **state)
{
    (void)state;
    const int64_t hb = 200;
    start(1, hb, 0);
    peer *a = peer_open(0); /* says nothing unless told */
    peer_hello(a, "a", 1, NULL, 0);
    expect_welcome(a, hb);
    expect_task(a, 0, 1);
    int64_t a_last = a->last_sent;

    /* b heartbeats while it waits; a stays silent and is declared dead
     * after more than three intervals. */
    peer *b = peer_open(hb / 3);
    peer_hello(b, "b", 1, NULL, 0);
    expect_welcome(b, hb);
    expect_task(b, 0, 2);
    assert_true(cfo_now_ms() - a_last > CFO_SCHED_LIVENESS * hb);

    /* a's session is gone: what it says now is answered with RESET. */
    peer_result(a, 0, 1, CFO_STATUS_FAIL, "too late");
    expect_simple(a, CFO_MSG_RESET);

    peer_result(b, 0, 2, CFO_STATUS_PASS, "passed");
    expect_ref(b, CFO_MSG_ACK, 0, 2);
    expect_simple(b, CFO_MSG_BYE);
    wait_run_end(WAIT_MS);
    expect_outcome(0, CFO_STATUS_PASS, 2, "b");
    assert_int_equal(fx.stats.requeued, 1);
    assert_int_equal(fx.stats.sessions_dropped, 1);
    assert_int_equal(fx.stats.workers_seen, 2);
}

static void test_task_that_kills_four_workers_is_an_error(void **state)
{
    (void)state;
    const int64_t hb = 200;
    start(1, hb, 0);
    /* Each worker waits (heartbeating) for the task, takes it and falls
     * silent; the next one gets the next attempt. */
    for (uint32_t attempt = 1; attempt <= CFO_SCHED_MAX_ATTEMPTS; attempt++) {
        char id[16];
        snprintf(id, sizeof id, "w%u", attempt);
        peer *w = peer_open(hb / 3);
        peer_hello(w, id, 1, NULL, 0);
        expect_welcome(w, hb);
        expect_task(w, 0, attempt);
    }
    wait_run_end(WAIT_MS);
    expect_outcome(0, CFO_STATUS_ERROR, CFO_SCHED_MAX_ATTEMPTS, NULL);
    assert_int_equal(fx.stats.requeued, CFO_SCHED_MAX_ATTEMPTS - 1);
    assert_int_equal(fx.stats.sessions_dropped, CFO_SCHED_MAX_ATTEMPTS);
}

static void test_heartbeats_keep_a_session_and_strangers_get_reset(void **state)
{
    (void)state;
    const int64_t hb = 200;
    start(1, hb, 0);

    /* A peer without a session is told to say HELLO, whatever it says. */
    peer *stranger = peer_open(0);
    cfo_msg_type said[] = {CFO_MSG_HEARTBEAT, CFO_MSG_CREDIT, CFO_MSG_RESULT};
    for (size_t i = 0; i < sizeof said / sizeof said[0]; i++) {
        if (said[i] == CFO_MSG_CREDIT)
            peer_credit(stranger, 1);
        else if (said[i] == CFO_MSG_RESULT)
            peer_result(stranger, 0, 1, CFO_STATUS_FAIL, "forged");
        else
            peer_simple(stranger, said[i]);
        cfo_msg m;
        peer_expect(stranger, CFO_MSG_RESET, &m);
        cfo_msg_fini(&m);
    }

    /* The worker only answers the scheduler's heartbeats, for well over
     * three intervals, while it holds its task. */
    peer *w = peer_open(0);
    peer_hello(w, "w1", 1, NULL, 0);
    expect_welcome(w, hb);
    expect_task(w, 0, 1);
    int64_t since = cfo_now_ms();
    int beats = 0;
    while (beats < 8 || cfo_now_ms() - since <= 2 * CFO_SCHED_LIVENESS * hb) {
        expect_simple(w, CFO_MSG_HEARTBEAT);
        beats++;
        peer_simple(w, CFO_MSG_HEARTBEAT);
    }
    /* Heartbeats are paced by the interval, not sent on every wake-up. */
    assert_true(cfo_now_ms() - since >= (beats - 1) * hb / 2);

    /* Still its session: the result counts and is acknowledged. */
    peer_result(w, 0, 1, CFO_STATUS_PASS, "passed");
    expect_ref(w, CFO_MSG_ACK, 0, 1);
    expect_simple(w, CFO_MSG_BYE);
    wait_run_end(WAIT_MS);
    expect_outcome(0, CFO_STATUS_PASS, 1, "w1");
    assert_int_equal(fx.stats.requeued, 0);
    assert_int_equal(fx.stats.sessions_dropped, 0);
    assert_int_equal(fx.stats.workers_seen, 1);
}

/* ---- idempotency ---- */

static void test_result_delivered_twice_counts_once(void **state)
{
    (void)state;
    start(2, 1000, 0);
    peer *w = peer_open(250);
    peer_hello(w, "w1", 1, NULL, 0);
    expect_welcome(w, 1000);
    expect_task(w, 0, 1);
    peer_result(w, 0, 1, CFO_STATUS_PASS, "first");
    peer_result(w, 0, 1, CFO_STATUS_FAIL, "again");
    expect_ref(w, CFO_MSG_ACK, 0, 1);
    expect_ref(w, CFO_MSG_ACK, 0, 1);

    /* Counted twice, the run would be over now (BYE instead of a task). */
    peer_credit(w, 1);
    expect_task(w, 1, 1);
    peer_result(w, 0, 1, CFO_STATUS_FAIL, "and again");
    expect_ref(w, CFO_MSG_ACK, 0, 1);

    peer_result(w, 1, 1, CFO_STATUS_PASS, "passed");
    expect_ref(w, CFO_MSG_ACK, 1, 1);
    expect_simple(w, CFO_MSG_BYE);
    wait_run_end(WAIT_MS);
    expect_outcome(0, CFO_STATUS_PASS, 1, "w1");
    assert_string_equal(fx.out[0].summary, "first");
    expect_outcome(1, CFO_STATUS_PASS, 1, "w1");
    assert_int_equal(fx.stats.sessions_dropped, 0);
}

static void test_late_result_of_an_older_attempt_is_discarded(void **state)
{
    (void)state;
    const int64_t hb = 200;
    start(1, hb, 0);
    peer *a = peer_open(0);
    peer_hello(a, "a", 1, NULL, 0);
    expect_welcome(a, hb);
    expect_task(a, 0, 1);
    peer *b = peer_open(hb / 3);
    peer_hello(b, "b", 1, NULL, 0);
    expect_welcome(b, hb);
    expect_task(b, 0, 2); /* a went silent and was declared dead */

    /* a comes back as a session would after RESET: HELLO re-offering its
     * result. Attempt 1 is no longer a's to finish: it is told to cancel,
     * and the result it sends anyway is acknowledged and dropped. */
    peer_simple(a, CFO_MSG_HEARTBEAT);
    expect_simple(a, CFO_MSG_RESET);
    a->hb = hb / 3;
    cfo_msg_pending mine = {.task_id = 0, .attempt = 1};
    peer_hello(a, "a", 1, &mine, 1);
    expect_welcome(a, hb);
    expect_ref(a, CFO_MSG_CANCEL, 0, 1);
    peer_result(a, 0, 1, CFO_STATUS_FAIL, "late");
    expect_ref(a, CFO_MSG_ACK, 0, 1);
    barrier();
    expect_quiet(b); /* b keeps attempt 2: nothing to cancel */

    peer_result(b, 0, 2, CFO_STATUS_PASS, "passed");
    expect_ref(b, CFO_MSG_ACK, 0, 2);
    expect_simple(b, CFO_MSG_BYE);
    expect_simple(a, CFO_MSG_BYE);
    wait_run_end(WAIT_MS);
    expect_outcome(0, CFO_STATUS_PASS, 2, "b");
    assert_string_equal(fx.out[0].summary, "passed");
    assert_int_equal(fx.stats.requeued, 1);
}

/* A HELLO re-offering tasks the scheduler never gave that worker claims
 * nothing: each is cancelled, and the worker gets exactly its credit. */
static void test_hello_cannot_claim_tasks_never_given(void **state)
{
    (void)state;
    start(3, 1000, 0);
    peer *a = peer_open(0);
    cfo_msg_pending made_up[3] = {{0, 1}, {1, 1}, {2, 1}};
    peer_hello(a, "a", 1, made_up, 3);
    expect_welcome(a, 1000);
    for (uint64_t t = 0; t < 3; t++)
        expect_ref(a, CFO_MSG_CANCEL, t, 1);
    /* Its credit (one slot) is what it is given: one task. */
    cfo_msg m;
    peer_expect(a, CFO_MSG_TASK, &m);
    uint64_t first = m.u.task.task_id;
    cfo_msg_fini(&m);
    barrier();
    expect_quiet(a);
    /* A made-up result for a task it does not hold counts for nothing. */
    uint64_t other = first == 0 ? 1 : 0;
    peer_result(a, other, 1, CFO_STATUS_PASS, "made up");
    barrier();
    assert_false(fx.out[other].done);
    fx.stop = 1;
    wait_run_end(WAIT_MS);
}

/* A claim at an absurd attempt neither sticks to the task nor stalls the
 * run: the task is given to an honest worker at an ordinary attempt. */
static void test_hello_cannot_inflate_attempts(void **state)
{
    (void)state;
    start(1, 1000, 0);
    peer *evil = peer_open(0);
    cfo_msg_pending huge = {.task_id = 0, .attempt = CFO_RECORD_MAX_ATTEMPT};
    peer_hello(evil, "evil", 1, &huge, 1);
    expect_welcome(evil, 1000);
    expect_ref(evil, CFO_MSG_CANCEL, 0, CFO_RECORD_MAX_ATTEMPT);
    expect_task(evil, 0, 1);
    peer_simple(evil, CFO_MSG_BYE); /* hands it back */
    peer *honest = peer_open(0);
    peer_hello(honest, "honest", 1, NULL, 0);
    expect_welcome(honest, 1000);
    expect_task(honest, 0, 2);
    peer_result(honest, 0, 2, CFO_STATUS_PASS, "passed");
    expect_ref(honest, CFO_MSG_ACK, 0, 2);
    expect_simple(honest, CFO_MSG_BYE);
    wait_run_end(WAIT_MS);
    expect_outcome(0, CFO_STATUS_PASS, 2, "honest");
}

/* A result whose time the dataset could not write back (year 10000) is
 * refused before it is committed: its sender loses the session and the
 * task runs again elsewhere. */
static void test_result_the_dataset_would_refuse_is_not_committed(void **state)
{
    (void)state;
    start(1, 1000, 0);
    peer *evil = peer_open(0);
    peer_hello(evil, "evil", 1, NULL, 0);
    expect_welcome(evil, 1000);
    expect_task(evil, 0, 1);
    cfo_msg m = {.type = CFO_MSG_RESULT,
                 .u.result = {.task_id = 0,
                              .outcome = {.attempt = 1,
                                          .status = CFO_STATUS_PASS,
                                          .count = 1,
                                          .duration = 0.5,
                                          .end_wall_ms = 253402300800000LL,
                                          .command = "cfo-fuzz INFRA_DRIFT x",
                                          .summary = "from the future",
                                          .tail = "",
                                          .crashes = ""}}};
    peer_send(evil, &m);
    barrier();
    assert_false(fx.out[0].done);
    peer *honest = peer_open(0);
    peer_hello(honest, "honest", 1, NULL, 0);
    expect_welcome(honest, 1000);
    expect_task(honest, 0, 2);
    peer_result(honest, 0, 2, CFO_STATUS_PASS, "passed");
    expect_ref(honest, CFO_MSG_ACK, 0, 2);
    expect_simple(honest, CFO_MSG_BYE);
    wait_run_end(WAIT_MS);
    expect_outcome(0, CFO_STATUS_PASS, 2, "honest");
    assert_true(fx.out[0].end_wall_ms <= CFO_RECORD_MAX_TIME_MS);
}

/* Without keys, a name is bound to the connection holding it: a second
 * HELLO under a live worker's name is told to retry later, and takes
 * nothing from the first. */
static void test_a_live_workers_name_cannot_be_taken(void **state)
{
    (void)state;
    start(1, 1000, 0);
    peer *a = peer_open(0);
    peer_hello(a, "a", 1, NULL, 0);
    expect_welcome(a, 1000);
    expect_task(a, 0, 1);
    peer *thief = peer_open(0);
    cfo_msg_pending claim = {.task_id = 0, .attempt = 1};
    peer_hello(thief, "a", 1, &claim, 1);
    cfo_msg m;
    peer_expect(thief, CFO_MSG_BYE, &m);
    bool retry =
        strncmp(m.u.reason.reason, CFO_PROTO_RETRY_LATER, strlen(CFO_PROTO_RETRY_LATER)) == 0;
    cfo_msg_fini(&m);
    assert_true(retry);
    barrier();
    expect_quiet(a); /* nothing of a's was cancelled or re-queued */
    peer_result(a, 0, 1, CFO_STATUS_PASS, "passed");
    expect_ref(a, CFO_MSG_ACK, 0, 1);
    expect_simple(a, CFO_MSG_BYE);
    wait_run_end(WAIT_MS);
    expect_outcome(0, CFO_STATUS_PASS, 1, "a");
    assert_int_equal(fx.stats.requeued, 0);
}

/* A task a leaving worker hands back keeps its attempt, and goes to
 * another worker: never back to the one that is leaving. */
static void test_a_handed_back_task_keeps_its_attempt_for_another_worker(void **state)
{
    (void)state;
    start(1, 1000, 0);
    peer *a = peer_open(0);
    peer_hello(a, "a", 1, NULL, 0);
    expect_welcome(a, 1000);
    expect_task(a, 0, 1);
    peer_result(a, 0, 1, CFO_STATUS_CANCELLED, "cancelled: the worker is leaving");
    expect_ref(a, CFO_MSG_ACK, 0, 1);
    peer_credit(a, 1);
    barrier();
    expect_quiet(a); /* not given back to the one leaving */
    peer_simple(a, CFO_MSG_BYE);
    peer *b = peer_open(0);
    peer_hello(b, "b", 1, NULL, 0);
    expect_welcome(b, 1000);
    expect_task(b, 0, 1);
    peer_result(b, 0, 1, CFO_STATUS_PASS, "passed");
    expect_ref(b, CFO_MSG_ACK, 0, 1);
    expect_simple(b, CFO_MSG_BYE);
    wait_run_end(WAIT_MS);
    expect_outcome(0, CFO_STATUS_PASS, 1, "b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_slot_holds_one_task, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slots_plus_prefetch_and_no_more, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_default_prefetch_only_for_short_tasks_and_not_at_the_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_prefetch_never_behind_a_long_task, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_silent_worker_dies_and_its_task_goes_to_another, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_task_that_kills_four_workers_is_an_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_heartbeats_keep_a_session_and_strangers_get_reset,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_delivered_twice_counts_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_result_of_an_older_attempt_is_discarded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hello_cannot_claim_tasks_never_given, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hello_cannot_inflate_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_live_workers_name_cannot_be_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_handed_back_task_keeps_its_attempt_for_another_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_the_dataset_would_refuse_is_not_committed,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
