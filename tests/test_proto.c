/* test_proto.c -- the wire protocol: round trips, encoder limits, hostile input, mutation, ZeroMQ
 * framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "cfo_proto.h"

#define THIRTY_DAYS_MS (30ULL * 24 * 3600 * 1000)

/* ---- a hand-written msgpack writer, so hostile bytes are built exactly ---- */

static void mp_raw(cfo_buf *b, const void *p, size_t n)
{
    cfo_buf_append(b, p, n);
}

static void mp_byte(cfo_buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    cfo_buf_append(b, &c, 1);
}

static void mp_be(cfo_buf *b, unsigned tag, uint64_t v, int width)
{
    mp_byte(b, tag);
    for (int i = width - 1; i >= 0; i--)
        mp_byte(b, (unsigned)(v >> (8 * i)) & 0xff);
}

static void mp_uint(cfo_buf *b, uint64_t v)
{
    if (v < 0x80)
        mp_byte(b, (unsigned)v);
    else if (v <= 0xff)
        mp_be(b, 0xcc, v, 1);
    else if (v <= 0xffff)
        mp_be(b, 0xcd, v, 2);
    else if (v <= 0xffffffffULL)
        mp_be(b, 0xce, v, 4);
    else
        mp_be(b, 0xcf, v, 8);
}

static void mp_int(cfo_buf *b, int64_t v)
{
    if (v >= 0)
        mp_uint(b, (uint64_t)v);
    else if (v >= -32)
        mp_byte(b, (unsigned)(v & 0xff));
    else
        mp_be(b, 0xd3, (uint64_t)v, 8);
}

static void mp_strn(cfo_buf *b, const char *s, size_t n)
{
    if (n < 32)
        mp_byte(b, 0xa0 | (unsigned)n);
    else if (n <= 0xff)
        mp_be(b, 0xd9, n, 1);
    else if (n <= 0xffff)
        mp_be(b, 0xda, n, 2);
    else
        mp_be(b, 0xdb, n, 4);
    mp_raw(b, s, n);
}

static void mp_str(cfo_buf *b, const char *s)
{
    mp_strn(b, s, strlen(s));
}

static void mp_bin(cfo_buf *b, const void *p, size_t n)
{
    if (n <= 0xff)
        mp_be(b, 0xc4, n, 1);
    else if (n <= 0xffff)
        mp_be(b, 0xc5, n, 2);
    else
        mp_be(b, 0xc6, n, 4);
    mp_raw(b, p, n);
}

static void mp_array(cfo_buf *b, size_t n)
{
    if (n < 16)
        mp_byte(b, 0x90 | (unsigned)n);
    else if (n <= 0xffff)
        mp_be(b, 0xdc, n, 2);
    else
        mp_be(b, 0xdd, n, 4);
}

static void mp_f64(cfo_buf *b, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    mp_be(b, 0xcb, bits, 8);
}

static void mp_f32(cfo_buf *b, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    mp_be(b, 0xca, bits, 4);
}

static char *repeat(char c, size_t n)
{
    char *s = cfo_xmalloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- sample messages ---- */

static const char SHA40[] = "0123456789abcdef0123456789abcdef01234567";
static const char SHA64[] = "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef";

static void set_str(char **p, const char *s)
{
    free(*p);
    *p = cfo_xstrdup(s);
}

static void set_tail(cfo_msg_result *r, const void *p, size_t n)
{
    free(r->outcome.tail);
    r->outcome.tail = cfo_xmalloc(n + 1);
    memcpy(r->outcome.tail, p, n);
    r->outcome.tail[n] = '\0';
    r->tail_len = n;
}

static void hello(cfo_msg *m, const char *id, uint32_t slots)
{
    m->type = CFO_MSG_HELLO;
    m->u.hello.worker_id = cfo_xstrdup(id);
    m->u.hello.slots = slots;
    cfo_strv_init(&m->u.hello.fuzzers);
}

static void add_pending(cfo_msg_hello *h, uint64_t task_id, uint32_t attempt)
{
    h->pending = cfo_xrealloc(h->pending, (h->npending + 1) * sizeof *h->pending);
    h->pending[h->npending++] = (cfo_msg_pending){task_id, attempt};
}

static void task(cfo_msg *m, uint64_t id, uint32_t attempt, const char *fuzzer, const char *branch,
                 const char *commit, const char *target, uint64_t timeout, uint64_t deadline)
{
    m->type = CFO_MSG_TASK;
    m->u.task = (cfo_msg_task){.task_id = id,
                               .attempt = attempt,
                               .fuzzer = cfo_xstrdup(fuzzer),
                               .branch = cfo_xstrdup(branch),
                               .commit = cfo_xstrdup(commit),
                               .target = cfo_xstrdup(target),
                               .timeout_ms = timeout,
                               .deadline_ms = deadline};
}

static void result(cfo_msg *m, cfo_status st, int64_t count, int64_t findings, double duration,
                   int64_t end_wall_ms, int32_t exit_code, int32_t sig, const char *command,
                   const char *summary)
{
    m->type = CFO_MSG_RESULT;
    m->u.result = (cfo_msg_result){.task_id = 77,
                                   .outcome = {.attempt = 2,
                                               .status = st,
                                               .count = count,
                                               .findings = findings,
                                               .duration = duration,
                                               .end_wall_ms = end_wall_ms,
                                               .exit_code = exit_code,
                                               .term_signal = sig,
                                               .command = cfo_xstrdup(command),
                                               .summary = cfo_xstrdup(summary)}};
    set_tail(&m->u.result, "", 0);
}

static void reason(cfo_msg *m, cfo_msg_type t, const char *why)
{
    m->type = t;
    m->u.reason.reason = cfo_xstrdup(why);
}

#define NSAMPLES 22
/* The samples small enough to cut at every byte and to mutate. */
static const int TYPICAL[] = {0, 1, 4, 7, 9, 11, 12, 14, 15, 17, 18, 19, 21};
#define NTYPICAL (sizeof TYPICAL / sizeof TYPICAL[0])

/* Sample k (0..NSAMPLES-1): typical and boundary values of every type. The
 * message owns everything (cfo_msg_fini). */
static void sample(int k, cfo_msg *m)
{
    memset(m, 0, sizeof *m);
    switch (k) {
    case 0:
        hello(m, "worker-1@host:a.b_c", 4);
        cfo_strv_push(&m->u.hello.fuzzers, "CANARY");
        cfo_strv_push(&m->u.hello.fuzzers, "INFRA_DRIFT");
        add_pending(&m->u.hello, 7, 1);
        add_pending(&m->u.hello, 9, 2);
        break;
    case 1:
        hello(m, "w", 1);
        break;
    case 2: {
        /* Most pending results with the widest ids still fit the header. */
        char *id = repeat('x', 128);
        id[0] = 'A';
        id[1] = '@';
        id[127] = '9';
        hello(m, id, CFO_PROTO_MAX_SLOTS);
        free(id);
        cfo_strv_push(&m->u.hello.fuzzers, "CANARY");
        for (size_t i = 0; i < CFO_PROTO_MAX_PENDING; i++)
            add_pending(&m->u.hello, UINT64_MAX - i, CFO_RECORD_MAX_ATTEMPT);
        break;
    }
    case 3:
        hello(m, "w-256", 8);
        for (int i = 0; i < CFO_PROTO_MAX_FUZZERS; i++) {
            char name[16];
            snprintf(name, sizeof name, "F%03d", i);
            cfo_strv_push(&m->u.hello.fuzzers, name);
        }
        break;
    case 4:
        m->type = CFO_MSG_WELCOME;
        m->u.welcome = (cfo_msg_welcome){cfo_xstrdup("run-2026-01-01T00:00:00Z-ab12"), 1000};
        break;
    case 5:
        m->type = CFO_MSG_WELCOME;
        m->u.welcome = (cfo_msg_welcome){repeat('r', 256), 10};
        break;
    case 6:
        m->type = CFO_MSG_WELCOME;
        m->u.welcome = (cfo_msg_welcome){cfo_xstrdup("r"), 60000};
        break;
    case 7:
        m->type = CFO_MSG_CREDIT;
        m->u.credit.n = 1;
        break;
    case 8:
        m->type = CFO_MSG_CREDIT;
        m->u.credit.n = CFO_PROTO_MAX_SLOTS;
        break;
    case 9:
        task(m, 42, 1, "INFRA_DRIFT", "main", SHA40, "envs/prod/network", 1800000, 3600000);
        break;
    case 10: {
        char *s = repeat('s', CFO_PROTO_MAX_STRING);
        task(m, UINT64_MAX, CFO_RECORD_MAX_ATTEMPT, s, s, SHA64, s, THIRTY_DAYS_MS, THIRTY_DAYS_MS);
        free(s);
        break;
    }
    case 11:
        task(m, 0, 3, "CANARY", "feature/x", SHA40, "", 1, 0);
        break;
    case 12:
        result(m, CFO_STATUS_FAIL, 12, 2, 0.1, 1767225600000LL, 1, 0,
               "cfo-fuzz INFRA_DRIFT envs/prod/network", "2 modules drifted");
        set_tail(&m->u.result, "out\0err\0\xff", 9);
        break;
    case 13: {
        char *s = repeat('c', CFO_PROTO_MAX_STRING);
        result(m, CFO_STATUS_CANCELLED, INT64_MAX, INT64_MAX, 0.0, INT64_MAX, -1, 64, s, s);
        free(s);
        char *t = repeat('\0', CFO_PROTO_MAX_TAIL);
        t[1] = 'x';
        set_tail(&m->u.result, t, CFO_PROTO_MAX_TAIL);
        free(t);
        m->u.result.task_id = UINT64_MAX;
        m->u.result.outcome.attempt = CFO_RECORD_MAX_ATTEMPT;
        break;
    }
    case 14:
        result(m, CFO_STATUS_PASS, 0, 0, 1e9, 0, 255, 0, "", "");
        m->u.result.task_id = 0;
        m->u.result.outcome.attempt = 1;
        break;
    case 15:
        m->type = CFO_MSG_ACK;
        m->u.ref = (cfo_msg_ref){77, 2};
        break;
    case 16:
        m->type = CFO_MSG_ACK;
        m->u.ref = (cfo_msg_ref){UINT64_MAX, CFO_RECORD_MAX_ATTEMPT};
        break;
    case 17:
        m->type = CFO_MSG_CANCEL;
        m->u.ref = (cfo_msg_ref){0, 1};
        break;
    case 18:
        m->type = CFO_MSG_HEARTBEAT;
        break;
    case 19:
        reason(m, CFO_MSG_BYE, "");
        break;
    case 20: {
        char *s = repeat('z', 1024);
        reason(m, CFO_MSG_BYE, s);
        free(s);
        break;
    }
    case 21:
        reason(m, CFO_MSG_RESET, "unknown session");
        break;
    default:
        fail_msg("no sample %d", k);
    }
}

static void assert_str_eq(const char *a, const char *b)
{
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, b);
}

