/* test_storage.c -- dataset URLs and the file:// backend: versions, atomic replace, locking. */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfo_storage.h"

static char *make_tmpdir(void)
{
    char *dir = cfo_make_temp_dir("cfo-storage", NULL);
    assert_non_null(dir);
    return dir;
}

static void remove_tmpdir(char *dir)
{
    assert_int_equal(cfo_remove_tree(dir, NULL), CFO_OK);
    free(dir);
}

static cfo_err buf_sink(void *ctx, const void *data, size_t len, cfo_diag *d)
{
    (void)d;
    cfo_buf_append(ctx, data, len);
    return CFO_OK;
}

/* Reads the whole object; returns the error and fills out and token. */
static cfo_err read_all(cfo_storage *st, cfo_buf *out, char *token)
{
    cfo_buf_reset(out);
    cfo_diag d = {{0}};
    return cfo_storage_read(st, buf_sink, out, token, &d);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static char *slurp(const char *path)
{
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_buf_puts(&b, "");
    assert_int_equal(cfo_read_file(path, 1 << 26, &b, NULL), CFO_OK);
    return cfo_buf_steal(&b);
}

/* Files in dir whose names start with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(dp);
    return n;
}

static void test_missing_then_create(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *path = cfo_xasprintf("%s/sub/dir/data.json", dir);
    cfo_storage *st = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_storage_open(path, &st, &d), CFO_OK);
    assert_string_equal(st->ops->scheme, "file");
    assert_string_equal(st->display, path);

    cfo_buf b;
    cfo_buf_init(&b);
    char token[CFO_TOKEN_MAX] = "junk";
    assert_int_equal(read_all(st, &b, token), CFO_ENOTFOUND);
    assert_string_equal(token, "0");
    assert_int_equal(b.len, 0);

    /* "0" means: must not exist; parent directories are made */
    assert_int_equal(cfo_storage_write(st, "hello", 5, "0", &d), CFO_OK);
    assert_int_equal(read_all(st, &b, token), CFO_OK);
    assert_string_equal(b.data, "hello");
    assert_string_not_equal(token, "0");
    char *text = slurp(path);
    assert_string_equal(text, "hello");
    free(text);

    /* it exists now, so "0" is stale */
    assert_int_equal(cfo_storage_write(st, "other", 5, "0", &d), CFO_ECONFLICT);
    assert_non_null(strstr(d.msg, path));
    assert_int_equal(read_all(st, &b, token), CFO_OK);
    assert_string_equal(b.data, "hello");

    cfo_buf_fini(&b);
    cfo_storage_destroy(&st);
    assert_null(st);
    free(path);
    remove_tmpdir(dir);
}

static void test_stale_token(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *path = cfo_xasprintf("%s/data.json", dir);
    cfo_storage *a = NULL, *b = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_storage_open(path, &a, &d), CFO_OK);
    assert_int_equal(cfo_storage_open(path, &b, &d), CFO_OK);
    assert_int_equal(cfo_storage_write(a, "v1", 2, "0", &d), CFO_OK);

    cfo_buf buf;
    cfo_buf_init(&buf);
    char ta[CFO_TOKEN_MAX], tb[CFO_TOKEN_MAX];
    assert_int_equal(read_all(a, &buf, ta), CFO_OK);
    assert_int_equal(read_all(b, &buf, tb), CFO_OK);
    assert_string_equal(ta, tb);

    /* b writes first; a's token is then stale (same size: the inode differs) */
    assert_int_equal(cfo_storage_write(b, "v2", 2, tb, &d), CFO_OK);
    assert_int_equal(cfo_storage_write(a, "v3", 2, ta, &d), CFO_ECONFLICT);
    char *text = slurp(path);
    assert_string_equal(text, "v2");
    free(text);

    /* after a fresh read a succeeds */
    assert_int_equal(read_all(a, &buf, ta), CFO_OK);
    assert_string_not_equal(ta, tb);
    assert_int_equal(cfo_storage_write(a, "v3", 2, ta, &d), CFO_OK);
    text = slurp(path);
    assert_string_equal(text, "v3");
    free(text);
    assert_int_equal(count_prefixed(dir, ".data.json.tmp."), 0);

    cfo_buf_fini(&buf);
    cfo_storage_destroy(&a);
    cfo_storage_destroy(&b);
    free(path);
    remove_tmpdir(dir);
}

