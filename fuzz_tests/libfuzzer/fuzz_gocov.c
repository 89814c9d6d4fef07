/* fuzz_gocov.c -- libFuzzer target for the Go coverprofile reader, which
 * reads what go test and go tool cover wrote for a fuzz test of the
 * repository under test.
 *
 * Input: a coverprofile, then optionally a NUL and go tool cover -func's
 * output. One that parses gives figures no larger than their totals, a
 * covered line exactly when a covered region, and sorted covered files; one
 * that does not leaves the figures zero and says which tool's text it was. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfo_gocov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failed(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_gocov: %s: %s\n", what, detail);
    abort();
}

static bool pair_ok(const int64_t v[2])
{
    return v[0] >= 0 && v[0] <= v[1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(data, '\0', size);
    size_t len = nul ? (size_t)(nul - text) : size;
    char *funcs = nul ? cfo_xstrndup(nul + 1, size - len - 1) : NULL;
    cfo_coverage c;
    cfo_strv files;
    cfo_strv_init(&files);
    cfo_diag d = {{0}};
    if (cfo_gocov_parse(text, len, funcs, &c, &files, &d) != CFO_OK) {
        if (c.lines[1] != 0 || c.regions[1] != 0 || c.functions[1] != 0)
            check_failed("a failed parse kept figures", d.msg);
        if (strstr(d.msg, "coverprofile") == NULL && strstr(d.msg, "go tool cover") == NULL)
            check_failed("the message does not name the tool", d.msg);
    } else {
        if (!pair_ok(c.lines) || !pair_ok(c.functions) || !pair_ok(c.regions))
            check_failed("covered past the total", "");
        if ((c.lines[0] > 0) != (c.regions[0] > 0) || (files.n > 0) != (c.regions[0] > 0))
            check_failed("covered lines, regions and files disagree", "");
        for (size_t i = 1; i < files.n; i++)
            if (strcmp(files.v[i - 1], files.v[i]) >= 0)
                check_failed("covered files not sorted and distinct", files.v[i]);
    }
    cfo_strv_fini(&files);
    free(funcs);
    return 0;
}
