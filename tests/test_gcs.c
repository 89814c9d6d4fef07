/* test_gcs.c -- the GCS backend's pure parts: name encoding, JWT, backoff, the credential chain. */
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include <cmocka.h>

#include "cfo_storage.h"
#include "gcs_auth.h"
#include "gcs_http.h"

static const char *const chain_vars[] = {
    "STORAGE_EMULATOR_HOST",
    "CFO_GCS_TOKEN",
    "CLOUDSDK_AUTH_ACCESS_TOKEN",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "CLOUDSDK_CONFIG",
    "GCE_METADATA_HOST",
    "CFO_GCS_ENDPOINT",
    "CFO_GCS_RETRY_MAX",
    "CFO_GCS_RETRY_BASE_MS",
};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof chain_vars / sizeof *chain_vars; i++)
        unsetenv(chain_vars[i]);
}

static char *make_tmpdir(void)
{
    char *dir = cfo_make_temp_dir("cfo-gcs", NULL);
    assert_non_null(dir);
    return dir;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void test_url_encode(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"devhivedb/infrahive/fuzzing/data.json", "devhivedb%2Finfrahive%2Ffuzzing%2Fdata.json"},
        {"a b+c?d#e&f=g%h", "a%20b%2Bc%3Fd%23e%26f%3Dg%25h"},
        {"AZaz09-._~", "AZaz09-._~"},
        {"\xc3\xbc", "%C3%BC"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *enc = cfo_gcs_url_encode(cases[i][0]);
        assert_string_equal(enc, cases[i][1]);
        free(enc);
    }
}

static void test_base64url(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"\xfb\xff", "-_8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *s = cfo_gcs_base64url(cases[i][0], strlen(cases[i][0]));
        assert_string_equal(s, cases[i][1]);
        free(s);
    }
}

/* base64url back to bytes (NUL-terminated). */
static char *unb64url(const char *s, size_t n, size_t *out_len)
{
    cfo_buf b;
    cfo_buf_init(&b);
    for (size_t i = 0; i < n; i++)
        cfo_buf_printf(&b, "%c", s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i]);
    while (b.len % 4)
        cfo_buf_puts(&b, "=");
    unsigned char *out = cfo_xcalloc(1, b.len + 1);
    int len = EVP_DecodeBlock(out, (const unsigned char *)b.data, (int)b.len);
    assert_true(len >= 0);
    size_t pad = 0;
    for (size_t i = b.len; i > 0 && b.data[i - 1] == '='; i--)
        pad++;
    *out_len = (size_t)len - pad;
    out[*out_len] = '\0';
    cfo_buf_fini(&b);
    return (char *)out;
}

static char *pem_of(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
    char *p = NULL;
    long n = BIO_get_mem_data(bio, &p);
    char *pem = cfo_xstrndup(p, (size_t)n);
    BIO_free(bio);
    return pem;
}

static const char *tree_str(yajl_val root, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(root, path, yajl_t_string);
    assert_non_null(v);
    return YAJL_GET_STRING(v);
}

static long long tree_int(yajl_val root, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(root, path, yajl_t_number);
    assert_non_null(v);
    assert_true(YAJL_IS_INTEGER(v));
    return YAJL_GET_INTEGER(v);
}

static bool verify(EVP_PKEY *key, const char *data, size_t len, const unsigned char *sig,
                   size_t siglen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
    int rc = EVP_DigestVerify(md, sig, siglen, (const unsigned char *)data, len);
    EVP_MD_CTX_free(md);
    return rc == 1;
}

