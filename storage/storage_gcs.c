/* storage_gcs.c -- the gs:// backend: GCS JSON API media download and generation-matched upload. */
#include "cfo_storage.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "cfo_log.h"
#include "gcs_auth.h"
#include "gcs_http.h"

#define OBJECT_NAME_MAX 1024

typedef struct gcs_storage {
    cfo_storage base; /* first, so a cfo_storage * is a gcs_storage * */
    cfo_gcs_bucket bucket;
    char *object_enc; /* the object's name, URL-encoded */
    char *meta_url;   /* GET: the object's metadata; with ?alt=media its bytes */
    int conflicts;    /* 412s in a row: spreads out writers that keep colliding */
} gcs_storage;

static gcs_storage *gs_of(cfo_storage *st)
{
    return (gcs_storage *)st;
}

/* One call with the backend's credentials and retry policy (gcs_http.h). */
static cfo_err gcs_call(gcs_storage *gs, cfo_gcs_http_req *req, cfo_gcs_http_resp *resp,
                        const char *what, cfo_diag *d)
{
    return cfo_gcs_bucket_call(&gs->bucket, req, resp, what, gs->base.display, d);
}

/* A final reply that is not what the caller hoped for. */
static cfo_err status_error(gcs_storage *gs, const cfo_gcs_http_resp *resp, const char *what,
                            cfo_diag *d)
{
    return cfo_gcs_status_error(resp, gs->bucket.auth, what, gs->base.display, d);
}

/* A failed reply to a read or write of the object itself, where a 404 can
 * only mean that the bucket is missing. */
static cfo_err object_error(gcs_storage *gs, const cfo_gcs_http_resp *resp, const char *what,
                            cfo_diag *d)
{
    if (resp->status == 404)
        return cfo_diag_set(d, CFO_EIO, "%s %s: bucket '%s' does not exist", what, gs->base.display,
                            gs->bucket.name);
    return status_error(gs, resp, what, d);
}

/* Whether s is a generation: 1 to 31 decimal digits. */
static bool is_generation(const char *s)
{
    size_t n = strlen(s);
    bool digits = n > 0 && n < 32;
    for (size_t i = 0; digits && i < n; i++)
        digits = isdigit((unsigned char)s[i]) != 0;
    return digits;
}

static cfo_err gs_lock(cfo_storage *st, cfo_diag *d)
{
    (void)st;
    (void)d;
    return CFO_OK; /* ifGenerationMatch protects the write */
}

static void gs_unlock(cfo_storage *st)
{
    (void)st;
}

/* Hands the bytes on, keeping their MD5 in case the generation must be
 * matched against the object's metadata afterwards. */
typedef struct read_ctx {
    cfo_storage_sink sink;
    void *ctx;
    cfo_diag *d;
    EVP_MD_CTX *md5;
} read_ctx;

static cfo_err hashing_sink(void *ctx, const void *data, size_t len, cfo_diag *d)
{
    (void)d;
    read_ctx *rc = ctx;
    EVP_DigestUpdate(rc->md5, data, len);
    return rc->sink(rc->ctx, data, len, rc->d);
}

/* Without x-goog-generation, the metadata names the generation; it belongs
 * to the bytes read only if their MD5 is the one it lists. */
static cfo_err generation_from_metadata(gcs_storage *gs, const unsigned char *md5,
                                        unsigned int md5_len, char *token, cfo_diag *d)
{
    cfo_gcs_http_req req = {.method = "GET", .url = gs->meta_url};
    cfo_gcs_http_resp resp;
    cfo_err err = gcs_call(gs, &req, &resp, "reading the metadata of", d);
    if (err != CFO_OK)
        goto out;
    if (resp.status == 404) {
        err = cfo_diag_set(d, CFO_ECONFLICT, "%s was deleted while it was read", gs->base.display);
        goto out;
    }
    if (resp.status != 200) {
        err = status_error(gs, &resp, "reading the metadata of", d);
        goto out;
    }
    yajl_val root = yajl_tree_parse(resp.body.data ? resp.body.data : "", NULL, 0);
    const char *gp[] = {"generation", NULL};
    const char *mp[] = {"md5Hash", NULL};
    yajl_val gen = root ? yajl_tree_get(root, gp, yajl_t_string) : NULL;
    yajl_val hash = root ? yajl_tree_get(root, mp, yajl_t_string) : NULL;
    const char *g = gen ? YAJL_GET_STRING(gen) : "";
    if (!is_generation(g) || hash == NULL) {
        err = cfo_diag_set(d, CFO_EIO,
                           "cannot tell the generation of %s: no x-goog-generation header and "
                           "no generation and md5Hash in its metadata",
                           gs->base.display);
    } else {
        unsigned char want[64];
        const char *h = YAJL_GET_STRING(hash);
        int n =
            EVP_DecodeBlock(want, (const unsigned char *)h, strlen(h) <= 88 ? (int)strlen(h) : 0);
        if (n >= 16 && md5_len == 16 && memcmp(want, md5, 16) == 0)
            snprintf(token, CFO_TOKEN_MAX, "%s", g);
        else
            err = cfo_diag_set(d, CFO_ECONFLICT, "%s changed while it was read", gs->base.display);
    }
    yajl_tree_free(root);
out:
    cfo_gcs_http_resp_fini(&resp);
    return err;
}