static void assert_msg_equal(const cfo_msg *a, const cfo_msg *b)
{
    assert_int_equal(a->type, b->type);
    switch (a->type) {
    case CFO_MSG_HELLO:
        assert_str_eq(a->u.hello.worker_id, b->u.hello.worker_id);
        assert_int_equal(a->u.hello.slots, b->u.hello.slots);
        assert_int_equal(a->u.hello.fuzzers.n, b->u.hello.fuzzers.n);
        for (size_t i = 0; i < a->u.hello.fuzzers.n; i++)
            assert_str_eq(a->u.hello.fuzzers.v[i], b->u.hello.fuzzers.v[i]);
        assert_int_equal(a->u.hello.npending, b->u.hello.npending);
        for (size_t i = 0; i < a->u.hello.npending; i++) {
            assert_true(a->u.hello.pending[i].task_id == b->u.hello.pending[i].task_id);
            assert_int_equal(a->u.hello.pending[i].attempt, b->u.hello.pending[i].attempt);
        }
        break;
    case CFO_MSG_WELCOME:
        assert_str_eq(a->u.welcome.run_id, b->u.welcome.run_id);
        assert_int_equal(a->u.welcome.heartbeat_ms, b->u.welcome.heartbeat_ms);
        break;
    case CFO_MSG_CREDIT:
        assert_int_equal(a->u.credit.n, b->u.credit.n);
        break;
    case CFO_MSG_TASK:
        assert_true(a->u.task.task_id == b->u.task.task_id);
        assert_int_equal(a->u.task.attempt, b->u.task.attempt);
        assert_str_eq(a->u.task.fuzzer, b->u.task.fuzzer);
        assert_str_eq(a->u.task.branch, b->u.task.branch);
        assert_str_eq(a->u.task.commit, b->u.task.commit);
        assert_str_eq(a->u.task.target, b->u.task.target);
        assert_true(a->u.task.timeout_ms == b->u.task.timeout_ms);
        assert_true(a->u.task.deadline_ms == b->u.task.deadline_ms);
        break;
    case CFO_MSG_RESULT: {
        const cfo_outcome *x = &a->u.result.outcome, *y = &b->u.result.outcome;
        assert_true(a->u.result.task_id == b->u.result.task_id);
        assert_int_equal(x->attempt, y->attempt);
        assert_int_equal(x->status, y->status);
        assert_true(x->count == y->count);
        assert_true(x->findings == y->findings);
        assert_true(x->duration == y->duration);
        assert_true(x->end_wall_ms == y->end_wall_ms);
        assert_int_equal(x->exit_code, y->exit_code);
        assert_int_equal(x->term_signal, y->term_signal);
        assert_str_eq(x->command, y->command);
        assert_str_eq(x->summary, y->summary);
        assert_int_equal(a->u.result.tail_len, b->u.result.tail_len);
        assert_non_null(x->tail);
        assert_non_null(y->tail);
        assert_memory_equal(x->tail, y->tail, a->u.result.tail_len + 1);
        break;
    }
    case CFO_MSG_ACK:
    case CFO_MSG_CANCEL:
        assert_true(a->u.ref.task_id == b->u.ref.task_id);
        assert_int_equal(a->u.ref.attempt, b->u.ref.attempt);
        break;
    case CFO_MSG_HEARTBEAT:
        break;
    case CFO_MSG_BYE:
    case CFO_MSG_RESET:
        assert_str_eq(a->u.reason.reason, b->u.reason.reason);
        break;
    }
}

static void encode_ok(const cfo_msg *m, cfo_buf *h, cfo_buf *p)
{
    cfo_diag d = {{0}};
    cfo_err err = cfo_msg_encode(m, h, p, &d);
    if (err != CFO_OK)
        fail_msg("encode %s: %s", cfo_msg_type_name(m->type), d.msg);
    assert_true(h->len > 0);
    assert_true(h->len <= CFO_PROTO_MAX_HEADER);
    assert_true(p->len <= CFO_PROTO_MAX_PAYLOAD);
    assert_true((p->len > 0) == (m->type == CFO_MSG_RESULT));
}

/* The payload argument decode expects: NULL when the message has no payload frame. */
static const void *payload_of(const cfo_msg *m, const cfo_buf *p)
{
    return m->type == CFO_MSG_RESULT ? p->data : NULL;
}

/* ---- round trips ---- */

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(cfo_msg_type_name(CFO_MSG_HELLO), "HELLO");
    assert_string_equal(cfo_msg_type_name(CFO_MSG_TASK), "TASK");
    assert_string_equal(cfo_msg_type_name(CFO_MSG_RESET), "RESET");
    assert_string_equal(cfo_msg_type_name((cfo_msg_type)0), "UNKNOWN");
    assert_string_equal(cfo_msg_type_name((cfo_msg_type)11), "UNKNOWN");
}

static void test_round_trip(void **state)
{
    (void)state;
    bool seen[CFO_MSG_TYPE_MAX + 1] = {false};
    for (int k = 0; k < NSAMPLES; k++) {
        cfo_msg m, back;
        sample(k, &m);
        seen[m.type] = true;
        cfo_buf h, p, h2, p2;
        cfo_buf_init(&h);
        cfo_buf_init(&p);
        cfo_buf_init(&h2);
        cfo_buf_init(&p2);
        encode_ok(&m, &h, &p);
        cfo_diag d = {{0}};
        cfo_err err = cfo_msg_decode(h.data, h.len, payload_of(&m, &p), p.len, &back, &d);
        if (err != CFO_OK)
            fail_msg("sample %d (%s): %s", k, cfo_msg_type_name(m.type), d.msg);
        assert_msg_equal(&m, &back);
        /* Encoding is a function of the message: decoding loses nothing. */
        encode_ok(&back, &h2, &p2);
        assert_int_equal(h.len, h2.len);
        assert_memory_equal(h.data, h2.data, h.len);
        assert_int_equal(p.len, p2.len);
        if (p.len)
            assert_memory_equal(p.data, p2.data, p.len);
        cfo_msg_fini(&back);
        cfo_msg_fini(&m);
        cfo_buf_fini(&h);
        cfo_buf_fini(&p);
        cfo_buf_fini(&h2);
        cfo_buf_fini(&p2);
    }
    for (int t = CFO_MSG_TYPE_MIN; t <= CFO_MSG_TYPE_MAX; t++)
        assert_true(seen[t]);
}

static void test_decode_details(void **state)
{
    (void)state;
    cfo_msg m;
    cfo_buf h, p;
    cfo_buf_init(&h);
    cfo_buf_init(&p);
    cfo_diag d = {{0}};

    /* A RESULT's tail keeps its NUL bytes and is NUL-terminated after them. */
    sample(12, &m);
    encode_ok(&m, &h, &p);
    cfo_msg_fini(&m);
    assert_int_equal(cfo_msg_decode(h.data, h.len, p.data, p.len, &m, &d), CFO_OK);
    assert_int_equal(m.u.result.tail_len, 9);
    assert_memory_equal(m.u.result.outcome.tail, "out\0err\0\xff\0", 10);
    assert_true(m.u.result.outcome.duration == 0.1);
    assert_int_equal(m.u.result.outcome.exit_code, 1);
    cfo_msg_fini(&m);

    /* An empty fuzzer list still decodes to a NULL-terminated vector. */
    sample(1, &m);
    encode_ok(&m, &h, &p);
    cfo_msg_fini(&m);
    assert_int_equal(cfo_msg_decode(h.data, h.len, NULL, 0, &m, &d), CFO_OK);
    assert_int_equal(m.u.hello.fuzzers.n, 0);
    assert_non_null(m.u.hello.fuzzers.v);
    assert_null(m.u.hello.fuzzers.v[0]);
    assert_int_equal(m.u.hello.npending, 0);
    cfo_msg_fini(&m);

    /* Wider msgpack formats than needed carry the same type and are fine;
     * a float32 duration is a float too. */
    cfo_buf_reset(&h);
    mp_array(&h, 4);
    mp_be(&h, 0xcf, 1, 8);
    mp_be(&h, 0xcd, 5, 2);
    mp_be(&h, 0xcf, 3, 8);
    mp_be(&h, 0xce, 1, 4);
    cfo_buf_reset(&p);
    mp_array(&p, 15);
    mp_uint(&p, 0);
    mp_uint(&p, 1);
    mp_uint(&p, 0);
    mp_f32(&p, 0.5f);
    mp_uint(&p, 5);
    mp_int(&p, -1);
    mp_uint(&p, 9);
    mp_str(&p, "c");
    mp_str(&p, "s");
    mp_bin(&p, "", 0);
    mp_byte(&p, 0xc3);
    mp_f32(&p, 0.25f);
    mp_uint(&p, 1024);
    mp_str(&p, "");
    mp_str(&p, "{}");
    assert_int_equal(cfo_msg_decode(h.data, h.len, p.data, p.len, &m, &d), CFO_OK);
    assert_int_equal(m.type, CFO_MSG_RESULT);
    assert_true(m.u.result.task_id == 3);
    assert_true(m.u.result.outcome.duration == 0.5);
    assert_int_equal(m.u.result.outcome.exit_code, -1);
    assert_int_equal(m.u.result.outcome.term_signal, 9);
    assert_int_equal(m.u.result.tail_len, 0);
    assert_string_equal(m.u.result.outcome.tail, "");
    assert_true(m.u.result.outcome.has_usage);
    assert_true(m.u.result.outcome.cpu == 0.25);
    assert_int_equal(m.u.result.outcome.max_rss_kb, 1024);
    assert_string_equal(m.u.result.outcome.crashes, "");
    assert_string_equal(m.u.result.outcome.coverage, "{}"); /* checked by the coordinator */
    cfo_msg_fini(&m);
    cfo_msg_fini(&m); /* fini of an empty message is harmless */

    cfo_buf_fini(&h);
    cfo_buf_fini(&p);
}

