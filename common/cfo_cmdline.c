/* cfo_cmdline.c -- exit statuses, usage errors, the configuration file rule
 * and the table-driven option parser of every front end. */
#include "cfo_cmdline.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfo_log.h"
#include "cfo_util.h"

#ifndef CFO_VERSION
#error "CFO_VERSION is set by the build"
#endif

/* Options a table may hold; getopt_long needs them as one array. */
#define MAX_OPTIONS 64

const char *cfo_version(void)
{
    return CFO_VERSION;
}

bool cfo_cmdline_answers(const char *prog, const char *arg, const char *help)
{
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
        fputs(help, stdout);
        return true;
    }
    if (strcmp(arg, "--version") == 0) {
        printf("%s %s\n", prog, cfo_version());
        return true;
    }
    return false;
}

int cfo_usage_error(const char *prog, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cfo_error("%s", msg);
    fprintf(stderr, "Try '%s --help'.\n", prog);
    return CFO_EXIT_USAGE;
}

char *cfo_config_path(const char *given, const char *root)
{
    if (given != NULL)
        return cfo_xstrdup(given);
    const char *env = getenv("CFO_CONFIG");
    if (env != NULL && env[0] != '\0')
        return cfo_xstrdup(env);
    char *ini = cfo_xasprintf("%s/cfo.ini", root ? root : ".");
    if (access(ini, F_OK) == 0)
        return ini;
    free(ini);
    return NULL;
}

cfo_err cfo_config_locate(const char *given, const char *root, cfo_config **out, cfo_diag *d)
{
    char *path = cfo_config_path(given, root);
    cfo_err err = CFO_OK;
    if (path != NULL)
        err = cfo_config_load(path, out, d);
    else
        *out = cfo_config_new_default();
    free(path);
    return err;
}

