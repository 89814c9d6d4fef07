/* gcs_auth.c -- GCS credentials: emulator, token, key file, gcloud, metadata; token cache. */
#include "gcs_auth.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "cfo_json.h"
#include "cfo_log.h"
#include "cfo_util.h"
#include "gcs_http.h"

#define KEY_FILE_MAX (64 * 1024)
#define JWT_LIFETIME_S 3600
#define METADATA_CONNECT_TIMEOUT_MS 2000L
#define METADATA_MAX_ATTEMPTS 3
#define TOKEN_TIMEOUT_MS 60000L
/* Tokens are renewed this long before they expire (or at half their life). */
#define REFRESH_MARGIN_MS 60000
/* The metadata server is the last resort: when it fails, say what else works. */
#define NO_CREDENTIALS_HINT                                                                        \
    " (no other credentials found: set GOOGLE_APPLICATION_CREDENTIALS, CFO_GCS_TOKEN or "          \
    "STORAGE_EMULATOR_HOST)"

struct cfo_gcs_auth {
    cfo_gcs_auth_kind kind;
    char *endpoint;
    char *describe;
    char *token_uri;     /* service account, authorized user */
    char *client_email;  /* service account */
    char *key_id;        /* service account, may be NULL */
    char *private_key;   /* service account: secret */
    char *client_id;     /* authorized user */
    char *client_secret; /* authorized user: secret */
    char *refresh_token; /* authorized user: secret */
    char *metadata_url;  /* metadata server */
    char *header;        /* "Authorization: Bearer ...": secret */
    int64_t renew_at_ms; /* monotonic; 0: no cached token */
    cfo_gcs_retry retry;
};

