/* cfo_config.c -- reads cfo.ini with inih into a cfo_config, naming the line of every error. */
#include "cfo_config.h"

#include "cfo_exec_argv.h"

#include <ctype.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfo_dataset.h"

#define CONFIG_MAX_BYTES (1024 * 1024)
#define FUZZER_NAME_MAX 64
#define SECTION_MAX 256

/* One key of a [fuzzer] section, kept until the section ends so that `kind`
 * may appear anywhere in it. */
typedef struct pending_key {
    char *name;
    char *value;
    int line;
} pending_key;

typedef enum section_type {
    SECTION_NONE, /* before any header */
    SECTION_CFO,
    SECTION_FUZZER,
    SECTION_INVALID, /* already reported; its keys are ignored */
} section_type;

typedef struct parse_ctx {
    const char *name; /* for messages */
    const char *text;
    size_t pos;
    int line; /* physical line last handed to inih */

    cfo_config *cfg;
    int err_line; /* 0: no error yet */
    cfo_err err;
    char err_msg[900];

    section_type type;
    char section[SECTION_MAX]; /* as written between the brackets */
    int section_line;
    bool section_damaged; /* a line too long for inih was dropped */
    char fuzzer_name[FUZZER_NAME_MAX + 1];
    pending_key *keys;
    size_t nkeys, capkeys;
    int cfo_line; /* line of the [cfo] header, 0 if none yet */
    cfo_strv cfo_keys;
    int *fuzzer_lines; /* header line of each declared fuzzer, by index */
} parse_ctx;

static void fail(parse_ctx *c, int line, cfo_err err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* inih keeps parsing after an error; the earliest line is the one reported,
 * whatever order the checks ran in. */
static void fail(parse_ctx *c, int line, cfo_err err, const char *fmt, ...)
{
    if (c->err_line != 0 && c->err_line <= line)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err_msg, sizeof c->err_msg, fmt, ap);
    va_end(ap);
    c->err_line = line;
    c->err = err;
}

/* Turns a value parser's "invalid duration 'x' (expected ...)" into
 * "invalid duration 'x' for 'key' (expected ...)". */
static void fail_value(parse_ctx *c, int line, const char *key, const cfo_diag *vd)
{
    const char *paren = strstr(vd->msg, " (");
    if (paren == NULL)
        fail(c, line, CFO_EINVAL, "%s for '%s'", vd->msg, key);
    else
        fail(c, line, CFO_EINVAL, "%.*s for '%s'%s", (int)(paren - vd->msg), vd->msg, key, paren);
}

static void known_kinds(char *out, size_t len)
{
    size_t off = 0;
    out[0] = '\0';
    for (int i = 0; i < CFO_KIND_COUNT && off < len; i++) {
        int n = snprintf(out + off, len - off, "%s%s", i ? ", " : "",
                         cfo_kind_info_of((cfo_kind)i)->name);
        if (n < 0)
            break;
        off += (size_t)n;
    }
}

static cfo_config *config_new(void)
{
    cfo_config *cfg = cfo_xcalloc(1, sizeof *cfg);
    cfg->dataset = cfo_xstrdup(CFO_DEFAULT_DATASET);
    cfg->budget_ms = CFO_DEFAULT_BUDGET_MS;
    cfg->task_timeout_ms = CFO_DEFAULT_TASK_TIMEOUT_MS;
    cfg->window = CFO_DEFAULT_WINDOW;
    cfg->window_set = false;
    cfg->concurrency = 0;
    return cfg;
}

static cfo_fuzzer *add_fuzzer(cfo_config *cfg, const char *name, cfo_kind kind)
{
    cfg->fuzzers = cfo_xrealloc(cfg->fuzzers, (cfg->nfuzzers + 1) * sizeof *cfg->fuzzers);
    cfo_fuzzer *f = &cfg->fuzzers[cfg->nfuzzers++];
    cfo_fuzzer_init(f, name, kind);
    return f;
}

static void add_builtin_fuzzers(cfo_config *cfg)
{
    cfo_fuzzer *f = add_fuzzer(cfg, "CANARY", CFO_KIND_CANARY);
    f->merge = CFO_MERGE_ACCUMULATE;
    f->critical = false;

    f = add_fuzzer(cfg, "INFRA_DRIFT", CFO_KIND_INFRA_DRIFT);
    cfo_strv_split_ws(&f->branches, "main staging plan");
    f->needs_working_dir = true;
    f->needs_seed = true;
    f->critical = true;
    f->merge = CFO_MERGE_SUPERSEDE;
}

cfo_config *cfo_config_new_default(void)
{
    cfo_config *cfg = config_new();
    add_builtin_fuzzers(cfg);
    return cfg;
}

