/* main_fuzz.c -- cfo-fuzz, the uniform fuzz runner: lists a fuzzer's targets
 * or runs one task in the current directory (the worktree root). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include "cfo_cmdline.h"
#include "cfo_cmdword.h"
#include "cfo_config.h"
#include "cfo_file.h"
#include "cfo_fuzz_impl.h"
#include "cfo_log.h"

#define PROG "cfo-fuzz"

static const char usage_text[] =
    "Usage: cfo-fuzz [--config FILE] FUZZER --discover\n"
    "       cfo-fuzz [--config FILE] FUZZER [TARGET]\n"
    "\n"
    "Lists the targets of FUZZER, or runs FUZZER against one TARGET, in the\n"
    "current directory (the root of the worktree under test).\n"
    "\n"
    "  FUZZER          a fuzzer name of the configuration: CANARY, INFRA_DRIFT,\n"
    "                  or a [fuzzer \"NAME\"] section of cfo.ini\n"
    "  TARGET          what to run against (infra_drift: a root module path\n"
    "                  relative to the fuzzer's root; libfuzzer, afl: a target\n"
    "                  binary's name in targets_dir); it must stay inside the\n"
    "                  current directory. Without it, the fuzzer's only target.\n"
    "  --discover      print the fuzzer's targets, one per line, sorted\n"
    "  --config FILE   the configuration; default $CFO_CONFIG, else ./cfo.ini\n"
    "                  if present, else the built-in CANARY and INFRA_DRIFT\n"
    "  -h, --help      show this help\n"
    "  --version       print the version\n"
    "\n"
    "Exit status: 0 pass (or targets listed), 1 fail (the fuzzer found\n"
    "something), 2 usage or configuration error, 3 the fuzzer could not run.\n"
    "When CFO_RESULT_FD names an open file descriptor, a run writes one JSON\n"
    "object {\"count\":N,\"findings\":M,\"summary\":\"...\"} to it; engines\n"
    "(libfuzzer, afl, gofuzz) add \"crashes\": [{\"signature\",\"kind\",\"new\",\n"
    "\"repro\",\"bundle\"}, ...], one entry per distinct signature found, and\n"
    "with a coverage_dir (gofuzz: always) \"coverage\": {\"lines\":[covered,total],\n"
    "\"functions\":[...],\"regions\":[...],\"seconds\":S,\"report\":\"URL\"}.\n";

/* A message meant to fit one line of a log. */
static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
}

/* The descriptor CFO_RESULT_FD names, or -1 without one. The variable is
 * removed and the descriptor kept from children, so only this process
 * reports on it. */
static int take_result_fd(int *fd)
{
    *fd = -1;
    const char *env = getenv("CFO_RESULT_FD");
    if (env == NULL || env[0] == '\0')
        return 0;
    int64_t v;
    cfo_diag d;
    if (cfo_parse_int(env, 0, INT_MAX, &v, &d) != CFO_OK || fcntl((int)v, F_GETFD) < 0) {
        fprintf(stderr, PROG ": CFO_RESULT_FD=%s is not an open file descriptor\n", env);
        return -1;
    }
    *fd = (int)v;
    if (*fd > 2)
        fcntl(*fd, F_SETFD, FD_CLOEXEC);
    unsetenv("CFO_RESULT_FD");
    return 0;
}

static yajl_gen_status gen_result(yajl_gen g, const cfo_fuzz_result *res, const char *summary)
{
    yajl_gen_status s = yajl_gen_map_open(g);
    if (s == yajl_gen_status_ok)
        s = yajl_gen_string(g, (const unsigned char *)"count", 5);
    if (s == yajl_gen_status_ok)
        s = yajl_gen_integer(g, (long long)res->count);
    if (s == yajl_gen_status_ok)
        s = yajl_gen_string(g, (const unsigned char *)"findings", 8);
    if (s == yajl_gen_status_ok)
        s = yajl_gen_integer(g, (long long)res->findings);
    if (s == yajl_gen_status_ok)
        s = yajl_gen_string(g, (const unsigned char *)"summary", 7);
    if (s == yajl_gen_status_ok)
        s = yajl_gen_string(g, (const unsigned char *)summary, strlen(summary));
    if (s == yajl_gen_status_ok)
        s = yajl_gen_map_close(g);
    return s;
}

