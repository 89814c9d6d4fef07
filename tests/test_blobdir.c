/* test_blobdir.c -- local blobdirs: put-if-absent, sorted listing, get limits, hostile names, URLs.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfo_blobdir.h"

typedef struct fixture {
    char *root;
    char *dir; /* root/blobs, not created */
    cfo_blobdir *bd;
} fixture;

static int setup(void **state)
{
    fixture *f = cfo_xcalloc(1, sizeof *f);
    f->root = cfo_make_temp_dir("cfo-blobdir", NULL);
    assert_non_null(f->root);
    f->dir = cfo_xasprintf("%s/blobs", f->root);
    cfo_diag d;
    assert_int_equal(cfo_blobdir_open(f->dir, &f->bd, &d), CFO_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cfo_blobdir_destroy(&f->bd);
    assert_null(f->bd);
    cfo_remove_tree(f->root, NULL);
    free(f->root);
    free(f->dir);
    free(f);
    return 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static char *slurp(const char *path)
{
    cfo_buf b;
    cfo_buf_init(&b);
    assert_int_equal(cfo_read_file(path, 1 << 24, &b, NULL), CFO_OK);
    return cfo_buf_steal(&b);
}

static void put_text(cfo_blobdir *bd, const char *name, const char *text, bool want_created)
{
    bool created = !want_created;
    cfo_diag d = {""};
    assert_int_equal(cfo_blobdir_put_new_data(bd, name, text, strlen(text), &created, &d), CFO_OK);
    assert_int_equal(created, want_created);
}

/* Entries of dir whose names start with '.', other than "." and "..". */
static int hidden_entries(const char *dir)
{
    DIR *dh = opendir(dir);
    assert_non_null(dh);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL)
        if (de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(dh);
    return n;
}

static void test_put_new_never_replaces(void **state)
{
    fixture *f = *state;
    char *src = cfo_xasprintf("%s/src", f->root);
    write_file(src, "first", 5);
    bool created = false;
    cfo_diag d;
    assert_int_equal(cfo_blobdir_put_new(f->bd, "obj", src, &created, &d), CFO_OK);
    assert_true(created);
    write_file(src, "second", 6);
    assert_int_equal(cfo_blobdir_put_new(f->bd, "obj", src, &created, &d), CFO_OK);
    assert_false(created);
    char *path = cfo_xasprintf("%s/obj", f->dir);
    char *got = slurp(path);
    assert_string_equal(got, "first");
    assert_int_equal(hidden_entries(f->dir), 0);
    /* A source that does not exist is an error, not an empty file. */
    char *missing = cfo_xasprintf("%s/missing", f->root);
    assert_int_equal(cfo_blobdir_put_new(f->bd, "other", missing, &created, &d), CFO_ENOTFOUND);
    free(missing);
    free(got);
    free(path);
    free(src);
}

static void test_list_sorted(void **state)
{
    fixture *f = *state;
    cfo_strv names;
    cfo_strv_init(&names);
    cfo_diag d;
    /* Not created yet: empty, not an error. */
    assert_int_equal(cfo_blobdir_list(f->bd, 10, &names, &d), CFO_OK);
    assert_int_equal(names.n, 0);
    const char *order[] = {"b", "a", "c:1", "B", "aa", "0"};
    for (size_t i = 0; i < 6; i++)
        put_text(f->bd, order[i], order[i], true);
    /* Neither sub-folders, hidden (temporary) files nor bad names are files of the folder. */
    char *sub = cfo_xasprintf("%s/subdir", f->dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    char *hidden = cfo_xasprintf("%s/.tmp.x", f->dir);
    write_file(hidden, "x", 1);
    char *bad = cfo_xasprintf("%s/bad name", f->dir);
    write_file(bad, "x", 1);
    assert_int_equal(cfo_blobdir_list(f->bd, 10, &names, &d), CFO_OK);
    const char *want[] = {"0", "B", "a", "aa", "b", "c:1"};
    assert_int_equal(names.n, 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(names.v[i], want[i]);
    assert_null(names.v[6]);
    cfo_strv_fini(&names);
    cfo_strv_init(&names);
    assert_int_equal(cfo_blobdir_list(f->bd, 5, &names, &d), CFO_ELIMIT);
    assert_int_equal(names.n, 0);
    cfo_strv_fini(&names);
    free(sub);
    free(hidden);
    free(bad);
}

static void test_get(void **state)
{
    fixture *f = *state;
    char *dest = cfo_xasprintf("%s/dest", f->root);
    cfo_diag d;
    assert_int_equal(cfo_blobdir_get(f->bd, "absent", dest, 100, &d), CFO_ENOTFOUND);
    assert_int_not_equal(access(dest, F_OK), 0);
    put_text(f->bd, "x", "0123456789", true);
    write_file(dest, "old", 3);
    assert_int_equal(cfo_blobdir_get(f->bd, "x", dest, 9, &d), CFO_ELIMIT);
    char *got = slurp(dest);
    assert_string_equal(got, "old"); /* untouched */
    free(got);
    assert_int_equal(cfo_blobdir_get(f->bd, "x", dest, 10, &d), CFO_OK);
    got = slurp(dest);
    assert_string_equal(got, "0123456789");
    free(got);
    assert_int_equal(hidden_entries(f->root), 0);
    free(dest);
}

static void test_delete(void **state)
{
    fixture *f = *state;
    cfo_diag d;
    assert_int_equal(cfo_blobdir_delete(f->bd, "gone", &d), CFO_OK);
    put_text(f->bd, "x", "1", true);
    assert_int_equal(cfo_blobdir_delete(f->bd, "x", &d), CFO_OK);
    char *path = cfo_xasprintf("%s/x", f->dir);
    assert_int_not_equal(access(path, F_OK), 0);
    free(path);
    put_text(f->bd, "x", "2", true); /* a deleted name can be stored again */
}

static void test_hostile_names(void **state)
{
    fixture *f = *state;
    char long_name[CFO_BLOBDIR_NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *bad[] = {"",        ".",   "..",   "../x", "a/b",    "/etc/passwd",
                         ".hidden", "a b", "a\nb", "x\\y", long_name};
    char *dest = cfo_xasprintf("%s/dest", f->root);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bool created = true;
        cfo_diag d;
        assert_false(cfo_blobdir_name_ok(bad[i]));
        assert_int_equal(cfo_blobdir_put_new_data(f->bd, bad[i], "x", 1, &created, &d), CFO_EINVAL);
        assert_false(created);
        assert_int_equal(cfo_blobdir_get(f->bd, bad[i], dest, 10, &d), CFO_EINVAL);
        assert_int_equal(cfo_blobdir_delete(f->bd, bad[i], &d), CFO_EINVAL);
    }
    long_name[CFO_BLOBDIR_NAME_MAX] = '\0';
    assert_true(cfo_blobdir_name_ok(long_name));
    assert_true(cfo_blobdir_name_ok("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    assert_true(cfo_blobdir_name_ok("0123abcd0123abcd.tar.gz"));
    /* Nothing was written anywhere: the folder was never even created. */
    assert_int_not_equal(access(f->dir, F_OK), 0);

    const char *bad_rel[] = {"", "..", "a/../b", "a//b", "/abs", "a/", "./a", "a b"};
    for (size_t i = 0; i < sizeof bad_rel / sizeof *bad_rel; i++) {
        cfo_blobdir *sub = (cfo_blobdir *)1;
        cfo_diag d;
        assert_int_equal(cfo_blobdir_sub(f->bd, bad_rel[i], &sub, &d), CFO_EINVAL);
        assert_null(sub);
    }
    free(dest);
}

static void test_sub(void **state)
{
    fixture *f = *state;
    cfo_blobdir *sub = NULL;
    cfo_diag d;
    assert_int_equal(cfo_blobdir_sub(f->bd, "corpus/libfuzzer/fuzz_parse", &sub, &d), CFO_OK);
    char *want = cfo_xasprintf("%s/corpus/libfuzzer/fuzz_parse", f->dir);
    assert_string_equal(cfo_blobdir_display(sub), want);
    put_text(sub, "n", "v", true);
    char *path = cfo_xasprintf("%s/n", want);
    char *got = slurp(path);
    assert_string_equal(got, "v");
    /* The parent lists only its own files, not the sub-folder's. */
    cfo_strv names;
    cfo_strv_init(&names);
    assert_int_equal(cfo_blobdir_list(f->bd, 10, &names, &d), CFO_OK);
    assert_int_equal(names.n, 0);
    cfo_strv_fini(&names);
    cfo_blobdir_destroy(&sub);
    free(got);
    free(path);
    free(want);
}

static void test_urls(void **state)
{
    fixture *f = *state;
    cfo_diag d;
    cfo_blobdir *bd = NULL;
    char *url = cfo_xasprintf("file://%s/x/", f->root);
    assert_int_equal(cfo_blobdir_open(url, &bd, &d), CFO_OK);
    char *want = cfo_xasprintf("%s/x", f->root);
    assert_string_equal(cfo_blobdir_display(bd), want);
    cfo_blobdir_destroy(&bd);
    free(want);
    free(url);

    /* Relative forms resolve against the current directory when opened. */
    char *cwd = getcwd(NULL, 0);
    assert_non_null(cwd);
    assert_int_equal(chdir(f->root), 0);
    assert_int_equal(cfo_blobdir_open("file://rel/dir", &bd, &d), CFO_OK);
    assert_int_equal(chdir(cwd), 0);
    want = cfo_xasprintf("%s/rel/dir", f->root);
    assert_string_equal(cfo_blobdir_display(bd), want);
    put_text(bd, "n", "v", true);
    char *path = cfo_xasprintf("%s/n", want);
    assert_int_equal(access(path, F_OK), 0);
    cfo_blobdir_destroy(&bd);
    free(path);
    free(want);
    free(cwd);

    /* gs:// needs no network to open; the emulator spares the credential chain. */
    setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:9", 1);
    assert_int_equal(cfo_blobdir_open("gs://my-bucket/a/b/", &bd, &d), CFO_OK);
    assert_string_equal(cfo_blobdir_display(bd), "gs://my-bucket/a/b");
    cfo_blobdir *sub = NULL;
    assert_int_equal(cfo_blobdir_sub(bd, "corpus/x", &sub, &d), CFO_OK);
    assert_string_equal(cfo_blobdir_display(sub), "gs://my-bucket/a/b/corpus/x");
    cfo_blobdir_destroy(&sub);
    cfo_blobdir_destroy(&bd);
    assert_int_equal(cfo_blobdir_open("gs://my-bucket", &bd, &d), CFO_OK);
    assert_string_equal(cfo_blobdir_display(bd), "gs://my-bucket");
    cfo_blobdir_destroy(&bd);

    const char *bad[] = {"",          "file://",        "http://host/x",   "gs://", "gs://UPPER/x",
                         "gs://ab/x", "gs://bucket//x", "gs://bucket/a//b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bd = (cfo_blobdir *)1;
        assert_int_equal(cfo_blobdir_open(bad[i], &bd, &d), CFO_EINVAL);
        assert_null(bd);
    }
    unsetenv("STORAGE_EMULATOR_HOST");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_new_never_replaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_sorted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sub, setup, teardown),
        cmocka_unit_test_setup_teardown(test_urls, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
