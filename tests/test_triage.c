/* test_triage.c -- crash signatures from recorded sanitizer, libFuzzer and AFL++ reports, and from
 * hostile text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfo_triage.h"
#include "cfo_util.h"

/* Reads tests/triage/NAME into a buffer of exactly its size (no NUL after
 * it), so that a read past len shows under ASan. */
static char *fixture(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/triage/%s", CFO_SOURCE_DIR, name);
    cfo_buf b;
    cfo_buf_init(&b);
    cfo_diag d = {{0}};
    if (cfo_read_file(path, (size_t)1 << 20, &b, &d) != CFO_OK)
        fail_msg("%s: %s", path, d.msg);
    char *exact = cfo_xmalloc(b.len ? b.len : 1);
    memcpy(exact, b.data, b.len);
    *len = b.len;
    cfo_buf_fini(&b);
    return exact;
}

static void parse_fixture(const char *name, cfo_crash_report *r)
{
    size_t len;
    char *text = fixture(name, &len);
    cfo_diag d = {{0}};
    cfo_err err = cfo_triage_parse(text, len, r, &d);
    if (err != CFO_OK)
        fail_msg("%s: %s", name, d.msg);
    free(text);
}

static cfo_err parse_str(const char *s, cfo_crash_report *r)
{
    return cfo_triage_parse(s, strlen(s), r, NULL);
}

static void assert_frames(const cfo_crash_report *r, const char *f1, const char *f2, const char *f3)
{
    const char *want[3] = {f1, f2, f3};
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        if (want[i] != NULL) {
            assert_string_equal(r->frames[i], want[i]);
            n++;
        } else {
            assert_string_equal(r->frames[i], "");
        }
    }
    assert_int_equal(r->nframes, n);
}

static void assert_hash_shape(const cfo_crash_report *r)
{
    assert_int_equal(strlen(r->sig_hash), 16);
    assert_int_equal(strspn(r->sig_hash, "0123456789abcdef"), 16);
}

static void test_kind_names(void **state)
{
    (void)state;
    const char *names[CFO_CRASH_KIND_COUNT] = {"crash", "timeout", "oom", "leak"};
    for (int k = 0; k < CFO_CRASH_KIND_COUNT; k++) {
        assert_string_equal(cfo_crash_kind_name((cfo_crash_kind)k), names[k]);
        cfo_crash_kind back = CFO_CRASH_LEAK;
        assert_int_equal(cfo_crash_kind_parse(names[k], &back), 0);
        assert_int_equal(back, k);
    }
    cfo_crash_kind out = CFO_CRASH_OOM;
    assert_int_equal(cfo_crash_kind_parse("Crash", &out), -1);
    assert_int_equal(cfo_crash_kind_parse("", &out), -1);
    assert_int_equal(cfo_crash_kind_parse("crashes", &out), -1);
    assert_int_equal(cfo_crash_kind_parse(NULL, &out), -1);
    assert_int_equal(out, CFO_CRASH_OOM);
    assert_string_equal(cfo_crash_kind_name((cfo_crash_kind)CFO_CRASH_KIND_COUNT), "?");
}

/* A read overflow through __asan_memcpy: the interceptor frame goes, the
 * user's frames and the fuzz entry point stay. */
static void test_heap_read_site(void **state)
{
    (void)state;
    cfo_crash_report r;
    parse_fixture("asan_heap_read_site1_a.txt", &r);
    assert_int_equal(r.kind, CFO_CRASH_CRASH);
    assert_string_equal(r.type, "heap-buffer-overflow");
    assert_string_equal(r.access, "read");
    assert_string_equal(r.family, "out-of-bounds-read");
    assert_frames(&r, "copy_header", "parse_header", "LLVMFuzzerTestOneInput");
    assert_string_equal(r.location, "/src/demo/bugs.c:15");
    assert_string_equal(r.signature,
                        "crash:out-of-bounds-read:copy_header|parse_header|LLVMFuzzerTestOneInput");
    assert_hash_shape(&r);
}

/* The signature hash is SHA-256 of the signature text, cut to 16 digits
 * (value from sha256sum). */
static void test_heap_write_site_hash(void **state)
{
    (void)state;
    cfo_crash_report r;
    parse_fixture("asan_heap_write_site2_a.txt", &r);
    assert_string_equal(r.signature,
                        "crash:out-of-bounds-write:store_body|parse_body|LLVMFuzzerTestOneInput");
    assert_string_equal(r.sig_hash, "3ebf0f224a724187");
    assert_string_equal(r.location, "/src/demo/bugs.c:24");
}

