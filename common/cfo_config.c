/* cfo_config.c -- reads cfo.ini with inih into a cfo_config, naming the line of every error. */
#include "cfo_config.h"

#include "cfo_exec_argv.h"

#include <ctype.h>
#include <ini.h>
#include <stdarg.h>
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

/* --- [cfo] ----------------------------------------------------------------- */

static void cfo_key(parse_ctx *c, const char *key, const char *value)
{
    cfo_config *cfg = c->cfg;
    cfo_diag vd = {{0}};
    int64_t v = 0;
    if (strcmp(key, "dataset") == 0) {
        if (*value == '\0') {
            fail(c, c->line, CFO_EINVAL, "empty value for 'dataset' (expected a URL)");
            return;
        }
        free(cfg->dataset);
        cfg->dataset = cfo_xstrdup(value);
    } else if (strcmp(key, "budget") == 0) {
        if (cfo_parse_duration(value, &v, &vd) != CFO_OK)
            fail_value(c, c->line, key, &vd);
        else
            cfg->budget_ms = v;
    } else if (strcmp(key, "task_timeout") == 0) {
        if (cfo_parse_duration(value, &v, &vd) != CFO_OK)
            fail_value(c, c->line, key, &vd);
        else
            cfg->task_timeout_ms = v;
    } else if (strcmp(key, "window") == 0) {
        if (cfo_parse_int(value, 1, CFO_DATASET_MAX_WINDOW, &v, &vd) != CFO_OK) {
            fail_value(c, c->line, key, &vd);
        } else {
            cfg->window = (int)v;
            cfg->window_set = true;
        }
    } else if (strcmp(key, "concurrency") == 0) {
        if (cfo_parse_int(value, 1, 4096, &v, &vd) != CFO_OK)
            fail_value(c, c->line, key, &vd);
        else
            cfg->concurrency = (int)v;
    } else if (strcmp(key, "focus_command") == 0) {
        cfo_strv_fini(&cfg->focus_argv);
        cfo_strv_init(&cfg->focus_argv);
        cfo_strv_split_ws(&cfg->focus_argv, value);
        if (cfg->focus_argv.n == 0)
            fail(c, c->line, CFO_EINVAL, "empty command for 'focus_command'");
    } else {
        fail(c, c->line, CFO_EINVAL,
             "unknown key '%s' in [cfo] (known: dataset, budget, task_timeout, window, "
             "concurrency, focus_command)",
             key);
    }
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

static const char *const common_keys[] = {
    "kind",  "branches",     "needs_working_dir", "needs_seed",   "critical",
    "merge", "task_timeout", "memory_limit",      "budget_share", NULL};
static const char *const drift_keys[] = {"terraform", "root", "include", "exclude", NULL};
static const char *const exec_keys[] = {"discover", "run", "paths", NULL};
/* libfuzzer and afl; cmplog_dir is afl's alone. */
static const char *const libfuzzer_keys[] = {
    "build",         "targets_dir", "input_timeout", "input_memory_limit",
    "fuzz_time",     "corpus",      "fail_on",       "reproduce_runs",
    "sync_interval", "seeds",       "triage_time",   "max_crashes",
    "engine_args",   NULL};
static const char *const afl_keys[] = {
    "build",         "targets_dir", "input_timeout",     "input_memory_limit",
    "fuzz_time",     "corpus",      "fail_on",           "reproduce_runs",
    "sync_interval", "seeds",       "triage_time",       "max_crashes",
    "engine_args",   "cmplog_dir",  "persistent_record", NULL};

static bool in_list(const char *const *list, const char *key)
{
    for (; *list; list++)
        if (strcmp(*list, key) == 0)
            return true;
    return false;
}

/* The keys of kind besides the common ones (NULL-terminated). */
static const char *const *kind_keys(cfo_kind kind)
{
    static const char *const none[] = {NULL};
    switch (kind) {
    case CFO_KIND_CANARY:
        return none;
    case CFO_KIND_INFRA_DRIFT:
        return drift_keys;
    case CFO_KIND_EXEC:
        return exec_keys;
    case CFO_KIND_LIBFUZZER:
        return libfuzzer_keys;
    case CFO_KIND_AFL:
        return afl_keys;
    }
    return none;
}

static void list_keys(cfo_kind kind, char *out, size_t len)
{
    size_t off = 0;
    out[0] = '\0';
    const char *const *lists[] = {common_keys, kind_keys(kind)};
    for (size_t l = 0; l < 2; l++) {
        for (const char *const *k = lists[l]; *k && off < len; k++) {
            int n = snprintf(out + off, len - off, "%s%s", off ? ", " : "", *k);
            if (n < 0)
                return;
            off += (size_t)n;
        }
    }
}

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

/* Applies the key when it is one of the engine keys; false when it is not. */
static bool apply_engine_key(parse_ctx *c, cfo_fuzzer *f, const pending_key *k)
{
    const char *key = k->name, *value = k->value;
    cfo_diag vd = {{0}};
    int64_t v = 0;
    if (strcmp(key, "build") == 0) {
        free(f->build);
        f->build = cfo_xstrdup(value); /* "" is no build step */
    } else if (strcmp(key, "targets_dir") == 0) {
        set_path_key(c, k, &f->targets_dir, false);
    } else if (strcmp(key, "cmplog_dir") == 0) {
        set_path_key(c, k, &f->cmplog_dir, true);
    } else if (strcmp(key, "seeds") == 0) {
        /* one or more folders, white-space separated */
        cfo_strv dirs;
        cfo_strv_init(&dirs);
        cfo_strv_split_ws(&dirs, value);
        for (size_t i = 0; i < dirs.n; i++) {
            if (!root_ok(dirs.v[i])) {
                fail(c, k->line, CFO_EINVAL,
                     "invalid path '%s' for 'seeds' (expected relative paths inside the "
                     "repository)",
                     dirs.v[i]);
                cfo_strv_fini(&dirs);
                return true;
            }
        }
        cfo_strv_fini(&dirs);
        free(f->seeds);
        f->seeds = cfo_xstrdup(value);
    } else if (strcmp(key, "input_timeout") == 0 || strcmp(key, "fuzz_time") == 0 ||
               strcmp(key, "sync_interval") == 0 || strcmp(key, "triage_time") == 0) {
        if (cfo_parse_duration(value, &v, &vd) != CFO_OK) {
            fail_value(c, k->line, key, &vd);
            return true;
        }
        if (key[0] == 'i')
            f->input_timeout_ms = v;
        else if (key[0] == 'f')
            f->fuzz_time_ms = v;
        else if (key[0] == 's')
            f->sync_interval_ms = v;
        else
            f->triage_time_ms = v;
    } else if (strcmp(key, "input_memory_limit") == 0) {
        if (cfo_parse_size_kb(value, &v, &vd) != CFO_OK)
            fail_value(c, k->line, key, &vd);
        else
            f->input_memory_kb = v;
    } else if (strcmp(key, "corpus") == 0) {
        if (value[0] == '\0') {
            fail(c, k->line, CFO_EINVAL,
                 "empty value for 'corpus' (expected a URL: file://PATH, gs://BUCKET/PREFIX or "
                 "a path)");
            return true;
        }
        free(f->corpus);
        f->corpus = cfo_xstrdup(value);
    } else if (strcmp(key, "fail_on") == 0) {
        set_fail_on(c, f, k);
    } else if (strcmp(key, "reproduce_runs") == 0) {
        if (cfo_parse_int(value, 0, CFO_ENGINE_MAX_REPRODUCE_RUNS, &v, &vd) != CFO_OK)
            fail_value(c, k->line, key, &vd);
        else
            f->reproduce_runs = (int)v;
    } else if (strcmp(key, "max_crashes") == 0) {
        if (cfo_parse_int(value, 1, CFO_ENGINE_MAX_MAX_CRASHES, &v, &vd) != CFO_OK)
            fail_value(c, k->line, key, &vd);
        else
            f->max_crashes = (int)v;
    } else if (strcmp(key, "persistent_record") == 0) {
        if (cfo_parse_int(value, 0, CFO_ENGINE_MAX_PERSISTENT_RECORD, &v, &vd) != CFO_OK)
            fail_value(c, k->line, key, &vd);
        else
            f->persistent_record = (int)v;
    } else if (strcmp(key, "engine_args") == 0) {
        cfo_strv_fini(&f->engine_args);
        cfo_strv_init(&f->engine_args);
        cfo_strv_split_ws(&f->engine_args, value);
    } else {
        return false;
    }
    return true;
}

static void apply_fuzzer_key(parse_ctx *c, cfo_fuzzer *f, const pending_key *k)
{
    const char *key = k->name, *value = k->value;
    cfo_diag vd = {{0}};
    bool b = false;
    int64_t v = 0;
    if (strcmp(key, "kind") == 0) {
        /* consumed when the section ended */
    } else if (strcmp(key, "branches") == 0) {
        cfo_strv_fini(&f->branches);
        cfo_strv_init(&f->branches);
        cfo_strv_split_ws(&f->branches, value);
    } else if (strcmp(key, "needs_working_dir") == 0 || strcmp(key, "needs_seed") == 0 ||
               strcmp(key, "critical") == 0) {
        if (cfo_parse_bool(value, &b, &vd) != CFO_OK) {
            fail_value(c, k->line, key, &vd);
            return;
        }
        if (key[0] == 'c')
            f->critical = b;
        else if (strcmp(key, "needs_seed") == 0)
            f->needs_seed = b;
        else
            f->needs_working_dir = b;
    } else if (strcmp(key, "merge") == 0) {
        if (cfo_merge_parse(value, &f->merge) != 0)
            fail(c, k->line, CFO_EINVAL,
                 "invalid merge strategy '%s' for 'merge' (expected supersede or accumulate)",
                 value);
    } else if (strcmp(key, "task_timeout") == 0) {
        if (cfo_parse_duration(value, &v, &vd) != CFO_OK)
            fail_value(c, k->line, key, &vd);
        else
            f->task_timeout_ms = v;
    } else if (strcmp(key, "memory_limit") == 0) {
        if (cfo_parse_size_kb(value, &v, &vd) != CFO_OK)
            fail_value(c, k->line, key, &vd);
        else
            f->memory_limit_kb = v;
    } else if (strcmp(key, "budget_share") == 0) {
        if (cfo_parse_percent(value, &f->budget_share, &vd) != CFO_OK)
            fail_value(c, k->line, key, &vd);
    } else if (strcmp(key, "terraform") == 0) {
        if (*value == '\0') {
            fail(c, k->line, CFO_EINVAL,
                 "empty value for 'terraform' (expected terraform, tofu or a path)");
            return;
        }
        free(f->terraform);
        f->terraform = cfo_xstrdup(value);
    } else if (strcmp(key, "root") == 0) {
        if (!root_ok(value)) {
            fail(c, k->line, CFO_EINVAL,
                 "invalid root '%s' for 'root' (expected a relative path inside the "
                 "repository)",
                 value);
            return;
        }
        free(f->root);
        f->root = cfo_xstrdup(value);
    } else if (strcmp(key, "include") == 0 || strcmp(key, "exclude") == 0) {
        cfo_strv *sv = key[0] == 'i' ? &f->include : &f->exclude;
        cfo_strv_fini(sv);
        cfo_strv_init(sv);
        cfo_strv_split_ws(sv, value);
    } else if (strcmp(key, "paths") == 0) {
        /* GLOB -> TARGET entries, comma-separated, over the changed files */
        cfo_strv_fini(&f->path_globs);
        cfo_strv_fini(&f->path_targets);
        cfo_strv_init(&f->path_globs);
        cfo_strv_init(&f->path_targets);
        char *copy = cfo_xstrdup(value), *save = NULL;
        for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            char *arrow = strstr(item, "->");
            cfo_strv glob, target;
            cfo_strv_init(&glob);
            cfo_strv_init(&target);
            if (arrow != NULL) {
                *arrow = '\0';
                cfo_strv_split_ws(&glob, item);
                cfo_strv_split_ws(&target, arrow + 2);
            }
            bool ok =
                glob.n == 1 && target.n == 1 && cfo_target_validate(target.v[0], &vd) == CFO_OK;
            if (ok) {
                cfo_strv_push(&f->path_globs, glob.v[0]);
                cfo_strv_push(&f->path_targets, target.v[0]);
            }
            cfo_strv_fini(&glob);
            cfo_strv_fini(&target);
            if (!ok) {
                fail(c, k->line, CFO_EINVAL,
                     "invalid 'paths' entry (expected GLOB -> TARGET, comma-separated)");
                break;
            }
        }
        free(copy);
    } else if (apply_engine_key(c, f, k)) {
        /* an engine key, applied or reported */
    } else if (strcmp(key, "discover") == 0 || strcmp(key, "run") == 0) {
        bool run = key[0] == 'r';
        cfo_strv *sv = run ? &f->run_argv : &f->discover_argv;
        cfo_strv_fini(sv);
        cfo_strv_init(sv);
        cfo_strv_split_ws(sv, value);
        if (sv->n == 0) {
            fail(c, k->line, CFO_EINVAL, "empty command for '%s'", key);
            return;
        }
        if (!run)
            for (size_t i = 0; i < sv->n; i++)
                if (strstr(sv->v[i], "{target}") != NULL)
                    fail(c, k->line, CFO_EINVAL,
                         "'{target}' cannot be used in 'discover' (it finds the targets)");
    }
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
        if (!in_list(common_keys, k->name) && !in_list(kind_keys(kind), k->name)) {
            char keys[640];
            list_keys(kind, keys, sizeof keys);
            fail(c, k->line, CFO_EINVAL,
                 "key '%s' does not apply to [%s] of kind %s (its keys: %s)", k->name, c->section,
                 cfo_kind_info_of(kind)->name, keys);
            continue;
        }
        apply_fuzzer_key(c, f, k);
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
        break;
    }
}

static void fuzzer_key(parse_ctx *c, const char *key, const char *value)
{
    if (!in_list(common_keys, key) && !in_list(drift_keys, key) && !in_list(exec_keys, key) &&
        !in_list(afl_keys, key)) {
        fail(c, c->line, CFO_EINVAL, "unknown key '%s' in [%s]", key, c->section);
        return;
    }
    if (c->nkeys == c->capkeys) {
        c->capkeys = c->capkeys ? 2 * c->capkeys : 8;
        c->keys = cfo_xrealloc(c->keys, c->capkeys * sizeof *c->keys);
    }
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
