/* cfo_loadgen.c -- many simulated cfo-workers in one process, speaking the
 * wire protocol to one cfo-coordinator: each answers every TASK at once with
 * a zero-time RESULT and a CREDIT, and heartbeats when it has said nothing
 * for an interval, as cfo-worker does. A few more "probe" workers declare a
 * fuzzer the run does not have: they get no task, only the coordinator's
 * heartbeats, whose lateness past the interval says how promptly the
 * coordinator's loop serves a worker while the others keep it busy.
 *
 * usage: cfo-loadgen --connect ENDPOINT --workers N --fuzzer NAME
 *                    [--slots S] [--probes P] [--threads T] [--timeout SEC]
 * Prints one JSON object of figures on stdout when every worker was told
 * the run is over (or at the timeout, exit 1). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <time.h>
#include <zmq.h>

#include "cfo_log.h"
#include "cfo_proto.h"

#define MAX_TASK_IDS (1u << 21)

typedef struct sim {
    void *sock;
    char id[48];
    bool probe, over, welcomed;
    int64_t last_sent, last_hb, hello_at;
} sim;

typedef struct samples {
    double *v;
    size_t n, cap;
} samples;

typedef struct thread_ctx {
    pthread_t thread;
    sim *sims;
    size_t nsims;
    uint64_t tasks, acks, refusals, resets;
    int64_t first_task_ms, last_task_ms, last_ack_ms;
    samples hb_late, ack_rtt;
} thread_ctx;

static struct {
    const char *endpoint, *fuzzer;
    long workers, slots, probes, threads, timeout_s;
    int64_t hb_ms;
    void *zctx;
    int64_t *result_sent_us; /* by task id: when its RESULT went out */
    atomic_bool stop;
    /* When the first worker was told the run is over: workers whose HELLO
     * came too late for the run hear nothing, and are given up on 3 s on. */
    _Atomic int64_t over_at;
} g = {.slots = 4, .threads = 2, .timeout_s = 600, .hb_ms = 1000};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void add_sample(samples *s, double x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (s->v == NULL)
            abort();
    }
    s->v[s->n++] = x;
}

static void send_msg(sim *w, const cfo_msg *m)
{
    cfo_diag d = {{0}};
    if (cfo_wire_send(w->sock, NULL, 0, m, &d) != CFO_OK)
        fprintf(stderr, "cfo-loadgen: %s: send %s: %s\n", w->id, cfo_msg_type_name(m->type), d.msg);
    w->last_sent = cfo_now_ms();
}

static void hello(sim *w)
{
    cfo_msg m = {.type = CFO_MSG_HELLO};
    m.u.hello.worker_id = w->id;
    m.u.hello.slots = (uint32_t)g.slots;
    cfo_strv_init(&m.u.hello.fuzzers);
    cfo_strv_push(&m.u.hello.fuzzers, w->probe ? "CFO_LOADGEN_PROBE" : g.fuzzer);
    send_msg(w, &m);
    cfo_strv_fini(&m.u.hello.fuzzers);
    w->hello_at = 0;
}

static void on_task(thread_ctx *t, sim *w, const cfo_msg_task *task)
{
    int64_t wall = cfo_wall_ms();
    if (t->tasks++ == 0)
        t->first_task_ms = wall;
    t->last_task_ms = wall;
    cfo_msg r = {.type = CFO_MSG_RESULT,
                 .u.result = {.task_id = task->task_id,
                              .outcome = {.attempt = task->attempt,
                                          .status = CFO_STATUS_PASS,
                                          .count = 1,
                                          .end_wall_ms = wall,
                                          .command = "cfo-fuzz LOAD t",
                                          .summary = "",
                                          .tail = "",
                                          .crashes = ""}}};
    g.result_sent_us[task->task_id % MAX_TASK_IDS] = now_us();
    send_msg(w, &r);
    cfo_msg credit = {.type = CFO_MSG_CREDIT, .u.credit = {.n = 1}};
    send_msg(w, &credit);
}