/* Different inputs, pids, addresses and access sizes; one bug, one signature.
 * The same bug seen by the AFL++ driver and inside a libFuzzer fuzzing
 * run (different driver frames below the entry point) agrees too. */
static void test_same_bug_same_signature(void **state)
{
    (void)state;
    const char *site1[] = {"asan_heap_read_site1_a.txt", "asan_heap_read_site1_b.txt",
                           "afl_heap_read_site1.txt"};
    const char *site2[] = {"asan_heap_write_site2_a.txt", "asan_heap_write_site2_b.txt",
                           "afl_heap_write_site2.txt", "libfuzzer_fuzzing_run.txt"};
    cfo_crash_report first, r;
    parse_fixture(site1[0], &first);
    for (size_t i = 1; i < sizeof site1 / sizeof site1[0]; i++) {
        parse_fixture(site1[i], &r);
        assert_string_equal(r.signature, first.signature);
        assert_string_equal(r.sig_hash, first.sig_hash);
    }
    cfo_crash_report second;
    parse_fixture(site2[0], &second);
    for (size_t i = 1; i < sizeof site2 / sizeof site2[0]; i++) {
        parse_fixture(site2[i], &r);
        assert_string_equal(r.signature, second.signature);
        assert_string_equal(r.sig_hash, second.sig_hash);
    }
    /* and the fixtures really differ in what must not matter */
    size_t la, lb;
    char *a = fixture(site1[0], &la), *b = fixture(site1[1], &lb);
    assert_non_null(memmem(a, la, "READ of size 10 ", 16));
    assert_non_null(memmem(b, lb, "READ of size 28 ", 16));
    free(a);
    free(b);
}

/* One planted bug (tests/triage/src/bugs.c, json_string reading past its
 * input) reached at nesting depths 1, 2 and 4, by libFuzzer (a heap copy of
 * the input: heap-buffer-overflow) and by the AFL++ driver (a poisoned input
 * buffer: use-after-poison): the recursion cycle collapses and both types are
 * one family, so all four reports are one finding. */
static void test_one_bug_across_depths_and_engines(void **state)
{
    (void)state;
    const char *names[] = {"libfuzzer_json_depth1.txt", "libfuzzer_json_depth4.txt",
                           "afl_json_depth2.txt", "afl_json_depth4.txt"};
    const char *types[] = {"heap-buffer-overflow", "heap-buffer-overflow", "use-after-poison",
                           "use-after-poison"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        cfo_crash_report r;
        parse_fixture(names[i], &r);
        assert_string_equal(r.type, types[i]);
        assert_string_equal(
            r.signature, "crash:out-of-bounds-read:json_string|json_value|LLVMFuzzerTestOneInput");
        assert_string_equal(r.location, "/src/demo/bugs.c:138");
    }
    /* the stacks really differ in depth */
    size_t len;
    char *deep = fixture("libfuzzer_json_depth4.txt", &len);
    assert_non_null(memmem(deep, len, "in json_object ", 15));
    free(deep);
    /* a cycle below other frames collapses where it starts */
    const char *text = "==7==ERROR: AddressSanitizer: SEGV on unknown address 0x0\n"
                       "    #0 0x1 in leaf /src/r.c:1:1\n"
                       "    #1 0x2 in a /src/r.c:2:1\n"
                       "    #2 0x3 in b /src/r.c:3:1\n"
                       "    #3 0x4 in a /src/r.c:2:1\n"
                       "    #4 0x5 in b /src/r.c:3:1\n"
                       "    #5 0x6 in top /src/r.c:4:1\n";
    cfo_crash_report r;
    assert_int_equal(parse_str(text, &r), CFO_OK);
    assert_string_equal(r.signature, "crash:SEGV on unknown address:leaf|a|top");
}

/* The measure: every recorded report of the planted bugs (tests/triage/src/bugs.c), reached
 * through different inputs, paths and depths, by libFuzzer, by AFL++'s driver and inside a
 * fuzzing run, gives exactly one signature per bug, and no two bugs share one. */
