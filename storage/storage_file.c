/* storage_file.c -- the file:// backend: flock beside the dataset, atomic replace by rename. */
#include "cfo_storage.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfo_file.h"

#define READ_CHUNK (64 * 1024)

typedef struct file_storage {
    cfo_storage base; /* first, so a cfo_storage * is a file_storage * */
    char *path;       /* absolute */
    char *dir;        /* its directory */
    char *lock_path;
    int lock_fd; /* -1 when not locked */
} file_storage;

static file_storage *fs_of(cfo_storage *st)
{
    return (file_storage *)st;
}

static void format_token(const struct stat *sb, char *token)
{
    int64_t mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
    snprintf(token, CFO_TOKEN_MAX, "%" PRIuMAX ":%" PRIuMAX ":%" PRIdMAX ":%" PRId64,
             (uintmax_t)sb->st_dev, (uintmax_t)sb->st_ino, (intmax_t)sb->st_size, mtime_ns);
}

/* The version of what is at path now: "0" when nothing is. */
static cfo_err current_token(file_storage *fs, char *token, cfo_diag *d)
{
    struct stat sb;
    if (stat(fs->path, &sb) != 0) {
        if (errno == ENOENT) {
            snprintf(token, CFO_TOKEN_MAX, "0");
            return CFO_OK;
        }
        return cfo_diag_set(d, CFO_EIO, "%s: %s", fs->base.display, strerror(errno));
    }
    format_token(&sb, token);
    return CFO_OK;
}

static cfo_err fs_lock(cfo_storage *st, cfo_diag *d)
{
    file_storage *fs = fs_of(st);
    if (fs->lock_fd >= 0)
        return CFO_OK;
    cfo_err err = cfo_mkdir_p(fs->dir, d);
    if (err != CFO_OK)
        return err;
    int fd = open(fs->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return cfo_diag_set(d, CFO_EIO, "cannot open lock file %s: %s", fs->lock_path,
                            strerror(errno));
    while (flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(fd);
        return cfo_diag_set(d, CFO_EIO, "cannot lock %s: %s", fs->lock_path, strerror(e));
    }
    fs->lock_fd = fd;
    return CFO_OK;
}

static void fs_unlock(cfo_storage *st)
{
    file_storage *fs = fs_of(st);
    if (fs->lock_fd < 0)
        return;
    flock(fs->lock_fd, LOCK_UN);
    close(fs->lock_fd);
    fs->lock_fd = -1;
}

static cfo_err fs_read(cfo_storage *st, cfo_storage_sink sink, void *ctx, char *token, cfo_diag *d)
{
    file_storage *fs = fs_of(st);
    int fd = open(fs->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT) {
            snprintf(token, CFO_TOKEN_MAX, "0");
            return cfo_diag_set(d, CFO_ENOTFOUND, "%s: no such file", st->display);
        }
        return cfo_diag_set(d, CFO_EIO, "cannot open %s: %s", st->display, strerror(e));
    }
    /* The token describes the very file read: writers replace it by rename,
     * so what this descriptor reads never changes under it. */
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return cfo_diag_set(d, CFO_EIO, "cannot stat %s: %s", st->display, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return cfo_diag_set(d, CFO_EIO, "%s is not a regular file", st->display);
    }
    char *buf = cfo_xmalloc(READ_CHUNK);
    cfo_err err = CFO_OK;
    for (;;) {
        ssize_t n = read(fd, buf, READ_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = cfo_diag_set(d, CFO_EIO, "cannot read %s: %s", st->display, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        err = sink(ctx, buf, (size_t)n, d);
        if (err != CFO_OK)
            break;
    }
    free(buf);
    close(fd);
    if (err == CFO_OK)
        format_token(&sb, token);
    return err;
}

static cfo_err fs_write(cfo_storage *st, const void *data, size_t len, const char *expect_token,
                        cfo_diag *d)
{
    file_storage *fs = fs_of(st);
    char token[CFO_TOKEN_MAX];
    cfo_err err = current_token(fs, token, d);
    if (err != CFO_OK)
        return err;
    if (strcmp(token, expect_token) != 0)
        return cfo_diag_set(d, CFO_ECONFLICT,
                            "%s changed since it was read (version %s, expected %s)", st->display,
                            token, expect_token);
    err = cfo_mkdir_p(fs->dir, d);
    if (err != CFO_OK)
        return err;

    err = cfo_write_file_atomic(fs->path, data, len, d);
    if (err != CFO_OK)
        cfo_diag_prefix(d, "%s", st->display);
    return err;
}

static void fs_destroy(cfo_storage *st)
{
    file_storage *fs = fs_of(st);
    fs_unlock(st);
    cfo_free_all(fs->path, fs->dir, fs->lock_path, fs);
}

static const cfo_storage_ops file_ops = {
    .scheme = "file",
    .lock = fs_lock,
    .unlock = fs_unlock,
    .read = fs_read,
    .write = fs_write,
    .destroy = fs_destroy,
};

cfo_err cfo_storage_file_open(const char *path, cfo_storage **out, cfo_diag *d)
{
    *out = NULL;
    size_t len = path ? strlen(path) : 0;
    if (len == 0)
        return cfo_diag_set(d, CFO_EINVAL, "empty dataset path");
    if (path[len - 1] == '/')
        return cfo_diag_set(d, CFO_EINVAL, "dataset path '%s' names a directory, not a file", path);
    char *abs = cfo_abs_path(path, d);
    if (abs == NULL)
        return CFO_EIO; /* only getcwd fails; d says why */
    file_storage *fs = cfo_xcalloc(1, sizeof *fs);
    fs->base.ops = &file_ops;
    fs->base.url = cfo_xstrdup(path);
    fs->base.display = cfo_xstrdup(path);
    fs->path = abs;
    char *slash = strrchr(abs, '/');
    fs->dir = slash == abs ? cfo_xstrdup("/") : cfo_xstrndup(abs, (size_t)(slash - abs));
    fs->lock_path = cfo_xasprintf("%s.lock", abs);
    fs->lock_fd = -1;
    *out = &fs->base;
    return CFO_OK;
}