void cfo_config_destroy(cfo_config **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    cfo_config *cfg = *self_p;
    for (size_t i = 0; i < cfg->nfuzzers; i++)
        cfo_fuzzer_fini(&cfg->fuzzers[i]);
    free(cfg->fuzzers);
    free(cfg->path);
    free(cfg->dataset);
    cfo_strv_fini(&cfg->focus_argv);
    cfo_strv_fini(&cfg->notify_argv);
    free(cfg);
    *self_p = NULL;
}

const cfo_fuzzer *cfo_config_find(const cfo_config *self, const char *name)
{
    if (self == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < self->nfuzzers; i++)
        if (strcmp(self->fuzzers[i].name, name) == 0)
            return &self->fuzzers[i];
    return NULL;
}

/* --- the keys ------------------------------------------------------------ */

/* How a key's value is read into its field. */
typedef enum key_type {
    KEY_NONE,     /* read elsewhere (kind) */
    KEY_STRING,   /* char *; expect set: must not be empty */
    KEY_WORDS,    /* cfo_strv, split on white space; expect set: must not be empty */
    KEY_BOOL,     /* bool */
    KEY_DURATION, /* int64_t milliseconds */
    KEY_SIZE_KB,  /* int64_t KiB */
    KEY_PERCENT,  /* int, 1..100 */
    KEY_INT,      /* int in [min, max] */
    KEY_CUSTOM,   /* apply() */
} key_type;

/* Where a key may stand: [cfo], or the [fuzzer] sections of some kinds. */
#define IN_CFO 0x100u
#define KIND(k) (1u << (k))
#define ALL_KINDS (KIND(CFO_KIND_COUNT) - 1u)
#define ENGINES (KIND(CFO_KIND_LIBFUZZER) | KIND(CFO_KIND_AFL))
/* The keys Go's native fuzzing shares with the other engines. */
#define GO KIND(CFO_KIND_GOFUZZ)

typedef struct key_row {
    const char *name;
    unsigned where;
    key_type type;
    size_t offset; /* of the field in cfo_config ([cfo]) or cfo_fuzzer */
    int64_t min, max;
    const char *expect; /* what an empty value should have been, in its error */
    void (*apply)(parse_ctx *c, void *obj, const pending_key *k);
} key_row;

static bool root_ok(const char *root)
{
    if (root[0] == '/')
        return false;
    const char *p = root;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p += n;
        if (*p == '/')
            p++;
    }
    return true;
}

/* A path key of an engine fuzzer: relative, inside the worktree. */
static void set_path_key(parse_ctx *c, const pending_key *k, char **field, bool may_be_empty)
{
    if ((!may_be_empty && k->value[0] == '\0') || !root_ok(k->value)) {
        fail(c, k->line, CFO_EINVAL,
             "invalid path '%s' for '%s' (expected a relative path inside the repository)",
             k->value, k->name);
        return;
    }
    free(*field);
    *field = cfo_xstrdup(k->value);
}

/* fail_on: finding kinds, in the order of CFO_FAIL_ON_* bits. */
static const char *const finding_kinds[] = {"crash", "timeout", "oom", "leak", NULL};

static void set_fail_on(parse_ctx *c, cfo_fuzzer *f, const pending_key *k)
{
    cfo_strv words;
    cfo_strv_init(&words);
    cfo_strv_split_ws(&words, k->value);
    unsigned mask = 0;
    bool none = false;
    for (size_t i = 0; i < words.n; i++) {
        if (strcmp(words.v[i], "none") == 0) {
            none = true;
            continue;
        }
        size_t j = 0;
        while (finding_kinds[j] && strcmp(finding_kinds[j], words.v[i]) != 0)
            j++;
        if (finding_kinds[j] == NULL) {
            fail(c, k->line, CFO_EINVAL,
                 "invalid finding kind '%s' for 'fail_on' (expected crash, timeout, oom, leak, "
                 "or none)",
                 words.v[i]);
            cfo_strv_fini(&words);
            return;
        }
        mask |= 1u << j;
    }
    size_t nwords = words.n;
    cfo_strv_fini(&words);
    if (nwords == 0 || (none && mask != 0)) {
        fail(c, k->line, CFO_EINVAL,
             "invalid 'fail_on' (expected finding kinds among crash, timeout, oom, leak, or "
             "none alone)");
        return;
    }
    f->fail_on = mask;
}

static void apply_fail_on(parse_ctx *c, void *obj, const pending_key *k)
{
    set_fail_on(c, obj, k);
}

static void apply_targets_dir(parse_ctx *c, void *obj, const pending_key *k)
{
    set_path_key(c, k, &((cfo_fuzzer *)obj)->targets_dir, false);
}

