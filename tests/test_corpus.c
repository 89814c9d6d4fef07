/* test_corpus.c -- corpus push/pull on local blobdirs, a two-process push race, and a driver for
 * the GCS tests. */
#include <dirent.h>
#include <errno.h>
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

#include "cfo_blobdir.h"
#include "cfo_corpus.h"
#include "cfo_log.h"

typedef struct fixture {
    char *root;
    char *remote_dir; /* root/remote */
    cfo_blobdir *remote;
} fixture;

static int setup(void **state)
{
    fixture *f = cfo_xcalloc(1, sizeof *f);
    f->root = cfo_make_temp_dir("cfo-corpus", NULL);
    assert_non_null(f->root);
    f->remote_dir = cfo_xasprintf("%s/remote", f->root);
    assert_int_equal(cfo_blobdir_open(f->remote_dir, &f->remote, NULL), CFO_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cfo_blobdir_destroy(&f->remote);
    cfo_remove_tree(f->root, NULL);
    free(f->root);
    free(f->remote_dir);
    free(f);
    return 0;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    cfo_mkdir_p(dir, NULL);
    char *path = cfo_xasprintf("%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    free(path);
}

static char *name_of(const char *text)
{
    char *n = cfo_xmalloc(41);
    cfo_content_name(text, strlen(text), n);
    return n;
}

/* Every entry of dir (hidden ones too), sorted. Each regular file's content
 * must hash to its name when check_names. */
static void dir_entries(const char *dir, cfo_strv *out, bool check_names)
{
    cfo_strv_init(out);
    DIR *dh = opendir(dir);
    assert_non_null(dh);
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        cfo_strv_push(out, de->d_name);
        if (!check_names)
            continue;
        char *path = cfo_xasprintf("%s/%s", dir, de->d_name);
        cfo_buf b;
        cfo_buf_init(&b);
        assert_int_equal(cfo_read_file(path, 1 << 22, &b, NULL), CFO_OK);
        char name[41];
        cfo_content_name(b.data, b.len, name);
        assert_string_equal(name, de->d_name);
        cfo_buf_fini(&b);
        free(path);
    }
    closedir(dh);
    for (size_t i = 1; i < out->n; i++)
        for (size_t j = i; j > 0 && strcmp(out->v[j - 1], out->v[j]) > 0; j--) {
            char *t = out->v[j];
            out->v[j] = out->v[j - 1];
            out->v[j - 1] = t;
        }
}

static void test_content_name(void **state)
{
    (void)state;
    char n[41];
    cfo_content_name("", 0, n);
    assert_string_equal(n, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    cfo_content_name("abc", 3, n);
    assert_string_equal(n, "a9993e364706816aba3e25717850c26c9cd0d89d");
    cfo_content_name("a\0b", 3, n); /* bytes, not a C string */
    assert_string_not_equal(n, "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8");
}

static void test_push_names_by_content(void **state)
{
    fixture *f = *state;
    char *local = cfo_xasprintf("%s/queue", f->root);
    write_file(local, "id:000000,time:0,orig:seed", "alpha", 5);
    write_file(local, "id:000001,src:000000,op:havoc", "beta", 4);
    write_file(local, "id:000002,dup", "alpha", 5); /* same content, other name */
    write_file(local, ".cur_input", "hidden", 6);   /* hidden: not an input */
    char *sub = cfo_xasprintf("%s/.state", local);
    write_file(sub, "x", "sub", 3); /* sub-folder: not an input */
    cfo_corpus_stats st;
    cfo_diag d = {""};
    assert_int_equal(cfo_corpus_push(f->remote, local, NULL, &st, &d), CFO_OK);
    assert_int_equal(st.transferred, 2);
    assert_int_equal(st.present, 1);
    assert_int_equal(st.skipped, 0);
    cfo_strv got;
    dir_entries(f->remote_dir, &got, true);
    char *a = name_of("alpha"), *b = name_of("beta");
    assert_int_equal(got.n, 2);
    assert_true(cfo_strv_contains(&got, a));
    assert_true(cfo_strv_contains(&got, b));
    cfo_strv_fini(&got);
    free(a);
    free(b);
    free(sub);
    free(local);
}

static void test_roundtrip(void **state)
{
    fixture *f = *state;
    char *a = cfo_xasprintf("%s/a", f->root);
    char *b = cfo_xasprintf("%s/b/deeper", f->root); /* made by pull */
    char text[64];
    for (int i = 0; i < 20; i++) {
        char fname[32];
        snprintf(fname, sizeof fname, "in%02d", i);
        snprintf(text, sizeof text, "input number %d", i);
        write_file(a, fname, text, strlen(text));
    }
    write_file(a, "empty", "", 0); /* an empty input is an input */
    cfo_corpus_stats st;
    cfo_diag d = {""};
    assert_int_equal(cfo_corpus_push(f->remote, a, NULL, &st, &d), CFO_OK);
    assert_int_equal(st.transferred, 21);
    assert_int_equal(cfo_corpus_pull(f->remote, b, &st, &d), CFO_OK);
    assert_int_equal(st.transferred, 21);
    assert_int_equal(st.present, 0);
    cfo_strv pulled;
    dir_entries(b, &pulled, true); /* every file named by its content, no leftovers */
    assert_int_equal(pulled.n, 21);
    for (int i = 0; i < 20; i++) {
        snprintf(text, sizeof text, "input number %d", i);
        char *n = name_of(text);
        assert_true(cfo_strv_contains(&pulled, n));
        free(n);
    }
    cfo_strv_fini(&pulled);
    /* Again: nothing moves. */
    assert_int_equal(cfo_corpus_push(f->remote, a, NULL, &st, &d), CFO_OK);
    assert_int_equal(st.transferred, 0);
    assert_int_equal(st.present, 21);
    assert_int_equal(cfo_corpus_pull(f->remote, b, &st, &d), CFO_OK);
    assert_int_equal(st.transferred, 0);
    assert_int_equal(st.present, 21);
    /* A pull of a remote that does not exist yet is empty. */
    cfo_blobdir *none = NULL;
    assert_int_equal(cfo_blobdir_sub(f->remote, "corpus/none", &none, &d), CFO_OK);
    assert_int_equal(cfo_corpus_pull(none, b, &st, &d), CFO_OK);
    assert_int_equal(st.transferred + st.present + st.skipped, 0);
    cfo_blobdir_destroy(&none);
    free(a);
    free(b);
}

static void test_known_skips_listing(void **state)
{
    fixture *f = *state;
    char *a = cfo_xasprintf("%s/a", f->root);
    write_file(a, "1", "one", 3);
    write_file(a, "2", "two", 3);
    cfo_strv known;
    cfo_strv_init(&known);
    cfo_strv_push_owned(&known, name_of("two"));
    cfo_corpus_stats st;
    cfo_diag d = {""};
    /* The remote lacks "two", but the caller says it has it: believed. */
    assert_int_equal(cfo_corpus_push(f->remote, a, &known, &st, &d), CFO_OK);
    assert_int_equal(st.transferred, 1);
    assert_int_equal(st.present, 1);
    cfo_strv got;
    dir_entries(f->remote_dir, &got, true);
    assert_int_equal(got.n, 1);
    char *one = name_of("one");
    assert_string_equal(got.v[0], one);
    free(one);
    cfo_strv_fini(&got);
    cfo_strv_fini(&known);
    free(a);
}

static void test_oversize_skipped(void **state)
{
    fixture *f = *state;
    char *a = cfo_xasprintf("%s/a", f->root);
    size_t big = CFO_CORPUS_MAX_INPUT + 1;
    char *data = cfo_xcalloc(1, big);
    write_file(a, "big", data, big);
    write_file(a, "limit", data, big - 1); /* exactly the limit is fine */
    write_file(a, "small", "s", 1);
    cfo_corpus_stats st;
    cfo_diag d = {""};
    assert_int_equal(cfo_corpus_push(f->remote, a, NULL, &st, &d), CFO_OK);
    assert_int_equal(st.transferred, 2);
    assert_int_equal(st.skipped, 1);
    /* Pull skips what is too big to be an input, and fetches the rest. */
    char big_name[41];
    cfo_content_name(data, big, big_name);
    write_file(f->remote_dir, big_name, data, big);
    char *b = cfo_xasprintf("%s/b", f->root);
    assert_int_equal(cfo_corpus_pull(f->remote, b, &st, &d), CFO_OK);
    assert_int_equal(st.transferred, 2);
    assert_int_equal(st.skipped, 1);
    char *path = cfo_xasprintf("%s/%s", b, big_name);
    assert_int_not_equal(access(path, F_OK), 0);
    cfo_strv got;
    dir_entries(b, &got, true);
    assert_int_equal(got.n, 2); /* and no temporary left behind */
    cfo_strv_fini(&got);
    free(path);
    free(b);
    free(data);
    free(a);
}

/* Two processes push overlapping corpora into one folder at once. */
static void test_push_race(void **state)
{
    fixture *f = *state;
    enum { PER = 150, OVERLAP = 100 };
    char *dirs[2];
    for (int p = 0; p < 2; p++) {
        dirs[p] = cfo_xasprintf("%s/w%d", f->root, p);
        for (int i = 0; i < PER; i++) {
            /* Worker 0 has inputs 0..149, worker 1 has 50..199. */
            int k = p * (PER - OVERLAP) + i;
            char fname[32], text[64];
            snprintf(fname, sizeof fname, "id:%06d", i);
            snprintf(text, sizeof text, "shared input %d", k);
            write_file(dirs[p], fname, text, strlen(text));
        }
    }
    int go[2];
    assert_int_equal(pipe(go), 0);
    int results[2];
    assert_int_equal(pipe(results), 0);
    pid_t pids[2];
    for (int p = 0; p < 2; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            close(go[1]);
            char c;
            /* Both start when the parent closes the pipe. */
            while (read(go[0], &c, 1) < 0 && errno == EINTR)
                ;
            cfo_blobdir *bd = NULL;
            cfo_corpus_stats st = {0, 0, 0};
            cfo_err err = cfo_blobdir_open(f->remote_dir, &bd, NULL);
            /* Given an empty known list, both try every upload: the
             * collisions are real, not avoided by a listing. */
            cfo_strv none;
            cfo_strv_init(&none);
            if (err == CFO_OK)
                err = cfo_corpus_push(bd, dirs[p], &none, &st, NULL);
            size_t line[2] = {err == CFO_OK ? st.transferred : (size_t)-1, st.present};
            ssize_t w = write(results[1], line, sizeof line);
            _exit(w == (ssize_t)sizeof line && err == CFO_OK ? 0 : 1);
        }
    }
    close(go[0]);
    close(go[1]);
    close(results[1]);
    size_t transferred = 0, present = 0;
    for (int p = 0; p < 2; p++) {
        int status = 0;
        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    size_t line[2];
    for (int p = 0; p < 2; p++) {
        assert_int_equal(read(results[0], line, sizeof line), (ssize_t)sizeof line);
        transferred += line[0];
        present += line[1];
    }
    close(results[0]);
    const size_t total = 2 * PER - OVERLAP;
    assert_int_equal(transferred, total); /* each input stored exactly once */
    assert_int_equal(present, OVERLAP);
    cfo_strv got;
    dir_entries(f->remote_dir, &got, true); /* no temporaries: every entry is content-named */
    assert_int_equal(got.n, total);
    for (size_t k = 0; k < total; k++) {
        char text[64];
        snprintf(text, sizeof text, "shared input %zu", k);
        char *n = name_of(text);
        assert_true(cfo_strv_contains(&got, n));
        free(n);
    }
    cfo_strv_fini(&got);
    free(dirs[0]);
    free(dirs[1]);
}

/* ---- driver for tests/integration/test_corpus_store.py ----------------
 * test_corpus drive list URL MAX | get URL NAME DEST MAX | put URL NAME SRC |
 *                   delete URL NAME | push URL DIR | pull URL DIR
 * prints the result on stdout; on failure prints "error ENAME: message" and
 * exits 1. */

static const char *err_name(cfo_err err)
{
    switch (err) {
    case CFO_OK:
        return "OK";
    case CFO_EINVAL:
        return "EINVAL";
    case CFO_EPARSE:
        return "EPARSE";
    case CFO_EIO:
        return "EIO";
    case CFO_ENOTFOUND:
        return "ENOTFOUND";
    case CFO_ECONFLICT:
        return "ECONFLICT";
    case CFO_ELIMIT:
        return "ELIMIT";
    case CFO_EUNSUPPORTED:
        return "EUNSUPPORTED";
    case CFO_ETIMEDOUT:
        return "ETIMEDOUT";
    case CFO_ECHILD:
        return "ECHILD";
    }
    return "?";
}

static int drive(int argc, char **argv)
{
    cfo_log_init("test_corpus", CFO_LOG_WARN);
    if (argc < 2) {
        fprintf(stderr, "usage: test_corpus drive OP URL ARGS...\n");
        return 2;
    }
    const char *op = argv[0];
    cfo_diag d = {""};
    cfo_blobdir *bd = NULL;
    cfo_err err = cfo_blobdir_open(argv[1], &bd, &d);
    if (err == CFO_OK && strcmp(op, "list") == 0 && argc == 3) {
        cfo_strv names;
        cfo_strv_init(&names);
        err = cfo_blobdir_list(bd, (size_t)strtoull(argv[2], NULL, 10), &names, &d);
        for (size_t i = 0; err == CFO_OK && i < names.n; i++)
            printf("%s\n", names.v[i]);
        cfo_strv_fini(&names);
    } else if (err == CFO_OK && strcmp(op, "get") == 0 && argc == 5) {
        err = cfo_blobdir_get(bd, argv[2], argv[3], strtoull(argv[4], NULL, 10), &d);
        if (err == CFO_OK)
            printf("ok\n");
    } else if (err == CFO_OK && strcmp(op, "put") == 0 && argc == 4) {
        bool created = false;
        err = cfo_blobdir_put_new(bd, argv[2], argv[3], &created, &d);
        if (err == CFO_OK)
            printf("%s\n", created ? "created" : "exists");
    } else if (err == CFO_OK && strcmp(op, "delete") == 0 && argc == 3) {
        err = cfo_blobdir_delete(bd, argv[2], &d);
        if (err == CFO_OK)
            printf("ok\n");
    } else if (err == CFO_OK && (strcmp(op, "push") == 0 || strcmp(op, "pull") == 0) && argc == 3) {
        cfo_corpus_stats st;
        err = op[1] == 'u' && op[2] == 's' ? cfo_corpus_push(bd, argv[2], NULL, &st, &d)
                                           : cfo_corpus_pull(bd, argv[2], &st, &d);
        if (err == CFO_OK)
            printf("present=%zu transferred=%zu skipped=%zu\n", st.present, st.transferred,
                   st.skipped);
    } else if (err == CFO_OK) {
        fprintf(stderr, "test_corpus drive: unknown operation or wrong arguments\n");
        cfo_blobdir_destroy(&bd);
        return 2;
    }
    cfo_blobdir_destroy(&bd);
    if (err != CFO_OK) {
        printf("error %s: %s\n", err_name(err), d.msg);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "drive") == 0)
        return drive(argc - 2, argv + 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_name),
        cmocka_unit_test_setup_teardown(test_push_names_by_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_skips_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversize_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_race, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
