/* cfo_fuzz_impl.c -- lookup in the generated table of fuzzer implementations
 * and the target check every runner applies. */
#include "cfo_fuzz_impl.h"

#include <string.h>

const cfo_fuzz_impl *cfo_fuzz_impl_for(cfo_kind kind)
{
    for (size_t i = 0; cfo_fuzz_impls[i] != NULL; i++)
        if (cfo_fuzz_impls[i]->kind == kind)
            return cfo_fuzz_impls[i];
    return NULL;
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