static void apply_cmplog_dir(parse_ctx *c, void *obj, const pending_key *k)
{
    set_path_key(c, k, &((cfo_fuzzer *)obj)->cmplog_dir, true);
}

static void apply_coverage_dir(parse_ctx *c, void *obj, const pending_key *k)
{
    set_path_key(c, k, &((cfo_fuzzer *)obj)->coverage_dir, true);
}

static void apply_root(parse_ctx *c, void *obj, const pending_key *k)
{
    cfo_fuzzer *f = obj;
    if (!root_ok(k->value)) {
        fail(c, k->line, CFO_EINVAL,
             "invalid root '%s' for 'root' (expected a relative path inside the repository)",
             k->value);
        return;
    }
    free(f->root);
    f->root = cfo_xstrdup(k->value);
}

/* seeds: one or more folders inside the repository, white-space separated. */
static void apply_seeds(parse_ctx *c, void *obj, const pending_key *k)
{
    cfo_fuzzer *f = obj;
    cfo_strv dirs;
    cfo_strv_init(&dirs);
    cfo_strv_split_ws(&dirs, k->value);
    for (size_t i = 0; i < dirs.n; i++) {
        if (!root_ok(dirs.v[i])) {
            fail(c, k->line, CFO_EINVAL,
                 "invalid path '%s' for 'seeds' (expected relative paths inside the repository)",
                 dirs.v[i]);
            cfo_strv_fini(&dirs);
            return;
        }
    }
    cfo_strv_fini(&dirs);
    free(f->seeds);
    f->seeds = cfo_xstrdup(k->value);
}

/* env = NAME=VALUE ...: names as a shell would take them; CFO_* is kept
 * for what the worker tells its runners. */
static void apply_env(parse_ctx *c, void *obj, const pending_key *k)
{
    cfo_fuzzer *f = obj;
    cfo_strv words;
    cfo_strv_init(&words);
    cfo_strv_split_ws(&words, k->value);
    for (size_t i = 0; i < words.n; i++) {
        const char *w = words.v[i];
        size_t name_len =
            strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789");
        if (name_len == 0 || w[name_len] != '=' || (w[0] >= '0' && w[0] <= '9')) {
            fail(c, k->line, CFO_EINVAL,
                 "invalid 'env' entry '%s' (expected NAME=VALUE, white-space separated)", w);
            cfo_strv_fini(&words);
            return;
        }
        if (strncmp(w, "CFO_", 4) == 0) {
            fail(c, k->line, CFO_EINVAL,
                 "'env' cannot set %.*s: CFO_* variables are set by the worker", (int)name_len, w);
            cfo_strv_fini(&words);
            return;
        }
    }
    cfo_strv_fini(&f->env);
    f->env = words;
}

static void apply_merge(parse_ctx *c, void *obj, const pending_key *k)
{
    if (cfo_merge_parse(k->value, &((cfo_fuzzer *)obj)->merge) != 0)
        fail(c, k->line, CFO_EINVAL,
             "invalid merge strategy '%s' for 'merge' (expected supersede or accumulate)",
             k->value);
}

static void apply_window(parse_ctx *c, void *obj, const pending_key *k)
{
    cfo_config *cfg = obj;
    cfo_diag vd = {{0}};
    int64_t v = 0;
    if (cfo_parse_int(k->value, 1, CFO_DATASET_MAX_WINDOW, &v, &vd) != CFO_OK) {
        fail_value(c, k->line, k->name, &vd);
        return;
    }
    cfg->window = (int)v;
    cfg->window_set = true;
}

/* One "GLOB -> TARGET" entry of paths; false when it is not one. */
static bool add_path_entry(cfo_fuzzer *f, char *item)
{
    char *arrow = strstr(item, "->");
    cfo_strv glob, target;
    cfo_strv_init(&glob);
    cfo_strv_init(&target);
    if (arrow != NULL) {
        *arrow = '\0';
        cfo_strv_split_ws(&glob, item);
        cfo_strv_split_ws(&target, arrow + 2);
    }
    bool ok = glob.n == 1 && target.n == 1 && cfo_target_validate(target.v[0], NULL) == CFO_OK;
    if (ok) {
        cfo_strv_push(&f->path_globs, glob.v[0]);
        cfo_strv_push(&f->path_targets, target.v[0]);
    }
    cfo_strv_fini(&glob);
    cfo_strv_fini(&target);
    return ok;
}