static int write_all(int fd, const void *buf, size_t len)
{
    if (cfo_write_all(fd, buf, len) == CFO_OK)
        return 0;
    fprintf(stderr, PROG ": writing the result to fd %d: %s\n", fd, strerror(errno));
    return -1;
}

static int write_member(int fd, const char *key, const cfo_buf *json)
{
    int rc = write_all(fd, (const unsigned char *)key, strlen(key));
    return rc == 0 ? write_all(fd, (const unsigned char *)json->data, json->len) : rc;
}

static int write_result(int fd, const cfo_fuzz_result *res)
{
    char *summary = cfo_xstrdup(res->summary.data ? res->summary.data : "");
    one_line(summary);
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    yajl_gen_status s = gen_result(g, res, summary);
    if (s == yajl_gen_invalid_string) {
        /* A summary quoting bytes that are not UTF-8 still has to be JSON. */
        for (unsigned char *p = (unsigned char *)summary; *p; p++)
            if (*p >= 0x80)
                *p = '?';
        yajl_gen_free(g);
        g = yajl_gen_alloc(NULL);
        s = gen_result(g, res, summary);
    }
    free(summary);
    const unsigned char *buf = NULL;
    size_t len = 0;
    if (s == yajl_gen_status_ok)
        s = yajl_gen_get_buf(g, &buf, &len);
    int rc = s == yajl_gen_status_ok && len > 0 ? 0 : -1;
    /* The findings list and the coverage are JSON their fuzzer generated:
     * they go in as the object's last members. */
    if (rc == 0)
        rc = write_all(fd, buf, len - 1);
    if (rc == 0 && res->crashes.len > 0)
        rc = write_member(fd, ",\"crashes\":", &res->crashes);
    if (rc == 0 && res->coverage.len > 0)
        rc = write_member(fd, ",\"coverage\":", &res->coverage);
    if (rc == 0)
        rc = write_all(fd, (const unsigned char *)"}", 1);
    yajl_gen_free(g);
    return rc;
}

static int discover(const cfo_fuzz_impl *impl, const cfo_fuzzer *f)
{
    cfo_strv targets;
    cfo_strv_init(&targets);
    cfo_diag d = {{0}};
    cfo_err err = impl->discover(f, &targets, &d);
    if (err != CFO_OK) {
        one_line(d.msg);
        fprintf(stderr, PROG ": %s --discover: %s\n", f->name, d.msg);
        cfo_strv_fini(&targets);
        return CFO_FUZZ_ERROR;
    }
    for (size_t i = 0; i < targets.n; i++)
        printf("%s\n", targets.v[i]);
    cfo_strv_fini(&targets);
    if (fflush(stdout) != 0) {
        fprintf(stderr, PROG ": writing the targets: %s\n", strerror(errno));
        return CFO_FUZZ_ERROR;
    }
    return 0;
}

/* Without a TARGET, the fuzzer's target when it has just one (the canary, an
 * exec fuzzer without a discover command). Returns an exit status or -1. */
static int default_target(const cfo_fuzz_impl *impl, const cfo_fuzzer *f, char **out)
{
    cfo_strv targets;
    cfo_strv_init(&targets);
    cfo_diag d = {{0}};
    int rc = -1;
    if (impl->discover(f, &targets, &d) != CFO_OK) {
        one_line(d.msg);
        fprintf(stderr, PROG ": %s: %s\n", f->name, d.msg);
        rc = CFO_FUZZ_ERROR;
    } else if (targets.n != 1) {
        fprintf(stderr, PROG ": %s has %zu targets; name one (cfo-fuzz %s --discover lists them)\n",
                f->name, targets.n, f->name);
        rc = CFO_FUZZ_EXIT_USAGE;
    } else {
        *out = cfo_xstrdup(targets.v[0]);
    }
    cfo_strv_fini(&targets);
    return rc;
}

