/* fuzz_journal.c -- libFuzzer target for the reader of the run journal
 * (cfo_journal_check, what cfo_journal_open reads a --state-dir with): a
 * journal is a file on disk that a crash, a full disk or a person can
 * damage.
 *
 * Input: the journal's bytes. A journal that reads must say where its torn
 * tail begins, inside the input; a refused one must say why. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cfo_journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failed(const char *what)
{
    fprintf(stderr, "fuzz_journal: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t intact = 0, committed = 0;
    cfo_diag d = {{0}};
    cfo_err err = cfo_journal_check(data, size, &intact, &committed, &d);
    if (err == CFO_OK) {
        if (intact > size)
            check_failed("the intact part is longer than the journal");
        /* Each commit takes a header and a body of at least two bytes. */
        if (committed > size / 14)
            check_failed("more commits than the bytes can hold");
    } else if (d.msg[0] == '\0') {
        check_failed("a refused journal has no reason");
    }
    return 0;
}
