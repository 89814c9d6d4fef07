/* cfo_changes.c -- which targets a diff touches: Terraform module graphs,
 * exec fuzzers' path maps, and an optional focus command. */
#include "cfo_changes.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "cfo_covcheck.h"
#include "cfo_exec.h"
#include "cfo_log.h"

#define GIT_TIMEOUT_MS (10 * 60 * 1000)
#define DIFF_MAX (64u << 20)
#define FOCUS_MAX_OUT (1u << 20)
#define MODULE_DEPTH_MAX 64

void cfo_change_set_fini(cfo_change_set *cs)
{
    cfo_strv_fini(&cs->files);
    cfo_strv_fini(&cs->focus);
}

cfo_err cfo_focus_parse(const char *json, size_t len, cfo_strv *focus, cfo_diag *d)
{
    if (!cfo_json_depth_ok(json, len, 16))
        return cfo_diag_set(d, CFO_EPARSE, "focus output nests too deep");
    char *text = cfo_xstrndup(json, len);
    char err[256] = "";
    yajl_val root = yajl_tree_parse(text, err, sizeof err);
    free(text);
    cfo_err rc = CFO_OK;
    if (root == NULL) {
        err[strcspn(err, "\n")] = '\0';
        return cfo_diag_set(d, CFO_EPARSE, "focus output is not JSON: %s", err);
    }
    const char *path[] = {"targets", NULL};
    yajl_val targets = YAJL_IS_OBJECT(root) ? yajl_tree_get(root, path, yajl_t_any) : NULL;
    if (targets == NULL || !YAJL_IS_ARRAY(targets)) {
        rc = cfo_diag_set(d, CFO_EPARSE,
                          "focus output must be an object with a \"targets\" "
                          "array");
        goto out;
    }
    for (size_t i = 0; i < YAJL_GET_ARRAY(targets)->len; i++) {
        yajl_val v = YAJL_GET_ARRAY(targets)->values[i];
        const char *s = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
        if (s == NULL || s[0] == '\0' || strlen(s) > 1100) {
            rc = cfo_diag_set(d, CFO_EPARSE, "focus output: targets[%zu] is not a target name", i);
            goto out;
        }
        cfo_strv_push(focus, s);
    }
out:
    yajl_tree_free(root);
    return rc;
}

static void run_focus(const char *top, const char *ref, const char *sha, const cfo_config *cfg,
                      cfo_change_set *out)
{
    char range[200];
    snprintf(range, sizeof range, "%s...%s", ref, sha);
    char *diff_argv[] = {"git", "diff", range, NULL};
    cfo_capture diff;
    cfo_diag d = {{0}};
    if (cfo_exec_capture(diff_argv, top, NULL, GIT_TIMEOUT_MS, DIFF_MAX, &diff, &d) != CFO_OK ||
        diff.exit_code != 0) {
        cfo_warn("focus_command: cannot get the diff: %s", d.msg[0] ? d.msg : "git diff failed");
        cfo_capture_fini(&diff);
        return;
    }
    char *dir = cfo_make_temp_dir("cfo-diff", &d);
    char *tmp = dir ? cfo_xasprintf("%s/diff", dir) : NULL;
    int fd = tmp ? open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
    bool written = fd >= 0 && write(fd, diff.out, diff.out_len) == (ssize_t)diff.out_len;
    if (fd >= 0)
        close(fd);
    cfo_capture_fini(&diff);
    if (!written) {
        cfo_warn("focus_command: cannot write the diff: %s", dir ? tmp : d.msg);
        if (dir != NULL)
            cfo_remove_tree(dir, NULL);
        free(tmp);
        free(dir);
        return;
    }
    cfo_capture cap;
    cfo_err err = cfo_exec_capture_in(cfg->focus_argv.v, top, tmp, NULL, GIT_TIMEOUT_MS,
                                      FOCUS_MAX_OUT, &cap, &d);
    cfo_remove_tree(dir, NULL);
    free(tmp);
    free(dir);
    if (err == CFO_OK && cap.exit_code != 0)
        err = cfo_diag_set(&d, CFO_ECHILD, "exited with status %d", cap.exit_code);
    if (err == CFO_OK)
        err = cfo_focus_parse(cap.out, cap.out_len, &out->focus, &d);
    if (err != CFO_OK)
        cfo_warn("focus_command %s: %s; the built-in rules decide alone", cfg->focus_argv.v[0],
                 d.msg);
    else
        cfo_info("focus_command named %zu target%s", out->focus.n, cfo_plural(out->focus.n));
    cfo_capture_fini(&cap);
}

/* Runs git with argv in top; its exit status, or -1 when it could not run.
 * Its output is thrown away. */
