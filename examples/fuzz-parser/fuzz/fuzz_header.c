/* fuzz_header.c -- fuzz target over the RECF header alone, which has no known bug. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct recf_header hdr;
    enum recf_status st = recf_parse_header(data, size, &hdr);
    /* Check the header's promises so that a regression shows as a crash. */
    if (st == RECF_OK && (hdr.size > size || strlen(hdr.name) > RECF_NAME_MAX))
        __builtin_trap();
    (void)recf_strerror(st);
    return 0;
}