static void test_planted_bugs_one_signature_each(void **state)
{
    (void)state;
    static const struct {
        const char *fixture;
        int bug;
    } reports[] = {
        {"asan_heap_read_site1_a.txt", 0},  {"asan_heap_read_site1_b.txt", 0},
        {"afl_heap_read_site1.txt", 0},     {"nosym_heap_read_site1.txt", -1},
        {"asan_heap_write_site2_a.txt", 1}, {"asan_heap_write_site2_b.txt", 1},
        {"afl_heap_write_site2.txt", 1},    {"libfuzzer_fuzzing_run.txt", 1},
        {"libfuzzer_json_depth1.txt", 2},   {"libfuzzer_json_depth4.txt", 2},
        {"afl_json_depth2.txt", 2},         {"afl_json_depth4.txt", 2},
    };
    enum { BUGS = 3 };
    char sig[BUGS][1024] = {{0}};
    size_t seen = 0;
    for (size_t i = 0; i < sizeof reports / sizeof reports[0]; i++) {
        if (reports[i].bug < 0)
            continue; /* unsymbolized: signed by module offsets, a build's own */
        cfo_crash_report r;
        parse_fixture(reports[i].fixture, &r);
        char *want = sig[reports[i].bug];
        if (want[0] == '\0') {
            snprintf(want, sizeof sig[0], "%s", r.signature);
            seen++;
        } else if (strcmp(want, r.signature) != 0) {
            fail_msg("%s: %s, not %s", reports[i].fixture, r.signature, want);
        }
    }
    assert_int_equal(seen, BUGS);
    for (int a = 0; a < BUGS; a++)
        for (int b = a + 1; b < BUGS; b++)
            assert_string_not_equal(sig[a], sig[b]);
}

static void test_different_sites_differ(void **state)
{
    (void)state;
    const char *names[] = {
        "asan_heap_read_site1_a.txt",
        "asan_heap_write_site2_a.txt",
        "libfuzzer_timeout.txt",
        "libfuzzer_oom_malloc.txt",
        "libfuzzer_oom_rss.txt",
        "lsan_leak.txt",
        "ubsan_overflow.txt",
        "asan_segv_null.txt",
        "asan_stack_overflow.txt",
        "libfuzzer_deadly_signal.txt",
        "asan_abrt.txt",
    };
    enum { N = sizeof names / sizeof names[0] };
    cfo_crash_report r[N];
    for (size_t i = 0; i < N; i++)
        parse_fixture(names[i], &r[i]);
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++) {
            if (strcmp(r[i].signature, r[j].signature) == 0 ||
                strcmp(r[i].sig_hash, r[j].sig_hash) == 0)
                fail_msg("%s and %s share %s", names[i], names[j], r[i].signature);
        }
}

/* The alarm handler's frames (sanitizer, libFuzzer, the unsymbolized signal
 * trampoline) are dropped; the spinning function is the top frame. */
static void test_timeout(void **state)
{
    (void)state;
    cfo_crash_report r;
    parse_fixture("libfuzzer_timeout.txt", &r);
    assert_int_equal(r.kind, CFO_CRASH_TIMEOUT);
    assert_string_equal(r.type, "timeout");
    assert_frames(&r, "spin", "LLVMFuzzerTestOneInput", NULL);
    assert_string_equal(r.signature, "timeout:timeout:spin|LLVMFuzzerTestOneInput");
    assert_string_equal(r.location, "/src/demo/bugs.c:42");
}

/* A run killed after the ALARM line but before libFuzzer's ERROR line. */
static void test_timeout_alarm_only(void **state)
{
    (void)state;
    cfo_crash_report r;
    assert_int_equal(parse_str("Running: h\nALARM: working on the last Unit for 1 seconds\n"
                               "       and the timeout value is 1 (use -timeout=N to change)\n",
                               &r),
                     CFO_OK);
    assert_int_equal(r.kind, CFO_CRASH_TIMEOUT);
    assert_string_equal(r.signature, "timeout:timeout:");
}

static void test_oom_malloc_limit(void **state)
{
    (void)state;
    cfo_crash_report r;
    parse_fixture("libfuzzer_oom_malloc.txt", &r);
    assert_int_equal(r.kind, CFO_CRASH_OOM);
    assert_string_equal(r.type, "out-of-memory");
    /* malloc hooks, the allocator and malloc itself are the runtime's */
    assert_frames(&r, "grab", "LLVMFuzzerTestOneInput", NULL);
    assert_string_equal(r.signature, "oom:out-of-memory:grab|LLVMFuzzerTestOneInput");
}

/* rss_limit_mb: the stack is the largest live-heap context. */
static void test_oom_rss_limit(void **state)
{
    (void)state;
    cfo_crash_report r;
    parse_fixture("libfuzzer_oom_rss.txt", &r);
    assert_int_equal(r.kind, CFO_CRASH_OOM);
    assert_string_equal(r.type, "out-of-memory");
    assert_frames(&r, "grow", "LLVMFuzzerTestOneInput", NULL);
}

