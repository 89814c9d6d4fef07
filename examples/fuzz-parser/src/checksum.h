/* checksum.h -- RECF's optional trailer checksum, apart from the reader. */
#ifndef RECF_CHECKSUM_H
#define RECF_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adler-32 of buf: what a RECF writer appends as a trailer. */
uint32_t recf_checksum(const uint8_t *buf, size_t len);

/* Whether the last four bytes of buf (big-endian) are the checksum of the
 * bytes before them. */
int recf_checksum_ok(const uint8_t *buf, size_t len);

#endif
