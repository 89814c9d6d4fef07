/* cfo_session.c -- the worker's reactor: one thread owns the DEALER socket;
 * one thread per slot runs queued tasks one after another and reports each
 * end through an eventfd. The held list's links change only on the reactor
 * thread; every state change of a held task happens under the worker's
 * mutex. */
#include "cfo_session.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "cfo_curve.h"
#include "cfo_exec_argv.h"
#include "cfo_exec.h"
#include "cfo_log.h"
#include "cfo_monitor.h"
#include "cfo_proto.h"
#include "cfo_util.h"

/* Bytes of a summary sent: one line for people, far below the wire's cap. */
#define RESULT_SUMMARY_MAX 1023

typedef enum held_state {
    HELD_QUEUED,  /* received, waiting for a free slot */
    HELD_RUNNING, /* its thread runs it */
    HELD_DONE,    /* outcome ready; kept until ACKed */
} held_state;

typedef struct held {
    struct held *next;
    struct worker *wk;
    cfo_msg_task task;
    int64_t deadline; /* absolute, cfo_now_ms() */
    held_state state;
    bool finished; /* set by its slot thread when it ended */
    bool reported; /* the reactor has seen it end */
    atomic_bool cancel;
    bool orphan; /* of a run that is over: drop when it ends */
    cfo_outcome outcome;
} held;

typedef struct worker {
    const cfo_session_opts *o;
    void *sock;
    int efd;
    held *tasks;
    pthread_mutex_t mu; /* guards held states, running, leaving, shutdown */
    pthread_cond_t work;
    pthread_t *slot_threads;
    uint32_t nslot_threads;
    bool shutdown;
    uint32_t running;
    int64_t hb, last_recv, last_sent, reconnect_at, backoff;
    bool connected;            /* WELCOME seen on this connection */
    bool leaving;              /* BYE received or stop requested: finish and exit */
    char *run_id;              /* of the last WELCOME */
    size_t nheld;              /* entries in tasks */
    cfo_monitor *mon;          /* the connection's events */
    cfo_conn_event last_event; /* the last one said, so each is said once */
    const char *why;           /* why no coordinator has accepted us, for the log */
    bool ever_welcomed;
    bool run_over;        /* the coordinator said so: this run's worktrees are the ones to keep */
    cfo_strv run_commits; /* of this run's tasks, each once; reactor thread only */
    int64_t started;
    /* Warnings about what the coordinator sent, limited per window. */
    int64_t warn_window;
    unsigned warned, suppressed;
} worker;

/* Warnings about the coordinator: at most WARN_PER_WINDOW a window. */
#define WARN_WINDOW_MS 10000
#define WARN_PER_WINDOW 5

/* Commits of one run's tasks the worker remembers, to keep their worktrees. */
#define RUN_COMMITS_MAX 1024

/* A slot: takes the next queued task the moment its last one ended, so a
 * slot never waits for the reactor (nor the reactor for the coordinator)
 * between tasks the worker already holds. */
