/* cfo_triage.c -- reads sanitizer, libFuzzer and AFL++ driver output and
 * derives ClusterFuzz's crash state: kind, type and top three user frames. */
#include "cfo_triage.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cfo_digest.h"
#include "cfo_names.h"

static const char *const kind_names[CFO_CRASH_KIND_COUNT] = {
    [CFO_CRASH_CRASH] = "crash",
    [CFO_CRASH_TIMEOUT] = "timeout",
    [CFO_CRASH_OOM] = "oom",
    [CFO_CRASH_LEAK] = "leak",
};

const char *cfo_crash_kind_name(cfo_crash_kind k)
{
    return cfo_name_of(kind_names, CFO_CRASH_KIND_COUNT, (int)k, "?");
}

int cfo_crash_kind_parse(const char *name, cfo_crash_kind *out)
{
    int k = cfo_name_find(kind_names, CFO_CRASH_KIND_COUNT, name);
    if (k >= 0)
        *out = (cfo_crash_kind)k;
    return k >= 0 ? 0 : -1;
}

/* ---- lines ---------------------------------------------------------------- */

typedef struct line_iter {
    const char *text;
    size_t len;
    size_t pos;
} line_iter;

/* One line, at most CFO_TRIAGE_LINE_MAX bytes of it, NUL-free and terminated. */
typedef struct line {
    char s[CFO_TRIAGE_LINE_MAX + 1];
    size_t n;
    bool complete; /* ended by a newline, not by the end of the text */
} line;

static bool next_line(line_iter *it, line *ln)
{
    if (it->pos >= it->len)
        return false;
    const char *start = it->text + it->pos;
    size_t rest = it->len - it->pos;
    const char *nl = memchr(start, '\n', rest);
    size_t full = nl ? (size_t)(nl - start) : rest;
    it->pos += nl ? full + 1 : full;
    size_t n = full < CFO_TRIAGE_LINE_MAX ? full : CFO_TRIAGE_LINE_MAX;
    for (size_t i = 0; i < n; i++)
        ln->s[i] = start[i] == '\0' ? '?' : start[i];
    while (n > 0 && (ln->s[n - 1] == '\r' || ln->s[n - 1] == ' ' || ln->s[n - 1] == '\t'))
        n--;
    ln->s[n] = '\0';
    ln->n = n;
    ln->complete = nl != NULL;
    return true;
}

/* ---- small string utilities ---------------------------------------------- */

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Copies s[0..n) into dst (size cap), turning bytes that are not printable
 * ASCII into '?' so that a signature is always plain text. */
static void copy_clean(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    dst[n] = '\0';
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ---- report start --------------------------------------------------------- */

/* A sanitizer ERROR is a report; a UBSan error (which may have been
 * recovered from) or a libFuzzer ALARM (whose ERROR line may be missing when
 * the run was killed) is one only when no ERROR follows. */
typedef enum start_kind { START_NONE, START_ERROR, START_UBSAN, START_ALARM } start_kind;

static const char *const tools[] = {
    "AddressSanitizer", "LeakSanitizer",      "MemorySanitizer",
    "ThreadSanitizer",  "HWAddressSanitizer", "UndefinedBehaviorSanitizer",
    "libFuzzer",
};

/* The tool a report line names right after "ERROR: "/"WARNING: ", or NULL. */
static const char *tool_at(const char *p)
{
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        size_t k = strlen(tools[i]);
        if (strncmp(p, tools[i], k) == 0 && (p[k] == ':' || p[k] == ' '))
            return tools[i];
    }
    return NULL;
}

/* "==1234==" or "==1234== " at s: the prefix sanitizers put on their lines. */
static const char *skip_pid_prefix(const char *s)
{
    if (s[0] != '=' || s[1] != '=' || !is_digit(s[2]))
        return NULL;
    const char *p = s + 2;
    while (is_digit(*p))
        p++;
    if (p[0] != '=' || p[1] != '=')
        return NULL;
    p += 2;
    while (*p == ' ')
        p++;
    return p;
}

/* The message after a tool's name at p: past a ':' and the blanks. */
static const char *message_after(const char *p)
{
    if (*p == ':')
        p++;
    while (*p == ' ')
        p++;
    return p;
}

/* Classifies a line as the start of a report. For START_ERROR, *tool is the
 * tool (NULL for a plain "==PID==ERROR:") and *msg what follows "Tool: ". */
