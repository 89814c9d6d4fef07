/* test_store.c -- dataset loading and the commit loop: idempotence, corruption, windows, races. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfo_config.h"
#include "cfo_dataset.h"
#include "cfo_record.h"
#include "cfo_storage.h"
#include "cfo_store.h"

static char *make_tmpdir(void)
{
    char *dir = cfo_make_temp_dir("cfo-store", NULL);
    assert_non_null(dir);
    return dir;
}

static void remove_tmpdir(char *dir)
{
    assert_int_equal(cfo_remove_tree(dir, NULL), CFO_OK);
    free(dir);
}

static char *slurp(const char *path, size_t *len)
{
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_buf_puts(&b, "");
    assert_int_equal(cfo_read_file(path, 1 << 26, &b, NULL), CFO_OK);
    if (len)
        *len = b.len;
    return cfo_buf_steal(&b);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A 40-hex sha made from n. */
static void sha_of(unsigned n, char *out)
{
    snprintf(out, 41, "%08x%032x", n, n * 2654435761u);
}

/* A passing record of fuzzer on commit #c, target t, at second s. */
static void add_rec(cfo_recset *rs, const char *fuzzer, unsigned c, const char *target, int64_t s,
                    bool ok)
{
    char sha[41];
    sha_of(c, sha);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cfo-fuzz %s %s", fuzzer, target);
    cfo_record r = {
        .commit = sha,
        .fuzzer = fuzzer,
        .branch = "main",
        .target = target,
        .command = cmd,
        .run = "run-1",
        .worker = "w1",
        .count = 3,
        .findings = ok ? 0 : 1,
        .duration = 1.5,
        .time_ms = 1700000000000LL + s * 1000,
        .attempt = 1,
        .status = ok ? CFO_STATUS_PASS : CFO_STATUS_FAIL,
        .ok = ok,
        .has_time = true,
    };
    cfo_recset_add(rs, &r);
}

static cfo_storage *open_st(const char *path)
{
    cfo_storage *st = NULL;
    cfo_diag d = {{0}};
    if (cfo_storage_open(path, &st, &d) != CFO_OK)
        fail_msg("%s", d.msg);
    return st;
}

static void commit_ok(cfo_storage *st, const cfo_recset *rs, const cfo_config *cfg, int window,
                      cfo_commit_stats *stats)
{
    cfo_diag d = {{0}};
    if (cfo_store_commit(st, rs, cfg, window, stats, &d) != CFO_OK)
        fail_msg("%s", d.msg);
}

static bool has_target(const cfo_recset *rs, const char *target)
{
    for (size_t i = 0; i < rs->n; i++)
        if (strcmp(rs->v[i].target, target) == 0)
            return true;
    return false;
}

static void test_commit_into_missing(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *path = cfo_xasprintf("%s/new/data.json", dir);
    cfo_storage *st = open_st(path);

    cfo_recset *loaded = cfo_recset_new();
    int window = -1;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_store_load(st, loaded, &window, &d), CFO_OK);
    assert_int_equal(loaded->n, 0);
    assert_int_equal(window, 0);

    cfo_recset *rs = cfo_recset_new();
    add_rec(rs, "CANARY", 1, "canary", 10, false);
    add_rec(rs, "INFRA_DRIFT", 1, "envs/prod", 5, true);
    add_rec(rs, "INFRA_DRIFT", 1, "envs/dev", 7, false);
    cfo_config *cfg = cfo_config_new_default();
    cfo_commit_stats stats;
    commit_ok(st, rs, cfg, 0, &stats);
    assert_int_equal(stats.before, 0);
    assert_int_equal(stats.added, 3);
    assert_int_equal(stats.after, 3);
    assert_int_equal(stats.window, CFO_DEFAULT_WINDOW);
    assert_int_equal(stats.attempts, 1);

    assert_int_equal(cfo_store_load(st, loaded, &window, &d), CFO_OK);
    assert_int_equal(loaded->n, 3);
    assert_int_equal(window, CFO_DEFAULT_WINDOW);
    /* rule 5: sorted by time */
    assert_string_equal(loaded->v[0].target, "envs/prod");
    assert_string_equal(loaded->v[1].target, "envs/dev");
    assert_string_equal(loaded->v[2].target, "canary");

    cfo_config_destroy(&cfg);
    cfo_recset_destroy(&rs);
    cfo_recset_destroy(&loaded);
    cfo_storage_destroy(&st);
    free(path);
    remove_tmpdir(dir);
}

