/* cfo_prune.c -- merges a stored corpus through the engine's minimizer and
 * remembers the size it left, so tasks prune it again once it has grown. */
#include "cfo_prune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfo_corpus.h"
#include "cfo_util.h"

#define MARKER_PREFIX "minimized-"

/* The recorded size (-1: none) and the marker names holding it. */
static cfo_err read_marker(cfo_blobdir *state, long long *size, cfo_strv *names, cfo_diag *d)
{
    cfo_strv all;
    cfo_strv_init(&all);
    *size = -1;
    cfo_err err = cfo_blobdir_list(state, 1000, &all, d);
    for (size_t i = 0; err == CFO_OK && i < all.n; i++) {
        const char *n = all.v[i];
        if (strncmp(n, MARKER_PREFIX, strlen(MARKER_PREFIX)) != 0)
            continue;
        char *end = NULL;
        long long v = strtoll(n + strlen(MARKER_PREFIX), &end, 10);
        if (end != NULL && *end == '\0' && v >= 0) {
            cfo_strv_push(names, n);
            if (v > *size)
                *size = v;
        }
    }
    cfo_strv_fini(&all);
    return err;
}

/* Opens *state, the folder beside the corpora where the size after the last
 * minimization of target is kept (never among a corpus's inputs), and reads
 * that size (-1: none) and the marker names holding it. */
static cfo_err open_state(const cfo_fuzzer *f, const char *target, cfo_blobdir **state,
                          long long *size, cfo_strv *names, cfo_diag *d)
{
    cfo_err err = cfo_engine_target_folder(f, "corpus-state", target, state, d);
    return err == CFO_OK ? read_marker(*state, size, names, d) : err;
}

/* Records size as the corpus's minimized size, replacing older records. */
static cfo_err write_marker(const cfo_fuzzer *f, const char *target, size_t size, cfo_diag *d)
{
    cfo_blobdir *state = NULL;
    cfo_strv old;
    cfo_strv_init(&old);
    long long prev = -1;
    cfo_err err = open_state(f, target, &state, &prev, &old, d);
    char name[64];
    snprintf(name, sizeof name, MARKER_PREFIX "%zu", size);
    bool created = false;
    if (err == CFO_OK)
        err = cfo_blobdir_put_new_data(state, name, "", 0, &created, d);
    for (size_t i = 0; err == CFO_OK && i < old.n; i++)
        if (strcmp(old.v[i], name) != 0)
            err = cfo_blobdir_delete(state, old.v[i], d);
    cfo_strv_fini(&old);
    cfo_blobdir_destroy(&state);
    return err;
}

cfo_err cfo_prune_due(const cfo_fuzzer *f, const char *target, size_t stored, bool *due,
                      size_t *last, cfo_diag *d)
{
    *due = false;
    *last = 0;
    if (f->prune_factor <= 0)
        return CFO_OK;
    cfo_blobdir *state = NULL;
    cfo_strv names;
    cfo_strv_init(&names);
    long long size = -1;
    cfo_err err = open_state(f, target, &state, &size, &names, d);
    cfo_strv_fini(&names);
    cfo_blobdir_destroy(&state);
    if (err != CFO_OK)
        return err;
    if (size < 0)
        return stored > 0 ? write_marker(f, target, stored, d) : CFO_OK;
    *last = (size_t)size;
    /* An empty base (everything was dropped) grows past any factor at once:
     * count it as one input. */
    *due = stored > (size_t)f->prune_factor * (size > 0 ? (size_t)size : 1);
    return CFO_OK;
}

cfo_err cfo_prune_corpus(const cfo_fuzzer *f, const cfo_engine_ops *ops, const char *target,
                         const char *target_path, cfo_blobdir *remote, int64_t timeout_ms,
                         cfo_prune_stats *st, cfo_diag *d)
{
    memset(st, 0, sizeof *st);
    cfo_strv seen, keep;
    cfo_strv_init(&seen);
    cfo_strv_init(&keep);
    char *all = NULL, *min = NULL;
    char *work = cfo_make_temp_dir("cfo-prune", d);
    cfo_err err = work != NULL ? CFO_OK : CFO_EIO;
    if (err != CFO_OK)
        goto out;
    all = cfo_xasprintf("%s/all", work);
    min = cfo_xasprintf("%s/min", work);
    /* Only names of this listing are ever deleted: an input uploaded after
     * it is not in the merge and must stay. */
    if ((err = cfo_blobdir_list(remote, CFO_CORPUS_MAX_FILES, &seen, d)) != CFO_OK)
        goto out;
    cfo_strv_sort(&seen);
    st->before = seen.n;
    cfo_corpus_stats cs = {0};
    if ((err = cfo_corpus_pull(remote, all, &cs, d)) != CFO_OK ||
        (err = cfo_mkdir_p(min, d)) != CFO_OK || seen.n == 0)
        goto out;
    if ((err = ops->merge(f, target_path, all, min, timeout_ms, d)) != CFO_OK)
        goto out;
    cfo_corpus_content_names(min, &keep);
    if (keep.n == 0) {
        err =
            cfo_diag_set(d, CFO_ECHILD, "the merge kept no input of %zu; nothing deleted", seen.n);
        goto out;
    }
    st->after = keep.n;
    memset(&cs, 0, sizeof cs);
    if ((err = cfo_corpus_push(remote, min, &seen, &cs, d)) != CFO_OK)
        goto out;
    st->uploaded = cs.transferred;
    for (size_t i = 0; i < seen.n; i++) {
        if (cfo_strv_sorted_has(&keep, seen.v[i]))
            continue;
        if ((err = cfo_blobdir_delete(remote, seen.v[i], d)) != CFO_OK)
            goto out;
        st->deleted++;
    }
    err = write_marker(f, target, keep.n, d);
out:
    if (work != NULL)
        cfo_remove_tree(work, NULL);
    free(work);
    free(all);
    free(min);
    cfo_strv_fini(&seen);
    cfo_strv_fini(&keep);
    return err;
}
