/* cfo_storage.c -- dataset URLs and the calls that dispatch to a storage backend. */
#include "cfo_storage.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define URL_EXPECTED "expected file:///abs/path, file://rel/path, a path, or gs://bucket/object"

size_t cfo_storage_scheme_len(const char *url)
{
    if (!isalpha((unsigned char)url[0]))
        return 0;
    size_t n = 1;
    while (isalnum((unsigned char)url[n]) || url[n] == '+' || url[n] == '-' || url[n] == '.')
        n++;
    return strncmp(url + n, "://", 3) == 0 ? n : 0;
}

static cfo_err open_gs(const char *url, cfo_storage **out, cfo_diag *d)
{
    const char *bucket = url + strlen("gs://");
    const char *slash = strchr(bucket, '/');
    if (slash == NULL || slash == bucket || slash[1] == '\0')
        return cfo_diag_set(d, CFO_EINVAL,
                            "invalid dataset URL '%s' (expected gs://bucket/object, both "
                            "non-empty)",
                            url);
    char *b = cfo_xstrndup(bucket, (size_t)(slash - bucket));
    cfo_err err = cfo_storage_gcs_open(b, slash + 1, out, d);
    free(b);
    return err;
}

char *cfo_storage_url_under(const char *url, const char *root)
{
    size_t n = cfo_storage_scheme_len(url);
    const char *path = url;
    if (n == 4 && strncmp(url, "file", 4) == 0)
        path = url + strlen("file://");
    else if (n != 0)
        return cfo_xstrdup(url);
    if (path[0] == '/' || path[0] == '\0')
        return cfo_xstrdup(url);
    return cfo_xasprintf("file://%s/%s", root, path);
}

cfo_err cfo_storage_open(const char *url, cfo_storage **out, cfo_diag *d)
{
    *out = NULL;
    if (url == NULL || *url == '\0')
        return cfo_diag_set(d, CFO_EINVAL, "empty dataset URL (%s)", URL_EXPECTED);
    size_t n = cfo_storage_scheme_len(url);
    const char *path = url;
    if (n == 4 && strncmp(url, "file", 4) == 0) {
        path = url + strlen("file://");
        if (*path == '\0')
            return cfo_diag_set(d, CFO_EINVAL, "invalid dataset URL '%s': no path (%s)", url,
                                URL_EXPECTED);
    } else if (n == 2 && strncmp(url, "gs", 2) == 0) {
        return open_gs(url, out, d);
    } else if (n != 0) {
        return cfo_diag_set(d, CFO_EINVAL, "unsupported dataset URL '%s' (%s)", url, URL_EXPECTED);
    }
    cfo_storage *st = NULL;
    cfo_err err = cfo_storage_file_open(path, &st, d);
    if (err != CFO_OK)
        return err;
    free(st->url);
    st->url = cfo_xstrdup(url);
    *out = st;
    return CFO_OK;
}

void cfo_storage_destroy(cfo_storage **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    cfo_storage *st = *self_p;
    char *url = st->url;
    char *display = st->display;
    st->ops->destroy(st);
    free(url);
    free(display);
    *self_p = NULL;
}

cfo_err cfo_storage_lock(cfo_storage *self, cfo_diag *d)
{
    return self->ops->lock(self, d);
}

void cfo_storage_unlock(cfo_storage *self)
{
    self->ops->unlock(self);
}

cfo_err cfo_storage_read(cfo_storage *self, cfo_storage_sink sink, void *ctx, char *token,
                         cfo_diag *d)
{
    token[0] = '\0';
    return self->ops->read(self, sink, ctx, token, d);
}

cfo_err cfo_storage_write(cfo_storage *self, const void *data, size_t len, const char *expect_token,
                          cfo_diag *d)
{
    return self->ops->write(self, data, len, expect_token, d);
}
