/* cfo_wire.c -- ZeroMQ framing of protocol messages: routing id, header, payload. */
#include "cfo_proto.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

cfo_err cfo_wire_setup(void *socket, bool router, cfo_diag *d)
{
    int64_t maxmsg = CFO_PROTO_MAX_MSGSIZE;
    int zero = 0, one = 1;
    if (zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0)
        return cfo_diag_set(d, CFO_EIO, "ZMQ_MAXMSGSIZE: %s", zmq_strerror(errno));
    if (zmq_setsockopt(socket, ZMQ_LINGER, &zero, sizeof zero) != 0)
        return cfo_diag_set(d, CFO_EIO, "ZMQ_LINGER: %s", zmq_strerror(errno));
    /* Without it a ROUTER silently drops what it cannot route, and a result
     * we think was sent would be lost without a trace. */
    if (router && zmq_setsockopt(socket, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0)
        return cfo_diag_set(d, CFO_EIO, "ZMQ_ROUTER_MANDATORY: %s", zmq_strerror(errno));
    /* A worker started beside its coordinator usually connects before the
     * coordinator listens: it tries again soon, then less often, up to
     * libzmq's usual 100 ms. */
    int ivl = CFO_WIRE_RECONNECT_MS, ivl_max = CFO_WIRE_RECONNECT_MAX_MS;
    if (!router && (zmq_setsockopt(socket, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0 ||
                    zmq_setsockopt(socket, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) != 0))
        return cfo_diag_set(d, CFO_EIO, "ZMQ_RECONNECT_IVL: %s", zmq_strerror(errno));
    return CFO_OK;
}

static int send_frame(void *socket, const void *data, size_t len, bool more)
{
    int flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0);
    for (;;) {
        int rc = zmq_send(socket, len ? data : "", len, flags);
        if (rc >= 0 || errno != EINTR)
            return rc;
    }
}

cfo_err cfo_wire_send(void *socket, const void *routing_id, size_t id_len, const cfo_msg *m,
                      cfo_diag *d)
{
    cfo_buf header, payload;
    cfo_buf_init(&header);
    cfo_buf_init(&payload);
    cfo_err err = cfo_msg_encode(m, &header, &payload, d);
    if (err != CFO_OK)
        goto out;
    bool has_payload = m->type == CFO_MSG_RESULT;
    /* libzmq takes a multipart message whole or not at all: once the first
     * frame is accepted, the rest cannot fail for want of room. */
    if ((routing_id != NULL && send_frame(socket, routing_id, id_len, true) < 0) ||
        send_frame(socket, header.data, header.len, has_payload) < 0 ||
        (has_payload && send_frame(socket, payload.data, payload.len, false) < 0)) {
        int e = errno;
        err = cfo_diag_set(d, e == EHOSTUNREACH ? CFO_ENOTFOUND : CFO_EIO, "sending %s: %s",
                           cfo_msg_type_name(m->type),
                           e == EHOSTUNREACH ? "peer unreachable"
                           : e == EAGAIN     ? "peer cannot take more now"
                                             : zmq_strerror(e));
    }
out:
    cfo_buf_fini(&header);
    cfo_buf_fini(&payload);
    return err;
}

cfo_err cfo_wire_recv(void *socket, bool router, cfo_wire_in *in, cfo_diag *d)
{
    return cfo_wire_recv_unless(socket, router, NULL, NULL, in, d);
}

cfo_err cfo_wire_recv_unless(void *socket, bool router, cfo_wire_skip_fn skip, void *ctx,
                             cfo_wire_in *in, cfo_diag *d)
{
    memset(in, 0, sizeof *in);
    /* Only the header and payload frames are kept; frames beyond them are
     * read and dropped so that a message of any length leaves the socket at
     * the start of the next one. */
    zmq_msg_t kept[2];
    size_t nkept = 0, nframes = 0, id_size = 0, sizes[2] = {0, 0};
    bool first = true, more = true, skipping = false;
    cfo_err err = CFO_OK;
    zmq_msg_t part;
    zmq_msg_init(&part);
    while (more) {
        if (zmq_msg_recv(&part, socket, ZMQ_DONTWAIT) < 0) {
            if (errno == EINTR)
                continue;
            if (first && errno == EAGAIN)
                err = cfo_diag_set(d, CFO_ENOTFOUND, "no message waiting");
            else
                err = cfo_diag_set(d, CFO_EIO, "receiving: %s", zmq_strerror(errno));
            break;
        }
        more = zmq_msg_more(&part);
        if (first && router) {
            first = false;
            id_size = zmq_msg_size(&part);
            if (id_size < sizeof in->routing_id) {
                memcpy(in->routing_id, zmq_msg_data(&part), id_size);
                in->id_len = id_size;
            }
            if (skip != NULL && in->id_len > 0 && skip(ctx, in->routing_id, in->id_len))
                skipping = true;
            continue;
        }
        first = false;
        if (skipping)
            continue; /* read off the socket, never decoded */
        if (nframes == 0) {
            /* The key the peer proved during the CURVE handshake, as the ZAP
             * handler named it; absent on unauthenticated sockets. */
            const char *uid = zmq_msg_gets(&part, "User-Id");
            if (uid != NULL)
                snprintf(in->user_id, sizeof in->user_id, "%s", uid);
        }
        if (nframes < SIZE_MAX)
            nframes++;
        if (nkept < 2) {
            sizes[nkept] = zmq_msg_size(&part);
            zmq_msg_init(&kept[nkept]);
            zmq_msg_move(&kept[nkept], &part);
            nkept++;
        }
    }
    zmq_msg_close(&part);
    if (err != CFO_OK)
        goto out;
    if (skipping) {
        err = cfo_diag_set(d, CFO_ELIMIT, "a message from a peer that is held off");
        goto out;
    }

    if (router && id_size >= sizeof in->routing_id)
        err = cfo_diag_set(d, CFO_EPARSE, "routing id of %zu bytes exceeds %zu", id_size,
                           sizeof in->routing_id - 1);
    else if (nframes > CFO_PROTO_MAX_FRAMES)
        err = cfo_diag_set(d, CFO_EPARSE, "message of %zu frames exceeds %d", nframes,
                           CFO_PROTO_MAX_FRAMES);
    else if (nframes == 0)
        err = cfo_diag_set(d, CFO_EPARSE, "message without a header frame");
    else if (nframes > 2)
        err = cfo_diag_set(d, CFO_EPARSE,
                           "message of %zu frames (a header and at most one payload)", nframes);
    else if (sizes[0] > CFO_PROTO_MAX_HEADER)
        err = cfo_diag_set(d, CFO_EPARSE, "header frame of %zu bytes exceeds %d", sizes[0],
                           CFO_PROTO_MAX_HEADER);
    else if (nkept == 2 && sizes[1] > CFO_PROTO_MAX_PAYLOAD)
        err = cfo_diag_set(d, CFO_EPARSE, "payload frame of %zu bytes exceeds %d", sizes[1],
                           CFO_PROTO_MAX_PAYLOAD);
    if (err == CFO_OK) {
        const void *payload = NULL;
        if (nkept == 2)
            payload = sizes[1] ? zmq_msg_data(&kept[1]) : "";
        err = cfo_msg_decode(zmq_msg_data(&kept[0]), sizes[0], payload, sizes[1], &in->msg, d);
    }
out:
    for (size_t i = 0; i < nkept; i++)
        zmq_msg_close(&kept[i]);
    return err;
}
