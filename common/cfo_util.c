/* cfo_util.c -- allocation, buffers, string vectors and small parsers. */
#include "cfo_util.h"

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void oom(size_t n)
{
    fprintf(stderr, "cfo: out of memory allocating %zu bytes\n", n);
    abort();
}

void *cfo_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *cfo_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom(n * size);
    return p;
}

void *cfo_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *cfo_xstrdup(const char *s)
{
    return cfo_xstrndup(s, strlen(s));
}

char *cfo_xstrndup(const char *s, size_t n)
{
    char *p = cfo_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *cfo_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    int n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    return p;
}

void cfo_buf_init(cfo_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void cfo_buf_fini(cfo_buf *b)
{
    free(b->data);
    cfo_buf_init(b);
}

void cfo_buf_reset(cfo_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void *cfo_grow(void *v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return v;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    if (n > SIZE_MAX / elem)
        oom(SIZE_MAX);
    *cap = n;
    return cfo_xrealloc(v, n * elem);
}

uint32_t cfo_hash_bytes(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

void cfo_free_many(void *const *ptrs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ptrs[i]);
}

void cfo_buf_reserve(cfo_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = cfo_xrealloc(b->data, cap);
    b->cap = cap;
    b->data[b->len] = '\0';
}

void cfo_buf_append(cfo_buf *b, const void *p, size_t n)
{
    cfo_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void cfo_buf_puts(cfo_buf *b, const char *s)
{
    cfo_buf_append(b, s, strlen(s));
}

void cfo_buf_printf(cfo_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    cfo_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
}

char *cfo_buf_steal(cfo_buf *b)
{
    char *p = b->data ? b->data : cfo_xstrdup("");
    cfo_buf_init(b);
    return p;
}

void cfo_strv_init(cfo_strv *sv)
{
    sv->v = cfo_xcalloc(1, sizeof *sv->v);
    sv->n = 0;
    sv->cap = 1;
}

void cfo_strv_fini(cfo_strv *sv)
{
    if (sv->v != NULL) {
        for (size_t i = 0; i < sv->n; i++)
            free(sv->v[i]);
        free(sv->v);
    }
    sv->v = NULL;
    sv->n = sv->cap = 0;
}

void cfo_strv_push_owned(cfo_strv *sv, char *s)
{
    if (sv->v == NULL)
        cfo_strv_init(sv);
    sv->v = cfo_grow(sv->v, &sv->cap, sv->n + 2, sizeof *sv->v); /* and the NULL */
    sv->v[sv->n++] = s;
    sv->v[sv->n] = NULL;
}

void cfo_strv_push(cfo_strv *sv, const char *s)
{
    cfo_strv_push_owned(sv, cfo_xstrdup(s));
}

bool cfo_strv_contains(const cfo_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return true;
    return false;
}

void cfo_strv_push_words(cfo_strv *sv, const char *const *words)
{
    for (; *words != NULL; words++)
        cfo_strv_push(sv, *words);
}

int cfo_strp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void cfo_strv_sort(cfo_strv *sv)
{
    if (sv->n > 1)
        qsort(sv->v, sv->n, sizeof *sv->v, cfo_strp_cmp);
}

bool cfo_strv_sorted_has(const cfo_strv *sv, const char *s)
{
    return sv != NULL && sv->n > 0 &&
           bsearch(&s, sv->v, sv->n, sizeof *sv->v, cfo_strp_cmp) != NULL;
}

void cfo_strv_sorted_add(cfo_strv *sv, const char *s)
{
    if (cfo_strv_sorted_has(sv, s))
        return;
    cfo_strv_push(sv, s);
    for (size_t i = sv->n - 1; i > 0 && strcmp(sv->v[i - 1], sv->v[i]) > 0; i--) {
        char *t = sv->v[i - 1];
        sv->v[i - 1] = sv->v[i];
        sv->v[i] = t;
    }
}

void cfo_strv_split_ws(cfo_strv *sv, const char *s)
{
    while (*s) {
        while (*s && isspace((unsigned char)*s))
            s++;
        const char *start = s;
        while (*s && !isspace((unsigned char)*s))
            s++;
        if (s > start)
            cfo_strv_push_owned(sv, cfo_xstrndup(start, (size_t)(s - start)));
    }
}

cfo_err cfo_read_file(const char *path, size_t max, cfo_buf *out, cfo_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return cfo_diag_set(d, e == ENOENT ? CFO_ENOTFOUND : CFO_EIO, "%s: %s", path, strerror(e));
    }
    cfo_buf_reset(out);
    for (;;) {
        cfo_buf_reserve(out, 65536);
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return cfo_diag_set(d, CFO_EIO, "%s: %s", path, strerror(e));
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        out->data[out->len] = '\0';
        if (out->len > max) {
            close(fd);
            return cfo_diag_set(d, CFO_ELIMIT, "%s: larger than %zu bytes", path, max);
        }
    }
    close(fd);
    return CFO_OK;
}

cfo_err cfo_parse_size_kb(const char *s, int64_t *out_kb, cfo_diag *d)
{
    const char *p = s;
    uint64_t v = 0;
    if (!isdigit((unsigned char)*p))
        goto bad;
    while (isdigit((unsigned char)*p)) {
        v = v * 10 + (uint64_t)(*p++ - '0');
        if (v > (1ULL << 50))
            goto bad;
    }
    /* K, M, G, T: 2^10, 2^20, 2^30, 2^40 */
    static const char units[] = "KMGT";
    const char *u = *p != '\0' ? strchr(units, toupper((unsigned char)*p)) : NULL;
    uint64_t unit = u != NULL ? 1ULL << (10 * (u - units + 1)) : 1;
    if (unit > 1) {
        p++;
        if (*p == 'i')
            p++;
    }
    if (toupper((unsigned char)*p) == 'B')
        p++;
    if (*p != '\0' || v > (1ULL << 50) / unit)
        goto bad;
    uint64_t kb = v * unit / 1024;
    if (kb < 1)
        goto bad;
    *out_kb = (int64_t)kb;
    return CFO_OK;
bad:
    return cfo_diag_set(d, CFO_EINVAL,
                        "invalid size '%s' (expected e.g. 512M, 2G, 64k: at least 1k, at most 1P)",
                        s);
}

cfo_err cfo_parse_percent(const char *s, int *out, cfo_diag *d)
{
    const char *p = s;
    int v = 0;
    while (isdigit((unsigned char)*p) && v <= 100)
        v = v * 10 + (*p++ - '0');
    if (p == s || (*p == '%' && *++p != '\0') || *p != '\0' || v < 1 || v > 100)
        return cfo_diag_set(d, CFO_EINVAL, "invalid share '%s' (expected 1%% to 100%%, e.g. 40%%)",
                            s);
    *out = v;
    return CFO_OK;
}

cfo_err cfo_parse_duration(const char *s, int64_t *out_ms, cfo_diag *d)
{
    const char *p = s;
    int64_t total = 0;
    bool any = false;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            goto bad;
        int64_t v = 0;
        while (isdigit((unsigned char)*p)) {
            if (v > INT64_MAX / 10 / 3600000)
                goto bad;
            v = v * 10 + (*p++ - '0');
        }
        int64_t unit;
        if (strncmp(p, "ms", 2) == 0) {
            unit = 1;
            p += 2;
        } else if (*p == 's' || *p == '\0') {
            unit = 1000;
            p += (*p == 's');
        } else if (*p == 'm') {
            unit = 60000;
            p++;
        } else if (*p == 'h') {
            unit = 3600000;
            p++;
        } else {
            goto bad;
        }
        total += v * unit;
        if (total > (int64_t)365 * 24 * 3600000)
            goto bad;
        any = true;
    }
    if (!any || total <= 0)
        goto bad;
    *out_ms = total;
    return CFO_OK;
bad:
    return cfo_diag_set(d, CFO_EINVAL, "invalid duration '%s' (expected e.g. 90s, 30m, 1h, 1h30m)",
                        s);
}

void cfo_format_duration(int64_t ms, char *out, size_t len)
{
    if (ms < 0)
        ms = 0;
    if (ms < 60000) {
        snprintf(out, len, "%.1fs", (double)ms / 1000.0);
        return;
    }
    int64_t s = ms / 1000;
    if (s < 3600)
        snprintf(out, len, "%dm%02ds", (int)(s / 60), (int)(s % 60));
    else
        snprintf(out, len, "%dh%02dm%02ds", (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
}

cfo_err cfo_parse_int(const char *s, int64_t min, int64_t max, int64_t *out, cfo_diag *d)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || isspace((unsigned char)*s) || *end != '\0' || errno != 0 || v < min ||
        v > max)
        return cfo_diag_set(d, CFO_EINVAL, "invalid number '%s' (expected %lld..%lld)", s,
                            (long long)min, (long long)max);
    *out = v;
    return CFO_OK;
}

cfo_err cfo_parse_bool(const char *s, bool *out, cfo_diag *d)
{
    static const char *yes[] = {"true", "yes", "on", "1"};
    static const char *no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return CFO_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return CFO_OK;
        }
    }
    return cfo_diag_set(d, CFO_EINVAL, "invalid boolean '%s' (expected true or false)", s);
}