/* ---- the encoder refuses what the peer would reject ---- */

static void refuse(cfo_msg *m, const char *expect)
{
    cfo_buf h, p;
    cfo_buf_init(&h);
    cfo_buf_init(&p);
    cfo_buf_puts(&h, "stale");
    cfo_diag d = {{0}};
    assert_int_equal(cfo_msg_encode(m, &h, &p, &d), CFO_EINVAL);
    if (strstr(d.msg, expect) == NULL)
        fail_msg("expected '%s' in '%s'", expect, d.msg);
    assert_int_equal(h.len, 0);
    assert_int_equal(p.len, 0);
    cfo_buf_fini(&h);
    cfo_buf_fini(&p);
    cfo_msg_fini(m);
}

static void test_encode_refuses(void **state)
{
    (void)state;
    cfo_msg m;
    char *s;

    sample(0, &m), m.u.hello.slots = 0, refuse(&m, "HELLO: slots 0 out of range");
    sample(0, &m), m.u.hello.slots = 1025, refuse(&m, "HELLO: slots");
    sample(0, &m), set_str(&m.u.hello.worker_id, ""), refuse(&m, "HELLO: worker_id");
    sample(0, &m), set_str(&m.u.hello.worker_id, "a b"), refuse(&m, "HELLO: worker_id");
    sample(0, &m), set_str(&m.u.hello.worker_id, "a/b"), refuse(&m, "HELLO: worker_id");
    sample(0, &m), free(m.u.hello.worker_id), m.u.hello.worker_id = NULL,
                                              refuse(&m, "HELLO: worker_id");
    s = repeat('w', 129);
    sample(0, &m), set_str(&m.u.hello.worker_id, s), refuse(&m, "HELLO: worker_id");
    free(s);
    sample(0, &m), cfo_strv_push(&m.u.hello.fuzzers, ""), refuse(&m, "HELLO: fuzzer");
    sample(3, &m), cfo_strv_push(&m.u.hello.fuzzers, "ONE_TOO_MANY"),
        refuse(&m, "HELLO: fuzzers count 257");
    sample(2, &m), add_pending(&m.u.hello, 1, 1), refuse(&m, "HELLO: pending count 4097");
    sample(0, &m), m.u.hello.pending[1].attempt = 0, refuse(&m, "HELLO: pending attempt 0");
    /* Each field within its limit, the whole beyond the header's. */
    sample(2, &m);
    s = repeat('f', 64);
    for (int i = 0; i < 100; i++)
        cfo_strv_push(&m.u.hello.fuzzers, s);
    free(s);
    refuse(&m, "HELLO: header of");

    sample(4, &m), m.u.welcome.heartbeat_ms = 9, refuse(&m, "WELCOME: heartbeat_ms 9");
    sample(4, &m), m.u.welcome.heartbeat_ms = 60001, refuse(&m, "WELCOME: heartbeat_ms");
    sample(4, &m), set_str(&m.u.welcome.run_id, ""), refuse(&m, "WELCOME: run_id");
    s = repeat('r', 257);
    sample(4, &m), set_str(&m.u.welcome.run_id, s), refuse(&m, "WELCOME: run_id");
    free(s);

    sample(7, &m), m.u.credit.n = 0, refuse(&m, "CREDIT: n 0");
    sample(7, &m), m.u.credit.n = 1025, refuse(&m, "CREDIT: n 1025");

    sample(9, &m), m.u.task.attempt = 0, refuse(&m, "TASK: attempt 0");
    sample(9, &m), m.u.task.attempt = 1000001, refuse(&m, "TASK: attempt");
    sample(9, &m), set_str(&m.u.task.commit, "abc"), refuse(&m, "TASK: commit is not a hex sha");
    sample(9, &m), m.u.task.commit[39] = 'g', refuse(&m, "TASK: commit is not a hex sha");
    sample(9, &m), set_str(&m.u.task.fuzzer, ""), refuse(&m, "TASK: fuzzer");
    sample(9, &m), set_str(&m.u.task.branch, ""), refuse(&m, "TASK: branch");
    s = repeat('t', CFO_PROTO_MAX_STRING + 1);
    sample(9, &m), set_str(&m.u.task.target, s), refuse(&m, "TASK: target");
    free(s);
    sample(9, &m), m.u.task.timeout_ms = 0, refuse(&m, "TASK: timeout_ms 0");
    sample(9, &m), m.u.task.timeout_ms = THIRTY_DAYS_MS + 1, refuse(&m, "TASK: timeout_ms");
    sample(9, &m), m.u.task.deadline_ms = THIRTY_DAYS_MS + 1, refuse(&m, "TASK: deadline_ms");

    sample(12, &m), m.u.result.outcome.status = (cfo_status)6, refuse(&m, "RESULT: status 6");
    sample(12, &m), m.u.result.outcome.count = -1, refuse(&m, "RESULT: count -1");
    sample(12, &m), m.u.result.outcome.findings = -1, refuse(&m, "RESULT: findings");
    sample(12, &m), m.u.result.outcome.end_wall_ms = -1, refuse(&m, "RESULT: end_wall_ms");
    sample(12, &m), m.u.result.outcome.duration = NAN, refuse(&m, "RESULT: duration");
    sample(12, &m), m.u.result.outcome.duration = INFINITY, refuse(&m, "RESULT: duration");
    sample(12, &m), m.u.result.outcome.duration = -0.5, refuse(&m, "RESULT: duration");
    sample(12, &m), m.u.result.outcome.exit_code = -2, refuse(&m, "RESULT: exit_code -2");
    sample(12, &m), m.u.result.outcome.exit_code = 256, refuse(&m, "RESULT: exit_code 256");
    sample(12, &m), m.u.result.outcome.term_signal = 65, refuse(&m, "RESULT: signal 65");
    sample(12, &m), m.u.result.outcome.term_signal = -1, refuse(&m, "RESULT: signal -1");
    sample(12, &m), m.u.result.outcome.attempt = 0, refuse(&m, "RESULT: attempt 0");
    sample(12, &m), m.u.result.outcome.cpu = -1, refuse(&m, "RESULT: cpu");
    sample(12, &m), m.u.result.outcome.max_rss_kb = -1, refuse(&m, "RESULT: max_rss_kb");
    s = repeat('c', CFO_PROTO_MAX_STRING + 1);
    sample(12, &m), set_str(&m.u.result.outcome.command, s), refuse(&m, "RESULT: command");
    sample(12, &m), set_str(&m.u.result.outcome.summary, s), refuse(&m, "RESULT: summary");
    free(s);
    s = repeat('x', CFO_PROTO_MAX_TAIL + 1);
    sample(12, &m), set_tail(&m.u.result, s, CFO_PROTO_MAX_TAIL + 1), refuse(&m, "RESULT: tail");
    free(s);

    sample(15, &m), m.u.ref.attempt = 0, refuse(&m, "ACK: attempt 0");
    sample(17, &m), m.u.ref.attempt = 1000001, refuse(&m, "CANCEL: attempt");
    s = repeat('b', 1025);
    sample(19, &m), set_str(&m.u.reason.reason, s), refuse(&m, "BYE: reason");
    sample(21, &m), set_str(&m.u.reason.reason, s), refuse(&m, "RESET: reason");
    free(s);

    memset(&m, 0, sizeof m), refuse(&m, "unknown message type 0");
    memset(&m, 0, sizeof m), m.type = (cfo_msg_type)11, refuse(&m, "unknown message type 11");
}

/* ---- hostile input ---- */

static void expect_reject(const void *h, size_t hlen, const void *p, size_t plen,
                          const char *expect)
{
    static const cfo_msg zero;
    cfo_msg m;
    memset(&m, 0xa5, sizeof m);
    cfo_diag d = {{0}};
    assert_int_equal(cfo_msg_decode(h, hlen, p, plen, &m, &d), CFO_EPARSE);
    assert_true(d.msg[0] != '\0');
    if (expect != NULL && strstr(d.msg, expect) == NULL)
        fail_msg("expected '%s' in '%s'", expect, d.msg);
    assert_memory_equal(&m, &zero, sizeof m);
}

/* A valid RESULT header, for payload tests. */
static const unsigned char RESULT_HDR[] = {0x94, 0x01, 0x05, 0x07, 0x01};

