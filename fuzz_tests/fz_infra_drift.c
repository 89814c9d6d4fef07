/* fz_infra_drift.c -- infra_drift: finds the root modules of a Terraform
 * tree and reports the resources whose deployed state differs from the code. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfo_exec.h"
#include "cfo_fuzz_impl.h"
#include "tf_plan.h"

/* A tree deeper than this is a symlink loop or not a Terraform repository. */
#define TF_MAX_DEPTH 64
#define TF_MAX_MODULES 100000
/* init and plan print progress and the human-readable plan. */
#define TF_MAX_TEXT_OUT ((size_t)64 << 20)
/* Bytes of terraform's stderr quoted in an error message. */
#define TF_ERR_TAIL 700

static bool ends_with_tf(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".tf") == 0;
}

/* Directories that never hold a root module of their own: terraform's data
 * (.terraform), hidden ones (.git), and child modules (modules/). */
static bool skipped_dir(const char *name)
{
    return name[0] == '.' || strcmp(name, "modules") == 0;
}

static bool wanted(const cfo_fuzzer *f, const char *rel)
{
    bool in = f->include.n == 0;
    for (size_t i = 0; !in && i < f->include.n; i++)
        in = fnmatch(f->include.v[i], rel, FNM_PATHNAME) == 0;
    for (size_t i = 0; in && i < f->exclude.n; i++)
        in = fnmatch(f->exclude.v[i], rel, FNM_PATHNAME) != 0;
    return in;
}

/* What a directory entry is, without following a symlinked directory (a loop
 * or a path out of the tree) but counting a symlinked *.tf file, which is how
 * repositories share provider blocks. */
static void entry_kind(const char *dir, const struct dirent *e, bool *is_dir, bool *is_file)
{
    *is_dir = e->d_type == DT_DIR;
    *is_file = e->d_type == DT_REG;
    if (e->d_type != DT_UNKNOWN && e->d_type != DT_LNK)
        return;
    char *path = cfo_xasprintf("%s/%s", dir, e->d_name);
    struct stat st;
    if (e->d_type == DT_UNKNOWN && lstat(path, &st) == 0) {
        *is_dir = S_ISDIR(st.st_mode);
        *is_file = S_ISREG(st.st_mode);
    }
    if ((e->d_type == DT_LNK || (e->d_type == DT_UNKNOWN && !*is_dir && !*is_file)) &&
        stat(path, &st) == 0)
        *is_file = S_ISREG(st.st_mode);
    free(path);
}

/* dir is the path from cwd, rel the module path reported ("" for the root). */
static cfo_err walk(const cfo_fuzzer *f, const char *dir, const char *rel, int depth, cfo_strv *out,
                    cfo_diag *d)
{
    if (depth > TF_MAX_DEPTH)
        return cfo_diag_set(d, CFO_ELIMIT, "%s: deeper than %d directories", dir, TF_MAX_DEPTH);
    DIR *dh = opendir(dir);
    if (dh == NULL)
        return cfo_diag_set(d, errno == ENOENT ? CFO_ENOTFOUND : CFO_EIO, "%s: %s", dir,
                            strerror(errno));
    bool has_tf = false;
    cfo_strv subdirs;
    cfo_strv_init(&subdirs);
    errno = 0;
    for (struct dirent *e; (e = readdir(dh)) != NULL; errno = 0) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        bool is_dir, is_file;
        entry_kind(dir, e, &is_dir, &is_file);
        if (is_file && ends_with_tf(e->d_name))
            has_tf = true;
        else if (is_dir && !skipped_dir(e->d_name))
            cfo_strv_push(&subdirs, e->d_name);
    }
    int read_errno = errno;
    closedir(dh);
    cfo_err err = CFO_OK;
    if (read_errno != 0) {
        err = cfo_diag_set(d, CFO_EIO, "%s: %s", dir, strerror(read_errno));
        goto out;
    }
    const char *name = rel[0] ? rel : ".";
    if (has_tf && wanted(f, name)) {
        if (out->n >= TF_MAX_MODULES) {
            err = cfo_diag_set(d, CFO_ELIMIT, "more than %d root modules", TF_MAX_MODULES);
            goto out;
        }
        cfo_strv_push(out, name);
    }
    /* Sorted descent keeps the walk deterministic; the result is sorted
     * again at the end since "a-b" < "a/b" differs from the walk order. */
    cfo_strv_sort(&subdirs);
    for (size_t i = 0; i < subdirs.n && err == CFO_OK; i++) {
        char *sub_dir = cfo_xasprintf("%s/%s", dir, subdirs.v[i]);
        char *sub_rel =
            rel[0] ? cfo_xasprintf("%s/%s", rel, subdirs.v[i]) : cfo_xstrdup(subdirs.v[i]);
        err = walk(f, sub_dir, sub_rel, depth + 1, out, d);
        free(sub_dir);
        free(sub_rel);
    }
