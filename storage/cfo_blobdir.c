/* cfo_blobdir.c -- put-if-absent file folders: a local directory (link(2)) or a GCS prefix
 * (ifGenerationMatch=0). */
#include "cfo_blobdir.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "cfo_file.h"
#include "cfo_log.h"
#include "gcs_auth.h"
#include "gcs_http.h"

#define URL_EXPECTED "expected file:///abs/dir, file://rel/dir, a path, or gs://bucket/prefix"
#define COPY_CHUNK (64 * 1024)
/* GCS object names are at most 1024 bytes; room is kept for the file name. */
#define GCS_PREFIX_MAX (1024 - CFO_BLOBDIR_NAME_MAX - 1)
/* One listing page trimmed to names (fields=...) is far smaller than this. */
#define LIST_PAGE_BODY_MAX (8u << 20)
#define LIST_PAGE_SIZE 1000
#define PAGE_TOKEN_MAX 4096

/* What differs between a local folder and a gs:// prefix. */
typedef struct blobdir_ops {
    /* Appends at most max names; cfo_blobdir_list sorts them, or drops them
     * on an error. */
    cfo_err (*list)(cfo_blobdir *self, size_t max, cfo_strv *names, cfo_diag *d);
    cfo_err (*get)(cfo_blobdir *self, const char *name, const char *dest_path, uint64_t max_bytes,
                   cfo_diag *d);
    cfo_err (*put)(cfo_blobdir *self, const char *name, const void *data, size_t len, bool *created,
                   cfo_diag *d);
    cfo_err (*remove)(cfo_blobdir *self, const char *name, cfo_diag *d);
    /* Fills sub (zeroed, ops set) as the sub-folder rel of self. */
    cfo_err (*sub)(const cfo_blobdir *self, const char *rel, cfo_blobdir *sub, cfo_diag *d);
} blobdir_ops;

static const blobdir_ops local_ops, gcs_ops;

struct cfo_blobdir {
    const blobdir_ops *ops;
    char *display;
    /* local */
    char *dir; /* absolute, no trailing '/' (but "/" itself) */
    /* gcs */
    cfo_gcs_bucket bucket;
    char *prefix; /* "" or "a/b/" */
};

/* Whether s[0..n) is 1 to CFO_BLOBDIR_NAME_MAX bytes of A-Z a-z 0-9 ._-%:+,=@~ */
static bool name_chars_ok(const char *s, size_t n)
{
    if (n == 0 || n > CFO_BLOBDIR_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && strchr("._-%:+,=@~", c) == NULL)
            return false;
    }
    return true;
}

bool cfo_blobdir_name_ok(const char *name)
{
    return name[0] != '.' && name_chars_ok(name, strlen(name));
}

/* A segment of a sub-folder path: a name, or a hidden name, never "." or "..". */
static bool segment_ok(const char *seg, size_t n)
{
    bool dots = (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.');
    return !dots && name_chars_ok(seg, n);
}

static bool rel_ok(const char *rel)
{
    const char *s = rel;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (!segment_ok(s, n))
            return false;
        if (slash == NULL)
            return true;
        s = slash + 1;
    }
}

static cfo_err check_name(const cfo_blobdir *self, const char *name, cfo_diag *d)
{
    if (name == NULL || !cfo_blobdir_name_ok(name))
        return cfo_diag_set(d, CFO_EINVAL,
                            "invalid file name '%.100s' in %s (1-%d bytes of A-Z a-z 0-9 "
                            "._-%%:+,=@~, not starting with '.')",
                            name ? name : "(null)", self->display, CFO_BLOBDIR_NAME_MAX);
    return CFO_OK;
}

/* ---- local directories ------------------------------------------------ */

static cfo_err open_local(const char *path, cfo_blobdir **out, cfo_diag *d)
{
    if (*path == '\0')
        return cfo_diag_set(d, CFO_EINVAL, "empty folder path (%s)", URL_EXPECTED);
    char *abs = cfo_abs_path(path, d);
    if (abs == NULL)
        return CFO_EIO; /* only getcwd fails; d says why */
    size_t n = strlen(abs);
    while (n > 1 && abs[n - 1] == '/')
        abs[--n] = '\0';
    cfo_blobdir *bd = cfo_xcalloc(1, sizeof *bd);
    bd->ops = &local_ops;
    bd->dir = abs;
    bd->display = cfo_xstrdup(abs);
    *out = bd;
    return CFO_OK;
}