static void test_jwt(void **state)
{
    (void)state;
    EVP_PKEY *key = EVP_RSA_gen(2048);
    assert_non_null(key);
    char *pem = pem_of(key);
    char *jwt = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_gcs_jwt_build("sa@p.iam.gserviceaccount.com", "kid-1", pem, CFO_GCS_SCOPE,
                                       "https://oauth2.googleapis.com/token", 1790000000, &jwt, &d),
                     CFO_OK);
    char *dot1 = strchr(jwt, '.');
    assert_non_null(dot1);
    char *dot2 = strchr(dot1 + 1, '.');
    assert_non_null(dot2);
    assert_null(strchr(dot2 + 1, '.'));
    assert_null(strpbrk(jwt, "+/= \n"));

    size_t n;
    char *header = unb64url(jwt, (size_t)(dot1 - jwt), &n);
    yajl_val h = yajl_tree_parse(header, NULL, 0);
    assert_non_null(h);
    assert_string_equal(tree_str(h, "alg"), "RS256");
    assert_string_equal(tree_str(h, "typ"), "JWT");
    assert_string_equal(tree_str(h, "kid"), "kid-1");

    char *claims = unb64url(dot1 + 1, (size_t)(dot2 - dot1 - 1), &n);
    yajl_val c = yajl_tree_parse(claims, NULL, 0);
    assert_non_null(c);
    assert_string_equal(tree_str(c, "iss"), "sa@p.iam.gserviceaccount.com");
    assert_string_equal(tree_str(c, "scope"), CFO_GCS_SCOPE);
    assert_string_equal(tree_str(c, "aud"), "https://oauth2.googleapis.com/token");
    assert_int_equal(tree_int(c, "iat"), 1790000000);
    assert_int_equal(tree_int(c, "exp"), 1790000000 + 3600);

    size_t siglen;
    char *sig = unb64url(dot2 + 1, strlen(dot2 + 1), &siglen);
    assert_int_equal(siglen, 256);
    size_t signed_len = (size_t)(dot2 - jwt);
    assert_true(verify(key, jwt, signed_len, (unsigned char *)sig, siglen));
    /* The signature covers the claims: change one and it no longer verifies. */
    dot1[3] ^= 1;
    assert_false(verify(key, jwt, signed_len, (unsigned char *)sig, siglen));

    yajl_tree_free(h);
    yajl_tree_free(c);
    free(header);
    free(claims);
    free(sig);
    free(jwt);
    free(pem);
    EVP_PKEY_free(key);
}

static void test_jwt_rejects_bad_keys(void **state)
{
    (void)state;
    char *jwt = (char *)&jwt;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_gcs_jwt_build("a@b", NULL, "not a key", CFO_GCS_SCOPE, "aud", 1, &jwt, &d),
                     CFO_EPARSE);
    assert_null(jwt);
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    assert_non_null(ec);
    char *pem = pem_of(ec);
    assert_int_equal(cfo_gcs_jwt_build("a@b", NULL, pem, CFO_GCS_SCOPE, "aud", 1, &jwt, &d),
                     CFO_EUNSUPPORTED);
    assert_non_null(strstr(d.msg, "not RSA"));
    assert_null(strstr(d.msg, "PRIVATE"));
    free(pem);
    EVP_PKEY_free(ec);
}

static void test_backoff(void **state)
{
    (void)state;
    cfo_gcs_retry r = {.max_attempts = 6, .base_ms = 100, .cap_ms = 1000};
    /* Full jitter: anything from 0 to the ceiling, both ends reachable. */
    static const int64_t ceiling[] = {100, 200, 400, 800, 1000, 1000, 1000};
    for (int retry = 0; retry < 7; retry++) {
        assert_int_equal(cfo_gcs_backoff_ms(&r, retry, 0), 0);
        assert_int_equal(cfo_gcs_backoff_ms(&r, retry, (uint64_t)ceiling[retry]), ceiling[retry]);
        assert_int_equal(cfo_gcs_backoff_ms(&r, retry, (uint64_t)ceiling[retry] + 1), 0);
        for (int i = 0; i < 200; i++) {
            int64_t v = cfo_gcs_backoff_ms(&r, retry, cfo_gcs_random());
            assert_true(v >= 0 && v <= ceiling[retry]);
        }
    }
    /* Many retries neither overflow nor pass the cap. */
    assert_int_equal(cfo_gcs_backoff_ms(&r, 1000, 1000), 1000);
    assert_true(cfo_gcs_backoff_ms(&r, 1000, UINT64_MAX) <= 1000);
    /* The draws really vary. */
    int64_t first = cfo_gcs_backoff_ms(&r, 4, cfo_gcs_random());
    bool varied = false;
    for (int i = 0; i < 50 && !varied; i++)
        varied = cfo_gcs_backoff_ms(&r, 4, cfo_gcs_random()) != first;
    assert_true(varied);
}

