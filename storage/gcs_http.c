/* gcs_http.c -- one careful libcurl exchange (timeouts, status kept, body streamed) and backoff. */
#include "gcs_http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "cfo_log.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
/* A transfer slower than 1 byte/s for a minute is dead. */
#define LOW_SPEED_TIME_S 60L

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void cfo_gcs_http_resp_init(cfo_gcs_http_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    cfo_buf_init(&resp->body);
}

void cfo_gcs_http_resp_fini(cfo_gcs_http_resp *resp)
{
    cfo_buf_fini(&resp->body);
}

typedef struct xfer {
    CURL *curl;
    const cfo_gcs_http_req *req;
    cfo_gcs_http_resp *resp;
} xfer;

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
    xfer *x = ctx;
    size_t len = size * n;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new status line (after a 100 Continue, say): forget the last one's headers. */
        x->resp->generation[0] = '\0';
        return len;
    }
    static const char name[] = "x-goog-generation:";
    if (len > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        const char *v = data + sizeof name - 1;
        const char *end = data + len;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            end--;
        size_t vl = (size_t)(end - v);
        bool digits = vl > 0 && vl < sizeof x->resp->generation;
        for (size_t i = 0; digits && i < vl; i++)
            digits = v[i] >= '0' && v[i] <= '9';
        if (digits) {
            memcpy(x->resp->generation, v, vl);
            x->resp->generation[vl] = '\0';
        }
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    xfer *x = ctx;
    size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200 && x->req->sink != NULL) {
        cfo_err err = x->req->sink(x->req->sink_ctx, data, len, NULL);
        if (err != CFO_OK) {
            x->resp->sink_err = err;
            return CURL_WRITEFUNC_ERROR;
        }
        x->resp->sink_bytes += len;
        return len;
    }
    size_t room = CFO_GCS_SMALL_BODY_MAX - x->resp->body.len;
    if (len > room) {
        x->resp->body_truncated = true;
        len = room;
    }
    cfo_buf_append(&x->resp->body, data, len);
    return size * n;
}

cfo_err cfo_gcs_http_perform(const cfo_gcs_http_req *req, cfo_gcs_http_resp *resp)
{
    pthread_once(&global_once, global_init);
    cfo_buf_reset(&resp->body);
    resp->status = 0;
    resp->curl_code = CURLE_OK;
    resp->error[0] = '\0';
    resp->body_truncated = false;
    resp->sink_bytes = 0;
    resp->sink_err = CFO_OK;
    resp->generation[0] = '\0';
    if (global_rc != CURLE_OK) {
        snprintf(resp->error, sizeof resp->error, "curl_global_init: %s",
                 curl_easy_strerror(global_rc));
        resp->curl_code = (int)global_rc;
        return CFO_EIO;
    }

    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        snprintf(resp->error, sizeof resp->error, "curl_easy_init failed");
        return CFO_EIO;
    }
    xfer x = {.curl = curl, .req = req, .resp = resp};
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    if (req->auth_header != NULL)
        hdrs = curl_slist_append(hdrs, req->auth_header);
    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++)
        hdrs = curl_slist_append(hdrs, req->headers[i]);
    /* No "Expect: 100-continue" round trip before an upload. */
    hdrs = curl_slist_append(hdrs, "Expect:");

    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                 : DEFAULT_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_TIME_S);
    if (req->total_timeout_ms > 0)
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, req->total_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "cfo/0.1 (gcs)");
    if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body_len ? req->body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    }

    /* A peer that hangs up mid-write must not kill the process with
     * SIGPIPE (CURLOPT_NOSIGNAL leaves that to us): block it for this thread
     * and discard what the transfer raised. */
    sigset_t pipe_set, old_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    CURLcode rc = curl_easy_perform(curl);
    sigset_t pending;
    if (!sigismember(&old_set, SIGPIPE) && sigpending(&pending) == 0 &&
        sigismember(&pending, SIGPIPE)) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    resp->curl_code = (int)rc;
    cfo_err err = CFO_OK;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    } else if (resp->sink_err != CFO_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
        err = resp->sink_err;
    } else {
        /* A reply cut off midway is no reply: the status alone would mislead. */
        resp->status = 0;
        snprintf(resp->error, sizeof resp->error, "%s",
                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
        err = CFO_EIO;
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
    return err;
}

bool cfo_gcs_http_transient(long status)
{
    return status == 0 || status == 408 || status == 429 || (status >= 500 && status <= 599);
}

static bool env_int(const char *name, int64_t min, int64_t max, int64_t *out)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return false;
    return cfo_parse_int(v, min, max, out, NULL) == CFO_OK;
}

