/* cfo_exec_argv.c -- {target} substitution in an exec fuzzer's run argv. */
#include "cfo_exec_argv.h"

#include <string.h>

#include "cfo_fuzz_impl.h"

static char *substitute(const char *word, const char *target)
{
    cfo_buf b;
    cfo_buf_init(&b);
    const size_t plen = strlen(CFO_EXEC_TARGET_WORD);
    const char *p = word;
    for (const char *hit; (hit = strstr(p, CFO_EXEC_TARGET_WORD)) != NULL; p = hit + plen) {
        cfo_buf_append(&b, p, (size_t)(hit - p));
        cfo_buf_puts(&b, target);
    }
    cfo_buf_puts(&b, p);
    return cfo_buf_steal(&b);
}

cfo_err cfo_exec_build_argv(const cfo_fuzzer *f, const char *target, cfo_strv *out, cfo_diag *d)
{
    cfo_err err = cfo_target_validate(target, d);
    if (err != CFO_OK)
        return err;
    if (f->run_argv.n == 0)
        return cfo_diag_set(d, CFO_EINVAL, "fuzzer %s has no run command", f->name);
    for (size_t i = 0; i < f->run_argv.n; i++)
        cfo_strv_push_owned(out, substitute(f->run_argv.v[i], target));
    return CFO_OK;
}