/* Without a heap profile the OOM has no frames; the type stays. */
static void test_oom_without_frames(void **state)
{
    (void)state;
    cfo_crash_report r;
    const char *text = "==77== ERROR: libFuzzer: out-of-memory (used: 2100Mb; exceeds: 2048Mb)\n"
                       "   To change the out-of-memory limit use -rss_limit_mb=<N>\n\n"
                       "SUMMARY: libFuzzer: out-of-memory\n"
                       "    #0 0x1 in unrelated /src/x.c:1:1\n";
    assert_int_equal(parse_str(text, &r), CFO_OK);
    assert_int_equal(r.kind, CFO_CRASH_OOM);
    assert_int_equal(r.nframes, 0);
    assert_string_equal(r.signature, "oom:out-of-memory:");
    assert_string_equal(r.sig_hash, "2287b4758c4b4633");
    assert_string_equal(r.location, "");
}

static void test_leak(void **state)
{
    (void)state;
    cfo_crash_report r;
    parse_fixture("lsan_leak.txt", &r);
    assert_int_equal(r.kind, CFO_CRASH_LEAK);
    assert_string_equal(r.type, "detected memory leaks");
    assert_frames(&r, "forget", "LLVMFuzzerTestOneInput", NULL);
    assert_string_equal(r.signature, "leak:detected memory leaks:forget|LLVMFuzzerTestOneInput");
}

/* The first direct leak is keyed on even when indirect leaks come first. */
static void test_leak_prefers_direct(void **state)
{
    (void)state;
    const char *text = "==9==ERROR: LeakSanitizer: detected memory leaks\n\n"
                       "Indirect leak of 8 byte(s) in 1 object(s) allocated from:\n"
                       "    #0 0x4 in malloc (/b+0x4)\n"
                       "    #1 0x5 in make_child /src/t.c:9:3\n\n"
                       "Direct leak of 16 byte(s) in 1 object(s) allocated from:\n"
                       "    #0 0x4 in operator new(unsigned long) (/b+0x4)\n"
                       "    #1 0x6 in make_parent() /src/t.cc:4:3\n"
                       "    #2 0x7 in LLVMFuzzerTestOneInput /src/t.cc:20:3\n\n"
                       "SUMMARY: AddressSanitizer: 24 byte(s) leaked in 2 allocation(s).\n";
    cfo_crash_report r;
    assert_int_equal(parse_str(text, &r), CFO_OK);
    assert_string_equal(r.signature,
                        "leak:detected memory leaks:make_parent|LLVMFuzzerTestOneInput");
    /* with only indirect leaks, the first of them */
    const char *indirect = "==9==ERROR: LeakSanitizer: detected memory leaks\n\n"
                           "Indirect leak of 8 byte(s) in 1 object(s) allocated from:\n"
                           "    #0 0x4 in malloc (/b+0x4)\n"
                           "    #1 0x5 in make_child /src/t.c:9:3\n";
    assert_int_equal(parse_str(indirect, &r), CFO_OK);
    assert_string_equal(r.signature, "leak:detected memory leaks:make_child");
}

static void test_ubsan(void **state)
{
    (void)state;
    cfo_crash_report r;
    parse_fixture("ubsan_overflow.txt", &r);
    assert_int_equal(r.kind, CFO_CRASH_CRASH);
    assert_string_equal(r.type, "undefined-behavior signed-integer-overflow");
    assert_frames(&r, "add", "LLVMFuzzerTestOneInput", NULL);
    assert_string_equal(r.location, "/src/demo/bugs.c:72");
}

/* Without print_stacktrace: no frames, the location from the message; a
 * specific check name in SUMMARY is taken. */
static void test_ubsan_without_stack(void **state)
{
    (void)state;
    cfo_crash_report r;
    assert_int_equal(parse_str("src/p.c:12:7: runtime error: shift exponent 40 is too large for "
                               "32-bit type 'int'\n"
                               "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior "
                               "src/p.c:12:7 in\n",
                               &r),
                     CFO_OK);
    assert_string_equal(r.type, "undefined-behavior shift-exponent");
    assert_int_equal(r.nframes, 0);
    assert_string_equal(r.location, "src/p.c:12");
    assert_int_equal(parse_str("x.c:3:1: runtime error: something new\n"
                               "SUMMARY: UndefinedBehaviorSanitizer: brand-new-check x.c:3:1 in\n",
                               &r),
                     CFO_OK);
    assert_string_equal(r.type, "undefined-behavior brand-new-check");
}