static start_kind report_start(const char *s, const char **tool, const char **msg)
{
    *tool = NULL;
    *msg = NULL;
    const char *e = strstr(s, "ERROR: ");
    if (e != NULL) {
        const char *t = tool_at(e + 7);
        if (t != NULL) {
            *tool = t;
            *msg = message_after(e + 7 + strlen(t));
            return START_ERROR;
        }
        /* A plain "==PID==ERROR:" is a report, but for the runtime's
         * complaints about its setup, which precede the real one. */
        const char *after = skip_pid_prefix(s);
        if (after != NULL && after == e && !starts_with(e + 7, "External symbolizer path")) {
            *msg = e + 7;
            return START_ERROR;
        }
    }
    const char *w = strstr(s, "WARNING: ");
    if (w != NULL) {
        const char *t = tool_at(w + 9);
        /* Only these two report bugs as warnings; others warn about setup. */
        if (t != NULL && (strcmp(t, "MemorySanitizer") == 0 || strcmp(t, "ThreadSanitizer") == 0)) {
            *tool = t;
            *msg = message_after(w + 9 + strlen(t));
            return START_ERROR;
        }
    }
    const char *u = strstr(s, "runtime error: ");
    if (u != NULL) {
        *msg = u + 15;
        return START_UBSAN;
    }
    if (starts_with(s, "ALARM: working on the last Unit for ")) {
        *msg = s;
        return START_ALARM;
    }
    return START_NONE;
}

/* ---- crash type ----------------------------------------------------------- */

/* Cuts the message at the first of these: what follows is addresses, sizes,
 * pcs and threads, which differ from one run of a bug to the next. */
static const char *const type_cuts[] = {
    " on address ", " at pc ", " on 0x", " in thread ", " (", ":", "(",
};

/* Reduces a report message to its bug type, dropping numbers and addresses. */
static void normalize_type(const char *msg, char *out, size_t cap)
{
    size_t n = strlen(msg);
    for (size_t i = 0; i < sizeof type_cuts / sizeof type_cuts[0]; i++) {
        const char *c = strstr(msg, type_cuts[i]);
        if (c != NULL && (size_t)(c - msg) < n)
            n = (size_t)(c - msg);
    }
    char tmp[CFO_TRIAGE_LINE_MAX + 1];
    size_t o = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && msg[i] == ' ')
            i++;
        size_t b = i;
        while (i < n && msg[i] != ' ')
            i++;
        if (i == b)
            break;
        bool hex = i - b > 2 && msg[b] == '0' && msg[b + 1] == 'x';
        bool number = true;
        for (size_t k = hex ? b + 2 : b; k < i; k++)
            if (!(hex ? is_hex(msg[k]) : is_digit(msg[k])))
                number = false;
        if (number)
            continue;
        if (o > 0)
            tmp[o++] = ' ';
        memcpy(tmp + o, msg + b, i - b);
        o += i - b;
    }
    tmp[o] = '\0';
    for (size_t j = 0; j < o; j++)
        if (tmp[j] == '|')
            tmp[j] = '-';
    copy_clean(out, cap, tmp, o);
    if (out[0] == '\0')
        snprintf(out, cap, "unknown");
}

/* Messages whose wording ClusterFuzz also maps to an out-of-memory. */
static const char *const oom_phrases[] = {
    "out of memory",
    "out-of-memory",
    "allocator is out of memory",
    "failed to allocate",
    "hard rss limit exhausted",
    "rss-limit-exceeded",
};

