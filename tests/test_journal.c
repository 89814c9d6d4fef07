/* test_journal.c -- the run journal: what is committed survives a crash, a
 * torn last entry is dropped, damage before the end is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfo_journal.h"
#include "cfo_util.h"

static char dir[64];
static cfo_config *cfg;
static cfo_taskset ts;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/cfo-journal-XXXXXX");
    assert_non_null(mkdtemp(dir));
    cfg = cfo_config_new_default();
    cfo_taskset_init(&ts);
    ts.v = cfo_xcalloc(4, sizeof *ts.v);
    for (size_t i = 0; i < 4; i++) {
        cfo_task *t = &ts.v[ts.n++];
        t->id = i;
        t->fuzzer = &cfg->fuzzers[i % cfg->nfuzzers];
        t->branch = cfo_xstrdup("main");
        t->commit = cfo_xstrdup("0123456789abcdef0123456789abcdef01234567");
        t->target = cfo_xasprintf("target-%zu", i);
        t->timeout_ms = 1000;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cfo_taskset_fini(&ts);
    cfo_config_destroy(&cfg);
    cfo_remove_tree(dir, NULL);
    return 0;
}

static void commit(cfo_journal *j, size_t task, cfo_status status)
{
    cfo_outcome o;
    memset(&o, 0, sizeof o);
    o.done = true;
    o.status = status;
    o.count = 7;
    o.duration = 1.5;
    o.end_wall_ms = 1700000000123;
    o.attempt = 2;
    o.summary = "said \"hi\"\n";
    o.command = "cfo-fuzz X 'a b'";
    o.worker = "w1";
    o.tail = "tail";
    cfo_diag d = {{0}};
    assert_int_equal(cfo_journal_commit(j, task, &o, &d), CFO_OK);
}

static char *journal_path(void)
{
    return cfo_xasprintf("%s/journal", dir);
}

static void test_committed_outcomes_survive_and_restore(void **state)
{
    (void)state;
    cfo_journal *j = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_journal_open(dir, &j, &d), CFO_OK);
    assert_null(cfo_journal_run_info(j));
    assert_int_equal(cfo_journal_begin(j, "run-1", 1000, 60000, &ts, &d), CFO_OK);
    commit(j, 1, CFO_STATUS_FAIL);
    commit(j, 3, CFO_STATUS_PASS);
    cfo_journal_close(&j); /* as if the process died here */

    assert_int_equal(cfo_journal_open(dir, &j, &d), CFO_OK);
    const cfo_journal_run *run = cfo_journal_run_info(j);
    assert_non_null(run);
    assert_string_equal(run->run_id, "run-1");
    assert_int_equal(run->started_wall_ms, 1000);
    assert_int_equal(run->budget_ms, 60000);
    assert_int_equal(run->committed, 2);
    assert_false(run->finished);
    cfo_taskset back;
    cfo_outcome *out = NULL;
    assert_int_equal(cfo_journal_restore(j, cfg, &back, &out, &d), CFO_OK);
    assert_int_equal(back.n, 4);
    assert_string_equal(back.v[2].target, "target-2");
    assert_ptr_equal(back.v[1].fuzzer, ts.v[1].fuzzer);
    assert_false(out[0].done);
    assert_true(out[1].done);
    assert_int_equal(out[1].status, CFO_STATUS_FAIL);
    assert_int_equal(out[1].count, 7);
    assert_int_equal(out[1].attempt, 2);
    assert_int_equal(out[1].end_wall_ms, 1700000000123);
    assert_string_equal(out[1].summary, "said \"hi\"\n");
    assert_string_equal(out[1].command, "cfo-fuzz X 'a b'");
    assert_true(out[3].done && out[3].status == CFO_STATUS_PASS);
    for (size_t i = 0; i < back.n; i++)
        cfo_outcome_fini(&out[i]);
    free(out);
    cfo_taskset_fini(&back);

    /* Finished: the next start begins a new run. */
    assert_int_equal(cfo_journal_finish(j, &d), CFO_OK);
    cfo_journal_close(&j);
    assert_int_equal(cfo_journal_open(dir, &j, &d), CFO_OK);
    assert_true(cfo_journal_run_info(j)->finished);
    assert_int_equal(cfo_journal_begin(j, "run-2", 2000, 1000, &ts, &d), CFO_OK);
    assert_int_equal(cfo_journal_run_info(j)->committed, 0);
    cfo_journal_close(&j);
}