static int git_status(const char *top, char *const *argv)
{
    cfo_capture cap;
    memset(&cap, 0, sizeof cap);
    if (cfo_exec_capture(argv, top, NULL, GIT_TIMEOUT_MS, DIFF_MAX, &cap, NULL) != CFO_OK) {
        cfo_capture_fini(&cap);
        return -1;
    }
    int status = cap.exit_code;
    cfo_capture_fini(&cap);
    return status;
}

/* The diff needs ref to be a commit and its merge base with sha to be in
 * the clone. A shallow clone (a CI checkout's default) is deepened from its
 * remote when it can be; otherwise the error says what to change. */
static cfo_err check_base(const char *top, const char *ref, const char *sha, cfo_diag *d)
{
    char *commit = cfo_xasprintf("%s^{commit}", ref);
    char *verify[] = {"git", "rev-parse", "--verify", "--quiet", commit, NULL};
    int known = git_status(top, verify);
    free(commit);
    if (known != 0)
        return cfo_diag_set(d, CFO_EINVAL,
                            "--changed-since %s: no such commit, branch or tag in %s", ref, top);
    char *base[] = {"git", "merge-base", (char *)ref, (char *)sha, NULL};
    if (git_status(top, base) == 0)
        return CFO_OK;
    char *is_shallow[] = {"git", "rev-parse", "--is-shallow-repository", NULL};
    cfo_capture cap;
    memset(&cap, 0, sizeof cap);
    bool shallow =
        cfo_exec_capture(is_shallow, top, NULL, GIT_TIMEOUT_MS, 64, &cap, NULL) == CFO_OK &&
        cap.exit_code == 0 && cap.out != NULL && strncmp(cap.out, "true", 4) == 0;
    cfo_capture_fini(&cap);
    if (!shallow)
        return cfo_diag_set(d, CFO_EINVAL, "--changed-since %s: it has no common history with %s",
                            ref, sha);
    cfo_info("--changed-since %s: the clone is shallow; fetching the rest of its history", ref);
    char *unshallow[] = {"git", "fetch", "--quiet", "--unshallow", NULL};
    if (git_status(top, unshallow) == 0 && git_status(top, base) == 0)
        return CFO_OK;
    return cfo_diag_set(d, CFO_EINVAL,
                        "--changed-since %s: the clone is shallow and the history that joins %s "
                        "to %s is not in it, nor could it be fetched: check out the whole "
                        "history (actions/checkout with fetch-depth: 0, or git fetch --unshallow)",
                        ref, ref, sha);
}