static int run(const cfo_fuzz_impl *impl, const cfo_fuzzer *f, const char *target, int result_fd)
{
    cfo_fuzz_result res = {0};
    cfo_buf_init(&res.summary);
    cfo_buf_init(&res.crashes);
    cfo_buf_init(&res.coverage);
    cfo_diag d = {{0}};
    cfo_fuzz_verdict v = impl->run(f, target, &res, &d);
    fflush(stdout);
    int rc;
    switch (v) {
    case CFO_FUZZ_PASS:
    case CFO_FUZZ_FAIL:
        rc = (int)v;
        break;
    case CFO_FUZZ_ERROR:
    default:
        rc = CFO_FUZZ_ERROR;
        fprintf(stderr, PROG ": %s %s: error: %s\n", f->name, target,
                d.msg[0] ? d.msg : "the fuzzer failed without saying why");
        if (res.summary.len == 0)
            cfo_buf_puts(&res.summary, d.msg[0] ? d.msg : "error");
        break;
    }
    if (result_fd >= 0 && write_result(result_fd, &res) != 0)
        rc = CFO_FUZZ_ERROR;
    cfo_buf_fini(&res.summary);
    cfo_buf_fini(&res.crashes);
    cfo_buf_fini(&res.coverage);
    return rc;
}

int main(int argc, char **argv)
{
    cfo_log_init(PROG, CFO_LOG_WARN);
    const char *config_path = NULL;
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    bool want_discover = false;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && a[0] == '-' && a[1] != '\0') {
            if (strcmp(a, "--") == 0) {
                options_done = true;
            } else if (cfo_cmdline_answers(PROG, a, usage_text)) {
                return CFO_EXIT_OK;
            } else if (strcmp(a, "--discover") == 0) {
                want_discover = true;
            } else if (cfo_cmdword_config(PROG, argc, argv, &i, &config_path)) {
                if (config_path == NULL)
                    return CFO_EXIT_USAGE;
            } else if (npos == 1) {
                /* A TARGET that looks like an option is refused as a target,
                 * which is what it would have to be. */
                cfo_diag d = {{0}};
                cfo_target_validate(a, &d);
                return cfo_usage_error(PROG, "bad target: %s", d.msg);
            } else {
                return cfo_usage_error(PROG, "unknown option '%s'", a);
            }
            continue;
        }
        if (npos == 2)
            return cfo_usage_error(PROG, "unexpected argument '%s'", a);
        pos[npos++] = a;
    }
    if (npos == 0)
        return cfo_usage_error(PROG, "no FUZZER named");
    if (want_discover && npos > 1)
        return cfo_usage_error(PROG, "--discover takes no TARGET (got '%s')", pos[1]);

    int result_fd = -1;
    if (!want_discover && take_result_fd(&result_fd) != 0)
        return CFO_FUZZ_EXIT_USAGE;

    cfo_config *cfg = NULL;
    cfo_diag d = {{0}};
    if (cfo_config_locate(config_path, ".", &cfg, &d) != CFO_OK) {
        one_line(d.msg);
        fprintf(stderr, PROG ": %s\n", d.msg);
        return CFO_FUZZ_EXIT_USAGE;
    }
    int rc;
    char *target = NULL;
    const cfo_fuzzer *f = cfo_config_find(cfg, pos[0]);
    if (f == NULL) {
        cfo_buf names;
        cfo_buf_init(&names);
        for (size_t i = 0; i < cfg->nfuzzers; i++)
            cfo_buf_printf(&names, "%s%s", i ? ", " : "", cfg->fuzzers[i].name);
        fprintf(stderr, PROG ": unknown fuzzer '%s' (configured: %s)\n", pos[0],
                names.len ? names.data : "none");
        cfo_buf_fini(&names);
        rc = CFO_FUZZ_EXIT_USAGE;
        goto out;
    }
    const cfo_fuzz_impl *impl = cfo_fuzz_impl_for(f->kind);
    if (impl == NULL) {
        fprintf(stderr, PROG ": fuzzer %s: kind '%s' is not built into this cfo-fuzz\n", f->name,
                cfo_kind_info_of(f->kind)->name);
        rc = CFO_FUZZ_ERROR;
        goto out;
    }
    if (want_discover) {
        rc = discover(impl, f);
        goto out;
    }
    if (npos == 2) {
        if (cfo_target_validate(pos[1], &d) != CFO_OK) {
            rc = cfo_usage_error(PROG, "bad target: %s", d.msg);
            goto out;
        }
        target = cfo_xstrdup(pos[1]);
    } else if ((rc = default_target(impl, f, &target)) >= 0) {
        goto out;
    }
    rc = run(impl, f, target, result_fd);
out:
    free(target);
    cfo_config_destroy(&cfg);
    return rc;
}