static void type_of_error(const char *tool, const char *msg, cfo_crash_report *r)
{
    r->kind = CFO_CRASH_CRASH;
    if (tool != NULL && strcmp(tool, "libFuzzer") == 0) {
        if (starts_with(msg, "timeout")) {
            r->kind = CFO_CRASH_TIMEOUT;
            snprintf(r->type, sizeof r->type, "timeout");
            return;
        }
    }
    if (tool != NULL && strcmp(tool, "LeakSanitizer") == 0 &&
        starts_with(msg, "detected memory leaks")) {
        r->kind = CFO_CRASH_LEAK;
        snprintf(r->type, sizeof r->type, "detected memory leaks");
        return;
    }
    if (starts_with(msg, "requested allocation size") ||
        starts_with(msg, "allocation-size-too-big")) {
        r->kind = CFO_CRASH_OOM;
        snprintf(r->type, sizeof r->type, "allocation-size-too-big");
        return;
    }
    if (starts_with(msg, "calloc parameters overflow") || starts_with(msg, "calloc-overflow")) {
        r->kind = CFO_CRASH_OOM;
        snprintf(r->type, sizeof r->type, "calloc-overflow");
        return;
    }
    for (size_t i = 0; i < sizeof oom_phrases / sizeof oom_phrases[0]; i++) {
        if (starts_with(msg, oom_phrases[i]) ||
            (tool == NULL && strstr(msg, oom_phrases[i]) != NULL)) {
            r->kind = CFO_CRASH_OOM;
            snprintf(r->type, sizeof r->type, "out-of-memory");
            return;
        }
    }
    if (starts_with(msg, "attempting double-free")) {
        snprintf(r->type, sizeof r->type, "double-free");
        return;
    }
    if (starts_with(msg, "attempting free on address which was not malloc")) {
        snprintf(r->type, sizeof r->type, "bad-free");
        return;
    }
    normalize_type(msg, r->type, sizeof r->type);
}

/* UBSan's check names (-fsanitize=NAME) by the wording of its messages. */
static const struct {
    const char *phrase;
    const char *check;
} ubsan_checks[] = {
    {"signed integer overflow", "signed-integer-overflow"},
    {"unsigned integer overflow", "unsigned-integer-overflow"},
    {"negation of", "signed-integer-overflow"},
    {"division by zero", "integer-divide-by-zero"},
    {"division of", "signed-integer-overflow"},
    {"shift exponent", "shift-exponent"},
    {"left shift of", "shift-base"},
    {"out of bounds for type", "bounds"},
    {"null pointer passed as argument", "nonnull-attribute"},
    {"null pointer returned from function", "returns-nonnull-attribute"},
    {"applying non-zero offset", "pointer-overflow"},
    {"applying zero offset to null pointer", "pointer-overflow"},
    {"pointer index expression", "pointer-overflow"},
    {"addition of unsigned offset", "pointer-overflow"},
    {"subtraction of unsigned offset", "pointer-overflow"},
    {"null pointer", "null"},
    {"misaligned address", "alignment"},
    {"which is not a valid value for type 'bool'", "bool"},
    {"which is not a valid value for type", "enum"},
    {"execution reached an unreachable program point", "unreachable"},
    {"execution reached the end of a value-returning function", "return"},
    {"is outside the range of representable values", "float-cast-overflow"},
    {"implicit conversion from type", "implicit-conversion"},
    {"variable length array bound", "vla-bound"},
    {"through pointer to incorrect function type", "function"},
    {"invalid vptr", "vptr"},
    {"dynamic type", "vptr"},
    {"assumption of", "alignment"},
    {"passing zero to", "builtin"},
};

/* A check name is what -fsanitize= accepts: lower-case words and dashes. */
static bool check_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 48)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i]) || s[i] == '-'))
            return false;
    return true;
}

static void ubsan_check_of(const char *msg, char *check, size_t cap)
{
    check[0] = '\0';
    const char *f = strstr(msg, "-fsanitize=");
    if (f != NULL) {
        f += 11;
        size_t n = 0;
        while (f[n] != '\0' && f[n] != ')' && f[n] != ' ' && f[n] != ',' && f[n] != ':')
            n++;
        if (check_name_ok(f, n)) {
            copy_clean(check, cap, f, n);
            return;
        }
    }
    for (size_t i = 0; i < sizeof ubsan_checks / sizeof ubsan_checks[0]; i++) {
        if (strstr(msg, ubsan_checks[i].phrase) != NULL) {
            snprintf(check, cap, "%s", ubsan_checks[i].check);
            return;
        }
    }
}

/* ---- frames --------------------------------------------------------------- */

/* Functions that belong to the sanitizer runtime, libFuzzer, the AFL++ driver
 * or libc rather than to the code under test. */
