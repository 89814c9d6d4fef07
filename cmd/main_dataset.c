/* main_dataset.c -- cfo-dataset: merges records into a dataset, shows it as a table, counts it,
 * reports its history as HTML and answers "since when is this target broken?". */
#include <getopt.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include "cfo_cmdline.h"
#include "cfo_config.h"
#include "cfo_coverage.h"
#include "cfo_dataset.h"
#include "cfo_file.h"
#include "cfo_git.h"
#include "cfo_history.h"
#include "cfo_findings.h"
#include "cfo_html.h"
#include "cfo_lifecycle.h"
#include "cfo_json.h"
#include "cfo_log.h"
#include "cfo_record.h"
#include "cfo_sarif.h"
#include "cfo_storage.h"
#include "cfo_store.h"
#include "cfo_util.h"

#define EXIT_USAGE CFO_EXIT_USAGE
#define EXIT_DATA CFO_EXIT_HARNESS

/* clang-format off */
#define SYNOPSIS                                                                         \
    "usage: cfo-dataset merge --into URL [--config FILE] [--window N] FILE...\n"           \
    "       cfo-dataset show URL [--fuzzer NAME] [--branch NAME] [--target NAME]\n"        \
    "       cfo-dataset stats URL\n"                                                       \
    "       cfo-dataset report URL [--html FILE] [--fuzzer NAME] [--branch NAME]\n"         \
    "                          [--repo PATH] [--config FILE]\n"                             \
    "       cfo-dataset history URL --target NAME [--fuzzer NAME] [--branch NAME]\n"        \
    "                           [--repo PATH] [--config FILE]\n"                             \
    "       cfo-dataset findings URL [--state open|fixed] [--json]\n"                      \
    "       cfo-dataset sarif URL FILE\n"                                                  \
    "       cfo-dataset coverage URL --target NAME [--fuzzer NAME] [--branch NAME]\n"       \
    "                            [--repo PATH] [--json]\n"                                  \
    "       cfo-dataset --help\n"

static const char usage_text[] =
    SYNOPSIS
    "\n"
    "Inspects and repairs a CFO seed dataset.\n"
    "\n"
    "  merge  merges the records of every FILE (a dataset document or a JSON array\n"
    "         of records) into the dataset at URL, with the merge rules of a run,\n"
    "         moves its findings by the new records, merges in the findings of\n"
    "         FILE documents, and writes it (version 2). Every FILE is parsed\n"
    "         before anything is written.\n"
    "  show   prints the records as a table in dataset order: time, fuzzer,\n"
    "         branch, target, commit, status, count, findings, duration.\n"
    "  stats  prints the window, the commits and records in the dataset, and per\n"
    "         fuzzer its records, passes, failures and distinct targets.\n"
    "  report prints the harness check first (the canary failed as it must, or\n"
    "         did not: a harness problem), then every target that fails now with\n"
    "         its regression range; with --html FILE it writes one\n"
    "         self-contained HTML page instead: the harness check, a heat map of\n"
    "         target x commit, targets not passing per commit, task durations\n"
    "         per fuzzer, and each target's regression range. A canary's planned\n"
    "         failure never counts as failing.\n"
    "  history prints the target's records across the window, oldest commit\n"
    "         first, then per fuzzer and branch its regression range: the first\n"
    "         commit of the failing streak that reaches its newest tested commit\n"
    "         and the last commit it passed on before it.\n"
    "  findings lists the findings: state, id, title, first seen, the fixed\n"
    "         range (last bad commit and fixing commit) or the last sighting, the\n"
    "         state per branch and the command that reproduces it; --json prints\n"
    "         them as the dataset holds them (a JSON array).\n"
    "  sarif  writes the open findings to FILE as SARIF 2.1.0 (one result per\n"
    "         finding, for GitHub code scanning).\n"
    "  coverage prints the target's coverage per fuzzer, branch and commit,\n"
    "         oldest commit first: lines, functions and regions covered of\n"
    "         their totals, what measuring cost, and the stored HTML report;\n"
    "         with --json one object, {BRANCH: [{commit, time, fuzzer,\n"
    "         status, coverage}, ...]}.\n"
    "\n"
    "Commits are in the order git history puts them (a parent before its\n"
    "children, otherwise by commit time), read from the repository of --repo;\n"
    "commits it does not have come first, by their newest record's time (the\n"
    "merge window's recency). Times shown are each target's own records'.\n"
    "fail, timeout and error break a target; pass mends it; a commit a target\n"
    "was not tested on changes nothing. A target whose first record in the\n"
    "window fails broke there when a git parent of that commit passed.\n"
    "\n"
    "URL is file:///abs/path, file://rel/path (relative to the current\n"
    "directory), a path, or gs://bucket/object. Options may follow the URL.\n"
    "\n"
    "options:\n"
    "  --into URL      merge: the dataset to write (created if missing)\n"
    "  --config FILE   merge: project configuration giving each fuzzer's merge\n"
    "                  strategy and the window; report, history: which\n"
    "                  fuzzers are canaries (default: $CFO_CONFIG, else cfo.ini\n"
    "                  (merge: in the current directory; report, history: in\n"
    "                  the repository's root, with no repository in the current\n"
    "                  directory), else the built-in fuzzers)\n"
    "  --repo PATH     report, history: the git repository whose history orders\n"
    "                  the commits (default: the current directory's, when it\n"
    "                  is in one; else commits are ordered by record time)\n"
    "  --window N      merge: keep the records of the N most recent commits\n"
    "                  (1..100000; default: the configuration's window, else the\n"
    "                  dataset's, else 32)\n"
    "  --fuzzer NAME   show, report, history: only records of this fuzzer\n"
    "  --branch NAME   show, report, history: only records of this branch\n"
    "  --target NAME   show: only records of this target; history: the target\n"
    "                  (required)\n"
    "  --html FILE     report: write the HTML page to FILE\n"
    "  --state STATE   findings: only open or only fixed findings\n"
    "  --json          findings, coverage: print JSON instead of a table\n"
    "  -h, --help      print this text and exit\n"
    "  --version       print the version and exit\n"
    "\n"
    "exit status: 0 success; 2 usage or configuration error; 3 the dataset or an\n"
    "input file could not be read, parsed or written (nothing is written then),\n"
    "or history (coverage) found no record (with coverage) of the target.\n";