void cfo_gcs_retry_from_env(cfo_gcs_retry *r)
{
    r->max_attempts = 6;
    r->base_ms = 500;
    r->cap_ms = 32000;
    int64_t v;
    if (env_int("CFO_GCS_RETRY_MAX", 1, 100, &v))
        r->max_attempts = (int)v;
    if (env_int("CFO_GCS_RETRY_BASE_MS", 0, 600000, &v))
        r->base_ms = v;
    if (r->cap_ms < r->base_ms)
        r->cap_ms = r->base_ms;
}

int64_t cfo_gcs_backoff_ms(const cfo_gcs_retry *r, int retry, uint64_t rnd)
{
    int64_t ceiling = r->base_ms;
    for (int i = 0; i < retry && ceiling < r->cap_ms; i++)
        ceiling *= 2;
    if (ceiling > r->cap_ms)
        ceiling = r->cap_ms;
    if (ceiling <= 0)
        return 0;
    return (int64_t)(rnd % ((uint64_t)ceiling + 1));
}

uint64_t cfo_gcs_random(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        v = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
    }
    return v;
}

void cfo_gcs_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

bool cfo_gcs_bucket_ok(const char *b, size_t n)
{
    if (n < 3 || n > 222)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)b[i]) && !isdigit((unsigned char)b[i]) && b[i] != '-' &&
            b[i] != '_' && b[i] != '.')
            return false;
    return true;
}

char *cfo_gcs_url_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_buf_reserve(&b, strlen(s) + 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            cfo_buf_append(&b, p, 1);
        } else {
            char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
            cfo_buf_append(&b, enc, 3);
        }
    }
    return cfo_buf_steal(&b);
}

/* GCS error replies are {"error": {"code": N, "message": "..."}}. */
static void reply_message(const cfo_gcs_http_resp *resp, char *out, size_t len)
{
    out[0] = '\0';
    const char *body = resp->body.data ? resp->body.data : "";
    yajl_val root =
        cfo_json_depth_ok(body, resp->body.len, 64) ? yajl_tree_parse(body, NULL, 0) : NULL;
    const char *path[] = {"error", "message", NULL};
    yajl_val msg = root ? yajl_tree_get(root, path, yajl_t_string) : NULL;
    if (msg != NULL) {
        snprintf(out, len, "%.300s", YAJL_GET_STRING(msg));
        cfo_utf8_sanitize(out);
    } else if (root == NULL) {
        snprintf(out, len, "%.200s", body);
        cfo_utf8_sanitize(out);
        for (char *p = out; *p; p++)
            if (*p == '\n')
                *p = ' ';
    }
    yajl_tree_free(root);
}

void cfo_gcs_describe_reply(const cfo_gcs_http_resp *resp, char *out, size_t len)
{
    if (resp->status == 0) {
        snprintf(out, len, "%s", resp->error);
        return;
    }
    char msg[400];
    reply_message(resp, msg, sizeof msg);
    snprintf(out, len, "HTTP %ld%s%s", resp->status, msg[0] ? ": " : "", msg);
}

cfo_err cfo_gcs_status_error(const cfo_gcs_http_resp *resp, const cfo_gcs_auth *auth,
                             const char *what, const char *shown, cfo_diag *d)
{
    char why[512];
    cfo_gcs_describe_reply(resp, why, sizeof why);
    if (resp->status == 401 || resp->status == 403)
        return cfo_diag_set(d, CFO_EIO, "%s %s: %s (credentials: %s)", what, shown, why,
                            cfo_gcs_auth_describe(auth));
    return cfo_diag_set(d, CFO_EIO, "%s %s: %s", what, shown, why);
}