static void test_retry_env(void **state)
{
    (void)state;
    clear_env();
    cfo_gcs_retry r;
    cfo_gcs_retry_from_env(&r);
    assert_int_equal(r.max_attempts, 6);
    assert_int_equal(r.base_ms, 500);
    assert_true(r.cap_ms >= r.base_ms);
    setenv("CFO_GCS_RETRY_MAX", "3", 1);
    setenv("CFO_GCS_RETRY_BASE_MS", "7", 1);
    cfo_gcs_retry_from_env(&r);
    assert_int_equal(r.max_attempts, 3);
    assert_int_equal(r.base_ms, 7);
    setenv("CFO_GCS_RETRY_MAX", "0", 1);
    setenv("CFO_GCS_RETRY_BASE_MS", "soon", 1);
    cfo_gcs_retry_from_env(&r);
    assert_int_equal(r.max_attempts, 6);
    assert_int_equal(r.base_ms, 500);
    clear_env();
}

static void test_transient(void **state)
{
    (void)state;
    static const long yes[] = {0, 408, 429, 500, 502, 503, 504, 599};
    static const long no[] = {200, 400, 401, 403, 404, 409, 412, 600};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        assert_true(cfo_gcs_http_transient(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        assert_false(cfo_gcs_http_transient(no[i]));
}

/* Opens the chain and checks what it chose. */
static void expect_chain(cfo_gcs_auth_kind kind, const char *describe_part, const char *endpoint)
{
    cfo_gcs_auth *a = NULL;
    cfo_diag d = {{0}};
    cfo_err err = cfo_gcs_auth_new(&a, &d);
    if (err != CFO_OK)
        fail_msg("auth chain: %s", d.msg);
    if (cfo_gcs_auth_kind_of(a) != kind || strstr(cfo_gcs_auth_describe(a), describe_part) == NULL)
        fail_msg("auth chain chose %d '%s', expected %d '%s'", cfo_gcs_auth_kind_of(a),
                 cfo_gcs_auth_describe(a), kind, describe_part);
    assert_string_equal(cfo_gcs_auth_endpoint(a), endpoint);
    cfo_gcs_auth_destroy(&a);
    assert_null(a);
}

static const char sa_json[] = "{\"type\": \"service_account\", \"client_email\": \"%s\", "
                              "\"private_key\": \"-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END "
                              "PRIVATE KEY-----\\n\", \"token_uri\": \"http://127.0.0.1:1/t\"}";

static void test_auth_chain_order(void **state)
{
    (void)state;
    clear_env();
    char *dir = make_tmpdir();
    char *home = cfo_xasprintf("%s/home", dir);
    char *gcloud = cfo_xasprintf("%s/.config/gcloud", home);
    assert_int_equal(cfo_mkdir_p(gcloud, NULL), CFO_OK);
    char *cloudsdk = cfo_xasprintf("%s/cloudsdk", dir);
    assert_int_equal(cfo_mkdir_p(cloudsdk, NULL), CFO_OK);
    setenv("HOME", home, 1);
    const char *google = CFO_GCS_DEFAULT_ENDPOINT;

    /* Nothing else: the metadata server, GCE_METADATA_HOST honoured. */
    expect_chain(CFO_GCS_AUTH_METADATA, "169.254.169.254", google);
    setenv("GCE_METADATA_HOST", "127.0.0.1:8099", 1);
    expect_chain(CFO_GCS_AUTH_METADATA, "http://127.0.0.1:8099", google);

    /* gcloud's application default credentials in $HOME ... */
    char *adc = cfo_xasprintf("%s/application_default_credentials.json", gcloud);
    write_text(adc, "{\"type\": \"authorized_user\", \"client_id\": \"id\", \"client_secret\": "
                    "\"SECRET-1\", \"refresh_token\": \"REFRESH-1\"}");
    expect_chain(CFO_GCS_AUTH_AUTHORIZED_USER, adc, google);
    /* ... or in $CLOUDSDK_CONFIG, which replaces $HOME's. */
    char *adc2 = cfo_xasprintf("%s/application_default_credentials.json", cloudsdk);
    char *text = cfo_xasprintf(sa_json, "adc@p.iam.gserviceaccount.com");
    write_text(adc2, text);
    free(text);
    setenv("CLOUDSDK_CONFIG", cloudsdk, 1);
    expect_chain(CFO_GCS_AUTH_SERVICE_ACCOUNT, "adc@p.iam.gserviceaccount.com", google);

    /* GOOGLE_APPLICATION_CREDENTIALS comes before gcloud's file. */
    char *key = cfo_xasprintf("%s/key.json", dir);
    text = cfo_xasprintf(sa_json, "gac@p.iam.gserviceaccount.com");
    write_text(key, text);
    free(text);
    setenv("GOOGLE_APPLICATION_CREDENTIALS", key, 1);
    expect_chain(CFO_GCS_AUTH_SERVICE_ACCOUNT, "gac@p.iam.gserviceaccount.com", google);
    setenv("CFO_GCS_ENDPOINT", "http://127.0.0.1:9/", 1);
    expect_chain(CFO_GCS_AUTH_SERVICE_ACCOUNT, "gac@", "http://127.0.0.1:9");

    /* Fixed tokens come before key files, CFO_GCS_TOKEN first of them. */
    setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "tok-oauth", 1);
    expect_chain(CFO_GCS_AUTH_TOKEN, "GOOGLE_OAUTH_ACCESS_TOKEN", "http://127.0.0.1:9");
    setenv("CLOUDSDK_AUTH_ACCESS_TOKEN", "tok-sdk", 1);
    expect_chain(CFO_GCS_AUTH_TOKEN, "CLOUDSDK_AUTH_ACCESS_TOKEN", "http://127.0.0.1:9");
    setenv("CFO_GCS_TOKEN", "tok-cfo", 1);
    expect_chain(CFO_GCS_AUTH_TOKEN, "CFO_GCS_TOKEN", "http://127.0.0.1:9");
    cfo_gcs_auth *a = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_gcs_auth_new(&a, &d), CFO_OK);
    const char *hdr = NULL;
    assert_int_equal(cfo_gcs_auth_header(a, false, &hdr, &d), CFO_OK);
    assert_string_equal(hdr, "Authorization: Bearer tok-cfo");
    assert_null(strstr(cfo_gcs_auth_describe(a), "tok-cfo"));
    /* A 401 cannot be cured by refreshing a fixed token; the message keeps it secret. */
    assert_int_equal(cfo_gcs_auth_header(a, true, &hdr, &d), CFO_EIO);
    assert_null(strstr(d.msg, "tok-cfo"));
    cfo_gcs_auth_destroy(&a);

    /* The emulator overrides everything: no credentials, scheme optional. */
    setenv("STORAGE_EMULATOR_HOST", "localhost:9023/", 1);
    expect_chain(CFO_GCS_AUTH_EMULATOR, "localhost:9023", "http://localhost:9023");
    setenv("STORAGE_EMULATOR_HOST", "https://gcs.example:4443", 1);
    expect_chain(CFO_GCS_AUTH_EMULATOR, "gcs.example", "https://gcs.example:4443");
    assert_int_equal(cfo_gcs_auth_new(&a, &d), CFO_OK);
    hdr = "x";
    assert_int_equal(cfo_gcs_auth_header(a, false, &hdr, &d), CFO_OK);
    assert_null(hdr);
    cfo_gcs_auth_destroy(&a);

    free(adc);
    free(adc2);
    free(key);
    free(gcloud);
    free(cloudsdk);
    free(home);
    clear_env();
    assert_int_equal(cfo_remove_tree(dir, NULL), CFO_OK);
    free(dir);
}