static const char drop_exact[] =
    "|_start|abort|raise|gsignal|exit|_exit|pthread_kill|start_thread|clone|clone3|"
    "__clone|__clone3|asan_thread_start|__restore_rt|malloc|calloc|realloc|reallocarray|"
    "free|cfree|valloc|pvalloc|memalign|posix_memalign|aligned_alloc|strdup|strndup|"
    "memcpy|memmove|memset|memcmp|bcmp|memchr|memrchr|memmem|strcmp|strncmp|strcasecmp|"
    "strncasecmp|strlen|strnlen|strcpy|strncpy|stpcpy|strcat|strncat|strchr|strrchr|"
    "strstr|strcasestr|strspn|strcspn|strpbrk|strtok|wcslen|wcscmp|printf|fprintf|"
    "sprintf|snprintf|vprintf|vfprintf|vsprintf|vsnprintf|puts|fputs|fwrite|fread|read|"
    "write|operator new|operator new[]|operator delete|operator delete[]|"
    "LLVMFuzzerRunDriver|ExecuteFilesOnyByOne|std::terminate|std::__terminate|"
    "__gnu_cxx::__verbose_terminate_handler|";

static const char drop_prefix[] =
    "|__asan_|__asan::|__sanitizer|__interceptor_|___interceptor_|__interception::|"
    "__ubsan|__lsan|__msan|__tsan|__hwasan|fuzzer::|__afl_|__GI_|__libc_|__pthread_kill|"
    "__assert_|__stack_chk_fail|__fortify_fail|__chk_fail|__cxa_|__cxxabiv1::|_dl_|"
    "__sigaction|__sigsetjmp|";

/* Modules and source paths of those same components. */
static const char drop_module[] =
    "|libclang_rt|compiler-rt/|aflpp_driver|afl-compiler-rt|libAFLDriver|libFuzzer|"
    "/fuzzer/Fuzzer|libc.so|libc-2.|libpthread|ld-linux|libstdc++|libc++abi|libc++.so|"
    "<unknown module>|";

/* Whether s matches an entry of list ("|a|b|"): as a whole, as a prefix or
 * (where) anywhere in s. */
typedef enum match_how { MATCH_EXACT, MATCH_PREFIX, MATCH_WITHIN } match_how;

static bool listed(const char *list, const char *s, match_how how)
{
    size_t sn = strlen(s);
    for (const char *p = list + 1; *p != '\0';) {
        const char *bar = strchr(p, '|');
        size_t n = (size_t)(bar - p);
        bool hit = false;
        switch (how) {
        case MATCH_EXACT:
            hit = n == sn && memcmp(s, p, n) == 0;
            break;
        case MATCH_PREFIX:
            hit = n <= sn && memcmp(s, p, n) == 0;
            break;
        case MATCH_WITHIN:
            hit = memmem(s, sn, p, n) != NULL;
            break;
        }
        if (hit)
            return true;
        p = bar + 1;
    }
    return false;
}

static bool dropped_function(const char *f)
{
    return listed(drop_exact, f, MATCH_EXACT) || listed(drop_prefix, f, MATCH_PREFIX);
}

static bool dropped_module(const char *m)
{
    if (listed(drop_module, m, MATCH_WITHIN))
        return true;
    /* libFuzzer's own sources: FuzzerLoop.cpp, FuzzerDriver.cpp, ... */
    const char *base = strrchr(m, '/');
    base = base ? base + 1 : m;
    return starts_with(base, "Fuzzer") && strstr(base, ".cpp") != NULL;
}

/* Index of the '(' matching the ')' at s[end], or (size_t)-1. */
static size_t matching_open(const char *s, size_t end)
{
    int depth = 0;
    for (size_t i = end + 1; i-- > 0;) {
        if (s[i] == ')')
            depth++;
        else if (s[i] == '(' && --depth == 0)
            return i;
    }
    return (size_t)-1;
}

/* A token that names a source file or an object file rather than a function. */
static bool looks_like_location(const char *t, size_t n)
{
    if (memchr(t, '/', n) != NULL)
        return true;
    if (ends_with(t, n, ".o") || ends_with(t, n, ".so") || ends_with(t, n, ".a"))
        return true;
    for (size_t i = 1; i + 1 < n; i++)
        if (t[i] == ':' && is_digit(t[i + 1]) && t[i - 1] != ':' && memchr(t, '.', i) != NULL)
            return true;
    return false;
}

