/* cfo_proto.c -- protocol messages: msgpack encoding and a bounded, validating decoder. */
#include "cfo_proto.h"

#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Field ranges of cfo_proto.h, shared by the encoder and the decoder so that
 * whatever one accepts the other does too. */
#define WORKER_ID_MAX 128
#define RUN_ID_MAX 256
#define REASON_MAX 1024
#define HEARTBEAT_MIN 10
#define HEARTBEAT_MAX 60000
#define THIRTY_DAYS_MS (30ULL * 24 * 3600 * 1000)
#define EXIT_CODE_MIN (-1)
#define EXIT_CODE_MAX 255
#define SIGNAL_MAX 64

/* The largest legitimate header (HELLO with every pending result) holds about
 * 12,600 objects; anything beyond this cap is not ours. */
#define SCAN_MAX_OBJECTS 16384

const char *cfo_msg_type_name(cfo_msg_type t)
{
    switch (t) {
    case CFO_MSG_HELLO:
        return "HELLO";
    case CFO_MSG_WELCOME:
        return "WELCOME";
    case CFO_MSG_CREDIT:
        return "CREDIT";
    case CFO_MSG_TASK:
        return "TASK";
    case CFO_MSG_RESULT:
        return "RESULT";
    case CFO_MSG_ACK:
        return "ACK";
    case CFO_MSG_CANCEL:
        return "CANCEL";
    case CFO_MSG_HEARTBEAT:
        return "HEARTBEAT";
    case CFO_MSG_BYE:
        return "BYE";
    case CFO_MSG_RESET:
        return "RESET";
    }
    return "UNKNOWN";
}

/* Number of header fields after [version, type], per type. */
static size_t header_fields(cfo_msg_type t)
{
    switch (t) {
    case CFO_MSG_HELLO:
        return 4;
    case CFO_MSG_WELCOME:
        return 2;
    case CFO_MSG_CREDIT:
        return 1;
    case CFO_MSG_TASK:
        return 8;
    case CFO_MSG_RESULT:
    case CFO_MSG_ACK:
    case CFO_MSG_CANCEL:
        return 2;
    case CFO_MSG_HEARTBEAT:
        return 0;
    case CFO_MSG_BYE:
    case CFO_MSG_RESET:
        return 1;
    }
    return 0;
}

#define RESULT_PAYLOAD_FIELDS 15

void cfo_msg_fini(cfo_msg *m)
{
    if (m == NULL)
        return;
    switch (m->type) {
    case CFO_MSG_HELLO:
        free(m->u.hello.worker_id);
        cfo_strv_fini(&m->u.hello.fuzzers);
        free(m->u.hello.pending);
        break;
    case CFO_MSG_WELCOME:
        free(m->u.welcome.run_id);
        break;
    case CFO_MSG_TASK:
        cfo_free_all(m->u.task.fuzzer, m->u.task.branch, m->u.task.commit, m->u.task.target);
        break;
    case CFO_MSG_RESULT:
        cfo_outcome_fini(&m->u.result.outcome);
        break;
    case CFO_MSG_BYE:
    case CFO_MSG_RESET:
        free(m->u.reason.reason);
        break;
    case CFO_MSG_CREDIT:
    case CFO_MSG_ACK:
    case CFO_MSG_CANCEL:
    case CFO_MSG_HEARTBEAT:
        break;
    }
    memset(m, 0, sizeof *m);
}

/* ---- validation shared by encode and decode ---- */

typedef struct vctx {
    const char *tname;
    cfo_err err; /* what a failure returns: EINVAL encoding, EPARSE decoding */
    cfo_diag *d;
} vctx;