static void on_message(thread_ctx *t, sim *w, const cfo_msg *m)
{
    int64_t now = cfo_now_ms();
    switch (m->type) {
    case CFO_MSG_WELCOME:
        w->welcomed = true;
        g.hb_ms = m->u.welcome.heartbeat_ms;
        /* The coordinator's first heartbeat is due an interval after it. */
        w->last_hb = now;
        break;
    case CFO_MSG_TASK:
        on_task(t, w, &m->u.task);
        break;
    case CFO_MSG_ACK: {
        t->acks++;
        t->last_ack_ms = cfo_wall_ms();
        int64_t sent = g.result_sent_us[m->u.ref.task_id % MAX_TASK_IDS];
        if (sent > 0)
            add_sample(&t->ack_rtt, (double)(now_us() - sent) / 1000.0);
        break;
    }
    case CFO_MSG_HEARTBEAT:
        if (w->probe && w->last_hb > 0) {
            double late = (double)(now - w->last_hb - g.hb_ms);
            add_sample(&t->hb_late, late > 0 ? late : 0);
        }
        w->last_hb = now;
        break;
    case CFO_MSG_BYE:
        if (strncmp(m->u.reason.reason, CFO_PROTO_RETRY_LATER, strlen(CFO_PROTO_RETRY_LATER)) ==
            0) {
            /* Not now: say HELLO again a little later, as a worker would. */
            t->refusals++;
            w->hello_at = now + 200;
        } else {
            w->over = true;
            int64_t zero = 0;
            atomic_compare_exchange_strong(&g.over_at, &zero, now);
        }
        break;
    case CFO_MSG_RESET:
        t->resets++;
        hello(w);
        break;
    case CFO_MSG_CANCEL:
    case CFO_MSG_HELLO:
    case CFO_MSG_CREDIT:
    case CFO_MSG_RESULT:
        break;
    }
}

static size_t live(const thread_ctx *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nsims; i++)
        n += !t->sims[i].over;
    return n;
}

/* Heartbeats when due, and HELLOs put off by "retry later". */
static void keep_alive(thread_ctx *t, int64_t now)
{
    for (size_t i = 0; i < t->nsims; i++) {
        sim *w = &t->sims[i];
        if (w->over)
            continue;
        if (w->hello_at > 0 && now >= w->hello_at) {
            hello(w);
            continue;
        }
        if (now - w->last_sent >= g.hb_ms) {
            cfo_msg hb = {.type = CFO_MSG_HEARTBEAT};
            send_msg(w, &hb);
        }
    }
}

/* Reads what is waiting on one worker's socket. ZMQ_FD is edge-triggered:
 * it only says that ZMQ_EVENTS may have changed, and a send can consume the
 * edge, so the socket is read until ZMQ_EVENTS says nothing is left. */
static void serve(thread_ctx *t, sim *w)
{
    for (;;) {
        int events = 0;
        size_t len = sizeof events;
        if (zmq_getsockopt(w->sock, ZMQ_EVENTS, &events, &len) != 0 || !(events & ZMQ_POLLIN))
            return;
        cfo_wire_in in;
        memset(&in, 0, sizeof in);
        cfo_diag d = {{0}};
        cfo_err err = cfo_wire_recv(w->sock, false, &in, &d);
        if (err == CFO_ENOTFOUND)
            continue;
        if (err != CFO_OK) {
            fprintf(stderr, "cfo-loadgen: %s: %s\n", w->id, d.msg);
            continue;
        }
        on_message(t, w, &in.msg);
        cfo_msg_fini(&in.msg);
    }
}

/* One epoll set over the sockets' ZMQ_FDs: a wake-up costs what is ready,
 * not a scan of every socket, so the generator keeps up with the
 * coordinator instead of measuring itself. */
