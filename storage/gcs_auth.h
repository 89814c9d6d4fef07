/* gcs_auth.h -- the GCS endpoint and credential chain, with a cached access token. */
#ifndef CFO_GCS_AUTH_H
#define CFO_GCS_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfo_error.h"

#define CFO_GCS_DEFAULT_ENDPOINT "https://storage.googleapis.com"
#define CFO_GCS_DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
#define CFO_GCS_DEFAULT_METADATA_HOST "169.254.169.254"
#define CFO_GCS_SCOPE "https://www.googleapis.com/auth/devstorage.read_write"

/* The first source of credentials that applies, in this order. */
typedef enum cfo_gcs_auth_kind {
    CFO_GCS_AUTH_EMULATOR, /* STORAGE_EMULATOR_HOST: no credentials */
    CFO_GCS_AUTH_TOKEN, /* CFO_GCS_TOKEN, CLOUDSDK_AUTH_ACCESS_TOKEN, GOOGLE_OAUTH_ACCESS_TOKEN */
    CFO_GCS_AUTH_SERVICE_ACCOUNT, /* a service_account key: signed JWT for a token */
    CFO_GCS_AUTH_AUTHORIZED_USER, /* an authorized_user file: refresh token for a token */
    CFO_GCS_AUTH_METADATA,        /* the metadata server of the machine */
} cfo_gcs_auth_kind;

typedef struct cfo_gcs_auth cfo_gcs_auth;

/* Resolves the chain from the environment: STORAGE_EMULATOR_HOST; an access
 * token in CFO_GCS_TOKEN, CLOUDSDK_AUTH_ACCESS_TOKEN or
 * GOOGLE_OAUTH_ACCESS_TOKEN; the file GOOGLE_APPLICATION_CREDENTIALS names
 * (an error if it cannot be read or is of another type); gcloud's
 * application_default_credentials.json (in $CLOUDSDK_CONFIG, else
 * $HOME/.config/gcloud) when it exists; else the metadata server
 * (GCE_METADATA_HOST, default 169.254.169.254). Reads files but does no
 * network I/O: tokens are fetched on first use. */
cfo_err cfo_gcs_auth_new(cfo_gcs_auth **out, cfo_diag *d);
void cfo_gcs_auth_destroy(cfo_gcs_auth **self_p);

cfo_gcs_auth_kind cfo_gcs_auth_kind_of(const cfo_gcs_auth *self);
/* Where credentials come from, for messages: never a secret. */
const char *cfo_gcs_auth_describe(const cfo_gcs_auth *self);
/* Base URL of the JSON API, no trailing slash: the emulator's (scheme
 * optional, http:// assumed), else CFO_GCS_ENDPOINT, else
 * https://storage.googleapis.com. */
const char *cfo_gcs_auth_endpoint(const cfo_gcs_auth *self);

/* Sets *header to "Authorization: Bearer TOKEN" (owned by self, valid until
 * the next call), or NULL for the emulator. A cached token is reused until a
 * minute before it expires; force_refresh fetches a new one (after a 401).
 * A fixed access token cannot be refreshed: force_refresh fails then. */
cfo_err cfo_gcs_auth_header(cfo_gcs_auth *self, bool force_refresh, const char **header,
                            cfo_diag *d);

/* base64url without padding (RFC 7515). */
char *cfo_gcs_base64url(const void *data, size_t len);

/* The RS256-signed JWT a service account exchanges for an access token:
 * header {"alg":"RS256","typ":"JWT"[,"kid"]}, claims iss, scope, aud, iat,
 * exp (iat + 3600). pem_key is the PKCS#8 private key of the key file. */
cfo_err cfo_gcs_jwt_build(const char *client_email, const char *key_id, const char *pem_key,
                          const char *scope, const char *audience, int64_t now_s, char **out,
                          cfo_diag *d);

#endif
