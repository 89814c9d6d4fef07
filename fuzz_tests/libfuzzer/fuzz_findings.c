/* fuzz_findings.c -- libFuzzer target for the findings reader, which reads the
 * "findings" of a dataset document from storage that any writer of the bucket
 * may have touched.
 *
 * Input: a JSON array of findings. One that parses must write and parse back
 * to the same text and render as SARIF without trouble. Merged into itself,
 * a list's derived fields (state, fixed) are recomputed from its branches'
 * history, which a hand-edited document may contradict; merged again, it
 * must not change (the merge is idempotent). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfo_findings.h"
#include "cfo_lifecycle.h"
#include "cfo_sarif.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failed(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_findings: %s: %s\n", what, detail);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cfo_findings fs;
    cfo_findings_init(&fs);
    cfo_diag d = {{0}};
    if (cfo_findings_parse((const char *)data, size, "fuzz.json", &fs, &d) != CFO_OK) {
        if (fs.n != 0)
            check_failed("a failed parse kept findings", d.msg);
        if (strstr(d.msg, "fuzz.json") == NULL)
            check_failed("the message does not name the input", d.msg);
        cfo_findings_fini(&fs);
        return 0;
    }
    cfo_buf once, twice;
    cfo_buf_init(&once);
    cfo_buf_init(&twice);
    cfo_findings_write(&fs, &once);
    cfo_findings back;
    cfo_findings_init(&back);
    if (cfo_findings_parse(once.data, once.len, "written.json", &back, &d) != CFO_OK)
        check_failed("what was written does not parse", d.msg);
    cfo_findings_write(&back, &twice);
    if (strcmp(once.data, twice.data) != 0)
        check_failed("written twice differs", once.data);
    cfo_lifecycle_merge(&back, &fs);
    cfo_buf_reset(&once);
    cfo_findings_write(&back, &once);
    cfo_findings again;
    cfo_findings_init(&again);
    if (cfo_findings_parse(once.data, once.len, "merged.json", &again, &d) != CFO_OK)
        check_failed("a merged list does not parse", d.msg);
    cfo_lifecycle_merge(&back, &again);
    cfo_buf_reset(&twice);
    cfo_findings_write(&back, &twice);
    if (strcmp(once.data, twice.data) != 0)
        check_failed("merging a merged list into itself changed it", once.data);
    cfo_findings_fini(&again);
    cfo_buf sarif;
    cfo_buf_init(&sarif);
    cfo_sarif_write(&fs, &sarif);
    cfo_buf_fini(&sarif);
    cfo_buf_fini(&once);
    cfo_buf_fini(&twice);
    cfo_findings_fini(&back);
    cfo_findings_fini(&fs);
    return 0;
}