/* paths: GLOB -> TARGET entries, comma-separated, over the changed files. */
static void apply_paths(parse_ctx *c, void *obj, const pending_key *k)
{
    cfo_fuzzer *f = obj;
    cfo_strv_fini(&f->path_globs);
    cfo_strv_fini(&f->path_targets);
    cfo_strv_init(&f->path_globs);
    cfo_strv_init(&f->path_targets);
    char *copy = cfo_xstrdup(k->value), *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (!add_path_entry(f, item)) {
            fail(c, k->line, CFO_EINVAL,
                 "invalid 'paths' entry (expected GLOB -> TARGET, comma-separated)");
            break;
        }
    }
    free(copy);
}

static void apply_discover(parse_ctx *c, void *obj, const pending_key *k)
{
    cfo_fuzzer *f = obj;
    cfo_strv_fini(&f->discover_argv);
    cfo_strv_init(&f->discover_argv);
    cfo_strv_split_ws(&f->discover_argv, k->value);
    if (f->discover_argv.n == 0) {
        fail(c, k->line, CFO_EINVAL, "empty command for 'discover'");
        return;
    }
    for (size_t i = 0; i < f->discover_argv.n; i++)
        if (strstr(f->discover_argv.v[i], "{target}") != NULL)
            fail(c, k->line, CFO_EINVAL,
                 "'{target}' cannot be used in 'discover' (it finds the targets)");
}

#define KEY(name_, where_, type_, ...)                                                             \
    {                                                                                              \
        .name = name_, .where = where_, .type = type_, __VA_ARGS__                                 \
    }
#define CFG(field) offsetof(cfo_config, field)
#define FZ(field) offsetof(cfo_fuzzer, field)
#define DRIFT KIND(CFO_KIND_INFRA_DRIFT)
#define EXEC KIND(CFO_KIND_EXEC)
#define AFL KIND(CFO_KIND_AFL)

/* Every key of cfo.ini, in the order error messages list them. */
static const key_row keys[] = {
    KEY("dataset", IN_CFO, KEY_STRING, .offset = CFG(dataset), .expect = "a URL"),
    KEY("budget", IN_CFO, KEY_DURATION, .offset = CFG(budget_ms)),
    KEY("task_timeout", IN_CFO, KEY_DURATION, .offset = CFG(task_timeout_ms)),
    KEY("window", IN_CFO, KEY_CUSTOM, .apply = apply_window),
    KEY("concurrency", IN_CFO, KEY_INT, .offset = CFG(concurrency), .min = 1, .max = 4096),
    KEY("focus_command", IN_CFO, KEY_WORDS, .offset = CFG(focus_argv), .expect = "command"),
    KEY("notify_command", IN_CFO, KEY_WORDS, .offset = CFG(notify_argv), .expect = "command"),
    KEY("kind", ALL_KINDS, KEY_NONE),
    KEY("branches", ALL_KINDS, KEY_WORDS, .offset = FZ(branches)),
    KEY("needs_working_dir", ALL_KINDS, KEY_BOOL, .offset = FZ(needs_working_dir)),
    KEY("needs_seed", ALL_KINDS, KEY_BOOL, .offset = FZ(needs_seed)),
    KEY("skip_passed", ALL_KINDS, KEY_BOOL, .offset = FZ(skip_passed)),
    KEY("critical", ALL_KINDS, KEY_BOOL, .offset = FZ(critical)),
    KEY("merge", ALL_KINDS, KEY_CUSTOM, .apply = apply_merge),
    KEY("task_timeout", ALL_KINDS, KEY_DURATION, .offset = FZ(task_timeout_ms)),
    KEY("memory_limit", ALL_KINDS, KEY_SIZE_KB, .offset = FZ(memory_limit_kb)),
    KEY("budget_share", ALL_KINDS, KEY_PERCENT, .offset = FZ(budget_share)),
    KEY("env", ALL_KINDS, KEY_CUSTOM, .apply = apply_env),
    KEY("terraform", DRIFT, KEY_STRING, .offset = FZ(terraform), .expect = "terraform, tofu or a path"),
    KEY("root", DRIFT, KEY_CUSTOM, .apply = apply_root),
    KEY("include", DRIFT, KEY_WORDS, .offset = FZ(include)),
    KEY("exclude", DRIFT, KEY_WORDS, .offset = FZ(exclude)),
    KEY("discover", EXEC, KEY_CUSTOM, .apply = apply_discover),
    KEY("run", EXEC, KEY_WORDS, .offset = FZ(run_argv), .expect = "command"),
    KEY("paths", EXEC, KEY_CUSTOM, .apply = apply_paths),
    KEY("build", ENGINES | GO, KEY_STRING, .offset = FZ(build)}, /* "" is no build step */ {.name = "targets_dir", .where = ENGINES, .type = KEY_CUSTOM, .apply = apply_targets_dir),
    KEY("input_timeout", ENGINES, KEY_DURATION, .offset = FZ(input_timeout_ms)),
    KEY("input_memory_limit", ENGINES, KEY_SIZE_KB, .offset = FZ(input_memory_kb)),
    KEY("fuzz_time", ENGINES | GO, KEY_DURATION, .offset = FZ(fuzz_time_ms)),
    KEY("corpus", ENGINES | GO, KEY_STRING, .offset = FZ(corpus), .expect = "a URL: file://PATH, gs://BUCKET/PREFIX or a path"),
    KEY("fail_on", ENGINES | GO, KEY_CUSTOM, .apply = apply_fail_on),
    KEY("reproduce_runs", ENGINES | GO, KEY_INT, .offset = FZ(reproduce_runs), .min = 0, .max = CFO_ENGINE_MAX_REPRODUCE_RUNS),
    KEY("sync_interval", ENGINES | GO, KEY_DURATION, .offset = FZ(sync_interval_ms)),
    KEY("seeds", ENGINES, KEY_CUSTOM, .apply = apply_seeds),
    KEY("triage_time", ENGINES | GO, KEY_DURATION, .offset = FZ(triage_time_ms)),
    KEY("max_crashes", ENGINES, KEY_INT, .offset = FZ(max_crashes), .min = 1, .max = CFO_ENGINE_MAX_MAX_CRASHES),
    KEY("engine_args", ENGINES | GO, KEY_WORDS, .offset = FZ(engine_args)),
    KEY("prune_factor", ENGINES, KEY_INT, .offset = FZ(prune_factor), .min = 0, .max = CFO_ENGINE_MAX_PRUNE_FACTOR),
    KEY("coverage_dir", ENGINES, KEY_CUSTOM, .apply = apply_coverage_dir),
    KEY("coverage_build", ENGINES, KEY_STRING, .offset = FZ(coverage_build)),
    KEY("coverage_drop", ENGINES | GO, KEY_PERCENT, .offset = FZ(coverage_drop)),
    KEY("cmplog_dir", AFL, KEY_CUSTOM, .apply = apply_cmplog_dir),
    KEY("persistent_record", AFL, KEY_INT, .offset = FZ(persistent_record), .min = 0, .max = CFO_ENGINE_MAX_PERSISTENT_RECORD),
    {.name = NULL},
};