static char *local_path(const cfo_blobdir *self, const char *name)
{
    return cfo_xasprintf("%s/%s", strcmp(self->dir, "/") == 0 ? "" : self->dir, name);
}

/* Sorts the names appended to names from index from on, dropping repeats. */
static void sort_names(cfo_strv *names, size_t from)
{
    size_t n = names->n - from;
    if (n < 2)
        return;
    char **v = names->v + from;
    qsort(v, n, sizeof *v, cfo_strp_cmp);
    size_t w = 1;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(v[i], v[w - 1]) == 0)
            free(v[i]);
        else
            v[w++] = v[i];
    }
    names->n = from + w;
    names->v[names->n] = NULL;
}

static cfo_err local_list(cfo_blobdir *self, size_t max, cfo_strv *names, cfo_diag *d)
{
    DIR *dir = opendir(self->dir);
    if (dir == NULL) {
        if (errno == ENOENT)
            return CFO_OK;
        return cfo_diag_set(d, CFO_EIO, "cannot open %s: %s", self->dir, strerror(errno));
    }
    size_t count = 0;
    cfo_err err = CFO_OK;
    for (;;) {
        struct dirent *de = cfo_dir_next_file(dir);
        if (de == NULL) {
            if (errno != 0)
                err = cfo_diag_set(d, CFO_EIO, "cannot read %s: %s", self->dir, strerror(errno));
            break;
        }
        if (!cfo_blobdir_name_ok(de->d_name)) {
            cfo_warn("%s: ignoring the file '%.100s' (not a valid name)", self->display,
                     de->d_name);
            continue;
        }
        if (++count > max) {
            err = cfo_diag_set(d, CFO_ELIMIT, "%s holds more than %zu files", self->display, max);
            break;
        }
        cfo_strv_push(names, de->d_name);
    }
    closedir(dir);
    return err;
}

static cfo_err local_get(cfo_blobdir *self, const char *name, const char *dest_path,
                         uint64_t max_bytes, cfo_diag *d)
{
    char *src = local_path(self, name);
    cfo_err err = CFO_OK;
    char *tmp = NULL;
    int out = -1;
    char *buf = NULL;
    int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) {
        if (errno == ENOENT)
            err = cfo_diag_set(d, CFO_ENOTFOUND, "%s: no such file", src);
        else
            err = cfo_diag_set(d, CFO_EIO, "cannot open %s: %s", src, strerror(errno));
        goto out;
    }
    struct stat sb;
    if (fstat(in, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        err = cfo_diag_set(d, CFO_EIO, "%s is not a regular file", src);
        goto out;
    }
    if ((uint64_t)sb.st_size > max_bytes) {
        err = cfo_diag_set(d, CFO_ELIMIT, "%s is %jd bytes, more than %" PRIu64, src,
                           (intmax_t)sb.st_size, max_bytes);
        goto out;
    }
    tmp = cfo_temp_beside(dest_path);
    out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        err = cfo_diag_set(d, CFO_EIO, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        tmp = NULL;
        goto out;
    }
    buf = cfo_xmalloc(COPY_CHUNK);
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(in, buf, COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = cfo_diag_set(d, CFO_EIO, "cannot read %s: %s", src, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        total += (uint64_t)n;
        if (total > max_bytes) {
            err = cfo_diag_set(d, CFO_ELIMIT, "%s is more than %" PRIu64 " bytes", src, max_bytes);
            goto out;
        }
        if (cfo_write_all(out, buf, (size_t)n) != CFO_OK) {
            err = cfo_diag_set(d, CFO_EIO, "cannot write %s: %s", tmp, strerror(errno));
            goto out;
        }
    }
    int rc = close(out);
    out = -1;
    if (rc != 0 || rename(tmp, dest_path) != 0) {
        err = cfo_diag_set(d, CFO_EIO, "cannot write %s: %s", dest_path, strerror(errno));
        goto out;
    }
    free(tmp);
    tmp = NULL;
out:
    if (out >= 0)
        close(out);
    if (tmp != NULL) {
        unlink(tmp);
        free(tmp);
    }
    if (in >= 0)
        close(in);
    free(buf);
    free(src);
    return err;
}

/* Publishes tmp as final unless final exists, atomically: link(2) fails with
 * EEXIST rather than replace. Filesystems without hard links get
 * renameat2(RENAME_NOREPLACE), which has the same meaning. */
static int publish_no_replace(const char *tmp, const char *final)
{
    if (link(tmp, final) == 0)
        return 0;
    if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS)
        return -1;
    return renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE);
}

