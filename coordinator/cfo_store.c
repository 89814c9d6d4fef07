/* cfo_store.c -- loading a dataset from storage and the lock-read-merge-write commit loop. */
#include "cfo_store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfo_dataset.h"
#include "cfo_findings.h"
#include "cfo_lifecycle.h"
#include "cfo_merge.h"

#define COMMIT_MAX_ATTEMPTS 8

/* A document's findings and strategies as JSON text ("" when absent). */
typedef struct cfo_doc_extra {
    cfo_buf findings;
    cfo_buf strategies;
} cfo_doc_extra;

static void extra_init(cfo_doc_extra *x)
{
    cfo_buf_init(&x->findings);
    cfo_buf_init(&x->strategies);
}

static void extra_fini(cfo_doc_extra *x)
{
    cfo_buf_fini(&x->findings);
    cfo_buf_fini(&x->strategies);
}

/* What one read of the dataset produced. */
typedef struct load_ctx {
    cfo_dataset_parser *parser;
    bool parse_failed; /* the error came from the parser, not from storage */
} load_ctx;

static cfo_err parse_sink(void *ctx, const void *data, size_t len, cfo_diag *d)
{
    load_ctx *lc = ctx;
    cfo_err err = cfo_dataset_parser_feed(lc->parser, data, len, d);
    if (err != CFO_OK)
        lc->parse_failed = true;
    return err;
}

/* Rewrites the parser's "<display>: record 3: ..." as
 * "dataset <display> is not valid: record 3: ...<suffix>". */
static cfo_err invalid(cfo_storage *st, cfo_diag *d, const char *suffix)
{
    if (d == NULL)
        return CFO_EPARSE;
    char msg[sizeof d->msg];
    const char *m = d->msg;
    size_t n = strlen(st->display);
    if (strncmp(m, st->display, n) == 0 && strncmp(m + n, ": ", 2) == 0)
        m += n + 2;
    snprintf(msg, sizeof msg, "%s", m);
    return cfo_diag_set(d, CFO_EPARSE, "dataset %s is not valid: %s%s", st->display, msg, suffix);
}

/* Reads and parses the dataset into `into`, appending; on failure `into` is
 * as it was. A missing dataset is CFO_ENOTFOUND with token "0". */
static cfo_err load(cfo_storage *st, cfo_recset *into, cfo_dataset_meta *meta, char *token,
                    const char *suffix, cfo_doc_extra *extra, cfo_diag *d)
{
    memset(meta, 0, sizeof *meta);
    size_t n0 = into->n;
    load_ctx lc = {.parser = cfo_dataset_parser_new(st->display, into)};
    if (extra != NULL)
        cfo_dataset_parser_capture(lc.parser, &extra->findings, &extra->strategies);
    cfo_err err = cfo_storage_read(st, parse_sink, &lc, token, d);
    if (err == CFO_OK) {
        err = cfo_dataset_parser_finish(lc.parser, meta, d);
        if (err != CFO_OK)
            lc.parse_failed = true;
    }
    cfo_dataset_parser_destroy(&lc.parser);
    if (err != CFO_OK) {
        into->n = n0;
        memset(meta, 0, sizeof *meta);
        if (lc.parse_failed)
            return invalid(st, d, suffix);
    }
    return err;
}

cfo_err cfo_store_load(cfo_storage *st, cfo_recset *into, int *window, cfo_diag *d)
{
    cfo_dataset_meta meta;
    char token[CFO_TOKEN_MAX];
    *window = 0;
    cfo_err err = load(st, into, &meta, token, "", NULL, d);
    if (err == CFO_ENOTFOUND)
        return CFO_OK;
    if (err == CFO_OK)
        *window = meta.window;
    return err;
}

cfo_err cfo_store_load_findings(cfo_storage *st, cfo_findings *fs, cfo_diag *d)
{
    cfo_recset *rs = cfo_recset_new();
    cfo_dataset_meta meta;
    char token[CFO_TOKEN_MAX];
    cfo_doc_extra x;
    extra_init(&x);
    cfo_err err = load(st, rs, &meta, token, "", &x, d);
    if (err == CFO_ENOTFOUND)
        err = CFO_OK;
    else if (err == CFO_OK && x.findings.len > 0)
        err = cfo_findings_parse(x.findings.data, x.findings.len, st->display, fs, d);
    extra_fini(&x);
    cfo_recset_destroy(&rs);
    return err;
}

/* The strategies to record: the document's, with config's for the fuzzers
 * it names. */
static void record_strategies(cfo_strategies *s, const cfo_config *config)
{
    for (size_t i = 0; config != NULL && i < config->nfuzzers; i++)
        cfo_strategies_set(s, config->fuzzers[i].name, config->fuzzers[i].merge);
}

static int choose_window(int window_override, const cfo_config *config, int dataset_window)
{
    if (window_override > 0)
        return window_override;
    if (config != NULL && config->window_set)
        return config->window;
    if (dataset_window > 0)
        return dataset_window;
    return CFO_DEFAULT_WINDOW;
}

/* One lock-read-merge-write round. When no new record survives the merge and
 * no old one is dropped, the dataset is left alone (and keeps its version). */