static void test_commit_twice_same_bytes(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *path = cfo_xasprintf("%s/data.json", dir);
    cfo_storage *st = open_st(path);
    cfo_recset *rs = cfo_recset_new();
    for (unsigned i = 0; i < 10; i++)
        add_rec(rs, "INFRA_DRIFT", i % 4, i % 2 ? "a" : "b", (int64_t)i, i % 3 != 0);
    cfo_config *cfg = cfo_config_new_default();
    cfo_commit_stats stats;
    commit_ok(st, rs, cfg, 0, &stats);
    size_t len1, len2;
    char *first = slurp(path, &len1);
    struct stat sb1, sb2;
    assert_int_equal(stat(path, &sb1), 0);

    commit_ok(st, rs, cfg, 0, &stats);
    assert_int_equal(stats.before, stats.after);
    char *second = slurp(path, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(first, second, len1);
    /* nothing to change, so the file was not even replaced */
    assert_int_equal(stat(path, &sb2), 0);
    assert_int_equal(sb1.st_ino, sb2.st_ino);

    /* and committing nothing changes nothing either */
    cfo_recset *none = cfo_recset_new();
    commit_ok(st, none, cfg, 0, &stats);
    assert_int_equal(stats.added, 0);
    free(second);
    second = slurp(path, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(first, second, len1);

    free(first);
    free(second);
    cfo_recset_destroy(&none);
    cfo_config_destroy(&cfg);
    cfo_recset_destroy(&rs);
    cfo_storage_destroy(&st);
    free(path);
    remove_tmpdir(dir);
}

static void check_corrupt(const char *dir, const char *content, size_t len)
{
    char *path = cfo_xasprintf("%s/bad.json", dir);
    write_file(path, content, len);
    cfo_storage *st = open_st(path);
    cfo_recset *rs = cfo_recset_new();
    add_rec(rs, "INFRA_DRIFT", 1, "x", 1, true);
    cfo_config *cfg = cfo_config_new_default();
    cfo_diag d = {{0}};
    cfo_commit_stats stats;
    assert_int_equal(cfo_store_commit(st, rs, cfg, 0, &stats, &d), CFO_EPARSE);
    char *want = cfo_xasprintf("dataset %s is not valid: ", path);
    if (strncmp(d.msg, want, strlen(want)) != 0 || strstr(d.msg, "it was not modified") == NULL)
        fail_msg("unexpected message: %s", d.msg);
    free(want);
    size_t got_len;
    char *got = slurp(path, &got_len);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, content, len);
    free(got);

    /* loading says the same, and leaves the set as it was */
    cfo_recset *loaded = cfo_recset_new();
    add_rec(loaded, "CANARY", 1, "keep", 1, false);
    int window = -1;
    assert_int_equal(cfo_store_load(st, loaded, &window, &d), CFO_EPARSE);
    assert_non_null(strstr(d.msg, path));
    assert_int_equal(loaded->n, 1);
    assert_int_equal(window, 0);

    cfo_recset_destroy(&loaded);
    cfo_config_destroy(&cfg);
    cfo_recset_destroy(&rs);
    cfo_storage_destroy(&st);
    free(path);
}

static void test_corrupt_not_overwritten(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    check_corrupt(dir, "garbage\x01 not json", 17);
    check_corrupt(dir, "", 0);

    /* a valid dataset cut in the middle */
    char *path = cfo_xasprintf("%s/good.json", dir);
    cfo_storage *st = open_st(path);
    cfo_recset *rs = cfo_recset_new();
    for (unsigned i = 0; i < 5; i++)
        add_rec(rs, "INFRA_DRIFT", i, "t", (int64_t)i, true);
    commit_ok(st, rs, NULL, 0, NULL);
    size_t len;
    char *text = slurp(path, &len);
    check_corrupt(dir, text, len / 2);
    /* a record that breaks the rules (ok contradicts status) */
    char *p = strstr(text, "\"ok\":true");
    assert_non_null(p);
    memcpy(p, "\"ok\":fals", 9);
    memmove(p + 10, p + 9, len - (size_t)(p + 9 - text));
    p[9] = 'e';
    check_corrupt(dir, text, len + 1);
    free(text);
    cfo_recset_destroy(&rs);
    cfo_storage_destroy(&st);
    free(path);
    remove_tmpdir(dir);
}

static void test_window_choice(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *path = cfo_xasprintf("%s/data.json", dir);
    cfo_storage *st = open_st(path);
    cfo_recset *rs = cfo_recset_new();
    for (unsigned c = 0; c < 6; c++)
        add_rec(rs, "INFRA_DRIFT", c, "t", (int64_t)c, true);
    cfo_config *cfg = cfo_config_new_default();
    cfo_commit_stats stats;

    /* an override wins and is written into the document */
    commit_ok(st, rs, cfg, 3, &stats);
    assert_int_equal(stats.window, 3);
    assert_int_equal(stats.after, 3);
    cfo_recset *loaded = cfo_recset_new();
    int window = 0;
    assert_int_equal(cfo_store_load(st, loaded, &window, NULL), CFO_OK);
    assert_int_equal(window, 3);
    assert_int_equal(loaded->n, 3);
    char sha[41];
    sha_of(5, sha);
    assert_string_equal(loaded->v[2].commit, sha); /* the newest commits stay */

    /* without an override, the dataset's own window holds */
    cfo_recset *more = cfo_recset_new();
    add_rec(more, "INFRA_DRIFT", 6, "t", 6, true);
    commit_ok(st, more, cfg, 0, &stats);
    assert_int_equal(stats.window, 3);
    assert_int_equal(stats.before, 3);
    assert_int_equal(stats.after, 3);

    /* a window set in the configuration wins over the dataset's */
    cfg->window = 5;
    cfg->window_set = true;
    cfo_recset_clear(more);
    add_rec(more, "INFRA_DRIFT", 7, "t", 7, true);
    commit_ok(st, more, cfg, 0, &stats);
    assert_int_equal(stats.window, 5);
    assert_int_equal(stats.after, 4);
    cfo_recset_clear(loaded);
    assert_int_equal(cfo_store_load(st, loaded, &window, NULL), CFO_OK);
    assert_int_equal(window, 5);

    cfo_recset_destroy(&more);
    cfo_recset_destroy(&loaded);
    cfo_config_destroy(&cfg);
    cfo_recset_destroy(&rs);
    cfo_storage_destroy(&st);
    free(path);
    remove_tmpdir(dir);
}

/* An in-memory backend that delivers one byte at a time and loses the
 * compare-and-swap a set number of times. */
typedef struct mem_storage {
    cfo_storage base;
    cfo_buf data;
    bool exists;
    unsigned version;
    int conflicts; /* writes still to refuse */
    int writes;
} mem_storage;

static cfo_err mem_lock(cfo_storage *st, cfo_diag *d)
{
    (void)st;
    (void)d;
    return CFO_OK;
}

static void mem_unlock(cfo_storage *st)
{
    (void)st;
}

static cfo_err mem_read(cfo_storage *st, cfo_storage_sink sink, void *ctx, char *token, cfo_diag *d)
{
    mem_storage *m = (mem_storage *)st;
    snprintf(token, CFO_TOKEN_MAX, "%u", m->exists ? m->version : 0);
    if (!m->exists)
        return cfo_diag_set(d, CFO_ENOTFOUND, "missing");
    for (size_t i = 0; i < m->data.len; i++) {
        cfo_err err = sink(ctx, m->data.data + i, 1, d);
        if (err != CFO_OK)
            return err;
    }
    return CFO_OK;
}

static cfo_err mem_write(cfo_storage *st, const void *data, size_t len, const char *expect,
                         cfo_diag *d)
{
    mem_storage *m = (mem_storage *)st;
    char token[CFO_TOKEN_MAX];
    snprintf(token, sizeof token, "%u", m->exists ? m->version : 0);
    if (strcmp(token, expect) != 0)
        return cfo_diag_set(d, CFO_ECONFLICT, "stale");
    if (m->conflicts > 0) {
        m->conflicts--;
        return cfo_diag_set(d, CFO_ECONFLICT, "someone else wrote");
    }
    cfo_buf_reset(&m->data);
    cfo_buf_append(&m->data, data, len);
    m->exists = true;
    m->version++;
    m->writes++;
    return CFO_OK;
}

static void mem_destroy(cfo_storage *st)
{
    mem_storage *m = (mem_storage *)st;
    cfo_buf_fini(&m->data);
    free(m);
}

static const cfo_storage_ops mem_ops = {
    .scheme = "mem",
    .lock = mem_lock,
    .unlock = mem_unlock,
    .read = mem_read,
    .write = mem_write,
    .destroy = mem_destroy,
};

static mem_storage *mem_new(void)
{
    mem_storage *m = cfo_xcalloc(1, sizeof *m);
    m->base.ops = &mem_ops;
    m->base.url = cfo_xstrdup("mem://test");
    m->base.display = cfo_xstrdup("mem://test");
    cfo_buf_init(&m->data);
    return m;
}

static void test_conflict_retries(void **state)
{
    (void)state;
    mem_storage *m = mem_new();
    cfo_storage *st = &m->base;
    cfo_recset *rs = cfo_recset_new();
    add_rec(rs, "INFRA_DRIFT", 1, "a", 1, true);
    cfo_commit_stats stats;

    m->conflicts = 2;
    commit_ok(st, rs, NULL, 0, &stats);
    assert_int_equal(stats.attempts, 3);
    assert_int_equal(m->writes, 1);

    /* parsed one byte at a time, the dataset reads back */
    cfo_recset *loaded = cfo_recset_new();
    int window = 0;
    assert_int_equal(cfo_store_load(st, loaded, &window, NULL), CFO_OK);
    assert_int_equal(loaded->n, 1);

    /* a dataset that keeps changing: bounded, then a clear error */
    cfo_recset_clear(rs);
    add_rec(rs, "INFRA_DRIFT", 2, "b", 2, true);
    m->conflicts = 1000;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_store_commit(st, rs, NULL, 0, &stats, &d), CFO_ECONFLICT);
    assert_int_equal(stats.attempts, 8);
    assert_non_null(strstr(d.msg, "dataset mem://test kept changing"));
    assert_int_equal(m->writes, 1);

    cfo_recset_destroy(&loaded);
    cfo_recset_destroy(&rs);
    cfo_storage_destroy(&st);
}