typedef struct frame {
    bool is_frame;                       /* the line is a stack frame line */
    char func[256];                      /* "" when unsymbolized */
    char where[CFO_TRIAGE_LINE_MAX + 1]; /* module or file location, maybe "" */
    bool source;                         /* where is a source file "path:line[:col]" */
    bool unsymbolized;                   /* func is "module+0xOFF" */
} frame;

/* Strips argument lists, qualifiers, clone suffixes and "+0x" offsets. */
static size_t bare_function(char *f, size_t n)
{
    char *clone = strstr(f, " [clone ");
    if (clone != NULL && (size_t)(clone - f) < n)
        n = (size_t)(clone - f);
    /* foo+0x1a */
    for (size_t i = n; i-- > 2;) {
        if (!is_hex(f[i])) {
            if (f[i] == 'x' && f[i - 1] == '0' && f[i - 2] == '+' && i + 1 < n)
                n = i - 2;
            break;
        }
    }
    for (;;) {
        size_t before = n;
        while (n > 0 && f[n - 1] == ' ')
            n--;
        if (ends_with(f, n, " const"))
            n -= 6;
        else if (ends_with(f, n, " volatile"))
            n -= 9;
        else if (ends_with(f, n, "&"))
            n -= 1;
        if (n == before)
            break;
    }
    if (n > 0 && f[n - 1] == ')') {
        size_t open = matching_open(f, n - 1);
        if (open != (size_t)-1 && open > 0)
            n = open;
    }
    while (n > 0 && f[n - 1] == ' ')
        n--;
    f[n] = '\0';
    return n;
}

/* "module+0xOFF)" of a frame no symbolizer named: the frame is signed as
 * "basename+0xOFF", which is stable for one build and tells two crash sites
 * apart, where an empty frame would make every crash of a kind one. */
static void unsymbolized_frame(const char *s, frame *fr)
{
    const char *close = strchr(s, ')');
    const char *off = close ? memmem(s, (size_t)(close - s), "+0x", 3) : NULL;
    if (off == NULL || off == s)
        return;
    size_t n = (size_t)(close - s);
    copy_clean(fr->where, sizeof fr->where, s, n);
    const char *base = s;
    for (const char *p = s; p < off; p++)
        if (*p == '/')
            base = p + 1;
    copy_clean(fr->func, sizeof fr->func, base, (size_t)(close - base));
    fr->unsymbolized = true;
}

/* Parses "    #3 0xADDR in FUNC LOCATION" and its unsymbolized variant
 * "    #3 0xADDR  (module+0xOFF)". */
static void parse_frame(const char *s, frame *fr)
{
    fr->is_frame = false;
    fr->func[0] = '\0';
    fr->where[0] = '\0';
    fr->source = false;
    fr->unsymbolized = false;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s != '#' || !is_digit(s[1]))
        return;
    s++;
    while (is_digit(*s))
        s++;
    if (*s != ' ')
        return;
    fr->is_frame = true;
    while (*s == ' ')
        s++;
    if (s[0] == '0' && s[1] == 'x') {
        s += 2;
        while (is_hex(*s))
            s++;
        while (*s == ' ')
            s++;
    }
    if (*s == '(') {
        unsymbolized_frame(s + 1, fr);
        return;
    }
    if (!starts_with(s, "in "))
        return;
    s += 3;
    char rest[CFO_TRIAGE_LINE_MAX + 1];
    size_t n = strlen(s);
    memcpy(rest, s, n + 1);
    char *b = strstr(rest, " (BuildId: ");
    if (b != NULL)
        n = (size_t)(b - rest);
    while (n > 0 && rest[n - 1] == ' ')
        n--;
    rest[n] = '\0';
    size_t fn = n;
    if (n > 0 && rest[n - 1] == ')') {
        size_t open = matching_open(rest, n - 1);
        if (open != (size_t)-1 && open > 0 && rest[open - 1] == ' ') {
            const char *g = rest + open + 1;
            size_t gn = n - 1 - open - 1;
            if (memmem(g, gn, "+0x", 3) != NULL || (gn > 0 && g[0] == '<') ||
                memchr(g, '/', gn) != NULL) {
                copy_clean(fr->where, sizeof fr->where, g, gn);
                fn = open - 1;
            }
        }
    }
    if (fn == n) {
        const char *sp = strrchr(rest, ' ');
        if (sp != NULL && looks_like_location(sp + 1, strlen(sp + 1))) {
            copy_clean(fr->where, sizeof fr->where, sp + 1, strlen(sp + 1));
            fr->source = strchr(fr->where, ':') != NULL;
            fn = (size_t)(sp - rest);
        }
    }
    rest[fn] = '\0';
    fn = bare_function(rest, fn);
    if (fn == 0 || starts_with(rest, "0x") || strcmp(rest, "<unknown>") == 0 ||
        strcmp(rest, "??") == 0)
        return;
    copy_clean(fr->func, sizeof fr->func, rest, fn);
}