static void test_large_read_in_chunks(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *path = cfo_xasprintf("%s/big.json", dir);
    size_t len = 300 * 1024 + 7;
    char *data = cfo_xmalloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)('a' + i % 26);
    cfo_storage *st = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_storage_open(path, &st, &d), CFO_OK);
    assert_int_equal(cfo_storage_write(st, data, len, "0", &d), CFO_OK);
    cfo_buf b;
    cfo_buf_init(&b);
    char token[CFO_TOKEN_MAX];
    assert_int_equal(read_all(st, &b, token), CFO_OK);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, data, len);
    cfo_buf_fini(&b);
    cfo_storage_destroy(&st);
    free(data);
    free(path);
    remove_tmpdir(dir);
}

static cfo_err refusing_sink(void *ctx, const void *data, size_t len, cfo_diag *d)
{
    (void)ctx;
    (void)data;
    (void)len;
    return cfo_diag_set(d, CFO_EPARSE, "sink says no");
}

static void test_sink_error_propagates(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *path = cfo_xasprintf("%s/data.json", dir);
    write_file(path, "x");
    cfo_storage *st = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_storage_open(path, &st, &d), CFO_OK);
    char token[CFO_TOKEN_MAX];
    assert_int_equal(cfo_storage_read(st, refusing_sink, NULL, token, &d), CFO_EPARSE);
    assert_string_equal(d.msg, "sink says no");
    cfo_storage_destroy(&st);
    free(path);
    remove_tmpdir(dir);
}

/* A writer that dies between writing its temp file and renaming it, and a
 * stale temp file full of garbage, leave the dataset as it was. */
static void test_crash_before_rename(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *path = cfo_xasprintf("%s/data.json", dir);
    cfo_storage *st = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_storage_open(path, &st, &d), CFO_OK);
    assert_int_equal(cfo_storage_write(st, "old content", 11, "0", &d), CFO_OK);
    char token[CFO_TOKEN_MAX];
    cfo_buf b;
    cfo_buf_init(&b);
    assert_int_equal(read_all(st, &b, token), CFO_OK);

    char *garbage = cfo_xasprintf("%s/.data.json.tmp.X", dir);
    write_file(garbage, "\x01garbage{{{");

    /* The child is killed by SIGXFSZ inside write(2) of the temp file: a
     * real crash after the temp file exists and before the rename. */
    size_t big = 1 << 20;
    char *data = cfo_xmalloc(big);
    memset(data, 'N', big);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_DFL);
        struct rlimit rl = {.rlim_cur = 64 * 1024, .rlim_max = 64 * 1024};
        setrlimit(RLIMIT_FSIZE, &rl);
        cfo_storage_write(st, data, big, token, NULL);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGXFSZ);
    /* the child's temp file and the garbage are there ... */
    assert_int_equal(count_prefixed(dir, ".data.json.tmp."), 2);

    /* ... and ignored: the old content and version are intact */
    char token2[CFO_TOKEN_MAX];
    assert_int_equal(read_all(st, &b, token2), CFO_OK);
    assert_string_equal(b.data, "old content");
    assert_string_equal(token2, token);

    /* the next writer is not disturbed by them */
    assert_int_equal(cfo_storage_write(st, "new", 3, token, &d), CFO_OK);
    assert_int_equal(read_all(st, &b, token2), CFO_OK);
    assert_string_equal(b.data, "new");

    cfo_buf_fini(&b);
    free(data);
    free(garbage);
    cfo_storage_destroy(&st);
    free(path);
    remove_tmpdir(dir);
}

/* A write that fails (here: the file size limit, as a full disk would)
 * removes its temp file and leaves the old file intact. */