static void test_hostile_bytes(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
        const char *expect;
    } cases[] = {
        /* Sizes that msgpack-c would allocate for before reading a byte. */
        {"\xdd\xff\x00\x00\x00", 5, "more elements than bytes left"},
        {"\xdd\xff\xff\xff\xff", 5, "more elements than bytes left"},
        {"\xdc\xff\xff", 3, "more elements than bytes left"},
        {"\xdf\xff\xff\xff\xff", 5, "more elements than bytes left"},
        {"\xde\x00\x02\x01\x01\x01", 6, "more elements than bytes left"},
        {"\x82\x01\x01\x01", 4, "more elements than bytes left"},
        {"\xdb\xff\xff\xff\xff", 5, "exceeds the bytes left"},
        {"\xda\x00\x05\x61", 4, "exceeds the bytes left"},
        {"\xc6\xff\xff\xff\xff", 5, "exceeds the bytes left"},
        {"\xc5\xff\xff", 3, "exceeds the bytes left"},
        {"\xc9\xff\xff\xff\xff\x01", 6, "exceeds the bytes left"},
        {"\xc8\x00\x10\x01", 4, "exceeds the bytes left"},
        {"\xc7\x05\x01\x00", 4, "exceeds the bytes left"},
        {"\xd8\x01\x00", 3, "exceeds the bytes left"},
        {"\xca\x00\x00", 3, "exceeds the bytes left"},
        {"\xcb\x00", 2, "exceeds the bytes left"},
        {"\xcf\x00\x00", 3, "exceeds the bytes left"},
        {"\xdd\x00\x00", 3, "truncated"},
        {"\x93\x91\x01\x01", 4, "truncated"},
        {"\xc1", 1, "invalid msgpack byte"},
        {"\x92\x01\xc1", 3, "invalid msgpack byte"},
        /* Well-formed msgpack that is not a header. */
        {"\x01", 1, "header is an unsigned integer, not an array"},
        {"\x80", 1, "header is a map, not an array"},
        {"\xa1x", 2, "header is a string, not an array"},
        {"\xc0", 1, "header is nil"},
        {"\xd4\x01\x00", 3, "header is an extension"},
        {"\x90", 1, "header has 0 fields"},
        {"\x91\x01", 2, "header has 1 fields"},
        {"\x92\x02\x08", 3, "unsupported protocol version 2"},
        {"\x92\x00\x08", 3, "unsupported protocol version 0"},
        {"\x92\xcf\xff\xff\xff\xff\xff\xff\xff\xff\x08", 11, "unsupported protocol version"},
        {"\x92\xff\x08", 3, "header: version is a negative integer"},
        {"\x92\xa1\x31\x08", 4, "header: version is a string"},
        {"\x92\x01\x00", 3, "unknown message type 0"},
        {"\x92\x01\x0b", 3, "unknown message type 11"},
        {"\x92\x01\xcc\xff", 4, "unknown message type 255"},
        {"\x92\x01\xff", 3, "header: type is a negative integer"},
        {"\x92\x01\xcb\x40\x20\x00\x00\x00\x00\x00\x00", 11, "header: type is a float"},
        {"\x92\x01\x08\xc0", 4, "trailing bytes"},
        {"\x92\x01\x08\x92\x01\x08", 6, "trailing bytes"},
        {"\x93\x01\x08\xc0", 4, "HEARTBEAT: header has 3 fields, not 2"},
        {"\x92\x01\x03", 3, "CREDIT: header has 2 fields, not 3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect_reject(cases[i].bytes, cases[i].len, NULL, 0, cases[i].expect);
        /* The same bytes as a RESULT's payload meet the same pre-scan. */
        if (strstr(cases[i].expect, "header") == NULL &&
            strstr(cases[i].expect, "version") == NULL && strstr(cases[i].expect, "type") == NULL)
            expect_reject(RESULT_HDR, sizeof RESULT_HDR, cases[i].bytes, cases[i].len,
                          cases[i].expect);
    }
    expect_reject("", 0, NULL, 0, "header: empty frame");
    expect_reject(NULL, 0, NULL, 0, "header: empty frame");
    expect_reject(RESULT_HDR, sizeof RESULT_HDR, "", 0, "RESULT payload: empty frame");
    expect_reject(RESULT_HDR, sizeof RESULT_HDR, NULL, 0, "RESULT: missing payload frame");
    expect_reject("\x92\x01\x08", 3, "\x90", 1, "HEARTBEAT: unexpected payload frame");
    expect_reject("\x92\x01\x08", 3, "", 0, "HEARTBEAT: unexpected payload frame");
    expect_reject(RESULT_HDR, sizeof RESULT_HDR, "\x01", 1, "RESULT: payload is an unsigned");
    expect_reject(RESULT_HDR, sizeof RESULT_HDR, "\x90", 1, "RESULT: payload has 0 fields");

    cfo_buf b;
    cfo_buf_init(&b);
    /* Deep nesting: the pre-scan stops at the depth limit. */
    for (int i = 0; i < 100; i++)
        mp_byte(&b, 0x91);
    mp_byte(&b, 0x01);
    expect_reject(b.data, b.len, NULL, 0, "nested too deep");
    expect_reject(RESULT_HDR, sizeof RESULT_HDR, b.data, b.len, "nested too deep");
    cfo_buf_reset(&b);
    for (int i = 0; i < CFO_PROTO_MAX_DEPTH + 1; i++)
        mp_byte(&b, 0x81), mp_byte(&b, 0x01);
    mp_byte(&b, 0x01);
    expect_reject(b.data, b.len, NULL, 0, "nested too deep");
    /* Nesting up to the limit passes the pre-scan and fails on meaning. */
    cfo_buf_reset(&b);
    mp_array(&b, 6);
    mp_raw(&b, "\x01\x01\xa1w\x01\x90", 6);
    mp_raw(&b, "\x91\x92\x91\x01\x91\x02", 6);
    expect_reject(b.data, b.len, NULL, 0, "HELLO: pending task_id is an array");

    /* A cap on objects, whatever their size. */
    cfo_buf_reset(&b);
    mp_array(&b, 40000);
    for (int i = 0; i < 40000; i++)
        mp_byte(&b, 0xc0);
    expect_reject(b.data, b.len, NULL, 0, "too many objects");

    /* Frames beyond the limits are refused by length alone. */
    cfo_buf_reset(&b);
    mp_array(&b, 3);
    mp_uint(&b, 1);
    mp_uint(&b, 9);
    mp_bin(&b, "", 0);
    cfo_buf_reserve(&b, CFO_PROTO_MAX_HEADER);
    expect_reject(b.data, CFO_PROTO_MAX_HEADER + 1, NULL, 0, "header: 65537 bytes exceed");
    char *big = cfo_xcalloc(1, CFO_PROTO_MAX_PAYLOAD + 1);
    expect_reject(RESULT_HDR, sizeof RESULT_HDR, big, CFO_PROTO_MAX_PAYLOAD + 1,
                  "payload: 262145 bytes exceed");
    free(big);
    cfo_buf_fini(&b);
}

static void test_truncations(void **state)
{
    (void)state;
    for (size_t i = 0; i < NTYPICAL; i++) {
        cfo_msg m;
        sample(TYPICAL[i], &m);
        cfo_buf h, p;
        cfo_buf_init(&h);
        cfo_buf_init(&p);
        encode_ok(&m, &h, &p);
        const void *pay = payload_of(&m, &p);
        for (size_t cut = 0; cut < h.len; cut++)
            expect_reject(h.data, cut, pay, p.len, NULL);
        for (size_t cut = 0; cut < p.len; cut++)
            expect_reject(h.data, h.len, p.data, cut, NULL);
        /* Garbage after a complete frame is as bad as a missing end. */
        cfo_buf_append(&h, "\x00", 1);
        expect_reject(h.data, h.len, pay, p.len, "trailing bytes");
        if (p.len) {
            h.len--;
            cfo_buf_append(&p, "\xc0", 1);
            expect_reject(h.data, h.len, p.data, p.len, "trailing bytes");
        }
        cfo_msg_fini(&m);
        cfo_buf_fini(&h);
        cfo_buf_fini(&p);
    }
}

/* Field-level tests: each message as a list of encoded fields, so one field
 * at a time can be replaced by something it must not be. */
enum { K_UINT, K_INT, K_FLOAT, K_STR, K_BIN, K_LIST, K_BOOL };

typedef struct fspec {
    const char *name;
    int kind;
    unsigned char enc[64];
    size_t len;
} fspec;

typedef struct mspec {
    cfo_msg_type type;
    fspec f[10];
    size_t nf;
    fspec p[16];
    size_t np;
} mspec;

static mspec g_specs[CFO_MSG_TYPE_MAX + 1];

static void spec_add(mspec *s, bool payload, const char *name, int kind, cfo_buf *b)
{
    fspec *f = payload ? &s->p[s->np++] : &s->f[s->nf++];
    assert_true(b->len <= sizeof f->enc);
    f->name = name;
    f->kind = kind;
    memcpy(f->enc, b->data, b->len);
    f->len = b->len;
    cfo_buf_reset(b);
}