out:
    cfo_strv_fini(&subdirs);
    return err;
}

/* A target discovery could never list: one inside modules/ (a child module
 * planned alone would "create" everything) or a hidden directory. */
static cfo_err check_not_skipped(const char *target, cfo_diag *d)
{
    for (const char *p = target; *p;) {
        size_t n = strcspn(p, "/");
        char *name = cfo_xstrndup(p, n);
        bool skip = strcmp(name, ".") != 0 && skipped_dir(name);
        free(name);
        if (skip)
            return cfo_diag_set(d, CFO_EINVAL,
                                "%s is not a root module (modules/ and hidden directories "
                                "are never targets)",
                                target);
        p += n;
        p += *p == '/';
    }
    return CFO_OK;
}

static cfo_err check_root(const cfo_fuzzer *f, cfo_diag *d)
{
    if (f->root[0] == '\0')
        return CFO_OK;
    cfo_err err = cfo_target_validate(f->root, d);
    if (err != CFO_OK)
        cfo_diag_prefix(d, "fuzzer %s: root", f->name);
    return err;
}

static cfo_err drift_discover(const cfo_fuzzer *f, cfo_strv *targets, cfo_diag *d)
{
    cfo_err err = check_root(f, d);
    if (err != CFO_OK)
        return err;
    cfo_strv found;
    cfo_strv_init(&found);
    err = walk(f, f->root[0] ? f->root : ".", "", 0, &found, d);
    if (err == CFO_OK) {
        cfo_strv_sort(&found);
        for (size_t i = 0; i < found.n; i++)
            cfo_strv_push(targets, found.v[i]);
    }
    cfo_strv_fini(&found);
    return err;
}

/* Finds the terraform (or tofu) binary as execvp would, so a missing one is
 * reported by name instead of as a failed spawn; a path with a '/' is made
 * absolute because the commands run inside the module directory. */
static cfo_err find_binary(const char *name, char **out, cfo_diag *d)
{
    if (name[0] == '\0')
        return cfo_diag_set(d, CFO_EINVAL, "no terraform binary configured");
    if (strchr(name, '/') != NULL) {
        char *abs = realpath(name, NULL);
        if (abs == NULL || access(abs, X_OK) != 0) {
            free(abs);
            return cfo_diag_set(d, CFO_ENOTFOUND,
                                "terraform binary '%s' not found or not executable", name);
        }
        *out = abs;
        return CFO_OK;
    }
    const char *path = getenv("PATH");
    if (path == NULL || path[0] == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    char *copy = cfo_xstrdup(path);
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char *cand = cfo_xasprintf("%s/%s", dir[0] ? dir : ".", name);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
            free(copy);
            *out = cand;
            return CFO_OK;
        }
        free(cand);
    }
    free(copy);
    return cfo_diag_set(d, CFO_ENOTFOUND,
                        "terraform binary '%s' not found in PATH (install it, or set "
                        "terraform = in the fuzzer's section of cfo.ini)",
                        name);
}

/* The plugin cache every module's init shares, so a provider is downloaded
 * once per machine rather than once per module and branch. */
static char *plugin_cache_dir(cfo_diag *d)
{
    const char *env = getenv("TF_PLUGIN_CACHE_DIR");
    if (env != NULL && env[0] != '\0')
        return cfo_xstrdup(env);
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    char *dir;
    if (xdg != NULL && xdg[0] == '/')
        dir = cfo_xasprintf("%s/cfo/terraform-plugins", xdg);
    else if (home != NULL && home[0] == '/')
        dir = cfo_xasprintf("%s/.cache/cfo/terraform-plugins", home);
    else
        return NULL;
    if (cfo_mkdir_p(dir, d) != CFO_OK) {
        free(dir);
        return NULL;
    }
    return dir;
}

static bool dir_has_tf(const char *dir)
{
    DIR *dh = opendir(dir);
    if (dh == NULL)
        return false;
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(dh)) != NULL;) {
        if (!ends_with_tf(e->d_name))
            continue;
        bool is_dir, is_file;
        entry_kind(dir, e, &is_dir, &is_file);
        found = is_file;
    }
    closedir(dh);
    return found;
}