/* clang-format on */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cfo_error("%s", msg);
    fputs(SYNOPSIS "Run 'cfo-dataset --help' for the details.\n", stderr);
    return EXIT_USAGE;
}

/* The options of the subcommands; each takes those of its mask. */
enum {
    OPT_INTO = 1u << 0,
    OPT_CONFIG = 1u << 1,
    OPT_WINDOW = 1u << 2,
    OPT_FUZZER = 1u << 3,
    OPT_BRANCH = 1u << 4,
    OPT_TARGET = 1u << 5,
    OPT_HTML = 1u << 6,
    OPT_REPO = 1u << 7,
    ARG_URL = 1u << 8,   /* one dataset URL and no other argument */
    ARG_FILES = 1u << 9, /* one FILE or more */
    OPT_STATE = 1u << 10,
    OPT_JSON = 1u << 11,
    ARG_NO_LOAD = 1u << 13, /* ARG_URL, but the subcommand reads what it needs itself */
    ARG_OUT = 1u << 12,     /* with ARG_URL: one output FILE after the URL */
};

/* A subcommand's arguments; NULL (0) where not given. */
typedef struct sub_args {
    const char *into, *config, *fuzzer, *branch, *target, *html, *repo, *url, *state, *out;
    int64_t window;
    bool json;
    char **files; /* ARG_FILES */
    int nfiles;
} sub_args;

/* Every option but --help; a string option's value goes to its field, the
 * number of --window is parsed. */
#define NO_FIELD SIZE_MAX
static const struct option_row {
    struct option opt;
    unsigned bit;
    size_t field;    /* offset of the const char * in sub_args, or NO_FIELD */
    const char *arg; /* its value's name, for "--into URL is required" */
} option_table[] = {
    {{"into", required_argument, NULL, 'i'}, OPT_INTO, offsetof(sub_args, into), "URL"},
    {{"config", required_argument, NULL, 'c'}, OPT_CONFIG, offsetof(sub_args, config), "FILE"},
    {{"window", required_argument, NULL, 'w'}, OPT_WINDOW, NO_FIELD, "N"},
    {{"html", required_argument, NULL, 'o'}, OPT_HTML, offsetof(sub_args, html), "FILE"},
    {{"fuzzer", required_argument, NULL, 'f'}, OPT_FUZZER, offsetof(sub_args, fuzzer), "NAME"},
    {{"branch", required_argument, NULL, 'b'}, OPT_BRANCH, offsetof(sub_args, branch), "NAME"},
    {{"target", required_argument, NULL, 't'}, OPT_TARGET, offsetof(sub_args, target), "NAME"},
    {{"repo", required_argument, NULL, 'r'}, OPT_REPO, offsetof(sub_args, repo), "PATH"},
    {{"state", required_argument, NULL, 's'}, OPT_STATE, offsetof(sub_args, state), "STATE"},
    {{"json", no_argument, NULL, 'j'}, OPT_JSON, NO_FIELD, NULL},
};
#define NOPTIONS (sizeof option_table / sizeof option_table[0])

static const char **string_field(sub_args *a, const struct option_row *row)
{
    return (const char **)((char *)a + row->field);
}

/* getopt_long over argv (argv[0] is the subcommand), reporting errors our way. */
static int next_opt(int argc, char **argv, const struct option *opts, const char *cmd)
{
    int c = getopt_long(argc, argv, ":h", opts, NULL);
    if (c == '?') {
        if (optopt != 0)
            usage_error("%s: unknown option '-%c'", cmd, optopt);
        else
            usage_error("%s: unknown option '%s'", cmd, argv[optind - 1]);
    } else if (c == ':') {
        usage_error("%s: option '%s' needs an argument", cmd, argv[optind - 1]);
    }
    return c;
}

/* Parses the arguments of subcommand cmd, which takes the options and
 * arguments of the bits of takes (and --help), into a; those of requires must
 * be given. Returns -1 to go on, else the exit status: 0 after --help,
 * EXIT_USAGE after saying what is wrong. */