static bool shell_safe(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && strchr("@%+=:,./_-", *s) == NULL)
            return false;
    return true;
}

void cfo_shell_quote_argv(cfo_buf *out, char *const argv[])
{
    for (size_t i = 0; argv[i] != NULL; i++) {
        if (i)
            cfo_buf_puts(out, " ");
        const char *a = argv[i];
        if (shell_safe(a)) {
            cfo_buf_puts(out, a);
            continue;
        }
        cfo_buf_puts(out, "'");
        for (; *a; a++) {
            if (*a == '\'')
                cfo_buf_puts(out, "'\\''");
            else
                cfo_buf_append(out, a, 1);
        }
        cfo_buf_puts(out, "'");
    }
}

char *cfo_safe_name(const char *s)
{
    cfo_buf b;
    cfo_buf_init(&b);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '/')
            cfo_buf_puts(&b, "__");
        else if (isalnum(c) || c == '.' || c == '_' || c == '-')
            cfo_buf_append(&b, s, 1);
        else
            cfo_buf_printf(&b, "%%%02X", c);
    }
    /* "." and ".." are never valid names of a file we create. */
    if (b.len == 0 || strcmp(b.data, ".") == 0 || strcmp(b.data, "..") == 0) {
        cfo_buf_reset(&b);
        cfo_buf_puts(&b, "_");
    }
    return cfo_buf_steal(&b);
}