/* The part of terraform's stderr that says what went wrong: from its first
 * "Error:" when that fits, else the last lines; warnings before the error
 * (an unreadable CLI configuration, say) are noise in a one-paragraph
 * message. */
static const char *err_tail(const char *err)
{
    if (err == NULL)
        return "";
    size_t len = strlen(err);
    while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' '))
        len--;
    const char *first = strncmp(err, "Error:", 6) == 0 ? err : strstr(err, "\nError:");
    if (first != NULL) {
        first += first[0] == '\n';
        if ((size_t)(err + len - first) <= TF_ERR_TAIL)
            return first;
    }
    if (len <= TF_ERR_TAIL)
        return err;
    const char *p = err + len - TF_ERR_TAIL;
    const char *nl = strchr(p, '\n');
    return nl && nl[1] ? nl + 1 : p;
}

static void capture_reset(cfo_capture *cap)
{
    cfo_capture_fini(cap);
    memset(cap, 0, sizeof *cap);
}

static void echo(FILE *to, const char *text)
{
    if (text == NULL || text[0] == '\0')
        return;
    fputs(text, to);
    if (text[strlen(text) - 1] != '\n')
        fputc('\n', to);
    fflush(to);
}

typedef struct tf_ctx {
    const char *module; /* directory the commands run in */
    char *binary;
    cfo_strv env;
} tf_ctx;

/* Runs one terraform command; echo_out prints its stdout (the plan people
 * read), stderr is always passed on. Returns CFO_OK with *exit_code set. */
static cfo_err tf_run(tf_ctx *c, char *const *args, size_t max_out, bool echo_out, cfo_capture *cap,
                      cfo_diag *d)
{
    cfo_strv argv;
    cfo_strv_init(&argv);
    cfo_strv_push(&argv, c->binary);
    for (size_t i = 0; args[i] != NULL; i++)
        cfo_strv_push(&argv, args[i]);
    memset(cap, 0, sizeof *cap);
    fflush(stdout);
    cfo_err err = cfo_exec_capture(argv.v, c->module, c->env.v, 0, max_out, cap, d);
    if (err != CFO_OK)
        cfo_diag_prefix(d, "terraform %s in %s", args[0], c->module);
    else {
        if (echo_out)
            echo(stdout, cap->out);
        echo(stderr, cap->err);
    }
    cfo_strv_fini(&argv);
    return err;
}

/* Terraform's environment for one module: a plugin cache shared by every
 * module, the module's working data in tmp, no prompts, no phoning home. */
static void tf_environment(tf_ctx *c, const char *tmp)
{
    cfo_diag cache_diag = {{0}};
    char *cache = plugin_cache_dir(&cache_diag);
    if (cache == NULL)
        fprintf(stderr, "infra_drift: no shared plugin cache: %s\n",
                cache_diag.msg[0] ? cache_diag.msg : "neither XDG_CACHE_HOME nor HOME is set");
    if (cache != NULL)
        cfo_strv_push_owned(&c->env, cfo_xasprintf("TF_PLUGIN_CACHE_DIR=%s", cache));
    free(cache);
    cfo_strv_push_owned(&c->env, cfo_xasprintf("TF_DATA_DIR=%s/data", tmp));
    cfo_strv_pushl(&c->env, "TF_IN_AUTOMATION=1", "TF_INPUT=0");
    if (getenv("CHECKPOINT_DISABLE") == NULL)
        cfo_strv_push(&c->env, "CHECKPOINT_DISABLE=1");
}

/* Fills res from the plan: the resources checked, those that drifted. */
static cfo_fuzz_verdict drift_verdict(const char *module, const cfo_tfplan *tp, int plan_exit,
                                      cfo_fuzz_result *res)
{
    res->count = tp->resources;
    res->findings = tp->changed;
    for (size_t i = 0; i < tp->addresses.n; i++)
        printf("infra_drift: %s: drift: %s [%s]\n", module, tp->addresses.v[i], tp->actions.v[i]);
    cfo_buf_reset(&res->summary);
    if (tp->changed > 0)
        cfo_buf_printf(&res->summary, "%s: %lld of %lld resources drifted", module,
                       (long long)tp->changed, (long long)tp->resources);
    else
        cfo_buf_printf(&res->summary, "%s: no drift in %lld resource%s%s", module,
                       (long long)tp->resources, tp->resources == 1 ? "" : "s",
                       plan_exit == 2 ? " (only outputs would change)" : "");
    return tp->changed > 0 ? CFO_FUZZ_FAIL : CFO_FUZZ_PASS;
}