static cfo_err local_put(cfo_blobdir *self, const char *name, const void *data, size_t len,
                         bool *created, cfo_diag *d)
{
    cfo_err err = cfo_mkdir_p(self->dir, d);
    if (err != CFO_OK)
        return err;
    char *final = local_path(self, name);
    char *tmp = cfo_temp_beside(final);
    const char *step;
    if (cfo_write_new_file(tmp, data, len, 0644, false, &step) != CFO_OK)
        goto fail;
    step = "link";
    if (publish_no_replace(tmp, final) == 0) {
        *created = true;
    } else if (errno == EEXIST) {
        *created = false;
    } else {
        int e = errno;
        unlink(tmp);
        errno = e;
        goto fail;
    }
    unlink(tmp);
    free(tmp);
    free(final);
    /* The new entry is durable only once the directory is. */
    return *created ? cfo_sync_dir(self->dir, d) : CFO_OK;

fail:
    err = cfo_diag_set(d, CFO_EIO, "cannot store %s (%s of %s failed: %s)", final, step, tmp,
                       strerror(errno));
    free(tmp);
    free(final);
    return err;
}

static cfo_err local_delete(cfo_blobdir *self, const char *name, cfo_diag *d)
{
    char *path = local_path(self, name);
    cfo_err err = CFO_OK;
    if (unlink(path) != 0 && errno != ENOENT)
        err = cfo_diag_set(d, CFO_EIO, "cannot delete %s: %s", path, strerror(errno));
    free(path);
    return err;
}

/* ---- GCS prefixes ------------------------------------------------------ */

/* Opens bd's bucket and names it for messages; prefix is set. */
static cfo_err gcs_init(cfo_blobdir *bd, const char *bucket, size_t len, cfo_diag *d)
{
    cfo_err err = cfo_gcs_bucket_open(&bd->bucket, bucket, len, d);
    if (err != CFO_OK)
        return err;
    size_t pl = strlen(bd->prefix);
    bd->display = cfo_xasprintf("gs://%s%s%.*s", bd->bucket.name, pl ? "/" : "",
                                (int)(pl ? pl - 1 : 0), bd->prefix);
    cfo_debug("%s: credentials from %s", bd->display, cfo_gcs_auth_describe(bd->bucket.auth));
    return CFO_OK;
}

static cfo_err open_gcs(const char *url, cfo_blobdir **out, cfo_diag *d)
{
    const char *bucket = url + strlen("gs://");
    const char *slash = strchr(bucket, '/');
    size_t bl = slash ? (size_t)(slash - bucket) : strlen(bucket);
    if (!cfo_gcs_bucket_ok(bucket, bl))
        return cfo_diag_set(d, CFO_EINVAL,
                            "invalid GCS URL '%s': bucket names are 3-222 characters of a-z 0-9 "
                            "- _ .",
                            url);
    char *prefix = cfo_xstrdup(slash ? slash + 1 : "");
    size_t pl = strlen(prefix);
    while (pl > 0 && prefix[pl - 1] == '/')
        prefix[--pl] = '\0';
    if (pl > GCS_PREFIX_MAX || strpbrk(prefix, "\r\n") != NULL ||
        (pl > 0 && (prefix[0] == '/' || strstr(prefix, "//") != NULL))) {
        free(prefix);
        return cfo_diag_set(d, CFO_EINVAL,
                            "invalid GCS URL '%s': the prefix must be at most %d bytes without "
                            "line breaks or empty segments",
                            url, GCS_PREFIX_MAX);
    }
    cfo_blobdir *bd = cfo_xcalloc(1, sizeof *bd);
    bd->ops = &gcs_ops;
    bd->prefix = pl ? cfo_xasprintf("%s/", prefix) : cfo_xstrdup("");
    free(prefix);
    cfo_err err = gcs_init(bd, bucket, bl, d);
    if (err != CFO_OK) {
        cfo_blobdir_destroy(&bd);
        return err;
    }
    *out = bd;
    return CFO_OK;
}

