/* cfo_monitor.h -- a socket's connection events (zmq_socket_monitor), so a
 * client can say why it is not talking to its peer: nothing listening, its
 * key refused, a handshake that failed, a connection that dropped. */
#ifndef CFO_MONITOR_H
#define CFO_MONITOR_H

#include "cfo_error.h"

typedef enum cfo_conn_event {
    CFO_CONN_NONE,              /* nothing new */
    CFO_CONN_NOTHING_LISTENING, /* a connect attempt found no listener */
    CFO_CONN_CONNECTED,         /* TCP (or ipc) connection made */
    CFO_CONN_HANDSHAKE_OK,      /* the ZMTP (and CURVE) handshake succeeded */
    CFO_CONN_KEY_REFUSED,       /* the server's ZAP handler refused our key */
    CFO_CONN_HANDSHAKE_FAILED,  /* the handshake failed otherwise (a wrong server key) */
    CFO_CONN_DISCONNECTED,      /* an established connection dropped */
} cfo_conn_event;

typedef struct cfo_monitor cfo_monitor;

/* Watches sock's events through an inproc PAIR socket of zctx. */
cfo_err cfo_monitor_start(void *zctx, void *sock, cfo_monitor **out, cfo_diag *d);
/* Stops watching and frees self; call before sock is closed. NULL is fine. */
void cfo_monitor_stop(cfo_monitor **self_p);
/* The socket to poll for ZMQ_POLLIN. */
void *cfo_monitor_socket(const cfo_monitor *self);
/* The next event that has arrived, or CFO_CONN_NONE; never blocks. */
cfo_conn_event cfo_monitor_next(cfo_monitor *self);

#endif
