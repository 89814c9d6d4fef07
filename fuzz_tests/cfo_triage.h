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
    /* Function names without argument lists or offsets, top first; "" beyond
     * nframes. Sanitizer runtime, libFuzzer, AFL++ driver and libc frames
     * are dropped; when no frame was symbolized, the frames are
     * "module+0xOFFSET" (module is the file's base name); LLVMFuzzerTestOneInput is kept only
     * when fewer than CFO_TRIAGE_FRAMES frames remain above it, and nothing
     * below it is. */
    char frames[CFO_TRIAGE_FRAMES][256];
    size_t nframes;
    /* "file:line" of the first kept frame when the report gives it (for UBSan
     * without a stack: the line of the runtime error), else "". */
    char location[256];
    /* "<kind>:<type>:<f1>|<f2>|<f3>" (as many frames as nframes). */
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

/* Fills r->signature and r->sig_hash from r->kind, r->type and
 * r->frames[0..r->nframes), turning ':' and '|' in the type into '-'. For
 * findings that come with no report to parse (an AFL++ hang, a crash of a
 * target built without sanitizers): set kind and type ("timeout", "deadly
 * signal"), nframes 0, then sign. cfo_triage_parse calls it itself. */
void cfo_triage_sign(cfo_crash_report *r);

#endif
