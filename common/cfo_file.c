/* cfo_file.c -- atomic, durable file writes. */
#include "cfo_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfo_util.h"

cfo_err cfo_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return CFO_EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return CFO_OK;
}

uint64_t cfo_random_u64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        v = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
    }
    return v;
}

char *cfo_temp_beside(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
    return cfo_xasprintf("%.*s.%.60s.tmp.%ld.%016" PRIx64, (int)dl, path, path + dl, (long)getpid(),
                         cfo_random_u64());
}

cfo_err cfo_sync_dir(const char *dir, cfo_diag *d)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        int e = errno;
        if (dfd >= 0)
            close(dfd);
        return cfo_diag_set(d, CFO_EIO, "cannot sync directory %s: %s", dir, strerror(e));
    }
    close(dfd);
    return CFO_OK;
}

/* The folder path is in ("." for a bare name). */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return cfo_xstrdup(".");
    return slash == path ? cfo_xstrdup("/") : cfo_xstrndup(path, (size_t)(slash - path));
}

cfo_err cfo_write_new_file(const char *path, const void *data, size_t len, mode_t mode,
                           bool exact_mode, const char **step)
{
    *step = "create";
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, exact_mode ? 0600 : mode);
    if (fd < 0)
        return CFO_EIO;
    *step = "write";
    if (cfo_write_all(fd, data, len) != CFO_OK)
        goto fail;
    *step = "chmod";
    if (exact_mode && fchmod(fd, mode) != 0)
        goto fail;
    *step = "fsync";
    if (fsync(fd) != 0)
        goto fail;
    *step = "close";
    int rc = close(fd);
    fd = -1;
    if (rc != 0)
        goto fail;
    return CFO_OK;

fail:;
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(path);
    errno = e;
    return CFO_EIO;
}

cfo_err cfo_write_file_atomic(const char *path, const void *data, size_t len, cfo_diag *d)
{
    mode_t mode = 0644;
    struct stat old;
    if (stat(path, &old) == 0)
        mode = old.st_mode & 07777;
    char *tmp = cfo_temp_beside(path);
    const char *step;
    if (cfo_write_new_file(tmp, data, len, mode, true, &step) != CFO_OK)
        goto fail;
    step = "rename";
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        goto fail;
    }
    free(tmp);
    char *dir = folder_of(path);
    cfo_err err = cfo_sync_dir(dir, d);
    if (err != CFO_OK)
        cfo_diag_prefix(d, "%s was replaced but not made durable", path);
    free(dir);
    return err;

fail:
    cfo_diag_set(d, CFO_EIO, "cannot write %s (%s of %s failed: %s); it was not modified", path,
                 step, tmp, strerror(errno));
    free(tmp);
    return CFO_EIO;
}

cfo_err cfo_file_writable(const char *path, cfo_diag *d)
{
    struct stat st;
    if (path[0] == '\0')
        return cfo_diag_set(d, CFO_EINVAL, "an empty file name");
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return cfo_diag_set(d, CFO_EINVAL, "%s is a folder, not a file", path);
    char *dir = cfo_xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, strlen(dir) + 1, ".");
    else if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    cfo_err err = CFO_OK;
    if (stat(dir, &st) != 0)
        err = cfo_diag_set(d, CFO_EINVAL, "cannot write %s: no folder %s (%s)", path, dir,
                           strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        err = cfo_diag_set(d, CFO_EINVAL, "cannot write %s: %s is not a folder", path, dir);
    else if (access(dir, W_OK | X_OK) != 0)
        err = cfo_diag_set(d, CFO_EINVAL, "cannot write %s: the folder %s is not writable (%s)",
                           path, dir, strerror(errno));
    free(dir);
    return err;
}
