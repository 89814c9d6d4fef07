/* fuzz_checksum.c -- fuzz target over the trailer checksum alone: it runs
 * none of the reader's code (src/parser.c), so its coverage tells a change
 * to one from a change to the other. */
#include <stddef.h>
#include <stdint.h>

#include "checksum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)recf_checksum(data, size);
    (void)recf_checksum_ok(data, size);
    return 0;
}