static bool fail(vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records why in c->d and returns false, for && chains of checks. */
static bool fail(vctx *c, const char *fmt, ...)
{
    if (c->d != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->d->msg, sizeof c->d->msg, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool check_range(vctx *c, const char *field, uint64_t v, uint64_t min, uint64_t max)
{
    if (v >= min && v <= max)
        return true;
    cfo_diag_set(c->d, c->err, "%s: %s %llu out of range (%llu..%llu)", c->tname, field,
                 (unsigned long long)v, (unsigned long long)min, (unsigned long long)max);
    return false;
}

static bool check_srange(vctx *c, const char *field, int64_t v, int64_t min, int64_t max)
{
    if (v >= min && v <= max)
        return true;
    cfo_diag_set(c->d, c->err, "%s: %s %lld out of range (%lld..%lld)", c->tname, field,
                 (long long)v, (long long)min, (long long)max);
    return false;
}

static bool worker_id_char(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == ':' || ch == '@' || ch == '-';
}

static bool hex_char(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* A NULL string counts as empty, so optional text may be left unset. */
static bool check_str(vctx *c, const char *field, const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > max) {
        cfo_diag_set(c->d, c->err, "%s: %s of %zu bytes out of range (%zu..%zu)", c->tname, field,
                     n, min, max);
        return false;
    }
    return true;
}

static bool check_worker_id(vctx *c, const char *s)
{
    if (!check_str(c, "worker_id", s, 1, WORKER_ID_MAX))
        return false;
    for (const char *p = s; *p; p++) {
        if (!worker_id_char((unsigned char)*p)) {
            cfo_diag_set(c->d, c->err, "%s: worker_id has a character outside [A-Za-z0-9._:@-]",
                         c->tname);
            return false;
        }
    }
    return true;
}

static bool check_commit(vctx *c, const char *s)
{
    size_t n = 0;
    if (s != NULL)
        while (s[n] && hex_char((unsigned char)s[n]))
            n++;
    if (s == NULL || s[n] != '\0' || (n != 40 && n != 64)) {
        cfo_diag_set(c->d, c->err, "%s: commit is not a hex sha", c->tname);
        return false;
    }
    return true;
}

static bool check_ref(vctx *c, uint32_t attempt)
{
    return check_range(c, "attempt", attempt, 1, CFO_RECORD_MAX_ATTEMPT);
}

static bool validate_hello(vctx *c, const cfo_msg_hello *h)
{
    if (!check_worker_id(c, h->worker_id) ||
        !check_range(c, "slots", h->slots, 1, CFO_PROTO_MAX_SLOTS) ||
        !check_range(c, "fuzzers count", h->fuzzers.n, 0, CFO_PROTO_MAX_FUZZERS) ||
        !check_range(c, "pending count", h->npending, 0, CFO_PROTO_MAX_PENDING))
        return false;
    if (h->fuzzers.n > 0 && h->fuzzers.v == NULL)
        return fail(c, "%s: fuzzers is NULL", c->tname);
    for (size_t i = 0; i < h->fuzzers.n; i++)
        if (!check_str(c, "fuzzer", h->fuzzers.v[i], 1, CFO_PROTO_MAX_STRING))
            return false;
    if (h->npending > 0 && h->pending == NULL)
        return fail(c, "%s: pending is NULL", c->tname);
    for (size_t i = 0; i < h->npending; i++)
        if (!check_range(c, "pending attempt", h->pending[i].attempt, 1, CFO_RECORD_MAX_ATTEMPT))
            return false;
    return true;
}

static bool validate_result(vctx *c, const cfo_msg_result *m)
{
    const cfo_outcome *r = &m->outcome;
    if (!check_ref(c, r->attempt) ||
        !check_range(c, "status", (uint64_t)r->status, 0, CFO_STATUS_COUNT - 1) ||
        !check_srange(c, "count", r->count, 0, INT64_MAX) ||
        !check_srange(c, "findings", r->findings, 0, INT64_MAX) ||
        !check_srange(c, "end_wall_ms", r->end_wall_ms, 0, INT64_MAX) ||
        !check_srange(c, "exit_code", r->exit_code, EXIT_CODE_MIN, EXIT_CODE_MAX) ||
        !check_srange(c, "signal", r->term_signal, 0, SIGNAL_MAX) ||
        !check_str(c, "command", r->command, 0, CFO_PROTO_MAX_STRING) ||
        !check_str(c, "summary", r->summary, 0, CFO_PROTO_MAX_STRING) ||
        !check_str(c, "crashes", r->crashes, 0, CFO_PROTO_MAX_STRING) ||
        !check_str(c, "coverage", r->coverage, 0, CFO_PROTO_MAX_STRING) ||
        !check_srange(c, "max_rss_kb", r->max_rss_kb, 0, INT64_MAX))
        return false;
    if (!isfinite(r->cpu) || r->cpu < 0) {
        cfo_diag_set(c->d, c->err, "%s: cpu must be a finite number >= 0", c->tname);
        return false;
    }
    if (!isfinite(r->duration) || r->duration < 0) {
        cfo_diag_set(c->d, c->err, "%s: duration %g is not a finite number >= 0", c->tname,
                     r->duration);
        return false;
    }
    if (m->tail_len > CFO_PROTO_MAX_TAIL) {
        cfo_diag_set(c->d, c->err, "%s: tail of %zu bytes exceeds %d", c->tname, m->tail_len,
                     CFO_PROTO_MAX_TAIL);
        return false;
    }
    if (m->tail_len > 0 && r->tail == NULL)
        return fail(c, "%s: tail is NULL", c->tname);
    return true;
}

static bool validate(vctx *c, const cfo_msg *m)
{
    switch (m->type) {
    case CFO_MSG_HELLO:
        return validate_hello(c, &m->u.hello);
    case CFO_MSG_WELCOME:
        return check_str(c, "run_id", m->u.welcome.run_id, 1, RUN_ID_MAX) &&
               check_range(c, "heartbeat_ms", m->u.welcome.heartbeat_ms, HEARTBEAT_MIN,
                           HEARTBEAT_MAX);
    case CFO_MSG_CREDIT:
        return check_range(c, "n", m->u.credit.n, 1, CFO_PROTO_MAX_SLOTS);
    case CFO_MSG_TASK:
        return check_ref(c, m->u.task.attempt) &&
               check_str(c, "fuzzer", m->u.task.fuzzer, 1, CFO_PROTO_MAX_STRING) &&
               check_str(c, "branch", m->u.task.branch, 1, CFO_PROTO_MAX_STRING) &&
               check_commit(c, m->u.task.commit) &&
               check_str(c, "target", m->u.task.target, 0, CFO_PROTO_MAX_STRING) &&
               check_range(c, "timeout_ms", m->u.task.timeout_ms, 1, THIRTY_DAYS_MS) &&
               check_range(c, "deadline_ms", m->u.task.deadline_ms, 0, THIRTY_DAYS_MS);
    case CFO_MSG_RESULT:
        return validate_result(c, &m->u.result);
    case CFO_MSG_ACK:
    case CFO_MSG_CANCEL:
        return check_ref(c, m->u.ref.attempt);
    case CFO_MSG_HEARTBEAT:
        return true;
    case CFO_MSG_BYE:
    case CFO_MSG_RESET:
        return check_str(c, "reason", m->u.reason.reason, 0, REASON_MAX);
    }
    cfo_diag_set(c->d, c->err, "unknown message type %d", (int)m->type);
    return false;
}

/* ---- encoding ---- */

static int buf_write(void *data, const char *buf, size_t len)
{
    cfo_buf_append(data, buf, len);
    return 0;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    msgpack_pack_str(pk, n);
    if (n)
        msgpack_pack_str_body(pk, s, n);
}

static void pack_head(msgpack_packer *pk, cfo_msg_type t)
{
    msgpack_pack_array(pk, 2 + header_fields(t));
    msgpack_pack_uint32(pk, CFO_PROTO_VERSION);
    msgpack_pack_uint32(pk, (uint32_t)t);
}

static void pack_header(msgpack_packer *pk, const cfo_msg *m)
{
    pack_head(pk, m->type);
    switch (m->type) {
    case CFO_MSG_HELLO: {
        const cfo_msg_hello *h = &m->u.hello;
        pack_str(pk, h->worker_id);
        msgpack_pack_uint32(pk, h->slots);
        msgpack_pack_array(pk, h->fuzzers.n);
        for (size_t i = 0; i < h->fuzzers.n; i++)
            pack_str(pk, h->fuzzers.v[i]);
        msgpack_pack_array(pk, h->npending);
        for (size_t i = 0; i < h->npending; i++) {
            msgpack_pack_array(pk, 2);
            msgpack_pack_uint64(pk, h->pending[i].task_id);
            msgpack_pack_uint32(pk, h->pending[i].attempt);
        }
        break;
    }
    case CFO_MSG_WELCOME:
        pack_str(pk, m->u.welcome.run_id);
        msgpack_pack_uint32(pk, m->u.welcome.heartbeat_ms);
        break;
    case CFO_MSG_CREDIT:
        msgpack_pack_uint32(pk, m->u.credit.n);
        break;
    case CFO_MSG_TASK: {
        const cfo_msg_task *t = &m->u.task;
        msgpack_pack_uint64(pk, t->task_id);
        msgpack_pack_uint32(pk, t->attempt);
        pack_str(pk, t->fuzzer);
        pack_str(pk, t->branch);
        pack_str(pk, t->commit);
        pack_str(pk, t->target);
        msgpack_pack_uint64(pk, t->timeout_ms);
        msgpack_pack_uint64(pk, t->deadline_ms);
        break;
    }
    case CFO_MSG_RESULT:
        msgpack_pack_uint64(pk, m->u.result.task_id);
        msgpack_pack_uint32(pk, m->u.result.outcome.attempt);
        break;
    case CFO_MSG_ACK:
    case CFO_MSG_CANCEL:
        msgpack_pack_uint64(pk, m->u.ref.task_id);
        msgpack_pack_uint32(pk, m->u.ref.attempt);
        break;
    case CFO_MSG_HEARTBEAT:
        break;
    case CFO_MSG_BYE:
    case CFO_MSG_RESET:
        pack_str(pk, m->u.reason.reason);
        break;
    }
}

static void pack_result_payload(msgpack_packer *pk, const cfo_msg_result *m)
{
    const cfo_outcome *r = &m->outcome;
    msgpack_pack_array(pk, RESULT_PAYLOAD_FIELDS);
    msgpack_pack_uint32(pk, (uint32_t)r->status);
    msgpack_pack_int64(pk, r->count);
    msgpack_pack_int64(pk, r->findings);
    msgpack_pack_double(pk, r->duration);
    msgpack_pack_int64(pk, r->end_wall_ms);
    msgpack_pack_int32(pk, r->exit_code);
    msgpack_pack_int32(pk, r->term_signal);
    pack_str(pk, r->command);
    pack_str(pk, r->summary);
    msgpack_pack_bin(pk, m->tail_len);
    if (m->tail_len)
        msgpack_pack_bin_body(pk, r->tail, m->tail_len);
    if (r->has_usage)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    msgpack_pack_double(pk, r->cpu);
    msgpack_pack_int64(pk, r->max_rss_kb);
    pack_str(pk, r->crashes);
    pack_str(pk, r->coverage);
}

cfo_err cfo_msg_encode(const cfo_msg *m, cfo_buf *header, cfo_buf *payload, cfo_diag *d)
{
    cfo_buf_reset(header);
    if (payload != NULL)
        cfo_buf_reset(payload);
    vctx c = {.tname = cfo_msg_type_name(m->type), .err = CFO_EINVAL, .d = d};
    if (!validate(&c, m))
        return CFO_EINVAL;
    if (m->type == CFO_MSG_RESULT && payload == NULL)
        return cfo_diag_set(d, CFO_EINVAL, "RESULT: no payload buffer to encode into");

    msgpack_packer pk;
    msgpack_packer_init(&pk, header, buf_write);
    pack_header(&pk, m);
    if (header->len > CFO_PROTO_MAX_HEADER) {
        cfo_err err = cfo_diag_set(d, CFO_EINVAL, "%s: header of %zu bytes exceeds %d", c.tname,
                                   header->len, CFO_PROTO_MAX_HEADER);
        cfo_buf_reset(header);
        return err;
    }
    if (m->type == CFO_MSG_RESULT) {
        msgpack_packer_init(&pk, payload, buf_write);
        pack_result_payload(&pk, &m->u.result);
        /* Unreachable with today's limits (strings and tail are capped far
         * below), kept so a change of limits cannot send what the peer drops. */
        if (payload->len > CFO_PROTO_MAX_PAYLOAD) {
            cfo_err err = cfo_diag_set(d, CFO_EINVAL, "RESULT: payload of %zu bytes exceeds %d",
                                       payload->len, CFO_PROTO_MAX_PAYLOAD);
            cfo_buf_reset(header);
            cfo_buf_reset(payload);
            return err;
        }
    }
    return CFO_OK;
}

/* ---- pre-scan of outside bytes ---- */

/* Walks the msgpack encoding without building anything, so that msgpack-c,
 * which allocates a container's elements before it reads them, only ever
 * sees input whose every declared size is backed by bytes that are there. */
typedef struct scan {
    const unsigned char *p;
    size_t len;
    size_t off;
    size_t objects;
    const char *what;
    cfo_diag *d;
} scan;

static bool scan_fail(scan *s, const char *why)
{
    cfo_diag_set(s->d, CFO_EPARSE, "%s: %s at byte %zu", s->what, why, s->off);
    return false;
}

static size_t scan_left(const scan *s)
{
    return s->len - s->off;
}

/* Reads a big-endian length of w bytes. */
static bool scan_uint(scan *s, size_t w, uint64_t *out)
{
    if (scan_left(s) < w)
        return scan_fail(s, "truncated msgpack");
    uint64_t v = 0;
    for (size_t i = 0; i < w; i++)
        v = (v << 8) | s->p[s->off + i];
    s->off += w;
    *out = v;
    return true;
}

static bool scan_skip(scan *s, uint64_t n)
{
    if (n > scan_left(s))
        return scan_fail(s, "truncated msgpack (a length exceeds the bytes left)");
    s->off += (size_t)n;
    return true;
}

static bool scan_object(scan *s, int depth);

static bool scan_container(scan *s, uint64_t n, unsigned per, int depth)
{
    if (depth + 1 > CFO_PROTO_MAX_DEPTH)
        return scan_fail(s, "containers nested too deep");
    /* Every element takes at least one byte (a map entry two). */
    if (n > scan_left(s) / per)
        return scan_fail(s, "container declares more elements than bytes left");
    for (uint64_t i = 0; i < n * per; i++)
        if (!scan_object(s, depth + 1))
            return false;
    return true;
}

static bool scan_lenpref(scan *s, size_t w, uint64_t extra)
{
    uint64_t n;
    return scan_uint(s, w, &n) && scan_skip(s, n + extra);
}

/* How a value whose first byte is 0xc0 + i is skipped: by a fixed number
 * of bytes, or by a length field of n bytes (ext: plus its type byte), or
 * as an array or map of n-byte count. */
typedef enum skip_how { SKIP_BYTES, SKIP_LEN, SKIP_EXT, SKIP_ARRAY, SKIP_MAP, SKIP_BAD } skip_how;
typedef struct skip_rule {
    skip_how how;
    unsigned char n;
} skip_rule;

/* clang-format off */
static const skip_rule skip_rules[32] = {
    /* c0 nil, c1 never used, c2 false, c3 true */
    {SKIP_BYTES, 0}, {SKIP_BAD, 0}, {SKIP_BYTES, 0}, {SKIP_BYTES, 0},
    /* c4..c6 bin 8/16/32, c7..c9 ext 8/16/32 */
    {SKIP_LEN, 1}, {SKIP_LEN, 2}, {SKIP_LEN, 4}, {SKIP_EXT, 1}, {SKIP_EXT, 2}, {SKIP_EXT, 4},
    /* ca..cb float 32/64, cc..cf uint 8..64, d0..d3 int 8..64 */
    {SKIP_BYTES, 4}, {SKIP_BYTES, 8},
    {SKIP_BYTES, 1}, {SKIP_BYTES, 2}, {SKIP_BYTES, 4}, {SKIP_BYTES, 8},
    {SKIP_BYTES, 1}, {SKIP_BYTES, 2}, {SKIP_BYTES, 4}, {SKIP_BYTES, 8},
    /* d4..d8 fixext 1..16: a type byte and the data */
    {SKIP_BYTES, 2}, {SKIP_BYTES, 3}, {SKIP_BYTES, 5}, {SKIP_BYTES, 9}, {SKIP_BYTES, 17},
    /* d9..db str 8/16/32, dc..dd array 16/32, de..df map 16/32 */
    {SKIP_LEN, 1}, {SKIP_LEN, 2}, {SKIP_LEN, 4},
    {SKIP_ARRAY, 2}, {SKIP_ARRAY, 4}, {SKIP_MAP, 2}, {SKIP_MAP, 4},
};
/* clang-format on */

static bool scan_object(scan *s, int depth)
{
    if (scan_left(s) == 0)
        return scan_fail(s, "truncated msgpack");
    if (++s->objects > SCAN_MAX_OBJECTS)
        return scan_fail(s, "too many objects");
    unsigned b = s->p[s->off++];
    uint64_t n;
    if (b <= 0x7f || b >= 0xe0)
        return true; /* fixint */
    if (b <= 0x8f)
        return scan_container(s, b & 0x0f, 2, depth);
    if (b <= 0x9f)
        return scan_container(s, b & 0x0f, 1, depth);
    if (b <= 0xbf)
        return scan_skip(s, b & 0x1f);
    const skip_rule *r = &skip_rules[b - 0xc0];
    switch (r->how) {
    case SKIP_BYTES:
        return scan_skip(s, r->n);
    case SKIP_LEN:
        return scan_lenpref(s, r->n, 0);
    case SKIP_EXT:
        return scan_lenpref(s, r->n, 1);
    case SKIP_ARRAY:
        return scan_uint(s, r->n, &n) && scan_container(s, n, 1, depth);
    case SKIP_MAP:
        return scan_uint(s, r->n, &n) && scan_container(s, n, 2, depth);
    case SKIP_BAD:
        break;
    }
    s->off--;
    return scan_fail(s, "invalid msgpack byte");
}

static cfo_err prescan(const void *data, size_t len, const char *what, cfo_diag *d)
{
    scan s = {.p = data, .len = len, .what = what, .d = d};
    if (len == 0)
        return cfo_diag_set(d, CFO_EPARSE, "%s: empty frame", what);
    if (!scan_object(&s, 0))
        return CFO_EPARSE;
    if (s.off != len)
        return cfo_diag_set(d, CFO_EPARSE, "%s: %zu trailing bytes after the message", what,
                            len - s.off);
    return CFO_OK;
}

/* ---- decoding ---- */

static const char *obj_kind(const msgpack_object *o)
{
    switch ((int)o->type) {
    case MSGPACK_OBJECT_NIL:
        return "nil";
    case MSGPACK_OBJECT_BOOLEAN:
        return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return "an unsigned integer";
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "a negative integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "a float";
    case MSGPACK_OBJECT_STR:
        return "a string";
    case MSGPACK_OBJECT_ARRAY:
        return "an array";
    case MSGPACK_OBJECT_MAP:
        return "a map";
    case MSGPACK_OBJECT_BIN:
        return "binary";
    case MSGPACK_OBJECT_EXT:
        return "an extension";
    default:
        return "unknown";
    }
}

static bool wrong_type(vctx *c, const char *field, const char *want, const msgpack_object *o)
{
    cfo_diag_set(c->d, CFO_EPARSE, "%s: %s is %s, not %s", c->tname, field, obj_kind(o), want);
    return false;
}

static bool get_uint(vctx *c, const msgpack_object *o, const char *field, uint64_t min,
                     uint64_t max, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return wrong_type(c, field, "an unsigned integer", o);
    if (!check_range(c, field, o->via.u64, min, max))
        return false;
    *out = o->via.u64;
    return true;
}

static bool get_u32(vctx *c, const msgpack_object *o, const char *field, uint64_t min, uint64_t max,
                    uint32_t *out)
{
    uint64_t v;
    if (!get_uint(c, o, field, min, max, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool get_i64(vctx *c, const msgpack_object *o, const char *field, uint64_t max, int64_t *out)
{
    uint64_t v;
    if (!get_uint(c, o, field, 0, max, &v))
        return false;
    *out = (int64_t)v;
    return true;
}

/* The only field that may be negative. */
static bool get_exit_code(vctx *c, const msgpack_object *o, int *out)
{
    int64_t v;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > EXIT_CODE_MAX)
            return fail(c, "%s: exit_code %llu out of range (%d..%d)", c->tname,
                        (unsigned long long)o->via.u64, EXIT_CODE_MIN, EXIT_CODE_MAX);
        v = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        v = o->via.i64;
    } else {
        return wrong_type(c, "exit_code", "an integer", o);
    }
    if (!check_srange(c, "exit_code", v, EXIT_CODE_MIN, EXIT_CODE_MAX))
        return false;
    *out = (int)v;
    return true;
}

static bool get_double(vctx *c, const msgpack_object *o, const char *field, double *out)
{
    if (o->type != MSGPACK_OBJECT_FLOAT32 && o->type != MSGPACK_OBJECT_FLOAT64)
        return wrong_type(c, field, "a float", o);
    double v = o->via.f64;
    if (!isfinite(v) || v < 0) {
        cfo_diag_set(c->d, CFO_EPARSE, "%s: %s %g is not a finite number >= 0", c->tname, field, v);
        return false;
    }
    *out = v;
    return true;
}

/* Copies a str object; lengths and character sets are validate()'s job. */
static bool get_str(vctx *c, const msgpack_object *o, const char *field, char **out)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return wrong_type(c, field, "a string", o);
    size_t n = o->via.str.size;
    if (n > CFO_PROTO_MAX_STRING) {
        cfo_diag_set(c->d, CFO_EPARSE, "%s: %s of %zu bytes exceeds %d", c->tname, field, n,
                     CFO_PROTO_MAX_STRING);
        return false;
    }
    if (n > 0 && memchr(o->via.str.ptr, '\0', n) != NULL) {
        cfo_diag_set(c->d, CFO_EPARSE, "%s: %s holds a NUL byte", c->tname, field);
        return false;
    }
    *out = cfo_xstrndup(n ? o->via.str.ptr : "", n);
    return true;
}

static bool get_array(vctx *c, const msgpack_object *o, const char *field, size_t max,
                      const msgpack_object_array **out)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return wrong_type(c, field, "an array", o);
    if (o->via.array.size > max) {
        cfo_diag_set(c->d, CFO_EPARSE, "%s: %s has %u entries (at most %zu)", c->tname, field,
                     (unsigned)o->via.array.size, max);
        return false;
    }
    *out = &o->via.array;
    return true;
}

static bool decode_hello(vctx *c, const msgpack_object *f, cfo_msg_hello *h)
{
    const msgpack_object_array *fz, *pend;
    if (!get_str(c, &f[0], "worker_id", &h->worker_id) ||
        !get_u32(c, &f[1], "slots", 1, CFO_PROTO_MAX_SLOTS, &h->slots) ||
        !get_array(c, &f[2], "fuzzers", CFO_PROTO_MAX_FUZZERS, &fz) ||
        !get_array(c, &f[3], "pending", CFO_PROTO_MAX_PENDING, &pend))
        return false;
    cfo_strv_init(&h->fuzzers);
    for (uint32_t i = 0; i < fz->size; i++) {
        char *s;
        if (!get_str(c, &fz->ptr[i], "fuzzer", &s))
            return false;
        cfo_strv_push_owned(&h->fuzzers, s);
    }
    if (pend->size > 0)
        h->pending = cfo_xcalloc(pend->size, sizeof *h->pending);
    for (uint32_t i = 0; i < pend->size; i++) {
        const msgpack_object_array *e;
        if (!get_array(c, &pend->ptr[i], "pending entry", 2, &e))
            return false;
        if (e->size != 2)
            return fail(c, "%s: pending entry has %u fields, not 2", c->tname, (unsigned)e->size);
        if (!get_uint(c, &e->ptr[0], "pending task_id", 0, UINT64_MAX, &h->pending[i].task_id) ||
            !get_u32(c, &e->ptr[1], "pending attempt", 1, CFO_RECORD_MAX_ATTEMPT,
                     &h->pending[i].attempt))
            return false;
        h->npending++;
    }
    return true;
}

static bool decode_result_payload(vctx *c, const msgpack_object *p, cfo_msg_result *m)
{
    cfo_outcome *r = &m->outcome;
    if (p->type != MSGPACK_OBJECT_ARRAY)
        return wrong_type(c, "payload", "an array", p);
    if (p->via.array.size != RESULT_PAYLOAD_FIELDS)
        return fail(c, "%s: payload has %u fields, not %d", c->tname, (unsigned)p->via.array.size,
                    RESULT_PAYLOAD_FIELDS);
    const msgpack_object *f = p->via.array.ptr;
    uint64_t status, sig;
    if (!get_uint(c, &f[0], "status", 0, CFO_STATUS_COUNT - 1, &status) ||
        !get_i64(c, &f[1], "count", INT64_MAX, &r->count) ||
        !get_i64(c, &f[2], "findings", INT64_MAX, &r->findings) ||
        !get_double(c, &f[3], "duration", &r->duration) ||
        !get_i64(c, &f[4], "end_wall_ms", INT64_MAX, &r->end_wall_ms) ||
        !get_exit_code(c, &f[5], &r->exit_code) ||
        !get_uint(c, &f[6], "signal", 0, SIGNAL_MAX, &sig) ||
        !get_str(c, &f[7], "command", &r->command) || !get_str(c, &f[8], "summary", &r->summary))
        return false;
    r->status = (cfo_status)status;
    r->term_signal = (int)sig;
    if (f[9].type != MSGPACK_OBJECT_BIN)
        return wrong_type(c, "tail", "binary", &f[9]);
    size_t n = f[9].via.bin.size;
    if (n > CFO_PROTO_MAX_TAIL)
        return fail(c, "%s: tail of %zu bytes exceeds %d", c->tname, n, CFO_PROTO_MAX_TAIL);
    r->tail = cfo_xstrndup(n ? f[9].via.bin.ptr : "", n);
    m->tail_len = n;
    if (f[10].type != MSGPACK_OBJECT_BOOLEAN)
        return wrong_type(c, "has_usage", "a boolean", &f[10]);
    r->has_usage = f[10].via.boolean;
    return get_double(c, &f[11], "cpu", &r->cpu) &&
           get_i64(c, &f[12], "max_rss_kb", INT64_MAX, &r->max_rss_kb) &&
           get_str(c, &f[13], "crashes", &r->crashes) &&
           get_str(c, &f[14], "coverage", &r->coverage);
}

static bool decode_fields(vctx *c, const msgpack_object *f, const msgpack_object *payload,
                          cfo_msg *m)
{
    switch (m->type) {
    case CFO_MSG_HELLO:
        return decode_hello(c, f, &m->u.hello);
    case CFO_MSG_WELCOME:
        return get_str(c, &f[0], "run_id", &m->u.welcome.run_id) &&
               get_u32(c, &f[1], "heartbeat_ms", HEARTBEAT_MIN, HEARTBEAT_MAX,
                       &m->u.welcome.heartbeat_ms);
    case CFO_MSG_CREDIT:
        return get_u32(c, &f[0], "n", 1, CFO_PROTO_MAX_SLOTS, &m->u.credit.n);
    case CFO_MSG_TASK: {
        cfo_msg_task *t = &m->u.task;
        return get_uint(c, &f[0], "task_id", 0, UINT64_MAX, &t->task_id) &&
               get_u32(c, &f[1], "attempt", 1, CFO_RECORD_MAX_ATTEMPT, &t->attempt) &&
               get_str(c, &f[2], "fuzzer", &t->fuzzer) && get_str(c, &f[3], "branch", &t->branch) &&
               get_str(c, &f[4], "commit", &t->commit) && get_str(c, &f[5], "target", &t->target) &&
               get_uint(c, &f[6], "timeout_ms", 1, THIRTY_DAYS_MS, &t->timeout_ms) &&
               get_uint(c, &f[7], "deadline_ms", 0, THIRTY_DAYS_MS, &t->deadline_ms);
    }
    case CFO_MSG_RESULT:
        return get_uint(c, &f[0], "task_id", 0, UINT64_MAX, &m->u.result.task_id) &&
               get_u32(c, &f[1], "attempt", 1, CFO_RECORD_MAX_ATTEMPT,
                       &m->u.result.outcome.attempt) &&
               decode_result_payload(c, payload, &m->u.result);
    case CFO_MSG_ACK:
    case CFO_MSG_CANCEL:
        return get_uint(c, &f[0], "task_id", 0, UINT64_MAX, &m->u.ref.task_id) &&
               get_u32(c, &f[1], "attempt", 1, CFO_RECORD_MAX_ATTEMPT, &m->u.ref.attempt);
    case CFO_MSG_HEARTBEAT:
        return true;
    case CFO_MSG_BYE:
    case CFO_MSG_RESET:
        return get_str(c, &f[0], "reason", &m->u.reason.reason);
    }
    return false;
}

/* Unpacks bytes that passed the pre-scan into zone. */
static cfo_err unpack(const void *data, size_t len, msgpack_zone *zone, msgpack_object *obj,
                      const char *what, cfo_diag *d)
{
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack(data, len, &off, zone, obj);
    if (rc != MSGPACK_UNPACK_SUCCESS || off != len)
        return cfo_diag_set(d, CFO_EPARSE, "%s: msgpack-c rejected it (%d)", what, (int)rc);
    return CFO_OK;
}

/* Decodes into m, which the caller clears on failure. */
static cfo_err decode(const void *header, size_t hlen, const void *payload, size_t plen,
                      msgpack_zone *zone, cfo_msg *m, cfo_diag *d)
{
    if (header == NULL && hlen > 0)
        return cfo_diag_set(d, CFO_EPARSE, "header: no data");
    if (hlen > CFO_PROTO_MAX_HEADER)
        return cfo_diag_set(d, CFO_EPARSE, "header: %zu bytes exceed %d", hlen,
                            CFO_PROTO_MAX_HEADER);
    if (payload != NULL && plen > CFO_PROTO_MAX_PAYLOAD)
        return cfo_diag_set(d, CFO_EPARSE, "payload: %zu bytes exceed %d", plen,
                            CFO_PROTO_MAX_PAYLOAD);
    cfo_err err = prescan(header, hlen, "header", d);
    if (err != CFO_OK)
        return err;
    msgpack_object h;
    if ((err = unpack(header, hlen, zone, &h, "header", d)) != CFO_OK)
        return err;
    if (h.type != MSGPACK_OBJECT_ARRAY)
        return cfo_diag_set(d, CFO_EPARSE, "header is %s, not an array", obj_kind(&h));
    if (h.via.array.size < 2)
        return cfo_diag_set(d, CFO_EPARSE, "header has %u fields, not [version, type, ...]",
                            (unsigned)h.via.array.size);
    const msgpack_object *f = h.via.array.ptr;
    if (f[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return cfo_diag_set(d, CFO_EPARSE, "header: version is %s, not an unsigned integer",
                            obj_kind(&f[0]));
    if (f[0].via.u64 != CFO_PROTO_VERSION)
        return cfo_diag_set(d, CFO_EPARSE, "unsupported protocol version %llu",
                            (unsigned long long)f[0].via.u64);
    if (f[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return cfo_diag_set(d, CFO_EPARSE, "header: type is %s, not an unsigned integer",
                            obj_kind(&f[1]));
    if (f[1].via.u64 < CFO_MSG_TYPE_MIN || f[1].via.u64 > CFO_MSG_TYPE_MAX)
        return cfo_diag_set(d, CFO_EPARSE, "unknown message type %llu",
                            (unsigned long long)f[1].via.u64);
    m->type = (cfo_msg_type)f[1].via.u64;
    vctx c = {.tname = cfo_msg_type_name(m->type), .err = CFO_EPARSE, .d = d};
    size_t want = 2 + header_fields(m->type);
    if (h.via.array.size != want)
        return cfo_diag_set(d, CFO_EPARSE, "%s: header has %u fields, not %zu", c.tname,
                            (unsigned)h.via.array.size, want);

    msgpack_object p = {.type = MSGPACK_OBJECT_NIL};
    if (m->type == CFO_MSG_RESULT) {
        if (payload == NULL)
            return cfo_diag_set(d, CFO_EPARSE, "RESULT: missing payload frame");
        if ((err = prescan(payload, plen, "RESULT payload", d)) != CFO_OK)
            return err;
        if ((err = unpack(payload, plen, zone, &p, "RESULT payload", d)) != CFO_OK)
            return err;
    } else if (payload != NULL) {
        return cfo_diag_set(d, CFO_EPARSE, "%s: unexpected payload frame", c.tname);
    }
    if (!decode_fields(&c, f + 2, &p, m) || !validate(&c, m))
        return CFO_EPARSE;
    return CFO_OK;
}

cfo_err cfo_msg_decode(const void *header, size_t hlen, const void *payload, size_t plen,
                       cfo_msg *out, cfo_diag *d)
{
    memset(out, 0, sizeof *out);
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, MSGPACK_ZONE_CHUNK_SIZE)) {
        fprintf(stderr, "cfo: out of memory\n");
        abort();
    }
    cfo_err err = decode(header, hlen, payload, plen, &zone, out, d);
    msgpack_zone_destroy(&zone);
    if (err != CFO_OK)
        cfo_msg_fini(out);
    return err;
}