static cfo_err commit_round(cfo_storage *st, const cfo_recset *records, const cfo_findings *more,
                            const cfo_config *config, int window_override, cfo_commit_stats *stats,
                            cfo_buf *events, cfo_diag *d)
{
    cfo_err err = cfo_storage_lock(st, d);
    if (err != CFO_OK)
        return err;
    cfo_recset *rs = cfo_recset_new();
    cfo_buf out;
    cfo_buf_init(&out);
    cfo_doc_extra x;
    extra_init(&x);
    cfo_findings fs;
    cfo_findings_init(&fs);
    cfo_strategies strat;
    cfo_strategies_init(&strat);
    cfo_finding_events ev;
    cfo_finding_events_init(&ev);
    if (events != NULL)
        cfo_buf_reset(events);

    cfo_dataset_meta meta;
    char token[CFO_TOKEN_MAX];
    err = load(st, rs, &meta, token, "; it was not modified", &x, d);
    bool exists = err == CFO_OK;
    if (err == CFO_ENOTFOUND)
        err = CFO_OK;
    if (err != CFO_OK)
        goto out;
    if (x.findings.len > 0)
        err = cfo_findings_parse(x.findings.data, x.findings.len, st->display, &fs, d);
    if (err == CFO_OK && x.strategies.len > 0)
        err = cfo_strategies_parse(x.strategies.data, x.strategies.len, st->display, &strat, d);
    if (err != CFO_OK) {
        err = invalid(st, d, "; it was not modified");
        goto out;
    }

    stats->before = rs->n;
    stats->added = records->n;
    stats->window = choose_window(window_override, config, meta.window);
    size_t old_n = rs->n;
    cfo_recset_add_all(rs, records);
    for (size_t i = 0; i < rs->n; i++)
        rs->v[i].fresh = i >= old_n;
    cfo_merge_policy policy = {.window = stats->window, .config = config, .recorded = &strat};
    cfo_buf before;
    cfo_buf_init(&before);
    cfo_findings_write(&fs, &before);
    cfo_lifecycle_apply(&fs, rs, config, &ev);
    cfo_merge(rs, &policy);
    stats->after = rs->n;
    if (more != NULL)
        cfo_lifecycle_merge(&fs, more);
    cfo_lifecycle_window(&fs, rs);
    record_strategies(&strat, config);

    /* Merging what is already there changes nothing: every old record kept,
     * no new one among them. Leave the dataset (and its version) alone. */
    bool fresh = false;
    for (size_t i = 0; i < rs->n && !fresh; i++)
        fresh = rs->v[i].fresh;
    cfo_buf ftext, stext;
    cfo_buf_init(&ftext);
    cfo_buf_init(&stext);
    cfo_findings_write(&fs, &ftext);
    cfo_strategies_write(&strat, &stext);
    /* The strategies ride along with a write; they do not cause one. */
    bool same_findings = ftext.len == before.len && memcmp(ftext.data, before.data, ftext.len) == 0;
    if (!(exists && !fresh && same_findings && stats->after == stats->before &&
          meta.window == stats->window)) {
        cfo_dataset_write_doc(rs, stats->window, stext.data, ftext.data, &out);
        err = cfo_storage_write(st, out.data, out.len, token, d);
        if (err == CFO_OK && events != NULL)
            cfo_finding_events_json(&ev, &fs, events);
    }
    cfo_buf_fini(&ftext);
    cfo_buf_fini(&stext);
    cfo_buf_fini(&before);

out:
    cfo_storage_unlock(st);
    cfo_finding_events_fini(&ev);
    cfo_strategies_fini(&strat);
    cfo_findings_fini(&fs);
    extra_fini(&x);
    cfo_buf_fini(&out);
    cfo_recset_destroy(&rs);
    return err;
}

cfo_err cfo_store_commit(cfo_storage *st, const cfo_recset *records, const cfo_config *config,
                         int window_override, cfo_commit_stats *stats, cfo_diag *d)
{
    return cfo_store_commit_findings(st, records, NULL, config, window_override, stats, NULL, d);
}

cfo_err cfo_store_commit_findings(cfo_storage *st, const cfo_recset *records,
                                  const cfo_findings *findings, const cfo_config *config,
                                  int window_override, cfo_commit_stats *stats, cfo_buf *events,
                                  cfo_diag *d)
{
    cfo_commit_stats local;
    if (stats == NULL)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    /* A record the parser would refuse must never reach the shared dataset:
     * it would make the dataset unreadable for every later run. */
    for (size_t i = 0; i < records->n; i++) {
        cfo_err bad = cfo_record_validate(&records->v[i], d);
        if (bad != CFO_OK) {
            cfo_diag_prefix(d, "new record %zu (%s %s) is invalid; %s was not written", i,
                            records->v[i].fuzzer ? records->v[i].fuzzer : "?",
                            records->v[i].target ? records->v[i].target : "?", st->display);
            return bad;
        }
    }
    cfo_config *owned = NULL;
    if (config == NULL)
        config = owned = cfo_config_new_default();
    cfo_err err = CFO_ECONFLICT;
    for (int attempt = 1; attempt <= COMMIT_MAX_ATTEMPTS && err == CFO_ECONFLICT; attempt++) {
        stats->attempts = attempt;
        err = commit_round(st, records, findings, config, window_override, stats, events, d);
    }
    if (err == CFO_ECONFLICT)
        cfo_diag_set(d, CFO_ECONFLICT,
                     "dataset %s kept changing while it was merged (%d attempts); it was not "
                     "written",
                     st->display, COMMIT_MAX_ATTEMPTS);
    cfo_config_destroy(&owned);
    return err;
}
