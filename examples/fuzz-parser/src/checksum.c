/* checksum.c -- RECF's trailer checksum (Adler-32). No planted bug: its own
 * fuzz target shares no code with the reader's. */
#include "checksum.h"

#define ADLER_MOD 65521u
/* Bytes summed before the sums are reduced: 5552 keeps them in 32 bits. */
#define ADLER_BLOCK 5552u

uint32_t recf_checksum(const uint8_t *buf, size_t len)
{
    uint32_t a = 1, b = 0;
    while (len > 0) {
        size_t n = len < ADLER_BLOCK ? len : ADLER_BLOCK;
        len -= n;
        while (n-- > 0) {
            a += *buf++;
            b += a;
        }
        a %= ADLER_MOD;
        b %= ADLER_MOD;
    }
    return (b << 16) | a;
}

int recf_checksum_ok(const uint8_t *buf, size_t len)
{
    if (len < 4)
        return 0;
    size_t body = len - 4;
    uint32_t want = ((uint32_t)buf[body] << 24) | ((uint32_t)buf[body + 1] << 16) |
                    ((uint32_t)buf[body + 2] << 8) | (uint32_t)buf[body + 3];
    return recf_checksum(buf, body) == want;
}
