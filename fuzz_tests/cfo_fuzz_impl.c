/* cfo_fuzz_impl.c -- lookup in the generated table of fuzzer implementations. */
#include "cfo_fuzz_impl.h"

#include <string.h>

const cfo_fuzz_impl *cfo_fuzz_impl_for(cfo_kind kind)
{
    for (size_t i = 0; cfo_fuzz_impls[i] != NULL; i++)
        if (cfo_fuzz_impls[i]->kind == kind)
            return cfo_fuzz_impls[i];
    return NULL;
}
