/* cfo_exec_argv.c -- target checks and {target} substitution in an exec
 * fuzzer's run argv. */
#include "cfo_exec_argv.h"

#include <string.h>

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

cfo_err cfo_target_validate(const char *target, cfo_diag *d)
{
    size_t len = strlen(target);
    if (len == 0)
        return cfo_diag_set(d, CFO_EINVAL, "empty target");
    if (len > 1024)
        return cfo_diag_set(d, CFO_EINVAL, "target longer than 1024 bytes");
    if (target[0] == '-')
        return cfo_diag_set(d, CFO_EINVAL, "target '%s' starts with '-'", target);
    if (target[0] == '/')
        return cfo_diag_set(d, CFO_EINVAL, "target '%s' is an absolute path", target);
    for (const unsigned char *p = (const unsigned char *)target; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return cfo_diag_set(d, CFO_EINVAL, "target contains a control character");
    /* Reject ".." as any path component: "..", "../x", "x/..", "x/../y". */
    for (const char *p = target; p != NULL;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return cfo_diag_set(d, CFO_EINVAL, "target '%s' escapes the worktree", target);
        p = slash ? slash + 1 : NULL;
    }
    return CFO_OK;
}