static int parse_args(int argc, char **argv, const char *cmd, unsigned takes, unsigned requires,
                      sub_args *a)
{
    struct option opts[NOPTIONS + 2];
    size_t n = 0;
    for (size_t i = 0; i < NOPTIONS; i++)
        if (option_table[i].bit & takes)
            opts[n++] = option_table[i].opt;
    opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    opts[n] = (struct option){NULL, 0, NULL, 0};
    memset(a, 0, sizeof *a);
    int c;
    while ((c = next_opt(argc, argv, opts, cmd)) != -1) {
        if (c == 'h') {
            fputs(usage_text, stdout);
            return 0;
        }
        const struct option_row *row = NULL;
        for (size_t i = 0; i < NOPTIONS && row == NULL; i++)
            if (option_table[i].opt.val == c)
                row = &option_table[i];
        cfo_diag d = {{0}};
        if (row == NULL)
            return EXIT_USAGE;
        if (row->bit == OPT_JSON)
            a->json = true;
        else if (row->field != NO_FIELD)
            *string_field(a, row) = optarg;
        else if (cfo_parse_int(optarg, 1, CFO_DATASET_MAX_WINDOW, &a->window, &d) != CFO_OK)
            return usage_error("%s: --window: %s", cmd, d.msg);
    }
    if (takes & ARG_URL) {
        if (optind >= argc)
            return usage_error("%s: the dataset URL is missing", cmd);
        int want = (takes & ARG_OUT) ? 2 : 1;
        if ((takes & ARG_OUT) && argc - optind < 2)
            return usage_error("%s: the output FILE is missing", cmd);
        if (argc - optind > want)
            return usage_error("%s: unexpected argument '%s'", cmd, argv[optind + want]);
        a->url = argv[optind];
        if (takes & ARG_OUT)
            a->out = argv[optind + 1];
    }
    for (size_t i = 0; i < NOPTIONS; i++)
        if ((option_table[i].bit & requires) && option_table[i].field != NO_FIELD &&
            *string_field(a, &option_table[i]) == NULL)
            return usage_error("%s: --%s %s is required", cmd, option_table[i].opt.name,
                               option_table[i].arg);
    if (takes & ARG_FILES) {
        if (optind >= argc)
            return usage_error("%s: no input FILE given", cmd);
        a->files = argv + optind;
        a->nfiles = argc - optind;
    }
    if (a->html != NULL && a->html[0] == '\0')
        return usage_error("%s: --html needs a file name", cmd);
    if (a->state != NULL && strcmp(a->state, "open") != 0 && strcmp(a->state, "fixed") != 0)
        return usage_error("%s: --state must be open or fixed, not '%s'", cmd, a->state);
    if (a->out != NULL && a->out[0] == '\0')
        return usage_error("%s: the output FILE is empty", cmd);
    return -1;
}

static cfo_err open_storage(const char *url, cfo_storage **st)
{
    cfo_diag d = {{0}};
    cfo_err err = cfo_storage_open(url, st, &d);
    if (err != CFO_OK)
        cfo_error("%s", d.msg);
    return err;
}

static cfo_err null_sink(void *ctx, const void *data, size_t len, cfo_diag *d)
{
    (void)ctx;
    (void)data;
    (void)len;
    (void)d;
    return CFO_OK;
}

/* Loads the dataset at url for reading into a new set, *out (destroy it),
 * and its window. A missing dataset is an error here, since showing nothing
 * for a mistyped URL would hide the mistake. Returns 0, or EXIT_DATA after
 * saying why (*out is NULL then). */
static int load_existing(const char *url, cfo_recset **out, int *window)
{
    *out = NULL;
    *window = 0;
    cfo_storage *st = NULL;
    if (open_storage(url, &st) != CFO_OK)
        return EXIT_DATA;
    cfo_recset *rs = cfo_recset_new();
    cfo_diag d = {{0}};
    int rc = 0;
    if (cfo_store_load(st, rs, window, &d) != CFO_OK) {
        cfo_error("%s", d.msg);
        rc = EXIT_DATA;
    } else if (rs->n == 0 && *window == 0) {
        /* Empty: tell a missing dataset from an empty array (a cheap read). */
        char token[CFO_TOKEN_MAX];
        if (cfo_storage_read(st, null_sink, NULL, token, &d) == CFO_ENOTFOUND) {
            cfo_error("dataset %s does not exist", st->display);
            rc = EXIT_DATA;
        }
    }
    cfo_storage_destroy(&st);
    if (rc != 0)
        cfo_recset_destroy(&rs);
    *out = rs;
    return rc;
}

/* --- merge --------------------------------------------------------------- */

/* Merges the findings of one input document into fs. */
static cfo_err merge_findings_text(cfo_findings *fs, const cfo_buf *text, const char *name,
                                   cfo_diag *d)
{
    cfo_findings one;
    cfo_findings_init(&one);
    cfo_err err = cfo_findings_parse(text->data, text->len, name, &one, d);
    if (err == CFO_OK)
        cfo_lifecycle_merge(fs, &one);
    cfo_findings_fini(&one);
    return err;
}

static int load_config(const char *path, const char *root, cfo_config **cfg)
{
    cfo_diag d = {{0}};
    if (cfo_config_locate(path, root, cfg, &d) != CFO_OK) {
        cfo_error("%s", d.msg);
        return EXIT_USAGE;
    }
    return 0;
}

static int cmd_merge(const sub_args *a, const cfo_recset *unused, int unused_window)
{
    (void)unused;
    (void)unused_window;
    cfo_config *cfg = NULL;
    int rc = load_config(a->config, ".", &cfg);
    if (rc != 0)
        return rc;

    cfo_storage *st = NULL;
    cfo_recset *records = cfo_recset_new();
    cfo_findings findings;
    cfo_findings_init(&findings);
    cfo_buf ftext;
    cfo_buf_init(&ftext);
    if (open_storage(a->into, &st) != CFO_OK) {
        rc = EXIT_DATA;
        goto out;
    }
    /* Every input is parsed before the dataset is touched. */
    for (int i = 0; i < a->nfiles; i++) {
        cfo_diag d = {{0}};
        cfo_dataset_meta meta;
        cfo_buf_reset(&ftext);
        if (cfo_dataset_parse_file_capture(a->files[i], records, &meta, &ftext, NULL, &d) !=
                CFO_OK ||
            (ftext.len > 0 && merge_findings_text(&findings, &ftext, a->files[i], &d) != CFO_OK)) {
            cfo_error("%s; nothing was written", d.msg);
            rc = EXIT_DATA;
            goto out;
        }
    }
    cfo_commit_stats stats;
    cfo_diag d = {{0}};
    if (cfo_store_commit_findings(st, records, &findings, cfg, (int)a->window, &stats, NULL, &d) !=
        CFO_OK) {
        cfo_error("%s", d.msg);
        rc = EXIT_DATA;
        goto out;
    }
    printf("merged %zu new records into %s: %zu before, %zu after, %d commits in window\n",
           stats.added, a->into, stats.before, stats.after, stats.window);
out:
    cfo_buf_fini(&ftext);
    cfo_findings_fini(&findings);
    cfo_storage_destroy(&st);
    cfo_recset_destroy(&records);
    cfo_config_destroy(&cfg);
    return rc;
}