static void *slot_main(void *arg)
{
    worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        held *h = NULL;
        while (!w->shutdown) {
            for (held *c = w->tasks; c != NULL && !w->leaving; c = c->next) {
                if (c->state == HELD_QUEUED && !c->orphan) {
                    h = c;
                    break;
                }
            }
            if (h != NULL)
                break;
            pthread_cond_wait(&w->work, &w->mu);
        }
        if (h == NULL)
            break;
        h->state = HELD_RUNNING;
        w->running++;
        pthread_mutex_unlock(&w->mu);
        cfo_task_execute(w->o->env, &h->task, h->deadline, &h->cancel, &h->outcome);
        pthread_mutex_lock(&w->mu);
        h->finished = true;
        uint64_t one = 1;
        /* The eventfd counter cannot overflow with one write per task. */
        ssize_t rc = write(w->efd, &one, sizeof one);
        (void)rc;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static bool send_msg(worker *w, const cfo_msg *m)
{
    if (w->sock == NULL)
        return false;
    cfo_diag d = {{0}};
    if (cfo_wire_send(w->sock, NULL, 0, m, &d) != CFO_OK) {
        cfo_debug("send %s: %s", cfo_msg_type_name(m->type), d.msg);
        return false;
    }
    w->last_sent = cfo_now_ms();
    return true;
}

/* Cuts what the wire does not allow, in place: strings longer than it
 * carries are cut and the output's end is kept, never refused. Cutting
 * again changes nothing, so a result sent again is sent the same. */
static void fit_to_wire(cfo_outcome *o)
{
    if (o->summary != NULL && strlen(o->summary) > RESULT_SUMMARY_MAX)
        o->summary[RESULT_SUMMARY_MAX] = '\0';
    if (o->command != NULL && strlen(o->command) > CFO_PROTO_MAX_STRING - 1)
        o->command[CFO_PROTO_MAX_STRING - 1] = '\0';
    size_t n = o->tail != NULL ? strlen(o->tail) : 0;
    if (n > CFO_PROTO_MAX_TAIL)
        memmove(o->tail, o->tail + n - CFO_PROTO_MAX_TAIL, CFO_PROTO_MAX_TAIL + 1);
    if (o->exit_code < -1 || o->exit_code > 255)
        o->exit_code = -1;
}

static void send_result(worker *w, held *h)
{
    cfo_outcome *o = &h->outcome;
    o->attempt = h->task.attempt;
    fit_to_wire(o);
    /* The message borrows the held outcome, which stays until ACKed. */
    cfo_msg m = {.type = CFO_MSG_RESULT,
                 .u.result = {.task_id = h->task.task_id,
                              .outcome = *o,
                              .tail_len = o->tail != NULL ? strlen(o->tail) : 0}};
    send_msg(w, &m);
}

/* A result, then the slot it frees: every result gives its credit back,
 * one sent again after a WELCOME too (the new session counted the task
 * against its credit if it claimed it; one it did not claim is capped). */
static void report(worker *w, held *h)
{
    send_result(w, h);
    cfo_msg credit = {.type = CFO_MSG_CREDIT, .u.credit = {.n = 1}};
    send_msg(w, &credit);
}

static void start_ready(worker *w)
{
    pthread_cond_broadcast(&w->work);
}

static void free_held(held *h)
{
    cfo_outcome_fini(&h->outcome);
    cfo_free_all(h->task.fuzzer, h->task.branch, h->task.commit, h->task.target, h);
}

/* A warning about the coordinator, at most WARN_PER_WINDOW in a window:
 * a flood of bad frames must not become a flood of log lines. */
static void warn_window_end(worker *w, int64_t now)
{
    if (now - w->warn_window < WARN_WINDOW_MS)
        return;
    if (w->suppressed > 0)
        cfo_warn("%u more warnings about the coordinator were left out", w->suppressed);
    w->warn_window = now;
    w->warned = w->suppressed = 0;
}

static void warn_limited(worker *w, const char *fmt, const char *arg)
{
    warn_window_end(w, cfo_now_ms());
    if (w->warned++ < WARN_PER_WINDOW)
        cfo_warn(fmt, arg);
    else
        w->suppressed++;
}

static void remove_held(worker *w, held *gone)
{
    pthread_mutex_lock(&w->mu);
    for (held **p = &w->tasks; *p != NULL; p = &(*p)->next) {
        if (*p == gone) {
            *p = gone->next;
            w->nheld--;
            break;
        }
    }
    pthread_mutex_unlock(&w->mu);
    free_held(gone);
}

static held *find_held(worker *w, uint64_t task, uint32_t attempt)
{
    for (held *h = w->tasks; h != NULL; h = h->next)
        if (h->task.task_id == task && h->task.attempt == attempt && !h->orphan)
            return h;
    return NULL;
}

static void say_hello(worker *w)
{
    size_t n = 0;
    for (held *h = w->tasks; h != NULL; h = h->next)
        n += !h->orphan;
    if (n > CFO_PROTO_MAX_PENDING)
        n = CFO_PROTO_MAX_PENDING;
    cfo_msg_pending *pending = cfo_xcalloc(n + 1, sizeof *pending);
    size_t k = 0;
    for (held *h = w->tasks; h != NULL && k < n; h = h->next)
        if (!h->orphan)
            pending[k++] = (cfo_msg_pending){h->task.task_id, h->task.attempt};
    cfo_msg m = {.type = CFO_MSG_HELLO,
                 .u.hello = {.worker_id = (char *)w->o->worker_id,
                             .slots = w->o->slots,
                             .pending = pending,
                             .npending = k}};
    cfo_strv_init(&m.u.hello.fuzzers);
    for (size_t i = 0; i < w->o->env->config->nfuzzers && i < CFO_PROTO_MAX_FUZZERS; i++)
        cfo_strv_push(&m.u.hello.fuzzers, w->o->env->config->fuzzers[i].name);
    send_msg(w, &m);
    cfo_strv_fini(&m.u.hello.fuzzers);
    free(pending);
    w->connected = false;
}

static void close_socket(worker *w);

static void open_socket(worker *w)
{
    cfo_diag d = {{0}};
    w->sock = zmq_socket(w->o->zctx, ZMQ_DEALER);
    bool curve_ok = w->sock != NULL && (w->o->curve_secret == NULL ||
                                        cfo_curve_client_setup(w->sock, w->o->curve_secret,
                                                               w->o->server_key, &d) == CFO_OK);
    bool ready = w->sock != NULL && cfo_wire_setup(w->sock, false, &d) == CFO_OK && curve_ok;
    /* Without the monitor only the reasons in the log are lost. */
    cfo_diag md = {{0}};
    if (ready && cfo_monitor_start(w->o->zctx, w->sock, &w->mon, &md) != CFO_OK)
        cfo_warn("%s", md.msg);
    if (!ready || zmq_connect(w->sock, w->o->endpoint) != 0) {
        cfo_warn("cannot connect to %s: %s", w->o->endpoint,
                 d.msg[0] ? d.msg : zmq_strerror(errno));
        close_socket(w);
        return;
    }
    w->last_recv = cfo_now_ms();
    say_hello(w);
}

static void close_socket(worker *w)
{
    cfo_monitor_stop(&w->mon);
    if (w->sock != NULL)
        zmq_close(w->sock);
    w->sock = NULL;
    w->connected = false;
}

/* From now on no slot starts a task. */
static void set_leaving(worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->leaving = true;
    pthread_mutex_unlock(&w->mu);
}

static uint32_t running_now(worker *w)
{
    pthread_mutex_lock(&w->mu);
    uint32_t n = w->running;
    pthread_mutex_unlock(&w->mu);
    return n;
}

static void cancel_all(worker *w)
{
    pthread_mutex_lock(&w->mu);
    for (held *h = w->tasks; h != NULL; h = h->next) {
        if (h->state == HELD_RUNNING) {
            atomic_store(&h->cancel, true);
        } else if (h->state == HELD_QUEUED) {
            cfo_outcome_cancelled(&h->outcome, "cancelled: the worker is leaving");
            h->state = HELD_DONE;
            h->reported = true;
        }
    }
    pthread_mutex_unlock(&w->mu);
}

static void on_welcome(worker *w, const cfo_msg_welcome *m)
{
    w->connected = true;
    w->ever_welcomed = true;
    w->why = NULL;
    w->backoff = 0;
    w->hb = m->heartbeat_ms;
    /* Results of a run that is over are of no use to the new one. */
    if (w->run_id != NULL && strcmp(w->run_id, m->run_id) != 0) {
        pthread_mutex_lock(&w->mu);
        for (held *h = w->tasks; h != NULL; h = h->next) {
            h->orphan = true; /* no slot takes it from now on */
            if (h->state == HELD_RUNNING)
                atomic_store(&h->cancel, true);
        }
        pthread_mutex_unlock(&w->mu);
        /* Only the reactor moves a task on from RUNNING: what is not
         * running now stays as it is and can go. */
        for (held *h = w->tasks, *next; h != NULL; h = next) {
            next = h->next;
            if (h->state != HELD_RUNNING)
                remove_held(w, h);
        }
    }
    if (w->run_id != NULL && strcmp(w->run_id, m->run_id) != 0) {
        cfo_strv_fini(&w->run_commits);
        cfo_strv_init(&w->run_commits);
    }
    free(w->run_id);
    w->run_id = cfo_xstrdup(m->run_id);
    if (!w->o->local)
        cfo_info("connected to %s (run %s)", w->o->endpoint, m->run_id);
    pthread_mutex_lock(&w->mu);
    for (held *h = w->tasks; h != NULL; h = h->next)
        if (h->state == HELD_DONE && !h->orphan)
            report(w, h);
    pthread_mutex_unlock(&w->mu);
}

static void on_task(worker *w, cfo_msg_task *t)
{
    if (w->nheld >= CFO_PROTO_MAX_HELD(w->o->slots)) {
        warn_limited(w, "the coordinator sent %s task beyond this worker's credit; ignored", "a");
        return;
    }
    if (find_held(w, t->task_id, t->attempt) != NULL)
        return; /* delivered twice */
    held *h = cfo_xcalloc(1, sizeof *h);
    h->wk = w;
    h->task = *t;
    memset(t, 0, sizeof *t); /* the strings move to h */
    h->deadline = h->task.deadline_ms ? cfo_now_ms() + (int64_t)h->task.deadline_ms : 0;
    h->state = HELD_QUEUED;
    atomic_init(&h->cancel, false);
    cfo_diag d = {{0}};
    if (cfo_target_validate(h->task.target, &d) != CFO_OK) {
        cfo_outcome_error(&h->outcome, d.msg);
        h->state = HELD_DONE;
        h->reported = true; /* sent right below */
    }
    /* A run has a commit per branch; the cap only bounds what a coordinator
     * that sends more can cost (worktrees left out are made again). */
    if (w->run_commits.n < RUN_COMMITS_MAX && !cfo_strv_contains(&w->run_commits, h->task.commit))
        cfo_strv_push(&w->run_commits, h->task.commit);
    /* Appended, so tasks start in the order they came. */
    pthread_mutex_lock(&w->mu);
    held **tail = &w->tasks;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = h;
    w->nheld++;
    pthread_mutex_unlock(&w->mu);
    if (h->state == HELD_DONE)
        report(w, h);
    start_ready(w);
}

/* Closes the connection and sets when to open a new one, backing off. */
static void reconnect_later(worker *w, int64_t now)
{
    w->backoff = w->backoff ? w->backoff * 2 : 1000;
    if (w->backoff > CFO_SESSION_BACKOFF_MAX_MS)
        w->backoff = CFO_SESSION_BACKOFF_MAX_MS;
    close_socket(w);
    w->reconnect_at = now + w->backoff;
}

/* The coordinator cannot take this worker now (its table is full, its name
 * is held by a live session): try again later rather than leave. */
static void retry_later(worker *w, const char *reason)
{
    reconnect_later(w, cfo_now_ms());
    cfo_warn("the coordinator said: %s; trying again in %llds", reason,
             (long long)(w->backoff / 1000));
}

static void on_message(worker *w, cfo_msg *m)
{
    w->last_recv = cfo_now_ms();
    switch (m->type) {
    case CFO_MSG_WELCOME:
        on_welcome(w, &m->u.welcome);
        break;
    case CFO_MSG_TASK:
        if (!w->connected || w->leaving)
            break;
        on_task(w, &m->u.task);
        break;
    case CFO_MSG_ACK: {
        held *h = find_held(w, m->u.ref.task_id, m->u.ref.attempt);
        pthread_mutex_lock(&w->mu);
        bool done = h != NULL && h->state == HELD_DONE;
        pthread_mutex_unlock(&w->mu);
        if (done)
            remove_held(w, h);
        break;
    }
    case CFO_MSG_CANCEL: {
        held *h = find_held(w, m->u.ref.task_id, m->u.ref.attempt);
        if (h == NULL)
            break;
        pthread_mutex_lock(&w->mu);
        bool queued = h->state == HELD_QUEUED;
        if (h->state == HELD_RUNNING) {
            atomic_store(&h->cancel, true);
        } else if (queued) {
            cfo_outcome_cancelled(&h->outcome, "not started: cancelled by the coordinator");
            h->state = HELD_DONE;
            h->reported = true;
        }
        pthread_mutex_unlock(&w->mu);
        if (queued)
            send_result(w, h);
        break;
    }
    case CFO_MSG_HEARTBEAT:
        break;
    case CFO_MSG_BYE:
        if (strncmp(m->u.reason.reason, CFO_PROTO_RETRY_LATER, strlen(CFO_PROTO_RETRY_LATER)) ==
            0) {
            retry_later(w, m->u.reason.reason);
            break;
        }
        if (!w->o->local)
            cfo_info("the coordinator ended the session: %s", m->u.reason.reason);
        w->run_over = strcmp(m->u.reason.reason, CFO_PROTO_RUN_OVER) == 0;
        set_leaving(w);
        cancel_all(w);
        break;
    case CFO_MSG_RESET:
        cfo_info("the coordinator does not know this session (%s); saying HELLO again",
                 m->u.reason.reason);
        say_hello(w);
        break;
    case CFO_MSG_HELLO:
    case CFO_MSG_CREDIT:
    case CFO_MSG_RESULT:
        warn_limited(w, "ignored a %s from the coordinator", cfo_msg_type_name(m->type));
        break;
    }
}

static void reap_finished(worker *w)
{
    uint64_t count;
    ssize_t rc = read(w->efd, &count, sizeof count);
    (void)rc;
    /* Move what ended to DONE under the lock; report outside it. */
    pthread_mutex_lock(&w->mu);
    for (held *h = w->tasks; h != NULL; h = h->next) {
        if (h->state == HELD_RUNNING && h->finished) {
            h->state = HELD_DONE;
            assert(w->running > 0);
            w->running--;
        }
    }
    pthread_mutex_unlock(&w->mu);
    for (held *h = w->tasks, *next; h != NULL; h = next) {
        next = h->next;
        if (h->state != HELD_DONE || h->reported)
            continue;
        h->reported = true;
        if (h->orphan) {
            remove_held(w, h);
            continue;
        }
        if (w->connected)
            report(w, h);
    }
}

/* Liveness: a coordinator silent for CFO_SESSION_LIVENESS heartbeats is
 * gone; reconnect with backoff. And our own heartbeat when it is due. */
static void keep_alive(worker *w, int64_t now)
{
    if (w->sock != NULL && now - w->last_recv > CFO_SESSION_LIVENESS * w->hb) {
        reconnect_later(w, now);
        if (w->ever_welcomed)
            cfo_warn("the coordinator went silent; reconnecting in %llds",
                     (long long)(w->backoff / 1000));
        else
            cfo_warn("no answer from a coordinator at %s (%s); trying again in %llds",
                     w->o->endpoint, w->why ? w->why : "it said nothing",
                     (long long)(w->backoff / 1000));
        if (w->leaving) /* nobody to report to */
            cancel_all(w);
    }
    if (w->sock == NULL && !w->leaving && now >= w->reconnect_at)
        open_socket(w);
    if (w->sock != NULL && now - w->last_sent >= w->hb) {
        cfo_msg hb = {.type = CFO_MSG_HEARTBEAT};
        send_msg(w, &hb);
    }
}

/* What the coordinator sent, at most 1024 messages a turn so the loop's
 * other duties are not starved. */
static void read_messages(worker *w)
{
    for (int n = 0; n < 1024 && w->sock != NULL; n++) {
        cfo_wire_in in;
        memset(&in, 0, sizeof in);
        cfo_diag d = {{0}};
        cfo_err err = cfo_wire_recv(w->sock, false, &in, &d);
        if (err == CFO_ENOTFOUND)
            break;
        if (err != CFO_OK) {
            warn_limited(w, "ignored a bad message from the coordinator: %s", d.msg);
            continue;
        }
        on_message(w, &in.msg);
        cfo_msg_fini(&in.msg);
    }
}

/* Says what the connection's events mean, each kind once in a row: libzmq
 * retries a connect every few hundred milliseconds. */
static void on_conn_event(worker *w, cfo_conn_event e)
{
    const char *why = NULL;
    switch (e) {
    case CFO_CONN_NONE:
    case CFO_CONN_CONNECTED:
    case CFO_CONN_HANDSHAKE_OK:
        break;
    case CFO_CONN_NOTHING_LISTENING:
        why = "nothing listening there";
        break;
    case CFO_CONN_KEY_REFUSED:
        why = "refused: the coordinator does not accept this key (its --allow-dir lacks our "
              "public key)";
        break;
    case CFO_CONN_HANDSHAKE_FAILED:
        why = "handshake failed: server key mismatch (the coordinator's key is not --server-key), "
              "or one side uses CURVE and the other does not";
        break;
    case CFO_CONN_DISCONNECTED:
        why = "the connection dropped";
        break;
    }
    if (e != w->last_event && why != NULL)
        cfo_warn("%s: %s", w->o->endpoint, why);
    if (e != CFO_CONN_NONE)
        w->last_event = e;
    if (why != NULL && !w->connected)
        w->why = why;
}

/* Waits for the next thing to do (a task ended, a message, a connection
 * event) and does it; false when polling failed. */
static bool poll_once(worker *w)
{
    zmq_pollitem_t items[3] = {
        {.socket = NULL, .fd = w->efd, .events = ZMQ_POLLIN},
        {.socket = w->sock, .events = ZMQ_POLLIN},
        {.socket = w->mon ? cfo_monitor_socket(w->mon) : NULL, .events = ZMQ_POLLIN},
    };
    int n = w->sock == NULL ? 1 : w->mon == NULL ? 2 : 3;
    long wait = (long)(w->hb / 2 < 200 ? w->hb / 2 : 200);
    int rc = zmq_poll(items, n, wait < 1 ? 1 : wait);
    if (rc < 0 && errno != EINTR) {
        cfo_error("zmq_poll: %s", zmq_strerror(errno));
        return false;
    }
    if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
        reap_finished(w);
    if (rc > 0 && n == 3 && (items[2].revents & ZMQ_POLLIN))
        for (cfo_conn_event e; w->mon != NULL && (e = cfo_monitor_next(w->mon)) != CFO_CONN_NONE;)
            on_conn_event(w, e);
    if (rc > 0 && w->sock != NULL && (items[1].revents & ZMQ_POLLIN))
        read_messages(w);
    return true;
}

/* --connect-timeout: no coordinator has accepted us in time. */
static bool gave_up_connecting(worker *w, int64_t now)
{
    if (w->ever_welcomed || w->o->connect_timeout_ms <= 0 ||
        now - w->started < w->o->connect_timeout_ms)
        return false;
    cfo_error("no coordinator at %s accepted this worker within %llds: %s", w->o->endpoint,
              (long long)(w->o->connect_timeout_ms / 1000), w->why ? w->why : "no answer to HELLO");
    return true;
}

int cfo_session_run(const cfo_session_opts *o)
{
    worker w;
    memset(&w, 0, sizeof w);
    w.o = o;
    w.hb = o->heartbeat_ms > 0 ? o->heartbeat_ms : 1000;
    w.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w.efd < 0) {
        cfo_error("eventfd: %s", strerror(errno));
        return 3;
    }
    cfo_strv_init(&w.run_commits);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.work, NULL);
    w.slot_threads = cfo_xcalloc(o->slots, sizeof *w.slot_threads);
    for (uint32_t k = 0; k < o->slots; k++) {
        if (pthread_create(&w.slot_threads[k], NULL, slot_main, &w) != 0) {
            cfo_warn("could start only %u of %u slot threads", k, o->slots);
            break;
        }
        w.nslot_threads++;
    }
    int rc_exit = 0;
    if (w.nslot_threads == 0) {
        cfo_error("cannot start any slot thread");
        rc_exit = 3;
        goto done;
    }
    w.started = cfo_now_ms();
    open_socket(&w);
    if (w.sock == NULL) {
        rc_exit = 3;
        goto done;
    }
    bool stopping = false;
    for (;;) {
        int64_t now = cfo_now_ms();
        if (!stopping && o->stop != NULL && *o->stop) {
            if (running_now(&w) > 0)
                cfo_info("stop requested: cancelling %u running task%s", running_now(&w),
                         cfo_plural(running_now(&w)));
            stopping = true;
            set_leaving(&w);
            cancel_all(&w);
        }
        if (w.leaving && running_now(&w) == 0) {
            /* Report what ended (cancelled tasks included), then leave. */
            if (w.connected && stopping) {
                for (held *h = w.tasks; h != NULL; h = h->next)
                    if (h->state == HELD_DONE && !h->orphan)
                        send_result(&w, h);
                cfo_msg bye = {.type = CFO_MSG_BYE, .u.reason = {.reason = "worker stopping"}};
                send_msg(&w, &bye);
            }
            break;
        }
        if (gave_up_connecting(&w, now)) {
            rc_exit = 3;
            break;
        }
        keep_alive(&w, now);
        /* What a flood left out is said when its window ends, not at the
         * next warning, which may never come. */
        if (w.suppressed > 0)
            warn_window_end(&w, now);
        if (!poll_once(&w))
            break;
    }
    /* Tasks still running (a coordinator that vanished while we left) were
     * cancelled: wait for their process groups to be gone. */
    cancel_all(&w);
    while (running_now(&w) > 0) {
        zmq_pollitem_t item = {.socket = NULL, .fd = w.efd, .events = ZMQ_POLLIN};
        zmq_poll(&item, 1, 200);
        reap_finished(&w);
    }
    cfo_exec_end_adopted();
    /* Once no task runs here: what the next run needs is a worktree of a
     * branch's head, and this run's are the newest this worker knows. A run
     * that gave it no task says nothing about which those are. */
    if (w.run_over && w.run_commits.n > 0)
        cfo_task_retire_worktrees(o->env, &w.run_commits);
done:
    pthread_mutex_lock(&w.mu);
    w.shutdown = true;
    pthread_cond_broadcast(&w.work);
    pthread_mutex_unlock(&w.mu);
    for (uint32_t k = 0; k < w.nslot_threads; k++)
        pthread_join(w.slot_threads[k], NULL);
    free(w.slot_threads);
    for (held *h = w.tasks, *next; h != NULL; h = next) {
        next = h->next;
        free_held(h);
    }
    close_socket(&w);
    close(w.efd);
    free(w.run_id);
    cfo_strv_fini(&w.run_commits);
    pthread_cond_destroy(&w.work);
    pthread_mutex_destroy(&w.mu);
    return rc_exit;
}