static void free_secret(char **p)
{
    if (*p != NULL) {
        OPENSSL_cleanse(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

void cfo_gcs_auth_destroy(cfo_gcs_auth **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    cfo_gcs_auth *a = *self_p;
    cfo_free_all(a->endpoint, a->describe, a->token_uri, a->client_email, a->key_id);
    free_secret(&a->private_key);
    free(a->client_id);
    free_secret(&a->client_secret);
    free_secret(&a->refresh_token);
    free(a->metadata_url);
    free_secret(&a->header);
    free(a);
    *self_p = NULL;
}

cfo_gcs_auth_kind cfo_gcs_auth_kind_of(const cfo_gcs_auth *self)
{
    return self->kind;
}

const char *cfo_gcs_auth_describe(const cfo_gcs_auth *self)
{
    return self->describe;
}

const char *cfo_gcs_auth_endpoint(const cfo_gcs_auth *self)
{
    return self->endpoint;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

/* "host:port" or "scheme://host:port[/]" as a base URL without a trailing slash. */
static char *base_url(const char *s, const char *default_scheme)
{
    char *u =
        strstr(s, "://") != NULL ? cfo_xstrdup(s) : cfo_xasprintf("%s://%s", default_scheme, s);
    size_t n = strlen(u);
    while (n > 0 && u[n - 1] == '/')
        u[--n] = '\0';
    return u;
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? cfo_xstrdup(s) : NULL;
}

/* Reads a service_account or authorized_user file into a. */
static cfo_err load_key_file(cfo_gcs_auth *a, const char *path, const char *origin, cfo_diag *d)
{
    cfo_buf buf;
    cfo_buf_init(&buf);
    cfo_err err = cfo_read_file(path, KEY_FILE_MAX, &buf, d);
    if (err != CFO_OK) {
        cfo_diag_prefix(d, "GCS credentials (%s)", origin);
        cfo_buf_fini(&buf);
        return err;
    }
    char ebuf[256];
    yajl_val root = yajl_tree_parse(buf.data ? buf.data : "", ebuf, sizeof ebuf);
    /* The file holds secrets: wipe our copy, and never quote it in messages. */
    if (buf.data != NULL)
        OPENSSL_cleanse(buf.data, buf.len);
    cfo_buf_fini(&buf);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return cfo_diag_set(d, CFO_EPARSE, "GCS credentials file %s (%s) is not a JSON object",
                            path, origin);
    }
    const char *type = cfo_json_member_str(root, "type");
    if (type != NULL && strcmp(type, "service_account") == 0) {
        const char *email = cfo_json_member_str(root, "client_email");
        const char *key = cfo_json_member_str(root, "private_key");
        if (email == NULL || key == NULL) {
            err = cfo_diag_set(d, CFO_EPARSE,
                               "GCS service account key %s (%s) lacks client_email or "
                               "private_key",
                               path, origin);
        } else {
            a->kind = CFO_GCS_AUTH_SERVICE_ACCOUNT;
            a->client_email = cfo_xstrdup(email);
            a->private_key = cfo_xstrdup(key);
            a->key_id = dup_or_null(cfo_json_member_str(root, "private_key_id"));
            a->describe = cfo_xasprintf("service account %s (key %s from %s)", email, path, origin);
        }
    } else if (type != NULL && strcmp(type, "authorized_user") == 0) {
        const char *id = cfo_json_member_str(root, "client_id");
        const char *secret = cfo_json_member_str(root, "client_secret");
        const char *refresh = cfo_json_member_str(root, "refresh_token");
        if (id == NULL || secret == NULL || refresh == NULL) {
            err = cfo_diag_set(d, CFO_EPARSE,
                               "GCS authorized_user credentials %s (%s) lack client_id, "
                               "client_secret or refresh_token",
                               path, origin);
        } else {
            a->kind = CFO_GCS_AUTH_AUTHORIZED_USER;
            a->client_id = cfo_xstrdup(id);
            a->client_secret = cfo_xstrdup(secret);
            a->refresh_token = cfo_xstrdup(refresh);
            a->describe = cfo_xasprintf("authorized user credentials %s (%s)", path, origin);
        }
    } else {
        err = cfo_diag_set(d, CFO_EUNSUPPORTED,
                           "GCS credentials file %s (%s) has type '%s'; expected service_account "
                           "or authorized_user",
                           path, origin, type ? type : "(none)");
    }
    if (err == CFO_OK) {
        const char *uri = cfo_json_member_str(root, "token_uri");
        a->token_uri = cfo_xstrdup(uri ? uri : CFO_GCS_DEFAULT_TOKEN_URI);
    }
    yajl_tree_free(root);
    return err;
}

cfo_err cfo_gcs_auth_new(cfo_gcs_auth **out, cfo_diag *d)
{
    *out = NULL;
    cfo_gcs_auth *a = cfo_xcalloc(1, sizeof *a);
    cfo_gcs_retry_from_env(&a->retry);
    cfo_err err = CFO_OK;
    const char *v;
    static const char *const token_vars[] = {"CFO_GCS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN",
                                             "GOOGLE_OAUTH_ACCESS_TOKEN"};

    if ((v = env("STORAGE_EMULATOR_HOST")) != NULL) {
        a->kind = CFO_GCS_AUTH_EMULATOR;
        a->endpoint = base_url(v, "http");
        a->describe = cfo_xasprintf("the emulator at %s (STORAGE_EMULATOR_HOST, no credentials)",
                                    a->endpoint);
        *out = a;
        return CFO_OK;
    }
    v = env("CFO_GCS_ENDPOINT");
    a->endpoint = base_url(v ? v : CFO_GCS_DEFAULT_ENDPOINT, "https");

    for (size_t i = 0; i < sizeof token_vars / sizeof *token_vars; i++) {
        if ((v = env(token_vars[i])) != NULL) {
            for (const char *p = v; *p; p++) {
                if ((unsigned char)*p < 0x21 || *p == 0x7f) {
                    cfo_gcs_auth_destroy(&a);
                    return cfo_diag_set(d, CFO_EINVAL,
                                        "%s holds blanks or control characters; it is not an "
                                        "access token",
                                        token_vars[i]);
                }
            }
            a->kind = CFO_GCS_AUTH_TOKEN;
            a->header = cfo_xasprintf("Authorization: Bearer %s", v);
            a->renew_at_ms = INT64_MAX;
            a->describe = cfo_xasprintf("the access token in %s", token_vars[i]);
            *out = a;
            return CFO_OK;
        }
    }
    if ((v = env("GOOGLE_APPLICATION_CREDENTIALS")) != NULL) {
        err = load_key_file(a, v, "GOOGLE_APPLICATION_CREDENTIALS", d);
        goto done;
    }
    char *adc = NULL;
    if ((v = env("CLOUDSDK_CONFIG")) != NULL)
        adc = cfo_xasprintf("%s/application_default_credentials.json", v);
    else if ((v = env("HOME")) != NULL)
        adc = cfo_xasprintf("%s/.config/gcloud/application_default_credentials.json", v);
    if (adc != NULL && access(adc, F_OK) == 0) {
        err = load_key_file(a, adc, "gcloud application default credentials", d);
        free(adc);
        goto done;
    }
    free(adc);
    a->kind = CFO_GCS_AUTH_METADATA;
    v = env("GCE_METADATA_HOST");
    char *host = base_url(v ? v : CFO_GCS_DEFAULT_METADATA_HOST, "http");
    a->metadata_url =
        cfo_xasprintf("%s/computeMetadata/v1/instance/service-accounts/default/token", host);
    a->describe = cfo_xasprintf("the metadata server at %s", host);
    free(host);

done:
    if (err != CFO_OK) {
        cfo_gcs_auth_destroy(&a);
        return err;
    }
    *out = a;
    return CFO_OK;
}

/* --- JWT ------------------------------------------------------------------ */

char *cfo_gcs_base64url(const void *data, size_t len)
{
    char *out = cfo_xmalloc(4 * ((len + 2) / 3) + 1);
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (int i = 0; i < n; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return out;
}

static void json_str(cfo_buf *b, const char *s)
{
    cfo_buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            cfo_buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            cfo_buf_printf(b, "\\u%04x", *p);
        else
            cfo_buf_append(b, p, 1);
    }
    cfo_buf_puts(b, "\"");
}

static char *b64_of_buf(cfo_buf *b)
{
    char *s = cfo_gcs_base64url(b->data ? b->data : "", b->len);
    cfo_buf_reset(b);
    return s;
}

cfo_err cfo_gcs_jwt_build(const char *client_email, const char *key_id, const char *pem_key,
                          const char *scope, const char *audience, int64_t now_s, char **out,
                          cfo_diag *d)
{
    *out = NULL;
    BIO *bio = BIO_new_mem_buf(pem_key, -1);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (pkey == NULL)
        return cfo_diag_set(d, CFO_EPARSE,
                            "the service account's private_key is not a PEM "
                            "private key");
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
        EVP_PKEY_free(pkey);
        return cfo_diag_set(d, CFO_EUNSUPPORTED, "the service account's private_key is not RSA");
    }

    cfo_buf b;
    cfo_buf_init(&b);
    cfo_buf_puts(&b, "{\"alg\":\"RS256\",\"typ\":\"JWT\"");
    if (key_id != NULL) {
        cfo_buf_puts(&b, ",\"kid\":");
        json_str(&b, key_id);
    }
    cfo_buf_puts(&b, "}");
    char *header = b64_of_buf(&b);
    cfo_buf_puts(&b, "{\"iss\":");
    json_str(&b, client_email);
    cfo_buf_puts(&b, ",\"scope\":");
    json_str(&b, scope);
    cfo_buf_puts(&b, ",\"aud\":");
    json_str(&b, audience);
    cfo_buf_printf(&b, ",\"iat\":%lld,\"exp\":%lld}", (long long)now_s,
                   (long long)(now_s + JWT_LIFETIME_S));
    char *claims = b64_of_buf(&b);
    cfo_buf_printf(&b, "%s.%s", header, claims);
    free(header);
    free(claims);

    cfo_err err = CFO_OK;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t siglen = 0;
    unsigned char *sig = NULL;
    if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)b.data, b.len) != 1) {
        err = cfo_diag_set(d, CFO_EIO, "cannot sign the service account's JWT");
        goto out;
    }
    sig = cfo_xmalloc(siglen);
    if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)b.data, b.len) != 1) {
        err = cfo_diag_set(d, CFO_EIO, "cannot sign the service account's JWT");
        goto out;
    }
    char *sig64 = cfo_gcs_base64url(sig, siglen);
    cfo_buf_printf(&b, ".%s", sig64);
    free(sig64);
    *out = cfo_buf_steal(&b);