static cfo_fuzz_verdict drift_run(const cfo_fuzzer *f, const char *target, cfo_fuzz_result *res,
                                  cfo_diag *d)
{
    res->count = 0;
    res->findings = 0;
    if (cfo_target_validate(target, d) != CFO_OK || check_not_skipped(target, d) != CFO_OK ||
        check_root(f, d) != CFO_OK)
        return CFO_FUZZ_ERROR;

    cfo_fuzz_verdict verdict = CFO_FUZZ_ERROR;
    tf_ctx c = {0};
    cfo_strv_init(&c.env);
    char *module = f->root[0] ? cfo_xasprintf("%s/%s", f->root, target) : cfo_xstrdup(target);
    char *tmp = NULL, *plan = NULL;
    cfo_capture cap;
    memset(&cap, 0, sizeof cap);
    cfo_tfplan tp;
    cfo_tfplan_init(&tp);
    c.module = module;

    struct stat st;
    if (stat(module, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cfo_diag_set(d, CFO_ENOTFOUND, "module %s: no such directory", module);
        goto out;
    }
    if (!dir_has_tf(module)) {
        cfo_diag_set(d, CFO_ENOTFOUND, "module %s: no *.tf files, not a root module", module);
        goto out;
    }
    if (find_binary(f->terraform, &c.binary, d) != CFO_OK)
        goto out;

    /* Terraform's working data and the plan stay outside the worktree, so a
     * run leaves the checkout as it found it. */
    tmp = cfo_make_temp_dir("cfo-tf", d);
    if (tmp == NULL)
        goto out;
    plan = cfo_xasprintf("%s/plan.tfplan", tmp);

    tf_environment(&c, tmp);

    printf("infra_drift: %s: terraform init\n", module);
    char *init_args[] = {"init", "-input=false", "-no-color", NULL};
    if (tf_run(&c, init_args, TF_MAX_TEXT_OUT, false, &cap, d) != CFO_OK)
        goto out;
    if (cap.exit_code != 0) {
        echo(stdout, cap.out);
        cfo_diag_set(d, CFO_ECHILD, "terraform init failed in %s (exit %d):\n%s", module,
                     cap.exit_code, err_tail(cap.err));
        goto out;
    }
    capture_reset(&cap);

    printf("infra_drift: %s: terraform plan\n", module);
    char *out_arg = cfo_xasprintf("-out=%s", plan);
    char *plan_args[] = {"plan",        "-input=false", "-no-color", "-detailed-exitcode",
                         "-lock=false", out_arg,        NULL};
    cfo_err err = tf_run(&c, plan_args, TF_MAX_TEXT_OUT, true, &cap, d);
    free(out_arg);
    if (err != CFO_OK)
        goto out;
    int plan_exit = cap.exit_code;
    if (plan_exit != 0 && plan_exit != 2) {
        cfo_diag_set(d, CFO_ECHILD, "terraform plan failed in %s (exit %d):\n%s", module, plan_exit,
                     err_tail(cap.err));
        goto out;
    }
    capture_reset(&cap);

    char *show_args[] = {"show", "-json", plan, NULL};
    if (tf_run(&c, show_args, CFO_TFPLAN_MAX_JSON, false, &cap, d) != CFO_OK)
        goto out;
    if (cap.exit_code != 0) {
        cfo_diag_set(d, CFO_ECHILD, "terraform show failed in %s (exit %d):\n%s", module,
                     cap.exit_code, err_tail(cap.err));
        goto out;
    }
    if (cfo_tfplan_count(cap.out ? cap.out : "", cap.out_len, &tp, d) != CFO_OK) {
        cfo_diag_prefix(d, "module %s", module);
        goto out;
    }

    verdict = drift_verdict(module, &tp, plan_exit, res);
    printf("infra_drift: %s\n", res->summary.data);
    fflush(stdout);
out:
    cfo_tfplan_fini(&tp);
    cfo_capture_fini(&cap);
    if (tmp != NULL)
        cfo_remove_tree(tmp, NULL);
    cfo_free_all(tmp, plan, module, c.binary);
    cfo_strv_fini(&c.env);
    return verdict;
}

const cfo_fuzz_impl cfo_fuzz_impl_infra_drift = {
    .kind = CFO_KIND_INFRA_DRIFT,
    .discover = drift_discover,
    .run = drift_run,
};