/* A UBSan error the run recovered from does not hide the crash after it. */
static void test_error_wins_over_recovered_ubsan(void **state)
{
    (void)state;
    const char *text = "a.c:1:1: runtime error: signed integer overflow: 1 + 2147483647\n"
                       "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior a.c:1:1 in\n"
                       "#100 pulse exec/s: 9\n"
                       "==5==ERROR: AddressSanitizer: heap-use-after-free on address 0x6 at pc "
                       "0x7 bp 0x8 sp 0x9\n"
                       "READ of size 4 at 0x6 thread T0\n"
                       "    #0 0x7 in use_it /src/u.c:5:3\n"
                       "    #1 0x8 in LLVMFuzzerTestOneInput /src/u.c:9:3\n";
    cfo_crash_report r;
    assert_int_equal(parse_str(text, &r), CFO_OK);
    assert_string_equal(r.signature, "crash:use-after-free-read:use_it|LLVMFuzzerTestOneInput");
}

static void test_segv_null(void **state)
{
    (void)state;
    cfo_crash_report r;
    parse_fixture("asan_segv_null.txt", &r);
    assert_string_equal(r.type, "SEGV on unknown address");
    assert_string_equal(r.signature, "crash:SEGV on unknown address:poke|LLVMFuzzerTestOneInput");
}

static void test_stack_overflow(void **state)
{
    (void)state;
    cfo_crash_report r;
    parse_fixture("asan_stack_overflow.txt", &r);
    /* thousands of frames of one function are one recursion cycle */
    assert_string_equal(r.signature, "crash:stack-overflow:recurse");
}

/* abort(): the signal handler, pthread_kill, raise and abort all go. */
static void test_abort(void **state)
{
    (void)state;
    cfo_crash_report r;
    parse_fixture("libfuzzer_deadly_signal.txt", &r);
    assert_string_equal(r.signature, "crash:deadly signal:LLVMFuzzerTestOneInput");
    assert_string_equal(r.location, "/src/demo/bugs.c:121");
    parse_fixture("asan_abrt.txt", &r);
    assert_string_equal(r.signature, "crash:ABRT on unknown address:LLVMFuzzerTestOneInput");
}

/* The AFL++ driver's frames (aflpp_driver.o, LLVMFuzzerRunDriver) go. */
static void test_afl_driver(void **state)
{
    (void)state;
    cfo_crash_report r;
    parse_fixture("afl_heap_write_site2.txt", &r);
    assert_frames(&r, "store_body", "parse_body", "LLVMFuzzerTestOneInput");
    const char *persistent = "==3==ERROR: AddressSanitizer: SEGV on unknown address (pc 0x1)\n"
                             "    #0 0x1 in deep /src/p.c:3:1\n"
                             "    #1 0x2 in main /src/p.c:30:5\n"
                             "    #2 0x3 in __libc_start_main (/lib/libc.so.6+0x2)\n"
                             "    #3 0x4 in _start (/b+0x4)\n";
    /* a target with its own main (AFL++ persistent mode) keeps main */
    assert_int_equal(parse_str(persistent, &r), CFO_OK);
    assert_string_equal(r.signature, "crash:SEGV on unknown address:deep|main");
    /* The runtime's complaint about its setup is not the report. */
    const char *setup = "==3==ERROR: External symbolizer path is set to '/x/sym' which isn't a "
                        "known symbolizer. Please set the path to the llvm-symbolizer binary\n"
                        "==3==ERROR: AddressSanitizer: SEGV on unknown address (pc 0x1)\n"
                        "    #0 0x1 in deep /src/p.c:3:1\n"
                        "    #1 0x2 in main /src/p.c:30:5\n";
    assert_int_equal(parse_str(setup, &r), CFO_OK);
    assert_string_equal(r.signature, "crash:SEGV on unknown address:deep|main");
}

/* Frame text: argument lists, qualifiers, offsets and clone suffixes go,
 * template arguments stay; runtime frames go by name, module or source. */
static void test_frame_forms(void **state)
{
    (void)state;
    const char *text =
        "==1==ERROR: AddressSanitizer: global-buffer-overflow on address 0x1 at pc 0x2\n"
        "    #0 0x1 in __interceptor_strlen.part.0 /llvm/compiler-rt/lib/sanitizer_common/"
        "sanitizer_common_interceptors.inc:389:5\n"
        "    #1 0x1 in my_hook /build/llvm/compiler-rt/lib/asan/asan_interceptors.cpp:9:2\n"
        "    #2 0x1 in rt_hook (/usr/lib/llvm-14/lib/clang/14/lib/linux/"
        "libclang_rt.asan-x86_64.so+0x55)\n"
        "    #3 0x2  (<unknown module>)\n"
        "    #4 0x3  (/b+0x3)\n"
        "    #5 0x4 in void ns::Box<std::pair<int, char> >::put<char>(char const*, unsigned "
        "long) const /src/box.h:40:9\n"
        "    #6 0x5 in (anonymous namespace)::Visitor::operator()(int) const+0x1f (/b+0x5) "
        "(BuildId: 12ab)\n"
        "    #7 0x6 in parse_item [clone .isra.0] /src/p.c:7\n"
        "    #8 0x7 in LLVMFuzzerTestOneInput /src/p.c:30:5\n";
    cfo_crash_report r;
    assert_int_equal(parse_str(text, &r), CFO_OK);
    assert_string_equal(r.type, "global-buffer-overflow");
    assert_frames(&r, "void ns::Box<std::pair<int, char> >::put<char>",
                  "(anonymous namespace)::Visitor::operator()", "parse_item");
    assert_string_equal(r.location, "/src/box.h:40");
}