static char *object_url(const cfo_blobdir *self, const char *name)
{
    char *full = cfo_xasprintf("%s%s", self->prefix, name);
    char *url = cfo_gcs_object_url(&self->bucket, full);
    free(full);
    return url;
}

static cfo_err status_error(const cfo_blobdir *self, const cfo_gcs_http_resp *resp,
                            const char *what, const char *name, cfo_diag *d)
{
    if (resp->status == 404 && cfo_gcs_says_no_bucket(resp))
        return cfo_diag_set(d, CFO_EIO, "%s %s: bucket '%s' does not exist", what, self->display,
                            self->bucket.name);
    char *shown = cfo_xasprintf("%s%s%s", self->display, name ? "/" : "", name ? name : "");
    cfo_err err = cfo_gcs_status_error(resp, self->bucket.auth, what, shown, d);
    free(shown);
    return err;
}

typedef struct page_sink {
    cfo_buf *buf;
    cfo_diag *d;
    const char *display;
} page_sink;

static cfo_err collect_page(void *ctx, const void *data, size_t len, cfo_diag *unused)
{
    (void)unused;
    page_sink *ps = ctx;
    if (ps->buf->len + len > LIST_PAGE_BODY_MAX)
        return cfo_diag_set(ps->d, CFO_ELIMIT, "listing %s: a page is larger than %u bytes",
                            ps->display, LIST_PAGE_BODY_MAX);
    cfo_buf_append(ps->buf, data, len);
    return CFO_OK;
}

/* Adds the page's direct files to names; sets *token to the next page's
 * token or NULL. */
static cfo_err parse_page(cfo_blobdir *self, const cfo_buf *body, size_t max, size_t from,
                          cfo_strv *names, char **token, cfo_diag *d)
{
    *token = NULL;
    const char *text = body->data ? body->data : "";
    yajl_val root = cfo_json_depth_ok(text, body->len, 16) ? yajl_tree_parse(text, NULL, 0) : NULL;
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return cfo_diag_set(d, CFO_EPARSE, "listing %s: the reply is not a JSON object",
                            self->display);
    }
    cfo_err err = CFO_OK;
    const char *ip[] = {"items", NULL};
    const char *np[] = {"name", NULL};
    const char *tp[] = {"nextPageToken", NULL};
    yajl_val items = yajl_tree_get(root, ip, yajl_t_any);
    size_t pl = strlen(self->prefix);
    if (items != NULL && !YAJL_IS_ARRAY(items)) {
        err = cfo_diag_set(d, CFO_EPARSE, "listing %s: 'items' is not an array", self->display);
        goto out;
    }
    for (size_t i = 0; items != NULL && i < YAJL_GET_ARRAY(items)->len; i++) {
        yajl_val nv = yajl_tree_get(YAJL_GET_ARRAY(items)->values[i], np, yajl_t_string);
        const char *full = nv ? YAJL_GET_STRING(nv) : NULL;
        if (full == NULL) {
            err = cfo_diag_set(d, CFO_EPARSE, "listing %s: an item has no name", self->display);
            goto out;
        }
        const char *name = full + pl;
        if (strncmp(full, self->prefix, pl) != 0 || !cfo_blobdir_name_ok(name)) {
            char shown[120];
            snprintf(shown, sizeof shown, "%s", full);
            cfo_utf8_sanitize(shown);
            cfo_warn("%s: ignoring the object '%s' (not a valid file name in this folder)",
                     self->display, shown);
            continue;
        }
        if (names->n - from >= max) {
            err = cfo_diag_set(d, CFO_ELIMIT, "%s holds more than %zu files", self->display, max);
            goto out;
        }
        cfo_strv_push(names, name);
    }
    yajl_val tv = yajl_tree_get(root, tp, yajl_t_string);
    const char *tok = tv ? YAJL_GET_STRING(tv) : NULL;
    if (tok != NULL && tok[0] != '\0') {
        if (strlen(tok) > PAGE_TOKEN_MAX) {
            err = cfo_diag_set(d, CFO_EPARSE, "listing %s: the page token is too long",
                               self->display);
            goto out;
        }
        *token = cfo_xstrdup(tok);
    }