char *cfo_abs_path(const char *path, cfo_diag *d)
{
    if (path[0] == '/')
        return cfo_xstrdup(path);
    char *cwd = getcwd(NULL, 0);
    if (cwd == NULL) {
        cfo_diag_set(d, CFO_EIO, "cannot resolve %s: %s", path, strerror(errno));
        return NULL;
    }
    char *abs = cfo_xasprintf("%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, path);
    free(cwd);
    return abs;
}

char *cfo_make_temp_dir(const char *prefix, cfo_diag *d)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = cfo_xasprintf("%s/%s-XXXXXX", tmp != NULL && tmp[0] == '/' ? tmp : "/tmp", prefix);
    if (mkdtemp(dir) == NULL) {
        cfo_diag_set(d, CFO_EIO, "cannot make a temporary folder %s: %s", dir, strerror(errno));
        free(dir);
        return NULL;
    }
    return dir;
}

cfo_err cfo_mkdir_p(const char *path, cfo_diag *d)
{
    char *p = cfo_xstrdup(path);
    for (char *q = p + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            cfo_err err = cfo_diag_set(d, CFO_EIO, "cannot create %s: %s", p, strerror(e));
            free(p);
            return err;
        }
        *q = '/';
    }
    cfo_err err = CFO_OK;
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        err = cfo_diag_set(d, CFO_EIO, "cannot create %s: %s", p, strerror(errno));
    free(p);
    return err;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

struct dirent *cfo_dir_next_file(DIR *dh)
{
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dh);
        if (de == NULL)
            return NULL;
        if (de->d_name[0] == '.')
            continue;
        bool regular = de->d_type == DT_REG;
        if (de->d_type == DT_UNKNOWN) {
            struct stat sb;
            regular = fstatat(dirfd(dh), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
                      S_ISREG(sb.st_mode);
        }
        if (regular)
            return de;
    }
}