/* --- findings and sarif ---------------------------------------------------- */

/* Loads the findings of the dataset at url (which must exist). */
static int load_findings(const char *url, cfo_findings *fs)
{
    cfo_storage *st = NULL;
    if (open_storage(url, &st) != CFO_OK)
        return EXIT_DATA;
    cfo_diag d = {{0}};
    int rc = 0;
    char token[CFO_TOKEN_MAX];
    if (cfo_storage_read(st, null_sink, NULL, token, &d) == CFO_ENOTFOUND) {
        cfo_error("dataset %s does not exist", st->display);
        rc = EXIT_DATA;
    } else if (cfo_store_load_findings(st, fs, &d) != CFO_OK) {
        cfo_error("%s", d.msg);
        rc = EXIT_DATA;
    }
    cfo_storage_destroy(&st);
    return rc;
}

static void print_finding(const cfo_finding *f)
{
    char first[13], at[13];
    snprintf(first, sizeof first, "%s", f->first.commit);
    printf("%-5s  %s\n       %s\n       first seen %s on %s", cfo_finding_state(f), f->id, f->title,
           first, f->first.branch);
    if (f->has_fixed) {
        char bad[13];
        snprintf(bad, sizeof bad, "%s", f->fixed_last_bad ? f->fixed_last_bad : "?");
        snprintf(at, sizeof at, "%s", f->fixed.commit);
        printf("; fixed in %s..%s on %s", bad, at, f->fixed.branch);
    } else {
        snprintf(at, sizeof at, "%s", f->last.commit);
        printf("; last seen %s on %s", at, f->last.branch);
    }
    if (f->regressed > 0)
        printf("; regressed %lld time%s", (long long)f->regressed, f->regressed == 1 ? "" : "s");
    printf("\n       branches:");
    for (size_t i = 0; i < f->nbranches; i++) {
        const cfo_finding_branch *b = &f->branches[i];
        printf(" %s=%s", b->branch, b->open ? "open" : "fixed");
        if (!b->open && b->fixed_commit != NULL)
            printf(" (%.12s..%.12s)", b->last_bad ? b->last_bad : "?", b->fixed_commit);
    }
    char *cmd = cfo_finding_reproduce_command(f);
    printf("\n       reproduce: %s\n", cmd);
    free(cmd);
}

static bool in_state(const cfo_finding *f, const void *state)
{
    return strcmp(cfo_finding_state(f), state) == 0;
}

static int cmd_findings(const sub_args *a, const cfo_recset *unused, int unused_window)
{
    (void)unused;
    (void)unused_window;
    cfo_findings fs;
    cfo_findings_init(&fs);
    int rc = load_findings(a->url, &fs);
    if (rc != 0)
        goto out;
    if (a->state != NULL)
        cfo_findings_filter(&fs, in_state, a->state);
    if (a->json) {
        cfo_buf b;
        cfo_buf_init(&b);
        cfo_findings_write(&fs, &b);
        printf("%s\n", b.data);
        cfo_buf_fini(&b);
    } else if (fs.n == 0) {
        printf("no %sfindings\n",
               a->state ? (strcmp(a->state, "open") == 0 ? "open " : "fixed ") : "");
    } else {
        for (size_t i = 0; i < fs.n; i++)
            print_finding(&fs.v[i]);
    }
    if (fflush(stdout) != 0)
        rc = EXIT_DATA;
out:
    cfo_findings_fini(&fs);
    return rc;
}

static int cmd_sarif(const sub_args *a, const cfo_recset *unused, int unused_window)
{
    (void)unused;
    (void)unused_window;
    cfo_findings fs;
    cfo_findings_init(&fs);
    int rc = load_findings(a->url, &fs);
    if (rc == 0) {
        cfo_buf b;
        cfo_buf_init(&b);
        cfo_sarif_write(&fs, &b);
        cfo_diag d = {{0}};
        if (cfo_write_file_atomic(a->out, b.data, b.len, &d) != CFO_OK) {
            cfo_error("%s", d.msg);
            rc = EXIT_DATA;
        }
        cfo_buf_fini(&b);
    }
    cfo_findings_fini(&fs);
    return rc;
}

/* --- show ---------------------------------------------------------------- */

enum {
    COL_TIME,
    COL_FUZZER,
    COL_BRANCH,
    COL_TARGET,
    COL_COMMIT,
    COL_STATUS,
    COL_COUNT,
    COL_FINDINGS,
    COL_DURATION,
    NCOLS
};

static const char *const col_names[NCOLS] = {"TIME",   "FUZZER", "BRANCH",   "TARGET",  "COMMIT",
                                             "STATUS", "COUNT",  "FINDINGS", "DURATION"};
/* Numbers are right-aligned. */
static const bool col_right[NCOLS] = {
    [COL_COUNT] = true, [COL_FINDINGS] = true, [COL_DURATION] = true};

typedef struct row {
    char time[40];
    char commit[13];
    char count[24];
    char findings[24];
    char duration[32];
    const char *cells[NCOLS];
} row;