out:
    yajl_tree_free(root);
    return err;
}

static cfo_err gcs_list(cfo_blobdir *self, size_t max, cfo_strv *names, cfo_diag *d)
{
    size_t from = names->n;
    char *token = NULL;
    cfo_err err = CFO_OK;
    cfo_buf body;
    cfo_buf_init(&body);
    char *eprefix = cfo_gcs_url_encode(self->prefix);
    size_t page_size = max < LIST_PAGE_SIZE ? max + 1 : LIST_PAGE_SIZE;
    /* A listing that never ends (a token on every page) is cut off. Pages
     * may hold fewer names than asked (sub-folders fill them too), hence the
     * slack. */
    size_t max_pages = max / page_size + 100, pages = 0;
    do {
        if (++pages > max_pages) {
            err = cfo_diag_set(d, CFO_EIO, "listing %s: more than %zu pages", self->display,
                               max_pages);
            break;
        }
        char *etok = token ? cfo_gcs_url_encode(token) : NULL;
        char *url = cfo_xasprintf(
            "%s/o?prefix=%s&delimiter=%%2F&maxResults=%zu&fields=items(name)%%2CnextPageToken%s%s",
            self->bucket.api_base, eprefix, page_size, etok ? "&pageToken=" : "", etok ? etok : "");
        free(etok);
        free(token);
        token = NULL;
        cfo_buf_reset(&body);
        page_sink ps = {.buf = &body, .d = d, .display = self->display};
        cfo_gcs_http_req req = {.method = "GET", .url = url, .sink = collect_page, .sink_ctx = &ps};
        cfo_gcs_http_resp resp;
        err = cfo_gcs_bucket_call(&self->bucket, &req, &resp, "listing", self->display, d);
        if (err == CFO_OK && resp.status != 200)
            err = status_error(self, &resp, "listing", NULL, d);
        if (err == CFO_OK)
            err = parse_page(self, &body, max, from, names, &token, d);
        cfo_gcs_http_resp_fini(&resp);
        free(url);
    } while (err == CFO_OK && token != NULL);
    free(token);
    free(eprefix);
    cfo_buf_fini(&body);
    return err;
}

typedef struct file_sink {
    int fd;
    uint64_t bytes, max;
    const char *what;
    cfo_diag *d;
} file_sink;

static cfo_err write_to_file(void *ctx, const void *data, size_t len, cfo_diag *unused)
{
    (void)unused;
    file_sink *fs = ctx;
    fs->bytes += len;
    if (fs->bytes > fs->max)
        return cfo_diag_set(fs->d, CFO_ELIMIT, "%s is more than %" PRIu64 " bytes", fs->what,
                            fs->max);
    if (cfo_write_all(fs->fd, data, len) != CFO_OK)
        return cfo_diag_set(fs->d, CFO_EIO, "cannot write %s: %s", fs->what, strerror(errno));
    return CFO_OK;
}