static void test_failed_write_cleans_up(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *path = cfo_xasprintf("%s/data.json", dir);
    cfo_storage *st = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_storage_open(path, &st, &d), CFO_OK);
    assert_int_equal(cfo_storage_write(st, "old", 3, "0", &d), CFO_OK);
    char token[CFO_TOKEN_MAX];
    cfo_buf b;
    cfo_buf_init(&b);
    assert_int_equal(read_all(st, &b, token), CFO_OK);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {.rlim_cur = 64 * 1024, .rlim_max = 64 * 1024};
        setrlimit(RLIMIT_FSIZE, &rl);
        size_t big = 1 << 20;
        char *data = cfo_xmalloc(big);
        memset(data, 'N', big);
        cfo_diag cd = {{0}};
        cfo_err err = cfo_storage_write(st, data, big, token, &cd);
        char msg[sizeof cd.msg + 16];
        int n = snprintf(msg, sizeof msg, "%d %s", (int)err, cd.msg);
        if (write(fds[1], msg, (size_t)n) != n)
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    char msg[2048] = {0};
    size_t got = 0;
    ssize_t n;
    while ((n = read(fds[0], msg + got, sizeof msg - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char want[16];
    snprintf(want, sizeof want, "%d ", (int)CFO_EIO);
    assert_true(strncmp(msg, want, strlen(want)) == 0);
    assert_non_null(strstr(msg, "not modified"));

    assert_int_equal(count_prefixed(dir, ".data.json.tmp."), 0);
    char token2[CFO_TOKEN_MAX];
    assert_int_equal(read_all(st, &b, token2), CFO_OK);
    assert_string_equal(b.data, "old");
    assert_string_equal(token2, token);

    cfo_buf_fini(&b);
    cfo_storage_destroy(&st);
    free(path);
    remove_tmpdir(dir);
}

/* One process's 200 rounds of lock/read/increment/write/unlock. */
static int counter_rounds(const char *path, int rounds)
{
    cfo_storage *st = NULL;
    if (cfo_storage_open(path, &st, NULL) != CFO_OK)
        return 10;
    cfo_buf b;
    cfo_buf_init(&b);
    int rc = 0;
    for (int i = 0; i < rounds && rc == 0; i++) {
        char token[CFO_TOKEN_MAX];
        cfo_diag d = {{0}};
        if (cfo_storage_lock(st, &d) != CFO_OK) {
            rc = 11;
            break;
        }
        cfo_buf_reset(&b);
        cfo_err err = cfo_storage_read(st, buf_sink, &b, token, &d);
        long v = 0;
        if (err == CFO_OK)
            v = strtol(b.data, NULL, 10);
        else if (err != CFO_ENOTFOUND)
            rc = 12;
        char text[32];
        int n = snprintf(text, sizeof text, "%ld\n", v + 1);
        if (rc == 0 && cfo_storage_write(st, text, (size_t)n, token, &d) != CFO_OK)
            rc = 13;
        cfo_storage_unlock(st);
    }
    cfo_buf_fini(&b);
    cfo_storage_destroy(&st);
    return rc;
}

static void test_two_processes_lose_no_update(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *path = cfo_xasprintf("%s/counter", dir);
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0)
            _exit(counter_rounds(path, 200));
    }
    for (int i = 0; i < 2; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    char *text = slurp(path);
    assert_string_equal(text, "400\n");
    free(text);
    /* the lock file lives beside the dataset */
    char *lock = cfo_xasprintf("%s.lock", path);
    struct stat sb;
    assert_int_equal(stat(lock, &sb), 0);
    free(lock);
    free(path);
    remove_tmpdir(dir);
}

static void test_url_forms(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *cwd = getcwd(NULL, 0);
    assert_non_null(cwd);
    assert_int_equal(chdir(dir), 0);
    cfo_diag d = {{0}};
    cfo_storage *st = NULL;

    /* file://rel/path is relative to the current directory */
    assert_int_equal(cfo_storage_open("file://.cfo/data.json", &st, &d), CFO_OK);
    assert_string_equal(st->url, "file://.cfo/data.json");
    assert_string_equal(st->display, ".cfo/data.json");
    assert_int_equal(cfo_storage_write(st, "rel", 3, "0", &d), CFO_OK);
    cfo_storage_destroy(&st);
    char *p = cfo_xasprintf("%s/.cfo/data.json", dir);
    char *text = slurp(p);
    assert_string_equal(text, "rel");
    free(text);
    free(p);

    /* a plain relative path */
    assert_int_equal(cfo_storage_open("plain.json", &st, &d), CFO_OK);
    assert_string_equal(st->url, "plain.json");
    assert_int_equal(cfo_storage_write(st, "plain", 5, "0", &d), CFO_OK);
    cfo_storage_destroy(&st);
    p = cfo_xasprintf("%s/plain.json", dir);
    text = slurp(p);
    assert_string_equal(text, "plain");
    free(text);
    free(p);

    /* the relative path was resolved at open: a later chdir does not move it */
    assert_int_equal(cfo_storage_open("file://late.json", &st, &d), CFO_OK);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(cfo_storage_write(st, "late", 4, "0", &d), CFO_OK);
    cfo_storage_destroy(&st);
    p = cfo_xasprintf("%s/late.json", dir);
    text = slurp(p);
    assert_string_equal(text, "late");
    free(text);
    free(p);

    /* file:///abs/path */
    char *url = cfo_xasprintf("file://%s/abs.json", dir);
    assert_int_equal(cfo_storage_open(url, &st, &d), CFO_OK);
    p = cfo_xasprintf("%s/abs.json", dir);
    assert_string_equal(st->display, p);
    assert_string_equal(st->url, url);
    assert_int_equal(cfo_storage_write(st, "abs", 3, "0", &d), CFO_OK);
    cfo_storage_destroy(&st);
    text = slurp(p);
    assert_string_equal(text, "abs");
    free(text);
    free(p);
    free(url);

    free(cwd);
    remove_tmpdir(dir);
}

typedef struct url_case {
    const char *url;
    cfo_err err;
    const char *msg; /* a substring of the message */
} url_case;

static void test_url_errors(void **state)
{
    (void)state;
    static const url_case cases[] = {
        {"gs://Bucket/infra/data.json", CFO_EINVAL, "invalid GCS bucket name 'Bucket'"},
        {"gs://bucket", CFO_EINVAL, "invalid dataset URL 'gs://bucket'"},
        {"gs://bucket/", CFO_EINVAL, "invalid dataset URL 'gs://bucket/'"},
        {"gs:///object", CFO_EINVAL, "invalid dataset URL 'gs:///object'"},
        {"s3://bucket/object", CFO_EINVAL, "unsupported dataset URL 's3://bucket/object'"},
        {"https://example.com/data.json", CFO_EINVAL,
         "unsupported dataset URL 'https://example.com/data.json'"},
        {"file://", CFO_EINVAL, "invalid dataset URL 'file://': no path"},
        {"", CFO_EINVAL, "empty dataset URL"},
        {"file:///tmp/dir/", CFO_EINVAL, "names a directory"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cfo_storage *st = (cfo_storage *)&st;
        cfo_diag d = {{0}};
        cfo_err err = cfo_storage_open(cases[i].url, &st, &d);
        if (err != cases[i].err || strstr(d.msg, cases[i].msg) == NULL)
            fail_msg("'%s': got %d '%s'", cases[i].url, err, d.msg);
        assert_null(st);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_then_create),
        cmocka_unit_test(test_stale_token),
        cmocka_unit_test(test_large_read_in_chunks),
        cmocka_unit_test(test_sink_error_propagates),
        cmocka_unit_test(test_crash_before_rename),
        cmocka_unit_test(test_failed_write_cleans_up),
        cmocka_unit_test(test_two_processes_lose_no_update),
        cmocka_unit_test(test_url_forms),
        cmocka_unit_test(test_url_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
