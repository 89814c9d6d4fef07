/* cfo_gopanic.c -- Go test failures into crash reports. */
#include "cfo_gopanic.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cfo_util.h"

/* One line of the text, white space around it trimmed. */
typedef struct line {
    const char *s;
    size_t n;
} line;

static bool next_line(const char **p, const char *end, line *out)
{
    if (*p >= end)
        return false;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *stop = nl ? nl : end;
    const char *s = *p;
    while (s < stop && isspace((unsigned char)*s))
        s++;
    const char *e = stop;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    out->s = s;
    out->n = (size_t)(e - s);
    *p = nl ? nl + 1 : end;
    return true;
}

static bool starts(const line *l, const char *prefix)
{
    size_t n = strlen(prefix);
    return l->n >= n && memcmp(l->s, prefix, n) == 0;
}

/* The message of a "panic: ..." line, also one the testing package prefixed
 * with "testing.go:N: "; NULL when l is not one. */
static const char *panic_message(const line *l, size_t *n)
{
    const char *p = l->s, *end = l->s + l->n;
    if (starts(l, "testing.go:")) {
        const char *c = memchr(p, ' ', l->n);
        if (c == NULL)
            return NULL;
        p = c + 1;
    }
    if ((size_t)(end - p) < 7 || memcmp(p, "panic: ", 7) != 0)
        return NULL;
    p += 7;
    *n = (size_t)(end - p);
    static const char recovered[] = " [recovered]";
    if (*n >= sizeof recovered - 1 &&
        memcmp(p + *n - (sizeof recovered - 1), recovered, sizeof recovered - 1) == 0)
        *n -= sizeof recovered - 1;
    return p;
}

/* The words of msg up to the first value ('[', a digit, a quote, '{', '('),
 * with ':' dropped: "runtime error: index out of range [5] with length 3"
 * gives "runtime error index out of range". */
static void message_type(const char *prefix, const char *msg, size_t n, char *out, size_t cap)
{
    size_t o = (size_t)snprintf(out, cap, "%s", prefix);
    bool space = o > 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        char c = msg[i];
        if (c == '[' || c == '"' || c == '{' || c == '(' || c == '\'' || isdigit((unsigned char)c))
            break;
        if (c == ':' || c == '|')
            continue;
        if (isspace((unsigned char)c)) {
            space = true;
            continue;
        }
        if (space && o > 0)
            out[o++] = ' ';
        space = false;
        out[o++] = c;
    }
    out[o] = '\0';
}

/* Frames of the runtime, the testing package and reflection are the
 * machinery around the panic, not its cause. */
static bool machinery(const line *l)
{
    static const char *const prefixes[] = {
        "runtime.",    "runtime/",   "testing.",       "panic(",   "reflect.",
        "created by ", "goroutine ", "internal/fuzz.", "[signal ", NULL};
    for (const char *const *p = prefixes; *p; p++)
        if (starts(l, *p))
            return true;
    return false;
}

/* "example.com/m/parser.parseBody(...)" gives "parser.parseBody". */
static void frame_name(const line *l, char *out, size_t cap)
{
    size_t n = l->n;
    const char *paren = NULL;
    for (size_t i = n; i > 0; i--)
        if (l->s[i - 1] == '(') {
            paren = l->s + i - 1;
            break;
        }
    if (paren != NULL && paren > l->s)
        n = (size_t)(paren - l->s);
    const char *start = l->s;
    for (size_t i = 0; i < n; i++)
        if (l->s[i] == '/')
            start = l->s + i + 1;
    n -= (size_t)(start - l->s);
    snprintf(out, cap, "%.*s", (int)n, start);
}

/* "/path/parser.go:45 +0x23d" gives "parser.go:45". */
static void file_location(const line *l, char *out, size_t cap)
{
    size_t n = l->n;
    const char *sp = memchr(l->s, ' ', n);
    if (sp != NULL)
        n = (size_t)(sp - l->s);
    const char *start = l->s;
    for (size_t i = 0; i < n; i++)
        if (l->s[i] == '/')
            start = l->s + i + 1;
    snprintf(out, cap, "%.*s", (int)(n - (size_t)(start - l->s)), start);
}

/* Reads the goroutine stack after from into out's frames. */
static void read_frames(const char *from, const char *end, cfo_crash_report *out)
{
    line l;
    bool in_stack = false, want_file = false;
    while (out->nframes < CFO_TRIAGE_FRAMES && next_line(&from, end, &l)) {
        if (starts(&l, "goroutine ")) {
            in_stack = true;
            continue;
        }
        if (!in_stack || l.n == 0)
            continue;
        if (l.s[0] == '/' || (l.n > 1 && l.s[1] == ':')) {
            if (want_file && out->location[0] == '\0')
                file_location(&l, out->location, sizeof out->location);
            want_file = false;
            continue;
        }
        if (starts(&l, "---") || starts(&l, "FAIL") || starts(&l, "exit status"))
            break;
        want_file = false;
        if (machinery(&l))
            continue;
        frame_name(&l, out->frames[out->nframes], sizeof out->frames[0]);
        want_file = out->nframes == 0;
        out->nframes++;
    }
}

/* A t.Fatal/t.Error line under "--- FAIL:": "parser_test.go:12: message". */
static bool test_site(const line *l, char *site, size_t cap)
{
    const char *colon = memchr(l->s, ':', l->n);
    if (colon == NULL || colon - l->s < 4 || memcmp(colon - 3, ".go", 3) != 0)
        return false;
    const char *p = colon + 1;
    size_t digits = 0;
    while (p + digits < l->s + l->n && isdigit((unsigned char)p[digits]))
        digits++;
    if (digits == 0 || p + digits >= l->s + l->n || p[digits] != ':')
        return false;
    snprintf(site, cap, "%.*s", (int)(p + digits - l->s), l->s);
    return true;
}

cfo_err cfo_gopanic_parse(const char *text, size_t len, cfo_crash_report *out)
{
    memset(out, 0, sizeof *out);
    out->kind = CFO_CRASH_CRASH;
    const char *p = text, *end = text + len;
    bool failed = false;
    line l;
    while (next_line(&p, end, &l)) {
        size_t n = 0;
        const char *msg = panic_message(&l, &n);
        if (msg != NULL) {
            message_type("panic", msg, n, out->type, sizeof out->type);
            read_frames(p, end, out);
            cfo_triage_sign(out);
            return CFO_OK;
        }
        if (starts(&l, "fatal error: ")) {
            message_type("fatal error", l.s + 13, l.n - 13, out->type, sizeof out->type);
            read_frames(p, end, out);
            cfo_triage_sign(out);
            return CFO_OK;
        }
        if (starts(&l, "--- FAIL: ")) {
            failed = true;
            continue;
        }
        if (failed && test_site(&l, out->location, sizeof out->location)) {
            snprintf(out->type, sizeof out->type, "test failure");
            /* The site names the failure: the file and line of the call. */
            snprintf(out->frames[0], sizeof out->frames[0], "%s", out->location);
            out->nframes = 1;
            cfo_triage_sign(out);
            return CFO_OK;
        }
    }
    return CFO_ENOTFOUND;
}
