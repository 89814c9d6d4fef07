/* cfo_corpus.c -- corpus pull and push between a local folder and content-named files in a blobdir.
 */
#include "cfo_corpus.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfo_digest.h"
#include "cfo_file.h"
#include "cfo_log.h"

void cfo_content_name(const void *data, size_t len, char out[41])
{
    cfo_sha1_hex(data, len, out);
}

/* Calls fn with the content name and the bytes of each file cfo_list_files
 * lists in dir; those that cannot be read or are larger than
 * CFO_CORPUS_MAX_INPUT are left out. */
static void each_input(const char *dir,
                       void (*fn)(void *ctx, const char *name, const cfo_buf *data), void *ctx)
{
    cfo_strv names;
    cfo_strv_init(&names);
    cfo_list_files(dir, &names, NULL);
    cfo_buf data;
    cfo_buf_init(&data);
    for (size_t i = 0; i < names.n; i++) {
        char *p = cfo_xasprintf("%s/%s", dir, names.v[i]);
        char name[41];
        if (cfo_read_file(p, CFO_CORPUS_MAX_INPUT, &data, NULL) == CFO_OK) {
            cfo_content_name(data.data, data.len, name);
            fn(ctx, name, &data);
        }
        free(p);
    }
    cfo_buf_fini(&data);
    cfo_strv_fini(&names);
}

static void add_name(void *names, const char *name, const cfo_buf *data)
{
    (void)data;
    cfo_strv_push(names, name);
}

void cfo_corpus_content_names(const char *dir, cfo_strv *out)
{
    each_input(dir, add_name, out);
    cfo_strv_sort(out);
}

typedef struct import_state {
    const char *to;
    size_t copied;
} import_state;

static void import_one(void *ctx, const char *name, const cfo_buf *data)
{
    import_state *st = ctx;
    char *dst = cfo_xasprintf("%s/%s", st->to, name);
    if (access(dst, F_OK) != 0) {
        int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        bool ok = fd >= 0 && cfo_write_all(fd, data->data, data->len) == CFO_OK;
        if (fd >= 0 && close(fd) != 0)
            ok = false;
        st->copied += ok;
    }
    free(dst);
}

size_t cfo_corpus_import(const char *from, const char *to)
{
    import_state st = {.to = to, .copied = 0};
    each_input(from, import_one, &st);
    return st.copied;
}

cfo_err cfo_corpus_pull(cfo_blobdir *remote, const char *local_dir, cfo_corpus_stats *st,
                        cfo_diag *d)
{
    memset(st, 0, sizeof *st);
    cfo_err err = cfo_mkdir_p(local_dir, d);
    if (err != CFO_OK)
        return err;
    cfo_strv names;
    cfo_strv_init(&names);
    err = cfo_blobdir_list(remote, CFO_CORPUS_MAX_FILES, &names, d);
    for (size_t i = 0; err == CFO_OK && i < names.n; i++) {
        /* The listing has vetted the name; checked again because it becomes a path here. */
        if (!cfo_blobdir_name_ok(names.v[i])) {
            st->skipped++;
            continue;
        }
        char *dest = cfo_xasprintf("%s/%s", local_dir, names.v[i]);
        struct stat sb;
        if (lstat(dest, &sb) == 0) {
            st->present++;
            free(dest);
            continue;
        }
        cfo_diag why;
        cfo_err e = cfo_blobdir_get(remote, names.v[i], dest, CFO_CORPUS_MAX_INPUT, &why);
        if (e == CFO_OK) {
            st->transferred++;
        } else if (e == CFO_ELIMIT || e == CFO_ENOTFOUND) {
            /* Too large to be an input, or pruned since the listing. */
            cfo_debug("%s", why.msg);
            st->skipped++;
        } else {
            err = e;
            if (d != NULL)
                *d = why;
        }
        free(dest);
    }
    cfo_strv_fini(&names);
    return err;
}

/* Content names seen by one push: open addressing, keyed by the name's own
 * leading hex digits (a SHA-1 needs no further hashing). */
typedef struct name_set {
    char (*slot)[41];
    size_t mask;
} name_set;

static void name_set_init(name_set *ns, size_t expected)
{
    size_t cap = 16;
    while (cap < 2 * expected + 2)
        cap *= 2;
    ns->slot = cfo_xcalloc(cap, sizeof *ns->slot);
    ns->mask = cap - 1;
}

/* Adds name; false when it was there already. Never full: sized for every
 * file of the push. */
static bool name_set_add(name_set *ns, const char name[41])
{
    char lead[17];
    memcpy(lead, name, 16);
    lead[16] = '\0';
    size_t h = (size_t)strtoull(lead, NULL, 16);
    for (size_t i = h & ns->mask;; i = (i + 1) & ns->mask) {
        if (ns->slot[i][0] == '\0') {
            memcpy(ns->slot[i], name, 41);
            return true;
        }
        if (memcmp(ns->slot[i], name, 40) == 0)
            return false;
    }
}

