/* fuzz_triage.c -- libFuzzer target for cfo_triage_parse, the reader of
 * whatever a fuzz target printed while it crashed: bytes a target under test
 * controls.
 *
 * Input: the output text (any bytes, no terminating NUL). A report that is
 * found must give a printable, bounded signature, a 16-digit hash, and a
 * type with none of the signature's separators. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfo_triage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failed(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_triage: %s: %s\n", what, detail ? detail : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cfo_crash_report r;
    if (cfo_triage_parse((const char *)data, size, &r, NULL) != CFO_OK)
        return 0;
    if (strnlen(r.signature, sizeof r.signature) >= sizeof r.signature)
        check_failed("signature not terminated", NULL);
    if (strlen(r.sig_hash) != 16)
        check_failed("hash is not 16 digits", r.sig_hash);
    for (const char *p = r.signature; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            check_failed("unprintable signature", r.signature);
    if (strchr(r.type, ':') != NULL || strchr(r.type, '|') != NULL)
        check_failed("separator in type", r.type);
    if (r.nframes > CFO_TRIAGE_FRAMES)
        check_failed("too many frames", r.signature);
    return 0;
}
