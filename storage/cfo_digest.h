/* cfo_digest.h -- content digests as lowercase hex: the names of corpus
 * inputs and the hashes of crash signatures and build commands. */
#ifndef CFO_DIGEST_H
#define CFO_DIGEST_H

#include <stddef.h>

/* 40-hex SHA-1 of data, NUL-terminated in out[41]. */
void cfo_sha1_hex(const void *data, size_t len, char out[41]);

/* 64-hex SHA-256 of data, NUL-terminated in out[65]. */
void cfo_sha256_hex(const void *data, size_t len, char out[65]);

#endif
