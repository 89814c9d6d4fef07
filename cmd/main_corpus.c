/* main_corpus.c -- cfo-corpus: lists and minimizes the stored corpus of an
 * engine fuzzer's target. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfo_blobdir.h"
#include "cfo_cmdline.h"
#include "cfo_cmdword.h"
#include "cfo_corpus.h"
#include "cfo_engine.h"
#include "cfo_log.h"
#include "cfo_prune.h"

#define PROG "cfo-corpus"
#define EXIT_USAGE CFO_EXIT_USAGE
#define EXIT_ERROR CFO_EXIT_HARNESS

static const char usage_text[] =
    "Usage: cfo-corpus [--config FILE] ls FUZZER TARGET\n"
    "       cfo-corpus [--config FILE] minimize FUZZER TARGET\n"
    "\n"
    "Works on the stored corpus of TARGET of FUZZER (a libfuzzer or afl fuzzer):\n"
    "<corpus>/corpus/<FUZZER>/<target>/, where <corpus> is the fuzzer's corpus key\n"
    "(default: the folder of the dataset).\n"
    "\n"
    "  ls          print the names of the stored inputs, one per line, sorted\n"
    "  minimize    run from the root of a checkout: builds the target (the\n"
    "              fuzzer's build command, once per checkout), downloads the\n"
    "              corpus, merges it into the smallest set with the same coverage\n"
    "              (libFuzzer -merge=1, afl-cmin), uploads what the merge made\n"
    "              that storage lacks and deletes the inputs it dropped. Inputs\n"
    "              another run uploads meanwhile are never deleted: only names of\n"
    "              the listing that was merged are.\n"
    "  --config FILE   the configuration; default $CFO_CONFIG, else ./cfo.ini\n"
    "  -h, --help      show this help\n"
    "  --version       print the version\n"
    "\n"
    "Exit status: 0 done, 2 usage or configuration error, 3 error.\n";

static int minimize(const cfo_fuzzer *f, const cfo_engine_ops *ops, const char *target)
{
    cfo_diag d = {{0}};
    int rc = EXIT_ERROR;
    cfo_blobdir *remote = NULL;
    char *tpath = cfo_xasprintf("%s/%s", f->targets_dir, target);
    cfo_prune_stats st = {0};
    if (cfo_engine_build(f, 0, &d) != CFO_OK ||
        cfo_engine_target_folder(f, "corpus", target, &remote, &d) != CFO_OK)
        goto fail;
    if (access(tpath, X_OK) != 0) {
        cfo_diag_set(&d, CFO_ENOTFOUND, "no target %s: %s is not an executable", target, tpath);
        goto fail;
    }
    if (cfo_prune_corpus(f, ops, target, tpath, remote, 0, &st, &d) != CFO_OK)
        goto fail;
    if (st.before == 0)
        printf("%s: empty corpus, nothing to minimize\n", cfo_blobdir_display(remote));
    else
        printf("%s: %zu inputs minimized to %zu (%zu uploaded, %zu deleted)\n",
               cfo_blobdir_display(remote), st.before, st.after, st.uploaded, st.deleted);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, PROG ": minimize %s %s: %s\n", f->name, target, d.msg);
out:
    free(tpath);
    cfo_blobdir_destroy(&remote);
    return rc;
}

static int list(const cfo_fuzzer *f, const char *target)
{
    cfo_diag d = {{0}};
    cfo_blobdir *remote = NULL;
    cfo_strv names;
    cfo_strv_init(&names);
    int rc = EXIT_ERROR;
    if (cfo_engine_target_folder(f, "corpus", target, &remote, &d) == CFO_OK &&
        cfo_blobdir_list(remote, CFO_CORPUS_MAX_FILES, &names, &d) == CFO_OK) {
        for (size_t i = 0; i < names.n; i++)
            printf("%s\n", names.v[i]);
        rc = fflush(stdout) == 0 ? 0 : EXIT_ERROR;
    } else {
        fprintf(stderr, PROG ": ls %s %s: %s\n", f->name, target, d.msg);
    }
    cfo_strv_fini(&names);
    cfo_blobdir_destroy(&remote);
    return rc;
}

int main(int argc, char **argv)
{
    cfo_log_init(PROG, CFO_LOG_WARN);
    const char *config_path = NULL;
    const char *pos[3] = {NULL, NULL, NULL};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cfo_cmdline_answers(PROG, a, usage_text)) {
            return CFO_EXIT_OK;
        } else if (cfo_cmdword_config(PROG, argc, argv, &i, &config_path)) {
            if (config_path == NULL)
                return CFO_EXIT_USAGE;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cfo_usage_error(PROG, "unknown option '%s'", a);
        } else if (npos == 3) {
            return cfo_usage_error(PROG, "unexpected argument '%s'", a);
        } else {
            pos[npos++] = a;
        }
    }
    if (npos == 0)
        return cfo_usage_error(PROG, "no command (ls or minimize)");
    if (strcmp(pos[0], "ls") != 0 && strcmp(pos[0], "minimize") != 0)
        return cfo_usage_error(PROG, "unknown command '%s' (ls or minimize)", pos[0]);
    if (npos < 3)
        return cfo_usage_error(PROG, "%s needs FUZZER and TARGET", pos[0]);
    cfo_diag d = {{0}};
    if (cfo_target_validate(pos[2], &d) != CFO_OK || strchr(pos[2], '/') != NULL)
        return cfo_usage_error(PROG, "bad target '%s' (a target binary's name)", pos[2]);
    cfo_config *cfg = NULL;
    if (cfo_config_locate(config_path, ".", &cfg, &d) != CFO_OK) {
        fprintf(stderr, PROG ": %s\n", d.msg);
        return EXIT_USAGE;
    }
    int rc;
    const cfo_fuzzer *f = cfo_config_find(cfg, pos[1]);
    const cfo_engine_ops *ops = f ? cfo_engine_ops_for(f->kind) : NULL;
    if (f == NULL) {
        fprintf(stderr, PROG ": unknown fuzzer '%s'\n", pos[1]);
        rc = EXIT_USAGE;
    } else if (ops == NULL) {
        fprintf(stderr, PROG ": fuzzer %s is of kind %s, which keeps no corpus\n", f->name,
                cfo_kind_info_of(f->kind)->name);
        rc = EXIT_USAGE;
    } else if (strcmp(pos[0], "ls") == 0) {
        rc = list(f, pos[2]);
    } else {
        rc = minimize(f, ops, pos[2]);
    }
    cfo_config_destroy(&cfg);
    return rc;
}