static void fill_row(const cfo_record *r, row *out)
{
    if (r->has_time)
        cfo_format_time(r->time_ms, out->time, sizeof out->time);
    else
        snprintf(out->time, sizeof out->time, "-");
    snprintf(out->commit, sizeof out->commit, "%.12s", r->commit ? r->commit : "-");
    snprintf(out->count, sizeof out->count, "%lld", (long long)r->count);
    snprintf(out->findings, sizeof out->findings, "%lld", (long long)r->findings);
    if (r->duration < 60.0)
        snprintf(out->duration, sizeof out->duration, "%.2fs", r->duration);
    else
        cfo_format_duration((int64_t)(r->duration * 1000.0 + 0.5), out->duration,
                            sizeof out->duration);
    out->cells[COL_TIME] = out->time;
    out->cells[COL_FUZZER] = r->fuzzer;
    out->cells[COL_BRANCH] = r->branch;
    out->cells[COL_TARGET] = r->target;
    out->cells[COL_COMMIT] = out->commit;
    out->cells[COL_STATUS] = cfo_status_name(r->status);
    out->cells[COL_COUNT] = out->count;
    out->cells[COL_FINDINGS] = out->findings;
    out->cells[COL_DURATION] = out->duration;
    for (int i = 0; i < NCOLS; i++)
        if (out->cells[i] == NULL || out->cells[i][0] == '\0')
            out->cells[i] = "-";
}

static void print_row(const char *const *cells, const size_t *width)
{
    for (int i = 0; i < NCOLS; i++) {
        int w = (int)width[i];
        const char *sep = i == NCOLS - 1 ? "\n" : "  ";
        if (col_right[i])
            printf("%*s%s", w, cells[i], sep);
        else if (i == NCOLS - 1)
            printf("%s%s", cells[i], sep); /* no trailing blanks */
        else
            printf("%-*s%s", w, cells[i], sep);
    }
}

/* Prints the records as a table, each column as wide as its widest cell. */
static void print_table(const cfo_record *const *v, size_t n)
{
    size_t width[NCOLS];
    for (int i = 0; i < NCOLS; i++)
        width[i] = strlen(col_names[i]);
    row r;
    for (size_t i = 0; i < n; i++) {
        fill_row(v[i], &r);
        for (int k = 0; k < NCOLS; k++)
            if (strlen(r.cells[k]) > width[k])
                width[k] = strlen(r.cells[k]);
    }
    print_row(col_names, width);
    for (size_t i = 0; i < n; i++) {
        fill_row(v[i], &r);
        print_row(r.cells, width);
    }
}

/* Whether r passes the filters of a: --fuzzer, --branch, --target. */
static bool matches(const cfo_record *r, const sub_args *a)
{
    return (a->fuzzer == NULL || cfo_strcmp0(r->fuzzer, a->fuzzer) == 0) &&
           (a->branch == NULL || cfo_strcmp0(r->branch, a->branch) == 0) &&
           (a->target == NULL || cfo_strcmp0(r->target, a->target) == 0);
}

static int cmd_show(const sub_args *a, const cfo_recset *rs, int window)
{
    (void)window;
    const cfo_record **v = cfo_xcalloc(rs->n + 1, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < rs->n; i++)
        if (matches(&rs->v[i], a))
            v[n++] = &rs->v[i];
    print_table(v, n);
    free(v);
    return fflush(stdout) == 0 ? 0 : EXIT_DATA;
}

/* --- stats --------------------------------------------------------------- */

/* Interned strings compare by pointer, so distinct values are distinct pointers. */
static int ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (const char *const *)a, y = (uintptr_t) * (const char *const *)b;
    return (x > y) - (x < y);
}

static size_t count_distinct(const char **v, size_t n)
{
    qsort(v, n, sizeof *v, ptr_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || v[i] != v[i - 1])
            k++;
    return k;
}

static int str_cmp(const void *a, const void *b)
{
    return cfo_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

static int cmd_stats(const sub_args *a, const cfo_recset *rs, int window)
{
    const char **tmp = cfo_xcalloc(rs->n + 1, sizeof *tmp);
    for (size_t i = 0; i < rs->n; i++)
        tmp[i] = rs->v[i].commit;
    size_t commits = count_distinct(tmp, rs->n);

    printf("dataset: %s\n", a->url);
    if (window > 0)
        printf("window: %d commits\n", window);
    else
        printf("window: %d commits (the dataset names none: the default)\n", CFO_DEFAULT_WINDOW);
    printf("commits in window: %zu\n", commits);
    printf("records: %zu\n", rs->n);

    /* Fuzzer names, sorted and distinct. */
    for (size_t i = 0; i < rs->n; i++)
        tmp[i] = rs->v[i].fuzzer;
    qsort(tmp, rs->n, sizeof *tmp, str_cmp);
    size_t nf = 0;
    for (size_t i = 0; i < rs->n; i++)
        if (nf == 0 || cfo_strcmp0(tmp[i], tmp[nf - 1]) != 0)
            tmp[nf++] = tmp[i];

    size_t wname = strlen("FUZZER");
    for (size_t i = 0; i < nf; i++)
        if (tmp[i] && strlen(tmp[i]) > wname)
            wname = strlen(tmp[i]);
    printf("%-*s  %8s  %8s  %8s  %8s\n", (int)wname, "FUZZER", "RECORDS", "PASS", "FAIL",
           "TARGETS");
    const char **targets = cfo_xcalloc(rs->n + 1, sizeof *targets);
    for (size_t f = 0; f < nf; f++) {
        size_t records = 0, pass = 0, fail = 0, nt = 0;
        for (size_t i = 0; i < rs->n; i++) {
            const cfo_record *r = &rs->v[i];
            if (cfo_strcmp0(r->fuzzer, tmp[f]) != 0)
                continue;
            records++;
            if (r->ok)
                pass++;
            else
                fail++;
            targets[nt++] = r->target;
        }
        printf("%-*s  %8zu  %8zu  %8zu  %8zu\n", (int)wname, tmp[f] ? tmp[f] : "-", records, pass,
               fail, count_distinct(targets, nt));
    }
    free(targets);
    free(tmp);
    return fflush(stdout) == 0 ? 0 : EXIT_DATA;
}

/* --- report and history --------------------------------------------------- */

/* The repository whose history orders the commits: --repo, which must be
 * one, else the current directory's when it is in one (*top NULL then when
 * it is not). Returns 0, or EXIT_USAGE after saying why. */
static int find_repo(const sub_args *a, char **top)
{
    cfo_diag d = {{0}};
    *top = NULL;
    if (cfo_git_toplevel(a->repo ? a->repo : ".", top, &d) == CFO_OK)
        return 0;
    if (a->repo == NULL)
        return 0;
    return usage_error("--repo: %s", d.msg);
}

/* Marks the canaries of the configuration (--config, else the repository's
 * cfo.ini, else the built-in fuzzers) in h. Returns 0, or EXIT_USAGE. */
static int mark_canaries(const sub_args *a, const char *top, cfo_history *h)
{
    cfo_config *cfg = NULL;
    int rc = load_config(a->config, top ? top : ".", &cfg);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < cfg->nfuzzers; i++)
        if (cfg->fuzzers[i].kind == CFO_KIND_CANARY)
            cfo_history_mark_canary(h, cfg->fuzzers[i].name);
    cfo_config_destroy(&cfg);
    return 0;
}