const char *cfo_config_key_name(size_t i)
{
    return i < sizeof keys / sizeof keys[0] ? keys[i].name : NULL;
}

/* The row of key where the mask allows it, or NULL. */
static const key_row *key_find(const char *name, unsigned where)
{
    for (const key_row *r = keys; r->name != NULL; r++)
        if ((r->where & where) && strcmp(r->name, name) == 0)
            return r;
    return NULL;
}

/* "a, b, c": the keys allowed where. */
static void list_keys(unsigned where, char *out, size_t len)
{
    size_t off = 0;
    out[0] = '\0';
    for (const key_row *r = keys; r->name != NULL && off < len; r++) {
        if (!(r->where & where))
            continue;
        int n = snprintf(out + off, len - off, "%s%s", off ? ", " : "", r->name);
        if (n < 0)
            return;
        off += (size_t)n;
    }
}

static void apply_string(parse_ctx *c, const key_row *r, char **field, const pending_key *k)
{
    if (r->expect != NULL && k->value[0] == '\0') {
        fail(c, k->line, CFO_EINVAL, "empty value for '%s' (expected %s)", k->name, r->expect);
        return;
    }
    free(*field);
    *field = cfo_xstrdup(k->value);
}

static void apply_words(parse_ctx *c, const key_row *r, cfo_strv *field, const pending_key *k)
{
    cfo_strv_fini(field);
    cfo_strv_init(field);
    cfo_strv_split_ws(field, k->value);
    if (r->expect != NULL && field->n == 0)
        fail(c, k->line, CFO_EINVAL, "empty %s for '%s'", r->expect, k->name);
}

/* Reads k's value into obj (a cfo_config or a cfo_fuzzer) by r's type. */
static void apply_key(parse_ctx *c, const key_row *r, void *obj, const pending_key *k)
{
    char *field = (char *)obj + r->offset;
    cfo_diag vd = {{0}};
    cfo_err err = CFO_OK;
    int64_t v = 0;
    switch (r->type) {
    case KEY_NONE:
        return;
    case KEY_STRING:
        apply_string(c, r, (char **)field, k);
        return;
    case KEY_WORDS:
        apply_words(c, r, (cfo_strv *)field, k);
        return;
    case KEY_BOOL:
        err = cfo_parse_bool(k->value, (bool *)field, &vd);
        break;
    case KEY_DURATION:
        if ((err = cfo_parse_duration(k->value, &v, &vd)) == CFO_OK)
            *(int64_t *)field = v;
        break;
    case KEY_SIZE_KB:
        if ((err = cfo_parse_size_kb(k->value, &v, &vd)) == CFO_OK)
            *(int64_t *)field = v;
        break;
    case KEY_PERCENT:
        err = cfo_parse_percent(k->value, (int *)field, &vd);
        break;
    case KEY_INT:
        if ((err = cfo_parse_int(k->value, r->min, r->max, &v, &vd)) == CFO_OK)
            *(int *)field = (int)v;
        break;
    case KEY_CUSTOM:
        r->apply(c, obj, k);
        return;
    }
    if (err != CFO_OK)
        fail_value(c, k->line, k->name, &vd);
}