static cfo_err gcs_get(cfo_blobdir *self, const char *name, const char *dest_path,
                       uint64_t max_bytes, cfo_diag *d)
{
    char *tmp = cfo_temp_beside(dest_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        cfo_err err = cfo_diag_set(d, CFO_EIO, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return err;
    }
    char *shown = cfo_xasprintf("%s/%s", self->display, name);
    char *meta = object_url(self, name);
    char *url = cfo_xasprintf("%s?alt=media", meta);
    file_sink fs = {.fd = fd, .max = max_bytes, .what = shown, .d = d};
    cfo_gcs_http_req req = {.method = "GET", .url = url, .sink = write_to_file, .sink_ctx = &fs};
    cfo_gcs_http_resp resp;
    cfo_err err = cfo_gcs_bucket_call(&self->bucket, &req, &resp, "reading", shown, d);
    if (err == CFO_OK && resp.status == 404 && !cfo_gcs_says_no_bucket(&resp))
        err = cfo_diag_set(d, CFO_ENOTFOUND, "%s: no such object", shown);
    else if (err == CFO_OK && resp.status != 200)
        err = status_error(self, &resp, "reading", name, d);
    int rc = close(fd);
    if (err == CFO_OK && (rc != 0 || rename(tmp, dest_path) != 0))
        err = cfo_diag_set(d, CFO_EIO, "cannot write %s: %s", dest_path, strerror(errno));
    if (err != CFO_OK)
        unlink(tmp);
    cfo_gcs_http_resp_fini(&resp);
    cfo_free_all(url, meta, shown, tmp);
    return err;
}

static cfo_err gcs_put(cfo_blobdir *self, const char *name, const void *data, size_t len,
                       bool *created, cfo_diag *d)
{
    char *full = cfo_xasprintf("%s%s", self->prefix, name);
    char *enc = cfo_gcs_url_encode(full);
    char *url = cfo_xasprintf("%s?uploadType=media&name=%s&ifGenerationMatch=0",
                              self->bucket.upload_base, enc);
    char *shown = cfo_xasprintf("%s/%s", self->display, name);
    static const char *const hdrs[] = {"Content-Type: application/octet-stream", NULL};
    cfo_gcs_http_req req = {
        .method = "POST", .url = url, .headers = hdrs, .body = data, .body_len = len};
    cfo_gcs_http_resp resp;
    cfo_err err = cfo_gcs_bucket_call(&self->bucket, &req, &resp, "storing", shown, d);
    if (err == CFO_OK) {
        /* 412: another writer stored it first, or an earlier try of ours
         * whose reply was lost did; either way the name now holds it. */
        if (resp.status == 200)
            *created = true;
        else if (resp.status == 412)
            *created = false;
        else
            err = status_error(self, &resp, "storing", name, d);
    }
    cfo_gcs_http_resp_fini(&resp);
    cfo_free_all(shown, url, enc, full);
    return err;
}

static cfo_err gcs_delete(cfo_blobdir *self, const char *name, cfo_diag *d)
{
    char *url = object_url(self, name);
    char *shown = cfo_xasprintf("%s/%s", self->display, name);
    cfo_gcs_http_req req = {.method = "DELETE", .url = url};
    cfo_gcs_http_resp resp;
    cfo_err err = cfo_gcs_bucket_call(&self->bucket, &req, &resp, "deleting", shown, d);
    if (err == CFO_OK && resp.status != 200 && resp.status != 204 &&
        !(resp.status == 404 && !cfo_gcs_says_no_bucket(&resp)))
        err = status_error(self, &resp, "deleting", name, d);
    cfo_gcs_http_resp_fini(&resp);
    free(shown);
    free(url);
    return err;
}

static cfo_err local_sub(const cfo_blobdir *self, const char *rel, cfo_blobdir *sub, cfo_diag *d)
{
    (void)d;
    sub->dir = local_path(self, rel);
    sub->display = cfo_xstrdup(sub->dir);
    return CFO_OK;
}

static cfo_err gcs_sub(const cfo_blobdir *self, const char *rel, cfo_blobdir *sub, cfo_diag *d)
{
    sub->prefix = cfo_xasprintf("%s%s/", self->prefix, rel);
    if (strlen(sub->prefix) > GCS_PREFIX_MAX + 1)
        return cfo_diag_set(d, CFO_EINVAL, "sub-folder '%.200s' of %s: the prefix is too long", rel,
                            self->display);
    return gcs_init(sub, self->bucket.name, strlen(self->bucket.name), d);
}

static const blobdir_ops local_ops = {
    .list = local_list,
    .get = local_get,
    .put = local_put,
    .remove = local_delete,
    .sub = local_sub,
};

static const blobdir_ops gcs_ops = {
    .list = gcs_list,
    .get = gcs_get,
    .put = gcs_put,
    .remove = gcs_delete,
    .sub = gcs_sub,
};

/* ---- the public calls -------------------------------------------------- */

cfo_err cfo_blobdir_open(const char *url, cfo_blobdir **out, cfo_diag *d)
{
    *out = NULL;
    if (url == NULL || *url == '\0')
        return cfo_diag_set(d, CFO_EINVAL, "empty folder URL (%s)", URL_EXPECTED);
    size_t n = cfo_storage_scheme_len(url);
    if (n == 4 && strncmp(url, "file", 4) == 0)
        return open_local(url + strlen("file://"), out, d);
    if (n == 2 && strncmp(url, "gs", 2) == 0)
        return open_gcs(url, out, d);
    if (n != 0)
        return cfo_diag_set(d, CFO_EINVAL, "unsupported folder URL '%s' (%s)", url, URL_EXPECTED);
    return open_local(url, out, d);
}

void cfo_blobdir_destroy(cfo_blobdir **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    cfo_blobdir *bd = *self_p;
    free(bd->display);
    free(bd->dir);
    free(bd->prefix);
    cfo_gcs_bucket_fini(&bd->bucket);
    free(bd);
    *self_p = NULL;
}

const char *cfo_blobdir_display(const cfo_blobdir *self)
{
    return self->display;
}

cfo_err cfo_blobdir_sub(const cfo_blobdir *self, const char *rel, cfo_blobdir **out, cfo_diag *d)
{
    *out = NULL;
    if (rel == NULL || !rel_ok(rel))
        return cfo_diag_set(d, CFO_EINVAL,
                            "invalid sub-folder '%.200s' of %s (segments of A-Z a-z 0-9 "
                            "._-%%:+,=@~, none empty, '.' or '..')",
                            rel ? rel : "(null)", self->display);
    cfo_blobdir *bd = cfo_xcalloc(1, sizeof *bd);
    bd->ops = self->ops;
    cfo_err err = self->ops->sub(self, rel, bd, d);
    if (err != CFO_OK) {
        cfo_blobdir_destroy(&bd);
        return err;
    }
    *out = bd;
    return CFO_OK;
}

cfo_err cfo_blobdir_list(cfo_blobdir *self, size_t max, cfo_strv *names, cfo_diag *d)
{
    if (names->v == NULL)
        cfo_strv_init(names);
    size_t from = names->n;
    cfo_err err = self->ops->list(self, max, names, d);
    if (err != CFO_OK) {
        while (names->n > from)
            free(names->v[--names->n]);
        names->v[names->n] = NULL;
        return err;
    }
    sort_names(names, from);
    return CFO_OK;
}

cfo_err cfo_blobdir_get(cfo_blobdir *self, const char *name, const char *dest_path,
                        uint64_t max_bytes, cfo_diag *d)
{
    cfo_err err = check_name(self, name, d);
    if (err != CFO_OK)
        return err;
    return self->ops->get(self, name, dest_path, max_bytes, d);
}

cfo_err cfo_blobdir_put_new_data(cfo_blobdir *self, const char *name, const void *data, size_t len,
                                 bool *created, cfo_diag *d)
{
    *created = false;
    cfo_err err = check_name(self, name, d);
    if (err != CFO_OK)
        return err;
    return self->ops->put(self, name, data, len, created, d);
}

cfo_err cfo_blobdir_put_new(cfo_blobdir *self, const char *name, const char *src_path,
                            bool *created, cfo_diag *d)
{
    *created = false;
    cfo_err err = check_name(self, name, d);
    if (err != CFO_OK)
        return err;
    cfo_buf data;
    cfo_buf_init(&data);
    err = cfo_read_file(src_path, CFO_BLOBDIR_MAX_PUT, &data, d);
    if (err == CFO_OK)
        err = cfo_blobdir_put_new_data(self, name, data.data, data.len, created, d);
    cfo_buf_fini(&data);
    return err;
}

cfo_err cfo_blobdir_delete(cfo_blobdir *self, const char *name, cfo_diag *d)
{
    cfo_err err = check_name(self, name, d);
    if (err != CFO_OK)
        return err;
    return self->ops->remove(self, name, d);
}
