/* fuzz_tfplan.c -- libFuzzer target for cfo_tfplan_count, the reader of
 * `terraform show -json`, whose content follows whatever the module under
 * test declares.
 *
 * Input: the JSON text. The counts of a plan that parses must agree with the
 * lists it returns. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tf_plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failed(const char *what)
{
    fprintf(stderr, "fuzz_tfplan: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The contract: NUL-terminated at json[len], which may hold other NULs. */
    char *json = cfo_xstrndup((const char *)data, size);

    cfo_tfplan p;
    cfo_tfplan_init(&p);
    cfo_diag d = {{0}};
    if (cfo_tfplan_count(json, size, &p, &d) == CFO_OK) {
        if (p.resources < 0 || p.changed < 0 || p.changed > p.resources)
            check_failed("counts out of range");
        if (p.addresses.n != (size_t)p.changed || p.actions.n != (size_t)p.changed)
            check_failed("changed count and lists disagree");
    } else if (d.msg[0] == '\0') {
        check_failed("a rejected plan has no reason");
    }
    cfo_tfplan_fini(&p);
    free(json);
    return 0;
}