/* A history and the git order it borrows. */
typedef struct ordered_history {
    cfo_history *h;
    cfo_git_commit *order;
    size_t norder;
    cfo_history_git *git;
} ordered_history;

/* The history of rs with its commits in git's order when the repository top
 * (NULL: none) can tell it, else in record-time order. */
static cfo_history *history_of(const cfo_recset *rs, const char *top, ordered_history *oh)
{
    memset(oh, 0, sizeof *oh);
    if (top != NULL) {
        const char **shas = cfo_xcalloc(rs->n + 1, sizeof *shas);
        for (size_t i = 0; i < rs->n; i++)
            shas[i] = rs->v[i].commit;
        cfo_diag d = {{0}};
        if (cfo_git_history_order(top, shas, rs->n, &oh->order, &oh->norder, &d) != CFO_OK)
            cfo_warn("%s: commits are ordered by record time", d.msg);
        free(shas);
    }
    oh->git = cfo_xcalloc(oh->norder + 1, sizeof *oh->git);
    for (size_t i = 0; i < oh->norder; i++)
        oh->git[i] = (cfo_history_git){.sha = oh->order[i].sha, .parents = oh->order[i].parents};
    oh->h = cfo_history_new_git(rs, oh->git, oh->norder);
    return oh->h;
}

static void ordered_history_fini(ordered_history *oh)
{
    cfo_history_destroy(&oh->h);
    free(oh->git);
    cfo_git_commits_free(&oh->order, oh->norder);
}

/* "sha (time)": the commit, at the time of the target's own record there. */
static void commit_text(const char *sha, const cfo_record *r, char *out, size_t len)
{
    char when[40];
    if (r != NULL && r->has_time)
        cfo_format_time(r->time_ms, when, sizeof when);
    else
        snprintf(when, sizeof when, "no time");
    snprintf(out, len, "%.12s (%s)", sha ? sha : "-", when);
}

/* A canary's series as the harness check it is. */
static void print_canary(const cfo_history_series *s)
{
    const cfo_record *last = s->canary_last;
    char at[80];
    commit_text(last->commit, last, at, sizeof at);
    if (s->canary_broken)
        printf("HARNESS PROBLEM: canary %s on %s ended '%s' at %s instead of failing: "
               "failures may go unrecorded\n",
               s->fuzzer, s->branch, cfo_status_name(last->status), at);
    else
        printf("harness check: OK (canary %s on %s failed as it must at %s)\n", s->fuzzer,
               s->branch, at);
}

/* The harness check first, a broken one before a working one. */
static void print_harness(const cfo_history *h)
{
    if (h->ncanary == 0) {
        printf("harness check: no canary record in the window\n");
        return;
    }
    for (int broken = 1; broken >= 0; broken--)
        for (size_t k = 0; k < h->nseries; k++)
            if (h->series[k].canary && h->series[k].canary_broken == (broken == 1))
                print_canary(&h->series[k]);
}

/* One or two lines: the series' state and, when it has one, its range. */
static void print_range(const cfo_history *h, const cfo_history_series *s)
{
    char bad[80], good[80];
    if (s->canary) {
        print_canary(s);
        return;
    }
    printf("%s %s %s: ", s->fuzzer, s->branch, s->target);
    if (!s->failing) {
        commit_text(h->commits[s->last_good].sha, s->last_good_rec, good, sizeof good);
        printf("passing, last passed at %s\n", good);
        return;
    }
    const char *first = h->commits[s->first_bad].sha;
    commit_text(first, s->first_bad_rec, bad, sizeof bad);
    if (s->last_good == CFO_HISTORY_NONE && s->parent_pass != NULL) {
        const cfo_record *p = s->parent_pass;
        commit_text(p->commit, p, good, sizeof good);
        printf("broke at %s; its parent %s passed on %s\n", bad, good, p->branch);
        printf("  regression range: %s..%s\n", p->commit, first);
        return;
    }
    if (s->last_good == CFO_HISTORY_NONE) {
        printf("failing since its first record at %s; no earlier record in the window\n", bad);
        return;
    }
    commit_text(h->commits[s->last_good].sha, s->last_good_rec, good, sizeof good);
    printf("failing since %s; last passed at %s\n", bad, good);
    printf("  regression range: %s..%s\n", h->commits[s->last_good].sha, first);
}