static void specs_init(void)
{
    cfo_buf b;
    cfo_buf_init(&b);
    for (int t = CFO_MSG_TYPE_MIN; t <= CFO_MSG_TYPE_MAX; t++) {
        mspec *s = &g_specs[t];
        memset(s, 0, sizeof *s);
        s->type = (cfo_msg_type)t;
        mp_uint(&b, CFO_PROTO_VERSION);
        spec_add(s, false, "version", K_UINT, &b);
        mp_uint(&b, (uint64_t)t);
        spec_add(s, false, "type", K_UINT, &b);
    }
    mspec *s = &g_specs[CFO_MSG_HELLO];
    mp_str(&b, "w1"), spec_add(s, false, "worker_id", K_STR, &b);
    mp_uint(&b, 2), spec_add(s, false, "slots", K_UINT, &b);
    mp_array(&b, 1), mp_str(&b, "CANARY"), spec_add(s, false, "fuzzers", K_LIST, &b);
    mp_array(&b, 1), mp_array(&b, 2), mp_uint(&b, 5), mp_uint(&b, 1);
    spec_add(s, false, "pending", K_LIST, &b);
    s = &g_specs[CFO_MSG_WELCOME];
    mp_str(&b, "run"), spec_add(s, false, "run_id", K_STR, &b);
    mp_uint(&b, 1000), spec_add(s, false, "heartbeat_ms", K_UINT, &b);
    s = &g_specs[CFO_MSG_CREDIT];
    mp_uint(&b, 1), spec_add(s, false, "n", K_UINT, &b);
    s = &g_specs[CFO_MSG_TASK];
    mp_uint(&b, 42), spec_add(s, false, "task_id", K_UINT, &b);
    mp_uint(&b, 1), spec_add(s, false, "attempt", K_UINT, &b);
    mp_str(&b, "CANARY"), spec_add(s, false, "fuzzer", K_STR, &b);
    mp_str(&b, "main"), spec_add(s, false, "branch", K_STR, &b);
    mp_str(&b, SHA40), spec_add(s, false, "commit", K_STR, &b);
    mp_str(&b, "a/b"), spec_add(s, false, "target", K_STR, &b);
    mp_uint(&b, 1000), spec_add(s, false, "timeout_ms", K_UINT, &b);
    mp_uint(&b, 0), spec_add(s, false, "deadline_ms", K_UINT, &b);
    s = &g_specs[CFO_MSG_RESULT];
    mp_uint(&b, 42), spec_add(s, false, "task_id", K_UINT, &b);
    mp_uint(&b, 1), spec_add(s, false, "attempt", K_UINT, &b);
    mp_uint(&b, 1), spec_add(s, true, "status", K_UINT, &b);
    mp_uint(&b, 3), spec_add(s, true, "count", K_UINT, &b);
    mp_uint(&b, 1), spec_add(s, true, "findings", K_UINT, &b);
    mp_f64(&b, 0.5), spec_add(s, true, "duration", K_FLOAT, &b);
    mp_uint(&b, 1700000000000ULL), spec_add(s, true, "end_wall_ms", K_UINT, &b);
    mp_int(&b, -1), spec_add(s, true, "exit_code", K_INT, &b);
    mp_uint(&b, 0), spec_add(s, true, "signal", K_UINT, &b);
    mp_str(&b, "cfo-fuzz CANARY"), spec_add(s, true, "command", K_STR, &b);
    mp_str(&b, "boom"), spec_add(s, true, "summary", K_STR, &b);
    mp_bin(&b, "x\0y", 3), spec_add(s, true, "tail", K_BIN, &b);
    mp_byte(&b, 0xc3), spec_add(s, true, "has_usage", K_BOOL, &b);
    mp_f64(&b, 0.25), spec_add(s, true, "cpu", K_FLOAT, &b);
    mp_uint(&b, 2048), spec_add(s, true, "max_rss_kb", K_UINT, &b);
    mp_str(&b, "[]"), spec_add(s, true, "crashes", K_STR, &b);
    mp_str(&b, ""), spec_add(s, true, "coverage", K_STR, &b);
    for (int t = CFO_MSG_ACK; t <= CFO_MSG_CANCEL; t++) {
        s = &g_specs[t];
        mp_uint(&b, 42), spec_add(s, false, "task_id", K_UINT, &b);
        mp_uint(&b, 1), spec_add(s, false, "attempt", K_UINT, &b);
    }
    mp_str(&b, "done"), spec_add(&g_specs[CFO_MSG_BYE], false, "reason", K_STR, &b);
    mp_str(&b, "who?"), spec_add(&g_specs[CFO_MSG_RESET], false, "reason", K_STR, &b);
    cfo_buf_fini(&b);
}

/* Encodes one part of s with field idx (SIZE_MAX: none) replaced by rep;
 * adjust +1 appends a nil field, -1 drops the last. */
static void spec_build(const mspec *s, bool payload, size_t idx, const void *rep, size_t replen,
                       int adjust, cfo_buf *out)
{
    const fspec *f = payload ? s->p : s->f;
    size_t n = payload ? s->np : s->nf;
    cfo_buf_reset(out);
    mp_array(out, (size_t)((long)n + adjust));
    for (size_t i = 0; i < n; i++) {
        if (adjust < 0 && i + 1 == n)
            break;
        if (i == idx)
            mp_raw(out, rep, replen);
        else
            mp_raw(out, f[i].enc, f[i].len);
    }
    if (adjust > 0)
        mp_byte(out, 0xc0);
}

static size_t spec_field(const mspec *s, bool payload, const char *name)
{
    const fspec *f = payload ? s->p : s->f;
    size_t n = payload ? s->np : s->nf;
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].name, name) == 0)
            return i;
    fail_msg("no field %s", name);
    return 0;
}

/* Decodes s with one field replaced and returns the result (the message is
 * released). */
static cfo_err spec_decode(const mspec *s, bool payload, size_t idx, const void *rep, size_t replen,
                           cfo_diag *d)
{
    cfo_buf h, p;
    cfo_buf_init(&h);
    cfo_buf_init(&p);
    spec_build(s, false, payload ? SIZE_MAX : idx, rep, replen, 0, &h);
    if (s->np)
        spec_build(s, true, payload ? idx : SIZE_MAX, rep, replen, 0, &p);
    cfo_msg m;
    cfo_err err = cfo_msg_decode(h.data, h.len, s->np ? p.data : NULL, p.len, &m, d);
    cfo_msg_fini(&m);
    cfo_buf_fini(&h);
    cfo_buf_fini(&p);
    return err;
}

static void reject_field(cfo_msg_type t, bool payload, const char *field, const cfo_buf *rep,
                         const char *expect)
{
    const mspec *s = &g_specs[t];
    cfo_buf h, p;
    cfo_buf_init(&h);
    cfo_buf_init(&p);
    size_t idx = spec_field(s, payload, field);
    spec_build(s, false, payload ? SIZE_MAX : idx, rep->data, rep->len, 0, &h);
    if (s->np)
        spec_build(s, true, payload ? idx : SIZE_MAX, rep->data, rep->len, 0, &p);
    expect_reject(h.data, h.len, s->np ? p.data : NULL, p.len, expect);
    cfo_buf_fini(&h);
    cfo_buf_fini(&p);
}

static void test_spec_defaults_valid(void **state)
{
    (void)state;
    for (int t = CFO_MSG_TYPE_MIN; t <= CFO_MSG_TYPE_MAX; t++) {
        cfo_diag d = {{0}};
        if (spec_decode(&g_specs[t], false, SIZE_MAX, NULL, 0, &d) != CFO_OK)
            fail_msg("%s: %s", cfo_msg_type_name((cfo_msg_type)t), d.msg);
    }
}

static void test_wrong_types(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
        unsigned ok_for; /* kinds it is a valid value of */
    } wrong[] = {
        {"\xc0", 1, 0},
        {"\xc2", 1, 1u << K_BOOL},
        {"\xc3", 1, 1u << K_BOOL},
        {"\xff", 1, 1u << K_INT},
        {"\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9, 1u << K_INT},
        {"\x01", 1, 1u << K_UINT | 1u << K_INT},
        {"\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", 9, 1u << K_FLOAT},
        {"\xca\x3f\x80\x00\x00", 5, 1u << K_FLOAT},
        {"\xa1\x31", 2, 1u << K_STR},
        {"\xc4\x01\x31", 3, 1u << K_BIN},
        {"\x90", 1, 1u << K_LIST},
        {"\x80", 1, 0},
        {"\x81\x01\x01", 3, 0},
        {"\xd4\x01\x00", 3, 0},
        {"\xc7\x01\x05\x31", 4, 0},
    };
    size_t checked = 0;
    for (int t = CFO_MSG_TYPE_MIN; t <= CFO_MSG_TYPE_MAX; t++) {
        const mspec *s = &g_specs[t];
        for (int part = 0; part < 2; part++) {
            const fspec *f = part ? s->p : s->f;
            size_t n = part ? s->np : s->nf;
            for (size_t i = 0; i < n; i++) {
                for (size_t w = 0; w < sizeof wrong / sizeof wrong[0]; w++) {
                    if (wrong[w].ok_for & (1u << f[i].kind))
                        continue;
                    cfo_diag d = {{0}};
                    cfo_err err = spec_decode(s, part, i, wrong[w].bytes, wrong[w].len, &d);
                    if (err != CFO_EPARSE)
                        fail_msg("%s %s as %02x: accepted", cfo_msg_type_name(s->type), f[i].name,
                                 (unsigned char)wrong[w].bytes[0]);
                    /* The message names the field, and beyond the first two
                     * fields the type too. */
                    if (strstr(d.msg, f[i].name) == NULL ||
                        (i >= 2 || part ? strstr(d.msg, cfo_msg_type_name(s->type)) == NULL
                                        : strstr(d.msg, "header") == NULL))
                        fail_msg("%s %s: unhelpful '%s'", cfo_msg_type_name(s->type), f[i].name,
                                 d.msg);
                    checked++;
                }
            }
        }
        /* One field too many or too few. */
        for (int part = 0; part < 2; part++) {
            if (part && s->np == 0)
                continue;
            for (int adjust = -1; adjust <= 1; adjust += 2) {
                if (!part && adjust < 0 && s->nf == 2)
                    continue; /* [1] is a different error, tested elsewhere */
                cfo_buf h, p;
                cfo_buf_init(&h);
                cfo_buf_init(&p);
                spec_build(s, false, SIZE_MAX, NULL, 0, part ? 0 : adjust, &h);
                if (s->np)
                    spec_build(s, true, SIZE_MAX, NULL, 0, part ? adjust : 0, &p);
                expect_reject(h.data, h.len, s->np ? p.data : NULL, p.len,
                              cfo_msg_type_name(s->type));
                cfo_buf_fini(&h);
                cfo_buf_fini(&p);
            }
        }
    }
    assert_true(checked > 300);

    /* Inside HELLO's lists. */
    cfo_buf b;
    cfo_buf_init(&b);
    for (size_t w = 0; w < sizeof wrong / sizeof wrong[0]; w++) {
        if (!(wrong[w].ok_for & (1u << K_STR))) {
            cfo_buf_reset(&b), mp_array(&b, 1), mp_raw(&b, wrong[w].bytes, wrong[w].len);
            reject_field(CFO_MSG_HELLO, false, "fuzzers", &b, "HELLO: fuzzer is");
        }
        if (!(wrong[w].ok_for & (1u << K_LIST))) {
            cfo_buf_reset(&b), mp_array(&b, 1), mp_raw(&b, wrong[w].bytes, wrong[w].len);
            reject_field(CFO_MSG_HELLO, false, "pending", &b, "HELLO: pending entry is");
        }
        if (!(wrong[w].ok_for & (1u << K_UINT))) {
            cfo_buf_reset(&b), mp_array(&b, 1), mp_array(&b, 2);
            mp_raw(&b, wrong[w].bytes, wrong[w].len), mp_uint(&b, 1);
            reject_field(CFO_MSG_HELLO, false, "pending", &b, "HELLO: pending task_id is");
            cfo_buf_reset(&b), mp_array(&b, 1), mp_array(&b, 2);
            mp_uint(&b, 1), mp_raw(&b, wrong[w].bytes, wrong[w].len);
            reject_field(CFO_MSG_HELLO, false, "pending", &b, "HELLO: pending attempt is");
        }
    }
    cfo_buf_reset(&b), mp_array(&b, 1), mp_array(&b, 1), mp_uint(&b, 1);
    reject_field(CFO_MSG_HELLO, false, "pending", &b, "HELLO: pending entry has 1 fields");
    cfo_buf_reset(&b), mp_array(&b, 1), mp_array(&b, 3), mp_raw(&b, "\x01\x01\x01", 3);
    reject_field(CFO_MSG_HELLO, false, "pending", &b, "HELLO: pending entry has 3");
    cfo_buf_fini(&b);
}

