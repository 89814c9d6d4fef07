/* test_sessidx.c -- the routing id to session table: found after being put,
 * stale entries passed over, and a table that fills is rebuilt from the live
 * sessions without losing one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cfo_sessidx.h"

#define N 64

typedef struct fake {
    bool live;
    int sock;
    unsigned char rid[8];
    size_t len;
} fake;

static fake sessions[N];

static bool is(void *arg, int w, int sock, const unsigned char *rid, size_t len)
{
    (void)arg;
    const fake *f = &sessions[w];
    return f->live && f->sock == sock && f->len == len && memcmp(f->rid, rid, len) == 0;
}

static bool live(void *arg, int w, int *sock, const unsigned char **rid, size_t *len)
{
    (void)arg;
    *sock = sessions[w].sock;
    *rid = sessions[w].rid;
    *len = sessions[w].len;
    return sessions[w].live;
}

static void set(int w, unsigned id)
{
    sessions[w] = (fake){.live = true, .sock = 0, .len = 5};
    sessions[w].rid[0] = 0;
    memcpy(sessions[w].rid + 1, &id, 4);
}

static void test_put_find_and_reuse(void **state)
{
    (void)state;
    cfo_sessidx ix;
    cfo_sessidx_init(&ix, N);
    for (int w = 0; w < N; w++) {
        set(w, 1000u + (unsigned)w);
        cfo_sessidx_put(&ix, w, 0, sessions[w].rid, sessions[w].len, N, live, NULL);
    }
    for (int w = 0; w < N; w++)
        assert_int_equal(cfo_sessidx_find(&ix, 0, sessions[w].rid, 5, is, NULL), w);
    unsigned char other[5] = {0, 9, 9, 9, 9};
    assert_int_equal(cfo_sessidx_find(&ix, 0, other, 5, is, NULL), -1);
    /* The same id on another socket is another peer. */
    assert_int_equal(cfo_sessidx_find(&ix, 1, sessions[3].rid, 5, is, NULL), -1);
    /* A session that ended is not found; its slot, reused by another
     * worker, finds the new one only. Many rounds of that fill the table,
     * which is rebuilt from the live sessions. */
    for (unsigned round = 0; round < 50; round++) {
        for (int w = 0; w < N; w += 2) {
            unsigned char old[8];
            memcpy(old, sessions[w].rid, 5);
            sessions[w].live = false;
            assert_int_equal(cfo_sessidx_find(&ix, 0, old, 5, is, NULL), -1);
            set(w, 5000u + round * N + (unsigned)w);
            cfo_sessidx_put(&ix, w, 0, sessions[w].rid, 5, N, live, NULL);
            assert_int_equal(cfo_sessidx_find(&ix, 0, old, 5, is, NULL), -1);
        }
        for (int w = 0; w < N; w++)
            assert_int_equal(cfo_sessidx_find(&ix, 0, sessions[w].rid, 5, is, NULL), w);
    }
    assert_true(2 * ix.used <= ix.cap);
    cfo_sessidx_fini(&ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_find_and_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