/* The regular, non-hidden files of dir, sorted. */
static cfo_err local_files(const char *dir, cfo_strv *out, cfo_diag *d)
{
    DIR *dh = opendir(dir);
    if (dh == NULL)
        return cfo_diag_set(d, errno == ENOENT ? CFO_ENOTFOUND : CFO_EIO, "cannot open %s: %s", dir,
                            strerror(errno));
    cfo_err err = CFO_OK;
    for (;;) {
        struct dirent *de = cfo_dir_next_file(dh);
        if (de == NULL) {
            if (errno != 0)
                err = cfo_diag_set(d, CFO_EIO, "cannot read %s: %s", dir, strerror(errno));
            break;
        }
        if (out->n >= CFO_CORPUS_MAX_FILES) {
            err = cfo_diag_set(d, CFO_ELIMIT, "%s holds more than %d files", dir,
                               CFO_CORPUS_MAX_FILES);
            break;
        }
        cfo_strv_push(out, de->d_name);
    }
    closedir(dh);
    if (err == CFO_OK)
        cfo_strv_sort(out);
    return err;
}

/* Reads at most CFO_CORPUS_MAX_INPUT bytes of a regular file, without
 * following a symbolic link or blocking on a FIFO put in its place. */
static cfo_err read_input(const char *path, cfo_buf *out, cfo_diag *d)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return cfo_diag_set(d, errno == ENOENT || errno == ELOOP ? CFO_ENOTFOUND : CFO_EIO,
                            "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    cfo_err err = CFO_OK;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        err = cfo_diag_set(d, CFO_ENOTFOUND, "%s is no longer a regular file", path);
    } else if (sb.st_size > (off_t)CFO_CORPUS_MAX_INPUT) {
        err = cfo_diag_set(d, CFO_ELIMIT, "%s is larger than %u bytes", path, CFO_CORPUS_MAX_INPUT);
    } else {
        cfo_buf_reset(out);
        cfo_buf_reserve(out, (size_t)sb.st_size + 1);
        for (;;) {
            if (out->len > CFO_CORPUS_MAX_INPUT) {
                err = cfo_diag_set(d, CFO_ELIMIT, "%s is larger than %u bytes", path,
                                   CFO_CORPUS_MAX_INPUT);
                break;
            }
            cfo_buf_reserve(out, 65536);
            ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                err = cfo_diag_set(d, CFO_EIO, "cannot read %s: %s", path, strerror(errno));
                break;
            }
            if (n == 0)
                break;
            out->len += (size_t)n;
            out->data[out->len] = '\0';
        }
    }
    close(fd);
    return err;
}

cfo_err cfo_corpus_push(cfo_blobdir *remote, const char *local_dir, const cfo_strv *known,
                        cfo_corpus_stats *st, cfo_diag *d)
{
    return cfo_corpus_push_names(remote, local_dir, known, st, NULL, d);
}

cfo_err cfo_corpus_push_names(cfo_blobdir *remote, const char *local_dir, const cfo_strv *known,
                              cfo_corpus_stats *st, cfo_strv *names, cfo_diag *d)
{
    memset(st, 0, sizeof *st);
    cfo_strv files, listed;
    cfo_strv_init(&files);
    cfo_strv_init(&listed);
    cfo_buf data;
    cfo_buf_init(&data);
    cfo_err err = local_files(local_dir, &files, d);
    name_set done; /* content names handled by this call */
    name_set_init(&done, files.n);
    if (err == CFO_OK && known == NULL) {
        err = cfo_blobdir_list(remote, CFO_CORPUS_MAX_FILES, &listed, d);
        known = &listed;
    }
    for (size_t i = 0; err == CFO_OK && i < files.n; i++) {
        char *path = cfo_xasprintf("%s/%s", local_dir, files.v[i]);
        cfo_diag why;
        cfo_err e = read_input(path, &data, &why);
        free(path);
        if (e == CFO_ELIMIT || e == CFO_ENOTFOUND) {
            cfo_debug("%s", why.msg);
            st->skipped++;
            continue;
        }
        if (e != CFO_OK) {
            err = e;
            if (d != NULL)
                *d = why;
            break;
        }
        char name[41];
        cfo_content_name(data.data, data.len, name);
        bool first = name_set_add(&done, name);
        if (first && names != NULL)
            cfo_strv_push(names, name);
        if (!first || cfo_strv_sorted_has(known, name)) {
            st->present++;
            continue;
        }
        bool created = false;
        err = cfo_blobdir_put_new_data(remote, name, data.data, data.len, &created, d);
        if (err != CFO_OK)
            break;
        if (created)
            st->transferred++;
        else
            st->present++;
    }
    cfo_buf_fini(&data);
    free(done.slot);
    cfo_strv_fini(&listed);
    cfo_strv_fini(&files);
    return err;
}

size_t cfo_corpus_link_new(const char *from, const char *to, cfo_strv *had, cfo_strv *also)
{
    cfo_strv names;
    cfo_strv_init(&names);
    cfo_list_files(from, &names, NULL);
    size_t n = 0;
    for (size_t i = 0; i < names.n; i++) {
        if (cfo_strv_sorted_has(had, names.v[i]))
            continue;
        char *a = cfo_xasprintf("%s/%s", from, names.v[i]);
        char *b = cfo_xasprintf("%s/%s", to, names.v[i]);
        if (link(a, b) == 0)
            n++;
        cfo_strv_sorted_add(had, names.v[i]);
        if (also != NULL)
            cfo_strv_sorted_add(also, names.v[i]);
        cfo_free_all(a, b);
    }
    cfo_strv_fini(&names);
    return n;
}
