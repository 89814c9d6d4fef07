/* test_fuzz_runner.c -- the fuzz runner's parts: target checks, {target}
 * substitution, terraform plan counting, root-module discovery, and the
 * canary and exec fuzzers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfo_exec_argv.h"
#include "cfo_fuzz_impl.h"
#include "tf_plan.h"

/* ---- target validation ---- */

static void test_target_validate(void **state)
{
    (void)state;
    const char *good[] = {"canary", "envs/prod/app", ".", "a..b", "..a", "a/...", "x y"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        cfo_diag d = {{0}};
        assert_int_equal(cfo_target_validate(good[i], &d), CFO_OK);
    }
    const char *bad[] = {"",       "-rf",    "--discover", "/abs", "/",         "..",
                         "../etc", "a/../b", "a/..",       "x\ny", "tab\there", "del\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cfo_diag d = {{0}};
        assert_int_equal(cfo_target_validate(bad[i], &d), CFO_EINVAL);
        assert_true(d.msg[0] != '\0');
    }
    char longest[1026];
    memset(longest, 'a', sizeof longest);
    longest[1024] = '\0';
    assert_int_equal(cfo_target_validate(longest, NULL), CFO_OK);
    longest[1024] = 'a';
    longest[1025] = '\0';
    assert_int_equal(cfo_target_validate(longest, NULL), CFO_EINVAL);
}

/* ---- {target} substitution ---- */

static void test_build_argv_substitutes_inside_words(void **state)
{
    (void)state;
    cfo_fuzzer f;
    cfo_fuzzer_init(&f, "EXEC", CFO_KIND_EXEC);
    cfo_strv_push(&f.run_argv, "./fuzz.sh");
    cfo_strv_push(&f.run_argv, "--target={target}");
    cfo_strv_push(&f.run_argv, "{target}/{target}");
    cfo_strv_push(&f.run_argv, "plain");
    cfo_strv_push(&f.run_argv, "{targe}");
    cfo_strv out;
    cfo_strv_init(&out);
    cfo_diag d = {{0}};
    assert_int_equal(cfo_exec_build_argv(&f, "a b;$(x)", &out, &d), CFO_OK);
    assert_int_equal(out.n, 5);
    assert_string_equal(out.v[0], "./fuzz.sh");
    assert_string_equal(out.v[1], "--target=a b;$(x)");
    assert_string_equal(out.v[2], "a b;$(x)/a b;$(x)");
    assert_string_equal(out.v[3], "plain");
    assert_string_equal(out.v[4], "{targe}");
    assert_null(out.v[5]);
    cfo_strv_fini(&out);
    cfo_fuzzer_fini(&f);
}

static void test_build_argv_rejects_bad_target_and_empty_command(void **state)
{
    (void)state;
    cfo_fuzzer f;
    cfo_fuzzer_init(&f, "EXEC", CFO_KIND_EXEC);
    cfo_strv out;
    cfo_strv_init(&out);
    cfo_diag d = {{0}};
    assert_int_equal(cfo_exec_build_argv(&f, "ok", &out, &d), CFO_EINVAL);
    assert_non_null(strstr(d.msg, "no run command"));
    cfo_strv_push(&f.run_argv, "run-{target}");
    assert_int_equal(cfo_exec_build_argv(&f, "../etc", &out, &d), CFO_EINVAL);
    assert_non_null(strstr(d.msg, "escapes"));
    assert_int_equal(cfo_exec_build_argv(&f, "-rf", &out, &d), CFO_EINVAL);
    assert_int_equal(out.n, 0);
    cfo_strv_fini(&out);
    cfo_fuzzer_fini(&f);
}

/* ---- plan JSON ---- */

static const char plan_fixture[] =
    "{\"format_version\":\"1.2\",\"terraform_version\":\"1.11.4\","
    "\"resource_changes\":["
    "{\"address\":\"terraform_data.same\",\"mode\":\"managed\","
    " \"change\":{\"actions\":[\"no-op\"],\"before\":{},\"after\":{}}},"
    "{\"address\":\"data.terraform_remote_state.net\",\"mode\":\"data\","
    " \"change\":{\"actions\":[\"read\"]}},"
    "{\"address\":\"module.svc.terraform_data.settings\","
    " \"change\":{\"actions\":[\"update\"]}},"
    "{\"address\":\"terraform_data.replica[1]\","
    " \"change\":{\"actions\":[\"delete\",\"create\"]}},"
    "{\"address\":\"terraform_data.new\",\"change\":{\"actions\":[\"create\"]}},"
    "{\"address\":\"terraform_data.odd\",\"change\":{\"actions\":[\"read\",\"no-op\"]}}"
    "],\"configuration\":{\"root_module\":{}}}";

