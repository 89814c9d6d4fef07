/* cfo_sched.c -- the coordinator's reactor: one thread, zmq_poll over the
 * ROUTER sockets, the poll timeout set by the next deadline. */
#include "cfo_sched.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <zmq.h>

#include "cfo_coverage.h"
#include "cfo_curve.h"
#include "cfo_journal.h"
#include "cfo_json.h"
#include "cfo_log.h"
#include "cfo_metrics.h"
#include "cfo_progress.h"
#include "cfo_proto.h"
#include "cfo_report.h"
#include "cfo_runner.h"
#include "cfo_sessidx.h"
#include "cfo_util.h"

typedef enum task_state {
    TASK_QUEUED,
    TASK_RUNNING,
    TASK_DONE,
} task_state;

typedef struct stask {
    task_state state;
    uint32_t attempt; /* the current attempt; results of older ones are stale */
    int deaths;       /* workers that died holding it */
    int holder;       /* session index while running, else -1 */
    int fuzzer;       /* index into sched.fuzzers */
    int64_t sent_ms;  /* when its current attempt went out */
} stask;

typedef struct session {
    bool live;
    int sock; /* which of opts->sockets */
    unsigned char rid[256];
    size_t rid_len;
    char *id;     /* the worker's own name */
    char key[64]; /* the CURVE key it authenticated with ("" without CURVE) */
    uint32_t slots, credit;
    size_t held, done, cancelled; /* done: results it sent, cancelled among them */
    bool *can;                    /* per fuzzer index */
    int64_t last_seen, last_sent;
    bool leaving; /* it handed a task back: it is going, give it nothing more */
} session;

/* A connection whose messages are dropped unread for a while: it was
 * refused, or broke the protocol. Honest workers retry on a new connection,
 * so only a flood keeps talking on one, and then costs next to nothing. */
#define HOLD_OFF_MS 1000
#define HOLD_OFF_MAX 256
typedef struct held_off {
    int sock;
    unsigned char rid[256];
    size_t rid_len;
    int64_t until;
} held_off;

/* Queued tasks of one fuzzer, in task order (retries go to the front). */
typedef struct fqueue {
    size_t *v;
    size_t head, len, cap;
} fqueue;

/* What the scheduler keeps per fuzzer. */
typedef struct fuzzer_state {
    fqueue queue;         /* its queued tasks */
    int share;            /* budget_share in percent, 0 for none */
    int64_t used_ms;      /* slot time its ended attempts took */
    int64_t out_n;        /* attempts out now, and the sum of when they */
    int64_t out_sent_sum; /* were sent, so their time so far is O(1) */
    double ran_s;         /* what its results say their tasks took, */
    int64_t ran_n;        /* and how many results: their mean */
} fuzzer_state;

/* With the default prefetch, a worker holds a task beyond each slot only
 * for a fuzzer whose tasks of this run have taken less than this on
 * average: there the round trip to the coordinator between two tasks (a
 * millisecond across a network) is a share of their time worth saving,
 * while a task that waits behind another can keep a free slot elsewhere
 * idle no longer than this. */
#define PREFETCH_SHORT_S 0.05

typedef struct sched {
    const cfo_taskset *ts;
    const cfo_sched_opts *o;
    cfo_outcome *out;
    cfo_sched_stats *stats;
    stask *tasks;
    size_t done;          /* tasks over: finished or cancelled */
    size_t cancelled;     /* of them, cancelled */
    const char **fuzzers; /* distinct fuzzer names of the task set */
    fuzzer_state *fz;     /* per fuzzer of fuzzers[] */
    int nfuzzers;
    session *sessions;
    int nsessions;
    cfo_sessidx by_rid; /* sessions by routing id */
    /* run_start: when the run began (before discovery), on the monotonic
     * clock; the budget and the elapsed time shown both count from it. */
    int64_t hb, start, run_start, deadline, cancel_until;
    bool cancelling;
    char cancel_why[128]; /* why the run is cancelling, for the tasks it stops */
    size_t failed;
    int rr;              /* round-robin start for dispatch */
    size_t ignored;      /* bad messages from peers without a session */
    size_t commits_here; /* results committed by this process */
    /* Re-offers a HELLO may still have answered this second: each costs
     * the coordinator a lookup and a reply, so a flood of HELLOs is told to
     * retry later rather than crowd out the workers' results. */
    double reoffer_tokens;
    int64_t reoffer_refilled;
    held_off *holds;       /* HOLD_OFF_MAX of them */
    size_t dropped_unread; /* messages of held-off connections */
} sched;

/* How often the gauges of --metrics are brought up to date: finer than any
 * scrape interval, coarse enough to cost nothing. */
#define METRICS_EVERY_MS 250

/* ---- queues ---- */

static void fq_grow(fqueue *q)
{
    size_t cap = q->cap ? q->cap * 2 : 64;
    size_t *v = cfo_xmalloc(cap * sizeof *v);
    for (size_t i = 0; i < q->len; i++)
        v[i] = q->v[(q->head + i) % q->cap];
    free(q->v);
    q->v = v;
    q->cap = cap;
    q->head = 0;
}

static void fq_push_back(fqueue *q, size_t t)
{
    if (q->len == q->cap)
        fq_grow(q);
    q->v[(q->head + q->len++) % q->cap] = t;
}

static void fq_push_front(fqueue *q, size_t t)
{
    if (q->len == q->cap)
        fq_grow(q);
    q->head = (q->head + q->cap - 1) % q->cap;
    q->v[q->head] = t;
    q->len++;
}