static void test_torn_last_entry_is_dropped_at_every_cut(void **state)
{
    (void)state;
    cfo_journal *j = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_journal_open(dir, &j, &d), CFO_OK);
    assert_int_equal(cfo_journal_begin(j, "run-t", 1, 1000, &ts, &d), CFO_OK);
    commit(j, 0, CFO_STATUS_PASS);
    char *path = journal_path();
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    off_t good = st.st_size;
    commit(j, 2, CFO_STATUS_PASS);
    cfo_journal_close(&j);
    assert_int_equal(stat(path, &st), 0);
    off_t full = st.st_size;
    cfo_buf whole;
    cfo_buf_init(&whole);
    assert_int_equal(cfo_read_file(path, 1 << 20, &whole, NULL), CFO_OK);
    /* A crash can cut the last write anywhere: every cut reads as one commit. */
    for (off_t cut = good + 1; cut < full; cut++) {
        int fd = open(path, O_WRONLY | O_TRUNC);
        assert_true(write(fd, whole.data, (size_t)cut) == cut);
        close(fd);
        assert_int_equal(cfo_journal_open(dir, &j, &d), CFO_OK);
        assert_int_equal(cfo_journal_run_info(j)->committed, 1);
        cfo_journal_close(&j);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, good); /* the torn bytes are gone */
    }
    cfo_buf_fini(&whole);
    free(path);
}

static void test_damage_before_the_end_is_refused(void **state)
{
    (void)state;
    cfo_journal *j = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_journal_open(dir, &j, &d), CFO_OK);
    assert_int_equal(cfo_journal_begin(j, "run-d", 1, 1000, &ts, &d), CFO_OK);
    commit(j, 0, CFO_STATUS_PASS);
    commit(j, 1, CFO_STATUS_PASS);
    cfo_journal_close(&j);
    char *path = journal_path();
    /* Flip a byte inside the run entry: the entries after it are whole. */
    int fd = open(path, O_RDWR);
    assert_true(pwrite(fd, "X", 1, 20) == 1);
    close(fd);
    struct stat before, after;
    assert_int_equal(stat(path, &before), 0);
    assert_int_equal(cfo_journal_open(dir, &j, &d), CFO_EPARSE);
    assert_non_null(strstr(d.msg, "damaged"));
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(before.st_size, after.st_size);
    free(path);
}

/* Every single byte flipped, at every offset of a journal of a run and two
 * commits: the journal is read exactly, or (damage in the last entry's body,
 * which a crash can leave) without its last commit, or refused as it is;
 * never read shorter than that. */
static void test_every_flipped_byte_is_caught(void **state)
{
    (void)state;
    cfo_journal *j = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_journal_open(dir, &j, &d), CFO_OK);
    assert_int_equal(cfo_journal_begin(j, "run-f", 1, 1000, &ts, &d), CFO_OK);
    commit(j, 0, CFO_STATUS_PASS);
    char *path = journal_path();
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    size_t last_entry = (size_t)st.st_size;
    commit(j, 1, CFO_STATUS_FAIL);
    cfo_journal_close(&j);
    cfo_buf whole;
    cfo_buf_init(&whole);
    assert_int_equal(cfo_read_file(path, 1 << 20, &whole, NULL), CFO_OK);
    size_t body = last_entry + 12; /* the last entry's header is 12 bytes */
    size_t intact = 0, committed = 0;
    assert_int_equal(cfo_journal_check(whole.data, whole.len, &intact, &committed, &d), CFO_OK);
    assert_int_equal(intact, whole.len);
    assert_int_equal(committed, 2);
    for (size_t off = 0; off < whole.len; off++) {
        char *copy = cfo_xmalloc(whole.len);
        memcpy(copy, whole.data, whole.len);
        copy[off] ^= 0x5a;
        cfo_err err = cfo_journal_check(copy, whole.len, &intact, &committed, &d);
        if (off >= body) {
            assert_int_equal(err, CFO_OK);
            assert_int_equal(intact, last_entry);
            assert_int_equal(committed, 1);
        } else if (err != CFO_EPARSE) {
            fail_msg("a flip at byte %zu of %zu was read (%zu committed, error %d)", off, whole.len,
                     committed, (int)err);
        }
        free(copy);
    }
    /* Through the file, the damage is refused and the file left as it was. */
    int fd = open(path, O_RDWR);
    assert_true(pwrite(fd, "\xff", 1, 9) == 1);
    close(fd);
    assert_int_equal(cfo_journal_open(dir, &j, &d), CFO_EPARSE);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, whole.len);
    cfo_buf_fini(&whole);
    free(path);
}

static void test_unknown_fuzzer_on_restore_is_an_error(void **state)
{
    (void)state;
    cfo_journal *j = NULL;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_journal_open(dir, &j, &d), CFO_OK);
    assert_int_equal(cfo_journal_begin(j, "run-u", 1, 1000, &ts, &d), CFO_OK);
    cfo_config *other = NULL;
    assert_int_equal(
        cfo_config_parse("[fuzzer \"ONLY\"]\nkind = canary\n", "other.ini", &other, &d), CFO_OK);
    cfo_taskset back;
    cfo_outcome *out = NULL;
    assert_int_equal(cfo_journal_restore(j, other, &back, &out, &d), CFO_EINVAL);
    assert_non_null(strstr(d.msg, "does not have"));
    cfo_config_destroy(&other);
    cfo_journal_close(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_committed_outcomes_survive_and_restore, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_torn_last_entry_is_dropped_at_every_cut, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_damage_before_the_end_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_flipped_byte_is_caught, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_fuzzer_on_restore_is_an_error, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
