/* cfo_file.h -- writing files so that a crash never leaves half of one: the
 * one atomic writer, and the pieces it is made of for callers that need a
 * step of their own between them (a blob folder links instead of renaming). */
#ifndef CFO_FILE_H
#define CFO_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cfo_error.h"

/* Writes all len bytes to fd, retrying short writes and EINTR. CFO_EIO with
 * errno set when a write fails. */
cfo_err cfo_write_all(int fd, const void *data, size_t len);

/* 64 random bits (getrandom; a clock mix when it cannot answer): temporary
 * names no other writer can predict, and retry jitter. */
uint64_t cfo_random_u64(void);

/* A new name beside path for a temporary file: hidden (a leading '.'), so
 * listings skip it, and unpredictable (free it). */
char *cfo_temp_beside(const char *path);

/* fsync of the folder dir, which makes a rename or link in it durable. */
cfo_err cfo_sync_dir(const char *dir, cfo_diag *d);

/* Makes path, which must not exist (O_EXCL), hold data durably: created,
 * written, fsynced and closed, ready to be published by a rename or a link.
 * The file gets mode, exactly when exact_mode (it is made 0600 and changed
 * before it is synced), else under the umask. On failure returns CFO_EIO
 * with errno set and *step naming what failed ("create", "write", "chmod",
 * "fsync", "close"); a file it created is removed again. */
cfo_err cfo_write_new_file(const char *path, const void *data, size_t len, mode_t mode,
                           bool exact_mode, const char **step);

/* Replaces path with data, atomically and durably: a temporary file beside
 * it created with O_EXCL under an unpredictable name, written, fsynced,
 * renamed over path, and the folder fsynced. The file keeps the mode of the
 * one it replaces (0644 for a new one). On failure path is unchanged and
 * the temporary file is gone. */
cfo_err cfo_write_file_atomic(const char *path, const void *data, size_t len, cfo_diag *d);

/* Whether cfo_write_file_atomic could write path: its folder exists and this
 * process may create files in it, and path is not a folder. Lets a program
 * refuse an output it cannot write before it does an hour of work. */
cfo_err cfo_file_writable(const char *path, cfo_diag *d);

#endif