/* "path:line[:col]" -> "path:line". */
static void location_of(const char *where, char *out, size_t cap)
{
    size_t n = strlen(where);
    /* the last ":digits" pair is the column when two are present */
    const char *c1 = NULL, *c2 = NULL;
    for (size_t i = 0; i + 1 < n; i++) {
        if (where[i] == ':' && is_digit(where[i + 1])) {
            c1 = c2;
            c2 = where + i;
        }
    }
    if (c2 != NULL && c1 != NULL) {
        bool col = true;
        for (const char *p = c2 + 1; *p; p++)
            if (!is_digit(*p))
                col = false;
        if (col)
            n = (size_t)(c2 - where);
    }
    copy_clean(out, cap, where, n);
}

typedef struct collector {
    cfo_crash_report *r;
    bool done;       /* reached LLVMFuzzerTestOneInput or the stack limit */
    bool saw_frames; /* a frame line was seen: the stack has begun */
    /* The kept symbolized frames, top first, before cycles collapse. */
    char stack[CFO_TRIAGE_STACK_MAX][256];
    size_t nstack;
    /* The top frames no symbolizer named, used only when none was named. */
    char raw[CFO_TRIAGE_FRAMES][256];
    size_t nraw;
} collector;

static void collect(collector *c, const frame *fr)
{
    if (c->done || fr->func[0] == '\0')
        return;
    if (fr->where[0] != '\0' && dropped_module(fr->where))
        return;
    if (fr->unsymbolized) {
        if (c->nraw < CFO_TRIAGE_FRAMES)
            snprintf(c->raw[c->nraw++], sizeof c->raw[0], "%s", fr->func);
        return;
    }
    if (dropped_function(fr->func))
        return;
    bool entry = strcmp(fr->func, "LLVMFuzzerTestOneInput") == 0;
    snprintf(c->stack[c->nstack], sizeof c->stack[0], "%s", fr->func);
    if (c->nstack == 0) {
        c->r->location[0] = '\0';
        if (fr->source)
            location_of(fr->where, c->r->location, sizeof c->r->location);
    }
    c->nstack++;
    /* Everything below the fuzz entry point is the driver's. */
    if (entry || c->nstack == CFO_TRIAGE_STACK_MAX)
        c->done = true;
}

/* The index of the last frame of the recursion cycle that starts at i: the
 * cycle reaches as far down the stack as any of its functions appears again
 * (a cycle a-b-a-b ends at the last b, not the last a). i itself when the
 * function at i does not recur. */
static size_t cycle_end(const collector *c, size_t i)
{
    size_t end = i;
    for (size_t k = i; k <= end; k++)
        for (size_t j = end + 1; j < c->nstack; j++)
            if (strcmp(c->stack[j], c->stack[k]) == 0)
                end = j;
    return end;
}

/* Collapses each recursion cycle of the collected stack to its first frame,
 * then hands the top frames to the report. */
static void collapse_into_report(collector *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nstack; i++) {
        size_t last = cycle_end(c, i);
        if (n != i)
            memcpy(c->stack[n], c->stack[i], sizeof c->stack[0]);
        n++;
        i = last;
    }
    cfo_crash_report *r = c->r;
    r->nframes = n < CFO_TRIAGE_FRAMES ? n : CFO_TRIAGE_FRAMES;
    for (size_t i = 0; i < r->nframes; i++)
        memcpy(r->frames[i], c->stack[i], sizeof r->frames[i]);
}

/* ---- the report ----------------------------------------------------------- */

static bool is_summary(const char *s)
{
    return strstr(s, "SUMMARY: ") != NULL;
}

/* The check name in "SUMMARY: UndefinedBehaviorSanitizer: CHECK ...", unless
 * it is the generic "undefined-behavior". */