/* Without a symbolizer a report's frames are module+offset: two crash sites
 * stay two signatures, never one empty one. */
static void test_unsymbolized_frames(void **state)
{
    (void)state;
    cfo_crash_report read, write;
    parse_fixture("nosym_heap_read_site1.txt", &read);
    parse_fixture("nosym_heap_write_site2.txt", &write);
    assert_string_equal(read.type, "heap-buffer-overflow");
    assert_int_equal(read.nframes, 3);
    assert_int_equal(write.nframes, 3);
    assert_string_equal(read.frames[0], "bugs+0xdef26");
    assert_string_equal(read.frames[1], "bugs+0x11b479");
    assert_string_not_equal(read.signature, write.signature);
    assert_string_not_equal(read.sig_hash, write.sig_hash);
    /* The same site read again, from another folder, signs the same. */
    const char *again =
        "==7==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x1 at pc 0x2\n"
        "READ of size 10 at 0x1 thread T0\n"
        "    #0 0x1  (/elsewhere/bugs+0xdef26) (BuildId: 86)\n"
        "    #1 0x2  (/elsewhere/bugs+0x11b479) (BuildId: 86)\n"
        "    #2 0x3  (/lib/x86_64-linux-gnu/libc.so.6+0x271ca) (BuildId: 1)\n"
        "    #3 0x4  (/elsewhere/bugs+0x11abb0) (BuildId: 86)\n";
    cfo_crash_report r;
    assert_int_equal(parse_str(again, &r), CFO_OK);
    assert_string_equal(r.signature, read.signature);
}

/* Types of other reports, free of addresses and numbers. */
static void test_types(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        cfo_crash_kind kind;
        const char *type;
    } cases[] = {
        {"==1==ERROR: AddressSanitizer: attempting double-free on 0x6020 in thread T0:",
         CFO_CRASH_CRASH, "double-free"},
        {"==1==ERROR: AddressSanitizer: requested allocation size 0xffffffffffffffff (0x800 "
         "after adjustments for alignment, red zones etc.) exceeds maximum supported size of "
         "0x10000000000 (thread T0)",
         CFO_CRASH_OOM, "allocation-size-too-big"},
        {"==1==ERROR: AddressSanitizer: out of memory: allocator is trying to allocate 0x4000 "
         "bytes",
         CFO_CRASH_OOM, "out-of-memory"},
        {"==1==ERROR: AddressSanitizer failed to allocate 0x1000 (4096) bytes of "
         "LargeMmapAllocator (error code: 12)",
         CFO_CRASH_OOM, "out-of-memory"},
        {"==1==ERROR: AddressSanitizer: alloc-dealloc-mismatch (operator new vs free) on 0x6",
         CFO_CRASH_CRASH, "alloc-dealloc-mismatch"},
        {"==1==ERROR: AddressSanitizer: memcpy-param-overlap: memory ranges [0x1,0x5) and "
         "[0x3, 0x7) overlap",
         CFO_CRASH_CRASH, "memcpy-param-overlap"},
        {"==1==ERROR: AddressSanitizer: FPE on unknown address 0x55d1 (pc 0x55d1 bp 0x7 sp 0x7 "
         "T0)",
         CFO_CRASH_CRASH, "FPE on unknown address"},
        {"==4==WARNING: MemorySanitizer: use-of-uninitialized-value", CFO_CRASH_CRASH,
         "use-of-uninitialized-value"},
        {"WARNING: ThreadSanitizer: data race (pid=4242)", CFO_CRASH_CRASH, "data race"},
        {"==12== ERROR: libFuzzer: fuzz target exited", CFO_CRASH_CRASH, "fuzz target exited"},
        {"==12==ERROR: something odd 0x1234 happened", CFO_CRASH_CRASH, "something odd happened"},
        {"==1==ERROR: HWAddressSanitizer: tag-mismatch on address 0x4 at pc 0x5", CFO_CRASH_CRASH,
         "tag-mismatch"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cfo_crash_report r;
        if (parse_str(cases[i].line, &r) != CFO_OK)
            fail_msg("not found: %s", cases[i].line);
        assert_string_equal(r.type, cases[i].type);
        assert_int_equal(r.kind, cases[i].kind);
        assert_null(strchr(r.type, ':'));
    }
}