cfo_err cfo_list_files(const char *dir, cfo_strv *out, cfo_diag *d)
{
    DIR *dh = opendir(dir);
    if (dh == NULL)
        return cfo_diag_set(d, errno == ENOENT ? CFO_ENOTFOUND : CFO_EIO, "cannot open %s: %s", dir,
                            strerror(errno));
    size_t first = out->n;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *p = cfo_xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            cfo_strv_push(out, e->d_name);
        free(p);
    }
    closedir(dh);
    qsort(out->v + first, out->n - first, sizeof *out->v, cfo_strp_cmp);
    return CFO_OK;
}

cfo_err cfo_remove_tree(const char *path, cfo_diag *d)
{
    if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        return cfo_diag_set(d, CFO_EIO, "cannot remove %s: %s", path, strerror(errno));
    return CFO_OK;
}

void cfo_utf8_sanitize(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        size_t n = c < 0x80           ? 1
                   : (c >> 5) == 0x6  ? 2
                   : (c >> 4) == 0xe  ? 3
                   : (c >> 3) == 0x1e ? 4
                                      : 0;
        bool ok = n > 0;
        for (size_t k = 1; ok && k < n; k++)
            ok = (p[k] & 0xc0) == 0x80;
        /* Overlong forms and surrogates are not valid UTF-8 either. */
        if (ok && n == 2 && c < 0xc2)
            ok = false;
        if (ok && n == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0)))
            ok = false;
        if (ok && n == 4 && ((c == 0xf0 && p[1] < 0x90) || c > 0xf4 || (c == 0xf4 && p[1] >= 0x90)))
            ok = false;
        if (!ok) {
            *p++ = '?';
            continue;
        }
        if (n == 1 && (c < 0x20 || c == 0x7f) && c != '\n' && c != '\t')
            *p = '?';
        p += n;
    }
}

void cfo_buf_put_markup(cfo_buf *b, const char *s, size_t max)
{
    if (s == NULL)
        return;
    char *copy = cfo_xstrndup(s, strnlen(s, max));
    cfo_utf8_sanitize(copy); /* also turns control characters but \t \n into '?' */
    for (const char *p = copy; *p; p++) {
        const char *entity = cfo_markup_entity(*p);
        if (entity != NULL)
            cfo_buf_puts(b, entity);
        else
            cfo_buf_append(b, p, 1);
    }
    free(copy);
}

void cfo_buf_markupf(cfo_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p != '\0'; p++) {
        if (p[0] != '%') {
            cfo_buf_append(b, p, 1);
            continue;
        }
        if (p[1] == '%') {
            cfo_buf_append(b, p++, 1);
            continue;
        }
        size_t max = SIZE_MAX;
        if (p[1] == '.') /* %.Ns: at most N bytes */
            for (max = 0, p++; p[1] >= '0' && p[1] <= '9'; p++)
                max = max * 10 + (size_t)(p[1] - '0');
        assert(p[1] == 's'); /* the only conversion there is */
        cfo_buf_put_markup(b, va_arg(ap, const char *), max);
        p++;
    }
    va_end(ap);
}

const char *cfo_markup_entity(char c)
{
    static const char *const entities[UCHAR_MAX + 1] = {
        ['<'] = "&lt;", ['>'] = "&gt;", ['&'] = "&amp;", ['"'] = "&quot;", ['\''] = "&#39;"};
    return entities[(unsigned char)c];
}

bool cfo_json_depth_ok(const char *json, size_t len, int max)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = json[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return false;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return true;
}

int cfo_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

char *cfo_which(const char *name)
{
    if (strchr(name, '/') != NULL)
        return access(name, X_OK) == 0 ? cfo_abs_path(name, NULL) : NULL;
    const char *path = getenv("PATH");
    if (path == NULL || name[0] == '\0')
        return NULL;
    char *copy = cfo_xstrdup(path), *save = NULL, *found = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char *p = cfo_xasprintf("%s/%s", dir[0] ? dir : ".", name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0)
            found = dir[0] == '/' ? cfo_xstrdup(p) : cfo_abs_path(p, NULL);
        free(p);
    }
    free(copy);
    return found;
}

const char *cfo_plural(size_t n)
{
    return n == 1 ? "" : "s";
}