static const cfo_option *row_named(const cfo_option *table, const char *name)
{
    for (const cfo_option *o = table; o->name != NULL; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

/* The row program takes under o's name (rows of one name may differ per
 * program, in their help), or NULL. */
static const cfo_option *row_for(const cfo_option *table, const char *name, unsigned program)
{
    for (const cfo_option *o = table; o->name != NULL; o++)
        if (strcmp(o->name, name) == 0 && (o->programs & program))
            return o;
    return NULL;
}

static cfo_err apply_choice(const cfo_option *o, const char *arg, int *out, cfo_diag *d)
{
    cfo_buf words;
    cfo_buf_init(&words);
    for (int i = 0; o->choices[i] != NULL; i++) {
        if (strcmp(o->choices[i], arg) == 0) {
            *out = i;
            cfo_buf_fini(&words);
            return CFO_OK;
        }
        cfo_buf_printf(&words, "%s%s",
                       i == 0              ? ""
                       : o->choices[i + 1] ? ", "
                                           : " or ",
                       o->choices[i]);
    }
    cfo_diag_set(d, CFO_EINVAL, "--%s must be %s, not '%s'", o->name, words.data, arg);
    cfo_buf_fini(&words);
    return CFO_EINVAL;
}

static cfo_err check_range(const cfo_option *o, int64_t v, cfo_diag *d)
{
    if ((o->min == 0 && o->max == 0) || (v >= o->min && v <= o->max))
        return CFO_OK;
    return cfo_diag_set(d, CFO_EINVAL, "--%s must be between %s", o->name,
                        o->range ? o->range : "its limits");
}

/* Stores arg (NULL for a flag) into the field o names. */
static cfo_err apply(const cfo_option *o, const char *arg, void *out, cfo_diag *d)
{
    char *field = (char *)out + o->offset;
    int64_t v = 0;
    cfo_err err = CFO_OK;
    switch (o->kind) {
    case CFO_OPT_FLAG:
        *(bool *)field = true;
        break;
    case CFO_OPT_STRING:
    case CFO_OPT_OPT_DIR:
        *(const char **)field = arg;
        break;
    case CFO_OPT_DURATION:
        err = cfo_parse_duration(arg, &v, d);
        if (err == CFO_OK && (err = check_range(o, v, d)) == CFO_OK)
            *(int64_t *)field = v;
        break;
    case CFO_OPT_INT:
        err = cfo_parse_int(arg, o->min, o->max, &v, d);
        if (err == CFO_OK)
            *(int64_t *)field = v;
        break;
    case CFO_OPT_LIST:
        cfo_strv_push((cfo_strv *)field, arg);
        break;
    case CFO_OPT_CHOICE:
        err = apply_choice(o, arg, (int *)field, d);
        break;
    case CFO_OPT_HELP:
    case CFO_OPT_VERSION:
        break;
    }
    if (err != CFO_OK && o->kind != CFO_OPT_CHOICE && strstr(d->msg, o->name) == NULL)
        cfo_diag_prefix(d, "--%s", o->name);
    return err;
}

static int build_longopts(const cfo_option *table, struct option *lo)
{
    int n = 0;
    for (const cfo_option *o = table; o->name != NULL; o++) {
        if (row_named(table, o->name) != o)
            continue; /* one getopt entry per name */
        if (n + 1 >= MAX_OPTIONS)
            abort(); /* a table larger than the parser: a programming error */
        bool takes =
            o->kind != CFO_OPT_FLAG && o->kind != CFO_OPT_HELP && o->kind != CFO_OPT_VERSION;
        lo[n] = (struct option){o->name,
                                o->kind == CFO_OPT_OPT_DIR ? optional_argument
                                : takes                    ? required_argument
                                                           : no_argument,
                                NULL, (int)(o - table) + 256};
        n++;
    }
    lo[n] = (struct option){NULL, 0, NULL, 0};
    return n;
}

int cfo_options_parse(const cfo_cmd *cmd, int argc, char **argv, void *out)
{
    const cfo_option *table = cmd->table;
    const char *prog = cmd->prog;
    struct option lo[MAX_OPTIONS];
    build_longopts(table, lo);
    opterr = 0;
    optind = 1;
    for (;;) {
        int code = getopt_long(argc, argv, "+", lo, NULL);
        if (code == -1)
            break;
        if (code < 256)
            return cfo_usage_error(prog, "unknown or incomplete option '%s'", argv[optind - 1]);
        const cfo_option *o = row_for(table, table[code - 256].name, cmd->program);
        if (o == NULL)
            return cfo_usage_error(prog, "option '--%s' is not one of %s's", table[code - 256].name,
                                   prog);
        if (o->kind == CFO_OPT_HELP) {
            cfo_options_help(stdout, cmd);
            return -1;
        }
        if (o->kind == CFO_OPT_VERSION) {
            printf("%s %s\n", prog, cfo_version());
            return -1;
        }
        const char *arg = optarg;
        /* "--save-logs DIR" as well as "--save-logs=DIR": the front ends take
         * no positional arguments, so a following non-option word is DIR. */
        if (o->kind == CFO_OPT_OPT_DIR && arg == NULL)
            arg = optind < argc && argv[optind][0] != '-' ? argv[optind++] : o->fallback;
        cfo_diag d = {{0}};
        if (apply(o, arg, out, &d) != CFO_OK)
            return cfo_usage_error(prog, "%s", d.msg);
    }
    if (optind < argc)
        return cfo_usage_error(prog, "unexpected argument '%s'", argv[optind]);
    return 0;
}

void cfo_options_help(FILE *out, const cfo_cmd *cmd)
{
    if (cmd->usage != NULL)
        fputs(cmd->usage, out);
    for (const cfo_option *o = cmd->table; o->name != NULL; o++) {
        if (!(o->programs & cmd->program))
            continue;
        char head[64];
        snprintf(head, sizeof head, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        const char *line = o->help;
        bool first = true;
        while (line != NULL) {
            const char *nl = strchr(line, '\n');
            int n = nl ? (int)(nl - line) : (int)strlen(line);
            fprintf(out, "  %-19s %.*s\n", first ? head : "", n, line);
            first = false;
            line = nl ? nl + 1 : NULL;
        }
    }
    if (cmd->epilog != NULL)
        fputs(cmd->epilog, out);
}