static cfo_err gs_read(cfo_storage *st, cfo_storage_sink sink, void *ctx, char *token, cfo_diag *d)
{
    gcs_storage *gs = gs_of(st);
    read_ctx rc = {.sink = sink, .ctx = ctx, .d = d, .md5 = EVP_MD_CTX_new()};
    if (rc.md5 == NULL || EVP_DigestInit_ex(rc.md5, EVP_md5(), NULL) != 1)
        abort(); /* only allocation can fail here */
    char *media_url = cfo_xasprintf("%s?alt=media", gs->meta_url);
    cfo_gcs_http_req req = {
        .method = "GET", .url = media_url, .sink = hashing_sink, .sink_ctx = &rc};
    cfo_gcs_http_resp resp;
    cfo_err err = gcs_call(gs, &req, &resp, "reading", d);
    free(media_url);
    if (err != CFO_OK)
        goto out;
    if (resp.status == 200) {
        if (resp.generation[0] != '\0') {
            snprintf(token, CFO_TOKEN_MAX, "%s", resp.generation);
        } else {
            unsigned char md5[EVP_MAX_MD_SIZE];
            unsigned int md5_len = 0;
            EVP_DigestFinal_ex(rc.md5, md5, &md5_len);
            err = generation_from_metadata(gs, md5, md5_len, token, d);
        }
    } else if (resp.status == 404 && !cfo_gcs_says_no_bucket(&resp)) {
        snprintf(token, CFO_TOKEN_MAX, "0");
        err = cfo_diag_set(d, CFO_ENOTFOUND, "%s: no such object", st->display);
    } else {
        err = object_error(gs, &resp, "reading", d);
    }
out:
    EVP_MD_CTX_free(rc.md5);
    cfo_gcs_http_resp_fini(&resp);
    return err;
}

static cfo_err gs_write(cfo_storage *st, const void *data, size_t len, const char *expect_token,
                        cfo_diag *d)
{
    gcs_storage *gs = gs_of(st);
    if (!is_generation(expect_token))
        return cfo_diag_set(d, CFO_EINVAL, "writing %s: '%s' is not a generation", st->display,
                            expect_token);
    char *url = cfo_xasprintf("%s?uploadType=media&name=%s&ifGenerationMatch=%s",
                              gs->bucket.upload_base, gs->object_enc, expect_token);
    static const char *const hdrs[] = {"Content-Type: application/json", NULL};
    cfo_gcs_http_req req = {
        .method = "POST", .url = url, .headers = hdrs, .body = data, .body_len = len};
    cfo_gcs_http_resp resp;
    cfo_err err = gcs_call(gs, &req, &resp, "writing", d);
    if (err != CFO_OK)
        goto out;
    if (resp.status == 200) {
        gs->conflicts = 0;
    } else if (resp.status == 412) {
        /* Someone wrote first (or our own earlier try did and its reply was
         * lost): the caller reads and merges again. Waiting a little first
         * keeps a crowd of writers from colliding round after round. */
        int64_t wait = cfo_gcs_backoff_ms(&gs->bucket.retry, gs->conflicts, cfo_gcs_random());
        if (gs->conflicts < 16)
            gs->conflicts++;
        cfo_info("%s changed since it was read (generation %s no longer current); merging "
                 "again in %lld ms",
                 st->display, expect_token, (long long)wait);
        cfo_gcs_sleep_ms(wait);
        err = cfo_diag_set(d, CFO_ECONFLICT, "%s changed since it was read (generation %s)",
                           st->display, expect_token);
    } else {
        err = object_error(gs, &resp, "writing", d);
    }
out:
    cfo_gcs_http_resp_fini(&resp);
    free(url);
    return err;
}

static void gs_destroy(cfo_storage *st)
{
    gcs_storage *gs = gs_of(st);
    cfo_gcs_bucket_fini(&gs->bucket);
    free(gs->object_enc);
    free(gs->meta_url);
    free(gs);
}

static const cfo_storage_ops gcs_ops = {
    .scheme = "gs",
    .lock = gs_lock,
    .unlock = gs_unlock,
    .read = gs_read,
    .write = gs_write,
    .destroy = gs_destroy,
};

cfo_err cfo_storage_gcs_open(const char *bucket, const char *object, cfo_storage **out, cfo_diag *d)
{
    *out = NULL;
    if (!cfo_gcs_bucket_ok(bucket, strlen(bucket)))
        return cfo_diag_set(d, CFO_EINVAL,
                            "invalid GCS bucket name '%s' (3-222 characters of a-z 0-9 - _ .)",
                            bucket);
    size_t on = strlen(object);
    if (on == 0 || on > OBJECT_NAME_MAX || strpbrk(object, "\r\n") != NULL)
        return cfo_diag_set(d, CFO_EINVAL,
                            "invalid GCS object name '%s' (1-%d bytes, no line breaks)", object,
                            OBJECT_NAME_MAX);
    gcs_storage *gs = cfo_xcalloc(1, sizeof *gs);
    cfo_err err = cfo_gcs_bucket_open(&gs->bucket, bucket, strlen(bucket), d);
    if (err != CFO_OK) {
        free(gs);
        return err;
    }
    gs->base.ops = &gcs_ops;
    gs->base.url = cfo_xasprintf("gs://%s/%s", bucket, object);
    gs->base.display = cfo_xstrdup(gs->base.url);
    gs->object_enc = cfo_gcs_url_encode(object);
    gs->meta_url = cfo_gcs_object_url(&gs->bucket, object);
    cfo_debug("dataset %s: credentials from %s", gs->base.display,
              cfo_gcs_auth_describe(gs->bucket.auth));
    *out = &gs->base;
    return CFO_OK;
}
