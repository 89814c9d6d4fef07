/* cfo_proto.h -- the coordinator/worker wire protocol: typed messages,
 * msgpack encoding, and a bounded, validating decoder.
 *
 * A message is a header frame, the msgpack array [version, type, fields...],
 * and for RESULT one payload frame (a msgpack array, see cfo_msg_result).
 * Every decoder rule is strict: exact types, ranges, no trailing bytes,
 * container sizes checked against the bytes left before anything is
 * allocated (msgpack-c allocates first and checks later). */
#ifndef CFO_PROTO_H
#define CFO_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfo_error.h"
#include "cfo_outcome.h"
#include "cfo_record.h"
#include "cfo_util.h"

#define CFO_PROTO_VERSION 1

/* Hard limits of the wire; a message beyond any of them is rejected. */
#define CFO_PROTO_MAX_HEADER (64 * 1024)   /* bytes of the header frame */
#define CFO_PROTO_MAX_PAYLOAD (256 * 1024) /* bytes of the payload frame */
#define CFO_PROTO_MAX_FRAMES 4             /* frames after the routing id */
#define CFO_PROTO_MAX_STRING 8192          /* bytes of any string field */
#define CFO_PROTO_MAX_TAIL (64 * 1024)     /* bytes of a result's output tail */
#define CFO_PROTO_MAX_FUZZERS 256          /* fuzzer names in HELLO */
#define CFO_PROTO_MAX_PENDING 4096         /* results re-offered in HELLO */
#define CFO_PROTO_MAX_DEPTH 4              /* container nesting */
#define CFO_PROTO_MAX_SLOTS 1024
/* Tasks and unacknowledged results a worker of that many slots may hold:
 * its credit (slots plus the coordinator's prefetch) with room for results
 * that outlived a reconnect. The worker ignores tasks past it; the
 * coordinator refuses a HELLO that re-offers more. */
#define CFO_PROTO_MAX_HELD(slots) (2 * (size_t)(slots) + 64)
/* A BYE whose reason starts with this is "not now": the worker connects
 * again after a backoff instead of leaving (a full session table, its name
 * held by a live session). */
#define CFO_PROTO_RETRY_LATER "retry later"
/* A BYE with this reason: the run is over (every other reason ends only the
 * session). */
#define CFO_PROTO_RUN_OVER "run over"
/* ZMQ_MAXMSGSIZE for sockets that speak this protocol. */
#define CFO_PROTO_MAX_MSGSIZE (CFO_PROTO_MAX_PAYLOAD + 1024)

typedef enum cfo_msg_type {
    CFO_MSG_HELLO = 1, /* worker -> coordinator: who I am, what I can run */
    CFO_MSG_WELCOME,   /* coordinator -> worker: session accepted */
    CFO_MSG_CREDIT,    /* worker -> coordinator: I can take n more tasks */
    CFO_MSG_TASK,      /* coordinator -> worker: run this */
    CFO_MSG_RESULT,    /* worker -> coordinator: a task ended (+ payload) */
    CFO_MSG_ACK,       /* coordinator -> worker: that result is committed */
    CFO_MSG_CANCEL,    /* coordinator -> worker: stop this task */
    CFO_MSG_HEARTBEAT, /* both ways, when nothing else was sent */
    CFO_MSG_BYE,       /* both ways: the session ends (run over / worker leaves) */
    CFO_MSG_RESET,     /* coordinator -> worker: unknown session, say HELLO again */
} cfo_msg_type;
#define CFO_MSG_TYPE_MIN CFO_MSG_HELLO
#define CFO_MSG_TYPE_MAX CFO_MSG_RESET

const char *cfo_msg_type_name(cfo_msg_type t);

/* A result the worker holds and has not seen ACKed. */
typedef struct cfo_msg_pending {
    uint64_t task_id;
    uint32_t attempt;
} cfo_msg_pending;

/* HELLO: [1, 1, worker_id, slots, [fuzzer...], [[task_id, attempt]...]] */
typedef struct cfo_msg_hello {
    char *worker_id;  /* 1..128 bytes of [A-Za-z0-9._:@-] */
    uint32_t slots;   /* 1..CFO_PROTO_MAX_SLOTS */
    cfo_strv fuzzers; /* instance names it can run; 0..MAX_FUZZERS */
    cfo_msg_pending *pending;
    size_t npending; /* 0..MAX_PENDING */
} cfo_msg_hello;

/* WELCOME: [1, 2, run_id, heartbeat_ms] */
typedef struct cfo_msg_welcome {
    char *run_id;          /* 1..256 bytes */
    uint32_t heartbeat_ms; /* 10..60000 */
} cfo_msg_welcome;

/* CREDIT: [1, 3, n]  (n 1..MAX_SLOTS) */
typedef struct cfo_msg_credit {
    uint32_t n;
} cfo_msg_credit;

/* TASK: [1, 4, task_id, attempt, fuzzer, branch, commit, target, timeout_ms,
 *        deadline_ms]. deadline_ms is the time left of the run's budget when
 * sent (the worker adds it to its own clock); 0 means none. Never a command:
 * the worker builds argv from its own registry. */
typedef struct cfo_msg_task {
    uint64_t task_id;
    uint32_t attempt; /* 1..CFO_RECORD_MAX_ATTEMPT */
    char *fuzzer;
    char *branch;
    char *commit;         /* 40 or 64 hex digits */
    char *target;         /* validated by the receiver with cfo_target_validate */
    uint64_t timeout_ms;  /* 1..(30 days) */
    uint64_t deadline_ms; /* 0..(30 days) */
} cfo_msg_task;