/* Replaces field of type t by the bytes the writer calls produce and expects
 * a rejection naming expect. */
#define REJECT(t, payload, field, expect, ...)                                                     \
    do {                                                                                           \
        cfo_buf_reset(&b);                                                                         \
        __VA_ARGS__;                                                                               \
        reject_field(t, payload, field, &b, expect);                                               \
    } while (0)

static void test_out_of_range(void **state)
{
    (void)state;
    cfo_buf b;
    cfo_buf_init(&b);
    char *s;

    REJECT(CFO_MSG_HELLO, false, "worker_id", "HELLO: worker_id of 0 bytes", mp_str(&b, ""));
    REJECT(CFO_MSG_HELLO, false, "worker_id", "HELLO: worker_id has a character",
           mp_str(&b, "a b"));
    REJECT(CFO_MSG_HELLO, false, "worker_id", "HELLO: worker_id has a character",
           mp_str(&b, "caf\xc3\xa9"));
    REJECT(CFO_MSG_HELLO, false, "worker_id", "HELLO: worker_id holds a NUL byte",
           mp_strn(&b, "a\0b", 3));
    s = repeat('w', 129);
    REJECT(CFO_MSG_HELLO, false, "worker_id", "HELLO: worker_id of 129 bytes", mp_str(&b, s));
    free(s);
    REJECT(CFO_MSG_HELLO, false, "slots", "HELLO: slots 0 out of range", mp_uint(&b, 0));
    REJECT(CFO_MSG_HELLO, false, "slots", "HELLO: slots 1025", mp_uint(&b, 1025));
    REJECT(CFO_MSG_HELLO, false, "slots", "HELLO: slots 1099511627776", mp_uint(&b, 1ULL << 40));
    REJECT(CFO_MSG_HELLO, false, "fuzzers", "HELLO: fuzzer of 0 bytes",
           (mp_array(&b, 1), mp_str(&b, "")));
    REJECT(CFO_MSG_HELLO, false, "fuzzers", "HELLO: fuzzer holds a NUL",
           (mp_array(&b, 1), mp_strn(&b, "A\0", 2)));
    REJECT(CFO_MSG_HELLO, false, "fuzzers", "HELLO: fuzzers has 257 entries", {
        mp_array(&b, 257);
        for (int i = 0; i < 257; i++)
            mp_str(&b, "F");
    });
    REJECT(CFO_MSG_HELLO, false, "pending", "HELLO: pending has 4097 entries", {
        mp_array(&b, 4097);
        for (int i = 0; i < 4097; i++)
            mp_array(&b, 2), mp_uint(&b, 1), mp_uint(&b, 1);
    });
    REJECT(CFO_MSG_HELLO, false, "pending", "HELLO: pending attempt 0",
           (mp_array(&b, 1), mp_array(&b, 2), mp_uint(&b, 1), mp_uint(&b, 0)));
    REJECT(CFO_MSG_HELLO, false, "pending", "HELLO: pending attempt 1000001",
           (mp_array(&b, 1), mp_array(&b, 2), mp_uint(&b, 1), mp_uint(&b, 1000001)));

    REJECT(CFO_MSG_WELCOME, false, "run_id", "WELCOME: run_id of 0 bytes", mp_str(&b, ""));
    s = repeat('r', 257);
    REJECT(CFO_MSG_WELCOME, false, "run_id", "WELCOME: run_id of 257 bytes", mp_str(&b, s));
    free(s);
    REJECT(CFO_MSG_WELCOME, false, "heartbeat_ms", "WELCOME: heartbeat_ms 9", mp_uint(&b, 9));
    REJECT(CFO_MSG_WELCOME, false, "heartbeat_ms", "WELCOME: heartbeat_ms 60001",
           mp_uint(&b, 60001));

    REJECT(CFO_MSG_CREDIT, false, "n", "CREDIT: n 0", mp_uint(&b, 0));
    REJECT(CFO_MSG_CREDIT, false, "n", "CREDIT: n 1025", mp_uint(&b, 1025));
    REJECT(CFO_MSG_CREDIT, false, "n", "CREDIT: n 4294967297", mp_uint(&b, 4294967297ULL));

    REJECT(CFO_MSG_TASK, false, "attempt", "TASK: attempt 0", mp_uint(&b, 0));
    REJECT(CFO_MSG_TASK, false, "attempt", "TASK: attempt 1000001", mp_uint(&b, 1000001));
    REJECT(CFO_MSG_TASK, false, "fuzzer", "TASK: fuzzer of 0 bytes", mp_str(&b, ""));
    REJECT(CFO_MSG_TASK, false, "branch", "TASK: branch of 0 bytes", mp_str(&b, ""));
    s = repeat('b', CFO_PROTO_MAX_STRING + 1);
    REJECT(CFO_MSG_TASK, false, "branch", "TASK: branch of 8193 bytes exceeds", mp_str(&b, s));
    free(s);
    REJECT(CFO_MSG_TASK, false, "target", "TASK: target holds a NUL byte", mp_strn(&b, "a\0", 2));
    REJECT(CFO_MSG_TASK, false, "commit", "TASK: commit is not a hex sha", mp_strn(&b, SHA40, 39));
    REJECT(CFO_MSG_TASK, false, "commit", "TASK: commit is not a hex sha",
           mp_str(&b, "0123456789abcdef0123456789abcdef012345678"));
    REJECT(CFO_MSG_TASK, false, "commit", "TASK: commit is not a hex sha",
           mp_str(&b, "g123456789abcdef0123456789abcdef01234567"));
    REJECT(CFO_MSG_TASK, false, "commit", "TASK: commit is not a hex sha", mp_str(&b, ""));
    REJECT(CFO_MSG_TASK, false, "commit", "TASK: commit holds a NUL",
           mp_strn(&b, "0123456789abcdef0123456789abcdef0123456\0", 40));
    REJECT(CFO_MSG_TASK, false, "timeout_ms", "TASK: timeout_ms 0", mp_uint(&b, 0));
    REJECT(CFO_MSG_TASK, false, "timeout_ms", "TASK: timeout_ms 2592000001",
           mp_uint(&b, THIRTY_DAYS_MS + 1));
    REJECT(CFO_MSG_TASK, false, "deadline_ms", "TASK: deadline_ms 2592000001",
           mp_uint(&b, THIRTY_DAYS_MS + 1));

    REJECT(CFO_MSG_RESULT, false, "attempt", "RESULT: attempt 0", mp_uint(&b, 0));
    REJECT(CFO_MSG_RESULT, true, "status", "RESULT: status 6", mp_uint(&b, 6));
    REJECT(CFO_MSG_RESULT, true, "count", "RESULT: count 9223372036854775808",
           mp_uint(&b, 1ULL << 63));
    REJECT(CFO_MSG_RESULT, true, "count", "RESULT: count is a negative integer", mp_int(&b, -1));
    REJECT(CFO_MSG_RESULT, true, "findings", "RESULT: findings 18446744073709551615",
           mp_uint(&b, UINT64_MAX));
    REJECT(CFO_MSG_RESULT, true, "end_wall_ms", "RESULT: end_wall_ms 9223372036854775808",
           mp_uint(&b, 1ULL << 63));
    REJECT(CFO_MSG_RESULT, true, "duration", "RESULT: duration -1", mp_f64(&b, -1.0));
    REJECT(CFO_MSG_RESULT, true, "duration", "RESULT: duration", mp_f64(&b, NAN));
    REJECT(CFO_MSG_RESULT, true, "duration", "RESULT: duration", mp_f64(&b, INFINITY));
    REJECT(CFO_MSG_RESULT, true, "duration", "RESULT: duration", mp_f64(&b, -INFINITY));
    REJECT(CFO_MSG_RESULT, true, "duration", "RESULT: duration", mp_f32(&b, NAN));
    REJECT(CFO_MSG_RESULT, true, "duration", "RESULT: duration -0.5", mp_f32(&b, -0.5f));
    REJECT(CFO_MSG_RESULT, true, "exit_code", "RESULT: exit_code -2", mp_int(&b, -2));
    REJECT(CFO_MSG_RESULT, true, "exit_code", "RESULT: exit_code 256", mp_uint(&b, 256));
    REJECT(CFO_MSG_RESULT, true, "exit_code", "RESULT: exit_code", mp_int(&b, INT64_MIN));
    REJECT(CFO_MSG_RESULT, true, "exit_code", "RESULT: exit_code", mp_uint(&b, UINT64_MAX));
    REJECT(CFO_MSG_RESULT, true, "signal", "RESULT: signal 65", mp_uint(&b, 65));
    s = repeat('c', CFO_PROTO_MAX_STRING + 1);
    REJECT(CFO_MSG_RESULT, true, "command", "RESULT: command of 8193 bytes", mp_str(&b, s));
    free(s);
    REJECT(CFO_MSG_RESULT, true, "summary", "RESULT: summary holds a NUL", mp_strn(&b, "\0", 1));
    s = repeat('t', CFO_PROTO_MAX_TAIL + 1);
    REJECT(CFO_MSG_RESULT, true, "tail", "RESULT: tail of 65537 bytes",
           mp_bin(&b, s, CFO_PROTO_MAX_TAIL + 1));
    free(s);
    REJECT(CFO_MSG_RESULT, true, "cpu", "RESULT: cpu", mp_f64(&b, -1.0));
    REJECT(CFO_MSG_RESULT, true, "cpu", "RESULT: cpu", mp_f64(&b, NAN));
    REJECT(CFO_MSG_RESULT, true, "max_rss_kb", "RESULT: max_rss_kb", mp_int(&b, -1));
    s = repeat('[', CFO_PROTO_MAX_STRING + 1);
    REJECT(CFO_MSG_RESULT, true, "crashes", "RESULT: crashes of 8193 bytes", mp_str(&b, s));
    REJECT(CFO_MSG_RESULT, true, "coverage", "RESULT: coverage of 8193 bytes", mp_str(&b, s));
    free(s);

    REJECT(CFO_MSG_ACK, false, "attempt", "ACK: attempt 0", mp_uint(&b, 0));
    REJECT(CFO_MSG_CANCEL, false, "attempt", "CANCEL: attempt 1000001", mp_uint(&b, 1000001));
    s = repeat('x', 1025);
    REJECT(CFO_MSG_BYE, false, "reason", "BYE: reason of 1025 bytes", mp_str(&b, s));
    REJECT(CFO_MSG_RESET, false, "reason", "RESET: reason of 1025 bytes", mp_str(&b, s));
    free(s);
    REJECT(CFO_MSG_RESET, false, "reason", "RESET: reason holds a NUL", mp_strn(&b, "x\0", 2));
    cfo_buf_fini(&b);
}