static void ubsan_summary_check(const char *s, char *check, size_t cap)
{
    const char *p = strstr(s, "SUMMARY: UndefinedBehaviorSanitizer: ");
    if (p == NULL)
        return;
    p += strlen("SUMMARY: UndefinedBehaviorSanitizer: ");
    size_t n = strcspn(p, " ");
    if (!check_name_ok(p, n) || (n == 18 && strncmp(p, "undefined-behavior", 18) == 0))
        return;
    copy_clean(check, cap, p, n);
}

/* "file.c:12:3: runtime error: ..." -> "file.c:12". */
static void ubsan_location(const char *s, const char *msg, char *out, size_t cap)
{
    const char *end = msg - strlen("runtime error: ");
    while (end > s && (end[-1] == ' ' || end[-1] == ':'))
        end--;
    char tmp[CFO_TRIAGE_LINE_MAX + 1];
    size_t n = (size_t)(end - s);
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    /* "==PID==" or other noise before the path stops at the last space */
    const char *sp = strrchr(tmp, ' ');
    const char *path = sp ? sp + 1 : tmp;
    if (strchr(path, ':') == NULL)
        return;
    location_of(path, out, cap);
}

/* "READ of size 4 at ..." / "WRITE of size 1 at ..." -> "read" / "write". */
static void access_of(const char *s, char *out, size_t cap)
{
    while (*s == ' ')
        s++;
    if (starts_with(s, "READ of size "))
        snprintf(out, cap, "read");
    else if (starts_with(s, "WRITE of size "))
        snprintf(out, cap, "write");
}

/* Sanitizer types that are one bug family whichever allocator, region or
 * driver poisoned the memory: AFL++'s driver keeps its input in a poisoned
 * buffer, so a read past the input is "use-after-poison" there and
 * "heap-buffer-overflow" under libFuzzer. */
static const struct {
    const char *type;
    const char *family;
} families[] = {
    {"heap-buffer-overflow", "out-of-bounds"},
    {"stack-buffer-overflow", "out-of-bounds"},
    {"stack-buffer-underflow", "out-of-bounds"},
    {"dynamic-stack-buffer-overflow", "out-of-bounds"},
    {"global-buffer-overflow", "out-of-bounds"},
    {"container-overflow", "out-of-bounds"},
    {"intra-object-overflow", "out-of-bounds"},
    {"use-after-poison", "out-of-bounds"},
    {"tag-mismatch", "out-of-bounds"},
    {"heap-use-after-free", "use-after-free"},
    {"stack-use-after-return", "use-after-free"},
    {"stack-use-after-scope", "use-after-free"},
};

static void family_of(cfo_crash_report *r)
{
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        if (strcmp(r->type, families[i].type) != 0)
            continue;
        if (r->access[0] != '\0')
            snprintf(r->family, sizeof r->family, "%s-%s", families[i].family, r->access);
        else
            snprintf(r->family, sizeof r->family, "%s", families[i].family);
        return;
    }
    snprintf(r->family, sizeof r->family, "%s", r->type);
}

void cfo_triage_sign(cfo_crash_report *r)
{
    if (r->nframes > CFO_TRIAGE_FRAMES)
        r->nframes = CFO_TRIAGE_FRAMES;
    /* the type sits between the signature's separators */
    for (char *p = r->type; *p; p++)
        if (*p == ':' || *p == '|')
            *p = '-';
    if (strcmp(r->access, "read") != 0 && strcmp(r->access, "write") != 0)
        r->access[0] = '\0';
    family_of(r);
    int o = snprintf(r->signature, sizeof r->signature, "%s:%s:", cfo_crash_kind_name(r->kind),
                     r->family);
    for (size_t i = 0; i < r->nframes && o > 0 && (size_t)o < sizeof r->signature; i++)
        o += snprintf(r->signature + o, sizeof r->signature - (size_t)o, "%s%s", i ? "|" : "",
                      r->frames[i]);
    char h[65];
    cfo_sha256_hex(r->signature, strlen(r->signature), h);
    memcpy(r->sig_hash, h, 16);
    r->sig_hash[16] = '\0';
}