static void *thread_main(void *arg)
{
    thread_ctx *t = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (size_t i = 0; i < t->nsims; i++) {
        int fd;
        size_t len = sizeof fd;
        zmq_getsockopt(t->sims[i].sock, ZMQ_FD, &fd, &len);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        hello(&t->sims[i]);
        serve(t, &t->sims[i]);
    }
    struct epoll_event evs[256];
    int64_t next_keepalive = cfo_now_ms() + 100;
    while (!atomic_load(&g.stop) && live(t) > 0) {
        int n = epoll_wait(ep, evs, 256, 50);
        for (int k = 0; k < n; k++)
            serve(t, &t->sims[evs[k].data.u64]);
        int64_t now = cfo_now_ms();
        int64_t over = atomic_load(&g.over_at);
        if (over > 0 && now > over + 3000)
            break;
        if (now >= next_keepalive) {
            keep_alive(t, now);
            /* What the sends of the keep-alive pass left unread. */
            for (size_t i = 0; i < t->nsims; i++)
                serve(t, &t->sims[i]);
            /* A fifth of the interval: a heartbeat goes out at most that late. */
            next_keepalive = now + (g.hb_ms / 5 < 100 ? g.hb_ms / 5 : 100);
        }
    }
    close(ep);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(samples *s, double p)
{
    if (s->n == 0)
        return -1;
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    size_t k = (size_t)(p * (double)(s->n - 1) + 0.5);
    return s->v[k];
}

static void merge(samples *into, const samples *from)
{
    for (size_t i = 0; i < from->n; i++)
        add_sample(into, from->v[i]);
}

static long arg_long(const char *s, long min)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < min) {
        fprintf(stderr, "cfo-loadgen: '%s' is not a number >= %ld\n", s, min);
        exit(2);
    }
    return v;
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            fprintf(stderr, "cfo-loadgen: %s needs a value\n", a);
            exit(2);
        }
        i++;
        if (strcmp(a, "--connect") == 0)
            g.endpoint = v;
        else if (strcmp(a, "--fuzzer") == 0)
            g.fuzzer = v;
        else if (strcmp(a, "--workers") == 0)
            g.workers = arg_long(v, 1);
        else if (strcmp(a, "--slots") == 0)
            g.slots = arg_long(v, 1);
        else if (strcmp(a, "--probes") == 0)
            g.probes = arg_long(v, 0);
        else if (strcmp(a, "--threads") == 0)
            g.threads = arg_long(v, 1);
        else if (strcmp(a, "--timeout") == 0)
            g.timeout_s = arg_long(v, 1);
        else {
            fprintf(stderr, "cfo-loadgen: unknown option %s\n", a);
            exit(2);
        }
    }
    if (g.endpoint == NULL || g.fuzzer == NULL || g.workers == 0) {
        fprintf(stderr, "usage: cfo-loadgen --connect ENDPOINT --workers N --fuzzer NAME "
                        "[--slots S] [--probes P] [--threads T] [--timeout SEC]\n");
        exit(2);
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    cfo_log_init("cfo-loadgen", CFO_LOG_WARN);
    g.zctx = zmq_ctx_new();
    zmq_ctx_set(g.zctx, ZMQ_IO_THREADS, 1);
    zmq_ctx_set(g.zctx, ZMQ_MAX_SOCKETS, (int)(g.workers + g.probes + 64));
    g.result_sent_us = calloc(MAX_TASK_IDS, sizeof *g.result_sent_us);
    size_t total = (size_t)(g.workers + g.probes);
    sim *sims = calloc(total, sizeof *sims);
    for (size_t i = 0; i < total; i++) {
        sim *w = &sims[i];
        w->probe = i >= (size_t)g.workers;
        snprintf(w->id, sizeof w->id, "%s-%zu", w->probe ? "probe" : "sim", i);
        w->sock = zmq_socket(g.zctx, ZMQ_DEALER);
        cfo_diag d = {{0}};
        if (w->sock == NULL || cfo_wire_setup(w->sock, false, &d) != CFO_OK ||
            zmq_connect(w->sock, g.endpoint) != 0) {
            fprintf(stderr, "cfo-loadgen: socket %zu: %s %s\n", i, d.msg,
                    zmq_strerror(zmq_errno()));
            return 1;
        }
    }
    long nt = g.threads < (long)total ? g.threads : (long)total;
    thread_ctx *ts = calloc((size_t)nt, sizeof *ts);
    int64_t t0 = cfo_wall_ms();
    for (long k = 0; k < nt; k++) {
        /* Workers and probes dealt round-robin, so each thread has both. */
        ts[k].sims = calloc(total, sizeof *ts[k].sims);
        for (size_t i = (size_t)k; i < total; i += (size_t)nt)
            ts[k].sims[ts[k].nsims++] = sims[i];
        pthread_create(&ts[k].thread, NULL, thread_main, &ts[k]);
    }
    int64_t deadline = t0 + g.timeout_s * 1000;
    bool timed_out = false;
    for (long k = 0; k < nt; k++) {
        while (pthread_tryjoin_np(ts[k].thread, NULL) != 0) {
            if (cfo_wall_ms() > deadline) {
                atomic_store(&g.stop, true);
                timed_out = true;
                pthread_join(ts[k].thread, NULL);
                break;
            }
            struct timespec nap = {0, 20 * 1000 * 1000};
            nanosleep(&nap, NULL);
        }
    }
    size_t joined = 0;
    for (long k = 0; k < nt; k++)
        for (size_t i = 0; i < ts[k].nsims; i++)
            joined += ts[k].sims[i].welcomed;
    uint64_t tasks = 0, acks = 0, refusals = 0, resets = 0;
    int64_t first = 0, last = 0, last_task = 0;
    samples late = {0}, rtt = {0};
    for (long k = 0; k < nt; k++) {
        tasks += ts[k].tasks;
        acks += ts[k].acks;
        refusals += ts[k].refusals;
        resets += ts[k].resets;
        if (ts[k].tasks && (first == 0 || ts[k].first_task_ms < first))
            first = ts[k].first_task_ms;
        if (ts[k].last_ack_ms > last)
            last = ts[k].last_ack_ms;
        if (ts[k].last_task_ms > last_task)
            last_task = ts[k].last_task_ms;
        merge(&late, &ts[k].hb_late);
        merge(&rtt, &ts[k].ack_rtt);
    }
    double span = last > first ? (double)(last - first) / 1000.0 : 0;
    printf("{\"workers\": %ld, \"probes\": %ld, \"joined\": %zu, \"slots\": %ld, \"tasks\": %llu, "
           "\"acks\": %llu, "
           "\"span_s\": %.3f, \"committed_per_s\": %.1f, \"dispatched_per_s\": %.1f, "
           "\"heartbeats\": %zu, "
           "\"heartbeat_late_p50_ms\": %.1f, \"heartbeat_late_p99_ms\": %.1f, "
           "\"heartbeat_late_max_ms\": %.1f, \"ack_rtt_p50_ms\": %.3f, \"ack_rtt_p99_ms\": %.3f, "
           "\"refusals\": %llu, \"resets\": %llu, \"timed_out\": %s, ",
           g.workers, g.probes, joined, g.slots, (unsigned long long)tasks,
           (unsigned long long)acks, span, span > 0 ? (double)acks / span : 0,
           last_task > first ? (double)tasks * 1000.0 / (double)(last_task - first) : 0, late.n,
           percentile(&late, 0.5), percentile(&late, 0.99), percentile(&late, 1.0),
           percentile(&rtt, 0.5), percentile(&rtt, 0.99), (unsigned long long)refusals,
           (unsigned long long)resets, timed_out ? "true" : "false");
    /* Every lateness sample, so runs can be pooled for a percentile. */
    printf("\"heartbeat_late_ms\": [");
    for (size_t i = 0; i < late.n; i++)
        printf("%s%.0f", i ? ", " : "", late.v[i]);
    printf("]}\n");
    for (size_t i = 0; i < total; i++)
        zmq_close(sims[i].sock);
    zmq_ctx_term(g.zctx);
    for (long k = 0; k < nt; k++) {
        free(ts[k].sims);
        free(ts[k].hb_late.v);
        free(ts[k].ack_rtt.v);
    }
    free(ts);
    free(sims);
    free(late.v);
    free(rtt.v);
    free(g.result_sent_us);
    return timed_out ? 1 : 0;
}