static void test_auth_chain_errors(void **state)
{
    (void)state;
    clear_env();
    char *dir = make_tmpdir();
    setenv("HOME", dir, 1);
    cfo_gcs_auth *a = (cfo_gcs_auth *)&a;
    cfo_diag d = {{0}};

    /* A named credentials file that cannot be used is an error, not a reason
     * to try the next source. */
    char *missing = cfo_xasprintf("%s/missing.json", dir);
    setenv("GOOGLE_APPLICATION_CREDENTIALS", missing, 1);
    assert_int_not_equal(cfo_gcs_auth_new(&a, &d), CFO_OK);
    assert_null(a);
    assert_non_null(strstr(d.msg, "missing.json"));

    char *path = cfo_xasprintf("%s/ext.json", dir);
    write_text(path, "{\"type\": \"external_account\", \"audience\": \"x\"}");
    setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
    assert_int_equal(cfo_gcs_auth_new(&a, &d), CFO_EUNSUPPORTED);
    assert_non_null(strstr(d.msg, "external_account"));

    write_text(path, "{\"type\": \"service_account\", \"private_key\": \"SECRET-KEY\"}");
    assert_int_equal(cfo_gcs_auth_new(&a, &d), CFO_EPARSE);
    assert_non_null(strstr(d.msg, "client_email"));
    assert_null(strstr(d.msg, "SECRET-KEY"));

    write_text(path, "{\"type\": \"authorized_user\", \"refresh_token\": \"SECRET\" ");
    assert_int_equal(cfo_gcs_auth_new(&a, &d), CFO_EPARSE);
    assert_null(strstr(d.msg, "SECRET"));

    /* A token that would split the request's header is refused, unquoted. */
    setenv("CFO_GCS_TOKEN", "tok\r\nX-Evil: 1", 1);
    assert_int_equal(cfo_gcs_auth_new(&a, &d), CFO_EINVAL);
    assert_non_null(strstr(d.msg, "CFO_GCS_TOKEN"));
    assert_null(strstr(d.msg, "Evil"));

    free(missing);
    free(path);
    clear_env();
    assert_int_equal(cfo_remove_tree(dir, NULL), CFO_OK);
    free(dir);
}

static void test_open_gs_urls(void **state)
{
    (void)state;
    clear_env();
    setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:1", 1);
    cfo_storage *st = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_storage_open("gs://my-bucket/dir/a b.json", &st, &d), CFO_OK);
    assert_string_equal(st->display, "gs://my-bucket/dir/a b.json");
    assert_string_equal(st->url, "gs://my-bucket/dir/a b.json");
    assert_string_equal(st->ops->scheme, "gs");
    cfo_storage_destroy(&st);
    assert_null(st);

    static const char *const bad[] = {"gs://Upper/x", "gs://ab/x", "gs://b@d/x",
                                      "gs://bucket/line\nbreak", "gs://bucket"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        st = (cfo_storage *)&st;
        if (cfo_storage_open(bad[i], &st, &d) != CFO_EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
        assert_null(st);
    }
    clear_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_encode),
        cmocka_unit_test(test_base64url),
        cmocka_unit_test(test_jwt),
        cmocka_unit_test(test_jwt_rejects_bad_keys),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_retry_env),
        cmocka_unit_test(test_transient),
        cmocka_unit_test(test_auth_chain_order),
        cmocka_unit_test(test_auth_chain_errors),
        cmocka_unit_test(test_open_gs_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