static int cmd_report(const sub_args *a, const cfo_recset *all, int window)
{
    char *top = NULL;
    int rc = find_repo(a, &top);
    if (rc != 0)
        return rc;
    cfo_recset *rs = cfo_recset_new();
    for (size_t i = 0; i < all->n; i++)
        if (matches(&all->v[i], a))
            cfo_recset_add(rs, &all->v[i]);
    ordered_history oh;
    cfo_history *h = history_of(rs, top, &oh);
    if (a->fuzzer != NULL || a->branch != NULL) {
        /* A parent that passed may be on a branch the filter leaves out. */
        ordered_history whole;
        cfo_history_parents_from(h, history_of(all, top, &whole));
        ordered_history_fini(&whole);
    }
    rc = mark_canaries(a, top, h);
    size_t failing = cfo_history_failing(h);
    cfo_findings fs;
    cfo_findings_init(&fs);
    if (rc == 0)
        rc = load_findings(a->url, &fs);
    if (rc == 0 && a->html != NULL) {
        cfo_html_opts o = {
            .source = a->url, .window = window, .generated_ms = cfo_wall_ms(), .findings = &fs};
        cfo_diag d = {{0}};
        if (cfo_html_write(a->html, h, &o, &d) != CFO_OK) {
            cfo_error("%s", d.msg);
            rc = EXIT_DATA;
        } else {
            printf("wrote %s: %zu targets, %zu commits, %zu failing now\n", a->html, h->nseries,
                   h->ncommits, failing);
        }
    } else if (rc == 0) {
        print_harness(h);
        printf("%zu targets, %zu commits in the window, %zu failing now\n", h->nseries, h->ncommits,
               failing);
        for (size_t k = 0; k < h->nseries; k++)
            if (h->series[k].failing)
                print_range(h, &h->series[k]);
        size_t open = 0;
        for (size_t i = 0; i < fs.n; i++)
            open += fs.v[i].open;
        printf("%zu findings: %zu open, %zu fixed (cfo-dataset findings lists them)\n", fs.n, open,
               fs.n - open);
    }
    if (fflush(stdout) != 0)
        rc = EXIT_DATA;
    cfo_findings_fini(&fs);
    ordered_history_fini(&oh);
    cfo_recset_destroy(&rs);
    free(top);
    return rc;
}

/* The history of the whole dataset (the order is its, not one target's
 * alone) in git's order when there is a repository, canaries marked.
 * Returns 0, or an exit status with nothing left to free. */
static int whole_history(const sub_args *a, const cfo_recset *all, ordered_history *oh)
{
    char *top = NULL;
    int rc = find_repo(a, &top);
    if (rc != 0)
        return rc;
    if ((rc = mark_canaries(a, top, history_of(all, top, oh))) != 0)
        ordered_history_fini(oh);
    free(top);
    return rc;
}

/* Says that the dataset has no `what` of the target --fuzzer/--branch
 * narrow; returns EXIT_DATA. */
static int nothing_of_target(const sub_args *a, const char *what, const char *by_fuzzer)
{
    cfo_error("no %s of target '%s'%s%s%s%s in %s", what, a->target, a->fuzzer ? by_fuzzer : "",
              a->fuzzer ? a->fuzzer : "", a->branch ? " on branch " : "",
              a->branch ? a->branch : "", a->url);
    return EXIT_DATA;
}

static int cmd_history(const sub_args *a, const cfo_recset *all, int window)
{
    (void)window;
    ordered_history oh;
    int rc = whole_history(a, all, &oh);
    if (rc != 0)
        return rc;
    cfo_history *h = oh.h;
    const cfo_record **v = cfo_xcalloc(all->n + 1, sizeof *v);
    size_t n = 0;
    for (size_t k = 0; k < h->nseries; k++) {
        const cfo_history_series *s = &h->series[k];
        for (size_t i = 0; i < s->nrecords && matches(s->records[0], a); i++)
            v[n++] = s->records[i];
    }
    if (n == 0) {
        rc = nothing_of_target(a, "record", " of fuzzer ");
    } else {
        print_table(v, n);
        printf("\n");
        for (size_t k = 0; k < h->nseries; k++)
            if (matches(h->series[k].records[0], a))
                print_range(h, &h->series[k]);
        if (fflush(stdout) != 0)
            rc = EXIT_DATA;
    }
    free(v);
    ordered_history_fini(&oh);
    return rc;
}

/* --- coverage ------------------------------------------------------------- */

static void print_pair(const char *name, const int64_t v[2])
{
    printf("  %s %lld/%lld (%.1f%%)", name, (long long)v[0], (long long)v[1],
           v[1] > 0 ? 100.0 * (double)v[0] / (double)v[1] : 0.0);
}

/* One point of the series, as text. */
static void print_point(const cfo_record *r)
{
    char when[40] = "";
    if (r->has_time)
        cfo_format_time(r->time_ms, when, sizeof when);
    cfo_coverage c;
    cfo_diag d = {{0}};
    if (cfo_coverage_parse(r->coverage, &c, &d) != CFO_OK)
        return; /* the reader checked it: cannot happen */
    printf("  %.12s  %s  %-7s", r->commit, when, cfo_status_name(r->status));
    print_pair("lines", c.lines);
    print_pair("functions", c.functions);
    print_pair("regions", c.regions);
    printf("  cost %.1fs\n", c.seconds);
    if (c.report[0] != '\0')
        printf("    %s\n", c.report);
}

/* The same as a member of a JSON array. */
static void gen_point(yajl_gen g, const cfo_record *r)
{
    char when[40] = "";
    if (r->has_time)
        cfo_format_time(r->time_ms, when, sizeof when);
    yajl_gen_map_open(g);
    cfo_json_str(g, "commit", r->commit);
    cfo_json_str(g, "time", r->has_time ? when : NULL);
    cfo_json_str(g, "fuzzer", r->fuzzer);
    cfo_json_str(g, "status", cfo_status_name(r->status));
    /* Already the dataset's compact, checked JSON. */
    cfo_json_key(g, "coverage");
    yajl_gen_number(g, r->coverage, strlen(r->coverage));
    yajl_gen_map_close(g);
}