/* ---- random mutation ---- */

static uint64_t g_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static void mutate(cfo_buf *b)
{
    static const unsigned char interesting[] = {
        0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xc4, 0xc6,
        0xc9, 0xca, 0xcb, 0xcf, 0xd3, 0xd8, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};
    size_t pos = b->len ? (size_t)(rnd() % b->len) : 0;
    switch (rnd() % 5) {
    case 0: /* flip a bit */
        if (b->len)
            b->data[pos] ^= (char)(1u << (rnd() % 8));
        break;
    case 1: /* overwrite with a msgpack tag */
        if (b->len)
            b->data[pos] = (char)interesting[rnd() % sizeof interesting];
        break;
    case 2: { /* insert */
        unsigned char c =
            (rnd() & 1) ? interesting[rnd() % sizeof interesting] : (unsigned char)rnd();
        cfo_buf_reserve(b, 1);
        memmove(b->data + pos + 1, b->data + pos, b->len - pos);
        b->data[pos] = (char)c;
        b->len++;
        break;
    }
    case 3: /* delete */
        if (b->len) {
            memmove(b->data + pos, b->data + pos + 1, b->len - pos - 1);
            b->len--;
        }
        break;
    default: /* random byte */
        if (b->len)
            b->data[pos] = (char)rnd();
        break;
    }
}

static void test_mutation(void **state)
{
    (void)state;
    cfo_buf seeds_h[NTYPICAL], seeds_p[NTYPICAL];
    bool has_p[NTYPICAL];
    for (size_t i = 0; i < NTYPICAL; i++) {
        cfo_msg m;
        sample(TYPICAL[i], &m);
        cfo_buf_init(&seeds_h[i]);
        cfo_buf_init(&seeds_p[i]);
        encode_ok(&m, &seeds_h[i], &seeds_p[i]);
        has_p[i] = m.type == CFO_MSG_RESULT;
        cfo_msg_fini(&m);
    }
    const char *env = getenv("CFO_PROTO_SEED");
    if (env != NULL && *env)
        g_rng = strtoull(env, NULL, 0) | 1;
    uint64_t seed = g_rng;
    size_t accepted = 0;
    cfo_buf h, p, h2, p2;
    cfo_buf_init(&h);
    cfo_buf_init(&p);
    cfo_buf_init(&h2);
    cfo_buf_init(&p2);
    for (long it = 0; it < 200000; it++) {
        size_t k = (size_t)(rnd() % NTYPICAL);
        cfo_buf_reset(&h);
        cfo_buf_append(&h, seeds_h[k].data, seeds_h[k].len);
        cfo_buf_reset(&p);
        cfo_buf_append(&p, seeds_p[k].data, seeds_p[k].len);
        bool with_p = has_p[k];
        int nmut = 1 + (int)(rnd() % 4);
        for (int j = 0; j < nmut; j++) {
            uint64_t r = rnd() % 16;
            if (r == 0)
                with_p = !with_p; /* a payload appears or goes missing */
            else if (with_p && (r & 1))
                mutate(&p);
            else
                mutate(&h);
        }
        /* Exact-size copies, so ASan sees any read past the end. */
        char *hx = cfo_xmalloc(h.len ? h.len : 1);
        memcpy(hx, h.data, h.len);
        char *px = cfo_xmalloc(p.len ? p.len : 1);
        memcpy(px, p.data, p.len);
        cfo_msg m;
        cfo_diag d = {{0}};
        cfo_err err = cfo_msg_decode(hx, h.len, with_p ? px : NULL, with_p ? p.len : 0, &m, &d);
        if (err == CFO_OK) {
            accepted++;
            cfo_diag d2 = {{0}};
            if (cfo_msg_encode(&m, &h2, &p2, &d2) != CFO_OK)
                fail_msg("seed %llu it %ld: decoded but does not encode: %s",
                         (unsigned long long)seed, it, d2.msg);
            cfo_msg back;
            if (cfo_msg_decode(h2.data, h2.len, payload_of(&m, &p2), p2.len, &back, &d2) != CFO_OK)
                fail_msg("seed %llu it %ld: re-encoding does not decode: %s",
                         (unsigned long long)seed, it, d2.msg);
            assert_msg_equal(&m, &back);
            cfo_msg_fini(&back);
            cfo_msg_fini(&m);
        } else {
            assert_int_equal(err, CFO_EPARSE);
            assert_true(d.msg[0] != '\0');
        }
        free(hx);
        free(px);
    }
    /* The success path was exercised too, not only rejections. */
    fprintf(stderr, "mutation: %zu of 200000 accepted\n", accepted);
    assert_true(accepted > 100);
    cfo_buf_fini(&h);
    cfo_buf_fini(&p);
    cfo_buf_fini(&h2);
    cfo_buf_fini(&p2);
    for (size_t i = 0; i < NTYPICAL; i++) {
        cfo_buf_fini(&seeds_h[i]);
        cfo_buf_fini(&seeds_p[i]);
    }
}

/* ---- ZeroMQ framing ---- */

typedef struct pair {
    void *ctx;
    void *router;
    void *dealer;
} pair;

#define DEALER_ID "worker-7"

static void pair_open(pair *pr, const char *endpoint)
{
    cfo_diag d = {{0}};
    pr->ctx = zmq_ctx_new();
    assert_non_null(pr->ctx);
    pr->router = zmq_socket(pr->ctx, ZMQ_ROUTER);
    pr->dealer = zmq_socket(pr->ctx, ZMQ_DEALER);
    assert_non_null(pr->router);
    assert_non_null(pr->dealer);
    assert_int_equal(cfo_wire_setup(pr->router, true, &d), CFO_OK);
    assert_int_equal(cfo_wire_setup(pr->dealer, false, &d), CFO_OK);
    assert_int_equal(zmq_setsockopt(pr->dealer, ZMQ_ROUTING_ID, DEALER_ID, strlen(DEALER_ID)), 0);
    assert_int_equal(zmq_bind(pr->router, endpoint), 0);
}

