/* cfo_triage.h -- turns sanitizer, libFuzzer and AFL++ driver output into a
 * crash kind, the top stack frames and a signature stable across inputs. */
#ifndef CFO_TRIAGE_H
#define CFO_TRIAGE_H

#include <stddef.h>

#include "cfo_error.h"

typedef enum cfo_crash_kind {
    CFO_CRASH_CRASH,
    CFO_CRASH_TIMEOUT,
    CFO_CRASH_OOM,
    CFO_CRASH_LEAK,
} cfo_crash_kind;
#define CFO_CRASH_KIND_COUNT 4

/* "crash", "timeout", "oom", "leak"; "?" for a value outside the enum. */
const char *cfo_crash_kind_name(cfo_crash_kind k);
/* 0 and *out set when name is one of the names above, else -1. */
int cfo_crash_kind_parse(const char *name, cfo_crash_kind *out);

#define CFO_TRIAGE_FRAMES 3
/* Frames read from a stack before recursion cycles are collapsed. */
#define CFO_TRIAGE_STACK_MAX 64
/* Only this many bytes of a line are examined; the rest of a longer line is
 * skipped unread, so a megabyte line costs one memchr. */
#define CFO_TRIAGE_LINE_MAX 4096
/* Lines examined while looking for the start of a report. */
#define CFO_TRIAGE_MAX_LINES ((size_t)1 << 22)
/* Lines examined after the start of a report (stack, leak list, summary). */
#define CFO_TRIAGE_MAX_BODY_LINES 100000

typedef struct cfo_crash_report {
    cfo_crash_kind kind;
    /* Normalized, free of addresses, sizes and pids: "heap-buffer-overflow",
     * "SEGV on unknown address", "timeout", "out-of-memory", "detected memory
     * leaks", "deadly signal", "undefined-behavior signed-integer-overflow".
     * Never holds ':' or '|'. */
    char type[64];
    /* "read" or "write" when the report says which access faulted ("READ of
     * size 4"), else "". */
    char access[8];
    /* The bug's family, the type the signature keys on: every out-of-bounds
     * kind ("heap-buffer-overflow", "global-buffer-overflow", AFL++'s
     * "use-after-poison" past its input buffer, ...) is "out-of-bounds", every
     * use of freed or dead memory "use-after-free", each with "-read" or
     * "-write" when access is known; any other type is its own family. */
    char family[64];
    /* Function names without argument lists or offsets, top first; "" beyond
     * nframes. Sanitizer runtime, libFuzzer, AFL++ driver and libc frames
     * are dropped; when no frame was symbolized, the frames are
     * "module+0xOFFSET" (module is the file's base name); LLVMFuzzerTestOneInput is kept only
     * when fewer than CFO_TRIAGE_FRAMES frames remain above it, and nothing
     * below it is. A recursion cycle collapses to one frame first (from a
     * function's first to its last appearance on the stack, only the first
     * stays), so the same bug reached at any nesting depth has one set of
     * frames. */
    char frames[CFO_TRIAGE_FRAMES][256];
    size_t nframes;
    /* "file:line" of the first kept frame when the report gives it (for UBSan
     * without a stack: the line of the runtime error), else "". */
    char location[256];
    /* "<kind>:<family>:<f1>|<f2>|<f3>" (as many frames as nframes). */
    char signature[1024];
    /* First 16 hex digits of SHA-256(signature). */
    char sig_hash[17];
} cfo_crash_report;

/* Finds the first crash report in text[0..len) and fills *out. Understands
 * AddressSanitizer, LeakSanitizer, MemorySanitizer, ThreadSanitizer,
 * HWAddressSanitizer and libFuzzer "ERROR:" reports, plain "==PID==ERROR: ..."
 * lines and UBSan "runtime error:" lines (a sanitizer ERROR report anywhere in
 * the text wins over an earlier UBSan error, which does not stop the run
 * unless halt_on_error is set). text need not be NUL-terminated and is never
 * read past len. Returns CFO_OK, or CFO_ENOTFOUND when the text holds no
 * report (nor within CFO_TRIAGE_MAX_LINES lines). A frame line cut off by the
 * end of the text is ignored. */
cfo_err cfo_triage_parse(const char *text, size_t len, cfo_crash_report *out, cfo_diag *d);

/* Fills r->family, r->signature and r->sig_hash from r->kind, r->type,
 * r->access and r->frames[0..r->nframes), turning ':' and '|' in the type
 * into '-'. For
 * findings that come with no report to parse (an AFL++ hang, a crash of a
 * target built without sanitizers): set kind and type ("timeout", "deadly
 * signal"), nframes 0, then sign. cfo_triage_parse calls it itself. */
void cfo_triage_sign(cfo_crash_report *r);

#endif