/* --- [cfo] ----------------------------------------------------------------- */

static void cfo_key(parse_ctx *c, const char *key, const char *value)
{
    const key_row *r = key_find(key, IN_CFO);
    if (r == NULL) {
        char known[256];
        list_keys(IN_CFO, known, sizeof known);
        fail(c, c->line, CFO_EINVAL, "unknown key '%s' in [cfo] (known: %s)", key, known);
        return;
    }
    pending_key k = {.name = (char *)key, .value = (char *)value, .line = c->line};
    apply_key(c, r, c->cfg, &k);
}

/* --- [fuzzer "NAME"] ------------------------------------------------------- */

static bool valid_fuzzer_name(const char *s, size_t len)
{
    if (len == 0 || len > FUZZER_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && strchr("_.-", s[i]) == NULL)
            return false;
    return true;
}

static bool has_key(const parse_ctx *c, const char *key)
{
    for (size_t i = 0; i < c->nkeys; i++)
        if (strcmp(c->keys[i].name, key) == 0)
            return true;
    return false;
}

/* Builds the fuzzer of the section that just ended from its collected keys. */
static void fuzzer_section_end(parse_ctx *c)
{
    const pending_key *kind_key = NULL;
    for (size_t i = 0; i < c->nkeys; i++)
        if (strcmp(c->keys[i].name, "kind") == 0)
            kind_key = &c->keys[i];
    char known[128];
    known_kinds(known, sizeof known);
    if (kind_key == NULL) {
        if (c->section_damaged)
            return;
        fail(c, c->section_line, CFO_EINVAL, "[%s] has no 'kind' (known: %s)", c->section, known);
        return;
    }
    cfo_kind kind;
    if (cfo_kind_parse(kind_key->value, &kind) != 0) {
        fail(c, kind_key->line, CFO_EINVAL, "unknown fuzzer kind '%s' (known: %s)", kind_key->value,
             known);
        return;
    }
    cfo_fuzzer *f = add_fuzzer(c->cfg, c->fuzzer_name, kind);
    for (size_t i = 0; i < c->nkeys; i++) {
        const pending_key *k = &c->keys[i];
        const key_row *r = key_find(k->name, KIND(kind));
        if (r == NULL) {
            char its[640];
            list_keys(KIND(kind), its, sizeof its);
            fail(c, k->line, CFO_EINVAL,
                 "key '%s' does not apply to [%s] of kind %s (its keys: %s)", k->name, c->section,
                 cfo_kind_info_of(kind)->name, its);
            continue;
        }
        apply_key(c, r, f, k);
    }
    if (c->section_damaged)
        return; /* a line of it was rejected; do not guess what it held */
    switch (kind) {
    case CFO_KIND_EXEC:
        if (f->run_argv.n == 0 && !has_key(c, "run"))
            fail(c, c->section_line, CFO_EINVAL, "[%s] of kind exec needs 'run'", c->section);
        break;
    case CFO_KIND_CANARY:
    case CFO_KIND_INFRA_DRIFT:
    case CFO_KIND_LIBFUZZER:
    case CFO_KIND_AFL:
    case CFO_KIND_GOFUZZ:
        break;
    }
}

static void fuzzer_key(parse_ctx *c, const char *key, const char *value)
{
    if (key_find(key, ALL_KINDS) == NULL) {
        fail(c, c->line, CFO_EINVAL, "unknown key '%s' in [%s]", key, c->section);
        return;
    }
    c->keys = cfo_grow(c->keys, &c->capkeys, c->nkeys + 1, sizeof *c->keys);
    c->keys[c->nkeys++] =
        (pending_key){.name = cfo_xstrdup(key), .value = cfo_xstrdup(value), .line = c->line};
}

/* --- sections ------------------------------------------------------------ */

static void clear_keys(parse_ctx *c)
{
    for (size_t i = 0; i < c->nkeys; i++) {
        free(c->keys[i].name);
        free(c->keys[i].value);
    }
    c->nkeys = 0;
}