out:
    free(sig);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    cfo_buf_fini(&b);
    return err;
}

/* --- tokens --------------------------------------------------------------- */

/* The "error"/"error_description" of an OAuth error reply: never a secret,
 * unlike the rest of what such an endpoint might echo. */
static void oauth_error(const cfo_gcs_http_resp *resp, char *out, size_t len)
{
    out[0] = '\0';
    yajl_val root = yajl_tree_parse(resp->body.data ? resp->body.data : "", NULL, 0);
    const char *e = root ? cfo_json_member_str(root, "error") : NULL;
    const char *desc = root ? cfo_json_member_str(root, "error_description") : NULL;
    if (e != NULL)
        snprintf(out, len, ": %.100s%s%.200s", e, desc ? ": " : "", desc ? desc : "");
    yajl_tree_free(root);
}

/* Fetches a token from the token endpoint or the metadata server. */
static cfo_err fetch_token(cfo_gcs_auth *a, cfo_diag *d)
{
    char *form = NULL;
    const char *url;
    const char *form_hdrs[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    const char *md_hdrs[] = {"Metadata-Flavor: Google", NULL};
    cfo_gcs_http_req req = {
        .method = "POST", .headers = form_hdrs, .total_timeout_ms = TOKEN_TIMEOUT_MS};
    int max_attempts = a->retry.max_attempts;
    cfo_err err = CFO_OK;

    switch (a->kind) {
    case CFO_GCS_AUTH_SERVICE_ACCOUNT: {
        char *jwt = NULL;
        err = cfo_gcs_jwt_build(a->client_email, a->key_id, a->private_key, CFO_GCS_SCOPE,
                                a->token_uri, (int64_t)time(NULL), &jwt, d);
        if (err != CFO_OK)
            return err;
        form = cfo_xasprintf("grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-"
                             "bearer&assertion=%s",
                             jwt);
        free_secret(&jwt);
        url = a->token_uri;
        break;
    }
    case CFO_GCS_AUTH_AUTHORIZED_USER: {
        char *id = cfo_gcs_url_encode(a->client_id);
        char *secret = cfo_gcs_url_encode(a->client_secret);
        char *refresh = cfo_gcs_url_encode(a->refresh_token);
        form = cfo_xasprintf("grant_type=refresh_token&client_id=%s&client_secret=%s&"
                             "refresh_token=%s",
                             id, secret, refresh);
        free(id);
        free_secret(&secret);
        free_secret(&refresh);
        url = a->token_uri;
        break;
    }
    case CFO_GCS_AUTH_METADATA:
        req.method = "GET";
        req.headers = md_hdrs;
        req.connect_timeout_ms = METADATA_CONNECT_TIMEOUT_MS;
        url = a->metadata_url;
        if (max_attempts > METADATA_MAX_ATTEMPTS)
            max_attempts = METADATA_MAX_ATTEMPTS;
        break;
    case CFO_GCS_AUTH_EMULATOR:
    case CFO_GCS_AUTH_TOKEN:
    default:
        return cfo_diag_set(d, CFO_EINVAL, "%s cannot be refreshed", a->describe);
    }
    req.url = url;
    req.body = form;
    req.body_len = form ? strlen(form) : 0;

    cfo_gcs_http_resp resp;
    cfo_gcs_http_resp_init(&resp);
    for (int attempt = 1;; attempt++) {
        cfo_gcs_http_perform(&req, &resp);
        if (!cfo_gcs_http_transient(resp.status) || attempt >= max_attempts)
            break;
        int64_t wait = cfo_gcs_backoff_ms(&a->retry, attempt - 1, cfo_gcs_random());
        if (resp.status == 0)
            cfo_warn("GCS token from %s: %s; retrying in %lld ms", a->describe, resp.error,
                     (long long)wait);
        else
            cfo_warn("GCS token from %s: HTTP %ld; retrying in %lld ms", a->describe, resp.status,
                     (long long)wait);
        cfo_gcs_sleep_ms(wait);
    }
    free_secret(&form);

    if (resp.status == 0) {
        err = cfo_diag_set(d, CFO_EIO, "cannot get a GCS access token from %s: %s%s", a->describe,
                           resp.error, a->kind == CFO_GCS_AUTH_METADATA ? NO_CREDENTIALS_HINT : "");
        goto out;
    }
    if (resp.status != 200) {
        char why[320];
        oauth_error(&resp, why, sizeof why);
        err = cfo_diag_set(d, CFO_EIO, "cannot get a GCS access token from %s: HTTP %ld%s%s",
                           a->describe, resp.status, why,
                           a->kind == CFO_GCS_AUTH_METADATA ? NO_CREDENTIALS_HINT : "");
        goto out;
    }
    yajl_val root = yajl_tree_parse(resp.body.data ? resp.body.data : "", NULL, 0);
    const char *token = root ? cfo_json_member_str(root, "access_token") : NULL;
    const char *path[] = {"expires_in", NULL};
    yajl_val exp = root ? yajl_tree_get(root, path, yajl_t_number) : NULL;
    if (token == NULL || *token == '\0' || strpbrk(token, "\r\n") != NULL) {
        err = cfo_diag_set(d, CFO_EPARSE,
                           "the GCS token reply from %s holds no usable access_token", a->describe);
    } else {
        int64_t life_ms = 3600 * 1000;
        if (exp != NULL && YAJL_IS_INTEGER(exp) && YAJL_GET_INTEGER(exp) > 0 &&
            YAJL_GET_INTEGER(exp) < 10 * 365 * 86400LL)
            life_ms = YAJL_GET_INTEGER(exp) * 1000;
        else if (exp != NULL && YAJL_IS_DOUBLE(exp) && YAJL_GET_DOUBLE(exp) > 0 &&
                 YAJL_GET_DOUBLE(exp) < 10 * 365 * 86400.0)
            life_ms = (int64_t)(YAJL_GET_DOUBLE(exp) * 1000);
        int64_t margin = life_ms / 2 < REFRESH_MARGIN_MS ? life_ms / 2 : REFRESH_MARGIN_MS;
        free_secret(&a->header);
        a->header = cfo_xasprintf("Authorization: Bearer %s", token);
        a->renew_at_ms = cfo_now_ms() + life_ms - margin;
        cfo_debug("GCS access token from %s, valid %lld s", a->describe,
                  (long long)(life_ms / 1000));
    }
    if (resp.body.data != NULL)
        OPENSSL_cleanse(resp.body.data, resp.body.len);
    yajl_tree_free(root);
out:
    cfo_gcs_http_resp_fini(&resp);
    return err;
}

cfo_err cfo_gcs_auth_header(cfo_gcs_auth *self, bool force_refresh, const char **header,
                            cfo_diag *d)
{
    *header = NULL;
    switch (self->kind) {
    case CFO_GCS_AUTH_EMULATOR:
        return CFO_OK;
    case CFO_GCS_AUTH_TOKEN:
        if (force_refresh)
            return cfo_diag_set(d, CFO_EIO,
                                "GCS rejected %s (HTTP 401); a fixed token cannot be refreshed",
                                self->describe);
        *header = self->header;
        return CFO_OK;
    case CFO_GCS_AUTH_SERVICE_ACCOUNT:
    case CFO_GCS_AUTH_AUTHORIZED_USER:
    case CFO_GCS_AUTH_METADATA:
        break;
    }
    if (force_refresh || self->header == NULL || cfo_now_ms() >= self->renew_at_ms) {
        cfo_err err = fetch_token(self, d);
        if (err != CFO_OK)
            return err;
    }
    *header = self->header;
    return CFO_OK;
}