cfo_err cfo_triage_parse(const char *text, size_t len, cfo_crash_report *out, cfo_diag *d)
{
    memset(out, 0, sizeof *out);
    if (text == NULL || len == 0)
        return cfo_diag_set(d, CFO_ENOTFOUND, "no crash report in empty output");
    line_iter it = {.text = text, .len = len, .pos = 0};
    line ln;
    size_t lines = 0;
    size_t weak_pos = (size_t)-1; /* offset of the first UBSan or ALARM line */
    size_t start_pos = (size_t)-1;
    while (lines < CFO_TRIAGE_MAX_LINES) {
        size_t at = it.pos;
        if (!next_line(&it, &ln))
            break;
        lines++;
        const char *tool, *msg;
        start_kind sk = report_start(ln.s, &tool, &msg);
        if (sk == START_ERROR) {
            start_pos = at;
            break;
        }
        if ((sk == START_UBSAN || sk == START_ALARM) && weak_pos == (size_t)-1)
            weak_pos = at;
    }
    if (start_pos == (size_t)-1)
        start_pos = weak_pos;
    if (start_pos == (size_t)-1)
        return cfo_diag_set(d, CFO_ENOTFOUND, "no crash report in %zu lines of output", lines);

    it.pos = start_pos;
    next_line(&it, &ln);
    const char *tool, *msg;
    start_kind sk = report_start(ln.s, &tool, &msg);
    char check[64] = "";
    if (sk == START_UBSAN) {
        out->kind = CFO_CRASH_CRASH;
        ubsan_check_of(msg, check, sizeof check);
        ubsan_location(ln.s, msg, out->location, sizeof out->location);
    } else if (sk == START_ALARM) {
        out->kind = CFO_CRASH_TIMEOUT;
        snprintf(out->type, sizeof out->type, "timeout");
    } else {
        type_of_error(tool, msg, out);
    }

    collector c = {.r = out};
    /* A leak report lists several allocation stacks; the first direct leak is
     * the one that owns the memory, so its stack is the one to key on. */
    bool want_leak = out->kind == CFO_CRASH_LEAK;
    size_t leak_pos = (size_t)-1;
    if (want_leak) {
        size_t first_any = (size_t)-1;
        for (size_t k = 0; k < CFO_TRIAGE_MAX_BODY_LINES; k++) {
            size_t at = it.pos;
            if (!next_line(&it, &ln) || is_summary(ln.s))
                break;
            const char *t2, *m2;
            if (report_start(ln.s, &t2, &m2) != START_NONE)
                break;
            if (strstr(ln.s, "Direct leak of ") != NULL) {
                leak_pos = at;
                break;
            }
            if (first_any == (size_t)-1 && strstr(ln.s, "Indirect leak of ") != NULL)
                first_any = at;
        }
        if (leak_pos == (size_t)-1)
            leak_pos = first_any;
        if (leak_pos != (size_t)-1) {
            it.pos = leak_pos;
            next_line(&it, &ln);
        }
    }
    if (!want_leak || leak_pos != (size_t)-1) {
        frame fr;
        for (size_t k = 0; k < CFO_TRIAGE_MAX_BODY_LINES; k++) {
            if (!next_line(&it, &ln))
                break;
            if (is_summary(ln.s)) {
                if (sk == START_UBSAN && check[0] == '\0')
                    ubsan_summary_check(ln.s, check, sizeof check);
                break;
            }
            parse_frame(ln.s, &fr);
            if (fr.is_frame) {
                /* a frame line cut off by the end of the text is not trusted */
                if (ln.complete)
                    collect(&c, &fr);
                c.saw_frames = true;
                continue;
            }
            const char *t2, *m2;
            if (report_start(ln.s, &t2, &m2) != START_NONE)
                break;
            if (!c.saw_frames)
                access_of(ln.s, out->access, sizeof out->access);
            if (c.saw_frames && sk != START_UBSAN)
                break;
            /* after a UBSan stack, read on only for the SUMMARY's check name */
            c.done = c.done || c.saw_frames;
        }
    }
    if (sk == START_UBSAN) {
        if (check[0] != '\0')
            snprintf(out->type, sizeof out->type, "undefined-behavior %s", check);
        else
            snprintf(out->type, sizeof out->type, "undefined-behavior");
    }
    collapse_into_report(&c);
    if (out->nframes == 0) {
        for (size_t i = 0; i < c.nraw; i++)
            memcpy(out->frames[i], c.raw[i], sizeof out->frames[i]);
        out->nframes = c.nraw;
    }
    cfo_triage_sign(out);
    return CFO_OK;
}