static void section_end(parse_ctx *c)
{
    switch (c->type) {
    case SECTION_FUZZER:
        fuzzer_section_end(c);
        break;
    case SECTION_NONE:
    case SECTION_CFO:
    case SECTION_INVALID:
        break;
    }
    clear_keys(c);
    cfo_strv_fini(&c->cfo_keys);
    cfo_strv_init(&c->cfo_keys);
    c->type = SECTION_NONE;
}

static void section_begin(parse_ctx *c, const char *name, size_t len)
{
    section_end(c);
    if (len >= sizeof c->section)
        len = sizeof c->section - 1;
    memcpy(c->section, name, len);
    c->section[len] = '\0';
    c->section_line = c->line;
    c->section_damaged = false;
    c->type = SECTION_INVALID;

    if (strcmp(c->section, "cfo") == 0) {
        if (c->cfo_line != 0) {
            fail(c, c->line, CFO_EINVAL, "duplicate section [cfo] (first on line %d)", c->cfo_line);
            return;
        }
        c->cfo_line = c->line;
        c->type = SECTION_CFO;
        return;
    }
    const char *p = c->section;
    if (strncmp(p, "fuzzer", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
        p += 6;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strlen(p);
        if (n < 2 || p[0] != '"' || p[n - 1] != '"') {
            fail(c, c->line, CFO_EINVAL,
                 "invalid section [%s] (expected [fuzzer \"NAME\"], the name in double "
                 "quotes)",
                 c->section);
            return;
        }
        const char *fname = p + 1;
        size_t flen = n - 2;
        if (!valid_fuzzer_name(fname, flen)) {
            fail(c, c->line, CFO_EINVAL,
                 "invalid fuzzer name '%.*s' (expected 1 to %d of A-Z a-z 0-9 _ . -)", (int)flen,
                 fname, FUZZER_NAME_MAX);
            return;
        }
        memcpy(c->fuzzer_name, fname, flen);
        c->fuzzer_name[flen] = '\0';
        for (size_t i = 0; i < c->cfg->nfuzzers; i++) {
            if (strcmp(c->cfg->fuzzers[i].name, c->fuzzer_name) == 0) {
                fail(c, c->line, CFO_EINVAL, "duplicate fuzzer \"%s\" (first on line %d)",
                     c->fuzzer_name, c->fuzzer_lines[i]);
                return;
            }
        }
        if (c->cfg->nfuzzers >= CFO_MAX_FUZZERS) {
            fail(c, c->line, CFO_ELIMIT, "too many fuzzers (at most %d)", CFO_MAX_FUZZERS);
            return;
        }
        /* The header line is recorded now; the fuzzer itself is added when
         * the section ends, at index nfuzzers. */
        c->fuzzer_lines =
            cfo_xrealloc(c->fuzzer_lines, (c->cfg->nfuzzers + 1) * sizeof *c->fuzzer_lines);
        c->fuzzer_lines[c->cfg->nfuzzers] = c->line;
        c->type = SECTION_FUZZER;
        return;
    }
    fail(c, c->line, CFO_EINVAL, "unknown section [%s] (expected [cfo] or [fuzzer \"NAME\"])",
         c->section);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *c = user;
    (void)section; /* inih cuts section names at 50 bytes; ours is whole */
    if (value == NULL)
        value = "";
    switch (c->type) {
    case SECTION_NONE:
        fail(c, c->line, CFO_EINVAL, "key '%s' outside any section", name);
        return 0;
    case SECTION_INVALID:
        return 1; /* the header was reported */
    case SECTION_CFO:
        if (cfo_strv_contains(&c->cfo_keys, name)) {
            fail(c, c->line, CFO_EINVAL, "duplicate key '%s' in [cfo]", name);
            return 0;
        }
        cfo_strv_push(&c->cfo_keys, name);
        cfo_key(c, name, value);
        break;
    case SECTION_FUZZER:
        for (size_t i = 0; i < c->nkeys; i++) {
            if (strcmp(c->keys[i].name, name) == 0) {
                fail(c, c->line, CFO_EINVAL, "duplicate key '%s' in [%s] (first on line %d)", name,
                     c->section, c->keys[i].line);
                return 0;
            }
        }
        fuzzer_key(c, name, value);
        break;
    }
    return 1;
}

/* Hands inih one physical line per call, so the line number is exact, and
 * watches the lines as they pass: section headers are taken here (inih would
 * cut names longer than 50 bytes and says nothing about empty sections), and
 * leading white space is dropped so an indented line is never a silent
 * continuation of the previous value. */
static char *reader(char *str, int num, void *stream)
{
    parse_ctx *c = stream;
    const char *s = c->text + c->pos;
    if (*s == '\0')
        return NULL;
    const char *nl = strchr(s, '\n');
    size_t len = nl ? (size_t)(nl - s) + 1 : strlen(s);
    c->pos += len;
    c->line++;

    size_t skip = 0;
    if (c->line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        skip = 3;
    while (skip < len && (s[skip] == ' ' || s[skip] == '\t'))
        skip++;
    s += skip;
    len -= skip;

    if (num < 3 || len > (size_t)num - 1) {
        fail(c, c->line, CFO_ELIMIT, "line too long (at most %d characters)", num - 2);
        c->section_damaged = true;
        snprintf(str, (size_t)num, ";\n");
        return str;
    }
    memcpy(str, s, len);
    str[len] = '\0';

    if (str[0] == '[') {
        /* inih's rule: the name ends at the first ']'; an inline comment
         * before it makes the line a syntax error, which inih reports. */
        const char *end = strchr(str + 1, ']');
        const char *semi = str + 1;
        while ((semi = strchr(semi, ';')) != NULL && (end == NULL || semi < end)) {
            if (isspace((unsigned char)semi[-1]))
                break;
            semi++;
        }
        if (end != NULL && (semi == NULL || semi > end))
            section_begin(c, str + 1, (size_t)(end - str - 1));
    }
    return str;
}

/* The folder holding the dataset, as a URL: an engine's corpus lives beside
 * the dataset unless the config says otherwise. */
static char *dataset_folder(const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *path = scheme ? scheme + 3 : url;
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return cfo_xasprintf("%.*s.", (int)(path - url), url);
    if (slash == path)
        return cfo_xasprintf("%.*s/", (int)(path - url), url);
    return cfo_xstrndup(url, (size_t)(slash - url));
}

static cfo_err parse_text(const char *text, const char *name, const char *path, cfo_config **out,
                          cfo_diag *d)
{
    *out = NULL;
    parse_ctx c = {0};
    c.name = name;
    c.text = text;
    c.cfg = config_new();
    cfo_strv_init(&c.cfo_keys);

    int rc = ini_parse_stream(reader, &c, handler, &c);
    section_end(&c);
    /* rc is the first line inih rejected: a syntax error, or a line whose
     * error is already recorded (then fail() keeps the earlier message). */
    if (rc > 0)
        fail(&c, rc, CFO_EPARSE, "syntax error (expected [section], key = value, or a comment)");
    else if (rc < 0)
        fail(&c, c.line, CFO_EIO, "cannot parse (inih error %d)", rc);

    clear_keys(&c);
    free(c.keys);
    free(c.fuzzer_lines);
    cfo_strv_fini(&c.cfo_keys);
    if (c.err_line != 0) {
        cfo_config_destroy(&c.cfg);
        return cfo_diag_set(d, c.err, "%s:%d: %s", name, c.err_line, c.err_msg);
    }
    if (c.cfg->nfuzzers == 0)
        add_builtin_fuzzers(c.cfg);
    int shares = 0;
    for (size_t i = 0; i < c.cfg->nfuzzers; i++)
        shares += c.cfg->fuzzers[i].budget_share;
    if (shares > 100) {
        cfo_config_destroy(&c.cfg);
        return cfo_diag_set(d, CFO_EINVAL,
                            "%s: the fuzzers' budget_share values add up to %d%%, more than 100%%",
                            name, shares);
    }
    for (size_t i = 0; i < c.cfg->nfuzzers; i++) {
        cfo_fuzzer *f = &c.cfg->fuzzers[i];
        if (cfo_kind_is_engine(f->kind) && f->corpus[0] == '\0') {
            free(f->corpus);
            f->corpus = dataset_folder(c.cfg->dataset);
        }
    }
    c.cfg->path = path ? cfo_xstrdup(path) : NULL;
    *out = c.cfg;
    return CFO_OK;
}

cfo_err cfo_config_parse(const char *text, const char *name, cfo_config **out, cfo_diag *d)
{
    return parse_text(text, name ? name : "cfo.ini", NULL, out, d);
}

cfo_err cfo_config_load(const char *path, cfo_config **out, cfo_diag *d)
{
    *out = NULL;
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_err err = cfo_read_file(path, CONFIG_MAX_BYTES, &b, d);
    if (err == CFO_OK) {
        if (memchr(b.data, '\0', b.len) != NULL)
            err = cfo_diag_set(d, CFO_EPARSE, "%s: contains a NUL byte; not a text file", path);
        else
            /* an empty file leaves b.data unterminated */
            err = parse_text(b.len ? b.data : "", path, path, out, d);
    }
    cfo_buf_fini(&b);
    return err;
}