/* A finding without a report (an AFL++ hang) is signed the same way, and
 * agrees with a parsed report of the same kind, type and frames. */
static void test_sign_own_report(void **state)
{
    (void)state;
    cfo_crash_report own = {.kind = CFO_CRASH_TIMEOUT};
    snprintf(own.type, sizeof own.type, "timeout");
    snprintf(own.frames[0], sizeof own.frames[0], "spin");
    snprintf(own.frames[1], sizeof own.frames[1], "LLVMFuzzerTestOneInput");
    own.nframes = 2;
    cfo_triage_sign(&own);
    cfo_crash_report parsed;
    parse_fixture("libfuzzer_timeout.txt", &parsed);
    assert_string_equal(own.signature, parsed.signature);
    assert_string_equal(own.sig_hash, parsed.sig_hash);
    cfo_crash_report odd = {.kind = CFO_CRASH_CRASH, .nframes = 0};
    snprintf(odd.type, sizeof odd.type, "a:b|c");
    cfo_triage_sign(&odd);
    assert_string_equal(odd.signature, "crash:a-b-c:");
}

static void test_no_report(void **state)
{
    (void)state;
    cfo_crash_report r;
    cfo_diag d = {{0}};
    assert_int_equal(cfo_triage_parse("", 0, &r, &d), CFO_ENOTFOUND);
    assert_int_equal(cfo_triage_parse(NULL, 0, &r, NULL), CFO_ENOTFOUND);
    const char *clean = "INFO: Seed: 1\n#2\tINITED cov: 5 ft: 5 corp: 1/3b\n"
                        "\tNEW_FUNC[1/2]: 0x55eb08961b90 in parse_header /src/demo/bugs.c:30\n"
                        "ERROR: The required directory \"corpus\" does not exist\n"
                        "WARNING: AddressSanitizer failed to allocate 0x10 bytes\n"
                        "Done 1000 runs in 1 second(s)\n";
    assert_int_equal(cfo_triage_parse(clean, strlen(clean), &r, &d), CFO_ENOTFOUND);
    assert_true(strlen(d.msg) > 0);
    /* the report is past len: it must not be seen */
    const char *late = "nothing here\n==1==ERROR: AddressSanitizer: SEGV on unknown address\n";
    assert_int_equal(cfo_triage_parse(late, 13, &r, NULL), CFO_ENOTFOUND);
}