bool cfo_gcs_says_no_bucket(const cfo_gcs_http_resp *resp)
{
    char msg[400];
    reply_message(resp, msg, sizeof msg);
    return strcasestr(msg, "bucket does not exist") != NULL;
}

cfo_err cfo_gcs_call(cfo_gcs_auth *auth, const cfo_gcs_retry *retry, cfo_gcs_http_req *req,
                     cfo_gcs_http_resp *resp, const char *what, const char *display, cfo_diag *d)
{
    cfo_gcs_http_resp_init(resp);
    bool refreshed = false, refresh = false;
    for (int attempt = 1;; attempt++) {
        const char *hdr = NULL;
        cfo_err err = cfo_gcs_auth_header(auth, refresh, &hdr, d);
        if (err != CFO_OK) {
            cfo_diag_prefix(d, "%s %s", what, display);
            return err;
        }
        refresh = false;
        req->auth_header = hdr;
        err = cfo_gcs_http_perform(req, resp);
        if (err != CFO_OK && resp->sink_err != CFO_OK)
            return err; /* the sink has said why in d */
        if (resp->status == 0 && resp->sink_bytes > 0)
            return cfo_diag_set(d, CFO_EIO, "%s %s: connection lost after %zu bytes: %s", what,
                                display, resp->sink_bytes, resp->error);
        if (resp->status == 401 && !refreshed &&
            cfo_gcs_auth_kind_of(auth) != CFO_GCS_AUTH_EMULATOR) {
            /* The token may have expired or been revoked early: one fresh try. */
            refreshed = refresh = true;
            cfo_info("%s %s: HTTP 401, renewing the access token", what, display);
            attempt--;
            continue;
        }
        if (!cfo_gcs_http_transient(resp->status))
            return CFO_OK;
        char why[512];
        cfo_gcs_describe_reply(resp, why, sizeof why);
        if (attempt >= retry->max_attempts)
            return cfo_diag_set(d, CFO_EIO, "%s %s failed after %d attempts: %s", what, display,
                                attempt, why);
        int64_t wait = cfo_gcs_backoff_ms(retry, attempt - 1, cfo_gcs_random());
        cfo_warn("%s %s: %s; retrying in %lld ms (attempt %d of %d)", what, display, why,
                 (long long)wait, attempt + 1, retry->max_attempts);
        cfo_gcs_sleep_ms(wait);
    }
}

cfo_err cfo_gcs_bucket_open(cfo_gcs_bucket *b, const char *name, size_t len, cfo_diag *d)
{
    memset(b, 0, sizeof *b);
    cfo_err err = cfo_gcs_auth_new(&b->auth, d);
    if (err != CFO_OK)
        return err;
    cfo_gcs_retry_from_env(&b->retry);
    b->name = cfo_xstrndup(name, len);
    const char *ep = cfo_gcs_auth_endpoint(b->auth);
    char *eb = cfo_gcs_url_encode(b->name);
    b->api_base = cfo_xasprintf("%s/storage/v1/b/%s", ep, eb);
    b->upload_base = cfo_xasprintf("%s/upload/storage/v1/b/%s/o", ep, eb);
    free(eb);
    return CFO_OK;
}

void cfo_gcs_bucket_fini(cfo_gcs_bucket *b)
{
    free(b->name);
    free(b->api_base);
    free(b->upload_base);
    cfo_gcs_auth_destroy(&b->auth);
    memset(b, 0, sizeof *b);
}

cfo_err cfo_gcs_bucket_call(cfo_gcs_bucket *b, cfo_gcs_http_req *req, cfo_gcs_http_resp *resp,
                            const char *what, const char *display, cfo_diag *d)
{
    return cfo_gcs_call(b->auth, &b->retry, req, resp, what, display, d);
}

char *cfo_gcs_object_url(const cfo_gcs_bucket *b, const char *object)
{
    char *enc = cfo_gcs_url_encode(object);
    char *url = cfo_xasprintf("%s/o/%s", b->api_base, enc);
    free(enc);
    return url;
}