/* Prints (text) or generates (g) the points of the series of a that are
 * on branch (NULL: any); returns how many. */
static size_t coverage_points(const sub_args *a, const cfo_history *h, const char *branch,
                              yajl_gen g)
{
    size_t points = 0;
    for (size_t k = 0; k < h->nseries; k++) {
        const cfo_history_series *s = &h->series[k];
        if (!matches(s->records[0], a) || (branch != NULL && strcmp(s->branch, branch) != 0))
            continue;
        bool first = true;
        for (size_t i = 0; i < s->ncells; i++) {
            const cfo_record *r = cfo_history_coverage_on(s, h->commits[s->cells[i].commit].sha);
            if (r == NULL)
                continue;
            if (g != NULL) {
                gen_point(g, r);
            } else {
                if (first)
                    printf("%s %s %s\n", s->fuzzer, s->branch, s->target);
                print_point(r);
            }
            first = false;
            points++;
        }
    }
    return points;
}

static void print_coverage_json(const sub_args *a, const cfo_history *h)
{
    /* One array per branch, whichever fuzzers measured the target there. */
    cfo_strv branches;
    cfo_strv_init(&branches);
    for (size_t k = 0; k < h->nseries; k++)
        if (matches(h->series[k].records[0], a) &&
            !cfo_strv_contains(&branches, h->series[k].branch))
            cfo_strv_push(&branches, h->series[k].branch);
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    for (size_t b = 0; b < branches.n; b++) {
        cfo_json_key(g, branches.v[b]);
        yajl_gen_array_open(g);
        coverage_points(a, h, branches.v[b], g);
        yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
    char *text = cfo_json_text(g);
    puts(text);
    free(text);
    cfo_strv_fini(&branches);
}

static int cmd_coverage(const sub_args *a, const cfo_recset *all, int window)
{
    (void)window;
    ordered_history oh;
    int rc = whole_history(a, all, &oh);
    if (rc != 0)
        return rc;
    const cfo_history *h = oh.h;
    /* Counted first, so a target without coverage prints nothing. */
    size_t points = 0;
    for (size_t k = 0; k < h->nseries; k++)
        if (matches(h->series[k].records[0], a))
            for (size_t i = 0; i < h->series[k].ncells; i++)
                points += cfo_history_coverage_on(
                              &h->series[k], h->commits[h->series[k].cells[i].commit].sha) != NULL;
    if (points == 0)
        rc = nothing_of_target(a, "coverage", " by fuzzer ");
    else if (a->json)
        print_coverage_json(a, h);
    else
        coverage_points(a, h, NULL, NULL);
    if (fflush(stdout) != 0)
        rc = EXIT_DATA;
    ordered_history_fini(&oh);
    return rc;
}

/* --- the subcommands ------------------------------------------------------ */

static const struct subcommand {
    const char *name;
    unsigned takes;    /* its options and arguments */
    unsigned requires; /* the options it cannot do without */
    /* a: the arguments; with ARG_URL the dataset at a->url, loaded, and its
     * window (else NULL and 0). Returns the exit status. */
    int (*run)(const sub_args *a, const cfo_recset *rs, int window);
} subcommands[] = {
    {"merge", OPT_INTO | OPT_CONFIG | OPT_WINDOW | ARG_FILES, OPT_INTO, cmd_merge},
    {"show", OPT_FUZZER | OPT_BRANCH | OPT_TARGET | ARG_URL, 0, cmd_show},
    {"stats", ARG_URL, 0, cmd_stats},
    {"report", OPT_HTML | OPT_FUZZER | OPT_BRANCH | OPT_REPO | OPT_CONFIG | ARG_URL, 0, cmd_report},
    {"history", OPT_TARGET | OPT_FUZZER | OPT_BRANCH | OPT_REPO | OPT_CONFIG | ARG_URL, OPT_TARGET,
     cmd_history},
    {"findings", OPT_STATE | OPT_JSON | ARG_URL | ARG_NO_LOAD, 0, cmd_findings},
    {"sarif", ARG_URL | ARG_OUT | ARG_NO_LOAD, 0, cmd_sarif},
    {"coverage", OPT_TARGET | OPT_FUZZER | OPT_BRANCH | OPT_REPO | OPT_JSON | ARG_URL, OPT_TARGET,
     cmd_coverage},
};

/* Runs sub over its own arguments (argv[0] is its name). */
static int run_subcommand(const struct subcommand *sub, int argc, char **argv)
{
    sub_args a;
    int rc = parse_args(argc, argv, sub->name, sub->takes, sub->requires, &a);
    if (rc >= 0)
        return rc;
    cfo_recset *rs = NULL;
    int window = 0;
    if ((sub->takes & ARG_URL) && !(sub->takes & ARG_NO_LOAD) &&
        (rc = load_existing(a.url, &rs, &window)) != 0)
        return rc;
    rc = sub->run(&a, rs, window);
    cfo_recset_destroy(&rs);
    return rc;
}

int main(int argc, char **argv)
{
    cfo_log_init("cfo-dataset", CFO_LOG_INFO);
    if (argc < 2)
        return usage_error("no command given");
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || cfo_cmdline_answers("cfo-dataset", cmd, usage_text))
        return CFO_EXIT_OK;
    optind = 1;
    opterr = 0;
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (strcmp(cmd, subcommands[i].name) == 0)
            return run_subcommand(&subcommands[i], argc - 1, argv + 1);
    return usage_error(
        "unknown command '%s' (expected merge, show, stats, report, history, findings, sarif "
        "or coverage)",
        cmd);
}