cfo_err cfo_changes_load(const char *top, const char *ref, const char *sha, const cfo_config *cfg,
                         cfo_change_set *out, cfo_diag *d)
{
    memset(out, 0, sizeof *out);
    if (ref[0] == '-' || ref[0] == '\0')
        return cfo_diag_set(d, CFO_EINVAL, "invalid --changed-since '%s'", ref);
    cfo_err base = check_base(top, ref, sha, d);
    if (base != CFO_OK)
        return base;
    cfo_strv_init(&out->files);
    cfo_strv_init(&out->focus);
    char range[200];
    snprintf(range, sizeof range, "%s...%s", ref, sha);
    char *argv[] = {"git", "diff", "--name-only", "--no-renames", range, NULL};
    cfo_capture cap;
    cfo_err err = cfo_exec_capture(argv, top, NULL, GIT_TIMEOUT_MS, DIFF_MAX, &cap, d);
    if (err == CFO_OK && cap.exit_code != 0)
        err = cfo_diag_set(d, CFO_EINVAL, "--changed-since %s: %s", ref,
                           cap.err && cap.err[0] ? cap.err : "git diff failed");
    if (err == CFO_OK) {
        char *save = NULL;
        for (char *line = strtok_r(cap.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
            if (line[0] != '\0')
                cfo_strv_push(&out->files, line);
    }
    cfo_capture_fini(&cap);
    if (err != CFO_OK) {
        /* git's message ends with a newline */
        size_t n = strlen(d->msg);
        while (n > 0 && d->msg[n - 1] == '\n')
            d->msg[--n] = '\0';
        cfo_change_set_fini(out);
        return err;
    }
    if (cfg->focus_argv.n > 0)
        run_focus(top, ref, sha, cfg, out);
    return CFO_OK;
}

/* Collapses "." and ".." of a relative path; NULL when it leaves the root. */
static char *normalize(const char *path)
{
    cfo_strv parts;
    cfo_strv_init(&parts);
    char *copy = cfo_xstrdup(path), *save = NULL;
    bool escaped = false;
    for (char *p = strtok_r(copy, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (strcmp(p, ".") == 0)
            continue;
        if (strcmp(p, "..") == 0) {
            if (parts.n == 0) {
                escaped = true;
                break;
            }
            free(parts.v[--parts.n]);
            parts.v[parts.n] = NULL;
            continue;
        }
        cfo_strv_push(&parts, p);
    }
    free(copy);
    char *out = NULL;
    if (!escaped) {
        cfo_buf b;
        cfo_buf_init(&b);
        for (size_t i = 0; i < parts.n; i++)
            cfo_buf_printf(&b, "%s%s", i ? "/" : "", parts.v[i]);
        out = cfo_buf_steal(&b);
    }
    cfo_strv_fini(&parts);
    return out;
}

static bool under(const char *file, const char *moddir)
{
    size_t n = strlen(moddir);
    return n == 0 || (strncmp(file, moddir, n) == 0 && file[n] == '/');
}

/* Adds to mods the local modules moddir's *.tf files use, transitively. */
static void module_closure(const char *dir, const char *moddir, cfo_strv *mods, int depth)
{
    if (cfo_strv_contains(mods, moddir) || depth > MODULE_DEPTH_MAX || mods->n > 1024)
        return;
    cfo_strv_push(mods, moddir);
    char *path = cfo_xasprintf("%s/%s", dir, moddir);
    DIR *dh = opendir(path);
    if (dh == NULL) {
        free(path);
        return;
    }
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 4 || strcmp(de->d_name + len - 3, ".tf") != 0)
            continue;
        char *file = cfo_xasprintf("%s/%s", path, de->d_name);
        cfo_buf text;
        cfo_buf_init(&text);
        if (cfo_read_file(file, 4u << 20, &text, NULL) == CFO_OK && text.data != NULL) {
            /* source = "./x" or "../x": local modules; registry and git
             * sources are not in this repository. */
            for (char *p = strstr(text.data, "source"); p; p = strstr(p + 6, "source")) {
                char *q = p + 6;
                while (*q == ' ' || *q == '\t')
                    q++;
                if (*q++ != '=')
                    continue;
                while (*q == ' ' || *q == '\t')
                    q++;
                if (*q++ != '"' || (strncmp(q, "./", 2) != 0 && strncmp(q, "../", 3) != 0))
                    continue;
                char *end = strchr(q, '"');
                if (end == NULL)
                    continue;
                char *rel = cfo_xstrndup(q, (size_t)(end - q));
                char *joined = cfo_xasprintf("%s/%s", moddir, rel);
                char *child = normalize(joined);
                if (child != NULL)
                    module_closure(dir, child, mods, depth + 1);
                free(child);
                free(joined);
                free(rel);
            }
        }
        cfo_buf_fini(&text);
        free(file);
    }
    closedir(dh);
    free(path);
}

static bool focused(const cfo_change_set *cs, const char *fuzzer, const char *target)
{
    for (size_t i = 0; i < cs->focus.n; i++) {
        const char *s = cs->focus.v[i];
        const char *colon = strchr(s, ':');
        if (colon == NULL ? strcmp(s, target) == 0
                          : (strncmp(s, fuzzer, (size_t)(colon - s)) == 0 &&
                             fuzzer[colon - s] == '\0' && strcmp(colon + 1, target) == 0))
            return true;
    }
    return false;
}

bool cfo_changes_touch(const cfo_change_set *cs, const cfo_fuzzer *f, const char *dir,
                       const char *target)
{
    if (focused(cs, f->name, target))
        return true;
    switch (f->kind) {
    case CFO_KIND_CANARY:
        return true;
    /* An engine's target is built from much of the tree: only its coverage
     * tells which files it runs. */
    case CFO_KIND_LIBFUZZER:
    case CFO_KIND_AFL:
    case CFO_KIND_GOFUZZ:
        return !cfo_fuzzer_has_coverage(f) || cs->prior == NULL ||
               cfo_covcheck_touches(cs->prior, f, target, &cs->files);
    case CFO_KIND_INFRA_DRIFT: {
        char *joined = f->root[0] ? cfo_xasprintf("%s/%s", f->root, target) : cfo_xstrdup(target);
        char *moddir = normalize(joined);
        free(joined);
        if (moddir == NULL)
            return true;
        cfo_strv mods;
        cfo_strv_init(&mods);
        module_closure(dir, moddir, &mods, 0);
        bool touched = false;
        for (size_t i = 0; i < cs->files.n && !touched; i++)
            for (size_t m = 0; m < mods.n && !touched; m++)
                touched = under(cs->files.v[i], mods.v[m]);
        cfo_strv_fini(&mods);
        free(moddir);
        return touched;
    }
    case CFO_KIND_EXEC:
        if (f->path_globs.n == 0)
            return true;
        for (size_t g = 0; g < f->path_globs.n; g++) {
            if (strcmp(f->path_targets.v[g], target) != 0)
                continue;
            /* No FNM_PATHNAME: "*" and "**" both reach into subdirectories. */
            for (size_t i = 0; i < cs->files.n; i++)
                if (fnmatch(f->path_globs.v[g], cs->files.v[i], 0) == 0)
                    return true;
        }
        return false;
    }
    return true;
}
