/* gcs_http.h -- one HTTP exchange with libcurl for the GCS backend, and its retry policy. */
#ifndef CFO_GCS_HTTP_H
#define CFO_GCS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfo_error.h"
#include "cfo_storage.h"
#include "cfo_util.h"
#include "gcs_auth.h"

/* Error bodies and small JSON replies are kept up to this size. */
#define CFO_GCS_SMALL_BODY_MAX (256 * 1024)

typedef struct cfo_gcs_http_req {
    const char *method; /* "GET", "POST" or "DELETE" */
    const char *url;
    const char *auth_header;    /* "Authorization: Bearer ..." or NULL; never logged */
    const char *const *headers; /* other headers, NULL-terminated, or NULL */
    const void *body;           /* POST body */
    size_t body_len;
    /* A 200 reply's body goes to sink when set, else into resp->body
     * (capped). Any other reply's body always goes into resp->body. */
    cfo_storage_sink sink;
    void *sink_ctx;
    long connect_timeout_ms; /* 0: 10 s */
    long total_timeout_ms;   /* 0: none (a stalled transfer is cut by the low-speed limit) */
} cfo_gcs_http_req;

typedef struct cfo_gcs_http_resp {
    long status;         /* 0 when no reply came (transport error) */
    int curl_code;       /* CURLcode of the transfer */
    char error[256];     /* transport error text, "" when a reply came */
    cfo_buf body;        /* see cfo_gcs_http_req.sink */
    bool body_truncated; /* more than CFO_GCS_SMALL_BODY_MAX arrived */
    size_t sink_bytes;   /* bytes handed to the sink */
    cfo_err sink_err;    /* what the sink returned when it stopped the transfer */
    char generation[32]; /* x-goog-generation, "" when absent */
} cfo_gcs_http_resp;

void cfo_gcs_http_resp_init(cfo_gcs_http_resp *resp);
void cfo_gcs_http_resp_fini(cfo_gcs_http_resp *resp);

/* Performs one request. CFO_OK whenever a reply came (any status), the sink's
 * error when it stopped the transfer, CFO_EIO on a transport error (resp->status
 * 0, resp->error says why). resp is reset first. */
cfo_err cfo_gcs_http_perform(const cfo_gcs_http_req *req, cfo_gcs_http_resp *resp);

/* Statuses worth another try: 408, 429, 5xx, and 0 (no reply). */
bool cfo_gcs_http_transient(long status);

typedef struct cfo_gcs_retry {
    int max_attempts; /* tries in all, >= 1 */
    int64_t base_ms;  /* first backoff ceiling */
    int64_t cap_ms;   /* largest backoff ceiling */
} cfo_gcs_retry;

/* Defaults (6 attempts, 500 ms, 32 s) overridden by CFO_GCS_RETRY_MAX and
 * CFO_GCS_RETRY_BASE_MS; malformed values keep the default. */
void cfo_gcs_retry_from_env(cfo_gcs_retry *r);

/* Full jitter: a delay uniform in [0, min(cap, base * 2^retry)], drawn from
 * rnd. retry counts from 0 (the wait before the second attempt). */
int64_t cfo_gcs_backoff_ms(const cfo_gcs_retry *r, int retry, uint64_t rnd);

/* A random 64-bit value for cfo_gcs_backoff_ms. */
uint64_t cfo_gcs_random(void);

/* Sleeps ms milliseconds (resuming after signals). */
void cfo_gcs_sleep_ms(int64_t ms);

/* Whether b[0..n) is a bucket name we accept: 3-222 characters of a-z 0-9
 * - _ . */
bool cfo_gcs_bucket_ok(const char *b, size_t n);

/* Percent-encodes every byte but the unreserved A-Z a-z 0-9 - . _ ~, so an
 * object name (slashes included) is one path segment or query value. */
char *cfo_gcs_url_encode(const char *s);

/* "HTTP 403: message" (the message of a GCS error reply, or the start of a
 * body that is not JSON), or the transport error when no reply came. */
void cfo_gcs_describe_reply(const cfo_gcs_http_resp *resp, char *out, size_t len);

/* A final reply that is not what the caller hoped for, in d: "WHAT SHOWN:
 * HTTP 403: message", naming auth's credentials after a 401 or 403. */
cfo_err cfo_gcs_status_error(const cfo_gcs_http_resp *resp, const cfo_gcs_auth *auth,
                             const char *what, const char *shown, cfo_diag *d);

/* GCS answers 404 both for a missing object and a missing bucket; only its
 * message tells them apart. */
bool cfo_gcs_says_no_bucket(const cfo_gcs_http_resp *resp);

/* Performs req with auth's credentials, retrying transient failures with
 * backoff (retry) and a 401 once with a fresh token. CFO_OK when a final
 * reply came (the caller reads its status); an error, in d, when none did or
 * a sink stopped the transfer. what and display only word messages
 * ("reading", "gs://bucket/name"). A transfer cut off after bytes reached
 * the sink is not retried: the sink has consumed them. resp is initialised
 * here and is the caller's to fini, whatever the outcome. */
cfo_err cfo_gcs_call(cfo_gcs_auth *auth, const cfo_gcs_retry *retry, cfo_gcs_http_req *req,
                     cfo_gcs_http_resp *resp, const char *what, const char *display, cfo_diag *d);

/* A bucket as the JSON API addresses it, with the credentials and the
 * retry policy of every call to it: what the dataset object and the blob
 * folders share. */
typedef struct cfo_gcs_bucket {
    char *name;
    char *api_base;    /* ENDPOINT/storage/v1/b/BUCKET */
    char *upload_base; /* ENDPOINT/upload/storage/v1/b/BUCKET/o */
    cfo_gcs_auth *auth;
    cfo_gcs_retry retry;
} cfo_gcs_bucket;

/* Fills b for the bucket name[0..len) (validated by the caller): its
 * credentials (cfo_gcs_auth_new), retry policy and base URLs. On an error b
 * is left empty. */
cfo_err cfo_gcs_bucket_open(cfo_gcs_bucket *b, const char *name, size_t len, cfo_diag *d);
void cfo_gcs_bucket_fini(cfo_gcs_bucket *b);

/* One call to the bucket (cfo_gcs_call with its credentials and policy). */
cfo_err cfo_gcs_bucket_call(cfo_gcs_bucket *b, cfo_gcs_http_req *req, cfo_gcs_http_resp *resp,
                            const char *what, const char *display, cfo_diag *d);

/* The metadata URL of object (free it): api_base/o/ENCODED. */
char *cfo_gcs_object_url(const cfo_gcs_bucket *b, const char *object);

#endif