/* Cut mid-stack: the frames read so far count; a half frame line does not. */
static void test_truncated(void **state)
{
    (void)state;
    size_t len;
    char *text = fixture("asan_heap_write_site2_a.txt", &len);
    const char *cut = memmem(text, len, "#2 0x", 5);
    assert_non_null(cut);
    cfo_crash_report r;
    size_t at = (size_t)(cut - text);
    assert_int_equal(cfo_triage_parse(text, at, &r, NULL), CFO_OK);
    assert_frames(&r, "store_body", "parse_body", NULL);
    /* mid-line: "#2 0x... in LLVMFuzzerTest" */
    const char *mid = memmem(text, len, "in LLVMFuzzerTest", 17);
    assert_non_null(mid);
    assert_int_equal(cfo_triage_parse(text, (size_t)(mid - text) + 17, &r, NULL), CFO_OK);
    assert_frames(&r, "store_body", "parse_body", NULL);
    /* right after the ERROR line */
    const char *err = memmem(text, len, "WRITE of size", 13);
    assert_int_equal(cfo_triage_parse(text, (size_t)(err - text), &r, NULL), CFO_OK);
    assert_string_equal(r.signature, "crash:out-of-bounds:");
    free(text);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 10 MB of random bytes (NULs, non-UTF-8, stray '#' frames, 1 MB lines)
 * before a real report: the report is still found, with its signature. */
static void test_flood_before_report(void **state)
{
    (void)state;
    size_t rlen;
    char *report = fixture("asan_heap_read_site1_b.txt", &rlen);
    cfo_crash_report want;
    assert_int_equal(cfo_triage_parse(report, rlen, &want, NULL), CFO_OK);

    size_t flood = (size_t)10 << 20;
    size_t mb = (size_t)1 << 20;
    char *text = cfo_xmalloc(flood + 2 * mb + rlen);
    uint32_t x = 12345;
    for (size_t i = 0; i < flood; i++) {
        x = x * 1103515245u + 12345u;
        unsigned char c = (unsigned char)(x >> 24);
        /* no "ERROR: " can arise from random bytes this sparse in letters */
        text[i] = (c % 61 == 0) ? '\n' : (char)(c | 0x80);
        if (c % 97 == 0)
            text[i] = '\0';
    }
    /* two 1 MB lines: one of 'A', one that starts like a frame */
    size_t o = flood;
    memset(text + o, 'A', mb - 1);
    text[o + mb - 1] = '\n';
    o += mb;
    memcpy(text + o, "    #0 0x1 in ", 14);
    memset(text + o + 14, 'f', mb - 15);
    text[o + mb - 1] = '\n';
    o += mb;
    memcpy(text + o, report, rlen);
    o += rlen;

    cfo_crash_report r;
    double t0 = now_s();
    assert_int_equal(cfo_triage_parse(text, o, &r, NULL), CFO_OK);
    double took = now_s() - t0;
    assert_string_equal(r.signature, want.signature);
    /* linear work: well under a second unloaded; generous for a loaded box */
    assert_true(took < 20.0);

    /* a report whose frame is a 1 MB line: capped, still a signature */
    const char *head = "==1==ERROR: AddressSanitizer: SEGV on unknown address 0x0 (pc 0x1)\n"
                       "    #0 0x1 in ";
    size_t hl = strlen(head);
    memcpy(text, head, hl);
    memset(text + hl, 'g', mb);
    text[hl + mb] = '\n';
    assert_int_equal(cfo_triage_parse(text, hl + mb + 1, &r, NULL), CFO_OK);
    assert_int_equal(r.nframes, 1);
    assert_int_equal(strlen(r.frames[0]), 255);
    assert_true(strlen(r.signature) < sizeof r.signature);
    free(text);
    free(report);
}

/* Non-UTF-8 and control bytes inside a report never reach the signature. */
static void test_binary_bytes_in_report(void **state)
{
    (void)state;
    const char text[] = "\xff\xfe garbage \x01\x02\n"
                        "==1==ERROR: AddressSanitizer: heap-use-after-free\xc3\x28 on address 0x1\n"
                        "    #0 0x2 in bad\xff\x80name\x00x /src/b\xe9.c:4:2\n"
                        "    #1 0x3 in LLVMFuzzerTestOneInput /src/b.c:9:1\n";
    cfo_crash_report r;
    assert_int_equal(cfo_triage_parse(text, sizeof text - 1, &r, NULL), CFO_OK);
    for (const char *p = r.signature; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    assert_string_equal(r.frames[1], "LLVMFuzzerTestOneInput");
    assert_int_equal(r.nframes, 2);
}

/* More lines than the scan limit before the report: bounded, not found. */
static void test_line_limit(void **state)
{
    (void)state;
    const char *rep = "==1==ERROR: AddressSanitizer: SEGV on unknown address\n";
    size_t n = CFO_TRIAGE_MAX_LINES + 10;
    size_t rl = strlen(rep);
    char *text = cfo_xmalloc(n + rl);
    memset(text, '\n', n);
    memcpy(text + n, rep, rl);
    cfo_crash_report r;
    assert_int_equal(cfo_triage_parse(text, n + rl, &r, NULL), CFO_ENOTFOUND);
    /* within the limit it is found */
    assert_int_equal(cfo_triage_parse(text + 20, n - 20 + rl, &r, NULL), CFO_OK);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_heap_read_site),
        cmocka_unit_test(test_heap_write_site_hash),
        cmocka_unit_test(test_same_bug_same_signature),
        cmocka_unit_test(test_one_bug_across_depths_and_engines),
        cmocka_unit_test(test_planted_bugs_one_signature_each),
        cmocka_unit_test(test_different_sites_differ),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_timeout_alarm_only),
        cmocka_unit_test(test_oom_malloc_limit),
        cmocka_unit_test(test_oom_rss_limit),
        cmocka_unit_test(test_oom_without_frames),
        cmocka_unit_test(test_leak),
        cmocka_unit_test(test_leak_prefers_direct),
        cmocka_unit_test(test_ubsan),
        cmocka_unit_test(test_ubsan_without_stack),
        cmocka_unit_test(test_error_wins_over_recovered_ubsan),
        cmocka_unit_test(test_segv_null),
        cmocka_unit_test(test_stack_overflow),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_afl_driver),
        cmocka_unit_test(test_frame_forms),
        cmocka_unit_test(test_unsymbolized_frames),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_sign_own_report),
        cmocka_unit_test(test_no_report),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_flood_before_report),
        cmocka_unit_test(test_binary_bytes_in_report),
        cmocka_unit_test(test_line_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
