/* cfo_sarif.c -- SARIF 2.1.0 from findings, written with yajl_gen. */
#include "cfo_sarif.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "cfo_cmdline.h"
#include "cfo_json.h"

static void gen_print(void *ctx, const char *s, size_t len)
{
    cfo_buf_append(ctx, s, len);
}

char *cfo_finding_reproduce_command(const cfo_finding *f)
{
    cfo_buf b;
    cfo_buf_init(&b);
    if (f->bundle != NULL) {
        char *argv[] = {"cfo-crash", "reproduce", f->bundle, NULL};
        cfo_shell_quote_argv(&b, argv);
    } else {
        char *argv[] = {"cfo-fuzz", f->fuzzer, f->target, NULL};
        cfo_shell_quote_argv(&b, argv);
    }
    return cfo_buf_steal(&b);
}

static const char *rule_text(const char *kind)
{
    static const struct {
        const char *kind, *text;
    } texts[] = {
        {"crash", "A fuzzer crashed the code under test (a sanitizer report or a signal)."},
        {"timeout", "An input made the code under test hang."},
        {"oom", "An input made the code under test exhaust its memory."},
        {"leak", "An input made the code under test leak memory."},
        {"fail", "A fuzzer found a problem in this target (for INFRA_DRIFT: drift)."},
        {"coverage_drop", "Coverage dropped between two tested commits."},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (strcmp(texts[i].kind, kind) == 0)
            return texts[i].text;
    return "A finding of a CFO fuzzer.";
}

/* The kinds of the open findings, each once, in first-seen order. */
static void kinds_of(const cfo_findings *fs, cfo_strv *kinds)
{
    for (size_t i = 0; i < fs->n; i++)
        if (fs->v[i].open && !cfo_strv_contains(kinds, fs->v[i].kind))
            cfo_strv_push(kinds, fs->v[i].kind);
}

static void gen_rules(yajl_gen g, const cfo_strv *kinds)
{
    cfo_json_key(g, "rules");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < kinds->n; i++) {
        yajl_gen_map_open(g);
        cfo_json_str(g, "id", kinds->v[i]);
        cfo_json_str(g, "name", kinds->v[i]);
        cfo_json_key(g, "shortDescription");
        yajl_gen_map_open(g);
        cfo_json_str(g, "text", rule_text(kinds->v[i]));
        yajl_gen_map_close(g);
        cfo_json_key(g, "defaultConfiguration");
        yajl_gen_map_open(g);
        cfo_json_str(g, "level", "error");
        yajl_gen_map_close(g);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

static void short_sha(const char *sha, char out[13])
{
    snprintf(out, 13, "%s", sha ? sha : "?");
}

static void gen_message(yajl_gen g, const cfo_finding *f)
{
    cfo_buf m;
    cfo_buf_init(&m);
    char first[13], last[13];
    short_sha(f->first.commit, first);
    short_sha(f->last.commit, last);
    cfo_buf_printf(&m, "%s (%s, target %s): open since commit %s on %s, last seen at %s on %s",
                   f->title, f->fuzzer, f->target, first, f->first.branch, last, f->last.branch);
    for (size_t i = 0; i < f->nbranches; i++) {
        const cfo_finding_branch *b = &f->branches[i];
        if (b->open || b->fixed_commit == NULL)
            continue;
        char bad[13], fix[13];
        short_sha(b->last_bad, bad);
        short_sha(b->fixed_commit, fix);
        cfo_buf_printf(&m, "; fixed on %s (last bad %s, fixed %s)", b->branch, bad, fix);
    }
    if (f->regressed > 0)
        cfo_buf_printf(&m, "; regressed %lld time%s", (long long)f->regressed,
                       f->regressed == 1 ? "" : "s");
    char *cmd = cfo_finding_reproduce_command(f);
    cfo_buf_printf(&m, ". Reproduce: %s", cmd);
    free(cmd);
    cfo_utf8_sanitize(m.data);
    cfo_json_key(g, "message");
    yajl_gen_map_open(g);
    cfo_json_str(g, "text", m.data);
    yajl_gen_map_close(g);
    cfo_buf_fini(&m);
}

/* "src/parser.c:86" -> uri "src/parser.c", line 86. A fail finding's target
 * (a module's directory) is its location. */
static void gen_locations(yajl_gen g, const cfo_finding *f)
{
    const char *loc = f->location;
    if (loc == NULL && f->crash_state == NULL)
        loc = f->target;
    if (loc == NULL || loc[0] == '/')
        return; /* outside the repository: no location to point at */
    char *uri = cfo_xstrdup(loc);
    long line = 0;
    char *colon = strrchr(uri, ':');
    if (colon != NULL && colon[1] >= '0' && colon[1] <= '9') {
        line = strtol(colon + 1, NULL, 10);
        *colon = '\0';
    }
    cfo_utf8_sanitize(uri);
    cfo_json_key(g, "locations");
    yajl_gen_array_open(g);
    yajl_gen_map_open(g);
    cfo_json_key(g, "physicalLocation");
    yajl_gen_map_open(g);
    cfo_json_key(g, "artifactLocation");
    yajl_gen_map_open(g);
    cfo_json_str(g, "uri", uri);
    yajl_gen_map_close(g);
    if (line > 0) {
        cfo_json_key(g, "region");
        yajl_gen_map_open(g);
        cfo_json_int(g, "startLine", line);
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    yajl_gen_array_close(g);
    free(uri);
}

static void gen_result(yajl_gen g, const cfo_finding *f, const cfo_strv *kinds)
{
    yajl_gen_map_open(g);
    cfo_json_str(g, "ruleId", f->kind);
    for (size_t k = 0; k < kinds->n; k++)
        if (strcmp(kinds->v[k], f->kind) == 0)
            cfo_json_int(g, "ruleIndex", (long long)k);
    cfo_json_str(g, "level", "error");
    gen_message(g, f);
    gen_locations(g, f);
    cfo_json_key(g, "partialFingerprints");
    yajl_gen_map_open(g);
    cfo_json_str(g, "cfoFinding/v1", f->id);
    yajl_gen_map_close(g);
    cfo_json_key(g, "properties");
    yajl_gen_map_open(g);
    cfo_json_str(g, "finding", f->id);
    cfo_json_str(g, "fuzzer", f->fuzzer);
    cfo_json_str(g, "target", f->target);
    if (f->signature != NULL)
        cfo_json_str(g, "signature", f->signature);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
}

void cfo_sarif_write(const cfo_findings *fs, cfo_buf *out)
{
    cfo_strv kinds;
    cfo_strv_init(&kinds);
    kinds_of(fs, &kinds);
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_config(g, yajl_gen_print_callback, gen_print, out);
    yajl_gen_config(g, yajl_gen_beautify, 1);
    yajl_gen_map_open(g);
    cfo_json_str(g, "$schema", "https://json.schemastore.org/sarif-2.1.0.json");
    cfo_json_str(g, "version", "2.1.0");
    cfo_json_key(g, "runs");
    yajl_gen_array_open(g);
    yajl_gen_map_open(g);
    cfo_json_key(g, "tool");
    yajl_gen_map_open(g);
    cfo_json_key(g, "driver");
    yajl_gen_map_open(g);
    cfo_json_str(g, "name", "CFO");
    cfo_json_str(g, "version", cfo_version());
    gen_rules(g, &kinds);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    cfo_json_key(g, "results");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < fs->n; i++)
        if (fs->v[i].open)
            gen_result(g, &fs->v[i], &kinds);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    yajl_gen_free(g);
    cfo_strv_fini(&kinds);
}
