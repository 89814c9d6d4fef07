/* fuzz_parser.c -- fuzz target over the whole RECF reader (holds the planted crash and hang). */
#include <stddef.h>
#include <stdint.h>

#include "parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct recf_summary sum;
    (void)recf_parse(data, size, &sum);
    return 0;
}
