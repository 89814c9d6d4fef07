/* cfo_curve.h -- CURVE keys and authentication: key files, socket setup, and
 * the ZAP handler that admits only workers whose public key is allowed. */
#ifndef CFO_CURVE_H
#define CFO_CURVE_H

#include <stdbool.h>
#include <stddef.h>

#include "cfo_error.h"

#define CFO_CURVE_KEY_LEN 40 /* Z85 text of a 32-byte key */
#define CFO_ZAP_DOMAIN "cfo"

/* Writes DIR/NAME.key (the secret key, Z85, mode 0600) and DIR/NAME.pub (the
 * public key, Z85). Refuses to overwrite either unless force. */
cfo_err cfo_curve_keygen(const char *dir, const char *name, bool force, cfo_diag *d);

/* Reads a key file (one line of Z85). A secret key file readable by group
 * or others is refused: the key would be no secret. */
cfo_err cfo_curve_read_key(const char *path, bool secret, char key[CFO_CURVE_KEY_LEN + 1],
                           cfo_diag *d);

/* The public key that belongs to a secret key. */
cfo_err cfo_curve_public_of(const char *secret, char key[CFO_CURVE_KEY_LEN + 1], cfo_diag *d);

/* Makes sock a CURVE server with our secret key that asks the ZAP handler
 * about every client, and fails closed when no handler answers. */
cfo_err cfo_curve_server_setup(void *sock, const char *secret, cfo_diag *d);
/* Makes sock a CURVE client that only talks to the server holding the
 * secret of server_public. */
cfo_err cfo_curve_client_setup(void *sock, const char *secret, const char *server_public,
                               cfo_diag *d);

/* The ZAP handler: a thread answering libzmq's authentication requests on
 * inproc://zeromq.zap.01 of zctx. It must start before any CURVE server
 * socket of zctx binds. */
typedef struct cfo_zap cfo_zap;

/* Starts the handler with the public keys of allow_dir (every *.pub file).
 * A client whose key is not among them makes the handler read allow_dir
 * again before refusing it (at most once a second), so a key added after
 * the start is accepted without a reload. */
cfo_err cfo_zap_start(void *zctx, const char *allow_dir, cfo_zap **out, cfo_diag *d);
/* Reads allow_dir again (on SIGHUP): keys removed from it are refused from
 * now on. Returns the number of keys now allowed through *count. A folder
 * that cannot be read (removed) revokes every key: the error says why. */
cfo_err cfo_zap_reload(cfo_zap *self, size_t *count, cfo_diag *d);
/* Whether a client's public key (Z85) is allowed now. */
bool cfo_zap_allows(cfo_zap *self, const char *key);
void cfo_zap_stop(cfo_zap **self_p);

#endif