static cfo_err count_text(const char *json, cfo_tfplan *p, cfo_diag *d)
{
    return cfo_tfplan_count(json, strlen(json), p, d);
}

static void test_plan_counts_changes(void **state)
{
    (void)state;
    cfo_tfplan p;
    cfo_tfplan_init(&p);
    cfo_diag d = {{0}};
    assert_int_equal(count_text(plan_fixture, &p, &d), CFO_OK);
    assert_int_equal(p.resources, 6);
    assert_int_equal(p.changed, 4);
    assert_int_equal(p.addresses.n, 4);
    assert_string_equal(p.addresses.v[0], "module.svc.terraform_data.settings");
    assert_string_equal(p.actions.v[0], "update");
    assert_string_equal(p.addresses.v[1], "terraform_data.replica[1]");
    assert_string_equal(p.actions.v[1], "delete,create");
    assert_string_equal(p.addresses.v[2], "terraform_data.new");
    assert_string_equal(p.actions.v[2], "create");
    assert_string_equal(p.addresses.v[3], "terraform_data.odd");
    assert_string_equal(p.actions.v[3], "read,no-op");
    cfo_tfplan_fini(&p);
}

static void test_plan_without_changes(void **state)
{
    (void)state;
    const char *empty[] = {"{\"format_version\":\"1.2\"}", "{\"resource_changes\":null}",
                           "{\"resource_changes\":[]}"};
    for (size_t i = 0; i < 3; i++) {
        cfo_tfplan p;
        cfo_tfplan_init(&p);
        assert_int_equal(count_text(empty[i], &p, NULL), CFO_OK);
        assert_int_equal(p.resources, 0);
        assert_int_equal(p.changed, 0);
        cfo_tfplan_fini(&p);
    }
    cfo_tfplan p;
    cfo_tfplan_init(&p);
    assert_int_equal(count_text("{\"resource_changes\":[{\"address\":\"a.b\",\"change\":"
                                "{\"actions\":[\"no-op\"]}}]}",
                                &p, NULL),
                     CFO_OK);
    assert_int_equal(p.resources, 1);
    assert_int_equal(p.changed, 0);
    cfo_tfplan_fini(&p);
}

/* A plan nested deeper than any real one is refused before yajl_tree, whose
 * recursion would overflow the stack on it (a fuzzing finding). */
static void test_plan_refuses_deep_nesting(void **state)
{
    (void)state;
    size_t depth = 300000;
    char *json = cfo_xmalloc(2 * depth + 1);
    memset(json, '[', depth);
    memset(json + depth, ']', depth);
    json[2 * depth] = '\0';
    cfo_tfplan p;
    cfo_tfplan_init(&p);
    cfo_diag d = {{0}};
    assert_int_equal(cfo_tfplan_count(json, 2 * depth, &p, &d), CFO_EPARSE);
    assert_non_null(strstr(d.msg, "deeper"));
    cfo_tfplan_fini(&p);
    free(json);
    /* Brackets inside strings do not count. */
    const char *quoted = "{\"a\": \"[[[[[[\\\"[[[\"}";
    assert_true(cfo_json_depth_ok(quoted, strlen(quoted), 1));
    assert_false(cfo_json_depth_ok("[[[]]]", 6, 2));
}

static void test_plan_rejects_bad_documents(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "not json",
        "{\"resource_changes\":[",
        "[]",
        "{\"resource_changes\":{}}",
        "{\"resource_changes\":[1]}",
        "{\"resource_changes\":[{\"change\":{\"actions\":[\"update\"]}}]}",
        "{\"resource_changes\":[{\"address\":7,\"change\":{\"actions\":[\"update\"]}}]}",
        "{\"resource_changes\":[{\"address\":\"a.b\"}]}",
        "{\"resource_changes\":[{\"address\":\"a.b\",\"change\":{\"actions\":\"update\"}}]}",
        "{\"resource_changes\":[{\"address\":\"a.b\",\"change\":{\"actions\":[1]}}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cfo_tfplan p;
        cfo_tfplan_init(&p);
        cfo_diag d = {{0}};
        assert_int_equal(count_text(bad[i], &p, &d), CFO_EPARSE);
        assert_true(d.msg[0] != '\0');
        cfo_tfplan_fini(&p);
    }
    /* A NUL inside the document is not JSON terraform writes. */
    cfo_tfplan p;
    cfo_tfplan_init(&p);
    assert_int_equal(cfo_tfplan_count("{}\0{}", 5, &p, NULL), CFO_EPARSE);
    assert_int_equal(cfo_tfplan_count("{}", CFO_TFPLAN_MAX_JSON + 1, &p, NULL), CFO_ELIMIT);
    cfo_tfplan_fini(&p);
}