static void pair_close(pair *pr)
{
    zmq_close(pr->dealer);
    zmq_close(pr->router);
    zmq_ctx_term(pr->ctx);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Receives with a bounded wait for the message to arrive. */
static cfo_err recv_wait(void *socket, bool router, cfo_wire_in *in, cfo_diag *d)
{
    int64_t deadline = now_ms() + 10000;
    for (;;) {
        cfo_err err = cfo_wire_recv(socket, router, in, d);
        if (err != CFO_ENOTFOUND || now_ms() > deadline)
            return err;
        zmq_pollitem_t it = {.socket = socket, .events = ZMQ_POLLIN};
        zmq_poll(&it, 1, 100);
    }
}

static void test_wire_setup(void **state)
{
    (void)state;
    pair pr;
    pair_open(&pr, "inproc://proto-setup");
    int64_t maxmsg = 0;
    int linger = -1;
    size_t len = sizeof maxmsg;
    assert_int_equal(zmq_getsockopt(pr.router, ZMQ_MAXMSGSIZE, &maxmsg, &len), 0);
    assert_true(maxmsg == CFO_PROTO_MAX_MSGSIZE);
    len = sizeof linger;
    assert_int_equal(zmq_getsockopt(pr.dealer, ZMQ_LINGER, &linger, &len), 0);
    assert_int_equal(linger, 0);
    pair_close(&pr);
}

static void test_wire_round_trip(void **state)
{
    (void)state;
    pair pr;
    pair_open(&pr, "inproc://proto-round-trip");
    cfo_wire_in in;
    cfo_diag d = {{0}};
    /* Nothing sent yet: nothing to receive, on either side. */
    assert_int_equal(cfo_wire_recv(pr.router, true, &in, &d), CFO_ENOTFOUND);
    assert_int_equal(zmq_connect(pr.dealer, "inproc://proto-round-trip"), 0);
    assert_int_equal(cfo_wire_recv(pr.dealer, false, &in, &d), CFO_ENOTFOUND);

    for (int k = 0; k < NSAMPLES; k++) {
        cfo_msg m;
        sample(k, &m);
        if (cfo_wire_send(pr.dealer, NULL, 0, &m, &d) != CFO_OK)
            fail_msg("send %d: %s", k, d.msg);
        if (recv_wait(pr.router, true, &in, &d) != CFO_OK)
            fail_msg("recv %d: %s", k, d.msg);
        assert_int_equal(in.id_len, strlen(DEALER_ID));
        assert_memory_equal(in.routing_id, DEALER_ID, in.id_len);
        assert_msg_equal(&m, &in.msg);
        cfo_msg_fini(&in.msg);

        /* And back to the worker it came from. */
        if (cfo_wire_send(pr.router, DEALER_ID, strlen(DEALER_ID), &m, &d) != CFO_OK)
            fail_msg("send back %d: %s", k, d.msg);
        if (recv_wait(pr.dealer, false, &in, &d) != CFO_OK)
            fail_msg("recv back %d: %s", k, d.msg);
        assert_int_equal(in.id_len, 0);
        assert_msg_equal(&m, &in.msg);
        cfo_msg_fini(&in.msg);
        cfo_msg_fini(&m);
    }
    assert_int_equal(cfo_wire_recv(pr.router, true, &in, &d), CFO_ENOTFOUND);

    /* ROUTER_MANDATORY: a peer that is not there is an error, not a silent
     * drop, and one the caller can tell from a peer that is only full. */
    cfo_msg hb = {.type = CFO_MSG_HEARTBEAT};
    assert_int_equal(cfo_wire_send(pr.router, "nobody", 6, &hb, &d), CFO_ENOTFOUND);
    assert_non_null(strstr(d.msg, "unreachable"));
    /* An invalid message is never sent. */
    cfo_msg bad = {.type = CFO_MSG_CREDIT};
    assert_int_equal(cfo_wire_send(pr.dealer, NULL, 0, &bad, &d), CFO_EINVAL);
    assert_int_equal(cfo_wire_recv(pr.router, true, &in, &d), CFO_ENOTFOUND);
    pair_close(&pr);
}

static void send_raw(void *socket, const void *p, size_t n, bool more)
{
    assert_int_equal(zmq_send(socket, p, n, more ? ZMQ_SNDMORE : 0), (int)n);
}

/* After a rejected message the socket must be at the next message's start. */
static void expect_heartbeat_next(pair *pr)
{
    cfo_msg hb = {.type = CFO_MSG_HEARTBEAT};
    cfo_diag d = {{0}};
    cfo_wire_in in;
    assert_int_equal(cfo_wire_send(pr->dealer, NULL, 0, &hb, &d), CFO_OK);
    if (recv_wait(pr->router, true, &in, &d) != CFO_OK)
        fail_msg("valid message after a rejected one: %s", d.msg);
    assert_int_equal(in.msg.type, CFO_MSG_HEARTBEAT);
    assert_int_equal(cfo_wire_recv(pr->router, true, &in, &d), CFO_ENOTFOUND);
}

static void expect_wire_reject(pair *pr, const char *expect)
{
    static const cfo_msg zero;
    cfo_wire_in in;
    cfo_diag d = {{0}};
    assert_int_equal(recv_wait(pr->router, true, &in, &d), CFO_EPARSE);
    if (strstr(d.msg, expect) == NULL)
        fail_msg("expected '%s' in '%s'", expect, d.msg);
    /* The sender is known, so it can be dropped. */
    assert_int_equal(in.id_len, strlen(DEALER_ID));
    assert_memory_equal(in.routing_id, DEALER_ID, in.id_len);
    assert_memory_equal(&in.msg, &zero, sizeof zero);
    expect_heartbeat_next(pr);
}

static void test_wire_hostile_frames(void **state)
{
    (void)state;
    pair pr;
    pair_open(&pr, "inproc://proto-frames");
    assert_int_equal(zmq_connect(pr.dealer, "inproc://proto-frames"), 0);
    static const char hb[] = "\x92\x01\x08";

    /* 100,000 frames: all read, none kept, the next message is fine. */
    send_raw(pr.dealer, hb, 3, true);
    for (int i = 1; i < 100000; i++)
        send_raw(pr.dealer, "x", 1, i + 1 < 100000);
    expect_wire_reject(&pr, "message of 100000 frames exceeds 4");

    /* Within the frame cap, more than a header and a payload. */
    send_raw(pr.dealer, hb, 3, true);
    send_raw(pr.dealer, "\x90", 1, true);
    send_raw(pr.dealer, "\x90", 1, false);
    expect_wire_reject(&pr, "message of 3 frames");

    /* Inproc ignores ZMQ_MAXMSGSIZE, so the frame limits are ours to keep. */
    char *big = cfo_xcalloc(1, CFO_PROTO_MAX_PAYLOAD + 1);
    send_raw(pr.dealer, big, CFO_PROTO_MAX_HEADER + 1, false);
    expect_wire_reject(&pr, "header frame of 65537 bytes");
    send_raw(pr.dealer, RESULT_HDR, sizeof RESULT_HDR, true);
    send_raw(pr.dealer, big, CFO_PROTO_MAX_PAYLOAD + 1, false);
    expect_wire_reject(&pr, "payload frame of 262145 bytes");
    free(big);

    /* Decoding failures, with and without a payload frame. */
    send_raw(pr.dealer, "\xdd\xff\x00\x00\x00", 5, false);
    expect_wire_reject(&pr, "more elements than bytes left");
    send_raw(pr.dealer, "", 0, false);
    expect_wire_reject(&pr, "header: empty frame");
    send_raw(pr.dealer, hb, 3, true);
    send_raw(pr.dealer, "", 0, false);
    expect_wire_reject(&pr, "HEARTBEAT: unexpected payload frame");
    send_raw(pr.dealer, RESULT_HDR, sizeof RESULT_HDR, false);
    expect_wire_reject(&pr, "RESULT: missing payload frame");
    pair_close(&pr);
}

/* Waits for a monitor event of the given kind; false on timeout. */
static bool wait_event(void *mon, int want)
{
    int64_t deadline = now_ms() + 10000;
    while (now_ms() < deadline) {
        zmq_pollitem_t it = {.socket = mon, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        zmq_msg_init(&addr);
        if (zmq_msg_recv(&ev, mon, 0) < 0)
            continue;
        assert_true(zmq_msg_more(&ev));
        assert_true(zmq_msg_recv(&addr, mon, 0) >= 0);
        uint16_t event;
        memcpy(&event, zmq_msg_data(&ev), sizeof event);
        zmq_msg_close(&ev);
        zmq_msg_close(&addr);
        if (event == want)
            return true;
    }
    return false;
}

static void test_wire_oversized_tcp(void **state)
{
    (void)state;
    pair pr;
    pair_open(&pr, "tcp://127.0.0.1:0");
    char endpoint[256];
    size_t len = sizeof endpoint;
    assert_int_equal(zmq_getsockopt(pr.router, ZMQ_LAST_ENDPOINT, endpoint, &len), 0);
    assert_int_equal(zmq_socket_monitor(pr.router, "inproc://proto-monitor",
                                        ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED),
                     0);
    void *mon = zmq_socket(pr.ctx, ZMQ_PAIR);
    assert_int_equal(zmq_connect(mon, "inproc://proto-monitor"), 0);
    /* The sender accepts large messages; the receiver must not. */
    int64_t unlimited = -1;
    assert_int_equal(zmq_setsockopt(pr.dealer, ZMQ_MAXMSGSIZE, &unlimited, sizeof unlimited), 0);
    assert_int_equal(zmq_connect(pr.dealer, endpoint), 0);
    assert_true(wait_event(mon, ZMQ_EVENT_ACCEPTED));

    char *big = cfo_xcalloc(1, CFO_PROTO_MAX_MSGSIZE + 1);
    send_raw(pr.dealer, big, CFO_PROTO_MAX_MSGSIZE + 1, false);
    free(big);
    assert_true(wait_event(mon, ZMQ_EVENT_DISCONNECTED));
    cfo_wire_in in;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_wire_recv(pr.router, true, &in, &d), CFO_ENOTFOUND);

    /* The worker reconnects on its own and is served as before. A heartbeat
     * sent before the worker noticed the broken connection may be lost with
     * it, so it is offered again until one arrives. */
    cfo_msg hb = {.type = CFO_MSG_HEARTBEAT};
    int64_t deadline = now_ms() + 10000;
    cfo_err err = CFO_ENOTFOUND;
    while (err == CFO_ENOTFOUND && now_ms() < deadline) {
        assert_int_equal(cfo_wire_send(pr.dealer, NULL, 0, &hb, &d), CFO_OK);
        int64_t until = now_ms() + 500;
        while ((err = cfo_wire_recv(pr.router, true, &in, &d)) == CFO_ENOTFOUND &&
               now_ms() < until) {
            zmq_pollitem_t it = {.socket = pr.router, .events = ZMQ_POLLIN};
            zmq_poll(&it, 1, 50);
        }
    }
    if (err != CFO_OK)
        fail_msg("no message after the reconnect: %s", d.msg);
    assert_int_equal(in.msg.type, CFO_MSG_HEARTBEAT);
    assert_int_equal(in.id_len, strlen(DEALER_ID));
    zmq_close(mon);
    pair_close(&pr);
}

int main(void)
{
    specs_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),          cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_decode_details),      cmocka_unit_test(test_encode_refuses),
        cmocka_unit_test(test_hostile_bytes),       cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_spec_defaults_valid), cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_out_of_range),        cmocka_unit_test(test_mutation),
        cmocka_unit_test(test_wire_setup),          cmocka_unit_test(test_wire_round_trip),
        cmocka_unit_test(test_wire_hostile_frames), cmocka_unit_test(test_wire_oversized_tcp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