/* RESULT header: [1, 5, task_id, attempt]
 * RESULT payload: [status, count, findings, duration, end_wall_ms, exit_code,
 *                  signal, command, summary, tail, has_usage, cpu,
 *                  max_rss_kb, crashes, coverage]
 *   status: 0..5 (cfo_status), count/findings: 0..INT64_MAX, duration and
 *   cpu: float >= 0 and finite, end_wall_ms and max_rss_kb: int >= 0,
 *   exit_code: -1..255, signal: 0..64, command/summary: str, tail: bin <=
 *   MAX_TAIL, has_usage: bool, coverage: str (cfo_coverage's JSON text; ""
 *   for none), crashes: str (the findings list as JSON text;
 *   "" for none).
 * The outcome travels as it is: attempt is outcome.attempt; done, worker and
 * log_path are the coordinator's and do not travel (decoded: false, NULL). */
typedef struct cfo_msg_result {
    uint64_t task_id;
    cfo_outcome outcome;
    /* Bytes of outcome.tail on the wire: a task's output may hold NULs, so
     * the decoder keeps them and the receiver makes it text. */
    size_t tail_len;
} cfo_msg_result;

/* ACK: [1, 6, task_id, attempt]; CANCEL: [1, 7, task_id, attempt] */
typedef struct cfo_msg_ref {
    uint64_t task_id;
    uint32_t attempt;
} cfo_msg_ref;

/* HEARTBEAT: [1, 8]; BYE: [1, 9, reason]; RESET: [1, 10, reason] */
typedef struct cfo_msg_reason {
    char *reason; /* 0..1024 bytes */
} cfo_msg_reason;

typedef struct cfo_msg {
    cfo_msg_type type;
    union {
        cfo_msg_hello hello;
        cfo_msg_welcome welcome;
        cfo_msg_credit credit;
        cfo_msg_task task;
        cfo_msg_result result;
        cfo_msg_ref ref;       /* ACK, CANCEL */
        cfo_msg_reason reason; /* BYE, RESET */
    } u;
} cfo_msg;

/* Encodes m into header (and payload for RESULT; left empty otherwise).
 * Fails with CFO_EINVAL when a field breaks the limits above, so a peer is
 * never sent what it must reject. */
cfo_err cfo_msg_encode(const cfo_msg *m, cfo_buf *header, cfo_buf *payload, cfo_diag *d);

/* Decodes and validates. payload is NULL (plen 0) when the message had one
 * frame; RESULT requires a payload, every other type forbids one. On success
 * *out owns its strings (cfo_msg_fini); on failure *out is empty and d says
 * what was wrong ("HELLO: slots 0 out of range"). Never allocates more than
 * a small multiple of hlen + plen. */
cfo_err cfo_msg_decode(const void *header, size_t hlen, const void *payload, size_t plen,
                       cfo_msg *out, cfo_diag *d);
void cfo_msg_fini(cfo_msg *m);

/* ---- ZeroMQ framing (the sockets are the caller's) ---- */

/* Sends m on a DEALER (routing_id NULL) or ROUTER socket (routing_id names
 * the peer). Non-blocking: a ROUTER peer whose connection is gone
 * (EHOSTUNREACH with ZMQ_ROUTER_MANDATORY) gives CFO_ENOTFOUND, one that
 * cannot take more now CFO_EIO. */
cfo_err cfo_wire_send(void *socket, const void *routing_id, size_t id_len, const cfo_msg *m,
                      cfo_diag *d);

/* One received message: the routing id (ROUTER only) and the decoded message. */
typedef struct cfo_wire_in {
    unsigned char routing_id[256];
    size_t id_len;
    char user_id[64]; /* the sender's CURVE public key (Z85), or "" without CURVE */
    cfo_msg msg;
} cfo_wire_in;

/* Receives one message without blocking (CFO_ENOTFOUND when none is
 * waiting). Reads every frame of the message even when it is rejected, so
 * the socket stays in step; a message with more than CFO_PROTO_MAX_FRAMES
 * frames, an oversized frame or a decoding failure is CFO_EPARSE with the
 * reason (routing_id is still filled, so the sender can be dropped). */
cfo_err cfo_wire_recv(void *socket, bool router, cfo_wire_in *in, cfo_diag *d);

/* The same on a ROUTER, except that a message whose sender skip(ctx, routing
 * id) names is read off the socket without being decoded: CFO_ELIMIT, with
 * routing_id filled. What a peer that is held off sends costs next to
 * nothing. */
typedef bool (*cfo_wire_skip_fn)(void *ctx, const unsigned char *rid, size_t len);
cfo_err cfo_wire_recv_unless(void *socket, bool router, cfo_wire_skip_fn skip, void *ctx,
                             cfo_wire_in *in, cfo_diag *d);

/* A connecting socket's first reconnect, doubled after each failure up to
 * the most (libzmq's fixed interval otherwise): never later than that. */
#define CFO_WIRE_RECONNECT_MS 10
#define CFO_WIRE_RECONNECT_MAX_MS 100

/* Applies the options every protocol socket gets: ZMQ_MAXMSGSIZE, linger 0;
 * for ROUTER sockets ZMQ_ROUTER_MANDATORY, for connecting ones the
 * reconnect intervals. */
cfo_err cfo_wire_setup(void *socket, bool router, cfo_diag *d);

#endif