static size_t fq_pop(fqueue *q)
{
    size_t t = q->v[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return t;
}

/* ---- sending ---- */

/* What worker w may hold at once: its slots, and the prefetch beyond them
 * (by default one per slot, at most as many as --prefetch allows, and used
 * only for short tasks). */
static uint32_t hold_cap(const sched *s, const session *ss)
{
    if (!s->o->prefetch_auto)
        return ss->slots + s->o->prefetch;
    return ss->slots + (ss->slots < CFO_SCHED_PREFETCH_MAX ? ss->slots : CFO_SCHED_PREFETCH_MAX);
}

static bool runs_short(const fuzzer_state *fz)
{
    return fz->ran_n > 0 && fz->ran_s < PREFETCH_SHORT_S * (double)fz->ran_n;
}

/* Whether a task may go to worker ss with all its slots taken, to wait
 * there for one. By default only when every fuzzer it may be running or
 * be sent runs short, so a task never waits behind a long one; and only
 * while more tasks are queued than the workers have slots: near the end of
 * a run a waiting task could start sooner on whichever slot comes free. */
static bool may_prefetch(const sched *s, const session *ss, size_t queued, uint64_t slots)
{
    if (!s->o->prefetch_auto)
        return true;
    if (queued <= slots)
        return false;
    for (int f = 0; f < s->nfuzzers; f++)
        if (ss->can[f] && (s->fz[f].queue.len > 0 || s->fz[f].out_n > 0) && !runs_short(&s->fz[f]))
            return false;
    return true;
}

/* CFO_ENOTFOUND: the worker's connection is gone; CFO_EIO: it cannot take
 * more now. */
static cfo_err send_to(sched *s, int w, const cfo_msg *m)
{
    session *ss = &s->sessions[w];
    cfo_diag d = {{0}};
    cfo_err err = cfo_wire_send(s->o->sockets[ss->sock], ss->rid, ss->rid_len, m, &d);
    if (err != CFO_OK) {
        cfo_debug("send %s to %s: %s", cfo_msg_type_name(m->type), ss->id, d.msg);
        return err;
    }
    ss->last_sent = cfo_now_ms();
    return CFO_OK;
}

static void send_raw(sched *s, int sock, const unsigned char *rid, size_t rid_len, const cfo_msg *m)
{
    cfo_diag d = {{0}};
    if (cfo_wire_send(s->o->sockets[sock], rid, rid_len, m, &d) != CFO_OK)
        cfo_debug("send %s: %s", cfo_msg_type_name(m->type), d.msg);
}

static void send_ref(sched *s, int w, cfo_msg_type type, uint64_t task, uint32_t attempt)
{
    cfo_msg m = {.type = type, .u.ref = {.task_id = task, .attempt = attempt}};
    send_to(s, w, &m);
}

/* ---- task state ---- */

/* Budget-share accounting: an attempt's slot time runs from when it was
 * sent (a prefetched one too: a share errs towards the other fuzzers) to
 * when it ends. */
static void attempt_out(sched *s, size_t t, int64_t now)
{
    stask *k = &s->tasks[t];
    assert(k->state == TASK_QUEUED);
    k->state = TASK_RUNNING;
    k->sent_ms = now;
    s->fz[k->fuzzer].out_n++;
    s->fz[k->fuzzer].out_sent_sum += now;
    if (s->o->metrics != NULL)
        cfo_metrics_attempt(s->o->metrics, s->ts->v[t].fuzzer->name);
}

static void attempt_ended(sched *s, size_t t)
{
    stask *k = &s->tasks[t];
    if (k->state != TASK_RUNNING)
        return;
    int64_t now = cfo_now_ms();
    s->fz[k->fuzzer].used_ms += now > k->sent_ms ? now - k->sent_ms : 0;
    s->fz[k->fuzzer].out_n--;
    s->fz[k->fuzzer].out_sent_sum -= k->sent_ms;
    assert(s->fz[k->fuzzer].out_n >= 0);
}

/* One JSON object on stderr for a task starting or ending (--log-format
 * json): the events a CI can follow task by task. */
static void task_event(sched *s, size_t t, const char *event, const char *worker)
{
    if (!s->o->events_json)
        return;
    const cfo_task *task = &s->ts->v[t];
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    cfo_json_time(g, "time", cfo_wall_ms());
    cfo_json_str(g, "event", event);
    cfo_json_str(g, "fuzzer", task->fuzzer->name);
    cfo_json_str(g, "branch", task->branch);
    cfo_json_str(g, "target", task->target);
    cfo_json_int(g, "task", (long long)t);
    cfo_json_int(g, "attempt", s->tasks[t].attempt);
    cfo_json_str(g, "worker", worker ? worker : "");
    if (strcmp(event, "task_end") == 0) {
        cfo_json_str(g, "status", cfo_status_name(s->out[t].status));
        cfo_json_key(g, "duration");
        yajl_gen_double(g, s->out[t].duration);
    }
    yajl_gen_map_close(g);
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    fprintf(stderr, "%.*s\n", (int)len, (const char *)buf);
    fflush(stderr);
    yajl_gen_free(g);
}

/* A GNU parallel joblog line of a task that ran (--joblog). */
static void joblog_line(sched *s, size_t t)
{
    static size_t seq;
    const cfo_outcome *o = &s->out[t];
    if (s->o->joblog == NULL || o->status == CFO_STATUS_CANCELLED)
        return;
    double end = (double)o->end_wall_ms / 1000.0;
    fprintf(s->o->joblog, "%zu\t%s\t%.3f\t%.3f\t0\t0\t%d\t%d\t", ++seq, o->worker ? o->worker : "-",
            end - o->duration, o->duration, o->exit_code < 0 ? -1 : o->exit_code, o->term_signal);
    if (o->command != NULL)
        fprintf(s->o->joblog, "%s\n", o->command);
    else
        fprintf(s->o->joblog, "cfo-fuzz %s %s\n", s->ts->v[t].fuzzer->name, s->ts->v[t].target);
    fflush(s->o->joblog);
}

static void finish(sched *s, size_t t)
{
    assert(s->tasks[t].state != TASK_DONE); /* a task ends once */
    /* A worker's result, not the run giving up on the task. */
    bool committed = s->tasks[t].holder >= 0 && s->out[t].status != CFO_STATUS_CANCELLED;
    if (s->o->metrics != NULL)
        cfo_metrics_task_done(s->o->metrics, s->ts->v[t].fuzzer->name, &s->out[t], committed);
    attempt_ended(s, t);
    s->tasks[t].state = TASK_DONE;
    s->tasks[t].holder = -1;
    s->done++;
    assert(s->done <= s->ts->n);
    cfo_status st = s->out[t].status;
    if (st == CFO_STATUS_CANCELLED)
        s->cancelled++;
    if (st == CFO_STATUS_FAIL || st == CFO_STATUS_TIMEOUT || st == CFO_STATUS_OOM ||
        st == CFO_STATUS_ERROR)
        s->failed++;
    task_event(s, t, "task_end", s->out[t].worker);
    joblog_line(s, t);
}

static void requeue(sched *s, size_t t, bool died)
{
    stask *k = &s->tasks[t];
    assert(k->state == TASK_RUNNING && k->holder >= 0);
    attempt_ended(s, t);
    k->state = TASK_QUEUED;
    k->holder = -1;
    k->attempt++;
    assert(k->attempt > 1); /* attempts only grow */
    if (k->attempt > CFO_RECORD_MAX_ATTEMPT) {
        cfo_outcome_error(&s->out[t], "handed back more often than a record can count");
        s->out[t].attempt = CFO_RECORD_MAX_ATTEMPT;
        finish(s, t);
        return;
    }
    if (died && ++k->deaths >= CFO_SCHED_MAX_ATTEMPTS) {
        char why[160];
        snprintf(why, sizeof why, "the %d workers that ran it died (attempt %u)", k->deaths,
                 k->attempt - 1);
        cfo_outcome_error(&s->out[t], why);
        s->out[t].attempt = k->attempt - 1;
        cfo_warn("%s %s %s: giving up: %s", s->ts->v[t].fuzzer->name, s->ts->v[t].branch,
                 s->ts->v[t].target, why);
        finish(s, t);
        return;
    }
    s->stats->requeued++;
    if (s->cancelling) {
        cfo_outcome_cancelled(&s->out[t], "cancelled: its worker left while the run stopped");
        finish(s, t);
        return;
    }
    k->state = TASK_QUEUED;
    fq_push_front(&s->fz[k->fuzzer].queue, t);
}

/* A task its worker stopped and handed back before leaving: queued again at
 * the same attempt (nothing of it was lost), first in line. */
static void hand_back(sched *s, size_t t)
{
    stask *k = &s->tasks[t];
    assert(k->state == TASK_RUNNING && k->holder >= 0);
    attempt_ended(s, t);
    k->state = TASK_QUEUED;
    k->holder = -1;
    s->stats->requeued++;
    fq_push_front(&s->fz[k->fuzzer].queue, t);
}

#ifndef NDEBUG
/* The tasks running with session w as their holder: what its held counts. */
static size_t held_by(const sched *s, int w)
{
    size_t n = 0;
    for (size_t t = 0; t < s->ts->n; t++)
        n += s->tasks[t].state == TASK_RUNNING && s->tasks[t].holder == w;
    return n;
}
#endif

/* Ends a session: its tasks go back to the queue with their next attempt. */
static void drop_session(sched *s, int w, bool died, const char *why)
{
    session *ss = &s->sessions[w];
    if (!ss->live)
        return;
    assert(held_by(s, w) == ss->held);
    cfo_warn("worker %s %s; %zu task%s go%s back to the queue", ss->id, why, ss->held,
             cfo_plural(ss->held), ss->held == 1 ? "es" : "");
    ss->live = false;
    s->stats->sessions_dropped++;
    for (size_t t = 0; t < s->ts->n; t++)
        if (s->tasks[t].state == TASK_RUNNING && s->tasks[t].holder == w)
            requeue(s, t, died);
    ss->held = 0;
}

/* Whether fuzzer f has taken its budget_share of the run: its share of the
 * budget times the slots of the workers now connected, in slot time. */
static bool share_spent(const sched *s, int f, int64_t now, uint64_t slots)
{
    if (s->fz[f].share <= 0)
        return false;
    int64_t used = s->fz[f].used_ms + s->fz[f].out_n * now - s->fz[f].out_sent_sum;
    double allotted = (double)s->o->budget_ms * (double)slots * s->fz[f].share / 100.0;
    return (double)used >= allotted;
}

/* Journals who was given t at its attempt, so that a restarted coordinator
 * believes only that worker's re-offer of it. */
static void note_given(sched *s, size_t t, const session *ss)
{
    cfo_diag d = {{0}};
    if (s->o->journal != NULL &&
        cfo_journal_give(s->o->journal, t, s->tasks[t].attempt, ss->id, &d) != CFO_OK)
        cfo_warn("%s; a restart will run this task again", d.msg);
}

/* The fuzzer whose queue comes next for a worker: the one whose head comes
 * first in task order, among those it can run, passing over fuzzers that
 * have spent their budget_share while another still has work; -1: none. */
static int next_queue(const sched *s, const session *ss, const bool *spent)
{
    int best = -1;
    bool best_spent = true;
    for (int f = 0; f < s->nfuzzers; f++) {
        const fqueue *q = &s->fz[f].queue;
        if (!ss->can[f] || q->len == 0)
            continue;
        if (best >= 0 && spent[f] && !best_spent)
            continue;
        if (best < 0 || (best_spent && !spent[f]) ||
            q->v[q->head] < s->fz[best].queue.v[s->fz[best].queue.head]) {
            best = f;
            best_spent = spent[f];
        }
    }
    return best;
}

static void dispatch(sched *s)
{
    if (s->cancelling)
        return;
    size_t out = 0, queued = 0;
    uint64_t slots = 0;
    for (int w = 0; w < s->nsessions; w++) {
        out += s->sessions[w].live ? s->sessions[w].held : 0;
        slots += s->sessions[w].live ? s->sessions[w].slots : 0;
    }
    for (int f = 0; f < s->nfuzzers; f++)
        queued += s->fz[f].queue.len;
    int64_t now = cfo_now_ms();
    bool spent[s->nfuzzers > 0 ? s->nfuzzers : 1];
    for (int f = 0; f < s->nfuzzers; f++)
        spent[f] = share_spent(s, f, now, slots);
    for (int k = 0; k < s->nsessions; k++) {
        int w = (s->rr + k) % s->nsessions;
        session *ss = &s->sessions[w];
        while (ss->live && !ss->leaving && ss->credit > 0 &&
               (s->o->max_running == 0 || out < s->o->max_running)) {
            int best = next_queue(s, ss, spent);
            if (best < 0 || (ss->held >= ss->slots && !may_prefetch(s, ss, queued, slots)))
                break;
            size_t t = fq_pop(&s->fz[best].queue);
            queued--;
            if (s->tasks[t].state != TASK_QUEUED)
                continue; /* claimed back by a worker that re-offered it */
            const cfo_task *task = &s->ts->v[t];
            int64_t left = s->deadline - cfo_now_ms();
            cfo_msg m = {.type = CFO_MSG_TASK,
                         .u.task = {
                             .task_id = t,
                             .attempt = s->tasks[t].attempt,
                             .fuzzer = task->fuzzer->name,
                             .branch = task->branch,
                             .commit = task->commit,
                             .target = task->target,
                             .timeout_ms = (uint64_t)task->timeout_ms,
                             .deadline_ms = left > 1 ? (uint64_t)left : 1,
                         }};
            cfo_err sent = send_to(s, w, &m);
            if (sent != CFO_OK) {
                fq_push_front(&s->fz[best].queue, t);
                queued++;
                /* A connection that is gone lost what the worker held, as
                 * a silent worker's did: that counts towards a poison task. */
                bool gone = sent == CFO_ENOTFOUND;
                drop_session(s, w, gone, gone ? "cannot be reached" : "cannot take more messages");
                break;
            }
            attempt_out(s, t, now);
            s->tasks[t].holder = w;
            note_given(s, t, ss);
            task_event(s, t, "task_start", ss->id);
            assert(ss->credit > 0);
            ss->held++;
            ss->credit--;
            /* Credit is never more than the room left under the cap. */
            assert(ss->held <= hold_cap(s, ss));
            out++;
        }
    }
    s->rr = s->nsessions ? (s->rr + 1) % s->nsessions : 0;
}

/* ---- messages ---- */

static bool session_is(void *arg, int w, int sock, const unsigned char *rid, size_t len)
{
    const sched *s = arg;
    if (w >= s->nsessions)
        return false;
    const session *ss = &s->sessions[w];
    return ss->live && ss->sock == sock && ss->rid_len == len && memcmp(ss->rid, rid, len) == 0;
}

static bool session_live(void *arg, int w, int *sock, const unsigned char **rid, size_t *len)
{
    const session *ss = &((sched *)arg)->sessions[w];
    *sock = ss->sock;
    *rid = ss->rid;
    *len = ss->rid_len;
    return ss->live;
}

static int find_session(sched *s, int sock, const unsigned char *rid, size_t len)
{
    return cfo_sessidx_find(&s->by_rid, sock, rid, len, session_is, s);
}

static int new_session(sched *s)
{
    for (int w = 0; w < s->nsessions; w++) {
        if (!s->sessions[w].live) {
            free(s->sessions[w].id);
            free(s->sessions[w].can);
            memset(&s->sessions[w], 0, sizeof s->sessions[w]);
            return w;
        }
    }
    if (s->nsessions == CFO_SCHED_MAX_WORKERS)
        return -1;
    s->sessions = cfo_xrealloc(s->sessions, (size_t)(s->nsessions + 1) * sizeof *s->sessions);
    memset(&s->sessions[s->nsessions], 0, sizeof s->sessions[0]);
    return s->nsessions++;
}

/* Whether a queued task's (attempt a) re-offer by worker w is one a
 * restarted coordinator gave it: the journal says so. */
static bool given_before(const sched *s, size_t t, uint32_t a, const session *ss)
{
    uint32_t given;
    const char *to;
    return s->o->journal != NULL && cfo_journal_given(s->o->journal, t, &given, &to) &&
           given == a && strcmp(to, ss->id) == 0;
}

/* What a worker's HELLO re-offers: results of tasks already done are ACKed;
 * a task counts as still its own only if the coordinator gave it that task
 * at that attempt (its old session, or the journal of a restarted run), and
 * never past its credit (cap); anything else is CANCELed. Returns how many
 * it holds. */
static size_t claim_pending(sched *s, int w, int old, const cfo_msg_hello *h, uint32_t cap)
{
    session *ss = &s->sessions[w];
    size_t claimed = 0;
    for (size_t i = 0; i < h->npending; i++) {
        uint64_t t = h->pending[i].task_id;
        uint32_t a = h->pending[i].attempt;
        if (t >= s->ts->n)
            continue; /* not of this run */
        stask *k = &s->tasks[t];
        bool room = claimed < cap && !s->cancelling;
        if (k->state == TASK_DONE) {
            send_ref(s, w, CFO_MSG_ACK, t, a);
        } else if (room && k->state == TASK_RUNNING && k->attempt == a && old >= 0 &&
                   k->holder == old) {
            k->holder = w;
            ss->held++;
            assert(s->sessions[old].held > 0);
            s->sessions[old].held--;
            claimed++;
        } else if (room && k->state == TASK_QUEUED && given_before(s, t, a, ss)) {
            /* A resumed run claims back what a worker still holds. */
            attempt_out(s, t, cfo_now_ms());
            k->attempt = a;
            k->holder = w;
            ss->held++;
            claimed++;
        } else {
            send_ref(s, w, CFO_MSG_CANCEL, t, a);
        }
    }
    return claimed;
}

/* Drops what the connection sock/rid says for HOLD_OFF_MS. */
static void hold_off(sched *s, int sock, const unsigned char *rid, size_t len)
{
    int64_t now = cfo_now_ms();
    held_off *slot = &s->holds[0];
    for (size_t i = 0; i < HOLD_OFF_MAX; i++) {
        held_off *h = &s->holds[i];
        if (h->sock == sock && h->rid_len == len && memcmp(h->rid, rid, len) == 0) {
            slot = h;
            break;
        }
        if (h->until < slot->until)
            slot = h; /* the oldest (or a free one) unless it is there */
    }
    slot->sock = sock;
    memcpy(slot->rid, rid, len);
    slot->rid_len = len;
    slot->until = now + HOLD_OFF_MS;
}

typedef struct hold_check {
    sched *s;
    int sock;
    bool held;
} hold_check;

static bool is_held_off(void *ctx, const unsigned char *rid, size_t len)
{
    hold_check *hc = ctx;
    int64_t now = cfo_now_ms();
    for (size_t i = 0; i < HOLD_OFF_MAX; i++) {
        const held_off *h = &hc->s->holds[i];
        if (h->until > now && h->sock == hc->sock && h->rid_len == len &&
            memcmp(h->rid, rid, len) == 0)
            return hc->held = true;
    }
    return false;
}

static void refuse(sched *s, int sock, const cfo_wire_in *in, const char *reason)
{
    cfo_msg bye = {.type = CFO_MSG_BYE, .u.reason = {.reason = (char *)reason}};
    send_raw(s, sock, in->routing_id, in->id_len, &bye);
    hold_off(s, sock, in->routing_id, in->id_len);
}

/* Re-offered results answered a second at most (and the burst allowed):
 * far more than honest reconnects need, bounded for a flood. */
#define REOFFERS_PER_S 8192.0

/* Whether h's re-offers may be answered now; takes them from the budget. */
static bool reoffers_affordable(sched *s, const cfo_msg_hello *h)
{
    int64_t now = cfo_now_ms();
    s->reoffer_tokens += (double)(now - s->reoffer_refilled) * REOFFERS_PER_S / 1000.0;
    if (s->reoffer_tokens > REOFFERS_PER_S)
        s->reoffer_tokens = REOFFERS_PER_S;
    s->reoffer_refilled = now;
    if ((double)h->npending > s->reoffer_tokens)
        return false;
    s->reoffer_tokens -= (double)h->npending;
    return true;
}

/* Why a HELLO is refused before it gets a session, or NULL. */
static const char *hello_refusal(sched *s, const cfo_msg_hello *h)
{
    if (h->npending > CFO_PROTO_MAX_HELD(h->slots))
        return "more results re-offered than its slots can hold";
    if (h->npending > 0 && !reoffers_affordable(s, h))
        return CFO_PROTO_RETRY_LATER ": busy answering re-offered results";
    return NULL;
}

static void on_hello(sched *s, int sock, const cfo_wire_in *in)
{
    const cfo_msg_hello *h = &in->msg.u.hello;
    int w = find_session(s, sock, in->routing_id, in->id_len);
    /* A second HELLO on a live session starts it over (a worker answers
     * each RESET with one, and may have had several in flight). */
    if (w >= 0)
        drop_session(s, w, false, "said HELLO again");
    if (s->o->zap != NULL && !cfo_zap_allows(s->o->zap, in->user_id)) {
        cfo_warn("refused worker %s: its key is no longer allowed", h->worker_id);
        cfo_msg bye = {.type = CFO_MSG_BYE, .u.reason = {.reason = "key not allowed"}};
        send_raw(s, sock, in->routing_id, in->id_len, &bye);
        return;
    }
    /* A name is bound to what holds it while that session lives: its CURVE
     * key (the same worker on a new connection, proven by its key, replaces
     * its old session and claims back what it holds), or, without keys, its
     * connection (nothing proves another connection is the same worker). */
    int old = -1;
    for (int k = 0; k < s->nsessions; k++)
        if (s->sessions[k].live && strcmp(s->sessions[k].id, h->worker_id) == 0)
            old = k;
    if (old >= 0 &&
        (s->sessions[old].key[0] == '\0' || strcmp(s->sessions[old].key, in->user_id) != 0)) {
        cfo_warn("refused a second worker named %s: a live session holds that name", h->worker_id);
        refuse(s, sock, in, CFO_PROTO_RETRY_LATER ": worker id in use");
        return;
    }
    const char *refusal = hello_refusal(s, h);
    if (refusal != NULL) {
        refuse(s, sock, in, refusal);
        return;
    }
    w = new_session(s);
    if (w < 0) {
        refuse(s, sock, in, CFO_PROTO_RETRY_LATER ": too many workers");
        return;
    }
    session *ss = &s->sessions[w];
    ss->live = true;
    ss->sock = sock;
    memcpy(ss->rid, in->routing_id, in->id_len);
    ss->rid_len = in->id_len;
    cfo_sessidx_put(&s->by_rid, w, sock, ss->rid, ss->rid_len, s->nsessions, session_live, s);
    ss->id = cfo_xstrdup(h->worker_id);
    snprintf(ss->key, sizeof ss->key, "%s", in->user_id);
    ss->slots = h->slots;
    ss->can = cfo_xcalloc((size_t)s->nfuzzers + 1, sizeof *ss->can);
    for (int f = 0; f < s->nfuzzers; f++)
        ss->can[f] = cfo_strv_contains(&h->fuzzers, s->fuzzers[f]);
    ss->last_seen = ss->last_sent = cfo_now_ms();
    s->stats->workers_seen++;

    cfo_msg welcome = {
        .type = CFO_MSG_WELCOME,
        .u.welcome = {.run_id = (char *)s->o->run_id, .heartbeat_ms = (uint32_t)s->hb}};
    send_to(s, w, &welcome);

    uint32_t cap = hold_cap(s, ss);
    size_t claimed = claim_pending(s, w, old, h, cap);
    if (old >= 0)
        drop_session(s, old, false, "reconnected");
    ss->credit = claimed >= cap ? 0 : cap - (uint32_t)claimed;
    if (s->o->local_worker)
        cfo_info("local worker: %u slot%s", ss->slots, cfo_plural(ss->slots));
    else
        cfo_info("worker %s joined: %u slot%s, %zu fuzzer%s, %zu result%s re-offered", ss->id,
                 ss->slots, cfo_plural(ss->slots), h->fuzzers.n, cfo_plural(h->fuzzers.n),
                 h->npending, cfo_plural(h->npending));
}

/* Makes the outcome a worker sent task t's, taking it from r (left empty):
 * its text made safe, its findings list checked again, and what only the
 * coordinator knows (done, who ran it, where its log is) filled in. */
static void take_outcome(sched *s, size_t t, int w, cfo_msg_result *r)
{
    cfo_outcome *o = &s->out[t];
    cfo_outcome_fini(o);
    *o = r->outcome;
    memset(&r->outcome, 0, sizeof r->outcome);
    assert(o->tail != NULL && o->summary != NULL && o->command != NULL); /* decoded: never NULL */
    o->done = true;
    cfo_outcome_tail_to_text(o->tail, r->tail_len);
    cfo_utf8_sanitize(o->summary);
    cfo_utf8_sanitize(o->command);
    /* Written into the dataset as it is: checked again, never trusted. */
    char *claimed = o->crashes;
    o->crashes = cfo_outcome_compact_crashes(claimed);
    free(claimed);
    claimed = o->coverage;
    o->coverage = cfo_coverage_compact(claimed);
    free(claimed);
    o->worker = cfo_xstrdup(s->sessions[w].id);
    const cfo_task *task = &s->ts->v[t];
    if (s->o->logs_dir != NULL)
        o->log_path =
            cfo_task_log_path(s->o->logs_dir, task->fuzzer->name, task->branch, task->target);
}

static void start_cancelling(sched *s, const char *why);

/* Whether task t's new outcome makes a record the dataset's own reader
 * accepts (a time it can read, figures in range): a peer's claim is checked
 * before it is committed, so no worker can make the dataset unreadable. A
 * result that fails costs its sender the session; the task runs again. */
static bool result_readable(sched *s, size_t t, int w)
{
    if (s->out[t].status == CFO_STATUS_CANCELLED)
        return true; /* reported, never merged */
    /* As the record will be made: a result without a command gets the
     * runner's. */
    cfo_outcome_fill_command(&s->out[t], s->ts->v[t].fuzzer->name, s->ts->v[t].target);
    cfo_record rec;
    cfo_task_record(&s->ts->v[t], &s->out[t], s->o->run_id, s->sessions[w].id, &rec);
    cfo_diag d = {{0}};
    if (cfo_record_validate(&rec, &d) == CFO_OK)
        return true;
    cfo_outcome_fini(&s->out[t]);
    char why[sizeof d.msg + 64];
    snprintf(why, sizeof why, "sent a result the dataset would refuse (%s)", d.msg);
    drop_session(s, w, false, why);
    return false;
}

/* Fault injection for the reliability tests: CFO_TEST_CRASH_AFTER_COMMITS=N
 * kills the coordinator right after its Nth result is journaled and before
 * it is acknowledged, the narrowest window a crash can hit. */
static void crash_point(sched *s)
{
    static long after = -1;
    if (after < 0) {
        const char *v = getenv("CFO_TEST_CRASH_AFTER_COMMITS");
        after = v ? strtol(v, NULL, 10) : 0;
    }
    if (after > 0 && ++s->commits_here >= (size_t)after) {
        cfo_error("CFO_TEST_CRASH_AFTER_COMMITS=%ld: crashing between commit and ACK", after);
        _exit(137);
    }
}

static void on_result(sched *s, int w, cfo_msg_result *r)
{
    uint32_t attempt = r->outcome.attempt;
    session *ss = &s->sessions[w];
    if (r->task_id >= s->ts->n) {
        drop_session(s, w, false, "sent a result for a task that does not exist");
        return;
    }
    size_t t = (size_t)r->task_id;
    stask *k = &s->tasks[t];
    if (k->state == TASK_DONE || attempt < k->attempt) {
        /* Delivered again, or an attempt given up on: counted once, or not at
         * all; the worker may forget it. */
        send_ref(s, w, CFO_MSG_ACK, r->task_id, attempt);
        return;
    }
    if (attempt > k->attempt || k->state != TASK_RUNNING || k->holder != w) {
        drop_session(s, w, false, "sent a result for a task it does not hold");
        return;
    }
    cfo_status status = r->outcome.status;
    if (status == CFO_STATUS_CANCELLED && !s->cancelling) {
        /* Stopped by its worker (leaving), not by the run: not a result. */
        send_ref(s, w, CFO_MSG_ACK, r->task_id, attempt);
        assert(ss->held > 0);
        ss->held--;
        cfo_info("worker %s gave back %s %s; it goes back to the queue", ss->id,
                 s->ts->v[t].fuzzer->name, s->ts->v[t].target);
        /* Handed back whole, by a worker that is leaving: the same attempt,
         * for another worker. */
        ss->leaving = true;
        hand_back(s, t);
        return;
    }
    take_outcome(s, t, w, r);
    if (status == CFO_STATUS_CANCELLED) {
        /* The worker knows it was stopped; the run knows why. */
        free(s->out[t].summary);
        s->out[t].summary = cfo_xasprintf("cancelled while running: %s", s->cancel_why);
    }
    if (!result_readable(s, t, w))
        return;
    /* A cancellation is no result: a resumed run runs the task again. */
    if (s->o->journal != NULL && status != CFO_STATUS_CANCELLED) {
        cfo_diag d = {{0}};
        if (cfo_journal_commit(s->o->journal, t, &s->out[t], &d) != CFO_OK) {
            /* Unacknowledged, the worker keeps it; the run cannot go on
             * promising durability it does not have. */
            cfo_error("%s", d.msg);
            cfo_outcome_fini(&s->out[t]);
            s->stats->journal_failed = true;
            if (!s->cancelling)
                start_cancelling(s, "the journal cannot be written");
            return;
        }
        crash_point(s);
    }
    assert(ss->held > 0);
    ss->held--;
    ss->done++;
    ss->cancelled += status == CFO_STATUS_CANCELLED;
    /* How long its tasks take; an error may end one before it did anything. */
    if (status != CFO_STATUS_CANCELLED && status != CFO_STATUS_ERROR) {
        fuzzer_state *fz = &s->fz[s->tasks[t].fuzzer];
        fz->ran_s += s->out[t].duration;
        fz->ran_n++;
    }
    finish(s, t);
    send_ref(s, w, CFO_MSG_ACK, r->task_id, attempt);
}

static void on_message(sched *s, int sock, cfo_wire_in *in)
{
    int w = find_session(s, sock, in->routing_id, in->id_len);
    cfo_msg_type type = in->msg.type;
    if (type == CFO_MSG_HELLO) {
        on_hello(s, sock, in);
        return;
    }
    if (w < 0) {
        /* A worker we do not know (we restarted, or declared it dead). */
        if (type != CFO_MSG_BYE) {
            cfo_msg reset = {.type = CFO_MSG_RESET, .u.reason = {.reason = "unknown session"}};
            send_raw(s, sock, in->routing_id, in->id_len, &reset);
        }
        return;
    }
    session *ss = &s->sessions[w];
    if (strcmp(ss->key, in->user_id) != 0) {
        drop_session(s, w, false, "spoke with another key than its own");
        return;
    }
    ss->last_seen = cfo_now_ms();
    switch (type) {
    case CFO_MSG_RESULT:
        on_result(s, w, &in->msg.u.result);
        break;
    case CFO_MSG_CREDIT: {
        uint32_t cap = hold_cap(s, ss);
        uint64_t credit = (uint64_t)ss->credit + in->msg.u.credit.n;
        ss->credit = credit + ss->held > cap ? (cap > ss->held ? cap - (uint32_t)ss->held : 0)
                                             : (uint32_t)credit;
        break;
    }
    case CFO_MSG_HEARTBEAT:
        break;
    case CFO_MSG_BYE:
        drop_session(s, w, false, "left");
        break;
    case CFO_MSG_HELLO:
    case CFO_MSG_WELCOME:
    case CFO_MSG_TASK:
    case CFO_MSG_ACK:
    case CFO_MSG_CANCEL:
    case CFO_MSG_RESET:
        drop_session(s, w, false, "sent a message only a coordinator sends");
        break;
    }
}

static void drain(sched *s, int sock)
{
    /* Bounded per wake-up, so one flooding peer cannot starve timers. */
    for (int n = 0; n < 4096; n++) {
        cfo_wire_in in;
        memset(&in, 0, sizeof in);
        cfo_diag d = {{0}};
        hold_check hc = {.s = s, .sock = sock};
        cfo_err err = cfo_wire_recv_unless(s->o->sockets[sock], true, is_held_off, &hc, &in, &d);
        if (err == CFO_ENOTFOUND)
            return;
        if (hc.held) {
            s->dropped_unread++;
            continue;
        }
        if (err != CFO_OK) {
            int w = in.id_len ? find_session(s, sock, in.routing_id, in.id_len) : -1;
            if (w >= 0) {
                char why[1100];
                snprintf(why, sizeof why, "sent a bad message (%s)", d.msg);
                drop_session(s, w, false, why);
                refuse(s, sock, &in, "protocol violation");
            } else if (s->ignored++ < 10 || s->ignored % 1000 == 0) {
                /* Bounded: a hostile peer must not be able to fill the log. */
                cfo_warn("ignored a bad message from an unknown peer (%zu so far): %s", s->ignored,
                         d.msg);
            }
            continue;
        }
        on_message(s, sock, &in);
        cfo_msg_fini(&in.msg);
    }
}

/* Re-reads the allow-dir; sessions whose key left it end now. */
static void reload_keys(sched *s)
{
    size_t count = 0;
    cfo_diag d = {{0}};
    if (cfo_zap_reload(s->o->zap, &count, &d) != CFO_OK)
        cfo_warn("SIGHUP: %s: every worker key is revoked", d.msg);
    else if (count == 0)
        cfo_warn("SIGHUP: the allow-dir holds no key: every worker key is revoked");
    else
        cfo_info("SIGHUP: %zu worker key%s allowed now", count, cfo_plural(count));
    for (int w = 0; w < s->nsessions; w++) {
        session *ss = &s->sessions[w];
        if (!ss->live || cfo_zap_allows(s->o->zap, ss->key))
            continue;
        cfo_msg bye = {.type = CFO_MSG_BYE, .u.reason = {.reason = "key no longer allowed"}};
        send_to(s, w, &bye);
        drop_session(s, w, false, "lost its key's permission");
    }
}

/* ---- timers ---- */

static void check_peers(sched *s, int64_t now)
{
    for (int w = 0; w < s->nsessions; w++) {
        session *ss = &s->sessions[w];
        if (!ss->live)
            continue;
        if (now - ss->last_seen > CFO_SCHED_LIVENESS * s->hb) {
            drop_session(s, w, true, "went silent");
            continue;
        }
        if (now - ss->last_sent >= s->hb) {
            cfo_msg hb = {.type = CFO_MSG_HEARTBEAT};
            send_to(s, w, &hb);
        }
    }
}

static void start_cancelling(sched *s, const char *why)
{
    s->cancelling = true;
    snprintf(s->cancel_why, sizeof s->cancel_why, "%s", why);
    int64_t grace = s->o->grace_ms > 0 ? s->o->grace_ms : 5000;
    /* Long enough for workers to stop their tasks' process groups and
     * report, short enough that a vanished worker does not hold the run. */
    s->cancel_until = cfo_now_ms() + grace + CFO_SCHED_LIVENESS * s->hb + 2000;
    cfo_warn("%s: cancelling the remaining tasks", why);
    for (size_t t = 0; t < s->ts->n; t++) {
        stask *k = &s->tasks[t];
        /* A running task has a live holder. */
        assert(k->state != TASK_RUNNING || (k->holder >= 0 && s->sessions[k->holder].live));
        if (k->state == TASK_QUEUED) {
            char msg[192];
            snprintf(msg, sizeof msg, "%s: %s",
                     k->attempt > 1 ? "not run again after its worker was lost" : "not started",
                     why);
            cfo_outcome_cancelled(&s->out[t], msg);
            finish(s, t);
        } else if (k->state == TASK_RUNNING && k->holder >= 0) {
            send_ref(s, k->holder, CFO_MSG_CANCEL, t, k->attempt);
        }
    }
    for (int f = 0; f < s->nfuzzers; f++)
        s->fz[f].queue.len = 0;
}

static void give_up_running(sched *s)
{
    for (size_t t = 0; t < s->ts->n; t++) {
        if (s->tasks[t].state != TASK_RUNNING)
            continue;
        cfo_outcome_cancelled(&s->out[t], "cancelled: no result from its worker after the stop");
        finish(s, t);
    }
}

static void print_progress(sched *s, bool final)
{
    if (s->o->progress == NULL)
        return;
    int64_t now = cfo_now_ms();
    cfo_progress_worker *pw = cfo_xcalloc((size_t)s->nsessions + 1, sizeof *pw);
    cfo_progress_snapshot snap = {
        .elapsed_ms = now - s->run_start,
        .budget_left_ms = s->deadline > now ? s->deadline - now : 0,
        .total = s->ts->n,
        .done = s->done - s->cancelled,
        .cancelled = s->cancelled,
        .failed = s->failed,
        .workers = pw,
        .nworkers = (size_t)s->nsessions,
    };
    /* A worker runs at most its slots; what it holds beyond them (prefetched)
     * is still waiting. */
    for (int w = 0; w < s->nsessions; w++) {
        const session *ss = &s->sessions[w];
        size_t busy = ss->held < ss->slots ? ss->held : ss->slots;
        pw[w] = (cfo_progress_worker){
            .id = ss->id, .done = ss->done - ss->cancelled, .busy = busy, .live = ss->live};
        if (ss->live) {
            snap.slots += ss->slots;
            snap.running += busy;
        }
    }
    snap.queued = snap.total - s->done - snap.running;
    cfo_progress p = {.out = s->o->progress,
                      .name = s->o->name,
                      .tty = s->o->progress_tty,
                      .json = s->o->progress_json,
                      .local = s->o->local_worker};
    cfo_progress_print(&p, &snap, final);
    free(pw);
}

/* The gauges of --metrics: workers, slots, the budget, each fuzzer's
 * queued and running tasks. */
static void publish_metrics(sched *s, int64_t now)
{
    if (s->o->metrics == NULL)
        return;
    cfo_metrics_gauges g = {.budget_left_ms = s->deadline > now ? s->deadline - now : 0};
    for (int w = 0; w < s->nsessions; w++) {
        const session *ss = &s->sessions[w];
        if (!ss->live)
            continue;
        g.workers++;
        g.slots += ss->slots;
        g.slots_busy += ss->held < ss->slots ? ss->held : ss->slots;
    }
    cfo_metrics_publish(s->o->metrics, &g);
    for (int f = 0; f < s->nfuzzers; f++)
        cfo_metrics_set_pending(s->o->metrics, s->fuzzers[f], s->fz[f].queue.len,
                                (size_t)s->fz[f].out_n);
}

/* The scheduler's state for ts: every task queued but those a resumed run
 * already committed. */
static void sched_init(sched *s, const cfo_taskset *ts, const cfo_sched_opts *o,
                       cfo_outcome *outcomes, cfo_sched_stats *stats)
{
    memset(s, 0, sizeof *s);
    memset(stats, 0, sizeof *stats);
    s->ts = ts;
    s->o = o;
    s->out = outcomes;
    s->stats = stats;
    s->hb = o->heartbeat_ms > 0 ? o->heartbeat_ms : CFO_SCHED_DEFAULT_HEARTBEAT_MS;
    s->start = cfo_now_ms();
    s->reoffer_tokens = REOFFERS_PER_S;
    s->reoffer_refilled = s->start;
    s->holds = cfo_xcalloc(HOLD_OFF_MAX, sizeof *s->holds);
    cfo_sessidx_init(&s->by_rid, CFO_SCHED_MAX_WORKERS);
    /* A resumed run's budget counts from its first start. */
    int64_t spent = o->started_wall_ms > 0 ? cfo_wall_ms() - o->started_wall_ms : 0;
    s->run_start = s->start - (spent > 0 ? spent : 0);
    s->deadline = s->run_start + o->budget_ms;
    s->tasks = cfo_xcalloc(ts->n + 1, sizeof *s->tasks);
    s->fuzzers = cfo_xcalloc(ts->n + 1, sizeof *s->fuzzers);
    for (size_t t = 0; t < ts->n; t++) {
        const char *name = ts->v[t].fuzzer->name;
        int f = 0;
        while (f < s->nfuzzers && strcmp(s->fuzzers[f], name) != 0)
            f++;
        if (f == s->nfuzzers)
            s->fuzzers[s->nfuzzers++] = name;
        s->tasks[t] = (stask){.state = TASK_QUEUED, .attempt = 1, .holder = -1, .fuzzer = f};
    }
    size_t nf = (size_t)s->nfuzzers + 1;
    s->fz = cfo_xcalloc(nf, sizeof *s->fz);
    for (size_t t = 0; t < ts->n; t++)
        s->fz[s->tasks[t].fuzzer].share = ts->v[t].fuzzer->budget_share;
    for (size_t t = 0; t < ts->n; t++) {
        if (outcomes[t].done) {
            /* Committed before a restart: its result stands. */
            s->tasks[t].state = TASK_DONE;
            s->tasks[t].attempt = outcomes[t].attempt ? outcomes[t].attempt : 1;
            s->done++;
            s->cancelled += outcomes[t].status == CFO_STATUS_CANCELLED;
            continue;
        }
        /* Given out before a restart: a new attempt, so that the old
         * holder's late result counts only if it claims the task back. */
        uint32_t given;
        const char *to;
        if (o->journal != NULL && cfo_journal_given(o->journal, t, &given, &to) &&
            given < CFO_RECORD_MAX_ATTEMPT)
            s->tasks[t].attempt = given + 1;
        fq_push_back(&s->fz[s->tasks[t].fuzzer].queue, t);
    }
}

/* Ends what is still open, says BYE to every live worker, frees s. */
static void sched_fini(sched *s)
{
    /* Whatever is still open is the run's end for it. */
    for (size_t t = 0; t < s->ts->n; t++)
        if (s->tasks[t].state != TASK_DONE)
            cfo_outcome_cancelled(&s->out[t], "cancelled: the run ended before it finished");
    print_progress(s, true);
    publish_metrics(s, cfo_now_ms());
    cfo_msg bye = {.type = CFO_MSG_BYE, .u.reason = {.reason = CFO_PROTO_RUN_OVER}};
    for (int w = 0; w < s->nsessions; w++)
        if (s->sessions[w].live)
            send_to(s, w, &bye);
    for (int w = 0; w < s->nsessions; w++) {
        free(s->sessions[w].id);
        free(s->sessions[w].can);
    }
    free(s->sessions);
    cfo_sessidx_fini(&s->by_rid);
    for (int f = 0; f < s->nfuzzers; f++)
        free(s->fz[f].queue.v);
    cfo_free_all(s->fz, s->holds, s->fuzzers, s->tasks);
}

/* Starts cancelling when the run must stop: a signal, the budget, no
 * worker in time. */
static void check_stop(sched *s, int64_t now)
{
    const cfo_sched_opts *o = s->o;
    if (o->reload != NULL && *o->reload) {
        *o->reload = 0;
        if (o->zap != NULL)
            reload_keys(s);
    }
    if (!s->cancelling && o->stop != NULL && *o->stop)
        start_cancelling(s, "stopped by a signal");
    if (!s->cancelling && now >= s->deadline)
        start_cancelling(s, "the run's budget ended");
    if (!s->cancelling && o->wait_workers_ms > 0 && s->stats->workers_seen == 0 &&
        now - s->start >= o->wait_workers_ms) {
        s->stats->no_worker = true;
        start_cancelling(s, "no worker connected");
    }
}

/* The next thing due: a heartbeat, the deadline, a progress line; at most
 * 200 ms so a stop request is seen promptly. */
static long poll_wait(const sched *s, int64_t now, int64_t next_print)
{
    int64_t wait = 200;
    if (s->hb / 2 < wait)
        wait = s->hb / 2;
    if (next_print - now < wait)
        wait = next_print - now;
    if (!s->cancelling && s->deadline - now < wait)
        wait = s->deadline - now;
    return wait < 1 ? 1 : (long)wait;
}

void cfo_sched_run(const cfo_taskset *ts, const cfo_sched_opts *o, cfo_outcome *outcomes,
                   cfo_sched_stats *stats)
{
    sched s;
    sched_init(&s, ts, o, outcomes, stats);
    int64_t every = o->progress_every_ms > 0 ? o->progress_every_ms : 5000;
    int64_t next_print = s.start + (o->progress_tty ? 0 : every);
    int64_t next_publish = s.start;
    while (s.done < ts->n) {
        int64_t now = cfo_now_ms();
        check_stop(&s, now);
        if (s.cancelling && now >= s.cancel_until) {
            give_up_running(&s);
            break;
        }
        check_peers(&s, now);
        dispatch(&s);
        /* Everything over: the final line says it, once. */
        if (s.done >= ts->n)
            break;
        if (now >= next_print) {
            print_progress(&s, false);
            next_print = now + (o->progress_tty ? 500 : every);
        }
        if (now >= next_publish) {
            publish_metrics(&s, now);
            next_publish = now + METRICS_EVERY_MS;
        }
        zmq_pollitem_t items[2];
        for (int k = 0; k < o->nsockets; k++)
            items[k] = (zmq_pollitem_t){.socket = o->sockets[k], .events = ZMQ_POLLIN};
        int rc = zmq_poll(items, o->nsockets, poll_wait(&s, now, next_print));
        if (rc < 0 && errno != EINTR) {
            cfo_error("zmq_poll: %s", zmq_strerror(errno));
            break;
        }
        for (int k = 0; rc > 0 && k < o->nsockets; k++)
            if (items[k].revents & ZMQ_POLLIN)
                drain(&s, k);
    }
    sched_fini(&s);
}
