/* fz_canary.c -- the canary: a fuzzer that always fails, so a run proves the
 * harness records failures. */
#include <stdio.h>

#include "cfo_fuzz_impl.h"

static cfo_err canary_discover(const cfo_fuzzer *f, cfo_strv *targets, cfo_diag *d)
{
    (void)f;
    (void)d;
    cfo_strv_push(targets, "canary");
    return CFO_OK;
}

static cfo_fuzz_verdict canary_run(const cfo_fuzzer *f, const char *target, cfo_fuzz_result *res,
                                   cfo_diag *d)
{
    (void)f;
    (void)target;
    (void)d;
    printf("canary: failing on purpose: the harness must record this failure\n");
    fflush(stdout);
    res->count = 1;
    res->findings = 1;
    cfo_buf_reset(&res->summary);
    cfo_buf_puts(&res->summary, "canary failed on purpose");
    return CFO_FUZZ_FAIL;
}

const cfo_fuzz_impl cfo_fuzz_impl_canary = {
    .kind = CFO_KIND_CANARY,
    .discover = canary_discover,
    .run = canary_run,
};
