/* cfo_monitor.c -- zmq_socket_monitor events, read without blocking. */
#include "cfo_monitor.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cfo_util.h"

#define WATCHED                                                                                    \
    (ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_DISCONNECTED |                    \
     ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |                        \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

struct cfo_monitor {
    void *watched;
    void *pair;
};

cfo_err cfo_monitor_start(void *zctx, void *sock, cfo_monitor **out, cfo_diag *d)
{
    static unsigned seq;
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://cfo-monitor-%p-%u", sock, seq++);
    if (zmq_socket_monitor(sock, endpoint, WATCHED) != 0)
        return cfo_diag_set(d, CFO_EIO, "zmq_socket_monitor: %s", zmq_strerror(errno));
    void *pair = zmq_socket(zctx, ZMQ_PAIR);
    if (pair == NULL || zmq_connect(pair, endpoint) != 0) {
        cfo_err err = cfo_diag_set(d, CFO_EIO, "monitor socket: %s", zmq_strerror(errno));
        if (pair != NULL)
            zmq_close(pair);
        zmq_socket_monitor(sock, NULL, 0);
        return err;
    }
    int linger = 0;
    zmq_setsockopt(pair, ZMQ_LINGER, &linger, sizeof linger);
    cfo_monitor *m = cfo_xcalloc(1, sizeof *m);
    m->watched = sock;
    m->pair = pair;
    *out = m;
    return CFO_OK;
}

void cfo_monitor_stop(cfo_monitor **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    cfo_monitor *m = *self_p;
    zmq_socket_monitor(m->watched, NULL, 0);
    zmq_close(m->pair);
    free(m);
    *self_p = NULL;
}

void *cfo_monitor_socket(const cfo_monitor *self)
{
    return self->pair;
}

/* The event of a frame: a 16-bit event number, then a 32-bit value. */
static cfo_conn_event event_of(const unsigned char *p, size_t n)
{
    if (n < 6)
        return CFO_CONN_NONE;
    uint16_t ev;
    memcpy(&ev, p, sizeof ev);
    switch (ev) {
    case ZMQ_EVENT_CONNECT_RETRIED:
        return CFO_CONN_NOTHING_LISTENING;
    case ZMQ_EVENT_CONNECTED:
        return CFO_CONN_CONNECTED;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        return CFO_CONN_HANDSHAKE_OK;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        return CFO_CONN_KEY_REFUSED;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        return CFO_CONN_HANDSHAKE_FAILED;
    case ZMQ_EVENT_DISCONNECTED:
        return CFO_CONN_DISCONNECTED;
    default:
        return CFO_CONN_NONE;
    }
}

cfo_conn_event cfo_monitor_next(cfo_monitor *self)
{
    for (;;) {
        zmq_msg_t first;
        zmq_msg_init(&first);
        if (zmq_msg_recv(&first, self->pair, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&first);
            return CFO_CONN_NONE;
        }
        cfo_conn_event e = event_of(zmq_msg_data(&first), zmq_msg_size(&first));
        bool more = zmq_msg_more(&first);
        zmq_msg_close(&first);
        while (more) { /* the endpoint frame */
            zmq_msg_t rest;
            zmq_msg_init(&rest);
            if (zmq_msg_recv(&rest, self->pair, ZMQ_DONTWAIT) < 0)
                more = false;
            else
                more = zmq_msg_more(&rest);
            zmq_msg_close(&rest);
        }
        if (e != CFO_CONN_NONE)
            return e;
    }
}