/* ---- discovery on a temporary tree ---- */

typedef struct tree {
    char dir[PATH_MAX];
    char old_cwd[PATH_MAX];
} tree;

static void make_file(const char *base, const char *rel)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    assert_int_equal(cfo_mkdir_p(path, NULL), CFO_OK);
    *slash = '/';
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("resource \"terraform_data\" \"x\" {}\n", fp);
    fclose(fp);
}

static int tree_setup(void **state)
{
    tree *t = cfo_xcalloc(1, sizeof *t);
    const char *tmp = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/cfo-test-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(t->dir) == NULL)
        return -1;
    const char *files[] = {
        "main.tf", /* the root itself: "." */
        "envs/prod/app/main.tf",
        "envs/prod/app/variables.tf",
        "envs/prod/network/main.tf",
        "envs/staging/network/net.tf",
        "envs/dev/app/notes.md", /* no *.tf: not a module */
        "envs/dev/app/vars.tfvars",
        "envs/prod/app/.terraform/modules/svc/main.tf",
        "envs/prod/modules/shared/main.tf", /* modules/ at any depth */
        "modules/label/main.tf",
        ".git/hooks/x.tf",
        ".hidden/main.tf",
        "deep/a/b/c/d/main.tf",
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        make_file(t->dir, files[i]);
    char p[PATH_MAX * 2], q[PATH_MAX * 2];
    /* A directory named like a file does not make a module. */
    snprintf(p, sizeof p, "%s/envs/dev/app/dir.tf", t->dir);
    mkdir(p, 0755);
    /* A symlinked *.tf file counts; a symlinked directory is not followed. */
    snprintf(p, sizeof p, "%s/shared", t->dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/shared/provider.tf", t->dir);
    if (symlink("../envs/prod/app/main.tf", p) != 0)
        return -1;
    snprintf(q, sizeof q, "%s/loop", t->dir);
    if (symlink("envs", q) != 0)
        return -1;
    if (getcwd(t->old_cwd, sizeof t->old_cwd) == NULL || chdir(t->dir) != 0)
        return -1;
    *state = t;
    return 0;
}

static int tree_teardown(void **state)
{
    tree *t = *state;
    int rc = chdir(t->old_cwd);
    cfo_remove_tree(t->dir, NULL);
    free(t);
    return rc;
}

static void expect_targets(const cfo_fuzzer *f, const char *const *want, size_t n)
{
    const cfo_fuzz_impl *impl = cfo_fuzz_impl_for(CFO_KIND_INFRA_DRIFT);
    assert_non_null(impl);
    cfo_strv got;
    cfo_strv_init(&got);
    cfo_diag d = {{0}};
    cfo_err err = impl->discover(f, &got, &d);
    if (err != CFO_OK)
        fail_msg("discover: %s", d.msg);
    for (size_t i = 0; i < got.n; i++)
        printf("  found %s\n", got.v[i]);
    assert_int_equal(got.n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(got.v[i], want[i]);
    cfo_strv_fini(&got);
}

static void test_discover_root_modules(void **state)
{
    (void)state;
    cfo_fuzzer f;
    cfo_fuzzer_init(&f, "INFRA_DRIFT", CFO_KIND_INFRA_DRIFT);
    const char *want[] = {
        ".",     "deep/a/b/c/d", "envs/prod/app", "envs/prod/network", "envs/staging/network",
        "shared"};
    expect_targets(&f, want, 6);
    cfo_fuzzer_fini(&f);
}

static void test_discover_include_exclude(void **state)
{
    (void)state;
    cfo_fuzzer f;
    cfo_fuzzer_init(&f, "INFRA_DRIFT", CFO_KIND_INFRA_DRIFT);
    /* FNM_PATHNAME: a "*" never crosses a "/", so one level matches nothing. */
    cfo_strv_push(&f.include, "envs/*");
    expect_targets(&f, NULL, 0);
    cfo_strv_push(&f.include, "envs/*/*");
    cfo_strv_push(&f.exclude, "*/staging/*");
    const char *want[] = {"envs/prod/app", "envs/prod/network"};
    expect_targets(&f, want, 2);
    cfo_strv_push(&f.exclude, "envs/prod/net*");
    expect_targets(&f, want, 1);
    cfo_fuzzer_fini(&f);
}

static void test_discover_under_root(void **state)
{
    (void)state;
    cfo_fuzzer f;
    cfo_fuzzer_init(&f, "INFRA_DRIFT", CFO_KIND_INFRA_DRIFT);
    free(f.root);
    f.root = cfo_xstrdup("envs/prod");
    const char *want[] = {"app", "network"};
    expect_targets(&f, want, 2);

    const cfo_fuzz_impl *impl = cfo_fuzz_impl_for(CFO_KIND_INFRA_DRIFT);
    cfo_strv got;
    cfo_strv_init(&got);
    cfo_diag d = {{0}};
    free(f.root);
    f.root = cfo_xstrdup("../outside");
    assert_int_equal(impl->discover(&f, &got, &d), CFO_EINVAL);
    free(f.root);
    f.root = cfo_xstrdup("no/such/dir");
    assert_int_equal(impl->discover(&f, &got, &d), CFO_ENOTFOUND);
    assert_non_null(strstr(d.msg, "no/such/dir"));
    assert_int_equal(got.n, 0);
    cfo_strv_fini(&got);
    cfo_fuzzer_fini(&f);
}

/* A run against something that is not a root module, or with no terraform,
 * is an error before terraform is started. */
static void test_drift_run_refuses_non_modules(void **state)
{
    (void)state;
    const cfo_fuzz_impl *impl = cfo_fuzz_impl_for(CFO_KIND_INFRA_DRIFT);
    cfo_fuzzer f;
    cfo_fuzzer_init(&f, "INFRA_DRIFT", CFO_KIND_INFRA_DRIFT);
    struct {
        const char *target;
        const char *says;
    } cases[] = {{"envs/none", "no such directory"},
                 {"envs/dev/app", "no *.tf files"},
                 {"../etc", "escapes"},
                 {"modules/label", "not a root module"},
                 {"envs/prod/app/.terraform/modules/svc", "not a root module"},
                 {"envs/prod/app/main.tf", "no such directory"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cfo_fuzz_result res = {0};
        cfo_buf_init(&res.summary);
        cfo_diag d = {{0}};
        assert_int_equal(impl->run(&f, cases[i].target, &res, &d), CFO_FUZZ_ERROR);
        if (strstr(d.msg, cases[i].says) == NULL)
            fail_msg("%s: '%s' lacks '%s'", cases[i].target, d.msg, cases[i].says);
        cfo_buf_fini(&res.summary);
    }
    free(f.terraform);
    f.terraform = cfo_xstrdup("no-such-terraform-binary");
    cfo_fuzz_result res = {0};
    cfo_buf_init(&res.summary);
    cfo_diag d = {{0}};
    assert_int_equal(impl->run(&f, "envs/prod/app", &res, &d), CFO_FUZZ_ERROR);
    assert_non_null(strstr(d.msg, "'no-such-terraform-binary' not found"));
    cfo_buf_fini(&res.summary);
    cfo_fuzzer_fini(&f);
}

/* ---- canary and exec ---- */

static void test_every_kind_has_an_implementation(void **state)
{
    (void)state;
    for (int k = 0; k < CFO_KIND_COUNT; k++) {
        const cfo_fuzz_impl *impl = cfo_fuzz_impl_for((cfo_kind)k);
        assert_non_null(impl);
        assert_int_equal(impl->kind, k);
    }
}

static void test_canary_always_fails(void **state)
{
    (void)state;
    const cfo_fuzz_impl *impl = cfo_fuzz_impl_for(CFO_KIND_CANARY);
    cfo_fuzzer f;
    cfo_fuzzer_init(&f, "CANARY", CFO_KIND_CANARY);
    cfo_strv t;
    cfo_strv_init(&t);
    assert_int_equal(impl->discover(&f, &t, NULL), CFO_OK);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.v[0], "canary");
    cfo_fuzz_result res = {0};
    cfo_buf_init(&res.summary);
    assert_int_equal(impl->run(&f, "canary", &res, NULL), CFO_FUZZ_FAIL);
    assert_int_equal(res.count, 1);
    assert_int_equal(res.findings, 1);
    assert_true(res.summary.len > 0);
    cfo_buf_fini(&res.summary);
    cfo_strv_fini(&t);
    cfo_fuzzer_fini(&f);
}

static cfo_err exec_discover(const char *const *argv, cfo_strv *got, cfo_diag *d)
{
    cfo_fuzzer f;
    cfo_fuzzer_init(&f, "EXEC", CFO_KIND_EXEC);
    for (size_t i = 0; argv[i] != NULL; i++)
        cfo_strv_push(&f.discover_argv, argv[i]);
    cfo_err err = cfo_fuzz_impl_for(CFO_KIND_EXEC)->discover(&f, got, d);
    cfo_fuzzer_fini(&f);
    return err;
}

static void test_exec_discover(void **state)
{
    (void)state;
    cfo_strv got;
    cfo_strv_init(&got);
    cfo_diag d = {{0}};
    const char *none[] = {NULL};
    assert_int_equal(exec_discover(none, &got, &d), CFO_OK);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.v[0], "default");
    cfo_strv_fini(&got);

    cfo_strv_init(&got);
    const char *listing[] = {"printf", "zeta\\nalpha\\r\\n\\n  \\nalpha\\ndir/x", NULL};
    assert_int_equal(exec_discover(listing, &got, &d), CFO_OK);
    assert_int_equal(got.n, 3);
    assert_string_equal(got.v[0], "alpha");
    assert_string_equal(got.v[1], "dir/x");
    assert_string_equal(got.v[2], "zeta");
    cfo_strv_fini(&got);

    cfo_strv_init(&got);
    const char *escaping[] = {"printf", "ok\\n../../etc/passwd\\n", NULL};
    assert_int_equal(exec_discover(escaping, &got, &d), CFO_EINVAL);
    assert_non_null(strstr(d.msg, "../../etc/passwd"));
    const char *templated[] = {"echo", "{target}", NULL};
    assert_int_equal(exec_discover(templated, &got, &d), CFO_EINVAL);
    const char *failing[] = {"false", NULL};
    assert_int_equal(exec_discover(failing, &got, &d), CFO_ECHILD);
    assert_int_equal(got.n, 0);
    cfo_strv_fini(&got);
}

static cfo_fuzz_verdict exec_run(const char *const *argv, const char *target, int64_t *findings,
                                 cfo_diag *d)
{
    cfo_fuzzer f;
    cfo_fuzzer_init(&f, "EXEC", CFO_KIND_EXEC);
    for (size_t i = 0; argv[i] != NULL; i++)
        cfo_strv_push(&f.run_argv, argv[i]);
    cfo_fuzz_result res = {0};
    cfo_buf_init(&res.summary);
    cfo_fuzz_verdict v = cfo_fuzz_impl_for(CFO_KIND_EXEC)->run(&f, target, &res, d);
    *findings = res.findings;
    cfo_buf_fini(&res.summary);
    cfo_fuzzer_fini(&f);
    return v;
}

static void test_exec_run_maps_exit_status(void **state)
{
    (void)state;
    cfo_diag d = {{0}};
    int64_t findings = -1;
    /* test(1): 0 when equal, 1 when not, 2 on a syntax error. */
    const char *cmp[] = {"test", "{target}", "=", "good", NULL};
    assert_int_equal(exec_run(cmp, "good", &findings, &d), CFO_FUZZ_PASS);
    assert_int_equal(findings, 0);
    assert_int_equal(exec_run(cmp, "bad", &findings, &d), CFO_FUZZ_FAIL);
    assert_int_equal(findings, 1);
    const char *syntax[] = {"test", "{target}", "-bogus-op", "x", NULL};
    assert_int_equal(exec_run(syntax, "a", &findings, &d), CFO_FUZZ_ERROR);
    assert_non_null(strstr(d.msg, "status 2"));
    const char *missing[] = {"cfo-no-such-command-xyz", "{target}", NULL};
    assert_int_equal(exec_run(missing, "a", &findings, &d), CFO_FUZZ_ERROR);
    assert_non_null(strstr(d.msg, "not found"));
    assert_int_equal(exec_run(cmp, "../x", &findings, &d), CFO_FUZZ_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_validate),
        cmocka_unit_test(test_build_argv_substitutes_inside_words),
        cmocka_unit_test(test_build_argv_rejects_bad_target_and_empty_command),
        cmocka_unit_test(test_plan_counts_changes),
        cmocka_unit_test(test_plan_without_changes),
        cmocka_unit_test(test_plan_rejects_bad_documents),
        cmocka_unit_test(test_plan_refuses_deep_nesting),
        cmocka_unit_test_setup_teardown(test_discover_root_modules, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_discover_include_exclude, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_discover_under_root, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_drift_run_refuses_non_modules, tree_setup,
                                        tree_teardown),
        cmocka_unit_test(test_every_kind_has_an_implementation),
        cmocka_unit_test(test_canary_always_fails),
        cmocka_unit_test(test_exec_discover),
        cmocka_unit_test(test_exec_run_maps_exit_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