/* One process's 50 commits of one record each, targets "<tag>-<i>". */
static int commit_batches(const char *path, const char *tag)
{
    cfo_storage *st = NULL;
    if (cfo_storage_open(path, &st, NULL) != CFO_OK)
        return 10;
    cfo_config *cfg = cfo_config_new_default();
    int rc = 0;
    for (int i = 0; i < 50 && rc == 0; i++) {
        cfo_recset *rs = cfo_recset_new();
        char target[32];
        snprintf(target, sizeof target, "%s-%d", tag, i);
        add_rec(rs, "TEST", 1, target, i, i % 2 == 0);
        cfo_diag d = {{0}};
        if (cfo_store_commit(st, rs, cfg, 0, NULL, &d) != CFO_OK) {
            fprintf(stderr, "%s\n", d.msg);
            rc = 11;
        }
        cfo_recset_destroy(&rs);
    }
    cfo_config_destroy(&cfg);
    cfo_storage_destroy(&st);
    return rc;
}

static void test_two_processes_lose_no_record(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *path = cfo_xasprintf("%s/data.json", dir);
    const char *tags[2] = {"p", "q"};
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0)
            _exit(commit_batches(path, tags[i]));
    }
    for (int i = 0; i < 2; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    cfo_storage *st = open_st(path);
    cfo_recset *loaded = cfo_recset_new();
    int window = 0;
    assert_int_equal(cfo_store_load(st, loaded, &window, NULL), CFO_OK);
    assert_int_equal(loaded->n, 100);
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < 50; i++) {
            char target[32];
            snprintf(target, sizeof target, "%s-%d", tags[t], i);
            if (!has_target(loaded, target))
                fail_msg("record %s was lost", target);
        }
    }
    cfo_recset_destroy(&loaded);
    cfo_storage_destroy(&st);
    free(path);
    remove_tmpdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_into_missing),
        cmocka_unit_test(test_commit_twice_same_bytes),
        cmocka_unit_test(test_corrupt_not_overwritten),
        cmocka_unit_test(test_window_choice),
        cmocka_unit_test(test_conflict_retries),
        cmocka_unit_test(test_two_processes_lose_no_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
